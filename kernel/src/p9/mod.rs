//! 9P2000.L: message encoding and decoding, and a client over any [`Transport`] (the
//! virtio-9p device in the kernel, a fake in the tests). Safe code only; the client
//! implements [`crate::wasi::vfs::Backend`], the file-system interface the WASI layer uses.
//!
//! Errors from the server (`Rlerror`) carry Linux errno values; they are mapped to WASI
//! errno values here ([`linux_to_wasi`]), so nothing above this module sees Linux numbers.

use crate::guest::Errno;
use crate::wasi::vfs::{Backend, DirEnt, Fid, Qid, SetAttr, Stat};
use alloc::vec;
use alloc::vec::Vec;
use hako_abi::wasi::errno;

/// Message types (T-messages; the reply is `T + 1`).
pub mod msg {
    pub const RLERROR: u8 = 7;
    pub const TSTATFS: u8 = 8;
    pub const TLOPEN: u8 = 12;
    pub const TLCREATE: u8 = 14;
    pub const TSYMLINK: u8 = 16;
    pub const TREADLINK: u8 = 22;
    pub const TGETATTR: u8 = 24;
    pub const TSETATTR: u8 = 26;
    pub const TREADDIR: u8 = 40;
    pub const TFSYNC: u8 = 50;
    pub const TLINK: u8 = 70;
    pub const TMKDIR: u8 = 72;
    pub const TRENAMEAT: u8 = 74;
    pub const TUNLINKAT: u8 = 76;
    pub const TVERSION: u8 = 100;
    pub const TATTACH: u8 = 104;
    pub const TWALK: u8 = 110;
    pub const TREAD: u8 = 116;
    pub const TWRITE: u8 = 118;
    pub const TCLUNK: u8 = 120;
}

/// `NOFID`.
pub const NOFID: u32 = !0;
/// Most names one `Twalk` may carry.
pub const MAXWELEM: usize = 16;
/// `Tgetattr` mask: the basic fields.
pub const GETATTR_BASIC: u64 = 0x7ff;
/// Bytes of a message header (`size[4] type[1] tag[2]`).
pub const HEADER: usize = 7;
/// Room for the header and fixed fields of `Tread`/`Twrite`/`Rread`.
pub const IO_OVERHEAD: usize = 24;

/// Builds one T-message.
#[derive(Debug)]
pub struct Enc {
    buf: Vec<u8>,
}

impl Enc {
    pub fn new(ty: u8, tag: u16) -> Enc {
        let mut buf = Vec::with_capacity(64);
        buf.extend_from_slice(&[0, 0, 0, 0, ty]);
        buf.extend_from_slice(&tag.to_le_bytes());
        Enc { buf }
    }
    pub fn u8(mut self, v: u8) -> Self {
        self.buf.push(v);
        self
    }
    pub fn u16(mut self, v: u16) -> Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn u32(mut self, v: u32) -> Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn u64(mut self, v: u64) -> Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }
    /// A string: `len[2]` and the bytes (names longer than 65535 bytes are `ENAMETOOLONG`
    /// before they get here).
    pub fn str(mut self, s: &[u8]) -> Self {
        let n = s.len().min(u16::MAX as usize);
        self.buf.extend_from_slice(&(n as u16).to_le_bytes());
        self.buf.extend_from_slice(&s[..n]);
        self
    }
    pub fn bytes(mut self, s: &[u8]) -> Self {
        self.buf.extend_from_slice(s);
        self
    }
    pub fn finish(mut self) -> Vec<u8> {
        let n = self.buf.len() as u32;
        self.buf[..4].copy_from_slice(&n.to_le_bytes());
        self.buf
    }
}

/// Reads an R-message; every read past the end is `EIO`.
#[derive(Debug)]
pub struct Dec<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Dec<'a> {
    pub fn new(b: &'a [u8]) -> Self {
        Dec { b, at: 0 }
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8], Errno> {
        let end = self.at.checked_add(n).ok_or(errno::IO)?;
        let s = self.b.get(self.at..end).ok_or(errno::IO)?;
        self.at = end;
        Ok(s)
    }
    pub fn u8(&mut self) -> Result<u8, Errno> {
        Ok(self.take(1)?[0])
    }
    pub fn u16(&mut self) -> Result<u16, Errno> {
        let s = self.take(2)?;
        Ok(u16::from_le_bytes([s[0], s[1]]))
    }
    pub fn u32(&mut self) -> Result<u32, Errno> {
        let s = self.take(4)?;
        Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }
    pub fn u64(&mut self) -> Result<u64, Errno> {
        Ok(self.u32()? as u64 | (self.u32()? as u64) << 32)
    }
    pub fn str(&mut self) -> Result<&'a [u8], Errno> {
        let n = self.u16()? as usize;
        self.take(n)
    }
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], Errno> {
        self.take(n)
    }
    pub fn qid(&mut self) -> Result<Qid, Errno> {
        Ok(Qid {
            ty: self.u8()?,
            version: self.u32()?,
            path: self.u64()?,
        })
    }
    pub fn remaining(&self) -> usize {
        self.b.len() - self.at
    }
}

/// Check a reply's header: its type must be `ty + 1` (or `Rlerror`, whose errno is
/// returned mapped to WASI) and its size must match. Returns a decoder after the header.
pub fn reply(resp: &[u8], ty: u8) -> Result<Dec<'_>, Errno> {
    let mut d = Dec::new(resp);
    let size = d.u32()? as usize;
    if size < HEADER || size > resp.len() {
        return Err(errno::IO);
    }
    let mut d = Dec::new(&resp[..size]);
    d.u32()?;
    let rty = d.u8()?;
    d.u16()?;
    if rty == msg::RLERROR {
        return Err(linux_to_wasi(d.u32()?));
    }
    if rty != ty + 1 {
        return Err(errno::IO);
    }
    Ok(d)
}

/// A Linux errno (from `Rlerror`) as a WASI errno.
pub fn linux_to_wasi(e: u32) -> Errno {
    match e {
        1 => errno::PERM,
        2 => errno::NOENT,
        3 => 71,
        4 => 27,
        5 => errno::IO,
        6 => 60,
        7 => 1,
        8 => 45,
        9 => errno::BADF,
        10 => 12,
        11 => 6,
        12 => 48,
        13 => errno::ACCES,
        14 => errno::FAULT,
        16 => 10,
        17 => errno::EXIST,
        18 => 75,
        19 => 43,
        20 => errno::NOTDIR,
        21 => errno::ISDIR,
        22 => errno::INVAL,
        23 => 41,
        24 => 33,
        25 => 59,
        26 => 74,
        27 => errno::FBIG,
        28 => errno::NOSPC,
        29 => errno::SPIPE,
        30 => 69,
        31 => 34,
        32 => 64,
        34 => 68,
        36 => errno::NAMETOOLONG,
        38 => errno::NOSYS,
        39 => errno::NOTEMPTY,
        40 => errno::LOOP,
        75 => errno::OVERFLOW,
        84 => errno::ILSEQ,
        95 => errno::NOTSUP,
        116 => 72,
        122 => 19,
        _ => errno::IO,
    }
}

/// One request/response exchange with a 9P server.
pub trait Transport {
    /// Send `req`, put the reply in `resp`, return the reply's length.
    fn rpc(&mut self, req: &[u8], resp: &mut [u8]) -> Result<usize, Errno>;
}

/// A 9P2000.L client attached to one export.
#[derive(Debug)]
pub struct Client<T: Transport> {
    t: T,
    msize: u32,
    resp: Vec<u8>,
    root: Fid,
    next_fid: Fid,
    free: Vec<Fid>,
}

impl<T: Transport> Client<T> {
    /// `Tversion` (asking for `msize`) and `Tattach` to the export's root.
    pub fn connect(t: T, msize: u32) -> Result<Self, Errno> {
        let mut c = Client {
            t,
            msize,
            resp: vec![0; msize as usize],
            root: 0,
            next_fid: 1,
            free: Vec::new(),
        };
        let req = Enc::new(msg::TVERSION, 0xffff)
            .u32(msize)
            .str(b"9P2000.L")
            .finish();
        let mut d = c.call(&req, msg::TVERSION)?;
        let m = d.u32()?;
        let v = d.str()?;
        if v != b"9P2000.L" {
            return Err(errno::NOTSUP);
        }
        let m = m.min(msize);
        c.msize = m;
        c.resp.truncate(m as usize);
        let req = Enc::new(msg::TATTACH, 0)
            .u32(0)
            .u32(NOFID)
            .str(b"root")
            .str(b"")
            .u32(0)
            .finish();
        c.call(&req, msg::TATTACH)?.qid()?;
        Ok(c)
    }

    /// Largest payload of one `Tread`/`Twrite`.
    pub fn iounit(&self) -> usize {
        self.msize as usize - IO_OVERHEAD
    }

    fn call(&mut self, req: &[u8], ty: u8) -> Result<Dec<'_>, Errno> {
        let n = self.t.rpc(req, &mut self.resp)?;
        reply(&self.resp[..n.min(self.resp.len())], ty)
    }

    fn alloc_fid(&mut self) -> Fid {
        self.free.pop().unwrap_or_else(|| {
            let f = self.next_fid;
            self.next_fid += 1;
            f
        })
    }

    fn simple(&mut self, req: Vec<u8>, ty: u8) -> Result<(), Errno> {
        self.call(&req, ty).map(|_| ())
    }
}

impl<T: Transport> Backend for Client<T> {
    fn root(&self) -> Fid {
        self.root
    }

    fn walk(&mut self, fid: Fid, names: &[&[u8]]) -> Result<(Fid, Option<Qid>), Errno> {
        let mut cur = fid;
        let mut last = None;
        let mut chunks: Vec<&[&[u8]]> = names.chunks(MAXWELEM).collect();
        if chunks.is_empty() {
            chunks.push(&[]);
        }
        for chunk in chunks {
            let new = self.alloc_fid();
            let mut e = Enc::new(msg::TWALK, 0)
                .u32(cur)
                .u32(new)
                .u16(chunk.len() as u16);
            for n in chunk {
                e = e.str(n);
            }
            let req = e.finish();
            let r = self.call(&req, msg::TWALK).and_then(|mut d| {
                let n = d.u16()? as usize;
                let mut q = None;
                for _ in 0..n {
                    q = Some(d.qid()?);
                }
                Ok((n, q))
            });
            let ok = match r {
                Ok((n, q)) if n == chunk.len() => {
                    if q.is_some() {
                        last = q;
                    }
                    Ok(())
                }
                Ok(_) => Err(errno::NOENT),
                Err(e) => Err(e),
            };
            if cur != fid {
                self.clunk(cur);
            }
            if let Err(e) = ok {
                self.free.push(new);
                return Err(e);
            }
            cur = new;
        }
        Ok((cur, last))
    }

    fn clunk(&mut self, fid: Fid) {
        if fid == self.root {
            return;
        }
        let req = Enc::new(msg::TCLUNK, 0).u32(fid).finish();
        let _ = self.simple(req, msg::TCLUNK);
        self.free.push(fid);
    }

    fn lopen(&mut self, fid: Fid, flags: u32) -> Result<Qid, Errno> {
        let req = Enc::new(msg::TLOPEN, 0).u32(fid).u32(flags).finish();
        self.call(&req, msg::TLOPEN)?.qid()
    }

    fn lcreate(&mut self, fid: Fid, name: &[u8], flags: u32, mode: u32) -> Result<Qid, Errno> {
        let req = Enc::new(msg::TLCREATE, 0)
            .u32(fid)
            .str(name)
            .u32(flags)
            .u32(mode)
            .u32(0)
            .finish();
        self.call(&req, msg::TLCREATE)?.qid()
    }

    fn read(&mut self, fid: Fid, offset: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        let mut done = 0;
        while done < buf.len() {
            let want = (buf.len() - done).min(self.iounit());
            let req = Enc::new(msg::TREAD, 0)
                .u32(fid)
                .u64(offset + done as u64)
                .u32(want as u32)
                .finish();
            let mut d = self.call(&req, msg::TREAD)?;
            let n = (d.u32()? as usize).min(want);
            let data = d.bytes(n)?;
            buf[done..done + n].copy_from_slice(data);
            done += n;
            if n < want {
                break;
            }
        }
        Ok(done)
    }

    fn write(&mut self, fid: Fid, offset: u64, data: &[u8]) -> Result<usize, Errno> {
        let mut done = 0;
        loop {
            let n = (data.len() - done).min(self.iounit());
            let req = Enc::new(msg::TWRITE, 0)
                .u32(fid)
                .u64(offset + done as u64)
                .u32(n as u32)
                .bytes(&data[done..done + n])
                .finish();
            let w = (self.call(&req, msg::TWRITE)?.u32()? as usize).min(n);
            done += w;
            if done >= data.len() || w == 0 {
                return Ok(done);
            }
        }
    }

    fn getattr(&mut self, fid: Fid) -> Result<Stat, Errno> {
        let req = Enc::new(msg::TGETATTR, 0)
            .u32(fid)
            .u64(GETATTR_BASIC)
            .finish();
        let mut d = self.call(&req, msg::TGETATTR)?;
        let _valid = d.u64()?;
        let qid = d.qid()?;
        let mode = d.u32()?;
        let _uid = d.u32()?;
        let _gid = d.u32()?;
        let nlink = d.u64()?;
        let _rdev = d.u64()?;
        let size = d.u64()?;
        let _blksize = d.u64()?;
        let _blocks = d.u64()?;
        let mut t = [0u64; 3];
        for v in t.iter_mut() {
            let s = d.u64()?;
            let ns = d.u64()?;
            *v = s.saturating_mul(1_000_000_000).saturating_add(ns);
        }
        Ok(Stat {
            ino: qid.path,
            mode,
            nlink,
            size,
            atim: t[0],
            mtim: t[1],
            ctim: t[2],
        })
    }

    fn setattr(&mut self, fid: Fid, a: &SetAttr) -> Result<(), Errno> {
        let ts = |ns: u64| (ns / 1_000_000_000, ns % 1_000_000_000);
        let (asec, ansec) = ts(a.atime);
        let (msec, mnsec) = ts(a.mtime);
        let req = Enc::new(msg::TSETATTR, 0)
            .u32(fid)
            .u32(a.valid)
            .u32(a.mode)
            .u32(0)
            .u32(0)
            .u64(a.size)
            .u64(asec)
            .u64(ansec)
            .u64(msec)
            .u64(mnsec)
            .finish();
        self.simple(req, msg::TSETATTR)
    }

    fn readdir(&mut self, fid: Fid, offset: u64) -> Result<Vec<DirEnt>, Errno> {
        let count = self.iounit() as u32;
        let req = Enc::new(msg::TREADDIR, 0)
            .u32(fid)
            .u64(offset)
            .u32(count)
            .finish();
        let mut d = self.call(&req, msg::TREADDIR)?;
        let n = d.u32()? as usize;
        let data = d.bytes(n)?;
        let mut d = Dec::new(data);
        let mut out = Vec::new();
        while d.remaining() > 0 {
            let qid = d.qid()?;
            let offset = d.u64()?;
            let ty = d.u8()?;
            let name = d.str()?.to_vec();
            out.push(DirEnt {
                qid,
                offset,
                ty,
                name,
            });
        }
        Ok(out)
    }

    fn mkdir(&mut self, dfid: Fid, name: &[u8], mode: u32) -> Result<(), Errno> {
        let req = Enc::new(msg::TMKDIR, 0)
            .u32(dfid)
            .str(name)
            .u32(mode)
            .u32(0)
            .finish();
        self.call(&req, msg::TMKDIR)?.qid().map(|_| ())
    }

    fn unlinkat(&mut self, dfid: Fid, name: &[u8], flags: u32) -> Result<(), Errno> {
        let req = Enc::new(msg::TUNLINKAT, 0)
            .u32(dfid)
            .str(name)
            .u32(flags)
            .finish();
        self.simple(req, msg::TUNLINKAT)
    }

    fn renameat(
        &mut self,
        odfid: Fid,
        oname: &[u8],
        ndfid: Fid,
        nname: &[u8],
    ) -> Result<(), Errno> {
        let req = Enc::new(msg::TRENAMEAT, 0)
            .u32(odfid)
            .str(oname)
            .u32(ndfid)
            .str(nname)
            .finish();
        self.simple(req, msg::TRENAMEAT)
    }

    fn symlink(&mut self, dfid: Fid, name: &[u8], target: &[u8]) -> Result<(), Errno> {
        let req = Enc::new(msg::TSYMLINK, 0)
            .u32(dfid)
            .str(name)
            .str(target)
            .u32(0)
            .finish();
        self.call(&req, msg::TSYMLINK)?.qid().map(|_| ())
    }

    fn readlink(&mut self, fid: Fid) -> Result<Vec<u8>, Errno> {
        let req = Enc::new(msg::TREADLINK, 0).u32(fid).finish();
        Ok(self.call(&req, msg::TREADLINK)?.str()?.to_vec())
    }

    fn link(&mut self, dfid: Fid, fid: Fid, name: &[u8]) -> Result<(), Errno> {
        let req = Enc::new(msg::TLINK, 0)
            .u32(dfid)
            .u32(fid)
            .str(name)
            .finish();
        self.simple(req, msg::TLINK)
    }

    fn fsync(&mut self, fid: Fid, datasync: bool) -> Result<(), Errno> {
        let req = Enc::new(msg::TFSYNC, 0)
            .u32(fid)
            .u32(datasync as u32)
            .finish();
        self.simple(req, msg::TFSYNC)
    }
}

#[cfg(test)]
mod tests;
