//! # hako-kernel: the hako unikernel
//!
//! A small `no_std` kernel that boots on QEMU (`-M microvm` or `-M q35 -bios qboot.rom`)
//! through the PVH entry point, instantiates the one compiled Wasm module linked into the
//! image (`hako_main_module`, see [`hako_abi::module`]) and runs its `_start` export, with
//! WASI preview1 on top of three serial ports (see [`hako_abi::boot`]).
//!
//! ## Building and linking
//!
//! ```text
//! cargo build -p hako-kernel --target x86_64-unknown-none --profile kernel
//! ld.lld-19 -T kernel/link.ld --gc-sections -e hako_pvh_start app.o libhako_kernel.a -o app.elf
//! ```
//!
//! The entry symbol is **`hako_pvh_start`** (32-bit code, also named by the PVH ELF note
//! `Xen`/18 that QEMU's `-kernel` loader uses). The image is linked at 1 MiB physical and needs
//! no special `RUSTFLAGS`.
//!
//! ## Structure
//!
//! - [`hw`] (bare metal only) is the only module tree with `unsafe` code: PVH boot assembly,
//!   serial ports, `isa-debug-exit`, GDT/IDT/TSS and exception handling, frames, page tables,
//!   heap, TSC/PIT/RTC, RDRAND, the Wasm entry/trap unwinding and every `extern "C"` symbol
//!   compiled code calls (builtins and the 46 WASI functions). Each of those symbols turns its
//!   raw arguments into safe views and calls into the safe modules below.
//! - [`wasi`], [`guest`], [`bulk`], [`constexpr`], [`types`], [`cmdline`], [`clock`] are
//!   safe, target-independent logic with host unit tests (`cargo test -p hako-kernel`).
//! - `store`/`runtime` (bare metal only, safe code): instantiation from
//!   [`hako_abi::module::ModuleDescriptor`] and the program mode.
//!
//! ## Traps
//!
//! The kernel enters Wasm through an export's array-call trampoline on a dedicated 8 MiB
//! stack (with a 64 KiB unmapped guard below it) after saving the callee-saved registers and
//! `rsp` (setjmp-style). `hako_trap`, the builtins and the page-fault handler longjmp back
//! directly (the exception handler runs on its own IST stack and never `iretq`s: no interrupt
//! is ever enabled and exceptions other than NMI leave no CPU state behind that needs an
//! `iretq`, so a direct longjmp is both simpler and correct). Faults inside the linear-memory
//! region (from 1 TiB up) become `MemoryOutOfBounds`, faults in the Wasm stack guard become
//! `StackOverflow`; every other exception is a `panic` record and `EXIT_PANIC`.
#![cfg_attr(target_os = "none", no_std)]
#![deny(unsafe_code)]

extern crate alloc;

pub mod bulk;
pub mod clock;
pub mod cmdline;
pub mod constexpr;
pub mod guest;
pub mod types;
pub mod wasi;

#[cfg(target_os = "none")]
#[allow(unsafe_code)]
pub mod hw;
#[cfg(target_os = "none")]
mod runtime;
#[cfg(target_os = "none")]
#[allow(dead_code)] // kept for multi-instance linking (spec tests)
mod store;
