//! Emission of a module's prebuilt instance (`hako_abi::module::Prebuilt`): the
//! [`Plan`](super::plan::Plan) laid out as LLVM data next to the descriptor, which the kernel
//! adopts instead of instantiating the module.
//!
//! The instance's function references, type ids, global slots, table contents and data
//! placements are private globals; those the kernel or compiled code writes (global slots,
//! memory and table slots) are writable, the rest constant. The `VmContext` is initialised
//! last, as it points to the arrays and the function references point back to it.

use inkwell::values::{BasicValueEnum, FunctionValue, PointerValue, StructValue};

use super::plan::{plan, Const};
use super::Emitter;

/// Whether the image's code may write an array of the prebuilt instance.
#[derive(Clone, Copy)]
enum Access {
    /// Read only: a constant, unnamed-address global.
    Constant,
    /// Written by the kernel or by compiled code (slots), so a plain global.
    Writable,
}
use crate::error::{internal, Result};

impl<'ctx> Emitter<'_, 'ctx, '_> {
    /// The module's prebuilt instance (a pointer to its `Prebuilt`), or `None` when the
    /// module cannot have one. `data_bytes[i]` is the descriptor's slice of data segment `i`.
    pub(super) fn prebuilt(
        &mut self,
        trampolines: &[Option<FunctionValue<'ctx>>],
        data_bytes: &[StructValue<'ctx>],
    ) -> Result<Option<BasicValueEnum<'ctx>>> {
        let info = self.cx.info;
        let Some(plan) = plan(info)? else {
            return Ok(None);
        };
        let null = self.cx.ptr.const_null();
        let l = &self.l;
        let (func_ref, vm_context, slice, data_init, prebuilt) =
            (l.func_ref, l.vm_context, l.slice, l.data_init, l.prebuilt);

        // Initialised last: it points to the arrays, and the functions point back to it.
        let vmctx = self.new_private_global(vm_context, "vmctx", 8);
        let vmctx_ptr = vmctx.as_pointer_value();

        let num_imported = info.num_imported_funcs() as usize;
        let mut funcs = Vec::with_capacity(info.func_types.len());
        for (i, &type_index) in info.func_types.iter().enumerate() {
            let code = self.fn_ptr(self.cx.funcref_code(i as u32)?);
            let array_call = match i.checked_sub(num_imported) {
                Some(d) => self.fn_ptr(trampolines.get(d).copied().flatten()),
                None => null.into(),
            };
            let Some(&type_id) = plan.type_ids.get(type_index as usize) else {
                return Err(internal(format!("function {i} has no type {type_index}")));
            };
            funcs.push(func_ref.const_named_struct(&[
                code,
                array_call,
                vmctx_ptr.into(),
                self.u32(type_id),
                self.u32(0),
            ]));
        }
        let n = funcs.len();
        let (funcs_ptr, funcs) = self.data_array(
            func_ref.const_array(&funcs).into(),
            n,
            "funcs",
            16,
            Access::Constant,
        );
        let func_addr = |f: u32| -> BasicValueEnum<'ctx> {
            let off = self
                .cx
                .i64
                .const_int(u64::from(f) * hako_abi::vm::FUNCREF_SIZE as u64, false);
            // SAFETY: a plain (not inbounds) constant GEP on i8 is address arithmetic.
            unsafe { funcs_ptr.const_gep(self.cx.i8, &[off]) }.into()
        };
        let value = |v: Const| -> BasicValueEnum<'ctx> {
            match v {
                Const::Bits(_) | Const::Null => null.into(),
                Const::Func(f) => func_addr(f),
            }
        };

        let ids: Vec<_> = plan
            .type_ids
            .iter()
            .map(|&t| self.cx.i32.const_int(u64::from(t), false))
            .collect();
        let (type_ids_ptr, type_ids) = self.data_array(
            self.cx.i32.const_array(&ids).into(),
            ids.len(),
            "type_ids",
            4,
            Access::Constant,
        );

        // Global slots: 16 bytes each, written by compiled code.
        let slots: Vec<BasicValueEnum<'ctx>> = plan
            .globals
            .iter()
            .map(|&g| {
                let fields: [BasicValueEnum<'ctx>; 2] = match g {
                    Const::Bits(b) => [self.u64(b as u64), self.u64((b >> 64) as u64)],
                    other => [value(other), self.u64(0)],
                };
                self.cx.llcx.const_struct(&fields, false).into()
            })
            .collect();
        let init = self.cx.llcx.const_struct(&slots, false);
        let (base, _) = self.data_array(
            init.into(),
            slots.len(),
            "global_slots",
            16,
            Access::Writable,
        );
        let ptrs: Vec<_> = (0..slots.len() as u64)
            .map(|i| {
                let off = self.cx.i64.const_int(i * 16, false);
                // SAFETY: a plain constant GEP on i8 is address arithmetic.
                unsafe { base.const_gep(self.cx.i8, &[off]) }
            })
            .collect();
        let (globals_ptr, globals) = self.data_array(
            self.cx.ptr.const_array(&ptrs).into(),
            ptrs.len(),
            "globals",
            8,
            Access::Constant,
        );

        let (memory_slots_ptr, memory_slots) = self.null_slots(info.memories.len(), "memory_slots");
        let (table_slots_ptr, table_slots) = self.null_slots(info.tables.len(), "table_slots");
        let mut table_inits = Vec::with_capacity(plan.tables.len());
        for entries in &plan.tables {
            let vals: Vec<_> = entries
                .iter()
                .map(|&v| value(v).into_pointer_value())
                .collect();
            let init = self.cx.ptr.const_array(&vals).into();
            table_inits.push(
                self.data_array(init, vals.len(), "table_init", 8, Access::Constant)
                    .1,
            );
        }
        let table_inits = self.array(slice, table_inits, "table_inits");
        let mut data_inits = Vec::with_capacity(plan.data.len());
        for &(segment, memory, start) in &plan.data {
            let Some(&bytes) = data_bytes.get(segment) else {
                return Err(internal(format!("no bytes for data segment {segment}")));
            };
            data_inits.push(data_init.const_named_struct(&[
                self.u32(memory),
                self.u32(0),
                self.u64(start),
                bytes.into(),
            ]));
        }
        let data_inits = self.array(data_init, data_inits, "data_inits");

        vmctx.set_initializer(&vm_context.const_named_struct(&[
            null.into(),
            memory_slots_ptr.into(),
            table_slots_ptr.into(),
            globals_ptr.into(),
            funcs_ptr.into(),
            type_ids_ptr.into(),
            null.into(),
            null.into(),
        ]));
        let root = prebuilt.const_named_struct(&[
            vmctx_ptr.into(),
            funcs.into(),
            type_ids.into(),
            globals.into(),
            memory_slots.into(),
            table_slots.into(),
            table_inits.into(),
            data_inits.into(),
        ]);
        Ok(Some(self.private_global(root.into(), "prebuilt", 8)))
    }

    /// `n` null pointers as a writable array, for the kernel to fill.
    fn null_slots(&mut self, n: usize, what: &str) -> (PointerValue<'ctx>, StructValue<'ctx>) {
        let init = self.cx.ptr.array_type(n as u32).const_zero();
        self.data_array(init.into(), n, what, 8, Access::Writable)
    }

    /// A private global holding `init`, an array of `len` elements (constant or writable),
    /// as its address and a `Slice`; null and an empty slice when `len` is 0.
    fn data_array(
        &mut self,
        init: BasicValueEnum<'ctx>,
        len: usize,
        what: &str,
        align: u32,
        access: Access,
    ) -> (PointerValue<'ctx>, StructValue<'ctx>) {
        if len == 0 {
            return (self.cx.ptr.const_null(), self.slice_null());
        }
        let p = match access {
            Access::Writable => {
                let g = self.new_private_global(init.get_type(), what, align);
                g.set_initializer(&init);
                g.as_pointer_value()
            }
            Access::Constant => self.private_global(init, what, align).into_pointer_value(),
        };
        (p, self.slice(p.into(), len))
    }
}
