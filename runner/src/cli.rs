//! The command line of `hako` (and of `hako-llvm`, the same with the compiler linked in: see
//! [`crate::backend`]).

use crate::cache::Cache;
use crate::image::{self, BuildOptions, BuildReport, Target};
use crate::limits;
use crate::qemu::{self, Accel, BootConfig};
use crate::{input, invoke};
use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use hako_compiler_api::OptLevel;
use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(name = "hako", version, about = "Run WebAssembly programs in a unikernel", long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Compile, link and boot a WASI program; its stdout, stderr and exit status become ours.
    Run(RunArgs),
    /// Compile and link a bootable image (boot it with `qemu-system-x86_64 -M microvm -kernel
    /// IMAGE`), or with `--target linux` a static Linux executable (`./app [--dir D] [--env
    /// N=V] [--] ARGS`).
    Build(BuildArgs),
    /// Compile to a relocatable x86_64 ELF object, WASI imports left undefined.
    Compile(CompileArgs),
    /// Write an OCI image of a module (an image layout tar, for `ctr image import`), for the
    /// containerd shim `containerd-shim-hako-v1` or runwasi's shims.
    Image(ImageArgs),
    /// Run the WebAssembly spec testsuite's `.wast` scripts and report per file and tier.
    Spec(crate::spec::cli::SpecArgs),
    /// Run the WASI testsuite in the unikernel and in Wasmtime with wasi-common (the oracle), and compare.
    Wasi(crate::wasi::cli::WasiArgs),
    /// Run the spec and WASI testsuites and write the conformance report (JSON, Markdown,
    /// HTML, JUnit XML) into a directory.
    Report(crate::report::cli::ReportArgs),
    /// Measure the Sightglass benchmarks against Wasmtime (run time), compile throughput and
    /// cold start; prints a table (`--json FILE` for the full results).
    Bench(crate::bench::cli::BenchArgs),
    /// Generate modules with wasm-smith, run them in Wasmtime and in hako (at -O0 and -O3),
    /// and report, shrink and save every mismatch.
    Fuzz(crate::fuzz::cli::FuzzArgs),
}

#[derive(Args, Debug)]
struct CompileOpts {
    /// Optimisation level: 0, 1, 2 or 3.
    #[arg(short = 'O', long = "opt-level", default_value = "2", value_name = "N")]
    opt_level: OptLevel,
    /// Threads that compile a large module in parallel (default: one per core).
    #[arg(
        short = 'j',
        long = "jobs",
        default_value = "0",
        value_name = "N",
        hide_default_value = true,
        value_parser = limits::jobs
    )]
    jobs: usize,
}

impl CompileOpts {
    /// How `run`, `build` and `compile` build for `target`: with progress shown.
    fn build_options(&self, target: Target) -> BuildOptions {
        BuildOptions {
            opt_level: self.opt_level,
            target,
            jobs: self.jobs,
            progress: true,
        }
    }
}

#[derive(Args, Debug)]
struct RunArgs {
    /// The module: a `.wasm` binary or a `.wat` text file.
    module: PathBuf,
    /// Set an environment variable of the program: NAME=VALUE, or NAME to pass on ours.
    #[arg(long = "env", value_name = "NAME[=VALUE]")]
    env: Vec<String>,
    /// Preopen a host directory for the program (as GUEST, default the same path); repeatable.
    /// Exported to the guest through virtio-9p, read and write, or read-only with `:ro`.
    #[arg(long = "dir", value_name = "HOST[::GUEST][:ro]")]
    dir: Vec<String>,
    /// Give the program a network: QEMU's user network in the unikernel (the guest is
    /// 10.0.2.15, the host 10.0.2.2, DNS 10.0.2.3; outgoing connections are NATed), the
    /// host's own on the Linux target. Without it the program has no network device.
    #[arg(long)]
    net: bool,
    /// Publish a port of the program on the host (needs `--net`), as docker spells it:
    /// `[IP:]HOST_PORT:GUEST_PORT[/tcp|/udp]`, listening on 127.0.0.1 unless IP is given;
    /// repeatable.
    #[arg(short = 'p', long = "publish", value_name = "[IP:]HOST:GUEST[/udp]")]
    publish: Vec<String>,
    /// Connect the guest to this existing tap device instead of QEMU's user network (as
    /// the containerd shim does in a container's network namespace); implies a network,
    /// publishes nothing. Unikernel only.
    #[arg(long, value_name = "NAME")]
    tap: Option<String>,
    /// With `--tap`: the guest's MAC address (default QEMU's).
    #[arg(long, value_name = "MAC", requires = "tap")]
    mac: Option<String>,
    /// With `--tap`: the guest's address, as `IPV4/PREFIX,GATEWAY,DNS`, or `dhcp` (default).
    #[arg(long, value_name = "CONFIG", requires = "tap")]
    ip: Option<String>,
    /// A listening TCP socket the program gets as a preopened descriptor, taken with
    /// `sock_accept` (Wasmtime's `--tcplisten`; needs `--net`); repeatable. In the
    /// unikernel the guest listens on PORT and the host's IP:PORT is published to it.
    #[arg(long, value_name = "IP:PORT")]
    tcplisten: Vec<String>,
    /// Kill the guest after this many seconds (at most a year), or `none` for no limit.
    #[arg(long, default_value = "300", value_name = "SECONDS", value_parser = limits::timeout)]
    timeout: Duration,
    /// Guest RAM in MiB (32 to 4096).
    #[arg(long, default_value = "512", value_name = "MIB", value_parser = limits::memory_mib)]
    memory: u32,
    /// Virtualisation: `kvm` or `tcg` (default: KVM when /dev/kvm is usable).
    #[arg(long, value_name = "ACCEL")]
    accel: Option<String>,
    /// Report build times, unsupported WASI calls and the boot time on stderr.
    #[arg(short, long)]
    verbose: bool,
    /// Call this exported function instead of `_start` (for a WASI reactor: `_initialize`
    /// first when exported), with ARGS as its arguments, and print its results.
    #[arg(long, value_name = "NAME")]
    invoke: Option<String>,
    /// Where to run: in the unikernel (QEMU), or as a Linux process (a static executable
    /// with the same compiled code).
    #[arg(long, value_enum, default_value_t = Target::Unikernel)]
    target: Target,
    /// The program's own name, its `argv[0]` (default: MODULE as given).
    #[arg(long, value_name = "NAME")]
    argv0: Option<String>,
    /// Check, compile and link everything the run needs (into the cache), then exit 0
    /// without booting: the errors `run` would give before starting the guest, and a warm
    /// cache for the next run.
    #[arg(long)]
    check: bool,
    #[command(flatten)]
    compile: CompileOpts,
    /// Arguments for the program, or for the function `--invoke` names (after `--`).
    #[arg(last = true, value_name = "ARGS")]
    args: Vec<String>,
}

#[derive(Args, Debug)]
struct BuildArgs {
    module: PathBuf,
    /// Where to write the image or executable.
    #[arg(short, long, value_name = "FILE")]
    output: PathBuf,
    /// What to build: a unikernel image, or a static Linux executable.
    #[arg(long, value_enum, default_value_t = Target::Unikernel)]
    target: Target,
    #[command(flatten)]
    compile: CompileOpts,
}

#[derive(Args, Debug)]
struct ImageArgs {
    /// The module: a `.wasm` binary or a `.wat` text file (validated first).
    module: PathBuf,
    /// Where to write the image (an OCI image layout, as a tar file).
    #[arg(short, long, value_name = "FILE")]
    output: PathBuf,
    /// The image's name, `NAME[:TAG]` (default: the module's file name, tag `latest`).
    #[arg(long, value_name = "REF")]
    name: Option<String>,
    /// `wasm`: the module as a Wasm layer, runwasi's layout (containerd 1.6.25 / 1.7.7 or
    /// later); `rootfs`: the module as `/NAME.wasm` in an ordinary file-system layer.
    #[arg(long, value_enum, default_value_t = crate::oci::Layout::Wasm)]
    layout: crate::oci::Layout,
}

#[derive(Args, Debug)]
struct CompileArgs {
    module: PathBuf,
    /// Where to write the object.
    #[arg(short, long, value_name = "FILE")]
    output: PathBuf,
    #[command(flatten)]
    compile: CompileOpts,
}

/// Run the command line and exit with its status.
pub fn main() -> ! {
    let cli = Cli::parse();
    // These commands compile from the start: the launcher hands them over at once.
    let compiles = matches!(
        cli.command,
        Cmd::Spec(_) | Cmd::Wasi(_) | Cmd::Report(_) | Cmd::Bench(_) | Cmd::Fuzz(_)
    );
    if compiles {
        if let Err(err) = crate::backend::ready() {
            eprintln!("error: {err:#}");
            crate::process::exit_now(1);
        }
    }
    if let Err(err) = crate::process::end_children_on_signals() {
        eprintln!("error: {err:#}");
        crate::process::exit_now(1);
    }
    let result = match cli.command {
        Cmd::Run(args) => run(args),
        Cmd::Build(args) => build(args).map(|()| 0),
        Cmd::Compile(args) => compile(args).map(|()| 0),
        Cmd::Image(args) => image_tar(args).map(|()| 0),
        Cmd::Spec(args) => crate::spec::cli::main(args),
        Cmd::Wasi(args) => crate::wasi::cli::main(args),
        Cmd::Report(args) => crate::report::cli::main(args),
        Cmd::Bench(args) => crate::bench::cli::main(args),
        Cmd::Fuzz(args) => crate::fuzz::cli::main(args),
    };
    let status = match result {
        Ok(status) => status as u8,
        Err(err) => {
            eprintln!("error: {err:#}");
            1
        }
    };
    crate::process::exit_now(status)
}

fn run(args: RunArgs) -> Result<i32> {
    let preopens = args
        .dir
        .iter()
        .map(|d| qemu::Preopen::parse(d))
        .collect::<Result<Vec<_>>>()?;
    let net = network(&args)?;
    let module = input::read(&args.module)?;
    let cache = Cache::default_location();
    let options = args.compile.build_options(args.target);
    validate_uncompiled(&module, &options, &cache)?;
    // Before compiling: a bad --accel, a reactor without `--invoke`, or a bad `--invoke`.
    let accel = match args.accel.as_deref() {
        None => None,
        Some(_) if args.target == Target::Linux => {
            bail!("--accel is for the unikernel; a --target linux program runs as a process")
        }
        Some("kvm") => Some(Accel::Kvm),
        Some("tcg") => Some(Accel::Tcg),
        Some(other) => bail!("--accel must be `kvm` or `tcg`, not `{other}`"),
    };
    let entry = invoke::entry_tokens(
        &module.path,
        &module.wasm,
        args.invoke.as_deref(),
        &args.args,
    )?;
    let mut report = BuildReport::default();
    let image = image::build_image(&module, &options, &cache, &mut report)?;
    if args.check {
        return Ok(0);
    }

    let mut argv = vec![args.argv0.clone().unwrap_or_else(|| module.path.clone())];
    if args.invoke.is_none() {
        argv.extend(args.args);
    }
    let mut config = match args.target {
        Target::Unikernel => BootConfig::new(argv)?,
        Target::Linux => BootConfig::for_process(argv),
    };
    config.extra_cmdline = entry;
    config.timeout = args.timeout;
    config.memory_mib = args.memory;
    config.env = environment(&args.env)?;
    config.preopens = preopens;
    config.net = net;
    // stdin goes to the guest whole (see `hako_abi::boot::STDIN_KEY`); a terminal is not
    // read (the program sees an empty stdin).
    if !std::io::stdin().is_terminal() {
        let mut input = Vec::new();
        std::io::stdin()
            .read_to_end(&mut input)
            .context("reading stdin")?;
        config.stdin = Some(input);
    }
    if let Some(accel) = accel {
        config.accel = accel;
    }
    let run = args.target.boot(&image, &config)?;
    if args.verbose {
        let ms = |d: Option<Duration>| {
            d.map_or("cached".to_string(), |d| {
                format!("{:.1} ms", d.as_secs_f64() * 1e3)
            })
        };
        eprintln!(
            "hako: compile {}, link {}",
            ms(report.compile_time),
            ms(report.link_time)
        );
        eprintln!("hako: image {}", image.display());
        if let Some(net) = &config.net {
            match (&net.tap, args.target) {
                (Some(tap), _) => eprintln!(
                    "hako: network: tap device {}, guest {}",
                    tap.name, tap.config
                ),
                (None, Target::Unikernel) => eprintln!(
                    "hako: network: QEMU user network, guest {}, IPv6 {}",
                    hako_abi::boot::USER_NET,
                    hako_abi::boot::USER_NET6
                ),
                (None, Target::Linux) => eprintln!("hako: network: the host's"),
            }
            for p in &net.publish {
                eprintln!("hako: published {}", p.spec());
            }
        }
        match args.target {
            Target::Unikernel => eprintln!(
                "hako: boot to exit {:.1} ms ({:?})",
                run.wall_time.as_secs_f64() * 1e3,
                config.accel
            ),
            Target::Linux => eprintln!(
                "hako: start to exit {:.1} ms (Linux process)",
                run.wall_time.as_secs_f64() * 1e3
            ),
        }
        let bench = |which: &str| {
            run.records
                .iter()
                .filter(|r| r.kind == hako_abi::boot::record::BENCH)
                .find_map(|r| r.rest.strip_prefix(which)?.trim().parse::<u64>().ok())
        };
        if let (Some(start), Some(end)) = (bench("start"), bench("end")) {
            eprintln!(
                "hako: bench.start to bench.end {:.3} ms",
                end.saturating_sub(start) as f64 / 1e6
            );
        }
        for call in run.unsupported_calls() {
            eprintln!("hako: unsupported import called: {call}");
        }
    }
    if let Some(problem) = run.outcome.describe() {
        eprintln!("error: {problem}");
        if args.target == Target::Unikernel && problem.contains("out of memory") {
            eprintln!(
                "hint: the VM has {} MiB of RAM; `--memory MIB` gives it more",
                config.memory_mib
            );
        }
    }
    if args.invoke.is_some() && run.outcome == qemu::Outcome::Exited(0) {
        let results = run
            .records
            .iter()
            .filter(|r| r.kind == hako_abi::boot::record::RESULT)
            .map(|r| r.rest.as_str());
        for line in invoke::format_results(results)? {
            println!("{line}");
        }
    }
    Ok(run.outcome.exit_status())
}

/// `--env` values as `NAME=VALUE`; a bare `NAME` takes our own value (and is skipped if unset).
/// The network `--net`, `--publish` and `--tcplisten` ask for; the host ports are checked
/// before anything is compiled or booted.
fn network(args: &RunArgs) -> Result<Option<qemu::Net>> {
    if let Some(name) = &args.tap {
        if args.target == Target::Linux {
            bail!("--tap is for the unikernel; a --target linux program uses the host's network");
        }
        if let Some(p) = args.publish.first() {
            bail!("--publish {p}: with --tap the guest is on the tap device's network, which publishes nothing");
        }
        if let Some(t) = args.tcplisten.first() {
            bail!("--tcplisten {t} cannot be used with --tap");
        }
        let tap = qemu::Tap::new(name, args.mac.as_deref(), args.ip.as_deref())?;
        return Ok(Some(qemu::Net {
            tap: Some(tap),
            ..qemu::Net::default()
        }));
    }
    if !args.net {
        if let Some(p) = args.publish.first() {
            bail!("--publish {p} needs --net: without it the program has no network");
        }
        if let Some(t) = args.tcplisten.first() {
            bail!("--tcplisten {t} needs --net: without it the program has no network");
        }
        return Ok(None);
    }
    let publish = args
        .publish
        .iter()
        .map(|p| qemu::Publish::parse(p))
        .collect::<Result<Vec<_>>>()?;
    for (i, p) in publish.iter().enumerate() {
        let earlier = &publish[..i];
        if earlier
            .iter()
            .any(|q| q.udp == p.udp && q.host_port == p.host_port)
        {
            bail!(
                "--publish {}: host port {} is published twice",
                p.spec(),
                p.host_port
            );
        }
        // A Linux process binds the host port in place of the guest port: one each.
        if args.target == Target::Linux
            && earlier
                .iter()
                .any(|q| q.udp == p.udp && q.guest_port == p.guest_port)
        {
            bail!(
                "--publish {}: guest port {} is published twice, which a --target linux program cannot do (it binds the host port instead)",
                p.spec(),
                p.guest_port
            );
        }
        p.check_free()?;
    }
    let mut publish = publish;
    let mut tcplisten = args
        .tcplisten
        .iter()
        .map(|t| {
            t.parse::<std::net::SocketAddr>()
                .with_context(|| format!("--tcplisten {t}: expected IP:PORT"))
        })
        .collect::<Result<Vec<_>>>()?;
    if args.target == Target::Unikernel {
        // The guest has its own address: it listens on the port on all of its addresses,
        // and the host's IP:PORT is published to it.
        for a in &mut tcplisten {
            let p = qemu::Publish {
                host_ip: a.ip(),
                host_port: a.port(),
                guest_port: a.port(),
                udp: false,
            };
            p.check_free().with_context(|| format!("--tcplisten {a}"))?;
            publish.push(p);
            a.set_ip(match a.ip() {
                std::net::IpAddr::V4(_) => std::net::Ipv4Addr::UNSPECIFIED.into(),
                std::net::IpAddr::V6(_) => std::net::Ipv6Addr::UNSPECIFIED.into(),
            });
        }
    }
    Ok(Some(qemu::Net {
        tap: None,
        publish,
        tcplisten,
    }))
}

fn environment(entries: &[String]) -> Result<Vec<String>> {
    let mut env = Vec::new();
    for entry in entries {
        match entry.split_once('=') {
            Some(("", _)) => bail!("--env {entry}: the variable name is empty"),
            Some(_) => env.push(entry.clone()),
            None => {
                if let Ok(value) = std::env::var(entry) {
                    env.push(format!("{entry}={value}"));
                }
            }
        }
    }
    Ok(env)
}

/// Validate `module` unless its object is in the cache already, which it is only if it
/// validated when it was compiled ([`image::is_compiled`]): a warm start skips the validator.
fn validate_uncompiled(
    module: &input::Module,
    options: &BuildOptions,
    cache: &Cache,
) -> Result<()> {
    if image::is_compiled(module, options, cache) {
        return Ok(());
    }
    input::validate(module)
}

fn build(args: BuildArgs) -> Result<()> {
    let module = input::read(&args.module)?;
    let cache = Cache::default_location();
    let options = args.compile.build_options(args.target);
    validate_uncompiled(&module, &options, &cache)?;
    // The image boots `_start`; a reactor's image is only useful with `hako.invoke=` on the
    // kernel command line, which `hako run --invoke` writes.
    invoke::entry_tokens(&module.path, &module.wasm, None, &[])?;
    let image = image::build_image(&module, &options, &cache, &mut BuildReport::default())?;
    image::copy_out(&image, &args.output)
}

fn image_tar(args: ImageArgs) -> Result<()> {
    let module = input::read(&args.module)?;
    // Valid Wasm is enough: the image may be for another runtime, and hako says what it does
    // not compile when the container starts.
    hako_compiler_api::validate_with_features(&module.wasm, hako_compiler_api::STANDARD)
        .with_context(|| format!("{} is not a valid module", module.path))?;
    let file_name = args
        .module
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = args.name.unwrap_or_else(|| {
        crate::oci::entry_name(&file_name)
            .trim_end_matches(".wasm")
            .to_string()
    });
    let mut bytes = Vec::new();
    crate::oci::build(&module.wasm, &file_name, &name, args.layout, &mut bytes)?;
    std::fs::write(&args.output, bytes)
        .with_context(|| format!("cannot write {}", args.output.display()))
}

fn compile(args: CompileArgs) -> Result<()> {
    let module = input::read(&args.module)?;
    let cache = Cache::default_location();
    let options = args.compile.build_options(Target::default());
    validate_uncompiled(&module, &options, &cache)?;
    let (_, object) =
        image::compile_object(&module, &options, &cache, &mut BuildReport::default())?;
    image::copy_out(&object, &args.output)
}
