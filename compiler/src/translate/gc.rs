//! GC instructions: `i31`, structs, arrays, casts and `ref.eq`, over the representation of
//! `hako_abi::gc` (an `i31` is `(v << 1) | 1`, a host reference has tag `2` in its low
//! three bits, a struct or array is the address of its 16-byte header). Objects are
//! allocated by the runtime (`hako_gc_alloc`), zeroed; fields are read and written here
//! directly.

use hako_abi::builtins;
use hako_abi::gc as abi_gc;
use hako_abi::trap::TrapCode;
use inkwell::types::BasicTypeEnum;
use inkwell::values::{BasicValueEnum, IntValue, PointerValue};
use inkwell::IntPredicate;
use wasmparser::{AbstractHeapType, HeapType, RefType, StorageType};

use super::{FuncTranslator, Signedness};
use crate::error::{internal, Result};
use crate::module::{fields, storage_code};

/// How a `*.get` extends a packed field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Extend {
    /// Not packed (or `_u`... for packed: zero).
    None,
    Signed,
    Unsigned,
}

impl<'c, 'ctx, 'a> FuncTranslator<'c, 'ctx, 'a> {
    fn storage_type(&self, t: StorageType) -> Result<BasicTypeEnum<'ctx>> {
        let cx = self.cx();
        Ok(match t {
            StorageType::I8 => cx.i8.into(),
            StorageType::I16 => cx.llcx.i16_type().into(),
            StorageType::Val(v) => cx.val_type(v)?,
        })
    }

    /// The fields of type `type_index` (an array's element as its one field).
    fn type_fields(&self, type_index: u32) -> Result<Vec<wasmparser::FieldType>> {
        let sub = self
            .cx()
            .info
            .sub_types
            .get(type_index as usize)
            .ok_or_else(|| internal("type index"))?;
        Ok(fields(sub))
    }

    /// The offsets of the fields of struct type `type_index` and the object's size.
    fn struct_layout(&self, type_index: u32) -> Result<(Vec<u64>, u64)> {
        let gc = &self.cx().info.gc_types;
        let codes = self
            .type_fields(type_index)?
            .iter()
            .map(|f| storage_code(f.element_type, gc))
            .collect::<Result<Vec<u8>>>()?;
        let mut offsets = Vec::with_capacity(codes.len());
        let size = abi_gc::struct_layout(codes.into_iter(), |o| offsets.push(o));
        Ok((offsets, size))
    }

    /// The element type of array type `type_index` and its size in bytes.
    fn array_elem(&self, type_index: u32) -> Result<(StorageType, u64)> {
        let f = *self
            .type_fields(type_index)?
            .first()
            .ok_or_else(|| internal("array type without element"))?;
        let code = storage_code(f.element_type, &self.cx().info.gc_types)?;
        Ok((f.element_type, abi_gc::storage_size(code)))
    }

    /// A value to store into a field of storage type `t` (packed: truncated).
    fn packed(&self, t: StorageType, v: BasicValueEnum<'ctx>) -> Result<BasicValueEnum<'ctx>> {
        let cx = self.cx();
        Ok(match t {
            StorageType::I8 => self
                .b()
                .build_int_truncate(v.into_int_value(), cx.i8, "")?
                .into(),
            StorageType::I16 => self
                .b()
                .build_int_truncate(v.into_int_value(), cx.llcx.i16_type(), "")?
                .into(),
            StorageType::Val(_) => v,
        })
    }

    /// A loaded field as its Wasm value (packed: extended to `i32`).
    fn unpacked(&self, v: BasicValueEnum<'ctx>, ext: Extend) -> Result<BasicValueEnum<'ctx>> {
        let i32 = self.cx().i32;
        Ok(match ext {
            Extend::None => v,
            Extend::Signed => self
                .b()
                .build_int_cast_sign_flag(
                    v.into_int_value(),
                    i32,
                    Signedness::Signed.is_signed(),
                    "",
                )?
                .into(),
            Extend::Unsigned => self
                .b()
                .build_int_z_extend(v.into_int_value(), i32, "")?
                .into(),
        })
    }

    fn traps_if_null(&mut self, r: PointerValue<'ctx>, code: TrapCode) -> Result<()> {
        let null = self.b().build_is_null(r, "")?;
        self.env.trap_if(null, code)
    }

    /// A new object of type `type_index`, zeroed: `bytes` in all, an array's `len`.
    fn gc_alloc(
        &mut self,
        type_index: u32,
        bytes: IntValue<'ctx>,
        len: IntValue<'ctx>,
    ) -> Result<PointerValue<'ctx>> {
        let id = self.env.canonical_type_id(type_index)?;
        let addr = self
            .env
            .call_builtin(builtins::GC_ALLOC, &[id.into(), bytes.into(), len.into()])?
            .ok_or_else(|| internal("gc_alloc without result"))?;
        Ok(self
            .b()
            .build_int_to_ptr(addr.into_int_value(), self.cx().ptr, "obj")?)
    }

    fn field_ptr(&self, obj: PointerValue<'ctx>, offset: u64) -> Result<PointerValue<'ctx>> {
        self.env.byte_offset(obj, offset)
    }

    // ---- i31 ----

    pub(super) fn ref_i31(&mut self) -> Result<()> {
        let cx = self.cx();
        let v = self.stack.pop_int()?;
        let w = self.b().build_int_z_extend(v, cx.i64, "")?;
        let w = self
            .b()
            .build_and(w, cx.i64.const_int(0x7fff_ffff, false), "")?;
        let w = self
            .b()
            .build_left_shift(w, cx.i64.const_int(1, false), "")?;
        let w = self
            .b()
            .build_or(w, cx.i64.const_int(abi_gc::I31_TAG, false), "")?;
        let p = self.b().build_int_to_ptr(w, cx.ptr, "i31")?;
        self.stack.push(p);
        Ok(())
    }

    pub(super) fn i31_get(&mut self, signed: bool) -> Result<()> {
        let cx = self.cx();
        let r = self.stack.pop_ptr()?;
        self.traps_if_null(r, TrapCode::NullI31)?;
        let w = self.b().build_ptr_to_int(r, cx.i64, "")?;
        let w = self.b().build_int_truncate(w, cx.i32, "")?;
        let v = self
            .b()
            .build_right_shift(w, cx.i32.const_int(1, false), signed, "")?;
        self.stack.push(v);
        Ok(())
    }

    // ---- structs ----

    pub(super) fn struct_new(&mut self, type_index: u32, default: bool) -> Result<()> {
        let (offsets, size) = self.struct_layout(type_index)?;
        let fields = self.type_fields(type_index)?;
        let values = match default {
            true => Vec::new(),
            false => self.stack.pop_n(fields.len())?,
        };
        let cx = self.cx();
        let obj = self.gc_alloc(
            type_index,
            cx.i64.const_int(size, false),
            cx.i32.const_zero(),
        )?;
        for ((f, off), v) in fields.iter().zip(&offsets).zip(values) {
            let p = self.field_ptr(obj, *off)?;
            let v = self.packed(f.element_type, v)?;
            self.b().build_store(p, v)?;
        }
        self.stack.push(obj);
        Ok(())
    }

    pub(super) fn struct_get(&mut self, type_index: u32, field: u32, ext: Extend) -> Result<()> {
        let (offsets, _) = self.struct_layout(type_index)?;
        let f = *self
            .type_fields(type_index)?
            .get(field as usize)
            .ok_or_else(|| internal("field index"))?;
        let r = self.stack.pop_ptr()?;
        self.traps_if_null(r, TrapCode::NullStructure)?;
        let p = self.field_ptr(r, offsets[field as usize])?;
        let ty = self.storage_type(f.element_type)?;
        let v = self.b().build_load(ty, p, "")?;
        let v = self.unpacked(v, ext)?;
        self.stack.push(v);
        Ok(())
    }

    pub(super) fn struct_set(&mut self, type_index: u32, field: u32) -> Result<()> {
        let (offsets, _) = self.struct_layout(type_index)?;
        let f = *self
            .type_fields(type_index)?
            .get(field as usize)
            .ok_or_else(|| internal("field index"))?;
        let v = self.stack.pop()?;
        let r = self.stack.pop_ptr()?;
        self.traps_if_null(r, TrapCode::NullStructure)?;
        let p = self.field_ptr(r, offsets[field as usize])?;
        let v = self.packed(f.element_type, v)?;
        self.b().build_store(p, v)?;
        Ok(())
    }

    // ---- arrays ----

    /// The byte size of an array of `len` (`i32`) elements of `elem_size` bytes, header
    /// included, as `i64` (cannot overflow: `len < 2^32`, `elem_size <= 16`).
    fn array_bytes(&self, len: IntValue<'ctx>, elem_size: u64) -> Result<IntValue<'ctx>> {
        let cx = self.cx();
        let n = self.b().build_int_z_extend(len, cx.i64, "")?;
        let n = self
            .b()
            .build_int_mul(n, cx.i64.const_int(elem_size, false), "")?;
        Ok(self
            .b()
            .build_int_add(n, cx.i64.const_int(abi_gc::HEADER_SIZE, false), "")?)
    }

    /// The address of element `index` (`i64`) of `arr`.
    fn elem_ptr(
        &self,
        arr: PointerValue<'ctx>,
        index: IntValue<'ctx>,
        elem_size: u64,
    ) -> Result<PointerValue<'ctx>> {
        let cx = self.cx();
        let off = self
            .b()
            .build_int_mul(index, cx.i64.const_int(elem_size, false), "")?;
        let off = self
            .b()
            .build_int_add(off, cx.i64.const_int(abi_gc::HEADER_SIZE, false), "")?;
        // SAFETY: address arithmetic only; the index was bounds-checked by the caller.
        Ok(unsafe { self.b().build_gep(cx.i8, arr, &[off], "")? })
    }

    /// The length of (non-null) `arr`, as `i32`.
    fn array_len_of(&self, arr: PointerValue<'ctx>) -> Result<IntValue<'ctx>> {
        let p = self.env.byte_offset(arr, abi_gc::LEN_OFFSET)?;
        Ok(self
            .b()
            .build_load(self.cx().i32, p, "len")?
            .into_int_value())
    }

    /// Traps unless `offset + n <= len` (all `i32`, compared in `i64`).
    fn check_range(
        &mut self,
        len: IntValue<'ctx>,
        offset: IntValue<'ctx>,
        n: IntValue<'ctx>,
    ) -> Result<()> {
        let cx = self.cx();
        let z = |t: &Self, v: IntValue<'ctx>| t.b().build_int_z_extend(v, cx.i64, "");
        let end = self.b().build_int_add(z(self, offset)?, z(self, n)?, "")?;
        let oob = self
            .b()
            .build_int_compare(IntPredicate::UGT, end, z(self, len)?, "")?;
        self.env.trap_if(oob, TrapCode::ArrayOutOfBounds)
    }

    /// Stores `value` into elements `[start, start + n)` of `arr` (`i64` bounds), a loop.
    fn fill_elements(
        &mut self,
        arr: PointerValue<'ctx>,
        start: IntValue<'ctx>,
        n: IntValue<'ctx>,
        elem: StorageType,
        elem_size: u64,
        value: BasicValueEnum<'ctx>,
    ) -> Result<()> {
        let cx = self.cx();
        let value = self.packed(elem, value)?;
        let end = self.b().build_int_add(start, n, "")?;
        let from = self.env.current_block()?;
        let header = self.env.append_block("fill");
        let body = self.env.append_block("fill_body");
        let done = self.env.append_block("filled");
        self.b().build_unconditional_branch(header)?;
        self.b().position_at_end(header);
        let i = self.b().build_phi(cx.i64, "i")?;
        i.add_incoming(&[(&start, from)]);
        let iv = i.as_basic_value().into_int_value();
        let more = self.b().build_int_compare(IntPredicate::ULT, iv, end, "")?;
        self.b().build_conditional_branch(more, body, done)?;
        self.b().position_at_end(body);
        let p = self.elem_ptr(arr, iv, elem_size)?;
        self.b().build_store(p, value)?;
        let next = self.b().build_int_add(iv, cx.i64.const_int(1, false), "")?;
        let body_end = self.env.current_block()?;
        i.add_incoming(&[(&next, body_end)]);
        self.b().build_unconditional_branch(header)?;
        self.b().position_at_end(done);
        Ok(())
    }

    pub(super) fn array_new(&mut self, type_index: u32, default: bool) -> Result<()> {
        let (elem, size) = self.array_elem(type_index)?;
        let len = self.stack.pop_int()?;
        let value = match default {
            true => None,
            false => Some(self.stack.pop()?),
        };
        let bytes = self.array_bytes(len, size)?;
        let arr = self.gc_alloc(type_index, bytes, len)?;
        if let Some(v) = value {
            let cx = self.cx();
            let n = self.b().build_int_z_extend(len, cx.i64, "")?;
            self.fill_elements(arr, cx.i64.const_zero(), n, elem, size, v)?;
        }
        self.stack.push(arr);
        Ok(())
    }

    pub(super) fn array_new_fixed(&mut self, type_index: u32, n: u32) -> Result<()> {
        let (elem, size) = self.array_elem(type_index)?;
        let values = self.stack.pop_n(n as usize)?;
        let cx = self.cx();
        let len = cx.i32.const_int(u64::from(n), false);
        let bytes = self.array_bytes(len, size)?;
        let arr = self.gc_alloc(type_index, bytes, len)?;
        for (i, v) in values.into_iter().enumerate() {
            let p = self.elem_ptr(arr, cx.i64.const_int(i as u64, false), size)?;
            let v = self.packed(elem, v)?;
            self.b().build_store(p, v)?;
        }
        self.stack.push(arr);
        Ok(())
    }

    /// `array.new_data` and `array.new_elem`: the runtime reads the segment.
    pub(super) fn array_new_segment(
        &mut self,
        builtin: &'static str,
        type_index: u32,
        segment: u32,
    ) -> Result<()> {
        let cx = self.cx();
        let len = self.stack.pop_int()?;
        let src = self.stack.pop_int()?;
        let id = self.env.canonical_type_id(type_index)?;
        let src = self.b().build_int_z_extend(src, cx.i64, "")?;
        let len = self.b().build_int_z_extend(len, cx.i64, "")?;
        let addr = self
            .env
            .call_builtin(
                builtin,
                &[
                    id.into(),
                    cx.i32.const_int(u64::from(segment), false).into(),
                    src.into(),
                    len.into(),
                ],
            )?
            .ok_or_else(|| internal("array_new_* without result"))?;
        let p = self
            .b()
            .build_int_to_ptr(addr.into_int_value(), cx.ptr, "arr")?;
        self.stack.push(p);
        Ok(())
    }

    /// `array.init_data` and `array.init_elem`.
    pub(super) fn array_init_segment(&mut self, builtin: &'static str, segment: u32) -> Result<()> {
        let cx = self.cx();
        let n = self.stack.pop_int()?;
        let s = self.stack.pop_int()?;
        let d = self.stack.pop_int()?;
        let arr = self.stack.pop_ptr()?;
        self.traps_if_null(arr, TrapCode::NullArray)?;
        let z = |t: &Self, v: IntValue<'ctx>| t.b().build_int_z_extend(v, cx.i64, "");
        let (n, s, d) = (z(self, n)?, z(self, s)?, z(self, d)?);
        self.env.call_builtin(
            builtin,
            &[
                arr.into(),
                cx.i32.const_int(u64::from(segment), false).into(),
                d.into(),
                s.into(),
                n.into(),
            ],
        )?;
        Ok(())
    }

    pub(super) fn array_get(&mut self, type_index: u32, ext: Extend) -> Result<()> {
        let (elem, size) = self.array_elem(type_index)?;
        let index = self.stack.pop_int()?;
        let arr = self.stack.pop_ptr()?;
        self.traps_if_null(arr, TrapCode::NullArray)?;
        let cx = self.cx();
        let len = self.array_len_of(arr)?;
        let oob = self
            .b()
            .build_int_compare(IntPredicate::UGE, index, len, "")?;
        self.env.trap_if(oob, TrapCode::ArrayOutOfBounds)?;
        let i = self.b().build_int_z_extend(index, cx.i64, "")?;
        let p = self.elem_ptr(arr, i, size)?;
        let ty = self.storage_type(elem)?;
        let v = self.b().build_load(ty, p, "")?;
        let v = self.unpacked(v, ext)?;
        self.stack.push(v);
        Ok(())
    }

    pub(super) fn array_set(&mut self, type_index: u32) -> Result<()> {
        let (elem, size) = self.array_elem(type_index)?;
        let v = self.stack.pop()?;
        let index = self.stack.pop_int()?;
        let arr = self.stack.pop_ptr()?;
        self.traps_if_null(arr, TrapCode::NullArray)?;
        let cx = self.cx();
        let len = self.array_len_of(arr)?;
        let oob = self
            .b()
            .build_int_compare(IntPredicate::UGE, index, len, "")?;
        self.env.trap_if(oob, TrapCode::ArrayOutOfBounds)?;
        let i = self.b().build_int_z_extend(index, cx.i64, "")?;
        let p = self.elem_ptr(arr, i, size)?;
        let v = self.packed(elem, v)?;
        self.b().build_store(p, v)?;
        Ok(())
    }

    pub(super) fn array_len(&mut self) -> Result<()> {
        let arr = self.stack.pop_ptr()?;
        self.traps_if_null(arr, TrapCode::NullArray)?;
        let len = self.array_len_of(arr)?;
        self.stack.push(len);
        Ok(())
    }

    pub(super) fn array_fill(&mut self, type_index: u32) -> Result<()> {
        let (elem, size) = self.array_elem(type_index)?;
        let n = self.stack.pop_int()?;
        let v = self.stack.pop()?;
        let d = self.stack.pop_int()?;
        let arr = self.stack.pop_ptr()?;
        self.traps_if_null(arr, TrapCode::NullArray)?;
        let len = self.array_len_of(arr)?;
        self.check_range(len, d, n)?;
        let cx = self.cx();
        let d = self.b().build_int_z_extend(d, cx.i64, "")?;
        let n = self.b().build_int_z_extend(n, cx.i64, "")?;
        self.fill_elements(arr, d, n, elem, size, v)
    }

    pub(super) fn array_copy(&mut self, dst_type: u32) -> Result<()> {
        let (_, size) = self.array_elem(dst_type)?;
        let n = self.stack.pop_int()?;
        let s = self.stack.pop_int()?;
        let src = self.stack.pop_ptr()?;
        let d = self.stack.pop_int()?;
        let dst = self.stack.pop_ptr()?;
        self.traps_if_null(dst, TrapCode::NullArray)?;
        self.traps_if_null(src, TrapCode::NullArray)?;
        let dst_len = self.array_len_of(dst)?;
        self.check_range(dst_len, d, n)?;
        let src_len = self.array_len_of(src)?;
        self.check_range(src_len, s, n)?;
        let cx = self.cx();
        let z = |t: &Self, v: IntValue<'ctx>| t.b().build_int_z_extend(v, cx.i64, "");
        let (d, s, n) = (z(self, d)?, z(self, s)?, z(self, n)?);
        let dp = self.elem_ptr(dst, d, size)?;
        let sp = self.elem_ptr(src, s, size)?;
        let bytes = self
            .b()
            .build_int_mul(n, cx.i64.const_int(size, false), "")?;
        self.b().build_memmove(dp, 1, sp, 1, bytes)?;
        Ok(())
    }

    // ---- casts ----

    /// An `i1`: whether reference `v` is of type `target`.
    pub(super) fn ref_test_value(
        &mut self,
        v: PointerValue<'ctx>,
        target: RefType,
    ) -> Result<IntValue<'ctx>> {
        let cx = self.cx();
        let bool_t = cx.llcx.bool_type();
        let from = self.env.current_block()?;
        let non_null = self.env.append_block("cast_nonnull");
        let done = self.env.append_block("cast_done");
        let is_null = self.b().build_is_null(v, "")?;
        self.b().build_conditional_branch(is_null, done, non_null)?;
        self.b().position_at_end(non_null);
        let r = self.test_non_null(v, target.heap_type())?;
        let end = self.env.current_block()?;
        self.b().build_unconditional_branch(done)?;
        self.b().position_at_end(done);
        let phi = self.b().build_phi(bool_t, "is")?;
        let nullable = bool_t.const_int(u64::from(target.is_nullable()), false);
        phi.add_incoming(&[(&nullable, from), (&r, end)]);
        Ok(phi.as_basic_value().into_int_value())
    }

    /// Whether non-null `v` is of heap type `heap`.
    fn test_non_null(&mut self, v: PointerValue<'ctx>, heap: HeapType) -> Result<IntValue<'ctx>> {
        use AbstractHeapType::*;
        let cx = self.cx();
        let bool_t = cx.llcx.bool_type();
        let bits = self.b().build_ptr_to_int(v, cx.i64, "")?;
        let tag = self
            .b()
            .build_and(bits, cx.i64.const_int(abi_gc::TAG_MASK, false), "")?;
        let tag_is = |t: &Self, want: u64| {
            t.b()
                .build_int_compare(IntPredicate::EQ, tag, cx.i64.const_int(want, false), "")
        };
        match heap {
            HeapType::Abstract { ty, .. } => match ty {
                Any | Func | Extern | Exn => Ok(bool_t.const_int(1, false)),
                None | NoFunc | NoExtern | NoExn | Cont | NoCont => Ok(bool_t.const_zero()),
                Eq => {
                    let host = tag_is(self, abi_gc::HOST_TAG)?;
                    Ok(self.b().build_not(host, "")?)
                }
                I31 => {
                    let low =
                        self.b()
                            .build_and(bits, cx.i64.const_int(abi_gc::I31_TAG, false), "")?;
                    Ok(self.b().build_int_compare(
                        IntPredicate::NE,
                        low,
                        cx.i64.const_zero(),
                        "",
                    )?)
                }
                Struct | Array => {
                    let want_array = ty == Array;
                    self.if_object(tag, |t| {
                        let flags_p = t.env.byte_offset(v, abi_gc::FLAGS_OFFSET)?;
                        let flags = t.b().build_load(cx.i32, flags_p, "")?.into_int_value();
                        let arr = t.b().build_and(
                            flags,
                            cx.i32.const_int(u64::from(abi_gc::FLAG_ARRAY), false),
                            "",
                        )?;
                        let pred = match want_array {
                            true => IntPredicate::NE,
                            false => IntPredicate::EQ,
                        };
                        Ok(t.b()
                            .build_int_compare(pred, arr, cx.i32.const_zero(), "")?)
                    })
                }
            },
            HeapType::Concrete(i) | HeapType::Exact(i) => {
                let index = i
                    .as_module_index()
                    .ok_or_else(|| internal("canonical type index in a function"))?;
                let gc = self
                    .cx()
                    .info
                    .gc_types
                    .get(index as usize)
                    .copied()
                    .unwrap_or(false);
                if !gc {
                    // A function reference: its `FuncRef`'s type id.
                    let p = self
                        .env
                        .byte_offset(v, hako_abi::vm::FUNCREF_TYPE_ID_OFFSET as u64)?;
                    let actual = self.b().build_load(cx.i32, p, "")?.into_int_value();
                    return self.env.type_matches(actual, index);
                }
                self.if_object(tag, |t| {
                    let p = t.env.byte_offset(v, abi_gc::TYPE_ID_OFFSET)?;
                    let actual = t.b().build_load(cx.i32, p, "")?.into_int_value();
                    t.env.type_matches(actual, index)
                })
            }
        }
    }

    /// `f()` when the low bits say `v` is a GC object (tag 0), false otherwise.
    fn if_object(
        &mut self,
        tag: IntValue<'ctx>,
        f: impl FnOnce(&mut Self) -> Result<IntValue<'ctx>>,
    ) -> Result<IntValue<'ctx>> {
        let cx = self.cx();
        let bool_t = cx.llcx.bool_type();
        let from = self.env.current_block()?;
        let obj = self.env.append_block("is_object");
        let done = self.env.append_block("object_done");
        let is_obj = self
            .b()
            .build_int_compare(IntPredicate::EQ, tag, cx.i64.const_zero(), "")?;
        self.b().build_conditional_branch(is_obj, obj, done)?;
        self.b().position_at_end(obj);
        let r = f(self)?;
        let end = self.env.current_block()?;
        self.b().build_unconditional_branch(done)?;
        self.b().position_at_end(done);
        let phi = self.b().build_phi(bool_t, "")?;
        phi.add_incoming(&[(&bool_t.const_zero(), from), (&r, end)]);
        Ok(phi.as_basic_value().into_int_value())
    }

    pub(super) fn ref_test(&mut self, target: RefType) -> Result<()> {
        let v = self.stack.pop_ptr()?;
        let r = self.ref_test_value(v, target)?;
        self.push_bool(r)
    }

    pub(super) fn ref_cast(&mut self, target: RefType) -> Result<()> {
        let v = self.stack.pop_ptr()?;
        let r = self.ref_test_value(v, target)?;
        let fail = self.b().build_not(r, "")?;
        self.env.trap_if(fail, TrapCode::CastFailure)?;
        self.stack.push(v);
        Ok(())
    }

    /// `br_on_cast` (`on_success`) and `br_on_cast_fail`.
    pub(super) fn br_on_cast(
        &mut self,
        depth: u32,
        target: RefType,
        on_success: bool,
    ) -> Result<()> {
        let v = self.stack.pop_ptr()?;
        let r = self.ref_test_value(v, target)?;
        let cond = match on_success {
            true => r,
            false => self.b().build_not(r, "")?,
        };
        self.stack.push(v);
        self.br_if_i1(depth, cond)
    }

    pub(super) fn ref_eq(&mut self) -> Result<()> {
        let cx = self.cx();
        let b = self.stack.pop_ptr()?;
        let a = self.stack.pop_ptr()?;
        let a = self.b().build_ptr_to_int(a, cx.i64, "")?;
        let b = self.b().build_ptr_to_int(b, cx.i64, "")?;
        let eq = self.b().build_int_compare(IntPredicate::EQ, a, b, "")?;
        self.push_bool(eq)
    }
}
