//! What the kernel runs once the machine is set up: a program or a spec script, read from
//! the image manifest (`hako_image_manifest`, see [`hako_abi::script`]). Safe code, built
//! and unit-tested on the host: it reaches the store through [`StoreCell`] and the machine
//! through [`Machine`]; the entry layer (`entry`) chooses the mode and ends the run.
//!
//! - **Program mode** ([`program`]): instantiate `modules[0]` (WASI imports resolved), run
//!   its start function and `_start` (or, for a WASI reactor, `_initialize` and the export
//!   the command line names, reporting its results), and report `exit`/`trap`/`error` on
//!   the harness channel.
//! - **Script mode** ([`run_script`]): execute the encoded command list, one result line per
//!   command (see [`crate::script`] for the target-independent part), then `done`.

use crate::image::Trusted;
use crate::script::{self, Disposition, Names, Restart};
use crate::store::{Callable, Extern, InstError, Machine, Store};
use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use hako_abi::boot::record;
use hako_abi::module::ModuleDescriptor;
use hako_abi::script::{self as abi, Command, ImageManifest, Script, SPECTEST_MODULE};
use hako_abi::trap::TrapCode;
use hako_abi::vm::ValRaw;

/// Where the store lives. It is borrowed only between calls into Wasm, never across one:
/// the builtins compiled code calls borrow it too.
pub trait StoreCell {
    fn with<R>(&self, f: impl FnOnce(&mut Store) -> R) -> R;
}

/// A run that cannot go on: the image itself is broken (a `panic` record).
#[derive(Debug, PartialEq, Eq)]
pub struct Fatal(pub String);

/// Run `f` with no arguments or results (a start function, `_start`, `_initialize`).
fn run(machine: &mut dyn Machine, f: Callable) -> Result<(), TrapCode> {
    let mut values = [ValRaw::default(); 1];
    machine.enter(f, &mut values)
}

fn trapped(machine: &mut dyn Machine, code: TrapCode) {
    machine.record(format_args!("trap {} {}", code as u32, code.message()));
}

// ----- program mode ---------------------------------------------------------------------

/// What program mode runs: `_start`, or (a WASI reactor) `_initialize` and then the export
/// `name` with `args` (raw bits).
#[derive(Debug, Clone, Copy)]
pub enum Entry<'a> {
    Start,
    Invoke { name: &'a [u8], args: &'a [u128] },
}

/// Program mode: instantiate `desc` and run it; every ending (exit, trap, error) is a
/// harness record.
pub fn program(
    store: &impl StoreCell,
    machine: &mut dyn Machine,
    desc: Trusted<ModuleDescriptor>,
    entry: Entry<'_>,
) {
    if let Err(e) = run_program(store, machine, desc, entry) {
        match e {
            Ending::Trap(t) => trapped(machine, t),
            Ending::Error(m) => machine.record(format_args!("error {m}")),
        }
    }
}

/// Why a program stopped early.
enum Ending {
    Trap(TrapCode),
    Error(String),
}

impl From<InstError> for Ending {
    fn from(e: InstError) -> Self {
        match e {
            InstError::Error(m) | InstError::Unlinkable(m) => Ending::Error(m),
            InstError::Trap(t) => Ending::Trap(t),
        }
    }
}

fn run_program(
    store: &impl StoreCell,
    machine: &mut dyn Machine,
    desc: Trusted<ModuleDescriptor>,
    entry: Entry<'_>,
) -> Result<(), Ending> {
    let (id, start) = store.with(|s| s.instantiate(machine, desc, &|_, _, _| None, false))?;
    if let Some(f) = start {
        run(machine, f).map_err(Ending::Trap)?;
    }
    match entry {
        Entry::Start => {
            let f = match store.with(|s| s.export_func(id, b"_start")) {
                None | Some(Err("is not a function")) => {
                    return Err(Ending::Error("the program has no _start export".into()))
                }
                Some(Err(why)) => return Err(Ending::Error(format!("_start {why}"))),
                Some(Ok(f)) => f,
            };
            run(machine, f.callable).map_err(Ending::Trap)?;
            machine.record(format_args!("{} 0", record::EXIT));
        }
        Entry::Invoke { name, args } => invoke(store, machine, id, name, args)?,
    }
    Ok(())
}

/// A WASI reactor (`hako run --invoke`): `_initialize` when exported, then the export `name`
/// with `args` (raw bits, checked against its type by the runner and again here); its
/// results become `result` records.
fn invoke(
    store: &impl StoreCell,
    machine: &mut dyn Machine,
    instance: usize,
    name: &[u8],
    args: &[u128],
) -> Result<(), Ending> {
    match store.with(|s| s.export_func(instance, b"_initialize")) {
        None => {}
        Some(Err(why)) => return Err(Ending::Error(format!("_initialize {why}"))),
        Some(Ok(f)) => run(machine, f.callable).map_err(Ending::Trap)?,
    }
    let shown = script::show(name);
    let f = match store.with(|s| s.export_func(instance, name)) {
        Some(Ok(f)) => f,
        None | Some(Err("is not a function")) => {
            return Err(Ending::Error(format!(
                "the program has no function export `{shown}`"
            )))
        }
        Some(Err(why)) => return Err(Ending::Error(format!("`{shown}` {why}"))),
    };
    if f.params.len() != args.len() {
        return Err(Ending::Error(format!(
            "`{shown}` takes {} arguments, got {}",
            f.params.len(),
            args.len()
        )));
    }
    let mut values = vec![ValRaw::default(); f.callable.slots().max(1)];
    for (slot, bits) in values.iter_mut().zip(args) {
        *slot = ValRaw::from_u128(*bits);
    }
    machine
        .enter(f.callable, &mut values)
        .map_err(Ending::Trap)?;
    for (ty, bits) in script::results(f.results, &values) {
        machine.record(format_args!("{} {ty:02x} {bits:x}", record::RESULT));
    }
    machine.record(format_args!("{} 0", record::EXIT));
    Ok(())
}

// ----- script mode ----------------------------------------------------------------------

/// What one command did.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Values(Vec<(u8, u128)>),
    Instantiated,
    Trap(TrapCode),
    Unlinkable(String),
    Error(String),
}

/// Script mode: execute the script of `manifest` from where `restart` says, writing one
/// result line per reported command and `done` at the end.
pub fn run_script(
    store: &impl StoreCell,
    machine: &mut dyn Machine,
    manifest: Trusted<ImageManifest>,
    restart: &Restart,
) -> Result<(), Fatal> {
    let script = Script::parse(manifest.script().as_slice())
        .map_err(|e| Fatal(format!("bad script in the image: {e}")))?;
    store
        .with(|s| s.init_spectest(machine))
        .map_err(|e| Fatal(format!("cannot create the spectest module: {e:?}")))?;
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
        let outcome = execute(store, machine, &cmd, &mut names, manifest);
        if report {
            write_outcome(machine, cmd.id(), &outcome);
        }
    }
    machine.record(format_args!("{}", abi::DONE));
    Ok(())
}

fn write_outcome(machine: &mut dyn Machine, id: u32, outcome: &Outcome) {
    let mut out = machine.harness();
    let _ = match outcome {
        Outcome::Values(v) => abi::write_ok(&mut out, id, v.iter().copied()),
        Outcome::Instantiated => abi::write_instantiated(&mut out, id),
        Outcome::Trap(hako_abi::trap::TrapCode::UncaughtException) => {
            abi::write_exception(&mut out, id)
        }
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

/// Result values with each `anyref` named by its kind (`i31ref`, `structref`, `arrayref`),
/// which the script's patterns (`ref.i31`, `ref.struct`, ...) compare.
fn kinds(store: &impl StoreCell, values: Vec<(u8, u128)>) -> Vec<(u8, u128)> {
    values
        .into_iter()
        .map(|(t, bits)| match t {
            hako_abi::valtype::ANYREF if bits != 0 => {
                (store.with(|s| s.any_kind(bits as u64)), bits)
            }
            _ => (t, bits),
        })
        .collect()
}

fn no_instance(instance: u32) -> Outcome {
    Outcome::Error(format!("no instance {instance} (its instantiation failed)"))
}

/// Execute one script command.
pub fn execute(
    store: &impl StoreCell,
    machine: &mut dyn Machine,
    cmd: &Command<'_>,
    names: &mut Names,
    manifest: Trusted<ImageManifest>,
) -> Outcome {
    match *cmd {
        Command::Instantiate { id, module } => {
            let Some(desc) = manifest.module(module) else {
                return Outcome::Error(format!("the image has no module {module}"));
            };
            let r = {
                let names = &*names;
                store.with(|s| {
                    s.instantiate(machine, desc, &|st, m, n| resolve(st, names, m, n), true)
                })
            };
            match r {
                Ok((index, start)) => {
                    if let Some(f) = start {
                        if let Err(t) = run(machine, f) {
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
            let f = match store.with(|s| s.export_func(i, name)) {
                Some(Ok(f)) => f,
                Some(Err(why)) => {
                    return Outcome::Error(format!("export `{}` {why}", script::show(name)))
                }
                None => return Outcome::Error(format!("no export `{}`", script::show(name))),
            };
            if let Err(e) = script::check_args(f.params, &args) {
                return Outcome::Error(e);
            }
            let mut values = vec![ValRaw::default(); f.callable.slots().max(1)];
            for (slot, a) in values.iter_mut().zip(args.iter()) {
                *slot = ValRaw::from_u128(a.bits);
            }
            match machine.enter(f.callable, &mut values) {
                Ok(()) => {
                    Outcome::Values(kinds(store, script::results(f.results, &values).collect()))
                }
                Err(t) => Outcome::Trap(t),
            }
        }
        Command::Get { instance, name, .. } => {
            let Some(i) = names.instance(instance) else {
                return no_instance(instance);
            };
            match store.with(|s| s.export_global(i, name)) {
                Some((t, v)) => Outcome::Values(kinds(store, vec![(t, script::value_bits(t, &v))])),
                None => Outcome::Error(format!("no global export `{}`", script::show(name))),
            }
        }
    }
}

#[cfg(test)]
mod tests;
