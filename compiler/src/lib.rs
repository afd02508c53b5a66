//! # hako-compiler: WebAssembly to native x86_64 objects through LLVM
//!
//! [`compile`] turns a Wasm module into an ELF relocatable object (several, for a large
//! module compiled in parallel) that the kernel links in and instantiates. The object
//! contains:
//!
//! - one internal function per defined Wasm function, with the native calling convention of
//!   `hako_abi` (the instance's `VmContext` first);
//! - one array-call trampoline per exported function, for the kernel's generic calls;
//! - the module descriptor `<prefix>_module` (see `hako_abi::module`) from which the kernel
//!   instantiates the module — the only symbol the object exports (the parts of a split
//!   module share their functions as hidden symbols);
//! - with [`Options::prebuild`] (images of programs), when the module needs nothing at
//!   instantiation but constants and linked WASI functions, its instance laid out as data
//!   (`hako_abi::module::Prebuilt`: instance context, function references, canonical type
//!   ids, global slots, initial table entries, data segments with evaluated offsets), which
//!   the kernel's program mode adopts instead of instantiating;
//! - undefined references to the kernel builtins (`hako_*`) and to the WASI functions the
//!   module imports with their exact signature (`wasi_snapshot_preview1__*`).
//!
//! The pipeline is: validate the whole module (wasmparser, Wasm 2.0 features), parse it into
//! a [`module::ModuleInfo`], declare every function, translate every body
//! (`translate.rs` and `translate/`, with all ABI-dependent code in `env.rs`), emit
//! trampolines and the descriptor (`descriptor.rs`; the prebuilt instance's plan and
//! emission in `descriptor/`), verify (debug builds), optimise with LLVM's new pass manager
//! and emit the object in memory. A module with more code than [`MIN_PART_BYTES`] is split
//! after parsing into one contiguous range of functions per core; each range goes through
//! translation, optimisation and code generation on its own thread in its own LLVM context,
//! and [`merge_objects`] makes one object of the parts.
//!
//! Why the module is validated up front: translation then only deals with well-typed code,
//! and malformed input is always reported as [`CompileError::Invalid`] with wasmparser's
//! offset and message, never as a crash.

mod ctx;
mod descriptor;
mod env;
mod error;
mod merge;
mod module;
mod stack;
mod trampoline;
mod translate;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, Once};
use std::time::{Duration, Instant};

use inkwell::context::Context;
use inkwell::passes::PassBuilderOptions;
use inkwell::targets::{
    CodeModel, FileType, InitializationConfig, RelocMode, Target, TargetMachine, TargetTriple,
};
use inkwell::OptimizationLevel;

use ctx::Partition;
use error::{internal, Result};
pub use hako_compiler_api::{
    one_line, validate, validate_with_features, CompileError, OptLevel, Options, Progress,
    ProgressFn, FEATURES, HUGE_FUNCTION_BYTES, LARGE_MODULE_BYTES, MAX_PART_BYTES, MIN_PART_BYTES,
    NOT_YET, STANDARD,
};
pub use merge::merge_objects;

/// The LLVM target triple of compiled objects: freestanding x86_64 ELF.
pub const TARGET_TRIPLE: &str = "x86_64-unknown-none-elf";

/// [`compile`], then the parts of a large module merged into one object
/// ([`Compiled::into_object`]): what the runner caches and links.
pub fn compile_object(wasm: &[u8], options: &Options) -> Result<Vec<u8>, CompileError> {
    compile(wasm, options)?.into_object()
}

/// LLVM's code generation level for an optimisation level.
fn codegen_level(level: OptLevel) -> OptimizationLevel {
    match level {
        OptLevel::O0 => OptimizationLevel::None,
        OptLevel::O1 | OptLevel::O2 => OptimizationLevel::Default,
        OptLevel::O3 => OptimizationLevel::Aggressive,
    }
}

/// The result of [`compile`].
#[derive(Debug, Clone)]
pub struct Compiled {
    /// x86_64 ELF relocatable objects: one, or one per part of a module compiled in
    /// parallel (see [`compile`]). Together they define the descriptor and need each other:
    /// link all of them, or merge them into one with [`Compiled::into_object`].
    pub objects: Vec<Vec<u8>>,
    /// The optimised LLVM IR, when [`Options::emit_ir`] asked for it.
    pub llvm_ir: Option<String>,
    /// The descriptor symbol the object defines (`<prefix>_module`).
    pub descriptor_symbol: String,
    /// Where the time went.
    pub timings: Timings,
}

impl Compiled {
    /// The module as one relocatable object: the parts merged in process (see
    /// [`merge_objects`]).
    pub fn into_object(self) -> Result<Vec<u8>, CompileError> {
        merge_objects(self.objects)
    }
}

/// Where the time of one [`compile`] went, for measuring: the CPU time of each phase (of the
/// thread that ran it: on a busy host, wall-clock time also counts other processes), and
/// the wall-clock time of the parts.
#[derive(Debug, Clone, Default)]
pub struct Timings {
    /// Validating the whole module.
    pub validate: Duration,
    /// Parsing it into the compiler's view of it.
    pub parse: Duration,
    /// From the first part started to the last part finished.
    pub parts_wall: Duration,
    /// The threads that compiled the parts.
    pub threads: usize,
    /// Every part, in module order.
    pub parts: Vec<PartTimings>,
}

/// Where the time of one part went.
#[derive(Debug, Clone, Default)]
pub struct PartTimings {
    /// How many functions it defines, and the first of them (an index).
    pub functions: usize,
    pub first_function: u32,
    /// Whether it was compiled with the quick code generator (see
    /// [`OptLevel::quick_huge_functions`]).
    pub quick: bool,
    /// Their function-body code, in bytes of Wasm.
    pub code_bytes: usize,
    /// The thread that compiled it.
    pub thread: usize,
    /// When it started, from the start of the first part.
    pub started: Duration,
    /// Wall-clock time from its start to its end.
    pub wall: Duration,
    /// Creating the LLVM module and declaring every function.
    pub declare: Duration,
    /// Translating the bodies (and the trampolines and descriptor) to LLVM IR.
    pub translate: Duration,
    /// The IR pass pipeline.
    pub passes: Duration,
    /// Code generation to an object.
    pub codegen: Duration,
}

/// Compiles a Wasm module to native code: one object, or several for a large module (see
/// [`Compiled::objects`]).
///
/// A module with more function-body code than [`MIN_PART_BYTES`] is split into parts, each a
/// contiguous range of functions of at most [`MAX_PART_BYTES`] of code (and at least as many
/// parts as [`Options::threads`]), translated, optimised and compiled in its own LLVM context
/// by one of [`Options::threads`] threads. Part 0 also holds the descriptor. Functions and
/// trampolines that the parts share are hidden globals, so linking the parts together
/// ([`Compiled::into_object`], or directly into an image) resolves them and still exports
/// nothing but the descriptor.
pub fn compile(wasm: &[u8], options: &Options) -> Result<Compiled, CompileError> {
    let mut timings = Timings::default();
    let start = thread_cpu_time();
    validate(wasm)?;
    timings.validate = thread_cpu_time().saturating_sub(start);
    let start = thread_cpu_time();
    let mut info = module::ModuleInfo::parse(wasm)?;
    info.tail_convention = options.tail_convention || info.has_tail_calls()?;
    timings.parse = thread_cpu_time().saturating_sub(start);
    let all_code: u64 = info
        .bodies
        .iter()
        .map(|b| b.range().end - b.range().start)
        .sum();
    let huge = (options.opt_level.quick_huge_functions() && all_code > LARGE_MODULE_BYTES as u64)
        .then(|| options.huge_function_bytes());
    let ranges = partition(
        &info,
        options.thread_count(),
        options.max_part_bytes(),
        huge,
    );
    let sizes: Vec<usize> = ranges
        .iter()
        .map(|r| code_bytes(&info, &r.functions))
        .collect();
    let mut progress = Progress {
        parts_done: 0,
        parts: ranges.len(),
        functions_done: 0,
        functions: info.bodies.len(),
        code_bytes_done: 0,
        code_bytes: sizes.iter().sum(),
    };
    if let Some(report) = &options.progress {
        (report.0)(progress);
    }
    let split = ranges.len() > 1;
    let threads = options.thread_count().clamp(1, ranges.len());
    timings.threads = threads;
    let start = Instant::now();
    type PartResult = Result<(Vec<u8>, Option<String>, PartTimings)>;
    let parts: Vec<PartResult> = if split {
        // Initialise the target before the threads race to do it.
        target_machine(options, codegen_level(options.opt_level))?;
        // Largest parts first, so that the last parts to finish are short ones.
        let mut order: Vec<usize> = (0..ranges.len()).collect();
        order.sort_by_key(|&p| std::cmp::Reverse(sizes[p]));
        let next = AtomicUsize::new(0);
        let failed = AtomicBool::new(false);
        let results: Vec<Mutex<Option<PartResult>>> =
            ranges.iter().map(|_| Mutex::new(None)).collect();
        let progress = Mutex::new(&mut progress);
        let spawned: Result<()> = std::thread::scope(|s| {
            let mut handles = Vec::with_capacity(threads);
            for thread in 0..threads {
                let (info, ranges, sizes, order) = (&info, &ranges, &sizes, &order);
                let (next, failed, results, progress) = (&next, &failed, &results, &progress);
                let handle = std::thread::Builder::new()
                    .name(format!("hako-compile-{thread}"))
                    // Deeply nested Wasm code makes for deep recursion in LLVM.
                    .stack_size(64 << 20)
                    .spawn_scoped(s, move || loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(&p) = order.get(i) else { break };
                        if failed.load(Ordering::Relaxed) {
                            break;
                        }
                        let began = start.elapsed();
                        let result = compile_part(info, options, p, &ranges[p], Partition::Split)
                            .map(|(object, ir, mut t)| {
                                t.thread = thread;
                                t.started = began;
                                (object, ir, t)
                            });
                        if result.is_err() {
                            failed.store(true, Ordering::Relaxed);
                        } else {
                            let mut done = progress.lock().unwrap_or_else(|e| e.into_inner());
                            done.parts_done += 1;
                            done.functions_done += ranges[p].functions.len();
                            done.code_bytes_done += sizes[p];
                            if let Some(report) = &options.progress {
                                (report.0)(**done);
                            }
                        }
                        *results[p].lock().unwrap_or_else(|e| e.into_inner()) = Some(result);
                    });
                match handle {
                    Ok(h) => handles.push(h),
                    Err(e) => {
                        failed.store(true, Ordering::Relaxed);
                        return Err(internal(format!("cannot start a compiler thread: {e}")));
                    }
                }
            }
            for h in handles {
                if let Err(panic) = h.join() {
                    std::panic::resume_unwind(panic);
                }
            }
            Ok(())
        });
        spawned?;
        results
            .into_iter()
            .map(|r| {
                r.into_inner()
                    .unwrap_or_else(|e| e.into_inner())
                    .unwrap_or_else(|| Err(internal("a part was not compiled")))
            })
            .collect()
    } else {
        let part = compile_part(&info, options, 0, &ranges[0], Partition::Whole);
        if part.is_ok() {
            progress.parts_done = 1;
            progress.functions_done = progress.functions;
            progress.code_bytes_done = progress.code_bytes;
            if let Some(report) = &options.progress {
                (report.0)(progress);
            }
        }
        vec![part]
    };
    timings.parts_wall = start.elapsed();
    let mut objects = Vec::with_capacity(parts.len());
    let mut ir = Vec::new();
    // The first failure in module order (the error of a part that did not run because
    // another failed is not reported).
    let mut first_error = None;
    for part in parts {
        match part {
            Ok((object, part_ir, part_timings)) => {
                objects.push(object);
                ir.extend(part_ir);
                timings.parts.push(part_timings);
            }
            Err(e) if first_error.is_none() && !is_not_compiled(&e) => first_error = Some(e),
            Err(_) => {}
        }
    }
    if let Some(e) = first_error {
        return Err(e.into());
    }
    if objects.len() != ranges.len() {
        return Err(internal("a part was not compiled").into());
    }
    Ok(Compiled {
        objects,
        llvm_ir: options.emit_ir.then(|| ir.concat()),
        descriptor_symbol: hako_abi::module::descriptor_symbol(&options.prefix).to_string(),
        timings,
    })
}

/// The CPU time the calling thread has used.
fn thread_cpu_time() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

fn is_not_compiled(e: &error::Error) -> bool {
    matches!(&e.0, CompileError::Internal(m) if m == "a part was not compiled")
}

/// The function-body code of the defined functions `functions`, in bytes of Wasm.
fn code_bytes(info: &module::ModuleInfo<'_>, functions: &[u32]) -> usize {
    let first = info.num_imported_funcs();
    functions
        .iter()
        .map(|&f| {
            let b = &info.bodies[(f - first) as usize];
            (b.range().end - b.range().start) as usize
        })
        .sum()
}

/// One part of a module: the defined functions it compiles, and whether with the quick code
/// generator (see [`OptLevel::quick_huge_functions`]).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Part {
    /// Function indices, ascending.
    functions: Vec<u32>,
    quick: bool,
}

/// Splits the defined functions into parts of similar code size: at least `threads` of them
/// (when each can have [`MIN_PART_BYTES`]), and enough that none has more than `max_bytes`
/// unless it is one function. Each part is contiguous in its class: with `huge`, functions of
/// more than `huge` bytes go into quick parts of their own, in order, the others into
/// ordinary ones.
fn partition(
    info: &module::ModuleInfo<'_>,
    threads: usize,
    max_bytes: usize,
    huge: Option<usize>,
) -> Vec<Part> {
    let first = info.num_imported_funcs();
    let sizes: Vec<usize> = info
        .bodies
        .iter()
        .map(|b| (b.range().end - b.range().start) as usize)
        .collect();
    let total: usize = sizes.iter().sum();
    let all = || Part {
        functions: (first..first + sizes.len() as u32).collect(),
        quick: false,
    };
    if total / MIN_PART_BYTES < 2 {
        return vec![all()];
    }
    let parts = threads
        .max(total.div_ceil(max_bytes.max(MIN_PART_BYTES)))
        .min(total / MIN_PART_BYTES)
        .max(1);
    if parts == 1 {
        return vec![all()];
    }
    let target = total.div_ceil(parts);
    let mut done = Vec::with_capacity(parts + 1);
    // The part being filled of each class (ordinary, quick), the code of the class so far,
    // and where the part ends: a function whose middle is past that starts the next part.
    let mut open = [(Vec::new(), 0, target), (Vec::new(), 0, target)];
    for (i, &size) in sizes.iter().enumerate() {
        let quick = huge.is_some_and(|h| size > h);
        let (functions, code, end) = &mut open[usize::from(quick)];
        let middle = *code + size / 2;
        if !functions.is_empty() && middle > *end {
            done.push(Part {
                functions: std::mem::take(functions),
                quick,
            });
            while *end < middle {
                *end += target;
            }
        }
        functions.push(first + i as u32);
        *code += size;
    }
    for (quick, (functions, _, _)) in open.into_iter().enumerate() {
        if !functions.is_empty() {
            done.push(Part {
                functions,
                quick: quick == 1,
            });
        }
    }
    if done.is_empty() {
        done.push(all());
    }
    // In the order of their first functions, so that part 0 (the descriptor's) starts the
    // module.
    done.sort_by_key(|p| p.functions[0]);
    done
}

/// Translates, optimises and compiles the functions of `defined` (part `part` of a split
/// module, or the whole module; part 0 holds the descriptor) into an object, with its IR
/// when asked.
fn compile_part(
    info: &module::ModuleInfo<'_>,
    options: &Options,
    part: usize,
    defined: &Part,
    partition: Partition,
) -> Result<(Vec<u8>, Option<String>, PartTimings)> {
    let mut timings = PartTimings {
        code_bytes: code_bytes(info, &defined.functions),
        functions: defined.functions.len(),
        first_function: defined.functions.first().copied().unwrap_or(0),
        quick: defined.quick,
        ..PartTimings::default()
    };
    let began = Instant::now();
    let mut clock = thread_cpu_time();
    let mut lap = |phase: &mut Duration| {
        let now = thread_cpu_time();
        *phase = now.saturating_sub(clock);
        clock = now;
    };
    let codegen = if defined.quick {
        OptimizationLevel::None
    } else {
        codegen_level(options.opt_level)
    };
    let machine = target_machine(options, codegen)?;
    let llcx = Context::create();
    let name = match partition {
        Partition::Split => format!("{}.{part}", options.prefix),
        Partition::Whole => options.prefix.clone(),
    };
    let llmod = llcx.create_module(&name);
    llmod.set_triple(&machine.get_triple());
    llmod.set_data_layout(&machine.get_target_data().get_data_layout());
    let cx = ctx::ModuleCtx::new(
        &llcx,
        llmod,
        info,
        &options.prefix,
        defined.functions.clone(),
        partition,
    )?;

    lap(&mut timings.declare);
    let num_imported = info.num_imported_funcs();
    for &index in &defined.functions {
        let body = &info.bodies[(index - num_imported) as usize];
        translate::translate_function(&cx, index, body)?;
    }
    // Every exported function and the start function get a trampoline (the kernel calls
    // compiled code only through one: functions may be in the tail convention, see
    // `ctx::TAIL_CC`), in the part that defines the function; part 0 refers to those of the
    // other parts from the descriptor.
    let mut trampolines = vec![None; info.bodies.len()];
    let exported = info
        .exports
        .iter()
        .filter(|e| matches!(e.kind, wasmparser::ExternalKind::Func))
        .map(|e| e.index);
    for index in exported.chain(info.start) {
        if index < num_imported {
            continue;
        }
        let Some(slot) = trampolines.get_mut((index - num_imported) as usize) else {
            return Err(internal("function index"));
        };
        if slot.is_some() {
            continue;
        }
        if defined.functions.binary_search(&index).is_ok() {
            *slot = Some(trampoline::emit_trampoline(&cx, index)?);
        } else if part == 0 {
            *slot = Some(trampoline::declare_trampoline(&cx, index));
        }
    }
    if part == 0 {
        descriptor::emit(&cx, &trampolines, options.prebuild)?;
    }

    // The translation of validated Wasm always yields valid IR; checking that costs about a
    // tenth of a -O0 compile, so only debug builds (the test suite) pay for it.
    if cfg!(debug_assertions) {
        cx.module.verify().map_err(|e| {
            internal(format!(
                "LLVM module verification failed: {}",
                e.to_string()
            ))
        })?;
    }
    lap(&mut timings.translate);
    if let Some(pipeline) = options.opt_level.pipeline() {
        cx.module
            .run_passes(pipeline, &machine, PassBuilderOptions::create())
            .map_err(|e| internal(format!("LLVM optimisation failed: {}", e.to_string())))?;
    }
    set_tuning(&llcx, &cx.module, &options.cpu);
    if options.opt_level.fast_isel() {
        select_fast(&llcx, &cx.module);
    }
    lap(&mut timings.passes);
    let llvm_ir = options
        .emit_ir
        .then(|| cx.module.print_to_string().to_string());
    let buffer = machine
        .write_to_memory_buffer(&cx.module, FileType::Object)
        .map_err(|e| internal(format!("LLVM code generation failed: {}", e.to_string())))?;
    let object = buffer.as_slice().to_vec();
    lap(&mut timings.codegen);
    timings.wall = began.elapsed();
    Ok((object, llvm_ir, timings))
}

/// Marks every defined function `optnone` (and `noinline`, which `optnone` requires) so that
/// code generation selects instructions with FastISel (see [`OptLevel::fast_isel`]).
fn select_fast(llcx: &Context, module: &inkwell::module::Module<'_>) {
    use inkwell::attributes::{Attribute, AttributeLoc};
    let optnone = llcx.create_enum_attribute(Attribute::get_named_enum_kind_id("optnone"), 0);
    let noinline = llcx.create_enum_attribute(Attribute::get_named_enum_kind_id("noinline"), 0);
    for function in module.get_functions() {
        if function.count_basic_blocks() > 0 {
            function.add_attribute(AttributeLoc::Function, noinline);
            function.add_attribute(AttributeLoc::Function, optnone);
        }
    }
}

/// Tunes the code of an ISA level (`x86-64`, `x86-64-vN`) for no CPU in particular, as clang
/// does for `-march=x86-64-v2` (`tune-cpu` `generic`); a named CPU tunes for itself. LLVM's
/// `x86-64-v2` tuning (its own, without the attribute) rotates with `shld r, r, imm`, which
/// is microcoded on AMD Zen and slower than `rol` on Intel: hash and cipher loops (ChaCha,
/// Salsa, BLAKE2, SipHash) ran up to 4x slower with it (the rise of the 2026-12-07 geomeans
/// in docs/perf/2026-12-08-codegen.md).
fn set_tuning(llcx: &Context, module: &inkwell::module::Module<'_>, cpu: &str) {
    use inkwell::attributes::AttributeLoc;
    if !cpu.starts_with("x86-64") {
        return;
    }
    let tune = llcx.create_string_attribute("tune-cpu", "generic");
    for function in module.get_functions() {
        if function.count_basic_blocks() > 0 {
            function.add_attribute(AttributeLoc::Function, tune);
        }
    }
}

/// x86_64 CPUs LLVM 19 knows. LLVM aborts the process on a CPU it does not know that lacks
/// 64-bit mode, so the name is checked here first.
const KNOWN_CPUS: &[&str] = &[
    "x86-64",
    "x86-64-v2",
    "x86-64-v3",
    "x86-64-v4",
    "generic",
    "nehalem",
    "westmere",
    "sandybridge",
    "ivybridge",
    "haswell",
    "broadwell",
    "skylake",
    "skylake-avx512",
    "cascadelake",
    "cooperlake",
    "cannonlake",
    "icelake-client",
    "icelake-server",
    "tigerlake",
    "rocketlake",
    "alderlake",
    "raptorlake",
    "meteorlake",
    "sapphirerapids",
    "emeraldrapids",
    "graniterapids",
    "goldmont",
    "goldmont-plus",
    "tremont",
    "gracemont",
    "sierraforest",
    "grandridge",
    "btver2",
    "bdver1",
    "bdver2",
    "bdver3",
    "bdver4",
    "znver1",
    "znver2",
    "znver3",
    "znver4",
    "znver5",
];

/// LLVM's process-wide code generator options: what Wasm's semantics need, and what its code
/// runs faster with.
///
/// `-x86-cmov-converter-force-mem-operand=false`: the x86 CMOV converter turns every CMOV with
/// a memory operand into a branch and moves the load into it, so a load that must happen
/// whatever the condition (a Wasm load traps when out of bounds, and is volatile for that
/// reason) only happens on one side. A CMOV with a memory operand always reads it. Found by
/// `hako fuzz`; `runner/fuzz-regressions/dead-loads.wast` holds the case.
///
/// `-lsr-drop-solution`: loop strength reduction (at `-O3`; the FastISel levels skip it) keeps
/// its rewrite only when its own cost model rates it better than the loop as it was. A Wasm
/// address is `base + zext(i32 expression)`, and LSR, unable to share one induction variable
/// between `zext`ed sums, gave a loop of 16 accesses 16 induction variables, most of them
/// spilled: libsodium's AEGIS ran about 1.3x faster with the option
/// (docs/perf/2026-12-08-codegen.md).
const LLVM_OPTIONS: &[&str] = &[
    "hako",
    "-x86-cmov-converter-force-mem-operand=false",
    "-lsr-drop-solution",
];

fn target_machine(options: &Options, level: OptimizationLevel) -> Result<TargetMachine> {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        Target::initialize_x86(&InitializationConfig::default());
        // `HAKO_LLVM_ARGS` adds options for measuring and debugging (`-time-passes`).
        let extra = std::env::var("HAKO_LLVM_ARGS").unwrap_or_default();
        let args: Vec<std::ffi::CString> = LLVM_OPTIONS
            .iter()
            .copied()
            .chain(extra.split_whitespace())
            .filter_map(|a| std::ffi::CString::new(a).ok())
            .collect();
        let argv: Vec<*const std::ffi::c_char> = args.iter().map(|a| a.as_ptr()).collect();
        // SAFETY: `argv` holds `argv.len()` pointers to NUL-terminated strings that live (in
        // `args`) until the call returns, and the overview is a NUL-terminated literal. This
        // runs once, before any target machine exists, as LLVM requires of option parsing.
        unsafe {
            inkwell::llvm_sys::support::LLVMParseCommandLineOptions(
                argv.len() as i32,
                argv.as_ptr(),
                c"hako".as_ptr(),
            );
        }
    });
    let host;
    let cpu = if options.cpu == "native" {
        host = TargetMachine::get_host_cpu_name().to_string();
        host.as_str()
    } else if KNOWN_CPUS.contains(&options.cpu.as_str()) {
        options.cpu.as_str()
    } else {
        return Err(internal(format!(
            "unknown LLVM CPU `{}` (try x86-64-v2, x86-64-v3 or native)",
            options.cpu
        )));
    };
    let triple = TargetTriple::create(TARGET_TRIPLE);
    let target = Target::from_triple(&triple)
        .map_err(|e| internal(format!("LLVM target: {}", e.to_string())))?;
    target
        .create_target_machine(&triple, cpu, "", level, RelocMode::Static, CodeModel::Small)
        .ok_or_else(|| {
            internal(format!(
                "LLVM cannot create a target machine for CPU `{}`",
                options.cpu
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A module whose functions have these many `i32.const 1 i32.xor` pairs (3 bytes each).
    fn module(sizes: &[usize]) -> Vec<u8> {
        let mut s = String::from("(module\n");
        for n in sizes {
            s += "(func (param i32) (result i32) local.get 0\n";
            s += &"i32.const 1 i32.xor\n".repeat(*n);
            s += ")\n";
        }
        s += ")";
        wat::parse_str(&s).unwrap()
    }

    /// The parts as ranges of functions (each must be contiguous), none quick.
    fn ranges(sizes: &[usize], parts: usize) -> Vec<std::ops::Range<u32>> {
        let wasm = module(sizes);
        let info = module::ModuleInfo::parse(&wasm).unwrap();
        partition(&info, parts, MAX_PART_BYTES, None)
            .into_iter()
            .map(|p| {
                assert!(!p.quick);
                let (first, last) = (p.functions[0], *p.functions.last().unwrap());
                assert_eq!(p.functions.len() as u32, last + 1 - first, "{p:?}");
                first..last + 1
            })
            .collect()
    }

    #[test]
    fn parts_cover_every_function_once_and_none_is_empty() {
        let big = MIN_PART_BYTES; // about 3 * MIN_PART_BYTES bytes
                                  // Small modules are one part whatever the thread count.
        assert_eq!(ranges(&[10, 10], 8), vec![0..2]);
        let wasm = module(&[]);
        let info = module::ModuleInfo::parse(&wasm).unwrap();
        let none = partition(&info, 8, MAX_PART_BYTES, None);
        assert!(none.len() == 1 && none[0].functions.is_empty());
        // A large last function is a part of its own.
        assert_eq!(ranges(&[10, big], 2), vec![0..1, 1..2]);
        let r = ranges(&[big / 2, big / 2, big / 2, big / 2, big / 2, big / 2], 3);
        assert_eq!(r, vec![0..2, 2..4, 4..6]);
        let r = ranges(&[big, 10, 10, big, 10], 2);
        assert_eq!(r.first().unwrap().start, 0);
        assert_eq!(r.last().unwrap().end, 5);
        assert!(r.windows(2).all(|w| w[0].end == w[1].start));
        assert!(r.iter().all(|p| !p.is_empty()));
    }

    #[test]
    fn large_modules_are_split_into_parts_of_at_most_the_part_size() {
        let r = ranges(&[MIN_PART_BYTES / 3; 40], 2); // 40 functions of about 16 KiB
        assert_eq!(r, vec![0..13, 13..27, 27..40]);
        let wasm = module(&[MIN_PART_BYTES / 3; 40]);
        let info = module::ModuleInfo::parse(&wasm).unwrap();
        let parts = partition(&info, 2, 4 * MIN_PART_BYTES, None);
        assert!(parts.len() >= 10, "{parts:?}");
        assert!(parts
            .iter()
            .all(|p| code_bytes(&info, &p.functions) <= 5 * MIN_PART_BYTES + 64));
        // One function larger than the part size is a part of its own.
        let wasm = module(&[10, 10 * MIN_PART_BYTES, 10]);
        let info = module::ModuleInfo::parse(&wasm).unwrap();
        let parts = partition(&info, 2, 4 * MIN_PART_BYTES, None);
        assert!(parts.iter().any(|p| p.functions == [1]), "{parts:?}");
    }

    #[test]
    fn huge_functions_go_to_quick_parts_of_their_own() {
        // Functions of about 3 KiB and 12 KiB, alternating.
        let sizes: Vec<usize> = (0..40)
            .map(|i| if i % 2 == 0 { 1000 } else { 4000 })
            .collect();
        let wasm = module(&sizes);
        let info = module::ModuleInfo::parse(&wasm).unwrap();
        let parts = partition(&info, 2, 4 * MIN_PART_BYTES, Some(8 * 1024));
        let mut seen: Vec<u32> = parts.iter().flat_map(|p| p.functions.clone()).collect();
        seen.sort();
        assert_eq!(seen, (0..40).collect::<Vec<_>>(), "every function once");
        for p in &parts {
            assert!(p.functions.windows(2).all(|w| w[0] < w[1]));
            assert!(p.functions.iter().all(|f| (f % 2 == 1) == p.quick), "{p:?}");
        }
        assert_eq!(parts[0].functions[0], 0, "part 0 starts the module");
        assert!(parts.iter().any(|p| p.quick) && parts.iter().any(|p| !p.quick));
    }
}
