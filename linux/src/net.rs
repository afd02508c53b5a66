//! The network of the Linux target: [`HostNetwork`], the
//! [`hako_kernel::wasi::net::Network`] of host sockets. On Linux the program runs on the
//! host's own network stack: its sockets are the process's sockets, its addresses the host's.
//!
//! **Sockets.** Every socket is created (and accepted) non-blocking and close-on-exec; a
//! [`SockId`] is an index into a table of owned descriptors, reused after `close`. No call
//! here blocks except [`Network::wait`] (one `poll(2)` until the deadline) and
//! [`Network::resolve`] (musl's `getaddrinfo`, which reads `/etc/hosts` and
//! `/etc/resolv.conf`): an operation that cannot proceed answers `AGAIN` and the WASI layer
//! waits. Sends pass `MSG_NOSIGNAL`, so a write to a closed connection is `EPIPE`, never
//! `SIGPIPE`. Host errors become WASI errno values in one place, [`wasi_errno`].
//!
//! **Connecting.** The first `connect` of a stream socket answers `INPROGRESS`; while the
//! handshake runs, `connect` answers `ALREADY` (as POSIX does); once it finished, `connect`
//! answers `ISCONN` after a success or the failure (`CONNREFUSED`, ...) once. The host's
//! own second `connect` decides (Linux reports success, `EALREADY` or the pending error
//! there, without the race of reading `SO_ERROR` separately); its success is `ISCONN`.
//!
//! **Options** are the host's: `SO_REUSEADDR`, `SO_KEEPALIVE`, `TCP_NODELAY`,
//! `SO_BROADCAST` (0 or 1), `SO_RCVBUF`/`SO_SNDBUF` (Linux reports twice what was set, for
//! its bookkeeping) and `SO_LINGER` in seconds, [`LINGER_OFF`] when lingering is off.
//! `readiness` is one `poll(2)` with no timeout and `FIONREAD` (the size of the next
//! datagram, for a datagram socket); `readiness_many` (`poll_oneoff`) is one `poll(2)` for
//! all its sockets and asks `FIONREAD` of readable datagram sockets only: a readable stream
//! reports 1 byte ("at least one", as WasmEdge reports it), not a system call more per
//! ready connection.
//!
//! **Publishing** (`--publish HOST_PORT:GUEST_PORT[/udp]`, [`Publish`]). A published
//! guest port stands for a host port, as QEMU's port forwarding makes it for the
//! unikernel: when the program binds a socket of the mapping's protocol to `GUEST_PORT`,
//! the host socket is bound to `HOST_PORT` instead, on
//!
//! - the mapping's address, when it names one (`IP:HOST_PORT:GUEST_PORT`);
//! - else the address the program asked for, when that is a specific one;
//! - else (the program bound the unspecified address, as servers do) the loopback
//!   address, `127.0.0.1` (`::ffff:127.0.0.1`, the same listener, for an IPv6 socket),
//!   as published ports of the unikernel listen on `127.0.0.1` by default.
//!
//! The program keeps seeing its own port: `local_addr` of the bound socket is the address
//! it asked for, and wherever the host address of a published socket would reach the
//! program (`local_addr` of the connections it accepts, `peer_addr`, the sender of a
//! datagram) it reads `GUEST_PORT`. The other way, a `connect` or `send` to `GUEST_PORT` on
//! a loopback or unspecified address, or the address the program bound, reaches the
//! published socket on its host port, so a program can still talk to itself. Binds to
//! other ports, and to port 0, happen as asked.
//!
//! **Without `--net`** the WASI context has no network at all. `--tcplisten` alone gives
//! it one that has only its preopened listeners ([`HostNetwork::preopened_only`], as
//! Wasmtime's `--tcplisten` without network access): they accept connections, but opening
//! a socket and resolving a name are `NOTCAPABLE`.

use crate::host::monotonic_ns;
use hako_abi::wasi::errno;
use hako_kernel::guest::Errno;
use hako_kernel::wasi::net::{
    Family, Interest, Kind, Network, Readiness, Received, SockId, SockOpt,
};
use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::io::{self, Errno as HostErrno};
use rustix::net::{
    self as rnet, sockopt, AddressFamily, RecvFlags, SendFlags, Shutdown, SocketAddrAny,
    SocketFlags, SocketType,
};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::os::fd::{AsFd, OwnedFd};
use std::time::Duration;

/// Transport protocol of a published port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    Tcp,
    Udp,
}

impl Proto {
    fn of(kind: Kind) -> Proto {
        match kind {
            Kind::Stream => Proto::Tcp,
            Kind::Datagram => Proto::Udp,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

/// A published port: `[IP:]HOST_PORT:GUEST_PORT[/udp]` (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Publish {
    /// The host address to listen on, if the mapping names one.
    pub ip: Option<IpAddr>,
    pub host: u16,
    pub guest: u16,
    pub proto: Proto,
}

/// The `Linger` option's value that means lingering is off (any other value is the
/// number of seconds `close` lingers).
pub const LINGER_OFF: u64 = u64::MAX;

/// Backlog of a `--tcplisten` listener (what Wasmtime's `std::net::TcpListener` uses).
const PREOPEN_BACKLOG: i32 = 128;

/// A host errno as the WASI errno the program sees: the network's own values here, the
/// rest as the file systems map them ([`crate::fs::wasi_errno`]; anything unexpected is
/// `EIO`). `EWOULDBLOCK` is `EAGAIN` and `EOPNOTSUPP` is `ENOTSUP` on Linux.
pub fn wasi_errno(e: HostErrno) -> Errno {
    use HostErrno as E;
    match e {
        E::AGAIN => errno::AGAIN,
        E::INPROGRESS => errno::INPROGRESS,
        E::ALREADY => errno::ALREADY,
        E::ISCONN => errno::ISCONN,
        E::NOTCONN => errno::NOTCONN,
        E::CONNREFUSED => errno::CONNREFUSED,
        E::CONNRESET => errno::CONNRESET,
        E::CONNABORTED => errno::CONNABORTED,
        E::ADDRINUSE => errno::ADDRINUSE,
        E::ADDRNOTAVAIL => errno::ADDRNOTAVAIL,
        E::AFNOSUPPORT => errno::AFNOSUPPORT,
        E::DESTADDRREQ => errno::DESTADDRREQ,
        E::HOSTUNREACH | E::HOSTDOWN => errno::HOSTUNREACH,
        E::NETUNREACH => errno::NETUNREACH,
        E::NETDOWN => errno::NETDOWN,
        E::NETRESET => errno::NETRESET,
        E::TIMEDOUT => errno::TIMEDOUT,
        E::MSGSIZE => errno::MSGSIZE,
        E::NOBUFS => errno::NOBUFS,
        E::NOPROTOOPT => errno::NOPROTOOPT,
        E::NOTSOCK => errno::NOTSOCK,
        E::PROTO => errno::PROTO,
        E::PROTONOSUPPORT => errno::PROTONOSUPPORT,
        E::PROTOTYPE => errno::PROTOTYPE,
        E::PIPE => errno::PIPE,
        other => crate::fs::wasi_errno(other),
    }
}

fn host<T>(r: io::Result<T>) -> Result<T, Errno> {
    r.map_err(wasi_errno)
}

/// Retry a system call interrupted by a signal.
fn retry<T>(mut f: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    loop {
        match f() {
            Err(HostErrno::INTR) => continue,
            r => return r,
        }
    }
}

/// `ip` as an address of a socket of `family`: IPv4 addresses of an IPv6 socket are
/// IPv4-mapped; an IPv6 address has none on an IPv4 socket unless it is IPv4-mapped.
fn in_family(ip: IpAddr, family: Family) -> Option<IpAddr> {
    match (ip, family) {
        (IpAddr::V4(_), Family::V4) | (IpAddr::V6(_), Family::V6) => Some(ip),
        (IpAddr::V4(v4), Family::V6) => Some(IpAddr::V6(v4.to_ipv6_mapped())),
        (IpAddr::V6(v6), Family::V4) => v6.to_ipv4_mapped().map(IpAddr::V4),
    }
}

/// The address itself, or the IPv4 address an IPv4-mapped IPv6 address stands for.
fn canonical(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

fn socket_addr(a: SocketAddrAny) -> Result<SocketAddr, Errno> {
    SocketAddr::try_from(a).map_err(|_| errno::AFNOSUPPORT)
}

/// A socket bound through a publish mapping.
#[derive(Debug, Clone, Copy)]
struct Published {
    /// What the program asked for (its `GUEST_PORT`).
    asked: SocketAddr,
    /// Where the host socket is bound.
    actual: SocketAddr,
}

#[derive(Debug)]
struct Sock {
    fd: OwnedFd,
    family: Family,
    kind: Kind,
    /// A `connect` answered `INPROGRESS` and no later one reported the outcome yet.
    connecting: bool,
    published: Option<Published>,
}

/// The host's network (see the module documentation).
#[derive(Debug)]
pub struct HostNetwork {
    socks: Vec<Option<Sock>>,
    publish: Vec<Publish>,
    /// The program may open sockets and resolve names (`--net`).
    open: bool,
}

impl HostNetwork {
    /// The host network, with these ports published (`--net`).
    pub fn new(publish: Vec<Publish>) -> Self {
        HostNetwork {
            socks: Vec::new(),
            publish,
            open: true,
        }
    }

    /// A network with nothing but the listeners [`HostNetwork::listen_tcp`] preopens
    /// (`--tcplisten` without `--net`).
    pub fn preopened_only() -> Self {
        HostNetwork {
            socks: Vec::new(),
            publish: Vec::new(),
            open: false,
        }
    }

    /// A stream socket listening on `addr` before the program starts (`--tcplisten`),
    /// with `SO_REUSEADDR` as Wasmtime's listeners have it: its id and family, for
    /// `WasiCtx::preopen_socket`. Published ports do not apply: `addr` is a host address.
    pub fn listen_tcp(&mut self, addr: SocketAddr) -> io::Result<(SockId, Family)> {
        let family = match addr {
            SocketAddr::V4(_) => Family::V4,
            SocketAddr::V6(_) => Family::V6,
        };
        let fd = new_socket(family, Kind::Stream)?;
        sockopt::set_socket_reuseaddr(&fd, true)?;
        rnet::bind(&fd, &addr)?;
        rnet::listen(&fd, PREOPEN_BACKLOG)?;
        Ok((self.insert(fd, family, Kind::Stream), family))
    }

    fn insert(&mut self, fd: OwnedFd, family: Family, kind: Kind) -> SockId {
        let sock = Sock {
            fd,
            family,
            kind,
            connecting: false,
            published: None,
        };
        match self.socks.iter().position(Option::is_none) {
            Some(i) => {
                self.socks[i] = Some(sock);
                i as SockId
            }
            None => {
                self.socks.push(Some(sock));
                (self.socks.len() - 1) as SockId
            }
        }
    }

    fn sock(&self, s: SockId) -> Result<&Sock, Errno> {
        self.socks
            .get(s as usize)
            .and_then(Option::as_ref)
            .ok_or(errno::BADF)
    }

    fn sock_mut(&mut self, s: SockId) -> Result<&mut Sock, Errno> {
        self.socks
            .get_mut(s as usize)
            .and_then(Option::as_mut)
            .ok_or(errno::BADF)
    }

    fn mapping(&self, kind: Kind, guest: u16) -> Option<&Publish> {
        self.publish
            .iter()
            .find(|p| p.proto == Proto::of(kind) && p.guest == guest)
    }

    /// Where a socket of `family` asking for `addr` is bound on the host: `None` when no
    /// mapping applies, an error when the mapping's address has no form in `family`.
    fn bind_target(
        &self,
        family: Family,
        kind: Kind,
        addr: SocketAddr,
    ) -> Option<Result<SocketAddr, Errno>> {
        if addr.port() == 0 {
            return None;
        }
        let p = self.mapping(kind, addr.port())?;
        let ip = match p.ip {
            Some(ip) => ip,
            None if addr.ip().is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            None => addr.ip(),
        };
        Some(
            in_family(ip, family)
                .map(|ip| SocketAddr::new(ip, p.host))
                .ok_or(errno::ADDRNOTAVAIL),
        )
    }

    /// The program's view of a host address reached by a socket of `kind`: the host
    /// address of a published socket reads as its `GUEST_PORT`.
    fn inward(&self, kind: Kind, addr: SocketAddr) -> SocketAddr {
        let found = self.socks.iter().flatten().find_map(|s| {
            let p = s.published?;
            (s.kind == kind
                && p.actual.port() == addr.port()
                && canonical(p.actual.ip()) == canonical(addr.ip()))
            .then_some(p.asked.port())
        });
        match found {
            Some(guest) => SocketAddr::new(addr.ip(), guest),
            None => addr,
        }
    }

    /// The host address a socket of `family` and `kind` reaches when the program names
    /// `addr`: a published socket's `GUEST_PORT` on a loopback or unspecified address, or on
    /// the address that socket asked for, is its host address.
    fn outward(&self, family: Family, kind: Kind, addr: SocketAddr) -> SocketAddr {
        let ip = canonical(addr.ip());
        let found = self.socks.iter().flatten().find_map(|s| {
            let p = s.published?;
            let ours = ip.is_loopback()
                || ip.is_unspecified()
                || ip == canonical(p.asked.ip())
                || ip == canonical(p.actual.ip());
            (s.kind == kind && addr.port() == p.asked.port() && ours).then_some(p.actual)
        });
        let Some(actual) = found else { return addr };
        let target = if actual.ip().is_unspecified() {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else {
            actual.ip()
        };
        match in_family(canonical(target), family) {
            Some(ip) => SocketAddr::new(ip, actual.port()),
            None => addr,
        }
    }

    fn poll_one(fd: &OwnedFd) -> PollFlags {
        let mut fds = [PollFd::new(
            fd,
            PollFlags::IN | PollFlags::OUT | PollFlags::RDHUP,
        )];
        match retry(|| rustix::event::poll(&mut fds, Some(&Timespec::default()))) {
            Ok(_) => fds[0].revents(),
            Err(_) => PollFlags::empty(),
        }
    }
}

/// What `poll`'s `ev` says of `fd`. `count`: ask for the bytes to read (`FIONREAD`, only
/// when there are some); otherwise a readable socket reports 1, "at least one".
fn readiness_from(fd: &OwnedFd, ev: PollFlags, count: bool) -> Readiness {
    let failed = PollFlags::ERR | PollFlags::HUP;
    let readable = ev.intersects(PollFlags::IN | PollFlags::RDHUP | failed);
    Readiness {
        readable,
        writable: ev.intersects(PollFlags::OUT | failed),
        hangup: ev.intersects(PollFlags::RDHUP | failed),
        nbytes: match ev.contains(PollFlags::IN) {
            true if count => io::ioctl_fionread(fd).unwrap_or(0),
            true => 1,
            false => 0,
        },
    }
}

/// A new non-blocking, close-on-exec socket.
fn new_socket(family: Family, kind: Kind) -> io::Result<OwnedFd> {
    let af = match family {
        Family::V4 => AddressFamily::INET,
        Family::V6 => AddressFamily::INET6,
    };
    let ty = match kind {
        Kind::Stream => SocketType::STREAM,
        Kind::Datagram => SocketType::DGRAM,
    };
    rnet::socket_with(af, ty, SocketFlags::NONBLOCK | SocketFlags::CLOEXEC, None)
}

fn flag(b: bool) -> u64 {
    u64::from(b)
}

/// The seconds of an `SO_LINGER` value, or [`LINGER_OFF`].
fn linger_value(d: Option<Duration>) -> u64 {
    d.map_or(LINGER_OFF, |d| d.as_secs())
}

/// A buffer size as `setsockopt` takes it (an `int`).
fn buffer_size(value: u64) -> usize {
    value.min(i32::MAX as u64) as usize
}

impl Network for HostNetwork {
    fn open(&mut self, family: Family, kind: Kind) -> Result<SockId, Errno> {
        if !self.open {
            return Err(errno::NOTCAPABLE);
        }
        let fd = host(new_socket(family, kind))?;
        Ok(self.insert(fd, family, kind))
    }

    fn bind(&mut self, s: SockId, addr: SocketAddr) -> Result<(), Errno> {
        let sock = self.sock(s)?;
        let target = match self.bind_target(sock.family, sock.kind, addr) {
            Some(t) => Some(t?),
            None => None,
        };
        host(rnet::bind(&sock.fd, &target.unwrap_or(addr)))?;
        if target.is_some() {
            let actual = host(rnet::getsockname(&sock.fd)).and_then(socket_addr)?;
            self.sock_mut(s)?.published = Some(Published {
                asked: addr,
                actual,
            });
        }
        Ok(())
    }

    fn listen(&mut self, s: SockId, backlog: u32) -> Result<(), Errno> {
        let sock = self.sock(s)?;
        host(rnet::listen(&sock.fd, backlog.min(i32::MAX as u32) as i32))
    }

    fn accept(&mut self, s: SockId) -> Result<(SockId, SocketAddr), Errno> {
        let sock = self.sock(s)?;
        let (family, kind) = (sock.family, sock.kind);
        let (fd, peer) = host(retry(|| {
            rnet::acceptfrom_with(&sock.fd, SocketFlags::NONBLOCK | SocketFlags::CLOEXEC)
        }))?;
        let peer = match peer {
            Some(a) => socket_addr(a)?,
            None => host(rnet::getpeername(&fd))?
                .ok_or(errno::NOTCONN)
                .and_then(socket_addr)?,
        };
        let peer = self.inward(kind, peer);
        Ok((self.insert(fd, family, kind), peer))
    }

    fn connect(&mut self, s: SockId, addr: SocketAddr) -> Result<(), Errno> {
        let sock = self.sock(s)?;
        let target = self.outward(sock.family, sock.kind, addr);
        let r = retry(|| rnet::connect(&sock.fd, &target));
        let was_connecting = sock.connecting;
        let sock = self.sock_mut(s)?;
        match r {
            Ok(()) if was_connecting => {
                sock.connecting = false;
                Err(errno::ISCONN)
            }
            Ok(()) => Ok(()),
            Err(HostErrno::INPROGRESS) => {
                sock.connecting = true;
                Err(errno::INPROGRESS)
            }
            Err(HostErrno::ALREADY) => Err(errno::ALREADY),
            Err(e) => {
                sock.connecting = false;
                Err(wasi_errno(e))
            }
        }
    }

    fn recv(&mut self, s: SockId, buf: &mut [u8], peek: bool) -> Result<Received, Errno> {
        let sock = self.sock(s)?;
        let peek = if peek {
            RecvFlags::PEEK
        } else {
            RecvFlags::empty()
        };
        match sock.kind {
            Kind::Stream => {
                let (len, _) = host(retry(|| rnet::recv(&sock.fd, &mut *buf, peek)))?;
                Ok(Received {
                    len,
                    truncated: false,
                    from: None,
                })
            }
            Kind::Datagram => {
                let kind = sock.kind;
                let cap = buf.len();
                let (len, full, from) = host(retry(|| {
                    rnet::recvfrom(&sock.fd, &mut *buf, peek | RecvFlags::TRUNC)
                }))?;
                let from = match from {
                    Some(a) => Some(self.inward(kind, socket_addr(a)?)),
                    None => None,
                };
                Ok(Received {
                    len,
                    truncated: full > cap,
                    from,
                })
            }
        }
    }

    fn send(&mut self, s: SockId, data: &[u8], to: Option<SocketAddr>) -> Result<usize, Errno> {
        let sock = self.sock(s)?;
        let flags = SendFlags::NOSIGNAL;
        match to {
            None => host(retry(|| rnet::send(&sock.fd, data, flags))),
            Some(to) => {
                let to = self.outward(sock.family, sock.kind, to);
                host(retry(|| rnet::sendto(&sock.fd, data, flags, &to)))
            }
        }
    }

    fn shutdown(&mut self, s: SockId, read: bool, write: bool) -> Result<(), Errno> {
        let sock = self.sock(s)?;
        let how = match (read, write) {
            (true, true) => Shutdown::Both,
            (true, false) => Shutdown::Read,
            (false, true) => Shutdown::Write,
            (false, false) => return Ok(()),
        };
        host(rnet::shutdown(&sock.fd, how))
    }

    fn close(&mut self, s: SockId) {
        if let Some(slot) = self.socks.get_mut(s as usize) {
            // Dropping the descriptor closes it; Linux finishes a stream in the background.
            *slot = None;
        }
    }

    fn local_addr(&mut self, s: SockId) -> Result<SocketAddr, Errno> {
        let sock = self.sock(s)?;
        if let Some(p) = sock.published {
            return Ok(p.asked);
        }
        let addr = host(rnet::getsockname(&sock.fd)).and_then(socket_addr)?;
        Ok(self.inward(sock.kind, addr))
    }

    fn peer_addr(&mut self, s: SockId) -> Result<SocketAddr, Errno> {
        let sock = self.sock(s)?;
        let addr = host(rnet::getpeername(&sock.fd))?
            .ok_or(errno::NOTCONN)
            .and_then(socket_addr)?;
        Ok(self.inward(sock.kind, addr))
    }

    fn readiness(&mut self, s: SockId) -> Readiness {
        let Ok(sock) = self.sock(s) else {
            return Readiness::default();
        };
        readiness_from(&sock.fd, Self::poll_one(&sock.fd), true)
    }

    /// One `poll(2)` for all of `socks`; `FIONREAD` only for readable datagram sockets (the
    /// size of the next datagram): a readable stream reports 1 (see the trait), which saves
    /// a system call per ready connection and request.
    fn readiness_many(&mut self, socks: &[SockId], out: &mut Vec<Readiness>) {
        out.clear();
        let mut polls: Vec<PollFd<'_>> = Vec::with_capacity(socks.len());
        for &s in socks {
            if let Some(Some(sock)) = self.socks.get(s as usize) {
                polls.push(PollFd::new(
                    &sock.fd,
                    PollFlags::IN | PollFlags::OUT | PollFlags::RDHUP,
                ));
            }
        }
        let ok = retry(|| rustix::event::poll(&mut polls, Some(&Timespec::default()))).is_ok();
        let mut events = polls
            .iter()
            .map(|p| if ok { p.revents() } else { PollFlags::empty() });
        for &s in socks {
            out.push(match self.socks.get(s as usize) {
                Some(Some(sock)) => readiness_from(
                    &sock.fd,
                    events.next().unwrap_or(PollFlags::empty()),
                    sock.kind == Kind::Datagram,
                ),
                _ => Readiness::default(),
            });
        }
    }

    fn take_error(&mut self, s: SockId) -> Errno {
        match self.sock(s) {
            Ok(sock) => match sockopt::socket_error(&sock.fd) {
                Ok(Ok(())) => errno::SUCCESS,
                Ok(Err(e)) | Err(e) => wasi_errno(e),
            },
            Err(e) => e,
        }
    }

    fn set_option(&mut self, s: SockId, opt: SockOpt, value: u64) -> Result<(), Errno> {
        let fd = self.sock(s)?.fd.as_fd();
        let on = value != 0;
        host(match opt {
            SockOpt::ReuseAddr => sockopt::set_socket_reuseaddr(fd, on),
            SockOpt::KeepAlive => sockopt::set_socket_keepalive(fd, on),
            SockOpt::NoDelay => sockopt::set_tcp_nodelay(fd, on),
            SockOpt::Broadcast => sockopt::set_socket_broadcast(fd, on),
            SockOpt::RecvBuf => sockopt::set_socket_recv_buffer_size(fd, buffer_size(value)),
            SockOpt::SendBuf => sockopt::set_socket_send_buffer_size(fd, buffer_size(value)),
            SockOpt::Linger => sockopt::set_socket_linger(
                fd,
                (value != LINGER_OFF).then(|| Duration::from_secs(value.min(i32::MAX as u64))),
            ),
        })
    }

    fn get_option(&mut self, s: SockId, opt: SockOpt) -> Result<u64, Errno> {
        let fd = self.sock(s)?.fd.as_fd();
        host(match opt {
            SockOpt::ReuseAddr => sockopt::socket_reuseaddr(fd).map(flag),
            SockOpt::KeepAlive => sockopt::socket_keepalive(fd).map(flag),
            SockOpt::NoDelay => sockopt::tcp_nodelay(fd).map(flag),
            SockOpt::Broadcast => sockopt::socket_broadcast(fd).map(flag),
            SockOpt::RecvBuf => sockopt::socket_recv_buffer_size(fd).map(|n| n as u64),
            SockOpt::SendBuf => sockopt::socket_send_buffer_size(fd).map(|n| n as u64),
            SockOpt::Linger => sockopt::socket_linger(fd).map(linger_value),
        })
    }

    fn wait(&mut self, interest: &[(SockId, Interest)], deadline: Option<u64>) {
        let mut fds = Vec::with_capacity(interest.len());
        for &(s, i) in interest {
            let Ok(sock) = self.sock(s) else {
                // The caller's next try finds out (`EBADF`).
                return;
            };
            let events = match i {
                Interest::Read => PollFlags::IN | PollFlags::RDHUP,
                Interest::Write => PollFlags::OUT,
            };
            fds.push(PollFd::new(&sock.fd, events));
        }
        let timeout = match deadline {
            None if fds.is_empty() => return,
            None => None,
            Some(d) => {
                let left = d.saturating_sub(monotonic_ns());
                Some(Timespec {
                    tv_sec: (left / 1_000_000_000) as i64,
                    tv_nsec: (left % 1_000_000_000) as i64,
                })
            }
        };
        // Interrupted by a signal: return early, as allowed.
        let _ = rustix::event::poll(&mut fds, timeout.as_ref());
    }

    fn resolve(&mut self, name: &str) -> Result<Vec<std::net::IpAddr>, Errno> {
        if !self.open {
            return Err(errno::NOTCAPABLE);
        }
        let addrs = (name, 0u16).to_socket_addrs().map_err(|e| {
            match (e.raw_os_error(), e.kind()) {
                (Some(n), _) => wasi_errno(HostErrno::from_raw_os_error(n)),
                (None, std::io::ErrorKind::InvalidInput) => errno::INVAL,
                // `getaddrinfo`'s own failures (no such name, no answer, no server).
                (None, _) => errno::NOENT,
            }
        })?;
        let mut ips = Vec::new();
        for a in addrs {
            if !ips.contains(&a.ip()) {
                ips.push(a.ip());
            }
        }
        Ok(ips)
    }
}

#[cfg(test)]
mod tests;
