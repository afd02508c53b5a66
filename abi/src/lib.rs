//! # hako-abi: the contract between compiler, kernel and runner
//!
//! Everything the three parts of hako must agree on is defined here, once, so that nothing is
//! agreed by convention only:
//!
//! - [`trap`]: trap codes with the spec's own messages;
//! - [`vm`]: the layout of the instance context ([`vm::VmContext`]) that every compiled
//!   function receives as its hidden first argument, function references, tables, memories
//!   and the 16-byte value slot [`vm::ValRaw`];
//! - [`module`]: the module descriptor the compiler emits beside the code, from which the
//!   kernel instantiates the module, and the prebuilt instance of a program;
//! - [`constexpr`]: the evaluator of the descriptor's constant expressions, shared by the
//!   kernel (at instantiation) and the compiler (for a prebuilt instance);
//! - [`builtins`]: the one table of the names and signatures of the kernel functions
//!   compiled code calls, from which the compiler declares them and against which the kernel
//!   checks its definitions;
//! - [`wasi`]: the 46 `wasi_snapshot_preview1` functions with their core signatures and the
//!   symbol each one is linked under, and the constants of the WASI types (errno, rights,
//!   file types, flags);
//! - [`script`]: script mode for spec-test images: the image manifest, the command encoding,
//!   result lines, restart after a crash and the `spectest` module;
//! - [`boot`]: how the runner hands arguments and environment to the kernel, and how the
//!   kernel reports its outcome (harness channel records, `isa-debug-exit` codes).
//!
//! ## Calling convention
//!
//! A compiled Wasm function is an LLVM function with the C calling convention (System V on
//! x86_64) whose first parameter is the callee's `*mut VmContext`, followed by the Wasm
//! parameters (`i32` → `i32`, `i64` → `i64`, `f32` → `float`, `f64` → `double`, references
//! → pointers). No result returns `void`; one result returns it; several results return an
//! LLVM struct of them, `f32`/`f64` fields as `i32`/`i64` bits (the C convention would put a
//! third float on the x87 stack, which quiets signalling NaNs; LLVM demotes the struct to a
//! hidden pointer when it does not fit in registers).
//!
//! The kernel is built for `x86_64-unknown-none`, a *soft-float* target: it must never take
//! or return `f32`/`f64` by value across this boundary. Every kernel entry point therefore uses
//! integer and pointer parameters only, and generic calls into Wasm go through the array-call
//! trampolines described in [`vm::ArrayCallFn`], which pass every value as raw bits in memory.
#![no_std]

pub mod boot;
pub mod builtins;
pub mod constexpr;
pub mod gc;
pub mod module;
pub mod script;
pub mod trap;
pub mod vm;
pub mod wasi;

/// Bumped whenever a layout or protocol in this crate changes incompatibly. The compiler
/// writes it into every [`module::ModuleDescriptor`]; the kernel refuses other versions.
pub const ABI_VERSION: u32 = 5;

/// Value type codes, as in the Wasm binary format. Used in function types and global types
/// of the descriptor.
pub mod valtype {
    pub const I32: u8 = 0x7f;
    pub const I64: u8 = 0x7e;
    pub const F32: u8 = 0x7d;
    pub const F64: u8 = 0x7c;
    pub const V128: u8 = 0x7b;
    pub const FUNCREF: u8 = 0x70;
    pub const EXTERNREF: u8 = 0x6f;
    /// `exnref` (a pointer to a thrown exception, `hako_abi::vm::ExceptionHeader`).
    pub const EXNREF: u8 = 0x69;
    /// `anyref`, the top of GC's internal references (structs, arrays, `i31`, and host
    /// references made internal by `any.convert_extern`; see [`crate::gc`]).
    pub const ANYREF: u8 = 0x6e;
    /// The abstract GC reference types, as the binary format codes them. In descriptors a
    /// reference is coded by its hierarchy's top ([`ANYREF`]); these appear in script result
    /// lines, where the kernel names the kind of an `anyref` value it returns.
    pub const EQREF: u8 = 0x6d;
    pub const I31REF: u8 = 0x6c;
    pub const STRUCTREF: u8 = 0x6b;
    pub const ARRAYREF: u8 = 0x6a;
    /// Packed storage types of struct fields and array elements.
    pub const I8: u8 = 0x78;
    pub const I16: u8 = 0x77;

    /// The full type of a global or a table's elements (`GlobalType::val_type`,
    /// `TableType::elem_type`), and of fields and parameters in the GC type definitions
    /// (`ModuleDescriptor::type_defs`): the low byte is a code above (for a
    /// reference, that of its hierarchy's top: every function reference type is `FUNCREF`,
    /// every external one `EXTERNREF`, every internal one `ANYREF`), and a reference type
    /// adds [`NON_NULL`], and [`BOTTOM`] (`nofunc`, `noextern`, `none`) or [`CONCRETE`]
    /// with a type index from [`TYPE_SHIFT`] up: the module's own index in a descriptor,
    /// the canonical type id once the kernel has [`canonical`]ised it. An abstract heap
    /// type below the top (`eq`, `i31`, `struct`, `array`) has neither flag and its
    /// [`heap`] code from [`TYPE_SHIFT`] up.
    pub const NON_NULL: u32 = 1 << 8;
    pub const BOTTOM: u32 = 1 << 9;
    pub const CONCRETE: u32 = 1 << 10;
    /// In a rec group's canonical key only: a concrete type index relative to the group.
    pub const REC_RELATIVE: u32 = 1 << 11;
    pub const TYPE_SHIFT: u32 = 12;
    /// The largest type index a [`CONCRETE`] type can hold.
    pub const MAX_TYPE_INDEX: u32 = u32::MAX >> TYPE_SHIFT;

    /// Abstract heap types of the `any` hierarchy below its top, in bits [`TYPE_SHIFT`]..
    /// of a type word without [`CONCRETE`].
    pub mod heap {
        pub const TOP: u32 = 0;
        pub const EQ: u32 = 1;
        pub const I31: u32 = 2;
        pub const STRUCT: u32 = 3;
        pub const ARRAY: u32 = 4;
    }

    /// The heap part of a type word (without the code and nullability).
    pub const fn heap_bits(t: u32) -> u32 {
        t & !(NON_NULL | 0xff)
    }

    /// `t` with its type index mapped through `ids` (a module's canonical type ids); `None`
    /// when the index is not in `ids`.
    pub fn canonical(t: u32, ids: &[u32]) -> Option<u32> {
        if t & CONCRETE == 0 {
            return Some(t);
        }
        let id = *ids.get((t >> TYPE_SHIFT) as usize)?;
        (id <= MAX_TYPE_INDEX).then_some((t & ((1 << TYPE_SHIFT) - 1)) | (id << TYPE_SHIFT))
    }

    /// What [`matches_with`] needs to know about canonical types.
    pub trait Types {
        /// Whether canonical type `a` is `b` or a declared subtype of it.
        fn is_subtype(&self, a: u32, b: u32) -> bool;
        /// The [`heap`] kind of canonical type `t`: `heap::STRUCT`, `heap::ARRAY`, or
        /// `heap::TOP` for a function type.
        fn kind(&self, t: u32) -> u32;
    }

    /// Types without declared subtyping (every id only its own subtype), for tests.
    pub struct NoSubtypes;
    impl Types for NoSubtypes {
        fn is_subtype(&self, a: u32, b: u32) -> bool {
            a == b
        }
        fn kind(&self, _: u32) -> u32 {
            heap::TOP
        }
    }

    /// Whether heap part `a` (of a type word of hierarchy `code`) is a subtype of `e`.
    pub fn heap_matches(a: u32, e: u32, types: &impl Types) -> bool {
        if a == e || e == 0 || a == BOTTOM {
            return true;
        }
        if e == BOTTOM {
            return false;
        }
        let abstract_of = |h: u32| -> u32 {
            if h & CONCRETE != 0 {
                types.kind(h >> TYPE_SHIFT)
            } else {
                h >> TYPE_SHIFT
            }
        };
        match (a & CONCRETE != 0, e & CONCRETE != 0) {
            (true, true) => types.is_subtype(a >> TYPE_SHIFT, e >> TYPE_SHIFT),
            (_, true) => false,
            (_, false) => {
                let (ak, ek) = (abstract_of(a), e >> TYPE_SHIFT);
                ak == ek || (ek == heap::EQ && ak != heap::TOP)
            }
        }
    }

    /// Whether a value of (canonical) type `actual` is one of type `expected`: equal
    /// numeric types; references of one hierarchy, non-null where `expected` is, and a heap
    /// type that is a subtype of `expected`'s.
    pub fn matches_with(actual: u32, expected: u32, types: &impl Types) -> bool {
        let (a, e) = (actual as u8, expected as u8);
        if a != e {
            return false;
        }
        if !matches!(a, FUNCREF | EXTERNREF | ANYREF | EXNREF) {
            return actual == expected;
        }
        if expected & NON_NULL != 0 && actual & NON_NULL == 0 {
            return false;
        }
        heap_matches(heap_bits(actual), heap_bits(expected), types)
    }

    /// [`matches_with`] without declared subtypes.
    pub fn matches(actual: u32, expected: u32) -> bool {
        matches_with(actual, expected, &NoSubtypes)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn reference_subtyping_without_gc() {
            let func = FUNCREF as u32;
            let t = |i: u32| func | CONCRETE | (i << TYPE_SHIFT);
            let nn = |x: u32| x | NON_NULL;
            let nofunc = func | BOTTOM;
            // Everything of the function hierarchy is a `funcref`; nothing else is.
            for a in [func, nn(func), t(1), nn(t(1)), nofunc, nn(nofunc)] {
                assert!(matches(a, func), "{a:#x}");
                assert!(!matches(a, EXTERNREF as u32), "{a:#x}");
            }
            assert!(!matches(I32 as u32, func));
            assert!(matches(nn(t(1)), t(1)) && matches(nn(t(1)), nn(t(1))));
            assert!(!matches(t(1), nn(t(1))), "null where none may be");
            assert!(!matches(t(2), t(1)) && !matches(func, t(1)));
            assert!(matches(nofunc, t(1)) && matches(nn(nofunc), nn(func)));
            assert!(!matches(nn(func), nn(nofunc)));
            assert!(matches(EXTERNREF as u32 | BOTTOM, EXTERNREF as u32));
            assert_eq!(canonical(t(1), &[5, 7]), Some(t(7)));
            assert_eq!(canonical(nn(func), &[]), Some(nn(func)));
            assert_eq!(canonical(t(2), &[5, 7]), None);
        }
    }
}
