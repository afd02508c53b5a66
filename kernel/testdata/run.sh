#!/bin/sh
# Boot the kernel with the fake module variants on QEMU microvm and check the outcome.
#   kernel/testdata/run.sh [kvm|tcg]   (needs clang-19, ld.lld-19, qemu-system-x86_64)
set -eu
MODE=${1:-tcg}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TD="$ROOT/kernel/testdata"
OUT=${OUT:-$ROOT/target/h-kernel/fake}
mkdir -p "$OUT"
CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target/h-kernel} cargo build -q -p hako-kernel \
    --target x86_64-unknown-none --profile kernel --manifest-path "$ROOT/Cargo.toml"
LIB=${CARGO_TARGET_DIR:-$ROOT/target/h-kernel}/x86_64-unknown-none/kernel/libhako_kernel.a
if [ "$MODE" = kvm ]; then ACCEL="-enable-kvm -cpu host,-arch-capabilities"; else ACCEL="-accel tcg -cpu max"; fi

pass=0; fail=0
check() { # variant expected-qemu-status expected-last-record [expected stdout]
    v=$1; want_status=$2; want_rec=$3; want_out=${4:-}
    clang-19 --target=x86_64-unknown-none-elf -ffreestanding -fno-pic -mcmodel=small -O1 \
        -DVARIANT="$v" -c "$TD/fake_module.c" -o "$OUT/fake$v.o"
    ld.lld-19 -T "$ROOT/kernel/link.ld" --gc-sections -e hako_pvh_start "$OUT/fake$v.o" "$LIB" -o "$OUT/t$v.elf"
    rm -f "$OUT/out$v.txt" "$OUT/err$v.txt" "$OUT/rec$v.txt"
    set +e
    timeout 60 qemu-system-x86_64 -M microvm,x-option-roms=off,rtc=on $ACCEL -m 512M -nodefaults -no-user-config \
        -nographic -no-reboot \
        -chardev file,id=c1,path="$OUT/out$v.txt" -device isa-serial,chardev=c1,iobase=0x3f8,irq=4 \
        -chardev file,id=c2,path="$OUT/err$v.txt" -device isa-serial,chardev=c2,iobase=0x2f8,irq=3 \
        -chardev file,id=c3,path="$OUT/rec$v.txt" -device isa-serial,chardev=c3,iobase=0x3e8,irq=6 \
        -device isa-debug-exit,iobase=0xf4,iosize=4 \
        -kernel "$OUT/t$v.elf" -append "hako.arg=prog hako.arg=two%20words hako.env=A=1"
    status=$?
    set -e
    rec=$(tail -n 1 "$OUT/rec$v.txt" 2>/dev/null || true)
    ok=1
    [ "$status" = "$want_status" ] || ok=0
    case "$rec" in $want_rec) ;; *) ok=0 ;; esac
    if [ -n "$want_out" ] && [ "$(cat "$OUT/out$v.txt")" != "$(printf "$want_out")" ]; then ok=0; fi
    if [ $ok = 1 ]; then pass=$((pass+1)); echo "ok   variant $v: $rec";
    else fail=$((fail+1)); echo "FAIL variant $v: status $status, records:"; cat "$OUT/rec$v.txt"; echo "stdout:"; cat "$OUT/out$v.txt"; fi
}
check 0 33 "exit 0" 'Hello from hako!\n104\n42\n1\n3\n0\nprog\ntwo words\n'
check 1 33 "exit 7" 'Hello from hako!\n'
check 2 33 "trap 0 unreachable"
check 3 33 "trap 4 out of bounds memory access"
check 4 33 "trap 9 call stack exhausted"
check 5 33 "trap 13 out of bounds memory access"
check 6 33 "trap 11 call to an unresolved import"
check 7 35 "panic cpu exception 14 *"
echo "$pass passed, $fail failed"
[ $fail = 0 ]
