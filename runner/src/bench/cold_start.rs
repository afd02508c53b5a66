//! The cold-start measurement: QEMU spawn to exit of the `fixtures/hello.c` image against
//! the do-nothing PVH kernel of [`super::pvh`], booted alternately with the same QEMU command
//! line, and the hello image's size.

use super::{median, ms, pvh};
use crate::cache::Cache;
use crate::image::{self, BuildOptions, BuildReport};
use crate::input;
use crate::qemu::{self, BootConfig, Sink};
use anyhow::{bail, Context, Result};
use hako_compiler_api::OptLevel;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Cold start: QEMU spawn to exit for the hello image and for the do-nothing kernel.
#[derive(Debug, Clone, Serialize)]
pub struct ColdStart {
    pub runs: usize,
    pub hello_image_bytes: u64,
    pub hello_times_ms: Vec<f64>,
    pub baseline_times_ms: Vec<f64>,
    pub hello_median_ms: f64,
    pub baseline_median_ms: f64,
    /// hello median / baseline median.
    pub ratio: f64,
}

/// Compile `fixtures/hello.c` with clang-19 (`$CLANG`) into `out_dir`.
pub fn build_hello(out_dir: &Path) -> Result<PathBuf> {
    let src = crate::workspace::root().join("fixtures/hello.c");
    let out = out_dir.join("hello.wasm");
    let clang = std::env::var("CLANG").unwrap_or_else(|_| "clang-19".into());
    let status = std::process::Command::new(&clang)
        .args(["--target=wasm32-wasi", "-O2"])
        .arg(&src)
        .arg("-o")
        .arg(&out)
        .status()
        .with_context(|| format!("cannot run {clang}"))?;
    if !status.success() {
        bail!("{clang} failed on {}", src.display());
    }
    Ok(out)
}

/// Boot the hello image and the do-nothing kernel `runs` times each, alternating, with the
/// same QEMU command line (but for `-kernel`).
pub fn cold_start(runs: usize, opt_level: OptLevel, cache: &Cache) -> Result<ColdStart> {
    let scratch = tempfile::tempdir()?;
    let hello = build_hello(scratch.path())?;
    let module = input::read(&hello)?;
    let build = BuildOptions {
        opt_level,
        ..BuildOptions::default()
    };
    let image = image::build_image(&module, &build, cache, &mut BuildReport::default())?;
    let baseline = scratch.path().join("do-nothing.elf");
    std::fs::write(&baseline, pvh::do_nothing_kernel())?;
    let mut config = BootConfig::new(vec!["hello.wasm".into()])?;
    config.stdout = Sink::Capture;
    config.stderr = Sink::Capture;
    config.timeout = Duration::from_secs(60);
    let (mut hello_times, mut baseline_times) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let run = qemu::boot(&image, &config)?;
        if run.outcome != qemu::Outcome::Exited(0) || run.stdout != b"Hello from hako!\n" {
            bail!("the hello image did not run right: {:?}", run.outcome);
        }
        hello_times.push(ms(run.wall_time));
        let run = qemu::boot(&baseline, &config)?;
        // It writes EXIT_DONE with no records: that is the only way it ends like this.
        match &run.outcome {
            qemu::Outcome::Crashed(m) if m.contains("without reporting an outcome") => {}
            other => bail!("the do-nothing kernel did not exit as expected: {other:?}"),
        }
        baseline_times.push(ms(run.wall_time));
    }
    let hello_median_ms = median(&hello_times).unwrap_or(0.0);
    let baseline_median_ms = median(&baseline_times).unwrap_or(0.0);
    Ok(ColdStart {
        runs,
        hello_image_bytes: std::fs::metadata(&image)?.len(),
        hello_times_ms: hello_times,
        baseline_times_ms: baseline_times,
        hello_median_ms,
        baseline_median_ms,
        ratio: hello_median_ms / baseline_median_ms,
    })
}
