//! IPv4 loopback on an Ethernet interface: [`Looped`] wraps the device and hands back to
//! smoltcp, instead of sending them, the frames that are for the interface itself: frames
//! to its own Ethernet address, and ARP requests for one of its own IPv4 addresses (the
//! interface's, or `127.0.0.0/8`, which the stack adds as an address of its own). So
//! smoltcp resolves its own addresses to its own Ethernet address, and a connection to
//! 127.0.0.1 (or to the interface's address) goes round without reaching the wire.

use super::{Device, Nic};
use alloc::collections::VecDeque;
use alloc::vec;
use alloc::vec::Vec;
use core::net::Ipv4Addr;
use smoltcp::phy::{self, DeviceCapabilities};
use smoltcp::time::Instant;

/// Frames looped back wait here at most this many (more are dropped, as a full queue
/// would).
const MAX_LOOPED: usize = 256;

const ETHERTYPE_ARP: [u8; 2] = [0x08, 0x06];
const ARP_REQUEST: [u8; 2] = [0, 1];

/// A device with loopback.
#[derive(Debug)]
pub struct Looped<D> {
    inner: D,
    mac: [u8; 6],
    /// The interface's own IPv4 addresses (besides `127.0.0.0/8`).
    own: Vec<Ipv4Addr>,
    looped: VecDeque<Vec<u8>>,
}

impl<D> Looped<D> {
    pub fn new(inner: D, mac: [u8; 6]) -> Self {
        Looped {
            inner,
            mac,
            own: Vec::new(),
            looped: VecDeque::new(),
        }
    }

    /// Tell which IPv4 addresses are the interface's (after configuration changes).
    pub fn set_own(&mut self, own: Vec<Ipv4Addr>) {
        self.own = own;
    }
}

/// Whether `frame` is for the interface with Ethernet address `mac` and IPv4 addresses
/// `own` (and `127.0.0.0/8`) itself.
fn for_us(frame: &[u8], mac: [u8; 6], own: &[Ipv4Addr]) -> bool {
    if frame.len() < 14 {
        return false;
    }
    if frame[..6] == mac {
        return true;
    }
    if frame[12..14] == ETHERTYPE_ARP && frame.len() >= 42 && frame[20..22] == ARP_REQUEST {
        let target = Ipv4Addr::new(frame[38], frame[39], frame[40], frame[41]);
        return target.is_loopback() || own.contains(&target);
    }
    false
}

/// A frame from the device, or one looped back.
pub enum RxToken<'a, D: Device + 'a> {
    Device(D::RxToken<'a>),
    Looped(Vec<u8>),
}

/// Room for a frame: it goes to the device, or back to the receive side.
pub struct TxToken<'a, D: Device + 'a> {
    inner: D::TxToken<'a>,
    looped: &'a mut VecDeque<Vec<u8>>,
    mac: [u8; 6],
    own: &'a [Ipv4Addr],
}

impl<'a, D: Device + 'a> phy::RxToken for RxToken<'a, D> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        match self {
            RxToken::Device(t) => t.consume(f),
            RxToken::Looped(frame) => f(&frame),
        }
    }
}

impl<'a, D: Device + 'a> phy::TxToken for TxToken<'a, D> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut frame = vec![0u8; len];
        let r = f(&mut frame);
        let for_us = for_us(&frame, self.mac, self.own);
        if for_us {
            if self.looped.len() < MAX_LOOPED {
                self.looped.push_back(frame);
            }
        } else {
            self.inner.consume(len, |buf| buf.copy_from_slice(&frame));
        }
        r
    }
}

impl<D: Device> Device for Looped<D> {
    type RxToken<'a>
        = RxToken<'a, D>
    where
        Self: 'a;
    type TxToken<'a>
        = TxToken<'a, D>
    where
        Self: 'a;

    fn receive(&mut self, timestamp: Instant) -> Option<(RxToken<'_, D>, TxToken<'_, D>)> {
        if !self.looped.is_empty() {
            let inner = self.inner.transmit(timestamp)?;
            let frame = self.looped.pop_front()?;
            return Some((
                RxToken::Looped(frame),
                TxToken {
                    inner,
                    looped: &mut self.looped,
                    mac: self.mac,
                    own: &self.own,
                },
            ));
        }
        let (rx, tx) = self.inner.receive(timestamp)?;
        Some((
            RxToken::Device(rx),
            TxToken {
                inner: tx,
                looped: &mut self.looped,
                mac: self.mac,
                own: &self.own,
            },
        ))
    }

    fn transmit(&mut self, timestamp: Instant) -> Option<TxToken<'_, D>> {
        let inner = self.inner.transmit(timestamp)?;
        Some(TxToken {
            inner,
            looped: &mut self.looped,
            mac: self.mac,
            own: &self.own,
        })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        self.inner.capabilities()
    }
}

impl<D: Nic> Nic for Looped<D> {
    fn frames_pending(&mut self) -> bool {
        !self.looped.is_empty() || self.inner.frames_pending()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arp_request(target: [u8; 4]) -> Vec<u8> {
        let mut f = vec![0u8; 42];
        f[..6].fill(0xff);
        f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
        f[12..14].copy_from_slice(&ETHERTYPE_ARP);
        f[20..22].copy_from_slice(&ARP_REQUEST);
        f[38..42].copy_from_slice(&target);
        f
    }

    #[test]
    fn frames_for_the_interface_itself() {
        let mac = [2, 0, 0, 0, 0, 1];
        let own = [Ipv4Addr::new(10, 0, 2, 15)];
        let mut to_us = vec![0u8; 60];
        to_us[..6].copy_from_slice(&mac);
        assert!(for_us(&to_us, mac, &own));
        to_us[5] = 2;
        assert!(!for_us(&to_us, mac, &own));
        assert!(for_us(&arp_request([127, 0, 0, 1]), mac, &own));
        assert!(for_us(&arp_request([127, 9, 9, 9]), mac, &own));
        assert!(for_us(&arp_request([10, 0, 2, 15]), mac, &own));
        assert!(!for_us(&arp_request([10, 0, 2, 2]), mac, &own));
        let mut reply = arp_request([127, 0, 0, 1]);
        reply[21] = 2;
        assert!(!for_us(&reply, mac, &own));
        assert!(!for_us(&[0u8; 10], mac, &own));
    }
}
