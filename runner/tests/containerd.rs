//! End to end under containerd: `hako image` tars imported with `ctr image import` and run
//! with `ctr run --runtime io.containerd.hako.v1`, each test with its own containerd (see
//! `common/containerd.rs`), in both image layouts (runwasi's Wasm layer, and a module file in
//! an ordinary file-system layer).

mod common;

use common::containerd::{alive, image, processes, wait_gone, Containerd};
use common::fixture;
use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::time::Duration;

const LAYOUTS: [&str; 2] = ["wasm", "rootfs"];

/// The image of fixtures/container.c in `layout`, imported; returns its reference and the
/// start of a command that runs it: `ctr run`'s command replaces the image's entrypoint, so
/// it begins with the module's path (in runwasi's layout, where the module is the layer,
/// just the program's name, as runwasi's shims take it).
fn container_image(ctd: &Containerd, layout: &str) -> (String, Vec<&'static str>) {
    let name = format!("hako-test/container-{layout}:1");
    ctd.import(&image(&fixture("container.c"), &name, layout));
    let command = if layout == "rootfs" {
        vec!["/container.wasm"]
    } else {
        vec!["container.wasm"]
    };
    (format!("docker.io/{name}"), command)
}

struct Out {
    status: i32,
    stdout: String,
    stderr: String,
}

fn output(mut command: std::process::Command, stdin: &[u8]) -> Out {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot run ctr");
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin).unwrap();
    drop(input);
    let out = child.wait_with_output().unwrap();
    Out {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn args_env_stdio_root_file_system_and_exit_status() {
    let ctd = Containerd::start();
    for layout in LAYOUTS {
        let (image, command) = container_image(&ctd, layout);
        let id = format!("run-{layout}");
        let mut cmd = command.clone();
        cmd.extend(["one", "two words"]);
        let out = output(
            ctd.run(
                &["--env", "GREETING=hi there", "--env", "EXIT_STATUS=7"],
                &image,
                &id,
                &cmd,
            ),
            b"12345",
        );
        let argv0 = if layout == "rootfs" {
            "/container.wasm"
        } else {
            "container.wasm"
        };
        assert_eq!(out.status, 7, "{layout}: {}\n{}", out.stderr, ctd.log());
        assert_eq!(
            out.stdout,
            format!(
                "argv[0]={argv0}\nargv[1]=one\nargv[2]=two words\nGREETING=hi there\n\
                 read back: written by {argv0}\nstdin: 5 bytes\n"
            ),
            "{layout}"
        );
        assert_eq!(out.stderr, "container: done\n", "{layout}");
    }
}

#[test]
fn the_root_file_system_is_the_containers() {
    let ctd = Containerd::start();
    for layout in LAYOUTS {
        let (image, command) = container_image(&ctd, layout);
        let id = format!("fs-{layout}");
        // Without --rm: the container's snapshot stays, with what the program wrote.
        let out = ctd.run_kept(&[], &image, &id, &command);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let snapshots = ctd
            .dir()
            .join("root/io.containerd.snapshotter.v1.native/snapshots");
        let written: Vec<String> = std::fs::read_dir(&snapshots)
            .unwrap()
            .flatten()
            .filter_map(|d| std::fs::read_to_string(d.path().join("written.txt")).ok())
            .collect();
        let argv0 = if layout == "rootfs" {
            "/container.wasm"
        } else {
            "container.wasm"
        };
        // (The other layout's container's snapshot may not be collected yet: its argv[0]
        // differs.)
        assert!(
            written.contains(&format!("written by {argv0}\n")),
            "{layout}: {written:?}"
        );
        // `ctr run` deleted the task, which unmounted the root file system (checked below);
        // removing the container then succeeds.
        let out = ctd.ctr(&["container", "delete", &id]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mounts.contains(ctd.dir().to_str().unwrap()),
        "a mount is left: {mounts}"
    );
}

#[test]
fn kill_stops_the_vm_with_the_signals_status() {
    let ctd = Containerd::start();
    for (layout, signal, status) in [
        ("wasm", "SIGTERM", 143),
        ("wasm", "SIGKILL", 137),
        ("rootfs", "SIGTERM", 143),
        ("rootfs", "SIGKILL", 137),
    ] {
        let (image, command) = container_image(&ctd, layout);
        let id = format!("kill-{layout}-{signal}");
        let mut cmd = command.clone();
        cmd.push("sleep");
        let mut child = ctd
            .run(&[], &image, &id, &cmd)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        assert_eq!(line, "sleeping\n");
        // `ctr task ps`: hako, and QEMU its child.
        let pids = ctd.task_pids(&id);
        let commands: Vec<String> = pids
            .iter()
            .filter_map(|p| std::fs::read_to_string(format!("/proc/{p}/comm")).ok())
            .collect();
        assert_eq!(pids.len(), 2, "{commands:?}");
        assert!(
            commands.iter().any(|c| c.starts_with("qemu-system")),
            "{commands:?}"
        );
        let out = ctd.ctr(&["task", "kill", "--signal", signal, &id]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(status), "{layout} {signal}");
        assert_eq!(wait_gone(&pids, Duration::from_secs(10)), Vec::<u32>::new());
        // --rm deleted the task: its shim exits.
        ctd.wait_shim_gone(&id);
    }
}

#[test]
fn four_containers_at_once_in_both_layouts() {
    let ctd = Containerd::start();
    let images = [
        container_image(&ctd, "wasm"),
        container_image(&ctd, "rootfs"),
    ];
    let runs: Vec<_> = (0..4)
        .map(|i| {
            let (image, command) = &images[i % 2];
            let id = format!("pair-{i}");
            let mut cmd = command.clone();
            let arg = format!("instance-{i}");
            cmd.push(&arg);
            let mut c = ctd.run(&["--env", &format!("GREETING=g{i}")], image, &id, &cmd);
            c.stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for (i, child) in runs.into_iter().enumerate() {
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains(&format!("argv[1]=instance-{i}\n")),
            "{stdout}"
        );
        assert!(stdout.contains(&format!("GREETING=g{i}\n")), "{stdout}");
        assert_eq!(stdout.matches("instance-").count(), 1, "mixed: {stdout}");
    }
}

#[test]
fn memory_limit_sets_guest_ram() {
    let ctd = Containerd::start();
    let (image, command) = container_image(&ctd, "rootfs");
    let mut cmd = command.clone();
    cmd.push("sleep");
    let child = ctd
        .run(
            &["--memory-limit", &(64 << 20).to_string()],
            &image,
            "mem",
            &cmd,
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    ctd.wait_running("mem");
    let qemu = ctd
        .task_pids("mem")
        .into_iter()
        .map(|p| std::fs::read_to_string(format!("/proc/{p}/cmdline")).unwrap_or_default())
        .find(|c| c.contains("qemu-system"))
        .expect("no QEMU in the task");
    let args: Vec<&str> = qemu.split('\0').collect();
    let m = args.iter().position(|a| *a == "-m").expect("no -m");
    assert!(args[m + 1].starts_with("64"), "QEMU's RAM: {}", args[m + 1]);
    ctd.ctr(&["task", "kill", "--signal", "SIGKILL", "mem"]);
    drop(child);

    // Below what a guest needs: the task does not start, and says why.
    let out = output(
        ctd.run(
            &["--memory-limit", &(16 << 20).to_string()],
            &image,
            "mem-small",
            &command,
        ),
        b"",
    );
    assert_ne!(out.status, 0);
    assert!(out.stderr.contains("below the 32 MiB"), "{}", out.stderr);
}

#[test]
fn bad_images_fail_to_start_with_a_message_and_leave_nothing() {
    let ctd = Containerd::start();
    let (image, _) = container_image(&ctd, "rootfs");
    let rootfs = tempfile::tempdir().unwrap();
    std::fs::write(rootfs.path().join("garbage.wasm"), b"\0asm\x01\0\0\0\x7f").unwrap();
    std::fs::create_dir(rootfs.path().join("dir.wasm")).unwrap();
    let cases: Vec<(Vec<&str>, &str, Vec<&str>, &str)> = vec![
        (vec![], &image, vec!["/missing.wasm"], "/missing.wasm"),
        (vec![], &image, vec!["/"], "not a file"),
        (
            vec!["--rootfs"],
            rootfs.path().to_str().unwrap(),
            vec!["/garbage.wasm"],
            "not a valid module",
        ),
        (
            vec!["--rootfs"],
            rootfs.path().to_str().unwrap(),
            vec!["/dir.wasm"],
            "not a file",
        ),
        (
            vec!["--rootfs"],
            rootfs.path().to_str().unwrap(),
            vec![],
            "no command",
        ),
    ];
    for (i, (options, image, command, message)) in cases.into_iter().enumerate() {
        let id = format!("bad-{i}");
        let out = output(ctd.run(&options, image, &id, &command), b"");
        assert_ne!(out.status, 0, "{id}");
        assert!(
            out.stderr.contains(message),
            "{id}: {message:?} not in {}",
            out.stderr
        );
        ctd.wait_shim_gone(&id);
    }
    let tasks = ctd.ctr(&["task", "ls", "-q"]);
    assert_eq!(String::from_utf8_lossy(&tasks.stdout), "");
}

#[test]
fn a_killed_shim_takes_its_vm_with_it() {
    let ctd = Containerd::start();
    let (image, command) = container_image(&ctd, "wasm");
    let mut cmd = command.clone();
    cmd.push("sleep");
    let out = ctd.run_kept(&["-d"], &image, "orphan", &cmd);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    ctd.wait_running("orphan");
    let pids = ctd.task_pids("orphan");
    assert_eq!(pids.len(), 2);
    let shim = ctd.shim_pid("orphan").expect("no shim");
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(shim as i32).unwrap(),
        rustix::process::Signal::KILL,
    )
    .unwrap();
    assert_eq!(wait_gone(&pids, Duration::from_secs(10)), Vec::<u32>::new());
    assert!(!alive(shim));
    // containerd sees the task gone (its `shim delete` cleans up) and removes it.
    let _ = ctd.ctr(&["task", "delete", "-f", "orphan"]);
    let _ = ctd.ctr(&["container", "delete", "orphan"]);
    assert!(
        !processes().iter().any(|(_, c)| c.contains("-id orphan ")),
        "a process of the container is left"
    );
}

#[test]
fn the_second_container_of_an_image_compiles_nothing() {
    let cache = tempfile::tempdir().unwrap();
    let ctd = Containerd::start_with_cache(cache.path());
    let (image, command) = container_image(&ctd, "wasm");
    let count = || walk(cache.path());
    fn walk(dir: &std::path::Path) -> usize {
        std::fs::read_dir(dir)
            .map(|r| {
                r.flatten()
                    .map(|e| {
                        if e.path().is_dir() {
                            walk(&e.path())
                        } else {
                            1
                        }
                    })
                    .sum()
            })
            .unwrap_or(0)
    }
    let first = output(ctd.run(&[], &image, "cache-1", &command), b"");
    assert_eq!(first.status, 0, "{}", first.stderr);
    let entries = count();
    assert!(entries > 0, "the first container compiled into the cache");
    let second = output(ctd.run(&[], &image, "cache-2", &command), b"");
    assert_eq!(second.status, 0, "{}", second.stderr);
    assert_eq!(count(), entries, "the second container added to the cache");
}

/// A network namespace as CNI makes one for a pod: a veth pair, the host's end 10.213.N.1/24,
/// the namespace's `eth0` 10.213.N.2/24 with its default route through the host's end.
/// Deleted, with the pair, on drop.
struct PodNetwork {
    name: String,
    host_ip: String,
    pod_ip: String,
}

impl PodNetwork {
    fn new() -> PodNetwork {
        let n = std::process::id() % 250 + 1;
        let name = format!("hako-test-{}", std::process::id());
        let host_if = format!("hkv{}", std::process::id() % 100_000);
        let pod = PodNetwork {
            name: name.clone(),
            host_ip: format!("10.213.{n}.1"),
            pod_ip: format!("10.213.{n}.2"),
        };
        let ip = |args: &str| {
            let out = std::process::Command::new("ip")
                .args(args.split_whitespace())
                .output()
                .expect("cannot run ip (iproute2)");
            assert!(
                out.status.success(),
                "ip {args}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        ip(&format!("netns add {name}"));
        ip(&format!(
            "link add {host_if} type veth peer name {host_if}p"
        ));
        ip(&format!("link set {host_if}p netns {name}"));
        ip(&format!(
            "netns exec {name} ip link set {host_if}p name eth0"
        ));
        ip(&format!("addr add {}/24 dev {host_if}", pod.host_ip));
        ip(&format!("link set {host_if} up"));
        ip(&format!(
            "netns exec {name} ip addr add {}/24 dev eth0",
            pod.pod_ip
        ));
        ip(&format!("netns exec {name} ip link set eth0 up"));
        ip(&format!("netns exec {name} ip link set lo up"));
        ip(&format!(
            "netns exec {name} ip route add default via {}",
            pod.host_ip
        ));
        pod
    }

    fn path(&self) -> String {
        format!("/var/run/netns/{}", self.name)
    }
}

impl Drop for PodNetwork {
    fn drop(&mut self) {
        // The veth pair goes with the namespace.
        let _ = std::process::Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

fn http_get(addr: &str) -> std::io::Result<String> {
    use std::io::Read;
    let mut s =
        std::net::TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.write_all(b"GET / HTTP/1.1\r\nHost: pod\r\nConnection: close\r\n\r\n")?;
    let mut text = String::new();
    s.read_to_string(&mut text)?;
    Ok(text)
}

#[test]
fn the_pods_network_namespace_reaches_the_guest() {
    let ctd = Containerd::start();
    let pod = PodNetwork::new();
    let name = "hako-test/http-hello:1";
    ctd.import(&image(
        &common::net::net_fixture("http_hello"),
        name,
        "rootfs",
    ));
    let image = format!("docker.io/{name}");
    let ns = format!("network:{}", pod.path());
    let out = ctd.run_kept(
        &["-d", "--with-ns", &ns],
        &image,
        "web",
        &["/http_hello.wasm", "8080"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The guest has the pod's address: the host reaches it there, through the veth pair.
    let addr = format!("{}:8080", pod.pod_ip);
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    let response = loop {
        match http_get(&addr) {
            Ok(text) if !text.is_empty() => break text,
            other => {
                assert!(
                    std::time::Instant::now() < deadline,
                    "no answer from {addr}: {other:?}\n{}",
                    ctd.log()
                );
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    };
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.ends_with("Hello World!"), "{response}");
    // Deleting the task gives the namespace its interface back: no tap, no redirect.
    ctd.ctr(&["task", "kill", "--signal", "SIGKILL", "web"]);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !ctd.ctr(&["task", "delete", "web"]).status.success() {
        assert!(
            std::time::Instant::now() < deadline,
            "the task never stopped"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let links = std::process::Command::new("ip")
        .args(["netns", "exec", &pod.name, "ip", "link", "show"])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&links.stdout).contains("hako0"));
    let qdiscs = std::process::Command::new("ip")
        .args([
            "netns", "exec", &pod.name, "tc", "qdisc", "show", "dev", "eth0",
        ])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&qdiscs.stdout).contains("ingress"));
    let _ = ctd.ctr(&["container", "delete", "web"]);
}
