//! The shim's end-to-end tests' containerd (`hako_runner::containerd`, with this build's
//! shim), and what the tests ask of processes.

use super::{hako, tmp};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// `hako_runner::containerd::Containerd` with the shim of this build, and panics for errors.
pub struct Containerd(hako_runner::containerd::Containerd);

impl Containerd {
    pub fn start() -> Containerd {
        Self::start_with_cache(&tmp().join("cache"))
    }

    /// One whose shims' `hako` uses the cache at `cache`.
    pub fn start_with_cache(cache: &Path) -> Containerd {
        let shim = Path::new(env!("CARGO_BIN_EXE_containerd-shim-hako-v1"));
        Containerd(
            hako_runner::containerd::Containerd::start(shim.parent().unwrap(), cache)
                .unwrap_or_else(|e| panic!("{e:#}")),
        )
    }

    pub fn dir(&self) -> &Path {
        self.0.dir()
    }

    pub fn log(&self) -> String {
        self.0.log()
    }

    pub fn ctr(&self, args: &[&str]) -> Output {
        self.0.ctr(args).unwrap()
    }

    pub fn import(&self, tar: &Path) {
        self.0.import(tar).unwrap_or_else(|e| panic!("{e:#}"))
    }

    pub fn run(&self, options: &[&str], image: &str, id: &str, command: &[&str]) -> Command {
        self.0.run(options, image, id, command)
    }

    /// `ctr run` without `--rm`, run to its end.
    pub fn run_kept(&self, options: &[&str], image: &str, id: &str, command: &[&str]) -> Output {
        self.0
            .run_kept(options, image, id, command)
            .output()
            .expect("cannot run ctr")
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

    /// Wait up to 10 s for the shim of container `id` to exit (after its task was deleted).
    pub fn wait_shim_gone(&self, id: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.shim_pid(id).is_some() {
            assert!(Instant::now() < deadline, "the shim of {id} stayed");
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
