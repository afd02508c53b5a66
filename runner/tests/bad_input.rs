//! Bad input gets one clear line on stderr, exit status 1, and never starts QEMU.

mod common;
use common::*;

/// Run `hako run FILE` with QEMU pointed at a program that cannot exist, so that an attempt to
/// boot would show up in the error.
fn run_bad(file: &std::path::Path) -> Ran {
    ran(hako()
        .env("HAKO_QEMU", "/nonexistent/qemu")
        .arg("run")
        .arg(file)
        .output()
        .unwrap())
}

fn assert_one_line_error(r: &Ran, needle: &str) {
    assert_eq!(r.status, 1, "{}", r.stderr);
    assert_eq!(r.stdout, "");
    assert!(r.stderr.starts_with("error: "), "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(
        r.stderr.contains(needle),
        "expected `{needle}` in: {}",
        r.stderr
    );
    assert!(
        !r.stderr.contains("HAKO_QEMU") && !r.stderr.contains("panicked"),
        "{}",
        r.stderr
    );
}

fn write(name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let dir = tmp().join("bad-input");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn missing_file() {
    let r = run_bad(std::path::Path::new("/nonexistent/app.wasm"));
    assert_one_line_error(&r, "cannot read /nonexistent/app.wasm");
}

#[test]
fn not_wasm() {
    let r = run_bad(&write(
        "notes.wasm",
        b"these are not the bytes you are looking for\n",
    ));
    assert_one_line_error(&r, "invalid WebAssembly at offset 0x0");
}

#[test]
fn truncated_module() {
    let wasm = wat::parse_str("(module (func (export \"_start\") (nop)))").unwrap();
    let r = run_bad(&write("truncated.wasm", &wasm[..wasm.len() - 3]));
    assert_one_line_error(&r, "invalid WebAssembly at offset");
}

#[test]
fn invalid_module() {
    // Type mismatch: i32.add of an i64 (the text parser checks no types; the validator does).
    let wasm = wat::parse_str(
        "(module (func (export \"_start\") (drop (i32.add (i32.const 1) (i64.const 2)))))",
    )
    .unwrap();
    let r = run_bad(&write("invalid.wasm", &wasm));
    assert_one_line_error(&r, "type mismatch");
}

#[test]
fn bad_text_module() {
    let r = ran(hako()
        .env("HAKO_QEMU", "/nonexistent/qemu")
        .arg("run")
        .arg(write("bad.wat", b"(module (func (i32.bogus)))"))
        .output()
        .unwrap());
    assert_eq!(r.status, 1);
    assert!(
        r.stderr.starts_with("error: invalid WebAssembly text"),
        "{}",
        r.stderr
    );
}

#[test]
fn preopen_of_a_missing_directory() {
    let r = ran(hako()
        .env("HAKO_QEMU", "/nonexistent/qemu")
        .args(["run", "--dir", "/nonexistent/dir::/"])
        .arg(fixture("hello.c"))
        .output()
        .unwrap());
    assert_one_line_error(
        &r,
        "--dir /nonexistent/dir::/: /nonexistent/dir is not a directory",
    );
}
