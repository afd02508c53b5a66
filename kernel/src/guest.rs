//! The one typed, bounds-checked accessor for guest (Wasm linear) memory used by every
//! host function. Every pointer/length pair from the guest goes through here; an access
//! that does not fit in the memory is `EFAULT`.

use hako_abi::wasi::errno;

/// A WASI errno.
pub type Errno = u16;

/// A value stored little-endian in guest memory.
pub trait GuestValue: Sized + Copy {
    const SIZE: usize;
    fn load(b: &[u8]) -> Self;
    fn store(self, b: &mut [u8]);
}

macro_rules! guest_int {
    ($($t:ty),*) => {$(
        impl GuestValue for $t {
            const SIZE: usize = core::mem::size_of::<$t>();
            fn load(b: &[u8]) -> Self {
                let mut a = [0u8; core::mem::size_of::<$t>()];
                a.copy_from_slice(b);
                <$t>::from_le_bytes(a)
            }
            fn store(self, b: &mut [u8]) {
                b.copy_from_slice(&self.to_le_bytes());
            }
        }
    )*};
}
guest_int!(u8, u16, u32, u64);

/// A view of one linear memory (empty when the instance has none).
#[derive(Debug)]
pub struct GuestMemory<'a> {
    mem: &'a mut [u8],
}

impl<'a> GuestMemory<'a> {
    pub fn new(mem: &'a mut [u8]) -> Self {
        GuestMemory { mem }
    }

    fn range(&self, ptr: u32, len: u64) -> Result<core::ops::Range<usize>, Errno> {
        let start = ptr as u64;
        let end = start.checked_add(len).ok_or(errno::FAULT)?;
        if end > self.mem.len() as u64 {
            return Err(errno::FAULT);
        }
        Ok(start as usize..end as usize)
    }

    /// `len` bytes at `ptr`.
    pub fn bytes(&self, ptr: u32, len: u32) -> Result<&[u8], Errno> {
        let r = self.range(ptr, len as u64)?;
        Ok(&self.mem[r])
    }

    /// `len` bytes at `ptr`, writable.
    pub fn bytes_mut(&mut self, ptr: u32, len: u32) -> Result<&mut [u8], Errno> {
        let r = self.range(ptr, len as u64)?;
        Ok(&mut self.mem[r])
    }

    /// Read a `T` at `ptr`.
    pub fn read<T: GuestValue>(&self, ptr: u32) -> Result<T, Errno> {
        let r = self.range(ptr, T::SIZE as u64)?;
        Ok(T::load(&self.mem[r]))
    }

    /// Write a `T` at `ptr`.
    pub fn write<T: GuestValue>(&mut self, ptr: u32, v: T) -> Result<(), Errno> {
        let r = self.range(ptr, T::SIZE as u64)?;
        v.store(&mut self.mem[r]);
        Ok(())
    }

    /// Read element `i` of an array of `T` at `base`.
    pub fn read_elem<T: GuestValue>(&self, base: u32, i: u32) -> Result<T, Errno> {
        let off = (i as u64).checked_mul(T::SIZE as u64).ok_or(errno::FAULT)?;
        let ptr = u32::try_from(base as u64 + off).map_err(|_| errno::FAULT)?;
        self.read(ptr)
    }

    /// Write element `i` of an array of `T` at `base`.
    pub fn write_elem<T: GuestValue>(&mut self, base: u32, i: u32, v: T) -> Result<(), Errno> {
        let off = (i as u64).checked_mul(T::SIZE as u64).ok_or(errno::FAULT)?;
        let ptr = u32::try_from(base as u64 + off).map_err(|_| errno::FAULT)?;
        self.write(ptr, v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn bounds() {
        let mut buf = [0u8; 16];
        let mut m = GuestMemory::new(&mut buf);
        m.write(12, 0xdead_beefu32).unwrap();
        assert_eq!(m.read::<u32>(12), Ok(0xdead_beef));
        assert_eq!(m.read::<u8>(15), Ok(0xde));
        assert_eq!(m.read::<u32>(13), Err(errno::FAULT));
        assert_eq!(m.write(9, 1u64), Err(errno::FAULT));
        assert_eq!(m.bytes(16, 0).map(|b| b.len()), Ok(0));
        assert_eq!(m.bytes(17, 0).map(|b| b.len()), Err(errno::FAULT));
        assert_eq!(
            m.bytes(u32::MAX, u32::MAX).map(|b| b.len()),
            Err(errno::FAULT)
        );
        assert_eq!(m.read_elem::<u32>(0, 3), Ok(0xdead_beef));
        assert_eq!(m.read_elem::<u32>(0, 4), Err(errno::FAULT));
        assert_eq!(m.read_elem::<u64>(u32::MAX, u32::MAX), Err(errno::FAULT));
        let mut empty: [u8; 0] = [];
        assert_eq!(
            GuestMemory::new(&mut empty).read::<u8>(0),
            Err(errno::FAULT)
        );
    }
}
