//! Local port numbers: which ports sockets hold (per protocol), and the ephemeral ports
//! handed to sockets that connect, send or listen without binding first.

use alloc::collections::BTreeMap;
use core::ops::RangeInclusive;
use hako_abi::wasi::errno;

use crate::guest::Errno;
use crate::wasi::net::Kind;

/// IANA's dynamic range, as Linux's `ip_local_port_range` is on many systems.
pub const EPHEMERAL: RangeInclusive<u16> = 49152..=65535;

/// The ports held by sockets.
#[derive(Debug)]
pub struct Ports {
    held: BTreeMap<(bool, u16), u32>,
    /// The next ephemeral port to try.
    next: u16,
}

fn key(kind: Kind, port: u16) -> (bool, u16) {
    (kind == Kind::Stream, port)
}

impl Ports {
    /// `seed` picks where the ephemeral ports start (as a host randomises them).
    pub fn new(seed: u64) -> Ports {
        let span = u64::from(EPHEMERAL.end() - EPHEMERAL.start()) + 1;
        Ports {
            held: BTreeMap::new(),
            next: EPHEMERAL.start() + (seed % span) as u16,
        }
    }

    /// Whether a socket of `kind` holds `port`.
    pub fn is_held(&self, kind: Kind, port: u16) -> bool {
        self.held.contains_key(&key(kind, port))
    }

    /// Hold `port` for a socket of `kind`, or with port 0 a free ephemeral port: the port,
    /// or `ADDRINUSE` (taken; or no ephemeral port is free).
    pub fn hold(&mut self, kind: Kind, port: u16) -> Result<u16, Errno> {
        if port != 0 {
            if self.is_held(kind, port) {
                return Err(errno::ADDRINUSE);
            }
            self.held.insert(key(kind, port), 1);
            return Ok(port);
        }
        let span = u32::from(EPHEMERAL.end() - EPHEMERAL.start()) + 1;
        for _ in 0..span {
            let p = self.next;
            self.next = if p == *EPHEMERAL.end() {
                *EPHEMERAL.start()
            } else {
                p + 1
            };
            if !self.is_held(kind, p) {
                self.held.insert(key(kind, p), 1);
                return Ok(p);
            }
        }
        Err(errno::ADDRINUSE)
    }

    /// Let `port` go.
    pub fn release(&mut self, kind: Kind, port: u16) {
        self.held.remove(&key(kind, port));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_ports_conflict_per_protocol() {
        let mut p = Ports::new(0);
        assert_eq!(p.hold(Kind::Stream, 80), Ok(80));
        assert_eq!(p.hold(Kind::Stream, 80), Err(errno::ADDRINUSE));
        assert_eq!(p.hold(Kind::Datagram, 80), Ok(80));
        p.release(Kind::Stream, 80);
        assert_eq!(p.hold(Kind::Stream, 80), Ok(80));
    }

    #[test]
    fn ephemeral_ports_cycle_and_skip_held_ones() {
        let mut p = Ports::new(u64::from(EPHEMERAL.end() - EPHEMERAL.start()) - 1);
        assert_eq!(p.hold(Kind::Stream, 65535), Ok(65535));
        assert_eq!(p.hold(Kind::Stream, 0), Ok(65534));
        // 65535 is held: wraps to the start of the range.
        assert_eq!(p.hold(Kind::Stream, 0), Ok(49152));
        assert_eq!(p.hold(Kind::Datagram, 0), Ok(49153));
        // Every port held: ADDRINUSE.
        let mut full = Ports::new(7);
        for _ in EPHEMERAL {
            assert!(full.hold(Kind::Datagram, 0).is_ok());
        }
        assert_eq!(full.hold(Kind::Datagram, 0), Err(errno::ADDRINUSE));
        full.release(Kind::Datagram, 50000);
        assert_eq!(full.hold(Kind::Datagram, 0), Ok(50000));
    }
}
