//! Running Wasm: the stack switch and setjmp/longjmp-style trap unwinding, the raw
//! accessors the safe [`crate::store`] needs, every builtin compiled code calls, the stubs
//! for unresolved imports (the 46 `wasi_snapshot_preview1__*` symbols are in `hw::wasi`).

use super::serial;
use crate::guest::GuestMemory;
use crate::store::{LINMEM_BASE, LINMEM_END, STORE};
use core::arch::global_asm;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use hako_abi::module::{ModuleDescriptor, Prebuilt, Slice};
use hako_abi::script::ImageManifest;
use hako_abi::trap::TrapCode;
use hako_abi::vm::{MemoryDef, TableDef, ValRaw, VmContext};

/// The Wasm stack: 8 MiB mapped with 2 MiB pages and, on top, 64 KiB mapped with 4 KiB
/// pages (the part every program uses: its frames come from RAM the host has already
/// backed, see `mm::init`, so that starting a program does not cost a fresh 2 MiB host
/// page), with a 2 MiB unmapped guard region below it.
const STACK_REGION: u64 = 0x80_0000_0000;
const STACK_GUARD: u64 = 2 << 20;
const STACK_HUGE: u64 = 8 << 20;
const STACK_SMALL: u64 = 64 << 10;
const STACK_LO: u64 = STACK_REGION + STACK_GUARD;
/// Where the 4 KiB part of the stack begins (a boot window of `mm`, 2 MiB-aligned).
pub(super) const STACK_SMALL_BASE: u64 = STACK_LO + STACK_HUGE;
const STACK_TOP: u64 = STACK_SMALL_BASE + STACK_SMALL;

global_asm!(
    r#"
    .section .text.hako_wasm, "ax"
    .global hako_wasm_enter
hako_wasm_enter:
    mov [rdi], rbx
    mov [rdi + 8], rbp
    mov [rdi + 16], r12
    mov [rdi + 24], r13
    mov [rdi + 32], r14
    mov [rdi + 40], r15
    mov [rdi + 48], rsp
    mov rbx, rdi
    test r8, r8
    jz 2f
    mov rsp, r8
2:
    and rsp, -16
    mov rax, rsi
    mov rdi, rdx
    mov rsi, rcx
    call rax
    mov rdi, rbx
    mov rax, -1
    jmp 3f

    .global hako_wasm_longjmp
hako_wasm_longjmp:
    mov rax, rsi
3:
    mov rbx, [rdi]
    mov rbp, [rdi + 8]
    mov r12, [rdi + 16]
    mov r13, [rdi + 24]
    mov r14, [rdi + 32]
    mov r15, [rdi + 40]
    mov rsp, [rdi + 48]
    ret
    .text
"#
);

/// Callee-saved registers and `rsp` at the entry into Wasm.
#[repr(C)]
#[derive(Debug, Default)]
struct JmpBuf {
    regs: [u64; 7],
}

extern "C" {
    /// Save the registers to `jb`, switch to `stack_top` (unless 0), call
    /// `code(vmctx, values)`; returns `u64::MAX`, or the trap code passed to
    /// `hako_wasm_longjmp`.
    fn hako_wasm_enter(
        jb: *mut JmpBuf,
        code: *const u8,
        vmctx: *mut VmContext,
        values: *mut ValRaw,
        stack_top: u64,
    ) -> u64;
    fn hako_wasm_longjmp(jb: *mut JmpBuf, code: u64) -> !;
}

/// The innermost active entry into Wasm (0 when none).
static CURRENT: AtomicUsize = AtomicUsize::new(0);
static STACK_MAPPED: AtomicBool = AtomicBool::new(false);

// `code` and `vmctx` come from the store (descriptor entries and instance contexts), never
// from outside the kernel; the function exists to be the one place that enters Wasm.
#[allow(clippy::not_unsafe_ptr_arg_deref)]
/// Call `code(vmctx, values)` (an array-call trampoline, or a native `() -> ()` function)
/// and catch traps.
pub fn call(code: *const u8, vmctx: *mut VmContext, values: &mut [ValRaw]) -> Result<(), TrapCode> {
    if code.is_null() {
        return Err(TrapCode::NullReference);
    }
    if !STACK_MAPPED.load(Ordering::Relaxed) {
        let huge = super::mm::map_uncleared_huge(STACK_LO, STACK_HUGE);
        if huge
            .and(super::mm::map_uncleared(STACK_SMALL_BASE, STACK_SMALL))
            .is_err()
        {
            super::fatal(format_args!("out of memory for the Wasm stack"));
        }
        STACK_MAPPED.store(true, Ordering::Relaxed);
    }
    let mut jb = JmpBuf::default();
    let prev = CURRENT.swap(&mut jb as *mut JmpBuf as usize, Ordering::SeqCst);
    let stack_top = if prev == 0 { STACK_TOP } else { 0 };
    // SAFETY: `code` is compiled code with the array-call signature (or a native function
    // taking only `vmctx`, for which the extra argument is harmless); `jb` outlives the call
    // (it is popped from `CURRENT` below before it goes out of scope); the Wasm stack is
    // mapped. A longjmp back here only skips Wasm frames and `extern "C"` kernel frames
    // that hold no resources (builtins release every borrow before raising a trap).
    let r = unsafe { hako_wasm_enter(&mut jb, code, vmctx, values.as_mut_ptr(), stack_top) };
    CURRENT.store(prev, Ordering::SeqCst);
    if r == u64::MAX {
        Ok(())
    } else {
        Err(TrapCode::from_u32(r as u32).unwrap_or(TrapCode::Unreachable))
    }
}

/// Unwind to the innermost entry into Wasm with a trap.
pub fn raise(code: u32) -> ! {
    let jb = CURRENT.load(Ordering::SeqCst);
    if jb == 0 {
        super::fatal(format_args!("trap {code} outside of Wasm"));
    }
    // SAFETY: `jb` is the live `JmpBuf` of the innermost `call`, whose frame is still on the
    // kernel stack below us.
    unsafe { hako_wasm_longjmp(jb as *mut JmpBuf, code as u64) }
}

/// Called by the page-fault handler: turn faults in the linear-memory region or the Wasm
/// stack guard into traps. Returns when the fault is not the program's.
pub fn page_fault(addr: u64) {
    if CURRENT.load(Ordering::SeqCst) == 0 {
        return;
    }
    if (STACK_REGION..STACK_LO).contains(&addr) {
        raise(TrapCode::StackOverflow as u32);
    }
    if (LINMEM_BASE..LINMEM_END).contains(&addr) {
        raise(TrapCode::MemoryOutOfBounds as u32);
    }
}

// ----- raw accessors for the safe store -------------------------------------------------

/// A descriptor array. Only for [`Slice`]s of compiler-emitted descriptors.
pub fn slice<T>(s: &Slice<T>) -> &'static [T] {
    // SAFETY: descriptors are constant data emitted by the compiler into the image: each
    // `Slice` points to `len` valid elements that live as long as the image.
    unsafe { s.as_slice() }
}

/// The image manifest (`hako_abi::script::MANIFEST_SYMBOL`). Check it with
/// [`crate::script::check_manifest`] before following its pointers.
pub fn manifest() -> &'static ImageManifest {
    extern "C" {
        static hako_image_manifest: ImageManifest;
    }
    // SAFETY: `hako_image_manifest` is the constant manifest the runner generated and linked
    // into every image; reading its fixed-size header is sound even when the magic is wrong.
    unsafe { &*core::ptr::addr_of!(hako_image_manifest) }
}

/// Entry `i` of the manifest's module table (`None` when out of range or null).
pub fn manifest_module(m: &ImageManifest, i: u32) -> Option<&'static ModuleDescriptor> {
    let p = *slice(&m.modules).get(i as usize)?;
    // SAFETY: the module table of a manifest whose magic and version were checked holds
    // pointers to the compiler-emitted descriptors linked into the image (constant data).
    unsafe { p.as_ref() }
}

/// Whether the one prebuilt instance of the image has been adopted.
static PREBUILT_TAKEN: AtomicBool = AtomicBool::new(false);

/// The prebuilt instance of `desc` (see [`Prebuilt`]), the first time it is asked for;
/// `None` when the module has none, or after the first call: its data serves one instance.
pub fn take_prebuilt(desc: &ModuleDescriptor) -> Option<&'static Prebuilt> {
    if desc.prebuilt.is_null() || PREBUILT_TAKEN.swap(true, Ordering::Relaxed) {
        return None;
    }
    // SAFETY: a non-null `prebuilt` of a compiler-emitted descriptor points to the
    // constant `Prebuilt` the compiler emitted beside it in the image.
    unsafe { desc.prebuilt.as_ref() }
}

/// Point slot `i` of a prebuilt instance's memories at the store's `def` (and `memory0`,
/// for memory 0). Out-of-range slots are ignored (the store checks the counts first).
pub fn link_prebuilt_memory(pre: &Prebuilt, i: usize, def: &mut MemoryDef) {
    let def: *mut MemoryDef = def;
    if write_slot(&pre.memory_slots, i, def) && i == 0 {
        // SAFETY: the compiler emits the instance context as a writable `VmContext`, private
        // to this prebuilt instance, which `take_prebuilt` hands out once; no Wasm code of
        // the instance has run yet, so nothing else reads it while it is written.
        unsafe { (*pre.vmctx).memory0 = def };
    }
}

/// Point slot `i` of a prebuilt instance's tables at the store's `def`, as above.
pub fn link_prebuilt_table(pre: &Prebuilt, i: usize, def: &mut TableDef) {
    write_slot(&pre.table_slots, i, def);
}

/// Write `p` into slot `i` of a prebuilt instance's writable slot array; false when out of
/// range.
fn write_slot<T>(slots: &Slice<*mut T>, i: usize, p: *mut T) -> bool {
    if i as u64 >= slots.len {
        return false;
    }
    // SAFETY: the compiler emits `memory_slots` and `table_slots` as writable arrays of
    // `len` pointers, private to the prebuilt instance `take_prebuilt` hands out once; no
    // Wasm code of the instance has run yet, so nothing else reads them while they are
    // written.
    unsafe { (slots.ptr as *mut *mut T).add(i).write(p) };
    true
}

/// The value in a global slot (`p` is a store-owned slot pointer).
#[allow(clippy::not_unsafe_ptr_arg_deref)]
pub fn read_global(p: *mut ValRaw) -> ValRaw {
    // SAFETY: global slot pointers come from the store: boxed slots of live instances, which
    // are never freed.
    unsafe { p.read() }
}

/// The contents of a linear memory.
pub fn memory_bytes(def: &MemoryDef) -> &'static mut [u8] {
    if def.size == 0 {
        return &mut [];
    }
    // SAFETY: `def.size` bytes from `def.base` are mapped (the store maps before it raises
    // the size) and belong to this memory's private reservation; the kernel runs
    // single-threaded and callers use the slice only until they return, while no Wasm code
    // runs and no other slice of the same memory is alive (copies within one memory use one
    // slice).
    unsafe { core::slice::from_raw_parts_mut(def.base, def.size as usize) }
}

/// Memory 0 of the calling instance, for WASI.
pub(super) fn guest_memory(vmctx: *mut VmContext) -> GuestMemory<'static> {
    stack_check();
    if vmctx.is_null() {
        return GuestMemory::new(&mut []);
    }
    // SAFETY: compiled code passes its own live `VmContext`; `memory0` is null or points to a
    // store-owned `MemoryDef`.
    let def = unsafe { (*vmctx).memory0.as_ref() };
    match def {
        Some(d) => GuestMemory::new(memory_bytes(d)),
        None => GuestMemory::new(&mut []),
    }
}

/// Stack a kernel function called from Wasm keeps free below it: a builtin or WASI call that
/// starts with less traps with `StackOverflow` before it takes a lock (a fault in the guard
/// while a `Global` is borrowed would leave it borrowed after the unwind).
const KERNEL_STACK_RESERVE: u64 = 128 << 10;

/// Raise `StackOverflow` when called on the Wasm stack too close to its guard.
#[inline(always)]
fn stack_check() {
    let rsp: u64;
    // SAFETY: reads `rsp` into a register; no memory access, no flags changed.
    unsafe {
        core::arch::asm!("mov {}, rsp", out(reg) rsp, options(nomem, nostack, preserves_flags))
    };
    if (STACK_REGION..STACK_LO + KERNEL_STACK_RESERVE).contains(&rsp) {
        raise(TrapCode::StackOverflow as u32);
    }
}

fn instance_id(vmctx: *mut VmContext) -> usize {
    stack_check();
    // SAFETY: compiled code passes its own live `VmContext`, whose `instance` field the store
    // set to the instance id.
    unsafe { (*vmctx).instance as usize }
}

fn check(r: Result<(), TrapCode>) {
    if let Err(t) = r {
        raise(t as u32);
    }
}

// ----- builtins -------------------------------------------------------------------------

// Every builtin of `hako_abi::builtins` is defined below with its exact signature (a compile
// error otherwise).
hako_abi::check_builtin_definitions!();

#[no_mangle]
extern "C" fn hako_trap(_vmctx: *mut VmContext, code: u32) -> ! {
    raise(code)
}

#[no_mangle]
extern "C" fn hako_memory_grow(vmctx: *mut VmContext, mem: u32, delta: u64) -> u64 {
    let i = instance_id(vmctx);
    STORE.with(|s| s.memory_grow(i, mem, delta))
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

// ----- unresolved imports ---------------------------------------------------------------

/// For an unresolved import returning one `i32`: `ENOSYS`, recorded on the first call.
/// `rec` is not a context but the import's record index, put in the `FuncRef`'s `vmctx`.
extern "C" fn enosys_stub(rec: *mut VmContext) -> i32 {
    stack_check();
    let id = rec as usize;
    let first = STORE.with(|s| {
        let r = s.imports.get_mut(id)?;
        let first = !r.called;
        r.called = true;
        first.then_some((r.module, r.name))
    });
    if let Some((m, n)) = first {
        fn st(b: &[u8]) -> &str {
            core::str::from_utf8(b).unwrap_or("<non-utf8>")
        }
        serial::record(format_args!("enosys {} {}", st(m), st(n)));
    }
    hako_abi::wasi::errno::NOSYS as i32
}

/// For every other unresolved import.
extern "C" fn trap_stub() -> ! {
    raise(TrapCode::UnresolvedImport as u32)
}

pub fn enosys_stub_addr() -> *const u8 {
    enosys_stub as *const u8
}

pub fn trap_stub_addr() -> *const u8 {
    trap_stub as *const u8
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

/// The code of every `spectest.print*` function and of their array-call trampolines: a bare
/// `ret`, right for every signature (arguments, floats included, are ignored; no results).
pub fn spectest_nop_addr() -> *const u8 {
    extern "C" {
        fn hako_spectest_nop();
    }
    hako_spectest_nop as *const u8
}

// ----- WASI: see `hw::wasi` ------------------------------------------------------------

pub use super::wasi::{bench_symbol, set_wasi, wasi_symbol};
