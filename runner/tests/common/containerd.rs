//! A private containerd for the shim's end-to-end tests: its own root, state and sockets in a
//! temporary directory, the `native` snapshotter, no CRI plugin, and `containerd-shim-hako-v1`
//! (this build's) first on its `PATH`. Stopped, and its directory removed, on drop.

use super::{hako, tmp};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const RUNTIME: &str = "io.containerd.hako.v1";

pub struct Containerd {
    dir: tempfile::TempDir,
    daemon: Child,
}

impl Containerd {
    /// Start one; fails with the reason when containerd is missing or cannot start.
    pub fn start() -> Containerd {
        Self::start_with_cache(&tmp().join("cache"))
    }

    /// Start one whose shims' `hako` uses the cache at `cache`.
    pub fn start_with_cache(cache: &Path) -> Containerd {
        assert!(
            Command::new("containerd").arg("--version").output().is_ok(),
            "containerd is not installed: run `make setup` (scripts/setup.sh installs it)"
        );
        assert!(
            rustix::process::geteuid().is_root(),
            "the containerd tests need root (containerd mounts the containers' file systems)"
        );
        // Short paths: Unix socket addresses hold 108 bytes.
        let dir = tempfile::Builder::new()
            .prefix("hako-ctd")
            .tempdir_in("/tmp")
            .unwrap();
        let d = dir.path();
        let config = format!(
            "version = 2\n\
             root = \"{root}\"\n\
             state = \"{state}\"\n\
             disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\
             [grpc]\n  address = \"{sock}\"\n\
             [ttrpc]\n  address = \"{sock}.ttrpc\"\n\
             [debug]\n  address = \"\"\n",
            root = d.join("root").display(),
            state = d.join("state").display(),
            sock = d.join("sock").display(),
        );
        std::fs::write(d.join("config.toml"), config).unwrap();
        let shim_dir = Path::new(env!("CARGO_BIN_EXE_containerd-shim-hako-v1"))
            .parent()
            .unwrap()
            .to_path_buf();
        let path = format!(
            "{}:{}",
            shim_dir.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let log = std::fs::File::create(d.join("containerd.log")).unwrap();
        let daemon = Command::new("containerd")
            .arg("--config")
            .arg(d.join("config.toml"))
            .env("PATH", path)
            .env("HAKO_CACHE_DIR", cache)
            .env_remove("HAKO_ACCEL")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("cannot start containerd");
        let ctd = Containerd { dir, daemon };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if ctd.ctr(&["version"]).status.success() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "containerd did not start: {}",
                ctd.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        ctd
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("containerd.log")).unwrap_or_default()
    }

    /// A `ctr` command against this daemon.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new("ctr");
        c.arg("--address")
            .arg(self.dir.path().join("sock"))
            .args(args);
        c.stdin(Stdio::null());
        c
    }

    pub fn ctr(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("cannot run ctr")
    }

    /// Import an image tar made by `hako image`.
    pub fn import(&self, tar: &Path) {
        let out = self.ctr(&[
            "images",
            "import",
            "--all-platforms",
            "--snapshotter",
            "native",
            tar.to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "ctr images import: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `ctr run --rm` with hako's runtime: extra `ctr run` options, the image, the container
    /// id and the command.
    pub fn run(&self, options: &[&str], image: &str, id: &str, command: &[&str]) -> Command {
        let mut args = vec![
            "run",
            "--rm",
            "--snapshotter",
            "native",
            "--runtime",
            RUNTIME,
        ];
        args.extend_from_slice(options);
        args.push(image);
        args.push(id);
        args.extend_from_slice(command);
        self.command(&args)
    }

    /// The pids of task `id` (`ctr task ps`).
    pub fn task_pids(&self, id: &str) -> Vec<u32> {
        let out = self.ctr(&["task", "ps", id]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .skip(1)
            .filter_map(|l| l.split_whitespace().next()?.parse().ok())
            .collect()
    }

    /// Wait until `ctr task ls` shows task `id` running.
    pub fn wait_running(&self, id: &str) {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let out = String::from_utf8_lossy(&self.ctr(&["task", "ls"]).stdout).into_owned();
            if out
                .lines()
                .any(|l| l.starts_with(id) && l.contains("RUNNING"))
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "task {id} never ran: {out}\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The shim process serving container `id`.
    pub fn shim_pid(&self, id: &str) -> Option<u32> {
        processes().into_iter().find_map(|(pid, cmd)| {
            (cmd.contains("containerd-shim-hako-v1") && cmd.contains(&format!("-id {id} ")))
                .then_some(pid)
        })
    }
}

/// Every process: pid and command line (arguments joined by spaces, with a trailing space).
pub fn processes() -> Vec<(u32, String)> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let cmd = std::fs::read(e.path().join("cmdline")).ok()?;
            let cmd: String = String::from_utf8_lossy(&cmd).replace('\0', " ");
            Some((pid, cmd))
        })
        .collect()
}

pub fn alive(pid: u32) -> bool {
    // A zombie is dead for our purposes.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            !s.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
        .unwrap_or(false)
}

/// Wait up to `timeout` for every pid in `pids` to be gone.
pub fn wait_gone(pids: &[u32], timeout: Duration) -> Vec<u32> {
    let deadline = Instant::now() + timeout;
    loop {
        let left: Vec<u32> = pids.iter().copied().filter(|&p| alive(p)).collect();
        if left.is_empty() || Instant::now() >= deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `hako image` of `module` into the test's temporary directory.
pub fn image(module: &Path, name: &str, layout: &str) -> PathBuf {
    let file: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let out = tmp().join(format!("image-{file}-{layout}.tar"));
    let result = hako()
        .args(["image", "--layout", layout, "--name", name, "-o"])
        .arg(&out)
        .arg(module)
        .output()
        .expect("cannot run hako");
    assert!(
        result.status.success(),
        "hako image: {}",
        String::from_utf8_lossy(&result.stderr)
    );
    out
}

impl Drop for Containerd {
    fn drop(&mut self) {
        // Tasks first (their shims exit after delete), then the daemon.
        let tasks = String::from_utf8_lossy(&self.ctr(&["task", "ls", "-q"]).stdout).into_owned();
        for id in tasks.lines() {
            let _ = self.ctr(&["task", "kill", "-s", "SIGKILL", id]);
            let _ = self.ctr(&["task", "delete", "-f", id]);
        }
        let _ = rustix::process::kill_process(
            rustix::process::Pid::from_raw(self.daemon.id() as i32).unwrap(),
            rustix::process::Signal::TERM,
        );
        let _ = self.daemon.wait();
    }
}
