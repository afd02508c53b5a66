//! The LLVM struct types of the descriptor's ABI structs.
//!
//! Every ABI struct is `#[repr(C)]` with only 4- and 8-byte fields, so it maps one-to-one
//! onto an LLVM struct of `i32`, `i64` and `ptr` with the same natural layout; [`Layouts`]
//! defines those structs once, and a unit test checks them against `size_of`/`offset_of`
//! through the target data layout.

use inkwell::context::Context;
use inkwell::types::{BasicTypeEnum, StructType};

/// The LLVM struct type of every descriptor type.
pub struct Layouts<'ctx> {
    pub slice: StructType<'ctx>,
    pub func_type: StructType<'ctx>,
    pub table_type: StructType<'ctx>,
    pub memory_type: StructType<'ctx>,
    pub global_type: StructType<'ctx>,
    pub const_op: StructType<'ctx>,
    pub import: StructType<'ctx>,
    pub function_desc: StructType<'ctx>,
    pub global_desc: StructType<'ctx>,
    pub export: StructType<'ctx>,
    pub data_segment: StructType<'ctx>,
    pub element_segment: StructType<'ctx>,
    pub module_descriptor: StructType<'ctx>,
    pub func_ref: StructType<'ctx>,
    pub vm_context: StructType<'ctx>,
    pub prebuilt: StructType<'ctx>,
    pub data_init: StructType<'ctx>,
}

impl<'ctx> Layouts<'ctx> {
    pub fn new(llcx: &'ctx Context) -> Self {
        let (i32, i64) = (llcx.i32_type().into(), llcx.i64_type().into());
        let ptr: BasicTypeEnum = llcx.ptr_type(inkwell::AddressSpace::default()).into();
        let st = |fields: &[BasicTypeEnum<'ctx>]| llcx.struct_type(fields, false);
        let slice = st(&[ptr, i64]);
        let s: BasicTypeEnum = slice.into();
        let table_type = st(&[i32, i32, i64, i64]);
        let memory_type = st(&[i64, i64, i32, i32]);
        let global_type = st(&[i32, i32]);
        Layouts {
            slice,
            func_type: st(&[s, s]),
            table_type,
            memory_type,
            global_type,
            const_op: st(&[i32, i32, llcx.i64_type().array_type(2).into()]),
            import: st(&[
                s,
                s,
                i32,
                i32,
                ptr,
                table_type.into(),
                memory_type.into(),
                global_type.into(),
            ]),
            function_desc: st(&[ptr, ptr, i32, i32]),
            global_desc: st(&[global_type.into(), s]),
            export: st(&[s, i32, i32]),
            data_segment: st(&[i32, i32, s, s]),
            element_segment: st(&[i32, i32, i32, i32, s, s]),
            module_descriptor: st(&[
                i32, i32, s, s, s, s, s, s, s, s, s, s, s, s, ptr, i32, i32, s,
            ]),
            func_ref: st(&[ptr, ptr, ptr, i32, i32]),
            vm_context: st(&[ptr, ptr, ptr, ptr, ptr, ptr, ptr, ptr]),
            prebuilt: st(&[ptr, s, s, s, s, s, s, s]),
            data_init: st(&[i32, i32, i64, s]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Layouts;
    use core::mem::{offset_of, size_of};
    use hako_abi::module::*;
    use hako_abi::vm::{FuncRef, VmContext};
    use inkwell::context::Context;
    use inkwell::types::StructType;

    fn check(
        td: &inkwell::targets::TargetData,
        ty: StructType<'_>,
        size: usize,
        offsets: &[usize],
        what: &str,
    ) {
        assert_eq!(td.get_abi_size(&ty), size as u64, "size of {what}");
        assert_eq!(
            ty.count_fields() as usize,
            offsets.len(),
            "field count of {what}"
        );
        for (i, off) in offsets.iter().enumerate() {
            assert_eq!(
                td.offset_of_element(&ty, i as u32),
                Some(*off as u64),
                "offset of field {i} of {what}"
            );
        }
    }

    #[test]
    fn llvm_layouts_match_the_abi() {
        let machine = crate::target_machine(
            &crate::Options::default(),
            inkwell::OptimizationLevel::Default,
        )
        .unwrap();
        let td = machine.get_target_data();
        let llcx = Context::create();
        let l = Layouts::new(&llcx);
        macro_rules! offs { ($t:ty: $($f:ident),*) => { &[$(offset_of!($t, $f)),*] } }
        check(
            &td,
            l.slice,
            size_of::<Bytes>(),
            offs!(Bytes: ptr, len),
            "Slice",
        );
        check(
            &td,
            l.func_type,
            size_of::<FuncType>(),
            offs!(FuncType: params, results),
            "FuncType",
        );
        check(
            &td,
            l.table_type,
            size_of::<TableType>(),
            offs!(TableType: elem_type, table64, min, max),
            "TableType",
        );
        check(
            &td,
            l.memory_type,
            size_of::<MemoryType>(),
            offs!(MemoryType: min_pages, max_pages, memory64, shared),
            "MemoryType",
        );
        check(
            &td,
            l.global_type,
            size_of::<GlobalType>(),
            offs!(GlobalType: val_type, mutable),
            "GlobalType",
        );
        check(
            &td,
            l.const_op,
            size_of::<ConstOp>(),
            offs!(ConstOp: op, _pad, imm),
            "ConstOp",
        );
        check(
            &td,
            l.import,
            size_of::<Import>(),
            offs!(Import: module, name, kind, type_index, linked, table, memory, global),
            "Import",
        );
        check(
            &td,
            l.function_desc,
            size_of::<FunctionDesc>(),
            offs!(FunctionDesc: code, array_call, type_index, _pad),
            "FunctionDesc",
        );
        check(
            &td,
            l.global_desc,
            size_of::<GlobalDesc>(),
            offs!(GlobalDesc: ty, init),
            "GlobalDesc",
        );
        check(
            &td,
            l.export,
            size_of::<Export>(),
            offs!(Export: name, kind, index),
            "Export",
        );
        check(
            &td,
            l.data_segment,
            size_of::<DataSegment>(),
            offs!(DataSegment: mode, memory, offset, bytes),
            "DataSegment",
        );
        check(
            &td,
            l.element_segment,
            size_of::<ElementSegment>(),
            offs!(ElementSegment: mode, table, elem_type, _pad, offset, items),
            "ElementSegment",
        );
        check(
            &td,
            l.module_descriptor,
            size_of::<ModuleDescriptor>(),
            offs!(ModuleDescriptor: abi_version, start, types, imports, functions, tables, memories, globals, exports, data, elements, table_inits, tags, name, prebuilt, convention, _pad, type_defs),
            "ModuleDescriptor",
        );
        check(
            &td,
            l.func_ref,
            size_of::<FuncRef>(),
            offs!(FuncRef: code, array_call, vmctx, type_id, _pad),
            "FuncRef",
        );
        check(
            &td,
            l.vm_context,
            size_of::<VmContext>(),
            offs!(VmContext: memory0, memories, tables, globals, funcs, type_ids, instance, tags),
            "VmContext",
        );
        check(
            &td,
            l.prebuilt,
            size_of::<Prebuilt>(),
            offs!(Prebuilt: vmctx, funcs, type_ids, globals, memory_slots, table_slots, table_inits, data_inits),
            "Prebuilt",
        );
        check(
            &td,
            l.data_init,
            size_of::<DataInit>(),
            offs!(DataInit: memory, _pad, offset, bytes),
            "DataInit",
        );
    }
}
