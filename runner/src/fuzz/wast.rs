//! Writing a fuzz case as a `.wast` script: the module as `(module binary ...)`, then one
//! `assert_return` / `assert_trap` per invocation with the outcome Wasmtime had, then the
//! final state (every exported global, a hash of every exported memory, the size and null
//! count of every exported table) read back through a helper module that imports them. The
//! script runs through the same planner, image and comparison as `hako spec`, so a mismatch
//! is reported as `line: expected ..., got ...` like a spec failure, and a saved case replays
//! as an ordinary script.

use std::fmt::Write;

/// A value as the script writes it: an argument, or an expected result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value {
    I32(u32),
    I64(u64),
    F32(u32),
    F64(u64),
    V128(u128),
    /// A null reference of the heap type (`func` or `extern`).
    Null(&'static str),
    /// Any non-null reference of the heap type (only as an expected result).
    NonNull(&'static str),
}

impl Value {
    /// As a script constant. A canonical NaN as an expected result matches either sign
    /// (`nan:canonical`): the modules canonicalise every NaN arithmetic produces, and its sign
    /// is not deterministic. Other NaNs (moved by `reinterpret`, `select`, locals, ...) keep
    /// their bits.
    pub fn render(&self, out: &mut String, expected: bool) {
        let _ = match *self {
            Value::I32(v) => write!(out, "(i32.const {})", v as i32),
            Value::I64(v) => write!(out, "(i64.const {})", v as i64),
            Value::F32(b) if expected && b & 0x7fff_ffff == 0x7fc0_0000 => {
                write!(out, "(f32.const nan:canonical)")
            }
            Value::F64(b) if expected && b & (u64::MAX >> 1) == 0x7ff8_0000_0000_0000 => {
                write!(out, "(f64.const nan:canonical)")
            }
            Value::F32(b) => write!(out, "(f32.const {})", float(b as u64, 23, 8)),
            Value::F64(b) => write!(out, "(f64.const {})", float(b, 52, 11)),
            Value::V128(v) => write!(
                out,
                "(v128.const i32x4 {:#x} {:#x} {:#x} {:#x})",
                v as u32,
                (v >> 32) as u32,
                (v >> 64) as u32,
                (v >> 96) as u32
            ),
            Value::Null(heap) => write!(out, "(ref.null {heap})"),
            Value::NonNull("func") => write!(out, "(ref.func)"),
            Value::NonNull(heap) => write!(out, "(ref.{heap})"),
        };
    }
}

/// An IEEE float's exact text: hexadecimal significand and binary exponent, `inf`, or
/// `nan:0x<payload>`, each with its sign.
pub fn float(bits: u64, mantissa_bits: u32, exponent_bits: u32) -> String {
    let sign = if bits >> (mantissa_bits + exponent_bits) & 1 == 1 {
        "-"
    } else {
        ""
    };
    let max_exp = (1u64 << exponent_bits) - 1;
    let exp = (bits >> mantissa_bits) & max_exp;
    let frac = bits & ((1u64 << mantissa_bits) - 1);
    let bias = (max_exp >> 1) as i64;
    // The fraction in whole hex digits, left-aligned.
    let digits = mantissa_bits.div_ceil(4);
    let frac_hex = format!(
        "{:0width$x}",
        frac << (digits * 4 - mantissa_bits),
        width = digits as usize
    );
    match exp {
        e if e == max_exp && frac == 0 => format!("{sign}inf"),
        e if e == max_exp => format!("{sign}nan:{frac:#x}"),
        0 => format!("{sign}0x0.{frac_hex}p{}", 1 - bias),
        e => format!("{sign}0x1.{frac_hex}p{}", e as i64 - bias),
    }
}

/// A script string holding `bytes` exactly.
pub fn string(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() + 2);
    s.push('"');
    for &b in bytes {
        if b.is_ascii_graphic() && b != b'"' && b != b'\\' || b == b' ' {
            s.push(b as char);
        } else {
            let _ = write!(s, "\\{b:02x}");
        }
    }
    s.push('"');
    s
}

/// What an invocation must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Return(Vec<Value>),
    /// Trap with the spec's message.
    Trap(&'static str),
    /// End with an uncaught exception.
    Exception,
}

/// One directive of a case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Directive {
    Invoke {
        export: String,
        args: Vec<Value>,
        outcome: Outcome,
    },
    /// The value of an exported global at the end.
    Global { export: String, value: Value },
    /// The hash ([`memory_hash`]) of an exported memory at the end, and its size in pages.
    Memory {
        export: String,
        /// A 64-bit memory (memory64).
        wide: bool,
        pages: u32,
        hash: u64,
    },
    /// An exported table at the end: its size and how many entries are null.
    Table {
        export: String,
        /// A 64-bit table (memory64).
        wide: bool,
        /// Its element type as the text format writes it: `funcref`, `externref` or
        /// `exnref`.
        element: &'static str,
        size: u32,
        nulls: u32,
    },
}

/// One generated module and what Wasmtime did with it.
#[derive(Debug, Clone)]
pub struct Case {
    /// Names the case in reports and file names (`seed-<n>`).
    pub name: String,
    pub wasm: Vec<u8>,
    /// `Some(message)`: instantiation trapped, and nothing else is checked.
    pub instantiation_trap: Option<&'static str>,
    pub directives: Vec<Directive>,
}

/// FNV-1a over the memory's bytes in little-endian 64-bit words; the helper module computes
/// the same in Wasm.
pub fn memory_hash(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for chunk in bytes.chunks(8) {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        h = (h ^ u64::from_le_bytes(word)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The helper module's function for one memory: `(func (export "hash") (result i64))`.
/// `IDX` is the memory's index type (`i32`, or `i64` for a 64-bit memory, [`indexed`]).
const HASH_FUNC: &str = r#"(func (export "hash") (result i64) (local $i IDX) (local $end IDX) (local $h i64)
    (local.set $h (i64.const 0xcbf29ce484222325))
    (local.set $end (IDX.mul (memory.size) (IDX.const 65536)))
    (block $done (loop $next
      (br_if $done (IDX.ge_u (local.get $i) (local.get $end)))
      (local.set $h (i64.mul (i64.xor (local.get $h) (i64.load (local.get $i)))
                             (i64.const 0x100000001b3)))
      (local.set $i (IDX.add (local.get $i) (IDX.const 8)))
      (br $next)))
    (local.get $h))
  (func (export "pages") (result IDX) (memory.size))"#;

/// `text` with `IDX` the index type: `i64` when `wide` (memory64), else `i32`.
fn indexed(text: &str, wide: bool) -> String {
    text.replace("IDX", if wide { "i64" } else { "i32" })
}

/// The helper module's functions for one table: size and null count.
/// `IDX` is the table's index type, as in [`HASH_FUNC`].
const TABLE_FUNCS: &str = r#"(func (export "size") (result IDX) (table.size))
  (func (export "nulls") (result i32) (local $i IDX) (local $n i32)
    (block $done (loop $next
      (br_if $done (IDX.ge_u (local.get $i) (table.size)))
      (local.set $n (i32.add (local.get $n) (ref.is_null (table.get (local.get $i)))))
      (local.set $i (IDX.add (local.get $i) (IDX.const 1)))
      (br $next)))
    (local.get $n))"#;

impl Case {
    /// Append this case as script text, with its modules named `$<prefix>` (and helpers
    /// `$<prefix>_<n>`). Returns the script lines (1-based, inclusive) the case spans.
    pub fn render(&self, out: &mut String, prefix: &str) -> (u32, u32) {
        let first = out.lines().count() as u32 + 1;
        let mut module = format!("(module ${prefix} binary ");
        // One string per 64 bytes keeps lines short.
        for (i, chunk) in self.wasm.chunks(64).enumerate() {
            if i > 0 {
                module.push_str("\n  ");
            }
            module.push_str(&string(chunk));
        }
        module.push(')');
        if let Some(message) = self.instantiation_trap {
            let _ = writeln!(out, "(assert_trap {module} {})", string(message.as_bytes()));
            return (first, out.lines().count() as u32);
        }
        let _ = writeln!(out, "{module}");
        let registered = format!("{prefix}_exports");
        let mut registered_yet = false;
        let mut helper = 0;
        for d in &self.directives {
            match d {
                Directive::Invoke {
                    export,
                    args,
                    outcome,
                } => {
                    let mut invoke = format!("(invoke ${prefix} {}", string(export.as_bytes()));
                    for a in args {
                        invoke.push(' ');
                        a.render(&mut invoke, false);
                    }
                    invoke.push(')');
                    match outcome {
                        Outcome::Return(values) => {
                            let mut line = format!("(assert_return {invoke}");
                            for v in values {
                                line.push(' ');
                                v.render(&mut line, true);
                            }
                            let _ = writeln!(out, "{line})");
                        }
                        Outcome::Trap(message) => {
                            let _ = writeln!(
                                out,
                                "(assert_trap {invoke} {})",
                                string(message.as_bytes())
                            );
                        }
                        Outcome::Exception => {
                            let _ = writeln!(out, "(assert_exception {invoke})");
                        }
                    }
                }
                Directive::Global { export, value } => {
                    let mut line = format!(
                        "(assert_return (get ${prefix} {})",
                        string(export.as_bytes())
                    );
                    line.push(' ');
                    value.render(&mut line, true);
                    let _ = writeln!(out, "{line})");
                }
                Directive::Memory { export, .. } | Directive::Table { export, .. } => {
                    if !registered_yet {
                        let _ = writeln!(
                            out,
                            "(register {} ${prefix})",
                            string(registered.as_bytes())
                        );
                        registered_yet = true;
                    }
                    helper += 1;
                    let name = format!("{prefix}_{helper}");
                    let import = format!(
                        "(import {} {}",
                        string(registered.as_bytes()),
                        string(export.as_bytes())
                    );
                    match d {
                        Directive::Memory {
                            wide, pages, hash, ..
                        } => {
                            let (idx, funcs) = (indexed("IDX", *wide), indexed(HASH_FUNC, *wide));
                            let _ = writeln!(
                                out,
                                "(module ${name} {import} (memory {idx} 0))\n  {funcs})"
                            );
                            let _ = writeln!(
                                out,
                                "(assert_return (invoke ${name} \"pages\") ({idx}.const {pages}))"
                            );
                            let _ = writeln!(
                                out,
                                "(assert_return (invoke ${name} \"hash\") (i64.const {}))",
                                *hash as i64
                            );
                        }
                        Directive::Table {
                            wide,
                            element: ty,
                            size,
                            nulls,
                            ..
                        } => {
                            let (idx, funcs) = (indexed("IDX", *wide), indexed(TABLE_FUNCS, *wide));
                            let _ = writeln!(
                                out,
                                "(module ${name} {import} (table {idx} 0 {ty}))\n  {funcs})"
                            );
                            let _ = writeln!(
                                out,
                                "(assert_return (invoke ${name} \"size\") ({idx}.const {size}))"
                            );
                            let _ = writeln!(
                                out,
                                "(assert_return (invoke ${name} \"nulls\") (i32.const {nulls}))"
                            );
                        }
                        _ => unreachable!("matched above"),
                    }
                }
            }
        }
        (first, out.lines().count() as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_are_exact() {
        assert_eq!(float(1.5f32.to_bits() as u64, 23, 8), "0x1.800000p0");
        assert_eq!(float((-2.0f64).to_bits(), 52, 11), "-0x1.0000000000000p1");
        assert_eq!(float(1, 23, 8), "0x0.000002p-126");
        assert_eq!(float(f32::INFINITY.to_bits() as u64, 23, 8), "inf");
        assert_eq!(float(0x7fa0_0001, 23, 8), "nan:0x200001");
        assert_eq!(float(0.0f64.to_bits(), 52, 11), "0x0.0000000000000p-1022");
        // Every rendering parses back to the same bits.
        for bits in [
            0x3f80_0000u32,
            0x0000_0001,
            0x807f_ffff,
            0x7f7f_ffff,
            0xffc0_0000,
        ] {
            let text = format!(
                "(module (global f32 (f32.const {})))",
                float(bits as u64, 23, 8)
            );
            let wasm = wat::parse_str(&text).unwrap();
            let tail = u32::from_le_bytes(wasm[wasm.len() - 5..wasm.len() - 1].try_into().unwrap());
            assert_eq!(tail, bits, "{text}");
        }
    }

    #[test]
    fn strings_escape_everything_odd() {
        assert_eq!(string(b"a \"b\"\\\x00\xff"), r#""a \22b\22\5c\00\ff""#);
    }

    #[test]
    fn hash_matches_the_helper_module() {
        let mut data = vec![0u8; 65536];
        for (i, b) in data.iter_mut().enumerate() {
            *b = (i * 7 + 3) as u8;
        }
        let expected = memory_hash(&data);
        // The helper, run by Wasmtime over the same bytes, for a 32- and a 64-bit memory.
        for wide in [false, true] {
            let idx = indexed("IDX", wide);
            let text = format!(
                "(module (memory (export \"m\") {idx} 1) (data ({idx}.const 0) {}) {})",
                string(&data),
                indexed(HASH_FUNC, wide)
            );
            let engine = wasmtime::Engine::default();
            let module = wasmtime::Module::new(&engine, wat::parse_str(&text).unwrap()).unwrap();
            let mut store = wasmtime::Store::new(&engine, ());
            let instance = wasmtime::Instance::new(&mut store, &module, &[]).unwrap();
            let hash = instance
                .get_typed_func::<(), i64>(&mut store, "hash")
                .unwrap()
                .call(&mut store, ())
                .unwrap();
            assert_eq!(hash as u64, expected, "{idx}");
        }
    }
}
