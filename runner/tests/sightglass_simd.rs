//! The SIMD Sightglass benchmarks run in the unikernel with exactly their expected output
//! (issue 5): each runs with its own folder preopened as the current directory, as
//! Sightglass runs them, and calls `bench.start`/`bench.end`, which the kernel provides.
//!
//! The programs are read in place from `../shared/benchmarks/sightglass/benchmarks`
//! (`HAKO_BENCHMARKS` overrides the `benchmarks` directory).

mod common;
use common::*;
use std::path::PathBuf;

fn benchmark_dir(name: &str) -> PathBuf {
    let root = std::env::var_os("HAKO_BENCHMARKS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("../shared/benchmarks/sightglass/benchmarks"));
    let dir = root.join(name);
    assert!(
        dir.join("benchmark.wasm").is_file(),
        "no benchmark at {} (set HAKO_BENCHMARKS)",
        dir.display()
    );
    dir
}

fn check(name: &str) {
    let dir = benchmark_dir(name);
    let r = ran(hako()
        .current_dir(&dir)
        .args(["run", "--verbose", "--dir", ".::.", "benchmark.wasm"])
        .output()
        .unwrap());
    assert_eq!(r.status, 0, "{name}: {}", r.stderr);
    let expected = |stream: &str| {
        std::fs::read_to_string(dir.join(format!("benchmark.{stream}.expected"))).unwrap()
    };
    assert_eq!(r.stdout, expected("stdout"), "{name}: stdout");
    let stderr: String = r
        .stderr
        .lines()
        .filter(|l| !l.starts_with("hako: "))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(stderr, expected("stderr"), "{name}: stderr");
    assert!(
        r.stderr.contains("hako: bench.start to bench.end"),
        "{name}: no bench records: {}",
        r.stderr
    );
}

#[test]
fn blake3_simd() {
    check("blake3-simd");
}

#[test]
fn intgemm_simd() {
    check("intgemm-simd");
}
