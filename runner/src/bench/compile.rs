//! The compile-time measurement: `hako_compiler::compile` in-process without cache (at the
//! chosen level and at `-O0`, merging the parts of a large module included) against
//! Wasmtime's `Module::new`, per program, and the throughput in MB/s over all programs.

use super::{ms, wasmtime};
use hako_compiler_api::OptLevel;
use serde::Serialize;
use std::time::{Duration, Instant};

/// Compile times of one program.
#[derive(Debug, Clone, Serialize)]
pub struct CompileReport {
    pub name: String,
    /// `sightglass`, `wasi` or `large`.
    pub suite: &'static str,
    pub wasm_bytes: usize,
    /// `hako_compiler::compile` at the chosen level, in ms.
    pub hako_ms: Option<f64>,
    /// `hako_compiler::compile` at O0, in ms.
    pub hako_o0_ms: Option<f64>,
    /// Wasmtime's `Module::new`, in ms.
    pub wasmtime_ms: Option<f64>,
    /// The CPU time (all threads) of the same three, in ms: on a host shared with other
    /// work, wall-clock times vary with its load and these much less.
    pub hako_cpu_ms: Option<f64>,
    pub hako_o0_cpu_ms: Option<f64>,
    pub wasmtime_cpu_ms: Option<f64>,
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
        let options = hako_compiler_api::Options {
            opt_level: level,
            // As `hako run` and `hako build` compile programs.
            prebuild: true,
            ..hako_compiler_api::Options::default()
        };
        // Compiling includes merging the parts of a large module into one object.
        let (start, cpu) = (Instant::now(), process_cpu_time());
        match crate::backend::compile(wasm, &options).map_err(anyhow::Error::from) {
            Ok(_) => (
                Some(ms(start.elapsed())),
                Some(ms(process_cpu_time() - cpu)),
            ),
            Err(e) => {
                errors.push(format!("hako -O{level}: {e:#}"));
                (None, None)
            }
        }
    };
    let (hako_ms, hako_cpu_ms) = ours(opt_level);
    let (hako_o0_ms, hako_o0_cpu_ms) = if o0 { ours(OptLevel::O0) } else { (None, None) };
    let (start, cpu) = (Instant::now(), process_cpu_time());
    let (wasmtime_ms, wasmtime_cpu_ms) = match wasmtime::compile(wasm) {
        Ok(_) => (
            Some(ms(start.elapsed())),
            Some(ms(process_cpu_time() - cpu)),
        ),
        Err(e) => {
            errors.push(format!("{e:#}"));
            (None, None)
        }
    };
    CompileReport {
        name: name.to_string(),
        suite,
        wasm_bytes: wasm.len(),
        hako_ms,
        hako_o0_ms,
        wasmtime_ms,
        hako_cpu_ms,
        hako_o0_cpu_ms,
        wasmtime_cpu_ms,
        error: (!errors.is_empty()).then(|| errors.join("; ")),
    }
}

/// The CPU time this process has used, all threads.
fn process_cpu_time() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
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
