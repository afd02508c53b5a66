//! One test per program of the WASI testsuite (`tests/*/testsuite/wasm32-wasip1/*.wasm`):
//! each runs in Wasmtime with wasi-common (the oracle), and in the unikernel (named as the
//! program) and as a Linux executable (`NAME [linux]`), and each result is checked against
//! the same `wasi-testsuite/expectations.toml` both ways (see
//! `hako_runner::wasi::expectations`). Programs are compiled at `-O1` to keep this cheap
//! (the object cache makes re-runs free).
//!
//! `HAKO_BLESS=1 cargo test -p hako-runner --test wasi` rewrites the expectations from this run.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hako_compiler::OptLevel;
use hako_runner::cache::Cache;
use hako_runner::expectations::blessing;
use hako_runner::image::Target;
use hako_runner::wasi::expectations::{self, Expectations};
use hako_runner::wasi::unikernel::HakoOptions;
use hako_runner::wasi::{self, suite, RunOptions};
use libtest_mimic::{Arguments, Failed, Trial};

fn main() {
    hako_runner::backend::install(hako_compiler::compile_object);
    // Images and objects of the test run go into the build tree, not the user's cache.
    if std::env::var_os("HAKO_CACHE_DIR").is_none() {
        std::env::set_var(
            "HAKO_CACHE_DIR",
            concat!(env!("CARGO_TARGET_TMPDIR"), "/cache"),
        );
    }
    let args = Arguments::from_args();
    let root = suite::suite_root(None);
    let programs = match suite::discover(&root, None) {
        Ok(p) => p,
        Err(e) => {
            let msg = e.to_string();
            let trial = Trial::test("wasi_suite_present", move || Err(Failed::from(msg)));
            libtest_mimic::run(&args, vec![trial]).exit();
        }
    };
    let path = expectations::default_path();
    let expected = match Expectations::load(&path) {
        Ok(e) => Arc::new(e),
        Err(e) => panic!("{e:#}"),
    };
    let bless = blessing();
    let outcomes: Arc<Mutex<Vec<(String, bool, String)>>> = Arc::default();
    let options = |target| {
        Arc::new(RunOptions {
            hako: HakoOptions {
                opt_level: OptLevel::O1,
                target,
                cache: Cache::default_location(),
                timeout: Duration::from_secs(120),
            },
            oracle_timeout: Duration::from_secs(120),
        })
    };
    let (unikernel, linux) = (options(Target::Unikernel), options(Target::Linux));

    let trials = programs
        .into_iter()
        .flat_map(|program| {
            let program = Arc::new(program);
            [
                (program.clone(), unikernel.clone()),
                (program, linux.clone()),
            ]
        })
        .map(|(program, options)| {
            let expected = expected.clone();
            let outcomes = outcomes.clone();
            let target = options.hako.target;
            let name = match target {
                Target::Unikernel => program.name.clone(),
                Target::Linux => format!("{} [linux]", program.name),
            };
            Trial::test(name, move || {
                let report = wasi::run_program(&program, &options);
                let reason = report.summary_reason();
                // The unikernel's outcome is blessed; the Linux one must agree with it.
                if target == Target::Unikernel {
                    outcomes.lock().unwrap().push((
                        program.name.clone(),
                        report.passes,
                        reason.clone(),
                    ));
                }
                if bless {
                    return Ok(());
                }
                expected
                    .check(&program.name, report.passes, &reason)
                    .map_err(|e| {
                        let mut msg = e.to_string();
                        for problem in report.problems().into_iter().take(20) {
                            msg.push_str("\n  ");
                            msg.push_str(&problem);
                        }
                        if let Some(note) = report.oracle_note() {
                            msg.push_str("\n  note: ");
                            msg.push_str(&note);
                        }
                        Failed::from(msg)
                    })
            })
        })
        .collect();

    let conclusion = libtest_mimic::run(&args, trials);
    if bless {
        let mut updated = (*expected).clone();
        for (name, passes, reason) in outcomes.lock().unwrap().drain(..) {
            updated.bless(&name, passes, reason);
        }
        updated.save(&path).unwrap_or_else(|e| panic!("{e:#}"));
        eprintln!(
            "wrote {} ({} failing programs)",
            path.display(),
            updated.failing.len()
        );
    }
    conclusion.exit();
}
