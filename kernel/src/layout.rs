//! The kernel's virtual address space, in one place: the image, the identity map, the Wasm
//! stack with its guard, the linear-memory reservations and the two boot windows whose page
//! tables are static. Constants only; the memory manager (`hw::mm`), the Wasm entry
//! (`hw::wasm`) and the store read them from here.
//!
//! ```text
//! [0, 4 GiB)                 identity map (boot page tables); the image is linked at 1 MiB
//! [512 GiB, +2 MiB)          Wasm stack guard (unmapped: a fault here is StackOverflow)
//! [+2 MiB, +10 MiB)          Wasm stack, 2 MiB pages
//! [+10 MiB, +10 MiB 64 KiB)  Wasm stack top, 4 KiB pages (boot window 0)
//! [1 TiB, 65 TiB)            linear memories, 8 GiB each (memory 0 starts boot window 1)
//! ```

use hako_abi::vm::GUARDED_MEMORY_RESERVATION;

/// Physical memory below this is identity-mapped by the boot page tables; frames are only
/// taken from below it.
pub const IDENTITY_LIMIT: u64 = 4 << 30;

/// Where the Wasm stack's region begins: its guard first.
pub const STACK_REGION: u64 = 0x80_0000_0000;
/// The unmapped guard below the Wasm stack.
pub const STACK_GUARD: u64 = 2 << 20;
/// The part of the Wasm stack mapped with 2 MiB pages.
pub const STACK_HUGE: u64 = 8 << 20;
/// The part on top, mapped with 4 KiB pages (the part every program uses: its frames come
/// from RAM the host has already backed, see `hw::mm::init`).
pub const STACK_SMALL: u64 = 64 << 10;
/// The lowest mapped byte of the Wasm stack.
pub const STACK_LO: u64 = STACK_REGION + STACK_GUARD;
/// Where the 4 KiB part of the stack begins (boot window 0, 2 MiB-aligned).
pub const STACK_SMALL_BASE: u64 = STACK_LO + STACK_HUGE;
/// The top of the Wasm stack: every outermost entry into Wasm starts here.
pub const STACK_TOP: u64 = STACK_SMALL_BASE + STACK_SMALL;

/// Where linear memories are reserved: 8 GiB each from 1 TiB up to 65 TiB (virtual space
/// only; a spec script creates a few hundred memories at most, none is ever reused).
pub const LINMEM_BASE: u64 = 1 << 40;
/// How many linear memories fit.
pub const MAX_MEMORIES: u64 = 8192;
/// The end of the linear-memory region: a fault in `[LINMEM_BASE, LINMEM_END)` while Wasm
/// runs is `MemoryOutOfBounds`.
pub const LINMEM_END: u64 = LINMEM_BASE + MAX_MEMORIES * GUARDED_MEMORY_RESERVATION;

/// The start of linear memory `id`'s reservation (`id < MAX_MEMORIES`).
pub const fn memory_base(id: u64) -> u64 {
    LINMEM_BASE + id * GUARDED_MEMORY_RESERVATION
}

/// The two 2 MiB windows of virtual memory every program maps at boot, whose page tables
/// are static (see `hw::mm`): the 4 KiB part on top of the Wasm stack and the start of
/// linear memory 0.
pub const BOOT_WINDOWS: [u64; 2] = [STACK_SMALL_BASE, LINMEM_BASE];

// The regions do not overlap and stay in the canonical lower half.
const _: () = assert!(IDENTITY_LIMIT <= STACK_REGION);
const _: () = assert!(STACK_TOP <= LINMEM_BASE);
const _: () = assert!(memory_base(MAX_MEMORIES) == LINMEM_END);
const _: () = assert!(LINMEM_END <= 1 << 47);
// Each boot window has its own PML4 entry (not the identity map's, entry 0) and is 2 MiB
// aligned; the 2 MiB part of the stack lies in the same GiB as window 0 (one level-2 table).
const _: () = assert!(BOOT_WINDOWS[0] >> 39 != BOOT_WINDOWS[1] >> 39);
const _: () = assert!(BOOT_WINDOWS[0] >> 39 != 0 && BOOT_WINDOWS[1] >> 39 != 0);
const _: () = assert!(BOOT_WINDOWS[0] % (2 << 20) == 0 && BOOT_WINDOWS[1] % (2 << 20) == 0);
const _: () = assert!(STACK_LO >> 30 == STACK_SMALL_BASE >> 30);
