//! `hako`: compile, link and boot WebAssembly programs in the hako unikernel.
//!
//! This executable links no LLVM: it runs what the cache holds itself and hands any command
//! that compiles to `hako-llvm` (see `hako_runner::backend`).

fn main() {
    hako_runner::backend::become_launcher();
    hako_runner::cli::main()
}
