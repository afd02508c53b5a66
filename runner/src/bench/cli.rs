//! `hako bench [FILTER] [--json FILE] [--iterations N] [-O N[,N..]] [--target T] [--suite DIR]`.

use anyhow::{Context, Result};
use clap::Args;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{compile_times, discover, run_program, suite_root, OptLevels, Options, Report};
use crate::cache::Cache;
use crate::image::Target;

/// Boots of each kernel at least, for the cold start and the end-to-end start: on a shared
/// 2-core host single boots of the same image vary by several milliseconds (a tenth of a
/// boot), so a median of five moves by more than the effect being measured.
const MIN_COLD_START_BOOTS: usize = 20;

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Only the programs whose name (`quicksort`, `shootout/shootout-fib2`, `rust/fd_advise`) contains this.
    pub filter: Option<String>,
    /// Also write the full results as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Runs of each program in each runtime (and at least 20 boots for the cold start and the
    /// end-to-end start).
    #[arg(long, default_value = "3", value_name = "N")]
    pub iterations: usize,
    /// Optimisation level of hako: 0, 1, 2 or 3, or a list (`2,3`): run times at each, the
    /// compile times and the start-up at the first.
    #[arg(
        short = 'O',
        long = "opt-level",
        default_value = "2",
        value_name = "N[,N..]"
    )]
    pub opt_level: OptLevels,
    /// What hako's programs run as: unikernel images in QEMU, or Linux executables (natively;
    /// adds the native baseline, and the Linux start-up replaces the cold start).
    #[arg(long, value_enum, default_value_t = Target::Unikernel)]
    pub target: Target,
    /// The Sightglass benchmarks' directory (default: $HAKO_BENCHMARKS, else
    /// ../shared/benchmarks/sightglass/benchmarks).
    #[arg(long, value_name = "DIR")]
    pub suite: Option<PathBuf>,
    /// The WASI testsuite root, for compile times (default: $HAKO_WASI_SUITE, else
    /// ../shared/wasi-testsuite).
    #[arg(long, value_name = "DIR")]
    pub wasi_suite: Option<PathBuf>,
    /// A folder of large real-world modules (`*.wasm`, e.g. from
    /// `scripts/fetch-large-modules.sh`) whose compile times are measured too, compile only
    /// (default: $HAKO_LARGE_MODULES when set).
    #[arg(long, value_name = "DIR")]
    pub large: Option<PathBuf>,
    /// Only the compile times of the large modules (no Sightglass or WASI testsuite programs,
    /// no run times, no cold start).
    #[arg(long)]
    pub large_only: bool,
    /// Time limit of one hako boot, in seconds.
    #[arg(long, default_value = "600", value_name = "SECONDS", value_parser = crate::limits::timeout)]
    pub timeout: std::time::Duration,
    /// Skip the run times.
    #[arg(long)]
    pub no_run: bool,
    /// Skip the compile times.
    #[arg(long)]
    pub no_compile: bool,
    /// Skip the compile times at -O0.
    #[arg(long)]
    pub no_o0: bool,
    /// Only the network benchmark: HTTP requests per second and latency of the hello
    /// server (`fixtures/net`) in the unikernel, on the Linux target and built natively,
    /// loaded by `wrk` for `--net-seconds` each, in `--iterations` interleaved rounds.
    #[arg(long)]
    pub net: bool,
    #[arg(long, default_value = "10", value_name = "SECONDS")]
    pub net_seconds: u32,
    /// Only the containerd benchmark: `ctr run --rm` of the hello image through
    /// `containerd-shim-hako-v1` under a private containerd (needs root): the time to the
    /// first output with a cold and a warm cache, and containers per second over
    /// `--containers` sequential runs.
    #[arg(long)]
    pub containerd: bool,
    #[arg(long, default_value = "100", value_name = "N")]
    pub containers: usize,
    /// Skip the cold start (with `--target linux`, the start-up).
    #[arg(long)]
    pub no_cold_start: bool,
    /// Skip the native baseline (`--target linux`).
    #[arg(long)]
    pub no_native: bool,
    /// Skip the end-to-end start (`hako run` of a do-nothing module against bare QEMU).
    #[arg(long)]
    pub no_end_to_end: bool,
}

impl Default for BenchArgs {
    /// What `hako bench` with no flags measures.
    fn default() -> Self {
        BenchArgs {
            filter: None,
            json: None,
            iterations: 3,
            opt_level: OptLevels(vec![hako_compiler_api::OptLevel::O2]),
            target: Target::Unikernel,
            suite: None,
            wasi_suite: None,
            large: None,
            large_only: false,
            net: false,
            net_seconds: 10,
            containerd: false,
            containers: 100,
            timeout: Duration::from_secs(600),
            no_run: false,
            no_compile: false,
            no_o0: false,
            no_cold_start: false,
            no_native: false,
            no_end_to_end: false,
        }
    }
}

/// Environment variable naming the folder of large modules (see [`BenchArgs::large`]).
pub const LARGE_ENV: &str = "HAKO_LARGE_MODULES";

/// The `*.wasm` files of `dir` whose stem contains `filter`, by name.
pub fn discover_large(dir: &Path, filter: Option<&str>) -> Result<Vec<(String, PathBuf)>> {
    let mut found = Vec::new();
    let entries = std::fs::read_dir(dir).with_context(|| {
        format!(
            "no large modules at {} (scripts/fetch-large-modules.sh downloads them)",
            dir.display()
        )
    })?;
    for entry in entries {
        let path = entry?.path();
        if path.extension().is_none_or(|e| e != "wasm") {
            continue;
        }
        let name = path
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        if filter.is_none_or(|f| name.contains(f)) {
            found.push((name, path));
        }
    }
    found.sort();
    Ok(found)
}

/// Print a report's table, and write it as JSON to `json` when given.
fn print_report(table: &str, report: &impl serde::Serialize, json: Option<&Path>) -> Result<i32> {
    print!("{table}");
    if let Some(path) = json {
        let text = serde_json::to_string_pretty(report)?;
        std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(0)
}

pub fn main(args: BenchArgs) -> Result<i32> {
    if args.containerd {
        let hako = crate::backend::launcher_executable()?;
        let scratch = tempfile::tempdir()?;
        let hello = super::cold_start::build_hello(scratch.path())?;
        let report = crate::containerd::bench(&hako, &hello, args.containers.max(1))?;
        return print_report(&report.table(), &report, args.json.as_deref());
    }
    if args.net {
        let hako = crate::backend::launcher_executable()?;
        let report = super::net::measure(
            &hako,
            args.net_seconds.max(1),
            args.iterations,
            crate::qemu::Accel::detect()?,
        )?;
        return print_report(&report.table(), &report, args.json.as_deref());
    }
    let report = measure(&args)?;
    print!("{}", report.table());
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(0)
}

/// Everything `args` asks for, with progress on stderr.
pub fn measure(args: &BenchArgs) -> Result<Report> {
    let (opt_level, more_levels) = args.opt_level.split();
    let options = Options {
        iterations: args.iterations.max(1),
        opt_level,
        more_levels,
        target: args.target,
        timeout: args.timeout,
    };
    let cache = Cache::default_location();
    let programs = if args.large_only {
        Vec::new()
    } else {
        discover(&suite_root(args.suite.as_deref()), args.filter.as_deref())?
    };
    let filter = args.filter.as_deref();

    let mut runs = Vec::new();
    if !args.no_run {
        for (i, program) in programs.iter().enumerate() {
            eprintln!("bench: run {}/{} {}", i + 1, programs.len(), program.name);
            let run = run_program(program, &options, &cache);
            let ms = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.3} ms"));
            let err = |s: &super::Side| s.error.clone().unwrap_or_default();
            for ((side, ratio), level) in run.levels().into_iter().zip(options.levels()) {
                eprintln!(
                    "bench:   hako -O{level} median {} {}; ratio {}",
                    ms(side.median_ms),
                    err(side),
                    ratio.map_or("-".to_string(), |r| format!("{r:.3}"))
                );
            }
            eprintln!(
                "bench:   wasmtime median {} {}",
                ms(run.wasmtime.median_ms),
                err(&run.wasmtime)
            );
            runs.push(run);
        }
    }

    let mut compile = Vec::new();
    if !args.no_compile {
        let mut inputs: Vec<(String, &'static str, PathBuf)> = programs
            .iter()
            .map(|p| (p.name.clone(), "sightglass", p.wasm.clone()))
            .collect();
        let wasi_root = crate::wasi::suite::suite_root(args.wasi_suite.as_deref());
        match crate::wasi::suite::discover(&wasi_root, filter) {
            _ if args.large_only => {}
            Ok(wasi) => inputs.extend(wasi.into_iter().map(|p| (p.name, "wasi", p.wasm))),
            Err(e) => eprintln!("bench: no WASI testsuite programs for compile times: {e:#}"),
        }
        let large = args
            .large
            .clone()
            .or_else(|| std::env::var_os(LARGE_ENV).map(PathBuf::from));
        if let Some(dir) = large {
            inputs.extend(
                discover_large(&dir, filter)?
                    .into_iter()
                    .map(|(name, path)| (name, "large", path)),
            );
        }
        for (i, (name, suite, path)) in inputs.iter().enumerate() {
            eprintln!("bench: compile {}/{} {name}", i + 1, inputs.len());
            let wasm =
                std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
            compile.push(compile_times(
                name,
                suite,
                &wasm,
                options.opt_level,
                !args.no_o0,
            ));
        }
    }

    let cold = if args.no_cold_start || args.large_only || options.target == Target::Linux {
        Ok(None)
    } else {
        eprintln!("bench: cold start");
        super::cold_start(
            options.iterations.max(MIN_COLD_START_BOOTS),
            options.opt_level,
            &cache,
        )
        .map(Some)
    };

    let mut report = Report::new(&options, runs, compile, cold);
    match options.target {
        Target::Linux => linux_parts(args, &options, &cache, &mut report),
        Target::Unikernel if !args.no_end_to_end => {
            eprintln!("bench: end to end");
            let end_to_end = crate::backend::launcher_executable().and_then(|hako| {
                super::end_to_end(options.iterations.max(MIN_COLD_START_BOOTS), &hako, &cache)
            });
            match end_to_end {
                Ok(e) => report.end_to_end = Some(e),
                Err(e) => report.end_to_end_error = Some(format!("{e:#}")),
            }
        }
        Target::Unikernel => {}
    }
    Ok(report)
}

/// The parts only `--target linux` has: the native baseline and the start-up.
fn linux_parts(args: &BenchArgs, options: &Options, cache: &Cache, report: &mut Report) {
    if !args.no_native {
        let native = super::native_sources(&super::native_sources_dir(), args.filter.as_deref())
            .and_then(|sources| {
                // A filter that names none of them asks for none.
                (!sources.is_empty())
                    .then(|| super::native_baseline(&sources, options, cache))
                    .transpose()
            });
        match native {
            Ok(n) => report.native = n,
            Err(e) => report.native_error = Some(format!("{e:#}")),
        }
    }
    if !args.no_cold_start {
        eprintln!("bench: start-up on Linux");
        let start = crate::backend::launcher_executable().and_then(|hako| {
            super::linux_start(
                options.iterations.max(MIN_COLD_START_BOOTS),
                options.opt_level,
                &hako,
                cache,
            )
        });
        match start {
            Ok(l) => report.linux_start = Some(l),
            Err(e) => report.linux_start_error = Some(format!("{e:#}")),
        }
    }
}
