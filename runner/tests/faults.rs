//! Faults from outside the guest: the host file system filling up under it, and `hako`
//! killed while the guest runs. (Signals to `hako` and `kill -9` leaving no QEMU are in
//! `run.rs`; data written before a trap is in `wasi_fs.rs`.)

mod common;
use common::*;
use std::io::{BufRead, BufReader};
use std::process::Stdio;

fn path(name: &str) -> String {
    fixture(name).display().to_string()
}

fn fresh(name: &str) -> std::path::PathBuf {
    let d = tmp().join("faults").join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A full host file system is ENOSPC in the guest, and the file on the host holds exactly
/// the bytes the guest's writes reported. The 256 KiB tmpfs is mounted in a private mount
/// namespace (`unshare -m`, as root), so nothing is left mounted whatever happens; without
/// the privilege the test says so and checks nothing.
#[test]
fn full_host_file_system_is_enospc_and_consistent() {
    let dir = fresh("full");
    let wasm = path("fs_fill.c");
    // The host's view is read inside the namespace, after the run: the mount goes with it.
    let script = format!(
        "mount -t tmpfs -o size=256k hako-test {dir} && \"$0\" run --dir {dir}::/out {wasm} && \
         stat -c 'host %s' {dir}/fill.bin",
        dir = dir.display()
    );
    let probe = std::process::Command::new("unshare")
        .args([
            "-m",
            "sh",
            "-c",
            "mount -t tmpfs -o size=4k hako-probe /mnt",
        ])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        eprintln!("note: cannot mount a tmpfs in a private namespace here; test skipped");
        return;
    }
    let out = std::process::Command::new("unshare")
        .args(["-m", "sh", "-c", &script])
        .arg(env!("CARGO_BIN_EXE_hako"))
        .env("HAKO_CACHE_DIR", tmp().join("cache"))
        .output()
        .unwrap();
    let r = ran(out);
    assert_eq!(r.status, 0, "stderr: {}", r.stderr);
    // `written N, error ENOSPC, size N` from the guest, then `host N`
    let words: Vec<&str> = r.stdout.split_whitespace().collect();
    assert_eq!(words.len(), 8, "{}", r.stdout);
    assert_eq!(words[3], "ENOSPC,", "{}", r.stdout);
    let written: u64 = words[1].trim_end_matches(',').parse().unwrap();
    let size: u64 = words[5].parse().unwrap();
    assert!(written > 0 && written <= 256 << 10, "{}", r.stdout);
    assert_eq!(size, written, "the guest's own view");
    assert_eq!(words[7].parse::<u64>().unwrap(), written, "the host's view");
}

/// `kill -9` of `hako` while its guest runs: what the guest's writes returned is on the
/// host, and the VM is gone.
#[test]
fn writes_survive_kill_9_of_hako() {
    let dir = fresh("kill9");
    let mut child = hako()
        .args(["run", "--dir", &format!("{}::/out", dir.display())])
        .arg(path("fs_write_spin.c"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "ready\n");
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.join("written.txt")).unwrap(),
        "persisted before kill -9\n"
    );
}

/// Resident memory (KiB) of `pid` and all its descendants, from /proc.
fn tree_rss_kib(pid: u32) -> u64 {
    let mut total = 0;
    let mut stack = vec![pid];
    while let Some(p) = stack.pop() {
        let Ok(status) = std::fs::read_to_string(format!("/proc/{p}/status")) else {
            continue;
        };
        total += status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .unwrap_or(0);
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else {
                continue;
            };
            let ppid = stat.rfind(')').and_then(|close| {
                stat[close + 1..]
                    .split_whitespace()
                    .nth(1)?
                    .parse::<u32>()
                    .ok()
            });
            if ppid == Some(p) {
                stack.push(child);
            }
        }
    }
    total
}

/// A reader that stalls while the guest writes loses nothing, and the host's memory does
/// not grow with what the guest has still to write: the guest waits (backpressure through
/// the pipe, `hako`, QEMU's socket and the UART in the unikernel; the pipe itself for a
/// Linux process) instead of anything being dropped or piling up in the host. The guest
/// writes 1 MiB in the unikernel (about 250 KB/s under TCG) and 64 MiB as a Linux process;
/// the memory of `hako` and its children may grow by at most 16 MiB while the reader
/// stalls.
#[test]
fn a_stalled_reader_loses_nothing() {
    a_stalled_reader_loses_nothing_on(&[], 1 << 20);
    a_stalled_reader_loses_nothing_on(&["--target", "linux"], 64 << 20);
}

fn a_stalled_reader_loses_nothing_on(target: &[&str], bytes: u64) {
    use std::io::Read;
    let mut child = hako()
        .arg("run")
        .args(target)
        .args([
            "--dir",
            &format!(
                "{}::/out",
                fresh(&format!("stall{}", target.len())).display()
            ),
        ])
        .arg(path("load_writer.c"))
        .args(["--", "7", &bytes.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read nothing for a while: everything between the guest and us fills up.
    std::thread::sleep(std::time::Duration::from_secs(2));
    let early = tree_rss_kib(child.id());
    std::thread::sleep(std::time::Duration::from_secs(3));
    let late = tree_rss_kib(child.id());
    eprintln!(
        "{target:?}: hako and its children: {early} KiB after 2 s of stall, {late} KiB after 5 s"
    );
    assert!(
        late < early + (16 << 10),
        "memory grew from {early} to {late} KiB while the reader stalled"
    );
    let mut out = Vec::new();
    child.stdout.take().unwrap().read_to_end(&mut out).unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert_eq!(out.len() as u64, bytes);
    let mut expected = Vec::new();
    let mut seq = 0u64;
    while (expected.len() as u64) < bytes {
        expected.extend_from_slice(format!("0007 {seq:015}\n").as_bytes());
        seq += 1;
    }
    expected.truncate(bytes as usize);
    assert!(out == expected, "the stream differs");
}

/// A guest killed at `--timeout` leaves what its writes returned on the host.
#[test]
fn writes_survive_a_timeout() {
    let dir = fresh("timeout");
    let r = ran(hako()
        .args([
            "run",
            "--timeout",
            "5",
            "--dir",
            &format!("{}::/out", dir.display()),
        ])
        .arg(path("fs_write_spin.c"))
        .output()
        .unwrap());
    assert_eq!(r.status, 124, "stderr: {}", r.stderr);
    assert_eq!(r.stdout, "ready\n");
    assert_eq!(
        std::fs::read_to_string(dir.join("written.txt")).unwrap(),
        "persisted before kill -9\n"
    );
}
