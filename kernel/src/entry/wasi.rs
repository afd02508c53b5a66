//! The 46 `wasi_snapshot_preview1__*` symbols compiled code calls, the machine as WASI sees
//! it ([`KernelHost`]: serial ports, clocks, RDRAND, stdin from COM1), and the preopened
//! directories: virtio-9p devices found on the command line, mounted as 9P2000.L clients.

use super::builtins::guest_memory;
use crate::hw::cell::KernelCell;
use crate::hw::panic::fatal;
use crate::hw::serial::{self, Com};
use crate::hw::virtio::{self, Mmio, Virtio9p};
use crate::hw::{cpu, time};
use crate::p9::Client;
use crate::wasi::{self, Clock, Host, Stream, WasiCtx};
use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;
use hako_abi::vm::VmContext;

static WASI: KernelCell<Option<WasiCtx>> = KernelCell::new(None);
/// Bytes of stdin still to come on COM1.
static STDIN_LEFT: KernelCell<u64> = KernelCell::new(0);
/// The `stdin` record was sent (the runner starts sending stdin when it sees it).
static STDIN_ASKED: KernelCell<bool> = KernelCell::new(false);

/// 9P message size we ask for (QEMU may grant less).
const MSIZE: u32 = 128 << 10;

/// Install the WASI context, with the preopened directories (virtio-9p mount tag, guest
/// path) and the length of stdin from the command line (`hako.preopen=`, `hako.stdin=`).
pub fn set_wasi(mut ctx: WasiCtx, preopens: Vec<(Vec<u8>, Vec<u8>)>, stdin_len: u64) {
    STDIN_LEFT.with(|s| *s = stdin_len);
    if !preopens.is_empty() {
        let line = super::cmdline();
        let mut devices: Vec<(Vec<u8>, Mmio)> = Vec::new();
        let mut bases = virtio::mmio_bases(line);
        if bases.is_empty() {
            // No list from QEMU: probe microvm's virtio-mmio window.
            bases = (0..32).map(|i| 0xfeb0_0000 + 0x200 * i).collect();
        }
        for b in bases {
            if let Some(m) = Mmio::probe(b) {
                if m.device_id() == 9 {
                    devices.push((m.mount_tag(), m));
                }
            }
        }
        for (tag, guest) in preopens {
            let Some(i) = devices.iter().position(|(t, _)| *t == tag) else {
                fatal(format_args!(
                    "no virtio-9p device with mount tag {}",
                    core::str::from_utf8(&tag).unwrap_or("?")
                ));
            };
            let (_, dev) = devices.swap_remove(i);
            let client = Virtio9p::init(dev, MSIZE as usize)
                .map_err(|e| fatal(format_args!("virtio-9p: {e}")))
                .and_then(|t| {
                    Client::connect(t, MSIZE)
                        .map_err(|e| fatal(format_args!("9P attach failed: errno {e}")))
                });
            if let Ok(c) = client {
                ctx.add_preopen(guest, Box::new(c));
            }
        }
    }
    WASI.with(|w| *w = Some(ctx));
}

/// The machine, as WASI sees it.
struct KernelHost;

impl Host for KernelHost {
    fn write(&mut self, stream: Stream, bytes: &[u8]) {
        serial::write(
            if stream == Stream::Stdout {
                Com::Stdout
            } else {
                Com::Stderr
            },
            bytes,
        );
    }
    fn read_stdin(&mut self, buf: &mut [u8]) -> usize {
        let left = STDIN_LEFT.with(|s| *s);
        let want = (buf.len() as u64).min(left) as usize;
        if want > 0 && !STDIN_ASKED.with(|a| core::mem::replace(a, true)) {
            serial::record(format_args!("{}", hako_abi::boot::record::STDIN));
        }
        let mut n = 0;
        while n < want {
            match serial::try_read(Com::Stdout) {
                Some(b) => {
                    buf[n] = b;
                    n += 1;
                }
                None if n > 0 => break,
                None => core::hint::spin_loop(),
            }
        }
        STDIN_LEFT.with(|s| *s -= n as u64);
        n
    }
    fn stdin_pending(&mut self) -> u64 {
        STDIN_LEFT.with(|s| *s)
    }
    fn record(&mut self, line: fmt::Arguments<'_>) {
        serial::record(line);
    }
    fn now_ns(&mut self, clock: Clock) -> u64 {
        match clock {
            Clock::Realtime => time::realtime_ns(),
            // Monotonic, and the CPU-time clocks: the program is the VM's only process and
            // thread, and nothing else runs, so its CPU time is the time since boot.
            _ => time::monotonic_ns(),
        }
    }
    fn resolution_ns(&mut self, _clock: Clock) -> u64 {
        1
    }
    fn entropy(&mut self) -> [u8; 32] {
        let mut seed = [0u8; 32];
        for (i, chunk) in seed.chunks_mut(8).enumerate() {
            let v = cpu::hw_random().unwrap_or_else(|| {
                time::rdtsc().rotate_left(17 * i as u32) ^ 0x9e37_79b9_7f4a_7c15
            });
            chunk.copy_from_slice(&v.to_le_bytes());
        }
        seed
    }
    fn exit(&mut self, _status: u32) -> ! {
        serial::debug_exit(hako_abi::boot::EXIT_DONE)
    }
    fn fail(&mut self, message: &str) -> ! {
        serial::record(format_args!("trap 0 {message}"));
        serial::debug_exit(hako_abi::boot::EXIT_DONE)
    }
}

fn with_wasi<R>(f: impl FnOnce(&mut WasiCtx, &mut KernelHost) -> R) -> R {
    WASI.with(|w| match w.as_mut() {
        Some(ctx) => f(ctx, &mut KernelHost),
        None => fatal(format_args!("WASI called before initialisation")),
    })
}

macro_rules! wasi_impl {
    ($name:ident ($($p:ident : $t:ty),*) |$c:ident, $h:ident, $m:ident| $body:expr) => {
        #[export_name = concat!("wasi_snapshot_preview1__", stringify!($name))]
        #[allow(unused_variables, unused_mut)]
        pub extern "C" fn $name(vmctx: *mut VmContext, $($p: $t),*) -> i32 {
            let mut mem = guest_memory(vmctx);
            with_wasi(|$c, $h| {
                let $m = &mut mem;
                wasi::ret($body)
            })
        }
    };
}

/// All 46 functions.
pub mod wasi_fns {
    use super::*;

    wasi_impl!(args_get(argv: i32, buf: i32) |c, h, m| c.args_get(m, argv as u32, buf as u32));
    wasi_impl!(args_sizes_get(argc: i32, size: i32) |c, h, m| c.args_sizes_get(m, argc as u32, size as u32));
    wasi_impl!(environ_get(env: i32, buf: i32) |c, h, m| c.environ_get(m, env as u32, buf as u32));
    wasi_impl!(environ_sizes_get(n: i32, size: i32) |c, h, m| c.environ_sizes_get(m, n as u32, size as u32));
    wasi_impl!(clock_res_get(id: i32, out: i32) |c, h, m| c.clock_res_get(h, m, id as u32, out as u32));
    wasi_impl!(clock_time_get(id: i32, precision: i64, out: i32)
        |c, h, m| c.clock_time_get(h, m, id as u32, precision as u64, out as u32));
    wasi_impl!(fd_advise(fd: i32, offset: i64, len: i64, advice: i32)
        |c, h, m| c.fd_advise(fd as u32, offset as u64, len as u64, advice as u32));
    wasi_impl!(fd_allocate(fd: i32, offset: i64, len: i64)
        |c, h, m| c.fd_allocate(fd as u32, offset as u64, len as u64));
    wasi_impl!(fd_close(fd: i32) |c, h, m| c.fd_close(fd as u32));
    wasi_impl!(fd_datasync(fd: i32) |c, h, m| c.fd_sync(fd as u32, true));
    wasi_impl!(fd_fdstat_get(fd: i32, buf: i32) |c, h, m| c.fd_fdstat_get(m, fd as u32, buf as u32));
    wasi_impl!(fd_fdstat_set_flags(fd: i32, flags: i32) |c, h, m| c.fd_fdstat_set_flags(fd as u32, flags as u32));
    wasi_impl!(fd_fdstat_set_rights(fd: i32, base: i64, inh: i64)
        |c, h, m| c.fd_fdstat_set_rights(fd as u32, base as u64, inh as u64));
    wasi_impl!(fd_filestat_get(fd: i32, buf: i32) |c, h, m| c.fd_filestat_get(m, fd as u32, buf as u32));
    wasi_impl!(fd_filestat_set_size(fd: i32, size: i64) |c, h, m| c.fd_filestat_set_size(fd as u32, size as u64));
    wasi_impl!(fd_filestat_set_times(fd: i32, atim: i64, mtim: i64, flags: i32)
        |c, h, m| c.fd_filestat_set_times(fd as u32, atim as u64, mtim as u64, flags as u32));
    wasi_impl!(fd_pread(fd: i32, iovs: i32, n: i32, offset: i64, out: i32)
        |c, h, m| c.fd_pread(m, fd as u32, iovs as u32, n as u32, offset as u64, out as u32));
    wasi_impl!(fd_prestat_dir_name(fd: i32, path: i32, len: i32)
        |c, h, m| c.fd_prestat_dir_name(m, fd as u32, path as u32, len as u32));
    wasi_impl!(fd_prestat_get(fd: i32, buf: i32) |c, h, m| c.fd_prestat_get(m, fd as u32, buf as u32));
    wasi_impl!(fd_pwrite(fd: i32, iovs: i32, n: i32, offset: i64, out: i32)
        |c, h, m| c.fd_pwrite(m, fd as u32, iovs as u32, n as u32, offset as u64, out as u32));
    wasi_impl!(fd_read(fd: i32, iovs: i32, n: i32, nread: i32)
        |c, h, m| c.fd_read(h, m, fd as u32, iovs as u32, n as u32, nread as u32));
    wasi_impl!(fd_readdir(fd: i32, buf: i32, len: i32, cookie: i64, out: i32)
        |c, h, m| c.fd_readdir(m, fd as u32, buf as u32, len as u32, cookie as u64, out as u32));
    wasi_impl!(fd_renumber(fd: i32, to: i32) |c, h, m| c.fd_renumber(fd as u32, to as u32));
    wasi_impl!(fd_seek(fd: i32, offset: i64, whence: i32, out: i32)
        |c, h, m| c.fd_seek(m, fd as u32, offset, whence as u32, out as u32));
    wasi_impl!(fd_sync(fd: i32) |c, h, m| c.fd_sync(fd as u32, false));
    wasi_impl!(fd_tell(fd: i32, out: i32) |c, h, m| c.fd_tell(m, fd as u32, out as u32));
    wasi_impl!(fd_write(fd: i32, iovs: i32, n: i32, nwritten: i32)
        |c, h, m| c.fd_write(h, m, fd as u32, iovs as u32, n as u32, nwritten as u32));
    wasi_impl!(path_create_directory(fd: i32, path: i32, len: i32)
        |c, h, m| c.path_create_directory(m, fd as u32, path as u32, len as u32));
    wasi_impl!(path_filestat_get(fd: i32, flags: i32, path: i32, len: i32, out: i32)
        |c, h, m| c.path_filestat_get(m, fd as u32, flags as u32, path as u32, len as u32, out as u32));
    wasi_impl!(path_filestat_set_times(fd: i32, flags: i32, path: i32, len: i32, atim: i64, mtim: i64, fst: i32)
        |c, h, m| c.path_filestat_set_times(m, fd as u32, flags as u32, path as u32, len as u32, atim as u64, mtim as u64, fst as u32));
    wasi_impl!(path_link(fd: i32, flags: i32, path: i32, len: i32, fd2: i32, path2: i32, len2: i32)
        |c, h, m| c.path_link(m, fd as u32, flags as u32, path as u32, len as u32, fd2 as u32, path2 as u32, len2 as u32));
    wasi_impl!(path_open(fd: i32, dirflags: i32, path: i32, len: i32, oflags: i32, base: i64, inh: i64, fdflags: i32, out: i32)
        |c, h, m| c.path_open(m, fd as u32, dirflags as u32, path as u32, len as u32, oflags as u32, base as u64, inh as u64, fdflags as u32, out as u32));
    wasi_impl!(path_readlink(fd: i32, path: i32, len: i32, buf: i32, buflen: i32, out: i32)
        |c, h, m| c.path_readlink(m, fd as u32, path as u32, len as u32, buf as u32, buflen as u32, out as u32));
    wasi_impl!(path_remove_directory(fd: i32, path: i32, len: i32)
        |c, h, m| c.path_remove_directory(m, fd as u32, path as u32, len as u32));
    wasi_impl!(path_rename(fd: i32, path: i32, len: i32, fd2: i32, path2: i32, len2: i32)
        |c, h, m| c.path_rename(m, fd as u32, path as u32, len as u32, fd2 as u32, path2 as u32, len2 as u32));
    wasi_impl!(path_symlink(path: i32, len: i32, fd: i32, path2: i32, len2: i32)
        |c, h, m| c.path_symlink(m, path as u32, len as u32, fd as u32, path2 as u32, len2 as u32));
    wasi_impl!(path_unlink_file(fd: i32, path: i32, len: i32)
        |c, h, m| c.path_unlink_file(m, fd as u32, path as u32, len as u32));
    wasi_impl!(poll_oneoff(inp: i32, out: i32, n: i32, nevents: i32)
        |c, h, m| c.poll_oneoff(h, m, inp as u32, out as u32, n as u32, nevents as u32));
    wasi_impl!(proc_raise(sig: i32) |c, h, m| c.proc_raise(h, sig as u32));
    wasi_impl!(random_get(buf: i32, len: i32) |c, h, m| c.random_get(h, m, buf as u32, len as u32));
    wasi_impl!(sched_yield() | c, h, m | c.sched_yield());
    wasi_impl!(sock_accept(fd: i32, flags: i32, out: i32) |c, h, m| c.sock_accept(fd as u32, flags as u32));
    wasi_impl!(sock_recv(fd: i32, iovs: i32, n: i32, flags: i32, out: i32, oflags: i32)
        |c, h, m| c.sock_recv(m, fd as u32, iovs as u32, n as u32, flags as u32));
    wasi_impl!(sock_send(fd: i32, iovs: i32, n: i32, flags: i32, out: i32)
        |c, h, m| c.sock_send(m, fd as u32, iovs as u32, n as u32));
    wasi_impl!(sock_shutdown(fd: i32, how: i32) |c, h, m| c.sock_shutdown(fd as u32, how as u32));

    #[export_name = "wasi_snapshot_preview1__proc_exit"]
    pub extern "C" fn proc_exit(_vmctx: *mut VmContext, status: i32) -> ! {
        with_wasi(|c, h| c.proc_exit(h, status as u32))
    }
}

/// `bench.start` and `bench.end` (`[] -> []`), the imports the Sightglass benchmarks call
/// around their measured region, for `hako bench`: each reads the monotonic clock (the
/// calibrated TSC) first thing; `bench.end` then writes the harness records
/// `bench start <ns>` and `bench end <ns>`. Nothing is written at `bench.start`, so the
/// serial port's cost is not part of the measured region.
pub fn bench_symbol(name: &[u8]) -> Option<*const u8> {
    static STARTED: KernelCell<Option<u64>> = KernelCell::new(None);
    extern "C" fn bench_start(_vmctx: *mut VmContext) {
        // Calibrate (on the first clock read) before the region starts.
        time::tsc_hz();
        let now = time::monotonic_ns();
        STARTED.with(|s| *s = Some(now));
    }
    extern "C" fn bench_end(_vmctx: *mut VmContext) {
        let now = time::monotonic_ns();
        let bench = hako_abi::boot::record::BENCH;
        if let Some(start) = STARTED.with(|s| s.take()) {
            serial::record(format_args!("{bench} start {start}"));
        }
        serial::record(format_args!("{bench} end {now}"));
    }
    match name {
        b"start" => Some(bench_start as *const u8),
        b"end" => Some(bench_end as *const u8),
        _ => None,
    }
}

/// The kernel's definition of WASI function `name`, for imports the compiler did not link.
pub fn wasi_symbol(name: &str) -> Option<*const u8> {
    use wasi_fns::*;
    macro_rules! table {
        ($($n:ident),*) => {
            match name {
                $(stringify!($n) => Some($n as *const u8),)*
                _ => None,
            }
        };
    }
    table!(
        args_get,
        args_sizes_get,
        clock_res_get,
        clock_time_get,
        environ_get,
        environ_sizes_get,
        fd_advise,
        fd_allocate,
        fd_close,
        fd_datasync,
        fd_fdstat_get,
        fd_fdstat_set_flags,
        fd_fdstat_set_rights,
        fd_filestat_get,
        fd_filestat_set_size,
        fd_filestat_set_times,
        fd_pread,
        fd_prestat_dir_name,
        fd_prestat_get,
        fd_pwrite,
        fd_read,
        fd_readdir,
        fd_renumber,
        fd_seek,
        fd_sync,
        fd_tell,
        fd_write,
        path_create_directory,
        path_filestat_get,
        path_filestat_set_times,
        path_link,
        path_open,
        path_readlink,
        path_remove_directory,
        path_rename,
        path_symlink,
        path_unlink_file,
        poll_oneoff,
        proc_exit,
        proc_raise,
        random_get,
        sched_yield,
        sock_accept,
        sock_recv,
        sock_send,
        sock_shutdown
    )
}
