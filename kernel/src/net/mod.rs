//! The kernel's network stack: [`Stack`], smoltcp over an Ethernet device (virtio-net in the
//! kernel, a pair of in-memory queues in the unit tests), implementing
//! [`crate::wasi::net::Network`] with BSD socket semantics. Safe code, target-independent:
//! the device and the machine (clock, halting until an interrupt) come in as parameters
//! ([`Nic`], a smoltcp [`Device`]; [`NetMachine`]).
//!
//! - Configuration: static (`hako.net=<ip>/<prefix>,<gateway>,<dns>`, `hako.net6=`) or
//!   DHCPv4 (`hako.net=dhcp`: a DHCP socket that stays for renewals; [`Stack::new`] waits
//!   for the first lease, up to [`DHCP_WAIT_NS`]).
//! - A smoltcp TCP socket listens for one connection, so a listener keeps a queue of
//!   `backlog` (1 to [`MAX_BACKLOG`]) listening sockets; `accept` hands out one that has
//!   left the handshake and puts a fresh listening socket in its place.
//! - `close` of a connection is graceful: the smoltcp socket stays (in `closing`) until it
//!   reaches `Closed` or `TimeWait`, then it is removed (no TIME_WAIT wait: the port is
//!   free at once, which is also why `SO_REUSEADDR` is accepted and changes nothing here).
//!   `shutdown(write)` is smoltcp's `close` (reading goes on); closing a listener resets
//!   the connections nobody accepted.
//! - Ports: see [`ports`]. Ephemeral ports for `connect`, `listen` without `bind` and
//!   unbound UDP `send`.
//! - smoltcp matches a listener on the unspecified address by its port alone: an IPv6
//!   socket on `::` takes IPv4 connections too (as Linux's default does), an IPv4 one on
//!   `0.0.0.0` resets IPv6 connections in `accept`. A queue exhausted by simultaneous
//!   handshakes makes smoltcp answer further SYNs with RST (Linux would drop them).
//! - Every operation polls the interface first; `readiness` and `take_error` only when
//!   something may have happened (a socket changed, [`Nic::frames_pending`], or smoltcp's
//!   `poll_at` is due), as a `poll_oneoff` over many sockets asks each of them.
//! - [`Network::wait`] polls; when nothing asked for is ready it halts the machine until
//!   an interrupt (a frame arrived) or smoltcp's next timer or the deadline, polls again
//!   and returns.
//! - Limits of smoltcp kept: no IP fragmentation (a UDP datagram larger than one frame is
//!   `MSGSIZE`), one neighbor (ARP/NDP) request a second for the whole interface (a second
//!   new on-link neighbor within a second of the first waits for it), IPv4
//!   loopback only through [`loopback`] (`127.0.0.0/8` and the interface's own addresses;
//!   `::1` is `NETUNREACH` at once), no TIME_WAIT, a connection attempt or unacknowledged data
//!   given up after [`TCP_TIMEOUT`] (refused or timed out are told apart by the time it
//!   took), socket buffers of [`TCP_BUFFER`] whatever `SO_RCVBUF`/`SO_SNDBUF` say
//!   (recorded and reported back), `SO_LINGER` recorded only.
//! - Socket memory is allocated fallibly: out of heap, operations answer `NOBUFS`.

pub mod loopback;
pub mod ports;

use crate::cmdline::{Net6Config, NetConfig};
use crate::guest::Errno;
use crate::wasi::net::{Family, Interest, Kind, Network, Readiness, Received, SockId, SockOpt};
use alloc::collections::BTreeMap;
use alloc::vec;
use alloc::vec::Vec;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use hako_abi::wasi::errno;
use loopback::Looped;
use ports::Ports;
use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
pub use smoltcp::phy::Device;
use smoltcp::socket::{dhcpv4, dns, tcp, udp};
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{
    DnsQueryType, EthernetAddress, HardwareAddress, IpAddress, IpCidr, IpEndpoint,
    IpListenEndpoint, Ipv4Cidr, Ipv6Cidr,
};

/// Receive and send buffer of each TCP socket.
pub const TCP_BUFFER: usize = 64 << 10;
/// Payload bytes and datagrams a UDP socket buffers each way.
pub const UDP_BUFFER: usize = 64 << 10;
pub const UDP_DATAGRAMS: usize = 64;
/// The largest UDP payload sent: one Ethernet frame's (smoltcp is built without IP
/// fragmentation, which would drop a bigger datagram silently).
fn max_datagram(family: Family) -> usize {
    match family {
        Family::V4 => 1500 - 20 - 8,
        Family::V6 => 1500 - 40 - 8,
    }
}

/// The largest backlog a listener gets.
pub const MAX_BACKLOG: u32 = 64;
/// A connection attempt (or unacknowledged data) is given up after this long.
pub const TCP_TIMEOUT: Duration = Duration::from_secs(75);
/// How long [`Stack::new`] waits for a DHCP lease.
pub const DHCP_WAIT_NS: u64 = 5_000_000_000;
/// How long [`Network::resolve`] waits for the DNS server.
pub const DNS_WAIT_NS: u64 = 15_000_000_000;

/// An Ethernet device for the stack: smoltcp's [`Device`], and whether frames are waiting
/// (so that asking a socket's readiness need not run the whole interface when nothing
/// arrived and no timer is due).
pub trait Nic: Device {
    /// Whether received frames wait to be taken (`true` when the device cannot tell).
    fn frames_pending(&mut self) -> bool {
        true
    }
}

/// What the stack needs from the machine.
pub trait NetMachine {
    /// The monotonic clock, in nanoseconds.
    fn now_ns(&mut self) -> u64;
    /// Halt until an interrupt (a frame arrived) or the monotonic clock reaches
    /// `deadline_ns`, whichever comes first (it may return earlier).
    fn halt_until(&mut self, deadline_ns: u64);
}

/// Options a socket records (applied where smoltcp has an equivalent).
#[derive(Debug, Clone, Copy, Default)]
struct Opts {
    reuse_addr: bool,
    keep_alive: bool,
    no_delay: bool,
    broadcast: bool,
    recv_buf: Option<u64>,
    send_buf: Option<u64>,
    linger: u64,
}

#[derive(Debug)]
enum Tcp {
    /// Neither connected nor listening; the bound address, if any.
    Idle { local: Option<SocketAddr> },
    Listener {
        local: SocketAddr,
        /// Listening sockets, or ones in the handshake or established and not accepted yet.
        queue: Vec<SocketHandle>,
        /// How long `queue` should be (it is shorter while memory is short).
        backlog: usize,
    },
    Conn {
        handle: SocketHandle,
        /// When our `connect` started the handshake, until it finished.
        connecting: Option<u64>,
        /// The connection was established once (a later `Closed` is a reset or the end).
        established: bool,
        shut_read: bool,
        /// The port this socket holds (connect without bind), released on close.
        port: Option<u16>,
    },
}

#[derive(Debug)]
struct Udp {
    handle: Option<SocketHandle>,
    local: Option<SocketAddr>,
    peer: Option<SocketAddr>,
    shut_read: bool,
    shut_write: bool,
}

#[derive(Debug)]
enum Body {
    Tcp(Tcp),
    Udp(Udp),
}

#[derive(Debug)]
struct Sock {
    family: Family,
    body: Body,
    opts: Opts,
    /// The pending error (`SO_ERROR`).
    error: Errno,
}

/// smoltcp on a device, as a [`Network`].
pub struct Stack<D: Nic, M: NetMachine> {
    dev: Looped<D>,
    machine: M,
    iface: Interface,
    sockets: SocketSet<'static>,
    socks: BTreeMap<SockId, Sock>,
    next_id: SockId,
    ports: Ports,
    /// Closed connections finishing in the background.
    closing: Vec<SocketHandle>,
    /// Closed UDP sockets whose datagrams are still queued.
    closing_udp: Vec<SocketHandle>,
    dhcp: Option<SocketHandle>,
    dns_server: Option<IpAddress>,
    dns: Option<SocketHandle>,
    has_v6: bool,
    /// A socket changed since the last poll (it may have something to send).
    dirty: bool,
    /// When smoltcp next has something to do (its `poll_at`), in ns.
    next_poll_ns: u64,
}

impl<D: Nic, M: NetMachine> core::fmt::Debug for Stack<D, M> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Stack")
            .field("addrs", &self.iface.ip_addrs())
            .field("socks", &self.socks.len())
            .finish_non_exhaustive()
    }
}

fn instant(ns: u64) -> Instant {
    Instant::from_micros((ns / 1000) as i64)
}

fn sockaddr(ep: IpEndpoint) -> SocketAddr {
    SocketAddr::new(ep.addr.into(), ep.port)
}

fn family_of(addr: &SocketAddr) -> Family {
    if addr.is_ipv4() {
        Family::V4
    } else {
        Family::V6
    }
}

fn unspecified(family: Family) -> SocketAddr {
    match family {
        Family::V4 => SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
        Family::V6 => SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0),
    }
}

fn listen_endpoint(addr: SocketAddr) -> IpListenEndpoint {
    IpListenEndpoint {
        addr: (!addr.ip().is_unspecified()).then(|| addr.ip().into()),
        port: addr.port(),
    }
}

/// An IPv4 address of the interface other than loopback.
fn is_interface_v4(a: &IpCidr) -> bool {
    matches!(a, IpCidr::Ipv4(c) if !c.address().is_loopback())
}

/// The TCP states in which a listening socket has a connection to hand to `accept`.
fn acceptable(state: tcp::State) -> bool {
    !matches!(
        state,
        tcp::State::Listen | tcp::State::SynReceived | tcp::State::Closed
    )
}

/// `n` zero bytes, or `NOBUFS` when the heap has no room (a busy server must not panic
/// the kernel).
fn zeroed<T: Clone>(n: usize, zero: T) -> Result<Vec<T>, Errno> {
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|_| errno::NOBUFS)?;
    v.resize(n, zero);
    Ok(v)
}

/// A new TCP socket with its buffers.
fn tcp_socket() -> Result<tcp::Socket<'static>, Errno> {
    Ok(tcp::Socket::new(
        tcp::SocketBuffer::new(zeroed(TCP_BUFFER, 0u8)?),
        tcp::SocketBuffer::new(zeroed(TCP_BUFFER, 0u8)?),
    ))
}

fn udp_socket() -> Result<udp::Socket<'static>, Errno> {
    let buffer = || {
        Ok::<_, Errno>(udp::PacketBuffer::new(
            zeroed(UDP_DATAGRAMS, udp::PacketMetadata::EMPTY)?,
            zeroed(UDP_BUFFER, 0u8)?,
        ))
    };
    Ok(udp::Socket::new(buffer()?, buffer()?))
}

impl<D: Nic, M: NetMachine> Stack<D, M> {
    /// Bring the interface up on `dev` with Ethernet address `mac`, configured as `config`
    /// (and `net6`); with DHCP, wait for a lease (an error after [`DHCP_WAIT_NS`]).
    pub fn new(
        dev: D,
        mut machine: M,
        mac: [u8; 6],
        seed: u64,
        config: &NetConfig,
        net6: Option<&Net6Config>,
    ) -> Result<Self, &'static str> {
        let mut cfg = Config::new(HardwareAddress::Ethernet(EthernetAddress(mac)));
        cfg.random_seed = seed;
        let now = machine.now_ns();
        let mut dev = Looped::new(dev, mac);
        let mut iface = Interface::new(cfg, &mut dev, instant(now));
        let mut sockets = SocketSet::new(Vec::new());
        let mut dns_server = None;
        let mut dhcp = None;
        match *config {
            NetConfig::Static {
                addr,
                prefix,
                gateway,
                dns,
            } => {
                iface.update_ip_addrs(|a| {
                    let _ = a.push(IpCidr::Ipv4(Ipv4Cidr::new(addr, prefix)));
                });
                let _ = iface.routes_mut().add_default_ipv4_route(gateway);
                dns_server = Some(IpAddress::Ipv4(dns));
            }
            NetConfig::Dhcp => dhcp = Some(sockets.add(dhcpv4::Socket::new())),
        }
        if let Some(v6) = net6 {
            iface.update_ip_addrs(|a| {
                let _ = a.push(IpCidr::Ipv6(Ipv6Cidr::new(v6.addr, v6.prefix)));
            });
            let _ = iface.routes_mut().add_default_ipv6_route(v6.gateway);
        }
        // Loopback, last: smoltcp takes the first IPv4 address as the source of everything.
        iface.update_ip_addrs(|a| {
            let _ = a.push(IpCidr::Ipv4(Ipv4Cidr::new(Ipv4Addr::LOCALHOST, 8)));
        });
        let mut stack = Stack {
            dev,
            machine,
            iface,
            sockets,
            socks: BTreeMap::new(),
            next_id: 1,
            ports: Ports::new(seed >> 16),
            closing: Vec::new(),
            closing_udp: Vec::new(),
            dhcp,
            dns_server,
            dns: None,
            has_v6: net6.is_some(),
            dirty: true,
            next_poll_ns: 0,
        };
        stack.own_addresses_changed();
        if stack.dhcp.is_some() {
            let deadline = now + DHCP_WAIT_NS;
            while !stack.has_family(Family::V4) {
                let now = stack.machine.now_ns();
                if now >= deadline {
                    return Err("no DHCP lease");
                }
                stack.sleep(deadline);
                stack.poll();
            }
        }
        Ok(stack)
    }

    /// The interface's addresses.
    pub fn addresses(&self) -> Vec<IpCidr> {
        self.iface.ip_addrs().to_vec()
    }

    /// The DNS server in use.
    pub fn dns_server(&self) -> Option<IpAddr> {
        self.dns_server.map(Into::into)
    }

    /// How many smoltcp sockets exist (listening queues, connections, closing ones).
    pub fn smoltcp_sockets(&self) -> usize {
        self.sockets.iter().count()
    }

    /// Process what arrived and send what is due.
    pub fn poll(&mut self) {
        let now = instant(self.machine.now_ns());
        self.iface.poll(now, &mut self.dev, &mut self.sockets);
        self.dirty = false;
        if let Some(h) = self.dhcp {
            self.dhcp_event(h);
        }
        // Connections being made: note the handshake's end now, so that a reset soon after
        // reads as a reset, not as a refused connection.
        let connecting: Vec<SockId> = self
            .socks
            .iter()
            .filter(|(_, sock)| {
                matches!(
                    sock.body,
                    Body::Tcp(Tcp::Conn {
                        connecting: Some(_),
                        ..
                    })
                )
            })
            .map(|(&id, _)| id)
            .collect();
        for id in connecting {
            self.refresh_conn(id);
        }
        self.next_poll_ns = self
            .iface
            .poll_at(now, &self.sockets)
            .map_or(u64::MAX, |at| {
                (at.total_micros().max(0) as u64).saturating_mul(1000)
            });
        let sockets = &mut self.sockets;
        self.closing_udp.retain(|&h| {
            let done = sockets.get::<udp::Socket>(h).send_queue() == 0;
            if done {
                sockets.remove(h);
            }
            !done
        });
        self.closing.retain(|&h| {
            let state = sockets.get::<tcp::Socket>(h).state();
            let done = matches!(state, tcp::State::Closed | tcp::State::TimeWait);
            if done {
                sockets.remove(h);
            }
            !done
        });
    }

    /// [`Stack::poll`] if anything may have happened since the last: a socket changed,
    /// frames arrived or smoltcp has a timer due.
    fn poll_if_due(&mut self) {
        if self.dirty || self.machine.now_ns() >= self.next_poll_ns || self.dev.frames_pending() {
            self.poll();
        }
    }

    /// Halt until an interrupt, smoltcp's next timer or `deadline`.
    fn sleep(&mut self, deadline: u64) {
        let now = self.machine.now_ns();
        if now >= deadline {
            return;
        }
        let delay = self
            .iface
            .poll_delay(instant(now), &self.sockets)
            .map_or(u64::MAX, |d| d.total_micros().saturating_mul(1000));
        if delay == 0 {
            return;
        }
        self.machine
            .halt_until(deadline.min(now.saturating_add(delay)));
    }

    fn dhcp_event(&mut self, h: SocketHandle) {
        let event = match self.sockets.get_mut::<dhcpv4::Socket>(h).poll() {
            None => return,
            Some(dhcpv4::Event::Configured(c)) => {
                Some((c.address, c.router, c.dns_servers.first().copied()))
            }
            Some(dhcpv4::Event::Deconfigured) => None,
        };
        self.iface.update_ip_addrs(|addrs| {
            // The leased address first (smoltcp's source for everything IPv4), then the
            // rest (IPv6, loopback).
            let rest: Vec<IpCidr> = addrs
                .iter()
                .copied()
                .filter(|a| !is_interface_v4(a))
                .collect();
            addrs.clear();
            if let Some((cidr, _, _)) = event {
                let _ = addrs.push(IpCidr::Ipv4(cidr));
            }
            for a in rest {
                let _ = addrs.push(a);
            }
        });
        self.own_addresses_changed();
        self.iface.routes_mut().remove_default_ipv4_route();
        if let Some((_, router, dns)) = event {
            if let Some(r) = router {
                let _ = self.iface.routes_mut().add_default_ipv4_route(r);
            }
            if let Some(d) = dns {
                self.dns_server = Some(IpAddress::Ipv4(d));
            }
        }
    }

    fn sock(&mut self, s: SockId) -> Result<&mut Sock, Errno> {
        self.socks.get_mut(&s).ok_or(errno::BADF)
    }

    fn add(&mut self, family: Family, body: Body, opts: Opts) -> SockId {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1).max(1);
        self.socks.insert(
            id,
            Sock {
                family,
                body,
                opts,
                error: 0,
            },
        );
        id
    }

    /// A new listening socket for a listener's queue.
    fn listening(&mut self, local: SocketAddr, opts: &Opts) -> Result<SocketHandle, Errno> {
        let mut t = tcp_socket()?;
        apply_tcp(&mut t, opts);
        t.listen(listen_endpoint(local)).map_err(|_| errno::INVAL)?;
        Ok(self.sockets.add(t))
    }

    /// Check a local address for `bind`: the socket's family, and the unspecified address
    /// or one of the interface's.
    fn check_local(&self, family: Family, addr: &SocketAddr) -> Result<(), Errno> {
        if family_of(addr) != family {
            return Err(errno::AFNOSUPPORT);
        }
        let ip = addr.ip();
        if ip.is_unspecified() || self.iface.has_ip_addr(IpAddress::from(ip)) {
            Ok(())
        } else {
            Err(errno::ADDRNOTAVAIL)
        }
    }

    /// Whether the interface has an address of `family` (to send from), loopback aside.
    fn has_family(&self, family: Family) -> bool {
        match family {
            Family::V4 => self.iface.ip_addrs().iter().any(is_interface_v4),
            Family::V6 => self.iface.ipv6_addr().is_some(),
        }
    }

    /// Tell the loopback which IPv4 addresses are the interface's own.
    fn own_addresses_changed(&mut self) {
        let own = self
            .iface
            .ip_addrs()
            .iter()
            .filter_map(|a| match a {
                IpCidr::Ipv4(c) if !c.address().is_loopback() => Some(c.address()),
                _ => None,
            })
            .collect();
        self.dev.set_own(own);
    }

    fn tcp(&mut self, h: SocketHandle) -> &mut tcp::Socket<'static> {
        self.sockets.get_mut::<tcp::Socket>(h)
    }

    fn udp(&mut self, h: SocketHandle) -> &mut udp::Socket<'static> {
        self.sockets.get_mut::<udp::Socket>(h)
    }

    /// Bind UDP socket `s` (to `addr`, or an ephemeral port on the unspecified address)
    /// if it is not bound yet; its smoltcp socket.
    fn udp_bound(&mut self, s: SockId, addr: Option<SocketAddr>) -> Result<SocketHandle, Errno> {
        let sock = self.sock(s)?;
        let family = sock.family;
        let Body::Udp(u) = &sock.body else {
            return Err(errno::NOTSUP);
        };
        if let Some(h) = u.handle {
            return if addr.is_some() {
                Err(errno::INVAL)
            } else {
                Ok(h)
            };
        }
        let addr = addr.unwrap_or_else(|| unspecified(family));
        self.check_local(family, &addr)?;
        let port = self.ports.hold(Kind::Datagram, addr.port())?;
        let local = SocketAddr::new(addr.ip(), port);
        let mut socket = match udp_socket() {
            Ok(socket) => socket,
            Err(e) => {
                self.ports.release(Kind::Datagram, port);
                return Err(e);
            }
        };
        if socket.bind(listen_endpoint(local)).is_err() {
            self.ports.release(Kind::Datagram, port);
            return Err(errno::INVAL);
        }
        let h = self.sockets.add(socket);
        if let Ok(Sock {
            body: Body::Udp(u), ..
        }) = self.sock(s)
        {
            u.handle = Some(h);
            u.local = Some(local);
        }
        Ok(h)
    }

    /// Connection state of a stream socket, refreshed: whether a finished connect failed.
    fn refresh_conn(&mut self, s: SockId) {
        let now = self.machine.now_ns();
        let Some(Sock {
            body:
                Body::Tcp(Tcp::Conn {
                    handle,
                    connecting,
                    established,
                    ..
                }),
            ..
        }) = self.socks.get(&s)
        else {
            return;
        };
        let (h, connecting, was_established) = (*handle, *connecting, *established);
        let state = self.sockets.get::<tcp::Socket>(h).state();
        let (mut new_connecting, mut new_established, mut error) = (connecting, was_established, 0);
        match state {
            tcp::State::SynSent | tcp::State::SynReceived => {}
            tcp::State::Closed if !was_established => {
                if let Some(start) = connecting {
                    let timeout = TCP_TIMEOUT.total_micros() * 1000;
                    error = if now.saturating_sub(start) + 1_000_000_000 >= timeout {
                        errno::TIMEDOUT
                    } else {
                        errno::CONNREFUSED
                    };
                    new_connecting = None;
                }
            }
            tcp::State::Closed => {}
            _ => {
                new_connecting = None;
                new_established = true;
            }
        }
        if let Some(Sock {
            body:
                Body::Tcp(Tcp::Conn {
                    connecting,
                    established,
                    ..
                }),
            error: e,
            ..
        }) = self.socks.get_mut(&s)
        {
            *connecting = new_connecting;
            *established = new_established;
            if error != 0 {
                *e = error;
            }
        }
    }
}

/// Apply the options smoltcp has to a TCP socket.
fn apply_tcp(t: &mut tcp::Socket<'static>, opts: &Opts) {
    t.set_nagle_enabled(!opts.no_delay);
    t.set_keep_alive(opts.keep_alive.then(|| Duration::from_secs(75)));
    t.set_timeout(Some(TCP_TIMEOUT));
}

fn recv_error(e: tcp::RecvError, established: bool) -> Errno {
    match e {
        tcp::RecvError::Finished => 0,
        tcp::RecvError::InvalidState if established => errno::CONNRESET,
        tcp::RecvError::InvalidState => errno::NOTCONN,
    }
}

impl<D: Nic, M: NetMachine> Network for Stack<D, M> {
    fn open(&mut self, family: Family, kind: Kind) -> Result<SockId, Errno> {
        let body = match kind {
            Kind::Stream => Body::Tcp(Tcp::Idle { local: None }),
            Kind::Datagram => Body::Udp(Udp {
                handle: None,
                local: None,
                peer: None,
                shut_read: false,
                shut_write: false,
            }),
        };
        self.dirty = true;
        Ok(self.add(family, body, Opts::default()))
    }

    fn bind(&mut self, s: SockId, addr: SocketAddr) -> Result<(), Errno> {
        self.poll();
        self.dirty = true;
        let sock = self.sock(s)?;
        let family = sock.family;
        match &sock.body {
            Body::Tcp(Tcp::Idle { local: None }) => {
                self.check_local(family, &addr)?;
                let port = self.ports.hold(Kind::Stream, addr.port())?;
                if let Ok(Sock {
                    body: Body::Tcp(t), ..
                }) = self.sock(s)
                {
                    *t = Tcp::Idle {
                        local: Some(SocketAddr::new(addr.ip(), port)),
                    };
                }
                Ok(())
            }
            Body::Tcp(_) => Err(errno::INVAL),
            Body::Udp(_) => self.udp_bound(s, Some(addr)).map(|_| ()),
        }
    }

    fn listen(&mut self, s: SockId, backlog: u32) -> Result<(), Errno> {
        self.poll();
        self.dirty = true;
        let sock = self.sock(s)?;
        let (family, opts) = (sock.family, sock.opts);
        let local = match &sock.body {
            Body::Tcp(Tcp::Idle { local }) => *local,
            Body::Tcp(Tcp::Listener { .. }) => return Ok(()),
            Body::Tcp(Tcp::Conn { .. }) => return Err(errno::INVAL),
            Body::Udp(_) => return Err(errno::NOTSUP),
        };
        let (local, took_port) = match local {
            Some(l) => (l, false),
            None => {
                let port = self.ports.hold(Kind::Stream, 0)?;
                (SocketAddr::new(unspecified(family).ip(), port), true)
            }
        };
        let backlog = backlog.clamp(1, MAX_BACKLOG) as usize;
        let mut queue = Vec::new();
        while queue.len() < backlog {
            match self.listening(local, &opts) {
                Ok(h) => queue.push(h),
                // Short of memory: a shorter queue (refilled by `accept`), or none at all.
                Err(_) if !queue.is_empty() => break,
                Err(e) => {
                    if took_port {
                        self.ports.release(Kind::Stream, local.port());
                    }
                    return Err(e);
                }
            }
        }
        if let Ok(Sock {
            body: Body::Tcp(t), ..
        }) = self.sock(s)
        {
            *t = Tcp::Listener {
                local,
                queue,
                backlog,
            };
        }
        Ok(())
    }

    fn accept(&mut self, s: SockId) -> Result<(SockId, SocketAddr), Errno> {
        self.poll();
        self.dirty = true;
        let sock = self.sock(s)?;
        let (family, opts) = (sock.family, sock.opts);
        let Body::Tcp(Tcp::Listener {
            local,
            queue,
            backlog,
        }) = &sock.body
        else {
            return Err(errno::INVAL);
        };
        let (local, backlog) = (*local, *backlog);
        let mut queue = queue.clone();
        let mut found = None;
        let mut i = 0;
        while i < queue.len() {
            let h = queue[i];
            let t = self.sockets.get::<tcp::Socket>(h);
            let state = t.state();
            let remote = t.remote_endpoint().map(sockaddr);
            if acceptable(state) {
                if family == Family::V4 && remote.is_some_and(|r| r.is_ipv6()) {
                    // smoltcp matches a listener on the unspecified address by port alone;
                    // an IPv4 socket takes no IPv6 connection (an IPv6 one takes both).
                    self.tcp(h).abort();
                    self.closing.push(h);
                    queue.remove(i);
                    continue;
                }
                found = Some(i);
                break;
            }
            if state == tcp::State::Closed {
                // A handshake that failed: listen again.
                let _ = self.tcp(h).listen(listen_endpoint(local));
            }
            i += 1;
        }
        let taken = found.map(|i| queue.remove(i));
        // Top the queue up again (it may be short after memory ran low).
        while queue.len() < backlog {
            match self.listening(local, &opts) {
                Ok(h) => queue.push(h),
                Err(_) => break,
            }
        }
        if let Ok(Sock {
            body: Body::Tcp(Tcp::Listener { queue: q, .. }),
            ..
        }) = self.sock(s)
        {
            *q = queue;
        }
        let Some(h) = taken else {
            return Err(errno::AGAIN);
        };
        // Options set on the listener after its queue was made.
        apply_tcp(self.tcp(h), &opts);
        let peer = self
            .sockets
            .get::<tcp::Socket>(h)
            .remote_endpoint()
            .map(sockaddr)
            .unwrap_or_else(|| unspecified(family));
        let id = self.add(
            family_of(&peer),
            Body::Tcp(Tcp::Conn {
                handle: h,
                connecting: None,
                established: true,
                shut_read: false,
                port: None,
            }),
            opts,
        );
        Ok((id, peer))
    }

    fn connect(&mut self, s: SockId, addr: SocketAddr) -> Result<(), Errno> {
        self.poll();
        self.dirty = true;
        let reachable = self.has_family(family_of(&addr));
        let sock = self.sock(s)?;
        let (family, opts) = (sock.family, sock.opts);
        if family_of(&addr) != family {
            return Err(errno::AFNOSUPPORT);
        }
        match &sock.body {
            Body::Udp(_) => {
                self.udp_bound(s, None)?;
                if let Ok(Sock {
                    body: Body::Udp(u), ..
                }) = self.sock(s)
                {
                    u.peer = (!addr.ip().is_unspecified()).then_some(addr);
                }
                Ok(())
            }
            Body::Tcp(Tcp::Listener { .. }) => Err(errno::ISCONN),
            Body::Tcp(Tcp::Conn { .. }) => {
                self.refresh_conn(s);
                let sock = self.sock(s)?;
                let Body::Tcp(Tcp::Conn {
                    connecting,
                    established,
                    ..
                }) = &sock.body
                else {
                    return Err(errno::INVAL);
                };
                if connecting.is_some() {
                    return Err(errno::INPROGRESS);
                }
                if *established {
                    return Err(errno::ISCONN);
                }
                match core::mem::take(&mut sock.error) {
                    0 => Err(errno::CONNABORTED),
                    e => Err(e),
                }
            }
            Body::Tcp(Tcp::Idle { local }) => {
                if addr.port() == 0 || addr.ip().is_unspecified() {
                    return Err(errno::INVAL);
                }
                let loopback = addr.ip().is_loopback();
                if !(reachable || loopback && addr.is_ipv4()) || loopback && addr.is_ipv6() {
                    return Err(errno::NETUNREACH);
                }
                let (mut local, port) = match *local {
                    Some(l) => (l, None),
                    None => {
                        let p = self.ports.hold(Kind::Stream, 0)?;
                        (SocketAddr::new(unspecified(family).ip(), p), Some(p))
                    }
                };
                if loopback && local.ip().is_unspecified() {
                    // From 127.0.0.1, not from the interface's first address.
                    local.set_ip(IpAddr::V4(Ipv4Addr::LOCALHOST));
                }
                let release = |me: &mut Self| {
                    if let Some(p) = port {
                        me.ports.release(Kind::Stream, p);
                    }
                };
                let mut t = match tcp_socket() {
                    Ok(t) => t,
                    Err(e) => {
                        release(self);
                        return Err(e);
                    }
                };
                apply_tcp(&mut t, &opts);
                let cx = self.iface.context();
                if t.connect(cx, addr, listen_endpoint(local)).is_err() {
                    release(self);
                    return Err(errno::NETUNREACH);
                }
                let h = self.sockets.add(t);
                let now = self.machine.now_ns();
                if let Ok(Sock {
                    body: Body::Tcp(t), ..
                }) = self.sock(s)
                {
                    *t = Tcp::Conn {
                        handle: h,
                        connecting: Some(now),
                        established: false,
                        shut_read: false,
                        port: Some(port.unwrap_or(local.port())),
                    };
                }
                self.poll();
                Err(errno::INPROGRESS)
            }
        }
    }

    fn recv(&mut self, s: SockId, buf: &mut [u8], peek: bool) -> Result<Received, Errno> {
        self.poll();
        self.dirty = true;
        self.refresh_conn(s);
        let sock = self.sock(s)?;
        match &mut sock.body {
            Body::Tcp(Tcp::Conn {
                handle,
                established,
                shut_read,
                ..
            }) => {
                let (h, established, shut_read) = (*handle, *established, *shut_read);
                let received = |len| Received {
                    len,
                    truncated: false,
                    from: None,
                };
                if shut_read {
                    return Ok(received(0));
                }
                if !established {
                    let e = core::mem::take(&mut sock.error);
                    return Err(if e != 0 { e } else { errno::AGAIN });
                }
                let t = self.tcp(h);
                let r = if peek {
                    t.peek_slice(buf)
                } else {
                    t.recv_slice(buf)
                };
                let n = match r {
                    Ok(0) if !buf.is_empty() => return Err(errno::AGAIN),
                    Ok(n) => n,
                    Err(e) => match recv_error(e, established) {
                        0 => 0,
                        e => return Err(e),
                    },
                };
                if n > 0 {
                    // Window updates go out now rather than at the next poll.
                    self.poll();
                }
                Ok(received(n))
            }
            Body::Tcp(_) => Err(errno::NOTCONN),
            Body::Udp(u) => {
                if u.shut_read {
                    return Ok(Received {
                        len: 0,
                        truncated: false,
                        from: None,
                    });
                }
                let (Some(h), peer) = (u.handle, u.peer) else {
                    return Err(errno::AGAIN);
                };
                let socket = self.udp(h);
                loop {
                    let (data, from) = match socket.peek() {
                        Ok((d, meta)) => (d, sockaddr(meta.endpoint)),
                        Err(_) => return Err(errno::AGAIN),
                    };
                    if peer.is_some_and(|p| p != from) {
                        // Not from the connected peer: dropped, as a host does.
                        let _ = socket.recv();
                        continue;
                    }
                    let n = data.len().min(buf.len());
                    buf[..n].copy_from_slice(&data[..n]);
                    let truncated = data.len() > buf.len();
                    if !peek {
                        let _ = socket.recv();
                    }
                    return Ok(Received {
                        len: n,
                        truncated,
                        from: Some(from),
                    });
                }
            }
        }
    }

    fn send(&mut self, s: SockId, data: &[u8], to: Option<SocketAddr>) -> Result<usize, Errno> {
        self.poll();
        self.dirty = true;
        self.refresh_conn(s);
        let sock = self.sock(s)?;
        let family = sock.family;
        match &mut sock.body {
            Body::Tcp(Tcp::Conn {
                handle,
                established,
                connecting,
                ..
            }) => {
                let (h, established, connecting) = (*handle, *established, connecting.is_some());
                if connecting {
                    return Err(errno::AGAIN);
                }
                if !established {
                    let e = core::mem::take(&mut sock.error);
                    return Err(if e != 0 { e } else { errno::NOTCONN });
                }
                let t = self.tcp(h);
                if !t.may_send() {
                    return Err(if t.state() == tcp::State::Closed {
                        errno::CONNRESET
                    } else {
                        errno::PIPE
                    });
                }
                match t.send_slice(data) {
                    Ok(0) if !data.is_empty() => Err(errno::AGAIN),
                    Ok(n) => {
                        self.poll();
                        Ok(n)
                    }
                    Err(_) => Err(errno::PIPE),
                }
            }
            Body::Tcp(_) => Err(errno::NOTCONN),
            Body::Udp(u) => {
                if u.shut_write {
                    return Err(errno::PIPE);
                }
                let dest = match (to, u.peer) {
                    (Some(to), _) => to,
                    (None, Some(peer)) => peer,
                    (None, None) => return Err(errno::DESTADDRREQ),
                };
                if family_of(&dest) != family {
                    return Err(errno::AFNOSUPPORT);
                }
                if dest.port() == 0 {
                    return Err(errno::INVAL);
                }
                let loopback = dest.ip().is_loopback();
                if !(self.has_family(family) || loopback && dest.is_ipv4())
                    || loopback && dest.is_ipv6()
                {
                    return Err(errno::NETUNREACH);
                }
                if data.len() > max_datagram(family) {
                    return Err(errno::MSGSIZE);
                }
                let h = self.udp_bound(s, None)?;
                let mut meta = udp::UdpMetadata::from(IpEndpoint::from(dest));
                if loopback {
                    meta.local_address = Some(IpAddress::Ipv4(Ipv4Addr::LOCALHOST));
                }
                let r = self.udp(h).send_slice(data, meta);
                match r {
                    Ok(()) => {
                        self.poll();
                        Ok(data.len())
                    }
                    Err(udp::SendError::BufferFull) => Err(errno::AGAIN),
                    Err(udp::SendError::Unaddressable) => Err(errno::NETUNREACH),
                }
            }
        }
    }

    fn shutdown(&mut self, s: SockId, read: bool, write: bool) -> Result<(), Errno> {
        self.poll();
        self.dirty = true;
        let sock = self.sock(s)?;
        match &mut sock.body {
            Body::Tcp(Tcp::Conn {
                handle, shut_read, ..
            }) => {
                let h = *handle;
                *shut_read |= read;
                if write {
                    self.tcp(h).close();
                    self.poll();
                }
                Ok(())
            }
            Body::Tcp(_) => Err(errno::NOTCONN),
            Body::Udp(u) => {
                if u.peer.is_none() {
                    return Err(errno::NOTCONN);
                }
                u.shut_read |= read;
                u.shut_write |= write;
                Ok(())
            }
        }
    }

    fn close(&mut self, s: SockId) {
        let Some(sock) = self.socks.remove(&s) else {
            return;
        };
        match sock.body {
            Body::Tcp(Tcp::Idle { local }) => {
                if let Some(l) = local {
                    self.ports.release(Kind::Stream, l.port());
                }
            }
            Body::Tcp(Tcp::Listener { local, queue, .. }) => {
                for h in queue {
                    // Connections nobody accepted are reset, as a host does.
                    self.tcp(h).abort();
                    self.closing.push(h);
                }
                self.ports.release(Kind::Stream, local.port());
            }
            Body::Tcp(Tcp::Conn { handle, port, .. }) => {
                self.tcp(handle).close();
                self.closing.push(handle);
                if let Some(p) = port {
                    self.ports.release(Kind::Stream, p);
                }
            }
            Body::Udp(u) => {
                if let Some(h) = u.handle {
                    // Datagrams sent and not on the wire yet still go, as from a host's
                    // socket (`poll` removes the socket once its queue is empty).
                    if self.sockets.get::<udp::Socket>(h).send_queue() > 0 {
                        self.closing_udp.push(h);
                    } else {
                        self.sockets.remove(h);
                    }
                }
                if let Some(l) = u.local {
                    self.ports.release(Kind::Datagram, l.port());
                }
            }
        }
        self.poll();
    }

    fn local_addr(&mut self, s: SockId) -> Result<SocketAddr, Errno> {
        let sock = self.sock(s)?;
        let family = sock.family;
        Ok(match &sock.body {
            Body::Tcp(Tcp::Idle { local }) => local.unwrap_or_else(|| unspecified(family)),
            Body::Tcp(Tcp::Listener { local, .. }) => *local,
            Body::Tcp(Tcp::Conn { handle, port, .. }) => {
                let (h, port) = (*handle, port.unwrap_or(0));
                // After the connection ended smoltcp forgets it; the port it had stays.
                self.tcp(h)
                    .local_endpoint()
                    .map_or_else(|| SocketAddr::new(unspecified(family).ip(), port), sockaddr)
            }
            Body::Udp(u) => u.local.unwrap_or_else(|| unspecified(family)),
        })
    }

    fn peer_addr(&mut self, s: SockId) -> Result<SocketAddr, Errno> {
        self.refresh_conn(s);
        let sock = self.sock(s)?;
        match &sock.body {
            Body::Tcp(Tcp::Conn {
                handle,
                established: true,
                ..
            }) => {
                let h = *handle;
                self.tcp(h)
                    .remote_endpoint()
                    .map(sockaddr)
                    .ok_or(errno::NOTCONN)
            }
            Body::Udp(Udp {
                peer: Some(peer), ..
            }) => Ok(*peer),
            _ => Err(errno::NOTCONN),
        }
    }

    fn readiness(&mut self, s: SockId) -> Readiness {
        self.poll_if_due();
        self.refresh_conn(s);
        let Some(sock) = self.socks.get(&s) else {
            return Readiness {
                hangup: true,
                ..Readiness::default()
            };
        };
        let failed = sock.error != 0;
        match &sock.body {
            Body::Tcp(Tcp::Idle { .. }) => Readiness {
                hangup: true,
                ..Readiness::default()
            },
            Body::Tcp(Tcp::Listener { queue, .. }) => Readiness {
                readable: queue
                    .iter()
                    .any(|&h| acceptable(self.sockets.get::<tcp::Socket>(h).state())),
                ..Readiness::default()
            },
            Body::Tcp(Tcp::Conn {
                handle,
                connecting,
                established,
                shut_read,
                ..
            }) => {
                let t = self.sockets.get::<tcp::Socket>(*handle);
                if connecting.is_some() {
                    return Readiness::default();
                }
                if !established {
                    // A connect that failed.
                    return Readiness {
                        readable: true,
                        writable: true,
                        hangup: true,
                        nbytes: 0,
                    };
                }
                let eof = !t.may_recv();
                Readiness {
                    readable: t.can_recv() || eof || *shut_read || failed,
                    writable: t.can_send() || !t.may_send(),
                    hangup: eof && !t.may_send(),
                    nbytes: t.recv_queue() as u64,
                }
            }
            Body::Udp(u) => match u.handle {
                None => Readiness {
                    writable: true,
                    ..Readiness::default()
                },
                Some(h) => {
                    let socket = self.sockets.get_mut::<udp::Socket>(h);
                    let next = socket.peek().map(|(d, _)| d.len()).ok();
                    Readiness {
                        readable: next.is_some() || u.shut_read,
                        writable: socket.can_send(),
                        hangup: false,
                        nbytes: next.unwrap_or(0) as u64,
                    }
                }
            },
        }
    }

    fn take_error(&mut self, s: SockId) -> Errno {
        self.poll_if_due();
        self.refresh_conn(s);
        self.socks
            .get_mut(&s)
            .map_or(errno::BADF, |sock| core::mem::take(&mut sock.error))
    }

    fn set_option(&mut self, s: SockId, opt: SockOpt, value: u64) -> Result<(), Errno> {
        self.dirty = true;
        let sock = self.sock(s)?;
        let on = value != 0;
        match opt {
            SockOpt::ReuseAddr => sock.opts.reuse_addr = on,
            SockOpt::KeepAlive => sock.opts.keep_alive = on,
            SockOpt::NoDelay => sock.opts.no_delay = on,
            SockOpt::Broadcast => sock.opts.broadcast = on,
            SockOpt::RecvBuf => sock.opts.recv_buf = Some(value),
            SockOpt::SendBuf => sock.opts.send_buf = Some(value),
            SockOpt::Linger => sock.opts.linger = value,
        }
        let opts = sock.opts;
        if let Body::Tcp(Tcp::Conn { handle, .. }) = &sock.body {
            let h = *handle;
            apply_tcp(self.tcp(h), &opts);
        }
        Ok(())
    }

    fn get_option(&mut self, s: SockId, opt: SockOpt) -> Result<u64, Errno> {
        let sock = self.sock(s)?;
        let o = &sock.opts;
        let default_buf = match sock.body {
            Body::Tcp(_) => TCP_BUFFER,
            Body::Udp(_) => UDP_BUFFER,
        } as u64;
        Ok(match opt {
            SockOpt::ReuseAddr => o.reuse_addr.into(),
            SockOpt::KeepAlive => o.keep_alive.into(),
            SockOpt::NoDelay => o.no_delay.into(),
            SockOpt::Broadcast => o.broadcast.into(),
            SockOpt::RecvBuf => o.recv_buf.unwrap_or(default_buf),
            SockOpt::SendBuf => o.send_buf.unwrap_or(default_buf),
            SockOpt::Linger => o.linger,
        })
    }

    fn wait(&mut self, interest: &[(SockId, Interest)], deadline: Option<u64>) {
        let ready = |me: &mut Self| {
            interest.iter().any(|&(s, i)| {
                let r = me.readiness(s);
                match i {
                    Interest::Read => r.readable || r.hangup,
                    Interest::Write => r.writable || r.hangup,
                }
            })
        };
        if ready(self) {
            return;
        }
        self.sleep(deadline.unwrap_or(u64::MAX));
        self.poll();
    }

    fn finish(&mut self, deadline: u64) {
        let open: Vec<SockId> = self.socks.keys().copied().collect();
        for s in open {
            self.close(s);
        }
        loop {
            self.poll();
            // Done when no connection still has data or its FIN unacknowledged (the ones in
            // FIN-WAIT-2 or TIME-WAIT delivered everything).
            let sockets = &self.sockets;
            let pending = self.closing.iter().any(|&h| {
                let t = sockets.get::<tcp::Socket>(h);
                t.send_queue() > 0
                    || matches!(
                        t.state(),
                        tcp::State::FinWait1 | tcp::State::Closing | tcp::State::LastAck
                    )
            });
            let pending = pending || !self.closing_udp.is_empty();
            if !pending || self.machine.now_ns() >= deadline {
                return;
            }
            self.sleep(deadline);
        }
    }

    fn resolve(&mut self, name: &str) -> Result<Vec<IpAddr>, Errno> {
        // RFC 6761: `localhost` is the loopback address, answered without asking DNS.
        let bare = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
        if bare == "localhost" || bare.ends_with(".localhost") {
            let mut addrs = vec![IpAddr::V4(Ipv4Addr::LOCALHOST)];
            if self.has_v6 {
                addrs.push(IpAddr::V6(Ipv6Addr::LOCALHOST));
            }
            return Ok(addrs);
        }
        let Some(server) = self.dns_server else {
            return Err(errno::NOENT);
        };
        let h = match self.dns {
            Some(h) => {
                self.sockets
                    .get_mut::<dns::Socket>(h)
                    .update_servers(&[server]);
                h
            }
            None => {
                let h = self
                    .sockets
                    .add(dns::Socket::new(&[server], vec![None, None]));
                self.dns = Some(h);
                h
            }
        };
        let mut queries = Vec::new();
        let types: &[DnsQueryType] = if self.has_v6 {
            &[DnsQueryType::A, DnsQueryType::Aaaa]
        } else {
            &[DnsQueryType::A]
        };
        for &ty in types {
            let cx = self.iface.context();
            match self
                .sockets
                .get_mut::<dns::Socket>(h)
                .start_query(cx, name, ty)
            {
                Ok(q) => queries.push(Some(q)),
                Err(dns::StartQueryError::NoFreeSlot) => return Err(errno::AGAIN),
                Err(_) => return Err(errno::INVAL),
            }
        }
        let deadline = self.machine.now_ns() + DNS_WAIT_NS;
        let mut found = Vec::new();
        loop {
            self.poll();
            for q in queries.iter_mut() {
                let Some(handle) = *q else { continue };
                match self
                    .sockets
                    .get_mut::<dns::Socket>(h)
                    .get_query_result(handle)
                {
                    Ok(addrs) => {
                        found.extend(addrs.iter().map(|&a| IpAddr::from(a)));
                        *q = None;
                    }
                    Err(dns::GetQueryResultError::Pending) => {}
                    Err(dns::GetQueryResultError::Failed) => *q = None,
                }
            }
            if queries.iter().all(Option::is_none) {
                break;
            }
            if self.machine.now_ns() >= deadline {
                for handle in queries.iter().flatten() {
                    self.sockets.get_mut::<dns::Socket>(h).cancel_query(*handle);
                }
                return Err(errno::TIMEDOUT);
            }
            self.sleep(deadline);
        }
        if found.is_empty() {
            // Failed (no such name, or no answer) or no address of the families asked.
            Err(errno::NOENT)
        } else {
            Ok(found)
        }
    }
}

#[cfg(test)]
mod tests;
