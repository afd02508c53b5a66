//! `containerd-shim-hako-v1`: containerd's runtime v2 shim for hako (runtime
//! `io.containerd.hako.v1`). containerd starts one per container; it runs the container's
//! WebAssembly program as a unikernel with `hako run`, and answers containerd's task API
//! (create, start, state, wait, kill, delete, pids, connect, shutdown) over ttrpc through
//! containerd's own crate (`containerd-shim`).
//!
//! - **create**: mounts the root file system containerd prepared, finds the module (the
//!   image's Wasm layer, read from containerd's content store, or the file the command
//!   names), and runs `hako run --check` on it: an invalid or unsupported module, a missing
//!   entrypoint or a bad memory limit fails the task here, with hako's message, which `ctr`
//!   shows. This also compiles the module into hako's cache, keyed by its hash, so a second
//!   container of the same image compiles nothing. In a network namespace of its own, the
//!   container's interface is handed to the guest through a tap (`netns.rs`).
//! - **start**: spawns `hako run` with the container's stdio FIFOs, the root file system as
//!   the program's `/`, its arguments and environment; `hako` boots QEMU. The task's process
//!   is that `hako`, and QEMU its child (`ctr task ps` lists both).
//! - **kill**: signals `hako`, which stops QEMU and ends by the signal (status 143 for
//!   SIGTERM, 137 for SIGKILL, QEMU dying with it).
//! - **delete**: unmounts the root file system and gives the network namespace its interface
//!   back (`netns.rs`); nothing of the task is left.
//!
//! `hako` is found beside this executable, else on `PATH`. Every child is tied to the shim
//! (`PR_SET_PDEATHSIG`): a shim killed with SIGKILL takes `hako`, and so QEMU, with it.

mod content;
mod netns;
mod program;

use containerd_shim::api::{
    self, ConnectRequest, ConnectResponse, CreateTaskRequest, CreateTaskResponse, DeleteRequest,
    Empty, KillRequest, PidsRequest, PidsResponse, ShutdownRequest, StartRequest, StartResponse,
    StateRequest, StateResponse, Status, WaitRequest, WaitResponse,
};
use containerd_shim::event::Event;
use containerd_shim::monitor::{Subject, Topic};
use containerd_shim::protos::api::ProcessInfo;
use containerd_shim::protos::events::task::{TaskCreate, TaskDelete, TaskExit, TaskStart};
use containerd_shim::protos::protobuf::well_known_types::timestamp::Timestamp;
use containerd_shim::protos::protobuf::MessageField;
use containerd_shim::protos::ttrpc::context::Context;
use containerd_shim::protos::ttrpc::{Code, Error as TtrpcError, Status as RpcStatus};
use containerd_shim::publisher::RemotePublisher;
use containerd_shim::{
    monitor::monitor_subscribe, Config, DeleteResponse, ExitSignal, Flags, StartOpts, TtrpcContext,
    TtrpcResult,
};
use log::{info, warn};
use program::Program;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};

/// The runtime's name in containerd.
const RUNTIME: &str = "io.containerd.hako.v1";
/// Where the bundle keeps the module of a Wasm layer (runwasi's image layout).
const LAYER_MODULE: &str = "hako-module.wasm";
/// The network namespace the shim connected to the guest and its interface (two lines), for
/// `delete` after the shim itself died.
const NETNS_FILE: &str = "hako.netns";

fn main() {
    containerd_shim::run::<Service>(RUNTIME, None)
}

fn rpc_error(code: Code, message: impl Into<String>) -> TtrpcError {
    TtrpcError::RpcStatus(RpcStatus {
        code: code.into(),
        message: message.into(),
        ..Default::default()
    })
}

fn now() -> Timestamp {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp {
        seconds: d.as_secs() as i64,
        nanos: d.subsec_nanos() as i32,
        ..Default::default()
    }
}

/// The `hako` executable: beside this one, else on `PATH`.
fn hako() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join("hako")))
        .filter(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from("hako"))
}

/// Spawn `command` tied to the shim, and wait for its exit as the shim's reaper reports it
/// (the reaper collects every child, so `Child::wait` would race it). Runs `on_spawn` between
/// the two, with the child; returns its result and the exit status (128 + N for signal N).
fn run_watched<T>(
    command: &mut Command,
    on_spawn: impl FnOnce(&mut std::process::Child) -> T,
) -> std::io::Result<(T, i32)> {
    let subscription = monitor_subscribe(Topic::Pid).map_err(std::io::Error::other)?;
    let spawned = hako_runner::process::spawn_tied(command);
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) => {
            unsubscribe(subscription.id);
            return Err(e);
        }
    };
    let pid = child.id() as i32;
    let result = on_spawn(&mut child);
    let status = loop {
        match subscription.rx.recv() {
            Ok(event) if matches!(event.subject, Subject::Pid(p) if p == pid) => {
                break event.exit_code
            }
            Ok(_) => continue,
            Err(_) => break 255,
        }
    };
    unsubscribe(subscription.id);
    Ok((result, status))
}

fn unsubscribe(id: i64) {
    if let Ok(mut monitor) = containerd_shim::monitor::MONITOR.lock() {
        let _ = monitor.unsubscribe(id);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Created,
    Running(u32),
    Stopped { pid: u32, status: u32 },
}

/// The container's task: there is one per shim.
struct Task {
    id: String,
    bundle: PathBuf,
    stdin: String,
    stdout: String,
    stderr: String,
    program: Program,
    /// Whether `create` mounted the root file system (and `delete` unmounts it).
    mounted: bool,
    /// The network namespace whose interface the guest takes over (`netns.rs`), undone by
    /// `delete`.
    netns: Option<(PathBuf, netns::Interface)>,
    state: State,
    exited_at: Option<Timestamp>,
}

#[derive(Clone)]
struct Service {
    exit: Arc<ExitSignal>,
    namespace: String,
    address: String,
    task: Arc<(Mutex<Option<Task>>, Condvar)>,
    publisher: Option<Arc<RemotePublisher>>,
}

impl containerd_shim::Shim for Service {
    type T = Service;

    fn new(_runtime_id: &str, args: &Flags, _config: &mut Config) -> Self {
        Service {
            exit: Arc::new(ExitSignal::default()),
            namespace: args.namespace.clone(),
            address: args.address.clone(),
            task: Arc::new((Mutex::new(None), Condvar::new())),
            publisher: None,
        }
    }

    fn start_shim(&mut self, opts: StartOpts) -> Result<String, containerd_shim::Error> {
        let grouping = opts.id.clone();
        let (_pid, address) = containerd_shim::spawn(opts, &grouping, Vec::new())?;
        Ok(address)
    }

    /// After the shim died: unmount the task's root file system and give its network
    /// namespace its interface back (the working directory is the bundle). `hako`, and so
    /// QEMU, died with the shim (the parent-death signal).
    fn delete_shim(&mut self) -> Result<DeleteResponse, containerd_shim::Error> {
        let bundle = std::env::current_dir().unwrap_or_default();
        unmount(&bundle.join("rootfs"));
        if let Ok(text) = std::fs::read_to_string(bundle.join(NETNS_FILE)) {
            if let Some((path, name)) = text.split_once('\n') {
                let iface = netns::Interface {
                    name: name.trim().to_string(),
                    mac: String::new(),
                    cidr: String::new(),
                };
                disconnect_network(Path::new(path), &iface);
            }
        }
        let _ = std::fs::remove_file(bundle.join(NETNS_FILE));
        let _ = std::fs::remove_file(bundle.join(LAYER_MODULE));
        Ok(DeleteResponse {
            exit_status: 128 + 9,
            exited_at: MessageField::some(now()),
            ..Default::default()
        })
    }

    fn wait(&mut self) {
        self.exit.wait();
    }

    fn create_task_service(&self, publisher: RemotePublisher) -> Self::T {
        Service {
            publisher: Some(Arc::new(publisher)),
            ..self.clone()
        }
    }
}

fn unmount(path: &Path) {
    let _ = rustix::mount::unmount(path, rustix::mount::UnmountFlags::DETACH);
}

impl Service {
    fn publish(&self, event: impl Event + 'static) {
        let Some(publisher) = &self.publisher else {
            return;
        };
        let topic = event.topic();
        if let Err(e) =
            publisher.publish(Context::default(), &topic, &self.namespace, Box::new(event))
        {
            warn!("cannot publish {topic}: {e}");
        }
    }

    fn create_inner(&self, req: &CreateTaskRequest) -> Result<Task, String> {
        let bundle = PathBuf::from(&req.bundle);
        let spec = oci_spec::runtime::Spec::load(bundle.join("config.json"))
            .map_err(|e| format!("the container's spec: {e}"))?;
        if req.terminal {
            return Err(
                "hako gives a program no terminal: run the container without -t/--tty".into(),
            );
        }
        let rootfs = program::rootfs(&spec, &bundle);
        let mut mounted = false;
        if !req.rootfs.is_empty() {
            std::fs::create_dir_all(&rootfs).map_err(|e| format!("{}: {e}", rootfs.display()))?;
            for m in &req.rootfs {
                containerd_shim::mount::mount_rootfs(
                    Some(m.type_.as_str()).filter(|t| !t.is_empty()),
                    Some(m.source.as_str()).filter(|s| !s.is_empty()),
                    &m.options,
                    &rootfs,
                )
                .map_err(|e| format!("cannot mount the root file system: {e}"))?;
                mounted = true;
            }
        }
        let result = (|| {
            // runwasi's layout: the module is a layer containerd did not unpack.
            let layer = match content::wasm_layer(&self.address, &self.namespace, &req.id) {
                Ok(layer) => layer,
                Err(e) => {
                    warn!("no Wasm layer read from containerd ({e:#}); the module is a file in the image");
                    None
                }
            };
            let layer_module = match layer {
                Some(bytes) => {
                    let path = bundle.join(LAYER_MODULE);
                    std::fs::write(&path, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
                    Some(path)
                }
                None => None,
            };
            let mut program = program::program(&spec, &bundle, layer_module)?;
            check(&program)?;
            let connected = connect_network(&spec, &bundle)?;
            program.network = connected.0;
            Ok((program, connected.1))
        })();
        match result {
            Ok((program, netns)) => Ok(Task {
                id: req.id.clone(),
                bundle,
                stdin: req.stdin.clone(),
                stdout: req.stdout.clone(),
                stderr: req.stderr.clone(),
                program,
                mounted,
                netns,
                state: State::Created,
                exited_at: None,
            }),
            Err(e) => {
                if mounted {
                    unmount(&rootfs);
                }
                let _ = std::fs::remove_file(bundle.join(LAYER_MODULE));
                Err(e)
            }
        }
    }

    /// Spawn the task's `hako run` from a thread of its own, which lives as long as the
    /// process (the parent-death signal follows the spawning thread), records the exit and
    /// publishes it. Returns the pid.
    fn spawn(&self, task: &Task) -> Result<u32, String> {
        let mut command = match &task.netns {
            Some((path, _)) => {
                // `nsenter` execs `hako` in the container's network namespace (same pid).
                let mut c = Command::new("nsenter");
                c.arg(format!("--net={}", path.display()))
                    .arg("--")
                    .arg(hako());
                c
            }
            None => Command::new(hako()),
        };
        command.args(task.program.hako_args(false));
        let (stdin, stdout, stderr) =
            (task.stdin.clone(), task.stdout.clone(), task.stderr.clone());
        let (tx, rx) = std::sync::mpsc::channel::<Result<u32, String>>();
        let service = self.clone();
        let id = task.id.clone();
        std::thread::spawn(move || {
            let io = (|| -> std::io::Result<()> {
                // stdout/stderr: read and write, so that opening never blocks and a client
                // that detaches never breaks the pipe.
                let open = |p: &str| -> std::io::Result<Stdio> {
                    Ok(if p.is_empty() {
                        Stdio::null()
                    } else {
                        std::fs::OpenOptions::new()
                            .read(true)
                            .write(true)
                            .open(p)?
                            .into()
                    })
                };
                command.stdout(open(&stdout)?);
                command.stderr(open(&stderr)?);
                if stdin.is_empty() {
                    command.stdin(Stdio::null());
                    return Ok(());
                }
                // stdin: a client with something to write is waiting in its `open` of the
                // FIFO's write end (containerd's FIFOs open in the background), and counts as
                // a writer already; one with nothing to write has closed it unopened. So the
                // program reads until the client closes its end, or sees an empty stdin.
                command.stdin(stdin_fifo(&stdin)?);
                Ok(())
            })();
            if let Err(e) = io {
                let _ = tx.send(Err(format!("the container's stdio: {e}")));
                return;
            }
            let result = run_watched(&mut command, |child| {
                let pid = child.id();
                let _ = tx.send(Ok(pid));
                pid
            });
            match result {
                Ok((pid, status)) => {
                    let exited_at = now();
                    {
                        let (lock, cond) = &*service.task;
                        let mut guard = lock.lock().unwrap();
                        if let Some(task) = guard.as_mut() {
                            task.state = State::Stopped {
                                pid,
                                status: status as u32,
                            };
                            task.exited_at = Some(exited_at.clone());
                        }
                        cond.notify_all();
                    }
                    info!("task {id}: hako {pid} exited with {status}");
                    service.publish(TaskExit {
                        container_id: id.clone(),
                        id: id.clone(),
                        pid,
                        exit_status: status as u32,
                        exited_at: MessageField::some(exited_at),
                        ..Default::default()
                    });
                }
                Err(e) => {
                    let _ = tx.send(Err(format!("cannot start {}: {e}", hako().display())));
                }
            }
        });
        rx.recv()
            .map_err(|_| "the task's process was not started".to_string())?
    }
}

/// Run `args` in the network namespace at `path`; its stdout, or its stderr as the error.
fn in_namespace(path: &Path, args: &[String]) -> Result<String, String> {
    let mut command = Command::new("nsenter");
    command
        .arg(format!("--net={}", path.display()))
        .arg("--")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let ((out, err), status) = run_watched(&mut command, |child| {
        let mut out = String::new();
        let mut err = String::new();
        if let Some(mut o) = child.stdout.take() {
            let _ = o.read_to_string(&mut out);
        }
        if let Some(mut e) = child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        (out, err)
    })
    .map_err(|e| format!("cannot run nsenter (util-linux): {e}"))?;
    if status != 0 {
        return Err(format!(
            "in the container's network namespace, `{}`: {}",
            args.join(" "),
            err.trim()
        ));
    }
    Ok(out)
}

/// The guest's network (see `netns.rs`): `hako run`'s arguments, and the namespace and
/// interface connected (to undo at `delete`).
type Connected = (Vec<String>, Option<(PathBuf, netns::Interface)>);

fn connect_network(spec: &oci_spec::runtime::Spec, bundle: &Path) -> Result<Connected, String> {
    let path = match netns::network(spec) {
        netns::Network::Empty => return Ok((Vec::new(), None)),
        netns::Network::Host => return Ok((vec!["--net".into()], None)),
        netns::Network::Namespace(path) => path,
    };
    let words = |s: &str| s.split_whitespace().map(str::to_string).collect::<Vec<_>>();
    let iface =
        netns::interface(&in_namespace(&path, &words("ip -j addr show"))?).ok_or_else(|| {
            format!(
                "the network namespace {} has no interface with an IPv4 address for the guest",
                path.display()
            )
        })?;
    let gateway = netns::gateway(&in_namespace(&path, &words("ip -j route show default"))?)
        .ok_or_else(|| {
            format!(
                "the network namespace {} has no default route",
                path.display()
            )
        })?;
    let dns = netns::resolv_conf(spec)
        .and_then(|f| std::fs::read_to_string(f).ok())
        .and_then(|t| netns::name_server(&t))
        .unwrap_or_else(|| gateway.clone());
    let _ = std::fs::write(
        bundle.join(NETNS_FILE),
        format!("{}\n{}\n", path.display(), iface.name),
    );
    for command in netns::setup_commands(&iface) {
        if let Err(e) = in_namespace(&path, &command) {
            disconnect_network(&path, &iface);
            let _ = std::fs::remove_file(bundle.join(NETNS_FILE));
            return Err(e);
        }
    }
    info!(
        "guest network: {} in {} via {gateway}",
        iface.cidr,
        path.display()
    );
    Ok((
        netns::hako_args(&iface, &gateway, &dns),
        Some((path, iface)),
    ))
}

fn disconnect_network(path: &Path, iface: &netns::Interface) {
    for command in netns::teardown_commands(iface) {
        if let Err(e) = in_namespace(path, &command) {
            warn!("{e}");
        }
    }
}

/// The read end of the stdin FIFO at `path`, opened without waiting for a writer, then made
/// blocking for the program.
fn stdin_fifo(path: &str) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(path)?;
    rustix::fs::fcntl_setfl(&file, rustix::fs::OFlags::empty())?;
    Ok(file)
}

/// `hako run --check`: everything `run` checks and builds before booting. Its message is
/// the task's error.
fn check(program: &Program) -> Result<(), String> {
    let mut command = Command::new(hako());
    command
        .args(program.hako_args(true))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let (stderr, status) = run_watched(&mut command, |child| {
        let mut text = String::new();
        if let Some(mut err) = child.stderr.take() {
            let _ = err.read_to_string(&mut text);
        }
        text
    })
    .map_err(|e| format!("cannot run {}: {e}", hako().display()))?;
    if status == 0 {
        return Ok(());
    }
    let message = stderr
        .lines()
        .map(|l| l.trim_start_matches("error: "))
        .filter(|l| !l.trim().is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    Err(if message.is_empty() {
        format!("hako run --check failed with status {status}")
    } else {
        message
    })
}

/// `pid` and its descendants (QEMU is `hako`'s child).
fn descendants(pid: u32) -> Vec<u32> {
    let mut out = vec![pid];
    let mut i = 0;
    while i < out.len() {
        let p = out[i];
        if let Ok(tasks) = std::fs::read_dir(format!("/proc/{p}/task")) {
            for t in tasks.flatten() {
                if let Ok(text) = std::fs::read_to_string(t.path().join("children")) {
                    out.extend(
                        text.split_whitespace()
                            .filter_map(|c| c.parse::<u32>().ok()),
                    );
                }
            }
        }
        i += 1;
    }
    out
}

impl containerd_shim::Task for Service {
    fn create(
        &self,
        _ctx: &TtrpcContext,
        req: CreateTaskRequest,
    ) -> TtrpcResult<CreateTaskResponse> {
        let (lock, _) = &*self.task;
        if lock.lock().unwrap().is_some() {
            return Err(rpc_error(
                Code::ALREADY_EXISTS,
                format!("task {} exists", req.id),
            ));
        }
        let task = self
            .create_inner(&req)
            .map_err(|e| rpc_error(Code::FAILED_PRECONDITION, e))?;
        info!("task {}: {}", req.id, task.program.module.display());
        *lock.lock().unwrap() = Some(task);
        self.publish(TaskCreate {
            container_id: req.id.clone(),
            bundle: req.bundle.clone(),
            rootfs: req.rootfs.clone(),
            io: MessageField::some(containerd_shim::protos::events::task::TaskIO {
                stdin: req.stdin.clone(),
                stdout: req.stdout.clone(),
                stderr: req.stderr.clone(),
                terminal: req.terminal,
                ..Default::default()
            }),
            checkpoint: req.checkpoint.clone(),
            pid: 0,
            ..Default::default()
        });
        Ok(CreateTaskResponse {
            pid: 0,
            ..Default::default()
        })
    }

    fn start(&self, _ctx: &TtrpcContext, req: StartRequest) -> TtrpcResult<StartResponse> {
        if !req.exec_id.is_empty() {
            return Err(rpc_error(
                Code::UNIMPLEMENTED,
                "hako runs no exec processes",
            ));
        }
        let (lock, _) = &*self.task;
        let mut guard = lock.lock().unwrap();
        let task = guard
            .as_mut()
            .ok_or_else(|| rpc_error(Code::NOT_FOUND, format!("no task {}", req.id)))?;
        if task.state != State::Created {
            return Err(rpc_error(
                Code::FAILED_PRECONDITION,
                "the task has started already",
            ));
        }
        let pid = self.spawn(task).map_err(|e| rpc_error(Code::INTERNAL, e))?;
        // The exit may have been recorded already, by the spawning thread (it waits for the
        // lock): only a task still `Created` becomes `Running`.
        task.state = State::Running(pid);
        drop(guard);
        self.publish(TaskStart {
            container_id: req.id.clone(),
            pid,
            ..Default::default()
        });
        Ok(StartResponse {
            pid,
            ..Default::default()
        })
    }

    fn state(&self, _ctx: &TtrpcContext, req: StateRequest) -> TtrpcResult<StateResponse> {
        let (lock, _) = &*self.task;
        let guard = lock.lock().unwrap();
        let task = guard
            .as_ref()
            .ok_or_else(|| rpc_error(Code::NOT_FOUND, format!("no task {}", req.id)))?;
        let (status, pid, exit_status) = match task.state {
            State::Created => (Status::CREATED, 0, 0),
            State::Running(pid) => (Status::RUNNING, pid, 0),
            State::Stopped { pid, status } => (Status::STOPPED, pid, status),
        };
        Ok(StateResponse {
            id: task.id.clone(),
            bundle: task.bundle.display().to_string(),
            pid,
            status: status.into(),
            stdin: task.stdin.clone(),
            stdout: task.stdout.clone(),
            stderr: task.stderr.clone(),
            exit_status,
            exited_at: task.exited_at.clone().into(),
            ..Default::default()
        })
    }

    fn wait(&self, _ctx: &TtrpcContext, req: WaitRequest) -> TtrpcResult<WaitResponse> {
        let (lock, cond) = &*self.task;
        let mut guard = lock.lock().unwrap();
        loop {
            match guard.as_ref() {
                None => return Err(rpc_error(Code::NOT_FOUND, format!("no task {}", req.id))),
                Some(Task {
                    state: State::Stopped { status, .. },
                    exited_at,
                    ..
                }) => {
                    return Ok(WaitResponse {
                        exit_status: *status,
                        exited_at: exited_at.clone().into(),
                        ..Default::default()
                    })
                }
                Some(_) => guard = cond.wait(guard).unwrap(),
            }
        }
    }

    fn kill(&self, _ctx: &TtrpcContext, req: KillRequest) -> TtrpcResult<Empty> {
        let (lock, cond) = &*self.task;
        let mut guard = lock.lock().unwrap();
        let task = guard
            .as_mut()
            .ok_or_else(|| rpc_error(Code::NOT_FOUND, format!("no task {}", req.id)))?;
        match task.state {
            State::Running(pid) => {
                let signal = rustix::process::Signal::from_named_raw(req.signal as i32)
                    .ok_or_else(|| {
                        rpc_error(Code::INVALID_ARGUMENT, format!("no signal {}", req.signal))
                    })?;
                let pid = rustix::process::Pid::from_raw(pid as i32)
                    .ok_or_else(|| rpc_error(Code::INTERNAL, "pid 0"))?;
                rustix::process::kill_process(pid, signal)
                    .map_err(|e| rpc_error(Code::INTERNAL, format!("kill: {e}")))?;
                Ok(Empty::default())
            }
            State::Created => {
                // Nothing runs yet: the task ends as if the signal had ended it.
                task.state = State::Stopped {
                    pid: 0,
                    status: 128 + req.signal,
                };
                task.exited_at = Some(now());
                cond.notify_all();
                Ok(Empty::default())
            }
            State::Stopped { .. } => Err(rpc_error(Code::NOT_FOUND, "the process has finished")),
        }
    }

    fn delete(&self, _ctx: &TtrpcContext, req: DeleteRequest) -> TtrpcResult<api::DeleteResponse> {
        if !req.exec_id.is_empty() {
            return Err(rpc_error(Code::NOT_FOUND, "hako runs no exec processes"));
        }
        let (lock, _) = &*self.task;
        let mut guard = lock.lock().unwrap();
        let Some(task) = guard.as_ref() else {
            return Err(rpc_error(Code::NOT_FOUND, format!("no task {}", req.id)));
        };
        let (pid, status) = match task.state {
            State::Running(_) => {
                return Err(rpc_error(
                    Code::FAILED_PRECONDITION,
                    "the task is running: kill it first",
                ))
            }
            State::Created => (0, 0),
            State::Stopped { pid, status } => (pid, status),
        };
        let exited_at = task.exited_at.clone().unwrap_or_else(now);
        if task.mounted {
            unmount(&task.program.rootfs);
        }
        if let Some((path, iface)) = &task.netns {
            disconnect_network(path, iface);
        }
        let _ = std::fs::remove_file(task.bundle.join(NETNS_FILE));
        let _ = std::fs::remove_file(task.bundle.join(LAYER_MODULE));
        let id = task.id.clone();
        *guard = None;
        drop(guard);
        self.publish(TaskDelete {
            container_id: id.clone(),
            id,
            pid,
            exit_status: status,
            exited_at: MessageField::some(exited_at.clone()),
            ..Default::default()
        });
        Ok(api::DeleteResponse {
            pid,
            exit_status: status,
            exited_at: MessageField::some(exited_at),
            ..Default::default()
        })
    }

    fn pids(&self, _ctx: &TtrpcContext, _req: PidsRequest) -> TtrpcResult<PidsResponse> {
        let (lock, _) = &*self.task;
        let processes = match lock.lock().unwrap().as_ref().map(|t| t.state) {
            Some(State::Running(pid)) => descendants(pid)
                .into_iter()
                .map(|pid| ProcessInfo {
                    pid,
                    ..Default::default()
                })
                .collect(),
            _ => Vec::new(),
        };
        Ok(PidsResponse {
            processes,
            ..Default::default()
        })
    }

    fn close_io(&self, _ctx: &TtrpcContext, _req: api::CloseIORequest) -> TtrpcResult<Empty> {
        // The shim holds no end of the stdin FIFO (see `spawn`): the client closing its own
        // is the end of the program's stdin.
        Ok(Empty::default())
    }

    fn connect(&self, _ctx: &TtrpcContext, _req: ConnectRequest) -> TtrpcResult<ConnectResponse> {
        let (lock, _) = &*self.task;
        let task_pid = match lock.lock().unwrap().as_ref().map(|t| t.state) {
            Some(State::Running(pid)) | Some(State::Stopped { pid, .. }) => pid,
            _ => 0,
        };
        Ok(ConnectResponse {
            shim_pid: std::process::id(),
            task_pid,
            version: env!("CARGO_PKG_VERSION").to_string(),
            ..Default::default()
        })
    }

    fn shutdown(&self, _ctx: &TtrpcContext, _req: ShutdownRequest) -> TtrpcResult<Empty> {
        let (lock, _) = &*self.task;
        if lock.lock().unwrap().is_some() {
            // containerd shuts a shim down after deleting its task; a task still here stays.
            return Ok(Empty::default());
        }
        self.exit.signal();
        Ok(Empty::default())
    }
}
