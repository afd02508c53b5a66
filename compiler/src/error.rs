//! The compiler's error taxonomy.
//!
//! Three kinds only, because a caller (the runner, the spec-test driver) reacts differently
//! to each: an *invalid* module is the user's fault and is reported with the byte offset
//! wasmparser found; an *unsupported* module is valid WebAssembly that this compiler does not
//! translate yet (the feature is named so the gap is obvious); an *internal* error is a bug
//! in hako or a failure inside LLVM and is never the input's fault.

use core::fmt;

/// Why [`crate::compile`] or [`crate::validate`] failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompileError {
    /// The bytes are not a valid WebAssembly module.
    Invalid { message: String, offset: usize },
    /// The module is valid but uses something the compiler does not translate: `feature` is
    /// its name (`GC`, `tail calls`, ...), `detail` what was found at `offset`.
    Unsupported {
        feature: String,
        detail: String,
        offset: usize,
    },
    /// A bug in the compiler or an LLVM failure.
    Internal(String),
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompileError::Invalid { message, offset } => {
                write!(f, "invalid WebAssembly at offset {offset:#x}: {message}")
            }
            CompileError::Unsupported {
                feature,
                detail,
                offset,
            } => {
                write!(
                    f,
                    "uses {feature} (at offset {offset:#x}: {detail}), which hako does not compile yet"
                )
            }
            CompileError::Internal(message) => write!(f, "internal compiler error: {message}"),
        }
    }
}

impl std::error::Error for CompileError {}

impl From<wasmparser::BinaryReaderError> for CompileError {
    fn from(e: wasmparser::BinaryReaderError) -> Self {
        // The module was validated before translation reads it again, so a reader error
        // here is still reported as what it is: a malformed input.
        CompileError::Invalid {
            message: one_line(e.message()),
            offset: e.offset() as usize,
        }
    }
}

/// Folds a message onto one line: some wasmparser messages embed a pretty-printed `Debug`
/// of the bytes they expected, and an error must stay one line on a terminal.
pub(crate) fn one_line(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    for word in message.split_whitespace() {
        if !(out.is_empty() || out.ends_with('[') || word.starts_with(']')) {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

impl From<inkwell::builder::BuilderError> for CompileError {
    fn from(e: inkwell::builder::BuilderError) -> Self {
        CompileError::Internal(format!("LLVM builder: {e}"))
    }
}

/// Shorthand used throughout the crate.
pub type Result<T, E = CompileError> = core::result::Result<T, E>;

/// An [`CompileError::Unsupported`] error.
pub(crate) fn unsupported(feature: impl Into<String>, offset: usize) -> CompileError {
    CompileError::Unsupported {
        feature: feature.into(),
        detail: "found while translating".into(),
        offset,
    }
}

/// An [`CompileError::Internal`] error.
pub(crate) fn internal(message: impl Into<String>) -> CompileError {
    CompileError::Internal(message.into())
}

#[cfg(test)]
mod tests {
    #[test]
    fn messages_are_one_line() {
        assert_eq!(
            super::one_line(
                "bad magic - expected=[\n    0x0,\n    0x61,\n] actual=[\n    0x74,\n]"
            ),
            "bad magic - expected=[0x0, 0x61,] actual=[0x74,]"
        );
    }
}
