//! The function environment: everything a translated function does that depends on the
//! run-time layout defined in `hako_abi` — linear memory, globals, calls, tables, traps and
//! kernel builtins.
//!
//! Keeping this in one type means the operator dispatcher in `translate.rs` never computes
//! an offset into a kernel structure itself, and the ABI can change in one place.
//!
//! Values derived from the `VmContext` that the ABI declares invariant (the memory base, the
//! arrays of tables and globals, ...) are loaded once, in the function's entry block, with
//! `!invariant.load` metadata: the entry block dominates every use, and LLVM is free to keep
//! them in registers across calls.

use std::collections::HashMap;

use hako_abi::trap::TrapCode;
use hako_abi::{builtins, vm};
use inkwell::basic_block::BasicBlock;
use inkwell::builder::Builder;
use inkwell::types::{BasicTypeEnum, IntType};

use inkwell::values::{
    BasicMetadataValueEnum, BasicValue, BasicValueEnum, CallSiteValue, FunctionValue,
    InstructionValue, IntValue, LLVMTailCallKind, PointerValue, ValueKind,
};

use crate::ctx::ModuleCtx;
use crate::error::{internal, Result};

/// The longest `memory.copy` or `memory.fill` done inline as loads and stores (see
/// `FuncEnv::memory_copy`).
const INLINE_BULK: u64 = 64;

pub struct FuncEnv<'c, 'ctx, 'a> {
    pub cx: &'c ModuleCtx<'ctx, 'a>,
    pub b: Builder<'ctx>,
    pub func: FunctionValue<'ctx>,
    pub vmctx: PointerValue<'ctx>,
    /// Holds the allocas of locals and the invariant loads; branches to the body at the end.
    entry: BasicBlock<'ctx>,
    /// The function's results pointer, when its results are in memory
    /// ([`ModuleCtx::results_in_memory`]).
    pub out: Option<PointerValue<'ctx>>,
    /// Cached invariant loads, keyed by what they are.
    invariants: HashMap<Invariant, PointerValue<'ctx>>,
    trap_blocks: HashMap<u32, BasicBlock<'ctx>>,
    /// The landing pad of the innermost `try_table`/`try` whose body is being translated:
    /// calls that may throw become `invoke`s unwinding to it.
    pub unwind: Option<BasicBlock<'ctx>>,
}

/// An ordinary call, or a `return_call*` (which leaves the function).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallKind {
    Normal,
    Tail,
}

/// What a call left: its results, or nothing when it was a tail call that returned from the
/// function (the current block is terminated).
pub enum Called<'ctx> {
    Results(Vec<BasicValueEnum<'ctx>>),
    Returned,
}

/// What a call calls: a declared function, or code at an address of a given type.
#[derive(Clone, Copy)]
enum Callee<'ctx> {
    Direct(FunctionValue<'ctx>),
    Indirect(inkwell::types::FunctionType<'ctx>, PointerValue<'ctx>),
}

/// The calling convention of a callee: the module's (`ModuleCtx::wasm_cc`), or C for a
/// linked WASI function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Convention {
    Wasm,
    C,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Invariant {
    VmctxField(usize),
    MemoryDef(u32),
    MemoryBase(u32),
    Global(u32),
    Table(u32),
}

/// Whether a pointer loaded from the instance is known never to be null (and gets LLVM's
/// `nonnull` metadata) or may be null.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Nullness {
    NonNull,
    MaybeNull,
}

impl<'c, 'ctx, 'a> FuncEnv<'c, 'ctx, 'a> {
    pub fn new(cx: &'c ModuleCtx<'ctx, 'a>, func: FunctionValue<'ctx>) -> Result<Self> {
        let vmctx = func
            .get_nth_param(0)
            .ok_or_else(|| internal("function without vmctx parameter"))?
            .into_pointer_value();
        let entry = cx.llcx.append_basic_block(func, "entry");
        let b = cx.llcx.create_builder();
        b.position_at_end(entry);
        Ok(FuncEnv {
            cx,
            b,
            func,
            vmctx,
            entry,
            out: None,
            invariants: HashMap::new(),
            trap_blocks: HashMap::new(),
            unwind: None,
        })
    }

    pub fn entry_block(&self) -> BasicBlock<'ctx> {
        self.entry
    }

    pub fn append_block(&self, name: &str) -> BasicBlock<'ctx> {
        self.cx.llcx.append_basic_block(self.func, name)
    }

    pub fn current_block(&self) -> Result<BasicBlock<'ctx>> {
        self.b
            .get_insert_block()
            .ok_or_else(|| internal("builder is not positioned"))
    }

    /// Runs `f` with the builder at the end of the entry block, then returns to where it was.
    fn in_entry<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        let here = self.current_block()?;
        self.b.position_at_end(self.entry);
        let r = f(self);
        self.b.position_at_end(here);
        r
    }

    /// `base + offset` as an `i8` GEP.
    pub fn byte_offset(&self, base: PointerValue<'ctx>, offset: u64) -> Result<PointerValue<'ctx>> {
        if offset == 0 {
            return Ok(base);
        }
        let idx = self.cx.i64.const_int(offset, false);
        // SAFETY: a plain (not inbounds) GEP on i8 is only address arithmetic; it never
        // dereferences anything.
        Ok(unsafe { self.b.build_gep(self.cx.i8, base, &[idx], "")? })
    }

    /// Tells LLVM that `load` reads memory that does not change while the code runs.
    fn mark_invariant(&self, load: BasicValueEnum<'ctx>) -> Result<()> {
        self.add_empty_metadata(load, "invariant.load")
    }

    /// Attaches the metadata `kind` (one without operands) to `load`, if it is an instruction.
    fn add_empty_metadata(&self, load: BasicValueEnum<'ctx>, kind: &str) -> Result<()> {
        if let Some(inst) = load.as_instruction_value() {
            let empty = self.cx.llcx.metadata_node(&[]);
            inst.set_metadata(empty, self.cx.llcx.get_kind_id(kind))
                .map_err(|e| internal(format!("metadata: {e:?}")))?;
        }
        Ok(())
    }

    /// An invariant pointer loaded from `base + offset`, marked non-null for LLVM when
    /// `nullness` says it is.
    fn load_invariant_ptr(
        &self,
        base: PointerValue<'ctx>,
        offset: u64,
        nullness: Nullness,
    ) -> Result<PointerValue<'ctx>> {
        let addr = self.byte_offset(base, offset)?;
        let v = self.b.build_load(self.cx.ptr, addr, "")?;
        self.mark_invariant(v)?;
        if nullness == Nullness::NonNull {
            self.add_empty_metadata(v, "nonnull")?;
        }
        Ok(v.into_pointer_value())
    }

    fn cached(
        &mut self,
        key: Invariant,
        f: impl FnOnce(&mut Self) -> Result<PointerValue<'ctx>>,
    ) -> Result<PointerValue<'ctx>> {
        if let Some(p) = self.invariants.get(&key) {
            return Ok(*p);
        }
        let p = self.in_entry(f)?;
        self.invariants.insert(key, p);
        Ok(p)
    }

    fn vmctx_field(&mut self, offset: usize) -> Result<PointerValue<'ctx>> {
        self.cached(Invariant::VmctxField(offset), |env| {
            env.load_invariant_ptr(env.vmctx, offset as u64, Nullness::NonNull)
        })
    }

    // ---- linear memory ----

    fn memory_def(&mut self, mem: u32) -> Result<PointerValue<'ctx>> {
        if mem == 0 {
            return self.vmctx_field(vm::VMCTX_MEMORY0_OFFSET);
        }
        let memories = self.vmctx_field(vm::VMCTX_MEMORIES_OFFSET)?;
        self.cached(Invariant::MemoryDef(mem), |env| {
            env.load_invariant_ptr(memories, u64::from(mem) * 8, Nullness::NonNull)
        })
    }

    fn memory_base(&mut self, mem: u32) -> Result<PointerValue<'ctx>> {
        let def = self.memory_def(mem)?;
        self.cached(Invariant::MemoryBase(mem), |env| {
            env.load_invariant_ptr(def, vm::MEMORY_BASE_OFFSET as u64, Nullness::MaybeNull)
        })
    }

    /// Whether memory `mem` has 64-bit indices.
    fn memory64(&self, mem: u32) -> bool {
        self.cx
            .info
            .memories
            .get(mem as usize)
            .is_some_and(|m| m.memory64)
    }

    /// Whether table `table` has 64-bit indices.
    fn table64(&self, table: u32) -> bool {
        self.cx
            .info
            .tables
            .get(table as usize)
            .is_some_and(|t| t.table64)
    }

    /// The current size in bytes of memory `mem` (not invariant: `memory.grow` changes it).
    fn memory_bytes(&mut self, mem: u32) -> Result<IntValue<'ctx>> {
        let def = self.memory_def(mem)?;
        let p = self.byte_offset(def, vm::MEMORY_SIZE_OFFSET as u64)?;
        Ok(self.b.build_load(self.cx.i64, p, "")?.into_int_value())
    }

    /// The native address of a Wasm access of `bytes` bytes: `base + zext(addr) + offset`.
    ///
    /// A 32-bit memory needs no bounds check: the kernel's guard region catches every
    /// out-of-bounds access. A 64-bit memory gets one unsigned compare, `addr < size`
    /// (the current size, loaded from the `MemoryDef`), and the guard region does the rest:
    /// no memory exceeds [`vm::MAX_MEMORY_BYTES`], and the reservation extends that far
    /// again beyond it, so an access that starts inside the memory with `offset + bytes` up
    /// to that much faults in the guard when it does not fit. An access whose `offset +
    /// bytes` exceeds the largest memory never fits and always traps.
    pub fn heap_addr(
        &mut self,
        mem: u32,
        addr: IntValue<'ctx>,
        offset: u64,
        bytes: u64,
    ) -> Result<PointerValue<'ctx>> {
        let base = self.memory_base(mem)?;
        if self.memory64(mem) {
            return self.heap_addr64(mem, base, addr, offset, bytes);
        }
        let mut idx = self.b.build_int_z_extend(addr, self.cx.i64, "")?;
        if offset != 0 {
            idx = self
                .b
                .build_int_nuw_add(idx, self.cx.i64.const_int(offset, false), "")?;
        }
        // SAFETY: address arithmetic only, see `byte_offset`.
        Ok(unsafe { self.b.build_gep(self.cx.i8, base, &[idx], "")? })
    }

    /// [`Self::heap_addr`] for a 64-bit memory: the explicit check, then `base + addr +
    /// offset`.
    fn heap_addr64(
        &mut self,
        mem: u32,
        base: PointerValue<'ctx>,
        addr: IntValue<'ctx>,
        offset: u64,
        bytes: u64,
    ) -> Result<PointerValue<'ctx>> {
        let fits_guard = offset
            .checked_add(bytes)
            .is_some_and(|end| end <= vm::MAX_MEMORY_BYTES);
        let oob = if fits_guard {
            let size = self.memory_bytes(mem)?;
            self.b
                .build_int_compare(inkwell::IntPredicate::UGE, addr, size, "")?
        } else {
            self.cx.llcx.bool_type().const_int(1, false)
        };
        self.trap_if(oob, TrapCode::MemoryOutOfBounds)?;
        // Past the check `addr < MAX_MEMORY_BYTES` and `offset <= MAX_MEMORY_BYTES`: no
        // wrap (in the always-trapping case this code is unreachable).
        let idx = match (offset, fits_guard) {
            (0, _) => addr,
            (_, true) => {
                self.b
                    .build_int_nuw_add(addr, self.cx.i64.const_int(offset, false), "")?
            }
            (_, false) => self
                .b
                .build_int_add(addr, self.cx.i64.const_int(offset, false), "")?,
        };
        // SAFETY: address arithmetic only, see `byte_offset`.
        Ok(unsafe { self.b.build_gep(self.cx.i8, base, &[idx], "")? })
    }

    /// How many bytes a load or store of `ty` touches.
    fn access_bytes(&self, ty: BasicTypeEnum<'ctx>) -> Result<u64> {
        Ok(match ty {
            BasicTypeEnum::IntType(t) => u64::from(t.get_bit_width() / 8),
            BasicTypeEnum::FloatType(t) if t == self.cx.f32 => 4,
            BasicTypeEnum::FloatType(_) => 8,
            BasicTypeEnum::VectorType(v) => {
                u64::from(v.get_size()) * self.access_bytes(v.get_element_type())?
            }
            _ => return Err(internal("memory access of a non-scalar type")),
        })
    }

    pub fn load(
        &mut self,
        mem: u32,
        offset: u64,
        addr: IntValue<'ctx>,
        ty: BasicTypeEnum<'ctx>,
    ) -> Result<BasicValueEnum<'ctx>> {
        let bytes = self.access_bytes(ty)?;
        let p = self.heap_addr(mem, addr, offset, bytes)?;
        let v = self.b.build_load(ty, p, "")?;
        set_align1(v.as_instruction_value())?;
        // Volatile: a Wasm load traps when out of bounds (the guard region faults), so it is
        // never dead. LLVM deletes a plain load whose value goes unused, which happens in
        // many ways: the value is left on the stack by a branch, `return` or `unreachable`,
        // or only feeds arithmetic that folds away (`x * 0`) or code that is itself dead; it
        // may also sink a load into the one branch that uses it. Found by `hako fuzz`
        // (`runner/fuzz-regressions/`).
        v.as_instruction_value()
            .ok_or_else(|| internal("a load is not an instruction"))?
            .set_volatile(true)
            .map_err(|e| internal(format!("volatile: {e:?}")))?;
        Ok(v)
    }

    pub fn store(
        &mut self,
        mem: u32,
        offset: u64,
        addr: IntValue<'ctx>,
        value: BasicValueEnum<'ctx>,
    ) -> Result<()> {
        let bytes = self.access_bytes(value.get_type())?;
        let p = self.heap_addr(mem, addr, offset, bytes)?;
        let st = self.b.build_store(p, value)?;
        set_align1(Some(st))?;
        // Volatile, like loads (see `load`): LLVM keeps volatile accesses in program order, so
        // a store after an out-of-bounds access never happens before its trap. A plain store
        // to a provably different address was moved above a trapping `f64.load` at -O3
        // (found by `hako fuzz`, seed 125941).
        st.set_volatile(true)
            .map_err(|e| internal(format!("volatile: {e:?}")))
    }

    /// `memory.size` in pages (`i64` for a 64-bit memory).
    pub fn memory_size(&mut self, mem: u32) -> Result<IntValue<'ctx>> {
        let bytes = self.memory_bytes(mem)?;
        let pages = self
            .b
            .build_right_shift(bytes, self.cx.i64.const_int(16, false), false, "")?;
        self.index_result(pages, self.memory64(mem))
    }

    pub fn memory_grow(&mut self, mem: u32, delta: IntValue<'ctx>) -> Result<IntValue<'ctx>> {
        let delta = self.zext64(delta)?;
        let r = self.call_builtin(builtins::MEMORY_GROW, &[self.u32(mem), delta])?;
        self.builtin_index_result(r, self.memory64(mem))
    }

    /// `memory.fill` of a 32-bit memory: inline as stores when `[dst, dst + len)` is inside
    /// the memory and at most [`INLINE_BULK`] bytes long, else through the builtin (which
    /// traps, or fills). The builtin's own work (finding the instance and the memory,
    /// checking the range again) cost more than the filling in programs that clear many
    /// small blocks (`hashset`). The stores are volatile, like every linear-memory access
    /// (see [`Self::load`]).
    pub fn memory_fill(
        &mut self,
        mem: u32,
        dst: IntValue<'ctx>,
        val: IntValue<'ctx>,
        len: IntValue<'ctx>,
    ) -> Result<()> {
        if self.memory64(mem) {
            let (dst, len) = (self.zext64(dst)?, self.zext64(len)?);
            self.call_builtin(
                builtins::MEMORY_FILL,
                &[self.u32(mem), dst, val.into(), len],
            )?;
            return Ok(());
        }
        let ok = self.in_bounds(mem, dst, len)?;
        let (fast, slow, done) = self.fast_or_builtin(ok)?;
        self.b.position_at_end(fast);
        let p = self.heap_addr(mem, dst, 0, 0)?;
        let byte = self.b.build_int_truncate(val, self.cx.i8, "")?;
        let n = self.zext64(len)?.into_int_value();
        let byte64 = self.b.build_int_z_extend(byte, self.cx.i64, "")?;
        let splat = self.b.build_int_mul(
            byte64,
            self.cx.i64.const_int(0x0101_0101_0101_0101, false),
            "",
        )?;
        self.by_size(n, done, slow, |env, width, offsets| {
            let v = env.splat_of_width(splat, width)?;
            for at in offsets {
                let q = env.b.build_gep_i8(p, at)?;
                env.volatile_store(q, v)?;
            }
            Ok(())
        })?;
        self.b.position_at_end(slow);
        let (dst, len) = (self.zext64(dst)?, self.zext64(len)?);
        self.call_builtin(
            builtins::MEMORY_FILL,
            &[self.u32(mem), dst, val.into(), len],
        )?;
        self.b.build_unconditional_branch(done)?;
        self.b.position_at_end(done);
        Ok(())
    }

    /// `memory.copy` between 32-bit memories: inline when both ranges are inside their
    /// memories and at most [`INLINE_BULK`] bytes long, as loads of the whole range and then
    /// stores (right for any overlap); else through the builtin, which traps or copies.
    /// 64-bit memories always take the builtin.
    pub fn memory_copy(
        &mut self,
        dst_mem: u32,
        src_mem: u32,
        [d, s, n]: [IntValue<'ctx>; 3],
    ) -> Result<()> {
        if self.memory64(dst_mem) || self.memory64(src_mem) {
            return self.bulk(builtins::MEMORY_COPY, dst_mem, src_mem, [d, s, n]);
        }
        let dst_ok = self.in_bounds(dst_mem, d, n)?;
        let src_ok = self.in_bounds(src_mem, s, n)?;
        let ok = self.b.build_and(dst_ok, src_ok, "")?;
        let (fast, slow, done) = self.fast_or_builtin(ok)?;
        self.b.position_at_end(fast);
        let dp = self.heap_addr(dst_mem, d, 0, 0)?;
        let sp = self.heap_addr(src_mem, s, 0, 0)?;
        let len = self.zext64(n)?.into_int_value();
        self.by_size(len, done, slow, |env, width, offsets| {
            // Every load before any store: right for any overlap.
            let ty = env.type_of_width(width)?;
            let mut values = Vec::with_capacity(offsets.len());
            for at in &offsets {
                let q = env.b.build_gep_i8(sp, *at)?;
                values.push(env.volatile_load(ty, q)?);
            }
            for (at, v) in offsets.iter().zip(values) {
                let q = env.b.build_gep_i8(dp, *at)?;
                env.volatile_store(q, v)?;
            }
            Ok(())
        })?;
        self.b.position_at_end(slow);
        self.bulk(builtins::MEMORY_COPY, dst_mem, src_mem, [d, s, n])?;
        self.b.build_unconditional_branch(done)?;
        self.b.position_at_end(done);
        Ok(())
    }

    /// Emits a bulk operation of `n` bytes (at most the memory's size) by size class: nothing
    /// for 0, `small(width, offsets)` for up to [`INLINE_BULK`] bytes (accesses of `width`
    /// bytes at `offsets`, overlapping, that cover `[0, n)`), each then branching to `done`;
    /// a branch to `big` beyond.
    fn by_size(
        &mut self,
        n: IntValue<'ctx>,
        done: BasicBlock<'ctx>,
        big: BasicBlock<'ctx>,
        mut small: impl FnMut(&mut Self, u32, Vec<IntValue<'ctx>>) -> Result<()>,
    ) -> Result<()> {
        use inkwell::IntPredicate::{UGE, UGT};
        let i64t = self.cx.i64;
        let c = |v: u64| i64t.const_int(v, false);
        // (lowest size, width, accesses at `k * width` from the start, from the end)
        const CLASSES: [(u64, u32, u64); 6] = [
            (33, 16, 2),
            (16, 16, 1),
            (8, 8, 1),
            (4, 4, 1),
            (2, 2, 1),
            (1, 1, 1),
        ];
        let large = self.b.build_int_compare(UGT, n, c(INLINE_BULK), "")?;
        let mut next = self.append_block("bulk.small");
        self.b.build_conditional_branch(large, big, next)?;
        for (lowest, width, each) in CLASSES {
            self.b.position_at_end(next);
            let here = self.append_block("bulk.class");
            next = self.append_block("bulk.small");
            let fits = self.b.build_int_compare(UGE, n, c(lowest), "")?;
            self.b.build_conditional_branch(fits, here, next)?;
            self.b.position_at_end(here);
            let mut offsets = Vec::new();
            for k in 0..each {
                offsets.push(c(k * u64::from(width)));
                let back = self.b.build_int_sub(n, c((k + 1) * u64::from(width)), "")?;
                offsets.push(back);
            }
            small(self, width, offsets)?;
            self.b.build_unconditional_branch(done)?;
        }
        // Nothing to do for 0 bytes.
        self.b.position_at_end(next);
        self.b.build_unconditional_branch(done)?;
        Ok(())
    }

    /// The type of an inline bulk access of `width` bytes.
    fn type_of_width(&self, width: u32) -> Result<BasicTypeEnum<'ctx>> {
        Ok(match width {
            16 => self.cx.v128.into(),
            w => self.int_of_width(w).into(),
        })
    }

    /// The integer type of `width` (1, 2, 4 or 8) bytes.
    fn int_of_width(&self, width: u32) -> IntType<'ctx> {
        match width {
            1 => self.cx.i8,
            2 => self.cx.llcx.i16_type(),
            4 => self.cx.i32,
            _ => self.cx.i64,
        }
    }

    /// `splat` (a byte repeated in an `i64`) as a value of `width` bytes.
    fn splat_of_width(&self, splat: IntValue<'ctx>, width: u32) -> Result<BasicValueEnum<'ctx>> {
        Ok(match width {
            16 => {
                let v = self.cx.v128.get_undef();
                let v = self
                    .b
                    .build_insert_element(v, splat, self.cx.i32.const_zero(), "")?;
                let one = self.cx.i32.const_int(1, false);
                self.b.build_insert_element(v, splat, one, "")?.into()
            }
            8 => splat.into(),
            w => self
                .b
                .build_int_truncate(splat, self.int_of_width(w), "")?
                .into(),
        })
    }

    fn volatile_load(
        &self,
        ty: BasicTypeEnum<'ctx>,
        p: PointerValue<'ctx>,
    ) -> Result<BasicValueEnum<'ctx>> {
        let v = self.b.build_load(ty, p, "")?;
        let inst = v
            .as_instruction_value()
            .ok_or_else(|| internal("a load is not an instruction"))?;
        set_align1(Some(inst))?;
        inst.set_volatile(true)
            .map_err(|e| internal(format!("volatile: {e:?}")))?;
        Ok(v)
    }

    fn volatile_store(&self, p: PointerValue<'ctx>, v: BasicValueEnum<'ctx>) -> Result<()> {
        let st = self.b.build_store(p, v)?;
        set_align1(Some(st))?;
        st.set_volatile(true)
            .map_err(|e| internal(format!("volatile: {e:?}")))
    }

    /// Whether bytes `[start, start + len)` (`i32`s, zero-extended) lie inside memory `mem`.
    fn in_bounds(
        &mut self,
        mem: u32,
        start: IntValue<'ctx>,
        len: IntValue<'ctx>,
    ) -> Result<IntValue<'ctx>> {
        let def = self.memory_def(mem)?;
        let p = self.byte_offset(def, vm::MEMORY_SIZE_OFFSET as u64)?;
        let size = self.b.build_load(self.cx.i64, p, "")?.into_int_value();
        let start = self.zext64(start)?.into_int_value();
        let len = self.zext64(len)?.into_int_value();
        let end = self.b.build_int_nuw_add(start, len, "")?;
        Ok(self
            .b
            .build_int_compare(inkwell::IntPredicate::ULE, end, size, "")?)
    }

    /// Branches on `ok` to a new block for the inline operation or to one for the builtin
    /// call; both are to end with a branch to the third block returned.
    fn fast_or_builtin(
        &mut self,
        ok: IntValue<'ctx>,
    ) -> Result<(BasicBlock<'ctx>, BasicBlock<'ctx>, BasicBlock<'ctx>)> {
        let fast = self.append_block("bulk");
        let slow = self.append_block("bulk.builtin");
        let done = self.append_block("bulk.done");
        self.b.build_conditional_branch(ok, fast, slow)?;
        Ok((fast, slow, done))
    }

    /// `memory.copy`, `memory.init`, `table.copy` and `table.init` all take two indices and
    /// three 64-bit operands.
    pub fn bulk(
        &mut self,
        builtin: &'static str,
        a: u32,
        b: u32,
        ops: [IntValue<'ctx>; 3],
    ) -> Result<()> {
        let [d, s, n] = ops;
        let (d, s, n) = (self.zext64(d)?, self.zext64(s)?, self.zext64(n)?);
        self.call_builtin(builtin, &[self.u32(a), self.u32(b), d, s, n])?;
        Ok(())
    }

    /// `data.drop` and `elem.drop`.
    pub fn drop_segment(&mut self, builtin: &'static str, index: u32) -> Result<()> {
        self.call_builtin(builtin, &[self.u32(index)])?;
        Ok(())
    }

    // ---- globals ----

    fn global_ptr(&mut self, index: u32) -> Result<PointerValue<'ctx>> {
        let globals = self.vmctx_field(vm::VMCTX_GLOBALS_OFFSET)?;
        self.cached(Invariant::Global(index), |env| {
            env.load_invariant_ptr(globals, u64::from(index) * 8, Nullness::NonNull)
        })
    }

    pub fn global_get(&mut self, index: u32) -> Result<BasicValueEnum<'ctx>> {
        let gt = *self
            .cx
            .info
            .globals
            .get(index as usize)
            .ok_or_else(|| internal("global index"))?;
        let ty = self.cx.val_type(gt.content_type)?;
        let p = self.global_ptr(index)?;
        let v = self.b.build_load(ty, p, "")?;
        if !gt.mutable {
            // Immutable globals are written once, at instantiation, before any code runs.
            self.mark_invariant(v)?;
        }
        Ok(v)
    }

    pub fn global_set(&mut self, index: u32, value: BasicValueEnum<'ctx>) -> Result<()> {
        let p = self.global_ptr(index)?;
        self.b.build_store(p, value)?;
        Ok(())
    }

    // ---- calls ----

    /// A call that may throw: an `invoke` unwinding to [`Self::unwind`] inside a try body
    /// (continuing in a new block), else a plain call. A tail call is always a call: it
    /// leaves the function, so no handler of this frame applies to it.
    fn emit_call(
        &mut self,
        callee: Callee<'ctx>,
        args: &[BasicMetadataValueEnum<'ctx>],
        kind: CallKind,
    ) -> Result<CallSiteValue<'ctx>> {
        match (self.unwind, kind) {
            (Some(pad), CallKind::Normal) => {
                let args: Vec<BasicValueEnum<'ctx>> = args
                    .iter()
                    .map(|a| BasicValueEnum::try_from(*a))
                    .collect::<core::result::Result<_, _>>()
                    .map_err(|()| internal("call argument is not a value"))?;
                let cont = self.append_block("invoked");
                let call = match callee {
                    Callee::Direct(f) => self.b.build_direct_invoke(f, &args, cont, pad, "")?,
                    Callee::Indirect(ty, p) => {
                        self.b.build_indirect_invoke(ty, p, &args, cont, pad, "")?
                    }
                };
                self.b.position_at_end(cont);
                Ok(call)
            }
            _ => Ok(match callee {
                Callee::Direct(f) => self.b.build_call(f, args, "")?,
                Callee::Indirect(ty, p) => self.b.build_indirect_call(ty, p, args, "")?,
            }),
        }
    }

    /// Raises exception `exn` (an `ExceptionHeader`, non-null) with the unwinder: an
    /// `invoke` inside a try body; when the unwinder returns (no handler up to the host),
    /// the uncaught-exception trap. Leaves the current block terminated.
    pub fn raise(&mut self, exn: PointerValue<'ctx>) -> Result<()> {
        let f = self.cx.raise_exception();
        self.emit_call(Callee::Direct(f), &[exn.into()], CallKind::Normal)?;
        self.trap(TrapCode::UncaughtException)
    }

    /// The `TagInstance` address of tag `index`.
    pub fn tag_ptr(&mut self, index: u32) -> Result<PointerValue<'ctx>> {
        let tags = self.vmctx_field(vm::VMCTX_TAGS_OFFSET)?;
        self.load_invariant_ptr(tags, u64::from(index) * 8, Nullness::NonNull)
    }

    /// A new exception of tag `tag` holding `values` (of Wasm types `types`).
    pub fn new_exception(
        &mut self,
        tag: u32,
        types: &[wasmparser::ValType],
        values: &[BasicValueEnum<'ctx>],
    ) -> Result<PointerValue<'ctx>> {
        let tag = self.tag_ptr(tag)?;
        let n = self.u32(types.len() as u32);
        let addr = self
            .call_builtin(builtins::EXN_ALLOC, &[tag.into(), n])?
            .ok_or_else(|| internal("exn_alloc without result"))?;
        let exn = self
            .b
            .build_int_to_ptr(addr.into_int_value(), self.cx.ptr, "exn")?;
        for (i, v) in values.iter().enumerate() {
            let p = self.byte_offset(exn, (vm::EXN_VALUES_OFFSET + 16 * i) as u64)?;
            self.b.build_store(p, *v)?;
        }
        Ok(exn)
    }

    /// The payload of exception `exn`, of Wasm types `types`.
    pub fn exception_values(
        &mut self,
        exn: PointerValue<'ctx>,
        types: &[wasmparser::ValType],
    ) -> Result<Vec<BasicValueEnum<'ctx>>> {
        let mut values = Vec::with_capacity(types.len());
        for (i, t) in types.iter().enumerate() {
            let p = self.byte_offset(exn, (vm::EXN_VALUES_OFFSET + 16 * i) as u64)?;
            values.push(self.b.build_load(self.cx.val_type(*t)?, p, "")?);
        }
        Ok(values)
    }

    /// The tag address of exception `exn`.
    pub fn exception_tag(&mut self, exn: PointerValue<'ctx>) -> Result<PointerValue<'ctx>> {
        let p = self.byte_offset(exn, vm::EXN_TAG_OFFSET as u64)?;
        Ok(self
            .b
            .build_load(self.cx.ptr, p, "tag")?
            .into_pointer_value())
    }

    /// A catch that keeps an `exnref` (or may `rethrow`): the exception is never freed.
    pub fn capture_exception(&mut self, exn: PointerValue<'ctx>) -> Result<()> {
        let p = self.byte_offset(exn, vm::EXN_CAPTURED_OFFSET as u64)?;
        self.b.build_store(p, self.cx.i32.const_int(1, false))?;
        Ok(())
    }

    /// A catch that keeps nothing: the exception is freed (unless captured before).
    pub fn free_exception(&mut self, exn: PointerValue<'ctx>) -> Result<()> {
        self.call_builtin(builtins::EXN_FREE, &[exn.into()])?;
        Ok(())
    }

    /// The start of a landing pad at the (empty) current block: every Wasm exception lands
    /// here (`catch ptr null`); returns the exception's address.
    pub fn landing_pad(&mut self) -> Result<PointerValue<'ctx>> {
        let ty = self
            .cx
            .llcx
            .struct_type(&[self.cx.ptr.into(), self.cx.i32.into()], false);
        let lp = self.b.build_landing_pad(
            ty,
            self.cx.personality(),
            &[self.cx.ptr.const_null().into()],
            false,
            "lp",
        )?;
        Ok(self
            .b
            .build_extract_value(lp.into_struct_value(), 0, "exn")?
            .into_pointer_value())
    }

    /// A call's arguments: the callee's context, the results pointer when there is one
    /// ([`ModuleCtx::results_in_memory`]), then the Wasm arguments.
    fn call_args(
        &self,
        callee_vmctx: PointerValue<'ctx>,
        out: Option<PointerValue<'ctx>>,
        args: &[BasicValueEnum<'ctx>],
    ) -> Vec<BasicMetadataValueEnum<'ctx>> {
        std::iter::once(callee_vmctx.into())
            .chain(out.map(Into::into))
            .chain(args.iter().map(|a| (*a).into()))
            .collect()
    }

    /// Where a call of Wasm-convention callee with results `types` writes them, when they
    /// are in memory: for a tail call, the function's own results pointer (its results are
    /// the callee's), else a buffer in the frame.
    fn results_pointer(
        &mut self,
        types: &[wasmparser::ValType],
        kind: CallKind,
    ) -> Result<Option<PointerValue<'ctx>>> {
        if !self.cx.results_in_memory(types) {
            return Ok(None);
        }
        if let (CallKind::Tail, Some(out)) = (kind, self.out) {
            return Ok(Some(out));
        }
        let ty = self.cx.results_struct(types)?;
        Ok(Some(self.in_entry(|env| Ok(env.b.build_alloca(ty, "")?))?))
    }

    /// The results of a call, of Wasm types `types`, as a list (a struct return is unpacked,
    /// its float fields turned back into floats).
    fn results(
        &self,
        call: CallSiteValue<'ctx>,
        types: &[wasmparser::ValType],
    ) -> Result<Vec<BasicValueEnum<'ctx>>> {
        match (call.try_as_basic_value(), types.len()) {
            (ValueKind::Instruction(_), 0) => Ok(Vec::new()),
            (ValueKind::Basic(v), 1) => Ok(vec![v]),
            (ValueKind::Basic(v), _) if v.is_struct_value() => types
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    let field = self
                        .b
                        .build_extract_value(v.into_struct_value(), i as u32, "")?;
                    self.cx.unpack_multi_result(&self.b, field, *t)
                })
                .collect(),
            _ => Err(internal("call result does not match its type")),
        }
    }

    /// A call to function `index`: direct for defined and WASI-linked functions, through the
    /// `VmContext::funcs` slot for other imports.
    pub fn call(
        &mut self,
        index: u32,
        args: &[BasicValueEnum<'ctx>],
        kind: CallKind,
    ) -> Result<Called<'ctx>> {
        let ty = self
            .cx
            .info
            .func_type(index)
            .ok_or_else(|| internal("function index"))?;
        let result_types = ty.results().to_vec();
        let (call, convention, out) = match self.cx.direct(index)? {
            Some(f) => {
                let convention = match self.cx.is_wasi_linked(index) {
                    true => Convention::C,
                    false => Convention::Wasm,
                };
                let out = match convention {
                    Convention::Wasm => self.results_pointer(&result_types, kind)?,
                    Convention::C => None,
                };
                let args = self.call_args(self.vmctx, out, args);
                let call = match convention {
                    Convention::Wasm => self.emit_call(Callee::Direct(f), &args, kind)?,
                    Convention::C => self.b.build_call(f, &args, "")?,
                };
                (call, convention, out)
            }
            None => {
                let fn_ty = self.cx.native_fn_type(ty)?;
                let funcs = self.vmctx_field(vm::VMCTX_FUNCS_OFFSET)?;
                let slot = self.byte_offset(funcs, u64::from(index) * vm::FUNCREF_SIZE as u64)?;
                let code = self.load_invariant_ptr(
                    slot,
                    vm::FUNCREF_CODE_OFFSET as u64,
                    Nullness::NonNull,
                )?;
                let callee_vmctx = self.load_invariant_ptr(
                    slot,
                    vm::FUNCREF_VMCTX_OFFSET as u64,
                    Nullness::MaybeNull,
                )?;
                let out = self.results_pointer(&result_types, kind)?;
                let args = self.call_args(callee_vmctx, out, args);
                let call = self.emit_call(Callee::Indirect(fn_ty, code), &args, kind)?;
                (call, Convention::Wasm, out)
            }
        };
        self.finish_call(call, &result_types, convention, kind, out)
    }

    /// Sets the call's convention and, for a tail call to a function of the module's
    /// convention (a module with a tail call is in the tail convention,
    /// `ModuleInfo::tail_convention`), marks it `musttail` and returns its result from the
    /// function (results in memory were written to the function's own results pointer);
    /// otherwise hands back its results (read from `out` when they are in memory).
    fn finish_call(
        &mut self,
        call: CallSiteValue<'ctx>,
        types: &[wasmparser::ValType],
        convention: Convention,
        kind: CallKind,
        out: Option<PointerValue<'ctx>>,
    ) -> Result<Called<'ctx>> {
        if convention == Convention::Wasm {
            call.set_call_convention(self.cx.wasm_cc());
            let own_out = out.is_some() && out == self.out;
            if kind == CallKind::Tail && (self.cx.returns_in_registers(types) || own_out) {
                call.set_tail_call_kind(LLVMTailCallKind::LLVMTailCallKindMustTail);
                match call.try_as_basic_value() {
                    ValueKind::Basic(v) => self.b.build_return(Some(&v))?,
                    ValueKind::Instruction(_) => self.b.build_return(None)?,
                };
                return Ok(Called::Returned);
            }
        }
        match out {
            Some(out) => Ok(Called::Results(self.load_results(out, types)?)),
            None => Ok(Called::Results(self.results(call, types)?)),
        }
    }

    /// Results of Wasm types `types` from the struct at `out`.
    fn load_results(
        &self,
        out: PointerValue<'ctx>,
        types: &[wasmparser::ValType],
    ) -> Result<Vec<BasicValueEnum<'ctx>>> {
        let ty = self.cx.results_struct(types)?;
        let v = self.b.build_load(ty, out, "")?.into_struct_value();
        types
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let field = self.b.build_extract_value(v, i as u32, "")?;
                self.cx.unpack_multi_result(&self.b, field, *t)
            })
            .collect()
    }

    /// Returns `values` (the function's results) from the function: in registers, or
    /// written to its results pointer.
    pub fn return_values(&self, values: &[BasicValueEnum<'ctx>]) -> Result<()> {
        if let Some(out) = self.out {
            let packed = values
                .iter()
                .map(|v| self.cx.pack_multi_result(&self.b, *v))
                .collect::<Result<Vec<_>>>()?;
            let ty = self.cx.results_struct_of_values(&packed);
            let mut agg = ty.get_undef();
            for (i, v) in packed.iter().enumerate() {
                agg = self
                    .b
                    .build_insert_value(agg, *v, i as u32, "")?
                    .into_struct_value();
            }
            self.b.build_store(out, agg)?;
            self.b.build_return(None)?;
            return Ok(());
        }
        match values.len() {
            0 => self.b.build_return(None)?,
            1 => self.b.build_return(Some(&values[0]))?,
            _ => {
                let packed = values
                    .iter()
                    .map(|v| self.cx.pack_multi_result(&self.b, *v))
                    .collect::<Result<Vec<_>>>()?;
                self.b.build_aggregate_return(&packed)?
            }
        };
        Ok(())
    }

    /// `call_indirect`: bounds check, null check, signature check, then a call through the
    /// `FuncRef`.
    pub fn call_indirect(
        &mut self,
        type_index: u32,
        table: u32,
        callee: IntValue<'ctx>,
        args: &[BasicValueEnum<'ctx>],
        kind: CallKind,
    ) -> Result<Called<'ctx>> {
        let entry = self.table_entry_ptr(table, callee, TrapCode::UndefinedElement)?;
        let funcref = self
            .b
            .build_load(self.cx.ptr, entry, "")?
            .into_pointer_value();
        let is_null = self.b.build_is_null(funcref, "")?;
        self.trap_if(is_null, TrapCode::UninitializedElement)?;
        self.check_signature(type_index, funcref)?;
        self.call_funcref(type_index, funcref, args, kind)
    }

    /// The canonical type id of type index `type_index` (invariant).
    pub fn canonical_type_id(&mut self, type_index: u32) -> Result<IntValue<'ctx>> {
        let type_ids = self.vmctx_field(vm::VMCTX_TYPE_IDS_OFFSET)?;
        let p = self.byte_offset(type_ids, u64::from(type_index) * 4)?;
        let v = self.b.build_load(self.cx.i32, p, "")?;
        self.mark_invariant(v)?;
        Ok(v.into_int_value())
    }

    /// Whether type index `type_index` is final (no type can declare it as supertype).
    pub fn is_final(&self, type_index: u32) -> bool {
        self.cx
            .info
            .sub_types
            .get(type_index as usize)
            .is_none_or(|s| s.is_final)
    }

    /// An `i1`: whether canonical type id `actual` is type index `type_index` or a declared
    /// subtype of it. Equal ids answer at once; a non-final type asks the runtime otherwise.
    pub fn type_matches(
        &mut self,
        actual: IntValue<'ctx>,
        type_index: u32,
    ) -> Result<IntValue<'ctx>> {
        let expected = self.canonical_type_id(type_index)?;
        let eq = self
            .b
            .build_int_compare(inkwell::IntPredicate::EQ, expected, actual, "")?;
        if self.is_final(type_index) {
            return Ok(eq);
        }
        let from = self.current_block()?;
        let slow = self.append_block("subtype");
        let done = self.append_block("subtyped");
        self.b.build_conditional_branch(eq, done, slow)?;
        self.b.position_at_end(slow);
        let r = self
            .call_builtin(builtins::GC_IS_SUBTYPE, &[actual.into(), expected.into()])?
            .ok_or_else(|| internal("is_subtype without result"))?
            .into_int_value();
        let sub =
            self.b
                .build_int_compare(inkwell::IntPredicate::NE, r, self.cx.i32.const_zero(), "")?;
        let slow_end = self.current_block()?;
        self.b.build_unconditional_branch(done)?;
        self.b.position_at_end(done);
        let phi = self.b.build_phi(self.cx.llcx.bool_type(), "")?;
        phi.add_incoming(&[
            (&self.cx.llcx.bool_type().const_int(1, false), from),
            (&sub, slow_end),
        ]);
        Ok(phi.as_basic_value().into_int_value())
    }

    /// Traps with `BadSignature` unless the `FuncRef` at `funcref` has type `type_index`'s
    /// canonical id or a declared subtype of it.
    fn check_signature(&mut self, type_index: u32, funcref: PointerValue<'ctx>) -> Result<()> {
        let mismatch = match self.is_final(type_index) {
            // A final type (every type without GC's `sub`): one compare, as before GC.
            true => {
                let expected = self.canonical_type_id(type_index)?;
                let actual_p = self.byte_offset(funcref, vm::FUNCREF_TYPE_ID_OFFSET as u64)?;
                let actual = self.b.build_load(self.cx.i32, actual_p, "")?;
                self.b.build_int_compare(
                    inkwell::IntPredicate::NE,
                    expected,
                    actual.into_int_value(),
                    "",
                )?
            }
            false => {
                let actual_p = self.byte_offset(funcref, vm::FUNCREF_TYPE_ID_OFFSET as u64)?;
                let actual = self.b.build_load(self.cx.i32, actual_p, "")?;
                let ok = self.type_matches(actual.into_int_value(), type_index)?;
                self.b.build_not(ok, "")?
            }
        };
        self.trap_if(mismatch, TrapCode::BadSignature)
    }

    /// `call_ref`: a null check, a signature check, then a call through the `FuncRef`.
    ///
    /// Validation proves the reference's function has the static type, so the check never
    /// fails in a well-typed store. It is there because canonical type ids give each
    /// parameter and result one code (a typed reference's is `funcref`'s): two function
    /// types that differ only in a reference's heap type share an id, so `call_indirect`
    /// and the import checks let a function taking `(ref $a)` stand for one taking
    /// `(ref $b)`, and the `(ref $b)` it then receives could be a function of another
    /// native signature. Checking the id here keeps every call one of the callee's own
    /// native signature (a wrong one would misread registers and the stack, and in the tail
    /// convention pop the wrong number of bytes).
    pub fn call_ref(
        &mut self,
        type_index: u32,
        funcref: PointerValue<'ctx>,
        args: &[BasicValueEnum<'ctx>],
        kind: CallKind,
    ) -> Result<Called<'ctx>> {
        let is_null = self.b.build_is_null(funcref, "")?;
        self.trap_if(is_null, TrapCode::NullFunctionReference)?;
        self.check_signature(type_index, funcref)?;
        self.call_funcref(type_index, funcref, args, kind)
    }

    /// A call of the (non-null) `FuncRef` at `funcref`, of type `type_index`.
    fn call_funcref(
        &mut self,
        type_index: u32,
        funcref: PointerValue<'ctx>,
        args: &[BasicValueEnum<'ctx>],
        kind: CallKind,
    ) -> Result<Called<'ctx>> {
        let ty = self
            .cx
            .info
            .types
            .get(type_index as usize)
            .ok_or_else(|| internal("type index"))?;
        let result_types = ty.results().to_vec();
        let fn_ty = self.cx.native_fn_type(ty)?;
        let code_p = self.byte_offset(funcref, vm::FUNCREF_CODE_OFFSET as u64)?;
        let code = self
            .b
            .build_load(self.cx.ptr, code_p, "")?
            .into_pointer_value();
        let vmctx_p = self.byte_offset(funcref, vm::FUNCREF_VMCTX_OFFSET as u64)?;
        let callee_vmctx = self
            .b
            .build_load(self.cx.ptr, vmctx_p, "")?
            .into_pointer_value();
        let out = self.results_pointer(&result_types, kind)?;
        let args = self.call_args(callee_vmctx, out, args);
        let call = self.emit_call(Callee::Indirect(fn_ty, code), &args, kind)?;
        self.finish_call(call, &result_types, Convention::Wasm, kind, out)
    }

    /// `ref.func`: the address of the function's `FuncRef` slot.
    pub fn ref_func(&mut self, index: u32) -> Result<PointerValue<'ctx>> {
        let funcs = self.vmctx_field(vm::VMCTX_FUNCS_OFFSET)?;
        self.byte_offset(funcs, u64::from(index) * vm::FUNCREF_SIZE as u64)
    }

    // ---- tables ----

    fn table_def(&mut self, table: u32) -> Result<PointerValue<'ctx>> {
        let tables = self.vmctx_field(vm::VMCTX_TABLES_OFFSET)?;
        self.cached(Invariant::Table(table), |env| {
            env.load_invariant_ptr(tables, u64::from(table) * 8, Nullness::NonNull)
        })
    }

    fn table_len(&mut self, table: u32) -> Result<IntValue<'ctx>> {
        let def = self.table_def(table)?;
        let p = self.byte_offset(def, vm::TABLE_LEN_OFFSET as u64)?;
        Ok(self.b.build_load(self.cx.i64, p, "")?.into_int_value())
    }

    /// The address of entry `index` of `table`, trapping with `code` when out of bounds.
    fn table_entry_ptr(
        &mut self,
        table: u32,
        index: IntValue<'ctx>,
        code: TrapCode,
    ) -> Result<PointerValue<'ctx>> {
        let len = self.table_len(table)?;
        let index = self.zext64(index)?.into_int_value();
        let oob = self
            .b
            .build_int_compare(inkwell::IntPredicate::UGE, index, len, "")?;
        self.trap_if(oob, code)?;
        let def = self.table_def(table)?;
        let base_p = self.byte_offset(def, vm::TABLE_BASE_OFFSET as u64)?;
        let base = self
            .b
            .build_load(self.cx.ptr, base_p, "")?
            .into_pointer_value();
        // SAFETY: address arithmetic only; the index was bounds-checked above.
        Ok(unsafe {
            self.b
                .build_in_bounds_gep(self.cx.ptr, base, &[index], "")?
        })
    }

    pub fn table_get(&mut self, table: u32, index: IntValue<'ctx>) -> Result<BasicValueEnum<'ctx>> {
        let p = self.table_entry_ptr(table, index, TrapCode::TableOutOfBounds)?;
        Ok(self.b.build_load(self.cx.ptr, p, "")?)
    }

    pub fn table_set(
        &mut self,
        table: u32,
        index: IntValue<'ctx>,
        value: BasicValueEnum<'ctx>,
    ) -> Result<()> {
        let p = self.table_entry_ptr(table, index, TrapCode::TableOutOfBounds)?;
        self.b.build_store(p, value)?;
        Ok(())
    }

    pub fn table_size(&mut self, table: u32) -> Result<IntValue<'ctx>> {
        let len = self.table_len(table)?;
        self.index_result(len, self.table64(table))
    }

    pub fn table_grow(
        &mut self,
        table: u32,
        init: BasicValueEnum<'ctx>,
        delta: IntValue<'ctx>,
    ) -> Result<IntValue<'ctx>> {
        let delta = self.zext64(delta)?;
        let r = self.call_builtin(builtins::TABLE_GROW, &[self.u32(table), init, delta])?;
        self.builtin_index_result(r, self.table64(table))
    }

    pub fn table_fill(
        &mut self,
        table: u32,
        dst: IntValue<'ctx>,
        value: BasicValueEnum<'ctx>,
        len: IntValue<'ctx>,
    ) -> Result<()> {
        let (dst, len) = (self.zext64(dst)?, self.zext64(len)?);
        self.call_builtin(builtins::TABLE_FILL, &[self.u32(table), dst, value, len])?;
        Ok(())
    }

    // ---- traps ----

    /// The function's shared block that raises `code`.
    fn trap_block(&mut self, code: TrapCode) -> Result<BasicBlock<'ctx>> {
        if let Some(b) = self.trap_blocks.get(&(code as u32)) {
            return Ok(*b);
        }
        let here = self.current_block()?;
        let block = self.append_block("trap");
        self.b.position_at_end(block);
        let trap = self.cx.builtin(builtins::TRAP)?;
        let code_v = self.cx.i32.const_int(code as u64, false);
        self.b
            .build_call(trap, &[self.vmctx.into(), code_v.into()], "")?;
        self.b.build_unreachable()?;
        self.b.position_at_end(here);
        self.trap_blocks.insert(code as u32, block);
        Ok(block)
    }

    /// Raises `code` unconditionally (the current block is terminated).
    pub fn trap(&mut self, code: TrapCode) -> Result<()> {
        let block = self.trap_block(code)?;
        self.b.build_unconditional_branch(block)?;
        Ok(())
    }

    /// The one place every trapping check goes through: when `cond` (an `i1`) holds, branch to
    /// the cold trap block; continue in a new block otherwise.
    pub fn trap_if(&mut self, cond: IntValue<'ctx>, code: TrapCode) -> Result<()> {
        let block = self.trap_block(code)?;
        let cont = self.append_block("ok");
        self.b.build_conditional_branch(cond, block, cont)?;
        self.b.position_at_end(cont);
        Ok(())
    }

    // ---- helpers ----

    fn u32(&self, v: u32) -> BasicValueEnum<'ctx> {
        self.cx.i32.const_int(u64::from(v), false).into()
    }

    fn zext64(&self, v: IntValue<'ctx>) -> Result<BasicValueEnum<'ctx>> {
        Ok(self
            .b
            .build_int_z_extend_or_bit_cast(v, self.cx.i64, "")?
            .into())
    }

    /// A size or index computed in `i64`, as the Wasm index type: `i64` when `wide` (a
    /// 64-bit memory or table), else `i32`.
    fn index_result(&self, v: IntValue<'ctx>, wide: bool) -> Result<IntValue<'ctx>> {
        if wide {
            return Ok(v);
        }
        Ok(self.b.build_int_truncate(v, self.cx.i32, "")?)
    }

    /// A builtin's `u64` result as the Wasm index type (`u64::MAX` becomes `-1`).
    fn builtin_index_result(
        &self,
        r: Option<BasicValueEnum<'ctx>>,
        wide: bool,
    ) -> Result<IntValue<'ctx>> {
        let r = r.ok_or_else(|| internal("builtin without result"))?;
        self.index_result(r.into_int_value(), wide)
    }

    pub fn call_builtin(
        &mut self,
        name: &'static str,
        args: &[BasicValueEnum<'ctx>],
    ) -> Result<Option<BasicValueEnum<'ctx>>> {
        let f = self.cx.builtin(name)?;
        let call = self
            .b
            .build_call(f, &self.call_args(self.vmctx, None, args), "")?;
        Ok(match call.try_as_basic_value() {
            ValueKind::Basic(v) => Some(v),
            ValueKind::Instruction(_) => None,
        })
    }

    /// Allocates a local in the entry block.
    pub fn alloca(&mut self, ty: BasicTypeEnum<'ctx>) -> Result<PointerValue<'ctx>> {
        self.in_entry(|env| {
            let p = env.b.build_alloca(ty, "")?;
            env.b.build_store(p, ty.const_zero())?;
            Ok(p)
        })
    }

    /// Terminates the entry block with a branch to the body; called once the body is done.
    pub fn finish_entry(&mut self, body: BasicBlock<'ctx>) -> Result<()> {
        self.b.position_at_end(self.entry);
        self.b.build_unconditional_branch(body)?;
        Ok(())
    }
}

/// `p + offset` as an `i8` GEP, for the builder.
trait GepI8<'ctx> {
    fn build_gep_i8(
        &self,
        p: PointerValue<'ctx>,
        offset: IntValue<'ctx>,
    ) -> Result<PointerValue<'ctx>>;
}

impl<'ctx> GepI8<'ctx> for Builder<'ctx> {
    fn build_gep_i8(
        &self,
        p: PointerValue<'ctx>,
        offset: IntValue<'ctx>,
    ) -> Result<PointerValue<'ctx>> {
        let i8t = p.get_type().get_context().i8_type();
        // SAFETY: address arithmetic only, see `FuncEnv::byte_offset`.
        Ok(unsafe { self.build_gep(i8t, p, &[offset], "")? })
    }
}

/// Wasm alignment is only a hint: every linear-memory access is emitted with alignment 1.
fn set_align1(inst: Option<InstructionValue<'_>>) -> Result<()> {
    inst.ok_or_else(|| internal("memory access is not an instruction"))?
        .set_alignment(1)
        .map_err(|e| internal(format!("alignment: {e:?}")))
}
