//! The kernel's way out when something is wrong with the machine or the image: a `panic`
//! record on the harness channel and `EXIT_PANIC`, also for Rust panics.

use super::serial;

/// Write a `panic` record and exit with `EXIT_PANIC`.
pub fn fatal(args: core::fmt::Arguments<'_>) -> ! {
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
