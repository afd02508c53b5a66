//! `hako bench --net`: HTTP requests per second and latency of the hello server
//! (`fixtures/net/http_hello`, tokio_wasi + hyper_wasi on the WasmEdge socket ABI, as Mewz's
//! `hello_server`) in the unikernel, on the Linux target, and of the same server built
//! natively for Linux (`fixtures/net/native_hello`, tokio + hyper: the physical limit),
//! each loaded by `wrk` (Debian's package) over loopback: the unikernel through QEMU's
//! user-network port forwarding, the others directly. Ratios are against native. With two
//! CPUs or more, `wrk` runs on CPU 0 and the server under test on CPU 1.
//!
//! Under TCG (no hardware KVM) the unikernel's figure measures QEMU's binary translation
//! and its user network, not hako: the table says which accelerator ran it.
//!
//! Besides requests per second, each round records the CPU time the server's processes
//! spent per request (the sum over the server's process tree of `/proc/PID/task/*/schedstat`,
//! before and after the round): on a host shared with other work, `wrk` itself may be what
//! limits every side, and then requests per second hardly differ while the CPU time each
//! request costs the server still does.

use crate::image::Target;
use crate::qemu::Accel;
use crate::workspace;
use anyhow::{bail, Context, Result};
use serde::Serialize;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// What `wrk` measured against one server.
#[derive(Debug, Clone, Serialize)]
pub struct Load {
    pub side: String,
    pub requests_per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Socket errors and non-2xx answers `wrk` counted.
    pub errors: u64,
    pub requests: u64,
    /// CPU time of the server's processes per request, in microseconds (the median over
    /// the rounds in a report; NaN where `/proc` could not tell).
    pub cpu_us_per_request: f64,
}

/// The whole benchmark.
#[derive(Debug, Clone, Serialize)]
pub struct NetReport {
    pub connections: u32,
    pub threads: u32,
    pub seconds: u32,
    /// Rounds per side; each side's median round is reported.
    pub rounds: usize,
    /// `wrk` ran on CPU 0 and the servers on CPU 1.
    pub pinned: bool,
    pub accel: String,
    pub loads: Vec<Load>,
}

/// A server started for the benchmark, killed on drop.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Build a program of `fixtures/net` (`target`: `wasm32-wasip1` or the host's).
fn build_fixture(name: &str, wasm: bool) -> Result<PathBuf> {
    let root = workspace::root();
    let target_dir = root.join("target").join("tmp").join("net-fixtures");
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.args([
        "build",
        "--release",
        "--locked",
        "--bin",
        name,
        "--manifest-path",
    ])
    .arg(root.join("fixtures/net/Cargo.toml"))
    .env("CARGO_TARGET_DIR", &target_dir);
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "CARGO_MAKEFLAGS",
    ] {
        cmd.env_remove(var);
    }
    if wasm {
        cmd.args(["--target", "wasm32-wasip1"]);
    }
    let status = cmd
        .status()
        .with_context(|| format!("running cargo to build fixtures/net/{name}"))?;
    if !status.success() {
        bail!("building fixtures/net/{name} failed (is the Rust target wasm32-wasip1 installed? scripts/setup.sh adds it)");
    }
    Ok(if wasm {
        target_dir.join(format!("wasm32-wasip1/release/{name}.wasm"))
    } else {
        target_dir.join(format!("release/{name}"))
    })
}

/// A free TCP port on 127.0.0.1 (taken and released: the server binds it next).
fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Start `cmd` and wait for `listening on` on its stdout.
fn start(mut cmd: Command, what: &str) -> Result<Server> {
    cmd.stdout(Stdio::piped()).stderr(Stdio::null());
    let mut child = cmd.spawn().with_context(|| format!("starting {what}"))?;
    let out = child.stdout.take().context("no stdout")?;
    let server = Server(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if line.starts_with("listening on") {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(120))
        .with_context(|| format!("{what} did not say `listening on` within 120 s"))?;
    Ok(server)
}

/// With two CPUs or more, the load generator runs on CPU 0 and the servers on CPU 1
/// (`taskset`), so each server has a core of its own and the ratio measures what a
/// request costs the server, not how the two share the machine with `wrk`.
fn pinned() -> bool {
    std::thread::available_parallelism().is_ok_and(|n| n.get() >= 2)
        && Command::new("taskset")
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success())
}

/// `program` on CPU `cpu` when [`pinned`].
fn on_cpu(cpu: u32, program: &Path) -> Command {
    if pinned() {
        let mut c = Command::new("taskset");
        c.args(["-c", &cpu.to_string()]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

/// Run `wrk` against `url`.
fn wrk(url: &str, threads: u32, connections: u32, seconds: u32) -> Result<String> {
    let out = on_cpu(0, Path::new("wrk"))
        .args([
            "--latency",
            &format!("-t{threads}"),
            &format!("-c{connections}"),
            &format!("-d{seconds}s"),
            url,
        ])
        .output()
        .context("running wrk (Debian package `wrk`; scripts/setup.sh installs it)")?;
    if !out.status.success() {
        bail!("wrk failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A `wrk` duration (`123.45us`, `1.2ms`, `2.00s`) in milliseconds.
fn millis(s: &str) -> Option<f64> {
    let (num, scale) = if let Some(n) = s.strip_suffix("us") {
        (n, 1e-3)
    } else if let Some(n) = s.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60e3)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1e3)
    } else {
        return None;
    };
    num.parse::<f64>().ok().map(|v| v * scale)
}

/// Read `wrk --latency`'s report.
pub fn parse_wrk(side: &str, text: &str) -> Result<Load> {
    let mut load = Load {
        side: side.to_string(),
        requests_per_sec: f64::NAN,
        p50_ms: f64::NAN,
        p99_ms: f64::NAN,
        errors: 0,
        requests: 0,
        cpu_us_per_request: f64::NAN,
    };
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Requests/sec:", v] => load.requests_per_sec = v.parse().unwrap_or(f64::NAN),
            ["50%", v] => load.p50_ms = millis(v).unwrap_or(f64::NAN),
            ["99%", v] => load.p99_ms = millis(v).unwrap_or(f64::NAN),
            [n, "requests", "in", ..] => load.requests = n.parse().unwrap_or(0),
            ["Non-2xx", "or", "3xx", "responses:", n] => {
                load.errors += n.parse::<u64>().unwrap_or(0)
            }
            ["Socket", "errors:", rest @ ..] => {
                load.errors += rest
                    .chunks(2)
                    .filter_map(|c| c.get(1)?.trim_end_matches(',').parse::<u64>().ok())
                    .sum::<u64>()
            }
            _ => {}
        }
    }
    if load.requests_per_sec.is_nan() {
        bail!("no `Requests/sec:` in wrk's output:\n{text}");
    }
    Ok(load)
}

/// CPU time, in nanoseconds, that process `pid`, its threads and its descendants (the
/// executable `hako run --target linux` starts, QEMU) have spent on a CPU: the first field
/// of each thread's `schedstat`. `None` when `/proc` does not know the process or gives no
/// such figure.
fn tree_cpu_ns(pid: u32) -> Option<u64> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    let mut total = 0u64;
    for task in tasks.flatten() {
        let dir = task.path();
        // A thread that ended meanwhile (QEMU's come and go) counts for nothing.
        let stat = std::fs::read_to_string(dir.join("schedstat")).unwrap_or_default();
        total += stat
            .split_whitespace()
            .next()
            .and_then(|ns| ns.parse::<u64>().ok())
            .unwrap_or(0);
        let children = std::fs::read_to_string(dir.join("children")).unwrap_or_default();
        for child in children.split_whitespace().filter_map(|c| c.parse().ok()) {
            // A child that ended meanwhile counts for nothing.
            total += tree_cpu_ns(child).unwrap_or(0);
        }
    }
    // Nothing at all: a kernel without `schedstat`.
    (total > 0).then_some(total)
}

/// The median of `values` (NaN when there are none).
fn median(mut values: Vec<f64>) -> f64 {
    values.retain(|v| !v.is_nan());
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// Measure the three servers: all three started first, then `rounds` rounds of `wrk`
/// against each in turn (interleaved, so a change in the host's load touches every side);
/// each side's round with the median requests per second is the one reported, with the
/// median over its rounds of the server's CPU time per request.
pub fn measure(hako: &Path, seconds: u32, rounds: usize, accel: Accel) -> Result<NetReport> {
    let (threads, connections) = (if pinned() { 1 } else { 2 }, 32);
    eprintln!("bench: building the hello servers (fixtures/net)");
    let wasm = build_fixture("http_hello", true)?;
    let native = build_fixture("native_hello", false)?;
    let sides: [(&str, Option<Target>); 3] = [
        ("native", None),
        ("hako --target linux", Some(Target::Linux)),
        ("hako (unikernel)", Some(Target::Unikernel)),
    ];
    let mut servers = Vec::new();
    for (side, target) in sides {
        let port = free_port()?;
        let mut cmd;
        match target {
            None => {
                cmd = on_cpu(1, &native);
                cmd.arg(port.to_string());
            }
            Some(t) => {
                cmd = on_cpu(1, hako);
                cmd.args(["run", "--net", "-p", &format!("{port}:1234"), "--target"])
                    .arg(if t == Target::Linux {
                        "linux"
                    } else {
                        "unikernel"
                    });
                if t == Target::Unikernel {
                    cmd.args(["--accel", if accel == Accel::Kvm { "kvm" } else { "tcg" }]);
                }
                cmd.arg(&wasm).args(["--", "1234"]);
            }
        }
        eprintln!("bench: starting {side}");
        let server = start(cmd, side)?;
        let url = format!("http://127.0.0.1:{port}/");
        // A short warm-up (caches, and QEMU's translations of the guest's code).
        wrk(&url, 1, 4, 2)?;
        servers.push((side, url, server, Vec::new()));
    }
    for round in 0..rounds.max(1) {
        for (side, url, server, loads) in &mut servers {
            eprintln!(
                "bench: round {}: {side}: wrk -t{threads} -c{connections} -d{seconds}s",
                round + 1
            );
            let before = tree_cpu_ns(server.0.id());
            let mut load = parse_wrk(side, &wrk(url, threads, connections, seconds)?)?;
            if let (Some(a), Some(b)) = (before, tree_cpu_ns(server.0.id())) {
                if load.requests > 0 {
                    load.cpu_us_per_request =
                        b.saturating_sub(a) as f64 / 1e3 / load.requests as f64;
                }
            }
            eprintln!(
                "bench: {side}: {:.0} requests/s, p50 {:.3} ms, p99 {:.3} ms, server CPU {:.2} us/request",
                load.requests_per_sec, load.p50_ms, load.p99_ms, load.cpu_us_per_request
            );
            loads.push(load);
        }
    }
    let loads = servers
        .into_iter()
        .map(|(_, _, _, mut loads)| {
            let cpu = median(loads.iter().map(|l| l.cpu_us_per_request).collect());
            loads.sort_by(|a, b| a.requests_per_sec.total_cmp(&b.requests_per_sec));
            let mut load = loads.swap_remove(loads.len() / 2);
            load.cpu_us_per_request = cpu;
            load
        })
        .collect();
    Ok(NetReport {
        connections,
        threads,
        seconds,
        rounds: rounds.max(1),
        pinned: pinned(),
        accel: format!("{accel:?}"),
        loads,
    })
}

impl NetReport {
    /// The table, with each side's ratio to native.
    pub fn table(&self) -> String {
        let native = self.loads.iter().find(|l| l.side == "native");
        let native_cpu = native.map_or(f64::NAN, |l| l.cpu_us_per_request);
        let native = native.map_or(f64::NAN, |l| l.requests_per_sec);
        let mut s = format!(
            "HTTP hello server, wrk -t{} -c{} -d{}s over loopback, median of {} interleaved rounds{} (unikernel under {}):\n\n| server | requests/s | ratio to native | p50 ms | p99 ms | errors | server CPU µs/request | native CPU / this |\n|---|---|---|---|---|---|---|---|\n",
            self.threads,
            self.connections,
            self.seconds,
            self.rounds,
            if self.pinned { ", wrk on CPU 0 and the server on CPU 1" } else { "" },
            self.accel
        );
        for l in &self.loads {
            s.push_str(&format!(
                "| {} | {:.0} | {:.3} | {:.3} | {:.3} | {} | {:.2} | {:.3} |\n",
                l.side,
                l.requests_per_sec,
                l.requests_per_sec / native,
                l.p50_ms,
                l.p99_ms,
                l.errors,
                l.cpu_us_per_request,
                native_cpu / l.cpu_us_per_request
            ));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_wrk() {
        let text = "Running 5s test @ http://127.0.0.1:18090/\n  1 threads and 10 connections\n  Thread Stats   Avg      Stdev     Max   +/- Stdev\n    Latency   123.05us   47.66us   2.06ms   90.53%\n  Latency Distribution\n     50%  118.00us\n     75%  130.00us\n     90%  150.00us\n     99%    1.20ms\n  411028 requests in 5.10s, 34.49MB read\n  Socket errors: connect 0, read 2, write 0, timeout 1\n  Non-2xx or 3xx responses: 3\nRequests/sec:  80594.69\nTransfer/sec:      6.76MB\n";
        let l = parse_wrk("x", text).unwrap();
        assert_eq!(l.requests_per_sec, 80594.69);
        assert_eq!(l.requests, 411028);
        assert!((l.p50_ms - 0.118).abs() < 1e-9);
        assert!((l.p99_ms - 1.2).abs() < 1e-9);
        assert_eq!(l.errors, 6);
        assert!(parse_wrk("x", "nothing").is_err());
        assert_eq!(millis("2.00s"), Some(2000.0));
        assert!(l.cpu_us_per_request.is_nan());
    }

    #[test]
    fn medians_and_process_cpu() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, f64::NAN, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(Vec::new()).is_nan());
        // This process has run, so it has spent some CPU time; a process that does not
        // exist has none to report.
        if std::path::Path::new("/proc/self/task").exists() {
            assert!(tree_cpu_ns(std::process::id()).is_some_and(|ns| ns > 0));
        }
        assert_eq!(tree_cpu_ns(u32::MAX), None);
    }
}
