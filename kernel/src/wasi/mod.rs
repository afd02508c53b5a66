//! `wasi_snapshot_preview1`: the logic, in safe code, independent of the hardware.
//!
//! The `extern "C"` symbols compiled code calls live in `hw::wasm`; each turns its raw
//! arguments into a [`GuestMemory`] and calls the method of [`WasiCtx`] of the same name.
//! The hardware is reached through [`Host`], which the unit tests fake.

use crate::guest::{Errno, GuestMemory};
use alloc::vec::Vec;
use core::fmt;
use hako_abi::wasi::FUNCTIONS;
use rand_chacha::rand_core::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

/// The errno values of `wasi_snapshot_preview1`.
pub mod errno {
    pub use hako_abi::wasi::errno::*;
    pub const SPIPE: u16 = 70;
    pub const NOTSUP: u16 = 58;
}

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
            0 => Clock::Realtime,
            1 => Clock::Monotonic,
            2 => Clock::ProcessCpu,
            3 => Clock::ThreadCpu,
            _ => return None,
        })
    }
}

/// What WASI needs from the machine.
pub trait Host {
    /// Write program output.
    fn write(&mut self, stream: Stream, bytes: &[u8]);
    /// Write one harness record (without the newline).
    fn record(&mut self, line: fmt::Arguments<'_>);
    /// Nanoseconds on `clock`.
    fn now_ns(&mut self, clock: Clock) -> u64;
    /// Resolution of `clock` in nanoseconds.
    fn resolution_ns(&mut self, clock: Clock) -> u64;
    /// 32 bytes of hardware entropy (RDSEED/RDRAND) to seed the generator.
    fn entropy(&mut self) -> [u8; 32];
    /// End the program with this exit status (after the `exit` record).
    fn exit(&mut self, status: u32) -> !;
}

/// File types and rights (`filetype`, `rights`).
pub mod consts {
    pub const FILETYPE_CHARACTER_DEVICE: u8 = 2;
    pub const RIGHT_FD_READ: u64 = 1 << 1;
    pub const RIGHT_FD_WRITE: u64 = 1 << 6;
    pub const RIGHT_POLL_FD_READWRITE: u64 = 1 << 27;
    pub const FDFLAGS_APPEND: u16 = 1;
}

/// The WASI state of the program.
#[derive(Debug)]
pub struct WasiCtx {
    args: Vec<Vec<u8>>,
    env: Vec<Vec<u8>>,
    /// stdin, stdout, stderr still open.
    open: [bool; 3],
    enosys_seen: [bool; FUNCTIONS.len()],
    rng: Option<ChaCha20Rng>,
}

type R = Result<(), Errno>;

impl WasiCtx {
    pub fn new(args: Vec<Vec<u8>>, env: Vec<Vec<u8>>) -> Self {
        WasiCtx {
            args,
            env,
            open: [true; 3],
            enosys_seen: [false; FUNCTIONS.len()],
            rng: None,
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

    fn sizes(list: &[Vec<u8>]) -> (u32, u32) {
        (
            list.len() as u32,
            list.iter().map(|a| a.len() as u32 + 1).sum(),
        )
    }

    fn put_list(list: &[Vec<u8>], mem: &mut GuestMemory, ptrs: u32, buf: u32) -> R {
        let mut at = buf;
        for (i, item) in list.iter().enumerate() {
            mem.write_elem::<u32>(ptrs, i as u32, at)?;
            let n = item.len() as u32;
            let dst = mem.bytes_mut(at, n + 1)?;
            dst[..item.len()].copy_from_slice(item);
            dst[item.len()] = 0;
            at = at.checked_add(n + 1).ok_or(errno::FAULT)?;
        }
        Ok(())
    }

    pub fn args_sizes_get(&mut self, mem: &mut GuestMemory, argc: u32, buf_size: u32) -> R {
        let (n, size) = Self::sizes(&self.args);
        mem.write(argc, n)?;
        mem.write(buf_size, size)
    }

    pub fn args_get(&mut self, mem: &mut GuestMemory, argv: u32, buf: u32) -> R {
        Self::put_list(&self.args, mem, argv, buf)
    }

    pub fn environ_sizes_get(&mut self, mem: &mut GuestMemory, count: u32, buf_size: u32) -> R {
        let (n, size) = Self::sizes(&self.env);
        mem.write(count, n)?;
        mem.write(buf_size, size)
    }

    pub fn environ_get(&mut self, mem: &mut GuestMemory, environ: u32, buf: u32) -> R {
        Self::put_list(&self.env, mem, environ, buf)
    }

    fn is_open(&self, fd: u32) -> bool {
        fd < 3 && self.open[fd as usize]
    }

    pub fn fd_write(
        &mut self,
        host: &mut impl Host,
        mem: &mut GuestMemory,
        fd: u32,
        iovs: u32,
        iovs_len: u32,
        nwritten: u32,
    ) -> R {
        let stream = match fd {
            1 if self.is_open(1) => Stream::Stdout,
            2 if self.is_open(2) => Stream::Stderr,
            _ => return Err(errno::BADF),
        };
        // Check every iovec first so a bad one writes nothing.
        let mut total: u32 = 0;
        for i in 0..iovs_len {
            let ptr = mem.read_elem::<u32>(iovs, 2 * i)?;
            let len = mem.read_elem::<u32>(iovs, 2 * i + 1)?;
            mem.bytes(ptr, len)?;
            total = total.checked_add(len).ok_or(errno::INVAL)?;
        }
        for i in 0..iovs_len {
            let ptr = mem.read_elem::<u32>(iovs, 2 * i)?;
            let len = mem.read_elem::<u32>(iovs, 2 * i + 1)?;
            host.write(stream, mem.bytes(ptr, len)?);
        }
        mem.write(nwritten, total)
    }

    /// stdin is always at end of file.
    pub fn fd_read(
        &mut self,
        mem: &mut GuestMemory,
        fd: u32,
        iovs: u32,
        iovs_len: u32,
        nread: u32,
    ) -> R {
        if fd != 0 || !self.is_open(0) {
            return Err(errno::BADF);
        }
        for i in 0..iovs_len {
            let ptr = mem.read_elem::<u32>(iovs, 2 * i)?;
            let len = mem.read_elem::<u32>(iovs, 2 * i + 1)?;
            mem.bytes(ptr, len)?;
        }
        mem.write(nread, 0u32)
    }

    pub fn fd_fdstat_get(&mut self, mem: &mut GuestMemory, fd: u32, buf: u32) -> R {
        use consts::*;
        if !self.is_open(fd) {
            return Err(errno::BADF);
        }
        let (flags, rights) = match fd {
            0 => (0, RIGHT_FD_READ | RIGHT_POLL_FD_READWRITE),
            _ => (0, RIGHT_FD_WRITE | RIGHT_POLL_FD_READWRITE),
        };
        mem.bytes_mut(buf, 24)?.fill(0);
        mem.write(buf, FILETYPE_CHARACTER_DEVICE)?;
        mem.write::<u16>(buf + 2, flags)?;
        mem.write(buf + 8, rights)?;
        mem.write(buf + 16, 0u64)
    }

    /// No preopened directories: every descriptor is `EBADF`, which ends wasi-libc's scan.
    pub fn fd_prestat_get(&mut self, _mem: &mut GuestMemory, _fd: u32, _buf: u32) -> R {
        Err(errno::BADF)
    }

    pub fn fd_prestat_dir_name(
        &mut self,
        _mem: &mut GuestMemory,
        _fd: u32,
        _path: u32,
        _len: u32,
    ) -> R {
        Err(errno::BADF)
    }

    pub fn fd_close(&mut self, fd: u32) -> R {
        if !self.is_open(fd) {
            return Err(errno::BADF);
        }
        self.open[fd as usize] = false;
        Ok(())
    }

    /// stdio is a character device: seeking is `ESPIPE`, like Wasmtime.
    pub fn fd_seek(
        &mut self,
        _mem: &mut GuestMemory,
        fd: u32,
        _offset: i64,
        whence: u32,
        _newoffset: u32,
    ) -> R {
        if !self.is_open(fd) {
            return Err(errno::BADF);
        }
        if whence > 2 {
            return Err(errno::INVAL);
        }
        Err(errno::SPIPE)
    }

    pub fn fd_tell(&mut self, _mem: &mut GuestMemory, fd: u32, _offset: u32) -> R {
        if !self.is_open(fd) {
            return Err(errno::BADF);
        }
        Err(errno::SPIPE)
    }

    pub fn proc_exit(&mut self, host: &mut impl Host, status: u32) -> ! {
        host.record(format_args!("exit {status}"));
        host.exit(status)
    }

    pub fn clock_res_get(
        &mut self,
        host: &mut impl Host,
        mem: &mut GuestMemory,
        id: u32,
        out: u32,
    ) -> R {
        let clock = Clock::from_id(id).ok_or(errno::INVAL)?;
        let res = host.resolution_ns(clock);
        mem.write(out, res)
    }

    pub fn clock_time_get(
        &mut self,
        host: &mut impl Host,
        mem: &mut GuestMemory,
        id: u32,
        _precision: u64,
        out: u32,
    ) -> R {
        let clock = Clock::from_id(id).ok_or(errno::INVAL)?;
        let now = host.now_ns(clock);
        mem.write(out, now)
    }

    pub fn random_get(
        &mut self,
        host: &mut impl Host,
        mem: &mut GuestMemory,
        buf: u32,
        len: u32,
    ) -> R {
        let dst = mem.bytes_mut(buf, len)?;
        let rng = self
            .rng
            .get_or_insert_with(|| ChaCha20Rng::from_seed(host.entropy()));
        rng.fill_bytes(dst);
        Ok(())
    }

    pub fn sched_yield(&mut self) -> R {
        Ok(())
    }
}

/// The errno a WASI function returns for a result.
pub fn ret(r: R) -> i32 {
    match r {
        Ok(()) => 0,
        Err(e) => e as i32,
    }
}

#[cfg(test)]
mod tests;
