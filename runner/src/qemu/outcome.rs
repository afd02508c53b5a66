//! Outcome classification: what one boot produced ([`Run`]) and how the guest ended
//! ([`Outcome`]), read from QEMU's exit status and the harness records of COM3, never from
//! the program's output:
//!
//! | QEMU status | meaning |
//! |---|---|
//! | `qemu_status(EXIT_DONE)` | finished: the last `exit` or `trap` record is the outcome |
//! | `qemu_status(EXIT_PANIC)` | the kernel panicked or took an unexpected exception |
//! | 0 | the guest reset (with `-no-reboot`, a triple fault ends QEMU this way) |
//! | killed by us | timeout |

use anyhow::{bail, Result};
use hako_abi::boot;
use hako_abi::trap::TrapCode;
use std::process::ExitStatus;
use std::time::Duration;

/// How a guest ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The program exited with this WASI status (`proc_exit`, or 0 when `_start` returned).
    Exited(u32),
    /// The program trapped.
    Trapped {
        code: Option<TrapCode>,
        message: String,
    },
    /// The kernel could not instantiate or start the program.
    StartFailed(String),
    /// The kernel panicked or took an unexpected CPU exception.
    KernelPanic(String),
    /// The guest ended without an outcome: reset, triple fault, or an unexpected QEMU status.
    Crashed(String),
    /// Killed after this long.
    TimedOut(Duration),
}

impl Outcome {
    /// The exit status `hako run` reports for this outcome.
    pub fn exit_status(&self) -> i32 {
        match self {
            // Like a Unix process: only the low 8 bits of the status survive.
            Outcome::Exited(code) => (*code & 0xff) as i32,
            Outcome::Trapped { .. } => crate::TRAP_EXIT_STATUS,
            Outcome::TimedOut(_) => crate::TIMEOUT_EXIT_STATUS,
            Outcome::StartFailed(_) | Outcome::KernelPanic(_) | Outcome::Crashed(_) => {
                crate::CRASH_EXIT_STATUS
            }
        }
    }

    /// A one-line description for an error message, or `None` for a normal exit.
    pub fn describe(&self) -> Option<String> {
        match self {
            Outcome::Exited(_) => None,
            Outcome::Trapped { message, .. } => Some(format!("wasm trap: {message}")),
            Outcome::StartFailed(msg) => {
                Some(format!("the kernel could not start the program: {msg}"))
            }
            Outcome::KernelPanic(msg) => Some(format!("kernel panic: {msg}")),
            Outcome::Crashed(msg) => Some(format!("guest crashed: {msg}")),
            Outcome::TimedOut(d) => Some(format!(
                "guest timed out after {:.1} s and was killed",
                d.as_secs_f64()
            )),
        }
    }
}

/// One harness record: a keyword and the rest of the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub kind: String,
    pub rest: String,
}

/// The result of one boot.
#[derive(Debug, Clone)]
pub struct Run {
    pub outcome: Outcome,
    /// The guest's stdout, when captured.
    pub stdout: Vec<u8>,
    /// The guest's stderr, when captured.
    pub stderr: Vec<u8>,
    /// Every harness record, in order.
    pub records: Vec<Record>,
    /// Wall time from spawning QEMU to its exit.
    pub wall_time: Duration,
}

impl Run {
    /// The harness channel's lines, in order, without their newlines.
    pub fn harness_lines(&self) -> Vec<String> {
        self.records
            .iter()
            .map(|r| {
                if r.rest.is_empty() {
                    r.kind.clone()
                } else {
                    format!("{} {}", r.kind, r.rest)
                }
            })
            .collect()
    }

    /// Imports the program called that the kernel does not implement (`enosys` records).
    pub fn unsupported_calls(&self) -> impl Iterator<Item = &str> {
        self.records
            .iter()
            .filter(|r| r.kind == boot::record::ENOSYS)
            .map(|r| r.rest.as_str())
    }
}
/// The harness channel's lines as records.
pub(crate) fn parse_records(harness: &[u8]) -> Vec<Record> {
    String::from_utf8_lossy(harness)
        .lines()
        .filter(|l| !l.is_empty())
        .map(|line| {
            let (kind, rest) = line.split_once(' ').unwrap_or((line, ""));
            Record {
                kind: kind.to_string(),
                rest: rest.to_string(),
            }
        })
        .collect()
}

/// The outcome the last `exit`, `trap` or `error` record says, if any.
fn ending(records: &[Record]) -> Option<Outcome> {
    use hako_abi::boot::record;
    let r = records
        .iter()
        .rev()
        .find(|r| [record::EXIT, record::TRAP, record::ERROR].contains(&r.kind.as_str()))?;
    Some(match r.kind.as_str() {
        record::EXIT => match r.rest.trim().parse() {
            Ok(code) => Outcome::Exited(code),
            Err(_) => Outcome::Crashed(format!("malformed exit record `{}`", r.rest)),
        },
        record::TRAP => {
            let (num, message) = r.rest.split_once(' ').unwrap_or((&r.rest, ""));
            let code = num.parse().ok().and_then(TrapCode::from_u32);
            let message = code.map_or(message.to_string(), |c| c.message().to_string());
            Outcome::Trapped { code, message }
        }
        _ => Outcome::StartFailed(r.rest.clone()),
    })
}

/// How a Linux executable ended, from its exit status and records: a `panic` record (the
/// runtime failed) first, then the last `exit`/`trap`/`error` record; a process that died
/// by a signal, or ended without an outcome, crashed (`messages`: what it wrote on stderr,
/// when captured).
pub(crate) fn classify_process(status: ExitStatus, records: &[Record], messages: &str) -> Outcome {
    use std::os::unix::process::ExitStatusExt;
    if let Some(r) = records.iter().rev().find(|r| r.kind == boot::record::PANIC) {
        return Outcome::KernelPanic(r.rest.clone());
    }
    if let Some(outcome) = ending(records) {
        return outcome;
    }
    let messages = messages.trim();
    match (status.code(), status.signal()) {
        (_, Some(signal)) => Outcome::Crashed(format!("the process was killed by signal {signal}")),
        (Some(code), _) => Outcome::Crashed(format!(
            "the process exited with status {code} without reporting an outcome{}{messages}",
            if messages.is_empty() { "" } else { ": " }
        )),
        (None, None) => Outcome::Crashed("the process ended without a status".into()),
    }
}

/// How the guest ended, from QEMU's exit status, the records and what QEMU printed; an error
/// when QEMU itself refused to start.
pub(super) fn classify(
    status: ExitStatus,
    records: &[Record],
    qemu_messages: &str,
) -> Result<Outcome> {
    use hako_abi::boot::record;
    let last = |kinds: &[&str]| {
        records
            .iter()
            .rev()
            .find(|r| kinds.contains(&r.kind.as_str()))
    };
    let code = status.code();
    if code == Some(boot::qemu_status(boot::EXIT_DONE)) {
        return Ok(ending(records).unwrap_or_else(|| {
            Outcome::Crashed("the kernel finished without reporting an outcome".into())
        }));
    }
    if code == Some(boot::qemu_status(boot::EXIT_PANIC)) {
        let message = last(&[record::PANIC]).map_or("(no message)".to_string(), |r| r.rest.clone());
        return Ok(Outcome::KernelPanic(message));
    }
    let qemu_messages = qemu_messages.trim();
    match code {
        Some(0) => Ok(Outcome::Crashed("the guest reset (a triple fault?)".into())),
        // QEMU refuses to start with status 1 and a message: that is our error, not the guest's.
        Some(1) if !qemu_messages.is_empty() && records.is_empty() => {
            bail!("QEMU failed: {qemu_messages}")
        }
        Some(c) => Ok(Outcome::Crashed(format!(
            "QEMU exited with status {c}: {qemu_messages}"
        ))),
        None => Ok(Outcome::Crashed(format!(
            "QEMU was killed by a signal: {qemu_messages}"
        ))),
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_parse() {
        let r = parse_records(b"enosys wasi_snapshot_preview1 fd_pread\nexit 3\n");
        assert_eq!(
            r[1],
            Record {
                kind: "exit".into(),
                rest: "3".into()
            }
        );
    }

    #[cfg(unix)]
    fn status(code: i32) -> ExitStatus {
        use std::os::unix::process::ExitStatusExt;
        ExitStatus::from_raw(code << 8)
    }

    #[test]
    fn classification() {
        let done = boot::qemu_status(boot::EXIT_DONE);
        let exit = parse_records(b"exit 7\n");
        assert_eq!(
            classify(status(done), &exit, "").unwrap(),
            Outcome::Exited(7)
        );
        let trap = parse_records(b"trap 1 integer divide by zero\n");
        assert_eq!(
            classify(status(done), &trap, "").unwrap(),
            Outcome::Trapped {
                code: Some(TrapCode::IntegerDivideByZero),
                message: "integer divide by zero".into()
            }
        );
        assert!(matches!(
            classify(status(done), &[], "").unwrap(),
            Outcome::Crashed(_)
        ));
        let panic = parse_records(b"panic page fault at 0x10\n");
        assert_eq!(
            classify(status(boot::qemu_status(boot::EXIT_PANIC)), &panic, "").unwrap(),
            Outcome::KernelPanic("page fault at 0x10".into())
        );
        assert!(matches!(
            classify(status(0), &[], "").unwrap(),
            Outcome::Crashed(_)
        ));
        assert!(classify(status(1), &[], "qemu: bad option").is_err());
    }
}
