//! The hardware layer: the only module tree with `unsafe` code. Every `unsafe` block says
//! why it is sound in a `// SAFETY:` comment.

pub mod boot;
pub mod cpu;
pub mod mm;
pub mod serial;
pub mod time;
pub mod virtio;
pub mod wasi;
pub mod wasm;

use core::cell::RefCell;
use core::fmt;

/// A global for this single-core kernel that never enables interrupts: a `RefCell` that may
/// live in a `static`. A re-entrant borrow panics instead of aliasing.
pub struct Global<T>(RefCell<T>);

// SAFETY: the kernel runs on one CPU with interrupts disabled, so no two threads of
// execution ever touch a `Global`; exception handlers only use `Global`s through the same
// checked `RefCell` borrows.
unsafe impl<T> Sync for Global<T> {}

impl<T> Global<T> {
    pub const fn new(v: T) -> Self {
        Global(RefCell::new(v))
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

impl<T> fmt::Debug for Global<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Global")
    }
}

/// Write a `panic` record and exit with `EXIT_PANIC`.
pub fn fatal(args: fmt::Arguments<'_>) -> ! {
    serial::record(format_args!("panic {args}"));
    serial::debug_exit(hako_abi::boot::EXIT_PANIC)
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    match info.location() {
        Some(l) => fatal(format_args!(
            "{} at {}:{}",
            info.message(),
            l.file(),
            l.line()
        )),
        None => fatal(format_args!("{}", info.message())),
    }
}
