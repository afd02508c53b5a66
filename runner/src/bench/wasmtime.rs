//! The Wasmtime side of `hako bench`: Wasmtime 46 in-process with its defaults (Cranelift,
//! no epoch interruption), `wasi-common`, the program's folder preopened as `.`, and
//! `bench.start`/`bench.end` defined with [`Linker::func_wrap`] taking [`Instant::now`].
//!
//! Inside, errors are [`wasmtime::Error`] (Wasmtime's `anyhow`-compatible type, with the same
//! `context`), so that an `I32Exit` in a failure's chain can be found; what leaves this file
//! is an [`anyhow::Error`] like everywhere else in the runner.

use crate::wasi::oracle::read_back;
use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use wasi_common::sync::{ambient_authority, Dir, WasiCtxBuilder};
use wasi_common::{I32Exit, WasiCtx};
use wasmtime::error::Context;
use wasmtime::{Caller, Engine, Linker, Module, Result, Store};

/// The shared engine: Cranelift with Wasmtime's default settings, plus exception handling
/// and GC (off by default in Wasmtime 46; they change nothing for modules without them),
/// so that programs that throw or allocate GC objects are measured too.
pub fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let mut config = wasmtime::Config::new();
        config.wasm_exceptions(true);
        // GC too (Wasmtime's default collector), for the GC programs (`splay`).
        config.wasm_gc(true);
        config.wasm_function_references(true);
        Engine::new(&config).unwrap_or_default()
    })
}

/// One Wasmtime run of a benchmark.
#[derive(Debug)]
pub struct WasmtimeRun {
    /// `Ok(exit status)`, or why the run failed (a trap, a set-up failure).
    pub status: anyhow::Result<u32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// `bench.end` − `bench.start`, when both were called.
    pub measured: Option<Duration>,
}

struct Host {
    wasi: WasiCtx,
    start: Option<Instant>,
    end: Option<Instant>,
}

/// Compile `wasm` once with the shared engine.
pub fn compile(wasm: &[u8]) -> anyhow::Result<Module> {
    Module::new(engine(), wasm)
        .context("Wasmtime cannot compile the module")
        .map_err(into_anyhow)
}

/// The same error as an [`anyhow::Error`], its chain kept.
fn into_anyhow(e: wasmtime::Error) -> anyhow::Error {
    anyhow::Error::from_boxed(e.into_boxed_dyn_error())
}

/// Run `module` with `argv`, `dir` preopened as `.`.
pub fn run(module: &Module, argv: &[String], dir: &Path) -> WasmtimeRun {
    let files = (|| Ok::<_, std::io::Error>((tempfile::tempfile()?, tempfile::tempfile()?)))();
    let (mut stdout, mut stderr) = match files.context("cannot create temporary files") {
        Ok(files) => files,
        Err(e) => {
            return WasmtimeRun {
                status: Err(into_anyhow(e)),
                stdout: Vec::new(),
                stderr: Vec::new(),
                measured: None,
            }
        }
    };
    let (status, measured) = match execute(module, argv, dir, &stdout, &stderr) {
        Ok(r) => r,
        Err(e) => (Err(e), None),
    };
    WasmtimeRun {
        status: status.map_err(into_anyhow),
        stdout: read_back(&mut stdout),
        stderr: read_back(&mut stderr),
        measured,
    }
}

/// The exit status or the failure of `_start`, and the time between `bench.start` and
/// `bench.end`.
type Outcome = (Result<u32>, Option<Duration>);

fn execute(
    module: &Module,
    argv: &[String],
    dir: &Path,
    stdout: &std::fs::File,
    stderr: &std::fs::File,
) -> Result<Outcome> {
    let file = |f: std::io::Result<std::fs::File>| -> Result<Box<dyn wasi_common::WasiFile>> {
        let f = f.context("cannot set up stdio")?;
        Ok(Box::new(wasi_common::sync::file::File::from_cap_std(
            cap_std::fs::File::from_std(f),
        )))
    };
    let engine = engine();
    let mut builder = WasiCtxBuilder::new();
    builder.args(argv).context("bad argument")?;
    builder
        .stdin(file(std::fs::File::open("/dev/null"))?)
        .stdout(file(stdout.try_clone())?)
        .stderr(file(stderr.try_clone())?);
    let preopen = Dir::open_ambient_dir(dir, ambient_authority())
        .with_context(|| format!("cannot open {}", dir.display()))?;
    builder
        .preopened_dir(preopen, ".")
        .with_context(|| format!("cannot preopen {}", dir.display()))?;
    let host = Host {
        wasi: builder.build(),
        start: None,
        end: None,
    };
    let mut store = Store::new(engine, host);
    let mut linker: Linker<Host> = Linker::new(engine);
    wasi_common::sync::add_to_linker(&mut linker, |h: &mut Host| &mut h.wasi)
        .context("cannot define WASI")?;
    linker
        .func_wrap("bench", "start", |mut caller: Caller<'_, Host>| {
            caller.data_mut().start = Some(Instant::now());
        })
        .and_then(|l| {
            l.func_wrap("bench", "end", |mut caller: Caller<'_, Host>| {
                caller.data_mut().end = Some(Instant::now());
            })
        })
        .context("cannot define bench.start/bench.end")?;
    let result = linker
        .instantiate(&mut store, module)
        .and_then(|instance| instance.get_typed_func::<(), ()>(&mut store, "_start"))
        .and_then(|start| start.call(&mut store, ()));
    let status = match result {
        Ok(()) => Ok(0),
        Err(e) => match e.chain().find_map(|c| c.downcast_ref::<I32Exit>()) {
            Some(exit) => Ok(exit.0 as u32),
            None => Err(e),
        },
    };
    let host = store.data();
    let measured = match (host.start, host.end) {
        (Some(start), Some(end)) => Some(end.saturating_duration_since(start)),
        _ => None,
    };
    Ok((status, measured))
}
