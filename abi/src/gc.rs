//! Garbage-collected references: how values of the `any` hierarchy are represented, the
//! layout of GC objects, and how the descriptor encodes GC type definitions.
//!
//! ## Values
//!
//! A reference is one pointer-sized word; `0` is null in every hierarchy.
//!
//! - `i31`: `(v << 1) | 1` ([`I31_TAG`]): the low bit set.
//! - host references (`ref.extern N` of scripts, which `any.convert_extern` makes internal
//!   unchanged): `(N << 3) | 2` ([`HOST_TAG`] in the low three bits), see
//!   [`host_ref_bits`].
//! - structs and arrays: the address of the object's [`ObjectHeader`], 8-aligned, in the GC
//!   heap of the runtime.
//!
//! So `any.convert_extern` and `extern.convert_any` are identities, and a cast tells the
//! kinds apart by the low bits and, for objects, the header.
//!
//! ## Objects
//!
//! A 16-byte [`ObjectHeader`] (the canonical type id, flags the collector owns, an array's
//! length, the size), then the fields: a struct's in order, each aligned to its size (8 at most; v128
//! fields 16), an array's elements packed at their size from [`HEADER_SIZE`].

/// The low bit of an `i31ref`.
pub const I31_TAG: u64 = 1;
/// The low three bits of a host reference.
pub const HOST_TAG: u64 = 2;
/// The mask of the tag bits.
pub const TAG_MASK: u64 = 7;

/// The bits of host reference `n` (the spec scripts' `ref.extern N` and `ref.host N`).
pub const fn host_ref_bits(n: u32) -> u64 {
    ((n as u64) << 3) | HOST_TAG
}

/// The header of every GC object.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ObjectHeader {
    /// The canonical type id of the object's type.
    pub type_id: u32,
    /// The collector's flags.
    pub flags: u32,
    /// Arrays: the number of elements.
    pub len: u32,
    /// The object's size in 8-byte words, header included (the runtime's).
    pub words: u32,
}

pub const HEADER_SIZE: u64 = core::mem::size_of::<ObjectHeader>() as u64;
pub const TYPE_ID_OFFSET: u64 = core::mem::offset_of!(ObjectHeader, type_id) as u64;
pub const LEN_OFFSET: u64 = core::mem::offset_of!(ObjectHeader, len) as u64;
pub const FLAGS_OFFSET: u64 = core::mem::offset_of!(ObjectHeader, flags) as u64;
/// In [`ObjectHeader::flags`]: the object is an array (else a struct). Set at allocation.
pub const FLAG_ARRAY: u32 = 1;
/// In [`ObjectHeader::flags`]: the collector's mark.
pub const FLAG_MARK: u32 = 2;

/// The largest array length `array.new` accepts (the runtime's heap limit applies too):
/// larger is the "allocation too large" trap.
pub const MAX_ARRAY_BYTES: u64 = 1 << 32;

/// The size in bytes of a field or element of storage type `code` (a
/// [`crate::valtype`] code, `I8`/`I16` for packed ones).
pub const fn storage_size(code: u8) -> u64 {
    use crate::valtype::*;
    match code {
        I8 => 1,
        I16 => 2,
        I32 | F32 => 4,
        V128 => 16,
        _ => 8,
    }
}

/// Whether storage type `code` holds a reference.
pub const fn is_ref(code: u8) -> bool {
    use crate::valtype::*;
    matches!(code, FUNCREF | EXTERNREF | ANYREF | EXNREF)
}

/// Whether storage type `code` holds a reference the collector traces (an internal or
/// external one: external ones may be internal references converted).
pub const fn is_traced(code: u8) -> bool {
    use crate::valtype::*;
    matches!(code, EXTERNREF | ANYREF)
}

/// The offset of each field of a struct whose fields have storage types `codes`, and the
/// object's size, header included.
pub fn struct_layout(codes: impl Iterator<Item = u8>, mut offset_of: impl FnMut(u64)) -> u64 {
    let mut at = HEADER_SIZE;
    for c in codes {
        let size = storage_size(c);
        at = at.next_multiple_of(size);
        offset_of(at);
        at += size;
    }
    at.next_multiple_of(8)
}

/// The GC type definitions of a module ([`crate::module::ModuleDescriptor::type_defs`]),
/// as `u32` words, rec group by rec group in type-index order:
///
/// - a group: `[n]` then its `n` types;
/// - a type: `[kind | FINAL?, supertype, a, b]` then its words: `kind` is [`FUNC`],
///   [`STRUCT`] or [`ARRAY`]; `supertype` a module type index or [`NO_SUPER`]; a function
///   has `a` parameter and `b` result type words ([`crate::valtype`] type words); a struct
///   `a` fields and an array one (`b` = 0), each two words: its storage type word and 1
///   when mutable.
pub mod def {
    pub const FUNC: u32 = 0;
    pub const STRUCT: u32 = 1;
    pub const ARRAY: u32 = 2;
    pub const KIND_MASK: u32 = 0xff;
    pub const FINAL: u32 = 1 << 8;
    pub const NO_SUPER: u32 = u32::MAX;
    /// Words of a type before its own.
    pub const TYPE_HEAD: usize = 4;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::valtype::*;

    #[test]
    fn layouts() {
        assert_eq!(HEADER_SIZE, 16);
        assert_eq!(LEN_OFFSET, 8);
        let mut at = alloc_free::Vec3::default();
        let size = struct_layout([I8, I64, I16, V128].into_iter(), |o| at.push(o));
        assert_eq!(at.0[..at.1], [16, 24, 32, 48]);
        assert_eq!(size, 64);
        assert_eq!(struct_layout([].into_iter(), |_| {}), 16);
        assert_eq!(host_ref_bits(0), 2);
        assert_eq!(host_ref_bits(1) & TAG_MASK, HOST_TAG);
    }

    mod alloc_free {
        #[derive(Default)]
        pub struct Vec3(pub [u64; 8], pub usize);
        impl Vec3 {
            pub fn push(&mut self, v: u64) {
                self.0[self.1] = v;
                self.1 += 1;
            }
        }
    }
}
