//! Which faults are Wasm traps: the decision the signal handler makes, as safe code with
//! unit tests. A fault is a trap only when the faulting instruction is compiled Wasm code
//! (the linked object's code, between the markers the runner links around it) and Wasm is
//! running; then an access in the linear-memory reservation is `MemoryOutOfBounds`, one in
//! the Wasm stack's guard `StackOverflow`, an integer division fault the matching trap and
//! an invalid instruction `Unreachable`. Anything else is a bug of the runtime or the
//! compiler, and the process ends with status 70 rather than pose as a Wasm trap.

use core::ops::Range;
use hako_abi::trap::TrapCode;

/// `si_code` of SIGFPE for an integer division by zero and an integer overflow (Linux's
/// `asm-generic/siginfo.h`; the `libc` crate does not define them).
pub const FPE_INTDIV: i32 = 1;
pub const FPE_INTOVF: i32 = 2;

/// A synchronous fault, as the signal handler sees it.
#[derive(Debug, Clone, Copy)]
pub struct Fault {
    pub signal: i32,
    /// `si_code`.
    pub code: i32,
    /// `si_addr`: the address accessed (SIGSEGV, SIGBUS) or the instruction (SIGFPE,
    /// SIGILL).
    pub addr: usize,
    /// The faulting instruction.
    pub pc: usize,
}

/// The address ranges that decide.
#[derive(Debug, Clone, Default)]
pub struct Layout {
    /// Compiled Wasm code.
    pub code: Range<usize>,
    /// The linear-memory reservation (empty before the first memory).
    pub memories: Range<usize>,
    /// The Wasm stack's guard.
    pub stack_guard: Range<usize>,
}

/// The trap `fault` is, or `None` when it is not the program's.
pub fn classify(fault: &Fault, layout: &Layout, in_wasm: bool) -> Option<TrapCode> {
    if !in_wasm || !layout.code.contains(&fault.pc) {
        return None;
    }
    match fault.signal {
        libc::SIGSEGV | libc::SIGBUS => {
            if layout.memories.contains(&fault.addr) {
                Some(TrapCode::MemoryOutOfBounds)
            } else if layout.stack_guard.contains(&fault.addr) {
                Some(TrapCode::StackOverflow)
            } else {
                None
            }
        }
        libc::SIGFPE => Some(if fault.code == FPE_INTDIV {
            TrapCode::IntegerDivideByZero
        } else {
            TrapCode::IntegerOverflow
        }),
        libc::SIGILL => Some(TrapCode::Unreachable),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout() -> Layout {
        Layout {
            code: 0x1000..0x2000,
            memories: 0x10_0000..0x20_0000,
            stack_guard: 0x8000..0x9000,
        }
    }

    fn segv(addr: usize, pc: usize) -> Fault {
        Fault {
            signal: libc::SIGSEGV,
            code: 0,
            addr,
            pc,
        }
    }

    #[test]
    fn wasm_faults_are_traps() {
        let l = layout();
        assert_eq!(
            classify(&segv(0x10_0010, 0x1800), &l, true),
            Some(TrapCode::MemoryOutOfBounds)
        );
        assert_eq!(
            classify(&segv(0x8ff8, 0x1000), &l, true),
            Some(TrapCode::StackOverflow)
        );
        let fpe = |code| Fault {
            signal: libc::SIGFPE,
            code,
            addr: 0x1234,
            pc: 0x1234,
        };
        assert_eq!(
            classify(&fpe(FPE_INTDIV), &l, true),
            Some(TrapCode::IntegerDivideByZero)
        );
        assert_eq!(
            classify(&fpe(FPE_INTOVF), &l, true),
            Some(TrapCode::IntegerOverflow)
        );
        let ill = Fault {
            signal: libc::SIGILL,
            code: 0,
            addr: 0x1500,
            pc: 0x1500,
        };
        assert_eq!(classify(&ill, &l, true), Some(TrapCode::Unreachable));
    }

    #[test]
    fn other_faults_are_bugs() {
        let l = layout();
        // Not compiled code: the runtime itself touched a guard page.
        assert_eq!(classify(&segv(0x10_0010, 0x2000), &l, true), None);
        // Compiled code, but a wild address (a null pointer).
        assert_eq!(classify(&segv(0, 0x1800), &l, true), None);
        // No Wasm running.
        assert_eq!(classify(&segv(0x10_0010, 0x1800), &l, false), None);
        // Nothing is compiled code in a process without markers.
        assert_eq!(
            classify(&segv(0x10_0010, 0x1800), &Layout::default(), true),
            None
        );
    }
}
