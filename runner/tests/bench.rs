//! `hako bench` (issue 6) on one small program, one iteration: both runtimes run it with the
//! expected output, compile times are measured, the cold start boots both kernels, and the
//! report is well formed. Benchmarks are measurements: nothing here asserts on times.
//!
//! The program is read in place from `../shared/benchmarks/sightglass/benchmarks`
//! (`HAKO_BENCHMARKS` overrides it).

mod common;
use common::*;
use hako_runner::bench::{self, Options};
use hako_runner::cache::Cache;
use std::time::Duration;

#[test]
fn bench_noop_in_both_runtimes() {
    let root = bench::suite_root(None);
    let programs = bench::discover(&root, Some("noop")).unwrap();
    let program = programs
        .iter()
        .find(|p| p.name == "noop")
        .unwrap_or_else(|| {
            panic!(
                "no noop benchmark under {} (set HAKO_BENCHMARKS)",
                root.display()
            )
        });
    let options = Options {
        iterations: 1,
        opt_level: hako_compiler::OptLevel::O2,
        timeout: Duration::from_secs(120),
    };
    let cache = Cache::at(tmp().join("cache"));
    let run = bench::run_program(program, &options, &cache);
    assert!(run.hako.output_ok, "hako: {:?}", run.hako.error);
    assert!(run.wasmtime.output_ok, "wasmtime: {:?}", run.wasmtime.error);
    assert_eq!(run.hako.times_ms.len(), 1);
    assert_eq!(run.wasmtime.times_ms.len(), 1);
    assert!(run.ratio.is_some());

    let wasm = std::fs::read(&program.wasm).unwrap();
    let compile =
        bench::compile_times(&program.name, "sightglass", &wasm, options.opt_level, false);
    assert!(compile.error.is_none(), "{:?}", compile.error);
    assert!(compile.hako_ms.is_some() && compile.wasmtime_ms.is_some());

    let cold = bench::cold_start(1, options.opt_level, &cache).unwrap();
    assert_eq!(cold.hello_times_ms.len(), 1);
    assert_eq!(cold.baseline_times_ms.len(), 1);
    assert!(cold.hello_image_bytes > 0);

    let report = bench::Report::new(&options, vec![run], vec![compile], Ok(Some(cold)));
    assert!(report.excluded.is_empty(), "{:?}", report.excluded);
    assert!(report.geomean_ratio.is_some());
    let json: serde_json::Value = serde_json::to_value(&report).unwrap();
    for key in [
        "runs",
        "geomean_ratio",
        "compile",
        "compile_summary",
        "cold_start",
        "accel",
    ] {
        assert!(json.get(key).is_some(), "no `{key}` in {json}");
    }
    assert_eq!(json["runs"][0]["name"], "noop");
    let summary = report.summary();
    for part in [
        "run time: geomean ratio",
        "compile throughput",
        "cold start",
    ] {
        assert!(summary.contains(part), "no `{part}` in {summary}");
    }
    let table = report.table();
    for line in ["noop", "geomean ratio", "Compile throughput", "Cold start"] {
        assert!(table.contains(line), "no `{line}` in:\n{table}");
    }
}

#[test]
fn a_failing_program_is_reported_not_hidden() {
    // A "benchmark" whose output differs from its expected stdout, in both runtimes.
    let dir = tempfile::tempdir().unwrap();
    let prog = dir.path().join("wrong");
    std::fs::create_dir(&prog).unwrap();
    let wasm = wat::parse_str(
        r#"(module
            (import "bench" "start" (func $start))
            (import "bench" "end" (func $end))
            (memory (export "memory") 1)
            (func (export "_start") (call $start) (call $end)))"#,
    )
    .unwrap();
    std::fs::write(prog.join("benchmark.wasm"), wasm).unwrap();
    std::fs::write(prog.join("benchmark.stdout.expected"), "something\n").unwrap();
    let programs = bench::discover(dir.path(), None).unwrap();
    assert_eq!(programs.len(), 1);
    let options = Options {
        iterations: 1,
        opt_level: hako_compiler::OptLevel::O0,
        timeout: Duration::from_secs(60),
    };
    let run = bench::run_program(&programs[0], &options, &Cache::at(tmp().join("cache")));
    assert!(!run.hako.output_ok && !run.wasmtime.output_ok, "{run:?}");
    assert!(run.ratio.is_none());
    let report = bench::Report::new(&options, vec![run], Vec::new(), Ok(None));
    assert_eq!(report.geomean_ratio, None);
    assert_eq!(report.excluded.len(), 1, "{:?}", report.excluded);
    assert!(report.table().contains("FAIL"), "{}", report.table());
}

#[test]
fn the_cli_prints_a_table() {
    let out = ran(hako()
        .args([
            "bench",
            "noop",
            "--iterations",
            "1",
            "--no-compile",
            "--no-cold-start",
        ])
        .env("HAKO_BENCHMARKS", bench::suite_root(None))
        .output()
        .unwrap());
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("noop") && out.stdout.contains("geomean"),
        "{}",
        out.stdout
    );
}
