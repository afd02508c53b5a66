//! The Wasmtime side of `hako bench`: Wasmtime 46 in-process with its defaults (Cranelift,
//! no epoch interruption), `wasi-common`, the program's folder preopened as `.`, and
//! `bench.start`/`bench.end` defined with [`Linker::func_wrap`] taking [`Instant::now`].

use crate::wasi::oracle::read_back;
use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use wasi_common::sync::{ambient_authority, Dir, WasiCtxBuilder};
use wasi_common::{I32Exit, WasiCtx};
use wasmtime::{Caller, Engine, Linker, Module, Store};

/// The shared engine: `Engine::default()`, Cranelift with Wasmtime's default settings.
pub fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(Engine::default)
}

/// One Wasmtime run of a benchmark.
#[derive(Debug, Clone)]
pub struct WasmtimeRun {
    /// `Ok(exit status)`, or why the run failed (a trap, a compile error).
    pub status: Result<u32, String>,
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
pub fn compile(wasm: &[u8]) -> Result<Module, String> {
    Module::new(engine(), wasm).map_err(|e| format!("Wasmtime cannot compile the module: {e}"))
}

/// Run `module` with `argv`, `dir` preopened as `.`.
pub fn run(module: &Module, argv: &[String], dir: &Path) -> WasmtimeRun {
    let files = (|| Ok::<_, std::io::Error>((tempfile::tempfile()?, tempfile::tempfile()?)))();
    let (mut stdout, mut stderr) = match files {
        Ok(files) => files,
        Err(e) => {
            return WasmtimeRun {
                status: Err(format!("cannot create temporary files: {e}")),
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
        status,
        stdout: read_back(&mut stdout),
        stderr: read_back(&mut stderr),
        measured,
    }
}

type Outcome = (Result<u32, String>, Option<Duration>);

fn execute(
    module: &Module,
    argv: &[String],
    dir: &Path,
    stdout: &std::fs::File,
    stderr: &std::fs::File,
) -> Result<Outcome, String> {
    let file =
        |f: std::io::Result<std::fs::File>| -> Result<Box<dyn wasi_common::WasiFile>, String> {
            let f = f.map_err(|e| format!("cannot set up stdio: {e}"))?;
            Ok(Box::new(wasi_common::sync::file::File::from_cap_std(
                cap_std::fs::File::from_std(f),
            )))
        };
    let engine = engine();
    let mut builder = WasiCtxBuilder::new();
    builder
        .args(argv)
        .map_err(|e| format!("bad argument: {e}"))?;
    builder
        .stdin(file(std::fs::File::open("/dev/null"))?)
        .stdout(file(stdout.try_clone())?)
        .stderr(file(stderr.try_clone())?);
    let preopen = Dir::open_ambient_dir(dir, ambient_authority())
        .map_err(|e| format!("cannot open {}: {e}", dir.display()))?;
    builder
        .preopened_dir(preopen, ".")
        .map_err(|e| format!("cannot preopen {}: {e}", dir.display()))?;
    let host = Host {
        wasi: builder.build(),
        start: None,
        end: None,
    };
    let mut store = Store::new(engine, host);
    let mut linker: Linker<Host> = Linker::new(engine);
    wasi_common::sync::add_to_linker(&mut linker, |h: &mut Host| &mut h.wasi)
        .map_err(|e| format!("cannot define WASI: {e}"))?;
    linker
        .func_wrap("bench", "start", |mut caller: Caller<'_, Host>| {
            caller.data_mut().start = Some(Instant::now());
        })
        .and_then(|l| {
            l.func_wrap("bench", "end", |mut caller: Caller<'_, Host>| {
                caller.data_mut().end = Some(Instant::now());
            })
        })
        .map_err(|e| format!("cannot define bench.start/bench.end: {e}"))?;
    let result = linker
        .instantiate(&mut store, module)
        .and_then(|instance| instance.get_typed_func::<(), ()>(&mut store, "_start"))
        .and_then(|start| start.call(&mut store, ()));
    let status = match result {
        Ok(()) => Ok(0),
        Err(e) => match e.chain().find_map(|c| c.downcast_ref::<I32Exit>()) {
            Some(exit) => Ok(exit.0 as u32),
            None => Err(e
                .chain()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join(": ")),
        },
    };
    let host = store.data();
    let measured = match (host.start, host.end) {
        (Some(start), Some(end)) => Some(end.saturating_duration_since(start)),
        _ => None,
    };
    Ok((status, measured))
}
