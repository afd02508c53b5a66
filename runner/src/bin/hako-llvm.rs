//! `hako-llvm`: `hako` with the compiler (LLVM) linked in. `hako` hands it every command that
//! compiles (see `hako_runner::backend`); it takes the same command line.

fn main() {
    hako_runner::backend::install(hako_compiler::compile_object);
    hako_runner::cli::main()
}
