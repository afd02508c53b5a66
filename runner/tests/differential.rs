//! Differential property tests: hako's compiler against Wasmtime, operator by operator.
//!
//! For each operator group (`i32`, `i64`, `f32`, `f64`, `conversions`) one module exports
//! one function per operator (`(export "i32.div_s") (param i32 i32) (result i32)`, the body
//! is the operator applied to the parameters); in the `tail_calls` group the parameters
//! reach the operator through two tail calls of different signatures, with stack arguments
//! ([`tail_module_text`]); in the `memory` group each operator is a load or a store (put
//! back afterwards, so that every invocation stays pure) of one width through one of a
//! 32-bit and two 64-bit memories with a static offset up to 2^64, or one address through
//! all three ([`memory_ops`]), and its address operand is drawn near the operator's edges
//! ([`address_value`]). `proptest` generates batches of random
//! invocations `(operator, operands)`, with operands biased towards the interesting values
//! (NaNs with random payloads, quiet and signalling, both signs; ±0; ±inf; subnormals;
//! integer extremes and -1; shift counts up to 200; values on both sides of every
//! float→int conversion bound; plus uniform bits). Each batch runs
//!
//! - in hako: one spec-script image (`hako_runner::spec`: the same plan, image and
//!   booter as `hako spec`), holding the group's module compiled twice, at `-O0` and at
//!   `-O2`, instantiated once each, and every invocation run on both instances. One
//!   invocation in three instead has some of its operands as immediates (`f32.const ...`,
//!   so that LLVM's constant folding and identity simplifications are tested too): those
//!   go into a per-batch module (one function each), also compiled at `-O0` and `-O2`;
//! - in Wasmtime, in-process (one engine, module and instance per group), through
//!   `Func::call`.
//!
//! ## What "the same" means
//!
//! - Integer results: bit for bit.
//! - Traps: the same trap kind (Wasmtime's `Trap` mapped to hako's `TrapCode`; `trunc` of a
//!   NaN is "invalid conversion to integer", out of range is "integer overflow", as the spec
//!   says). A trap on one side and a value on the other is a mismatch.
//! - Float results that are not NaN: bit for bit (`-0.0` is not `0.0`).
//! - Float results of `abs`, `neg`, `copysign` and the `reinterpret`s: bit for bit even
//!   when NaN. They are not arithmetic: the spec defines them on the bits.
//! - A NaN result of any other (arithmetic) float operator, including `min`/`max`,
//!   `demote`/`promote` and the rounding operators: Wasm lets the payload be
//!   non-deterministic (the spec's `nans_N`). When Wasmtime's result is a NaN, hako's must
//!   be a NaN with the quiet bit set (an *arithmetic* NaN, either sign) and, when every NaN
//!   operand is canonical (payload exactly the quiet bit, either sign) or no operand is a
//!   NaN (e.g. `0/0`, `sqrt(-1)`, `inf - inf`), a *canonical* NaN (either sign). These are
//!   exactly the spec tests' `nan:arithmetic` / `nan:canonical` patterns, and the check is
//!   `hako_runner::spec::compare`'s. When Wasmtime's result is not a NaN, a NaN from hako
//!   is a mismatch.
//! - Nothing is tolerated. (LLVM's identity folds of a signalling NaN, `x * 1.0` -> `x`,
//!   were a known bug found here; the compiler now hides such immediates from LLVM, and
//!   [`snan_identity_operands_come_out_quiet`] keeps it fixed.)
//!
//! ## Shrinking and regressions
//!
//! Invocations are pure, so hako's outcome for each one is remembered (per group and
//! operator, for the whole process). When a batch fails, proptest shrinks it: removing
//! invocations needs no boot (every outcome is known), so the batch quickly becomes the one
//! failing invocation; simplifying its operands needs one boot per step, and at most
//! [`SHRINK_BOOTS`] such boots are spent (`HAKO_DIFF_SHRINK_BOOTS` overrides; a step that would
//! need more counts as passing, which ends the shrinking there). The failure message names
//! the operator, the operands in hex, the optimisation level, hako's outcome and Wasmtime's.
//!
//! Failing seeds are kept in `runner/proptest-regressions/differential.txt` (one file for
//! every group: each group replays every seed, which costs one boot per seed and group;
//! commit the file). A real bug found here also gets its minimal case as an explicit test
//! in [`regressions`] below, which runs every time.
//!
//! ## Cost
//!
//! Every proptest case is one QEMU boot (TCG here: a few seconds). `PROPTEST_CASES` sets the
//! number of cases per group (default [`DEFAULT_CASES`]), `HAKO_DIFF_BATCH` the number of
//! invocations per case (default [`DEFAULT_BATCH`], each run at both optimisation levels).

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use hako_abi::script::Arg;
use hako_abi::trap::TrapCode;
use hako_abi::valtype;
use hako_compiler::OptLevel;
use hako_runner::cache::Cache;
use hako_runner::spec::booter::TargetBooter;
use hako_runner::spec::compare::{Expect, FloatPattern, ValuePattern};
use hako_runner::spec::plan::{FilePlan, Op, Planned};
use hako_runner::spec::tier::Tier;
use hako_runner::spec::{self, Status};
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, TestCaseError, TestError, TestRunner};

/// Proptest cases per group unless `PROPTEST_CASES` says otherwise.
const DEFAULT_CASES: u32 = 16;
/// Invocations per case unless `HAKO_DIFF_BATCH` says otherwise.
const DEFAULT_BATCH: usize = 160;
/// Boots spent on shrinking operands after a failure.
const SHRINK_BOOTS: u32 = 12;
/// hako runs every invocation on the module compiled at each of these levels.
const OPT_LEVELS: [OptLevel; 2] = [OptLevel::O0, OptLevel::O2];
/// Where proptest keeps failing seeds.
const PERSISTENCE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/proptest-regressions/differential.txt"
);

// ---------------------------------------------------------------------------------------
// Operators

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Ty {
    I32,
    I64,
    F32,
    F64,
}

impl Ty {
    fn wat(self) -> &'static str {
        match self {
            Ty::I32 => "i32",
            Ty::I64 => "i64",
            Ty::F32 => "f32",
            Ty::F64 => "f64",
        }
    }
    fn code(self) -> u8 {
        match self {
            Ty::I32 => valtype::I32,
            Ty::I64 => valtype::I64,
            Ty::F32 => valtype::F32,
            Ty::F64 => valtype::F64,
        }
    }
    fn is_32(self) -> bool {
        matches!(self, Ty::I32 | Ty::F32)
    }
    fn mask(self) -> u64 {
        if self.is_32() {
            u32::MAX as u64
        } else {
            u64::MAX
        }
    }
    fn hex(self, bits: u64) -> String {
        if self.is_32() {
            format!("{}:0x{:08x}", self.wat(), bits as u32)
        } else {
            format!("{}:0x{bits:016x}", self.wat())
        }
    }
    fn is_nan(self, bits: u64) -> bool {
        match self {
            Ty::F32 => f32::from_bits(bits as u32).is_nan(),
            Ty::F64 => f64::from_bits(bits).is_nan(),
            _ => false,
        }
    }
    fn is_canonical_nan(self, bits: u64) -> bool {
        match self {
            Ty::F32 => bits as u32 & 0x7fff_ffff == 0x7fc0_0000,
            Ty::F64 => bits & 0x7fff_ffff_ffff_ffff == 0x7ff8_0000_0000_0000,
            _ => false,
        }
    }
}

/// How a NaN result compares (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Nans {
    /// Bit for bit (integer results, `abs`, `neg`, `copysign`, `reinterpret`, `convert`).
    Exact,
    /// The spec's `nans_N`: arithmetic, canonical when every NaN operand is.
    Arithmetic,
}

#[derive(Debug)]
struct OpDef {
    name: String,
    params: Vec<Ty>,
    result: Ty,
    nans: Nans,
    /// The body, with `{0}`, `{1}`, ... standing for the operands; `None`: the operands,
    /// then the operator `name`.
    body: Option<String>,
    /// When operand 0 is a linear-memory address: the addresses around which the outcome
    /// changes (the last valid one, the one that wraps `addr + offset` past 2^64), which
    /// [`address_value`] favours; empty otherwise.
    edges: Vec<u64>,
}

#[derive(Debug)]
struct Group {
    name: &'static str,
    ops: Vec<OpDef>,
    /// What the module declares before its functions (memories and data; the same in the
    /// per-batch module of immediates).
    prelude: &'static str,
    /// The module: one export per operator, named as the operator.
    wasm: Vec<u8>,
}

fn op(name: String, params: &[Ty], result: Ty, nans: Nans) -> OpDef {
    OpDef {
        name,
        params: params.to_vec(),
        result,
        nans,
        body: None,
        edges: Vec::new(),
    }
}

impl OpDef {
    /// The body applied to these operand expressions.
    fn apply(&self, operands: &[String]) -> String {
        match &self.body {
            None => format!("{} ({})", operands.join(" "), self.name),
            Some(body) => operands
                .iter()
                .enumerate()
                .fold(body.clone(), |b, (i, o)| b.replace(&format!("{{{i}}}"), o)),
        }
    }
}

fn int_ops(t: Ty) -> Vec<OpDef> {
    let p = t.wat();
    let mut ops = Vec::new();
    for name in [
        "add", "sub", "mul", "div_s", "div_u", "rem_s", "rem_u", "and", "or", "xor", "shl",
        "shr_s", "shr_u", "rotl", "rotr",
    ] {
        ops.push(op(format!("{p}.{name}"), &[t, t], t, Nans::Exact));
    }
    for name in [
        "eq", "ne", "lt_s", "lt_u", "gt_s", "gt_u", "le_s", "le_u", "ge_s", "ge_u",
    ] {
        ops.push(op(format!("{p}.{name}"), &[t, t], Ty::I32, Nans::Exact));
    }
    ops.push(op(format!("{p}.eqz"), &[t], Ty::I32, Nans::Exact));
    let mut unary = vec!["clz", "ctz", "popcnt", "extend8_s", "extend16_s"];
    if t == Ty::I64 {
        unary.push("extend32_s");
    }
    for name in unary {
        ops.push(op(format!("{p}.{name}"), &[t], t, Nans::Exact));
    }
    ops
}

fn float_ops(t: Ty) -> Vec<OpDef> {
    let p = t.wat();
    let mut ops = Vec::new();
    for name in ["add", "sub", "mul", "div", "min", "max"] {
        ops.push(op(format!("{p}.{name}"), &[t, t], t, Nans::Arithmetic));
    }
    ops.push(op(format!("{p}.copysign"), &[t, t], t, Nans::Exact));
    for name in ["sqrt", "ceil", "floor", "trunc", "nearest"] {
        ops.push(op(format!("{p}.{name}"), &[t], t, Nans::Arithmetic));
    }
    for name in ["abs", "neg"] {
        ops.push(op(format!("{p}.{name}"), &[t], t, Nans::Exact));
    }
    for name in ["eq", "ne", "lt", "gt", "le", "ge"] {
        ops.push(op(format!("{p}.{name}"), &[t, t], Ty::I32, Nans::Exact));
    }
    ops
}

fn conversion_ops() -> Vec<OpDef> {
    use Ty::*;
    let mut ops = vec![
        op("i32.wrap_i64".into(), &[I64], I32, Nans::Exact),
        op("i64.extend_i32_s".into(), &[I32], I64, Nans::Exact),
        op("i64.extend_i32_u".into(), &[I32], I64, Nans::Exact),
        op("f32.demote_f64".into(), &[F64], F32, Nans::Arithmetic),
        op("f64.promote_f32".into(), &[F32], F64, Nans::Arithmetic),
        op("i32.reinterpret_f32".into(), &[F32], I32, Nans::Exact),
        op("i64.reinterpret_f64".into(), &[F64], I64, Nans::Exact),
        op("f32.reinterpret_i32".into(), &[I32], F32, Nans::Exact),
        op("f64.reinterpret_i64".into(), &[I64], F64, Nans::Exact),
    ];
    for int in [I32, I64] {
        for float in [F32, F64] {
            let (i, f) = (int.wat(), float.wat());
            for sign in ["s", "u"] {
                for trunc in ["trunc", "trunc_sat"] {
                    ops.push(op(
                        format!("{i}.{trunc}_{f}_{sign}"),
                        &[float],
                        int,
                        Nans::Exact,
                    ));
                }
                ops.push(op(
                    format!("{f}.convert_{i}_{sign}"),
                    &[int],
                    float,
                    Nans::Exact,
                ));
            }
        }
    }
    ops
}

fn module_text(ops: &[OpDef], prelude: &str) -> String {
    let mut wat = format!("(module\n{prelude}");
    for op in ops {
        let params: Vec<&str> = op.params.iter().map(|t| t.wat()).collect();
        let gets: Vec<String> = (0..op.params.len())
            .map(|i| format!("(local.get {i})"))
            .collect();
        wat.push_str(&format!(
            "  (func (export \"{}\") (param {}) (result {}) {})\n",
            op.name,
            params.join(" "),
            op.result.wat(),
            op.apply(&gets)
        ));
    }
    wat.push(')');
    wat
}

/// Operators whose operands reach them through tail calls (the `tail_calls` group).
fn tail_call_ops() -> Vec<OpDef> {
    use Ty::*;
    vec![
        op("i32.sub".into(), &[I32, I32], I32, Nans::Exact),
        op("i64.rotl".into(), &[I64, I64], I64, Nans::Exact),
        op("i64.div_s".into(), &[I64, I64], I64, Nans::Exact),
        op("f32.div".into(), &[F32, F32], F32, Nans::Arithmetic),
        op("f64.copysign".into(), &[F64, F64], F64, Nans::Exact),
        op("f64.sub".into(), &[F64, F64], F64, Nans::Arithmetic),
        op("i32.trunc_f64_s".into(), &[F64], I32, Nans::Exact),
        op("f32.demote_f64".into(), &[F64], F32, Nans::Arithmetic),
    ]
}

/// The `tail_calls` group's module: export `op` takes the operands, `return_call`s
/// `$op_a` with them behind six `i64` and eight `f64` ballast arguments (so that they
/// travel on the stack), which `return_call_indirect`s `$op_b` with them in front of the
/// ballast (a different signature), which applies the operator.
fn tail_module_text(ops: &[OpDef]) -> String {
    let mut wat = String::from(
        "(module
  (table 64 funcref)
",
    );
    let ballast_types = "i64 i64 i64 i64 i64 i64 f64 f64 f64 f64 f64 f64 f64 f64";
    let ballast: String = (1..=6)
        .map(|i| format!("(i64.const {i}) "))
        .chain((1..=8).map(|i| format!("(f64.const {i}) ")))
        .collect();
    for (n, op) in ops.iter().enumerate() {
        let params: Vec<&str> = op.params.iter().map(|t| t.wat()).collect();
        let params = params.join(" ");
        let result = op.result.wat();
        let k = op.params.len();
        let gets = |from: usize| -> String {
            (from..from + k)
                .map(|i| format!("(local.get {i}) "))
                .collect()
        };
        wat.push_str(&format!(
            "  (type $b{n} (func (param {params} {ballast_types}) (result {result})))\n\
               (elem (i32.const {n}) func $b{n})\n\
               (func (export \"{name}\") (param {params}) (result {result})\n\
                 (return_call $a{n} {ballast}{operands}))\n\
               (func $a{n} (param {ballast_types} {params}) (result {result})\n\
                 (return_call_indirect (type $b{n}) {moved}{ballast}(i32.const {n})))\n\
               (func $b{n} (type $b{n}) {applied} ({name}))\n",
            name = op.name,
            operands = gets(0),
            moved = gets(14),
            applied = gets(0),
        ));
    }
    wat.push(')');
    wat
}

/// The `memory` group's memories: `$m0` 32-bit (1 page), `$m1` 64-bit (1 page), `$m2`
/// 64-bit (2 pages), with known bytes at both ends of each (so that loads at the last valid
/// bytes return something to compare). The module is shared by every batch, and its
/// operators are pure: a store puts the old bytes back.
const MEMORY_PRELUDE: &str = r#"  (memory $m0 1 2)
  (memory $m1 i64 1 2)
  (memory $m2 i64 2 3)
  (data (memory $m0) (i32.const 0) "\01\02\03\04\05\06\07\08\09\0a\0b\0c\0d\0e\0f\10")
  (data (memory $m0) (i32.const 65520) "\f1\f2\f3\f4\f5\f6\f7\f8\f9\fa\fb\fc\fd\fe\ff\80")
  (data (memory $m1) (i64.const 0) "\11\12\13\14\15\16\17\18\19\1a\1b\1c\1d\1e\1f\20")
  (data (memory $m1) (i64.const 65520) "\e1\e2\e3\e4\e5\e6\e7\e8\e9\ea\eb\ec\ed\ee\ef\90")
  (data (memory $m2) (i64.const 65528) "\a1\a2\a3\a4\a5\a6\a7\a8\a9\aa\ab\ac\ad\ae\af\b0")
  (data (memory $m2) (i64.const 131056) "\c1\c2\c3\c4\c5\c6\c7\c8\c9\ca\cb\cc\cd\ce\cf\d0")
"#;

/// The `memory` group: loads and stores of each width through each memory of
/// [`MEMORY_PRELUDE`] with static offsets at the edges (0, a page, 2^32 and, for the 64-bit
/// memories, 2^64), and accesses to two memories in one function.
fn memory_ops() -> Vec<OpDef> {
    use Ty::*;
    let mut ops = Vec::new();
    let offsets32: &[u64] = &[
        0,
        1,
        0xfff8,
        0xffff,
        0x1_0000,
        0x7fff_ffff,
        0xffff_fff0,
        0xffff_ffff,
    ];
    let offsets64: &[u64] = &[
        0x1_0000_0000,
        0x1_0000_0001,
        0xffff_ffff_ffff_fff0,
        0xffff_ffff_ffff_ffff,
    ];
    for (mem, addr, size) in [
        ("$m0", I32, 0x1_0000u64),
        ("$m1", I64, 0x1_0000),
        ("$m2", I64, 0x2_0000),
    ] {
        let offsets = offsets32
            .iter()
            .chain(if addr == I64 { offsets64 } else { &[] });
        for &off in offsets {
            let mut mem_op = |name: String, params: &[Ty], result: Ty, body: String, width: u64| {
                let last = off.checked_add(width).and_then(|end| size.checked_sub(end));
                let wrap = off.wrapping_neg() & addr.mask();
                ops.push(OpDef {
                    body: Some(body),
                    edges: last.into_iter().chain([wrap]).collect(),
                    ..op(name, params, result, Nans::Exact)
                })
            };
            let at = format!("{mem} offset={off}");
            for (load, result, width) in [
                ("i32.load8_u", I32, 1),
                ("i32.load16_s", I32, 2),
                ("i32.load", I32, 4),
                ("i64.load", I64, 8),
                ("f64.load", F64, 8),
            ] {
                mem_op(
                    format!("{load} {at}"),
                    &[addr],
                    result,
                    format!("({load} {at} {{0}})"),
                    width,
                );
            }
            mem_op(
                format!("v128.load {at}"),
                &[addr],
                I64,
                format!("(i64x2.extract_lane 1 (v128.load {at} {{0}}))"),
                16,
            );
            // A store, read back, then the old bytes put back: pure.
            for (store, load, ty, width) in [
                ("i64.store", "i64.load", I64, 8),
                ("i32.store8", "i32.load8_u", I32, 1),
                ("i32.store16", "i32.load16_u", I32, 2),
            ] {
                let t = ty.wat();
                mem_op(
                    format!("{store} {at}"),
                    &[addr, ty],
                    ty,
                    format!(
                        "(local $old {t}) (local.set $old ({load} {at} {{0}})) ({store} {at} {{0}} {{1}}) ({load} {at} {{0}}) ({store} {at} {{0}} (local.get $old))"
                    ),
                    width,
                );
            }
        }
    }
    // One address through three memories, index types mixed.
    for &off in &[0u64, 0xfff0, 0xffff_fff8] {
        ops.push(OpDef {
            body: Some(format!(
                "(i64.load $m1 offset={off} {{0}}) \
                 (i64.extend_i32_u (i32.load $m0 offset={off} (i32.wrap_i64 {{0}}))) (i64.add) \
                 (i64.load16_u $m2 offset={off} {{0}}) (i64.add)"
            )),
            // The last valid address of the 8-byte and of the 4-byte access, and the wrap.
            edges: [8u64, 4]
                .iter()
                .filter_map(|w| 0x1_0000u64.checked_sub(off + w))
                .chain([off.wrapping_neg()])
                .collect(),
            ..op(format!("mixed offset={off}"), &[I64], I64, Nans::Exact)
        });
    }
    ops
}

fn group(name: &'static str) -> &'static Group {
    static GROUPS: OnceLock<Mutex<HashMap<&'static str, &'static Group>>> = OnceLock::new();
    let mut groups = GROUPS.get_or_init(Default::default).lock().unwrap();
    groups.entry(name).or_insert_with(|| {
        let ops = match name {
            "i32" => int_ops(Ty::I32),
            "i64" => int_ops(Ty::I64),
            "f32" => float_ops(Ty::F32),
            "f64" => float_ops(Ty::F64),
            "conversions" => conversion_ops(),
            "tail_calls" => tail_call_ops(),
            "memory" => memory_ops(),
            _ => panic!("no operator group `{name}`"),
        };
        let prelude = match name {
            "memory" => MEMORY_PRELUDE,
            _ => "",
        };
        let text = match name {
            "tail_calls" => tail_module_text(&ops),
            _ => module_text(&ops, prelude),
        };
        let wasm = wat::parse_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        Box::leak(Box::new(Group {
            name,
            ops,
            prelude,
            wasm,
        }))
    })
}

// ---------------------------------------------------------------------------------------
// Invocations and operand values

/// One invocation: operator `op` of the group, with raw operand bits. Operand `i` is an
/// immediate (`t.const`) when bit `i` of `consts` is set, else a parameter.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Call {
    group: &'static str,
    op: usize,
    consts: u8,
    args: Vec<u64>,
}

impl Call {
    fn def(&self) -> &'static OpDef {
        &group(self.group).ops[self.op]
    }
    fn new(group_name: &'static str, op_name: &str, args: &[u64]) -> Call {
        let g = group(group_name);
        let op = g
            .ops
            .iter()
            .position(|o| o.name == op_name)
            .unwrap_or_else(|| panic!("no operator `{op_name}` in group {group_name}"));
        assert_eq!(
            g.ops[op].params.len(),
            args.len(),
            "{op_name}: operand count"
        );
        Call {
            group: group_name,
            op,
            consts: 0,
            args: args.to_vec(),
        }
    }
    /// The same call with the operands of `consts` as immediates.
    fn with_consts(mut self, consts: u8) -> Call {
        self.consts = consts;
        self
    }
    fn is_const(&self, i: usize) -> bool {
        self.consts & (1 << i) != 0
    }
}

impl std::fmt::Debug for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let def = self.def();
        let args: Vec<String> = def
            .params
            .iter()
            .zip(&self.args)
            .enumerate()
            .map(|(i, (t, b))| {
                let c = if self.is_const(i) { "const " } else { "" };
                format!("{c}{}", t.hex(*b))
            })
            .collect();
        write!(f, "{}({})", def.name, args.join(", "))
    }
}

fn int_value(t: Ty) -> BoxedStrategy<u64> {
    let width: u32 = if t.is_32() { 32 } else { 64 };
    let mask = t.mask();
    let specials: Vec<u64> = [
        0u64,
        1,
        2,
        3,
        u64::MAX,
        u64::MAX - 1,
        0x7f,
        0x80,
        0xff,
        0x100,
        0x7fff,
        0x8000,
        0xffff,
        0x1_0000,
        0x7fff_ffff,
        0x8000_0000,
        0x8000_0001,
        0xffff_ffff,
        0x1_0000_0000,
        0x7fff_ffff_ffff_ffff,
        0x8000_0000_0000_0000,
        0x8000_0000_0000_0001,
        31,
        32,
        33,
        63,
        64,
        65,
        // Exactly representable or just beyond in f32/f64 (convert's rounding).
        0x0100_0001,
        0x0020_0000_0000_0001,
        0xffff_ff7f,
        0xffff_ff80,
        0xffff_fffe_0000_0000,
    ]
    .iter()
    .map(|v| v & mask)
    .collect();
    prop_oneof![
        3 => prop::sample::select(specials),
        2 => 0u64..=200,
        1 => (-300i64..300).prop_map(move |v| v as u64 & mask),
        2 => (0..width, -2i64..=2, any::<bool>()).prop_map(move |(k, d, neg)| {
            let v = (1u64 << k).wrapping_add(d as u64);
            (if neg { v.wrapping_neg() } else { v }) & mask
        }),
        4 => any::<u64>().prop_map(move |v| v & mask),
    ]
    .boxed()
}

/// Float values near which conversions and rounding change behaviour.
const FLOAT_BOUNDS: [f64; 20] = [
    0.5,
    1.0,
    1.5,
    2.5,
    2147483647.0,
    2147483647.5,
    2147483648.0,
    2147483648.5,
    2147483649.0,
    4294967295.0,
    4294967295.5,
    4294967296.0,
    4294967297.0,
    9223372036854775808.0,
    18446744073709551616.0,
    8388608.0,
    16777216.0,
    4503599627370496.0,
    9007199254740992.0,
    2147483520.0,
];

fn float_value(t: Ty) -> BoxedStrategy<u64> {
    if t == Ty::F32 {
        let specials: Vec<u64> = [
            0x0000_0000u32,
            0x8000_0000,
            0x3f80_0000,
            0xbf80_0000,
            0x7f80_0000,
            0xff80_0000,
            0x7fc0_0000,
            0xffc0_0000,
            0x7fa0_0000,
            0x7f80_0001,
            0xff80_0001,
            0x0000_0001,
            0x8000_0001,
            0x007f_ffff,
            0x0080_0000,
            0x7f7f_ffff,
            0xff7f_ffff,
            0x3eff_ffff, // 0.49999997
            0x4f00_0000, // 2^31
            0xcf00_0000, // -2^31
            0x4f80_0000, // 2^32
            0x5f00_0000, // 2^63
            0xdf00_0000, // -2^63
            0x5f80_0000, // 2^64
        ]
        .iter()
        .map(|v| *v as u64)
        .collect();
        prop_oneof![
            3 => prop::sample::select(specials),
            3 => (any::<bool>(), any::<bool>(), any::<u32>()).prop_map(|(neg, quiet, payload)| {
                let mut m = payload & 0x003f_ffff;
                if !quiet && m == 0 {
                    m = 1;
                }
                (((neg as u32) << 31) | 0x7f80_0000 | ((quiet as u32) << 22) | m) as u64
            }),
            3 => (prop::sample::select(FLOAT_BOUNDS.to_vec()), -3i32..=3, any::<bool>())
                .prop_map(|(b, ulps, neg)| {
                    let b = if neg { -(b as f32) } else { b as f32 };
                    b.to_bits().wrapping_add(ulps as u32) as u64
                }),
            1 => any::<u32>().prop_map(|v| (v & 0x807f_ffff) as u64),
            1 => (-1000i32..1000, prop::sample::select(vec![0.0f32, 0.25, 0.5, 0.75]))
                .prop_map(|(i, f)| (i as f32 + f).to_bits() as u64),
            4 => any::<u32>().prop_map(|v| v as u64),
        ]
        .boxed()
    } else {
        let specials: Vec<u64> = [
            0x0000_0000_0000_0000u64,
            0x8000_0000_0000_0000,
            0x3ff0_0000_0000_0000,
            0xbff0_0000_0000_0000,
            0x7ff0_0000_0000_0000,
            0xfff0_0000_0000_0000,
            0x7ff8_0000_0000_0000,
            0xfff8_0000_0000_0000,
            0x7ff4_0000_0000_0000,
            0x7ff0_0000_0000_0001,
            0xfff0_0000_0000_0001,
            0x0000_0000_0000_0001,
            0x8000_0000_0000_0001,
            0x000f_ffff_ffff_ffff,
            0x0010_0000_0000_0000,
            0x7fef_ffff_ffff_ffff,
            0xffef_ffff_ffff_ffff,
            0x3fdf_ffff_ffff_ffff, // 0.49999999999999994
            0x41df_ffff_ffff_ffff, // 2147483647.9999998
            0xc1e0_0000_0020_0000, // -2147483649.0
            0xc1e0_0000_001c_cccd, // -2147483648.9
            0x43e0_0000_0000_0000, // 2^63
            0xc3e0_0000_0000_0000, // -2^63
            0x43f0_0000_0000_0000, // 2^64
            0x47ef_ffff_e000_0000, // f32::MAX
            0x47ef_ffff_f000_0000, // f32::MAX + half an ulp: demote rounds to inf
            0x36a0_0000_0000_0000, // f32's smallest subnormal
            0x3690_0000_0000_0000, // half of it
        ]
        .to_vec();
        prop_oneof![
            3 => prop::sample::select(specials),
            3 => (any::<bool>(), any::<bool>(), any::<u64>()).prop_map(|(neg, quiet, payload)| {
                let mut m = payload & 0x0007_ffff_ffff_ffff;
                if !quiet && m == 0 {
                    m = 1;
                }
                ((neg as u64) << 63) | 0x7ff0_0000_0000_0000 | ((quiet as u64) << 51) | m
            }),
            3 => (prop::sample::select(FLOAT_BOUNDS.to_vec()), -3i64..=3, any::<bool>())
                .prop_map(|(b, ulps, neg)| {
                    let b = if neg { -b } else { b };
                    b.to_bits().wrapping_add(ulps as u64)
                }),
            1 => any::<u64>().prop_map(|v| v & 0x800f_ffff_ffff_ffff),
            1 => (-1000i32..1000, prop::sample::select(vec![0.0f64, 0.25, 0.5, 0.75]))
                .prop_map(|(i, f)| (i as f64 + f).to_bits()),
            // f32 values widened: exact in both (promote/demote round trips).
            1 => any::<u32>().prop_map(|v| (f32::from_bits(v) as f64).to_bits()),
            4 => any::<u64>(),
        ]
        .boxed()
    }
}

/// Addresses: within 2 of an operator's `edges` (its last valid address, one past it, the
/// wrap of `addr + offset`), around the ends of the memories' pages, around 2^32 and 2^64,
/// and [`int_value`]'s.
fn address_value(t: Ty, edges: &[u64]) -> BoxedStrategy<u64> {
    let mask = t.mask();
    let edges = edges.to_vec();
    prop_oneof![
        4 => (prop::sample::select(edges), -2i64..=2).prop_map(move |(e, d)| e.wrapping_add(d as u64) & mask),
        2 => (0u64..=3, -20i64..=4).prop_map(move |(page, d)| (page << 16).wrapping_add(d as u64) & mask),
        1 => (-20i64..=4).prop_map(move |d| (1u64 << 32).wrapping_add(d as u64) & mask),
        1 => (1u64..=20).prop_map(move |d| d.wrapping_neg() & mask),
        2 => int_value(t),
    ]
    .boxed()
}

fn value(t: Ty) -> BoxedStrategy<u64> {
    match t {
        Ty::I32 | Ty::I64 => int_value(t),
        Ty::F32 | Ty::F64 => float_value(t),
    }
}

fn call_strategy(g: &'static Group) -> impl Strategy<Value = Call> {
    // The operator and which operands are immediates do not shrink (a different operator
    // is a different failure); the operand values do. One call in three has immediates.
    (0..g.ops.len()).no_shrink().prop_flat_map(move |op| {
        let params = &g.ops[op].params;
        let all = (1u8 << params.len()) - 1;
        let consts = prop_oneof![2 => Just(0u8), 1 => 1..=all].no_shrink();
        let edges = &g.ops[op].edges;
        let args: Vec<BoxedStrategy<u64>> = params
            .iter()
            .enumerate()
            .map(|(i, t)| match i {
                0 if !edges.is_empty() => address_value(*t, edges),
                _ => value(*t),
            })
            .collect();
        (consts, args).prop_map(move |(consts, args)| Call {
            group: g.name,
            op,
            consts,
            args,
        })
    })
}

// ---------------------------------------------------------------------------------------
// Wasmtime

use hako_runner::fuzz::oracle::trap_code;

/// What Wasmtime did with one invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Oracle {
    Value(u64),
    Trap(TrapCode),
}

struct Wasmtime {
    store: wasmtime::Store<()>,
    funcs: Vec<wasmtime::Func>,
}

impl Wasmtime {
    fn new(g: &Group) -> Wasmtime {
        static ENGINE: OnceLock<wasmtime::Engine> = OnceLock::new();
        let engine = ENGINE.get_or_init(wasmtime::Engine::default);
        let module = wasmtime::Module::new(engine, &g.wasm).expect("Wasmtime compiles the module");
        let mut store = wasmtime::Store::new(engine, ());
        let instance =
            wasmtime::Instance::new(&mut store, &module, &[]).expect("Wasmtime instantiates");
        let funcs = g
            .ops
            .iter()
            .map(|op| {
                instance
                    .get_func(&mut store, &op.name)
                    .expect("every operator is exported")
            })
            .collect();
        Wasmtime { store, funcs }
    }

    fn call(&mut self, call: &Call) -> Oracle {
        let def = call.def();
        let args: Vec<wasmtime::Val> = def
            .params
            .iter()
            .zip(&call.args)
            .map(|(t, &b)| match t {
                Ty::I32 => wasmtime::Val::I32(b as u32 as i32),
                Ty::I64 => wasmtime::Val::I64(b as i64),
                Ty::F32 => wasmtime::Val::F32(b as u32),
                Ty::F64 => wasmtime::Val::F64(b),
            })
            .collect();
        let mut results = [wasmtime::Val::I32(0)];
        match self.funcs[call.op].call(&mut self.store, &args, &mut results) {
            Ok(()) => Oracle::Value(match results[0] {
                wasmtime::Val::I32(v) => v as u32 as u64,
                wasmtime::Val::I64(v) => v as u64,
                wasmtime::Val::F32(v) => v as u64,
                wasmtime::Val::F64(v) => v,
                ref other => panic!("{call:?}: unexpected result {other:?}"),
            }),
            Err(e) => match e
                .downcast_ref::<wasmtime::Trap>()
                .copied()
                .and_then(trap_code)
            {
                Some(code) => Oracle::Trap(code),
                None => panic!("{call:?}: Wasmtime failed without a known trap: {e:?}"),
            },
        }
    }
}

/// What hako must do, given what Wasmtime did (the rules of the module docs).
fn expectation(call: &Call, oracle: Oracle) -> Expect {
    let def = call.def();
    let bits = match oracle {
        Oracle::Trap(code) => return Expect::Trap(code.message().to_string()),
        Oracle::Value(bits) => bits,
    };
    let float = |bits: u64| -> FloatPattern<u64> {
        if def.nans == Nans::Arithmetic && def.result.is_nan(bits) {
            let canonical = def
                .params
                .iter()
                .zip(&call.args)
                .all(|(t, &a)| !t.is_nan(a) || t.is_canonical_nan(a));
            if canonical {
                FloatPattern::CanonicalNan
            } else {
                FloatPattern::ArithmeticNan
            }
        } else {
            FloatPattern::Bits(bits)
        }
    };
    let pattern = match def.result {
        Ty::I32 => ValuePattern::I32(bits as u32),
        Ty::I64 => ValuePattern::I64(bits),
        Ty::F32 => ValuePattern::F32(match float(bits) {
            FloatPattern::Bits(b) => FloatPattern::Bits(b as u32),
            FloatPattern::CanonicalNan => FloatPattern::CanonicalNan,
            FloatPattern::ArithmeticNan => FloatPattern::ArithmeticNan,
        }),
        Ty::F64 => ValuePattern::F64(float(bits)),
    };
    Expect::Return(vec![pattern])
}

fn show_oracle(call: &Call, oracle: Oracle) -> String {
    match oracle {
        Oracle::Value(bits) => call.def().result.hex(bits),
        Oracle::Trap(code) => format!("trap \"{}\"", code.message()),
    }
}

// ---------------------------------------------------------------------------------------
// hako

/// The immediate of type `t` with these bits, in the text format (exact: hex floats,
/// NaN payloads and signs spelled out).
fn immediate(t: Ty, bits: u64) -> String {
    let (sign, exp, frac, frac_bits, max_exp) = match t {
        Ty::I32 => return format!("(i32.const 0x{:x})", bits as u32),
        Ty::I64 => return format!("(i64.const 0x{bits:x})"),
        Ty::F32 => (
            (bits >> 31) & 1,
            (bits >> 23) & 0xff,
            bits & 0x7f_ffff,
            23,
            0xff,
        ),
        Ty::F64 => (
            bits >> 63,
            (bits >> 52) & 0x7ff,
            bits & 0xf_ffff_ffff_ffff,
            52,
            0x7ff,
        ),
    };
    let bias = max_exp as i64 / 2;
    let sign = if sign == 1 { "-" } else { "" };
    // The fraction as whole hex digits, left-aligned.
    let digits = usize::div_ceil(frac_bits, 4);
    let frac_hex = format!("{:0digits$x}", frac << (digits * 4 - frac_bits));
    let literal = if exp == max_exp {
        if frac == 0 {
            format!("{sign}inf")
        } else {
            format!("{sign}nan:0x{frac:x}")
        }
    } else if exp == 0 {
        format!("{sign}0x0.{frac_hex}p-{}", bias - 1)
    } else {
        format!("{sign}0x1.{frac_hex}p{}", exp as i64 - bias)
    };
    format!("({}.const {literal})", t.wat())
}

/// A module with one function `k<n>` per call of `calls`: the call's immediates inlined,
/// its other operands parameters.
fn immediates_module(prelude: &str, calls: &[&Call]) -> Vec<u8> {
    let mut wat = format!("(module\n{prelude}");
    for (n, call) in calls.iter().enumerate() {
        let def = call.def();
        let mut params = Vec::new();
        let mut operands = Vec::new();
        for (i, (t, &bits)) in def.params.iter().zip(&call.args).enumerate() {
            if call.is_const(i) {
                operands.push(immediate(*t, bits));
            } else {
                operands.push(format!("(local.get {})", params.len()));
                params.push(t.wat());
            }
        }
        wat.push_str(&format!(
            "  (func (export \"k{n}\") (param {}) (result {}) {})\n",
            params.join(" "),
            def.result.wat(),
            def.apply(&operands)
        ));
    }
    wat.push(')');
    wat::parse_str(&wat).unwrap_or_else(|e| panic!("{e}\n{wat}"))
}

/// hako's verdict on one invocation (per compiled form, [`FORM_NAMES`]), and what Wasmtime
/// did.
#[derive(Debug, Clone)]
struct Verdict {
    oracle: Oracle,
    statuses: Vec<(&'static str, Status)>,
}

impl Verdict {
    /// One line per compiled form that failed.
    fn failures(&self, call: &Call) -> Vec<String> {
        self.statuses
            .iter()
            .filter_map(|(form, status)| match status {
                Status::Passed => None,
                Status::Failed { expected, actual } => Some(format!(
                    "{call:?} at {form}: hako {actual}, wasmtime {} (expected {expected})",
                    show_oracle(call, self.oracle)
                )),
                Status::NotRun { reason } => Some(format!("{call:?} at {form}: not run: {reason}")),
            })
            .collect()
    }
}

/// A group under test: its compiled objects, the booter, Wasmtime, and every verdict so far.
struct Harness {
    group: &'static Group,
    /// The group's module at each of [`OPT_LEVELS`].
    objects: Vec<spec::ModuleObject>,
    booter: TargetBooter,
    wasmtime: Wasmtime,
    seen: HashMap<Call, Verdict>,
    boots: u32,
    // Keeps the cache directory until the harness is dropped.
    _cache_dir: tempfile::TempDir,
}

/// The compiled forms: the group's module at each of [`OPT_LEVELS`], then the per-batch
/// module with immediates at each.
const FORM_NAMES: [&str; 4] = ["-O0", "-O2", "-O0 with immediates", "-O2 with immediates"];

impl Harness {
    fn new(name: &'static str) -> Harness {
        let group = group(name);
        // Every batch is a new image: keep them out of the user's cache and delete them
        // at the end.
        let cache_dir = tempfile::Builder::new()
            .prefix("hako-differential-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .expect("a temporary cache directory");
        let cache = Cache::at(cache_dir.path());
        hako_runner::backend::install(hako_compiler::compile_object);
        let objects = OPT_LEVELS
            .iter()
            .enumerate()
            .map(|(i, level)| spec::compile_module(&group.wasm, i as u32, *level, Some(&cache)))
            .collect();
        Harness {
            group,
            objects,
            booter: TargetBooter::new(cache, hako_runner::image::Target::Unikernel),
            wasmtime: Wasmtime::new(group),
            seen: HashMap::new(),
            boots: 0,
            _cache_dir: cache_dir,
        }
    }

    /// Run every call not seen yet (one boot), and remember the verdicts.
    fn run(&mut self, calls: &[Call]) {
        let mut fresh: Vec<&Call> = Vec::new();
        for c in calls {
            if !self.seen.contains_key(c) && !fresh.contains(&c) {
                fresh.push(c);
            }
        }
        if fresh.is_empty() {
            return;
        }
        // Wasmtime always runs the parameter form: immediates change nothing in the
        // semantics.
        let oracles: Vec<Oracle> = fresh.iter().map(|c| self.wasmtime.call(c)).collect();
        let with_immediates: Vec<&Call> = fresh.iter().copied().filter(|c| c.consts != 0).collect();
        let levels = OPT_LEVELS.len() as u32;
        let mut modules = vec![self.group.wasm.clone(); OPT_LEVELS.len()];
        let mut objects = self.objects.clone();
        if !with_immediates.is_empty() {
            let wasm = immediates_module(self.group.prelude, &with_immediates);
            for (i, level) in OPT_LEVELS.iter().enumerate() {
                let index = levels + i as u32;
                objects.push(spec::compile_module(&wasm, index, *level, None));
                modules.push(wasm.clone());
            }
        }
        let instances = modules.len() as u32;
        let mut commands: Vec<Planned> = (0..instances)
            .map(|i| Planned {
                id: i,
                line: 0,
                kind: "module",
                op: Op::Instantiate { module: i },
                expect: Expect::Instantiated,
            })
            .collect();
        // Per fresh call: (form, command id) of each of its commands.
        let mut forms: Vec<Vec<(&'static str, u32)>> = Vec::new();
        let mut k = 0;
        for (call, oracle) in fresh.iter().zip(&oracles) {
            let def = call.def();
            let args: Vec<Arg> = def
                .params
                .iter()
                .zip(&call.args)
                .enumerate()
                .filter(|(i, _)| !call.is_const(*i))
                .map(|(_, (t, &bits))| Arg {
                    valtype: t.code(),
                    bits: bits as u128,
                })
                .collect();
            let (first, name) = if call.consts == 0 {
                (0, def.name.clone())
            } else {
                k += 1;
                (levels, format!("k{}", k - 1))
            };
            let targets: Vec<(&'static str, u32, String)> = (first..first + levels)
                .map(|i| (FORM_NAMES[i as usize], i, name.clone()))
                .collect();
            let mut mine = Vec::new();
            for (form, instance, name) in targets {
                let id = commands.len() as u32;
                commands.push(Planned {
                    id,
                    line: id,
                    kind: "assert_return",
                    op: Op::Invoke {
                        instance,
                        name,
                        args: args.clone(),
                    },
                    expect: expectation(call, *oracle),
                });
                mine.push((form, id));
            }
            forms.push(mine);
        }
        let plan = FilePlan {
            name: format!("differential/{}", self.group.name),
            tier: Tier::Core2,
            modules,
            commands,
            rejections: Vec::new(),
            decided: Vec::new(),
            custom_assertions: false,
        };
        let (image, mut decided) = spec::build_image(&plan, &objects);
        let mut statuses = spec::boot_and_compare(&image, &plan.commands, &self.booter);
        self.boots += 1;
        let mut status = |id: u32| {
            decided
                .remove(&id)
                .or_else(|| statuses.remove(&id))
                .unwrap_or_else(|| Status::NotRun("no result"))
        };
        // An instantiation that failed fails every invocation on it, with its own reason.
        let instantiated: Vec<Status> = (0..instances).map(&mut status).collect();
        for ((call, oracle), mine) in fresh.iter().zip(oracles).zip(forms) {
            let statuses = mine
                .into_iter()
                .map(|(form, id)| {
                    let instance = match &plan.commands[id as usize].op {
                        Op::Invoke { instance, .. } => *instance as usize,
                        _ => unreachable!(),
                    };
                    let s = match (&instantiated[instance], status(id)) {
                        (Status::Passed, s) => s,
                        (failed, _) => failed.clone(),
                    };
                    (form, s)
                })
                .collect();
            self.seen
                .insert((*call).clone(), Verdict { oracle, statuses });
        }
    }

    /// Every failure among `calls` (all of them must have been run).
    fn failures(&self, calls: &[Call]) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for c in calls {
            for f in self.seen[c].failures(c) {
                if !out.contains(&f) {
                    out.push(f);
                }
            }
        }
        out
    }
}

fn env_number<T: std::str::FromStr>(name: &str) -> Option<T> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

/// The property test of one group.
fn differential(name: &'static str) {
    let mut harness = Harness::new(name);
    let g = harness.group;
    let cases = env_number("PROPTEST_CASES").unwrap_or(DEFAULT_CASES);
    let batch = env_number("HAKO_DIFF_BATCH")
        .unwrap_or(DEFAULT_BATCH)
        .max(1);
    let shrink_boots = env_number("HAKO_DIFF_SHRINK_BOOTS").unwrap_or(SHRINK_BOOTS);
    let config = Config {
        cases,
        // Removing invocations costs nothing (their outcomes are known); the boots are
        // limited separately.
        max_shrink_iters: env_number("PROPTEST_MAX_SHRINK_ITERS").unwrap_or(4 * batch as u32 + 256),
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(PERSISTENCE))),
        source_file: Some(file!()),
        ..Config::default()
    };
    let start = std::time::Instant::now();
    let state = Mutex::new((&mut harness, None::<u32>));
    let mut runner = TestRunner::new(config);
    let strategy = prop::collection::vec(call_strategy(g), 1..=batch);
    let result = runner.run(&strategy, |calls| {
        let mut state = state.lock().unwrap();
        let (harness, shrink_start) = &mut *state;
        let needs_boot = calls.iter().any(|c| !harness.seen.contains_key(c));
        if needs_boot {
            if let Some(start) = *shrink_start {
                if harness.boots - start >= shrink_boots {
                    // Out of shrinking budget: call this candidate passing.
                    return Ok(());
                }
            }
            harness.run(&calls);
        }
        let failures = harness.failures(&calls);
        if failures.is_empty() {
            return Ok(());
        }
        if shrink_start.is_none() {
            *shrink_start = Some(harness.boots);
            eprintln!(
                "differential {name}: {} mismatch(es) in a batch of {} (before shrinking):",
                failures.len(),
                calls.len()
            );
            for f in failures.iter().take(40) {
                eprintln!("  {f}");
            }
        }
        Err(TestCaseError::fail(failures.join("\n")))
    });
    let (harness, _) = state.into_inner().unwrap();
    eprintln!(
        "differential {name}: {} boots, {} distinct invocations, {:.1} s",
        harness.boots,
        harness.seen.len(),
        start.elapsed().as_secs_f64()
    );
    match result {
        Ok(()) => {}
        Err(TestError::Fail(why, calls)) => panic!(
            "hako differs from Wasmtime in group {name}; minimal batch {calls:?}:\n{why}\n\
             (the seed is kept in {PERSISTENCE}; add the case to `regressions` when it is a \
             real bug)"
        ),
        Err(TestError::Abort(why)) => panic!("differential {name}: aborted: {why}"),
    }
}

#[test]
fn differential_i32() {
    differential("i32");
}

#[test]
fn differential_i64() {
    differential("i64");
}

#[test]
fn differential_f32() {
    differential("f32");
}

#[test]
fn differential_f64() {
    differential("f64");
}

#[test]
fn differential_conversions() {
    differential("conversions");
}

/// Operands passed through `return_call` and `return_call_indirect` across signatures, on
/// the stack and in registers, before the operator applies.
#[test]
fn differential_tail_calls() {
    differential("tail_calls");
}

/// Loads and stores at the boundaries of 32- and 64-bit memories (last valid byte, one
/// past, offsets near 2^32 and 2^64), several memories in one function.
#[test]
fn differential_memory() {
    differential("memory");
}

/// Every operator of the `memory` group at every address within 2 of its edges (the last
/// valid address, one past, the wrap of `addr + offset`), as parameters: what the random
/// batches reach only now and then, in one boot.
#[test]
fn memory_edges_exhaustively() {
    let g = group("memory");
    let mut calls = Vec::new();
    for (i, def) in g.ops.iter().enumerate() {
        for &edge in &def.edges {
            for d in -2i64..=2 {
                let addr = edge.wrapping_add(d as u64) & def.params[0].mask();
                let mut args = vec![addr];
                args.extend(
                    def.params[1..]
                        .iter()
                        .map(|t| 0x0123_4567_89ab_cdef & t.mask()),
                );
                calls.push(Call {
                    group: "memory",
                    op: i,
                    consts: 0,
                    args,
                });
            }
        }
    }
    check_calls("memory", &calls);
}

// ---------------------------------------------------------------------------------------
// Regressions: minimal cases of bugs the property tests found, and the edge cases the
// issue names, each in every form (parameters, immediates), run every time (one boot per
// test).

fn check_calls(group_name: &'static str, calls: &[Call]) {
    let mut harness = Harness::new(group_name);
    harness.run(calls);
    let failures = harness.failures(calls);
    assert!(
        failures.is_empty(),
        "hako differs from Wasmtime:\n{}",
        failures.join("\n")
    );
}

/// `op(args)` with the operands as parameters, and again with each operand as an immediate.
fn every_form(group_name: &'static str, op: &str, args: &[u64]) -> Vec<Call> {
    let call = Call::new(group_name, op, args);
    (0..1u8 << args.len())
        .map(|consts| call.clone().with_consts(consts))
        .collect()
}

#[test]
fn regressions_int() {
    let mut calls = Vec::new();
    for (op, args) in [
        ("i32.div_s", &[0x8000_0000, 0xffff_ffff][..]),
        ("i32.rem_s", &[0x8000_0000, 0xffff_ffff]),
        ("i32.div_u", &[1, 0]),
        ("i32.rem_u", &[1, 0]),
        ("i32.shl", &[1, 200]),
        ("i32.shr_s", &[0x8000_0000, 63]),
        ("i32.rotr", &[0x8000_0001, 33]),
        ("i32.clz", &[0]),
        ("i32.ctz", &[0]),
    ] {
        calls.extend(every_form("i32", op, args));
    }
    check_calls("i32", &calls);
}

#[test]
fn regressions_float() {
    const SNAN: u64 = 0x7f80_0001;
    const ONE: u64 = 0x3f80_0000;
    let mut calls = Vec::new();
    for (op, args) in [
        // Not identities: LLVM must not fold these to the signalling NaN.
        ("f32.max", &[SNAN, 0][..]),
        ("f32.add", &[SNAN, 0]),
        ("f32.mul", &[SNAN, 0x4000_0000]),
        ("f32.min", &[SNAN, SNAN]),
        ("f32.max", &[0xffa0_0000, 0x7f80_0000]),
        ("f32.min", &[0, 0x8000_0000]),
        ("f32.max", &[0x8000_0000, 0]),
        ("f32.div", &[0, 0]),
        ("f32.sqrt", &[0xbf80_0000]),
        ("f32.nearest", &[0x4020_0000]), // 2.5
        ("f32.ceil", &[SNAN]),
        ("f32.nearest", &[0xff80_0001]),
    ] {
        calls.extend(every_form("f32", op, args));
    }
    calls.extend(every_form("f32", "f32.mul", &[SNAN, ONE]));
    calls.extend(every_form("f32", "f32.min", &[SNAN, 0x8000_0000]));
    check_calls("f32", &calls);
}

/// Found by the differential tests: LLVM folds `x * 1.0`, `x / 1.0`, `x + -0.0`, `x - 0.0`
/// to `x` (`x * -1.0`, `x / -1.0`, `-0.0 - x` to `-x`, and `min`/`max`, whose NaN path is
/// `x + y`, with them) even when `x` is a signalling NaN, which must come out quiet in
/// Wasm. The compiler hides such immediates from LLVM (`opaque_identity` in the translator);
/// these are the cases, in every form (parameters and immediates).
#[test]
fn snan_identity_operands_come_out_quiet() {
    const SNAN: u64 = 0x7f80_0001;
    let mut calls = Vec::new();
    for (op, args) in [
        ("f32.mul", &[SNAN, 0x3f80_0000][..]),
        ("f32.div", &[SNAN, 0x3f80_0000]),
        ("f32.add", &[SNAN, 0x8000_0000]),
        ("f32.sub", &[SNAN, 0]),
        ("f32.mul", &[SNAN, 0xbf80_0000]),
        ("f32.div", &[SNAN, 0xbf80_0000]),
        ("f32.sub", &[0x8000_0000, SNAN]),
        ("f32.min", &[SNAN, 0x8000_0000]),
        ("f32.max", &[SNAN, 0]),
    ] {
        calls.extend(every_form("f32", op, args));
    }
    check_calls("f32", &calls);
}

#[test]
fn regressions_conversions() {
    let mut calls = Vec::new();
    for (op, args) in [
        ("i32.trunc_f64_s", &[0xc1e0_0000_001c_cccd][..]), // -2147483648.9
        ("i32.trunc_f64_s", &[0x41df_ffff_ffe0_0000]),     // 2147483647.5
        ("i32.trunc_f64_u", &[0x41f0_0000_0000_0000]),     // 4294967296.0
        ("i32.trunc_f32_s", &[0x7fc0_0000]),
        ("i64.trunc_sat_f32_u", &[0xff80_0000]),
        ("f64.promote_f32", &[0x7f80_0001]),
        ("f32.demote_f64", &[0x7ff0_0000_0000_0001]),
        ("f32.convert_i64_u", &[0xffff_ffff_ffff_ffff]),
    ] {
        calls.extend(every_form("conversions", op, args));
    }
    check_calls("conversions", &calls);
}

/// The immediates of the per-batch modules are the bits they should be.
#[test]
fn immediates_are_exact() {
    let f32s: [u32; 12] = [
        0,
        0x8000_0000,
        1,
        0x8000_0001,
        0x007f_ffff,
        0x0080_0000,
        0x3f80_0000,
        0x7f7f_ffff,
        0xff80_0000,
        0x7f80_0001,
        0xffc0_0000,
        0x7fa1_2345,
    ];
    let f64s: [u64; 10] = [
        0,
        0x8000_0000_0000_0000,
        1,
        0x000f_ffff_ffff_ffff,
        0x0010_0000_0000_0000,
        0x3ff0_0000_0000_0001,
        0x7fef_ffff_ffff_ffff,
        0xfff0_0000_0000_0000,
        0x7ff0_0000_0000_0001,
        0xfff8_0000_0000_1234,
    ];
    let values = f32s
        .iter()
        .map(|&b| (Ty::F32, b as u64))
        .chain(f64s.iter().map(|&b| (Ty::F64, b)))
        .chain([
            (Ty::I32, 0xffff_ffff),
            (Ty::I64, u64::MAX),
            (Ty::I64, 1 << 63),
        ]);
    for (t, bits) in values {
        let wat = format!(
            "(module (func (result {}) {}))",
            t.wat(),
            immediate(t, bits)
        );
        let wasm = wat::parse_str(&wat).unwrap_or_else(|e| panic!("{e}\n{wat}"));
        let mut found = None;
        for payload in wasmparser::Parser::new(0).parse_all(&wasm) {
            if let Ok(wasmparser::Payload::CodeSectionEntry(body)) = payload {
                let mut ops = body.get_operators_reader().unwrap();
                found = Some(match ops.read().unwrap() {
                    wasmparser::Operator::I32Const { value } => value as u32 as u64,
                    wasmparser::Operator::I64Const { value } => value as u64,
                    wasmparser::Operator::F32Const { value } => value.bits() as u64,
                    wasmparser::Operator::F64Const { value } => value.bits(),
                    other => panic!("{other:?}"),
                });
            }
        }
        assert_eq!(found, Some(bits), "{wat}");
    }
}
