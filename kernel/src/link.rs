//! The spec's import matching rules (Wasm 2.0 "external types" subtyping), used when an
//! instance's imports are resolved against other instances and the `spectest` module.
//!
//! An import names the type it *expects*; the resolved entity has an *actual* type, where a
//! memory's or table's minimum is its **current** size (the spec gives a memory or table
//! instance the type `{min: current size, max: declared max}`).

use hako_abi::module::{extern_kind, Import, NO_MAX};
use hako_abi::valtype;

/// Limits of a table (entries) or memory (pages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub min: u64,
    pub max: Option<u64>,
}

impl Limits {
    /// From descriptor limits, where [`NO_MAX`] means unbounded.
    pub fn new(min: u64, max: u64) -> Limits {
        Limits {
            min,
            max: (max != NO_MAX).then_some(max),
        }
    }

    /// `self` (actual) matches `expected`: actual min >= expected min, and when `expected`
    /// has a max, `self` has one too and it is not larger.
    pub fn matches(&self, expected: &Limits) -> bool {
        self.min >= expected.min
            && match (self.max, expected.max) {
                (_, None) => true,
                (Some(a), Some(e)) => a <= e,
                (None, Some(_)) => false,
            }
    }
}

/// The type of an external entity (what an import expects, or what an export provides).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExternType {
    /// A canonical function type id (see [`crate::types::TypeRegistry`]).
    Func {
        type_id: u32,
    },
    Table {
        elem_type: u32,
        table64: bool,
        limits: Limits,
    },
    Memory {
        limits: Limits,
        memory64: bool,
        shared: bool,
    },
    Global {
        val_type: u32,
        mutable: bool,
    },
    /// A tag: the canonical id of its function type, which must be equal.
    Tag {
        type_id: u32,
    },
}

impl ExternType {
    /// What `imp` expects; `type_id` is the canonical id of its type index (functions only).
    /// `None` for kinds the kernel does not know.
    pub fn expected(imp: &Import, type_id: u32) -> Option<ExternType> {
        Some(match imp.kind {
            extern_kind::FUNC => ExternType::Func { type_id },
            extern_kind::TABLE => ExternType::Table {
                elem_type: imp.table.elem_type,
                table64: imp.table.table64 != 0,
                limits: Limits::new(imp.table.min, imp.table.max),
            },
            extern_kind::MEMORY => ExternType::Memory {
                limits: Limits::new(imp.memory.min_pages, imp.memory.max_pages),
                memory64: imp.memory.memory64 != 0,
                shared: imp.memory.shared != 0,
            },
            extern_kind::GLOBAL => ExternType::Global {
                val_type: imp.global.val_type,
                mutable: imp.global.mutable != 0,
            },
            extern_kind::TAG => ExternType::Tag { type_id },
            _ => return None,
        })
    }

    /// The type with its value types' type indices (those of the module with canonical type
    /// ids `ids`) made canonical ([`valtype::canonical`]); `None` for an index out of range.
    pub fn canonical(self, ids: &[u32]) -> Option<ExternType> {
        Some(match self {
            ExternType::Table {
                elem_type,
                table64,
                limits,
            } => ExternType::Table {
                elem_type: valtype::canonical(elem_type, ids)?,
                table64,
                limits,
            },
            ExternType::Global { val_type, mutable } => ExternType::Global {
                val_type: valtype::canonical(val_type, ids)?,
                mutable,
            },
            other => other,
        })
    }

    pub fn kind_name(&self) -> &'static str {
        match self {
            ExternType::Func { .. } => "function",
            ExternType::Table { .. } => "table",
            ExternType::Memory { .. } => "memory",
            ExternType::Global { .. } => "global",
            ExternType::Tag { .. } => "tag",
        }
    }
}

/// Why an import does not match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mismatch {
    /// A function where a memory was expected, etc.
    Kind {
        expected: &'static str,
        actual: &'static str,
    },
    FuncType,
    ElemType,
    Limits,
    /// Memory index type or sharing.
    MemoryFlavour,
    /// Table index type.
    TableIndexType,
    GlobalType,
    Mutability,
}

impl core::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Mismatch::Kind { expected, actual } => {
                write!(f, "expected a {expected}, found a {actual}")
            }
            Mismatch::FuncType => f.write_str("function type differs"),
            Mismatch::ElemType => f.write_str("table element type differs"),
            Mismatch::Limits => f.write_str("limits do not match"),
            Mismatch::MemoryFlavour => f.write_str("memory index type or sharing differs"),
            Mismatch::TableIndexType => f.write_str("table index type differs"),
            Mismatch::GlobalType => f.write_str("global value type differs"),
            Mismatch::Mutability => f.write_str("global mutability differs"),
        }
    }
}

/// Check that an entity of type `actual` may satisfy an import expecting `expected`;
/// `types` knows the declared subtyping of canonical types.
pub fn check(
    expected: &ExternType,
    actual: &ExternType,
    types: &impl valtype::Types,
) -> Result<(), Mismatch> {
    use ExternType::*;
    match (expected, actual) {
        (Func { type_id: e }, Func { type_id: a }) => types
            .is_subtype(*a, *e)
            .then_some(())
            .ok_or(Mismatch::FuncType),
        (Tag { type_id: e }, Tag { type_id: a }) => {
            (e == a).then_some(()).ok_or(Mismatch::FuncType)
        }
        (
            Table {
                elem_type: et,
                table64: e64,
                limits: el,
            },
            Table {
                elem_type: at,
                table64: a64,
                limits: al,
            },
        ) => {
            // A table's element type must be the same both ways (it is written through the
            // import too).
            let same =
                valtype::matches_with(*at, *et, types) && valtype::matches_with(*et, *at, types);
            if e64 != a64 {
                Err(Mismatch::TableIndexType)
            } else if !same {
                Err(Mismatch::ElemType)
            } else if !al.matches(el) {
                Err(Mismatch::Limits)
            } else {
                Ok(())
            }
        }
        (
            Memory {
                limits: el,
                memory64: e64,
                shared: es,
            },
            Memory {
                limits: al,
                memory64: a64,
                shared: as_,
            },
        ) => {
            if e64 != a64 || es != as_ {
                Err(Mismatch::MemoryFlavour)
            } else if !al.matches(el) {
                Err(Mismatch::Limits)
            } else {
                Ok(())
            }
        }
        (
            Global {
                val_type: ev,
                mutable: em,
            },
            Global {
                val_type: av,
                mutable: am,
            },
        ) => {
            // A constant global's type may be a subtype of the expected one; a mutable
            // global's must be the same (it is written through the import too).
            let sub = valtype::matches_with(*av, *ev, types);
            let matches = match em {
                true => sub && valtype::matches_with(*ev, *av, types),
                false => sub,
            };
            if em != am {
                Err(Mismatch::Mutability)
            } else if !matches {
                Err(Mismatch::GlobalType)
            } else {
                Ok(())
            }
        }
        (e, a) => Err(Mismatch::Kind {
            expected: e.kind_name(),
            actual: a.kind_name(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hako_abi::module::{GlobalType, MemoryType, TableType};
    use hako_abi::valtype;

    fn check_plain(e: &ExternType, a: &ExternType) -> Result<(), Mismatch> {
        check(e, a, &valtype::NoSubtypes)
    }

    fn l(min: u64, max: Option<u64>) -> Limits {
        Limits { min, max }
    }

    #[test]
    fn limits_subtyping() {
        // actual min >= expected min
        assert!(l(2, None).matches(&l(1, None)));
        assert!(l(1, None).matches(&l(1, None)));
        assert!(!l(0, None).matches(&l(1, None)));
        // expected without max: any actual max
        assert!(l(1, Some(1)).matches(&l(0, None)));
        // expected with max: actual needs a max that is not larger
        assert!(!l(1, None).matches(&l(0, Some(5))));
        assert!(l(1, Some(5)).matches(&l(0, Some(5))));
        assert!(l(1, Some(4)).matches(&l(1, Some(5))));
        assert!(!l(1, Some(6)).matches(&l(1, Some(5))));
        // the spectest table (10..20)
        assert!(l(10, Some(20)).matches(&l(10, Some(20))));
        assert!(l(10, Some(20)).matches(&l(5, Some(25))));
        assert!(!l(10, Some(20)).matches(&l(11, Some(20))));
        assert!(!l(10, Some(20)).matches(&l(10, Some(15))));
        assert_eq!(Limits::new(3, NO_MAX), l(3, None));
        assert_eq!(Limits::new(3, 7), l(3, Some(7)));
    }

    fn import(kind: u32) -> Import {
        Import {
            module: hako_abi::module::Slice::EMPTY,
            name: hako_abi::module::Slice::EMPTY,
            kind,
            type_index: 0,
            linked: core::ptr::null(),
            table: TableType {
                elem_type: valtype::FUNCREF as u32,
                table64: 0,
                min: 10,
                max: 20,
            },
            memory: MemoryType {
                min_pages: 1,
                max_pages: NO_MAX,
                memory64: 0,
                shared: 0,
            },
            global: GlobalType {
                val_type: valtype::I32 as u32,
                mutable: 1,
            },
        }
    }

    #[test]
    fn expected_types_from_imports() {
        assert_eq!(
            ExternType::expected(&import(extern_kind::FUNC), 7),
            Some(ExternType::Func { type_id: 7 })
        );
        assert_eq!(
            ExternType::expected(&import(extern_kind::TABLE), 0),
            Some(ExternType::Table {
                elem_type: valtype::FUNCREF as u32,
                table64: false,
                limits: l(10, Some(20))
            })
        );
        assert_eq!(
            ExternType::expected(&import(extern_kind::MEMORY), 0),
            Some(ExternType::Memory {
                limits: l(1, None),
                memory64: false,
                shared: false
            })
        );
        assert_eq!(
            ExternType::expected(&import(extern_kind::GLOBAL), 0),
            Some(ExternType::Global {
                val_type: valtype::I32 as u32,
                mutable: true
            })
        );
        assert_eq!(
            ExternType::expected(&import(extern_kind::TAG), 3),
            Some(ExternType::Tag { type_id: 3 })
        );
        assert_eq!(ExternType::expected(&import(9), 0), None);
    }

    #[test]
    fn kinds_types_and_mutability() {
        let f = |t| ExternType::Func { type_id: t };
        let g = |v: u8, m| ExternType::Global {
            val_type: v as u32,
            mutable: m,
        };
        let mem = |min, max, s| ExternType::Memory {
            limits: l(min, max),
            memory64: false,
            shared: s,
        };
        let tab = |e: u8, min, max| ExternType::Table {
            elem_type: e as u32,
            table64: false,
            limits: l(min, max),
        };
        assert_eq!(check_plain(&f(1), &f(1)), Ok(()));
        assert_eq!(check_plain(&f(1), &f(2)), Err(Mismatch::FuncType));
        assert!(matches!(
            check_plain(&f(1), &g(valtype::I32, false)),
            Err(Mismatch::Kind {
                expected: "function",
                actual: "global"
            })
        ));
        assert_eq!(
            check_plain(&g(valtype::I32, false), &g(valtype::I32, false)),
            Ok(())
        );
        assert_eq!(
            check_plain(&g(valtype::I32, false), &g(valtype::I64, false)),
            Err(Mismatch::GlobalType)
        );
        assert_eq!(
            check_plain(&g(valtype::I32, true), &g(valtype::I32, false)),
            Err(Mismatch::Mutability)
        );
        assert_eq!(
            check_plain(&g(valtype::I32, false), &g(valtype::I32, true)),
            Err(Mismatch::Mutability)
        );
        assert_eq!(
            check_plain(&mem(1, None, false), &mem(1, Some(2), false)),
            Ok(())
        );
        assert_eq!(
            check_plain(&mem(1, Some(1), false), &mem(1, Some(2), false)),
            Err(Mismatch::Limits)
        );
        assert_eq!(
            check_plain(&mem(1, None, false), &mem(1, None, true)),
            Err(Mismatch::MemoryFlavour)
        );
        let mem64 = ExternType::Memory {
            limits: l(1, None),
            memory64: true,
            shared: false,
        };
        assert_eq!(check_plain(&mem64, &mem64), Ok(()));
        assert_eq!(
            check_plain(&mem(1, None, false), &mem64),
            Err(Mismatch::MemoryFlavour)
        );
        let tab64 = ExternType::Table {
            elem_type: valtype::FUNCREF as u32,
            table64: true,
            limits: l(10, None),
        };
        assert_eq!(check_plain(&tab64, &tab64), Ok(()));
        assert_eq!(
            check_plain(&tab(valtype::FUNCREF, 10, None), &tab64),
            Err(Mismatch::TableIndexType)
        );
        assert_eq!(
            check_plain(&tab64, &tab(valtype::FUNCREF, 10, None)),
            Err(Mismatch::TableIndexType)
        );
        assert_eq!(
            check_plain(
                &tab(valtype::FUNCREF, 10, None),
                &tab(valtype::FUNCREF, 10, Some(20))
            ),
            Ok(())
        );
        assert_eq!(
            check_plain(
                &tab(valtype::EXTERNREF, 10, None),
                &tab(valtype::FUNCREF, 10, Some(20))
            ),
            Err(Mismatch::ElemType)
        );
        assert_eq!(
            check_plain(
                &tab(valtype::FUNCREF, 11, None),
                &tab(valtype::FUNCREF, 10, Some(20))
            ),
            Err(Mismatch::Limits)
        );
        assert!(matches!(
            check_plain(&mem(0, None, false), &tab(valtype::FUNCREF, 0, None)),
            Err(Mismatch::Kind { .. })
        ));
    }
}
