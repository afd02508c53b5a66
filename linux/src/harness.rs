//! The harness channel on Linux, and how the process ends.
//!
//! The runtime reports what happened as the kernel does, with the record lines of
//! [`hako_abi::boot::record`] (`exit`, `trap`, `error`, `panic`, `enosys`, `bench`, ...).
//! Under `hako run --target linux` (and the suites) they go to the file descriptor the
//! runner passed (`--hako-harness FD`), and the runner reads them exactly as it reads the
//! kernel's. A standalone executable has no harness: the records that end the program are
//! turned into what a user expects on stderr (`error: wasm trap: ...`), and the others are
//! dropped. Either way the process exits with the status `hako run` would: the program's
//! exit status, 134 after a trap, 70 when the program could not start or the runtime
//! failed.

use crate::traps::Fault;
use core::fmt::{self, Write as _};
use core::sync::atomic::{AtomicI32, Ordering};
use hako_abi::boot::record;

/// The harness file descriptor, or -1 (standalone).
static FD: AtomicI32 = AtomicI32::new(-1);
/// The exit status the records so far decide.
static STATUS: AtomicI32 = AtomicI32::new(RUNTIME_FAILURE);

/// The exit status after a trap (as `hako run`'s, and a process killed by SIGABRT's).
pub const TRAP_STATUS: i32 = 134;
/// The exit status when the program could not start or the runtime failed (`EX_SOFTWARE`).
pub const RUNTIME_FAILURE: i32 = 70;

/// Send records to `fd` from now on.
pub fn set_fd(fd: i32) {
    FD.store(fd, Ordering::Relaxed);
}

/// The exit status the records so far decide.
pub fn status() -> i32 {
    STATUS.load(Ordering::Relaxed)
}

fn write_all(fd: i32, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        // SAFETY: writes from a valid slice; a bad descriptor is an error, not undefined
        // behaviour. Async-signal-safe.
        let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        if n > 0 {
            bytes = &bytes[n as usize..];
        } else if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted
        {
            continue;
        } else {
            return;
        }
    }
}

/// Handle one record line (without its newline).
pub fn line(line: &str) {
    let fd = FD.load(Ordering::Relaxed);
    if fd >= 0 {
        let mut buf = Vec::with_capacity(line.len() + 1);
        buf.extend_from_slice(line.as_bytes());
        buf.push(b'\n');
        write_all(fd, &buf);
    }
    let (kind, rest) = line.split_once(' ').unwrap_or((line, ""));
    let message = match kind {
        record::EXIT => {
            // Only the low 8 bits of a status survive, as for any process.
            let status = rest
                .trim()
                .parse::<u32>()
                .map_or(RUNTIME_FAILURE, |s| (s & 0xff) as i32);
            STATUS.store(status, Ordering::Relaxed);
            None
        }
        record::TRAP => {
            STATUS.store(TRAP_STATUS, Ordering::Relaxed);
            let message = rest.split_once(' ').map_or(rest, |(_, m)| m);
            Some(format!("wasm trap: {message}"))
        }
        record::ERROR => {
            STATUS.store(RUNTIME_FAILURE, Ordering::Relaxed);
            Some(format!("cannot start the program: {rest}"))
        }
        record::PANIC => {
            STATUS.store(RUNTIME_FAILURE, Ordering::Relaxed);
            Some(format!("hako runtime failure: {rest}"))
        }
        _ => None,
    };
    if let (Some(message), true) = (message, fd < 0) {
        write_all(2, format!("error: {message}\n").as_bytes());
    }
}

/// Write one record.
pub fn record(args: fmt::Arguments<'_>) {
    line(&args.to_string());
}

/// A `fmt::Write` that hands each completed line to [`line`] (the store's and runtime's
/// view of the channel, `Machine::harness`).
#[derive(Debug, Default)]
pub struct Lines(String);

impl fmt::Write for Lines {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.push_str(s);
        while let Some(end) = self.0.find('\n') {
            let rest = self.0.split_off(end + 1);
            let done = core::mem::replace(&mut self.0, rest);
            line(done.trim_end_matches('\n'));
        }
        Ok(())
    }
}

/// A fixed buffer for formatting without allocating (in the signal handler).
struct Buf {
    bytes: [u8; 256],
    len: usize,
}

impl fmt::Write for Buf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let n = s.len().min(self.bytes.len() - self.len);
        self.bytes[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

/// A fault that is not a Wasm trap: report it and end the process with status 70, from the
/// signal handler (no allocation, no locks).
pub fn fault_exit(fault: &Fault) -> ! {
    let name = match fault.signal {
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGILL => "SIGILL",
        _ => "signal",
    };
    let mut b = Buf {
        bytes: [0; 256],
        len: 0,
    };
    let fd = FD.load(Ordering::Relaxed);
    let _ = if fd >= 0 {
        write!(b, "{} ", record::PANIC)
    } else {
        write!(b, "error: hako runtime failure: ")
    };
    let _ = writeln!(
        b,
        "{name} at address {:#x}, instruction {:#x}, outside compiled Wasm code or its memories",
        fault.addr, fault.pc
    );
    write_all(if fd >= 0 { fd } else { 2 }, &b.bytes[..b.len]);
    // SAFETY: ends the process at once, without running anything of this broken state.
    unsafe { libc::_exit(RUNTIME_FAILURE) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_decide_the_status() {
        line("exit 3");
        assert_eq!(status(), 3);
        line("exit 256");
        assert_eq!(status(), 0);
        line("enosys wasi_snapshot_preview1 sock_open");
        assert_eq!(status(), 0);
        line("trap 1 integer divide by zero");
        assert_eq!(status(), TRAP_STATUS);
        line("error the program has no _start export");
        assert_eq!(status(), RUNTIME_FAILURE);
        let mut lines = Lines::default();
        write!(lines, "exit").unwrap();
        assert_eq!(status(), RUNTIME_FAILURE);
        writeln!(lines, " 9").unwrap();
        assert_eq!(status(), 9);
    }
}
