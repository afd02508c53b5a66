//! The Linux process as the platform under the store, the runtime and the shared entry
//! points: where the store and the WASI context live (thread-locals of the one thread that
//! runs Wasm), the [`Linux`] machine (memories from [`crate::memory`], code entered through
//! [`crate::wasm`]), the `bench.start`/`bench.end` imports, and the expansion of
//! [`hako_kernel::define_entry_points!`].

use crate::harness::{self, Lines};
use crate::host::{monotonic_ns, LinuxHost};
use hako_abi::trap::TrapCode;
use hako_abi::vm::{ValRaw, VmContext};
use hako_kernel::runtime::StoreCell;
use hako_kernel::shims::Platform;
use hako_kernel::store::{Callable, Machine, Store, Stub};
use hako_kernel::vmdata::{MapMemory, OutOfMemory};
use hako_kernel::wasi::WasiCtx;
use std::cell::{Cell, RefCell};
use std::fmt;

thread_local! {
    static STORE: RefCell<Store> = const { RefCell::new(Store::new()) };
    static WASI: RefCell<Option<WasiCtx>> = const { RefCell::new(None) };
    static BENCH_START: Cell<Option<u64>> = const { Cell::new(None) };
}

/// The one store.
#[derive(Debug, Clone, Copy)]
pub struct TheStore;

impl StoreCell for TheStore {
    fn with<R>(&self, f: impl FnOnce(&mut Store) -> R) -> R {
        STORE.with(|s| f(&mut s.borrow_mut()))
    }
}

/// Install the program's WASI context.
pub fn set_wasi(ctx: WasiCtx) {
    WASI.with(|w| *w.borrow_mut() = Some(ctx));
}

/// The machine, as the store and the runtime see it.
#[derive(Debug, Default)]
pub struct Linux {
    lines: Lines,
}

// SAFETY: `memory::map` hands out memory `id`'s own part of the reservation, which nothing
// else maps or uses, with `[from, to)` readable, writable and zero-filled, or fails.
unsafe impl MapMemory for Linux {
    fn map_memory(&mut self, id: usize, from: u64, to: u64) -> Result<*mut u8, OutOfMemory> {
        crate::memory::map(id, from, to)
    }
}

impl Machine for Linux {
    fn harness(&mut self) -> &mut dyn fmt::Write {
        &mut self.lines
    }
    fn stub(&self, s: Stub) -> *const u8 {
        stub(s)
    }
    fn wasi_function(&self, name: &str) -> Option<*const u8> {
        wasi_symbol(name)
    }
    fn bench_function(&self, name: &[u8]) -> Option<*const u8> {
        match name {
            b"start" => Some(bench_start as *const u8),
            b"end" => Some(bench_end as *const u8),
            _ => None,
        }
    }
    fn enter(&mut self, f: Callable, values: &mut [ValRaw]) -> Result<(), TrapCode> {
        if values.len() < f.slots() {
            crate::fatal(format_args!("a call into Wasm with too few value slots"));
        }
        // SAFETY: only the store makes a `Callable`, from its instances' functions: code of
        // this executable with its own instance's context, an array call over `f.slots()`
        // values (checked above) or a native start function; the runtime calls this
        // holding no borrow of the store or the WASI context.
        unsafe { crate::wasm::call(f.code(), f.vmctx(), values) }
    }
}

/// `bench.start`: the monotonic clock, first thing (nothing is written until `bench.end`).
extern "C" fn bench_start(_vmctx: *mut VmContext) {
    let now = monotonic_ns();
    BENCH_START.with(|s| s.set(Some(now)));
}

/// `bench.end`: the `bench start <ns>` and `bench end <ns>` records.
extern "C" fn bench_end(_vmctx: *mut VmContext) {
    let now = monotonic_ns();
    let bench = hako_abi::boot::record::BENCH;
    if let Some(start) = BENCH_START.with(|s| s.take()) {
        harness::record(format_args!("{bench} start {start}"));
    }
    harness::record(format_args!("{bench} end {now}"));
}

/// The Linux process as a platform.
#[derive(Debug)]
pub struct LinuxPlatform;

// SAFETY: `wasm::raise` longjmps to the innermost `wasm::call` without running the skipped
// frames, and `wasm::stack_check` keeps 128 KiB free above the Wasm stack's guard.
unsafe impl Platform for LinuxPlatform {
    type Machine = Linux;
    type Host = LinuxHost;
    fn machine() -> Linux {
        Linux::default()
    }
    fn with_store<R>(f: impl FnOnce(&mut Store) -> R) -> R {
        TheStore.with(f)
    }
    fn with_wasi<R>(f: impl FnOnce(&mut WasiCtx, &mut LinuxHost) -> R) -> R {
        WASI.with(|w| match w.borrow_mut().as_mut() {
            Some(ctx) => f(ctx, &mut LinuxHost),
            None => crate::fatal(format_args!("WASI called before initialisation")),
        })
    }
    fn record(line: fmt::Arguments<'_>) {
        harness::record(line);
    }
    unsafe fn stack_check() {
        // SAFETY: the caller's contract is `stack_check`'s.
        unsafe { crate::wasm::stack_check() }
    }
    unsafe fn raise(code: u32) -> ! {
        // SAFETY: the caller's contract is `raise`'s.
        unsafe { crate::wasm::raise(code) }
    }
    fn scan_stack(f: &mut dyn FnMut(u64)) {
        crate::wasm::scan_stack(f)
    }
}

hako_kernel::define_entry_points!(LinuxPlatform);
