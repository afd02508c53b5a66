//! A parsed view of a (validated) module: everything translation and descriptor emission
//! need, indexed the Wasm way (imports first).
//!
//! Parsing is separate from translation so that function bodies can be translated in any
//! order, and later in parallel: after [`ModuleInfo::parse`] nothing global is mutated.

use std::collections::HashMap;

use hako_abi::valtype;
use wasmparser::{
    CompositeInnerType, ConstExpr, Data, Element, Export, FieldType, FuncType, FunctionBody,
    GlobalType, HeapType, KnownCustom, MemoryType, Name, Operator, Parser, Payload, RefType,
    StorageType, SubType, TableType, TypeRef, ValType,
};

use crate::error::{unsupported, Result};

/// One import, as the descriptor lists it.
#[derive(Debug, Clone, Copy)]
pub struct ImportInfo<'a> {
    pub module: &'a str,
    pub name: &'a str,
    pub ty: TypeRef,
}

/// An imported function, resolved for code generation.
#[derive(Debug, Clone, Copy)]
pub struct FuncImport {
    /// `Some(symbol name)` when the import is a WASI function called directly by symbol.
    pub wasi_symbol: Option<&'static str>,
}

/// A defined global.
#[derive(Debug, Clone)]
pub struct GlobalInit<'a> {
    pub init: ConstExpr<'a>,
}

/// The module, parsed.
#[derive(Default)]
pub struct ModuleInfo<'a> {
    /// The function type of each type index (an empty one for a struct or array type).
    pub types: Vec<FuncType>,
    /// Every type definition, as declared (supertypes, finality, struct and array types).
    pub sub_types: Vec<SubType>,
    /// The rec groups: (first type index, number of types).
    pub rec_groups: Vec<(u32, u32)>,
    /// Per type index: whether it is a struct or array type.
    pub gc_types: Vec<bool>,
    pub imports: Vec<ImportInfo<'a>>,
    /// Type index of every function (imports first).
    pub func_types: Vec<u32>,
    pub func_imports: Vec<FuncImport>,
    /// Every table / memory / global (imports first).
    pub tables: Vec<TableType>,
    pub memories: Vec<MemoryType>,
    pub globals: Vec<GlobalType>,
    pub num_imported_tables: u32,
    pub num_imported_memories: u32,
    pub num_imported_globals: u32,
    /// Type index of every tag (imports first).
    pub tags: Vec<u32>,
    pub num_imported_tags: u32,
    pub global_inits: Vec<GlobalInit<'a>>,
    /// Per defined table: its initialiser, when its type has one (`None`: `ref.null`).
    pub table_inits: Vec<Option<ConstExpr<'a>>>,
    pub exports: Vec<Export<'a>>,
    pub start: Option<u32>,
    pub elements: Vec<Element<'a>>,
    pub data: Vec<Data<'a>>,
    /// Bodies of the defined functions, in index order.
    pub bodies: Vec<FunctionBody<'a>>,
    pub func_names: HashMap<u32, &'a str>,
    /// Whether the module's functions are in the tail calling convention (`ctx::TAIL_CC`): set
    /// by `compile` when the module has a tail call or the options ask for it.
    pub tail_convention: bool,
    pub module_name: Option<&'a str>,
}

impl<'a> ModuleInfo<'a> {
    pub fn num_imported_funcs(&self) -> u32 {
        self.func_imports.len() as u32
    }

    /// The type of function `index`.
    pub fn func_type(&self, index: u32) -> Option<&FuncType> {
        self.func_types
            .get(index as usize)
            .and_then(|t| self.types.get(*t as usize))
    }

    /// Whether any function has a `return_call`, `return_call_indirect` or
    /// `return_call_ref` (one pass over the operators).
    pub fn has_tail_calls(&self) -> Result<bool> {
        for body in &self.bodies {
            let mut ops = body.get_operators_reader()?;
            while !ops.eof() {
                if let Operator::ReturnCall { .. }
                | Operator::ReturnCallIndirect { .. }
                | Operator::ReturnCallRef { .. } = ops.read()?
                {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }

    /// Parses a module that already passed validation.
    pub fn parse(wasm: &'a [u8]) -> Result<Self> {
        let mut info = ModuleInfo::default();
        for payload in Parser::new(0).parse_all(wasm) {
            match payload? {
                Payload::TypeSection(reader) => {
                    let offset = reader.range().start as usize;
                    for group in reader {
                        let start = info.types.len() as u32;
                        for sub in group?.into_types() {
                            if sub.composite_type.shared
                                || sub.composite_type.descriptor_idx.is_some()
                                || sub.composite_type.describes_idx.is_some()
                            {
                                return Err(unsupported("shared or descriptor types", offset));
                            }
                            match &sub.composite_type.inner {
                                CompositeInnerType::Func(f) => info.types.push(f.clone()),
                                CompositeInnerType::Struct(_) | CompositeInnerType::Array(_) => {
                                    info.types.push(FuncType::new([], []))
                                }
                                CompositeInnerType::Cont(_) => {
                                    return Err(unsupported("stack switching", offset))
                                }
                            }
                            info.sub_types.push(sub);
                        }
                        info.rec_groups
                            .push((start, info.types.len() as u32 - start));
                        info.gc_types = info
                            .sub_types
                            .iter()
                            .map(|s| !matches!(s.composite_type.inner, CompositeInnerType::Func(_)))
                            .collect();
                    }
                }
                Payload::ImportSection(reader) => {
                    let offset = reader.range().start as usize;
                    for import in reader.into_imports() {
                        let import = import?;
                        match import.ty {
                            TypeRef::Func(t) => {
                                info.func_types.push(t);
                                let ty = info.types.get(t as usize);
                                let wasi_symbol = ty.and_then(|ty| {
                                    let params = codes(ty.params(), &[]).ok()?;
                                    let results = codes(ty.results(), &[]).ok()?;
                                    hako_abi::wasi::lookup(
                                        import.module,
                                        import.name,
                                        &params,
                                        &results,
                                    )
                                    .map(|f| f.symbol)
                                });
                                info.func_imports.push(FuncImport { wasi_symbol });
                            }
                            TypeRef::Table(t) => {
                                info.tables.push(t);
                                info.num_imported_tables += 1;
                            }
                            TypeRef::Memory(m) => {
                                info.memories.push(m);
                                info.num_imported_memories += 1;
                            }
                            TypeRef::Global(g) => {
                                info.globals.push(g);
                                info.num_imported_globals += 1;
                            }
                            TypeRef::Tag(t) => {
                                info.tags.push(t.func_type_idx);
                                info.num_imported_tags += 1;
                            }
                            TypeRef::FuncExact(_) => {
                                return Err(unsupported("exact function imports", offset))
                            }
                        }
                        info.imports.push(ImportInfo {
                            module: import.module,
                            name: import.name,
                            ty: import.ty,
                        });
                    }
                }
                Payload::FunctionSection(reader) => {
                    for t in reader {
                        info.func_types.push(t?);
                    }
                }
                Payload::TableSection(reader) => {
                    for table in reader {
                        let table = table?;
                        info.table_inits.push(match table.init {
                            wasmparser::TableInit::RefNull => None,
                            wasmparser::TableInit::Expr(expr) => Some(expr),
                        });
                        info.tables.push(table.ty);
                    }
                }
                Payload::MemorySection(reader) => {
                    for m in reader {
                        info.memories.push(m?);
                    }
                }
                Payload::GlobalSection(reader) => {
                    for g in reader {
                        let g = g?;
                        info.globals.push(g.ty);
                        info.global_inits.push(GlobalInit { init: g.init_expr });
                    }
                }
                Payload::ExportSection(reader) => {
                    for e in reader {
                        info.exports.push(e?);
                    }
                }
                Payload::StartSection { func, .. } => info.start = Some(func),
                Payload::ElementSection(reader) => {
                    for e in reader {
                        info.elements.push(e?);
                    }
                }
                Payload::DataSection(reader) => {
                    for d in reader {
                        info.data.push(d?);
                    }
                }
                Payload::CodeSectionEntry(body) => info.bodies.push(body),
                Payload::TagSection(reader) => {
                    for t in reader {
                        info.tags.push(t?.func_type_idx);
                    }
                }
                Payload::CustomSection(reader) => {
                    // Custom sections are not validated; a broken name section only loses
                    // names.
                    if let KnownCustom::Name(names) = reader.as_known() {
                        for name in names.into_iter().flatten() {
                            match name {
                                Name::Module { name, .. } => info.module_name = Some(name),
                                Name::Function(map) => {
                                    for naming in map.into_iter().flatten() {
                                        info.func_names.insert(naming.index, naming.name);
                                    }
                                }
                                _ => {}
                            }
                        }
                    }
                }
                Payload::Version {
                    encoding: wasmparser::Encoding::Component,
                    range,
                    ..
                } => return Err(unsupported("component model", range.start as usize)),
                _ => {}
            }
        }
        for m in &info.memories {
            if m.page_size_log2.is_some() {
                return Err(unsupported("custom page sizes", 0));
            }
        }
        for t in &info.tables {
            if t.shared {
                return Err(unsupported("shared tables", 0));
            }
            ref_code(t.element_type, &info.gc_types, 0)?;
        }
        Ok(info)
    }
}

/// The [`hako_abi::valtype`] code of a reference type: its hierarchy's top (`funcref`,
/// `externref`, `anyref` or `exnref`). Validation has checked the static types; the
/// kernel's import checks compare full type words ([`val_word`]).
pub fn ref_code(r: RefType, gc_types: &[bool], offset: usize) -> Result<u8> {
    use wasmparser::AbstractHeapType::*;
    match r.heap_type() {
        HeapType::Abstract {
            shared: false,
            ty: Exn | NoExn,
        } => Ok(valtype::EXNREF),
        HeapType::Abstract {
            shared: false,
            ty: Func | NoFunc,
        } => Ok(valtype::FUNCREF),
        HeapType::Abstract {
            shared: false,
            ty: Extern | NoExtern,
        } => Ok(valtype::EXTERNREF),
        HeapType::Abstract {
            shared: false,
            ty: Any | Eq | I31 | Struct | Array | None,
        } => Ok(valtype::ANYREF),
        HeapType::Concrete(_) | HeapType::Exact(_) => Ok(concrete_code(r, gc_types)),
        _ => Err(unsupported("this reference type", offset)),
    }
}

/// The hierarchy of a concrete reference type: `anyref` for a struct or array type
/// (`gc_types[i]`), `funcref` for a function type.
fn concrete_code(r: RefType, gc_types: &[bool]) -> u8 {
    let index = r.type_index().and_then(|i| i.as_module_index());
    match index.is_some_and(|i| gc_types.get(i as usize).copied().unwrap_or(false)) {
        true => valtype::ANYREF,
        false => valtype::FUNCREF,
    }
}

/// The full type of a global or of a table's elements ([`hako_abi::valtype::matches`]): the
/// code, and for a reference its nullability and heap type (the module's type index for a
/// concrete one).
pub fn val_word(t: ValType, gc_types: &[bool], offset: usize) -> Result<u32> {
    use wasmparser::AbstractHeapType::{Array, Eq, NoExn, NoExtern, NoFunc, None, Struct, I31};
    let code = u32::from(val_code(t, gc_types)?);
    let ValType::Ref(r) = t else {
        return Ok(code);
    };
    let heap = match r.heap_type() {
        HeapType::Abstract {
            ty: NoFunc | NoExtern | NoExn | None,
            ..
        } => valtype::BOTTOM,
        HeapType::Abstract { ty: Eq, .. } => valtype::heap::EQ << valtype::TYPE_SHIFT,
        HeapType::Abstract { ty: I31, .. } => valtype::heap::I31 << valtype::TYPE_SHIFT,
        HeapType::Abstract { ty: Struct, .. } => valtype::heap::STRUCT << valtype::TYPE_SHIFT,
        HeapType::Abstract { ty: Array, .. } => valtype::heap::ARRAY << valtype::TYPE_SHIFT,
        HeapType::Concrete(i) | HeapType::Exact(i) => {
            let index = i
                .as_module_index()
                .filter(|i| *i <= valtype::MAX_TYPE_INDEX)
                .ok_or_else(|| unsupported("a reference to this type index", offset))?;
            valtype::CONCRETE | (index << valtype::TYPE_SHIFT)
        }
        HeapType::Abstract { .. } => 0,
    };
    let null = match r.is_nullable() {
        true => 0,
        false => valtype::NON_NULL,
    };
    Ok(code | heap | null)
}

/// The type word of a struct field or array element ([`val_word`], or `I8`/`I16`).
pub fn storage_word(t: StorageType, gc_types: &[bool]) -> Result<u32> {
    match t {
        StorageType::I8 => Ok(u32::from(valtype::I8)),
        StorageType::I16 => Ok(u32::from(valtype::I16)),
        StorageType::Val(v) => val_word(v, gc_types, 0),
    }
}

/// The code of a storage type ([`val_code`], or `I8`/`I16`).
pub fn storage_code(t: StorageType, gc_types: &[bool]) -> Result<u8> {
    Ok(storage_word(t, gc_types)? as u8)
}

/// The fields of struct or array type `sub` (an array's one element type).
pub fn fields(sub: &SubType) -> Vec<FieldType> {
    match &sub.composite_type.inner {
        CompositeInnerType::Struct(s) => s.fields.to_vec(),
        CompositeInnerType::Array(a) => vec![a.0],
        _ => Vec::new(),
    }
}

/// The [`hako_abi::valtype`] code of a value type.
pub fn val_code(t: ValType, gc_types: &[bool]) -> Result<u8> {
    Ok(match t {
        ValType::I32 => valtype::I32,
        ValType::I64 => valtype::I64,
        ValType::F32 => valtype::F32,
        ValType::F64 => valtype::F64,
        ValType::V128 => valtype::V128,
        ValType::Ref(r) => ref_code(r, gc_types, 0)?,
    })
}

/// The codes of a list of value types.
pub fn codes(types: &[ValType], gc_types: &[bool]) -> Result<Vec<u8>> {
    types.iter().map(|t| val_code(*t, gc_types)).collect()
}
