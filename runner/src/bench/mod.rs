//! `hako bench`: the Sightglass benchmarks in hako and in Wasmtime (run time), compile
//! throughput against Wasmtime's `Module::new`, cold start against a do-nothing kernel, and
//! the end-to-end start of `hako run` against bare QEMU.
//!
//! Benchmarks are measurements, not tests: nothing here asserts on times. A program whose
//! output differs from its `.expected` files, or that fails, in either runtime, is reported as
//! such and left out of the geometric mean.
//!
//! The benchmarks' root is, in order: `--suite DIR`, `$HAKO_BENCHMARKS`, or
//! `../shared/benchmarks/sightglass/benchmarks` relative to the workspace root. Each folder
//! holds one or more programs `<stem>.wasm` with optional `<stem>.stdout.expected` and
//! `<stem>.stderr.expected` (else the folder's `default.*.expected`); a program runs with
//! its folder preopened as `.` and its file name as `argv[0]`.
//!
//! One file per concern: `discover.rs` finds the programs; `run.rs` measures run time in
//! both runtimes (`wasmtime.rs` is Wasmtime's side), `compile.rs` compile throughput,
//! `cold_start.rs` the boot against the do-nothing kernel of `pvh.rs`, `end_to_end.rs` `hako
//! run` of a do-nothing module against bare QEMU booting that kernel; `report.rs` puts them
//! together and renders them; `cli.rs` is `hako bench`.
//!
//! With `--target linux` hako's programs are Linux executables run as processes, natively:
//! the cold start and the end-to-end start give way to the start-up of `linux_start.rs`, and
//! `native.rs` adds the native baseline (C programs compiled by clang both natively and to
//! Wasm).

pub mod cli;
mod cold_start;
mod compile;
mod discover;
mod end_to_end;
mod linux_start;
mod native;
mod net;
pub mod pvh;
mod report;
mod run;
pub mod wasmtime;

pub use cold_start::{build_hello, cold_start, ColdStart};
pub use compile::{compile_summary, compile_times, CompileReport, CompileSummary};
pub use discover::{discover, suite_root, Program, SUITE_ENV};
pub use end_to_end::{bare_qemu_args, end_to_end, EndToEnd, DO_NOTHING_WAT};
pub use linux_start::{linux_start, LinuxStart};
pub use native::{native_baseline, sources as native_sources, sources_dir as native_sources_dir};
pub use native::{NativeReport, NativeRun};
pub use report::{LevelSummary, Report};
pub use run::{ratio, run_program, LevelRun, OptLevels, Options, RunReport, Side};

use std::time::Duration;

/// The median of `values` (the mean of the middle two for an even count).
pub fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// The geometric mean of `values`.
pub fn geomean(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    Some((values.iter().map(|v| v.ln()).sum::<f64>() / values.len() as f64).exp())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_geomeans() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        assert!((geomean(&[2.0, 8.0]).unwrap() - 4.0).abs() < 1e-9);
    }
}
