//! Extreme but valid modules: 10,000 nested blocks, 50,000 locals, a `br_table` with
//! 1,000,000 targets, 100,000 functions, a 50 MB data segment. Each compiles at `-O0`, links,
//! boots and exits as it should; `--nocapture` shows how long `hako run` took. The test holds
//! no timing assertion.

mod common;
use common::*;

fn run_module(name: &str, text: &str) {
    let dir = tmp().join("extremes");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.wasm"));
    std::fs::write(&path, wat::parse_str(text).unwrap()).unwrap();
    let start = std::time::Instant::now();
    let r = ran(hako()
        .env("HAKO_CACHE_DIR", dir.join("cache"))
        .args(["run", "-O0"])
        .arg(&path)
        .output()
        .unwrap());
    eprintln!(
        "{name}: {} bytes of Wasm, hako run -O0 in {:.1} s",
        std::fs::metadata(&path).unwrap().len(),
        start.elapsed().as_secs_f64()
    );
    assert_eq!(r.status, 7, "{name}: {}", r.stderr);
}

/// `_start` ends with `proc_exit(7)`, after `body`.
fn module(extra: &str, body: &str) -> String {
    format!(
        r#"(module
             (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
             {extra}
             (func (export "_start") {body} (call $exit (i32.const 7))))"#
    )
}

#[test]
fn ten_thousand_nested_blocks() {
    let body = format!("{}(nop){}", "(block ".repeat(10_000), ")".repeat(10_000));
    run_module("nested", &module("", &body));
}

#[test]
fn fifty_thousand_locals() {
    let locals = " i64".repeat(50_000);
    let body = format!("(local {locals}) (local.set 49999 (i64.const 1))");
    // Locals must come first in a function body: wrap them in a function of their own.
    let text = module(&format!("(func $many {body})"), "(call $many)");
    run_module("locals", &text);
}

#[test]
fn br_table_with_a_million_targets() {
    let targets = " 0".repeat(1_000_000);
    let body = format!("(block (br_table {targets} (i32.const 999999)))");
    run_module("br_table", &module("", &body));
}

#[test]
fn a_hundred_thousand_functions() {
    let funcs: String = (0..100_000)
        .map(|i| format!("(func $f{i} (nop))"))
        .collect();
    run_module("functions", &module(&funcs, "(call $f99999)"));
}

#[test]
fn a_fifty_megabyte_data_segment() {
    let data = "ab".repeat(25 << 20);
    let extra = format!(r#"(memory 801) (data (i32.const 0) "{data}")"#);
    // Check the last byte made it into memory: it is 'b' (0x62).
    let body =
        "(if (i32.ne (i32.load8_u (i32.const 52428799)) (i32.const 0x62)) (then unreachable))";
    run_module("data", &module(&extra, body));
}
