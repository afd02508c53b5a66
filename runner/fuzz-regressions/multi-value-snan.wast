;; A signalling NaN among several results came back quiet at -O0 to -O2: the x86-64 C
;; convention returned the third and fourth float results on the x87 stack, whose loads
;; quiet it. Several results now carry floats as integers. Found by `hako fuzz` (seed
;; 106156), reduced by hand.
(module (func (export "f") (result v128 v128 f32 f32)
  (v128.const i32x4 1 2 3 4) (v128.const i32x4 5 6 7 8)
  (f32.const -nan:0x1b8667) (f32.const nan:0x1)))
(assert_return (invoke "f") (v128.const i32x4 1 2 3 4) (v128.const i32x4 5 6 7 8)
  (f32.const -nan:0x1b8667) (f32.const nan:0x1))
(module
  (func $g (param f64) (result f64 f64 f64 f32 f32 f32)
    (local.get 0) (local.get 0) (local.get 0)
    (f32.const nan:0x200000) (f32.const -nan:0x1) (f32.const 2))
  (func (export "f") (param f64) (result f64 f64 f64 f32 f32 f32) (call $g (local.get 0))))
(assert_return (invoke "f" (f64.const nan:0x4000000000001))
  (f64.const nan:0x4000000000001) (f64.const nan:0x4000000000001) (f64.const nan:0x4000000000001)
  (f32.const nan:0x200000) (f32.const -nan:0x1) (f32.const 2))
