//! Process handling: spawn QEMU with the image and the channels' sockets, tied to `hako` so
//! that it dies with it ([`crate::process`]), wait for its exit (learnt from its stderr
//! closing, not by polling) or kill it at the time limit, and collect the channels and the
//! outcome. The QEMU process is killed when the [`Child`] guard drops, so an error or a
//! panic in the runner never leaves a VM behind.

use super::channels::{sink_parts, socket_prefix, Channel};
use super::outcome::{classify, parse_records};
use super::{qemu_args_relayed, BootConfig, Outcome, Run};
use anyhow::{Context, Result};
use std::io::Read;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::process::Tied as Child;

/// Boot `image` and wait for it to finish (or kill it at the timeout).
pub fn boot(image: &Path, config: &BootConfig) -> Result<Run> {
    let qemu = crate::tools::QEMU.find()?;
    let prefix = socket_prefix();
    let sockets = ["stdout", "stderr", "harness"].map(|c| format!("{prefix}-{c}"));
    let (out_fwd, out_cap) = sink_parts(config.stdout, || Box::new(std::io::stdout()));
    let (err_fwd, err_cap) = sink_parts(config.stderr, || Box::new(std::io::stderr()));
    let (go_tx, go_rx) = std::sync::mpsc::channel();
    let input = config.stdin.clone().map(|i| (i, go_rx));
    let stdout = Channel::open(&sockets[0], out_fwd, out_cap, input, None)?;
    let stderr = Channel::open(&sockets[1], err_fwd, err_cap, None, None)?;
    let harness = Channel::open(&sockets[2], None, true, None, Some(go_tx))?;

    // Published TCP ports: `hako` listens and relays (see `forward`); the forwarder lives
    // until this boot ends.
    let (relay_ports, listeners) = match &config.net {
        Some(net) => super::forward::bind(&net.publish)?,
        None => (Vec::new(), Vec::new()),
    };
    let _forwarder = super::forward::Forwarder::start(listeners);

    let start = Instant::now();
    let mut child = Child::spawn(
        Command::new(&qemu)
            .args(qemu_args_relayed(image, config, &sockets, &relay_ports))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped()),
    )
    .with_context(|| format!("cannot start {}", qemu.display()))?;
    let mut qemu_stderr = child.0.stderr.take().expect("stderr is piped");
    // QEMU's stderr reaches end-of-file when QEMU exits: the reader's message is the exit
    // notice `wait` blocks on, so the wall time ends with QEMU, not with a polling step.
    let (eof_tx, eof_rx) = std::sync::mpsc::channel();
    let qemu_messages = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = qemu_stderr.read_to_string(&mut text);
        let _ = eof_tx.send(());
        text
    });

    let status = wait(&mut child, &eof_rx, config.timeout)?;
    let wall_time = start.elapsed();
    let stdout = stdout.finish()?;
    let stderr = stderr.finish()?;
    let harness = harness.finish()?;
    let qemu_messages = qemu_messages.join().unwrap_or_default();

    let records = parse_records(&harness);
    let outcome = match status {
        None => Outcome::TimedOut(config.timeout),
        Some(status) => classify(status, &records, &qemu_messages)?,
    };
    Ok(Run {
        outcome,
        stdout,
        stderr,
        records,
        wall_time,
    })
}

/// Wait for QEMU to exit or kill it at the timeout; `None` means timed out.
///
/// Blocks until QEMU's stderr closes (`stderr_eof`), which it does when it exits, then reaps
/// it; should QEMU close stderr and live on, polls for the exit until the deadline.
fn wait(
    child: &mut Child,
    stderr_eof: &std::sync::mpsc::Receiver<()>,
    timeout: Duration,
) -> Result<Option<ExitStatus>> {
    // A limit beyond what the clock can represent is no limit.
    let deadline = crate::limits::deadline(timeout);
    // `Disconnected` (the reader panicked) is treated like end-of-file: fall back to polling.
    let _ = stderr_eof.recv_timeout(timeout);
    let mut pause = Duration::from_micros(50);
    loop {
        if let Some(status) = child.0.try_wait().context("waiting for QEMU")? {
            return Ok(Some(status));
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            let _ = child.0.kill();
            let _ = child.0.wait();
            return Ok(None);
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(5));
    }
}
