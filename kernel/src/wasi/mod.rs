//! `wasi_snapshot_preview1`: the logic, in safe code, independent of the hardware.
//!
//! The `extern "C"` symbols compiled code calls live in `hw::wasi`; each turns its raw
//! arguments into a [`GuestMemory`] and calls the method of [`WasiCtx`] of the same name.
//! The machine is reached through [`Host`] and the preopened directories through
//! [`vfs::Backend`] (virtio-9p in the kernel), both faked by the unit tests.
//!
//! Results follow Wasmtime's `wasi-common` (the reference the runner compares against):
//! the same errno values, the same descriptor numbering (never reused), the same cap-std
//! sandbox rules (see [`path`]).

pub mod fdtable;
pub mod path;
pub mod vfs;

use crate::guest::{Errno, GuestMemory};
use alloc::boxed::Box;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;
use fdtable::FdTable;
use hako_abi::wasi::{
    advice, clockid, errno, eventtype, fdflags, filetype, fstflags, lookupflags, oflags,
    preopentype, riflags, rights, sdflags, subclockflags, whence, FUNCTIONS,
};
use path::{resolve, Resolved};
use rand_chacha::rand_core::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use vfs::{oflags as lo, setattr, Backend, Fid, SetAttr, Stat};

/// Output streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// Clocks (`clockid`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    Realtime,
    Monotonic,
    ProcessCpu,
    ThreadCpu,
}

impl Clock {
    fn from_id(id: u32) -> Option<Clock> {
        Some(match id {
            clockid::REALTIME => Clock::Realtime,
            clockid::MONOTONIC => Clock::Monotonic,
            clockid::PROCESS_CPUTIME_ID => Clock::ProcessCpu,
            clockid::THREAD_CPUTIME_ID => Clock::ThreadCpu,
            _ => return None,
        })
    }
}

/// What WASI needs from the machine.
pub trait Host {
    /// Write program output.
    fn write(&mut self, stream: Stream, bytes: &[u8]);
    /// Read program input (stdin) into `buf`, waiting for at least one byte; 0 is the end.
    fn read_stdin(&mut self, buf: &mut [u8]) -> usize;
    /// Bytes of stdin not read yet (0 at the end).
    fn stdin_pending(&mut self) -> u64;
    /// Write one harness record (without the newline).
    fn record(&mut self, line: fmt::Arguments<'_>);
    /// Nanoseconds on `clock`.
    fn now_ns(&mut self, clock: Clock) -> u64;
    /// Resolution of `clock` in nanoseconds.
    fn resolution_ns(&mut self, clock: Clock) -> u64;
    /// 32 bytes of hardware entropy (RDSEED/RDRAND) to seed the generator.
    fn entropy(&mut self) -> [u8; 32];
    /// End the program with this exit status (after the `exit` record).
    fn exit(&mut self, status: u32) -> !;
    /// End the program with an error that is not an exit (Wasmtime reports a trap).
    fn fail(&mut self, message: &str) -> !;
}

/// Wasmtime's rights of a directory descriptor.
pub const DIR_BASE: u64 = rights::PATH_CREATE_DIRECTORY
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
pub const DIR_INHERITING: u64 = rights::FD_DATASYNC
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

/// The `dev` reported for files of preopen `i` (9P does not carry the host's).
const DEV_BASE: u64 = 0x9000;

/// An open regular file (or other non-directory) on a preopen.
#[derive(Debug)]
struct FileFd {
    fs: usize,
    fid: Fid,
    /// Access the guest asked for (Wasmtime's `FileAccessMode`).
    read: bool,
    write: bool,
    /// The server-side file is open for writing (`O_CREAT` opens for writing too).
    os_write: bool,
    append: bool,
    nonblock: bool,
    pos: u64,
    filetype: u8,
}

#[derive(Debug)]
struct DirFd {
    fs: usize,
    /// An unopened fid of the directory: paths are walked from it.
    fid: Fid,
    preopen: Option<Vec<u8>>,
}

#[derive(Debug)]
enum Entry {
    Stdin,
    Stdout,
    Stderr,
    File(FileFd),
    Dir(DirFd),
}

/// The WASI state of the program.
pub struct WasiCtx {
    args: Vec<Vec<u8>>,
    env: Vec<Vec<u8>>,
    enosys_seen: [bool; FUNCTIONS.len()],
    rng: Option<ChaCha20Rng>,
    fds: FdTable<Entry>,
    next_fd: u32,
    fs: Vec<Box<dyn Backend>>,
    /// The file-mode creation mask applied to files and directories the program creates.
    umask: u32,
}

impl fmt::Debug for WasiCtx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WasiCtx")
            .field("fds", &self.fds)
            .field("next_fd", &self.next_fd)
            .finish_non_exhaustive()
    }
}

type R = Result<(), Errno>;

fn filetype_of(st: &Stat) -> u8 {
    match st.mode & vfs::S_IFMT {
        vfs::S_IFDIR => filetype::DIRECTORY,
        vfs::S_IFREG => filetype::REGULAR_FILE,
        vfs::S_IFLNK => filetype::SYMBOLIC_LINK,
        vfs::S_IFCHR => filetype::CHARACTER_DEVICE,
        vfs::S_IFBLK => filetype::BLOCK_DEVICE,
        vfs::S_IFSOCK => filetype::SOCKET_STREAM,
        _ => filetype::UNKNOWN,
    }
}

fn filetype_of_dt(dt: u8) -> u8 {
    match dt {
        4 => filetype::DIRECTORY,
        8 => filetype::REGULAR_FILE,
        10 => filetype::SYMBOLIC_LINK,
        2 => filetype::CHARACTER_DEVICE,
        6 => filetype::BLOCK_DEVICE,
        12 => filetype::SOCKET_STREAM,
        _ => filetype::UNKNOWN,
    }
}

/// Check an iovec array and every buffer in it; `EFAULT` before anything happens if one
/// does not fit. Never allocates per iovec.
fn check_iovs(mem: &GuestMemory, iovs: u32, n: u32) -> Result<u64, Errno> {
    mem.bytes(iovs, n.checked_mul(8).ok_or(errno::FAULT)?)?;
    let mut total: u64 = 0;
    for i in 0..n {
        let (p, l) = iov(mem, iovs, i)?;
        mem.bytes(p, l)?;
        total += l as u64;
    }
    Ok(total)
}

fn iov(mem: &GuestMemory, iovs: u32, i: u32) -> Result<(u32, u32), Errno> {
    Ok((
        mem.read_elem::<u32>(iovs, 2 * i)?,
        mem.read_elem::<u32>(iovs, 2 * i + 1)?,
    ))
}

/// The first non-empty iovec (Wasmtime reads into that one only), if any.
fn first_iov(mem: &GuestMemory, iovs: u32, n: u32) -> Result<Option<(u32, u32)>, Errno> {
    check_iovs(mem, iovs, n)?;
    for i in 0..n {
        let (p, l) = iov(mem, iovs, i)?;
        if l > 0 {
            return Ok(Some((p, l)));
        }
    }
    Ok(None)
}

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

fn time_spec(set: bool, now: bool) -> Result<(), Errno> {
    if set && now {
        Err(errno::INVAL)
    } else {
        Ok(())
    }
}

/// The `Tsetattr` for WASI `fst_flags`.
fn times_attr(atim: u64, mtim: u64, fst: u16) -> Result<SetAttr, Errno> {
    if fst & !fstflags::ALL != 0 {
        return Err(errno::INVAL);
    }
    time_spec(fst & fstflags::ATIM != 0, fst & fstflags::ATIM_NOW != 0)?;
    time_spec(fst & fstflags::MTIM != 0, fst & fstflags::MTIM_NOW != 0)?;
    let mut a = SetAttr::default();
    if fst & fstflags::ATIM != 0 {
        a.valid |= setattr::ATIME | setattr::ATIME_SET;
        a.atime = atim;
    } else if fst & fstflags::ATIM_NOW != 0 {
        a.valid |= setattr::ATIME;
    }
    if fst & fstflags::MTIM != 0 {
        a.valid |= setattr::MTIME | setattr::MTIME_SET;
        a.mtime = mtim;
    } else if fst & fstflags::MTIM_NOW != 0 {
        a.valid |= setattr::MTIME;
    }
    Ok(a)
}

fn write_filestat(mem: &mut GuestMemory, buf: u32, dev: u64, st: &Stat, ft: u8) -> R {
    mem.bytes_mut(buf, 64)?.fill(0);
    mem.write(buf, dev)?;
    mem.write(buf + 8, st.ino)?;
    mem.write(buf + 16, ft)?;
    mem.write(buf + 24, st.nlink)?;
    mem.write(buf + 32, st.size)?;
    mem.write(buf + 40, st.atim)?;
    mem.write(buf + 48, st.mtim)?;
    mem.write(buf + 56, st.ctim)
}

impl WasiCtx {
    pub fn new(args: Vec<Vec<u8>>, env: Vec<Vec<u8>>) -> Self {
        let fds = FdTable::from_sorted(vec![
            (0, Entry::Stdin),
            (1, Entry::Stdout),
            (2, Entry::Stderr),
        ]);
        WasiCtx {
            args,
            env,
            enosys_seen: [false; FUNCTIONS.len()],
            rng: None,
            fds,
            next_fd: 3,
            umask: hako_abi::boot::DEFAULT_UMASK,
            fs: Vec::new(),
        }
    }

    /// Set the file-mode creation mask (default [`hako_abi::boot::DEFAULT_UMASK`]): files the
    /// program creates get `0o666 & !umask`, directories `0o777 & !umask`.
    pub fn set_umask(&mut self, umask: u32) {
        self.umask = umask & 0o777;
    }

    /// Preopen the root of `fs` as the next descriptor, named `name` for
    /// `fd_prestat_dir_name`.
    pub fn add_preopen(&mut self, name: Vec<u8>, fs: Box<dyn Backend>) -> u32 {
        let root = fs.root();
        self.fs.push(fs);
        let fd = self.push(Entry::Dir(DirFd {
            fs: self.fs.len() - 1,
            fid: root,
            preopen: Some(name),
        }));
        fd
    }

    fn push(&mut self, e: Entry) -> u32 {
        while self.fds.contains(self.next_fd) {
            self.next_fd += 1;
        }
        let fd = self.next_fd;
        self.next_fd += 1;
        self.fds.insert(fd, e);
        fd
    }

    fn release(&mut self, e: Entry) {
        match e {
            Entry::File(f) => self.fs[f.fs].clunk(f.fid),
            Entry::Dir(d) => self.fs[d.fs].clunk(d.fid),
            _ => {}
        }
    }

    /// Record `enosys wasi_snapshot_preview1 <name>` the first time `name` is called and
    /// return `ENOSYS`.
    pub fn enosys(&mut self, host: &mut impl Host, name: &str) -> Errno {
        if let Some(i) = FUNCTIONS.iter().position(|f| f.name == name) {
            if !self.enosys_seen[i] {
                self.enosys_seen[i] = true;
                host.record(format_args!("enosys {} {}", hako_abi::wasi::MODULE, name));
            }
        }
        errno::NOSYS
    }

    // ----- args, environment ---------------------------------------------------------

    fn sizes(list: &[Vec<u8>]) -> (u32, u32) {
        (
            list.len() as u32,
            list.iter().map(|a| a.len() as u32 + 1).sum(),
        )
    }

    fn put_list(list: &[Vec<u8>], mem: &mut GuestMemory, ptrs: u32, buf: u32) -> R {
        let mut at = buf;
        for (i, item) in list.iter().enumerate() {
            mem.write_elem::<u32>(ptrs, i as u32, at)?;
            let n = item.len() as u32;
            let dst = mem.bytes_mut(at, n + 1)?;
            dst[..item.len()].copy_from_slice(item);
            dst[item.len()] = 0;
            at = at.checked_add(n + 1).ok_or(errno::FAULT)?;
        }
        Ok(())
    }

    pub fn args_sizes_get(&mut self, mem: &mut GuestMemory, argc: u32, buf_size: u32) -> R {
        let (n, size) = Self::sizes(&self.args);
        mem.write(argc, n)?;
        mem.write(buf_size, size)
    }

    pub fn args_get(&mut self, mem: &mut GuestMemory, argv: u32, buf: u32) -> R {
        Self::put_list(&self.args, mem, argv, buf)
    }

    pub fn environ_sizes_get(&mut self, mem: &mut GuestMemory, count: u32, buf_size: u32) -> R {
        let (n, size) = Self::sizes(&self.env);
        mem.write(count, n)?;
        mem.write(buf_size, size)
    }

    pub fn environ_get(&mut self, mem: &mut GuestMemory, environ: u32, buf: u32) -> R {
        Self::put_list(&self.env, mem, environ, buf)
    }

    // ----- descriptors ---------------------------------------------------------------

    fn entry(&self, fd: u32) -> Result<&Entry, Errno> {
        self.fds.get(fd).ok_or(errno::BADF)
    }

    /// A descriptor that is not a directory (Wasmtime's `get_file`).
    fn is_file(&self, fd: u32) -> R {
        match self.entry(fd)? {
            Entry::Dir(_) => Err(errno::BADF),
            _ => Ok(()),
        }
    }

    fn file_mut(&mut self, fd: u32) -> Result<&mut FileFd, Errno> {
        match self.fds.get_mut(fd) {
            Some(Entry::File(f)) => Ok(f),
            _ => Err(errno::BADF),
        }
    }

    fn dir(&self, fd: u32) -> Result<(usize, Fid), Errno> {
        match self.fds.get(fd) {
            Some(Entry::Dir(d)) => Ok((d.fs, d.fid)),
            _ => Err(errno::BADF),
        }
    }

    pub fn fd_write(
        &mut self,
        host: &mut impl Host,
        mem: &mut GuestMemory,
        fd: u32,
        iovs: u32,
        iovs_len: u32,
        nwritten: u32,
    ) -> R {
        let e = self.entry(fd)?;
        let stream = match e {
            Entry::Stdout => Some(Stream::Stdout),
            Entry::Stderr => Some(Stream::Stderr),
            Entry::File(f) if f.write => None,
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
    ) -> R {
        match self.entry(fd)? {
            Entry::Stdout | Entry::Stderr => return Err(errno::SPIPE),
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
    ) -> R {
        match self.entry(fd)? {
            Entry::Stdin => {
                let n = match first_iov(mem, iovs, iovs_len)? {
                    Some((p, l)) => host.read_stdin(mem.bytes_mut(p, l)?),
                    None => 0,
                };
                return mem.write(nread, n as u32);
            }
            Entry::File(f) if f.read => {}
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
    ) -> R {
        match self.entry(fd)? {
            Entry::Stdin => return Err(errno::SPIPE),
            Entry::File(f) if f.read => {}
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
    ) -> R {
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

    pub fn fd_tell(&mut self, mem: &mut GuestMemory, fd: u32, offset: u32) -> R {
        match self.entry(fd)? {
            Entry::File(f) => {
                let p = f.pos;
                mem.write(offset, p)
            }
            Entry::Dir(_) => Err(errno::BADF),
            _ => Err(errno::SPIPE),
        }
    }

    pub fn fd_fdstat_get(&mut self, mem: &mut GuestMemory, fd: u32, buf: u32) -> R {
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
        };
        mem.bytes_mut(buf, 24)?.fill(0);
        mem.write(buf, ft)?;
        mem.write::<u16>(buf + 2, flags)?;
        mem.write(buf + 8, base)?;
        mem.write(buf + 16, inh)
    }

    pub fn fd_fdstat_set_flags(&mut self, fd: u32, flags: u32) -> R {
        if flags & !u32::from(fdflags::ALL) != 0 {
            return Err(errno::INVAL);
        }
        let flags = flags as u16;
        let f = self.file_mut(fd)?;
        if flags & (fdflags::DSYNC | fdflags::SYNC | fdflags::RSYNC) != 0 {
            return Err(errno::INVAL);
        }
        f.append = flags & fdflags::APPEND != 0;
        f.nonblock = flags & fdflags::NONBLOCK != 0;
        Ok(())
    }

    pub fn fd_fdstat_set_rights(&mut self, fd: u32, base: u64, inh: u64) -> R {
        if (base | inh) & !rights::ALL != 0 {
            return Err(errno::INVAL);
        }
        self.entry(fd)?;
        Err(errno::NOTSUP)
    }

    pub fn fd_filestat_get(&mut self, mem: &mut GuestMemory, fd: u32, buf: u32) -> R {
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

    pub fn fd_filestat_set_size(&mut self, fd: u32, size: u64) -> R {
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

    pub fn fd_filestat_set_times(&mut self, fd: u32, atim: u64, mtim: u64, fst: u32) -> R {
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

    pub fn fd_advise(&mut self, fd: u32, _offset: u64, _len: u64, advice: u32) -> R {
        if advice > u32::from(advice::NOREUSE) {
            return Err(errno::INVAL);
        }
        match self.entry(fd)? {
            Entry::File(_) => Ok(()),
            _ => Err(errno::BADF),
        }
    }

    pub fn fd_allocate(&mut self, fd: u32, _offset: u64, _len: u64) -> R {
        self.is_file(fd)?;
        Err(errno::NOTSUP)
    }

    pub fn fd_sync(&mut self, fd: u32, datasync: bool) -> R {
        self.is_file(fd)?;
        if let Entry::File(f) = self.entry(fd)? {
            let (fs, fid) = (f.fs, f.fid);
            self.fs[fs].fsync(fid, datasync)?;
        }
        Ok(())
    }

    pub fn fd_close(&mut self, fd: u32) -> R {
        let e = self.fds.remove(fd).ok_or(errno::BADF)?;
        self.release(e);
        Ok(())
    }

    pub fn fd_renumber(&mut self, from: u32, to: u32) -> R {
        if !self.fds.contains(from) || !self.fds.contains(to) {
            return Err(errno::BADF);
        }
        let e = self.fds.remove(from).ok_or(errno::BADF)?;
        if let Some(old) = self.fds.insert(to, e) {
            self.release(old);
        }
        Ok(())
    }

    pub fn fd_prestat_get(&mut self, mem: &mut GuestMemory, fd: u32, buf: u32) -> R {
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
    ) -> R {
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
    ) -> R {
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

    // ----- paths ---------------------------------------------------------------------

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
    ) -> R {
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
    ) -> R {
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
    ) -> R {
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
    ) -> R {
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
    ) -> R {
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
                let exists = path::lookup(&mut *self.fs[fs], start2, &rd.full())?.is_some();
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

    pub fn path_readlink(
        &mut self,
        mem: &mut GuestMemory,
        fd: u32,
        path: u32,
        len: u32,
        buf: u32,
        buf_len: u32,
        out: u32,
    ) -> R {
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
    ) -> R {
        let (fs, start) = self.dir(fd)?;
        let path = guest_path(mem, path, len)?;
        // `dir/` names the directory itself, never a link to one (`ENOTDIR` as in Linux).
        let stripped = trim_slashes(&path);
        let r = resolve(&mut *self.fs[fs], start, stripped, false)?;
        let Some(name) = r.name.clone() else {
            return Err(errno::INVAL);
        };
        match path::lookup(&mut *self.fs[fs], start, &r.full())? {
            None => return Err(errno::NOENT),
            Some(q) if !q.is_dir() => return Err(errno::NOTDIR),
            Some(_) => {}
        }
        let dfid = self.parent_of(fs, start, &r)?;
        let res = self.fs[fs].unlinkat(dfid, &name, vfs::AT_REMOVEDIR);
        self.fs[fs].clunk(dfid);
        res
    }

    pub fn path_unlink_file(&mut self, mem: &mut GuestMemory, fd: u32, path: u32, len: u32) -> R {
        let (fs, start) = self.dir(fd)?;
        let path = guest_path(mem, path, len)?;
        let trailing = path.ends_with(b"/");
        let r = resolve(&mut *self.fs[fs], start, trim_slashes(&path), false)?;
        let Some(name) = r.name.clone() else {
            return Err(errno::ISDIR);
        };
        if trailing {
            return match path::lookup(&mut *self.fs[fs], start, &r.full())? {
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
    ) -> R {
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
        let sq = path::lookup(&mut *self.fs[fs], start, &rs.full())?.ok_or(errno::NOENT)?;
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
    ) -> R {
        let (fs, start) = self.dir(fd)?;
        let target = guest_path(mem, old, old_len)?;
        let path = guest_path(mem, path, len)?;
        if target.first() == Some(&b'/') {
            return Err(errno::PERM);
        }
        let r = resolve(&mut *self.fs[fs], start, &path, false)?;
        let exists = path::lookup(&mut *self.fs[fs], start, &r.full())?.is_some();
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

    // ----- process, clocks, randomness, polling ------------------------------------

    pub fn proc_exit(&mut self, host: &mut impl Host, status: u32) -> ! {
        host.record(format_args!("exit {status}"));
        host.exit(status)
    }

    pub fn proc_raise(&mut self, host: &mut impl Host, _sig: u32) -> R {
        host.fail("proc_raise unsupported")
    }

    pub fn clock_res_get(
        &mut self,
        host: &mut impl Host,
        mem: &mut GuestMemory,
        id: u32,
        out: u32,
    ) -> R {
        // The process and thread CPU-time clocks are real here (Wasmtime's wasi-common
        // refuses them with EBADF): the program is the only process and thread of the VM,
        // so both count the time since it started (see `Host::now_ns`).
        let clock = Clock::from_id(id).ok_or(errno::INVAL)?;
        let res = host.resolution_ns(clock);
        mem.write(out, res)
    }

    pub fn clock_time_get(
        &mut self,
        host: &mut impl Host,
        mem: &mut GuestMemory,
        id: u32,
        _precision: u64,
        out: u32,
    ) -> R {
        let clock = Clock::from_id(id).ok_or(errno::INVAL)?;
        let now = host.now_ns(clock);
        mem.write(out, now)
    }

    pub fn random_get(
        &mut self,
        host: &mut impl Host,
        mem: &mut GuestMemory,
        buf: u32,
        len: u32,
    ) -> R {
        let dst = mem.bytes_mut(buf, len)?;
        let rng = self
            .rng
            .get_or_insert_with(|| ChaCha20Rng::from_seed(host.entropy()));
        rng.fill_bytes(dst);
        Ok(())
    }

    pub fn sched_yield(&mut self) -> R {
        Ok(())
    }

    fn sleep_until(host: &mut impl Host, deadline: u64) {
        while host.now_ns(Clock::Monotonic) < deadline {
            core::hint::spin_loop();
        }
    }

    pub fn poll_oneoff(
        &mut self,
        host: &mut impl Host,
        mem: &mut GuestMemory,
        subs: u32,
        events: u32,
        n: u32,
        nevents: u32,
    ) -> R {
        if n == 0 {
            return Err(errno::INVAL);
        }
        mem.bytes(subs, n.checked_mul(48).ok_or(errno::FAULT)?)?;
        struct Sub {
            userdata: u64,
            tag: u8,
            id: u32,
            timeout: u64,
            flags: u16,
            fd: u32,
        }
        let mut list = Vec::new();
        for i in 0..n {
            let s = subs + 48 * i;
            let tag = mem.read::<u8>(s + 8)?;
            if tag > eventtype::FD_WRITE {
                return Err(errno::INVAL);
            }
            let flags = mem.read::<u16>(s + 40)?;
            if tag == eventtype::CLOCK && flags & !subclockflags::ALL != 0 {
                return Err(errno::INVAL);
            }
            let id = mem.read::<u32>(s + 16)?;
            if tag == eventtype::CLOCK && id > clockid::THREAD_CPUTIME_ID {
                return Err(errno::INVAL);
            }
            list.push(Sub {
                userdata: mem.read(s)?,
                tag,
                id,
                timeout: mem.read(s + 24)?,
                flags,
                fd: id,
            });
        }
        let put = |mem: &mut GuestMemory, k: u32, ud: u64, err: u16, ty: u8, nbytes: u64| -> R {
            let e = events + 32 * k;
            mem.bytes_mut(e, 32)?.fill(0);
            mem.write(e, ud)?;
            mem.write(e + 8, err)?;
            mem.write(e + 10, ty)?;
            mem.write(e + 16, nbytes)
        };
        if n == 1
            && list[0].tag == eventtype::CLOCK
            && list[0].flags & subclockflags::SUBSCRIPTION_CLOCK_ABSTIME == 0
        {
            let now = host.now_ns(Clock::Monotonic);
            Self::sleep_until(host, now.saturating_add(list[0].timeout));
            put(mem, 0, list[0].userdata, 0, eventtype::CLOCK, 0)?;
            return mem.write(nevents, 1u32);
        }
        let mut clocks: Vec<(u64, u64)> = Vec::new();
        let mut reads = Vec::new();
        let mut writes = Vec::new();
        for s in &list {
            match s.tag {
                eventtype::CLOCK => {
                    let now = host.now_ns(Clock::Monotonic);
                    let deadline = match s.id {
                        clockid::MONOTONIC
                            if s.flags & subclockflags::SUBSCRIPTION_CLOCK_ABSTIME != 0 =>
                        {
                            s.timeout
                        }
                        clockid::MONOTONIC => now.checked_add(s.timeout).ok_or(errno::OVERFLOW)?,
                        clockid::REALTIME
                            if s.flags & subclockflags::SUBSCRIPTION_CLOCK_ABSTIME != 0 =>
                        {
                            return Err(errno::NOTSUP)
                        }
                        clockid::REALTIME => now.checked_add(s.timeout).ok_or(errno::OVERFLOW)?,
                        _ => return Err(errno::INVAL),
                    };
                    clocks.push((deadline, s.userdata));
                }
                tag => {
                    self.is_file(s.fd)?;
                    let nbytes = match self.entry(s.fd)? {
                        Entry::Stdin if tag == eventtype::FD_READ => host.stdin_pending(),
                        Entry::File(f) if tag == eventtype::FD_READ => {
                            let (fs, fid, pos) = (f.fs, f.fid, f.pos);
                            self.fs[fs]
                                .getattr(fid)
                                .map(|st| st.size.saturating_sub(pos))
                                .unwrap_or(0)
                        }
                        _ => 0,
                    };
                    if tag == eventtype::FD_READ {
                        reads.push((s.userdata, nbytes));
                    } else {
                        writes.push((s.userdata, nbytes));
                    }
                }
            }
        }
        let mut k = 0;
        if !reads.is_empty() || !writes.is_empty() {
            for (ud, nb) in reads {
                put(mem, k, ud, 0, eventtype::FD_READ, nb)?;
                k += 1;
            }
            for (ud, nb) in writes {
                put(mem, k, ud, 0, eventtype::FD_WRITE, nb)?;
                k += 1;
            }
            return mem.write(nevents, k);
        }
        let (deadline, ud) = clocks.iter().copied().min_by_key(|c| c.0).unwrap_or((0, 0));
        Self::sleep_until(host, deadline);
        put(mem, 0, ud, 0, eventtype::CLOCK, 0)?;
        mem.write(nevents, 1u32)
    }

    // ----- sockets: there is no network, so no descriptor is a socket ----------------
    //
    // A valid descriptor is `ENOTSOCK` (what the WASI testsuite expects; Wasmtime's
    // wasi-common says `EBADF` there, its one failure in the suite), a bad one `EBADF`.

    fn not_sock(&self, fd: u32) -> R {
        self.entry(fd)?;
        Err(errno::NOTSOCK)
    }

    pub fn sock_accept(&mut self, fd: u32, flags: u32) -> R {
        if flags & !u32::from(fdflags::ALL) != 0 {
            return Err(errno::INVAL);
        }
        self.not_sock(fd)
    }

    pub fn sock_recv(
        &mut self,
        mem: &mut GuestMemory,
        fd: u32,
        iovs: u32,
        n: u32,
        flags: u32,
    ) -> R {
        if flags & !u32::from(riflags::ALL) != 0 {
            return Err(errno::INVAL);
        }
        check_iovs(mem, iovs, n)?;
        self.not_sock(fd)
    }

    pub fn sock_send(&mut self, mem: &mut GuestMemory, fd: u32, iovs: u32, n: u32) -> R {
        check_iovs(mem, iovs, n)?;
        self.not_sock(fd)
    }

    pub fn sock_shutdown(&mut self, fd: u32, how: u32) -> R {
        if how & !u32::from(sdflags::ALL) != 0 {
            return Err(errno::INVAL);
        }
        self.not_sock(fd)
    }
}

/// The errno a WASI function returns for a result.
pub fn ret(r: R) -> i32 {
    match r {
        Ok(()) => 0,
        Err(e) => e as i32,
    }
}

#[cfg(test)]
mod memfs;
#[cfg(test)]
mod tests;
