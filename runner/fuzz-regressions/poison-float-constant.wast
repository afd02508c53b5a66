;; The compiler crashed (SIGSEGV in LLVM) on a float operator whose operand is the `poison`
;; an always-trapping conversion leaves behind: its check for ±0/±1 immediates read the
;; poison as a float constant. Found by `hako fuzz` (seed 1592590423), reduced by hand.
(module (func (export "f") (result f64)
  (f64.add (f64.convert_i64_s (i64.trunc_f32_u (f32.const -0x1.fffffep+64))) (f64.const 1))))
(assert_trap (invoke "f") "integer overflow")
(module (func (export "g") (result f32)
  (f32.mul (f32.const 1) (f32.convert_i32_s (i32.trunc_f64_s (f64.const nan))))))
(assert_trap (invoke "g") "invalid conversion to integer")
