//! Where things are, relative to the workspace: its root (the directory of the top
//! `Cargo.toml`, fixed when `hako` is built), from which the runner reads `fixtures/` and the
//! known-failure lists, and the conformance data beside it in `../shared/`, read in place and
//! never copied into the repository. Each suite's root is, in order: its command-line flag
//! (`--suite DIR`), its environment variable, or its folder under `../shared/`.

use std::path::{Path, PathBuf};

/// The workspace root (where the top `Cargo.toml` is).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("runner/ has a parent")
        .to_path_buf()
}

/// A suite's root: `flag` when given, else the directory the environment variable `env`
/// names, else `../shared/<shared>` beside the workspace root.
pub fn suite_root(flag: Option<&Path>, env: &str, shared: &str) -> PathBuf {
    if let Some(dir) = flag {
        return dir.to_path_buf();
    }
    if let Some(dir) = std::env::var_os(env) {
        return PathBuf::from(dir);
    }
    root().join("..").join("shared").join(shared)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_wins_then_the_environment_then_the_shared_folder() {
        let env = "HAKO_WORKSPACE_TEST_SUITE";
        assert_eq!(suite_root(Some(Path::new("/x")), env, "y"), Path::new("/x"));
        assert_eq!(suite_root(None, env, "a/b"), root().join("../shared/a/b"));
        assert!(root().join("runner/Cargo.toml").is_file());
    }
}
