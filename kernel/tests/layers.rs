//! The kernel's import graph, checked from its sources: every module belongs to one layer
//! of [`LAYERS`], imports only from its own layer or those below, and no two units import
//! each other in a circle. A unit is a top-level module with its submodules (a module and
//! its children are one piece of code), except that each file of `hw` is a unit of its own
//! (the drivers are independent). Modules outside `hw` and `entry` build on the host, so
//! they may not import those two at all. What counts as an import: every `crate::` and `super::`
//! path outside comments and string literals, and every path that starts with a child
//! module's name, resolved to the longest module it names.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Bottom to top.
const LAYERS: &[(&str, &[&str])] = &[
    (
        "address-space layout, entering compiled code",
        &["layout", "jump"],
    ),
    (
        "safe target-independent logic",
        &[
            "bulk", "clock", "cmdline", "gc", "guest", "link", "net", "p9", "script", "types",
            "wasi",
        ],
    ),
    ("hardware", &["hw"]),
    (
        "data shared with compiled code",
        &["image", "vmdata", "exn"],
    ),
    ("store and runtime", &["store", "runtime"]),
    ("entry points every platform shares", &["shims"]),
    ("entry", &["entry"]),
];

/// The layers that exist only on bare metal; every other module builds and is tested on
/// the host, so it must not import these (whatever the order of the layers says).
const BARE_METAL: &[&str] = &["hw", "entry"];

/// Module path (`hw::mm`, `store`, ...) of every source file under `dir`.
fn modules(dir: &Path, prefix: &[String], out: &mut BTreeMap<Vec<String>, String>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("kernel/src is readable")
        .map(|e| e.expect("a directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            let mut p = prefix.to_vec();
            p.push(name);
            modules(&path, &p, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let mut p = prefix.to_vec();
            if name != "mod" && name != "lib" {
                p.push(name);
            }
            out.insert(p, std::fs::read_to_string(&path).unwrap());
        }
    }
}

/// The code of `src` with comments and the contents of string and char literals blanked.
fn code_only(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = String::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i..].starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i..].starts_with(b"/*") {
            let mut depth = 0;
            while i < b.len() {
                if b[i..].starts_with(b"/*") {
                    depth += 1;
                    i += 2;
                } else if b[i..].starts_with(b"*/") {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if b[i] == b'r' && b[i..].starts_with(b"r#\"") {
            let end = src[i + 3..].find("\"#").map_or(b.len(), |e| i + 3 + e + 2);
            out.push_str("\"\"");
            i = end;
        } else if b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if b[i] == b'\'' && i + 2 < b.len() && (b[i + 2] == b'\'' || b[i + 1] == b'\\') {
            // A char literal (not a lifetime).
            i += 1;
            while i < b.len() && b[i] != b'\'' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("' '");
        } else {
            out.push(b[i] as char);
            i += 1;
        }
    }
    out
}

fn ident_at(b: &[u8], i: usize) -> Option<(String, usize)> {
    let start = i;
    let mut j = i;
    while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
        j += 1;
    }
    (j > start && !b[start].is_ascii_digit())
        .then(|| (String::from_utf8_lossy(&b[start..j]).into_owned(), j))
}

/// Every path in `code` (`a::b::c`, with `{x, y::z}` groups expanded one level), each with
/// the inline-module path it appears in.
fn paths(code: &str) -> Vec<(Vec<String>, Vec<String>)> {
    let b = code.as_bytes();
    let mut out = Vec::new();
    // Inline modules: (name, brace depth inside it).
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut pending_mod: Option<String> = None;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'{' => {
                depth += 1;
                if let Some(m) = pending_mod.take() {
                    inline.push((m, depth));
                }
                i += 1;
                continue;
            }
            b'}' => {
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
                depth = depth.saturating_sub(1);
                i += 1;
                continue;
            }
            b';' => pending_mod = None,
            _ => {}
        }
        let boundary = i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_');
        let Some((first, mut j)) = boundary.then(|| ident_at(b, i)).flatten() else {
            i += 1;
            continue;
        };
        if first == "mod" {
            let mut k = j;
            while k < b.len() && b[k] == b' ' {
                k += 1;
            }
            pending_mod = ident_at(b, k).map(|(n, _)| n);
            i = j;
            continue;
        }
        let mut path = vec![first];
        let here: Vec<String> = inline.iter().map(|(n, _)| n.clone()).collect();
        loop {
            if !b[j..].starts_with(b"::") {
                break;
            }
            let k = j + 2;
            if b.get(k) == Some(&b'{') {
                // A group: each item's first segments.
                let end = code[k..].find('}').map_or(b.len(), |e| k + e);
                for item in code[k + 1..end].split(',') {
                    let mut p = path.clone();
                    p.extend(
                        item.trim()
                            .split("::")
                            .map(|s| s.split_whitespace().next().unwrap_or("").to_string())
                            .take_while(|s| !s.is_empty() && s != "*" && !s.starts_with('{')),
                    );
                    out.push((here.clone(), p));
                }
                j = end;
                path.clear();
                break;
            }
            match ident_at(b, k) {
                Some((seg, e)) => {
                    path.push(seg);
                    j = e;
                }
                None => break,
            }
        }
        if path.len() > 1 || path.first().is_some_and(|p| p == "crate" || p == "super") {
            out.push((here, path));
        }
        i = j.max(i + 1);
    }
    out
}

/// The module `path` names from module `at` (file module plus inline modules), if any.
fn resolve(known: &BTreeSet<Vec<String>>, at: &[String], path: &[String]) -> Option<Vec<String>> {
    let mut base: Vec<String> = at.to_vec();
    let mut rest = path;
    match path.first().map(String::as_str) {
        Some("crate") => {
            base.clear();
            rest = &path[1..];
        }
        Some("super") => {
            while rest.first().map(String::as_str) == Some("super") {
                base.pop()?;
                rest = &rest[1..];
            }
        }
        Some("self") => rest = &path[1..],
        _ => {
            // Relative: only paths through a child module of `at` count.
            let mut child = at.to_vec();
            child.push(path[0].clone());
            if !known.contains(&child) {
                return None;
            }
        }
    }
    let mut best = known.contains(&base).then(|| base.clone());
    let mut m = base;
    for seg in rest {
        m.push(seg.clone());
        if known.contains(&m) {
            best = Some(m.clone());
        }
    }
    best
}

fn unit(m: &[String]) -> String {
    match m {
        [hw, file, ..] if hw == "hw" => format!("hw::{file}"),
        [top, ..] => top.clone(),
        [] => "crate".into(),
    }
}

type Graph = BTreeMap<String, BTreeSet<String>>;

/// What is wrong with the imports of `files` (module path -> source), and the graph of
/// units.
fn check(files: &BTreeMap<Vec<String>, String>) -> (Vec<String>, Graph) {
    // Every file module, and every inline module, is a known module path.
    let mut known: BTreeSet<Vec<String>> = files.keys().cloned().collect();
    let mut uses = Vec::new();
    for (m, text) in files {
        for (inline, path) in paths(&code_only(text)) {
            let mut at = m.clone();
            at.extend(inline);
            known.insert(at.clone());
            uses.push((m.clone(), at, path));
        }
    }
    let layer_of = |u: &str| {
        let top = u.split("::").next().unwrap();
        LAYERS.iter().position(|(_, ms)| ms.contains(&top))
    };
    let mut problems = Vec::new();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for m in files.keys().filter(|m| !m.is_empty()) {
        let u = unit(m);
        if layer_of(&u).is_none() {
            problems.push(format!("module {} is in no layer of LAYERS", m.join("::")));
        }
        graph.entry(u).or_default();
    }
    for (file, at, path) in &uses {
        let Some(target) = resolve(&known, at, path) else {
            continue;
        };
        let (from, to) = (unit(file), unit(&target));
        if from == to || to == "crate" || file.is_empty() {
            continue;
        }
        let top = |u: &str| u.split("::").next().unwrap().to_string();
        if BARE_METAL.contains(&top(&to).as_str()) && !BARE_METAL.contains(&top(&from).as_str()) {
            problems.push(format!(
                "{} imports {}, which exists only on bare metal",
                file.join("::"),
                path.join("::")
            ));
        }
        if let (Some(lf), Some(lt)) = (layer_of(&from), layer_of(&to)) {
            if lt > lf {
                problems.push(format!(
                    "{} ({}) imports {} ({}), a layer above it",
                    file.join("::"),
                    LAYERS[lf].0,
                    path.join("::"),
                    LAYERS[lt].0
                ));
            }
        }
        graph.entry(from).or_default().insert(to);
    }
    // Cycles: depth-first search with colours.
    fn visit(
        u: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
        problems: &mut Vec<String>,
    ) {
        state.insert(u.to_string(), 1);
        stack.push(u.to_string());
        for v in graph.get(u).into_iter().flatten() {
            match state.get(v.as_str()).copied().unwrap_or(0) {
                0 => visit(v, graph, state, stack, problems),
                1 => {
                    let from = stack.iter().position(|s| s == v).unwrap();
                    let mut cycle = stack[from..].to_vec();
                    cycle.push(v.clone());
                    problems.push(format!("import cycle: {}", cycle.join(" -> ")));
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(u.to_string(), 2);
    }
    let mut state = BTreeMap::new();
    for u in graph.keys() {
        if !state.contains_key(u.as_str()) {
            visit(u, &graph, &mut state, &mut Vec::new(), &mut problems);
        }
    }
    (problems, graph)
}

#[test]
fn imports_follow_the_layers_without_cycles() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = BTreeMap::new();
    modules(&src, &[], &mut files);
    let (problems, graph) = check(&files);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // The check sees the imports it must see (a parser that finds nothing passes anything).
    assert!(graph["entry"].contains("store") && graph["entry"].contains("hw::wasm"));
    assert!(graph["hw::mm"].contains("layout") && graph["hw::mm"].contains("hw::boot"));
    assert!(graph["runtime"].contains("store") && graph["store"].contains("image"));
}

#[test]
fn the_checker_finds_cycles_and_upward_imports() {
    let files: BTreeMap<Vec<String>, String> = [
        (
            "",
            "pub mod layout; pub mod hw; pub mod store; pub mod runtime;",
        ),
        (
            "layout",
            "use crate::store::Store; // crate::hw::mm is only a comment",
        ),
        ("store", "pub struct Store; fn f() { \"crate::hw::boot\"; }"),
        ("runtime", "use crate::hw::mm;"),
        ("hw", "pub mod boot; pub mod mm;"),
        ("hw::boot", "use super::{mm, cell};"),
        (
            "hw::mm",
            "fn f() { crate::hw::boot::start(); }\nmod tests { use super::*; }",
        ),
    ]
    .into_iter()
    .map(|(m, src)| {
        let path = m
            .split("::")
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        (path, src.to_string())
    })
    .collect();
    let (problems, graph) = check(&files);
    assert_eq!(
        problems,
        [
            "layout (address-space layout, entering compiled code) imports crate::store::Store \
             (store and runtime), a layer above it",
            "runtime imports crate::hw::mm, which exists only on bare metal",
            "import cycle: hw::boot -> hw::mm -> hw::boot",
        ]
    );
    assert_eq!(graph["layout"], BTreeSet::from(["store".to_string()]));
    assert!(graph["store"].is_empty(), "a string is not an import");
}
