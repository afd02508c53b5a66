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

/// Every Wasm 3.0 feature is compiled now, GC last: a GC module is checked, compiled and
/// linked like any other (`--check` boots nothing; `HAKO_QEMU` points nowhere).
#[test]
fn valid_wasm3_gc_is_compiled() {
    let wat = "(module (type $s (struct (field i32))) (func (export \"_start\") (drop (struct.new $s (i32.const 1)))))";
    let wasm = wat::parse_str(wat).unwrap();
    let r = ran(hako()
        .env("HAKO_QEMU", "/nonexistent/qemu")
        .arg("run")
        .arg("--check")
        .arg(write("gc.wasm", &wasm))
        .output()
        .unwrap());
    assert_eq!(r.status, 0, "{}", r.stderr);
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

/// Numeric flags are range-checked by their parsers: a usage error (status 2) naming the
/// flag and the range, never a panic.
#[test]
fn numeric_flags_out_of_range() {
    let hello = root().join("fixtures/spin.wat");
    for (flag, value, needle) in [
        ("--timeout", "1e20", "at most 31536000 seconds"),
        ("--timeout", "0", "more than 0"),
        ("--timeout", "NaN", "out of range"),
        ("--memory", "1", "32 to 4096 MiB"),
        ("--memory", "99999999999", "32 to 4096 MiB"),
        ("-j", "100000", "at most 1024 threads"),
    ] {
        let r = ran(hako()
            .env("HAKO_QEMU", "/nonexistent/qemu")
            .args(["run", flag, value])
            .arg(&hello)
            .output()
            .unwrap());
        assert_eq!(r.status, 2, "{flag} {value}: {}", r.stderr);
        assert!(r.stderr.contains(needle), "{flag} {value}: {}", r.stderr);
        assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    }
}

/// A module without `_start` (a WASI reactor) is refused before anything is compiled, with
/// the way to call it.
#[test]
fn reactor_without_invoke() {
    let r = run_bad(&root().join("fixtures/reactor.wat"));
    assert_one_line_error(&r, "has no `_start` export");
    assert!(r.stderr.contains("WASI reactor"), "{}", r.stderr);
    assert!(r.stderr.contains("--invoke NAME"), "{}", r.stderr);
    let r = ran(hako()
        .env("HAKO_QEMU", "/nonexistent/qemu")
        .args(["run", "--invoke", "sub"])
        .arg(root().join("fixtures/reactor.wat"))
        .output()
        .unwrap());
    assert_one_line_error(&r, "has no function export `sub`");
    let r = ran(hako()
        .env("HAKO_QEMU", "/nonexistent/qemu")
        .args(["run", "--invoke", "add"])
        .arg(root().join("fixtures/reactor.wat"))
        .args(["--", "1", "x"])
        .output()
        .unwrap());
    assert_one_line_error(&r, "argument 2: `x` is not an i64");
}

/// `--tap` and its companions are checked before anything boots.
#[test]
fn bad_tap_networks() {
    let spin = root().join("fixtures/spin.wat");
    for (args, needle) in [
        (&["--tap", "no spaces"][..], "not a network interface name"),
        (
            &["--tap", "hako0", "--mac", "52:54:00"],
            "six hexadecimal bytes",
        ),
        (
            &["--tap", "hako0", "--ip", "10.0.0.2,10.0.0.1,10.0.0.1"],
            "IPV4/PREFIX,GATEWAY,DNS",
        ),
        (
            &["--tap", "hako0", "--net", "-p", "8080:80"],
            "publishes nothing",
        ),
        (
            &["--tap", "hako0", "--target", "linux"],
            "--tap is for the unikernel",
        ),
    ] {
        let r = ran(hako()
            .env("HAKO_QEMU", "/nonexistent/qemu")
            .arg("run")
            .args(args)
            .arg(&spin)
            .output()
            .unwrap());
        assert_one_line_error(&r, needle);
    }
    // `--mac` and `--ip` mean nothing without `--tap`: a usage error.
    let r = ran(hako()
        .args(["run", "--mac", "52:54:00:00:00:01"])
        .arg(&spin)
        .output()
        .unwrap());
    assert_eq!(r.status, 2, "{}", r.stderr);
}

/// `--timeout none` is no limit; other words are errors.
#[test]
fn timeout_none() {
    let r = ran(hako()
        .args(["run", "--timeout", "never"])
        .arg(root().join("fixtures/spin.wat"))
        .output()
        .unwrap());
    assert_eq!(r.status, 2, "{}", r.stderr);
    assert!(r.stderr.contains("not a number of seconds"), "{}", r.stderr);
}
