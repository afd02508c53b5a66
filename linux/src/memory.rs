//! Linear memories on Linux: one reservation of address space for all of them, made on
//! first use, [`GUARDED_MEMORY_RESERVATION`] (8 GiB) per memory as in the kernel, so that
//! compiled code needs no bounds checks: pages are made readable and writable as a memory
//! grows, and an access beyond its size faults in its own reservation, which the signal
//! handler turns into `MemoryOutOfBounds`. Memories are never freed (as in the kernel).

use core::sync::atomic::{AtomicUsize, Ordering};
use hako_abi::vm::{GUARDED_MEMORY_RESERVATION, MAX_MEMORY_BYTES};
use hako_kernel::vmdata::OutOfMemory;

/// How many linear memories a process can have (8 TiB of address space, which costs
/// nothing until pages are touched; a spec script creates a few hundred memories at most).
pub const MAX_MEMORIES: usize = 1024;

const RESERVATION: usize = GUARDED_MEMORY_RESERVATION as usize;

/// The start of the reservation, or 0 before the first memory.
static REGION: AtomicUsize = AtomicUsize::new(0);

/// The reserved range `[start, end)`, once any memory exists.
pub fn region() -> Option<(usize, usize)> {
    let base = REGION.load(Ordering::Acquire);
    (base != 0).then(|| (base, base + MAX_MEMORIES * RESERVATION))
}

fn reserve() -> Result<usize, OutOfMemory> {
    if let Some((base, _)) = region() {
        return Ok(base);
    }
    let len = MAX_MEMORIES * RESERVATION;
    // SAFETY: a fresh anonymous mapping at an address the kernel chooses: it replaces
    // nothing; PROT_NONE and MAP_NORESERVE make it address space only.
    let p = unsafe {
        libc::mmap(
            core::ptr::null_mut(),
            len,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(OutOfMemory);
    }
    REGION.store(p as usize, Ordering::Release);
    Ok(p as usize)
}

/// Make bytes `[from, to)` of memory `id` readable and writable (zero-filled: they were
/// never accessible before), and return the memory's base.
pub fn map(id: usize, from: u64, to: u64) -> Result<*mut u8, OutOfMemory> {
    if id >= MAX_MEMORIES || to > MAX_MEMORY_BYTES {
        return Err(OutOfMemory);
    }
    let base = reserve()? + id * RESERVATION;
    let page = 4096u64;
    let (from, to) = (from / page * page, to.div_ceil(page) * page);
    if to > from {
        // SAFETY: `[base + from, base + to)` lies inside memory `id`'s part of the
        // reservation (checked above: `to` is at most half of it), which only this module
        // maps; widening access to it never affects other mappings.
        let r = unsafe {
            libc::mprotect(
                (base + from as usize) as *mut libc::c_void,
                (to - from) as usize,
                libc::PROT_READ | libc::PROT_WRITE,
            )
        };
        if r != 0 {
            return Err(OutOfMemory);
        }
    }
    Ok(base as *mut u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memories_grow_zeroed_and_stay_apart() {
        let a = map(0, 0, 65536).unwrap();
        let b = map(1, 0, 65536).unwrap();
        assert_eq!(b as usize - a as usize, RESERVATION);
        // SAFETY: the first 64 KiB of both memories were just made writable.
        unsafe {
            assert_eq!(*a.add(65535), 0);
            *a.add(65535) = 7;
            assert_eq!(*b.add(65535), 0);
        }
        // Growing keeps what was written.
        assert_eq!(map(0, 65536, 131072).unwrap(), a);
        // SAFETY: as above.
        unsafe { assert_eq!(*a.add(65535), 7) };
        let (start, end) = region().unwrap();
        assert!(start <= a as usize && (b as usize) < end);
        assert!(map(MAX_MEMORIES, 0, 1).is_err());
        assert!(map(0, 0, 5 << 30).is_err());
    }
}
