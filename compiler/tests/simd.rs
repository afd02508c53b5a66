//! SIMD (`v128`): every operator compiles, and compiled code has Wasm's semantics where LLVM's
//! generic operations differ (checked on the host, see `harness`), with `v128` values through
//! `ValRaw` slots, the native calling convention, globals, locals, blocks and `select`.

mod harness;

use hako_abi::trap::TrapCode;
use hako_abi::vm::ValRaw;
use harness::{compile, Instance, OptLevel, Options, Outcome};

fn options(opt_level: OptLevel, cpu: &str) -> Options {
    Options {
        opt_level,
        cpu: cpu.to_string(),
        ..Options::default()
    }
}

/// Every configuration a test runs in: -O0 and -O2 on the default CPU, -O2 with AVX2.
const CONFIGS: [(OptLevel, &str); 3] = [
    (OptLevel::O0, "x86-64-v2"),
    (OptLevel::O2, "x86-64-v2"),
    (OptLevel::O2, "x86-64-v3"),
];

fn instances(src: &str) -> Vec<Instance> {
    let wasm = wat::parse_str(src).unwrap();
    CONFIGS
        .iter()
        .map(|(o, cpu)| Instance::with_options(&wasm, &options(*o, cpu)))
        .collect()
}

fn v(x: u128) -> ValRaw {
    ValRaw::from_u128(x)
}

fn i8x16(l: [i8; 16]) -> u128 {
    u128::from_le_bytes(l.map(|x| x as u8))
}

fn i16x8(l: [i16; 8]) -> u128 {
    l.iter()
        .enumerate()
        .fold(0, |a, (i, x)| a | u128::from(*x as u16) << (16 * i))
}

fn i32x4(l: [i32; 4]) -> u128 {
    l.iter()
        .enumerate()
        .fold(0, |a, (i, x)| a | u128::from(*x as u32) << (32 * i))
}

fn i64x2(l: [i64; 2]) -> u128 {
    u128::from(l[0] as u64) | u128::from(l[1] as u64) << 64
}

fn f32x4(l: [f32; 4]) -> u128 {
    i32x4(l.map(|x| x.to_bits() as i32))
}

fn f64x2(l: [f64; 2]) -> u128 {
    i64x2(l.map(|x| x.to_bits() as i64))
}

fn u32_lanes(x: u128) -> [u32; 4] {
    [0, 1, 2, 3].map(|i| (x >> (32 * i)) as u32)
}

/// Calls `name` and returns its first result as a `v128`.
fn callv(i: &mut Instance, name: &str, args: &[ValRaw]) -> u128 {
    match i.call(name, args).0 {
        Outcome::Returned(r) => r[0].u128(),
        other => panic!("{name}: {other:?}"),
    }
}

const ALL_OPS: &str = r#"(module
  (memory 1)
  (global $g (mut v128) (v128.const i32x4 1 2 3 4))
  (func (export "mem") (param i32 v128) (result v128)
    (v128.store (local.get 0) (local.get 1))
    (v128.load (local.get 0)) (v128.load8x8_s (local.get 0)) (v128.load8x8_u (local.get 0))
    (v128.load16x4_s (local.get 0)) (v128.load16x4_u (local.get 0)) (v128.load32x2_s (local.get 0))
    (v128.load32x2_u (local.get 0)) (v128.load8_splat (local.get 0)) (v128.load16_splat (local.get 0))
    (v128.load32_splat (local.get 0)) (v128.load64_splat (local.get 0)) (v128.load32_zero (local.get 0))
    (v128.load64_zero (local.get 0))
    (v128.load8_lane 1 (local.get 0) (local.get 1)) (v128.load16_lane 1 (local.get 0) (local.get 1))
    (v128.load32_lane 1 (local.get 0) (local.get 1)) (v128.load64_lane 1 (local.get 0) (local.get 1))
    (v128.store8_lane 1 (local.get 0) (local.get 1)) (v128.store16_lane 1 (local.get 0) (local.get 1))
    (v128.store32_lane 1 (local.get 0) (local.get 1)) (v128.store64_lane 1 (local.get 0) (local.get 1))
    v128.xor v128.xor v128.xor v128.xor v128.xor v128.xor v128.xor v128.xor v128.xor v128.xor
    v128.xor v128.xor v128.xor v128.xor v128.xor v128.xor (global.set $g) (global.get $g))
  (func (export "lanes") (param v128 i32 i64 f32 f64) (result v128)
    (i8x16.shuffle 0 17 2 19 4 21 6 23 8 25 10 27 12 29 14 31 (local.get 0) (local.get 0))
    (i8x16.swizzle (local.get 0)) (i8x16.splat (local.get 1)) (i16x8.splat (local.get 1))
    (i32x4.splat (local.get 1)) (i64x2.splat (local.get 2)) (f32x4.splat (local.get 3))
    (f64x2.splat (local.get 4)) v128.or v128.or v128.or v128.or v128.or v128.or
    (i8x16.extract_lane_s 1 (local.get 0)) (i8x16.extract_lane_u 2 (local.get 0)) i32.add
    (i16x8.extract_lane_s 3 (local.get 0)) i32.add (i16x8.extract_lane_u 4 (local.get 0)) i32.add
    (i32x4.extract_lane 3 (local.get 0)) i32.add i8x16.replace_lane 5
    (i16x8.replace_lane 6 (i32.const 7)) (i32x4.replace_lane 3 (i32.const 8))
    (i64x2.replace_lane 1 (i64x2.extract_lane 0 (local.get 0)))
    (f32x4.replace_lane 2 (f32x4.extract_lane 1 (local.get 0)))
    (f64x2.replace_lane 1 (f64x2.extract_lane 0 (local.get 0))))
  (func (export "icmp") (param v128 v128) (result v128)
    (i8x16.eq (local.get 0) (local.get 1)) (i8x16.ne (local.get 0) (local.get 1))
    (i8x16.lt_s (local.get 0) (local.get 1)) (i8x16.lt_u (local.get 0) (local.get 1))
    (i8x16.gt_s (local.get 0) (local.get 1)) (i8x16.gt_u (local.get 0) (local.get 1))
    (i8x16.le_s (local.get 0) (local.get 1)) (i8x16.le_u (local.get 0) (local.get 1))
    (i8x16.ge_s (local.get 0) (local.get 1)) (i8x16.ge_u (local.get 0) (local.get 1))
    (i16x8.eq (local.get 0) (local.get 1)) (i16x8.ne (local.get 0) (local.get 1))
    (i16x8.lt_s (local.get 0) (local.get 1)) (i16x8.lt_u (local.get 0) (local.get 1))
    (i16x8.gt_s (local.get 0) (local.get 1)) (i16x8.gt_u (local.get 0) (local.get 1))
    (i16x8.le_s (local.get 0) (local.get 1)) (i16x8.le_u (local.get 0) (local.get 1))
    (i16x8.ge_s (local.get 0) (local.get 1)) (i16x8.ge_u (local.get 0) (local.get 1))
    (i32x4.eq (local.get 0) (local.get 1)) (i32x4.ne (local.get 0) (local.get 1))
    (i32x4.lt_s (local.get 0) (local.get 1)) (i32x4.lt_u (local.get 0) (local.get 1))
    (i32x4.gt_s (local.get 0) (local.get 1)) (i32x4.gt_u (local.get 0) (local.get 1))
    (i32x4.le_s (local.get 0) (local.get 1)) (i32x4.le_u (local.get 0) (local.get 1))
    (i32x4.ge_s (local.get 0) (local.get 1)) (i32x4.ge_u (local.get 0) (local.get 1))
    (i64x2.eq (local.get 0) (local.get 1)) (i64x2.ne (local.get 0) (local.get 1))
    (i64x2.lt_s (local.get 0) (local.get 1)) (i64x2.gt_s (local.get 0) (local.get 1))
    (i64x2.le_s (local.get 0) (local.get 1)) (i64x2.ge_s (local.get 0) (local.get 1))
    (f32x4.eq (local.get 0) (local.get 1)) (f32x4.ne (local.get 0) (local.get 1))
    (f32x4.lt (local.get 0) (local.get 1)) (f32x4.gt (local.get 0) (local.get 1))
    (f32x4.le (local.get 0) (local.get 1)) (f32x4.ge (local.get 0) (local.get 1))
    (f64x2.eq (local.get 0) (local.get 1)) (f64x2.ne (local.get 0) (local.get 1))
    (f64x2.lt (local.get 0) (local.get 1)) (f64x2.gt (local.get 0) (local.get 1))
    (f64x2.le (local.get 0) (local.get 1)) (f64x2.ge (local.get 0) (local.get 1))
    v128.and v128.and v128.and v128.and v128.and v128.and v128.and v128.and v128.and v128.and
    v128.and v128.and v128.and v128.and v128.and v128.and v128.and v128.and v128.and v128.and
    v128.and v128.and v128.and v128.and v128.and v128.and v128.and v128.and v128.and v128.and
    v128.and v128.and v128.and v128.and v128.and v128.and v128.and v128.and v128.and v128.and
    v128.and v128.and v128.and v128.and v128.and v128.and v128.and)
  (func (export "int") (param v128 v128 i32) (result v128)
    (v128.not (local.get 0)) (v128.andnot (local.get 1)) (v128.bitselect (local.get 0) (local.get 1))
    i8x16.abs i8x16.neg i8x16.popcnt (i8x16.narrow_i16x8_s (local.get 1))
    (i8x16.narrow_i16x8_u (local.get 1)) (i8x16.shl (local.get 2)) (i8x16.shr_s (local.get 2))
    (i8x16.shr_u (local.get 2)) (i8x16.add (local.get 1)) (i8x16.add_sat_s (local.get 1))
    (i8x16.add_sat_u (local.get 1)) (i8x16.sub (local.get 1)) (i8x16.sub_sat_s (local.get 1))
    (i8x16.sub_sat_u (local.get 1)) (i8x16.min_s (local.get 1)) (i8x16.min_u (local.get 1))
    (i8x16.max_s (local.get 1)) (i8x16.max_u (local.get 1)) (i8x16.avgr_u (local.get 1))
    i16x8.extadd_pairwise_i8x16_s i8x16.abs i16x8.extadd_pairwise_i8x16_u i16x8.abs i16x8.neg
    (i16x8.q15mulr_sat_s (local.get 1)) (i16x8.narrow_i32x4_s (local.get 1))
    (i16x8.narrow_i32x4_u (local.get 1)) i16x8.extend_low_i8x16_s i16x8.extend_high_i8x16_s
    i16x8.extend_low_i8x16_u i16x8.extend_high_i8x16_u (i16x8.shl (local.get 2))
    (i16x8.shr_s (local.get 2)) (i16x8.shr_u (local.get 2)) (i16x8.add (local.get 1))
    (i16x8.add_sat_s (local.get 1)) (i16x8.add_sat_u (local.get 1)) (i16x8.sub (local.get 1))
    (i16x8.sub_sat_s (local.get 1)) (i16x8.sub_sat_u (local.get 1)) (i16x8.mul (local.get 1))
    (i16x8.min_s (local.get 1)) (i16x8.min_u (local.get 1)) (i16x8.max_s (local.get 1))
    (i16x8.max_u (local.get 1)) (i16x8.avgr_u (local.get 1)) (i16x8.extmul_low_i8x16_s (local.get 1))
    (i16x8.extmul_high_i8x16_s (local.get 1)) (i16x8.extmul_low_i8x16_u (local.get 1))
    (i16x8.extmul_high_i8x16_u (local.get 1)) i32x4.extadd_pairwise_i16x8_s
    i32x4.extadd_pairwise_i16x8_u i32x4.abs i32x4.neg i32x4.extend_low_i16x8_s
    i32x4.extend_high_i16x8_s i32x4.extend_low_i16x8_u i32x4.extend_high_i16x8_u
    (i32x4.shl (local.get 2)) (i32x4.shr_s (local.get 2)) (i32x4.shr_u (local.get 2))
    (i32x4.add (local.get 1)) (i32x4.sub (local.get 1)) (i32x4.mul (local.get 1))
    (i32x4.min_s (local.get 1)) (i32x4.min_u (local.get 1)) (i32x4.max_s (local.get 1))
    (i32x4.max_u (local.get 1)) (i32x4.dot_i16x8_s (local.get 1))
    (i32x4.extmul_low_i16x8_s (local.get 1)) (i32x4.extmul_high_i16x8_s (local.get 1))
    (i32x4.extmul_low_i16x8_u (local.get 1)) (i32x4.extmul_high_i16x8_u (local.get 1))
    i64x2.abs i64x2.neg i64x2.extend_low_i32x4_s i64x2.extend_high_i32x4_s
    i64x2.extend_low_i32x4_u i64x2.extend_high_i32x4_u (i64x2.shl (local.get 2))
    (i64x2.shr_s (local.get 2)) (i64x2.shr_u (local.get 2)) (i64x2.add (local.get 1))
    (i64x2.sub (local.get 1)) (i64x2.mul (local.get 1)) (i64x2.extmul_low_i32x4_s (local.get 1))
    (i64x2.extmul_high_i32x4_s (local.get 1)) (i64x2.extmul_low_i32x4_u (local.get 1))
    (i64x2.extmul_high_i32x4_u (local.get 1)))
  (func (export "reduce") (param v128) (result i32)
    (v128.any_true (local.get 0)) (i8x16.all_true (local.get 0)) (i16x8.all_true (local.get 0))
    (i32x4.all_true (local.get 0)) (i64x2.all_true (local.get 0)) (i8x16.bitmask (local.get 0))
    (i16x8.bitmask (local.get 0)) (i32x4.bitmask (local.get 0)) (i64x2.bitmask (local.get 0))
    i32.add i32.add i32.add i32.add i32.add i32.add i32.add i32.add)
  (func (export "float") (param v128 v128) (result v128)
    (f32x4.ceil (local.get 0)) f32x4.floor f32x4.trunc f32x4.nearest f32x4.abs f32x4.neg f32x4.sqrt
    (f32x4.add (local.get 1)) (f32x4.sub (local.get 1)) (f32x4.mul (local.get 1))
    (f32x4.div (local.get 1)) (f32x4.min (local.get 1)) (f32x4.max (local.get 1))
    (f32x4.pmin (local.get 1)) (f32x4.pmax (local.get 1))
    f64x2.ceil f64x2.floor f64x2.trunc f64x2.nearest f64x2.abs f64x2.neg f64x2.sqrt
    (f64x2.add (local.get 1)) (f64x2.sub (local.get 1)) (f64x2.mul (local.get 1))
    (f64x2.div (local.get 1)) (f64x2.min (local.get 1)) (f64x2.max (local.get 1))
    (f64x2.pmin (local.get 1)) (f64x2.pmax (local.get 1))
    i32x4.trunc_sat_f32x4_s i32x4.trunc_sat_f32x4_u f32x4.convert_i32x4_s
    i32x4.trunc_sat_f32x4_u f32x4.convert_i32x4_u f64x2.promote_low_f32x4
    i32x4.trunc_sat_f64x2_s_zero f64x2.convert_low_i32x4_s i32x4.trunc_sat_f64x2_u_zero
    f64x2.convert_low_i32x4_u f32x4.demote_f64x2_zero)
)"#;

#[test]
fn every_simd_operator_compiles() {
    let wasm = wat::parse_str(ALL_OPS).unwrap();
    for (o, cpu) in CONFIGS.iter().chain([&(OptLevel::O3, "x86-64")]) {
        if let Err(e) = compile(&wasm, &options(*o, cpu)) {
            panic!("-O{o} {cpu}: {e}");
        }
    }
}

/// Every relaxed SIMD instruction compiles at every level and CPU level (the choices use
/// only SSE2 instructions or portable IR).
#[test]
fn relaxed_simd_compiles_everywhere() {
    let wasm = wat::parse_str(
        r#"(module
          (func (export "b") (param v128 v128) (result v128)
            (i8x16.relaxed_swizzle (local.get 0) (local.get 1)))
          (func (export "u") (param v128) (result v128 v128 v128 v128)
            (i32x4.relaxed_trunc_f32x4_s (local.get 0))
            (i32x4.relaxed_trunc_f32x4_u (local.get 0))
            (i32x4.relaxed_trunc_f64x2_s_zero (local.get 0))
            (i32x4.relaxed_trunc_f64x2_u_zero (local.get 0)))
          (func (export "t") (param v128 v128 v128) (result v128 v128 v128 v128 v128 v128 v128 v128 v128)
            (f32x4.relaxed_madd (local.get 0) (local.get 1) (local.get 2))
            (f32x4.relaxed_nmadd (local.get 0) (local.get 1) (local.get 2))
            (f64x2.relaxed_madd (local.get 0) (local.get 1) (local.get 2))
            (f64x2.relaxed_nmadd (local.get 0) (local.get 1) (local.get 2))
            (i8x16.relaxed_laneselect (local.get 0) (local.get 1) (local.get 2))
            (i16x8.relaxed_laneselect (local.get 0) (local.get 1) (local.get 2))
            (i32x4.relaxed_laneselect (local.get 0) (local.get 1) (local.get 2))
            (i64x2.relaxed_laneselect (local.get 0) (local.get 1) (local.get 2))
            (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get 0) (local.get 1) (local.get 2)))
          (func (export "m") (param v128 v128) (result v128 v128 v128 v128 v128 v128)
            (f32x4.relaxed_min (local.get 0) (local.get 1))
            (f32x4.relaxed_max (local.get 0) (local.get 1))
            (f64x2.relaxed_min (local.get 0) (local.get 1))
            (f64x2.relaxed_max (local.get 0) (local.get 1))
            (i16x8.relaxed_q15mulr_s (local.get 0) (local.get 1))
            (i16x8.relaxed_dot_i8x16_i7x16_s (local.get 0) (local.get 1))))"#,
    )
    .unwrap();
    for (o, cpu) in CONFIGS.iter().chain([&(OptLevel::O3, "x86-64")]) {
        if let Err(e) = compile(&wasm, &options(*o, cpu)) {
            panic!("-O{o} {cpu}: {e}");
        }
    }
}

const VALUES: &str = r#"(module
  (memory 1)
  (global $g (mut v128) (v128.const i64x2 0x0123456789abcdef 0x0fedcba987654321))
  (global $k v128 (v128.const i32x4 -1 0 1 2))
  (table 1 funcref)
  (elem (i32.const 0) $add)
  (type $vv (func (param v128 v128) (result v128)))
  (func $add (param v128 v128) (result v128) (i32x4.add (local.get 0) (local.get 1)))
  (func $swap (param v128 i32 v128) (result v128 i32 v128)
    (local.get 2) (local.get 1) (local.get 0))
  (func (export "id") (param v128) (result v128) (local.get 0))
  (func (export "call") (param v128 v128) (result v128) (call $add (local.get 0) (local.get 1)))
  (func (export "indirect") (param v128 v128) (result v128)
    (call_indirect (type $vv) (local.get 0) (local.get 1) (i32.const 0)))
  (func (export "swap") (param v128 i32 v128) (result v128 i32 v128)
    (call $swap (local.get 0) (local.get 1) (local.get 2)))
  (func (export "global") (param v128) (result v128)
    (global.get $g) (global.set $g (local.get 0)) (global.get $k) v128.xor
    (global.get $g) v128.xor)
  (func (export "select") (param v128 v128 i32) (result v128)
    (select (local.get 0) (local.get 1) (local.get 2)))
  (func (export "loop") (param i32) (result v128) (local $acc v128)
    (v128.const i32x4 0 0 0 0)
    (loop (param v128) (result v128)
      (i32x4.add (v128.const i32x4 1 2 3 4))
      (br_if 0 (local.tee 0 (i32.sub (local.get 0) (i32.const 1))))))
  (func (export "const") (result v128) (v128.const f32x4 1.5 -0 nan inf))
  (func (export "store_load") (param i32 v128) (result v128)
    (v128.store offset=3 (local.get 0) (local.get 1))
    (v128.load offset=3 align=1 (local.get 0)))
  (func (export "drop_splat") (param i32) (drop (v128.load8_splat (local.get 0))))
  (func (export "drop_lane") (param i32)
    (drop (v128.load32_lane 2 (local.get 0) (v128.const i64x2 0 0))))
  (func (export "drop_zero") (param i32) (drop (v128.load64_zero (local.get 0))))
  (func (export "drop_ext") (param i32) (drop (v128.load16x4_s (local.get 0))))
)"#;

#[test]
fn v128_values_flow_everywhere() {
    let a = i32x4([1, 2, 3, -4]);
    let b = i32x4([10, 20, 30, 40]);
    let sum = i32x4([11, 22, 33, 36]);
    for mut i in instances(VALUES) {
        assert_eq!(callv(&mut i, "id", &[v(u128::MAX - 5)]), u128::MAX - 5);
        assert_eq!(callv(&mut i, "call", &[v(a), v(b)]), sum);
        assert_eq!(callv(&mut i, "indirect", &[v(a), v(b)]), sum);
        let Outcome::Returned(r) = i.call("swap", &[v(a), ValRaw::from_u32(7), v(b)]).0 else {
            panic!("swap")
        };
        assert_eq!((r[0].u128(), r[1].u32(), r[2].u128()), (b, 7, a));
        let g0 = i64x2([0x0123456789abcdef, 0x0fedcba987654321]);
        let k = i32x4([-1, 0, 1, 2]);
        assert_eq!(callv(&mut i, "global", &[v(a)]), g0 ^ k ^ a);
        assert_eq!(
            callv(&mut i, "select", &[v(a), v(b), ValRaw::from_u32(1)]),
            a
        );
        assert_eq!(
            callv(&mut i, "select", &[v(a), v(b), ValRaw::from_u32(0)]),
            b
        );
        assert_eq!(
            callv(&mut i, "loop", &[ValRaw::from_u32(3)]),
            i32x4([3, 6, 9, 12])
        );
        assert_eq!(
            callv(&mut i, "const", &[]),
            f32x4([1.5, -0.0, f32::from_bits(0x7fc0_0000), f32::INFINITY])
        );
        assert_eq!(
            callv(
                &mut i,
                "store_load",
                &[ValRaw::from_u32(100), v(u128::MAX / 3)]
            ),
            u128::MAX / 3
        );
        // Dropped loads still trap out of bounds.
        for f in ["drop_splat", "drop_lane", "drop_zero", "drop_ext"] {
            assert_eq!(
                i.call(f, &[ValRaw::from_u32(65536)]).0,
                Outcome::Trap(TrapCode::MemoryOutOfBounds),
                "{f}"
            );
            assert_eq!(
                i.call(f, &[ValRaw::from_u32(0)]).0,
                Outcome::Returned(vec![])
            );
        }
    }
}

const SEMANTICS: &str = r#"(module
  (memory 1)
  (data (i32.const 0) "\00\01\02\03\04\05\06\07\08\09\0a\0b\0c\0d\0e\0f\80\ff")
  (func (export "swizzle") (param v128 v128) (result v128) (i8x16.swizzle (local.get 0) (local.get 1)))
  (func (export "shuffle") (param v128 v128) (result v128)
    (i8x16.shuffle 31 0 30 1 29 2 28 3 16 17 18 19 15 15 15 15 (local.get 0) (local.get 1)))
  (func (export "shl32") (param v128 i32) (result v128) (i32x4.shl (local.get 0) (local.get 1)))
  (func (export "shr_s8") (param v128 i32) (result v128) (i8x16.shr_s (local.get 0) (local.get 1)))
  (func (export "shr_u64") (param v128 i32) (result v128) (i64x2.shr_u (local.get 0) (local.get 1)))
  (func (export "f32min") (param v128 v128) (result v128) (f32x4.min (local.get 0) (local.get 1)))
  (func (export "f32max") (param v128 v128) (result v128) (f32x4.max (local.get 0) (local.get 1)))
  (func (export "f64min") (param v128 v128) (result v128) (f64x2.min (local.get 0) (local.get 1)))
  (func (export "f32pmin") (param v128 v128) (result v128) (f32x4.pmin (local.get 0) (local.get 1)))
  (func (export "f32pmax") (param v128 v128) (result v128) (f32x4.pmax (local.get 0) (local.get 1)))
  (func (export "trunc_sat_s") (param v128) (result v128) (i32x4.trunc_sat_f32x4_s (local.get 0)))
  (func (export "trunc_sat_u") (param v128) (result v128) (i32x4.trunc_sat_f32x4_u (local.get 0)))
  (func (export "trunc_sat_zero_s") (param v128) (result v128) (i32x4.trunc_sat_f64x2_s_zero (local.get 0)))
  (func (export "trunc_sat_zero_u") (param v128) (result v128) (i32x4.trunc_sat_f64x2_u_zero (local.get 0)))
  (func (export "convert_u") (param v128) (result v128) (f32x4.convert_i32x4_u (local.get 0)))
  (func (export "convert_low_u") (param v128) (result v128) (f64x2.convert_low_i32x4_u (local.get 0)))
  (func (export "demote") (param v128) (result v128) (f32x4.demote_f64x2_zero (local.get 0)))
  (func (export "narrow_s") (param v128 v128) (result v128) (i8x16.narrow_i16x8_s (local.get 0) (local.get 1)))
  (func (export "narrow_u") (param v128 v128) (result v128) (i16x8.narrow_i32x4_u (local.get 0) (local.get 1)))
  (func (export "q15") (param v128 v128) (result v128) (i16x8.q15mulr_sat_s (local.get 0) (local.get 1)))
  (func (export "avgr") (param v128 v128) (result v128) (i8x16.avgr_u (local.get 0) (local.get 1)))
  (func (export "dot") (param v128 v128) (result v128) (i32x4.dot_i16x8_s (local.get 0) (local.get 1)))
  (func (export "extadd_u") (param v128) (result v128) (i16x8.extadd_pairwise_i8x16_u (local.get 0)))
  (func (export "extmul_high_s") (param v128 v128) (result v128)
    (i64x2.extmul_high_i32x4_s (local.get 0) (local.get 1)))
  (func (export "abs8") (param v128) (result v128) (i8x16.abs (local.get 0)))
  (func (export "popcnt") (param v128) (result v128) (i8x16.popcnt (local.get 0)))
  (func (export "add_sat_u16") (param v128 v128) (result v128) (i16x8.add_sat_u (local.get 0) (local.get 1)))
  (func (export "bitmask8") (param v128) (result i32) (i8x16.bitmask (local.get 0)))
  (func (export "bitmask64") (param v128) (result i32) (i64x2.bitmask (local.get 0)))
  (func (export "all_true16") (param v128) (result i32) (i16x8.all_true (local.get 0)))
  (func (export "any_true") (param v128) (result i32) (v128.any_true (local.get 0)))
  (func (export "lane_s") (param v128) (result i32) (i8x16.extract_lane_s 15 (local.get 0)))
  (func (export "lane_u") (param v128) (result i32) (i16x8.extract_lane_u 7 (local.get 0)))
  (func (export "bitselect") (param v128 v128 v128) (result v128)
    (v128.bitselect (local.get 0) (local.get 1) (local.get 2)))
  (func (export "andnot") (param v128 v128) (result v128) (v128.andnot (local.get 0) (local.get 1)))
  (func (export "loads") (result v128) (local v128)
    (local.set 0 (i32x4.add
      (i16x8.add (v128.load8x8_s offset=10 (i32.const 0)) (v128.load16_splat offset=16 (i32.const 0)))
      (v128.load32_zero offset=4 (i32.const 0))))
    (v128.load16_lane offset=16 7 (i32.const 0) (local.get 0)))
  (func (export "store_lane") (param v128) (result i64)
    (v128.store8_lane 15 (i32.const 200) (local.get 0))
    (v128.store32_lane 1 (i32.const 201) (local.get 0))
    (i64.load (i32.const 200)))
)"#;

#[test]
fn simd_semantics() {
    let bytes: [i8; 16] = core::array::from_fn(|i| (i as i8) * 3 - 20);
    let nan = f32::from_bits(0x7fc0_0000);
    let snan = f32::from_bits(0x7fa0_0000);
    for mut i in instances(SEMANTICS) {
        // Swizzle: an index of 16 or more gives 0 (pshufb alone would use the low 4 bits).
        let idx = i8x16([15, 0, 16, 31, 32, -128, -1, 0x7f, 1, 2, 3, 4, 5, 6, 7, 0x70]);
        let want = i8x16([
            bytes[15], bytes[0], 0, 0, 0, 0, 0, 0, bytes[1], bytes[2], bytes[3], bytes[4],
            bytes[5], bytes[6], bytes[7], 0,
        ]);
        assert_eq!(callv(&mut i, "swizzle", &[v(i8x16(bytes)), v(idx)]), want);
        let x = i8x16(core::array::from_fn(|i| i as i8));
        let y = i8x16(core::array::from_fn(|i| 100 + i as i8));
        assert_eq!(
            callv(&mut i, "shuffle", &[v(x), v(y)]),
            i8x16([115, 0, 114, 1, 113, 2, 112, 3, 100, 101, 102, 103, 15, 15, 15, 15])
        );
        // Shift counts are taken modulo the lane width.
        let ones = i32x4([1, -1, 3, 0x4000_0000]);
        assert_eq!(
            callv(&mut i, "shl32", &[v(ones), ValRaw::from_u32(33)]),
            i32x4([2, -2, 6, i32::MIN])
        );
        assert_eq!(
            callv(
                &mut i,
                "shr_s8",
                &[v(i8x16([-128; 16])), ValRaw::from_u32(15)]
            ),
            i8x16([-1; 16])
        );
        assert_eq!(
            callv(
                &mut i,
                "shr_u64",
                &[v(i64x2([-1, 256])), ValRaw::from_u32(64 + 8)]
            ),
            i64x2([0x00ff_ffff_ffff_ffff, 1])
        );
        // min/max: NaN-propagating with quiet NaN results, -0 < +0.
        let a = f32x4([-0.0, 0.0, snan, 1.0]);
        let b = f32x4([0.0, -0.0, 1.0, nan]);
        let min = u32_lanes(callv(&mut i, "f32min", &[v(a), v(b)]));
        assert_eq!(min[0], (-0.0f32).to_bits());
        assert_eq!(min[1], (-0.0f32).to_bits());
        assert!(f32::from_bits(min[2]).is_nan() && min[2] & 0x0040_0000 != 0);
        assert!(f32::from_bits(min[3]).is_nan() && min[3] & 0x0040_0000 != 0);
        let max = u32_lanes(callv(&mut i, "f32max", &[v(a), v(b)]));
        assert_eq!(max[0..2], [0, 0]);
        assert!(f32::from_bits(max[2]).is_nan() && max[2] & 0x0040_0000 != 0);
        let m = callv(
            &mut i,
            "f64min",
            &[v(f64x2([1.0, -0.0])), v(f64x2([f64::NAN, 0.0]))],
        );
        assert!(f64::from_bits(m as u64).is_nan());
        assert_eq!((m >> 64) as u64, (-0.0f64).to_bits());
        // pmin/pmax: the first operand unless the comparison holds (NaNs pass through).
        let p = f32x4([nan, 1.0, -0.0, 2.0]);
        let q = f32x4([1.0, nan, 0.0, 1.0]);
        assert_eq!(
            callv(&mut i, "f32pmin", &[v(p), v(q)]),
            f32x4([nan, 1.0, -0.0, 1.0])
        );
        assert_eq!(
            callv(&mut i, "f32pmax", &[v(p), v(q)]),
            f32x4([nan, 1.0, -0.0, 2.0])
        );
        // Saturating conversions: NaN is 0, out of range clamps.
        let f = f32x4([nan, 3e9, -3e9, -1.9]);
        assert_eq!(
            callv(&mut i, "trunc_sat_s", &[v(f)]),
            i32x4([0, i32::MAX, i32::MIN, -1])
        );
        assert_eq!(
            callv(
                &mut i,
                "trunc_sat_u",
                &[v(f32x4([nan, 5e9, -3.0, 4294967040.0]))]
            ),
            i32x4([0, -1, 0, -256])
        );
        assert_eq!(
            callv(&mut i, "trunc_sat_zero_s", &[v(f64x2([f64::NAN, -1e300]))]),
            i32x4([0, i32::MIN, 0, 0])
        );
        assert_eq!(
            callv(
                &mut i,
                "trunc_sat_zero_u",
                &[v(f64x2([4294967295.9, -0.5]))]
            ),
            i32x4([-1, 0, 0, 0])
        );
        assert_eq!(
            callv(&mut i, "convert_u", &[v(i32x4([-1, 1, i32::MIN, 0]))]),
            f32x4([4294967296.0, 1.0, 2147483648.0, 0.0])
        );
        assert_eq!(
            callv(&mut i, "convert_low_u", &[v(i32x4([-1, 7, 9, 9]))]),
            f64x2([4294967295.0, 7.0])
        );
        assert_eq!(
            callv(&mut i, "demote", &[v(f64x2([1e300, 0.5]))]),
            f32x4([f32::INFINITY, 0.5, 0.0, 0.0])
        );
        // Narrowing saturates.
        let w = i16x8([300, -300, 127, -128, 0, 1, -1, 200]);
        assert_eq!(
            callv(&mut i, "narrow_s", &[v(w), v(w)]),
            i8x16([127, -128, 127, -128, 0, 1, -1, 127, 127, -128, 127, -128, 0, 1, -1, 127])
        );
        let d = i32x4([70000, -5, 65535, 1]);
        assert_eq!(
            callv(&mut i, "narrow_u", &[v(d), v(d)]),
            i16x8([-1, 0, -1, 1, -1, 0, -1, 1])
        );
        let q = i16x8([i16::MIN, i16::MIN, 0x4000, -0x4000, 1, 0x7fff, 3, -3]);
        let r = i16x8([
            i16::MIN,
            i16::MAX,
            0x4000,
            0x4000,
            0x4000,
            0x7fff,
            0,
            0x7fff,
        ]);
        assert_eq!(
            callv(&mut i, "q15", &[v(q), v(r)]),
            i16x8([0x7fff, -0x7fff, 0x2000, -0x2000, 1, 0x7ffe, 0, -3])
        );
        assert_eq!(
            callv(&mut i, "avgr", &[v(i8x16([-1; 16])), v(i8x16([0; 16]))]),
            i8x16([-128; 16])
        );
        assert_eq!(
            callv(
                &mut i,
                "dot",
                &[v(i16x8([i16::MIN; 8])), v(i16x8([i16::MIN; 8]))]
            ),
            i32x4([i32::MIN; 4])
        );
        assert_eq!(
            callv(&mut i, "extadd_u", &[v(i8x16([-1; 16]))]),
            i16x8([510; 8])
        );
        assert_eq!(
            callv(
                &mut i,
                "extmul_high_s",
                &[
                    v(i32x4([0, 0, -2, i32::MIN])),
                    v(i32x4([0, 0, 3, i32::MIN]))
                ]
            ),
            i64x2([-6, 1 << 62])
        );
        assert_eq!(
            callv(
                &mut i,
                "abs8",
                &[v(i8x16([
                    -128, -1, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
                ]))]
            ),
            i8x16([-128, 1, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
        );
        assert_eq!(
            callv(
                &mut i,
                "popcnt",
                &[v(i8x16([
                    -1, 0, 3, 0x55, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1
                ]))]
            ),
            i8x16([8, 0, 2, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])
        );
        assert_eq!(
            callv(
                &mut i,
                "add_sat_u16",
                &[v(i16x8([-2; 8])), v(i16x8([5; 8]))]
            ),
            i16x8([-1; 8])
        );
        let signs = i8x16([-1, 0, -128, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, -5]);
        assert_eq!(i.call1("bitmask8", &[v(signs)]), Ok(0x8005));
        assert_eq!(i.call1("bitmask64", &[v(i64x2([1, -1]))]), Ok(2));
        assert_eq!(
            i.call1("all_true16", &[v(i16x8([1, 2, 3, 4, 5, 6, 7, -1]))]),
            Ok(1)
        );
        assert_eq!(
            i.call1("all_true16", &[v(i16x8([1, 2, 3, 4, 0, 6, 7, -1]))]),
            Ok(0)
        );
        assert_eq!(i.call1("any_true", &[v(1 << 127)]), Ok(1));
        assert_eq!(i.call1("any_true", &[v(0)]), Ok(0));
        assert_eq!(i.call1("lane_s", &[v(signs)]), Ok(-5i32 as u32 as u64));
        assert_eq!(
            i.call1("lane_u", &[v(i16x8([0, 0, 0, 0, 0, 0, 0, -2]))]),
            Ok(0xfffe)
        );
        assert_eq!(
            callv(&mut i, "bitselect", &[v(u128::MAX), v(0), v(0xff00)]),
            0xff00
        );
        assert_eq!(callv(&mut i, "andnot", &[v(0b1100), v(0b1010)]), 0b0100);
        // Memory: data bytes are 0..=15, 0x80, 0xff.
        let sum = i16x8([-118, -117, -116, -115, -114, -113, -256, -129]);
        let lane0 = (sum as u32).wrapping_add(0x0706_0504);
        let want = (sum & !0xffff_ffff) | u128::from(lane0);
        let want = (want & !(0xffff << 112)) | 0xff80 << 112;
        assert_eq!(callv(&mut i, "loads", &[]), want);
        let s = i8x16(core::array::from_fn(|l| l as i8 + 1));
        assert_eq!(i.call1("store_lane", &[v(s)]), Ok(0x0008_0706_0510));
    }
}
