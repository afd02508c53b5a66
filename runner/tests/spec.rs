//! One test per `.wast` script of the spec testsuite (top level, `proposals/**`, `legacy/**`)
//! and target: in the unikernel (named as the script) and as a Linux executable (`NAME
//! [linux]`), both checked against the same `spec-tests/expectations.toml`, both ways (see
//! `hako_runner::spec::expectations`). Modules are compiled at `-O0` to keep this cheap.
//!
//! `HAKO_BLESS=1 cargo test -p hako-runner --test spec` rewrites the expectations from this run.

use std::sync::{Arc, Mutex};

use hako_compiler::OptLevel;
use hako_runner::image::Target;
use hako_runner::spec::expectations::{self, Expectations, BLESS_ENV};
use hako_runner::spec::{self, suite, RunOptions};
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
    let files = match suite::discover(&root, None) {
        Ok(f) => f,
        Err(e) => {
            let msg = e.to_string();
            let trial = Trial::test("spec_suite_present", move || Err(Failed::from(msg)));
            libtest_mimic::run(&args, vec![trial]).exit();
        }
    };
    let path = expectations::default_path();
    let expected = match Expectations::load(&path) {
        Ok(e) => Arc::new(e),
        Err(e) => panic!("{e:#}"),
    };
    let bless = std::env::var_os(BLESS_ENV).is_some_and(|v| v != "0");
    let outcomes: Arc<Mutex<Vec<(String, bool, String)>>> = Arc::default();

    let trials = files
        .into_iter()
        .flat_map(|file| [(file.clone(), Target::Unikernel), (file, Target::Linux)])
        .map(|(file, target)| {
            let expected = expected.clone();
            let outcomes = outcomes.clone();
            let name = match target {
                Target::Unikernel => file.name.clone(),
                Target::Linux => format!("{} [linux]", file.name),
            };
            Trial::test(name, move || {
                let booter = spec::default_booter(target);
                let options = RunOptions {
                    booter: booter.as_deref(),
                    compile: false,
                    opt_level: OptLevel::O0,
                    cache: None,
                };
                let report = spec::run_file(&file, &options);
                let passes = report.passes();
                let reason = report.summary_reason();
                // The unikernel's outcome is blessed; the Linux one must agree with it.
                if target == Target::Unikernel {
                    outcomes
                        .lock()
                        .unwrap()
                        .push((file.name.clone(), passes, reason.clone()));
                }
                if bless {
                    return Ok(());
                }
                expected.check(&file.name, passes, &reason).map_err(|e| {
                    let mut msg = e.to_string();
                    for failure in report.failures().take(20) {
                        msg.push_str("\n  ");
                        msg.push_str(&failure);
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
            "wrote {} ({} failing files)",
            path.display(),
            updated.failing.len()
        );
    }
    conclusion.exit();
}
