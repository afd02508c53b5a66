//! Interrupts, used for one thing: to let the CPU sleep ([`halt_until`]) until a device
//! interrupt or a timer, so that a program waiting for the network costs the host no CPU.
//!
//! The local APIC (xAPIC, memory-mapped at its `IA32_APIC_BASE`, 0xFEE00000) is enabled
//! with its one-shot timer on [`TIMER_VECTOR`] (calibrated against the TSC at [`init`]);
//! the 8259 PICs and LINT0 are masked. [`route_virtio`] points a virtio-mmio device's GSI
//! at [`DEVICE_VECTOR`] through the IOAPIC (0xFEC00000 for GSIs 0-23; QEMU microvm's second
//! IOAPIC, 0xFEC10000, for GSIs 24-47), level-triggered, active high, to this CPU.
//!
//! Interrupts are enabled (IF=1) only inside [`halt_until`], between its `sti` and the
//! `cli` after its `hlt`, so compiled code and every other kernel path run with IF=0 as
//! before. The stubs are assembly: the device stub acknowledges the interrupt at the
//! virtio device ([`ACK_BASE`]: reading `InterruptStatus` and writing it to
//! `InterruptACK`, which lowers the level-triggered line), and both send the local APIC an
//! EOI and `iretq` back to the instruction after `hlt`.

use super::cell::KernelCell;
use super::cpu;
use super::time;
use core::arch::{asm, global_asm};
use core::ptr::{read_volatile, write_volatile};
use core::sync::atomic::{AtomicU64, Ordering};
use x86_64::instructions::port::Port;
use x86_64::registers::model_specific::Msr;

/// The vector of the routed device interrupt.
pub const DEVICE_VECTOR: u8 = 0x30;
/// The local APIC timer's vector.
pub const TIMER_VECTOR: u8 = 0x31;
/// The local APIC's spurious-interrupt vector (its low four bits set, as old APICs need).
pub const SPURIOUS_VECTOR: u8 = 0x3f;
/// The longest single halt.
pub const MAX_HALT_NS: u64 = 1_000_000_000;

const IA32_APIC_BASE: u32 = 0x1b;
const APIC_GLOBAL_ENABLE: u64 = 1 << 11;
const APIC_X2APIC: u64 = 1 << 10;

mod lapic {
    pub const ID: usize = 0x20;
    pub const TPR: usize = 0x80;
    pub const EOI: usize = 0xb0;
    pub const SVR: usize = 0xf0;
    pub const LVT_TIMER: usize = 0x320;
    pub const LVT_THERMAL: usize = 0x330;
    pub const LVT_PERF: usize = 0x340;
    pub const LVT_LINT0: usize = 0x350;
    pub const LVT_ERROR: usize = 0x370;
    pub const TIMER_INITIAL: usize = 0x380;
    pub const TIMER_CURRENT: usize = 0x390;
    pub const TIMER_DIVIDE: usize = 0x3e0;
    pub const MASKED: u32 = 1 << 16;
    /// Divide by 1.
    pub const DIVIDE_1: u32 = 0b1011;
}

const IOAPIC: [(u64, u32); 2] = [(0xfec0_0000, 0), (0xfec1_0000, 24)];

/// The virtio-mmio window whose interrupt [`DEVICE_VECTOR`] acknowledges (0: none).
#[no_mangle]
static HAKO_IRQ_ACK_BASE: AtomicU64 = AtomicU64::new(0);
/// The local APIC's EOI register (0 before [`init`]).
#[no_mangle]
static HAKO_IRQ_EOI: AtomicU64 = AtomicU64::new(0);
/// Interrupts taken.
#[no_mangle]
static HAKO_IRQ_COUNT: AtomicU64 = AtomicU64::new(0);

global_asm!(
    r#"
    .section .text.hako_irq, "ax"
    .global hako_irq_device
hako_irq_device:
    push rax
    push rcx
    mov rax, qword ptr [rip + HAKO_IRQ_ACK_BASE]
    test rax, rax
    jz 2f
    mov ecx, dword ptr [rax + 0x60]
    mov dword ptr [rax + 0x64], ecx
2:
    mov rax, qword ptr [rip + HAKO_IRQ_EOI]
    mov dword ptr [rax], 0
    lock inc qword ptr [rip + HAKO_IRQ_COUNT]
    pop rcx
    pop rax
    iretq

    .global hako_irq_timer
hako_irq_timer:
    push rax
    mov rax, qword ptr [rip + HAKO_IRQ_EOI]
    mov dword ptr [rax], 0
    lock inc qword ptr [rip + HAKO_IRQ_COUNT]
    pop rax
    iretq

    .global hako_irq_spurious
hako_irq_spurious:
    iretq
    .text
"#
);

extern "C" {
    fn hako_irq_device();
    fn hako_irq_timer();
    fn hako_irq_spurious();
}

#[derive(Debug, Clone, Copy)]
struct Apic {
    base: usize,
    /// Timer ticks per second (divide by 1).
    hz: u64,
}

static APIC: KernelCell<Option<Apic>> = KernelCell::new(None);

impl Apic {
    fn read(&self, reg: usize) -> u32 {
        // SAFETY: `base` is the local APIC's register page (from IA32_APIC_BASE, below
        // 4 GiB, so identity-mapped); its registers are 32-bit, 16-byte aligned.
        unsafe { read_volatile((self.base + reg) as *const u32) }
    }
    fn write(&self, reg: usize, v: u32) {
        // SAFETY: as in `read`; APIC registers configure interrupt delivery only.
        unsafe { write_volatile((self.base + reg) as *mut u32, v) }
    }
}

fn ioapic_write(base: u64, reg: u32, v: u32) {
    // SAFETY: IOREGSEL (offset 0) and IOWIN (0x10) of an IOAPIC whose presence was
    // checked (its version register reads sensibly), identity-mapped below 4 GiB.
    unsafe {
        write_volatile(base as *mut u32, reg);
        write_volatile((base + 0x10) as *mut u32, v);
    }
}

fn ioapic_read(base: u64, reg: u32) -> u32 {
    // SAFETY: as in `ioapic_write`; selecting and reading a register has no side effect.
    unsafe {
        write_volatile(base as *mut u32, reg);
        read_volatile((base + 0x10) as *const u32)
    }
}

/// Enable the local APIC and its timer (interrupts stay disabled: IF=0). Without a local
/// APIC (CPUID), [`halt_until`] returns at once and callers poll.
pub fn init() {
    if APIC.with(|a| a.is_some()) {
        return;
    }
    if cpu::cpuid(1, 0).3 & (1 << 9) == 0 {
        return;
    }
    let mut msr = Msr::new(IA32_APIC_BASE);
    // SAFETY: IA32_APIC_BASE exists when CPUID reports an APIC; reading it has no effect.
    let v = unsafe { msr.read() };
    if v & APIC_X2APIC != 0 {
        // Left in x2APIC mode by firmware: not what this driver speaks.
        return;
    }
    if v & APIC_GLOBAL_ENABLE == 0 {
        // SAFETY: enabling the APIC at its current base; no interrupt is taken (IF=0).
        unsafe { msr.write(v | APIC_GLOBAL_ENABLE) };
    }
    let base = (v & 0xf_ffff_f000) as usize;
    if base as u64 >= crate::layout::IDENTITY_LIMIT {
        return;
    }
    // The legacy PICs: every line masked (they are not used; LINT0 is masked too).
    // SAFETY: OCW1 writes to the 8259 data ports only mask their inputs.
    unsafe {
        Port::<u8>::new(0x21).write(0xff);
        Port::<u8>::new(0xa1).write(0xff);
    }
    for (vector, stub) in [
        (DEVICE_VECTOR, hako_irq_device as unsafe extern "C" fn()),
        (TIMER_VECTOR, hako_irq_timer),
        (SPURIOUS_VECTOR, hako_irq_spurious),
    ] {
        // SAFETY: each stub saves what it uses, sends an EOI where one is due, and returns
        // with `iretq` (see the assembly above).
        unsafe { cpu::set_interrupt_gate(vector, stub) };
    }
    let mut apic = Apic { base, hz: 0 };
    HAKO_IRQ_EOI.store((base + lapic::EOI) as u64, Ordering::SeqCst);
    apic.write(lapic::SVR, 0x100 | u32::from(SPURIOUS_VECTOR));
    apic.write(lapic::TPR, 0);
    for lvt in [
        lapic::LVT_LINT0,
        lapic::LVT_ERROR,
        lapic::LVT_PERF,
        lapic::LVT_THERMAL,
    ] {
        apic.write(lvt, lapic::MASKED);
    }
    apic.write(lapic::TIMER_DIVIDE, lapic::DIVIDE_1);
    // One-shot: calibrate against the TSC over about 1 ms, the timer masked.
    apic.write(lapic::LVT_TIMER, lapic::MASKED | u32::from(TIMER_VECTOR));
    let tsc_hz = time::tsc_hz();
    apic.write(lapic::TIMER_INITIAL, u32::MAX);
    let t0 = time::rdtsc();
    while time::rdtsc().wrapping_sub(t0) < tsc_hz / 1000 {
        core::hint::spin_loop();
    }
    let ticks = u32::MAX - apic.read(lapic::TIMER_CURRENT);
    let elapsed = time::rdtsc().wrapping_sub(t0).max(1);
    apic.write(lapic::TIMER_INITIAL, 0);
    apic.hz = (u128::from(ticks) * u128::from(tsc_hz) / u128::from(elapsed)) as u64;
    if apic.hz == 0 {
        apic.hz = 1_000_000_000;
    }
    apic.write(lapic::LVT_TIMER, u32::from(TIMER_VECTOR));
    apic.write(lapic::EOI, 0);
    APIC.with(|a| *a = Some(apic));
}

/// Deliver the level-triggered interrupt `gsi` of the virtio-mmio device at `base` to
/// [`DEVICE_VECTOR`] (one device: a second call replaces the first's acknowledgement).
pub fn route_virtio(base: u64, gsi: u32) -> Result<(), &'static str> {
    let Some(apic) = APIC.with(|a| *a) else {
        return Err("no local APIC");
    };
    let Some(&(ioapic, first)) = IOAPIC.iter().rev().find(|(_, first)| gsi >= *first) else {
        return Err("no IOAPIC for the interrupt");
    };
    let version = ioapic_read(ioapic, 1);
    let pins = (version >> 16 & 0xff) + 1;
    if version == u32::MAX || gsi - first >= pins {
        return Err("no IOAPIC pin for the interrupt");
    }
    let pin = gsi - first;
    HAKO_IRQ_ACK_BASE.store(base, Ordering::SeqCst);
    let dest = apic.read(lapic::ID) >> 24;
    // High half: destination APIC id; low half: vector, fixed delivery, physical
    // destination, active high, level-triggered, unmasked.
    ioapic_write(ioapic, 0x11 + 2 * pin, dest << 24);
    ioapic_write(ioapic, 0x10 + 2 * pin, u32::from(DEVICE_VECTOR) | 1 << 15);
    Ok(())
}

/// Whether QEMU microvm's second IOAPIC (GSIs 24-47, for its virtio-mmio windows when
/// ACPI is on) is there.
pub fn second_ioapic() -> bool {
    let version = ioapic_read(IOAPIC[1].0, 1);
    let max_entry = version >> 16 & 0xff;
    (0x11..=0x20).contains(&(version & 0xff)) && max_entry > 0 && max_entry < 0xff
}

/// Interrupts taken so far.
pub fn interrupts() -> u64 {
    HAKO_IRQ_COUNT.load(Ordering::Relaxed)
}

/// Whether [`init`] found a local APIC (else [`halt_until`] does not halt).
pub fn available() -> bool {
    APIC.with(|a| a.is_some())
}

/// Halt until an interrupt (a routed device, or the timer set for `deadline_ns` on the
/// monotonic clock, at most [`MAX_HALT_NS`] ahead). Returns at once when the deadline has
/// passed or there is no local APIC; may return early (callers loop).
pub fn halt_until(deadline_ns: u64) {
    let Some(apic) = APIC.with(|a| *a) else {
        return;
    };
    let now = time::monotonic_ns();
    if deadline_ns <= now {
        return;
    }
    let delta = (deadline_ns - now).min(MAX_HALT_NS);
    let ticks =
        (u128::from(delta) * u128::from(apic.hz) / 1_000_000_000).clamp(1, u128::from(u32::MAX));
    apic.write(lapic::TIMER_INITIAL, ticks as u32);
    // SAFETY: `sti` takes effect after the next instruction, so an interrupt already
    // pending is taken in `hlt` (which it ends) and none can slip in between; every vector
    // that can arrive has a gate whose stub returns here with `iretq`; `cli` restores the
    // kernel's interrupts-off state. The handlers only touch their own statics and device
    // registers, and push onto this stack (the target has no red zone).
    unsafe { asm!("sti", "hlt", "cli") };
    apic.write(lapic::TIMER_INITIAL, 0);
}
