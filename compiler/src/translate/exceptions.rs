//! Exception handling: `throw`, `throw_ref`, `try_table` and the legacy `try`, `catch`,
//! `catch_all`, `delegate` and `rethrow`.
//!
//! Zero-cost when nothing is thrown: a try body costs nothing but its calls becoming
//! `invoke`s (the same code, plus an entry in the function's LSDA). A throw allocates the
//! exception (`hako_exn_alloc`) and raises it with the unwinder (`_Unwind_RaiseException`);
//! the personality routine (`hako_personality`, in the runtime) stops at any landing pad
//! (every pad is `catch ptr null`), whose code compares the exception's tag with each
//! clause's, in order, and raises it again when none matches. Exceptions caught without
//! an `exnref` are freed there; one an `exnref` may still name (`catch_ref`,
//! `catch_all_ref`, a legacy catch in a function with `rethrow`) is marked captured and
//! lives as long as the program.

use inkwell::basic_block::BasicBlock;
use inkwell::values::PointerValue;
use inkwell::IntPredicate;
use wasmparser::{BlockType, Catch, Operator, TryTable, ValType};

use super::FuncTranslator;
use crate::error::{internal, Result};
use crate::stack::FrameKind;
use hako_abi::trap::TrapCode;

impl<'ctx> FuncTranslator<'_, 'ctx, '_> {
    /// The parameter types of tag `index`.
    fn tag_params(&self, index: u32) -> Result<Vec<ValType>> {
        let info = &self.cx().info;
        let ty = info
            .tags
            .get(index as usize)
            .and_then(|t| info.types.get(*t as usize))
            .ok_or_else(|| internal("tag index"))?;
        Ok(ty.params().to_vec())
    }

    /// Branches to `yes` when exception `exn` has tag `index`, continues in a new block
    /// (returned) otherwise; the builder is left at `yes`.
    fn test_tag(&mut self, exn: PointerValue<'ctx>, index: u32) -> Result<BasicBlock<'ctx>> {
        let tag = self.env.exception_tag(exn)?;
        let want = self.env.tag_ptr(index)?;
        let eq = self
            .b()
            .build_int_compare(IntPredicate::EQ, tag, want, "")?;
        let yes = self.env.append_block("caught");
        let no = self.env.append_block("not_caught");
        self.b().build_conditional_branch(eq, yes, no)?;
        self.b().position_at_end(yes);
        Ok(no)
    }

    pub(super) fn try_table(&mut self, tt: TryTable) -> Result<()> {
        let (params, results) = self.block_sig(tt.ty)?;
        let pad = match tt.catches.is_empty() {
            true => self.env.unwind,
            false => {
                let here = self.env.current_block()?;
                let pad = self.env.append_block("try_table_pad");
                self.b().position_at_end(pad);
                let exn = self.env.landing_pad()?;
                let mut caught_all = false;
                for c in &tt.catches {
                    match *c {
                        Catch::One { tag, label } | Catch::OneRef { tag, label } => {
                            let no = self.test_tag(exn, tag)?;
                            let types = self.tag_params(tag)?;
                            let mut values = self.env.exception_values(exn, &types)?;
                            if let Catch::OneRef { .. } = c {
                                self.env.capture_exception(exn)?;
                                values.push(exn.into());
                            } else {
                                self.env.free_exception(exn)?;
                            }
                            self.br_values(label, &values)?;
                            self.b().position_at_end(no);
                        }
                        Catch::All { label } => {
                            self.env.free_exception(exn)?;
                            self.br_values(label, &[])?;
                            caught_all = true;
                            break;
                        }
                        Catch::AllRef { label } => {
                            self.env.capture_exception(exn)?;
                            self.br_values(label, &[exn.into()])?;
                            caught_all = true;
                            break;
                        }
                    }
                }
                if !caught_all {
                    // No clause matched: on to the enclosing handler (or the caller).
                    self.env.raise(exn)?;
                }
                self.b().position_at_end(here);
                Some(pad)
            }
        };
        self.enter(FrameKind::Block, params.len(), &results)?;
        self.control.top()?.unwind = pad;
        self.env.unwind = pad;
        Ok(())
    }

    pub(super) fn throw(&mut self, tag: u32) -> Result<()> {
        let types = self.tag_params(tag)?;
        let values = self.stack.pop_n(types.len())?;
        let exn = self.env.new_exception(tag, &types, &values)?;
        self.env.raise(exn)?;
        self.reachable = false;
        Ok(())
    }

    pub(super) fn throw_ref(&mut self) -> Result<()> {
        let exn = self.stack.pop_ptr()?;
        let is_null = self.b().build_is_null(exn, "")?;
        self.env.trap_if(is_null, TrapCode::NullReference)?;
        self.env.raise(exn)?;
        self.reachable = false;
        Ok(())
    }

    // ---- legacy ----

    pub(super) fn legacy_try(&mut self, bt: BlockType) -> Result<()> {
        let (params, results) = self.block_sig(bt)?;
        let here = self.env.current_block()?;
        let pad = self.env.append_block("try_pad");
        self.b().position_at_end(pad);
        let exn = self.env.landing_pad()?;
        self.b().position_at_end(here);
        self.enter(
            FrameKind::LegacyTry {
                exn,
                cursor: Some(pad),
                catching: false,
            },
            params.len(),
            &results,
        )?;
        self.control.top()?.unwind = Some(pad);
        self.env.unwind = Some(pad);
        Ok(())
    }

    /// `catch $tag` (`Some`) or `catch_all` (`None`): ends the try body or the previous
    /// clause, and starts a clause that the dispatch enters when the tag matches.
    pub(super) fn legacy_catch(&mut self, tag: Option<u32>) -> Result<()> {
        if self.reachable {
            let from = self.env.current_block()?;
            let frame = self.control.top()?;
            frame.reached = true;
            Self::add_incoming(
                &frame.results,
                self.stack.peek_n(frame.results.len())?,
                from,
            );
            self.env.b.build_unconditional_branch(frame.next)?;
        }
        let outer = self.control.frame(1)?.unwind;
        let keep = self.keeps_caught;
        let frame = self.control.top()?;
        let FrameKind::LegacyTry {
            exn,
            cursor,
            catching,
            ..
        } = &mut frame.kind
        else {
            return Err(internal("catch outside try"));
        };
        *catching = true;
        let (exn, at) = (*exn, cursor.take());
        frame.unwind = outer;
        let height = frame.height;
        self.env.unwind = outer;
        self.stack.truncate(height);
        let Some(at) = at else {
            // After `catch_all` (validation allows nothing after it): never entered.
            self.reachable = false;
            return Ok(());
        };
        self.b().position_at_end(at);
        let (values, next) = match tag {
            Some(t) => {
                let no = self.test_tag(exn, t)?;
                let types = self.tag_params(t)?;
                (self.env.exception_values(exn, &types)?, Some(no))
            }
            None => (Vec::new(), None),
        };
        if let FrameKind::LegacyTry { cursor, .. } = &mut self.control.top()?.kind {
            *cursor = next;
        }
        match keep {
            true => self.env.capture_exception(exn)?,
            false => self.env.free_exception(exn)?,
        }
        self.stack.extend(values);
        self.reachable = true;
        Ok(())
    }

    /// Before a legacy try's `end`: an exception no clause matched goes on to the
    /// enclosing handler.
    pub(super) fn end_legacy_try(&mut self) -> Result<()> {
        let outer = self.control.frame(1)?.unwind;
        let frame = self.control.top()?;
        let FrameKind::LegacyTry { exn, cursor, .. } = &mut frame.kind else {
            return Err(internal("not a try"));
        };
        let (exn, at) = (*exn, cursor.take());
        if let Some(at) = at {
            let here = self.env.current_block()?;
            self.b().position_at_end(at);
            self.env.unwind = outer;
            self.env.raise(exn)?;
            self.b().position_at_end(here);
        }
        Ok(())
    }

    /// `delegate $l`: ends the try; what its body throws goes to the handler in effect
    /// inside frame `$l` (the caller for the function's frame).
    pub(super) fn delegate(&mut self, depth: u32) -> Result<()> {
        let target = self.control.frame(depth + 1)?.unwind;
        let frame = self.control.top()?;
        let FrameKind::LegacyTry { exn, cursor, .. } = &mut frame.kind else {
            return Err(internal("delegate outside try"));
        };
        let (exn, at) = (*exn, cursor.take());
        if let Some(at) = at {
            let here = self.env.current_block()?;
            self.b().position_at_end(at);
            self.env.unwind = target;
            self.env.raise(exn)?;
            self.b().position_at_end(here);
        }
        self.end()
    }

    pub(super) fn rethrow(&mut self, depth: u32) -> Result<()> {
        let FrameKind::LegacyTry { exn, .. } = self.control.frame(depth)?.kind else {
            return Err(internal("rethrow outside catch"));
        };
        self.env.raise(exn)?;
        self.reachable = false;
        Ok(())
    }
}

/// Whether a function body has a `rethrow` (its legacy catches must keep the exception).
pub(super) fn has_rethrow(body: &wasmparser::FunctionBody<'_>) -> Result<bool> {
    let mut ops = body.get_operators_reader()?;
    while !ops.eof() {
        if let Operator::Rethrow { .. } = ops.read()? {
            return Ok(true);
        }
    }
    Ok(false)
}
