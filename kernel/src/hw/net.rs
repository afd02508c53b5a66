//! The virtio-net driver (virtio-mmio, legacy or modern) as a smoltcp
//! [`smoltcp::phy::Device`]: a receive queue with [`RX_BUFFERS`] buffers of [`BUFFER`]
//! bytes posted in advance and posted again as soon as a frame was taken out, and a
//! transmit queue of [`TX_BUFFERS`] buffers. Only `VIRTIO_NET_F_MAC` (and `VERSION_1` on a
//! modern device) is negotiated, so every frame is one buffer after a `virtio_net_hdr` of
//! 10 bytes (legacy) or 12 (`VERSION_1`, which always has `num_buffers`), all zero on
//! transmit (no offloads).
//!
//! The device interrupts when it has used a receive buffer (transmit interrupts are
//! suppressed); the interrupt only wakes the CPU from `super::irq::halt_until`, whose
//! handler acknowledges it at the device. The driver itself polls the used rings.

use super::virtio::{dma_alloc, reg, Desc, Mmio, RingLayout, DESC_WRITE};
use super::virtio::{S_ACK, S_DRIVER, S_DRIVER_OK, S_FEATURES_OK};
use core::ptr::{read_volatile, write_volatile};
use core::sync::atomic::{fence, Ordering};
use smoltcp::phy::{self, DeviceCapabilities, Medium};
use smoltcp::time::Instant;

/// virtio device id of a network card.
pub const DEVICE_NET: u32 = 1;
/// Receive buffers posted.
pub const RX_BUFFERS: u16 = 64;
/// Transmit buffers.
pub const TX_BUFFERS: u16 = 32;
/// Bytes per buffer: a header and an Ethernet frame of up to 1514 bytes.
pub const BUFFER: usize = 2048;
/// The largest Ethernet frame (without FCS) we send or take.
const MTU: usize = 1514;

const F_MAC: u32 = 1 << 5;
/// `VIRTIO_F_VERSION_1`, bit 32: bit 0 of the second feature word.
const F_VERSION_1_HIGH: u32 = 1;
/// `VIRTQ_AVAIL_F_NO_INTERRUPT`.
const AVAIL_NO_INTERRUPT: u16 = 1;

/// One split virtqueue whose descriptor `i` always points at buffer `i`.
struct Queue {
    dev: Mmio,
    index: u32,
    size: u16,
    /// Descriptors at 0, available ring at `16 * size`, used ring at `used_off`.
    mem: *mut u8,
    used_off: usize,
    bufs: *mut u8,
    avail_idx: u16,
    last_used: u16,
}

impl Queue {
    /// Set up queue `index` with `size` buffers; device-writable buffers for receiving.
    fn new(
        dev: &Mmio,
        version: u32,
        index: u32,
        size: u16,
        writable: bool,
    ) -> Result<Queue, &'static str> {
        dev.write(reg::QUEUE_SEL, index);
        if dev.read(reg::QUEUE_NUM_MAX) < u32::from(size) {
            return Err("virtio-net queue too small");
        }
        let n = usize::from(size);
        let rings = RingLayout::new(n);
        let used_off = rings.used_off;
        let mem = dma_alloc(rings.bytes);
        let bufs = dma_alloc(n * BUFFER);
        for i in 0..n {
            let d = Desc {
                addr: bufs as u64 + (i * BUFFER) as u64,
                len: BUFFER as u32,
                flags: if writable { DESC_WRITE } else { 0 },
                next: 0,
            };
            // SAFETY: descriptor `i` of the table at the start of our queue memory, which
            // the device does not use before the queue is enabled below.
            unsafe { write_volatile((mem as *mut Desc).add(i), d) };
        }
        dev.set_queue(version, size, mem as u64, rings);
        Ok(Queue {
            dev: dev.clone(),
            index,
            size,
            mem,
            used_off,
            bufs,
            avail_idx: 0,
            last_used: 0,
        })
    }

    fn avail(&self) -> *mut u16 {
        self.mem.wrapping_add(16 * usize::from(self.size)) as *mut u16
    }

    fn set_avail_flags(&mut self, flags: u16) {
        // SAFETY: the available ring's flags field, in our queue memory.
        unsafe { write_volatile(self.avail(), flags) };
    }

    /// Hand buffer `id` to the device with `len` bytes (its size, for a receive buffer).
    fn post(&mut self, id: u16, len: usize) {
        let n = usize::from(self.size);
        debug_assert!(usize::from(id) < n && len <= BUFFER);
        let avail = self.avail();
        // SAFETY: descriptor `id` and the available ring live in our queue memory; the
        // descriptor's buffer is ours until the device takes it with the index update,
        // after the fences.
        unsafe {
            let desc = (self.mem as *mut Desc).add(usize::from(id));
            write_volatile(core::ptr::addr_of_mut!((*desc).len), len as u32);
            let slot = usize::from(self.avail_idx % self.size);
            write_volatile(avail.add(2 + slot), id);
            fence(Ordering::SeqCst);
            self.avail_idx = self.avail_idx.wrapping_add(1);
            write_volatile(avail.add(1), self.avail_idx);
            fence(Ordering::SeqCst);
        }
        self.dev.write(reg::QUEUE_NOTIFY, self.index);
    }

    /// Whether the device is done with a buffer not taken yet.
    fn has_used(&self) -> bool {
        let used = self.mem.wrapping_add(self.used_off) as *const u16;
        // SAFETY: the used ring's index, in our queue memory, written by the device.
        unsafe { read_volatile(used.add(1)) != self.last_used }
    }

    /// The next buffer the device is done with: its id and the bytes it wrote.
    fn take_used(&mut self) -> Option<(u16, usize)> {
        let used = self.mem.wrapping_add(self.used_off) as *const u16;
        // SAFETY: the used ring's index, in our queue memory, written by the device.
        let idx = unsafe { read_volatile(used.add(1)) };
        if idx == self.last_used {
            return None;
        }
        fence(Ordering::SeqCst);
        let slot = usize::from(self.last_used % self.size);
        self.last_used = self.last_used.wrapping_add(1);
        // SAFETY: used ring element `slot` (id u32, len u32) after the 4-byte header.
        let (id, len) = unsafe {
            let e = (used as *const u32).add(1 + 2 * slot);
            (read_volatile(e), read_volatile(e.add(1)))
        };
        if id >= u32::from(self.size) {
            super::panic::fatal(format_args!(
                "virtio-net used a buffer id {id} it was never given"
            ));
        }
        Some((id as u16, (len as usize).min(BUFFER)))
    }

    /// Buffer `id`, which the device does not own now.
    fn buffer(&mut self, id: u16) -> &mut [u8] {
        // SAFETY: buffer `id` is `BUFFER` bytes of our DMA memory, allocated for this queue
        // and never freed; callers only ask for a buffer the device has handed back (or
        // never had), and the `&mut self` borrow keeps the slice unique.
        unsafe { core::slice::from_raw_parts_mut(self.bufs.add(usize::from(id) * BUFFER), BUFFER) }
    }
}

/// The receive side.
struct Rx {
    queue: Queue,
    hdr: usize,
}

/// The transmit side: buffers not in the device's hands.
struct Tx {
    queue: Queue,
    hdr: usize,
    free: alloc::vec::Vec<u16>,
}

impl Tx {
    fn reclaim(&mut self) {
        while let Some((id, _)) = self.queue.take_used() {
            self.free.push(id);
        }
    }
}

/// A virtio-net device, up and running.
pub struct VirtioNet {
    base: u64,
    mac: [u8; 6],
    rx: Rx,
    tx: Tx,
}

impl core::fmt::Debug for VirtioNet {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("VirtioNet")
            .field("base", &self.base)
            .field("mac", &self.mac)
            .finish_non_exhaustive()
    }
}

impl VirtioNet {
    /// Reset and initialise a virtio-net device.
    pub fn init(dev: Mmio) -> Result<VirtioNet, &'static str> {
        if dev.device_id() != DEVICE_NET {
            return Err("not a virtio-net device");
        }
        let version = dev.read(reg::VERSION);
        dev.write(reg::STATUS, 0);
        dev.write(reg::STATUS, S_ACK);
        dev.write(reg::STATUS, S_ACK | S_DRIVER);
        dev.write(reg::DEVICE_FEATURES_SEL, 0);
        let f0 = dev.read(reg::DEVICE_FEATURES) & F_MAC;
        dev.write(reg::DRIVER_FEATURES_SEL, 0);
        dev.write(reg::DRIVER_FEATURES, f0);
        dev.write(reg::DEVICE_FEATURES_SEL, 1);
        let f1 = if version >= 2 {
            dev.read(reg::DEVICE_FEATURES) & F_VERSION_1_HIGH
        } else {
            0
        };
        dev.write(reg::DRIVER_FEATURES_SEL, 1);
        dev.write(reg::DRIVER_FEATURES, f1);
        if version >= 2 {
            if f1 == 0 {
                return Err("modern virtio-net device without VERSION_1");
            }
            dev.write(reg::STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
            if dev.read(reg::STATUS) & S_FEATURES_OK == 0 {
                return Err("virtio-net refused our features");
            }
        }
        // The header: `num_buffers` is there with VERSION_1 (or MRG_RXBUF, not asked for).
        let hdr = if f1 != 0 { 12 } else { 10 };
        let mac = if f0 & F_MAC != 0 {
            core::array::from_fn(|i| dev.config_u8(i))
        } else {
            // A locally administered address of our own.
            [0x02, 0x68, 0x61, 0x6b, 0x6f, 0x01]
        };
        let mut rxq = Queue::new(&dev, version, 0, RX_BUFFERS, true)?;
        let mut txq = Queue::new(&dev, version, 1, TX_BUFFERS, false)?;
        txq.set_avail_flags(AVAIL_NO_INTERRUPT);
        let status = if version >= 2 {
            S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK
        } else {
            S_ACK | S_DRIVER | S_DRIVER_OK
        };
        dev.write(reg::STATUS, status);
        for id in 0..RX_BUFFERS {
            rxq.post(id, BUFFER);
        }
        Ok(VirtioNet {
            base: dev.base(),
            mac,
            rx: Rx { queue: rxq, hdr },
            tx: Tx {
                queue: txq,
                hdr,
                free: (0..TX_BUFFERS).rev().collect(),
            },
        })
    }

    /// The card's Ethernet address.
    pub fn mac(&self) -> [u8; 6] {
        self.mac
    }

    /// The physical address of the device's virtio-mmio window.
    pub fn base(&self) -> u64 {
        self.base
    }

    /// Whether the device has handed back a receive buffer (a frame) not taken yet.
    pub fn frames_pending(&self) -> bool {
        self.rx.queue.has_used()
    }
}

/// A received frame: the buffer goes back to the device once consumed.
pub struct RxToken<'a> {
    rx: &'a mut Rx,
    id: u16,
    len: usize,
}

/// Room for one frame to send (a free buffer is taken when the frame is written).
pub struct TxToken<'a> {
    tx: &'a mut Tx,
}

impl Drop for RxToken<'_> {
    fn drop(&mut self) {
        // Consumed or not, the buffer goes back to the device.
        self.rx.queue.post(self.id, BUFFER);
    }
}

impl phy::RxToken for RxToken<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        let hdr = self.rx.hdr;
        let len = self.len.max(hdr);
        let id = self.id;
        f(&self.rx.queue.buffer(id)[hdr..len])
    }
}

impl phy::TxToken for TxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let hdr = self.tx.hdr;
        let len = len.min(BUFFER - hdr);
        // `receive` and `transmit` hand out a token only when a buffer is free, and nothing
        // else takes one in between; if the device still holds them all, the frame is
        // written into a scratch buffer and dropped (as a full queue would).
        self.tx.reclaim();
        let Some(id) = self.tx.free.pop() else {
            let mut scratch = [0u8; BUFFER];
            return f(&mut scratch[..len]);
        };
        let buf = self.tx.queue.buffer(id);
        buf[..hdr].fill(0);
        let r = f(&mut buf[hdr..hdr + len]);
        self.tx.queue.post(id, hdr + len);
        r
    }
}

impl phy::Device for VirtioNet {
    type RxToken<'a> = RxToken<'a>;
    type TxToken<'a> = TxToken<'a>;

    fn receive(&mut self, _: Instant) -> Option<(RxToken<'_>, TxToken<'_>)> {
        self.tx.reclaim();
        if self.tx.free.is_empty() {
            return None;
        }
        let (id, len) = self.rx.queue.take_used()?;
        Some((
            RxToken {
                rx: &mut self.rx,
                id,
                len,
            },
            TxToken { tx: &mut self.tx },
        ))
    }

    fn transmit(&mut self, _: Instant) -> Option<TxToken<'_>> {
        self.tx.reclaim();
        if self.tx.free.is_empty() {
            return None;
        }
        Some(TxToken { tx: &mut self.tx })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = MTU;
        caps.max_burst_size = Some(usize::from(TX_BUFFERS));
        caps
    }
}
