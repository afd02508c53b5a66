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
pub mod module;
pub mod script;
pub mod trap;
pub mod vm;
pub mod wasi;

/// Bumped whenever a layout or protocol in this crate changes incompatibly. The compiler
/// writes it into every [`module::ModuleDescriptor`]; the kernel refuses other versions.
pub const ABI_VERSION: u32 = 2;

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
}
