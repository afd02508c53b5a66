#!/usr/bin/env python3
"""Boot a hand-made script image (kernel script mode, see hako_abi::script) and check every
result line. Independent of the runner's spec pipeline:

  kernel/testdata/script_test.py [--hako PATH] [--keep DIR]

Needs a built `hako` binary (for `hako compile`, to turn .wat into objects), llvm-objcopy-19,
clang-19, ld.lld-19 and qemu-system-x86_64; the kernel is built with cargo (profile
`kernel`). Boots with TCG. Also checks a restart with `hako.script.resume=` / `.skip=`.
"""
import argparse
import os
import struct
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
I32, I64, F32, F64, FUNCREF, EXTERNREF = 0x7F, 0x7E, 0x7D, 0x7C, 0x70, 0x6F

M0 = r"""
(module
  (type $ii_i (func (param i32 i32) (result i32)))
  (memory (export "mem") 1 3)
  (table (export "tab") 4 10 funcref)
  (global (export "g") (mut i32) (i32.const 42))
  (global (export "gi") i64 (i64.const -1))
  (func $add (export "add") (type $ii_i) (i32.add (local.get 0) (local.get 1)))
  (func (export "div") (param i32 i32) (result i32) (i32.div_s (local.get 0) (local.get 1)))
  (func $rec (export "rec") (param i32) (result i32) (i32.add (call $rec (local.get 0)) (i32.const 1)))
  (func (export "load") (param i32) (result i32) (i32.load (local.get 0)))
  (func (export "f64") (result f64) (f64.const 1.5))
  (func (export "multi") (result i32 i64 f32) (i32.const 1) (i64.const 2) (f32.const 3))
  (func (export "ext") (param externref) (result externref) (local.get 0))
  (func (export "call") (param i32 i32 i32) (result i32)
    (call_indirect (type $ii_i) (local.get 0) (local.get 1) (local.get 2)))
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "tgrow") (param i32) (result i32) (table.grow (ref.null func) (local.get 0)))
  (func (export "tsize") (result i32) (table.size))
  (func (export "setg") (param i32) (global.set 0 (local.get 0)))
  (func $st (i32.store (i32.const 4) (i32.const 7)))
  (start $st)
  (elem (i32.const 0) $add)
  (data (i32.const 0) "\2a\00\00\00"))
"""

M1 = r"""
(module
  (import "M" "mem" (memory 1))
  (import "M" "tab" (table 4 funcref))
  (import "M" "g" (global $g (mut i32)))
  (import "M" "add" (func $add (param i32 i32) (result i32)))
  (import "spectest" "print_i32" (func $print (param i32)))
  (import "spectest" "global_i32" (global $sg i32))
  (elem (i32.const 1) $add)
  (func (export "padd") (param i32 i32) (result i32) (call $add (local.get 0) (local.get 1)))
  (func (export "useg") (result i32) (i32.add (global.get $g) (global.get $sg)))
  (func (export "print") (param i32) (call $print (local.get 0)))
  (func (export "wr") (param i32 i32) (i32.store (local.get 0) (local.get 1))))
"""

UNKNOWN = '(module (import "M" "nothing" (func)))'
BADFUNC = '(module (import "M" "add" (func (param i32))))'
BADMAX = '(module (import "M" "mem" (memory 1 2)))'
BIGMIN = '(module (import "M" "mem" (memory 2)))'
IMMUT = '(module (import "M" "g" (global i32)))'
SEGTRAP = r"""
(module
  (type $ii_i (func (param i32 i32) (result i32)))
  (import "M" "mem" (memory 1))
  (import "M" "tab" (table 4 funcref))
  (func $f (type $ii_i) (i32.const 77))
  (elem (i32.const 2) $f)
  (data (i32.const 0x20000) "x"))
"""
SPECTEST = r"""
(module
  (import "spectest" "print" (func))
  (import "spectest" "print_i64" (func (param i64)))
  (import "spectest" "print_f32" (func (param f32)))
  (import "spectest" "print_f64" (func (param f64)))
  (import "spectest" "print_i32_f32" (func (param i32 f32)))
  (import "spectest" "print_f64_f64" (func (param f64 f64)))
  (import "spectest" "global_i64" (global i64))
  (import "spectest" "global_f32" (global $f f32))
  (import "spectest" "global_f64" (global $d f64))
  (import "spectest" "table" (table 10 20 funcref))
  (import "spectest" "memory" (memory 1 2))
  (global (export "gf") f32 (global.get $f))
  (global (export "gd") f64 (global.get $d))
  (func (export "p") (param f64) (call 3 (local.get 0)))
  (func (export "msize") (result i32) (memory.size)))
"""
BADTABLE = '(module (import "spectest" "table" (table 15 funcref)))'
STARTTRAP = "(module (func $s unreachable) (start $s))"
PASSIVE = r"""
(module
  (type $v_i (func (result i32)))
  (table $t 5 funcref)
  (table $x 2 externref)
  (memory 1)
  (func $a (type $v_i) (i32.const 1))
  (func $b (type $v_i) (i32.const 2))
  (elem $e func $a $b)
  (data $d "abc")
  (func (export "tinit") (param i32 i32 i32) (table.init $t $e (local.get 0) (local.get 1) (local.get 2)))
  (func (export "callt") (param i32) (result i32) (call_indirect $t (type $v_i) (local.get 0)))
  (func (export "edrop") (elem.drop $e))
  (func (export "minit") (param i32 i32 i32) (memory.init $d (local.get 0) (local.get 1) (local.get 2)))
  (func (export "ddrop") (data.drop $d))
  (func (export "ld8") (param i32) (result i32) (i32.load8_u (local.get 0)))
  (func (export "xset") (param i32 externref) (table.set $x (local.get 0) (local.get 1)))
  (func (export "xget") (param i32) (result externref) (table.get $x (local.get 0))))
"""
HUGE = "(module (memory 8000))"

MODULES = [M0, M1, UNKNOWN, BADFUNC, BADMAX, BIGMIN, IMMUT, SEGTRAP, SPECTEST, BADTABLE,
           STARTTRAP, PASSIVE, HUGE]


def i32(v):
    return (I32, v & 0xFFFFFFFF)


def ext(n):
    return (EXTERNREF, n + 1)


# (id, command, expected line after "r <id> ")
SCRIPT = [
    (0, ("inst", 0), "instantiated"),
    (1, ("invoke", 0, "add", [i32(2), i32(3)]), "ok i32:00000005"),
    (2, ("invoke", 0, "div", [i32(1), i32(0)]), "trap 1 integer divide by zero"),
    (3, ("invoke", 0, "rec", [i32(0)]), "trap 9 call stack exhausted"),
    (4, ("invoke", 0, "add", [i32(4), i32(5)]), "ok i32:00000009"),
    (5, ("invoke", 0, "load", [i32(4)]), "ok i32:00000007"),
    (6, ("invoke", 0, "load", [i32(65536)]), "trap 4 out of bounds memory access"),
    (7, ("invoke", 0, "f64", []), "ok f64:3ff8000000000000"),
    (8, ("invoke", 0, "multi", []), "ok i32:00000001 i64:0000000000000002 f32:40400000"),
    (9, ("invoke", 0, "ext", [ext(5)]), "ok externref:0000000000000006"),
    (10, ("get", 0, "g"), "ok i32:0000002a"),
    (11, ("get", 0, "gi"), "ok i64:ffffffffffffffff"),
    (12, ("invoke", 0, "call", [i32(2), i32(3), i32(0)]), "ok i32:00000005"),
    (13, ("invoke", 0, "call", [i32(2), i32(3), i32(1)]), "trap 6 uninitialized element"),
    (14, ("invoke", 0, "call", [i32(2), i32(3), i32(10)]), "trap 7 undefined element"),
    (15, ("register", 0, "M"), "ok"),
    (16, ("inst", 1), "instantiated"),
    (17, ("invoke", 16, "padd", [i32(1), i32(2)]), "ok i32:00000003"),
    (18, ("invoke", 0, "call", [i32(10), i32(20), i32(1)]), "ok i32:0000001e"),
    (19, ("invoke", 0, "setg", [i32(100)]), "ok"),
    (20, ("invoke", 16, "useg", []), "ok i32:000002fe"),
    (21, ("invoke", 16, "print", [i32(5)]), "ok"),
    (22, ("invoke", 16, "wr", [i32(8), i32(99)]), "ok"),
    (23, ("invoke", 0, "load", [i32(8)]), "ok i32:00000063"),
    (24, ("inst", 2), "unlinkable unknown import M.nothing"),
    (25, ("inst", 3), "unlinkable incompatible import type for M.add: function type differs"),
    (26, ("inst", 4), "unlinkable incompatible import type for M.mem: limits do not match"),
    (27, ("inst", 5), "unlinkable incompatible import type for M.mem: limits do not match"),
    (28, ("invoke", 0, "grow", [i32(1)]), "ok i32:00000001"),
    (29, ("inst", 5), "instantiated"),
    (30, ("inst", 6), "unlinkable incompatible import type for M.g: global mutability differs"),
    (31, ("inst", 7), "trap 13 out of bounds memory access"),
    (32, ("invoke", 0, "call", [i32(0), i32(0), i32(2)]), "ok i32:0000004d"),
    (33, ("inst", 8), "instantiated"),
    (34, ("get", 33, "gf"), "ok f32:4426a666"),
    (35, ("get", 33, "gd"), "ok f64:4084d4cccccccccd"),
    (36, ("invoke", 33, "p", [(F64, 0x3FF0000000000000)]), "ok"),
    (37, ("invoke", 33, "msize", []), "ok i32:00000001"),
    (38, ("inst", 9), "unlinkable incompatible import type for spectest.table: limits do not match"),
    (39, ("inst", 10), "trap 0 unreachable"),
    (40, ("invoke", 0, "tgrow", [i32(3)]), "ok i32:00000004"),
    (41, ("invoke", 0, "tsize", []), "ok i32:00000007"),
    (42, ("invoke", 0, "tgrow", [i32(100)]), "ok i32:ffffffff"),
    (43, ("invoke", 39, "x", []), "error no instance 39 (its instantiation failed)"),
    (44, ("invoke", 0, "nope", []), "error no export `nope`"),
    (45, ("invoke", 0, "add", [i32(1)]), "error 1 arguments given, the function takes 2"),
    (46, ("inst", 11), "instantiated"),
    (47, ("invoke", 46, "tinit", [i32(0), i32(0), i32(2)]), "ok"),
    (48, ("invoke", 46, "callt", [i32(1)]), "ok i32:00000002"),
    (49, ("invoke", 46, "edrop", []), "ok"),
    (50, ("invoke", 46, "tinit", [i32(0), i32(0), i32(0)]), "ok"),
    (51, ("invoke", 46, "tinit", [i32(0), i32(0), i32(1)]), "trap 5 out of bounds table access"),
    (52, ("invoke", 46, "minit", [i32(0), i32(1), i32(2)]), "ok"),
    (53, ("invoke", 46, "ld8", [i32(0)]), "ok i32:00000062"),
    (54, ("invoke", 46, "ddrop", []), "ok"),
    (55, ("invoke", 46, "minit", [i32(0), i32(0), i32(1)]), "trap 4 out of bounds memory access"),
    (56, ("invoke", 46, "minit", [i32(65536), i32(0), i32(0)]), "ok"),
    (57, ("invoke", 46, "minit", [i32(65537), i32(0), i32(0)]), "trap 4 out of bounds memory access"),
    (58, ("invoke", 46, "xset", [i32(1), ext(3)]), "ok"),
    (59, ("invoke", 46, "xget", [i32(1)]), "ok externref:0000000000000004"),
    (60, ("invoke", 46, "xget", [i32(0)]), "ok externref:0000000000000000"),
    (61, ("inst", 12), "error out of memory for a memory of 8000 pages"),
    (62, ("invoke", 0, "rec", [i32(0)]), "trap 9 call stack exhausted"),
    (63, ("invoke", 0, "add", [i32(1), i32(1)]), "ok i32:00000002"),
]


def name(s):
    b = s.encode()
    return struct.pack("<I", len(b)) + b


def encode(script):
    out = b"HKSC" + struct.pack("<II", 1, len(script))
    for cid, cmd, _ in script:
        kind = cmd[0]
        if kind == "inst":
            out += struct.pack("<BII", 1, cid, cmd[1])
        elif kind == "register":
            out += struct.pack("<BII", 2, cid, cmd[1]) + name(cmd[2])
        elif kind == "invoke":
            out += struct.pack("<BII", 3, cid, cmd[1]) + name(cmd[2])
            out += struct.pack("<I", len(cmd[3]))
            for t, bits in cmd[3]:
                out += bytes([t]) + bits.to_bytes(16, "little")
        elif kind == "get":
            out += struct.pack("<BII", 4, cid, cmd[1]) + name(cmd[2])
    return out


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{r.stdout}{r.stderr}")
    return r


def boot(work, elf, append):
    rec = os.path.join(work, "rec.txt")
    if os.path.exists(rec):
        os.remove(rec)
    r = subprocess.run(
        ["timeout", "120", "qemu-system-x86_64", "-M", "microvm,x-option-roms=off,isa-serial=off,rtc=on",
         "-accel", "tcg", "-cpu", "max", "-m", "512M", "-nodefaults", "-no-user-config",
         "-display", "none", "-no-reboot",
         "-chardev", f"file,id=c1,path={work}/out.txt", "-device", "isa-serial,chardev=c1,iobase=0x3f8,irq=4",
         "-chardev", f"file,id=c3,path={rec}", "-device", "isa-serial,chardev=c3,iobase=0x3e8,irq=6",
         "-device", "isa-debug-exit,iobase=0xf4,iosize=4", "-kernel", elf, "-append", append],
        capture_output=True, text=True)
    with open(rec) as f:
        return r.returncode, f.read().splitlines()


def check(lines, status, script, resume=0, skip=()):
    want = [f"r {cid} {exp}" for cid, _, exp in script if cid >= resume and cid not in skip]
    want.append("done")
    ok = status == 33 and lines == want
    if not ok:
        print(f"QEMU status {status}")
        for i in range(max(len(want), len(lines))):
            w = want[i] if i < len(want) else "<nothing>"
            g = lines[i] if i < len(lines) else "<nothing>"
            print(("   " if w == g else "!! ") + f"want {w!r}\n   got  {g!r}")
    return ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hako", default=os.path.join(ROOT, "target/debug/hako"))
    ap.add_argument("--keep")
    a = ap.parse_args()
    work = a.keep or tempfile.mkdtemp(prefix="hako-script-")
    os.makedirs(work, exist_ok=True)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target/h-kernel"))
    run(["cargo", "build", "-q", "-p", "hako-kernel", "--target", "x86_64-unknown-none",
         "--profile", "kernel", "--manifest-path", os.path.join(ROOT, "Cargo.toml")],
        env=dict(os.environ, CARGO_TARGET_DIR=target))
    lib = os.path.join(target, "x86_64-unknown-none/kernel/libhako_kernel.a")
    objs = []
    for i, text in enumerate(MODULES):
        wat = os.path.join(work, f"m{i}.wat")
        obj = os.path.join(work, f"m{i}.o")
        with open(wat, "w") as f:
            f.write(text)
        run([a.hako, "compile", "-O1", wat, "-o", obj])
        # `hako compile` uses the program prefix; the descriptor is the only global symbol.
        run(["llvm-objcopy-19", f"--redefine-sym=hako_main_module=hako_spec_m{i}_module", obj])
        objs.append(obj)
    body = encode(SCRIPT)
    c = ["#include <stdint.h>",
         "typedef struct { const void *ptr; uint64_t len; } Slice;",
         "typedef struct { uint32_t magic, abi_version, kind, pad; Slice modules, script; } ImageManifest;"]
    c += [f"extern const char hako_spec_m{i}_module[];" for i in range(len(MODULES))]
    c.append("static const void *const modules[] = {" +
             ", ".join(f"hako_spec_m{i}_module" for i in range(len(MODULES))) + "};")
    c.append("static const uint8_t script[] = {" + ",".join(str(b) for b in body) + "};")
    c.append("const ImageManifest hako_image_manifest = { 0x4f4b4148u, 1, 1, 0, "
             f"{{ modules, {len(MODULES)} }}, {{ script, sizeof script }} }};")
    src = os.path.join(work, "manifest.c")
    with open(src, "w") as f:
        f.write("\n".join(c) + "\n")
    man = os.path.join(work, "manifest.o")
    run(["clang-19", "--target=x86_64-unknown-none-elf", "-ffreestanding", "-fno-pic", "-O1",
         "-c", src, "-o", man])
    elf = os.path.join(work, "script.elf")
    run(["ld.lld-19", "-T", os.path.join(ROOT, "kernel/link.ld"), "--gc-sections", "-e",
         "hako_pvh_start", man, *objs, lib, "-o", elf])

    ok = True
    status, lines = boot(work, elf, "")
    ok &= check(lines, status, SCRIPT)
    print(("ok  " if ok else "FAIL") + f" full script: {len(lines)} lines")
    # Restart: commands before 20 run silently (19 sets the global 20 reads), 21 and 62
    # are skipped.
    status, lines = boot(work, elf, "hako.script.resume=20 hako.script.skip=21 hako.script.skip=62")
    ok2 = check(lines, status, SCRIPT, resume=20, skip=(21, 62))
    print(("ok  " if ok2 else "FAIL") + " resumed at 20, skipping 21 and 62")
    sys.exit(0 if ok and ok2 else 1)


if __name__ == "__main__":
    main()
