//! Entering compiled code and leaving it on a trap: the switch to the Wasm stack and the
//! unwinding ([`call`], [`raise`], on [`crate::jump`]), the page faults that are the
//! program's ([`page_fault`]) and the stack check kernel functions called from Wasm make
//! first ([`stack_check`]). The layout of the stack is `crate::layout`'s.

use crate::layout::{
    LINMEM_BASE, LINMEM_END, STACK_HUGE, STACK_LO, STACK_REGION, STACK_SMALL, STACK_SMALL_BASE,
    STACK_TOP,
};
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use hako_abi::trap::TrapCode;
use hako_abi::vm::{ValRaw, VmContext};

use crate::jump::{self, JmpBuf};

/// The innermost active entry into Wasm (0 when none).
static CURRENT: AtomicUsize = AtomicUsize::new(0);
static STACK_MAPPED: AtomicBool = AtomicBool::new(false);

/// Call `code(vmctx, values)` (an array-call trampoline, or a native `() -> ()` function)
/// on the Wasm stack and catch traps.
///
/// # Safety
///
/// `code` is null or compiled code of the image: an array-call trampoline that reads and
/// writes at most `values.len()` values, or a native function taking only `vmctx`; `vmctx`
/// is the live context of `code`'s instance (or, for a kernel stub, the data it expects).
/// The caller holds no borrow of kernel state that the builtins `code` may call borrow.
pub unsafe fn call(
    code: *const u8,
    vmctx: *mut VmContext,
    values: &mut [ValRaw],
) -> Result<(), TrapCode> {
    if code.is_null() {
        return Err(TrapCode::NullReference);
    }
    if !STACK_MAPPED.load(Ordering::Relaxed) {
        let huge = super::mm::map_uncleared_huge(STACK_LO, STACK_HUGE);
        if huge
            .and(super::mm::map_uncleared(STACK_SMALL_BASE, STACK_SMALL))
            .is_err()
        {
            super::panic::fatal(format_args!("out of memory for the Wasm stack"));
        }
        STACK_MAPPED.store(true, Ordering::Relaxed);
    }
    let mut jb = JmpBuf::default();
    let prev = CURRENT.swap(&mut jb as *mut JmpBuf as usize, Ordering::SeqCst);
    let stack_top = if prev == 0 { STACK_TOP } else { 0 };
    // SAFETY: `code` is compiled code with the array-call signature over at most
    // `values.len()` values (or a native function taking only `vmctx`, for which the extra
    // argument is harmless), see the function's contract; `jb` outlives the call
    // (it is popped from `CURRENT` below before it goes out of scope); the Wasm stack is
    // mapped. A longjmp back here only skips Wasm frames and `extern "C"` kernel frames
    // that hold no resources (builtins release every borrow before raising a trap).
    let r = unsafe { jump::enter(&mut jb, code, vmctx, values.as_mut_ptr(), stack_top) };
    CURRENT.store(prev, Ordering::SeqCst);
    if r == jump::RETURNED {
        Ok(())
    } else {
        Err(TrapCode::from_u32(r as u32).unwrap_or(TrapCode::Unreachable))
    }
}

/// Unwind to the innermost entry into Wasm with a trap.
///
/// # Safety
///
/// The unwinding skips every frame between the caller and the innermost [`call`] without
/// running anything: those frames (compiled code and the `extern "C"` kernel functions it
/// called) must own nothing that needs dropping and hold no `KernelCell` borrow.
pub unsafe fn raise(code: u32) -> ! {
    let jb = CURRENT.load(Ordering::SeqCst);
    if jb == 0 {
        super::panic::fatal(format_args!("trap {code} outside of Wasm"));
    }
    // SAFETY: `jb` is the live `JmpBuf` of the innermost `call`, whose frame is still on the
    // kernel stack below us.
    unsafe { jump::longjmp(jb as *mut JmpBuf, code as u64) }
}

/// Called by the page-fault handler: turn faults in the linear-memory region or the Wasm
/// stack guard into traps. Returns when the fault is not the program's.
///
/// # Safety
///
/// Only for the page-fault handler: faults at those addresses come from compiled code (the
/// kernel reads linear memory only within its mapped size, and kernel functions called
/// from Wasm check the stack before they borrow anything, see [`stack_check`]), so the
/// frames [`raise`] skips own nothing.
pub(super) unsafe fn page_fault(addr: u64) {
    if CURRENT.load(Ordering::SeqCst) == 0 {
        return;
    }
    let trap = if (STACK_REGION..STACK_LO).contains(&addr) {
        TrapCode::StackOverflow
    } else if (LINMEM_BASE..LINMEM_END).contains(&addr) {
        TrapCode::MemoryOutOfBounds
    } else {
        return;
    };
    // SAFETY: see the function's contract.
    unsafe { raise(trap as u32) }
}

/// Stack a kernel function called from Wasm keeps free below it: a builtin or WASI call that
/// starts with less traps with `StackOverflow` before it takes a lock (a fault in the guard
/// while a `KernelCell` is borrowed would leave it borrowed after the unwind).
const KERNEL_STACK_RESERVE: u64 = 128 << 10;

/// Raise `StackOverflow` when called on the Wasm stack too close to its guard.
///
/// # Safety
///
/// Called first thing by a kernel function that compiled code called, before it owns or
/// borrows anything (see [`raise`]).
#[inline(always)]
pub unsafe fn stack_check() {
    let rsp: u64;
    // SAFETY: reads `rsp` into a register; no memory access, no flags changed.
    unsafe {
        core::arch::asm!("mov {}, rsp", out(reg) rsp, options(nomem, nostack, preserves_flags))
    };
    if (STACK_REGION..STACK_LO + KERNEL_STACK_RESERVE).contains(&rsp) {
        // SAFETY: the caller owns and borrows nothing yet (the function's contract).
        unsafe { raise(TrapCode::StackOverflow as u32) }
    }
}

/// The conservative roots of a collection: the callee-saved registers and the Wasm stack
/// from the caller's stack pointer up, when it is mapped and the caller runs on it
/// ([`crate::jump::scan_registers_and_stack`]).
pub fn scan_stack(f: &mut dyn FnMut(u64)) {
    let stack = STACK_MAPPED
        .load(Ordering::Relaxed)
        .then_some((STACK_LO, STACK_TOP));
    // SAFETY: `[STACK_LO, STACK_TOP)` is the Wasm stack, mapped once `STACK_MAPPED` is set
    // and never unmapped.
    unsafe { crate::jump::scan_registers_and_stack(stack, f) }
}
