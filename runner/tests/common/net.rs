//! Helpers of the networking tests (`runner/tests/net.rs`): building the Rust guest programs
//! of `fixtures/net/` for wasm32-wasip1, free host ports, a `hako run --net` guest running in
//! the background whose output is read line by line, and a small HTTP/1.1 client on
//! `std::net`.

use super::{hako, root, tmp};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a guest may take to print that it listens: compiling the program (cached after
/// the first test that runs it) and booting it, under QEMU TCG on a loaded 2-core host.
pub const READY: Duration = Duration::from_secs(120);

/// How long a guest that was told to stop (after N connections) may take to exit.
pub const EXIT: Duration = Duration::from_secs(60);

/// The `.wasm` of the program `name` of `fixtures/net/` (a binary of that cargo workspace),
/// built with `cargo build --release --target wasm32-wasip1 --locked` into
/// `target/tmp/net-fixtures` once per test binary (cargo rebuilds what changed). Parallel
/// tests wait for each other; cargo's own lock orders test binaries that build at once.
pub fn net_fixture(name: &str) -> PathBuf {
    static BUILT: Mutex<Option<HashMap<String, PathBuf>>> = Mutex::new(None);
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    let built = built.get_or_insert_with(HashMap::new);
    if let Some(path) = built.get(name) {
        return path.clone();
    }
    let workspace = root().join("fixtures").join("net");
    let target_dir = tmp().join("net-fixtures");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(&cargo);
    cmd.current_dir(&workspace)
        .args([
            "build",
            "--release",
            "--locked",
            "--target",
            "wasm32-wasip1",
        ])
        .args(["--bin", name, "--manifest-path"])
        .arg(workspace.join("Cargo.toml"))
        .stdin(Stdio::null());
    // As runner/build.rs does for its nested builds: none of the settings meant for the
    // host build of the tests (flags, target, jobserver) reach the guest's; where crates
    // come from (CARGO_HOME, CARGO_NET_*, CARGO_HTTP_*, CARGO_REGISTRIES_*) does.
    for (key, _) in std::env::vars() {
        let keep = ["CARGO_HOME", "CARGO_NET_", "CARGO_HTTP_", "CARGO_REGISTR"]
            .iter()
            .any(|k| key.starts_with(k));
        if key.starts_with("CARGO_") && !keep
            || key.starts_with("RUSTFLAGS")
            || key.contains("MAKEFLAGS")
        {
            cmd.env_remove(&key);
        }
    }
    cmd.env("CARGO_TARGET_DIR", &target_dir);
    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cargo}: {e}"));
    assert!(
        output.status.success(),
        "building fixtures/net/{name} failed (is the Rust target wasm32-wasip1 installed? \
         `make setup` adds it):\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let wasm = target_dir
        .join("wasm32-wasip1")
        .join("release")
        .join(format!("{name}.wasm"));
    assert!(wasm.exists(), "cargo built no {}", wasm.display());
    built.insert(name.to_string(), wasm.clone());
    wasm
}

/// Where a networking test runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// In the unikernel: QEMU user networking, the guest is 10.0.2.15.
    Unikernel,
    /// `--target linux`: the host's own network.
    Linux,
}

impl Target {
    /// The `hako run` options that choose this target.
    pub fn args(self) -> &'static [&'static str] {
        match self {
            Target::Unikernel => &[],
            Target::Linux => &["--target", "linux"],
        }
    }

    /// The address at which the guest reaches a server listening on the host's loopback.
    pub fn host_from_guest(self) -> &'static str {
        match self {
            Target::Unikernel => "10.0.2.2",
            Target::Linux => "127.0.0.1",
        }
    }
}

/// A TCP port that was free on the host a moment ago (bound on port 0 and closed).
pub fn free_tcp_port() -> u16 {
    TcpListener::bind("0.0.0.0:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A UDP port that was free on the host a moment ago.
pub fn free_udp_port() -> u16 {
    UdpSocket::bind("0.0.0.0:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Whether nothing holds TCP `port` on the host (it can be bound on all addresses).
pub fn tcp_port_is_free(port: u16) -> bool {
    TcpListener::bind(("0.0.0.0", port)).is_ok()
}

/// The command lines of the QEMU processes that forward host port `port` (a `hostfwd=`
/// argument with `:PORT-` in it), to show that none outlives its `hako`.
pub fn qemu_forwarding(port: u16) -> Vec<String> {
    let needle = format!(":{port}-");
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<String> = cmdline
            .split(|&b| b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let is_qemu = args.first().is_some_and(|a| a.contains("qemu"));
        if is_qemu
            && args
                .iter()
                .any(|a| a.contains("hostfwd") && a.contains(&needle))
        {
            found.push(args.join(" "));
        }
    }
    found
}

/// Waits until host port `port` is free again and no QEMU forwards it; panics after 10 s.
pub fn assert_port_released(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let qemus = qemu_forwarding(port);
        if qemus.is_empty() && tcp_port_is_free(port) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "port {port} still held 10 s after hako was killed; QEMU processes forwarding it: \
             {qemus:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// How a guest ended.
#[derive(Debug)]
pub struct Exited {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// `hako run` in the background, its stdout read line by line. Dropping it kills `hako`
/// (and so its QEMU).
pub struct Guest {
    child: Child,
    lines: Receiver<String>,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    readers: Vec<JoinHandle<()>>,
    what: String,
}

impl Guest {
    /// Starts `hako run` with the target's options, then `args`; stdin is empty.
    pub fn start(target: Target, args: &[&str]) -> Guest {
        let mut cmd = hako();
        cmd.arg("run").args(target.args()).args(args);
        let what = format!("hako run {}", [target.args(), args].concat().join(" "));
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot run hako");
        let (tx, lines) = mpsc::channel();
        let stdout = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let all_out = stdout.clone();
        let out_reader = std::thread::spawn(move || {
            let mut line = String::new();
            while out.read_line(&mut line).is_ok_and(|n| n > 0) {
                all_out.lock().unwrap().push_str(&line);
                let _ = tx.send(line.trim_end_matches('\n').to_string());
                line.clear();
            }
        });
        let mut err = child.stderr.take().unwrap();
        let all_err = stderr.clone();
        let err_reader = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                all_err
                    .lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Guest {
            child,
            lines,
            stdout,
            stderr,
            readers: vec![out_reader, err_reader],
            what,
        }
    }

    /// Waits for a line of stdout that starts with `prefix` and returns it; panics (with
    /// what the guest printed) when the guest exits first or after `timeout`.
    pub fn wait_for(&mut self, prefix: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.starts_with(prefix) => return line,
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) => panic!(
                    "`{}` printed no line starting with {prefix:?} in {timeout:?}\n{}",
                    self.what,
                    self.output()
                ),
                Err(RecvTimeoutError::Disconnected) => {
                    let status = self.child.wait().ok();
                    std::thread::sleep(Duration::from_millis(100));
                    panic!(
                        "`{}` ended ({status:?}) before printing a line starting with \
                         {prefix:?}\n{}",
                        self.what,
                        self.output()
                    )
                }
            }
        }
    }

    /// What the guest printed so far, for failure messages.
    pub fn output(&self) -> String {
        format!(
            "--- stdout\n{}--- stderr\n{}",
            self.stdout.lock().unwrap(),
            self.stderr.lock().unwrap()
        )
    }

    /// The guest's stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// The process id of `hako`.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the guest to exit by itself; kills it and panics after `timeout`.
    pub fn wait(mut self, timeout: Duration) -> Exited {
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "`{}` did not exit within {timeout:?}; killed\n{}",
                    self.what,
                    self.output()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        Exited {
            status,
            stdout: self.stdout.lock().unwrap().clone(),
            stderr: self.stderr.lock().unwrap().clone(),
        }
    }

    /// Kills `hako` (SIGKILL: its QEMU dies with it) and waits for it.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Guest {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `n` pseudo-random bytes from `seed` (xorshift64*), the same on every run.
pub fn payload(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(n + 8);
    while out.len() < n {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
    }
    out.truncate(n);
    out
}

/// The BLAKE3 hash of `bytes` in hex, to compare large payloads in messages of a line.
pub fn checksum(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

/// Connects to 127.0.0.1:`port` with read and write timeouts of `timeout`.
pub fn connect(port: u16, timeout: Duration) -> TcpStream {
    let stream = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), timeout)
        .unwrap_or_else(|e| panic!("cannot connect to 127.0.0.1:{port}: {e}"));
    stream.set_nodelay(true).unwrap();
    stream.set_read_timeout(Some(timeout)).unwrap();
    stream.set_write_timeout(Some(timeout)).unwrap();
    stream
}

/// An HTTP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    /// Header names in lower case, values trimmed.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Sends `GET path` on `stream` as HTTP/1.1 (`Connection: keep-alive` or `close`), in one
/// write: a request split over several small segments waits for delayed ACKs (Nagle), 80 ms
/// a request on a keep-alive connection.
pub fn send_get(stream: &mut TcpStream, path: &str, keep_alive: bool) -> std::io::Result<()> {
    let connection = if keep_alive { "keep-alive" } else { "close" };
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nUser-Agent: hako-tests\r\n\
         Connection: {connection}\r\n\r\n"
    );
    stream.write_all(request.as_bytes())?;
    stream.flush()
}

/// Reads one response from `reader`: the body by `Content-Length`, or to the end of the
/// stream without one (chunked bodies are not expected from the test servers).
pub fn read_response(reader: &mut BufReader<TcpStream>) -> std::io::Result<Response> {
    use std::io::{Error, ErrorKind};
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Err(Error::new(
            ErrorKind::UnexpectedEof,
            "connection closed before a response",
        ));
    }
    let status = line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| Error::new(ErrorKind::InvalidData, format!("bad status line {line:?}")))?;
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line)?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let (name, value) = l
            .split_once(':')
            .ok_or_else(|| Error::new(ErrorKind::InvalidData, format!("bad header {l:?}")))?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    let mut response = Response {
        status,
        headers,
        body: Vec::new(),
    };
    if let Some(len) = response.header("content-length") {
        let len: usize = len
            .parse()
            .map_err(|_| Error::new(ErrorKind::InvalidData, "bad Content-Length"))?;
        response.body = vec![0; len];
        reader.read_exact(&mut response.body)?;
    } else {
        assert!(
            response.header("transfer-encoding").is_none(),
            "unexpected Transfer-Encoding: {:?}",
            response.headers
        );
        reader.read_to_end(&mut response.body)?;
    }
    Ok(response)
}

/// `GET path` from 127.0.0.1:`port` on a connection of its own.
pub fn http_get(port: u16, path: &str, timeout: Duration) -> std::io::Result<Response> {
    let mut stream = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), timeout)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    send_get(&mut stream, path, false)?;
    read_response(&mut BufReader::new(stream))
}

/// Sends the raw `request` to 127.0.0.1:`port` and reads one response.
pub fn http_raw(port: u16, request: &str, timeout: Duration) -> std::io::Result<Response> {
    let mut stream = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), timeout)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.write_all(request.as_bytes())?;
    read_response(&mut BufReader::new(stream))
}
