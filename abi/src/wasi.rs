//! The 46 functions of `wasi_snapshot_preview1` and how they are linked.
//!
//! An import whose module is [`MODULE`] and whose name and core signature match an entry of
//! [`FUNCTIONS`] is compiled as a direct call to the undefined symbol
//! [`symbol`]`(name)` (`wasi_snapshot_preview1__fd_write`, ...), with the caller's
//! `*mut VmContext` as first argument; the kernel defines all 46. Any other import, including
//! a WASI name with the wrong signature, goes through the instance's import slot and is
//! resolved by the kernel at instantiation.

use crate::valtype::{I32, I64};

pub const MODULE: &str = "wasi_snapshot_preview1";

/// A WASI function: its name and core signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WasiFunction {
    pub name: &'static str,
    pub params: &'static [u8],
    pub results: &'static [u8],
}

const fn f(name: &'static str, params: &'static [u8], results: &'static [u8]) -> WasiFunction {
    WasiFunction {
        name,
        params,
        results,
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

/// WASI errno values the kernel uses across the ABI (the full list lives in the kernel).
pub mod errno {
    pub const SUCCESS: u16 = 0;
    pub const BADF: u16 = 8;
    pub const FAULT: u16 = 21;
    pub const INVAL: u16 = 28;
    pub const NOSYS: u16 = 52;
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
