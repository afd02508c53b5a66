//! The Linux target end to end: `hako run --target linux` runs the same compiled objects as
//! Linux processes (output, arguments, environment, exit status, traps from the fault
//! handlers, the time limit, reactors, unresolved imports as in the unikernel), and
//! `hako build --target linux` writes static executables that run on their own with their
//! own `--dir`/`--env` options. Preopens and stdin are tested on both targets in
//! `wasi_fs.rs`, the suites in `spec.rs` and `wasi.rs`.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

fn path(name: &str) -> String {
    fixture(name).display().to_string()
}

fn linux(args: &[&str]) -> Ran {
    run(&[&["--target", "linux"], args].concat())
}

/// `hako build --target linux` of fixture `name` into the test's temporary directory.
fn executable(name: &str) -> PathBuf {
    let out = tmp().join("linux-exe");
    std::fs::create_dir_all(&out).unwrap();
    let exe = out.join(Path::new(name).with_extension("").file_name().unwrap());
    let r = ran(hako()
        .args(["build", "--target", "linux", &path(name), "-o"])
        .arg(&exe)
        .output()
        .unwrap());
    assert_eq!(r.status, 0, "build failed: {}", r.stderr);
    exe
}

fn exec(exe: &Path, args: &[&str]) -> Ran {
    ran(Command::new(exe).args(args).output().unwrap())
}

#[test]
fn hello_runs_as_a_process() {
    let r = linux(&[&path("hello.c")]);
    assert_eq!(r.stdout, "Hello from hako!\n", "stderr: {}", r.stderr);
    assert_eq!((r.stderr.as_str(), r.status), ("", 0));
}

#[test]
fn arguments_environment_and_both_streams() {
    let wasm = path("echo.c");
    let r = linux(&[
        "--env",
        "HAKO_GREETING=hi there=1%",
        &wasm,
        "--",
        "one",
        "two words",
        "",
    ]);
    assert_eq!(
        r.stdout,
        format!(
            "argv[0]={wasm}\nargv[1]=one\nargv[2]=two words\nargv[3]=\nHAKO_GREETING=hi there=1%\n"
        ),
        "stderr: {}",
        r.stderr
    );
    assert_eq!(r.stderr, "echo: 4 arguments\n");
    assert_eq!(r.status, 0);
}

#[test]
fn exit_status_and_traps() {
    let r = linux(&[&path("exit7.c")]);
    assert_eq!(r.status, 7, "stderr: {}", r.stderr);
    for (fixture, message) in [
        ("trap.c", "integer divide by zero"),
        // A fault in the linear memory's guard region (SIGSEGV).
        ("out_of_bounds.wat", "out of bounds memory access"),
        // A fault in the Wasm stack's guard region, on the alternate signal stack.
        ("recursion.wat", "call stack exhausted"),
    ] {
        let r = linux(&[&path(fixture)]);
        assert_eq!(r.status, 134, "{fixture}: {}", r.stderr);
        assert!(
            r.stderr.contains(&format!("error: wasm trap: {message}")),
            "{fixture}: {}",
            r.stderr
        );
    }
}

/// A freestanding C program built for wasm64 (64-bit memory: explicit bounds checks,
/// `memory.grow` and `memory.size` in `i64`) prints what it prints natively, and so does
/// its wasm32 build.
#[test]
fn a_wasm64_c_program_runs() {
    for target in ["wasm64", "wasm32"] {
        let wasm = fixture_freestanding("kernel64.c", target)
            .display()
            .to_string();
        let r = linux(&[&wasm]);
        assert_eq!(
            (r.status, r.stdout.as_str(), r.stderr.as_str()),
            (0, KERNEL64_OUTPUT, ""),
            "{target}"
        );
    }
}

/// A 64-bit memory and table grow as far as the runtime allows and answer -1 beyond, and
/// a load one past the grown memory traps (`fixtures/memory64_grow.wat` exits 1 to 6 on a
/// wrong answer, 9 when the load did not trap).
#[test]
fn memory64_grows_within_limits_and_traps_past_its_end() {
    let r = linux(&[&path("memory64_grow.wat")]);
    assert_eq!(r.stderr, "error: wasm trap: out of bounds memory access\n");
    assert_eq!(r.status, hako_runner::TRAP_EXIT_STATUS);
}

/// 10^8 tail calls among functions of three signatures (`fixtures/tail_calls.wat`: 0, 1 and
/// 5 arguments on the stack) run in constant stack and pass their arguments right (the
/// program exits with 1 on a wrong sum); as ordinary calls they exhaust the Wasm stack.
#[test]
fn tail_calls_run_in_constant_stack() {
    for level in ["-O0", "-O2"] {
        let r = linux(&[level, &path("tail_calls.wat")]);
        assert_eq!((r.status, r.stderr.as_str()), (0, ""), "{level}");
    }
}

#[test]
fn a_program_that_never_exits_is_killed_at_the_timeout() {
    let r = linux(&["--timeout", "1", &path("spin.wat")]);
    assert_eq!(r.status, hako_runner::TIMEOUT_EXIT_STATUS, "{}", r.stderr);
    assert!(r.stderr.contains("timed out after 1.0 s"), "{}", r.stderr);
}

#[test]
fn unresolved_imports_behave_as_in_the_unikernel() {
    let linux = linux(&["--verbose", &path("unknown_import.wat")]);
    let unikernel = run(&["--verbose", &path("unknown_import.wat")]);
    assert_eq!(linux.status, 52, "{}", linux.stderr);
    assert_eq!(
        (linux.status, &linux.stdout),
        (unikernel.status, &unikernel.stdout)
    );
    assert!(
        linux
            .stderr
            .contains("unsupported import called: env not_provided"),
        "{}",
        linux.stderr
    );
}

#[test]
fn reactors_are_invoked() {
    let r = linux(&["--invoke", "add", &path("reactor.wat"), "--", "-1", "0x10"]);
    assert_eq!(r.stdout, "init\n115\n8\n", "stderr: {}", r.stderr);
    assert_eq!(r.status, 0);
    let r = linux(&["--invoke", "boom", &path("reactor.wat")]);
    assert_eq!(r.status, 134, "stderr: {}", r.stderr);
    assert!(r.stderr.contains("wasm trap: unreachable"), "{}", r.stderr);
}

#[test]
fn accel_is_refused() {
    let r = linux(&["--accel", "kvm", &path("hello.c")]);
    assert_eq!(r.status, 1);
    assert!(
        r.stderr.contains("--accel is for the unikernel"),
        "{}",
        r.stderr
    );
}

#[test]
fn executables_run_on_their_own() {
    let hello = executable("hello.c");
    let r = exec(&hello, &[]);
    assert_eq!(
        (r.stdout.as_str(), r.status),
        ("Hello from hako!\n", 0),
        "{}",
        r.stderr
    );

    let echo = executable("echo.c");
    let r = exec(&echo, &["--env", "HAKO_GREETING=x", "--", "--dir", "a"]);
    assert_eq!(
        r.stdout,
        format!(
            "argv[0]={}\nargv[1]=--dir\nargv[2]=a\nHAKO_GREETING=x\n",
            echo.display()
        )
    );
    // Our options are read only at the front: the rest is the program's.
    let r = exec(&echo, &["--help", "--env", "X=1"]);
    assert_eq!(
        r.stdout,
        format!(
            "argv[0]={}\nargv[1]=--help\nargv[2]=--env\nargv[3]=X=1\nHAKO_GREETING=(unset)\n",
            echo.display()
        )
    );

    let trap = executable("trap.c");
    let r = exec(&trap, &[]);
    assert_eq!(r.status, 134);
    assert_eq!(r.stdout, "dividing by zero\n");
    assert_eq!(r.stderr, "error: wasm trap: integer divide by zero\n");
}

#[test]
fn executable_preopens_and_their_errors() {
    let dir = tmp().join("linux-exe-dir");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let create = executable("fs_create.c");
    let r = exec(&create, &["--dir", &format!("{}::/out", dir.display())]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(dir.join("file.txt").is_file() && dir.join("dir").is_dir());

    let r = exec(&create, &["--dir", "/nonexistent/hako-dir::/out"]);
    assert_eq!(r.status, 1);
    assert!(
        r.stderr
            .starts_with("error: --dir /nonexistent/hako-dir: cannot open /nonexistent/hako-dir"),
        "{}",
        r.stderr
    );
    let r = exec(&create, &["--dir"]);
    assert_eq!(r.status, 2);
    assert_eq!(r.stderr, "error: --dir needs a value\n");
}

/// The executable is static: no interpreter, no shared libraries.
#[test]
fn executables_are_static() {
    use object::Object;
    let hello = executable("hello.c");
    let bytes = std::fs::read(&hello).unwrap();
    let file = object::File::parse(&*bytes).unwrap();
    assert_eq!(file.kind(), object::ObjectKind::Executable);
    assert!(file.section_by_name(".interp").is_none());
    assert!(file.section_by_name(".dynamic").is_none());
}

/// The object is shared between targets: building for Linux after the unikernel compiles
/// nothing.
#[test]
fn the_compile_cache_is_shared_between_targets() {
    let wasm = large_program(40);
    let wasm = wasm.display().to_string();
    let first = run(&["--verbose", &wasm]);
    assert_eq!(first.status, 0, "{}", first.stderr);
    let second = linux(&["--verbose", &wasm]);
    assert_eq!(second.status, 0, "{}", second.stderr);
    assert!(
        second.stderr.contains("hako: compile cached"),
        "{}",
        second.stderr
    );
}

/// Exception handling (`fixtures/exceptions.wat`): 10^7 throws caught in a loop, under a
/// 256 MiB address-space limit (each leaked exception would be at least 48 bytes, 480 MB in
/// all: the caught ones are freed), a throw through 10,000 frames, `catch_ref`/`throw_ref`
/// across frames, tags that do not match and the legacy instructions.
#[test]
fn exceptions_are_caught_and_freed() {
    let exe = executable("exceptions.wat");
    let r = ran(Command::new("sh")
        .args(["-c", "ulimit -v 262144; exec \"$0\""])
        .arg(&exe)
        .output()
        .unwrap());
    assert_eq!(
        (r.status, r.stderr.as_str()),
        (0, ""),
        "check {} failed",
        r.status
    );
}

/// A trap inside a `try_table` with `catch_all` is not caught, and an exception nothing
/// catches ends the program as Wasmtime's uncaught-exception error does, never a crash.
#[test]
fn traps_are_not_exceptions_and_uncaught_exceptions_are_errors() {
    let r = linux(&[&path("trap_in_try.wat")]);
    assert!(r.stderr.contains("wasm trap: unreachable"), "{}", r.stderr);
    let r = linux(&[&path("uncaught.wat")]);
    assert!(
        r.stderr.contains("wasm trap: uncaught exception"),
        "{}",
        r.stderr
    );
    assert_eq!(r.status, run(&[&path("trap_in_try.wat")]).status);
}

/// Throwing and catching across frames (`fixtures/exceptions_print.wat`: three tags, a
/// "destructor" that runs while unwinding and rethrows, a handler that rethrows to its
/// caller, `catch_all` at the top) prints the same in Wasmtime 46 (exceptions enabled), on
/// the Linux target and in the unikernel. (The legacy instructions, which clang-19's
/// `-fwasm-exceptions` emits, are tested against the spec's `legacy/` scripts instead:
/// Wasmtime 46 does not implement them.)
#[test]
fn exceptions_across_frames_match_wasmtime() {
    let wasm = wat::parse_file(fixture("exceptions_print.wat")).unwrap();
    let module = hako_runner::bench::wasmtime::compile(&wasm).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let oracle = hako_runner::bench::wasmtime::run(&module, &["p".to_string()], dir.path());
    assert_eq!(oracle.status.as_ref().ok(), Some(&0), "{:?}", oracle.status);
    let expected = String::from_utf8(oracle.stdout).unwrap();
    assert!(expected.contains("main caught float"), "{expected}");
    for r in [
        linux(&[&path("exceptions_print.wat")]),
        run(&[&path("exceptions_print.wat")]),
    ] {
        assert_eq!(
            (r.status, r.stdout.as_str()),
            (0, expected.as_str()),
            "{}",
            r.stderr
        );
    }
}

/// The GC stress test (`fixtures/gc_stress.wat`: trees, lists, byte arrays, arrays of
/// references and cycles, far more allocated than the heap keeps, roots in a global and a
/// table) prints the same checksum as Wasmtime 46 with GC enabled, on the Linux target
/// (1,000 rounds, about 500 MB allocated) and in the unikernel (20 rounds: TCG).
#[test]
fn gc_stress_matches_wasmtime() {
    let wasm = wat::parse_file(fixture("gc_stress.wat")).unwrap();
    let module = hako_runner::bench::wasmtime::compile(&wasm).unwrap();
    for (rounds, on_linux) in [("1000", true), ("20", false)] {
        let dir = tempfile::tempdir().unwrap();
        let argv = ["p".to_string(), rounds.to_string()];
        let oracle = hako_runner::bench::wasmtime::run(&module, &argv, dir.path());
        assert_eq!(oracle.status.as_ref().ok(), Some(&0), "{:?}", oracle.status);
        let expected = String::from_utf8(oracle.stdout).unwrap();
        let r = match on_linux {
            true => exec(&executable("gc_stress.wat"), &[rounds]),
            false => run(&["-O2", &path("gc_stress.wat"), "--", rounds]),
        };
        assert_eq!(
            (r.status, r.stdout.as_str()),
            (0, expected.as_str()),
            "{rounds} rounds: {}",
            r.stderr
        );
    }
}

/// A program that keeps everything it allocates (`fixtures/gc_exhaust.wat`) ends with the
/// GC heap's trap on both targets, after collections found nothing to free: never a
/// crash or a kernel panic.
#[test]
fn a_full_gc_heap_is_a_trap() {
    for r in [
        linux(&[&path("gc_exhaust.wat")]),
        run(&[&path("gc_exhaust.wat")]),
    ] {
        assert_eq!(r.status, 134, "{}", r.stderr);
        assert!(
            r.stderr
                .contains("wasm trap: out of memory: GC heap exhausted"),
            "{}",
            r.stderr
        );
    }
}

/// A GC object referenced only from the payload of a captured exception (an `exnref` in a
/// global) survives collections on both targets, as in Wasmtime: the kernel's roots include
/// the payloads of the exceptions not freed (`fixtures/gc_exnref_root.wat`; without them
/// the box was reused and printed 57005).
#[test]
fn an_exnref_keeps_its_payload_alive() {
    let wasm = wat::parse_file(fixture("gc_exnref_root.wat")).unwrap();
    let module = hako_runner::bench::wasmtime::compile(&wasm).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let oracle = hako_runner::bench::wasmtime::run(&module, &["p".to_string()], dir.path());
    assert_eq!(oracle.status.as_ref().ok(), Some(&0), "{:?}", oracle.status);
    assert_eq!(String::from_utf8(oracle.stdout).unwrap(), "12345\n");
    for r in [
        linux(&[&path("gc_exnref_root.wat")]),
        run(&[&path("gc_exnref_root.wat")]),
    ] {
        assert_eq!(
            (r.status, r.stdout.as_str()),
            (0, "12345\n"),
            "{}",
            r.stderr
        );
    }
}
