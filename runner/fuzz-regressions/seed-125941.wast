;; A store after a trapping load ran before the trap at -O3: LLVM moved a plain store to a
;; provably different address above the out-of-bounds `f64.load`, and the memory hash after
;; the trap differed. Stores are volatile since. Found by `hako fuzz` (seed 125941), shrunk;
;; the expectations are Wasmtime's outcomes.
(module $m0 binary "\00asm\01\00\00\00\01\06\01`\01{\01\7f\03\02\01\00\05\04\01\01\15\18\06/\06{\01\fd\0c\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\0b\7f\01A\00\0b\7f\01A\00\0b~\01B\00"
  "\0b~\01B\00\0b\7f\01A\03\0b\07\19\06\011\00\00\012\02\00\013\03\00\02T\10\03\01\00\03\02\01B\03\03\0a\9d\01\01\9a\01\01\01{#\05E\04@\00\0b#\05A\01k$\05\01B\ff"
  "\ff\ff\ff\ff\ff\ff}\c2B\00\89?\00C\00\fc\ff\ff\bb\03@#\05E\04@\00\0b#\05$\05\fd\0c\c6\12\ba\f7&\220\8f\87r\b0S\ab\d4\9f\16\fd\c3\012\01\9b\e9  \00A\ff\ff\d3"
  "\00+\01\ac\e2 \d0pA\b8\a3\86\f0\02EB\ff\ff\ff\ff\ff\ff\ff?=\00\9a\bd!\d0o\1a\1a\bd#\04\85$\04#\00\fdQ$\00#\03\85$\03\0b\bd#\04\85$\04#\02s$\02#\03"
  "\85$\03A\03\0b")
(assert_trap (invoke $m0 "1" (v128.const i32x4 0xbad8c037 0x7746a55f 0xa79a3b6c 0xb585f767)) "out of bounds memory access")
(assert_trap (invoke $m0 "1" (v128.const i32x4 0x8f9b887c 0xf6760a4 0x81e2a6e6 0xb2fb0d32)) "out of bounds memory access")
(register "m0_exports" $m0)
(module $m0_1 (import "m0_exports" "2" (memory 0))
  (func (export "hash") (result i64) (local $i i32) (local $end i32) (local $h i64)
    (local.set $h (i64.const 0xcbf29ce484222325))
    (local.set $end (i32.mul (memory.size) (i32.const 65536)))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
      (local.set $h (i64.mul (i64.xor (local.get $h) (i64.load (local.get $i)))
                             (i64.const 0x100000001b3)))
      (local.set $i (i32.add (local.get $i) (i32.const 8)))
      (br $next)))
    (local.get $h))
  (func (export "pages") (result i32) (memory.size)))
(assert_return (invoke $m0_1 "pages") (i32.const 21))
(assert_return (invoke $m0_1 "hash") (i64.const -9125499809308433627))
(assert_return (get $m0 "3") (v128.const i32x4 0x0 0x0 0x0 0x0))
(assert_return (get $m0 "T\10") (i32.const 0))
(assert_return (get $m0 "") (i32.const 0))
(assert_return (get $m0 "B") (i64.const 0))
