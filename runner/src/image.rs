//! Compiling a module and linking it, for a [`Target`]: with the kernel into a bootable
//! image, or with the Linux runtime into a static executable.
//!
//! The kernel (`libhako_kernel.a`) and its linker script, and the Linux runtime
//! (`libhako_linux.a`) with musl's C runtime, are embedded in this binary when it is built
//! (see `build.rs`), so `hako` needs only `ld.lld` (and QEMU for the unikernel) at run
//! time. Objects, images and executables are cached (see [`crate::cache`]); the object is
//! the same for both targets, and so is its cache entry.

use crate::cache::{self, Cache};
use crate::input::Module;
use crate::manifest;
use crate::tools;
use anyhow::{bail, Context, Result};
use hako_abi::script::image_kind;
use hako_compiler_api::{OptLevel, Options};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The kernel staticlib this `hako` was built with.
pub static KERNEL_LIB: &[u8] = include_bytes!(env!("HAKO_KERNEL_LIB"));
/// The kernel's linker script.
pub static LINKER_SCRIPT: &str = include_str!(env!("HAKO_KERNEL_LINKER_SCRIPT"));
/// The cache key of the kernel library and linker script, `cache::key(&[KERNEL_LIB,
/// LINKER_SCRIPT])`, computed by `build.rs`: hashing the 13 MB library at every start cost
/// `hako run` about 2.5 ms.
pub const KERNEL_KEY: &str = env!("HAKO_KERNEL_KEY");

/// What a Linux executable links besides the program's objects, in link order around them:
/// musl's start files, then (after the objects) the runtime, the unwinder, the C library and
/// musl's end files.
static LINUX_BEFORE: [(&str, &[u8]); 3] = [
    (
        "crt1.o",
        include_bytes!(concat!(env!("HAKO_LINUX_RT_DIR"), "/crt1.o")),
    ),
    (
        "crti.o",
        include_bytes!(concat!(env!("HAKO_LINUX_RT_DIR"), "/crti.o")),
    ),
    (
        "crtbegin.o",
        include_bytes!(concat!(env!("HAKO_LINUX_RT_DIR"), "/crtbegin.o")),
    ),
];
static LINUX_AFTER: [(&str, &[u8]); 5] = [
    (
        "a",
        include_bytes!(concat!(env!("HAKO_LINUX_RT_DIR"), "/libhako_linux.a")),
    ),
    (
        "a",
        include_bytes!(concat!(env!("HAKO_LINUX_RT_DIR"), "/libunwind.a")),
    ),
    (
        "a",
        include_bytes!(concat!(env!("HAKO_LINUX_RT_DIR"), "/libc.a")),
    ),
    (
        "crtend.o",
        include_bytes!(concat!(env!("HAKO_LINUX_RT_DIR"), "/crtend.o")),
    ),
    (
        "crtn.o",
        include_bytes!(concat!(env!("HAKO_LINUX_RT_DIR"), "/crtn.o")),
    ),
];

/// [`crate::cache::key`] of the files of [`LINUX_BEFORE`] and [`LINUX_AFTER`], in that
/// order, computed when `hako` was built (`build.rs`).
const LINUX_RT_KEY: &str = env!("HAKO_LINUX_RT_KEY");

/// Where a compiled program runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Target {
    /// The hako unikernel, booted in QEMU.
    #[default]
    Unikernel,
    /// A static Linux executable, run as a process of this machine.
    Linux,
}

impl Target {
    /// The name `--target` takes.
    pub fn name(self) -> &'static str {
        match self {
            Target::Unikernel => "unikernel",
            Target::Linux => "linux",
        }
    }

    /// Run a linked image or executable (see [`crate::qemu::boot`], [`crate::linux::run`]).
    pub fn boot(
        self,
        artifact: &Path,
        config: &crate::qemu::BootConfig,
    ) -> Result<crate::qemu::Run> {
        match self {
            Target::Unikernel => crate::qemu::boot(artifact, config),
            Target::Linux => crate::linux::run(artifact, config),
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// How to compile.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    pub opt_level: OptLevel,
    /// What to link the object into (the object itself is the same for every target).
    pub target: Target,
    /// Threads that compile a large module in parallel (0: one per core). The object is
    /// cached regardless: any count gives the same program.
    pub jobs: usize,
    /// Show a compile that takes more than a second on stderr, when it is a terminal (see
    /// [`crate::progress`]): for the commands a person runs, not the suites.
    pub progress: bool,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            opt_level: OptLevel::O2,
            target: Target::Unikernel,
            jobs: 0,
            progress: false,
        }
    }
}

impl BuildOptions {
    fn compiler_options(&self) -> Options {
        Options {
            opt_level: self.opt_level,
            threads: self.jobs,
            // Images built here run their module as the program: once.
            prebuild: true,
            ..Options::default()
        }
    }
}

/// What a build did, for `--verbose` and the closing notes of benchmarks.
#[derive(Debug, Clone, Default)]
pub struct BuildReport {
    /// Time spent compiling; `None` on a cache hit.
    pub compile_time: Option<Duration>,
    /// Time spent linking; `None` on a cache hit.
    pub link_time: Option<Duration>,
}

/// The cache key of `module`'s object compiled with `options`.
fn object_key(module: &Module, options: &BuildOptions) -> String {
    let opt = options.opt_level.to_string();
    cache::key(&[
        &module.wasm,
        opt.as_bytes(),
        cache::COMPILER_FINGERPRINT.as_bytes(),
    ])
}

/// Whether `module`'s object (with `options`, by this compiler) is in the cache. Then the
/// module is valid: the compiler validates before anything else, and only what
/// it compiled is stored under a key that covers the module's every byte. So a command needs
/// to validate only a module this is false for.
pub fn is_compiled(module: &Module, options: &BuildOptions, cache: &Cache) -> bool {
    cache.get(&object_key(module, options), "o").is_some()
}

/// Compile `module` to an object (from the cache when possible). Returns the object's cache
/// key and path.
pub fn compile_object(
    module: &Module,
    options: &BuildOptions,
    cache: &Cache,
    report: &mut BuildReport,
) -> Result<(String, PathBuf)> {
    let key = object_key(module, options);
    if let Some(path) = cache.get(&key, "o") {
        return Ok((key, path));
    }
    crate::backend::ready()?;
    let start = Instant::now();
    let mut compiler_options = options.compiler_options();
    let progress = options
        .progress
        .then(|| crate::progress::CompileProgress::start(&module.path))
        .flatten();
    compiler_options.progress = progress.as_ref().map(|p| p.callback());
    let object = crate::backend::compile(&module.wasm, &compiler_options);
    drop(progress);
    let object = object.with_context(|| format!("cannot compile {}", module.path))?;
    report.compile_time = Some(start.elapsed());
    let path = cache.put(&key, "o", &object)?;
    Ok((key, path))
}

/// Compile `module` and link it for `options.target`: with the kernel into a bootable ELF
/// image, or with the Linux runtime into an executable (from the cache when possible).
/// Returns the artifact's path inside the cache.
pub fn build_image(
    module: &Module,
    options: &BuildOptions,
    cache: &Cache,
    report: &mut BuildReport,
) -> Result<PathBuf> {
    let (object_key, object) = compile_object(module, options, cache, report)?;
    let manifest = manifest::object(
        image_kind::PROGRAM,
        &[hako_abi::module::MAIN_DESCRIPTOR_SYMBOL.to_string()],
        &[],
    )?;
    let manifest = cached_bytes(cache, &manifest, "o")?;
    link_cached(
        &[manifest, (object_key, object)],
        options.target,
        cache,
        report,
    )
}

/// Store `bytes` in the cache under their own hash; returns the key and path.
pub fn cached_bytes(cache: &Cache, bytes: &[u8], extension: &str) -> Result<(String, PathBuf)> {
    let key = cache::key(&[bytes]);
    let path = match cache.get(&key, extension) {
        Some(path) => path,
        None => cache.put(&key, extension, bytes)?,
    };
    Ok((key, path))
}

/// Link `objects` (cache entries, by key and path) for `target` into an image or an
/// executable, itself cached under a key made of the objects' keys and the platform's.
pub fn link_cached(
    objects: &[(String, PathBuf)],
    target: Target,
    cache: &Cache,
    report: &mut BuildReport,
) -> Result<PathBuf> {
    if target == Target::Linux {
        return link_linux_cached(objects, cache, report);
    }
    let kernel_key = KERNEL_KEY;
    let mut parts: Vec<&[u8]> = objects.iter().map(|(key, _)| key.as_bytes()).collect();
    parts.push(kernel_key.as_bytes());
    let image_key = cache::key(&parts);
    if let Some(path) = cache.get(&image_key, "elf") {
        return Ok(path);
    }
    let start = Instant::now();
    let kernel = cache
        .get(kernel_key, "a")
        .map_or_else(|| cache.put(kernel_key, "a", KERNEL_LIB), Ok)?;
    let script = cache
        .get(kernel_key, "ld")
        .map_or_else(|| cache.put(kernel_key, "ld", LINKER_SCRIPT.as_bytes()), Ok)?;
    let linked = cache.scratch_path(&image_key)?;
    let paths: Vec<&Path> = objects.iter().map(|(_, path)| path.as_path()).collect();
    link(&paths, &kernel, &script, &linked)?;
    let image = cache.path(&image_key, "elf");
    std::fs::rename(&linked, &image)
        .with_context(|| format!("cannot write {}", image.display()))?;
    report.link_time = Some(start.elapsed());
    Ok(image)
}

/// Link `objects` with the kernel library into `out` with `ld.lld`.
pub fn link(objects: &[&Path], kernel: &Path, script: &Path, out: &Path) -> Result<()> {
    let ld = tools::LINKER.find()?;
    let output = Command::new(&ld)
        .arg("-T")
        .arg(script)
        .args([
            "--gc-sections",
            "-static",
            "-nostdlib",
            "--no-undefined",
            "--eh-frame-hdr",
            "-o",
        ])
        .arg(out)
        .args(objects)
        .arg(kernel)
        .output()
        .with_context(|| format!("cannot run {}", ld.display()))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let names: Vec<_> = objects.iter().map(|p| p.display().to_string()).collect();
        bail!(
            "linking {} with the kernel failed:\n{}",
            names.join(" "),
            stderr.trim_end()
        );
    }
    Ok(())
}

/// [`link_cached`] for [`Target::Linux`].
fn link_linux_cached(
    objects: &[(String, PathBuf)],
    cache: &Cache,
    report: &mut BuildReport,
) -> Result<PathBuf> {
    let markers = crate::manifest::code_markers()?;
    let mut parts: Vec<&[u8]> = objects.iter().map(|(key, _)| key.as_bytes()).collect();
    parts.extend([LINUX_RT_KEY.as_bytes(), &markers.0, &markers.1]);
    let exe_key = cache::key(&parts);
    if let Some(path) = cache.get(&exe_key, "exe") {
        return Ok(path);
    }
    let start = Instant::now();
    let file = |bytes: &[u8], ext: &str| cached_bytes(cache, bytes, ext).map(|(_, path)| path);
    let mut inputs = Vec::new();
    for (name, bytes) in &LINUX_BEFORE {
        inputs.push(file(bytes, name.rsplit('.').next().unwrap_or("o"))?);
    }
    inputs.push(file(&markers.0, "o")?);
    inputs.extend(objects.iter().map(|(_, path)| path.clone()));
    inputs.push(file(&markers.1, "o")?);
    for (name, bytes) in &LINUX_AFTER {
        inputs.push(file(bytes, name.rsplit('.').next().unwrap_or("o"))?);
    }
    let linked = cache.scratch_path(&exe_key)?;
    let ld = tools::LINKER.find()?;
    let output = Command::new(&ld)
        .args([
            "-static",
            "--gc-sections",
            "--strip-debug",
            // The unwinder (libunwind) finds compiled code's FDEs through PT_GNU_EH_FRAME.
            "--eh-frame-hdr",
            "-z",
            "noexecstack",
            "-o",
        ])
        .arg(&linked)
        .args(&inputs)
        .output()
        .with_context(|| format!("cannot run {}", ld.display()))?;
    if !output.status.success() {
        bail!(
            "linking the Linux executable failed:\n{}",
            String::from_utf8_lossy(&output.stderr).trim_end()
        );
    }
    let exe = cache.path(&exe_key, "exe");
    std::fs::rename(&linked, &exe).with_context(|| format!("cannot write {}", exe.display()))?;
    report.link_time = Some(start.elapsed());
    Ok(exe)
}

/// Copy a cached artifact to where the user asked for it.
pub fn copy_out(from: &Path, to: &Path) -> Result<()> {
    std::fs::copy(from, to).with_context(|| format!("cannot write {}", to.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_linux_runtime_key_is_the_files_key() {
        let files: Vec<&[u8]> = LINUX_BEFORE
            .iter()
            .chain(&LINUX_AFTER)
            .map(|(_, bytes)| *bytes)
            .collect();
        assert_eq!(cache::key(&files), LINUX_RT_KEY);
    }

    #[test]
    fn the_kernel_key_is_the_hash_of_the_embedded_kernel() {
        assert_eq!(
            KERNEL_KEY,
            cache::key(&[KERNEL_LIB, LINKER_SCRIPT.as_bytes()])
        );
    }

    #[test]
    fn a_module_counts_as_compiled_once_its_object_is_cached() {
        crate::backend::install_for_tests();
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::at(dir.path());
        let module = Module {
            path: "m.wasm".into(),
            wasm: wat::parse_str("(module (func (export \"_start\")))").unwrap(),
        };
        let options = BuildOptions::default();
        assert!(!is_compiled(&module, &options, &cache));
        compile_object(&module, &options, &cache, &mut BuildReport::default()).unwrap();
        assert!(is_compiled(&module, &options, &cache));
        let o0 = BuildOptions {
            opt_level: OptLevel::O0,
            ..BuildOptions::default()
        };
        assert!(
            !is_compiled(&module, &o0, &cache),
            "the key covers the options"
        );
    }
}
