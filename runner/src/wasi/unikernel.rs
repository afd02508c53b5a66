//! The other side: the program compiled, linked with the kernel and booted in QEMU.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::cache::Cache;
use crate::image::{self, BuildOptions, BuildReport};
use crate::input;
use crate::qemu::{self, BootConfig, Outcome, Preopen, Sink};

use super::compare::Ending;

/// How to build and boot.
#[derive(Debug, Clone)]
pub struct HakoOptions {
    pub opt_level: hako_compiler_api::OptLevel,
    /// In the unikernel, or as a Linux executable.
    pub target: crate::image::Target,
    pub cache: Cache,
    pub timeout: Duration,
}

/// What one boot produced.
#[derive(Debug, Clone)]
pub struct HakoRun {
    pub ending: Ending,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// `enosys` records: the WASI functions the kernel answered `ENOSYS` (or took an
    /// unimplemented path for), in order, without the module name.
    pub enosys: Vec<String>,
    /// Compile time, when not cached.
    pub compile_time: Option<Duration>,
    /// Boot to exit.
    pub boot_time: Duration,
}

/// Build (cached) and boot `module` with `argv`, `env` and `root` preopened as `/`.
pub fn run(
    module: &input::Module,
    argv: &[String],
    env: &[(String, String)],
    root: Option<&Path>,
    options: &HakoOptions,
) -> HakoRun {
    let mut build = BuildReport::default();
    let start = Instant::now();
    match boot(module, argv, env, root, options, &mut build) {
        Ok(run) => {
            let enosys = run
                .unsupported_calls()
                .map(|call| {
                    call.strip_prefix(hako_abi::wasi::MODULE)
                        .map_or(call, |rest| rest.trim_start())
                        .to_string()
                })
                .collect();
            let ending = match &run.outcome {
                Outcome::Exited(code) => Ending::Exit { code: *code },
                Outcome::Trapped { message, .. } => Ending::Trap {
                    message: message.clone(),
                },
                other => Ending::Error {
                    message: other.describe().unwrap_or_default(),
                },
            };
            HakoRun {
                ending,
                stdout: run.stdout,
                stderr: run.stderr,
                enosys,
                compile_time: build.compile_time,
                boot_time: run.wall_time,
            }
        }
        Err(e) => HakoRun {
            ending: Ending::Error {
                // Without the temporary directory's name, so that reasons stay stable.
                message: root.map_or(format!("{e:#}"), |root| {
                    format!("{e:#}").replace(&root.display().to_string(), "<fixture copy>")
                }),
            },
            stdout: Vec::new(),
            stderr: Vec::new(),
            enosys: Vec::new(),
            compile_time: build.compile_time,
            boot_time: start.elapsed(),
        },
    }
}

fn boot(
    module: &input::Module,
    argv: &[String],
    env: &[(String, String)],
    root: Option<&Path>,
    options: &HakoOptions,
    build: &mut BuildReport,
) -> anyhow::Result<qemu::Run> {
    let build_options = BuildOptions {
        opt_level: options.opt_level,
        target: options.target,
        ..BuildOptions::default()
    };
    let image = image::build_image(module, &build_options, &options.cache, build)?;
    let mut config = match options.target {
        crate::image::Target::Unikernel => BootConfig::new(argv.to_vec())?,
        crate::image::Target::Linux => BootConfig::for_process(argv.to_vec()),
    };
    config.timeout = options.timeout;
    config.env = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    config.preopens = root
        .map(|host| Preopen::new(host, "/"))
        .into_iter()
        .collect();
    config.stdout = Sink::Capture;
    config.stderr = Sink::Capture;
    options.target.boot(&image, &config)
}
