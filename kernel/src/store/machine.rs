//! What the store and the runtime need from the machine, as a trait: mapping linear
//! memory (the [`MapMemory`] supertrait), harness records, the addresses of the kernel's own
//! functions that imports resolve to, and entering compiled code. The kernel implements it
//! on the hardware (`entry::Kernel`); the host unit tests implement it in memory, so that
//! the store and the program and script modes build and are tested on the host, the way
//! `wasi` reaches the machine through [`crate::wasi::Host`].

use crate::vmdata::MapMemory;
use core::fmt;
use hako_abi::trap::TrapCode;
use hako_abi::vm::{ValRaw, VmContext};

/// Kernel functions an import can be bound to when nothing else provides it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stub {
    /// For an unresolved import returning one `i32`: answers `ENOSYS` and records the first
    /// call (the import's record index is the `FuncRef`'s `vmctx`, or the `data` of a
    /// [`CFunction`] in the tail convention). A C function.
    Enosys,
    /// For every other unresolved import: traps with `UnresolvedImport` (it never returns,
    /// so it serves every calling convention).
    Trap,
    /// `spectest.print*` in the C convention, and their array-call trampolines: a bare `ret`.
    SpectestNop,
    /// `spectest.print*` in the tail convention: `ret $8`, a tailcc callee with no stack
    /// arguments (see `hako_abi::vm::args_in_registers`).
    SpectestNopTail,
    /// The tail-convention entry of a C function: its `vmctx` points to a [`CFunction`];
    /// the stub calls `function(data, args...)` and returns with `ret $8`. Only for
    /// signatures that `hako_abi::vm::args_in_registers` accepts.
    CallC,
}

/// What [`Stub::CallC`] calls: a C function and its first argument.
#[repr(C)]
#[derive(Debug)]
pub struct CFunction {
    pub function: *const u8,
    pub data: *mut u8,
}

/// The machine under the store and the runtime.
pub trait Machine: MapMemory {
    /// The harness channel, for whole lines (the `hako_abi::script` line writers).
    fn harness(&mut self) -> &mut dyn fmt::Write;

    /// Write one harness record line.
    fn record(&mut self, line: fmt::Arguments<'_>) {
        let out = self.harness();
        let _ = out.write_fmt(line);
        let _ = out.write_str("\n");
    }

    /// The address of a kernel stub.
    fn stub(&self, stub: Stub) -> *const u8;

    /// The kernel's definition of WASI function `name`.
    fn wasi_function(&self, name: &str) -> Option<*const u8>;

    /// `bench.start` or `bench.end` (`name` is `start` or `end`).
    fn bench_function(&self, name: &[u8]) -> Option<*const u8>;

    /// Run compiled code: `f` with `values` as its argument and result slots. Fewer than
    /// [`Callable::slots`] values is a bug of the caller, which an implementation must
    /// catch before it enters the code. A trap comes back as `Err`.
    fn enter(&mut self, f: Callable, values: &mut [ValRaw]) -> Result<(), TrapCode>;
}

/// Compiled code the store found for the runtime to run: an export's array-call trampoline
/// with its instance context, or a start function. Only the store makes these, from its
/// instances' functions (so that code and context belong together), with the number of
/// value slots the array call reads and writes.
#[derive(Debug, Clone, Copy)]
pub struct Callable {
    code: *const u8,
    vmctx: *mut VmContext,
    slots: usize,
}

impl Callable {
    /// `code` with `vmctx`: an array call over `slots` values (a start function's with 0).
    pub(super) fn new(code: *const u8, vmctx: *mut VmContext, slots: usize) -> Self {
        Callable { code, vmctx, slots }
    }
    pub fn code(self) -> *const u8 {
        self.code
    }
    pub fn vmctx(self) -> *mut VmContext {
        self.vmctx
    }
    /// Value slots the call reads and writes: `max(params, results)`.
    pub fn slots(self) -> usize {
        self.slots
    }
}
