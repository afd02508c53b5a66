//! The preopened directories of the Linux target: [`HostDir`], the
//! [`hako_kernel::wasi::vfs::Backend`] of one host directory, doing what QEMU's 9p server
//! (`local` driver, `security_model=passthrough`/`none`) does for the unikernel, so that a
//! program sees the same results on both targets.
//!
//! **Fids are file descriptors.** Every fid holds a descriptor of its file: an `O_PATH`
//! descriptor (opened without following a symbolic link, so a fid can stand for the link
//! itself) from the moment it is walked, replaced by an ordinary one when the fid is
//! opened (`lopen`, `lcreate`). A walk opens one component at a time *relative to the
//! previous component's descriptor*, never by a path, so nothing renamed or replaced on
//! the host between two calls can move a fid out of the directory: a directory swapped for
//! a symbolic link after it was walked is never followed (`O_NOFOLLOW` on every component,
//! and a link's `O_PATH` descriptor is not a directory anyone can open a name in).
//!
//! **Opening reopens by name.** An `O_PATH` descriptor cannot be read or written, and
//! Linux reopens one only through `/proc/self/fd` (a magic link, which needs `/proc`
//! mounted and is what `RESOLVE_NO_MAGICLINKS` exists to refuse). So each fid also keeps
//! its parent directory's descriptor and its name, and `lopen` opens that name in that
//! directory again (a directory simply opens `.` through its own descriptor), then checks
//! that the descriptor it got is the same file (device and inode) as the fid's: if the
//! name was meanwhile given to another file, the open fails with `ENOENT` instead of
//! opening the wrong one. The same parent and name serve `link`, and time and mode
//! changes of a file that is not open, always without following a final symbolic link.
//! (A name swapped for another file between the two is still opened with the flags asked
//! for, `O_TRUNC` included, before the check: a file inside the directory the program
//! could have opened by that name itself.) A walked fid costs one host descriptor and
//! keeps its parent's open, so an open file costs two.
//!
//! **`openat2`.** Every lookup of a name goes through `openat2` with
//! `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS` (with `O_NOFOLLOW`, so
//! the `O_PATH` walk of a final symbolic link returns the link): the host kernel itself
//! refuses anything that would leave the directory it starts from. Where `openat2` is
//! missing (Linux before 5.6, or a seccomp filter that does not know it, found out once
//! when the directory is opened or at the first `ENOSYS`) plain `openat` with
//! `O_NOFOLLOW` does the same job: names are single components (no `/`, never `..`;
//! [`hako_kernel::wasi::resolve`] expands `..` and symbolic links itself, and this module
//! refuses such names again with `EPERM`, the errno `resolve` gives every escape), so
//! `openat2` is a second wall, not the only one. A walk that fails after its first name
//! is `ENOENT`, whatever the host said, as QEMU answers it (with the names it could walk,
//! which the 9P client takes as `ENOENT`).
//!
//! **Read-only** directories refuse every change with `EROFS` before touching the host
//! (creating, writing, `setattr`, `mkdir`, `unlinkat`, `renameat`, `symlink`, `link`, and
//! opening for writing, truncating or appending), as QEMU's `readonly=on` does; `fsync`
//! is allowed there, as in QEMU.
//!
//! Files and directories are created with the mode the WASI layer asks for (it has applied
//! the program's umask); the process umask applies on top. `readdir` returns the host's
//! entries (`.` and `..` included, as QEMU does; the WASI layer drops them) with the host's
//! directory cookies (`d_off`) as offsets: the next call seeks to the last one it got.
//! Host errors become WASI errno values in one place, [`wasi_errno`].

use hako_abi::wasi::errno;
use hako_kernel::guest::Errno;
use hako_kernel::wasi::vfs::{
    self, oflags as lo, setattr, Backend, DirEnt, Fid, Qid, SetAttr, Stat,
};
use rustix::fs::{
    AtFlags, FileType, Mode, OFlags, RawDir, ResolveFlags, SeekFrom, Timespec, Timestamps,
    UTIME_NOW, UTIME_OMIT,
};
use rustix::io::{self, Errno as HostErrno};
use std::ffi::{CStr, CString};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// What every lookup through `openat2` refuses: leaving the starting directory, and
/// following any symbolic link (magic links included).
const RESOLVE: ResolveFlags = ResolveFlags::BENEATH
    .union(ResolveFlags::NO_SYMLINKS)
    .union(ResolveFlags::NO_MAGICLINKS);

/// Bytes of `getdents64` records one `readdir` call reads.
const READDIR_BUF: usize = 16 * 1024;

/// The fid of the directory itself.
const ROOT: Fid = 0;

/// A host errno as the WASI errno the program sees. Numbers the 9P client would receive
/// from QEMU map the same way as [`hako_kernel::p9::linux_to_wasi`] maps them, so both
/// targets report the same errors; anything unexpected is `EIO`.
pub fn wasi_errno(e: HostErrno) -> Errno {
    use HostErrno as E;
    match e {
        E::PERM => errno::PERM,
        E::NOENT => errno::NOENT,
        E::SRCH => errno::SRCH,
        E::INTR => errno::INTR,
        E::IO => errno::IO,
        E::NXIO => errno::NXIO,
        E::TOOBIG => errno::TOOBIG,
        E::NOEXEC => errno::NOEXEC,
        E::BADF => errno::BADF,
        E::CHILD => errno::CHILD,
        E::AGAIN => errno::AGAIN,
        E::NOMEM => errno::NOMEM,
        E::ACCESS => errno::ACCES,
        E::FAULT => errno::FAULT,
        E::BUSY => errno::BUSY,
        E::EXIST => errno::EXIST,
        E::XDEV => errno::XDEV,
        E::NODEV => errno::NODEV,
        E::NOTDIR => errno::NOTDIR,
        E::ISDIR => errno::ISDIR,
        E::INVAL => errno::INVAL,
        E::NFILE => errno::NFILE,
        E::MFILE => errno::MFILE,
        E::NOTTY => errno::NOTTY,
        E::TXTBSY => errno::TXTBSY,
        E::FBIG => errno::FBIG,
        E::NOSPC => errno::NOSPC,
        E::SPIPE => errno::SPIPE,
        E::ROFS => errno::ROFS,
        E::MLINK => errno::MLINK,
        E::PIPE => errno::PIPE,
        E::DOM => errno::DOM,
        E::RANGE => errno::RANGE,
        E::DEADLK => errno::DEADLK,
        E::NAMETOOLONG => errno::NAMETOOLONG,
        E::NOLCK => errno::NOLCK,
        E::NOSYS => errno::NOSYS,
        E::NOTEMPTY => errno::NOTEMPTY,
        E::LOOP => errno::LOOP,
        E::OVERFLOW => errno::OVERFLOW,
        E::ILSEQ => errno::ILSEQ,
        E::NOTSUP => errno::NOTSUP,
        E::TIMEDOUT => errno::TIMEDOUT,
        E::STALE => errno::STALE,
        E::DQUOT => errno::DQUOT,
        E::CANCELED => errno::CANCELED,
        _ => errno::IO,
    }
}

/// What kind of file a fid stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Dir,
    Symlink,
    /// A regular file or anything else that is neither.
    Other,
}

impl Kind {
    fn of(st: &rustix::fs::Stat) -> Kind {
        match FileType::from_raw_mode(st.st_mode as _) {
            FileType::Directory => Kind::Dir,
            FileType::Symlink => Kind::Symlink,
            _ => Kind::Other,
        }
    }
}

/// Where a fid was found: its directory's descriptor and its name there.
#[derive(Debug, Clone)]
struct Parent {
    dir: Arc<OwnedFd>,
    name: CString,
}

/// One fid: a descriptor of its file and what the operations need besides.
#[derive(Debug)]
struct Node {
    /// `O_PATH` (walked) or open for I/O (after `lopen`/`lcreate`); shared by clones.
    fd: Arc<OwnedFd>,
    kind: Kind,
    /// The file's identity, to check that reopening by name found the same file.
    dev: u64,
    ino: u64,
    /// `None` only for the directory itself and its clones.
    parent: Option<Parent>,
    /// The access mode `fd` was opened with, once this fid was opened.
    open: Option<OFlags>,
}

impl Node {
    fn qid(&self) -> Qid {
        Qid {
            ty: match self.kind {
                Kind::Dir => vfs::QT_DIR,
                Kind::Symlink => vfs::QT_SYMLINK,
                Kind::Other => 0,
            },
            version: 0,
            path: self.ino,
        }
    }

    fn parent(&self) -> Result<&Parent, Errno> {
        self.parent.as_ref().ok_or(errno::BADF)
    }
}

/// A host directory preopened for the program: a [`Backend`] whose fids are host file
/// descriptors (see the module documentation).
#[derive(Debug)]
pub struct HostDir {
    nodes: Vec<Option<Node>>,
    free: Vec<Fid>,
    read_only: bool,
    /// `openat2` works here (cleared at the first `ENOSYS`).
    openat2: AtomicBool,
}

/// A host result with its error as a WASI errno.
fn host<T>(r: io::Result<T>) -> Result<T, Errno> {
    r.map_err(wasi_errno)
}

/// Retry a system call interrupted by a signal.
fn retry<T>(mut f: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    loop {
        match f() {
            Err(HostErrno::INTR) => continue,
            r => return r,
        }
    }
}

/// A name to look up, create or remove in one directory: one component. Anything that
/// could reach another directory (`..`, a `/`) is `EPERM`, as [`hako_kernel::wasi::resolve`]
/// refuses every path that would leave its directory; what is no name at all (empty, `.`,
/// a NUL byte) is `EINVAL`.
fn component(name: &[u8]) -> Result<CString, Errno> {
    if name == b".." || name.contains(&b'/') {
        return Err(errno::PERM);
    }
    if name.is_empty() || name == b"." {
        return Err(errno::INVAL);
    }
    if name.len() > 255 {
        return Err(errno::NAMETOOLONG);
    }
    CString::new(name).map_err(|_| errno::INVAL)
}

fn nanos(sec: i128, nsec: i128) -> u64 {
    (sec * 1_000_000_000 + nsec).clamp(0, u64::MAX as i128) as u64
}

fn timespec(ns: u64) -> Timespec {
    Timespec {
        tv_sec: (ns / 1_000_000_000) as _,
        tv_nsec: (ns % 1_000_000_000) as _,
    }
}

/// The `DT_*` value of a directory entry's type.
fn dt_of(ft: FileType) -> u8 {
    match ft {
        FileType::Fifo => 1,
        FileType::CharacterDevice => 2,
        FileType::Directory => 4,
        FileType::BlockDevice => 6,
        FileType::RegularFile => 8,
        FileType::Symlink => 10,
        FileType::Socket => 12,
        _ => 0,
    }
}

/// The host open flags for a 9P `lopen`/`lcreate` request: its access mode, `O_TRUNC`,
/// `O_APPEND` and `O_DIRECTORY` (the rest, `O_CREAT`/`O_EXCL` included, is the caller's).
fn open_flags(flags: u32) -> OFlags {
    let mut o = match flags & 3 {
        lo::WRONLY => OFlags::WRONLY,
        lo::RDWR => OFlags::RDWR,
        _ => OFlags::RDONLY,
    };
    if flags & lo::TRUNC != 0 {
        o |= OFlags::TRUNC;
    }
    if flags & O_APPEND != 0 {
        o |= OFlags::APPEND;
    }
    if flags & lo::DIRECTORY != 0 {
        o |= OFlags::DIRECTORY;
    }
    o
}

/// Linux `O_APPEND` (not among [`vfs::oflags`]: the WASI layer appends by itself).
const O_APPEND: u32 = 0o2000;

/// Whether a 9P open request asks for any change.
fn opens_for_change(flags: u32) -> bool {
    flags & 3 != lo::RDONLY || flags & (lo::TRUNC | O_APPEND) != 0
}

impl HostDir {
    /// Open the host directory `path` (following symbolic links on the way: it is the
    /// user's choice). A missing directory, a file that is not one, or a directory this
    /// process may not read and search is an error, for the caller to report before the
    /// program starts.
    pub fn open(path: &Path, read_only: bool) -> Result<HostDir, std::io::Error> {
        let fd = rustix::fs::open(
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        rustix::fs::accessat(&fd, ".", rustix::fs::Access::EXEC_OK, AtFlags::empty())?;
        let st = rustix::fs::fstat(&fd)?;
        // openat2 can be missing (ENOSYS) or refused by a seccomp filter that predates it
        // (EPERM, which no O_PATH open of "." gives otherwise).
        let openat2 = !matches!(
            rustix::fs::openat2(
                &fd,
                ".",
                OFlags::PATH | OFlags::CLOEXEC,
                Mode::empty(),
                RESOLVE
            ),
            Err(HostErrno::NOSYS | HostErrno::PERM)
        );
        let root = Node {
            fd: Arc::new(fd),
            kind: Kind::Dir,
            dev: st.st_dev as u64,
            ino: st.st_ino as u64,
            parent: None,
            open: None,
        };
        Ok(HostDir {
            nodes: vec![Some(root)],
            free: Vec::new(),
            read_only,
            openat2: AtomicBool::new(openat2),
        })
    }

    /// Use plain `openat` from now on, as where `openat2` is missing (for the tests).
    #[cfg(test)]
    pub(crate) fn without_openat2(self) -> Self {
        self.openat2.store(false, Ordering::Relaxed);
        self
    }

    /// Fids in use, the directory's own included (for the tests).
    #[cfg(test)]
    pub(crate) fn live_fids(&self) -> usize {
        self.nodes.iter().filter(|n| n.is_some()).count()
    }

    fn node(&self, fid: Fid) -> Result<&Node, Errno> {
        self.nodes
            .get(fid as usize)
            .and_then(Option::as_ref)
            .ok_or(errno::BADF)
    }

    fn node_mut(&mut self, fid: Fid) -> Result<&mut Node, Errno> {
        self.nodes
            .get_mut(fid as usize)
            .and_then(Option::as_mut)
            .ok_or(errno::BADF)
    }

    fn writable(&self) -> Result<(), Errno> {
        if self.read_only {
            Err(errno::ROFS)
        } else {
            Ok(())
        }
    }

    fn insert(&mut self, node: Node) -> Fid {
        match self.free.pop() {
            Some(f) => {
                self.nodes[f as usize] = Some(node);
                f
            }
            None => {
                self.nodes.push(Some(node));
                (self.nodes.len() - 1) as Fid
            }
        }
    }

    /// Open the single component `name` in `dir`, never following a symbolic link and
    /// never leaving `dir`: `openat2` with [`RESOLVE`] where the host has it, `openat` with
    /// `O_NOFOLLOW` otherwise.
    fn open_beneath(
        &self,
        dir: BorrowedFd<'_>,
        name: &CStr,
        flags: OFlags,
        mode: Mode,
    ) -> io::Result<OwnedFd> {
        let mut flags = flags | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        if !flags.contains(OFlags::PATH) {
            // (openat2 refuses O_PATH with anything but O_DIRECTORY, O_NOFOLLOW, O_CLOEXEC.)
            flags |= OFlags::NOCTTY;
        }
        if self.openat2.load(Ordering::Relaxed) {
            // EAGAIN: a concurrent rename somewhere; openat2 asks to try again.
            let mut again = 0;
            loop {
                match retry(|| rustix::fs::openat2(dir, name, flags, mode, RESOLVE)) {
                    Err(HostErrno::AGAIN) if again < 16 => again += 1,
                    Err(HostErrno::NOSYS) => {
                        self.openat2.store(false, Ordering::Relaxed);
                        break;
                    }
                    r => return r,
                }
            }
        }
        retry(|| rustix::fs::openat(dir, name, flags, mode))
    }

    /// The node `name` in `dir`: an `O_PATH` descriptor of it.
    fn lookup(&self, dir: &Arc<OwnedFd>, name: &[u8]) -> Result<Node, Errno> {
        let name = component(name)?;
        let fd = host(self.open_beneath(dir.as_fd(), &name, OFlags::PATH, Mode::empty()))?;
        let st = host(rustix::fs::fstat(&fd))?;
        Ok(Node {
            fd: Arc::new(fd),
            kind: Kind::of(&st),
            dev: st.st_dev as u64,
            ino: st.st_ino as u64,
            parent: Some(Parent {
                dir: dir.clone(),
                name,
            }),
            open: None,
        })
    }

    /// Open the file of `node` again by its name, with `flags` (an `O_NONBLOCK` open, so a
    /// FIFO does not wait for a writer, cleared afterwards), and check it is still the same
    /// file. A directory opens `.` through its own descriptor.
    fn reopen(&self, node: &Node, flags: OFlags) -> Result<OwnedFd, Errno> {
        let flags = flags | OFlags::NONBLOCK;
        let fd = if node.kind == Kind::Dir {
            host(retry(|| {
                rustix::fs::openat(
                    &*node.fd,
                    ".",
                    flags | OFlags::CLOEXEC | OFlags::NOCTTY,
                    Mode::empty(),
                )
            }))?
        } else {
            if flags.contains(OFlags::DIRECTORY) {
                return Err(errno::NOTDIR);
            }
            let p = node.parent()?;
            host(self.open_beneath(p.dir.as_fd(), &p.name, flags, Mode::empty()))?
        };
        let st = host(rustix::fs::fstat(&fd))?;
        if (st.st_dev as u64, st.st_ino as u64) != (node.dev, node.ino) {
            return Err(errno::NOENT);
        }
        let fl = host(rustix::fs::fcntl_getfl(&fd))?;
        host(rustix::fs::fcntl_setfl(&fd, fl - OFlags::NONBLOCK))?;
        Ok(fd)
    }

    /// Check that `node`'s name in its directory still is `node` (not following a link).
    fn same_by_name<'a>(&self, node: &'a Node) -> Result<&'a Parent, Errno> {
        let p = node.parent()?;
        let st = host(rustix::fs::statat(
            &*p.dir,
            &*p.name,
            AtFlags::SYMLINK_NOFOLLOW,
        ))?;
        if (st.st_dev as u64, st.st_ino as u64) != (node.dev, node.ino) {
            return Err(errno::NOENT);
        }
        Ok(p)
    }

    fn chmod(&self, node: &Node, mode: u32) -> Result<(), Errno> {
        let mode = Mode::from_raw_mode(mode & 0o7777);
        if node.open.is_some() {
            return host(rustix::fs::fchmod(&*node.fd, mode));
        }
        match node.kind {
            Kind::Dir => host(rustix::fs::chmodat(&*node.fd, ".", mode, AtFlags::empty())),
            // Linux has no modes of symbolic links (QEMU's answer).
            Kind::Symlink => Err(errno::LOOP),
            // fchmod needs a descriptor that is not O_PATH: whichever opens.
            Kind::Other => {
                let fd = match self.reopen(node, OFlags::RDONLY) {
                    Err(errno::ACCES) => self.reopen(node, OFlags::WRONLY)?,
                    r => r?,
                };
                host(rustix::fs::fchmod(&fd, mode))
            }
        }
    }

    fn truncate(&self, node: &Node, size: u64) -> Result<(), Errno> {
        if node.kind == Kind::Dir {
            return Err(errno::ISDIR);
        }
        match node.open {
            Some(acc) if acc != OFlags::RDONLY => host(rustix::fs::ftruncate(&*node.fd, size)),
            _ => {
                let fd = self.reopen(node, OFlags::WRONLY)?;
                host(rustix::fs::ftruncate(&fd, size))
            }
        }
    }

    fn set_times(&self, node: &Node, a: &SetAttr) -> Result<(), Errno> {
        let ts = |valid: u32, set: u32, ns: u64| {
            if a.valid & valid == 0 {
                Timespec {
                    tv_sec: 0,
                    tv_nsec: UTIME_OMIT,
                }
            } else if a.valid & set != 0 {
                timespec(ns)
            } else {
                Timespec {
                    tv_sec: 0,
                    tv_nsec: UTIME_NOW,
                }
            }
        };
        let times = Timestamps {
            last_access: ts(setattr::ATIME, setattr::ATIME_SET, a.atime),
            last_modification: ts(setattr::MTIME, setattr::MTIME_SET, a.mtime),
        };
        if node.open.is_some() {
            return host(rustix::fs::futimens(&*node.fd, &times));
        }
        if node.kind == Kind::Dir {
            return host(rustix::fs::utimensat(
                &*node.fd,
                ".",
                &times,
                AtFlags::empty(),
            ));
        }
        let p = self.same_by_name(node)?;
        host(rustix::fs::utimensat(
            &*p.dir,
            &*p.name,
            &times,
            AtFlags::SYMLINK_NOFOLLOW,
        ))
    }
}

impl Backend for HostDir {
    fn root(&self) -> Fid {
        ROOT
    }

    fn walk(&mut self, fid: Fid, names: &[&[u8]]) -> Result<(Fid, Option<Qid>), Errno> {
        let start = self.node(fid)?;
        let mut cur = Node {
            fd: start.fd.clone(),
            kind: start.kind,
            dev: start.dev,
            ino: start.ino,
            parent: start.parent.clone(),
            open: None,
        };
        for (i, name) in names.iter().enumerate() {
            cur = match self.lookup(&cur.fd, name) {
                Ok(n) => n,
                // QEMU answers a walk that fails after its first name with the names it
                // did walk, which the 9P client reports as ENOENT.
                Err(_) if i > 0 => return Err(errno::NOENT),
                Err(e) => return Err(e),
            };
        }
        let qid = (!names.is_empty()).then(|| cur.qid());
        Ok((self.insert(cur), qid))
    }

    fn clunk(&mut self, fid: Fid) {
        if fid == ROOT {
            return;
        }
        if let Some(slot) = self.nodes.get_mut(fid as usize) {
            if slot.take().is_some() {
                self.free.push(fid);
            }
        }
    }

    fn lopen(&mut self, fid: Fid, flags: u32) -> Result<Qid, Errno> {
        let node = self.node(fid)?;
        if opens_for_change(flags) {
            self.writable()?;
        }
        let o = open_flags(flags);
        let fd = self.reopen(node, o)?;
        let node = self.node_mut(fid)?;
        node.fd = Arc::new(fd);
        node.open = Some(o & OFlags::RWMODE);
        Ok(node.qid())
    }

    fn lcreate(&mut self, fid: Fid, name: &[u8], flags: u32, mode: u32) -> Result<Qid, Errno> {
        self.writable()?;
        let dir = self.node(fid)?.fd.clone();
        let name = component(name)?;
        let mut o = open_flags(flags) | OFlags::CREATE;
        if flags & lo::EXCL != 0 {
            o |= OFlags::EXCL;
        }
        let fd =
            host(self.open_beneath(dir.as_fd(), &name, o, Mode::from_raw_mode(mode & 0o7777)))?;
        let st = host(rustix::fs::fstat(&fd))?;
        let node = Node {
            fd: Arc::new(fd),
            kind: Kind::of(&st),
            dev: st.st_dev as u64,
            ino: st.st_ino as u64,
            parent: Some(Parent { dir, name }),
            open: Some(o & OFlags::RWMODE),
        };
        let q = node.qid();
        *self.node_mut(fid)? = node;
        Ok(q)
    }

    fn read(&mut self, fid: Fid, offset: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        let node = self.node(fid)?;
        if node.open.is_none() {
            return Err(errno::BADF);
        }
        host(retry(|| rustix::io::pread(&*node.fd, &mut *buf, offset)))
    }

    fn write(&mut self, fid: Fid, offset: u64, data: &[u8]) -> Result<usize, Errno> {
        self.writable()?;
        let node = self.node(fid)?;
        if node.open.is_none() {
            return Err(errno::BADF);
        }
        host(retry(|| rustix::io::pwrite(&*node.fd, data, offset)))
    }

    fn getattr(&mut self, fid: Fid) -> Result<Stat, Errno> {
        let st = host(rustix::fs::fstat(&*self.node(fid)?.fd))?;
        Ok(Stat {
            ino: st.st_ino as u64,
            mode: st.st_mode as u32,
            nlink: st.st_nlink as u64,
            size: st.st_size.max(0) as u64,
            atim: nanos(st.st_atime.into(), st.st_atime_nsec.into()),
            mtim: nanos(st.st_mtime.into(), st.st_mtime_nsec.into()),
            ctim: nanos(st.st_ctime.into(), st.st_ctime_nsec.into()),
        })
    }

    fn setattr(&mut self, fid: Fid, a: &SetAttr) -> Result<(), Errno> {
        self.writable()?;
        let node = self.node(fid)?;
        if a.valid & setattr::MODE != 0 {
            self.chmod(node, a.mode)?;
        }
        if a.valid & setattr::SIZE != 0 {
            self.truncate(node, a.size)?;
        }
        if a.valid & (setattr::ATIME | setattr::MTIME) != 0 {
            self.set_times(node, a)?;
        }
        Ok(())
    }

    fn readdir(&mut self, fid: Fid, offset: u64) -> Result<Vec<DirEnt>, Errno> {
        let node = self.node(fid)?;
        if node.open.is_none() {
            return Err(errno::INVAL);
        }
        let fd = &*node.fd;
        host(rustix::fs::seek(fd, SeekFrom::Start(offset)))?;
        let mut buf: Vec<u8> = Vec::with_capacity(READDIR_BUF);
        let mut dir = RawDir::new(fd, buf.spare_capacity_mut());
        let mut out = Vec::new();
        while let Some(ent) = dir.next() {
            let ent = host(ent)?;
            let mut ft = ent.file_type();
            if ft == FileType::Unknown {
                // Some file systems leave d_type to a stat.
                if let Ok(st) = rustix::fs::statat(fd, ent.file_name(), AtFlags::SYMLINK_NOFOLLOW) {
                    ft = FileType::from_raw_mode(st.st_mode as _);
                }
            }
            out.push(DirEnt {
                qid: Qid {
                    ty: match ft {
                        FileType::Directory => vfs::QT_DIR,
                        FileType::Symlink => vfs::QT_SYMLINK,
                        _ => 0,
                    },
                    version: 0,
                    path: ent.ino(),
                },
                offset: ent.next_entry_cookie(),
                ty: dt_of(ft),
                name: ent.file_name().to_bytes().to_vec(),
            });
            if dir.is_buffer_empty() {
                break;
            }
        }
        Ok(out)
    }

    fn mkdir(&mut self, dfid: Fid, name: &[u8], mode: u32) -> Result<(), Errno> {
        self.writable()?;
        let dir = &self.node(dfid)?.fd;
        let name = component(name)?;
        host(rustix::fs::mkdirat(
            &**dir,
            &*name,
            Mode::from_raw_mode(mode & 0o7777),
        ))
    }

    fn unlinkat(&mut self, dfid: Fid, name: &[u8], flags: u32) -> Result<(), Errno> {
        self.writable()?;
        let dir = &self.node(dfid)?.fd;
        let name = component(name)?;
        let at = if flags & vfs::AT_REMOVEDIR != 0 {
            AtFlags::REMOVEDIR
        } else {
            AtFlags::empty()
        };
        host(rustix::fs::unlinkat(&**dir, &*name, at))
    }

    fn renameat(
        &mut self,
        odfid: Fid,
        oname: &[u8],
        ndfid: Fid,
        nname: &[u8],
    ) -> Result<(), Errno> {
        self.writable()?;
        let (odir, ndir) = (&self.node(odfid)?.fd, &self.node(ndfid)?.fd);
        let (oname, nname) = (component(oname)?, component(nname)?);
        host(rustix::fs::renameat(&**odir, &*oname, &**ndir, &*nname))
    }

    fn symlink(&mut self, dfid: Fid, name: &[u8], target: &[u8]) -> Result<(), Errno> {
        self.writable()?;
        let dir = &self.node(dfid)?.fd;
        let name = component(name)?;
        if target.is_empty() {
            return Err(errno::NOENT);
        }
        let target = CString::new(target).map_err(|_| errno::INVAL)?;
        host(rustix::fs::symlinkat(&*target, &**dir, &*name))
    }

    fn readlink(&mut self, fid: Fid) -> Result<Vec<u8>, Errno> {
        let node = self.node(fid)?;
        if node.kind != Kind::Symlink {
            return Err(errno::INVAL);
        }
        Ok(host(rustix::fs::readlinkat(&*node.fd, "", Vec::new()))?.into_bytes())
    }

    fn link(&mut self, dfid: Fid, fid: Fid, name: &[u8]) -> Result<(), Errno> {
        self.writable()?;
        let dir = &self.node(dfid)?.fd;
        let name = component(name)?;
        let node = self.node(fid)?;
        if node.kind == Kind::Dir {
            return Err(errno::PERM);
        }
        // The source by its name, checked to be this fid's file (linkat with
        // AT_EMPTY_PATH would take the descriptor but needs CAP_DAC_READ_SEARCH).
        let p = self.same_by_name(node)?;
        host(rustix::fs::linkat(
            &*p.dir,
            &*p.name,
            &**dir,
            &*name,
            AtFlags::empty(),
        ))
    }

    fn fsync(&mut self, fid: Fid, datasync: bool) -> Result<(), Errno> {
        let node = self.node(fid)?;
        if node.open.is_none() {
            return Err(errno::BADF);
        }
        host(if datasync {
            rustix::fs::fdatasync(&*node.fd)
        } else {
            rustix::fs::fsync(&*node.fd)
        })
    }
}

#[cfg(test)]
mod tests;
