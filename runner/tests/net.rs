//! Networking end to end, on both targets (`unikernel::NAME`: virtio-net and QEMU user
//! networking, the guest at 10.0.2.15 reaching the host at 10.0.2.2; `linux::NAME`: the
//! host's sockets): the Rust programs of `fixtures/net/` (the WasmEdge socket ABI, built
//! from source for wasm32-wasip1 by `common::net::net_fixture`) driven by real clients and
//! servers on the host. `hako run --net [-p [ADDR:]HOST:GUEST[/udp]]...` publishes guest
//! ports on the host as docker does; on the Linux target a bind to GUEST is made on HOST.
//!
//! A server is started on a host port picked free, the test waits for its `listening on`
//! line (compile and boot under TCG included), talks to it, and either lets it exit after
//! the N connections it was told to serve or kills it (`Guest`'s drop) and checks that
//! nothing holds the port afterwards.

mod common;
use common::net::*;
use common::*;
use std::io::{BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, UdpSocket};
use std::path::PathBuf;
use std::time::Duration;

/// Read and write timeouts of the host's sockets: generous for TCG.
const IO: Duration = Duration::from_secs(60);

/// `hako run --timeout` of the guest clients (compile and boot included), so that a client
/// that hangs fails its test instead of holding it for hako's default 300 s.
const CLIENT_TIMEOUT: &str = "180";

fn wasm(name: &str) -> String {
    net_fixture(name).display().to_string()
}

/// A fresh directory under the tests' temporary directory.
fn fresh(name: &str) -> PathBuf {
    let d = tmp().join("net").join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Sends `data` on a new connection to `port` (from a second thread, so that the echo can
/// flow back at the same time), shuts the writing side down and returns all that came back.
fn echo_round_trip(port: u16, data: &[u8]) -> Vec<u8> {
    let mut stream = connect(port, IO);
    let mut writer = stream.try_clone().unwrap();
    let out = data.to_vec();
    let sender = std::thread::spawn(move || {
        writer.write_all(&out).unwrap();
        writer.shutdown(Shutdown::Write).unwrap();
    });
    let mut back = Vec::new();
    stream.read_to_end(&mut back).unwrap();
    sender.join().unwrap();
    back
}

/// The echo servers: a short message, 10 MiB of random bytes (the upload checked by checksum), a
/// client that sends 256 KiB and closes without reading (the server must go on), and a
/// connection that sends nothing; then the server exits by itself after those 4.
fn echo_session(target: Target, program: &str, publish: &str, port: u16) {
    let mut guest = Guest::start(
        target,
        &["--net", "-p", publish, &wasm(program), "--", "1234", "4"],
    );
    assert_eq!(guest.wait_for("listening on", READY), "listening on 1234");

    assert_eq!(echo_round_trip(port, b"hello, echo\n"), b"hello, echo\n");

    let big = payload(10 << 20, 7);
    let back = echo_round_trip(port, &big);
    assert_eq!(back.len(), big.len(), "10 MiB echo: length");
    assert_eq!(checksum(&back), checksum(&big), "10 MiB echo: checksum");

    {
        let mut rude = connect(port, Duration::from_secs(5));
        // The writes may stop once the buffers are full: the point is the close with
        // unread data (a reset), not the transfer.
        let _ = rude.write_all(&payload(256 << 10, 8));
    }

    let mut empty = connect(port, IO);
    empty.shutdown(Shutdown::Write).unwrap();
    let mut back = Vec::new();
    empty.read_to_end(&mut back).unwrap();
    assert!(
        back.is_empty(),
        "an empty connection got {} bytes",
        back.len()
    );

    let exited = guest.wait(EXIT);
    assert_eq!(
        (exited.status.code(), exited.stdout.as_str()),
        (Some(0), "listening on 1234\nserved 4\n"),
        "stderr: {}",
        exited.stderr
    );
    assert_port_released(port);
}

/// (a) `tcp_echo_server` (`wasmedge_wasi_socket`, V1 `sock_accept`), published on
/// 127.0.0.1 only.
fn tcp_echo(target: Target) {
    let port = free_tcp_port();
    echo_session(
        target,
        "tcp_echo_server",
        &format!("127.0.0.1:{port}:1234"),
        port,
    );
}

/// (a) `tcp_echo_std`: accepted by Rust's std (WASI's 3-parameter `sock_accept`, WasmEdge's
/// V2 form) and echoed with `fd_read`/`fd_write` on the socket.
fn tcp_echo_std_accept(target: Target) {
    let port = free_tcp_port();
    echo_session(target, "tcp_echo_std", &format!("{port}:1234"), port);
}

/// (b) `tcp_client` in the guest connects to a listener of the test's on the host's
/// loopback (10.0.2.2 from the unikernel), sends, half-closes and reads the answer.
fn guest_tcp_client(target: Target) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        stream.set_read_timeout(Some(IO)).unwrap();
        let mut got = Vec::new();
        stream.read_to_end(&mut got).unwrap(); // the guest shut its writing side down
        stream.write_all(b"echo: ").unwrap();
        stream.write_all(&got).unwrap();
        got
    });
    let host = target.host_from_guest();
    let r = run(&[
        target.args(),
        &[
            "--net",
            "--timeout",
            CLIENT_TIMEOUT,
            &wasm("tcp_client"),
            "--",
            &format!("{host}:{port}"),
            "hello from the guest",
        ],
    ]
    .concat());
    assert_eq!(
        (r.status, r.stdout.as_str()),
        (0, "received: echo: hello from the guest\n"),
        "stderr: {}",
        r.stderr
    );
    assert_eq!(server.join().unwrap(), b"hello from the guest");
    // sock_getpeeraddr and sock_getsockopt(SO_TYPE) of the connected socket.
    assert!(
        r.stderr.contains(&format!("peer {host}:{port}\n")),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("type stream\n"), "{}", r.stderr);
}

/// (c) `udp_echo` published with `-p HOST:GUEST/udp`: three datagrams, each echoed to its
/// sender from the published port; the server exits after them.
fn udp_echo(target: Target) {
    let port = free_udp_port();
    let publish = format!("{port}:5353/udp");
    let mut guest = Guest::start(
        target,
        &[
            "--net",
            "-p",
            &publish,
            &wasm("udp_echo"),
            "--",
            "5353",
            "3",
        ],
    );
    assert_eq!(
        guest.wait_for("udp listening on", READY),
        "udp listening on 5353"
    );
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(IO)).unwrap();
    let mut buf = vec![0u8; 65536];
    for (i, datagram) in [b"ping".to_vec(), payload(1, 1), payload(1400, 2)]
        .iter()
        .enumerate()
    {
        socket.send_to(datagram, ("127.0.0.1", port)).unwrap();
        let (n, from) = socket
            .recv_from(&mut buf)
            .unwrap_or_else(|e| panic!("datagram {i}: no echo: {e}\n{}", guest.output()));
        assert_eq!(&buf[..n], &datagram[..], "datagram {i}");
        assert_eq!(from, ([127, 0, 0, 1], port).into(), "datagram {i}: sender");
    }
    let exited = guest.wait(EXIT);
    assert_eq!(
        (exited.status.code(), exited.stdout.as_str()),
        (Some(0), "udp listening on 5353\nudp served 3\n"),
        "stderr: {}",
        exited.stderr
    );
}

/// Starts `http_hello` published on a free host port (guest port 8080); returns it and
/// the host port.
fn start_http_hello(target: Target) -> (Guest, u16) {
    let port = free_tcp_port();
    let publish = format!("{port}:8080");
    let mut guest = Guest::start(
        target,
        &["--net", "-p", &publish, &wasm("http_hello"), "--", "8080"],
    );
    assert_eq!(guest.wait_for("listening on", READY), "listening on 8080");
    (guest, port)
}

fn assert_hello(r: std::io::Result<Response>, what: &str) {
    let r = r.unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(r.status, 200, "{what}: {r:?}");
    assert_eq!(String::from_utf8_lossy(&r.body), "Hello World!", "{what}");
}

/// (d) `http_hello` (tokio_wasi + hyper_wasi): curl, 1,000 sequential requests (500 on one
/// keep-alive connection, 500 on connections of their own), 100 concurrent ones; then
/// `hako` is killed and nothing may hold the port.
fn http_hello(target: Target) {
    let (guest, port) = start_http_hello(target);

    let curl = std::process::Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "60",
            &format!("http://127.0.0.1:{port}/"),
        ])
        .output()
        .expect("cannot run curl (`make setup` installs it)");
    assert_eq!(
        String::from_utf8_lossy(&curl.stdout),
        "Hello World!",
        "curl: {}\n{}",
        String::from_utf8_lossy(&curl.stderr),
        guest.output()
    );

    let stream = connect(port, IO);
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    for i in 0..500 {
        send_get(&mut writer, &format!("/keep-alive/{i}"), true).unwrap();
        assert_hello(
            read_response(&mut reader),
            &format!("keep-alive request {i}"),
        );
    }
    drop((reader, writer));
    for i in 0..500 {
        assert_hello(
            http_get(port, &format!("/one/{i}"), IO),
            &format!("request {i}"),
        );
    }

    let barrier = std::sync::Arc::new(std::sync::Barrier::new(100));
    let clients: Vec<_> = (0..100)
        .map(|i| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                (i, http_get(port, &format!("/concurrent/{i}"), IO))
            })
        })
        .collect();
    for client in clients {
        let (i, r) = client.join().unwrap();
        assert_hello(r, &format!("concurrent request {i}"));
    }

    guest.kill();
    assert_port_released(port);
}

/// (h) Clients that go away mid-request (half a request head, or nothing at all) do not
/// stop `http_hello` from answering the next one.
fn client_leaving_mid_request(target: Target) {
    let (guest, port) = start_http_hello(target);
    for partial in ["GET / HTTP/1.1\r\nHost: loc", "", "GET /"] {
        let mut stream = connect(port, IO);
        stream.write_all(partial.as_bytes()).unwrap();
        drop(stream);
        assert_hello(http_get(port, "/after", IO), &format!("after {partial:?}"));
    }
    // One that stays connected with half a request does not block the others either.
    let mut idle = connect(port, IO);
    idle.write_all(b"GET / HTTP/1.1\r\n").unwrap();
    assert_hello(http_get(port, "/beside", IO), "beside an idle client");
    drop(idle);
    drop(guest);
    assert_port_released(port);
}

/// (e) `file_server` on a preopened directory: a 10 MiB file byte for byte, a small one,
/// 404 for a missing file, 403 for a path with `..`; guest port 80, published with
/// `--publish`.
fn file_server(target: Target) {
    let dir = fresh(&format!("files-{target:?}"));
    let big = payload(10 << 20, 10);
    std::fs::write(dir.join("big.bin"), &big).unwrap();
    std::fs::write(dir.join("hello.txt"), "hello, file\n").unwrap();
    let port = free_tcp_port();
    let mut guest = Guest::start(
        target,
        &[
            "--net",
            "--publish",
            &format!("{port}:80"),
            "--dir",
            &format!("{}::/srv", dir.display()),
            &wasm("file_server"),
            "--",
            "80",
            "/srv",
            "4",
        ],
    );
    assert_eq!(guest.wait_for("listening on", READY), "listening on 80");

    let r = http_get(port, "/big.bin", IO).unwrap();
    assert_eq!(r.status, 200, "{:?}", r.headers);
    assert_eq!(r.header("content-length"), Some("10485760"));
    assert_eq!(r.body.len(), big.len(), "10 MiB download: length");
    assert_eq!(
        checksum(&r.body),
        checksum(&big),
        "10 MiB download: checksum"
    );

    let r = http_get(port, "/hello.txt", IO).unwrap();
    assert_eq!((r.status, r.body.as_slice()), (200, &b"hello, file\n"[..]));
    assert_eq!(http_get(port, "/missing.txt", IO).unwrap().status, 404);
    let r = http_raw(port, "GET /../big.bin HTTP/1.1\r\nHost: x\r\n\r\n", IO).unwrap();
    assert_eq!(r.status, 403, "a .. path: {r:?}");

    let exited = guest.wait(EXIT);
    assert_eq!(
        (exited.status.code(), exited.stdout.as_str()),
        (Some(0), "listening on 80\nserved 4\n"),
        "stderr: {}",
        exited.stderr
    );
}

/// A tiny HTTP server on the host's loopback: answers `/greeting` with a line, `/big` with
/// 100 KiB of random bytes, anything else with 404; records the request lines. It serves
/// until the test ends.
fn host_http_server() -> (u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            stream.set_read_timeout(Some(IO)).unwrap();
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).is_ok_and(|n| n == 1) {
                head.push(byte[0]);
            }
            let head = String::from_utf8_lossy(&head).into_owned();
            let line = head.lines().next().unwrap_or("").to_string();
            log.lock().unwrap().push(line.clone());
            let (status, body) = match line.split(' ').nth(1) {
                Some("/greeting") => ("200 OK", b"hello from the host\n".to_vec()),
                Some("/big") => ("200 OK", payload(100 << 10, 11)),
                _ => ("404 Not Found", b"no such page\n".to_vec()),
            };
            let _ = write!(
                stream,
                "HTTP/1.0 {status}\r\nContent-Length: {}\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(&body);
        }
    });
    (port, seen)
}

/// `hako run` of `http_fetch` with these arguments; stdout as bytes.
fn fetch(target: Target, args: &[&str]) -> (i32, Vec<u8>, String) {
    let out = hako()
        .arg("run")
        .args(target.args())
        .args([
            "--net",
            "--timeout",
            CLIENT_TIMEOUT,
            &wasm("http_fetch"),
            "--",
        ])
        .args(args)
        .output()
        .expect("cannot run hako");
    (
        out.status.code().expect("hako was killed by a signal"),
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// (f) `http_fetch` in the guest against a server of the test's on the host.
fn guest_http_fetch(target: Target) {
    let (port, seen) = host_http_server();
    let host = target.host_from_guest();
    let (status, body, stderr) = fetch(target, &[&format!("http://{host}:{port}/greeting")]);
    assert_eq!(
        (status, body.as_slice()),
        (0, &b"hello from the host\n"[..]),
        "stderr: {stderr}"
    );
    assert!(stderr.contains("HTTP/1.0 200 OK"), "{stderr}");

    let (status, body, stderr) = fetch(target, &[&format!("http://{host}:{port}/big")]);
    assert_eq!(status, 0, "stderr: {stderr}");
    assert_eq!(
        checksum(&body),
        checksum(&payload(100 << 10, 11)),
        "100 KiB body"
    );

    let (status, _, stderr) = fetch(target, &[&format!("http://{host}:{port}/nothing")]);
    assert_eq!(status, 2, "a 404 exits with 2: {stderr}");
    assert_eq!(
        *seen.lock().unwrap(),
        [
            "GET /greeting HTTP/1.0",
            "GET /big HTTP/1.0",
            "GET /nothing HTTP/1.0"
        ]
    );
}

/// `sock_getaddrinfo`: `localhost` is the loopback address on both targets (RFC 6761: a
/// resolver answers it without asking DNS), and a numeric host is itself.
fn getaddrinfo_resolves(target: Target) {
    let (status, out, stderr) = fetch(target, &["--resolve", "localhost"]);
    let out = String::from_utf8_lossy(&out).into_owned();
    assert_eq!(status, 0, "stderr: {stderr}");
    assert!(
        out.lines().any(|l| l == "127.0.0.1"),
        "localhost: {out:?}, stderr: {stderr}"
    );
    let (status, out, stderr) = fetch(target, &["--resolve", "10.0.2.2"]);
    assert_eq!(
        (status, String::from_utf8_lossy(&out).as_ref()),
        (0, "10.0.2.2\n"),
        "stderr: {stderr}"
    );
}

/// (g) `--publish` needs `--net`: a usage error before anything runs.
fn publish_without_net_is_refused(target: Target) {
    let r = run(&[
        target.args(),
        // Were `-p` taken, the guest would wait for a connection: the time limit ends it.
        &[
            "--timeout",
            "60",
            "-p",
            "8080:1234",
            &wasm("tcp_echo_server"),
        ],
    ]
    .concat());
    assert_ne!(r.status, 0, "stdout: {}", r.stdout);
    assert!(r.stderr.contains("--net"), "{}", r.stderr);
    assert!(!r.stdout.contains("listening on"), "{}", r.stdout);
}

/// The sandbox: without `--net` a program has no network. Its socket calls fail with
/// `ENOTCAPABLE` (wasi-libc: "Capabilities insufficient"), even towards a server the test
/// runs on the host.
fn no_network_without_net(target: Target) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    let r = run(&[
        target.args(),
        &[
            "--timeout",
            CLIENT_TIMEOUT,
            &wasm("tcp_client"),
            "--",
            &format!("{}:{port}", target.host_from_guest()),
            "escape",
        ],
    ]
    .concat());
    assert_eq!(r.status, 1, "stdout: {} stderr: {}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("Capabilities insufficient"),
        "{}",
        r.stderr
    );
    assert!(listener.accept().is_err(), "the guest reached the host");
}

/// Wasmtime's `--tcplisten`: a listening socket preopened as descriptor 3, which a program
/// on Rust's standard library accepts from with preview1's `sock_accept` (in the unikernel
/// the guest listens on the port and the host's address is published to it).
fn tcplisten_preopen(target: Target) {
    let port = free_tcp_port();
    let mut guest = Guest::start(
        target,
        &[
            "--net",
            "--tcplisten",
            &format!("127.0.0.1:{port}"),
            &wasm("tcplisten_echo"),
        ],
    );
    assert_eq!(guest.wait_for("listening on", READY), "listening on fd 3");
    assert_eq!(echo_round_trip(port, b"through fd 3\n"), b"through fd 3\n");
    let exited = guest.wait(EXIT);
    assert_eq!(
        (exited.status.code(), exited.stdout.as_str()),
        (Some(0), "listening on fd 3\nserved 1\n"),
        "stderr: {}",
        exited.stderr
    );
    assert_port_released(port);
}

/// Resident memory of `pid` and its descendants, in KiB.
fn tree_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let own = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0);
    let children =
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    own + children
        .split_whitespace()
        .filter_map(|c| c.parse().ok())
        .map(tree_rss_kib)
        .sum::<u64>()
}

/// A guest that never reads its socket: the host's writes stop once the buffers on the way
/// are full (the guest's window closes), and neither QEMU's nor the process's memory grows
/// with what the client tries to send.
fn stalled_guest_reader(target: Target) {
    let port = free_tcp_port();
    let mut guest = Guest::start(
        target,
        &[
            "--net",
            "-p",
            &format!("127.0.0.1:{port}:1234"),
            &wasm("tcp_stall"),
        ],
    );
    guest.wait_for("listening on", READY);
    let mut stream = connect(port, READY);
    guest.wait_for("accepted", READY);
    stream
        .set_write_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    let before = tree_rss_kib(guest.pid());
    let chunk = vec![0x5a_u8; 64 << 10];
    let started = std::time::Instant::now();
    let mut written = 0usize;
    // Up to 256 MiB, or until a write has waited 3 s.
    while written < 256 << 20 && started.elapsed() < Duration::from_secs(60) {
        match stream.write(&chunk) {
            Ok(n) => written += n,
            Err(_) => break,
        }
    }
    let after = tree_rss_kib(guest.pid());
    assert!(
        written < 64 << 20,
        "{written} bytes went into a guest that reads nothing"
    );
    assert!(
        after < before + (64 << 10),
        "memory grew from {before} KiB to {after} KiB ({written} bytes written)"
    );
    guest.kill();
    assert_port_released(port);
}

/// (g) A host port already in use is an error that names it, before the guest runs.
fn host_port_in_use_is_refused(target: Target) {
    let holder = TcpListener::bind("0.0.0.0:0").unwrap();
    let port = holder.local_addr().unwrap().port();
    let guest = Guest::start(
        target,
        &[
            "--net",
            "-p",
            &format!("{port}:1234"),
            &wasm("tcp_echo_server"),
            "--",
            "1234",
            "1",
        ],
    );
    let exited = guest.wait(EXIT);
    assert_ne!(exited.status.code(), Some(0), "{exited:?}");
    assert!(
        !exited.stdout.contains("listening on"),
        "the guest ran: {exited:?}"
    );
    let names_it = exited.stderr.contains(&port.to_string());
    match target {
        Target::Unikernel => assert!(names_it, "{}", exited.stderr),
        // On Linux the guest's own bind may be what fails; it must still say why.
        Target::Linux => assert!(
            names_it || exited.stderr.to_lowercase().contains("in use"),
            "{}",
            exited.stderr
        ),
    }
    drop(holder);
}

/// Where a test runs, as in `wasi_fs.rs`: each test once per target.
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
    tcp_echo,
    tcp_echo_std_accept,
    guest_tcp_client,
    udp_echo,
    http_hello,
    client_leaving_mid_request,
    file_server,
    guest_http_fetch,
    getaddrinfo_resolves,
    publish_without_net_is_refused,
    host_port_in_use_is_refused,
    no_network_without_net,
    stalled_guest_reader,
    tcplisten_preopen,
);

/// On the Linux target the program is a host process: a host name resolves through the
/// host's resolver, so `http_fetch` reaches the test's server as `localhost`.
#[test]
fn linux_fetch_by_host_name() {
    let (port, seen) = host_http_server();
    let (status, body, stderr) = fetch(
        Target::Linux,
        &[&format!("http://localhost:{port}/greeting")],
    );
    assert_eq!(
        (status, body.as_slice()),
        (0, &b"hello from the host\n"[..]),
        "stderr: {stderr}"
    );
    assert_eq!(*seen.lock().unwrap(), ["GET /greeting HTTP/1.0"]);
}

/// The programs import the WasmEdge socket ABI as the tests expect: every `sock_*` import
/// has the parameters of its WasmEdge form (all `i32`, one `i32` result), `sock_accept` in
/// its V1 form (fd, new fd's address) except in `tcp_echo_std` (std: V2, fd, fdflags, new
/// fd's address), and together they import all 15 functions. Needs no `hako`.
#[test]
fn fixtures_import_the_wasmedge_socket_abi() {
    use wasmparser::{CompositeInnerType, Parser, Payload, TypeRef, ValType};
    const PARAMS: [(&str, usize); 15] = [
        ("sock_open", 3),
        ("sock_bind", 3),
        ("sock_listen", 2),
        ("sock_accept", 2),
        ("sock_connect", 3),
        ("sock_recv", 6),
        ("sock_recv_from", 8),
        ("sock_send", 5),
        ("sock_send_to", 7),
        ("sock_shutdown", 2),
        ("sock_getlocaladdr", 4),
        ("sock_getpeeraddr", 4),
        ("sock_getsockopt", 5),
        ("sock_setsockopt", 5),
        ("sock_getaddrinfo", 8),
    ];
    let programs = [
        "tcp_echo_server",
        "tcp_echo_std",
        "tcp_client",
        "udp_echo",
        "http_hello",
        "file_server",
        "http_fetch",
    ];
    let mut seen = std::collections::BTreeSet::new();
    for program in programs {
        let bytes = std::fs::read(net_fixture(program)).unwrap();
        let mut types = Vec::new();
        let mut imports = Vec::new();
        for payload in Parser::new(0).parse_all(&bytes) {
            match payload.unwrap() {
                Payload::TypeSection(reader) => {
                    for group in reader {
                        for ty in group.unwrap().into_types() {
                            types.push(match ty.composite_type.inner {
                                CompositeInnerType::Func(f) => Some(f),
                                _ => None,
                            });
                        }
                    }
                }
                Payload::ImportSection(reader) => {
                    for import in reader.into_imports() {
                        let import = import.unwrap();
                        if let TypeRef::Func(t) = import.ty {
                            imports.push((import.module.to_string(), import.name.to_string(), t));
                        }
                    }
                }
                _ => {}
            }
        }
        for (module, name, t) in imports {
            if !name.starts_with("sock_") {
                continue;
            }
            assert_eq!(module, "wasi_snapshot_preview1", "{program}: {name}");
            let ty = types[t as usize].as_ref().unwrap();
            let (_, mut expected) = *PARAMS
                .iter()
                .find(|(n, _)| *n == name)
                .unwrap_or_else(|| panic!("{program} imports an unknown {name}"));
            if program == "tcp_echo_std" && name == "sock_accept" {
                expected = 3;
            }
            assert_eq!(ty.params().len(), expected, "{program}: {name}{ty:?}");
            assert!(
                ty.params().iter().all(|p| *p == ValType::I32),
                "{program}: {name}{ty:?}"
            );
            assert_eq!(ty.results(), [ValType::I32], "{program}: {name}{ty:?}");
            seen.insert(name);
        }
    }
    let all: std::collections::BTreeSet<String> =
        PARAMS.iter().map(|(n, _)| n.to_string()).collect();
    assert_eq!(seen, all);
}
