//! `hako bench` (issue 6) on one small program, one iteration: both runtimes run it with the
//! expected output, compile times are measured, the cold start boots both kernels, the
//! end-to-end start runs `hako run` and bare QEMU, and the report is well formed; with `--target linux`, at several levels, the native baseline on
//! small C programs and the Linux start-up. Benchmarks are measurements: nothing here
//! asserts on times.
//!
//! The program is read in place from `../shared/benchmarks/sightglass/benchmarks`
//! (`HAKO_BENCHMARKS` overrides it).

mod common;
use common::*;
use hako_compiler::OptLevel;
use hako_runner::bench::{self, LevelRun, Options, RunReport, Side};
use hako_runner::cache::Cache;
use hako_runner::image::Target;
use std::time::Duration;

fn noop() -> bench::Program {
    let root = bench::suite_root(None);
    bench::discover(&root, Some("noop"))
        .unwrap()
        .into_iter()
        .find(|p| p.name == "noop")
        .unwrap_or_else(|| {
            panic!(
                "no noop benchmark under {} (set HAKO_BENCHMARKS)",
                root.display()
            )
        })
}

fn linux(levels: &[OptLevel]) -> Options {
    Options {
        iterations: 1,
        opt_level: levels[0],
        more_levels: levels[1..].to_vec(),
        target: Target::Linux,
        timeout: Duration::from_secs(120),
    }
}

#[test]
fn bench_noop_in_both_runtimes() {
    common::install_compiler();
    let program = &noop();
    let options = Options {
        iterations: 1,
        opt_level: hako_compiler::OptLevel::O2,
        timeout: Duration::from_secs(120),
        ..Options::default()
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

    let hako = std::path::Path::new(env!("CARGO_BIN_EXE_hako"));
    let end_to_end = bench::end_to_end(2, hako, &cache).unwrap();
    assert_eq!(end_to_end.runs, 2);
    assert_eq!(end_to_end.hako_times_ms.len(), 2);
    assert_eq!(end_to_end.bare_times_ms.len(), 2);
    assert_eq!(end_to_end.hako_command[1], "run");
    assert!(
        end_to_end.bare_command.join(" ").contains(
            "-M microvm -nodefaults -m 64M -serial null -device isa-debug-exit,iobase=0xf4,iosize=4"
        ),
        "{:?}",
        end_to_end.bare_command
    );

    let mut report = bench::Report::new(&options, vec![run], vec![compile], Ok(Some(cold)));
    report.end_to_end = Some(end_to_end);
    assert!(report.excluded.is_empty(), "{:?}", report.excluded);
    assert!(report.geomean_ratio.is_some());
    let json: serde_json::Value = serde_json::to_value(&report).unwrap();
    for key in [
        "runs",
        "geomean_ratio",
        "compile",
        "compile_summary",
        "cold_start",
        "end_to_end",
        "accel",
    ] {
        assert!(json.get(key).is_some(), "no `{key}` in {json}");
    }
    assert_eq!(json["runs"][0]["name"], "noop");
    assert!(json["end_to_end"]["ratio"].is_f64(), "{json}");
    let summary = report.summary();
    for part in [
        "run time: geomean ratio",
        "compile throughput",
        "cold start",
        "end to end",
    ] {
        assert!(summary.contains(part), "no `{part}` in {summary}");
    }
    let table = report.table();
    for line in [
        "noop",
        "geomean ratio",
        "Compile throughput",
        "Cold start",
        "End to end",
    ] {
        assert!(table.contains(line), "no `{line}` in:\n{table}");
    }
}

#[test]
fn a_failing_program_is_reported_not_hidden() {
    common::install_compiler();
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
        ..Options::default()
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
            "--no-end-to-end",
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

#[test]
fn an_end_to_end_failure_is_reported_not_hidden() {
    // A "hako" that cannot run the do-nothing module: the measurement is an error, which the
    // report shows in place of the figure.
    let cache = Cache::at(tmp().join("cache"));
    let err = bench::end_to_end(1, std::path::Path::new("/bin/false"), &cache).unwrap_err();
    let message = format!("{err:#}");
    assert!(
        message.contains("hako run of the do-nothing module"),
        "{message}"
    );
    let options = Options {
        iterations: 1,
        opt_level: hako_compiler::OptLevel::O0,
        timeout: Duration::from_secs(60),
        ..Options::default()
    };
    let mut report = bench::Report::new(&options, Vec::new(), Vec::new(), Ok(None));
    report.end_to_end_error = Some(message);
    assert!(
        report.table().contains("End to end: not measured:"),
        "{}",
        report.table()
    );
}

#[test]
fn linux_target_at_two_levels() {
    common::install_compiler();
    let options = linux(&[OptLevel::O2, OptLevel::O3]);
    let run = bench::run_program(&noop(), &options, &Cache::at(tmp().join("cache")));
    assert!(run.hako.output_ok, "hako -O2: {:?}", run.hako.error);
    assert_eq!(run.more_levels.len(), 1);
    let o3 = &run.more_levels[0];
    assert_eq!(o3.opt_level, "O3");
    assert!(o3.hako.output_ok, "hako -O3: {:?}", o3.hako.error);
    assert!(run.wasmtime.output_ok, "wasmtime: {:?}", run.wasmtime.error);
    assert!(run.ratio.is_some() && o3.ratio.is_some());
    assert_eq!(o3.hako.times_ms.len(), 1);

    let report = bench::Report::new(&options, vec![run], Vec::new(), Ok(None));
    assert_eq!(
        (report.accel.as_str(), report.target.as_str()),
        ("native", "linux")
    );
    assert_eq!(report.levels.len(), 2);
    assert_eq!(report.levels[1].opt_level, "O3");
    assert_eq!(report.levels[1].programs, 1);
    let json = serde_json::to_value(&report).unwrap();
    assert!(
        json["runs"][0]["more_levels"][0]["ratio"].is_number(),
        "{json}"
    );
    let table = report.table();
    for part in [
        "-O2 med",
        "-O3 med",
        "geomean ratio -O3",
        "Linux executables, native",
    ] {
        assert!(table.contains(part), "no `{part}` in:\n{table}");
    }
}

/// A run report with these medians (hako at each level, Wasmtime), every side passing but
/// those given as `None`.
fn synthetic(name: &str, hako: &[Option<f64>], wasmtime: f64) -> RunReport {
    let side = |ms: Option<f64>| Side {
        times_ms: ms.into_iter().collect(),
        min_ms: ms,
        median_ms: ms,
        output_ok: ms.is_some(),
        error: ms.is_none().then(|| "it failed".to_string()),
    };
    let wt = side(Some(wasmtime));
    let ratio = |h: Option<f64>| h.map(|h| wasmtime / h);
    RunReport {
        name: name.into(),
        wasm_bytes: 0,
        hako: side(hako[0]),
        ratio: ratio(hako[0]),
        more_levels: hako[1..]
            .iter()
            .map(|&h| LevelRun {
                opt_level: "O3".into(),
                hako: side(h),
                ratio: ratio(h),
            })
            .collect(),
        wasmtime: wt,
    }
}

#[test]
fn each_level_has_its_own_geometric_mean() {
    let options = linux(&[OptLevel::O2, OptLevel::O3]);
    let runs = vec![
        synthetic("a", &[Some(2.0), Some(1.0)], 2.0),
        synthetic("b", &[Some(4.0), Some(2.0)], 2.0),
        synthetic("c", &[None, Some(4.0)], 2.0),
    ];
    let report = bench::Report::new(&options, runs, Vec::new(), Ok(None));
    let (o2, o3) = (&report.levels[0], &report.levels[1]);
    // -O2: ratios 1 and 0.5 (c failed); -O3: 2, 1 and 0.5.
    assert_eq!(o2.programs, 2);
    assert!((o2.geomean_ratio.unwrap() - 0.5f64.sqrt()).abs() < 1e-9);
    assert_eq!(o2.slowest, Some(("b".to_string(), 0.5)));
    assert_eq!(o2.excluded.len(), 1);
    assert!(
        o2.excluded[0].starts_with("c: hako: it failed"),
        "{:?}",
        o2.excluded
    );
    assert_eq!(o3.programs, 3);
    assert!((o3.geomean_ratio.unwrap() - 1.0).abs() < 1e-9);
    assert_eq!(o3.slowest, Some(("c".to_string(), 0.5)));
    assert!(o3.excluded.is_empty());
    // The first level is also the report's own (what `hako report --bench` shows).
    assert_eq!(report.geomean_ratio, o2.geomean_ratio);
    assert_eq!(report.excluded, o2.excluded);
    assert!(
        report.table().contains("FAIL (hako -O2)"),
        "{}",
        report.table()
    );
}

#[test]
fn native_baseline_checks_outputs_against_the_native_build() {
    common::install_compiler();
    let dir = tempfile::tempdir().unwrap();
    // A small CPU-bound program, and one whose output differs in Wasm (32-bit pointers).
    let sum = dir.path().join("sum.c");
    std::fs::write(
        &sum,
        r#"#include <stdio.h>
#include "bench.h"
int main(void) {
    unsigned long long s = 0;
    bench_start();
    for (unsigned i = 0; i < 1000000; i++) s += (unsigned long long)i * i % 7;
    bench_end();
    printf("sum %llu\n", s);
    return 0;
}
"#,
    )
    .unwrap();
    let pointer = dir.path().join("pointer.c");
    std::fs::write(
        &pointer,
        r#"#include <stdio.h>
#include "bench.h"
int main(void) { bench_start(); bench_end(); printf("%zu\n", sizeof(void *)); return 0; }
"#,
    )
    .unwrap();
    let sources = bench::native_sources(dir.path(), None).unwrap();
    assert_eq!(sources, vec![pointer, sum]);
    let options = linux(&[OptLevel::O2]);
    let native =
        bench::native_baseline(&sources, &options, &Cache::at(tmp().join("cache"))).unwrap();
    assert_eq!(native.levels, vec!["O2"]);
    let [pointer, sum] = &native.programs[..] else {
        panic!("{native:?}")
    };
    assert!(sum.native.output_ok, "{sum:?}");
    let run = sum.run.as_ref().unwrap();
    assert!(run.hako.output_ok, "hako: {:?}", run.hako.error);
    assert!(run.wasmtime.output_ok, "wasmtime: {:?}", run.wasmtime.error);
    assert!(sum.hako_vs_native[0].is_some() && sum.wasmtime_vs_native.is_some());

    assert!(pointer.native.output_ok);
    let run = pointer.run.as_ref().unwrap();
    assert!(!run.hako.output_ok && !run.wasmtime.output_ok, "{run:?}");
    assert!(run
        .hako
        .error
        .as_deref()
        .unwrap()
        .contains("stdout differs"));
    assert_eq!(
        (pointer.hako_vs_native[0], pointer.wasmtime_vs_native),
        (None, None)
    );

    // Over `sum` alone.
    let (all, one) = (
        native.hako_geomeans[0].unwrap(),
        sum.hako_vs_native[0].unwrap(),
    );
    assert!((all - one).abs() < 1e-9, "{all} {one}");
    let table = native.table();
    for part in [
        "Native baseline",
        "hako -O2",
        "FAIL (hako -O2 wasmtime)",
        "geomean hako -O2 / native",
    ] {
        assert!(table.contains(part), "no `{part}` in:\n{table}");
    }
}

#[test]
fn the_native_programs_are_found() {
    let sources = bench::native_sources(&bench::native_sources_dir(), None).unwrap();
    assert!(sources.len() >= 6, "{sources:?}");
    let one = bench::native_sources(&bench::native_sources_dir(), Some("nbody")).unwrap();
    assert_eq!(one.len(), 1);
}

#[test]
fn linux_start_up() {
    common::install_compiler();
    let start = bench::linux_start(
        1,
        OptLevel::O2,
        std::path::Path::new(env!("CARGO_BIN_EXE_hako")),
        &Cache::at(tmp().join("cache")),
    )
    .unwrap();
    assert_eq!(start.executable_times_ms.len(), 1);
    assert_eq!(start.hako_run_times_ms.len(), 1);
    assert_eq!(start.wasmtime_times_ms.len(), 1);
    assert_eq!(start.native_times_ms.len(), 1);
    assert!(start.executable_bytes > 0);
    assert!(start.table().contains("hako run --target linux"));
}

#[test]
fn the_cli_takes_a_target_and_a_list_of_levels() {
    let out = ran(hako()
        .args([
            "bench",
            "noop",
            "--target",
            "linux",
            "-O",
            "2,3",
            "--iterations",
            "1",
            "--no-compile",
            "--no-cold-start",
        ])
        .env("HAKO_BENCHMARKS", bench::suite_root(None))
        .output()
        .unwrap());
    assert_eq!(out.status, 0, "{}", out.stderr);
    for part in ["noop", "ratio O3", "geomean ratio -O2", "geomean ratio -O3"] {
        assert!(out.stdout.contains(part), "no `{part}` in:\n{}", out.stdout);
    }
    let out = ran(hako().args(["bench", "-O", "2,5"]).output().unwrap());
    assert_ne!(out.status, 0);
    assert!(
        out.stderr.contains("invalid optimisation level"),
        "{}",
        out.stderr
    );
}
