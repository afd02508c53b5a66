#!/usr/bin/env bash
# Installs what hako needs on a Debian machine, skipping what is already there:
# LLVM 19 (compiler), clang 19 + wasi-libc (C fixtures), lld 19 (linking images),
# QEMU (booting them), curl (the networking tests' HTTP client), wrk (`hako bench --net`'s
# load generator), protoc (building the containerd shim's gRPC client), iproute2 (`ip` and
# `tc`: the shim connects a container's network namespace to its guest), containerd 1.7.7 or
# later (the shim's end-to-end tests and `hako bench --containerd`), and Rust's
# x86_64-unknown-none (the kernel), x86_64-unknown-linux-musl (the Linux target's runtime)
# and wasm32-wasip1 (the Rust guest programs of fixtures/net/) targets, and Node.js with npm
# (MoonBit's compiler, for the Wasm GC test programs) when `node` or `npm` is missing.
#
# Options:
#   --browser   also install Debian's `chromium`, for the headless check of the conformance
#               report page (`.ci/nightly`, `runner/tests/report_browser.rs`). Not needed
#               for building or for `cargo test --workspace`; the regular CI does not use it.
set -euo pipefail

packages=(llvm-19-dev libpolly-19-dev clang-19 lld-19 qemu-system-x86 wasi-libc
          libclang-rt-19-dev-wasm32 libzstd-dev zlib1g-dev curl wrk protobuf-compiler iproute2)
# Node.js and npm run MoonBit's compiler (runner/tests/moonbit.rs, scripts/build-moonbit-wasmgc.sh),
# whatever package provides them.
command -v node >/dev/null || packages+=(nodejs)
command -v npm >/dev/null || packages+=(npm)
for arg in "$@"; do
    case "$arg" in
        --browser) packages+=(chromium) ;;
        *) echo "setup: unknown option $arg (known: --browser)" >&2; exit 2 ;;
    esac
done
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}"
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || { echo "setup: need root or sudo to install ${missing[*]}" >&2; exit 1; }
        sudo=sudo
    fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# containerd: 1.7.7 or later runs images whose layers are not all file systems (runwasi's
# image layout, with the module as a Wasm layer); Debian 12 has 1.6.20, Debian 13 1.7.24.
# On Debian 12, containerd alone is taken from Debian 13 (its only dependencies, runc and
# libc6, are satisfied by Debian 12's), with a pin that keeps every other package on the
# system's own release.
containerd_ok() {
    local v
    v=$(dpkg-query -W -f='${Version}' containerd 2>/dev/null) || return 1
    dpkg --compare-versions "$v" ge 1.7.7
}
if ! containerd_ok; then
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo=sudo
    if [ "$(. /etc/os-release && echo "${VERSION_CODENAME:-}")" = bookworm ]; then
        echo "setup: installing containerd from Debian 13 (trixie), pinned to that package alone"
        $sudo tee /etc/apt/sources.list.d/hako-trixie.sources >/dev/null <<'SOURCES'
# Added by hako's scripts/setup.sh: Debian 13's containerd (1.7.7 or later runs images whose
# layers are not all file systems). The pin in /etc/apt/preferences.d/hako-trixie keeps every
# other package on this system's release.
Types: deb
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
        $sudo tee /etc/apt/preferences.d/hako-trixie >/dev/null <<'PIN'
Package: *
Pin: release n=trixie
Pin-Priority: 100
PIN
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq containerd/trixie >/dev/null
    else
        echo "setup: installing containerd"
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq containerd >/dev/null
    fi
    containerd_ok || echo "setup: warning: containerd older than 1.7.7; images with Wasm layers will not unpack" >&2
fi

# x86_64-unknown-none: the kernel. x86_64-unknown-linux-musl: the Linux runtime and the
# musl C runtime that `--target linux` executables link statically. wasm32-wasip1: the
# networking tests' guest programs (fixtures/net/, built by runner/tests/common/net.rs).
for target in x86_64-unknown-none x86_64-unknown-linux-musl wasm32-wasip1; do
    if ! rustup target list --installed | grep -qx "$target"; then
        echo "setup: adding the Rust target $target"
        rustup target add "$target"
    fi
done
