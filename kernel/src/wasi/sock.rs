//! The `sock_*` functions. There is no network, so no descriptor is a socket: after the
//! arguments are checked, a valid descriptor is `ENOTSOCK` (what the WASI testsuite
//! expects; Wasmtime's wasi-common says `EBADF` there, its one failure in the suite) and a
//! bad one `EBADF`.

use super::iovec::check_iovs;
use super::{WasiCtx, WasiResult};
use crate::guest::GuestMemory;
use hako_abi::wasi::{errno, fdflags, riflags, sdflags};

impl WasiCtx {
    fn not_sock(&self, fd: u32) -> WasiResult {
        self.entry(fd)?;
        Err(errno::NOTSOCK)
    }

    pub fn sock_accept(&mut self, fd: u32, flags: u32) -> WasiResult {
        if flags & !u32::from(fdflags::ALL) != 0 {
            return Err(errno::INVAL);
        }
        self.not_sock(fd)
    }

    pub fn sock_recv(
        &mut self,
        mem: &mut GuestMemory,
        fd: u32,
        iovs: u32,
        n: u32,
        flags: u32,
    ) -> WasiResult {
        if flags & !u32::from(riflags::ALL) != 0 {
            return Err(errno::INVAL);
        }
        check_iovs(mem, iovs, n)?;
        self.not_sock(fd)
    }

    pub fn sock_send(&mut self, mem: &mut GuestMemory, fd: u32, iovs: u32, n: u32) -> WasiResult {
        check_iovs(mem, iovs, n)?;
        self.not_sock(fd)
    }

    pub fn sock_shutdown(&mut self, fd: u32, how: u32) -> WasiResult {
        if how & !u32::from(sdflags::ALL) != 0 {
            return Err(errno::INVAL);
        }
        self.not_sock(fd)
    }
}
