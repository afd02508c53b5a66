//! The boot configuration: everything a boot needs besides the image ([`BootConfig`]: the
//! accelerator, RAM, time limit, the program's arguments, environment, preopened directories,
//! stdin and umask, its network, and where its streams go), and the QEMU command line and kernel command
//! line it becomes ([`qemu_args`], [`kernel_command_line`]).

use super::Accel;
use anyhow::{bail, Context, Result};
use hako_abi::boot;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where a guest stream goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sink {
    /// Copied to our own stdout/stderr as it arrives.
    Forward,
    /// Collected into [`super::Run::stdout`] / [`super::Run::stderr`].
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
    /// The program's network (`hako run --net`); `None`: no network device at all.
    pub net: Option<Net>,
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
            net: None,
        })
    }
}

impl BootConfig {
    /// [`BootConfig::new`] for a Linux process (`--target linux`): no accelerator is looked
    /// for, since none is used.
    pub fn for_process(args: Vec<String>) -> BootConfig {
        BootConfig {
            accel: Accel::Tcg,
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
            net: None,
        }
    }
}

/// A host directory the guest sees as a preopened directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preopen {
    pub host: PathBuf,
    /// The name the guest sees (`fd_prestat_dir_name`), e.g. `/` or `.`.
    pub guest: String,
    /// Exported read-only: QEMU's 9p server (`readonly=on`) refuses every change, which the
    /// guest sees as `EROFS`, whatever the guest kernel does.
    pub read_only: bool,
}

impl Preopen {
    /// A read-write preopen of `host` named `guest`.
    pub fn new(host: impl Into<PathBuf>, guest: impl Into<String>) -> Preopen {
        Preopen {
            host: host.into(),
            guest: guest.into(),
            read_only: false,
        }
    }

    /// Parse Wasmtime's `--dir` syntax, `HOST[::GUEST]` (the guest name defaulting to
    /// `HOST`), with an optional `:ro` at the end for a read-only directory.
    pub fn parse(spec: &str) -> Result<Preopen> {
        let (rest, read_only) = match spec.strip_suffix(":ro") {
            Some(rest) => (rest, true),
            None => (spec, false),
        };
        let (host, guest) = rest.split_once("::").unwrap_or((rest, rest));
        if host.is_empty() || guest.is_empty() {
            bail!("--dir {spec}: expected HOST[::GUEST][:ro] with neither part empty");
        }
        let path = PathBuf::from(host);
        if !path.is_dir() {
            bail!("--dir {spec}: {host} is not a directory");
        }
        Ok(Preopen {
            read_only,
            ..Preopen::new(path, guest)
        })
    }
}
/// The network a program is given: QEMU's user network (the guest at 10.0.2.15 behind a NAT
/// with the host at 10.0.2.2, [`boot::USER_NET`]) in the unikernel, the host's own in a
/// Linux process; ports published from the host to the guest; listening sockets opened
/// before the program starts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Net {
    /// A tap device to connect the guest to instead of QEMU's user network (the containerd
    /// shim's, in a container's network namespace); then nothing is published.
    pub tap: Option<Tap>,
    pub publish: Vec<Publish>,
    /// `--tcplisten` addresses (Wasmtime's option): listening sockets the program gets as
    /// preopened descriptors, before the preopened directories.
    pub tcplisten: Vec<SocketAddr>,
}

/// A guest network on an existing tap device (`hako run --tap`): the device's name, the
/// guest's MAC address, and its configuration as [`boot::NET_KEY`] takes it (`dhcp`, or
/// `<ipv4>/<prefix>,<gateway>,<dns>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tap {
    pub name: String,
    pub mac: Option<String>,
    pub config: String,
}

impl Tap {
    /// Check what `--tap`, `--mac` and `--ip` give, so that QEMU and the kernel get only
    /// well-formed values.
    pub fn new(name: &str, mac: Option<&str>, config: Option<&str>) -> Result<Tap> {
        if name.is_empty()
            || name.len() > 15
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            bail!("--tap {name}: not a network interface name (1 to 15 of A-Z a-z 0-9 - _ .)");
        }
        if let Some(mac) = mac {
            let parts: Vec<&str> = mac.split(':').collect();
            if parts.len() != 6
                || !parts
                    .iter()
                    .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()))
            {
                bail!("--mac {mac}: expected six hexadecimal bytes, e.g. 52:54:00:12:34:56");
            }
        }
        let config = config.unwrap_or("dhcp");
        if config != "dhcp" {
            let bad = || anyhow::anyhow!("--ip {config}: expected IPV4/PREFIX,GATEWAY,DNS or dhcp");
            let parts: Vec<&str> = config.split(',').collect();
            let [cidr, gateway, dns] = parts[..] else {
                return Err(bad());
            };
            let (ip, prefix) = cidr.split_once('/').ok_or_else(bad)?;
            ip.parse::<Ipv4Addr>().map_err(|_| bad())?;
            gateway.parse::<Ipv4Addr>().map_err(|_| bad())?;
            dns.parse::<Ipv4Addr>().map_err(|_| bad())?;
            if !prefix.parse::<u8>().is_ok_and(|p| (1..=32).contains(&p)) {
                return Err(bad());
            }
        }
        Ok(Tap {
            name: name.to_string(),
            mac: mac.map(str::to_string),
            config: config.to_string(),
        })
    }
}

/// A published port, `[IP:]HOST_PORT:GUEST_PORT[/tcp|/udp]` as docker and nerdctl spell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Publish {
    /// The host address the port listens on (127.0.0.1 unless one is given).
    pub host_ip: IpAddr,
    pub host_port: u16,
    pub guest_port: u16,
    pub udp: bool,
}

impl Publish {
    /// Parse `-p`/`--publish`.
    pub fn parse(spec: &str) -> Result<Publish> {
        let bad = |why: &str| {
            anyhow::anyhow!(
                "--publish {spec}: {why} (expected [IP:]HOST_PORT:GUEST_PORT[/tcp|/udp])"
            )
        };
        let (rest, udp) = match spec.rsplit_once('/') {
            Some((rest, "udp")) => (rest, true),
            Some((rest, "tcp")) => (rest, false),
            Some((_, other)) => return Err(bad(&format!("unknown protocol `{other}`"))),
            None => (spec, false),
        };
        let (front, guest) = rest.rsplit_once(':').ok_or_else(|| bad("no guest port"))?;
        let (ip, host) = match front.rsplit_once(':') {
            Some((ip, host)) => {
                let ip = ip.trim_start_matches('[').trim_end_matches(']');
                let ip: IpAddr = ip
                    .parse()
                    .map_err(|_| bad(&format!("`{ip}` is not an IP address")))?;
                (ip, host)
            }
            None => (IpAddr::V4(Ipv4Addr::LOCALHOST), front),
        };
        let port = |p: &str| -> Result<u16> {
            match p.parse::<u16>() {
                Ok(0) | Err(_) => Err(bad(&format!("`{p}` is not a port number (1 to 65535)"))),
                Ok(n) => Ok(n),
            }
        };
        Ok(Publish {
            host_ip: ip,
            host_port: port(host)?,
            guest_port: port(guest)?,
            udp,
        })
    }

    /// The spelling [`Publish::parse`] reads.
    pub fn spec(&self) -> String {
        let ip = match self.host_ip {
            IpAddr::V6(v6) => format!("[{v6}]"),
            v4 => v4.to_string(),
        };
        let proto = if self.udp { "udp" } else { "tcp" };
        format!("{ip}:{}:{}/{proto}", self.host_port, self.guest_port)
    }

    /// Fail with a clear message when the host port cannot be taken (in use, or an
    /// address this host does not have), before anything boots.
    pub fn check_free(&self) -> Result<()> {
        let addr = SocketAddr::new(self.host_ip, self.host_port);
        let r = if self.udp {
            std::net::UdpSocket::bind(addr).map(drop)
        } else {
            std::net::TcpListener::bind(addr).map(drop)
        };
        r.with_context(|| {
            format!(
                "--publish {}: cannot listen on host port {} ({})",
                self.spec(),
                addr,
                if self.udp { "udp" } else { "tcp" }
            )
        })
    }

    /// QEMU's `hostfwd=` rule.
    fn hostfwd(&self) -> String {
        let proto = if self.udp { "udp" } else { "tcp" };
        let ip = match self.host_ip {
            IpAddr::V6(v6) => format!("[{v6}]"),
            v4 => v4.to_string(),
        };
        format!(
            "hostfwd={proto}:{ip}:{}-:{}",
            self.host_port, self.guest_port
        )
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
/// Published TCP ports are QEMU's own listeners here; [`qemu_args_relayed`] has `hako`
/// relay them.
pub fn qemu_args(image: &Path, config: &BootConfig, sockets: &[String; 3]) -> Vec<String> {
    qemu_args_relayed(image, config, sockets, &[])
}

/// [`qemu_args`] with the published TCP ports relayed by `hako` (`super::forward`): QEMU's
/// rule for the `i`-th TCP port listens on `127.0.0.1:relay_ports[i]` instead.
pub fn qemu_args_relayed(
    image: &Path,
    config: &BootConfig,
    sockets: &[String; 3],
    relay_ports: &[u16],
) -> Vec<String> {
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
        let read_only = if preopen.read_only {
            ",readonly=on"
        } else {
            ""
        };
        args.push(format!(
            "local,id=fs{i},path={host},security_model=none{read_only}"
        ));
        args.push("-device".into());
        args.push(format!(
            "virtio-9p-device,fsdev=fs{i},mount_tag={}",
            boot::preopen_mount_tag(i)
        ));
    }
    if let Some(Net { tap: Some(tap), .. }) = &config.net {
        args.extend([
            "-netdev".into(),
            format!("tap,id=net0,ifname={},script=no,downscript=no", tap.name),
            "-device".into(),
            match &tap.mac {
                Some(mac) => format!("virtio-net-device,netdev=net0,mac={mac}"),
                None => "virtio-net-device,netdev=net0".into(),
            },
        ]);
    } else if let Some(net) = &config.net {
        let mut netdev = String::from("user,id=net0");
        let mut relays = relay_ports.iter();
        for p in &net.publish {
            netdev.push(',');
            let relay = if p.udp { None } else { relays.next() };
            match relay {
                Some(inner) => {
                    netdev.push_str(&format!("hostfwd=tcp:127.0.0.1:{inner}-:{}", p.guest_port))
                }
                None => netdev.push_str(&p.hostfwd()),
            }
        }
        args.extend([
            "-netdev".into(),
            netdev,
            "-device".into(),
            "virtio-net-device,netdev=net0".into(),
        ]);
    }
    args.push("-append".into());
    let mut tokens = vec![kernel_command_line(&config.args, &config.env)];
    if let Some(net) = &config.net {
        match &net.tap {
            Some(tap) => tokens.push(format!("{}{}", boot::NET_KEY, tap.config)),
            None => {
                tokens.push(format!("{}{}", boot::NET_KEY, boot::USER_NET));
                tokens.push(format!("{}{}", boot::NET6_KEY, boot::USER_NET6));
            }
        }
        for a in &net.tcplisten {
            tokens.push(format!("{}{a}", boot::TCPLISTEN_KEY));
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_specs() {
        let p = Publish::parse("8080:80").unwrap();
        assert_eq!(
            (p.host_ip, p.host_port, p.guest_port, p.udp),
            ("127.0.0.1".parse().unwrap(), 8080, 80, false)
        );
        assert_eq!(p.hostfwd(), "hostfwd=tcp:127.0.0.1:8080-:80");
        let p = Publish::parse("0.0.0.0:5353:53/udp").unwrap();
        assert_eq!(p.hostfwd(), "hostfwd=udp:0.0.0.0:5353-:53");
        assert_eq!(Publish::parse(&p.spec()).unwrap(), p);
        let p = Publish::parse("[::1]:8080:80/tcp").unwrap();
        assert_eq!(p.host_ip, "::1".parse::<IpAddr>().unwrap());
        assert_eq!(Publish::parse(&p.spec()).unwrap(), p);
        for bad in [
            "80",
            "0:80",
            "8080:70000",
            "8080:80/sctp",
            "x:8080:80",
            "a:b",
        ] {
            let e = Publish::parse(bad).unwrap_err().to_string();
            assert!(e.starts_with(&format!("--publish {bad}: ")), "{e}");
        }
    }

    #[test]
    fn a_network_is_a_device_and_tokens() {
        let mut c = BootConfig::for_process(vec!["app".into()]);
        c.net = Some(Net {
            tap: None,
            publish: vec![Publish::parse("8080:1234").unwrap()],
            tcplisten: vec!["0.0.0.0:80".parse().unwrap()],
        });
        let socks = ["a".to_string(), "b".to_string(), "c".to_string()];
        let args = qemu_args(Path::new("img"), &c, &socks).join(" ");
        assert!(args.contains("-netdev user,id=net0,hostfwd=tcp:127.0.0.1:8080-:1234 -device virtio-net-device,netdev=net0"), "{args}");
        assert!(
            args.contains("hako.net=10.0.2.15/24,10.0.2.2,10.0.2.3"),
            "{args}"
        );
        assert!(args.contains("hako.tcplisten=0.0.0.0:80"), "{args}");
        c.net
            .as_mut()
            .unwrap()
            .publish
            .insert(0, Publish::parse("53:53/udp").unwrap());
        let args = qemu_args_relayed(Path::new("img"), &c, &socks, &[40000]).join(" ");
        assert!(
            args.contains("hostfwd=udp:127.0.0.1:53-:53,hostfwd=tcp:127.0.0.1:40000-:1234 "),
            "{args}"
        );
        c.net = None;
        let args = qemu_args(Path::new("img"), &c, &socks).join(" ");
        assert!(
            !args.contains("netdev") && !args.contains("hako.net"),
            "{args}"
        );
    }

    #[test]
    fn a_tap_network() {
        let tap = Tap::new(
            "hako0",
            Some("52:54:00:aa:bb:cc"),
            Some("10.1.2.3/24,10.1.2.1,10.1.2.1"),
        )
        .unwrap();
        let mut c = BootConfig::new(vec!["p".into()]).unwrap();
        c.net = Some(Net {
            tap: Some(tap),
            ..Net::default()
        });
        let socks = ["a".to_string(), "b".to_string(), "c".to_string()];
        let args = qemu_args(Path::new("img"), &c, &socks).join(" ");
        assert!(args.contains("-netdev tap,id=net0,ifname=hako0,script=no,downscript=no -device virtio-net-device,netdev=net0,mac=52:54:00:aa:bb:cc"), "{args}");
        assert!(
            args.contains("hako.net=10.1.2.3/24,10.1.2.1,10.1.2.1"),
            "{args}"
        );
        assert!(
            !args.contains("hako.net6") && !args.contains("user,"),
            "{args}"
        );
        assert!(Tap::new("a b", None, None).is_err());
        assert!(Tap::new("hako0", Some("52:54:00:aa:bb"), None).is_err());
        assert!(Tap::new("hako0", None, Some("10.1.2.3,10.1.2.1,10.1.2.1")).is_err());
        assert!(Tap::new("hako0", None, Some("10.1.2.3/33,10.1.2.1,10.1.2.1")).is_err());
        assert_eq!(Tap::new("hako0", None, None).unwrap().config, "dhcp");
    }

    #[test]
    fn command_line_round_trips() {
        let line = kernel_command_line(&["a b".into(), "%=".into()], &["K=V W".into()]);
        assert_eq!(line, "hako.arg=a%20b hako.arg=%25%3D hako.env=K%3DV%20W");
    }
}
