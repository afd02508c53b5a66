//! Finding the WASI testsuite's programs, reading their specs, copying their fixtures.
//!
//! The suite is never copied into the repository. Its root is, in order: `--suite DIR`,
//! `$HAKO_WASI_SUITE`, or `../shared/wasi-testsuite` relative to the workspace root. The
//! programs are `tests/<language>/testsuite/wasm32-wasip1/<stem>.wasm`, each with an optional
//! `<stem>.json` (format: `../shared/README.md`, "WASI testsuite specs").

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Environment variable naming the suite root.
pub const SUITE_ENV: &str = "HAKO_WASI_SUITE";

/// The suite root from the flag, the environment or the default.
pub fn suite_root(flag: Option<&Path>) -> PathBuf {
    crate::workspace::suite_root(flag, SUITE_ENV, "wasi-testsuite")
}

/// A test's `NAME.json`; every field optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestSpec {
    /// Arguments after the program name.
    #[serde(default)]
    pub args: Vec<String>,
    /// Environment variables (passed to both sides in name order).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// A directory relative to the test's folder, preopened as `/`.
    pub root: Option<String>,
    /// Expected exit status; 0 when absent.
    pub exit_code: Option<u32>,
    /// Expected output, exact; not checked when absent.
    pub stdout: Option<String>,
    pub stderr: Option<String>,
}

impl TestSpec {
    pub fn expected_exit_code(&self) -> u32 {
        self.exit_code.unwrap_or(0)
    }
}

/// One program of the suite.
#[derive(Debug)]
pub struct Program {
    /// `<language>/<stem>`, e.g. `rust/fd_advise`, `c/lseek`.
    pub name: String,
    pub wasm: PathBuf,
    /// The parsed spec, or why it could not be read (the program then fails).
    pub spec: Result<TestSpec>,
}

impl Program {
    /// The file name the program sees as `argv[0]` on both sides: its `.wasm` file's name
    /// (`fd_advise.wasm`), independent of where the suite lives.
    pub fn argv0(&self) -> String {
        self.wasm
            .file_name()
            .map_or_else(|| self.name.clone(), |n| n.to_string_lossy().into_owned())
    }

    /// `argv`, including `argv[0]`.
    pub fn argv(&self, spec: &TestSpec) -> Vec<String> {
        let mut argv = vec![self.argv0()];
        argv.extend(spec.args.iter().cloned());
        argv
    }

    /// The fixture directory to copy and preopen as `/`, if the spec names one.
    pub fn fixture(&self, spec: &TestSpec) -> Option<PathBuf> {
        let root = spec.root.as_ref()?;
        Some(self.wasm.parent().unwrap_or(Path::new(".")).join(root))
    }
}

/// Every program under `root`, sorted by name, keeping those whose name contains `filter`.
pub fn discover(root: &Path, filter: Option<&str>) -> Result<Vec<Program>> {
    let tests = root.join("tests");
    if !tests.is_dir() {
        bail!(
            "WASI testsuite not found at {} (pass --suite DIR or set {SUITE_ENV})",
            root.display()
        );
    }
    let mut programs = Vec::new();
    for language in read_dir_sorted(&tests)? {
        let dir = language.join("testsuite").join("wasm32-wasip1");
        if !dir.is_dir() {
            continue;
        }
        let lang = language.file_name().unwrap_or_default().to_string_lossy();
        for path in read_dir_sorted(&dir)? {
            if path.extension().is_none_or(|e| e != "wasm") || !path.is_file() {
                continue;
            }
            let stem = path.file_stem().unwrap_or_default().to_string_lossy();
            let name = format!("{lang}/{stem}");
            if filter.is_some_and(|pat| !name.contains(pat)) {
                continue;
            }
            let spec = read_spec(&path.with_extension("json"));
            programs.push(Program {
                name,
                wasm: path,
                spec,
            });
        }
    }
    programs.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(programs)
}

fn read_dir_sorted(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut paths = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<Vec<_>>>()
        .with_context(|| format!("cannot list {}", dir.display()))?;
    paths.sort();
    Ok(paths)
}

/// A missing spec is the default spec.
fn read_spec(path: &Path) -> Result<TestSpec> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text).with_context(|| path.display().to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(TestSpec::default()),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// A fresh, writable copy of the fixture directory `src` (files named `*.cleanup` left
/// out), removed when the guard drops. Files and directories get default permissions, not
/// the (possibly read-only) originals'; symlinks are recreated with the same target. The
/// original is only read.
pub fn copy_fixture(src: &Path) -> Result<tempfile::TempDir> {
    let dir = tempfile::Builder::new()
        .prefix("hako-wasi-")
        .tempdir()
        .context("cannot create a temporary directory")?;
    copy_tree(src, dir.path())
        .with_context(|| format!("cannot copy the fixture {}", src.display()))?;
    Ok(dir)
}

fn copy_tree(src: &Path, dst: &Path) -> Result<()> {
    for path in read_dir_sorted(src)? {
        let name = path.file_name().unwrap_or_default();
        if name.to_string_lossy().ends_with(".cleanup") {
            continue;
        }
        let to = dst.join(name);
        let meta = std::fs::symlink_metadata(&path)
            .with_context(|| format!("cannot stat {}", path.display()))?;
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&path)
                .with_context(|| format!("cannot read the link {}", path.display()))?;
            std::os::unix::fs::symlink(&target, &to)
                .with_context(|| format!("cannot create {}", to.display()))?;
        } else if meta.is_dir() {
            std::fs::create_dir(&to).with_context(|| format!("cannot create {}", to.display()))?;
            copy_tree(&path, &to)?;
        } else if meta.is_file() {
            let bytes =
                std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
            std::fs::write(&to, bytes).with_context(|| format!("cannot write {}", to.display()))?;
        } else {
            bail!(
                "{} is neither a file, a directory nor a symlink",
                path.display()
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn specs_parse_with_defaults() {
        let spec: TestSpec =
            serde_json::from_str(r#"{"args": ["a"], "env": {"b": "c"}, "stdout": "x"}"#).unwrap();
        assert_eq!(spec.args, ["a"]);
        assert_eq!(spec.expected_exit_code(), 0);
        assert_eq!(spec.stderr, None);
        assert!(serde_json::from_str::<TestSpec>(r#"{"argz": []}"#).is_err());
    }

    #[test]
    fn discovery_names_programs_by_language_and_stem() {
        let dir = tempfile::tempdir().unwrap();
        let suite = dir.path().join("tests/c/testsuite/wasm32-wasip1");
        std::fs::create_dir_all(&suite).unwrap();
        std::fs::write(suite.join("b.wasm"), b"\0asm").unwrap();
        std::fs::write(suite.join("a.wasm"), b"\0asm").unwrap();
        std::fs::write(suite.join("a.json"), r#"{"exit_code": 3}"#).unwrap();
        std::fs::write(suite.join("manifest.json"), "{}").unwrap();
        let programs = discover(dir.path(), None).unwrap();
        let names: Vec<_> = programs.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["c/a", "c/b"]);
        assert_eq!(programs[0].spec.as_ref().unwrap().exit_code, Some(3));
        assert_eq!(programs[1].argv(&TestSpec::default()), ["b.wasm"]);
        assert_eq!(discover(dir.path(), Some("b")).unwrap().len(), 1);
        assert!(discover(&dir.path().join("nope"), None).is_err());
    }

    #[test]
    fn fixture_copies_are_writable_and_skip_cleanup_files() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("fixture");
        std::fs::create_dir_all(src.join("sub")).unwrap();
        std::fs::write(src.join("sub/f"), b"hello").unwrap();
        std::fs::write(src.join("old.cleanup"), b"").unwrap();
        std::os::unix::fs::symlink("sub/f", src.join("link")).unwrap();
        std::fs::set_permissions(src.join("sub/f"), std::fs::Permissions::from_mode(0o444))
            .unwrap();
        let copy = copy_fixture(&src).unwrap();
        assert_eq!(std::fs::read(copy.path().join("sub/f")).unwrap(), b"hello");
        assert!(!copy.path().join("old.cleanup").exists());
        assert_eq!(
            std::fs::read_link(copy.path().join("link")).unwrap(),
            Path::new("sub/f")
        );
        std::fs::write(copy.path().join("sub/f"), b"x").unwrap();
        assert_eq!(std::fs::read(src.join("sub/f")).unwrap(), b"hello");
    }
}
