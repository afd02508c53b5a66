//! Manual driver: `cargo run -p hako-compiler --example hakoc -- in.wasm out.o [-O0..3]
//! [--ir out.ll] [-j N] [--part-bytes N] [--huge-bytes N] [--prebuild] [--timings]`. With `-j` other than 1 the parts are
//! merged into one object; `--timings` prints where the time went, per phase and per part.
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(input), Some(output)) = (args.first(), args.get(1)) else {
        eprintln!("usage: hakoc in.wasm out.o [-O<n>] [--ir out.ll]");
        std::process::exit(2);
    };
    // One object out: no parallel parts (`hako compile` merges them).
    let mut options = hako_compiler::Options {
        threads: 1,
        ..hako_compiler::Options::default()
    };
    let mut ir_path = None;
    let mut timings = false;
    let mut rest = args[2..].iter();
    while let Some(a) = rest.next() {
        if let Some(level) = a.strip_prefix("-O") {
            options.opt_level = level.parse().unwrap_or_else(|e| panic!("{e}"));
        } else if a == "-j" {
            options.threads = rest.next().and_then(|n| n.parse().ok()).expect("-j N");
        } else if a == "--part-bytes" {
            options.part_bytes = rest
                .next()
                .and_then(|n| n.parse().ok())
                .expect("--part-bytes N");
        } else if a == "--huge-bytes" {
            options.huge_bytes = rest
                .next()
                .and_then(|n| n.parse().ok())
                .expect("--huge-bytes N");
        } else if a == "--prebuild" {
            options.prebuild = true;
        } else if a == "--timings" {
            timings = true;
        } else if a == "--ir" {
            options.emit_ir = true;
            ir_path = rest.next().cloned();
        }
    }
    let wasm = std::fs::read(input).expect("read input");
    let start = Instant::now();
    match hako_compiler::compile(&wasm, &options) {
        Ok(c) => {
            let compiled = start.elapsed();
            if timings {
                print_timings(&c.timings);
            }
            if let (Some(p), Some(ir)) = (ir_path, c.llvm_ir.clone()) {
                std::fs::write(p, ir).expect("write IR");
            }
            let merge = Instant::now();
            let object = c.into_object().expect("merge the parts");
            let merged = merge.elapsed();
            let cpu = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
            eprintln!(
                "compiled {} bytes of Wasm in {:.3} s (merge {:.3} s), object {} bytes, process CPU {:.3} s",
                wasm.len(),
                compiled.as_secs_f64(),
                merged.as_secs_f64(),
                object.len(),
                cpu.tv_sec as f64 + cpu.tv_nsec as f64 * 1e-9
            );
            std::fs::write(output, &object).expect("write object");
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}

fn print_timings(t: &hako_compiler::Timings) {
    let s = |d: std::time::Duration| d.as_secs_f64();
    eprintln!(
        "validate {:.3} s, parse {:.3} s, {} part(s) on {} thread(s) in {:.3} s",
        s(t.validate),
        s(t.parse),
        t.parts.len(),
        t.threads,
        s(t.parts_wall)
    );
    let sum = |f: fn(&hako_compiler::PartTimings) -> std::time::Duration| {
        t.parts.iter().map(|p| s(f(p))).sum::<f64>()
    };
    eprintln!(
        "CPU summed over parts: declare {:.3} s, translate {:.3} s, passes {:.3} s, codegen {:.3} s",
        sum(|p| p.declare),
        sum(|p| p.translate),
        sum(|p| p.passes),
        sum(|p| p.codegen)
    );
    let mut busy = vec![0.0; t.threads];
    for p in &t.parts {
        busy[p.thread] += s(p.wall);
    }
    eprintln!("busy per thread (wall): {busy:.3?}");
    if std::env::var_os("HAKOC_PARTS").is_some() {
        eprintln!("part  first+count     bytes quick thread  start   wall  declare translate  passes codegen (CPU s)");
        for (i, p) in t.parts.iter().enumerate() {
            eprintln!(
                "{i:>4} {:>6}+{:<6} {:>9} {:>5} {:>6} {:>6.2} {:>6.2} {:>8.3} {:>8.3} {:>8.3} {:>7.3}",
                p.first_function,
                p.functions,
                p.code_bytes,
                p.quick,
                p.thread,
                s(p.started),
                s(p.wall),
                s(p.declare),
                s(p.translate),
                s(p.passes),
                s(p.codegen)
            );
        }
    }
}
