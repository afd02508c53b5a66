//! The kernel's `spectest` module (see `hako_abi::script`, section 5), which spec scripts
//! import from: one shared table and memory, immutable globals, and no-op functions.

use super::{Extern, InstError, Machine, Store, StoreFunc, Stub};
use crate::vmdata::GlobalSlot;
use alloc::vec;
use hako_abi::module::{convention, GlobalType};
use hako_abi::valtype;
use hako_abi::vm::{FuncRef, ValRaw};

/// The `spectest` instance.
#[derive(Debug)]
pub struct Spectest {
    memory: usize,
    table: usize,
    table64: usize,
    /// `global_i32`, `global_i64`, `global_f32`, `global_f64`.
    globals: [GlobalSlot; 4],
    /// Canonical type ids of `print`, `print_i32`, ... in [`SPECTEST_FUNCS`] order.
    func_types: [u32; 7],
    /// The code of every `print*` function (and of their array-call trampolines) in the C
    /// convention, and in the tail convention.
    nop: *const u8,
    nop_tail: *const u8,
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

impl Store {
    /// Create the `spectest` instance (once).
    pub fn init_spectest(&mut self, machine: &mut dyn Machine) -> Result<(), InstError> {
        if self.spectest.is_some() {
            return Ok(());
        }
        let memory = self.new_memory(machine, 1, 2, false, false)?;
        let table = self.new_table(valtype::FUNCREF as u32, 10, 20, false)?;
        let table64 = self.new_table(valtype::FUNCREF as u32, 10, 20, true)?;
        let mut slots = GlobalSlot::leak(vec![
            ValRaw::from_u32(666),
            ValRaw::from_u64(666),
            ValRaw::from_u32(hako_abi::script::SPECTEST_GLOBAL_F32_BITS),
            ValRaw::from_u64(hako_abi::script::SPECTEST_GLOBAL_F64_BITS),
        ]);
        let globals = core::array::from_fn(|_| slots.next().expect("four slots"));
        let mut func_types = [0; 7];
        for (t, (_, params)) in func_types.iter_mut().zip(SPECTEST_FUNCS) {
            *t = self.types.intern(params, &[]);
        }
        self.spectest = Some(Spectest {
            memory,
            table,
            table64,
            globals,
            func_types,
            nop: machine.stub(Stub::SpectestNop),
            nop_tail: machine.stub(Stub::SpectestNopTail),
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
            let code = match self.convention {
                Some(convention::TAIL) => st.nop_tail,
                _ => st.nop,
            };
            return Some(Extern::Func(StoreFunc(FuncRef {
                code,
                array_call: st.nop,
                vmctx: core::ptr::null_mut(),
                type_id: st.func_types[i],
                _pad: 0,
            })));
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
            b"table64" => Some(Extern::Table(st.table64)),
            b"memory" => Some(Extern::Memory(st.memory)),
            _ => None,
        }
    }
}
