//! Path resolution inside one directory capability, component by component, resolving
//! symbolic links in the kernel (never by the file server) so that no path can leave the
//! directory: `..` above it and absolute paths or link targets are `EPERM`, as Wasmtime's
//! cap-std refuses them.

use super::vfs::{Backend, Fid, Qid};
use crate::guest::Errno;
use alloc::collections::VecDeque;
use alloc::vec::Vec;
use hako_abi::wasi::errno;

/// Most symbolic links one resolution expands (Linux's `MAXSYMLINKS`).
pub const MAX_SYMLINKS: u32 = 40;

/// Where a path leads, relative to the directory it was resolved in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// Components of the parent directory, free of `.`, `..` and symbolic links.
    pub dir: Vec<Vec<u8>>,
    /// The last component, not yet looked up (it may not exist, or be a symbolic link that
    /// was not to be followed); `None` when the path names `dir` itself (`.`, `a/..`).
    pub name: Option<Vec<u8>>,
    /// The path (or the last link target) ended with a slash: the result must be a
    /// directory.
    pub trailing: bool,
}

impl Resolved {
    /// All components, the name included.
    pub fn full(&self) -> Vec<&[u8]> {
        let mut v: Vec<&[u8]> = self.dir.iter().map(|c| c.as_slice()).collect();
        if let Some(n) = &self.name {
            v.push(n);
        }
        v
    }
    pub fn dir_refs(&self) -> Vec<&[u8]> {
        self.dir.iter().map(|c| c.as_slice()).collect()
    }
}

/// Look `comps` up from `start`: its qid, or `None` if something on the way is missing.
/// No components is `start` itself, a directory.
pub fn lookup(be: &mut dyn Backend, start: Fid, comps: &[&[u8]]) -> Result<Option<Qid>, Errno> {
    match be.walk(start, comps) {
        Ok((fid, q)) => {
            be.clunk(fid);
            Ok(Some(q.unwrap_or(Qid {
                ty: super::vfs::QT_DIR,
                ..Qid::default()
            })))
        }
        Err(errno::NOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

fn split(path: &[u8]) -> VecDeque<Vec<u8>> {
    path.split(|&b| b == b'/')
        .filter(|c| !c.is_empty())
        .map(|c| c.to_vec())
        .collect()
}

/// The length from which a path is `NAMETOOLONG`: Linux's `PATH_MAX`, which counts the
/// terminating NUL. Wasmtime hands a guest's path to the host's system calls whole, so that
/// is where its paths end, even where resolving them one component at a time, as here,
/// would succeed.
pub const PATH_MAX: usize = 4096;

/// Resolve `path` from the directory `start`. Intermediate symbolic links are always
/// followed; the last one only when `follow` (or when the path ends with a slash).
pub fn resolve(
    be: &mut dyn Backend,
    start: Fid,
    path: &[u8],
    follow: bool,
) -> Result<Resolved, Errno> {
    if path.is_empty() {
        return Err(errno::NOENT);
    }
    if path[0] == b'/' {
        return Err(errno::PERM);
    }
    if path.contains(&0) {
        return Err(errno::INVAL);
    }
    if path.len() >= PATH_MAX {
        return Err(errno::NAMETOOLONG);
    }
    let mut queue = split(path);
    let mut trailing = path.ends_with(b"/");
    let mut dir: Vec<Vec<u8>> = Vec::new();
    let mut links = 0;
    loop {
        let Some(c) = queue.pop_front() else {
            return Ok(Resolved {
                dir,
                name: None,
                trailing,
            });
        };
        let last = queue.is_empty();
        if c == b"." {
            continue;
        }
        if c == b".." {
            if dir.pop().is_none() {
                return Err(errno::PERM);
            }
            continue;
        }
        if c.len() > 255 {
            return Err(errno::NAMETOOLONG);
        }
        if last && !follow && !trailing {
            return Ok(Resolved {
                dir,
                name: Some(c),
                trailing,
            });
        }
        let mut comps: Vec<&[u8]> = dir.iter().map(|c| c.as_slice()).collect();
        comps.push(&c);
        let (fid, qid) = match be.walk(start, &comps) {
            Ok(x) => x,
            Err(errno::NOENT) if last => {
                return Ok(Resolved {
                    dir,
                    name: Some(c),
                    trailing,
                })
            }
            Err(e) => return Err(e),
        };
        let qid = qid.unwrap_or_default();
        if qid.is_symlink() {
            let target = be.readlink(fid);
            be.clunk(fid);
            let target = target?;
            links += 1;
            if links > MAX_SYMLINKS {
                return Err(errno::LOOP);
            }
            if target.is_empty() {
                return Err(errno::NOENT);
            }
            if target[0] == b'/' {
                return Err(errno::PERM);
            }
            if last && target.ends_with(b"/") {
                trailing = true;
            }
            for t in split(&target).into_iter().rev() {
                queue.push_front(t);
            }
            continue;
        }
        be.clunk(fid);
        if last {
            return Ok(Resolved {
                dir,
                name: Some(c),
                trailing,
            });
        }
        if !qid.is_dir() {
            return Err(errno::NOTDIR);
        }
        dir.push(c);
    }
}
