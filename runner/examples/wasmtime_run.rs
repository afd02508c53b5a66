//! Runs a WASI program in Wasmtime 46 (hako's oracle engine: exceptions and GC enabled) and
//! prints its stdout and the run time (after compiling): for measurements beside hako's,
//! e.g. `cargo run --release -p hako-runner --example wasmtime_run -- fixtures/gc_stress.wat 1000`
//! under `/usr/bin/time -v` for the peak memory.

use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(file) = args.first() else {
        anyhow::bail!("usage: wasmtime_run FILE.wasm|.wat [ARGS...]");
    };
    let wasm = wat::parse_file(file)?;
    let module = hako_runner::bench::wasmtime::compile(&wasm)?;
    let dir = tempfile::tempdir()?;
    let mut argv = vec!["p".to_string()];
    argv.extend(args[1..].iter().cloned());
    let start = Instant::now();
    let r = hako_runner::bench::wasmtime::run(&module, &argv, dir.path());
    let took = start.elapsed();
    print!("{}", String::from_utf8_lossy(&r.stdout));
    eprintln!(
        "status {:?}, run {:.3} s",
        r.status.ok(),
        took.as_secs_f64()
    );
    Ok(())
}
