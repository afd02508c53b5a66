//! Preopened host directories and stdin, end to end, on both targets (virtio-9p in the
//! unikernel, host directories for `--target linux`): escapes from a preopen, bad guest
//! pointers and huge iovec counts, a file written before a trap, stdin piped in, the umask,
//! read-only preopens. Each test runs once per target (`unikernel::NAME`, `linux::NAME`).

mod common;
use common::*;
use std::io::Write;
use std::path::PathBuf;
use std::process::Stdio;

fn path(name: &str) -> String {
    fixture(name).display().to_string()
}

/// A fresh directory under the test's temporary directory.
fn fresh(name: &str) -> PathBuf {
    let d = tmp().join("wasi_fs").join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn dir_arg(host: &std::path::Path, guest: &str) -> String {
    format!("{}::{guest}", host.display())
}

fn no_way_out_of_a_preopen(target: Target) {
    let base = fresh(&target.dir("escape"));
    let root = base.join("root");
    std::fs::create_dir_all(root.join("sub")).unwrap();
    std::fs::write(base.join("x"), "outside").unwrap();
    std::fs::write(root.join("file"), "inside").unwrap();
    use std::os::unix::fs::symlink;
    symlink("/etc", root.join("abs")).unwrap();
    symlink("..", root.join("up")).unwrap();
    symlink("chain2", root.join("chain1")).unwrap();
    symlink("sub/../..", root.join("chain2")).unwrap();
    symlink("loop2", root.join("loop1")).unwrap();
    symlink("loop1", root.join("loop2")).unwrap();
    symlink("sub/../file", root.join("ok")).unwrap();
    let r = target.run(&["--dir", &dir_arg(&root, "/"), &path("fs_escape.c")]);
    // 63 = EPERM (Wasmtime's answer to a path leading out), 32 = ELOOP, 54 = ENOTDIR.
    let expected = "\
open ..: 63\nopen ../: 63\nopen ../x: 63\nopen sub/../..: 63\nopen sub/../../x: 63\n\
open /: 63\nopen /etc/passwd: 63\nopen abs: 63\nopen abs/passwd: 63\nopen up: 63\n\
open up/x: 63\nopen chain1: 63\nopen loop1: 32\nopen ok: 0\nopen sub/.: 0\nopen file/: 54\n\
open abs (nofollow): 32\nstat up: 63\nsymlink /etc: 63\nmkdir ../x: 63\n\
rename file ../x: 63\nunlink up/x: 63\n";
    assert_eq!(r.stdout, expected, "stderr: {}", r.stderr);
    assert_eq!(r.status, 0);
    assert_eq!(std::fs::read_to_string(base.join("x")).unwrap(), "outside");
    assert!(!root.join("newabs").exists());
}

fn bad_pointers_are_efault(target: Target) {
    let root = fresh(&target.dir("badptr"));
    let r = target.run(&["--dir", &dir_arg(&root, "/"), &path("fs_badptr.c")]);
    // The write whose result pointer is bad still wrote (as in Wasmtime); fd_read on a
    // directory is EBADF before the iovec is looked at.
    assert_eq!(
        r.stdout, "hello\n21 21 21 21 8 21 21 21 21 21 \n",
        "stderr: {}",
        r.stderr
    );
    assert_eq!(r.status, 0);
}

fn data_written_before_a_trap_is_on_the_host(target: Target) {
    let out = fresh(&target.dir("trap"));
    let r = target.run(&["--dir", &dir_arg(&out, "/out"), &path("fs_write_trap.c")]);
    assert_eq!(r.status, 134, "stderr: {}", r.stderr);
    assert_eq!(
        std::fs::read_to_string(out.join("written.txt")).unwrap(),
        "persisted before the trap\n"
    );
}

fn missing_preopen_directory_is_refused(target: Target) {
    let r = target.run(&["--dir", "/nonexistent/hako-dir", &path("hello.c")]);
    assert_eq!(r.status, 1);
    assert!(r.stderr.contains("is not a directory"), "{}", r.stderr);
}

fn run_with_stdin(target: Target, args: &[&str], input: &[u8]) -> Ran {
    let mut child = hako()
        .arg("run")
        .args(target.args())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot run hako");
    let mut stdin = child.stdin.take().unwrap();
    let data = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&data));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    ran(out)
}

fn stdin_piped_in(target: Target) {
    let input: Vec<u8> = (0..20_000u32)
        .map(|i| b"abcdefghij\n"[(i % 11) as usize])
        .collect();
    let r = run_with_stdin(target, &[&path("stdin_cat.c")], &input);
    assert_eq!(r.stderr, "stdin: 20000 bytes\n");
    assert_eq!(r.stdout.as_bytes(), &input[..]);
    assert_eq!(r.status, 0);
    let r = run_with_stdin(target, &[&path("stdin_cat.c")], b"");
    assert_eq!(
        (r.stdout.as_str(), r.stderr.as_str()),
        ("", "stdin: 0 bytes\n")
    );
}

/// Files and directories the guest creates get the invoking user's umask applied, as a host
/// process's would (QEMU's 9p server sets the mode the guest asks for exactly).
fn created_files_follow_the_umask(target: Target) {
    use std::os::unix::fs::PermissionsExt;
    for (umask, file_mode, dir_mode) in [("022", 0o644, 0o755), ("077", 0o600, 0o700)] {
        let out = fresh(&target.dir(&format!("umask-{umask}")));
        let output = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("umask {umask} && exec \"$0\" \"$@\""))
            .arg(env!("CARGO_BIN_EXE_hako"))
            .arg("run")
            .args(target.args())
            .args(["--dir", &dir_arg(&out, "/out"), &path("fs_create.c")])
            .env("HAKO_CACHE_DIR", tmp().join("cache"))
            .output()
            .unwrap();
        let r = ran(output);
        assert_eq!(r.status, 0, "stderr: {}", r.stderr);
        let mode = |p: &str| std::fs::metadata(out.join(p)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode("file.txt"), file_mode, "file under umask {umask}");
        assert_eq!(mode("dir"), dir_mode, "directory under umask {umask}");
    }
}

/// `--dir HOST::GUEST:ro`: reading works, every kind of change is EROFS (QEMU's 9p server
/// refuses it), and the host directory is unchanged.
fn read_only_preopen_refuses_every_change(target: Target) {
    let dir = fresh(&target.dir("readonly"));
    std::fs::write(dir.join("file.txt"), "inside\n").unwrap();
    let r = target.run(&[
        "--dir",
        &format!("{}::/ro:ro", dir.display()),
        &path("fs_readonly.c"),
    ]);
    assert_eq!(r.status, 0, "stderr: {}", r.stderr);
    assert_eq!(
        r.stdout,
        "read open: 0\nread: 0\ncontents: inside\nopen for writing: 69\ncreate: 69\n\
         truncate: 69\nmkdir: 69\nunlink: 69\nrename: 69\nsymlink: 69\n"
    );
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert_eq!(names, ["file.txt"]);
    assert_eq!(
        std::fs::read_to_string(dir.join("file.txt")).unwrap(),
        "inside\n"
    );
}

/// Where a test runs.
#[derive(Debug, Clone, Copy)]
enum Target {
    Unikernel,
    Linux,
}

impl Target {
    fn args(self) -> &'static [&'static str] {
        match self {
            Target::Unikernel => &[],
            Target::Linux => &["--target", "linux"],
        }
    }
    fn run(self, args: &[&str]) -> Ran {
        run(&[self.args(), args].concat())
    }
    /// A directory name of its own for this target.
    fn dir(self, name: &str) -> String {
        format!("{name}-{self:?}")
    }
}

macro_rules! on_both_targets {
    ($($name:ident),* $(,)?) => {
        mod unikernel {
            $(#[test] fn $name() { super::$name(super::Target::Unikernel) })*
        }
        mod linux {
            $(#[test] fn $name() { super::$name(super::Target::Linux) })*
        }
    };
}

on_both_targets!(
    no_way_out_of_a_preopen,
    bad_pointers_are_efault,
    data_written_before_a_trap_is_on_the_host,
    missing_preopen_directory_is_refused,
    stdin_piped_in,
    created_files_follow_the_umask,
    read_only_preopen_refuses_every_change
);
