//! `wasi_snapshot_preview1`: the logic, in safe code, independent of the hardware.
//!
//! The `extern "C"` symbols compiled code calls live in `hw::wasi`; each turns its raw
//! arguments into a [`crate::guest::GuestMemory`] and calls the method of [`WasiCtx`] of the same name.
//! The machine is reached through [`Host`] and the preopened directories through
//! [`vfs::Backend`] (virtio-9p in the kernel), both faked by the unit tests.
//!
//! Results follow Wasmtime's `wasi-common` (the reference the runner compares against):
//! the same errno values, the same descriptor numbering (never reused), the same cap-std
//! sandbox rules (see [`resolve`]).
//!
//! This file holds the context ([`WasiCtx`]: arguments, environment, the descriptor table
//! and the preopened file systems), what WASI needs from the machine ([`Host`]) and the
//! descriptor lookups every function shares. The functions are grouped by concern, each an
//! `impl WasiCtx` block of its own: `fd` (`fd_*`), `path` (`path_*`), `poll`
//! (`poll_oneoff`), `proc` (arguments, environment, `proc_*`, clocks, `random_get`,
//! `sched_yield`) and `sock` (`sock_*`), with the helpers `iovec` (I/O vectors in guest
//! memory) and `filestat` (file attributes and types). The WASI constants (errno values,
//! rights, flags) are [`hako_abi::wasi`]'s.

mod fd;
pub mod fdtable;
mod filestat;
mod iovec;
pub mod net;
mod path;
mod poll;
mod proc;
pub mod resolve;
mod sock;
pub mod vfs;

use crate::guest::Errno;
use alloc::boxed::Box;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;
use fdtable::FdTable;
use hako_abi::wasi::{clockid, errno, FUNCTIONS};
use rand_chacha::ChaCha20Rng;
use vfs::{Backend, Fid};

/// Output streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// Clocks (`clockid`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    Realtime,
    Monotonic,
    ProcessCpu,
    ThreadCpu,
}

impl Clock {
    fn from_id(id: u32) -> Option<Clock> {
        Some(match id {
            clockid::REALTIME => Clock::Realtime,
            clockid::MONOTONIC => Clock::Monotonic,
            clockid::PROCESS_CPUTIME_ID => Clock::ProcessCpu,
            clockid::THREAD_CPUTIME_ID => Clock::ThreadCpu,
            _ => return None,
        })
    }
}

/// What WASI needs from the machine.
pub trait Host {
    /// Write program output.
    fn write(&mut self, stream: Stream, bytes: &[u8]);
    /// Read program input (stdin) into `buf`, waiting for at least one byte; 0 is the end.
    fn read_stdin(&mut self, buf: &mut [u8]) -> usize;
    /// Bytes of stdin not read yet (0 at the end).
    fn stdin_pending(&mut self) -> u64;
    /// Write one harness record (without the newline).
    fn record(&mut self, line: fmt::Arguments<'_>);
    /// Nanoseconds on `clock`.
    fn now_ns(&mut self, clock: Clock) -> u64;
    /// Wait until the monotonic clock reads `deadline` (nanoseconds). By default this
    /// spins on [`Host::now_ns`] (the kernel has nothing else to run); a host with a
    /// scheduler sleeps.
    fn sleep_until(&mut self, deadline: u64) {
        while self.now_ns(Clock::Monotonic) < deadline {
            core::hint::spin_loop();
        }
    }
    /// Resolution of `clock` in nanoseconds.
    fn resolution_ns(&mut self, clock: Clock) -> u64;
    /// 32 bytes of hardware entropy (RDSEED/RDRAND) to seed the generator.
    fn entropy(&mut self) -> [u8; 32];
    /// End the program with this exit status (after the `exit` record).
    fn exit(&mut self, status: u32) -> !;
    /// End the program with an error that is not an exit (Wasmtime reports a trap).
    fn fail(&mut self, message: &str) -> !;
}

/// An open regular file (or other non-directory) on a preopen.
#[derive(Debug)]
struct FileFd {
    fs: usize,
    fid: Fid,
    /// Access the guest asked for (Wasmtime's `FileAccessMode`).
    read: bool,
    write: bool,
    /// The server-side file is open for writing (`O_CREAT` opens for writing too).
    os_write: bool,
    append: bool,
    nonblock: bool,
    pos: u64,
    filetype: u8,
}

#[derive(Debug)]
struct DirFd {
    fs: usize,
    /// An unopened fid of the directory: paths are walked from it.
    fid: Fid,
    preopen: Option<Vec<u8>>,
}

#[derive(Debug)]
enum Entry {
    Stdin,
    Stdout,
    Stderr,
    File(FileFd),
    Dir(DirFd),
    Socket(sock::SockFd),
}

/// The WASI state of the program.
pub struct WasiCtx {
    args: Vec<Vec<u8>>,
    env: Vec<Vec<u8>>,
    enosys_seen: [bool; FUNCTIONS.len()],
    rng: Option<ChaCha20Rng>,
    fds: FdTable<Entry>,
    next_fd: u32,
    fs: Vec<Box<dyn Backend>>,
    /// The network, if the program was given one (`hako run --net`).
    net: Option<Box<dyn net::Network + 'static>>,
    /// Bytes of small sends on stream socket `fd` not handed to the network yet
    /// ([`WasiCtx::flush_sends`]).
    unsent: Option<(u32, Vec<u8>)>,
    /// An empty buffer for the next [`WasiCtx::unsent`], so that holding a response costs
    /// no allocation.
    spare: Vec<u8>,
    /// `poll_oneoff`'s buffers.
    poll_scratch: poll::PollScratch,
    /// The file-mode creation mask applied to files and directories the program creates.
    umask: u32,
}

impl fmt::Debug for WasiCtx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WasiCtx")
            .field("fds", &self.fds)
            .field("next_fd", &self.next_fd)
            .finish_non_exhaustive()
    }
}

/// What a WASI function returns: success, or the errno it fails with.
pub type WasiResult = Result<(), Errno>;

impl WasiCtx {
    pub fn new(args: Vec<Vec<u8>>, env: Vec<Vec<u8>>) -> Self {
        let fds = FdTable::from_sorted(vec![
            (0, Entry::Stdin),
            (1, Entry::Stdout),
            (2, Entry::Stderr),
        ]);
        WasiCtx {
            args,
            env,
            enosys_seen: [false; FUNCTIONS.len()],
            rng: None,
            fds,
            next_fd: 3,
            umask: hako_abi::boot::DEFAULT_UMASK,
            fs: Vec::new(),
            net: None,
            unsent: None,
            spare: Vec::new(),
            poll_scratch: poll::PollScratch::default(),
        }
    }

    /// Give the program a network: the socket functions use `net`. Without one they
    /// answer `NOTCAPABLE` (the sandbox default).
    pub fn set_network(&mut self, net: Box<dyn net::Network>) {
        self.net = Some(net);
    }

    /// Set the file-mode creation mask (default [`hako_abi::boot::DEFAULT_UMASK`]): files the
    /// program creates get `0o666 & !umask`, directories `0o777 & !umask`.
    pub fn set_umask(&mut self, umask: u32) {
        self.umask = umask & 0o777;
    }

    /// Preopen the root of `fs` as the next descriptor, named `name` for
    /// `fd_prestat_dir_name`.
    pub fn add_preopen(&mut self, name: Vec<u8>, fs: Box<dyn Backend>) -> u32 {
        let root = fs.root();
        self.fs.push(fs);
        self.push(Entry::Dir(DirFd {
            fs: self.fs.len() - 1,
            fid: root,
            preopen: Some(name),
        }))
    }

    fn push(&mut self, e: Entry) -> u32 {
        while self.fds.contains(self.next_fd) {
            self.next_fd += 1;
        }
        let fd = self.next_fd;
        self.next_fd += 1;
        self.fds.insert(fd, e);
        fd
    }

    fn release(&mut self, e: Entry) {
        match e {
            Entry::File(f) => self.fs[f.fs].clunk(f.fid),
            Entry::Dir(d) => self.fs[d.fs].clunk(d.fid),
            Entry::Socket(s) => {
                if let Some(net) = self.net.as_deref_mut() {
                    net.close(s.id);
                }
            }
            _ => {}
        }
    }

    /// Record `enosys wasi_snapshot_preview1 <name>` the first time `name` is called and
    /// return `ENOSYS`.
    pub fn enosys(&mut self, host: &mut impl Host, name: &str) -> Errno {
        if let Some(i) = FUNCTIONS.iter().position(|f| f.name == name) {
            if !self.enosys_seen[i] {
                self.enosys_seen[i] = true;
                host.record(format_args!("enosys {} {}", hako_abi::wasi::MODULE, name));
            }
        }
        errno::NOSYS
    }

    // ----- descriptors ---------------------------------------------------------------

    fn entry(&self, fd: u32) -> Result<&Entry, Errno> {
        self.fds.get(fd).ok_or(errno::BADF)
    }

    /// A descriptor that is not a directory (Wasmtime's `get_file`).
    fn is_file(&self, fd: u32) -> WasiResult {
        match self.entry(fd)? {
            Entry::Dir(_) => Err(errno::BADF),
            _ => Ok(()),
        }
    }

    fn file_mut(&mut self, fd: u32) -> Result<&mut FileFd, Errno> {
        match self.fds.get_mut(fd) {
            Some(Entry::File(f)) => Ok(f),
            _ => Err(errno::BADF),
        }
    }

    fn dir(&self, fd: u32) -> Result<(usize, Fid), Errno> {
        match self.fds.get(fd) {
            Some(Entry::Dir(d)) => Ok((d.fs, d.fid)),
            _ => Err(errno::BADF),
        }
    }
}

/// The errno a WASI function returns for a result.
pub fn ret(r: WasiResult) -> i32 {
    match r {
        Ok(()) => 0,
        Err(e) => e as i32,
    }
}

#[cfg(test)]
mod memfs;
#[cfg(test)]
mod tests;
