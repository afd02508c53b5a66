//! Physical frames (from the PVH memory map), the kernel heap and 4 KiB page mappings.
//!
//! Physical memory below 4 GiB is identity-mapped by the boot page tables (2 MiB pages), so
//! a frame's physical address is also a usable virtual address. Only frames below 4 GiB are
//! used. Linear memories (4 KiB pages) and the Wasm stack (2 MiB pages, frames cut from the
//! top of RAM, and 64 KiB of 4 KiB pages on top) are mapped above 512 GiB: what every
//! program maps at boot (the stack, the first 2 MiB of memory 0) through static page tables
//! (the boot windows, `crate::layout::BOOT_WINDOWS`), the rest through an [`OffsetPageTable`] with
//! offset 0.

use super::boot::{MemMapEntry, E820_RAM};
use super::cell::KernelCell;
use crate::layout::{BOOT_WINDOWS as WINDOWS, IDENTITY_LIMIT};
use linked_list_allocator::LockedHeap;
use x86_64::registers::control::Cr3;
use x86_64::structures::paging::page_table::PageTableEntry;
use x86_64::structures::paging::{
    FrameAllocator, Mapper, OffsetPageTable, Page, PageTable, PageTableFlags, PhysFrame, Size2MiB,
    Size4KiB,
};
use x86_64::{PhysAddr, VirtAddr};

#[global_allocator]
static HEAP: LockedHeap = LockedHeap::empty();

const PAGE: u64 = 4096;
const HUGE_PAGE: u64 = 2 << 20;
const MAX_REGIONS: usize = 32;

#[derive(Debug)]
struct Frames {
    /// Free physical ranges `[start, end)`, page-aligned; allocation bumps `start`.
    regions: [(u64, u64); MAX_REGIONS],
    count: usize,
    /// The warm frames (see [`init`]) end here; they are zero when handed out.
    warm_end: u64,
}

static FRAMES: KernelCell<Frames> = KernelCell::new(Frames {
    regions: [(0, 0); MAX_REGIONS],
    count: 0,
    warm_end: 0,
});

/// Heap bytes handed to the allocator.
static HEAP_INFO: KernelCell<(u64, u64)> = KernelCell::new((0, 0));

/// The size of the kernel heap (set by [`init`]).
pub fn heap_size() -> u64 {
    HEAP_INFO.with(|h| h.1)
}

/// At most this much of the rest of the image's last 2 MiB goes to the first frames.
const MAX_WARM_FRAMES: u64 = 512 << 10;

/// Build the frame allocator and the heap from the memory map.
///
/// QEMU backs guest RAM with 2 MiB transparent huge pages of the host: the first write to
/// each 2 MiB the guest touches costs a host page fault that clears it (about 0.2 ms here),
/// and loading the image filled the 2 MiB that holds its end already. So the first frames
/// (a small program's linear memory, its page tables and the top of the Wasm stack) come
/// from the first half of the rest of that 2 MiB, and the heap, whose first allocations are
/// at its start, begins right after them.
pub fn init(memmap: &[MemMapEntry], kernel_end: u64) {
    let image_end = kernel_end.max(1 << 20).next_multiple_of(PAGE);
    let warm = ((image_end.next_multiple_of(HUGE_PAGE) - image_end) / 2).min(MAX_WARM_FRAMES)
        & !(PAGE - 1);
    let warm_in_ram = memmap.iter().any(|e| {
        e.ty == E820_RAM && e.addr <= image_end && image_end + warm <= e.addr.saturating_add(e.size)
    });
    let (heap_start, heap_size) = FRAMES.with(|f| {
        let mut low = image_end;
        if warm > 0 && warm_in_ram {
            f.regions[0] = (image_end, image_end + warm);
            f.count = 1;
            f.warm_end = image_end + warm;
            low += warm;
        }
        let first_ram = f.count;
        for e in memmap.iter().filter(|e| e.ty == E820_RAM) {
            let start = e.addr.max(low).next_multiple_of(PAGE);
            let end = (e.addr.saturating_add(e.size)).min(IDENTITY_LIMIT) & !(PAGE - 1);
            if start < end && f.count < MAX_REGIONS {
                f.regions[f.count] = (start, end);
                f.count += 1;
            }
        }
        let total: u64 = f.regions[..f.count].iter().map(|(s, e)| e - s).sum();
        let Some(big) = (first_ram..f.count).max_by_key(|&i| f.regions[i].1 - f.regions[i].0)
        else {
            super::panic::fatal(format_args!("no usable RAM in the memory map"));
        };
        let (s, e) = f.regions[big];
        // A quarter of RAM (GC programs keep their objects here, `crate::gc`).
        let size = (total / 4).clamp(4 << 20, 1 << 30).min((e - s) / 2) & !(PAGE - 1);
        f.regions[big].0 = s + size;
        (s, size)
    });
    HEAP_INFO.with(|h| *h = (heap_start, heap_size));
    // SAFETY: `[heap_start, heap_start + heap_size)` is RAM from the memory map above the
    // kernel image, identity-mapped, removed from the frame allocator, and used for nothing
    // else; `init` is called once.
    unsafe {
        HEAP.lock()
            .init(heap_start as usize as *mut u8, heap_size as usize)
    };
    link_windows();
}

// The boot windows (`crate::layout::BOOT_WINDOWS`), the two 2 MiB windows of virtual memory
// every program maps at boot: the 4 KiB part on top of the Wasm stack (its 2 MiB part lies
// in the same page directory, just below) and the start of linear memory 0. Their page
// tables are static and linked into the PML4 by [`init`] with a few stores, and
// [`map_zeroed`], [`map_uncleared`] and [`map_uncleared_huge`] write their entries
// directly: under TCG every instruction run once costs its translation, and the general
// `Mapper` path (walking, creating and clearing tables) took about 70 translated blocks of
// every boot. Ranges outside the windows, and later growth past them, go through the
// `Mapper`, which walks these tables like any other.

/// A window's page tables: the level-3 table its PML4 entry points to, the level-2 table for
/// its GiB and the level-1 table for the window itself.
#[repr(C)]
struct WindowTables {
    l3: Table,
    l2: Table,
    l1: Table,
}

/// A page table as a plain array, so that runs of entries can be sliced.
#[repr(C, align(4096))]
struct Table([PageTableEntry; 512]);

/// In `.bss` (all zero: no entry present; the ELF loader zero-fills it).
static mut WINDOW_TABLES: [WindowTables; 2] = [WindowTables::EMPTY, WindowTables::EMPTY];

impl WindowTables {
    const EMPTY: WindowTables = WindowTables {
        l3: Table([const { PageTableEntry::new() }; 512]),
        l2: Table([const { PageTableEntry::new() }; 512]),
        l1: Table([const { PageTableEntry::new() }; 512]),
    };
}

/// Which window holds all of `[start, start + len)`, and the index of its first 4 KiB page.
fn window_of(start: u64, len: u64) -> Option<(usize, usize)> {
    let inside = |w: u64| start >= w && start + len <= w + HUGE_PAGE && len > 0;
    let i = if inside(WINDOWS[1]) {
        1
    } else if inside(WINDOWS[0]) {
        0
    } else {
        return None;
    };
    Some((i, ((start - WINDOWS[i]) / PAGE) as usize))
}

/// The tables of window `i`.
fn window(i: usize) -> &'static mut WindowTables {
    // SAFETY: the window tables are only touched here, by [`link_windows`] and the map
    // functions, which run on the one CPU with `FRAMES` borrowed exclusively (so never
    // twice at once), and the CPU's page walks only read them.
    unsafe { &mut (*core::ptr::addr_of_mut!(WINDOW_TABLES))[i] }
}

/// Point the active PML4 at the window tables (once, from [`init`]).
fn link_windows() {
    let (l4_frame, _) = Cr3::read();
    // SAFETY: CR3 holds the active PML4, identity-mapped; the boot code set only its first
    // entry (the identity map), and each window has its own PML4 entry (checked below).
    let l4 = unsafe { &mut *(l4_frame.start_address().as_u64() as usize as *mut PageTable) };
    for (i, &w) in WINDOWS.iter().enumerate() {
        let v = VirtAddr::new(w);
        let t = window(i);
        let table = |t: &Table| PhysAddr::new(t as *const Table as u64);
        if !l4[v.p4_index()].is_unused() {
            super::panic::fatal(format_args!("boot window {w:#x} shares a PML4 entry"));
        }
        l4[v.p4_index()].set_addr(table(&t.l3), TABLE);
        t.l3.0[usize::from(v.p3_index())].set_addr(table(&t.l2), TABLE);
        t.l2.0[usize::from(v.p2_index())].set_addr(table(&t.l1), TABLE);
    }
}

/// Flags of an intermediate table entry.
const TABLE: PageTableFlags = PageTableFlags::PRESENT.union(PageTableFlags::WRITABLE);

/// Whether none of `entries` (not empty) is present. A window is mapped from its bottom up
/// in runs, so a run that overlaps what is mapped has its first or its last entry mapped.
fn all_unused(entries: &[PageTableEntry]) -> bool {
    match (entries.first(), entries.last()) {
        (Some(a), Some(b)) => a.is_unused() & b.is_unused(),
        _ => false,
    }
}

/// Point `entries` at consecutive frames from `base`, `step` bytes apart. The entries were
/// not present: there is nothing cached to invalidate.
fn fill(entries: &mut [PageTableEntry], base: u64, step: u64, flags: PageTableFlags) {
    for (k, e) in entries.iter_mut().enumerate() {
        e.set_addr(PhysAddr::new_truncate(base + k as u64 * step), flags);
    }
}

/// Free 4 KiB frames left.
pub fn free_frames() -> u64 {
    FRAMES.with(|f| {
        f.regions[..f.count]
            .iter()
            .map(|(s, e)| (e - s) / PAGE)
            .sum()
    })
}

struct Alloc<'a>(&'a mut Frames);

// SAFETY: every frame handed out is unused RAM (from the memory map, not the kernel image or
// the heap) and is handed out once: the region's start moves past it.
unsafe impl FrameAllocator<Size4KiB> for Alloc<'_> {
    fn allocate_frame(&mut self) -> Option<PhysFrame<Size4KiB>> {
        let f = &mut *self.0;
        let r = f.regions[..f.count].iter_mut().find(|(s, e)| s < e)?;
        let frame = PhysFrame::containing_address(PhysAddr::new(r.0));
        r.0 += PAGE;
        Some(frame)
    }
}

impl Frames {
    /// Zero the frames `[base, base + len)`, just handed out, but for the warm ones, which are
    /// zero already (see [`map_zeroed`]).
    fn clear_fresh(&self, base: u64, len: u64) {
        let from = base.max(self.warm_end);
        if from < base + len {
            // SAFETY: the frames were just handed out: fresh RAM below 4 GiB (identity-mapped)
            // that nothing references yet.
            unsafe {
                core::ptr::write_bytes(from as usize as *mut u8, 0, (base + len - from) as usize)
            };
        }
    }

    /// `len` bytes (a multiple of 4 KiB) of physically contiguous frames from the bottom of
    /// the first region that holds them.
    fn take_run(&mut self, len: u64) -> Option<u64> {
        self.regions[..self.count].iter_mut().find_map(|(s, e)| {
            let lo = *s;
            (*e - lo >= len).then(|| {
                *s += len;
                lo
            })
        })
    }

    /// A 2 MiB-aligned run of `len` bytes (a multiple of 2 MiB), cut from the top of the
    /// first region that holds one; what lies above it up to the region's end is given up.
    /// Taken from the top so that the 4 KiB frames, which are handed out from the bottom,
    /// stay together.
    fn take_huge(&mut self, len: u64) -> Option<u64> {
        self.regions[..self.count].iter_mut().find_map(|(s, e)| {
            let top = *e & !(HUGE_PAGE - 1);
            let lo = top.checked_sub(len)?;
            if lo < *s {
                return None;
            }
            *e = lo;
            Some(lo)
        })
    }
}

/// Could not map: out of frames, or the page was mapped already.
#[derive(Debug, Clone, Copy)]
pub struct MapError;

/// Map `[start, start + len)` (2 MiB-aligned) with 2 MiB pages to physically contiguous
/// frames that are not cleared, readable, writable and not executable: for kernel-private
/// memory that is written before it is read and that no guest can address (the Wasm
/// stack). Frames are never reused, so they hold at most what the boot loader left in RAM.
/// A handful of page-table entries instead of one per 4 KiB page, and the frames a program
/// never touches stay untouched: at boot this keeps QEMU from clearing host memory for the
/// page tables of an 8 MiB stack spread over its frames.
pub fn map_uncleared_huge(start: u64, len: u64) -> Result<(), MapError> {
    if start % HUGE_PAGE != 0 || len % HUGE_PAGE != 0 || len == 0 {
        return Err(MapError);
    }
    // Below the stack window, in the same GiB: entries of its level-2 table.
    if start + len <= WINDOWS[0] && start >> 30 == WINDOWS[0] >> 30 {
        let first = usize::from(VirtAddr::new(start).p2_index());
        let n = (len / HUGE_PAGE) as usize;
        return FRAMES.with(|f| {
            let entries = &mut window(0).l2.0[first..first + n];
            if !all_unused(entries) {
                return Err(MapError);
            }
            let base = f.take_huge(len).ok_or(MapError)?;
            fill(entries, base, HUGE_PAGE, DATA | PageTableFlags::HUGE_PAGE);
            Ok(())
        });
    }
    if free_frames() < 4 {
        return Err(MapError);
    }
    with_mapper(|mapper, f| {
        let base = f.take_huge(len).ok_or(MapError)?;
        let mut alloc = Alloc(f);
        let mut off = 0;
        while off < len {
            let page: Page<Size2MiB> = Page::containing_address(VirtAddr::new(start + off));
            let frame: PhysFrame<Size2MiB> =
                PhysFrame::containing_address(PhysAddr::new(base + off));
            // SAFETY: the page is in a kernel-owned virtual region that nothing else maps,
            // and the frames were just cut out of the free RAM.
            let flush =
                unsafe { mapper.map_to(page, frame, DATA, &mut alloc) }.map_err(|_| MapError)?;
            // Not present before: nothing cached to invalidate.
            flush.ignore();
            off += HUGE_PAGE;
        }
        Ok(())
    })
}

/// Readable, writable, not executable.
const DATA: PageTableFlags = PageTableFlags::PRESENT
    .union(PageTableFlags::WRITABLE)
    .union(PageTableFlags::NO_EXECUTE);

/// Run `body` with the active page tables and the frame allocator.
fn with_mapper<R>(body: impl FnOnce(&mut OffsetPageTable<'_>, &mut Frames) -> R) -> R {
    FRAMES.with(|f| {
        let (l4_frame, _) = Cr3::read();
        // SAFETY: CR3 holds the active PML4, identity-mapped (offset 0) like every page table
        // frame, and no other reference to it exists while `body` runs (single core,
        // `FRAMES` is borrowed exclusively).
        let mut mapper = unsafe {
            let l4 = &mut *(l4_frame.start_address().as_u64() as usize as *mut PageTable);
            OffsetPageTable::new(l4, VirtAddr::new(0))
        };
        body(&mut mapper, f)
    })
}

/// Map `[start, start + len)` (page-aligned) to fresh zeroed frames, readable, writable and
/// not executable. For memory the guest can see (linear memories). Warm frames are not
/// cleared again: they lie in the 2 MiB that holds the end of the image, right after it,
/// where the loader wrote nothing (it zero-fills the image's `.bss`, and the host backs the
/// rest of that 2 MiB with a fresh, cleared page) and the firmware cannot know to put
/// anything; they are handed out once. Clearing them cost about 0.15 ms of the hello
/// image's boot under TCG (`runner/tests/run.rs` checks that a program's initial memory
/// reads zero).
pub fn map_zeroed(start: u64, len: u64) -> Result<(), MapError> {
    map_small(start, len, true)
}

/// Map `[start, start + len)` (page-aligned) to fresh frames that are not cleared, readable,
/// writable and not executable: for kernel-private memory that is written before it is read
/// and that no guest can address (the top of the Wasm stack; see [`map_uncleared_huge`]).
pub fn map_uncleared(start: u64, len: u64) -> Result<(), MapError> {
    map_small(start, len, false)
}

fn map_small(start: u64, len: u64, clear: bool) -> Result<(), MapError> {
    let pages = len / PAGE;
    if let Some((w, first)) = window_of(start, len) {
        return FRAMES.with(|f| {
            let entries = &mut window(w).l1.0[first..first + pages as usize];
            if !all_unused(entries) {
                return Err(MapError);
            }
            let base = f.take_run(len).ok_or(MapError)?;
            if clear {
                f.clear_fresh(base, len);
            }
            fill(entries, base, PAGE, DATA);
            Ok(())
        });
    }
    // Enough frames for the pages and their page tables?
    if free_frames() < pages + pages / 512 + 4 {
        return Err(MapError);
    }
    with_mapper(|mapper, f| {
        let mut alloc = Alloc(f);
        let mut addr = start;
        while addr < start + len {
            let frame = alloc.allocate_frame().ok_or(MapError)?;
            if clear {
                alloc.0.clear_fresh(frame.start_address().as_u64(), PAGE);
            }
            let page: Page<Size4KiB> = Page::containing_address(VirtAddr::new(addr));
            // SAFETY: the page is in a kernel-owned virtual region (linear memories, the Wasm
            // stack) that nothing else maps, and the frame is unused.
            let flush =
                unsafe { mapper.map_to(page, frame, DATA, &mut alloc) }.map_err(|_| MapError)?;
            // The page was not present, and x86 caches no translation of a page that is
            // not present: there is nothing to invalidate.
            flush.ignore();
            addr += PAGE;
        }
        Ok(())
    })
}
