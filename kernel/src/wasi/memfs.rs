//! An in-memory 9P-like file system for the unit tests.

use super::vfs::*;
use crate::guest::Errno;
use hako_abi::wasi::errno;
use std::collections::BTreeMap;
use std::vec::Vec;

#[derive(Debug, Clone)]
pub enum Node {
    File(Vec<u8>),
    Dir(BTreeMap<Vec<u8>, usize>),
    Link(Vec<u8>),
}

#[derive(Debug, Default)]
pub struct MemFs {
    pub nodes: Vec<(Node, usize /* parent */, u64 /* mtime */)>,
    fids: BTreeMap<Fid, usize>,
    next: Fid,
}

impl MemFs {
    pub fn new() -> Self {
        let mut m = MemFs {
            nodes: vec![(Node::Dir(BTreeMap::new()), 0, 0)],
            fids: BTreeMap::new(),
            next: 1,
        };
        m.fids.insert(0, 0);
        m
    }
    fn add(&mut self, parent: usize, name: &[u8], n: Node) -> usize {
        self.nodes.push((n, parent, 0));
        let i = self.nodes.len() - 1;
        if let Node::Dir(d) = &mut self.nodes[parent].0 {
            d.insert(name.to_vec(), i);
        }
        i
    }
    /// Test setup: create a file, dir (trailing '/') or symlink (`name -> target`).
    pub fn put(&mut self, path: &str, node: Node) -> usize {
        let mut cur = 0;
        let comps: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
        for (i, c) in comps.iter().enumerate() {
            let last = i == comps.len() - 1;
            let child = match &self.nodes[cur].0 {
                Node::Dir(d) => d.get(c.as_bytes()).copied(),
                _ => panic!("not a dir"),
            };
            cur = match child {
                Some(x) if !last => x,
                _ if last => return self.add(cur, c.as_bytes(), node),
                _ => self.add(cur, c.as_bytes(), Node::Dir(BTreeMap::new())),
            };
        }
        cur
    }
    #[allow(dead_code)]
    pub fn get(&self, path: &str) -> Option<&Node> {
        let mut cur = 0;
        for c in path.split('/').filter(|c| !c.is_empty()) {
            match &self.nodes[cur].0 {
                Node::Dir(d) => cur = *d.get(c.as_bytes())?,
                _ => return None,
            }
        }
        Some(&self.nodes[cur].0)
    }
    fn qid(&self, i: usize) -> Qid {
        let ty = match self.nodes[i].0 {
            Node::Dir(_) => QT_DIR,
            Node::Link(_) => QT_SYMLINK,
            Node::File(_) => 0,
        };
        Qid {
            ty,
            version: 0,
            path: i as u64 + 100,
        }
    }
    fn ino(&self, fid: Fid) -> Result<usize, Errno> {
        self.fids.get(&fid).copied().ok_or(errno::BADF)
    }
    fn dir(&mut self, fid: Fid) -> Result<&mut BTreeMap<Vec<u8>, usize>, Errno> {
        let i = self.ino(fid)?;
        match &mut self.nodes[i].0 {
            Node::Dir(d) => Ok(d),
            _ => Err(errno::NOTDIR),
        }
    }
    pub fn open_fids(&self) -> usize {
        self.fids.len()
    }
}

impl Backend for MemFs {
    fn root(&self) -> Fid {
        0
    }
    fn walk(&mut self, fid: Fid, names: &[&[u8]]) -> Result<(Fid, Option<Qid>), Errno> {
        let mut cur = self.ino(fid)?;
        let mut q = None;
        for n in names {
            assert!(
                !n.contains(&b'/') && *n != b"." && *n != b"..",
                "bad walk name"
            );
            cur = match &self.nodes[cur].0 {
                Node::Dir(d) => *d.get(*n).ok_or(errno::NOENT)?,
                _ => return Err(errno::NOTDIR),
            };
            q = Some(self.qid(cur));
        }
        let f = self.next;
        self.next += 1;
        self.fids.insert(f, cur);
        Ok((f, q))
    }
    fn clunk(&mut self, fid: Fid) {
        if fid != 0 {
            self.fids.remove(&fid);
        }
    }
    fn lopen(&mut self, fid: Fid, flags: u32) -> Result<Qid, Errno> {
        let i = self.ino(fid)?;
        if flags & oflags::TRUNC != 0 {
            if let Node::File(d) = &mut self.nodes[i].0 {
                d.clear();
            }
        }
        Ok(self.qid(i))
    }
    fn lcreate(&mut self, fid: Fid, name: &[u8], flags: u32, _mode: u32) -> Result<Qid, Errno> {
        let p = self.ino(fid)?;
        if self.dir(fid)?.contains_key(name) {
            return Err(errno::EXIST);
        }
        let _ = flags;
        let i = self.add(p, name, Node::File(Vec::new()));
        self.fids.insert(fid, i);
        Ok(self.qid(i))
    }
    fn read(&mut self, fid: Fid, offset: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        match &self.nodes[self.ino(fid)?].0 {
            Node::File(d) => {
                let s = (offset as usize).min(d.len());
                let n = buf.len().min(d.len() - s);
                buf[..n].copy_from_slice(&d[s..s + n]);
                Ok(n)
            }
            _ => Err(errno::ISDIR),
        }
    }
    fn write(&mut self, fid: Fid, offset: u64, data: &[u8]) -> Result<usize, Errno> {
        let i = self.ino(fid)?;
        match &mut self.nodes[i].0 {
            Node::File(d) => {
                let end = offset as usize + data.len();
                if d.len() < end {
                    d.resize(end, 0);
                }
                d[offset as usize..end].copy_from_slice(data);
                Ok(data.len())
            }
            _ => Err(errno::ISDIR),
        }
    }
    fn getattr(&mut self, fid: Fid) -> Result<Stat, Errno> {
        let i = self.ino(fid)?;
        let (mode, size) = match &self.nodes[i].0 {
            Node::File(d) => (S_IFREG | 0o644, d.len() as u64),
            Node::Dir(_) => (S_IFDIR | 0o755, 4096),
            Node::Link(t) => (S_IFLNK | 0o777, t.len() as u64),
        };
        Ok(Stat {
            ino: i as u64 + 100,
            mode,
            nlink: 1,
            size,
            atim: 0,
            mtim: self.nodes[i].2,
            ctim: 0,
        })
    }
    fn setattr(&mut self, fid: Fid, a: &SetAttr) -> Result<(), Errno> {
        let i = self.ino(fid)?;
        if a.valid & setattr::SIZE != 0 {
            if let Node::File(d) = &mut self.nodes[i].0 {
                d.resize(a.size as usize, 0);
            }
        }
        if a.valid & setattr::MTIME_SET != 0 {
            self.nodes[i].2 = a.mtime;
        }
        Ok(())
    }
    fn readdir(&mut self, fid: Fid, offset: u64) -> Result<Vec<DirEnt>, Errno> {
        let d = self.dir(fid)?.clone();
        Ok(d.iter()
            .enumerate()
            .skip(offset as usize)
            .map(|(k, (name, &i))| DirEnt {
                qid: self.qid(i),
                offset: k as u64 + 1,
                ty: match self.nodes[i].0 {
                    Node::Dir(_) => 4,
                    Node::File(_) => 8,
                    Node::Link(_) => 10,
                },
                name: name.clone(),
            })
            .collect())
    }
    fn mkdir(&mut self, dfid: Fid, name: &[u8], _mode: u32) -> Result<(), Errno> {
        let p = self.ino(dfid)?;
        if self.dir(dfid)?.contains_key(name) {
            return Err(errno::EXIST);
        }
        self.add(p, name, Node::Dir(BTreeMap::new()));
        Ok(())
    }
    fn unlinkat(&mut self, dfid: Fid, name: &[u8], flags: u32) -> Result<(), Errno> {
        let i = *self.dir(dfid)?.get(name).ok_or(errno::NOENT)?;
        match (&self.nodes[i].0, flags & AT_REMOVEDIR != 0) {
            (Node::Dir(d), true) if !d.is_empty() => return Err(errno::NOTEMPTY),
            (Node::Dir(_), false) => return Err(errno::ISDIR),
            (Node::Dir(_), true) => {}
            (_, true) => return Err(errno::NOTDIR),
            _ => {}
        }
        self.dir(dfid)?.remove(name);
        Ok(())
    }
    fn renameat(&mut self, o: Fid, on: &[u8], n: Fid, nn: &[u8]) -> Result<(), Errno> {
        let i = *self.dir(o)?.get(on).ok_or(errno::NOENT)?;
        self.dir(o)?.remove(on);
        self.dir(n)?.insert(nn.to_vec(), i);
        Ok(())
    }
    fn symlink(&mut self, dfid: Fid, name: &[u8], target: &[u8]) -> Result<(), Errno> {
        let p = self.ino(dfid)?;
        if self.dir(dfid)?.contains_key(name) {
            return Err(errno::EXIST);
        }
        self.add(p, name, Node::Link(target.to_vec()));
        Ok(())
    }
    fn readlink(&mut self, fid: Fid) -> Result<Vec<u8>, Errno> {
        match &self.nodes[self.ino(fid)?].0 {
            Node::Link(t) => Ok(t.clone()),
            _ => Err(errno::INVAL),
        }
    }
    fn link(&mut self, dfid: Fid, fid: Fid, name: &[u8]) -> Result<(), Errno> {
        let i = self.ino(fid)?;
        if self.dir(dfid)?.contains_key(name) {
            return Err(errno::EXIST);
        }
        self.dir(dfid)?.insert(name.to_vec(), i);
        Ok(())
    }
    fn fsync(&mut self, fid: Fid, _datasync: bool) -> Result<(), Errno> {
        self.ino(fid).map(|_| ())
    }
}
