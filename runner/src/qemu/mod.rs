//! Booting an image in QEMU and reading what happened, one file per concern:
//!
//! - `accel.rs`: which accelerator ([`Accel`]: KVM or TCG);
//! - `config.rs`: the boot configuration ([`BootConfig`]) and the QEMU and kernel command
//!   lines it becomes;
//! - `launch.rs`: process handling ([`boot`]): spawning QEMU tied to `hako`, waiting for it
//!   or killing it at the time limit; `channels.rs`: the guest's stdout, stderr and harness
//!   channels over abstract Unix sockets;
//! - `outcome.rs`: outcome classification ([`Run`], [`Outcome`]) from QEMU's exit status and
//!   the harness records, never from the program's output.
//!
//! A VM never outlives `hako`: an error or a panic in the runner kills it, and so does a
//! signal or `kill -9` that ends `hako` (see [`crate::process`]).

mod accel;
mod channels;
mod config;
mod forward;
mod launch;
mod outcome;

pub use accel::Accel;
pub use config::{
    kernel_command_line, qemu_args, qemu_args_relayed, BootConfig, Net, Preopen, Publish, Sink, Tap,
};
pub use launch::boot;
pub(crate) use outcome::{classify_process, parse_records};
pub use outcome::{Outcome, Record, Run};
