//! The guest's three channels (stdout on COM1, stderr on COM2, harness records on COM3, see
//! `hako_abi::boot`): Unix sockets in Linux's abstract namespace (so nothing is left on disk
//! whatever ends `hako`) that QEMU connects to as a client, one per channel, so the streams
//! never mix with each other or with QEMU's own messages. Each has a reader thread that
//! forwards and/or captures what arrives, and COM1 also carries the program's stdin once the
//! kernel asks for it.

use super::Sink;
use anyhow::{anyhow, Context, Result};
use hako_abi::boot;
use std::io::{Read, Write};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener, UnixStream};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// Opens the stream a channel forwards to (our stdout or stderr).
pub(super) type Forward = fn() -> Box<dyn Write>;

/// A channel's reader: accepts QEMU's connection and copies everything to its sink.
pub(super) struct Channel {
    address: SocketAddr,
    connected: Arc<Mutex<bool>>,
    thread: JoinHandle<std::io::Result<Vec<u8>>>,
}

impl Channel {
    pub(super) fn open(
        name: &str,
        forward: Option<Forward>,
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
    pub(super) fn finish(self) -> Result<Vec<u8>> {
        if !*self.connected.lock().unwrap() {
            let _ = UnixStream::connect_addr(&self.address);
        }
        self.thread
            .join()
            .map_err(|_| anyhow!("a channel reader panicked"))?
            .context("reading a guest channel")
    }
}

/// Where a channel's bytes go: the stream to forward to, if any, and whether to capture.
pub(super) fn sink_parts(sink: Sink, forward: Forward) -> (Option<Forward>, bool) {
    match sink {
        Sink::Forward => (Some(forward), false),
        Sink::Capture => (None, true),
        Sink::ForwardAndCapture => (Some(forward), true),
    }
}

/// A prefix for this boot's socket names, unique among live processes: `hako-PID-N`.
pub(super) fn socket_prefix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    format!(
        "hako-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}
