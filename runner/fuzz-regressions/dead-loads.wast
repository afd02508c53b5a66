;; Loads whose value nothing uses must still trap when out of bounds (minimal forms of the
;; mismatch `hako fuzz` found first, seed 18): LLVM deleted such loads, at every level.
(module (memory 0 26) (func (export "f") (drop (i32.load (i32.const 0)))))
(assert_trap (invoke "f") "out of bounds memory access")
(module (memory 0 26) (func (export "f") (drop (v128.load8x8_u (i32.const 0)))))
(assert_trap (invoke "f") "out of bounds memory access")
;; The value is left on the stack by a branch.
(module (memory 0 26) (func (export "f") (i32.const 0) (v128.load8x8_u) (br 0)))
(assert_trap (invoke "f") "out of bounds memory access")
(module (memory 1) (func (export "f") (param i32) (result i32)
  (block (result i32) (i32.load (local.get 0)) (i32.const 7) (br 0))))
(assert_trap (invoke "f" (i32.const 65534)) "out of bounds memory access")
(assert_return (invoke "f" (i32.const 0)) (i32.const 7))
;; The value only feeds arithmetic that folds away.
(module (memory 1) (func (export "f") (param i32) (result i32)
  (i32.mul (i32.load (local.get 0)) (i32.const 0))))
(assert_trap (invoke "f" (i32.const 65536)) "out of bounds memory access")
(assert_return (invoke "f" (i32.const 4)) (i32.const 0))
(module (memory 1) (func (export "f") (param i32) (result i64)
  (i64.and (i64.load (local.get 0)) (i64.const 0))))
(assert_trap (invoke "f" (i32.const -1)) "out of bounds memory access")
;; The value is used in one branch only (a load must not sink into it).
(module (memory 1) (func (export "f") (param i32 i32) (result i32) (local i32)
  (local.set 2 (i32.load (local.get 0)))
  (if (result i32) (local.get 1) (then (local.get 2)) (else (i32.const 0)))))
(assert_trap (invoke "f" (i32.const 65533) (i32.const 0)) "out of bounds memory access")
(assert_return (invoke "f" (i32.const 0) (i32.const 0)) (i32.const 0))
;; `unreachable` after the load: the out-of-bounds trap comes first.
(module (memory 1) (func (export "f") (param i32) (drop (i32.load (local.get 0))) (unreachable)))
(assert_trap (invoke "f" (i32.const 70000)) "out of bounds memory access")
(assert_trap (invoke "f" (i32.const 0)) "unreachable")
;; A store after a trapping load must not happen (stores stay after loads: see
;; seed-125941.wast).
(module (memory 1)
  (func (export "f") (param i32) (result f64) (local f64)
    (local.set 1 (f64.load offset=16 (local.get 0)))
    (i32.store16 (i32.const 8) (i32.const -1))
    (local.get 1))
  (func (export "peek") (result i32) (i32.load16_u (i32.const 8))))
(assert_trap (invoke "f" (i32.const 65530)) "out of bounds memory access")
(assert_return (invoke "peek") (i32.const 0))
