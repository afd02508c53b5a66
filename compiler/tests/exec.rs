//! Semantics of compiled code, checked by running it on the host (see `harness`).

mod harness;

use hako_abi::trap::TrapCode;
use hako_abi::vm::ValRaw;
use harness::{Instance, OptLevel, Options, Outcome};

fn v32(x: i32) -> ValRaw {
    ValRaw::from_u32(x as u32)
}
fn v64(x: i64) -> ValRaw {
    ValRaw::from_u64(x as u64)
}
fn f32v(x: f32) -> ValRaw {
    ValRaw::from_u32(x.to_bits())
}
fn f64v(x: f64) -> ValRaw {
    ValRaw::from_u64(x.to_bits())
}
fn trap(code: TrapCode) -> Result<u64, Outcome> {
    Err(Outcome::Trap(code))
}

fn instances(src: &str) -> Vec<Instance> {
    let wasm = wat::parse_str(src).unwrap();
    [OptLevel::O0, OptLevel::O2]
        .into_iter()
        .map(|opt_level| {
            Instance::with_options(
                &wasm,
                &Options {
                    opt_level,
                    ..Options::default()
                },
            )
        })
        .collect()
}

const INT: &str = r#"(module
  (func (export "div_s") (param i32 i32) (result i32) (i32.div_s (local.get 0) (local.get 1)))
  (func (export "div_u") (param i32 i32) (result i32) (i32.div_u (local.get 0) (local.get 1)))
  (func (export "rem_s") (param i32 i32) (result i32) (i32.rem_s (local.get 0) (local.get 1)))
  (func (export "rem_u") (param i32 i32) (result i32) (i32.rem_u (local.get 0) (local.get 1)))
  (func (export "div_s64") (param i64 i64) (result i64) (i64.div_s (local.get 0) (local.get 1)))
  (func (export "rem_s64") (param i64 i64) (result i64) (i64.rem_s (local.get 0) (local.get 1)))
  (func (export "shl") (param i32 i32) (result i32) (i32.shl (local.get 0) (local.get 1)))
  (func (export "shr_s") (param i32 i32) (result i32) (i32.shr_s (local.get 0) (local.get 1)))
  (func (export "shr_u64") (param i64 i64) (result i64) (i64.shr_u (local.get 0) (local.get 1)))
  (func (export "rotl") (param i32 i32) (result i32) (i32.rotl (local.get 0) (local.get 1)))
  (func (export "rotr64") (param i64 i64) (result i64) (i64.rotr (local.get 0) (local.get 1)))
  (func (export "clz") (param i32) (result i32) (i32.clz (local.get 0)))
  (func (export "ctz64") (param i64) (result i64) (i64.ctz (local.get 0)))
  (func (export "popcnt") (param i32) (result i32) (i32.popcnt (local.get 0)))
  (func (export "ext8") (param i32) (result i32) (i32.extend8_s (local.get 0)))
  (func (export "ext32") (param i64) (result i64) (i64.extend32_s (local.get 0)))
  (func (export "wrap") (param i64) (result i32) (i32.wrap_i64 (local.get 0)))
  (func (export "extend_u") (param i32) (result i64) (i64.extend_i32_u (local.get 0)))
  (func (export "lt_u") (param i32 i32) (result i32) (i32.lt_u (local.get 0) (local.get 1)))
)"#;

#[test]
fn integer_semantics() {
    for mut i in instances(INT) {
        assert_eq!(
            i.call1("div_s", &[v32(7), v32(-2)]),
            Ok(-3i32 as u32 as u64)
        );
        assert_eq!(
            i.call1("div_s", &[v32(1), v32(0)]),
            trap(TrapCode::IntegerDivideByZero)
        );
        assert_eq!(
            i.call1("div_s", &[v32(i32::MIN), v32(-1)]),
            trap(TrapCode::IntegerOverflow)
        );
        assert_eq!(i.call1("div_u", &[v32(-1), v32(2)]), Ok(0x7fff_ffff));
        assert_eq!(
            i.call1("div_u", &[v32(1), v32(0)]),
            trap(TrapCode::IntegerDivideByZero)
        );
        assert_eq!(i.call1("rem_s", &[v32(i32::MIN), v32(-1)]), Ok(0));
        assert_eq!(
            i.call1("rem_s", &[v32(-7), v32(2)]),
            Ok(-1i32 as u32 as u64)
        );
        assert_eq!(
            i.call1("rem_s", &[v32(1), v32(0)]),
            trap(TrapCode::IntegerDivideByZero)
        );
        assert_eq!(i.call1("rem_u", &[v32(-1), v32(10)]), Ok(5));
        assert_eq!(
            i.call1("div_s64", &[v64(i64::MIN), v64(-1)]),
            trap(TrapCode::IntegerOverflow)
        );
        assert_eq!(i.call1("rem_s64", &[v64(i64::MIN), v64(-1)]), Ok(0));
        assert_eq!(i.call1("shl", &[v32(1), v32(33)]), Ok(2));
        assert_eq!(
            i.call1("shr_s", &[v32(-8), v32(-31)]),
            Ok(-4i32 as u32 as u64)
        );
        assert_eq!(i.call1("shr_u64", &[v64(-1), v64(127)]), Ok(1));
        assert_eq!(
            i.call1("rotl", &[v32(0x8000_0001u32 as i32), v32(33)]),
            Ok(3)
        );
        assert_eq!(i.call1("rotr64", &[v64(1), v64(65)]), Ok(1u64 << 63));
        assert_eq!(i.call1("clz", &[v32(0)]), Ok(32));
        assert_eq!(i.call1("ctz64", &[v64(0)]), Ok(64));
        assert_eq!(i.call1("popcnt", &[v32(-1)]), Ok(32));
        assert_eq!(i.call1("ext8", &[v32(0x80)]), Ok(0xffff_ff80));
        assert_eq!(
            i.call1("ext32", &[v64(0x8000_0000)]),
            Ok(0xffff_ffff_8000_0000)
        );
        assert_eq!(i.call1("wrap", &[v64(0x1_2345_6789)]), Ok(0x2345_6789));
        assert_eq!(i.call1("extend_u", &[v32(-1)]), Ok(0xffff_ffff));
        assert_eq!(i.call1("lt_u", &[v32(1), v32(-1)]), Ok(1));
    }
}

const FLOAT: &str = r#"(module
  (func (export "min") (param f32 f32) (result f32) (f32.min (local.get 0) (local.get 1)))
  (func (export "max64") (param f64 f64) (result f64) (f64.max (local.get 0) (local.get 1)))
  (func (export "nearest") (param f64) (result f64) (f64.nearest (local.get 0)))
  (func (export "copysign") (param f32 f32) (result f32) (f32.copysign (local.get 0) (local.get 1)))
  (func (export "neg") (param f64) (result f64) (f64.neg (local.get 0)))
  (func (export "ne") (param f64 f64) (result i32) (f64.ne (local.get 0) (local.get 1)))
  (func (export "i32_trunc_f32_s") (param f32) (result i32) (i32.trunc_f32_s (local.get 0)))
  (func (export "i32_trunc_f64_s") (param f64) (result i32) (i32.trunc_f64_s (local.get 0)))
  (func (export "i32_trunc_f64_u") (param f64) (result i32) (i32.trunc_f64_u (local.get 0)))
  (func (export "i64_trunc_f64_s") (param f64) (result i64) (i64.trunc_f64_s (local.get 0)))
  (func (export "i64_trunc_f32_u") (param f32) (result i64) (i64.trunc_f32_u (local.get 0)))
  (func (export "i32_sat_f32_s") (param f32) (result i32) (i32.trunc_sat_f32_s (local.get 0)))
  (func (export "i64_sat_f64_u") (param f64) (result i64) (i64.trunc_sat_f64_u (local.get 0)))
  (func (export "f32_convert_u64") (param i64) (result f32) (f32.convert_i64_u (local.get 0)))
  (func (export "f64_const_nan") (result i64) (i64.reinterpret_f64 (f64.const nan:0x4000000000001)))
  (func (export "f32_demote") (param f64) (result f32) (f32.demote_f64 (local.get 0)))
)"#;

#[test]
fn float_semantics() {
    let f = |x: f32| Ok(u64::from(x.to_bits()));
    let d = |x: f64| Ok(x.to_bits());
    for mut i in instances(FLOAT) {
        assert_eq!(i.call1("min", &[f32v(-0.0), f32v(0.0)]), f(-0.0));
        assert_eq!(i.call1("min", &[f32v(0.0), f32v(-0.0)]), f(-0.0));
        let nan = i.call1("min", &[f32v(1.0), f32v(f32::NAN)]).unwrap();
        assert!(f32::from_bits(nan as u32).is_nan());
        // A signalling NaN operand comes out quiet (spec f32.wast: nan:arithmetic).
        let snan = ValRaw::from_u32(0x7fa0_0000);
        for args in [[snan, f32v(0.0)], [f32v(-1.0), snan]] {
            let r = i.call1("min", &args).unwrap() as u32;
            assert_eq!(
                r & 0x7fc0_0000,
                0x7fc0_0000,
                "min of a signalling NaN gave {r:#x}"
            );
        }
        assert_eq!(i.call1("max64", &[f64v(-0.0), f64v(0.0)]), d(0.0));
        assert!(f64::from_bits(i.call1("max64", &[f64v(f64::NAN), f64v(1.0)]).unwrap()).is_nan());
        assert_eq!(i.call1("nearest", &[f64v(2.5)]), d(2.0));
        assert_eq!(i.call1("nearest", &[f64v(-3.5)]), d(-4.0));
        assert_eq!(i.call1("nearest", &[f64v(-0.4)]), d(-0.0));
        assert_eq!(i.call1("copysign", &[f32v(1.5), f32v(-0.0)]), f(-1.5));
        assert_eq!(i.call1("neg", &[f64v(0.0)]), d(-0.0));
        assert_eq!(i.call1("ne", &[f64v(f64::NAN), f64v(f64::NAN)]), Ok(1));
        assert_eq!(
            i.call1("i32_trunc_f32_s", &[f32v(-2147483648.0)]),
            Ok(0x8000_0000)
        );
        assert_eq!(
            i.call1("i32_trunc_f32_s", &[f32v(2147483648.0)]),
            trap(TrapCode::IntegerOverflow)
        );
        assert_eq!(
            i.call1("i32_trunc_f32_s", &[f32v(f32::NAN)]),
            trap(TrapCode::InvalidConversionToInteger)
        );
        assert_eq!(
            i.call1("i32_trunc_f64_s", &[f64v(-2147483648.9)]),
            Ok(0x8000_0000)
        );
        assert_eq!(
            i.call1("i32_trunc_f64_s", &[f64v(-2147483649.0)]),
            trap(TrapCode::IntegerOverflow)
        );
        assert_eq!(
            i.call1("i32_trunc_f64_s", &[f64v(2147483647.9)]),
            Ok(0x7fff_ffff)
        );
        assert_eq!(i.call1("i32_trunc_f64_u", &[f64v(-0.9)]), Ok(0));
        assert_eq!(
            i.call1("i32_trunc_f64_u", &[f64v(-1.0)]),
            trap(TrapCode::IntegerOverflow)
        );
        assert_eq!(
            i.call1("i32_trunc_f64_u", &[f64v(4294967295.9)]),
            Ok(0xffff_ffff)
        );
        assert_eq!(
            i.call1("i32_trunc_f64_u", &[f64v(4294967296.0)]),
            trap(TrapCode::IntegerOverflow)
        );
        assert_eq!(
            i.call1("i64_trunc_f64_s", &[f64v(-9223372036854775808.0)]),
            Ok(1 << 63)
        );
        assert_eq!(
            i.call1("i64_trunc_f64_s", &[f64v(9223372036854775808.0)]),
            trap(TrapCode::IntegerOverflow)
        );
        assert_eq!(
            i.call1("i64_trunc_f32_u", &[f32v(18446742974197923840.0)]),
            Ok(18446742974197923840)
        );
        assert_eq!(
            i.call1("i64_trunc_f32_u", &[f32v(f32::INFINITY)]),
            trap(TrapCode::IntegerOverflow)
        );
        assert_eq!(i.call1("i32_sat_f32_s", &[f32v(f32::NAN)]), Ok(0));
        assert_eq!(i.call1("i32_sat_f32_s", &[f32v(-1e10)]), Ok(0x8000_0000));
        assert_eq!(i.call1("i64_sat_f64_u", &[f64v(1e30)]), Ok(u64::MAX));
        assert_eq!(i.call1("i64_sat_f64_u", &[f64v(-5.0)]), Ok(0));
        assert_eq!(
            i.call1("f32_convert_u64", &[v64(-1)]),
            f(18446744073709551616.0)
        );
        assert_eq!(i.call1("f64_const_nan", &[]), Ok(0x7ff4_0000_0000_0001));
        assert_eq!(i.call1("f32_demote", &[f64v(1e300)]), f(f32::INFINITY));
    }
}

const MEMORY: &str = r#"(module
  (memory 1 3)
  (data (i32.const 16) "\01\02\03\04\05\06\07\08\ff")
  (global $g (mut i32) (i32.const 41))
  (func (export "load8_s") (param i32) (result i32) (i32.load8_s (local.get 0)))
  (func (export "load16_u") (param i32) (result i32) (i32.load16_u offset=1 (local.get 0)))
  (func (export "load64") (param i32) (result i64) (i64.load offset=16 (local.get 0)))
  (func (export "store_load") (param i32 i64) (result i64)
    (i64.store32 (local.get 0) (local.get 1)) (i64.load (local.get 0)))
  (func (export "drop_load") (param i32) (drop (i32.load (local.get 0))))
  (func (export "drop_load8_s") (param i32) (drop (i64.load8_s (local.get 0))))
  (func (export "big_offset") (param i32) (result i32) (i32.load offset=4294967295 (local.get 0)))
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "size") (result i32) (memory.size))
  (func (export "grow_then_load") (result i32)
    (drop (memory.grow (i32.const 1))) (i32.store (i32.const 70000) (i32.const 9)) (i32.load (i32.const 70000)))
  (func (export "fill_copy") (result i64)
    (memory.fill (i32.const 100) (i32.const 0xab) (i32.const 4))
    (memory.copy (i32.const 102) (i32.const 16) (i32.const 4))
    (i64.load (i32.const 100)))
  (func (export "global") (result i32) (global.set $g (i32.add (global.get $g) (i32.const 1))) (global.get $g))
)"#;

#[test]
fn memory_semantics() {
    for mut i in instances(MEMORY) {
        assert_eq!(i.call1("load8_s", &[v32(24)]), Ok(0xffff_ffff));
        assert_eq!(i.call1("load16_u", &[v32(16)]), Ok(0x0302));
        assert_eq!(i.call1("load64", &[v32(0)]), Ok(0x0807_0605_0403_0201));
        assert_eq!(i.call1("store_load", &[v32(200), v64(-1)]), Ok(0xffff_ffff));
        assert_eq!(i.call1("load8_s", &[v32(65535)]), Ok(0));
        assert_eq!(
            i.call1("load8_s", &[v32(65536)]),
            trap(TrapCode::MemoryOutOfBounds)
        );
        assert_eq!(
            i.call1("load64", &[v32(-1)]),
            trap(TrapCode::MemoryOutOfBounds)
        );
        assert_eq!(
            i.call("drop_load", &[v32(65536)]).0,
            Outcome::Trap(TrapCode::MemoryOutOfBounds)
        );
        // The dropped value is the sign extension, not the load (spec traps.wast no_dce.*).
        assert_eq!(
            i.call("drop_load8_s", &[v32(65536)]).0,
            Outcome::Trap(TrapCode::MemoryOutOfBounds)
        );
        assert_eq!(
            i.call1("big_offset", &[v32(-1)]),
            trap(TrapCode::MemoryOutOfBounds)
        );
        assert_eq!(i.call1("size", &[]), Ok(1));
        assert_eq!(i.call1("grow", &[v32(1)]), Ok(1));
        // Calls do not share state (each runs in its own child): this grows from 1 page.
        assert_eq!(i.call1("grow", &[v32(70000)]), Ok(0xffff_ffff));
        assert_eq!(i.call1("grow_then_load", &[]), Ok(9));
        assert_eq!(i.call1("fill_copy", &[]), Ok(0x0403_0201_abab_u64));
        assert_eq!(i.call1("global", &[]), Ok(42));
    }
}

/// `memory.copy` and `memory.fill` on bytes `[0, 512)` initialised to `i * 7 + 1`, returning
/// an FNV-1a hash of them: for every size class of the inline code (see `FuncEnv::by_size`)
/// and the builtin beyond it.
const BULK: &str = r#"(module
  (memory 1)
  (func $init (local i32)
    (loop (i32.store8 (local.get 0) (i32.add (i32.mul (local.get 0) (i32.const 7)) (i32.const 1)))
      (local.set 0 (i32.add (local.get 0) (i32.const 1)))
      (br_if 0 (i32.lt_u (local.get 0) (i32.const 512)))))
  (func $hash (result i64) (local i32 i64)
    (local.set 1 (i64.const 0xcbf29ce484222325))
    (loop (local.set 1 (i64.mul (i64.xor (local.get 1) (i64.load8_u (local.get 0)))
        (i64.const 0x100000001b3)))
      (local.set 0 (i32.add (local.get 0) (i32.const 1)))
      (br_if 0 (i32.lt_u (local.get 0) (i32.const 512))))
    (local.get 1))
  (func (export "copy") (param i32 i32 i32) (result i64)
    (call $init) (memory.copy (local.get 0) (local.get 1) (local.get 2)) (call $hash))
  (func (export "fill") (param i32 i32 i32) (result i64)
    (call $init) (memory.fill (local.get 0) (local.get 1) (local.get 2)) (call $hash))
)"#;

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
    })
}

#[test]
fn bulk_memory_of_every_size_and_overlap() {
    let init: Vec<u8> = (0..512u32).map(|i| (i * 7 + 1) as u8).collect();
    let sizes = [
        0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 48, 63, 64, 65, 100, 200,
    ];
    let wasm = wat::parse_str(BULK).unwrap();
    for opt_level in [OptLevel::O0, OptLevel::O2, OptLevel::O3] {
        let options = Options {
            opt_level,
            ..Options::default()
        };
        let mut i = Instance::with_options(&wasm, &options);
        for n in sizes {
            for (d, s) in [
                (0, 0),
                (10, 3),
                (3, 10),
                (100, 300),
                (300, 100),
                (1, 0),
                (0, 1),
            ] {
                let mut m = init.clone();
                m.copy_within(s..s + n, d);
                let got = i.call1("copy", &[v32(d as i32), v32(s as i32), v32(n as i32)]);
                assert_eq!(got, Ok(fnv(&m)), "copy d {d} s {s} n {n}");
            }
            let mut m = init.clone();
            m[5..5 + n].fill(0xa7);
            let got = i.call1("fill", &[v32(5), v32(0x1a7), v32(n as i32)]);
            assert_eq!(got, Ok(fnv(&m)), "fill n {n}");
        }
        assert_eq!(
            i.call1("copy", &[v32(65530), v32(0), v32(7)]),
            trap(TrapCode::MemoryOutOfBounds)
        );
        assert_eq!(
            i.call1("fill", &[v32(65536), v32(0), v32(1)]),
            trap(TrapCode::MemoryOutOfBounds)
        );
        assert!(i.call1("fill", &[v32(65536), v32(0), v32(0)]).is_ok());
    }
}

const CALLS: &str = r#"(module
  (type $ii (func (param i32) (result i32)))
  (type $v (func))
  (table 3 3 funcref)
  (elem (i32.const 0) func $double $nothing)
  (func $double (param i32) (result i32) (i32.mul (local.get 0) (i32.const 2)))
  (func $nothing)
  (func $fact (export "fact") (param i64) (result i64)
    (if (result i64) (i64.le_s (local.get 0) (i64.const 1)) (then (i64.const 1))
      (else (i64.mul (local.get 0) (call $fact (i64.sub (local.get 0) (i64.const 1)))))))
  (func (export "indirect") (param i32 i32) (result i32) (call_indirect (type $ii) (local.get 0) (local.get 1)))
  (func $swap (param i32 i64) (result i64 i32) (local.get 1) (local.get 0))
  (func (export "multi") (result i64)
    (call $swap (i32.const 3) (i64.const 40)) (i64.extend_i32_u) (i64.add))
  (func (export "pair") (param i32 i64) (result i64 i32) (call $swap (local.get 0) (local.get 1)))
  (func (export "sum") (param i32) (result i32) (local i32)
    (block $exit (loop $top
      (br_if $exit (i32.eqz (local.get 0)))
      (local.set 1 (i32.add (local.get 1) (local.get 0)))
      (local.set 0 (i32.sub (local.get 0) (i32.const 1)))
      (br $top)))
    (local.get 1))
  (func (export "switch") (param i32) (result i32)
    (block (result i32) (block (result i32) (block (result i32)
      (i32.const 10) (local.get 0) (br_table 0 1 2 1))
      (i32.const 100) (i32.add) (return))
      (i32.const 1000) (i32.add)))
  (func (export "loop_params") (param i32) (result i32)
    (i32.const 0) (local.get 0)
    (loop (param i32 i32) (result i32)
      (local.set 0) (local.get 0) (i32.add) (local.get 0) (i32.const 1) (i32.sub) (local.tee 0)
      (local.get 0) (br_if 0) (drop)))
  (func (export "if_no_else") (param i32) (result i32)
    (i32.const 5) (if (param i32) (result i32) (local.get 0) (then (i32.const 1) (i32.add))))
  (func (export "unreachable") (unreachable))
  (func (export "select") (param i32) (result i64) (select (i64.const 1) (i64.const 2) (local.get 0)))
  (func (export "ref") (param i32) (result i32)
    (ref.is_null (select (result funcref) (ref.func $double) (ref.null func) (local.get 0))))
)"#;

#[test]
fn calls_and_control() {
    for mut i in instances(CALLS) {
        assert_eq!(i.call1("fact", &[v64(20)]), Ok(2432902008176640000));
        assert_eq!(i.call1("indirect", &[v32(21), v32(0)]), Ok(42));
        assert_eq!(
            i.call1("indirect", &[v32(21), v32(1)]),
            trap(TrapCode::BadSignature)
        );
        assert_eq!(
            i.call1("indirect", &[v32(21), v32(2)]),
            trap(TrapCode::UninitializedElement)
        );
        assert_eq!(
            i.call1("indirect", &[v32(21), v32(3)]),
            trap(TrapCode::UndefinedElement)
        );
        assert_eq!(
            i.call1("indirect", &[v32(21), v32(-1)]),
            trap(TrapCode::UndefinedElement)
        );
        assert_eq!(i.call1("multi", &[]), Ok(43));
        let Outcome::Returned(pair) = i.call("pair", &[v32(7), v64(-2)]).0 else {
            panic!("pair trapped")
        };
        assert_eq!((pair[0].u64(), pair[1].u32()), (-2i64 as u64, 7));
        assert_eq!(i.call1("sum", &[v32(100)]), Ok(5050));
        assert_eq!(i.call1("switch", &[v32(0)]), Ok(110));
        assert_eq!(i.call1("switch", &[v32(1)]), Ok(1010));
        assert_eq!(i.call1("switch", &[v32(2)]), Ok(10));
        assert_eq!(i.call1("switch", &[v32(3)]), Ok(1010));
        assert_eq!(i.call1("switch", &[v32(99)]), Ok(1010));
        assert_eq!(i.call1("loop_params", &[v32(4)]), Ok(10));
        assert_eq!(i.call1("if_no_else", &[v32(0)]), Ok(5));
        assert_eq!(i.call1("if_no_else", &[v32(1)]), Ok(6));
        assert_eq!(
            i.call("unreachable", &[]).0,
            Outcome::Trap(TrapCode::Unreachable)
        );
        assert_eq!(i.call1("select", &[v32(0)]), Ok(2));
        assert_eq!(i.call1("select", &[v32(7)]), Ok(1));
        assert_eq!(i.call1("ref", &[v32(1)]), Ok(0));
        assert_eq!(i.call1("ref", &[v32(0)]), Ok(1));
    }
}

/// The steps of `fixtures/tail_calls.wat` (functions of three signatures, with 0, 1 and 5
/// stack arguments, calling each other by `return_call`, `return_call_indirect` and
/// `return_call_ref`) add 1, 22 and 36 in turn.
fn tail_sum(n: u64) -> u64 {
    (0..n % 3).map(|k| [1, 22, 36][k as usize]).sum::<u64>() + n / 3 * 59
}

#[test]
fn tail_calls_run_in_constant_stack() {
    let src = include_str!("../../fixtures/tail_calls.wat");
    for mut i in instances(src) {
        for n in [0, 1, 2, 3, 4, 5, 100] {
            assert_eq!(i.call1("steps", &[v32(n)]), Ok(tail_sum(n as u64)), "{n}");
        }
        // 10^8 steps: the harness's child has an 8 MiB stack, which as many ordinary calls
        // would exhaust 100 times over.
        assert_eq!(
            i.call1("steps", &[v32(100_000_000)]),
            Ok(tail_sum(100_000_000))
        );
    }
}

const TAIL: &str = r#"(module
  (type $unary (func (param i64) (result i64)))
  (type $five (func (param i32) (result i32 i64 i32 i64 i32)))
  (type $close_t (func (param i32) (result i32)))
  (type $open_t (func (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  ;; The harness's WASI functions answer 8 (BADF): C functions, which tables reach through
  ;; the compiler's tailcc adapters (path_open's has four stack arguments).
  (import "wasi_snapshot_preview1" "fd_close" (func $close (type $close_t)))
  (import "wasi_snapshot_preview1" "path_open" (func $open (type $open_t)))
  (table $w 2 funcref)
  (elem (table $w) (i32.const 0) func $close $open)
  (func (export "tail_wasi") (param i32) (result i32) (return_call $close (local.get 0)))
  (func (export "indirect_wasi") (param $n i32) (result i32) (local $s i32)
    (loop $l
      (local.set $s (i32.add (local.get $s)
        (call_indirect $w (type $close_t) (i32.const 3) (i32.const 0))))
      (local.set $s (i32.add (local.get $s)
        (call_indirect $w (type $open_t) (i32.const 1) (i32.const 2) (i32.const 3) (i32.const 4)
          (i32.const 5) (i64.const 6) (i64.const 7) (i32.const 8) (i32.const 9) (i32.const 1))))
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
    (local.get $s))
  (func (export "tail_indirect_wasi") (result i32)
    (return_call_indirect $w (type $open_t) (i32.const 1) (i32.const 2) (i32.const 3)
      (i32.const 4) (i32.const 5) (i64.const 6) (i64.const 7) (i32.const 8) (i32.const 9)
      (i32.const 1)))
  (table $t 2 funcref)
  (elem (table $t) (i32.const 0) func $five_down $double)
  (elem declare func $double)
  ;; Five results do not fit the registers: they go through memory the first caller
  ;; provides, whose pointer every tail call passes on (still in constant stack).
  (func $five_down (type $five) (param $n i32) (result i32 i64 i32 i64 i32)
    (if (i32.eqz (local.get $n))
      (then (return (i32.const 1) (i64.const 2) (i32.const 3) (i64.const 4) (i32.const 5))))
    (return_call_indirect $t (type $five) (i32.sub (local.get $n) (i32.const 1)) (i32.const 0)))
  (func (export "five") (param i32) (result i32)
    (call $five_down (local.get 0))
    (drop) (drop) (drop) (drop))
  (func (export "five_all") (param i32) (result i32 i64 i32 i64 i32)
    (return_call $five_down (local.get 0)))
  (func $double (type $unary) (i64.mul (local.get 0) (i64.const 2)))
  (func (export "tail_ref") (param i64 i32) (result i64)
    (return_call_ref $unary (local.get 0)
      (select (result (ref null $unary)) (ref.func $double) (ref.null $unary) (local.get 1))))
  (func (export "call_ref") (param i64 i32) (result i64)
    (call_ref $unary (local.get 0)
      (select (result (ref null $unary)) (ref.func $double) (ref.null $unary) (local.get 1))))
  (func (export "as_non_null") (param i32) (result i32)
    (ref.is_null (ref.as_non_null
      (select (result funcref) (ref.func $double) (ref.null func) (local.get 0)))))
  (func $pick (param i32) (result (ref null $unary))
    (select (result (ref null $unary)) (ref.func $double) (ref.null $unary) (local.get 0)))
  (func (export "on_null") (param i32) (result i64)
    (block $null
      (return (call_ref $unary (i64.const 21) (br_on_null $null (call $pick (local.get 0))))))
    (i64.const -1))
  (func (export "on_non_null") (param i32) (result i64)
    (local $g (ref $unary))
    (local.set $g
      (block $f (result (ref $unary))
        (br_on_non_null $f (call $pick (local.get 0)))
        (return (i64.const -1))))
    (call_ref $unary (i64.const 5) (local.get $g)))
  (func (export "local") (result i64)
    (local $f (ref $unary))
    (local.set $f (ref.func $double))
    (call_ref $unary (i64.const 4) (local.get $f)))
)"#;

#[test]
fn typed_function_references_and_tail_calls() {
    for mut i in instances(TAIL) {
        // A million steps: as ordinary calls they would exhaust the harness's 8 MiB stack.
        assert_eq!(i.call1("five", &[v32(1_000_000)]), Ok(1));
        let Outcome::Returned(r) = i.call("five_all", &[v32(1_000_000)]).0 else {
            panic!("five_all did not return")
        };
        let r: Vec<u64> = r.iter().map(|v| v.u64()).collect();
        assert_eq!(r, [1, 2, 3, 4, 5]);
        assert_eq!(i.call1("tail_ref", &[v64(21), v32(1)]), Ok(42));
        assert_eq!(
            i.call1("tail_ref", &[v64(21), v32(0)]),
            trap(TrapCode::NullFunctionReference)
        );
        assert_eq!(i.call1("call_ref", &[v64(21), v32(1)]), Ok(42));
        assert_eq!(
            i.call1("call_ref", &[v64(21), v32(0)]),
            trap(TrapCode::NullFunctionReference)
        );
        assert_eq!(i.call1("as_non_null", &[v32(1)]), Ok(0));
        assert_eq!(
            i.call1("as_non_null", &[v32(0)]),
            trap(TrapCode::NullReference)
        );
        assert_eq!(i.call1("on_null", &[v32(1)]), Ok(42));
        assert_eq!(i.call1("on_null", &[v32(0)]), Ok(-1i64 as u64));
        assert_eq!(i.call1("on_non_null", &[v32(1)]), Ok(10));
        assert_eq!(i.call1("on_non_null", &[v32(0)]), Ok(-1i64 as u64));
        assert_eq!(i.call1("local", &[]), Ok(8));
        assert_eq!(i.call1("tail_wasi", &[v32(3)]), Ok(8));
        // A stack left unbalanced by a call would not survive a thousand of them.
        assert_eq!(i.call1("indirect_wasi", &[v32(1000)]), Ok(16000));
        assert_eq!(i.call1("tail_indirect_wasi", &[]), Ok(8));
    }
}

/// Canonical type ids give a typed reference `funcref`'s code, so `$a` and `$b` below share
/// one and `call_indirect (type $b)` reaches `$g` of type `$a` (Wasm says it traps there).
/// `$g` then holds a `(ref $narrow)` that is a function of another native signature;
/// `call_ref`'s own signature check traps, with the same trap, before the wrong call.
const CONFLATED: &str = r#"(module
  (type $narrow (func (param i32) (result i64)))
  (type $wide (func (param i64 i64 i64 i64 i64 i64 i64) (result i64)))
  (type $a (func (param (ref $narrow)) (result i64)))
  (type $b (func (param (ref $wide)) (result i64)))
  (table 1 funcref)
  (elem (i32.const 0) func $g)
  (elem declare func $w $n)
  (func $g (type $a) (call_ref $narrow (i32.const 1) (local.get 0)))
  (func $w (type $wide) (local.get 6))
  (func $n (type $narrow) (i64.extend_i32_u (local.get 0)))
  (func (export "conflated") (result i64)
    (call_indirect (type $b) (ref.func $w) (i32.const 0)))
  (func (export "well_typed") (result i64)
    (call_indirect (type $a) (ref.func $n) (i32.const 0)))
)"#;

#[test]
fn call_ref_checks_the_signature_that_canonical_ids_conflate() {
    for mut i in instances(CONFLATED) {
        assert_eq!(i.call1("well_typed", &[]), Ok(1));
        assert_eq!(i.call1("conflated", &[]), trap(TrapCode::BadSignature));
    }
}

/// A real C program built with clang for wasm32-wasi, when clang-19 is installed.
#[test]
fn c_hello_world_runs() {
    let dir = std::env::temp_dir().join(format!("hako-compiler-c-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let c = dir.join("hello.c");
    std::fs::write(
        &c,
        r#"#include <stdio.h>
#include <stdlib.h>
#include <string.h>
typedef long long (*op_t)(long long, long long);
static long long add(long long a, long long b) { return a + b; }
static long long mul(long long a, long long b) { return a * b; }
int main(void) {
  volatile int k = 1;
  op_t ops[2] = {add, mul};
  char *buf = malloc(100); memset(buf, 'x', 99); buf[99] = 0; memcpy(buf, "abc", 3);
  printf("Hello, world! %lld %s %zu %.3f\n", ops[k](6, 7), buf + 96, strlen(buf), 3.14159 * k);
  return 7;
}"#,
    )
    .unwrap();
    let wasm = dir.join("hello.wasm");
    let status = std::process::Command::new("clang-19")
        .args(["--target=wasm32-wasi", "-O2", "-o"])
        .arg(&wasm)
        .arg(&c)
        .status();
    if !matches!(status, Ok(s) if s.success()) {
        eprintln!("clang-19 for wasm32-wasi not available; skipping");
        return;
    }
    let wasm = std::fs::read(&wasm).unwrap();
    let mut i = Instance::new(&wasm);
    let (outcome, output) = i.call("_start", &[]);
    assert_eq!(output, "Hello, world! 42 xxx 99 3.142\n");
    assert_eq!(outcome, Outcome::Exit(7));
}

/// A module large enough to be compiled in parts runs the same as one part once the parts
/// are merged into one object: calls, indirect calls and constants cross part boundaries.
#[test]
fn a_module_compiled_in_parts_runs_from_the_merged_object() {
    const N: u32 = 300;
    let key = |i: u32| (0..150u32).fold(0u32, |k, j| k ^ ((i * 7 + j) % 100));
    let mut src = String::from("(module (table funcref (elem");
    for i in 0..N {
        src += &format!(" {i}");
    }
    src += "))\n(memory 1) (data (i32.const 16) \"\\2a\")\n";
    // Function `i` xors its argument with its constants and calls `i - 1`.
    for i in 0..N {
        src += "(func (param i32) (result i32) local.get 0\n";
        for j in 0..150 {
            src += &format!("i32.const {} i32.xor\n", (i * 7 + j) % 100);
        }
        if i > 0 {
            src += &format!("call {}\n", i - 1);
        }
        src += ")\n";
    }
    src += &format!(
        r#"(func (export "last") (param i32) (result i32) local.get 0 call {last})
  (func (export "dispatch") (param i32 i32) (result i32)
    local.get 1 local.get 0 call_indirect (param i32) (result i32))
  (func (export "scaled") (param i32) (result i32)
    local.get 0 f64.convert_i32_s f64.const 1.5 f64.mul i32.trunc_f64_s
    i32.const 16 i32.load8_u i32.add))"#,
        last = N - 1
    );
    let wasm = wat::parse_str(&src).unwrap();
    let expected = |i: u32, x: u32| (0..=i).fold(x, |acc, k| acc ^ key(k));
    for threads in [1, 3] {
        let mut instance = Instance::with_options(
            &wasm,
            &Options {
                threads,
                opt_level: OptLevel::O0,
                ..Options::default()
            },
        );
        let x = 0x1234_5678u32;
        assert_eq!(
            instance.call1("last", &[ValRaw::from_u32(x)]),
            Ok(u64::from(expected(N - 1, x))),
            "-j {threads}"
        );
        for index in [0, N / 2, N - 1] {
            assert_eq!(
                instance.call1("dispatch", &[v32(index as i32), ValRaw::from_u32(x)]),
                Ok(u64::from(expected(index, x))),
                "-j {threads}: call_indirect {index}"
            );
        }
        assert_eq!(instance.call1("scaled", &[v32(10)]), Ok(57), "-j {threads}");
    }
}
