//! [`KernelCell`], how this single-core kernel keeps mutable state in `static`s.

use core::cell::RefCell;
use core::fmt;

/// A `static`'s mutable state for this single-core kernel whose interrupt handlers touch no
/// `KernelCell` (interrupts are enabled only while halted, see `super::irq`): a
/// `RefCell` that may live in a `static`. A re-entrant borrow panics instead of aliasing.
pub struct KernelCell<T>(RefCell<T>);

// SAFETY: the kernel runs on one CPU with interrupts disabled (except while halted in
// `irq::halt_until`, whose handlers use atomics and device registers only), so no two threads of
// execution ever touch a `KernelCell`; exception handlers only use them through the same
// checked `RefCell` borrows.
unsafe impl<T> Sync for KernelCell<T> {}

impl<T> KernelCell<T> {
    pub const fn new(v: T) -> Self {
        KernelCell(RefCell::new(v))
    }
    /// Run `f` with exclusive access.
    pub fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        f(&mut self.0.borrow_mut())
    }
    /// Whether the value is borrowed right now (used by the panic path).
    pub fn is_busy(&self) -> bool {
        self.0.try_borrow_mut().is_err()
    }
}

impl<T> fmt::Debug for KernelCell<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KernelCell")
    }
}
