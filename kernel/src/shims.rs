//! The functions compiled code calls, for every platform a compiled object is linked on:
//! the builtins (`hako_trap`, `hako_memory_grow`, ...), the 46
//! `wasi_snapshot_preview1__*` functions, and the stubs unresolved imports are bound to.
//! They are written once, here, as the macro [`define_entry_points!`]; the unikernel
//! (`entry`) and the Linux runtime (`hako-linux`) each expand it with their [`Platform`]:
//! where the store and the WASI context live, how a trap unwinds, how deep the stack may
//! go. Each entry point turns its raw arguments into checked views and calls the safe
//! layers ([`crate::store::Store`], [`crate::wasi::WasiCtx`]).
//!
//! A platform links exactly one expansion (the symbols are `#[no_mangle]`).

use crate::guest::GuestMemory;
use crate::store::{Machine, Store};
use crate::wasi::{Host, WasiCtx};
use core::fmt;
use hako_abi::vm::VmContext;

/// What the shared entry points need from the platform they are linked on.
///
/// # Safety
///
/// [`Platform::raise`] must unwind to the innermost entry into Wasm without running the
/// skipped frames (they own nothing, see its contract), and [`Platform::stack_check`] must
/// raise `StackOverflow` whenever less stack is left than the deepest kernel function
/// needs, so that no entry point faults on the stack guard while it holds a borrow.
pub unsafe trait Platform {
    /// The machine the store grows memories on.
    type Machine: Machine;
    /// The machine as WASI sees it.
    type Host: Host;
    fn machine() -> Self::Machine;
    /// Run `f` with the one store.
    fn with_store<R>(f: impl FnOnce(&mut Store) -> R) -> R;
    /// Run `f` with the WASI context and host.
    fn with_wasi<R>(f: impl FnOnce(&mut WasiCtx, &mut Self::Host) -> R) -> R;
    /// Write one harness record.
    fn record(line: fmt::Arguments<'_>);
    /// Raise `StackOverflow` when called on the Wasm stack too close to its guard.
    ///
    /// # Safety
    ///
    /// Called first thing by an entry point, before it owns or borrows anything.
    unsafe fn stack_check();
    /// Unwind to the innermost entry into Wasm with trap `code`.
    ///
    /// # Safety
    ///
    /// Every frame between the caller and the innermost entry into Wasm (compiled code and
    /// entry points) owns nothing that needs dropping and holds no borrow of platform state.
    unsafe fn raise(code: u32) -> !;
    /// Calls `f` with every word of the running Wasm frames (from the caller's stack
    /// pointer to the top of the Wasm stack) and of the callee-saved registers: the
    /// conservative roots of a collection. Nothing when not on the Wasm stack.
    fn scan_stack(f: &mut dyn FnMut(u64));
}

/// Memory 0 of the calling instance, for WASI.
///
/// # Safety
///
/// `vmctx` is null or the live `VmContext` compiled code passed to an entry point, whose
/// `memory0` is null or points to the `MemoryDef` of a store-owned linear memory (never
/// freed) whose `size` bytes from `base` are mapped and belong to that memory alone. The
/// view is used only for the duration of the one WASI call, which runs no Wasm code and
/// takes no other view of the memory.
pub unsafe fn guest_memory(vmctx: *mut VmContext) -> GuestMemory<'static> {
    if vmctx.is_null() {
        return GuestMemory::new(&mut []);
    }
    // SAFETY: see the function's contract.
    let bytes = unsafe {
        match (*vmctx).memory0.as_ref() {
            Some(d) if d.size > 0 => core::slice::from_raw_parts_mut(d.base, d.size as usize),
            _ => &mut [],
        }
    };
    GuestMemory::new(bytes)
}

/// The store's id of the calling instance.
///
/// # Safety
///
/// `vmctx` is the live `VmContext` compiled code passed to a builtin; the store set its
/// `instance` field.
pub unsafe fn instance_id(vmctx: *mut VmContext) -> usize {
    // SAFETY: see the function's contract.
    unsafe { (*vmctx).instance as usize }
}

/// Define every entry point compiled code calls, for platform `$p` (a type implementing
/// [`Platform`]), plus, in the invoking module:
///
/// - `fn wasi_symbol(name: &str) -> Option<*const u8>`: the definition of WASI function
///   `name`, for imports the compiler did not link;
/// - `fn stub(stub: Stub) -> *const u8`: the stubs unresolved imports are bound to.
#[macro_export]
macro_rules! define_entry_points {
    ($p:ty) => {
        /// The store's id of the calling instance, after the stack check.
        fn __instance(vmctx: *mut $crate::__abi::vm::VmContext) -> usize {
            // SAFETY: the builtins call this first thing, owning and borrowing nothing yet.
            unsafe { <$p as $crate::shims::Platform>::stack_check() };
            // SAFETY: compiled code passes its own live `VmContext`.
            unsafe { $crate::shims::instance_id(vmctx) }
        }

        /// Trap with `r`'s error. For the builtins, after the store is released.
        fn __check(r: Result<(), $crate::__abi::trap::TrapCode>) {
            if let Err(t) = r {
                // SAFETY: the builtins call this last, holding nothing (their store borrow
                // has ended), and compiled code, the only other frames, owns nothing.
                unsafe { <$p as $crate::shims::Platform>::raise(t as u32) }
            }
        }

        // Every builtin of `hako_abi::builtins` is defined below with its exact signature (a
        // compile error otherwise).
        $crate::__abi::check_builtin_definitions!();

        #[no_mangle]
        extern "C" fn hako_trap(_vmctx: *mut $crate::__abi::vm::VmContext, code: u32) -> ! {
            // SAFETY: called by compiled code, which owns nothing; this frame holds nothing.
            unsafe { <$p as $crate::shims::Platform>::raise(code) }
        }

        #[no_mangle]
        extern "C" fn hako_memory_grow(
            vmctx: *mut $crate::__abi::vm::VmContext,
            mem: u32,
            delta: u64,
        ) -> u64 {
            use $crate::shims::Platform;
            let i = __instance(vmctx);
            <$p>::with_store(|s| s.memory_grow(&mut <$p>::machine(), i, mem, delta))
        }

        #[no_mangle]
        extern "C" fn hako_memory_fill(
            vmctx: *mut $crate::__abi::vm::VmContext,
            mem: u32,
            dst: u64,
            value: u32,
            len: u64,
        ) {
            use $crate::shims::Platform;
            let i = __instance(vmctx);
            __check(<$p>::with_store(|s| s.memory_fill(i, mem, dst, value, len)));
        }

        #[no_mangle]
        extern "C" fn hako_memory_copy(
            vmctx: *mut $crate::__abi::vm::VmContext,
            dm: u32,
            sm: u32,
            dst: u64,
            src: u64,
            len: u64,
        ) {
            use $crate::shims::Platform;
            let i = __instance(vmctx);
            __check(<$p>::with_store(|s| {
                s.memory_copy(i, dm, sm, dst, src, len)
            }));
        }

        #[no_mangle]
        extern "C" fn hako_memory_init(
            vmctx: *mut $crate::__abi::vm::VmContext,
            mem: u32,
            data: u32,
            dst: u64,
            src: u64,
            len: u64,
        ) {
            use $crate::shims::Platform;
            let i = __instance(vmctx);
            __check(<$p>::with_store(|s| {
                s.memory_init(i, mem, data, dst, src, len)
            }));
        }

        #[no_mangle]
        extern "C" fn hako_data_drop(vmctx: *mut $crate::__abi::vm::VmContext, data: u32) {
            use $crate::shims::Platform;
            let i = __instance(vmctx);
            <$p>::with_store(|s| s.data_drop(i, data));
        }

        #[no_mangle]
        extern "C" fn hako_table_grow(
            vmctx: *mut $crate::__abi::vm::VmContext,
            table: u32,
            init: *const u8,
            delta: u64,
        ) -> u64 {
            use $crate::shims::Platform;
            let i = __instance(vmctx);
            <$p>::with_store(|s| s.table_grow(i, table, init, delta))
        }

        #[no_mangle]
        extern "C" fn hako_table_fill(
            vmctx: *mut $crate::__abi::vm::VmContext,
            table: u32,
            dst: u64,
            value: *const u8,
            len: u64,
        ) {
            use $crate::shims::Platform;
            let i = __instance(vmctx);
            __check(<$p>::with_store(|s| {
                s.table_fill(i, table, dst, value, len)
            }));
        }

        #[no_mangle]
        extern "C" fn hako_table_copy(
            vmctx: *mut $crate::__abi::vm::VmContext,
            dt: u32,
            st: u32,
            dst: u64,
            src: u64,
            len: u64,
        ) {
            use $crate::shims::Platform;
            let i = __instance(vmctx);
            __check(<$p>::with_store(|s| s.table_copy(i, dt, st, dst, src, len)));
        }

        #[no_mangle]
        extern "C" fn hako_table_init(
            vmctx: *mut $crate::__abi::vm::VmContext,
            table: u32,
            elem: u32,
            dst: u64,
            src: u64,
            len: u64,
        ) {
            use $crate::shims::Platform;
            let i = __instance(vmctx);
            __check(<$p>::with_store(|s| {
                s.table_init(i, table, elem, dst, src, len)
            }));
        }

        #[no_mangle]
        extern "C" fn hako_elem_drop(vmctx: *mut $crate::__abi::vm::VmContext, elem: u32) {
            use $crate::shims::Platform;
            let i = __instance(vmctx);
            <$p>::with_store(|s| s.elem_drop(i, elem));
        }

        #[no_mangle]
        extern "C" fn hako_exn_alloc(
            _vmctx: *mut $crate::__abi::vm::VmContext,
            tag: *const u8,
            len: u32,
        ) -> u64 {
            use $crate::shims::Platform;
            let exn = $crate::exn::alloc(tag, len) as u64;
            <$p>::with_store(|s| s.exceptions.insert(exn));
            exn
        }

        #[no_mangle]
        extern "C" fn hako_exn_free(_vmctx: *mut $crate::__abi::vm::VmContext, exn: *const u8) {
            use $crate::shims::Platform;
            // SAFETY: compiled code passes an exception it caught, which nothing freed (a
            // catch frees it once; a captured one is never freed).
            if unsafe { $crate::exn::free(exn as *mut $crate::__abi::vm::ExceptionHeader) } {
                <$p>::with_store(|s| s.exceptions.remove(&(exn as u64)));
            }
        }

        /// Runs `op` on the store with the conservative roots of a collection: the words of
        /// the running Wasm frames and registers, and those of the payloads of the
        /// exceptions not freed (an `exnref`, wherever it is kept, keeps what it carries).
        fn __with_roots<T>(
            op: impl FnOnce(&mut $crate::store::Store, &mut dyn FnMut(&mut dyn FnMut(u64))) -> T,
        ) -> T {
            use $crate::shims::Platform;
            <$p>::with_store(|s| {
                let live = core::mem::take(&mut s.exceptions);
                let r = op(s, &mut |f| {
                    <$p>::scan_stack(f);
                    for &exn in &live {
                        // SAFETY: `live` holds the exceptions allocated and not freed.
                        unsafe {
                            $crate::exn::payload_words(
                                exn as *const $crate::__abi::vm::ExceptionHeader,
                                f,
                            )
                        }
                    }
                });
                s.exceptions = live;
                r
            })
        }

        /// The value of a builtin that returns an address or traps.
        fn __value(r: Result<u64, $crate::__abi::trap::TrapCode>) -> u64 {
            match r {
                Ok(v) => v,
                Err(t) => {
                    __check(Err(t));
                    0
                }
            }
        }

        #[no_mangle]
        extern "C" fn hako_gc_alloc(
            vmctx: *mut $crate::__abi::vm::VmContext,
            type_id: u32,
            bytes: u64,
            len: u32,
        ) -> u64 {
            let _ = __instance(vmctx);
            __value(__with_roots(|s, roots| {
                s.gc_alloc(type_id, bytes, len, roots)
            }))
        }

        #[no_mangle]
        extern "C" fn hako_gc_is_subtype(
            vmctx: *mut $crate::__abi::vm::VmContext,
            actual: u32,
            expected: u32,
        ) -> u32 {
            use $crate::shims::Platform;
            let _ = __instance(vmctx);
            u32::from(<$p>::with_store(|s| s.gc_is_subtype(actual, expected)))
        }

        #[no_mangle]
        extern "C" fn hako_array_new_data(
            vmctx: *mut $crate::__abi::vm::VmContext,
            type_id: u32,
            data: u32,
            src: u64,
            len: u64,
        ) -> u64 {
            let i = __instance(vmctx);
            __value(__with_roots(|s, roots| {
                s.array_new_data(i, type_id, data, src, len, roots)
            }))
        }

        #[no_mangle]
        extern "C" fn hako_array_new_elem(
            vmctx: *mut $crate::__abi::vm::VmContext,
            type_id: u32,
            elem: u32,
            src: u64,
            len: u64,
        ) -> u64 {
            let i = __instance(vmctx);
            __value(__with_roots(|s, roots| {
                s.array_new_elem(i, type_id, elem, src, len, roots)
            }))
        }

        #[no_mangle]
        extern "C" fn hako_array_init_data(
            vmctx: *mut $crate::__abi::vm::VmContext,
            array: *const u8,
            data: u32,
            dst: u64,
            src: u64,
            len: u64,
        ) {
            use $crate::shims::Platform;
            let i = __instance(vmctx);
            __check(<$p>::with_store(|s| {
                s.array_init_data(i, array as u64, data, dst, src, len)
            }));
        }

        #[no_mangle]
        extern "C" fn hako_array_init_elem(
            vmctx: *mut $crate::__abi::vm::VmContext,
            array: *const u8,
            elem: u32,
            dst: u64,
            src: u64,
            len: u64,
        ) {
            use $crate::shims::Platform;
            let i = __instance(vmctx);
            __check(<$p>::with_store(|s| {
                s.array_init_elem(i, array as u64, elem, dst, src, len)
            }));
        }

        /// The personality routine of compiled code (see `hako_kernel::exn`).
        ///
        /// # Safety
        ///
        /// Called by the unwinder only, with its own context and the exception it raises,
        /// for frames of compiled code (whose LSDA the compiler emitted).
        #[no_mangle]
        unsafe extern "C" fn hako_personality(
            version: i32,
            actions: i32,
            class: u64,
            exn: *mut core::ffi::c_void,
            ctx: *mut core::ffi::c_void,
        ) -> i32 {
            // SAFETY: the contract above is `exn::personality`'s.
            unsafe { $crate::exn::personality(version, actions, class, exn, ctx) }
        }

        // ----- stubs ---------------------------------------------------------------------

        /// For an unresolved import returning one `i32`: `ENOSYS`, recorded on the first
        /// call. `rec` is not a context but the import's record index, put in the
        /// `FuncRef`'s `vmctx`.
        extern "C" fn __enosys_stub(rec: *mut $crate::__abi::vm::VmContext) -> i32 {
            use $crate::shims::Platform;
            // SAFETY: first thing, owning and borrowing nothing yet.
            unsafe { <$p>::stack_check() };
            let id = rec as usize;
            let first = <$p>::with_store(|s| {
                let r = s.imports.get_mut(id)?;
                let first = !r.called;
                r.called = true;
                first.then_some((r.module, r.name))
            });
            if let Some((m, n)) = first {
                let utf8 = |b| core::str::from_utf8(b).unwrap_or("<non-utf8>");
                <$p>::record(format_args!("enosys {} {}", utf8(m), utf8(n)));
            }
            $crate::__abi::wasi::errno::NOSYS as i32
        }

        /// For every other unresolved import.
        extern "C" fn __trap_stub() -> ! {
            // SAFETY: called by compiled code, which owns nothing; this frame holds nothing.
            unsafe {
                <$p as $crate::shims::Platform>::raise(
                    $crate::__abi::trap::TrapCode::UnresolvedImport as u32,
                )
            }
        }

        core::arch::global_asm!(
            r#"
            .section .text.hako_spectest, "ax"
            .global hako_spectest_nop
        hako_spectest_nop:
            ret
            .global hako_spectest_nop_tail
        hako_spectest_nop_tail:
            ret 8
            .global hako_call_c
        hako_call_c:
            mov rax, [rdi]
            mov rdi, [rdi + 8]
            sub rsp, 8
            call rax
            add rsp, 8
            ret 8
            .text
        "#
        );

        /// The address of a stub. `spectest.print*` are a bare `ret` (in the C convention,
        /// and as array calls), or `ret $8` in the tail convention (a tailcc callee without
        /// stack arguments: `hako_abi::vm::args_in_registers`); arguments, floats included,
        /// are ignored; no results. `hako_call_c` is the tail-convention entry of a C
        /// function (`Stub::CallC`): its
        /// `vmctx` (`rdi`) points to a `CFunction`, whose function it calls with the
        /// `data` in `rdi` and the other registers as they came, on a 16-byte aligned stack.
        pub fn stub(stub: $crate::store::Stub) -> *const u8 {
            extern "C" {
                fn hako_spectest_nop();
                fn hako_spectest_nop_tail();
                fn hako_call_c();
            }
            match stub {
                $crate::store::Stub::Enosys => __enosys_stub as *const u8,
                $crate::store::Stub::Trap => __trap_stub as *const u8,
                $crate::store::Stub::SpectestNop => hako_spectest_nop as *const u8,
                $crate::store::Stub::SpectestNopTail => hako_spectest_nop_tail as *const u8,
                $crate::store::Stub::CallC => hako_call_c as *const u8,
            }
        }

        // ----- WASI ----------------------------------------------------------------------

        $crate::__wasi_entry_points!($p);
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __wasi_impl {
    // Every function first sends what small stream sends left waiting
    // (`WasiCtx::flush_sends`); `sock_send` and `fd_write` (`@sends`) add to them instead.
    ($p:ty; $name:ident ($($a:ident : $t:ty),*) |$c:ident, $h:ident, $m:ident| $body:expr) => {
        $crate::__wasi_impl!(@sends $p; $name ($($a : $t),*) |$c, $h, $m| {
            $c.flush_sends($h);
            $body
        });
    };
    (@sends $p:ty; $name:ident ($($a:ident : $t:ty),*) |$c:ident, $h:ident, $m:ident| $body:expr) => {
        #[export_name = concat!("wasi_snapshot_preview1__", stringify!($name))]
        #[allow(unused_variables, unused_mut)]
        pub(super) extern "C" fn $name(vmctx: *mut $crate::__abi::vm::VmContext, $($a: $t),*) -> i32 {
            use $crate::shims::Platform;
            // SAFETY: first thing, owning and borrowing nothing yet.
            unsafe { <$p>::stack_check() };
            // SAFETY: compiled code passes its own live `VmContext`; the view lives for
            // this one call, which holds no borrow of the store (so no other view of the
            // memory exists) and runs no Wasm code.
            let mut mem = unsafe { $crate::shims::guest_memory(vmctx) };
            <$p>::with_wasi(|$c, $h| {
                let $m = &mut mem;
                $crate::wasi::ret($body)
            })
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __wasi_entry_points {
    ($p:ty) => {
        /// All 46 functions of preview1 and the 15 of the WasmEdge socket ABI
        /// (`hako_abi::wasi::symbols`).
        mod wasi_fns {
            use super::*;

            $crate::__wasi_impl!($p; args_get(argv: i32, buf: i32) |c, h, m| c.args_get(m, argv as u32, buf as u32));
            $crate::__wasi_impl!($p; args_sizes_get(argc: i32, size: i32) |c, h, m| c.args_sizes_get(m, argc as u32, size as u32));
            $crate::__wasi_impl!($p; environ_get(env: i32, buf: i32) |c, h, m| c.environ_get(m, env as u32, buf as u32));
            $crate::__wasi_impl!($p; environ_sizes_get(n: i32, size: i32) |c, h, m| c.environ_sizes_get(m, n as u32, size as u32));
            $crate::__wasi_impl!($p; clock_res_get(id: i32, out: i32) |c, h, m| c.clock_res_get(h, m, id as u32, out as u32));
            $crate::__wasi_impl!($p; clock_time_get(id: i32, precision: i64, out: i32)
                |c, h, m| c.clock_time_get(h, m, id as u32, precision as u64, out as u32));
            $crate::__wasi_impl!($p; fd_advise(fd: i32, offset: i64, len: i64, advice: i32)
                |c, h, m| c.fd_advise(fd as u32, offset as u64, len as u64, advice as u32));
            $crate::__wasi_impl!($p; fd_allocate(fd: i32, offset: i64, len: i64)
                |c, h, m| c.fd_allocate(fd as u32, offset as u64, len as u64));
            $crate::__wasi_impl!($p; fd_close(fd: i32) |c, h, m| c.fd_close(fd as u32));
            $crate::__wasi_impl!($p; fd_datasync(fd: i32) |c, h, m| c.fd_sync(fd as u32, true));
            $crate::__wasi_impl!($p; fd_fdstat_get(fd: i32, buf: i32) |c, h, m| c.fd_fdstat_get(m, fd as u32, buf as u32));
            $crate::__wasi_impl!($p; fd_fdstat_set_flags(fd: i32, flags: i32) |c, h, m| c.fd_fdstat_set_flags(fd as u32, flags as u32));
            $crate::__wasi_impl!($p; fd_fdstat_set_rights(fd: i32, base: i64, inh: i64)
                |c, h, m| c.fd_fdstat_set_rights(fd as u32, base as u64, inh as u64));
            $crate::__wasi_impl!($p; fd_filestat_get(fd: i32, buf: i32) |c, h, m| c.fd_filestat_get(m, fd as u32, buf as u32));
            $crate::__wasi_impl!($p; fd_filestat_set_size(fd: i32, size: i64) |c, h, m| c.fd_filestat_set_size(fd as u32, size as u64));
            $crate::__wasi_impl!($p; fd_filestat_set_times(fd: i32, atim: i64, mtim: i64, flags: i32)
                |c, h, m| c.fd_filestat_set_times(fd as u32, atim as u64, mtim as u64, flags as u32));
            $crate::__wasi_impl!($p; fd_pread(fd: i32, iovs: i32, n: i32, offset: i64, out: i32)
                |c, h, m| c.fd_pread(m, fd as u32, iovs as u32, n as u32, offset as u64, out as u32));
            $crate::__wasi_impl!($p; fd_prestat_dir_name(fd: i32, path: i32, len: i32)
                |c, h, m| c.fd_prestat_dir_name(m, fd as u32, path as u32, len as u32));
            $crate::__wasi_impl!($p; fd_prestat_get(fd: i32, buf: i32) |c, h, m| c.fd_prestat_get(m, fd as u32, buf as u32));
            $crate::__wasi_impl!($p; fd_pwrite(fd: i32, iovs: i32, n: i32, offset: i64, out: i32)
                |c, h, m| c.fd_pwrite(m, fd as u32, iovs as u32, n as u32, offset as u64, out as u32));
            $crate::__wasi_impl!($p; fd_read(fd: i32, iovs: i32, n: i32, nread: i32)
                |c, h, m| c.fd_read(h, m, fd as u32, iovs as u32, n as u32, nread as u32));
            $crate::__wasi_impl!($p; fd_readdir(fd: i32, buf: i32, len: i32, cookie: i64, out: i32)
                |c, h, m| c.fd_readdir(m, fd as u32, buf as u32, len as u32, cookie as u64, out as u32));
            $crate::__wasi_impl!($p; fd_renumber(fd: i32, to: i32) |c, h, m| c.fd_renumber(fd as u32, to as u32));
            $crate::__wasi_impl!($p; fd_seek(fd: i32, offset: i64, whence: i32, out: i32)
                |c, h, m| c.fd_seek(m, fd as u32, offset, whence as u32, out as u32));
            $crate::__wasi_impl!($p; fd_sync(fd: i32) |c, h, m| c.fd_sync(fd as u32, false));
            $crate::__wasi_impl!($p; fd_tell(fd: i32, out: i32) |c, h, m| c.fd_tell(m, fd as u32, out as u32));
            $crate::__wasi_impl!(@sends $p; fd_write(fd: i32, iovs: i32, n: i32, nwritten: i32)
                |c, h, m| c.fd_write(h, m, fd as u32, iovs as u32, n as u32, nwritten as u32));
            $crate::__wasi_impl!($p; path_create_directory(fd: i32, path: i32, len: i32)
                |c, h, m| c.path_create_directory(m, fd as u32, path as u32, len as u32));
            $crate::__wasi_impl!($p; path_filestat_get(fd: i32, flags: i32, path: i32, len: i32, out: i32)
                |c, h, m| c.path_filestat_get(m, fd as u32, flags as u32, path as u32, len as u32, out as u32));
            $crate::__wasi_impl!($p; path_filestat_set_times(fd: i32, flags: i32, path: i32, len: i32, atim: i64, mtim: i64, fst: i32)
                |c, h, m| c.path_filestat_set_times(m, fd as u32, flags as u32, path as u32, len as u32, atim as u64, mtim as u64, fst as u32));
            $crate::__wasi_impl!($p; path_link(fd: i32, flags: i32, path: i32, len: i32, fd2: i32, path2: i32, len2: i32)
                |c, h, m| c.path_link(m, fd as u32, flags as u32, path as u32, len as u32, fd2 as u32, path2 as u32, len2 as u32));
            $crate::__wasi_impl!($p; path_open(fd: i32, dirflags: i32, path: i32, len: i32, oflags: i32, base: i64, inh: i64, fdflags: i32, out: i32)
                |c, h, m| c.path_open(m, fd as u32, dirflags as u32, path as u32, len as u32, oflags as u32, base as u64, inh as u64, fdflags as u32, out as u32));
            $crate::__wasi_impl!($p; path_readlink(fd: i32, path: i32, len: i32, buf: i32, buflen: i32, out: i32)
                |c, h, m| c.path_readlink(m, fd as u32, path as u32, len as u32, buf as u32, buflen as u32, out as u32));
            $crate::__wasi_impl!($p; path_remove_directory(fd: i32, path: i32, len: i32)
                |c, h, m| c.path_remove_directory(m, fd as u32, path as u32, len as u32));
            $crate::__wasi_impl!($p; path_rename(fd: i32, path: i32, len: i32, fd2: i32, path2: i32, len2: i32)
                |c, h, m| c.path_rename(m, fd as u32, path as u32, len as u32, fd2 as u32, path2 as u32, len2 as u32));
            $crate::__wasi_impl!($p; path_symlink(path: i32, len: i32, fd: i32, path2: i32, len2: i32)
                |c, h, m| c.path_symlink(m, path as u32, len as u32, fd as u32, path2 as u32, len2 as u32));
            $crate::__wasi_impl!($p; path_unlink_file(fd: i32, path: i32, len: i32)
                |c, h, m| c.path_unlink_file(m, fd as u32, path as u32, len as u32));
            $crate::__wasi_impl!($p; poll_oneoff(inp: i32, out: i32, n: i32, nevents: i32)
                |c, h, m| c.poll_oneoff(h, m, inp as u32, out as u32, n as u32, nevents as u32));
            $crate::__wasi_impl!($p; proc_raise(sig: i32) |c, h, m| c.proc_raise(h, sig as u32));
            $crate::__wasi_impl!($p; random_get(buf: i32, len: i32) |c, h, m| c.random_get(h, m, buf as u32, len as u32));
            $crate::__wasi_impl!($p; sched_yield() |c, h, m| c.sched_yield());
            $crate::__wasi_impl!($p; sock_accept(fd: i32, flags: i32, out: i32)
                |c, h, m| c.sock_accept(h, m, fd as u32, flags as u32, out as u32));
            $crate::__wasi_impl!($p; sock_recv(fd: i32, iovs: i32, n: i32, flags: i32, out: i32, oflags: i32)
                |c, h, m| c.sock_recv(h, m, fd as u32, iovs as u32, n as u32, flags as u32, out as u32, oflags as u32));
            $crate::__wasi_impl!(@sends $p; sock_send(fd: i32, iovs: i32, n: i32, flags: i32, out: i32)
                |c, h, m| c.sock_send(h, m, fd as u32, iovs as u32, n as u32, flags as u32, out as u32));
            $crate::__wasi_impl!($p; sock_shutdown(fd: i32, how: i32) |c, h, m| c.sock_shutdown(fd as u32, how as u32));

            // The WasmEdge socket ABI (`hako_abi::wasi::SOCKETS`).
            $crate::__wasi_impl!($p; sock_open(af: i32, ty: i32, out: i32)
                |c, h, m| c.sock_open(m, af as u32, ty as u32, out as u32));
            $crate::__wasi_impl!($p; sock_bind(fd: i32, addr: i32, port: i32)
                |c, h, m| c.sock_bind(m, fd as u32, addr as u32, port as u32));
            $crate::__wasi_impl!($p; sock_connect(fd: i32, addr: i32, port: i32)
                |c, h, m| c.sock_connect(h, m, fd as u32, addr as u32, port as u32));
            $crate::__wasi_impl!($p; sock_listen(fd: i32, backlog: i32) |c, h, m| c.sock_listen(fd as u32, backlog as u32));
            $crate::__wasi_impl!($p; sock_accept_v1(fd: i32, out: i32)
                |c, h, m| c.sock_accept_v1(h, m, fd as u32, out as u32));
            $crate::__wasi_impl!($p; sock_recv_from(fd: i32, iovs: i32, n: i32, addr: i32, flags: i32, port: i32, out: i32, oflags: i32)
                |c, h, m| c.sock_recv_from(h, m, fd as u32, iovs as u32, n as u32, addr as u32, flags as u32, Some(port as u32), out as u32, oflags as u32));
            $crate::__wasi_impl!($p; sock_recv_from_v1(fd: i32, iovs: i32, n: i32, addr: i32, flags: i32, out: i32, oflags: i32)
                |c, h, m| c.sock_recv_from_v1(h, m, fd as u32, iovs as u32, n as u32, addr as u32, flags as u32, out as u32, oflags as u32));
            $crate::__wasi_impl!($p; sock_send_to(fd: i32, iovs: i32, n: i32, addr: i32, port: i32, flags: i32, out: i32)
                |c, h, m| c.sock_send_to(h, m, fd as u32, iovs as u32, n as u32, addr as u32, port as u32, flags as u32, out as u32));
            $crate::__wasi_impl!($p; sock_getlocaladdr(fd: i32, addr: i32, port: i32)
                |c, h, m| c.sock_getaddr(m, fd as u32, false, addr as u32, port as u32));
            $crate::__wasi_impl!($p; sock_getpeeraddr(fd: i32, addr: i32, port: i32)
                |c, h, m| c.sock_getaddr(m, fd as u32, true, addr as u32, port as u32));
            $crate::__wasi_impl!($p; sock_getlocaladdr_v1(fd: i32, addr: i32, ty: i32, port: i32)
                |c, h, m| c.sock_getaddr_v1(m, fd as u32, false, addr as u32, ty as u32, port as u32));
            $crate::__wasi_impl!($p; sock_getpeeraddr_v1(fd: i32, addr: i32, ty: i32, port: i32)
                |c, h, m| c.sock_getaddr_v1(m, fd as u32, true, addr as u32, ty as u32, port as u32));
            $crate::__wasi_impl!($p; sock_getsockopt(fd: i32, level: i32, name: i32, flag: i32, size: i32)
                |c, h, m| c.sock_getsockopt(m, fd as u32, level as u32, name as u32, flag as u32, size as u32));
            $crate::__wasi_impl!($p; sock_setsockopt(fd: i32, level: i32, name: i32, flag: i32, size: i32)
                |c, h, m| c.sock_setsockopt(m, fd as u32, level as u32, name as u32, flag as u32, size as u32));
            $crate::__wasi_impl!($p; sock_getaddrinfo(node: i32, node_len: i32, serv: i32, serv_len: i32, hints: i32, res: i32, max: i32, res_len: i32)
                |c, h, m| c.sock_getaddrinfo(m, node as u32, node_len as u32, serv as u32, serv_len as u32, hints as u32, res as u32, max as u32, res_len as u32));

            #[export_name = "wasi_snapshot_preview1__proc_exit"]
            pub(super) extern "C" fn proc_exit(_vmctx: *mut $crate::__abi::vm::VmContext, status: i32) -> ! {
                use $crate::shims::Platform;
                <$p>::with_wasi(|c, h| c.proc_exit(h, status as u32))
            }
        }

        /// The definition of WASI function `name`, for imports the compiler did not link.
        pub fn wasi_symbol(name: &str) -> Option<*const u8> {
            use wasi_fns::*;
            $crate::__wasi_symbol_table!(name;
                args_get, args_sizes_get, clock_res_get, clock_time_get, environ_get,
                environ_sizes_get, fd_advise, fd_allocate, fd_close, fd_datasync, fd_fdstat_get,
                fd_fdstat_set_flags, fd_fdstat_set_rights, fd_filestat_get, fd_filestat_set_size,
                fd_filestat_set_times, fd_pread, fd_prestat_dir_name, fd_prestat_get, fd_pwrite,
                fd_read, fd_readdir, fd_renumber, fd_seek, fd_sync, fd_tell, fd_write,
                path_create_directory, path_filestat_get, path_filestat_set_times, path_link,
                path_open, path_readlink, path_remove_directory, path_rename, path_symlink,
                path_unlink_file, poll_oneoff, proc_exit, proc_raise, random_get, sched_yield,
                sock_accept, sock_recv, sock_send, sock_shutdown, sock_open, sock_bind,
                sock_connect, sock_listen, sock_accept_v1, sock_recv_from, sock_recv_from_v1,
                sock_send_to, sock_getlocaladdr, sock_getpeeraddr, sock_getlocaladdr_v1,
                sock_getpeeraddr_v1, sock_getsockopt, sock_setsockopt, sock_getaddrinfo
            )
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __wasi_symbol_table {
    ($name:ident; $($n:ident),* $(,)?) => {
        match $name {
            $(stringify!($n) => Some($n as *const u8),)*
            _ => None,
        }
    };
}
