//! The executable's command line.
//!
//! ```text
//! app [--dir HOST[::GUEST][:ro]]... [--env NAME[=VALUE]]... [--net]
//!     [--publish [IP:]HOST_PORT:GUEST_PORT[/tcp|/udp]]... [--tcplisten IP:PORT]...
//!     [--] [ARGS...]
//! ```
//!
//! The options are Wasmtime's spelling of `hako run`'s, and are read only at the front: the
//! first argument that is not one of them (or `--`, which is dropped) starts the program's
//! own arguments, so `./app --help` hands `--help` to the program. To pass the program a
//! first argument that starts with one of them, put `--` before it. `argv[0]` is the
//! executable's name as it was started.
//!
//! **Network.** Without `--net` the program has no network: its socket functions answer
//! `NOTCAPABLE`. With it, the program uses the host's network stack directly
//! ([`crate::net`]): its sockets are host sockets, its addresses the host's.
//! `--publish HOST_PORT:GUEST_PORT` (repeatable, needs `--net`; `/udp` for a datagram
//! port, `/tcp` is the default) makes the program's `GUEST_PORT` the host's `HOST_PORT`, as
//! `hako run -p` forwards it to the unikernel: a program that binds `GUEST_PORT` gets a
//! host socket bound to `HOST_PORT`, on `IP` when the mapping names one
//! (`IP:HOST_PORT:GUEST_PORT`, IPv6 addresses in brackets), else on the address the program
//! asked for, or `127.0.0.1` when it asked for the unspecified address (`0.0.0.0`, `::`),
//! the unikernel's default for published ports; the program still reads `GUEST_PORT` as
//! its socket's port. A guest port is published at most once per protocol.
//! `--tcplisten IP:PORT` (Wasmtime's option, repeatable) listens on that host address
//! before the program starts and hands it the listener as a preopened socket, the first
//! descriptors after stdio (before the `--dir` directories, as in Wasmtime); without
//! `--net` the listeners are all the network the program gets.
//!
//! `hako run --target linux` adds options a user does not need: `--hako-harness FD` (write
//! harness records to descriptor FD), `--hako-argv0 NAME` (the program's `argv[0]`) and
//! `--hako-token TOKEN` (a kernel command-line token such as `hako.invoke=`, or a spec
//! script's restart point; see `hako_abi::boot`).

use crate::net::{Proto, Publish};
use std::net::{IpAddr, SocketAddr};

/// A preopened directory: `--dir HOST[::GUEST][:ro]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dir {
    pub host: String,
    pub guest: String,
    pub read_only: bool,
}

/// What the command line asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    /// `argv`, `argv[0]` included.
    pub args: Vec<Vec<u8>>,
    /// `NAME=VALUE` entries.
    pub env: Vec<Vec<u8>>,
    pub dirs: Vec<Dir>,
    pub harness_fd: Option<i32>,
    /// `--net`: the program may use the host's network.
    pub net: bool,
    /// `--publish` mappings.
    pub publish: Vec<Publish>,
    /// `--tcplisten` addresses.
    pub tcplisten: Vec<SocketAddr>,
    /// Kernel command-line tokens.
    pub tokens: Vec<Vec<u8>>,
}

fn dir(spec: &str) -> Result<Dir, String> {
    let (rest, read_only) = match spec.strip_suffix(":ro") {
        Some(rest) => (rest, true),
        None => (spec, false),
    };
    let (host, guest) = rest.split_once("::").unwrap_or((rest, rest));
    if host.is_empty() || guest.is_empty() {
        return Err(format!(
            "--dir {spec}: expected HOST[::GUEST][:ro] with neither part empty"
        ));
    }
    Ok(Dir {
        host: host.into(),
        guest: guest.into(),
        read_only,
    })
}

/// A port number of `--publish`: 1 to 65535.
fn port(spec: &str, p: &str) -> Result<u16, String> {
    p.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(|| {
        format!("--publish {spec}: bad port `{p}`: expected a number from 1 to 65535")
    })
}

/// `--publish [IP:]HOST_PORT:GUEST_PORT[/tcp|/udp]`.
fn publish(spec: &str) -> Result<Publish, String> {
    let (rest, proto) = match spec.rsplit_once('/') {
        None => (spec, Proto::Tcp),
        Some((rest, "tcp")) => (rest, Proto::Tcp),
        Some((rest, "udp")) => (rest, Proto::Udp),
        Some((_, p)) => {
            return Err(format!(
                "--publish {spec}: unknown protocol `{p}`: expected tcp or udp"
            ))
        }
    };
    let Some((front, guest)) = rest.rsplit_once(':') else {
        return Err(format!(
            "--publish {spec}: expected [IP:]HOST_PORT:GUEST_PORT[/tcp|/udp]"
        ));
    };
    let (ip, host) = match front.rsplit_once(':') {
        None => (None, front),
        Some((ip, host)) => {
            let bare = ip
                .strip_prefix('[')
                .and_then(|ip| ip.strip_suffix(']'))
                .unwrap_or(ip);
            let ip = bare
                .parse::<IpAddr>()
                .map_err(|_| format!("--publish {spec}: `{ip}` is not an IP address"))?;
            (Some(ip), host)
        }
    };
    Ok(Publish {
        ip,
        host: port(spec, host)?,
        guest: port(spec, guest)?,
        proto,
    })
}

/// `--tcplisten IP:PORT`.
fn tcplisten(spec: &str) -> Result<SocketAddr, String> {
    spec.parse::<SocketAddr>()
        .map_err(|_| format!("--tcplisten {spec}: expected IP:PORT (an IPv6 address in brackets)"))
}

/// Parse `argv` (with `argv[0]`); `lookup` reads our own environment for a bare
/// `--env NAME`. An error is a sentence for `error: ...`.
pub fn parse(argv: &[Vec<u8>], lookup: impl Fn(&str) -> Option<String>) -> Result<Config, String> {
    let mut config = Config::default();
    let mut argv0 = argv.first().cloned().unwrap_or_default();
    let mut i = 1;
    while i < argv.len() {
        let arg = String::from_utf8_lossy(&argv[i]).into_owned();
        if arg == "--" {
            i += 1;
            break;
        }
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        if name == "--net" {
            if inline.is_some() {
                return Err(format!("{arg}: --net takes no value"));
            }
            config.net = true;
            i += 1;
            continue;
        }
        if !matches!(
            name.as_str(),
            "--dir"
                | "--env"
                | "--publish"
                | "--tcplisten"
                | "--hako-harness"
                | "--hako-argv0"
                | "--hako-token"
        ) {
            break;
        }
        let value = match inline {
            Some(v) => v,
            None => {
                i += 1;
                match argv.get(i) {
                    Some(v) => String::from_utf8_lossy(v).into_owned(),
                    None => return Err(format!("{name} needs a value")),
                }
            }
        };
        match name.as_str() {
            "--dir" => config.dirs.push(dir(&value)?),
            "--publish" => {
                let p = publish(&value)?;
                if config
                    .publish
                    .iter()
                    .any(|q| (q.guest, q.proto) == (p.guest, p.proto))
                {
                    return Err(format!(
                        "--publish {value}: guest port {}/{} is already published",
                        p.guest,
                        p.proto.name()
                    ));
                }
                config.publish.push(p);
            }
            "--tcplisten" => config.tcplisten.push(tcplisten(&value)?),
            "--env" => match value.split_once('=') {
                Some(("", _)) => return Err(format!("--env {value}: the variable name is empty")),
                Some(_) => config.env.push(value.into_bytes()),
                None => {
                    if let Some(v) = lookup(&value) {
                        config.env.push(format!("{value}={v}").into_bytes());
                    }
                }
            },
            "--hako-harness" => {
                let fd = value
                    .parse::<i32>()
                    .ok()
                    .filter(|fd| *fd >= 0)
                    .ok_or_else(|| format!("--hako-harness {value}: not a file descriptor"))?;
                config.harness_fd = Some(fd);
            }
            "--hako-argv0" => argv0 = value.into_bytes(),
            _ => config.tokens.push(value.into_bytes()),
        }
        i += 1;
    }
    if !config.publish.is_empty() && !config.net {
        return Err(
            "--publish needs --net: without it the program has no network to publish ports of"
                .into(),
        );
    }
    config.args.push(argv0);
    config
        .args
        .extend(argv[i.min(argv.len())..].iter().cloned());
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(args: &[&str]) -> Vec<Vec<u8>> {
        args.iter().map(|a| a.as_bytes().to_vec()).collect()
    }

    fn env(name: &str) -> Option<String> {
        (name == "HOME").then(|| "/root".to_string())
    }

    #[test]
    fn options_come_first() {
        let c = parse(
            &argv(&[
                "./app",
                "--dir",
                "data::/d:ro",
                "--env=A=1",
                "--env",
                "HOME",
                "--env",
                "UNSET",
                "x",
                "--dir",
                "y",
            ]),
            env,
        )
        .unwrap();
        assert_eq!(
            c.dirs,
            vec![Dir {
                host: "data".into(),
                guest: "/d".into(),
                read_only: true
            }]
        );
        assert_eq!(c.env, argv(&["A=1", "HOME=/root"]));
        assert_eq!(c.args, argv(&["./app", "x", "--dir", "y"]));
    }

    #[test]
    fn program_options_pass_through() {
        let c = parse(&argv(&["app", "--help"]), env).unwrap();
        assert_eq!(c.args, argv(&["app", "--help"]));
        let c = parse(&argv(&["app", "--dir=.", "--", "--env", "z"]), env).unwrap();
        assert_eq!(c.args, argv(&["app", "--env", "z"]));
        assert_eq!(c.dirs[0].guest, ".");
    }

    #[test]
    fn hako_options() {
        let c = parse(
            &argv(&[
                "/tmp/x",
                "--hako-harness",
                "3",
                "--hako-argv0",
                "prog.wasm",
                "--hako-token",
                "hako.invoke=f",
            ]),
            env,
        )
        .unwrap();
        assert_eq!(c.harness_fd, Some(3));
        assert_eq!(c.args, argv(&["prog.wasm"]));
        assert_eq!(c.tokens, argv(&["hako.invoke=f"]));
    }

    #[test]
    fn network_options() {
        let c = parse(
            &argv(&[
                "app",
                "--net",
                "--publish",
                "8080:80",
                "--publish=127.0.0.2:5353:53/udp",
                "--publish",
                "[::1]:9000:90/tcp",
                "--tcplisten",
                "127.0.0.1:7000",
                "--tcplisten=[::1]:7001",
                "--net",
                "x",
                "--net",
            ]),
            env,
        )
        .unwrap();
        assert!(c.net);
        assert_eq!(
            c.publish,
            vec![
                Publish {
                    ip: None,
                    host: 8080,
                    guest: 80,
                    proto: Proto::Tcp
                },
                Publish {
                    ip: Some("127.0.0.2".parse().unwrap()),
                    host: 5353,
                    guest: 53,
                    proto: Proto::Udp
                },
                Publish {
                    ip: Some("::1".parse().unwrap()),
                    host: 9000,
                    guest: 90,
                    proto: Proto::Tcp
                },
            ]
        );
        assert_eq!(
            c.tcplisten,
            vec![
                "127.0.0.1:7000".parse().unwrap(),
                "[::1]:7001".parse().unwrap()
            ]
        );
        assert_eq!(c.args, argv(&["app", "x", "--net"]));
        // The same guest port over both protocols is two mappings.
        let c = parse(
            &argv(&["app", "--net", "--publish", "1:2", "--publish", "3:2/udp"]),
            env,
        );
        assert_eq!(c.unwrap().publish.len(), 2);
        // --tcplisten alone is allowed: its listeners are the program's only network.
        let c = parse(&argv(&["app", "--tcplisten", "0.0.0.0:0"]), env).unwrap();
        assert!(!c.net);
        assert_eq!(c.tcplisten.len(), 1);
        // Without --net nothing is set.
        let c = parse(&argv(&["app"]), env).unwrap();
        assert!(!c.net && c.publish.is_empty() && c.tcplisten.is_empty());
    }

    #[test]
    fn bad_network_options() {
        let err = |args: &[&str]| parse(&argv(args), env).unwrap_err();
        assert!(err(&["app", "--publish", "80:80"]).contains("--publish needs --net"));
        // ... wherever --net comes among the options, but not after them.
        assert!(parse(&argv(&["app", "--publish", "80:80", "--net"]), env).is_ok());
        assert!(err(&["app", "--publish", "80:80", "x", "--net"]).contains("needs --net"));
        for bad in ["0:80", "80:0", "65536:80", "80:-1", "x:80", "80:", ":80"] {
            let e = err(&["app", "--net", "--publish", bad]);
            assert!(e.contains("bad port"), "{bad}: {e}");
        }
        let e = err(&["app", "--net", "--publish", "80:80/sctp"]);
        assert!(e.contains("unknown protocol `sctp`"), "{e}");
        assert!(err(&["app", "--net", "--publish", "80"]).contains("expected [IP:]HOST_PORT"));
        assert!(err(&["app", "--net", "--publish", "1.2.3:80:80"]).contains("not an IP address"));
        let e = err(&[
            "app",
            "--net",
            "--publish",
            "81:80",
            "--publish",
            "82:80/tcp",
        ]);
        assert!(e.contains("guest port 80/tcp is already published"), "{e}");
        assert!(err(&["app", "--net=1"]).contains("takes no value"));
        assert!(err(&["app", "--net", "--publish"]).contains("needs a value"));
        assert!(err(&["app", "--tcplisten", "7000"]).contains("expected IP:PORT"));
        assert!(err(&["app", "--tcplisten", "::1:7000"]).contains("expected IP:PORT"));
    }

    #[test]
    fn bad_options() {
        assert!(parse(&argv(&["app", "--dir"]), env)
            .unwrap_err()
            .contains("needs a value"));
        assert!(parse(&argv(&["app", "--dir", "::x"]), env).is_err());
        assert!(parse(&argv(&["app", "--env", "=1"]), env).is_err());
        assert!(parse(&argv(&["app", "--hako-harness", "-1"]), env).is_err());
    }
}
