//! Where compiling happens: in this process through LLVM, or by handing the whole command to
//! `hako-llvm`.
//!
//! The runner builds two executables from one source. `hako-llvm` links the compiler
//! (`hako-compiler`, LLVM) and installs it here ([`install`]) before it runs the command line.
//! `hako`, the one users run, links no LLVM at all: only `hako-compiler-api`, whose types and
//! validation need none. So a `hako run` whose image is in the cache starts a small
//! executable: LLVM's 400 static initialisers and the page faults of a 130 MB binary cost
//! every start about 4 ms (docs/perf/2026-12-08-launcher.md). When `hako` does need to
//! compile, [`compile`] replaces the process with `hako-llvm` and the same arguments
//! ([`hand_over`]): nothing has been printed, started or read from stdin by then, so
//! `hako-llvm` runs the command from the start as if it had been called. The commands that
//! always compile (`spec`, `wasi`, `report`, `bench`, `fuzz`) are handed over at once.
//!
//! A library user (the tests) installs the compiler with [`install`] as `hako-llvm` does;
//! without it, and outside the launcher, [`compile`] says so instead of compiling.

use anyhow::{Context, Result};
use hako_compiler_api::{CompileError, Options};
use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

/// A compiler: a module and options to one relocatable object (the parts of a large module
/// merged): `hako_compiler::compile_object`.
pub type Compiler = fn(&[u8], &Options) -> Result<Vec<u8>, CompileError>;

/// The executable the launcher hands over to, beside it.
pub const FULL_EXECUTABLE: &str = "hako-llvm";

/// Names another path for `hako-llvm` (for tests: a missing one shows that a run did not need
/// it).
pub const FULL_EXECUTABLE_ENV: &str = "HAKO_LLVM";

static COMPILER: OnceLock<Compiler> = OnceLock::new();
static LAUNCHER: AtomicBool = AtomicBool::new(false);

/// Compile in this process with `compiler` from now on. The first installation stays.
pub fn install(compiler: Compiler) {
    let _ = COMPILER.set(compiler);
}

/// Whether a compiler is installed in this process.
pub fn installed() -> bool {
    COMPILER.get().is_some()
}

/// Make this process the launcher: without an installed compiler, [`compile`] hands the
/// command over to `hako-llvm` instead of failing.
pub fn become_launcher() {
    LAUNCHER.store(true, Ordering::Relaxed);
}

/// Make sure [`compile`] can compile in this process: in the launcher without a compiler,
/// hand the whole command over to `hako-llvm` now (this does not return then). Call it before
/// anything is shown or started for the compile.
pub fn ready() -> Result<()> {
    if installed() {
        return Ok(());
    }
    if LAUNCHER.load(Ordering::Relaxed) {
        match hand_over() {
            Ok(never) => match never {},
            Err(e) => return Err(e),
        }
    }
    anyhow::bail!("no compiler is installed in this process (`hako_runner::backend::install`)")
}

/// Compile `wasm` with the installed compiler (after [`ready`]; in the launcher without one,
/// this hands the command over to `hako-llvm` and does not return unless that fails).
pub fn compile(wasm: &[u8], options: &Options) -> Result<Vec<u8>, CompileError> {
    ready().map_err(|why| CompileError::Internal(format!("{why:#}")))?;
    match COMPILER.get() {
        Some(compiler) => compiler(wasm, options),
        None => Err(CompileError::Internal("no compiler is installed".into())),
    }
}

/// The executable users run, `hako`, which the benchmarks of `hako run` start.
pub const LAUNCHER_EXECUTABLE: &str = "hako";

/// Where `hako` is: beside this executable (which is `hako` itself or `hako-llvm`).
pub fn launcher_executable() -> Result<PathBuf> {
    let me = std::env::current_exe().context("cannot find the path of this executable")?;
    Ok(me.with_file_name(LAUNCHER_EXECUTABLE))
}

/// Where `hako-llvm` is: `$HAKO_LLVM`, else beside this executable.
pub fn full_executable() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os(FULL_EXECUTABLE_ENV) {
        return Ok(PathBuf::from(path));
    }
    let me = std::env::current_exe().context("cannot find the path of this executable")?;
    Ok(me.with_file_name(FULL_EXECUTABLE))
}

/// Replace this process with `hako-llvm` and this process's arguments. Returns only the
/// reason it could not.
pub fn hand_over() -> Result<std::convert::Infallible> {
    use std::os::unix::process::CommandExt;
    let full = full_executable()?;
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let err = std::process::Command::new(&full).args(args).exec();
    Err(err).with_context(|| {
        format!(
            "`hako` compiles with `{FULL_EXECUTABLE}`, which it could not start: {} \
             (build both with `cargo build --release -p hako-runner`, and install them side by side)",
            full.display()
        )
    })
}

/// The library's own tests compile as `hako-llvm` does.
#[cfg(test)]
pub(crate) fn install_for_tests() {
    install(hako_compiler::compile_object);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_full_executable_is_beside_this_one_unless_named() {
        // One test, as it changes the environment.
        std::env::remove_var(FULL_EXECUTABLE_ENV);
        let beside = full_executable().unwrap();
        assert_eq!(beside.file_name().unwrap(), FULL_EXECUTABLE);
        assert_eq!(beside.parent(), std::env::current_exe().unwrap().parent());
        std::env::set_var(FULL_EXECUTABLE_ENV, "/nowhere/hako-llvm");
        assert_eq!(
            full_executable().unwrap(),
            PathBuf::from("/nowhere/hako-llvm")
        );
        std::env::remove_var(FULL_EXECUTABLE_ENV);
    }
}
