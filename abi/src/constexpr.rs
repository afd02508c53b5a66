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
    /// A new GC object: a struct of type `type_index` with `fields`, or an array of that
    /// type with `elements` (`None`: every element the default value; `Some` with one value
    /// and `len`: that value). `Err` with the trap when it cannot be allocated, `Ok(None)`
    /// when this environment cannot allocate (the compiler's ahead-of-time evaluation).
    fn alloc(
        &mut self,
        type_index: u32,
        values: Alloc<'_>,
    ) -> Result<Option<u64>, crate::trap::TrapCode> {
        let _ = (type_index, values);
        Ok(None)
    }
}

/// What [`ConstEnv::alloc`] allocates.
#[derive(Debug, Clone, Copy)]
pub enum Alloc<'a> {
    /// A struct with these fields (none: every field the default).
    Struct(Option<&'a [ValRaw]>),
    /// An array of `len` copies of `value` (`None`: the default).
    Array { value: Option<ValRaw>, len: u32 },
    /// An array of these elements.
    Fixed(&'a [ValRaw]),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConstError {
    /// An operator code the evaluator does not know.
    UnknownOp(u32),
    /// The program popped more than it pushed, or left other than one value.
    StackMismatch,
    /// `global.get`/`ref.func` with an index that does not exist.
    BadIndex(u32),
    /// An allocation trapped.
    Trap(crate::trap::TrapCode),
    /// The environment cannot evaluate this expression (it allocates).
    Unavailable,
}

const STACK: usize = 64;

/// Evaluate `ops` to its single result.
pub fn eval(ops: &[ConstOp], env: &mut impl ConstEnv) -> Result<ValRaw, ConstError> {
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
            const_op::STRUCT_NEW | const_op::ARRAY_NEW_FIXED => {
                let n = op.imm[1] as usize;
                if sp < n {
                    return Err(ConstError::StackMismatch);
                }
                sp -= n;
                let values = &stack[sp..sp + n];
                let what = match op.op {
                    const_op::STRUCT_NEW => Alloc::Struct(Some(values)),
                    _ => Alloc::Fixed(values),
                };
                alloc(env, op.imm[0] as u32, what)?
            }
            const_op::STRUCT_NEW_DEFAULT => alloc(env, op.imm[0] as u32, Alloc::Struct(None))?,
            const_op::ARRAY_NEW | const_op::ARRAY_NEW_DEFAULT => {
                let with_value = op.op == const_op::ARRAY_NEW;
                let need = 1 + usize::from(with_value);
                if sp < need {
                    return Err(ConstError::StackMismatch);
                }
                let len = stack[sp - 1].u32();
                let value = with_value.then(|| stack[sp - 2]);
                sp -= need;
                alloc(env, op.imm[0] as u32, Alloc::Array { value, len })?
            }
            const_op::REF_I31 | const_op::CONVERT => {
                if sp < 1 {
                    return Err(ConstError::StackMismatch);
                }
                sp -= 1;
                match op.op {
                    const_op::REF_I31 => ValRaw::from_u64(
                        (u64::from(stack[sp].u32()) << 1 | crate::gc::I31_TAG) & 0xffff_ffff,
                    ),
                    _ => stack[sp],
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

fn alloc(env: &mut impl ConstEnv, type_index: u32, what: Alloc<'_>) -> Result<ValRaw, ConstError> {
    match env.alloc(type_index, what) {
        Ok(Some(p)) => Ok(ValRaw::from_u64(p)),
        Ok(None) => Err(ConstError::Unavailable),
        Err(t) => Err(ConstError::Trap(t)),
    }
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
            eval(&[op(I32_CONST, 0xffff_ffff)], &mut Env).unwrap(),
            ValRaw::from_u32(u32::MAX)
        );
        assert_eq!(eval(&[op(I64_CONST, 7)], &mut Env).unwrap().u64(), 7);
        assert_eq!(
            eval(&[op(F64_CONST, 0x4000_0000_0000_0000)], &mut Env)
                .unwrap()
                .u64(),
            0x4000_0000_0000_0000
        );
        let v = ConstOp {
            op: V128_CONST,
            _pad: 0,
            imm: [1, 2],
        };
        assert_eq!(eval(&[v], &mut Env).unwrap().u128(), 1 | 2 << 64);
        assert_eq!(eval(&[op(REF_NULL, 0x70)], &mut Env).unwrap().u64(), 0);
        assert_eq!(eval(&[op(REF_FUNC, 2)], &mut Env).unwrap().u64(), 0x1040);
        assert_eq!(
            eval(&[op(REF_FUNC, 3)], &mut Env),
            Err(ConstError::BadIndex(3))
        );
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
        assert_eq!(eval(&p, &mut Env).unwrap().u32(), 126);
        let p = [op(I32_CONST, 0), op(I32_CONST, 1), op(I32_SUB, 0)];
        assert_eq!(eval(&p, &mut Env).unwrap(), ValRaw::from_u32(u32::MAX));
        let p = [op(I64_CONST, 1 << 63), op(I64_CONST, 2), op(I64_MUL, 0)];
        assert_eq!(eval(&p, &mut Env).unwrap().u64(), 0);
        let p = [op(I64_CONST, 5), op(I64_CONST, 7), op(I64_SUB, 0)];
        assert_eq!(eval(&p, &mut Env).unwrap().u64(), (-2i64) as u64);
    }

    #[test]
    fn malformed() {
        assert_eq!(eval(&[], &mut Env), Err(ConstError::StackMismatch));
        assert_eq!(
            eval(&[op(I32_ADD, 0)], &mut Env),
            Err(ConstError::StackMismatch)
        );
        assert_eq!(
            eval(&[op(I32_CONST, 0), op(I32_CONST, 0)], &mut Env),
            Err(ConstError::StackMismatch)
        );
        assert_eq!(eval(&[op(99, 0)], &mut Env), Err(ConstError::UnknownOp(99)));
        assert_eq!(
            eval(&[op(GLOBAL_GET, 1)], &mut Env),
            Err(ConstError::BadIndex(1))
        );
    }
}
