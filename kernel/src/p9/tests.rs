use super::*;
use crate::wasi::vfs::Backend;
use std::collections::VecDeque;

/// Replays canned replies and keeps the requests.
#[derive(Default)]
struct Canned {
    replies: VecDeque<Vec<u8>>,
    sent: Vec<Vec<u8>>,
}

impl Transport for Canned {
    fn rpc(&mut self, req: &[u8], resp: &mut [u8]) -> Result<usize, Errno> {
        self.sent.push(req.to_vec());
        let r = self.replies.pop_front().ok_or(errno::IO)?;
        resp[..r.len()].copy_from_slice(&r);
        Ok(r.len())
    }
}

fn r(ty: u8, body: Enc) -> Vec<u8> {
    let mut v = body.finish();
    v[4] = ty + 1;
    v
}

fn qid(e: Enc, ty: u8, path: u64) -> Enc {
    e.u8(ty).u32(0).u64(path)
}

fn connected() -> Client<Canned> {
    let mut t = Canned::default();
    t.replies
        .push_back(r(msg::TVERSION, Enc::new(0, 0).u32(8192).str(b"9P2000.L")));
    t.replies
        .push_back(r(msg::TATTACH, qid(Enc::new(0, 0), 0x80, 1)));
    Client::connect(t, 65536).unwrap()
}

#[test]
fn version_attach_encoding() {
    let c = connected();
    assert_eq!(c.iounit(), 8192 - IO_OVERHEAD);
    let v = &c.t.sent[0];
    assert_eq!(&v[..4], &(v.len() as u32).to_le_bytes());
    assert_eq!(v[4], msg::TVERSION);
    assert_eq!(&v[5..7], &[0xff, 0xff]);
    assert_eq!(&v[7..11], &65536u32.to_le_bytes());
    assert_eq!(&v[11..13], &8u16.to_le_bytes());
    assert_eq!(&v[13..], b"9P2000.L");
    assert_eq!(c.t.sent[1][4], msg::TATTACH);
}

#[test]
fn walk_partial_is_enoent_and_lerror_maps() {
    let mut c = connected();
    // Two names asked, one qid returned.
    c.t.replies
        .push_back(r(msg::TWALK, qid(Enc::new(0, 0).u16(1), 0x80, 5)));
    assert_eq!(c.walk(0, &[b"a", b"b"]), Err(errno::NOENT));
    c.t.replies.push_back(r(
        msg::TWALK,
        qid(qid(Enc::new(0, 0).u16(2), 0x80, 5), 2, 6),
    ));
    let (fid, q) = c.walk(0, &[b"a", b"b"]).unwrap();
    assert_eq!(q.unwrap().path, 6);
    assert!(q.unwrap().is_symlink());
    let sent = c.t.sent.last().unwrap();
    let mut d = Dec::new(&sent[HEADER..]);
    assert_eq!(d.u32(), Ok(0));
    assert_eq!(d.u32(), Ok(fid));
    assert_eq!(d.u16(), Ok(2));
    assert_eq!(d.str(), Ok(&b"a"[..]));
    assert_eq!(d.str(), Ok(&b"b"[..]));
    let mut e = Enc::new(0, 0).u32(40).finish();
    e[4] = msg::RLERROR;
    c.t.replies.push_back(e);
    assert_eq!(c.readlink(fid), Err(errno::LOOP));
}

#[test]
fn read_chunks_and_short_replies() {
    let mut c = connected();
    c.t.replies
        .push_back(r(msg::TREAD, Enc::new(0, 0).u32(3).bytes(b"abc")));
    let mut buf = [0u8; 10];
    assert_eq!(c.read(7, 0, &mut buf), Ok(3));
    assert_eq!(&buf[..3], b"abc");
    // A reply claiming more data than it carries is EIO, not a panic.
    c.t.replies
        .push_back(r(msg::TREAD, Enc::new(0, 0).u32(100).bytes(b"abc")));
    assert_eq!(c.read(7, 0, &mut buf), Err(errno::IO));
    // A reply of the wrong type.
    c.t.replies.push_back(r(msg::TWRITE, Enc::new(0, 0).u32(1)));
    assert_eq!(c.read(7, 0, &mut buf), Err(errno::IO));
}

#[test]
fn getattr_and_readdir_decode() {
    let mut c = connected();
    let mut e = qid(Enc::new(0, 0).u64(0x7ff), 0, 42)
        .u32(0o100644)
        .u32(0)
        .u32(0);
    e = e.u64(2).u64(0).u64(1234).u64(4096).u64(8);
    for v in [1u64, 2, 3, 4, 5, 6, 0, 0, 0, 0] {
        e = e.u64(v);
    }
    c.t.replies.push_back(r(msg::TGETATTR, e));
    let st = c.getattr(1).unwrap();
    assert_eq!(
        (st.ino, st.mode, st.nlink, st.size),
        (42, 0o100644, 2, 1234)
    );
    assert_eq!(
        (st.atim, st.mtim, st.ctim),
        (1_000_000_002, 3_000_000_004, 5_000_000_006)
    );
    let ents = qid(Enc::new(0, 0), 0, 9).u64(1).u8(8).str(b"x").finish();
    let ents = &ents[HEADER..];
    c.t.replies.push_back(r(
        msg::TREADDIR,
        Enc::new(0, 0).u32(ents.len() as u32).bytes(ents),
    ));
    let d = c.readdir(1, 0).unwrap();
    assert_eq!(d.len(), 1);
    assert_eq!((d[0].qid.path, d[0].ty, &d[0].name[..]), (9, 8, &b"x"[..]));
}
