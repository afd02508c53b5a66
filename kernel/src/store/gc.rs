//! The store's side of GC: allocation for compiled code and constant expressions, the
//! segment operations on arrays, subtype checks, and the roots the store holds (globals,
//! tables, element segments) for a collection.

use super::Store;
use crate::gc::is_object_ref;
use alloc::vec::Vec;
use hako_abi::constexpr::Alloc;
use hako_abi::gc::{def, storage_size, HEADER_SIZE};
use hako_abi::trap::TrapCode;
use hako_abi::valtype;
use hako_abi::vm::ValRaw;

/// The platform's conservative roots (`shims::Platform::scan_stack`): calls its argument
/// with every word of the running Wasm frames and registers.
pub type StackRoots<'a> = &'a mut dyn FnMut(&mut dyn FnMut(u64));

impl Store {
    /// Whether canonical type `a` is `b` or a declared subtype of it.
    pub fn gc_is_subtype(&self, a: u32, b: u32) -> bool {
        self.types.is_subtype(a, b)
    }

    /// A new zeroed object of canonical type `type_id`. `stack` gives the conservative roots
    /// of the frames running (the platform's Wasm stack and registers) when a collection
    /// is due first.
    pub fn gc_alloc(
        &mut self,
        type_id: u32,
        bytes: u64,
        len: u32,
        stack: StackRoots<'_>,
    ) -> Result<u64, TrapCode> {
        let array = self
            .types
            .info(type_id)
            .is_some_and(|t| t.kind == def::ARRAY);
        if self.gc.wants_collection(bytes) {
            self.collect(stack);
        }
        match self.gc.alloc(type_id, array, bytes, len) {
            Err(TrapCode::GcHeapExhausted) => {
                self.collect(stack);
                self.gc.alloc(type_id, array, bytes, len)
            }
            r => r,
        }
    }

    /// A collection, with the store's roots and the platform's conservative ones.
    pub fn collect(&mut self, stack: StackRoots<'_>) {
        let mut conservative = Vec::new();
        stack(&mut |w| {
            if w >= HEADER_SIZE {
                conservative.push(w)
            }
        });
        let roots = self.exact_roots();
        self.gc.collect(&self.types, roots, conservative);
    }

    /// Every reference the store holds outside the heap that may be a GC object.
    fn exact_roots(&self) -> Vec<u64> {
        let mut roots = Vec::new();
        let traced = |t: u32| matches!(t as u8, valtype::ANYREF | valtype::EXTERNREF);
        for t in &self.tables {
            if traced(t.elem_type) {
                roots.extend(
                    t.elems
                        .iter()
                        .map(|e| *e as u64)
                        .filter(|v| is_object_ref(*v)),
                );
            }
        }
        for inst in &self.instances {
            for g in inst.globals {
                let v = g.read().u64();
                if is_object_ref(v) {
                    roots.push(v);
                }
            }
            for seg in &inst.elems {
                roots.extend(seg.iter().map(|e| *e as u64).filter(|v| is_object_ref(*v)));
            }
        }
        roots
    }

    /// Allocation for a constant expression of instance-to-be with type ids `type_ids`
    /// (no collection: the evaluator's stack is not a root).
    pub(super) fn const_alloc(
        &mut self,
        type_ids: &[u32],
        type_index: u32,
        what: Alloc<'_>,
    ) -> Result<u64, TrapCode> {
        let id = *type_ids
            .get(type_index as usize)
            .ok_or(TrapCode::Unreachable)?;
        let info = self.types.info(id).ok_or(TrapCode::Unreachable)?.clone();
        match what {
            Alloc::Struct(fields) => {
                let addr = self.gc.alloc(id, false, info.size, 0)?;
                if let Some(fields) = fields {
                    for (i, v) in fields.iter().enumerate() {
                        let code = info.field_code(i).ok_or(TrapCode::Unreachable)?;
                        let off = info.offsets[i];
                        self.write_value(addr, off, code, *v)?;
                    }
                }
                Ok(addr)
            }
            Alloc::Array { value, len } => {
                let code = info.field_code(0).ok_or(TrapCode::Unreachable)?;
                let size = storage_size(code);
                let addr = self
                    .gc
                    .alloc(id, true, HEADER_SIZE + size * u64::from(len), len)?;
                if let Some(v) = value {
                    for i in 0..u64::from(len) {
                        self.write_value(addr, HEADER_SIZE + i * size, code, v)?;
                    }
                }
                Ok(addr)
            }
            Alloc::Fixed(values) => {
                let code = info.field_code(0).ok_or(TrapCode::Unreachable)?;
                let size = storage_size(code);
                let len = values.len() as u32;
                let addr = self
                    .gc
                    .alloc(id, true, HEADER_SIZE + size * u64::from(len), len)?;
                for (i, v) in values.iter().enumerate() {
                    self.write_value(addr, HEADER_SIZE + i as u64 * size, code, *v)?;
                }
                Ok(addr)
            }
        }
    }

    /// Writes `v` as storage type `code` at `offset` of object `addr`.
    fn write_value(&mut self, addr: u64, offset: u64, code: u8, v: ValRaw) -> Result<(), TrapCode> {
        let size = storage_size(code) as usize;
        let bytes = v.u128().to_le_bytes();
        self.gc
            .write(addr, offset, &bytes[..size])
            .ok_or(TrapCode::Unreachable)
    }

    /// The element code and size of array type `type_id`.
    fn array_elem(&self, type_id: u32) -> Result<(u8, u64), TrapCode> {
        let info = self.types.info(type_id).ok_or(TrapCode::Unreachable)?;
        let code = info.field_code(0).ok_or(TrapCode::Unreachable)?;
        Ok((code, storage_size(code)))
    }

    /// The bytes `[src, src + n)` of data segment `data` of instance `inst`.
    fn data_range(
        &self,
        inst: usize,
        data: u32,
        src: u64,
        n: u64,
    ) -> Result<&'static [u8], TrapCode> {
        let seg = self.instances[inst]
            .data
            .get(data as usize)
            .copied()
            .unwrap_or(&[]);
        let end = src.checked_add(n).ok_or(TrapCode::MemoryOutOfBounds)?;
        seg.get(src as usize..end as usize)
            .ok_or(TrapCode::MemoryOutOfBounds)
    }

    /// The references `[src, src + n)` of element segment `elem` of instance `inst`.
    fn elem_range(&self, inst: usize, elem: u32, src: u64, n: u64) -> Result<Vec<u64>, TrapCode> {
        let seg = self.instances[inst]
            .elems
            .get(elem as usize)
            .map_or(&[][..], |e| &e[..]);
        let end = src.checked_add(n).ok_or(TrapCode::TableOutOfBounds)?;
        Ok(seg
            .get(src as usize..end as usize)
            .ok_or(TrapCode::TableOutOfBounds)?
            .iter()
            .map(|p| *p as u64)
            .collect())
    }

    /// `array.new_data`.
    pub fn array_new_data(
        &mut self,
        inst: usize,
        type_id: u32,
        data: u32,
        src: u64,
        len: u64,
        stack: StackRoots<'_>,
    ) -> Result<u64, TrapCode> {
        let (_, size) = self.array_elem(type_id)?;
        let n = len.checked_mul(size).ok_or(TrapCode::MemoryOutOfBounds)?;
        let bytes = self.data_range(inst, data, src, n)?;
        let len32 = u32::try_from(len).map_err(|_| TrapCode::AllocationTooLarge)?;
        let addr = self.gc_alloc(type_id, HEADER_SIZE + n, len32, stack)?;
        self.gc
            .write(addr, HEADER_SIZE, bytes)
            .ok_or(TrapCode::Unreachable)?;
        Ok(addr)
    }

    /// `array.new_elem`.
    pub fn array_new_elem(
        &mut self,
        inst: usize,
        type_id: u32,
        elem: u32,
        src: u64,
        len: u64,
        stack: StackRoots<'_>,
    ) -> Result<u64, TrapCode> {
        let refs = self.elem_range(inst, elem, src, len)?;
        let len32 = u32::try_from(len).map_err(|_| TrapCode::AllocationTooLarge)?;
        let addr = self.gc_alloc(type_id, HEADER_SIZE + 8 * len, len32, stack)?;
        for (i, r) in refs.iter().enumerate() {
            self.gc
                .write(addr, HEADER_SIZE + 8 * i as u64, &r.to_le_bytes())
                .ok_or(TrapCode::Unreachable)?;
        }
        Ok(addr)
    }

    /// The length and element size of array `addr`, checking `[dst, dst + n)` is in it.
    fn array_range(&self, addr: u64, dst: u64, n: u64) -> Result<u64, TrapCode> {
        let (type_id, _) = self.gc.header(addr).ok_or(TrapCode::Unreachable)?;
        let (_, size) = self.array_elem(type_id)?;
        let o = self.gc.object(addr).ok_or(TrapCode::Unreachable)?;
        let len = o[1] as u32 as u64;
        if dst.checked_add(n).is_none_or(|end| end > len) {
            return Err(TrapCode::ArrayOutOfBounds);
        }
        Ok(size)
    }

    /// `array.init_data` on array `addr`.
    pub fn array_init_data(
        &mut self,
        inst: usize,
        addr: u64,
        data: u32,
        dst: u64,
        src: u64,
        n: u64,
    ) -> Result<(), TrapCode> {
        let size = self.array_range(addr, dst, n)?;
        let bytes = self.data_range(inst, data, src, n * size)?;
        self.gc
            .write(addr, HEADER_SIZE + dst * size, bytes)
            .ok_or(TrapCode::Unreachable)
    }

    /// `array.init_elem` on array `addr`.
    pub fn array_init_elem(
        &mut self,
        inst: usize,
        addr: u64,
        elem: u32,
        dst: u64,
        src: u64,
        n: u64,
    ) -> Result<(), TrapCode> {
        self.array_range(addr, dst, n)?;
        let refs = self.elem_range(inst, elem, src, n)?;
        for (i, r) in refs.iter().enumerate() {
            self.gc
                .write(addr, HEADER_SIZE + 8 * (dst + i as u64), &r.to_le_bytes())
                .ok_or(TrapCode::Unreachable)?;
        }
        Ok(())
    }

    /// The kind of an `anyref` value for a script's result line: `i31ref`, `structref`,
    /// `arrayref`, or `anyref` (a host reference, or null).
    pub fn any_kind(&self, bits: u64) -> u8 {
        if bits & hako_abi::gc::I31_TAG != 0 {
            return valtype::I31REF;
        }
        match self.gc.header(bits) {
            Some((_, true)) => valtype::ARRAYREF,
            Some((_, false)) => valtype::STRUCTREF,
            None => valtype::ANYREF,
        }
    }
}
