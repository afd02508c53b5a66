//! `hako fuzz [--seed N] [--modules N] [--per-image N] [--save DIR | --no-save] [--json FILE]`.

use anyhow::{Context, Result};
use clap::Args;
use std::path::PathBuf;
use std::time::Instant;

use super::{fuzz, FuzzOptions, OPT_LEVELS};
use crate::cache::Cache;
use crate::spec::booter::TargetBooter;

#[derive(Args, Debug)]
pub struct FuzzArgs {
    /// The first seed (module `i` is generated from `seed + i`); default: from the clock, and
    /// printed, so a run can be repeated.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// How many modules to generate and compare.
    #[arg(long, default_value = "100", value_name = "N")]
    pub modules: usize,
    /// Modules per image (one boot runs them all, at each optimisation level).
    #[arg(long, default_value = "25", value_name = "N")]
    pub per_image: usize,
    /// Where shrunken mismatches are written as `.wast` files (default:
    /// runner/fuzz-regressions in the workspace, which `cargo test --test fuzz` replays).
    #[arg(long, value_name = "DIR")]
    pub save: Option<PathBuf>,
    /// Neither shrink nor save mismatches.
    #[arg(long)]
    pub no_save: bool,
    /// Shrink attempts per mismatch (each compiles and boots once).
    #[arg(long, default_value = "100", value_name = "N")]
    pub shrink_attempts: u32,
    /// Also write the summary as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Where hako runs the modules: in the unikernel, or as Linux processes (the same
    /// compiled code, far more modules per second).
    #[arg(long, value_enum, default_value_t = crate::image::Target::Unikernel)]
    pub target: crate::image::Target,
}

/// Run the command; the exit status is 1 when a mismatch was found.
pub fn main(args: FuzzArgs) -> Result<i32> {
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    });
    let save = (!args.no_save).then(|| {
        args.save
            .clone()
            .unwrap_or_else(|| crate::workspace::root().join("runner/fuzz-regressions"))
    });
    let options = FuzzOptions {
        seed,
        modules: args.modules,
        per_image: args.per_image.max(1),
        save,
        shrink_attempts: args.shrink_attempts,
    };
    eprintln!(
        "hako fuzz: seeds {seed}..{}, {} per image, at {:?}",
        seed.wrapping_add(args.modules as u64),
        options.per_image,
        OPT_LEVELS
    );
    // Compiler panics become failed checks with their message; keep stderr readable.
    std::panic::set_hook(Box::new(|_| {}));
    let start = Instant::now();
    let booter = TargetBooter::new(Cache::default_location(), args.target);
    let summary = fuzz(
        &options,
        &booter,
        Some(&Cache::default_location()),
        |done, bad| {
            eprintln!("hako fuzz: {done} modules compared, {bad} mismatches");
        },
    );
    for m in &summary.mismatches {
        println!("mismatch: {} at {}:", m.case, m.opt_level);
        for f in m.failures.iter().take(5) {
            println!("  {f}");
        }
        if let Some(path) = &m.saved {
            println!("  saved (shrunk) as {}", path.display());
        }
    }
    let skipped: usize = summary.skipped.iter().map(|(_, n)| n).sum();
    println!(
        "{} modules, {} invocations and {} final-state checks compared against Wasmtime at {} levels in {:.0} s: {} mismatches; {skipped} seeds skipped{}",
        summary.modules,
        summary.invocations,
        summary.state_checks,
        OPT_LEVELS.len(),
        start.elapsed().as_secs_f64(),
        summary.mismatches.len(),
        if summary.skipped.is_empty() {
            String::new()
        } else {
            let reasons: Vec<String> =
                summary.skipped.iter().map(|(r, n)| format!("{n} {r}")).collect();
            format!(" ({})", reasons.join(", "))
        }
    );
    if let Some(path) = &args.json {
        let json = serde_json::json!({ "seed": seed, "summary": summary });
        std::fs::write(path, serde_json::to_string_pretty(&json)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(if summary.mismatches.is_empty() { 0 } else { 1 })
}
