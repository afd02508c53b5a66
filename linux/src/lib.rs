//! # hako-linux: the Linux target
//!
//! The same relocatable objects the compiler makes for the unikernel, linked with this
//! crate (a staticlib, with musl's C runtime) into one static x86_64 Linux executable that
//! needs no dynamic libraries and no hako installation (`hako build --target linux`). It
//! runs the program, or a spec script, with the kernel's own code: the store and the
//! runtime (`hako_kernel::store`, `hako_kernel::runtime`), every WASI function
//! (`hako_kernel::wasi`) and the entry points compiled code calls
//! (`hako_kernel::define_entry_points!`). What differs is only the platform under them:
//!
//! - [`memory`]: linear memories are `mmap` reservations, 8 GiB each with guard regions,
//!   as in the kernel, so accesses need no bounds checks;
//! - [`wasm`]: a dedicated Wasm stack with a guard, and SIGSEGV/SIGBUS/SIGFPE/SIGILL
//!   handlers on an alternate stack that turn faults of compiled code into traps
//!   ([`traps`]: which faults are traps);
//! - [`host`]: stdout, stderr, stdin, the clocks and entropy are the process's own;
//! - [`fs`]: preopened directories are host directories (`openat2` with
//!   `RESOLVE_BENEATH`, under the WASI layer's own sandboxed path resolution);
//! - [`harness`]: the harness records go to a descriptor when `hako` runs the executable,
//!   or become `error: ...` lines on stderr when it runs on its own;
//! - [`net`]: with `--net`, the socket functions use host sockets (non-blocking, the WASI
//!   layer waits with `poll`), `--publish` maps a guest port to a host port, `--tcplisten`
//!   preopens a listener;
//! - [`cli`]: the executable's options (`--dir`, `--env`, `--net`, `--publish`,
//!   `--tcplisten`).
//!
//! `unsafe` lives in `memory`, `wasm`, `harness` (raw writes from the signal handler),
//! `platform` (the entry points' expansion) and `entry` (the C `main`).
#![deny(unsafe_code)]

pub mod cli;
#[cfg(feature = "executable")]
#[allow(unsafe_code)]
mod entry;
pub mod fs;
#[allow(unsafe_code)]
pub mod harness;
pub mod host;
#[allow(unsafe_code)]
pub mod memory;
pub mod net;
#[allow(unsafe_code)]
pub mod platform;
pub mod traps;
#[allow(unsafe_code)]
pub mod wasm;

use hako_abi::script::ImageManifest;
use hako_kernel::image::Trusted;
use hako_kernel::runtime::{self, Entry};
use hako_kernel::script::{Kind, Restart};
use hako_kernel::wasi::WasiCtx;
use platform::{Linux, TheStore};
use std::fmt;
use std::ops::Range;
use std::path::Path;

/// Exit status of a usage error (as `hako`'s).
pub const USAGE_STATUS: i32 = 2;

/// End the process after a failure of the runtime itself: a `panic` record (or its
/// `error:` line) and status 70.
pub fn fatal(message: fmt::Arguments<'_>) -> ! {
    harness::record(format_args!("{} {message}", hako_abi::boot::record::PANIC));
    std::process::exit(harness::RUNTIME_FAILURE)
}

/// The process's file-mode creation mask.
fn umask() -> u32 {
    use rustix::fs::Mode;
    let old = rustix::process::umask(Mode::from_bits_truncate(0o022));
    rustix::process::umask(old);
    old.bits()
}

/// Give the program its network (`--net`, `--publish`) and preopen the `--tcplisten`
/// listeners, the first descriptors after stdio. `Err` is the exit status of a failure,
/// already reported.
fn network(
    ctx: &mut WasiCtx,
    enabled: bool,
    publish: &[net::Publish],
    tcplisten: &[std::net::SocketAddr],
) -> Result<(), i32> {
    if !enabled && tcplisten.is_empty() {
        return Ok(());
    }
    let mut host = if enabled {
        net::HostNetwork::new(publish.to_vec())
    } else {
        net::HostNetwork::preopened_only()
    };
    let mut listeners = Vec::new();
    for addr in tcplisten {
        match host.listen_tcp(*addr) {
            Ok(l) => listeners.push(l),
            Err(e) => {
                eprintln!("error: --tcplisten {addr}: cannot listen there: {e}");
                return Err(1);
            }
        }
    }
    ctx.set_network(Box::new(host));
    for (id, family) in listeners {
        ctx.preopen_socket(id, family, hako_kernel::wasi::net::Kind::Stream);
    }
    Ok(())
}

/// Run the executable: `argv` as the C runtime passed it, the image's manifest (of `kind`)
/// and the range of its compiled code. Returns the exit status.
pub fn run(
    argv: &[Vec<u8>],
    manifest: Trusted<ImageManifest>,
    kind: Kind,
    code: Range<usize>,
) -> i32 {
    std::panic::set_hook(Box::new(|info| {
        harness::record(format_args!("{} {info}", hako_abi::boot::record::PANIC));
        std::process::exit(harness::RUNTIME_FAILURE);
    }));
    let config = match cli::parse(argv, |name| std::env::var(name).ok()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return USAGE_STATUS;
        }
    };
    if let Some(fd) = config.harness_fd {
        harness::set_fd(fd);
    }
    let tokens = config.tokens.join(&b' ');
    let cl = match hako_kernel::cmdline::parse(&tokens) {
        Ok(cl) => cl,
        Err(tok) => {
            eprintln!("error: bad --hako-token {}", String::from_utf8_lossy(tok));
            return USAGE_STATUS;
        }
    };
    wasm::install(code);
    let mut machine = Linux::default();
    match kind {
        Kind::Program => {
            let mut ctx = WasiCtx::new(config.args, config.env);
            ctx.set_umask(cl.umask.unwrap_or_else(umask));
            let net = network(&mut ctx, config.net, &config.publish, &config.tcplisten);
            if let Err(status) = net {
                return status;
            }
            for d in &config.dirs {
                match fs::HostDir::open(Path::new(&d.host), d.read_only) {
                    Ok(dir) => {
                        ctx.add_preopen(d.guest.clone().into_bytes(), Box::new(dir));
                    }
                    Err(e) => {
                        eprintln!("error: --dir {}: cannot open {}: {e}", d.host, d.host);
                        return 1;
                    }
                }
            }
            platform::set_wasi(ctx);
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
            runtime::program(&TheStore, &mut machine, desc, entry);
            // Returned or trapped: what the program sent still leaves.
            <platform::LinuxPlatform as hako_kernel::shims::Platform>::with_wasi(|ctx, host| {
                ctx.finish_network(host)
            });
            harness::status()
        }
        Kind::Script => {
            // Spec modules import no WASI, but a module that does gets a working (empty)
            // context.
            platform::set_wasi(WasiCtx::new(Vec::new(), Vec::new()));
            let restart = Restart {
                resume: cl.resume.unwrap_or(0),
                skip: cl.skip,
            };
            match runtime::run_script(&TheStore, &mut machine, manifest, &restart) {
                Ok(()) => 0,
                Err(e) => fatal(format_args!("{}", e.0)),
            }
        }
    }
}
