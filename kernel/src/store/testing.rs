//! For the host unit tests of the store and the runtime: [`HostMachine`], the machine in
//! memory, and [`ModuleBuilder`], small module descriptors with their arrays leaked as the
//! image's static data would be. "Compiled code" is Rust: an `extern "C"` function with the
//! array-call signature, which may raise a trap with [`trap`].
#![allow(unsafe_code)]

use super::{Callable, Machine, Stub};
use crate::image::Trusted;
use crate::vmdata::{MapMemory, OutOfMemory};
use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;
use hako_abi::module::{
    const_op, extern_kind, segment_mode, ConstExpr, ConstOp, DataSegment, ElementSegment, Export,
    FuncType, FunctionDesc, GlobalDesc, GlobalType, Import, MemoryType, ModuleDescriptor, Slice,
    TableType, NO_INDEX, NO_MAX,
};
use hako_abi::trap::TrapCode;
use hako_abi::vm::{ValRaw, VmContext, WASM_PAGE_SIZE};
use std::cell::Cell;

/// The array-call signature.
pub type ArrayCall = extern "C" fn(*mut VmContext, *mut ValRaw);

std::thread_local! {
    static TRAP: Cell<Option<TrapCode>> = const { Cell::new(None) };
}

/// Make the running host "compiled code" trap once it returns.
pub fn trap(code: TrapCode) {
    TRAP.with(|t| t.set(Some(code)));
}

/// The machine in memory: each linear memory gets a reservation of `reservation_pages`
/// (leaked, so its base stays valid for the store's whole life).
#[derive(Debug)]
pub struct HostMachine {
    pub reservation_pages: u64,
    reservations: Vec<(usize, &'static mut [u8])>,
    pub harness: String,
    /// Calls into "compiled code", and the values each was entered with.
    pub calls: Vec<usize>,
}

impl Default for HostMachine {
    fn default() -> Self {
        HostMachine {
            reservation_pages: 4,
            reservations: Vec::new(),
            harness: String::new(),
            calls: Vec::new(),
        }
    }
}

impl HostMachine {
    /// The harness lines written so far.
    pub fn lines(&self) -> Vec<&str> {
        self.harness.lines().collect()
    }
}

// SAFETY: each memory id gets its own leaked (never freed, never otherwise used) zeroed
// allocation, the same for every call; a range beyond it is refused.
unsafe impl MapMemory for HostMachine {
    fn map_memory(&mut self, id: usize, _from: u64, to: u64) -> Result<*mut u8, OutOfMemory> {
        if to > self.reservation_pages * WASM_PAGE_SIZE {
            return Err(OutOfMemory);
        }
        if let Some((_, r)) = self.reservations.iter_mut().find(|(i, _)| *i == id) {
            return Ok(r.as_mut_ptr());
        }
        let bytes = (self.reservation_pages * WASM_PAGE_SIZE) as usize;
        let r: &'static mut [u8] = Box::leak(vec![0u8; bytes].into_boxed_slice());
        let base = r.as_mut_ptr();
        self.reservations.push((id, r));
        Ok(base)
    }
}

/// Stubs have no code on the host: distinct fake addresses.
pub const ENOSYS_STUB: usize = 0x1000;
pub const TRAP_STUB: usize = 0x2000;
pub const NOP_STUB: usize = 0x3000;
pub const CALL_C_STUB: usize = 0x5000;
pub const NOP_TAIL_STUB: usize = 0x6000;
pub const WASI_FN: usize = 0x4000;

impl Machine for HostMachine {
    fn harness(&mut self) -> &mut dyn fmt::Write {
        &mut self.harness
    }
    fn stub(&self, stub: Stub) -> *const u8 {
        (match stub {
            Stub::Enosys => ENOSYS_STUB,
            Stub::Trap => TRAP_STUB,
            Stub::SpectestNop => NOP_STUB,
            Stub::SpectestNopTail => NOP_TAIL_STUB,
            Stub::CallC => CALL_C_STUB,
        }) as *const u8
    }
    fn wasi_function(&self, name: &str) -> Option<*const u8> {
        (name == "fd_write").then_some(WASI_FN as *const u8)
    }
    fn bench_function(&self, _name: &[u8]) -> Option<*const u8> {
        None
    }
    fn enter(&mut self, f: Callable, values: &mut [ValRaw]) -> Result<(), TrapCode> {
        assert!(values.len() >= f.slots(), "too few value slots");
        self.calls.push(values.len());
        // SAFETY: on the host, the store's code pointers are `ArrayCall` functions of the
        // tests (see `ModuleBuilder::func`).
        let code: ArrayCall = unsafe { core::mem::transmute(f.code()) };
        TRAP.with(|t| t.set(None));
        code(f.vmctx(), values.as_mut_ptr());
        match TRAP.with(|t| t.take()) {
            Some(t) => Err(t),
            None => Ok(()),
        }
    }
}

fn leak<T: 'static>(v: Vec<T>) -> Slice<T> {
    let s: &'static [T] = Vec::leak(v);
    Slice {
        ptr: s.as_ptr(),
        len: s.len() as u64,
    }
}

fn bytes(b: &[u8]) -> Slice<u8> {
    leak(b.to_vec())
}

/// `i32.const v` / `i64.const v`.
pub fn const_expr(op: u32, v: u64) -> Slice<ConstOp> {
    leak(vec![ConstOp {
        op,
        _pad: 0,
        imm: [v, 0],
    }])
}

pub fn i32_const(v: u32) -> Slice<ConstOp> {
    const_expr(const_op::I32_CONST, v as u64)
}

/// A module descriptor under construction.
#[derive(Default)]
pub struct ModuleBuilder {
    types: Vec<FuncType>,
    imports: Vec<Import>,
    functions: Vec<FunctionDesc>,
    tables: Vec<TableType>,
    memories: Vec<MemoryType>,
    globals: Vec<GlobalDesc>,
    exports: Vec<Export>,
    data: Vec<DataSegment>,
    elements: Vec<ElementSegment>,
    table_inits: Vec<ConstExpr>,
    start: Option<u32>,
    convention: u32,
}

fn no_table() -> TableType {
    TableType {
        elem_type: 0,
        table64: 0,
        min: 0,
        max: NO_MAX,
    }
}

fn no_memory() -> MemoryType {
    MemoryType {
        min_pages: 0,
        max_pages: NO_MAX,
        memory64: 0,
        shared: 0,
    }
}

impl ModuleBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Add a function type; its index.
    pub fn ty(&mut self, params: &[u8], results: &[u8]) -> u32 {
        self.types.push(FuncType {
            params: bytes(params),
            results: bytes(results),
        });
        self.types.len() as u32 - 1
    }

    fn import(&mut self, module: &str, name: &str, kind: u32) -> &mut Import {
        self.imports.push(Import {
            module: bytes(module.as_bytes()),
            name: bytes(name.as_bytes()),
            kind,
            type_index: 0,
            linked: core::ptr::null(),
            table: no_table(),
            memory: no_memory(),
            global: GlobalType {
                val_type: 0,
                mutable: 0,
            },
        });
        self.imports.last_mut().unwrap()
    }

    pub fn import_func(&mut self, module: &str, name: &str, ty: u32) -> &mut Self {
        self.import(module, name, extern_kind::FUNC).type_index = ty;
        self
    }

    pub fn import_memory(&mut self, module: &str, name: &str, min: u64, max: u64) -> &mut Self {
        let i = self.import(module, name, extern_kind::MEMORY);
        i.memory.min_pages = min;
        i.memory.max_pages = max;
        self
    }

    pub fn import_global(&mut self, module: &str, name: &str, val_type: u8) -> &mut Self {
        self.import(module, name, extern_kind::GLOBAL).global = GlobalType {
            val_type: val_type as u32,
            mutable: 0,
        };
        self
    }

    /// Define a function whose code (and array-call trampoline) is `code`.
    pub fn func(&mut self, ty: u32, code: ArrayCall) -> &mut Self {
        let code = code as *const u8;
        self.functions.push(FunctionDesc {
            code,
            array_call: code,
            type_index: ty,
            _pad: 0,
        });
        self
    }

    pub fn memory(&mut self, min_pages: u64, max_pages: u64) -> &mut Self {
        self.memories.push(MemoryType {
            min_pages,
            max_pages,
            memory64: 0,
            shared: 0,
        });
        self
    }

    pub fn table(&mut self, min: u64, max: u64) -> &mut Self {
        self.tables.push(TableType {
            elem_type: hako_abi::valtype::FUNCREF as u32,
            table64: 0,
            min,
            max,
        });
        self.table_inits.push(Slice::EMPTY);
        self
    }

    /// A table whose every entry starts as a reference to function `func`.
    pub fn table_of(&mut self, min: u64, max: u64, func: u32) -> &mut Self {
        self.table(min, max);
        if let Some(init) = self.table_inits.last_mut() {
            *init = const_expr(const_op::REF_FUNC, func as u64);
        }
        self
    }

    pub fn global(&mut self, val_type: u8, mutable: bool, init: Slice<ConstOp>) -> &mut Self {
        self.globals.push(GlobalDesc {
            ty: GlobalType {
                val_type: val_type as u32,
                mutable: mutable as u32,
            },
            init,
        });
        self
    }

    pub fn export(&mut self, name: &str, kind: u32, index: u32) -> &mut Self {
        self.exports.push(Export {
            name: bytes(name.as_bytes()),
            kind,
            index,
        });
        self
    }

    /// An active data segment of memory 0.
    pub fn data(&mut self, offset: u32, init: &[u8]) -> &mut Self {
        self.data.push(DataSegment {
            mode: segment_mode::ACTIVE,
            memory: 0,
            offset: i32_const(offset),
            bytes: bytes(init),
        });
        self
    }

    /// An active element segment of table 0 holding `ref.func` of `funcs`.
    pub fn elements(&mut self, offset: u32, funcs: &[u32]) -> &mut Self {
        let items = funcs
            .iter()
            .map(|&f| const_expr(const_op::REF_FUNC, f as u64))
            .collect();
        self.elements.push(ElementSegment {
            mode: segment_mode::ACTIVE,
            table: 0,
            elem_type: hako_abi::valtype::FUNCREF as u32,
            _pad: 0,
            offset: i32_const(offset),
            items: leak(items),
        });
        self
    }

    /// The module's calling convention (`hako_abi::module::convention`; C by default).
    pub fn convention(&mut self, convention: u32) -> &mut Self {
        self.convention = convention;
        self
    }

    pub fn start(&mut self, func: u32) -> &mut Self {
        self.start = Some(func);
        self
    }

    /// The descriptor, leaked like the image's static data.
    pub fn build(&mut self) -> Trusted<ModuleDescriptor> {
        // Each function type its own final rec group, as the compiler encodes plain ones.
        let mut defs = Vec::new();
        for t in &self.types {
            // SAFETY: the builder's types were made by `leak` (see below).
            let (p, r) = unsafe { (t.params.as_slice(), t.results.as_slice()) };
            defs.extend([
                1,
                hako_abi::gc::def::FUNC | hako_abi::gc::def::FINAL,
                hako_abi::gc::def::NO_SUPER,
                p.len() as u32,
                r.len() as u32,
            ]);
            defs.extend(p.iter().chain(r).map(|c| u32::from(*c)));
        }
        let desc: &'static ModuleDescriptor = Box::leak(Box::new(ModuleDescriptor {
            abi_version: hako_abi::ABI_VERSION,
            start: self.start.unwrap_or(NO_INDEX),
            types: leak(core::mem::take(&mut self.types)),
            imports: leak(core::mem::take(&mut self.imports)),
            functions: leak(core::mem::take(&mut self.functions)),
            tables: leak(core::mem::take(&mut self.tables)),
            memories: leak(core::mem::take(&mut self.memories)),
            globals: leak(core::mem::take(&mut self.globals)),
            exports: leak(core::mem::take(&mut self.exports)),
            data: leak(core::mem::take(&mut self.data)),
            elements: leak(core::mem::take(&mut self.elements)),
            table_inits: leak(core::mem::take(&mut self.table_inits)),
            tags: Slice::EMPTY,
            name: Slice::EMPTY,
            prebuilt: core::ptr::null(),
            convention: self.convention,
            _pad: 0,
            type_defs: leak(defs),
        }));
        // SAFETY: every `Slice` of `desc` was made by `leak` from a leaked vector: valid
        // for the rest of the program and never changed; there is no prebuilt instance.
        unsafe { Trusted::new(desc) }
    }
}
