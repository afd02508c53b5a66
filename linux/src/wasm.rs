//! Running compiled code on Linux: the Wasm stack (8 MiB + 64 KiB, with a 2 MiB guard
//! below it, as in the kernel), entering code on it and unwinding on a trap
//! ([`hako_kernel::jump`]), the stack check the entry points make first, and the handlers
//! of SIGSEGV, SIGBUS, SIGFPE and SIGILL, which run on an alternate signal stack and, for a
//! fault [`crate::traps::classify`] calls a trap, resume at the longjmp with that trap.
//! Any other fault prints what happened and ends the process with status 70.

use crate::traps::{self, Fault, Layout};
use core::sync::atomic::{AtomicUsize, Ordering};
use hako_abi::trap::TrapCode;
use hako_abi::vm::{ValRaw, VmContext};
use hako_kernel::jump::{self, JmpBuf};

/// The unmapped guard below the Wasm stack.
const STACK_GUARD: usize = 2 << 20;
/// The usable Wasm stack (the kernel's 8 MiB + 64 KiB).
const STACK_SIZE: usize = (8 << 20) + (64 << 10);
/// How much of the top of the Wasm stack is faulted in when it is mapped.
const STACK_PREFAULT: usize = 256 << 10;
/// Stack an entry point keeps free below it: one called with less raises `StackOverflow`
/// before it borrows anything (as `hw::wasm::stack_check` in the kernel).
const ENTRY_STACK_RESERVE: usize = 128 << 10;
/// The alternate stack the fault handlers run on.
const SIGNAL_STACK: usize = 64 << 10;

/// The innermost active entry into Wasm (0 when none).
static CURRENT: AtomicUsize = AtomicUsize::new(0);
/// The Wasm stack's guard start (0 until mapped); the stack follows the guard.
static STACK_REGION: AtomicUsize = AtomicUsize::new(0);
/// Compiled code: `[CODE_START, CODE_END)`.
static CODE_START: AtomicUsize = AtomicUsize::new(0);
static CODE_END: AtomicUsize = AtomicUsize::new(0);

fn stack_region() -> usize {
    let region = STACK_REGION.load(Ordering::Acquire);
    if region != 0 {
        return region;
    }
    let len = STACK_GUARD + STACK_SIZE;
    // SAFETY: a fresh anonymous mapping at an address the kernel chooses; it replaces
    // nothing.
    let p = unsafe {
        libc::mmap(
            core::ptr::null_mut(),
            len,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        crate::fatal(format_args!("cannot map the Wasm stack"));
    }
    // SAFETY: the part above the guard of the mapping just made, nothing else's.
    let r = unsafe {
        libc::mprotect(
            (p as usize + STACK_GUARD) as *mut libc::c_void,
            STACK_SIZE,
            libc::PROT_READ | libc::PROT_WRITE,
        )
    };
    if r != 0 {
        crate::fatal(format_args!("cannot map the Wasm stack"));
    }
    // Fault in the top of the stack now, in one system call, rather than one page fault at a
    // time as the first calls go deeper. Best effort: an older kernel refuses the advice.
    // SAFETY: the top `STACK_PREFAULT` bytes of the stack just mapped read-write; populating
    // pages changes no contents (fresh anonymous pages read as zero either way).
    unsafe {
        libc::madvise(
            (p as usize + STACK_GUARD + STACK_SIZE - STACK_PREFAULT) as *mut libc::c_void,
            STACK_PREFAULT,
            libc::MADV_POPULATE_WRITE,
        );
    }
    STACK_REGION.store(p as usize, Ordering::Release);
    p as usize
}

/// Call `code(vmctx, values)` (an array-call trampoline, or a native `() -> ()` function)
/// on the Wasm stack and catch traps.
///
/// # Safety
///
/// `code` is null or compiled code of this executable: an array-call trampoline that reads
/// and writes at most `values.len()` values, or a native function taking only `vmctx`;
/// `vmctx` is the live context of `code`'s instance (or, for a stub, the data it expects).
/// The caller holds no borrow of state the entry points `code` may call borrow.
pub unsafe fn call(
    code: *const u8,
    vmctx: *mut VmContext,
    values: &mut [ValRaw],
) -> Result<(), TrapCode> {
    if code.is_null() {
        return Err(TrapCode::NullReference);
    }
    let region = stack_region();
    let mut jb = JmpBuf::default();
    let prev = CURRENT.swap(&mut jb as *mut JmpBuf as usize, Ordering::SeqCst);
    let top = if prev == 0 {
        (region + STACK_GUARD + STACK_SIZE) as u64
    } else {
        0
    };
    // SAFETY: the function's contract; `jb` outlives the call (it is popped from `CURRENT`
    // below before it goes out of scope); `top` is 0 or the top of the mapped Wasm stack,
    // which only the outermost entry uses. A longjmp back here only skips Wasm frames and
    // entry points that hold nothing.
    let r = unsafe { jump::enter(&mut jb, code, vmctx, values.as_mut_ptr(), top) };
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
/// Every frame between the caller and the innermost [`call`] (compiled code and entry
/// points) owns nothing that needs dropping and holds no borrow of runtime state.
pub unsafe fn raise(code: u32) -> ! {
    let jb = CURRENT.load(Ordering::SeqCst);
    if jb == 0 {
        crate::fatal(format_args!("trap {code} outside of Wasm"));
    }
    // SAFETY: `jb` is the live `JmpBuf` of the innermost `call`, whose frame is below us.
    unsafe { jump::longjmp(jb as *mut JmpBuf, code as u64) }
}

/// Raise `StackOverflow` when called on the Wasm stack too close to its guard.
///
/// # Safety
///
/// Called first thing by an entry point, before it owns or borrows anything.
#[inline(always)]
pub unsafe fn stack_check() {
    let region = STACK_REGION.load(Ordering::Relaxed);
    let rsp: usize;
    // SAFETY: reads `rsp` into a register; no memory access, no flags changed.
    unsafe {
        core::arch::asm!("mov {}, rsp", out(reg) rsp, options(nomem, nostack, preserves_flags))
    };
    if region != 0 && (region..region + STACK_GUARD + ENTRY_STACK_RESERVE).contains(&rsp) {
        // SAFETY: the caller owns and borrows nothing yet (the function's contract).
        unsafe { raise(TrapCode::StackOverflow as u32) }
    }
}

/// The ranges the fault handler decides by, now.
fn layout() -> Layout {
    let region = STACK_REGION.load(Ordering::Relaxed);
    Layout {
        code: CODE_START.load(Ordering::Relaxed)..CODE_END.load(Ordering::Relaxed),
        memories: crate::memory::region().map_or(0..0, |(a, b)| a..b),
        stack_guard: if region == 0 {
            0..0
        } else {
            region..region + STACK_GUARD
        },
    }
}

extern "C" fn on_fault(signal: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    let uc = ctx as *mut libc::ucontext_t;
    // SAFETY: the kernel passes a valid `siginfo_t` and `ucontext_t` to an SA_SIGINFO
    // handler; for these four signals `si_addr` is the field that is set.
    let (code, addr, pc) = unsafe {
        (
            (*info).si_code,
            (*info).si_addr() as usize,
            (*uc).uc_mcontext.gregs[libc::REG_RIP as usize] as usize,
        )
    };
    let fault = Fault {
        signal,
        code,
        addr,
        pc,
    };
    let jb = CURRENT.load(Ordering::SeqCst);
    match traps::classify(&fault, &layout(), jb != 0) {
        Some(trap) => {
            // Resume at the longjmp, as if compiled code had called `raise`: it restores
            // `rsp` from the buffer before it touches the stack. Returning from the handler
            // restores the signal mask.
            // SAFETY: as above; the registers are the interrupted context's, written back
            // by `sigreturn`.
            unsafe {
                let gregs = &mut (*uc).uc_mcontext.gregs;
                gregs[libc::REG_RIP as usize] = jump::longjmp_address() as i64;
                gregs[libc::REG_RDI as usize] = jb as i64;
                gregs[libc::REG_RSI as usize] = trap as u32 as i64;
            }
        }
        None => crate::harness::fault_exit(&fault),
    }
}

/// Install the fault handlers on an alternate stack, with `code` as the range of compiled
/// Wasm code.
pub fn install(code: core::ops::Range<usize>) {
    CODE_START.store(code.start, Ordering::Relaxed);
    CODE_END.store(code.end, Ordering::Relaxed);
    // SAFETY: a fresh anonymous mapping for the alternate signal stack, handed to
    // `sigaltstack` and never unmapped; the handlers are `extern "C"` functions of the
    // SA_SIGINFO signature; SIGPIPE is ignored so that a closed stdout is a write error
    // (which the program may ignore), as Wasmtime has it.
    unsafe {
        let stack = libc::mmap(
            core::ptr::null_mut(),
            SIGNAL_STACK,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        if stack == libc::MAP_FAILED {
            crate::fatal(format_args!("cannot map the signal stack"));
        }
        let ss = libc::stack_t {
            ss_sp: stack,
            ss_flags: 0,
            ss_size: SIGNAL_STACK,
        };
        if libc::sigaltstack(&ss, core::ptr::null_mut()) != 0 {
            crate::fatal(format_args!("sigaltstack failed"));
        }
        for signal in [libc::SIGSEGV, libc::SIGBUS, libc::SIGFPE, libc::SIGILL] {
            let mut sa: libc::sigaction = core::mem::zeroed();
            sa.sa_sigaction = on_fault as *const () as usize;
            sa.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
            libc::sigemptyset(&mut sa.sa_mask);
            if libc::sigaction(signal, &sa, core::ptr::null_mut()) != 0 {
                crate::fatal(format_args!("sigaction failed"));
            }
        }
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
}

/// The conservative roots of a collection: the callee-saved registers and the Wasm stack
/// from the caller's stack pointer up, when the caller runs on it
/// (`hako_kernel::jump::scan_registers_and_stack`).
pub fn scan_stack(f: &mut dyn FnMut(u64)) {
    let region = STACK_REGION.load(Ordering::Acquire);
    let stack = (region != 0).then(|| {
        let lo = (region + STACK_GUARD) as u64;
        (lo, lo + STACK_SIZE as u64)
    });
    // SAFETY: `[lo, lo + STACK_SIZE)` is the read-write part of the Wasm stack region,
    // mapped once `STACK_REGION` is set and never unmapped.
    unsafe { hako_kernel::jump::scan_registers_and_stack(stack, f) }
}
