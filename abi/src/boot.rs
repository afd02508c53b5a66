//! The boot and exit protocol between the runner and the kernel.
//!
//! ## In: the kernel command line
//!
//! The runner passes the program's arguments and environment on the kernel command line
//! (QEMU `-append`, handed over in the PVH start info). The line is a list of tokens
//! separated by spaces; the kernel reads the tokens that start with [`ARG_KEY`] and
//! [`ENV_KEY`] (and [`PREOPEN_KEY`], [`STDIN_KEY`]) in order and ignores every other token (QEMU's
//! `microvm` appends its own `virtio_mmio.device=<size>@<address>:<irq>` entries, which
//! tell the kernel where its virtio-mmio devices are). Values are percent-encoded with [`percent_encode`], so
//! any byte string survives.
//!
//! ## Out: three serial ports and `isa-debug-exit`
//!
//! | port | what |
//! |---|---|
//! | COM1 ([`STDOUT_PORT`]) | the program's stdout, raw bytes |
//! | COM2 ([`STDERR_PORT`]) | the program's stderr, raw bytes |
//! | COM3 ([`HARNESS_PORT`]) | harness records, one per line (see [`record`]) |
//!
//! When the program is done the kernel writes [`EXIT_DONE`] to the `isa-debug-exit` port
//! ([`DEBUG_EXIT_PORT`]); the outcome (exit status or trap) is the last `exit` or `trap`
//! record on the harness channel. A kernel panic or an unexpected CPU exception writes a
//! `panic` record and exits with [`EXIT_PANIC`]. QEMU's own exit status is
//! `(value << 1) | 1`, see [`qemu_status`]; any other QEMU status (a reset, a kill) means the
//! guest crashed or hung.

/// I/O port of COM1: the program's stdout.
pub const STDOUT_PORT: u16 = 0x3f8;
/// I/O port of COM2: the program's stderr.
pub const STDERR_PORT: u16 = 0x2f8;
/// I/O port of COM3: harness records.
pub const HARNESS_PORT: u16 = 0x3e8;
/// I/O port of QEMU's `isa-debug-exit` device (`-device isa-debug-exit,iobase=0xf4,iosize=4`).
pub const DEBUG_EXIT_PORT: u16 = 0xf4;

/// Written to [`DEBUG_EXIT_PORT`] when the program finished (exited or trapped).
pub const EXIT_DONE: u32 = 0x10;
/// Written to [`DEBUG_EXIT_PORT`] after a kernel panic or an unexpected CPU exception.
pub const EXIT_PANIC: u32 = 0x11;

/// The exit status of the QEMU process after the guest wrote `value` to `isa-debug-exit`.
pub const fn qemu_status(value: u32) -> i32 {
    (((value << 1) | 1) & 0xff) as i32
}

/// Command-line key of one program argument (`argv[0]` included), in order.
pub const ARG_KEY: &str = "hako.arg=";
/// Command-line key of one environment variable `NAME=VALUE`, in order.
pub const ENV_KEY: &str = "hako.env=";
/// Command-line key of one preopened directory, in order (the first is fd 3):
/// `hako.preopen=<mount tag>:<guest path>`, the guest path percent-encoded. The directory
/// is a virtio-9p device (9P2000.L) with that mount tag; see [`preopen_mount_tag`].
pub const PREOPEN_KEY: &str = "hako.preopen=";

/// Command-line key of the length of the program's stdin, in decimal bytes:
/// `hako.stdin=<length>`. After QEMU connects to COM1 ([`STDOUT_PORT`], whose receive side
/// is stdin), the runner writes exactly that many bytes into it; the kernel reads them
/// (polling the UART) and then reports end of file. Without the key, stdin is empty (end of
/// file at once). A serial line has no end-of-file signal of its own, hence the length.
pub const STDIN_KEY: &str = "hako.stdin=";
/// `hako.invoke=<percent-encoded name>`: instead of `_start`, call `_initialize` when exported
/// and then this export (a WASI reactor, `hako run --invoke`), reporting its results as
/// [`record::RESULT`] records.
pub const INVOKE_KEY: &str = "hako.invoke=";
/// `hako.invoke-arg=<hex bits>`: the next argument of the invoked export, in order.
pub const INVOKE_ARG_KEY: &str = "hako.invoke-arg=";
/// `hako.umask=<octal>`: the invoking user's file-mode creation mask. Files and directories
/// the program creates in a preopened directory get mode `0o666 & !umask` and
/// `0o777 & !umask`, as a host process would (QEMU's 9p server sets the mode the guest asks
/// for exactly, without applying its own umask). Without the key, `0o022`.
pub const UMASK_KEY: &str = "hako.umask=";
/// `hako.net=<config>`: the program has a network (`hako run --net`): the kernel drives the
/// virtio-net device and configures its interface from `<config>`, either `dhcp` or
/// `<ipv4>/<prefix>,<gateway>,<dns>` (QEMU's user network: [`USER_NET`]). Without the key
/// the program has no network and the socket functions answer `NOTCAPABLE`.
pub const NET_KEY: &str = "hako.net=";
/// `hako.net6=<ipv6>/<prefix>,<gateway>`: a static IPv6 address as well (QEMU's user network
/// serves `fec0::/64`: [`USER_NET6`]).
pub const NET6_KEY: &str = "hako.net6=";
/// `hako.tcplisten=<ip>:<port>`: a listening TCP socket the kernel opens before the program
/// starts and hands it as a preopened descriptor, as Wasmtime's `--tcplisten` does (taken
/// with preview1's `sock_accept`). Repeatable; the sockets come before the preopened
/// directories, in order.
pub const TCPLISTEN_KEY: &str = "hako.tcplisten=";
/// The static configuration of QEMU's user network (slirp): the guest's address and prefix,
/// the gateway (which is also the host, for the guest) and the DNS resolver.
pub const USER_NET: &str = "10.0.2.15/24,10.0.2.2,10.0.2.3";
/// QEMU's user network for IPv6: the guest's address and prefix, and the gateway.
pub const USER_NET6: &str = "fec0::15/64,fec0::2";

/// The mask used when the command line has no [`UMASK_KEY`].
pub const DEFAULT_UMASK: u32 = 0o022;

/// The virtio-9p mount tag of preopen number `index` (`hako0`, `hako1`, ...).
pub fn preopen_mount_tag(index: usize) -> PreopenTag {
    PreopenTag(index)
}

/// Formats as `hako<index>`.
#[derive(Debug, Clone, Copy)]
pub struct PreopenTag(pub usize);

impl core::fmt::Display for PreopenTag {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "hako{}", self.0)
    }
}

/// Harness record formats. Each record is one line: a keyword, a space, and fields.
pub mod record {
    /// `exit <status>`: the program ended with this WASI exit status.
    pub const EXIT: &str = "exit";
    /// `trap <code> <message>`: the program trapped ([`crate::trap::TrapCode`] number and message).
    pub const TRAP: &str = "trap";
    /// `enosys <module> <name>`: the program called an import the kernel does not implement
    /// (first call of each).
    pub const ENOSYS: &str = "enosys";
    /// `unresolved <module> <name>`: an import nothing provides, seen at instantiation.
    pub const UNRESOLVED: &str = "unresolved";
    /// `error <message>`: the kernel could not instantiate or start the program.
    pub const ERROR: &str = "error";
    /// `bench start <ns>` / `bench end <ns>`: the program called the `bench.start` /
    /// `bench.end` import (Sightglass benchmarks), at this monotonic time in nanoseconds.
    pub const BENCH: &str = "bench";
    /// `panic <message>`: a kernel panic or an unexpected CPU exception.
    pub const PANIC: &str = "panic";
    /// `stdin`: the program is about to read stdin; the runner starts sending the
    /// [`crate::boot::STDIN_KEY`] bytes on COM1 now (bytes sent before the kernel set up the
    /// UART would be lost).
    pub const STDIN: &str = "stdin";
    /// `result <type> <bits>` (both hex; the type as in [`crate::valtype`]): one result of
    /// an invoked export, in order, before its `exit 0`.
    pub const RESULT: &str = "result";
}

fn is_plain(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'/' | b':' | b',' | b'+')
}

/// Percent-encode `src` so it contains no space, `%`, `=` or non-printable byte.
pub fn percent_encode(src: &[u8], out: &mut impl core::fmt::Write) -> core::fmt::Result {
    for &b in src {
        if is_plain(b) {
            out.write_char(b as char)?;
        } else {
            write!(out, "%{b:02X}")?;
        }
    }
    Ok(())
}

/// A malformed percent-encoded value (a `%` not followed by two hex digits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadEncoding {
    /// Byte offset of the bad `%`.
    pub offset: usize,
}

/// Decode what [`percent_encode`] produced, handing each byte to `out`.
pub fn percent_decode(src: &[u8], mut out: impl FnMut(u8)) -> Result<(), BadEncoding> {
    fn hex(b: u8) -> Option<u8> {
        match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            b'A'..=b'F' => Some(b - b'A' + 10),
            _ => None,
        }
    }
    let mut i = 0;
    while i < src.len() {
        if src[i] == b'%' {
            let hi = src.get(i + 1).copied().and_then(hex);
            let lo = src.get(i + 2).copied().and_then(hex);
            match (hi, lo) {
                (Some(h), Some(l)) => out(h << 4 | l),
                _ => return Err(BadEncoding { offset: i }),
            }
            i += 3;
        } else {
            out(src[i]);
            i += 1;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::{string::String, vec::Vec};

    #[test]
    fn percent_round_trip_all_bytes() {
        let all: Vec<u8> = (0..=255).collect();
        let mut enc = String::new();
        percent_encode(&all, &mut enc).unwrap();
        assert!(!enc.contains(' ') && !enc.contains('='));
        let mut dec = Vec::new();
        percent_decode(enc.as_bytes(), |b| dec.push(b)).unwrap();
        assert_eq!(dec, all);
    }

    #[test]
    fn percent_decode_rejects_truncated() {
        assert_eq!(
            percent_decode(b"ab%4", |_| {}),
            Err(BadEncoding { offset: 2 })
        );
        assert_eq!(
            percent_decode(b"%zz", |_| {}),
            Err(BadEncoding { offset: 0 })
        );
    }

    #[test]
    fn qemu_status_matches_isa_debug_exit() {
        assert_eq!(qemu_status(EXIT_DONE), 33);
        assert_eq!(qemu_status(EXIT_PANIC), 35);
    }
}
