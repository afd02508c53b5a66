//! The network interface the WASI socket functions use: BSD-socket-shaped operations on
//! handles, all non-blocking. Implemented by [`crate::net`]'s smoltcp stack over virtio-net
//! in the kernel, by host sockets in the Linux runtime (`hako-linux`), and by a loopback
//! fake in the unit tests. Errors are WASI errno values.
//!
//! Blocking is the WASI layer's business (`sock`): an operation that cannot proceed now
//! answers `AGAIN`, and the caller waits with [`Network::wait`] until the socket may be
//! ready or its deadline passes, then tries again. So a backend never blocks except in
//! `wait` (and `resolve`), and the deadlines of `SO_RCVTIMEO`, `SO_SNDTIMEO` and
//! `poll_oneoff` are kept in one place.

use crate::guest::Errno;
use alloc::vec::Vec;
use core::net::{IpAddr, SocketAddr};

/// A backend's handle on one socket.
pub type SockId = u32;

/// Address family of a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
}

/// Socket type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Stream,
    Datagram,
}

/// What a waiter waits for on a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interest {
    /// Data to read, a connection to accept, or the end of the stream.
    Read,
    /// Room to write, or a connection attempt finished (either way).
    Write,
}

/// What a socket could do now without blocking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Readiness {
    /// `recv` or `accept` would not answer `AGAIN`.
    pub readable: bool,
    /// `send` would not answer `AGAIN` (or a `connect` finished).
    pub writable: bool,
    /// The peer closed its side, or the connection failed.
    pub hangup: bool,
    /// Bytes ready to read (stream) or the size of the next datagram, when known. From
    /// [`Network::readiness_many`] a readable stream may report 1 (at least one byte) where
    /// the count would cost the backend another host call.
    pub nbytes: u64,
}

/// Socket options a backend applies (the WASI layer keeps the timeouts itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SockOpt {
    ReuseAddr,
    KeepAlive,
    NoDelay,
    Broadcast,
    RecvBuf,
    SendBuf,
    Linger,
}

/// A network stack.
pub trait Network {
    /// A new unbound socket.
    fn open(&mut self, family: Family, kind: Kind) -> Result<SockId, Errno>;
    /// Bind to a local address (port 0: any free one).
    fn bind(&mut self, s: SockId, addr: SocketAddr) -> Result<(), Errno>;
    /// Accept connections on a bound stream socket (bound to an ephemeral port if it is not
    /// bound yet).
    fn listen(&mut self, s: SockId, backlog: u32) -> Result<(), Errno>;
    /// A pending connection of a listening socket and its peer; `AGAIN` when none is.
    fn accept(&mut self, s: SockId) -> Result<(SockId, SocketAddr), Errno>;
    /// Connect a stream socket (start the handshake: `INPROGRESS` until it completes,
    /// after which `connect` answers `ISCONN`, or the failure: `CONNREFUSED`, ...), or set a
    /// datagram socket's default peer.
    fn connect(&mut self, s: SockId, addr: SocketAddr) -> Result<(), Errno>;
    /// Read into `buf`: bytes of the stream (0 at its end), or one datagram (truncated to
    /// `buf`; the flag says so) and its sender. `AGAIN` when nothing is there yet.
    fn recv(&mut self, s: SockId, buf: &mut [u8], peek: bool) -> Result<Received, Errno>;
    /// Write from `data` (to `to`, for a datagram socket without a default peer): how many
    /// bytes were taken, at least one, or `AGAIN` when there is no room.
    fn send(&mut self, s: SockId, data: &[u8], to: Option<SocketAddr>) -> Result<usize, Errno>;
    /// Shut down reading, writing or both.
    fn shutdown(&mut self, s: SockId, read: bool, write: bool) -> Result<(), Errno>;
    /// Release the socket (a stream closes gracefully in the background).
    fn close(&mut self, s: SockId);
    fn local_addr(&mut self, s: SockId) -> Result<SocketAddr, Errno>;
    fn peer_addr(&mut self, s: SockId) -> Result<SocketAddr, Errno>;
    fn readiness(&mut self, s: SockId) -> Readiness;
    /// [`Network::readiness`] of each of `socks`, in order, into `out` (cleared first; a
    /// host asks its kernel once). A readable stream's `nbytes` may be 1 here, "at least
    /// one", when the exact count would cost another host call per socket, as WasmEdge
    /// reports it: `poll_oneoff`, the only caller, is how event loops wait, and they read
    /// until `AGAIN` whatever the count says.
    fn readiness_many(&mut self, socks: &[SockId], out: &mut Vec<Readiness>) {
        out.clear();
        out.extend(socks.iter().map(|&s| self.readiness(s)));
    }
    /// Take the pending error of the socket (`SO_ERROR`), 0 if there is none.
    fn take_error(&mut self, s: SockId) -> Errno;
    fn set_option(&mut self, s: SockId, opt: SockOpt, value: u64) -> Result<(), Errno>;
    fn get_option(&mut self, s: SockId, opt: SockOpt) -> Result<u64, Errno>;
    /// Wait until one of `interest` may be ready or the monotonic clock (the one of
    /// [`super::Host::now_ns`]) reaches `deadline`. May return early; callers check again.
    fn wait(&mut self, interest: &[(SockId, Interest)], deadline: Option<u64>);
    /// The addresses of host `name` (not a numeric address: callers parse those).
    fn resolve(&mut self, name: &str) -> Result<Vec<IpAddr>, Errno>;
    /// The program has ended: close every socket gracefully and send what they still hold,
    /// waiting until the monotonic clock reaches `deadline` at most. A stack whose sockets
    /// outlive the program (a host's) has nothing to do.
    fn finish(&mut self, _deadline: u64) {}
}

/// What [`Network::recv`] read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    pub len: usize,
    /// The datagram was longer than the buffer.
    pub truncated: bool,
    /// The sender (datagram sockets).
    pub from: Option<SocketAddr>,
}
