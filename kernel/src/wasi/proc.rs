//! The process functions: arguments and environment (`args_*`, `environ_*`), `proc_exit`
//! and `proc_raise`, the clocks (`clock_*`), `random_get` (ChaCha20 seeded from the
//! [`Host`]'s entropy on first use) and `sched_yield`.

use super::{Clock, Host, WasiCtx, WasiResult};
use crate::guest::GuestMemory;
use alloc::vec::Vec;
use hako_abi::wasi::errno;
use rand_chacha::rand_core::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

/// How long an ended program's sockets get to deliver what they hold: 2 s.
pub const FINISH_NS: u64 = 2_000_000_000;

impl WasiCtx {
    // ----- args, environment ---------------------------------------------------------

    fn sizes(list: &[Vec<u8>]) -> (u32, u32) {
        (
            list.len() as u32,
            list.iter().map(|a| a.len() as u32 + 1).sum(),
        )
    }

    fn put_list(list: &[Vec<u8>], mem: &mut GuestMemory, ptrs: u32, buf: u32) -> WasiResult {
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

    pub fn args_sizes_get(
        &mut self,
        mem: &mut GuestMemory,
        argc: u32,
        buf_size: u32,
    ) -> WasiResult {
        let (n, size) = Self::sizes(&self.args);
        mem.write(argc, n)?;
        mem.write(buf_size, size)
    }

    pub fn args_get(&mut self, mem: &mut GuestMemory, argv: u32, buf: u32) -> WasiResult {
        Self::put_list(&self.args, mem, argv, buf)
    }

    pub fn environ_sizes_get(
        &mut self,
        mem: &mut GuestMemory,
        count: u32,
        buf_size: u32,
    ) -> WasiResult {
        let (n, size) = Self::sizes(&self.env);
        mem.write(count, n)?;
        mem.write(buf_size, size)
    }

    pub fn environ_get(&mut self, mem: &mut GuestMemory, environ: u32, buf: u32) -> WasiResult {
        Self::put_list(&self.env, mem, environ, buf)
    }

    // ----- process, clocks, randomness ---------------------------------------------

    pub fn proc_exit(&mut self, host: &mut impl Host, status: u32) -> ! {
        self.finish_network(host);
        host.record(format_args!("exit {status}"));
        host.exit(status)
    }

    /// The program has ended (returned, exited or trapped): let the network deliver what
    /// the program sent, up to [`FINISH_NS`], before the machine stops.
    pub fn finish_network(&mut self, host: &mut impl Host) {
        self.flush_sends(host);
        if let Some(net) = self.net.as_deref_mut() {
            let deadline = host.now_ns(Clock::Monotonic).saturating_add(FINISH_NS);
            net.finish(deadline);
        }
    }

    pub fn proc_raise(&mut self, host: &mut impl Host, _sig: u32) -> WasiResult {
        host.fail("proc_raise unsupported")
    }

    pub fn clock_res_get(
        &mut self,
        host: &mut impl Host,
        mem: &mut GuestMemory,
        id: u32,
        out: u32,
    ) -> WasiResult {
        // The process and thread CPU-time clocks are real here (Wasmtime's wasi-common
        // refuses them with EBADF): the program is the only process and thread of the VM,
        // so both count the time since it started (see `Host::now_ns`).
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
    ) -> WasiResult {
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
    ) -> WasiResult {
        let dst = mem.bytes_mut(buf, len)?;
        let rng = self
            .rng
            .get_or_insert_with(|| ChaCha20Rng::from_seed(host.entropy()));
        rng.fill_bytes(dst);
        Ok(())
    }

    pub fn sched_yield(&mut self) -> WasiResult {
        Ok(())
    }
}
