//! Differential fuzzing against Wasmtime, bounded (see `hako_runner::fuzz`): every saved
//! mismatch in `runner/fuzz-regressions/` replays at `-O0` and `-O3`, then a fixed range of
//! generated modules is compared, each on both targets (the unikernel and Linux
//! executables). Longer runs are `hako fuzz --modules N` (`.ci/nightly`).

use hako_runner::cache::Cache;
use hako_runner::fuzz::{self, FuzzOptions, OPT_LEVELS};
use hako_runner::image::Target;
use hako_runner::spec::booter::TargetBooter;
use hako_runner::spec::{self, plan, RunOptions, Status};

/// Modules of the bounded run: a few seconds under TCG.
const MODULES: usize = 150;
/// Its first seed (fixed, so the run is the same every time).
const SEED: u64 = 0x5eed_0000;

const TARGETS: [Target; 2] = [Target::Unikernel, Target::Linux];

#[test]
fn saved_mismatches_stay_fixed() {
    for target in TARGETS {
        saved_mismatches_stay_fixed_on(target);
    }
}

fn saved_mismatches_stay_fixed_on(target: Target) {
    hako_runner::backend::install(hako_compiler::compile_object);
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = Cache::at(cache_dir.path());
    let booter = TargetBooter::new(cache.clone(), target);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz-regressions");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wast"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no regressions in {}", dir.display());
    let mut failures = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for level in OPT_LEVELS {
            let name = file.file_name().unwrap().to_string_lossy().into_owned();
            let report = spec::run_plan(
                plan::plan_source(&name, &text),
                &RunOptions {
                    booter: Some(&booter),
                    compile: true,
                    opt_level: level,
                    cache: Some(cache.clone()),
                },
            );
            assert!(report.checks.len() > 1, "{name}: nothing checked");
            for c in &report.checks {
                if c.status != Status::Passed {
                    failures.push(format!(
                        "{name}:{} at {level:?} ({target}): {:?}",
                        c.line, c.status
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn generated_modules_behave_as_in_wasmtime() {
    for target in TARGETS {
        generated_modules_behave_as_in_wasmtime_on(target);
    }
}

fn generated_modules_behave_as_in_wasmtime_on(target: Target) {
    hako_runner::backend::install(hako_compiler::compile_object);
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = Cache::at(cache_dir.path());
    let booter = TargetBooter::new(cache.clone(), target);
    let summary = fuzz::fuzz(
        &FuzzOptions {
            seed: SEED,
            modules: MODULES,
            per_image: 25,
            save: None,
            shrink_attempts: 0,
        },
        &booter,
        Some(&cache),
        |_, _| {},
    );
    eprintln!(
        "{target}: {} modules, {} invocations, {} final-state checks; skipped {:?}",
        summary.modules, summary.invocations, summary.state_checks, summary.skipped
    );
    // Most seeds make a comparable module; a generator change that breaks that shows here.
    assert!(summary.modules >= MODULES * 9 / 10, "{summary:?}");
    assert!(summary.invocations >= MODULES, "{summary:?}");
    let report: Vec<String> = summary
        .mismatches
        .iter()
        .map(|m| {
            format!(
                "{} at {}:\n  {}",
                m.case,
                m.opt_level,
                m.failures.join("\n  ")
            )
        })
        .collect();
    assert!(
        report.is_empty(),
        "mismatches on {target} (reproduce with `hako fuzz --seed N --modules 1 --target {target}`):\n{}",
        report.join("\n")
    );
}

/// Whether a function body of `wasm` has an operator that `pred` accepts.
fn has_operator(wasm: &[u8], pred: impl Fn(&wasmparser::Operator) -> bool) -> bool {
    wasmparser::Parser::new(0).parse_all(wasm).any(|payload| {
        let Ok(wasmparser::Payload::CodeSectionEntry(body)) = payload else {
            return false;
        };
        let Ok(mut ops) = body.get_operators_reader() else {
            return false;
        };
        std::iter::from_fn(|| (!ops.eof()).then(|| ops.read()))
            .any(|op| op.is_ok_and(|op| pred(&op)))
    })
}

/// How many of the bounded run's modules have an operator that `pred` accepts.
fn modules_with(pred: impl Fn(&wasmparser::Operator) -> bool) -> usize {
    (SEED..SEED + MODULES as u64)
        .filter(|&seed| fuzz::generate(seed).is_ok_and(|(wasm, _)| has_operator(&wasm, &pred)))
        .count()
}

/// The bounded run's modules include tail calls, so the comparison covers them: more than a
/// tenth of them have a `return_call` or `return_call_indirect`.
#[test]
fn generated_modules_include_tail_calls() {
    use wasmparser::Operator::{ReturnCall, ReturnCallIndirect};
    let with_tail_calls =
        modules_with(|op| matches!(op, ReturnCall { .. } | ReturnCallIndirect { .. }));
    eprintln!("{with_tail_calls} of {MODULES} modules have tail calls");
    assert!(
        with_tail_calls > MODULES / 10,
        "{with_tail_calls} of {MODULES}"
    );
}

/// The bounded run's modules include exception handling, so the comparison covers it: more
/// than a tenth of them throw and more than a tenth catch with `try_table`.
#[test]
fn generated_modules_include_exceptions() {
    use wasmparser::Operator::{Throw, ThrowRef, TryTable};
    let throwing = modules_with(|op| matches!(op, Throw { .. } | ThrowRef));
    let catching = modules_with(|op| matches!(op, TryTable { .. }));
    eprintln!("of {MODULES} modules {throwing} throw and {catching} use try_table");
    assert!(
        throwing > MODULES / 10 && catching > MODULES / 10,
        "{throwing} and {catching} of {MODULES}"
    );
}

/// The bounded run's modules include 64-bit memories and tables (memory64), so the
/// comparison covers their accesses, growth and bulk operations: more than a tenth of them
/// have one.
#[test]
fn generated_modules_include_memory64() {
    let has_memory64 = |wasm: &[u8]| {
        wasmparser::Parser::new(0)
            .parse_all(wasm)
            .any(|payload| match payload {
                Ok(wasmparser::Payload::MemorySection(r)) => {
                    r.into_iter().any(|m| m.is_ok_and(|m| m.memory64))
                }
                Ok(wasmparser::Payload::TableSection(r)) => {
                    r.into_iter().any(|t| t.is_ok_and(|t| t.ty.table64))
                }
                _ => false,
            })
    };
    let with_memory64 = (SEED..SEED + MODULES as u64)
        .filter(|&seed| fuzz::generate(seed).is_ok_and(|(wasm, _)| has_memory64(&wasm)))
        .count();
    eprintln!("{with_memory64} of {MODULES} modules have a 64-bit memory or table");
    assert!(with_memory64 > MODULES / 10, "{with_memory64} of {MODULES}");
}

/// Mutated modules (generated ones with a few bytes changed, cut short, or bytes appended)
/// never crash the compiler: each is compiled or refused with a message. In process, so an
/// LLVM crash would end the test binary (which fails the test all the same).
#[test]
fn mutated_modules_never_crash_the_compiler() {
    use rand::{Rng, RngExt, SeedableRng};
    // `HAKO_FUZZ_MUTATIONS` raises the count for a longer run.
    let modules: u64 = std::env::var("HAKO_FUZZ_MUTATIONS").map_or(1000, |v| {
        v.parse().expect("HAKO_FUZZ_MUTATIONS is a number")
    });
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0xbad_5eed);
    let options = hako_compiler::Options {
        opt_level: hako_compiler::OptLevel::O0,
        threads: 1,
        ..hako_compiler::Options::default()
    };
    let (mut compiled, mut refused) = (0, 0);
    for seed in 0..modules {
        let (mut wasm, _) = fuzz::generate(SEED + seed).unwrap();
        match rng.next_u32() % 4 {
            0 => wasm.truncate(rng.random_range(0..wasm.len())),
            1 => wasm.extend((0..rng.random_range(1..16)).map(|_| rng.next_u32() as u8)),
            _ => {
                for _ in 0..rng.random_range(1..8) {
                    let i = rng.random_range(0..wasm.len());
                    wasm[i] = rng.next_u32() as u8;
                }
            }
        }
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            hako_compiler::compile(&wasm, &options)
        }));
        match result {
            Ok(Ok(_)) => compiled += 1,
            Ok(Err(e)) => {
                assert!(
                    !e.to_string().trim().is_empty(),
                    "seed {seed}: an empty error"
                );
                refused += 1;
            }
            Err(panic) => panic!(
                "seed {seed}: the compiler panicked: {}",
                hako_runner::panics::message(&*panic)
            ),
        }
    }
    eprintln!("{modules} mutated modules: {compiled} compiled, {refused} refused");
    assert!(
        compiled > 0 && refused > 0,
        "{compiled} compiled, {refused} refused"
    );
}
