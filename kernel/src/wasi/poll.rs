//! `poll_oneoff`: clock subscriptions (relative, or absolute on the monotonic clock) wait
//! with [`Host::sleep_until`]; descriptor subscriptions other than sockets are always ready
//! at once (stdin with the bytes still to come, a file with the bytes after its position).
//! Sockets are ready when the [`super::net::Network`] says so; until one subscription is
//! ready, the call waits in [`super::net::Network::wait`] for the sockets, up to the
//! earliest clock.

use super::net::{Interest, Readiness, SockId};
use super::{Clock, Entry, Host, WasiCtx, WasiResult};
use crate::guest::GuestMemory;
use alloc::vec::Vec;
use hako_abi::wasi::{clockid, errno, eventrwflags, eventtype, subclockflags};

impl WasiCtx {
    pub fn poll_oneoff(
        &mut self,
        host: &mut impl Host,
        mem: &mut GuestMemory,
        subs: u32,
        events: u32,
        n: u32,
        nevents: u32,
    ) -> WasiResult {
        if n == 0 {
            return Err(errno::INVAL);
        }
        mem.bytes(subs, n.checked_mul(48).ok_or(errno::FAULT)?)?;
        struct Sub {
            userdata: u64,
            tag: u8,
            id: u32,
            timeout: u64,
            flags: u16,
            fd: u32,
        }
        let mut list = Vec::new();
        for i in 0..n {
            let s = subs + 48 * i;
            let tag = mem.read::<u8>(s + 8)?;
            if tag > eventtype::FD_WRITE {
                return Err(errno::INVAL);
            }
            let flags = mem.read::<u16>(s + 40)?;
            if tag == eventtype::CLOCK && flags & !subclockflags::ALL != 0 {
                return Err(errno::INVAL);
            }
            let id = mem.read::<u32>(s + 16)?;
            if tag == eventtype::CLOCK && id > clockid::THREAD_CPUTIME_ID {
                return Err(errno::INVAL);
            }
            list.push(Sub {
                userdata: mem.read(s)?,
                tag,
                id,
                timeout: mem.read(s + 24)?,
                flags,
                fd: id,
            });
        }
        let put =
            |mem: &mut GuestMemory, k: u32, ud: u64, err: u16, ty: u8, nbytes: u64| -> WasiResult {
                let e = events + 32 * k;
                mem.bytes_mut(e, 32)?.fill(0);
                mem.write(e, ud)?;
                mem.write(e + 8, err)?;
                mem.write(e + 10, ty)?;
                mem.write(e + 16, nbytes)
            };
        if n == 1
            && list[0].tag == eventtype::CLOCK
            && list[0].flags & subclockflags::SUBSCRIPTION_CLOCK_ABSTIME == 0
        {
            let now = host.now_ns(Clock::Monotonic);
            host.sleep_until(now.saturating_add(list[0].timeout));
            put(mem, 0, list[0].userdata, 0, eventtype::CLOCK, 0)?;
            return mem.write(nevents, 1u32);
        }
        let mut clocks: Vec<(u64, u64)> = Vec::new();
        let mut fd_subs = Vec::new();
        for s in &list {
            match s.tag {
                eventtype::CLOCK => {
                    let now = host.now_ns(Clock::Monotonic);
                    let deadline = match s.id {
                        clockid::MONOTONIC
                            if s.flags & subclockflags::SUBSCRIPTION_CLOCK_ABSTIME != 0 =>
                        {
                            s.timeout
                        }
                        clockid::MONOTONIC => now.checked_add(s.timeout).ok_or(errno::OVERFLOW)?,
                        clockid::REALTIME
                            if s.flags & subclockflags::SUBSCRIPTION_CLOCK_ABSTIME != 0 =>
                        {
                            return Err(errno::NOTSUP)
                        }
                        clockid::REALTIME => now.checked_add(s.timeout).ok_or(errno::OVERFLOW)?,
                        _ => return Err(errno::INVAL),
                    };
                    clocks.push((deadline, s.userdata));
                }
                tag => {
                    self.is_file(s.fd)?;
                    fd_subs.push((s.userdata, tag, s.fd));
                }
            }
        }
        let first_clock = clocks.iter().copied().min_by_key(|c| c.0);
        loop {
            // The sockets' readiness, asked once for all of them.
            let mut ids = Vec::new();
            for &(_, _, fd) in &fd_subs {
                if let Entry::Socket(sock) = self.entry(fd)? {
                    if !ids.contains(&sock.id) {
                        ids.push(sock.id);
                    }
                }
            }
            let states = match self.net.as_deref_mut() {
                Some(net) if !ids.is_empty() => net.readiness_many(&ids),
                _ => Vec::new(),
            };
            let state_of = |id: SockId| {
                ids.iter()
                    .position(|&i| i == id)
                    .and_then(|k| states.get(k).copied())
                    .unwrap_or_default()
            };
            // Reads first, then writes, each in subscription order.
            let mut ready: Vec<(u64, u8, u64, u16)> = Vec::new();
            let mut waits: Vec<(SockId, Interest)> = Vec::new();
            for want in [eventtype::FD_READ, eventtype::FD_WRITE] {
                for &(ud, tag, fd) in fd_subs.iter().filter(|s| s.1 == want) {
                    let nbytes = match self.entry(fd)? {
                        Entry::Socket(sock) => {
                            let id = sock.id;
                            let r: Readiness = state_of(id);
                            let ok = if tag == eventtype::FD_READ {
                                r.readable
                            } else {
                                r.writable
                            };
                            if !ok && !r.hangup {
                                let interest = if tag == eventtype::FD_READ {
                                    Interest::Read
                                } else {
                                    Interest::Write
                                };
                                waits.push((id, interest));
                                continue;
                            }
                            let hup = if r.hangup {
                                eventrwflags::FD_READWRITE_HANGUP
                            } else {
                                0
                            };
                            ready.push((ud, tag, r.nbytes, hup));
                            continue;
                        }
                        Entry::Stdin if tag == eventtype::FD_READ => host.stdin_pending(),
                        Entry::File(f) if tag == eventtype::FD_READ => {
                            let (fs, fid, pos) = (f.fs, f.fid, f.pos);
                            self.fs[fs]
                                .getattr(fid)
                                .map(|st| st.size.saturating_sub(pos))
                                .unwrap_or(0)
                        }
                        _ => 0,
                    };
                    ready.push((ud, tag, nbytes, 0));
                }
            }
            if !ready.is_empty() {
                let mut k = 0;
                for (ud, tag, nb, hup) in ready {
                    put(mem, k, ud, 0, tag, nb)?;
                    mem.write(events + 32 * k + 24, hup)?;
                    k += 1;
                }
                return mem.write(nevents, k);
            }
            if waits.is_empty() {
                break;
            }
            let deadline = first_clock.map(|c| c.0);
            if let Some(d) = deadline {
                if host.now_ns(Clock::Monotonic) >= d {
                    break;
                }
            }
            let net = self.net.as_deref_mut().ok_or(errno::NOTCAPABLE)?;
            net.wait(&waits, deadline);
        }
        let (deadline, ud) = clocks.iter().copied().min_by_key(|c| c.0).unwrap_or((0, 0));
        host.sleep_until(deadline);
        put(mem, 0, ud, 0, eventtype::CLOCK, 0)?;
        mem.write(nevents, 1u32)
    }
}
