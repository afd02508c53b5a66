//! The 46 functions of `wasi_snapshot_preview1` and how they are linked, and the constants
//! of its types (errno values, rights, file types, flags, ...), one module per type.
//!
//! An import whose module is [`MODULE`] and whose name and core signature match an entry of
//! [`FUNCTIONS`] is compiled as a direct call to the undefined symbol
//! [`symbol`]`(name)` (`wasi_snapshot_preview1__fd_write`, ...), with the caller's
//! `*mut VmContext` as first argument; the kernel defines all 46. Any other import, including
//! a WASI name with the wrong signature, goes through the instance's import slot and is
//! resolved by the kernel at instantiation.

use crate::valtype::{I32, I64};

pub const MODULE: &str = "wasi_snapshot_preview1";

/// A WASI function: its import name, core signature, and the name of its definition
/// (`symbol`): the same as `name` but for the socket functions whose WasmEdge V1 and V2 forms
/// share an import name (see [`SOCKETS`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WasiFunction {
    pub name: &'static str,
    pub params: &'static [u8],
    pub results: &'static [u8],
    pub symbol: &'static str,
}

const fn f(name: &'static str, params: &'static [u8], results: &'static [u8]) -> WasiFunction {
    WasiFunction {
        name,
        params,
        results,
        symbol: name,
    }
}

/// A WasmEdge socket function imported as `name` with `n` `i32` parameters, defined by
/// `symbol`.
const fn s(name: &'static str, n: usize, symbol: &'static str) -> WasiFunction {
    const I32S: [u8; 9] = [I32; 9];
    WasiFunction {
        name,
        params: I32S.split_at(n).0,
        results: R,
        symbol,
    }
}

const R: &[u8] = &[I32];

/// All of `wasi_snapshot_preview1`, alphabetically.
pub const FUNCTIONS: [WasiFunction; 46] = [
    f("args_get", &[I32, I32], R),
    f("args_sizes_get", &[I32, I32], R),
    f("clock_res_get", &[I32, I32], R),
    f("clock_time_get", &[I32, I64, I32], R),
    f("environ_get", &[I32, I32], R),
    f("environ_sizes_get", &[I32, I32], R),
    f("fd_advise", &[I32, I64, I64, I32], R),
    f("fd_allocate", &[I32, I64, I64], R),
    f("fd_close", &[I32], R),
    f("fd_datasync", &[I32], R),
    f("fd_fdstat_get", &[I32, I32], R),
    f("fd_fdstat_set_flags", &[I32, I32], R),
    f("fd_fdstat_set_rights", &[I32, I64, I64], R),
    f("fd_filestat_get", &[I32, I32], R),
    f("fd_filestat_set_size", &[I32, I64], R),
    f("fd_filestat_set_times", &[I32, I64, I64, I32], R),
    f("fd_pread", &[I32, I32, I32, I64, I32], R),
    f("fd_prestat_dir_name", &[I32, I32, I32], R),
    f("fd_prestat_get", &[I32, I32], R),
    f("fd_pwrite", &[I32, I32, I32, I64, I32], R),
    f("fd_read", &[I32, I32, I32, I32], R),
    f("fd_readdir", &[I32, I32, I32, I64, I32], R),
    f("fd_renumber", &[I32, I32], R),
    f("fd_seek", &[I32, I64, I32, I32], R),
    f("fd_sync", &[I32], R),
    f("fd_tell", &[I32, I32], R),
    f("fd_write", &[I32, I32, I32, I32], R),
    f("path_create_directory", &[I32, I32, I32], R),
    f("path_filestat_get", &[I32, I32, I32, I32, I32], R),
    f(
        "path_filestat_set_times",
        &[I32, I32, I32, I32, I64, I64, I32],
        R,
    ),
    f("path_link", &[I32, I32, I32, I32, I32, I32, I32], R),
    f(
        "path_open",
        &[I32, I32, I32, I32, I32, I64, I64, I32, I32],
        R,
    ),
    f("path_readlink", &[I32, I32, I32, I32, I32, I32], R),
    f("path_remove_directory", &[I32, I32, I32], R),
    f("path_rename", &[I32, I32, I32, I32, I32, I32], R),
    f("path_symlink", &[I32, I32, I32, I32, I32], R),
    f("path_unlink_file", &[I32, I32, I32], R),
    f("poll_oneoff", &[I32, I32, I32, I32], R),
    f("proc_exit", &[I32], &[]),
    f("proc_raise", &[I32], R),
    f("random_get", &[I32, I32], R),
    f("sched_yield", &[], R),
    f("sock_accept", &[I32, I32, I32], R),
    f("sock_recv", &[I32, I32, I32, I32, I32, I32], R),
    f("sock_send", &[I32, I32, I32, I32, I32], R),
    f("sock_shutdown", &[I32, I32], R),
];

/// The WasmEdge socket ABI: the de-facto socket extension of `wasi_snapshot_preview1`
/// (WasmEdge's `lib/host/wasi/wasimodule.cpp`; the guest side is the `wasmedge_wasi_socket`
/// crate). WasmEdge registers a V1 and a V2 form of several functions; an import named
/// without `_v2` gets V1 unless its signature is V2's. Where the two forms differ only in
/// which address buffers they accept (4 or 16 bytes in V1, also 128 bytes of `family: u16le`
/// then the address in V2) hako defines one function that accepts all three, so both
/// names share a symbol. The forms with other signatures have symbols of their own:
/// `sock_accept` with two parameters (no flags), `sock_recv_from` with seven (no port
/// out-parameter: the address buffer receives `family: u16le` then the address) and
/// `sock_getlocaladdr`/`sock_getpeeraddr` with four (a separate address-type out-parameter,
/// 4 or 6). Preview1's own `sock_accept`, `sock_recv`, `sock_send` and `sock_shutdown` are
/// in [`FUNCTIONS`] and serve as the V2 forms.
pub const SOCKETS: [WasiFunction; 25] = [
    s("sock_open", 3, "sock_open"),
    s("sock_open_v2", 3, "sock_open"),
    s("sock_bind", 3, "sock_bind"),
    s("sock_bind_v2", 3, "sock_bind"),
    s("sock_connect", 3, "sock_connect"),
    s("sock_connect_v2", 3, "sock_connect"),
    s("sock_listen", 2, "sock_listen"),
    s("sock_listen_v2", 2, "sock_listen"),
    s("sock_accept", 2, "sock_accept_v1"),
    s("sock_accept_v2", 3, "sock_accept"),
    s("sock_recv_v2", 6, "sock_recv"),
    s("sock_send_v2", 5, "sock_send"),
    s("sock_recv_from", 7, "sock_recv_from_v1"),
    s("sock_recv_from", 8, "sock_recv_from"),
    s("sock_recv_from_v2", 8, "sock_recv_from"),
    s("sock_send_to", 7, "sock_send_to"),
    s("sock_send_to_v2", 7, "sock_send_to"),
    s("sock_getlocaladdr", 4, "sock_getlocaladdr_v1"),
    s("sock_getlocaladdr", 3, "sock_getlocaladdr"),
    s("sock_getlocaladdr_v2", 3, "sock_getlocaladdr"),
    s("sock_getpeeraddr", 4, "sock_getpeeraddr_v1"),
    s("sock_getpeeraddr", 3, "sock_getpeeraddr"),
    s("sock_getpeeraddr_v2", 3, "sock_getpeeraddr"),
    s("sock_getsockopt", 5, "sock_getsockopt"),
    s("sock_setsockopt", 5, "sock_setsockopt"),
];

/// `sock_getaddrinfo`, kept apart from [`SOCKETS`] because of its arity: 8 parameters.
pub const GETADDRINFO: WasiFunction = s("sock_getaddrinfo", 8, "sock_getaddrinfo");

/// Every symbol a WASI function is defined by, each once: the 46 of [`FUNCTIONS`] and the
/// socket functions' own.
pub fn symbols() -> impl Iterator<Item = &'static str> {
    let mut extra: [&str; 15] = [""; 15];
    let mut n = 0;
    for f in SOCKETS.iter().chain(core::iter::once(&GETADDRINFO)) {
        let known =
            FUNCTIONS.iter().any(|g| g.symbol == f.symbol) || extra[..n].contains(&f.symbol);
        if !known {
            extra[n] = f.symbol;
            n += 1;
        }
    }
    FUNCTIONS
        .iter()
        .map(|f| f.symbol)
        .chain(extra.into_iter().take(n))
}

/// The WASI function `name` with this exact signature, if there is one.
pub fn lookup(
    module: &str,
    name: &str,
    params: &[u8],
    results: &[u8],
) -> Option<&'static WasiFunction> {
    if module != MODULE {
        return None;
    }
    FUNCTIONS
        .iter()
        .chain(SOCKETS.iter())
        .chain(core::iter::once(&GETADDRINFO))
        .find(|f| f.name == name && f.params == params && f.results == results)
}

/// Formats as the link symbol of a WASI function: `wasi_snapshot_preview1__<name>`.
#[derive(Debug, Clone, Copy)]
pub struct Symbol<'a>(pub &'a str);

impl core::fmt::Display for Symbol<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{MODULE}__{}", self.0)
    }
}

/// The link symbol of WASI function `name`.
pub fn symbol(name: &str) -> Symbol<'_> {
    Symbol(name)
}

// ----- the constants of the WASI types ---------------------------------------------------
//
// One module per type of `wasi_snapshot_preview1`, each constant named and valued as in its
// witx definition (wasi-libc's `wasi/api.h` without the `__WASI_<TYPE>_` prefix), with the
// type's width. For the bit-flag types, `ALL` is the set of defined bits.

/// Error codes returned by functions (`errno`).
pub mod errno {
    pub const SUCCESS: u16 = 0;
    pub const TOOBIG: u16 = 1;
    pub const ACCES: u16 = 2;
    pub const ADDRINUSE: u16 = 3;
    pub const ADDRNOTAVAIL: u16 = 4;
    pub const AFNOSUPPORT: u16 = 5;
    pub const AGAIN: u16 = 6;
    pub const ALREADY: u16 = 7;
    pub const BADF: u16 = 8;
    pub const BADMSG: u16 = 9;
    pub const BUSY: u16 = 10;
    pub const CANCELED: u16 = 11;
    pub const CHILD: u16 = 12;
    pub const CONNABORTED: u16 = 13;
    pub const CONNREFUSED: u16 = 14;
    pub const CONNRESET: u16 = 15;
    pub const DEADLK: u16 = 16;
    pub const DESTADDRREQ: u16 = 17;
    pub const DOM: u16 = 18;
    pub const DQUOT: u16 = 19;
    pub const EXIST: u16 = 20;
    pub const FAULT: u16 = 21;
    pub const FBIG: u16 = 22;
    pub const HOSTUNREACH: u16 = 23;
    pub const IDRM: u16 = 24;
    pub const ILSEQ: u16 = 25;
    pub const INPROGRESS: u16 = 26;
    pub const INTR: u16 = 27;
    pub const INVAL: u16 = 28;
    pub const IO: u16 = 29;
    pub const ISCONN: u16 = 30;
    pub const ISDIR: u16 = 31;
    pub const LOOP: u16 = 32;
    pub const MFILE: u16 = 33;
    pub const MLINK: u16 = 34;
    pub const MSGSIZE: u16 = 35;
    pub const MULTIHOP: u16 = 36;
    pub const NAMETOOLONG: u16 = 37;
    pub const NETDOWN: u16 = 38;
    pub const NETRESET: u16 = 39;
    pub const NETUNREACH: u16 = 40;
    pub const NFILE: u16 = 41;
    pub const NOBUFS: u16 = 42;
    pub const NODEV: u16 = 43;
    pub const NOENT: u16 = 44;
    pub const NOEXEC: u16 = 45;
    pub const NOLCK: u16 = 46;
    pub const NOLINK: u16 = 47;
    pub const NOMEM: u16 = 48;
    pub const NOMSG: u16 = 49;
    pub const NOPROTOOPT: u16 = 50;
    pub const NOSPC: u16 = 51;
    pub const NOSYS: u16 = 52;
    pub const NOTCONN: u16 = 53;
    pub const NOTDIR: u16 = 54;
    pub const NOTEMPTY: u16 = 55;
    pub const NOTRECOVERABLE: u16 = 56;
    pub const NOTSOCK: u16 = 57;
    pub const NOTSUP: u16 = 58;
    pub const NOTTY: u16 = 59;
    pub const NXIO: u16 = 60;
    pub const OVERFLOW: u16 = 61;
    pub const OWNERDEAD: u16 = 62;
    pub const PERM: u16 = 63;
    pub const PIPE: u16 = 64;
    pub const PROTO: u16 = 65;
    pub const PROTONOSUPPORT: u16 = 66;
    pub const PROTOTYPE: u16 = 67;
    pub const RANGE: u16 = 68;
    pub const ROFS: u16 = 69;
    pub const SPIPE: u16 = 70;
    pub const SRCH: u16 = 71;
    pub const STALE: u16 = 72;
    pub const TIMEDOUT: u16 = 73;
    pub const TXTBSY: u16 = 74;
    pub const XDEV: u16 = 75;
    pub const NOTCAPABLE: u16 = 76;
}

/// File descriptor rights, determining which actions may be performed (`rights`).
pub mod rights {
    pub const FD_DATASYNC: u64 = 1 << 0;
    pub const FD_READ: u64 = 1 << 1;
    pub const FD_SEEK: u64 = 1 << 2;
    pub const FD_FDSTAT_SET_FLAGS: u64 = 1 << 3;
    pub const FD_SYNC: u64 = 1 << 4;
    pub const FD_TELL: u64 = 1 << 5;
    pub const FD_WRITE: u64 = 1 << 6;
    pub const FD_ADVISE: u64 = 1 << 7;
    pub const FD_ALLOCATE: u64 = 1 << 8;
    pub const PATH_CREATE_DIRECTORY: u64 = 1 << 9;
    pub const PATH_CREATE_FILE: u64 = 1 << 10;
    pub const PATH_LINK_SOURCE: u64 = 1 << 11;
    pub const PATH_LINK_TARGET: u64 = 1 << 12;
    pub const PATH_OPEN: u64 = 1 << 13;
    pub const FD_READDIR: u64 = 1 << 14;
    pub const PATH_READLINK: u64 = 1 << 15;
    pub const PATH_RENAME_SOURCE: u64 = 1 << 16;
    pub const PATH_RENAME_TARGET: u64 = 1 << 17;
    pub const PATH_FILESTAT_GET: u64 = 1 << 18;
    pub const PATH_FILESTAT_SET_SIZE: u64 = 1 << 19;
    pub const PATH_FILESTAT_SET_TIMES: u64 = 1 << 20;
    pub const FD_FILESTAT_GET: u64 = 1 << 21;
    pub const FD_FILESTAT_SET_SIZE: u64 = 1 << 22;
    pub const FD_FILESTAT_SET_TIMES: u64 = 1 << 23;
    pub const PATH_SYMLINK: u64 = 1 << 24;
    pub const PATH_REMOVE_DIRECTORY: u64 = 1 << 25;
    pub const PATH_UNLINK_FILE: u64 = 1 << 26;
    pub const POLL_FD_READWRITE: u64 = 1 << 27;
    pub const SOCK_SHUTDOWN: u64 = 1 << 28;
    pub const SOCK_ACCEPT: u64 = 1 << 29;
    /// Every defined flag.
    pub const ALL: u64 = FD_DATASYNC
        | FD_READ
        | FD_SEEK
        | FD_FDSTAT_SET_FLAGS
        | FD_SYNC
        | FD_TELL
        | FD_WRITE
        | FD_ADVISE
        | FD_ALLOCATE
        | PATH_CREATE_DIRECTORY
        | PATH_CREATE_FILE
        | PATH_LINK_SOURCE
        | PATH_LINK_TARGET
        | PATH_OPEN
        | FD_READDIR
        | PATH_READLINK
        | PATH_RENAME_SOURCE
        | PATH_RENAME_TARGET
        | PATH_FILESTAT_GET
        | PATH_FILESTAT_SET_SIZE
        | PATH_FILESTAT_SET_TIMES
        | FD_FILESTAT_GET
        | FD_FILESTAT_SET_SIZE
        | FD_FILESTAT_SET_TIMES
        | PATH_SYMLINK
        | PATH_REMOVE_DIRECTORY
        | PATH_UNLINK_FILE
        | POLL_FD_READWRITE
        | SOCK_SHUTDOWN
        | SOCK_ACCEPT;
}

/// The type of a file descriptor or file (`filetype`).
pub mod filetype {
    pub const UNKNOWN: u8 = 0;
    pub const BLOCK_DEVICE: u8 = 1;
    pub const CHARACTER_DEVICE: u8 = 2;
    pub const DIRECTORY: u8 = 3;
    pub const REGULAR_FILE: u8 = 4;
    pub const SOCKET_DGRAM: u8 = 5;
    pub const SOCKET_STREAM: u8 = 6;
    pub const SYMBOLIC_LINK: u8 = 7;
}

/// File descriptor flags (`fdflags`).
pub mod fdflags {
    pub const APPEND: u16 = 1 << 0;
    pub const DSYNC: u16 = 1 << 1;
    pub const NONBLOCK: u16 = 1 << 2;
    pub const RSYNC: u16 = 1 << 3;
    pub const SYNC: u16 = 1 << 4;
    /// Every defined flag.
    pub const ALL: u16 = APPEND | DSYNC | NONBLOCK | RSYNC | SYNC;
}

/// Open flags used by `path_open` (`oflags`).
pub mod oflags {
    pub const CREAT: u16 = 1 << 0;
    pub const DIRECTORY: u16 = 1 << 1;
    pub const EXCL: u16 = 1 << 2;
    pub const TRUNC: u16 = 1 << 3;
    /// Every defined flag.
    pub const ALL: u16 = CREAT | DIRECTORY | EXCL | TRUNC;
}

/// Flags determining the method of how paths are resolved (`lookupflags`).
pub mod lookupflags {
    pub const SYMLINK_FOLLOW: u32 = 1 << 0;
    /// Every defined flag.
    pub const ALL: u32 = SYMLINK_FOLLOW;
}

/// Which file time attributes to adjust (`fstflags`).
pub mod fstflags {
    pub const ATIM: u16 = 1 << 0;
    pub const ATIM_NOW: u16 = 1 << 1;
    pub const MTIM: u16 = 1 << 2;
    pub const MTIM_NOW: u16 = 1 << 3;
    /// Every defined flag.
    pub const ALL: u16 = ATIM | ATIM_NOW | MTIM | MTIM_NOW;
}

/// The position relative to which to set the offset of the file descriptor (`whence`).
pub mod whence {
    pub const SET: u8 = 0;
    pub const CUR: u8 = 1;
    pub const END: u8 = 2;
}

/// File or memory access pattern advisory information (`advice`).
pub mod advice {
    pub const NORMAL: u8 = 0;
    pub const SEQUENTIAL: u8 = 1;
    pub const RANDOM: u8 = 2;
    pub const WILLNEED: u8 = 3;
    pub const DONTNEED: u8 = 4;
    pub const NOREUSE: u8 = 5;
}

/// Identifiers for clocks (`clockid`).
pub mod clockid {
    pub const REALTIME: u32 = 0;
    pub const MONOTONIC: u32 = 1;
    pub const PROCESS_CPUTIME_ID: u32 = 2;
    pub const THREAD_CPUTIME_ID: u32 = 3;
}

/// Type of a subscription to an event or its occurrence (`eventtype`).
pub mod eventtype {
    pub const CLOCK: u8 = 0;
    pub const FD_READ: u8 = 1;
    pub const FD_WRITE: u8 = 2;
}

/// The state of the file descriptor subscribed to with `eventtype::FD_READ` or `eventtype::FD_WRITE` (`eventrwflags`).
pub mod eventrwflags {
    pub const FD_READWRITE_HANGUP: u16 = 1 << 0;
}

/// Flags determining how to interpret the timestamp provided in a clock subscription (`subclockflags`).
pub mod subclockflags {
    pub const SUBSCRIPTION_CLOCK_ABSTIME: u16 = 1 << 0;
    /// Every defined flag.
    pub const ALL: u16 = SUBSCRIPTION_CLOCK_ABSTIME;
}

/// Flags provided to `sock_recv` (`riflags`).
pub mod riflags {
    pub const RECV_PEEK: u16 = 1 << 0;
    pub const RECV_WAITALL: u16 = 1 << 1;
    /// Every defined flag.
    pub const ALL: u16 = RECV_PEEK | RECV_WAITALL;
}

/// Flags returned by `sock_recv` (`roflags`).
pub mod roflags {
    pub const RECV_DATA_TRUNCATED: u16 = 1 << 0;
}

/// Which channels on a socket to shut down (`sdflags`).
pub mod sdflags {
    pub const RD: u8 = 1 << 0;
    pub const WR: u8 = 1 << 1;
    /// Every defined flag.
    pub const ALL: u8 = RD | WR;
}

// ----- the WasmEdge socket ABI's types (`thirdparty/wasi/api.hpp` in WasmEdge) ----------

/// Address families (`__wasi_address_family_t`, one byte; a `u16` in address storage).
pub mod address_family {
    pub const UNSPEC: u8 = 0;
    pub const INET4: u8 = 1;
    pub const INET6: u8 = 2;
    pub const AF_UNIX: u8 = 3;
}

/// Socket types (`__wasi_sock_type_t`).
pub mod sock_type {
    pub const ANY: u8 = 0;
    pub const DGRAM: u8 = 1;
    pub const STREAM: u8 = 2;
}

/// `sock_getsockopt`/`sock_setsockopt` levels (`__wasi_sock_opt_level_t`).
pub mod sock_opt_level {
    pub const SOL_SOCKET: u32 = 0;
}

/// `sock_getsockopt`/`sock_setsockopt` option names at `SOL_SOCKET` (`__wasi_sock_opt_so_t`).
pub mod sock_opt {
    pub const REUSEADDR: u32 = 0;
    pub const TYPE: u32 = 1;
    pub const ERROR: u32 = 2;
    pub const DONTROUTE: u32 = 3;
    pub const BROADCAST: u32 = 4;
    pub const SNDBUF: u32 = 5;
    pub const RCVBUF: u32 = 6;
    pub const KEEPALIVE: u32 = 7;
    pub const OOBINLINE: u32 = 8;
    pub const LINGER: u32 = 9;
    pub const RCVLOWAT: u32 = 10;
    pub const RCVTIMEO: u32 = 11;
    pub const SNDTIMEO: u32 = 12;
    pub const ACCEPTCONN: u32 = 13;
    pub const BINDTODEVICE: u32 = 14;
}

/// Flags of `sock_getaddrinfo` hints (`__wasi_aiflags_t`).
pub mod aiflags {
    pub const PASSIVE: u16 = 1 << 0;
    pub const CANONNAME: u16 = 1 << 1;
    pub const NUMERICHOST: u16 = 1 << 2;
    pub const NUMERICSERV: u16 = 1 << 3;
    pub const V4MAPPED: u16 = 1 << 4;
    pub const ALL: u16 = 1 << 5;
    pub const ADDRCONFIG: u16 = 1 << 6;
}

/// Protocols of `sock_getaddrinfo` (`__wasi_protocol_t`).
pub mod protocol {
    pub const IP: u8 = 0;
    pub const TCP: u8 = 1;
    pub const UDP: u8 = 2;
}

/// Identifiers for preopened capabilities (`preopentype`).
pub mod preopentype {
    pub const DIR: u8 = 0;
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::ToString;

    #[test]
    fn forty_six_sorted_unique() {
        for w in FUNCTIONS.windows(2) {
            assert!(w[0].name < w[1].name, "{} / {}", w[0].name, w[1].name);
        }
    }

    #[test]
    fn socket_forms() {
        use crate::valtype::I32;
        let v1 = lookup(MODULE, "sock_accept", &[I32, I32], &[I32]).unwrap();
        assert_eq!(v1.symbol, "sock_accept_v1");
        let p1 = lookup(MODULE, "sock_accept", &[I32, I32, I32], &[I32]).unwrap();
        assert_eq!(p1.symbol, "sock_accept");
        assert_eq!(
            lookup(MODULE, "sock_accept_v2", &[I32; 3], &[I32])
                .unwrap()
                .symbol,
            "sock_accept"
        );
        assert_eq!(
            lookup(MODULE, "sock_recv_from", &[I32; 7], &[I32])
                .unwrap()
                .symbol,
            "sock_recv_from_v1"
        );
        assert_eq!(
            lookup(MODULE, "sock_recv_from", &[I32; 8], &[I32])
                .unwrap()
                .symbol,
            "sock_recv_from"
        );
        assert_eq!(
            lookup(MODULE, "sock_getaddrinfo", &[I32; 8], &[I32])
                .unwrap()
                .symbol,
            "sock_getaddrinfo"
        );
        assert!(lookup(MODULE, "sock_open", &[I32; 2], &[I32]).is_none());
        let all: std::vec::Vec<&str> = symbols().collect();
        assert_eq!(all.len(), 46 + 15);
        for (i, a) in all.iter().enumerate() {
            assert!(!all[..i].contains(a), "{a} twice");
        }
        for f in SOCKETS.iter() {
            assert!(all.contains(&f.symbol));
        }
    }

    #[test]
    fn constants_are_the_specs() {
        assert_eq!(errno::NOTCAPABLE, 76);
        assert_eq!(rights::ALL, (1 << 30) - 1);
        assert_eq!(rights::SOCK_ACCEPT, 1 << 29);
        assert_eq!(fdflags::ALL, 31);
        assert_eq!(oflags::ALL, 0xf);
        assert_eq!(fstflags::ALL, 0xf);
        assert_eq!(filetype::SYMBOLIC_LINK, 7);
        assert_eq!(advice::NOREUSE, 5);
        assert_eq!(clockid::THREAD_CPUTIME_ID, 3);
        assert_eq!(eventtype::FD_WRITE, 2);
    }

    #[test]
    fn lookup_checks_signature() {
        assert!(lookup(MODULE, "fd_write", &[I32, I32, I32, I32], &[I32]).is_some());
        assert!(lookup(MODULE, "fd_write", &[I32, I32, I32], &[I32]).is_none());
        assert!(lookup("env", "fd_write", &[I32, I32, I32, I32], &[I32]).is_none());
        assert_eq!(
            symbol("fd_write").to_string(),
            "wasi_snapshot_preview1__fd_write"
        );
    }
}
