//! What a container runs, from its OCI runtime spec (`config.json`): which module, with which
//! arguments, environment and memory, and the `hako run` command line that runs it.
//!
//! Pure functions of the spec and the bundle's files, tested here on the host.

use oci_spec::runtime::Spec;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

const MIB: i64 = 1024 * 1024;

/// A container's program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    /// The module file on the host.
    pub module: PathBuf,
    /// The container's root file system on the host: the program's `/`.
    pub rootfs: PathBuf,
    /// `argv[0]` and the arguments after it, as the spec gives them.
    pub args: Vec<String>,
    /// `NAME=VALUE` entries.
    pub env: Vec<String>,
    /// Guest RAM in MiB, from the memory limit (`None`: hako's default).
    pub memory_mib: Option<u32>,
    /// `hako run`'s network arguments (`netns.rs`; none: no network).
    pub network: Vec<String>,
}

/// The container's root file system on the host.
pub fn rootfs(spec: &Spec, bundle: &Path) -> PathBuf {
    let path = spec
        .root()
        .as_ref()
        .map(|r| r.path().clone())
        .unwrap_or_else(|| PathBuf::from("rootfs"));
    if path.is_absolute() {
        path
    } else {
        bundle.join(path)
    }
}

/// The program of the container whose spec is `spec`, in `bundle`; `layer_module` is the
/// module taken from the image's Wasm layer, if it has one (runwasi's layout), else the
/// module is the file that `args[0]` names in the root file system.
pub fn program(
    spec: &Spec,
    bundle: &Path,
    layer_module: Option<PathBuf>,
) -> Result<Program, String> {
    let process = spec
        .process()
        .as_ref()
        .ok_or("the container's spec has no process")?;
    if process.terminal().unwrap_or(false) {
        return Err("hako gives a program no terminal: run the container without -t/--tty".into());
    }
    let args = process.args().clone().unwrap_or_default();
    let Some(first) = args.first() else {
        return Err(
            "the container has no command: give the image an entrypoint, or name the module \
             (e.g. /app.wasm) after the container's id"
                .into(),
        );
    };
    let rootfs = rootfs(spec, bundle);
    let module = match layer_module {
        Some(module) => module,
        None => module_in_rootfs(&rootfs, process.cwd(), first)?,
    };
    let memory_mib = memory_mib(spec)?;
    Ok(Program {
        module,
        rootfs,
        args,
        env: process.env().clone().unwrap_or_default(),
        memory_mib,
        network: Vec::new(),
    })
}

/// The file `name` (absolute, or relative to `cwd`) names inside `rootfs`, which must stay
/// inside it whatever symbolic links it follows, and be a regular file.
fn module_in_rootfs(rootfs: &Path, cwd: &Path, name: &str) -> Result<PathBuf, String> {
    let inside = if name.starts_with('/') {
        PathBuf::from(name)
    } else {
        cwd.join(name)
    };
    let relative = inside.strip_prefix("/").unwrap_or(&inside);
    let path = rootfs.join(relative);
    let root = rootfs
        .canonicalize()
        .map_err(|e| format!("the container's root file system {}: {e}", rootfs.display()))?;
    let real = path
        .canonicalize()
        .map_err(|e| format!("the entrypoint {name}: {e} in the container's image"))?;
    if !real.starts_with(&root) {
        return Err(format!(
            "the entrypoint {name} is a link that leads outside the container's root file system"
        ));
    }
    if !real.is_file() {
        return Err(format!(
            "the entrypoint {name} is not a file in the container's image"
        ));
    }
    Ok(real)
}

/// Guest RAM from the spec's memory limit: the limit itself in whole MiB (at most hako's
/// maximum), so that the guest's RAM, and so its linear memory, stays within it.
fn memory_mib(spec: &Spec) -> Result<Option<u32>, String> {
    let limit = spec
        .linux()
        .as_ref()
        .and_then(|l| l.resources().as_ref())
        .and_then(|r| r.memory().as_ref())
        .and_then(|m| m.limit());
    match limit {
        None => Ok(None),
        Some(l) if l <= 0 => Ok(None), // -1: unlimited
        Some(l) => {
            let mib = l / MIB;
            let min = hako_runner::limits::MIN_MEMORY_MIB as i64;
            if mib < min {
                return Err(format!(
                    "the memory limit {l} bytes is below the {min} MiB a hako guest needs"
                ));
            }
            Ok(Some(
                mib.min(hako_runner::limits::MAX_MEMORY_MIB as i64) as u32
            ))
        }
    }
}

impl Program {
    /// The arguments of `hako run` (after `hako`): `--check` to compile and check only.
    pub fn hako_args(&self, check: bool) -> Vec<OsString> {
        let mut out: Vec<OsString> = vec!["run".into()];
        if check {
            out.push("--check".into());
        }
        // A container is a service: no time limit.
        out.extend(["--timeout".into(), "none".into()]);
        out.push("--argv0".into());
        out.push(self.args[0].clone().into());
        let mut dir = OsString::from(self.rootfs.as_os_str());
        dir.push("::/");
        out.push("--dir".into());
        out.push(dir);
        for e in &self.env {
            // `--env NAME` (no `=`) would take the shim's own value: skip such entries.
            if e.contains('=') {
                out.push("--env".into());
                out.push(e.into());
            }
        }
        if let Some(mib) = self.memory_mib {
            out.push("--memory".into());
            out.push(mib.to_string().into());
        }
        if !check {
            out.extend(self.network.iter().map(OsString::from));
        }
        out.push(self.module.clone().into());
        out.push("--".into());
        out.extend(self.args[1..].iter().map(OsString::from));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{
        LinuxBuilder, LinuxMemoryBuilder, LinuxResourcesBuilder, ProcessBuilder, RootBuilder,
        SpecBuilder,
    };

    fn spec(args: &[&str], cwd: &str, limit: Option<i64>) -> Spec {
        let mut b = SpecBuilder::default()
            .root(RootBuilder::default().path("rootfs").build().unwrap())
            .process(
                ProcessBuilder::default()
                    .args(args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                    .env(vec!["A=1".to_string(), "B".to_string()])
                    .cwd(cwd)
                    .build()
                    .unwrap(),
            );
        if let Some(limit) = limit {
            b = b.linux(
                LinuxBuilder::default()
                    .resources(
                        LinuxResourcesBuilder::default()
                            .memory(LinuxMemoryBuilder::default().limit(limit).build().unwrap())
                            .build()
                            .unwrap(),
                    )
                    .build()
                    .unwrap(),
            );
        }
        b.build().unwrap()
    }

    fn bundle() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("rootfs/app")).unwrap();
        std::fs::write(dir.path().join("rootfs/app/x.wasm"), b"\0asm").unwrap();
        dir
    }

    #[test]
    fn module_from_the_root_file_system() {
        let b = bundle();
        let p = program(&spec(&["/app/x.wasm", "hi"], "/", None), b.path(), None).unwrap();
        assert_eq!(
            p.module,
            b.path().join("rootfs/app/x.wasm").canonicalize().unwrap()
        );
        assert_eq!(p.memory_mib, None);
        // Relative to the working directory.
        let p = program(&spec(&["x.wasm"], "/app", None), b.path(), None).unwrap();
        assert!(p.module.ends_with("app/x.wasm"));
    }

    #[test]
    fn command_line() {
        let b = bundle();
        let p = program(
            &spec(&["/app/x.wasm", "a b", "c"], "/", Some(64 * MIB)),
            b.path(),
            None,
        )
        .unwrap();
        let args: Vec<String> = p
            .hako_args(false)
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect();
        let root = b.path().join("rootfs").display().to_string();
        assert_eq!(
            args,
            [
                "run",
                "--timeout",
                "none",
                "--argv0",
                "/app/x.wasm",
                "--dir",
                &format!("{root}::/"),
                "--env",
                "A=1",
                "--memory",
                "64",
                &p.module.display().to_string(),
                "--",
                "a b",
                "c"
            ]
        );
        assert_eq!(p.hako_args(true)[1], "--check");
    }

    #[test]
    fn layer_module_wins() {
        let b = bundle();
        let m = b.path().join("module.wasm");
        let p = program(&spec(&["app.wasm"], "/", None), b.path(), Some(m.clone())).unwrap();
        assert_eq!(p.module, m);
        assert_eq!(p.args, ["app.wasm"]);
    }

    #[test]
    fn bad_entrypoints() {
        let b = bundle();
        let err = |args: &[&str]| program(&spec(args, "/", None), b.path(), None).unwrap_err();
        assert!(err(&[]).contains("no command"), "{}", err(&[]));
        assert!(err(&["/nope.wasm"]).contains("/nope.wasm"));
        assert!(err(&["/app"]).contains("not a file"));
        std::os::unix::fs::symlink("/etc/hostname", b.path().join("rootfs/out.wasm")).unwrap();
        assert!(
            err(&["/out.wasm"]).contains("outside"),
            "{}",
            err(&["/out.wasm"])
        );
        let up = format!("{}/etc/hostname", "/..".repeat(40));
        assert!(err(&[&up]).contains("outside"));
    }

    #[test]
    fn memory_limits() {
        let b = bundle();
        let mem = |l| program(&spec(&["/app/x.wasm"], "/", Some(l)), b.path(), None);
        assert_eq!(mem(-1).unwrap().memory_mib, None);
        assert_eq!(mem(100 * MIB + 5).unwrap().memory_mib, Some(100));
        assert_eq!(mem(1 << 40).unwrap().memory_mib, Some(4096));
        assert!(mem(16 * MIB).unwrap_err().contains("below"));
    }
}
