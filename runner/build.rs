//! Builds the kernel and embeds it in `hako`.
//!
//! The kernel is a `no_std` staticlib for `x86_64-unknown-none`; a workspace dependency cannot
//! be built for another target, so this script runs a nested `cargo build` of `hako-kernel`
//! with its own target directory (`target/kernel`, so the outer build's lock is not needed),
//! copies `libhako_kernel.a` into `OUT_DIR` and hands its path to the crate as
//! `HAKO_KERNEL_LIB`, with the kernel's cache key (`HAKO_KERNEL_KEY`). It also fingerprints
//! the sources that decide what the compiler emits (`HAKO_COMPILER_FINGERPRINT`), which keys
//! the object cache. It also builds the Linux runtime (`hako-linux` for
//! `x86_64-unknown-linux-musl`) and copies it, with musl's start files and libraries from
//! the toolchain, into `HAKO_LINUX_RT_DIR`, with their cache key (`HAKO_LINUX_RT_KEY`).
//! Two link choices shorten every start of `hako` and `hako-llvm`: libstdc++ linked
//! statically when it can be (see `link_libstdcxx_statically`), and no PIE.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const KERNEL_TARGET: &str = "x86_64-unknown-none";
/// The Linux runtime's target: static executables with musl's C library, which the Rust
/// toolchain ships ("self-contained").
const LINUX_TARGET: &str = "x86_64-unknown-linux-musl";
/// Everything an executable links besides the program's objects, in `image.rs`'s order.
const LINUX_LINK_ORDER: [&str; 8] = [
    "crt1.o",
    "crti.o",
    "crtbegin.o",
    "libhako_linux.a",
    "libunwind.a",
    "libc.a",
    "crtend.o",
    "crtn.o",
];
/// What an executable links from the toolchain's musl, besides the runtime.
const MUSL_FILES: [&str; 7] = [
    "crt1.o",
    "crti.o",
    "crtbegin.o",
    "crtend.o",
    "crtn.o",
    "libc.a",
    "libunwind.a",
];

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir.parent().unwrap().to_path_buf();
    let out_dir = PathBuf::from(env::var("OUT_DIR").unwrap());

    for dir in ["kernel", "abi", "compiler", "compiler-api", "linux"] {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
    }
    println!(
        "cargo:rerun-if-changed={}",
        root.join("Cargo.lock").display()
    );
    println!(
        "cargo:rerun-if-changed={}",
        root.join("Cargo.toml").display()
    );

    let mut hasher = blake3::Hasher::new();
    for dir in ["abi", "compiler", "compiler-api"] {
        hash_tree(&root.join(dir), &mut hasher);
    }
    // The compiler's own version, for builds from a published crate without sources.
    hasher.update(env::var("CARGO_PKG_VERSION").unwrap_or_default().as_bytes());
    hash_file(&root.join("Cargo.lock"), &mut hasher);
    println!(
        "cargo:rustc-env=HAKO_COMPILER_FINGERPRINT={}",
        &hasher.finalize().to_hex()[..16]
    );

    let linux = out_dir.join("linux-rt");
    fs::create_dir_all(&linux).unwrap();
    let runtime = build_linux_runtime(&root);
    fs::copy(&runtime, linux.join("libhako_linux.a"))
        .unwrap_or_else(|e| panic!("copying {}: {e}", runtime.display()));
    let musl = musl_dir();
    for file in MUSL_FILES {
        fs::copy(musl.join(file), linux.join(file)).unwrap_or_else(|e| {
            panic!(
                "copying {} from the Rust toolchain: {e}. Is the target installed? Run `rustup target add {LINUX_TARGET}` (the Makefile's setup step does this).",
                musl.join(file).display()
            )
        });
    }
    println!("cargo:rustc-env=HAKO_LINUX_RT_DIR={}", linux.display());
    // The platform's part of every executable's cache key, hashed here once rather than at
    // every `hako run --target linux` (about 10 MB): `cache::key` over the files in link
    // order (before the objects, then after), which a unit test checks.
    let mut hasher = blake3::Hasher::new();
    for file in LINUX_LINK_ORDER {
        let bytes = fs::read(linux.join(file)).unwrap();
        hasher.update(&(bytes.len() as u64).to_le_bytes());
        hasher.update(&bytes);
    }
    println!(
        "cargo:rustc-env=HAKO_LINUX_RT_KEY={}",
        &hasher.finalize().to_hex()[..32]
    );
    link_libstdcxx_statically(&out_dir);
    // `hako` and `hako-llvm` are position-dependent executables: as a PIE, the dynamic
    // loader applied about 140,000 relative relocations (LLVM's and Wasmtime's tables of
    // pointers) at every start of the one `hako` there was, and the pages they wrote were
    // copied again when it forked QEMU: about 2 ms of each `hako run`
    // (docs/perf/2026-12-07-startup.md). The price: the executable's own code and
    // data are not randomised (its libraries, heap and stacks are).
    println!("cargo:rustc-link-arg-bin=hako=-no-pie");
    println!("cargo:rustc-link-arg-bin=hako-llvm=-no-pie");

    let lib = build_kernel(&root);
    let embedded = out_dir.join("libhako_kernel.a");
    fs::copy(&lib, &embedded).unwrap_or_else(|e| panic!("copying {}: {e}", lib.display()));
    println!("cargo:rustc-env=HAKO_KERNEL_LIB={}", embedded.display());
    let script = root.join("kernel/link.ld");
    println!(
        "cargo:rustc-env=HAKO_KERNEL_LINKER_SCRIPT={}",
        script.display()
    );
    // The kernel's cache key, hashed here once rather than at every `hako run` (13 MB, about
    // 2.5 ms): `hako_runner::cache::key(&[library, script])`, which a unit test checks.
    let mut hasher = blake3::Hasher::new();
    for path in [&embedded, &script] {
        let bytes = fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        hasher.update(&(bytes.len() as u64).to_le_bytes());
        hasher.update(&bytes);
    }
    println!(
        "cargo:rustc-env=HAKO_KERNEL_KEY={}",
        &hasher.finalize().to_hex()[..32]
    );
}

/// The directory of the toolchain's musl C runtime for [`LINUX_TARGET`].
fn musl_dir() -> PathBuf {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = Command::new(rustc)
        .args(["--print", "sysroot"])
        .output()
        .expect("running rustc --print sysroot");
    let sysroot = String::from_utf8(out.stdout).expect("a UTF-8 sysroot path");
    PathBuf::from(sysroot.trim())
        .join("lib/rustlib")
        .join(LINUX_TARGET)
        .join("lib/self-contained")
}

/// Build the Linux runtime staticlib (`hako-linux` with its C `main`).
fn build_linux_runtime(root: &Path) -> PathBuf {
    let target_dir = root.join("target").join("linux-rt");
    let mut cmd = nested_cargo(root, &target_dir);
    cmd.args([
        "build",
        "-p",
        "hako-linux",
        "--features",
        "executable",
        "--target",
        LINUX_TARGET,
        "--profile",
        "linux-rt",
    ]);
    let status = cmd
        .status()
        .expect("running cargo to build the Linux runtime");
    if !status.success() {
        panic!(
            "building the Linux runtime failed (`cargo build -p hako-linux --features executable --target {LINUX_TARGET} --profile linux-rt`). \
             Is the target installed? Run `rustup target add {LINUX_TARGET}` (the Makefile's setup step does this)."
        );
    }
    target_dir
        .join(LINUX_TARGET)
        .join("linux-rt")
        .join("libhako_linux.a")
}

/// Links LLVM's C++ runtime, libstdc++, into `hako-llvm` statically when the C compiler has
/// the archive (`hako` has no C++): resolving the shared library's symbols and relocating it
/// cost every start about 1.3 ms of CPU time (measured with `perf stat` on `hako --version`, 2026-12-07).
/// llvm-sys links `-lstdc++`; a directory searched before the compiler's own, holding only
/// the archive, makes that the archive. Without one the shared library stays.
fn link_libstdcxx_statically(out_dir: &Path) {
    println!("cargo:rerun-if-env-changed=CC");
    let cc = env::var("CC").unwrap_or_else(|_| "cc".into());
    let Ok(output) = Command::new(&cc)
        .arg("-print-file-name=libstdc++.a")
        .output()
    else {
        return;
    };
    // The compiler prints the bare name when it has no such file.
    let archive = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    if !output.status.success() || !archive.is_absolute() || !archive.is_file() {
        return;
    }
    let dir = out_dir.join("static-libstdc++");
    fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
    let link = dir.join("libstdc++.a");
    let _ = fs::remove_file(&link);
    std::os::unix::fs::symlink(&archive, &link)
        .unwrap_or_else(|e| panic!("linking {}: {e}", link.display()));
    println!("cargo:rustc-link-search=native={}", dir.display());
}

/// A `cargo` command for a nested build in `target_dir`, with none of the outer build's
/// settings (they are for the host).
fn nested_cargo(root: &Path, target_dir: &Path) -> Command {
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root).arg("--quiet");
    cmd.env("CARGO_TARGET_DIR", target_dir);
    for (key, _) in env::vars() {
        if key.starts_with("CARGO_") && key != "CARGO_HOME" && key != "CARGO_TARGET_DIR"
            || key.starts_with("RUSTC")
            || key.starts_with("RUSTFLAGS")
            || key == "RUSTDOC"
            || key.contains("MAKEFLAGS")
            || key == "DEBUG"
            || key == "OPT_LEVEL"
            || key == "PROFILE"
            || key == "TARGET"
            || key == "HOST"
            || key == "OUT_DIR"
        {
            cmd.env_remove(&key);
        }
    }
    cmd
}

fn build_kernel(root: &Path) -> PathBuf {
    let target_dir = root.join("target").join("kernel");
    let mut cmd = nested_cargo(root, &target_dir);
    cmd.args([
        "build",
        "-p",
        "hako-kernel",
        "--target",
        KERNEL_TARGET,
        "--profile",
        "kernel",
    ]);
    // The `unwinding` crate starts a Wasm exception's unwind in its own frames, which need
    // unwind tables like compiled code's (the target has none by default).
    cmd.env("RUSTFLAGS", "-Cforce-unwind-tables=yes");
    let status = cmd.status().expect("running cargo to build the kernel");
    if !status.success() {
        panic!(
            "building the kernel failed (`cargo build -p hako-kernel --target {KERNEL_TARGET} --profile kernel`). \
             Is the target installed? Run `rustup target add {KERNEL_TARGET}` (the Makefile's setup step does this)."
        );
    }
    target_dir
        .join(KERNEL_TARGET)
        .join("kernel")
        .join("libhako_kernel.a")
}

fn hash_tree(dir: &Path, hasher: &mut blake3::Hasher) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            hash_tree(&path, hasher);
        } else {
            // Names relative to the tree, so every checkout of the same sources agrees.
            hasher.update(path.file_name().unwrap_or_default().as_encoded_bytes());
            hash_file(&path, hasher);
        }
    }
}

fn hash_file(path: &Path, hasher: &mut blake3::Hasher) {
    if let Ok(bytes) = fs::read(path) {
        hasher.update(&bytes);
    }
}
