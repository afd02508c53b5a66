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

use core::fmt;
use core::str::FromStr;
use std::sync::Once;

use inkwell::context::Context;
use inkwell::passes::PassBuilderOptions;
use inkwell::targets::{
    CodeModel, FileType, InitializationConfig, RelocMode, Target, TargetMachine, TargetTriple,
};
use inkwell::OptimizationLevel;
use wasmparser::{Validator, WasmFeatures};

use ctx::Partition;
pub use error::CompileError;
use error::{internal, Result};
pub use merge::merge_objects;

/// The LLVM target triple of compiled objects: freestanding x86_64 ELF.
pub const TARGET_TRIPLE: &str = "x86_64-unknown-none-elf";

/// The WebAssembly features a module may use: the Wasm 2.0 set.
pub const FEATURES: WasmFeatures = WasmFeatures::WASM2;

/// Optimisation level: how much LLVM work buys how much run-time speed.
///
/// Wasm from an optimising compiler (clang, rustc) has already been inlined, unrolled and
/// vectorised; what its translation mostly needs is Wasm locals in registers and the
/// address arithmetic of linear-memory accesses folded. The default level does that with a
/// short function pipeline and LLVM's fast instruction selector (FastISel) with the greedy
/// register allocator: about 4x the compile speed of LLVM's own `-O2` for run times within a
/// few percent of it on the Sightglass programs (see CONTRIBUTING.md, "Optimisation levels").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OptLevel {
    /// No IR optimisation, FastISel and the fast register allocator: quickest compile, for
    /// tests and development.
    O0,
    /// Locals promoted to registers (`sroa`), `early-cse` and `simplifycfg`, then FastISel
    /// and the greedy register allocator.
    O1,
    /// The default: [`OptLevel::O1`] plus `instcombine`.
    #[default]
    O2,
    /// LLVM's full `default<O3>` pipeline (inlining, loop and vector optimisations) and
    /// SelectionDAG code generation at its highest level: slowest compile, for long-running
    /// programs.
    O3,
}

impl OptLevel {
    fn pipeline(self) -> &'static str {
        match self {
            OptLevel::O0 => "default<O0>",
            OptLevel::O1 => "function(sroa,early-cse,simplifycfg)",
            OptLevel::O2 => "function(sroa,early-cse,instcombine<no-verify-fixpoint>,simplifycfg)",
            OptLevel::O3 => "default<O3>",
        }
    }

    fn codegen(self) -> OptimizationLevel {
        match self {
            OptLevel::O0 => OptimizationLevel::None,
            OptLevel::O1 | OptLevel::O2 => OptimizationLevel::Default,
            OptLevel::O3 => OptimizationLevel::Aggressive,
        }
    }

    /// Whether code generation uses FastISel on the optimised IR: LLVM selects it for every
    /// function marked `optnone` (which no IR pass sees after the pipeline has run), and
    /// skips the machine-level optimisations for them, but still allocates registers with
    /// the greedy allocator of the optimising code generator.
    fn fast_isel(self) -> bool {
        matches!(self, OptLevel::O1 | OptLevel::O2)
    }
}

impl FromStr for OptLevel {
    type Err = String;
    fn from_str(s: &str) -> core::result::Result<Self, String> {
        match s {
            "0" => Ok(OptLevel::O0),
            "1" => Ok(OptLevel::O1),
            "2" => Ok(OptLevel::O2),
            "3" => Ok(OptLevel::O3),
            _ => Err(format!(
                "invalid optimisation level `{s}` (expected 0, 1, 2 or 3)"
            )),
        }
    }
}

impl fmt::Display for OptLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = match self {
            OptLevel::O0 => 0,
            OptLevel::O1 => 1,
            OptLevel::O2 => 2,
            OptLevel::O3 => 3,
        };
        write!(f, "{n}")
    }
}

/// How to compile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Prefix of every symbol the object defines; the descriptor is `<prefix>_module`.
    pub prefix: String,
    pub opt_level: OptLevel,
    /// The LLVM CPU to generate code for.
    pub cpu: String,
    /// Also return the optimised LLVM IR as text (for debugging).
    pub emit_ir: bool,
    /// How many threads may compile one large module in parallel (0: one per core).
    pub threads: usize,
    /// Also lay out the module's instance ahead of time when it can be (see
    /// [`hako_abi::module::Prebuilt`]): for the program of an image, which the kernel
    /// instantiates once.
    pub prebuild: bool,
}

impl Options {
    /// [`Options::threads`], with 0 resolved to the number of cores.
    pub fn thread_count(&self) -> usize {
        match self.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            prefix: hako_abi::module::MAIN_PREFIX.to_string(),
            opt_level: OptLevel::default(),
            cpu: "x86-64-v2".to_string(),
            emit_ir: false,
            threads: 0,
            prebuild: false,
        }
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
}

impl Compiled {
    /// The module as one relocatable object: the parts merged in process (see
    /// [`merge_objects`]).
    pub fn into_object(self) -> Result<Vec<u8>, CompileError> {
        merge_objects(self.objects)
    }
}

/// Validates `wasm` as a Wasm 2.0 module.
pub fn validate(wasm: &[u8]) -> Result<(), CompileError> {
    validate_with_features(wasm, FEATURES)
}

/// Validates a module against another feature set than [`FEATURES`]: a subset rejects what
/// an older standard or a proposal written against one rejects (the spec testsuite checks
/// each proposal's scripts against the features of that proposal's base).
pub fn validate_with_features(wasm: &[u8], features: WasmFeatures) -> Result<(), CompileError> {
    Validator::new_with_features(features).validate_all(wasm)?;
    Ok(())
}

/// Below this much function-body code (bytes of Wasm) a module is compiled as one part:
/// splitting costs a thread, a target machine and the declarations of every function per
/// part, and calls between parts cannot be inlined.
pub const MIN_PART_BYTES: usize = 16 * 1024;

/// Compiles a Wasm module to native code: one object, or several for a large module (see
/// [`Compiled::objects`]).
///
/// A module with more function-body code than [`MIN_PART_BYTES`] is split into as many parts
/// as [`Options::threads`] allows, each a contiguous range of functions of about the same code
/// size, translated, optimised and compiled by its own thread in its own LLVM context. Part 0
/// also holds the descriptor. Functions and trampolines that the parts share are hidden
/// globals, so linking the parts together ([`Compiled::into_object`], or directly into an
/// image) resolves them and still exports nothing but the descriptor.
pub fn compile(wasm: &[u8], options: &Options) -> Result<Compiled, CompileError> {
    validate(wasm)?;
    let info = module::ModuleInfo::parse(wasm)?;
    let ranges = partition(&info, options.thread_count());
    let split = ranges.len() > 1;
    let parts: Vec<Result<(Vec<u8>, Option<String>)>> = if split {
        // Initialise the target before the threads race to do it.
        target_machine(options)?;
        std::thread::scope(|s| {
            let handles: Vec<_> = ranges
                .iter()
                .enumerate()
                .map(|(p, range)| {
                    let info = &info;
                    let range = range.clone();
                    std::thread::Builder::new()
                        .name(format!("hako-compile-{p}"))
                        // Deeply nested Wasm code makes for deep recursion in LLVM.
                        .stack_size(64 << 20)
                        .spawn_scoped(s, move || {
                            compile_part(info, options, p, range, Partition::Split)
                        })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| match h {
                    Ok(h) => h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)),
                    Err(e) => Err(internal(format!("cannot start a compiler thread: {e}"))),
                })
                .collect()
        })
    } else {
        vec![compile_part(
            &info,
            options,
            0,
            ranges[0].clone(),
            Partition::Whole,
        )]
    };
    let mut objects = Vec::with_capacity(parts.len());
    let mut ir = Vec::new();
    for part in parts {
        let (object, part_ir) = part?;
        objects.push(object);
        ir.extend(part_ir);
    }
    Ok(Compiled {
        objects,
        llvm_ir: options.emit_ir.then(|| ir.concat()),
        descriptor_symbol: hako_abi::module::descriptor_symbol(&options.prefix).to_string(),
    })
}

/// Splits the defined functions into at most `parts` contiguous ranges (of function indices)
/// of similar code size, each of at least [`MIN_PART_BYTES`] but for the last.
#[allow(clippy::single_range_in_vec_init)] // a list of one range, not a range of values
fn partition(info: &module::ModuleInfo<'_>, parts: usize) -> Vec<std::ops::Range<u32>> {
    let first = info.num_imported_funcs();
    let sizes: Vec<usize> = info
        .bodies
        .iter()
        .map(|b| (b.range().end - b.range().start) as usize)
        .collect();
    let total: usize = sizes.iter().sum();
    let parts = parts.min(total / MIN_PART_BYTES).max(1);
    let end = first + sizes.len() as u32;
    if parts == 1 {
        return vec![first..end];
    }
    let target = total.div_ceil(parts);
    let mut ranges = Vec::with_capacity(parts);
    let (mut start, mut acc) = (first, 0);
    for (i, size) in sizes.iter().enumerate() {
        acc += size;
        if acc >= target && ranges.len() + 1 < parts {
            let next = first + i as u32 + 1;
            ranges.push(start..next);
            start = next;
            acc = 0;
        }
    }
    // A last function larger than the target can leave nothing for the last part.
    if start < end || ranges.is_empty() {
        ranges.push(start..end);
    }
    ranges
}

/// Translates, optimises and compiles the functions `defined` (part `part` of a split
/// module, or the whole module; part 0 holds the descriptor) into an object, with its IR
/// when asked.
fn compile_part(
    info: &module::ModuleInfo<'_>,
    options: &Options,
    part: usize,
    defined: std::ops::Range<u32>,
    partition: Partition,
) -> Result<(Vec<u8>, Option<String>)> {
    let machine = target_machine(options)?;
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
        defined.clone(),
        partition,
    )?;

    let num_imported = info.num_imported_funcs();
    for index in defined.clone() {
        let body = &info.bodies[(index - num_imported) as usize];
        translate::translate_function(&cx, index, body)?;
    }
    // Every exported function gets a trampoline, in the part that defines the function;
    // part 0 refers to those of the other parts from the descriptor.
    let mut trampolines = vec![None; info.bodies.len()];
    for export in &info.exports {
        if !matches!(export.kind, wasmparser::ExternalKind::Func) || export.index < num_imported {
            continue;
        }
        let slot = &mut trampolines[(export.index - num_imported) as usize];
        if slot.is_some() {
            continue;
        }
        if defined.contains(&export.index) {
            *slot = Some(trampoline::emit_trampoline(&cx, export.index)?);
        } else if part == 0 {
            *slot = Some(trampoline::declare_trampoline(&cx, export.index));
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
    cx.module
        .run_passes(
            options.opt_level.pipeline(),
            &machine,
            PassBuilderOptions::create(),
        )
        .map_err(|e| internal(format!("LLVM optimisation failed: {}", e.to_string())))?;
    set_tuning(&llcx, &cx.module, &options.cpu);
    if options.opt_level.fast_isel() {
        select_fast(&llcx, &cx.module);
    }
    let llvm_ir = options
        .emit_ir
        .then(|| cx.module.print_to_string().to_string());
    let buffer = machine
        .write_to_memory_buffer(&cx.module, FileType::Object)
        .map_err(|e| internal(format!("LLVM code generation failed: {}", e.to_string())))?;
    Ok((buffer.as_slice().to_vec(), llvm_ir))
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
/// Salsa, BLAKE2, SipHash) ran up to 4x slower with it (docs/perf/2026-12-07-codegen.md).
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

/// LLVM's process-wide code generator options that Wasm's semantics need.
///
/// `-x86-cmov-converter-force-mem-operand=false`: the x86 CMOV converter turns every CMOV with
/// a memory operand into a branch and moves the load into it, so a load that must happen
/// whatever the condition (a Wasm load traps when out of bounds, and is volatile for that
/// reason) only happens on one side. A CMOV with a memory operand always reads it. Found by
/// `hako fuzz`; `runner/fuzz-regressions/dead-loads.wast` holds the case.
const LLVM_OPTIONS: &[&str] = &["hako", "-x86-cmov-converter-force-mem-operand=false"];

fn target_machine(options: &Options) -> Result<TargetMachine> {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        Target::initialize_x86(&InitializationConfig::default());
        let args: Vec<std::ffi::CString> = LLVM_OPTIONS
            .iter()
            .map(|a| std::ffi::CString::new(*a).expect("no NUL in the options"))
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
        .create_target_machine(
            &triple,
            cpu,
            "",
            options.opt_level.codegen(),
            RelocMode::Static,
            CodeModel::Small,
        )
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

    fn ranges(sizes: &[usize], parts: usize) -> Vec<std::ops::Range<u32>> {
        let wasm = module(sizes);
        let info = module::ModuleInfo::parse(&wasm).unwrap();
        partition(&info, parts)
    }

    #[test]
    fn parts_cover_every_function_once_and_none_is_empty() {
        let big = MIN_PART_BYTES; // about 3 * MIN_PART_BYTES bytes
                                  // Small modules are one part whatever the thread count.
        assert_eq!(ranges(&[10, 10], 8), vec![0..2]);
        assert_eq!(ranges(&[], 8), vec![0..0]);
        // A large last function would leave the last part empty.
        assert_eq!(ranges(&[10, big], 2), vec![0..2]);
        let r = ranges(&[big / 2, big / 2, big / 2, big / 2, big / 2, big / 2], 3);
        assert_eq!(r, vec![0..2, 2..4, 4..6]);
        let r = ranges(&[big, 10, 10, big, 10], 2);
        assert_eq!(r.first().unwrap().start, 0);
        assert_eq!(r.last().unwrap().end, 5);
        assert!(r.windows(2).all(|w| w[0].end == w[1].start));
        assert!(r.iter().all(|p| !p.is_empty()));
    }
}
