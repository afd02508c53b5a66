//! Instantiation from a [`ModuleDescriptor`], in the spec's order: intern the types,
//! resolve and check the imports, define the functions, create the memories and tables,
//! evaluate the globals, lay out the instance context, evaluate the element segments, then
//! apply the active segments (trapping on the first that does not fit).

use super::{
    utf8_or_placeholder as utf8, CFunction, Callable, Extern, ImportRecord, InstError, Instance,
    Machine, Store, Stub,
};
use crate::image::{Items, Trusted};
use crate::link::{self, ExternType};
use crate::vmdata::GlobalSlot;
use alloc::boxed::Box;
use alloc::format;
use alloc::vec;
use alloc::vec::Vec;
use core::ptr;
use hako_abi::constexpr::{self, ConstEnv};
use hako_abi::module::{
    convention, extern_kind, segment_mode, ConstOp, GlobalType, Import, ModuleDescriptor, NO_INDEX,
};
use hako_abi::trap::TrapCode;
use hako_abi::valtype;
use hako_abi::vm::{FuncRef, MemoryDef, TableDef, TagInstance, ValRaw, VmContext};

/// Resolves an import `(module, name)` for [`Store::instantiate`].
pub type Resolver<'a> = dyn Fn(&Store, &[u8], &[u8]) -> Option<Extern> + 'a;

/// What constant expressions may read: the globals before `readable`, and the functions;
/// and where they allocate GC objects (the store, with the instance's canonical type ids),
/// when they may.
struct Env<'a> {
    globals: &'a [GlobalSlot],
    readable: usize,
    funcs: &'a [FuncRef],
    heap: Option<(&'a mut Store, &'a [u32])>,
}

impl ConstEnv for Env<'_> {
    fn alloc(
        &mut self,
        type_index: u32,
        what: constexpr::Alloc<'_>,
    ) -> Result<Option<u64>, TrapCode> {
        match &mut self.heap {
            Some((store, ids)) => store.const_alloc(ids, type_index, what).map(Some),
            None => Ok(None),
        }
    }
    fn global(&self, index: u32) -> Option<ValRaw> {
        let i = index as usize;
        (i < self.readable).then(|| self.globals[i].read())
    }
    fn func_ref(&self, index: u32) -> Option<u64> {
        self.funcs
            .get(index as usize)
            .map(|f| f as *const FuncRef as u64)
    }
}

fn eval(e: Items<ConstOp>, env: &mut Env) -> Result<ValRaw, InstError> {
    constexpr::eval(e.as_slice(), env).map_err(|e| match e {
        constexpr::ConstError::Trap(t) => InstError::Trap(t),
        e => InstError::Error(format!("bad constant expression: {e:?}")),
    })
}

/// The start function of an instance of `desc` with functions `funcs`: its array-call
/// trampoline (compiled code may be in the tail convention, which the kernel does not
/// call), or in the C convention a kernel function without one.
pub(super) fn start_function(
    desc: &ModuleDescriptor,
    funcs: &[FuncRef],
) -> Result<Option<Callable>, InstError> {
    match desc.start {
        NO_INDEX => Ok(None),
        i => match funcs.get(i as usize) {
            Some(f) if !f.array_call.is_null() => Ok(Some(Callable::new(f.array_call, f.vmctx, 0))),
            Some(f) if desc.convention == convention::C => {
                Ok(Some(Callable::new(f.code, f.vmctx, 0)))
            }
            Some(_) => Err(InstError::Error(format!(
                "start function {i} is a kernel function without an array-call entry"
            ))),
            None => Err(InstError::Error(format!("bad start function {i}"))),
        },
    }
}

/// The imports of an instance being made, in index order per kind.
#[derive(Default)]
struct Imported {
    funcs: Vec<FuncRef>,
    memories: Vec<usize>,
    tables: Vec<usize>,
    globals: Vec<GlobalSlot>,
    global_types: Vec<GlobalType>,
    tags: Vec<(*const TagInstance, u32)>,
}

impl Store {
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
        machine: &mut dyn Machine,
        desc: Trusted<ModuleDescriptor>,
        resolve: &Resolver<'_>,
        strict: bool,
    ) -> Result<(usize, Option<Callable>), InstError> {
        if desc.abi_version != hako_abi::ABI_VERSION {
            return Err(InstError::Error(format!(
                "module ABI version {} is not the kernel's {}",
                desc.abi_version,
                hako_abi::ABI_VERSION
            )));
        }
        match self.convention {
            Some(c) if c != desc.convention => {
                return Err(InstError::Error(format!(
                    "the module is compiled in {}, the store's other instances in {} (compile \
                     every module of a script with `Options::tail_convention`)",
                    convention::name(desc.convention),
                    convention::name(c)
                )))
            }
            _ => self.convention = Some(desc.convention),
        }
        if !strict && self.instances.is_empty() {
            if let Some(pre) = desc.prebuilt() {
                return self.adopt(machine, desc, pre);
            }
        }
        let id = self.instances.len();
        let sigs: Vec<_> = desc
            .types()
            .iter()
            .map(|t| (t.params().as_slice(), t.results().as_slice()))
            .collect();
        let type_ids = self
            .types
            .intern_module(desc.type_defs().as_slice(), &sigs)
            .map_err(|_| InstError::Error("malformed type definitions".into()))?;
        if type_ids.len() != sigs.len() {
            return Err(InstError::Error("malformed type definitions".into()));
        }
        let mut vmctx = Box::new(VmContext {
            memory0: ptr::null_mut(),
            memories: ptr::null(),
            tables: ptr::null(),
            globals: ptr::null(),
            funcs: ptr::null(),
            type_ids: ptr::null(),
            instance: id as *mut u8,
            tags: ptr::null(),
        });
        let vmctx_ptr: *mut VmContext = &mut *vmctx;

        let imported =
            self.resolve_imports(machine, desc, &type_ids, vmctx_ptr, resolve, strict)?;
        let mut funcs = imported.funcs;
        for f in desc.functions().as_slice() {
            funcs.push(FuncRef {
                code: f.code,
                array_call: f.array_call,
                vmctx: vmctx_ptr,
                type_id: type_id(&type_ids, f.type_index)?,
                _pad: 0,
            });
        }
        let funcs: &'static [FuncRef] = Vec::leak(funcs);
        let mut memories = imported.memories;
        for m in desc.memories().as_slice() {
            memories.push(self.new_memory(
                machine,
                m.min_pages,
                m.max_pages,
                m.memory64 != 0,
                m.shared != 0,
            )?);
        }
        let mut tables = imported.tables;
        for t in desc.tables().as_slice() {
            let elem_type = canonical(t.elem_type, &type_ids)?;
            tables.push(self.new_table(elem_type, t.min, t.max, t.table64 != 0)?);
        }
        let globals = self.define_globals(desc, imported.globals, funcs, &type_ids)?;

        // The instance context's arrays; compiled code holds on to them for the instance's
        // (the kernel's) lifetime.
        let memory_ptrs: &'static [*mut MemoryDef] = Vec::leak(
            memories
                .iter()
                .map(|&m| self.memories[m].memory.def_ptr())
                .collect(),
        );
        let table_ptrs: &'static [*mut TableDef] = Vec::leak(
            tables
                .iter()
                .map(|&t| &mut self.tables[t].def as *mut TableDef)
                .collect(),
        );
        vmctx.memory0 = memory_ptrs.first().copied().unwrap_or(ptr::null_mut());
        vmctx.memories = memory_ptrs.as_ptr();
        vmctx.tables = table_ptrs.as_ptr();
        vmctx.globals = globals.as_ptr() as *const *mut ValRaw;
        vmctx.funcs = funcs.as_ptr();
        let mut tags = imported.tags;
        for &t in desc.tags().as_slice() {
            let type_id = type_id(&type_ids, t)?;
            let tag: *const TagInstance = Box::leak(Box::new(TagInstance { type_id, _pad: 0 }));
            tags.push((tag, type_id));
        }
        let tag_ptrs: &'static [*const TagInstance] =
            Vec::leak(tags.iter().map(|(t, _)| *t).collect());
        vmctx.tags = tag_ptrs.as_ptr();
        let type_ids: &'static [u32] = Vec::leak(type_ids);
        vmctx.type_ids = type_ids.as_ptr();

        let mut env = Env {
            globals,
            readable: globals.len(),
            funcs,
            heap: Some((self, type_ids)),
        };
        // Tables whose type has an initial value: every entry is it.
        let defined_tables = &tables[tables.len() - desc.tables().as_slice().len()..];
        let mut fills = Vec::new();
        for (&t, init) in defined_tables.iter().zip(desc.table_inits().iter()) {
            let init = init.items();
            if init.as_slice().is_empty() {
                continue;
            }
            fills.push((t, eval(init, &mut env)?.u64() as usize as *const u8));
        }
        let elems = desc
            .elements()
            .iter()
            .map(|seg| {
                seg.items()
                    .iter()
                    .map(|e| eval(e.items(), &mut env).map(|v| v.u64() as usize as *const u8))
                    .collect::<Result<Vec<_>, _>>()
            })
            .collect::<Result<Vec<_>, _>>()?;
        for (t, value) in fills {
            let table = &mut self.tables[t];
            table.elems.fill(value);
            table.sync();
        }
        let data = desc.data().iter().map(|d| d.bytes().as_slice()).collect();
        let start = start_function(&desc, funcs)?;
        self.instances.push(Box::new(Instance {
            desc,
            prebuilt: false,
            vmctx: Box::into_raw(vmctx),
            funcs,
            memories,
            tables,
            globals,
            tags,
            type_ids,
            imported_global_types: imported.global_types,
            data,
            elems,
        }));
        self.apply_active_segments(id)?;
        Ok((id, start))
    }

    /// Resolve every import of `desc` (an instance with context `vmctx`) and check its type.
    fn resolve_imports(
        &mut self,
        machine: &mut dyn Machine,
        desc: Trusted<ModuleDescriptor>,
        type_ids: &[u32],
        vmctx: *mut VmContext,
        resolve: &Resolver<'_>,
        strict: bool,
    ) -> Result<Imported, InstError> {
        let mut imported = Imported::default();
        for imp in desc.imports().iter() {
            let (module, name) = (imp.module().as_slice(), imp.name().as_slice());
            let tid = if imp.kind == extern_kind::FUNC || imp.kind == extern_kind::TAG {
                type_id(type_ids, imp.type_index)?
            } else {
                0
            };
            let Some(expected) =
                ExternType::expected(&imp, tid).and_then(|e| e.canonical(type_ids))
            else {
                return Err(InstError::Error(format!(
                    "unsupported import kind {} for {}.{}",
                    imp.kind,
                    utf8(module),
                    utf8(name)
                )));
            };
            if imp.kind == extern_kind::FUNC && !imp.linked.is_null() {
                imported.funcs.push(func_ref(imp.linked, vmctx, tid));
                continue;
            }
            let found = resolve(self, module, name);
            if let Some(e) = &found {
                if let Err(m) = link::check(&expected, &self.extern_type(e), &self.types) {
                    let msg = format!(
                        "incompatible import type for {}.{}: {m}",
                        utf8(module),
                        utf8(name)
                    );
                    return Err(if strict {
                        InstError::Unlinkable(msg)
                    } else {
                        InstError::Error(msg)
                    });
                }
            }
            match found {
                Some(Extern::Func(f)) => imported.funcs.push(f.0),
                Some(Extern::Memory(m)) => imported.memories.push(m),
                Some(Extern::Table(t)) => imported.tables.push(t),
                Some(Extern::Global(p, t)) => {
                    imported.globals.push(p);
                    imported.global_types.push(t);
                }
                Some(Extern::Tag(t, type_id)) => imported.tags.push((t, type_id)),
                None if strict => {
                    return Err(InstError::Unlinkable(format!(
                        "unknown import {}.{}",
                        utf8(module),
                        utf8(name)
                    )))
                }
                None if imp.kind == extern_kind::FUNC => {
                    let f = self.kernel_function(machine, &imp, tid, vmctx);
                    imported.funcs.push(f);
                }
                None => {
                    self.unresolved(machine, &imp);
                    return Err(InstError::Error(format!(
                        "unresolved {} import {}.{}",
                        expected.kind_name(),
                        utf8(module),
                        utf8(name)
                    )));
                }
            }
        }
        Ok(imported)
    }

    /// Record an import nothing provides; returns its record index.
    fn unresolved(&mut self, machine: &mut dyn Machine, imp: &Trusted<Import>) -> usize {
        let (module, name) = (imp.module().as_slice(), imp.name().as_slice());
        machine.record(format_args!("unresolved {} {}", utf8(module), utf8(name)));
        self.imports.push(ImportRecord {
            module,
            name,
            called: false,
        });
        self.imports.len() - 1
    }

    /// Program mode's binding of a function import nothing else provides: the kernel's WASI
    /// function, `bench.start`/`bench.end`, or a stub that answers `ENOSYS` (one `i32`
    /// result) or traps.
    fn kernel_function(
        &mut self,
        machine: &mut dyn Machine,
        imp: &Trusted<Import>,
        tid: u32,
        vmctx: *mut VmContext,
    ) -> FuncRef {
        let (module, name) = (imp.module().as_slice(), imp.name().as_slice());
        if self.convention != Some(convention::TAIL) {
            // The C convention: the kernel's C functions as they are.
            if let Some(code) = self.wasi_function(machine, module, name, tid) {
                return func_ref(code, vmctx, tid);
            }
            let rec = self.unresolved(machine, imp);
            let (_, results) = self.types.get(tid).unwrap_or((&[], &[]));
            let stub = match results == [valtype::I32] {
                true => Stub::Enosys,
                false => Stub::Trap,
            };
            // The stub's context is the import's record index.
            return func_ref(machine.stub(stub), rec as *mut VmContext, tid);
        }
        let in_registers = self
            .types
            .get(tid)
            .is_some_and(|(params, _)| hako_abi::vm::args_in_registers(params));
        if in_registers {
            if let Some(code) = self.wasi_function(machine, module, name, tid) {
                return self.c_function(machine, code, vmctx.cast(), tid);
            }
        }
        let rec = self.unresolved(machine, imp);
        let (_, results) = self.types.get(tid).unwrap_or((&[], &[]));
        if results == [valtype::I32] && in_registers {
            // The stub's data is the import's record index.
            let enosys = machine.stub(Stub::Enosys);
            return self.c_function(machine, enosys, rec as *mut u8, tid);
        }
        // A function with more arguments than registers has no C stub (see
        // `hako_abi::vm::args_in_registers`): it traps as an unresolved import.
        let trap = machine.stub(Stub::Trap);
        FuncRef {
            array_call: trap,
            ..func_ref(trap, rec as *mut VmContext, tid)
        }
    }

    /// The Wasm-convention reference to C function `function` of the kernel, called with
    /// `data` first ([`Stub::CallC`]).
    fn c_function(
        &mut self,
        machine: &dyn Machine,
        function: *const u8,
        data: *mut u8,
        tid: u32,
    ) -> FuncRef {
        let mut target = Box::new(CFunction { function, data });
        let at: *mut CFunction = &mut *target;
        self.c_functions.push(target);
        func_ref(machine.stub(Stub::CallC), at.cast(), tid)
    }

    /// A kernel function for an import the compiler did not link: a WASI function, or
    /// `bench.start`/`bench.end` (`[] -> []`) of the benchmark programs.
    fn wasi_function(
        &self,
        machine: &dyn Machine,
        module: &[u8],
        name: &[u8],
        tid: u32,
    ) -> Option<*const u8> {
        let (params, results) = self.types.get(tid)?;
        if module == b"bench" && params.is_empty() && results.is_empty() {
            return machine.bench_function(name);
        }
        let f = hako_abi::wasi::lookup(utf8(module), utf8(name), params, results)?;
        machine.wasi_function(f.symbol)
    }

    /// Apply the active element and data segments of instance `id` (2.0: in order,
    /// trapping on the first that does not fit), and drop them and the declared ones.
    fn apply_active_segments(&mut self, id: usize) -> Result<(), InstError> {
        let inst = &self.instances[id];
        let (desc, globals, funcs) = (inst.desc, inst.globals, inst.funcs);
        let mut env = Env {
            globals,
            readable: globals.len(),
            funcs,
            heap: None,
        };
        for (i, seg) in desc.elements().iter().enumerate() {
            match seg.mode {
                segment_mode::ACTIVE => {
                    let off = eval(seg.offset(), &mut env)?.u64();
                    let table64 = self
                        .table_id(id, seg.table)
                        .is_ok_and(|t| self.tables[t].table64);
                    let off = if table64 { off } else { off as u32 as u64 };
                    let n = self.instances[id].elems[i].len() as u64;
                    self.table_init(id, seg.table, i as u32, off, 0, n)
                        .map_err(|_| InstError::Trap(TrapCode::ElementSegmentOutOfBounds))?;
                    self.instances[id].elems[i] = Vec::new();
                }
                segment_mode::DECLARED => self.instances[id].elems[i] = Vec::new(),
                _ => {}
            }
        }
        for (i, seg) in desc.data().iter().enumerate() {
            if seg.mode == segment_mode::ACTIVE {
                let off = eval(seg.offset(), &mut env)?.u64();
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
        Ok(())
    }
}

/// The canonical id of type index `ti`.
/// Value type `t` of the module with canonical type ids `ids`, canonical
/// ([`valtype::canonical`]).
pub(super) fn canonical(t: u32, ids: &[u32]) -> Result<u32, InstError> {
    valtype::canonical(t, ids)
        .ok_or_else(|| InstError::Error(format!("bad type index in value type {t:#x}")))
}

fn type_id(type_ids: &[u32], ti: u32) -> Result<u32, InstError> {
    type_ids
        .get(ti as usize)
        .copied()
        .ok_or_else(|| InstError::Error(format!("bad type index {ti}")))
}

/// A function reference to kernel or compiled code `code` (no array-call trampoline).
fn func_ref(code: *const u8, vmctx: *mut VmContext, type_id: u32) -> FuncRef {
    FuncRef {
        code,
        array_call: ptr::null(),
        vmctx,
        type_id,
        _pad: 0,
    }
}

impl Store {
    /// All globals of a new instance of `desc`, imported ones first: the defined ones get
    /// fresh slots, initialised in order (an initialiser may read the imported and, with
    /// extended-const, earlier globals, and allocate GC objects).
    fn define_globals(
        &mut self,
        desc: Trusted<ModuleDescriptor>,
        imported: Vec<GlobalSlot>,
        funcs: &[FuncRef],
        type_ids: &[u32],
    ) -> Result<&'static [GlobalSlot], InstError> {
        let defined = desc.globals();
        let num_imported = imported.len();
        let mut globals = imported;
        globals.extend(GlobalSlot::leak(vec![ValRaw::default(); defined.len()]));
        for (i, g) in defined.iter().enumerate() {
            let mut env = Env {
                globals: &globals,
                readable: num_imported + i,
                funcs,
                heap: Some((self, type_ids)),
            };
            let v = eval(g.init(), &mut env)?;
            globals[num_imported + i].write(v);
        }
        Ok(Vec::leak(globals))
    }
}
