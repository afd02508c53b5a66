//! # hako-kernel: the hako unikernel
//!
//! A small `no_std` kernel that boots on QEMU (`-M microvm` or `-M q35 -bios qboot.rom`)
//! through the PVH entry point and reads the image manifest `hako_image_manifest` (see
//! [`hako_abi::script`]). A **program** image holds one compiled Wasm module: the kernel
//! instantiates it and runs its `_start` export, with WASI preview1 on top of three serial
//! ports (see [`hako_abi::boot`]). A **script** image (`hako spec`) holds every module of a
//! spec `.wast` script plus its commands: the kernel instantiates, registers, invokes and
//! reads globals as the commands say, linking imports by the spec's rules (registered
//! instances and a built-in `spectest` module), and reports one result line per command.
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
//! The modules form layers; each imports only from its own layer or those below it, never
//! in a circle, and only `entry` may import `hw` (`tests/layers.rs` checks all three, from
//! the sources):
//!
//! 1. [`layout`]: every address-space constant (image, identity map, Wasm stack, linear
//!    memories, boot windows).
//! 2. Safe, target-independent logic with host unit tests: [`wasi`] (with the fd table,
//!    path resolution and the [`wasi::vfs::Backend`] file-system interface), [`p9`]
//!    (9P2000.L messages and client), [`guest`], [`bulk`], [`types`], [`cmdline`],
//!    [`clock`], [`link`] (import matching rules), [`script`] (manifest check, restart
//!    dispositions, instance names, `Invoke` typing) and [`net`] (the smoltcp network stack
//!    behind [`wasi::net::Network`], over any Ethernet device).
//! 3. `hw` (bare metal only, `unsafe` allowed): hardware primitives: PVH boot assembly,
//!    serial ports, `isa-debug-exit`, GDT/IDT/TSS and exception handling, frames, page
//!    tables, heap, TSC/PIT/RTC, RDRAND, virtio-mmio (9p and net), the local APIC and
//!    IOAPIC (interrupts that only wake a halted CPU, `hw::irq::halt_until`), and entering
//!    Wasm with its trap unwinding.
//! 4. The data shared with compiled code, behind types that cannot be misused (`unsafe`
//!    inside, host unit tests): [`image`] (trusted views of the descriptors and prebuilt
//!    instances the compiler emitted) and [`vmdata`] (linear memories, global slots).
//! 5. The Wasm store and what the kernel runs, safe code built and unit-tested on the host:
//!    [`store`] (instantiation from [`hako_abi::module::ModuleDescriptor`], imports checked
//!    with [`link`], adopting a prebuilt instance ([`hako_abi::module::Prebuilt`]: all 72
//!    WASI testsuite programs and the hello fixture, which keeps the code that runs once at
//!    boot, and that TCG must translate, small), the `spectest` instance, exports) and
//!    [`runtime`] (program and script modes). Both reach the machine through
//!    [`store::Machine`], as `wasi` does through [`wasi::Host`].
//! 6. `entry` (bare metal only, `unsafe` allowed): the first Rust code after the boot
//!    assembly, the machine the store and runtime run on, and every `extern "C"` symbol
//!    compiled code calls (builtins and the 46 WASI functions), each turning its raw
//!    arguments into checked views.
//!
//! ## Script mode resources
//!
//! Every linear memory gets its own 8 GiB reservation in `[1 TiB, 65 TiB)` (8192 of them;
//! never reused), mapped 4 KiB at a time, so a one-page memory costs 64 KiB plus its page
//! tables. Instances are never freed: an instance whose instantiation trapped stays alive
//! because its functions may already sit in imported tables. Running out of frames is an
//! `error` result for the `Instantiate` and `-1` for `memory.grow`.
//!
//! ## Traps
//!
//! The kernel enters Wasm through an export's array-call trampoline on a dedicated stack of
//! 8 MiB + 64 KiB (with a 2 MiB unmapped guard below it) after saving the callee-saved registers and
//! `rsp` (setjmp-style); every outermost entry starts at the top of that stack again, so a
//! trap in one script command leaves nothing behind for the next. `hako_trap`, the builtins and the page-fault handler longjmp back
//! directly (the exception handler runs on its own IST stack and never `iretq`s: interrupts
//! are enabled only while the CPU halts in `hw::irq::halt_until`, never while Wasm runs, and
//! exceptions other than NMI leave no CPU state behind that needs an `iretq`, so a direct
//! longjmp is both simpler and correct). Faults inside the linear-memory
//! region (from 1 TiB up) become `MemoryOutOfBounds`, faults in the Wasm stack guard become
//! `StackOverflow`; every other exception is a `panic` record and `EXIT_PANIC`.
#![cfg_attr(target_os = "none", no_std)]
#![deny(unsafe_code)]

extern crate alloc;
// The unwinder of Wasm exceptions in the unikernel (`_Unwind_RaiseException` and the
// context functions `exn` uses); the Linux target links LLVM's libunwind instead.
#[cfg(target_os = "none")]
extern crate unwinding;

#[allow(unsafe_code)]
pub mod jump;
pub mod layout;

pub mod bulk;
pub mod clock;
pub mod cmdline;
pub mod gc;
pub mod guest;
pub mod link;
pub mod net;
pub mod p9;
pub mod script;
pub mod types;
pub mod wasi;

#[allow(unsafe_code)]
pub mod image;
#[allow(unsafe_code)]
pub mod vmdata;
// Exception objects and the personality routine of compiled code.
#[allow(unsafe_code)]
pub mod exn;

pub mod runtime;
pub mod store;

#[allow(unsafe_code)]
pub mod shims;
#[doc(hidden)]
pub use hako_abi as __abi;

#[cfg(target_os = "none")]
#[allow(unsafe_code)]
pub mod hw;

#[cfg(target_os = "none")]
#[allow(unsafe_code)]
mod entry;
