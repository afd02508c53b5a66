//! # The WASI testsuite (`hako wasi`, `cargo test --test wasi`)
//!
//! Every program of the official WASI preview1 testsuite (`tests/*/testsuite/wasm32-wasip1/`,
//! see [`suite`]) runs twice, each time on its own fresh copy of its fixture directory:
//!
//! 1. in the [`oracle`], Wasmtime with `wasi-common` in-process;
//! 2. in the unikernel ([`unikernel`]): compiled (cached), linked, booted in QEMU with the
//!    fixture copy shared over virtio-9p and preopened as `/`.
//!
//! Both sides get the same `argv` (`argv[0]` is the program's file name, e.g.
//! `fd_advise.wasm`, then the JSON's `args`), the JSON's `env` in name order, an empty
//! stdin, and the copy of the JSON's `root` preopened as `/` (no preopen when there is no
//! `root`). Then, per program:
//!
//! - each side is checked against the test's JSON (exit status, default 0; stdout and stderr
//!   when given), see [`compare::against_json`];
//! - **the rule:** when the oracle satisfies the JSON, it is the reference, and hako must
//!   match it exactly: exit status (or both trapped), stdout, stderr and the final tree
//!   (names, types, sizes, contents, symlink targets; see [`tree`]). When the oracle does
//!   *not* satisfy the JSON, its run is no reference for that test (it may have stopped half
//!   way): hako is judged against the JSON alone, and the report says so.
//!
//! One program prints hash maps whose order depends on `random_get`; for it alone the items
//! inside `{...}` are sorted before the streams are compared
//! ([`compare::UNORDERED_OUTPUT`]).
//!
//! A program *passes* when hako satisfies the JSON and, under the oracle reference, shows no
//! difference. Otherwise it must be listed in `wasi-testsuite/expectations.toml` (see
//! [`expectations`]). Every difference is one precise line: which stream and the first
//! differing byte, which path of the tree, which exit status.
//!
//! The kernel's `enosys` records (see `hako_abi::boot::record::ENOSYS`) are kept per program
//! and, with the WASI functions each program imports, feed the [`coverage`] table
//! (`hako wasi --coverage`).

pub mod cli;
pub mod compare;
pub mod coverage;
pub mod expectations;
pub mod oracle;
pub mod suite;
pub mod tree;
pub mod unikernel;

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::expectations::truncate;
use compare::Ending;
use suite::{Program, TestSpec};
use unikernel::HakoOptions;

/// How to run the programs.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub hako: HakoOptions,
    /// Wall-time limit of an oracle run.
    pub oracle_timeout: Duration,
}

/// Which run hako was judged against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reference {
    /// The oracle satisfied the JSON: hako must match the oracle.
    Oracle,
    /// The oracle did not satisfy the JSON: hako is judged against the JSON alone.
    Json,
}

/// One side's run, as reported.
#[derive(Debug, Clone, Serialize)]
pub struct Side {
    pub ending: Ending,
    /// Lossy UTF-8, for the JSON report.
    pub stdout: String,
    pub stderr: String,
    /// What disagrees with the test's JSON.
    pub json_mismatches: Vec<String>,
    pub millis: u64,
}

/// The outcome of one program.
#[derive(Debug, Clone, Serialize)]
pub struct ProgramReport {
    pub name: String,
    pub passes: bool,
    pub reference: Reference,
    /// hako against the oracle, one line each (empty under the JSON reference).
    pub differences: Vec<String>,
    /// Why the program could not be run at all (unreadable spec, fixture, module).
    pub error: Option<String>,
    pub oracle: Option<Side>,
    pub hako: Option<Side>,
    /// Compile time of hako's object, when not cached.
    pub compile_millis: Option<u64>,
    /// The `wasi_snapshot_preview1` functions the program imports.
    pub wasi_imports: Vec<String>,
    /// The WASI functions the kernel recorded as unimplemented (`enosys` records).
    pub enosys: Vec<String>,
}

impl ProgramReport {
    fn failed(name: &str, error: String) -> ProgramReport {
        ProgramReport {
            name: name.to_string(),
            passes: false,
            reference: Reference::Oracle,
            differences: Vec::new(),
            error: Some(error),
            oracle: None,
            hako: None,
            compile_millis: None,
            wasi_imports: Vec::new(),
            enosys: Vec::new(),
        }
    }

    /// Why hako does not pass, one line each, without the program's name.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(error) = &self.error {
            out.push(format!("cannot run: {error}"));
        }
        if let Some(hako) = &self.hako {
            out.extend(hako.json_mismatches.iter().map(|m| format!("hako: {m}")));
        }
        out.extend(self.differences.iter().cloned());
        if !self.passes && !self.enosys.is_empty() {
            out.push(format!("hako: ENOSYS from {}", self.enosys.join(", ")));
        }
        out
    }

    /// `name: problem` for every problem.
    pub fn failures(&self) -> impl Iterator<Item = String> + '_ {
        self.problems()
            .into_iter()
            .map(move |p| format!("{}: {p}", self.name))
    }

    /// A note when the oracle does not satisfy the JSON (then not the reference).
    pub fn oracle_note(&self) -> Option<String> {
        let oracle = self.oracle.as_ref()?;
        (self.reference == Reference::Json).then(|| {
            let said = oracle
                .stderr
                .lines()
                .find(|l| !l.trim().is_empty())
                .map(|l| format!(", its stderr: {}", truncate(l.trim(), 120)))
                .unwrap_or_default();
            format!(
                "{}: the oracle disagrees with the test's JSON ({}{said}); hako judged against the JSON alone",
                self.name,
                oracle.json_mismatches.join("; ")
            )
        })
    }

    /// The oracle ran and satisfied the test's JSON.
    pub fn oracle_matches_json(&self) -> bool {
        self.oracle
            .as_ref()
            .is_some_and(|o| o.json_mismatches.is_empty())
    }

    /// A one-line reason why the program does not pass (for the expectations list): the
    /// first difference from the oracle, else the first JSON mismatch, else the error; led by
    /// the `ENOSYS` functions, if any.
    pub fn summary_reason(&self) -> String {
        let first = self
            .differences
            .first()
            .cloned()
            .or_else(|| {
                self.hako
                    .as_ref()
                    .and_then(|h| h.json_mismatches.first())
                    .map(|m| format!("hako: {m}"))
            })
            .or_else(|| self.error.as_ref().map(|e| format!("cannot run: {e}")))
            .unwrap_or_else(|| "no problem recorded".into());
        let first = truncate(first.lines().next().unwrap_or_default(), 160);
        if self.enosys.is_empty() {
            first
        } else {
            format!("ENOSYS {}; {first}", self.enosys.join(", "))
        }
    }
}

/// Run one program on both sides and compare. Never panics: a panic becomes the program's
/// error.
pub fn run_program(program: &Program, options: &RunOptions) -> ProgramReport {
    crate::panics::catch(|| run_program_inner(program, options))
        .unwrap_or_else(|panic| ProgramReport::failed(&program.name, format!("panic: {panic}")))
}

fn run_program_inner(program: &Program, options: &RunOptions) -> ProgramReport {
    let spec = match &program.spec {
        Ok(spec) => spec,
        Err(e) => return ProgramReport::failed(&program.name, format!("bad test spec: {e:#}")),
    };
    let module = match crate::input::read(&program.wasm) {
        Ok(m) => m,
        Err(e) => return ProgramReport::failed(&program.name, format!("{e:#}")),
    };
    let argv = program.argv(spec);
    let env: Vec<(String, String)> = spec.env.clone().into_iter().collect();
    let fixture = program.fixture(spec);
    let copy = || fixture.as_deref().map(suite::copy_fixture).transpose();
    let (oracle_dir, hako_dir) = match (copy(), copy()) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return ProgramReport::failed(&program.name, format!("{e:#}")),
    };

    let start = Instant::now();
    let oracle = oracle::run(
        &module.wasm,
        &argv,
        &env,
        oracle_dir.as_ref().map(|d| d.path()),
        options.oracle_timeout,
    );
    let oracle_millis = start.elapsed().as_millis() as u64;
    let hako = unikernel::run(
        &module,
        &argv,
        &env,
        hako_dir.as_ref().map(|d| d.path()),
        &options.hako,
    );

    let snapshot = |dir: &Option<tempfile::TempDir>| {
        dir.as_ref().map(|d| tree::snapshot(d.path())).transpose()
    };
    let (oracle_tree, hako_tree) = match (snapshot(&oracle_dir), snapshot(&hako_dir)) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return ProgramReport::failed(&program.name, format!("{e:#}")),
    };
    let hako_millis = hako.boot_time.as_millis() as u64;
    let mut report = judge(
        program,
        spec,
        &oracle,
        oracle_tree.as_ref(),
        oracle_millis,
        &hako,
        hako_tree.as_ref(),
        hako_millis,
    );
    report.wasi_imports = wasi_imports(&module.wasm);
    report
}

/// The `wasi_snapshot_preview1` functions a module imports, in import order (empty for a
/// module that does not parse).
pub fn wasi_imports(wasm: &[u8]) -> Vec<String> {
    let mut names = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        let Ok(wasmparser::Payload::ImportSection(section)) = payload else {
            continue;
        };
        for import in section.into_imports().flatten() {
            if import.module == hako_abi::wasi::MODULE && !names.iter().any(|n| n == import.name) {
                names.push(import.name.to_string());
            }
        }
    }
    names
}

#[allow(clippy::too_many_arguments)]
fn judge(
    program: &Program,
    spec: &TestSpec,
    oracle: &oracle::OracleRun,
    oracle_tree: Option<&tree::Tree>,
    oracle_millis: u64,
    hako: &unikernel::HakoRun,
    hako_tree: Option<&tree::Tree>,
    hako_millis: u64,
) -> ProgramReport {
    let oracle_json = compare::against_json(spec, &oracle.ending, &oracle.stdout, &oracle.stderr);
    let hako_json = compare::against_json(spec, &hako.ending, &hako.stdout, &hako.stderr);
    let reference = if oracle_json.is_empty() {
        Reference::Oracle
    } else {
        Reference::Json
    };
    let mut differences = Vec::new();
    if reference == Reference::Oracle {
        if !oracle.ending.matches(&hako.ending) {
            differences.push(format!(
                "exit: oracle {}, hako {}",
                oracle.ending.describe(),
                hako.ending.describe()
            ));
        }
        if compare::UNORDERED_OUTPUT.contains(&program.name.as_str()) {
            let sorted = compare::sort_braced_items;
            differences.extend(compare::stream(
                "stdout ({...} items sorted)",
                &sorted(&oracle.stdout),
                &sorted(&hako.stdout),
            ));
            differences.extend(compare::stream(
                "stderr ({...} items sorted)",
                &sorted(&oracle.stderr),
                &sorted(&hako.stderr),
            ));
        } else {
            differences.extend(compare::stream("stdout", &oracle.stdout, &hako.stdout));
            differences.extend(compare::stream("stderr", &oracle.stderr, &hako.stderr));
        }
        if let (Some(a), Some(b)) = (oracle_tree, hako_tree) {
            differences.extend(tree::compare(a, b));
        }
    }
    let passes = hako_json.is_empty() && differences.is_empty();
    let side = |ending: &Ending, stdout: &[u8], stderr: &[u8], json: Vec<String>, millis| Side {
        ending: ending.clone(),
        stdout: String::from_utf8_lossy(stdout).into_owned(),
        stderr: String::from_utf8_lossy(stderr).into_owned(),
        json_mismatches: json,
        millis,
    };
    ProgramReport {
        name: program.name.clone(),
        passes,
        reference,
        differences,
        error: None,
        oracle: Some(side(
            &oracle.ending,
            &oracle.stdout,
            &oracle.stderr,
            oracle_json,
            oracle_millis,
        )),
        hako: Some(side(
            &hako.ending,
            &hako.stdout,
            &hako.stderr,
            hako_json,
            hako_millis,
        )),
        compile_millis: hako.compile_time.map(|d| d.as_millis() as u64),
        wasi_imports: Vec::new(),
        enosys: hako.enosys.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn program() -> Program {
        Program {
            name: "rust/x".into(),
            wasm: "x.wasm".into(),
            spec: Ok(TestSpec::default()),
        }
    }

    fn oracle_run(code: u32, stdout: &[u8]) -> oracle::OracleRun {
        oracle::OracleRun {
            ending: Ending::Exit { code },
            stdout: stdout.to_vec(),
            stderr: Vec::new(),
        }
    }

    fn hako_run(code: u32, stdout: &[u8], enosys: &[&str]) -> unikernel::HakoRun {
        unikernel::HakoRun {
            ending: Ending::Exit { code },
            stdout: stdout.to_vec(),
            stderr: Vec::new(),
            enosys: enosys.iter().map(|s| s.to_string()).collect(),
            compile_time: None,
            boot_time: Duration::ZERO,
        }
    }

    #[test]
    fn hako_must_match_the_oracle() {
        let spec = TestSpec::default();
        let r = judge(
            &program(),
            &spec,
            &oracle_run(0, b"ok"),
            None,
            0,
            &hako_run(0, b"ok", &[]),
            None,
            0,
        );
        assert!(r.passes, "{:?}", r.problems());
        let r = judge(
            &program(),
            &spec,
            &oracle_run(0, b"ok"),
            None,
            0,
            &hako_run(1, b"no", &["path_open"]),
            None,
            0,
        );
        assert!(!r.passes);
        assert_eq!(
            r.problems(),
            [
                "hako: exit: JSON 0, got exit 1",
                "exit: oracle exit 0, hako exit 1",
                "stdout differs at byte 0: oracle \"ok\", hako \"no\"",
                "hako: ENOSYS from path_open",
            ]
        );
        assert_eq!(
            r.summary_reason(),
            "ENOSYS path_open; exit: oracle exit 0, hako exit 1"
        );
    }

    #[test]
    fn an_oracle_that_fails_the_json_is_no_reference() {
        let spec = TestSpec {
            stdout: Some("right".into()),
            ..TestSpec::default()
        };
        let oracle = oracle_run(0, b"wrong");
        let r = judge(
            &program(),
            &spec,
            &oracle,
            None,
            0,
            &hako_run(0, b"right", &[]),
            None,
            0,
        );
        assert!(r.passes);
        assert_eq!(r.reference, Reference::Json);
        assert!(!r.oracle_matches_json());
        assert!(r
            .oracle_note()
            .unwrap()
            .contains("stdout differs from the JSON"));
        let r = judge(
            &program(),
            &spec,
            &oracle,
            None,
            0,
            &hako_run(0, b"wrong", &[]),
            None,
            0,
        );
        assert!(!r.passes);
    }

    #[test]
    fn trees_are_compared() {
        let spec = TestSpec::default();
        let mut a = tree::Tree::new();
        a.insert("/f".into(), tree::Node::File(b"x".to_vec()));
        let b = tree::Tree::new();
        let r = judge(
            &program(),
            &spec,
            &oracle_run(0, b""),
            Some(&a),
            0,
            &hako_run(0, b"", &[]),
            Some(&b),
            0,
        );
        assert_eq!(
            r.differences,
            ["tree: /f: oracle file (1 byte), hako missing"]
        );
    }
}
