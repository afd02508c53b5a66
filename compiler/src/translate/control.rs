//! Structured control flow: blocks, loops, `if`/`else`, branches and the end of frames.
//!
//! The usual SSA construction for structured code: each block gets a continuation block
//! (`next`) whose phis receive the results, each loop a header whose phis receive the
//! parameters; a frame nothing branches to has its continuation deleted. Code after `br`,
//! `return` or `unreachable` is skipped up to the end of its frame, counting the blocks
//! entered on the way.

use inkwell::basic_block::BasicBlock;
use inkwell::values::{BasicValue, BasicValueEnum, IntValue, PhiValue};
use inkwell::IntPredicate;
use wasmparser::{BlockType, Operator, ValType};

use super::FuncTranslator;
use crate::error::{internal, Result};
use crate::stack::{ControlFrame, FrameKind};

impl<'ctx> FuncTranslator<'_, 'ctx, '_> {
    pub(super) fn block_sig(&self, bt: BlockType) -> Result<(Vec<ValType>, Vec<ValType>)> {
        Ok(match bt {
            BlockType::Empty => (vec![], vec![]),
            BlockType::Type(t) => (vec![], vec![t]),
            BlockType::FuncType(i) => {
                let ft = self
                    .cx()
                    .info
                    .types
                    .get(i as usize)
                    .ok_or_else(|| internal("block type index"))?;
                (ft.params().to_vec(), ft.results().to_vec())
            }
        })
    }

    /// Phis of the given types at the (empty) start of `block`.
    pub(super) fn phis(
        &self,
        block: BasicBlock<'ctx>,
        types: &[ValType],
    ) -> Result<Vec<PhiValue<'ctx>>> {
        let here = self.env.current_block()?;
        self.b().position_at_end(block);
        let phis = types
            .iter()
            .map(|t| Ok(self.b().build_phi(self.cx().val_type(*t)?, "")?))
            .collect::<Result<Vec<_>>>();
        self.b().position_at_end(here);
        phis
    }

    pub(super) fn add_incoming(
        phis: &[PhiValue<'ctx>],
        values: &[BasicValueEnum<'ctx>],
        from: BasicBlock<'ctx>,
    ) {
        for (phi, v) in phis.iter().zip(values) {
            phi.add_incoming(&[(v as &dyn BasicValue<'ctx>, from)]);
        }
    }

    /// Branches to the frame at `depth`, passing `values` to its phis.
    pub(super) fn br_values(&mut self, depth: u32, values: &[BasicValueEnum<'ctx>]) -> Result<()> {
        let from = self.env.current_block()?;
        let frame = self.control.frame(depth)?;
        if !frame.is_loop() {
            frame.reached = true;
        }
        let (target, phis) = frame.br_target();
        Self::add_incoming(phis, values, from);
        self.env.b.build_unconditional_branch(target)?;
        Ok(())
    }

    /// Branches to the frame at `depth`, passing the top of the stack to its phis.
    pub(super) fn br(&mut self, depth: u32) -> Result<()> {
        let from = self.env.current_block()?;
        let frame = self.control.frame(depth)?;
        if !frame.is_loop() {
            frame.reached = true;
        }
        let (target, phis) = frame.br_target();
        Self::add_incoming(phis, self.stack.peek_n(phis.len())?, from);
        self.env.b.build_unconditional_branch(target)?;
        Ok(())
    }

    pub(super) fn br_if(&mut self, depth: u32) -> Result<()> {
        let cond = self.stack.pop_int()?;
        let cond = self.truthy(cond)?;
        self.br_if_i1(depth, cond)
    }

    /// Branches to the frame at `depth` when `cond` (an `i1`) holds, passing the top of the
    /// stack; continues in a new block otherwise.
    pub(super) fn br_if_i1(&mut self, depth: u32, cond: IntValue<'ctx>) -> Result<()> {
        let from = self.env.current_block()?;
        let cont = self.env.append_block("");
        let frame = self.control.frame(depth)?;
        if !frame.is_loop() {
            frame.reached = true;
        }
        let (target, phis) = frame.br_target();
        Self::add_incoming(phis, self.stack.peek_n(phis.len())?, from);
        self.env.b.build_conditional_branch(cond, target, cont)?;
        self.env.b.position_at_end(cont);
        Ok(())
    }

    pub(super) fn br_table(&mut self, targets: &wasmparser::BrTable<'_>) -> Result<()> {
        let index = self.stack.pop_int()?;
        let depths = targets
            .targets()
            .collect::<core::result::Result<Vec<u32>, _>>()?;
        let default = targets.default();
        let arity = self.control.frame(default)?.br_target().1.len();
        let from = self.env.current_block()?;
        // With results, every distinct target gets its own edge block so that each phi has
        // exactly one entry per predecessor.
        let mut edge_blocks: Vec<(u32, BasicBlock<'ctx>)> = Vec::new();
        let mut block_for = |t: &mut Self, depth: u32| -> Result<BasicBlock<'ctx>> {
            let frame = t.control.frame(depth)?;
            if !frame.is_loop() {
                frame.reached = true;
            }
            let target = frame.br_target().0;
            if arity == 0 {
                return Ok(target);
            }
            if let Some((_, b)) = edge_blocks.iter().find(|(d, _)| *d == depth) {
                return Ok(*b);
            }
            let edge = t.env.append_block("br_table");
            t.env.b.position_at_end(edge);
            let (target, phis) = t.control.frame(depth)?.br_target();
            Self::add_incoming(phis, t.stack.peek_n(arity)?, edge);
            t.env.b.build_unconditional_branch(target)?;
            t.env.b.position_at_end(from);
            edge_blocks.push((depth, edge));
            Ok(edge)
        };
        let default_block = block_for(self, default)?;
        let mut cases = Vec::with_capacity(depths.len());
        for (i, d) in depths.iter().enumerate() {
            cases.push((
                self.cx().i32.const_int(i as u64, false),
                block_for(self, *d)?,
            ));
        }
        self.env.b.build_switch(index, default_block, &cases)?;
        Ok(())
    }

    pub(super) fn truthy(&self, v: IntValue<'ctx>) -> Result<IntValue<'ctx>> {
        Ok(self
            .b()
            .build_int_compare(IntPredicate::NE, v, v.get_type().const_zero(), "")?)
    }

    pub(super) fn enter(
        &mut self,
        kind: FrameKind<'ctx>,
        params: usize,
        results: &[ValType],
    ) -> Result<()> {
        let next = self.env.append_block("next");
        let results = self.phis(next, results)?;
        let height = self
            .stack
            .len()
            .checked_sub(params)
            .ok_or_else(|| internal("operand stack underflow"))?;
        self.control.push(ControlFrame {
            kind,
            next,
            results,
            height,
            reached: false,
            unwind: self.env.unwind,
        });
        Ok(())
    }

    pub(super) fn else_(&mut self) -> Result<()> {
        let reachable = self.reachable;
        let from = if reachable {
            Some(self.env.current_block()?)
        } else {
            None
        };
        let frame = self.control.top()?;
        let FrameKind::If {
            else_block,
            params,
            has_else,
        } = &mut frame.kind
        else {
            return Err(internal("else outside if"));
        };
        *has_else = true;
        let (else_block, params) = (*else_block, params.clone());
        if let Some(from) = from {
            frame.reached = true;
            let results = self.stack.peek_n(frame.results.len())?;
            Self::add_incoming(&frame.results, results, from);
            self.env.b.build_unconditional_branch(frame.next)?;
        }
        let height = frame.height;
        self.stack.truncate(height);
        self.env.b.position_at_end(else_block);
        self.stack.extend(params);
        self.reachable = true;
        Ok(())
    }

    pub(super) fn end(&mut self) -> Result<()> {
        if let FrameKind::LegacyTry { .. } = self.control.top()?.kind {
            self.end_legacy_try()?;
        }
        let mut frame = self.control.pop()?;
        if self.control.depth() > 0 {
            self.env.unwind = self.control.top()?.unwind;
        }
        if self.reachable {
            let from = self.env.current_block()?;
            Self::add_incoming(
                &frame.results,
                self.stack.peek_n(frame.results.len())?,
                from,
            );
            self.env.b.build_unconditional_branch(frame.next)?;
            frame.reached = true;
        }
        if let FrameKind::If {
            else_block,
            params,
            has_else: false,
        } = &frame.kind
        {
            // No else: the false edge passes the parameters through as results.
            self.env.b.position_at_end(*else_block);
            Self::add_incoming(&frame.results, params, *else_block);
            self.env.b.build_unconditional_branch(frame.next)?;
            frame.reached = true;
        }
        self.stack.truncate(frame.height);
        if frame.reached {
            self.env.b.position_at_end(frame.next);
            self.reachable = true;
            if let FrameKind::Function = frame.kind {
                let values: Vec<BasicValueEnum> =
                    frame.results.iter().map(|p| p.as_basic_value()).collect();
                self.env.return_values(&values)?;
                self.reachable = false;
            } else {
                self.stack
                    .extend(frame.results.iter().map(|p| p.as_basic_value()));
            }
        } else {
            // SAFETY: nothing branches to `next` (`reached` is false) and nothing else refers
            // to it or its phis, so deleting it leaves no dangling use.
            unsafe { frame.next.delete() }.map_err(|()| internal("could not delete a block"))?;
            self.reachable = false;
        }
        Ok(())
    }

    pub(super) fn unreachable_operator(&mut self, op: &Operator<'_>) -> Result<()> {
        match op {
            Operator::Block { .. }
            | Operator::Loop { .. }
            | Operator::If { .. }
            | Operator::TryTable { .. }
            | Operator::Try { .. } => self.unreachable_depth += 1,
            Operator::Else if self.unreachable_depth == 0 => self.else_()?,
            Operator::Catch { tag_index } if self.unreachable_depth == 0 => {
                self.legacy_catch(Some(*tag_index))?
            }
            Operator::CatchAll if self.unreachable_depth == 0 => self.legacy_catch(None)?,
            Operator::Delegate { relative_depth } if self.unreachable_depth == 0 => {
                self.delegate(*relative_depth)?
            }
            Operator::End if self.unreachable_depth == 0 => self.end()?,
            Operator::End | Operator::Delegate { .. } => self.unreachable_depth -= 1,
            _ => {}
        }
        Ok(())
    }
}
