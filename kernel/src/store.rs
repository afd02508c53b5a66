//! Instances, memories and tables, and instantiation from a [`ModuleDescriptor`].
//!
//! Safe code: it creates raw pointers for compiled code (the `VmContext` arrays) but never
//! dereferences one; descriptor arrays, linear-memory contents and imported global slots
//! are read through the small accessors of `hw::wasm`.

use crate::bulk;
use crate::hw::wasm as hw;
use crate::hw::Global;
use crate::link::{self, ExternType, Limits};
use crate::types::TypeRegistry;
use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::ptr;
use hako_abi::constexpr::{self, ConstEnv};
use hako_abi::module::{
    extern_kind, segment_mode, ConstExpr, GlobalType, ModuleDescriptor, Prebuilt, NO_INDEX, NO_MAX,
};
use hako_abi::trap::TrapCode;
use hako_abi::valtype;
use hako_abi::vm::{
    FuncRef, MemoryDef, TableDef, ValRaw, VmContext, GUARDED_MEMORY_RESERVATION, WASM_PAGE_SIZE,
};

/// Where linear memories are reserved: 8 GiB each from 1 TiB up to 65 TiB (virtual space
/// only; a spec script creates a few hundred memories at most, none is ever reused).
pub const LINMEM_BASE: u64 = 1 << 40;
pub const MAX_MEMORIES: u64 = 8192;
pub const LINMEM_END: u64 = LINMEM_BASE + MAX_MEMORIES * GUARDED_MEMORY_RESERVATION;
/// Pages a memory can have inside its reservation (4 GiB).
const MAX_PAGES: u64 = 65536;
/// Largest table we agree to grow to.
const MAX_TABLE: u64 = 10_000_000;

/// A linear memory. `def` is what compiled code sees.
#[repr(C)]
#[derive(Debug)]
pub struct MemoryObj {
    pub def: MemoryDef,
    /// The largest size `memory.grow` may reach (the declared max, capped by the reservation).
    pub max_pages: u64,
    /// The declared max ([`NO_MAX`] when none), for import matching.
    pub declared_max: u64,
    pub memory64: bool,
    pub shared: bool,
    /// Bytes mapped from `def.base` (at least `def.size`).
    pub mapped: u64,
}

#[derive(Debug)]
pub struct TableObj {
    pub def: TableDef,
    pub elems: Vec<*const u8>,
    /// The largest size `table.grow` may reach (the declared max, capped).
    pub max: u64,
    /// The declared max ([`NO_MAX`] when none), for import matching.
    pub declared_max: u64,
    pub elem_type: u32,
}

impl TableObj {
    fn sync(&mut self) {
        self.def.base = self.elems.as_mut_ptr();
        self.def.len = self.elems.len() as u64;
    }
}

/// Something an import can be satisfied with.
#[derive(Debug, Clone, Copy)]
pub enum Extern {
    Func(FuncRef),
    Memory(usize),
    Table(usize),
    Global(*mut ValRaw, GlobalType),
}

/// One instance. Instances live as long as the kernel, so its `VmContext` and the arrays it
/// points to (functions, globals and their slots, memory and table pointers, type ids) are
/// leaked allocations, or static data of the image for a prebuilt instance.
#[derive(Debug)]
pub struct Instance {
    pub desc: &'static ModuleDescriptor,
    /// The context compiled code runs with (kept for debugging; compiled code has it).
    #[allow(dead_code)]
    pub vmctx: *mut VmContext,
    pub funcs: &'static [FuncRef],
    pub memories: Vec<usize>,
    pub tables: Vec<usize>,
    global_ptrs: &'static [*mut ValRaw],
    /// The types of the imported globals (the descriptor has those of the defined ones).
    imported_global_types: Vec<GlobalType>,
    /// The data segments; a dropped one is empty, and one past the end counts as dropped.
    data: Vec<&'static [u8]>,
    /// The element segments, the same way.
    elems: Vec<Vec<*const u8>>,
}

#[derive(Debug)]
pub struct ImportRecord {
    pub module: &'static [u8],
    pub name: &'static [u8],
    pub called: bool,
}

/// Objects are boxed so that the addresses handed to compiled code stay put when the
/// vectors grow.
#[allow(clippy::vec_box)]
#[derive(Debug)]
pub struct Store {
    pub types: TypeRegistry,
    pub instances: Vec<Box<Instance>>,
    pub memories: Vec<Box<MemoryObj>>,
    pub tables: Vec<Box<TableObj>>,
    pub imports: Vec<ImportRecord>,
    /// The built-in `spectest` instance (script mode), see [`Store::init_spectest`].
    pub spectest: Option<Spectest>,
}

pub static STORE: Global<Store> = Global::new(Store {
    types: TypeRegistry::new(),
    instances: Vec::new(),
    memories: Vec::new(),
    tables: Vec::new(),
    imports: Vec::new(),
    spectest: None,
});

/// The kernel's `spectest` module (see `hako_abi::script`, section 5): one shared table and
/// memory, immutable globals, and no-op functions.
#[derive(Debug)]
pub struct Spectest {
    memory: usize,
    table: usize,
    _slots: Box<[ValRaw]>,
    /// `global_i32`, `global_i64`, `global_f32`, `global_f64`.
    globals: [*mut ValRaw; 4],
    /// Canonical type ids of `print`, `print_i32`, ... in [`SPECTEST_FUNCS`] order.
    func_types: [u32; 7],
}

const SPECTEST_FUNCS: [(&str, &[u8]); 7] = [
    ("print", &[]),
    ("print_i32", &[valtype::I32]),
    ("print_i64", &[valtype::I64]),
    ("print_f32", &[valtype::F32]),
    ("print_f64", &[valtype::F64]),
    ("print_i32_f32", &[valtype::I32, valtype::F32]),
    ("print_f64_f64", &[valtype::F64, valtype::F64]),
];

const SPECTEST_GLOBALS: [(&str, u8); 4] = [
    ("global_i32", valtype::I32),
    ("global_i64", valtype::I64),
    ("global_f32", valtype::F32),
    ("global_f64", valtype::F64),
];

/// Resolves an import `(module, name)` for [`Store::instantiate`].
pub type Resolver<'a> = dyn Fn(&Store, &[u8], &[u8]) -> Option<Extern> + 'a;

/// Why instantiation failed.
#[derive(Debug)]
pub enum InstError {
    /// Reported as an `error` record.
    Error(String),
    /// A segment did not fit (or the start function trapped).
    Trap(TrapCode),
    /// An import could not be resolved or does not match (strict linking only).
    Unlinkable(String),
}

fn s(b: &[u8]) -> &str {
    core::str::from_utf8(b).unwrap_or("<non-utf8>")
}

struct Env<'a> {
    globals: &'a [*mut ValRaw],
    /// Globals with index < this may be read.
    readable: usize,
    funcs: &'a [FuncRef],
}

impl ConstEnv for Env<'_> {
    fn global(&self, index: u32) -> Option<ValRaw> {
        let i = index as usize;
        (i < self.readable).then(|| hw::read_global(self.globals[i]))
    }
    fn func_ref(&self, index: u32) -> Option<u64> {
        self.funcs
            .get(index as usize)
            .map(|f| f as *const FuncRef as u64)
    }
}

/// The start function of an instance of `desc` with functions `funcs`.
fn start_function(
    desc: &ModuleDescriptor,
    funcs: &[FuncRef],
) -> Result<Option<FuncRef>, InstError> {
    match desc.start {
        NO_INDEX => Ok(None),
        i => match funcs.get(i as usize) {
            Some(f) => Ok(Some(*f)),
            None => Err(InstError::Error(format!("bad start function {i}"))),
        },
    }
}

fn eval(e: &ConstExpr, env: &Env) -> Result<ValRaw, InstError> {
    constexpr::eval(hw::slice(e), env)
        .map_err(|e| InstError::Error(format!("bad constant expression: {e:?}")))
}

impl Store {
    /// Create a memory: reserve its address range and map `min_pages`.
    pub fn new_memory(
        &mut self,
        min_pages: u64,
        declared_max: u64,
        memory64: bool,
        shared: bool,
    ) -> Result<usize, InstError> {
        let max_pages = declared_max;
        let id = self.memories.len() as u64;
        if id >= MAX_MEMORIES {
            return Err(InstError::Error("too many memories".into()));
        }
        let max_pages = if max_pages == NO_MAX {
            MAX_PAGES
        } else {
            max_pages.min(MAX_PAGES)
        };
        if min_pages > max_pages {
            return Err(InstError::Error(format!(
                "memory of {min_pages} pages is too large"
            )));
        }
        let base = LINMEM_BASE + id * GUARDED_MEMORY_RESERVATION;
        let bytes = min_pages * WASM_PAGE_SIZE;
        crate::hw::mm::map_zeroed(base, bytes).map_err(|_| {
            InstError::Error(format!("out of memory for a memory of {min_pages} pages"))
        })?;
        self.memories.push(Box::new(MemoryObj {
            def: MemoryDef {
                base: base as usize as *mut u8,
                size: bytes,
            },
            max_pages,
            declared_max,
            memory64,
            shared,
            mapped: bytes,
        }));
        Ok(id as usize)
    }

    pub fn new_table(
        &mut self,
        elem_type: u32,
        min: u64,
        declared_max: u64,
    ) -> Result<usize, InstError> {
        let (max, mut elems) = Self::table_parts(min, declared_max)?;
        elems.resize(min as usize, ptr::null());
        Ok(self.push_table(elems, elem_type, max, declared_max))
    }

    /// A table whose initial entries are `init` (a prebuilt instance's, see [`Self::adopt`]).
    fn new_table_from(
        &mut self,
        elem_type: u32,
        init: &[*const u8],
        declared_max: u64,
    ) -> Result<usize, InstError> {
        let (max, mut elems) = Self::table_parts(init.len() as u64, declared_max)?;
        elems.extend_from_slice(init);
        Ok(self.push_table(elems, elem_type, max, declared_max))
    }

    /// The largest size a table of `min` entries may grow to and an empty vector with room
    /// for them, or why the table cannot be created.
    // Inlined: adoption runs it at every boot, and under TCG a call costs translated blocks.
    #[inline(always)]
    fn table_parts(min: u64, declared_max: u64) -> Result<(u64, Vec<*const u8>), InstError> {
        let max = if declared_max == NO_MAX {
            MAX_TABLE
        } else {
            declared_max.min(MAX_TABLE)
        };
        if min > max {
            return Err(InstError::Error(format!(
                "table of {min} entries is too large"
            )));
        }
        let mut elems = Vec::new();
        elems
            .try_reserve_exact(min as usize)
            .map_err(|_| InstError::Error(format!("out of memory for a table of {min} entries")))?;
        Ok((max, elems))
    }

    fn push_table(
        &mut self,
        elems: Vec<*const u8>,
        elem_type: u32,
        max: u64,
        declared_max: u64,
    ) -> usize {
        let mut t = Box::new(TableObj {
            def: TableDef {
                base: ptr::null_mut(),
                len: 0,
            },
            elems,
            max,
            declared_max,
            elem_type,
        });
        t.sync();
        self.tables.push(t);
        self.tables.len() - 1
    }

    /// `memory.grow`: the old size in pages, or `None`.
    pub fn grow_memory(&mut self, id: usize, delta: u64) -> Option<u64> {
        let m = &mut self.memories[id];
        let old = m.def.size / WASM_PAGE_SIZE;
        let new = old.checked_add(delta)?;
        if new > m.max_pages {
            return None;
        }
        let new_bytes = new * WASM_PAGE_SIZE;
        if new_bytes > m.mapped {
            crate::hw::mm::map_zeroed(m.def.base as u64 + m.mapped, new_bytes - m.mapped).ok()?;
            m.mapped = new_bytes;
        }
        m.def.size = new_bytes;
        Some(old)
    }

    /// `table.grow`: the old size, or `None`.
    pub fn grow_table(&mut self, id: usize, init: *const u8, delta: u64) -> Option<u64> {
        let t = &mut self.tables[id];
        let old = t.elems.len() as u64;
        let new = old.checked_add(delta)?;
        if new > t.max {
            return None;
        }
        t.elems.try_reserve(delta as usize).ok()?;
        t.elems.resize(new as usize, init);
        t.sync();
        Some(old)
    }

    /// Instantiate `desc`, resolving imports with `resolve` and checking them with the
    /// spec's matching rules. Returns the instance id and the start function to run (after
    /// the store is released).
    ///
    /// `strict` (script mode): an import `resolve` does not know is `Unlinkable`. Otherwise
    /// (program mode) unknown function imports become WASI functions or stubs that answer
    /// `ENOSYS` or trap, and other unknown imports are an `Error`.
    ///
    /// When a segment traps the instance stays in the store (its functions may already be
    /// in imported tables) but the error is returned; the caller does not name it.
    pub fn instantiate(
        &mut self,
        desc: &'static ModuleDescriptor,
        resolve: &Resolver<'_>,
        strict: bool,
    ) -> Result<(usize, Option<FuncRef>), InstError> {
        if desc.abi_version != hako_abi::ABI_VERSION {
            return Err(InstError::Error(format!(
                "module ABI version {} is not the kernel's {}",
                desc.abi_version,
                hako_abi::ABI_VERSION
            )));
        }
        if !strict && self.instances.is_empty() {
            if let Some(pre) = hw::take_prebuilt(desc) {
                return self.adopt(desc, pre);
            }
        }
        let id = self.instances.len();
        let types = hw::slice(&desc.types);
        let type_ids: Vec<u32> = types
            .iter()
            .map(|t| {
                self.types
                    .intern(hw::slice(&t.params), hw::slice(&t.results))
            })
            .collect();
        let type_id = |ti: u32| -> Result<u32, InstError> {
            type_ids
                .get(ti as usize)
                .copied()
                .ok_or_else(|| InstError::Error(format!("bad type index {ti}")))
        };

        let mut vmctx = Box::new(VmContext {
            memory0: ptr::null_mut(),
            memories: ptr::null(),
            tables: ptr::null(),
            globals: ptr::null(),
            funcs: ptr::null(),
            type_ids: ptr::null(),
            instance: id as *mut u8,
        });
        let vmctx_ptr: *mut VmContext = &mut *vmctx;

        let mut funcs: Vec<FuncRef> = Vec::new();
        let mut memories = Vec::new();
        let mut tables = Vec::new();
        let mut global_ptrs: Vec<*mut ValRaw> = Vec::new();
        let mut imported_global_types = Vec::new();

        for imp in hw::slice(&desc.imports) {
            let (module, name) = (hw::slice(&imp.module), hw::slice(&imp.name));
            let tid = if imp.kind == extern_kind::FUNC {
                type_id(imp.type_index)?
            } else {
                0
            };
            let Some(expected) = ExternType::expected(imp, tid) else {
                return Err(InstError::Error(format!(
                    "unsupported import kind {} for {}.{}",
                    imp.kind,
                    s(module),
                    s(name)
                )));
            };
            if imp.kind == extern_kind::FUNC && !imp.linked.is_null() {
                funcs.push(FuncRef {
                    code: imp.linked,
                    array_call: ptr::null(),
                    vmctx: vmctx_ptr,
                    type_id: tid,
                    _pad: 0,
                });
                continue;
            }
            let found = resolve(self, module, name);
            if let Some(e) = &found {
                if let Err(m) = link::check(&expected, &self.extern_type(e)) {
                    let msg = format!(
                        "incompatible import type for {}.{}: {m}",
                        s(module),
                        s(name)
                    );
                    return Err(if strict {
                        InstError::Unlinkable(msg)
                    } else {
                        InstError::Error(msg)
                    });
                }
            }
            match found {
                Some(Extern::Func(f)) => funcs.push(f),
                Some(Extern::Memory(m)) => memories.push(m),
                Some(Extern::Table(t)) => tables.push(t),
                Some(Extern::Global(p, t)) => {
                    global_ptrs.push(p);
                    imported_global_types.push(t);
                }
                None if strict => {
                    return Err(InstError::Unlinkable(format!(
                        "unknown import {}.{}",
                        s(module),
                        s(name)
                    )))
                }
                None if imp.kind == extern_kind::FUNC => {
                    let f = if let Some(code) = self.wasi_function(module, name, tid) {
                        FuncRef {
                            code,
                            array_call: ptr::null(),
                            vmctx: vmctx_ptr,
                            type_id: tid,
                            _pad: 0,
                        }
                    } else {
                        crate::hw::serial::record(format_args!(
                            "unresolved {} {}",
                            s(module),
                            s(name)
                        ));
                        self.imports.push(ImportRecord {
                            module,
                            name,
                            called: false,
                        });
                        let rec = self.imports.len() - 1;
                        let (_, results) = self.types.get(tid).unwrap_or((&[], &[]));
                        let code = if results == [valtype::I32] {
                            hw::enosys_stub_addr()
                        } else {
                            hw::trap_stub_addr()
                        };
                        FuncRef {
                            code,
                            array_call: ptr::null(),
                            vmctx: rec as *mut VmContext,
                            type_id: tid,
                            _pad: 0,
                        }
                    };
                    funcs.push(f);
                }
                None => {
                    crate::hw::serial::record(format_args!("unresolved {} {}", s(module), s(name)));
                    self.imports.push(ImportRecord {
                        module,
                        name,
                        called: false,
                    });
                    return Err(InstError::Error(format!(
                        "unresolved {} import {}.{}",
                        expected.kind_name(),
                        s(module),
                        s(name)
                    )));
                }
            }
        }
        for f in hw::slice(&desc.functions) {
            funcs.push(FuncRef {
                code: f.code,
                array_call: f.array_call,
                vmctx: vmctx_ptr,
                type_id: type_id(f.type_index)?,
                _pad: 0,
            });
        }
        let mut funcs = funcs.into_boxed_slice();

        for m in hw::slice(&desc.memories) {
            memories.push(self.new_memory(
                m.min_pages,
                m.max_pages,
                m.memory64 != 0,
                m.shared != 0,
            )?);
        }
        for t in hw::slice(&desc.tables) {
            tables.push(self.new_table(t.elem_type, t.min, t.max)?);
        }

        // Globals: defined slots live in one boxed array; initialisers may read imported
        // (and, with extended-const/GC, earlier) globals.
        let defined = hw::slice(&desc.globals);
        let mut slots = vec![ValRaw::default(); defined.len()].into_boxed_slice();
        let num_imported_globals = global_ptrs.len();
        for slot in slots.iter_mut() {
            global_ptrs.push(slot);
        }
        for (i, g) in defined.iter().enumerate() {
            let env = Env {
                globals: &global_ptrs,
                readable: num_imported_globals + i,
                funcs: &funcs,
            };
            slots[i] = eval(&g.init, &env)?;
        }
        // Re-take the slot pointers after the writes above (same addresses; keeps the
        // pointers derived from the final borrow).
        for (i, slot) in slots.iter_mut().enumerate() {
            global_ptrs[num_imported_globals + i] = slot;
        }

        let memory_ptrs: Vec<*mut MemoryDef> = memories
            .iter()
            .map(|&m| &mut self.memories[m].def as *mut MemoryDef)
            .collect();
        let table_ptrs: Vec<*mut TableDef> = tables
            .iter()
            .map(|&t| &mut self.tables[t].def as *mut TableDef)
            .collect();
        vmctx.memory0 = memory_ptrs.first().copied().unwrap_or(ptr::null_mut());
        vmctx.memories = memory_ptrs.as_ptr();
        vmctx.tables = table_ptrs.as_ptr();
        vmctx.globals = global_ptrs.as_ptr();
        vmctx.funcs = funcs.as_mut_ptr();
        vmctx.type_ids = type_ids.as_ptr();

        // Element segments, evaluated now.
        let mut elems = Vec::new();
        for seg in hw::slice(&desc.elements) {
            let env = Env {
                globals: &global_ptrs,
                readable: global_ptrs.len(),
                funcs: &funcs,
            };
            let items = hw::slice(&seg.items)
                .iter()
                .map(|e| eval(e, &env).map(|v| v.u64() as usize as *const u8))
                .collect::<Result<Vec<_>, _>>()?;
            elems.push(items);
        }
        let data: Vec<&'static [u8]> = hw::slice(&desc.data)
            .iter()
            .map(|d| hw::slice(&d.bytes))
            .collect();

        let start = start_function(desc, &funcs)?;
        // Compiled code holds on to all of these for the instance's (the kernel's) lifetime.
        Box::leak(slots);
        Vec::leak(memory_ptrs);
        Vec::leak(table_ptrs);
        Vec::leak(type_ids);
        self.instances.push(Box::new(Instance {
            desc,
            vmctx: Box::into_raw(vmctx),
            funcs: Box::leak(funcs),
            memories,
            tables,
            global_ptrs: Vec::leak(global_ptrs),
            imported_global_types,
            data,
            elems,
        }));

        // Active segments (2.0: in order, trapping on the first that does not fit).
        for (i, seg) in hw::slice(&desc.elements).iter().enumerate() {
            match seg.mode {
                segment_mode::ACTIVE => {
                    let inst = &self.instances[id];
                    let env = Env {
                        globals: inst.global_ptrs,
                        readable: inst.global_ptrs.len(),
                        funcs: inst.funcs,
                    };
                    let off = eval(&seg.offset, &env)?.u64();
                    let off = if self.table_is_64(id, seg.table) {
                        off
                    } else {
                        off as u32 as u64
                    };
                    let n = self.instances[id].elems[i].len() as u64;
                    self.table_init(id, seg.table, i as u32, off, 0, n)
                        .map_err(|_| InstError::Trap(TrapCode::ElementSegmentOutOfBounds))?;
                    self.instances[id].elems[i] = Vec::new();
                }
                segment_mode::DECLARED => self.instances[id].elems[i] = Vec::new(),
                _ => {}
            }
        }
        for (i, seg) in hw::slice(&desc.data).iter().enumerate() {
            if seg.mode == segment_mode::ACTIVE {
                let inst = &self.instances[id];
                let env = Env {
                    globals: inst.global_ptrs,
                    readable: inst.global_ptrs.len(),
                    funcs: inst.funcs,
                };
                let off = eval(&seg.offset, &env)?.u64();
                let mem64 = self
                    .memory_id(id, seg.memory)
                    .is_ok_and(|m| self.memories[m].memory64);
                let off = if mem64 { off } else { off as u32 as u64 };
                let n = self.instances[id].data[i].len() as u64;
                self.memory_init(id, seg.memory, i as u32, off, 0, n)
                    .map_err(|_| InstError::Trap(TrapCode::DataSegmentOutOfBounds))?;
                self.instances[id].data[i] = &[];
            }
        }
        Ok((id, start))
    }

    /// Program mode's instantiation of a module with a prebuilt instance (see
    /// [`Prebuilt`]): create its memories and tables, copy the initial table entries and the
    /// data segments into them, link them into the laid-out context, and adopt the rest as
    /// it is. Only for the store's first instance (id 0, as the layout has it). The type
    /// registry is left alone: the layout carries the module's canonical type ids, and the
    /// registry is only asked about types of imports and in script mode.
    fn adopt(
        &mut self,
        desc: &'static ModuleDescriptor,
        pre: &'static Prebuilt,
    ) -> Result<(usize, Option<FuncRef>), InstError> {
        let (mems, tabs) = (hw::slice(&desc.memories), hw::slice(&desc.tables));
        let inits = hw::slice(&pre.table_inits);
        if pre.memory_slots.len != mems.len() as u64
            || pre.table_slots.len != tabs.len() as u64
            || inits.len() != tabs.len()
        {
            return Err(InstError::Error(
                "the prebuilt instance does not match its descriptor".into(),
            ));
        }
        let mut memories = Vec::with_capacity(mems.len());
        for (i, m) in mems.iter().enumerate() {
            let id = self.new_memory(m.min_pages, m.max_pages, m.memory64 != 0, m.shared != 0)?;
            memories.push(id);
            hw::link_prebuilt_memory(pre, i, &mut self.memories[id].def);
        }
        let mut tables = Vec::with_capacity(tabs.len());
        for (i, (t, init)) in tabs.iter().zip(inits).enumerate() {
            let init = hw::slice(init);
            if init.len() as u64 != t.min {
                return Err(InstError::Error(format!(
                    "prebuilt table {i} has {} entries, not {}",
                    init.len(),
                    t.min
                )));
            }
            let id = self.new_table_from(t.elem_type, init, t.max)?;
            let table = &mut self.tables[id];
            tables.push(id);
            hw::link_prebuilt_table(pre, i, &mut table.def);
        }
        for d in hw::slice(&pre.data_inits) {
            let Some(&m) = memories.get(d.memory as usize) else {
                return Err(InstError::Error(format!("bad memory {}", d.memory)));
            };
            let bytes = hw::slice(&d.bytes);
            let to = hw::memory_bytes(&self.memories[m].def);
            let n = bytes.len() as u64;
            bulk::copy_from(to, bytes, d.offset, 0, n, TrapCode::DataSegmentOutOfBounds)
                .map_err(InstError::Trap)?;
        }
        let funcs = hw::slice(&pre.funcs);
        let start = start_function(desc, funcs)?;
        self.instances.push(Box::new(Instance {
            desc,
            vmctx: pre.vmctx,
            funcs,
            memories,
            tables,
            global_ptrs: hw::slice(&pre.globals),
            imported_global_types: Vec::new(),
            data: Vec::new(),
            elems: Vec::new(),
        }));
        Ok((self.instances.len() - 1, start))
    }

    /// The type an export or a `spectest` entity has now (memories and tables: current size).
    pub fn extern_type(&self, e: &Extern) -> ExternType {
        match *e {
            Extern::Func(f) => ExternType::Func { type_id: f.type_id },
            Extern::Table(t) => {
                let t = &self.tables[t];
                ExternType::Table {
                    elem_type: t.elem_type,
                    limits: Limits::new(t.elems.len() as u64, t.declared_max),
                }
            }
            Extern::Memory(m) => {
                let m = &self.memories[m];
                ExternType::Memory {
                    limits: Limits::new(m.def.size / WASM_PAGE_SIZE, m.declared_max),
                    memory64: m.memory64,
                    shared: m.shared,
                }
            }
            Extern::Global(_, t) => ExternType::Global {
                val_type: t.val_type,
                mutable: t.mutable != 0,
            },
        }
    }

    /// Create the `spectest` instance (once).
    pub fn init_spectest(&mut self) -> Result<(), InstError> {
        if self.spectest.is_some() {
            return Ok(());
        }
        let memory = self.new_memory(1, 2, false, false)?;
        let table = self.new_table(valtype::FUNCREF as u32, 10, 20)?;
        let mut slots: Box<[ValRaw]> = Box::new([
            ValRaw::from_u32(666),
            ValRaw::from_u64(666),
            ValRaw::from_u32(hako_abi::script::SPECTEST_GLOBAL_F32_BITS),
            ValRaw::from_u64(hako_abi::script::SPECTEST_GLOBAL_F64_BITS),
        ]);
        let mut globals = [ptr::null_mut(); 4];
        for (g, slot) in globals.iter_mut().zip(slots.iter_mut()) {
            *g = slot;
        }
        let mut func_types = [0; 7];
        for (t, (_, params)) in func_types.iter_mut().zip(SPECTEST_FUNCS) {
            *t = self.types.intern(params, &[]);
        }
        self.spectest = Some(Spectest {
            memory,
            table,
            _slots: slots,
            globals,
            func_types,
        });
        Ok(())
    }

    /// An export of the `spectest` instance.
    pub fn spectest_export(&self, name: &[u8]) -> Option<Extern> {
        let st = self.spectest.as_ref()?;
        if let Some(i) = SPECTEST_FUNCS
            .iter()
            .position(|(n, _)| n.as_bytes() == name)
        {
            let nop = hw::spectest_nop_addr();
            return Some(Extern::Func(FuncRef {
                code: nop,
                array_call: nop,
                vmctx: ptr::null_mut(),
                type_id: st.func_types[i],
                _pad: 0,
            }));
        }
        if let Some(i) = SPECTEST_GLOBALS
            .iter()
            .position(|(n, _)| n.as_bytes() == name)
        {
            return Some(Extern::Global(
                st.globals[i],
                GlobalType {
                    val_type: SPECTEST_GLOBALS[i].1 as u32,
                    mutable: 0,
                },
            ));
        }
        match name {
            b"table" => Some(Extern::Table(st.table)),
            b"memory" => Some(Extern::Memory(st.memory)),
            _ => None,
        }
    }

    /// The value and type of global export `name` of instance `id`.
    pub fn export_global(&self, id: usize, name: &[u8]) -> Option<(u8, ValRaw)> {
        match self.export(id, name)? {
            Extern::Global(p, t) => Some((t.val_type as u8, hw::read_global(p))),
            _ => None,
        }
    }

    /// Params and results of a canonical type id.
    pub fn func_type(&self, type_id: u32) -> Option<(&[u8], &[u8])> {
        self.types.get(type_id)
    }

    fn table_is_64(&self, _inst: usize, _table: u32) -> bool {
        false // table64 is not in the descriptor yet
    }

    /// A kernel function for an import the compiler did not link: a WASI function, or
    /// `bench.start`/`bench.end` (`[] -> []`) of the benchmark programs.
    fn wasi_function(&self, module: &[u8], name: &[u8], tid: u32) -> Option<*const u8> {
        let (params, results) = self.types.get(tid)?;
        if module == b"bench" && params.is_empty() && results.is_empty() {
            return hw::bench_symbol(name);
        }
        let f = hako_abi::wasi::lookup(s(module), s(name), params, results)?;
        hw::wasi_symbol(f.name)
    }

    /// The export `name` of instance `id`, if it is a function.
    pub fn export_func(&self, id: usize, name: &str) -> Option<FuncRef> {
        let inst = &self.instances[id];
        let e = hw::slice(&inst.desc.exports)
            .iter()
            .find(|e| e.kind == extern_kind::FUNC && hw::slice(&e.name) == name.as_bytes())?;
        inst.funcs.get(e.index as usize).copied()
    }

    /// The export `name` of instance `id` if it is a function, with its parameter and result
    /// types read from the descriptor (so it also works for an adopted prebuilt instance,
    /// whose functions' type ids are the compiler's, not this store's).
    pub fn export_func_signature(
        &self,
        id: usize,
        name: &[u8],
    ) -> Option<(FuncRef, &'static [u8], &'static [u8])> {
        let inst = &self.instances[id];
        let desc = inst.desc;
        let e = hw::slice(&desc.exports)
            .iter()
            .find(|e| e.kind == extern_kind::FUNC && hw::slice(&e.name) == name)?;
        let f = *inst.funcs.get(e.index as usize)?;
        let imported = hw::slice(&desc.imports)
            .iter()
            .filter(|i| i.kind == extern_kind::FUNC);
        let type_index = match imported.clone().nth(e.index as usize) {
            Some(import) => import.type_index,
            None => {
                let defined = e.index as usize - imported.count();
                hw::slice(&desc.functions).get(defined)?.type_index
            }
        };
        let ty = hw::slice(&desc.types).get(type_index as usize)?;
        Some((f, hw::slice(&ty.params), hw::slice(&ty.results)))
    }

    /// Any export of instance `id` (for linking other instances).
    pub fn export(&self, id: usize, name: &[u8]) -> Option<Extern> {
        let inst = &self.instances[id];
        let e = hw::slice(&inst.desc.exports)
            .iter()
            .find(|e| hw::slice(&e.name) == name)?;
        let i = e.index as usize;
        Some(match e.kind {
            extern_kind::FUNC => Extern::Func(*inst.funcs.get(i)?),
            extern_kind::MEMORY => Extern::Memory(*inst.memories.get(i)?),
            extern_kind::TABLE => Extern::Table(*inst.tables.get(i)?),
            extern_kind::GLOBAL => {
                let imported = inst.imported_global_types.len();
                let ty = match i.checked_sub(imported) {
                    None => inst.imported_global_types[i],
                    Some(d) => hw::slice(&inst.desc.globals).get(d)?.ty,
                };
                Extern::Global(*inst.global_ptrs.get(i)?, ty)
            }
            _ => return None,
        })
    }

    fn memory_id(&self, inst: usize, mem: u32) -> Result<usize, TrapCode> {
        self.instances[inst]
            .memories
            .get(mem as usize)
            .copied()
            .ok_or(TrapCode::MemoryOutOfBounds)
    }

    fn table_id(&self, inst: usize, table: u32) -> Result<usize, TrapCode> {
        self.instances[inst]
            .tables
            .get(table as usize)
            .copied()
            .ok_or(TrapCode::TableOutOfBounds)
    }

    pub fn memory_grow(&mut self, inst: usize, mem: u32, delta: u64) -> u64 {
        match self.memory_id(inst, mem) {
            Ok(m) => self.grow_memory(m, delta).unwrap_or(u64::MAX),
            Err(_) => u64::MAX,
        }
    }

    pub fn memory_fill(
        &mut self,
        inst: usize,
        mem: u32,
        dst: u64,
        value: u32,
        len: u64,
    ) -> Result<(), TrapCode> {
        let m = self.memory_id(inst, mem)?;
        bulk::fill(
            hw::memory_bytes(&self.memories[m].def),
            dst,
            value as u8,
            len,
            TrapCode::MemoryOutOfBounds,
        )
    }

    pub fn memory_copy(
        &mut self,
        inst: usize,
        dm: u32,
        sm: u32,
        dst: u64,
        src: u64,
        len: u64,
    ) -> Result<(), TrapCode> {
        let (d, s) = (self.memory_id(inst, dm)?, self.memory_id(inst, sm)?);
        let t = TrapCode::MemoryOutOfBounds;
        if d == s {
            bulk::copy_within(hw::memory_bytes(&self.memories[d].def), dst, src, len, t)
        } else {
            bulk::copy_from(
                hw::memory_bytes(&self.memories[d].def),
                hw::memory_bytes(&self.memories[s].def),
                dst,
                src,
                len,
                t,
            )
        }
    }

    pub fn memory_init(
        &mut self,
        inst: usize,
        mem: u32,
        data: u32,
        dst: u64,
        src: u64,
        len: u64,
    ) -> Result<(), TrapCode> {
        let m = self.memory_id(inst, mem)?;
        let seg = self.instances[inst]
            .data
            .get(data as usize)
            .copied()
            .unwrap_or(&[]);
        bulk::copy_from(
            hw::memory_bytes(&self.memories[m].def),
            seg,
            dst,
            src,
            len,
            TrapCode::MemoryOutOfBounds,
        )
    }

    pub fn data_drop(&mut self, inst: usize, data: u32) {
        if let Some(d) = self.instances[inst].data.get_mut(data as usize) {
            *d = &[];
        }
    }

    pub fn table_grow(&mut self, inst: usize, table: u32, init: *const u8, delta: u64) -> u64 {
        match self.table_id(inst, table) {
            Ok(t) => self.grow_table(t, init, delta).unwrap_or(u64::MAX),
            Err(_) => u64::MAX,
        }
    }

    pub fn table_fill(
        &mut self,
        inst: usize,
        table: u32,
        dst: u64,
        value: *const u8,
        len: u64,
    ) -> Result<(), TrapCode> {
        let t = self.table_id(inst, table)?;
        bulk::fill(
            &mut self.tables[t].elems,
            dst,
            value,
            len,
            TrapCode::TableOutOfBounds,
        )
    }

    pub fn table_copy(
        &mut self,
        inst: usize,
        dt: u32,
        st: u32,
        dst: u64,
        src: u64,
        len: u64,
    ) -> Result<(), TrapCode> {
        let (d, s) = (self.table_id(inst, dt)?, self.table_id(inst, st)?);
        let trap = TrapCode::TableOutOfBounds;
        if d == s {
            bulk::copy_within(&mut self.tables[d].elems, dst, src, len, trap)
        } else {
            let src_elems = core::mem::take(&mut self.tables[s].elems);
            let r = bulk::copy_from(&mut self.tables[d].elems, &src_elems, dst, src, len, trap);
            self.tables[s].elems = src_elems;
            self.tables[s].sync();
            r
        }
    }

    pub fn table_init(
        &mut self,
        inst: usize,
        table: u32,
        elem: u32,
        dst: u64,
        src: u64,
        len: u64,
    ) -> Result<(), TrapCode> {
        let t = self.table_id(inst, table)?;
        let empty = Vec::new();
        let seg = self.instances[inst]
            .elems
            .get(elem as usize)
            .unwrap_or(&empty);
        bulk::copy_from(
            &mut self.tables[t].elems,
            seg,
            dst,
            src,
            len,
            TrapCode::TableOutOfBounds,
        )
    }

    pub fn elem_drop(&mut self, inst: usize, elem: u32) {
        if let Some(e) = self.instances[inst].elems.get_mut(elem as usize) {
            *e = Vec::new();
        }
    }
}
