//! Shared helpers of the end-to-end tests: building fixtures and running `hako`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

pub mod containerd;
pub mod net;

/// Compile in this test process, as `hako-llvm` does (the library links no compiler).
pub fn install_compiler() {
    hako_runner::backend::install(hako_compiler::compile_object);
}

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

pub fn tmp() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
}

/// The path of fixture `name`: `.wat` files are used as they are, `.c` files are compiled
/// with clang-19 for wasm32-wasi (once per test binary, and again when the source changes).
pub fn fixture(name: &str) -> PathBuf {
    let src = root().join("fixtures").join(name);
    assert!(src.exists(), "no fixture {}", src.display());
    if src.extension().is_some_and(|e| e == "wat") {
        return src;
    }
    compile_c(name, "", &["--target=wasm32-wasi", "-O2"])
}

/// C fixture `name` compiled freestanding (`-nostdlib`, no wasi-libc) for `target`
/// (`wasm32` or `wasm64`), into `<name>-<target>.wasm`.
pub fn fixture_freestanding(name: &str, target: &str) -> PathBuf {
    compile_c(
        name,
        &format!("-{target}"),
        &[&format!("--target={target}"), "-O2", "-nostdlib"],
    )
}

/// `fixtures/<name>` compiled with clang-19 and `args` into the test's fixture directory as
/// `<stem><suffix>.wasm`, unless it is there and newer than the source.
fn compile_c(name: &str, suffix: &str, args: &[&str]) -> PathBuf {
    static LOCK: Mutex<()> = Mutex::new(());
    let src = root().join("fixtures").join(name);
    assert!(src.exists(), "no fixture {}", src.display());
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tmp().join("fixtures");
    std::fs::create_dir_all(&dir).unwrap();
    let stem = Path::new(name).file_stem().unwrap().to_string_lossy();
    let out = dir.join(format!("{stem}{suffix}.wasm"));
    let stale = match (out.metadata(), src.metadata()) {
        (Ok(o), Ok(s)) => o.modified().unwrap() < s.modified().unwrap(),
        _ => true,
    };
    if stale {
        let clang = std::env::var("CLANG").unwrap_or_else(|_| "clang-19".into());
        let status = Command::new(&clang)
            .args(args)
            .arg(&src)
            .arg("-o")
            .arg(&out)
            .status()
            .unwrap_or_else(|e| panic!("cannot run {clang} (run `make setup`): {e}"));
        assert!(status.success(), "{clang} failed on {}", src.display());
    }
    out
}

/// A `hako` command with a cache private to the tests.
pub fn hako() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hako"));
    cmd.env("HAKO_CACHE_DIR", tmp().join("cache"));
    cmd.env_remove("HAKO_ACCEL");
    cmd
}

pub struct Ran {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn ran(output: Output) -> Ran {
    Ran {
        status: output.status.code().expect("hako was killed by a signal"),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// `hako run` with these extra arguments.
pub fn run(args: &[&str]) -> Ran {
    ran(hako()
        .arg("run")
        .args(args)
        .output()
        .expect("cannot run hako"))
}

/// A `.wat` program large enough to be compiled in parallel parts: `n` functions of about
/// 600 bytes each, function `i` calling `i - 1` (every part calls into the one before), all in
/// a table. `_start` calls the last one through the table and exits 0 when the result is the
/// one the chain must compute, else 1.
pub fn large_program(n: usize) -> PathBuf {
    let mut s = String::from(
        "(module (import \"wasi_snapshot_preview1\" \"proc_exit\" (func (param i32)))\n\
         (memory (export \"memory\") 1) (type $t (func (param i32) (result i32)))\n\
         (table funcref (elem",
    );
    for i in 0..n {
        s += &format!(" {}", i + 1);
    }
    s += "))\n";
    let mut expected: i32 = 12345;
    for i in 0..n {
        s += "(func (type $t) local.get 0\n";
        for k in 0..150 {
            let c = ((i * 7 + k) % 1000) as i32;
            expected ^= c;
            s += &format!("i32.const {c} i32.xor\n");
        }
        if i > 0 {
            s += &format!("call {i}\n");
        }
        s += ")\n";
    }
    s += &format!(
        "(func (export \"_start\") (call 0 (i32.ne (i32.const {expected}) \
         (call_indirect (type $t) (i32.const 12345) (i32.const {})))))\n)",
        n - 1
    );
    let path = tmp().join(format!("large{n}.wat"));
    std::fs::write(&path, s).unwrap();
    path
}

/// The output of `fixtures/kernel64.c` (the first three lines are what the same file
/// prints built natively, `clang-19 -O2 -DNATIVE`).
pub const KERNEL64_OUTPUT: &str = "sieve 0000000065e6702d\nmatmul 3f7a31da0c044a00\nhash 6284f17b06e2dd13\ngrown 000000000000015a\n";
