//! Translation of one function body from Wasm operators to LLVM IR: the translator's
//! state and the dispatcher.
//!
//! The dispatcher is one flat `match` over [`wasmparser::Operator`]: a pure operator is a
//! short arm calling a generic helper; every operator that touches run-time state delegates
//! to [`FuncEnv`]. The helpers are grouped by concern: structured control flow (blocks,
//! loops, branches; `translate/control.rs`), scalar numeric operators
//! (`translate/numeric.rs`), scalar memory accesses (`translate/memory.rs`) and the SIMD
//! operators' lane-shape helpers (`translate/simd.rs`). Locals are allocas that `mem2reg`
//! promotes.
//!
//! Semantics are Wasm's, never LLVM's: operators whose LLVM counterpart has undefined or
//! poison results for some inputs (division, shifts, `ctlz`, float-to-int) are guarded or
//! replaced by a well-defined form.

use hako_abi::builtins;
use hako_abi::trap::TrapCode;
use inkwell::builder::{Builder, BuilderError};
use inkwell::types::{BasicTypeEnum, FloatType, IntType};
use inkwell::values::{BasicValueEnum, FunctionValue, IntMathValue, IntValue, PointerValue};
use inkwell::{FloatPredicate, IntPredicate};
use wasmparser::{FunctionBody, MemArg, Operator, ValType};

use crate::ctx::ModuleCtx;
use crate::env::{CallKind, Called, FuncEnv};
use crate::error::{internal, unsupported, Result};
use crate::stack::{ControlFrame, ControlStack, FrameKind, ValueStack};

mod control;
mod exceptions;
mod gc;
mod memory;
mod numeric;
mod simd;

use simd::Shape::*;
use simd::{High, Low, MinMax};

/// Translates the body of defined function `index` into its (already declared) LLVM
/// function.
pub fn translate_function(
    cx: &ModuleCtx<'_, '_>,
    index: u32,
    body: &FunctionBody<'_>,
) -> Result<()> {
    let func = cx
        .direct(index)?
        .ok_or_else(|| internal("function not declared"))?;
    let ty = cx
        .info
        .func_type(index)
        .ok_or_else(|| internal("function index"))?;
    let mut t = FuncTranslator {
        env: FuncEnv::new(cx, func)?,
        stack: ValueStack::default(),
        control: ControlStack::default(),
        locals: Vec::new(),
        reachable: true,
        unreachable_depth: 0,
        offset: 0,
        // Without tags a legacy catch can only be `catch_all` of a foreign exception: kept.
        keeps_caught: cx.info.tags.is_empty() || exceptions::has_rethrow(body)?,
    };
    if cx.results_in_memory(ty.results()) {
        t.env.out = Some(
            func.get_nth_param(1)
                .ok_or_else(|| internal("results pointer"))?
                .into_pointer_value(),
        );
    }
    t.declare_locals(func, ty.params(), body)?;
    let body_block = t.env.append_block("body");
    t.env.b.position_at_end(body_block);
    let ret = t.env.append_block("return");
    let results = t.phis(ret, ty.results())?;
    t.control.push(ControlFrame {
        kind: FrameKind::Function,
        next: ret,
        results,
        height: 0,
        reached: false,
        unwind: None,
    });

    let mut reader = body.get_operators_reader()?;
    while !reader.eof() {
        let (op, offset) = reader.read_with_offset()?;
        t.offset = offset as usize;
        t.operator(op)?;
    }
    if t.control.depth() != 0 {
        return Err(internal("function body ended inside a block"));
    }
    t.env.finish_entry(body_block)
}

struct FuncTranslator<'c, 'ctx, 'a> {
    env: FuncEnv<'c, 'ctx, 'a>,
    stack: ValueStack<'ctx>,
    control: ControlStack<'ctx>,
    locals: Vec<(PointerValue<'ctx>, BasicTypeEnum<'ctx>)>,
    /// False after `br`, `return`, `unreachable` and friends, until the enclosing frame ends.
    reachable: bool,
    /// Blocks entered while unreachable (not translated, only counted to find their end).
    unreachable_depth: u32,
    /// Offset of the operator being translated, for error messages.
    offset: usize,
    /// Legacy catches keep the exception they caught (a `rethrow` may raise it again).
    keeps_caught: bool,
}

type BResult<T> = core::result::Result<T, BuilderError>;

/// How an integer operator reads its operands: as two's complement (`_s`) or unsigned (`_u`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Signedness {
    Signed,
    Unsigned,
}

use Signedness::{Signed, Unsigned};

impl Signedness {
    /// The flag of inkwell's `build_int_cast_sign_flag`.
    fn is_signed(self) -> bool {
        self == Signed
    }

    /// `x >> n`, arithmetic (`Signed`) or logical (`Unsigned`), for scalars and vectors.
    fn shift_right<'ctx, T: IntMathValue<'ctx>>(self, b: &Builder<'ctx>, x: T, n: T) -> BResult<T> {
        b.build_right_shift(x, n, self.is_signed(), "")
    }
}

/// Which result of an integer division an operator wants (`div` or `rem`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DivOp {
    Quotient,
    Remainder,
}

impl<'c, 'ctx, 'a> FuncTranslator<'c, 'ctx, 'a> {
    fn cx(&self) -> &'c ModuleCtx<'ctx, 'a> {
        self.env.cx
    }

    fn b(&self) -> &Builder<'ctx> {
        &self.env.b
    }

    fn declare_locals(
        &mut self,
        func: FunctionValue<'ctx>,
        params: &[ValType],
        body: &FunctionBody<'_>,
    ) -> Result<()> {
        for (i, p) in params.iter().enumerate() {
            let ty = self.cx().val_type(*p)?;
            let slot = self.env.alloca(ty)?;
            let first = 1 + u32::from(self.env.out.is_some());
            let value = func
                .get_nth_param(i as u32 + first)
                .ok_or_else(|| internal("parameter count"))?;
            let here = self.env.entry_block();
            self.env.b.position_at_end(here);
            self.env.b.build_store(slot, value)?;
            self.locals.push((slot, ty));
        }
        for local in body.get_locals_reader()? {
            let (count, vt) = local?;
            let ty = self.cx().val_type(vt)?;
            for _ in 0..count {
                let slot = self.env.alloca(ty)?;
                self.locals.push((slot, ty));
            }
        }
        Ok(())
    }

    fn local(&self, index: u32) -> Result<(PointerValue<'ctx>, BasicTypeEnum<'ctx>)> {
        self.locals
            .get(index as usize)
            .copied()
            .ok_or_else(|| internal("local index"))
    }

    /// After a call: its results on the stack; after a tail call, the function has returned
    /// (by the `musttail` call itself, or by returning the results of an ordinary call).
    fn called(&mut self, called: Called<'ctx>, kind: CallKind) -> Result<()> {
        if let Called::Results(results) = called {
            self.stack.extend(results);
            if kind == CallKind::Tail {
                self.return_()?;
            }
        }
        if kind == CallKind::Tail {
            self.reachable = false;
        }
        Ok(())
    }

    /// `return`: a branch to the function's frame.
    fn return_(&mut self) -> Result<()> {
        let depth = self
            .control
            .depth()
            .checked_sub(1)
            .ok_or_else(|| internal("return outside function"))?;
        self.br(depth as u32)
    }

    // ---- the dispatcher ----

    fn operator(&mut self, op: Operator<'_>) -> Result<()> {
        use Operator::*;
        if !self.reachable {
            return self.unreachable_operator(&op);
        }
        let cx = self.cx();
        let (i8, i16, i32, i64) = (cx.i8, cx.llcx.i16_type(), cx.i32, cx.i64);
        let (f32, f64): (FloatType, FloatType) = (cx.f32, cx.f64);
        match op {
            // -- control --
            Unreachable => {
                self.env.trap(TrapCode::Unreachable)?;
                self.reachable = false;
            }
            Nop => {}
            Block { blockty } => {
                let (params, results) = self.block_sig(blockty)?;
                self.enter(FrameKind::Block, params.len(), &results)?;
            }
            Loop { blockty } => {
                let (params, results) = self.block_sig(blockty)?;
                let from = self.env.current_block()?;
                let header = self.env.append_block("loop");
                let phis = self.phis(header, &params)?;
                let values = self.stack.pop_n(params.len())?;
                Self::add_incoming(&phis, &values, from);
                self.env.b.build_unconditional_branch(header)?;
                self.env.b.position_at_end(header);
                self.stack.extend(phis.iter().map(|p| p.as_basic_value()));
                self.enter(
                    FrameKind::Loop {
                        header,
                        params: phis,
                    },
                    params.len(),
                    &results,
                )?;
            }
            If { blockty } => {
                let (params, results) = self.block_sig(blockty)?;
                let cond = self.stack.pop_int()?;
                let cond = self.truthy(cond)?;
                let then_block = self.env.append_block("then");
                let else_block = self.env.append_block("else");
                self.env
                    .b
                    .build_conditional_branch(cond, then_block, else_block)?;
                self.env.b.position_at_end(then_block);
                let values = self.stack.peek_n(params.len())?.to_vec();
                self.enter(
                    FrameKind::If {
                        else_block,
                        params: values,
                        has_else: false,
                    },
                    params.len(),
                    &results,
                )?;
            }
            Else => self.else_()?,
            End => self.end()?,
            TryTable { try_table } => self.try_table(try_table)?,
            Throw { tag_index } => self.throw(tag_index)?,
            ThrowRef => self.throw_ref()?,
            Try { blockty } => self.legacy_try(blockty)?,
            Catch { tag_index } => self.legacy_catch(Some(tag_index))?,
            CatchAll => self.legacy_catch(None)?,
            Delegate { relative_depth } => self.delegate(relative_depth)?,
            Rethrow { relative_depth } => self.rethrow(relative_depth)?,
            Br { relative_depth } => {
                self.br(relative_depth)?;
                self.reachable = false;
            }
            BrIf { relative_depth } => self.br_if(relative_depth)?,
            BrTable { targets } => {
                self.br_table(&targets)?;
                self.reachable = false;
            }
            Return => {
                self.return_()?;
                self.reachable = false;
            }
            Call { function_index } | ReturnCall { function_index } => {
                let kind = call_kind(&op);
                let ty = cx
                    .info
                    .func_type(function_index)
                    .ok_or_else(|| internal("function index"))?;
                let args = self.stack.pop_n(ty.params().len())?;
                let called = self.env.call(function_index, &args, kind)?;
                self.called(called, kind)?;
            }
            CallIndirect {
                type_index,
                table_index,
            }
            | ReturnCallIndirect {
                type_index,
                table_index,
            } => {
                let kind = call_kind(&op);
                let ty = cx
                    .info
                    .types
                    .get(type_index as usize)
                    .ok_or_else(|| internal("type index"))?;
                let callee = self.stack.pop_int()?;
                let args = self.stack.pop_n(ty.params().len())?;
                let called =
                    self.env
                        .call_indirect(type_index, table_index, callee, &args, kind)?;
                self.called(called, kind)?;
            }
            CallRef { type_index } | ReturnCallRef { type_index } => {
                let kind = call_kind(&op);
                let ty = cx
                    .info
                    .types
                    .get(type_index as usize)
                    .ok_or_else(|| internal("type index"))?;
                let callee = self.stack.pop_ptr()?;
                let args = self.stack.pop_n(ty.params().len())?;
                let called = self.env.call_ref(type_index, callee, &args, kind)?;
                self.called(called, kind)?;
            }
            Drop => self.drop_operand()?,
            Select | TypedSelect { .. } => self.select()?,

            // -- variables --
            LocalGet { local_index } => {
                let (p, ty) = self.local(local_index)?;
                let v = self.b().build_load(ty, p, "")?;
                self.stack.push(v);
            }
            LocalSet { local_index } => {
                let v = self.stack.pop()?;
                self.b().build_store(self.local(local_index)?.0, v)?;
            }
            LocalTee { local_index } => {
                let v = *self
                    .stack
                    .peek_n(1)?
                    .first()
                    .ok_or_else(|| internal("tee"))?;
                self.b().build_store(self.local(local_index)?.0, v)?;
            }
            GlobalGet { global_index } => {
                let v = self.env.global_get(global_index)?;
                self.stack.push(v);
            }
            GlobalSet { global_index } => {
                let v = self.stack.pop()?;
                self.env.global_set(global_index, v)?;
            }

            // -- memory --
            I32Load { memarg } => self.load(&memarg, i32.into(), None)?,
            I64Load { memarg } => self.load(&memarg, i64.into(), None)?,
            F32Load { memarg } => self.load(&memarg, f32.into(), None)?,
            F64Load { memarg } => self.load(&memarg, f64.into(), None)?,
            I32Load8S { memarg } => self.load(&memarg, i8.into(), Some((i32, Signed)))?,
            I32Load8U { memarg } => self.load(&memarg, i8.into(), Some((i32, Unsigned)))?,
            I32Load16S { memarg } => self.load(&memarg, i16.into(), Some((i32, Signed)))?,
            I32Load16U { memarg } => self.load(&memarg, i16.into(), Some((i32, Unsigned)))?,
            I64Load8S { memarg } => self.load(&memarg, i8.into(), Some((i64, Signed)))?,
            I64Load8U { memarg } => self.load(&memarg, i8.into(), Some((i64, Unsigned)))?,
            I64Load16S { memarg } => self.load(&memarg, i16.into(), Some((i64, Signed)))?,
            I64Load16U { memarg } => self.load(&memarg, i16.into(), Some((i64, Unsigned)))?,
            I64Load32S { memarg } => self.load(&memarg, i32.into(), Some((i64, Signed)))?,
            I64Load32U { memarg } => self.load(&memarg, i32.into(), Some((i64, Unsigned)))?,
            I32Store { memarg }
            | I64Store { memarg }
            | F32Store { memarg }
            | F64Store { memarg } => self.store(&memarg, None)?,
            I32Store8 { memarg } | I64Store8 { memarg } => self.store(&memarg, Some(i8))?,
            I32Store16 { memarg } | I64Store16 { memarg } => self.store(&memarg, Some(i16))?,
            I64Store32 { memarg } => self.store(&memarg, Some(i32))?,
            MemorySize { mem } => {
                let v = self.env.memory_size(mem)?;
                self.stack.push(v);
            }
            MemoryGrow { mem } => {
                let delta = self.stack.pop_int()?;
                let v = self.env.memory_grow(mem, delta)?;
                self.stack.push(v);
            }
            MemoryFill { mem } => {
                let (n, val, d) = (
                    self.stack.pop_int()?,
                    self.stack.pop_int()?,
                    self.stack.pop_int()?,
                );
                self.env.memory_fill(mem, d, val, n)?;
            }
            MemoryCopy { dst_mem, src_mem } => {
                let (n, s, d) = (
                    self.stack.pop_int()?,
                    self.stack.pop_int()?,
                    self.stack.pop_int()?,
                );
                self.env.memory_copy(dst_mem, src_mem, [d, s, n])?;
            }
            MemoryInit { data_index, mem } => {
                let (n, s, d) = (
                    self.stack.pop_int()?,
                    self.stack.pop_int()?,
                    self.stack.pop_int()?,
                );
                self.env
                    .bulk(builtins::MEMORY_INIT, mem, data_index, [d, s, n])?;
            }
            DataDrop { data_index } => self.env.drop_segment(builtins::DATA_DROP, data_index)?,

            // -- constants --
            I32Const { value } => self.stack.push(i32.const_int(value as u32 as u64, false)),
            I64Const { value } => self.stack.push(i64.const_int(value as u64, false)),
            F32Const { value } => {
                let v = self.f32_const(value.bits())?;
                self.stack.push(v)
            }
            F64Const { value } => {
                let v = self.f64_const(value.bits())?;
                self.stack.push(v)
            }

            // -- integer arithmetic --
            I32Eqz | I64Eqz => self.eqz()?,
            I32Eq | I64Eq => self.icmp(IntPredicate::EQ)?,
            I32Ne | I64Ne => self.icmp(IntPredicate::NE)?,
            I32LtS | I64LtS => self.icmp(IntPredicate::SLT)?,
            I32LtU | I64LtU => self.icmp(IntPredicate::ULT)?,
            I32GtS | I64GtS => self.icmp(IntPredicate::SGT)?,
            I32GtU | I64GtU => self.icmp(IntPredicate::UGT)?,
            I32LeS | I64LeS => self.icmp(IntPredicate::SLE)?,
            I32LeU | I64LeU => self.icmp(IntPredicate::ULE)?,
            I32GeS | I64GeS => self.icmp(IntPredicate::SGE)?,
            I32GeU | I64GeU => self.icmp(IntPredicate::UGE)?,
            I32Clz | I64Clz => self.count_zeros("llvm.ctlz")?,
            I32Ctz | I64Ctz => self.count_zeros("llvm.cttz")?,
            I32Popcnt | I64Popcnt => self.intrinsic("llvm.ctpop", 1, &[])?,
            I32Add | I64Add => self.ibin(|b, x, y| b.build_int_add(x, y, ""))?,
            I32Sub | I64Sub => self.ibin(|b, x, y| b.build_int_sub(x, y, ""))?,
            I32Mul | I64Mul => self.ibin(|b, x, y| b.build_int_mul(x, y, ""))?,
            I32DivS | I64DivS => self.div_rem(Signed, DivOp::Quotient)?,
            I32DivU | I64DivU => self.div_rem(Unsigned, DivOp::Quotient)?,
            I32RemS | I64RemS => self.div_rem(Signed, DivOp::Remainder)?,
            I32RemU | I64RemU => self.div_rem(Unsigned, DivOp::Remainder)?,
            I32And | I64And => self.ibin(|b, x, y| b.build_and(x, y, ""))?,
            I32Or | I64Or => self.ibin(|b, x, y| b.build_or(x, y, ""))?,
            I32Xor | I64Xor => self.ibin(|b, x, y| b.build_xor(x, y, ""))?,
            I32Shl | I64Shl => self.shift(|b, x, y| b.build_left_shift(x, y, ""))?,
            I32ShrS | I64ShrS => self.shift(|b, x, y| Signed.shift_right(b, x, y))?,
            I32ShrU | I64ShrU => self.shift(|b, x, y| Unsigned.shift_right(b, x, y))?,
            I32Rotl | I64Rotl => self.rotate(true)?,
            I32Rotr | I64Rotr => self.rotate(false)?,

            // -- float arithmetic --
            F32Eq | F64Eq => self.fcmp(FloatPredicate::OEQ)?,
            F32Ne | F64Ne => self.fcmp(FloatPredicate::UNE)?,
            F32Lt | F64Lt => self.fcmp(FloatPredicate::OLT)?,
            F32Gt | F64Gt => self.fcmp(FloatPredicate::OGT)?,
            F32Le | F64Le => self.fcmp(FloatPredicate::OLE)?,
            F32Ge | F64Ge => self.fcmp(FloatPredicate::OGE)?,
            F32Abs | F64Abs => self.intrinsic("llvm.fabs", 1, &[])?,
            F32Neg | F64Neg => self.cvt_float(|b, x| Ok(b.build_float_neg(x, "")?.into()))?,
            F32Ceil | F64Ceil => self.intrinsic("llvm.ceil", 1, &[])?,
            F32Floor | F64Floor => self.intrinsic("llvm.floor", 1, &[])?,
            F32Trunc | F64Trunc => self.intrinsic("llvm.trunc", 1, &[])?,
            F32Nearest | F64Nearest => self.intrinsic("llvm.roundeven", 1, &[])?,
            F32Sqrt | F64Sqrt => self.intrinsic("llvm.sqrt", 1, &[])?,
            F32Add | F64Add => self.fbin(|b, x, y| b.build_float_add(x, y, ""))?,
            F32Sub | F64Sub => self.fbin(|b, x, y| b.build_float_sub(x, y, ""))?,
            F32Mul | F64Mul => self.fbin(|b, x, y| b.build_float_mul(x, y, ""))?,
            F32Div | F64Div => self.fbin(|b, x, y| b.build_float_div(x, y, ""))?,
            F32Min | F64Min => self.min_max("llvm.minimum")?,
            F32Max | F64Max => self.min_max("llvm.maximum")?,
            F32Copysign | F64Copysign => self.intrinsic("llvm.copysign", 2, &[])?,

            // -- conversions --
            I32WrapI64 => self.cvt_int(|b, x| Ok(b.build_int_truncate(x, i32, "")?.into()))?,
            I64ExtendI32S => self.cvt_int(|b, x| Ok(b.build_int_s_extend(x, i64, "")?.into()))?,
            I64ExtendI32U => self.cvt_int(|b, x| Ok(b.build_int_z_extend(x, i64, "")?.into()))?,
            I32TruncF32S | I32TruncF64S => self.trunc_trap(Signed, i32)?,
            I32TruncF32U | I32TruncF64U => self.trunc_trap(Unsigned, i32)?,
            I64TruncF32S | I64TruncF64S => self.trunc_trap(Signed, i64)?,
            I64TruncF32U | I64TruncF64U => self.trunc_trap(Unsigned, i64)?,
            I32TruncSatF32S | I32TruncSatF64S => self.trunc_sat(Signed, i32)?,
            I32TruncSatF32U | I32TruncSatF64U => self.trunc_sat(Unsigned, i32)?,
            I64TruncSatF32S | I64TruncSatF64S => self.trunc_sat(Signed, i64)?,
            I64TruncSatF32U | I64TruncSatF64U => self.trunc_sat(Unsigned, i64)?,
            F32ConvertI32S | F32ConvertI64S => {
                self.cvt_int(|b, x| Ok(b.build_signed_int_to_float(x, f32, "")?.into()))?
            }
            F32ConvertI32U | F32ConvertI64U => {
                self.cvt_int(|b, x| Ok(b.build_unsigned_int_to_float(x, f32, "")?.into()))?
            }
            F64ConvertI32S | F64ConvertI64S => {
                self.cvt_int(|b, x| Ok(b.build_signed_int_to_float(x, f64, "")?.into()))?
            }
            F64ConvertI32U | F64ConvertI64U => {
                self.cvt_int(|b, x| Ok(b.build_unsigned_int_to_float(x, f64, "")?.into()))?
            }
            F32DemoteF64 => self.cvt_float(|b, x| Ok(b.build_float_trunc(x, f32, "")?.into()))?,
            F64PromoteF32 => self.cvt_float(|b, x| Ok(b.build_float_ext(x, f64, "")?.into()))?,
            I32ReinterpretF32 => self.bitcast(i32.into())?,
            I64ReinterpretF64 => self.bitcast(i64.into())?,
            F32ReinterpretI32 => self.bitcast(f32.into())?,
            F64ReinterpretI64 => self.bitcast(f64.into())?,
            I32Extend8S | I64Extend8S => self.sign_extend_low(i8)?,
            I32Extend16S | I64Extend16S => self.sign_extend_low(i16)?,
            I64Extend32S => self.sign_extend_low(i32)?,

            // -- references and tables --
            RefNull { .. } => self.stack.push(cx.ptr.const_null()),
            RefIsNull => {
                let r = self.stack.pop_ptr()?;
                let c = self.b().build_is_null(r, "")?;
                self.push_bool(c)?;
            }
            RefFunc { function_index } => {
                let p = self.env.ref_func(function_index)?;
                self.stack.push(p);
            }
            RefAsNonNull => {
                let r = self.stack.pop_ptr()?;
                let null = self.b().build_is_null(r, "")?;
                self.env.trap_if(null, TrapCode::NullReference)?;
                self.stack.push(r);
            }
            BrOnNull { relative_depth } => {
                let r = self.stack.pop_ptr()?;
                let null = self.b().build_is_null(r, "")?;
                self.br_if_i1(relative_depth, null)?;
                self.stack.push(r);
            }
            BrOnNonNull { relative_depth } => {
                let r = self.stack.pop_ptr()?;
                let non_null = self.b().build_is_not_null(r, "")?;
                self.stack.push(r);
                self.br_if_i1(relative_depth, non_null)?;
                self.stack.pop()?;
            }
            // -- GC --
            RefI31 => self.ref_i31()?,
            I31GetS => self.i31_get(true)?,
            I31GetU => self.i31_get(false)?,
            RefEq => self.ref_eq()?,
            AnyConvertExtern | ExternConvertAny => {}
            StructNew { struct_type_index } => self.struct_new(struct_type_index, false)?,
            StructNewDefault { struct_type_index } => self.struct_new(struct_type_index, true)?,
            StructGet {
                struct_type_index,
                field_index,
            } => self.struct_get(struct_type_index, field_index, gc::Extend::None)?,
            StructGetS {
                struct_type_index,
                field_index,
            } => self.struct_get(struct_type_index, field_index, gc::Extend::Signed)?,
            StructGetU {
                struct_type_index,
                field_index,
            } => self.struct_get(struct_type_index, field_index, gc::Extend::Unsigned)?,
            StructSet {
                struct_type_index,
                field_index,
            } => self.struct_set(struct_type_index, field_index)?,
            ArrayNew { array_type_index } => self.array_new(array_type_index, false)?,
            ArrayNewDefault { array_type_index } => self.array_new(array_type_index, true)?,
            ArrayNewFixed {
                array_type_index,
                array_size,
            } => self.array_new_fixed(array_type_index, array_size)?,
            ArrayNewData {
                array_type_index,
                array_data_index,
            } => self.array_new_segment(
                builtins::ARRAY_NEW_DATA,
                array_type_index,
                array_data_index,
            )?,
            ArrayNewElem {
                array_type_index,
                array_elem_index,
            } => self.array_new_segment(
                builtins::ARRAY_NEW_ELEM,
                array_type_index,
                array_elem_index,
            )?,
            ArrayGet { array_type_index } => self.array_get(array_type_index, gc::Extend::None)?,
            ArrayGetS { array_type_index } => {
                self.array_get(array_type_index, gc::Extend::Signed)?
            }
            ArrayGetU { array_type_index } => {
                self.array_get(array_type_index, gc::Extend::Unsigned)?
            }
            ArraySet { array_type_index } => self.array_set(array_type_index)?,
            ArrayLen => self.array_len()?,
            ArrayFill { array_type_index } => self.array_fill(array_type_index)?,
            ArrayCopy {
                array_type_index_dst,
                ..
            } => self.array_copy(array_type_index_dst)?,
            ArrayInitData {
                array_data_index, ..
            } => self.array_init_segment(builtins::ARRAY_INIT_DATA, array_data_index)?,
            ArrayInitElem {
                array_elem_index, ..
            } => self.array_init_segment(builtins::ARRAY_INIT_ELEM, array_elem_index)?,
            RefTestNonNull { hty } => self.ref_test(non_null(hty))?,
            RefTestNullable { hty } => self.ref_test(nullable(hty))?,
            RefCastNonNull { hty } => self.ref_cast(non_null(hty))?,
            RefCastNullable { hty } => self.ref_cast(nullable(hty))?,
            BrOnCast {
                relative_depth,
                to_ref_type,
                ..
            } => self.br_on_cast(relative_depth, to_ref_type, true)?,
            BrOnCastFail {
                relative_depth,
                to_ref_type,
                ..
            } => self.br_on_cast(relative_depth, to_ref_type, false)?,

            TableGet { table } => {
                let i = self.stack.pop_int()?;
                let v = self.env.table_get(table, i)?;
                self.stack.push(v);
            }
            TableSet { table } => {
                let v = self.stack.pop()?;
                let i = self.stack.pop_int()?;
                self.env.table_set(table, i, v)?;
            }
            TableSize { table } => {
                let v = self.env.table_size(table)?;
                self.stack.push(v);
            }
            TableGrow { table } => {
                let delta = self.stack.pop_int()?;
                let init = self.stack.pop()?;
                let v = self.env.table_grow(table, init, delta)?;
                self.stack.push(v);
            }
            TableFill { table } => {
                let n = self.stack.pop_int()?;
                let v = self.stack.pop()?;
                let d = self.stack.pop_int()?;
                self.env.table_fill(table, d, v, n)?;
            }
            TableCopy {
                dst_table,
                src_table,
            } => {
                let (n, s, d) = (
                    self.stack.pop_int()?,
                    self.stack.pop_int()?,
                    self.stack.pop_int()?,
                );
                self.env
                    .bulk(builtins::TABLE_COPY, dst_table, src_table, [d, s, n])?;
            }
            TableInit { elem_index, table } => {
                let (n, s, d) = (
                    self.stack.pop_int()?,
                    self.stack.pop_int()?,
                    self.stack.pop_int()?,
                );
                self.env
                    .bulk(builtins::TABLE_INIT, table, elem_index, [d, s, n])?;
            }
            ElemDrop { elem_index } => self.env.drop_segment(builtins::ELEM_DROP, elem_index)?,

            // -- simd: memory, constants and lanes --
            V128Load { memarg } => self.load(&memarg, cx.v128.into(), None)?,
            V128Store { memarg } => self.store(&memarg, None)?,
            V128Load8x8S { memarg } => self.v_load_extend(&memarg, I8x16, Signed)?,
            V128Load8x8U { memarg } => self.v_load_extend(&memarg, I8x16, Unsigned)?,
            V128Load16x4S { memarg } => self.v_load_extend(&memarg, I16x8, Signed)?,
            V128Load16x4U { memarg } => self.v_load_extend(&memarg, I16x8, Unsigned)?,
            V128Load32x2S { memarg } => self.v_load_extend(&memarg, I32x4, Signed)?,
            V128Load32x2U { memarg } => self.v_load_extend(&memarg, I32x4, Unsigned)?,
            V128Load8Splat { memarg } => self.v_load_splat(&memarg, I8x16)?,
            V128Load16Splat { memarg } => self.v_load_splat(&memarg, I16x8)?,
            V128Load32Splat { memarg } => self.v_load_splat(&memarg, I32x4)?,
            V128Load64Splat { memarg } => self.v_load_splat(&memarg, I64x2)?,
            V128Load32Zero { memarg } => self.v_load_zero(&memarg, I32x4)?,
            V128Load64Zero { memarg } => self.v_load_zero(&memarg, I64x2)?,
            V128Load8Lane { memarg, lane } => self.v_load_lane(&memarg, I8x16, lane)?,
            V128Load16Lane { memarg, lane } => self.v_load_lane(&memarg, I16x8, lane)?,
            V128Load32Lane { memarg, lane } => self.v_load_lane(&memarg, I32x4, lane)?,
            V128Load64Lane { memarg, lane } => self.v_load_lane(&memarg, I64x2, lane)?,
            V128Store8Lane { memarg, lane } => self.v_store_lane(&memarg, I8x16, lane)?,
            V128Store16Lane { memarg, lane } => self.v_store_lane(&memarg, I16x8, lane)?,
            V128Store32Lane { memarg, lane } => self.v_store_lane(&memarg, I32x4, lane)?,
            V128Store64Lane { memarg, lane } => self.v_store_lane(&memarg, I64x2, lane)?,
            V128Const { value } => self.v_const(value.i128() as u128),
            I8x16Shuffle { lanes } => self.v_shuffle(lanes)?,
            I8x16Swizzle => self.v_swizzle()?,

            // -- relaxed SIMD (choices documented at `v_x86` and below) --
            // Out-of-range indices give 0, as `swizzle` (allowed: 0 or `pshufb`'s lane).
            I8x16RelaxedSwizzle => self.v_swizzle()?,
            // `cvttps2dq`/`cvttpd2dq`: NaN and out-of-range lanes give INT_MIN (allowed).
            I32x4RelaxedTruncF32x4S => self.v_x86(F32x4, "llvm.x86.sse2.cvttps2dq", 1)?,
            I32x4RelaxedTruncF64x2SZero => self.v_x86(F64x2, "llvm.x86.sse2.cvttpd2dq", 1)?,
            // No single instruction without AVX-512: the saturating form (allowed).
            I32x4RelaxedTruncF32x4U => self.v_trunc_sat(F32x4, Unsigned)?,
            I32x4RelaxedTruncF64x2UZero => self.v_trunc_sat(F64x2, Unsigned)?,
            F32x4RelaxedMadd => self.v_relaxed_madd(F32x4, false)?,
            F32x4RelaxedNmadd => self.v_relaxed_madd(F32x4, true)?,
            F64x2RelaxedMadd => self.v_relaxed_madd(F64x2, false)?,
            F64x2RelaxedNmadd => self.v_relaxed_madd(F64x2, true)?,
            // Bit-wise (allowed: the mask's top bit per lane or every bit).
            I8x16RelaxedLaneselect
            | I16x8RelaxedLaneselect
            | I32x4RelaxedLaneselect
            | I64x2RelaxedLaneselect => self.v_bitselect()?,
            // `minps`/`maxps`: the second operand when either is NaN or both are zeros.
            F32x4RelaxedMin => self.v_x86(F32x4, "llvm.x86.sse.min.ps", 2)?,
            F32x4RelaxedMax => self.v_x86(F32x4, "llvm.x86.sse.max.ps", 2)?,
            F64x2RelaxedMin => self.v_x86(F64x2, "llvm.x86.sse2.min.pd", 2)?,
            F64x2RelaxedMax => self.v_x86(F64x2, "llvm.x86.sse2.max.pd", 2)?,
            // Saturating, as `q15mulr_sat_s` (allowed; SSSE3's `pmulhrsw`, which wraps, is
            // not in every CPU level `--cpu` accepts).
            I16x8RelaxedQ15mulrS => self.v_q15mulr_sat()?,
            I16x8RelaxedDotI8x16I7x16S => self.v_relaxed_dot()?,
            I32x4RelaxedDotI8x16I7x16AddS => self.v_relaxed_dot_add()?,
            I8x16Splat => self.v_splat(I8x16)?,
            I16x8Splat => self.v_splat(I16x8)?,
            I32x4Splat => self.v_splat(I32x4)?,
            I64x2Splat => self.v_splat(I64x2)?,
            F32x4Splat => self.v_splat(F32x4)?,
            F64x2Splat => self.v_splat(F64x2)?,
            I8x16ExtractLaneS { lane } => self.v_extract_lane(I8x16, lane, Some(Signed))?,
            I8x16ExtractLaneU { lane } => self.v_extract_lane(I8x16, lane, Some(Unsigned))?,
            I16x8ExtractLaneS { lane } => self.v_extract_lane(I16x8, lane, Some(Signed))?,
            I16x8ExtractLaneU { lane } => self.v_extract_lane(I16x8, lane, Some(Unsigned))?,
            I32x4ExtractLane { lane } => self.v_extract_lane(I32x4, lane, None)?,
            I64x2ExtractLane { lane } => self.v_extract_lane(I64x2, lane, None)?,
            F32x4ExtractLane { lane } => self.v_extract_lane(F32x4, lane, None)?,
            F64x2ExtractLane { lane } => self.v_extract_lane(F64x2, lane, None)?,
            I8x16ReplaceLane { lane } => self.v_replace_lane(I8x16, lane)?,
            I16x8ReplaceLane { lane } => self.v_replace_lane(I16x8, lane)?,
            I32x4ReplaceLane { lane } => self.v_replace_lane(I32x4, lane)?,
            I64x2ReplaceLane { lane } => self.v_replace_lane(I64x2, lane)?,
            F32x4ReplaceLane { lane } => self.v_replace_lane(F32x4, lane)?,
            F64x2ReplaceLane { lane } => self.v_replace_lane(F64x2, lane)?,

            // -- simd: comparisons --
            I8x16Eq => self.v_icmp(I8x16, IntPredicate::EQ)?,
            I8x16Ne => self.v_icmp(I8x16, IntPredicate::NE)?,
            I8x16LtS => self.v_icmp(I8x16, IntPredicate::SLT)?,
            I8x16LtU => self.v_icmp(I8x16, IntPredicate::ULT)?,
            I8x16GtS => self.v_icmp(I8x16, IntPredicate::SGT)?,
            I8x16GtU => self.v_icmp(I8x16, IntPredicate::UGT)?,
            I8x16LeS => self.v_icmp(I8x16, IntPredicate::SLE)?,
            I8x16LeU => self.v_icmp(I8x16, IntPredicate::ULE)?,
            I8x16GeS => self.v_icmp(I8x16, IntPredicate::SGE)?,
            I8x16GeU => self.v_icmp(I8x16, IntPredicate::UGE)?,
            I16x8Eq => self.v_icmp(I16x8, IntPredicate::EQ)?,
            I16x8Ne => self.v_icmp(I16x8, IntPredicate::NE)?,
            I16x8LtS => self.v_icmp(I16x8, IntPredicate::SLT)?,
            I16x8LtU => self.v_icmp(I16x8, IntPredicate::ULT)?,
            I16x8GtS => self.v_icmp(I16x8, IntPredicate::SGT)?,
            I16x8GtU => self.v_icmp(I16x8, IntPredicate::UGT)?,
            I16x8LeS => self.v_icmp(I16x8, IntPredicate::SLE)?,
            I16x8LeU => self.v_icmp(I16x8, IntPredicate::ULE)?,
            I16x8GeS => self.v_icmp(I16x8, IntPredicate::SGE)?,
            I16x8GeU => self.v_icmp(I16x8, IntPredicate::UGE)?,
            I32x4Eq => self.v_icmp(I32x4, IntPredicate::EQ)?,
            I32x4Ne => self.v_icmp(I32x4, IntPredicate::NE)?,
            I32x4LtS => self.v_icmp(I32x4, IntPredicate::SLT)?,
            I32x4LtU => self.v_icmp(I32x4, IntPredicate::ULT)?,
            I32x4GtS => self.v_icmp(I32x4, IntPredicate::SGT)?,
            I32x4GtU => self.v_icmp(I32x4, IntPredicate::UGT)?,
            I32x4LeS => self.v_icmp(I32x4, IntPredicate::SLE)?,
            I32x4LeU => self.v_icmp(I32x4, IntPredicate::ULE)?,
            I32x4GeS => self.v_icmp(I32x4, IntPredicate::SGE)?,
            I32x4GeU => self.v_icmp(I32x4, IntPredicate::UGE)?,
            I64x2Eq => self.v_icmp(I64x2, IntPredicate::EQ)?,
            I64x2Ne => self.v_icmp(I64x2, IntPredicate::NE)?,
            I64x2LtS => self.v_icmp(I64x2, IntPredicate::SLT)?,
            I64x2GtS => self.v_icmp(I64x2, IntPredicate::SGT)?,
            I64x2LeS => self.v_icmp(I64x2, IntPredicate::SLE)?,
            I64x2GeS => self.v_icmp(I64x2, IntPredicate::SGE)?,
            F32x4Eq => self.v_fcmp(F32x4, FloatPredicate::OEQ)?,
            F32x4Ne => self.v_fcmp(F32x4, FloatPredicate::UNE)?,
            F32x4Lt => self.v_fcmp(F32x4, FloatPredicate::OLT)?,
            F32x4Gt => self.v_fcmp(F32x4, FloatPredicate::OGT)?,
            F32x4Le => self.v_fcmp(F32x4, FloatPredicate::OLE)?,
            F32x4Ge => self.v_fcmp(F32x4, FloatPredicate::OGE)?,
            F64x2Eq => self.v_fcmp(F64x2, FloatPredicate::OEQ)?,
            F64x2Ne => self.v_fcmp(F64x2, FloatPredicate::UNE)?,
            F64x2Lt => self.v_fcmp(F64x2, FloatPredicate::OLT)?,
            F64x2Gt => self.v_fcmp(F64x2, FloatPredicate::OGT)?,
            F64x2Le => self.v_fcmp(F64x2, FloatPredicate::OLE)?,
            F64x2Ge => self.v_fcmp(F64x2, FloatPredicate::OGE)?,

            // -- simd: bitwise --
            V128Not => self.v_unary(I64x2, |b, x| b.build_not(x, ""))?,
            V128And => self.v_binary(I64x2, |b, x, y| b.build_and(x, y, ""))?,
            V128AndNot => {
                self.v_binary(I64x2, |b, x, y| b.build_and(x, b.build_not(y, "")?, ""))?
            }
            V128Or => self.v_binary(I64x2, |b, x, y| b.build_or(x, y, ""))?,
            V128Xor => self.v_binary(I64x2, |b, x, y| b.build_xor(x, y, ""))?,
            V128Bitselect => self.v_bitselect()?,
            V128AnyTrue => self.v_any_true()?,
            I8x16AllTrue => self.v_all_true(I8x16)?,
            I16x8AllTrue => self.v_all_true(I16x8)?,
            I32x4AllTrue => self.v_all_true(I32x4)?,
            I64x2AllTrue => self.v_all_true(I64x2)?,
            I8x16Bitmask => self.v_bitmask(I8x16)?,
            I16x8Bitmask => self.v_bitmask(I16x8)?,
            I32x4Bitmask => self.v_bitmask(I32x4)?,
            I64x2Bitmask => self.v_bitmask(I64x2)?,

            // -- simd: integer arithmetic --
            I8x16Abs => self.v_abs(I8x16)?,
            I16x8Abs => self.v_abs(I16x8)?,
            I32x4Abs => self.v_abs(I32x4)?,
            I64x2Abs => self.v_abs(I64x2)?,
            I8x16Neg => self.v_unary(I8x16, |b, x| b.build_int_neg(x, ""))?,
            I16x8Neg => self.v_unary(I16x8, |b, x| b.build_int_neg(x, ""))?,
            I32x4Neg => self.v_unary(I32x4, |b, x| b.build_int_neg(x, ""))?,
            I64x2Neg => self.v_unary(I64x2, |b, x| b.build_int_neg(x, ""))?,
            I8x16Popcnt => self.v_intrinsic(I8x16, "llvm.ctpop", 1)?,
            I8x16Add => self.v_binary(I8x16, |b, x, y| b.build_int_add(x, y, ""))?,
            I16x8Add => self.v_binary(I16x8, |b, x, y| b.build_int_add(x, y, ""))?,
            I32x4Add => self.v_binary(I32x4, |b, x, y| b.build_int_add(x, y, ""))?,
            I64x2Add => self.v_binary(I64x2, |b, x, y| b.build_int_add(x, y, ""))?,
            I8x16Sub => self.v_binary(I8x16, |b, x, y| b.build_int_sub(x, y, ""))?,
            I16x8Sub => self.v_binary(I16x8, |b, x, y| b.build_int_sub(x, y, ""))?,
            I32x4Sub => self.v_binary(I32x4, |b, x, y| b.build_int_sub(x, y, ""))?,
            I64x2Sub => self.v_binary(I64x2, |b, x, y| b.build_int_sub(x, y, ""))?,
            I16x8Mul => self.v_binary(I16x8, |b, x, y| b.build_int_mul(x, y, ""))?,
            I32x4Mul => self.v_binary(I32x4, |b, x, y| b.build_int_mul(x, y, ""))?,
            I64x2Mul => self.v_binary(I64x2, |b, x, y| b.build_int_mul(x, y, ""))?,
            I8x16AddSatS => self.v_intrinsic(I8x16, "llvm.sadd.sat", 2)?,
            I8x16AddSatU => self.v_intrinsic(I8x16, "llvm.uadd.sat", 2)?,
            I8x16SubSatS => self.v_intrinsic(I8x16, "llvm.ssub.sat", 2)?,
            I8x16SubSatU => self.v_intrinsic(I8x16, "llvm.usub.sat", 2)?,
            I16x8AddSatS => self.v_intrinsic(I16x8, "llvm.sadd.sat", 2)?,
            I16x8AddSatU => self.v_intrinsic(I16x8, "llvm.uadd.sat", 2)?,
            I16x8SubSatS => self.v_intrinsic(I16x8, "llvm.ssub.sat", 2)?,
            I16x8SubSatU => self.v_intrinsic(I16x8, "llvm.usub.sat", 2)?,
            I8x16MinS => self.v_intrinsic(I8x16, "llvm.smin", 2)?,
            I8x16MinU => self.v_intrinsic(I8x16, "llvm.umin", 2)?,
            I8x16MaxS => self.v_intrinsic(I8x16, "llvm.smax", 2)?,
            I8x16MaxU => self.v_intrinsic(I8x16, "llvm.umax", 2)?,
            I16x8MinS => self.v_intrinsic(I16x8, "llvm.smin", 2)?,
            I16x8MinU => self.v_intrinsic(I16x8, "llvm.umin", 2)?,
            I16x8MaxS => self.v_intrinsic(I16x8, "llvm.smax", 2)?,
            I16x8MaxU => self.v_intrinsic(I16x8, "llvm.umax", 2)?,
            I32x4MinS => self.v_intrinsic(I32x4, "llvm.smin", 2)?,
            I32x4MinU => self.v_intrinsic(I32x4, "llvm.umin", 2)?,
            I32x4MaxS => self.v_intrinsic(I32x4, "llvm.smax", 2)?,
            I32x4MaxU => self.v_intrinsic(I32x4, "llvm.umax", 2)?,
            I8x16AvgrU => self.v_avgr_u(I8x16)?,
            I16x8AvgrU => self.v_avgr_u(I16x8)?,
            I16x8Q15MulrSatS => self.v_q15mulr_sat()?,
            I32x4DotI16x8S => self.v_dot()?,
            I8x16Shl => self.v_shift(I8x16, |b, x, n| b.build_left_shift(x, n, ""))?,
            I16x8Shl => self.v_shift(I16x8, |b, x, n| b.build_left_shift(x, n, ""))?,
            I32x4Shl => self.v_shift(I32x4, |b, x, n| b.build_left_shift(x, n, ""))?,
            I64x2Shl => self.v_shift(I64x2, |b, x, n| b.build_left_shift(x, n, ""))?,
            I8x16ShrS => self.v_shift(I8x16, |b, x, n| Signed.shift_right(b, x, n))?,
            I16x8ShrS => self.v_shift(I16x8, |b, x, n| Signed.shift_right(b, x, n))?,
            I32x4ShrS => self.v_shift(I32x4, |b, x, n| Signed.shift_right(b, x, n))?,
            I64x2ShrS => self.v_shift(I64x2, |b, x, n| Signed.shift_right(b, x, n))?,
            I8x16ShrU => self.v_shift(I8x16, |b, x, n| Unsigned.shift_right(b, x, n))?,
            I16x8ShrU => self.v_shift(I16x8, |b, x, n| Unsigned.shift_right(b, x, n))?,
            I32x4ShrU => self.v_shift(I32x4, |b, x, n| Unsigned.shift_right(b, x, n))?,
            I64x2ShrU => self.v_shift(I64x2, |b, x, n| Unsigned.shift_right(b, x, n))?,
            I8x16NarrowI16x8S => self.v_narrow(I16x8, Signed)?,
            I8x16NarrowI16x8U => self.v_narrow(I16x8, Unsigned)?,
            I16x8NarrowI32x4S => self.v_narrow(I32x4, Signed)?,
            I16x8NarrowI32x4U => self.v_narrow(I32x4, Unsigned)?,
            I16x8ExtendLowI8x16S => self.v_extend(I8x16, Low, Signed)?,
            I16x8ExtendHighI8x16S => self.v_extend(I8x16, High, Signed)?,
            I16x8ExtendLowI8x16U => self.v_extend(I8x16, Low, Unsigned)?,
            I16x8ExtendHighI8x16U => self.v_extend(I8x16, High, Unsigned)?,
            I32x4ExtendLowI16x8S => self.v_extend(I16x8, Low, Signed)?,
            I32x4ExtendHighI16x8S => self.v_extend(I16x8, High, Signed)?,
            I32x4ExtendLowI16x8U => self.v_extend(I16x8, Low, Unsigned)?,
            I32x4ExtendHighI16x8U => self.v_extend(I16x8, High, Unsigned)?,
            I64x2ExtendLowI32x4S => self.v_extend(I32x4, Low, Signed)?,
            I64x2ExtendHighI32x4S => self.v_extend(I32x4, High, Signed)?,
            I64x2ExtendLowI32x4U => self.v_extend(I32x4, Low, Unsigned)?,
            I64x2ExtendHighI32x4U => self.v_extend(I32x4, High, Unsigned)?,
            I16x8ExtMulLowI8x16S => self.v_extmul(I8x16, Low, Signed)?,
            I16x8ExtMulHighI8x16S => self.v_extmul(I8x16, High, Signed)?,
            I16x8ExtMulLowI8x16U => self.v_extmul(I8x16, Low, Unsigned)?,
            I16x8ExtMulHighI8x16U => self.v_extmul(I8x16, High, Unsigned)?,
            I32x4ExtMulLowI16x8S => self.v_extmul(I16x8, Low, Signed)?,
            I32x4ExtMulHighI16x8S => self.v_extmul(I16x8, High, Signed)?,
            I32x4ExtMulLowI16x8U => self.v_extmul(I16x8, Low, Unsigned)?,
            I32x4ExtMulHighI16x8U => self.v_extmul(I16x8, High, Unsigned)?,
            I64x2ExtMulLowI32x4S => self.v_extmul(I32x4, Low, Signed)?,
            I64x2ExtMulHighI32x4S => self.v_extmul(I32x4, High, Signed)?,
            I64x2ExtMulLowI32x4U => self.v_extmul(I32x4, Low, Unsigned)?,
            I64x2ExtMulHighI32x4U => self.v_extmul(I32x4, High, Unsigned)?,
            I16x8ExtAddPairwiseI8x16S => self.v_extadd_pairwise(I8x16, Signed)?,
            I16x8ExtAddPairwiseI8x16U => self.v_extadd_pairwise(I8x16, Unsigned)?,
            I32x4ExtAddPairwiseI16x8S => self.v_extadd_pairwise(I16x8, Signed)?,
            I32x4ExtAddPairwiseI16x8U => self.v_extadd_pairwise(I16x8, Unsigned)?,

            // -- simd: float arithmetic --
            F32x4Add => self.v_binary(F32x4, |b, x, y| b.build_float_add(x, y, ""))?,
            F64x2Add => self.v_binary(F64x2, |b, x, y| b.build_float_add(x, y, ""))?,
            F32x4Sub => self.v_binary(F32x4, |b, x, y| b.build_float_sub(x, y, ""))?,
            F64x2Sub => self.v_binary(F64x2, |b, x, y| b.build_float_sub(x, y, ""))?,
            F32x4Mul => self.v_binary(F32x4, |b, x, y| b.build_float_mul(x, y, ""))?,
            F64x2Mul => self.v_binary(F64x2, |b, x, y| b.build_float_mul(x, y, ""))?,
            F32x4Div => self.v_binary(F32x4, |b, x, y| b.build_float_div(x, y, ""))?,
            F64x2Div => self.v_binary(F64x2, |b, x, y| b.build_float_div(x, y, ""))?,
            F32x4Neg => self.v_unary(F32x4, |b, x| b.build_float_neg(x, ""))?,
            F64x2Neg => self.v_unary(F64x2, |b, x| b.build_float_neg(x, ""))?,
            F32x4Abs => self.v_intrinsic(F32x4, "llvm.fabs", 1)?,
            F64x2Abs => self.v_intrinsic(F64x2, "llvm.fabs", 1)?,
            F32x4Sqrt => self.v_intrinsic(F32x4, "llvm.sqrt", 1)?,
            F64x2Sqrt => self.v_intrinsic(F64x2, "llvm.sqrt", 1)?,
            F32x4Ceil => self.v_intrinsic(F32x4, "llvm.ceil", 1)?,
            F64x2Ceil => self.v_intrinsic(F64x2, "llvm.ceil", 1)?,
            F32x4Floor => self.v_intrinsic(F32x4, "llvm.floor", 1)?,
            F64x2Floor => self.v_intrinsic(F64x2, "llvm.floor", 1)?,
            F32x4Trunc => self.v_intrinsic(F32x4, "llvm.trunc", 1)?,
            F64x2Trunc => self.v_intrinsic(F64x2, "llvm.trunc", 1)?,
            F32x4Nearest => self.v_intrinsic(F32x4, "llvm.roundeven", 1)?,
            F64x2Nearest => self.v_intrinsic(F64x2, "llvm.roundeven", 1)?,
            F32x4Min => self.v_min_max(F32x4, "llvm.minimum")?,
            F64x2Min => self.v_min_max(F64x2, "llvm.minimum")?,
            F32x4Max => self.v_min_max(F32x4, "llvm.maximum")?,
            F64x2Max => self.v_min_max(F64x2, "llvm.maximum")?,
            F32x4PMin => self.v_pmin_max(F32x4, MinMax::Min)?,
            F64x2PMin => self.v_pmin_max(F64x2, MinMax::Min)?,
            F32x4PMax => self.v_pmin_max(F32x4, MinMax::Max)?,
            F64x2PMax => self.v_pmin_max(F64x2, MinMax::Max)?,

            // -- simd: conversions --
            I32x4TruncSatF32x4S => self.v_trunc_sat(F32x4, Signed)?,
            I32x4TruncSatF32x4U => self.v_trunc_sat(F32x4, Unsigned)?,
            I32x4TruncSatF64x2SZero => self.v_trunc_sat(F64x2, Signed)?,
            I32x4TruncSatF64x2UZero => self.v_trunc_sat(F64x2, Unsigned)?,
            F32x4ConvertI32x4S => self.v_convert(F32x4, Signed)?,
            F32x4ConvertI32x4U => self.v_convert(F32x4, Unsigned)?,
            F64x2ConvertLowI32x4S => self.v_convert(F64x2, Signed)?,
            F64x2ConvertLowI32x4U => self.v_convert(F64x2, Unsigned)?,
            F32x4DemoteF64x2Zero => self.v_demote_zero()?,
            F64x2PromoteLowF32x4 => self.v_promote_low()?,

            // -- not translated (yet) --
            other => return Err(unsupported(feature_of(&other), self.offset)),
        }
        Ok(())
    }
}

/// The non-null reference type to heap type `h`.
fn non_null(h: wasmparser::HeapType) -> wasmparser::RefType {
    wasmparser::RefType::new(false, h).unwrap_or(wasmparser::RefType::ANYREF)
}

/// The nullable reference type to heap type `h`.
fn nullable(h: wasmparser::HeapType) -> wasmparser::RefType {
    wasmparser::RefType::new(true, h).unwrap_or(wasmparser::RefType::ANYREF)
}

/// Whether a call operator is a tail call (`return_call*`).
fn call_kind(op: &Operator<'_>) -> CallKind {
    match op {
        Operator::ReturnCall { .. }
        | Operator::ReturnCallIndirect { .. }
        | Operator::ReturnCallRef { .. } => CallKind::Tail,
        _ => CallKind::Normal,
    }
}

/// A name for an operator this compiler does not translate: its proposal where it is
/// obvious, the operator otherwise.
fn feature_of(op: &Operator<'_>) -> String {
    let name = format!("{op:?}");
    let name = name
        .split([' ', '{', '('])
        .next()
        .unwrap_or_default()
        .to_string();
    if name.starts_with("V128")
        || name.starts_with("I8x16")
        || name.starts_with("I16x8")
        || name.starts_with("I32x4")
        || name.starts_with("I64x2")
        || name.starts_with("F32x4")
        || name.starts_with("F64x2")
    {
        format!("simd ({name})")
    } else if name.contains("Atomic") {
        format!("threads ({name})")
    } else {
        format!("operator {name}")
    }
}
