//! The kernel as a [`Platform`] for the entry points every platform shares
//! ([`crate::define_entry_points!`]: the builtins, the 46 WASI functions and the stubs
//! unresolved imports are bound to), and their expansion.

use super::wasi::{with_wasi, KernelHost};
use super::{Kernel, STORE};
use crate::hw::serial;
use crate::hw::wasm::{raise, stack_check};
use crate::shims::Platform;
use crate::store::Store;
use crate::wasi::WasiCtx;
use core::fmt;

/// The bare-metal platform.
pub struct KernelPlatform;

// SAFETY: `hw::wasm::raise` longjmps to the innermost `hw::wasm::call` without running the
// skipped frames, and `hw::wasm::stack_check` keeps 128 KiB free above the Wasm stack's
// guard, more than any kernel function needs.
unsafe impl Platform for KernelPlatform {
    type Machine = Kernel;
    type Host = KernelHost;
    fn machine() -> Kernel {
        Kernel::default()
    }
    fn with_store<R>(f: impl FnOnce(&mut Store) -> R) -> R {
        STORE.with(f)
    }
    fn with_wasi<R>(f: impl FnOnce(&mut WasiCtx, &mut KernelHost) -> R) -> R {
        with_wasi(f)
    }
    fn record(line: fmt::Arguments<'_>) {
        serial::record(line);
    }
    unsafe fn stack_check() {
        // SAFETY: the caller's contract is `stack_check`'s.
        unsafe { stack_check() }
    }
    unsafe fn raise(code: u32) -> ! {
        // SAFETY: the caller's contract is `raise`'s.
        unsafe { raise(code) }
    }
    fn scan_stack(f: &mut dyn FnMut(u64)) {
        crate::hw::wasm::scan_stack(f)
    }
}

crate::define_entry_points!(KernelPlatform);
