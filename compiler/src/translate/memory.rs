//! Linear-memory accesses of the scalar operators: which memory an access uses, loads
//! (extended to the operator's type), stores (truncated), and `drop` of a load, which must
//! still trap. The address arithmetic is `FuncEnv`'s (out-of-bounds accesses fault in the
//! kernel's guard region); SIMD accesses are in `simd.rs`.

use inkwell::types::{BasicTypeEnum, IntType};
use inkwell::values::{BasicValue, InstructionOpcode};
use wasmparser::MemArg;

use super::{FuncTranslator, Signed, Signedness, Unsigned};
use crate::error::{internal, unsupported, Result};

impl<'ctx> FuncTranslator<'_, 'ctx, '_> {
    pub(super) fn memory(&self, memarg: &MemArg) -> Result<u32> {
        let wasmparser::MemArgTarget::Memory(mem) = memarg.target else {
            return Err(unsupported("gc arrays", self.offset));
        };
        if memarg.ordering.is_some() {
            return Err(unsupported("threads (ordered memory access)", self.offset));
        }
        if self
            .cx()
            .info
            .memories
            .get(mem as usize)
            .is_some_and(|m| m.memory64)
        {
            return Err(unsupported("memory64", self.offset));
        }
        Ok(mem)
    }

    /// A load of `ty`, then `ext` to the operator's result type (sign- or zero-extended).
    pub(super) fn load(
        &mut self,
        memarg: &MemArg,
        ty: BasicTypeEnum<'ctx>,
        ext: Option<(IntType<'ctx>, Signedness)>,
    ) -> Result<()> {
        let mem = self.memory(memarg)?;
        let addr = self.stack.pop_int()?;
        let v = self.env.load(mem, memarg.offset, addr, ty)?;
        let v = match ext {
            None => v,
            Some((to, Signed)) => self
                .b()
                .build_int_s_extend(v.into_int_value(), to, "")?
                .into(),
            Some((to, Unsigned)) => self
                .b()
                .build_int_z_extend(v.into_int_value(), to, "")?
                .into(),
        };
        self.stack.push(v);
        Ok(())
    }

    /// A store, truncating the value to `narrow` first when given.
    pub(super) fn store(&mut self, memarg: &MemArg, narrow: Option<IntType<'ctx>>) -> Result<()> {
        let mem = self.memory(memarg)?;
        let v = self.stack.pop()?;
        let addr = self.stack.pop_int()?;
        let v = match narrow {
            None => v,
            Some(to) => self
                .b()
                .build_int_truncate(v.into_int_value(), to, "")?
                .into(),
        };
        self.env.store(mem, memarg.offset, addr, v)
    }

    /// `drop`. A dropped load must still trap when out of bounds, but LLVM deletes loads
    /// whose value is unused: make it volatile. The load may sit behind the extension of a
    /// narrow load (`i32.load8_s`) or in a vector lane, so look through casts and lane
    /// insertions.
    pub(super) fn drop_operand(&mut self) -> Result<()> {
        let v = self.stack.pop()?;
        let mut inst = v.as_instruction_value();
        while let Some(i) = inst {
            match i.get_opcode() {
                InstructionOpcode::Load => {
                    i.set_volatile(true)
                        .map_err(|e| internal(format!("volatile: {e:?}")))?;
                    break;
                }
                InstructionOpcode::SExt
                | InstructionOpcode::ZExt
                | InstructionOpcode::Trunc
                | InstructionOpcode::BitCast
                | InstructionOpcode::ShuffleVector => {
                    inst = i
                        .get_operand(0)
                        .and_then(|o| o.value())
                        .and_then(|o| o.as_instruction_value());
                }
                // A SIMD load into a lane (`load_lane`, `load_splat`, `load32_zero`).
                InstructionOpcode::InsertElement => {
                    inst = i
                        .get_operand(1)
                        .and_then(|o| o.value())
                        .and_then(|o| o.as_instruction_value());
                }
                _ => break,
            }
        }
        Ok(())
    }
}
