//! `spec-tests/expectations.toml`: the scripts known not to pass, each with a reason.
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

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Environment variable that makes the spec test rewrite the expectations.
pub const BLESS_ENV: &str = "HAKO_BLESS";

/// The default location, `spec-tests/expectations.toml` in the workspace.
pub fn default_path() -> PathBuf {
    super::suite::workspace_root()
        .join("spec-tests")
        .join("expectations.toml")
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Expectations {
    /// File name (relative to the suite root) → why it does not pass.
    #[serde(default)]
    pub failing: BTreeMap<String, String>,
}

const HEADER: &str = "\
# Spec scripts known not to pass, each with a reason. Checked both ways by
# `cargo test -p hako-runner --test spec`: a listed file that passes fails its test until its
# entry is removed; an unlisted file that fails fails its test.
# A file passes when every check passed and none was \"not run\".
# Regenerate: HAKO_BLESS=1 cargo test -p hako-runner --test spec (keeps existing reasons).
";

impl Expectations {
    /// Read the list; a missing file is an empty list.
    pub fn load(path: &Path) -> Result<Expectations> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                toml::from_str(&text).with_context(|| format!("cannot parse {}", path.display()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Expectations::default()),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        let body = toml::to_string(self).context("cannot serialise the expectations")?;
        std::fs::write(path, format!("{HEADER}\n{body}"))
            .with_context(|| format!("cannot write {}", path.display()))
    }

    /// `Ok` when the outcome agrees with the list, else the message of the failing test.
    pub fn check(&self, name: &str, passes: bool, reason: &str) -> Result<(), String> {
        match (self.failing.get(name), passes) {
            (None, true) | (Some(_), false) => Ok(()),
            (Some(listed), true) => Err(format!(
                "{name} passes now but spec-tests/expectations.toml lists it as failing ({listed}): remove the entry"
            )),
            (None, false) => Err(format!("{name} does not pass: {reason}")),
        }
    }

    /// Update one entry from an outcome, keeping an existing reason.
    pub fn bless(&mut self, name: &str, passes: bool, reason: String) {
        if passes {
            self.failing.remove(name);
        } else {
            self.failing.entry(name.to_string()).or_insert(reason);
        }
    }
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
            .contains("remove the entry"));
        assert!(e
            .check("b.wast", false, "3 failed")
            .unwrap_err()
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
