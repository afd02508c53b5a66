//! Known-failure lists (`spec-tests/expectations.toml`, `wasi-testsuite/expectations.toml`):
//! the tests known not to pass, each with a reason.
//!
//! ```toml
//! [failing]
//! "address.wast" = "1234 not run: kernel script mode not yet available"
//! ```
//!
//! A list is checked both ways by its `cargo test`: a listed test that passes fails ("remove
//! the entry"), an unlisted test that does not pass fails. `HAKO_BLESS=1` rewrites the list
//! from a run: it keeps the reason of every entry that still fails (edit reasons by hand
//! freely), adds new failures with a generated reason and removes tests that pass; with a
//! test filter, only the tests that ran are updated.
//!
//! What differs between the lists (the file's name in messages and its header comment) is a
//! [`ListKind`]; the spec list is `spec::expectations::Expectations`, the WASI list
//! `wasi::expectations::Expectations`.

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::path::Path;

/// Environment variable that makes a suite's test rewrite its expectations.
pub const BLESS_ENV: &str = "HAKO_BLESS";

/// Whether this run blesses (`HAKO_BLESS` set and not `0`).
pub fn blessing() -> bool {
    std::env::var_os(BLESS_ENV).is_some_and(|v| v != "0")
}

/// What distinguishes one list from another.
pub trait ListKind {
    /// The file as messages name it, relative to the workspace root.
    const FILE: &'static str;
    /// Comment lines written at the top of the file.
    const HEADER: &'static str;
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct Expectations<K: ListKind> {
    /// Test name → why it does not pass.
    #[serde(default)]
    pub failing: BTreeMap<String, String>,
    #[serde(skip)]
    kind: PhantomData<K>,
}

impl<K: ListKind> Default for Expectations<K> {
    fn default() -> Self {
        Expectations {
            failing: BTreeMap::new(),
            kind: PhantomData,
        }
    }
}

impl<K: ListKind> Clone for Expectations<K> {
    fn clone(&self) -> Self {
        Expectations {
            failing: self.failing.clone(),
            kind: PhantomData,
        }
    }
}

impl<K: ListKind> Expectations<K> {
    /// Read the list; a missing file is an empty list.
    pub fn load(path: &Path) -> Result<Self> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                toml::from_str(&text).with_context(|| format!("cannot parse {}", path.display()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        let body = toml::to_string(self).context("cannot serialise the expectations")?;
        std::fs::write(path, format!("{}\n{body}", K::HEADER))
            .with_context(|| format!("cannot write {}", path.display()))
    }

    /// `Ok` when the outcome agrees with the list, else the failing test's message.
    pub fn check(&self, name: &str, passes: bool, reason: &str) -> Result<()> {
        match (self.failing.get(name), passes) {
            (None, true) | (Some(_), false) => Ok(()),
            (Some(listed), true) => bail!(
                "{name} passes now but {} lists it as failing ({listed}): remove the entry",
                K::FILE
            ),
            (None, false) => bail!("{name} does not pass: {reason}"),
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

/// Cut `text` to at most `max` bytes (on a character boundary), marking the cut with `...`.
pub fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut cut = max;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}...", &text[..cut])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Test;
    impl ListKind for Test {
        const FILE: &'static str = "test/expectations.toml";
        const HEADER: &'static str = "# a header\n";
    }

    #[test]
    fn messages_name_the_file() {
        let mut e = Expectations::<Test>::default();
        e.failing.insert("a".into(), "why".into());
        let msg = e.check("a", true, "").unwrap_err().to_string();
        assert!(
            msg.contains("test/expectations.toml lists it as failing (why)"),
            "{msg}"
        );
    }

    #[test]
    fn header_is_written_and_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.toml");
        let mut e = Expectations::<Test>::default();
        e.failing.insert("x/y".into(), "z".into());
        e.save(&path).unwrap();
        assert!(std::fs::read_to_string(&path)
            .unwrap()
            .starts_with("# a header\n"));
        assert_eq!(
            Expectations::<Test>::load(&path).unwrap().failing,
            e.failing
        );
    }

    #[test]
    fn truncation_respects_characters() {
        assert_eq!(truncate("abc", 5), "abc");
        assert_eq!(truncate("aéb", 2), "a...");
    }
}
