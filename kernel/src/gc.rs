//! The GC heap shared by both platforms: allocation of struct and array objects for
//! compiled code (`hako_gc_alloc`) and constant expressions, and a non-moving mark-sweep
//! collector. Safe code, unit-tested on the host.
//!
//! Objects live in chunks of [`CHUNK_WORDS`] words owned by the heap (`Box<[u64]>`, from
//! the global allocator), cut by a bump pointer and reused through one free list per size
//! (in words); a bitmap per chunk marks where objects start, so the runtime reads and
//! writes objects through ordinary slices and finds the object an address points into.
//! Objects larger than a chunk's [`LARGE_WORDS`] get a box of their own. Nothing ever
//! moves: an address stays valid until the collector finds the object unreachable.
//!
//! Roots are handed to [`Heap::collect`] by the store (globals, tables, element segments)
//! and by the platform (the Wasm stack and the registers at the collection, scanned
//! conservatively: any word that points into an object keeps it); fields are traced
//! precisely from their canonical types.

use crate::types::TypeRegistry;
use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::vec;
use alloc::vec::Vec;
use hako_abi::gc::{self as abi_gc, def, FLAG_ARRAY, FLAG_MARK, HEADER_SIZE};
use hako_abi::trap::TrapCode;

/// The heap's default size limit (bytes of live objects), when the platform sets none.
pub const DEFAULT_LIMIT: u64 = 512 << 20;
/// The least allocation between two collections.
const MIN_COLLECTION_INTERVAL: u64 = 8 << 20;
/// Words of a chunk (256 KiB).
pub const CHUNK_WORDS: usize = 32 << 10;
/// Objects of more words than this get a box of their own.
pub const LARGE_WORDS: usize = 1 << 10;

/// One chunk, or one large object.
#[derive(Debug)]
struct Chunk {
    words: Box<[u64]>,
    /// Bit `i`: an object starts at word `i`.
    starts: Vec<u64>,
}

impl Chunk {
    fn new(words: usize) -> Result<Chunk, TrapCode> {
        let mut v: Vec<u64> = Vec::new();
        v.try_reserve_exact(words)
            .map_err(|_| TrapCode::GcHeapExhausted)?;
        v.resize(words, 0);
        Ok(Chunk {
            words: v.into_boxed_slice(),
            starts: vec![0; words.div_ceil(64)],
        })
    }
    fn base(&self) -> u64 {
        self.words.as_ptr() as u64
    }
    fn is_start(&self, i: usize) -> bool {
        self.starts
            .get(i / 64)
            .is_some_and(|b| b >> (i % 64) & 1 != 0)
    }
    fn set_start(&mut self, i: usize, on: bool) {
        let b = &mut self.starts[i / 64];
        match on {
            true => *b |= 1 << (i % 64),
            false => *b &= !(1 << (i % 64)),
        }
    }
    /// The size in words of the object starting at word `i`.
    fn size_at(&self, i: usize) -> usize {
        (self.words[i + 1] >> 32) as usize
    }
}

#[derive(Debug)]
pub struct Heap {
    chunks: Vec<Chunk>,
    /// Chunk index by base address.
    by_base: BTreeMap<u64, usize>,
    /// The chunk being cut and its next free word.
    bump: Option<(usize, usize)>,
    /// Free objects by size in words: (chunk, word).
    free: Vec<Vec<(u32, u32)>>,
    /// Bytes of the objects held now.
    bytes: u64,
    /// Objects held now.
    count: usize,
    /// At most this many bytes of objects.
    pub limit: u64,
    /// A collection is due when `bytes` exceeds this.
    next_collection: u64,
    /// Statistics: collections run, the most bytes held at once.
    pub collections: u64,
    pub peak: u64,
}

impl Default for Heap {
    fn default() -> Self {
        Self::new()
    }
}

impl Heap {
    pub const fn new() -> Heap {
        Heap {
            chunks: Vec::new(),
            by_base: BTreeMap::new(),
            bump: None,
            free: Vec::new(),
            bytes: 0,
            count: 0,
            limit: DEFAULT_LIMIT,
            next_collection: MIN_COLLECTION_INTERVAL,
            collections: 0,
            peak: 0,
        }
    }

    /// Bytes of the objects held now.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Objects held now.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Whether an allocation of `bytes` should be preceded by a collection.
    pub fn wants_collection(&self, bytes: u64) -> bool {
        self.bytes.saturating_add(bytes) > self.next_collection.min(self.limit)
    }

    fn add_chunk(&mut self, words: usize) -> Result<usize, TrapCode> {
        let c = Chunk::new(words)?;
        self.by_base.insert(c.base(), self.chunks.len());
        self.chunks.push(c);
        Ok(self.chunks.len() - 1)
    }

    /// Room for an object of `words` words: (chunk, word), zeroed.
    fn place(&mut self, words: usize) -> Result<(usize, usize), TrapCode> {
        if words > LARGE_WORDS {
            let c = self.add_chunk(words)?;
            return Ok((c, 0));
        }
        if let Some((c, w)) = self.free.get_mut(words).and_then(Vec::pop) {
            let (c, w) = (c as usize, w as usize);
            self.chunks[c].words[w..w + words].fill(0);
            return Ok((c, w));
        }
        match self.bump {
            Some((c, w)) if w + words <= CHUNK_WORDS => {
                self.bump = Some((c, w + words));
                Ok((c, w))
            }
            _ => {
                let c = self.add_chunk(CHUNK_WORDS)?;
                self.bump = Some((c, words));
                Ok((c, 0))
            }
        }
    }

    /// A new zeroed object of `bytes` bytes (header included) with its header filled in;
    /// its address.
    pub fn alloc(
        &mut self,
        type_id: u32,
        array: bool,
        bytes: u64,
        len: u32,
    ) -> Result<u64, TrapCode> {
        if bytes > abi_gc::MAX_ARRAY_BYTES + HEADER_SIZE {
            return Err(TrapCode::AllocationTooLarge);
        }
        let bytes = bytes.max(HEADER_SIZE).next_multiple_of(8);
        if self.bytes + bytes > self.limit {
            return Err(TrapCode::GcHeapExhausted);
        }
        let words = (bytes / 8) as usize;
        let (c, w) = self.place(words)?;
        let chunk = &mut self.chunks[c];
        let flags = if array { FLAG_ARRAY } else { 0 };
        chunk.words[w] = u64::from(type_id) | u64::from(flags) << 32;
        chunk.words[w + 1] = u64::from(len) | (words as u64) << 32;
        chunk.set_start(w, true);
        self.bytes += bytes;
        self.count += 1;
        self.peak = self.peak.max(self.bytes);
        Ok(chunk.base() + 8 * w as u64)
    }

    /// The chunk and word of the object starting at `addr`.
    fn locate(&self, addr: u64) -> Option<(usize, usize)> {
        let (base, c) = self.by_base.range(..=addr).next_back()?;
        let off = addr - base;
        if off % 8 != 0 {
            return None;
        }
        let w = (off / 8) as usize;
        self.chunks[*c].is_start(w).then_some((*c, w))
    }

    /// The object at `addr`, if there is one.
    pub fn object(&self, addr: u64) -> Option<&[u64]> {
        let (c, w) = self.locate(addr)?;
        let chunk = &self.chunks[c];
        chunk.words.get(w..w + chunk.size_at(w))
    }

    /// The object at `addr`, writable.
    pub fn object_mut(&mut self, addr: u64) -> Option<&mut [u64]> {
        let (c, w) = self.locate(addr)?;
        let chunk = &mut self.chunks[c];
        let n = chunk.size_at(w);
        chunk.words.get_mut(w..w + n)
    }

    /// The canonical type id and whether it is an array, of the object at `addr`.
    pub fn header(&self, addr: u64) -> Option<(u32, bool)> {
        let o = self.object(addr)?;
        Some((o[0] as u32, (o[0] >> 32) as u32 & FLAG_ARRAY != 0))
    }

    /// Writes `bytes` at byte `offset` of the object at `addr`.
    pub fn write(&mut self, addr: u64, offset: u64, bytes: &[u8]) -> Option<()> {
        let o = self.object_mut(addr)?;
        write_bytes(o, offset as usize, bytes)
    }

    /// Reads `out.len()` bytes at byte `offset` of the object at `addr`.
    pub fn read(&self, addr: u64, offset: u64, out: &mut [u8]) -> Option<()> {
        let o = self.object(addr)?;
        read_bytes(o, offset as usize, out)
    }

    /// The object whose bytes contain address `p`, if any (for conservative roots).
    fn containing(&self, p: u64) -> Option<u64> {
        let (base, c) = self.by_base.range(..=p).next_back()?;
        let chunk = &self.chunks[*c];
        let w = ((p - base) / 8) as usize;
        if w >= chunk.words.len() {
            return None;
        }
        // The nearest object start at or below `w`.
        let mut i = w;
        loop {
            let bits = chunk.starts[i / 64] & (u64::MAX >> (63 - i % 64));
            if bits != 0 {
                let start = (i / 64) * 64 + (63 - bits.leading_zeros() as usize);
                return (w < start + chunk.size_at(start)).then_some(base + 8 * start as u64);
            }
            if i < 64 {
                return None;
            }
            i = (i / 64) * 64 - 1;
        }
    }

    /// Mark-sweep: marks everything reachable from `exact` roots (reference values) and
    /// `conservative` ones (any word pointing into an object), tracing fields with their
    /// canonical types in `types`, and frees the rest.
    pub fn collect(
        &mut self,
        types: &TypeRegistry,
        exact: impl IntoIterator<Item = u64>,
        conservative: impl IntoIterator<Item = u64>,
    ) {
        let mut work: Vec<u64> = exact.into_iter().filter(|v| is_object_ref(*v)).collect();
        for w in conservative {
            if let Some(o) = self.containing(w) {
                work.push(o);
            }
        }
        while let Some(addr) = work.pop() {
            let Some((c, w)) = self.locate(addr) else {
                continue;
            };
            let chunk = &mut self.chunks[c];
            if (chunk.words[w] >> 32) as u32 & FLAG_MARK != 0 {
                continue;
            }
            chunk.words[w] |= u64::from(FLAG_MARK) << 32;
            let o = &chunk.words[w..w + chunk.size_at(w)];
            let Some(info) = types.info(o[0] as u32) else {
                continue;
            };
            match info.kind {
                def::STRUCT => {
                    for (i, off) in info.offsets.iter().enumerate() {
                        if info.field_code(i).is_some_and(abi_gc::is_traced) {
                            if let Some(v) = o.get((*off / 8) as usize) {
                                if is_object_ref(*v) {
                                    work.push(*v);
                                }
                            }
                        }
                    }
                }
                def::ARRAY if info.field_code(0).is_some_and(abi_gc::is_traced) => {
                    let len = o[1] as u32 as usize;
                    for v in o.iter().skip(2).take(len) {
                        if is_object_ref(*v) {
                            work.push(*v);
                        }
                    }
                }
                _ => {}
            }
        }
        self.sweep();
        self.collections += 1;
        self.next_collection = (2 * self.bytes).max(MIN_COLLECTION_INTERVAL);
    }

    /// Frees every unmarked object and clears the marks.
    fn sweep(&mut self) {
        let mut freed_bytes = 0;
        let mut freed = 0;
        let mut empty_large = Vec::new();
        for (c, chunk) in self.chunks.iter_mut().enumerate() {
            for k in 0..chunk.starts.len() {
                let mut bits = chunk.starts[k];
                while bits != 0 {
                    let w = k * 64 + bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    let n = chunk.size_at(w);
                    let head = &mut chunk.words[w];
                    if (*head >> 32) as u32 & FLAG_MARK != 0 {
                        *head &= !(u64::from(FLAG_MARK) << 32);
                        continue;
                    }
                    chunk.starts[k] &= !(1 << (w % 64));
                    freed_bytes += 8 * n as u64;
                    freed += 1;
                    if n > LARGE_WORDS {
                        empty_large.push(c);
                    } else {
                        if self.free.len() <= n {
                            self.free.resize_with(n + 1, Vec::new);
                        }
                        self.free[n].push((c as u32, w as u32));
                    }
                }
            }
        }
        // A large object's box goes back to the allocator: its slot keeps an empty chunk.
        for c in empty_large {
            let base = self.chunks[c].base();
            self.by_base.remove(&base);
            self.chunks[c] = Chunk {
                words: Box::new([]),
                starts: Vec::new(),
            };
        }
        self.bytes -= freed_bytes;
        self.count -= freed;
    }
}

/// Whether reference bits `v` may be a GC object's address (not null, `i31` or a host
/// reference).
pub fn is_object_ref(v: u64) -> bool {
    v != 0 && v & abi_gc::TAG_MASK == 0
}

/// Writes `bytes` at byte `offset` of `words` (little-endian), `None` when out of range.
pub fn write_bytes(words: &mut [u64], offset: usize, bytes: &[u8]) -> Option<()> {
    let end = offset.checked_add(bytes.len())?;
    if end > words.len() * 8 {
        return None;
    }
    for (i, b) in bytes.iter().enumerate() {
        let at = offset + i;
        let w = &mut words[at / 8];
        let shift = (at % 8) * 8;
        *w = (*w & !(0xff << shift)) | (u64::from(*b) << shift);
    }
    Some(())
}

/// Reads `out.len()` bytes at byte `offset` of `words`, `None` when out of range.
pub fn read_bytes(words: &[u64], offset: usize, out: &mut [u8]) -> Option<()> {
    let end = offset.checked_add(out.len())?;
    if end > words.len() * 8 {
        return None;
    }
    for (i, b) in out.iter_mut().enumerate() {
        let at = offset + i;
        *b = (words[at / 8] >> ((at % 8) * 8)) as u8;
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hako_abi::valtype::{ANYREF, CONCRETE, I32};

    #[test]
    fn chunks_free_lists_and_large_objects() {
        let types = TypeRegistry::new();
        let mut heap = Heap::new();
        // More small objects than a chunk holds, and two large ones.
        let small: Vec<u64> = (0..20_000)
            .map(|_| heap.alloc(0, false, 24, 0).unwrap())
            .collect();
        let big = heap
            .alloc(0, true, 8 * (LARGE_WORDS as u64 + 10), 3)
            .unwrap();
        let big2 = heap
            .alloc(0, true, 8 * (LARGE_WORDS as u64 + 10), 3)
            .unwrap();
        assert_eq!(heap.len(), 20_002);
        assert_eq!(heap.object(small[7]).unwrap().len(), 3);
        assert_eq!(heap.containing(big + 800), Some(big));
        // Keep every other small object and one large one.
        let keep: Vec<u64> = small.iter().copied().step_by(2).chain([big]).collect();
        heap.collect(&types, keep.clone(), []);
        assert_eq!(heap.len(), 10_001);
        assert!(heap.object(small[1]).is_none() && heap.object(big2).is_none());
        assert!(heap.object(small[2]).is_some());
        // Freed places are reused, zeroed.
        let again = heap.alloc(5, false, 24, 0).unwrap();
        assert!(small.contains(&again));
        assert_eq!(heap.object(again).unwrap()[2], 0);
        assert_eq!(heap.header(again), Some((5, false)));
        heap.collect(&types, [], []);
        assert!(heap.is_empty());
        assert_eq!(heap.bytes(), 0);
    }

    #[test]
    fn bytes_round_trip() {
        let mut w = [0u64; 3];
        write_bytes(&mut w, 5, &[1, 2, 3, 4, 5]).unwrap();
        let mut out = [0u8; 5];
        read_bytes(&w, 5, &mut out).unwrap();
        assert_eq!(out, [1, 2, 3, 4, 5]);
        assert_eq!(w[0] >> 40, 0x030201);
        assert!(write_bytes(&mut w, 22, &[0, 0, 0]).is_none());
    }

    #[test]
    fn collects_the_unreachable_keeps_the_reachable() {
        let mut types = TypeRegistry::new();
        // (type $node (struct (field i32) (field (mut (ref null $node)))))
        let node = u32::from(ANYREF) | CONCRETE;
        let ids = types
            .intern_module(
                &[
                    1,
                    def::STRUCT | def::FINAL,
                    def::NO_SUPER,
                    2,
                    0,
                    u32::from(I32),
                    0,
                    node,
                    1,
                ],
                &[],
            )
            .unwrap();
        let t = ids[0];
        let info = types.info(t).unwrap().clone();
        assert_eq!(info.offsets, [16, 24]);
        let mut heap = Heap::new();
        let a = heap.alloc(t, false, info.size, 0).unwrap();
        let b = heap.alloc(t, false, info.size, 0).unwrap();
        let c = heap.alloc(t, false, info.size, 0).unwrap();
        // a -> b -> a (a cycle), c alone.
        heap.write(a, 24, &b.to_le_bytes()).unwrap();
        heap.write(b, 24, &a.to_le_bytes()).unwrap();
        assert_eq!(heap.header(a), Some((t, false)));
        heap.collect(&types, [a], []);
        assert_eq!(heap.len(), 2);
        assert!(heap.object(c).is_none());
        // An interior pointer on the stack keeps its object.
        heap.collect(&types, [], [b + 20]);
        assert_eq!(heap.len(), 2);
        heap.collect(&types, [0, 1, 2], []);
        assert!(heap.is_empty());
        assert_eq!(heap.bytes(), 0);
        assert_eq!(
            heap.alloc(t, true, u64::MAX, 0),
            Err(TrapCode::AllocationTooLarge)
        );
        heap.limit = 64;
        heap.alloc(t, false, 64, 0).unwrap();
        assert_eq!(heap.alloc(t, false, 8, 0), Err(TrapCode::GcHeapExhausted));
    }
}
