//! Snapshots of a directory tree after a run, and their comparison.
//!
//! What counts: every entry's path, type, and for a file its size and contents, for a
//! symlink its target. Not timestamps, permissions or directory order.

use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::path::Path;

use super::compare::first_difference;

/// One entry of a tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Dir,
    File(Vec<u8>),
    Symlink(String),
    /// A FIFO, socket or device: its kind.
    Other(String),
}

impl Node {
    fn describe(&self) -> String {
        match self {
            Node::Dir => "directory".into(),
            Node::File(bytes) => format!("file ({})", plural(bytes.len(), "byte")),
            Node::Symlink(target) => format!("symlink -> {target:?}"),
            Node::Other(kind) => kind.clone(),
        }
    }
}

fn plural(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

/// Path (`/a/b`, relative to the tree's root) → entry; the root itself is not listed.
pub type Tree = BTreeMap<String, Node>;

/// Read the whole tree under `root`, never following symlinks.
pub fn snapshot(root: &Path) -> Result<Tree> {
    let mut tree = Tree::new();
    walk(root, "", &mut tree)?;
    Ok(tree)
}

fn walk(dir: &Path, prefix: &str, tree: &mut Tree) -> Result<()> {
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
        let path = entry.path();
        let name = format!("{prefix}/{}", entry.file_name().to_string_lossy());
        let kind = entry
            .file_type()
            .with_context(|| format!("cannot stat {}", path.display()))?;
        let node = if kind.is_symlink() {
            let target = std::fs::read_link(&path)
                .with_context(|| format!("cannot read the link {}", path.display()))?;
            Node::Symlink(target.to_string_lossy().into_owned())
        } else if kind.is_dir() {
            walk(&path, &name, tree)?;
            Node::Dir
        } else if kind.is_file() {
            Node::File(
                std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?,
            )
        } else {
            Node::Other(format!("special file ({kind:?})"))
        };
        tree.insert(name, node);
    }
    Ok(())
}

/// Every difference between the oracle's tree and hako's, one line each, in path order:
/// `tree: /foo: oracle file (12 bytes), hako missing`.
pub fn compare(oracle: &Tree, hako: &Tree) -> Vec<String> {
    let mut out = Vec::new();
    let paths: std::collections::BTreeSet<&String> = oracle.keys().chain(hako.keys()).collect();
    for path in paths {
        match (oracle.get(path), hako.get(path)) {
            (Some(a), Some(b)) if a == b => {}
            (Some(Node::File(a)), Some(Node::File(b))) => {
                let (at, shown_a, shown_b) = first_difference(a, b);
                let sizes = if a.len() == b.len() {
                    format!("both {} bytes", a.len())
                } else {
                    format!("oracle {} bytes, hako {} bytes", a.len(), b.len())
                };
                out.push(format!(
                    "tree: {path}: contents differ at byte {at} ({sizes}): oracle {shown_a}, hako {shown_b}"
                ));
            }
            (a, b) => {
                let show = |n: Option<&Node>| n.map_or("missing".to_string(), Node::describe);
                out.push(format!(
                    "tree: {path}: oracle {}, hako {}",
                    show(a),
                    show(b)
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_see_types_contents_and_links() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("d")).unwrap();
        std::fs::write(dir.path().join("d/f"), b"abc").unwrap();
        std::os::unix::fs::symlink("nowhere", dir.path().join("l")).unwrap();
        let tree = snapshot(dir.path()).unwrap();
        assert_eq!(tree["/d"], Node::Dir);
        assert_eq!(tree["/d/f"], Node::File(b"abc".to_vec()));
        assert_eq!(tree["/l"], Node::Symlink("nowhere".into()));
        assert_eq!(tree.len(), 3);
    }

    #[test]
    fn differences_name_the_path() {
        let mut a = Tree::new();
        let mut b = Tree::new();
        a.insert("/foo".into(), Node::File(b"hello world!".to_vec()));
        a.insert("/same".into(), Node::Dir);
        b.insert("/same".into(), Node::Dir);
        b.insert("/bar".into(), Node::Symlink("x".into()));
        a.insert("/baz".into(), Node::File(b"abcd".to_vec()));
        b.insert("/baz".into(), Node::File(b"abXd".to_vec()));
        let d = compare(&a, &b);
        assert_eq!(
            d,
            [
                "tree: /bar: oracle missing, hako symlink -> \"x\"",
                "tree: /baz: contents differ at byte 2 (both 4 bytes): oracle \"abcd\", hako \"abXd\"",
                "tree: /foo: oracle file (12 bytes), hako missing",
            ]
        );
        assert!(compare(&a, &a).is_empty());
    }
}
