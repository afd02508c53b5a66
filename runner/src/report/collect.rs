//! Running the suites (through [`crate::spec::run_file`] and [`crate::wasi::run_program`])
//! and gathering the tool versions and machine facts.

use std::collections::{BTreeMap, BTreeSet};
use std::io::IsTerminal;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Result;
use hako_compiler_api::OptLevel;
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;

use super::*;
use crate::cache::Cache;
use crate::qemu::Accel;
use crate::spec::{self, Status};
use crate::wasi::{self, coverage, unikernel::HakoOptions};

/// A progress bar on a terminal, nothing otherwise.
fn progress(len: usize, what: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len as u64);
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "{{spinner}} {what} [{{elapsed_precise}}] {{bar:40}} {{pos}}/{{len}} {{wide_msg}}"
        ))
        .expect("valid template"),
    );
    bar
}

/// Silence the default panic hook while `f` runs (the suites catch panics and report them).
fn quietly<T>(f: impl FnOnce() -> T) -> T {
    std::panic::set_hook(Box::new(|_| {}));
    let out = f();
    let _ = std::panic::take_hook();
    out
}

/// A suite root as the report shows it: canonical when it exists.
fn shown(path: &Path) -> String {
    std::fs::canonicalize(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .display()
        .to_string()
}

/// How to run the spec testsuite.
#[derive(Debug, Clone)]
pub struct SpecOptions {
    pub suite: std::path::PathBuf,
    pub filter: Option<String>,
    pub opt_level: OptLevel,
    pub target: crate::image::Target,
}

/// Run the spec testsuite as `hako spec` does.
pub fn run_spec(options: &SpecOptions) -> Result<SpecSection> {
    let files = spec::suite::discover(&options.suite, options.filter.as_deref())?;
    let expected = spec::expectations::Expectations::load(&spec::expectations::default_path())
        .unwrap_or_default();
    let booter = spec::default_booter(options.target);
    let run_options = spec::RunOptions {
        booter: booter.as_deref(),
        compile: false,
        opt_level: options.opt_level,
        cache: Some(Cache::default_location()),
    };
    let start = Instant::now();
    let bar = progress(files.len(), "spec");
    let reports: Vec<spec::FileReport> = quietly(|| {
        files
            .par_iter()
            .map(|file| {
                bar.set_message(file.name.clone());
                let report = spec::run_file(file, &run_options);
                bar.inc(1);
                report
            })
            .collect()
    });
    bar.finish_and_clear();
    let seconds = start.elapsed().as_secs_f64();
    let mut rejections = Group::new("assert_invalid/assert_malformed");
    let files = reports
        .iter()
        .map(|r| {
            let c = r.rejection_counts();
            rejections.passed += c.passed;
            rejections.failed += c.failed;
            rejections.not_run += c.not_run;
            spec_file(r, expected.failing.contains_key(&r.name))
        })
        .collect();
    Ok(SpecSection::from_files(
        shown(&options.suite),
        options.opt_level.to_string(),
        seconds,
        files,
        rejections,
    ))
}

/// One file's report in the report's terms.
pub fn spec_file(r: &spec::FileReport, known_failing: bool) -> SpecFile {
    let c = r.counts();
    let passes = r.passes();
    let mut failures = Vec::new();
    let mut not_run_reasons: BTreeMap<String, usize> = BTreeMap::new();
    for check in &r.checks {
        match &check.status {
            Status::Passed => {}
            Status::Failed { expected, actual } => failures.push(Assertion {
                location: format!("{}:{}", r.name, check.line),
                line: check.line,
                kind: check.kind.to_string(),
                expected: expected.clone(),
                actual: actual.clone(),
            }),
            Status::NotRun { reason } => *not_run_reasons.entry(reason.clone()).or_default() += 1,
        }
    }
    let tier = r.tier.name().to_string();
    SpecFile {
        group: group_of(&r.name, &tier),
        name: r.name.clone(),
        tier,
        passes,
        known_failing,
        passed: c.passed,
        failed: c.failed,
        not_run: c.not_run,
        millis: r.millis,
        reason: (!passes).then(|| r.summary_reason()),
        failures,
        not_run_reasons,
    }
}

/// How to run the WASI testsuite.
#[derive(Debug, Clone)]
pub struct WasiOptions {
    pub suite: std::path::PathBuf,
    pub filter: Option<String>,
    pub opt_level: OptLevel,
    pub timeout: Duration,
    pub target: crate::image::Target,
}

/// Run the WASI testsuite and the coverage probe as `hako wasi --coverage` does.
pub fn run_wasi(options: &WasiOptions) -> Result<WasiSection> {
    let programs = wasi::suite::discover(&options.suite, options.filter.as_deref())?;
    let expected = wasi::expectations::Expectations::load(&wasi::expectations::default_path())
        .unwrap_or_default();
    let run_options = wasi::RunOptions {
        hako: HakoOptions {
            opt_level: options.opt_level,
            target: options.target,
            cache: Cache::default_location(),
            timeout: options.timeout,
        },
        oracle_timeout: options.timeout,
    };
    let start = Instant::now();
    let bar = progress(programs.len(), "wasi");
    let (reports, probe) = quietly(|| {
        let reports: Vec<wasi::ProgramReport> = programs
            .par_iter()
            .map(|program| {
                bar.set_message(program.name.clone());
                let report = wasi::run_program(program, &run_options);
                bar.inc(1);
                report
            })
            .collect();
        bar.set_message("coverage probe");
        let probe = coverage::probe(&run_options.hako);
        (reports, probe)
    });
    bar.finish_and_clear();
    let seconds = start.elapsed().as_secs_f64();
    let t = wasi::cli::Totals::of(&reports);
    let missing = probe.as_ref().ok();
    let rows = coverage::table(&reports, missing);
    Ok(WasiSection {
        suite: shown(&options.suite),
        opt_level: options.opt_level.to_string(),
        seconds,
        totals: WasiTotals {
            programs: t.programs,
            oracle_matches_json: t.oracle_matches_json,
            hako_passes: t.hako_passes,
            hako_matches_oracle: t.hako_matches_oracle,
            hako_fails: t.hako_fails,
        },
        programs: reports
            .iter()
            .map(|r| wasi_program(r, expected.failing.contains_key(&r.name)))
            .collect(),
        functions: functions(&rows, missing),
        probe_error: probe.as_ref().err().map(|e| format!("{e:#}")),
    })
}

/// One program's report in the report's terms.
pub fn wasi_program(r: &wasi::ProgramReport, known_failing: bool) -> WasiProgram {
    let run = |s: &wasi::Side| Run {
        ending: s.ending.describe(),
        stdout: s.stdout.clone(),
        stderr: s.stderr.clone(),
        json_mismatches: s.json_mismatches.clone(),
        millis: s.millis,
    };
    WasiProgram {
        name: r.name.clone(),
        passes: r.passes,
        known_failing,
        reference: match r.reference {
            wasi::Reference::Oracle => "oracle",
            wasi::Reference::Json => "json",
        }
        .to_string(),
        differences: r.differences.clone(),
        problems: r.problems(),
        reason: (!r.passes).then(|| r.summary_reason()),
        oracle_note: r.oracle_note(),
        hako: r.hako.as_ref().map(run),
        oracle: r.oracle.as_ref().map(run),
        compile_millis: r.compile_millis,
        wasi_imports: r.wasi_imports.clone(),
        enosys: r.enosys.clone(),
    }
}

/// The coverage table with "partial" told apart: the probe found the function, but some
/// program still met `ENOSYS` from it. `missing`: the functions the probe found missing
/// (`None` when it did not finish).
pub fn functions(rows: &[coverage::Row], missing: Option<&BTreeSet<String>>) -> Vec<WasiFunction> {
    rows.iter()
        .map(|row| {
            let probed = missing.map(|missing| !missing.contains(row.function));
            let status = match (probed, row.enosys_in.is_empty()) {
                (Some(false), _) => FunctionStatus::Missing,
                (Some(true), true) => FunctionStatus::Implemented,
                (Some(true), false) | (None, false) => FunctionStatus::Partial,
                (None, true) => FunctionStatus::Unknown,
            };
            WasiFunction {
                name: row.function.to_string(),
                status,
                imported_by: row.imported_by.clone(),
                enosys_in: row.enosys_in.clone(),
            }
        })
        .collect()
}

/// The benchmarks' entry: `hako bench` with its default settings.
pub fn benchmarks() -> Benchmarks {
    match crate::bench::cli::measure(&crate::bench::cli::BenchArgs::default()) {
        Ok(report) => Benchmarks {
            available: true,
            note: report.summary(),
            result: serde_json::to_value(&report).ok(),
        },
        Err(e) => Benchmarks {
            available: false,
            note: format!("benchmarks: could not run: {e:#}"),
            result: None,
        },
    }
}

/// The fuzzing entry: `n` modules from a seed taken from the clock (so that every night
/// covers new ones), mismatches shrunk into `save`.
pub fn fuzz(n: usize, save: &Path) -> super::FuzzSection {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    eprintln!("report: fuzzing {n} modules from seed {seed}");
    let cache = crate::cache::Cache::default_location();
    let booter =
        crate::spec::booter::TargetBooter::new(cache.clone(), crate::image::Target::Unikernel);
    let options = crate::fuzz::FuzzOptions {
        seed,
        modules: n,
        per_image: 25,
        save: Some(save.to_path_buf()),
        shrink_attempts: 100,
    };
    let summary = crate::fuzz::fuzz(&options, &booter, Some(&cache), |_, _| {});
    super::FuzzSection { seed, summary }
}

/// The first non-empty line a command prints on stdout, if it runs and succeeds.
fn first_line(program: &Path, args: &[&str], dir: Option<&Path>) -> Option<String> {
    let mut cmd = Command::new(program);
    cmd.args(args);
    if let Some(dir) = dir {
        cmd.current_dir(dir);
    }
    let out = cmd.output().ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(str::to_string)
}

/// The version of a package in the workspace's `Cargo.lock` as this binary was built.
pub fn locked_version(package: &str) -> Option<String> {
    const LOCK: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.lock"));
    let needle = format!("name = \"{package}\"\n");
    let at = LOCK.find(&needle)? + needle.len();
    let line = LOCK[at..].lines().next()?;
    Some(
        line.strip_prefix("version = ")?
            .trim_matches('"')
            .to_string(),
    )
}

/// Versions of hako and of the tools around it.
pub fn tools() -> Tools {
    let unknown = || "unknown".to_string();
    let root = crate::workspace::root();
    let git_dir = if root.is_dir() {
        Some(root.as_path())
    } else {
        None
    };
    let commit = std::env::var("HAKO_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(|| first_line(Path::new("git"), &["rev-parse", "HEAD"], git_dir))
        .unwrap_or_else(unknown);
    let qemu = crate::tools::QEMU
        .find()
        .ok()
        .and_then(|q| first_line(&q, &["--version"], None))
        .unwrap_or_else(unknown);
    Tools {
        hako: env!("CARGO_PKG_VERSION").to_string(),
        commit,
        rustc: first_line(Path::new("rustc"), &["--version"], None).unwrap_or_else(unknown),
        llvm: first_line(Path::new("llvm-config-19"), &["--version"], None)
            .map(|v| format!("LLVM {v}"))
            .unwrap_or_else(unknown),
        qemu,
        wasmtime: locked_version("wasmtime").unwrap_or_else(unknown),
    }
}

/// Facts about this machine, and the accelerator QEMU uses.
pub fn machine() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let memory_mib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kib| kib / 1024);
    let pretty = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                .map(|v| v.trim_matches('"').to_string())
        })
        .unwrap_or_else(|| std::env::consts::OS.to_string());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let os = if kernel.is_empty() {
        pretty
    } else {
        format!("{pretty}, Linux {kernel}")
    };
    let (accel, accel_note) = match Accel::detect() {
        Ok(a) => {
            let env_set = std::env::var("HAKO_ACCEL").is_ok_and(|v| !v.is_empty());
            let note = if env_set {
                "chosen by HAKO_ACCEL".to_string()
            } else if a == Accel::Kvm {
                "/dev/kvm is usable".to_string()
            } else if Path::new("/sys/module/kvm_pvm").exists() {
                "/dev/kvm is kvm-pvm (guests run only in its instruction emulator), so TCG"
                    .to_string()
            } else if Path::new("/dev/kvm").exists() {
                "/dev/kvm is not usable, so TCG".to_string()
            } else {
                "no /dev/kvm, so TCG".to_string()
            };
            (
                if a == Accel::Kvm { "kvm" } else { "tcg" }.to_string(),
                note,
            )
        }
        Err(e) => ("unknown".to_string(), format!("{e:#}")),
    };
    Machine {
        cpu,
        cores,
        memory_mib,
        os,
        accel,
        accel_note,
    }
}

/// Now, UTC, as RFC 3339 with seconds.
pub fn now_utc() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    rfc3339(secs)
}

/// Seconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ` (proleptic Gregorian, UTC).
pub fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + (m <= 2) as i64;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}
