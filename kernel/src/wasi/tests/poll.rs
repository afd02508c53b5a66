//! `poll_oneoff` against the fake host: what clock subscriptions wait for (relative,
//! absolute, the earliest of several), that descriptor subscriptions are answered at once
//! without waiting, and the checks of the subscription array.

use super::*;
use hako_abi::wasi::{clockid, eventtype, subclockflags};

/// Where the subscriptions (48 bytes each), the events (32 bytes each) and the event count
/// go in guest memory.
const SUBS: u32 = 0;
const EVENTS: u32 = 512;
const NEVENTS: u32 = 1020;

fn clock_sub(m: &mut GuestMemory, i: u32, userdata: u64, id: u32, timeout: u64, flags: u16) {
    let s = SUBS + 48 * i;
    m.write(s, userdata).unwrap();
    m.write(s + 8, eventtype::CLOCK).unwrap();
    m.write(s + 16, id).unwrap();
    m.write(s + 24, timeout).unwrap();
    m.write(s + 40, flags).unwrap();
}

fn fd_sub(m: &mut GuestMemory, i: u32, userdata: u64, tag: u8, fd: u32) {
    let s = SUBS + 48 * i;
    m.write(s, userdata).unwrap();
    m.write(s + 8, tag).unwrap();
    m.write(s + 16, fd).unwrap();
}

/// Event `k`: userdata, error, type, bytes available.
fn event(m: &GuestMemory, k: u32) -> (u64, u16, u8, u64) {
    let e = EVENTS + 32 * k;
    (
        m.read(e).unwrap(),
        m.read(e + 8).unwrap(),
        m.read(e + 10).unwrap(),
        m.read(e + 16).unwrap(),
    )
}

fn poll(h: &mut FakeHost, m: &mut GuestMemory, n: u32) -> Result<u32, Errno> {
    ctx().poll_oneoff(h, m, SUBS, EVENTS, n, NEVENTS)?;
    Ok(m.read::<u32>(NEVENTS).unwrap())
}

#[test]
fn a_relative_clock_waits_for_its_timeout() {
    let mut buf = vec![0u8; 1024];
    let mut m = GuestMemory::new(&mut buf);
    let mut h = FakeHost {
        step: 100,
        ..FakeHost::default()
    };
    clock_sub(&mut m, 0, 42, clockid::MONOTONIC, 1000, 0);
    assert_eq!(poll(&mut h, &mut m, 1), Ok(1));
    assert_eq!(event(&m, 0), (42, 0, eventtype::CLOCK, 0));
    // Started at the first reading; the last one was at or past start + timeout.
    assert!((h.readings - 1) * h.step >= 1000, "{}", h.readings);
    assert!((h.readings - 2) * h.step < 1000, "{}", h.readings);
}

#[test]
fn several_clocks_wait_for_the_earliest() {
    let mut buf = vec![0u8; 1024];
    let mut m = GuestMemory::new(&mut buf);
    let mut h = FakeHost {
        step: 10,
        ..FakeHost::default()
    };
    let abstime = subclockflags::SUBSCRIPTION_CLOCK_ABSTIME;
    clock_sub(&mut m, 0, 1, clockid::REALTIME, 5000, 0);
    clock_sub(&mut m, 1, 2, clockid::MONOTONIC, 1234 + 300, abstime);
    clock_sub(&mut m, 2, 3, clockid::MONOTONIC, 4000, 0);
    assert_eq!(poll(&mut h, &mut m, 3), Ok(1));
    assert_eq!(event(&m, 0), (2, 0, eventtype::CLOCK, 0));
    assert!((h.readings - 1) * h.step >= 300);
    assert!((h.readings - 1) * h.step < 4000);
}

#[test]
fn descriptors_are_ready_at_once_and_clocks_are_not_waited_for() {
    let mut buf = vec![0u8; 1024];
    let mut m = GuestMemory::new(&mut buf);
    let mut h = FakeHost {
        stdin: b"hello".to_vec(),
        step: 1,
        ..FakeHost::default()
    };
    clock_sub(&mut m, 0, 7, clockid::MONOTONIC, 1 << 40, 0);
    fd_sub(&mut m, 1, 8, eventtype::FD_WRITE, 1);
    fd_sub(&mut m, 2, 9, eventtype::FD_READ, 0);
    assert_eq!(poll(&mut h, &mut m, 3), Ok(2));
    // Reads first, then writes.
    assert_eq!(event(&m, 0), (9, 0, eventtype::FD_READ, 5));
    assert_eq!(event(&m, 1), (8, 0, eventtype::FD_WRITE, 0));
    assert!(h.readings <= 1, "{}", h.readings);
}

#[test]
fn bad_subscriptions() {
    let mut buf = vec![0u8; 1024];
    let mut m = GuestMemory::new(&mut buf);
    let mut h = FakeHost::default();
    let abstime = subclockflags::SUBSCRIPTION_CLOCK_ABSTIME;
    fd_sub(&mut m, 0, 0, 3, 0);
    assert_eq!(poll(&mut h, &mut m, 1), Err(errno::INVAL));
    clock_sub(&mut m, 0, 0, clockid::MONOTONIC, 0, 2);
    assert_eq!(poll(&mut h, &mut m, 1), Err(errno::INVAL));
    clock_sub(&mut m, 0, 0, 4, 0, 0);
    assert_eq!(poll(&mut h, &mut m, 1), Err(errno::INVAL));
    // Absolute realtime deadlines are not supported; the CPU-time clocks cannot be waited on.
    clock_sub(&mut m, 0, 0, clockid::REALTIME, 0, abstime);
    assert_eq!(poll(&mut h, &mut m, 1), Err(errno::NOTSUP));
    clock_sub(&mut m, 0, 0, clockid::MONOTONIC, 0, 0);
    clock_sub(&mut m, 1, 0, clockid::PROCESS_CPUTIME_ID, 0, 0);
    assert_eq!(poll(&mut h, &mut m, 2), Err(errno::INVAL));
    // A relative timeout that overflows the clock.
    clock_sub(&mut m, 1, 0, clockid::MONOTONIC, u64::MAX, 0);
    assert_eq!(poll(&mut h, &mut m, 2), Err(errno::OVERFLOW));
    fd_sub(&mut m, 0, 0, eventtype::FD_READ, 9);
    assert_eq!(poll(&mut h, &mut m, 1), Err(errno::BADF));
    // The subscriptions must fit in memory; there must be at least one.
    assert_eq!(
        ctx().poll_oneoff(&mut h, &mut m, 1000, EVENTS, 1, NEVENTS),
        Err(errno::FAULT)
    );
    assert_eq!(
        ctx().poll_oneoff(&mut h, &mut m, SUBS, EVENTS, 0, NEVENTS),
        Err(errno::INVAL)
    );
}
