//! Run-time data structures shared by compiled code and the kernel.
//!
//! The compiler never hard-codes a field offset: it reads the `*_OFFSET` constants below,
//! which are computed from the `#[repr(C)]` definitions with `core::mem::offset_of!`, so the
//! two sides cannot drift apart.
//!
//! Linear memory: every memory owns one [`MemoryDef`]. Its `base` never changes after
//! instantiation (the kernel reserves the largest possible size of virtual address space up
//! front, plus a guard region, and maps pages on `memory.grow`), so compiled code may treat
//! the base as invariant. An access beyond the mapped size faults in the guard region and the
//! kernel turns the fault into [`crate::trap::TrapCode::MemoryOutOfBounds`]; a 32-bit memory
//! therefore needs no explicit bounds check when [`GUARDED_MEMORY_RESERVATION`] bytes are
//! reserved for it.

use core::mem::offset_of;

/// One Wasm value in memory: globals, array-call arguments and results. Every type uses the
/// low bytes, little-endian: `i32`/`f32` the first 4, `i64`/`f64` the first 8, `v128` all 16,
/// a reference the first 8 (a pointer, null for `ref.null`).
#[repr(C, align(16))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ValRaw(pub [u8; 16]);

impl ValRaw {
    pub const fn from_u32(v: u32) -> Self {
        let b = v.to_le_bytes();
        ValRaw([b[0], b[1], b[2], b[3], 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    }
    pub const fn from_u64(v: u64) -> Self {
        ValRaw((v as u128).to_le_bytes())
    }
    pub const fn from_u128(v: u128) -> Self {
        ValRaw(v.to_le_bytes())
    }
    pub const fn u32(&self) -> u32 {
        u32::from_le_bytes([self.0[0], self.0[1], self.0[2], self.0[3]])
    }
    pub const fn u64(&self) -> u64 {
        let b = &self.0;
        u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
    }
    pub const fn u128(&self) -> u128 {
        u128::from_le_bytes(self.0)
    }
}

/// The generic entry point the compiler emits for every exported function:
/// `tramp(vmctx, values)` reads the parameters from `values[0..nparams]`, calls the function
/// and writes the results to `values[0..nresults]` (the buffer holds
/// `max(nparams, nresults)` slots).
pub type ArrayCallFn = unsafe extern "C" fn(vmctx: *mut VmContext, values: *mut ValRaw);

/// A function reference: what `funcref` values, table entries and imported-function slots
/// point to. `code` has the native signature of the function (see the crate docs) and is
/// called with `vmctx` as its first argument.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct FuncRef {
    /// The native entry point, in the Wasm calling convention (LLVM's `tailcc`, see
    /// [`args_in_registers`]), never the C one: a kernel function is reached through a stub
    /// that pops what a tailcc callee pops.
    pub code: *const u8,
    /// The array-call trampoline, or null when none was emitted (only exported functions have
    /// one).
    pub array_call: *const u8,
    /// The callee's instance context (for a kernel-provided function, the caller's own
    /// context, or data of the kernel's choosing).
    pub vmctx: *mut VmContext,
    /// The canonical signature id that `call_indirect` compares (see [`VmContext::type_ids`]).
    pub type_id: u32,
    pub _pad: u32,
}

/// A linear memory as compiled code sees it.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct MemoryDef {
    /// Start of the memory. Invariant for the lifetime of the memory.
    pub base: *mut u8,
    /// Current size in bytes.
    pub size: u64,
}

/// A table as compiled code sees it: `len` entries of pointer size (`*const FuncRef` for
/// `funcref` tables, an opaque non-null pointer for `externref`), null meaning `ref.null`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct TableDef {
    /// The entries. May move when the table grows.
    pub base: *mut *const u8,
    /// Current number of entries.
    pub len: u64,
}

/// The instance context: the hidden first argument of every compiled function.
///
/// Every pointer here is set by the kernel at instantiation and stays the same for the
/// instance's lifetime (the *contents* of memories, tables and globals change, the arrays do
/// not move), so compiled code may load these fields as invariant.
#[repr(C)]
#[derive(Debug)]
pub struct VmContext {
    /// Memory 0 (imported or defined), or null when the module has no memory.
    pub memory0: *mut MemoryDef,
    /// All memories in index order (imports first).
    pub memories: *const *mut MemoryDef,
    /// All tables in index order (imports first).
    pub tables: *const *mut TableDef,
    /// All globals in index order (imports first), each a pointer to its 16-byte slot.
    pub globals: *const *mut ValRaw,
    /// One [`FuncRef`] per function index (imports first). Calls to imported functions load
    /// `code` and `vmctx` from here; `ref.func` and element segments take the address of an
    /// entry.
    pub funcs: *const FuncRef,
    /// The canonical signature id of each type index, compared by `call_indirect` with
    /// [`FuncRef::type_id`]. Equal ids mean equal function types, across all instances.
    pub type_ids: *const u32,
    /// Kernel-private data of the instance.
    pub instance: *mut u8,
    /// All tags in index order (imports first), each a pointer to its [`TagInstance`]:
    /// a tag's identity is that address, shared by every instance that imports it.
    pub tags: *const *const TagInstance,
}

/// A tag instance: what a thrown exception is matched against, by address.
#[repr(C)]
#[derive(Debug)]
pub struct TagInstance {
    /// The canonical id of the tag's function type.
    pub type_id: u32,
    pub _pad: u32,
}

/// The exception class of Wasm exceptions in the unwinder's header (`"HAKOWASM"`): the
/// personality routine handles only these.
pub const EXCEPTION_CLASS: u64 = u64::from_be_bytes(*b"HAKOWASM");

/// The symbol of the personality routine of compiled functions with landing pads.
pub const PERSONALITY: &str = "hako_personality";

/// A thrown Wasm exception, as `hako_exn_alloc` makes it and compiled code reads it: the
/// unwinder's `_Unwind_Exception` header first (so the landing pad's pointer is the
/// object's), then the tag, then the payload as [`ValRaw`] slots.
#[repr(C, align(16))]
#[derive(Debug)]
pub struct ExceptionHeader {
    /// `_Unwind_Exception`: class, cleanup function, two private words.
    pub unwind: [u64; 4],
    /// The tag's identity (its [`TagInstance`]).
    pub tag: *const TagInstance,
    /// Nonzero once an `exnref` to it exists (`catch_ref`, `catch_all_ref`, a legacy catch
    /// with `rethrow`): such an exception is never freed.
    pub captured: u32,
    /// Number of payload values.
    pub len: u32,
}

/// Whether a function of these parameter types ([`crate::valtype`] codes) receives every
/// argument in a register in the Wasm calling convention: `vmctx` and at most 5 integer or
/// reference parameters (in `rdi`, `rsi`, `rdx`, `rcx`, `r8`, `r9`), at most 8 float or
/// `v128` ones (`xmm0`-`xmm7`), as in the C convention. Compiled functions use LLVM's
/// `tailcc`, in which the callee pops its stack arguments, rounded so that the stack stays
/// aligned: 8 bytes when there are none (`ret $8`). A kernel function with such a
/// signature is a C function behind a stub that returns with `ret $8`; with more
/// arguments the kernel has no stub for it.
pub fn args_in_registers(params: &[u8]) -> bool {
    let vectors = params
        .iter()
        .filter(|t| {
            matches!(
                **t,
                crate::valtype::F32 | crate::valtype::F64 | crate::valtype::V128
            )
        })
        .count();
    1 + params.len() - vectors <= 6 && vectors <= 8
}

pub const VMCTX_MEMORY0_OFFSET: usize = offset_of!(VmContext, memory0);
pub const VMCTX_MEMORIES_OFFSET: usize = offset_of!(VmContext, memories);
pub const VMCTX_TABLES_OFFSET: usize = offset_of!(VmContext, tables);
pub const VMCTX_GLOBALS_OFFSET: usize = offset_of!(VmContext, globals);
pub const VMCTX_FUNCS_OFFSET: usize = offset_of!(VmContext, funcs);
pub const VMCTX_TYPE_IDS_OFFSET: usize = offset_of!(VmContext, type_ids);
pub const VMCTX_TAGS_OFFSET: usize = offset_of!(VmContext, tags);

pub const EXN_TAG_OFFSET: usize = offset_of!(ExceptionHeader, tag);
pub const EXN_CAPTURED_OFFSET: usize = offset_of!(ExceptionHeader, captured);
/// Where the payload's [`ValRaw`] slots start.
pub const EXN_VALUES_OFFSET: usize = core::mem::size_of::<ExceptionHeader>();

pub const FUNCREF_CODE_OFFSET: usize = offset_of!(FuncRef, code);
pub const FUNCREF_ARRAY_CALL_OFFSET: usize = offset_of!(FuncRef, array_call);
pub const FUNCREF_VMCTX_OFFSET: usize = offset_of!(FuncRef, vmctx);
pub const FUNCREF_TYPE_ID_OFFSET: usize = offset_of!(FuncRef, type_id);
pub const FUNCREF_SIZE: usize = core::mem::size_of::<FuncRef>();

pub const MEMORY_BASE_OFFSET: usize = offset_of!(MemoryDef, base);
pub const MEMORY_SIZE_OFFSET: usize = offset_of!(MemoryDef, size);

pub const TABLE_BASE_OFFSET: usize = offset_of!(TableDef, base);
pub const TABLE_LEN_OFFSET: usize = offset_of!(TableDef, len);

/// The Wasm page size.
pub const WASM_PAGE_SIZE: u64 = 65536;

/// Virtual address space the kernel reserves for each 32-bit linear memory: 4 GiB of
/// addressable memory and 4 GiB of guard, so that `base + zext(addr) + offset` (with a
/// `u32` offset) always lands inside the reservation and an out-of-bounds access faults
/// instead of touching anything else.
pub const GUARDED_MEMORY_RESERVATION: u64 = 8 << 30;

/// The largest size of any memory, 32- or 64-bit (a runtime's `memory.grow` fails beyond
/// it): half the reservation, so that the other half is guard. A 64-bit memory's accesses
/// are checked with one compare, `addr < size`, and rely on this guard for `offset` and the
/// access's width: `base + addr + offset + bytes` stays inside the reservation whenever
/// `addr < size` and `offset + bytes <= MAX_MEMORY_BYTES` (larger offsets never fit and
/// trap outright).
pub const MAX_MEMORY_BYTES: u64 = GUARDED_MEMORY_RESERVATION / 2;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_what_the_compiler_assumes() {
        assert_eq!(core::mem::size_of::<ValRaw>(), 16);
        assert_eq!(FUNCREF_SIZE, 32);
        assert_eq!(VMCTX_MEMORY0_OFFSET, 0);
        assert_eq!(VMCTX_FUNCS_OFFSET, 32);
        assert_eq!(FUNCREF_TYPE_ID_OFFSET, 24);
        assert_eq!(core::mem::size_of::<TableDef>(), 16);
        assert_eq!(MAX_MEMORY_BYTES, 1 << 32);
    }

    #[test]
    fn valraw_round_trip() {
        assert_eq!(ValRaw::from_u32(0xdead_beef).u32(), 0xdead_beef);
        assert_eq!(ValRaw::from_u64(u64::MAX).u64(), u64::MAX);
        assert_eq!(ValRaw::from_u64(u64::MAX).u128(), u64::MAX as u128);
        assert_eq!(ValRaw::from_u128(u128::MAX).u128(), u128::MAX);
    }
}
