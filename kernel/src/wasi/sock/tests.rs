//! The socket functions over [`LoopNet`], an in-memory network: streams between sockets of
//! one network, datagrams between bound addresses, and a clock that [`Network::wait`]
//! advances, so blocking, timeouts and readiness can be checked without a device.

use super::super::net::{Family, Interest, Kind, Network, Readiness, Received, SockId, SockOpt};
use super::super::tests::FakeHost;
use super::super::WasiCtx;
use crate::guest::{Errno, GuestMemory};
use alloc::collections::VecDeque;
use alloc::vec;
use alloc::vec::Vec;
use core::net::{IpAddr, Ipv4Addr, SocketAddr};
use hako_abi::wasi::{
    address_family, errno, eventtype, fdflags, filetype, riflags, sock_opt, sock_type,
};
use std::boxed::Box;
use std::cell::RefCell;
use std::rc::Rc;

#[derive(Default, Debug)]
struct Sock {
    kind: Option<Kind>,
    local: Option<SocketAddr>,
    peer: Option<SockId>,
    peer_addr: Option<SocketAddr>,
    listening: bool,
    pending: VecDeque<SockId>,
    inbox: VecDeque<u8>,
    datagrams: VecDeque<(Vec<u8>, SocketAddr)>,
    eof: bool,
    closed: bool,
    opts: Vec<(SockOpt, u64)>,
}

#[derive(Default, Debug)]
struct State {
    socks: Vec<Sock>,
    next_port: u16,
    waits: u32,
    /// A connection that arrives (to the listener at this address) at the first `wait`.
    arrival: Option<SocketAddr>,
}

/// The in-memory network; clones share one state.
#[derive(Clone, Default)]
struct LoopNet(Rc<RefCell<State>>);

const HOST: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 15);

impl State {
    fn find(&self, addr: SocketAddr, listening: bool) -> Option<usize> {
        self.socks
            .iter()
            .position(|s| !s.closed && s.local == Some(addr) && s.listening == listening)
    }
    fn ephemeral(&mut self) -> SocketAddr {
        self.next_port += 1;
        SocketAddr::new(IpAddr::V4(HOST), 40000 + self.next_port)
    }
    fn connect(&mut self, s: usize, addr: SocketAddr) -> Result<(), Errno> {
        let l = self.find(addr, true).ok_or(errno::CONNREFUSED)?;
        if self.socks[s].local.is_none() {
            self.socks[s].local = Some(self.ephemeral());
        }
        let local = self.socks[s].local;
        self.socks.push(Sock {
            kind: Some(Kind::Stream),
            local: Some(addr),
            peer: Some(s as SockId),
            peer_addr: local,
            ..Sock::default()
        });
        let server = (self.socks.len() - 1) as SockId;
        self.socks[s].peer = Some(server);
        self.socks[s].peer_addr = Some(addr);
        self.socks[l].pending.push_back(server);
        Ok(())
    }
}

impl Network for LoopNet {
    fn open(&mut self, _family: Family, kind: Kind) -> Result<SockId, Errno> {
        let mut st = self.0.borrow_mut();
        st.socks.push(Sock {
            kind: Some(kind),
            ..Sock::default()
        });
        Ok((st.socks.len() - 1) as SockId)
    }
    fn bind(&mut self, s: SockId, addr: SocketAddr) -> Result<(), Errno> {
        let mut st = self.0.borrow_mut();
        if st.socks.iter().any(|o| !o.closed && o.local == Some(addr)) {
            return Err(errno::ADDRINUSE);
        }
        st.socks[s as usize].local = Some(addr);
        Ok(())
    }
    fn listen(&mut self, s: SockId, _backlog: u32) -> Result<(), Errno> {
        self.0.borrow_mut().socks[s as usize].listening = true;
        Ok(())
    }
    fn accept(&mut self, s: SockId) -> Result<(SockId, SocketAddr), Errno> {
        let mut st = self.0.borrow_mut();
        let c = st.socks[s as usize]
            .pending
            .pop_front()
            .ok_or(errno::AGAIN)?;
        let peer = st.socks[c as usize].peer_addr.unwrap();
        Ok((c, peer))
    }
    fn connect(&mut self, s: SockId, addr: SocketAddr) -> Result<(), Errno> {
        let mut st = self.0.borrow_mut();
        if st.socks[s as usize].kind == Some(Kind::Datagram) {
            st.socks[s as usize].peer_addr = Some(addr);
            return Ok(());
        }
        if st.socks[s as usize].peer.is_some() {
            return Err(errno::ISCONN);
        }
        st.connect(s as usize, addr)?;
        Err(errno::INPROGRESS)
    }
    fn recv(&mut self, s: SockId, buf: &mut [u8], peek: bool) -> Result<Received, Errno> {
        let mut st = self.0.borrow_mut();
        let so = &mut st.socks[s as usize];
        if so.kind == Some(Kind::Datagram) {
            let (d, from) = so.datagrams.front().cloned().ok_or(errno::AGAIN)?;
            if !peek {
                so.datagrams.pop_front();
            }
            let n = d.len().min(buf.len());
            buf[..n].copy_from_slice(&d[..n]);
            return Ok(Received {
                len: n,
                truncated: n < d.len(),
                from: Some(from),
            });
        }
        if so.inbox.is_empty() {
            return if so.eof {
                Ok(Received {
                    len: 0,
                    truncated: false,
                    from: None,
                })
            } else {
                Err(errno::AGAIN)
            };
        }
        let n = so.inbox.len().min(buf.len());
        for (i, b) in so.inbox.iter().take(n).enumerate() {
            buf[i] = *b;
        }
        if !peek {
            so.inbox.drain(..n);
        }
        Ok(Received {
            len: n,
            truncated: false,
            from: None,
        })
    }
    fn send(&mut self, s: SockId, data: &[u8], to: Option<SocketAddr>) -> Result<usize, Errno> {
        let mut st = self.0.borrow_mut();
        if st.socks[s as usize].kind == Some(Kind::Datagram) {
            if st.socks[s as usize].local.is_none() {
                let e = st.ephemeral();
                st.socks[s as usize].local = Some(e);
            }
            let from = st.socks[s as usize].local.unwrap();
            let to = to
                .or(st.socks[s as usize].peer_addr)
                .ok_or(errno::DESTADDRREQ)?;
            if let Some(d) = st.find(to, false) {
                st.socks[d].datagrams.push_back((data.to_vec(), from));
            }
            return Ok(data.len());
        }
        let p = st.socks[s as usize].peer.ok_or(errno::NOTCONN)?;
        // Room for 8 bytes at a time, so that sends are partial and blocking is exercised.
        let room = 64usize
            .saturating_sub(st.socks[p as usize].inbox.len())
            .min(8);
        if room == 0 {
            return Err(errno::AGAIN);
        }
        let n = room.min(data.len());
        st.socks[p as usize].inbox.extend(&data[..n]);
        Ok(n)
    }
    fn shutdown(&mut self, s: SockId, _read: bool, write: bool) -> Result<(), Errno> {
        let mut st = self.0.borrow_mut();
        let p = st.socks[s as usize].peer.ok_or(errno::NOTCONN)?;
        if write {
            st.socks[p as usize].eof = true;
        }
        Ok(())
    }
    fn close(&mut self, s: SockId) {
        let mut st = self.0.borrow_mut();
        st.socks[s as usize].closed = true;
        if let Some(p) = st.socks[s as usize].peer {
            st.socks[p as usize].eof = true;
        }
    }
    fn local_addr(&mut self, s: SockId) -> Result<SocketAddr, Errno> {
        self.0.borrow().socks[s as usize].local.ok_or(errno::INVAL)
    }
    fn peer_addr(&mut self, s: SockId) -> Result<SocketAddr, Errno> {
        self.0.borrow().socks[s as usize]
            .peer_addr
            .ok_or(errno::NOTCONN)
    }
    fn readiness(&mut self, s: SockId) -> Readiness {
        let st = self.0.borrow();
        let so = &st.socks[s as usize];
        Readiness {
            readable: !so.inbox.is_empty() || !so.pending.is_empty() || !so.datagrams.is_empty(),
            writable: so.peer.is_some() || so.kind == Some(Kind::Datagram),
            hangup: so.eof,
            nbytes: so.inbox.len() as u64,
        }
    }
    fn take_error(&mut self, _s: SockId) -> Errno {
        0
    }
    fn set_option(&mut self, s: SockId, opt: SockOpt, value: u64) -> Result<(), Errno> {
        self.0.borrow_mut().socks[s as usize]
            .opts
            .push((opt, value));
        Ok(())
    }
    fn get_option(&mut self, s: SockId, opt: SockOpt) -> Result<u64, Errno> {
        let st = self.0.borrow();
        Ok(st.socks[s as usize]
            .opts
            .iter()
            .rev()
            .find(|o| o.0 == opt)
            .map_or(0, |o| o.1))
    }
    fn wait(&mut self, _interest: &[(SockId, Interest)], _deadline: Option<u64>) {
        let mut st = self.0.borrow_mut();
        st.waits += 1;
        if let Some(addr) = st.arrival.take() {
            let c = st.socks.len();
            st.socks.push(Sock {
                kind: Some(Kind::Stream),
                ..Sock::default()
            });
            st.connect(c, addr).unwrap();
            let server = st.socks.len() - 1;
            st.socks[server].inbox.extend(b"hi");
        }
        // Whatever a peer wrote is consumed by the other side here: drain inboxes of sockets
        // nobody reads (the peers this test does not hold), so blocked senders get room.
        for so in st.socks.iter_mut().filter(|s| s.closed) {
            so.inbox.clear();
        }
    }
    fn resolve(&mut self, name: &str) -> Result<Vec<IpAddr>, Errno> {
        match name {
            "example.test" => Ok(vec![IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7))]),
            _ => Err(errno::NOENT),
        }
    }
}

fn setup() -> (WasiCtx, LoopNet, FakeHost, Vec<u8>) {
    let net = LoopNet::default();
    let mut c = WasiCtx::new(vec![], vec![]);
    c.set_network(Box::new(net.clone()));
    (c, net, FakeHost::default(), vec![0u8; 4096])
}

/// A `__wasi_address_t` at 100 pointing to `bytes` at 200.
fn put_addr(m: &mut GuestMemory, bytes: &[u8]) -> u32 {
    m.write(100u32, 200u32).unwrap();
    m.write(104u32, bytes.len() as u32).unwrap();
    m.bytes_mut(200, bytes.len() as u32)
        .unwrap()
        .copy_from_slice(bytes);
    100
}

fn open(c: &mut WasiCtx, m: &mut GuestMemory, ty: u8) -> u32 {
    c.sock_open(m, u32::from(address_family::INET4), u32::from(ty), 0)
        .unwrap();
    m.read::<u32>(0).unwrap()
}

fn iov(m: &mut GuestMemory, at: u32, buf: u32, len: u32) {
    m.write(at, buf).unwrap();
    m.write(at + 4, len).unwrap();
}

#[test]
fn without_a_network_sockets_are_not_capable() {
    let mut c = WasiCtx::new(vec![], vec![]);
    let mut buf = vec![0u8; 64];
    let mut m = GuestMemory::new(&mut buf);
    assert_eq!(c.sock_open(&mut m, 1, 2, 0), Err(errno::NOTCAPABLE));
    assert_eq!(c.sock_listen(1, 5), Err(errno::NOTSOCK));
    assert_eq!(c.sock_listen(9, 5), Err(errno::BADF));
}

#[test]
fn listen_accept_echo_close() {
    let (mut c, net, mut h, mut buf) = setup();
    let mut m = GuestMemory::new(&mut buf);
    let l = open(&mut c, &mut m, sock_type::STREAM);
    let a = put_addr(&mut m, &[0, 0, 0, 0]);
    c.sock_bind(&mut m, l, a, 1234).unwrap();
    c.sock_listen(l, 16).unwrap();
    // Non-blocking accept with nothing pending.
    c.fd_fdstat_set_flags(l, u32::from(fdflags::NONBLOCK))
        .unwrap();
    assert_eq!(c.sock_accept(&mut h, &mut m, l, 0, 8), Err(errno::AGAIN));
    c.fd_fdstat_set_flags(l, 0).unwrap();
    // A blocking accept waits until the connection arrives.
    net.0.borrow_mut().arrival = Some(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 1234));
    c.sock_accept_v1(&mut h, &mut m, l, 8).unwrap();
    assert_eq!(net.0.borrow().waits, 1);
    let s = m.read::<u32>(8).unwrap();
    // Stream sockets start with Nagle's algorithm off, the listener and the accepted one.
    let id = c.sock(s).unwrap().id as usize;
    assert!(net.0.borrow().socks[id]
        .opts
        .contains(&(SockOpt::NoDelay, 1)));
    assert!(net.0.borrow().socks[0]
        .opts
        .contains(&(SockOpt::NoDelay, 1)));
    c.fd_fdstat_get(&mut m, s, 16).unwrap();
    assert_eq!(m.read::<u8>(16), Ok(filetype::SOCKET_STREAM));
    // recv into two iovecs: the two bytes the client sent.
    iov(&mut m, 300, 400, 1);
    iov(&mut m, 308, 410, 10);
    c.sock_recv(&mut h, &mut m, s, 300, 2, 0, 40, 44).unwrap();
    assert_eq!(m.read::<u32>(40), Ok(2));
    assert_eq!(m.bytes(400, 1).unwrap(), b"h");
    assert_eq!(m.bytes(410, 1).unwrap(), b"i");
    // Addresses: V2 storage and V1 bare forms.
    m.write(100u32, 500u32).unwrap();
    m.write(104u32, 128u32).unwrap();
    c.sock_getaddr(&mut m, s, false, 100, 48).unwrap();
    assert_eq!(m.read::<u16>(500), Ok(u16::from(address_family::INET4)));
    assert_eq!(m.read::<u32>(48), Ok(1234));
    m.write(104u32, 4u32).unwrap();
    c.sock_getaddr_v1(&mut m, s, true, 100, 52, 56).unwrap();
    assert_eq!(m.bytes(500, 4).unwrap(), &HOST.octets());
    assert_eq!(m.read::<u32>(52), Ok(4));
    assert_eq!(m.read::<u32>(56), Ok(40001));
    // fd_close releases the socket in the network.
    let id = c.sock(s).unwrap().id;
    c.fd_close(s).unwrap();
    assert!(net.0.borrow().socks[id as usize].closed);
    assert_eq!(
        c.sock_recv(&mut h, &mut m, s, 300, 2, 0, 40, 44),
        Err(errno::BADF)
    );
}

#[test]
fn connect_send_recv_shutdown() {
    let (mut c, _net, mut h, mut buf) = setup();
    let mut m = GuestMemory::new(&mut buf);
    let l = open(&mut c, &mut m, sock_type::STREAM);
    let a = put_addr(&mut m, &[10, 0, 2, 15]);
    c.sock_bind(&mut m, l, a, 80).unwrap();
    c.sock_listen(l, 1).unwrap();
    let cl = open(&mut c, &mut m, sock_type::STREAM);
    // The V2 128-byte storage form.
    let mut storage = [0u8; 128];
    storage[0] = address_family::INET4;
    storage[2..6].copy_from_slice(&[10, 0, 2, 15]);
    let a = put_addr(&mut m, &storage);
    c.sock_connect(&mut h, &mut m, cl, a, 80).unwrap();
    c.sock_accept(&mut h, &mut m, l, 0, 8).unwrap();
    let sv = m.read::<u32>(8).unwrap();
    // Small sends on a stream wait to leave together: 60 bytes, then 4 through fd_write,
    // both answered as sent at once, nothing on the wire yet.
    for (i, b) in m.bytes_mut(600, 60).unwrap().iter_mut().enumerate() {
        *b = b'a' + (i % 26) as u8;
    }
    iov(&mut m, 300, 600, 60);
    c.sock_send(&mut h, &mut m, cl, 300, 1, 0, 40).unwrap();
    assert_eq!(m.read::<u32>(40), Ok(60));
    iov(&mut m, 300, 600, 4);
    c.fd_write(&mut h, &mut m, cl, 300, 1, 40).unwrap();
    assert_eq!(m.read::<u32>(40), Ok(4));
    let sv_id = c.sock(sv).unwrap().id;
    assert!(!_net.clone().readiness(sv_id).readable);
    // The next other call (the shims make every one begin so) sends all 64 at once, through
    // a peer that takes 8 at a time.
    c.flush_sends(&mut h);
    assert!(_net.clone().readiness(sv_id).readable);
    // Peek, then read through fd_read.
    iov(&mut m, 308, 700, 100);
    c.sock_recv(
        &mut h,
        &mut m,
        sv,
        308,
        1,
        u32::from(riflags::RECV_PEEK),
        40,
        44,
    )
    .unwrap();
    assert_eq!(m.read::<u32>(40), Ok(64));
    c.fd_read(&mut h, &mut m, sv, 308, 1, 40).unwrap();
    assert_eq!(m.read::<u32>(40), Ok(64));
    assert_eq!(m.bytes(700, 3).unwrap(), b"abc");
    assert_eq!(m.bytes(756, 8).unwrap(), b"efghabcd");
    // Shutting down the write side: the server reads the end of the stream.
    c.sock_shutdown(cl, 2).unwrap();
    c.sock_recv(&mut h, &mut m, sv, 308, 1, 0, 40, 44).unwrap();
    assert_eq!(m.read::<u32>(40), Ok(0));
    assert_eq!(c.sock_shutdown(cl, 0), Err(errno::INVAL));
    assert_eq!(c.sock_shutdown(cl, 4), Err(errno::INVAL));
}

#[test]
fn connect_refused_and_bad_addresses() {
    let (mut c, _net, mut h, mut buf) = setup();
    let mut m = GuestMemory::new(&mut buf);
    let s = open(&mut c, &mut m, sock_type::STREAM);
    let a = put_addr(&mut m, &[127, 0, 0, 1]);
    assert_eq!(
        c.sock_connect(&mut h, &mut m, s, a, 9),
        Err(errno::CONNREFUSED)
    );
    let a = put_addr(&mut m, &[1, 2, 3]);
    assert_eq!(c.sock_connect(&mut h, &mut m, s, a, 9), Err(errno::INVAL));
    // The buffer outside memory.
    m.write(100u32, 4090u32).unwrap();
    m.write(104u32, 16u32).unwrap();
    assert_eq!(c.sock_bind(&mut m, s, 100, 9), Err(errno::FAULT));
    // An IPv6 address for an IPv4 socket.
    let a = put_addr(&mut m, &[0; 16]);
    assert_eq!(c.sock_bind(&mut m, s, a, 9), Err(errno::AFNOSUPPORT));
    assert_eq!(c.sock_open(&mut m, 3, 2, 0), Err(errno::NOSYS));
    assert_eq!(c.sock_open(&mut m, 1, 7, 0), Err(errno::INVAL));
    assert_eq!(c.sock_open(&mut m, 1, 2, 5000), Err(errno::FAULT));
}

#[test]
fn udp_send_to_recv_from() {
    let (mut c, _net, mut h, mut buf) = setup();
    let mut m = GuestMemory::new(&mut buf);
    let srv = open(&mut c, &mut m, sock_type::DGRAM);
    let a = put_addr(&mut m, &[10, 0, 2, 15]);
    c.sock_bind(&mut m, srv, a, 53).unwrap();
    let cl = open(&mut c, &mut m, sock_type::DGRAM);
    m.bytes_mut(600, 5).unwrap().copy_from_slice(b"hello");
    iov(&mut m, 300, 600, 5);
    let a = put_addr(&mut m, &[10, 0, 2, 15]);
    c.sock_send_to(&mut h, &mut m, cl, 300, 1, a, 53, 0, 40)
        .unwrap();
    assert_eq!(m.read::<u32>(40), Ok(5));
    // recv_from into 3 bytes: truncated, with the sender in 128-byte storage and the port.
    iov(&mut m, 308, 700, 3);
    m.write(100u32, 800u32).unwrap();
    m.write(104u32, 128u32).unwrap();
    c.sock_recv_from(&mut h, &mut m, srv, 308, 1, 100, 0, Some(48), 40, 44)
        .unwrap();
    assert_eq!(m.read::<u32>(40), Ok(3));
    assert_eq!(m.read::<u16>(44), Ok(1));
    assert_eq!(m.bytes(700, 3).unwrap(), b"hel");
    assert_eq!(m.read::<u16>(800), Ok(u16::from(address_family::INET4)));
    assert_eq!(m.bytes(802, 4).unwrap(), &HOST.octets());
    assert_eq!(m.read::<u16>(48), Ok(40001));
}

#[test]
fn receive_timeout_and_options() {
    let (mut c, net, mut h, mut buf) = setup();
    h.step = 1_000_000;
    let mut m = GuestMemory::new(&mut buf);
    let s = open(&mut c, &mut m, sock_type::DGRAM);
    // SO_RCVTIMEO of 5 ms: a recv with nothing to read gives EAGAIN after a few waits.
    let mut tv = [0u8; 16];
    tv[8..].copy_from_slice(&5000i64.to_le_bytes());
    m.bytes_mut(600, 16).unwrap().copy_from_slice(&tv);
    c.sock_setsockopt(&mut m, s, 0, sock_opt::RCVTIMEO, 600, 16)
        .unwrap();
    iov(&mut m, 300, 700, 8);
    assert_eq!(
        c.sock_recv(&mut h, &mut m, s, 300, 1, 0, 40, 44),
        Err(errno::AGAIN)
    );
    assert!((1..=6).contains(&net.0.borrow().waits));
    m.write(620u32, 16u32).unwrap();
    c.sock_getsockopt(&mut m, s, 0, sock_opt::RCVTIMEO, 640, 620)
        .unwrap();
    assert_eq!(m.bytes(640, 16).unwrap(), &tv);
    // SO_REUSEADDR reaches the network; SO_TYPE answers the WASI socket type.
    m.write(600u32, 1u32).unwrap();
    c.sock_setsockopt(&mut m, s, 0, sock_opt::REUSEADDR, 600, 4)
        .unwrap();
    m.write(620u32, 4u32).unwrap();
    c.sock_getsockopt(&mut m, s, 0, sock_opt::REUSEADDR, 640, 620)
        .unwrap();
    assert_eq!(m.read::<u32>(640), Ok(1));
    c.sock_getsockopt(&mut m, s, 0, sock_opt::TYPE, 640, 620)
        .unwrap();
    assert_eq!(m.read::<u32>(640), Ok(u32::from(sock_type::DGRAM)));
    assert_eq!(
        c.sock_setsockopt(&mut m, s, 0, 99, 600, 4),
        Err(errno::NOPROTOOPT)
    );
    assert_eq!(
        c.sock_setsockopt(&mut m, s, 5, 0, 600, 4),
        Err(errno::INVAL)
    );
    // TCP_NODELAY at IPPROTO_TCP.
    c.sock_setsockopt(&mut m, s, 6, 1, 600, 4).unwrap();
}

#[test]
fn poll_waits_for_a_socket() {
    let (mut c, net, mut h, mut buf) = setup();
    let mut m = GuestMemory::new(&mut buf);
    let l = open(&mut c, &mut m, sock_type::STREAM);
    let a = put_addr(&mut m, &[0, 0, 0, 0]);
    c.sock_bind(&mut m, l, a, 8080).unwrap();
    c.sock_listen(l, 4).unwrap();
    net.0.borrow_mut().arrival = Some(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 8080));
    // One FD_READ subscription on the listener: ready after one wait.
    let sub = 1000u32;
    m.bytes_mut(sub, 48).unwrap().fill(0);
    m.write(sub, 77u64).unwrap();
    m.write(sub + 8, eventtype::FD_READ).unwrap();
    m.write(sub + 16, l).unwrap();
    c.poll_oneoff(&mut h, &mut m, sub, 2000, 1, 60).unwrap();
    assert_eq!(m.read::<u32>(60), Ok(1));
    assert_eq!(m.read::<u64>(2000), Ok(77));
    assert_eq!(m.read::<u8>(2010), Ok(eventtype::FD_READ));
    assert_eq!(net.0.borrow().waits, 1);
    // The same context again (its buffers kept from the last call): with the connection
    // accepted, the listener is not ready and a write on the connection is.
    c.sock_accept(&mut h, &mut m, l, 0, 8).unwrap();
    let conn = m.read::<u32>(8).unwrap();
    m.bytes_mut(sub + 48, 48).unwrap().fill(0);
    m.write(sub + 48, 78u64).unwrap();
    m.write(sub + 48 + 8, eventtype::FD_WRITE).unwrap();
    m.write(sub + 48 + 16, conn).unwrap();
    c.poll_oneoff(&mut h, &mut m, sub, 2000, 2, 60).unwrap();
    assert_eq!(m.read::<u32>(60), Ok(1));
    assert_eq!(m.read::<u64>(2000), Ok(78));
    assert_eq!(m.read::<u8>(2010), Ok(eventtype::FD_WRITE));
    // And with a clock that has passed instead: the clock, not a stale event.
    m.bytes_mut(sub + 48, 48).unwrap().fill(0);
    m.write(sub + 48, 79u64).unwrap();
    m.write(sub + 48 + 8, eventtype::CLOCK).unwrap();
    c.poll_oneoff(&mut h, &mut m, sub, 2000, 2, 60).unwrap();
    assert_eq!(m.read::<u32>(60), Ok(1));
    assert_eq!(m.read::<u64>(2000), Ok(79));
    assert_eq!(m.read::<u8>(2010), Ok(eventtype::CLOCK));
}

#[test]
fn getaddrinfo_numeric_and_names() {
    let (mut c, _net, _h, mut buf) = setup();
    let mut m = GuestMemory::new(&mut buf);
    // Two addrinfo entries at 1000 and 1100, sockaddrs at 1200/1300, sa_data at 1400/1500.
    for (i, at) in [1000u32, 1100].iter().enumerate() {
        let i = i as u32;
        m.write(at + 12, 1200 + 100 * i).unwrap();
        m.write(at + 24, if i == 0 { 1100u32 } else { 0 }).unwrap();
        m.write(1200 + 100 * i + 4, 26u32).unwrap();
        m.write(1200 + 100 * i + 8, 1400 + 100 * i).unwrap();
    }
    m.write(900u32, 1000u32).unwrap();
    m.bytes_mut(50, 13)
        .unwrap()
        .copy_from_slice(b"example.test\0");
    m.bytes_mut(70, 3).unwrap().copy_from_slice(b"80\0");
    // Hints: stream sockets only.
    m.bytes_mut(800, 28).unwrap().fill(0);
    m.write(803u32, sock_type::STREAM).unwrap();
    c.sock_getaddrinfo(&mut m, 50, 13, 70, 3, 800, 900, 2, 960)
        .unwrap();
    assert_eq!(m.read::<u32>(960), Ok(1));
    assert_eq!(m.read::<u8>(1002), Ok(address_family::INET4));
    assert_eq!(m.read::<u8>(1200), Ok(address_family::INET4));
    assert_eq!(m.read::<u32>(1204), Ok(14));
    assert_eq!(m.bytes(1400, 6).unwrap(), &[0, 80, 192, 0, 2, 7]);
    // A numeric address, no hints on the type: a stream and a datagram entry.
    m.bytes_mut(50, 9).unwrap().copy_from_slice(b"10.1.2.3\0");
    m.write(803u32, 0u8).unwrap();
    c.sock_getaddrinfo(&mut m, 50, 9, 70, 3, 800, 900, 2, 960)
        .unwrap();
    assert_eq!(m.read::<u32>(960), Ok(2));
    assert_eq!(m.bytes(1500, 6).unwrap(), &[0, 80, 10, 1, 2, 3]);
    // A service name.
    m.bytes_mut(70, 5).unwrap().copy_from_slice(b"http\0");
    c.sock_getaddrinfo(&mut m, 50, 9, 70, 5, 800, 900, 2, 960)
        .unwrap();
    assert_eq!(m.bytes(1400, 2).unwrap(), &[0, 80]);
    m.bytes_mut(70, 5).unwrap().copy_from_slice(b"nope\0");
    assert_eq!(
        c.sock_getaddrinfo(&mut m, 50, 9, 70, 5, 800, 900, 2, 960),
        Err(errno::INVAL)
    );
    m.bytes_mut(70, 3).unwrap().copy_from_slice(b"80\0");
    m.bytes_mut(50, 8).unwrap().copy_from_slice(b"unknown\0");
    assert_eq!(
        c.sock_getaddrinfo(&mut m, 50, 8, 70, 3, 800, 900, 2, 960),
        Err(errno::NOENT)
    );
}

#[test]
fn held_sends_of_a_full_non_blocking_socket_wait_without_blocking() {
    let (mut c, net, mut h, mut buf) = setup();
    let mut m = GuestMemory::new(&mut buf);
    let l = open(&mut c, &mut m, sock_type::STREAM);
    let a = put_addr(&mut m, &[10, 0, 2, 15]);
    c.sock_bind(&mut m, l, a, 80).unwrap();
    c.sock_listen(l, 1).unwrap();
    let cl = open(&mut c, &mut m, sock_type::STREAM);
    c.sock_connect(&mut h, &mut m, cl, a, 80).unwrap();
    c.sock_accept(&mut h, &mut m, l, 0, 8).unwrap();
    let sv = m.read::<u32>(8).unwrap();
    c.fd_fdstat_set_flags(cl, u32::from(fdflags::NONBLOCK))
        .unwrap();
    // 100 bytes held; the peer holds 64 of them: the flush returns with 36 still held.
    iov(&mut m, 300, 600, 100);
    c.sock_send(&mut h, &mut m, cl, 300, 1, 0, 40).unwrap();
    assert_eq!(m.read::<u32>(40), Ok(100));
    c.flush_sends(&mut h);
    let sv_id = c.sock(sv).unwrap().id;
    assert_eq!(net.clone().readiness(sv_id).nbytes, 64);
    assert_eq!(c.unsent.as_ref().map(|u| u.1.len()), Some(36));
    // More small sends join them; the server reads, and the next flush sends the rest.
    c.sock_send(&mut h, &mut m, cl, 300, 1, 0, 40).unwrap();
    iov(&mut m, 308, 700, 64);
    c.fd_read(&mut h, &mut m, sv, 308, 1, 40).unwrap();
    c.flush_sends(&mut h);
    assert_eq!(c.unsent.as_ref().map(|u| u.1.len()), Some(72));
}
