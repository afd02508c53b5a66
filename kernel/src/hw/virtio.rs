//! virtio-mmio (legacy version 1 and modern version 2) with one polled virtqueue, and the
//! virtio-9p transport on top of it. Interrupts stay off: a request is posted, the device
//! notified, and the used ring polled until the device hands the buffer back. The register
//! access and DMA memory are shared with the virtio-net driver (`super::net`).

use crate::guest::Errno;
use crate::p9::Transport;
use alloc::alloc::{alloc_zeroed, Layout};
use alloc::vec::Vec;
use core::ptr::{read_volatile, write_volatile};
use core::sync::atomic::{fence, Ordering};
use hako_abi::wasi::errno;

const MAGIC: u32 = 0x7472_6976;
const DEVICE_9P: u32 = 9;
/// Descriptors in our queue (each request uses two).
const QSIZE: u16 = 8;
pub(super) const PAGE: usize = 4096;

pub(super) mod reg {
    pub const MAGIC: usize = 0x000;
    pub const VERSION: usize = 0x004;
    pub const DEVICE_ID: usize = 0x008;
    pub const DEVICE_FEATURES: usize = 0x010;
    pub const DEVICE_FEATURES_SEL: usize = 0x014;
    pub const DRIVER_FEATURES: usize = 0x020;
    pub const DRIVER_FEATURES_SEL: usize = 0x024;
    pub const GUEST_PAGE_SIZE: usize = 0x028;
    pub const QUEUE_SEL: usize = 0x030;
    pub const QUEUE_NUM_MAX: usize = 0x034;
    pub const QUEUE_NUM: usize = 0x038;
    pub const QUEUE_ALIGN: usize = 0x03c;
    pub const QUEUE_PFN: usize = 0x040;
    pub const QUEUE_READY: usize = 0x044;
    pub const QUEUE_NOTIFY: usize = 0x050;
    pub const INTERRUPT_STATUS: usize = 0x060;
    pub const INTERRUPT_ACK: usize = 0x064;
    pub const STATUS: usize = 0x070;
    pub const QUEUE_DESC_LOW: usize = 0x080;
    pub const QUEUE_DESC_HIGH: usize = 0x084;
    pub const QUEUE_AVAIL_LOW: usize = 0x090;
    pub const QUEUE_AVAIL_HIGH: usize = 0x094;
    pub const QUEUE_USED_LOW: usize = 0x0a0;
    pub const QUEUE_USED_HIGH: usize = 0x0a4;
    pub const CONFIG: usize = 0x100;
}

pub(super) const S_ACK: u32 = 1;
pub(super) const S_DRIVER: u32 = 2;
pub(super) const S_DRIVER_OK: u32 = 4;
pub(super) const S_FEATURES_OK: u32 = 8;

/// One virtio-mmio device window (identity-mapped, below 4 GiB).
#[derive(Debug, Clone)]
pub struct Mmio {
    base: usize,
}

impl Mmio {
    /// A device window at physical `base`, if it holds a virtio device at all.
    pub fn probe(base: u64) -> Option<Mmio> {
        if base == 0 || base >= (4 << 30) || base % 4 != 0 {
            return None;
        }
        let m = Mmio {
            base: base as usize,
        };
        (m.read(reg::MAGIC) == MAGIC && m.read(reg::DEVICE_ID) != 0).then_some(m)
    }

    pub(super) fn read(&self, off: usize) -> u32 {
        // SAFETY: `base` is a virtio-mmio window (the magic value matched, or is being
        // checked, at an address QEMU announced), identity-mapped by the boot page tables;
        // registers are 32-bit aligned.
        unsafe { read_volatile((self.base + off) as *const u32) }
    }

    pub(super) fn write(&self, off: usize, v: u32) {
        // SAFETY: as in `read`; writing device registers has no effect on kernel memory
        // except through the queue memory we hand the device, which we own.
        unsafe { write_volatile((self.base + off) as *mut u32, v) }
    }

    pub(super) fn config_u8(&self, off: usize) -> u8 {
        // SAFETY: as in `read`; the device-specific configuration space starts at 0x100.
        unsafe { read_volatile((self.base + reg::CONFIG + off) as *const u8) }
    }

    /// The physical address of the window.
    /// Hand the device the rings of the selected queue (`QUEUE_SEL`), `size` descriptors
    /// in the [`RingLayout`] at `qaddr`: as addresses (version 2) or a page number (legacy).
    pub(super) fn set_queue(&self, version: u32, size: u16, qaddr: u64, rings: RingLayout) {
        self.write(reg::QUEUE_NUM, u32::from(size));
        if version >= 2 {
            let set = |lo: usize, hi: usize, a: u64| {
                self.write(lo, a as u32);
                self.write(hi, (a >> 32) as u32);
            };
            set(reg::QUEUE_DESC_LOW, reg::QUEUE_DESC_HIGH, qaddr);
            set(
                reg::QUEUE_AVAIL_LOW,
                reg::QUEUE_AVAIL_HIGH,
                qaddr + rings.avail_off as u64,
            );
            set(
                reg::QUEUE_USED_LOW,
                reg::QUEUE_USED_HIGH,
                qaddr + rings.used_off as u64,
            );
            self.write(reg::QUEUE_READY, 1);
        } else {
            self.write(reg::GUEST_PAGE_SIZE, PAGE as u32);
            self.write(reg::QUEUE_ALIGN, PAGE as u32);
            self.write(reg::QUEUE_PFN, (qaddr / PAGE as u64) as u32);
        }
    }

    pub fn base(&self) -> u64 {
        self.base as u64
    }

    pub fn device_id(&self) -> u32 {
        self.read(reg::DEVICE_ID)
    }

    /// The mount tag of a virtio-9p device.
    pub fn mount_tag(&self) -> Vec<u8> {
        let n = self.config_u8(0) as usize | (self.config_u8(1) as usize) << 8;
        (0..n.min(256)).map(|i| self.config_u8(2 + i)).collect()
    }
}

#[repr(C)]
#[derive(Clone, Copy)]
pub(super) struct Desc {
    pub(super) addr: u64,
    pub(super) len: u32,
    pub(super) flags: u16,
    pub(super) next: u16,
}
const DESC_NEXT: u16 = 1;
pub(super) const DESC_WRITE: u16 = 2;

/// A virtio-9p device with its one request queue, used one request at a time.
pub struct Virtio9p {
    dev: Mmio,
    /// Queue memory: descriptors at 0, available ring after them, used ring at `used_off`.
    queue: *mut u8,
    used_off: usize,
    avail_idx: u16,
    last_used: u16,
    req: *mut u8,
    resp: *mut u8,
    cap: usize,
}

impl core::fmt::Debug for Virtio9p {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Virtio9p").field("dev", &self.dev).finish()
    }
}

/// Where a split virtqueue of `n` descriptors keeps its rings: descriptors at 0 (16 bytes
/// each), the available ring at `avail_off`, the used ring page-aligned at `used_off`
/// (the legacy layout, which version 2 accepts too), `bytes` in all.
#[derive(Debug, Clone, Copy)]
pub(super) struct RingLayout {
    pub avail_off: usize,
    pub used_off: usize,
    pub bytes: usize,
}

impl RingLayout {
    pub(super) fn new(n: usize) -> RingLayout {
        let avail_off = 16 * n;
        let used_off = (avail_off + 6 + 2 * n).next_multiple_of(PAGE);
        RingLayout {
            avail_off,
            used_off,
            bytes: used_off + 6 + 8 * n,
        }
    }
}

pub(super) fn dma_alloc(size: usize) -> *mut u8 {
    let layout = Layout::from_size_align(size.next_multiple_of(PAGE), PAGE).expect("layout");
    // SAFETY: the layout has a non-zero size; the kernel heap is identity-mapped RAM below
    // 4 GiB, so the address is also the physical address the device uses. The memory is
    // never freed (the devices live as long as the program).
    let p = unsafe { alloc_zeroed(layout) };
    if p.is_null() {
        super::panic::fatal(format_args!("out of memory for virtio buffers"));
    }
    p
}

impl Virtio9p {
    /// Reset and initialise a virtio-9p device; `cap` is the largest message.
    pub fn init(dev: Mmio, cap: usize) -> Result<Virtio9p, &'static str> {
        if dev.device_id() != DEVICE_9P {
            return Err("not a virtio-9p device");
        }
        let version = dev.read(reg::VERSION);
        dev.write(reg::STATUS, 0);
        dev.write(reg::STATUS, S_ACK);
        dev.write(reg::STATUS, S_ACK | S_DRIVER);
        // Features: the mount tag (bit 0), and VERSION_1 (bit 32) on modern devices.
        dev.write(reg::DEVICE_FEATURES_SEL, 0);
        let f0 = dev.read(reg::DEVICE_FEATURES);
        dev.write(reg::DRIVER_FEATURES_SEL, 0);
        dev.write(reg::DRIVER_FEATURES, f0 & 1);
        dev.write(reg::DEVICE_FEATURES_SEL, 1);
        let f1 = dev.read(reg::DEVICE_FEATURES);
        dev.write(reg::DRIVER_FEATURES_SEL, 1);
        dev.write(reg::DRIVER_FEATURES, if version >= 2 { f1 & 1 } else { 0 });
        if version >= 2 {
            dev.write(reg::STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
            if dev.read(reg::STATUS) & S_FEATURES_OK == 0 {
                return Err("virtio-9p refused our features");
            }
        }
        dev.write(reg::QUEUE_SEL, 0);
        let max = dev.read(reg::QUEUE_NUM_MAX);
        if max < QSIZE as u32 {
            return Err("virtio-9p queue too small");
        }
        let rings = RingLayout::new(QSIZE as usize);
        let used_off = rings.used_off;
        let queue = dma_alloc(rings.bytes);
        dev.set_queue(version, QSIZE, queue as u64, rings);
        let status = if version >= 2 {
            S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK
        } else {
            S_ACK | S_DRIVER | S_DRIVER_OK
        };
        dev.write(reg::STATUS, status);
        Ok(Virtio9p {
            dev,
            queue,
            used_off,
            avail_idx: 0,
            last_used: 0,
            req: dma_alloc(cap),
            resp: dma_alloc(cap),
            cap,
        })
    }
}

impl Transport for Virtio9p {
    fn rpc(&mut self, req: &[u8], resp: &mut [u8]) -> Result<usize, Errno> {
        let rlen = resp.len().min(self.cap);
        if req.len() > self.cap {
            return Err(errno::INVAL);
        }
        let n = QSIZE as usize;
        // SAFETY: `req`/`resp`/`queue` are our own DMA buffers of the sizes allocated in
        // `init` (the request fits, checked above); the device only touches them between
        // the notify below and the used-ring update we wait for, and we do not touch them
        // meanwhile except to poll the used index (volatile).
        unsafe {
            core::ptr::copy_nonoverlapping(req.as_ptr(), self.req, req.len());
            let desc = self.queue as *mut Desc;
            write_volatile(
                desc,
                Desc {
                    addr: self.req as u64,
                    len: req.len() as u32,
                    flags: DESC_NEXT,
                    next: 1,
                },
            );
            write_volatile(
                desc.add(1),
                Desc {
                    addr: self.resp as u64,
                    len: rlen as u32,
                    flags: DESC_WRITE,
                    next: 0,
                },
            );
            let avail = self.queue.add(16 * n) as *mut u16;
            let slot = (self.avail_idx % QSIZE) as usize;
            write_volatile(avail.add(2 + slot), 0);
            fence(Ordering::SeqCst);
            self.avail_idx = self.avail_idx.wrapping_add(1);
            write_volatile(avail.add(1), self.avail_idx);
            fence(Ordering::SeqCst);
        }
        self.dev.write(reg::QUEUE_NOTIFY, 0);
        let used = self.queue.wrapping_add(self.used_off) as *const u16;
        let mut spins: u64 = 0;
        loop {
            // SAFETY: the used ring's index field, in our queue memory, written by the
            // device.
            let idx = unsafe { read_volatile(used.add(1)) };
            if idx != self.last_used {
                break;
            }
            spins += 1;
            if spins > 20_000_000_000 {
                return Err(errno::IO);
            }
            core::hint::spin_loop();
        }
        fence(Ordering::SeqCst);
        let slot = (self.last_used % QSIZE) as usize;
        self.last_used = self.last_used.wrapping_add(1);
        // SAFETY: used ring element `slot` (id u32, len u32) after the 4-byte header.
        let len = unsafe { read_volatile((used as *const u32).add(1 + 2 * slot + 1)) } as usize;
        let ack = self.dev.read(reg::INTERRUPT_STATUS);
        self.dev.write(reg::INTERRUPT_ACK, ack);
        let len = len.min(rlen);
        // SAFETY: the device wrote `len` <= `rlen` bytes into our response buffer.
        unsafe { core::ptr::copy_nonoverlapping(self.resp, resp.as_mut_ptr(), len) };
        Ok(len)
    }
}

/// Parse `virtio_mmio.device=<size>@<addr>:<irq>` tokens: the base addresses.
pub fn mmio_bases(cmdline: &[u8]) -> Vec<u64> {
    mmio_devices(cmdline).into_iter().map(|(a, _)| a).collect()
}

/// Parse `virtio_mmio.device=<size>@<addr>:<irq>` tokens: each window's base address and
/// interrupt (the GSI its IOAPIC pin has), when given (see [`crate::cmdline::virtio_mmio`]).
pub fn mmio_devices(cmdline: &[u8]) -> Vec<(u64, Option<u32>)> {
    crate::cmdline::virtio_mmio(cmdline)
}
