//! The start-up of `hako bench --target linux` (the unikernel's cold start does not apply):
//! the `fixtures/hello.c` program, built as [`super::build_hello`] builds it, measured four
//! ways in interleaved rounds, each the median of at least 20 runs:
//!
//! - the static executable `hako build --target linux` makes, from spawn to exit;
//! - `hako run --target linux hello.wasm` with a warm cache (the `hako` binary spawned with
//!   the same cache, from spawn to exit: argument parsing, reading and hashing the module,
//!   the cache look-ups, then the executable);
//! - Wasmtime 46 in-process: the WASI context's set-up, instantiation and `_start` of the
//!   module compiled beforehand (see [`super::wasmtime::run`]);
//! - for scale, the same C program built natively with `clang-19 -O2`, from spawn to exit.
//!
//! Every run's output is checked.

use super::{build_hello, median, ms, wasmtime};
use crate::cache::Cache;
use crate::image::{self, BuildOptions, BuildReport, Target};
use crate::input;
use anyhow::{bail, Context, Result};
use hako_compiler_api::OptLevel;
use serde::Serialize;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

const HELLO: &[u8] = b"Hello from hako!\n";

/// Start-up of the hello program on Linux.
#[derive(Debug, Clone, Serialize)]
pub struct LinuxStart {
    pub runs: usize,
    /// The level the executable was built at (`O2`).
    pub opt_level: String,
    pub executable_bytes: u64,
    /// The `hako build --target linux` executable, spawn to exit.
    pub executable_times_ms: Vec<f64>,
    pub executable_median_ms: f64,
    /// `hako run --target linux hello.wasm`, warm cache, spawn to exit.
    pub hako_run_times_ms: Vec<f64>,
    pub hako_run_median_ms: f64,
    /// Wasmtime in-process: WASI set-up, instantiate and `_start` of the compiled module.
    pub wasmtime_times_ms: Vec<f64>,
    pub wasmtime_median_ms: f64,
    /// `clang-19 -O2 hello.c`, spawn to exit.
    pub native_times_ms: Vec<f64>,
    pub native_median_ms: f64,
}

/// Measure the four start-ups `runs` times each, interleaved; `hako` is the `hako` binary
/// whose `hako run` is timed.
pub fn linux_start(
    runs: usize,
    opt_level: OptLevel,
    hako: &Path,
    cache: &Cache,
) -> Result<LinuxStart> {
    let scratch = tempfile::tempdir()?;
    let wasm = build_hello(scratch.path())?;
    let module = input::read(&wasm)?;
    let build = BuildOptions {
        opt_level,
        target: Target::Linux,
        ..BuildOptions::default()
    };
    let built = image::build_image(&module, &build, cache, &mut BuildReport::default())?;
    // What `hako build --target linux hello.wasm -o hello` writes.
    let exe = scratch.path().join("hello");
    image::copy_out(&built, &exe)?;
    let native = scratch.path().join("hello-native");
    let clang = std::env::var("CLANG").unwrap_or_else(|_| "clang-19".into());
    let status = Command::new(&clang)
        .arg("-O2")
        .arg(crate::workspace::root().join("fixtures/hello.c"))
        .arg("-o")
        .arg(&native)
        .status()
        .with_context(|| format!("cannot run {clang}"))?;
    if !status.success() {
        bail!("{clang} -O2 fixtures/hello.c failed");
    }
    let module = wasmtime::compile(&std::fs::read(&wasm)?)?;
    let level = opt_level.to_string();
    let mut hako_run = Command::new(hako);
    hako_run
        .args(["run", "--target", "linux", "-O", &level])
        .arg(&wasm)
        .env("HAKO_CACHE_DIR", cache.root());
    let argv = vec!["hello.wasm".to_string()];

    // The spawned `hako` uses `cache`, which holds the executable already; one untimed
    // round warms the files' pages too.
    let (mut exe_t, mut run_t, mut wt_t, mut native_t) = (vec![], vec![], vec![], vec![]);
    for round in 0..=runs {
        let e = spawn(&mut Command::new(&exe)).context("the hello executable")?;
        let r = spawn(&mut hako_run).context("hako run --target linux hello.wasm")?;
        let start = Instant::now();
        let run = wasmtime::run(&module, &argv, scratch.path());
        let w = ms(start.elapsed());
        if run.status? != 0 || run.stdout != HELLO {
            bail!("hello did not run right in Wasmtime");
        }
        let n = spawn(&mut Command::new(&native)).context("the native hello")?;
        if round > 0 {
            exe_t.push(e);
            run_t.push(r);
            wt_t.push(w);
            native_t.push(n);
        }
    }
    let m = |t: &[f64]| median(t).unwrap_or(0.0);
    Ok(LinuxStart {
        runs,
        opt_level: format!("O{opt_level}"),
        executable_bytes: std::fs::metadata(&exe)?.len(),
        executable_median_ms: m(&exe_t),
        executable_times_ms: exe_t,
        hako_run_median_ms: m(&run_t),
        hako_run_times_ms: run_t,
        wasmtime_median_ms: m(&wt_t),
        wasmtime_times_ms: wt_t,
        native_median_ms: m(&native_t),
        native_times_ms: native_t,
    })
}

/// Spawn `command` to print the greeting and exit 0: its wall time in ms.
fn spawn(command: &mut Command) -> Result<f64> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let out = command.output().context("cannot start it")?;
    let time = ms(start.elapsed());
    if !out.status.success() || out.stdout != HELLO {
        bail!(
            "it did not print the greeting and exit 0 ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim_end()
        );
    }
    Ok(time)
}

impl LinuxStart {
    /// The human-readable lines.
    pub fn table(&self) -> String {
        format!(
            "Start-up of fixtures/hello.c on Linux (spawn to exit unless said, median of {} \
             interleaved runs each; native on this host):\n\
             \x20 hako build --target linux -{} executable ({} bytes): {:.3} ms\n\
             \x20 hako run --target linux hello.wasm, warm cache:   {:.3} ms\n\
             \x20 Wasmtime 46 in-process, WASI set-up + instantiate + _start of the compiled module: {:.3} ms\n\
             \x20 native clang-19 -O2 build, for scale:             {:.3} ms\n",
            self.runs,
            self.opt_level,
            self.executable_bytes,
            self.executable_median_ms,
            self.hako_run_median_ms,
            self.wasmtime_median_ms,
            self.native_median_ms
        )
    }
}
