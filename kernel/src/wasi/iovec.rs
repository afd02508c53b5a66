//! I/O vectors (`iovec`/`ciovec` arrays) in guest memory: each entry is a buffer pointer
//! and a length, both `u32`, 8 bytes in all.

use crate::guest::{Errno, GuestMemory};
use hako_abi::wasi::errno;

/// Check an iovec array and every buffer in it; `EFAULT` before anything happens if one
/// does not fit. Never allocates per iovec.
pub(super) fn check_iovs(mem: &GuestMemory, iovs: u32, n: u32) -> Result<u64, Errno> {
    mem.bytes(iovs, n.checked_mul(8).ok_or(errno::FAULT)?)?;
    let mut total: u64 = 0;
    for i in 0..n {
        let (p, l) = iov(mem, iovs, i)?;
        mem.bytes(p, l)?;
        total += l as u64;
    }
    Ok(total)
}

pub(super) fn iov(mem: &GuestMemory, iovs: u32, i: u32) -> Result<(u32, u32), Errno> {
    Ok((
        mem.read_elem::<u32>(iovs, 2 * i)?,
        mem.read_elem::<u32>(iovs, 2 * i + 1)?,
    ))
}

/// The first non-empty iovec (Wasmtime reads into that one only), if any.
pub(super) fn first_iov(mem: &GuestMemory, iovs: u32, n: u32) -> Result<Option<(u32, u32)>, Errno> {
    check_iovs(mem, iovs, n)?;
    for i in 0..n {
        let (p, l) = iov(mem, iovs, i)?;
        if l > 0 {
            return Ok(Some((p, l)));
        }
    }
    Ok(None)
}
