//! Booting an image in QEMU and reading what happened.
//!
//! The guest's three channels (stdout on COM1, stderr on COM2, harness records on COM3, see
//! `hako_abi::boot`) reach us through Unix sockets in Linux's abstract namespace (so nothing
//! is left on disk whatever ends `hako`) that QEMU connects to as a client, one per
//! channel, so the streams never mix with each other or with QEMU's own messages. The verdict
//! comes from QEMU's exit status and the harness records, never from grepping the output:
//!
//! | QEMU status | meaning |
//! |---|---|
//! | `qemu_status(EXIT_DONE)` | finished: the last `exit` or `trap` record is the outcome |
//! | `qemu_status(EXIT_PANIC)` | the kernel panicked or took an unexpected exception |
//! | 0 | the guest reset (with `-no-reboot`, a triple fault ends QEMU this way) |
//! | killed by us | timeout |
//!
//! The QEMU process is killed when the [`Child`] guard drops, so an error or a panic in the
//! runner never leaves a VM behind; a signal or `kill -9` that ends `hako` ends its VMs too
//! (see [`crate::process`]).

use anyhow::{anyhow, bail, Context, Result};
use hako_abi::boot;
use hako_abi::trap::TrapCode;
use std::io::{Read, Write};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How the virtual CPU runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accel {
    /// Hardware virtualisation through `/dev/kvm` (`-cpu host`, less the `arch-capabilities`
    /// MSR, which some hosts refuse to set and QEMU then aborts).
    Kvm,
    /// QEMU's software emulation (`-cpu max`).
    Tcg,
}

impl Accel {
    /// KVM when it is usable (see [`Accel::kvm_usable`]), TCG otherwise. `HAKO_ACCEL=kvm|tcg`
    /// overrides.
    pub fn detect() -> Result<Accel> {
        match std::env::var("HAKO_ACCEL").ok().as_deref() {
            Some("kvm") => return Ok(Accel::Kvm),
            Some("tcg") => return Ok(Accel::Tcg),
            Some("") | None => {}
            Some(other) => bail!("HAKO_ACCEL must be `kvm` or `tcg`, not `{other}`"),
        }
        Ok(if Accel::kvm_usable() {
            Accel::Kvm
        } else {
            Accel::Tcg
        })
    }

    /// Whether `/dev/kvm` opens read-write and is hardware KVM.
    ///
    /// Some nested hosts provide `/dev/kvm` through `kvm-pvm` (pagetable-based virtual
    /// machines) instead of hardware virtualisation. It boots our kernel and runs small
    /// programs, but only in PVM's emulated "non-PVM mode", which our guest never leaves:
    /// KVM's instruction emulator runs every instruction, far slower than TCG (a loop that TCG
    /// runs in 0.4 s had not finished after 20 s; see CONTRIBUTING.md, "Benchmarks", for what
    /// was checked). So it does not count as usable; `--accel kvm` still selects it.
    pub fn kvm_usable() -> bool {
        let opens = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/kvm")
            .is_ok();
        opens && !Path::new("/sys/module/kvm_pvm").exists()
    }
}

/// Where a guest stream goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sink {
    /// Copied to our own stdout/stderr as it arrives.
    Forward,
    /// Collected into [`Run::stdout`] / [`Run::stderr`].
    Capture,
    /// Both.
    ForwardAndCapture,
}

/// Everything a boot needs besides the image.
#[derive(Debug, Clone)]
pub struct BootConfig {
    pub accel: Accel,
    /// Guest RAM in MiB.
    pub memory_mib: u32,
    pub timeout: Duration,
    /// `argv`, including `argv[0]`.
    pub args: Vec<String>,
    /// `NAME=VALUE` entries.
    pub env: Vec<String>,
    /// Host directories preopened for the program, in order (fd 3, 4, ...).
    pub preopens: Vec<Preopen>,
    /// Further kernel command-line tokens (e.g. a spec script's resume point).
    pub extra_cmdline: Vec<String>,
    /// The program's stdin, sent on COM1 after the `hako.stdin=<length>` token
    /// ([`boot::STDIN_KEY`]); `None`: stdin is empty.
    pub stdin: Option<Vec<u8>>,
    /// The mask for modes of files the program creates ([`boot::UMASK_KEY`]); `None`: the
    /// kernel's default, [`boot::DEFAULT_UMASK`].
    pub umask: Option<u32>,
    pub stdout: Sink,
    pub stderr: Sink,
}

impl BootConfig {
    /// Defaults for running `args[0]`: detected accelerator, 512 MiB, 5 minutes, streams
    /// forwarded, our own umask.
    pub fn new(args: Vec<String>) -> Result<BootConfig> {
        Ok(BootConfig {
            accel: Accel::detect()?,
            memory_mib: 512,
            timeout: Duration::from_secs(300),
            args,
            env: Vec::new(),
            preopens: Vec::new(),
            extra_cmdline: Vec::new(),
            stdin: None,
            umask: crate::process::umask(),
            stdout: Sink::Forward,
            stderr: Sink::Forward,
        })
    }
}

/// A host directory the guest sees as a preopened directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preopen {
    pub host: PathBuf,
    /// The name the guest sees (`fd_prestat_dir_name`), e.g. `/` or `.`.
    pub guest: String,
}

impl Preopen {
    /// Parse Wasmtime's `--dir` syntax: `HOST[::GUEST]`, the guest name defaulting to `HOST`.
    pub fn parse(spec: &str) -> Result<Preopen> {
        let (host, guest) = spec.split_once("::").unwrap_or((spec, spec));
        if host.is_empty() || guest.is_empty() {
            bail!("--dir {spec}: expected HOST[::GUEST] with neither part empty");
        }
        let path = PathBuf::from(host);
        if !path.is_dir() {
            bail!("--dir {spec}: {host} is not a directory");
        }
        Ok(Preopen {
            host: path,
            guest: guest.to_string(),
        })
    }
}

/// How a guest ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The program exited with this WASI status (`proc_exit`, or 0 when `_start` returned).
    Exited(u32),
    /// The program trapped.
    Trapped {
        code: Option<TrapCode>,
        message: String,
    },
    /// The kernel could not instantiate or start the program.
    StartFailed(String),
    /// The kernel panicked or took an unexpected CPU exception.
    KernelPanic(String),
    /// The guest ended without an outcome: reset, triple fault, or an unexpected QEMU status.
    Crashed(String),
    /// Killed after this long.
    TimedOut(Duration),
}

impl Outcome {
    /// The exit status `hako run` reports for this outcome.
    pub fn exit_status(&self) -> i32 {
        match self {
            // Like a Unix process: only the low 8 bits of the status survive.
            Outcome::Exited(code) => (*code & 0xff) as i32,
            Outcome::Trapped { .. } => crate::TRAP_EXIT_STATUS,
            Outcome::TimedOut(_) => crate::TIMEOUT_EXIT_STATUS,
            Outcome::StartFailed(_) | Outcome::KernelPanic(_) | Outcome::Crashed(_) => {
                crate::CRASH_EXIT_STATUS
            }
        }
    }

    /// A one-line description for an error message, or `None` for a normal exit.
    pub fn describe(&self) -> Option<String> {
        match self {
            Outcome::Exited(_) => None,
            Outcome::Trapped { message, .. } => Some(format!("wasm trap: {message}")),
            Outcome::StartFailed(msg) => {
                Some(format!("the kernel could not start the program: {msg}"))
            }
            Outcome::KernelPanic(msg) => Some(format!("kernel panic: {msg}")),
            Outcome::Crashed(msg) => Some(format!("guest crashed: {msg}")),
            Outcome::TimedOut(d) => Some(format!(
                "guest timed out after {:.1} s and was killed",
                d.as_secs_f64()
            )),
        }
    }
}

/// One harness record: a keyword and the rest of the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub kind: String,
    pub rest: String,
}

/// The result of one boot.
#[derive(Debug, Clone)]
pub struct Run {
    pub outcome: Outcome,
    /// The guest's stdout, when captured.
    pub stdout: Vec<u8>,
    /// The guest's stderr, when captured.
    pub stderr: Vec<u8>,
    /// Every harness record, in order.
    pub records: Vec<Record>,
    /// Wall time from spawning QEMU to its exit.
    pub wall_time: Duration,
}

impl Run {
    /// The harness channel's lines, in order, without their newlines.
    pub fn harness_lines(&self) -> Vec<String> {
        self.records
            .iter()
            .map(|r| {
                if r.rest.is_empty() {
                    r.kind.clone()
                } else {
                    format!("{} {}", r.kind, r.rest)
                }
            })
            .collect()
    }

    /// Imports the program called that the kernel does not implement (`enosys` records).
    pub fn unsupported_calls(&self) -> impl Iterator<Item = &str> {
        self.records
            .iter()
            .filter(|r| r.kind == boot::record::ENOSYS)
            .map(|r| r.rest.as_str())
    }
}

/// The kernel command line carrying `args` and `env`.
pub fn kernel_command_line(args: &[String], env: &[String]) -> String {
    let mut line = String::new();
    for (key, values) in [(boot::ARG_KEY, args), (boot::ENV_KEY, env)] {
        for value in values {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(key);
            boot::percent_encode(value.as_bytes(), &mut line)
                .expect("writing to a String cannot fail");
        }
    }
    line
}

/// The QEMU arguments that boot `image` with the three channels on these sockets.
/// `sockets` are names in Linux's abstract socket namespace (nothing on disk to clean up).
pub fn qemu_args(image: &Path, config: &BootConfig, sockets: &[String; 3]) -> Vec<String> {
    let mut args: Vec<String> = vec![
        "-M".into(),
        "microvm,x-option-roms=off,isa-serial=off,rtc=on".into(),
    ];
    match config.accel {
        Accel::Kvm => args.extend([
            "-accel".into(),
            "kvm".into(),
            "-cpu".into(),
            "host,-arch-capabilities".into(),
        ]),
        Accel::Tcg => args.extend(["-accel".into(), "tcg".into(), "-cpu".into(), "max".into()]),
    }
    args.extend(
        [
            "-m",
            &format!("{}M", config.memory_mib),
            "-smp",
            "1",
            "-nodefaults",
            "-no-user-config",
            "-display",
            "none",
            "-no-reboot",
        ]
        .map(String::from),
    );
    let ports = [
        (boot::STDOUT_PORT, 4),
        (boot::STDERR_PORT, 3),
        (boot::HARNESS_PORT, 6),
    ];
    for (i, ((port, irq), socket)) in ports.iter().zip(sockets).enumerate() {
        args.push("-chardev".into());
        args.push(format!("socket,id=ch{i},path={socket},abstract=on"));
        args.push("-device".into());
        args.push(format!(
            "isa-serial,chardev=ch{i},iobase={port:#x},irq={irq}"
        ));
    }
    args.push("-device".into());
    args.push(format!(
        "isa-debug-exit,iobase={:#x},iosize=4",
        boot::DEBUG_EXIT_PORT
    ));
    args.push("-kernel".into());
    args.push(image.display().to_string());
    for (i, preopen) in config.preopens.iter().enumerate() {
        // QEMU option values double their commas.
        let host = preopen.host.display().to_string().replace(',', ",,");
        args.push("-fsdev".into());
        args.push(format!("local,id=fs{i},path={host},security_model=none"));
        args.push("-device".into());
        args.push(format!(
            "virtio-9p-device,fsdev=fs{i},mount_tag={}",
            boot::preopen_mount_tag(i)
        ));
    }
    args.push("-append".into());
    let mut tokens = vec![kernel_command_line(&config.args, &config.env)];
    for (i, preopen) in config.preopens.iter().enumerate() {
        let mut token = format!("{}{}:", boot::PREOPEN_KEY, boot::preopen_mount_tag(i));
        boot::percent_encode(preopen.guest.as_bytes(), &mut token)
            .expect("writing to a String cannot fail");
        tokens.push(token);
    }
    if let Some(input) = &config.stdin {
        tokens.push(format!("{}{}", boot::STDIN_KEY, input.len()));
    }
    if let Some(umask) = config.umask {
        tokens.push(format!("{}{umask:o}", boot::UMASK_KEY));
    }
    tokens.extend(config.extra_cmdline.iter().cloned());
    tokens.retain(|t| !t.is_empty());
    args.push(tokens.join(" "));
    args
}

/// A running QEMU: killed when dropped unless it has already been waited for, and listed in
/// [`crate::process`] meanwhile, so that a signal that ends `hako` ends it too.
struct Child(std::process::Child);

impl Child {
    fn spawn(command: &mut Command) -> std::io::Result<Child> {
        let child = crate::process::spawn_tied(command)?;
        crate::process::register(child.id());
        Ok(Child(child))
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
        crate::process::unregister(self.0.id());
    }
}

/// A channel's reader: accepts QEMU's connection and copies everything to its sink.
struct Channel {
    address: SocketAddr,
    connected: Arc<Mutex<bool>>,
    thread: JoinHandle<std::io::Result<Vec<u8>>>,
}

impl Channel {
    fn open(
        name: &str,
        forward: Option<fn() -> Box<dyn Write>>,
        capture: bool,
        input: Option<(Vec<u8>, std::sync::mpsc::Receiver<()>)>,
        on_stdin_record: Option<std::sync::mpsc::Sender<()>>,
    ) -> Result<Channel> {
        let address = SocketAddr::from_abstract_name(name.as_bytes())
            .with_context(|| format!("bad socket name {name}"))?;
        let listener = UnixListener::bind_addr(&address)
            .with_context(|| format!("cannot listen on the abstract socket @{name}"))?;
        let connected = Arc::new(Mutex::new(false));
        let flag = connected.clone();
        let thread = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept()?;
            if let Some((input, go)) = input.filter(|i| !i.0.is_empty()) {
                // Sent once the kernel asks (its `stdin` record), from a thread of its own so
                // that output keeps flowing meanwhile.
                let mut w = stream.try_clone()?;
                std::thread::spawn(move || {
                    if go.recv().is_ok() {
                        let _ = w.write_all(&input);
                    }
                });
            }
            let mut stdin_asked = false;
            *flag.lock().unwrap() = true;
            let mut captured = Vec::new();
            let mut out = forward.map(|f| f());
            let mut buf = [0u8; 8192];
            loop {
                let n = match stream.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                };
                if let Some(out) = out.as_mut() {
                    // The user's terminal going away must not stop us from reaping the guest.
                    let _ = out.write_all(&buf[..n]).and_then(|_| out.flush());
                }
                if capture {
                    captured.extend_from_slice(&buf[..n]);
                }
                if let Some(tx) = on_stdin_record.as_ref().filter(|_| !stdin_asked) {
                    let record = format!("{}\n", boot::record::STDIN);
                    if captured.starts_with(record.as_bytes())
                        || captured
                            .windows(record.len() + 1)
                            .any(|w| w[0] == b'\n' && &w[1..] == record.as_bytes())
                    {
                        stdin_asked = true;
                        let _ = tx.send(());
                    }
                }
            }
            Ok(captured)
        });
        Ok(Channel {
            address,
            connected,
            thread,
        })
    }

    /// Wait for the reader to finish; if QEMU never connected, unblock its `accept`.
    fn finish(self) -> Result<Vec<u8>> {
        if !*self.connected.lock().unwrap() {
            let _ = UnixStream::connect_addr(&self.address);
        }
        self.thread
            .join()
            .map_err(|_| anyhow!("a channel reader panicked"))?
            .context("reading a guest channel")
    }
}

fn sink_parts(
    sink: Sink,
    forward: fn() -> Box<dyn Write>,
) -> (Option<fn() -> Box<dyn Write>>, bool) {
    match sink {
        Sink::Forward => (Some(forward), false),
        Sink::Capture => (None, true),
        Sink::ForwardAndCapture => (Some(forward), true),
    }
}

/// Boot `image` and wait for it to finish (or kill it at the timeout).
pub fn boot(image: &Path, config: &BootConfig) -> Result<Run> {
    let qemu = crate::tools::QEMU.find()?;
    let prefix = socket_prefix();
    let sockets = ["stdout", "stderr", "harness"].map(|c| format!("{prefix}-{c}"));
    let (out_fwd, out_cap) = sink_parts(config.stdout, || Box::new(std::io::stdout()));
    let (err_fwd, err_cap) = sink_parts(config.stderr, || Box::new(std::io::stderr()));
    let (go_tx, go_rx) = std::sync::mpsc::channel();
    let input = config.stdin.clone().map(|i| (i, go_rx));
    let stdout = Channel::open(&sockets[0], out_fwd, out_cap, input, None)?;
    let stderr = Channel::open(&sockets[1], err_fwd, err_cap, None, None)?;
    let harness = Channel::open(&sockets[2], None, true, None, Some(go_tx))?;

    let start = Instant::now();
    let mut child = Child::spawn(
        Command::new(&qemu)
            .args(qemu_args(image, config, &sockets))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped()),
    )
    .with_context(|| format!("cannot start {}", qemu.display()))?;
    let mut qemu_stderr = child.0.stderr.take().expect("stderr is piped");
    // QEMU's stderr reaches end-of-file when QEMU exits: the reader's message is the exit
    // notice `wait` blocks on, so the wall time ends with QEMU, not with a polling step.
    let (eof_tx, eof_rx) = std::sync::mpsc::channel();
    let qemu_messages = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = qemu_stderr.read_to_string(&mut text);
        let _ = eof_tx.send(());
        text
    });

    let status = wait(&mut child, &eof_rx, config.timeout)?;
    let wall_time = start.elapsed();
    let stdout = stdout.finish()?;
    let stderr = stderr.finish()?;
    let harness = harness.finish()?;
    let qemu_messages = qemu_messages.join().unwrap_or_default();

    let records = parse_records(&harness);
    let outcome = match status {
        None => Outcome::TimedOut(config.timeout),
        Some(status) => classify(status, &records, &qemu_messages)?,
    };
    Ok(Run {
        outcome,
        stdout,
        stderr,
        records,
        wall_time,
    })
}

/// Wait for QEMU to exit or kill it at the timeout; `None` means timed out.
///
/// Blocks until QEMU's stderr closes (`stderr_eof`), which it does when it exits, then reaps
/// it; should QEMU close stderr and live on, polls for the exit until the deadline.
fn wait(
    child: &mut Child,
    stderr_eof: &std::sync::mpsc::Receiver<()>,
    timeout: Duration,
) -> Result<Option<ExitStatus>> {
    // A limit beyond what the clock can represent is no limit.
    let deadline = crate::limits::deadline(timeout);
    // `Disconnected` (the reader panicked) is treated like end-of-file: fall back to polling.
    let _ = stderr_eof.recv_timeout(timeout);
    let mut pause = Duration::from_micros(50);
    loop {
        if let Some(status) = child.0.try_wait().context("waiting for QEMU")? {
            return Ok(Some(status));
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            let _ = child.0.kill();
            let _ = child.0.wait();
            return Ok(None);
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(5));
    }
}

fn parse_records(harness: &[u8]) -> Vec<Record> {
    String::from_utf8_lossy(harness)
        .lines()
        .filter(|l| !l.is_empty())
        .map(|line| {
            let (kind, rest) = line.split_once(' ').unwrap_or((line, ""));
            Record {
                kind: kind.to_string(),
                rest: rest.to_string(),
            }
        })
        .collect()
}

fn classify(status: ExitStatus, records: &[Record], qemu_messages: &str) -> Result<Outcome> {
    use hako_abi::boot::record;
    let last = |kinds: &[&str]| {
        records
            .iter()
            .rev()
            .find(|r| kinds.contains(&r.kind.as_str()))
    };
    let code = status.code();
    if code == Some(boot::qemu_status(boot::EXIT_DONE)) {
        return Ok(match last(&[record::EXIT, record::TRAP, record::ERROR]) {
            Some(r) if r.kind == record::EXIT => match r.rest.trim().parse() {
                Ok(code) => Outcome::Exited(code),
                Err(_) => Outcome::Crashed(format!("malformed exit record `{}`", r.rest)),
            },
            Some(r) if r.kind == record::TRAP => {
                let (num, message) = r.rest.split_once(' ').unwrap_or((&r.rest, ""));
                let code = num.parse().ok().and_then(TrapCode::from_u32);
                let message = code.map_or(message.to_string(), |c| c.message().to_string());
                Outcome::Trapped { code, message }
            }
            Some(r) => Outcome::StartFailed(r.rest.clone()),
            None => Outcome::Crashed("the kernel finished without reporting an outcome".into()),
        });
    }
    if code == Some(boot::qemu_status(boot::EXIT_PANIC)) {
        let message = last(&[record::PANIC]).map_or("(no message)".to_string(), |r| r.rest.clone());
        return Ok(Outcome::KernelPanic(message));
    }
    let qemu_messages = qemu_messages.trim();
    match code {
        Some(0) => Ok(Outcome::Crashed("the guest reset (a triple fault?)".into())),
        // QEMU refuses to start with status 1 and a message: that is our error, not the guest's.
        Some(1) if !qemu_messages.is_empty() && records.is_empty() => {
            bail!("QEMU failed: {qemu_messages}")
        }
        Some(c) => Ok(Outcome::Crashed(format!(
            "QEMU exited with status {c}: {qemu_messages}"
        ))),
        None => Ok(Outcome::Crashed(format!(
            "QEMU was killed by a signal: {qemu_messages}"
        ))),
    }
}

/// A prefix for this boot's socket names, unique among live processes: `hako-PID-N`.
fn socket_prefix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    format!(
        "hako-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_round_trips() {
        let line = kernel_command_line(&["a b".into(), "%=".into()], &["K=V W".into()]);
        assert_eq!(line, "hako.arg=a%20b hako.arg=%25%3D hako.env=K%3DV%20W");
    }

    #[test]
    fn records_parse() {
        let r = parse_records(b"enosys wasi_snapshot_preview1 fd_pread\nexit 3\n");
        assert_eq!(
            r[1],
            Record {
                kind: "exit".into(),
                rest: "3".into()
            }
        );
    }

    #[cfg(unix)]
    fn status(code: i32) -> ExitStatus {
        use std::os::unix::process::ExitStatusExt;
        ExitStatus::from_raw(code << 8)
    }

    #[test]
    fn classification() {
        let done = boot::qemu_status(boot::EXIT_DONE);
        let exit = parse_records(b"exit 7\n");
        assert_eq!(
            classify(status(done), &exit, "").unwrap(),
            Outcome::Exited(7)
        );
        let trap = parse_records(b"trap 1 integer divide by zero\n");
        assert_eq!(
            classify(status(done), &trap, "").unwrap(),
            Outcome::Trapped {
                code: Some(TrapCode::IntegerDivideByZero),
                message: "integer divide by zero".into()
            }
        );
        assert!(matches!(
            classify(status(done), &[], "").unwrap(),
            Outcome::Crashed(_)
        ));
        let panic = parse_records(b"panic page fault at 0x10\n");
        assert_eq!(
            classify(status(boot::qemu_status(boot::EXIT_PANIC)), &panic, "").unwrap(),
            Outcome::KernelPanic("page fault at 0x10".into())
        );
        assert!(matches!(
            classify(status(0), &[], "").unwrap(),
            Outcome::Crashed(_)
        ));
        assert!(classify(status(1), &[], "qemu: bad option").is_err());
    }
}
