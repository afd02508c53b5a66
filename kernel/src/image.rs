//! Trusted views of the data the compiler emitted into the image: module descriptors and
//! prebuilt instances ([`hako_abi::module`]). Their arrays are [`Slice`]s, raw pointer and
//! length, whose fields anyone can set; here the only way to read one is through a
//! [`Trusted`] value, which is created by an `unsafe` promise that everything reachable
//! from it is valid constant data, and whose accessors name the fields they read. So the
//! store can walk descriptors in safe code, and a `Slice` from anywhere else cannot be
//! turned into a slice by mistake.

use crate::vmdata::GlobalSlot;
use core::ops::Deref;
use hako_abi::module::{
    ConstExpr, ConstOp, DataInit, DataSegment, ElementSegment, Export, FuncType, FunctionDesc,
    GlobalDesc, Import, MemoryType, ModuleDescriptor, Prebuilt, Slice, TableType,
};
use hako_abi::script::ImageManifest;
use hako_abi::vm::{FuncRef, MemoryDef, TableDef};

/// A reference to compiler-emitted data whose `Slice`s and pointers may be followed.
#[derive(Debug)]
pub struct Trusted<T: 'static>(&'static T);

impl<T> Clone for Trusted<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Trusted<T> {}

impl<T> Deref for Trusted<T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.0
    }
}

impl<T> Trusted<T> {
    /// Trust `value`.
    ///
    /// # Safety
    ///
    /// Every [`Slice`] reachable from `value` through the accessors of this module points to
    /// `len` initialised elements that stay valid and unchanged for the rest of the program,
    /// as the compiler's descriptors and prebuilt instances in the image do; so does every
    /// non-null pointer to such data (a manifest's modules, a descriptor's prebuilt
    /// instance). A [`Prebuilt`]'s instance context and slot arrays are writable, private
    /// to it, and hold no Rust references; its global pointers point to slots that live as
    /// long as the kernel.
    pub unsafe fn new(value: &'static T) -> Self {
        Trusted(value)
    }

    /// The plain reference (its `Slice`s are inert without `unsafe`).
    pub fn get(self) -> &'static T {
        self.0
    }
}

/// The elements of a trusted [`Slice`]; each element is trusted in turn.
#[derive(Debug)]
pub struct Items<T: 'static>(&'static [T]);

impl<T> Clone for Items<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Items<T> {}

impl<T> Items<T> {
    /// Follow `s`, part of trusted data.
    fn of(s: &'static Slice<T>) -> Self {
        // SAFETY: `s` is reached from a `Trusted` value, whose creator promised that its
        // `Slice`s point to valid constant data (see `Trusted::new`).
        Items(unsafe { s.as_slice() })
    }
    pub fn len(self) -> usize {
        self.0.len()
    }
    pub fn is_empty(self) -> bool {
        self.0.is_empty()
    }
    /// Element `i`, trusted.
    pub fn get(self, i: usize) -> Option<Trusted<T>> {
        self.0.get(i).map(Trusted)
    }
    /// The elements, trusted.
    pub fn iter(self) -> impl ExactSizeIterator<Item = Trusted<T>> + Clone {
        self.0.iter().map(Trusted)
    }
    /// The elements as plain data (their own `Slice`s, if any, are inert without `unsafe`).
    pub fn as_slice(self) -> &'static [T] {
        self.0
    }
}

impl<T> Trusted<Slice<T>> {
    /// The elements of a trusted `Slice` (a constant expression, an element item list).
    pub fn items(self) -> Items<T> {
        Items::of(self.0)
    }
}

/// Accessors for the `Slice` fields of trusted descriptor types.
macro_rules! slices {
    ($($t:ty { $($field:ident: $elem:ty),* $(,)? })*) => {$(
        impl Trusted<$t> {
            $(
                #[doc = concat!("The `", stringify!($field), "` array.")]
                pub fn $field(self) -> Items<$elem> {
                    Items::of(&self.0.$field)
                }
            )*
        }
    )*};
}

slices! {
    ModuleDescriptor {
        types: FuncType,
        imports: Import,
        functions: FunctionDesc,
        tables: TableType,
        memories: MemoryType,
        globals: GlobalDesc,
        exports: Export,
        data: DataSegment,
        elements: ElementSegment,
        table_inits: ConstExpr,
        tags: u32,
        name: u8,
        type_defs: u32,
    }
    FuncType { params: u8, results: u8 }
    Import { module: u8, name: u8 }
    Export { name: u8 }
    DataSegment { bytes: u8 }
    ElementSegment { items: ConstExpr }
    DataInit { bytes: u8 }
    Prebuilt { funcs: FuncRef, type_ids: u32, table_inits: Slice<*const u8>, data_inits: DataInit }
    ImageManifest { script: u8 }
}

impl Trusted<GlobalDesc> {
    /// The initialiser.
    pub fn init(self) -> Items<ConstOp> {
        Items::of(&self.0.init)
    }
}

impl Trusted<DataSegment> {
    /// The offset expression of an active segment.
    pub fn offset(self) -> Items<ConstOp> {
        Items::of(&self.0.offset)
    }
}

impl Trusted<ElementSegment> {
    /// The offset expression of an active segment.
    pub fn offset(self) -> Items<ConstOp> {
        Items::of(&self.0.offset)
    }
}

impl Trusted<ModuleDescriptor> {
    /// The instance the compiler laid out ahead of time, if any.
    pub fn prebuilt(self) -> Option<Trusted<Prebuilt>> {
        // SAFETY: a non-null `prebuilt` of trusted descriptor points to trusted data (see
        // `Trusted::new`).
        unsafe { self.0.prebuilt.as_ref() }.map(Trusted)
    }
}

impl Trusted<ImageManifest> {
    /// Module `i` of the manifest's module table (`None` when out of range or null).
    pub fn module(self, i: u32) -> Option<Trusted<ModuleDescriptor>> {
        let p = *Items::of(&self.0.modules).as_slice().get(i as usize)?;
        // SAFETY: the module table of a trusted manifest holds null or pointers to trusted
        // descriptors (see `Trusted::new`).
        unsafe { p.as_ref() }.map(Trusted)
    }
}

impl Trusted<Prebuilt> {
    /// The global slots.
    pub fn globals(self) -> &'static [GlobalSlot] {
        let slots = Items::of(&self.0.globals).as_slice();
        // SAFETY: a trusted prebuilt instance's global pointers point to slots that live as
        // long as the kernel and that no Rust reference points to (see `Trusted::new`).
        unsafe { GlobalSlot::from_raw(slots) }
    }

    /// Point memory slot `i` (and `memory0`, for memory 0) at `def`. Out-of-range slots are
    /// ignored (the store checks the counts first).
    pub fn link_memory(self, i: usize, def: *mut MemoryDef) {
        if write_slot(&self.0.memory_slots, i, def) && i == 0 {
            // SAFETY: a trusted prebuilt instance's context is writable, private to it and
            // referenced by nothing in Rust (see `Trusted::new`); the kernel is
            // single-threaded, so nothing reads it while it is written.
            unsafe { (*self.0.vmctx).memory0 = def };
        }
    }

    /// Point table slot `i` at `def`, as above.
    pub fn link_table(self, i: usize, def: *mut TableDef) {
        write_slot(&self.0.table_slots, i, def);
    }
}

/// Write `p` into slot `i` of a trusted prebuilt instance's slot array; false when out of
/// range.
fn write_slot<T>(slots: &Slice<*mut T>, i: usize, p: *mut T) -> bool {
    if i as u64 >= slots.len {
        return false;
    }
    // SAFETY: a trusted prebuilt instance's slot arrays are writable arrays of `len`
    // pointers, private to it and referenced by nothing in Rust (see `Trusted::new`); the
    // kernel is single-threaded.
    unsafe { (slots.ptr as *mut *mut T).add(i).write(p) };
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::boxed::Box;
    use alloc::vec;
    use alloc::vec::Vec;
    use hako_abi::vm::{ValRaw, VmContext};

    fn leak<T: 'static>(v: Vec<T>) -> Slice<T> {
        let s: &'static [T] = Vec::leak(v);
        Slice {
            ptr: s.as_ptr(),
            len: s.len() as u64,
        }
    }

    #[test]
    fn a_prebuilt_instance_is_linked_into_its_slots() {
        let vmctx: *mut VmContext = Box::leak(Box::new(VmContext {
            memory0: core::ptr::null_mut(),
            memories: core::ptr::null(),
            tables: core::ptr::null(),
            globals: core::ptr::null(),
            funcs: core::ptr::null(),
            type_ids: core::ptr::null(),
            instance: core::ptr::null_mut(),
            tags: core::ptr::null(),
        }));
        let global: *mut ValRaw = Box::leak(Box::new(ValRaw::from_u32(9)));
        let pre: &'static Prebuilt = Box::leak(Box::new(Prebuilt {
            vmctx,
            funcs: Slice::EMPTY,
            type_ids: Slice::EMPTY,
            globals: leak(vec![global]),
            memory_slots: leak(vec![core::ptr::null_mut(); 2]),
            table_slots: leak(vec![core::ptr::null_mut(); 1]),
            table_inits: Slice::EMPTY,
            data_inits: Slice::EMPTY,
        }));
        // SAFETY: every array is a leaked vector, the context and slot a leaked box.
        let pre = unsafe { Trusted::new(pre) };
        let (m0, m1) = (0x10 as *mut MemoryDef, 0x20 as *mut MemoryDef);
        pre.link_memory(1, m1);
        pre.link_memory(0, m0);
        pre.link_memory(2, m1); // out of range: ignored
        pre.link_table(0, 0x30 as *mut TableDef);
        // SAFETY: reading back the leaked arrays and context written above.
        unsafe {
            assert_eq!(pre.memory_slots.as_slice(), [m0, m1]);
            assert_eq!(pre.table_slots.as_slice(), [0x30 as *mut TableDef]);
            assert_eq!((*vmctx).memory0, m0);
        }
        assert_eq!(pre.globals()[0].read().u32(), 9);
    }

    #[test]
    fn manifest_modules_out_of_range_or_null_are_none() {
        let d: &'static ModuleDescriptor = Box::leak(Box::new(ModuleDescriptor {
            abi_version: hako_abi::ABI_VERSION,
            start: 0,
            types: Slice::EMPTY,
            imports: Slice::EMPTY,
            functions: Slice::EMPTY,
            tables: Slice::EMPTY,
            memories: Slice::EMPTY,
            globals: Slice::EMPTY,
            exports: Slice::EMPTY,
            data: Slice::EMPTY,
            elements: Slice::EMPTY,
            table_inits: Slice::EMPTY,
            tags: Slice::EMPTY,
            name: leak(b"m".to_vec()),
            prebuilt: core::ptr::null(),
            convention: hako_abi::module::convention::C,
            _pad: 0,
            type_defs: Slice::EMPTY,
        }));
        let m: &'static ImageManifest = Box::leak(Box::new(ImageManifest {
            magic: 0,
            abi_version: 0,
            kind: 0,
            _pad: 0,
            modules: leak(vec![d as *const ModuleDescriptor, core::ptr::null()]),
            script: leak(b"s".to_vec()),
        }));
        // SAFETY: the manifest's arrays are leaked vectors, its module a leaked descriptor.
        let m = unsafe { Trusted::new(m) };
        assert_eq!(m.module(0).unwrap().name().as_slice(), b"m");
        assert!(m.module(0).unwrap().prebuilt().is_none());
        assert!(m.module(1).is_none(), "null");
        assert!(m.module(2).is_none(), "out of range");
        assert_eq!(m.script().as_slice(), b"s");
        assert!(m.module(0).unwrap().types().is_empty());
    }
}
