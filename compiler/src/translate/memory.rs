//! Linear-memory accesses of the scalar operators: which memory an access uses, loads
//! (extended to the operator's type), stores (truncated), and `drop`. Both kinds of access
//! are volatile (see `FuncEnv::load`/`store`), so that they trap in program order when out of
//! bounds. The address arithmetic and bounds checks are `FuncEnv`'s (`heap_addr`: a 32-bit
//! memory's out-of-bounds accesses fault in the kernel's guard region, a 64-bit memory's
//! address is compared with its size first); SIMD accesses are in `simd.rs`.

use inkwell::types::{BasicTypeEnum, IntType};
use wasmparser::MemArg;

use super::{FuncTranslator, Signed, Signedness, Unsigned};
use crate::error::{unsupported, Result};

impl<'ctx> FuncTranslator<'_, 'ctx, '_> {
    pub(super) fn memory(&self, memarg: &MemArg) -> Result<u32> {
        let wasmparser::MemArgTarget::Memory(mem) = memarg.target else {
            return Err(unsupported("gc arrays", self.offset));
        };
        if memarg.ordering.is_some() {
            return Err(unsupported("threads (ordered memory access)", self.offset));
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

    /// `drop`: the value goes. A dropped load still runs (loads are volatile, see
    /// `FuncEnv::load`).
    pub(super) fn drop_operand(&mut self) -> Result<()> {
        self.stack.pop()?;
        Ok(())
    }
}
