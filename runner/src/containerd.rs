//! A private containerd, for the shim's end-to-end tests and `hako bench --containerd`: its
//! own root, state and sockets in a temporary directory, no CRI plugin, and
//! `containerd-shim-hako-v1` from a given directory first on its `PATH`. Killed, and its
//! directory removed, on drop.

use anyhow::{bail, Context, Result};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// hako's runtime name in containerd.
pub const RUNTIME: &str = "io.containerd.hako.v1";
/// The snapshotter the private daemon's images and containers use: it needs no kernel
/// support (overlayfs inside a container's file system may be refused).
pub const SNAPSHOTTER: &str = "native";

pub struct Containerd {
    dir: tempfile::TempDir,
    daemon: Child,
}

impl Containerd {
    /// Start one whose shims are in `shim_dir` and whose `hako` uses the cache at `cache`;
    /// fails with the reason when containerd is missing or does not start.
    pub fn start(shim_dir: &Path, cache: &Path) -> Result<Containerd> {
        if Command::new("containerd")
            .arg("--version")
            .output()
            .is_err()
        {
            bail!("containerd is not installed: run `make setup` (scripts/setup.sh installs it)");
        }
        if !rustix::process::geteuid().is_root() {
            bail!("a private containerd needs root (it mounts the containers' file systems)");
        }
        // Short paths: a Unix socket's address holds 108 bytes.
        let dir = tempfile::Builder::new()
            .prefix("hako-ctd")
            .tempdir_in("/tmp")
            .context("creating containerd's directory")?;
        let d = dir.path();
        let config = format!(
            "version = 2\n\
             root = \"{root}\"\n\
             state = \"{state}\"\n\
             disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\
             [grpc]\n  address = \"{sock}\"\n\
             [ttrpc]\n  address = \"{sock}.ttrpc\"\n",
            root = d.join("root").display(),
            state = d.join("state").display(),
            sock = d.join("sock").display(),
        );
        std::fs::write(d.join("config.toml"), config)?;
        let path = format!(
            "{}:{}",
            shim_dir.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let log = std::fs::File::create(d.join("containerd.log"))?;
        let daemon = crate::process::spawn_tied(
            Command::new("containerd")
                .arg("--config")
                .arg(d.join("config.toml"))
                .env("PATH", path)
                .env("HAKO_CACHE_DIR", cache)
                .stdin(Stdio::null())
                .stdout(log.try_clone()?)
                .stderr(log),
        )
        .context("cannot start containerd")?;
        let ctd = Containerd { dir, daemon };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !ctd.ctr(&["version"])?.status.success() {
            if Instant::now() >= deadline {
                bail!("containerd did not start:\n{}", ctd.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(ctd)
    }

    /// Its directory: `root/`, `state/`, `sock`, `containerd.log`.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("containerd.log")).unwrap_or_default()
    }

    /// A `ctr` command against this daemon (stdin from /dev/null unless set again).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new("ctr");
        c.arg("--address")
            .arg(self.dir.path().join("sock"))
            .args(args);
        c.stdin(Stdio::null());
        c
    }

    pub fn ctr(&self, args: &[&str]) -> Result<Output> {
        self.command(args).output().context("cannot run ctr")
    }

    /// Import an image tar (`hako image`).
    pub fn import(&self, tar: &Path) -> Result<()> {
        let path = tar.to_str().context("the image's path is not UTF-8")?;
        let out = self.ctr(&[
            "images",
            "import",
            "--all-platforms",
            "--snapshotter",
            SNAPSHOTTER,
            path,
        ])?;
        if !out.status.success() {
            bail!(
                "ctr images import {path}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(())
    }

    /// `ctr run --rm` with hako's runtime: extra `ctr run` options, the image, the container
    /// id and the command.
    pub fn run(&self, options: &[&str], image: &str, id: &str, command: &[&str]) -> Command {
        let mut with_rm = vec!["--rm"];
        with_rm.extend_from_slice(options);
        self.run_kept(&with_rm, image, id, command)
    }

    /// `ctr run` with hako's runtime, without `--rm` (the container stays; `-d` among the
    /// options detaches).
    pub fn run_kept(&self, options: &[&str], image: &str, id: &str, command: &[&str]) -> Command {
        let mut args = vec!["run", "--snapshotter", SNAPSHOTTER, "--runtime", RUNTIME];
        args.extend_from_slice(options);
        args.push(image);
        args.push(id);
        args.extend_from_slice(command);
        self.command(&args)
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        // Tasks first (their shims exit once deleted), then the daemon.
        if let Ok(out) = self.ctr(&["task", "ls", "-q"]) {
            for id in String::from_utf8_lossy(&out.stdout).lines() {
                let _ = self.ctr(&["task", "kill", "-s", "SIGKILL", id]);
                let _ = self.ctr(&["task", "delete", "-f", id]);
            }
        }
        if let Some(pid) = rustix::process::Pid::from_raw(self.daemon.id() as i32) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
        let _ = self.daemon.wait();
    }
}

/// `hako bench --containerd`: the hello image (fixtures/hello.c, runwasi's layout) under a
/// private containerd: the time from `ctr run` to the first byte of output with a cold cache
/// (the module compiled at create) and a warm one, and containers per second over
/// `containers` sequential `ctr run --rm` with a warm cache.
#[derive(Debug, serde::Serialize)]
pub struct Report {
    pub cold_first_output_ms: f64,
    pub warm_first_output_ms: Vec<f64>,
    pub containers: usize,
    pub seconds: f64,
}

impl Report {
    pub fn table(&self) -> String {
        let mut warm = self.warm_first_output_ms.clone();
        warm.sort_by(f64::total_cmp);
        let median = warm.get(warm.len() / 2).copied().unwrap_or(f64::NAN);
        let p90 = warm.get(warm.len() * 9 / 10).copied().unwrap_or(f64::NAN);
        format!(
            "containerd ({RUNTIME}, `ctr run --rm` of the hello image; QEMU accelerator: {})\n\
             | measure | value |\n|---|---|\n\
             | `ctr run` to first output, cold cache (compile at create) | {:.0} ms |\n\
             | `ctr run` to first output, warm cache, median (p90) of {} | {:.0} ms ({:.0} ms) |\n\
             | containers per second, {} sequential `ctr run --rm`, warm | {:.2} /s |\n",
            crate::qemu::Accel::detect()
                .map(|a| format!("{a:?}"))
                .unwrap_or_default(),
            self.cold_first_output_ms,
            warm.len(),
            median,
            p90,
            self.containers,
            self.containers as f64 / self.seconds,
        )
    }
}

/// Run `command` and return the time until its first byte of stdout; the rest is read and
/// the exit must be 0.
fn first_output(mut command: Command) -> Result<Duration> {
    use std::io::Read;
    let start = Instant::now();
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot run ctr")?;
    let mut stdout = child.stdout.take().context("no stdout")?;
    let mut byte = [0u8; 1];
    let n = stdout.read(&mut byte)?;
    let first = start.elapsed();
    let mut rest = Vec::new();
    stdout.read_to_end(&mut rest)?;
    let out = child.wait_with_output()?;
    if n == 0 || !out.status.success() {
        bail!(
            "ctr run failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(first)
}

/// Measure (see [`Report`]). `hako` is this executable; the shim is beside it.
pub fn bench(hako: &Path, module: &Path, containers: usize) -> Result<Report> {
    let shim_dir = hako.parent().context("hako has no directory")?;
    if !shim_dir.join("containerd-shim-hako-v1").is_file() {
        bail!(
            "no containerd-shim-hako-v1 beside {}: build it (cargo build --release -p hako-runner)",
            hako.display()
        );
    }
    let scratch = tempfile::tempdir()?;
    let cache = scratch.path().join("cache");
    let tar = scratch.path().join("hello.tar");
    let wasm =
        std::fs::read(module).with_context(|| format!("cannot read {}", module.display()))?;
    let mut bytes = Vec::new();
    crate::oci::build(
        &wasm,
        "hello.wasm",
        "hako-bench/hello:1",
        crate::oci::Layout::Wasm,
        &mut bytes,
    )?;
    std::fs::write(&tar, bytes)?;
    let ctd = Containerd::start(shim_dir, &cache)?;
    ctd.import(&tar)?;
    let image = "docker.io/hako-bench/hello:1";
    let cold = first_output(ctd.run(&[], image, "cold", &[]))?;
    let mut warm = Vec::new();
    let start = Instant::now();
    for i in 0..containers {
        warm.push(first_output(ctd.run(
            &[],
            image,
            &format!("warm-{i}"),
            &[],
        ))?);
    }
    let seconds = start.elapsed().as_secs_f64();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    Ok(Report {
        cold_first_output_ms: ms(cold),
        warm_first_output_ms: warm.into_iter().map(ms).collect(),
        containers,
        seconds,
    })
}
