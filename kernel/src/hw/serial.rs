//! COM1 (stdout, and stdin the other way), COM2 (stderr), COM3 (harness records) and
//! `isa-debug-exit`.

use super::cell::KernelCell;
use core::fmt::{self, Write};
use hako_abi::boot::{DEBUG_EXIT_PORT, HARNESS_PORT, STDERR_PORT, STDOUT_PORT};
use uart_16550::backend::PioBackend;
use uart_16550::Uart16550;
use x86_64::instructions::port::Port;

struct Ports {
    com: [Uart16550<PioBackend>; 3],
    /// Whether the port answered at set-up; output to a missing port is dropped (its line
    /// status register may never say it is ready).
    present: [bool; 3],
}

/// The UART driver for a standard COM port (constant: the driver only records the base).
const fn com(base: u16) -> Uart16550<PioBackend> {
    // SAFETY: COM1-3 are the standard ports, used by nothing else in the kernel.
    match unsafe { Uart16550::new_port(base) } {
        Ok(u) => u,
        Err(_) => panic!("a COM port base leaves room for its registers"),
    }
}

static PORTS: KernelCell<Ports> = KernelCell::new(Ports {
    com: [com(STDOUT_PORT), com(STDERR_PORT), com(HARNESS_PORT)],
    present: [false; 3],
});

/// Which serial port.
#[derive(Debug, Clone, Copy)]
pub enum Com {
    Stdout = 0,
    Stderr = 1,
    Harness = 2,
}

/// Set up the three ports: 8 data bits, no parity, one stop bit, interrupts off, FIFOs on
/// and cleared (the FIFO keeps QEMU from dropping bytes while the host side is not reading).
/// A port whose line control register does not read back is missing: its output is dropped.
///
/// This is done with three register writes per port rather than `Uart16550::init`, which
/// also probes the scratch register, programs the baud divisor, drains the receiver and
/// waits for the transmitter: QEMU's 16550 has no line speed, and under TCG every instruction
/// run once costs its translation on every boot. Transmission goes through the crate.
pub fn init() {
    const IER: u16 = 1;
    const FCR: u16 = 2;
    const LCR: u16 = 3;
    const FIFO_ON_CLEARED_14: u8 = 0xc7;
    const EIGHT_N_ONE: u8 = 0x03;
    PORTS.with(|p| {
        for (i, base) in [STDOUT_PORT, STDERR_PORT, HARNESS_PORT]
            .into_iter()
            .enumerate()
        {
            // SAFETY: these are the standard COM1-3 I/O ports, used by nothing else in the
            // kernel; the writes only configure the UART, and a missing port ignores them.
            p.present[i] = unsafe {
                let mut lcr = Port::<u8>::new(base + LCR);
                lcr.write(EIGHT_N_ONE);
                Port::<u8>::new(base + IER).write(0);
                Port::<u8>::new(base + FCR).write(FIFO_ON_CLEARED_14);
                // A 16550 reads back its line control register.
                lcr.read() == EIGHT_N_ONE
            };
        }
    });
}

/// Write raw bytes to a port.
pub fn write(com: Com, bytes: &[u8]) {
    if PORTS.is_busy() {
        return; // a panic while writing: drop rather than deadlock
    }
    PORTS.with(|p| {
        if p.present[com as usize] {
            p.com[com as usize].send_bytes_exact(bytes);
        }
    });
}

/// A byte received on `com`, if one is waiting (COM1 carries the program's stdin).
pub fn try_read(com: Com) -> Option<u8> {
    const RBR: u16 = 0;
    const LSR: u16 = 5;
    const DATA_READY: u8 = 1;
    let base = [STDOUT_PORT, STDERR_PORT, HARNESS_PORT][com as usize];
    // SAFETY: the line status register of a standard COM port, used by nothing else in the
    // kernel; reading it has no side effect on the receiver.
    let ready = unsafe { Port::<u8>::new(base + LSR).read() } & DATA_READY != 0;
    // SAFETY: as above; with data ready, reading RBR takes one byte out of the UART's
    // receive FIFO.
    ready.then(|| unsafe { Port::<u8>::new(base + RBR).read() })
}

/// The harness channel as a `fmt::Write` (for the `hako_abi::script` line writers, which
/// write whole lines including the newline).
#[derive(Debug, Default, Clone, Copy)]
pub struct Harness;

impl Write for Harness {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        write(Com::Harness, s.as_bytes());
        Ok(())
    }
}

/// Write one harness record line.
pub fn record(args: fmt::Arguments<'_>) {
    let mut w = Harness;
    let _ = w.write_fmt(args);
    let _ = w.write_str("\n");
}

/// Wait until every present port has sent everything written to it (the line status
/// register's "transmitter empty" bit: FIFO and shift register both empty). QEMU holds back
/// a port's bytes while the host side of its socket is full, and exits at once on
/// `isa-debug-exit`: without this wait the last bytes of a busy stream were lost (found by
/// the load test, 32 instances at once). A stream nobody reads keeps the guest here, as it
/// would keep it in `write`.
fn drain() {
    const LSR: u16 = 5;
    const TRANSMITTER_EMPTY: u8 = 0x40;
    if PORTS.is_busy() {
        return; // a panic while writing: leave as we can
    }
    let present = PORTS.with(|p| p.present);
    for (base, present) in [STDOUT_PORT, STDERR_PORT, HARNESS_PORT]
        .into_iter()
        .zip(present)
    {
        if !present {
            continue;
        }
        // SAFETY: the line status register of a standard COM port, used by nothing else in
        // the kernel; reading it has no side effect on the transmitter.
        while unsafe { Port::<u8>::new(base + LSR).read() } & TRANSMITTER_EMPTY == 0 {
            core::hint::spin_loop();
        }
    }
}

/// Leave QEMU through `isa-debug-exit`, once every stream has been sent.
pub fn debug_exit(code: u32) -> ! {
    drain();
    let mut port: Port<u32> = Port::new(DEBUG_EXIT_PORT);
    // SAFETY: writing to the isa-debug-exit port ends the VM; no memory is involved.
    unsafe { port.write(code) };
    // Without the device (a misconfigured VM) stop here.
    loop {
        x86_64::instructions::interrupts::disable();
        x86_64::instructions::hlt();
    }
}
