//! The run-time measurement: each program run `iterations` times in hako at each level asked
//! for (one image or Linux executable per level, one boot or process per iteration, time
//! from the `bench start`/`bench end` harness records) and in Wasmtime (one compile, one
//! instance per iteration, see [`super::wasmtime`]), in interleaved rounds, each run's exit
//! status and output checked, and the ratio of the medians at each level.

use super::{median, ms, wasmtime, Program};
use crate::cache::Cache;
use crate::image::{self, BuildOptions, BuildReport, Target};
use crate::input;
use crate::qemu::{BootConfig, Preopen, Sink};
use anyhow::{bail, Context, Result};
use hako_compiler_api::OptLevel;
use serde::Serialize;
use std::time::Duration;

/// How to measure.
#[derive(Debug, Clone)]
pub struct Options {
    pub iterations: usize,
    /// The level of the compile times and the start-up, and the first of the run times.
    pub opt_level: OptLevel,
    /// The further levels the run times are measured at (`-O 2,3`: `[O3]`).
    pub more_levels: Vec<OptLevel>,
    /// What hako's programs run as: unikernel images in QEMU, or Linux executables.
    pub target: Target,
    /// Time limit of one hako boot or process.
    pub timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            iterations: 3,
            opt_level: OptLevel::O2,
            more_levels: Vec::new(),
            target: Target::Unikernel,
            timeout: Duration::from_secs(600),
        }
    }
}

impl Options {
    /// Every level the run times are measured at, the first first.
    pub fn levels(&self) -> Vec<OptLevel> {
        std::iter::once(self.opt_level)
            .chain(self.more_levels.iter().copied())
            .collect()
    }
}

/// The levels of `-O`: one level (`2`) or a comma-separated list of them (`2,3`), in the
/// order given, each once. The first is the level of the compile times and the start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptLevels(pub Vec<OptLevel>);

impl OptLevels {
    /// The first level, and the others.
    pub fn split(&self) -> (OptLevel, Vec<OptLevel>) {
        let first = self.0.first().copied().unwrap_or(OptLevel::O2);
        (first, self.0.iter().skip(1).copied().collect())
    }
}

impl std::str::FromStr for OptLevels {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let mut levels: Vec<OptLevel> = Vec::new();
        for part in s.split(',') {
            let level: OptLevel = part.trim().parse()?;
            if levels.contains(&level) {
                return Err(format!(
                    "optimisation level {level} is listed twice in `{s}`"
                ));
            }
            levels.push(level);
        }
        Ok(OptLevels(levels))
    }
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
    pub(super) fn finish(mut self) -> Side {
        self.min_ms = self.times_ms.iter().copied().reduce(f64::min);
        self.median_ms = median(&self.times_ms);
        self.output_ok = self.error.is_none() && !self.times_ms.is_empty();
        self
    }
}

/// `b / a` (how many times `a` goes into `b`) when both sides passed with non-zero medians.
pub fn ratio(a: &Side, b: &Side) -> Option<f64> {
    match (a.output_ok, b.output_ok, a.median_ms, b.median_ms) {
        (true, true, Some(a), Some(b)) if a > 0.0 && b > 0.0 => Some(b / a),
        _ => None,
    }
}

/// The run-time report of one program.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub name: String,
    pub wasm_bytes: usize,
    /// hako at the first level ([`Options::opt_level`]).
    pub hako: Side,
    pub wasmtime: Side,
    /// `wasmtime median / hako median` at the first level (> 1: hako faster), when both
    /// sides passed.
    pub ratio: Option<f64>,
    /// hako at the further levels ([`Options::more_levels`]), in their order.
    pub more_levels: Vec<LevelRun>,
}

/// hako's measurements of one program at one further level.
#[derive(Debug, Clone, Serialize)]
pub struct LevelRun {
    /// `O3`.
    pub opt_level: String,
    pub hako: Side,
    /// `wasmtime median / hako median` at this level.
    pub ratio: Option<f64>,
}

impl RunReport {
    /// hako's side and ratio at each level, the first first.
    pub fn levels(&self) -> Vec<(&Side, Option<f64>)> {
        std::iter::once((&self.hako, self.ratio))
            .chain(self.more_levels.iter().map(|l| (&l.hako, l.ratio)))
            .collect()
    }
}

/// Run `program` `options.iterations` times in hako at each level (one image or executable
/// per level, one boot or process per iteration) and in Wasmtime (one compile, one instance
/// per iteration), in rounds: hako at each level, then Wasmtime, `iterations` times, so that
/// a burst of load on a shared host falls on every side alike.
pub fn run_program(program: &Program, options: &Options, cache: &Cache) -> RunReport {
    run_rounds(program, options, cache, || {})
}

/// [`run_program`], calling `each_round` at the start of every round (the native baseline's
/// own run).
pub(super) fn run_rounds(
    program: &Program,
    options: &Options,
    cache: &Cache,
    mut each_round: impl FnMut(),
) -> RunReport {
    let wasm = std::fs::read(&program.wasm).unwrap_or_default();
    // Build everything first: no compile or link happens between timed runs.
    let mut hako: Vec<(Option<Prepared>, Side)> = options
        .levels()
        .into_iter()
        .map(|level| match prepare(program, level, options, cache) {
            Ok(prepared) => (Some(prepared), Side::default()),
            Err(e) => (None, failed(e)),
        })
        .collect();
    let (module, mut wasmtime) = match wasmtime::compile(&wasm) {
        Ok(module) => (Some(module), Side::default()),
        Err(e) => (None, failed(e)),
    };
    for _ in 0..options.iterations {
        each_round();
        for (prepared, side) in &mut hako {
            if let Some(p) = prepared.as_ref().filter(|_| side.error.is_none()) {
                record(side, hako_once(program, p, options.target));
            }
        }
        if let Some(m) = module.as_ref().filter(|_| wasmtime.error.is_none()) {
            record(&mut wasmtime, wasmtime_once(program, m));
        }
    }
    let wasmtime = wasmtime.finish();
    let mut hako = hako.into_iter().map(|(_, side)| side.finish());
    let first = hako.next().unwrap_or_default();
    RunReport {
        name: program.name.clone(),
        wasm_bytes: wasm.len(),
        ratio: ratio(&first, &wasmtime),
        more_levels: options
            .more_levels
            .iter()
            .zip(hako)
            .map(|(level, hako)| LevelRun {
                opt_level: format!("O{level}"),
                ratio: ratio(&hako, &wasmtime),
                hako,
            })
            .collect(),
        hako: first,
        wasmtime,
    }
}

/// A side that could not start.
fn failed(e: anyhow::Error) -> Side {
    Side {
        error: Some(format!("{e:#}")),
        ..Side::default()
    }
}

/// One run's time into `side`, or its failure (which ends the side's runs).
fn record(side: &mut Side, run: Result<f64>) {
    match run {
        Ok(ms) => side.times_ms.push(ms),
        Err(e) => side.error = Some(format!("{e:#}")),
    }
}

/// hako's image or executable of one level, and how to start it.
struct Prepared {
    artifact: std::path::PathBuf,
    config: BootConfig,
}

fn prepare(
    program: &Program,
    level: OptLevel,
    options: &Options,
    cache: &Cache,
) -> Result<Prepared> {
    let module = input::read(&program.wasm)?;
    let build = BuildOptions {
        opt_level: level,
        target: options.target,
        ..BuildOptions::default()
    };
    let artifact = image::build_image(&module, &build, cache, &mut BuildReport::default())?;
    let mut config = match options.target {
        Target::Unikernel => BootConfig::new(program.argv())?,
        Target::Linux => BootConfig::for_process(program.argv()),
    };
    config.timeout = options.timeout;
    config.stdout = Sink::Capture;
    config.stderr = Sink::Capture;
    config.preopens = vec![Preopen::new(program.dir.clone(), ".")];
    Ok(Prepared { artifact, config })
}

/// One boot or process: `bench.end − bench.start` in ms, its status and output checked.
fn hako_once(program: &Program, prepared: &Prepared, target: Target) -> Result<f64> {
    let run = target.boot(&prepared.artifact, &prepared.config)?;
    if let Some(problem) = run.outcome.describe() {
        bail!("{problem}");
    }
    if run.outcome.exit_status() != 0 {
        bail!("exited with status {}", run.outcome.exit_status());
    }
    program.check_output(&run.stdout, &run.stderr)?;
    let bench = |which: &str| {
        run.records
            .iter()
            .filter(|r| r.kind == hako_abi::boot::record::BENCH)
            .find_map(|r| r.rest.strip_prefix(which)?.trim().parse::<u64>().ok())
    };
    match (bench("start"), bench("end")) {
        (Some(start), Some(end)) => Ok(end.saturating_sub(start) as f64 / 1e6),
        _ => bail!("no bench.start/bench.end records"),
    }
}

/// One Wasmtime instance: `bench.end − bench.start` in ms, its status and output checked.
fn wasmtime_once(program: &Program, module: &::wasmtime::Module) -> Result<f64> {
    let run = wasmtime::run(module, &program.argv(), &program.dir);
    match run.status? {
        0 => program.check_output(&run.stdout, &run.stderr)?,
        code => bail!("exited with status {code}"),
    }
    let time = run.measured.context("bench.start/bench.end not called")?;
    Ok(ms(time))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_one_or_a_comma_separated_list() {
        let parse = |s: &str| s.parse::<OptLevels>();
        assert_eq!(parse("2"), Ok(OptLevels(vec![OptLevel::O2])));
        assert_eq!(
            parse("2,3").unwrap().split(),
            (OptLevel::O2, vec![OptLevel::O3])
        );
        assert_eq!(parse("3, 0").unwrap().0, vec![OptLevel::O3, OptLevel::O0]);
        assert!(parse("2,2").unwrap_err().contains("twice"));
        assert!(parse("4").is_err());
        assert!(parse("2,").is_err());
        assert!(parse("").is_err());
    }

    #[test]
    fn ratios_need_both_sides() {
        let side = |ms: f64, ok: bool| {
            Side {
                times_ms: vec![ms],
                error: (!ok).then(|| "failed".to_string()),
                ..Side::default()
            }
            .finish()
        };
        assert_eq!(ratio(&side(2.0, true), &side(3.0, true)), Some(1.5));
        assert_eq!(ratio(&side(2.0, false), &side(3.0, true)), None);
        assert_eq!(ratio(&side(0.0, true), &side(3.0, true)), None);
    }
}
