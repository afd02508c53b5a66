//! Running Wasm: the stack switch and setjmp/longjmp-style trap unwinding, the raw
//! accessors the safe [`crate::store`] needs, every builtin compiled code calls, the stubs
//! for unresolved imports, and the 46 `wasi_snapshot_preview1__*` symbols.

use super::serial::{self, Com};
use super::{cpu, time, Global};
use crate::guest::GuestMemory;
use crate::store::{LINMEM_BASE, LINMEM_END, STORE};
use crate::wasi::{self, Clock, Host, Stream, WasiCtx};
use core::arch::global_asm;
use core::fmt;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use hako_abi::module::{ModuleDescriptor, Slice};
use hako_abi::trap::TrapCode;
use hako_abi::vm::{MemoryDef, ValRaw, VmContext};

/// The Wasm stack: 8 MiB, with a 1 MiB unmapped guard region below it.
const STACK_REGION: u64 = 0x80_0000_0000;
const STACK_GUARD: u64 = 1 << 20;
const STACK_SIZE: u64 = 8 << 20;
const STACK_LO: u64 = STACK_REGION + STACK_GUARD;
const STACK_TOP: u64 = STACK_LO + STACK_SIZE;

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
        if super::mm::map_zeroed(STACK_LO, STACK_SIZE).is_err() {
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

/// The program's descriptor.
pub fn main_module() -> &'static ModuleDescriptor {
    extern "C" {
        static hako_main_module: ModuleDescriptor;
    }
    // SAFETY: `hako_main_module` is the constant descriptor the compiler emitted and the
    // runner linked into the image.
    unsafe { &*core::ptr::addr_of!(hako_main_module) }
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
fn guest_memory(vmctx: *mut VmContext) -> GuestMemory<'static> {
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

fn instance_id(vmctx: *mut VmContext) -> usize {
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

// ----- WASI -----------------------------------------------------------------------------

static WASI: Global<Option<WasiCtx>> = Global::new(None);

pub fn set_wasi(ctx: WasiCtx) {
    WASI.with(|w| *w = Some(ctx));
}

/// The machine, as WASI sees it.
struct KernelHost;

impl Host for KernelHost {
    fn write(&mut self, stream: Stream, bytes: &[u8]) {
        serial::write(
            if stream == Stream::Stdout {
                Com::Stdout
            } else {
                Com::Stderr
            },
            bytes,
        );
    }
    fn record(&mut self, line: fmt::Arguments<'_>) {
        serial::record(line);
    }
    fn now_ns(&mut self, clock: Clock) -> u64 {
        match clock {
            Clock::Realtime => time::realtime_ns(),
            _ => time::monotonic_ns(),
        }
    }
    fn resolution_ns(&mut self, _clock: Clock) -> u64 {
        1
    }
    fn entropy(&mut self) -> [u8; 32] {
        let mut seed = [0u8; 32];
        for (i, chunk) in seed.chunks_mut(8).enumerate() {
            let v = cpu::hw_random().unwrap_or_else(|| {
                time::rdtsc().rotate_left(17 * i as u32) ^ 0x9e37_79b9_7f4a_7c15
            });
            chunk.copy_from_slice(&v.to_le_bytes());
        }
        seed
    }
    fn exit(&mut self, _status: u32) -> ! {
        serial::debug_exit(hako_abi::boot::EXIT_DONE)
    }
}

fn with_wasi<R>(f: impl FnOnce(&mut WasiCtx, &mut KernelHost) -> R) -> R {
    WASI.with(|w| match w.as_mut() {
        Some(ctx) => f(ctx, &mut KernelHost),
        None => super::fatal(format_args!("WASI called before initialisation")),
    })
}

macro_rules! wasi_impl {
    ($name:ident ($($p:ident : $t:ty),*) |$c:ident, $h:ident, $m:ident| $body:expr) => {
        #[export_name = concat!("wasi_snapshot_preview1__", stringify!($name))]
        #[allow(unused_variables, unused_mut)]
        pub extern "C" fn $name(vmctx: *mut VmContext, $($p: $t),*) -> i32 {
            let mut mem = guest_memory(vmctx);
            with_wasi(|$c, $h| {
                let $m = &mut mem;
                wasi::ret($body)
            })
        }
    };
}

macro_rules! wasi_enosys {
    ($($name:ident ($($p:ident : $t:ty),*);)*) => {$(
        #[export_name = concat!("wasi_snapshot_preview1__", stringify!($name))]
        #[allow(unused_variables)]
        pub extern "C" fn $name(vmctx: *mut VmContext, $($p: $t),*) -> i32 {
            with_wasi(|c, h| c.enosys(h, stringify!($name)) as i32)
        }
    )*};
}

/// The implemented functions.
pub mod wasi_fns {
    use super::*;

    wasi_impl!(args_get(argv: i32, buf: i32) |c, h, m| c.args_get(m, argv as u32, buf as u32));
    wasi_impl!(args_sizes_get(argc: i32, size: i32) |c, h, m| c.args_sizes_get(m, argc as u32, size as u32));
    wasi_impl!(environ_get(env: i32, buf: i32) |c, h, m| c.environ_get(m, env as u32, buf as u32));
    wasi_impl!(environ_sizes_get(n: i32, size: i32) |c, h, m| c.environ_sizes_get(m, n as u32, size as u32));
    wasi_impl!(clock_res_get(id: i32, out: i32) |c, h, m| c.clock_res_get(h, m, id as u32, out as u32));
    wasi_impl!(clock_time_get(id: i32, precision: i64, out: i32)
        |c, h, m| c.clock_time_get(h, m, id as u32, precision as u64, out as u32));
    wasi_impl!(fd_close(fd: i32) |c, h, m| c.fd_close(fd as u32));
    wasi_impl!(fd_fdstat_get(fd: i32, buf: i32) |c, h, m| c.fd_fdstat_get(m, fd as u32, buf as u32));
    wasi_impl!(fd_prestat_get(fd: i32, buf: i32) |c, h, m| c.fd_prestat_get(m, fd as u32, buf as u32));
    wasi_impl!(fd_prestat_dir_name(fd: i32, path: i32, len: i32)
        |c, h, m| c.fd_prestat_dir_name(m, fd as u32, path as u32, len as u32));
    wasi_impl!(fd_read(fd: i32, iovs: i32, n: i32, nread: i32)
        |c, h, m| c.fd_read(m, fd as u32, iovs as u32, n as u32, nread as u32));
    wasi_impl!(fd_seek(fd: i32, offset: i64, whence: i32, out: i32)
        |c, h, m| c.fd_seek(m, fd as u32, offset, whence as u32, out as u32));
    wasi_impl!(fd_tell(fd: i32, out: i32) |c, h, m| c.fd_tell(m, fd as u32, out as u32));
    wasi_impl!(fd_write(fd: i32, iovs: i32, n: i32, nwritten: i32)
        |c, h, m| c.fd_write(h, m, fd as u32, iovs as u32, n as u32, nwritten as u32));
    wasi_impl!(random_get(buf: i32, len: i32) |c, h, m| c.random_get(h, m, buf as u32, len as u32));
    wasi_impl!(sched_yield() | c, h, m | c.sched_yield());

    #[export_name = "wasi_snapshot_preview1__proc_exit"]
    pub extern "C" fn proc_exit(_vmctx: *mut VmContext, status: i32) -> ! {
        with_wasi(|c, h| c.proc_exit(h, status as u32))
    }

    wasi_enosys! {
        fd_advise(fd: i32, offset: i64, len: i64, advice: i32);
        fd_allocate(fd: i32, offset: i64, len: i64);
        fd_datasync(fd: i32);
        fd_fdstat_set_flags(fd: i32, flags: i32);
        fd_fdstat_set_rights(fd: i32, base: i64, inheriting: i64);
        fd_filestat_get(fd: i32, buf: i32);
        fd_filestat_set_size(fd: i32, size: i64);
        fd_filestat_set_times(fd: i32, atim: i64, mtim: i64, flags: i32);
        fd_pread(fd: i32, iovs: i32, n: i32, offset: i64, out: i32);
        fd_pwrite(fd: i32, iovs: i32, n: i32, offset: i64, out: i32);
        fd_readdir(fd: i32, buf: i32, len: i32, cookie: i64, out: i32);
        fd_renumber(fd: i32, to: i32);
        fd_sync(fd: i32);
        path_create_directory(fd: i32, path: i32, len: i32);
        path_filestat_get(fd: i32, flags: i32, path: i32, len: i32, out: i32);
        path_filestat_set_times(fd: i32, flags: i32, path: i32, len: i32, atim: i64, mtim: i64, fst: i32);
        path_link(fd: i32, flags: i32, path: i32, len: i32, fd2: i32, path2: i32, len2: i32);
        path_open(fd: i32, dirflags: i32, path: i32, len: i32, oflags: i32, base: i64, inh: i64, fdflags: i32, out: i32);
        path_readlink(fd: i32, path: i32, len: i32, buf: i32, buflen: i32, out: i32);
        path_remove_directory(fd: i32, path: i32, len: i32);
        path_rename(fd: i32, path: i32, len: i32, fd2: i32, path2: i32, len2: i32);
        path_symlink(path: i32, len: i32, fd: i32, path2: i32, len2: i32);
        path_unlink_file(fd: i32, path: i32, len: i32);
        poll_oneoff(inp: i32, out: i32, n: i32, nevents: i32);
        proc_raise(sig: i32);
        sock_accept(fd: i32, flags: i32, out: i32);
        sock_recv(fd: i32, iovs: i32, n: i32, flags: i32, out: i32, oflags: i32);
        sock_send(fd: i32, iovs: i32, n: i32, flags: i32, out: i32);
        sock_shutdown(fd: i32, how: i32);
    }
}

/// The kernel's definition of WASI function `name`, for imports the compiler did not link.
pub fn wasi_symbol(name: &str) -> Option<*const u8> {
    use wasi_fns::*;
    macro_rules! table {
        ($($n:ident),*) => {
            match name {
                $(stringify!($n) => Some($n as *const u8),)*
                _ => None,
            }
        };
    }
    table!(
        args_get,
        args_sizes_get,
        clock_res_get,
        clock_time_get,
        environ_get,
        environ_sizes_get,
        fd_advise,
        fd_allocate,
        fd_close,
        fd_datasync,
        fd_fdstat_get,
        fd_fdstat_set_flags,
        fd_fdstat_set_rights,
        fd_filestat_get,
        fd_filestat_set_size,
        fd_filestat_set_times,
        fd_pread,
        fd_prestat_dir_name,
        fd_prestat_get,
        fd_pwrite,
        fd_read,
        fd_readdir,
        fd_renumber,
        fd_seek,
        fd_sync,
        fd_tell,
        fd_write,
        path_create_directory,
        path_filestat_get,
        path_filestat_set_times,
        path_link,
        path_open,
        path_readlink,
        path_remove_directory,
        path_rename,
        path_symlink,
        path_unlink_file,
        poll_oneoff,
        proc_exit,
        proc_raise,
        random_get,
        sched_yield,
        sock_accept,
        sock_recv,
        sock_send,
        sock_shutdown
    )
}
