//! The Wasmtime side of a fuzz case: instantiate the generated module, call every exported
//! function with generated arguments, and record what happened (results or the trap's spec
//! message), then the final state of every exported global, memory and table.
//!
//! Wasmtime runs with its own fuel as a safety net (the generated modules carry wasm-smith's
//! termination fuel already, but a shrunken module may not): a case that runs out of
//! Wasmtime's fuel, or overflows Wasmtime's stack, is not comparable and is dropped with a
//! reason ([`Rejected`]).

use super::wast::{memory_hash, Case, Directive, Outcome, Value};
use hako_abi::trap::TrapCode;
use rand::Rng;
use std::sync::OnceLock;
use wasmtime::{Engine, Extern, Func, Instance, Module, Store, Trap, Val, ValType};

/// Wasmtime's fuel per case: far more than the modules' own termination fuel lets them use.
const WASMTIME_FUEL: u64 = 200_000_000;
/// Calls per exported function.
const CALLS_PER_EXPORT: usize = 2;

/// Why a case cannot be compared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected(pub String);

/// hako's trap code for a Wasmtime trap, when the two runtimes share the kind.
pub fn trap_code(trap: Trap) -> Option<TrapCode> {
    Some(match trap {
        Trap::UnreachableCodeReached => TrapCode::Unreachable,
        Trap::IntegerDivisionByZero => TrapCode::IntegerDivideByZero,
        Trap::IntegerOverflow => TrapCode::IntegerOverflow,
        Trap::BadConversionToInteger => TrapCode::InvalidConversionToInteger,
        Trap::MemoryOutOfBounds => TrapCode::MemoryOutOfBounds,
        Trap::TableOutOfBounds => TrapCode::TableOutOfBounds,
        Trap::IndirectCallToNull => TrapCode::UninitializedElement,
        Trap::BadSignature => TrapCode::BadSignature,
        Trap::StackOverflow => TrapCode::StackOverflow,
        Trap::NullReference => TrapCode::NullReference,
        Trap::ArrayOutOfBounds => TrapCode::ArrayOutOfBounds,
        Trap::AllocationTooLarge => TrapCode::AllocationTooLarge,
        Trap::CastFailure => TrapCode::CastFailure,
        _ => return None,
    })
}

fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let mut config = wasmtime::Config::new();
        config.consume_fuel(true);
        // The oracle runs on its own thread (see `run`) while a rayon worker waits for it:
        // Wasmtime compiling on rayon's pool too would wait for that worker, a deadlock.
        config.parallel_compilation(false);
        // As deep as hako's 8 MiB Wasm stack, so that recursion the termination fuel allows
        // fits on both sides (the thread running the oracle has the native stack for it).
        config.max_wasm_stack(8 << 20);
        // Exception handling is compiled by hako, so it is generated and compared.
        config.wasm_exceptions(true);
        // And GC.
        config.wasm_gc(true);
        config.wasm_function_references(true);
        Engine::new(&config).expect("a Wasmtime engine with fuel")
    })
}

/// The spec message of a failed call, or why the case is not comparable. `wasm` is the
/// module, to tell the instruction that trapped where Wasmtime's kind covers two of the
/// spec's messages.
fn trap_message(err: &wasmtime::Error, wasm: &[u8]) -> Result<&'static str, Rejected> {
    match err.downcast_ref::<Trap>().copied() {
        // Wasmtime says "table out of bounds" for `call_indirect` too, where the spec says
        // "undefined element" (the index is not an element of the table).
        Some(Trap::TableOutOfBounds) if trapped_at_call_indirect(err, wasm) => {
            Ok(TrapCode::UndefinedElement.message())
        }
        // Wasmtime says "null reference" for every GC access of a null reference, the spec
        // names the structure, array or i31.
        Some(Trap::NullReference) => Ok(null_message(err, wasm)),
        Some(Trap::OutOfFuel) => Err(Rejected("ran out of Wasmtime's fuel".into())),
        Some(Trap::StackOverflow) => Err(Rejected(
            "overflowed Wasmtime's stack (the depth differs between runtimes)".into(),
        )),
        Some(trap) => trap_code(trap)
            .map(|c| c.message())
            .ok_or_else(|| Rejected(format!("Wasmtime trap with no hako equivalent: {trap}"))),
        None => Err(Rejected(format!("Wasmtime failed: {err:#}"))),
    }
}

/// The spec's message for a null reference where `err` trapped: by the GC instruction
/// (prefix 0xfb: `struct.get*`/`struct.set` 2 to 5, `array.get*` to `array.init_elem`
/// 11 to 19, `i31.get_*` 29 and 30), else "null reference".
fn null_message(err: &wasmtime::Error, wasm: &[u8]) -> &'static str {
    let op = err
        .downcast_ref::<wasmtime::WasmBacktrace>()
        .and_then(|trace| trace.frames().first()?.module_offset())
        .and_then(|offset| wasm.get(offset..offset + 2));
    match op {
        Some([0xfb, 2..=5]) => TrapCode::NullStructure.message(),
        Some([0xfb, 11..=19]) => TrapCode::NullArray.message(),
        Some([0xfb, 29 | 30]) => TrapCode::NullI31.message(),
        _ => TrapCode::NullReference.message(),
    }
}

/// Whether the innermost Wasm frame of `err` is at a `call_indirect` or
/// `return_call_indirect` (opcodes 0x11, 0x13).
fn trapped_at_call_indirect(err: &wasmtime::Error, wasm: &[u8]) -> bool {
    err.downcast_ref::<wasmtime::WasmBacktrace>()
        .and_then(|trace| trace.frames().first()?.module_offset())
        .and_then(|offset| wasm.get(offset))
        .is_some_and(|op| matches!(op, 0x11 | 0x13))
}

/// An argument of type `ty`: mostly the values where code generators go wrong (zero, ±1,
/// extremes, NaNs, infinities, subnormals), else random bits.
fn argument(ty: &ValType, rng: &mut impl Rng) -> Option<(Val, Value)> {
    let pick = |rng: &mut dyn FnMut() -> u64, specials: &[u64]| -> u64 {
        let r = rng();
        if r % 3 == 0 {
            rng()
        } else {
            specials[(r / 3) as usize % specials.len()]
        }
    };
    let mut next = || rng.next_u64();
    Some(match ty {
        ValType::I32 => {
            let v = pick(
                &mut next,
                &[
                    0,
                    1,
                    2,
                    0xffff_ffff,
                    0x8000_0000,
                    0x7fff_ffff,
                    31,
                    32,
                    0x1_0000,
                ],
            ) as u32;
            (Val::I32(v as i32), Value::I32(v))
        }
        ValType::I64 => {
            let v = pick(
                &mut next,
                &[0, 1, u64::MAX, 1 << 63, (1 << 63) - 1, 63, 64, 0xffff_ffff],
            );
            (Val::I64(v as i64), Value::I64(v))
        }
        ValType::F32 => {
            let specials = [
                0,
                0x8000_0000,
                0x3f80_0000,
                0xbf80_0000,
                0x7f80_0000,
                0xff80_0000,
                0x7fc0_0000,
                1,
                0x7f7f_ffff,
                0x4f00_0000,
                0xcf00_0001,
            ];
            let v = pick(&mut next, &specials) as u32;
            (Val::F32(v), Value::F32(v))
        }
        ValType::F64 => {
            let specials = [
                0,
                1 << 63,
                0x3ff0_0000_0000_0000,
                0xbff0_0000_0000_0000,
                0x7ff0_0000_0000_0000,
                0xfff0_0000_0000_0000,
                0x7ff8_0000_0000_0000,
                1,
                0x43e0_0000_0000_0000,
                0xc3e0_0000_0000_0001,
            ];
            let v = pick(&mut next, &specials);
            (Val::F64(v), Value::F64(v))
        }
        ValType::V128 => {
            let v = (u128::from(next()) << 64) | u128::from(next());
            (Val::V128(v.into()), Value::V128(v))
        }
        ValType::Ref(r) if r.heap_type().is_func() || r.heap_type().is_extern() => {
            let heap = if r.heap_type().is_func() {
                "func"
            } else {
                "extern"
            };
            let null = if heap == "func" {
                Val::FuncRef(None)
            } else {
                Val::ExternRef(None)
            };
            (null, Value::Null(heap))
        }
        ValType::Ref(_) => return None,
    })
}

fn value(v: &Val) -> Result<Value, Rejected> {
    Ok(match v {
        Val::I32(x) => Value::I32(*x as u32),
        Val::I64(x) => Value::I64(*x as u64),
        Val::F32(b) => Value::F32(*b),
        Val::F64(b) => Value::F64(*b),
        Val::V128(x) => Value::V128(x.as_u128()),
        Val::FuncRef(None) => Value::Null("func"),
        Val::FuncRef(Some(_)) => Value::NonNull("func"),
        Val::ExternRef(None) => Value::Null("extern"),
        Val::ExternRef(Some(_)) => Value::NonNull("extern"),
        Val::AnyRef(None) => Value::Null("any"),
        Val::AnyRef(Some(_)) => Value::NonNull("any"),
        other => return Err(Rejected(format!("a result hako cannot compare: {other:?}"))),
    })
}

/// The native stack of the thread that runs Wasmtime: room for its 8 MiB of Wasm stack
/// (`max_wasm_stack`) and the host frames below it.
const ORACLE_THREAD_STACK: usize = 32 << 20;

/// Run `wasm` in Wasmtime: the case to check hako against, or why there is none. Runs on a
/// thread of its own with a stack large enough for Wasmtime's limit (a thread of the test
/// harness or of rayon has 2 MiB, and overflowing that is a crash, not a trap).
pub fn run(name: String, wasm: Vec<u8>, rng: &mut (impl Rng + Send)) -> Result<Case, Rejected> {
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("wasmtime-oracle".into())
            .stack_size(ORACLE_THREAD_STACK)
            .spawn_scoped(scope, move || run_here(name, wasm, rng))
            .map_err(|e| Rejected(format!("cannot start the oracle thread: {e}")))?
            .join()
            .map_err(|p| {
                Rejected(format!(
                    "Wasmtime panicked: {}",
                    crate::panics::message(&*p)
                ))
            })?
    })
}

fn run_here(name: String, wasm: Vec<u8>, rng: &mut impl Rng) -> Result<Case, Rejected> {
    let engine = engine();
    let module =
        Module::new(engine, &wasm).map_err(|e| Rejected(format!("Wasmtime refused it: {e:#}")))?;
    let mut store = Store::new(engine, ());
    store
        .set_fuel(WASMTIME_FUEL)
        .map_err(|e| Rejected(format!("{e:#}")))?;
    let instance = match Instance::new(&mut store, &module, &[]) {
        Ok(i) => i,
        Err(e) if e.downcast_ref::<wasmtime::ThrownException>().is_some() => {
            return Err(Rejected(
                "an exception escapes the start function (no script form)".into(),
            ));
        }
        Err(e) => {
            let message = trap_message(&e, &wasm)?;
            return Ok(Case {
                name,
                wasm,
                instantiation_trap: Some(message),
                directives: Vec::new(),
            });
        }
    };
    let exports: Vec<(String, Extern)> = instance
        .exports(&mut store)
        .map(|e| (e.name().to_string(), e.into_extern()))
        .collect();
    let mut directives = Vec::new();
    for (name, ext) in &exports {
        let Extern::Func(func) = ext else { continue };
        for _ in 0..CALLS_PER_EXPORT {
            if let Some(d) = invoke(&mut store, func, name, &wasm, rng)? {
                directives.push(d);
            }
        }
    }
    for (name, ext) in &exports {
        match ext {
            Extern::Global(g) => directives.push(Directive::Global {
                export: name.clone(),
                value: value(&g.get(&mut store))?,
            }),
            Extern::Memory(m) => directives.push(Directive::Memory {
                export: name.clone(),
                wide: m.ty(&store).is_64(),
                pages: (m.data_size(&store) / 65536) as u32,
                hash: memory_hash(m.data(&store)),
            }),
            Extern::Table(t) => {
                let size = t.size(&store);
                let nulls = (0..size)
                    .filter(|&i| t.get(&mut store, i).is_none_or(|r| r.is_null()))
                    .count() as u32;
                let heap = t.ty(&store).element().heap_type().clone();
                let element = if heap.is_func() {
                    "funcref"
                } else if heap.is_exn() {
                    "exnref"
                } else if heap.is_extern() {
                    "externref"
                } else {
                    return Err(Rejected(format!("a table of {heap} hako cannot check")));
                };
                directives.push(Directive::Table {
                    export: name.clone(),
                    wide: t.ty(&store).is_64(),
                    element,
                    size: size as u32,
                    nulls,
                });
            }
            _ => {}
        }
    }
    Ok(Case {
        name,
        wasm,
        instantiation_trap: None,
        directives,
    })
}

fn invoke(
    store: &mut Store<()>,
    func: &Func,
    name: &str,
    wasm: &[u8],
    rng: &mut impl Rng,
) -> Result<Option<Directive>, Rejected> {
    let ty = func.ty(&*store);
    let mut args = Vec::new();
    let mut shown = Vec::new();
    for p in ty.params() {
        let Some((arg, value)) = argument(&p, rng) else {
            return Ok(None); // a parameter type the script cannot write
        };
        args.push(arg);
        shown.push(value);
    }
    let mut results: Vec<Val> = ty
        .results()
        .map(|t| t.default_value().unwrap_or(Val::I32(0)))
        .collect();
    let outcome = match func.call(&mut *store, &args, &mut results) {
        Ok(()) => Outcome::Return(results.iter().map(value).collect::<Result<_, _>>()?),
        // An uncaught exception: `assert_exception`. The store keeps it as pending until
        // taken; the next call starts without it.
        Err(e) if e.downcast_ref::<wasmtime::ThrownException>().is_some() => {
            let _ = store.take_pending_exception();
            Outcome::Exception
        }
        Err(e) => Outcome::Trap(trap_message(&e, wasm)?),
    };
    Ok(Some(Directive::Invoke {
        export: name.to_string(),
        args: shown,
        outcome,
    }))
}
