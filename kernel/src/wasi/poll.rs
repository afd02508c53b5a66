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

/// One subscription as read from guest memory.
#[derive(Debug, Clone, Copy)]
struct Sub {
    userdata: u64,
    tag: u8,
    id: u32,
    timeout: u64,
    flags: u16,
}

/// What a descriptor subscription is about, looked up once per call.
#[derive(Debug, Clone, Copy)]
enum Target {
    /// A socket: its network handle.
    Socket(SockId),
    /// Anything else, ready at once with this many bytes.
    Ready(u64),
}

/// The buffers of `poll_oneoff`, kept in the [`WasiCtx`] between calls: an event loop polls
/// for every batch of requests, and allocating them anew each time cost a server more than
/// the polling itself.
#[derive(Debug, Default)]
pub(super) struct PollScratch {
    subs: Vec<Sub>,
    /// `(deadline, userdata)` of the clock subscriptions.
    clocks: Vec<(u64, u64)>,
    /// `(userdata, tag, target)` of the descriptor subscriptions.
    fds: Vec<(u64, u8, Target)>,
    /// The distinct sockets subscribed to, and their readiness.
    ids: Vec<SockId>,
    states: Vec<Readiness>,
    /// `(userdata, tag, nbytes, flags)` of the events to report.
    ready: Vec<(u64, u8, u64, u16)>,
    waits: Vec<(SockId, Interest)>,
}

/// Write event `k`.
fn put(
    mem: &mut GuestMemory,
    events: u32,
    k: u32,
    (ud, ty, nbytes, flags): (u64, u8, u64, u16),
) -> WasiResult {
    let e = events + 32 * k;
    mem.bytes_mut(e, 32)?.fill(0);
    mem.write(e, ud)?;
    mem.write(e + 10, ty)?;
    mem.write(e + 16, nbytes)?;
    mem.write(e + 24, flags)
}

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
        let mut scratch = core::mem::take(&mut self.poll_scratch);
        let r = self.poll_with(host, mem, subs, events, n, nevents, &mut scratch);
        self.poll_scratch = scratch;
        r
    }

    #[allow(clippy::too_many_arguments)]
    fn poll_with(
        &mut self,
        host: &mut impl Host,
        mem: &mut GuestMemory,
        subs: u32,
        events: u32,
        n: u32,
        nevents: u32,
        sc: &mut PollScratch,
    ) -> WasiResult {
        if n == 0 {
            return Err(errno::INVAL);
        }
        mem.bytes(subs, n.checked_mul(48).ok_or(errno::FAULT)?)?;
        let list = &mut sc.subs;
        list.clear();
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
            });
        }
        if n == 1
            && list[0].tag == eventtype::CLOCK
            && list[0].flags & subclockflags::SUBSCRIPTION_CLOCK_ABSTIME == 0
        {
            let now = host.now_ns(Clock::Monotonic);
            host.sleep_until(now.saturating_add(list[0].timeout));
            put(mem, events, 0, (list[0].userdata, eventtype::CLOCK, 0, 0))?;
            return mem.write(nevents, 1u32);
        }
        sc.clocks.clear();
        sc.fds.clear();
        sc.ids.clear();
        for s in &sc.subs {
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
                    sc.clocks.push((deadline, s.userdata));
                }
                tag => {
                    // A directory is `EBADF`, as for Wasmtime's `get_file`.
                    let target = match self.entry(s.id)? {
                        Entry::Dir(_) => return Err(errno::BADF),
                        Entry::Socket(sock) => {
                            if !sc.ids.contains(&sock.id) {
                                sc.ids.push(sock.id);
                            }
                            Target::Socket(sock.id)
                        }
                        Entry::Stdin if tag == eventtype::FD_READ => {
                            Target::Ready(host.stdin_pending())
                        }
                        Entry::File(f) if tag == eventtype::FD_READ => {
                            let (fs, fid, pos) = (f.fs, f.fid, f.pos);
                            Target::Ready(
                                self.fs[fs]
                                    .getattr(fid)
                                    .map(|st| st.size.saturating_sub(pos))
                                    .unwrap_or(0),
                            )
                        }
                        _ => Target::Ready(0),
                    };
                    sc.fds.push((s.userdata, tag, target));
                }
            }
        }
        let first_clock = sc.clocks.iter().copied().min_by_key(|c| c.0);
        loop {
            // The sockets' readiness, asked once for all of them.
            sc.states.clear();
            if let Some(net) = self.net.as_deref_mut() {
                if !sc.ids.is_empty() {
                    net.readiness_many(&sc.ids, &mut sc.states);
                }
            }
            let (ids, states) = (&sc.ids, &sc.states);
            let state_of = |id: SockId| {
                ids.iter()
                    .position(|&i| i == id)
                    .and_then(|k| states.get(k).copied())
                    .unwrap_or_default()
            };
            // Reads first, then writes, each in subscription order.
            sc.ready.clear();
            sc.waits.clear();
            for want in [eventtype::FD_READ, eventtype::FD_WRITE] {
                for &(ud, tag, target) in sc.fds.iter().filter(|s| s.1 == want) {
                    let id = match target {
                        Target::Socket(id) => id,
                        Target::Ready(nbytes) => {
                            sc.ready.push((ud, tag, nbytes, 0));
                            continue;
                        }
                    };
                    let r = state_of(id);
                    let read = tag == eventtype::FD_READ;
                    let ok = if read { r.readable } else { r.writable };
                    if !ok && !r.hangup {
                        let interest = if read {
                            Interest::Read
                        } else {
                            Interest::Write
                        };
                        sc.waits.push((id, interest));
                        continue;
                    }
                    let hup = if r.hangup {
                        eventrwflags::FD_READWRITE_HANGUP
                    } else {
                        0
                    };
                    sc.ready.push((ud, tag, r.nbytes, hup));
                }
            }
            if !sc.ready.is_empty() {
                for (k, &ev) in sc.ready.iter().enumerate() {
                    put(mem, events, k as u32, ev)?;
                }
                return mem.write(nevents, sc.ready.len() as u32);
            }
            if sc.waits.is_empty() {
                break;
            }
            let deadline = first_clock.map(|c| c.0);
            if let Some(d) = deadline {
                if host.now_ns(Clock::Monotonic) >= d {
                    break;
                }
            }
            let net = self.net.as_deref_mut().ok_or(errno::NOTCAPABLE)?;
            net.wait(&sc.waits, deadline);
        }
        let (deadline, ud) = first_clock.unwrap_or((0, 0));
        host.sleep_until(deadline);
        put(mem, events, 0, (ud, eventtype::CLOCK, 0, 0))?;
        mem.write(nevents, 1u32)
    }
}
