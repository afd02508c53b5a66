//! Looking up exports (for linking other instances and for the runtime) and the types of
//! externs (for import matching).

use super::{Callable, Extern, Store, StoreFunc};
use crate::link::{ExternType, Limits};
use hako_abi::module::{extern_kind, GlobalType};
use hako_abi::valtype;
use hako_abi::vm::{FuncRef, ValRaw};

/// An exported function the runtime can call, with its signature.
#[derive(Debug, Clone, Copy)]
pub struct ExportedFunc {
    pub callable: Callable,
    pub params: &'static [u8],
    pub results: &'static [u8],
}

impl Store {
    /// The type an export or a `spectest` entity has now (memories and tables: current size).
    pub fn extern_type(&self, e: &Extern) -> ExternType {
        match *e {
            Extern::Func(f) => ExternType::Func {
                type_id: f.type_id(),
            },
            Extern::Table(t) => {
                let t = &self.tables[t];
                ExternType::Table {
                    elem_type: t.elem_type,
                    table64: t.table64,
                    limits: Limits::new(t.elems.len() as u64, t.declared_max),
                }
            }
            Extern::Memory(m) => {
                let m = &self.memories[m];
                ExternType::Memory {
                    limits: Limits::new(m.pages(), m.declared_max),
                    memory64: m.memory64,
                    shared: m.shared,
                }
            }
            Extern::Global(_, t) => ExternType::Global {
                val_type: t.val_type,
                mutable: t.mutable != 0,
            },
            Extern::Tag(_, type_id) => ExternType::Tag { type_id },
        }
    }

    /// The value and type of global export `name` of instance `id`.
    pub fn export_global(&self, id: usize, name: &[u8]) -> Option<(u8, ValRaw)> {
        match self.export(id, name)? {
            Extern::Global(p, t) => Some((t.val_type as u8, p.read())),
            _ => None,
        }
    }

    /// Function export `name` of instance `id`, ready to call through its array-call
    /// trampoline: `None` when there is no such export, `Some(Err(..))` with what is wrong
    /// when it cannot be called.
    // Inlined: program mode looks up `_start` at every boot, and a constant name compares
    // without a call to `memcmp`.
    #[inline(always)]
    pub fn export_func(
        &self,
        id: usize,
        name: &[u8],
    ) -> Option<Result<ExportedFunc, &'static str>> {
        let inst = &self.instances[id];
        let e = inst
            .desc
            .exports()
            .iter()
            .find(|e| e.name().as_slice() == name)?;
        if e.kind != extern_kind::FUNC {
            return Some(Err("is not a function"));
        }
        let Some((f, (params, results))) = inst
            .funcs
            .get(e.index as usize)
            .and_then(|f| Some((f, self.signature(id, f)?)))
        else {
            return Some(Err("is not a function of the instance"));
        };
        if f.array_call.is_null() {
            return Some(Err("has no array-call trampoline"));
        }
        let slots = params.len().max(results.len());
        Some(Ok(ExportedFunc {
            callable: Callable::new(f.array_call, f.vmctx, slots),
            params,
            results,
        }))
    }

    /// Params and results of function `f` of instance `id`: from the registry, or for an
    /// adopted prebuilt instance (whose type ids are the compiler's) from its descriptor.
    fn signature(&self, id: usize, f: &FuncRef) -> Option<(&'static [u8], &'static [u8])> {
        let inst = &self.instances[id];
        if inst.prebuilt {
            let t = inst.desc.types().get(f.type_id as usize)?;
            Some((t.params().as_slice(), t.results().as_slice()))
        } else {
            self.types.get(f.type_id)
        }
    }

    /// Any export of instance `id` (for linking other instances).
    pub fn export(&self, id: usize, name: &[u8]) -> Option<Extern> {
        let inst = &self.instances[id];
        let e = inst
            .desc
            .exports()
            .iter()
            .find(|e| e.name().as_slice() == name)?;
        let i = e.index as usize;
        Some(match e.kind {
            extern_kind::FUNC => Extern::Func(StoreFunc(*inst.funcs.get(i)?)),
            extern_kind::MEMORY => Extern::Memory(*inst.memories.get(i)?),
            extern_kind::TABLE => Extern::Table(*inst.tables.get(i)?),
            extern_kind::GLOBAL => {
                let imported = inst.imported_global_types.len();
                let ty = match i.checked_sub(imported) {
                    None => inst.imported_global_types[i],
                    Some(d) => {
                        let ty = inst.desc.globals().get(d)?.ty;
                        GlobalType {
                            val_type: valtype::canonical(ty.val_type, inst.type_ids)?,
                            ..ty
                        }
                    }
                };
                Extern::Global(*inst.globals.get(i)?, ty)
            }
            extern_kind::TAG => {
                let (t, type_id) = *inst.tags.get(i)?;
                Extern::Tag(t, type_id)
            }
            _ => return None,
        })
    }
}
