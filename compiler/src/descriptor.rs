//! Emission of the module descriptor (`hako_abi::module::ModuleDescriptor`) as LLVM
//! constants.
//!
//! Every ABI struct is `#[repr(C)]` with only 4- and 8-byte fields, so it maps one-to-one
//! onto an LLVM struct of `i32`, `i64` and `ptr` with the same natural layout; [`Layouts`]
//! defines those structs once, and a unit test checks them against `size_of`/`offset_of`
//! through the target data layout. Arrays the descriptor points to are private constants;
//! only the descriptor itself (`<prefix>_module`) is an external symbol.

use hako_abi::constexpr::{self, ConstEnv};
use hako_abi::module::{const_op, extern_kind, segment_mode, ConstOp, NO_INDEX, NO_MAX};
use hako_abi::vm::ValRaw;
use inkwell::context::Context;
use inkwell::module::Linkage;
use inkwell::types::{BasicType, BasicTypeEnum, StructType};
use inkwell::values::{BasicValueEnum, FunctionValue, GlobalValue, PointerValue, StructValue};
use wasmparser::{ConstExpr, DataKind, ElementItems, ElementKind, ExternalKind, Operator, TypeRef};

use crate::ctx::ModuleCtx;
use crate::error::{internal, unsupported, Result};
use crate::module::{ref_code, val_code};

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
            module_descriptor: st(&[i32, i32, s, s, s, s, s, s, s, s, s, s, ptr]),
            func_ref: st(&[ptr, ptr, ptr, i32, i32]),
            vm_context: st(&[ptr, ptr, ptr, ptr, ptr, ptr, ptr]),
            prebuilt: st(&[ptr, s, s, s, s, s, s, s]),
            data_init: st(&[i32, i32, i64, s]),
        }
    }
}

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
        let params = e.bytes(&codes_or_v128(t.params())?, "params");
        let results = e.bytes(&codes_or_v128(t.results())?, "results");
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
        let code = e.fn_ptr(cx.direct.get(i).copied().flatten());
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
                (ref_code(*rt, el.range.start as usize)?, items)
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
        name.into(),
        prebuilt,
    ]);
    let symbol = hako_abi::module::descriptor_symbol(cx.prefix).to_string();
    let g = cx.module.add_global(e.l.module_descriptor, None, &symbol);
    g.set_initializer(&root);
    g.set_constant(true);
    g.set_linkage(Linkage::External);
    g.set_alignment(8);
    Ok(())
}

fn make_op(op: u32, imm0: u64, imm1: u64) -> ConstOp {
    ConstOp {
        op,
        _pad: 0,
        imm: [imm0, imm1],
    }
}

/// A constant expression as the descriptor's `ConstOp` program (the `end` left out).
fn const_ops(expr: &ConstExpr<'_>) -> Result<Vec<ConstOp>> {
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
fn codes_or_v128(types: &[wasmparser::ValType]) -> Result<Vec<u8>> {
    types.iter().map(|t| val_code(*t)).collect()
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
        let ops = const_ops(expr)?;
        Ok(self.ops(&ops, "const_expr"))
    }

    fn table_type(&self, t: &wasmparser::TableType) -> Result<StructValue<'ctx>> {
        Ok(self.l.table_type.const_named_struct(&[
            self.u32(u32::from(ref_code(t.element_type, 0)?)),
            self.u32(0),
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
            self.u32(u32::from(val_code(g.content_type)?)),
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
                    Some(_) => self.fn_ptr(self.cx.direct.get(func_index).copied().flatten()),
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
            TypeRef::Tag(_) => return Err(unsupported("exception handling", 0)),
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

/// Most table entries a [`Prebuilt`](hako_abi::module::Prebuilt) instance lays out: its
/// tables' initial entries are data of the image, 8 bytes each.
const MAX_PREBUILT_TABLE_ENTRIES: u64 = 1 << 16;

/// A value the compiler knows at compile time, for a prebuilt instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Const {
    /// Raw bits, as in `ValRaw`.
    Bits(u128),
    /// `ref.func`: the address of the function's `FuncRef`.
    Func(u32),
    Null,
}

/// What the plan's constant expressions may refer to: the values of the globals before
/// them (a module with a prebuilt instance imports none), and functions, whose reference is
/// encoded as the function index + 1 (0 is `ref.null`) and decoded by [`reference`].
struct PlanEnv<'a>(&'a [ValRaw]);

impl ConstEnv for PlanEnv<'_> {
    fn global(&self, index: u32) -> Option<ValRaw> {
        self.0.get(index as usize).copied()
    }
    fn func_ref(&self, index: u32) -> Option<u64> {
        Some(u64::from(index) + 1)
    }
}

/// Evaluates a constant expression as the kernel would (the same evaluator), `None` when it
/// refers to something the compiler does not know.
fn eval_const(expr: &ConstExpr<'_>, globals: &[ValRaw]) -> Result<Option<ValRaw>> {
    Ok(constexpr::eval(&const_ops(expr)?, &PlanEnv(globals)).ok())
}

/// A reference value of [`PlanEnv`].
fn reference(v: ValRaw) -> Const {
    match v.u64() {
        0 => Const::Null,
        f => Const::Func((f - 1) as u32),
    }
}

/// The value of a global of type `ty`.
fn global_value(v: ValRaw, ty: wasmparser::ValType) -> Const {
    match ty {
        wasmparser::ValType::Ref(_) => reference(v),
        _ => Const::Bits(v.u128()),
    }
}

/// An offset of a 32-bit (`wide` false) or 64-bit index space.
fn offset(v: ValRaw, wide: bool) -> u64 {
    if wide {
        v.u64()
    } else {
        u64::from(v.u32())
    }
}

/// What a prebuilt instance holds, computed from the module.
#[derive(Debug, PartialEq, Eq)]
struct Plan {
    /// The canonical id of each type index.
    type_ids: Vec<u32>,
    /// The initial value of each global.
    globals: Vec<Const>,
    /// The initial entries of each table.
    tables: Vec<Vec<Const>>,
    /// Per active data segment: (segment, memory, offset).
    data: Vec<(usize, u32, u64)>,
}

/// The plan of a module's prebuilt instance, or `None` when the module needs something at
/// instantiation that only the kernel can provide or decide (see
/// [`hako_abi::module::Prebuilt`]).
fn plan(info: &crate::module::ModuleInfo<'_>) -> Result<Option<Plan>> {
    let linked = info.imports.len() == info.func_imports.len()
        && info.func_imports.iter().all(|f| f.wasi_symbol.is_some());
    if !linked {
        return Ok(None);
    }
    // The ids the kernel's type registry gives when this is the first module.
    let mut canonical: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    let mut type_ids = Vec::with_capacity(info.types.len());
    for t in &info.types {
        let key = (codes_or_v128(t.params())?, codes_or_v128(t.results())?);
        let id = match canonical.iter().position(|k| *k == key) {
            Some(id) => id,
            None => {
                canonical.push(key);
                canonical.len() - 1
            }
        };
        type_ids.push(id as u32);
    }
    let mut values = Vec::with_capacity(info.global_inits.len());
    for g in &info.global_inits {
        let Some(v) = eval_const(&g.init, &values)? else {
            return Ok(None);
        };
        values.push(v);
    }
    let globals = values
        .iter()
        .zip(&info.globals)
        .map(|(&v, g)| global_value(v, g.content_type))
        .collect();
    if info.tables.iter().map(|t| t.initial).sum::<u64>() > MAX_PREBUILT_TABLE_ENTRIES {
        return Ok(None);
    }
    let mut tables: Vec<Vec<Const>> = info
        .tables
        .iter()
        .map(|t| vec![Const::Null; t.initial as usize])
        .collect();
    for el in &info.elements {
        let (table, offset_expr) = match &el.kind {
            ElementKind::Declared => continue,
            ElementKind::Passive => return Ok(None),
            ElementKind::Active {
                table_index,
                offset_expr,
            } => (table_index.unwrap_or(0) as usize, offset_expr),
        };
        let mut items = Vec::new();
        match &el.items {
            ElementItems::Functions(funcs) => {
                for f in funcs.clone() {
                    items.push(Const::Func(f?));
                }
            }
            ElementItems::Expressions(_, exprs) => {
                for e in exprs.clone() {
                    let Some(v) = eval_const(&e?, &values)? else {
                        return Ok(None);
                    };
                    items.push(reference(v));
                }
            }
        }
        let (Some(t), Some(start)) = (info.tables.get(table), eval_const(offset_expr, &values)?)
        else {
            return Ok(None);
        };
        let start = offset(start, false);
        if t.table64 || start.saturating_add(items.len() as u64) > t.initial {
            return Ok(None); // out of bounds: instantiation traps
        }
        let at = start as usize;
        tables[table][at..at + items.len()].copy_from_slice(&items);
    }
    let mut data = Vec::with_capacity(info.data.len());
    for (i, d) in info.data.iter().enumerate() {
        let DataKind::Active {
            memory_index,
            offset_expr,
        } = &d.kind
        else {
            return Ok(None);
        };
        let Some(m) = info.memories.get(*memory_index as usize) else {
            return Ok(None);
        };
        let Some(start) = eval_const(offset_expr, &values)? else {
            return Ok(None);
        };
        let start = offset(start, m.memory64);
        let size = u128::from(m.initial) * u128::from(hako_abi::vm::WASM_PAGE_SIZE);
        if u128::from(start) + d.data.len() as u128 > size {
            return Ok(None); // out of bounds: instantiation traps
        }
        data.push((i, *memory_index, start));
    }
    Ok(Some(Plan {
        type_ids,
        globals,
        tables,
        data,
    }))
}

impl<'ctx> Emitter<'_, 'ctx, '_> {
    /// The module's prebuilt instance (a pointer to its `Prebuilt`), or `None` when the
    /// module cannot have one. `data_bytes[i]` is the descriptor's slice of data segment `i`.
    fn prebuilt(
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
            let code = self.fn_ptr(self.cx.direct.get(i).copied().flatten());
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
        let (funcs_ptr, funcs) =
            self.data_array(func_ref.const_array(&funcs).into(), n, "funcs", 16, false);
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
            false,
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
        let (base, _) = self.data_array(init.into(), slots.len(), "global_slots", 16, true);
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
            false,
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
            table_inits.push(self.data_array(init, vals.len(), "table_init", 8, false).1);
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
        self.data_array(init.into(), n, what, 8, true)
    }

    /// A private global holding `init`, an array of `len` elements (constant or writable),
    /// as its address and a `Slice`; null and an empty slice when `len` is 0.
    fn data_array(
        &mut self,
        init: BasicValueEnum<'ctx>,
        len: usize,
        what: &str,
        align: u32,
        writable: bool,
    ) -> (PointerValue<'ctx>, StructValue<'ctx>) {
        if len == 0 {
            return (self.cx.ptr.const_null(), self.slice_null());
        }
        let p = if writable {
            let g = self.new_private_global(init.get_type(), what, align);
            g.set_initializer(&init);
            g.as_pointer_value()
        } else {
            self.private_global(init, what, align).into_pointer_value()
        };
        (p, self.slice(p.into(), len))
    }
}

#[cfg(test)]
mod plan_tests {
    use super::{plan, Const, Plan};

    fn plan_of(wat: &str) -> Option<Plan> {
        let wasm = wat::parse_str(wat).unwrap();
        let info = crate::module::ModuleInfo::parse(&wasm).unwrap();
        plan(&info).unwrap()
    }

    const EXIT: &str = r#"(import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))"#;

    #[test]
    fn a_constant_module_is_laid_out() {
        let p = plan_of(&format!(
            r#"(module {EXIT}
                 (type $a (func (result i32)))
                 (type $b (func (result i32)))
                 (memory 1)
                 (global (mut i64) (i64.const -2))
                 (global funcref (ref.func $f))
                 (table 3 funcref)
                 (elem (i32.const 1) func $f)
                 (elem declare func $f)
                 (data (i32.const 8) "hi")
                 (func $f (type $b) (i32.const 1)))"#
        ))
        .expect("laid out");
        // Types: `$a` and `$b`, equal, share the first id; the import's `(i32) -> ()` comes
        // after them.
        assert_eq!(p.type_ids, [0, 0, 1]);
        assert_eq!(
            p.globals,
            [Const::Bits(u128::from(-2i64 as u64)), Const::Func(1)]
        );
        assert_eq!(p.tables, [vec![Const::Null, Const::Func(1), Const::Null]]);
        assert_eq!(p.data, [(0, 0, 8)]);
    }

    #[test]
    fn modules_that_need_the_kernel_are_not() {
        for body in [
            // An import the compiler does not link.
            r#"(import "env" "f" (func))"#,
            // A memory import.
            r#"(import "env" "m" (memory 1))"#,
            // A global initialised from an imported global.
            r#"(import "env" "g" (global i32)) (global i32 (global.get 0))"#,
            // Passive segments stay for `memory.init`/`table.init`.
            r#"(memory 1) (data "x")"#,
            r#"(table 1 funcref) (elem func $f) (func $f)"#,
            // Segments that do not fit: instantiation traps.
            r#"(memory 1) (data (i32.const 65535) "xy")"#,
            r#"(table 1 funcref) (elem (i32.const 1) func $f) (func $f)"#,
        ] {
            let p = plan_of(&format!("(module {EXIT} {body})"));
            assert_eq!(p, None, "{body}");
        }
    }

    #[test]
    fn large_tables_are_not() {
        assert!(plan_of("(module (table 65536 funcref))").is_some());
        assert_eq!(plan_of("(module (table 65537 funcref))"), None);
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
        let machine = crate::target_machine(&crate::Options::default()).unwrap();
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
            offs!(TableType: elem_type, _pad, min, max),
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
            offs!(ModuleDescriptor: abi_version, start, types, imports, functions, tables, memories, globals, exports, data, elements, name, prebuilt),
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
            offs!(VmContext: memory0, memories, tables, globals, funcs, type_ids, instance),
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
