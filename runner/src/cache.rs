//! The content-addressed build cache.
//!
//! Objects are keyed by the module's bytes, the compiler options and the compiler's
//! fingerprint (a hash of its sources and the ABI, computed at build time); images by the
//! object's key and the embedded kernel's hash. A hit costs no compilation and no link.
//! Entries are written to a temporary name and renamed into place, so concurrent `hako`
//! processes never see half-written files.
//!
//! Location: `$HAKO_CACHE_DIR`, else `$XDG_CACHE_HOME/hako`, else `~/.cache/hako`, else a
//! directory under the system temporary directory.

use anyhow::{Context, Result};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The compiler's fingerprint: changes whenever the compiler or the ABI changes.
pub const COMPILER_FINGERPRINT: &str = env!("HAKO_COMPILER_FINGERPRINT");

#[derive(Debug, Clone)]
pub struct Cache {
    root: PathBuf,
}

impl Cache {
    /// The cache at its default location (see the module docs).
    pub fn default_location() -> Cache {
        let root = if let Some(dir) = std::env::var_os("HAKO_CACHE_DIR") {
            PathBuf::from(dir)
        } else if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
            PathBuf::from(dir).join("hako")
        } else if let Some(home) = std::env::var_os("HOME") {
            PathBuf::from(home).join(".cache").join("hako")
        } else {
            std::env::temp_dir().join("hako-cache")
        };
        Cache { root }
    }

    /// A cache rooted at `root`.
    pub fn at(root: impl Into<PathBuf>) -> Cache {
        Cache { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The path an entry with this key and extension lives at (it may not exist yet).
    pub fn path(&self, key: &str, extension: &str) -> PathBuf {
        self.root.join(&key[..2]).join(format!("{key}.{extension}"))
    }

    /// The entry's path if it exists.
    pub fn get(&self, key: &str, extension: &str) -> Option<PathBuf> {
        let path = self.path(key, extension);
        path.is_file().then_some(path)
    }

    /// A fresh, unique path in the entry's directory (which this creates), for a tool to
    /// write to before [`std::fs::rename`] moves the result into place.
    pub fn scratch_path(&self, key: &str) -> Result<PathBuf> {
        let (path, _file) = tempfile_in(&self.ensure_dir(key)?)?;
        Ok(path)
    }

    fn ensure_dir(&self, key: &str) -> Result<PathBuf> {
        let dir = self.root.join(&key[..2]);
        fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create cache directory {}", dir.display()))?;
        Ok(dir)
    }

    /// Store `bytes` under the key, atomically, and return the path.
    pub fn put(&self, key: &str, extension: &str, bytes: &[u8]) -> Result<PathBuf> {
        let path = self.path(key, extension);
        let mut tmp = tempfile_in(&self.ensure_dir(key)?)?;
        tmp.1
            .write_all(bytes)
            .with_context(|| format!("cannot write {}", tmp.0.display()))?;
        drop(tmp.1);
        fs::rename(&tmp.0, &path).with_context(|| format!("cannot write {}", path.display()))?;
        Ok(path)
    }
}

/// A new uniquely named file in `dir`.
fn tempfile_in(dir: &Path) -> Result<(PathBuf, fs::File)> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = format!(
        ".tmp-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let path = dir.join(name);
    let file =
        fs::File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
    Ok((path, file))
}

/// A hex digest of several byte strings, each length-prefixed so boundaries count.
pub fn key(parts: &[&[u8]]) -> String {
    let mut hasher = blake3::Hasher::new();
    for part in parts {
        hasher.update(&(part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    hasher.finalize().to_hex()[..32].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_then_get() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::at(dir.path());
        let k = key(&[b"abc", b"def"]);
        assert!(cache.get(&k, "o").is_none());
        let p = cache.put(&k, "o", b"hello").unwrap();
        assert_eq!(cache.get(&k, "o").unwrap(), p);
        assert_eq!(fs::read(p).unwrap(), b"hello");
    }

    #[test]
    fn key_respects_boundaries() {
        assert_ne!(key(&[b"ab", b"c"]), key(&[b"a", b"bc"]));
    }
}
