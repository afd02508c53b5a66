//! Comparing two runs of a program, and a run against the test's JSON.

use serde::Serialize;

use super::suite::TestSpec;

/// How a run ended, on either side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Ending {
    /// `proc_exit(code)`, or 0 when `_start` returned.
    Exit { code: u32 },
    /// A WebAssembly trap (the message is informative only: traps compare equal).
    Trap { message: String },
    /// The program did not run to an end: it could not be compiled or started, the kernel
    /// panicked or crashed, or it was killed on timeout.
    Error { message: String },
}

impl Ending {
    pub fn describe(&self) -> String {
        match self {
            Ending::Exit { code } => format!("exit {code}"),
            Ending::Trap { message } => format!("trap ({message})"),
            Ending::Error { message } => format!("error ({message})"),
        }
    }

    /// Same exit status, or both trapped.
    pub fn matches(&self, other: &Ending) -> bool {
        match (self, other) {
            (Ending::Exit { code: a }, Ending::Exit { code: b }) => a == b,
            (Ending::Trap { .. }, Ending::Trap { .. }) => true,
            _ => false,
        }
    }
}

/// How many bytes of context an excerpt shows before the first difference, and at most in
/// total.
const BEFORE: usize = 16;
const WIDTH: usize = 48;

/// The first index where `a` and `b` differ (`None` when equal), with an excerpt of each
/// from a little before it, as escaped strings; a side that ended there shows `(end)`.
pub fn first_difference(a: &[u8], b: &[u8]) -> (usize, String, String) {
    let at = a
        .iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    let from = at.saturating_sub(BEFORE);
    let show = |s: &[u8]| {
        let end = (from + WIDTH).min(s.len());
        let mut text = escape(&s[from.min(s.len())..end]);
        if from > 0 {
            text = format!("...{text}");
        }
        if at >= s.len() {
            text.push_str(" (end)");
        } else if end < s.len() {
            text.push_str("...");
        }
        text
    };
    (at, show(a), show(b))
}

/// Bytes as a double-quoted string with Rust-style escapes for anything not printable
/// ASCII.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::from("\"");
    for &b in bytes {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('"');
    out
}

/// `stdout differs at byte 17: oracle "...", hako "..."`, or `None` when equal.
pub fn stream(name: &str, oracle: &[u8], hako: &[u8]) -> Option<String> {
    if oracle == hako {
        return None;
    }
    let (at, a, b) = first_difference(oracle, hako);
    Some(format!("{name} differs at byte {at}: oracle {a}, hako {b}"))
}

/// What one side's run disagrees with in the test's JSON, one line each:
/// `exit: JSON 0, got exit 1`, `stdout differs from the JSON at byte 3: ...`.
pub fn against_json(spec: &TestSpec, ending: &Ending, stdout: &[u8], stderr: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let want = Ending::Exit {
        code: spec.expected_exit_code(),
    };
    if !want.matches(ending) {
        out.push(format!(
            "exit: JSON {}, got {}",
            spec.expected_exit_code(),
            ending.describe()
        ));
    }
    for (name, expected, actual) in [
        ("stdout", &spec.stdout, stdout),
        ("stderr", &spec.stderr, stderr),
    ] {
        if let Some(expected) = expected {
            if expected.as_bytes() != actual {
                let (at, want, got) = first_difference(expected.as_bytes(), actual);
                out.push(format!(
                    "{name} differs from the JSON at byte {at}: JSON {want}, got {got}"
                ));
            }
        }
    }
    out
}

/// Programs whose output legitimately varies from run to run, and how it is made comparable.
///
/// `rust/poll_oneoff_stdio` prints Rust `HashMap`s (`writable subs: {1: 1, 2: 2}`), whose
/// iteration order comes from a hasher seeded by `random_get`: its `{...}` items are sorted
/// on both sides before comparing.
pub const UNORDERED_OUTPUT: &[&str] = &["rust/poll_oneoff_stdio"];

/// `text` with the `, `-separated items of every innermost `{...}` sorted.
pub fn sort_braced_items(text: &[u8]) -> Vec<u8> {
    let mut out: Vec<u8> = Vec::with_capacity(text.len());
    let mut open: Option<usize> = None;
    for &b in text {
        out.push(b);
        match b {
            b'{' => open = Some(out.len()),
            b'}' => {
                if let Some(start) = open.take() {
                    let end = out.len() - 1;
                    let inner = out[start..end].to_vec();
                    let mut items: Vec<&[u8]> = split_items(&inner);
                    items.sort();
                    let joined = items.join(&b", "[..]);
                    out.truncate(start);
                    out.extend_from_slice(&joined);
                    out.push(b'}');
                }
            }
            b'\n' => open = None,
            _ => {}
        }
    }
    out
}

fn split_items(bytes: &[u8]) -> Vec<&[u8]> {
    let mut items = Vec::new();
    let mut rest = bytes;
    while let Some(i) = rest.windows(2).position(|w| w == b", ") {
        items.push(&rest[..i]);
        rest = &rest[i + 2..];
    }
    items.push(rest);
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_difference_shows_context() {
        assert_eq!(
            first_difference(b"hello", b"help!"),
            (3, "\"hello\"".into(), "\"help!\"".into())
        );
        let (at, a, b) = first_difference(b"abc", b"abcdef");
        assert_eq!(
            (at, a.as_str(), b.as_str()),
            (3, "\"abc\" (end)", "\"abcdef\"")
        );
        let long_a = [b'x'; 100];
        let mut long_b = long_a;
        long_b[50] = b'\n';
        let (at, a, b) = first_difference(&long_a, &long_b);
        assert_eq!(at, 50);
        assert!(a.starts_with("...\"xxx") && a.ends_with("\"..."), "{a}");
        assert!(b.contains("\\n"), "{b}");
    }

    #[test]
    fn braced_items_sort() {
        assert_eq!(
            sort_braced_items(b"subs: {2: 2, 1: 1}\n{b}, {c, a}"),
            b"subs: {1: 1, 2: 2}\n{b}, {a, c}"
        );
        assert_eq!(sort_braced_items(b"no braces {"), b"no braces {");
    }

    #[test]
    fn streams_and_json() {
        assert_eq!(stream("stdout", b"a", b"a"), None);
        assert_eq!(
            stream("stderr", b"", b"x").unwrap(),
            "stderr differs at byte 0: oracle \"\" (end), hako \"x\""
        );
        let spec = TestSpec {
            exit_code: Some(33),
            stdout: Some("hello".into()),
            ..TestSpec::default()
        };
        assert!(against_json(&spec, &Ending::Exit { code: 33 }, b"hello", b"junk").is_empty());
        let d = against_json(&spec, &Ending::Exit { code: 0 }, b"hellp", b"");
        assert_eq!(d[0], "exit: JSON 33, got exit 0");
        assert!(
            d[1].starts_with("stdout differs from the JSON at byte 4"),
            "{}",
            d[1]
        );
        assert!(Ending::Trap {
            message: "a".into()
        }
        .matches(&Ending::Trap {
            message: "b".into()
        }));
        assert!(!Ending::Exit { code: 1 }.matches(&Ending::Error {
            message: String::new()
        }));
    }
}
