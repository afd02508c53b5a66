//! Emission of the module descriptor (`hako_abi::module::ModuleDescriptor`) as LLVM
//! constants.
//!
//! The descriptor's LLVM struct types are in `layouts.rs`; arrays the descriptor points to
//! are private constants, and only the descriptor itself (`<prefix>_module`) is an external
//! symbol. With `Options::prebuild` the descriptor also points to the module's instance laid
//! out ahead of time: what it holds is decided in `plan.rs`, and emitted in `prebuilt.rs`.

use hako_abi::module::{const_op, extern_kind, segment_mode, ConstOp, NO_INDEX, NO_MAX};
use inkwell::module::Linkage;
use inkwell::types::{BasicType, StructType};
use inkwell::values::{BasicValueEnum, FunctionValue, GlobalValue, StructValue};
use wasmparser::{
    ConstExpr, DataKind, ElementItems, ElementKind, ExternalKind, Operator, TypeRef, ValType,
};

use crate::ctx::ModuleCtx;
use crate::error::{unsupported, Result};
use crate::module::{ref_code, val_code, val_word};

mod layouts;
mod plan;
mod prebuilt;

use layouts::Layouts;

struct Emitter<'c, 'ctx, 'a> {
    cx: &'c ModuleCtx<'ctx, 'a>,
    l: Layouts<'ctx>,
    counter: usize,
}

/// Emits `<prefix>_module`. `trampolines[i]` is the array-call trampoline of defined
/// function `i`, if it has one. With `prebuild`, also the module's instance when it can be
/// laid out ahead of time (see [`hako_abi::module::Prebuilt`]).
pub fn emit<'ctx>(
    cx: &ModuleCtx<'ctx, '_>,
    trampolines: &[Option<FunctionValue<'ctx>>],
    prebuild: bool,
) -> Result<()> {
    let mut e = Emitter {
        cx,
        l: Layouts::new(cx.llcx),
        counter: 0,
    };
    let info = cx.info;

    let mut types = Vec::new();
    for t in &info.types {
        let params = e.bytes(&codes_or_v128(t.params(), &info.gc_types)?, "params");
        let results = e.bytes(&codes_or_v128(t.results(), &info.gc_types)?, "results");
        types.push(
            e.l.func_type
                .const_named_struct(&[params.into(), results.into()]),
        );
    }
    let types = e.array(e.l.func_type, types, "types");

    let mut imports = Vec::new();
    for (i, imp) in info.imports.iter().enumerate() {
        imports.push(e.import(i, imp)?);
    }
    let imports = e.array(e.l.import, imports, "imports");

    let num_imported = info.num_imported_funcs();
    let mut functions = Vec::new();
    for (i, type_index) in info
        .func_types
        .iter()
        .enumerate()
        .skip(num_imported as usize)
    {
        let code = e.fn_ptr(cx.direct(i as u32)?);
        let tramp = e.fn_ptr(
            trampolines
                .get(i - num_imported as usize)
                .copied()
                .flatten(),
        );
        functions.push(e.l.function_desc.const_named_struct(&[
            code,
            tramp,
            e.u32(*type_index),
            e.u32(0),
        ]));
    }
    let functions = e.array(e.l.function_desc, functions, "functions");

    let tables = info.tables[info.num_imported_tables as usize..]
        .iter()
        .map(|t| e.table_type(t))
        .collect::<Result<Vec<_>>>()?;
    let tables = e.array(e.l.table_type, tables, "tables");
    let memories = info.memories[info.num_imported_memories as usize..]
        .iter()
        .map(|m| e.memory_type(m))
        .collect();
    let memories = e.array(e.l.memory_type, memories, "memories");

    let mut globals = Vec::new();
    for (g, init) in info.globals[info.num_imported_globals as usize..]
        .iter()
        .zip(&info.global_inits)
    {
        let ty = e.global_type(g)?;
        let init = e.const_expr(&init.init)?;
        globals.push(
            e.l.global_desc
                .const_named_struct(&[ty.into(), init.into()]),
        );
    }
    let globals = e.array(e.l.global_desc, globals, "globals");

    let mut exports = Vec::new();
    for ex in &info.exports {
        let kind = match ex.kind {
            ExternalKind::Func | ExternalKind::FuncExact => extern_kind::FUNC,
            ExternalKind::Table => extern_kind::TABLE,
            ExternalKind::Memory => extern_kind::MEMORY,
            ExternalKind::Global => extern_kind::GLOBAL,
            ExternalKind::Tag => extern_kind::TAG,
        };
        let name = e.bytes(ex.name.as_bytes(), "export_name");
        exports.push(
            e.l.export
                .const_named_struct(&[name.into(), e.u32(kind), e.u32(ex.index)]),
        );
    }
    let exports = e.array(e.l.export, exports, "exports");

    let mut data = Vec::new();
    let mut data_bytes = Vec::new();
    for d in &info.data {
        let (mode, memory, offset) = match &d.kind {
            DataKind::Passive => (segment_mode::PASSIVE, 0, e.slice_null()),
            DataKind::Active {
                memory_index,
                offset_expr,
            } => (
                segment_mode::ACTIVE,
                *memory_index,
                e.const_expr(offset_expr)?,
            ),
        };
        let bytes = e.bytes(d.data, "data");
        data_bytes.push(bytes);
        data.push(e.l.data_segment.const_named_struct(&[
            e.u32(mode),
            e.u32(memory),
            offset.into(),
            bytes.into(),
        ]));
    }
    let data = e.array(e.l.data_segment, data, "data_segments");

    let mut elements = Vec::new();
    for el in &info.elements {
        let (mode, table, offset) = match &el.kind {
            ElementKind::Passive => (segment_mode::PASSIVE, 0, e.slice_null()),
            ElementKind::Declared => (segment_mode::DECLARED, 0, e.slice_null()),
            ElementKind::Active {
                table_index,
                offset_expr,
            } => (
                segment_mode::ACTIVE,
                table_index.unwrap_or(0),
                e.const_expr(offset_expr)?,
            ),
        };
        let (elem_type, items) = match &el.items {
            ElementItems::Functions(funcs) => {
                let mut items = Vec::new();
                for f in funcs.clone() {
                    let item = make_op(const_op::REF_FUNC, u64::from(f?), 0);
                    items.push(e.ops(&[item], "elem_item"));
                }
                (hako_abi::valtype::FUNCREF, items)
            }
            ElementItems::Expressions(rt, exprs) => {
                let mut items = Vec::new();
                for expr in exprs.clone() {
                    items.push(e.const_expr(&expr?)?);
                }
                (
                    ref_code(*rt, &info.gc_types, el.range.start as usize)?,
                    items,
                )
            }
        };
        let items = e.array(e.l.slice, items, "elem_items");
        elements.push(e.l.element_segment.const_named_struct(&[
            e.u32(mode),
            e.u32(table),
            e.u32(u32::from(elem_type)),
            e.u32(0),
            offset.into(),
            items.into(),
        ]));
    }
    let elements = e.array(e.l.element_segment, elements, "elements");

    let mut table_inits = Vec::new();
    for init in &info.table_inits {
        table_inits.push(match init {
            Some(expr) => e.const_expr(expr)?,
            None => e.slice_null(),
        });
    }
    let table_inits = e.array(e.l.slice, table_inits, "table_inits");

    let defined_tags: Vec<_> = info.tags[info.num_imported_tags as usize..]
        .iter()
        .map(|t| cx.i32.const_int(u64::from(*t), false))
        .collect();
    let tags = match defined_tags.is_empty() {
        true => e.slice_null(),
        false => {
            let init = cx.i32.const_array(&defined_tags);
            let p = e.private_global(init.into(), "tags", 4);
            e.slice(p, defined_tags.len())
        }
    };

    let words = type_defs(info)?;
    let type_defs = match words.is_empty() {
        true => e.slice_null(),
        false => {
            let init = cx.i32.const_array(
                &words
                    .iter()
                    .map(|w| cx.i32.const_int(u64::from(*w), false))
                    .collect::<Vec<_>>(),
            );
            let p = e.private_global(init.into(), "type_defs", 4);
            e.slice(p, words.len())
        }
    };

    let name = e.bytes(info.module_name.unwrap_or("").as_bytes(), "name");
    let prebuilt = match prebuild {
        true => e.prebuilt(trampolines, &data_bytes)?,
        false => None,
    };
    let prebuilt = prebuilt.unwrap_or_else(|| cx.ptr.const_null().into());
    let root = e.l.module_descriptor.const_named_struct(&[
        e.u32(hako_abi::ABI_VERSION),
        e.u32(info.start.unwrap_or(NO_INDEX)),
        types.into(),
        imports.into(),
        functions.into(),
        tables.into(),
        memories.into(),
        globals.into(),
        exports.into(),
        data.into(),
        elements.into(),
        table_inits.into(),
        tags.into(),
        name.into(),
        prebuilt,
        e.u32(match info.tail_convention {
            true => hako_abi::module::convention::TAIL,
            false => hako_abi::module::convention::C,
        }),
        e.u32(0),
        type_defs.into(),
    ]);
    let symbol = hako_abi::module::descriptor_symbol(cx.prefix).to_string();
    let g = cx.module.add_global(e.l.module_descriptor, None, &symbol);
    g.set_initializer(&root);
    g.set_constant(true);
    g.set_linkage(Linkage::External);
    g.set_alignment(8);
    Ok(())
}

/// The module's type definitions as [`hako_abi::gc::def`] words.
pub(crate) fn type_defs(info: &crate::module::ModuleInfo<'_>) -> Result<Vec<u32>> {
    use hako_abi::gc::def;
    use wasmparser::CompositeInnerType;
    let gc = &info.gc_types;
    let mut w = Vec::new();
    for &(start, len) in &info.rec_groups {
        w.push(len);
        for sub in &info.sub_types[start as usize..(start + len) as usize] {
            let supertype = sub
                .supertype_idxs
                .first()
                .and_then(|i| i.as_module_index())
                .unwrap_or(def::NO_SUPER);
            let fin = if sub.is_final { def::FINAL } else { 0 };
            match &sub.composite_type.inner {
                CompositeInnerType::Func(f) => {
                    w.extend([
                        def::FUNC | fin,
                        supertype,
                        f.params().len() as u32,
                        f.results().len() as u32,
                    ]);
                    for t in f.params().iter().chain(f.results()) {
                        w.push(val_word(*t, gc, 0)?);
                    }
                }
                inner => {
                    let kind = match inner {
                        CompositeInnerType::Struct(_) => def::STRUCT,
                        _ => def::ARRAY,
                    };
                    let fields = crate::module::fields(sub);
                    w.extend([kind | fin, supertype, fields.len() as u32, 0]);
                    for f in fields {
                        w.push(crate::module::storage_word(f.element_type, gc)?);
                        w.push(u32::from(f.mutable));
                    }
                }
            }
        }
    }
    Ok(w)
}

fn make_op(op: u32, imm0: u64, imm1: u64) -> ConstOp {
    ConstOp {
        op,
        _pad: 0,
        imm: [imm0, imm1],
    }
}

/// A constant expression as the descriptor's `ConstOp` program (the `end` left out).
fn const_ops(expr: &ConstExpr<'_>, info: &crate::module::ModuleInfo<'_>) -> Result<Vec<ConstOp>> {
    let mut reader = expr.get_operators_reader();
    let mut ops = Vec::new();
    while !reader.eof() {
        let (op, offset) = reader.read_with_offset()?;
        let op = match op {
            Operator::I32Const { value } => {
                make_op(const_op::I32_CONST, u64::from(value as u32), 0)
            }
            Operator::I64Const { value } => make_op(const_op::I64_CONST, value as u64, 0),
            Operator::F32Const { value } => {
                make_op(const_op::F32_CONST, u64::from(value.bits()), 0)
            }
            Operator::F64Const { value } => make_op(const_op::F64_CONST, value.bits(), 0),
            Operator::V128Const { value } => {
                let v = value.i128() as u128;
                make_op(const_op::V128_CONST, v as u64, (v >> 64) as u64)
            }
            Operator::GlobalGet { global_index } => {
                make_op(const_op::GLOBAL_GET, u64::from(global_index), 0)
            }
            Operator::RefNull { hty } => {
                let code = match hty {
                    wasmparser::HeapType::Abstract {
                        ty: wasmparser::AbstractHeapType::Extern,
                        ..
                    } => hako_abi::valtype::EXTERNREF,
                    _ => hako_abi::valtype::FUNCREF,
                };
                make_op(const_op::REF_NULL, u64::from(code), 0)
            }
            Operator::RefFunc { function_index } => {
                make_op(const_op::REF_FUNC, u64::from(function_index), 0)
            }
            Operator::I32Add => make_op(const_op::I32_ADD, 0, 0),
            Operator::I32Sub => make_op(const_op::I32_SUB, 0, 0),
            Operator::I32Mul => make_op(const_op::I32_MUL, 0, 0),
            Operator::I64Add => make_op(const_op::I64_ADD, 0, 0),
            Operator::I64Sub => make_op(const_op::I64_SUB, 0, 0),
            Operator::I64Mul => make_op(const_op::I64_MUL, 0, 0),
            Operator::StructNew { struct_type_index } => {
                let n = info
                    .sub_types
                    .get(struct_type_index as usize)
                    .map_or(0, |s| crate::module::fields(s).len());
                make_op(const_op::STRUCT_NEW, u64::from(struct_type_index), n as u64)
            }
            Operator::StructNewDefault { struct_type_index } => make_op(
                const_op::STRUCT_NEW_DEFAULT,
                u64::from(struct_type_index),
                0,
            ),
            Operator::ArrayNew { array_type_index } => {
                make_op(const_op::ARRAY_NEW, u64::from(array_type_index), 0)
            }
            Operator::ArrayNewDefault { array_type_index } => {
                make_op(const_op::ARRAY_NEW_DEFAULT, u64::from(array_type_index), 0)
            }
            Operator::ArrayNewFixed {
                array_type_index,
                array_size,
            } => make_op(
                const_op::ARRAY_NEW_FIXED,
                u64::from(array_type_index),
                u64::from(array_size),
            ),
            Operator::RefI31 => make_op(const_op::REF_I31, 0, 0),
            Operator::AnyConvertExtern | Operator::ExternConvertAny => {
                make_op(const_op::CONVERT, 0, 0)
            }
            Operator::End => continue,
            other => {
                return Err(unsupported(
                    format!("constant expression operator {other:?}"),
                    offset as usize,
                ))
            }
        };
        ops.push(op);
    }
    Ok(ops)
}

/// Type codes for the descriptor; unlike code generation, `v128` is just a code here.
fn codes_or_v128(types: &[wasmparser::ValType], gc_types: &[bool]) -> Result<Vec<u8>> {
    types.iter().map(|t| val_code(*t, gc_types)).collect()
}

impl<'c, 'ctx, 'a> Emitter<'c, 'ctx, 'a> {
    fn u32(&self, v: u32) -> BasicValueEnum<'ctx> {
        self.cx.i32.const_int(u64::from(v), false).into()
    }

    fn u64(&self, v: u64) -> BasicValueEnum<'ctx> {
        self.cx.i64.const_int(v, false).into()
    }

    fn fn_ptr(&self, f: Option<FunctionValue<'ctx>>) -> BasicValueEnum<'ctx> {
        match f {
            Some(f) => f.as_global_value().as_pointer_value().into(),
            None => self.cx.ptr.const_null().into(),
        }
    }

    fn slice(&self, ptr: BasicValueEnum<'ctx>, len: usize) -> StructValue<'ctx> {
        self.l
            .slice
            .const_named_struct(&[ptr, self.u64(len as u64)])
    }

    fn slice_null(&self) -> StructValue<'ctx> {
        self.slice(self.cx.ptr.const_null().into(), 0)
    }

    fn private_global(
        &mut self,
        init: BasicValueEnum<'ctx>,
        what: &str,
        align: u32,
    ) -> BasicValueEnum<'ctx> {
        let g = self.new_private_global(init.get_type(), what, align);
        g.set_initializer(&init);
        g.set_constant(true);
        g.set_unnamed_addr(true);
        g.as_pointer_value().into()
    }

    /// A private global of type `ty`, without initialiser, named `<prefix>_<what>.<n>`.
    fn new_private_global(
        &mut self,
        ty: impl BasicType<'ctx>,
        what: &str,
        align: u32,
    ) -> GlobalValue<'ctx> {
        self.counter += 1;
        let name = format!("{}_{what}.{}", self.cx.prefix, self.counter);
        let g = self.cx.module.add_global(ty, None, &name);
        g.set_linkage(Linkage::Private);
        g.set_alignment(align);
        g
    }

    /// A byte string as a `Slice<u8>`.
    fn bytes(&mut self, data: &[u8], what: &str) -> StructValue<'ctx> {
        if data.is_empty() {
            return self.slice_null();
        }
        let init = self.cx.llcx.const_string(data, false);
        let p = self.private_global(init.into(), what, 1);
        self.slice(p, data.len())
    }

    /// An array of structs as a `Slice<T>`.
    fn array(
        &mut self,
        ty: StructType<'ctx>,
        elems: Vec<StructValue<'ctx>>,
        what: &str,
    ) -> StructValue<'ctx> {
        if elems.is_empty() {
            return self.slice_null();
        }
        let init = ty.const_array(&elems);
        let p = self.private_global(init.into(), what, 8);
        self.slice(p, elems.len())
    }

    fn op(&self, op: &ConstOp) -> StructValue<'ctx> {
        let imm = self.cx.i64.const_array(&[
            self.cx.i64.const_int(op.imm[0], false),
            self.cx.i64.const_int(op.imm[1], false),
        ]);
        self.l
            .const_op
            .const_named_struct(&[self.u32(op.op), self.u32(0), imm.into()])
    }

    fn ops(&mut self, ops: &[ConstOp], what: &str) -> StructValue<'ctx> {
        let ops = ops.iter().map(|o| self.op(o)).collect();
        self.array(self.l.const_op, ops, what)
    }

    /// A constant expression as a `ConstOp` program.
    fn const_expr(&mut self, expr: &ConstExpr<'_>) -> Result<StructValue<'ctx>> {
        let ops = const_ops(expr, self.cx.info)?;
        Ok(self.ops(&ops, "const_expr"))
    }

    fn table_type(&self, t: &wasmparser::TableType) -> Result<StructValue<'ctx>> {
        Ok(self.l.table_type.const_named_struct(&[
            self.u32(val_word(
                ValType::Ref(t.element_type),
                &self.cx.info.gc_types,
                0,
            )?),
            self.u32(u32::from(t.table64)),
            self.u64(t.initial),
            self.u64(t.maximum.unwrap_or(NO_MAX)),
        ]))
    }

    fn memory_type(&self, m: &wasmparser::MemoryType) -> StructValue<'ctx> {
        self.l.memory_type.const_named_struct(&[
            self.u64(m.initial),
            self.u64(m.maximum.unwrap_or(NO_MAX)),
            self.u32(u32::from(m.memory64)),
            self.u32(u32::from(m.shared)),
        ])
    }

    fn global_type(&self, g: &wasmparser::GlobalType) -> Result<StructValue<'ctx>> {
        Ok(self.l.global_type.const_named_struct(&[
            self.u32(val_word(g.content_type, &self.cx.info.gc_types, 0)?),
            self.u32(u32::from(g.mutable)),
        ]))
    }

    fn import(
        &mut self,
        i: usize,
        imp: &crate::module::ImportInfo<'_>,
    ) -> Result<StructValue<'ctx>> {
        let module = self.bytes(imp.module.as_bytes(), "import_module");
        let name = self.bytes(imp.name.as_bytes(), "import_name");
        let zero_table = self.l.table_type.const_zero();
        let zero_memory = self.l.memory_type.const_zero();
        let zero_global = self.l.global_type.const_zero();
        let null = self.cx.ptr.const_null().into();
        let (kind, type_index, linked, table, memory, global) = match imp.ty {
            TypeRef::Func(t) | TypeRef::FuncExact(t) => {
                // Function imports come first in the function index space, in import order.
                let func_index = self.cx.info.imports[..i]
                    .iter()
                    .filter(|p| matches!(p.ty, TypeRef::Func(_)))
                    .count();
                let linked = match self
                    .cx
                    .info
                    .func_imports
                    .get(func_index)
                    .and_then(|f| f.wasi_symbol)
                {
                    Some(_) => self.fn_ptr(self.cx.funcref_code(func_index as u32)?),
                    None => null,
                };
                (
                    extern_kind::FUNC,
                    t,
                    linked,
                    zero_table,
                    zero_memory,
                    zero_global,
                )
            }
            TypeRef::Table(t) => (
                extern_kind::TABLE,
                0,
                null,
                self.table_type(&t)?,
                zero_memory,
                zero_global,
            ),
            TypeRef::Memory(m) => (
                extern_kind::MEMORY,
                0,
                null,
                zero_table,
                self.memory_type(&m),
                zero_global,
            ),
            TypeRef::Global(g) => (
                extern_kind::GLOBAL,
                0,
                null,
                zero_table,
                zero_memory,
                self.global_type(&g)?,
            ),
            TypeRef::Tag(t) => (
                extern_kind::TAG,
                t.func_type_idx,
                null,
                zero_table,
                zero_memory,
                zero_global,
            ),
        };
        Ok(self.l.import.const_named_struct(&[
            module.into(),
            name.into(),
            self.u32(kind),
            self.u32(type_index),
            linked,
            table.into(),
            memory.into(),
            global.into(),
        ]))
    }
}
