//! The module descriptor: what the compiler emits beside the code so the kernel can
//! instantiate the module.
//!
//! The compiler emits one [`ModuleDescriptor`] per module as a constant global named
//! `<prefix>_module` (see [`descriptor_symbol`]), with every array it points to as further
//! constants in the same object. All types are `#[repr(C)]` with explicit padding and only
//! 4- and 8-byte fields, so the compiler can lay them out as plain LLVM structs of `i32`,
//! `i64` and `ptr`.
//!
//! Index spaces follow Wasm: imports come first. Arrays named `functions`, `tables`,
//! `memories` and `globals` describe the *defined* entities only; their index is the Wasm
//! index minus the number of imports of that kind.

use crate::vm::{FuncRef, MemoryDef, TableDef, ValRaw, VmContext};

/// "No index", e.g. for a module without a start function.
pub const NO_INDEX: u32 = u32::MAX;
/// "No maximum" for memory and table limits.
pub const NO_MAX: u64 = u64::MAX;

/// The symbol under which the compiler emits the descriptor of a module compiled with
/// symbol prefix `prefix`. `hako build`/`hako run` use [`MAIN_PREFIX`].
pub fn descriptor_symbol(prefix: &str) -> DescriptorSymbol<'_> {
    DescriptorSymbol(prefix)
}

/// Formats as `<prefix>_module`.
#[derive(Debug, Clone, Copy)]
pub struct DescriptorSymbol<'a>(&'a str);

impl core::fmt::Display for DescriptorSymbol<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}_module", self.0)
    }
}

/// The symbol prefix of the program module of a `hako run`/`hako build` image. The kernel's
/// program mode instantiates `hako_main_module` and calls its `_start` export.
pub const MAIN_PREFIX: &str = "hako_main";
/// `descriptor_symbol(MAIN_PREFIX)`, spelled out for the kernel's `extern` block.
pub const MAIN_DESCRIPTOR_SYMBOL: &str = "hako_main_module";

/// A borrowed array in the descriptor.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Slice<T> {
    pub ptr: *const T,
    pub len: u64,
}

impl<T> Slice<T> {
    pub const EMPTY: Slice<T> = Slice {
        ptr: core::ptr::null(),
        len: 0,
    };

    /// # Safety
    /// `ptr` must point to `len` valid `T`s that live for `'a` (true for descriptors the
    /// compiler emitted, which are static data of the image).
    pub unsafe fn as_slice<'a>(&self) -> &'a [T] {
        if self.len == 0 {
            &[]
        } else {
            // SAFETY: guaranteed by the caller, see above.
            unsafe { core::slice::from_raw_parts(self.ptr, self.len as usize) }
        }
    }
}

/// A name or a byte string.
pub type Bytes = Slice<u8>;

/// The root of a compiled module.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ModuleDescriptor {
    /// [`crate::ABI_VERSION`] of the compiler that emitted this.
    pub abi_version: u32,
    /// The start function's index, or [`NO_INDEX`].
    pub start: u32,
    pub types: Slice<FuncType>,
    pub imports: Slice<Import>,
    /// Defined functions, in index order.
    pub functions: Slice<FunctionDesc>,
    pub tables: Slice<TableType>,
    pub memories: Slice<MemoryType>,
    pub globals: Slice<GlobalDesc>,
    pub exports: Slice<Export>,
    pub data: Slice<DataSegment>,
    pub elements: Slice<ElementSegment>,
    /// One per defined table: its initialiser (a table type with an initial value, from
    /// typed function references), or empty for `ref.null` (every entry null).
    pub table_inits: Slice<ConstExpr>,
    /// One per defined tag: its type index.
    pub tags: Slice<u32>,
    /// The module's name from the `name` section, or empty.
    pub name: Bytes,
    /// The module's instance, laid out by the compiler, or null (see [`Prebuilt`]).
    pub prebuilt: *const Prebuilt,
    /// The calling convention of its functions' native entry points ([`convention`]). Every
    /// instance of a store has the same one: a `FuncRef` is called without knowing whose
    /// it is.
    pub convention: u32,
    pub _pad: u32,
    /// The module's type definitions with rec groups, subtyping and GC types
    /// ([`crate::gc::def`]), from which the kernel computes canonical type ids.
    pub type_defs: Slice<u32>,
}

/// Calling conventions of compiled functions ([`ModuleDescriptor::convention`]).
pub mod convention {
    /// The C convention (System V x86-64): modules without tail calls.
    pub const C: u32 = 0;
    /// LLVM's `tailcc`: the C convention's registers, the callee pops its stack arguments
    /// rounded so that the stack stays aligned (at least 8 bytes, `ret $8`); see
    /// [`crate::vm::args_in_registers`].
    pub const TAIL: u32 = 1;

    /// A name for messages.
    pub fn name(c: u32) -> &'static str {
        match c {
            C => "the C convention (no tail calls)",
            TAIL => "the tail-call convention",
            _ => "an unknown calling convention",
        }
    }
}

/// A program's instance, laid out ahead of time: the instance context and everything it
/// points to, as writable data of the image, so that the kernel's program mode does not have
/// to build them at boot (under QEMU's TCG, every distinct piece of kernel code that runs
/// once at start-up costs about a microsecond per instruction to translate).
///
/// The compiler emits one when the module needs nothing at instantiation that only the
/// kernel knows: every import is a function it linked by symbol (see [`Import::linked`]),
/// every global initialiser, segment offset and element is a constant it can evaluate, every
/// segment is active (or declared) and fits the initial memory or table. The kernel still
/// creates the memories and tables (it owns the address space): it writes their
/// [`MemoryDef`]/[`TableDef`] addresses into `memory_slots`, `table_slots` and
/// `vmctx.memory0`, copies `table_inits` and `data_inits` into them, and runs the start
/// function. One layout serves one instance: the kernel adopts it only for the first
/// instance of a program-mode image, and instantiates from the descriptor otherwise.
///
/// Type ids are the canonical ids the kernel's type registry gives the module's types when
/// it is the first module: the index of the first type with the same parameters and results.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Prebuilt {
    /// The instance context. `memories` and `tables` point to `memory_slots` and
    /// `table_slots`; `memory0` is null and `instance` is 0 (the first instance).
    pub vmctx: *mut VmContext,
    /// One entry per function index, imports first.
    pub funcs: Slice<FuncRef>,
    /// The canonical id of each type index.
    pub type_ids: Slice<u32>,
    /// One pointer per global index to its slot, which holds the initial value.
    pub globals: Slice<*mut ValRaw>,
    /// One null pointer per defined memory, for the kernel to fill.
    pub memory_slots: Slice<*mut MemoryDef>,
    /// One null pointer per defined table, for the kernel to fill.
    pub table_slots: Slice<*mut TableDef>,
    /// The initial entries of each defined table (`min` of them, with the active element
    /// segments applied).
    pub table_inits: Slice<Slice<*const u8>>,
    /// The active data segments, in order, with their offsets evaluated.
    pub data_inits: Slice<DataInit>,
}

/// An active data segment of a [`Prebuilt`] instance: `bytes` go to `offset` in defined
/// memory `memory`, where they fit.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct DataInit {
    pub memory: u32,
    pub _pad: u32,
    pub offset: u64,
    pub bytes: Bytes,
}

/// A function type: parameter and result [`crate::valtype`] codes.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct FuncType {
    pub params: Bytes,
    pub results: Bytes,
}

/// Kinds of imports and exports.
pub mod extern_kind {
    pub const FUNC: u32 = 0;
    pub const TABLE: u32 = 1;
    pub const MEMORY: u32 = 2;
    pub const GLOBAL: u32 = 3;
    pub const TAG: u32 = 4;
}

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct TableType {
    /// [`crate::valtype::FUNCREF`] or [`crate::valtype::EXTERNREF`].
    pub elem_type: u32,
    /// 1 for a 64-bit table (`i64` indices, from memory64).
    pub table64: u32,
    pub min: u64,
    /// [`NO_MAX`] when unbounded.
    pub max: u64,
}

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct MemoryType {
    /// In Wasm pages.
    pub min_pages: u64,
    /// In Wasm pages, [`NO_MAX`] when unbounded.
    pub max_pages: u64,
    /// 1 for a 64-bit memory.
    pub memory64: u32,
    /// 1 for a shared memory.
    pub shared: u32,
}

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct GlobalType {
    /// A [`crate::valtype`] code.
    pub val_type: u32,
    /// 1 when mutable.
    pub mutable: u32,
}

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Import {
    pub module: Bytes,
    pub name: Bytes,
    /// An [`extern_kind`].
    pub kind: u32,
    /// For a function or a tag: its type index.
    pub type_index: u32,
    /// For a function the compiler linked by symbol (see [`crate::wasi`]): its address.
    /// Compiled code calls such imports directly; the kernel still fills the
    /// [`crate::vm::VmContext::funcs`] slot with this address and the importing instance's
    /// context, for tables and `ref.func`. Null otherwise.
    pub linked: *const u8,
    /// For a table.
    pub table: TableType,
    /// For a memory.
    pub memory: MemoryType,
    /// For a global.
    pub global: GlobalType,
}

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct FunctionDesc {
    /// Native entry point (see the crate docs for its signature).
    pub code: *const u8,
    /// Array-call trampoline ([`crate::vm::ArrayCallFn`]), or null when the function is not
    /// exported.
    pub array_call: *const u8,
    pub type_index: u32,
    pub _pad: u32,
}

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct GlobalDesc {
    pub ty: GlobalType,
    pub init: ConstExpr,
}

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Export {
    pub name: Bytes,
    /// An [`extern_kind`].
    pub kind: u32,
    pub index: u32,
}

/// Segment modes.
pub mod segment_mode {
    pub const ACTIVE: u32 = 0;
    pub const PASSIVE: u32 = 1;
    /// Element segments only.
    pub const DECLARED: u32 = 2;
}

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct DataSegment {
    /// A [`segment_mode`].
    pub mode: u32,
    pub memory: u32,
    /// The offset (active segments).
    pub offset: ConstExpr,
    pub bytes: Bytes,
}

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ElementSegment {
    /// A [`segment_mode`].
    pub mode: u32,
    pub table: u32,
    /// [`crate::valtype::FUNCREF`] or [`crate::valtype::EXTERNREF`].
    pub elem_type: u32,
    pub _pad: u32,
    /// The offset (active segments).
    pub offset: ConstExpr,
    /// One constant expression per element (a function index becomes `ref.func`).
    pub items: Slice<ConstExpr>,
}

/// A constant expression as a small stack program (the `end` is implicit), evaluated by
/// [`crate::constexpr::eval`]: by the kernel at instantiation, and by the compiler for a
/// [`Prebuilt`] instance.
pub type ConstExpr = Slice<ConstOp>;

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ConstOp {
    /// A [`const_op`] code.
    pub op: u32,
    pub _pad: u32,
    /// The immediate: a constant's raw bits, little-endian (`imm[0]` holds an `i32`, `i64`,
    /// `f32` or `f64`, and the low half of a `v128`; `imm[1]` the high half of a `v128`), or
    /// an index.
    pub imm: [u64; 2],
}

/// Constant-expression operators: the Wasm 2.0 constant instructions plus the extended-const
/// arithmetic.
pub mod const_op {
    pub const I32_CONST: u32 = 0;
    pub const I64_CONST: u32 = 1;
    pub const F32_CONST: u32 = 2;
    pub const F64_CONST: u32 = 3;
    pub const V128_CONST: u32 = 4;
    /// `imm` = global index.
    pub const GLOBAL_GET: u32 = 5;
    /// `imm` = valtype code of the reference type.
    pub const REF_NULL: u32 = 6;
    /// `imm` = function index.
    pub const REF_FUNC: u32 = 7;
    pub const I32_ADD: u32 = 8;
    pub const I32_SUB: u32 = 9;
    pub const I32_MUL: u32 = 10;
    pub const I64_ADD: u32 = 11;
    pub const I64_SUB: u32 = 12;
    pub const I64_MUL: u32 = 13;
    /// GC constant instructions: `imm[0]` = the type index; `STRUCT_NEW` pops `imm[1]`
    /// field values, `ARRAY_NEW_FIXED` `imm[1]` elements, `ARRAY_NEW` a value and a
    /// length, `ARRAY_NEW_DEFAULT` a length.
    pub const STRUCT_NEW: u32 = 14;
    pub const STRUCT_NEW_DEFAULT: u32 = 15;
    pub const ARRAY_NEW: u32 = 16;
    pub const ARRAY_NEW_DEFAULT: u32 = 17;
    pub const ARRAY_NEW_FIXED: u32 = 18;
    /// `ref.i31` (see [`crate::gc`]).
    pub const REF_I31: u32 = 19;
    /// `any.convert_extern` and `extern.convert_any`: identities in hako's representation.
    pub const CONVERT: u32 = 20;
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::size_of;

    #[test]
    fn descriptor_layout_is_plain() {
        assert_eq!(size_of::<Slice<u8>>(), 16);
        assert_eq!(size_of::<ConstOp>(), 24);
        assert_eq!(size_of::<TableType>(), 24);
        assert_eq!(size_of::<MemoryType>(), 24);
        assert_eq!(size_of::<GlobalType>(), 8);
        assert_eq!(size_of::<Import>(), 48 + 24 + 24 + 8);
        assert_eq!(size_of::<FunctionDesc>(), 24);
        assert_eq!(size_of::<Export>(), 24);
        assert_eq!(size_of::<ModuleDescriptor>(), 8 + 13 * 16 + 8 + 8);
        assert_eq!(size_of::<Prebuilt>(), 8 + 7 * 16);
        assert_eq!(size_of::<DataInit>(), 32);
    }

    #[test]
    fn descriptor_symbol_name() {
        extern crate std;
        use std::string::ToString;
        assert_eq!(
            descriptor_symbol(MAIN_PREFIX).to_string(),
            MAIN_DESCRIPTOR_SYMBOL
        );
    }
}
