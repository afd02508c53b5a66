//! The operand stack and the control stack of the translator.
//!
//! Both only ever hold what validation guarantees is there, so an empty pop means a bug in
//! the translator; it is reported as an internal error, never a panic.

use inkwell::basic_block::BasicBlock;
use inkwell::values::{BasicValueEnum, FloatValue, IntValue, PhiValue, PointerValue, VectorValue};

use crate::error::{internal, Result};

/// Wasm operands as LLVM SSA values.
#[derive(Default)]
pub struct ValueStack<'ctx> {
    values: Vec<BasicValueEnum<'ctx>>,
}

impl<'ctx> ValueStack<'ctx> {
    pub fn push(&mut self, v: impl Into<BasicValueEnum<'ctx>>) {
        self.values.push(v.into());
    }

    pub fn extend(&mut self, vs: impl IntoIterator<Item = BasicValueEnum<'ctx>>) {
        self.values.extend(vs);
    }

    pub fn pop(&mut self) -> Result<BasicValueEnum<'ctx>> {
        self.values
            .pop()
            .ok_or_else(|| internal("operand stack underflow"))
    }

    pub fn pop_int(&mut self) -> Result<IntValue<'ctx>> {
        match self.pop()? {
            BasicValueEnum::IntValue(v) => Ok(v),
            other => Err(internal(format!(
                "expected an integer operand, found {other:?}"
            ))),
        }
    }

    pub fn pop_float(&mut self) -> Result<FloatValue<'ctx>> {
        match self.pop()? {
            BasicValueEnum::FloatValue(v) => Ok(v),
            other => Err(internal(format!(
                "expected a float operand, found {other:?}"
            ))),
        }
    }

    pub fn pop_ptr(&mut self) -> Result<PointerValue<'ctx>> {
        match self.pop()? {
            BasicValueEnum::PointerValue(v) => Ok(v),
            other => Err(internal(format!(
                "expected a reference operand, found {other:?}"
            ))),
        }
    }

    /// A `v128` operand, in its canonical type (see `ModuleCtx::v128`).
    pub fn pop_v128(&mut self) -> Result<VectorValue<'ctx>> {
        match self.pop()? {
            BasicValueEnum::VectorValue(v) => Ok(v),
            other => Err(internal(format!(
                "expected a v128 operand, found {other:?}"
            ))),
        }
    }

    /// Pops the top `n` values, in stack order (deepest first).
    pub fn pop_n(&mut self, n: usize) -> Result<Vec<BasicValueEnum<'ctx>>> {
        let at = self
            .values
            .len()
            .checked_sub(n)
            .ok_or_else(|| internal("operand stack underflow"))?;
        Ok(self.values.split_off(at))
    }

    /// The top `n` values, in stack order, without popping them.
    pub fn peek_n(&self, n: usize) -> Result<&[BasicValueEnum<'ctx>]> {
        let at = self
            .values
            .len()
            .checked_sub(n)
            .ok_or_else(|| internal("operand stack underflow"))?;
        Ok(&self.values[at..])
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn truncate(&mut self, len: usize) {
        self.values.truncate(len);
    }
}

/// What kind of construct a control frame is.
pub enum FrameKind<'ctx> {
    /// The function body; its end returns.
    Function,
    Block,
    /// Branches go back to `header`, whose phis receive the loop parameters.
    Loop {
        header: BasicBlock<'ctx>,
        params: Vec<PhiValue<'ctx>>,
    },
    /// `else_block` is entered when the condition is false; `params` are the block's
    /// parameters, passed again to the else branch (or straight to the end without one).
    If {
        else_block: BasicBlock<'ctx>,
        params: Vec<BasicValueEnum<'ctx>>,
        has_else: bool,
    },
    /// A legacy `try`: its landing pad received `exn`; `cursor` is the end of the pad's
    /// dispatch so far (where the next `catch` tests its tag), `None` after `catch_all`;
    LegacyTry {
        exn: PointerValue<'ctx>,
        cursor: Option<BasicBlock<'ctx>>,
        /// In a `catch` or `catch_all` clause (its body is outside the try's protection).
        catching: bool,
    },
}

/// One entered block, loop, if or function body.
pub struct ControlFrame<'ctx> {
    pub kind: FrameKind<'ctx>,
    /// Where execution continues after the frame's `end`; its phis receive the results.
    pub next: BasicBlock<'ctx>,
    pub results: Vec<PhiValue<'ctx>>,
    /// Operand stack height below the frame's parameters.
    pub height: usize,
    /// Whether any edge reaches `next` (otherwise the code after `end` is unreachable).
    pub reached: bool,
    /// The landing pad that calls inside this frame unwind to (`FuncEnv::unwind` there).
    pub unwind: Option<BasicBlock<'ctx>>,
}

impl<'ctx> ControlFrame<'ctx> {
    /// The block a branch to this frame goes to, and the phis it feeds.
    pub fn br_target(&self) -> (BasicBlock<'ctx>, &[PhiValue<'ctx>]) {
        match &self.kind {
            FrameKind::Loop { header, params } => (*header, params),
            _ => (self.next, &self.results),
        }
    }

    pub fn is_loop(&self) -> bool {
        matches!(self.kind, FrameKind::Loop { .. })
    }
}

#[derive(Default)]
pub struct ControlStack<'ctx> {
    frames: Vec<ControlFrame<'ctx>>,
}

impl<'ctx> ControlStack<'ctx> {
    pub fn push(&mut self, frame: ControlFrame<'ctx>) {
        self.frames.push(frame);
    }

    pub fn pop(&mut self) -> Result<ControlFrame<'ctx>> {
        self.frames
            .pop()
            .ok_or_else(|| internal("control stack underflow"))
    }

    pub fn top(&mut self) -> Result<&mut ControlFrame<'ctx>> {
        self.frames
            .last_mut()
            .ok_or_else(|| internal("control stack underflow"))
    }

    /// The frame a branch of relative depth `depth` targets.
    pub fn frame(&mut self, depth: u32) -> Result<&mut ControlFrame<'ctx>> {
        let i = self
            .frames
            .len()
            .checked_sub(1 + depth as usize)
            .ok_or_else(|| internal("branch depth out of range"))?;
        Ok(&mut self.frames[i])
    }

    pub fn depth(&self) -> usize {
        self.frames.len()
    }
}
