//! The file-system functions against the in-memory backend.

use super::super::fd::DIR_BASE;
use super::super::memfs::{MemFs, Node};
use super::*;
use hako_abi::wasi::eventtype;
use std::boxed::Box;

const P: u32 = 1000; // path buffer
const P2: u32 = 1400; // second path buffer
const OUT: u32 = 8;
const RW: u64 = rights::FD_READ | rights::FD_WRITE;

struct T {
    c: WasiCtx,
    h: FakeHost,
    mem: Vec<u8>,
}

fn setup(f: impl FnOnce(&mut MemFs)) -> T {
    let mut fs = MemFs::new();
    fs.put("file", Node::File(b"hello".to_vec()));
    fs.put("dir/inner", Node::File(b"inner".to_vec()));
    f(&mut fs);
    let mut c = ctx();
    assert_eq!(c.add_preopen(b"/".to_vec(), Box::new(fs)), 3);
    T {
        c,
        h: FakeHost::default(),
        mem: vec![0; 1 << 16],
    }
}

impl T {
    #[allow(dead_code)]
    fn m(&mut self) -> GuestMemory<'_> {
        GuestMemory::new(&mut self.mem)
    }
    fn path(&mut self, at: u32, p: &str) -> u32 {
        self.mem[at as usize..at as usize + p.len()].copy_from_slice(p.as_bytes());
        p.len() as u32
    }
    fn open(
        &mut self,
        p: &str,
        oflags: u16,
        rights: u64,
        fdflags: u16,
        follow: bool,
    ) -> Result<u32, Errno> {
        let n = self.path(P, p);
        let mut mem = std::mem::take(&mut self.mem);
        let mut m = GuestMemory::new(&mut mem);
        let r = self.c.path_open(
            &mut m,
            3,
            follow as u32,
            P,
            n,
            oflags as u32,
            rights,
            0,
            fdflags as u32,
            OUT,
        );
        let fd = m.read::<u32>(OUT).unwrap();
        self.mem = mem;
        r.map(|_| fd)
    }
    fn stat(&mut self, p: &str, follow: bool) -> Result<(u8, u64), Errno> {
        let n = self.path(P, p);
        let mut mem = std::mem::take(&mut self.mem);
        let mut m = GuestMemory::new(&mut mem);
        let r = self.c.path_filestat_get(&mut m, 3, follow as u32, P, n, 64);
        let out = (m.read::<u8>(80).unwrap(), m.read::<u64>(96).unwrap());
        self.mem = mem;
        r.map(|_| out)
    }
    fn write(&mut self, fd: u32, data: &[u8]) -> Result<u32, Errno> {
        self.mem[200..200 + data.len()].copy_from_slice(data);
        let mut mem = std::mem::take(&mut self.mem);
        let mut m = GuestMemory::new(&mut mem);
        m.write(100, 200u32).unwrap();
        m.write(104, data.len() as u32).unwrap();
        let r = self.c.fd_write(&mut self.h, &mut m, fd, 100, 1, OUT);
        let n = m.read::<u32>(OUT).unwrap();
        self.mem = mem;
        r.map(|_| n)
    }
    fn read(&mut self, fd: u32, len: u32) -> Result<Vec<u8>, Errno> {
        let mut mem = std::mem::take(&mut self.mem);
        let mut m = GuestMemory::new(&mut mem);
        m.write(100, 0u32).unwrap();
        m.write(104, 0u32).unwrap();
        m.write(108, 300u32).unwrap();
        m.write(112, len).unwrap();
        let r = self.c.fd_read(&mut self.h, &mut m, fd, 100, 2, OUT);
        let n = m.read::<u32>(OUT).unwrap();
        let out = m.bytes(300, n).unwrap().to_vec();
        self.mem = mem;
        r.map(|_| out)
    }
    fn call2(
        &mut self,
        a: &str,
        b: &str,
        f: impl FnOnce(&mut WasiCtx, &mut GuestMemory, u32, u32) -> WasiResult,
    ) -> WasiResult {
        let na = self.path(P, a);
        let nb = self.path(P2, b);
        let mut mem = std::mem::take(&mut self.mem);
        let r = f(&mut self.c, &mut GuestMemory::new(&mut mem), na, nb);
        self.mem = mem;
        r
    }
}

#[test]
fn prestat_and_preopen_fdstat() {
    let mut t = setup(|_| {});
    let mut mem = std::mem::take(&mut t.mem);
    let mut m = GuestMemory::new(&mut mem);
    t.c.fd_prestat_get(&mut m, 3, 0).unwrap();
    assert_eq!(m.read::<u32>(4), Ok(1));
    t.c.fd_prestat_dir_name(&mut m, 3, 16, 1).unwrap();
    assert_eq!(m.read::<u8>(16), Ok(b'/'));
    assert_eq!(
        t.c.fd_prestat_dir_name(&mut m, 3, 16, 0),
        Err(errno::NAMETOOLONG)
    );
    assert_eq!(t.c.fd_prestat_get(&mut m, 4, 0), Err(errno::BADF));
    assert_eq!(t.c.fd_prestat_get(&mut m, 1, 0), Err(errno::BADF));
    t.c.fd_fdstat_get(&mut m, 3, 32).unwrap();
    assert_eq!(m.read::<u8>(32), Ok(filetype::DIRECTORY));
    assert_eq!(m.read::<u64>(40), Ok(DIR_BASE));
    assert_eq!(t.c.fd_seek(&mut m, 3, 0, 0, 0), Err(errno::BADF));
}

#[test]
fn open_read_write_seek() {
    let mut t = setup(|_| {});
    let fd = t.open("file", 0, RW, 0, false).unwrap();
    assert_eq!(fd, 4);
    assert_eq!(t.read(fd, 3).unwrap(), b"hel");
    assert_eq!(t.read(fd, 10).unwrap(), b"lo");
    assert_eq!(t.read(fd, 10).unwrap(), b"");
    let mut mem = std::mem::take(&mut t.mem);
    let mut m = GuestMemory::new(&mut mem);
    t.c.fd_seek(&mut m, fd, -2, 2, OUT).unwrap();
    assert_eq!(m.read::<u64>(OUT), Ok(3));
    assert_eq!(t.c.fd_seek(&mut m, fd, -10, 1, OUT), Err(errno::INVAL));
    assert_eq!(t.c.fd_seek(&mut m, fd, 0, 3, OUT), Err(errno::INVAL));
    t.mem = mem;
    assert_eq!(t.write(fd, b"LO!").unwrap(), 3);
    // A new descriptor number every time, never reused.
    t.c.fd_close(fd).unwrap();
    let fd2 = t.open("file", 0, rights::FD_READ, 0, false).unwrap();
    assert_eq!(fd2, 5);
    assert_eq!(t.read(fd2, 100).unwrap(), b"helLO!");
    assert_eq!(t.write(fd2, b"x"), Err(errno::BADF));
    // Append mode writes at the end.
    let fd3 = t.open("file", 0, RW, fdflags::APPEND, false).unwrap();
    t.write(fd3, b"++").unwrap();
    assert_eq!(t.read(fd2, 100).unwrap(), b"++");
    // Directories are not files.
    assert_eq!(t.read(3, 1), Err(errno::BADF));
    assert_eq!(t.open("dir", 0, RW, 0, false), Err(errno::ISDIR));
    let d = t
        .open("dir", oflags::DIRECTORY, rights::FD_READ, 0, false)
        .unwrap();
    assert_eq!(
        t.open("file", oflags::DIRECTORY, 0, 0, false),
        Err(errno::NOTDIR)
    );
    t.c.fd_close(d).unwrap();
}

#[test]
fn create_trunc_excl() {
    let mut t = setup(|_| {});
    assert_eq!(t.open("new", 0, RW, 0, false), Err(errno::NOENT));
    let fd = t.open("new", oflags::CREAT, RW, 0, false).unwrap();
    t.write(fd, b"abc").unwrap();
    assert_eq!(
        t.open("new", oflags::CREAT | oflags::EXCL, RW, 0, false),
        Err(errno::EXIST)
    );
    let fd2 = t.open("new", oflags::TRUNC, RW, 0, false).unwrap();
    assert_eq!(t.read(fd2, 10).unwrap(), b"");
    assert_eq!(
        t.open("new/", oflags::CREAT, RW, 0, false),
        Err(errno::NOTDIR)
    );
    assert_eq!(
        t.open("nothere/", oflags::CREAT, RW, 0, false),
        Err(errno::ISDIR)
    );
    assert_eq!(
        t.open("dir", oflags::DIRECTORY | oflags::CREAT, 0, 0, false),
        Err(errno::INVAL)
    );
    assert_eq!(
        t.open("new", 0, RW, fdflags::SYNC, false),
        Err(errno::NOTSUP)
    );
    assert_eq!(t.open("new", 0x10, RW, 0, false), Err(errno::INVAL));
}

#[test]
fn no_escape_from_the_preopen() {
    let mut t = setup(|fs| {
        fs.put("abs", Node::Link(b"/etc/passwd".to_vec()));
        fs.put("up", Node::Link(b"../file".to_vec()));
        fs.put("dir/up2", Node::Link(b"../../file".to_vec()));
        fs.put("dir/ok", Node::Link(b"../file".to_vec()));
        fs.put("chain1", Node::Link(b"chain2".to_vec()));
        fs.put("chain2", Node::Link(b"dir/ok".to_vec()));
        fs.put("loop1", Node::Link(b"loop2".to_vec()));
        fs.put("loop2", Node::Link(b"loop1".to_vec()));
        fs.put("self", Node::Link(b"self/x".to_vec()));
    });
    for p in [
        "..",
        "../file",
        "dir/../../file",
        "/file",
        "/",
        "abs",
        "up",
        "dir/up2",
    ] {
        assert_eq!(t.open(p, 0, 0, 0, true), Err(errno::PERM), "{p}");
    }
    assert_eq!(
        t.stat("dir/../file", true).unwrap().0,
        filetype::REGULAR_FILE
    );
    assert_eq!(t.stat("dir/ok", true).unwrap().0, filetype::REGULAR_FILE);
    assert_eq!(
        t.stat("chain1", true).unwrap(),
        t.stat("file", true).unwrap()
    );
    assert_eq!(t.stat("chain1", false).unwrap().0, filetype::SYMBOLIC_LINK);
    assert_eq!(t.stat("loop1", true), Err(errno::LOOP));
    assert_eq!(t.stat("self", true), Err(errno::LOOP));
    assert_eq!(t.open("loop1", 0, 0, 0, false), Err(errno::LOOP));
    // Not following the last link: the link itself, and opening it is ELOOP.
    assert_eq!(t.stat("abs", false).unwrap().0, filetype::SYMBOLIC_LINK);
    assert_eq!(t.open("abs", 0, 0, 0, false), Err(errno::LOOP));
    // A directory descriptor is a sandbox of its own.
    let d = t.open("dir", oflags::DIRECTORY, 0, 0, false).unwrap();
    let n = t.path(P, "../file");
    let mut mem = std::mem::take(&mut t.mem);
    let mut m = GuestMemory::new(&mut mem);
    assert_eq!(
        t.c.path_open(&mut m, d, 1, P, n, 0, 0, 0, 0, OUT),
        Err(errno::PERM)
    );
    t.mem = mem;
    // No absolute symlinks are created.
    assert_eq!(
        t.call2("/etc", "newlink", |c, m, a, b| c
            .path_symlink(m, P, a, 3, P2, b)),
        Err(errno::PERM)
    );
}

#[test]
fn trailing_slashes_and_removal() {
    let mut t = setup(|fs| {
        fs.put("dlink", Node::Link(b"dir".to_vec()));
    });
    assert_eq!(t.stat("file/", false), Err(errno::NOTDIR));
    assert_eq!(t.stat("dir/", false).unwrap().0, filetype::DIRECTORY);
    assert_eq!(t.stat("dlink/", false).unwrap().0, filetype::DIRECTORY);
    let unlink = |t: &mut T, p: &str| t.call2(p, "", |c, m, a, _| c.path_unlink_file(m, 3, P, a));
    let rmdir =
        |t: &mut T, p: &str| t.call2(p, "", |c, m, a, _| c.path_remove_directory(m, 3, P, a));
    let mkdir =
        |t: &mut T, p: &str| t.call2(p, "", |c, m, a, _| c.path_create_directory(m, 3, P, a));
    assert_eq!(unlink(&mut t, "file/"), Err(errno::NOTDIR));
    assert_eq!(unlink(&mut t, "dir"), Err(errno::ISDIR));
    assert_eq!(unlink(&mut t, "dir/"), Err(errno::ISDIR));
    assert_eq!(rmdir(&mut t, "dir"), Err(errno::NOTEMPTY));
    assert_eq!(rmdir(&mut t, "file"), Err(errno::NOTDIR));
    assert_eq!(rmdir(&mut t, "dlink/"), Err(errno::NOTDIR));
    mkdir(&mut t, "sub/").unwrap();
    assert_eq!(mkdir(&mut t, "sub"), Err(errno::EXIST));
    rmdir(&mut t, "sub/").unwrap();
    unlink(&mut t, "dlink").unwrap();
    unlink(&mut t, "dir/inner").unwrap();
    rmdir(&mut t, "dir").unwrap();
    assert_eq!(t.stat("dir", false), Err(errno::NOENT));
}

#[test]
fn rename_link_readlink_symlink() {
    let mut t = setup(|_| {});
    t.call2("file", "moved", |c, m, a, b| {
        c.path_rename(m, 3, P, a, 3, P2, b)
    })
    .unwrap();
    assert_eq!(t.stat("file", false), Err(errno::NOENT));
    assert_eq!(
        t.call2("moved/", "x", |c, m, a, b| c
            .path_rename(m, 3, P, a, 3, P2, b)),
        Err(errno::NOTDIR)
    );
    t.call2("moved", "hard", |c, m, a, b| {
        c.path_link(m, 3, 0, P, a, 3, P2, b)
    })
    .unwrap();
    assert_eq!(
        t.call2("moved", "hard", |c, m, a, b| c
            .path_link(m, 3, 0, P, a, 3, P2, b)),
        Err(errno::EXIST)
    );
    t.call2("moved", "sym", |c, m, a, b| {
        c.path_symlink(m, P, a, 3, P2, b)
    })
    .unwrap();
    assert_eq!(
        t.call2("x", "sym", |c, m, a, b| c.path_symlink(m, P, a, 3, P2, b)),
        Err(errno::EXIST)
    );
    assert_eq!(
        t.call2("x", "nothere/", |c, m, a, b| c
            .path_symlink(m, P, a, 3, P2, b)),
        Err(errno::NOENT)
    );
    let n = t.path(P, "sym");
    let mut mem = std::mem::take(&mut t.mem);
    let mut m = GuestMemory::new(&mut mem);
    t.c.path_readlink(&mut m, 3, P, n, 500, 3, OUT).unwrap();
    assert_eq!(m.read::<u32>(OUT), Ok(3));
    assert_eq!(m.bytes(500, 3).unwrap(), b"mov");
    let n2 = 5;
    m.bytes_mut(P, 5).unwrap().copy_from_slice(b"moved");
    assert_eq!(
        t.c.path_readlink(&mut m, 3, P, n2, 500, 30, OUT),
        Err(errno::INVAL)
    );
    let _ = n;
}

#[test]
fn readdir_cookies_and_truncation() {
    let mut t = setup(|_| {});
    let mut mem = std::mem::take(&mut t.mem);
    let mut m = GuestMemory::new(&mut mem);
    t.c.fd_readdir(&mut m, 3, 2000, 4096, 0, OUT).unwrap();
    let used = m.read::<u32>(OUT).unwrap();
    // ".", "..", "dir", "file": 4 headers of 24 bytes and 1+2+3+4 name bytes.
    assert_eq!(used, 4 * 24 + 10);
    assert_eq!(m.read::<u64>(2000), Ok(1));
    assert_eq!(m.bytes(2024, 1).unwrap(), b".");
    t.c.fd_readdir(&mut m, 3, 2000, 4096, 3, OUT).unwrap();
    assert_eq!(m.read::<u32>(OUT), Ok(24 + 4));
    assert_eq!(m.bytes(2024, 4).unwrap(), b"file");
    // A buffer too small is filled completely.
    t.c.fd_readdir(&mut m, 3, 2000, 30, 0, OUT).unwrap();
    assert_eq!(m.read::<u32>(OUT), Ok(30));
    assert_eq!(
        t.c.fd_readdir(&mut m, 1, 2000, 30, 0, OUT),
        Err(errno::BADF)
    );
    assert_eq!(
        t.c.fd_readdir(&mut m, 3, 65530, 4096, 0, OUT),
        Err(errno::FAULT)
    );
}

#[test]
fn bad_pointers_and_huge_iovec_counts() {
    let mut t = setup(|_| {});
    let fd = t.open("file", 0, RW, 0, false).unwrap();
    let mut mem = std::mem::take(&mut t.mem);
    let mut m = GuestMemory::new(&mut mem);
    for n in [u32::MAX, 0x2000_0000, 8193] {
        assert_eq!(
            t.c.fd_write(&mut t.h, &mut m, fd, 0, n, OUT),
            Err(errno::FAULT)
        );
        assert_eq!(
            t.c.fd_read(&mut t.h, &mut m, fd, 0, n, OUT),
            Err(errno::FAULT)
        );
        assert_eq!(
            t.c.fd_write(&mut t.h, &mut m, 1, 0, n, OUT),
            Err(errno::FAULT)
        );
    }
    // An iovec pointing past the end.
    m.write(100, 65530u32).unwrap();
    m.write(104, 100u32).unwrap();
    assert_eq!(
        t.c.fd_read(&mut t.h, &mut m, fd, 100, 1, OUT),
        Err(errno::FAULT)
    );
    assert_eq!(
        t.c.fd_write(&mut t.h, &mut m, fd, 100, 1, OUT),
        Err(errno::FAULT)
    );
    // Paths out of bounds, non-UTF-8 paths.
    assert_eq!(
        t.c.path_open(&mut m, 3, 0, 65535, 10, 0, 0, 0, 0, OUT),
        Err(errno::FAULT)
    );
    m.bytes_mut(P, 2).unwrap().copy_from_slice(&[0xff, 0xfe]);
    assert_eq!(
        t.c.path_open(&mut m, 3, 0, P, 2, 0, 0, 0, 0, OUT),
        Err(errno::ILSEQ)
    );
    assert_eq!(
        t.c.path_filestat_get(&mut m, 3, 0, P, 2, 65530),
        Err(errno::ILSEQ)
    );
    m.bytes_mut(P, 4).unwrap().copy_from_slice(b"file");
    assert_eq!(
        t.c.path_filestat_get(&mut m, 3, 0, P, 4, 65530),
        Err(errno::FAULT)
    );
    assert_eq!(
        t.c.path_open(&mut m, 3, 0, P, 4, 0, RW, 0, 0, 65535),
        Err(errno::FAULT)
    );
    assert_eq!(
        t.c.poll_oneoff(&mut t.h, &mut m, 0, 64, u32::MAX, OUT),
        Err(errno::FAULT)
    );
    assert_eq!(
        t.c.poll_oneoff(&mut t.h, &mut m, 0, 64, 0, OUT),
        Err(errno::INVAL)
    );
    t.mem = mem;
}

#[test]
fn renumber_close_and_rights() {
    let mut t = setup(|_| {});
    let fd = t.open("file", 0, rights::FD_READ, 0, false).unwrap();
    assert_eq!(t.c.fd_renumber(fd, 10), Err(errno::BADF));
    let fd2 = t.open("dir/inner", 0, rights::FD_READ, 0, false).unwrap();
    t.c.fd_renumber(fd, fd2).unwrap();
    assert_eq!(t.read(fd2, 10).unwrap(), b"hello");
    assert_eq!(t.read(fd, 10), Err(errno::BADF));
    let mut mem = std::mem::take(&mut t.mem);
    let mut m = GuestMemory::new(&mut mem);
    t.c.fd_fdstat_get(&mut m, fd2, 32).unwrap();
    assert_eq!(m.read::<u8>(32), Ok(filetype::REGULAR_FILE));
    assert_eq!(m.read::<u64>(40), Ok(rights::FD_READ));
    assert_eq!(t.c.fd_fdstat_set_rights(fd2, 0, 0), Err(errno::NOTSUP));
    assert_eq!(t.c.fd_filestat_set_size(fd2, 0), Err(errno::INVAL));
    assert_eq!(t.c.fd_allocate(fd2, 0, 1), Err(errno::NOTSUP));
    assert_eq!(t.c.fd_allocate(3, 0, 1), Err(errno::BADF));
    assert_eq!(t.c.fd_filestat_set_times(fd2, 1, 1, 3), Err(errno::INVAL));
    t.c.fd_filestat_set_times(fd2, 0, 5, fstflags::MTIM as u32)
        .unwrap();
    t.c.fd_filestat_get(&mut m, fd2, 64).unwrap();
    assert_eq!(m.read::<u64>(64 + 48), Ok(5));
    // Preopens can be closed (Wasmtime 46).
    t.c.fd_close(3).unwrap();
    assert_eq!(t.c.fd_prestat_get(&mut m, 3, 0), Err(errno::BADF));
    t.mem = mem;
}

#[test]
fn stdin_reads_until_the_end() {
    let mut t = setup(|_| {});
    t.h.stdin = b"piped".to_vec();
    assert_eq!(t.read(0, 3).unwrap(), b"pip");
    assert_eq!(t.read(0, 30).unwrap(), b"ed");
    assert_eq!(t.read(0, 30).unwrap(), b"");
    assert_eq!(t.write(0, b"x"), Err(errno::BADF));
    assert_eq!(t.read(1, 1), Err(errno::BADF));
}

#[test]
fn walks_leave_no_fids_behind() {
    let mut fs = MemFs::new();
    fs.put("a/b", Node::Link(b"../c".to_vec()));
    fs.put("c", Node::File(vec![]));
    let r = resolve::resolve(&mut fs, 0, b"a/b", true).unwrap();
    assert_eq!(r.dir, Vec::<Vec<u8>>::new());
    assert_eq!(r.name.as_deref(), Some(&b"c"[..]));
    assert_eq!(fs.open_fids(), 1);
}

#[test]
fn positioned_io_append_advice_and_polling_files() {
    let mut t = setup(|_| {});
    let fd = t.open("file", 0, RW, 0, false).unwrap();
    assert_eq!(t.read(fd, 2).unwrap(), b"he");
    let mut mem = std::mem::take(&mut t.mem);
    let mut m = GuestMemory::new(&mut mem);
    // One iovec at 100: 3 bytes at 300.
    m.write(100, 300u32).unwrap();
    m.write(104, 3u32).unwrap();
    t.c.fd_pread(&mut m, fd, 100, 1, 1, OUT).unwrap();
    assert_eq!(m.bytes(300, 3).unwrap(), b"ell");
    m.bytes_mut(300, 3).unwrap().copy_from_slice(b"ELL");
    t.c.fd_pwrite(&mut m, fd, 100, 1, 1, OUT).unwrap();
    assert_eq!(m.read::<u32>(OUT), Ok(3));
    assert_eq!(t.c.fd_pread(&mut m, 0, 100, 1, 0, OUT), Err(errno::SPIPE));
    assert_eq!(t.c.fd_pwrite(&mut m, 1, 100, 1, 0, OUT), Err(errno::SPIPE));
    // The position did not move: 3 bytes after it, as poll_oneoff reports.
    m.write(400, 5u64).unwrap();
    m.write(408, eventtype::FD_READ).unwrap();
    m.write(416, fd).unwrap();
    t.c.poll_oneoff(&mut t.h, &mut m, 400, 500, 1, OUT).unwrap();
    assert_eq!(m.read::<u64>(500), Ok(5));
    assert_eq!(m.read::<u64>(516), Ok(3));
    // A directory cannot be polled.
    m.write(416, 3u32).unwrap();
    assert_eq!(
        t.c.poll_oneoff(&mut t.h, &mut m, 400, 500, 1, OUT),
        Err(errno::BADF)
    );
    assert_eq!(t.c.fd_advise(fd, 0, 0, 5), Ok(()));
    assert_eq!(t.c.fd_advise(fd, 0, 0, 6), Err(errno::INVAL));
    assert_eq!(t.c.fd_advise(1, 0, 0, 0), Err(errno::BADF));
    assert_eq!(t.c.fd_sync(fd, true), Ok(()));
    assert_eq!(t.c.fd_sync(3, false), Err(errno::BADF));
    // Synchronous-I/O flags are refused; append moves every write to the end.
    assert_eq!(
        t.c.fd_fdstat_set_flags(fd, fdflags::SYNC as u32),
        Err(errno::INVAL)
    );
    assert_eq!(t.c.fd_fdstat_set_flags(fd, 1 << 5), Err(errno::INVAL));
    t.c.fd_fdstat_set_flags(fd, fdflags::APPEND as u32).unwrap();
    t.mem = mem;
    t.write(fd, b"!").unwrap();
    let fd2 = t.open("file", 0, rights::FD_READ, 0, false).unwrap();
    assert_eq!(t.read(fd2, 10).unwrap(), b"hELLo!");
}

#[test]
fn paths_of_path_max_bytes_or_more_are_too_long_as_on_the_host() {
    let mut fs = MemFs::new();
    fs.put("file", Node::File(vec![]));
    let path = |len: usize| {
        let mut p = "./".repeat((len - 4) / 2).into_bytes();
        p.extend_from_slice(b"file");
        p
    };
    let shortest_refused = path(resolve::PATH_MAX);
    assert_eq!(shortest_refused.len(), resolve::PATH_MAX);
    assert_eq!(
        resolve::resolve(&mut fs, 0, &shortest_refused, true).err(),
        Some(errno::NAMETOOLONG)
    );
    let longest_taken = path(resolve::PATH_MAX - 2);
    let r = resolve::resolve(&mut fs, 0, &longest_taken, true).unwrap();
    assert_eq!(r.name.as_deref(), Some(&b"file"[..]));
}
