//! The process as WASI sees it ([`LinuxHost`]): stdout and stderr are the process's own,
//! written through at once (nothing is buffered, so a trap loses no output); stdin is the
//! process's own; the clocks are `clock_gettime`'s; entropy comes from `getrandom`; waiting
//! sleeps.

use hako_kernel::wasi::{Clock, Host, Stream};
use rustix::time::{ClockId, Timespec};
use std::fmt;
use std::io::{Read, Write};

/// The process as WASI sees it.
#[derive(Debug, Default)]
pub struct LinuxHost;

fn clock(c: Clock) -> ClockId {
    match c {
        Clock::Realtime => ClockId::Realtime,
        Clock::Monotonic => ClockId::Monotonic,
        Clock::ProcessCpu => ClockId::ProcessCPUTime,
        Clock::ThreadCpu => ClockId::ThreadCPUTime,
    }
}

fn nanos(t: Timespec) -> u64 {
    (t.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(t.tv_nsec as u64)
}

/// Nanoseconds on the monotonic clock.
pub fn monotonic_ns() -> u64 {
    nanos(rustix::time::clock_gettime(ClockId::Monotonic))
}

impl Host for LinuxHost {
    fn write(&mut self, stream: Stream, bytes: &[u8]) {
        // Unbuffered handles: the bytes reach the descriptor before this returns. A closed
        // or full stream loses them (SIGPIPE is ignored), as a write error would.
        let _ = match stream {
            Stream::Stdout => std::io::stdout().lock().write_all(bytes),
            Stream::Stderr => std::io::stderr().lock().write_all(bytes),
        };
        if stream == Stream::Stdout {
            let _ = std::io::stdout().flush();
        }
    }
    fn read_stdin(&mut self, buf: &mut [u8]) -> usize {
        loop {
            match std::io::stdin().lock().read(buf) {
                Ok(n) => return n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => return 0,
            }
        }
    }
    fn stdin_pending(&mut self) -> u64 {
        rustix::io::ioctl_fionread(rustix::stdio::stdin()).unwrap_or(0)
    }
    fn record(&mut self, line: fmt::Arguments<'_>) {
        crate::harness::record(line);
    }
    fn now_ns(&mut self, c: Clock) -> u64 {
        nanos(rustix::time::clock_gettime(clock(c)))
    }
    fn resolution_ns(&mut self, c: Clock) -> u64 {
        nanos(rustix::time::clock_getres(clock(c))).max(1)
    }
    fn sleep_until(&mut self, deadline: u64) {
        let t = Timespec {
            tv_sec: (deadline / 1_000_000_000) as i64,
            tv_nsec: (deadline % 1_000_000_000) as i64,
        };
        while monotonic_ns() < deadline {
            let _ =
                rustix::thread::clock_nanosleep_absolute(rustix::thread::ClockId::Monotonic, &t);
        }
    }
    fn entropy(&mut self) -> [u8; 32] {
        let mut seed = [0u8; 32];
        let mut filled = 0;
        while filled < seed.len() {
            match rustix::rand::getrandom(
                &mut seed[filled..],
                rustix::rand::GetRandomFlags::empty(),
            ) {
                Ok(n) => filled += n,
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => crate::fatal(format_args!("getrandom failed: {e}")),
            }
        }
        seed
    }
    fn exit(&mut self, status: u32) -> ! {
        let _ = std::io::stdout().flush();
        std::process::exit((status & 0xff) as i32)
    }
    fn fail(&mut self, message: &str) -> ! {
        crate::harness::record(format_args!("trap 0 {message}"));
        std::process::exit(crate::harness::TRAP_STATUS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clocks_and_sleep() {
        let mut h = LinuxHost;
        let a = h.now_ns(Clock::Monotonic);
        h.sleep_until(a + 2_000_000);
        assert!(h.now_ns(Clock::Monotonic) >= a + 2_000_000);
        assert!(h.now_ns(Clock::Realtime) > 1_600_000_000 * 1_000_000_000);
        assert!(h.resolution_ns(Clock::ProcessCpu) >= 1);
        assert_ne!(h.entropy(), h.entropy());
    }
}
