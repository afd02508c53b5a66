//! Locating the external programs hako drives: `ld.lld` and `qemu-system-x86_64`.
//!
//! Each can be overridden by an environment variable (`HAKO_LD`, `HAKO_QEMU`); otherwise the
//! first candidate found on `PATH` wins. A missing tool is an error that says which package
//! provides it.

use anyhow::{bail, Result};
use std::env;
use std::path::{Path, PathBuf};

/// A program hako needs.
#[derive(Debug, Clone, Copy)]
pub struct Tool {
    /// Environment variable that overrides the search.
    pub env: &'static str,
    /// Names to look for on `PATH`, in order.
    pub candidates: &'static [&'static str],
    /// The Debian package that provides it.
    pub package: &'static str,
}

pub const LINKER: Tool = Tool {
    env: "HAKO_LD",
    candidates: &["ld.lld-19", "ld.lld"],
    package: "lld-19",
};
pub const QEMU: Tool = Tool {
    env: "HAKO_QEMU",
    candidates: &["qemu-system-x86_64"],
    package: "qemu-system-x86",
};

impl Tool {
    /// The path of the program, or an error naming what to install.
    pub fn find(&self) -> Result<PathBuf> {
        if let Some(path) = env::var_os(self.env) {
            let path = PathBuf::from(path);
            if is_executable(&path) {
                return Ok(path);
            }
            bail!(
                "{} is set to {}, which is not an executable file",
                self.env,
                path.display()
            );
        }
        for name in self.candidates {
            if let Some(path) = which(name) {
                return Ok(path);
            }
        }
        bail!(
            "`{}` not found on PATH (install the Debian package `{}`, run `make setup`, or set {})",
            self.candidates[0],
            self.package,
            self.env
        )
    }
}

/// The first executable named `name` on `PATH`.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = env::var_os("PATH")?;
    env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}
