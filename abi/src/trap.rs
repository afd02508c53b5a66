//! Trap codes and the spec's messages for them.
//!
//! Compiled code raises a trap by calling [`crate::builtins::TRAP`] with one of these codes;
//! the kernel raises the same codes for faults it detects itself (a page fault in a linear
//! memory's guard region is [`TrapCode::MemoryOutOfBounds`], one in the Wasm stack's guard page
//! is [`TrapCode::StackOverflow`]). The runner prints [`TrapCode::message`], which is the
//! text the spec testsuite's `assert_trap` expects.

/// Why a Wasm program stopped abnormally.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TrapCode {
    Unreachable = 0,
    IntegerDivideByZero = 1,
    IntegerOverflow = 2,
    InvalidConversionToInteger = 3,
    MemoryOutOfBounds = 4,
    TableOutOfBounds = 5,
    /// `call_indirect` on a null table entry.
    UninitializedElement = 6,
    /// `call_indirect` with an index beyond the table's size.
    UndefinedElement = 7,
    BadSignature = 8,
    StackOverflow = 9,
    NullReference = 10,
    /// A call to an import nothing could be linked to, whose signature does not allow the
    /// `ENOSYS` answer (see `hako-kernel`).
    UnresolvedImport = 11,
    /// An element or data segment did not fit during instantiation (reported with the
    /// spec's out-of-bounds messages by [`TrapCode::message`]).
    ElementSegmentOutOfBounds = 12,
    DataSegmentOutOfBounds = 13,
    /// `call_ref` or `return_call_ref` of a null reference.
    NullFunctionReference = 14,
    /// A Wasm exception nothing caught reached the host (an export's caller): the spec's
    /// `assert_exception`, not a trap, though it ends the program as one does.
    UncaughtException = 15,
    /// `struct.get`/`struct.set` of a null reference.
    NullStructure = 16,
    /// An `array.*` instruction on a null reference.
    NullArray = 17,
    /// `i31.get_s`/`i31.get_u` of a null reference.
    NullI31 = 18,
    /// `ref.cast` of a value not of the type.
    CastFailure = 19,
    /// An array access or bulk operation beyond its length.
    ArrayOutOfBounds = 20,
    /// An array larger than the runtime allocates (`gc::MAX_ARRAY_BYTES`).
    AllocationTooLarge = 21,
    /// The GC heap is full after a collection.
    GcHeapExhausted = 22,
}

impl TrapCode {
    /// Every code, in numeric order.
    pub const ALL: [TrapCode; 23] = [
        TrapCode::Unreachable,
        TrapCode::IntegerDivideByZero,
        TrapCode::IntegerOverflow,
        TrapCode::InvalidConversionToInteger,
        TrapCode::MemoryOutOfBounds,
        TrapCode::TableOutOfBounds,
        TrapCode::UninitializedElement,
        TrapCode::UndefinedElement,
        TrapCode::BadSignature,
        TrapCode::StackOverflow,
        TrapCode::NullReference,
        TrapCode::UnresolvedImport,
        TrapCode::ElementSegmentOutOfBounds,
        TrapCode::DataSegmentOutOfBounds,
        TrapCode::NullFunctionReference,
        TrapCode::UncaughtException,
        TrapCode::NullStructure,
        TrapCode::NullArray,
        TrapCode::NullI31,
        TrapCode::CastFailure,
        TrapCode::ArrayOutOfBounds,
        TrapCode::AllocationTooLarge,
        TrapCode::GcHeapExhausted,
    ];

    /// The message the WebAssembly spec testsuite uses for this trap.
    pub const fn message(self) -> &'static str {
        match self {
            TrapCode::Unreachable => "unreachable",
            TrapCode::IntegerDivideByZero => "integer divide by zero",
            TrapCode::IntegerOverflow => "integer overflow",
            TrapCode::InvalidConversionToInteger => "invalid conversion to integer",
            TrapCode::MemoryOutOfBounds => "out of bounds memory access",
            TrapCode::TableOutOfBounds => "out of bounds table access",
            TrapCode::UninitializedElement => "uninitialized element",
            TrapCode::UndefinedElement => "undefined element",
            TrapCode::BadSignature => "indirect call type mismatch",
            TrapCode::StackOverflow => "call stack exhausted",
            TrapCode::NullReference => "null reference",
            TrapCode::UnresolvedImport => "call to an unresolved import",
            TrapCode::ElementSegmentOutOfBounds => "out of bounds table access",
            TrapCode::DataSegmentOutOfBounds => "out of bounds memory access",
            TrapCode::NullFunctionReference => "null function reference",
            TrapCode::UncaughtException => "uncaught exception",
            TrapCode::NullStructure => "null structure reference",
            TrapCode::NullArray => "null array reference",
            TrapCode::NullI31 => "null i31 reference",
            TrapCode::CastFailure => "cast failure",
            TrapCode::ArrayOutOfBounds => "out of bounds array access",
            TrapCode::AllocationTooLarge => "allocation too large",
            TrapCode::GcHeapExhausted => "out of memory: GC heap exhausted",
        }
    }

    /// The code with this number, if there is one.
    pub const fn from_u32(code: u32) -> Option<TrapCode> {
        if (code as usize) < Self::ALL.len() {
            Some(Self::ALL[code as usize])
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for (i, code) in TrapCode::ALL.iter().enumerate() {
            assert_eq!(*code as u32, i as u32);
            assert_eq!(TrapCode::from_u32(i as u32), Some(*code));
        }
        assert_eq!(TrapCode::from_u32(TrapCode::ALL.len() as u32), None);
    }
}
