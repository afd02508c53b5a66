//! `wasi-testsuite/expectations.toml`: the programs known not to pass, each with a reason,
//! checked both ways by `cargo test -p hako-runner --test wasi` (the logic is
//! [`crate::expectations`]).
//!
//! ```toml
//! [failing]
//! "rust/fd_advise" = "ENOSYS fd_advise; exit: oracle exit 0, hako exit 101"
//! ```
//!
//! `HAKO_BLESS=1 cargo test -p hako-runner --test wasi` rewrites it from a run (existing
//! reasons are kept).

use std::path::PathBuf;

/// The WASI list's name and header.
#[derive(Debug)]
pub struct Wasi;

impl crate::expectations::ListKind for Wasi {
    const FILE: &'static str = "wasi-testsuite/expectations.toml";
    const HEADER: &'static str = "\
# WASI testsuite programs known not to pass in hako, each with a reason. Checked both ways by
# `cargo test -p hako-runner --test wasi`: a listed program that passes fails its test until
# its entry is removed; an unlisted program that fails fails its test.
# A program passes when hako matches the oracle (Wasmtime + wasi-common) and the test's JSON.
# Regenerate: HAKO_BLESS=1 cargo test -p hako-runner --test wasi (keeps existing reasons).
";
}

/// Program name (`rust/fd_advise`) → why it does not pass.
pub type Expectations = crate::expectations::Expectations<Wasi>;

/// The default location, `wasi-testsuite/expectations.toml` in the workspace.
pub fn default_path() -> PathBuf {
    crate::workspace::root()
        .join("wasi-testsuite")
        .join("expectations.toml")
}
