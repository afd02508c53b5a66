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
    mem.copy_within(s, d.start);
    Ok(())
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
    fn init_from_dropped_segment() {
        let mut m = [0u8; 4];
        assert_eq!(copy_from(&mut m, &[], 0, 0, 0, M), Ok(()));
        assert_eq!(copy_from(&mut m, &[], 0, 0, 1, M), Err(M));
        assert_eq!(copy_from(&mut m, &[9, 9], 3, 0, 2, M), Err(M));
        copy_from(&mut m, &[5, 6, 7], 1, 1, 2, M).unwrap();
        assert_eq!(m, [0, 6, 7, 0]);
    }
}
