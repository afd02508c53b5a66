//! The run-time measurement: each program run `iterations` times in hako (one image, one
//! boot per iteration, time from the kernel's `bench start`/`bench end` harness records) and
//! in Wasmtime (one compile, one instance per iteration, see [`super::wasmtime`]), each run's
//! exit status and output checked, and the ratio of the two medians.

use super::{median, ms, wasmtime, Program};
use crate::cache::Cache;
use crate::image::{self, BuildOptions, BuildReport};
use crate::input;
use crate::qemu::{self, BootConfig, Preopen, Sink};
use anyhow::{bail, Context, Result};
use hako_compiler::OptLevel;
use serde::Serialize;
use std::time::Duration;

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
    config.preopens = vec![Preopen::new(program.dir.clone(), ".")];
    for _ in 0..options.iterations {
        let run = qemu::boot(&image, &config)?;
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
            (Some(start), Some(end)) => side.times_ms.push(end.saturating_sub(start) as f64 / 1e6),
            _ => bail!("no bench.start/bench.end records"),
        }
    }
    Ok(())
}

fn wasmtime_side(program: &Program, wasm: &[u8], iterations: usize) -> Side {
    let mut side = Side::default();
    if let Err(e) = wasmtime_iterations(program, wasm, iterations, &mut side) {
        side.error = Some(format!("{e:#}"));
    }
    side.finish()
}

fn wasmtime_iterations(
    program: &Program,
    wasm: &[u8],
    iterations: usize,
    side: &mut Side,
) -> Result<()> {
    let module = wasmtime::compile(wasm)?;
    for _ in 0..iterations {
        let run = wasmtime::run(&module, &program.argv(), &program.dir);
        match run.status? {
            0 => program.check_output(&run.stdout, &run.stderr)?,
            code => bail!("exited with status {code}"),
        }
        let time = run.measured.context("bench.start/bench.end not called")?;
        side.times_ms.push(ms(time));
    }
    Ok(())
}
