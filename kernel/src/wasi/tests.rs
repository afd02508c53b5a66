use super::*;
use crate::guest::GuestMemory;
use hako_abi::wasi::{fdflags, filetype, fstflags, oflags, rights};
use std::string::String;

#[derive(Default)]
pub(super) struct FakeHost {
    out: Vec<u8>,
    err: Vec<u8>,
    records: Vec<String>,
    stdin: Vec<u8>,
    /// Nanoseconds the monotonic clock advances at each reading (0: it stands still).
    pub(super) step: u64,
    /// Readings of the monotonic clock so far.
    readings: u64,
}

impl Host for FakeHost {
    fn write(&mut self, s: Stream, b: &[u8]) {
        match s {
            Stream::Stdout => self.out.extend_from_slice(b),
            Stream::Stderr => self.err.extend_from_slice(b),
        }
    }
    fn record(&mut self, line: fmt::Arguments<'_>) {
        self.records.push(std::format!("{line}"));
    }
    fn now_ns(&mut self, c: Clock) -> u64 {
        match c {
            Clock::Realtime => 1_700_000_000_000_000_000,
            _ => {
                self.readings += 1;
                1234 + (self.readings - 1) * self.step
            }
        }
    }
    fn resolution_ns(&mut self, _: Clock) -> u64 {
        1
    }
    fn entropy(&mut self) -> [u8; 32] {
        [7; 32]
    }
    fn exit(&mut self, status: u32) -> ! {
        panic!("exit {status}")
    }
    fn read_stdin(&mut self, buf: &mut [u8]) -> usize {
        let n = buf.len().min(self.stdin.len());
        buf[..n].copy_from_slice(&self.stdin[..n]);
        self.stdin.drain(..n);
        n
    }
    fn stdin_pending(&mut self) -> u64 {
        self.stdin.len() as u64
    }
    fn fail(&mut self, message: &str) -> ! {
        panic!("fail {message}")
    }
}

fn ctx() -> WasiCtx {
    WasiCtx::new(
        vec![b"prog".to_vec(), b"a b".to_vec()],
        vec![b"X=1".to_vec()],
    )
}

#[test]
fn args_and_env() {
    let mut buf = vec![0u8; 256];
    let mut m = GuestMemory::new(&mut buf);
    let mut c = ctx();
    c.args_sizes_get(&mut m, 0, 4).unwrap();
    assert_eq!(m.read::<u32>(0), Ok(2));
    assert_eq!(m.read::<u32>(4), Ok(9));
    c.args_get(&mut m, 16, 64).unwrap();
    assert_eq!(m.read::<u32>(16), Ok(64));
    assert_eq!(m.read::<u32>(20), Ok(69));
    assert_eq!(m.bytes(64, 9).unwrap(), b"prog\0a b\0");
    c.environ_sizes_get(&mut m, 0, 4).unwrap();
    assert_eq!((m.read::<u32>(0), m.read::<u32>(4)), (Ok(1), Ok(4)));
    c.environ_get(&mut m, 32, 100).unwrap();
    assert_eq!(m.bytes(100, 4).unwrap(), b"X=1\0");
    assert_eq!(c.args_get(&mut m, 16, 250), Err(errno::FAULT));
    assert_eq!(c.args_sizes_get(&mut m, 254, 0), Err(errno::FAULT));
}

#[test]
fn fd_write_stdout_stderr_and_faults() {
    let mut buf = vec![0u8; 128];
    buf[64..69].copy_from_slice(b"Hello");
    buf[70..76].copy_from_slice(b" world");
    let mut m = GuestMemory::new(&mut buf);
    for (i, v) in [64u32, 5, 70, 6].iter().enumerate() {
        m.write_elem(0, i as u32, *v).unwrap();
    }
    let mut h = FakeHost::default();
    let mut c = ctx();
    c.fd_write(&mut h, &mut m, 1, 0, 2, 32).unwrap();
    assert_eq!(h.out, b"Hello world");
    assert_eq!(m.read::<u32>(32), Ok(11));
    c.fd_write(&mut h, &mut m, 2, 0, 1, 32).unwrap();
    assert_eq!(h.err, b"Hello");
    assert_eq!(c.fd_write(&mut h, &mut m, 3, 0, 1, 32), Err(errno::BADF));
    assert_eq!(c.fd_write(&mut h, &mut m, 0, 0, 1, 32), Err(errno::BADF));
    // An iovec past the end writes nothing.
    m.write_elem(0, 3, 100u32).unwrap();
    assert_eq!(c.fd_write(&mut h, &mut m, 1, 0, 2, 32), Err(errno::FAULT));
    assert_eq!(h.out, b"Hello world");
    assert_eq!(c.fd_write(&mut h, &mut m, 1, 126, 1, 32), Err(errno::FAULT));
    c.fd_close(1).unwrap();
    assert_eq!(c.fd_write(&mut h, &mut m, 1, 0, 1, 32), Err(errno::BADF));
    assert_eq!(c.fd_close(1), Err(errno::BADF));
}

#[test]
fn fdstat_prestat_seek() {
    let mut buf = vec![0xffu8; 64];
    let mut m = GuestMemory::new(&mut buf);
    let mut c = ctx();
    c.fd_fdstat_get(&mut m, 1, 8).unwrap();
    assert_eq!(m.read::<u8>(8), Ok(filetype::UNKNOWN));
    assert_eq!(m.read::<u16>(10), Ok(fdflags::APPEND));
    assert_eq!(m.read::<u64>(16), Ok(rights::FD_WRITE));
    assert_eq!(m.read::<u64>(24), Ok(0));
    assert_eq!(c.fd_fdstat_get(&mut m, 3, 8), Err(errno::BADF));
    assert_eq!(c.fd_fdstat_get(&mut m, 1, 50), Err(errno::FAULT));
    for fd in 0..10 {
        assert_eq!(c.fd_prestat_get(&mut m, fd, 0), Err(errno::BADF));
    }
    assert_eq!(c.fd_seek(&mut m, 1, 0, 0, 0), Err(errno::SPIPE));
    assert_eq!(c.fd_seek(&mut m, 5, 0, 0, 0), Err(errno::BADF));
    assert_eq!(c.fd_tell(&mut m, 0, 0), Err(errno::SPIPE));
    let mut h = FakeHost::default();
    c.fd_read(&mut h, &mut m, 0, 0, 0, 4).unwrap();
    assert_eq!(m.read::<u32>(4), Ok(0));
}

#[test]
fn clocks_random_enosys() {
    let mut buf = vec![0u8; 64];
    let mut m = GuestMemory::new(&mut buf);
    let mut h = FakeHost::default();
    let mut c = ctx();
    c.clock_time_get(&mut h, &mut m, 0, 1, 8).unwrap();
    assert_eq!(m.read::<u64>(8), Ok(1_700_000_000_000_000_000));
    c.clock_time_get(&mut h, &mut m, 1, 1, 8).unwrap();
    assert_eq!(m.read::<u64>(8), Ok(1234));
    assert_eq!(c.clock_time_get(&mut h, &mut m, 4, 1, 8), Err(errno::INVAL));
    c.clock_res_get(&mut h, &mut m, 1, 16).unwrap();
    assert_eq!(m.read::<u64>(16), Ok(1));
    // Process and thread CPU time are supported (the program is the VM's only thread).
    assert_eq!(c.clock_res_get(&mut h, &mut m, 3, 16), Ok(()));
    assert_eq!(c.clock_time_get(&mut h, &mut m, 2, 1, 16), Ok(()));
    assert_eq!(
        c.clock_time_get(&mut h, &mut m, 4, 1, 16),
        Err(errno::INVAL)
    );
    c.random_get(&mut h, &mut m, 32, 32).unwrap();
    assert!(m.bytes(32, 32).unwrap().iter().any(|&b| b != 0));
    let first = m.bytes(32, 32).unwrap().to_vec();
    c.random_get(&mut h, &mut m, 32, 32).unwrap();
    assert_ne!(m.bytes(32, 32).unwrap(), &first[..]);
    assert_eq!(c.random_get(&mut h, &mut m, 60, 5), Err(errno::FAULT));
    assert_eq!(c.enosys(&mut h, "path_open"), errno::NOSYS);
    assert_eq!(c.enosys(&mut h, "path_open"), errno::NOSYS);
    assert_eq!(c.enosys(&mut h, "poll_oneoff"), errno::NOSYS);
    assert_eq!(
        h.records,
        vec![
            "enosys wasi_snapshot_preview1 path_open",
            "enosys wasi_snapshot_preview1 poll_oneoff"
        ]
    );
}

#[test]
fn sockets_are_never_sockets() {
    let mut buf = vec![0u8; 64];
    let mut m = GuestMemory::new(&mut buf);
    let mut c = ctx();
    let mut h = FakeHost::default();
    let h = &mut h;
    assert_eq!(c.sock_accept(h, &mut m, 1, 0, 60), Err(errno::NOTSOCK));
    assert_eq!(c.sock_accept(h, &mut m, 9, 0, 60), Err(errno::BADF));
    assert_eq!(c.sock_accept(h, &mut m, 1, 1 << 5, 60), Err(errno::INVAL));
    // One empty iovec at 0.
    assert_eq!(
        c.sock_recv(h, &mut m, 0, 0, 1, 3, 60, 60),
        Err(errno::NOTSOCK)
    );
    assert_eq!(
        c.sock_recv(h, &mut m, 0, 0, 1, 4, 60, 60),
        Err(errno::INVAL)
    );
    assert_eq!(
        c.sock_recv(h, &mut m, 0, 60, 1, 0, 60, 60),
        Err(errno::FAULT)
    );
    assert_eq!(c.sock_recv(h, &mut m, 9, 0, 1, 0, 60, 60), Err(errno::BADF));
    assert_eq!(c.sock_send(h, &mut m, 1, 0, 1, 0, 60), Err(errno::NOTSOCK));
    assert_eq!(
        c.sock_send(h, &mut m, 1, 0, u32::MAX, 0, 60),
        Err(errno::FAULT)
    );
    assert_eq!(c.sock_send(h, &mut m, 9, 0, 1, 0, 60), Err(errno::BADF));
    assert_eq!(c.sock_shutdown(2, 3), Err(errno::NOTSOCK));
    assert_eq!(c.sock_shutdown(2, 4), Err(errno::INVAL));
    assert_eq!(c.sock_shutdown(9, 1), Err(errno::BADF));
    assert_eq!(c.sched_yield(), Ok(()));
}

#[test]
#[should_panic(expected = "fail proc_raise unsupported")]
fn proc_raise_fails_the_program() {
    let mut h = FakeHost::default();
    let _ = ctx().proc_raise(&mut h, 2);
}

#[test]
#[should_panic(expected = "exit 7")]
fn proc_exit_records() {
    let mut h = FakeHost::default();
    ctx().proc_exit(&mut h, 7);
}

mod fs;
mod poll;
