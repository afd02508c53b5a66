//! The `path_*` functions: opening, creating, linking, renaming and removing files and
//! directories, reading symbolic links and file attributes by path. Every path is resolved
//! inside its directory descriptor by [`super::resolve`] (the sandbox rules) before the
//! [`Backend`] sees it.

use super::filestat::{filetype_of, times_attr, write_filestat, DEV_BASE};
use super::resolve::{self, resolve, Resolved};
use super::vfs::{self, oflags as lo, Backend, Fid};
use super::{DirFd, Entry, FileFd, WasiCtx, WasiResult};
use crate::guest::{Errno, GuestMemory};
use alloc::vec::Vec;
use hako_abi::wasi::{errno, fdflags, filetype, lookupflags, oflags, rights};

/// A path argument: in bounds (`EFAULT`) and UTF-8 (`EILSEQ`).
fn guest_path(mem: &GuestMemory, ptr: u32, len: u32) -> Result<Vec<u8>, Errno> {
    let b = mem.bytes(ptr, len)?;
    core::str::from_utf8(b).map_err(|_| errno::ILSEQ)?;
    Ok(b.to_vec())
}

/// `path` without its trailing slashes (`/` stays `/`).
fn trim_slashes(path: &[u8]) -> &[u8] {
    let mut p = path;
    while p.len() > 1 && p.ends_with(b"/") {
        p = &p[..p.len() - 1];
    }
    p
}

impl WasiCtx {
    /// Walk to what `r` names: a new fid (to clunk) and its qid.
    fn walk_to(&mut self, fs: usize, start: Fid, r: &Resolved) -> Result<(Fid, vfs::Qid), Errno> {
        let comps = r.full();
        let (fid, q) = self.fs[fs].walk(start, &comps)?;
        let q = q.unwrap_or(vfs::Qid {
            ty: vfs::QT_DIR,
            ..vfs::Qid::default()
        });
        if r.trailing && !q.is_dir() {
            self.fs[fs].clunk(fid);
            return Err(errno::NOTDIR);
        }
        Ok((fid, q))
    }

    fn with_fid<T>(
        &mut self,
        fs: usize,
        start: Fid,
        r: &Resolved,
        f: impl FnOnce(&mut dyn Backend, Fid, vfs::Qid) -> Result<T, Errno>,
    ) -> Result<T, Errno> {
        let (fid, q) = self.walk_to(fs, start, r)?;
        let out = f(&mut *self.fs[fs], fid, q);
        self.fs[fs].clunk(fid);
        out
    }

    /// The parent directory's fid and the last name, for operations that create or remove.
    fn parent_of(&mut self, fs: usize, start: Fid, r: &Resolved) -> Result<Fid, Errno> {
        let comps = r.dir_refs();
        Ok(self.fs[fs].walk(start, &comps)?.0)
    }

    #[allow(clippy::too_many_arguments)]
    pub fn path_open(
        &mut self,
        mem: &mut GuestMemory,
        dirfd: u32,
        dirflags: u32,
        path: u32,
        path_len: u32,
        oflags: u32,
        base: u64,
        inheriting: u64,
        fdflags: u32,
        out: u32,
    ) -> WasiResult {
        if dirflags & !lookupflags::ALL != 0
            || oflags & !u32::from(oflags::ALL) != 0
            || fdflags & !u32::from(fdflags::ALL) != 0
        {
            return Err(errno::INVAL);
        }
        if (base | inheriting) & !rights::ALL != 0 {
            return Err(errno::INVAL);
        }
        let (oflags, fdflags) = (oflags as u16, fdflags as u16);
        if let Some(Entry::File(_) | Entry::Stdin | Entry::Stdout | Entry::Stderr) =
            self.fds.get(dirfd)
        {
            return Err(errno::NOTDIR);
        }
        let (fs, start) = self.dir(dirfd)?;
        let path = guest_path(mem, path, path_len)?;
        let follow = dirflags & lookupflags::SYMLINK_FOLLOW != 0;
        let read = base & rights::FD_READ != 0;
        let write = base & rights::FD_WRITE != 0;
        let creat = oflags & oflags::CREAT != 0;
        let excl = oflags & oflags::EXCL != 0;
        let trunc = oflags & oflags::TRUNC != 0;
        let directory = oflags & oflags::DIRECTORY != 0;
        if fdflags & (fdflags::DSYNC | fdflags::SYNC | fdflags::RSYNC) != 0 {
            return Err(errno::NOTSUP);
        }
        if directory && (creat || excl || trunc) {
            return Err(errno::INVAL);
        }
        let os_write = write || creat;
        let os_read = read || !write;
        let mut flags = match (os_read, os_write) {
            (true, true) => lo::RDWR,
            (false, true) => lo::WRONLY,
            _ => lo::RDONLY,
        };
        if trunc {
            flags |= lo::TRUNC;
        }
        let r = resolve(&mut *self.fs[fs], start, &path, follow)?;
        let found = match self.fs[fs].walk(start, &r.full()) {
            Ok(x) => Some(x),
            Err(errno::NOENT) => None,
            Err(e) => return Err(e),
        };
        let (fid, qid, created) = match found {
            Some((fid, q)) => {
                let q = q.unwrap_or(vfs::Qid {
                    ty: vfs::QT_DIR,
                    ..vfs::Qid::default()
                });
                if creat && excl {
                    self.fs[fs].clunk(fid);
                    return Err(errno::EXIST);
                }
                if q.is_symlink() {
                    // Only a last component not to be followed is still a link here.
                    self.fs[fs].clunk(fid);
                    return Err(if r.trailing {
                        errno::NOTDIR
                    } else {
                        errno::LOOP
                    });
                }
                if r.trailing && !q.is_dir() {
                    self.fs[fs].clunk(fid);
                    return Err(errno::NOTDIR);
                }
                (fid, q, false)
            }
            None => {
                if !creat {
                    return Err(errno::NOENT);
                }
                let Some(name) = r.name.clone() else {
                    return Err(errno::NOENT);
                };
                if r.trailing {
                    return Err(errno::ISDIR);
                }
                let dfid = self.parent_of(fs, start, &r)?;
                let q = match self.fs[fs].lcreate(
                    dfid,
                    &name,
                    flags | lo::CREAT | lo::EXCL,
                    0o666 & !self.umask,
                ) {
                    Ok(q) => q,
                    Err(e) => {
                        self.fs[fs].clunk(dfid);
                        return Err(e);
                    }
                };
                (dfid, q, true)
            }
        };
        if qid.is_dir() {
            if write || trunc {
                self.fs[fs].clunk(fid);
                return Err(errno::ISDIR);
            }
            let fd = self.push(Entry::Dir(DirFd {
                fs,
                fid,
                preopen: None,
            }));
            return mem.write(out, fd);
        }
        if directory {
            self.fs[fs].clunk(fid);
            return Err(errno::NOTDIR);
        }
        if !created {
            if let Err(e) = self.fs[fs].lopen(fid, flags) {
                self.fs[fs].clunk(fid);
                return Err(e);
            }
        }
        let filetype = match self.fs[fs].getattr(fid) {
            Ok(st) => filetype_of(&st),
            Err(_) => filetype::REGULAR_FILE,
        };
        let fd = self.push(Entry::File(FileFd {
            fs,
            fid,
            read,
            write,
            os_write,
            append: fdflags & fdflags::APPEND != 0,
            nonblock: fdflags & fdflags::NONBLOCK != 0,
            pos: 0,
            filetype,
        }));
        mem.write(out, fd)
    }

    pub fn path_create_directory(
        &mut self,
        mem: &mut GuestMemory,
        fd: u32,
        path: u32,
        len: u32,
    ) -> WasiResult {
        let (fs, start) = self.dir(fd)?;
        let path = guest_path(mem, path, len)?;
        let r = resolve(&mut *self.fs[fs], start, &path, false)?;
        let Some(name) = r.name.clone() else {
            return Err(errno::EXIST);
        };
        let dfid = self.parent_of(fs, start, &r)?;
        let res = self.fs[fs].mkdir(dfid, &name, 0o777 & !self.umask);
        self.fs[fs].clunk(dfid);
        res
    }

    pub fn path_filestat_get(
        &mut self,
        mem: &mut GuestMemory,
        fd: u32,
        flags: u32,
        path: u32,
        len: u32,
        buf: u32,
    ) -> WasiResult {
        if flags & !lookupflags::ALL != 0 {
            return Err(errno::INVAL);
        }
        let (fs, start) = self.dir(fd)?;
        let path = guest_path(mem, path, len)?;
        let r = resolve(
            &mut *self.fs[fs],
            start,
            &path,
            flags & lookupflags::SYMLINK_FOLLOW != 0,
        )?;
        let st = self.with_fid(fs, start, &r, |be, fid, _| be.getattr(fid))?;
        write_filestat(mem, buf, DEV_BASE + fs as u64, &st, filetype_of(&st))
    }

    #[allow(clippy::too_many_arguments)]
    pub fn path_filestat_set_times(
        &mut self,
        mem: &mut GuestMemory,
        fd: u32,
        flags: u32,
        path: u32,
        len: u32,
        atim: u64,
        mtim: u64,
        fst: u32,
    ) -> WasiResult {
        if flags & !lookupflags::ALL != 0 || fst > 0xffff {
            return Err(errno::INVAL);
        }
        let a = times_attr(atim, mtim, fst as u16)?;
        let (fs, start) = self.dir(fd)?;
        let path = guest_path(mem, path, len)?;
        let r = resolve(
            &mut *self.fs[fs],
            start,
            &path,
            flags & lookupflags::SYMLINK_FOLLOW != 0,
        )?;
        self.with_fid(fs, start, &r, |be, fid, _| {
            if a.valid == 0 {
                return Ok(());
            }
            be.setattr(fid, &a)
        })
    }

    #[allow(clippy::too_many_arguments)]
    pub fn path_link(
        &mut self,
        mem: &mut GuestMemory,
        fd: u32,
        flags: u32,
        path: u32,
        len: u32,
        fd2: u32,
        path2: u32,
        len2: u32,
    ) -> WasiResult {
        if flags & !lookupflags::ALL != 0 {
            return Err(errno::INVAL);
        }
        let (fs, start) = self.dir(fd)?;
        let (fs2, start2) = self.dir(fd2)?;
        if flags & lookupflags::SYMLINK_FOLLOW != 0 {
            return Err(errno::INVAL);
        }
        let src = guest_path(mem, path, len)?;
        let dst = guest_path(mem, path2, len2)?;
        if fs != fs2 {
            return Err(errno::XDEV);
        }
        let rs = resolve(&mut *self.fs[fs], start, &src, false)?;
        let rd = resolve(&mut *self.fs[fs], start2, &dst, false)?;
        let (sfid, sq) = self.walk_to(fs, start, &rs)?;
        let r = (|| {
            if rd.trailing || (rs.trailing && !sq.is_dir()) {
                let exists = resolve::lookup(&mut *self.fs[fs], start2, &rd.full())?.is_some();
                return Err(if exists { errno::EXIST } else { errno::NOENT });
            }
            let Some(name) = rd.name.clone() else {
                return Err(errno::EXIST);
            };
            let dfid = self.parent_of(fs, start2, &rd)?;
            let r = self.fs[fs].link(dfid, sfid, &name);
            self.fs[fs].clunk(dfid);
            r
        })();
        self.fs[fs].clunk(sfid);
        r
    }

    #[allow(clippy::too_many_arguments)]
    pub fn path_readlink(
        &mut self,
        mem: &mut GuestMemory,
        fd: u32,
        path: u32,
        len: u32,
        buf: u32,
        buf_len: u32,
        out: u32,
    ) -> WasiResult {
        let (fs, start) = self.dir(fd)?;
        let path = guest_path(mem, path, len)?;
        let r = resolve(&mut *self.fs[fs], start, &path, false)?;
        let target = self.with_fid(fs, start, &r, |be, fid, q| {
            if !q.is_symlink() {
                return Err(errno::INVAL);
            }
            be.readlink(fid)
        })?;
        core::str::from_utf8(&target).map_err(|_| errno::ILSEQ)?;
        let n = target.len().min(buf_len as usize) as u32;
        mem.bytes_mut(buf, n)?
            .copy_from_slice(&target[..n as usize]);
        mem.write(out, n)
    }

    pub fn path_remove_directory(
        &mut self,
        mem: &mut GuestMemory,
        fd: u32,
        path: u32,
        len: u32,
    ) -> WasiResult {
        let (fs, start) = self.dir(fd)?;
        let path = guest_path(mem, path, len)?;
        // `dir/` names the directory itself, never a link to one (`ENOTDIR` as in Linux).
        let stripped = trim_slashes(&path);
        let r = resolve(&mut *self.fs[fs], start, stripped, false)?;
        let Some(name) = r.name.clone() else {
            return Err(errno::INVAL);
        };
        match resolve::lookup(&mut *self.fs[fs], start, &r.full())? {
            None => return Err(errno::NOENT),
            Some(q) if !q.is_dir() => return Err(errno::NOTDIR),
            Some(_) => {}
        }
        let dfid = self.parent_of(fs, start, &r)?;
        let res = self.fs[fs].unlinkat(dfid, &name, vfs::AT_REMOVEDIR);
        self.fs[fs].clunk(dfid);
        res
    }

    pub fn path_unlink_file(
        &mut self,
        mem: &mut GuestMemory,
        fd: u32,
        path: u32,
        len: u32,
    ) -> WasiResult {
        let (fs, start) = self.dir(fd)?;
        let path = guest_path(mem, path, len)?;
        let trailing = path.ends_with(b"/");
        let r = resolve(&mut *self.fs[fs], start, trim_slashes(&path), false)?;
        let Some(name) = r.name.clone() else {
            return Err(errno::ISDIR);
        };
        if trailing {
            return match resolve::lookup(&mut *self.fs[fs], start, &r.full())? {
                None => Err(errno::NOENT),
                Some(q) if q.is_dir() => Err(errno::ISDIR),
                Some(_) => Err(errno::NOTDIR),
            };
        }
        let dfid = self.parent_of(fs, start, &r)?;
        let res = self.fs[fs].unlinkat(dfid, &name, 0);
        self.fs[fs].clunk(dfid);
        res
    }

    #[allow(clippy::too_many_arguments)]
    pub fn path_rename(
        &mut self,
        mem: &mut GuestMemory,
        fd: u32,
        path: u32,
        len: u32,
        fd2: u32,
        path2: u32,
        len2: u32,
    ) -> WasiResult {
        let (fs, start) = self.dir(fd)?;
        let (fs2, start2) = self.dir(fd2)?;
        let src = guest_path(mem, path, len)?;
        let dst = guest_path(mem, path2, len2)?;
        if fs != fs2 {
            return Err(errno::XDEV);
        }
        let rs = resolve(&mut *self.fs[fs], start, &src, false)?;
        let rd = resolve(&mut *self.fs[fs], start2, &dst, false)?;
        let (Some(sname), Some(dname)) = (rs.name.clone(), rd.name.clone()) else {
            return Err(errno::INVAL);
        };
        let sq = resolve::lookup(&mut *self.fs[fs], start, &rs.full())?.ok_or(errno::NOENT)?;
        if (rs.trailing || rd.trailing) && !sq.is_dir() {
            return Err(errno::NOTDIR);
        }
        let sdfid = self.parent_of(fs, start, &rs)?;
        let ddfid = match self.parent_of(fs, start2, &rd) {
            Ok(f) => f,
            Err(e) => {
                self.fs[fs].clunk(sdfid);
                return Err(e);
            }
        };
        let res = self.fs[fs].renameat(sdfid, &sname, ddfid, &dname);
        self.fs[fs].clunk(sdfid);
        self.fs[fs].clunk(ddfid);
        res
    }

    pub fn path_symlink(
        &mut self,
        mem: &mut GuestMemory,
        old: u32,
        old_len: u32,
        fd: u32,
        path: u32,
        len: u32,
    ) -> WasiResult {
        let (fs, start) = self.dir(fd)?;
        let target = guest_path(mem, old, old_len)?;
        let path = guest_path(mem, path, len)?;
        if target.first() == Some(&b'/') {
            return Err(errno::PERM);
        }
        let r = resolve(&mut *self.fs[fs], start, &path, false)?;
        let exists = resolve::lookup(&mut *self.fs[fs], start, &r.full())?.is_some();
        let Some(name) = r.name.clone() else {
            return Err(errno::EXIST);
        };
        if exists {
            return Err(errno::EXIST);
        }
        if r.trailing {
            return Err(errno::NOENT);
        }
        let dfid = self.parent_of(fs, start, &r)?;
        let res = self.fs[fs].symlink(dfid, &name, &target);
        self.fs[fs].clunk(dfid);
        res
    }
}
