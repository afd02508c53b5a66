//! Bounds-checked bulk operations on memories (`[u8]`) and tables (`[*const u8]`) with the
//! exact Wasm semantics: the whole range is checked first (a zero-length access at exactly
//! the end is fine), then the operation runs; nothing is written when it traps.

use hako_abi::trap::TrapCode;

fn range(
    len_total: usize,
    start: u64,
    len: u64,
    trap: TrapCode,
) -> Result<core::ops::Range<usize>, TrapCode> {
    let end = start.checked_add(len).ok_or(trap)?;
    if end > len_total as u64 {
        return Err(trap);
    }
    Ok(start as usize..end as usize)
}

/// `memory.fill` / `table.fill`.
pub fn fill<T: Copy>(
    dst: &mut [T],
    at: u64,
    value: T,
    len: u64,
    trap: TrapCode,
) -> Result<(), TrapCode> {
    let r = range(dst.len(), at, len, trap)?;
    dst[r].fill(value);
    Ok(())
}

/// `memory.copy` / `table.copy` within one memory or table (overlap-safe).
pub fn copy_within<T: Copy>(
    mem: &mut [T],
    dst: u64,
    src: u64,
    len: u64,
    trap: TrapCode,
) -> Result<(), TrapCode> {
    let s = range(mem.len(), src, len, trap)?;
    let d = range(mem.len(), dst, len, trap)?;
    // Apart (nearly every `memcpy` a program makes): one `copy_from_slice`, whatever the
    // length; the blocks below are for overlapping ranges.
    if s.end <= d.start {
        let (below, above) = mem.split_at_mut(d.start);
        above[..s.len()].copy_from_slice(&below[s]);
        return Ok(());
    }
    if d.end <= s.start {
        let (below, above) = mem.split_at_mut(s.start);
        below[d].copy_from_slice(&above[..s.len()]);
        return Ok(());
    }
    if d.start > s.start {
        copy_down(mem, s, d.start);
    } else {
        copy_up(mem, s, d.start);
    }
    Ok(())
}

/// How many elements [`copy_down`] and [`copy_up`] move at a time (64 bytes of a memory).
const BLOCK: usize = 64;

/// `mem.copy_within(s, dst)` for `dst` above `s.start`, highest elements first, in blocks of
/// [`BLOCK`] read whole into registers before they are written: what a block overwrites lies
/// above every element still to be read. `copy_within` itself is `memmove`, which the C
/// libraries linked here do one element at a time in this direction (musl's `std; rep
/// movsb`) and with `rep movsq` in the other, which is slow for nearby ranges: Sightglass's
/// `shootout-memmove` ran at 0.1x Wasmtime's speed on the Linux target.
fn copy_down<T: Copy>(mem: &mut [T], s: core::ops::Range<usize>, dst: usize) {
    let mut n = s.len();
    while n >= BLOCK {
        n -= BLOCK;
        let block = read_block(mem, s.start + n);
        mem[dst + n..dst + n + BLOCK].copy_from_slice(&block);
    }
    for i in (0..n).rev() {
        mem[dst + i] = mem[s.start + i];
    }
}

/// `mem.copy_within(s, dst)` for `dst` at or below `s.start`, lowest elements first (see
/// [`copy_down`]).
fn copy_up<T: Copy>(mem: &mut [T], s: core::ops::Range<usize>, dst: usize) {
    let len = s.len();
    let mut i = 0;
    while i + BLOCK <= len {
        let block = read_block(mem, s.start + i);
        mem[dst + i..dst + i + BLOCK].copy_from_slice(&block);
        i += BLOCK;
    }
    for i in i..len {
        mem[dst + i] = mem[s.start + i];
    }
}

fn read_block<T: Copy>(mem: &[T], at: usize) -> [T; BLOCK] {
    match mem[at..at + BLOCK].try_into() {
        Ok(block) => block,
        Err(_) => unreachable!("the range is BLOCK long"),
    }
}

/// `memory.copy` / `table.copy` between two different memories or tables, and
/// `memory.init` / `table.init` from a (possibly dropped, i.e. empty) segment.
pub fn copy_from<T: Copy>(
    dst_mem: &mut [T],
    src_mem: &[T],
    dst: u64,
    src: u64,
    len: u64,
    trap: TrapCode,
) -> Result<(), TrapCode> {
    let s = range(src_mem.len(), src, len, trap)?;
    let d = range(dst_mem.len(), dst, len, trap)?;
    dst_mem[d].copy_from_slice(&src_mem[s]);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    const M: TrapCode = TrapCode::MemoryOutOfBounds;

    #[test]
    fn fill_bounds() {
        let mut m = [0u8; 8];
        assert_eq!(fill(&mut m, 8, 1, 0, M), Ok(()));
        assert_eq!(fill(&mut m, 9, 1, 0, M), Err(M));
        assert_eq!(fill(&mut m, 7, 1, 2, M), Err(M));
        assert_eq!(m, [0; 8]);
        assert_eq!(fill(&mut m, u64::MAX, 1, 2, M), Err(M));
        fill(&mut m, 2, 7, 3, M).unwrap();
        assert_eq!(m, [0, 0, 7, 7, 7, 0, 0, 0]);
    }

    #[test]
    fn copy_overlap_and_bounds() {
        let mut m = [1u8, 2, 3, 4, 5, 6, 7, 8];
        copy_within(&mut m, 2, 0, 4, M).unwrap();
        assert_eq!(m, [1, 2, 1, 2, 3, 4, 7, 8]);
        copy_within(&mut m, 0, 2, 4, M).unwrap();
        assert_eq!(m, [1, 2, 3, 4, 3, 4, 7, 8]);
        assert_eq!(copy_within(&mut m, 0, 5, 4, M), Err(M));
        assert_eq!(copy_within(&mut m, 8, 8, 0, M), Ok(()));
        assert_eq!(copy_within(&mut m, 9, 0, 0, M), Err(M));
    }

    #[test]
    fn overlapping_copies_match_memmove() {
        let init: Vec<u8> = (0..=255).cycle().take(300).collect();
        for len in [0, 1, 31, 32, 33, 64, 100, 200] {
            for (dst, src) in [
                (1, 0),
                (7, 3),
                (40, 0),
                (32, 0),
                (100, 10),
                (0, 50),
                (5, 5),
                (0, 200),
                (200, 0),
                (64, 0),
                (0, 64),
            ] {
                if dst + len > init.len() || src + len > init.len() {
                    continue;
                }
                let mut ours = init.clone();
                copy_within(&mut ours, dst as u64, src as u64, len as u64, M).unwrap();
                let mut expected = init.clone();
                expected.copy_within(src..src + len, dst);
                assert_eq!(ours, expected, "dst {dst} src {src} len {len}");
            }
        }
    }

    #[test]
    fn init_from_dropped_segment() {
        let mut m = [0u8; 4];
        assert_eq!(copy_from(&mut m, &[], 0, 0, 0, M), Ok(()));
        assert_eq!(copy_from(&mut m, &[], 0, 0, 1, M), Err(M));
        assert_eq!(copy_from(&mut m, &[9, 9], 3, 0, 2, M), Err(M));
        copy_from(&mut m, &[5, 6, 7], 1, 1, 2, M).unwrap();
        assert_eq!(m, [0, 6, 7, 0]);
    }
}
