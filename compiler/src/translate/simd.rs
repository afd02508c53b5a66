//! The helpers behind the dispatcher's SIMD (`v128`) arms.
//!
//! A `v128` is one canonical LLVM type everywhere (operand stack, locals, globals, phis,
//! signatures): `<2 x i64>` (`ModuleCtx::v128`). Each operator bitcasts its operands to its
//! lane shape (`<16 x i8>` ... `<2 x double>`), works on LLVM vector values and bitcasts the
//! result back; the casts are free, so LLVM selects the SSE/AVX instruction of each
//! operation. Where LLVM's generic operation differs from Wasm's (out-of-range swizzle
//! indices, shift counts, float `min`/`max` NaNs, saturation), the exact form is emitted.
//!
//! Naming: every helper the dispatcher calls is `v_<operation>` (`v_binary`, `v_icmp`,
//! `v_extend`, `v_load_lane`, ...); the building blocks they share are named for what they
//! do to lanes (`lanes_type`, `pop_lanes`, `push_v128`, `splat_int_const`, `half`).

use inkwell::types::VectorType;
use inkwell::values::{BasicMetadataValueEnum, VectorValue};

use super::*;

/// The lane interpretation of a `v128` an operator works on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Shape {
    I8x16,
    I16x8,
    I32x4,
    I64x2,
    F32x4,
    F64x2,
}

use Shape::*;

/// Which half of a vector's lanes an operator takes (`_low`/`_high`); lane 0 is in the low
/// half.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Half {
    Low,
    High,
}

pub(super) use Half::{High, Low};

/// Which of a pair of operators (`pmin`/`pmax`) a helper translates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum MinMax {
    Min,
    Max,
}

impl Shape {
    fn lanes(self) -> u32 {
        match self {
            I8x16 => 16,
            I16x8 => 8,
            I32x4 | F32x4 => 4,
            I64x2 | F64x2 => 2,
        }
    }

    fn lane_bits(self) -> u32 {
        128 / self.lanes()
    }

    /// The integer shape of the same lanes (what a comparison produces).
    fn int(self) -> Shape {
        match self {
            F32x4 => I32x4,
            F64x2 => I64x2,
            s => s,
        }
    }

    /// Half as many lanes, twice as wide (the result of extending half of `self`).
    fn widened(self) -> Result<Shape> {
        Ok(match self {
            I8x16 => I16x8,
            I16x8 => I32x4,
            I32x4 => I64x2,
            F32x4 => F64x2,
            _ => return Err(internal("no wider lane shape")),
        })
    }
}

impl<'c, 'ctx, 'a> FuncTranslator<'c, 'ctx, 'a> {
    // ---- types, casts and constants ----

    fn lanes_type(&self, s: Shape) -> VectorType<'ctx> {
        let cx = self.cx();
        match s {
            I8x16 => cx.i8.vec_type(16),
            I16x8 => cx.llcx.i16_type().vec_type(8),
            I32x4 => cx.i32.vec_type(4),
            I64x2 => cx.v128,
            F32x4 => cx.f32.vec_type(4),
            F64x2 => cx.f64.vec_type(2),
        }
    }

    /// The integer type of `bits` bits.
    fn int_type(&self, bits: u32) -> Result<IntType<'ctx>> {
        let bits = core::num::NonZeroU32::new(bits).ok_or_else(|| internal("zero-bit integer"))?;
        self.cx()
            .llcx
            .custom_width_int_type(bits)
            .map_err(|e| internal(format!("integer type: {e}")))
    }

    /// The vector of `n` integer lanes of `bits` bits.
    fn int_lanes_type(&self, bits: u32, n: u32) -> Result<VectorType<'ctx>> {
        Ok(self.int_type(bits)?.vec_type(n))
    }

    fn cast_lanes(&self, v: VectorValue<'ctx>, s: Shape) -> Result<VectorValue<'ctx>> {
        Ok(self
            .b()
            .build_bit_cast(v, self.lanes_type(s), "")?
            .into_vector_value())
    }

    /// Pops a `v128` as lanes of shape `s`.
    fn pop_lanes(&mut self, s: Shape) -> Result<VectorValue<'ctx>> {
        let v = self.stack.pop_v128()?;
        self.cast_lanes(v, s)
    }

    /// Pushes any 128-bit vector as a `v128`.
    fn push_v128(&mut self, v: VectorValue<'ctx>) -> Result<()> {
        let r = self.b().build_bit_cast(v, self.cx().v128, "")?;
        self.stack.push(r);
        Ok(())
    }

    pub(super) fn v_const(&mut self, bits: u128) {
        let i64 = self.cx().i64;
        let v = VectorType::const_vector(&[
            i64.const_int(bits as u64, false),
            i64.const_int((bits >> 64) as u64, false),
        ]);
        self.stack.push(v);
    }

    /// A constant shuffle mask.
    fn mask(&self, lanes: impl IntoIterator<Item = u32>) -> VectorValue<'ctx> {
        let i32 = self.cx().i32;
        let lanes: Vec<_> = lanes
            .into_iter()
            .map(|l| i32.const_int(u64::from(l), false))
            .collect();
        VectorType::const_vector(&lanes)
    }

    /// The integer vector of type `ty` with every lane `value`.
    fn splat_int_const(&self, ty: VectorType<'ctx>, value: u64) -> VectorValue<'ctx> {
        let lane = ty.get_element_type().into_int_type();
        let lanes: Vec<_> = (0..ty.get_size())
            .map(|_| lane.const_int(value, true))
            .collect();
        VectorType::const_vector(&lanes)
    }

    /// The float vector of type `ty` with every lane `value`.
    fn splat_float_const(&self, ty: VectorType<'ctx>, value: f64) -> VectorValue<'ctx> {
        let lane = ty.get_element_type().into_float_type();
        let lanes: Vec<_> = (0..ty.get_size())
            .map(|_| lane.const_float(value))
            .collect();
        VectorType::const_vector(&lanes)
    }

    fn shuffle(
        &self,
        x: VectorValue<'ctx>,
        y: VectorValue<'ctx>,
        lanes: impl IntoIterator<Item = u32>,
    ) -> Result<VectorValue<'ctx>> {
        Ok(self.b().build_shuffle_vector(x, y, self.mask(lanes), "")?)
    }

    /// The low or high half of the lanes of `v`.
    fn half(&self, v: VectorValue<'ctx>, half: Half) -> Result<VectorValue<'ctx>> {
        let n = v.get_type().get_size();
        let start = match half {
            Low => 0,
            High => n / 2,
        };
        self.shuffle(v, v.get_type().get_poison(), start..start + n / 2)
    }

    /// Every other lane of `v`, starting at `first` (0: the even lanes, 1: the odd ones).
    fn every_other(&self, v: VectorValue<'ctx>, first: u32) -> Result<VectorValue<'ctx>> {
        let n = v.get_type().get_size();
        self.shuffle(v, v.get_type().get_poison(), (first..n).step_by(2))
    }

    /// `v` (half a `v128`) with zero lanes appended up to 128 bits.
    fn zero_extend_lanes(&self, v: VectorValue<'ctx>) -> Result<VectorValue<'ctx>> {
        let n = v.get_type().get_size();
        self.shuffle(v, v.get_type().const_zero(), 0..2 * n)
    }

    fn extend(
        &self,
        v: VectorValue<'ctx>,
        to: VectorType<'ctx>,
        signedness: Signedness,
    ) -> Result<VectorValue<'ctx>> {
        Ok(match signedness {
            Signed => self.b().build_int_s_extend(v, to, "")?,
            Unsigned => self.b().build_int_z_extend(v, to, "")?,
        })
    }

    /// `x` extended to lanes twice as wide.
    fn extend_wide(
        &self,
        x: VectorValue<'ctx>,
        signedness: Signedness,
    ) -> Result<VectorValue<'ctx>> {
        let ty = x.get_type();
        let bits = ty.get_element_type().into_int_type().get_bit_width();
        self.extend(x, self.int_lanes_type(2 * bits, ty.get_size())?, signedness)
    }

    fn call_intrinsic(
        &self,
        name: &str,
        types: &[BasicTypeEnum<'ctx>],
        args: &[BasicValueEnum<'ctx>],
    ) -> Result<BasicValueEnum<'ctx>> {
        let f = self.cx().intrinsic(name, types)?;
        let args: Vec<BasicMetadataValueEnum> = args.iter().map(|a| (*a).into()).collect();
        self.b()
            .build_call(f, &args, "")?
            .try_as_basic_value()
            .basic()
            .ok_or_else(|| internal("intrinsic without result"))
    }

    /// A lane-wise intrinsic overloaded on the vector type of its operands.
    fn call_lanewise(
        &self,
        name: &str,
        args: &[VectorValue<'ctx>],
        extra: &[BasicValueEnum<'ctx>],
    ) -> Result<VectorValue<'ctx>> {
        let ty = args
            .first()
            .ok_or_else(|| internal("intrinsic without operands"))?
            .get_type();
        let mut all: Vec<BasicValueEnum> = args.iter().map(|a| (*a).into()).collect();
        all.extend_from_slice(extra);
        Ok(self
            .call_intrinsic(name, &[ty.into()], &all)?
            .into_vector_value())
    }

    /// A scalar operand as a lane of `s` (`i32` operands of 8- and 16-bit lanes truncated).
    fn lane_scalar(&self, s: Shape, x: BasicValueEnum<'ctx>) -> Result<BasicValueEnum<'ctx>> {
        let lane = self.lanes_type(s).get_element_type();
        Ok(match (x, lane) {
            (BasicValueEnum::IntValue(i), BasicTypeEnum::IntType(t))
                if i.get_type().get_bit_width() > t.get_bit_width() =>
            {
                self.b().build_int_truncate(i, t, "")?.into()
            }
            _ => x,
        })
    }

    fn splat_value(&self, s: Shape, x: BasicValueEnum<'ctx>) -> Result<VectorValue<'ctx>> {
        let ty = self.lanes_type(s);
        let zero = self.cx().i32.const_zero();
        let v = self
            .b()
            .build_insert_element(ty.get_poison(), x, zero, "")?;
        self.shuffle(v, ty.get_poison(), (0..s.lanes()).map(|_| 0))
    }

    fn lane_index(&self, lane: u8) -> IntValue<'ctx> {
        self.cx().i32.const_int(u64::from(lane), false)
    }

    // ---- generic operator shapes ----

    pub(super) fn v_unary(
        &mut self,
        s: Shape,
        f: impl FnOnce(&Builder<'ctx>, VectorValue<'ctx>) -> BResult<VectorValue<'ctx>>,
    ) -> Result<()> {
        let x = self.pop_lanes(s)?;
        let r = f(self.b(), x)?;
        self.push_v128(r)
    }

    pub(super) fn v_binary(
        &mut self,
        s: Shape,
        f: impl FnOnce(
            &Builder<'ctx>,
            VectorValue<'ctx>,
            VectorValue<'ctx>,
        ) -> BResult<VectorValue<'ctx>>,
    ) -> Result<()> {
        let y = self.pop_lanes(s)?;
        let x = self.pop_lanes(s)?;
        let r = f(self.b(), x, y)?;
        self.push_v128(r)
    }

    /// A lane-wise intrinsic on the top `n` operands of shape `s`.
    pub(super) fn v_intrinsic(&mut self, s: Shape, name: &str, n: usize) -> Result<()> {
        let mut args = Vec::with_capacity(n);
        for _ in 0..n {
            args.push(self.pop_lanes(s)?);
        }
        args.reverse();
        let r = self.call_lanewise(name, &args, &[])?;
        self.push_v128(r)
    }

    /// `abs` (of the minimum integer: itself, not poison).
    pub(super) fn v_abs(&mut self, s: Shape) -> Result<()> {
        let x = self.pop_lanes(s)?;
        let no_poison = self.cx().llcx.bool_type().const_zero().into();
        let r = self.call_lanewise("llvm.abs", &[x], &[no_poison])?;
        self.push_v128(r)
    }

    /// A comparison: all ones in the lanes where it holds.
    pub(super) fn v_icmp(&mut self, s: Shape, pred: IntPredicate) -> Result<()> {
        let y = self.pop_lanes(s)?;
        let x = self.pop_lanes(s)?;
        let c = self.b().build_int_compare(pred, x, y, "")?;
        let r = self.b().build_int_s_extend(c, self.lanes_type(s), "")?;
        self.push_v128(r)
    }

    pub(super) fn v_fcmp(&mut self, s: Shape, pred: FloatPredicate) -> Result<()> {
        let y = self.pop_lanes(s)?;
        let x = self.pop_lanes(s)?;
        let c = self.b().build_float_compare(pred, x, y, "")?;
        let r = self
            .b()
            .build_int_s_extend(c, self.lanes_type(s.int()), "")?;
        self.push_v128(r)
    }

    /// Shifts take the (scalar) count modulo the lane width.
    pub(super) fn v_shift(
        &mut self,
        s: Shape,
        f: impl FnOnce(
            &Builder<'ctx>,
            VectorValue<'ctx>,
            VectorValue<'ctx>,
        ) -> BResult<VectorValue<'ctx>>,
    ) -> Result<()> {
        let n = self.stack.pop_int()?;
        let x = self.pop_lanes(s)?;
        let mask = n.get_type().const_int(u64::from(s.lane_bits() - 1), false);
        let n = self.b().build_and(n, mask, "")?;
        let lane = self.lanes_type(s).get_element_type().into_int_type();
        let n = self
            .b()
            .build_int_cast_sign_flag(n, lane, Unsigned.is_signed(), "")?;
        let n = self.splat_value(s, n.into())?;
        let r = f(self.b(), x, n)?;
        self.push_v128(r)
    }

    // ---- lanes ----

    pub(super) fn v_splat(&mut self, s: Shape) -> Result<()> {
        let x = self.stack.pop()?;
        let x = self.lane_scalar(s, x)?;
        let v = self.splat_value(s, x)?;
        self.push_v128(v)
    }

    /// `extract_lane`, extending 8- and 16-bit lanes to `i32` (sign- or zero-extended) when
    /// `ext`.
    pub(super) fn v_extract_lane(
        &mut self,
        s: Shape,
        lane: u8,
        ext: Option<Signedness>,
    ) -> Result<()> {
        let v = self.pop_lanes(s)?;
        let x = self
            .b()
            .build_extract_element(v, self.lane_index(lane), "")?;
        let x = match ext {
            None => x,
            Some(signedness) => {
                let i32 = self.cx().i32;
                self.b()
                    .build_int_cast_sign_flag(x.into_int_value(), i32, signedness.is_signed(), "")?
                    .into()
            }
        };
        self.stack.push(x);
        Ok(())
    }

    pub(super) fn v_replace_lane(&mut self, s: Shape, lane: u8) -> Result<()> {
        let x = self.stack.pop()?;
        let x = self.lane_scalar(s, x)?;
        let v = self.pop_lanes(s)?;
        let r = self
            .b()
            .build_insert_element(v, x, self.lane_index(lane), "")?;
        self.push_v128(r)
    }

    pub(super) fn v_shuffle(&mut self, lanes: [u8; 16]) -> Result<()> {
        let y = self.pop_lanes(I8x16)?;
        let x = self.pop_lanes(I8x16)?;
        let r = self.shuffle(x, y, lanes.iter().map(|l| u32::from(*l)))?;
        self.push_v128(r)
    }

    /// `swizzle`: lane `i` is `v[idx[i]]`, or 0 when `idx[i] >= 16`. Written as a variable
    /// permute (extracting with the index masked to 4 bits) and a select of the in-range
    /// lanes; x86 instruction selection turns the permute into one `pshufb` with SSSE3 (and
    /// a correct sequence without), where the `llvm.x86.ssse3.pshuf.b.128` intrinsic would
    /// abort code generation for a CPU without SSSE3.
    pub(super) fn v_swizzle(&mut self) -> Result<()> {
        let idx = self.pop_lanes(I8x16)?;
        let v = self.pop_lanes(I8x16)?;
        let ty = self.lanes_type(I8x16);
        let b = self.b();
        let masked = b.build_and(idx, self.splat_int_const(ty, 15), "")?;
        let mut r = ty.get_poison();
        for lane in 0..16 {
            let at = self.lane_index(lane);
            let i = b.build_extract_element(masked, at, "")?.into_int_value();
            let x = b.build_extract_element(v, i, "")?;
            r = b.build_insert_element(r, x, at, "")?;
        }
        let in_range =
            b.build_int_compare(IntPredicate::ULT, idx, self.splat_int_const(ty, 16), "")?;
        let r = b
            .build_select(in_range, r, ty.const_zero(), "")?
            .into_vector_value();
        self.push_v128(r)
    }

    // ---- bitwise and boolean reductions ----

    pub(super) fn v_bitselect(&mut self) -> Result<()> {
        let c = self.pop_lanes(I64x2)?;
        let y = self.pop_lanes(I64x2)?;
        let x = self.pop_lanes(I64x2)?;
        let b = self.b();
        let nc = b.build_not(c, "")?;
        let x = b.build_and(x, c, "")?;
        let y = b.build_and(y, nc, "")?;
        let r = b.build_or(x, y, "")?;
        self.push_v128(r)
    }

    pub(super) fn v_any_true(&mut self) -> Result<()> {
        let v = self.stack.pop_v128()?;
        let i128 = self.cx().llcx.i128_type();
        let bits = self.b().build_bit_cast(v, i128, "")?.into_int_value();
        let c = self
            .b()
            .build_int_compare(IntPredicate::NE, bits, i128.const_zero(), "")?;
        self.push_bool(c)
    }

    /// The lanes of `v` for which `pred(lane, 0)` holds, as an `N`-bit integer (lane 0 in
    /// the lowest bit).
    fn lane_bits_where(&self, v: VectorValue<'ctx>, pred: IntPredicate) -> Result<IntValue<'ctx>> {
        let c = self
            .b()
            .build_int_compare(pred, v, v.get_type().const_zero(), "")?;
        let n = v.get_type().get_size();
        let int = self.int_type(n)?;
        Ok(self.b().build_bit_cast(c, int, "")?.into_int_value())
    }

    pub(super) fn v_all_true(&mut self, s: Shape) -> Result<()> {
        let v = self.pop_lanes(s)?;
        let zeros = self.lane_bits_where(v, IntPredicate::EQ)?;
        let c = self.b().build_int_compare(
            IntPredicate::EQ,
            zeros,
            zeros.get_type().const_zero(),
            "",
        )?;
        self.push_bool(c)
    }

    pub(super) fn v_bitmask(&mut self, s: Shape) -> Result<()> {
        let v = self.pop_lanes(s)?;
        let bits = self.lane_bits_where(v, IntPredicate::SLT)?;
        let r = self.b().build_int_z_extend(bits, self.cx().i32, "")?;
        self.stack.push(r);
        Ok(())
    }

    // ---- integer arithmetic ----

    /// `narrow`: the lanes of both operands, saturated to half their width (signed, or
    /// unsigned from signed input).
    pub(super) fn v_narrow(&mut self, from: Shape, signedness: Signedness) -> Result<()> {
        let y = self.pop_lanes(from)?;
        let x = self.pop_lanes(from)?;
        let n = from.lanes();
        let both = self.shuffle(x, y, 0..2 * n)?;
        let half = from.lane_bits() / 2;
        let (lo, hi) = match signedness {
            Signed => ((-1i64 << (half - 1)) as u64, (1u64 << (half - 1)) - 1),
            Unsigned => (0, (1u64 << half) - 1),
        };
        let ty = both.get_type();
        let both = self.call_lanewise("llvm.smax", &[both, self.splat_int_const(ty, lo)], &[])?;
        let both = self.call_lanewise("llvm.smin", &[both, self.splat_int_const(ty, hi)], &[])?;
        let r = self
            .b()
            .build_int_truncate(both, self.int_lanes_type(half, 2 * n)?, "")?;
        self.push_v128(r)
    }

    /// `extend_low`/`extend_high`.
    pub(super) fn v_extend(
        &mut self,
        from: Shape,
        half: Half,
        signedness: Signedness,
    ) -> Result<()> {
        let x = self.pop_lanes(from)?;
        let h = self.half(x, half)?;
        let r = self.extend(h, self.lanes_type(from.widened()?), signedness)?;
        self.push_v128(r)
    }

    /// `extmul_low`/`extmul_high`: the product of the extended halves.
    pub(super) fn v_extmul(
        &mut self,
        from: Shape,
        half: Half,
        signedness: Signedness,
    ) -> Result<()> {
        let y = self.pop_lanes(from)?;
        let x = self.pop_lanes(from)?;
        let to = self.lanes_type(from.widened()?);
        let x = self.half(x, half)?;
        let x = self.extend(x, to, signedness)?;
        let y = self.half(y, half)?;
        let y = self.extend(y, to, signedness)?;
        let r = self.b().build_int_mul(x, y, "")?;
        self.push_v128(r)
    }

    /// `extadd_pairwise`: the sums of adjacent lanes, extended.
    pub(super) fn v_extadd_pairwise(&mut self, from: Shape, signedness: Signedness) -> Result<()> {
        let x = self.pop_lanes(from)?;
        let even = self.every_other(x, 0)?;
        let even = self.extend_wide(even, signedness)?;
        let odd = self.every_other(x, 1)?;
        let odd = self.extend_wide(odd, signedness)?;
        let r = self.b().build_int_add(even, odd, "")?;
        self.push_v128(r)
    }

    // ----- relaxed SIMD: one deterministic choice per instruction, within the spec's
    // allowed set, the cheapest on the x86-64-v2 baseline (SSE4.2, no FMA, no AVX) -----

    /// A non-overloaded x86 intrinsic on the top `n` operands of shape `s` (`cvttps2dq`,
    /// `minps`, `pmulhrsw`, ...), its result pushed as a `v128`.
    pub(super) fn v_x86(&mut self, s: Shape, name: &str, n: usize) -> Result<()> {
        let mut args: Vec<BasicValueEnum<'ctx>> = Vec::with_capacity(n);
        for _ in 0..n {
            args.push(self.pop_lanes(s)?.into());
        }
        args.reverse();
        let r = self.call_intrinsic(name, &[], &args)?.into_vector_value();
        self.push_v128(r)
    }

    /// `relaxed_madd` / `relaxed_nmadd`: `x * y + z` / `-(x * y) + z`, rounded twice (the
    /// spec allows fused or not; without FMA in the baseline, unfused is the cheap one).
    pub(super) fn v_relaxed_madd(&mut self, s: Shape, negate: bool) -> Result<()> {
        let z = self.pop_lanes(s)?;
        let y = self.pop_lanes(s)?;
        let x = self.pop_lanes(s)?;
        let b = self.b();
        let mut p = b.build_float_mul(x, y, "")?;
        if negate {
            p = b.build_float_neg(p, "")?;
        }
        let r = b.build_float_add(p, z, "")?;
        self.push_v128(r)
    }

    /// The `i16x8` sums of adjacent products of the top two `i8x16` operands, both read as
    /// signed (the spec lets the second, nominally 7-bit, be read either way), wrapping.
    fn relaxed_dot_pairs(&mut self) -> Result<VectorValue<'ctx>> {
        let y = self.pop_lanes(I8x16)?;
        let x = self.pop_lanes(I8x16)?;
        let wide = self.int_lanes_type(16, 16)?;
        let x = self.extend(x, wide, Signed)?;
        let y = self.extend(y, wide, Signed)?;
        let p = self.b().build_int_mul(x, y, "")?;
        let even = self.every_other(p, 0)?;
        let odd = self.every_other(p, 1)?;
        Ok(self.b().build_int_add(even, odd, "")?)
    }

    /// `i16x8.relaxed_dot_i8x16_i7x16_s`.
    pub(super) fn v_relaxed_dot(&mut self) -> Result<()> {
        let r = self.relaxed_dot_pairs()?;
        self.push_v128(r)
    }

    /// `i32x4.relaxed_dot_i8x16_i7x16_add_s`: the pairs' sums added in pairs again, as
    /// `i32`, plus the third operand.
    pub(super) fn v_relaxed_dot_add(&mut self) -> Result<()> {
        let c = self.pop_lanes(I32x4)?;
        let pairs = self.relaxed_dot_pairs()?;
        let even = self.every_other(pairs, 0)?;
        let even = self.extend_wide(even, Signed)?;
        let odd = self.every_other(pairs, 1)?;
        let odd = self.extend_wide(odd, Signed)?;
        let b = self.b();
        let sum = b.build_int_add(even, odd, "")?;
        let r = b.build_int_add(sum, c, "")?;
        self.push_v128(r)
    }

    /// `i32x4.dot_i16x8_s`: the sums of adjacent signed products, exactly `pmaddwd`
    /// (`llvm.x86.sse2.pmadd.wd`). The same in generic IR (extend, multiply, add the even and
    /// odd lanes) only becomes `pmaddwd` when instruction selection recognises it, which
    /// fails once the optimiser has shared an extended operand between several dot products
    /// (intgemm's kernels at -O3 got eight-lane multiplies and shuffles instead).
    pub(super) fn v_dot(&mut self) -> Result<()> {
        let y = self.pop_lanes(I16x8)?;
        let x = self.pop_lanes(I16x8)?;
        let r = self
            .call_intrinsic("llvm.x86.sse2.pmadd.wd", &[], &[x.into(), y.into()])?
            .into_vector_value();
        self.push_v128(r)
    }

    /// `avgr_u`: `(x + y + 1) / 2` without overflow (`pavgb`/`pavgw`).
    pub(super) fn v_avgr_u(&mut self, s: Shape) -> Result<()> {
        let y = self.pop_lanes(s)?;
        let x = self.pop_lanes(s)?;
        let wide = self.int_lanes_type(2 * s.lane_bits(), s.lanes())?;
        let x = self.extend(x, wide, Unsigned)?;
        let y = self.extend(y, wide, Unsigned)?;
        let b = self.b();
        let sum = b.build_int_add(x, y, "")?;
        let sum = b.build_int_add(sum, self.splat_int_const(wide, 1), "")?;
        let avg = Unsigned.shift_right(b, sum, self.splat_int_const(wide, 1))?;
        let r = b.build_int_truncate(avg, self.lanes_type(s), "")?;
        self.push_v128(r)
    }

    /// `i16x8.q15mulr_sat_s`: `(x * y + 0x4000) >> 15`, saturated (only `-0x8000 * -0x8000`
    /// overflows).
    pub(super) fn v_q15mulr_sat(&mut self) -> Result<()> {
        let y = self.pop_lanes(I16x8)?;
        let x = self.pop_lanes(I16x8)?;
        let wide = self.int_lanes_type(32, 8)?;
        let x = self.extend(x, wide, Signed)?;
        let y = self.extend(y, wide, Signed)?;
        let b = self.b();
        let p = b.build_int_mul(x, y, "")?;
        let p = b.build_int_add(p, self.splat_int_const(wide, 0x4000), "")?;
        let p = Signed.shift_right(b, p, self.splat_int_const(wide, 15))?;
        let p = self.call_lanewise("llvm.smin", &[p, self.splat_int_const(wide, 0x7fff)], &[])?;
        let r = self.b().build_int_truncate(p, self.lanes_type(I16x8), "")?;
        self.push_v128(r)
    }

    // ---- float arithmetic ----

    /// `min`/`max`, as the scalar `min_max`: `llvm.minimum`/`llvm.maximum`, with `x + y` (a
    /// quiet NaN) in the lanes where either operand is NaN.
    pub(super) fn v_min_max(&mut self, s: Shape, name: &str) -> Result<()> {
        let y = self.pop_lanes(s)?;
        let x = self.pop_lanes(s)?;
        let r = self.call_lanewise(name, &[x, y], &[])?;
        let b = self.b();
        let unordered = b.build_float_compare(FloatPredicate::UNO, x, y, "")?;
        let quiet = b.build_float_add(x, y, "")?;
        let r = b.build_select(unordered, quiet, r, "")?.into_vector_value();
        self.push_v128(r)
    }

    /// `pmin` (`y < x ? y : x`) and `pmax` (`x < y ? y : x`): exactly `minps`/`maxps`.
    pub(super) fn v_pmin_max(&mut self, s: Shape, op: MinMax) -> Result<()> {
        let y = self.pop_lanes(s)?;
        let x = self.pop_lanes(s)?;
        let b = self.b();
        let c = match op {
            MinMax::Max => b.build_float_compare(FloatPredicate::OLT, x, y, "")?,
            MinMax::Min => b.build_float_compare(FloatPredicate::OLT, y, x, "")?,
        };
        let r = b.build_select(c, y, x, "")?.into_vector_value();
        self.push_v128(r)
    }

    // ---- conversions ----

    /// `i32x4.trunc_sat_f32x4` and `i32x4.trunc_sat_f64x2_zero` (NaN gives 0, out of range
    /// clamps; two `f64` lanes give two `i32` lanes and two zero lanes). LLVM scalarises
    /// the vector `llvm.fpto[su]i.sat`, so the lanes are made convertible first: NaN and
    /// (unsigned) negative lanes become 0, lanes at or above the exclusive bound are
    /// converted as 0 and replaced by the maximum. Signed `f32` lanes go through `cvttps2dq`
    /// (SSE2, so every x86_64 CPU), whose result for NaN and out-of-range lanes is `i32::MIN`
    /// — already right below the range.
    pub(super) fn v_trunc_sat(&mut self, from: Shape, signedness: Signedness) -> Result<()> {
        let x = self.pop_lanes(from)?;
        let fty = x.get_type();
        let ity = self.int_lanes_type(32, from.lanes())?;
        let b = self.b();
        let ordered = b.build_float_compare(FloatPredicate::ORD, x, x, "")?;
        let (bound, max) = match signedness {
            Signed => (2147483648.0, i32::MAX as u64),
            Unsigned => (4294967296.0, u64::from(u32::MAX)),
        };
        let over = b.build_float_compare(
            FloatPredicate::OGE,
            x,
            self.splat_float_const(fty, bound),
            "",
        )?;
        let r = if from == F32x4 && signedness == Signed {
            let r = self
                .call_intrinsic("llvm.x86.sse2.cvttps2dq", &[], &[x.into()])?
                .into_vector_value();
            let r = b.build_select(over, self.splat_int_const(ity, max), r, "")?;
            b.build_select(ordered, r, ity.const_zero().into(), "")?
                .into_vector_value()
        } else {
            let x = b
                .build_select(ordered, x, fty.const_zero(), "")?
                .into_vector_value();
            let lo = match signedness {
                Signed => self.splat_float_const(fty, -2147483648.0),
                Unsigned => self.splat_float_const(fty, 0.0),
            };
            let below = b.build_float_compare(FloatPredicate::OLT, x, lo, "")?;
            let x = b.build_select(below, lo, x, "")?.into_vector_value();
            let x = b
                .build_select(over, fty.const_zero(), x, "")?
                .into_vector_value();
            let r = match signedness {
                Signed => b.build_float_to_signed_int(x, ity, "")?,
                Unsigned => b.build_float_to_unsigned_int(x, ity, "")?,
            };
            b.build_select(over, self.splat_int_const(ity, max), r, "")?
                .into_vector_value()
        };
        let r = if from.lanes() == 2 {
            self.zero_extend_lanes(r)?
        } else {
            r
        };
        self.push_v128(r)
    }

    /// `f32x4.convert_i32x4` and `f64x2.convert_low_i32x4`.
    pub(super) fn v_convert(&mut self, to: Shape, signedness: Signedness) -> Result<()> {
        let x = self.pop_lanes(I32x4)?;
        let x = if to == F64x2 { self.half(x, Low)? } else { x };
        let ty = self.lanes_type(to);
        let r = match signedness {
            Signed => self.b().build_signed_int_to_float(x, ty, "")?,
            Unsigned => self.b().build_unsigned_int_to_float(x, ty, "")?,
        };
        self.push_v128(r)
    }

    pub(super) fn v_demote_zero(&mut self) -> Result<()> {
        let x = self.pop_lanes(F64x2)?;
        let r = self
            .b()
            .build_float_trunc(x, self.cx().f32.vec_type(2), "")?;
        let r = self.zero_extend_lanes(r)?;
        self.push_v128(r)
    }

    pub(super) fn v_promote_low(&mut self) -> Result<()> {
        let x = self.pop_lanes(F32x4)?;
        let x = self.half(x, Low)?;
        let r = self.b().build_float_ext(x, self.lanes_type(F64x2), "")?;
        self.push_v128(r)
    }

    // ---- memory ----

    /// `v128.loadNxM_[su]`: half a `v128` of `from` lanes, extended.
    pub(super) fn v_load_extend(
        &mut self,
        memarg: &MemArg,
        from: Shape,
        signedness: Signedness,
    ) -> Result<()> {
        let mem = self.memory(memarg)?;
        let addr = self.stack.pop_int()?;
        let lane = self.lanes_type(from).get_element_type();
        let half = match lane {
            BasicTypeEnum::IntType(t) => t.vec_type(from.lanes() / 2),
            _ => return Err(internal("extending load of float lanes")),
        };
        let v = self
            .env
            .load(mem, memarg.offset, addr, half.into())?
            .into_vector_value();
        let r = self.extend(v, self.lanes_type(from.widened()?), signedness)?;
        self.push_v128(r)
    }

    pub(super) fn v_load_splat(&mut self, memarg: &MemArg, s: Shape) -> Result<()> {
        let mem = self.memory(memarg)?;
        let addr = self.stack.pop_int()?;
        let x = self.env.load(
            mem,
            memarg.offset,
            addr,
            self.lanes_type(s).get_element_type(),
        )?;
        let v = self.splat_value(s, x)?;
        self.push_v128(v)
    }

    /// `v128.load32_zero`/`v128.load64_zero`: the scalar in lane 0, zeros elsewhere.
    pub(super) fn v_load_zero(&mut self, memarg: &MemArg, s: Shape) -> Result<()> {
        let mem = self.memory(memarg)?;
        let addr = self.stack.pop_int()?;
        let ty = self.lanes_type(s);
        let x = self
            .env
            .load(mem, memarg.offset, addr, ty.get_element_type())?;
        let v = self
            .b()
            .build_insert_element(ty.const_zero(), x, self.lane_index(0), "")?;
        self.push_v128(v)
    }

    pub(super) fn v_load_lane(&mut self, memarg: &MemArg, s: Shape, lane: u8) -> Result<()> {
        let mem = self.memory(memarg)?;
        let v = self.pop_lanes(s)?;
        let addr = self.stack.pop_int()?;
        let x = self.env.load(
            mem,
            memarg.offset,
            addr,
            self.lanes_type(s).get_element_type(),
        )?;
        let r = self
            .b()
            .build_insert_element(v, x, self.lane_index(lane), "")?;
        self.push_v128(r)
    }

    pub(super) fn v_store_lane(&mut self, memarg: &MemArg, s: Shape, lane: u8) -> Result<()> {
        let mem = self.memory(memarg)?;
        let v = self.pop_lanes(s)?;
        let addr = self.stack.pop_int()?;
        let x = self
            .b()
            .build_extract_element(v, self.lane_index(lane), "")?;
        self.env.store(mem, memarg.offset, addr, x)
    }
}
