//! The network, when the command line has `hako.net=`: the virtio-net device found on the
//! command line's `virtio_mmio.device=` list, its interrupt routed (`hw::irq`), and the
//! smoltcp stack ([`crate::net::Stack`]) on top; then the `hako.tcplisten=` sockets.

use crate::cmdline::{Net6Config, NetConfig};
use crate::hw::net::{VirtioNet, DEVICE_NET};
use crate::hw::panic::fatal;
use crate::hw::virtio::{self, Mmio};
use crate::hw::{irq, time};
use crate::net::{NetMachine, Nic, Stack};
use crate::wasi::net::{Family, Kind, Network, SockId};
use crate::wasi::WasiCtx;
use alloc::boxed::Box;
use alloc::vec::Vec;
use core::net::SocketAddr;

/// The machine as the network stack sees it.
#[derive(Debug)]
pub struct KernelNet {
    /// The device's interrupt is routed (else halts are short: the stack polls).
    interrupts: bool,
}

/// QEMU microvm's first virtio-mmio window.
const MICROVM_VIRTIO_BASE: u64 = 0xfeb0_0000;

/// Without a device interrupt, a halt lasts at most this long.
const POLL_NS: u64 = 1_000_000;

impl NetMachine for KernelNet {
    fn now_ns(&mut self) -> u64 {
        time::monotonic_ns()
    }
    fn halt_until(&mut self, deadline_ns: u64) {
        let deadline = if self.interrupts {
            deadline_ns
        } else {
            deadline_ns.min(time::monotonic_ns().saturating_add(POLL_NS))
        };
        irq::halt_until(deadline);
    }
}

impl Nic for VirtioNet {
    fn frames_pending(&mut self) -> bool {
        VirtioNet::frames_pending(self)
    }
}

/// The kernel's network stack.
pub type KernelStack = Stack<VirtioNet, KernelNet>;

/// Bring up the network `cl` asks for, if any, and give it to `ctx` with the
/// `hako.tcplisten=` sockets preopened (before the directories, which come later).
#[cfg_attr(feature = "net-selftest", allow(unused_variables, unreachable_code))]
pub fn set_up(
    net: Option<&NetConfig>,
    net6: Option<&Net6Config>,
    tcplisten: &[SocketAddr],
    ctx: &mut WasiCtx,
) {
    let Some(config) = net else {
        return;
    };
    let mut stack = bring_up(config, net6);
    let mut listeners: Vec<(SockId, Family)> = Vec::new();
    for &addr in tcplisten {
        let family = if addr.is_ipv4() {
            Family::V4
        } else {
            Family::V6
        };
        let listen = |stack: &mut KernelStack| {
            let s = stack.open(family, Kind::Stream)?;
            stack.bind(s, addr)?;
            stack.listen(s, crate::net::MAX_BACKLOG)?;
            Ok::<_, u16>(s)
        };
        match listen(&mut stack) {
            Ok(s) => listeners.push((s, family)),
            Err(e) => fatal(format_args!(
                "hako.tcplisten={addr}: cannot listen (errno {e})"
            )),
        }
    }
    #[cfg(feature = "net-selftest")]
    selftest(stack, &listeners);
    ctx.set_network(Box::new(stack));
    for (s, family) in listeners {
        ctx.preopen_socket(s, family, Kind::Stream);
    }
}

fn bring_up(config: &NetConfig, net6: Option<&Net6Config>) -> KernelStack {
    let line = super::cmdline();
    let mut found = None;
    let mut devices = virtio::mmio_devices(line);
    if devices.is_empty() {
        // QEMU lists its virtio-mmio windows on the command line only without ACPI; with
        // ACPI, microvm has 24 windows from 0xfeb00000, 512 bytes apart, on the second
        // IOAPIC's GSIs 24 to 47 (without it: 8 windows on GSIs 5 to 12).
        let (count, first_gsi) = if irq::second_ioapic() {
            (24, 24)
        } else {
            (8, 5)
        };
        devices = (0..count)
            .map(|i| (MICROVM_VIRTIO_BASE + 0x200 * i as u64, Some(first_gsi + i)))
            .collect();
    }
    for (base, gsi) in devices {
        if let Some(m) = Mmio::probe(base) {
            if m.device_id() == DEVICE_NET {
                found = Some((m, gsi));
                break;
            }
        }
    }
    let Some((mmio, gsi)) = found else {
        fatal(format_args!("no virtio-net device"))
    };
    let dev = match VirtioNet::init(mmio) {
        Ok(d) => d,
        Err(e) => fatal(format_args!("virtio-net: {e}")),
    };
    irq::init();
    let interrupts = gsi.is_some_and(|g| irq::route_virtio(dev.base(), g).is_ok());
    let mac = dev.mac();
    let seed = crate::hw::cpu::hw_random().unwrap_or_else(time::rdtsc);
    match Stack::new(dev, KernelNet { interrupts }, mac, seed, config, net6) {
        Ok(s) => s,
        Err(e) => fatal(format_args!("network: {e}")),
    }
}

/// Test build only (`--features net-selftest`): report the interface's addresses in a
/// harness line and serve a line echo on the first `hako.tcplisten=` socket forever,
/// to try the driver, the interrupts and the stack by hand.
#[cfg(feature = "net-selftest")]
fn selftest(mut stack: KernelStack, listeners: &[(SockId, Family)]) -> ! {
    use crate::hw::serial;
    use crate::wasi::net::Interest;
    serial::record(format_args!(
        "net {:?} dns {:?} interrupts {}",
        stack.addresses(),
        stack.dns_server(),
        irq::interrupts()
    ));
    // Outbound: a line to the host's port 18081 (10.0.2.2 and fec0::2 are the host under
    // QEMU's user network), then a name lookup.
    for to in ["10.0.2.2:18081", "[fec0::2]:18081"] {
        let to: SocketAddr = to.parse().unwrap_or_else(|_| unreachable!());
        let family = if to.is_ipv4() { Family::V4 } else { Family::V6 };
        let Ok(c) = stack.open(family, Kind::Stream) else {
            continue;
        };
        let deadline = time::monotonic_ns() + 3_000_000_000;
        let mut result = stack.connect(c, to);
        while result == Err(hako_abi::wasi::errno::INPROGRESS) && time::monotonic_ns() < deadline {
            stack.wait(&[(c, Interest::Write)], Some(deadline));
            result = stack.connect(c, to);
        }
        let mut reply = [0u8; 64];
        let mut n = 0;
        if result == Err(hako_abi::wasi::errno::ISCONN) {
            let _ = stack.send(c, b"ping\n", None);
            while time::monotonic_ns() < deadline {
                match stack.recv(c, &mut reply, false) {
                    Ok(r) => {
                        n = r.len;
                        break;
                    }
                    Err(_) => stack.wait(&[(c, Interest::Read)], Some(deadline)),
                }
            }
        }
        serial::record(format_args!(
            "connect {to}: {result:?} local {:?} reply {:?}",
            stack.local_addr(c),
            core::str::from_utf8(&reply[..n])
        ));
        stack.close(c);
    }
    let t0 = time::monotonic_ns();
    let found = stack.resolve("example.com");
    serial::record(format_args!(
        "resolve example.com: {found:?} in {} ms",
        (time::monotonic_ns() - t0) / 1_000_000
    ));
    let Some(&(l, _)) = listeners.first() else {
        serial::debug_exit(hako_abi::boot::EXIT_DONE)
    };
    let mut served = 0u64;
    loop {
        let (c, peer) = loop {
            match stack.accept(l) {
                Ok(x) => break x,
                Err(_) => stack.wait(&[(l, Interest::Read)], None),
            }
        };
        let mut buf = [0u8; 4096];
        loop {
            match stack.recv(c, &mut buf, false) {
                Ok(r) if r.len == 0 => break,
                Ok(r) => {
                    let mut sent = 0;
                    while sent < r.len {
                        match stack.send(c, &buf[sent..r.len], None) {
                            Ok(n) => sent += n,
                            Err(_) => stack.wait(&[(c, Interest::Write)], None),
                        }
                    }
                }
                Err(hako_abi::wasi::errno::AGAIN) => stack.wait(&[(c, Interest::Read)], None),
                Err(_) => break,
            }
        }
        stack.close(c);
        served += 1;
        serial::record(format_args!(
            "served {served} {peer} sockets {} interrupts {}",
            stack.smoltcp_sockets(),
            irq::interrupts()
        ));
    }
}
