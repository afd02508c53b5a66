//! A host-side execution harness: loads the compiled ELF object into low memory (the object
//! uses the small code model with absolute 32-bit relocations, like in the kernel),
//! instantiates the module from its descriptor as the kernel would (constant expressions
//! through the kernel's own evaluator, `hako_abi::constexpr`), and calls exports through
//! their array-call trampolines.
//!
//! Every call runs in a forked child, so a trap (the `hako_trap` builtin exits with
//! `100 + code`) or a guard-region fault (SIGSEGV/SIGBUS) ends only the child; results and
//! output come back through a shared page.
#![allow(dead_code)]

use std::collections::HashMap;
use std::ptr;

use hako_abi::constexpr::{self, ConstEnv};
use hako_abi::module::*;
use hako_abi::trap::TrapCode;
use hako_abi::vm::*;
use object::{Object, ObjectSection, ObjectSymbol, RelocationFlags, RelocationTarget};

pub use hako_compiler::{compile, OptLevel, Options};

/// What happened to a call.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Returned(Vec<ValRaw>),
    Trap(TrapCode),
    Exit(i32),
    Crash(String),
}

const SHARED_SIZE: usize = 1 << 20;

pub struct Instance {
    desc: &'static ModuleDescriptor,
    vmctx: Box<VmContext>,
    exports: HashMap<String, (u32, u32)>,
    shared: *mut u8,
    _keep: Vec<Box<dyn std::any::Any>>,
}

fn mmap(len: usize, prot: i32, flags: i32) -> *mut u8 {
    // SAFETY: an anonymous private mapping at an address of the kernel's choosing aliases
    // nothing; failure is checked below.
    let p = unsafe {
        libc::mmap(
            ptr::null_mut(),
            len,
            prot,
            flags | libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    assert_ne!(p, libc::MAP_FAILED, "mmap failed");
    p.cast()
}

/// Loads `obj` into freshly mapped memory below 2 GiB and returns the address of `symbol`.
fn load_object(obj: &[u8], symbol: &str) -> usize {
    let file = object::File::parse(obj).expect("object parses");
    let total: usize = file
        .sections()
        .map(|s| s.size() as usize + s.align() as usize)
        .sum::<usize>()
        + 64 * 1024;
    let region = mmap(
        total,
        libc::PROT_READ | libc::PROT_WRITE | libc::PROT_EXEC,
        libc::MAP_32BIT,
    );
    let mut next = region as usize;
    let mut section_addr = HashMap::new();
    for s in file.sections() {
        let name = s.name().unwrap_or("");
        if s.size() == 0
            || !(name.starts_with(".text")
                || name.starts_with(".rodata")
                || name.starts_with(".data")
                || name.starts_with(".bss")
                || name.starts_with(".lrodata"))
        {
            continue;
        }
        let align = s.align().max(1) as usize;
        next = next.div_ceil(align) * align;
        if let Ok(data) = s.data() {
            // SAFETY: `next..next + size` lies inside `region`, sized above as the sum of all
            // section sizes plus alignment, and freshly mapped (no overlap with `data`).
            unsafe { ptr::copy_nonoverlapping(data.as_ptr(), next as *mut u8, data.len()) };
        }
        section_addr.insert(s.index(), next);
        next += s.size() as usize;
    }
    // Stubs for undefined symbols: movabs rax, addr; jmp rax.
    let mut stubs: HashMap<String, usize> = HashMap::new();
    let mut stub = |name: &str, next: &mut usize| -> usize {
        if let Some(a) = stubs.get(name) {
            return *a;
        }
        let target = host_symbol(name).unwrap_or_else(|| panic!("undefined symbol {name}"));
        *next = (*next).div_ceil(16) * 16;
        let at = *next;
        let mut code = vec![0x48, 0xb8];
        code.extend_from_slice(&(target as u64).to_le_bytes());
        code.extend_from_slice(&[0xff, 0xe0]);
        // SAFETY: stubs go in the 64 KiB slack after the sections, inside `region`.
        unsafe { ptr::copy_nonoverlapping(code.as_ptr(), at as *mut u8, code.len()) };
        *next += code.len();
        stubs.insert(name.to_string(), at);
        at
    };
    let mut symbol_addr = |idx: object::SymbolIndex, next: &mut usize| -> usize {
        let sym = file.symbol_by_index(idx).unwrap();
        if sym.is_undefined() {
            return stub(sym.name().unwrap(), next);
        }
        let sec = sym.section_index().expect("symbol in a section");
        section_addr[&sec] + sym.address() as usize
    };
    for s in file.sections() {
        let Some(&base) = section_addr.get(&s.index()) else {
            continue;
        };
        for (offset, rel) in s.relocations() {
            let RelocationTarget::Symbol(sym) = rel.target() else {
                panic!("relocation target")
            };
            let s_addr = symbol_addr(sym, &mut next) as i64;
            let p = base + offset as usize;
            let a = rel.addend();
            let RelocationFlags::Elf { r_type } = rel.flags() else {
                panic!("not ELF")
            };
            // SAFETY: `p` is an offset the object's own relocation gives inside a section
            // copied into `region`; unaligned writes because relocations need no alignment.
            unsafe {
                match r_type {
                    object::elf::R_X86_64_64 => {
                        (p as *mut u64).write_unaligned((s_addr + a) as u64)
                    }
                    object::elf::R_X86_64_PC32 | object::elf::R_X86_64_PLT32 => {
                        let v = s_addr + a - p as i64;
                        (p as *mut i32).write_unaligned(i32::try_from(v).expect("PC32 in range"))
                    }
                    object::elf::R_X86_64_32 => (p as *mut u32)
                        .write_unaligned(u32::try_from(s_addr + a).expect("32 in range")),
                    object::elf::R_X86_64_32S => (p as *mut i32)
                        .write_unaligned(i32::try_from(s_addr + a).expect("32S in range")),
                    other => panic!("unsupported relocation type {other}"),
                }
            }
        }
    }
    let sym = file
        .symbols()
        .find(|s| s.name() == Ok(symbol))
        .expect("descriptor symbol");
    symbol_addr(sym.index(), &mut next)
}

// ---- builtins and WASI, as the kernel would provide them (enough for tests) ----

static mut SHARED: *mut u8 = ptr::null_mut();
const OUT_LEN_AT: usize = 0x8000; // u64 length of captured output
const OUT_AT: usize = 0x8008;

/// # Safety
/// `vmctx` is the live context of an [`Instance`] with a memory.
unsafe fn mem(vmctx: *mut VmContext) -> &'static mut MemoryDef {
    // SAFETY: guaranteed by the caller; `memory0` points into the instance's kept boxes.
    unsafe { &mut *(*vmctx).memory0 }
}

extern "C" fn hako_trap(_vmctx: *mut VmContext, code: u32) -> ! {
    // SAFETY: `_exit` ends the forked child at once, which is how the harness reports traps.
    unsafe { libc::_exit(100 + code as i32) }
}

extern "C" fn hako_memory_grow(vmctx: *mut VmContext, memory: u32, delta: u64) -> u64 {
    // SAFETY: compiled code passes its own live context and a valid memory index; the
    // memory's reservation covers 4 GiB, so `mprotect` of up to 65536 pages stays inside it.
    unsafe {
        let m = &mut **(*vmctx).memories.add(memory as usize);
        let old = m.size / WASM_PAGE_SIZE;
        if old + delta > 65536 {
            return u64::MAX;
        }
        let new = (old + delta) * WASM_PAGE_SIZE;
        if new > 0
            && libc::mprotect(
                m.base.cast(),
                new as usize,
                libc::PROT_READ | libc::PROT_WRITE,
            ) != 0
        {
            return u64::MAX;
        }
        m.size = new;
        old
    }
}

fn bounds(vmctx: *mut VmContext, addr: u64, len: u64) -> *mut u8 {
    // SAFETY: `vmctx` comes from compiled code (a live instance); the range is checked
    // against the memory's size before the pointer is formed.
    unsafe {
        let m = mem(vmctx);
        if addr.checked_add(len).is_none_or(|end| end > m.size) {
            hako_trap(vmctx, TrapCode::MemoryOutOfBounds as u32);
        }
        m.base.add(addr as usize)
    }
}

extern "C" fn hako_memory_fill(vmctx: *mut VmContext, _m: u32, dst: u64, value: u32, len: u64) {
    let p = bounds(vmctx, dst, len);
    // SAFETY: `bounds` checked `dst..dst + len` against the memory's size.
    unsafe { ptr::write_bytes(p, value as u8, len as usize) }
}

extern "C" fn hako_memory_copy(
    vmctx: *mut VmContext,
    _d: u32,
    _s: u32,
    dst: u64,
    src: u64,
    len: u64,
) {
    let (d, s) = (bounds(vmctx, dst, len), bounds(vmctx, src, len));
    // SAFETY: both ranges were checked by `bounds`; `copy` allows overlap.
    unsafe { ptr::copy(s, d, len as usize) }
}

extern "C" fn not_in_harness(_vmctx: *mut VmContext) {
    // SAFETY: ends the forked child; 99 tells the parent a builtin was missing.
    unsafe { libc::_exit(99) }
}

fn out(bytes: &[u8]) {
    // SAFETY: `SHARED` is the shared page set before the call in the child; writes stay
    // below `SHARED_SIZE` (`n` is clamped).
    unsafe {
        let len = (SHARED.add(OUT_LEN_AT) as *mut u64).read() as usize;
        let n = bytes.len().min(SHARED_SIZE - OUT_AT - len);
        ptr::copy_nonoverlapping(bytes.as_ptr(), SHARED.add(OUT_AT + len), n);
        (SHARED.add(OUT_LEN_AT) as *mut u64).write((len + n) as u64);
    }
}

extern "C" fn wasi_fd_write(
    vmctx: *mut VmContext,
    fd: i32,
    iovs: u32,
    n: u32,
    nwritten: u32,
) -> i32 {
    if fd != 1 && fd != 2 {
        return 8;
    }
    let mut total = 0u32;
    for i in 0..n {
        let iov = bounds(vmctx, u64::from(iovs) + 8 * u64::from(i), 8);
        // SAFETY: `iov` points at 8 checked bytes of linear memory.
        let (buf, len) = unsafe {
            (
                (iov as *const u32).read_unaligned(),
                (iov.add(4) as *const u32).read_unaligned(),
            )
        };
        let p = bounds(vmctx, u64::from(buf), u64::from(len));
        // SAFETY: `bounds` checked `buf..buf + len`.
        out(unsafe { std::slice::from_raw_parts(p, len as usize) });
        total += len;
    }
    // SAFETY: 4 checked bytes of linear memory.
    unsafe { (bounds(vmctx, u64::from(nwritten), 4) as *mut u32).write_unaligned(total) };
    0
}

extern "C" fn wasi_proc_exit(_vmctx: *mut VmContext, code: i32) {
    // SAFETY: ends the forked child with the program's status.
    unsafe { libc::_exit(code & 0x3f) }
}

extern "C" fn wasi_sizes_get(vmctx: *mut VmContext, count: u32, size: u32) -> i32 {
    // SAFETY: 4 checked bytes of linear memory each.
    unsafe {
        (bounds(vmctx, u64::from(count), 4) as *mut u32).write_unaligned(0);
        (bounds(vmctx, u64::from(size), 4) as *mut u32).write_unaligned(0);
    }
    0
}

extern "C" fn wasi_zero(_vmctx: *mut VmContext) -> i32 {
    0
}

extern "C" fn wasi_badf(_vmctx: *mut VmContext) -> i32 {
    8
}

fn host_symbol(name: &str) -> Option<usize> {
    Some(match name {
        "hako_trap" => hako_trap as *const () as usize,
        "hako_memory_grow" => hako_memory_grow as *const () as usize,
        "hako_memory_fill" => hako_memory_fill as *const () as usize,
        "hako_memory_copy" => hako_memory_copy as *const () as usize,
        "wasi_snapshot_preview1__fd_write" => wasi_fd_write as *const () as usize,
        "wasi_snapshot_preview1__proc_exit" => wasi_proc_exit as *const () as usize,
        "wasi_snapshot_preview1__args_sizes_get" | "wasi_snapshot_preview1__environ_sizes_get" => {
            wasi_sizes_get as *const () as usize
        }
        "wasi_snapshot_preview1__args_get" | "wasi_snapshot_preview1__environ_get" => {
            wasi_zero as *const () as usize
        }
        n if n.starts_with("wasi_snapshot_preview1__") => wasi_badf as *const () as usize,
        n if n.starts_with("hako_") => not_in_harness as *const () as usize,
        _ => return None,
    })
}

// ---- instantiation ----

/// What the descriptor's constant expressions refer to while the harness instantiates a
/// module: the globals initialised so far and the instance's function references.
struct HarnessEnv<'a> {
    globals: &'a [*mut ValRaw],
    funcs: &'a [FuncRef],
}

impl ConstEnv for HarnessEnv<'_> {
    fn global(&self, index: u32) -> Option<ValRaw> {
        let slot = *self.globals.get(index as usize)?;
        // SAFETY: every slot is a live `Box<ValRaw>` of the instance being built.
        Some(unsafe { *slot })
    }

    fn func_ref(&self, index: u32) -> Option<u64> {
        let f = self.funcs.get(index as usize)?;
        Some(f as *const FuncRef as u64)
    }
}

/// Evaluates `expr` with the kernel's evaluator (`hako_abi::constexpr`).
///
/// # Safety
/// `expr` comes from a loaded descriptor (its ops are static data of the loaded object).
unsafe fn eval(expr: &ConstExpr, env: &HarnessEnv<'_>) -> ValRaw {
    // SAFETY: guaranteed by the caller.
    let ops = unsafe { expr.as_slice() };
    let mut env = HarnessEnv {
        globals: env.globals,
        funcs: env.funcs,
    };
    constexpr::eval(ops, &mut env).unwrap_or_else(|e| panic!("constant expression: {e:?}"))
}

impl Instance {
    pub fn new(wasm: &[u8]) -> Instance {
        Self::with_options(wasm, &Options::default())
    }

    pub fn with_options(wasm: &[u8], options: &Options) -> Instance {
        let compiled = compile(wasm, options).unwrap_or_else(|e| panic!("{e}"));
        let symbol = compiled.descriptor_symbol.clone();
        // A module compiled in parts is loaded as the one object they merge into.
        let object = compiled.into_object().unwrap_or_else(|e| panic!("{e}"));
        let addr = load_object(&object, &symbol);
        // SAFETY: `addr` is the loaded descriptor symbol; the mapping is never unmapped.
        let desc: &'static ModuleDescriptor = unsafe { &*(addr as *const ModuleDescriptor) };
        assert_eq!(desc.abi_version, hako_abi::ABI_VERSION);
        let mut keep: Vec<Box<dyn std::any::Any>> = Vec::new();
        // SAFETY: every slice comes from the descriptor the compiler emitted (valid static
        // data); every pointer stored in the context points into `keep` or fresh mappings,
        // which live as long as the instance.
        unsafe {
            let types = desc.types.as_slice();
            let type_ids: Vec<u32> = types
                .iter()
                .map(|t| {
                    types
                        .iter()
                        .position(|u| {
                            u.params.as_slice() == t.params.as_slice()
                                && u.results.as_slice() == t.results.as_slice()
                        })
                        .unwrap() as u32
                })
                .collect();
            let imports = desc.imports.as_slice();
            assert!(
                imports.iter().all(|i| i.kind == extern_kind::FUNC),
                "harness: only function imports"
            );
            let mut funcs: Vec<FuncRef> = Vec::new();
            let mut vmctx = Box::new(VmContext {
                memory0: ptr::null_mut(),
                memories: ptr::null(),
                tables: ptr::null(),
                globals: ptr::null(),
                funcs: ptr::null(),
                type_ids: ptr::null(),
                instance: ptr::null_mut(),
                tags: ptr::null(),
            });
            let vp: *mut VmContext = &mut *vmctx;
            for i in imports {
                let code = if i.linked.is_null() {
                    not_in_harness as *const u8
                } else {
                    i.linked
                };
                funcs.push(FuncRef {
                    code,
                    array_call: ptr::null(),
                    vmctx: vp,
                    type_id: type_ids[i.type_index as usize],
                    _pad: 0,
                });
            }
            for f in desc.functions.as_slice() {
                funcs.push(FuncRef {
                    code: f.code,
                    array_call: f.array_call,
                    vmctx: vp,
                    type_id: type_ids[f.type_index as usize],
                    _pad: 0,
                });
            }
            let funcs = funcs.into_boxed_slice();
            let funcs_ptr = funcs.as_ptr();
            let mut memories: Vec<*mut MemoryDef> = Vec::new();
            for m in desc.memories.as_slice() {
                let base = mmap(
                    GUARDED_MEMORY_RESERVATION as usize,
                    libc::PROT_NONE,
                    libc::MAP_NORESERVE,
                );
                let size = m.min_pages * WASM_PAGE_SIZE;
                if size > 0 {
                    assert_eq!(
                        libc::mprotect(
                            base.cast(),
                            size as usize,
                            libc::PROT_READ | libc::PROT_WRITE
                        ),
                        0
                    );
                }
                memories.push(Box::into_raw(Box::new(MemoryDef { base, size })));
            }
            let mut globals: Vec<*mut ValRaw> = Vec::new();
            for g in desc.globals.as_slice() {
                let env = HarnessEnv {
                    globals: &globals,
                    funcs: &funcs,
                };
                let v = eval(&g.init, &env);
                globals.push(Box::into_raw(Box::new(v)));
            }
            let env = HarnessEnv {
                globals: &globals,
                funcs: &funcs,
            };
            let mut tables: Vec<*mut TableDef> = Vec::new();
            for t in desc.tables.as_slice() {
                let entries = vec![ptr::null::<u8>(); t.min as usize].into_boxed_slice();
                let len = entries.len() as u64;
                tables.push(Box::into_raw(Box::new(TableDef {
                    base: Box::into_raw(entries).cast(),
                    len,
                })));
            }
            vmctx.memory0 = memories.first().copied().unwrap_or(ptr::null_mut());
            for e in desc.elements.as_slice() {
                if e.mode != segment_mode::ACTIVE {
                    continue;
                }
                let offset = eval(&e.offset, &env).u32() as usize;
                let t = &*tables[e.table as usize];
                for (i, item) in e.items.as_slice().iter().enumerate() {
                    assert!(offset + i < t.len as usize, "element segment out of bounds");
                    *t.base.add(offset + i) = eval(item, &env).u64() as usize as *const u8;
                }
            }
            for d in desc.data.as_slice() {
                if d.mode != segment_mode::ACTIVE {
                    continue;
                }
                let offset = eval(&d.offset, &env).u32() as u64;
                let m = &*memories[d.memory as usize];
                let bytes = d.bytes.as_slice();
                assert!(
                    offset + bytes.len() as u64 <= m.size,
                    "data segment out of bounds"
                );
                ptr::copy_nonoverlapping(bytes.as_ptr(), m.base.add(offset as usize), bytes.len());
            }
            let type_ids = type_ids.into_boxed_slice();
            let memories = memories.into_boxed_slice();
            let globals = globals.into_boxed_slice();
            let tables = tables.into_boxed_slice();
            vmctx.memories = memories.as_ptr();
            vmctx.globals = globals.as_ptr();
            vmctx.tables = tables.as_ptr();
            vmctx.funcs = funcs_ptr;
            vmctx.type_ids = type_ids.as_ptr();
            keep.push(Box::new(funcs));
            keep.push(Box::new(type_ids));
            keep.push(Box::new(memories));
            keep.push(Box::new(globals));
            keep.push(Box::new(tables));
            let mut exports = HashMap::new();
            for e in desc.exports.as_slice() {
                if e.kind == extern_kind::FUNC {
                    let name = String::from_utf8(e.name.as_slice().to_vec()).unwrap();
                    let f = &desc.functions.as_slice()[(e.index as usize) - imports.len()];
                    exports.insert(name, (e.index, f.type_index));
                }
            }
            let shared = {
                let p = libc::mmap(
                    ptr::null_mut(),
                    SHARED_SIZE,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                );
                assert_ne!(p, libc::MAP_FAILED);
                p.cast::<u8>()
            };
            Instance {
                desc,
                vmctx,
                exports,
                shared,
                _keep: keep,
            }
        }
    }

    /// Calls export `name` with raw arguments in a forked child.
    pub fn call(&mut self, name: &str, args: &[ValRaw]) -> (Outcome, String) {
        let (index, _) = *self
            .exports
            .get(name)
            .unwrap_or_else(|| panic!("no export {name}"));
        // SAFETY: `index` is an exported function index, inside the `funcs` array.
        let funcref = unsafe { &*self.vmctx.funcs.add(index as usize) };
        // SAFETY: exported functions have an array-call trampoline of this signature.
        let tramp: ArrayCallFn = unsafe { std::mem::transmute(funcref.array_call) };
        // SAFETY: descriptor slices are valid static data.
        let nres = unsafe {
            let f =
                &self.desc.functions.as_slice()[index as usize - self.desc.imports.len as usize];
            self.desc.types.as_slice()[f.type_index as usize]
                .results
                .len as usize
        };
        // SAFETY: `shared` is a live shared mapping of SHARED_SIZE bytes holding the argument
        // slots and the captured output; the call runs in a forked child, so a fault or trap
        // in compiled code ends only the child.
        unsafe {
            ptr::write_bytes(self.shared, 0, OUT_AT);
            let values = self.shared as *mut ValRaw;
            for (i, a) in args.iter().enumerate() {
                values.add(i).write(*a);
            }
            let vmctx: *mut VmContext = &mut *self.vmctx;
            let pid = libc::fork();
            assert!(pid >= 0, "fork");
            if pid == 0 {
                SHARED = self.shared;
                tramp(vmctx, values);
                libc::_exit(0);
            }
            let mut status = 0;
            libc::waitpid(pid, &mut status, 0);
            let len = (self.shared.add(OUT_LEN_AT) as *const u64).read() as usize;
            let output =
                String::from_utf8_lossy(std::slice::from_raw_parts(self.shared.add(OUT_AT), len))
                    .into_owned();
            let outcome = if libc::WIFEXITED(status) {
                match libc::WEXITSTATUS(status) {
                    0 => Outcome::Returned((0..nres).map(|i| values.add(i).read()).collect()),
                    c if c >= 100 => {
                        Outcome::Trap(TrapCode::from_u32((c - 100) as u32).expect("trap code"))
                    }
                    c => Outcome::Exit(c),
                }
            } else if libc::WIFSIGNALED(status)
                && matches!(libc::WTERMSIG(status), libc::SIGSEGV | libc::SIGBUS)
            {
                Outcome::Trap(TrapCode::MemoryOutOfBounds)
            } else {
                Outcome::Crash(format!("status {status:#x}"))
            };
            (outcome, output)
        }
    }

    /// Calls an export and returns its single result's raw bits (only the bytes its type
    /// uses), or the trap.
    pub fn call1(&mut self, name: &str, args: &[ValRaw]) -> Result<u64, Outcome> {
        let (_, type_index) = self.exports[name];
        // SAFETY: descriptor slices are valid static data.
        let results = unsafe {
            self.desc.types.as_slice()[type_index as usize]
                .results
                .as_slice()
        };
        let narrow = matches!(results, [hako_abi::valtype::I32] | [hako_abi::valtype::F32]);
        match self.call(name, args).0 {
            Outcome::Returned(v) if v.len() == 1 && narrow => Ok(u64::from(v[0].u32())),
            Outcome::Returned(v) if v.len() == 1 => Ok(v[0].u64()),
            other => Err(other),
        }
    }
}
