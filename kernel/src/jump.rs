//! Entering compiled code and leaving it on a trap, setjmp/longjmp style, for every
//! platform (x86_64 System V): [`enter`] saves the callee-saved registers and `rsp` in a
//! [`JmpBuf`], optionally switches to another stack, and calls the code; [`longjmp`] comes
//! back to that point from anywhere below it with a trap code. Which stack, and how a trap
//! finds the innermost [`JmpBuf`], is the platform's (`hw::wasm` in the kernel, the Linux
//! runtime's `wasm` module).

use core::arch::global_asm;
use hako_abi::vm::{ValRaw, VmContext};

global_asm!(
    r#"
    .section .text.hako_wasm, "ax"
    .global hako_wasm_enter
hako_wasm_enter:
    mov [rdi], rbx
    mov [rdi + 8], rbp
    mov [rdi + 16], r12
    mov [rdi + 24], r13
    mov [rdi + 32], r14
    mov [rdi + 40], r15
    mov [rdi + 48], rsp
    mov rbx, rdi
    test r8, r8
    jz 2f
    mov rsp, r8
2:
    and rsp, -16
    mov rax, rsi
    mov rdi, rdx
    mov rsi, rcx
    call rax
    mov rdi, rbx
    mov rax, -1
    jmp 3f

    .global hako_wasm_longjmp
hako_wasm_longjmp:
    mov rax, rsi
3:
    mov rbx, [rdi]
    mov rbp, [rdi + 8]
    mov r12, [rdi + 16]
    mov r13, [rdi + 24]
    mov r14, [rdi + 32]
    mov r15, [rdi + 40]
    mov rsp, [rdi + 48]
    ret
    .text
"#
);

/// Callee-saved registers and `rsp` at an entry into Wasm.
#[repr(C)]
#[derive(Debug, Default)]
pub struct JmpBuf {
    regs: [u64; 7],
}

/// What [`enter`] returns when the code returned normally.
pub const RETURNED: u64 = u64::MAX;

extern "C" {
    fn hako_wasm_enter(
        jb: *mut JmpBuf,
        code: *const u8,
        vmctx: *mut VmContext,
        values: *mut ValRaw,
        stack_top: u64,
    ) -> u64;
    fn hako_wasm_longjmp(jb: *mut JmpBuf, code: u64) -> !;
}

/// Save the registers to `jb`, switch to `stack_top` (unless 0: stay on this stack), and
/// call `code(vmctx, values)`. Returns [`RETURNED`], or the code passed to [`longjmp`].
///
/// # Safety
///
/// `code` is compiled code with the array-call signature over the values `values` points
/// to (or a native function taking only `vmctx`); `stack_top` is 0 or the 16-byte-aligned
/// top of a mapped stack nothing else uses; `jb` stays valid until this returns, and
/// nothing longjmps to it after that.
pub unsafe fn enter(
    jb: *mut JmpBuf,
    code: *const u8,
    vmctx: *mut VmContext,
    values: *mut ValRaw,
    stack_top: u64,
) -> u64 {
    // SAFETY: see the function's contract.
    unsafe { hako_wasm_enter(jb, code, vmctx, values, stack_top) }
}

/// Return from the [`enter`] that saved `jb`, with `code`.
///
/// # Safety
///
/// `jb` is the buffer of an [`enter`] still running on this thread; every frame between
/// here and it owns nothing that needs dropping.
pub unsafe fn longjmp(jb: *mut JmpBuf, code: u64) -> ! {
    // SAFETY: see the function's contract.
    unsafe { hako_wasm_longjmp(jb, code) }
}

/// The address of the longjmp routine, for a signal handler that resumes there with `rdi`
/// set to the [`JmpBuf`] and `rsi` to the code (it touches no stack before it restores
/// `rsp` from the buffer).
pub fn longjmp_address() -> usize {
    hako_wasm_longjmp as *const () as usize
}

/// Calls `f` with the callee-saved registers and, when the caller runs on the Wasm stack
/// `stack` (`[lo, top)`), every word from the stack pointer to `top`: the conservative roots
/// of a collection (compiled code keeps references in registers and frames the collector
/// has no map of). Each platform's `scan_stack` passes its Wasm stack.
///
/// # Safety
///
/// `stack`, when given, is mapped and readable for as long as this runs.
#[inline(never)]
pub unsafe fn scan_registers_and_stack(stack: Option<(u64, u64)>, f: &mut dyn FnMut(u64)) {
    let (rbx, rbp, r12, r13, r14, r15, rsp): (u64, u64, u64, u64, u64, u64, u64);
    // SAFETY: copies registers into registers; no memory access, no flags changed.
    unsafe {
        core::arch::asm!(
            "mov {0}, rbx",
            "mov {1}, rbp",
            "mov {2}, r12",
            "mov {3}, r13",
            "mov {4}, r14",
            "mov {5}, r15",
            "mov {6}, rsp",
            out(reg) rbx, out(reg) rbp, out(reg) r12, out(reg) r13, out(reg) r14,
            out(reg) r15, out(reg) rsp,
            options(nomem, nostack, preserves_flags)
        )
    };
    for r in [rbx, rbp, r12, r13, r14, r15] {
        f(r);
    }
    let Some((lo, top)) = stack else {
        return;
    };
    if !(lo..top).contains(&rsp) {
        return;
    }
    let mut p = rsp & !7;
    while p < top {
        // SAFETY: `[lo, top)` is mapped and readable (the contract) and `p` is 8-aligned
        // inside it; the words above `rsp` belong to live frames, read only.
        f(unsafe { core::ptr::read_volatile(p as *const u64) });
        p += 8;
    }
}
