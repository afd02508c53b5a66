//! Host unit tests of the store: instantiation from small descriptors, limits, the bulk
//! operations, export lookup and linking, against [`HostMachine`].
#![allow(unsafe_code)]

use super::testing::{
    i32_const, HostMachine, ModuleBuilder, CALL_C_STUB, ENOSYS_STUB, NOP_STUB, NOP_TAIL_STUB,
    TRAP_STUB, WASI_FN,
};
use super::*;
use crate::link::ExternType;
use hako_abi::module::convention;
use hako_abi::module::extern_kind::{FUNC, GLOBAL, MEMORY, TABLE};
use hako_abi::valtype::{FUNCREF, I32};
use hako_abi::vm::ValRaw;

extern "C" fn nop(_: *mut VmContext, _: *mut ValRaw) {}

fn no_imports(_: &Store, _: &[u8], _: &[u8]) -> Option<Extern> {
    None
}

/// Instantiate `desc` strictly (script mode) in `store`.
fn inst(
    store: &mut Store,
    m: &mut HostMachine,
    desc: Trusted<ModuleDescriptor>,
) -> Result<(usize, Option<Callable>), InstError> {
    store.instantiate(m, desc, &no_imports, true)
}

fn memory_bytes(store: &mut Store, inst: usize, mem: usize) -> &mut [u8] {
    let id = store.instances[inst].memories[mem];
    store.memories[id].memory.bytes()
}

#[test]
fn instantiates_memory_data_and_globals() {
    let (mut store, mut m) = (Store::new(), HostMachine::default());
    let mut b = ModuleBuilder::new();
    b.memory(1, 2)
        .data(8, b"hi")
        .global(I32, false, i32_const(42))
        .export("g", GLOBAL, 0)
        .export("mem", MEMORY, 0);
    let (id, start) = inst(&mut store, &mut m, b.build()).unwrap();
    assert!(start.is_none());
    assert_eq!(&memory_bytes(&mut store, id, 0)[6..12], b"\0\0hi\0\0");
    assert_eq!(memory_bytes(&mut store, id, 0).len(), 65536);
    let (t, v) = store.export_global(id, b"g").unwrap();
    assert_eq!((t, v.u32()), (I32, 42));
    let Some(Extern::Memory(mem)) = store.export(id, b"mem") else {
        panic!("no memory export")
    };
    assert!(matches!(
        store.extern_type(&Extern::Memory(mem)),
        ExternType::Memory { limits, .. } if limits == crate::link::Limits::new(1, 2)
    ));
    assert!(store.export(id, b"nope").is_none());
    assert!(store.export_global(id, b"mem").is_none());
}

#[test]
fn memory_grow_stops_at_the_declared_max_and_the_machine() {
    let (mut store, mut m) = (Store::new(), HostMachine::default());
    let id = inst(
        &mut store,
        &mut m,
        ModuleBuilder::new().memory(1, 3).build(),
    )
    .unwrap()
    .0;
    assert_eq!(store.memory_grow(&mut m, id, 0, 1), 1);
    assert_eq!(memory_bytes(&mut store, id, 0).len(), 2 * 65536);
    assert_eq!(
        store.memory_grow(&mut m, id, 0, 2),
        u64::MAX,
        "past the max"
    );
    assert_eq!(store.memory_grow(&mut m, id, 0, 0), 2);
    assert_eq!(store.memory_grow(&mut m, id, 1, 1), u64::MAX, "no memory 1");
    // Out of frames: the host machine maps 4 pages per memory.
    let id = inst(
        &mut store,
        &mut m,
        ModuleBuilder::new().memory(1, NO_MAX).build(),
    )
    .unwrap()
    .0;
    assert_eq!(store.memory_grow(&mut m, id, 0, 3), 1);
    assert_eq!(store.memory_grow(&mut m, id, 0, 1), u64::MAX);
    // Grown pages read zero, and what was there stays.
    memory_bytes(&mut store, id, 0)[5] = 7;
    assert!(memory_bytes(&mut store, id, 0)[65536..]
        .iter()
        .all(|&b| b == 0));
    assert_eq!(memory_bytes(&mut store, id, 0)[5], 7);
    // Too large from the start.
    let desc = ModuleBuilder::new().memory(3, 2).build();
    assert!(
        matches!(inst(&mut store, &mut m, desc), Err(InstError::Error(e)) if e.contains("too large"))
    );
    let desc = ModuleBuilder::new().memory(5, NO_MAX).build();
    assert!(
        matches!(inst(&mut store, &mut m, desc), Err(InstError::Error(e)) if e.contains("out of memory"))
    );
}

#[test]
fn memory_fill_copy_and_init_check_bounds() {
    let (mut store, mut m) = (Store::new(), HostMachine::default());
    let id = inst(
        &mut store,
        &mut m,
        ModuleBuilder::new().memory(1, 1).data(0, b"abcd").build(),
    )
    .unwrap()
    .0;
    store.memory_fill(id, 0, 100, 0x1_7a, 3).unwrap();
    assert_eq!(&memory_bytes(&mut store, id, 0)[99..104], b"\0zzz\0");
    store.memory_copy(id, 0, 0, 1, 0, 4).unwrap();
    assert_eq!(&memory_bytes(&mut store, id, 0)[..5], b"aabcd");
    assert_eq!(
        store.memory_copy(id, 0, 0, 65535, 0, 2),
        Err(TrapCode::MemoryOutOfBounds)
    );
    assert_eq!(
        store.memory_fill(id, 0, 65536, 0, 1),
        Err(TrapCode::MemoryOutOfBounds)
    );
    store.memory_fill(id, 0, 65536, 0, 0).unwrap();
    // The active segment was dropped once applied: only length 0 fits now.
    assert_eq!(
        store.memory_init(id, 0, 0, 0, 0, 1),
        Err(TrapCode::MemoryOutOfBounds)
    );
    store.memory_init(id, 0, 0, 0, 0, 0).unwrap();
}

#[test]
fn memory_copy_between_two_memories() {
    let (mut store, mut m) = (Store::new(), HostMachine::default());
    let a = inst(
        &mut store,
        &mut m,
        ModuleBuilder::new()
            .memory(1, 1)
            .data(0, b"xyz")
            .export("m", MEMORY, 0)
            .build(),
    )
    .unwrap()
    .0;
    let mut b = ModuleBuilder::new();
    b.import_memory("a", "m", 1, 1).memory(1, 1);
    let desc = b.build();
    let b = store
        .instantiate(&mut m, desc, &|s, _, _| s.export(a, b"m"), true)
        .unwrap()
        .0;
    // Memory 1 of `b` (its own) from memory 0 (imported from `a`), and back.
    store.memory_copy(b, 1, 0, 10, 0, 3).unwrap();
    assert_eq!(&memory_bytes(&mut store, b, 1)[10..13], b"xyz");
    store.memory_copy(b, 0, 1, 20, 10, 3).unwrap();
    assert_eq!(&memory_bytes(&mut store, a, 0)[20..23], b"xyz");
}

#[test]
fn a_table_with_an_initial_value_starts_full_of_it_before_the_elements() {
    let (mut store, mut m) = (Store::new(), HostMachine::default());
    let mut b = ModuleBuilder::new();
    let t = b.ty(&[], &[]);
    b.func(t, nop)
        .func(t, nop)
        .table(2, 2)
        .table_of(4, 4, 1)
        .elements(1, &[0]);
    let id = inst(&mut store, &mut m, b.build()).unwrap().0;
    let funcs = store.instances[id].funcs;
    let [plain, full] = [0, 1].map(|i| store.instances[id].tables[i]);
    let f = |i: usize| &funcs[i] as *const FuncRef as *const u8;
    assert_eq!(store.tables[plain].elems[..], [core::ptr::null(), f(0)]);
    assert_eq!(store.tables[full].elems[..], [f(1); 4]);
    assert_eq!(store.tables[full].def.len, 4);
}

#[test]
fn tables_grow_fill_copy_and_take_elements() {
    let (mut store, mut m) = (Store::new(), HostMachine::default());
    let mut b = ModuleBuilder::new();
    let t = b.ty(&[], &[]);
    b.func(t, nop)
        .func(t, nop)
        .table(3, 5)
        .table(2, 2)
        .elements(1, &[1, 0]);
    let id = inst(&mut store, &mut m, b.build()).unwrap().0;
    let funcs = store.instances[id].funcs;
    let table0 = store.instances[id].tables[0];
    let elems = &store.tables[table0].elems;
    assert_eq!(elems[0], core::ptr::null());
    assert_eq!(elems[1], &funcs[1] as *const FuncRef as *const u8);
    assert_eq!(elems[2], &funcs[0] as *const FuncRef as *const u8);
    assert_eq!(store.tables[table0].def.len, 3);
    let x = 0x1234 as *const u8;
    assert_eq!(store.table_grow(id, 0, x, 2), 3);
    assert_eq!(store.table_grow(id, 0, x, 1), u64::MAX, "past the max");
    assert_eq!(store.tables[table0].def.len, 5);
    let t = &mut store.tables[table0];
    assert_eq!(t.def.base, t.elems.as_mut_ptr());
    assert_eq!(
        store.table_fill(id, 1, 1, x, 2),
        Err(TrapCode::TableOutOfBounds)
    );
    store.table_fill(id, 1, 1, x, 1).unwrap();
    // From table 1 into table 0, and within table 0.
    store.table_copy(id, 0, 1, 0, 0, 2).unwrap();
    assert_eq!(store.tables[table0].elems[..2], [core::ptr::null(), x]);
    store.table_copy(id, 0, 0, 3, 1, 2).unwrap();
    assert_eq!(
        store.tables[table0].elems[3..],
        [x, &funcs[0] as *const FuncRef as *const u8]
    );
    assert_eq!(
        store.table_copy(id, 0, 0, 4, 0, 2),
        Err(TrapCode::TableOutOfBounds)
    );
    assert_eq!(
        store.table_copy(id, 2, 0, 0, 0, 0),
        Err(TrapCode::TableOutOfBounds),
        "no table 2"
    );
    // The applied segment is dropped.
    assert_eq!(
        store.table_init(id, 0, 0, 0, 0, 1),
        Err(TrapCode::TableOutOfBounds)
    );
}

#[test]
fn a_segment_that_does_not_fit_traps_and_leaves_the_instance() {
    let (mut store, mut m) = (Store::new(), HostMachine::default());
    let desc = ModuleBuilder::new().memory(1, 1).data(65535, b"ab").build();
    assert!(matches!(
        inst(&mut store, &mut m, desc),
        Err(InstError::Trap(TrapCode::DataSegmentOutOfBounds))
    ));
    assert_eq!(store.instances.len(), 1);
    let mut b = ModuleBuilder::new();
    let t = b.ty(&[], &[]);
    b.func(t, nop).table(1, 1).elements(1, &[0]);
    assert!(matches!(
        inst(&mut store, &mut m, b.build()),
        Err(InstError::Trap(TrapCode::ElementSegmentOutOfBounds))
    ));
}

#[test]
fn exports_are_found_with_their_signatures() {
    let (mut store, mut m) = (Store::new(), HostMachine::default());
    let mut b = ModuleBuilder::new();
    let t = b.ty(&[I32, I32], &[I32]);
    let u = b.ty(&[], &[]);
    b.import_func("env", "f", u)
        .func(t, nop)
        .start(1)
        .table(1, 1)
        .export("add", FUNC, 1)
        .export("imported", FUNC, 0)
        .export("t", TABLE, 0);
    let desc = b.build();
    let resolve = |s: &Store, _: &[u8], _: &[u8]| s.spectest_export(b"print");
    store.init_spectest(&mut m).unwrap();
    let (id, start) = store.instantiate(&mut m, desc, &resolve, true).unwrap();
    assert_eq!(start.unwrap().slots(), 0);
    let f = store.export_func(id, b"add").unwrap().unwrap();
    assert_eq!(
        (f.params, f.results, f.callable.slots()),
        (&[I32, I32][..], &[I32][..], 2)
    );
    let g = store.export_func(id, b"imported").unwrap().unwrap();
    assert_eq!((g.params, g.callable.slots()), (&[][..], 0));
    assert_eq!(
        store.export_func(id, b"t").unwrap().unwrap_err(),
        "is not a function"
    );
    assert!(store.export_func(id, b"none").is_none());
    assert!(matches!(
        store.extern_type(&store.export(id, b"t").unwrap()),
        ExternType::Table { elem_type, .. } if elem_type == FUNCREF as u32
    ));
}

#[test]
fn imports_link_strictly_in_script_mode() {
    let (mut store, mut m) = (Store::new(), HostMachine::default());
    store.init_spectest(&mut m).unwrap();
    let mut b = ModuleBuilder::new();
    b.import_global("spectest", "global_i32", I32)
        .global(
            I32,
            false,
            hako_abi::module::Slice {
                ptr: Box::leak(Box::new(hako_abi::module::ConstOp {
                    op: hako_abi::module::const_op::GLOBAL_GET,
                    _pad: 0,
                    imm: [0, 0],
                })),
                len: 1,
            },
        )
        .export("g", GLOBAL, 1);
    let desc = b.build();
    let resolve = |s: &Store, module: &[u8], name: &[u8]| {
        (module == b"spectest")
            .then(|| s.spectest_export(name))
            .flatten()
    };
    let id = store.instantiate(&mut m, desc, &resolve, true).unwrap().0;
    assert_eq!(store.export_global(id, b"g").unwrap().1.u32(), 666);
    // Unknown, and mistyped (a memory where a global is expected).
    let mut b = ModuleBuilder::new();
    b.import_global("spectest", "nope", I32);
    assert!(matches!(
        store.instantiate(&mut m, b.build(), &resolve, true),
        Err(InstError::Unlinkable(e)) if e == "unknown import spectest.nope"
    ));
    let mut b = ModuleBuilder::new();
    b.import_global("spectest", "memory", I32);
    assert!(matches!(
        store.instantiate(&mut m, b.build(), &resolve, true),
        Err(InstError::Unlinkable(e)) if e.starts_with("incompatible import type for spectest.memory")
    ));
}

#[test]
fn program_mode_binds_unknown_functions_to_wasi_or_stubs() {
    let (mut store, mut m) = (Store::new(), HostMachine::default());
    let mut b = ModuleBuilder::new();
    let write = b.ty(&[I32, I32, I32, I32], &[I32]);
    let none = b.ty(&[], &[]);
    b.import_func("wasi_snapshot_preview1", "fd_write", write)
        .import_func("env", "missing_i32", write)
        .import_func("env", "missing", none);
    let id = store
        .instantiate(&mut m, b.build(), &no_imports, false)
        .unwrap()
        .0;
    let funcs = store.instances[id].funcs;
    assert_eq!(funcs[0].code as usize, WASI_FN);
    assert_eq!(funcs[1].code as usize, ENOSYS_STUB);
    assert_eq!(
        funcs[1].vmctx as usize, 0,
        "the stub's context is its record index"
    );
    assert_eq!(funcs[2].vmctx as usize, 1);
    assert_eq!(store.imports.len(), 2);
    assert_eq!(
        m.lines(),
        ["unresolved env missing_i32", "unresolved env missing"]
    );
    // An unknown memory is an error in program mode.
    let mut b = ModuleBuilder::new();
    b.import_memory("env", "memory", 1, NO_MAX);
    assert!(matches!(
        store.instantiate(&mut m, b.build(), &no_imports, false),
        Err(InstError::Error(e)) if e == "unresolved memory import env.memory"
    ));
}

#[test]
fn in_the_tail_convention_kernel_functions_are_behind_the_call_c_stub() {
    let (mut store, mut m) = (Store::new(), HostMachine::default());
    let mut b = ModuleBuilder::new();
    let write = b.ty(&[I32, I32, I32, I32], &[I32]);
    let none = b.ty(&[], &[]);
    let wide = b.ty(&[I32, I32, I32, I32, I32, I32], &[I32]);
    b.convention(convention::TAIL)
        .import_func("wasi_snapshot_preview1", "fd_write", write)
        .import_func("env", "missing_i32", write)
        .import_func("env", "missing", none)
        .import_func("env", "missing_wide", wide);
    let id = store
        .instantiate(&mut m, b.build(), &no_imports, false)
        .unwrap()
        .0;
    let funcs = store.instances[id].funcs;
    // Kernel functions are C functions, reached through the tail-convention stub with
    // their function and data (the import's record index for the ENOSYS stub).
    let c: Vec<(usize, usize)> = store
        .c_functions
        .iter()
        .map(|c| (c.function as usize, c.data as usize))
        .collect();
    assert_eq!((c.len(), c[0].0), (2, WASI_FN));
    assert_eq!(c[1], (ENOSYS_STUB, 0));
    for f in &funcs[..2] {
        assert_eq!(f.code as usize, CALL_C_STUB);
    }
    assert_eq!(funcs[2].code as usize, TRAP_STUB);
    assert_eq!(funcs[2].vmctx as usize, 1);
    // Seven arguments with `vmctx`: one on the stack, which no C stub pops; it traps.
    assert_eq!(funcs[3].code as usize, TRAP_STUB);
    assert_eq!(store.imports.len(), 3);
    // `spectest.print` follows the store's convention; its array call is a bare `ret`.
    store.init_spectest(&mut m).unwrap();
    let Some(Extern::Func(print)) = store.spectest_export(b"print") else {
        panic!("no spectest.print")
    };
    assert_eq!(
        (print.0.code as usize, print.0.array_call as usize),
        (NOP_TAIL_STUB, NOP_STUB)
    );
    // A module in the C convention cannot join the store.
    let mut b = ModuleBuilder::new();
    b.table(1, 1);
    assert!(matches!(
        store.instantiate(&mut m, b.build(), &no_imports, false),
        Err(InstError::Error(e)) if e.starts_with("the module is compiled in the C convention")
    ));
}

#[test]
fn the_spectest_instance_has_its_exports() {
    let (mut store, mut m) = (Store::new(), HostMachine::default());
    assert!(store.spectest_export(b"print").is_none(), "not created yet");
    store.init_spectest(&mut m).unwrap();
    store.init_spectest(&mut m).unwrap();
    assert_eq!(store.memories.len(), 1, "created once");
    let Some(Extern::Func(p)) = store.spectest_export(b"print_i32") else {
        panic!("no print_i32")
    };
    assert_eq!(store.func_type(p.type_id()), Some((&[I32][..], &[][..])));
    assert!(
        matches!(store.spectest_export(b"global_f64"), Some(Extern::Global(_, t)) if t.val_type == hako_abi::valtype::F64 as u32)
    );
    assert!(matches!(
        store.spectest_export(b"table"),
        Some(Extern::Table(_))
    ));
    assert!(store.spectest_export(b"print_i128").is_none());
}

#[test]
fn a_descriptor_of_another_abi_version_is_refused() {
    let (mut store, mut m) = (Store::new(), HostMachine::default());
    let d = ModuleBuilder::new().build();
    let mut other = *d.get();
    other.abi_version += 1;
    // SAFETY: a copy of a trusted descriptor, whose `Slice`s are those of the original.
    let other = unsafe { Trusted::new(Box::leak(Box::new(other))) };
    assert!(
        matches!(inst(&mut store, &mut m, other), Err(InstError::Error(e)) if e.contains("ABI version"))
    );
}
