//! The executable's command line.
//!
//! ```text
//! app [--dir HOST[::GUEST][:ro]]... [--env NAME[=VALUE]]... [--] [ARGS...]
//! ```
//!
//! The options are Wasmtime's spelling of `hako run`'s, and are read only at the front: the
//! first argument that is not one of them (or `--`, which is dropped) starts the program's
//! own arguments, so `./app --help` hands `--help` to the program. To pass the program a
//! first argument that starts with `--dir` or `--env`, put `--` before it. `argv[0]` is the
//! executable's name as it was started.
//!
//! `hako run --target linux` adds options a user does not need: `--hako-harness FD` (write
//! harness records to descriptor FD), `--hako-argv0 NAME` (the program's `argv[0]`) and
//! `--hako-token TOKEN` (a kernel command-line token such as `hako.invoke=`, or a spec
//! script's restart point; see `hako_abi::boot`).

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

/// Parse `argv` (with `argv[0]`); `lookup` reads our own environment for a bare
/// `--env NAME`. An error is a sentence for `error: ...`.
pub fn parse(
    argv: &[Vec<u8>],
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Config, String> {
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
        if !matches!(
            name.as_str(),
            "--dir" | "--env" | "--hako-harness" | "--hako-argv0" | "--hako-token"
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
    config.args.push(argv0);
    config.args.extend(argv[i.min(argv.len())..].iter().cloned());
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
                "./app", "--dir", "data::/d:ro", "--env=A=1", "--env", "HOME", "--env", "UNSET",
                "x", "--dir", "y",
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
    fn bad_options() {
        assert!(parse(&argv(&["app", "--dir"]), env).unwrap_err().contains("needs a value"));
        assert!(parse(&argv(&["app", "--dir", "::x"]), env).is_err());
        assert!(parse(&argv(&["app", "--env", "=1"]), env).is_err());
        assert!(parse(&argv(&["app", "--hako-harness", "-1"]), env).is_err());
    }
}
