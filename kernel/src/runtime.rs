//! What the kernel runs: read the image manifest (`hako_image_manifest`, see
//! [`hako_abi::script`]) and dispatch on its kind.
//!
//! - **Program mode**: instantiate `modules[0]` (WASI imports resolved), run its start
//!   function and `_start` (or, for a WASI reactor, `_initialize` and the export the command
//!   line names, reporting its results), and report `exit`/`trap`/`error` on the harness
//!   channel.
//! - **Script mode**: execute the encoded command list, one result line per command (see
//!   [`crate::script`] for the target-independent part), then `done`.
//!
//! Both end with `EXIT_DONE`; a manifest that does not check out is a `panic` record.

use crate::cmdline::{self, CommandLine};
use crate::hw::{self, serial, wasm};
use crate::script::{self, Disposition, Kind, Names, Restart};
use crate::store::{Extern, InstError, Store, STORE};
use crate::wasi::WasiCtx;
use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use hako_abi::boot::{record, EXIT_DONE};
use hako_abi::script::{self as abi, Command, ImageManifest, Script, SPECTEST_MODULE};
use hako_abi::trap::TrapCode;
use hako_abi::vm::ValRaw;

fn done() -> ! {
    serial::debug_exit(EXIT_DONE)
}

fn error(args: core::fmt::Arguments<'_>) -> ! {
    serial::record(format_args!("error {args}"));
    done()
}

fn trapped(code: TrapCode) -> ! {
    serial::record(format_args!("trap {} {}", code as u32, code.message()));
    done()
}

pub fn main(line: &[u8]) -> ! {
    hw::time::init();
    let manifest = wasm::manifest();
    let kind = match script::check_manifest(manifest) {
        Ok(k) => k,
        Err(e) => hw::fatal(format_args!("{e}")),
    };
    let cl = match cmdline::parse(line) {
        Ok(c) => c,
        Err(tok) => {
            let tok = core::str::from_utf8(tok).unwrap_or("?");
            match kind {
                Kind::Program => error(format_args!("bad command-line token {tok}")),
                Kind::Script => hw::fatal(format_args!("bad command-line token {tok}")),
            }
        }
    };
    match kind {
        Kind::Program => program(cl, manifest),
        Kind::Script => run_script(cl, manifest),
    }
}

// ----- program mode ---------------------------------------------------------------------

fn program(cl: CommandLine, manifest: &'static ImageManifest) -> ! {
    let mut ctx = WasiCtx::new(cl.args, cl.env);
    if let Some(umask) = cl.umask {
        ctx.set_umask(umask);
    }
    wasm::set_wasi(ctx, cl.preopens, cl.stdin_len);
    let Some(desc) = wasm::manifest_module(manifest, 0) else {
        hw::fatal(format_args!("the program image has no module"))
    };
    let r = STORE.with(|s| s.instantiate(desc, &|_, _, _| None, false));
    let (id, start) = match r {
        Ok(x) => x,
        Err(InstError::Error(e) | InstError::Unlinkable(e)) => error(format_args!("{e}")),
        Err(InstError::Trap(t)) => trapped(t),
    };
    if let Some(f) = start {
        let mut values = [ValRaw::default(); 1];
        if let Err(t) = wasm::call(f.code, f.vmctx, &mut values) {
            trapped(t);
        }
    }
    if let Some(name) = cl.invoke {
        invoke(id, &name, &cl.invoke_args)
    }
    let Some(f) = STORE.with(|s| s.export_func(id, "_start")) else {
        error(format_args!("the program has no _start export"))
    };
    if f.array_call.is_null() {
        error(format_args!("_start has no array-call trampoline"));
    }
    let mut values = [ValRaw::default(); 1];
    match wasm::call(f.array_call, f.vmctx, &mut values) {
        Ok(()) => {
            serial::record(format_args!("exit 0"));
            done()
        }
        Err(t) => trapped(t),
    }
}

/// A WASI reactor (`hako run --invoke`): `_initialize` when exported, then the export `name`
/// with `args` (raw bits, checked against its type by the runner and again here); its
/// results become `result` records.
fn invoke(instance: usize, name: &[u8], args: &[u128]) -> ! {
    if let Some(f) = STORE.with(|s| s.export_func(instance, "_initialize")) {
        if f.array_call.is_null() {
            error(format_args!("_initialize has no array-call trampoline"));
        }
        let mut values = [ValRaw::default(); 1];
        if let Err(t) = wasm::call(f.array_call, f.vmctx, &mut values) {
            trapped(t);
        }
    }
    let shown = script::show(name);
    let found = STORE.with(|s| s.export_func_signature(instance, name));
    let Some((f, params, results)) = found else {
        error(format_args!("the program has no function export `{shown}`"))
    };
    if params.len() != args.len() {
        error(format_args!(
            "`{shown}` takes {} arguments, got {}",
            params.len(),
            args.len()
        ));
    }
    if f.array_call.is_null() {
        error(format_args!("`{shown}` has no array-call trampoline"));
    }
    let mut values = vec![ValRaw::default(); params.len().max(results.len()).max(1)];
    for (slot, bits) in values.iter_mut().zip(args) {
        *slot = ValRaw::from_u128(*bits);
    }
    if let Err(t) = wasm::call(f.array_call, f.vmctx, &mut values) {
        trapped(t);
    }
    for (ty, bits) in script::results(results, &values) {
        serial::record(format_args!("{} {ty:02x} {bits:x}", record::RESULT));
    }
    serial::record(format_args!("{} 0", record::EXIT));
    done()
}

// ----- script mode ----------------------------------------------------------------------

/// What one command did.
enum Outcome {
    Values(Vec<(u8, u128)>),
    Instantiated,
    Trap(TrapCode),
    Unlinkable(String),
    Error(String),
}

fn run_script(cl: CommandLine, manifest: &'static ImageManifest) -> ! {
    // Spec modules import no WASI, but a module that does gets a working (empty) context.
    wasm::set_wasi(
        WasiCtx::new(Vec::new(), Vec::new()),
        cl.preopens,
        cl.stdin_len,
    );
    let script = match Script::parse(wasm::slice(&manifest.script)) {
        Ok(s) => s,
        Err(e) => hw::fatal(format_args!("bad script in the image: {e}")),
    };
    if let Err(e) = STORE.with(|s| s.init_spectest()) {
        hw::fatal(format_args!("cannot create the spectest module: {e:?}"));
    }
    let restart = Restart {
        resume: cl.resume.unwrap_or(0),
        skip: cl.skip,
    };
    let mut names = Names::default();
    for cmd in script.commands() {
        let report = match restart.disposition(cmd.id()) {
            Disposition::Skip => continue,
            Disposition::Silent => false,
            Disposition::Report => true,
        };
        if !report && matches!(cmd, Command::Get { .. }) {
            continue; // changes nothing
        }
        let outcome = execute(&cmd, &mut names, manifest);
        if report {
            write_outcome(cmd.id(), &outcome);
        }
    }
    serial::record(format_args!("{}", abi::DONE));
    done()
}

fn write_outcome(id: u32, outcome: &Outcome) {
    let mut out = serial::harness();
    let _ = match outcome {
        Outcome::Values(v) => abi::write_ok(&mut out, id, v.iter().copied()),
        Outcome::Instantiated => abi::write_instantiated(&mut out, id),
        Outcome::Trap(t) => abi::write_trap(&mut out, id, *t),
        Outcome::Unlinkable(m) => abi::write_unlinkable(&mut out, id, m),
        Outcome::Error(m) => abi::write_error(&mut out, id, m),
    };
}

/// Imports of script modules: registered names first, then `spectest`.
fn resolve(store: &Store, names: &Names, module: &[u8], name: &[u8]) -> Option<Extern> {
    if let Some(i) = names.registered(module) {
        store.export(i, name)
    } else if module == SPECTEST_MODULE.as_bytes() {
        store.spectest_export(name)
    } else {
        None
    }
}

fn no_instance(instance: u32) -> Outcome {
    Outcome::Error(format!("no instance {instance} (its instantiation failed)"))
}

fn execute(cmd: &Command<'_>, names: &mut Names, manifest: &'static ImageManifest) -> Outcome {
    match *cmd {
        Command::Instantiate { id, module } => {
            let Some(desc) = wasm::manifest_module(manifest, module) else {
                return Outcome::Error(format!("the image has no module {module}"));
            };
            let r = {
                let names = &*names;
                STORE.with(|s| s.instantiate(desc, &|st, m, n| resolve(st, names, m, n), true))
            };
            match r {
                Ok((index, start)) => {
                    if let Some(f) = start {
                        let mut values = [ValRaw::default(); 1];
                        if let Err(t) = wasm::call(f.code, f.vmctx, &mut values) {
                            return Outcome::Trap(t);
                        }
                    }
                    names.add_instance(id, index);
                    Outcome::Instantiated
                }
                Err(InstError::Trap(t)) => Outcome::Trap(t),
                Err(InstError::Unlinkable(m)) => Outcome::Unlinkable(m),
                Err(InstError::Error(m)) => Outcome::Error(m),
            }
        }
        Command::Register { instance, name, .. } => match names.instance(instance) {
            Some(i) => {
                names.register(name, i);
                Outcome::Values(Vec::new())
            }
            None => no_instance(instance),
        },
        Command::Invoke {
            instance,
            name,
            args,
            ..
        } => {
            let Some(i) = names.instance(instance) else {
                return no_instance(instance);
            };
            let found = STORE.with(|s| match s.export(i, name) {
                Some(Extern::Func(f)) => s
                    .func_type(f.type_id)
                    .map(|(p, r)| Ok((f, p.to_vec(), r.to_vec()))),
                Some(_) => Some(Err(())),
                None => None,
            });
            let (f, params, results) = match found {
                Some(Ok(x)) => x,
                Some(Err(())) => {
                    return Outcome::Error(format!(
                        "export `{}` is not a function",
                        script::show(name)
                    ))
                }
                None => {
                    return Outcome::Error(format!("no export `{}`", script::show(name)));
                }
            };
            if let Err(e) = script::check_args(&params, &args) {
                return Outcome::Error(e);
            }
            if f.array_call.is_null() {
                return Outcome::Error(format!(
                    "export `{}` has no array-call trampoline",
                    script::show(name)
                ));
            }
            let mut values = vec![ValRaw::default(); params.len().max(results.len()).max(1)];
            for (slot, a) in values.iter_mut().zip(args.iter()) {
                *slot = ValRaw::from_u128(a.bits);
            }
            match wasm::call(f.array_call, f.vmctx, &mut values) {
                Ok(()) => Outcome::Values(script::results(&results, &values).collect()),
                Err(t) => Outcome::Trap(t),
            }
        }
        Command::Get { instance, name, .. } => {
            let Some(i) = names.instance(instance) else {
                return no_instance(instance);
            };
            match STORE.with(|s| s.export_global(i, name)) {
                Some((t, v)) => Outcome::Values(vec![(t, script::value_bits(t, &v))]),
                None => Outcome::Error(format!("no global export `{}`", script::show(name))),
            }
        }
    }
}
