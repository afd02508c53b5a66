//! Host unit tests of program and script mode, on [`HostMachine`], with Rust functions as
//! compiled code.
#![allow(unsafe_code)]

use super::*;
use crate::store::testing::{trap, HostMachine, ModuleBuilder};
use core::cell::RefCell;
use hako_abi::module::extern_kind::{FUNC, GLOBAL};
use hako_abi::script::{Arg, ScriptWriter, MANIFEST_MAGIC};
use hako_abi::valtype::I32;
use hako_abi::vm::VmContext;

struct Cell(RefCell<Store>);

impl StoreCell for Cell {
    fn with<R>(&self, f: impl FnOnce(&mut Store) -> R) -> R {
        f(&mut self.0.borrow_mut())
    }
}

fn cell() -> Cell {
    Cell(RefCell::new(Store::new()))
}

extern "C" fn nop(_: *mut VmContext, _: *mut ValRaw) {}

extern "C" fn unreachable(_: *mut VmContext, _: *mut ValRaw) {
    trap(TrapCode::Unreachable);
}

/// `(i32, i32) -> i32`: the sum.
extern "C" fn add(_: *mut VmContext, v: *mut ValRaw) {
    // SAFETY: the runtime passes at least two slots (the function's `slots`).
    unsafe { *v = ValRaw::from_u32((*v).u32().wrapping_add((*v.add(1)).u32())) };
}

#[test]
fn program_mode_runs_start_then_underscore_start() {
    let (store, mut m) = (cell(), HostMachine::default());
    let mut b = ModuleBuilder::new();
    let t = b.ty(&[], &[]);
    b.func(t, nop)
        .func(t, nop)
        .start(0)
        .export("_start", FUNC, 1);
    program(&store, &mut m, b.build(), Entry::Start);
    assert_eq!(m.lines(), ["exit 0"]);
    assert_eq!(m.calls.len(), 2, "the start function and _start");
}

#[test]
fn program_mode_reports_traps_and_errors() {
    let (store, mut m) = (cell(), HostMachine::default());
    let mut b = ModuleBuilder::new();
    let t = b.ty(&[], &[]);
    b.func(t, unreachable).export("_start", FUNC, 0);
    program(&store, &mut m, b.build(), Entry::Start);
    assert_eq!(m.lines(), ["trap 0 unreachable"]);

    let (store, mut m) = (cell(), HostMachine::default());
    program(&store, &mut m, ModuleBuilder::new().build(), Entry::Start);
    assert_eq!(m.lines(), ["error the program has no _start export"]);

    let (store, mut m) = (cell(), HostMachine::default());
    let desc = ModuleBuilder::new().memory(1, 1).data(65536, b"x").build();
    program(&store, &mut m, desc, Entry::Start);
    assert_eq!(m.lines()[0].split(' ').next(), Some("trap"));
    assert!(m.lines()[0].contains(TrapCode::DataSegmentOutOfBounds.message()));
}

#[test]
fn a_reactor_is_initialised_then_invoked() {
    let (store, mut m) = (cell(), HostMachine::default());
    let mut b = ModuleBuilder::new();
    let t = b.ty(&[], &[]);
    let sum = b.ty(&[I32, I32], &[I32]);
    b.func(t, nop)
        .func(sum, add)
        .export("_initialize", FUNC, 0)
        .export("add", FUNC, 1);
    let desc = b.build();
    program(
        &store,
        &mut m,
        desc,
        Entry::Invoke {
            name: b"add",
            args: &[40, 2],
        },
    );
    assert_eq!(m.lines(), ["result 7f 2a", "exit 0"]);

    let mut m = HostMachine::default();
    program(
        &cell(),
        &mut m,
        desc,
        Entry::Invoke {
            name: b"add",
            args: &[1],
        },
    );
    assert_eq!(m.lines(), ["error `add` takes 2 arguments, got 1"]);
    let mut m = HostMachine::default();
    program(
        &cell(),
        &mut m,
        desc,
        Entry::Invoke {
            name: b"sub",
            args: &[],
        },
    );
    assert_eq!(
        m.lines(),
        ["error the program has no function export `sub`"]
    );
}

/// A script image's manifest: `modules` and the script `commands` encode.
fn manifest(
    modules: &[Trusted<ModuleDescriptor>],
    commands: impl FnOnce(&mut ScriptWriter<&mut dyn FnMut(&[u8])>),
    count: u32,
) -> Trusted<ImageManifest> {
    let mut bytes = Vec::new();
    {
        let mut out = |b: &[u8]| bytes.extend_from_slice(b);
        let out: &mut dyn FnMut(&[u8]) = &mut out;
        let mut w = ScriptWriter::new(count, out);
        commands(&mut w);
    }
    let script: &'static [u8] = Vec::leak(bytes);
    let table: &'static [*const ModuleDescriptor] =
        Vec::leak(modules.iter().map(|d| d.get() as *const _).collect());
    let m: &'static ImageManifest = Box::leak(Box::new(ImageManifest {
        magic: MANIFEST_MAGIC,
        abi_version: hako_abi::ABI_VERSION,
        kind: hako_abi::script::image_kind::SCRIPT,
        _pad: 0,
        modules: hako_abi::module::Slice {
            ptr: table.as_ptr(),
            len: table.len() as u64,
        },
        script: hako_abi::module::Slice {
            ptr: script.as_ptr(),
            len: script.len() as u64,
        },
    }));
    // SAFETY: the manifest's arrays are leaked vectors, and its modules trusted descriptors.
    unsafe { Trusted::new(m) }
}

#[test]
fn script_mode_reports_every_command() {
    let mut b = ModuleBuilder::new();
    let sum = b.ty(&[I32, I32], &[I32]);
    let t = b.ty(&[], &[]);
    b.func(sum, add)
        .func(t, unreachable)
        .global(I32, false, crate::store::testing::i32_const(7))
        .export("add", FUNC, 0)
        .export("boom", FUNC, 1)
        .export("seven", GLOBAL, 0);
    let a = b.build();
    let mut b = ModuleBuilder::new();
    b.import_global("A", "seven", I32)
        .import_global("A", "eight", I32);
    let needs_a = b.build();
    let arg = |v| Arg {
        valtype: I32,
        bits: v,
    };
    let manifest = manifest(
        &[a, needs_a],
        |w| {
            w.write(&Command::Instantiate { id: 0, module: 0 });
            w.write_invoke(1, 0, b"add", &[arg(2), arg(3)]);
            w.write_invoke(2, 0, b"boom", &[]);
            w.write(&Command::Get {
                id: 3,
                instance: 0,
                name: b"seven",
            });
            w.write(&Command::Register {
                id: 4,
                instance: 0,
                name: b"A",
            });
            w.write(&Command::Instantiate { id: 5, module: 1 });
            w.write_invoke(6, 0, b"add", &[arg(2)]);
            w.write_invoke(7, 9, b"add", &[]);
            w.write(&Command::Get {
                id: 8,
                instance: 0,
                name: b"add",
            });
            w.write(&Command::Instantiate { id: 9, module: 7 });
        },
        10,
    );
    let (store, mut m) = (cell(), HostMachine::default());
    let restart = Restart {
        resume: 0,
        skip: vec![2],
    };
    run_script(&store, &mut m, manifest, &restart).unwrap();
    let lines = m.lines();
    assert_eq!(lines[0], "r 0 instantiated");
    assert_eq!(lines[1], "r 1 ok i32:00000005");
    assert_eq!(lines[2], "r 3 ok i32:00000007", "command 2 is skipped");
    assert_eq!(lines[3], "r 4 ok");
    assert_eq!(lines[4], "r 5 unlinkable unknown import A.eight");
    assert!(lines[5].starts_with("r 6 error"), "{}", lines[5]);
    assert_eq!(
        lines[6],
        "r 7 error no instance 9 (its instantiation failed)"
    );
    assert_eq!(lines[7], "r 8 error no global export `add`");
    assert_eq!(lines[8], "r 9 error the image has no module 7");
    assert_eq!(lines[9], "done");
    assert_eq!(lines.len(), 10);

    // A trap, and a restart after command 1: the instance is re-made silently.
    let (store, mut m) = (cell(), HostMachine::default());
    let restart = Restart {
        resume: 2,
        skip: Vec::new(),
    };
    let manifest2 = manifest_with_trap(a);
    run_script(&store, &mut m, manifest2, &restart).unwrap();
    assert_eq!(m.lines(), ["r 2 trap 0 unreachable", "done"]);
}

fn manifest_with_trap(a: Trusted<ModuleDescriptor>) -> Trusted<ImageManifest> {
    manifest(
        &[a],
        |w| {
            w.write(&Command::Instantiate { id: 0, module: 0 });
            w.write_invoke(
                1,
                0,
                b"add",
                &[
                    Arg {
                        valtype: I32,
                        bits: 1,
                    },
                    Arg {
                        valtype: I32,
                        bits: 1,
                    },
                ],
            );
            w.write_invoke(2, 0, b"boom", &[]);
        },
        3,
    )
}

#[test]
fn a_broken_script_is_fatal() {
    let (store, mut m) = (cell(), HostMachine::default());
    let mut manifest = *manifest(&[], |_| {}, 0).get();
    manifest.script = hako_abi::module::Slice::EMPTY;
    // SAFETY: a copy of a trusted manifest with an empty script.
    let manifest = unsafe { Trusted::new(Box::leak(Box::new(manifest))) };
    let restart = Restart {
        resume: 0,
        skip: Vec::new(),
    };
    let e = run_script(&store, &mut m, manifest, &restart).unwrap_err();
    assert!(e.0.starts_with("bad script in the image"), "{}", e.0);
}
