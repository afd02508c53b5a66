//! Instances, memories and tables: the Wasm store. Safe code, built and unit-tested on the
//! host: it reaches the machine through [`Machine`], descriptors through [`crate::image`]
//! and the data it shares with compiled code through [`crate::vmdata`]. It creates raw
//! pointers for compiled code (the `VmContext` arrays) but never dereferences one.
//!
//! - this file: the store's objects, the bulk operations the builtins call, and the limits;
//! - `instantiate.rs`: instantiation from a [`ModuleDescriptor`], in steps;
//! - `adopt.rs`: program mode's adoption of a prebuilt instance;
//! - `spectest.rs`: the built-in `spectest` instance of script mode;
//! - `exports.rs`: export lookup and the types of externs, for linking and the runtime;
//! - `machine.rs`: the [`Machine`] trait and the [`Callable`] handle.

mod adopt;
mod exports;
mod gc;
mod instantiate;
pub mod machine;
mod spectest;
#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;

pub use machine::{CFunction, Callable, Machine, Stub};
pub use spectest::Spectest;

use crate::bulk;
use crate::image::Trusted;
use crate::layout::MAX_MEMORIES;
use crate::types::TypeRegistry;
use crate::vmdata::{GlobalSlot, LinearMemory};
use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::ptr;
use hako_abi::module::{GlobalType, ModuleDescriptor, NO_MAX};
use hako_abi::trap::TrapCode;
use hako_abi::vm::{FuncRef, TableDef, TagInstance, VmContext, MAX_MEMORY_BYTES, WASM_PAGE_SIZE};

/// Pages a memory can have inside its reservation (4 GiB, [`MAX_MEMORY_BYTES`]: compiled
/// code's bounds checks of 64-bit memories rely on it).
const MAX_PAGES: u64 = MAX_MEMORY_BYTES / WASM_PAGE_SIZE;
/// Largest table we agree to grow to.
const MAX_TABLE: u64 = 10_000_000;

/// A linear memory and its limits.
#[derive(Debug)]
pub struct MemoryObj {
    pub memory: LinearMemory,
    /// The largest size `memory.grow` may reach (the declared max, capped by the reservation).
    pub max_pages: u64,
    /// The declared max ([`NO_MAX`] when none), for import matching.
    pub declared_max: u64,
    pub memory64: bool,
    pub shared: bool,
}

impl MemoryObj {
    /// The size in Wasm pages.
    pub fn pages(&self) -> u64 {
        self.memory.size() / WASM_PAGE_SIZE
    }
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
    /// `i64` indices (memory64's 64-bit tables).
    pub table64: bool,
}

impl TableObj {
    /// Point `def`, which compiled code reads, at the current elements.
    fn sync(&mut self) {
        self.def.base = self.elems.as_mut_ptr();
        self.def.len = self.elems.len() as u64;
    }
}

/// Something an import can be satisfied with. Only the store makes these (exports and the
/// `spectest` instance), so a resolver cannot hand instantiation a function of its own.
#[derive(Debug, Clone, Copy)]
pub enum Extern {
    Func(StoreFunc),
    Memory(usize),
    Table(usize),
    Global(GlobalSlot, GlobalType),
    /// A tag instance (its address is its identity) and its canonical type id.
    Tag(*const TagInstance, u32),
}

/// A function of the store: compiled code with its instance's context, or a kernel function.
#[derive(Debug, Clone, Copy)]
pub struct StoreFunc(FuncRef);

impl StoreFunc {
    /// The canonical type id.
    pub fn type_id(self) -> u32 {
        self.0.type_id
    }
}

/// One instance. Instances live as long as the kernel, so its `VmContext` and the arrays it
/// points to (functions, globals and their slots, memory and table pointers, type ids) are
/// leaked allocations, or static data of the image for a prebuilt instance.
#[derive(Debug)]
pub struct Instance {
    pub desc: Trusted<ModuleDescriptor>,
    /// Adopted from a prebuilt instance: its functions' type ids are the compiler's (the
    /// index of the first type of `desc` with the same signature), not the registry's.
    pub prebuilt: bool,
    /// The context compiled code runs with (kept for debugging; compiled code has it).
    #[allow(dead_code)]
    pub vmctx: *mut VmContext,
    pub funcs: &'static [FuncRef],
    pub memories: Vec<usize>,
    pub tables: Vec<usize>,
    globals: &'static [GlobalSlot],
    /// Every tag (imports first), with its canonical type id.
    tags: Vec<(*const TagInstance, u32)>,
    /// The canonical id of each type of `desc` (for a prebuilt instance, the compiler's).
    type_ids: &'static [u32],
    /// The types of the imported globals (the descriptor has those of the defined ones).
    imported_global_types: Vec<GlobalType>,
    /// The data segments; a dropped one is empty, and one past the end counts as dropped.
    data: Vec<&'static [u8]>,
    /// The element segments, the same way.
    elems: Vec<Vec<*const u8>>,
}

/// An import nothing provided, bound to a stub that records its first call.
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
    /// The GC heap of every instance.
    pub gc: crate::gc::Heap,
    /// The exceptions allocated and not freed (`hako_exn_alloc`, `hako_exn_free`): their
    /// payloads are roots of a collection.
    pub exceptions: alloc::collections::BTreeSet<u64>,
    pub instances: Vec<Box<Instance>>,
    pub memories: Vec<Box<MemoryObj>>,
    pub tables: Vec<Box<TableObj>>,
    pub imports: Vec<ImportRecord>,
    /// The targets of the kernel's C functions bound to imports ([`Stub::CallC`]); the
    /// `FuncRef`s point to them, so they are never freed.
    pub c_functions: Vec<Box<CFunction>>,
    /// The calling convention of every instance (`hako_abi::module::convention`), fixed by
    /// the first: a `FuncRef` is called without knowing whose it is, so instances of
    /// modules compiled in different conventions cannot share a store.
    pub convention: Option<u32>,
    /// The built-in `spectest` instance (script mode), see [`Store::init_spectest`].
    pub spectest: Option<Spectest>,
}

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

/// Bytes of a name, for messages.
fn utf8_or_placeholder(b: &[u8]) -> &str {
    core::str::from_utf8(b).unwrap_or("<non-utf8>")
}

/// Elements `a` and `b` (different, in range) of `v`, both mutable.
fn two_mut<T>(v: &mut [T], a: usize, b: usize) -> (&mut T, &mut T) {
    assert_ne!(a, b);
    if a < b {
        let (lo, hi) = v.split_at_mut(b);
        (&mut lo[a], &mut hi[0])
    } else {
        let (lo, hi) = v.split_at_mut(a);
        (&mut hi[0], &mut lo[b])
    }
}

impl Default for Store {
    fn default() -> Self {
        Self::new()
    }
}

impl Store {
    pub const fn new() -> Store {
        Store {
            types: TypeRegistry::new(),
            gc: crate::gc::Heap::new(),
            exceptions: alloc::collections::BTreeSet::new(),
            instances: Vec::new(),
            memories: Vec::new(),
            tables: Vec::new(),
            imports: Vec::new(),
            c_functions: Vec::new(),
            convention: None,
            spectest: None,
        }
    }

    /// Create a memory: reserve its address range and map `min_pages`.
    pub fn new_memory(
        &mut self,
        machine: &mut dyn Machine,
        min_pages: u64,
        declared_max: u64,
        memory64: bool,
        shared: bool,
    ) -> Result<usize, InstError> {
        let id = self.memories.len();
        if id as u64 >= MAX_MEMORIES {
            return Err(InstError::Error("too many memories".into()));
        }
        let max_pages = if declared_max == NO_MAX {
            MAX_PAGES
        } else {
            declared_max.min(MAX_PAGES)
        };
        if min_pages > max_pages {
            return Err(InstError::Error(format!(
                "memory of {min_pages} pages is too large"
            )));
        }
        let memory = LinearMemory::new(machine, id, min_pages).map_err(|_| {
            InstError::Error(format!(
                "out of memory for a memory of {min_pages} pages ({} MiB)",
                min_pages / 16
            ))
        })?;
        self.memories.push(Box::new(MemoryObj {
            memory,
            max_pages,
            declared_max,
            memory64,
            shared,
        }));
        Ok(id)
    }

    pub fn new_table(
        &mut self,
        elem_type: u32,
        min: u64,
        declared_max: u64,
        table64: bool,
    ) -> Result<usize, InstError> {
        let (max, mut elems) = Self::table_parts(min, declared_max)?;
        elems.resize(min as usize, ptr::null());
        Ok(self.push_table(elems, elem_type, max, declared_max, table64))
    }

    /// A table whose initial entries are `init` (a prebuilt instance's, see [`Self::adopt`]).
    fn new_table_from(
        &mut self,
        elem_type: u32,
        init: &[*const u8],
        declared_max: u64,
        table64: bool,
    ) -> Result<usize, InstError> {
        let (max, mut elems) = Self::table_parts(init.len() as u64, declared_max)?;
        elems.extend_from_slice(init);
        Ok(self.push_table(elems, elem_type, max, declared_max, table64))
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
        table64: bool,
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
            table64,
        });
        t.sync();
        self.tables.push(t);
        self.tables.len() - 1
    }

    /// `memory.grow` of store memory `id`: the old size in pages, or `None`.
    pub fn grow_memory(&mut self, machine: &mut dyn Machine, id: usize, delta: u64) -> Option<u64> {
        let m = &mut self.memories[id];
        let old = m.pages();
        let new = old.checked_add(delta)?;
        if new > m.max_pages {
            return None;
        }
        m.memory.resize(machine, new * WASM_PAGE_SIZE).ok()?;
        Some(old)
    }

    /// `table.grow` of store table `id`: the old size, or `None`.
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

    /// Params and results of a canonical type id.
    pub fn func_type(&self, type_id: u32) -> Option<(&'static [u8], &'static [u8])> {
        self.types.get(type_id)
    }

    // ----- the operations behind the builtins (instance-relative indices) ------------------

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

    /// The contents of store memories `dst` and `src` at once; `None` for the source when
    /// they are the same memory.
    fn with_memories<R>(
        &mut self,
        dst: usize,
        src: usize,
        f: impl FnOnce(&mut [u8], Option<&[u8]>) -> R,
    ) -> R {
        if dst == src {
            return f(self.memories[dst].memory.bytes(), None);
        }
        let (d, s) = two_mut(&mut self.memories, dst, src);
        f(d.memory.bytes(), Some(s.memory.bytes()))
    }

    pub fn memory_grow(
        &mut self,
        machine: &mut dyn Machine,
        inst: usize,
        mem: u32,
        delta: u64,
    ) -> u64 {
        match self.memory_id(inst, mem) {
            Ok(m) => self.grow_memory(machine, m, delta).unwrap_or(u64::MAX),
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
            self.memories[m].memory.bytes(),
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
        self.with_memories(d, s, |to, from| match from {
            None => bulk::copy_within(to, dst, src, len, t),
            Some(from) => bulk::copy_from(to, from, dst, src, len, t),
        })
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
            self.memories[m].memory.bytes(),
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
            return bulk::copy_within(&mut self.tables[d].elems, dst, src, len, trap);
        }
        let (to, from) = two_mut(&mut self.tables, d, s);
        bulk::copy_from(&mut to.elems, &from.elems, dst, src, len, trap)
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
        let seg = self.instances[inst]
            .elems
            .get(elem as usize)
            .map_or(&[][..], |e| &e[..]);
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
