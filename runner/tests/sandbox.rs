//! The sandbox against what a host may put in a preopened directory, and names no file
//! system allows: a FIFO, a Unix socket, a character device, a hard link to a file outside
//! the preopen, 255- and 256-byte names, paths holding a NUL byte or invalid UTF-8
//! (`fixtures/fs_odd.c`). hako's answers are compared with Wasmtime's (`wasi-common`, the
//! oracle) for the same directory; where hako is stricter on purpose, the test says so.
//! Also a symlink the host swaps while the guest resolves paths through it
//! (`fixtures/fs_race.c`), and out-of-bounds memory accesses at the address patterns where bounds arithmetic goes
//! wrong, in a 32-bit and a 64-bit memory, on both targets (`fixtures/oob_patterns.wat`).
//! (Paths leading out, symlinks and bad pointers are in `wasi_fs.rs`.)

mod common;
use common::*;
use hako_runner::wasi::compare::Ending;
use std::time::Duration;

/// Lines where hako answers differently from Wasmtime on purpose.
const STRICTER: &[(&str, &str, &str)] = &[
    // hako opens only regular files, directories and symlinks through 9p: a device node in
    // a preopen would reach the host's device. Wasmtime opens it.
    (
        "open dev: 0 read 0 ",
        "open dev: 60",
        "a device node is not opened (ENXIO)",
    ),
];

#[test]
fn odd_files_and_names_answer_as_in_wasmtime() {
    let base = tmp().join("sandbox-odd");
    let _ = std::fs::remove_dir_all(&base);
    let root = base.join("root");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(base.join("outside"), "outside").unwrap();
    std::fs::hard_link(base.join("outside"), root.join("hardlink")).unwrap();
    std::fs::write(root.join("n".repeat(255)), "").unwrap();
    let made = |what: &str, status: std::io::Result<std::process::ExitStatus>| {
        assert!(status.is_ok_and(|s| s.success()), "cannot make the {what}");
    };
    made(
        "FIFO",
        std::process::Command::new("mkfifo")
            .arg(root.join("fifo"))
            .status(),
    );
    let _socket = std::os::unix::net::UnixListener::bind(root.join("sock")).unwrap();
    // A character device (the null device's numbers) needs root; without it the line
    // differs in both runtimes alike.
    let _ = std::process::Command::new("mknod")
        .arg(root.join("dev"))
        .args(["c", "1", "3"])
        .status();

    let wasm_path = fixture("fs_odd.c");
    let wasm = std::fs::read(&wasm_path).unwrap();
    let oracle = hako_runner::wasi::oracle::run(
        &wasm,
        &["fs_odd.wasm".to_string()],
        &[],
        Some(&root),
        Duration::from_secs(60),
    );
    // wasi-common turns the host's ENXIO for opening a socket into an error that ends the
    // program (it has no WASI errno for it): then hako's last line must be that errno.
    let oracle_stopped_at_socket = match &oracle.ending {
        Ending::Exit { code: 0 } => false,
        Ending::Error { message } if message.contains("No such device or address") => true,
        other => panic!(
            "Wasmtime: {other:?} {}",
            String::from_utf8_lossy(&oracle.stderr)
        ),
    };
    let r = run(&[
        "--timeout",
        "60",
        "--dir",
        &format!("{}::/", root.display()),
        &wasm_path.display().to_string(),
    ]);
    assert_eq!(r.status, 0, "stderr: {}", r.stderr);
    let theirs = String::from_utf8_lossy(&oracle.stdout).into_owned();
    let mut differences = Vec::new();
    for (ours, theirs) in r.stdout.lines().zip(theirs.lines()) {
        let allowed = STRICTER
            .iter()
            .any(|(w, h, _)| theirs.starts_with(w) && ours == *h);
        if ours != theirs && !allowed {
            differences.push(format!("hako `{ours}`, Wasmtime `{theirs}`"));
        }
    }
    let expected_lines = theirs.lines().count() + usize::from(oracle_stopped_at_socket);
    assert_eq!(
        r.stdout.lines().count(),
        expected_lines,
        "hako:\n{}\nWasmtime:\n{theirs}",
        r.stdout
    );
    if oracle_stopped_at_socket {
        assert_eq!(
            r.stdout.lines().last(),
            Some("open sock: 60"),
            "{}",
            r.stdout
        );
    }
    assert!(differences.is_empty(), "{}", differences.join("\n"));
    // Nothing outside changed.
    assert_eq!(
        std::fs::read_to_string(base.join("outside")).unwrap(),
        "outside"
    );

    // A FIFO: Wasmtime's open(2) waits for a writer forever (with or without NONBLOCK), so
    // there is no oracle; hako refuses it at once, as it does devices and sockets.
    let r = run(&[
        "--timeout",
        "60",
        "--dir",
        &format!("{}::/", root.display()),
        &wasm_path.display().to_string(),
        "--",
        "fifo",
    ]);
    assert_eq!(
        r.stdout, "open fifo: 60\nopen fifo (nonblocking): 60\n",
        "stderr: {}",
        r.stderr
    );
}

/// The out-of-bounds patterns of `fixtures/oob_patterns.wat`: (export, arguments, what
/// `--invoke` prints, `None` for the out-of-bounds trap). Each memory is one page (65,536
/// bytes).
const OOB_CASES: &[(&str, &[&str], Option<&str>)] = &[
    ("load32", &["65532"], Some("0\n")),
    ("load32", &["65533"], None),
    ("load32", &["65536"], None),
    ("load32", &["-1"], None),
    ("load32", &["0x80000000"], None),
    // 4 GiB - 1 and 8 GiB - 2: inside the 32-bit memory's guard reservation.
    ("load32_far", &["0"], None),
    ("load32_far", &["-1"], None),
    ("store32", &["65528"], Some("")),
    ("store32", &["65529"], None),
    ("store32", &["-8"], None),
    ("load64", &["65532"], Some("0\n")),
    ("load64", &["65533"], None),
    ("load64", &["4294967295"], None),
    ("load64", &["4294967296"], None),
    ("load64", &["4294967300"], None),
    ("load64", &["-1"], None),
    ("load64", &["0x7fffffffffffffff"], None),
    // Address plus offset at 2^64 - 2^16, 2^64 - 1 and 2^64: must not wrap to 0.
    ("load64_far", &["0"], None),
    ("load64_far", &["65535"], None),
    ("load64_far", &["65536"], None),
    ("store64", &["65528"], Some("")),
    ("store64", &["65529"], None),
    ("store64", &["-8"], None),
    ("v128_64", &["65520"], Some("0\n")),
    ("v128_64", &["65521"], None),
    ("copy64", &["0", "65535", "1"], Some("")),
    ("copy64", &["0", "65535", "2"], None),
    ("copy64", &["-1", "0", "1"], None),
    ("copy64", &["0", "1", "-1"], None),
];

#[test]
fn out_of_bounds_accesses_trap_at_every_address_pattern() {
    let wasm = fixture("oob_patterns.wat").display().to_string();
    let check = |target: &'static str| {
        let mut wrong = Vec::new();
        for (export, args, want) in OOB_CASES {
            let mut argv = vec!["--target", target, "--invoke", export, &wasm, "--"];
            argv.extend_from_slice(args);
            let r = run(&argv);
            let ok = match want {
                Some(out) => r.status == 0 && r.stdout == *out && r.stderr.is_empty(),
                None => {
                    r.status == hako_runner::TRAP_EXIT_STATUS
                        && r.stdout.is_empty()
                        && r.stderr == "error: wasm trap: out of bounds memory access\n"
                }
            };
            if !ok {
                wrong.push(format!(
                    "{target}: {export} {args:?}: status {}, stdout {:?}, stderr {:?}",
                    r.status, r.stdout, r.stderr
                ));
            }
        }
        wrong
    };
    let wrong: Vec<String> = std::thread::scope(|s| {
        let linux = s.spawn(|| check("linux"));
        let mut wrong = check("unikernel");
        wrong.extend(linux.join().unwrap());
        wrong
    });
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// A symlink swapped while the guest resolves paths through it (`fixtures/fs_race.c`): a
/// host thread turns `swing` between `sub` and `../outside`, and `leaf` between
/// `sub/secret` and `../outside/secret`, as fast as it can (an atomic rename each time)
/// while the guest opens `swing/secret` and `leaf` over and over. The guest must never
/// read the file outside its preopen; it must both succeed (inside) and be refused
/// (leading out), or the race was not run. Both targets.
#[test]
fn a_symlink_swapped_during_resolution_never_leads_out() {
    let wasm = fixture("fs_race.c").display().to_string();
    let check = |target: &'static str, tries: &'static str| {
        let base = tmp().join(format!("sandbox-race-{target}"));
        let _ = std::fs::remove_dir_all(&base);
        let root = base.join("root");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::create_dir_all(base.join("outside")).unwrap();
        std::fs::write(root.join("sub/secret"), "inside").unwrap();
        std::fs::write(base.join("outside/secret"), "OUTSIDE").unwrap();
        let links = [
            ("swing", ["sub", "../outside"]),
            ("leaf", ["sub/secret", "../outside/secret"]),
        ];
        let swap = |name: &str, target: &str| {
            let tmp = root.join(format!(".{name}.tmp"));
            let _ = std::fs::remove_file(&tmp);
            std::os::unix::fs::symlink(target, &tmp).unwrap();
            std::fs::rename(&tmp, root.join(name)).unwrap();
        };
        for (name, targets) in &links {
            swap(name, targets[0]);
        }
        let done = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|s| {
            s.spawn(|| {
                let mut i = 0usize;
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    for (name, targets) in &links {
                        swap(name, targets[i % 2]);
                    }
                    i += 1;
                }
            });
            let dir = format!("{}::/d", root.display());
            let r = run(&["--target", target, "--dir", &dir, &wasm, "--", tries]);
            done.store(true, std::sync::atomic::Ordering::Relaxed);
            assert_eq!(r.status, 0, "{target}: {}", r.stderr);
            let counts: Vec<u64> = r
                .stdout
                .split_whitespace()
                .skip(1)
                .step_by(2)
                .map(|n| n.parse().unwrap())
                .collect();
            let [inside, outside, refused, other] = counts[..] else {
                panic!("{target}: unexpected output {:?}", r.stdout);
            };
            eprintln!("{target}: {}", r.stdout.trim());
            assert_eq!((outside, other), (0, 0), "{target}: {}", r.stdout);
            assert!(inside > 0 && refused > 0, "{target}: no race: {}", r.stdout);
        });
    };
    std::thread::scope(|s| {
        s.spawn(|| check("linux", "20000"));
        check("unikernel", "1000");
    });
}
