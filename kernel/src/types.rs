//! Canonical type ids shared by all instances, for Wasm 3.0's iso-recursive type
//! equivalence: two types are the same when their rec groups are structurally equal (type
//! references inside a group compared by their position in it, references outside by
//! canonical id) and they sit at the same position. Equal types get equal ids, so
//! `call_indirect`, casts and import checks compare ids across instances.
//!
//! Each canonical type keeps its supertype chain (a display: the ancestors from the root
//! down to the type itself), so a subtype check is one lookup, and the layout the runtime
//! needs for its objects (kind, field types and offsets).
//!
//! The input is a module's type definitions as the compiler encodes them
//! ([`hako_abi::gc::def`]); malformed input is an error, never a panic.

use alloc::collections::BTreeMap;
use alloc::vec;
use alloc::vec::Vec;
use hako_abi::gc::{self as abi_gc, def};
use hako_abi::valtype;

/// One canonical type.
#[derive(Debug, Clone)]
pub struct TypeInfo {
    /// [`def::FUNC`], [`def::STRUCT`] or [`def::ARRAY`].
    pub kind: u32,
    /// Ancestors from the root down to this type (its own id last).
    pub display: Vec<u32>,
    /// Parameters and results of a function type ([`valtype`] codes).
    pub params: &'static [u8],
    pub results: &'static [u8],
    /// A struct's fields or an array's element: canonical type words.
    pub fields: Vec<u32>,
    /// A struct's field offsets; for an array, its element size (one entry).
    pub offsets: Vec<u64>,
    /// A struct's size, header included.
    pub size: u64,
}

impl TypeInfo {
    /// The storage code of field `i`.
    pub fn field_code(&self, i: usize) -> Option<u8> {
        self.fields.get(i).map(|w| *w as u8)
    }
}

#[derive(Debug, Default)]
pub struct TypeRegistry {
    groups: BTreeMap<Vec<u32>, u32>,
    types: Vec<TypeInfo>,
}

/// Why a module's type definitions were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadTypes;

/// Reads words off the front of a slice.
struct Words<'a>(&'a [u32]);

impl Words<'_> {
    fn next(&mut self) -> Result<u32, BadTypes> {
        let (w, rest) = self.0.split_first().ok_or(BadTypes)?;
        self.0 = rest;
        Ok(*w)
    }
}

impl TypeRegistry {
    pub const fn new() -> Self {
        TypeRegistry {
            groups: BTreeMap::new(),
            types: Vec::new(),
        }
    }

    /// The canonical id of a plain function type `(params) -> (results)` in a rec group of
    /// its own, final, without supertype (the `spectest` functions).
    pub fn intern(&mut self, params: &'static [u8], results: &'static [u8]) -> u32 {
        let mut words = vec![
            1,
            def::FUNC | def::FINAL,
            def::NO_SUPER,
            params.len() as u32,
            results.len() as u32,
        ];
        words.extend(params.iter().chain(results).map(|c| u32::from(*c)));
        // Plain codes have no type references: this cannot fail.
        self.intern_module(&words, &[(params, results)])
            .ok()
            .and_then(|ids| ids.first().copied())
            .unwrap_or(0)
    }

    /// The canonical ids of a module's types, from its definitions `defs`; `sigs[i]` are the
    /// codes of type `i` as the descriptor has them (for function types).
    pub fn intern_module(
        &mut self,
        defs: &[u32],
        sigs: &[(&'static [u8], &'static [u8])],
    ) -> Result<Vec<u32>, BadTypes> {
        let mut ids: Vec<u32> = Vec::new();
        let mut w = Words(defs);
        while !w.0.is_empty() {
            let n = w.next()?;
            let g0 = ids.len() as u32;
            let end = g0.checked_add(n).ok_or(BadTypes)?;
            // Type reference `i` of the module: relative inside the group, canonical before.
            let resolve = |i: u32, ids: &[u32]| -> Result<u32, BadTypes> {
                if (g0..end).contains(&i) {
                    Ok(valtype::REC_RELATIVE | ((i - g0) << valtype::TYPE_SHIFT))
                } else {
                    let id = *ids.get(i as usize).ok_or(BadTypes)?;
                    Ok(valtype::CONCRETE | (id << valtype::TYPE_SHIFT))
                }
            };
            let word = |t: u32, ids: &[u32]| -> Result<u32, BadTypes> {
                if t & valtype::CONCRETE == 0 {
                    return Ok(t);
                }
                let low = t & ((1 << valtype::TYPE_SHIFT) - 1) & !valtype::CONCRETE;
                Ok(low | resolve(t >> valtype::TYPE_SHIFT, ids)?)
            };
            let mut key = vec![n];
            for _ in 0..n {
                let head = w.next()?;
                let sup = w.next()?;
                let (a, b) = (w.next()?, w.next()?);
                key.push(head);
                key.push(match sup {
                    def::NO_SUPER => def::NO_SUPER,
                    i => resolve(i, &ids)?,
                });
                key.extend([a, b]);
                let count = match head & def::KIND_MASK {
                    def::FUNC => a.checked_add(b).ok_or(BadTypes)?,
                    def::STRUCT | def::ARRAY => a.checked_mul(2).ok_or(BadTypes)?,
                    _ => return Err(BadTypes),
                };
                for k in 0..count {
                    let t = w.next()?;
                    let is_type = (head & def::KIND_MASK) == def::FUNC || k % 2 == 0;
                    key.push(if is_type { word(t, &ids)? } else { t });
                }
            }
            let base = match self.groups.get(&key) {
                Some(base) => *base,
                None => {
                    let base = self.types.len() as u32;
                    if base
                        .checked_add(n)
                        .is_none_or(|e| e > valtype::MAX_TYPE_INDEX)
                    {
                        return Err(BadTypes);
                    }
                    self.add_group(&key, base, g0, sigs)?;
                    self.groups.insert(key, base);
                    base
                }
            };
            ids.extend(base..base + n);
        }
        Ok(ids)
    }

    /// Records the types of a new group `key` with ids from `base` (module index `g0`).
    fn add_group(
        &mut self,
        key: &[u32],
        base: u32,
        g0: u32,
        sigs: &[(&'static [u8], &'static [u8])],
    ) -> Result<(), BadTypes> {
        let abs = |t: u32| -> u32 {
            if t & valtype::REC_RELATIVE != 0 {
                let low = t & ((1 << valtype::TYPE_SHIFT) - 1) & !valtype::REC_RELATIVE;
                low | valtype::CONCRETE
                    | ((base + (t >> valtype::TYPE_SHIFT)) << valtype::TYPE_SHIFT)
            } else {
                t
            }
        };
        let mut w = Words(key);
        let n = w.next()?;
        for i in 0..n {
            let head = w.next()?;
            let sup = w.next()?;
            let (a, b) = (w.next()?, w.next()?);
            let kind = head & def::KIND_MASK;
            let id = base + i;
            let mut display = match sup {
                def::NO_SUPER => Vec::new(),
                s => {
                    let s = abs(s) >> valtype::TYPE_SHIFT;
                    // A supertype comes before its subtypes (validation checks it).
                    self.types.get(s as usize).ok_or(BadTypes)?.display.clone()
                }
            };
            display.push(id);
            let mut info = TypeInfo {
                kind,
                display,
                params: &[],
                results: &[],
                fields: Vec::new(),
                offsets: Vec::new(),
                size: abi_gc::HEADER_SIZE,
            };
            if kind == def::FUNC {
                for _ in 0..a + b {
                    w.next()?;
                }
                let (p, r) = sigs.get((g0 + i) as usize).copied().unwrap_or((&[], &[]));
                info.params = p;
                info.results = r;
            } else {
                for _ in 0..a {
                    info.fields.push(abs(w.next()?));
                    w.next()?;
                }
                let codes = info.fields.iter().map(|f| *f as u8);
                if kind == def::STRUCT {
                    let mut offsets = Vec::new();
                    info.size = abi_gc::struct_layout(codes, |o| offsets.push(o));
                    info.offsets = offsets;
                } else {
                    info.offsets = codes.map(abi_gc::storage_size).collect();
                }
            }
            self.types.push(info);
        }
        Ok(())
    }

    /// Params and results of a canonical function type id.
    pub fn get(&self, id: u32) -> Option<(&'static [u8], &'static [u8])> {
        let t = self.types.get(id as usize)?;
        (t.kind == def::FUNC).then_some((t.params, t.results))
    }

    /// The canonical type `id`.
    pub fn info(&self, id: u32) -> Option<&TypeInfo> {
        self.types.get(id as usize)
    }

    /// Whether canonical type `a` is `b` or a declared subtype of it.
    pub fn is_subtype(&self, a: u32, b: u32) -> bool {
        if a == b {
            return true;
        }
        let (Some(ta), Some(tb)) = (self.types.get(a as usize), self.types.get(b as usize)) else {
            return false;
        };
        ta.display.get(tb.display.len() - 1) == Some(&b)
    }
}

impl valtype::Types for TypeRegistry {
    fn is_subtype(&self, a: u32, b: u32) -> bool {
        TypeRegistry::is_subtype(self, a, b)
    }
    fn kind(&self, t: u32) -> u32 {
        match self.types.get(t as usize).map(|t| t.kind) {
            Some(def::STRUCT) => valtype::heap::STRUCT,
            Some(def::ARRAY) => valtype::heap::ARRAY,
            _ => valtype::heap::TOP,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hako_abi::valtype::{CONCRETE, I32, TYPE_SHIFT};

    #[test]
    fn equal_types_equal_ids() {
        let mut t = TypeRegistry::new();
        let a = t.intern(&[0x7f], &[0x7f]);
        let b = t.intern(&[0x7f], &[]);
        let c = t.intern(&[0x7f], &[0x7f]);
        let d = t.intern(&[], &[0x7f]);
        assert_eq!(a, c);
        assert_ne!(a, b);
        assert_ne!(a, d);
        assert_eq!(t.get(b), Some((&[0x7f][..], &[][..])));
    }

    fn r(i: u32) -> u32 {
        u32::from(valtype::ANYREF) | CONCRETE | (i << TYPE_SHIFT)
    }

    #[test]
    fn rec_groups_and_subtypes() {
        let mut t = TypeRegistry::new();
        // (rec (type $a (sub (struct (field (ref null $b))))) (type $b (struct)))
        // (type $c (sub $a (struct (field (ref null 1)))))
        let m = [
            2,
            def::STRUCT,
            def::NO_SUPER,
            1,
            0,
            r(1),
            0,
            def::STRUCT | def::FINAL,
            def::NO_SUPER,
            0,
            0,
            1,
            def::STRUCT | def::FINAL,
            0,
            1,
            0,
            r(1),
            1,
        ];
        let ids = t.intern_module(&m, &[]).unwrap();
        assert_eq!(ids, [0, 1, 2]);
        assert!(t.is_subtype(2, 0));
        assert!(!t.is_subtype(0, 2) && !t.is_subtype(1, 0));
        // The same module again: the same ids.
        assert_eq!(t.intern_module(&m, &[]).unwrap(), [0, 1, 2]);
        // A group that differs only in a field's mutability is another type.
        let mut other = m;
        other[6] = 1;
        assert_eq!(t.intern_module(&other, &[]).unwrap(), [3, 4, 5]);
        assert_eq!(t.info(0).unwrap().offsets, [16]);
        assert_eq!(t.info(0).unwrap().size, 24);
        // Truncated or out-of-range definitions are refused.
        assert_eq!(t.intern_module(&m[..5], &[]), Err(BadTypes));
        assert_eq!(
            t.intern_module(&[1, def::FUNC, 7, 0, 0], &[]),
            Err(BadTypes)
        );
        let _ = I32;
    }
}
