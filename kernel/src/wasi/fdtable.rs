//! The descriptor table: open WASI file descriptors and what each refers to.
//!
//! A vector of `(fd, entry)` sorted by descriptor. Descriptors are handed out in increasing
//! order (as wasi-common does), so adding one is nearly always a push, and a program holds
//! few at a time, so looking one up is a short binary search. (Smaller code than a
//! `BTreeMap`, which matters at boot: under TCG every instruction that runs once costs its
//! translation.)

use alloc::vec::Vec;

#[derive(Debug)]
pub struct FdTable<T> {
    entries: Vec<(u32, T)>,
}

impl<T> Default for FdTable<T> {
    fn default() -> Self {
        FdTable {
            entries: Vec::new(),
        }
    }
}

impl<T> FdTable<T> {
    /// A table of `entries`, which must be sorted by descriptor without duplicates (one
    /// allocation, no searching: the table of a starting program).
    pub fn from_sorted(entries: Vec<(u32, T)>) -> Self {
        debug_assert!(entries.windows(2).all(|w| w[0].0 < w[1].0));
        FdTable { entries }
    }

    fn index(&self, fd: u32) -> Result<usize, usize> {
        self.entries.binary_search_by_key(&fd, |(k, _)| *k)
    }

    pub fn get(&self, fd: u32) -> Option<&T> {
        self.index(fd).ok().map(|i| &self.entries[i].1)
    }

    pub fn get_mut(&mut self, fd: u32) -> Option<&mut T> {
        self.index(fd).ok().map(|i| &mut self.entries[i].1)
    }

    pub fn contains(&self, fd: u32) -> bool {
        self.index(fd).is_ok()
    }

    /// Set `fd` to `entry`; the entry it had, if any.
    pub fn insert(&mut self, fd: u32, entry: T) -> Option<T> {
        if self.entries.last().is_none_or(|(last, _)| *last < fd) {
            self.entries.push((fd, entry));
            return None;
        }
        match self.index(fd) {
            Ok(i) => Some(core::mem::replace(&mut self.entries[i].1, entry)),
            Err(i) => {
                self.entries.insert(i, (fd, entry));
                None
            }
        }
    }

    pub fn remove(&mut self, fd: u32) -> Option<T> {
        let i = self.index(fd).ok()?;
        Some(self.entries.remove(i).1)
    }
}

#[cfg(test)]
mod tests {
    use super::FdTable;

    #[test]
    fn from_sorted_then_insert() {
        let mut t = FdTable::from_sorted(vec![(0, 'a'), (1, 'b'), (2, 'c')]);
        assert_eq!(t.get(2), Some(&'c'));
        assert_eq!(t.insert(3, 'd'), None);
        assert_eq!(t.remove(0), Some('a'));
        assert_eq!(t.get(3), Some(&'d'));
    }

    #[test]
    fn insert_get_remove() {
        let mut t = FdTable::default();
        assert_eq!(t.insert(0, "in"), None);
        assert_eq!(t.insert(1, "out"), None);
        assert_eq!(t.insert(5, "five"), None);
        assert_eq!(t.insert(3, "three"), None);
        assert_eq!(t.get(3), Some(&"three"));
        assert_eq!(t.insert(3, "again"), Some("three"));
        assert!(t.contains(5) && !t.contains(4) && !t.contains(u32::MAX));
        *t.get_mut(1).unwrap() = "stdout";
        assert_eq!(t.remove(1), Some("stdout"));
        assert_eq!(t.remove(1), None);
        assert_eq!(t.get(1), None);
        assert_eq!(t.insert(1, "back"), None);
        let order: Vec<u32> = t.entries.iter().map(|(k, _)| *k).collect();
        assert_eq!(order, [0, 1, 3, 5]);
    }
}
