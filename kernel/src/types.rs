//! Canonical function-type ids shared by all instances: equal types get equal ids, so
//! `call_indirect` can compare ids across instances. The types are the descriptors' own
//! (static data of the image), so the registry copies nothing.

use alloc::vec::Vec;

#[derive(Debug, Default)]
pub struct TypeRegistry {
    types: Vec<(&'static [u8], &'static [u8])>,
}

impl TypeRegistry {
    pub const fn new() -> Self {
        TypeRegistry { types: Vec::new() }
    }

    /// The canonical id of `(params) -> (results)`.
    pub fn intern(&mut self, params: &'static [u8], results: &'static [u8]) -> u32 {
        if let Some(i) = self
            .types
            .iter()
            .position(|&(p, r)| p == params && r == results)
        {
            return i as u32;
        }
        self.types.push((params, results));
        (self.types.len() - 1) as u32
    }

    /// Params and results of a canonical id.
    pub fn get(&self, id: u32) -> Option<(&'static [u8], &'static [u8])> {
        self.types.get(id as usize).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
}
