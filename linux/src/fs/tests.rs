//! [`HostDir`] under a real [`WasiCtx`], driven through the WASI functions as a program
//! calls them, on a temporary directory: `pre/` is the preopen, `outside/` its sibling
//! that nothing may reach. Every test runs twice, with `openat2` and with the `openat`
//! fallback.

use super::*;
use hako_abi::wasi::{fdflags, filetype, fstflags, oflags, rights, whence};
use hako_kernel::guest::GuestMemory;
use hako_kernel::wasi::{Clock, Host, Stream, WasiCtx, WasiResult};
use std::fmt;
use std::fs as sfs;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::PathBuf;
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use tempfile::TempDir;

const P: u32 = 1000; // first path
const P2: u32 = 1400; // second path
const OUT: u32 = 8; // results
const IOV: u32 = 100; // one iovec
const DATA: u32 = 4096; // its bytes
const RW: u64 = rights::FD_READ | rights::FD_WRITE;
const MODES: [bool; 2] = [false, true]; // with the openat fallback?

struct TestHost(Instant);

impl Host for TestHost {
    fn write(&mut self, _: Stream, _: &[u8]) {}
    fn read_stdin(&mut self, _: &mut [u8]) -> usize {
        0
    }
    fn stdin_pending(&mut self) -> u64 {
        0
    }
    fn record(&mut self, _: fmt::Arguments<'_>) {}
    fn now_ns(&mut self, c: Clock) -> u64 {
        match c {
            Clock::Realtime => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64,
            _ => self.0.elapsed().as_nanos() as u64,
        }
    }
    fn resolution_ns(&mut self, _: Clock) -> u64 {
        1
    }
    fn entropy(&mut self) -> [u8; 32] {
        [7; 32]
    }
    fn exit(&mut self, status: u32) -> ! {
        panic!("exit {status}")
    }
    fn fail(&mut self, message: &str) -> ! {
        panic!("fail {message}")
    }
}

/// A file stat as `path_filestat_get` writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FStat {
    dev: u64,
    ino: u64,
    ft: u8,
    nlink: u64,
    size: u64,
    atim: u64,
    mtim: u64,
    ctim: u64,
}

struct T {
    c: WasiCtx,
    h: TestHost,
    mem: Vec<u8>,
    tmp: TempDir,
    fallback: bool,
}

/// `tmp/pre` (with `file` = "content" and `dir/inner` = "inner") and `tmp/outside` (with
/// `secret` and `b/secret`), then `setup(tmp)`.
fn tree(setup: impl FnOnce(&Path)) -> TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    sfs::create_dir_all(t.join("pre/dir")).unwrap();
    sfs::write(t.join("pre/file"), "content").unwrap();
    sfs::write(t.join("pre/dir/inner"), "inner").unwrap();
    sfs::create_dir_all(t.join("outside/b")).unwrap();
    sfs::write(t.join("outside/secret"), "outside secret").unwrap();
    sfs::write(t.join("outside/b/secret"), "outside b secret").unwrap();
    setup(t);
    tmp
}

fn hostdir(tmp: &TempDir, read_only: bool, fallback: bool) -> HostDir {
    let d = HostDir::open(&tmp.path().join("pre"), read_only).unwrap();
    if fallback {
        d.without_openat2()
    } else {
        d
    }
}

/// Names under `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = sfs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

impl T {
    fn new(fallback: bool, setup: impl FnOnce(&Path)) -> T {
        let tmp = tree(setup);
        let be = hostdir(&tmp, false, fallback);
        T::with(tmp, Box::new(be), fallback)
    }

    fn read_only(fallback: bool) -> T {
        let tmp = tree(|_| {});
        let be = hostdir(&tmp, true, fallback);
        T::with(tmp, Box::new(be), fallback)
    }

    fn with(tmp: TempDir, be: Box<dyn Backend>, fallback: bool) -> T {
        let mut c = WasiCtx::new(vec![b"prog".to_vec()], vec![]);
        assert_eq!(c.add_preopen(b"/pre".to_vec(), be), 3);
        T {
            c,
            h: TestHost(Instant::now()),
            mem: vec![0; 1 << 17],
            tmp,
            fallback,
        }
    }

    fn pre(&self) -> PathBuf {
        self.tmp.path().join("pre")
    }

    fn outside(&self) -> PathBuf {
        self.tmp.path().join("outside")
    }

    fn put(&mut self, at: u32, p: &str) -> u32 {
        self.mem[at as usize..at as usize + p.len()].copy_from_slice(p.as_bytes());
        p.len() as u32
    }

    /// Call `f` with guest memory holding `a` at `P` and `b` at `P2` and their lengths.
    fn call<R>(
        &mut self,
        a: &str,
        b: &str,
        f: impl FnOnce(&mut WasiCtx, &mut TestHost, &mut GuestMemory, u32, u32) -> R,
    ) -> R {
        let na = self.put(P, a);
        let nb = self.put(P2, b);
        let mut mem = std::mem::take(&mut self.mem);
        let r = f(
            &mut self.c,
            &mut self.h,
            &mut GuestMemory::new(&mut mem),
            na,
            nb,
        );
        self.mem = mem;
        r
    }

    fn open_at(
        &mut self,
        dir: u32,
        p: &str,
        of: u16,
        rights: u64,
        fdf: u16,
        follow: bool,
    ) -> Result<u32, Errno> {
        self.call(p, "", |c, _, m, n, _| {
            c.path_open(
                m,
                dir,
                follow as u32,
                P,
                n,
                of as u32,
                rights,
                0,
                fdf as u32,
                OUT,
            )
            .map(|_| m.read::<u32>(OUT).unwrap())
        })
    }

    fn open(
        &mut self,
        p: &str,
        of: u16,
        rights: u64,
        fdf: u16,
        follow: bool,
    ) -> Result<u32, Errno> {
        self.open_at(3, p, of, rights, fdf, follow)
    }

    fn write(&mut self, fd: u32, data: &[u8]) -> Result<u32, Errno> {
        self.mem[DATA as usize..DATA as usize + data.len()].copy_from_slice(data);
        let len = data.len() as u32;
        self.call("", "", |c, h, m, _, _| {
            m.write(IOV, DATA).unwrap();
            m.write(IOV + 4, len).unwrap();
            c.fd_write(h, m, fd, IOV, 1, OUT)
                .map(|_| m.read::<u32>(OUT).unwrap())
        })
    }

    fn read(&mut self, fd: u32, len: u32) -> Result<Vec<u8>, Errno> {
        self.call("", "", |c, h, m, _, _| {
            m.write(IOV, DATA).unwrap();
            m.write(IOV + 4, len).unwrap();
            c.fd_read(h, m, fd, IOV, 1, OUT)?;
            let n = m.read::<u32>(OUT).unwrap();
            Ok(m.bytes(DATA, n).unwrap().to_vec())
        })
    }

    fn read_file(&mut self, p: &str) -> Result<Vec<u8>, Errno> {
        let fd = self.open(p, 0, rights::FD_READ, 0, true)?;
        let r = self.read(fd, 1000);
        self.c.fd_close(fd).unwrap();
        r
    }

    fn seek(&mut self, fd: u32, off: i64, wh: u8) -> Result<u64, Errno> {
        self.call("", "", |c, _, m, _, _| {
            c.fd_seek(m, fd, off, wh as u32, OUT)?;
            Ok(m.read::<u64>(OUT).unwrap())
        })
    }

    fn stat(&mut self, p: &str, follow: bool) -> Result<FStat, Errno> {
        self.call(p, "", |c, _, m, n, _| {
            c.path_filestat_get(m, 3, follow as u32, P, n, 64)?;
            Ok(fstat_at(m, 64))
        })
    }

    fn fd_stat(&mut self, fd: u32) -> Result<FStat, Errno> {
        self.call("", "", |c, _, m, _, _| {
            c.fd_filestat_get(m, fd, 64)?;
            Ok(fstat_at(m, 64))
        })
    }

    fn set_times(&mut self, p: &str, follow: bool, atim: u64, mtim: u64, fst: u16) -> WasiResult {
        self.call(p, "", |c, _, m, n, _| {
            c.path_filestat_set_times(m, 3, follow as u32, P, n, atim, mtim, fst as u32)
        })
    }

    fn mkdir(&mut self, p: &str) -> WasiResult {
        self.call(p, "", |c, _, m, n, _| c.path_create_directory(m, 3, P, n))
    }

    fn rmdir(&mut self, p: &str) -> WasiResult {
        self.call(p, "", |c, _, m, n, _| c.path_remove_directory(m, 3, P, n))
    }

    fn unlink(&mut self, p: &str) -> WasiResult {
        self.call(p, "", |c, _, m, n, _| c.path_unlink_file(m, 3, P, n))
    }

    fn rename(&mut self, a: &str, b: &str) -> WasiResult {
        self.call(a, b, |c, _, m, na, nb| {
            c.path_rename(m, 3, P, na, 3, P2, nb)
        })
    }

    fn link(&mut self, a: &str, b: &str) -> WasiResult {
        self.call(a, b, |c, _, m, na, nb| {
            c.path_link(m, 3, 0, P, na, 3, P2, nb)
        })
    }

    fn symlink(&mut self, target: &str, p: &str) -> WasiResult {
        self.call(target, p, |c, _, m, na, nb| {
            c.path_symlink(m, P, na, 3, P2, nb)
        })
    }

    fn readlink(&mut self, p: &str) -> Result<Vec<u8>, Errno> {
        self.call(p, "", |c, _, m, n, _| {
            c.path_readlink(m, 3, P, n, DATA, 1000, OUT)?;
            let n = m.read::<u32>(OUT).unwrap();
            Ok(m.bytes(DATA, n).unwrap().to_vec())
        })
    }

    /// One `fd_readdir` from `cookie` into a buffer of `len` bytes: its entries that fit
    /// whole, as (next cookie, inode, type, name).
    fn readdir(
        &mut self,
        fd: u32,
        cookie: u64,
        len: u32,
    ) -> Result<Vec<(u64, u64, u8, String)>, Errno> {
        self.call("", "", |c, _, m, _, _| {
            c.fd_readdir(m, fd, DATA, len, cookie, OUT)?;
            let used = m.read::<u32>(OUT).unwrap();
            let mut out = Vec::new();
            let mut at = 0;
            while at + 24 <= used {
                let b = DATA + at;
                let namlen = m.read::<u32>(b + 16).unwrap();
                if at + 24 + namlen > used {
                    break;
                }
                out.push((
                    m.read::<u64>(b).unwrap(),
                    m.read::<u64>(b + 8).unwrap(),
                    m.read::<u8>(b + 20).unwrap(),
                    String::from_utf8(m.bytes(b + 24, namlen).unwrap().to_vec()).unwrap(),
                ));
                at += 24 + namlen;
            }
            Ok(out)
        })
    }

    /// Every entry of `fd`, read `len` bytes at a time, resuming from the last cookie.
    fn readdir_all(&mut self, fd: u32, len: u32) -> Vec<(u64, u64, u8, String)> {
        let mut all = Vec::new();
        let mut cookie = 0;
        loop {
            let batch = self.readdir(fd, cookie, len).unwrap();
            let Some(last) = batch.last() else {
                return all;
            };
            cookie = last.0;
            all.extend(batch);
        }
    }
}

fn fstat_at(m: &GuestMemory, b: u32) -> FStat {
    FStat {
        dev: m.read(b).unwrap(),
        ino: m.read(b + 8).unwrap(),
        ft: m.read(b + 16).unwrap(),
        nlink: m.read(b + 24).unwrap(),
        size: m.read(b + 32).unwrap(),
        atim: m.read(b + 40).unwrap(),
        mtim: m.read(b + 48).unwrap(),
        ctim: m.read(b + 56).unwrap(),
    }
}

fn mtime_ns(md: &sfs::Metadata) -> u64 {
    md.mtime() as u64 * 1_000_000_000 + md.mtime_nsec() as u64
}

fn atime_ns(md: &sfs::Metadata) -> u64 {
    md.atime() as u64 * 1_000_000_000 + md.atime_nsec() as u64
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

#[test]
fn create_write_read_seek() {
    for fb in MODES {
        let mut t = T::new(fb, |_| {});
        t.c.set_umask(0o027);
        let fd = t.open("new.txt", oflags::CREAT, RW, 0, false).unwrap();
        assert_eq!(t.write(fd, b"hello world").unwrap(), 11);
        assert_eq!(t.seek(fd, 6, whence::SET).unwrap(), 6);
        assert_eq!(t.read(fd, 5).unwrap(), b"world");
        assert_eq!(t.read(fd, 5).unwrap(), b"");
        assert_eq!(t.seek(fd, -5, whence::END).unwrap(), 6);
        assert_eq!(t.seek(fd, -6, whence::CUR).unwrap(), 0);
        assert_eq!(t.write(fd, b"HELLO").unwrap(), 5);
        t.c.fd_sync(fd, false).unwrap();
        t.c.fd_sync(fd, true).unwrap();
        t.c.fd_close(fd).unwrap();
        let host = t.pre().join("new.txt");
        assert_eq!(sfs::read(&host).unwrap(), b"HELLO world");
        // 0o666 less the program's umask 0o027 (and maybe more from the process umask).
        let mode = sfs::metadata(&host).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & !0o640, 0, "mode {mode:o}");
        assert_eq!(mode & 0o600, 0o600, "mode {mode:o}");
        // Append writes at the end; reading an existing file; a read-only descriptor.
        let fd = t.open("new.txt", 0, RW, fdflags::APPEND, false).unwrap();
        t.write(fd, b"!").unwrap();
        t.c.fd_close(fd).unwrap();
        assert_eq!(t.read_file("new.txt").unwrap(), b"HELLO world!");
        let fd = t.open("file", 0, rights::FD_READ, 0, false).unwrap();
        assert_eq!(t.read(fd, 100).unwrap(), b"content");
        assert_eq!(t.write(fd, b"x"), Err(errno::BADF));
        t.c.fd_close(fd).unwrap();
        assert_eq!(
            t.open("new.txt", oflags::CREAT | oflags::EXCL, RW, 0, false),
            Err(errno::EXIST)
        );
        assert_eq!(t.open("missing", 0, RW, 0, false), Err(errno::NOENT));
        assert_eq!(t.open("dir", 0, RW, 0, false), Err(errno::ISDIR));
        assert_eq!(
            t.open("file", oflags::DIRECTORY, 0, 0, false),
            Err(errno::NOTDIR)
        );
        assert_eq!(t.open("file/x", 0, 0, 0, false), Err(errno::NOTDIR));
        // Directories get 0o777 less the umask.
        t.mkdir("newdir").unwrap();
        let mode = sfs::metadata(t.pre().join("newdir"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode & !0o750, 0, "mode {mode:o}");
        assert_eq!(mode & 0o700, 0o700, "mode {mode:o}");
        assert_eq!(t.mkdir("newdir"), Err(errno::EXIST));
        // A file in a subdirectory.
        let fd = t.open("newdir/f", oflags::CREAT, RW, 0, false).unwrap();
        t.write(fd, b"deep").unwrap();
        t.c.fd_close(fd).unwrap();
        assert_eq!(sfs::read(t.pre().join("newdir/f")).unwrap(), b"deep");
    }
}

#[test]
fn directories_readdir_rename_unlink_rmdir() {
    for fb in MODES {
        let mut t = T::new(fb, |_| {});
        t.mkdir("d").unwrap();
        t.mkdir("d/sub").unwrap();
        for f in ["d/f1", "d/f2"] {
            let fd = t.open(f, oflags::CREAT, RW, 0, false).unwrap();
            t.c.fd_close(fd).unwrap();
        }
        t.symlink("f1", "d/l").unwrap();
        let d = t
            .open("d", oflags::DIRECTORY, rights::FD_READ, 0, false)
            .unwrap();
        let mut ents = t.readdir(d, 0, 8192).unwrap();
        assert_eq!(ents.len(), 6);
        assert_eq!((ents[0].3.as_str(), ents[1].3.as_str()), (".", ".."));
        let cookies: Vec<u64> = ents.iter().map(|e| e.0).collect();
        assert_eq!(cookies, [1, 2, 3, 4, 5, 6]);
        // Resuming from any cookie gives the rest.
        for (i, _) in ents.iter().enumerate() {
            assert_eq!(t.readdir(d, i as u64 + 1, 8192).unwrap(), ents[i + 1..]);
        }
        ents.sort_by(|a, b| a.3.cmp(&b.3));
        let names: Vec<(&str, u8)> = ents.iter().map(|e| (e.3.as_str(), e.2)).collect();
        assert_eq!(
            names,
            [
                (".", filetype::DIRECTORY),
                ("..", filetype::DIRECTORY),
                ("f1", filetype::REGULAR_FILE),
                ("f2", filetype::REGULAR_FILE),
                ("l", filetype::SYMBOLIC_LINK),
                ("sub", filetype::DIRECTORY),
            ]
        );
        let f1 = ents.iter().find(|e| e.3 == "f1").unwrap();
        assert_eq!(f1.1, sfs::metadata(t.pre().join("d/f1")).unwrap().ino());
        t.c.fd_close(d).unwrap();

        t.rename("d/f1", "d/sub/g").unwrap();
        assert!(t.pre().join("d/sub/g").is_file() && !t.pre().join("d/f1").exists());
        assert_eq!(t.rename("d/f1", "x"), Err(errno::NOENT));
        t.mkdir("e").unwrap();
        assert_eq!(t.rename("e", "d"), Err(errno::NOTEMPTY));
        assert_eq!(t.rename("e", "d/f2"), Err(errno::NOTDIR));
        assert_eq!(t.rename("d/f2", "e"), Err(errno::ISDIR));
        t.rename("e", "d/sub2").unwrap();
        assert_eq!(t.unlink("d/sub"), Err(errno::ISDIR));
        assert_eq!(t.rmdir("d/f2"), Err(errno::NOTDIR));
        assert_eq!(t.rmdir("d"), Err(errno::NOTEMPTY));
        assert_eq!(t.unlink("d/nothere"), Err(errno::NOENT));
        for f in ["d/f2", "d/l", "d/sub/g"] {
            t.unlink(f).unwrap();
        }
        for d in ["d/sub", "d/sub2", "d"] {
            t.rmdir(d).unwrap();
        }
        assert!(!t.pre().join("d").exists());
        assert_eq!(t.stat("d", false), Err(errno::NOENT));
    }
}

/// More entries than one host `getdents` buffer holds: the backend's offsets must resume
/// where the last batch ended, and small guest buffers resume from WASI cookies.
#[test]
fn readdir_of_a_large_directory() {
    for fb in MODES {
        let mut t = T::new(fb, |p| {
            sfs::create_dir(p.join("pre/big")).unwrap();
            for i in 0..700 {
                sfs::write(
                    p.join(format!("pre/big/a-rather-long-file-name-{i:04}")),
                    "",
                )
                .unwrap();
            }
        });
        let d = t
            .open("big", oflags::DIRECTORY, rights::FD_READ, 0, false)
            .unwrap();
        let all = t.readdir_all(d, 300);
        let mut names: Vec<&str> = all.iter().map(|e| e.3.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), 702);
        assert_eq!(all.len(), 702);
        t.c.fd_close(d).unwrap();

        // The backend by itself: several batches, each resuming at the last offset.
        let mut be = hostdir(&t.tmp, false, t.fallback);
        let (fid, _) = be.walk(ROOT, &[b"big"]).unwrap();
        be.lopen(fid, lo::RDONLY | lo::DIRECTORY).unwrap();
        // Any offset resumes after its entry, 0 starts over.
        let first = be.readdir(fid, 0).unwrap();
        assert!(first.len() > 20 && first.len() < 702, "{}", first.len());
        for k in [0, 10, first.len() - 2] {
            assert_eq!(
                be.readdir(fid, first[k].offset).unwrap()[0],
                first[k + 1],
                "{k}"
            );
        }
        let next = be.readdir(fid, first.last().unwrap().offset).unwrap();
        assert!(!next.is_empty() && first.iter().all(|e| e.name != next[0].name));
        assert_eq!(be.readdir(fid, 0).unwrap(), first);
        let mut off = 0;
        let mut batches = 0;
        let mut seen = Vec::new();
        loop {
            let b = be.readdir(fid, off).unwrap();
            let Some(last) = b.last() else { break };
            off = last.offset;
            batches += 1;
            seen.extend(b.into_iter().map(|e| e.name));
        }
        assert!(batches > 1, "{batches} batches");
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 702);
        be.clunk(fid);
    }
}

#[test]
fn symlinks_inside_work_and_outside_are_refused() {
    for fb in MODES {
        let mut t = T::new(fb, |p| {
            symlink(p.join("outside/secret"), p.join("pre/habs")).unwrap();
            symlink(p.join("outside"), p.join("pre/hdirabs")).unwrap();
            symlink("../outside", p.join("pre/hdirrel")).unwrap();
            symlink("../../outside/secret", p.join("pre/dir/hrel")).unwrap();
        });
        // Relative links inside the preopen.
        t.symlink("file", "rel").unwrap();
        assert_eq!(
            sfs::read_link(t.pre().join("rel")).unwrap(),
            PathBuf::from("file")
        );
        assert_eq!(t.readlink("rel").unwrap(), b"file");
        assert_eq!(t.read_file("rel").unwrap(), b"content");
        assert_eq!(t.open("rel", 0, 0, 0, false), Err(errno::LOOP));
        assert_eq!(t.stat("rel", false).unwrap().ft, filetype::SYMBOLIC_LINK);
        assert_eq!(t.stat("rel", true).unwrap().ft, filetype::REGULAR_FILE);
        t.symlink("../file", "dir/up").unwrap();
        assert_eq!(t.read_file("dir/up").unwrap(), b"content");
        t.symlink("dir", "dlink").unwrap();
        assert_eq!(t.read_file("dlink/inner").unwrap(), b"inner");
        // An absolute target is never created.
        assert_eq!(t.symlink("/etc/passwd", "abs"), Err(errno::PERM));
        assert!(sfs::symlink_metadata(t.pre().join("abs")).is_err());
        // A link that climbs out can be made, but not followed.
        t.symlink("../outside/secret", "esc").unwrap();
        for p in [
            "esc",
            "habs",
            "hdirabs/secret",
            "hdirrel/secret",
            "dir/hrel",
            "hdirrel/b/secret",
        ] {
            assert_eq!(t.read_file(p), Err(errno::PERM), "{p}");
            assert_eq!(t.stat(p, true), Err(errno::PERM), "{p}");
            assert_eq!(
                t.open(p, oflags::CREAT | oflags::TRUNC, RW, 0, true),
                Err(errno::PERM),
                "{p}"
            );
        }
        assert_eq!(t.stat("habs", false).unwrap().ft, filetype::SYMBOLIC_LINK);
        assert_eq!(t.mkdir("hdirrel/new"), Err(errno::PERM));
        assert_eq!(t.unlink("hdirabs/secret"), Err(errno::PERM));
        assert_eq!(t.rename("file", "hdirrel/stolen"), Err(errno::PERM));
        assert_eq!(t.link("file", "hdirabs/stolen"), Err(errno::PERM));
        assert_eq!(t.symlink("x", "hdirrel/planted"), Err(errno::PERM));
        assert_eq!(listing(&t.outside()), ["b", "secret"]);
        assert_eq!(
            sfs::read(t.outside().join("secret")).unwrap(),
            b"outside secret"
        );
    }
}

#[test]
fn paths_out_of_the_preopen_are_refused() {
    for fb in MODES {
        let mut t = T::new(fb, |_| {});
        for p in [
            "..",
            "../outside/secret",
            "dir/../../outside/secret",
            "/etc/passwd",
            "/",
        ] {
            assert_eq!(
                t.open(p, 0, rights::FD_READ, 0, true),
                Err(errno::PERM),
                "{p}"
            );
            assert_eq!(t.stat(p, false), Err(errno::PERM), "{p}");
        }
        assert_eq!(
            t.open("../outside/new", oflags::CREAT, RW, 0, false),
            Err(errno::PERM)
        );
        assert_eq!(t.mkdir("../outside/d"), Err(errno::PERM));
        assert_eq!(t.rename("file", "../outside/x"), Err(errno::PERM));
        assert_eq!(t.rename("../outside/secret", "x"), Err(errno::PERM));
        assert_eq!(t.link("file", "../outside/x"), Err(errno::PERM));
        assert_eq!(t.link("../outside/secret", "x"), Err(errno::PERM));
        assert_eq!(t.unlink("../outside/secret"), Err(errno::PERM));
        assert_eq!(t.rmdir("../outside/b"), Err(errno::PERM));
        assert_eq!(t.symlink("file", "../outside/l"), Err(errno::PERM));
        assert_eq!(
            t.set_times("../outside/secret", false, 1, 1, fstflags::MTIM),
            Err(errno::PERM)
        );
        // A subdirectory descriptor is a sandbox of its own.
        let d = t.open("dir", oflags::DIRECTORY, 0, 0, false).unwrap();
        assert_eq!(
            t.open_at(d, "../file", 0, rights::FD_READ, 0, true),
            Err(errno::PERM)
        );
        let fd = t.open_at(d, "inner", 0, rights::FD_READ, 0, true).unwrap();
        assert_eq!(t.read(fd, 10).unwrap(), b"inner");
        assert_eq!(listing(&t.outside()), ["b", "secret"]);
    }
}

/// The backend refuses names that are not single components by itself, whatever the
/// layer above passes, and never walks through a symbolic link.
#[test]
fn backend_refuses_names_that_are_not_components() {
    for fb in MODES {
        let tmp = tree(|p| {
            symlink(p.join("outside"), p.join("pre/hdirabs")).unwrap();
            symlink("../outside", p.join("pre/hdirrel")).unwrap();
            symlink("../outside/new", p.join("pre/dangling")).unwrap();
        });
        let mut be = hostdir(&tmp, false, fb);
        for (name, e) in [
            (&b".."[..], errno::PERM),
            (b"../outside", errno::PERM),
            (b"dir/inner", errno::PERM),
            (b"/etc", errno::PERM),
            (b"", errno::INVAL),
            (b".", errno::INVAL),
            (b"a\0b", errno::INVAL),
        ] {
            assert_eq!(be.walk(ROOT, &[name]).err(), Some(e), "{name:?}");
            assert_eq!(be.mkdir(ROOT, name, 0o755).err(), Some(e), "{name:?}");
            assert_eq!(
                be.lcreate(ROOT, name, lo::RDWR, 0o644).err(),
                Some(e),
                "{name:?}"
            );
            assert_eq!(be.symlink(ROOT, name, b"x").err(), Some(e), "{name:?}");
            assert_eq!(be.unlinkat(ROOT, name, 0).err(), Some(e), "{name:?}");
            assert_eq!(
                be.renameat(ROOT, b"file", ROOT, name).err(),
                Some(e),
                "{name:?}"
            );
        }
        assert_eq!(
            be.walk(ROOT, &[&[b'x'; 256]]).err(),
            Some(errno::NAMETOOLONG)
        );
        // Walking a link gives the link; walking through one fails.
        for l in [&b"hdirabs"[..], b"hdirrel"] {
            let (fid, q) = be.walk(ROOT, &[l]).unwrap();
            assert!(q.unwrap().is_symlink());
            assert_eq!(be.walk(fid, &[b"secret"]).err(), Some(errno::NOTDIR));
            assert_eq!(be.lopen(fid, lo::RDONLY).err(), Some(errno::LOOP));
            assert_eq!(be.mkdir(fid, b"new", 0o755).err(), Some(errno::NOTDIR));
            assert_eq!(
                be.lcreate(fid, b"new", lo::RDWR, 0o644).err(),
                Some(errno::NOTDIR)
            );
            be.clunk(fid);
            assert_eq!(be.walk(ROOT, &[l, b"secret"]).err(), Some(errno::NOENT));
            assert_eq!(
                be.walk(ROOT, &[l, b"b", b"secret"]).err(),
                Some(errno::NOENT)
            );
        }
        // Creating through a dangling link would create outside.
        assert_eq!(
            be.lcreate(ROOT, b"dangling", lo::WRONLY | lo::CREAT, 0o644)
                .err(),
            Some(errno::LOOP)
        );
        assert_eq!(
            be.lcreate(ROOT, b"dangling", lo::WRONLY | lo::CREAT | lo::EXCL, 0o644)
                .err(),
            Some(errno::EXIST)
        );
        assert_eq!(listing(&tmp.path().join("outside")), ["b", "secret"]);
        assert_eq!(be.live_fids(), 1);
    }
}

/// A backend that runs `action` once, just before the `nth` walk of exactly `names`: a
/// host process changing the tree between two steps of one WASI call.
struct Racer {
    inner: HostDir,
    names: Vec<Vec<u8>>,
    nth: usize,
    seen: usize,
    action: Option<Box<dyn FnOnce()>>,
    fired: std::rc::Rc<std::cell::Cell<bool>>,
}

impl Backend for Racer {
    fn root(&self) -> Fid {
        self.inner.root()
    }
    fn walk(&mut self, fid: Fid, names: &[&[u8]]) -> Result<(Fid, Option<Qid>), Errno> {
        if names
            .iter()
            .map(|n| n.to_vec())
            .eq(self.names.iter().cloned())
        {
            self.seen += 1;
            if self.seen == self.nth {
                if let Some(a) = self.action.take() {
                    a();
                    self.fired.set(true);
                }
            }
        }
        self.inner.walk(fid, names)
    }
    fn clunk(&mut self, fid: Fid) {
        self.inner.clunk(fid)
    }
    fn lopen(&mut self, fid: Fid, flags: u32) -> Result<Qid, Errno> {
        self.inner.lopen(fid, flags)
    }
    fn lcreate(&mut self, fid: Fid, name: &[u8], flags: u32, mode: u32) -> Result<Qid, Errno> {
        self.inner.lcreate(fid, name, flags, mode)
    }
    fn read(&mut self, fid: Fid, offset: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        self.inner.read(fid, offset, buf)
    }
    fn write(&mut self, fid: Fid, offset: u64, data: &[u8]) -> Result<usize, Errno> {
        self.inner.write(fid, offset, data)
    }
    fn getattr(&mut self, fid: Fid) -> Result<Stat, Errno> {
        self.inner.getattr(fid)
    }
    fn setattr(&mut self, fid: Fid, attr: &SetAttr) -> Result<(), Errno> {
        self.inner.setattr(fid, attr)
    }
    fn readdir(&mut self, fid: Fid, offset: u64) -> Result<Vec<DirEnt>, Errno> {
        self.inner.readdir(fid, offset)
    }
    fn mkdir(&mut self, dfid: Fid, name: &[u8], mode: u32) -> Result<(), Errno> {
        self.inner.mkdir(dfid, name, mode)
    }
    fn unlinkat(&mut self, dfid: Fid, name: &[u8], flags: u32) -> Result<(), Errno> {
        self.inner.unlinkat(dfid, name, flags)
    }
    fn renameat(&mut self, o: Fid, on: &[u8], n: Fid, nn: &[u8]) -> Result<(), Errno> {
        self.inner.renameat(o, on, n, nn)
    }
    fn symlink(&mut self, dfid: Fid, name: &[u8], target: &[u8]) -> Result<(), Errno> {
        self.inner.symlink(dfid, name, target)
    }
    fn readlink(&mut self, fid: Fid) -> Result<Vec<u8>, Errno> {
        self.inner.readlink(fid)
    }
    fn link(&mut self, dfid: Fid, fid: Fid, name: &[u8]) -> Result<(), Errno> {
        self.inner.link(dfid, fid, name)
    }
    fn fsync(&mut self, fid: Fid, datasync: bool) -> Result<(), Errno> {
        self.inner.fsync(fid, datasync)
    }
}

/// The directory `pre/a` (holding `b/secret`) is replaced by a symbolic link to `outside`
/// (which holds `b/secret` too) after the WASI layer resolved the path, just before the
/// walk that uses it: the walk must not follow it.
#[test]
fn directory_swapped_for_a_link_between_steps_is_not_followed() {
    type Call = fn(&mut T) -> Result<(), Errno>;
    let cases: [(&str, &[&str], usize, Call); 6] = [
        ("read", &["a", "b", "secret"], 1, |t| {
            t.read_file("a/b/secret").map(|d| assert_eq!(d, b"inside"))
        }),
        ("create", &["a", "b", "new"], 1, |t| {
            t.open("a/b/new", oflags::CREAT, RW, 0, false).map(|_| ())
        }),
        ("truncate", &["a", "b", "secret"], 1, |t| {
            t.open("a/b/secret", oflags::TRUNC, RW, 0, false)
                .map(|_| ())
        }),
        ("mkdir", &["a", "b"], 2, |t| t.mkdir("a/b/new")),
        ("unlink", &["a", "b"], 2, |t| t.unlink("a/b/secret")),
        ("set_times", &["a", "b", "secret"], 1, |t| {
            t.set_times("a/b/secret", false, 5, 5, fstflags::ATIM | fstflags::MTIM)
        }),
    ];
    for fb in MODES {
        for absolute in [false, true] {
            for (what, names, nth, call) in cases {
                let tmp = tree(|p| {
                    sfs::create_dir_all(p.join("pre/a/b")).unwrap();
                    sfs::write(p.join("pre/a/b/secret"), "inside").unwrap();
                });
                let (pre, outside) = (tmp.path().join("pre"), tmp.path().join("outside"));
                let before = sfs::metadata(outside.join("b/secret")).unwrap();
                let target = if absolute {
                    outside.clone()
                } else {
                    PathBuf::from("../outside")
                };
                let fired = std::rc::Rc::new(std::cell::Cell::new(false));
                let racer = Racer {
                    inner: hostdir(&tmp, false, fb),
                    names: names.iter().map(|n| n.as_bytes().to_vec()).collect(),
                    nth,
                    seen: 0,
                    action: Some(Box::new(move || {
                        sfs::rename(pre.join("a"), pre.join("a.orig")).unwrap();
                        symlink(&target, pre.join("a")).unwrap();
                    })),
                    fired: fired.clone(),
                };
                let mut t = T::with(tmp, Box::new(racer), fb);
                let r = call(&mut t);
                let ctx = format!("{what}, fallback {fb}, absolute {absolute}");
                assert!(fired.get(), "{ctx}: the swap did not happen");
                assert_eq!(listing(&t.outside()), ["b", "secret"], "{ctx}");
                assert_eq!(listing(&t.outside().join("b")), ["secret"], "{ctx}");
                let after = sfs::metadata(t.outside().join("b/secret")).unwrap();
                assert_eq!(after.len(), before.len(), "{ctx}");
                assert_eq!(mtime_ns(&after), mtime_ns(&before), "{ctx}");
                // What QEMU answers: the walk failed after its first name.
                assert_eq!(r, Err(errno::NOENT), "{ctx}");
            }
        }
    }
}

/// A directory descriptor opened before its name was swapped for a link keeps the
/// directory it was opened on.
#[test]
fn open_directories_stay_put() {
    for fb in MODES {
        let mut t = T::new(fb, |p| {
            sfs::create_dir_all(p.join("pre/a/b")).unwrap();
            sfs::write(p.join("pre/a/b/secret"), "inside").unwrap();
        });
        let d = t.open("a", oflags::DIRECTORY, 0, 0, false).unwrap();
        sfs::rename(t.pre().join("a"), t.pre().join("a.orig")).unwrap();
        symlink(t.outside(), t.pre().join("a")).unwrap();
        let fd = t
            .open_at(d, "b/secret", 0, rights::FD_READ, 0, false)
            .unwrap();
        assert_eq!(t.read(fd, 100).unwrap(), b"inside");
        let fd = t.open_at(d, "b/new", oflags::CREAT, RW, 0, false).unwrap();
        t.write(fd, b"x").unwrap();
        assert!(t.pre().join("a.orig/b/new").exists());
        assert_eq!(listing(&t.outside().join("b")), ["secret"]);
    }
}

/// `lopen` reopens by name: a name that meanwhile leads to another file, or to a link, is
/// not opened.
#[test]
fn reopening_checks_it_is_the_same_file() {
    for fb in MODES {
        let tmp = tree(|_| {});
        let pre = tmp.path().join("pre");
        let mut be = hostdir(&tmp, false, fb);
        let (fid, _) = be.walk(ROOT, &[b"file"]).unwrap();
        sfs::rename(pre.join("file"), pre.join("file.old")).unwrap();
        sfs::write(pre.join("file"), "impostor").unwrap();
        assert_eq!(be.lopen(fid, lo::RDONLY).err(), Some(errno::NOENT));
        // The fid still stands for the renamed file.
        assert_eq!(be.getattr(fid).unwrap().size, 7);
        be.clunk(fid);
        let (fid, _) = be.walk(ROOT, &[b"file"]).unwrap();
        sfs::remove_file(pre.join("file")).unwrap();
        symlink(tmp.path().join("outside/secret"), pre.join("file")).unwrap();
        assert_eq!(be.lopen(fid, lo::RDWR | lo::TRUNC).err(), Some(errno::LOOP));
        let attr = SetAttr {
            valid: setattr::SIZE,
            ..SetAttr::default()
        };
        assert_eq!(be.setattr(fid, &attr).err(), Some(errno::LOOP));
        let times = SetAttr {
            valid: setattr::MTIME | setattr::MTIME_SET,
            mtime: 5,
            ..SetAttr::default()
        };
        assert_eq!(be.setattr(fid, &times).err(), Some(errno::NOENT));
        assert_eq!(be.link(ROOT, fid, b"hard").err(), Some(errno::NOENT));
        be.clunk(fid);
        assert_eq!(
            sfs::read(tmp.path().join("outside/secret")).unwrap(),
            b"outside secret"
        );
        assert_eq!(be.live_fids(), 1);
    }
}

#[test]
fn hard_links() {
    for fb in MODES {
        let mut t = T::new(fb, |_| {});
        t.link("file", "dir/hard").unwrap();
        let (a, b) = (
            t.stat("file", false).unwrap(),
            t.stat("dir/hard", false).unwrap(),
        );
        assert_eq!((a.ino, a.nlink), (b.ino, 2));
        assert_eq!(sfs::metadata(t.pre().join("file")).unwrap().nlink(), 2);
        let fd = t.open("dir/hard", 0, RW, 0, false).unwrap();
        t.write(fd, b"CONTENT").unwrap();
        assert_eq!(t.read_file("file").unwrap(), b"CONTENT");
        assert_eq!(t.link("file", "dir/hard"), Err(errno::EXIST));
        assert_eq!(t.link("nothere", "x"), Err(errno::NOENT));
        assert_eq!(t.link("dir", "dir2"), Err(errno::PERM));
        // A link to a symbolic link is a link to the link.
        t.symlink("file", "sym").unwrap();
        t.link("sym", "sym2").unwrap();
        let md = sfs::symlink_metadata(t.pre().join("sym2")).unwrap();
        assert!(md.file_type().is_symlink());
        assert_eq!(
            md.ino(),
            sfs::symlink_metadata(t.pre().join("sym")).unwrap().ino()
        );
        t.unlink("file").unwrap();
        assert_eq!(t.stat("dir/hard", false).unwrap().nlink, 1);
    }
}

#[test]
fn filestat_and_set_times() {
    for fb in MODES {
        let mut t = T::new(fb, |p| symlink("file", p.join("pre/sym")).unwrap());
        let st = t.stat("file", false).unwrap();
        let md = sfs::metadata(t.pre().join("file")).unwrap();
        assert_eq!(st.ft, filetype::REGULAR_FILE);
        assert_eq!((st.ino, st.nlink, st.size), (md.ino(), 1, 7));
        assert_eq!(st.mtim, mtime_ns(&md));
        assert_eq!(st.atim, atime_ns(&md));
        assert_eq!(
            st.ctim,
            md.ctime() as u64 * 1_000_000_000 + md.ctime_nsec() as u64
        );
        let root = t.fd_stat(3).unwrap();
        assert_eq!(root.ft, filetype::DIRECTORY);
        assert_eq!(root.ino, sfs::metadata(t.pre()).unwrap().ino());
        assert_eq!(root.dev, st.dev);
        assert_eq!(t.stat("dir", false).unwrap().ft, filetype::DIRECTORY);
        let sym = t.stat("sym", false).unwrap();
        assert_eq!((sym.ft, sym.size), (filetype::SYMBOLIC_LINK, 4));

        // Given times.
        t.set_times(
            "file",
            false,
            1_000_000_123,
            2_000_000_456,
            fstflags::ATIM | fstflags::MTIM,
        )
        .unwrap();
        let md = sfs::metadata(t.pre().join("file")).unwrap();
        assert_eq!(
            (atime_ns(&md), mtime_ns(&md)),
            (1_000_000_123, 2_000_000_456)
        );
        let st = t.stat("file", false).unwrap();
        assert_eq!((st.atim, st.mtim), (1_000_000_123, 2_000_000_456));
        // Only the modification time, now: the access time stays.
        let now = now_ns();
        t.set_times("file", false, 0, 0, fstflags::MTIM_NOW)
            .unwrap();
        let md = sfs::metadata(t.pre().join("file")).unwrap();
        assert_eq!(atime_ns(&md), 1_000_000_123);
        assert!(
            mtime_ns(&md) + 5_000_000_000 > now,
            "mtime {}",
            mtime_ns(&md)
        );
        t.set_times("file", false, 0, 0, fstflags::ATIM_NOW)
            .unwrap();
        let md2 = sfs::metadata(t.pre().join("file")).unwrap();
        assert!(atime_ns(&md2) + 5_000_000_000 > now);
        assert_eq!(mtime_ns(&md2), mtime_ns(&md));
        // A link without following: the link's times; following: the file's.
        t.set_times("sym", false, 0, 3_000_000_000, fstflags::MTIM)
            .unwrap();
        let lmd = sfs::symlink_metadata(t.pre().join("sym")).unwrap();
        assert_eq!(mtime_ns(&lmd), 3_000_000_000);
        assert_eq!(
            mtime_ns(&sfs::metadata(t.pre().join("file")).unwrap()),
            mtime_ns(&md2)
        );
        t.set_times("sym", true, 0, 4_000_000_000, fstflags::MTIM)
            .unwrap();
        assert_eq!(
            mtime_ns(&sfs::metadata(t.pre().join("file")).unwrap()),
            4_000_000_000
        );
        // Directories, by path and by descriptor; open files by descriptor.
        t.set_times("dir", false, 0, 6_000_000_000, fstflags::MTIM)
            .unwrap();
        assert_eq!(
            mtime_ns(&sfs::metadata(t.pre().join("dir")).unwrap()),
            6_000_000_000
        );
        t.c.fd_filestat_set_times(3, 0, 7_000_000_000, fstflags::MTIM as u32)
            .unwrap();
        assert_eq!(mtime_ns(&sfs::metadata(t.pre()).unwrap()), 7_000_000_000);
        let fd = t.open("file", 0, rights::FD_READ, 0, false).unwrap();
        t.c.fd_filestat_set_times(
            fd,
            8_000_000_000,
            9_000_000_000,
            (fstflags::ATIM | fstflags::MTIM) as u32,
        )
        .unwrap();
        let md = sfs::metadata(t.pre().join("file")).unwrap();
        assert_eq!(
            (atime_ns(&md), mtime_ns(&md)),
            (8_000_000_000, 9_000_000_000)
        );
        let st = t.fd_stat(fd).unwrap();
        assert_eq!((st.ino, st.size, st.mtim), (md.ino(), 7, 9_000_000_000));
        assert_eq!(t.stat("nothere", false), Err(errno::NOENT));
    }
}

#[test]
fn truncate() {
    for fb in MODES {
        let mut t = T::new(fb, |_| {});
        let fd = t.open("file", 0, RW, 0, false).unwrap();
        t.c.fd_filestat_set_size(fd, 3).unwrap();
        assert_eq!(sfs::read(t.pre().join("file")).unwrap(), b"con");
        t.c.fd_filestat_set_size(fd, 6).unwrap();
        assert_eq!(sfs::read(t.pre().join("file")).unwrap(), b"con\0\0\0");
        assert_eq!(t.fd_stat(fd).unwrap().size, 6);
        let fd = t.open("file", oflags::TRUNC, RW, 0, false).unwrap();
        assert_eq!(sfs::metadata(t.pre().join("file")).unwrap().len(), 0);
        assert_eq!(t.read(fd, 10).unwrap(), b"");
        // The backend truncates a file it did not open, and no directory.
        let mut be = hostdir(&t.tmp, false, fb);
        let (fid, _) = be.walk(ROOT, &[b"dir", b"inner"]).unwrap();
        let size = |size| SetAttr {
            valid: setattr::SIZE,
            size,
            ..SetAttr::default()
        };
        be.setattr(fid, &size(2)).unwrap();
        assert_eq!(sfs::read(t.pre().join("dir/inner")).unwrap(), b"in");
        be.lopen(fid, lo::RDONLY).unwrap();
        be.setattr(fid, &size(1)).unwrap();
        assert_eq!(sfs::read(t.pre().join("dir/inner")).unwrap(), b"i");
        be.clunk(fid);
        let (fid, _) = be.walk(ROOT, &[b"dir"]).unwrap();
        assert_eq!(be.setattr(fid, &size(0)).err(), Some(errno::ISDIR));
        // Modes, for completeness (WASI has no chmod).
        let mode = |mode| SetAttr {
            valid: setattr::MODE,
            mode,
            ..SetAttr::default()
        };
        be.setattr(fid, &mode(0o700)).unwrap();
        assert_eq!(
            sfs::metadata(t.pre().join("dir"))
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o700
        );
        be.clunk(fid);
        let (fid, _) = be.walk(ROOT, &[b"file"]).unwrap();
        be.setattr(fid, &mode(0o604)).unwrap();
        assert_eq!(
            sfs::metadata(t.pre().join("file"))
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o604
        );
        be.clunk(fid);
    }
}

#[test]
fn read_only_preopen_refuses_every_change() {
    for fb in MODES {
        let mut t = T::read_only(fb);
        let md = sfs::metadata(t.pre().join("file")).unwrap();
        let fd = t.open("file", 0, rights::FD_READ, 0, false).unwrap();
        assert_eq!(t.read(fd, 100).unwrap(), b"content");
        assert_eq!(t.c.fd_sync(fd, false), Ok(()));
        let d = t
            .open("dir", oflags::DIRECTORY, rights::FD_READ, 0, false)
            .unwrap();
        assert_eq!(t.readdir_all(d, 4096).len(), 3);
        assert_eq!(t.stat("dir/inner", false).unwrap().size, 5);
        for (what, r) in [
            (
                "open for writing",
                t.open("file", 0, RW, 0, false).map(|_| ()),
            ),
            (
                "write only",
                t.open("file", 0, rights::FD_WRITE, 0, false).map(|_| ()),
            ),
            (
                "create",
                t.open("new", oflags::CREAT, RW, 0, false).map(|_| ()),
            ),
            (
                "create existing",
                t.open("file", oflags::CREAT, RW, 0, false).map(|_| ()),
            ),
            (
                "truncate",
                t.open("file", oflags::TRUNC, RW, 0, false).map(|_| ()),
            ),
            ("mkdir", t.mkdir("newdir")),
            ("unlink", t.unlink("file")),
            ("rmdir", t.rmdir("dir")),
            ("rename", t.rename("file", "moved")),
            ("symlink", t.symlink("file", "sym")),
            ("link", t.link("file", "hard")),
            (
                "set_times",
                t.set_times("file", false, 1, 1, fstflags::MTIM),
            ),
            (
                "fd_set_times",
                t.c.fd_filestat_set_times(3, 1, 1, fstflags::MTIM as u32),
            ),
        ] {
            assert_eq!(r, Err(errno::ROFS), "{what}");
        }
        assert_eq!(listing(&t.pre()), ["dir", "file"]);
        let md2 = sfs::metadata(t.pre().join("file")).unwrap();
        assert_eq!(sfs::read(t.pre().join("file")).unwrap(), b"content");
        assert_eq!(mtime_ns(&md2), mtime_ns(&md));

        // The backend by itself.
        let mut be = hostdir(&t.tmp, true, fb);
        let (fid, _) = be.walk(ROOT, &[b"file"]).unwrap();
        for flags in [
            lo::WRONLY,
            lo::RDWR,
            lo::RDONLY | lo::TRUNC,
            lo::RDONLY | O_APPEND,
        ] {
            assert_eq!(be.lopen(fid, flags).err(), Some(errno::ROFS), "{flags:o}");
        }
        be.lopen(fid, lo::RDONLY).unwrap();
        assert_eq!(be.write(fid, 0, b"x").err(), Some(errno::ROFS));
        let attr = SetAttr {
            valid: setattr::SIZE,
            ..SetAttr::default()
        };
        assert_eq!(be.setattr(fid, &attr).err(), Some(errno::ROFS));
        assert_eq!(be.link(ROOT, fid, b"hard").err(), Some(errno::ROFS));
        assert_eq!(
            be.lcreate(ROOT, b"new", lo::RDONLY, 0o644).err(),
            Some(errno::ROFS)
        );
        assert_eq!(be.mkdir(ROOT, b"new", 0o755).err(), Some(errno::ROFS));
        assert_eq!(be.symlink(ROOT, b"new", b"file").err(), Some(errno::ROFS));
        assert_eq!(be.unlinkat(ROOT, b"file", 0).err(), Some(errno::ROFS));
        assert_eq!(
            be.renameat(ROOT, b"file", ROOT, b"x").err(),
            Some(errno::ROFS)
        );
        assert_eq!(sfs::read(t.pre().join("file")).unwrap(), b"content");
    }
}

#[test]
fn lcreate_leaves_the_new_file_open() {
    for fb in MODES {
        let tmp = tree(|_| {});
        let mut be = hostdir(&tmp, false, fb);
        let (fid, _) = be.walk(ROOT, &[]).unwrap();
        let q = be
            .lcreate(fid, b"new", lo::RDWR | lo::CREAT | lo::EXCL, 0o640)
            .unwrap();
        assert!(!q.is_dir() && !q.is_symlink());
        assert_eq!(be.write(fid, 0, b"abc").unwrap(), 3);
        let mut buf = [0u8; 8];
        assert_eq!(be.read(fid, 1, &mut buf).unwrap(), 2);
        assert_eq!(&buf[..2], b"bc");
        let st = be.getattr(fid).unwrap();
        assert_eq!((st.mode & vfs::S_IFMT, st.size), (vfs::S_IFREG, 3));
        assert_eq!(st.mode & 0o777 & !0o640, 0);
        assert_eq!(q.path, st.ino);
        be.fsync(fid, true).unwrap();
        be.clunk(fid);
        assert_eq!(
            be.lcreate(ROOT, b"new", lo::RDWR | lo::CREAT | lo::EXCL, 0o640)
                .err(),
            Some(errno::EXIST)
        );
        // The root fid is still the directory.
        assert!(be.walk(ROOT, &[b"new"]).is_ok());
        // A fid not opened reads nothing.
        let (fid, _) = be.walk(ROOT, &[b"file"]).unwrap();
        assert_eq!(be.read(fid, 0, &mut buf).err(), Some(errno::BADF));
        assert_eq!(be.readdir(ROOT, 0).err(), Some(errno::INVAL));
        be.lopen(fid, lo::RDONLY).unwrap();
        assert_eq!(be.read(fid, 0, &mut buf).unwrap(), 7);
        assert_eq!(be.write(fid, 0, b"x").err(), Some(errno::BADF));
        // Opened directories list "." and ".." as QEMU does.
        let (d, _) = be.walk(ROOT, &[]).unwrap();
        be.lopen(d, lo::RDONLY | lo::DIRECTORY).unwrap();
        let names: Vec<Vec<u8>> = be
            .readdir(d, 0)
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        for n in [&b"."[..], b"..", b"file", b"dir", b"new"] {
            assert!(names.iter().any(|x| x == n), "{n:?}");
        }
        assert_eq!(
            be.lopen(fid, lo::RDONLY | lo::DIRECTORY).err(),
            Some(errno::NOTDIR)
        );
    }
}

/// Fids are slots that clunking frees; walks that fail leave none behind.
#[test]
fn fids_are_freed_and_reused() {
    let tmp = tree(|_| {});
    let mut be = hostdir(&tmp, false, false);
    let mut seen = Vec::new();
    for _ in 0..100 {
        let (a, _) = be.walk(ROOT, &[b"dir", b"inner"]).unwrap();
        let (b, _) = be.walk(a, &[]).unwrap();
        assert!(be.walk(ROOT, &[b"dir", b"nothere"]).is_err());
        assert!(be.walk(ROOT, &[b"nothere"]).is_err());
        seen.extend([a, b]);
        be.clunk(b);
        be.clunk(a);
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen, [1, 2]);
    be.clunk(ROOT);
    assert_eq!(be.live_fids(), 1);
    assert_eq!(be.getattr(7).err(), Some(errno::BADF));
    be.clunk(7);
}

#[test]
fn opening_the_directory() {
    let tmp = tree(|_| {});
    let e = HostDir::open(&tmp.path().join("missing"), false).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
    let e = HostDir::open(&tmp.path().join("pre/file"), false).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(HostErrno::NOTDIR.raw_os_error()));
    // Through a symbolic link is fine: the user named it.
    symlink(tmp.path().join("pre"), tmp.path().join("via")).unwrap();
    let mut be = HostDir::open(&tmp.path().join("via"), true).unwrap();
    assert!(be.walk(ROOT, &[b"file"]).is_ok());
    if !rustix::process::geteuid().is_root() {
        let locked = tmp.path().join("locked");
        sfs::create_dir(&locked).unwrap();
        sfs::set_permissions(&locked, sfs::Permissions::from_mode(0o300)).unwrap();
        let e = HostDir::open(&locked, false).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::PermissionDenied);
        sfs::set_permissions(&locked, sfs::Permissions::from_mode(0o600)).unwrap();
        let e = HostDir::open(&locked, false).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::PermissionDenied);
    }
}

#[test]
fn host_errors_become_wasi_errors() {
    for (host, wasi) in [
        (HostErrno::LOOP, errno::LOOP),
        (HostErrno::NOTEMPTY, errno::NOTEMPTY),
        (HostErrno::XDEV, errno::XDEV),
        (HostErrno::ROFS, errno::ROFS),
        (HostErrno::EXIST, errno::EXIST),
        (HostErrno::NOENT, errno::NOENT),
        (HostErrno::NOTDIR, errno::NOTDIR),
        (HostErrno::ISDIR, errno::ISDIR),
        (HostErrno::ACCESS, errno::ACCES),
        (HostErrno::PERM, errno::PERM),
        (HostErrno::NAMETOOLONG, errno::NAMETOOLONG),
        (HostErrno::NOSPC, errno::NOSPC),
        (HostErrno::DQUOT, errno::DQUOT),
        (HostErrno::MLINK, errno::MLINK),
        (HostErrno::TXTBSY, errno::TXTBSY),
        (HostErrno::MFILE, errno::MFILE),
        (HostErrno::OPNOTSUPP, errno::NOTSUP),
        (HostErrno::WOULDBLOCK, errno::AGAIN),
        (HostErrno::CONNREFUSED, errno::IO),
        (HostErrno::from_raw_os_error(4095), errno::IO),
    ] {
        assert_eq!(wasi_errno(host), wasi, "{host:?}");
    }
    // The same answers as the 9P client gives for QEMU's errors.
    for raw in 1..134 {
        let p9 = hako_kernel::p9::linux_to_wasi(raw as u32);
        if p9 != errno::IO || raw == HostErrno::IO.raw_os_error() {
            assert_eq!(
                wasi_errno(HostErrno::from_raw_os_error(raw)),
                p9,
                "errno {raw}"
            );
        }
    }
}
