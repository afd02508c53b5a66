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
