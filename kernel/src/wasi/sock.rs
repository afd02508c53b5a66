//! The socket functions: preview1's four (`sock_accept`, `sock_recv`, `sock_send`,
//! `sock_shutdown`) and the WasmEdge socket ABI (`sock_open`, `sock_bind`, ...; see
//! [`hako_abi::wasi::SOCKETS`] for which import reaches which function), over the program's
//! [`Network`].
//!
//! Without a network no descriptor is a socket: after the arguments are checked, a valid
//! descriptor is `ENOTSOCK` (what the WASI testsuite expects) and a bad one `EBADF`, and
//! `sock_open` answers `ENOTCAPABLE`.
//!
//! Behaviour follows WasmEdge's (`lib/host/wasi/wasifunc.cpp`, `inode-linux.cpp`): the
//! same argument checks, address layouts and out-parameter widths. Every [`Network`]
//! operation is non-blocking; a blocking socket (the default) waits here with
//! [`Network::wait`] until the operation can proceed or the socket's `SO_RCVTIMEO` /
//! `SO_SNDTIMEO` passes (`EAGAIN`).
//!
//! Addresses in guest memory are a `__wasi_address_t` (`buf: u32`, `buf_len: u32`) whose
//! buffer is 4 bytes (IPv4), 16 (IPv6) or 128: `family: u16le` (1 IPv4, 2 IPv6) then the
//! address bytes (WasmEdge's `WasiAddrStorage`).

use super::iovec::{check_iovs, iov};
use super::net::{Family, Interest, Kind, Network, SockId, SockOpt};
use super::{Clock, Entry, Host, WasiCtx, WasiResult};
use crate::guest::{Errno, GuestMemory};
use alloc::vec;
use alloc::vec::Vec;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use hako_abi::wasi::{
    address_family, aiflags, errno, fdflags, protocol, riflags, roflags, sdflags, sock_opt,
    sock_opt_level, sock_type,
};

/// The most bytes of small sends on a stream held back to leave together
/// ([`WasiCtx::flush_sends`]).
pub const COALESCE: usize = 4096;

/// `IPPROTO_TCP` and its `TCP_NODELAY`: not in WasmEdge's option enum (which has only
/// `SOL_SOCKET`), accepted with Linux's numbers so programs can turn Nagle off.
const LEVEL_TCP: u32 = 6;
const TCP_NODELAY: u32 = 1;

/// A socket descriptor.
#[derive(Debug, Clone, Copy)]
pub(super) struct SockFd {
    pub(super) id: SockId,
    pub(super) family: Family,
    pub(super) kind: Kind,
    pub(super) nonblock: bool,
    /// `SO_RCVTIMEO` / `SO_SNDTIMEO` in nanoseconds (`None`: wait forever).
    rcvtimeo: Option<u64>,
    sndtimeo: Option<u64>,
    listening: bool,
}

impl SockFd {
    pub(super) fn new(id: SockId, family: Family, kind: Kind) -> SockFd {
        SockFd {
            id,
            family,
            kind,
            nonblock: false,
            rcvtimeo: None,
            sndtimeo: None,
            listening: false,
        }
    }
}

/// An address in guest memory, as the guest gave it.
enum AddrBuf {
    V4,
    V6,
    /// 128-byte storage: family then address.
    Storage,
}

fn addr_buf(len: u32) -> Result<AddrBuf, Errno> {
    match len {
        4 => Ok(AddrBuf::V4),
        16 => Ok(AddrBuf::V6),
        128 => Ok(AddrBuf::Storage),
        _ => Err(errno::INVAL),
    }
}

/// Read the `__wasi_address_t` at `ptr` and the port into a socket address.
fn read_addr(mem: &GuestMemory, ptr: u32, port: u32) -> Result<SocketAddr, Errno> {
    let buf = mem.read::<u32>(ptr)?;
    let len = mem.read::<u32>(ptr + 4)?;
    let bytes = mem.bytes(buf, len)?;
    let ip = match addr_buf(len)? {
        AddrBuf::V4 => v4(&bytes[..4]),
        AddrBuf::V6 => v6(&bytes[..16]),
        AddrBuf::Storage => match u16::from_le_bytes([bytes[0], bytes[1]]) {
            f if f == u16::from(address_family::INET4) => v4(&bytes[2..6]),
            f if f == u16::from(address_family::INET6) => v6(&bytes[2..18]),
            _ => return Err(errno::AFNOSUPPORT),
        },
    };
    Ok(SocketAddr::new(ip, port as u16))
}

fn v4(b: &[u8]) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3]))
}

fn v6(b: &[u8]) -> IpAddr {
    let mut a = [0u8; 16];
    a.copy_from_slice(b);
    IpAddr::V6(Ipv6Addr::from(a))
}

fn family_code(ip: &IpAddr) -> u8 {
    match ip {
        IpAddr::V4(_) => address_family::INET4,
        IpAddr::V6(_) => address_family::INET6,
    }
}

/// Write `ip` into the buffer of the `__wasi_address_t` at `ptr`: the bare address into a
/// 4- or 16-byte buffer (an IPv4 address into 16 bytes as IPv4-mapped IPv6), family and
/// address into a 128-byte one.
fn write_addr(mem: &mut GuestMemory, ptr: u32, ip: IpAddr) -> WasiResult {
    let buf = mem.read::<u32>(ptr)?;
    let len = mem.read::<u32>(ptr + 4)?;
    let kind = addr_buf(len)?;
    let out = mem.bytes_mut(buf, len)?;
    match (kind, ip) {
        (AddrBuf::V4, IpAddr::V4(a)) => out.copy_from_slice(&a.octets()),
        (AddrBuf::V4, IpAddr::V6(a)) => match a.to_ipv4_mapped() {
            Some(a) => out.copy_from_slice(&a.octets()),
            None => return Err(errno::NOMEM),
        },
        (AddrBuf::V6, IpAddr::V4(a)) => out.copy_from_slice(&a.to_ipv6_mapped().octets()),
        (AddrBuf::V6, IpAddr::V6(a)) => out.copy_from_slice(&a.octets()),
        (AddrBuf::Storage, ip) => {
            out.fill(0);
            out[..2].copy_from_slice(&u16::from(family_code(&ip)).to_le_bytes());
            match ip {
                IpAddr::V4(a) => out[2..6].copy_from_slice(&a.octets()),
                IpAddr::V6(a) => out[2..18].copy_from_slice(&a.octets()),
            }
        }
    }
    Ok(())
}

/// The address family a socket's addresses must have (an IPv6 socket takes IPv4-mapped
/// addresses only as IPv6).
fn check_family(s: &SockFd, addr: &SocketAddr) -> WasiResult {
    match (s.family, addr) {
        (Family::V4, SocketAddr::V4(_)) | (Family::V6, SocketAddr::V6(_)) => Ok(()),
        _ => Err(errno::AFNOSUPPORT),
    }
}

/// A `timeval` (`tv_sec: i64`, `tv_usec: i64`, wasi-libc's) as nanoseconds; zero is
/// "no timeout".
fn timeval_ns(b: &[u8]) -> Result<Option<u64>, Errno> {
    let sec = i64::from_le_bytes(b[0..8].try_into().map_err(|_| errno::INVAL)?);
    let usec = i64::from_le_bytes(b[8..16].try_into().map_err(|_| errno::INVAL)?);
    if sec < 0 || !(0..1_000_000).contains(&usec) {
        return Err(errno::DOM);
    }
    let ns = (sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(usec as u64 * 1000);
    Ok((ns > 0).then_some(ns))
}

fn ns_timeval(ns: Option<u64>) -> [u8; 16] {
    let ns = ns.unwrap_or(0);
    let mut b = [0u8; 16];
    b[0..8].copy_from_slice(&((ns / 1_000_000_000) as i64).to_le_bytes());
    b[8..16].copy_from_slice(&(((ns % 1_000_000_000) / 1000) as i64).to_le_bytes());
    b
}

impl WasiCtx {
    /// The socket behind `fd`: `EBADF` if there is no such descriptor, `ENOTSOCK` if it is
    /// not a socket.
    pub(super) fn sock(&self, fd: u32) -> Result<SockFd, Errno> {
        match self.entry(fd)? {
            Entry::Socket(s) => Ok(*s),
            _ => Err(errno::NOTSOCK),
        }
    }

    fn sock_mut(&mut self, fd: u32) -> Result<&mut SockFd, Errno> {
        match self.fds.get_mut(fd) {
            Some(Entry::Socket(s)) => Ok(s),
            Some(_) => Err(errno::NOTSOCK),
            None => Err(errno::BADF),
        }
    }

    fn network(&mut self) -> Result<&mut (dyn Network + 'static), Errno> {
        self.net.as_deref_mut().ok_or(errno::NOTCAPABLE)
    }

    /// Hand a socket the embedder opened (a listening socket of `--tcplisten`) to the
    /// program as the next descriptor.
    pub fn preopen_socket(&mut self, id: SockId, family: Family, kind: Kind) -> u32 {
        let mut s = SockFd::new(id, family, kind);
        s.listening = true;
        self.push(Entry::Socket(s))
    }

    /// Run `op` on socket `s` until it does not answer `EAGAIN`, waiting for `interest` in
    /// between, unless the socket is non-blocking or its timeout for `interest` passes.
    pub(super) fn blocking<T>(
        &mut self,
        host: &mut impl Host,
        s: &SockFd,
        interest: Interest,
        mut op: impl FnMut(&mut (dyn Network + 'static)) -> Result<T, Errno>,
    ) -> Result<T, Errno> {
        let timeout = match interest {
            Interest::Read => s.rcvtimeo,
            Interest::Write => s.sndtimeo,
        };
        let deadline = timeout.map(|t| host.now_ns(Clock::Monotonic).saturating_add(t));
        let net = self.network()?;
        loop {
            match op(net) {
                Err(errno::AGAIN) if !s.nonblock => {
                    if let Some(d) = deadline {
                        if host.now_ns(Clock::Monotonic) >= d {
                            return Err(errno::AGAIN);
                        }
                    }
                    net.wait(&[(s.id, interest)], deadline);
                }
                r => return r,
            }
        }
    }

    // ----- WasmEdge: sockets -----------------------------------------------------------

    pub fn sock_open(&mut self, mem: &mut GuestMemory, af: u32, ty: u32, out: u32) -> WasiResult {
        mem.bytes(out, 4)?;
        let family = match af {
            a if a == u32::from(address_family::INET4) => Family::V4,
            a if a == u32::from(address_family::INET6) => Family::V6,
            a if a == u32::from(address_family::AF_UNIX) => return Err(errno::NOSYS),
            _ => return Err(errno::INVAL),
        };
        let kind = match ty {
            t if t == u32::from(sock_type::STREAM) => Kind::Stream,
            t if t == u32::from(sock_type::DGRAM) => Kind::Datagram,
            _ => return Err(errno::INVAL),
        };
        let net = self.network()?;
        let id = net.open(family, kind)?;
        if kind == Kind::Stream {
            no_delay(net, id);
        }
        let fd = self.push(Entry::Socket(SockFd::new(id, family, kind)));
        mem.write(out, fd)
    }

    pub fn sock_bind(
        &mut self,
        mem: &mut GuestMemory,
        fd: u32,
        addr: u32,
        port: u32,
    ) -> WasiResult {
        let s = self.sock(fd)?;
        let a = read_addr(mem, addr, port)?;
        check_family(&s, &a)?;
        self.network()?.bind(s.id, a)
    }

    pub fn sock_listen(&mut self, fd: u32, backlog: u32) -> WasiResult {
        let s = self.sock(fd)?;
        if s.kind != Kind::Stream {
            return Err(errno::NOTSUP);
        }
        let backlog = (backlog as i32).clamp(1, 4096) as u32;
        self.network()?.listen(s.id, backlog)?;
        self.sock_mut(fd)?.listening = true;
        Ok(())
    }

    /// Preview1's `sock_accept` (WasmEdge's V2): `flags` may ask for a non-blocking
    /// connection.
    pub fn sock_accept(
        &mut self,
        host: &mut impl Host,
        mem: &mut GuestMemory,
        fd: u32,
        flags: u32,
        out: u32,
    ) -> WasiResult {
        if flags & !u32::from(fdflags::ALL) != 0 {
            return Err(errno::INVAL);
        }
        let s = self.sock(fd)?;
        mem.bytes(out, 4)?;
        let (id, _peer) = self.blocking(host, &s, Interest::Read, |n| n.accept(s.id))?;
        no_delay(self.network()?, id);
        let mut c = SockFd::new(id, s.family, Kind::Stream);
        c.nonblock = flags & u32::from(fdflags::NONBLOCK) != 0;
        let new = self.push(Entry::Socket(c));
        mem.write(out, new)
    }

    /// WasmEdge's V1 `sock_accept(fd, out)`: a blocking connection.
    pub fn sock_accept_v1(
        &mut self,
        host: &mut impl Host,
        mem: &mut GuestMemory,
        fd: u32,
        out: u32,
    ) -> WasiResult {
        self.sock_accept(host, mem, fd, 0, out)
    }

    pub fn sock_connect(
        &mut self,
        host: &mut impl Host,
        mem: &mut GuestMemory,
        fd: u32,
        addr: u32,
        port: u32,
    ) -> WasiResult {
        let s = self.sock(fd)?;
        let a = read_addr(mem, addr, port)?;
        check_family(&s, &a)?;
        match self.network()?.connect(s.id, a) {
            Err(errno::INPROGRESS) if !s.nonblock => {}
            r => return r,
        }
        // The handshake runs: wait until `connect` says how it ended.
        let r = self.blocking(host, &s, Interest::Write, |n| match n.connect(s.id, a) {
            Err(errno::INPROGRESS | errno::ALREADY) => Err(errno::AGAIN),
            Err(errno::ISCONN) => Ok(()),
            r => r,
        });
        match r {
            Err(errno::AGAIN) => Err(errno::TIMEDOUT),
            r => r,
        }
    }

    /// Receive into the iovecs: one read for a datagram (through a buffer the size of all
    /// of them), for a stream the first non-empty iovec filled as far as the data
    /// available allows, then the next ones while data keeps coming without waiting
    /// (`RECV_WAITALL`: waiting until all are full or the stream ends).
    pub(super) fn recv_iovs(
        &mut self,
        host: &mut impl Host,
        mem: &mut GuestMemory,
        s: &SockFd,
        iovs: u32,
        n: u32,
        flags: u16,
    ) -> Result<(u32, u16, Option<SocketAddr>), Errno> {
        let total = check_iovs(mem, iovs, n)?;
        let peek = flags & riflags::RECV_PEEK != 0;
        let waitall = flags & riflags::RECV_WAITALL != 0 && !peek;
        if s.kind == Kind::Datagram {
            let mut buf = vec![0u8; total.min(65_536) as usize];
            let r = self.blocking(host, s, Interest::Read, |net| {
                net.recv(s.id, &mut buf, peek)
            })?;
            let mut done = 0usize;
            for i in 0..n {
                let (p, l) = iov(mem, iovs, i)?;
                let take = (l as usize).min(r.len - done);
                mem.bytes_mut(p, take as u32)?
                    .copy_from_slice(&buf[done..done + take]);
                done += take;
            }
            let of = if r.truncated {
                roflags::RECV_DATA_TRUNCATED
            } else {
                0
            };
            return Ok((done as u32, of, r.from));
        }
        let mut done: u32 = 0;
        for i in 0..n {
            let (p, l) = iov(mem, iovs, i)?;
            let mut filled = 0u32;
            while filled < l {
                let buf = mem.bytes_mut(p + filled, l - filled)?;
                let r = if done == 0 || waitall {
                    self.blocking(host, s, Interest::Read, |net| net.recv(s.id, buf, peek))
                } else {
                    self.network()?.recv(s.id, buf, peek)
                };
                match r {
                    Ok(r) if r.len == 0 => return Ok((done, 0, None)),
                    Ok(r) => {
                        done += r.len as u32;
                        filled += r.len as u32;
                    }
                    // What was read is the answer; an error comes with the next call.
                    Err(_) if done > 0 => return Ok((done, 0, None)),
                    Err(e) => return Err(e),
                }
                if peek || (!waitall && filled < l) {
                    return Ok((done, 0, None));
                }
            }
        }
        Ok((done, 0, None))
    }

    /// Send the iovecs' bytes: a datagram in one piece, a stream as far as it takes them
    /// (waiting only for the first byte).
    fn send_iovs(
        &mut self,
        host: &mut impl Host,
        mem: &mut GuestMemory,
        s: &SockFd,
        iovs: u32,
        n: u32,
        to: Option<SocketAddr>,
    ) -> Result<u32, Errno> {
        let total = check_iovs(mem, iovs, n)?;
        // Several iovecs (a response's head and body) go out as one send when they are not
        // large: sent one by one, the second waits for the first one's ACK under Nagle's
        // algorithm, which the peer delays (40 ms per request, measured with hyper).
        if s.kind == Kind::Datagram || to.is_some() || (n > 1 && total <= 64 * 1024) {
            let mut buf = Vec::with_capacity(total as usize);
            for i in 0..n {
                let (p, l) = iov(mem, iovs, i)?;
                buf.extend_from_slice(mem.bytes(p, l)?);
            }
            let sent = self.blocking(host, s, Interest::Write, |net| net.send(s.id, &buf, to))?;
            return Ok(sent as u32);
        }
        let mut done: u32 = 0;
        for i in 0..n {
            let (p, l) = iov(mem, iovs, i)?;
            let mut off = 0u32;
            while off < l {
                let data = mem.bytes(p + off, l - off)?;
                let r = if done == 0 {
                    self.blocking(host, s, Interest::Write, |net| net.send(s.id, data, None))
                } else {
                    self.network()?.send(s.id, data, None)
                };
                match r {
                    Ok(k) => {
                        done += k as u32;
                        off += k as u32;
                    }
                    Err(_) if done > 0 => return Ok(done),
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(done)
    }

    /// `sock_recv` (preview1 and WasmEdge's both forms: the same signature).
    #[allow(clippy::too_many_arguments)]
    pub fn sock_recv(
        &mut self,
        host: &mut impl Host,
        mem: &mut GuestMemory,
        fd: u32,
        iovs: u32,
        n: u32,
        flags: u32,
        out: u32,
        oflags: u32,
    ) -> WasiResult {
        if flags & !u32::from(riflags::ALL) != 0 {
            return Err(errno::INVAL);
        }
        check_iovs(mem, iovs, n)?;
        let s = self.sock(fd)?;
        mem.bytes(out, 4)?;
        mem.bytes(oflags, 2)?;
        let (len, of, _) = self.recv_iovs(host, mem, &s, iovs, n, flags as u16)?;
        mem.write(out, len)?;
        mem.write(oflags, of)
    }

    /// `sock_recv_from` (WasmEdge V2, eight parameters): the sender's address into the
    /// `__wasi_address_t` at `addr`, its port (`u16`) at `port`.
    #[allow(clippy::too_many_arguments)]
    pub fn sock_recv_from(
        &mut self,
        host: &mut impl Host,
        mem: &mut GuestMemory,
        fd: u32,
        iovs: u32,
        n: u32,
        addr: u32,
        flags: u32,
        port: Option<u32>,
        out: u32,
        oflags: u32,
    ) -> WasiResult {
        let len = mem.read::<u32>(addr + 4)?;
        mem.bytes(mem.read::<u32>(addr)?, len)?;
        addr_buf(len)?;
        if flags & !u32::from(riflags::ALL) != 0 {
            return Err(errno::INVAL);
        }
        if let Some(p) = port {
            mem.bytes(p, 2)?;
        }
        check_iovs(mem, iovs, n)?;
        mem.bytes(out, 4)?;
        mem.bytes(oflags, 2)?;
        let s = self.sock(fd)?;
        let (got, of, from) = self.recv_iovs(host, mem, &s, iovs, n, flags as u16)?;
        let from = match from {
            Some(f) => f,
            None => self.network()?.peer_addr(s.id)?,
        };
        write_addr(mem, addr, from.ip())?;
        if let Some(p) = port {
            mem.write(p, from.port())?;
        }
        mem.write(out, got)?;
        mem.write(oflags, of)
    }

    /// WasmEdge's V1 `sock_recv_from` (seven parameters: no port out-parameter).
    #[allow(clippy::too_many_arguments)]
    pub fn sock_recv_from_v1(
        &mut self,
        host: &mut impl Host,
        mem: &mut GuestMemory,
        fd: u32,
        iovs: u32,
        n: u32,
        addr: u32,
        flags: u32,
        out: u32,
        oflags: u32,
    ) -> WasiResult {
        self.sock_recv_from(host, mem, fd, iovs, n, addr, flags, None, out, oflags)
    }

    #[allow(clippy::too_many_arguments)]
    pub fn sock_send(
        &mut self,
        host: &mut impl Host,
        mem: &mut GuestMemory,
        fd: u32,
        iovs: u32,
        n: u32,
        _flags: u32,
        out: u32,
    ) -> WasiResult {
        let total = check_iovs(mem, iovs, n)?;
        let s = self.sock(fd)?;
        mem.bytes(out, 4)?;
        if s.kind == Kind::Stream {
            if matches!(&self.unsent, Some((f, _)) if *f != fd) {
                self.flush_sends(host);
            }
            let held = match &self.unsent {
                None => Some(0),
                Some((f, bytes)) if *f == fd => Some(bytes.len()),
                // Another socket's bytes still wait (it is non-blocking and full).
                Some(_) => None,
            };
            if let Some(held) = held.filter(|h| *h as u64 + total <= COALESCE as u64) {
                let spare = &mut self.spare;
                let buf = &mut self
                    .unsent
                    .get_or_insert_with(|| (fd, core::mem::take(spare)))
                    .1;
                debug_assert_eq!(buf.len(), held);
                for i in 0..n {
                    let (p, l) = iov(mem, iovs, i)?;
                    buf.extend_from_slice(mem.bytes(p, l)?);
                }
                return mem.write(out, total as u32);
            }
            if matches!(&self.unsent, Some((f, _)) if *f == fd) {
                self.flush_sends(host);
                // Non-blocking, and the held bytes do not fit yet: these wait their turn.
                if matches!(&self.unsent, Some((f, _)) if *f == fd) {
                    return Err(errno::AGAIN);
                }
            }
        }
        let sent = self.send_iovs(host, mem, &s, iovs, n, None)?;
        mem.write(out, sent)
    }

    /// Send the bytes small `sock_send`s on a stream left in [`WasiCtx::unsent`]. Every
    /// WASI call but `sock_send` and `fd_write` begins with this (`shims`), and so does the
    /// program's end, so the bytes leave before the program can wait for an answer.
    ///
    /// Why they wait at all: programs on this ABI (hyper on `mio_wasi`) write a response's
    /// head and body with two calls, which without Nagle's algorithm became two TCP
    /// segments and twice the host's work per response; together they are one. The
    /// program was told they were sent: a blocking socket waits here until they are; a
    /// non-blocking one whose buffer is full keeps the rest for the next call (so one
    /// client that does not read never stalls a server's event loop). An error drops them,
    /// as a connection that fails after a successful send loses what was in flight.
    pub fn flush_sends(&mut self, host: &mut impl Host) {
        let Some((fd, mut bytes)) = self.unsent.take() else {
            return;
        };
        if let Ok(s) = self.sock(fd) {
            let mut at = 0;
            while at < bytes.len() {
                match self.blocking(host, &s, Interest::Write, |net| {
                    net.send(s.id, &bytes[at..], None)
                }) {
                    Ok(k) => at += k,
                    Err(errno::AGAIN) => {
                        bytes.drain(..at);
                        self.unsent = Some((fd, bytes));
                        return;
                    }
                    Err(_) => break,
                }
            }
        }
        bytes.clear();
        self.spare = bytes;
    }

    #[allow(clippy::too_many_arguments)]
    pub fn sock_send_to(
        &mut self,
        host: &mut impl Host,
        mem: &mut GuestMemory,
        fd: u32,
        iovs: u32,
        n: u32,
        addr: u32,
        port: u32,
        _flags: u32,
        out: u32,
    ) -> WasiResult {
        check_iovs(mem, iovs, n)?;
        let s = self.sock(fd)?;
        let to = read_addr(mem, addr, port)?;
        check_family(&s, &to)?;
        mem.bytes(out, 4)?;
        let sent = self.send_iovs(host, mem, &s, iovs, n, Some(to))?;
        mem.write(out, sent)
    }

    pub fn sock_shutdown(&mut self, fd: u32, how: u32) -> WasiResult {
        if how & !u32::from(sdflags::ALL) != 0 {
            return Err(errno::INVAL);
        }
        let s = self.sock(fd)?;
        if how == 0 {
            return Err(errno::INVAL);
        }
        let how = how as u8;
        self.network()?
            .shutdown(s.id, how & sdflags::RD != 0, how & sdflags::WR != 0)
    }

    /// `sock_getlocaladdr` / `sock_getpeeraddr`, V2 (three parameters): family and address
    /// into the 128-byte storage at `addr`, the port as a `u32`.
    pub fn sock_getaddr(
        &mut self,
        mem: &mut GuestMemory,
        fd: u32,
        peer: bool,
        addr: u32,
        port: u32,
    ) -> WasiResult {
        let len = mem.read::<u32>(addr + 4)?;
        mem.bytes(mem.read::<u32>(addr)?, len)?;
        mem.bytes(port, 4)?;
        if len != 128 {
            return Err(errno::INVAL);
        }
        let a = self.sock_address(fd, peer)?;
        write_addr(mem, addr, a.ip())?;
        mem.write(port, u32::from(a.port()))
    }

    /// V1 (four parameters): the bare address into a 4- or 16-byte buffer, its type (4 or
    /// 6) and the port as `u32`s.
    pub fn sock_getaddr_v1(
        &mut self,
        mem: &mut GuestMemory,
        fd: u32,
        peer: bool,
        addr: u32,
        ty: u32,
        port: u32,
    ) -> WasiResult {
        let len = mem.read::<u32>(addr + 4)?;
        mem.bytes(mem.read::<u32>(addr)?, len)?;
        if len != 4 && len != 16 {
            return Err(errno::INVAL);
        }
        mem.bytes(ty, 4)?;
        mem.bytes(port, 4)?;
        let a = self.sock_address(fd, peer)?;
        if len == 4 && a.is_ipv6() {
            return Err(errno::NOMEM);
        }
        // WasmEdge writes the bare address (IPv4 in the first four bytes of a 16-byte buffer).
        let buf = mem.read::<u32>(addr)?;
        match a.ip() {
            IpAddr::V4(v) => mem.bytes_mut(buf, 4)?.copy_from_slice(&v.octets()),
            IpAddr::V6(v) => mem.bytes_mut(buf, 16)?.copy_from_slice(&v.octets()),
        }
        mem.write(ty, if a.is_ipv4() { 4u32 } else { 6 })?;
        mem.write(port, u32::from(a.port()))
    }

    fn sock_address(&mut self, fd: u32, peer: bool) -> Result<SocketAddr, Errno> {
        let s = self.sock(fd)?;
        let net = self.network()?;
        if peer {
            net.peer_addr(s.id)
        } else {
            net.local_addr(s.id)
        }
    }

    pub fn sock_getsockopt(
        &mut self,
        mem: &mut GuestMemory,
        fd: u32,
        level: u32,
        name: u32,
        flag: u32,
        size_ptr: u32,
    ) -> WasiResult {
        let size = mem.read::<u32>(size_ptr)?;
        mem.bytes(flag, size)?;
        let s = self.sock(fd)?;
        let mut out = [0u8; 16];
        let len = match (level, name) {
            (sock_opt_level::SOL_SOCKET, sock_opt::RCVTIMEO | sock_opt::SNDTIMEO) => {
                let t = if name == sock_opt::RCVTIMEO {
                    s.rcvtimeo
                } else {
                    s.sndtimeo
                };
                out = ns_timeval(t);
                16
            }
            (sock_opt_level::SOL_SOCKET, sock_opt::TYPE) => {
                let t = match s.kind {
                    Kind::Stream => sock_type::STREAM,
                    Kind::Datagram => sock_type::DGRAM,
                };
                out[..4].copy_from_slice(&u32::from(t).to_le_bytes());
                4
            }
            (sock_opt_level::SOL_SOCKET, sock_opt::ERROR) => {
                let e = self.network()?.take_error(s.id);
                out[..4].copy_from_slice(&u32::from(e).to_le_bytes());
                4
            }
            (sock_opt_level::SOL_SOCKET, sock_opt::ACCEPTCONN) => {
                out[..4].copy_from_slice(&u32::from(s.listening).to_le_bytes());
                4
            }
            (sock_opt_level::SOL_SOCKET, sock_opt::LINGER) => {
                let v = self.network()?.get_option(s.id, SockOpt::Linger)?;
                let on = u32::from(v != u64::MAX);
                out[..4].copy_from_slice(&on.to_le_bytes());
                out[4..8].copy_from_slice(&((v as u32) * on).to_le_bytes());
                8
            }
            _ => {
                let opt = option(level, name)?;
                let v = self.network()?.get_option(s.id, opt)?;
                out[..4].copy_from_slice(&(v.min(i32::MAX as u64) as u32).to_le_bytes());
                4
            }
        };
        if size < len {
            return Err(errno::INVAL);
        }
        mem.bytes_mut(flag, len)?
            .copy_from_slice(&out[..len as usize]);
        mem.write(size_ptr, len)
    }

    pub fn sock_setsockopt(
        &mut self,
        mem: &mut GuestMemory,
        fd: u32,
        level: u32,
        name: u32,
        flag: u32,
        size: u32,
    ) -> WasiResult {
        let bytes = mem.bytes(flag, size)?;
        let s = self.sock(fd)?;
        let int = |b: &[u8]| -> Result<u32, Errno> {
            Ok(u32::from_le_bytes(
                b.get(..4)
                    .ok_or(errno::INVAL)?
                    .try_into()
                    .map_err(|_| errno::INVAL)?,
            ))
        };
        match (level, name) {
            (sock_opt_level::SOL_SOCKET, sock_opt::RCVTIMEO | sock_opt::SNDTIMEO) => {
                let t = timeval_ns(bytes.get(..16).ok_or(errno::INVAL)?)?;
                let m = self.sock_mut(fd)?;
                if name == sock_opt::RCVTIMEO {
                    m.rcvtimeo = t;
                } else {
                    m.sndtimeo = t;
                }
                Ok(())
            }
            (sock_opt_level::SOL_SOCKET, sock_opt::LINGER) => {
                let on = int(bytes)?;
                let secs = int(bytes.get(4..).ok_or(errno::INVAL)?)?;
                let v = if on != 0 { u64::from(secs) } else { u64::MAX };
                self.network()?.set_option(s.id, SockOpt::Linger, v)
            }
            (
                sock_opt_level::SOL_SOCKET,
                sock_opt::TYPE | sock_opt::ERROR | sock_opt::ACCEPTCONN,
            ) => Err(errno::NOPROTOOPT),
            _ => {
                let opt = option(level, name)?;
                let v = int(bytes)?;
                self.network()?.set_option(s.id, opt, u64::from(v))
            }
        }
    }

    /// `sock_getaddrinfo(node, node_len, service, service_len, hints, res, max, res_len)`:
    /// the addresses of `node` (numeric, or a name the network resolves) with the port of
    /// `service` (numeric), written into the guest's preallocated list: `*res` points to
    /// `max` `__wasi_addrinfo_t` (28 bytes, linked by `ai_next`), each with an `ai_addr`
    /// (`__wasi_sockaddr_t`: family `u8`, `sa_data_len: u32` at 4, `sa_data: u32` at 8)
    /// whose `sa_data` receives the port (big-endian) and the address as Linux's
    /// `sockaddr_in`/`sockaddr_in6` hold them from `sin_port` on (14 or 26 bytes).
    #[allow(clippy::too_many_arguments)]
    pub fn sock_getaddrinfo(
        &mut self,
        mem: &mut GuestMemory,
        node: u32,
        node_len: u32,
        service: u32,
        service_len: u32,
        hints: u32,
        res: u32,
        max: u32,
        res_len: u32,
    ) -> WasiResult {
        let cstr = |b: &[u8]| -> Result<alloc::string::String, Errno> {
            let b = match b.iter().position(|&c| c == 0) {
                Some(i) => &b[..i],
                None => b,
            };
            core::str::from_utf8(b)
                .map(alloc::string::String::from)
                .map_err(|_| errno::INVAL)
        };
        let name = cstr(mem.bytes(node, node_len)?)?;
        let serv = cstr(mem.bytes(service, service_len)?)?;
        let h_flags = mem.read::<u16>(hints)?;
        let h_family = mem.read::<u8>(hints + 2)?;
        let h_type = mem.read::<u8>(hints + 3)?;
        let h_proto = mem.read::<u8>(hints + 4)?;
        mem.bytes(res_len, 4)?;
        let first = mem.read::<u32>(res)?;
        let port: u16 = if serv.is_empty() {
            0
        } else if let Ok(p) = serv.parse() {
            p
        } else if h_flags & aiflags::NUMERICSERV != 0 {
            return Err(errno::INVAL);
        } else {
            service_port(&serv).ok_or(errno::INVAL)?
        };
        let mut ips: Vec<IpAddr> = if name.is_empty() {
            let any = h_flags & aiflags::PASSIVE != 0;
            vec![if any {
                IpAddr::V4(Ipv4Addr::UNSPECIFIED)
            } else {
                IpAddr::V4(Ipv4Addr::LOCALHOST)
            }]
        } else if let Ok(ip) = name.parse::<IpAddr>() {
            vec![ip]
        } else if h_flags & aiflags::NUMERICHOST != 0 {
            return Err(errno::INVAL);
        } else {
            self.network()?.resolve(&name)?
        };
        ips.retain(|ip| match h_family {
            f if f == address_family::INET4 => ip.is_ipv4(),
            f if f == address_family::INET6 => ip.is_ipv6(),
            _ => true,
        });
        // One entry per address and socket type, as getaddrinfo answers without a type.
        let types: &[(u8, u8)] = match h_type {
            t if t == sock_type::STREAM => &[(sock_type::STREAM, protocol::TCP)],
            t if t == sock_type::DGRAM => &[(sock_type::DGRAM, protocol::UDP)],
            _ => match h_proto {
                p if p == protocol::TCP => &[(sock_type::STREAM, protocol::TCP)],
                p if p == protocol::UDP => &[(sock_type::DGRAM, protocol::UDP)],
                _ => &[
                    (sock_type::STREAM, protocol::TCP),
                    (sock_type::DGRAM, protocol::UDP),
                ],
            },
        };
        let mut k = 0u32;
        let mut at = first;
        'out: for ip in &ips {
            for &(ty, proto) in types {
                if k == max {
                    break 'out;
                }
                mem.bytes(at, 28)?;
                let sa = mem.read::<u32>(at + 12)?;
                let data_len = mem.read::<u32>(sa + 4)?;
                let data = mem.read::<u32>(sa + 8)?;
                let mut sa_data = [0u8; 26];
                sa_data[..2].copy_from_slice(&port.to_be_bytes());
                let n = match ip {
                    IpAddr::V4(a) => {
                        sa_data[2..6].copy_from_slice(&a.octets());
                        14
                    }
                    IpAddr::V6(a) => {
                        sa_data[6..22].copy_from_slice(&a.octets());
                        26
                    }
                };
                if data_len < n {
                    return Err(errno::NOMEM);
                }
                mem.bytes_mut(data, n)?
                    .copy_from_slice(&sa_data[..n as usize]);
                mem.write(sa, family_code(ip))?;
                mem.write(sa + 4, n)?;
                mem.write(at, 0u16)?;
                mem.write(at + 2, family_code(ip))?;
                mem.write(at + 3, ty)?;
                mem.write(at + 4, proto)?;
                mem.write(at + 8, if ip.is_ipv4() { 16u32 } else { 28 })?;
                mem.write(at + 20, 0u32)?;
                k += 1;
                at = mem.read::<u32>(at + 24)?;
            }
        }
        mem.write(res_len, k)
    }
}

/// Turn Nagle's algorithm off on a new stream socket. WasmEdge's option names have no
/// `TCP_NODELAY` (only `SOL_SOCKET` options), so a program cannot do it itself, and programs
/// on this ABI write a response's head and body with two sends (hyper on `mio_wasi` does):
/// with Nagle on, the second waits for the peer's delayed ACK, 40 ms per request.
fn no_delay(net: &mut dyn Network, id: SockId) {
    // A network that cannot set it sends as it would have.
    let _ = net.set_option(id, SockOpt::NoDelay, 1);
}

/// The port of a well-known service name (IANA's, as `/etc/services` has them: there is no
/// such file in the unikernel).
fn service_port(name: &str) -> Option<u16> {
    const SERVICES: [(&str, u16); 16] = [
        ("echo", 7),
        ("ftp", 21),
        ("ssh", 22),
        ("telnet", 23),
        ("smtp", 25),
        ("domain", 53),
        ("http", 80),
        ("pop3", 110),
        ("ntp", 123),
        ("imap", 143),
        ("ldap", 389),
        ("https", 443),
        ("submission", 587),
        ("imaps", 993),
        ("pop3s", 995),
        ("http-alt", 8080),
    ];
    SERVICES.iter().find(|s| s.0 == name).map(|s| s.1)
}

/// The [`SockOpt`] a (level, name) pair of `sock_setsockopt` sets.
fn option(level: u32, name: u32) -> Result<SockOpt, Errno> {
    Ok(match (level, name) {
        (sock_opt_level::SOL_SOCKET, sock_opt::REUSEADDR) => SockOpt::ReuseAddr,
        (sock_opt_level::SOL_SOCKET, sock_opt::KEEPALIVE) => SockOpt::KeepAlive,
        (sock_opt_level::SOL_SOCKET, sock_opt::BROADCAST) => SockOpt::Broadcast,
        (sock_opt_level::SOL_SOCKET, sock_opt::RCVBUF) => SockOpt::RecvBuf,
        (sock_opt_level::SOL_SOCKET, sock_opt::SNDBUF) => SockOpt::SendBuf,
        (LEVEL_TCP, TCP_NODELAY) => SockOpt::NoDelay,
        (sock_opt_level::SOL_SOCKET, _) | (LEVEL_TCP, _) => return Err(errno::NOPROTOOPT),
        _ => return Err(errno::INVAL),
    })
}

#[cfg(test)]
mod tests;
