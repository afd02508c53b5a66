//! Kernel functions that compiled code calls, by symbol name.
//!
//! All take the calling instance's `*mut VmContext` first and use integer and pointer
//! parameters only (the kernel is soft-float, see the crate docs). Indices are `u32`,
//! addresses, lengths and page counts `u64` (so memory64 needs no second set).

/// `fn(vmctx, code: u32) -> !`: raise trap `code` (a [`crate::trap::TrapCode`]). Never returns;
/// the kernel unwinds to where it entered Wasm.
pub const TRAP: &str = "hako_trap";
/// `fn(vmctx, memory: u32, delta_pages: u64) -> u64`: grow, returning the old size in pages
/// or `u64::MAX` (`-1`) when the memory cannot grow by that much.
pub const MEMORY_GROW: &str = "hako_memory_grow";
/// `fn(vmctx, memory: u32, dst: u64, value: u32, len: u64)`: `memory.fill`, trapping when out
/// of bounds.
pub const MEMORY_FILL: &str = "hako_memory_fill";
/// `fn(vmctx, dst_memory: u32, src_memory: u32, dst: u64, src: u64, len: u64)`: `memory.copy`.
pub const MEMORY_COPY: &str = "hako_memory_copy";
/// `fn(vmctx, memory: u32, data: u32, dst: u64, src: u64, len: u64)`: `memory.init`.
pub const MEMORY_INIT: &str = "hako_memory_init";
/// `fn(vmctx, data: u32)`: `data.drop`.
pub const DATA_DROP: &str = "hako_data_drop";
/// `fn(vmctx, table: u32, init: *const u8, delta: u64) -> u64`: `table.grow`, returning the
/// old size or `u64::MAX`.
pub const TABLE_GROW: &str = "hako_table_grow";
/// `fn(vmctx, table: u32, dst: u64, value: *const u8, len: u64)`: `table.fill`.
pub const TABLE_FILL: &str = "hako_table_fill";
/// `fn(vmctx, dst_table: u32, src_table: u32, dst: u64, src: u64, len: u64)`: `table.copy`.
pub const TABLE_COPY: &str = "hako_table_copy";
/// `fn(vmctx, table: u32, elem: u32, dst: u64, src: u64, len: u64)`: `table.init`.
pub const TABLE_INIT: &str = "hako_table_init";
/// `fn(vmctx, elem: u32)`: `elem.drop`.
pub const ELEM_DROP: &str = "hako_elem_drop";

/// Every builtin, for tools that check an object's undefined symbols.
pub const ALL: &[&str] = &[
    TRAP,
    MEMORY_GROW,
    MEMORY_FILL,
    MEMORY_COPY,
    MEMORY_INIT,
    DATA_DROP,
    TABLE_GROW,
    TABLE_FILL,
    TABLE_COPY,
    TABLE_INIT,
    ELEM_DROP,
];
