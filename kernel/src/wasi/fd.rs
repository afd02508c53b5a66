//! The `fd_*` functions: reading, writing, seeking and describing open descriptors, their
//! flags and attributes, closing and renumbering them, the preopens' names and reading
//! directories. Regular files and directories live on a [`super::vfs::Backend`]; stdin,
//! stdout and stderr are the [`Host`]'s streams.

use super::filestat::{filetype_of, filetype_of_dt, times_attr, write_filestat, DEV_BASE};
use super::iovec::{check_iovs, first_iov, iov};
use super::net::Kind;
use super::vfs::{oflags as lo, setattr, SetAttr, Stat};
use super::{Entry, Host, Stream, WasiCtx, WasiResult};
use crate::guest::{Errno, GuestMemory};
use alloc::vec;
use alloc::vec::Vec;
use hako_abi::wasi::{advice, errno, fdflags, filetype, preopentype, rights, whence};

/// Wasmtime's rights of a directory descriptor.
pub(super) const DIR_BASE: u64 = rights::PATH_CREATE_DIRECTORY
    | rights::PATH_CREATE_FILE
    | rights::PATH_LINK_SOURCE
    | rights::PATH_LINK_TARGET
    | rights::PATH_OPEN
    | rights::FD_READDIR
    | rights::PATH_READLINK
    | rights::PATH_RENAME_SOURCE
    | rights::PATH_RENAME_TARGET
    | rights::PATH_SYMLINK
    | rights::PATH_REMOVE_DIRECTORY
    | rights::PATH_UNLINK_FILE
    | rights::PATH_FILESTAT_GET
    | rights::PATH_FILESTAT_SET_TIMES
    | rights::FD_FILESTAT_GET
    | rights::FD_FILESTAT_SET_TIMES;
pub(super) const DIR_INHERITING: u64 = rights::FD_DATASYNC
    | rights::FD_READ
    | rights::FD_SEEK
    | rights::FD_FDSTAT_SET_FLAGS
    | rights::FD_SYNC
    | rights::FD_TELL
    | rights::FD_WRITE
    | rights::FD_ADVISE
    | rights::FD_ALLOCATE
    | rights::FD_FILESTAT_GET
    | rights::FD_FILESTAT_SET_SIZE
    | rights::FD_FILESTAT_SET_TIMES
    | rights::POLL_FD_READWRITE
    | DIR_BASE;

/// The rights a socket descriptor reports.
const SOCK_RIGHTS: u64 = rights::FD_READ
    | rights::FD_WRITE
    | rights::FD_FDSTAT_SET_FLAGS
    | rights::FD_FILESTAT_GET
    | rights::POLL_FD_READWRITE
    | rights::SOCK_SHUTDOWN
    | rights::SOCK_ACCEPT;

impl WasiCtx {
    pub fn fd_write(
        &mut self,
        host: &mut impl Host,
        mem: &mut GuestMemory,
        fd: u32,
        iovs: u32,
        iovs_len: u32,
        nwritten: u32,
    ) -> WasiResult {
        let e = self.entry(fd)?;
        let stream = match e {
            Entry::Stdout => Some(Stream::Stdout),
            Entry::Stderr => Some(Stream::Stderr),
            Entry::File(f) if f.write => None,
            Entry::Socket(_) => return self.sock_send(host, mem, fd, iovs, iovs_len, 0, nwritten),
            _ => return Err(errno::BADF),
        };
        let total = check_iovs(mem, iovs, iovs_len)?;
        let total = u32::try_from(total).map_err(|_| errno::OVERFLOW)?;
        if let Some(stream) = stream {
            for i in 0..iovs_len {
                let (p, l) = iov(mem, iovs, i)?;
                host.write(stream, mem.bytes(p, l)?);
            }
            return mem.write(nwritten, total);
        }
        let f = self.file_mut(fd)?;
        let (fs, fid, append, mut pos) = (f.fs, f.fid, f.append, f.pos);
        if append {
            pos = self.fs[fs].getattr(fid)?.size;
        }
        let mut done: u64 = 0;
        for i in 0..iovs_len {
            let (p, l) = iov(mem, iovs, i)?;
            if l == 0 {
                continue;
            }
            let n = self.fs[fs].write(fid, pos + done, mem.bytes(p, l)?)?;
            done += n as u64;
            if n < l as usize {
                break;
            }
        }
        self.file_mut(fd)?.pos = pos + done;
        mem.write(nwritten, done as u32)
    }

    pub fn fd_pwrite(
        &mut self,
        mem: &mut GuestMemory,
        fd: u32,
        iovs: u32,
        iovs_len: u32,
        offset: u64,
        nwritten: u32,
    ) -> WasiResult {
        match self.entry(fd)? {
            Entry::Stdout | Entry::Stderr | Entry::Socket(_) => return Err(errno::SPIPE),
            Entry::File(f) if f.write => {}
            _ => return Err(errno::BADF),
        }
        let total = check_iovs(mem, iovs, iovs_len)?;
        if total == 0 {
            return mem.write(nwritten, 0u32);
        }
        let f = self.file_mut(fd)?;
        let (fs, fid, append) = (f.fs, f.fid, f.append);
        let mut pos = offset;
        if append {
            pos = self.fs[fs].getattr(fid)?.size;
        }
        let mut done: u64 = 0;
        for i in 0..iovs_len {
            let (p, l) = iov(mem, iovs, i)?;
            if l == 0 {
                continue;
            }
            let n = self.fs[fs].write(fid, pos + done, mem.bytes(p, l)?)?;
            done += n as u64;
            if n < l as usize {
                break;
            }
        }
        mem.write(nwritten, done as u32)
    }

    pub fn fd_read(
        &mut self,
        host: &mut impl Host,
        mem: &mut GuestMemory,
        fd: u32,
        iovs: u32,
        iovs_len: u32,
        nread: u32,
    ) -> WasiResult {
        match self.entry(fd)? {
            Entry::Stdin => {
                let n = match first_iov(mem, iovs, iovs_len)? {
                    Some((p, l)) => host.read_stdin(mem.bytes_mut(p, l)?),
                    None => 0,
                };
                return mem.write(nread, n as u32);
            }
            Entry::File(f) if f.read => {}
            Entry::Socket(_) => {
                // `fd_read` on a socket is `recv`; its flags have nowhere to go.
                let (got, _, _) = {
                    let s = self.sock(fd)?;
                    check_iovs(mem, iovs, iovs_len)?;
                    mem.bytes(nread, 4)?;
                    self.recv_iovs(host, mem, &s, iovs, iovs_len, 0)?
                };
                return mem.write(nread, got);
            }
            _ => return Err(errno::BADF),
        }
        let Some((p, l)) = first_iov(mem, iovs, iovs_len)? else {
            return mem.write(nread, 0u32);
        };
        let f = self.file_mut(fd)?;
        let (fs, fid, pos) = (f.fs, f.fid, f.pos);
        let n = self.fs[fs].read(fid, pos, mem.bytes_mut(p, l)?)?;
        self.file_mut(fd)?.pos = pos + n as u64;
        mem.write(nread, n as u32)
    }

    pub fn fd_pread(
        &mut self,
        mem: &mut GuestMemory,
        fd: u32,
        iovs: u32,
        iovs_len: u32,
        offset: u64,
        nread: u32,
    ) -> WasiResult {
        match self.entry(fd)? {
            Entry::Stdin => return Err(errno::SPIPE),
            Entry::File(f) if f.read => {}
            Entry::Socket(_) => return Err(errno::SPIPE),
            _ => return Err(errno::BADF),
        }
        let Some((p, l)) = first_iov(mem, iovs, iovs_len)? else {
            return mem.write(nread, 0u32);
        };
        let f = self.file_mut(fd)?;
        let (fs, fid) = (f.fs, f.fid);
        let n = self.fs[fs].read(fid, offset, mem.bytes_mut(p, l)?)?;
        mem.write(nread, n as u32)
    }

    pub fn fd_seek(
        &mut self,
        mem: &mut GuestMemory,
        fd: u32,
        offset: i64,
        whence: u32,
        newoffset: u32,
    ) -> WasiResult {
        if whence > u32::from(whence::END) {
            return Err(errno::INVAL);
        }
        let whence = whence as u8;
        if whence == whence::SET && offset < 0 {
            return Err(errno::INVAL);
        }
        match self.entry(fd)? {
            Entry::File(_) => {}
            Entry::Dir(_) => return Err(errno::BADF),
            _ => return Err(errno::SPIPE),
        }
        let f = self.file_mut(fd)?;
        let (fs, fid, pos) = (f.fs, f.fid, f.pos);
        let base: i128 = match whence {
            whence::SET => 0,
            whence::CUR => pos as i128,
            _ => self.fs[fs].getattr(fid)?.size as i128,
        };
        let new = base + offset as i128;
        if new < 0 || new > i64::MAX as i128 {
            return Err(errno::INVAL);
        }
        self.file_mut(fd)?.pos = new as u64;
        mem.write(newoffset, new as u64)
    }

    pub fn fd_tell(&mut self, mem: &mut GuestMemory, fd: u32, offset: u32) -> WasiResult {
        match self.entry(fd)? {
            Entry::File(f) => {
                let p = f.pos;
                mem.write(offset, p)
            }
            Entry::Dir(_) => Err(errno::BADF),
            _ => Err(errno::SPIPE),
        }
    }

    pub fn fd_fdstat_get(&mut self, mem: &mut GuestMemory, fd: u32, buf: u32) -> WasiResult {
        let (ft, flags, base, inh) = match self.entry(fd)? {
            Entry::Stdin => (filetype::UNKNOWN, 0, rights::FD_READ, 0),
            Entry::Stdout | Entry::Stderr => {
                (filetype::UNKNOWN, fdflags::APPEND, rights::FD_WRITE, 0)
            }
            Entry::File(f) => {
                let mut r = 0;
                if f.read {
                    r |= rights::FD_READ;
                }
                if f.write {
                    r |= rights::FD_WRITE;
                }
                let mut fl = 0;
                if f.append {
                    fl |= fdflags::APPEND;
                }
                if f.nonblock {
                    fl |= fdflags::NONBLOCK;
                }
                (f.filetype, fl, r, 0)
            }
            Entry::Dir(_) => (filetype::DIRECTORY, 0, DIR_BASE, DIR_INHERITING),
            Entry::Socket(s) => (
                match s.kind {
                    Kind::Stream => filetype::SOCKET_STREAM,
                    Kind::Datagram => filetype::SOCKET_DGRAM,
                },
                if s.nonblock { fdflags::NONBLOCK } else { 0 },
                SOCK_RIGHTS,
                0,
            ),
        };
        mem.bytes_mut(buf, 24)?.fill(0);
        mem.write(buf, ft)?;
        mem.write::<u16>(buf + 2, flags)?;
        mem.write(buf + 8, base)?;
        mem.write(buf + 16, inh)
    }

    pub fn fd_fdstat_set_flags(&mut self, fd: u32, flags: u32) -> WasiResult {
        if flags & !u32::from(fdflags::ALL) != 0 {
            return Err(errno::INVAL);
        }
        let flags = flags as u16;
        if let Some(Entry::Socket(s)) = self.fds.get_mut(fd) {
            s.nonblock = flags & fdflags::NONBLOCK != 0;
            return Ok(());
        }
        let f = self.file_mut(fd)?;
        if flags & (fdflags::DSYNC | fdflags::SYNC | fdflags::RSYNC) != 0 {
            return Err(errno::INVAL);
        }
        f.append = flags & fdflags::APPEND != 0;
        f.nonblock = flags & fdflags::NONBLOCK != 0;
        Ok(())
    }

    pub fn fd_fdstat_set_rights(&mut self, fd: u32, base: u64, inh: u64) -> WasiResult {
        if (base | inh) & !rights::ALL != 0 {
            return Err(errno::INVAL);
        }
        self.entry(fd)?;
        Err(errno::NOTSUP)
    }

    pub fn fd_filestat_get(&mut self, mem: &mut GuestMemory, fd: u32, buf: u32) -> WasiResult {
        let (fs, fid) = match self.entry(fd)? {
            Entry::File(f) => (f.fs, f.fid),
            Entry::Dir(d) => (d.fs, d.fid),
            _ => {
                return write_filestat(mem, buf, 0, &Stat::default(), filetype::UNKNOWN);
            }
        };
        let st = self.fs[fs].getattr(fid)?;
        write_filestat(mem, buf, DEV_BASE + fs as u64, &st, filetype_of(&st))
    }

    pub fn fd_filestat_set_size(&mut self, fd: u32, size: u64) -> WasiResult {
        match self.entry(fd)? {
            Entry::File(f) => {
                if !f.os_write {
                    return Err(errno::INVAL);
                }
                if size > i64::MAX as u64 {
                    return Err(errno::INVAL);
                }
                let (fs, fid) = (f.fs, f.fid);
                self.fs[fs].setattr(
                    fid,
                    &SetAttr {
                        valid: setattr::SIZE,
                        size,
                        ..SetAttr::default()
                    },
                )
            }
            _ => Err(errno::BADF),
        }
    }

    pub fn fd_filestat_set_times(&mut self, fd: u32, atim: u64, mtim: u64, fst: u32) -> WasiResult {
        let a = times_attr(atim, mtim, fst as u16).and_then(|a| {
            if fst > 0xffff {
                Err(errno::INVAL)
            } else {
                Ok(a)
            }
        })?;
        let (fs, fid) = match self.entry(fd)? {
            Entry::File(f) => (f.fs, f.fid),
            Entry::Dir(d) => (d.fs, d.fid),
            _ => return Ok(()),
        };
        if a.valid == 0 {
            return Ok(());
        }
        self.fs[fs].setattr(fid, &a)
    }

    pub fn fd_advise(&mut self, fd: u32, _offset: u64, _len: u64, advice: u32) -> WasiResult {
        if advice > u32::from(advice::NOREUSE) {
            return Err(errno::INVAL);
        }
        match self.entry(fd)? {
            Entry::File(_) => Ok(()),
            _ => Err(errno::BADF),
        }
    }

    pub fn fd_allocate(&mut self, fd: u32, _offset: u64, _len: u64) -> WasiResult {
        self.is_file(fd)?;
        Err(errno::NOTSUP)
    }

    pub fn fd_sync(&mut self, fd: u32, datasync: bool) -> WasiResult {
        self.is_file(fd)?;
        if let Entry::File(f) = self.entry(fd)? {
            let (fs, fid) = (f.fs, f.fid);
            self.fs[fs].fsync(fid, datasync)?;
        }
        Ok(())
    }

    pub fn fd_close(&mut self, fd: u32) -> WasiResult {
        let e = self.fds.remove(fd).ok_or(errno::BADF)?;
        self.release(e);
        Ok(())
    }

    pub fn fd_renumber(&mut self, from: u32, to: u32) -> WasiResult {
        if !self.fds.contains(from) || !self.fds.contains(to) {
            return Err(errno::BADF);
        }
        let e = self.fds.remove(from).ok_or(errno::BADF)?;
        if let Some(old) = self.fds.insert(to, e) {
            self.release(old);
        }
        Ok(())
    }

    pub fn fd_prestat_get(&mut self, mem: &mut GuestMemory, fd: u32, buf: u32) -> WasiResult {
        match self.fds.get(fd) {
            Some(Entry::Dir(d)) => match &d.preopen {
                Some(name) => {
                    let n = name.len() as u32;
                    mem.write(buf, u32::from(preopentype::DIR))?;
                    mem.write(buf + 4, n)
                }
                None => Err(errno::NOTSUP),
            },
            _ => Err(errno::BADF),
        }
    }

    pub fn fd_prestat_dir_name(
        &mut self,
        mem: &mut GuestMemory,
        fd: u32,
        path: u32,
        len: u32,
    ) -> WasiResult {
        match self.fds.get(fd) {
            Some(Entry::Dir(d)) => match &d.preopen {
                Some(name) => {
                    if name.len() > len as usize {
                        return Err(errno::NAMETOOLONG);
                    }
                    mem.bytes_mut(path, name.len() as u32)?
                        .copy_from_slice(name);
                    Ok(())
                }
                None => Err(errno::NOTSUP),
            },
            _ => Err(errno::NOTDIR),
        }
    }

    pub fn fd_readdir(
        &mut self,
        mem: &mut GuestMemory,
        fd: u32,
        buf: u32,
        buf_len: u32,
        cookie: u64,
        bufused: u32,
    ) -> WasiResult {
        let (fs, fid) = self.dir(fd)?;
        let be = &mut self.fs[fs];
        let st = be.getattr(fid)?;
        // `.` and `..` first (both with the directory's own inode, like Wasmtime), then the
        // server's entries in its order.
        let mut ents: Vec<(u64, u8, Vec<u8>)> = vec![
            (st.ino, filetype::DIRECTORY, b".".to_vec()),
            (st.ino, filetype::DIRECTORY, b"..".to_vec()),
        ];
        let (rd, _) = be.walk(fid, &[])?;
        let r: Result<(), Errno> = (|| {
            be.lopen(rd, lo::RDONLY | lo::DIRECTORY)?;
            let mut off = 0;
            loop {
                let batch = be.readdir(rd, off)?;
                if batch.is_empty() {
                    return Ok(());
                }
                for e in batch {
                    off = e.offset;
                    if e.name == b"." || e.name == b".." {
                        continue;
                    }
                    ents.push((e.qid.path, filetype_of_dt(e.ty), e.name));
                }
            }
        })();
        be.clunk(rd);
        r?;
        let mut used: u32 = 0;
        for (i, (ino, ft, name)) in ents
            .iter()
            .enumerate()
            .skip(cookie.min(usize::MAX as u64) as usize)
        {
            let mut d = [0u8; 24];
            d[0..8].copy_from_slice(&(i as u64 + 1).to_le_bytes());
            d[8..16].copy_from_slice(&ino.to_le_bytes());
            d[16..20].copy_from_slice(&(name.len() as u32).to_le_bytes());
            d[20] = *ft;
            for part in [&d[..], &name[..]] {
                let n = (part.len() as u32).min(buf_len - used);
                mem.bytes_mut(buf + used, n)?
                    .copy_from_slice(&part[..n as usize]);
                used += n;
                if n < part.len() as u32 {
                    return mem.write(bufused, buf_len);
                }
            }
        }
        mem.write(bufused, used)
    }
}
