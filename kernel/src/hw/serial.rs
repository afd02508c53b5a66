//! COM1 (stdout), COM2 (stderr), COM3 (harness records) and `isa-debug-exit`.

use super::Global;
use core::fmt::{self, Write};
use hako_abi::boot::{DEBUG_EXIT_PORT, HARNESS_PORT, STDERR_PORT, STDOUT_PORT};
use uart_16550::backend::PioBackend;
use uart_16550::{BaudRate, Config, Uart16550};
use x86_64::instructions::port::Port;

struct Ports {
    com: [Option<Uart16550<PioBackend>>; 3],
}

static PORTS: Global<Ports> = Global::new(Ports {
    com: [None, None, None],
});

/// Which serial port.
#[derive(Debug, Clone, Copy)]
pub enum Com {
    Stdout = 0,
    Stderr = 1,
    Harness = 2,
}

/// Initialise the three ports; a missing port is skipped (its output is dropped).
pub fn init() {
    PORTS.with(|p| {
        for (i, base) in [STDOUT_PORT, STDERR_PORT, HARNESS_PORT]
            .into_iter()
            .enumerate()
        {
            // SAFETY: these are the standard COM1-3 I/O ports, used by nothing else in the
            // kernel; `new_port` only records the base.
            let Ok(mut uart) = (unsafe { Uart16550::new_port(base) }) else {
                continue;
            };
            let config = Config {
                baud_rate: BaudRate::Baud115200,
                ..Config::DEFAULT
            };
            if uart.init(config).is_ok() {
                p.com[i] = Some(uart);
            }
        }
    });
}

/// Write raw bytes to a port.
pub fn write(com: Com, bytes: &[u8]) {
    if PORTS.is_busy() {
        return; // a panic while writing: drop rather than deadlock
    }
    PORTS.with(|p| {
        if let Some(u) = p.com[com as usize].as_mut() {
            u.send_bytes_exact(bytes);
        }
    });
}

/// The harness channel as a `fmt::Write` (for the `hako_abi::script` line writers, which
/// write whole lines including the newline).
pub fn harness() -> impl Write {
    Writer(Com::Harness)
}

struct Writer(Com);
impl Write for Writer {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        write(self.0, s.as_bytes());
        Ok(())
    }
}

/// Write one harness record line.
pub fn record(args: fmt::Arguments<'_>) {
    let mut w = Writer(Com::Harness);
    let _ = w.write_fmt(args);
    let _ = w.write_str("\n");
}

/// Leave QEMU through `isa-debug-exit`.
pub fn debug_exit(code: u32) -> ! {
    let mut port: Port<u32> = Port::new(DEBUG_EXIT_PORT);
    // SAFETY: writing to the isa-debug-exit port ends the VM; no memory is involved.
    unsafe { port.write(code) };
    // Without the device (a misconfigured VM) stop here.
    loop {
        x86_64::instructions::interrupts::disable();
        x86_64::instructions::hlt();
    }
}
