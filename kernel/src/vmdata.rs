//! Data the kernel shares with compiled code, behind types that keep the kernel's safe code
//! from aliasing or overrunning it: a [`LinearMemory`] (its bytes are lent out only through
//! `&mut`, so two views of one memory cannot coexist), and [`GlobalSlot`] (a global's 16-byte slot, which compiled code
//! reads and writes through a pointer). The memory's pages come from a [`MapMemory`]
//! implementation, whose contract is the one `unsafe` promise the store relies on.

use alloc::boxed::Box;
use alloc::vec::Vec;
use hako_abi::vm::{MemoryDef, ValRaw, WASM_PAGE_SIZE};

/// The machine could not provide the memory asked for (out of frames).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutOfMemory;

/// Maps linear-memory pages.
///
/// # Safety
///
/// [`LinearMemory`] lends out the memory as a byte slice and hands it to compiled code: an
/// implementation must return the same base for every call with the same `id`, from a
/// reservation that nothing else uses for the rest of the program, and must have made
/// `[base + from, base + to)` readable, writable and zero when it returns `Ok`.
pub unsafe trait MapMemory {
    /// Map `[from, to)` (page-aligned offsets; below `from` is mapped already) of linear
    /// memory `id`'s reservation and return the reservation's base.
    fn map_memory(&mut self, id: usize, from: u64, to: u64) -> Result<*mut u8, OutOfMemory>;
}

/// A linear memory's bytes. `def` is what compiled code sees (its address stays put: the
/// store boxes memories); at least `def.size` bytes from `def.base` are mapped.
#[derive(Debug)]
pub struct LinearMemory {
    def: MemoryDef,
    id: usize,
    /// Bytes mapped from `def.base` (at least `def.size`).
    mapped: u64,
}

impl LinearMemory {
    /// Memory `id` of `pages` Wasm pages, mapped by `machine`.
    pub fn new(
        machine: &mut (impl MapMemory + ?Sized),
        id: usize,
        pages: u64,
    ) -> Result<Self, OutOfMemory> {
        let bytes = pages.checked_mul(WASM_PAGE_SIZE).ok_or(OutOfMemory)?;
        let base = machine.map_memory(id, 0, bytes)?;
        Ok(LinearMemory {
            def: MemoryDef { base, size: bytes },
            id,
            mapped: bytes,
        })
    }

    /// The size in bytes.
    pub fn size(&self) -> u64 {
        self.def.size
    }

    /// Set the size to `bytes`, mapping what is missing. A smaller size keeps the pages
    /// (a memory never shrinks; this is only used to grow).
    pub fn resize(
        &mut self,
        machine: &mut (impl MapMemory + ?Sized),
        bytes: u64,
    ) -> Result<(), OutOfMemory> {
        if bytes > self.mapped {
            machine.map_memory(self.id, self.mapped, bytes)?;
            self.mapped = bytes;
        }
        self.def.size = bytes.min(self.mapped);
        Ok(())
    }

    /// The definition compiled code reads (base and size), for instance contexts.
    pub fn def_ptr(&mut self) -> *mut MemoryDef {
        &mut self.def
    }

    /// The contents.
    pub fn bytes(&mut self) -> &mut [u8] {
        if self.def.size == 0 {
            return &mut [];
        }
        // SAFETY: `def.size` bytes from `def.base` are mapped, readable and writable, and
        // belong to this memory alone (the `MapMemory` contract); the slice borrows `self`
        // mutably, so no other view of the memory exists in the kernel while it lives, and
        // compiled code does not run while the kernel holds it (the kernel is
        // single-threaded and enters Wasm only from the runtime, holding no memory).
        unsafe { core::slice::from_raw_parts_mut(self.def.base, self.def.size as usize) }
    }
}

/// A global's slot: compiled code reads and writes it through a pointer, the kernel through
/// [`GlobalSlot::read`] and [`GlobalSlot::write`]. Slots live as long as the kernel.
#[repr(transparent)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GlobalSlot(*mut ValRaw);

impl GlobalSlot {
    /// Slots for `values`, which live from now on as long as the kernel.
    pub fn leak(values: Vec<ValRaw>) -> impl ExactSizeIterator<Item = GlobalSlot> {
        // Only the raw pointers are kept: no reference to the slots remains.
        Box::leak(values.into_boxed_slice())
            .iter_mut()
            .map(|v| GlobalSlot(v))
    }

    /// Slots compiled code received as pointers from the image.
    ///
    /// # Safety
    ///
    /// Every pointer in `slots` points to a `ValRaw` that lives as long as the kernel and
    /// that nothing holds a Rust reference to.
    pub unsafe fn from_raw(slots: &'static [*mut ValRaw]) -> &'static [GlobalSlot] {
        // SAFETY: `GlobalSlot` is a transparent wrapper of `*mut ValRaw`.
        unsafe { &*(slots as *const [*mut ValRaw] as *const [GlobalSlot]) }
    }

    /// The pointer compiled code uses.
    pub fn as_ptr(self) -> *mut ValRaw {
        self.0
    }

    /// The value.
    pub fn read(self) -> ValRaw {
        // SAFETY: the slot lives as long as the kernel, and no Rust reference to it exists
        // (see the constructors); the kernel is single-threaded, so no write races this read.
        unsafe { self.0.read() }
    }

    /// Set the value.
    pub fn write(self, v: ValRaw) {
        // SAFETY: as for `read`.
        unsafe { self.0.write(v) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    /// One leaked reservation of `pages` for memory 0; counts the calls.
    struct Map {
        base: *mut u8,
        pages: u64,
        calls: Vec<(u64, u64)>,
    }

    // SAFETY: one leaked zeroed allocation, the same base for every call; beyond it, refused.
    unsafe impl MapMemory for Map {
        fn map_memory(&mut self, id: usize, from: u64, to: u64) -> Result<*mut u8, OutOfMemory> {
            assert_eq!(id, 0);
            self.calls.push((from, to));
            if to > self.pages * WASM_PAGE_SIZE {
                return Err(OutOfMemory);
            }
            Ok(self.base)
        }
    }

    fn map(pages: u64) -> Map {
        let r = Box::leak(vec![0u8; (pages * WASM_PAGE_SIZE) as usize].into_boxed_slice());
        Map {
            base: r.as_mut_ptr(),
            pages,
            calls: Vec::new(),
        }
    }

    #[test]
    fn a_memory_maps_only_what_it_grows_into() {
        let mut m = map(3);
        let mut mem = LinearMemory::new(&mut m, 0, 1).unwrap();
        assert_eq!(mem.size(), WASM_PAGE_SIZE);
        mem.bytes()[0] = 1;
        mem.resize(&mut m, 2 * WASM_PAGE_SIZE).unwrap();
        assert_eq!(mem.bytes().len() as u64, 2 * WASM_PAGE_SIZE);
        assert_eq!(mem.bytes()[0], 1);
        assert_eq!(
            m.calls,
            [(0, WASM_PAGE_SIZE), (WASM_PAGE_SIZE, 2 * WASM_PAGE_SIZE)]
        );
        assert_eq!(mem.resize(&mut m, 4 * WASM_PAGE_SIZE), Err(OutOfMemory));
        assert_eq!(
            mem.size(),
            2 * WASM_PAGE_SIZE,
            "a failed grow changes nothing"
        );
        // SAFETY: the definition compiled code reads points at the same bytes.
        let def = unsafe { &*mem.def_ptr() };
        assert_eq!((def.base, def.size), (m.base, 2 * WASM_PAGE_SIZE));
        let empty = LinearMemory::new(&mut m, 0, 0).unwrap();
        assert_eq!(empty.size(), 0);
        assert!(matches!(
            LinearMemory::new(&mut m, 0, u64::MAX),
            Err(OutOfMemory)
        ));
    }

    #[test]
    fn global_slots_read_what_was_written() {
        let slots: Vec<GlobalSlot> = GlobalSlot::leak(vec![ValRaw::from_u32(1); 2]).collect();
        slots[1].write(ValRaw::from_u64(u64::MAX));
        assert_eq!(slots[0].read().u32(), 1);
        assert_eq!(slots[1].read().u64(), u64::MAX);
        assert_ne!(slots[0].as_ptr(), slots[1].as_ptr());
        let raw: &'static [*mut ValRaw] = Vec::leak(vec![slots[1].as_ptr()]);
        // SAFETY: the pointer is a leaked slot's, referenced by nothing else.
        let again = unsafe { GlobalSlot::from_raw(raw) };
        assert_eq!(again[0].read().u64(), u64::MAX);
    }
}
