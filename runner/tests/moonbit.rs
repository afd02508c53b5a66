//! A real garbage-collected language on Wasm GC: MoonBit programs, compiled to Wasm GC + WASI
//! preview1 by MoonBit's own compiler (fetched from npm by `scripts/build-moonbit-wasmgc.sh`,
//! versions and hashes pinned there), run by `hako run` on both targets and by Wasmtime 46
//! with GC in process; stdout and exit status must be the same.
//!
//! - `fixtures/moonbit/gc_demo`: binary trees (about 650,000 allocations), a hash map,
//!   closures over arrays, trait objects, Unicode strings;
//! - MoonBit's own `list` package test suite (106 tests run, 6 that expect a trap skipped),
//!   through a driver printing one line per test.

mod common;
use common::*;
use std::path::PathBuf;
use std::sync::Mutex;

/// Builds share the compiler's work folder: one at a time.
static BUILD: Mutex<()> = Mutex::new(());

/// `scripts/build-moonbit-wasmgc.sh ARGS OUT`, with its downloads and the compiled core
/// library kept under the build tree.
fn build(args: &[&str], name: &str) -> PathBuf {
    let _one = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    let out = tmp().join(format!("moonbit-{name}.wasm"));
    let output = std::process::Command::new("bash")
        .arg(root().join("scripts/build-moonbit-wasmgc.sh"))
        .args(args)
        .arg(&out)
        .env("MOONBIT_WORK", tmp().join("moonbit-work"))
        .output()
        .expect("cannot run bash");
    assert!(
        output.status.success(),
        "building {name} with MoonBit's compiler (needs node and npm, which scripts/setup.sh installs, and the npm registry) failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    out
}

/// The program's run in Wasmtime, then with `hako run` on each target: the same.
fn matches_wasmtime(wasm: &PathBuf) {
    let bytes = std::fs::read(wasm).unwrap();
    let module = hako_runner::bench::wasmtime::compile(&bytes).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let oracle = hako_runner::bench::wasmtime::run(&module, &["p".to_string()], dir.path());
    let expected_status = *oracle.status.as_ref().expect("Wasmtime ran it") as i32;
    let expected = String::from_utf8(oracle.stdout).unwrap();
    assert!(expected.lines().count() > 5, "{expected}");
    for target in ["linux", "unikernel"] {
        let r = run(&["--target", target, &wasm.display().to_string()]);
        assert_eq!(
            (r.status, r.stdout.as_str()),
            (expected_status, expected.as_str()),
            "{target}: {}",
            r.stderr
        );
    }
}

#[test]
fn a_moonbit_program_runs_as_in_wasmtime() {
    let src = root().join("fixtures/moonbit/gc_demo");
    let wasm = build(&[&src.display().to_string()], "gc_demo");
    matches_wasmtime(&wasm);
}

#[test]
fn moonbits_list_test_suite_runs_as_in_wasmtime() {
    let wasm = build(&["--core-test", "list"], "core-list");
    matches_wasmtime(&wasm);
}
