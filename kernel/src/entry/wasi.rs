//! The machine as WASI sees it ([`KernelHost`]: serial ports, clocks, RDRAND, stdin from COM1), and the preopened
//! directories: virtio-9p devices found on the command line, mounted as 9P2000.L clients.

use crate::hw::cell::KernelCell;
use crate::hw::panic::fatal;
use crate::hw::serial::{self, Com};
use crate::hw::virtio::{self, Mmio, Virtio9p};
use crate::hw::{cpu, irq, time};
use crate::p9::Client;
use crate::wasi::{Clock, Host, Stream, WasiCtx};
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
pub struct KernelHost;

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
    /// Halt the CPU when interrupts are set up (the program has a network: `hw::irq`),
    /// else spin.
    fn sleep_until(&mut self, deadline: u64) {
        while time::monotonic_ns() < deadline {
            if irq::available() {
                irq::halt_until(deadline);
            } else {
                core::hint::spin_loop();
            }
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

pub(super) fn with_wasi<R>(f: impl FnOnce(&mut WasiCtx, &mut KernelHost) -> R) -> R {
    WASI.with(|w| match w.as_mut() {
        Some(ctx) => f(ctx, &mut KernelHost),
        None => fatal(format_args!("WASI called before initialisation")),
    })
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
