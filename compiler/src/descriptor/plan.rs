//! The plan of a module's prebuilt instance: what the compiler can decide about
//! instantiation ahead of time, computed from the parsed module alone, without LLVM.
//!
//! A module gets a [`Plan`] when everything instantiation needs is known at compile time:
//! every import is a WASI function the compiler links, every constant expression evaluates
//! here (with the kernel's evaluator, `hako_abi::constexpr`), and every active segment fits.
//! Otherwise [`plan`] says `None` and the kernel instantiates the module from the
//! descriptor. The emission of the plan as LLVM constants is in `prebuilt.rs`.

use hako_abi::constexpr::{self, ConstEnv};
use hako_abi::vm::ValRaw;
use wasmparser::{ConstExpr, DataKind, ElementItems, ElementKind};

use super::{codes_or_v128, const_ops};
use crate::error::Result;

/// Most table entries a [`Prebuilt`](hako_abi::module::Prebuilt) instance lays out: its
/// tables' initial entries are data of the image, 8 bytes each.
pub(super) const MAX_PREBUILT_TABLE_ENTRIES: u64 = 1 << 16;

/// A value the compiler knows at compile time, for a prebuilt instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Const {
    /// Raw bits, as in `ValRaw`.
    Bits(u128),
    /// `ref.func`: the address of the function's `FuncRef`.
    Func(u32),
    Null,
}

/// What the plan's constant expressions may refer to: the values of the globals before
/// them (a module with a prebuilt instance imports none), and functions, whose reference is
/// encoded as the function index + 1 (0 is `ref.null`) and decoded by [`reference`].
struct PlanEnv<'a>(&'a [ValRaw]);

impl ConstEnv for PlanEnv<'_> {
    fn global(&self, index: u32) -> Option<ValRaw> {
        self.0.get(index as usize).copied()
    }
    fn func_ref(&self, index: u32) -> Option<u64> {
        Some(u64::from(index) + 1)
    }
}

/// Evaluates a constant expression as the kernel would (the same evaluator), `None` when it
/// refers to something the compiler does not know.
fn eval_const(
    expr: &ConstExpr<'_>,
    info: &crate::module::ModuleInfo<'_>,
    globals: &[ValRaw],
) -> Result<Option<ValRaw>> {
    Ok(constexpr::eval(&const_ops(expr, info)?, &mut PlanEnv(globals)).ok())
}

/// A reference value of [`PlanEnv`].
fn reference(v: ValRaw) -> Const {
    match v.u64() {
        0 => Const::Null,
        f => Const::Func((f - 1) as u32),
    }
}

/// The value of a global of type `ty`.
fn global_value(v: ValRaw, ty: wasmparser::ValType) -> Const {
    match ty {
        wasmparser::ValType::Ref(_) => reference(v),
        _ => Const::Bits(v.u128()),
    }
}

/// An offset into a 32-bit or (`index64`) a 64-bit index space.
fn offset(v: ValRaw, index64: bool) -> u64 {
    if index64 {
        v.u64()
    } else {
        u64::from(v.u32())
    }
}

/// What a prebuilt instance holds, computed from the module.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Plan {
    /// The canonical id of each type index.
    pub(super) type_ids: Vec<u32>,
    /// The initial value of each global.
    pub(super) globals: Vec<Const>,
    /// The initial entries of each table.
    pub(super) tables: Vec<Vec<Const>>,
    /// Per active data segment: (segment, memory, offset).
    pub(super) data: Vec<(usize, u32, u64)>,
}

/// The plan of a module's prebuilt instance, or `None` when the module needs something at
/// instantiation that only the kernel can provide or decide (see
/// [`hako_abi::module::Prebuilt`]).
pub(super) fn plan(info: &crate::module::ModuleInfo<'_>) -> Result<Option<Plan>> {
    let linked = info.imports.len() == info.func_imports.len()
        && info.func_imports.iter().all(|f| f.wasi_symbol.is_some());
    if !linked || info.table_inits.iter().any(Option::is_some) || !info.tags.is_empty() {
        return Ok(None);
    }
    // Only plain function types (each its own final rec group, every value type a plain
    // code) get ids computed here; GC types need the kernel's registry.
    let plain = |t: &wasmparser::ValType| {
        crate::module::val_word(*t, &info.gc_types, 0)
            .is_ok_and(|w| codes_or_v128(&[*t], &info.gc_types).is_ok_and(|c| w == u32::from(c[0])))
    };
    let gc_free = info.rec_groups.iter().all(|g| g.1 == 1)
        && info.sub_types.iter().all(|s| {
            s.is_final
                && s.supertype_idxs.is_empty()
                && matches!(&s.composite_type.inner, wasmparser::CompositeInnerType::Func(f)
                    if f.params().iter().chain(f.results()).all(plain))
        });
    if !gc_free || info.globals.iter().any(|g| !plain(&g.content_type)) {
        return Ok(None);
    }
    // The ids the kernel's type registry gives when this is the first module.
    let mut canonical: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    let mut type_ids = Vec::with_capacity(info.types.len());
    for t in &info.types {
        let key = (
            codes_or_v128(t.params(), &info.gc_types)?,
            codes_or_v128(t.results(), &info.gc_types)?,
        );
        let id = match canonical.iter().position(|k| *k == key) {
            Some(id) => id,
            None => {
                canonical.push(key);
                canonical.len() - 1
            }
        };
        type_ids.push(id as u32);
    }
    let mut values = Vec::with_capacity(info.global_inits.len());
    for g in &info.global_inits {
        let Some(v) = eval_const(&g.init, info, &values)? else {
            return Ok(None);
        };
        values.push(v);
    }
    let globals = values
        .iter()
        .zip(&info.globals)
        .map(|(&v, g)| global_value(v, g.content_type))
        .collect();
    if info.tables.iter().map(|t| t.initial).sum::<u64>() > MAX_PREBUILT_TABLE_ENTRIES {
        return Ok(None);
    }
    let mut tables: Vec<Vec<Const>> = info
        .tables
        .iter()
        .map(|t| vec![Const::Null; t.initial as usize])
        .collect();
    for el in &info.elements {
        let (table, offset_expr) = match &el.kind {
            ElementKind::Declared => continue,
            ElementKind::Passive => return Ok(None),
            ElementKind::Active {
                table_index,
                offset_expr,
            } => (table_index.unwrap_or(0) as usize, offset_expr),
        };
        let mut items = Vec::new();
        match &el.items {
            ElementItems::Functions(funcs) => {
                for f in funcs.clone() {
                    items.push(Const::Func(f?));
                }
            }
            ElementItems::Expressions(_, exprs) => {
                for e in exprs.clone() {
                    let Some(v) = eval_const(&e?, info, &values)? else {
                        return Ok(None);
                    };
                    items.push(reference(v));
                }
            }
        }
        let (Some(t), Some(start)) = (
            info.tables.get(table),
            eval_const(offset_expr, info, &values)?,
        ) else {
            return Ok(None);
        };
        let start = offset(start, t.table64);
        if t.table64 || start.saturating_add(items.len() as u64) > t.initial {
            return Ok(None); // out of bounds: instantiation traps
        }
        let at = start as usize;
        tables[table][at..at + items.len()].copy_from_slice(&items);
    }
    let mut data = Vec::with_capacity(info.data.len());
    for (i, d) in info.data.iter().enumerate() {
        let DataKind::Active {
            memory_index,
            offset_expr,
        } = &d.kind
        else {
            return Ok(None);
        };
        let Some(m) = info.memories.get(*memory_index as usize) else {
            return Ok(None);
        };
        let Some(start) = eval_const(offset_expr, info, &values)? else {
            return Ok(None);
        };
        let start = offset(start, m.memory64);
        let size = u128::from(m.initial) * u128::from(hako_abi::vm::WASM_PAGE_SIZE);
        if u128::from(start) + d.data.len() as u128 > size {
            return Ok(None); // out of bounds: instantiation traps
        }
        data.push((i, *memory_index, start));
    }
    Ok(Some(Plan {
        type_ids,
        globals,
        tables,
        data,
    }))
}

#[cfg(test)]
mod tests {
    use super::{plan, Const, Plan};

    fn plan_of(wat: &str) -> Option<Plan> {
        let wasm = wat::parse_str(wat).unwrap();
        let info = crate::module::ModuleInfo::parse(&wasm).unwrap();
        plan(&info).unwrap()
    }

    const EXIT: &str = r#"(import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))"#;

    #[test]
    fn a_constant_module_is_laid_out() {
        let p = plan_of(&format!(
            r#"(module {EXIT}
                 (type $a (func (result i32)))
                 (type $b (func (result i32)))
                 (memory 1)
                 (global (mut i64) (i64.const -2))
                 (global funcref (ref.func $f))
                 (table 3 funcref)
                 (elem (i32.const 1) func $f)
                 (elem declare func $f)
                 (data (i32.const 8) "hi")
                 (func $f (type $b) (i32.const 1)))"#
        ))
        .expect("laid out");
        // Types: `$a` and `$b`, equal, share the first id; the import's `(i32) -> ()` comes
        // after them.
        assert_eq!(p.type_ids, [0, 0, 1]);
        assert_eq!(
            p.globals,
            [Const::Bits(u128::from(-2i64 as u64)), Const::Func(1)]
        );
        assert_eq!(p.tables, [vec![Const::Null, Const::Func(1), Const::Null]]);
        assert_eq!(p.data, [(0, 0, 8)]);
    }

    #[test]
    fn modules_that_need_the_kernel_are_not() {
        for body in [
            // An import the compiler does not link.
            r#"(import "env" "f" (func))"#,
            // A memory import.
            r#"(import "env" "m" (memory 1))"#,
            // A global initialised from an imported global.
            r#"(import "env" "g" (global i32)) (global i32 (global.get 0))"#,
            // Passive segments stay for `memory.init`/`table.init`.
            r#"(memory 1) (data "x")"#,
            r#"(table 1 funcref) (elem func $f) (func $f)"#,
            // Segments that do not fit: instantiation traps.
            r#"(memory 1) (data (i32.const 65535) "xy")"#,
            r#"(table 1 funcref) (elem (i32.const 1) func $f) (func $f)"#,
        ] {
            let p = plan_of(&format!("(module {EXIT} {body})"));
            assert_eq!(p, None, "{body}");
        }
    }

    #[test]
    fn large_tables_are_not() {
        assert!(plan_of("(module (table 65536 funcref))").is_some());
        assert_eq!(plan_of("(module (table 65537 funcref))"), None);
    }
}
