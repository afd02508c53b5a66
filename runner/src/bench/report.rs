//! The whole `hako bench` result ([`Report`], what `--json` writes): the three measurements
//! put together (geometric mean of the run-time ratios, the programs left out of it and why,
//! compile throughput in all and per suite), and its renderings, the one-line summary and
//! the human-readable table. The parts only one target has are set after [`Report::new`]:
//! the end-to-end start of the unikernel (`end_to_end`), and with `--target linux` the
//! native baseline and the Linux start-up (`native`, `linux_start`).

use super::{compile_summary, geomean, ColdStart, CompileReport, CompileSummary, EndToEnd};
use super::{LinuxStart, NativeReport, Options, RunReport, Side};
use crate::image::Target;
use crate::qemu;
use anyhow::Result;
use serde::Serialize;

/// The whole report (`--json`).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// `kvm` or `tcg`: how QEMU ran hako; `native` for `--target linux`.
    pub accel: String,
    /// `unikernel` or `linux`: what hako's programs ran as.
    pub target: String,
    pub iterations: usize,
    pub opt_level: String,
    pub runs: Vec<RunReport>,
    /// Geometric mean of the ratios of the programs that passed on both sides (first level).
    pub geomean_ratio: Option<f64>,
    /// Programs left out of the geometric mean, and why (first level).
    pub excluded: Vec<String>,
    /// The run times' summary at every level, the first first.
    pub levels: Vec<LevelSummary>,
    /// The native baseline (`--target linux`).
    pub native: Option<NativeReport>,
    /// Why the native baseline could not be measured.
    pub native_error: Option<String>,
    /// The start-up on Linux (`--target linux`, in place of the cold start).
    pub linux_start: Option<LinuxStart>,
    /// Why the start-up could not be measured.
    pub linux_start_error: Option<String>,
    pub compile: Vec<CompileReport>,
    pub compile_summary: Option<CompileSummary>,
    /// The same per suite (`sightglass`, `wasi`, `large`), for the suites with programs.
    pub compile_by_suite: Vec<(String, CompileSummary)>,
    pub cold_start: Option<ColdStart>,
    /// Why the cold start could not be measured.
    pub cold_start_error: Option<String>,
    pub end_to_end: Option<EndToEnd>,
    /// Why the end-to-end start could not be measured.
    pub end_to_end_error: Option<String>,
}

/// The run times at one level.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LevelSummary {
    /// `O2`.
    pub opt_level: String,
    /// Geometric mean of the ratios (Wasmtime median / hako median) of the programs that
    /// passed on both sides at this level.
    pub geomean_ratio: Option<f64>,
    /// How many programs that is.
    pub programs: usize,
    /// The program with the smallest ratio, and that ratio.
    pub slowest: Option<(String, f64)>,
    /// Programs left out at this level, and why.
    pub excluded: Vec<String>,
}

impl LevelSummary {
    /// The summary of level `index` (0: the first) of `runs`.
    pub fn of(opt_level: String, index: usize, runs: &[RunReport]) -> LevelSummary {
        let mut ratios = Vec::new();
        let mut slowest: Option<(String, f64)> = None;
        let mut excluded = Vec::new();
        for r in runs {
            let Some(&(hako, ratio)) = r.levels().get(index) else {
                continue;
            };
            match ratio {
                Some(ratio) => {
                    ratios.push(ratio);
                    if slowest.as_ref().is_none_or(|(_, s)| ratio < *s) {
                        slowest = Some((r.name.clone(), ratio));
                    }
                }
                None => excluded.push(why_excluded(&r.name, hako, &r.wasmtime)),
            }
        }
        LevelSummary {
            opt_level,
            geomean_ratio: geomean(&ratios),
            programs: ratios.len(),
            slowest,
            excluded,
        }
    }
}

/// Why a program has no ratio.
fn why_excluded(name: &str, hako: &Side, wasmtime: &Side) -> String {
    let why = |side: &Side| {
        side.error
            .clone()
            .unwrap_or_else(|| "no measurement".into())
    };
    match (hako.output_ok, wasmtime.output_ok) {
        (false, false) => format!("{name}: hako: {}; wasmtime: {}", why(hako), why(wasmtime)),
        (false, _) => format!("{name}: hako: {}", why(hako)),
        (_, false) => format!("{name}: wasmtime: {}", why(wasmtime)),
        _ => format!("{name}: a zero time"),
    }
}

impl Report {
    pub fn new(
        options: &Options,
        runs: Vec<RunReport>,
        compile: Vec<CompileReport>,
        cold_start: Result<Option<ColdStart>>,
    ) -> Report {
        let levels: Vec<LevelSummary> = options
            .levels()
            .iter()
            .enumerate()
            .map(|(i, level)| LevelSummary::of(format!("O{level}"), i, &runs))
            .collect();
        let excluded = levels[0].excluded.clone();
        let accel = match (options.target, qemu::Accel::detect()) {
            (Target::Linux, _) => "native",
            (_, Ok(qemu::Accel::Kvm)) => "kvm",
            (_, Ok(qemu::Accel::Tcg)) => "tcg",
            (_, Err(_)) => "unknown",
        };
        let (cold_start, cold_start_error) = match cold_start {
            Ok(c) => (c, None),
            Err(e) => (None, Some(format!("{e:#}"))),
        };
        Report {
            accel: accel.into(),
            target: options.target.name().into(),
            iterations: options.iterations,
            opt_level: format!("O{}", options.opt_level),
            geomean_ratio: levels[0].geomean_ratio,
            runs,
            excluded,
            levels,
            native: None,
            native_error: None,
            linux_start: None,
            linux_start_error: None,
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
            end_to_end: None,
            end_to_end_error: None,
        }
    }

    /// One line: the geometric mean, the compile ratios, the cold start.
    pub fn summary(&self) -> String {
        let opt = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.3}"));
        let mut parts = vec![format!(
            "run time: geomean ratio wasmtime/hako {} over {} program(s), {} excluded ({})",
            opt(self.geomean_ratio),
            self.runs.len() - self.excluded.len(),
            self.excluded.len(),
            self.where_hako_ran()
        )];
        for l in self.levels.iter().skip(1) {
            parts.push(format!(
                "at -{}: {} over {}",
                l.opt_level,
                opt(l.geomean_ratio),
                l.programs
            ));
        }
        if let Some(n) = &self.native {
            let levels: Vec<String> = n
                .levels
                .iter()
                .zip(&n.hako_geomeans)
                .map(|(l, g)| format!("-{l} {}", opt(*g)))
                .collect();
            parts.push(format!(
                "native baseline hako/native {}, wasmtime/native {}",
                levels.join(", "),
                opt(n.wasmtime_geomean)
            ));
        }
        if let Some(l) = &self.linux_start {
            parts.push(format!(
                "start-up: executable {:.2} ms, hako run {:.2} ms, wasmtime {:.2} ms",
                l.executable_median_ms, l.hako_run_median_ms, l.wasmtime_median_ms
            ));
        }
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
        if let Some(e) = &self.end_to_end {
            parts.push(format!(
                "end to end hako run/bare QEMU: {:.3} ({:.1} ms vs {:.1} ms)",
                e.ratio, e.hako_median_ms, e.bare_median_ms
            ));
        }
        parts.join("; ")
    }

    /// The human-readable table.
    pub fn table(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        if !self.runs.is_empty() {
            self.run_table(&mut s);
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
        if let Some(n) = &self.native {
            let _ = writeln!(s, "{}", n.table());
        }
        if let Some(e) = &self.native_error {
            let _ = writeln!(s, "Native baseline: not measured: {e}\n");
        }
        if let Some(l) = &self.linux_start {
            s.push_str(&l.table());
        }
        if let Some(e) = &self.linux_start_error {
            let _ = writeln!(s, "Start-up: not measured: {e}");
        }
        if let Some(e) = &self.end_to_end {
            let _ = writeln!(
                s,
                "End to end (`hako run` of a do-nothing module, warm cache, vs bare QEMU booting the do-nothing PVH kernel; spawn to exit, median of {} runs each, {}):",
                e.runs,
                self.accel.to_uppercase()
            );
            let _ = writeln!(
                s,
                "  hako run: {:.1} ms   bare QEMU: {:.1} ms   ratio: {:.3}",
                e.hako_median_ms, e.bare_median_ms, e.ratio
            );
        }
        if let Some(e) = &self.end_to_end_error {
            let _ = writeln!(s, "End to end: not measured: {e}");
        }
        s
    }

    /// How hako's programs ran, for headings.
    fn where_hako_ran(&self) -> String {
        match self.accel.as_str() {
            "native" => "hako as Linux executables, native".into(),
            "tcg" => "hako on QEMU TCG: emulated, not native".into(),
            accel => format!("hako on QEMU {}", accel.to_uppercase()),
        }
    }

    /// The run times: per program, hako's minimum, median and ratio at each level, then
    /// Wasmtime's; a geometric mean per level.
    fn run_table(&self, s: &mut String) {
        use std::fmt::Write;
        let opt = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.3}"));
        // Times under 0.1 ms (the `noop`-like programs) keep two more digits.
        let time = |v: Option<f64>| match v {
            Some(v) if v < 0.1 => format!("{v:.5}"),
            v => opt(v),
        };
        let width = self
            .runs
            .iter()
            .map(|r| r.name.len())
            .max()
            .unwrap_or(0)
            .max(32);
        let levels: Vec<&str> = self.levels.iter().map(|l| l.opt_level.as_str()).collect();
        let _ = writeln!(
            s,
            "Run time (bench.start..bench.end, ms; {} iteration(s); {})",
            self.iterations,
            self.where_hako_ran()
        );
        let mut header = format!("{:<width$}", "program");
        for level in &levels {
            let _ = write!(
                header,
                " {:>11} {:>11} {:>9}",
                format!("-{level} min"),
                format!("-{level} med"),
                format!("ratio {level}")
            );
        }
        let _ = write!(header, " {:>11} {:>11}  output", "wt min", "wt med");
        let _ = writeln!(s, "{header}");
        for r in &self.runs {
            let mut line = format!("{:<width$}", r.name);
            let mut failed = Vec::new();
            for ((side, ratio), level) in r.levels().into_iter().zip(&levels) {
                if !side.output_ok {
                    failed.push(if levels.len() > 1 {
                        format!("hako -{level}")
                    } else {
                        "hako".into()
                    });
                }
                let _ = write!(
                    line,
                    " {:>11} {:>11} {:>9}",
                    time(side.min_ms),
                    time(side.median_ms),
                    opt(ratio)
                );
            }
            if !r.wasmtime.output_ok {
                failed.push("wasmtime".into());
            }
            let status = if failed.is_empty() {
                "ok".to_string()
            } else {
                format!("FAIL ({})", failed.join(" "))
            };
            let _ = writeln!(
                line,
                " {:>11} {:>11}  {status}",
                time(r.wasmtime.min_ms),
                time(r.wasmtime.median_ms)
            );
            s.push_str(&line);
        }
        for l in &self.levels {
            let _ = writeln!(
                s,
                "geomean ratio -{} (wasmtime median / hako median, >1: hako faster): {} over {} program(s){}",
                l.opt_level,
                opt(l.geomean_ratio),
                l.programs,
                l.slowest
                    .as_ref()
                    .map_or(String::new(), |(name, r)| format!("; lowest {r:.3} ({name})"))
            );
            for e in &l.excluded {
                let _ = writeln!(s, "  excluded at -{}: {e}", l.opt_level);
            }
        }
        let _ = writeln!(s);
    }
}
