//! The native baseline of `hako bench --target linux`: CPU-bound C programs (those of
//! `fixtures/bench/`), each compiled by the bench with `clang-19 -O2` both natively and to
//! wasm32-wasi, the native executable run as a process and the Wasm in hako (as a Linux
//! executable, at every level asked for) and in Wasmtime, through [`super::run_program`].
//!
//! All three time the same span: the programs call `bench_start()`/`bench_end()` of
//! `fixtures/bench/bench.h`, the Sightglass `bench.start`/`bench.end` imports in Wasm and
//! `clock_gettime(CLOCK_MONOTONIC)` natively (printed on stderr as `bench-ns <ns>`). The
//! native build's stdout is the expected output of the Wasm runs (their stderr must be
//! empty), so a miscompiled checksum is a failure, not a time. Nothing is committed but the
//! sources: the executables and modules are built into a scratch directory on every run.

use super::run::run_rounds;
use super::{geomean, ratio, Options, Program, RunReport, Side};
use crate::cache::Cache;
use anyhow::{bail, Context, Result};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The compiler's command line, both ways (`$CLANG` replaces `clang-19`).
pub const COMPILER: &str = "clang-19 -O2";

/// The native baseline's programs, relative to the workspace root.
pub fn sources_dir() -> PathBuf {
    crate::workspace::root().join("fixtures/bench")
}

/// The `.c` files of `dir` whose stem contains `filter`, sorted.
pub fn sources(dir: &Path, filter: Option<&str>) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "c")
            && filter.is_none_or(|f| stem(&path).contains(f))
        {
            found.push(path);
        }
    }
    found.sort();
    Ok(found)
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// One C program: native, in hako at each level, in Wasmtime.
#[derive(Debug, Clone, Serialize)]
pub struct NativeRun {
    pub name: String,
    /// The native executable (its `bench-ns`), each run exiting 0 with the first run's stdout.
    pub native: Side,
    /// hako at each level and Wasmtime on the wasm32-wasi build, their stdout checked against
    /// the native one; `None` when it could not be built.
    pub run: Option<RunReport>,
    /// `hako median / native median` at each level, the first first (> 1: slower than native).
    pub hako_vs_native: Vec<Option<f64>>,
    /// `Wasmtime median / native median`.
    pub wasmtime_vs_native: Option<f64>,
    /// Why it could not be built.
    pub error: Option<String>,
}

/// The native baseline (in `--json`: `native`).
#[derive(Debug, Clone, Serialize)]
pub struct NativeReport {
    /// How the programs were compiled (`clang-19 -O2`, natively and to wasm32-wasi).
    pub compiler: String,
    pub iterations: usize,
    /// hako's levels, the first first (`O2`, `O3`).
    pub levels: Vec<String>,
    pub programs: Vec<NativeRun>,
    /// Geometric mean of `hako / native` at each level, over the programs measured on both.
    pub hako_geomeans: Vec<Option<f64>>,
    /// Geometric mean of `Wasmtime / native`.
    pub wasmtime_geomean: Option<f64>,
}

/// Build and measure each of `sources` (see the module's documentation).
pub fn native_baseline(
    sources: &[PathBuf],
    options: &Options,
    cache: &Cache,
) -> Result<NativeReport> {
    let scratch = tempfile::tempdir()?;
    let levels = options.levels();
    let mut programs = Vec::new();
    for (i, source) in sources.iter().enumerate() {
        let name = stem(source);
        eprintln!("bench: native {}/{} {name}", i + 1, sources.len());
        let run = match build(source, scratch.path()) {
            Ok((exe, wasm)) => measure(&name, &exe, &wasm, scratch.path(), options, cache),
            Err(e) => NativeRun {
                name,
                native: Side::default(),
                run: None,
                hako_vs_native: vec![None; levels.len()],
                wasmtime_vs_native: None,
                error: Some(format!("{e:#}")),
            },
        };
        let ms = |s: &Side| {
            s.median_ms
                .map_or("-".to_string(), |v| format!("{v:.3} ms"))
        };
        eprintln!(
            "bench:   native {}; hako/native {}",
            ms(&run.native),
            run.hako_vs_native
                .iter()
                .map(|r| r.map_or("-".to_string(), |r| format!("{r:.3}")))
                .collect::<Vec<_>>()
                .join(" ")
        );
        programs.push(run);
    }
    let hako_geomeans = (0..levels.len())
        .map(|l| {
            geomean(
                &programs
                    .iter()
                    .filter_map(|p| p.hako_vs_native[l])
                    .collect::<Vec<_>>(),
            )
        })
        .collect();
    let wasmtime_geomean = geomean(
        &programs
            .iter()
            .filter_map(|p| p.wasmtime_vs_native)
            .collect::<Vec<_>>(),
    );
    Ok(NativeReport {
        compiler: COMPILER.into(),
        iterations: options.iterations,
        levels: levels.iter().map(|l| format!("O{l}")).collect(),
        programs,
        hako_geomeans,
        wasmtime_geomean,
    })
}

/// Compile `source` natively and to wasm32-wasi into `out`: the executable's and the
/// module's paths.
fn build(source: &Path, out: &Path) -> Result<(PathBuf, PathBuf)> {
    let clang = std::env::var("CLANG").unwrap_or_else(|_| "clang-19".into());
    let name = stem(source);
    let exe = out.join(&name);
    let wasm = out.join(format!("{name}.wasm"));
    let include = sources_dir();
    for (target, output, libm) in [
        (None, &exe, true),
        (Some("--target=wasm32-wasi"), &wasm, false),
    ] {
        let mut command = Command::new(&clang);
        command
            .args(target)
            .arg("-O2")
            .arg("-I")
            .arg(&include)
            .arg(source)
            .arg("-o")
            .arg(output);
        if libm {
            command.arg("-lm");
        }
        let result = command
            .output()
            .with_context(|| format!("cannot run {clang}"))?;
        if !result.status.success() {
            bail!(
                "{clang} {} -O2 {} failed:\n{}",
                target.unwrap_or(""),
                source.display(),
                String::from_utf8_lossy(&result.stderr).trim_end()
            );
        }
    }
    Ok((exe, wasm))
}

/// One untimed native run gives the expected stdout; then rounds of the native executable,
/// hako at each level and Wasmtime.
fn measure(
    name: &str,
    exe: &Path,
    wasm: &Path,
    dir: &Path,
    options: &Options,
    cache: &Cache,
) -> NativeRun {
    let mut expected = None;
    let mut native = Side::default();
    if let Err(e) = native_run(exe, &mut expected) {
        native.error = Some(format!("{e:#}"));
    }
    let program = Program {
        name: name.to_string(),
        wasm: wasm.to_path_buf(),
        dir: dir.to_path_buf(),
        stdout_expected: expected.clone(),
        stderr_expected: Some(Vec::new()),
        shared_expectations: false,
    };
    let run = run_rounds(&program, options, cache, || {
        if native.error.is_none() {
            match native_run(exe, &mut expected) {
                Ok(ms) => native.times_ms.push(ms),
                Err(e) => native.error = Some(format!("{e:#}")),
            }
        }
    });
    let native = native.finish();
    NativeRun {
        name: name.to_string(),
        hako_vs_native: run
            .levels()
            .iter()
            .map(|(hako, _)| ratio(&native, hako))
            .collect(),
        wasmtime_vs_native: ratio(&native, &run.wasmtime),
        native,
        run: Some(run),
        error: None,
    }
}

/// One run of the native executable: the `bench-ns` it printed, in ms. Its stdout becomes
/// `expected` on the first run and must equal it after.
fn native_run(exe: &Path, expected: &mut Option<Vec<u8>>) -> Result<f64> {
    let out = Command::new(exe)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run {}", exe.display()))?;
    if !out.status.success() {
        bail!("exited with {}", out.status);
    }
    match expected {
        Some(first) if *first != out.stdout => bail!("stdout differs from the first run's"),
        Some(_) => {}
        None => *expected = Some(out.stdout.clone()),
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let ns: u64 = stderr
        .lines()
        .find_map(|l| l.strip_prefix("bench-ns ")?.trim().parse().ok())
        .context("no `bench-ns` line on stderr (does it call bench_start/bench_end?)")?;
    Ok(ns as f64 / 1e6)
}

impl NativeReport {
    /// The human-readable table.
    pub fn table(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let num = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.3}"));
        let _ = writeln!(
            s,
            "Native baseline (bench.start..bench.end, median ms of {} run(s); {} natively and to \
             wasm32-wasi; hako as Linux executables; native on this host)",
            self.iterations, self.compiler
        );
        let mut header = format!("{:<16} {:>10}", "program", "native");
        for level in &self.levels {
            let _ = write!(header, " {:>10} {:>8}", format!("hako -{level}"), "/native");
        }
        let _ = write!(header, " {:>10} {:>8}  output", "wasmtime", "/native");
        let _ = writeln!(s, "{header}");
        for p in &self.programs {
            let mut line = format!("{:<16} {:>10}", p.name, num(p.native.median_ms));
            let mut failed = Vec::new();
            if !p.native.output_ok {
                failed.push("native".to_string());
            }
            for (l, level) in self.levels.iter().enumerate() {
                let side = p
                    .run
                    .as_ref()
                    .and_then(|r| r.levels().get(l).map(|(s, _)| (*s).clone()));
                let median = side.as_ref().and_then(|s| s.median_ms);
                if side.as_ref().is_some_and(|s| !s.output_ok) {
                    failed.push(format!("hako -{level}"));
                }
                let _ = write!(line, " {:>10} {:>8}", num(median), num(p.hako_vs_native[l]));
            }
            let wasmtime = p.run.as_ref().map(|r| &r.wasmtime);
            if wasmtime.is_some_and(|w| !w.output_ok) {
                failed.push("wasmtime".into());
            }
            let status = match (&p.error, failed.is_empty()) {
                (Some(_), _) => "NOT BUILT".to_string(),
                (None, true) => "ok".to_string(),
                (None, false) => format!("FAIL ({})", failed.join(" ")),
            };
            let _ = writeln!(
                line,
                " {:>10} {:>8}  {status}",
                num(wasmtime.and_then(|w| w.median_ms)),
                num(p.wasmtime_vs_native)
            );
            s.push_str(&line);
        }
        for (l, (level, g)) in self.levels.iter().zip(&self.hako_geomeans).enumerate() {
            let n = self
                .programs
                .iter()
                .filter(|p| p.hako_vs_native[l].is_some())
                .count();
            let _ = writeln!(
                s,
                "geomean hako -{level} / native (>1: slower than native): {} over {n} program(s)",
                num(*g),
            );
        }
        let _ = writeln!(
            s,
            "geomean wasmtime / native: {} over {} program(s)",
            num(self.wasmtime_geomean),
            self.programs
                .iter()
                .filter(|p| p.wasmtime_vs_native.is_some())
                .count()
        );
        for p in &self.programs {
            let mut why = Vec::new();
            if let Some(e) = &p.error {
                why.push(e.clone());
            }
            if let Some(e) = &p.native.error {
                why.push(format!("native: {e}"));
            }
            if let Some(r) = &p.run {
                for ((side, _), level) in r.levels().iter().zip(&self.levels) {
                    if let Some(e) = &side.error {
                        why.push(format!("hako -{level}: {e}"));
                    }
                }
                if let Some(e) = &r.wasmtime.error {
                    why.push(format!("wasmtime: {e}"));
                }
            }
            if !why.is_empty() {
                let _ = writeln!(s, "  failed: {}: {}", p.name, why.join("; "));
            }
        }
        s
    }
}
