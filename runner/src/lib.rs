//! # hako-runner: compile, link and boot WebAssembly programs in the hako unikernel
//!
//! The pipeline behind `hako run app.wasm`:
//!
//! 1. [`input`]: read the module (binary, or text when the file ends in `.wat`) and validate it,
//!    so bad input stops here with one clear line and QEMU never starts;
//! 2. [`image`]: compile it with `hako-compiler` (through [`backend`]) into a relocatable
//!    object and link that with the kernel (embedded in this binary at build time) by
//!    `ld.lld` into a bootable ELF; both steps are cached by content hash in [`cache`];
//! 3. [`qemu`]: boot the image on QEMU `microvm` (KVM when `/dev/kvm` is usable, TCG
//!    otherwise), with the program's arguments and environment on the kernel command line,
//!    stream the guest's stdout (COM1) and stderr (COM2) to ours, read the harness channel
//!    (COM3), and turn the `isa-debug-exit` status plus the harness records into an
//!    [`qemu::Outcome`]: the exit status, a trap, a kernel panic, a crash or a timeout.
//!
//! [`spec`] runs the spec testsuite's `.wast` scripts (`hako spec`, `cargo test --test spec`);
//! [`wasi`] runs the WASI testsuite's programs against Wasmtime with `wasi-common` as the
//! oracle (`hako wasi`, `cargo test --test wasi`); [`bench`](mod@bench) measures the Sightglass
//! benchmarks against Wasmtime (`hako bench`), and [`report`] writes the conformance report
//! (`hako report`). What these commands share: [`workspace`] (where the suites are),
//! [`expectations`] (known-failure lists) and [`panics`] (a compiler panic as one input's
//! failure).
//!
//! [`cli`] is the command line of the two executables built from this crate, `hako` and
//! `hako-llvm`; [`backend`] decides where a compile happens: `hako` links no LLVM and hands
//! any command that compiles to `hako-llvm`.
//!
//! Errors are [`anyhow::Error`] with context; where the kind of failure decides what happens
//! next the type says so (`spec::plan::Unplanned`, `spec::ModuleError`).
//!
//! The contract with the kernel (ports, records, exit codes, command-line keys) is
//! `hako_abi::boot`.

pub mod backend;
pub mod bench;
pub mod cache;
pub mod cli;
pub mod containerd;
pub mod expectations;
pub mod fuzz;
pub mod image;
pub mod input;
pub mod invoke;
pub mod limits;
pub mod linux;
pub mod manifest;
pub mod oci;
pub mod panics;
pub mod process;
pub mod progress;
pub mod qemu;
pub mod report;
pub mod spec;
pub mod tools;
pub mod wasi;
pub mod workspace;

/// The exit status `hako run` uses when the guest trapped, as Wasmtime does on Unix
/// (128 + SIGABRT).
pub const TRAP_EXIT_STATUS: i32 = 134;
/// The exit status for a guest that did not finish: a kernel panic, a crash or a reset.
pub const CRASH_EXIT_STATUS: i32 = 70;
/// The exit status for a guest killed on timeout, as `timeout(1)` does.
pub const TIMEOUT_EXIT_STATUS: i32 = 124;
