//! Wasm exceptions at run time: the exception objects (`hako_exn_alloc`, `hako_exn_free`)
//! and the personality routine of compiled code (`hako_personality`).
//!
//! Compiled code raises an exception with the unwinder's `_Unwind_RaiseException` (the
//! Linux target links LLVM's libunwind, the unikernel the `unwinding` crate); the unwinder
//! calls the personality routine of each compiled frame that has landing pads. Every
//! landing pad the compiler emits catches every Wasm exception (`catch ptr null`) and
//! dispatches on the tag itself, so the personality only has to find, in the frame's LSDA
//! call-site table, whether the frame's instruction pointer lies in a range with a landing
//! pad. Exceptions of other classes (none exist: no other language runs here) are never
//! caught. Traps never meet the unwinder: they leave through the platform's longjmp.

use alloc::alloc::{alloc_zeroed, dealloc, handle_alloc_error, Layout};
use core::ffi::c_void;
use hako_abi::vm::{ExceptionHeader, EXCEPTION_CLASS, EXN_VALUES_OFFSET};

/// `_Unwind_Reason_Code` values.
const URC_FATAL_PHASE1_ERROR: i32 = 3;
const URC_HANDLER_FOUND: i32 = 6;
const URC_INSTALL_CONTEXT: i32 = 7;
const URC_CONTINUE_UNWIND: i32 = 8;
/// `_Unwind_Action`: the search phase.
const UA_SEARCH_PHASE: i32 = 1;

/// DWARF registers of the landing pad's `{ ptr, i32 }` on x86-64: `rax` and `rdx`.
const DATA_REG_0: i32 = 0;
const DATA_REG_1: i32 = 1;

extern "C" {
    fn _Unwind_GetLanguageSpecificData(ctx: *mut c_void) -> *const u8;
    fn _Unwind_GetIP(ctx: *mut c_void) -> usize;
    fn _Unwind_GetRegionStart(ctx: *mut c_void) -> usize;
    fn _Unwind_SetGR(ctx: *mut c_void, reg: i32, value: usize);
    fn _Unwind_SetIP(ctx: *mut c_void, value: usize);
}

fn layout(len: u32) -> Layout {
    let size = EXN_VALUES_OFFSET + 16 * len as usize;
    Layout::from_size_align(size, 16).unwrap_or_else(|_| Layout::new::<ExceptionHeader>())
}

/// A new exception of tag `tag` with room for `len` payload slots, zeroed.
pub fn alloc(tag: *const u8, len: u32) -> *mut ExceptionHeader {
    let layout = layout(len);
    // SAFETY: the layout has a nonzero size (the header).
    let p = unsafe { alloc_zeroed(layout) }.cast::<ExceptionHeader>();
    if p.is_null() {
        handle_alloc_error(layout);
    }
    // SAFETY: `p` is a fresh, zeroed, suitably aligned allocation of at least a header.
    unsafe {
        (*p).unwind[0] = EXCEPTION_CLASS;
        (*p).tag = tag.cast();
        (*p).len = len;
    }
    p
}

/// Frees exception `exn` unless an `exnref` may still name it; whether it was freed.
///
/// # Safety
///
/// `exn` is null or an exception [`alloc`] made and nothing freed yet.
pub unsafe fn free(exn: *mut ExceptionHeader) -> bool {
    if exn.is_null() {
        return false;
    }
    // SAFETY: see the function's contract.
    unsafe {
        if (*exn).captured == 0 {
            dealloc(exn.cast(), layout((*exn).len));
            return true;
        }
    }
    false
}

/// Calls `f` with every word of exception `exn`'s payload: a GC reference it carries is one
/// of them, so a collection keeps what a live exception refers to (conservatively, as the
/// Wasm stack's words: the payload's types are not looked up).
///
/// # Safety
///
/// `exn` is an exception [`alloc`] made and not freed.
pub unsafe fn payload_words(exn: *const ExceptionHeader, f: &mut dyn FnMut(u64)) {
    // SAFETY: see the function's contract: the header is readable, and `len` slots of 16
    // bytes follow it (`layout`).
    unsafe {
        let len = (*exn).len as usize;
        let values = exn.cast::<u8>().add(EXN_VALUES_OFFSET).cast::<u64>();
        for i in 0..2 * len {
            f(values.add(i).read());
        }
    }
}

/// A cursor over the LSDA's bytes.
struct Reader(*const u8);

impl Reader {
    /// # Safety
    ///
    /// The LSDA the cursor is in continues for at least one more byte.
    unsafe fn u8(&mut self) -> u8 {
        // SAFETY: see the function's contract.
        unsafe {
            let b = *self.0;
            self.0 = self.0.add(1);
            b
        }
    }

    /// # Safety
    ///
    /// As [`Reader::u8`], for every byte of the number.
    unsafe fn uleb128(&mut self) -> u64 {
        let (mut v, mut shift) = (0u64, 0u32);
        loop {
            // SAFETY: see the function's contract.
            let b = unsafe { self.u8() };
            if shift < 64 {
                v |= u64::from(b & 0x7f) << shift;
            }
            shift += 7;
            if b & 0x80 == 0 {
                return v;
            }
        }
    }

    /// A value in DWARF pointer encoding `enc` (only the formats, which is all the
    /// call-site table uses; `None` for one this does not know).
    ///
    /// # Safety
    ///
    /// As [`Reader::u8`], for every byte of the value.
    unsafe fn encoded(&mut self, enc: u8) -> Option<u64> {
        let mut bytes = |n: usize| {
            let mut v = [0u8; 8];
            for b in v.iter_mut().take(n) {
                // SAFETY: see the function's contract.
                *b = unsafe { self.u8() };
            }
            u64::from_le_bytes(v)
        };
        Some(match enc & 0x0f {
            0x00 | 0x04 | 0x0c => bytes(8),
            // SAFETY: see the function's contract.
            0x01 => unsafe { self.uleb128() },
            0x02 => bytes(2),
            0x03 => bytes(4),
            0x0a => bytes(2) as i16 as i64 as u64,
            0x0b => bytes(4) as i32 as i64 as u64,
            _ => return None,
        })
    }
}

/// The landing pad of the call site containing `ip` in the function starting at `start`,
/// from its LSDA.
///
/// # Safety
///
/// `lsda` is the LSDA LLVM emitted for that function (a well-formed table).
unsafe fn landing_pad(lsda: *const u8, start: usize, ip: usize) -> Option<usize> {
    let mut r = Reader(lsda);
    // SAFETY: the header and call-site table are part of the LSDA (the contract).
    unsafe {
        let lpstart_enc = r.u8();
        let lpstart = match lpstart_enc {
            0xff => start as u64,
            enc => r.encoded(enc)?,
        };
        if r.u8() != 0xff {
            r.uleb128(); // type table offset: no type is ever matched here
        }
        let cs_enc = r.u8();
        let len = r.uleb128() as usize;
        let end = r.0.add(len);
        while r.0 < end {
            let cs_start = r.encoded(cs_enc)? as usize;
            let cs_len = r.encoded(cs_enc)? as usize;
            let cs_lp = r.encoded(cs_enc)? as usize;
            r.uleb128(); // action
            if ip < start + cs_start {
                return None;
            }
            if ip < start + cs_start + cs_len {
                return match cs_lp {
                    0 => None,
                    lp => Some(lpstart as usize + lp),
                };
            }
        }
    }
    None
}

/// The personality routine (`_Unwind_Personality_Fn`).
///
/// # Safety
///
/// Called by the unwinder only, with its own `ctx` and the exception it raises.
pub unsafe fn personality(
    version: i32,
    actions: i32,
    class: u64,
    exn: *mut c_void,
    ctx: *mut c_void,
) -> i32 {
    if version != 1 {
        return URC_FATAL_PHASE1_ERROR;
    }
    if class != EXCEPTION_CLASS {
        return URC_CONTINUE_UNWIND;
    }
    // SAFETY: `ctx` is the unwinder's context for a frame with this personality, whose
    // LSDA the compiler emitted.
    unsafe {
        let lsda = _Unwind_GetLanguageSpecificData(ctx);
        if lsda.is_null() {
            return URC_CONTINUE_UNWIND;
        }
        // The return address is after the call: the call itself is one byte before.
        let ip = _Unwind_GetIP(ctx).wrapping_sub(1);
        let start = _Unwind_GetRegionStart(ctx);
        let Some(lp) = landing_pad(lsda, start, ip) else {
            return URC_CONTINUE_UNWIND;
        };
        if actions & UA_SEARCH_PHASE != 0 {
            return URC_HANDLER_FOUND;
        }
        _Unwind_SetGR(ctx, DATA_REG_0, exn as usize);
        _Unwind_SetGR(ctx, DATA_REG_1, 0);
        _Unwind_SetIP(ctx, lp);
    }
    URC_INSTALL_CONTEXT
}
