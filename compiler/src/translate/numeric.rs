//! Scalar numeric operators: integer and float arithmetic, comparisons, conversions and
//! constants, in generic shapes (binary operator, comparison, intrinsic, conversion).
//!
//! Semantics are Wasm's, never LLVM's: operators whose LLVM counterpart has undefined or
//! poison results for some inputs (division, shifts, `ctlz`, float-to-int) are guarded or
//! replaced by a well-defined form, and float identities cannot fold a signalling NaN away.

use hako_abi::trap::TrapCode;
use inkwell::builder::Builder;
use inkwell::types::{BasicTypeEnum, IntType};
use inkwell::values::{BasicValueEnum, FloatValue, IntValue};
use inkwell::{FloatPredicate, IntPredicate};

use super::{BResult, DivOp, FuncTranslator, Signed, Signedness, Unsigned};
use crate::error::{internal, Result};

impl<'ctx> FuncTranslator<'_, 'ctx, '_> {
    // ---- generic operator shapes ----

    pub(super) fn ibin(
        &mut self,
        f: impl FnOnce(&Builder<'ctx>, IntValue<'ctx>, IntValue<'ctx>) -> BResult<IntValue<'ctx>>,
    ) -> Result<()> {
        let y = self.stack.pop_int()?;
        let x = self.stack.pop_int()?;
        let r = f(self.b(), x, y)?;
        self.stack.push(r);
        Ok(())
    }

    pub(super) fn icmp(&mut self, pred: IntPredicate) -> Result<()> {
        let y = self.stack.pop_int()?;
        let x = self.stack.pop_int()?;
        let c = self.b().build_int_compare(pred, x, y, "")?;
        self.push_bool(c)
    }

    pub(super) fn eqz(&mut self) -> Result<()> {
        let x = self.stack.pop_int()?;
        let c = self
            .b()
            .build_int_compare(IntPredicate::EQ, x, x.get_type().const_zero(), "")?;
        self.push_bool(c)
    }

    pub(super) fn push_bool(&mut self, c: IntValue<'ctx>) -> Result<()> {
        let v = self.b().build_int_z_extend(c, self.cx().i32, "")?;
        self.stack.push(v);
        Ok(())
    }

    pub(super) fn fbin(
        &mut self,
        f: impl FnOnce(&Builder<'ctx>, FloatValue<'ctx>, FloatValue<'ctx>) -> BResult<FloatValue<'ctx>>,
    ) -> Result<()> {
        let y = self.stack.pop_float()?;
        let x = self.stack.pop_float()?;
        let (x, y) = (self.opaque_identity(x)?, self.opaque_identity(y)?);
        let r = f(self.b(), x, y)?;
        self.stack.push(r);
        Ok(())
    }

    /// An immediate operand of a float operator that is an identity of some operator (±0,
    /// ±1), passed through an empty inline-asm copy that LLVM cannot see through. LLVM folds
    /// `x * 1.0`, `x / 1.0`, `x + -0.0`, `x - 0.0` to `x` (and `x * -1.0`, `-0.0 - x` to
    /// `-x`) even when `x` is a signalling NaN, which Wasm requires to come out quiet; with
    /// the constant opaque the instruction stays and the CPU quiets the NaN. The asm emits no
    /// instruction: the constant is only kept in a register rather than folded into a
    /// memory operand. A constant LLVM derives itself (a local that always holds 1.0) can
    /// still be folded: see the known gap in the README.
    pub(super) fn opaque_identity(&self, v: FloatValue<'ctx>) -> Result<FloatValue<'ctx>> {
        let Some(c) = float_constant(v) else {
            return Ok(v);
        };
        if c != 0.0 && c.abs() != 1.0 {
            return Ok(v);
        }
        let ty = v.get_type();
        let fn_ty = ty.fn_type(&[ty.into()], false);
        let asm = self.cx().llcx.create_inline_asm(
            fn_ty,
            String::new(),
            "=x,0".to_string(),
            false,
            false,
            None,
            false,
        );
        let r = self
            .b()
            .build_indirect_call(fn_ty, asm, &[v.into()], "")?
            .try_as_basic_value()
            .basic()
            .ok_or_else(|| internal("inline asm without result"))?;
        Ok(r.into_float_value())
    }

    pub(super) fn fcmp(&mut self, pred: FloatPredicate) -> Result<()> {
        let y = self.stack.pop_float()?;
        let x = self.stack.pop_float()?;
        let c = self.b().build_float_compare(pred, x, y, "")?;
        self.push_bool(c)
    }

    /// Calls an overloaded intrinsic on the top `n` operands (overloaded on their type),
    /// with `extra` constant arguments appended.
    pub(super) fn intrinsic(
        &mut self,
        name: &str,
        n: usize,
        extra: &[BasicValueEnum<'ctx>],
    ) -> Result<()> {
        let mut args = self.stack.pop_n(n)?;
        let ty = args
            .first()
            .ok_or_else(|| internal("intrinsic without operands"))?
            .get_type();
        args.extend_from_slice(extra);
        let f = self.cx().intrinsic(name, &[ty])?;
        let args: Vec<_> = args.into_iter().map(Into::into).collect();
        let r = self.b().build_call(f, &args, "")?;
        let r = r
            .try_as_basic_value()
            .basic()
            .ok_or_else(|| internal("intrinsic without result"))?;
        self.stack.push(r);
        Ok(())
    }

    /// `min`/`max`: IEEE 754-2019 minimum/maximum (NaN-propagating, -0 < +0), except that a
    /// NaN result must be *quiet* in Wasm, while `llvm.minimum` may hand back a signalling
    /// NaN operand as it is. When either operand is NaN the result is `x + y` instead, a quiet
    /// NaN carrying an operand's payload (an arithmetic NaN; canonical when the NaN operands
    /// are canonical), which is what the spec allows.
    pub(super) fn min_max(&mut self, name: &str) -> Result<()> {
        let y = self.stack.pop_float()?;
        let x = self.stack.pop_float()?;
        let (x, y) = (self.opaque_identity(x)?, self.opaque_identity(y)?);
        let f = self.cx().intrinsic(name, &[x.get_type().into()])?;
        let r = self
            .b()
            .build_call(f, &[x.into(), y.into()], "")?
            .try_as_basic_value()
            .basic()
            .ok_or_else(|| internal("intrinsic without result"))?
            .into_float_value();
        let unordered = self
            .b()
            .build_float_compare(FloatPredicate::UNO, x, y, "")?;
        let quiet = self.b().build_float_add(x, y, "")?;
        let v = self.b().build_select(unordered, quiet, r, "")?;
        self.stack.push(v);
        Ok(())
    }

    /// `clz`/`ctz`: defined (the bit width) for zero, unlike LLVM's default.
    pub(super) fn count_zeros(&mut self, name: &str) -> Result<()> {
        let no_poison = self.cx().llcx.bool_type().const_zero().into();
        self.intrinsic(name, 1, &[no_poison])
    }

    /// Shifts take the count modulo the bit width.
    pub(super) fn shift(
        &mut self,
        f: impl FnOnce(&Builder<'ctx>, IntValue<'ctx>, IntValue<'ctx>) -> BResult<IntValue<'ctx>>,
    ) -> Result<()> {
        let y = self.stack.pop_int()?;
        let x = self.stack.pop_int()?;
        let ty = x.get_type();
        let mask = ty.const_int(u64::from(ty.get_bit_width() - 1), false);
        let y = self.b().build_and(y, mask, "")?;
        let r = f(self.b(), x, y)?;
        self.stack.push(r);
        Ok(())
    }

    /// Rotates are funnel shifts of a value with itself (the count is taken modulo the width).
    /// `rotl`/`rotr` as `(x << n) | (x >> (-n mod w))` (the other way round for `rotr`),
    /// amounts masked to the width, rather than LLVM's funnel-shift intrinsics: FastISel
    /// (`-O0`, and the quick parts of large modules) does not lower those and hands the rest
    /// of the block to SelectionDAG; `instcombine` turns the shifts back into a rotate.
    pub(super) fn rotate(&mut self, left: bool) -> Result<()> {
        let y = self.stack.pop_int()?;
        let x = self.stack.pop_int()?;
        let ty = x.get_type();
        let mask = ty.const_int(u64::from(ty.get_bit_width() - 1), false);
        let b = self.b();
        let n = b.build_and(y, mask, "")?;
        let m = b.build_and(b.build_int_neg(y, "")?, mask, "")?;
        let (l, r) = if left { (n, m) } else { (m, n) };
        let high = b.build_left_shift(x, l, "")?;
        let low = b.build_right_shift(x, r, false, "")?;
        let v = b.build_or(high, low, "")?;
        self.stack.push(v);
        Ok(())
    }

    pub(super) fn div_rem(&mut self, signedness: Signedness, op: DivOp) -> Result<()> {
        let y = self.stack.pop_int()?;
        let x = self.stack.pop_int()?;
        let ty = x.get_type();
        let is_zero = self
            .b()
            .build_int_compare(IntPredicate::EQ, y, ty.const_zero(), "")?;
        self.env.trap_if(is_zero, TrapCode::IntegerDivideByZero)?;
        let minus_one = ty.const_all_ones();
        let b = self.b();
        let r = match (signedness, op) {
            (Unsigned, DivOp::Quotient) => b.build_int_unsigned_div(x, y, "")?,
            (Unsigned, DivOp::Remainder) => b.build_int_unsigned_rem(x, y, "")?,
            (Signed, DivOp::Quotient) => {
                let min = ty.const_int(1u64 << (ty.get_bit_width() - 1), false);
                let x_min = b.build_int_compare(IntPredicate::EQ, x, min, "")?;
                let y_m1 = b.build_int_compare(IntPredicate::EQ, y, minus_one, "")?;
                let overflow = b.build_and(x_min, y_m1, "")?;
                self.env.trap_if(overflow, TrapCode::IntegerOverflow)?;
                self.b().build_int_signed_div(x, y, "")?
            }
            (Signed, DivOp::Remainder) => {
                // x rem_s -1 is 0 in Wasm, but srem overflows for INT_MIN: divide by 1 instead.
                let y_m1 = b.build_int_compare(IntPredicate::EQ, y, minus_one, "")?;
                let y = b
                    .build_select(y_m1, ty.const_int(1, false), y, "")?
                    .into_int_value();
                b.build_int_signed_rem(x, y, "")?
            }
        };
        self.stack.push(r);
        Ok(())
    }

    /// Trapping float-to-int conversion: NaN is an invalid conversion, anything whose
    /// truncation does not fit is an overflow. The bounds are exact in the source type.
    pub(super) fn trunc_trap(&mut self, signedness: Signedness, int: IntType<'ctx>) -> Result<()> {
        let x = self.stack.pop_float()?;
        let fty = x.get_type();
        let is_f32 = fty == self.cx().f32;
        let bits = int.get_bit_width();
        let isnan = self
            .b()
            .build_float_compare(FloatPredicate::UNO, x, x, "")?;
        self.env
            .trap_if(isnan, TrapCode::InvalidConversionToInteger)?;
        // `x` fits when `x <lo_cmp> lo` and `x < hi`. `lo` is the integer minimum, included
        // (`OGE`), or, where the source type holds values between the minimum and one below
        // it (which truncate to the minimum), the minimum minus one, excluded (`OGT`).
        let (lo_cmp, lo, hi) = match (signedness, bits, is_f32) {
            (Signed, 32, true) => (FloatPredicate::OGE, -2147483648.0, 2147483648.0),
            (Signed, 32, false) => (FloatPredicate::OGT, -2147483649.0, 2147483648.0),
            (Signed, _, _) => (
                FloatPredicate::OGE,
                -9223372036854775808.0,
                9223372036854775808.0,
            ),
            (Unsigned, 32, _) => (FloatPredicate::OGT, -1.0, 4294967296.0),
            (Unsigned, _, _) => (FloatPredicate::OGT, -1.0, 18446744073709551616.0),
        };
        let b = self.b();
        let lo_ok = b.build_float_compare(lo_cmp, x, fty.const_float(lo), "")?;
        let hi_ok = b.build_float_compare(FloatPredicate::OLT, x, fty.const_float(hi), "")?;
        let ok = b.build_and(lo_ok, hi_ok, "")?;
        let overflow = b.build_not(ok, "")?;
        self.env.trap_if(overflow, TrapCode::IntegerOverflow)?;
        let r = match signedness {
            Signed => self.b().build_float_to_signed_int(x, int, "")?,
            Unsigned => self.b().build_float_to_unsigned_int(x, int, "")?,
        };
        self.stack.push(r);
        Ok(())
    }

    /// Saturating float-to-int conversion (`llvm.fpto[su]i.sat` has exactly Wasm's semantics:
    /// NaN gives 0, out of range clamps).
    pub(super) fn trunc_sat(&mut self, signedness: Signedness, int: IntType<'ctx>) -> Result<()> {
        let x = self.stack.pop_float()?;
        let name = match signedness {
            Signed => "llvm.fptosi.sat",
            Unsigned => "llvm.fptoui.sat",
        };
        let f = self
            .cx()
            .intrinsic(name, &[int.into(), x.get_type().into()])?;
        let r = self.b().build_call(f, &[x.into()], "")?;
        let r = r
            .try_as_basic_value()
            .basic()
            .ok_or_else(|| internal("intrinsic without result"))?;
        self.stack.push(r);
        Ok(())
    }

    pub(super) fn cvt_int(
        &mut self,
        f: impl FnOnce(&Builder<'ctx>, IntValue<'ctx>) -> BResult<BasicValueEnum<'ctx>>,
    ) -> Result<()> {
        let x = self.stack.pop_int()?;
        let r = f(self.b(), x)?;
        self.stack.push(r);
        Ok(())
    }

    pub(super) fn cvt_float(
        &mut self,
        f: impl FnOnce(&Builder<'ctx>, FloatValue<'ctx>) -> BResult<BasicValueEnum<'ctx>>,
    ) -> Result<()> {
        let x = self.stack.pop_float()?;
        let r = f(self.b(), x)?;
        self.stack.push(r);
        Ok(())
    }

    /// `iN.extendM_s`: sign-extend the low `from` bits in place.
    pub(super) fn sign_extend_low(&mut self, from: IntType<'ctx>) -> Result<()> {
        let x = self.stack.pop_int()?;
        let low = self.b().build_int_truncate(x, from, "")?;
        let r = self.b().build_int_s_extend(low, x.get_type(), "")?;
        self.stack.push(r);
        Ok(())
    }

    pub(super) fn bitcast(&mut self, to: BasicTypeEnum<'ctx>) -> Result<()> {
        let x = self.stack.pop()?;
        let r = self.b().build_bit_cast(x, to, "")?;
        self.stack.push(r);
        Ok(())
    }

    pub(super) fn select(&mut self) -> Result<()> {
        let c = self.stack.pop_int()?;
        let y = self.stack.pop()?;
        let x = self.stack.pop()?;
        let c = self.truthy(c)?;
        let r = self.b().build_select(c, x, y, "")?;
        self.stack.push(r);
        Ok(())
    }

    pub(super) fn f32_const(&self, bits: u32) -> Result<BasicValueEnum<'ctx>> {
        Ok(self.b().build_bit_cast(
            self.cx().i32.const_int(u64::from(bits), false),
            self.cx().f32,
            "",
        )?)
    }

    pub(super) fn f64_const(&self, bits: u64) -> Result<BasicValueEnum<'ctx>> {
        Ok(self
            .b()
            .build_bit_cast(self.cx().i64.const_int(bits, false), self.cx().f64, "")?)
    }
}

/// The value of `v` if it is a float constant (`ConstantFP`). Other constants (the `poison`
/// an operation that always traps leaves behind, constant expressions) are not: inkwell's
/// `get_constant` hands any constant to `LLVMConstRealGetDouble`, which crashes on them
/// (found by `hako fuzz`: `f64.convert_i64_s (i64.trunc_f32_u (f32.const -0x1p65))`, then
/// `f64.add`).
fn float_constant(v: FloatValue<'_>) -> Option<f64> {
    use inkwell::values::AsValueRef;
    // SAFETY: `LLVMIsAConstantFP` only reads the kind of a valid value (`v` is one, owned by
    // its context for `'ctx`) and returns null when it is not a `ConstantFP`.
    let is_fp = unsafe { !inkwell::llvm_sys::core::LLVMIsAConstantFP(v.as_value_ref()).is_null() };
    if is_fp {
        v.get_constant().map(|(c, _)| c)
    } else {
        None
    }
}
