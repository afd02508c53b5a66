//! # The conformance report (`hako report --out DIR`)
//!
//! One run of the spec testsuite ([`crate::spec`]) and the WASI testsuite ([`crate::wasi`]),
//! through their own run functions, folded into a [`Report`] and written four ways:
//!
//! - `report.json`: the [`Report`] itself, everything machine-readable: per spec file its
//!   counts and every failed assertion with `file:line`, per WASI program both runs and every
//!   difference from the oracle, the WASI function table, tool versions, commit, date and the
//!   machine (CPU, cores, memory, KVM or TCG) — see [`collect`];
//! - `report.md`: a summary for a pull request or a commit comment ([`markdown`]);
//! - `index.html`: one self-contained page, inline CSS and inline SVG, no script and no
//!   network: pass rate per tier and per proposal as bars, the failing files with reasons,
//!   the WASI function table, and a trend chart over earlier `report.json` files given with
//!   `--history DIR` ([`html`], [`history`]);
//! - `junit.xml`: one `<testsuite>` per suite, one `<testcase>` per file or program
//!   ([`junit`]).
//!
//! Benchmarks: `--bench` runs `hako bench` (all of it, default settings) and keeps its
//! summary line and its whole JSON result in the report.
//!
//! "Per proposal" groups `proposals/<name>/…` files by proposal name, `legacy/…` as
//! `legacy`, and the top-level files by their tier (see [`group_of`]).

pub mod cli;
pub mod collect;
pub mod example;
pub mod history;
pub mod html;
pub mod junit;
pub mod markdown;

#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Version of the `report.json` layout.
pub const FORMAT: u32 = 1;

/// The whole result of one `hako report` run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub format: u32,
    /// When the run started, UTC, RFC 3339 (`2026-06-01T02:00:00Z`).
    pub date: String,
    /// Wall time of the whole run.
    pub seconds: f64,
    pub tools: Tools,
    pub machine: Machine,
    /// `None` when not run (`--no-spec`).
    pub spec: Option<SpecSection>,
    /// `None` when not run (`--no-wasi`).
    pub wasi: Option<WasiSection>,
    /// Both suites again as Linux executables (`--target linux`), shown beside the
    /// unikernel's; `None` when not run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linux: Option<LinuxSection>,
    /// `None` when not asked for (`--bench`).
    pub benchmarks: Option<Benchmarks>,
    /// `None` when not asked for (`--fuzz N`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fuzz: Option<FuzzSection>,
    /// Anything that went wrong around the suites (a suite not found, ...).
    #[serde(default)]
    pub notes: Vec<String>,
}

/// Versions of everything that produced the result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tools {
    /// `hako` (the runner crate's version).
    pub hako: String,
    /// `git rev-parse HEAD`, or "unknown".
    pub commit: String,
    /// `rustc --version`.
    pub rustc: String,
    /// `llvm-config-19 --version`.
    pub llvm: String,
    /// `qemu-system-x86_64 --version`, first line.
    pub qemu: String,
    /// The Wasmtime crate the WASI oracle is built with.
    pub wasmtime: String,
}

/// The machine the run happened on.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Machine {
    /// `model name` of `/proc/cpuinfo`.
    pub cpu: String,
    pub cores: usize,
    pub memory_mib: u64,
    /// `PRETTY_NAME` of `/etc/os-release`, and the kernel release.
    pub os: String,
    /// `kvm` or `tcg`: what QEMU used (`hako_runner::qemu::Accel::detect`).
    pub accel: String,
    /// Why, when it is not obvious (`/dev/kvm` is kvm-pvm, `HAKO_ACCEL` set, ...).
    pub accel_note: String,
}

/// Counts of one group of spec files.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    pub name: String,
    pub files: usize,
    /// Files whose every check passed.
    pub passing: usize,
    /// Checks.
    pub passed: usize,
    pub failed: usize,
    pub not_run: usize,
}

impl Group {
    pub fn new(name: &str) -> Group {
        Group {
            name: name.to_string(),
            ..Group::default()
        }
    }

    pub fn checks(&self) -> usize {
        self.passed + self.failed + self.not_run
    }

    /// Checks passed, in percent of all checks (0 for an empty group).
    pub fn rate(&self) -> f64 {
        percent(self.passed, self.checks())
    }

    fn add(&mut self, file: &SpecFile) {
        self.files += 1;
        self.passing += file.passes as usize;
        self.passed += file.passed;
        self.failed += file.failed;
        self.not_run += file.not_run;
    }
}

/// `part` of `whole` in percent, 0 for an empty whole.
pub fn percent(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        100.0 * part as f64 / whole as f64
    }
}

/// The spec testsuite's result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SpecSection {
    pub suite: String,
    pub opt_level: String,
    pub seconds: f64,
    /// Per tier, smallest first (every file of the suite counts).
    pub tiers: Vec<Group>,
    /// Per proposal (`proposals/<name>/`), `legacy`, and the top-level files by tier.
    pub proposals: Vec<Group>,
    pub totals: Group,
    /// The `assert_invalid` / `assert_malformed` checks alone.
    pub rejections: Group,
    /// Every file, by name.
    pub files: Vec<SpecFile>,
}

/// One `.wast` script.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SpecFile {
    pub name: String,
    pub tier: String,
    /// See [`group_of`].
    pub group: String,
    pub passes: bool,
    /// Listed in `spec-tests/expectations.toml`.
    pub known_failing: bool,
    pub passed: usize,
    pub failed: usize,
    pub not_run: usize,
    pub millis: u64,
    /// Why it does not pass, one line; `None` when it passes.
    pub reason: Option<String>,
    /// Every failed check, in line order.
    pub failures: Vec<Assertion>,
    /// Why checks were not run → how many.
    pub not_run_reasons: BTreeMap<String, usize>,
}

/// One failed check.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Assertion {
    /// `file:line`.
    pub location: String,
    pub line: u32,
    /// The directive: `assert_return`, `module`, ...
    pub kind: String,
    pub expected: String,
    pub actual: String,
}

/// The WASI testsuite's result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WasiSection {
    pub suite: String,
    pub opt_level: String,
    pub seconds: f64,
    pub totals: WasiTotals,
    pub programs: Vec<WasiProgram>,
    /// The 46 `wasi_snapshot_preview1` functions, alphabetically.
    pub functions: Vec<WasiFunction>,
    /// Why the coverage probe did not finish, if it did not.
    pub probe_error: Option<String>,
}

/// The suites run on the Linux target.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LinuxSection {
    pub spec: Option<SpecSection>,
    pub wasi: Option<WasiSection>,
}

impl Report {
    /// The spec files and WASI programs whose outcome differs between the two targets.
    pub fn target_differences(&self) -> Vec<String> {
        let Some(linux) = &self.linux else {
            return Vec::new();
        };
        let mut out = Vec::new();
        if let (Some(a), Some(b)) = (&self.spec, &linux.spec) {
            for f in &a.files {
                if let Some(g) = b.files.iter().find(|g| g.name == f.name) {
                    if f.passes != g.passes {
                        out.push(f.name.clone());
                    }
                }
            }
        }
        if let (Some(a), Some(b)) = (&self.wasi, &linux.wasi) {
            for p in &a.programs {
                if let Some(q) = b.programs.iter().find(|q| q.name == p.name) {
                    if p.passes != q.passes {
                        out.push(p.name.clone());
                    }
                }
            }
        }
        out
    }
}

/// One row of the targets table: what, then the unikernel's and the Linux target's value.
pub fn target_rows(report: &Report) -> Vec<(&'static str, String, String)> {
    let Some(linux) = &report.linux else {
        return Vec::new();
    };
    let spec_files = |s: Option<&SpecSection>| {
        s.map_or("-".to_string(), |s| {
            format!("{} of {}", s.totals.passing, s.totals.files)
        })
    };
    let spec_checks = |s: Option<&SpecSection>| {
        s.map_or("-".to_string(), |s| {
            format!("{} of {}", s.totals.passed, s.totals.checks())
        })
    };
    let spec_time =
        |s: Option<&SpecSection>| s.map_or("-".to_string(), |s| format!("{:.0} s", s.seconds));
    let wasi_passing = |w: Option<&WasiSection>| {
        w.map_or("-".to_string(), |w| {
            format!("{} of {}", w.totals.hako_passes, w.totals.programs)
        })
    };
    let wasi_time =
        |w: Option<&WasiSection>| w.map_or("-".to_string(), |w| format!("{:.0} s", w.seconds));
    let (us, ls) = (report.spec.as_ref(), linux.spec.as_ref());
    let (uw, lw) = (report.wasi.as_ref(), linux.wasi.as_ref());
    vec![
        ("spec files passing", spec_files(us), spec_files(ls)),
        ("spec checks passed", spec_checks(us), spec_checks(ls)),
        ("spec run time", spec_time(us), spec_time(ls)),
        ("WASI programs passing", wasi_passing(uw), wasi_passing(lw)),
        ("WASI run time", wasi_time(uw), wasi_time(lw)),
    ]
}

/// Totals of the WASI run (as `hako wasi` prints them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WasiTotals {
    pub programs: usize,
    pub oracle_matches_json: usize,
    pub hako_passes: usize,
    pub hako_matches_oracle: usize,
    pub hako_fails: usize,
}

/// One WASI program, both runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WasiProgram {
    /// `rust/fd_advise`, `c/lseek`, ...
    pub name: String,
    pub passes: bool,
    /// Listed in `wasi-testsuite/expectations.toml`.
    pub known_failing: bool,
    /// `oracle` (hako must match the oracle) or `json` (the oracle fails the test's JSON).
    pub reference: String,
    /// hako against the oracle, one line each.
    pub differences: Vec<String>,
    /// Everything wrong with hako's run, one line each (the differences included).
    pub problems: Vec<String>,
    /// One line, `None` when it passes.
    pub reason: Option<String>,
    /// Set when the oracle disagrees with the test's JSON.
    pub oracle_note: Option<String>,
    pub hako: Option<Run>,
    pub oracle: Option<Run>,
    pub compile_millis: Option<u64>,
    pub wasi_imports: Vec<String>,
    pub enosys: Vec<String>,
}

/// One side's run of a WASI program.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Run {
    /// `exit 0`, `trap (...)`, `error (...)`.
    pub ending: String,
    pub stdout: String,
    pub stderr: String,
    pub json_mismatches: Vec<String>,
    pub millis: u64,
}

/// How far hako implements a WASI function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FunctionStatus {
    /// The probe found it implemented and no program met `ENOSYS` from it.
    Implemented,
    /// The probe found it implemented, but some program met `ENOSYS` from it.
    Partial,
    /// The probe met `ENOSYS` from it.
    Missing,
    /// The probe did not finish and no program met `ENOSYS` from it.
    Unknown,
}

impl FunctionStatus {
    pub fn name(self) -> &'static str {
        match self {
            FunctionStatus::Implemented => "implemented",
            FunctionStatus::Partial => "partial",
            FunctionStatus::Missing => "missing",
            FunctionStatus::Unknown => "unknown",
        }
    }
}

/// One row of the WASI function table.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WasiFunction {
    pub name: String,
    pub status: FunctionStatus,
    /// Programs that import it.
    pub imported_by: Vec<String>,
    /// Programs whose hako run met `ENOSYS` from it.
    pub enosys_in: Vec<String>,
}

impl WasiFunction {
    /// The programs that need it to be done: for a missing function every program that
    /// imports it, for a partial one those that met `ENOSYS`.
    pub fn needed_by(&self) -> &[String] {
        match self.status {
            FunctionStatus::Missing => &self.imported_by,
            FunctionStatus::Partial => &self.enosys_in,
            _ => &[],
        }
    }
}

/// The benchmarks' part of the report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Benchmarks {
    pub available: bool,
    /// One line: the summary of `hako bench`, or why there are no numbers.
    pub note: String,
    /// The whole `hako bench --json` result, when it ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<serde_json::Value>,
}

/// The differential fuzzing run of the report (`hako fuzz`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FuzzSection {
    /// The first seed (module `i` is `seed + i`).
    pub seed: u64,
    pub summary: crate::fuzz::Summary,
}

impl FuzzSection {
    /// One line for the summaries.
    pub fn note(&self) -> String {
        let s = &self.summary;
        format!(
            "fuzzing: {} modules from seed {} ({} invocations, {} final-state checks) compared with Wasmtime at -O0 and -O3: {} mismatches",
            s.modules,
            self.seed,
            s.invocations,
            s.state_checks,
            s.mismatches.len()
        )
    }
}

/// The message of an example report without benchmarks.
pub const NO_BENCH: &str = "benchmarks: not run";

/// The group of a spec file: `proposals/<name>/…` is `<name>`, `legacy/…` is `legacy`, a
/// top-level file is its tier's name.
pub fn group_of(name: &str, tier: &str) -> String {
    let mut parts = name.split('/');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("proposals"), Some(proposal), Some(_)) => proposal.to_string(),
        (Some(dir), Some(_), _) => dir.to_string(),
        _ => tier.to_string(),
    }
}

impl SpecSection {
    /// The section from per-file results: tiers, groups and totals computed here.
    pub fn from_files(
        suite: String,
        opt_level: String,
        seconds: f64,
        files: Vec<SpecFile>,
        rejections: Group,
    ) -> SpecSection {
        let tier_order = ["core2", "simd", "wasm3", "proposal"];
        let rank = |t: &str| {
            tier_order
                .iter()
                .position(|x| *x == t)
                .unwrap_or(tier_order.len())
        };
        let mut tiers: BTreeMap<(usize, String), Group> = BTreeMap::new();
        let mut groups: BTreeMap<(usize, String), Group> = BTreeMap::new();
        let mut totals = Group::new("total");
        for f in &files {
            tiers
                .entry((rank(&f.tier), f.tier.clone()))
                .or_insert_with(|| Group::new(&f.tier))
                .add(f);
            // Top-level groups (tiers) first, then `legacy` and the proposals by name.
            let key = if f.group == f.tier && !f.name.contains('/') {
                (rank(&f.group), f.group.clone())
            } else {
                (tier_order.len() + 1, f.group.clone())
            };
            groups
                .entry(key)
                .or_insert_with(|| Group::new(&f.group))
                .add(f);
            totals.add(f);
        }
        SpecSection {
            suite,
            opt_level,
            seconds,
            tiers: tiers.into_values().collect(),
            proposals: groups.into_values().collect(),
            totals,
            rejections,
            files,
        }
    }

    /// The files that do not pass.
    pub fn failing(&self) -> impl Iterator<Item = &SpecFile> {
        self.files.iter().filter(|f| !f.passes)
    }
}

impl WasiSection {
    pub fn rate(&self) -> f64 {
        percent(self.totals.hako_passes, self.totals.programs)
    }

    pub fn count(&self, status: FunctionStatus) -> usize {
        self.functions.iter().filter(|f| f.status == status).count()
    }
}

impl Report {
    /// The first 10 characters of the commit (or all of "unknown").
    pub fn short_commit(&self) -> &str {
        let c = self.tools.commit.as_str();
        if c.len() > 10 && c.is_char_boundary(10) {
            &c[..10]
        } else {
            c
        }
    }

    /// Files and programs that fail without being listed as known failures.
    pub fn unexpected_failures(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(spec) = &self.spec {
            out.extend(
                spec.failing()
                    .filter(|f| !f.known_failing)
                    .map(|f| f.name.clone()),
            );
        }
        if let Some(wasi) = &self.wasi {
            out.extend(
                wasi.programs
                    .iter()
                    .filter(|p| !p.passes && !p.known_failing)
                    .map(|p| p.name.clone()),
            );
        }
        if let Some(linux) = &self.linux {
            let spec = linux.spec.iter().flat_map(|s| s.failing());
            out.extend(
                spec.filter(|f| !f.known_failing)
                    .map(|f| format!("{} [linux]", f.name)),
            );
            let wasi = linux.wasi.iter().flat_map(|w| &w.programs);
            out.extend(
                wasi.filter(|p| !p.passes && !p.known_failing)
                    .map(|p| format!("{} [linux]", p.name)),
            );
        }
        out
    }
}

/// Text for HTML and XML: `&`, `<`, `>`, `"` and `'` escaped; characters XML does not allow
/// (control characters but tab, newline and carriage return) become `\u{…}`.
pub fn escape_markup(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => {
                out.push_str(&format!("\\u{{{:x}}}", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

/// `text` cut to at most `max` bytes (on a character boundary), with `...` when cut.
pub fn clip(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut cut = max;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}...", &text[..cut])
}
