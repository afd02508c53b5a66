//! Finding the Sightglass programs: the benchmarks' root (`--suite DIR`, `$HAKO_BENCHMARKS`,
//! or `../shared/benchmarks/sightglass/benchmarks` beside the workspace), each program's
//! name, folder and expected output, and the check of an output against those expectations.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

/// Environment variable naming the benchmarks' root.
pub const SUITE_ENV: &str = "HAKO_BENCHMARKS";

/// The benchmarks' root from the flag, the environment or the default.
pub fn suite_root(flag: Option<&Path>) -> PathBuf {
    crate::workspace::suite_root(flag, SUITE_ENV, "benchmarks/sightglass/benchmarks")
}

/// One Sightglass program.
#[derive(Debug, Clone)]
pub struct Program {
    /// The folder's name for `<folder>/benchmark.wasm`, else `<folder>/<stem>`.
    pub name: String,
    pub wasm: PathBuf,
    /// Its folder, preopened as `.`.
    pub dir: PathBuf,
    pub stdout_expected: Option<Vec<u8>>,
    pub stderr_expected: Option<Vec<u8>>,
    /// Whether the expectations are the folder's shared `default.*.expected` (libsodium's),
    /// which lack the programs' final newline: compared without trailing whitespace.
    pub shared_expectations: bool,
}

impl Program {
    pub(super) fn argv(&self) -> Vec<String> {
        vec![self
            .wasm
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned()]
    }

    /// Whether this output is the expected one; the error says what differs.
    pub(super) fn check_output(&self, stdout: &[u8], stderr: &[u8]) -> Result<()> {
        let trim = |b: &[u8]| -> Vec<u8> {
            let end = b
                .iter()
                .rposition(|c| !c.is_ascii_whitespace())
                .map_or(0, |i| i + 1);
            b[..end].to_vec()
        };
        let differs = |expected: Option<&[u8]>, got: &[u8]| match expected {
            None => false,
            Some(e) if self.shared_expectations => trim(e) != trim(got),
            Some(e) => e != got,
        };
        let mut wrong = Vec::new();
        if differs(self.stdout_expected.as_deref(), stdout) {
            wrong.push("stdout");
        }
        if differs(self.stderr_expected.as_deref(), stderr) {
            wrong.push("stderr");
        }
        if !wrong.is_empty() {
            bail!("{} differs from the expected", wrong.join(" and "));
        }
        Ok(())
    }
}

/// The programs under `root` whose name contains `filter`, sorted by name.
pub fn discover(root: &Path, filter: Option<&str>) -> Result<Vec<Program>> {
    let root = root.canonicalize().with_context(|| {
        format!(
            "no benchmarks at {} (set {SUITE_ENV} or --suite)",
            root.display()
        )
    })?;
    let mut programs = Vec::new();
    for entry in
        std::fs::read_dir(&root).with_context(|| format!("cannot read {}", root.display()))?
    {
        let dir = entry?.path();
        if !dir.is_dir() {
            continue;
        }
        let folder = dir.file_name().unwrap().to_string_lossy().into_owned();
        for file in std::fs::read_dir(&dir)? {
            let wasm = file?.path();
            if wasm.extension().is_none_or(|e| e != "wasm") {
                continue;
            }
            let stem = wasm.file_stem().unwrap().to_string_lossy().into_owned();
            let name = if stem == "benchmark" {
                folder.clone()
            } else {
                format!("{folder}/{stem}")
            };
            if filter.is_some_and(|f| !name.contains(f)) {
                continue;
            }
            // `<stem>.<stream>.expected`, else the folder's `default.<stream>.expected`
            // (libsodium's programs share theirs).
            let expected = |stream: &str| {
                std::fs::read(dir.join(format!("{stem}.{stream}.expected")))
                    .or_else(|_| std::fs::read(dir.join(format!("default.{stream}.expected"))))
                    .ok()
            };
            let own = |stream: &str| dir.join(format!("{stem}.{stream}.expected")).is_file();
            let shared_expectations = !own("stdout") && !own("stderr");
            programs.push(Program {
                shared_expectations,
                stdout_expected: expected("stdout"),
                stderr_expected: expected("stderr"),
                name,
                wasm,
                dir: dir.clone(),
            });
        }
    }
    programs.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(programs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn program(expected: &[u8], shared: bool) -> Program {
        Program {
            name: "p".into(),
            wasm: "p.wasm".into(),
            dir: ".".into(),
            stdout_expected: Some(expected.to_vec()),
            stderr_expected: None,
            shared_expectations: shared,
        }
    }

    #[test]
    fn own_expectations_are_exact_shared_ones_ignore_trailing_whitespace() {
        assert!(program(b"0", false).check_output(b"0\n", b"").is_err());
        assert!(program(b"0", true)
            .check_output(b"0\n", b"anything")
            .is_ok());
        assert!(program(b"0", true).check_output(b"1\n", b"").is_err());
        assert!(program(b"0\n", false).check_output(b"0\n", b"").is_ok());
    }
}
