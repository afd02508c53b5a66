//! End to end: C and WAT fixtures compiled, linked with the kernel and booted in QEMU through
//! the `hako` binary, checking stdout, stderr and the exit status.

mod common;
use common::*;

fn path(name: &str) -> String {
    fixture(name).display().to_string()
}

#[test]
fn hello_prints_and_exits_zero() {
    let r = run(&[&path("hello.c")]);
    assert_eq!(r.stdout, "Hello from hako!\n", "stderr: {}", r.stderr);
    assert_eq!(r.stderr, "");
    assert_eq!(r.status, 0);
}

#[test]
fn hello_under_tcg() {
    let r = run(&["--accel", "tcg", &path("hello.c")]);
    assert_eq!(r.stdout, "Hello from hako!\n", "stderr: {}", r.stderr);
    assert_eq!(r.status, 0);
}

#[test]
fn echo_sees_args_env_and_writes_both_streams() {
    let wasm = path("echo.c");
    let r = run(&[
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

/// A VM without one of the COM ports (here COM2, stderr) still runs the program, with that
/// stream's output dropped. (QEMU reads an absent port as 0xff, which looks ready; the
/// kernel's set-up check also covers machines that read it as 0, which never looks ready.)
#[test]
fn missing_com_port_drops_its_output() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let wrapper = dir.path().join("qemu-without-com2");
    std::fs::write(
        &wrapper,
        r#"#!/bin/bash
# QEMU without COM2: drop its -chardev (id=ch1) and its isa-serial device (0x2f8).
all=("$@"); args=()
for ((i = 0; i < ${#all[@]}; i++)); do
    next=${all[i + 1]:-}
    if [[ ${all[i]} == -chardev || ${all[i]} == -device ]] &&
        [[ $next == *id=ch1,* || $next == *iobase=0x2f8,* ]]; then
        i=$((i + 1))
        continue
    fi
    args+=("${all[i]}")
done
exec qemu-system-x86_64 "${args[@]}"
"#,
    )
    .unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let r = ran(hako()
        .env("HAKO_QEMU", &wrapper)
        .args(["run", "--timeout", "60", &path("echo.c"), "--", "one"])
        .output()
        .unwrap());
    assert_eq!(r.status, 0, "stderr: {}", r.stderr);
    assert!(r.stdout.starts_with("argv[0]="), "{}", r.stdout);
    assert_eq!(r.stderr, "");
}

#[test]
fn echo_without_env() {
    let r = run(&[&path("echo.c")]);
    assert!(
        r.stdout.ends_with("HAKO_GREETING=(unset)\n"),
        "{}",
        r.stdout
    );
}

#[test]
fn exit_status_is_passed_through() {
    let r = run(&[&path("exit7.c")]);
    assert_eq!(r.stdout, "about to exit with 7\n");
    assert_eq!(r.status, 7, "stderr: {}", r.stderr);
}

#[test]
fn trap_is_reported_by_name() {
    let r = run(&[&path("trap.c")]);
    assert_eq!(r.stdout, "dividing by zero\n");
    assert_eq!(r.stderr, "error: wasm trap: integer divide by zero\n");
    assert_eq!(r.status, hako_runner::TRAP_EXIT_STATUS);
}

#[test]
fn out_of_bounds_access_traps() {
    let r = run(&[&path("out_of_bounds.wat")]);
    assert_eq!(r.stderr, "error: wasm trap: out of bounds memory access\n");
    assert_eq!(r.status, hako_runner::TRAP_EXIT_STATUS);
}

#[test]
fn unbounded_recursion_traps() {
    let r = run(&[&path("recursion.wat")]);
    assert_eq!(r.stderr, "error: wasm trap: call stack exhausted\n");
    assert_eq!(r.status, hako_runner::TRAP_EXIT_STATUS);
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
        let r = run(&[&wasm]);
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
    let r = run(&[&path("memory64_grow.wat")]);
    assert_eq!(r.stderr, "error: wasm trap: out of bounds memory access\n");
    assert_eq!(r.status, hako_runner::TRAP_EXIT_STATUS);
}

/// 10^8 tail calls in constant stack, as on the Linux target (`linux.rs`); about 3 s under
/// TCG.
#[test]
fn tail_calls_run_in_constant_stack() {
    let r = run(&[&path("tail_calls.wat")]);
    assert_eq!((r.status, r.stderr.as_str()), (0, ""));
}

/// A program the compiler lays out ahead of time: what the kernel adopts behaves like an
/// instantiated module (globals, tables, canonical type ids, data, start function, growth).
#[test]
fn prebuilt_instance_behaves_like_an_instantiated_one() {
    let r = run(&[&path("prebuilt.wat")]);
    assert_eq!(
        r.stdout, "prebuilt ok\n",
        "status {}, stderr: {}",
        r.status, r.stderr
    );
    assert_eq!(r.stderr, "error: wasm trap: indirect call type mismatch\n");
    assert_eq!(r.status, hako_runner::TRAP_EXIT_STATUS);
}

/// Fresh linear memory reads zero, in the initial pages (from the frames the kernel does
/// not clear again) and after `memory.grow`.
#[test]
fn fresh_memory_reads_zero() {
    let r = run(&[&path("zeroed_memory.wat")]);
    assert_eq!(
        (r.status, r.stdout.as_str()),
        (0, "zeroed ok\n"),
        "stderr: {}",
        r.stderr
    );
}

#[test]
fn unknown_import_links_and_returns_enosys() {
    let r = run(&["--verbose", &path("unknown_import.wat")]);
    assert_eq!(r.status, 52, "stderr: {}", r.stderr);
    assert!(
        r.stderr
            .contains("unsupported import called: env not_provided"),
        "{}",
        r.stderr
    );
}

#[test]
fn hung_guest_is_killed_at_the_timeout() {
    let r = run(&["--timeout", "2", &path("spin.wat")]);
    assert_eq!(r.status, hako_runner::TIMEOUT_EXIT_STATUS);
    assert!(
        r.stderr.starts_with("error: guest timed out after 2.0 s"),
        "{}",
        r.stderr
    );
}

/// The KVM path, where `/dev/kvm` exists (even when `hako` would not choose it by itself, see
/// `Accel::kvm_usable`): fixtures without floating point run on every KVM flavour.
#[test]
fn kvm_boots_when_available() {
    let kvm = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_ok();
    if !kvm {
        eprintln!("skipped: /dev/kvm is not usable here");
        return;
    }
    let r = run(&["--accel", "kvm", &path("hello.c")]);
    assert_eq!(
        (r.status, r.stdout.as_str()),
        (0, "Hello from hako!\n"),
        "stderr: {}",
        r.stderr
    );
    let r = run(&["--accel", "kvm", &path("out_of_bounds.wat")]);
    assert_eq!(r.stderr, "error: wasm trap: out of bounds memory access\n");
}

#[test]
fn cpu_time_clocks_advance() {
    let r = run(&[&path("cpu_clock.wat")]);
    assert_eq!(r.status, 0, "stderr: {}", r.stderr);
}

/// `--invoke` runs a reactor as `wasmtime run --invoke` does: `_initialize`, then the export
/// with the arguments, and its results printed one per line after the program's output.
#[test]
fn invoke_calls_initialize_then_the_export() {
    let r = run(&["--invoke", "add", &path("reactor.wat"), "--", "-1", "0x10"]);
    assert_eq!(r.stdout, "init\n115\n8\n", "stderr: {}", r.stderr);
    assert_eq!(r.status, 0);
    let r = run(&["--invoke", "boom", &path("reactor.wat")]);
    assert_eq!(r.status, 134, "stderr: {}", r.stderr);
    assert_eq!(r.stdout, "init\n");
    assert!(r.stderr.contains("wasm trap: unreachable"), "{}", r.stderr);
}

/// The QEMU processes that are children of `pid`, from /proc.
fn qemu_children(pid: u32) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else {
            continue;
        };
        // `pid (comm) state ppid ...`; comm may hold spaces, so split after the last ')'.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = &stat[open + 1..close];
        let ppid = stat[close + 1..].split_whitespace().nth(1);
        if comm.starts_with("qemu") && ppid == Some(&pid.to_string()) {
            found.push(child);
        }
    }
    found
}

/// Whether process `pid` is gone (or a zombie nobody has reaped yet: it runs no more).
fn gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rfind(')')
            .and_then(|i| stat[i + 1..].split_whitespace().next())
            .is_some_and(|state| state == "Z" || state == "X"),
    }
}

/// Waits (up to `limit`) until `check` holds; a bound on waiting, not a timing assertion.
fn eventually(limit: std::time::Duration, mut check: impl FnMut() -> bool) -> bool {
    let end = std::time::Instant::now() + limit;
    while std::time::Instant::now() < end {
        if check() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    check()
}

/// Start `hako run spin.wat` (a guest that loops forever) and wait until its QEMU runs.
fn spinning_guest() -> (std::process::Child, u32) {
    let mut child = hako()
        .args(["run", "--timeout", "600", &path("spin.wat")])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut qemu = Vec::new();
    let started = eventually(std::time::Duration::from_secs(120), || {
        qemu = qemu_children(child.id());
        !qemu.is_empty()
    });
    if !started {
        let _ = child.kill();
        panic!("hako did not start QEMU");
    }
    (child, qemu[0])
}

/// SIGTERM, SIGINT or SIGHUP to `hako` stops its VM, and `hako` ends by that signal.
#[test]
fn a_signal_to_hako_stops_its_vm() {
    use std::os::unix::process::ExitStatusExt;
    for (signal, number) in [("TERM", 15), ("INT", 2), ("HUP", 1)] {
        let (mut child, qemu) = spinning_guest();
        let sent = std::process::Command::new("kill")
            .args([&format!("-{signal}"), &child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let status = child.wait().unwrap();
        assert_eq!(
            status.signal(),
            Some(number),
            "hako after SIG{signal}: {status:?}"
        );
        assert!(
            eventually(std::time::Duration::from_secs(10), || gone(qemu)),
            "QEMU {qemu} outlived hako after SIG{signal}"
        );
    }
}

/// `kill -9` of `hako` runs none of its code; the VM dies with it anyway (PR_SET_PDEATHSIG).
#[test]
fn kill_9_of_hako_stops_its_vm() {
    let (mut child, qemu) = spinning_guest();
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(
        eventually(std::time::Duration::from_secs(10), || gone(qemu)),
        "QEMU {qemu} outlived hako after kill -9"
    );
}

/// Stack exhaustion with WASI calls in every frame is the spec's trap, at any level.
#[test]
fn stack_exhaustion_around_wasi_calls_traps() {
    for level in ["-O0", "-O2"] {
        let r = run(&[level, &path("deep_wasi.wat")]);
        assert_eq!(r.status, 134, "{level}: {}", r.stderr);
        assert!(
            r.stderr.contains("wasm trap: call stack exhausted"),
            "{level}: {}",
            r.stderr
        );
    }
}

/// Exception handling in the unikernel: `fixtures/exceptions.wat` with 10^4 throws in its
/// loop instead of 10^7 (under TCG a throw costs QEMU's translation of the unwinder's
/// code; the Linux target runs the 10^7), the deep throw, `throw_ref` and legacy checks.
#[test]
fn exceptions_are_caught_in_the_unikernel() {
    let text = std::fs::read_to_string(fixture("exceptions.wat")).unwrap();
    let text = text
        .replace("(i32.const 10000000)", "(i32.const 10000)")
        .replace("(i64.const 49999995000000)", "(i64.const 49995000)");
    let wat = tmp().join("exceptions_small.wat");
    std::fs::write(&wat, text).unwrap();
    let r = run(&[wat.to_str().unwrap()]);
    assert_eq!(
        (r.status, r.stderr.as_str()),
        (0, ""),
        "check {} failed",
        r.status
    );
    let r = run(&[&path("uncaught.wat")]);
    assert!(
        r.stderr.contains("wasm trap: uncaught exception"),
        "{}",
        r.stderr
    );
    let r = run(&[&path("trap_in_try.wat")]);
    assert!(r.stderr.contains("wasm trap: unreachable"), "{}", r.stderr);
}

/// A module whose memory does not fit in the VM's RAM: the kernel's message says how much
/// it needs, and `hako` says how much the VM has and how to give it more.
#[test]
fn a_memory_larger_than_the_vm_says_how_to_fit_it() {
    let wasm = tmp().join("memory-too-large.wat");
    std::fs::write(&wasm, r#"(module (memory 16384) (func (export "_start")))"#).unwrap();
    let r = run(&["--memory", "64", &wasm.display().to_string()]);
    assert_eq!(r.status, hako_runner::CRASH_EXIT_STATUS, "{}", r.stderr);
    assert_eq!(
        r.stderr,
        "error: the kernel could not start the program: out of memory for a memory of 16384 \
         pages (1024 MiB)\nhint: the VM has 64 MiB of RAM; `--memory MIB` gives it more\n"
    );
}

/// `hako` links no LLVM: it runs what the cache holds itself and hands a command that
/// compiles to `hako-llvm` beside it (`hako_runner::backend`), from the start, stdin included.
#[test]
fn the_launcher_compiles_through_hako_llvm_and_runs_cached_images_itself() {
    use object::{Object, ObjectSymbol};
    let has_symbol = |exe: &str, name: &str| {
        let bytes = std::fs::read(exe).unwrap();
        let file = object::File::parse(&*bytes).unwrap();
        let found = file.symbols().any(|s| s.name() == Ok(name));
        found
    };
    assert!(has_symbol(
        env!("CARGO_BIN_EXE_hako-llvm"),
        "LLVMContextCreate"
    ));
    assert!(!has_symbol(env!("CARGO_BIN_EXE_hako"), "LLVMContextCreate"));

    let cache = tempfile::tempdir_in(tmp()).unwrap();
    let wasm = path("stdin_cat.c");
    let hako = |llvm: Option<&str>, stdin: &str| {
        use std::io::Write;
        let mut cmd = hako();
        cmd.env("HAKO_CACHE_DIR", cache.path());
        if let Some(llvm) = llvm {
            cmd.env("HAKO_LLVM", llvm);
        }
        let mut child = cmd
            .args(["run", &wasm])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        ran(child.wait_with_output().unwrap())
    };
    // Nothing cached and no compiler: a clear error naming what is missing.
    let r = hako(Some("/nonexistent/hako-llvm"), "");
    assert_eq!(r.status, 1, "{}", r.stderr);
    assert!(r.stderr.contains("hako-llvm"), "{}", r.stderr);
    assert!(r.stderr.contains("/nonexistent/hako-llvm"), "{}", r.stderr);
    assert_eq!(r.stdout, "");
    // Compiled by hako-llvm, which gets the stdin the program reads.
    let r = hako(None, "first\n");
    assert_eq!(
        (r.status, r.stdout.as_str()),
        (0, "first\n"),
        "{}",
        r.stderr
    );
    // From the cache: no compiler needed.
    let r = hako(Some("/nonexistent/hako-llvm"), "second\n");
    assert_eq!(
        (r.status, r.stdout.as_str()),
        (0, "second\n"),
        "{}",
        r.stderr
    );
}
