//! # hako-compiler-api: what the hako compiler is asked and answers
//!
//! The parts of the compiler's interface that need no LLVM: the WebAssembly features hako
//! compiles ([`FEATURES`]) and validates against ([`STANDARD`]), the optimisation levels
//! ([`OptLevel`]), the options of a compile ([`Options`]), its progress ([`Progress`]), its
//! errors ([`CompileError`]) and validation ([`validate`]). `hako-compiler` re-exports all of
//! it and adds the compiler itself. The runner's launcher `hako` links only this crate, so
//! that a program run from the cache never loads LLVM (its static initialisers and 100 MB of
//! code cost every start several milliseconds: see `runner/src/backend.rs`).
//!
//! The error taxonomy has three kinds only, because a caller (the runner, the spec-test
//! driver) reacts differently to each: an *invalid* module is the user's fault and is
//! reported with the byte offset wasmparser found; an *unsupported* module is valid
//! WebAssembly that this compiler does not translate yet (the feature is named so the gap is
//! obvious); an *internal* error is a bug in hako or a failure inside LLVM and is never the
//! input's fault.

use core::fmt;
use core::str::FromStr;
use std::sync::Arc;
use wasmparser::{Validator, WasmFeatures};

/// The WebAssembly features hako compiles: the Wasm 2.0 set, multiple memories, extended
/// constant expressions, relaxed SIMD, tail calls, typed function references, memory64
/// (64-bit memories and tables), exception handling (with the legacy
/// `try`/`catch`/`delegate`/`rethrow` that toolchains still emit) and garbage collection.
pub const FEATURES: WasmFeatures = WasmFeatures::WASM2
    .union(WasmFeatures::MULTI_MEMORY)
    .union(WasmFeatures::MEMORY64)
    .union(WasmFeatures::EXTENDED_CONST)
    .union(WasmFeatures::RELAXED_SIMD)
    .union(WasmFeatures::TAIL_CALL)
    .union(WasmFeatures::FUNCTION_REFERENCES)
    .union(WasmFeatures::EXCEPTIONS)
    .union(WasmFeatures::LEGACY_EXCEPTIONS)
    .union(WasmFeatures::GC);

/// The WebAssembly standard a module is validated against: Wasm 3.0 (wasmparser's set
/// without threads, which 3.0 does not include). A module valid here that needs more than
/// [`FEATURES`] is *unsupported*, not invalid. The legacy exception instructions are not
/// part of the standard, but clang still emits them (`-fwasm-exceptions`), so they validate.
pub const STANDARD: WasmFeatures = WasmFeatures::WASM3
    .difference(WasmFeatures::THREADS)
    .union(WasmFeatures::LEGACY_EXCEPTIONS);

/// The Wasm 3.0 features hako does not compile yet, by name, each with what it needs to
/// validate.
pub const NOT_YET: &[(&str, WasmFeatures)] = &[];

/// Optimisation level: how much LLVM work buys how much run-time speed.
///
/// Wasm from an optimising compiler (clang, rustc) has already been inlined, unrolled and
/// vectorised; what its translation mostly needs is Wasm locals in registers and the
/// address arithmetic of linear-memory accesses folded. The default level does that with a
/// short function pipeline and LLVM's fast instruction selector (FastISel) with the greedy
/// register allocator: about 4x the compile speed of LLVM's own `-O2` for run times within a
/// few percent of it on the Sightglass programs (see CONTRIBUTING.md, "Optimisation levels").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OptLevel {
    /// No IR optimisation, FastISel and the fast register allocator: quickest compile, for
    /// tests and development.
    O0,
    /// Locals promoted to registers (`sroa`), `early-cse` and `simplifycfg`, then FastISel
    /// and the greedy register allocator.
    O1,
    /// The default: [`OptLevel::O1`] plus `instcombine`.
    #[default]
    O2,
    /// LLVM's full `default<O3>` pipeline (inlining, loop and vector optimisations) and
    /// SelectionDAG code generation at its highest level: slowest compile, for long-running
    /// programs.
    O3,
}

impl OptLevel {
    /// The IR pass pipeline, if any. At `-O0` none runs: LLVM's `default<O0>` only inlines
    /// `alwaysinline` functions (there are none) and walks every function to find that out.
    pub fn pipeline(self) -> Option<&'static str> {
        match self {
            OptLevel::O0 => None,
            OptLevel::O1 => Some("function(sroa,early-cse,simplifycfg)"),
            OptLevel::O2 => {
                Some("function(sroa,early-cse,instcombine<no-verify-fixpoint>,simplifycfg)")
            }
            OptLevel::O3 => Some("default<O3>"),
        }
    }

    /// Whether code generation uses FastISel on the optimised IR: LLVM selects it for every
    /// function marked `optnone` (which no IR pass sees after the pipeline has run), and
    /// skips the machine-level optimisations for them, but still allocates registers with
    /// the greedy allocator of the optimising code generator.
    pub fn fast_isel(self) -> bool {
        matches!(self, OptLevel::O1 | OptLevel::O2)
    }

    /// Whether, in a module of more than [`LARGE_MODULE_BYTES`] of code, the functions of more
    /// than [`Options::huge_function_bytes`] are compiled, after the IR pipeline, by the quick
    /// code generator of `-O0` (FastISel and the fast register allocator, no machine passes).
    /// The greedy allocator's time grows faster than the size of a function: in the large
    /// programs measured (docs/perf/2026-12-07-large-modules.md), the functions above 2 KiB
    /// held 38 to 57 % of the code and most of the code generator's time. Smaller modules
    /// (every benchmark and WASI testsuite program) keep the greedy allocator for all their
    /// functions: their compile is short, and their hot loops are often one large function.
    pub fn quick_huge_functions(self) -> bool {
        matches!(self, OptLevel::O1 | OptLevel::O2)
    }
}

impl FromStr for OptLevel {
    type Err = String;
    fn from_str(s: &str) -> core::result::Result<Self, String> {
        match s {
            "0" => Ok(OptLevel::O0),
            "1" => Ok(OptLevel::O1),
            "2" => Ok(OptLevel::O2),
            "3" => Ok(OptLevel::O3),
            _ => Err(format!(
                "invalid optimisation level `{s}` (expected 0, 1, 2 or 3)"
            )),
        }
    }
}

impl fmt::Display for OptLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = match self {
            OptLevel::O0 => 0,
            OptLevel::O1 => 1,
            OptLevel::O2 => 2,
            OptLevel::O3 => 3,
        };
        write!(f, "{n}")
    }
}

/// How to compile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Prefix of every symbol the object defines; the descriptor is `<prefix>_module`.
    pub prefix: String,
    pub opt_level: OptLevel,
    /// The LLVM CPU to generate code for.
    pub cpu: String,
    /// Also return the optimised LLVM IR as text (for debugging).
    pub emit_ir: bool,
    /// How many threads may compile one large module in parallel (0: one per core).
    pub threads: usize,
    /// Also lay out the module's instance ahead of time when it can be (see
    /// [`hako_abi::module::Prebuilt`]): for the program of an image, which the kernel
    /// instantiates once.
    pub prebuild: bool,
    /// Called as the compile progresses (see [`ProgressFn`]).
    pub progress: Option<ProgressFn>,
    /// The most function-body code (bytes of Wasm) in one part of a large module (0:
    /// [`MAX_PART_BYTES`]). Any value gives the same program; it changes how the work is
    /// spread over the threads.
    pub part_bytes: usize,
    /// Above this much code (bytes of Wasm) a function is huge (see
    /// [`OptLevel::quick_huge_functions`]; 0: [`HUGE_FUNCTION_BYTES`], `usize::MAX`: none is).
    pub huge_bytes: usize,
    /// Compile every function in the tail calling convention even when the module has no
    /// tail call. Every instance of a store must share one convention (the kernel refuses to
    /// mix them): modules compiled to run together with one that has tail calls (the modules
    /// of a spec script) need it. Without it only a module with `return_call*` uses it.
    pub tail_convention: bool,
}

impl Options {
    /// [`Options::threads`], with 0 resolved to the number of cores.
    pub fn thread_count(&self) -> usize {
        match self.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
    }

    /// [`Options::huge_bytes`], with 0 resolved to [`HUGE_FUNCTION_BYTES`].
    pub fn huge_function_bytes(&self) -> usize {
        match self.huge_bytes {
            0 => HUGE_FUNCTION_BYTES,
            n => n,
        }
    }

    /// [`Options::part_bytes`], with 0 resolved to [`MAX_PART_BYTES`].
    pub fn max_part_bytes(&self) -> usize {
        match self.part_bytes {
            0 => MAX_PART_BYTES,
            n => n,
        }
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            prefix: hako_abi::module::MAIN_PREFIX.to_string(),
            opt_level: OptLevel::default(),
            cpu: "x86-64-v2".to_string(),
            emit_ir: false,
            threads: 0,
            prebuild: false,
            progress: None,
            part_bytes: 0,
            huge_bytes: 0,
            tail_convention: false,
        }
    }
}

/// Validates `wasm` against the Wasm 3.0 standard ([`STANDARD`]): a module that is not valid
/// there is [`CompileError::Invalid`]; a valid one that needs a feature beyond [`FEATURES`]
/// is [`CompileError::Unsupported`], naming the feature (the first one the module needs,
/// found by validating again with each feature of [`NOT_YET`] added: the feature that lets
/// validation get past the first error's offset).
pub fn validate(wasm: &[u8]) -> Result<(), CompileError> {
    let Err(first) = Validator::new_with_features(FEATURES).validate_all(wasm) else {
        return Ok(());
    };
    Validator::new_with_features(STANDARD).validate_all(wasm)?;
    let offset = first.offset();
    let past = |features: WasmFeatures| match Validator::new_with_features(FEATURES.union(features))
        .validate_all(wasm)
    {
        Ok(_) => true,
        Err(e) => e.offset() > offset,
    };
    let feature = NOT_YET
        .iter()
        .find(|(_, f)| past(*f))
        .map_or("a Wasm 3.0 feature", |(name, _)| name);
    Err(CompileError::Unsupported {
        feature: feature.to_string(),
        detail: one_line(first.message()),
        offset: offset as usize,
    })
}

/// Validates a module against another feature set than [`FEATURES`]: a subset rejects what
/// an older standard or a proposal written against one rejects (the spec testsuite checks
/// each proposal's scripts against the features of that proposal's base).
pub fn validate_with_features(wasm: &[u8], features: WasmFeatures) -> Result<(), CompileError> {
    Validator::new_with_features(features).validate_all(wasm)?;
    Ok(())
}

/// Below this much function-body code (bytes of Wasm) a module is compiled as one part:
/// splitting costs a thread, a target machine and the declarations of every function per
/// part, and calls between parts cannot be inlined.
pub const MIN_PART_BYTES: usize = 16 * 1024;

/// How much function-body code (bytes of Wasm) a part of a large module holds at most,
/// unless one function alone is larger. Parts are compiled from a queue by
/// [`Options::threads`] threads, largest first, so that one long part does not leave the
/// other threads idle at the end.
pub const MAX_PART_BYTES: usize = 256 * 1024;

/// Functions with more code than this (bytes of Wasm) are huge: see
/// [`OptLevel::quick_huge_functions`].
pub const HUGE_FUNCTION_BYTES: usize = 2048;

/// Modules with more function-body code than this (bytes of Wasm) are large: see
/// [`OptLevel::quick_huge_functions`].
pub const LARGE_MODULE_BYTES: usize = 4 << 20;

/// Why a compile (`hako_compiler::compile`) or [`validate`] failed.
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
pub fn one_line(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    for word in message.split_whitespace() {
        if !(out.is_empty() || out.ends_with('[') || word.starts_with(']')) {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// How far a compile (`hako_compiler::compile`) has got, for [`Options::progress`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Parts compiled, of `parts`.
    pub parts_done: usize,
    pub parts: usize,
    /// Functions in the parts compiled, of `functions` (the defined functions).
    pub functions_done: usize,
    pub functions: usize,
    /// Function-body code in the parts compiled (bytes of Wasm), of `code_bytes`.
    pub code_bytes_done: usize,
    pub code_bytes: usize,
}

/// A function the compiler calls once before the first part and after each part is compiled
/// (from the compiling threads, one call at a time, with counts that only grow).
#[derive(Clone)]
pub struct ProgressFn(pub Arc<dyn Fn(Progress) + Send + Sync>);

impl ProgressFn {
    pub fn new(f: impl Fn(Progress) + Send + Sync + 'static) -> ProgressFn {
        ProgressFn(Arc::new(f))
    }
}

impl fmt::Debug for ProgressFn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ProgressFn")
    }
}

impl PartialEq for ProgressFn {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for ProgressFn {}

// `Options` stays unwind-safe (callers catch a compiler panic as one input's failure): a
// progress function interrupted by a panic can at worst leave what it displays out of date.
impl std::panic::UnwindSafe for ProgressFn {}
impl std::panic::RefUnwindSafe for ProgressFn {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_one_line() {
        assert_eq!(
            one_line("bad magic - expected=[\n    0x0,\n    0x61,\n] actual=[\n    0x74,\n]"),
            "bad magic - expected=[0x0, 0x61,] actual=[0x74,]"
        );
    }
}
