//! The hardware layer (bare metal only): the PVH boot assembly and start info, CPU tables
//! and exceptions, frames, page tables and the heap, the serial ports and `isa-debug-exit`,
//! clocks and RDRAND, virtio-mmio, and the entry into compiled code with its trap
//! unwinding. It knows nothing of the store or the runtime (the `entry` layer above calls
//! into both). Every `unsafe` block says why it is sound in a `// SAFETY:` comment.

pub mod boot;
pub mod cell;
pub mod cpu;
pub mod irq;
pub mod mm;
pub mod net;
pub mod panic;
pub mod serial;
pub mod time;
pub mod virtio;
pub mod wasm;
