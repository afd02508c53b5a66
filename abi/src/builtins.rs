//! Kernel functions that compiled code calls: the one table of their names and signatures.
//!
//! All take the calling instance's `*mut VmContext` first and use integer and pointer
//! parameters only (the kernel is soft-float, see the crate docs). Indices are `u32`,
//! addresses, lengths and page counts `u64` (so memory64 needs no second set).
//!
//! The table is written once, in the macro `__builtin_table`, and everything else is
//! generated from it: the symbol-name constants ([`TRAP`], [`MEMORY_GROW`], ...), one Rust
//! function-pointer type per builtin in [`sig`], and [`TABLE`], from which the compiler
//! builds its LLVM declarations. The kernel proves its `#[no_mangle] extern "C"`
//! definitions against the same table with [`check_builtin_definitions!`](crate::check_builtin_definitions):
//! a builtin it lacks, or defines with another signature, is a compile error.

/// The type of a builtin's parameter or result, as the kernel (Rust) and the compiler (LLVM)
/// see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    /// Rust `u32`, LLVM `i32`.
    I32,
    /// Rust `u64`, LLVM `i64`.
    I64,
    /// A pointer (`*const u8`: a function reference), LLVM `ptr`.
    Ptr,
}

/// What a builtin returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returns {
    /// Nothing (`void`).
    Nothing,
    /// One value.
    Value(Type),
    /// It never returns: it raises a trap (the kernel unwinds to where it entered Wasm).
    /// The compiler declares it `noreturn` and `cold`.
    Never,
}

/// One builtin: its symbol and its signature after the leading `*mut VmContext`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Builtin {
    pub name: &'static str,
    pub params: &'static [Type],
    pub returns: Returns,
}

/// The Rust types a builtin signature may use, with their [`Type`].
pub trait AbiType {
    const TYPE: Type;
}

impl AbiType for u32 {
    const TYPE: Type = Type::I32;
}

impl AbiType for u64 {
    const TYPE: Type = Type::I64;
}

impl AbiType for *const u8 {
    const TYPE: Type = Type::Ptr;
}

/// The table: per builtin its doc, name constant, signature type, symbol, parameters after
/// `vmctx` and result (none, `-> u64`, or `-> !`). Calls `$m! { ... }` with the entries.
#[doc(hidden)]
#[macro_export]
macro_rules! __builtin_table {
    ($m:path) => {
        $m! {
            /// `fn(vmctx, code: u32) -> !`: raise trap `code` (a [`crate::trap::TrapCode`]).
            /// Never returns; the kernel unwinds to where it entered Wasm.
            TRAP Trap hako_trap(code: u32) -> !;
            /// `fn(vmctx, memory: u32, delta_pages: u64) -> u64`: grow, returning the old size
            /// in pages or `u64::MAX` (`-1`) when the memory cannot grow by that much.
            MEMORY_GROW MemoryGrow hako_memory_grow(memory: u32, delta_pages: u64) -> u64;
            /// `fn(vmctx, memory: u32, dst: u64, value: u32, len: u64)`: `memory.fill`,
            /// trapping when out of bounds.
            MEMORY_FILL MemoryFill hako_memory_fill(memory: u32, dst: u64, value: u32, len: u64);
            /// `fn(vmctx, dst_memory: u32, src_memory: u32, dst: u64, src: u64, len: u64)`:
            /// `memory.copy`.
            MEMORY_COPY MemoryCopy hako_memory_copy(
                dst_memory: u32, src_memory: u32, dst: u64, src: u64, len: u64
            );
            /// `fn(vmctx, memory: u32, data: u32, dst: u64, src: u64, len: u64)`: `memory.init`.
            MEMORY_INIT MemoryInit hako_memory_init(
                memory: u32, data: u32, dst: u64, src: u64, len: u64
            );
            /// `fn(vmctx, data: u32)`: `data.drop`.
            DATA_DROP DataDrop hako_data_drop(data: u32);
            /// `fn(vmctx, table: u32, init: *const u8, delta: u64) -> u64`: `table.grow`,
            /// returning the old size or `u64::MAX`.
            TABLE_GROW TableGrow hako_table_grow(table: u32, init: *const u8, delta: u64) -> u64;
            /// `fn(vmctx, table: u32, dst: u64, value: *const u8, len: u64)`: `table.fill`.
            TABLE_FILL TableFill hako_table_fill(table: u32, dst: u64, value: *const u8, len: u64);
            /// `fn(vmctx, dst_table: u32, src_table: u32, dst: u64, src: u64, len: u64)`:
            /// `table.copy`.
            TABLE_COPY TableCopy hako_table_copy(
                dst_table: u32, src_table: u32, dst: u64, src: u64, len: u64
            );
            /// `fn(vmctx, table: u32, elem: u32, dst: u64, src: u64, len: u64)`: `table.init`.
            TABLE_INIT TableInit hako_table_init(
                table: u32, elem: u32, dst: u64, src: u64, len: u64
            );
            /// `fn(vmctx, elem: u32)`: `elem.drop`.
            ELEM_DROP ElemDrop hako_elem_drop(elem: u32);
            /// `fn(vmctx, tag: *const u8, len: u32) -> u64`: a new exception of tag `tag`
            /// (a `TagInstance`) with room for `len` payload values, its address (compiled
            /// code writes the payload and raises it with `_Unwind_RaiseException`).
            EXN_ALLOC ExnAlloc hako_exn_alloc(tag: *const u8, len: u32) -> u64;
            /// `fn(vmctx, exn: *const u8)`: an exception was caught by a catch that keeps no
            /// `exnref`: free it unless it was captured.
            EXN_FREE ExnFree hako_exn_free(exn: *const u8);
            /// `fn(vmctx, type_id: u32, bytes: u64, len: u32) -> u64`: a new zeroed GC object
            /// of `bytes` bytes (header included) of canonical type `type_id` (an array's
            /// length `len`), its address; traps when the heap cannot hold it.
            GC_ALLOC GcAlloc hako_gc_alloc(type_id: u32, bytes: u64, len: u32) -> u64;
            /// `fn(vmctx, actual: u32, expected: u32) -> u32`: 1 when canonical type `actual`
            /// is `expected` or a declared subtype of it.
            GC_IS_SUBTYPE GcIsSubtype hako_gc_is_subtype(actual: u32, expected: u32) -> u32;
            /// `fn(vmctx, type_id: u32, data: u32, src: u64, len: u64) -> u64`: `array.new_data`.
            ARRAY_NEW_DATA ArrayNewData hako_array_new_data(
                type_id: u32, data: u32, src: u64, len: u64
            ) -> u64;
            /// `fn(vmctx, type_id: u32, elem: u32, src: u64, len: u64) -> u64`: `array.new_elem`.
            ARRAY_NEW_ELEM ArrayNewElem hako_array_new_elem(
                type_id: u32, elem: u32, src: u64, len: u64
            ) -> u64;
            /// `fn(vmctx, array: *const u8, data: u32, dst: u64, src: u64, len: u64)`:
            /// `array.init_data` on a non-null array.
            ARRAY_INIT_DATA ArrayInitData hako_array_init_data(
                array: *const u8, data: u32, dst: u64, src: u64, len: u64
            );
            /// `fn(vmctx, array: *const u8, elem: u32, dst: u64, src: u64, len: u64)`:
            /// `array.init_elem` on a non-null array.
            ARRAY_INIT_ELEM ArrayInitElem hako_array_init_elem(
                array: *const u8, elem: u32, dst: u64, src: u64, len: u64
            );
        }
    };
}

/// The [`Returns`] of a table entry's result tokens.
macro_rules! returns {
    () => {
        Returns::Nothing
    };
    (!) => {
        Returns::Never
    };
    ($t:ty) => {
        Returns::Value(<$t as AbiType>::TYPE)
    };
}

/// Generates the name constants, [`sig`] and [`TABLE`] from the table.
macro_rules! define {
    ($(
        $(#[$doc:meta])*
        $konst:ident $sig:ident $sym:ident ($($p:ident : $t:ty),* $(,)?) $(-> $ret:tt)?;
    )*) => {
        $(
            $(#[$doc])*
            pub const $konst: &str = stringify!($sym);
        )*

        /// The Rust type of each builtin, `extern "C" fn(vmctx, ...)`, for the kernel's
        /// definitions (see [`check_builtin_definitions!`](crate::check_builtin_definitions)).
        pub mod sig {
            use crate::vm::VmContext;
            $(
                #[doc = concat!("The signature of `", stringify!($sym), "`.")]
                pub type $sig = extern "C" fn(vmctx: *mut VmContext, $($p: $t),*) $(-> $ret)?;
            )*
        }

        /// Every builtin.
        pub const TABLE: &[Builtin] = &[$(
            Builtin {
                name: $konst,
                params: &[$(<$t as AbiType>::TYPE),*],
                returns: returns!($($ret)?),
            },
        )*];
    };
}

crate::__builtin_table!(define);

/// The builtin named `name`, if there is one.
pub fn lookup(name: &str) -> Option<&'static Builtin> {
    TABLE.iter().find(|b| b.name == name)
}

/// Asserts at compile time that the kernel defines every builtin of the table, under its
/// symbol name, with its exact signature ([`sig`]). Invoke it once, as an item, in the module
/// that holds the `#[no_mangle] extern "C"` definitions.
#[macro_export]
macro_rules! check_builtin_definitions {
    () => {
        $crate::__builtin_table!($crate::__check_builtin_definitions);
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __check_builtin_definitions {
    ($(
        $(#[$doc:meta])*
        $konst:ident $sig:ident $sym:ident ($($p:ident : $t:ty),* $(,)?) $(-> $ret:tt)?;
    )*) => {
        $(const _: $crate::builtins::sig::$sig = $sym;)*
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_matches_the_constants() {
        assert_eq!(TABLE.len(), 19);
        for (i, b) in TABLE.iter().enumerate() {
            assert!(b.name.starts_with("hako_"), "{}", b.name);
            assert!(TABLE[..i].iter().all(|o| o.name != b.name), "{}", b.name);
        }
        let trap = lookup(TRAP).unwrap();
        assert_eq!(
            (trap.params, trap.returns),
            (&[Type::I32][..], Returns::Never)
        );
        let grow = lookup(TABLE_GROW).unwrap();
        assert_eq!(grow.params, &[Type::I32, Type::Ptr, Type::I64]);
        assert_eq!(grow.returns, Returns::Value(Type::I64));
        assert_eq!(lookup(DATA_DROP).unwrap().returns, Returns::Nothing);
        assert!(lookup("hako_nothing").is_none());
    }

    // The kernel's check, against definitions with the table's signatures.
    mod definitions {
        use crate::vm::VmContext;
        extern "C" fn hako_trap(_: *mut VmContext, _: u32) -> ! {
            unreachable!()
        }
        extern "C" fn hako_memory_grow(_: *mut VmContext, _: u32, _: u64) -> u64 {
            0
        }
        extern "C" fn hako_memory_fill(_: *mut VmContext, _: u32, _: u64, _: u32, _: u64) {}
        extern "C" fn hako_memory_copy(_: *mut VmContext, _: u32, _: u32, _: u64, _: u64, _: u64) {}
        extern "C" fn hako_memory_init(_: *mut VmContext, _: u32, _: u32, _: u64, _: u64, _: u64) {}
        extern "C" fn hako_data_drop(_: *mut VmContext, _: u32) {}
        extern "C" fn hako_table_grow(_: *mut VmContext, _: u32, _: *const u8, _: u64) -> u64 {
            0
        }
        extern "C" fn hako_table_fill(_: *mut VmContext, _: u32, _: u64, _: *const u8, _: u64) {}
        extern "C" fn hako_table_copy(_: *mut VmContext, _: u32, _: u32, _: u64, _: u64, _: u64) {}
        extern "C" fn hako_table_init(_: *mut VmContext, _: u32, _: u32, _: u64, _: u64, _: u64) {}
        extern "C" fn hako_elem_drop(_: *mut VmContext, _: u32) {}
        extern "C" fn hako_exn_alloc(_: *mut VmContext, _: *const u8, _: u32) -> u64 {
            0
        }
        extern "C" fn hako_exn_free(_: *mut VmContext, _: *const u8) {}
        extern "C" fn hako_gc_alloc(_: *mut VmContext, _: u32, _: u64, _: u32) -> u64 {
            0
        }
        extern "C" fn hako_gc_is_subtype(_: *mut VmContext, _: u32, _: u32) -> u32 {
            0
        }
        extern "C" fn hako_array_new_data(
            _: *mut VmContext,
            _: u32,
            _: u32,
            _: u64,
            _: u64,
        ) -> u64 {
            0
        }
        extern "C" fn hako_array_new_elem(
            _: *mut VmContext,
            _: u32,
            _: u32,
            _: u64,
            _: u64,
        ) -> u64 {
            0
        }
        extern "C" fn hako_array_init_data(
            _: *mut VmContext,
            _: *const u8,
            _: u32,
            _: u64,
            _: u64,
            _: u64,
        ) {
        }
        extern "C" fn hako_array_init_elem(
            _: *mut VmContext,
            _: *const u8,
            _: u32,
            _: u64,
            _: u64,
            _: u64,
        ) {
        }
        crate::check_builtin_definitions!();
    }
}
