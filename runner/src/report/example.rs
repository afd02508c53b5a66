//! A small synthetic [`Report`], for the snapshot tests, the browser test and trying the
//! page out (`hako report --from`): every section filled, with text that needs escaping.

use std::collections::BTreeMap;

use super::*;

fn file(
    name: &str,
    tier: &str,
    passed: usize,
    failures: Vec<Assertion>,
    not_run: &[(&str, usize)],
    known: bool,
) -> SpecFile {
    let not_run_reasons: BTreeMap<String, usize> =
        not_run.iter().map(|(r, n)| (r.to_string(), *n)).collect();
    let not_run_count: usize = not_run_reasons.values().sum();
    let passes = failures.is_empty() && not_run_count == 0;
    let reason = (!passes).then(|| match failures.first() {
        Some(a) => format!(
            "{} failed, e.g. {}: expected {}, got {}",
            failures.len(),
            a.kind,
            a.expected,
            a.actual
        ),
        None => format!("{not_run_count} not run: {}", not_run[0].0),
    });
    SpecFile {
        group: group_of(name, tier),
        name: name.to_string(),
        tier: tier.to_string(),
        passes,
        known_failing: known,
        passed,
        failed: failures.len(),
        not_run: not_run_count,
        millis: 120,
        reason,
        failures,
        not_run_reasons,
    }
}

fn failure(file: &str, line: u32, kind: &str, expected: &str, actual: &str) -> Assertion {
    Assertion {
        location: format!("{file}:{line}"),
        line,
        kind: kind.to_string(),
        expected: expected.to_string(),
        actual: actual.to_string(),
    }
}

fn run(ending: &str, stdout: &str) -> Run {
    Run {
        ending: ending.to_string(),
        stdout: stdout.to_string(),
        stderr: String::new(),
        json_mismatches: Vec::new(),
        millis: 40,
    }
}

/// The synthetic report: 6 spec files over all four tiers and two proposals, 4 WASI
/// programs (two failing, one of them unexpectedly), 5 WASI functions of every status.
pub fn synthetic() -> Report {
    let files = vec![
        file("address.wast", "core2", 120, vec![], &[], false),
        file(
            "float_exprs.wast",
            "core2",
            880,
            vec![failure(
                "float_exprs.wast",
                2351,
                "assert_return",
                "(f32:0x7fc00000)",
                "(f32:0x7fa00000) <nan|payload> & \"quoted\"",
            )],
            &[],
            true,
        ),
        file("simd_lane.wast", "simd", 400, vec![], &[], false),
        file(
            "gc/struct.wast",
            "wasm3",
            10,
            vec![failure(
                "gc/struct.wast",
                12,
                "module",
                "a valid module",
                "the compiler refused the module: GC types are not supported",
            )],
            &[("the module of line 12 did not compile", 30)],
            true,
        ),
        file(
            "proposals/threads/atomic.wast",
            "proposal",
            5,
            vec![],
            &[("kernel has no threads\u{1}", 95)],
            true,
        ),
        file(
            "proposals/wide-arithmetic/wide-arithmetic.wast",
            "proposal",
            60,
            vec![
                failure(
                    "proposals/wide-arithmetic/wide-arithmetic.wast",
                    40,
                    "assert_return",
                    "(i64:1 i64:0)",
                    "(i64:0 i64:0)",
                ),
                failure(
                    "proposals/wide-arithmetic/wide-arithmetic.wast",
                    41,
                    "assert_trap",
                    "trap \"unreachable\"",
                    "guest crashed: kernel panic: page fault at 0x0",
                ),
            ],
            &[],
            false,
        ),
    ];
    let rejections = Group {
        name: "assert_invalid/assert_malformed".into(),
        files: 0,
        passing: 0,
        passed: 300,
        failed: 2,
        not_run: 0,
    };
    let spec = SpecSection::from_files(
        "../shared/spec-testsuite".into(),
        "0".into(),
        21.5,
        files,
        rejections,
    );
    let programs = vec![
        WasiProgram {
            name: "c/clock_getres-monotonic".into(),
            passes: true,
            known_failing: false,
            reference: "oracle".into(),
            differences: vec![],
            problems: vec![],
            reason: None,
            oracle_note: None,
            hako: Some(run("exit 0", "")),
            oracle: Some(run("exit 0", "")),
            compile_millis: Some(300),
            wasi_imports: vec!["clock_res_get".into(), "proc_exit".into()],
            enosys: vec![],
        },
        WasiProgram {
            name: "rust/fd_advise".into(),
            passes: false,
            known_failing: true,
            reference: "oracle".into(),
            differences: vec!["exit: oracle exit 0, hako exit 1".into()],
            problems: vec![
                "exit: oracle exit 0, hako exit 1".into(),
                "hako: ENOSYS from fd_advise".into(),
            ],
            reason: Some("ENOSYS fd_advise; exit: oracle exit 0, hako exit 1".into()),
            oracle_note: None,
            hako: Some(run("exit 1", "")),
            oracle: Some(run("exit 0", "")),
            compile_millis: None,
            wasi_imports: vec!["fd_advise".into(), "path_open".into(), "proc_exit".into()],
            enosys: vec!["fd_advise".into()],
        },
        WasiProgram {
            name: "rust/poll_oneoff_stdio".into(),
            passes: false,
            known_failing: false,
            reference: "oracle".into(),
            differences: vec!["stdout differs at byte 3: oracle \"ok <1>\", hako \"ok |2|\"".into()],
            problems: vec!["stdout differs at byte 3: oracle \"ok <1>\", hako \"ok |2|\"".into()],
            reason: Some("stdout differs at byte 3: oracle \"ok <1>\", hako \"ok |2|\"".into()),
            oracle_note: None,
            hako: Some(run("exit 0", "ok |2|")),
            oracle: Some(run("exit 0", "ok <1>")),
            compile_millis: None,
            wasi_imports: vec!["poll_oneoff".into(), "proc_exit".into()],
            enosys: vec![],
        },
        WasiProgram {
            name: "assemblyscript/environ_get-multiple-variables".into(),
            passes: true,
            known_failing: false,
            reference: "json".into(),
            differences: vec![],
            problems: vec![],
            reason: None,
            oracle_note: Some("assemblyscript/environ_get-multiple-variables: the oracle disagrees with the test's JSON (exit: JSON 0, got exit 1); hako judged against the JSON alone".into()),
            hako: Some(run("exit 0", "")),
            oracle: Some(run("exit 1", "")),
            compile_millis: None,
            wasi_imports: vec!["environ_get".into(), "environ_sizes_get".into()],
            enosys: vec![],
        },
    ];
    let function = |name: &str, status, imported_by: &[&str], enosys_in: &[&str]| WasiFunction {
        name: name.to_string(),
        status,
        imported_by: imported_by.iter().map(|s| s.to_string()).collect(),
        enosys_in: enosys_in.iter().map(|s| s.to_string()).collect(),
    };
    let functions = vec![
        function(
            "clock_res_get",
            FunctionStatus::Implemented,
            &["c/clock_getres-monotonic"],
            &[],
        ),
        function(
            "fd_advise",
            FunctionStatus::Missing,
            &["rust/fd_advise"],
            &["rust/fd_advise"],
        ),
        function(
            "path_open",
            FunctionStatus::Partial,
            &["rust/fd_advise"],
            &["rust/fd_advise"],
        ),
        function(
            "poll_oneoff",
            FunctionStatus::Implemented,
            &["rust/poll_oneoff_stdio"],
            &[],
        ),
        function("sock_accept", FunctionStatus::Missing, &[], &[]),
    ];
    Report {
        linux: None,
        format: FORMAT,
        date: "2026-06-01T02:00:00Z".into(),
        seconds: 160.2,
        tools: Tools {
            hako: "0.1.0".into(),
            commit: "0123456789abcdef0123456789abcdef01234567".into(),
            rustc: "rustc 1.95.0 (59807616e 2026-04-14)".into(),
            llvm: "LLVM 19.1.7".into(),
            qemu: "QEMU emulator version 7.2.22".into(),
            wasmtime: "46.0.3".into(),
        },
        machine: Machine {
            cpu: "Example CPU @ 2.0GHz".into(),
            cores: 2,
            memory_mib: 23_000,
            os: "Debian GNU/Linux 12 (bookworm), Linux 6.1.0".into(),
            accel: "tcg".into(),
            accel_note: "/dev/kvm is kvm-pvm (no SSE in guests), so TCG".into(),
        },
        spec: Some(spec),
        wasi: Some(WasiSection {
            suite: "../shared/wasi-testsuite".into(),
            opt_level: "2".into(),
            seconds: 138.0,
            totals: WasiTotals {
                programs: 4,
                oracle_matches_json: 3,
                hako_passes: 2,
                hako_matches_oracle: 1,
                hako_fails: 2,
            },
            programs,
            functions,
            probe_error: None,
        }),
        benchmarks: Some(Benchmarks {
            available: false,
            note: NO_BENCH.into(),
            result: None,
        }),
        fuzz: Some(FuzzSection {
            seed: 1_765_000_000,
            summary: crate::fuzz::Summary {
                modules: 5000,
                invocations: 15_812,
                state_checks: 24_950,
                skipped: vec![],
                mismatches: vec![crate::fuzz::Mismatch {
                    case: "seed-1765000042".into(),
                    opt_level: "O3".into(),
                    failures: vec![
                        "6: assert_trap expected trap \"out of bounds memory access\", got ()"
                            .into(),
                    ],
                    saved: None,
                }],
            },
        }),
        notes: vec![],
    }
}
