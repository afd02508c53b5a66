//! Canonical function-type ids shared by all instances: equal types get equal ids, so
//! `call_indirect` can compare ids across instances.

use alloc::vec::Vec;

#[derive(Debug, Default)]
pub struct TypeRegistry {
    types: Vec<(Vec<u8>, Vec<u8>)>,
}

impl TypeRegistry {
    pub const fn new() -> Self {
        TypeRegistry { types: Vec::new() }
    }

    /// The canonical id of `(params) -> (results)`.
    pub fn intern(&mut self, params: &[u8], results: &[u8]) -> u32 {
        if let Some(i) = self
            .types
            .iter()
            .position(|(p, r)| p == params && r == results)
        {
            return i as u32;
        }
        self.types.push((params.to_vec(), results.to_vec()));
        (self.types.len() - 1) as u32
    }

    /// Params and results of a canonical id.
    pub fn get(&self, id: u32) -> Option<(&[u8], &[u8])> {
        self.types.get(id as usize).map(|(p, r)| (&p[..], &r[..]))
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
