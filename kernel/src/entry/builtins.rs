//! Every builtin compiled code calls (`hako_trap`, `hako_memory_grow`, ...), the stubs
//! unresolved imports are bound to, and the `spectest` no-op. Each turns its raw arguments
//! (the caller's `VmContext`) into an instance id and calls the store.

use super::{Kernel, STORE};
use crate::guest::GuestMemory;
use crate::hw::serial;
use crate::hw::wasm::{raise, stack_check};
use crate::store::Stub;
use core::arch::global_asm;
use hako_abi::trap::TrapCode;
use hako_abi::vm::VmContext;

/// Memory 0 of the calling instance, for WASI. `vmctx` is what compiled code passed.
pub(super) fn guest_memory(vmctx: *mut VmContext) -> GuestMemory<'static> {
    // SAFETY: the WASI functions call this first thing, owning and borrowing nothing yet.
    unsafe { stack_check() };
    if vmctx.is_null() {
        return GuestMemory::new(&mut []);
    }
    // SAFETY: compiled code passes its own live `VmContext`; `memory0` is null or points to
    // the `MemoryDef` of a store-owned linear memory (never freed), whose `size` bytes from
    // `base` are mapped and belong to that memory alone.
    let bytes = unsafe {
        match (*vmctx).memory0.as_ref() {
            Some(d) if d.size > 0 => core::slice::from_raw_parts_mut(d.base, d.size as usize),
            _ => &mut [],
        }
    };
    // The view lives for one WASI call, which holds no borrow of the store (so no other view
    // of the memory exists), and no Wasm code runs until it returns.
    GuestMemory::new(bytes)
}

fn instance_id(vmctx: *mut VmContext) -> usize {
    // SAFETY: the builtins call this first thing, owning and borrowing nothing yet.
    unsafe { stack_check() };
    // SAFETY: compiled code passes its own live `VmContext`, whose `instance` field the store
    // set to the instance id.
    unsafe { (*vmctx).instance as usize }
}

/// Trap with `r`'s error. For the builtins, after the store is released.
fn check(r: Result<(), TrapCode>) {
    if let Err(t) = r {
        // SAFETY: the builtins call this last, holding nothing (their `STORE` borrow has
        // ended), and compiled code, the only other frames, owns nothing.
        unsafe { raise(t as u32) }
    }
}

// ----- builtins -------------------------------------------------------------------------

// Every builtin of `hako_abi::builtins` is defined below with its exact signature (a compile
// error otherwise).
hako_abi::check_builtin_definitions!();

#[no_mangle]
extern "C" fn hako_trap(_vmctx: *mut VmContext, code: u32) -> ! {
    // SAFETY: called by compiled code, which owns nothing; this frame holds nothing.
    unsafe { raise(code) }
}

#[no_mangle]
extern "C" fn hako_memory_grow(vmctx: *mut VmContext, mem: u32, delta: u64) -> u64 {
    let i = instance_id(vmctx);
    STORE.with(|s| s.memory_grow(&mut Kernel::default(), i, mem, delta))
}

#[no_mangle]
extern "C" fn hako_memory_fill(vmctx: *mut VmContext, mem: u32, dst: u64, value: u32, len: u64) {
    let i = instance_id(vmctx);
    check(STORE.with(|s| s.memory_fill(i, mem, dst, value, len)));
}

#[no_mangle]
extern "C" fn hako_memory_copy(
    vmctx: *mut VmContext,
    dm: u32,
    sm: u32,
    dst: u64,
    src: u64,
    len: u64,
) {
    let i = instance_id(vmctx);
    check(STORE.with(|s| s.memory_copy(i, dm, sm, dst, src, len)));
}

#[no_mangle]
extern "C" fn hako_memory_init(
    vmctx: *mut VmContext,
    mem: u32,
    data: u32,
    dst: u64,
    src: u64,
    len: u64,
) {
    let i = instance_id(vmctx);
    check(STORE.with(|s| s.memory_init(i, mem, data, dst, src, len)));
}

#[no_mangle]
extern "C" fn hako_data_drop(vmctx: *mut VmContext, data: u32) {
    let i = instance_id(vmctx);
    STORE.with(|s| s.data_drop(i, data));
}

#[no_mangle]
extern "C" fn hako_table_grow(
    vmctx: *mut VmContext,
    table: u32,
    init: *const u8,
    delta: u64,
) -> u64 {
    let i = instance_id(vmctx);
    STORE.with(|s| s.table_grow(i, table, init, delta))
}

#[no_mangle]
extern "C" fn hako_table_fill(
    vmctx: *mut VmContext,
    table: u32,
    dst: u64,
    value: *const u8,
    len: u64,
) {
    let i = instance_id(vmctx);
    check(STORE.with(|s| s.table_fill(i, table, dst, value, len)));
}

#[no_mangle]
extern "C" fn hako_table_copy(
    vmctx: *mut VmContext,
    dt: u32,
    st: u32,
    dst: u64,
    src: u64,
    len: u64,
) {
    let i = instance_id(vmctx);
    check(STORE.with(|s| s.table_copy(i, dt, st, dst, src, len)));
}

#[no_mangle]
extern "C" fn hako_table_init(
    vmctx: *mut VmContext,
    table: u32,
    elem: u32,
    dst: u64,
    src: u64,
    len: u64,
) {
    let i = instance_id(vmctx);
    check(STORE.with(|s| s.table_init(i, table, elem, dst, src, len)));
}

#[no_mangle]
extern "C" fn hako_elem_drop(vmctx: *mut VmContext, elem: u32) {
    let i = instance_id(vmctx);
    STORE.with(|s| s.elem_drop(i, elem));
}

// ----- stubs ----------------------------------------------------------------------------

/// For an unresolved import returning one `i32`: `ENOSYS`, recorded on the first call.
/// `rec` is not a context but the import's record index, put in the `FuncRef`'s `vmctx`.
extern "C" fn enosys_stub(rec: *mut VmContext) -> i32 {
    // SAFETY: first thing, owning and borrowing nothing yet.
    unsafe { stack_check() };
    let id = rec as usize;
    let first = STORE.with(|s| {
        let r = s.imports.get_mut(id)?;
        let first = !r.called;
        r.called = true;
        first.then_some((r.module, r.name))
    });
    if let Some((m, n)) = first {
        let utf8 = |b| core::str::from_utf8(b).unwrap_or("<non-utf8>");
        serial::record(format_args!("enosys {} {}", utf8(m), utf8(n)));
    }
    hako_abi::wasi::errno::NOSYS as i32
}

/// For every other unresolved import.
extern "C" fn trap_stub() -> ! {
    // SAFETY: called by compiled code, which owns nothing; this frame holds nothing.
    unsafe { raise(TrapCode::UnresolvedImport as u32) }
}

global_asm!(
    r#"
    .section .text.hako_spectest, "ax"
    .global hako_spectest_nop
hako_spectest_nop:
    ret
    .text
"#
);

/// The address of a kernel stub. `spectest.print*` and their array-call trampolines are a
/// bare `ret`, right for every signature (arguments, floats included, are ignored; no
/// results).
pub fn stub(stub: Stub) -> *const u8 {
    extern "C" {
        fn hako_spectest_nop();
    }
    match stub {
        Stub::Enosys => enosys_stub as *const u8,
        Stub::Trap => trap_stub as *const u8,
        Stub::SpectestNop => hako_spectest_nop as *const u8,
    }
}
