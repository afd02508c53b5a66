//! The executable's C `main` (only with the `executable` feature: the staticlib the runner
//! links with a compiled module and the image manifest): reads `argv`, the manifest and the
//! markers around the compiled code, and hands them to [`crate::run`].

use hako_abi::script::ImageManifest;
use hako_kernel::image::Trusted;
use hako_kernel::script;
use std::ffi::{c_char, c_int, CStr};

extern "C" {
    /// The manifest the runner generated (`hako_abi::script::MANIFEST_SYMBOL`).
    static hako_image_manifest: ImageManifest;
    /// Markers the runner links right before and after the compiled objects.
    static hako_wasm_code_start: u8;
    static hako_wasm_code_end: u8;
}

#[no_mangle]
extern "C" fn main(argc: c_int, argv: *const *const c_char) -> c_int {
    let args = (0..argc.max(0) as usize)
        .map(|i| {
            // SAFETY: the C runtime passes `argc` valid NUL-terminated strings in `argv`.
            unsafe { CStr::from_ptr(*argv.add(i)) }.to_bytes().to_vec()
        })
        .collect::<Vec<_>>();
    // SAFETY: the runner links a constant manifest into every executable; reading its
    // fixed-size header is sound even when the magic is wrong.
    let m = unsafe { &*core::ptr::addr_of!(hako_image_manifest) };
    let kind = match script::check_manifest(m) {
        Ok(kind) => kind,
        Err(e) => crate::fatal(format_args!("{e}")),
    };
    // SAFETY: a manifest whose magic and ABI version check out was made by the runner: its
    // module table and script, and the descriptors they point to, are constant data the
    // compiler and the runner linked into this executable.
    let manifest = unsafe { Trusted::new(m) };
    let code = core::ptr::addr_of!(hako_wasm_code_start) as usize
        ..core::ptr::addr_of!(hako_wasm_code_end) as usize;
    crate::run(&args, manifest, kind, code)
}
