//! # The spec-conformance suite (`hako spec`, `cargo test --test spec`)
//!
//! Every `.wast` script of the official testsuite becomes one image: every module of the
//! script compiled, plus the script's commands as data (the contract is
//! `hako_abi::script`). The kernel executes the commands and reports each outcome; this side
//! compares. Per file:
//!
//! 1. [`plan`]: parse with the `wast` crate, encode every module, resolve instances, turn
//!    each directive into one check; compute the file's [`tier`];
//! 2. no-boot checks: every `assert_invalid` / `assert_malformed` module must be refused by
//!    the compiler (`hako_compiler_api::validate`, then `compile` at `-O0` should validation
//!    wrongly accept it); the `wast` crate's own refusal of malformed text counts as a
//!    refusal; a panic is a failure with the panic's message;
//! 3. compile the module table once, in parallel ([`compile_modules`]), when something will
//!    use the objects (a [`Booter`], or `--compile`);
//! 4. boot the [`SpecImage`] through the pluggable [`Booter`], restarting after a crash (the
//!    crashed command fails, the rest still runs), and [`compare`] every result line.
//!
//! Until the kernel has a script mode there is no booter: commands are reported "not run".
//!
//! Outcome per check: passed, failed (with expected and actual), or not run (with why). A
//! file *passes* when every check passed and none is "not run"; otherwise it must be listed
//! in `spec-tests/expectations.toml` (see [`expectations`]).

pub mod booter;
pub mod cli;
pub mod compare;
pub mod expectations;
pub mod legacy;
pub mod plan;
pub mod suite;
pub mod tier;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use hako_abi::script::{self as abi_script, parse_result_line, Command, ScriptWriter};
use hako_compiler_api::{OptLevel, Options};
use rayon::prelude::*;
use serde::Serialize;

use crate::cache::{self, Cache};
use crate::panics;
use plan::{FilePlan, Op, Planned};
use suite::SuiteFile;
use tier::Tier;

/// The feature named in a check's outcome when the compiler refused a module as valid but
/// not compiled yet ([`hako_compiler_api::CompileError::Unsupported`]: `... uses FEATURE (at
/// offset ...), which hako does not compile yet`).
fn unsupported_feature(actual: &str) -> Option<&str> {
    if !actual.contains("which hako does not compile yet") {
        return None;
    }
    let rest = &actual[actual.find(" uses ")? + " uses ".len()..];
    Some(&rest[..rest.find(" (at offset ")?])
}

/// The state of one check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Status {
    Passed,
    Failed { expected: String, actual: String },
    NotRun { reason: String },
}

#[allow(non_snake_case)]
impl Status {
    /// Shorthand constructor.
    pub fn NotRun(reason: impl Into<String>) -> Status {
        Status::NotRun {
            reason: reason.into(),
        }
    }
}

/// One check: one directive of the script.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub line: u32,
    pub kind: &'static str,
    #[serde(flatten)]
    pub status: Status,
}

/// Counts of checks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub passed: usize,
    pub failed: usize,
    pub not_run: usize,
}

impl Counts {
    pub fn add(&mut self, other: Counts) {
        self.passed += other.passed;
        self.failed += other.failed;
        self.not_run += other.not_run;
    }
    pub fn total(&self) -> usize {
        self.passed + self.failed + self.not_run
    }
}

/// The outcome of one script.
#[derive(Debug, Clone, Serialize)]
pub struct FileReport {
    pub name: String,
    pub tier: Tier,
    /// In line order.
    pub checks: Vec<Check>,
    pub millis: u64,
}

impl FileReport {
    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for check in &self.checks {
            match check.status {
                Status::Passed => c.passed += 1,
                Status::Failed { .. } => c.failed += 1,
                Status::NotRun { .. } => c.not_run += 1,
            }
        }
        c
    }

    /// Every check passed and none was left out.
    pub fn passes(&self) -> bool {
        let c = self.counts();
        c.failed == 0 && c.not_run == 0
    }

    /// Counts of the `assert_invalid` / `assert_malformed` checks alone.
    pub fn rejection_counts(&self) -> Counts {
        let mut c = Counts::default();
        for check in self
            .checks
            .iter()
            .filter(|c| matches!(c.kind, "assert_invalid" | "assert_malformed"))
        {
            match check.status {
                Status::Passed => c.passed += 1,
                Status::Failed { .. } => c.failed += 1,
                Status::NotRun { .. } => c.not_run += 1,
            }
        }
        c
    }

    /// `file:line: kind: expected X, got Y` for every failure.
    pub fn failures(&self) -> impl Iterator<Item = String> + '_ {
        self.checks.iter().filter_map(move |c| match &c.status {
            Status::Failed { expected, actual } => Some(format!(
                "{}:{}: {}: expected {expected}, got {actual}",
                self.name, c.line, c.kind
            )),
            _ => None,
        })
    }

    /// A one-line reason why the file does not pass (for the expectations list).
    pub fn summary_reason(&self) -> String {
        let c = self.counts();
        // Modules the compiler refused as valid but not compiled yet: the features, which
        // stay true however many checks depend on them.
        let unsupported: std::collections::BTreeSet<&str> = self
            .checks
            .iter()
            .filter_map(|check| match &check.status {
                Status::Failed { actual, .. } => unsupported_feature(actual),
                _ => None,
            })
            .collect();
        if !unsupported.is_empty() {
            let list: Vec<&str> = unsupported.into_iter().collect();
            return format!("unsupported: {}", list.join(", "));
        }
        if c.failed > 0 {
            let first = self.failures().next().unwrap_or_default();
            let first = first
                .split_once(": ")
                .map_or(first.as_str(), |(_, rest)| rest);
            let mut first = first.to_string();
            if first.len() > 160 {
                let mut cut = 160;
                while !first.is_char_boundary(cut) {
                    cut -= 1;
                }
                first.truncate(cut);
                first.push_str("...");
            }
            format!("{} failed, e.g. {first}", c.failed)
        } else {
            let mut reasons: BTreeMap<&str, usize> = BTreeMap::new();
            for check in &self.checks {
                if let Status::NotRun { reason } = &check.status {
                    *reasons.entry(reason.as_str()).or_default() += 1;
                }
            }
            let (reason, _) = reasons
                .iter()
                .max_by_key(|(_, n)| **n)
                .map(|(r, n)| (*r, *n))
                .unwrap_or(("", 0));
            format!("{} not run: {reason}", c.not_run)
        }
    }
}

/// One module of an image: object code compiled with symbol prefix
/// `hako_abi::script::module_prefix(index)`.
#[derive(Debug, Clone)]
pub struct ImageModule {
    /// Index in the image's module table (what `Instantiate` commands name).
    pub index: u32,
    /// `hako_spec_m<n>`, `n` the module's index in the file's plan (not `index`: the table
    /// leaves out modules that did not compile); the descriptor symbol is `<prefix>_module`.
    pub prefix: String,
    /// An x86_64 ELF relocatable object.
    pub object: Arc<Vec<u8>>,
}

/// Everything an image builder needs for one script.
#[derive(Debug, Clone)]
pub struct SpecImage {
    /// The script's name relative to the suite root.
    pub name: String,
    /// The module table, in manifest order.
    pub modules: Vec<ImageModule>,
    /// The encoded script (`hako_abi::script`), for `ImageManifest::script`.
    pub script: Vec<u8>,
    /// Ids of the commands in the script, in order.
    pub command_ids: Vec<u32>,
}

/// Where to start a (re)boot: see "Restart after a crash" in `hako_abi::script`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resume {
    /// `hako.script.resume=<from>`; 0 on the first boot (then the token can be left out).
    pub from: u32,
    /// `hako.script.skip=<id>` for each.
    pub skip: Vec<u32>,
}

impl Resume {
    /// The kernel command-line tokens for this resume point.
    pub fn cmdline_tokens(&self) -> Vec<String> {
        let mut t = Vec::new();
        if self.from > 0 {
            t.push(format!("{}{}", abi_script::RESUME_KEY, self.from));
        }
        t.extend(
            self.skip
                .iter()
                .map(|s| format!("{}{s}", abi_script::SKIP_KEY)),
        );
        t
    }
}

/// What one boot produced.
#[derive(Debug, Clone)]
pub struct BootOutput {
    /// Every line of the harness channel, in order (without newlines).
    pub lines: Vec<String>,
    /// How the guest ended when it did not reach `done`: "kernel panic: ...",
    /// "timeout after 60 s", "QEMU exited with status 3", ... `None` for a clean exit.
    pub abnormal_end: Option<String>,
}

/// Boots spec images: QEMU ([`booter::TargetBooter`]), or a fake in tests.
pub trait Booter: Sync {
    /// What the boot produced; an error when booting was not possible at all (no QEMU, a link
    /// failure): every command not yet reported is then "not run" with its message.
    fn boot(&self, image: &SpecImage, resume: &Resume) -> anyhow::Result<BootOutput>;
}

/// The booter `hako spec` and `cargo test` use: images for `target` linked in the default
/// cache (see [`crate::cache`]).
pub fn default_booter(target: crate::image::Target) -> Option<Box<dyn Booter>> {
    Some(Box::new(booter::TargetBooter::new(
        Cache::default_location(),
        target,
    )))
}

/// Why commands are "not run" when there is no booter.
pub const NO_BOOT: &str = "kernel script mode not yet available";

/// How to run a file.
pub struct RunOptions<'a> {
    pub booter: Option<&'a dyn Booter>,
    /// Compile the module table even without a booter (reports modules the compiler refuses).
    pub compile: bool,
    pub opt_level: OptLevel,
    /// Object cache; `None` compiles every time.
    pub cache: Option<Cache>,
}

impl std::fmt::Debug for RunOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions")
            .field("booter", &self.booter.is_some())
            .field("compile", &self.compile)
            .finish()
    }
}

/// Check that the compiler refuses a module (`None`: the text parser already did): with
/// today's features, or with `base`, the features the file's proposal was written against
/// ([`tier::proposal_base`]).
pub fn check_rejected(module: Option<&[u8]>, base: Option<wasmparser::WasmFeatures>) -> Status {
    // The text parser refused it: a malformed module never reaches the compiler.
    let Some(wasm) = module else {
        return Status::Passed;
    };
    let accepted = panics::catch(|| {
        let options = Options {
            opt_level: OptLevel::O0,
            ..Options::default()
        };
        hako_compiler_api::validate(wasm).is_ok()
            && base.is_none_or(|f| hako_compiler_api::validate_with_features(wasm, f).is_ok())
            && crate::backend::compile(wasm, &options).is_ok()
    });
    let actual = match accepted {
        Ok(false) => return Status::Passed,
        Ok(true) => "the module was accepted and compiled".to_string(),
        Err(panic) => format!("the compiler panicked: {panic}"),
    };
    Status::Failed {
        expected: "the compiler to reject the module".into(),
        actual,
    }
}

/// Why a module of the table has no object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModuleError {
    /// The compiler refused the module.
    Refused(hako_compiler_api::CompileError),
    /// The compiler panicked.
    Panicked(panics::Panic),
}

impl std::fmt::Display for ModuleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ModuleError::Refused(e) => write!(f, "the compiler refused the module: {e}"),
            ModuleError::Panicked(p) => write!(f, "the compiler panicked: {p}"),
        }
    }
}

impl std::error::Error for ModuleError {}

/// A compiled module of the table: its object, or why there is none.
pub type ModuleObject = Result<Arc<Vec<u8>>, ModuleError>;

/// Compile every module of the table (in parallel), each with the prefix of its index.
pub fn compile_modules(
    modules: &[Vec<u8>],
    opt_level: OptLevel,
    cache: Option<&Cache>,
) -> Vec<ModuleObject> {
    modules
        .par_iter()
        .enumerate()
        .map(|(i, wasm)| compile_module(wasm, i as u32, opt_level, cache))
        .collect()
}

/// Compile one module with the prefix of `index` ([`abi_script::module_prefix`]), through
/// the cache when there is one.
pub fn compile_module(
    wasm: &[u8],
    index: u32,
    opt_level: OptLevel,
    cache: Option<&Cache>,
) -> ModuleObject {
    let prefix = abi_script::module_prefix(index).to_string();
    let key = cache::key(&[
        wasm,
        prefix.as_bytes(),
        opt_level.to_string().as_bytes(),
        cache::COMPILER_FINGERPRINT.as_bytes(),
    ]);
    if let Some(path) = cache.and_then(|c| c.get(&key, "o")) {
        if let Ok(bytes) = std::fs::read(path) {
            return Ok(Arc::new(bytes));
        }
    }
    // The modules of a script share one store, so one calling convention: the tail-call
    // convention, which a module with tail calls needs (`Options::tail_convention`).
    let options = Options {
        prefix,
        opt_level,
        tail_convention: true,
        ..Options::default()
    };
    let object = panics::catch(|| crate::backend::compile(wasm, &options))
        .map_err(ModuleError::Panicked)?
        .map_err(ModuleError::Refused)?;
    if let Some(c) = cache {
        let _ = c.put(&key, "o", &object);
    }
    Ok(Arc::new(object))
}

/// Run one script file.
pub fn run_file(file: &SuiteFile, options: &RunOptions<'_>) -> FileReport {
    let start = Instant::now();
    let plan = match std::fs::read(&file.path) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => plan::plan_source(&file.name, &text),
            Err(_) => return error_report(file, "the script is not UTF-8", start),
        },
        Err(e) => {
            return error_report(
                file,
                &format!("cannot read {}: {e}", file.path.display()),
                start,
            )
        }
    };
    let mut report = run_plan(plan, options);
    report.millis = start.elapsed().as_millis() as u64;
    report
}

fn error_report(file: &SuiteFile, message: &str, start: Instant) -> FileReport {
    FileReport {
        name: file.name.clone(),
        tier: Tier::Core2,
        checks: vec![Check {
            line: 1,
            kind: "script",
            status: Status::Failed {
                expected: "a readable script".into(),
                actual: message.into(),
            },
        }],
        millis: start.elapsed().as_millis() as u64,
    }
}

/// Run a planned script: no-boot checks, compilation, boot, comparison.
pub fn run_plan(plan: FilePlan, options: &RunOptions<'_>) -> FileReport {
    let mut checks = plan.decided.clone();
    let base = tier::proposal_base(&plan.name);
    for r in &plan.rejections {
        checks.push(Check {
            line: r.line,
            kind: r.kind,
            status: check_rejected(r.module.as_deref(), base),
        });
    }

    let compiled = if options.booter.is_some() || options.compile {
        Some(compile_modules(
            &plan.modules,
            options.opt_level,
            options.cache.as_ref(),
        ))
    } else {
        None
    };

    match (&compiled, options.booter) {
        (Some(compiled), booter) => {
            let (image, mut decided) = build_image(&plan, compiled);
            let statuses = match booter {
                Some(booter) => boot_and_compare(&image, &plan.commands, booter),
                None => HashMap::new(),
            };
            for cmd in &plan.commands {
                let status = decided
                    .remove(&cmd.id)
                    .or_else(|| statuses.get(&cmd.id).cloned())
                    .unwrap_or_else(|| Status::NotRun(NO_BOOT));
                checks.push(Check {
                    line: cmd.line,
                    kind: cmd.kind,
                    status,
                });
            }
        }
        (None, _) => {
            for cmd in &plan.commands {
                checks.push(Check {
                    line: cmd.line,
                    kind: cmd.kind,
                    status: Status::NotRun(NO_BOOT),
                });
            }
        }
    }
    checks.sort_by_key(|c| c.line);
    FileReport {
        name: plan.name,
        tier: plan.tier,
        checks,
        millis: 0,
    }
}

/// Build the image from the compiled module table: modules that did not compile are left
/// out, and their `Instantiate` commands, and every command on the instances they would have
/// created, are decided as failures here.
pub fn build_image(
    plan: &FilePlan,
    compiled: &[ModuleObject],
) -> (SpecImage, HashMap<u32, Status>) {
    let mut decided = HashMap::new();
    let mut table: HashMap<u32, u32> = HashMap::new();
    let mut modules = Vec::new();
    let mut dead: HashMap<u32, String> = HashMap::new();
    let mut kept: Vec<&Planned> = Vec::new();
    for cmd in &plan.commands {
        match &cmd.op {
            Op::Instantiate { module } => match &compiled[*module as usize] {
                Ok(object) => {
                    table.entry(*module).or_insert_with(|| {
                        let index = modules.len() as u32;
                        modules.push(ImageModule {
                            index,
                            // The object was compiled with the prefix of its index in the
                            // plan; the image's table can be shorter (modules that did not
                            // compile or are never instantiated are left out).
                            prefix: abi_script::module_prefix(*module).to_string(),
                            object: object.clone(),
                        });
                        index
                    });
                    kept.push(cmd);
                }
                Err(e) => {
                    decided.insert(
                        cmd.id,
                        Status::Failed {
                            expected: cmd.expect.to_string(),
                            actual: e.to_string(),
                        },
                    );
                    dead.insert(
                        cmd.id,
                        format!("the module of line {} did not compile", cmd.line),
                    );
                }
            },
            op => match op.instance().and_then(|i| dead.get(&i)) {
                Some(why) => {
                    decided.insert(
                        cmd.id,
                        Status::Failed {
                            expected: cmd.expect.to_string(),
                            actual: why.clone(),
                        },
                    );
                }
                None => kept.push(cmd),
            },
        }
    }
    let mut script = Vec::new();
    {
        let mut w = ScriptWriter::new(kept.len() as u32, |b| script.extend_from_slice(b));
        for cmd in &kept {
            match &cmd.op {
                Op::Instantiate { module } => w.write(&Command::Instantiate {
                    id: cmd.id,
                    module: table[module],
                }),
                Op::Register { instance, name } => w.write(&Command::Register {
                    id: cmd.id,
                    instance: *instance,
                    name: name.as_bytes(),
                }),
                Op::Invoke {
                    instance,
                    name,
                    args,
                } => w.write_invoke(cmd.id, *instance, name.as_bytes(), args),
                Op::Get { instance, name } => w.write(&Command::Get {
                    id: cmd.id,
                    instance: *instance,
                    name: name.as_bytes(),
                }),
            }
        }
    }
    let image = SpecImage {
        name: plan.name.clone(),
        modules,
        script,
        command_ids: kept.iter().map(|c| c.id).collect(),
    };
    (image, decided)
}

/// At most this many boots per image (each restart skips one more crashed command).
pub const MAX_BOOTS: usize = 64;

/// Boot the image, restarting after crashes, and compare every reported outcome.
pub fn boot_and_compare(
    image: &SpecImage,
    commands: &[Planned],
    booter: &dyn Booter,
) -> HashMap<u32, Status> {
    let by_id: HashMap<u32, &Planned> = commands.iter().map(|c| (c.id, c)).collect();
    let mut statuses: HashMap<u32, Status> = HashMap::new();
    let mut resume = Resume::default();
    for _ in 0..MAX_BOOTS {
        let output = match booter.boot(image, &resume) {
            Ok(o) => o,
            Err(e) => {
                for id in &image.command_ids {
                    statuses
                        .entry(*id)
                        .or_insert_with(|| Status::NotRun(format!("cannot boot: {e:#}")));
                }
                return statuses;
            }
        };
        let mut done = false;
        let mut panic = None;
        for line in &output.lines {
            if line.trim_end() == abi_script::DONE {
                done = true;
                continue;
            }
            if let Some(msg) = line.strip_prefix("panic ") {
                panic = Some(msg.to_string());
            }
            let Ok(result) = parse_result_line(line) else {
                continue;
            };
            let Some(cmd) = by_id.get(&result.id) else {
                continue;
            };
            if result.id < resume.from || statuses.contains_key(&result.id) {
                continue;
            }
            statuses.insert(result.id, compare::compare(&cmd.expect, &result.outcome));
        }
        let next = image
            .command_ids
            .iter()
            .copied()
            .find(|id| *id >= resume.from && !statuses.contains_key(id));
        let Some(crashed) = next else { return statuses };
        let why = match (&panic, &output.abnormal_end, done) {
            (Some(p), _, _) => format!("guest crashed: kernel panic: {p}"),
            (None, Some(end), _) => format!("guest crashed: {end}"),
            (None, None, true) => "the kernel reported no result for this command".to_string(),
            (None, None, false) => "guest stopped without reporting this command".to_string(),
        };
        statuses.insert(
            crashed,
            Status::Failed {
                expected: by_id[&crashed].expect.to_string(),
                actual: why,
            },
        );
        resume.skip.push(crashed);
        resume.from = crashed + 1;
    }
    let skipped: HashSet<u32> = statuses.keys().copied().collect();
    for id in image.command_ids.iter().filter(|id| !skipped.contains(id)) {
        statuses.insert(
            *id,
            Status::NotRun(format!("the guest crashed {MAX_BOOTS} times")),
        );
    }
    statuses
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A fake kernel: answers from a table, "crashes" on chosen ids.
    struct Fake {
        answers: HashMap<u32, &'static str>,
        crash_on: Vec<u32>,
        boots: Mutex<Vec<Resume>>,
    }

    impl Booter for Fake {
        fn boot(&self, image: &SpecImage, resume: &Resume) -> anyhow::Result<BootOutput> {
            self.boots.lock().unwrap().push(resume.clone());
            let script = abi_script::Script::parse(&image.script).unwrap();
            let mut lines = Vec::new();
            for cmd in script.commands() {
                let id = cmd.id();
                if resume.skip.contains(&id) {
                    continue;
                }
                if self.crash_on.contains(&id) {
                    lines.push("panic page fault at 0xdead".to_string());
                    return Ok(BootOutput {
                        lines,
                        abnormal_end: Some("kernel panic".into()),
                    });
                }
                if id >= resume.from {
                    lines.push(format!(
                        "r {id} {}",
                        self.answers.get(&id).copied().unwrap_or("ok")
                    ));
                }
            }
            lines.push("done".into());
            Ok(BootOutput {
                lines,
                abnormal_end: None,
            })
        }
    }

    const SCRIPT: &str = r#"(module (func (export "f") (result i32) i32.const 1))
(assert_return (invoke "f") (i32.const 1))
(assert_return (invoke "f") (i32.const 2))
(assert_trap (invoke "f") "unreachable")
(assert_return (invoke "f") (i32.const 1))
(assert_invalid (module (func (result i32))) "type mismatch")
"#;

    fn fake_objects(plan: &FilePlan) -> Vec<ModuleObject> {
        plan.modules.iter().map(|_| Ok(Arc::new(vec![]))).collect()
    }

    #[test]
    fn crash_restarts_and_marks_only_the_crashed_command() {
        let plan = plan::plan_source("t.wast", SCRIPT);
        let (image, decided) = build_image(&plan, &fake_objects(&plan));
        assert!(decided.is_empty());
        let fake = Fake {
            answers: HashMap::from([
                (0, "instantiated"),
                (1, "ok i32:00000001"),
                (2, "ok i32:00000001"),
                (4, "ok i32:00000001"),
            ]),
            crash_on: vec![3],
            boots: Mutex::new(vec![]),
        };
        let statuses = boot_and_compare(&image, &plan.commands, &fake);
        assert_eq!(statuses[&0], Status::Passed);
        assert_eq!(statuses[&1], Status::Passed);
        assert!(
            matches!(&statuses[&2], Status::Failed { actual, .. } if actual == "(i32:00000001)")
        );
        assert!(
            matches!(&statuses[&3], Status::Failed { actual, .. } if actual.contains("kernel panic: page fault"))
        );
        assert_eq!(statuses[&4], Status::Passed);
        let boots = fake.boots.lock().unwrap();
        assert_eq!(
            *boots,
            vec![
                Resume::default(),
                Resume {
                    from: 4,
                    skip: vec![3]
                }
            ]
        );
        assert_eq!(
            boots[1].cmdline_tokens(),
            ["hako.script.resume=4", "hako.script.skip=3"]
        );
    }

    #[test]
    fn modules_that_do_not_compile_fail_their_commands_without_boot() {
        let plan = plan::plan_source("t.wast", SCRIPT);
        let compiled = vec![Err(ModuleError::Panicked(panics::Panic("nope".into())))];
        let (image, decided) = build_image(&plan, &compiled);
        assert!(image.command_ids.is_empty() && image.modules.is_empty());
        assert_eq!(decided.len(), 5);
        let options = RunOptions {
            booter: None,
            compile: false,
            opt_level: OptLevel::O0,
            cache: None,
        };
        let report = run_plan(plan, &options);
        assert_eq!(
            report.counts(),
            Counts {
                passed: 1,
                failed: 0,
                not_run: 5
            }
        );
        assert!(!report.passes());
        assert_eq!(report.summary_reason(), format!("5 not run: {NO_BOOT}"));
    }

    #[test]
    fn rejections_are_checked() {
        crate::backend::install_for_tests();
        assert_eq!(check_rejected(None, None), Status::Passed);
        assert_eq!(
            check_rejected(Some(b"\0asm\x02\0\0\0"), None),
            Status::Passed
        );
        let valid = wat::parse_str("(module)").unwrap();
        assert_eq!(
            check_rejected(Some(&valid), None),
            Status::Failed {
                expected: "the compiler to reject the module".into(),
                actual: "the module was accepted and compiled".into()
            }
        );
        // Two tables: valid since Wasm 2.0, invalid for a proposal written against 1.0.
        let two_tables = wat::parse_str("(module (table 1 funcref) (table 1 funcref))").unwrap();
        assert!(matches!(
            check_rejected(Some(&two_tables), None),
            Status::Failed { .. }
        ));
        let base = tier::proposal_base("proposals/threads/imports.wast");
        assert_eq!(check_rejected(Some(&two_tables), base), Status::Passed);
        assert_eq!(tier::proposal_base("imports.wast"), None);
    }
}
