//! The oracle: Wasmtime with `wasi-common`, in-process.
//!
//! One [`Engine`] per process (Cranelift, epoch interruption for timeouts, ticked every
//! 100 ms by a background thread). Each run gets a fresh store and `WasiCtx`: `argv` and
//! environment as given, stdin `/dev/null`, stdout and stderr captured in anonymous temporary
//! files, and the fixture copy (if any) preopened as `/`.
//!
//! Stdio are real files rather than `wasi_common::pipe`'s in-memory pipes because
//! `poll_oneoff` on an in-memory pipe fails with `EINVAL` ("file is not pollable"), which
//! makes `rust/poll_oneoff_stdio` fail in the oracle for a reason of the harness, not of
//! wasi-common; as with the `wasmtime` CLI, the streams are OS file descriptors.
//!
//! (Recording which WASI functions a run calls by wrapping the linker's functions does not
//! work: wiggle's host functions find the guest's memory through their caller, and a host
//! function called from another host function has none. [`super::wasi_imports`] lists the
//! imports instead.)
//!
//! Errors here are [`wasmtime::Error`] (Wasmtime's `anyhow`-compatible type, with the same
//! `context`); a run reports them as an [`Ending::Error`].

use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use std::io::{Read, Seek, SeekFrom};
use wasi_common::sync::{ambient_authority, Dir, WasiCtxBuilder};
use wasi_common::{I32Exit, WasiCtx};
use wasmtime::error::Context;
use wasmtime::{Config, Engine, Linker, Module, Result, Store, Trap};

use super::compare::Ending;

/// How often the engine's epoch advances.
const TICK: Duration = Duration::from_millis(100);

/// What one oracle run produced.
#[derive(Debug, Clone)]
pub struct OracleRun {
    pub ending: Ending,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

struct Host {
    wasi: WasiCtx,
}

/// The process's engine, with its epoch ticker started.
pub fn engine() -> Result<&'static Engine> {
    static ENGINE: OnceLock<Result<Engine>> = OnceLock::new();
    ENGINE
        .get_or_init(|| {
            let mut config = Config::new();
            config.epoch_interruption(true);
            config.wasm_exceptions(true);
            let engine = Engine::new(&config).context("cannot create the Wasmtime engine")?;
            let ticking = engine.clone();
            std::thread::Builder::new()
                .name("hako-wasi-epoch".into())
                .spawn(move || loop {
                    std::thread::sleep(TICK);
                    ticking.increment_epoch();
                })
                .context("cannot start the epoch thread")?;
            Ok(engine)
        })
        .as_ref()
        // The first failure, again, for every later run.
        .map_err(|e| wasmtime::format_err!("{e:#}"))
}

/// Run `wasm` to its end. A failure to compile, instantiate or set up is an
/// [`Ending::Error`], like a timeout.
pub fn run(
    wasm: &[u8],
    argv: &[String],
    env: &[(String, String)],
    root: Option<&Path>,
    timeout: Duration,
) -> OracleRun {
    let streams = (|| Ok::<_, std::io::Error>((tempfile::tempfile()?, tempfile::tempfile()?)))();
    let (mut stdout, mut stderr) = match streams {
        Ok(files) => files,
        Err(e) => {
            return OracleRun {
                ending: Ending::Error {
                    message: format!("cannot create temporary files: {e}"),
                },
                stdout: Vec::new(),
                stderr: Vec::new(),
            }
        }
    };
    let ending = execute(wasm, argv, env, root, timeout, &stdout, &stderr).unwrap_or_else(|e| {
        Ending::Error {
            message: format!("{e:#}"),
        }
    });
    OracleRun {
        ending,
        stdout: read_back(&mut stdout),
        stderr: read_back(&mut stderr),
    }
}

/// Everything written to a temporary output file (empty when it cannot be read back).
pub(crate) fn read_back(file: &mut std::fs::File) -> Vec<u8> {
    let mut out = Vec::new();
    file.seek(SeekFrom::Start(0))
        .and_then(|_| file.read_to_end(&mut out))
        .map(|_| out)
        .unwrap_or_default()
}

fn execute(
    wasm: &[u8],
    argv: &[String],
    env: &[(String, String)],
    root: Option<&Path>,
    timeout: Duration,
    stdout: &std::fs::File,
    stderr: &std::fs::File,
) -> Result<Ending> {
    let file = |f: std::io::Result<std::fs::File>| -> Result<Box<dyn wasi_common::WasiFile>> {
        let f = f.context("cannot set up stdio")?;
        Ok(Box::new(wasi_common::sync::file::File::from_cap_std(
            cap_std::fs::File::from_std(f),
        )))
    };
    let engine = engine()?;
    let module = Module::new(engine, wasm).context("Wasmtime cannot compile the module")?;

    let mut builder = WasiCtxBuilder::new();
    builder
        .args(argv)
        .and_then(|b| b.envs(env))
        .context("bad argument or environment")?;
    builder
        .stdin(file(std::fs::File::open("/dev/null"))?)
        .stdout(file(stdout.try_clone())?)
        .stderr(file(stderr.try_clone())?);
    if let Some(root) = root {
        let dir = Dir::open_ambient_dir(root, ambient_authority())
            .with_context(|| format!("cannot open {}", root.display()))?;
        builder
            .preopened_dir(dir, "/")
            .with_context(|| format!("cannot preopen {}", root.display()))?;
    }
    let host = Host {
        wasi: builder.build(),
    };
    let mut store = Store::new(engine, host);
    let mut linker: Linker<Host> = Linker::new(engine);
    wasi_common::sync::add_to_linker(&mut linker, |h: &mut Host| &mut h.wasi)
        .context("cannot define WASI")?;
    let ticks = (timeout.as_millis() / TICK.as_millis()).max(1) as u64;
    store.set_epoch_deadline(ticks);
    let result = linker
        .instantiate(&mut store, &module)
        .and_then(|instance| instance.get_typed_func::<(), ()>(&mut store, "_start"))
        .and_then(|start| start.call(&mut store, ()));
    let ending = match result {
        Ok(()) => Ending::Exit { code: 0 },
        Err(e) => ending_of(&e, timeout),
    };
    drop(store);
    Ok(ending)
}

/// An error out of `_start`: `proc_exit` (an [`I32Exit`] somewhere in the chain, under the
/// backtrace context Wasmtime adds), a trap, a timeout, or anything else.
fn ending_of(e: &wasmtime::Error, timeout: Duration) -> Ending {
    for cause in e.chain() {
        if let Some(exit) = cause.downcast_ref::<I32Exit>() {
            return Ending::Exit {
                code: exit.0 as u32,
            };
        }
    }
    for cause in e.chain() {
        match cause.downcast_ref::<Trap>() {
            Some(Trap::Interrupt) => {
                return Ending::Error {
                    message: format!("timed out after {:.0} s", timeout.as_secs_f64()),
                }
            }
            Some(trap) => {
                return Ending::Trap {
                    message: trap.to_string(),
                }
            }
            None => {}
        }
    }
    Ending::Error {
        message: format!("{e:#}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_wat(text: &str, root: Option<&Path>) -> OracleRun {
        let wasm = wat::parse_str(text).unwrap();
        run(
            &wasm,
            &["prog.wasm".into()],
            &[("K".into(), "V".into())],
            root,
            Duration::from_secs(30),
        )
    }

    const HELLO: &str = r#"(module
        (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
        (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
        (memory (export "memory") 1)
        (data (i32.const 16) "hi\n")
        (func (export "_start")
            (i32.store (i32.const 0) (i32.const 16))
            (i32.store (i32.const 4) (i32.const 3))
            (drop (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
            (drop (call $w (i32.const 2) (i32.const 0) (i32.const 1) (i32.const 8)))
            (call $exit (i32.const 7))))"#;

    #[test]
    fn captures_streams_and_exit_status() {
        let r = run_wat(HELLO, None);
        assert_eq!(r.ending, Ending::Exit { code: 7 });
        assert_eq!(r.stdout, b"hi\n");
        assert_eq!(r.stderr, b"hi\n");
    }

    #[test]
    fn traps_and_bad_modules_are_distinct() {
        let r = run_wat(r#"(module (func (export "_start") unreachable))"#, None);
        assert!(matches!(r.ending, Ending::Trap { .. }), "{:?}", r.ending);
        let r = run(b"\0asm\x02", &[], &[], None, Duration::from_secs(5));
        assert!(matches!(r.ending, Ending::Error { .. }), "{:?}", r.ending);
    }

    #[test]
    fn loops_time_out() {
        let wasm = wat::parse_str(r#"(module (func (export "_start") (loop (br 0))))"#).unwrap();
        let r = run(&wasm, &[], &[], None, Duration::from_millis(300));
        assert!(
            matches!(&r.ending, Ending::Error { message } if message.contains("timed out")),
            "{:?}",
            r.ending
        );
    }

    #[test]
    fn preopens_the_root_as_slash() {
        // path_create_directory(3, "new", 3), then exit with its errno.
        let dir = tempfile::tempdir().unwrap();
        let r = run_wat(
            r#"(module
                (import "wasi_snapshot_preview1" "path_create_directory" (func $mk (param i32 i32 i32) (result i32)))
                (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
                (memory (export "memory") 1)
                (data (i32.const 0) "new")
                (func (export "_start") (call $exit (call $mk (i32.const 3) (i32.const 0) (i32.const 3)))))"#,
            Some(dir.path()),
        );
        assert_eq!(r.ending, Ending::Exit { code: 0 });
        assert!(dir.path().join("new").is_dir());
    }
}
