//! `hako spec [FILTER] [--json FILE] [--tiers] [--suite DIR]`.

use anyhow::{Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

use super::tier::Tier;
use super::{suite, Counts, FileReport, RunOptions};
use crate::cache::Cache;

#[derive(Args, Debug)]
pub struct SpecArgs {
    /// Only the scripts whose name (relative to the suite root) contains this.
    pub filter: Option<String>,
    /// Also write the full results as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Print the tier of every script and stop.
    #[arg(long)]
    pub tiers: bool,
    /// The suite root (default: $HAKO_SPEC_SUITE, else ../shared/spec-testsuite).
    #[arg(long, value_name = "DIR")]
    pub suite: Option<PathBuf>,
    /// Compile every module even without a kernel to boot (reports modules the compiler refuses).
    #[arg(long)]
    pub compile: bool,
    /// Optimisation level of the modules: 0, 1, 2 or 3.
    #[arg(short = 'O', long = "opt-level", default_value = "0", value_name = "N")]
    pub opt_level: hako_compiler_api::OptLevel,
    /// Where the scripts run: in the unikernel, or as Linux processes.
    #[arg(long, value_enum, default_value_t = crate::image::Target::Unikernel)]
    pub target: crate::image::Target,
}

#[derive(Serialize)]
struct JsonReport<'a> {
    suite: String,
    seconds: f64,
    tiers: BTreeMap<&'static str, Counts>,
    files: &'a [FileReport],
}

/// Run the command; the exit status is 1 when any check failed.
pub fn main(args: SpecArgs) -> Result<i32> {
    let root = suite::suite_root(args.suite.as_deref());
    let files = suite::discover(&root, args.filter.as_deref())?;
    if args.tiers {
        return print_tiers(&files);
    }
    // Panics are caught and reported as failures with their message; keep stderr for the table.
    std::panic::set_hook(Box::new(|_| {}));
    let start = Instant::now();
    let bar = if std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(files.len() as u64);
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
    let booter = super::default_booter(args.target);
    let options = RunOptions {
        booter: booter.as_deref(),
        compile: args.compile,
        opt_level: args.opt_level,
        cache: Some(Cache::default_location()),
    };
    let reports: Vec<FileReport> = files
        .par_iter()
        .map(|file| {
            bar.set_message(file.name.clone());
            let report = super::run_file(file, &options);
            bar.inc(1);
            report
        })
        .collect();
    bar.finish_and_clear();
    let _ = std::panic::take_hook();
    let seconds = start.elapsed().as_secs_f64();

    let mut failed = 0;
    for report in &reports {
        for failure in report.failures() {
            println!("{failure}");
            failed += 1;
        }
    }
    let mut per_tier: BTreeMap<Tier, (usize, usize, Counts)> = BTreeMap::new();
    let mut rejections = Counts::default();
    for r in &reports {
        let entry = per_tier.entry(r.tier).or_default();
        entry.0 += 1;
        entry.1 += r.passes() as usize;
        entry.2.add(r.counts());
        rejections.add(r.rejection_counts());
    }
    println!();
    println!(
        "{:<10} {:>6} {:>8} {:>9} {:>8} {:>9}",
        "tier", "files", "passing", "passed", "failed", "not run"
    );
    let mut total = (0, 0, Counts::default());
    for (tier, (n, passing, c)) in &per_tier {
        println!(
            "{:<10} {n:>6} {passing:>8} {:>9} {:>8} {:>9}",
            tier.name(),
            c.passed,
            c.failed,
            c.not_run
        );
        total.0 += n;
        total.1 += passing;
        total.2.add(*c);
    }
    let c = total.2;
    println!(
        "{:<10} {:>6} {:>8} {:>9} {:>8} {:>9}",
        "total", total.0, total.1, c.passed, c.failed, c.not_run
    );
    println!(
        "assert_invalid/assert_malformed: {} rejected, {} not rejected; {:.1} s",
        rejections.passed, rejections.failed, seconds
    );
    if super::default_booter(args.target).is_none() {
        println!("(other checks not run: {})", super::NO_BOOT);
    }

    if let Some(path) = &args.json {
        let tiers = per_tier
            .iter()
            .map(|(t, (_, _, c))| (t.name(), *c))
            .collect();
        let json = JsonReport {
            suite: root.display().to_string(),
            seconds,
            tiers,
            files: &reports,
        };
        let text = serde_json::to_string_pretty(&json).context("cannot serialise the report")?;
        std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(if failed > 0 { 1 } else { 0 })
}

fn print_tiers(files: &[suite::SuiteFile]) -> Result<i32> {
    let tiers: Vec<(String, Result<Tier>)> = files
        .par_iter()
        .map(|f| {
            let tier = std::fs::read_to_string(&f.path)
                .context("cannot read it")
                .map(|text| super::plan::plan_source(&f.name, &text).tier);
            (f.name.clone(), tier)
        })
        .collect();
    let mut counts: BTreeMap<Tier, usize> = BTreeMap::new();
    for (name, tier) in &tiers {
        match tier {
            Ok(t) => {
                println!("{:<9} {name}", t.name());
                *counts.entry(*t).or_default() += 1;
            }
            Err(e) => println!("{:<9} {name} ({e:#})", "?"),
        }
    }
    println!();
    for (tier, n) in counts {
        println!("{:<9} {n} files", tier.name());
    }
    Ok(0)
}
