//! The file-system interface the WASI layer uses: 9P2000.L-shaped operations on fids.
//! Implemented by [`crate::p9::Client`] over virtio-9p in the kernel and by an in-memory
//! file system in the unit tests. Errors are WASI errno values.

use crate::guest::Errno;
use alloc::vec::Vec;

/// A server-side handle on a file or directory.
pub type Fid = u32;

/// `qid.type` bits.
pub const QT_DIR: u8 = 0x80;
pub const QT_SYMLINK: u8 = 0x02;

/// The server's identity of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Qid {
    pub ty: u8,
    pub version: u32,
    pub path: u64,
}

impl Qid {
    pub fn is_dir(&self) -> bool {
        self.ty & QT_DIR != 0
    }
    pub fn is_symlink(&self) -> bool {
        self.ty & QT_SYMLINK != 0
    }
}

/// File attributes (`Rgetattr`), times in nanoseconds since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stat {
    pub ino: u64,
    /// `st_mode` (type bits `S_IFMT` and permissions).
    pub mode: u32,
    pub nlink: u64,
    pub size: u64,
    pub atim: u64,
    pub mtim: u64,
    pub ctim: u64,
}

pub const S_IFMT: u32 = 0o170000;
pub const S_IFDIR: u32 = 0o040000;
pub const S_IFREG: u32 = 0o100000;
pub const S_IFLNK: u32 = 0o120000;
pub const S_IFCHR: u32 = 0o020000;
pub const S_IFBLK: u32 = 0o060000;
pub const S_IFSOCK: u32 = 0o140000;

/// `Tsetattr` valid bits.
pub mod setattr {
    pub const MODE: u32 = 0x1;
    pub const SIZE: u32 = 0x8;
    pub const ATIME: u32 = 0x10;
    pub const MTIME: u32 = 0x20;
    pub const CTIME: u32 = 0x40;
    pub const ATIME_SET: u32 = 0x80;
    pub const MTIME_SET: u32 = 0x100;
}

/// A `Tsetattr` request; times in nanoseconds since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SetAttr {
    pub valid: u32,
    pub mode: u32,
    pub size: u64,
    pub atime: u64,
    pub mtime: u64,
}

/// One `Rreaddir` entry (`ty` is a Linux `DT_*` value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEnt {
    pub qid: Qid,
    pub offset: u64,
    pub ty: u8,
    pub name: Vec<u8>,
}

/// Linux open flags used with [`Backend::lopen`] / [`Backend::lcreate`].
pub mod oflags {
    pub const RDONLY: u32 = 0;
    pub const WRONLY: u32 = 1;
    pub const RDWR: u32 = 2;
    pub const CREAT: u32 = 0o100;
    pub const EXCL: u32 = 0o200;
    pub const TRUNC: u32 = 0o1000;
    pub const DIRECTORY: u32 = 0o200000;
}

/// `Tunlinkat` flag.
pub const AT_REMOVEDIR: u32 = 0x200;

/// A 9P2000.L file server, seen through fids.
pub trait Backend {
    /// The fid of the export's root (never clunked).
    fn root(&self) -> Fid;
    /// Walk from `fid` through `names` (none: clone); returns a new fid and the last qid.
    /// A name that does not exist is `ENOENT`. Names are single components.
    fn walk(&mut self, fid: Fid, names: &[&[u8]]) -> Result<(Fid, Option<Qid>), Errno>;
    fn clunk(&mut self, fid: Fid);
    fn lopen(&mut self, fid: Fid, flags: u32) -> Result<Qid, Errno>;
    /// Create `name` in directory `fid`, which then stands for the new, open file.
    fn lcreate(&mut self, fid: Fid, name: &[u8], flags: u32, mode: u32) -> Result<Qid, Errno>;
    fn read(&mut self, fid: Fid, offset: u64, buf: &mut [u8]) -> Result<usize, Errno>;
    fn write(&mut self, fid: Fid, offset: u64, data: &[u8]) -> Result<usize, Errno>;
    fn getattr(&mut self, fid: Fid) -> Result<Stat, Errno>;
    fn setattr(&mut self, fid: Fid, attr: &SetAttr) -> Result<(), Errno>;
    /// Entries of the open directory `fid` from server offset `offset` (empty at the end).
    fn readdir(&mut self, fid: Fid, offset: u64) -> Result<Vec<DirEnt>, Errno>;
    fn mkdir(&mut self, dfid: Fid, name: &[u8], mode: u32) -> Result<(), Errno>;
    fn unlinkat(&mut self, dfid: Fid, name: &[u8], flags: u32) -> Result<(), Errno>;
    fn renameat(&mut self, odfid: Fid, oname: &[u8], ndfid: Fid, nname: &[u8])
        -> Result<(), Errno>;
    fn symlink(&mut self, dfid: Fid, name: &[u8], target: &[u8]) -> Result<(), Errno>;
    fn readlink(&mut self, fid: Fid) -> Result<Vec<u8>, Errno>;
    fn link(&mut self, dfid: Fid, fid: Fid, name: &[u8]) -> Result<(), Errno>;
    fn fsync(&mut self, fid: Fid, datasync: bool) -> Result<(), Errno>;
}
