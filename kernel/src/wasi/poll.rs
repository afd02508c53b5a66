//! `poll_oneoff`: clock subscriptions (relative, or absolute on the monotonic clock) wait
//! with [`Host::sleep_until`]; descriptor subscriptions are always ready
//! at once (stdin with the bytes still to come, a file with the bytes after its position),
//! and when there are any, the clocks are not waited for.

use super::{Clock, Entry, Host, WasiCtx, WasiResult};
use crate::guest::GuestMemory;
use alloc::vec::Vec;
use hako_abi::wasi::{clockid, errno, eventtype, subclockflags};

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
        let mut reads = Vec::new();
        let mut writes = Vec::new();
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
                    let nbytes = match self.entry(s.fd)? {
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
                    if tag == eventtype::FD_READ {
                        reads.push((s.userdata, nbytes));
                    } else {
                        writes.push((s.userdata, nbytes));
                    }
                }
            }
        }
        let mut k = 0;
        if !reads.is_empty() || !writes.is_empty() {
            for (ud, nb) in reads {
                put(mem, k, ud, 0, eventtype::FD_READ, nb)?;
                k += 1;
            }
            for (ud, nb) in writes {
                put(mem, k, ud, 0, eventtype::FD_WRITE, nb)?;
                k += 1;
            }
            return mem.write(nevents, k);
        }
        let (deadline, ud) = clocks.iter().copied().min_by_key(|c| c.0).unwrap_or((0, 0));
        host.sleep_until(deadline);
        put(mem, 0, ud, 0, eventtype::CLOCK, 0)?;
        mem.write(nevents, 1u32)
    }
}
