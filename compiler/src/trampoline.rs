//! Array-call trampolines (see `hako_abi::vm::ArrayCallFn`): the generic entry point of an
//! exported function (and of a defined start function), in the C convention, taking its arguments from and writing its results to 16-byte
//! `ValRaw` slots. The kernel is soft-float and never calls a function with float
//! arguments directly, so this is how it calls every export.

use inkwell::module::Linkage;
use inkwell::values::{BasicMetadataValueEnum, BasicValueEnum, FunctionValue, ValueKind};

use crate::ctx::ModuleCtx;
use crate::error::{internal, Result};

/// Size of one `ValRaw` slot.
const SLOT: u64 = core::mem::size_of::<hako_abi::vm::ValRaw>() as u64;

fn name(cx: &ModuleCtx<'_, '_>, index: u32) -> String {
    format!("{}_array_f{index}", cx.prefix)
}

fn fn_type<'ctx>(cx: &ModuleCtx<'ctx, '_>) -> inkwell::types::FunctionType<'ctx> {
    cx.llcx
        .void_type()
        .fn_type(&[cx.ptr.into(), cx.ptr.into()], false)
}

/// Declares the trampoline of defined function `index`, which another part defines.
pub fn declare_trampoline<'ctx>(cx: &ModuleCtx<'ctx, '_>, index: u32) -> FunctionValue<'ctx> {
    let f = cx
        .module
        .add_function(&name(cx, index), fn_type(cx), Some(Linkage::External));
    cx.set_part_visibility(f.as_global_value());
    cx.add_nounwind(f);
    f
}

/// Emits the trampoline of defined function `index` and returns it.
pub fn emit_trampoline<'ctx>(cx: &ModuleCtx<'ctx, '_>, index: u32) -> Result<FunctionValue<'ctx>> {
    let callee = cx
        .direct(index)?
        .ok_or_else(|| internal("trampoline target"))?;
    let ty = cx
        .info
        .func_type(index)
        .ok_or_else(|| internal("function index"))?;
    let fn_ty = fn_type(cx);
    let f = cx
        .module
        .add_function(&name(cx, index), fn_ty, Some(cx.definition_linkage()));
    cx.set_part_visibility(f.as_global_value());
    cx.add_body_attributes(f);
    let b = cx.llcx.create_builder();
    b.position_at_end(cx.llcx.append_basic_block(f, "entry"));
    let vmctx = f
        .get_nth_param(0)
        .ok_or_else(|| internal("trampoline parameter"))?;
    let values = f
        .get_nth_param(1)
        .ok_or_else(|| internal("trampoline parameter"))?
        .into_pointer_value();
    let slot = |i: usize| {
        let idx = cx.i64.const_int(i as u64 * SLOT, false);
        // SAFETY: address arithmetic only; the caller provides max(params, results) slots.
        unsafe { b.build_in_bounds_gep(cx.i8, values, &[idx], "") }
    };
    let mut args: Vec<BasicMetadataValueEnum> = vec![vmctx.into()];
    // Results in memory (`ModuleCtx::results_in_memory`): a buffer in this frame.
    let out = match cx.results_in_memory(ty.results()) {
        true => {
            let st = cx.results_struct(ty.results())?;
            let p = b.build_alloca(st, "")?;
            args.push(p.into());
            Some((p, st))
        }
        false => None,
    };
    for (i, p) in ty.params().iter().enumerate() {
        let v = b.build_load(cx.val_type(*p)?, slot(i)?, "")?;
        args.push(v.into());
    }
    // An exception nothing in Wasm caught stops here: the unwinder never walks into the
    // host's frames, and the host sees the uncaught-exception trap.
    let args: Vec<BasicValueEnum> = args
        .into_iter()
        .map(BasicValueEnum::try_from)
        .collect::<core::result::Result<_, _>>()
        .map_err(|()| internal("trampoline argument"))?;
    let done = cx.llcx.append_basic_block(f, "done");
    let pad = cx.llcx.append_basic_block(f, "uncaught");
    let call = b.build_direct_invoke(callee, &args, done, pad, "")?;
    call.set_call_convention(cx.wasm_cc());
    b.position_at_end(pad);
    let lp_ty = cx.llcx.struct_type(&[cx.ptr.into(), cx.i32.into()], false);
    let lp = b.build_landing_pad(
        lp_ty,
        cx.personality(),
        &[cx.ptr.const_null().into()],
        false,
        "lp",
    )?;
    let exn = b.build_extract_value(lp.into_struct_value(), 0, "exn")?;
    b.build_call(
        cx.builtin(hako_abi::builtins::EXN_FREE)?,
        &[vmctx.into(), exn.into()],
        "",
    )?;
    let code = cx.i32.const_int(
        u64::from(hako_abi::trap::TrapCode::UncaughtException as u32),
        false,
    );
    b.build_call(
        cx.builtin(hako_abi::builtins::TRAP)?,
        &[vmctx.into(), code.into()],
        "",
    )?;
    b.build_unreachable()?;
    b.position_at_end(done);
    let results: Vec<BasicValueEnum> = match call.try_as_basic_value() {
        ValueKind::Instruction(_) if out.is_some() => {
            let (p, st) = out.ok_or_else(|| internal("results buffer"))?;
            let v = b.build_load(st, p, "")?.into_struct_value();
            (0..ty.results().len())
                .map(|i| Ok(b.build_extract_value(v, i as u32, "")?))
                .collect::<Result<_>>()?
        }
        ValueKind::Instruction(_) => Vec::new(),
        ValueKind::Basic(v) if ty.results().len() == 1 => vec![v],
        ValueKind::Basic(v) => (0..ty.results().len())
            .map(|i| Ok(b.build_extract_value(v.into_struct_value(), i as u32, "")?))
            .collect::<Result<_>>()?,
    };
    for (i, v) in results.into_iter().enumerate() {
        b.build_store(slot(i)?, v)?;
    }
    b.build_return(None)?;
    Ok(f)
}
