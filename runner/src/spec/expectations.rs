//! `spec-tests/expectations.toml`: the scripts known not to pass, each with a reason (the
//! generic logic is [`crate::expectations`]).
//!
//! ```toml
//! [failing]
//! "address.wast" = "1234 not run: kernel script mode not yet available"
//! ```
//!
//! It is checked both ways by `cargo test --test spec`: a listed file that passes fails its
//! test ("remove the entry"), an unlisted file that does not pass fails its test. A file
//! *passes* when every check passed and none was "not run" (so files waiting for the kernel's
//! script mode are listed, and they drop out of the list as soon as they pass).
//!
//! To rewrite the list from a run: `HAKO_BLESS=1 cargo test -p hako-runner --test spec`. It
//! keeps the reason of every entry that still fails (edit reasons by hand freely), adds new
//! failures with a generated reason and removes files that pass. With a test filter, only the
//! files that ran are updated.

use std::path::PathBuf;

pub use crate::expectations::BLESS_ENV;

/// The spec list's name and header.
#[derive(Debug)]
pub struct Spec;

impl crate::expectations::ListKind for Spec {
    const FILE: &'static str = "spec-tests/expectations.toml";
    const HEADER: &'static str = "\
# Spec scripts known not to pass, each with a reason. Checked both ways by
# `cargo test -p hako-runner --test spec`: a listed file that passes fails its test until its
# entry is removed; an unlisted file that fails fails its test.
# A file passes when every check passed and none was \"not run\".
# Regenerate: HAKO_BLESS=1 cargo test -p hako-runner --test spec (keeps existing reasons).
";
}

/// File name (relative to the suite root) → why it does not pass.
pub type Expectations = crate::expectations::Expectations<Spec>;

/// The default location, `spec-tests/expectations.toml` in the workspace.
pub fn default_path() -> PathBuf {
    crate::workspace::root()
        .join("spec-tests")
        .join("expectations.toml")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checked_both_ways() {
        let mut e = Expectations::default();
        e.failing
            .insert("a.wast".into(), "needs kernel script mode".into());
        assert!(e.check("a.wast", false, "x").is_ok());
        assert!(e.check("b.wast", true, "").is_ok());
        assert!(e
            .check("a.wast", true, "")
            .unwrap_err()
            .to_string()
            .contains("remove the entry"));
        assert!(e
            .check("b.wast", false, "3 failed")
            .unwrap_err()
            .to_string()
            .contains("3 failed"));
        e.bless("a.wast", false, "new reason".into());
        assert_eq!(e.failing["a.wast"], "needs kernel script mode");
        e.bless("a.wast", true, String::new());
        e.bless("c.wast", false, "why".into());
        assert_eq!(e.failing.keys().collect::<Vec<_>>(), ["c.wast"]);
    }

    #[test]
    fn round_trip_through_toml() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.toml");
        assert!(Expectations::load(&path).unwrap().failing.is_empty());
        let mut e = Expectations::default();
        e.failing.insert(
            "proposals/threads/atomic.wast".into(),
            "uses \"threads\"".into(),
        );
        e.save(&path).unwrap();
        let back = Expectations::load(&path).unwrap();
        assert_eq!(back.failing, e.failing);
    }
}
