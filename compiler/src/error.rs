//! The compiler's internal error: a [`CompileError`] (the taxonomy is in
//! `hako-compiler-api`) that LLVM's builder errors and wasmparser's reader errors convert into
//! with `?`.

pub use hako_compiler_api::CompileError;

/// A [`CompileError`] inside the compiler (a local type, so that `?` converts LLVM's builder
/// errors, which the API crate does not know, into it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(pub CompileError);

impl From<CompileError> for Error {
    fn from(e: CompileError) -> Self {
        Error(e)
    }
}

impl From<Error> for CompileError {
    fn from(e: Error) -> Self {
        e.0
    }
}

impl From<wasmparser::BinaryReaderError> for Error {
    fn from(e: wasmparser::BinaryReaderError) -> Self {
        Error(e.into())
    }
}

impl From<inkwell::builder::BuilderError> for Error {
    fn from(e: inkwell::builder::BuilderError) -> Self {
        Error(CompileError::Internal(format!("LLVM builder: {e}")))
    }
}

/// Shorthand used throughout the crate.
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// An [`CompileError::Unsupported`] error.
pub(crate) fn unsupported(feature: impl Into<String>, offset: usize) -> Error {
    Error(CompileError::Unsupported {
        feature: feature.into(),
        detail: "found while translating".into(),
        offset,
    })
}

/// An [`CompileError::Internal`] error.
pub(crate) fn internal(message: impl Into<String>) -> Error {
    Error(CompileError::Internal(message.into()))
}
