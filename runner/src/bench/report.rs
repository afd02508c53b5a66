//! The whole `hako bench` result ([`Report`], what `--json` writes): the three measurements
//! put together (geometric mean of the run-time ratios, the programs left out of it and why,
//! compile throughput in all and per suite), and its renderings, the one-line summary and
//! the human-readable table.

use super::{compile_summary, geomean, ColdStart, CompileReport, CompileSummary, Options};
use super::{RunReport, Side};
use crate::qemu;
use anyhow::Result;
use serde::Serialize;

/// The whole report (`--json`).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// `kvm` or `tcg`: how QEMU ran hako.
    pub accel: String,
    pub iterations: usize,
    pub opt_level: String,
    pub runs: Vec<RunReport>,
    /// Geometric mean of the ratios of the programs that passed on both sides.
    pub geomean_ratio: Option<f64>,
    /// Programs left out of the geometric mean, and why.
    pub excluded: Vec<String>,
    pub compile: Vec<CompileReport>,
    pub compile_summary: Option<CompileSummary>,
    /// The same per suite (`sightglass`, `wasi`, `large`), for the suites with programs.
    pub compile_by_suite: Vec<(String, CompileSummary)>,
    pub cold_start: Option<ColdStart>,
    /// Why the cold start could not be measured.
    pub cold_start_error: Option<String>,
}

impl Report {
    pub fn new(
        options: &Options,
        runs: Vec<RunReport>,
        compile: Vec<CompileReport>,
        cold_start: Result<Option<ColdStart>>,
    ) -> Report {
        let ratios: Vec<f64> = runs.iter().filter_map(|r| r.ratio).collect();
        let excluded = runs
            .iter()
            .filter(|r| r.ratio.is_none())
            .map(|r| {
                let why = |side: &Side| {
                    side.error
                        .clone()
                        .unwrap_or_else(|| "no measurement".into())
                };
                match (r.hako.output_ok, r.wasmtime.output_ok) {
                    (false, false) => format!(
                        "{}: hako: {}; wasmtime: {}",
                        r.name,
                        why(&r.hako),
                        why(&r.wasmtime)
                    ),
                    (false, _) => format!("{}: hako: {}", r.name, why(&r.hako)),
                    (_, false) => format!("{}: wasmtime: {}", r.name, why(&r.wasmtime)),
                    _ => format!("{}: a zero time", r.name),
                }
            })
            .collect();
        let accel = match qemu::Accel::detect() {
            Ok(qemu::Accel::Kvm) => "kvm",
            Ok(qemu::Accel::Tcg) => "tcg",
            Err(_) => "unknown",
        };
        let (cold_start, cold_start_error) = match cold_start {
            Ok(c) => (c, None),
            Err(e) => (None, Some(format!("{e:#}"))),
        };
        Report {
            accel: accel.into(),
            iterations: options.iterations,
            opt_level: format!("O{}", options.opt_level),
            geomean_ratio: geomean(&ratios),
            runs,
            excluded,
            compile_summary: compile_summary(&compile),
            compile_by_suite: ["wasi", "sightglass", "large"]
                .into_iter()
                .filter_map(|suite| {
                    compile_summary(compile.iter().filter(|r| r.suite == suite))
                        .map(|c| (suite.to_string(), c))
                })
                .collect(),
            compile,
            cold_start,
            cold_start_error,
        }
    }

    /// One line: the geometric mean, the compile ratios, the cold start.
    pub fn summary(&self) -> String {
        let opt = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.3}"));
        let mut parts = vec![format!(
            "run time: geomean ratio wasmtime/hako {} over {} program(s), {} excluded (hako on QEMU {})",
            opt(self.geomean_ratio),
            self.runs.len() - self.excluded.len(),
            self.excluded.len(),
            self.accel.to_uppercase()
        )];
        if let Some(c) = &self.compile_summary {
            parts.push(format!(
                "compile throughput hako/wasmtime: {:.3} at -{}, {} at -O0 ({} programs)",
                c.ratio,
                self.opt_level,
                opt(c.ratio_o0),
                c.programs
            ));
        }
        if let Some(c) = &self.cold_start {
            parts.push(format!(
                "cold start hello/do-nothing kernel: {:.3} ({:.1} ms vs {:.1} ms), hello image {} bytes",
                c.ratio, c.hello_median_ms, c.baseline_median_ms, c.hello_image_bytes
            ));
        }
        parts.join("; ")
    }

    /// The human-readable table.
    pub fn table(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let opt = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.3}"));
        if !self.runs.is_empty() {
            let _ = writeln!(
                s,
                "Run time (bench.start..bench.end, ms; {} iteration(s); hako -{} on QEMU {}{})",
                self.iterations,
                self.opt_level,
                self.accel.to_uppercase(),
                if self.accel == "tcg" {
                    ": emulated, not native"
                } else {
                    ""
                }
            );
            let _ = writeln!(
                s,
                "{:<32} {:>11} {:>11} {:>11} {:>11} {:>9}  output",
                "program", "hako min", "hako med", "wt min", "wt med", "ratio"
            );
            for r in &self.runs {
                let status = match (r.hako.output_ok, r.wasmtime.output_ok) {
                    (true, true) => "ok".to_string(),
                    (h, w) => format!(
                        "FAIL ({}{})",
                        if h { "" } else { "hako " },
                        if w { "" } else { "wasmtime" }
                    )
                    .replace(" )", ")"),
                };
                let _ = writeln!(
                    s,
                    "{:<32} {:>11} {:>11} {:>11} {:>11} {:>9}  {status}",
                    r.name,
                    opt(r.hako.min_ms),
                    opt(r.hako.median_ms),
                    opt(r.wasmtime.min_ms),
                    opt(r.wasmtime.median_ms),
                    r.ratio.map_or("-".to_string(), |v| format!("{v:.3}")),
                );
            }
            let _ = writeln!(
                s,
                "geomean ratio (wasmtime median / hako median, >1: hako faster): {} over {} program(s)",
                opt(self.geomean_ratio),
                self.runs.len() - self.excluded.len()
            );
            for e in &self.excluded {
                let _ = writeln!(s, "  excluded: {e}");
            }
            let _ = writeln!(s);
        }
        if let Some(c) = &self.compile_summary {
            let _ = writeln!(
                s,
                "Compile throughput over {} program(s), {:.2} MB of Wasm (hako_compiler::compile, no cache, vs Wasmtime Module::new):",
                c.programs,
                c.wasm_bytes as f64 / 1e6
            );
            let _ = writeln!(
                s,
                "  hako -{}: {:.3} MB/s   wasmtime: {:.3} MB/s   ratio (hako/wasmtime): {:.3}",
                self.opt_level, c.hako_mb_per_s, c.wasmtime_mb_per_s, c.ratio
            );
            if let (Some(o0), Some(r)) = (c.hako_o0_mb_per_s, c.ratio_o0) {
                let _ = writeln!(
                    s,
                    "  hako -O0: {o0:.3} MB/s   ratio (hako/wasmtime): {r:.3}"
                );
            }
            if self.compile_by_suite.len() > 1 {
                for (suite, c) in &self.compile_by_suite {
                    let _ = writeln!(
                        s,
                        "  {suite} ({} programs, {:.2} MB): -{} ratio {:.3}, -O0 ratio {}",
                        c.programs,
                        c.wasm_bytes as f64 / 1e6,
                        self.opt_level,
                        c.ratio,
                        c.ratio_o0.map_or("-".to_string(), |r| format!("{r:.3}"))
                    );
                }
            }
            let large: Vec<_> = self.compile.iter().filter(|r| r.suite == "large").collect();
            if !large.is_empty() {
                let _ = writeln!(
                    s,
                    "  {:<16} {:>6} {:>9} {:>9} {:>9} {:>7} {:>7}   CPU s: {:>7} {:>7} {:>7}",
                    "large module",
                    "MB",
                    format!("-{} s", self.opt_level),
                    "-O0 s",
                    "wt s",
                    format!("-{}", self.opt_level),
                    "-O0",
                    format!("-{}", self.opt_level),
                    "-O0",
                    "wt"
                );
                let secs =
                    |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{:.2}", v / 1e3));
                let ratio = |h: Option<f64>, w: Option<f64>| match (h, w) {
                    (Some(h), Some(w)) => format!("{:.3}", w / h),
                    _ => "-".to_string(),
                };
                for r in large {
                    let _ = writeln!(
                        s,
                        "  {:<16} {:>6.2} {:>9} {:>9} {:>9} {:>7} {:>7}          {:>7} {:>7} {:>7}",
                        r.name,
                        r.wasm_bytes as f64 / 1e6,
                        secs(r.hako_ms),
                        secs(r.hako_o0_ms),
                        secs(r.wasmtime_ms),
                        ratio(r.hako_ms, r.wasmtime_ms),
                        ratio(r.hako_o0_ms, r.wasmtime_ms),
                        secs(r.hako_cpu_ms),
                        secs(r.hako_o0_cpu_ms),
                        secs(r.wasmtime_cpu_ms)
                    );
                }
            }
            for r in self.compile.iter().filter(|r| r.error.is_some()) {
                let _ = writeln!(
                    s,
                    "  failed: {}: {}",
                    r.name,
                    r.error.as_deref().unwrap_or("")
                );
            }
            let _ = writeln!(s);
        }
        if let Some(c) = &self.cold_start {
            let _ = writeln!(
                s,
                "Cold start (QEMU spawn to exit, median of {} runs, {}):",
                c.runs,
                self.accel.to_uppercase()
            );
            let _ = writeln!(
                s,
                "  hello image: {:.1} ms   do-nothing PVH kernel: {:.1} ms   ratio: {:.3}   hello image size: {} bytes",
                c.hello_median_ms, c.baseline_median_ms, c.ratio, c.hello_image_bytes
            );
        }
        if let Some(e) = &self.cold_start_error {
            let _ = writeln!(s, "Cold start: not measured: {e}");
        }
        s
    }
}
