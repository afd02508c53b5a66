//! Compiling a module and linking it with the kernel into a bootable image.
//!
//! The kernel (`libhako_kernel.a`) and its linker script are embedded in this binary when it
//! is built (see `build.rs`), so `hako` needs only `ld.lld` and QEMU at run time. Both the
//! object and the image are cached (see [`crate::cache`]).

use crate::cache::{self, Cache};
use crate::input::Module;
use crate::manifest;
use crate::tools;
use anyhow::{bail, Context, Result};
use hako_abi::script::image_kind;
use hako_compiler::{OptLevel, Options};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The kernel staticlib this `hako` was built with.
pub static KERNEL_LIB: &[u8] = include_bytes!(env!("HAKO_KERNEL_LIB"));
/// The kernel's linker script.
pub static LINKER_SCRIPT: &str = include_str!(env!("HAKO_KERNEL_LINKER_SCRIPT"));

/// How to compile.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    pub opt_level: OptLevel,
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

/// Compile `module` to an object (from the cache when possible). Returns the object's cache
/// key and path.
pub fn compile_object(
    module: &Module,
    options: &BuildOptions,
    cache: &Cache,
    report: &mut BuildReport,
) -> Result<(String, PathBuf)> {
    let opt = options.opt_level.to_string();
    let key = cache::key(&[
        &module.wasm,
        opt.as_bytes(),
        cache::COMPILER_FINGERPRINT.as_bytes(),
    ]);
    if let Some(path) = cache.get(&key, "o") {
        return Ok((key, path));
    }
    let start = Instant::now();
    let mut compiler_options = options.compiler_options();
    let progress = options
        .progress
        .then(|| crate::progress::CompileProgress::start(&module.path))
        .flatten();
    compiler_options.progress = progress.as_ref().map(|p| p.callback());
    let object = hako_compiler::compile(&module.wasm, &compiler_options)
        .and_then(hako_compiler::Compiled::into_object);
    drop(progress);
    let object = object.with_context(|| format!("cannot compile {}", module.path))?;
    report.compile_time = Some(start.elapsed());
    let path = cache.put(&key, "o", &object)?;
    Ok((key, path))
}

/// Compile `module` and link it with the kernel into a bootable ELF image (from the cache when
/// possible). Returns the image's path inside the cache.
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
    link_cached(&[manifest, (object_key, object)], cache, report)
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

/// Link `objects` (cache entries, by key and path) with the kernel into an image, itself
/// cached under a key made of the objects' keys and the kernel's.
pub fn link_cached(
    objects: &[(String, PathBuf)],
    cache: &Cache,
    report: &mut BuildReport,
) -> Result<PathBuf> {
    let kernel_key = cache::key(&[KERNEL_LIB, LINKER_SCRIPT.as_bytes()]);
    let mut parts: Vec<&[u8]> = objects.iter().map(|(key, _)| key.as_bytes()).collect();
    parts.push(kernel_key.as_bytes());
    let image_key = cache::key(&parts);
    if let Some(path) = cache.get(&image_key, "elf") {
        return Ok(path);
    }
    let start = Instant::now();
    let kernel = cache
        .get(&kernel_key, "a")
        .map_or_else(|| cache.put(&kernel_key, "a", KERNEL_LIB), Ok)?;
    let script = cache.get(&kernel_key, "ld").map_or_else(
        || cache.put(&kernel_key, "ld", LINKER_SCRIPT.as_bytes()),
        Ok,
    )?;
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

/// Copy a cached artifact to where the user asked for it.
pub fn copy_out(from: &Path, to: &Path) -> Result<()> {
    std::fs::copy(from, to).with_context(|| format!("cannot write {}", to.display()))?;
    Ok(())
}
