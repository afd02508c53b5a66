//! Two [`Stack`]s on one simulated Ethernet segment (a pair of frame queues) with a shared
//! fake clock that jumps to the deadline whenever a stack halts.

extern crate std;

use super::*;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use std::vec::Vec;

type Wire = Rc<RefCell<VecDeque<Vec<u8>>>>;

/// One end of the segment.
struct End {
    rx: Wire,
    tx: Wire,
}

struct Rx(Vec<u8>);
struct Tx(Wire);

impl smoltcp::phy::RxToken for Rx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

impl smoltcp::phy::TxToken for Tx {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut frame = vec![0; len];
        let r = f(&mut frame);
        self.0.borrow_mut().push_back(frame);
        r
    }
}

impl Device for End {
    type RxToken<'a> = Rx;
    type TxToken<'a> = Tx;
    fn receive(&mut self, _: Instant) -> Option<(Rx, Tx)> {
        let frame = self.rx.borrow_mut().pop_front()?;
        Some((Rx(frame), Tx(self.tx.clone())))
    }
    fn transmit(&mut self, _: Instant) -> Option<Tx> {
        Some(Tx(self.tx.clone()))
    }
    fn capabilities(&self) -> smoltcp::phy::DeviceCapabilities {
        let mut caps = smoltcp::phy::DeviceCapabilities::default();
        caps.medium = smoltcp::phy::Medium::Ethernet;
        caps.max_transmission_unit = 1514;
        caps
    }
}

impl Nic for End {
    fn frames_pending(&mut self) -> bool {
        !self.rx.borrow().is_empty()
    }
}

#[derive(Clone)]
struct Clock(Rc<Cell<u64>>);

impl NetMachine for Clock {
    fn now_ns(&mut self) -> u64 {
        self.0.get()
    }
    fn halt_until(&mut self, deadline_ns: u64) {
        // Nothing else happens on this machine: time passes up to the deadline (capped, as
        // the kernel's halt is).
        let now = self.0.get();
        self.0.set(deadline_ns.min(now + 1_000_000_000).max(now));
    }
}

type TestStack = Stack<End, Clock>;

fn config(last: u8) -> NetConfig {
    NetConfig::Static {
        addr: Ipv4Addr::new(10, 0, 0, last),
        prefix: 24,
        gateway: Ipv4Addr::new(10, 0, 0, 254),
        dns: Ipv4Addr::new(10, 0, 0, 53),
    }
}

fn net6(last: u16) -> Net6Config {
    Net6Config {
        addr: Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, last),
        prefix: 64,
        gateway: Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, 0xfe),
    }
}

/// Stacks 10.0.0.1 (server) and 10.0.0.2 (client) and their clock.
fn pair() -> (TestStack, TestStack, Clock) {
    let (a, b): (Wire, Wire) = Default::default();
    let clock = Clock(Rc::new(Cell::new(1_000_000)));
    let server = Stack::new(
        End {
            rx: a.clone(),
            tx: b.clone(),
        },
        clock.clone(),
        [2, 0, 0, 0, 0, 1],
        1,
        &config(1),
        Some(&net6(1)),
    )
    .unwrap();
    let client = Stack::new(
        End { rx: b, tx: a },
        clock.clone(),
        [2, 0, 0, 0, 0, 2],
        2,
        &config(2),
        Some(&net6(2)),
    )
    .unwrap();
    (server, client, clock)
}

/// Let both stacks work, with time passing, for a while.
fn pump(a: &mut TestStack, b: &mut TestStack, clock: &Clock) {
    for _ in 0..20 {
        a.poll();
        b.poll();
        clock.0.set(clock.0.get() + 1_000_000);
    }
}

fn v4(last: u8, port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, last)), port)
}

fn listener(server: &mut TestStack, port: u16, backlog: u32) -> SockId {
    let l = server.open(Family::V4, Kind::Stream).unwrap();
    server
        .bind(l, SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port))
        .unwrap();
    server.listen(l, backlog).unwrap();
    l
}

/// Connect a client socket to `to` and accept it: (client socket, server socket).
fn connected(
    server: &mut TestStack,
    client: &mut TestStack,
    clock: &Clock,
    l: SockId,
    to: SocketAddr,
) -> (SockId, SockId) {
    let c = client.open(family_of(&to), Kind::Stream).unwrap();
    assert_eq!(client.connect(c, to), Err(errno::INPROGRESS));
    pump(server, client, clock);
    for _ in 0..100 {
        if client.connect(c, to) != Err(errno::INPROGRESS) {
            break;
        }
        client.wait(&[(c, Interest::Write)], Some(clock.0.get() + 100_000_000));
        server.poll();
    }
    assert_eq!(client.connect(c, to), Err(errno::ISCONN));
    assert!(client.readiness(c).writable);
    let (s, peer) = server.accept(l).unwrap();
    assert_eq!(peer, client.local_addr(c).unwrap());
    assert_eq!(server.peer_addr(s).unwrap(), client.local_addr(c).unwrap());
    (c, s)
}

fn recv_all(stack: &mut TestStack, s: SockId) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stack.recv(s, &mut buf, false) {
            Ok(r) if r.len == 0 => return out,
            Ok(r) => out.extend_from_slice(&buf[..r.len]),
            Err(e) => {
                assert_eq!(e, errno::AGAIN);
                return out;
            }
        }
    }
}

#[test]
fn accept_connect_send_recv_and_close() {
    let (mut server, mut client, clock) = pair();
    let l = listener(&mut server, 1234, 4);
    assert_eq!(server.accept(l), Err(errno::AGAIN));
    assert!(!server.readiness(l).readable);
    let c = client.open(Family::V4, Kind::Stream).unwrap();
    assert_eq!(client.connect(c, v4(1, 1234)), Err(errno::INPROGRESS));
    assert!(!client.readiness(c).writable);
    pump(&mut server, &mut client, &clock);
    assert!(server.readiness(l).readable);
    assert_eq!(client.connect(c, v4(1, 1234)), Err(errno::ISCONN));
    let (s, peer) = server.accept(l).unwrap();
    assert_eq!(peer.ip(), v4(2, 0).ip());
    assert!(ports::EPHEMERAL.contains(&peer.port()));
    assert_eq!(server.local_addr(s).unwrap(), v4(1, 1234));
    assert_eq!(client.peer_addr(c).unwrap(), v4(1, 1234));

    assert_eq!(client.send(c, b"hello", None), Ok(5));
    let mut buf = [0u8; 16];
    pump(&mut server, &mut client, &clock);
    let r = server.readiness(s);
    assert!(r.readable && r.writable && !r.hangup);
    assert_eq!(r.nbytes, 5);
    let got = server.recv(s, &mut buf, true).unwrap();
    assert_eq!(&buf[..got.len], b"hello");
    assert_eq!(recv_all(&mut server, s), b"hello");

    // shutdown(write) on the client: the server reads the end, and can still answer.
    client.shutdown(c, false, true).unwrap();
    assert_eq!(client.send(c, b"x", None), Err(errno::PIPE));
    pump(&mut server, &mut client, &clock);
    assert_eq!(server.recv(s, &mut buf, false).unwrap().len, 0);
    assert!(server.readiness(s).readable);
    assert_eq!(server.send(s, b"bye", None), Ok(3));
    server.close(s);
    pump(&mut server, &mut client, &clock);
    assert_eq!(recv_all(&mut client, c), b"bye");
    assert_eq!(client.recv(c, &mut buf, false).unwrap().len, 0);
    client.close(c);
    pump(&mut server, &mut client, &clock);
    // Only the listener's queue is left on the server, nothing on the client.
    assert_eq!(server.smoltcp_sockets(), 4);
    assert_eq!(client.smoltcp_sockets(), 0);
    server.close(l);
    pump(&mut server, &mut client, &clock);
    assert_eq!(server.smoltcp_sockets(), 0);
}

#[test]
fn backlog_holds_several_pending_connections() {
    let (mut server, mut client, clock) = pair();
    let l = listener(&mut server, 80, 3);
    let cs: Vec<_> = (0..3)
        .map(|_| {
            let c = client.open(Family::V4, Kind::Stream).unwrap();
            assert_eq!(client.connect(c, v4(1, 80)), Err(errno::INPROGRESS));
            c
        })
        .collect();
    pump(&mut server, &mut client, &clock);
    for &c in &cs {
        assert_eq!(client.connect(c, v4(1, 80)), Err(errno::ISCONN));
    }
    let mut peers: Vec<_> = (0..3).map(|_| server.accept(l).unwrap().1).collect();
    assert_eq!(server.accept(l), Err(errno::AGAIN));
    let mut locals: Vec<_> = cs.iter().map(|&c| client.local_addr(c).unwrap()).collect();
    peers.sort();
    locals.sort();
    assert_eq!(peers, locals);
}

#[test]
fn a_thousand_connections_leak_no_sockets() {
    let (mut server, mut client, clock) = pair();
    let l = listener(&mut server, 8080, 8);
    for i in 0..1000u32 {
        let (c, s) = connected(&mut server, &mut client, &clock, l, v4(1, 8080));
        let msg = i.to_le_bytes();
        assert_eq!(client.send(c, &msg, None), Ok(4));
        pump(&mut server, &mut client, &clock);
        assert_eq!(recv_all(&mut server, s), msg);
        assert_eq!(server.send(s, &msg, None), Ok(4));
        server.close(s);
        pump(&mut server, &mut client, &clock);
        assert_eq!(recv_all(&mut client, c), msg);
        client.close(c);
        pump(&mut server, &mut client, &clock);
    }
    assert_eq!(server.smoltcp_sockets(), 8);
    assert_eq!(client.smoltcp_sockets(), 0);
    assert_eq!(server.socks.len(), 1);
    assert!(client.socks.is_empty());
}

#[test]
fn connection_refused_and_bind_conflicts() {
    let (mut server, mut client, clock) = pair();
    let c = client.open(Family::V4, Kind::Stream).unwrap();
    assert_eq!(client.connect(c, v4(1, 9)), Err(errno::INPROGRESS));
    pump(&mut server, &mut client, &clock);
    let r = client.readiness(c);
    assert!(r.writable && r.hangup);
    assert_eq!(client.take_error(c), errno::CONNREFUSED);
    assert_eq!(client.take_error(c), 0);
    assert!(ports::EPHEMERAL.contains(&client.local_addr(c).unwrap().port()));

    let l = listener(&mut server, 7, 1);
    let other = server.open(Family::V4, Kind::Stream).unwrap();
    assert_eq!(server.bind(other, v4(1, 7)), Err(errno::ADDRINUSE));
    assert_eq!(server.bind(other, v4(3, 7)), Err(errno::ADDRNOTAVAIL));
    let six = SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 7);
    assert_eq!(server.bind(other, six), Err(errno::AFNOSUPPORT));
    server.close(l);
    assert_eq!(server.bind(other, v4(1, 7)), Ok(()));
    assert_eq!(server.bind(other, v4(1, 8)), Err(errno::INVAL));
    let mut buf = [0; 4];
    assert_eq!(server.recv(other, &mut buf, false), Err(errno::NOTCONN));
    assert_eq!(server.send(other, b"x", None), Err(errno::NOTCONN));
    assert_eq!(server.accept(other), Err(errno::INVAL));
    assert_eq!(server.peer_addr(other), Err(errno::NOTCONN));
    assert_eq!(server.recv(99, &mut buf, false), Err(errno::BADF));
}

#[test]
fn connect_times_out_without_an_answer() {
    let (mut server, mut client, clock) = pair();
    let c = client.open(Family::V4, Kind::Stream).unwrap();
    // 10.0.0.9 does not exist: ARP gets no answer, the handshake never starts.
    assert_eq!(client.connect(c, v4(9, 80)), Err(errno::INPROGRESS));
    let start = clock.0.get();
    while clock.0.get() - start < 100_000_000_000 && client.readiness(c) == Readiness::default() {
        client.wait(&[(c, Interest::Write)], None);
        server.poll();
    }
    assert_eq!(client.take_error(c), errno::TIMEDOUT);
}

#[test]
fn listen_without_bind_and_ipv6() {
    let (mut server, mut client, clock) = pair();
    let l = server.open(Family::V6, Kind::Stream).unwrap();
    server.listen(l, 0).unwrap();
    let local = server.local_addr(l).unwrap();
    assert!(local.ip().is_unspecified() && ports::EPHEMERAL.contains(&local.port()));
    let to = SocketAddr::new(IpAddr::V6(net6(1).addr), local.port());
    let (c, s) = connected(&mut server, &mut client, &clock, l, to);
    assert_eq!(client.send(c, b"six", None), Ok(3));
    pump(&mut server, &mut client, &clock);
    assert_eq!(recv_all(&mut server, s), b"six");
}

#[test]
fn wait_sleeps_until_data_or_the_deadline() {
    let (mut server, mut client, clock) = pair();
    let l = listener(&mut server, 5000, 1);
    let (c, s) = connected(&mut server, &mut client, &clock, l, v4(1, 5000));
    // Nothing to read: wait halts until the deadline (time jumps there).
    let deadline = clock.0.get() + 50_000_000;
    while clock.0.get() < deadline {
        server.wait(&[(s, Interest::Read)], Some(deadline));
        assert!(!server.readiness(s).readable);
    }
    // Writable already: wait returns at once.
    let before = clock.0.get();
    server.wait(&[(s, Interest::Write)], Some(before + 1_000_000_000));
    assert_eq!(clock.0.get(), before);
    assert_eq!(client.send(c, b"!", None), Ok(1));
    server.wait(&[(s, Interest::Read)], None);
    assert!(server.readiness(s).readable);
    assert_eq!(recv_all(&mut server, s), b"!");
}

#[test]
fn options_are_applied_and_recorded() {
    let (mut server, mut client, clock) = pair();
    let l = listener(&mut server, 22, 1);
    let (c, _s) = connected(&mut server, &mut client, &clock, l, v4(1, 22));
    assert_eq!(client.get_option(c, SockOpt::NoDelay), Ok(0));
    client.set_option(c, SockOpt::NoDelay, 1).unwrap();
    client.set_option(c, SockOpt::KeepAlive, 1).unwrap();
    client.set_option(c, SockOpt::RecvBuf, 4096).unwrap();
    assert_eq!(client.get_option(c, SockOpt::NoDelay), Ok(1));
    assert_eq!(client.get_option(c, SockOpt::RecvBuf), Ok(4096));
    assert_eq!(
        client.get_option(c, SockOpt::SendBuf),
        Ok(TCP_BUFFER as u64)
    );
    let Body::Tcp(Tcp::Conn { handle, .. }) = client.socks[&c].body else {
        panic!("connected")
    };
    let t = client.sockets.get::<tcp::Socket>(handle);
    assert!(!t.nagle_enabled());
    assert!(t.keep_alive().is_some());
}

#[test]
fn udp_send_to_recv_from_and_connected_peers() {
    let (mut server, mut client, clock) = pair();
    let s = server.open(Family::V4, Kind::Datagram).unwrap();
    server.bind(s, v4(1, 53)).unwrap();
    let c = client.open(Family::V4, Kind::Datagram).unwrap();
    assert_eq!(client.send(c, b"q", None), Err(errno::DESTADDRREQ));
    let big = vec![7u8; 1473];
    assert_eq!(client.send(c, &big, Some(v4(1, 53))), Err(errno::MSGSIZE));
    assert_eq!(client.send(c, &big[..1472], Some(v4(1, 53))), Ok(1472));
    pump(&mut server, &mut client, &clock);
    let mut whole = [0u8; 2000];
    assert_eq!(server.recv(s, &mut whole, false).unwrap().len, 1472);
    assert_eq!(client.send(c, b"query", Some(v4(1, 53))), Ok(5));
    let from = client.local_addr(c).unwrap();
    assert!(ports::EPHEMERAL.contains(&from.port()));
    pump(&mut server, &mut client, &clock);
    let r = server.readiness(s);
    assert!(r.readable);
    assert_eq!(r.nbytes, 5);
    let mut small = [0u8; 3];
    let got = server.recv(s, &mut small, false).unwrap();
    assert_eq!((got.len, got.truncated), (3, true));
    assert_eq!(&small, b"que");
    assert_eq!(
        got.from.unwrap(),
        SocketAddr::new(v4(2, 0).ip(), from.port())
    );
    assert_eq!(server.recv(s, &mut small, false), Err(errno::AGAIN));

    // A connected socket takes datagrams from its peer only.
    client.connect(c, v4(1, 53)).unwrap();
    assert_eq!(client.peer_addr(c).unwrap(), v4(1, 53));
    let stranger = server.open(Family::V4, Kind::Datagram).unwrap();
    let reply_to = SocketAddr::new(v4(2, 0).ip(), from.port());
    assert_eq!(server.send(stranger, b"spam", Some(reply_to)), Ok(4));
    assert_eq!(server.send(s, b"answer", Some(reply_to)), Ok(6));
    pump(&mut server, &mut client, &clock);
    let mut buf = [0u8; 64];
    let got = client.recv(c, &mut buf, false).unwrap();
    assert_eq!(&buf[..got.len], b"answer");
    assert_eq!(got.from, Some(v4(1, 53)));
    assert_eq!(client.recv(c, &mut buf, false), Err(errno::AGAIN));
    client.close(c);
    server.close(s);
    server.close(stranger);
    assert_eq!(client.smoltcp_sockets(), 0);
    assert_eq!(server.smoltcp_sockets(), 0);
}

#[test]
fn no_address_of_the_family_is_unreachable() {
    let (a, b): (Wire, Wire) = Default::default();
    let clock = Clock(Rc::new(Cell::new(0)));
    let mut v4only = Stack::new(
        End { rx: a, tx: b },
        clock,
        [2, 0, 0, 0, 0, 3],
        3,
        &config(3),
        None,
    )
    .unwrap();
    let six = SocketAddr::new(IpAddr::V6(net6(1).addr), 80);
    let s = v4only.open(Family::V6, Kind::Stream).unwrap();
    assert_eq!(v4only.connect(s, six), Err(errno::NETUNREACH));
    let u = v4only.open(Family::V6, Kind::Datagram).unwrap();
    assert_eq!(v4only.send(u, b"x", Some(six)), Err(errno::NETUNREACH));
    // IPv6 has no loopback here.
    let lo6: SocketAddr = "[::1]:80".parse().unwrap();
    let s = v4only.open(Family::V6, Kind::Stream).unwrap();
    assert_eq!(v4only.connect(s, lo6), Err(errno::NETUNREACH));
}

#[test]
fn resolve_without_an_answer_times_out() {
    let (mut server, _client, _clock) = pair();
    assert_eq!(server.resolve("example.com"), Err(errno::TIMEDOUT));
    assert_eq!(server.resolve(""), Err(errno::INVAL));
    let lo = vec![
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(Ipv6Addr::LOCALHOST),
    ];
    assert_eq!(server.resolve("localhost"), Ok(lo.clone()));
    assert_eq!(server.resolve("LocalHost."), Ok(lo.clone()));
    assert_eq!(server.resolve("app.localhost"), Ok(lo));
}

#[test]
fn udp_on_the_unspecified_address_reports_the_sender() {
    let (mut server, mut client, clock) = pair();
    let s = server.open(Family::V4, Kind::Datagram).unwrap();
    server
        .bind(s, SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 1234))
        .unwrap();
    let c = client.open(Family::V4, Kind::Datagram).unwrap();
    assert_eq!(client.send(c, b"one", Some(v4(1, 1234))), Ok(3));
    pump(&mut server, &mut client, &clock);
    let mut buf = [0u8; 64];
    let got = server.recv(s, &mut buf, false).unwrap();
    let from = got.from.unwrap();
    assert_eq!(
        from,
        SocketAddr::new(v4(2, 0).ip(), client.local_addr(c).unwrap().port())
    );
    assert_eq!(server.send(s, b"one", Some(from)), Ok(3));
    pump(&mut server, &mut client, &clock);
    assert_eq!(
        client.recv(c, &mut buf, false).unwrap().from,
        Some(v4(1, 1234))
    );
}

#[test]
fn an_ipv4_listener_takes_no_ipv6_connection() {
    let (mut server, mut client, clock) = pair();
    let l = listener(&mut server, 443, 2);
    let c = client.open(Family::V6, Kind::Stream).unwrap();
    let to = SocketAddr::new(IpAddr::V6(net6(1).addr), 443);
    assert_eq!(client.connect(c, to), Err(errno::INPROGRESS));
    pump(&mut server, &mut client, &clock);
    assert_eq!(server.accept(l), Err(errno::AGAIN));
    pump(&mut server, &mut client, &clock);
    let mut buf = [0u8; 4];
    assert_eq!(client.recv(c, &mut buf, false), Err(errno::CONNRESET));
    // The queue is whole again and takes IPv4 connections.
    // (smoltcp sends one neighbor request a second: the ARP request for 10.0.0.1 waits.)
    let (c4, s4) = connected(&mut server, &mut client, &clock, l, v4(1, 443));
    assert_eq!(client.send(c4, b"ok", None), Ok(2));
    pump(&mut server, &mut client, &clock);
    assert_eq!(recv_all(&mut server, s4), b"ok");
    client.close(c);
    pump(&mut server, &mut client, &clock);
    let Body::Tcp(Tcp::Listener { queue, .. }) = &server.socks[&l].body else {
        panic!("a listener")
    };
    assert_eq!(queue.len(), 2);
}

/// One stack talking to itself, through 127.0.0.1 and through its own address.
#[test]
fn loopback_connections_and_datagrams() {
    let (mut a, mut b, clock) = pair();
    let l = listener(&mut a, 7000, 4);
    for to in ["127.0.0.1:7000".parse::<SocketAddr>().unwrap(), v4(1, 7000)] {
        let c = a.open(Family::V4, Kind::Stream).unwrap();
        assert_eq!(a.connect(c, to), Err(errno::INPROGRESS));
        for _ in 0..50 {
            if a.connect(c, to) != Err(errno::INPROGRESS) {
                break;
            }
            a.wait(&[(c, Interest::Write)], Some(clock.0.get() + 10_000_000));
        }
        assert_eq!(a.connect(c, to), Err(errno::ISCONN), "{to}");
        let (s, peer) = a.accept(l).unwrap();
        assert_eq!(peer, a.local_addr(c).unwrap());
        assert_eq!(peer.ip(), to.ip());
        assert_eq!(a.send(c, b"self", None), Ok(4));
        a.poll();
        assert_eq!(recv_all(&mut a, s), b"self");
        a.close(c);
        a.close(s);
        a.poll();
    }
    let u = a.open(Family::V4, Kind::Datagram).unwrap();
    a.bind(u, SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 5353))
        .unwrap();
    let v = a.open(Family::V4, Kind::Datagram).unwrap();
    let lo: SocketAddr = "127.0.0.1:5353".parse().unwrap();
    assert_eq!(a.send(v, b"dgram", Some(lo)), Ok(5));
    for _ in 0..10 {
        a.poll();
    }
    let mut buf = [0u8; 16];
    let got = a.recv(u, &mut buf, false).unwrap();
    assert_eq!(&buf[..got.len], b"dgram");
    assert_eq!(got.from.unwrap().ip(), lo.ip());
    // Nothing went out on the wire for any of it.
    assert!(!b.dev.frames_pending());
}

#[test]
fn finish_delivers_what_was_written_before_the_end() {
    let (mut server, mut client, clock) = pair();
    let l = listener(&mut server, 9000, 2);
    let (c, s) = connected(&mut server, &mut client, &clock, l, v4(1, 9000));
    let data = vec![42u8; 100_000];
    let mut sent = 0;
    while sent < data.len() {
        match server.send(s, &data[sent..], None) {
            Ok(n) => sent += n,
            Err(e) => {
                assert_eq!(e, errno::AGAIN);
                break;
            }
        }
    }
    assert!(sent > 0);
    // The client reads while the server finishes: everything sent arrives, then the end.
    let mut got = Vec::new();
    let deadline = clock.0.get() + 5_000_000_000;
    let mut buf = [0u8; 8192];
    let mut eof = false;
    while !eof && clock.0.get() < deadline {
        server.finish(clock.0.get() + 1_000_000);
        loop {
            match client.recv(c, &mut buf, false) {
                Ok(r) if r.len == 0 => {
                    eof = true;
                    break;
                }
                Ok(r) => got.extend_from_slice(&buf[..r.len]),
                Err(_) => break,
            }
        }
    }
    assert!(eof);
    assert_eq!(got.len(), sent);
    assert!(server.socks.is_empty());
    // Everything delivered and acknowledged: finish returns without waiting.
    let before = clock.0.get();
    server.finish(before + 1_000_000_000);
    assert!(clock.0.get() < before + 1_000_000_000);
}

#[test]
fn a_datagram_sent_just_before_close_still_goes() {
    let (mut server, mut client, clock) = pair();
    let s = server.open(Family::V4, Kind::Datagram).unwrap();
    server.bind(s, v4(1, 53)).unwrap();
    let c = client.open(Family::V4, Kind::Datagram).unwrap();
    assert_eq!(client.send(c, b"last words", Some(v4(1, 53))), Ok(10));
    client.close(c);
    pump(&mut server, &mut client, &clock);
    let mut buf = [0u8; 64];
    let got = server.recv(s, &mut buf, false).unwrap();
    assert_eq!(&buf[..got.len], b"last words");
    // Once sent, the closed socket is gone.
    assert_eq!(client.smoltcp_sockets(), 0);
}
