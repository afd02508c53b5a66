//! `hako bench`: the Sightglass benchmarks in hako and in Wasmtime (run time), compile
//! throughput against Wasmtime's `Module::new`, and cold start against a do-nothing kernel.
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

pub mod cli;
pub mod pvh;
pub mod wasmtime;

use crate::cache::Cache;
use crate::image::{self, BuildOptions, BuildReport};
use crate::input;
use crate::qemu::{self, BootConfig, Preopen, Sink};
use anyhow::{bail, Context, Result};
use hako_compiler::OptLevel;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Environment variable naming the benchmarks' root.
pub const SUITE_ENV: &str = "HAKO_BENCHMARKS";

/// The benchmarks' root from the flag, the environment or the default.
pub fn suite_root(flag: Option<&Path>) -> PathBuf {
    if let Some(dir) = flag {
        return dir.to_path_buf();
    }
    if let Some(dir) = std::env::var_os(SUITE_ENV) {
        return PathBuf::from(dir);
    }
    crate::spec::suite::workspace_root().join("../shared/benchmarks/sightglass/benchmarks")
}

/// One Sightglass program.
#[derive(Debug, Clone)]
pub struct Program {
    /// The folder's name for `<folder>/benchmark.wasm`, else `<folder>/<stem>`.
    pub name: String,
    pub wasm: PathBuf,
    /// Its folder, preopened as `.`.
    pub dir: PathBuf,
    pub stdout_expected: Option<Vec<u8>>,
    pub stderr_expected: Option<Vec<u8>>,
    /// Whether the expectations are the folder's shared `default.*.expected` (libsodium's),
    /// which lack the programs' final newline: compared without trailing whitespace.
    pub shared_expectations: bool,
}

impl Program {
    fn argv(&self) -> Vec<String> {
        vec![self
            .wasm
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned()]
    }

    /// Whether this output is the expected one; `Err` says what differs.
    fn check_output(&self, stdout: &[u8], stderr: &[u8]) -> Result<(), String> {
        let trim = |b: &[u8]| -> Vec<u8> {
            let end = b
                .iter()
                .rposition(|c| !c.is_ascii_whitespace())
                .map_or(0, |i| i + 1);
            b[..end].to_vec()
        };
        let differs = |expected: Option<&[u8]>, got: &[u8]| match expected {
            None => false,
            Some(e) if self.shared_expectations => trim(e) != trim(got),
            Some(e) => e != got,
        };
        let mut wrong = Vec::new();
        if differs(self.stdout_expected.as_deref(), stdout) {
            wrong.push("stdout");
        }
        if differs(self.stderr_expected.as_deref(), stderr) {
            wrong.push("stderr");
        }
        if wrong.is_empty() {
            Ok(())
        } else {
            Err(format!("{} differs from the expected", wrong.join(" and ")))
        }
    }
}

/// The programs under `root` whose name contains `filter`, sorted by name.
pub fn discover(root: &Path, filter: Option<&str>) -> Result<Vec<Program>> {
    let root = root.canonicalize().with_context(|| {
        format!(
            "no benchmarks at {} (set {SUITE_ENV} or --suite)",
            root.display()
        )
    })?;
    let mut programs = Vec::new();
    for entry in
        std::fs::read_dir(&root).with_context(|| format!("cannot read {}", root.display()))?
    {
        let dir = entry?.path();
        if !dir.is_dir() {
            continue;
        }
        let folder = dir.file_name().unwrap().to_string_lossy().into_owned();
        for file in std::fs::read_dir(&dir)? {
            let wasm = file?.path();
            if wasm.extension().is_none_or(|e| e != "wasm") {
                continue;
            }
            let stem = wasm.file_stem().unwrap().to_string_lossy().into_owned();
            let name = if stem == "benchmark" {
                folder.clone()
            } else {
                format!("{folder}/{stem}")
            };
            if filter.is_some_and(|f| !name.contains(f)) {
                continue;
            }
            // `<stem>.<stream>.expected`, else the folder's `default.<stream>.expected`
            // (libsodium's programs share theirs).
            let expected = |stream: &str| {
                std::fs::read(dir.join(format!("{stem}.{stream}.expected")))
                    .or_else(|_| std::fs::read(dir.join(format!("default.{stream}.expected"))))
                    .ok()
            };
            let own = |stream: &str| dir.join(format!("{stem}.{stream}.expected")).is_file();
            let shared_expectations = !own("stdout") && !own("stderr");
            programs.push(Program {
                shared_expectations,
                stdout_expected: expected("stdout"),
                stderr_expected: expected("stderr"),
                name,
                wasm,
                dir: dir.clone(),
            });
        }
    }
    programs.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(programs)
}

/// How to measure.
#[derive(Debug, Clone)]
pub struct Options {
    pub iterations: usize,
    pub opt_level: OptLevel,
    /// Time limit of one hako boot.
    pub timeout: Duration,
}

/// One runtime's measurements of one program.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Side {
    /// `bench.end − bench.start` of each iteration that ran, in ms.
    pub times_ms: Vec<f64>,
    pub min_ms: Option<f64>,
    pub median_ms: Option<f64>,
    /// Whether every iteration exited 0 with the expected output.
    pub output_ok: bool,
    /// Why not, when it failed.
    pub error: Option<String>,
}

impl Side {
    fn finish(mut self) -> Side {
        self.min_ms = self.times_ms.iter().copied().reduce(f64::min);
        self.median_ms = median(&self.times_ms);
        self.output_ok = self.error.is_none() && !self.times_ms.is_empty();
        self
    }
}

/// The run-time report of one program.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub name: String,
    pub wasm_bytes: usize,
    pub hako: Side,
    pub wasmtime: Side,
    /// `wasmtime median / hako median` (> 1: hako faster), when both sides passed.
    pub ratio: Option<f64>,
}

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

/// Run `program` `options.iterations` times in hako (one image, one boot per iteration) and
/// in Wasmtime (one compile, one instance per iteration).
pub fn run_program(program: &Program, options: &Options, cache: &Cache) -> RunReport {
    let wasm = std::fs::read(&program.wasm).unwrap_or_default();
    let hako = hako_side(program, options, cache);
    let wasmtime = wasmtime_side(program, &wasm, options.iterations);
    let ratio = match (
        hako.output_ok,
        wasmtime.output_ok,
        hako.median_ms,
        wasmtime.median_ms,
    ) {
        (true, true, Some(h), Some(w)) if h > 0.0 && w > 0.0 => Some(w / h),
        _ => None,
    };
    RunReport {
        name: program.name.clone(),
        wasm_bytes: wasm.len(),
        hako,
        wasmtime,
        ratio,
    }
}

fn hako_side(program: &Program, options: &Options, cache: &Cache) -> Side {
    let mut side = Side::default();
    if let Err(e) = hako_iterations(program, options, cache, &mut side) {
        side.error = Some(format!("{e:#}"));
    }
    side.finish()
}

fn hako_iterations(
    program: &Program,
    options: &Options,
    cache: &Cache,
    side: &mut Side,
) -> Result<()> {
    let module = input::read(&program.wasm)?;
    let build = BuildOptions {
        opt_level: options.opt_level,
        ..BuildOptions::default()
    };
    let image = image::build_image(&module, &build, cache, &mut BuildReport::default())?;
    let mut config = BootConfig::new(program.argv())?;
    config.timeout = options.timeout;
    config.stdout = Sink::Capture;
    config.stderr = Sink::Capture;
    config.preopens = vec![Preopen {
        host: program.dir.clone(),
        guest: ".".into(),
    }];
    for _ in 0..options.iterations {
        let run = qemu::boot(&image, &config)?;
        if let Some(problem) = run.outcome.describe() {
            bail!("{problem}");
        }
        if run.outcome.exit_status() != 0 {
            bail!("exited with status {}", run.outcome.exit_status());
        }
        program
            .check_output(&run.stdout, &run.stderr)
            .map_err(anyhow::Error::msg)?;
        let bench = |which: &str| {
            run.records
                .iter()
                .filter(|r| r.kind == hako_abi::boot::record::BENCH)
                .find_map(|r| r.rest.strip_prefix(which)?.trim().parse::<u64>().ok())
        };
        match (bench("start"), bench("end")) {
            (Some(start), Some(end)) => side.times_ms.push(end.saturating_sub(start) as f64 / 1e6),
            _ => bail!("no bench.start/bench.end records"),
        }
    }
    Ok(())
}

fn wasmtime_side(program: &Program, wasm: &[u8], iterations: usize) -> Side {
    let mut side = Side::default();
    let module = match wasmtime::compile(wasm) {
        Ok(module) => module,
        Err(e) => {
            side.error = Some(e);
            return side.finish();
        }
    };
    for _ in 0..iterations {
        let run = wasmtime::run(&module, &program.argv(), &program.dir);
        let checked = match run.status {
            Err(e) => Err(e),
            Ok(0) => program.check_output(&run.stdout, &run.stderr),
            Ok(code) => Err(format!("exited with status {code}")),
        }
        .and_then(|()| {
            run.measured
                .ok_or_else(|| "bench.start/bench.end not called".to_string())
        });
        match checked {
            Ok(t) => side.times_ms.push(ms(t)),
            Err(e) => {
                side.error = Some(e);
                break;
            }
        }
    }
    side.finish()
}

/// Compile times of one program.
#[derive(Debug, Clone, Serialize)]
pub struct CompileReport {
    pub name: String,
    /// `sightglass` or `wasi`.
    pub suite: &'static str,
    pub wasm_bytes: usize,
    /// `hako_compiler::compile` at the chosen level, in ms.
    pub hako_ms: Option<f64>,
    /// `hako_compiler::compile` at O0, in ms.
    pub hako_o0_ms: Option<f64>,
    /// Wasmtime's `Module::new`, in ms.
    pub wasmtime_ms: Option<f64>,
    pub error: Option<String>,
}

/// Compile `wasm` with hako at `opt_level` (and O0 when `o0`) and with Wasmtime, one after
/// the other, without any cache.
pub fn compile_times(
    name: &str,
    suite: &'static str,
    wasm: &[u8],
    opt_level: OptLevel,
    o0: bool,
) -> CompileReport {
    let mut errors = Vec::new();
    let mut ours = |level: OptLevel| {
        let options = hako_compiler::Options {
            opt_level: level,
            // As `hako run` and `hako build` compile programs.
            prebuild: true,
            ..hako_compiler::Options::default()
        };
        // Compiling includes merging the parts of a large module into one object.
        let start = Instant::now();
        match hako_compiler::compile(wasm, &options)
            .map_err(anyhow::Error::from)
            .and_then(|c| c.into_object().map_err(anyhow::Error::from))
        {
            Ok(_) => Some(ms(start.elapsed())),
            Err(e) => {
                errors.push(format!("hako -O{level}: {e:#}"));
                None
            }
        }
    };
    let hako_ms = ours(opt_level);
    let hako_o0_ms = if o0 { ours(OptLevel::O0) } else { None };
    let start = Instant::now();
    let wasmtime_ms = match wasmtime::compile(wasm) {
        Ok(_) => Some(ms(start.elapsed())),
        Err(e) => {
            errors.push(e);
            None
        }
    };
    CompileReport {
        name: name.to_string(),
        suite,
        wasm_bytes: wasm.len(),
        hako_ms,
        hako_o0_ms,
        wasmtime_ms,
        error: (!errors.is_empty()).then(|| errors.join("; ")),
    }
}

/// Aggregate compile throughput over the programs every compiler handled.
#[derive(Debug, Clone, Serialize)]
pub struct CompileSummary {
    pub programs: usize,
    pub wasm_bytes: usize,
    pub hako_mb_per_s: f64,
    pub hako_o0_mb_per_s: Option<f64>,
    pub wasmtime_mb_per_s: f64,
    /// hako throughput / Wasmtime throughput at the chosen level (< 1: hako slower).
    pub ratio: f64,
    pub ratio_o0: Option<f64>,
}

pub fn compile_summary<'a>(
    reports: impl IntoIterator<Item = &'a CompileReport>,
) -> Option<CompileSummary> {
    let ok: Vec<_> = reports
        .into_iter()
        .filter(|r| r.hako_ms.is_some() && r.wasmtime_ms.is_some())
        .collect();
    if ok.is_empty() {
        return None;
    }
    let bytes: usize = ok.iter().map(|r| r.wasm_bytes).sum();
    let mb_s = |total_ms: f64| bytes as f64 / 1e6 / (total_ms / 1e3);
    let hako = mb_s(ok.iter().filter_map(|r| r.hako_ms).sum());
    let wasmtime = mb_s(ok.iter().filter_map(|r| r.wasmtime_ms).sum());
    let o0 = ok
        .iter()
        .map(|r| r.hako_o0_ms)
        .sum::<Option<f64>>()
        .map(mb_s);
    Some(CompileSummary {
        programs: ok.len(),
        wasm_bytes: bytes,
        hako_mb_per_s: hako,
        hako_o0_mb_per_s: o0,
        wasmtime_mb_per_s: wasmtime,
        ratio: hako / wasmtime,
        ratio_o0: o0.map(|o| o / wasmtime),
    })
}

/// Cold start: QEMU spawn to exit for the hello image and for the do-nothing kernel.
#[derive(Debug, Clone, Serialize)]
pub struct ColdStart {
    pub runs: usize,
    pub hello_image_bytes: u64,
    pub hello_times_ms: Vec<f64>,
    pub baseline_times_ms: Vec<f64>,
    pub hello_median_ms: f64,
    pub baseline_median_ms: f64,
    /// hello median / baseline median.
    pub ratio: f64,
}

/// Compile `fixtures/hello.c` with clang-19 (`$CLANG`) into `out_dir`.
pub fn build_hello(out_dir: &Path) -> Result<PathBuf> {
    let src = crate::spec::suite::workspace_root().join("fixtures/hello.c");
    let out = out_dir.join("hello.wasm");
    let clang = std::env::var("CLANG").unwrap_or_else(|_| "clang-19".into());
    let status = std::process::Command::new(&clang)
        .args(["--target=wasm32-wasi", "-O2"])
        .arg(&src)
        .arg("-o")
        .arg(&out)
        .status()
        .with_context(|| format!("cannot run {clang}"))?;
    if !status.success() {
        bail!("{clang} failed on {}", src.display());
    }
    Ok(out)
}

/// Boot the hello image and the do-nothing kernel `runs` times each, alternating, with the
/// same QEMU command line (but for `-kernel`).
pub fn cold_start(runs: usize, opt_level: OptLevel, cache: &Cache) -> Result<ColdStart> {
    let scratch = tempfile::tempdir()?;
    let hello = build_hello(scratch.path())?;
    let module = input::read(&hello)?;
    let build = BuildOptions {
        opt_level,
        ..BuildOptions::default()
    };
    let image = image::build_image(&module, &build, cache, &mut BuildReport::default())?;
    let baseline = scratch.path().join("do-nothing.elf");
    std::fs::write(&baseline, pvh::do_nothing_kernel())?;
    let mut config = BootConfig::new(vec!["hello.wasm".into()])?;
    config.stdout = Sink::Capture;
    config.stderr = Sink::Capture;
    config.timeout = Duration::from_secs(60);
    let (mut hello_times, mut baseline_times) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let run = qemu::boot(&image, &config)?;
        if run.outcome != qemu::Outcome::Exited(0) || run.stdout != b"Hello from hako!\n" {
            bail!("the hello image did not run right: {:?}", run.outcome);
        }
        hello_times.push(ms(run.wall_time));
        let run = qemu::boot(&baseline, &config)?;
        // It writes EXIT_DONE with no records: that is the only way it ends like this.
        match &run.outcome {
            qemu::Outcome::Crashed(m) if m.contains("without reporting an outcome") => {}
            other => bail!("the do-nothing kernel did not exit as expected: {other:?}"),
        }
        baseline_times.push(ms(run.wall_time));
    }
    let hello_median_ms = median(&hello_times).unwrap_or(0.0);
    let baseline_median_ms = median(&baseline_times).unwrap_or(0.0);
    Ok(ColdStart {
        runs,
        hello_image_bytes: std::fs::metadata(&image)?.len(),
        hello_times_ms: hello_times,
        baseline_times_ms: baseline_times,
        hello_median_ms,
        baseline_median_ms,
        ratio: hello_median_ms / baseline_median_ms,
    })
}

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
    /// The same per suite (`sightglass`, `wasi`), for the suites with programs.
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
            compile_by_suite: ["wasi", "sightglass"]
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

#[cfg(test)]
mod tests {
    use super::*;

    fn program(expected: &[u8], shared: bool) -> Program {
        Program {
            name: "p".into(),
            wasm: "p.wasm".into(),
            dir: ".".into(),
            stdout_expected: Some(expected.to_vec()),
            stderr_expected: None,
            shared_expectations: shared,
        }
    }

    #[test]
    fn own_expectations_are_exact_shared_ones_ignore_trailing_whitespace() {
        assert!(program(b"0", false).check_output(b"0\n", b"").is_err());
        assert!(program(b"0", true)
            .check_output(b"0\n", b"anything")
            .is_ok());
        assert!(program(b"0", true).check_output(b"1\n", b"").is_err());
        assert!(program(b"0\n", false).check_output(b"0\n", b"").is_ok());
    }

    #[test]
    fn medians_and_geomeans() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        assert!((geomean(&[2.0, 8.0]).unwrap() - 4.0).abs() < 1e-9);
    }
}
