//! The end-to-end start-up measurement: the wall time of `hako run` of a do-nothing module (the
//! `hako` binary itself, with a warm cache) against bare QEMU booting the do-nothing PVH kernel
//! of [`super::pvh`] with a minimal command line, interleaved.
//!
//! The cold start ([`super::cold_start`]) compares two kernels on hako's own QEMU command
//! line; this includes everything else a user waits for: `hako`'s process start and exit,
//! reading and hashing the module and finding its image in the cache, hako's QEMU command line
//! (its devices, channels and guest RAM) and the threads that serve it.

use super::{median, ms, pvh};
use crate::cache::Cache;
use crate::qemu::Accel;
use anyhow::{bail, Context, Result};
use hako_abi::boot::{self, DEBUG_EXIT_PORT, EXIT_DONE};
use serde::Serialize;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Instant;

/// The do-nothing module: a WASI command whose `_start` returns at once.
pub const DO_NOTHING_WAT: &str = r#"(module (func (export "_start")))"#;

/// `hako run` of the do-nothing module against bare QEMU booting the do-nothing kernel.
#[derive(Debug, Clone, Serialize)]
pub struct EndToEnd {
    pub runs: usize,
    /// What was timed on each side (the temporary files' paths as they were).
    pub hako_command: Vec<String>,
    pub bare_command: Vec<String>,
    pub hako_times_ms: Vec<f64>,
    pub bare_times_ms: Vec<f64>,
    pub hako_median_ms: f64,
    pub bare_median_ms: f64,
    /// hako median / bare median.
    pub ratio: f64,
}

/// The minimal QEMU command line that boots `kernel`: `-M microvm -nodefaults -m 64M -serial
/// null -device isa-debug-exit,iobase=0xf4,iosize=4 -display none -kernel KERNEL`.
/// `-display none` because without a display QEMU's default one (GTK where it is installed)
/// fails to start; `-accel kvm` is added when `accel` is KVM, so that both sides of the
/// comparison run on the same accelerator (QEMU's default is TCG).
pub fn bare_qemu_args(kernel: &Path, accel: Accel) -> Vec<String> {
    let mut args: Vec<String> = [
        "-M",
        "microvm",
        "-nodefaults",
        "-m",
        "64M",
        "-serial",
        "null",
        "-device",
        &format!("isa-debug-exit,iobase={DEBUG_EXIT_PORT:#x},iosize=4"),
        "-display",
        "none",
    ]
    .map(String::from)
    .into();
    if accel == Accel::Kvm {
        args.extend(["-accel".into(), "kvm".into()]);
    }
    args.extend(["-kernel".into(), kernel.display().to_string()]);
    args
}

/// Time `hako run do-nothing.wasm` (`hako` is the binary to run, `cache` its cache, warmed by
/// one untimed run first) and bare QEMU booting the do-nothing kernel, `runs` times each,
/// alternating which goes first.
pub fn end_to_end(runs: usize, hako: &Path, cache: &Cache) -> Result<EndToEnd> {
    let scratch = tempfile::tempdir()?;
    let module = scratch.path().join("do-nothing.wasm");
    std::fs::write(&module, wat::parse_str(DO_NOTHING_WAT)?)?;
    let kernel = scratch.path().join("do-nothing.elf");
    std::fs::write(&kernel, pvh::do_nothing_kernel())?;
    let qemu = crate::tools::QEMU.find()?;
    let bare_args = bare_qemu_args(&kernel, Accel::detect()?);
    let hako_args = ["run".to_string(), module.display().to_string()];

    let hako_run = || {
        let mut command = Command::new(hako);
        command.args(&hako_args).env("HAKO_CACHE_DIR", cache.root());
        timed(&mut command)
            .and_then(|(out, time)| {
                expect(&out, 0, "hako run of the do-nothing module").map(|()| time)
            })
            .with_context(|| format!("running {}", hako.display()))
    };
    let bare_run = || {
        let mut command = Command::new(&qemu);
        command.args(&bare_args);
        let done = boot::qemu_status(EXIT_DONE);
        timed(&mut command)
            .and_then(|(out, time)| expect(&out, done, "bare QEMU").map(|()| time))
            .with_context(|| format!("running {}", qemu.display()))
    };
    // Untimed: the first fills the cache (compile and link), both fill the page cache.
    hako_run()?;
    bare_run()?;
    let (mut hako_times, mut bare_times) = (Vec::new(), Vec::new());
    for i in 0..runs {
        if i % 2 == 0 {
            hako_times.push(hako_run()?);
            bare_times.push(bare_run()?);
        } else {
            bare_times.push(bare_run()?);
            hako_times.push(hako_run()?);
        }
    }
    let hako_median_ms = median(&hako_times).unwrap_or(0.0);
    let bare_median_ms = median(&bare_times).unwrap_or(0.0);
    let command_line = |program: &Path, args: &[String]| {
        std::iter::once(program.display().to_string())
            .chain(args.iter().cloned())
            .collect()
    };
    Ok(EndToEnd {
        runs,
        hako_command: command_line(hako, &hako_args),
        bare_command: command_line(&qemu, &bare_args),
        hako_times_ms: hako_times,
        bare_times_ms: bare_times,
        hako_median_ms,
        bare_median_ms,
        ratio: hako_median_ms / bare_median_ms,
    })
}

/// Run `command` with no input and its output collected; the wall time from spawning it to
/// its exit, in milliseconds.
fn timed(command: &mut Command) -> Result<(Output, f64)> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let output = command.output()?;
    Ok((output, ms(start.elapsed())))
}

fn expect(output: &Output, status: i32, what: &str) -> Result<()> {
    if output.status.code() != Some(status) {
        bail!(
            "{what} ended with {} instead of status {status}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bare_command_line_is_the_minimal_one() {
        let args = bare_qemu_args(Path::new("k.elf"), Accel::Tcg).join(" ");
        assert_eq!(
            args,
            "-M microvm -nodefaults -m 64M -serial null \
             -device isa-debug-exit,iobase=0xf4,iosize=4 -display none -kernel k.elf"
        );
        let kvm = bare_qemu_args(Path::new("k.elf"), Accel::Kvm).join(" ");
        assert!(kvm.contains(" -accel kvm -kernel k.elf"), "{kvm}");
    }

    #[test]
    fn the_do_nothing_module_is_a_command() {
        let wasm = wat::parse_str(DO_NOTHING_WAT).unwrap();
        hako_compiler_api::validate(&wasm).unwrap();
        assert!(crate::invoke::exported_functions(&wasm)
            .unwrap()
            .contains_key(crate::invoke::START));
    }
}
