//! `hako report --out DIR [--history DIR] [--bench] [--from FILE] ...`.

use anyhow::{Context, Result};
use clap::Args;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::{collect, history, html, junit, markdown, LinuxSection, Report, FORMAT};
use crate::image::Target;

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// Where to write report.json, report.md, index.html and junit.xml (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Earlier report.json files (`DIR/*.json` and `DIR/*/report.json`) for the trend chart.
    #[arg(long, value_name = "DIR")]
    pub history: Option<PathBuf>,
    /// Also run the benchmarks (`hako bench` with its defaults: tens of minutes under TCG)
    /// and keep their summary and results.
    #[arg(long)]
    pub bench: bool,
    /// Also compare N generated modules with Wasmtime (`hako fuzz`); mismatches are saved,
    /// shrunk, under DIR/fuzz-mismatches.
    #[arg(long, value_name = "N", default_value = "0", hide_default_value = true)]
    pub fuzz: usize,
    /// Do not run the suites: render the four files from this earlier report.json.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["bench", "no_spec", "no_wasi"])]
    pub from: Option<PathBuf>,
    /// Leave out the spec testsuite.
    #[arg(long)]
    pub no_spec: bool,
    /// Leave out the WASI testsuite.
    #[arg(long)]
    pub no_wasi: bool,
    /// The spec suite root (default: $HAKO_SPEC_SUITE, else ../shared/spec-testsuite).
    #[arg(long, value_name = "DIR")]
    pub spec_suite: Option<PathBuf>,
    /// The WASI suite root (default: $HAKO_WASI_SUITE, else ../shared/wasi-testsuite).
    #[arg(long, value_name = "DIR")]
    pub wasi_suite: Option<PathBuf>,
    /// Only the spec scripts whose name contains this.
    #[arg(long, value_name = "TEXT")]
    pub spec_filter: Option<String>,
    /// Only the WASI programs whose name contains this.
    #[arg(long, value_name = "TEXT")]
    pub wasi_filter: Option<String>,
    /// Optimisation level of the spec modules (as `hako spec`).
    #[arg(long, default_value = "0", value_name = "N")]
    pub spec_opt_level: hako_compiler_api::OptLevel,
    /// The targets the suites run on, side by side: `unikernel`, `linux`, or both.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "unikernel,linux"
    )]
    pub target: Vec<Target>,
    /// Optimisation level of the WASI programs (as `hako wasi`).
    #[arg(long, default_value = "2", value_name = "N")]
    pub wasi_opt_level: hako_compiler_api::OptLevel,
    /// Time limit of each WASI run, on either side, in seconds.
    #[arg(long, default_value = "120", value_name = "SECONDS", value_parser = crate::limits::timeout)]
    pub timeout: std::time::Duration,
}

/// Run the suites and write the report. The exit status is 0 when the report was written,
/// whatever the suites' results (they are in the report).
pub fn main(args: ReportArgs) -> Result<i32> {
    let report = match &args.from {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            serde_json::from_str::<Report>(&text)
                .with_context(|| format!("{} is not a hako report.json", path.display()))?
        }
        None => run(&args),
    };
    let (points, warnings) = match &args.history {
        Some(dir) => {
            let (points, warnings) = history::load(dir);
            (Some(points), warnings)
        }
        None => (None, Vec::new()),
    };
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    write_all(&report, points.as_deref(), &args.out)?;
    print_summary(&report);
    println!("report: {}", args.out.join("index.html").display());
    Ok(0)
}

/// Run what the arguments ask for.
pub fn run(args: &ReportArgs) -> Report {
    let date = collect::now_utc();
    let start = Instant::now();
    let mut notes = Vec::new();
    let mut suites = |target: Target| {
        let spec = if args.no_spec {
            None
        } else {
            eprintln!("report: running the spec testsuite ({target})");
            let options = collect::SpecOptions {
                suite: crate::spec::suite::suite_root(args.spec_suite.as_deref()),
                filter: args.spec_filter.clone(),
                opt_level: args.spec_opt_level,
                target,
            };
            match collect::run_spec(&options) {
                Ok(s) => Some(s),
                Err(e) => {
                    notes.push(format!("spec testsuite ({target}) not run: {e:#}"));
                    None
                }
            }
        };
        let wasi = if args.no_wasi {
            None
        } else {
            eprintln!("report: running the WASI testsuite ({target})");
            let options = collect::WasiOptions {
                suite: crate::wasi::suite::suite_root(args.wasi_suite.as_deref()),
                filter: args.wasi_filter.clone(),
                opt_level: args.wasi_opt_level,
                timeout: args.timeout,
                target,
            };
            match collect::run_wasi(&options) {
                Ok(w) => Some(w),
                Err(e) => {
                    notes.push(format!("WASI testsuite ({target}) not run: {e:#}"));
                    None
                }
            }
        };
        (spec, wasi)
    };
    let (spec, wasi) = if args.target.contains(&Target::Unikernel) {
        suites(Target::Unikernel)
    } else {
        (None, None)
    };
    let linux = args
        .target
        .contains(&Target::Linux)
        .then(|| suites(Target::Linux))
        .map(|(spec, wasi)| LinuxSection { spec, wasi });
    Report {
        format: FORMAT,
        date,
        seconds: start.elapsed().as_secs_f64(),
        tools: collect::tools(),
        machine: collect::machine(),
        spec,
        wasi,
        linux,
        benchmarks: args.bench.then(collect::benchmarks),
        fuzz: (args.fuzz > 0).then(|| collect::fuzz(args.fuzz, &args.out.join("fuzz-mismatches"))),
        notes,
    }
}

/// Write `report.json`, `report.md`, `index.html` and `junit.xml` into `dir`.
pub fn write_all(report: &Report, history: Option<&[history::Point]>, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let json = serde_json::to_string_pretty(report).context("cannot serialise the report")?;
    let files = [
        ("report.json", json),
        ("report.md", markdown::render(report)),
        ("index.html", html::render(report, history)),
        ("junit.xml", junit::render(report)),
    ];
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

fn print_summary(report: &Report) {
    if let Some(spec) = &report.spec {
        println!(
            "{:<10} {:>6} {:>8} {:>9} {:>8} {:>9} {:>7}",
            "tier", "files", "passing", "passed", "failed", "not run", "rate"
        );
        for g in spec.tiers.iter().chain([&spec.totals]) {
            println!(
                "{:<10} {:>6} {:>8} {:>9} {:>8} {:>9} {:>6.1}%",
                g.name,
                g.files,
                g.passing,
                g.passed,
                g.failed,
                g.not_run,
                g.rate()
            );
        }
    }
    if let Some(wasi) = &report.wasi {
        println!(
            "WASI: {} of {} programs pass; functions: {} implemented, {} partial, {} missing",
            wasi.totals.hako_passes,
            wasi.totals.programs,
            wasi.count(super::FunctionStatus::Implemented),
            wasi.count(super::FunctionStatus::Partial),
            wasi.count(super::FunctionStatus::Missing)
        );
    }
    if let Some(b) = &report.benchmarks {
        println!("{}", b.note);
    }
    if let Some(f) = &report.fuzz {
        println!("{}", f.note());
    }
    for note in &report.notes {
        println!("note: {note}");
    }
    let unexpected = report.unexpected_failures();
    if !unexpected.is_empty() {
        println!(
            "unexpected failures ({}): {}",
            unexpected.len(),
            unexpected.join(" ")
        );
    }
}
