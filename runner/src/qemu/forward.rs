//! Published TCP ports of the unikernel (`hako run --net -p HOST:GUEST`): `hako` listens on
//! the host port itself and relays each connection to QEMU's user network, whose
//! `hostfwd` rule listens on a loopback port of its own.
//!
//! Why not let QEMU listen on the published port: libslirp's `hostfwd` socket listens with
//! a backlog of 1, so when many clients connect at once (100 concurrent HTTP requests) the
//! host's accept queue overflows, SYNs are dropped and clients wait for retransmissions (1
//! s, 3 s, ...) or give up (docs/perf/2026-12-07-kernel-network.md). `hako`'s listener has
//! a full backlog, and one connector thread opens the connections to QEMU's port one after
//! another, so that port never sees more than one handshake at a time; a handshake the
//! full queue dropped is tried again after 50 ms instead of the kernel's 1 s retransmission.
//!
//! Each relayed connection is two copy loops with fixed buffers: what a slow side does not
//! read waits in the kernel's socket buffers, never in `hako`'s memory. Half-closes are
//! passed on (`shutdown(Write)`), and a reset or error on one side closes both.

use anyhow::{Context, Result};
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a client's connection waits for QEMU's port (QEMU may still be starting).
const CONNECT_PATIENCE: Duration = Duration::from_secs(60);

/// One attempt at QEMU's port: the handshake is the host kernel's, on loopback.
const HANDSHAKE: Duration = Duration::from_millis(50);

/// A published port's listener and the loopback port of QEMU's rule it is relayed to.
pub type Relay = (TcpListener, u16);

/// One published port being relayed.
struct Rule {
    listener: TcpListener,
    /// QEMU's `hostfwd` port on 127.0.0.1.
    inner: u16,
}

/// The relays of one boot; stopped (listeners closed, nothing more accepted) on drop.
pub struct Forwarder {
    stop: Arc<AtomicBool>,
    addrs: Vec<SocketAddr>,
    acceptors: Vec<JoinHandle<()>>,
}

/// Bind the published host ports (a clear error if one is taken) and choose, for each, the
/// loopback port QEMU's `hostfwd` rule will listen on.
pub fn bind(publish: &[super::Publish]) -> Result<(Vec<u16>, Vec<Relay>)> {
    let mut inner_ports = Vec::new();
    let mut listeners = Vec::new();
    for p in publish.iter().filter(|p| !p.udp) {
        let addr = SocketAddr::new(p.host_ip, p.host_port);
        let listener = TcpListener::bind(addr).with_context(|| {
            format!(
                "--publish {}: cannot listen on host port {addr} (tcp)",
                p.spec()
            )
        })?;
        // A free loopback port for QEMU: taken, released, then bound by QEMU.
        let inner = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .context("choosing a loopback port for QEMU's port forwarding")?
            .port();
        inner_ports.push(inner);
        listeners.push((listener, inner));
    }
    Ok((inner_ports, listeners))
}

impl Forwarder {
    /// Start relaying: one acceptor per listener, one connector for all.
    pub fn start(listeners: Vec<Relay>) -> Forwarder {
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel::<(TcpStream, u16)>();
        let connector_stop = stop.clone();
        std::thread::spawn(move || connector(rx, connector_stop));
        let mut addrs = Vec::new();
        let mut acceptors = Vec::new();
        for (listener, inner) in listeners {
            if let Ok(a) = listener.local_addr() {
                addrs.push(a);
            }
            let rule = Rule { listener, inner };
            let tx = tx.clone();
            let stop = stop.clone();
            acceptors.push(std::thread::spawn(move || {
                for client in rule.listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(client) = client else { continue };
                    if tx.send((client, rule.inner)).is_err() {
                        break;
                    }
                }
            }));
        }
        Forwarder {
            stop,
            addrs,
            acceptors,
        }
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake each acceptor with a connection of our own; it sees `stop` and ends,
        // closing its listener.
        for a in &self.addrs {
            let wake = match a.ip() {
                ip if ip.is_unspecified() => SocketAddr::new(
                    if a.is_ipv4() {
                        std::net::Ipv4Addr::LOCALHOST.into()
                    } else {
                        std::net::Ipv6Addr::LOCALHOST.into()
                    },
                    a.port(),
                ),
                _ => *a,
            };
            let _ = TcpStream::connect_timeout(&wake, Duration::from_secs(1));
        }
        for t in self.acceptors.drain(..) {
            let _ = t.join();
        }
    }
}

/// Open QEMU's side of each accepted connection, one at a time, and start its relay.
fn connector(rx: mpsc::Receiver<(TcpStream, u16)>, stop: Arc<AtomicBool>) {
    for (client, inner) in rx {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let target = SocketAddr::from(([127, 0, 0, 1], inner));
        let started = Instant::now();
        let upstream = loop {
            // The host kernel completes the handshake itself while QEMU's accept queue has
            // room, at once; with the queue full it drops the SYN and would retransmit
            // only after a second. So a short attempt, and another at once.
            match TcpStream::connect_timeout(&target, HANDSHAKE) {
                Ok(s) => break Some(s),
                Err(_) if started.elapsed() >= CONNECT_PATIENCE || stop.load(Ordering::SeqCst) => {
                    break None
                }
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
                // QEMU not listening yet: wait a little and try again.
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        };
        // Without QEMU's side the client's connection is closed (dropped).
        if let Some(upstream) = upstream {
            relay(client, upstream);
        }
    }
}

/// Copy both ways between `a` and `b` on two threads.
fn relay(a: TcpStream, b: TcpStream) {
    let _ = a.set_nodelay(true);
    let _ = b.set_nodelay(true);
    let (Ok(a2), Ok(b2)) = (a.try_clone(), b.try_clone()) else {
        return;
    };
    std::thread::spawn(move || pump(a, b));
    std::thread::spawn(move || pump(b2, a2));
}

/// Copy `from` to `to` until `from` ends (then half-close `to`) or either fails (then close
/// both).
fn pump(mut from: TcpStream, mut to: TcpStream) {
    let mut buf = vec![0u8; 64 << 10];
    loop {
        match from.read(&mut buf) {
            Ok(0) => {
                let _ = to.shutdown(Shutdown::Write);
                return;
            }
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A relay in front of an echo server: concurrent clients all get their bytes back, a
    /// half-close passes through, and dropping the forwarder frees the port.
    #[test]
    fn relays_many_connections_and_releases_the_port() {
        let echo = TcpListener::bind("127.0.0.1:0").unwrap();
        let inner = echo.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for c in echo.incoming() {
                let Ok(mut c) = c else { continue };
                std::thread::spawn(move || {
                    let mut all = Vec::new();
                    let _ = c.read_to_end(&mut all);
                    let _ = c.write_all(&all);
                });
            }
        });
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let fwd = Forwarder::start(vec![(listener, inner)]);
        let clients: Vec<_> = (0..50)
            .map(|i| {
                std::thread::spawn(move || {
                    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
                    let msg = format!("client {i} ").repeat(1000);
                    s.write_all(msg.as_bytes()).unwrap();
                    s.shutdown(Shutdown::Write).unwrap();
                    let mut back = String::new();
                    s.read_to_string(&mut back).unwrap();
                    assert_eq!(back, msg);
                })
            })
            .collect();
        for c in clients {
            c.join().unwrap();
        }
        drop(fwd);
        assert!(TcpListener::bind(("127.0.0.1", port)).is_ok());
    }
}
