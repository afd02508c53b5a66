//! The folded form of the legacy exception instructions, which the `wast` crate no longer
//! parses (since wasm-tools dropped the legacy proposal's folded syntax it knows `try`,
//! `catch`, `catch_all`, `delegate` and `rethrow` only as plain instructions), while the
//! suite's `legacy/` scripts are written with it:
//!
//! ```text
//! (try $l (result i32) (do I*) (catch $e I*) (catch_all I*))   =>  try $l (result i32) I* catch $e I* catch_all I* end
//! (try (do I*) (delegate $l))                                   =>  try I* delegate $l
//! ```
//!
//! [`unfold`] rewrites the first form into the second in place: every character keeps its
//! line (parentheses become spaces, a `try`'s closing one `end`), so the parser's line
//! numbers stay the script's. Strings and comments are copied as they are.

/// What an open parenthesis started.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Open {
    Other,
    /// A folded `try`; `delegated` once it has a `(delegate ..)` clause.
    Try {
        delegated: bool,
    },
    /// `(do ..)`, `(catch ..)`, `(catch_all ..)` or `(delegate ..)` directly in a `try`.
    Clause,
}

/// The script with every folded `try` unfolded, or `None` when it has none.
pub fn unfold(src: &str) -> Option<String> {
    if !src.contains("(try") {
        return None;
    }
    let b = src.as_bytes();
    let mut out = String::with_capacity(src.len() + 64);
    let mut stack: Vec<Open> = Vec::new();
    let mut changed = false;
    let mut i = 0;
    // Copies `src[from..to]` (whole characters) to `out`.
    let copy = |out: &mut String, from: usize, to: usize| out.push_str(&src[from..to]);
    while i < b.len() {
        match b[i] {
            b'"' => {
                let start = i;
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i = (i + 1).min(b.len());
                copy(&mut out, start, i);
            }
            b';' if b.get(i + 1) == Some(&b';') => {
                let start = i;
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                copy(&mut out, start, i);
            }
            b'(' if b.get(i + 1) == Some(&b';') => {
                let (start, mut depth) = (i, 0usize);
                while i < b.len() {
                    if b[i] == b'(' && b.get(i + 1) == Some(&b';') {
                        depth += 1;
                        i += 2;
                    } else if b[i] == b';' && b.get(i + 1) == Some(&b')') {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
                copy(&mut out, start, i.min(b.len()));
            }
            b'(' => {
                let word_end = (i + 1..b.len())
                    .find(|&j| b[j].is_ascii_whitespace() || b[j] == b'(' || b[j] == b')')
                    .unwrap_or(b.len());
                let word = &src[i + 1..word_end];
                let in_try = matches!(stack.last(), Some(Open::Try { .. }));
                match word {
                    "try" => {
                        stack.push(Open::Try { delegated: false });
                        out.push_str(" try");
                        changed = true;
                    }
                    "do" if in_try => {
                        stack.push(Open::Clause);
                        out.push_str("   ");
                    }
                    "catch" | "catch_all" | "delegate" if in_try => {
                        if word == "delegate" {
                            if let Some(Open::Try { delegated }) = stack.last_mut() {
                                *delegated = true;
                            }
                        }
                        stack.push(Open::Clause);
                        out.push(' ');
                        out.push_str(word);
                    }
                    _ => {
                        stack.push(Open::Other);
                        out.push('(');
                        out.push_str(word);
                    }
                }
                i = word_end;
            }
            b')' => {
                match stack.pop() {
                    Some(Open::Try { delegated: false }) => out.push_str(" end"),
                    Some(Open::Try { delegated: true }) | Some(Open::Clause) => out.push(' '),
                    Some(Open::Other) | None => out.push(')'),
                }
                i += 1;
            }
            _ => {
                let start = i;
                i += 1;
                while i < b.len() && !matches!(b[i], b'"' | b';' | b'(' | b')') {
                    i += 1;
                }
                copy(&mut out, start, i);
            }
        }
    }
    changed.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::unfold;

    #[test]
    fn folded_try_becomes_plain_with_lines_kept() {
        let src = "(func (try (result i32)\n (do (i32.const 1))\n (catch $e (i32.const 2)) (catch_all (i32.const 3))))";
        let out = unfold(src).unwrap();
        assert_eq!(out.lines().count(), src.lines().count());
        let words: Vec<&str> = out.split_whitespace().collect();
        assert_eq!(
            words.join(" "),
            "(func try (result i32) (i32.const 1) catch $e (i32.const 2) catch_all (i32.const 3) end)"
        );
    }

    #[test]
    fn delegate_ends_the_try_and_strings_and_comments_stay() {
        let src = "(try $t (do (call $f)) (delegate 0)) ;; (try\n\"(try\" (; (try ;)";
        let out = unfold(src).unwrap();
        let words: Vec<&str> = out.split_whitespace().collect();
        assert_eq!(
            words.join(" "),
            "try $t (call $f) delegate 0 ;; (try \"(try\" (; (try ;)"
        );
        assert_eq!(unfold("(try_table (do))"), None);
    }
}
