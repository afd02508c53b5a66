//! What a command is expected to do, and the comparison with what the kernel reported.
//!
//! The rules are the reference interpreter's (`interpreter/script/run.ml`):
//!
//! - numbers compare bit for bit, floats included (`-0.0` is not `0.0`, NaN payloads count);
//! - `nan:canonical` matches a NaN whose payload is exactly the quiet bit (either sign),
//!   `nan:arithmetic` any NaN with the quiet bit set; in a `v128` pattern each lane is checked
//!   on its own;
//! - `ref.null` matches any null reference, `ref.extern N` the externref the script created
//!   as `N` (and plain `ref.extern` any non-null one), `ref.func` any non-null funcref;
//! - a trap matches when the spec's message is a prefix of ours (the reference interpreter
//!   checks the same way), or when it is our message followed by a space and details our
//!   messages do not carry (the reference interpreter writes "uninitialized element 2",
//!   with the index; ours is "uninitialized element", as Wasmtime's is);
//!   `assert_exhaustion` expects the stack-overflow trap.

use hako_abi::script::Outcome;
use hako_abi::trap::TrapCode;
use hako_abi::valtype;

use super::Status;

/// One lane or scalar float pattern over the raw bits of an `f32` (`u32`) or `f64` (`u64`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FloatPattern<T> {
    Bits(T),
    CanonicalNan,
    ArithmeticNan,
}

/// The expected shape of one result value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValuePattern {
    I32(u32),
    I64(u64),
    F32(FloatPattern<u32>),
    F64(FloatPattern<u64>),
    /// Integer lanes: all 128 bits exact.
    V128(u128),
    F32x4([FloatPattern<u32>; 4]),
    F64x2([FloatPattern<u64>; 2]),
    RefNull,
    /// `ref.extern N`, or any non-null externref when `None`.
    RefExtern(Option<u32>),
    /// Any non-null funcref.
    RefFunc,
    /// `ref.host N`: a host reference as an `anyref`.
    RefHost(u32),
    /// Any non-null reference of the `any` hierarchy (`ref.any`), of `eq` (`ref.eq`: `i31`,
    /// struct or array), a struct, an array, an `i31`.
    RefAny,
    RefEq,
    RefStruct,
    RefArray,
    RefI31,
    /// Any of these (the `either` of the relaxed-SIMD and threads tests).
    Either(Vec<ValuePattern>),
}

/// What a command must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// A `module` or `module instance` directive: instantiation succeeds.
    Instantiated,
    /// `register` or a bare `invoke`: it succeeds, results are not checked.
    Success,
    /// `assert_return`.
    Return(Vec<ValuePattern>),
    /// `assert_trap` (on an invoke or on instantiation), with the spec's message.
    Trap(String),
    /// `assert_exhaustion`.
    Exhaustion,
    /// `assert_unlinkable`.
    Unlinkable(String),
    /// `assert_exception`.
    Exception,
}

impl std::fmt::Display for Expect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Expect::Instantiated => write!(f, "instantiation to succeed"),
            Expect::Success => write!(f, "success"),
            Expect::Return(values) => {
                write!(f, "(")?;
                for (i, v) in values.iter().enumerate() {
                    if i > 0 {
                        write!(f, " ")?;
                    }
                    write!(f, "{}", show_pattern(v))?;
                }
                write!(f, ")")
            }
            Expect::Trap(m) => write!(f, "trap \"{m}\""),
            Expect::Exhaustion => write!(f, "trap \"{}\"", TrapCode::StackOverflow.message()),
            Expect::Unlinkable(m) => write!(f, "unlinkable \"{m}\""),
            Expect::Exception => write!(f, "an uncaught exception"),
        }
    }
}

fn show_float<T: std::fmt::LowerHex>(p: &FloatPattern<T>, width: usize) -> String {
    match p {
        FloatPattern::Bits(b) => format!("0x{b:0width$x}"),
        FloatPattern::CanonicalNan => "nan:canonical".into(),
        FloatPattern::ArithmeticNan => "nan:arithmetic".into(),
    }
}

fn show_pattern(p: &ValuePattern) -> String {
    match p {
        ValuePattern::I32(v) => format!("i32:{v:08x}"),
        ValuePattern::I64(v) => format!("i64:{v:016x}"),
        ValuePattern::F32(p) => format!("f32:{}", show_float(p, 8)),
        ValuePattern::F64(p) => format!("f64:{}", show_float(p, 16)),
        ValuePattern::V128(v) => format!("v128:{v:032x}"),
        ValuePattern::F32x4(l) => format!(
            "f32x4:[{}]",
            l.iter()
                .map(|p| show_float(p, 8))
                .collect::<Vec<_>>()
                .join(" ")
        ),
        ValuePattern::F64x2(l) => format!(
            "f64x2:[{}]",
            l.iter()
                .map(|p| show_float(p, 16))
                .collect::<Vec<_>>()
                .join(" ")
        ),
        ValuePattern::RefNull => "ref.null".into(),
        ValuePattern::RefExtern(Some(n)) => format!("ref.extern {n}"),
        ValuePattern::RefExtern(None) => "ref.extern".into(),
        ValuePattern::RefFunc => "ref.func".into(),
        ValuePattern::RefHost(n) => format!("ref.host {n}"),
        ValuePattern::RefAny => "ref.any".into(),
        ValuePattern::RefEq => "ref.eq".into(),
        ValuePattern::RefStruct => "ref.struct".into(),
        ValuePattern::RefArray => "ref.array".into(),
        ValuePattern::RefI31 => "ref.i31".into(),
        ValuePattern::Either(ps) => format!(
            "either({})",
            ps.iter().map(show_pattern).collect::<Vec<_>>().join(" | ")
        ),
    }
}

/// Shows a reported outcome the way failure messages print it.
pub fn show_outcome(outcome: &Outcome<'_>) -> String {
    match outcome {
        Outcome::Ok(values) => {
            let words: Vec<String> = values
                .iter()
                .map(|v| match v {
                    Ok((t, bits)) => {
                        let mut s = String::new();
                        let _ = hako_abi::script::write_value(&mut s, t, bits);
                        s
                    }
                    Err(w) => w.to_string(),
                })
                .collect();
            format!("({})", words.join(" "))
        }
        Outcome::Instantiated => "instantiated".into(),
        Outcome::Trap { code, message } => format!("trap \"{}\"", trap_message(*code, message)),
        Outcome::Unlinkable(m) => format!("unlinkable \"{m}\""),
        Outcome::Exception => "an uncaught exception".into(),
        Outcome::Error(m) => format!("kernel error \"{m}\""),
    }
}

/// The message of a reported trap: ours for a known code, else what the kernel printed.
fn trap_message(code: u32, reported: &str) -> &str {
    TrapCode::from_u32(code).map_or(reported, |c| c.message())
}

const F32_QUIET: u32 = 0x0040_0000;
const F32_EXP: u32 = 0x7f80_0000;
const F64_QUIET: u64 = 0x0008_0000_0000_0000;
const F64_EXP: u64 = 0x7ff0_0000_0000_0000;

fn f32_matches(p: &FloatPattern<u32>, bits: u32) -> bool {
    match *p {
        FloatPattern::Bits(b) => b == bits,
        FloatPattern::CanonicalNan => bits & 0x7fff_ffff == F32_EXP | F32_QUIET,
        FloatPattern::ArithmeticNan => bits & (F32_EXP | F32_QUIET) == F32_EXP | F32_QUIET,
    }
}

fn f64_matches(p: &FloatPattern<u64>, bits: u64) -> bool {
    match *p {
        FloatPattern::Bits(b) => b == bits,
        FloatPattern::CanonicalNan => bits & 0x7fff_ffff_ffff_ffff == F64_EXP | F64_QUIET,
        FloatPattern::ArithmeticNan => bits & (F64_EXP | F64_QUIET) == F64_EXP | F64_QUIET,
    }
}

/// Does the reported value `(valtype, bits)` match the pattern?
pub fn value_matches(p: &ValuePattern, t: u8, bits: u128) -> bool {
    use ValuePattern as P;
    match p {
        P::I32(v) => t == valtype::I32 && bits == *v as u128,
        P::I64(v) => t == valtype::I64 && bits == *v as u128,
        P::F32(p) => t == valtype::F32 && bits >> 32 == 0 && f32_matches(p, bits as u32),
        P::F64(p) => t == valtype::F64 && bits >> 64 == 0 && f64_matches(p, bits as u64),
        P::V128(v) => t == valtype::V128 && bits == *v,
        P::F32x4(lanes) => {
            t == valtype::V128
                && lanes
                    .iter()
                    .enumerate()
                    .all(|(i, l)| f32_matches(l, (bits >> (32 * i)) as u32))
        }
        P::F64x2(lanes) => {
            t == valtype::V128
                && lanes
                    .iter()
                    .enumerate()
                    .all(|(i, l)| f64_matches(l, (bits >> (64 * i)) as u64))
        }
        P::RefNull => is_ref(t) && bits == 0,
        P::RefExtern(Some(n)) => {
            t == valtype::EXTERNREF && bits == hako_abi::script::extern_ref_bits(*n)
        }
        P::RefExtern(None) => t == valtype::EXTERNREF && bits != 0,
        P::RefFunc => t == valtype::FUNCREF && bits != 0,
        P::RefHost(n) => t == valtype::ANYREF && bits == hako_abi::script::extern_ref_bits(*n),
        P::RefAny => is_any(t) && bits != 0,
        P::RefEq => {
            matches!(t, valtype::I31REF | valtype::STRUCTREF | valtype::ARRAYREF) && bits != 0
        }
        P::RefStruct => t == valtype::STRUCTREF && bits != 0,
        P::RefArray => t == valtype::ARRAYREF && bits != 0,
        P::RefI31 => t == valtype::I31REF && bits != 0,
        P::Either(ps) => ps.iter().any(|p| value_matches(p, t, bits)),
    }
}

fn is_ref(t: u8) -> bool {
    t == valtype::FUNCREF || t == valtype::EXTERNREF || t == valtype::EXNREF || is_any(t)
}

/// The `any` hierarchy, as result lines name its values' kinds.
fn is_any(t: u8) -> bool {
    matches!(
        t,
        valtype::ANYREF | valtype::EQREF | valtype::I31REF | valtype::STRUCTREF | valtype::ARRAYREF
    )
}

/// Compare a reported outcome with the expectation: passed, or failed with the actual
/// outcome ([`show_outcome`]).
pub fn compare(expect: &Expect, outcome: &Outcome<'_>) -> Status {
    if matches(expect, outcome) {
        Status::Passed
    } else {
        Status::Failed {
            expected: expect.to_string(),
            actual: show_outcome(outcome),
        }
    }
}

/// Whether the reported outcome is what the command must do.
fn matches(expect: &Expect, outcome: &Outcome<'_>) -> bool {
    match (expect, outcome) {
        (Expect::Instantiated, Outcome::Instantiated) => true,
        (Expect::Success, Outcome::Ok(_) | Outcome::Instantiated) => true,
        (Expect::Return(patterns), Outcome::Ok(values)) => {
            let values: Vec<_> = values.iter().collect();
            values.len() == patterns.len()
                && patterns
                    .iter()
                    .zip(&values)
                    .all(|(p, v)| matches!(v, Ok((t, b)) if value_matches(p, *t, *b)))
        }
        (Expect::Trap(expected), Outcome::Trap { code, message }) => {
            let ours = trap_message(*code, message);
            ours.starts_with(expected.as_str())
                || expected
                    .strip_prefix(ours)
                    .is_some_and(|rest| rest.starts_with(' '))
        }
        (Expect::Exhaustion, Outcome::Trap { code, .. }) => *code == TrapCode::StackOverflow as u32,
        // The kernel is asked for the spec's wording but the check, like Wasmtime's, only
        // needs the instantiation to be refused at link time.
        (Expect::Unlinkable(_), Outcome::Unlinkable(_)) => true,
        (Expect::Exception, Outcome::Exception) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hako_abi::script::parse_result_line;

    fn outcome(line: &str) -> Outcome<'_> {
        parse_result_line(line).unwrap().outcome
    }

    #[test]
    fn floats_compare_bit_exactly() {
        let e = Expect::Return(vec![ValuePattern::F32(FloatPattern::Bits(0x8000_0000))]);
        assert!(matches(&e, &outcome("r 0 ok f32:80000000")));
        assert_eq!(
            compare(&e, &outcome("r 0 ok f32:00000000")),
            Status::Failed {
                expected: e.to_string(),
                actual: "(f32:00000000)".into()
            }
        );
        // The type counts, not only the bits.
        assert!(!matches(&e, &outcome("r 0 ok i32:80000000")));
        let e = Expect::Return(vec![ValuePattern::F64(FloatPattern::Bits(
            0x7ff8_0000_0000_0001,
        ))]);
        assert!(matches(&e, &outcome("r 0 ok f64:7ff8000000000001")));
        assert!(!matches(&e, &outcome("r 0 ok f64:7ff8000000000000")));
    }

    #[test]
    fn nan_patterns() {
        use FloatPattern::*;
        for (bits, canonical, arithmetic) in [
            (0x7fc0_0000u32, true, true),
            (0xffc0_0000, true, true),
            (0x7fc0_0001, false, true),
            (0x7fa0_0000, false, false), // signalling
            (0x7f80_0000, false, false), // infinity
            (0x3f80_0000, false, false),
        ] {
            assert_eq!(f32_matches(&CanonicalNan, bits), canonical, "{bits:x}");
            assert_eq!(f32_matches(&ArithmeticNan, bits), arithmetic, "{bits:x}");
        }
        assert!(f64_matches(&CanonicalNan, 0xfff8_0000_0000_0000));
        assert!(!f64_matches(&CanonicalNan, 0x7ff8_0000_0000_0001));
        assert!(f64_matches(&ArithmeticNan, 0x7ff8_0000_0000_0001));
        assert!(!f64_matches(&ArithmeticNan, 0x7ff4_0000_0000_0000));
    }

    #[test]
    fn v128_lanes_are_checked_one_by_one() {
        use FloatPattern::*;
        let p = ValuePattern::F32x4([CanonicalNan, Bits(0x3f80_0000), ArithmeticNan, Bits(0)]);
        let bits = 0x0000_0000_7fc0_0001_3f80_0000_ffc0_0000u128;
        assert!(value_matches(&p, valtype::V128, bits));
        // Lane 0 becomes a non-canonical NaN.
        assert!(!value_matches(&p, valtype::V128, bits | 1));
        let p = ValuePattern::F64x2([Bits(1), CanonicalNan]);
        assert!(value_matches(
            &p,
            valtype::V128,
            (0x7ff8_0000_0000_0000u128 << 64) | 1
        ));
        assert!(!value_matches(&p, valtype::F64, 1));
    }

    #[test]
    fn reference_results() {
        let null = ValuePattern::RefNull;
        assert!(value_matches(&null, valtype::FUNCREF, 0));
        assert!(value_matches(&null, valtype::EXTERNREF, 0));
        assert!(!value_matches(&null, valtype::EXTERNREF, 1));
        assert!(!value_matches(&null, valtype::I32, 0));
        let host = |n| hako_abi::script::extern_ref_bits(n);
        assert!(value_matches(
            &ValuePattern::RefExtern(Some(0)),
            valtype::EXTERNREF,
            host(0)
        ));
        assert!(!value_matches(
            &ValuePattern::RefExtern(Some(0)),
            valtype::EXTERNREF,
            0
        ));
        assert!(!value_matches(
            &ValuePattern::RefExtern(Some(1)),
            valtype::EXTERNREF,
            host(0)
        ));
        // The `any` hierarchy: the kernel names each value's kind.
        assert!(value_matches(
            &ValuePattern::RefHost(3),
            valtype::ANYREF,
            host(3)
        ));
        assert!(!value_matches(
            &ValuePattern::RefHost(3),
            valtype::EXTERNREF,
            host(3)
        ));
        assert!(value_matches(
            &ValuePattern::RefStruct,
            valtype::STRUCTREF,
            0x1000
        ));
        assert!(!value_matches(
            &ValuePattern::RefStruct,
            valtype::ARRAYREF,
            0x1000
        ));
        assert!(value_matches(
            &ValuePattern::RefArray,
            valtype::ARRAYREF,
            0x1000
        ));
        assert!(value_matches(&ValuePattern::RefI31, valtype::I31REF, 0xb));
        for t in [valtype::I31REF, valtype::STRUCTREF, valtype::ARRAYREF] {
            assert!(value_matches(&ValuePattern::RefEq, t, 0x1000));
            assert!(value_matches(&ValuePattern::RefAny, t, 0x1000));
        }
        assert!(!value_matches(
            &ValuePattern::RefEq,
            valtype::ANYREF,
            host(1)
        ));
        assert!(value_matches(
            &ValuePattern::RefAny,
            valtype::ANYREF,
            host(1)
        ));
        assert!(value_matches(&null, valtype::ANYREF, 0));
        assert!(value_matches(
            &ValuePattern::RefExtern(None),
            valtype::EXTERNREF,
            7
        ));
        assert!(value_matches(
            &ValuePattern::RefFunc,
            valtype::FUNCREF,
            0xffff_8000_0000_1000
        ));
        assert!(!value_matches(&ValuePattern::RefFunc, valtype::FUNCREF, 0));
        assert!(!value_matches(
            &ValuePattern::RefFunc,
            valtype::EXTERNREF,
            5
        ));
        let either = ValuePattern::Either(vec![ValuePattern::I32(1), ValuePattern::I32(2)]);
        assert!(value_matches(&either, valtype::I32, 2));
        assert!(!value_matches(&either, valtype::I32, 3));
    }

    #[test]
    fn traps_match_by_prefix() {
        let e = Expect::Trap("uninitialized element".into());
        assert!(matches(&e, &outcome("r 3 trap 6 uninitialized element")));
        assert_eq!(
            compare(&e, &outcome("r 3 trap 7 undefined element")),
            Status::Failed {
                expected: e.to_string(),
                actual: "trap \"undefined element\"".into()
            }
        );
        // Our message for the code wins over the kernel's text.
        assert!(matches(
            &Expect::Trap("integer divide by zero".into()),
            &outcome("r 3 trap 1 whatever")
        ));
        // Details the reference interpreter adds after the message are not required.
        assert!(matches(
            &Expect::Trap("uninitialized element 2".into()),
            &outcome("r 3 trap 6 uninitialized element")
        ));
        // A prefix of the expected message is not enough.
        assert!(!matches(
            &Expect::Trap("out of bounds memory access".into()),
            &outcome("r 3 trap 5 x")
        ));
        // Unknown codes fall back to the reported text.
        assert!(matches(
            &Expect::Trap("unaligned atomic".into()),
            &outcome("r 3 trap 999 unaligned atomic")
        ));
        assert!(matches(
            &Expect::Exhaustion,
            &outcome("r 3 trap 9 call stack exhausted")
        ));
        assert!(!matches(
            &Expect::Exhaustion,
            &outcome("r 3 trap 0 unreachable")
        ));
        assert!(!matches(
            &Expect::Trap("unreachable".into()),
            &outcome("r 3 ok")
        ));
    }

    #[test]
    fn other_outcomes() {
        assert!(matches(&Expect::Instantiated, &outcome("r 1 instantiated")));
        assert!(!matches(
            &Expect::Instantiated,
            &outcome("r 1 unlinkable unknown import")
        ));
        assert!(matches(
            &Expect::Unlinkable("unknown import".into()),
            &outcome("r 1 unlinkable unknown import m.f")
        ));
        assert!(matches(&Expect::Success, &outcome("r 1 ok i32:00000001")));
        assert!(!matches(&Expect::Success, &outcome("r 1 error no export")));
        assert!(!matches(
            &Expect::Return(vec![]),
            &outcome("r 1 ok i32:00000001")
        ));
        assert!(matches(&Expect::Exception, &outcome("r 1 exception")));
    }
}
