//! [`HostNetwork`] on the host's loopback: sockets of one network talking to each other
//! (and to `std::net` peers standing for the world outside), through the [`Network`]
//! methods the WASI layer calls, with the waiting it does ([`Network::wait`], then again).

use super::*;
use std::io::{Read, Write};
use std::net::{Ipv6Addr, TcpListener, TcpStream, UdpSocket};
use std::time::Instant;

const LO: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const ANY: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
/// How long a test waits for something that should happen at once.
const PATIENCE: u64 = 5_000_000_000;

fn addr(ip: IpAddr, port: u16) -> SocketAddr {
    SocketAddr::new(ip, port)
}

/// Wait until `s` is ready for `interest` (as the WASI layer does before trying again).
fn ready(net: &mut HostNetwork, s: SockId, interest: Interest) -> Readiness {
    let deadline = monotonic_ns() + PATIENCE;
    loop {
        let r = net.readiness(s);
        let done = match interest {
            Interest::Read => r.readable,
            Interest::Write => r.writable,
        };
        if done {
            return r;
        }
        assert!(
            monotonic_ns() < deadline,
            "socket {s} never became ready: {r:?}"
        );
        net.wait(&[(s, interest)], Some(deadline));
    }
}

/// A port nothing listens on now (the kernel just gave it out and took it back).
fn free_port(kind: Kind) -> u16 {
    match kind {
        Kind::Stream => TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port(),
        Kind::Datagram => UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port(),
    }
}

/// A listening stream socket on 127.0.0.1 and its address.
fn listener(net: &mut HostNetwork) -> (SockId, SocketAddr) {
    let l = net.open(Family::V4, Kind::Stream).unwrap();
    net.bind(l, addr(LO, 0)).unwrap();
    net.listen(l, 16).unwrap();
    let a = net.local_addr(l).unwrap();
    assert_ne!(a.port(), 0);
    (l, a)
}

/// Connect `c` to `to` the non-blocking way: `INPROGRESS`, wait, then `ISCONN`.
fn connect(net: &mut HostNetwork, c: SockId, to: SocketAddr) {
    match net.connect(c, to) {
        Ok(()) => {}
        Err(errno::INPROGRESS) => {
            ready(net, c, Interest::Write);
            assert_eq!(net.connect(c, to), Err(errno::ISCONN));
        }
        Err(e) => panic!("connect {to}: errno {e}"),
    }
    assert_eq!(net.connect(c, to), Err(errno::ISCONN));
}

/// A connected pair: (listener, client, accepted server side).
fn pair(net: &mut HostNetwork) -> (SockId, SockId, SockId) {
    let (l, la) = listener(net);
    let c = net.open(Family::V4, Kind::Stream).unwrap();
    connect(net, c, la);
    ready(net, l, Interest::Read);
    let (s, peer) = net.accept(l).unwrap();
    assert_eq!(peer, net.local_addr(c).unwrap());
    (l, c, s)
}

fn recv_all(net: &mut HostNetwork, s: SockId, n: usize) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    while got.len() < n {
        ready(net, s, Interest::Read);
        let r = net.recv(s, &mut buf, false).unwrap();
        assert!(r.len > 0, "early end of stream");
        got.extend_from_slice(&buf[..r.len]);
    }
    got
}

#[test]
fn stream_round_trip() {
    let mut net = HostNetwork::new(Vec::new());
    let (l, la) = listener(&mut net);
    assert_eq!(net.accept(l).map(|_| ()), Err(errno::AGAIN));
    assert!(!net.readiness(l).readable);

    let c = net.open(Family::V4, Kind::Stream).unwrap();
    let first = net.connect(c, la);
    assert!(
        matches!(first, Ok(()) | Err(errno::INPROGRESS)),
        "{first:?}"
    );
    ready(&mut net, c, Interest::Write);
    assert_eq!(net.connect(c, la), Err(errno::ISCONN));
    assert_eq!(net.connect(c, la), Err(errno::ISCONN));
    assert_eq!(net.take_error(c), errno::SUCCESS);

    assert!(ready(&mut net, l, Interest::Read).readable);
    let (s, peer) = net.accept(l).unwrap();
    assert_eq!(peer, net.local_addr(c).unwrap());
    assert_eq!(net.peer_addr(c).unwrap(), la);
    assert_eq!(net.local_addr(s).unwrap(), la);
    assert_eq!(net.peer_addr(s).unwrap(), peer);
    assert_eq!(net.peer_addr(l), Err(errno::NOTCONN));

    // Nothing to read yet: AGAIN, not readable; then the data, its size, a peek.
    let mut buf = [0u8; 64];
    assert_eq!(net.recv(s, &mut buf, false), Err(errno::AGAIN));
    assert!(!net.readiness(s).readable);
    assert!(net.readiness(c).writable);
    assert_eq!(net.send(c, b"hello", None), Ok(5));
    let r = ready(&mut net, s, Interest::Read);
    assert_eq!(r.nbytes, 5);
    assert!(!r.hangup);
    let got = net.recv(s, &mut buf[..2], true).unwrap();
    assert_eq!((got.len, got.truncated, got.from), (2, false, None));
    assert_eq!(&buf[..2], b"he");
    assert_eq!(net.readiness(s).nbytes, 5, "a peek leaves the bytes");
    // For `poll_oneoff`: one `poll(2)`, no byte count for a stream (at least one); an
    // unknown id is neither readable nor writable.
    let mut many = Vec::new();
    net.readiness_many(&[c, s, 999], &mut many);
    assert_eq!(many.len(), 3);
    assert!(many[0].writable && !many[0].readable);
    assert!(many[1].readable && many[1].writable && !many[1].hangup);
    assert_eq!(many[1].nbytes, 1);
    assert_eq!(many[2], Readiness::default());
    let got = net.recv(s, &mut buf, false).unwrap();
    assert_eq!(&buf[..got.len], b"hello");
    assert_eq!(net.recv(s, &mut buf, false), Err(errno::AGAIN));

    // And back.
    assert_eq!(net.send(s, b"world!", None), Ok(6));
    assert_eq!(recv_all(&mut net, c, 6), b"world!");

    for x in [c, s, l] {
        net.close(x);
        assert_eq!(net.local_addr(x), Err(errno::BADF));
    }
}

#[test]
fn connection_refused() {
    let mut net = HostNetwork::new(Vec::new());
    let to = addr(LO, free_port(Kind::Stream));
    // The outcome comes from the next `connect` ...
    let c = net.open(Family::V4, Kind::Stream).unwrap();
    match net.connect(c, to) {
        Err(errno::INPROGRESS) => {
            let r = ready(&mut net, c, Interest::Write);
            assert!(r.hangup, "{r:?}");
            assert_eq!(net.connect(c, to), Err(errno::CONNREFUSED));
        }
        other => assert_eq!(other, Err(errno::CONNREFUSED)),
    }
    // ... or from SO_ERROR.
    let d = net.open(Family::V4, Kind::Stream).unwrap();
    if net.connect(d, to) == Err(errno::INPROGRESS) {
        ready(&mut net, d, Interest::Write);
        assert_eq!(net.take_error(d), errno::CONNREFUSED);
        assert_eq!(net.take_error(d), errno::SUCCESS);
    }
    net.close(c);
    net.close(d);
}

#[test]
fn pending_connect_answers_already() {
    // A listener whose backlog is full holds the next handshake (SYNs are dropped), so the
    // connect stays pending.
    let mut net = HostNetwork::new(Vec::new());
    let l = net.open(Family::V4, Kind::Stream).unwrap();
    net.bind(l, addr(LO, 0)).unwrap();
    net.listen(l, 0).unwrap();
    let la = net.local_addr(l).unwrap();
    let mut clients = Vec::new();
    let mut pending = None;
    for _ in 0..8 {
        let c = net.open(Family::V4, Kind::Stream).unwrap();
        clients.push(c);
        if net.connect(c, la) == Err(errno::INPROGRESS) {
            net.wait(&[(c, Interest::Write)], Some(monotonic_ns() + 50_000_000));
            if !net.readiness(c).writable {
                pending = Some(c);
                break;
            }
        }
    }
    let c = pending.expect("some connect stays pending behind a full backlog");
    assert_eq!(net.connect(c, la), Err(errno::ALREADY));
    // Accepting makes room: the handshake completes (after a SYN retransmission, ~1 s).
    while net.accept(l).is_ok() {}
    ready(&mut net, c, Interest::Write);
    assert_eq!(net.connect(c, la), Err(errno::ISCONN));
}

#[test]
fn datagrams() {
    let mut net = HostNetwork::new(Vec::new());
    let a = net.open(Family::V4, Kind::Datagram).unwrap();
    let b = net.open(Family::V4, Kind::Datagram).unwrap();
    net.bind(a, addr(LO, 0)).unwrap();
    net.bind(b, addr(LO, 0)).unwrap();
    let (aa, ba) = (net.local_addr(a).unwrap(), net.local_addr(b).unwrap());
    let mut buf = [0u8; 64];
    assert_eq!(net.recv(b, &mut buf, false), Err(errno::AGAIN));
    assert_eq!(net.send(a, b"", None), Err(errno::DESTADDRREQ));

    assert_eq!(net.send(a, b"0123456789", Some(ba)), Ok(10));
    assert_eq!(net.send(a, b"xy", Some(ba)), Ok(2));
    let r = ready(&mut net, b, Interest::Read);
    assert_eq!(r.nbytes, 10, "the size of the next datagram");
    let mut many = Vec::new();
    net.readiness_many(&[a, b], &mut many);
    assert_eq!(
        many[1].nbytes, 10,
        "poll_oneoff's count of a datagram socket is exact"
    );
    assert!(!many[0].readable);
    // A peek leaves the datagram; a short read truncates it and says so.
    let got = net.recv(b, &mut buf[..4], true).unwrap();
    assert_eq!(
        got,
        Received {
            len: 4,
            truncated: true,
            from: Some(aa)
        }
    );
    let got = net.recv(b, &mut buf, true).unwrap();
    assert_eq!(
        got,
        Received {
            len: 10,
            truncated: false,
            from: Some(aa)
        }
    );
    let got = net.recv(b, &mut buf[..4], false).unwrap();
    assert_eq!(
        got,
        Received {
            len: 4,
            truncated: true,
            from: Some(aa)
        }
    );
    assert_eq!(&buf[..4], b"0123");
    // The rest of a truncated datagram is gone: the next one follows.
    ready(&mut net, b, Interest::Read);
    let got = net.recv(b, &mut buf, false).unwrap();
    assert_eq!(
        got,
        Received {
            len: 2,
            truncated: false,
            from: Some(aa)
        }
    );
    assert_eq!(&buf[..2], b"xy");

    // A default peer.
    net.connect(b, aa).unwrap();
    assert_eq!(net.peer_addr(b).unwrap(), aa);
    assert_eq!(net.send(b, b"back", None), Ok(4));
    ready(&mut net, a, Interest::Read);
    let got = net.recv(a, &mut buf, false).unwrap();
    assert_eq!((got.len, got.from), (4, Some(ba)));

    // UDP has no listening.
    assert_eq!(net.listen(a, 1), Err(errno::NOTSUP));
}

#[test]
fn shutdown_write_is_the_peers_end_of_stream() {
    let mut net = HostNetwork::new(Vec::new());
    let (_l, c, s) = pair(&mut net);
    assert_eq!(net.send(c, b"last", None), Ok(4));
    net.shutdown(c, false, true).unwrap();
    assert_eq!(recv_all(&mut net, s, 4), b"last");
    let r = ready(&mut net, s, Interest::Read);
    assert!(r.hangup, "{r:?}");
    let mut buf = [0u8; 8];
    assert_eq!(net.recv(s, &mut buf, false).unwrap().len, 0);
    // The other direction still works.
    assert_eq!(net.send(s, b"reply", None), Ok(5));
    assert_eq!(recv_all(&mut net, c, 5), b"reply");
    // Writing after the shutdown is EPIPE (MSG_NOSIGNAL: no SIGPIPE).
    assert_eq!(net.send(c, b"more", None), Err(errno::PIPE));
    assert_eq!(net.shutdown(c, false, false), Ok(()));
    net.shutdown(c, true, true).unwrap();
}

#[test]
fn writing_to_a_closed_peer_is_an_error_not_a_signal() {
    let mut net = HostNetwork::new(Vec::new());
    let (_l, c, s) = pair(&mut net);
    net.close(s);
    let r = ready(&mut net, c, Interest::Read);
    assert!(r.hangup);
    // The first write may be taken (and answered with a reset); a later one fails.
    let mut last = Ok(0);
    for _ in 0..100 {
        last = net.send(c, b"x", None);
        if last.is_err() {
            break;
        }
        net.wait(&[], Some(monotonic_ns() + 1_000_000));
    }
    assert!(
        matches!(last, Err(errno::PIPE | errno::CONNRESET)),
        "{last:?}"
    );
}

#[test]
fn publish_tcp() {
    let host_port = free_port(Kind::Stream);
    let mut net = HostNetwork::new(vec![Publish {
        ip: None,
        host: host_port,
        guest: 80,
        proto: Proto::Tcp,
    }]);
    let l = net.open(Family::V4, Kind::Stream).unwrap();
    net.bind(l, addr(ANY, 80)).unwrap();
    net.listen(l, 8).unwrap();
    // The program sees what it asked for; the host socket is 127.0.0.1:HOST_PORT.
    assert_eq!(net.local_addr(l).unwrap(), addr(ANY, 80));
    let actual = socket_addr(rnet::getsockname(&net.sock(l).unwrap().fd).unwrap()).unwrap();
    assert_eq!(actual, addr(LO, host_port));

    // From outside, at the host port.
    let mut outside = TcpStream::connect(addr(LO, host_port)).unwrap();
    ready(&mut net, l, Interest::Read);
    let (s, peer) = net.accept(l).unwrap();
    assert_eq!(peer, outside.local_addr().unwrap());
    assert_eq!(net.local_addr(s).unwrap(), addr(LO, 80));
    outside.write_all(b"GET").unwrap();
    assert_eq!(recv_all(&mut net, s, 3), b"GET");
    net.send(s, b"200", None).unwrap();
    let mut buf = [0u8; 3];
    outside.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"200");

    // From the program itself, at the guest port.
    let c = net.open(Family::V4, Kind::Stream).unwrap();
    connect(&mut net, c, addr(LO, 80));
    assert_eq!(net.peer_addr(c).unwrap(), addr(LO, 80));
    ready(&mut net, l, Interest::Read);
    let (s2, peer) = net.accept(l).unwrap();
    assert_eq!(peer, net.local_addr(c).unwrap());
    assert_eq!(net.local_addr(s2).unwrap(), addr(LO, 80));

    // A second bind of the guest port meets the first.
    let again = net.open(Family::V4, Kind::Stream).unwrap();
    assert_eq!(net.bind(again, addr(ANY, 80)), Err(errno::ADDRINUSE));
    // Other ports are bound as asked.
    let other = net.open(Family::V4, Kind::Stream).unwrap();
    let port = free_port(Kind::Stream);
    net.bind(other, addr(LO, port)).unwrap();
    assert_eq!(net.local_addr(other).unwrap(), addr(LO, port));
    // UDP port 80 is not published.
    let u = net.open(Family::V4, Kind::Datagram).unwrap();
    net.bind(u, addr(LO, 0)).unwrap();
    assert_ne!(net.local_addr(u).unwrap().port(), 80);
    // After the listener closes, the host port is free and the guest port is plain again.
    net.close(l);
    assert_eq!(
        net.inward(Kind::Stream, addr(LO, host_port)),
        addr(LO, host_port)
    );
}

#[test]
fn publish_udp_on_an_ipv6_socket() {
    let host_port = free_port(Kind::Datagram);
    let mut net = HostNetwork::new(vec![Publish {
        ip: Some(LO),
        host: host_port,
        guest: 53,
        proto: Proto::Udp,
    }]);
    let any6 = IpAddr::V6(Ipv6Addr::UNSPECIFIED);
    let u = net.open(Family::V6, Kind::Datagram).unwrap();
    net.bind(u, addr(any6, 53)).unwrap();
    assert_eq!(net.local_addr(u).unwrap(), addr(any6, 53));
    let outside = UdpSocket::bind("127.0.0.1:0").unwrap();
    outside.send_to(b"query", addr(LO, host_port)).unwrap();
    ready(&mut net, u, Interest::Read);
    let mut buf = [0u8; 16];
    let got = net.recv(u, &mut buf, false).unwrap();
    assert_eq!(&buf[..got.len], b"query");
    let from = got.from.unwrap();
    assert_eq!(canonical(from.ip()), LO);
    assert_eq!(from.port(), outside.local_addr().unwrap().port());
    net.send(u, b"answer", Some(from)).unwrap();
    let (n, _) = outside.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"answer");

    // The program reaches its own published socket at the guest port, and sees the guest
    // port as the sender of what it sent itself.
    let v4 = net.open(Family::V4, Kind::Datagram).unwrap();
    net.send(v4, b"self", Some(addr(LO, 53))).unwrap();
    ready(&mut net, u, Interest::Read);
    let got = net.recv(u, &mut buf, false).unwrap();
    assert_eq!(&buf[..got.len], b"self");
    let back = got.from.unwrap();
    net.send(u, b"hi", Some(back)).unwrap();
    ready(&mut net, v4, Interest::Read);
    let got = net.recv(v4, &mut buf, false).unwrap();
    assert_eq!(got.from, Some(addr(LO, 53)));
}

#[test]
fn publish_to_an_address_of_the_other_family() {
    let mut net = HostNetwork::new(vec![Publish {
        ip: Some(IpAddr::V6(Ipv6Addr::LOCALHOST)),
        host: free_port(Kind::Stream),
        guest: 8080,
        proto: Proto::Tcp,
    }]);
    let s = net.open(Family::V4, Kind::Stream).unwrap();
    assert_eq!(net.bind(s, addr(ANY, 8080)), Err(errno::ADDRNOTAVAIL));
}

#[test]
fn wait_returns_on_readiness_and_at_the_deadline() {
    let mut net = HostNetwork::new(Vec::new());
    let (l, la) = listener(&mut net);

    // The deadline.
    let start = Instant::now();
    net.wait(&[(l, Interest::Read)], Some(monotonic_ns() + 50_000_000));
    let took = start.elapsed();
    assert!(took.as_millis() >= 49, "returned after {took:?}");
    assert!(took.as_secs() < 2, "returned after {took:?}");
    // A deadline in the past, and nothing to wait for at all.
    let start = Instant::now();
    net.wait(&[(l, Interest::Read)], Some(0));
    net.wait(&[], None);
    assert!(start.elapsed().as_millis() < 500);
    // Nothing but the deadline: a sleep.
    let start = Instant::now();
    net.wait(&[], Some(monotonic_ns() + 20_000_000));
    assert!(start.elapsed().as_millis() >= 19);
    // A socket that is not there: at once (the next call finds out).
    let start = Instant::now();
    net.wait(&[(l + 100, Interest::Read)], None);
    assert!(start.elapsed().as_millis() < 500);

    // Readiness, long before the deadline.
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(30));
        TcpStream::connect(la).unwrap()
    });
    let start = Instant::now();
    net.wait(&[(l, Interest::Read)], Some(monotonic_ns() + 10 * PATIENCE));
    assert!(start.elapsed().as_secs() < 10);
    let _keep = t.join().unwrap();
    assert!(net.readiness(l).readable);
    net.accept(l).unwrap();

    // Any one of several.
    let (_l2, c, s) = pair(&mut net);
    net.send(c, b"!", None).unwrap();
    let start = Instant::now();
    net.wait(
        &[(l, Interest::Read), (s, Interest::Read)],
        Some(monotonic_ns() + 10 * PATIENCE),
    );
    assert!(start.elapsed().as_secs() < 10);
}

#[test]
fn options() {
    let mut net = HostNetwork::new(Vec::new());
    let t = net.open(Family::V4, Kind::Stream).unwrap();
    for opt in [SockOpt::ReuseAddr, SockOpt::KeepAlive, SockOpt::NoDelay] {
        net.set_option(t, opt, 1).unwrap();
        assert_eq!(net.get_option(t, opt), Ok(1), "{opt:?}");
        net.set_option(t, opt, 0).unwrap();
        assert_eq!(net.get_option(t, opt), Ok(0), "{opt:?}");
    }
    net.set_option(t, SockOpt::RecvBuf, 65536).unwrap();
    assert!(net.get_option(t, SockOpt::RecvBuf).unwrap() >= 65536);
    net.set_option(t, SockOpt::SendBuf, 65536).unwrap();
    assert!(net.get_option(t, SockOpt::SendBuf).unwrap() >= 65536);
    assert_eq!(net.get_option(t, SockOpt::Linger), Ok(LINGER_OFF));
    net.set_option(t, SockOpt::Linger, 0).unwrap();
    assert_eq!(net.get_option(t, SockOpt::Linger), Ok(0));
    net.set_option(t, SockOpt::Linger, 7).unwrap();
    assert_eq!(net.get_option(t, SockOpt::Linger), Ok(7));
    net.set_option(t, SockOpt::Linger, LINGER_OFF).unwrap();
    assert_eq!(net.get_option(t, SockOpt::Linger), Ok(LINGER_OFF));

    let u = net.open(Family::V6, Kind::Datagram).unwrap();
    net.set_option(u, SockOpt::Broadcast, 1).unwrap();
    assert_eq!(net.get_option(u, SockOpt::Broadcast), Ok(1));
    assert_eq!(
        net.set_option(u, SockOpt::NoDelay, 1),
        Err(errno::NOPROTOOPT)
    );
}

#[test]
fn bad_ids() {
    let mut net = HostNetwork::new(Vec::new());
    let mut buf = [0u8; 4];
    assert_eq!(net.bind(9, addr(LO, 0)), Err(errno::BADF));
    assert_eq!(net.recv(9, &mut buf, false), Err(errno::BADF));
    assert_eq!(net.send(9, b"x", None), Err(errno::BADF));
    assert_eq!(net.take_error(9), errno::BADF);
    assert_eq!(net.readiness(9), Readiness::default());
    net.close(9);
    // Ids are reused after close.
    let a = net.open(Family::V4, Kind::Stream).unwrap();
    let b = net.open(Family::V4, Kind::Stream).unwrap();
    net.close(a);
    assert_eq!(net.open(Family::V4, Kind::Datagram), Ok(a));
    assert_ne!(a, b);
    // Binding an IPv6 address on an IPv4 socket.
    assert!(net
        .bind(b, addr(IpAddr::V6(Ipv6Addr::LOCALHOST), 0))
        .is_err());
}

#[test]
fn preopened_listeners_only() {
    let mut net = HostNetwork::preopened_only();
    let (l, family) = net.listen_tcp(addr(LO, 0)).unwrap();
    assert_eq!(family, Family::V4);
    assert_eq!(net.open(Family::V4, Kind::Stream), Err(errno::NOTCAPABLE));
    assert_eq!(net.resolve("localhost"), Err(errno::NOTCAPABLE));
    assert_eq!(net.get_option(l, SockOpt::ReuseAddr), Ok(1));
    let la = net.local_addr(l).unwrap();
    let mut outside = TcpStream::connect(la).unwrap();
    ready(&mut net, l, Interest::Read);
    let (s, _) = net.accept(l).unwrap();
    outside.write_all(b"ping").unwrap();
    assert_eq!(recv_all(&mut net, s, 4), b"ping");
    // A taken address is an error the runtime reports.
    let mut other = HostNetwork::new(Vec::new());
    assert_eq!(other.listen_tcp(la).unwrap_err(), HostErrno::ADDRINUSE);
}

#[test]
fn resolve() {
    let mut net = HostNetwork::new(Vec::new());
    let ips = net.resolve("localhost").unwrap();
    assert!(ips.iter().all(|ip| ip.is_loopback()), "{ips:?}");
    assert!(!ips.is_empty());
    assert_eq!(net.resolve("a\0b"), Err(errno::INVAL));
}

#[test]
fn errno_mapping() {
    use HostErrno as E;
    let table = [
        (E::AGAIN, errno::AGAIN),
        (E::WOULDBLOCK, errno::AGAIN),
        (E::INPROGRESS, errno::INPROGRESS),
        (E::ALREADY, errno::ALREADY),
        (E::ISCONN, errno::ISCONN),
        (E::NOTCONN, errno::NOTCONN),
        (E::CONNREFUSED, errno::CONNREFUSED),
        (E::CONNRESET, errno::CONNRESET),
        (E::CONNABORTED, errno::CONNABORTED),
        (E::ADDRINUSE, errno::ADDRINUSE),
        (E::ADDRNOTAVAIL, errno::ADDRNOTAVAIL),
        (E::AFNOSUPPORT, errno::AFNOSUPPORT),
        (E::DESTADDRREQ, errno::DESTADDRREQ),
        (E::HOSTUNREACH, errno::HOSTUNREACH),
        (E::HOSTDOWN, errno::HOSTUNREACH),
        (E::NETUNREACH, errno::NETUNREACH),
        (E::NETDOWN, errno::NETDOWN),
        (E::NETRESET, errno::NETRESET),
        (E::TIMEDOUT, errno::TIMEDOUT),
        (E::MSGSIZE, errno::MSGSIZE),
        (E::NOBUFS, errno::NOBUFS),
        (E::NOPROTOOPT, errno::NOPROTOOPT),
        (E::NOTSOCK, errno::NOTSOCK),
        (E::OPNOTSUPP, errno::NOTSUP),
        (E::NOTSUP, errno::NOTSUP),
        (E::PROTO, errno::PROTO),
        (E::PROTONOSUPPORT, errno::PROTONOSUPPORT),
        (E::PROTOTYPE, errno::PROTOTYPE),
        (E::PIPE, errno::PIPE),
        (E::ACCESS, errno::ACCES),
        (E::PERM, errno::PERM),
        (E::INVAL, errno::INVAL),
        (E::BADF, errno::BADF),
        (E::MFILE, errno::MFILE),
        (E::NFILE, errno::NFILE),
        (E::NOMEM, errno::NOMEM),
        (E::INTR, errno::INTR),
        (E::NOSYS, errno::NOSYS),
        (E::REMOTE, errno::IO),
    ];
    for (host, wasi) in table {
        assert_eq!(wasi_errno(host), wasi, "{host:?}");
    }
}

/// What descriptor `fd` of this process is now (`socket:[INODE]` for a socket), if open.
fn fd_target(fd: i32) -> Option<std::path::PathBuf> {
    std::fs::read_link(format!("/proc/self/fd/{fd}")).ok()
}

/// The sockets among this process's descriptors (other tests run alongside, so counts
/// are of these inodes, not of all descriptors).
fn open_sockets() -> Vec<std::path::PathBuf> {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .filter(|t| t.to_string_lossy().starts_with("socket:"))
        .collect()
}

#[test]
fn descriptors_are_nonblocking_cloexec_and_closed() {
    use std::os::fd::AsRawFd;
    let mut net = HostNetwork::new(Vec::new());
    let (l, c, s) = pair(&mut net);
    let u = net.open(Family::V6, Kind::Datagram).unwrap();
    let ids = [l, c, s, u];
    let mut ours = Vec::new();
    for id in ids {
        let fd = &net.sock(id).unwrap().fd;
        let fl = rustix::fs::fcntl_getfl(fd).unwrap();
        assert!(fl.contains(rustix::fs::OFlags::NONBLOCK), "socket {id}");
        let fdfl = rustix::io::fcntl_getfd(fd).unwrap();
        assert!(fdfl.contains(rustix::io::FdFlags::CLOEXEC), "socket {id}");
        let target = fd_target(fd.as_raw_fd()).unwrap();
        assert!(target.to_string_lossy().starts_with("socket:"));
        ours.push((fd.as_raw_fd(), target));
    }
    // Many more, closed again: none of them stays open.
    let many: Vec<SockId> = (0..50)
        .map(|_| net.open(Family::V4, Kind::Stream).unwrap())
        .collect();
    let inodes: Vec<_> = many
        .iter()
        .map(|&id| fd_target(net.sock(id).unwrap().fd.as_raw_fd()).unwrap())
        .collect();
    let before = open_sockets();
    assert_eq!(inodes.iter().filter(|i| before.contains(i)).count(), 50);
    for id in many {
        net.close(id);
    }
    let after = open_sockets();
    assert_eq!(inodes.iter().filter(|i| after.contains(i)).count(), 0);

    for id in ids {
        net.close(id);
    }
    for (fd, target) in &ours {
        assert_ne!(
            fd_target(*fd).as_ref(),
            Some(target),
            "descriptor {fd} still open"
        );
    }
    // Dropping the network closes what is left.
    let (_l, c, _s) = pair(&mut net);
    let left = fd_target(net.sock(c).unwrap().fd.as_raw_fd()).unwrap();
    drop(net);
    assert!(!open_sockets().contains(&left));
}
