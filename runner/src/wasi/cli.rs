//! `hako wasi [FILTER] [--json FILE] [--coverage] [--suite DIR] [-O N]`.

use anyhow::{Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use serde::Serialize;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

use super::unikernel::HakoOptions;
use super::{coverage, suite, ProgramReport, RunOptions};
use crate::cache::Cache;

#[derive(Args, Debug)]
pub struct WasiArgs {
    /// Only the programs whose name (`rust/fd_advise`, `c/lseek`, ...) contains this.
    pub filter: Option<String>,
    /// Also write the full results as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Print the table of the 46 WASI functions: implemented or not, and which programs
    /// called the ones that are not.
    #[arg(long)]
    pub coverage: bool,
    /// The suite root (default: $HAKO_WASI_SUITE, else ../shared/wasi-testsuite).
    #[arg(long, value_name = "DIR")]
    pub suite: Option<PathBuf>,
    /// Optimisation level of the programs: 0, 1, 2 or 3.
    #[arg(short = 'O', long = "opt-level", default_value = "2", value_name = "N")]
    pub opt_level: hako_compiler_api::OptLevel,
    /// Time limit of each run, on either side, in seconds.
    #[arg(long, default_value = "120", value_name = "SECONDS", value_parser = crate::limits::timeout)]
    pub timeout: std::time::Duration,
    /// Also list the programs that pass.
    #[arg(short, long)]
    pub verbose: bool,
    /// Where hako runs the programs: in the unikernel, or as Linux processes.
    #[arg(long, value_enum, default_value_t = crate::image::Target::Unikernel)]
    pub target: crate::image::Target,
}

/// Totals of a run.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Totals {
    pub programs: usize,
    /// Programs whose oracle run satisfied the test's JSON.
    pub oracle_matches_json: usize,
    /// Programs hako passes.
    pub hako_passes: usize,
    /// Of those, the ones judged against the oracle.
    pub hako_matches_oracle: usize,
    pub hako_fails: usize,
}

impl Totals {
    pub fn of(reports: &[ProgramReport]) -> Totals {
        let mut t = Totals {
            programs: reports.len(),
            ..Totals::default()
        };
        for r in reports {
            t.oracle_matches_json += r.oracle_matches_json() as usize;
            if r.passes {
                t.hako_passes += 1;
                t.hako_matches_oracle += (r.reference == super::Reference::Oracle) as usize;
            } else {
                t.hako_fails += 1;
            }
        }
        t
    }
}

#[derive(Serialize)]
struct JsonReport<'a> {
    suite: String,
    opt_level: String,
    seconds: f64,
    totals: Totals,
    programs: &'a [ProgramReport],
    #[serde(skip_serializing_if = "Option::is_none")]
    coverage: Option<Vec<coverage::Row>>,
}

/// Run the command; the exit status is 1 when any program fails.
pub fn main(args: WasiArgs) -> Result<i32> {
    let root = suite::suite_root(args.suite.as_deref());
    let programs = suite::discover(&root, args.filter.as_deref())?;
    let timeout = args.timeout;
    let options = RunOptions {
        hako: HakoOptions {
            opt_level: args.opt_level,
            target: args.target,
            cache: Cache::default_location(),
            timeout,
        },
        oracle_timeout: timeout,
    };
    // Panics are caught and reported as failures with their message; keep stderr clean.
    std::panic::set_hook(Box::new(|_| {}));
    let start = Instant::now();
    let bar = if std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(programs.len() as u64);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} {wide_msg}",
            )
            .expect("valid template"),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let reports: Vec<ProgramReport> = programs
        .par_iter()
        .map(|program| {
            bar.set_message(program.name.clone());
            let report = super::run_program(program, &options);
            bar.inc(1);
            report
        })
        .collect();
    let probe = args.coverage.then(|| coverage::probe(&options.hako));
    bar.finish_and_clear();
    let _ = std::panic::take_hook();
    let seconds = start.elapsed().as_secs_f64();

    for report in &reports {
        if report.passes {
            if args.verbose {
                println!("{}: passes", report.name);
            }
        } else {
            for failure in report.failures() {
                println!("{failure}");
            }
        }
    }
    for note in reports.iter().filter_map(ProgramReport::oracle_note) {
        println!("note: {note}");
    }
    let totals = Totals::of(&reports);
    println!();
    println!(
        "{} programs: the oracle satisfies the JSON in {}; hako passes {} ({} matching the oracle, {} against the JSON alone), fails {}; {:.1} s",
        totals.programs,
        totals.oracle_matches_json,
        totals.hako_passes,
        totals.hako_matches_oracle,
        totals.hako_passes - totals.hako_matches_oracle,
        totals.hako_fails,
        seconds
    );
    let rows = probe.as_ref().map(|probe| {
        let rows = coverage::table(&reports, probe.as_ref().ok());
        println!();
        print!("{}", coverage::render(&rows, probe));
        rows
    });

    if let Some(path) = &args.json {
        let json = JsonReport {
            suite: root.display().to_string(),
            opt_level: args.opt_level.to_string(),
            seconds,
            totals,
            programs: &reports,
            coverage: rows,
        };
        let text = serde_json::to_string_pretty(&json).context("cannot serialise the report")?;
        std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(if totals.hako_fails > 0 { 1 } else { 0 })
}
