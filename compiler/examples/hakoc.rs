//! Manual driver: `cargo run -p hako-compiler --example hakoc -- in.wasm out.o [-O0..3] [--ir out.ll]`.
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
    let mut rest = args[2..].iter();
    while let Some(a) = rest.next() {
        if let Some(level) = a.strip_prefix("-O") {
            options.opt_level = level.parse().unwrap_or_else(|e| panic!("{e}"));
        } else if a == "--ir" {
            options.emit_ir = true;
            ir_path = rest.next().cloned();
        }
    }
    let wasm = std::fs::read(input).expect("read input");
    let start = Instant::now();
    match hako_compiler::compile(&wasm, &options) {
        Ok(c) => {
            eprintln!(
                "compiled {} bytes of Wasm in {:?}",
                wasm.len(),
                start.elapsed()
            );
            std::fs::write(output, &c.objects[0]).expect("write object");
            if let (Some(p), Some(ir)) = (ir_path, c.llvm_ir) {
                std::fs::write(p, ir).expect("write IR");
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
