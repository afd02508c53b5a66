//! Load: many `hako run` at once on this machine, each writing to stdout and to a file.
//! Every byte arrives, in order, nothing mixes between instances, and afterwards no QEMU
//! process is left. QEMU's resident memory per instance is measured and printed (not
//! asserted). `HAKO_LOAD_INSTANCES` (default 32) and `HAKO_LOAD_BYTES` (default 64 KiB per
//! stream; the nightly size is 10 MiB) scale it: under TCG the serial line carries about
//! 250 KB/s per guest.

mod common;
use common::*;
use std::process::Stdio;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name}={v} is not a number"))
        })
        .unwrap_or(default)
}

/// What instance `id` writes: `bytes` of `IIII SSSSSSSSSSSSSSS\n` lines, the last cut short.
fn expected(id: u64, bytes: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes as usize + 32);
    let mut seq = 0;
    while (out.len() as u64) < bytes {
        out.extend_from_slice(format!("{id:04} {seq:015}\n").as_bytes());
        seq += 1;
    }
    out.truncate(bytes as usize);
    out
}

/// Resident memory (KiB) of the QEMU children of `pid`.
fn qemu_rss_kib(pid: u32) -> Vec<u64> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = entry.file_name();
        let Ok(child) = name.to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(status) = std::fs::read_to_string(format!("/proc/{child}/status")) else {
            continue;
        };
        let field = |key: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .map(|v| v.trim().to_string())
        };
        if field("Name:").is_some_and(|n| n.starts_with("qemu"))
            && field("PPid:").as_deref() == Some(&pid.to_string())
        {
            if let Some(kib) =
                field("VmRSS:").and_then(|v| v.split_whitespace().next()?.parse().ok())
            {
                found.push(kib);
            }
        }
    }
    found
}

#[test]
fn many_instances_at_once_lose_and_mix_nothing() {
    let instances = env_number("HAKO_LOAD_INSTANCES", 32);
    let bytes = env_number("HAKO_LOAD_BYTES", 64 << 10);
    let wasm = fixture("load_writer.c").display().to_string();
    let root = tmp().join("load");
    let _ = std::fs::remove_dir_all(&root);
    // One compile before the crowd, so the instances share the cached image.
    let warm = run(&[&wasm]);
    assert_eq!(warm.status, 2, "{}", warm.stderr);

    let mut children = Vec::new();
    for id in 0..instances {
        let dir = root.join(format!("i{id}"));
        std::fs::create_dir_all(&dir).unwrap();
        let child = hako()
            // Generous: with the nightly's 10 MiB a stream, 32 guests share two cores for
            // minutes.
            .args([
                "run",
                "--timeout",
                "3600",
                "--dir",
                &format!("{}::/out", dir.display()),
                &wasm,
                "--",
            ])
            .args([id.to_string(), bytes.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        children.push((id, dir, child));
    }
    // Sample QEMU's memory while they run, from another thread.
    let pids: Vec<u32> = children.iter().map(|(_, _, c)| c.id()).collect();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut peak = vec![0u64; pids.len()];
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                for (i, pid) in pids.iter().enumerate() {
                    for kib in qemu_rss_kib(*pid) {
                        peak[i] = peak[i].max(kib);
                    }
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            peak
        })
    };
    // Every instance's output is read at once, each by its own thread: a stream nobody reads
    // stalls its guest (the pipe fills, then QEMU's socket, then the guest's UART).
    let readers: Vec<_> = children
        .into_iter()
        .map(|(id, dir, child)| std::thread::spawn(move || (id, dir, child.wait_with_output())))
        .collect();
    let mut failures = Vec::new();
    for reader in readers {
        let (id, dir, out) = reader.join().unwrap();
        let out = out.unwrap();
        let want = expected(id, bytes);
        if out.status.code() != Some(0) {
            failures.push(format!(
                "instance {id}: status {:?}, stderr {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ));
            continue;
        }
        if out.stdout != want {
            let at = out.stdout.iter().zip(&want).position(|(a, b)| a != b);
            failures.push(format!(
                "instance {id}: stdout {} bytes, expected {}, first difference at {at:?}",
                out.stdout.len(),
                want.len()
            ));
        }
        if std::fs::read(dir.join("data.txt")).ok().as_ref() != Some(&want) {
            failures.push(format!("instance {id}: data.txt differs"));
        }
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut peak = sampler.join().unwrap();
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // Nothing left behind: no process mentions this test's directories any more.
    let marker = root.display().to_string();
    let leftovers: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
            let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            text.contains(&marker)
                .then(|| format!("{}: {text}", e.file_name().to_string_lossy()))
        })
        .collect();
    assert!(leftovers.is_empty(), "left running: {leftovers:?}");

    peak.retain(|&k| k > 0);
    peak.sort_unstable();
    if !peak.is_empty() {
        eprintln!(
            "load: {instances} instances x {bytes} bytes (stdout and a file each): QEMU RSS median {} MiB, max {} MiB ({} sampled)",
            peak[peak.len() / 2] / 1024,
            peak[peak.len() - 1] / 1024,
            peak.len()
        );
    }
}
