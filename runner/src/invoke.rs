//! What `hako run` starts in a program: `_start` (a WASI command), or with `--invoke NAME`
//! one exported function (a WASI reactor, as `wasmtime run --invoke` does: `_initialize`
//! first when exported, then `NAME` with the arguments, and its results printed one per line).
//!
//! Everything here is checked on the host before anything is compiled: a module without
//! `_start` and no `--invoke`, an unknown export, a wrong argument count or an argument that
//! does not parse as its parameter's type is a clear error, and QEMU never starts. The kernel
//! receives the name and the arguments' raw bits on its command line
//! ([`hako_abi::boot::INVOKE_KEY`], [`hako_abi::boot::INVOKE_ARG_KEY`]) and reports the
//! results as `result` records, which [`format_results`] turns into text.

use anyhow::{bail, Context, Result};
use hako_abi::boot;
use std::collections::BTreeMap;
use wasmparser::{CompositeInnerType, ExternalKind, FuncType, Parser, Payload, TypeRef, ValType};

/// The command's entry point.
pub const START: &str = "_start";
/// A reactor's initialiser, called before the invoked export.
pub const INITIALIZE: &str = "_initialize";

/// The exported functions of a module, by name, with their types.
pub fn exported_functions(wasm: &[u8]) -> Result<BTreeMap<String, FuncType>> {
    let mut types: Vec<Option<FuncType>> = Vec::new();
    let mut funcs: Vec<u32> = Vec::new();
    let mut exports = Vec::new();
    for payload in Parser::new(0).parse_all(wasm) {
        match payload? {
            Payload::TypeSection(reader) => {
                for group in reader {
                    for ty in group?.into_types() {
                        types.push(match ty.composite_type.inner {
                            CompositeInnerType::Func(f) => Some(f),
                            _ => None,
                        });
                    }
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    if let TypeRef::Func(t) = import?.ty {
                        funcs.push(t);
                    }
                }
            }
            Payload::FunctionSection(reader) => {
                for t in reader {
                    funcs.push(t?);
                }
            }
            Payload::ExportSection(reader) => {
                for export in reader {
                    let export = export?;
                    if export.kind == ExternalKind::Func {
                        exports.push((export.name.to_string(), export.index));
                    }
                }
            }
            _ => {}
        }
    }
    let mut out = BTreeMap::new();
    for (name, index) in exports {
        let ty = funcs
            .get(index as usize)
            .and_then(|&t| types.get(t as usize).cloned().flatten())
            .with_context(|| format!("export `{name}` has no function type"))?;
        out.insert(name, ty);
    }
    Ok(out)
}

/// What to call: checked against the module's exports; the kernel command-line tokens that
/// say so (none for `_start`).
pub fn entry_tokens(
    path: &str,
    wasm: &[u8],
    invoke: Option<&str>,
    args: &[String],
) -> Result<Vec<String>> {
    let exports = exported_functions(wasm)?;
    let Some(name) = invoke else {
        if exports.contains_key(START) {
            return Ok(Vec::new());
        }
        let what = if exports.contains_key(INITIALIZE) {
            "it exports `_initialize`, so it is a WASI reactor (a library)"
        } else {
            "it is not a WASI command"
        };
        bail!(
            "{path} has no `{START}` export: {what}; call one of its functions with \
             `hako run --invoke NAME {path} -- ARGS...` ({})",
            list(&exports)
        );
    };
    let Some(ty) = exports.get(name) else {
        bail!(
            "--invoke {name}: {path} has no function export `{name}` ({})",
            list(&exports)
        );
    };
    if ty.params().len() != args.len() {
        bail!(
            "--invoke {name}: `{name}` takes {} argument{} ({}), got {}",
            ty.params().len(),
            if ty.params().len() == 1 { "" } else { "s" },
            types(ty.params()),
            args.len()
        );
    }
    let mut tokens = Vec::with_capacity(1 + args.len());
    let mut token = boot::INVOKE_KEY.to_string();
    boot::percent_encode(name.as_bytes(), &mut token).expect("writing to a String cannot fail");
    tokens.push(token);
    for (i, (arg, ty)) in args.iter().zip(ty.params()).enumerate() {
        let bits =
            parse_arg(arg, *ty).with_context(|| format!("--invoke {name}: argument {}", i + 1))?;
        tokens.push(format!("{}{bits:x}", boot::INVOKE_ARG_KEY));
    }
    Ok(tokens)
}

fn list(exports: &BTreeMap<String, FuncType>) -> String {
    if exports.is_empty() {
        return "it exports no functions".into();
    }
    let names: Vec<&str> = exports.keys().map(String::as_str).collect();
    format!("its function exports: {}", names.join(", "))
}

fn types(types: &[ValType]) -> String {
    let names: Vec<String> = types.iter().map(|t| t.to_string()).collect();
    names.join(", ")
}

/// An argument's raw bits, parsed as Wasmtime's `--invoke` parses it: integers in decimal or
/// `0x` hex (two's complement for negative decimals), floats in Rust's float syntax (`inf`,
/// `NaN` included).
pub fn parse_arg(text: &str, ty: ValType) -> Result<u128> {
    let int = |bits: u32| -> Result<u128> {
        let mask = if bits == 32 {
            u32::MAX as u128
        } else {
            u64::MAX as u128
        };
        let value = if let Some(hex) = text.strip_prefix("0x") {
            let v = u64::from_str_radix(hex, 16)
                .with_context(|| format!("`{text}` is not an i{bits}"))?;
            if bits == 32 && v > u32::MAX as u64 {
                bail!("`{text}` does not fit in an i32");
            }
            v as u128
        } else if bits == 32 {
            text.parse::<i32>()
                .map(|v| v as u32 as u128)
                .with_context(|| format!("`{text}` is not an i32"))?
        } else {
            text.parse::<i64>()
                .map(|v| v as u64 as u128)
                .with_context(|| format!("`{text}` is not an i64"))?
        };
        Ok(value & mask)
    };
    match ty {
        ValType::I32 => int(32),
        ValType::I64 => int(64),
        ValType::F32 => Ok(text
            .parse::<f32>()
            .with_context(|| format!("`{text}` is not an f32"))?
            .to_bits() as u128),
        ValType::F64 => Ok(text
            .parse::<f64>()
            .with_context(|| format!("`{text}` is not an f64"))?
            .to_bits() as u128),
        other => bail!("hako cannot pass a {other} argument from the command line"),
    }
}

/// The text `hako run --invoke` prints for one result (`type` as in
/// [`hako_abi::valtype`], `bits` the raw value), as Wasmtime prints it.
pub fn format_result(ty: u8, bits: u128) -> String {
    use hako_abi::valtype;
    match ty {
        valtype::I32 => (bits as u32 as i32).to_string(),
        valtype::I64 => (bits as u64 as i64).to_string(),
        valtype::F32 => f32::from_bits(bits as u32).to_string(),
        valtype::F64 => f64::from_bits(bits as u64).to_string(),
        valtype::V128 => format!("{bits:#034x}"),
        valtype::FUNCREF if bits == 0 => "<null funcref>".into(),
        valtype::EXTERNREF if bits == 0 => "<null externref>".into(),
        valtype::FUNCREF => "<funcref>".into(),
        valtype::EXTERNREF => "<externref>".into(),
        other => format!("<value of type {other:#04x}: {bits:#x}>"),
    }
}

/// The results of an invocation from the `result` records (`TYPE BITS`, both hex), in order.
pub fn format_results<'a>(records: impl Iterator<Item = &'a str>) -> Result<Vec<String>> {
    records
        .map(|rest| {
            let parsed = rest.split_once(' ').and_then(|(t, b)| {
                Some((
                    u8::from_str_radix(t, 16).ok()?,
                    u128::from_str_radix(b.trim(), 16).ok()?,
                ))
            });
            let (ty, bits) = parsed.with_context(|| format!("malformed result record `{rest}`"))?;
            Ok(format_result(ty, bits))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const REACTOR: &str = r#"(module
        (func (export "_initialize"))
        (func (export "add") (param i32 i64) (result i64)
            local.get 1 local.get 0 i64.extend_i32_s i64.add)
        (func (export "half") (param f64) (result f64) local.get 0 f64.const 0.5 f64.mul)
        (memory (export "memory") 1))"#;

    fn wasm(text: &str) -> Vec<u8> {
        wat::parse_str(text).unwrap()
    }

    #[test]
    fn exports_with_types() {
        let exports = exported_functions(&wasm(REACTOR)).unwrap();
        let names: Vec<&String> = exports.keys().collect();
        assert_eq!(names, ["_initialize", "add", "half"]);
        assert_eq!(exports["add"].params(), [ValType::I32, ValType::I64]);
    }

    #[test]
    fn imported_functions_count_in_the_index_space() {
        let m = wasm(
            r#"(module (import "m" "f" (func (param f32)))
                (func (export "g") (param i32)) (export "f" (func 0)))"#,
        );
        let exports = exported_functions(&m).unwrap();
        assert_eq!(exports["f"].params(), [ValType::F32]);
        assert_eq!(exports["g"].params(), [ValType::I32]);
    }

    #[test]
    fn a_reactor_without_invoke_is_refused_with_advice() {
        let err = entry_tokens("lib.wasm", &wasm(REACTOR), None, &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("lib.wasm has no `_start` export"), "{err}");
        assert!(err.contains("WASI reactor"), "{err}");
        assert!(err.contains("--invoke NAME"), "{err}");
        assert!(err.contains("_initialize, add, half"), "{err}");
        let none = entry_tokens("x.wasm", &wasm("(module)"), None, &[]).unwrap_err();
        assert!(
            none.to_string().contains("it exports no functions"),
            "{none}"
        );
    }

    #[test]
    fn a_command_needs_no_tokens() {
        let m = wasm(r#"(module (func (export "_start")))"#);
        assert!(entry_tokens("a.wasm", &m, None, &[]).unwrap().is_empty());
    }

    #[test]
    fn invoke_tokens_carry_name_and_bits() {
        let args = ["-1".to_string(), "0x10".to_string()];
        let tokens = entry_tokens("lib.wasm", &wasm(REACTOR), Some("add"), &args).unwrap();
        assert_eq!(
            tokens,
            [
                "hako.invoke=add",
                "hako.invoke-arg=ffffffff",
                "hako.invoke-arg=10"
            ]
        );
    }

    #[test]
    fn invoke_errors_say_what() {
        let m = wasm(REACTOR);
        let e = entry_tokens("lib.wasm", &m, Some("sub"), &[]).unwrap_err();
        assert!(
            e.to_string().contains("has no function export `sub`"),
            "{e}"
        );
        let e = entry_tokens("lib.wasm", &m, Some("add"), &["1".into()]).unwrap_err();
        assert!(
            e.to_string()
                .contains("takes 2 arguments (i32, i64), got 1"),
            "{e}"
        );
        let e = entry_tokens("lib.wasm", &m, Some("add"), &["x".into(), "1".into()]).unwrap_err();
        assert!(
            format!("{e:#}").contains("argument 1: `x` is not an i32"),
            "{e:#}"
        );
        let e = entry_tokens(
            "lib.wasm",
            &m,
            Some("add"),
            &["0x1ffffffff".into(), "1".into()],
        )
        .unwrap_err();
        assert!(format!("{e:#}").contains("does not fit in an i32"), "{e:#}");
    }

    #[test]
    fn arguments_parse_like_wasmtime() {
        assert_eq!(parse_arg("-2", ValType::I32).unwrap(), 0xffff_fffe);
        assert_eq!(parse_arg("-2", ValType::I64).unwrap(), u64::MAX as u128 - 1);
        assert_eq!(parse_arg("0xff", ValType::I64).unwrap(), 0xff);
        assert_eq!(
            parse_arg("1.5", ValType::F32).unwrap(),
            1.5f32.to_bits() as u128
        );
        assert_eq!(
            parse_arg("-inf", ValType::F64).unwrap(),
            f64::NEG_INFINITY.to_bits() as u128
        );
        assert!(parse_arg("2147483648", ValType::I32).is_err());
        assert!(parse_arg("1", ValType::V128).is_err());
    }

    #[test]
    fn results_print_like_wasmtime() {
        let records = ["7f ffffffff", "7e 2a", "7c 3ff8000000000000", "7d 7fc00000"];
        assert_eq!(
            format_results(records.into_iter()).unwrap(),
            ["-1", "42", "1.5", "NaN"]
        );
        assert!(format_results(["7f"].into_iter()).is_err());
    }
}
