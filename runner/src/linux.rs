//! Running a Linux executable (`--target linux`) as a child of `hako`, as
//! [`crate::qemu::boot`] boots an image, from the same [`BootConfig`]: the program's
//! arguments, environment and preopens become the executable's own options (see
//! `hako-linux`'s `cli` module), the kernel command-line tokens (`--invoke`, a spec
//! script's restart point, the umask) are passed as `--hako-token`, and the harness records
//! come back on a pipe at descriptor 3 (`--hako-harness 3`), read exactly as the kernel's.
//! The process is tied to `hako` ([`crate::process::Tied`]) and killed at the time limit.
//! QEMU's settings (accelerator, guest RAM) do not apply.

use crate::qemu::{classify_process, parse_records, BootConfig, Outcome, Run, Sink};
use anyhow::{Context, Result};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Instant;

/// The descriptor the executable writes its harness records to.
const HARNESS_FD: i32 = 3;

/// The executable's command line for `config` (after the executable itself).
pub fn arguments(config: &BootConfig) -> Vec<String> {
    let mut args = vec!["--hako-harness".to_string(), HARNESS_FD.to_string()];
    if let Some(argv0) = config.args.first() {
        args.extend(["--hako-argv0".to_string(), argv0.clone()]);
    }
    for p in &config.preopens {
        let ro = if p.read_only { ":ro" } else { "" };
        args.push("--dir".into());
        args.push(format!("{}::{}{ro}", p.host.display(), p.guest));
    }
    for e in &config.env {
        args.extend(["--env".to_string(), e.clone()]);
    }
    if let Some(net) = &config.net {
        args.push("--net".into());
        for p in &net.publish {
            args.extend(["--publish".to_string(), p.spec()]);
        }
        for a in &net.tcplisten {
            args.extend(["--tcplisten".to_string(), a.to_string()]);
        }
    }
    let umask = config
        .umask
        .map(|u| format!("{}{u:o}", hako_abi::boot::UMASK_KEY));
    for token in config.extra_cmdline.iter().chain(&umask) {
        args.extend(["--hako-token".to_string(), token.clone()]);
    }
    args.push("--".into());
    args.extend(config.args.iter().skip(1).cloned());
    args
}

/// Copy `from` to our own stream (when forwarding) and collect it (when capturing).
fn pump(
    mut from: impl Read + Send + 'static,
    sink: Sink,
    stream: fn() -> Box<dyn Write>,
) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut kept = Vec::new();
        let mut buf = vec![0u8; 64 << 10];
        let mut to = (sink != Sink::Capture).then(stream);
        loop {
            match from.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    if let Some(w) = to.as_mut() {
                        let _ = w.write_all(&buf[..n]);
                        let _ = w.flush();
                    }
                    if sink != Sink::Forward {
                        kept.extend_from_slice(&buf[..n]);
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        kept
    })
}

/// Run `exe` and wait for it to finish (or kill it at the timeout).
pub fn run(exe: &Path, config: &BootConfig) -> Result<Run> {
    let (harness_read, harness_write) =
        rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).context("creating a pipe")?;
    let mut command = Command::new(exe);
    command.args(arguments(config));
    command.stdin(if config.stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    for (sink, set) in [
        (
            config.stdout,
            Command::stdout as fn(&mut Command, Stdio) -> &mut Command,
        ),
        (config.stderr, Command::stderr),
    ] {
        set(
            &mut command,
            if sink == Sink::Forward {
                Stdio::inherit()
            } else {
                Stdio::piped()
            },
        );
    }
    let write_fd = harness_write.as_raw_fd();
    // SAFETY: runs in the forked child before `exec`: one `dup2` system call, which clears
    // close-on-exec on the new descriptor; no allocation, no lock.
    unsafe {
        command.pre_exec(move || {
            let fd = BorrowedFd::borrow_raw(write_fd);
            if write_fd == HARNESS_FD {
                return rustix::io::fcntl_setfd(fd, rustix::io::FdFlags::empty())
                    .map_err(std::io::Error::from);
            }
            // `dup2` closes whatever descriptor 3 was and puts the pipe there; the
            // `OwnedFd` only names it and is never dropped.
            let mut target = std::mem::ManuallyDrop::new(OwnedFd::from_raw_fd(HARNESS_FD));
            rustix::io::dup2(fd, &mut target).map_err(std::io::Error::from)
        });
    }
    let start = Instant::now();
    let mut child = crate::process::Tied::spawn(&mut command)
        .with_context(|| format!("cannot start {}", exe.display()))?;
    drop(harness_write);
    if let (Some(input), Some(mut stdin)) = (config.stdin.clone(), child.0.stdin.take()) {
        std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
    }
    let stdout = child
        .0
        .stdout
        .take()
        .map(|s| pump(s, config.stdout, || Box::new(std::io::stdout())));
    let stderr = child
        .0
        .stderr
        .take()
        .map(|s| pump(s, config.stderr, || Box::new(std::io::stderr())));
    // The harness pipe reaches end-of-file when the process exits: that is the exit notice
    // the wait below blocks on (no polling step in the wall time).
    let (eof_tx, eof_rx) = mpsc::channel();
    let harness = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = std::fs::File::from(harness_read).read_to_end(&mut bytes);
        let _ = eof_tx.send(());
        bytes
    });
    let timed_out = matches!(
        eof_rx.recv_timeout(config.timeout),
        Err(mpsc::RecvTimeoutError::Timeout)
    );
    if timed_out {
        let _ = child.0.kill();
    }
    let status = child.0.wait().context("waiting for the executable")?;
    let wall_time = start.elapsed();
    let harness = harness.join().unwrap_or_default();
    let stdout = stdout
        .map(|t| t.join().unwrap_or_default())
        .unwrap_or_default();
    let stderr = stderr
        .map(|t| t.join().unwrap_or_default())
        .unwrap_or_default();
    let records = parse_records(&harness);
    let outcome = if timed_out {
        Outcome::TimedOut(config.timeout)
    } else {
        classify_process(status, &records, &String::from_utf8_lossy(&stderr))
    };
    Ok(Run {
        outcome,
        stdout,
        stderr,
        records,
        wall_time,
    })
}
