//! TSS (IST stacks) in the boot GDT, IDT and the CPU exception handler; CPUID,
//! RDRAND/RDSEED. The IDT has 64 gates: the 32 exceptions and the interrupt vectors
//! `super::irq` installs with [`set_interrupt_gate`].
//!
//! Exception stubs are plain assembly (stable Rust has no `x86-interrupt` ABI): each pushes
//! its vector (and a zero error code when the CPU pushes none), saves the general registers
//! and calls [`hako_exception`], which never returns: it either unwinds the running Wasm
//! call with a trap (see [`super::wasm`]) or reports a panic and exits.

use alloc::boxed::Box;
use core::arch::{asm, global_asm};
use x86_64::instructions::tables::{lidt, load_tss};
use x86_64::registers::control::Cr2;
use x86_64::structures::gdt::{Descriptor, SegmentSelector};
use x86_64::structures::tss::TaskStateSegment;
use x86_64::structures::DescriptorTablePointer;
use x86_64::VirtAddr;

const DOUBLE_FAULT_IST: u16 = 0;
const PAGE_FAULT_IST: u16 = 1;
const OTHER_IST: u16 = 2;
const IST_STACK: usize = 32 * 1024;

global_asm!(
    r#"
    .macro HAKO_EXC_NOERR n
    .global hako_exc_\n
hako_exc_\n:
    push 0
    push \n
    jmp hako_exc_common
    .endm
    .macro HAKO_EXC_ERR n
    .global hako_exc_\n
hako_exc_\n:
    push \n
    jmp hako_exc_common
    .endm

    .section .text.hako_exc, "ax"
    HAKO_EXC_NOERR 0
    HAKO_EXC_NOERR 1
    HAKO_EXC_NOERR 2
    HAKO_EXC_NOERR 3
    HAKO_EXC_NOERR 4
    HAKO_EXC_NOERR 5
    HAKO_EXC_NOERR 6
    HAKO_EXC_NOERR 7
    HAKO_EXC_ERR 8
    HAKO_EXC_ERR 10
    HAKO_EXC_ERR 11
    HAKO_EXC_ERR 12
    HAKO_EXC_ERR 13
    HAKO_EXC_ERR 14
    HAKO_EXC_NOERR 16
    HAKO_EXC_ERR 17
    HAKO_EXC_NOERR 18
    HAKO_EXC_NOERR 19
    HAKO_EXC_NOERR 20
    HAKO_EXC_ERR 21

hako_exc_common:
    push rax
    push rbx
    push rcx
    push rdx
    push rsi
    push rdi
    push rbp
    push r8
    push r9
    push r10
    push r11
    push r12
    push r13
    push r14
    push r15
    mov rdi, rsp
    cld
    and rsp, -16
    call hako_exception
    ud2
    .text
"#
);

/// What the exception stub saved, lowest address first.
#[repr(C)]
#[derive(Debug)]
pub struct ExceptionFrame {
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub r11: u64,
    pub r10: u64,
    pub r9: u64,
    pub r8: u64,
    pub rbp: u64,
    pub rdi: u64,
    pub rsi: u64,
    pub rdx: u64,
    pub rcx: u64,
    pub rbx: u64,
    pub rax: u64,
    pub vector: u64,
    pub error: u64,
    pub rip: u64,
    pub cs: u64,
    pub rflags: u64,
    pub rsp: u64,
    pub ss: u64,
}

extern "C" {
    fn hako_exc_0();
    fn hako_exc_1();
    fn hako_exc_2();
    fn hako_exc_3();
    fn hako_exc_4();
    fn hako_exc_5();
    fn hako_exc_6();
    fn hako_exc_7();
    fn hako_exc_8();
    fn hako_exc_10();
    fn hako_exc_11();
    fn hako_exc_12();
    fn hako_exc_13();
    fn hako_exc_14();
    fn hako_exc_16();
    fn hako_exc_17();
    fn hako_exc_18();
    fn hako_exc_19();
    fn hako_exc_20();
    fn hako_exc_21();
}

fn ist_stack() -> VirtAddr {
    // Not cleared: a stack is written before it is read.
    let stack = Box::leak(Box::<[u8]>::new_uninit_slice(IST_STACK));
    VirtAddr::from_ptr(stack.as_ptr_range().end).align_down(16u64)
}

/// The kernel code segment of the boot GDT (`hako_gdt` in the boot assembly).
const KERNEL_CODE: u16 = 0x08;
/// The TSS descriptor's slot in the boot GDT (two entries).
const TSS_SELECTOR: u16 = 0x18;

extern "C" {
    /// The GDT the boot assembly loaded: null, 64-bit code (0x08), data (0x10) and an empty
    /// 16-byte slot for the TSS (0x18).
    static mut hako_gdt: [u64; 5];
}

/// The TSS and the IDT: static, so that setting them up is a few stores (under TCG every
/// instruction run once costs its translation, and this runs on every boot).
struct Tables {
    tss: TaskStateSegment,
    idt: Idt,
}

static mut TABLES: Tables = Tables {
    tss: TaskStateSegment::new(),
    idt: Idt([Gate::MISSING; IDT_GATES]),
};

/// Give the boot GDT a TSS (IST stacks for double faults, page faults and the rest), load
/// the task register and the IDT. The code and data segments the boot assembly loaded stay.
pub fn init() {
    // SAFETY: `init` runs once, on the one CPU, before any exception can be taken, so
    // nothing else reads or writes `TABLES` or `hako_gdt` while they are set up here; the
    // CPU reads them (through TR, the GDTR and the IDTR) only after that, and they live
    // forever.
    let (tss, idt, gdt) = unsafe {
        let t = &mut *core::ptr::addr_of_mut!(TABLES);
        (
            &mut t.tss,
            &mut t.idt,
            &mut *core::ptr::addr_of_mut!(hako_gdt),
        )
    };
    tss.interrupt_stack_table[DOUBLE_FAULT_IST as usize] = ist_stack();
    tss.interrupt_stack_table[PAGE_FAULT_IST as usize] = ist_stack();
    tss.interrupt_stack_table[OTHER_IST as usize] = ist_stack();
    // SAFETY: the TSS is a static, so it lives (at this address) forever.
    let Descriptor::SystemSegment(low, high) = (unsafe { Descriptor::tss_segment_unchecked(tss) })
    else {
        unreachable!("a TSS descriptor is a system segment")
    };
    gdt[3] = low;
    gdt[4] = high;
    for &(vector, stub, ist) in STUBS {
        idt.0[usize::from(vector)] = Gate::new(stub as *const () as usize as u64, KERNEL_CODE, ist);
    }
    let pointer = DescriptorTablePointer {
        limit: (core::mem::size_of::<Idt>() - 1) as u16,
        base: VirtAddr::from_ptr(idt as *const Idt),
    };
    // SAFETY: the selector indexes the TSS descriptor just written into the loaded GDT,
    // for a TSS that lives forever; the IDT lives forever, and every present gate points at
    // an exception stub (see the assembly above) with the kernel code segment the boot
    // assembly loaded and an IST index of a stack set in the TSS.
    unsafe {
        load_tss(SegmentSelector(TSS_SELECTOR));
        lidt(&pointer);
    }
}

/// The exception vectors with a stub, their stubs and IST stacks (TSS indices). Filled in a
/// loop rather than field by field: under TCG every instruction run once costs its
/// translation, and this runs on every boot.
const STUBS: &[(u8, unsafe extern "C" fn(), u16)] = &[
    (0, hako_exc_0, OTHER_IST),
    (1, hako_exc_1, OTHER_IST),
    (2, hako_exc_2, OTHER_IST),
    (3, hako_exc_3, OTHER_IST),
    (4, hako_exc_4, OTHER_IST),
    (5, hako_exc_5, OTHER_IST),
    (6, hako_exc_6, OTHER_IST),
    (7, hako_exc_7, OTHER_IST),
    (8, hako_exc_8, DOUBLE_FAULT_IST),
    (10, hako_exc_10, OTHER_IST),
    (11, hako_exc_11, OTHER_IST),
    (12, hako_exc_12, OTHER_IST),
    (13, hako_exc_13, OTHER_IST),
    (14, hako_exc_14, PAGE_FAULT_IST),
    (16, hako_exc_16, OTHER_IST),
    (17, hako_exc_17, OTHER_IST),
    (18, hako_exc_18, OTHER_IST),
    (19, hako_exc_19, OTHER_IST),
    (20, hako_exc_20, OTHER_IST),
    (21, hako_exc_21, OTHER_IST),
];

/// Gates in the IDT: the 32 exceptions and the interrupt vectors below 64 (see
/// `super::irq`; interrupts are only ever enabled while the CPU halts).
const IDT_GATES: usize = 64;

#[repr(C, align(16))]
struct Idt([Gate; IDT_GATES]);

/// Point interrupt `vector` (32 to 63) at `stub`, without an IST stack (interrupts arrive
/// only while the kernel halts, on the stack it halts on).
///
/// # Safety
///
/// `stub` must be an interrupt stub: it preserves every register and returns with
/// `iretq` (after an EOI, if its interrupt source needs one).
pub unsafe fn set_interrupt_gate(vector: u8, stub: unsafe extern "C" fn()) {
    let v = usize::from(vector);
    assert!(
        (32..IDT_GATES).contains(&v),
        "interrupt vector {v} out of range"
    );
    // SAFETY: the kernel runs on one CPU with interrupts disabled and nothing else holds a
    // reference into `TABLES`; the CPU reads the gate only when the vector is raised, after
    // this store.
    let idt = unsafe { &mut (*core::ptr::addr_of_mut!(TABLES)).idt };
    idt.0[v] = Gate::interrupt(stub as *const () as usize as u64, KERNEL_CODE);
}

/// A 64-bit interrupt gate (Intel SDM vol. 3, 6.14.1).
#[derive(Clone, Copy)]
#[repr(C)]
struct Gate {
    offset_low: u16,
    selector: u16,
    /// Bits 0..3: IST index + 1 (0: none); 8..12: type (0xE, interrupt gate); 15: present.
    options: u16,
    offset_mid: u16,
    offset_high: u32,
    reserved: u32,
}

impl Gate {
    const MISSING: Gate = Gate {
        offset_low: 0,
        selector: 0,
        options: 0x0e00,
        offset_mid: 0,
        offset_high: 0,
        reserved: 0,
    };

    /// An interrupt gate without an IST stack.
    fn interrupt(handler: u64, selector: u16) -> Gate {
        Gate {
            options: 0x8e00,
            ..Gate::new(handler, selector, 0)
        }
    }

    fn new(handler: u64, selector: u16, ist: u16) -> Gate {
        Gate {
            offset_low: handler as u16,
            selector,
            options: 0x8e00 | (ist + 1),
            offset_mid: (handler >> 16) as u16,
            offset_high: (handler >> 32) as u32,
            reserved: 0,
        }
    }
}

/// The Rust side of every exception stub.
#[no_mangle]
extern "C" fn hako_exception(frame: &ExceptionFrame) -> ! {
    let cr2 = Cr2::read_raw();
    if frame.vector == 14 {
        // SAFETY: this is the page-fault handler.
        unsafe { super::wasm::page_fault(cr2) };
    }
    super::panic::fatal(format_args!(
        "cpu exception {} rip={:#x} cr2={:#x} error={:#x} rsp={:#x}",
        frame.vector, frame.rip, cr2, frame.error, frame.rsp
    ))
}

/// `cpuid(leaf, subleaf)` as (eax, ebx, ecx, edx).
pub fn cpuid(leaf: u32, sub: u32) -> (u32, u32, u32, u32) {
    let r = core::arch::x86_64::__cpuid_count(leaf, sub);
    (r.eax, r.ebx, r.ecx, r.edx)
}

/// A 64-bit hardware random number: RDSEED, else RDRAND, else `None`.
pub fn hw_random() -> Option<u64> {
    let has_rdrand = cpuid(1, 0).2 & (1 << 30) != 0;
    let has_rdseed = cpuid(0, 0).0 >= 7 && cpuid(7, 0).1 & (1 << 18) != 0;
    for _ in 0..64 {
        let (mut v, mut ok): (u64, u8);
        if has_rdseed {
            // SAFETY: RDSEED is supported (CPUID.7.0:EBX[18]); it only writes the registers.
            unsafe {
                asm!("rdseed {v}", "setc {ok}", v = out(reg) v, ok = out(reg_byte) ok, options(nomem, nostack))
            };
            if ok != 0 {
                return Some(v);
            }
        }
        if has_rdrand {
            // SAFETY: RDRAND is supported (CPUID.1:ECX[30]); it only writes the registers.
            unsafe {
                asm!("rdrand {v}", "setc {ok}", v = out(reg) v, ok = out(reg_byte) ok, options(nomem, nostack))
            };
            if ok != 0 {
                return Some(v);
            }
        }
        if !has_rdrand && !has_rdseed {
            return None;
        }
    }
    None
}
