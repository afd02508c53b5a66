//! Finding the suite and its scripts.
//!
//! The suite is never copied into the repository. Its root is, in order: `--suite DIR`,
//! `$HAKO_SPEC_SUITE`, or `../shared/spec-testsuite` relative to the workspace root (so a
//! checkout can get it from a git submodule or a download at the pinned commit instead).

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

/// Environment variable naming the suite root.
pub const SUITE_ENV: &str = "HAKO_SPEC_SUITE";

/// One script of the suite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuiteFile {
    pub path: PathBuf,
    /// Relative to the suite root, `/`-separated: `address.wast`, `proposals/threads/atomic.wast`.
    pub name: String,
}

/// The suite root from the flag, the environment or the default.
pub fn suite_root(flag: Option<&Path>) -> PathBuf {
    crate::workspace::suite_root(flag, SUITE_ENV, "spec-testsuite")
}

/// Every `.wast` file under `root` (top level, `proposals/**`, `legacy/**`), sorted by name,
/// keeping those whose name contains `filter`.
pub fn discover(root: &Path, filter: Option<&str>) -> Result<Vec<SuiteFile>> {
    if !root.is_dir() {
        bail!(
            "spec testsuite not found at {} (pass --suite DIR or set {SUITE_ENV})",
            root.display()
        );
    }
    let mut files = Vec::new();
    walk(root, root, &mut files)?;
    files.retain(|f: &SuiteFile| filter.is_none_or(|pat| f.name.contains(pat)));
    files.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(files)
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<SuiteFile>) -> Result<()> {
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))?;
    for entry in entries {
        let path = entry?.path();
        if path.is_dir() {
            walk(root, &path, out)?;
        } else if path.extension().is_some_and(|e| e == "wast") {
            let rel = path.strip_prefix(root).expect("under the root");
            let name = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            out.push(SuiteFile { path, name });
        }
    }
    Ok(())
}
