//! Child processes that must not outlive `hako`: the QEMU of every boot.
//!
//! Two mechanisms, because no single one covers every way `hako` can end:
//!
//! - [`spawn_tied`] asks the kernel to send the child `SIGKILL` when its parent dies
//!   (`PR_SET_PDEATHSIG`), which covers `kill -9` and crashes, where no code of ours runs.
//!   Linux sends it when the *thread* that spawned the child ends; every boot waits for its
//!   QEMU on the thread that spawned it, so that thread outlives the child.
//! - [`end_children_on_signals`] handles SIGTERM, SIGINT and SIGHUP: it kills every child
//!   [`register`]ed and not yet [`unregister`]ed, then ends `hako` as the signal's default
//!   action would (so the parent sees "killed by SIGTERM", and a shell prints 143).
//!
//! The guest's channels are abstract Unix sockets (see [`crate::qemu`]), so nothing is left
//! on disk either way.
//!
//! Also here: [`exit_now`], how `hako` itself ends (without LLVM's C++ static destructors).

use anyhow::{Context, Result};
use rustix::process::{Pid, Signal};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::sync::Mutex;

/// The children to kill when a signal ends `hako`.
static LIVE: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// Spawn `command` so that it is killed when this process dies, however it dies.
pub fn spawn_tied(command: &mut Command) -> std::io::Result<Child> {
    let parent = std::process::id();
    // SAFETY: the closure runs in the forked child before `exec`, where only
    // async-signal-safe work is allowed: it makes two system calls (`prctl`, `getppid`)
    // through rustix, allocates nothing and takes no lock.
    unsafe {
        command.pre_exec(move || {
            rustix::process::set_parent_process_death_signal(Some(Signal::KILL))?;
            // The parent may have died between `fork` and `prctl`: then the child was
            // reparented already and no signal will come.
            if Pid::as_raw(rustix::process::getppid()) != parent as i32 {
                return Err(std::io::Error::other(
                    "the parent exited before the child started",
                ));
            }
            Ok(())
        });
    }
    command.spawn()
}

/// A running child (QEMU, or a Linux executable) spawned with [`spawn_tied`]: killed when
/// dropped unless it has already been waited for, and listed meanwhile, so that a signal
/// that ends `hako` ends it too. An error or a panic in the runner never leaves it behind.
pub struct Tied(pub Child);

impl Tied {
    pub fn spawn(command: &mut Command) -> std::io::Result<Tied> {
        let child = spawn_tied(command)?;
        register(child.id());
        Ok(Tied(child))
    }
}

impl Drop for Tied {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
        unregister(self.0.id());
    }
}

/// Remember `pid` as a child to kill if a signal ends `hako`.
pub fn register(pid: u32) {
    LIVE.lock().unwrap_or_else(|e| e.into_inner()).push(pid);
}

/// Forget `pid` (it has been reaped).
pub fn unregister(pid: u32) {
    LIVE.lock()
        .unwrap_or_else(|e| e.into_inner())
        .retain(|&p| p != pid);
}

/// On SIGTERM, SIGINT or SIGHUP, kill every registered child, then end `hako` by the signal.
/// Call once, early in `main`.
pub fn end_children_on_signals() -> Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT, SIGHUP])
        .context("cannot install the signal handlers")?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            if let Some(signal) = signals.forever().next() {
                kill_registered();
                // Ends the process as the signal would have without our handler.
                let _ = signal_hook::low_level::emulate_default_handler(signal);
                std::process::exit(128 + signal);
            }
        })
        .context("cannot start the signal thread")?;
    Ok(())
}

fn kill_registered() {
    let live = LIVE.lock().unwrap_or_else(|e| e.into_inner());
    for &pid in live.iter() {
        if let Some(pid) = Pid::from_raw(pid as i32) {
            let _ = rustix::process::kill_process(pid, Signal::KILL);
        }
    }
}

/// End `hako` with `status` now: flush our stdout, then `_exit`. That skips the destructors
/// that LLVM's static objects register with `atexit`, which only free memory the kernel
/// reclaims anyway and cost every `hako run` about 0.35 ms (`docs/perf`, 2026-12-07). Call it
/// last, when whatever must be dropped has been.
pub fn exit_now(status: u8) -> ! {
    use std::io::Write;
    let _ = std::io::stdout().flush();
    // SAFETY: `_exit` has no preconditions; it ends the process without running `atexit`
    // handlers or flushing C `stdio` buffers. hako writes through Rust's streams only: stdout
    // was flushed just above and stderr is unbuffered, so no output is lost.
    unsafe { libc::_exit(i32::from(status)) }
}

/// This process's file-mode creation mask, from `/proc/self/status` (reading it with
/// `umask(2)` would mean setting it, a race with threads that create files).
pub fn umask() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_umask(&status)
}

fn parse_umask(status: &str) -> Option<u32> {
    let line = status.lines().find_map(|l| l.strip_prefix("Umask:"))?;
    u32::from_str_radix(line.trim(), 8)
        .ok()
        .filter(|m| *m <= 0o777)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn umask_from_status() {
        assert_eq!(
            parse_umask("Name:\thako\nUmask:\t0027\nState:\tR\n"),
            Some(0o027)
        );
        assert_eq!(parse_umask("Name:\thako\n"), None);
        assert_eq!(parse_umask("Umask:\t9\n"), None);
        assert!(
            umask().is_some(),
            "Linux reports the umask in /proc/self/status"
        );
    }
}
