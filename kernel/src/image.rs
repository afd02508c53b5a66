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
        name: u8,
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
