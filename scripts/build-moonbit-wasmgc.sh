#!/usr/bin/env bash
# Build a Wasm GC + WASI preview1 test program from MoonBit source, using only the npm registry.
#
# The MoonBit compiler (moonc, compiled to JS) ships in @moonbit/moonc-worker; the MoonBit core
# library sources ship embedded in @moonbit/moonpad-monaco. We compile core for the wasm-gc
# backend (with builtin's println redirected from the `spectest.print_char` import to WASI
# fd_write), compile the program, link, and export the linear memory as "memory".
# Result imports only wasi_snapshot_preview1.{fd_write[,proc_exit]}.
#
# usage: build-moonbit-wasmgc.sh SRC_DIR OUT.wasm     SRC_DIR: *.mbt of one package with `fn main`
#        build-moonbit-wasmgc.sh --core-test PKG OUT.wasm
#            PKG (e.g. list, hashmap, immut/sorted_map): that core package's blackbox test suite,
#            run by a small driver that prints "ok FILE NAME" per test and "N passed, N failed, N skipped"
#            (tests whose name starts with "panic" are skipped: they expect a trap).
# needs: node >= 18, npm (registry access). Takes ~1-3 min the first time (core is 72 packages; cached
# in $MOONBIT_WORK afterwards).
set -euo pipefail
if [ "${1:-}" = "--core-test" ]; then SRC="core-test:${2:?core package}"; shift
else SRC=$(cd "${1:?src dir}" && pwd); fi
OUTWASM=$(realpath -m "${2:?out.wasm}")
MOONC_VER=0.1.202605123        # @moonbit/moonc-worker
MOONC_SHA512=VXLhUeNeBp3+YzkeGl5Ae5Lqji3yf3imkY0iQqiyH3RZFZxp4k36p0+RoVmG/VtfjkaTnlkzGW9U/yzpYu2eOQ==
MOONPAD_VER=0.1.202602255      # @moonbit/moonpad-monaco (embeds moonbitlang/core sources)
MOONPAD_SHA512=RxSLivsbRy5DQCRaGMKydLZrXDl2Nk83sYHFs1ZPsZG9cyW6sTNpa4+5Sqzn8636scZDuUtwM6eWdh76fWm6BA==
WORK=${MOONBIT_WORK:-${TMPDIR:-/tmp}/moonbit-wasmgc-$MOONC_VER}
mkdir -p "$WORK"; cd "$WORK"
if [ ! -f moonc.cjs ]; then
  npm pack --silent "@moonbit/moonc-worker@$MOONC_VER" "@moonbit/moonpad-monaco@$MOONPAD_VER" >/dev/null
  sha512() { node -e 'process.stdout.write(require("crypto").createHash("sha512").update(require("fs").readFileSync(process.argv[1])).digest("base64"))' "$1"; }
  [ "$(sha512 "moonbit-moonc-worker-$MOONC_VER.tgz")" = "$MOONC_SHA512" ] || { echo "integrity mismatch: moonc-worker" >&2; exit 1; }
  [ "$(sha512 "moonbit-moonpad-monaco-$MOONPAD_VER.tgz")" = "$MOONPAD_SHA512" ] || { echo "integrity mismatch: moonpad-monaco" >&2; exit 1; }
  mkdir -p mw mp
  tar xzf "moonbit-moonc-worker-$MOONC_VER.tgz" -C mw
  tar xzf "moonbit-moonpad-monaco-$MOONPAD_VER.tgz" -C mp
  # the worker is a comlink web-worker bundle; expose its API as a CommonJS module instead
  sed 's/var Fhx=Xhx(qNe());LZ0(Fhx);/var Fhx=Xhx(qNe());module.exports=Fhx;/' \
    mw/package/moonc-worker.js > moonc.cjs.tmp
  grep -q 'module.exports=Fhx' moonc.cjs.tmp && mv moonc.cjs.tmp moonc.cjs
fi
cat > build.js <<'EOF'
process.setMaxListeners(0);
const fs = require("fs"), path = require("path");
const W = process.cwd(), MOONC = path.join(W, "moonc.cjs");
// moonc keeps global diagnostic state: use a fresh instance per call (as moonpad does with workers)
const fresh = () => { delete require.cache[MOONC]; return require(MOONC); };
const [SRC, OUTWASM] = process.argv.slice(2);
const CORE = path.join(W, "core"), OUT = path.join(W, "corebuild");
// 1. extract core sources (base64 blobs `X = d("...")` mapped by `i["/lib/core/..."] = X;`)
if (!fs.existsSync(CORE + "/lib/core/_build/packages.json")) {
  const js = fs.readFileSync(W + "/mp/package/dist/moonpad-monaco.js", "utf8");
  const blobs = {};
  for (const m of js.matchAll(/(?<![A-Za-z0-9_$])([A-Za-z_$][A-Za-z0-9_$]*) = d\("([A-Za-z0-9+/=]*)"\)/g)) blobs[m[1]] = m[2];
  for (const m of js.matchAll(/i\["(\/lib\/core\/[^"]*)"\] = ([A-Za-z0-9_$]+);/g)) {
    const p = CORE + m[1]; fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, Buffer.from(blobs[m[2]], "base64"));
  }
  // 2. WASI println: replace the `%println` intrinsic (spectest.print_char import) with fd_write
  const con = CORE + "/lib/core/builtin/console.mbt";
  const old = 'fn println_mono(s : String) -> Unit = "%println"\n';
  const src = fs.readFileSync(con, "utf8");
  if (!src.includes(old)) throw new Error("console.mbt changed");
  fs.writeFileSync(con, src.replace(old, `fn println_mono(s : String) -> Unit {
  wasi_put_line(s)
}

///|
fn wasi_fd_write(fd : Int, iovs : Int, iovs_len : Int, nwritten : Int) -> Int = "wasi_snapshot_preview1" "fd_write"

///|
extern "wasm" fn wasi_store8(addr : Int, v : Int) =
  #|(func (param $a i32) (param $v i32) (i32.store8 (local.get $a) (local.get $v)))

///|
extern "wasm" fn wasi_store32(addr : Int, v : Int) =
  #|(func (param $a i32) (param $v i32) (i32.store (local.get $a) (local.get $v)))

///|
/// UTF-8 encode s + "\\n" into linear memory [1024, 61024) and fd_write it to stdout.
fn wasi_put_line(s : String) -> Unit {
  let base = 1024
  let mut p = base
  fn flush(upto : Int) {
    wasi_store32(0, base)
    wasi_store32(4, upto - base)
    ignore(wasi_fd_write(1, 0, 1, 8))
  }
  for ch in s {
    if p > base + 60000 - 8 {
      flush(p)
      p = base
    }
    let c = ch.to_int()
    if c < 0x80 {
      wasi_store8(p, c)
      p += 1
    } else if c < 0x800 {
      wasi_store8(p, 0xC0 | (c >> 6))
      wasi_store8(p + 1, 0x80 | (c & 0x3F))
      p += 2
    } else if c < 0x10000 {
      wasi_store8(p, 0xE0 | (c >> 12))
      wasi_store8(p + 1, 0x80 | ((c >> 6) & 0x3F))
      wasi_store8(p + 2, 0x80 | (c & 0x3F))
      p += 3
    } else {
      wasi_store8(p, 0xF0 | (c >> 18))
      wasi_store8(p + 1, 0x80 | ((c >> 12) & 0x3F))
      wasi_store8(p + 2, 0x80 | ((c >> 6) & 0x3F))
      wasi_store8(p + 3, 0x80 | (c & 0x3F))
      p += 4
    }
  }
  wasi_store8(p, 10)
  flush(p + 1)
}
`));
}
// 3. build core for wasm-gc in dependency order
const pk = {};
for (const p of JSON.parse(fs.readFileSync(CORE + "/lib/core/_build/packages.json")).packages) pk[p.root + "/" + p.rel] = p;
const order = [], seen = new Set();
const visit = (n) => { if (seen.has(n)) return; seen.add(n); pk[n].deps.forEach(d => visit(d.path)); order.push(n); };
Object.keys(pk).forEach(visit);
const trans = (n, acc = new Set()) => { for (const d of pk[n].deps) if (!acc.has(d.path)) { acc.add(d.path); trans(d.path, acc); } return acc; };
const res = {}, rd = (f) => fs.readFileSync(f);
for (const n of order) {
  const f = `${OUT}/${n}`;
  if (fs.existsSync(f + ".core")) { res[n] = { mi: rd(f + ".mi"), core: rd(f + ".core") }; continue; }
  const p = pk[n], extra = [];
  const mbt = Object.entries(p.files).filter(([, v]) => v.backend.includes("WasmGC") && v.optlevel.includes("Release"))
    .map(([k]) => { const q = k.replace(/^moonbit-core:/, ""); return [q, fs.readFileSync(CORE + q, "utf8")]; });
  for (;;) {
    const mi = p.deps.map(d => [`${OUT}/${d.path}.mi:${d.alias}`, res[d.path].mi])
      .concat(extra.map(x => [`${OUT}/${x}.mi:${x.split("/").pop()}`, res[x].mi]));
    const direct = new Set(p.deps.map(d => d.path).concat(extra));
    const ind = [...trans(n)].filter(x => !direct.has(x)).map(x => [`${OUT}/${x}.mi:${x.split("/").pop()}`, res[x].mi]);
    const r = fresh().buildPackage({ mbtFiles: mbt, miFiles: mi, indirectImportMiFiles: ind, stdMiFiles: [], target: "wasm-gc",
      pkg: n, pkgSources: ["moonbitlang/core:/lib/core"], isMain: false, errorFormat: "human", enableValueTracing: false, noOpt: false });
    if (!r.core) {
      // these core sources predate the compiler's stricter rule on transitively-imported types
      const mm = r.diagnostics.join("\n").match(/(?:package |in @)(moonbitlang\/core\/[^ ,]*)(?: is not imported|, which is not imported)/);
      if (mm && res[mm[1]] && !extra.includes(mm[1])) { extra.push(mm[1]); continue; }
      throw new Error(`core ${n}: ${r.diagnostics.join("\n")}`);
    }
    fs.mkdirSync(path.dirname(f), { recursive: true });
    fs.writeFileSync(f + ".mi", r.mi); fs.writeFileSync(f + ".core", r.core);
    res[n] = r; break;
  }
}
// 4. compile + link the program
const std = order.map(n => [`${OUT}/${n}.mi:${n.split("/").pop()}`, res[n].mi]);
let pkg, mbt, mi = [], srcs;
if (SRC.startsWith("core-test:")) {
  const rel = SRC.slice(10), p = pk["moonbitlang/core/" + rel];
  if (!p) throw new Error("no core package " + rel);
  const tf = Object.entries(p["test-files"]).filter(([, v]) => v.backend.includes("WasmGC"))
    .map(([k]) => { const q = k.replace(/^moonbit-core:/, ""); return [path.basename(q), fs.readFileSync(CORE + q, "utf8")]; });
  const info = fresh().genTestInfo({ mbtFiles: tf });
  const driver = `using @prelude {debug_inspect}

fn driver_run(
  no_args_tests : Map[String, Map[Int, (() -> Unit raise Error, Array[String])]],
) -> Unit {
  let mut passed = 0
  let mut failed = 0
  let mut skipped = 0
  for file, m in no_args_tests {
    for idx, entry in m {
      let (f, attrs) = entry
      let name = if attrs.is_empty() { idx.to_string() } else { attrs[0] }
      if name.has_prefix("panic") {
        skipped += 1
        continue
      }
      let msg = try {
        f()
        ""
      } catch {
        Failure(e) => e
        InspectError(e) => e
        e => e.to_string()
      }
      if msg == "" {
        passed += 1
        println("ok \\{file} \\{name}")
      } else {
        failed += 1
        println("FAIL \\{file} \\{name}: \\{msg}")
      }
    }
  }
  println("\\{passed} passed, \\{failed} failed, \\{skipped} skipped")
}

fn main {
${info}
  ignore(tests)
  ignore(with_args_tests)
  ignore(with_bench_args_tests)
  ignore(async_tests)
  ignore(async_tests_with_args)
  driver_run(no_args_tests)
}
`;
  pkg = "moonbitlang/core/" + rel + "_blackbox_test";
  mbt = [...tf, ["__generated_driver_for_blackbox_test.mbt", driver]];
  mi = [...p.deps, ...p["test-deps"], { path: "moonbitlang/core/" + rel, alias: rel.split("/").pop() }]
    .map(d => [`${OUT}/${d.path}.mi:${d.alias}`, res[d.path].mi]);
  srcs = ["moonbitlang/core:/lib/core"];
} else {
  pkg = "hako/app";
  mbt = fs.readdirSync(SRC).filter(f => f.endsWith(".mbt")).sort().map(f => ["/app/" + f, fs.readFileSync(path.join(SRC, f), "utf8")]);
  srcs = ["moonbitlang/core:/lib/core", "hako/app:/app"];
}
const r = fresh().buildPackage({ mbtFiles: mbt, miFiles: mi, indirectImportMiFiles: [], stdMiFiles: std, target: "wasm-gc",
  pkg, pkgSources: srcs.slice(-1), isMain: true, errorFormat: "human", enableValueTracing: false, noOpt: false });
r.diagnostics.filter(d => !/Warning/.test(d)).forEach(d => console.error(d));
if (!r.core) process.exit(1);
let wasm = Buffer.from(fresh().linkCore({ coreFiles: order.map(n => res[n].core).concat([r.core]), main: pkg,
  pkgSources: srcs, target: "wasm-gc", exportedFunctions: [], outputFormat: "wasm",
  testMode: false, debug: false, noOpt: false, sourceMap: false, sources: {}, stopOnMain: false }).result);
// 5. add (export "memory" (memory 0)) -- WASI needs it; linkCore has no export-memory-name option
const leb = (n) => { const o = []; do { let b = n & 0x7f; n >>>= 7; o.push(n ? b | 0x80 : b); } while (n); return Buffer.from(o); };
const rleb = (b, i) => { let r = 0, s = 0, x; do { x = b[i++]; r |= (x & 0x7f) << s; s += 7; } while (x & 0x80); return [r >>> 0, i]; };
const entry = Buffer.concat([leb(6), Buffer.from("memory"), Buffer.from([2]), leb(0)]);
const parts = [wasm.subarray(0, 8)];
let i = 8, done = false;
while (i < wasm.length) {
  const id = wasm[i]; const [size, j] = rleb(wasm, i + 1); let body = wasm.subarray(j, j + size); i = j + size;
  if (id === 7) { const [cnt, k] = rleb(body, 0); body = Buffer.concat([leb(cnt + 1), body.subarray(k), entry]); done = true; }
  else if (!done && [8, 9, 12, 10, 11].includes(id)) { const sec = Buffer.concat([leb(1), entry]); parts.push(Buffer.from([7]), leb(sec.length), sec); done = true; }
  parts.push(Buffer.from([id]), leb(body.length), body);
}
wasm = Buffer.concat(parts);
fs.writeFileSync(OUTWASM, wasm);
console.error(`wrote ${OUTWASM} (${wasm.length} bytes)`);
EOF
node build.js "$SRC" "$OUTWASM"
