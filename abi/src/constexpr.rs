//! The constant-expression evaluator (global initialisers, segment offsets and element
//! items), for [`crate::module::ConstExpr`] programs. The kernel evaluates them at
//! instantiation; the compiler evaluates them ahead of time for a prebuilt instance
//! ([`crate::module::Prebuilt`]), with the same code, so the two cannot disagree.

use crate::module::{const_op, ConstOp};
use crate::vm::ValRaw;

/// What a constant expression may refer to.
pub trait ConstEnv {
    /// The current value of global `index`, if it exists (and may be read).
    fn global(&self, index: u32) -> Option<ValRaw>;
    /// The reference value of function `index` (for the kernel a `*const FuncRef` as an
    /// integer; any non-zero encoding the environment can decode, since `ref.null` is 0).
    fn func_ref(&self, index: u32) -> Option<u64>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConstError {
    /// An operator code the evaluator does not know.
    UnknownOp(u32),
    /// The program popped more than it pushed, or left other than one value.
    StackMismatch,
    /// `global.get`/`ref.func` with an index that does not exist.
    BadIndex(u32),
}

const STACK: usize = 32;

/// Evaluate `ops` to its single result.
pub fn eval(ops: &[ConstOp], env: &impl ConstEnv) -> Result<ValRaw, ConstError> {
    let mut stack = [ValRaw::default(); STACK];
    let mut sp = 0usize;
    for op in ops {
        let v = match op.op {
            const_op::I32_CONST | const_op::F32_CONST => ValRaw::from_u32(op.imm[0] as u32),
            const_op::I64_CONST | const_op::F64_CONST => ValRaw::from_u64(op.imm[0]),
            const_op::V128_CONST => {
                ValRaw::from_u128(op.imm[0] as u128 | (op.imm[1] as u128) << 64)
            }
            const_op::GLOBAL_GET => {
                let i = op.imm[0] as u32;
                env.global(i).ok_or(ConstError::BadIndex(i))?
            }
            const_op::REF_NULL => ValRaw::from_u64(0),
            const_op::REF_FUNC => {
                let i = op.imm[0] as u32;
                ValRaw::from_u64(env.func_ref(i).ok_or(ConstError::BadIndex(i))?)
            }
            const_op::I32_ADD..=const_op::I64_MUL => {
                if sp < 2 {
                    return Err(ConstError::StackMismatch);
                }
                let (a, b) = (stack[sp - 2], stack[sp - 1]);
                sp -= 2;
                match op.op {
                    const_op::I32_ADD => ValRaw::from_u32(a.u32().wrapping_add(b.u32())),
                    const_op::I32_SUB => ValRaw::from_u32(a.u32().wrapping_sub(b.u32())),
                    const_op::I32_MUL => ValRaw::from_u32(a.u32().wrapping_mul(b.u32())),
                    const_op::I64_ADD => ValRaw::from_u64(a.u64().wrapping_add(b.u64())),
                    const_op::I64_SUB => ValRaw::from_u64(a.u64().wrapping_sub(b.u64())),
                    _ => ValRaw::from_u64(a.u64().wrapping_mul(b.u64())),
                }
            }
            other => return Err(ConstError::UnknownOp(other)),
        };
        if sp == STACK {
            return Err(ConstError::StackMismatch);
        }
        stack[sp] = v;
        sp += 1;
    }
    if sp != 1 {
        return Err(ConstError::StackMismatch);
    }
    Ok(stack[0])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::module::const_op::*;

    struct Env;
    impl ConstEnv for Env {
        fn global(&self, i: u32) -> Option<ValRaw> {
            (i == 0).then(|| ValRaw::from_u64(40))
        }
        fn func_ref(&self, i: u32) -> Option<u64> {
            (i < 3).then(|| 0x1000 + 32 * i as u64)
        }
    }
    fn op(op: u32, a: u64) -> ConstOp {
        ConstOp {
            op,
            _pad: 0,
            imm: [a, 0],
        }
    }

    #[test]
    fn constants() {
        assert_eq!(
            eval(&[op(I32_CONST, 0xffff_ffff)], &Env).unwrap(),
            ValRaw::from_u32(u32::MAX)
        );
        assert_eq!(eval(&[op(I64_CONST, 7)], &Env).unwrap().u64(), 7);
        assert_eq!(
            eval(&[op(F64_CONST, 0x4000_0000_0000_0000)], &Env)
                .unwrap()
                .u64(),
            0x4000_0000_0000_0000
        );
        let v = ConstOp {
            op: V128_CONST,
            _pad: 0,
            imm: [1, 2],
        };
        assert_eq!(eval(&[v], &Env).unwrap().u128(), 1 | 2 << 64);
        assert_eq!(eval(&[op(REF_NULL, 0x70)], &Env).unwrap().u64(), 0);
        assert_eq!(eval(&[op(REF_FUNC, 2)], &Env).unwrap().u64(), 0x1040);
        assert_eq!(eval(&[op(REF_FUNC, 3)], &Env), Err(ConstError::BadIndex(3)));
    }

    #[test]
    fn extended_const_arithmetic() {
        let p = [
            op(GLOBAL_GET, 0),
            op(I32_CONST, 2),
            op(I32_ADD, 0),
            op(I32_CONST, 3),
            op(I32_MUL, 0),
        ];
        assert_eq!(eval(&p, &Env).unwrap().u32(), 126);
        let p = [op(I32_CONST, 0), op(I32_CONST, 1), op(I32_SUB, 0)];
        assert_eq!(eval(&p, &Env).unwrap(), ValRaw::from_u32(u32::MAX));
        let p = [op(I64_CONST, 1 << 63), op(I64_CONST, 2), op(I64_MUL, 0)];
        assert_eq!(eval(&p, &Env).unwrap().u64(), 0);
        let p = [op(I64_CONST, 5), op(I64_CONST, 7), op(I64_SUB, 0)];
        assert_eq!(eval(&p, &Env).unwrap().u64(), (-2i64) as u64);
    }

    #[test]
    fn malformed() {
        assert_eq!(eval(&[], &Env), Err(ConstError::StackMismatch));
        assert_eq!(
            eval(&[op(I32_ADD, 0)], &Env),
            Err(ConstError::StackMismatch)
        );
        assert_eq!(
            eval(&[op(I32_CONST, 0), op(I32_CONST, 0)], &Env),
            Err(ConstError::StackMismatch)
        );
        assert_eq!(eval(&[op(99, 0)], &Env), Err(ConstError::UnknownOp(99)));
        assert_eq!(
            eval(&[op(GLOBAL_GET, 1)], &Env),
            Err(ConstError::BadIndex(1))
        );
    }
}
