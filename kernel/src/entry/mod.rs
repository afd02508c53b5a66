//! The entry layer (bare metal only), the top of the kernel: the first Rust code the boot
//! assembly calls, which sets up the machine and runs the program or script; the
//! [`Kernel`] machine the store and the runtime run on; and every `extern "C"` symbol
//! compiled code calls (the builtins in [`builtins`], the WASI functions in [`wasi`]), each
//! of which turns its raw arguments into checked views and calls into the safe layers
//! below. `unsafe` is allowed here, each block with a `// SAFETY:` comment.

pub mod builtins;
pub mod net;
pub mod wasi;

use crate::cmdline;
use crate::hw::cell::KernelCell;
use crate::hw::panic::fatal;
use crate::hw::{self, serial};
use crate::image::Trusted;
use crate::layout::{memory_base, MAX_MEMORIES};
use crate::runtime::{self, Entry, StoreCell};
use crate::script::{self, Kind, Restart};
use crate::store::{Callable, Machine, Store, Stub};
use crate::vmdata::{MapMemory, OutOfMemory};
use crate::wasi::WasiCtx;
use alloc::vec::Vec;
use core::fmt;
use hako_abi::boot::EXIT_DONE;
use hako_abi::script::ImageManifest;
use hako_abi::trap::TrapCode;
use hako_abi::vm::ValRaw;

/// The kernel's one store.
pub static STORE: KernelCell<Store> = KernelCell::new(Store::new());

impl StoreCell for KernelCell<Store> {
    fn with<R>(&self, f: impl FnOnce(&mut Store) -> R) -> R {
        KernelCell::with(self, f)
    }
}

/// The kernel command line the boot loader handed over (for the virtio-mmio devices).
static CMDLINE: KernelCell<&'static [u8]> = KernelCell::new(&[]);

/// The kernel command line.
pub fn cmdline() -> &'static [u8] {
    CMDLINE.with(|c| *c)
}

/// The machine, as the store and the runtime see it.
#[derive(Debug, Default)]
pub struct Kernel {
    harness: serial::Harness,
}

// SAFETY: memory `id`'s reservation is `layout::memory_base(id)`, 8 GiB of virtual space
// used by nothing else (ids are below `MAX_MEMORIES`, checked), and `mm::map_zeroed` maps
// fresh zeroed frames there, readable and writable, or fails.
unsafe impl MapMemory for Kernel {
    fn map_memory(&mut self, id: usize, from: u64, to: u64) -> Result<*mut u8, OutOfMemory> {
        if id as u64 >= MAX_MEMORIES {
            return Err(OutOfMemory);
        }
        let base = memory_base(id as u64);
        if to > from {
            hw::mm::map_zeroed(base + from, to - from).map_err(|_| OutOfMemory)?;
        }
        Ok(base as usize as *mut u8)
    }
}

impl Machine for Kernel {
    fn harness(&mut self) -> &mut dyn fmt::Write {
        &mut self.harness
    }
    fn stub(&self, stub: Stub) -> *const u8 {
        builtins::stub(stub)
    }
    fn wasi_function(&self, name: &str) -> Option<*const u8> {
        builtins::wasi_symbol(name)
    }
    fn bench_function(&self, name: &[u8]) -> Option<*const u8> {
        wasi::bench_symbol(name)
    }
    fn enter(&mut self, f: Callable, values: &mut [ValRaw]) -> Result<(), TrapCode> {
        if values.len() < f.slots() {
            fatal(format_args!("a call into Wasm with too few value slots"));
        }
        // SAFETY: only the store makes a `Callable`, from its instances' functions: code of
        // the image with its own instance's context, an array call over `f.slots()` values
        // (checked above) or a native start function; the runtime calls this holding no
        // borrow of `STORE` or the WASI context.
        unsafe { hw::wasm::call(f.code(), f.vmctx(), values) }
    }
}

/// The image manifest (`hako_abi::script::MANIFEST_SYMBOL`), checked.
fn manifest() -> (Trusted<ImageManifest>, Kind) {
    extern "C" {
        static hako_image_manifest: ImageManifest;
    }
    // SAFETY: `hako_image_manifest` is the constant manifest the runner generated and linked
    // into every image; reading its fixed-size header is sound even when the magic is wrong.
    let m = unsafe { &*core::ptr::addr_of!(hako_image_manifest) };
    match script::check_manifest(m) {
        // SAFETY: a manifest whose magic and ABI version check out was made by the runner:
        // its module table and script, and the descriptors they point to, are constant data
        // the compiler and the runner linked into the image.
        Ok(kind) => (unsafe { Trusted::new(m) }, kind),
        Err(e) => fatal(format_args!("{e}")),
    }
}

/// The first Rust code: called by the boot assembly on the boot stack, in long mode.
#[no_mangle]
extern "C" fn hako_kernel_start(start_info: u32) -> ! {
    serial::init();
    let info = match hw::boot::read_boot_info(start_info) {
        Ok(i) => i,
        Err(e) => fatal(format_args!("{e}")),
    };
    CMDLINE.with(|c| *c = info.cmdline);
    hw::mm::init(info.memmap, hw::boot::kernel_end());
    // GC objects get half the kernel heap; the other half stays for the kernel's own
    // allocations, so that a full GC heap is a trap, never a failed allocation.
    STORE.with(|s| s.gc.limit = hw::mm::heap_size() / 2);
    hw::cpu::init();
    hw::time::init();
    let (manifest, kind) = manifest();
    let cl = match cmdline::parse(info.cmdline) {
        Ok(c) => c,
        Err(tok) => {
            let tok = core::str::from_utf8(tok).unwrap_or("?");
            match kind {
                Kind::Program => {
                    serial::record(format_args!("error bad command-line token {tok}"));
                    serial::debug_exit(EXIT_DONE)
                }
                Kind::Script => fatal(format_args!("bad command-line token {tok}")),
            }
        }
    };
    let mut kernel = Kernel::default();
    match kind {
        Kind::Program => {
            let mut ctx = WasiCtx::new(cl.args, cl.env);
            if let Some(umask) = cl.umask {
                ctx.set_umask(umask);
            }
            // The network and the `hako.tcplisten=` sockets, before the preopened
            // directories (set_wasi adds those).
            net::set_up(cl.net.as_ref(), cl.net6.as_ref(), &cl.tcplisten, &mut ctx);
            wasi::set_wasi(ctx, cl.preopens, cl.stdin_len);
            let Some(desc) = manifest.module(0) else {
                fatal(format_args!("the program image has no module"))
            };
            let entry = match &cl.invoke {
                None => Entry::Start,
                Some(name) => Entry::Invoke {
                    name,
                    args: &cl.invoke_args,
                },
            };
            runtime::program(&STORE, &mut kernel, desc, entry);
            // Returned or trapped: what the program sent still leaves the machine.
            wasi::with_wasi(|ctx, host| ctx.finish_network(host));
        }
        Kind::Script => {
            // Spec modules import no WASI, but a module that does gets a working (empty)
            // context.
            wasi::set_wasi(
                WasiCtx::new(Vec::new(), Vec::new()),
                cl.preopens,
                cl.stdin_len,
            );
            let restart = Restart {
                resume: cl.resume.unwrap_or(0),
                skip: cl.skip,
            };
            if let Err(e) = runtime::run_script(&STORE, &mut kernel, manifest, &restart) {
                fatal(format_args!("{}", e.0));
            }
        }
    }
    serial::debug_exit(EXIT_DONE)
}
