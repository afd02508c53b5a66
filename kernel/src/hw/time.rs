//! Time: the TSC (calibrated from CPUID 0x15/0x16, the hypervisor timing leaf, or the PIT)
//! for the monotonic clock, and the CMOS RTC (read once) for the real-time clock.

use super::cell::KernelCell;
use super::cpu::cpuid;
use crate::clock::{from_bcd, unix_seconds};
use x86_64::instructions::port::Port;

#[derive(Debug, Clone, Copy)]
struct Calib {
    tsc_hz: u64,
    /// TSC at kernel start.
    tsc0: u64,
    /// Unix time in ns at `tsc0`, once read.
    realtime0: Option<u64>,
}

static CALIB: KernelCell<Option<Calib>> = KernelCell::new(None);
static TSC_START: KernelCell<u64> = KernelCell::new(0);

pub fn rdtsc() -> u64 {
    // SAFETY: RDTSC only reads the time-stamp counter.
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// Remember the TSC at boot.
pub fn init() {
    TSC_START.with(|t| *t = rdtsc());
}

fn tsc_hz_from_cpuid() -> Option<u64> {
    let max = cpuid(0, 0).0;
    if max >= 0x15 {
        let (den, num, crystal, _) = cpuid(0x15, 0);
        if den != 0 && num != 0 && crystal != 0 {
            return Some(crystal as u64 * num as u64 / den as u64);
        }
    }
    // Hypervisor timing leaf (QEMU/KVM, VMware): EAX = TSC kHz.
    let (hv_max, _, _, _) = cpuid(0x4000_0000, 0);
    if cpuid(1, 0).2 & (1 << 31) != 0 && (0x4000_0010..0x4001_0000).contains(&hv_max) {
        let khz = cpuid(0x4000_0010, 0).0;
        if khz != 0 {
            return Some(khz as u64 * 1000);
        }
    }
    None
}

/// Measure the TSC against PIT channel 0 (mode 2, free-running), about 10 ms.
fn tsc_hz_from_pit() -> Option<u64> {
    const PIT_HZ: u64 = 1_193_182;
    let mut cmd: Port<u8> = Port::new(0x43);
    let mut ch0: Port<u8> = Port::new(0x40);
    let read = |cmd: &mut Port<u8>, ch0: &mut Port<u8>| -> u16 {
        // SAFETY: PIT latch command and counter reads on the standard PIT ports.
        unsafe {
            cmd.write(0x00);
            let lo = ch0.read() as u16;
            let hi = ch0.read() as u16;
            hi << 8 | lo
        }
    };
    // SAFETY: programming PIT channel 0 (interrupts are never enabled, so its IRQ is unused).
    unsafe {
        cmd.write(0x34); // channel 0, lo/hi, mode 2
        ch0.write(0);
        ch0.write(0); // reload 65536
    }
    let mut last = read(&mut cmd, &mut ch0);
    let t0 = rdtsc();
    let mut ticks: u64 = 0;
    let target = PIT_HZ / 100;
    let mut spins: u64 = 0;
    while ticks < target {
        let now = read(&mut cmd, &mut ch0);
        ticks += last.wrapping_sub(now) as u64;
        last = now;
        spins += 1;
        if spins > 10_000_000 {
            return None; // no PIT
        }
    }
    let t1 = rdtsc();
    if ticks == 0 {
        return None;
    }
    Some((t1 - t0) * PIT_HZ / ticks)
}

fn calib() -> Calib {
    if let Some(c) = CALIB.with(|c| *c) {
        return c;
    }
    let tsc_hz = tsc_hz_from_cpuid()
        .or_else(tsc_hz_from_pit)
        .unwrap_or(1_000_000_000);
    let c = Calib {
        tsc_hz,
        tsc0: TSC_START.with(|t| *t),
        realtime0: None,
    };
    CALIB.with(|x| *x = Some(c));
    c
}

/// TSC frequency in Hz.
pub fn tsc_hz() -> u64 {
    calib().tsc_hz
}

/// Nanoseconds since boot.
pub fn monotonic_ns() -> u64 {
    let c = calib();
    let d = rdtsc().wrapping_sub(c.tsc0) as u128;
    (d * 1_000_000_000 / c.tsc_hz as u128) as u64
}

fn cmos(reg: u8) -> u8 {
    let mut idx: Port<u8> = Port::new(0x70);
    let mut data: Port<u8> = Port::new(0x71);
    // SAFETY: reading a CMOS register through the standard index/data ports.
    unsafe {
        idx.write(reg);
        data.read()
    }
}

fn read_rtc() -> u64 {
    // Wait for no update in progress, read twice until stable.
    let snap = || {
        let mut n = 0;
        while cmos(0x0a) & 0x80 != 0 && n < 1_000_000 {
            n += 1;
        }
        [
            cmos(0x00),
            cmos(0x02),
            cmos(0x04),
            cmos(0x07),
            cmos(0x08),
            cmos(0x09),
            cmos(0x32),
        ]
    };
    let mut a = snap();
    for _ in 0..4 {
        let b = snap();
        if a == b {
            break;
        }
        a = b;
    }
    let status_b = cmos(0x0b);
    let bcd = status_b & 0x04 == 0;
    let sec = from_bcd(a[0], bcd);
    let min = from_bcd(a[1], bcd);
    let pm = a[2] & 0x80 != 0;
    let mut hour = from_bcd(a[2] & 0x7f, bcd);
    if status_b & 0x02 == 0 {
        // 12-hour clock
        hour %= 12;
        if pm {
            hour += 12;
        }
    }
    let day = from_bcd(a[3], bcd);
    let month = from_bcd(a[4], bcd);
    let century = match from_bcd(a[6], bcd) {
        c @ 19..=30 => c,
        _ => 20,
    };
    let year = century as i64 * 100 + from_bcd(a[5], bcd) as i64;
    if !(1..=12).contains(&month) || day == 0 {
        return 0;
    }
    let s = unix_seconds(year, month, day, hour, min, sec);
    if s < 0 {
        0
    } else {
        s as u64 * 1_000_000_000
    }
}

/// Nanoseconds since the Unix epoch.
pub fn realtime_ns() -> u64 {
    let mono = monotonic_ns();
    let base = CALIB.with(|c| c.as_ref().and_then(|c| c.realtime0));
    let base = match base {
        Some(b) => b,
        None => {
            let b = read_rtc().saturating_sub(mono);
            CALIB.with(|c| {
                if let Some(c) = c.as_mut() {
                    c.realtime0 = Some(b);
                }
            });
            b
        }
    };
    base + mono
}
