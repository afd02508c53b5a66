//! Compiling modules: errors for bad input, every operator family, and the shape of the
//! emitted object.

use hako_compiler::{compile, validate, CompileError, OptLevel, Options};
use object::{Object, ObjectSymbol};

fn wat(src: &str) -> Vec<u8> {
    wat::parse_str(src).expect("test module parses")
}

fn compile_ok(src: &str) -> Vec<u8> {
    let wasm = wat(src);
    for level in [OptLevel::O0, OptLevel::O2] {
        let options = Options {
            opt_level: level,
            ..Options::default()
        };
        if let Err(e) = compile(&wasm, &options) {
            panic!("compile at -O{level} failed: {e}");
        }
    }
    single(compile(&wasm, &Options::default()).unwrap())
}

/// The one object of a module too small to be split.
fn single(c: hako_compiler::Compiled) -> Vec<u8> {
    assert_eq!(c.objects.len(), 1, "a small module is compiled as one part");
    c.objects.into_iter().next().unwrap()
}

#[test]
fn non_wasm_bytes_are_invalid() {
    let e = compile(b"hello, this is a text file\n", &Options::default()).unwrap_err();
    let CompileError::Invalid { offset, .. } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(*offset, 0);
    assert!(
        e.to_string()
            .starts_with("invalid WebAssembly at offset 0x0: "),
        "{e}"
    );
    assert!(validate(b"").is_err());
}

#[test]
fn truncated_module_is_invalid() {
    let wasm = wat(r#"(module (func (export "f") (result i32) i32.const 42))"#);
    let mut invalid = 0;
    for len in 0..wasm.len() {
        match compile(&wasm[..len], &Options::default()) {
            Err(CompileError::Invalid { offset, .. }) => {
                assert!(offset <= len, "offset {offset} > {len}");
                invalid += 1;
            }
            // Cutting exactly at a section boundary can leave a valid module (e.g. the
            // header alone).
            Ok(_) => assert!(validate(&wasm[..len]).is_ok()),
            other => panic!("truncated at {len}: {other:?}"),
        }
    }
    assert!(invalid >= wasm.len() - 3, "{invalid}");
}

#[test]
fn invalid_module_reports_offset() {
    // `i32.add` on an empty stack, in the code section.
    let wasm = wat(r#"(module (func (result i32) i32.add))"#);
    let e = validate(&wasm).unwrap_err();
    let CompileError::Invalid { offset, message } = &e else {
        panic!("{e:?}")
    };
    assert!(*offset > 8 && *offset < wasm.len(), "{offset}");
    assert!(message.contains("type mismatch"), "{message}");
    assert!(e.to_string().contains(&format!("{offset:#x}")));
}

#[test]
fn opt_level_parses_and_displays() {
    for (s, l) in [
        ("0", OptLevel::O0),
        ("1", OptLevel::O1),
        ("2", OptLevel::O2),
        ("3", OptLevel::O3),
    ] {
        assert_eq!(s.parse::<OptLevel>().unwrap(), l);
        assert_eq!(l.to_string(), s);
    }
    assert!("4".parse::<OptLevel>().is_err());
    let o = Options::default();
    assert_eq!(
        (o.prefix.as_str(), o.opt_level, o.cpu.as_str()),
        ("hako_main", OptLevel::O2, "x86-64-v2")
    );
}

const NUMERIC: &str = r#"
(module
  (func (export "i32") (param i32 i32) (result i32)
    (i32.add (local.get 0) (local.get 1)) (i32.sub (local.get 0)) (i32.mul (local.get 1))
    (i32.div_s (local.get 0)) (i32.div_u (local.get 1)) (i32.rem_s (local.get 0))
    (i32.rem_u (local.get 1)) (i32.and (local.get 0)) (i32.or (local.get 1)) (i32.xor (local.get 0))
    (i32.shl (local.get 1)) (i32.shr_s (local.get 0)) (i32.shr_u (local.get 1))
    (i32.rotl (local.get 0)) (i32.rotr (local.get 1)) i32.clz i32.ctz i32.popcnt i32.eqz
    (i32.eq (local.get 0)) (i32.ne (local.get 1)) (i32.lt_s (local.get 0)) (i32.lt_u (local.get 1))
    (i32.gt_s (local.get 0)) (i32.gt_u (local.get 1)) (i32.le_s (local.get 0)) (i32.le_u (local.get 1))
    (i32.ge_s (local.get 0)) (i32.ge_u (local.get 1)) i32.extend8_s i32.extend16_s)
  (func (export "i64") (param i64 i64) (result i64)
    (i64.add (local.get 0) (local.get 1)) (i64.sub (local.get 0)) (i64.mul (local.get 1))
    (i64.div_s (local.get 0)) (i64.div_u (local.get 1)) (i64.rem_s (local.get 0))
    (i64.rem_u (local.get 1)) (i64.and (local.get 0)) (i64.or (local.get 1)) (i64.xor (local.get 0))
    (i64.shl (local.get 1)) (i64.shr_s (local.get 0)) (i64.shr_u (local.get 1))
    (i64.rotl (local.get 0)) (i64.rotr (local.get 1)) i64.clz i64.ctz i64.popcnt
    i64.extend8_s i64.extend16_s i64.extend32_s
    (i64.eq (local.get 0)) i64.extend_i32_u (i64.ne (local.get 1)) i64.extend_i32_s
    (i64.lt_s (local.get 0)) i64.extend_i32_u (i64.gt_u (local.get 1)) i64.extend_i32_u
    i64.eqz i64.extend_i32_s)
  (func (export "f32") (param f32 f32) (result f32)
    (f32.add (local.get 0) (local.get 1)) (f32.sub (local.get 0)) (f32.mul (local.get 1))
    (f32.div (local.get 0)) (f32.min (local.get 1)) (f32.max (local.get 0))
    (f32.copysign (local.get 1)) f32.abs f32.neg f32.ceil f32.floor f32.trunc f32.nearest f32.sqrt
    (f32.eq (local.get 0) (local.get 1)) (f32.ne (local.get 0) (local.get 1)) i32.add
    (f32.lt (local.get 0) (local.get 1)) i32.add (f32.gt (local.get 0) (local.get 1)) i32.add
    (f32.le (local.get 0) (local.get 1)) i32.add (f32.ge (local.get 0) (local.get 1)) i32.add
    f32.convert_i32_s f32.add)
  (func (export "f64") (param f64 f64) (result f64)
    (f64.add (local.get 0) (local.get 1)) (f64.sub (local.get 0)) (f64.mul (local.get 1))
    (f64.div (local.get 0)) (f64.min (local.get 1)) (f64.max (local.get 0))
    (f64.copysign (local.get 1)) f64.abs f64.neg f64.ceil f64.floor f64.trunc f64.nearest f64.sqrt
    (f64.lt (local.get 0) (local.get 1)) f64.convert_i32_u f64.add)
  (func (export "conv") (param f32 f64 i32 i64) (result i64)
    (i32.trunc_f32_s (local.get 0)) (i32.trunc_f32_u (local.get 0)) (i32.trunc_f64_s (local.get 1))
    (i32.trunc_f64_u (local.get 1)) (i32.trunc_sat_f32_s (local.get 0)) (i32.trunc_sat_f32_u (local.get 0))
    (i32.trunc_sat_f64_s (local.get 1)) (i32.trunc_sat_f64_u (local.get 1))
    i32.add i32.add i32.add i32.add i32.add i32.add i32.add i64.extend_i32_u
    (i64.trunc_f32_s (local.get 0)) (i64.trunc_f32_u (local.get 0)) (i64.trunc_f64_s (local.get 1))
    (i64.trunc_f64_u (local.get 1)) (i64.trunc_sat_f32_s (local.get 0)) (i64.trunc_sat_f32_u (local.get 0))
    (i64.trunc_sat_f64_s (local.get 1)) (i64.trunc_sat_f64_u (local.get 1))
    i64.add i64.add i64.add i64.add i64.add i64.add i64.add i64.add
    (f32.convert_i32_s (local.get 2)) (f32.convert_i32_u (local.get 2)) f32.add
    (f32.convert_i64_s (local.get 3)) f32.add (f32.convert_i64_u (local.get 3)) f32.add
    (f32.demote_f64 (local.get 1)) f32.add i32.reinterpret_f32 i64.extend_i32_u i64.add
    (f64.convert_i32_s (local.get 2)) (f64.convert_i32_u (local.get 2)) f64.add
    (f64.convert_i64_s (local.get 3)) f64.add (f64.convert_i64_u (local.get 3)) f64.add
    (f64.promote_f32 (local.get 0)) f64.add i64.reinterpret_f64 i64.add
    (f32.reinterpret_i32 (local.get 2)) drop (f64.reinterpret_i64 (local.get 3)) drop
    (i32.wrap_i64 (local.get 3)) i64.extend_i32_s i64.add)
)"#;

#[test]
fn numeric_operators_compile() {
    compile_ok(NUMERIC);
}

const CONTROL: &str = r#"
(module
  (type $ii (func (param i32) (result i32)))
  (table $t 4 funcref)
  (elem (table $t) (i32.const 0) func $fact $multi_user)
  (func $fact (export "fact") (param i32) (result i32)
    (if (result i32) (i32.lt_s (local.get 0) (i32.const 2))
      (then (i32.const 1))
      (else (i32.mul (local.get 0) (call $fact (i32.sub (local.get 0) (i32.const 1)))))))
  (func $multi (param i32) (result i32 i64) (local.get 0) (i64.extend_i32_u (local.get 0)))
  (func $multi_user (export "multi") (param i32) (result i32)
    (call $multi (local.get 0)) i32.wrap_i64 i32.add)
  (func (export "loops") (param i32) (result i32) (local i32)
    (block $exit
      (loop $top
        (br_if $exit (i32.eqz (local.get 0)))
        (local.set 1 (i32.add (local.get 1) (local.get 0)))
        (local.set 0 (i32.sub (local.get 0) (i32.const 1)))
        (br $top)))
    (local.get 1))
  (func (export "params") (param i32) (result i32)
    (local.get 0)
    (loop (param i32) (result i32)
      (i32.sub (i32.const 1))
      (local.tee 0) (local.get 0) (br_if 0) (drop) (local.get 0))
    (block (param i32) (result i32 i32) (i32.const 7))
    (if (param i32 i32) (result i32) (local.get 0) (then i32.add) (else i32.sub)))
  (func (export "switch") (param i32) (result i32)
    (block (result i32)
      (block (result i32)
        (block (result i32)
          (i32.const 10) (local.get 0) (br_table 0 1 2 1 0))
        (i32.const 1) (i32.add) (return))
      (i32.const 2) (i32.add))
    (block (local.get 0) (br_table 0 0 0)))
  (func (export "unreachable_code") (param i32) (result i32)
    (block (result i32)
      (i32.const 1) (br 0)
      (i32.add) (block (loop (if (i32.const 0) (then (unreachable))))) (i32.const 5) (br_if 0) (drop) (unreachable))
    (drop)
    (if (result i32) (local.get 0) (then (return (i32.const 3))) (else (unreachable))))
  (func (export "if_no_else") (param i32) (result i32)
    (local.get 0) (if (param i32) (result i32) (local.get 0) (then (i32.const 1) (i32.add))))
  (func (export "indirect") (param i32 i32) (result i32)
    (call_indirect (type $ii) (local.get 0) (local.get 1)))
  (func (export "select") (param i32 i32 i32) (result i32)
    (select (local.get 0) (local.get 1) (local.get 2))
    (select (result i64) (i64.const 1) (i64.const 2) (local.get 2)) i32.wrap_i64 i32.add
    (select (result funcref) (ref.null func) (ref.func $fact) (local.get 2)) ref.is_null i32.add)
  (func (export "nop") nop nop)
  (func (export "trap") unreachable)
)"#;

#[test]
fn control_flow_compiles() {
    compile_ok(CONTROL);
}

const STATE: &str = r#"
(module
  (import "env" "ext" (func $ext (param i32 f64) (result f64)))
  (import "env" "g" (global $ig i64))
  (import "env" "t" (table $it 1 externref))
  (memory $m 1 100)
  (global $g (mut i32) (i32.const 5))
  (global $gf (mut f64) (f64.const 1.5))
  (global $gr (mut funcref) (ref.func $loads))
  (global $gx i32 (i32.const 3))
  (table $t 2 10 funcref)
  (data (i32.const 16) "hello")
  (data $passive "world")
  (elem $e funcref (ref.func $loads) (ref.null func))
  (elem declare func $stores)
  (func $loads (export "loads") (param i32) (result i64)
    (i64.load offset=8 (local.get 0)) (i64.extend_i32_s (i32.load (local.get 0))) i64.add
    (i64.extend_i32_s (i32.load8_s (local.get 0))) i64.add (i64.extend_i32_u (i32.load8_u (local.get 0))) i64.add
    (i64.extend_i32_s (i32.load16_s (local.get 0))) i64.add (i64.extend_i32_u (i32.load16_u (local.get 0))) i64.add
    (i64.load8_s (local.get 0)) i64.add (i64.load8_u (local.get 0)) i64.add
    (i64.load16_s (local.get 0)) i64.add (i64.load16_u (local.get 0)) i64.add
    (i64.load32_s offset=4294967295 (local.get 0)) i64.add (i64.load32_u (local.get 0)) i64.add
    (i64.trunc_f32_s (f32.load (local.get 0))) i64.add (i64.reinterpret_f64 (f64.load (local.get 0))) i64.add
    (drop (i32.load (i32.const 65536))))
  (func $stores (export "stores") (param i32 i64)
    (i32.store (local.get 0) (i32.wrap_i64 (local.get 1))) (i64.store (local.get 0) (local.get 1))
    (i32.store8 (local.get 0) (i32.const 1)) (i32.store16 (local.get 0) (i32.const 1))
    (i64.store8 (local.get 0) (local.get 1)) (i64.store16 (local.get 0) (local.get 1))
    (i64.store32 (local.get 0) (local.get 1)) (f32.store (local.get 0) (f32.const 1))
    (f64.store align=1 (local.get 0) (f64.const -0.0)))
  (func (export "memory") (param i32) (result i32)
    (memory.fill (local.get 0) (i32.const 0) (i32.const 10))
    (memory.copy (local.get 0) (i32.const 16) (i32.const 5))
    (memory.init $passive (local.get 0) (i32.const 0) (i32.const 5))
    (data.drop $passive)
    (i32.add (memory.size) (memory.grow (local.get 0))))
  (func (export "globals") (result i32)
    (global.set $g (i32.add (global.get $g) (global.get $gx)))
    (global.set $gf (f64.add (global.get $gf) (call $ext (global.get $g) (global.get $gf))))
    (global.set $gr (ref.func $stores))
    (i32.add (global.get $g) (i32.wrap_i64 (global.get $ig))))
  (func (export "tables") (param i32) (result i32)
    (table.set $t (local.get 0) (table.get $t (i32.const 0)))
    (table.set $it (i32.const 0) (table.get $it (local.get 0)))
    (table.fill $t (i32.const 0) (ref.null func) (i32.const 1))
    (table.copy $t $t (i32.const 0) (i32.const 1) (i32.const 1))
    (table.init $t $e (i32.const 0) (i32.const 0) (i32.const 2))
    (elem.drop $e)
    (i32.add (table.size $t) (table.grow $t (ref.func $loads) (local.get 0))))
  (start $start)
  (func $start)
)"#;

#[test]
fn memory_globals_tables_compile() {
    compile_ok(STATE);
}

const WASI: &str = r#"
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $bad_args_get (param i32) (result i32)))
  (import "env" "other" (func $other (param i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 8) "hi\n")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 8)) (i32.store (i32.const 4) (i32.const 3))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 20)))
    (drop (call $bad_args_get (call $other (i32.const 0))))
    (call $proc_exit (i32.const 0)))
)"#;

#[test]
fn object_defines_descriptor_and_links_wasi_by_symbol() {
    let obj = compile_ok(WASI);
    let file = object::File::parse(&*obj).expect("valid object");
    assert_eq!(file.format(), object::BinaryFormat::Elf);
    assert_eq!(file.architecture(), object::Architecture::X86_64);
    assert_eq!(file.kind(), object::ObjectKind::Relocatable);
    let mut undefined = Vec::new();
    let mut global_defined = Vec::new();
    for sym in file.symbols() {
        let name = sym.name().unwrap().to_string();
        if sym.is_undefined() {
            if !name.is_empty() {
                undefined.push(name);
            }
        } else if sym.is_global() {
            global_defined.push(name);
        }
    }
    undefined.sort();
    assert_eq!(
        undefined,
        [
            // The exported function's trampoline: an uncaught exception becomes a trap.
            "hako_exn_free",
            "hako_personality",
            "hako_trap",
            "wasi_snapshot_preview1__fd_write",
            "wasi_snapshot_preview1__proc_exit"
        ],
        "args_get with the wrong signature must go through its import slot"
    );
    assert_eq!(global_defined, ["hako_main_module"]);
}

/// A module with a tail call has every function in the tail convention (`tailcc`) and says
/// so in its descriptor; one without keeps the C convention unless the options ask.
#[test]
fn the_tail_convention_is_for_modules_with_tail_calls_or_when_asked() {
    let tail = wat(
        "(module (func $f (result i32) (return_call $g)) (func $g (result i32) (i32.const 1)))",
    );
    let plain =
        wat("(module (func $f (result i32) (call $g)) (func $g (result i32) (i32.const 1)))");
    let ir = |wasm: &[u8], tail_convention: bool| {
        let options = Options {
            emit_ir: true,
            tail_convention,
            ..Options::default()
        };
        compile(wasm, &options).unwrap().llvm_ir.unwrap()
    };
    let descriptor_convention = |ir: &str| {
        // The descriptor's fields after the name: no prebuilt instance, the convention,
        // padding (then the type definitions).
        ir.lines()
            .find(|l| l.starts_with("@hako_main_module = "))
            .map(|l| l.contains("ptr null, i32 1, i32 0, "))
            .unwrap()
    };
    for (wasm, asked, expected) in [
        (&tail, false, true),
        (&plain, false, false),
        (&plain, true, true),
    ] {
        let ir = ir(wasm, asked);
        assert_eq!(
            ir.contains("define internal tailcc i32 @hako_main_f1_g"),
            expected,
            "{ir}"
        );
        assert_eq!(descriptor_convention(&ir), expected, "{ir}");
    }
    assert!(ir(&tail, false).contains("musttail call tailcc i32 @hako_main_f1_g"));
}

#[test]
fn prefix_names_the_descriptor_and_ir_is_returned() {
    let wasm = wat(CONTROL);
    let options = Options {
        prefix: "other".into(),
        emit_ir: true,
        ..Options::default()
    };
    let c = compile(&wasm, &options).unwrap();
    assert_eq!(c.descriptor_symbol, "other_module");
    let ir = c.llvm_ir.unwrap();
    assert!(ir.contains("@other_module = "), "{ir}");
    assert!(
        ir.contains("define internal i32 @other_f0"),
        "functions are internal, in the C convention without tail calls"
    );
    let file = object::File::parse(&*c.objects[0]).unwrap();
    assert!(file
        .symbols()
        .any(|s| s.name() == Ok("other_module") && s.is_global() && !s.is_undefined()));
    assert!(compile(&wasm, &Options::default())
        .unwrap()
        .llvm_ir
        .is_none());
}

#[test]
fn bad_cpu_is_an_internal_error_not_a_panic() {
    // LLVM itself aborts the process on some unknown CPUs.
    let e = compile(
        &wat(CONTROL),
        &Options {
            cpu: "no-such-cpu".into(),
            ..Options::default()
        },
    )
    .unwrap_err();
    assert!(matches!(e, CompileError::Internal(_)), "{e:?}");
    compile(
        &wat(CONTROL),
        &Options {
            cpu: "native".into(),
            ..Options::default()
        },
    )
    .unwrap();
}

/// A module of `n` functions, each about 600 bytes of code, where function `i` calls
/// `i - 1` (so calls cross every part boundary), all in a table and the last exported.
fn large_module(n: usize) -> String {
    let mut s = String::from("(module (table funcref (elem");
    for i in 0..n {
        s += &format!(" {i}");
    }
    s += "))\n";
    for i in 0..n {
        s += "(func (param i32) (result i32) local.get 0\n";
        for k in 0..150 {
            s += &format!("i32.const {} i32.xor\n", (i * 7 + k) % 100);
        }
        if i > 0 {
            s += &format!("call {}\n", i - 1);
        }
        s += ")\n";
    }
    s += &format!(
        "(export \"last\" (func {}))\n(export \"first\" (func 0)))",
        n - 1
    );
    s
}

#[test]
fn large_modules_are_split_into_parts_that_share_hidden_symbols() {
    let wasm = wat(&large_module(400));
    let parts = |threads: usize| {
        let options = Options {
            threads,
            opt_level: OptLevel::O0,
            ..Options::default()
        };
        compile(&wasm, &options).unwrap().objects
    };
    assert_eq!(parts(1).len(), 1);
    let objects = parts(3);
    assert_eq!(objects.len(), 3, "one part per thread");
    let files: Vec<_> = objects
        .iter()
        .map(|o| object::File::parse(&**o).unwrap())
        .collect();
    let defines = |f: &object::File, name: &str| {
        f.symbols()
            .any(|s| s.name() == Ok(name) && !s.is_undefined())
    };
    // The descriptor is in part 0 only, and global.
    assert!(files[0]
        .symbols()
        .any(|s| s.name() == Ok("hako_main_module") && s.is_global() && !s.is_undefined()));
    assert!(!defines(&files[1], "hako_main_module") && !defines(&files[2], "hako_main_module"));
    // Every function and trampoline is defined exactly once, and what one part defines for
    // the others is hidden.
    for name in [
        "hako_main_f0",
        "hako_main_f399",
        "hako_main_array_f0",
        "hako_main_array_f399",
    ] {
        let definers: Vec<_> = files.iter().filter(|f| defines(f, name)).collect();
        assert_eq!(definers.len(), 1, "{name} defined {} times", definers.len());
    }
    let last = files
        .iter()
        .flat_map(|f| f.symbols())
        .find(|s| s.name() == Ok("hako_main_f399") && !s.is_undefined())
        .unwrap();
    assert!(last.is_global());
    assert!(
        matches!(
            last.flags(),
            object::SymbolFlags::Elf { st_other, .. } if st_other & 3 == object::elf::STV_HIDDEN
        ),
        "{:?}",
        last.flags()
    );
    // Part 0 (the first functions and the descriptor) refers to the last function.
    assert!(files[0]
        .symbols()
        .any(|s| s.name() == Ok("hako_main_f399") && s.is_undefined()));
}

#[test]
fn parts_are_compiled_from_a_queue_and_progress_reaches_the_totals() {
    use std::sync::{Arc, Mutex};
    let wasm = wat(&large_module(400));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let compiled = |threads: usize, progress: Option<hako_compiler::ProgressFn>| {
        let options = Options {
            threads,
            opt_level: OptLevel::O0,
            part_bytes: 32 * 1024,
            progress,
            ..Options::default()
        };
        compile(&wasm, &options).unwrap()
    };
    let record = seen.clone();
    let two = compiled(
        2,
        Some(hako_compiler::ProgressFn::new(move |p| {
            record.lock().unwrap().push(p)
        })),
    );
    let parts = two.objects.len();
    assert!(parts >= 5, "more parts ({parts}) than threads");
    assert_eq!(two.timings.parts.len(), parts);
    assert!(two.timings.parts.iter().all(|p| p.thread < 2));
    // A module this small has no huge functions, whatever the threshold.
    let options = Options {
        threads: 2,
        huge_bytes: 1,
        ..Options::default()
    };
    let c = compile(&wasm, &options).unwrap();
    assert!(c.timings.parts.iter().all(|p| !p.quick));
    let seen = seen.lock().unwrap();
    assert_eq!(
        seen.len(),
        parts + 1,
        "once before and once per part: {seen:?}"
    );
    let first = seen[0];
    assert_eq!(
        (
            first.parts_done,
            first.functions_done,
            first.code_bytes_done
        ),
        (0, 0, 0)
    );
    assert_eq!(first.parts, parts);
    assert_eq!(first.functions, 400);
    for w in seen.windows(2) {
        assert!(w[1].parts_done == w[0].parts_done + 1, "{w:?}");
        assert!(w[1].functions_done > w[0].functions_done, "{w:?}");
        assert!(w[1].code_bytes_done > w[0].code_bytes_done, "{w:?}");
    }
    let last = seen.last().unwrap();
    assert_eq!(last.parts_done, last.parts);
    assert_eq!(last.functions_done, last.functions);
    assert_eq!(last.code_bytes_done, last.code_bytes);
    // The parts depend on the part size, not on the threads: one thread gives the same
    // objects.
    assert_eq!(compiled(1, None).objects, two.objects);
}

#[test]
fn a_module_compiled_whole_reports_its_progress_once_done() {
    use std::sync::{Arc, Mutex};
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    let options = Options {
        progress: Some(hako_compiler::ProgressFn::new(move |p| {
            record.lock().unwrap().push(p)
        })),
        ..Options::default()
    };
    compile(&wat(r#"(module (func (export "f")))"#), &options).unwrap();
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!((seen[1].parts_done, seen[1].parts), (1, 1));
    assert_eq!((seen[1].functions_done, seen[1].functions), (1, 1));
}
