//! # hako-compiler: WebAssembly to native x86_64 objects through LLVM
//!
//! [`compile`] turns a Wasm module into an ELF relocatable object that the kernel links in
//! and instantiates. The object contains:
//!
//! - one internal function per defined Wasm function, with the native calling convention of
//!   `hako_abi` (the instance's `VmContext` first);
//! - one array-call trampoline per exported function, for the kernel's generic calls;
//! - the module descriptor `<prefix>_module` (see `hako_abi::module`) from which the kernel
//!   instantiates the module — the only symbol the object defines globally;
//! - undefined references to the kernel builtins (`hako_*`) and to the WASI functions the
//!   module imports with their exact signature (`wasi_snapshot_preview1__*`).
//!
//! The pipeline is: validate the whole module (wasmparser, Wasm 2.0 features), parse it into
//! a [`module::ModuleInfo`], declare every function, translate every body
//! (`translate.rs`, with all ABI-dependent code in `env.rs`), emit trampolines and the
//! descriptor, verify, optimise with LLVM's new pass manager and emit the object in memory.
//!
//! Why the module is validated up front: translation then only deals with well-typed code,
//! and malformed input is always reported as [`CompileError::Invalid`] with wasmparser's
//! offset and message, never as a crash.

mod ctx;
mod descriptor;
mod env;
mod error;
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

pub use error::CompileError;
use error::{internal, Result};

/// The LLVM target triple of compiled objects: freestanding x86_64 ELF.
pub const TARGET_TRIPLE: &str = "x86_64-unknown-none-elf";

/// The WebAssembly features a module may use: the Wasm 2.0 set.
pub const FEATURES: WasmFeatures = WasmFeatures::WASM2;

/// LLVM optimisation level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OptLevel {
    O0,
    O1,
    #[default]
    O2,
    O3,
}

impl OptLevel {
    fn pipeline(self) -> &'static str {
        match self {
            OptLevel::O0 => "default<O0>",
            OptLevel::O1 => "default<O1>",
            OptLevel::O2 => "default<O2>",
            OptLevel::O3 => "default<O3>",
        }
    }

    fn codegen(self) -> OptimizationLevel {
        match self {
            OptLevel::O0 => OptimizationLevel::None,
            OptLevel::O1 => OptimizationLevel::Less,
            OptLevel::O2 => OptimizationLevel::Default,
            OptLevel::O3 => OptimizationLevel::Aggressive,
        }
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
}

impl Default for Options {
    fn default() -> Self {
        Options {
            prefix: hako_abi::module::MAIN_PREFIX.to_string(),
            opt_level: OptLevel::default(),
            cpu: "x86-64-v2".to_string(),
            emit_ir: false,
        }
    }
}

/// The result of [`compile`].
#[derive(Debug, Clone)]
pub struct Compiled {
    /// An x86_64 ELF relocatable object.
    pub object: Vec<u8>,
    /// The optimised LLVM IR, when [`Options::emit_ir`] asked for it.
    pub llvm_ir: Option<String>,
    /// The descriptor symbol the object defines (`<prefix>_module`).
    pub descriptor_symbol: String,
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

/// Compiles a Wasm module to a native object.
pub fn compile(wasm: &[u8], options: &Options) -> Result<Compiled, CompileError> {
    validate(wasm)?;
    let info = module::ModuleInfo::parse(wasm)?;
    let machine = target_machine(options)?;

    let llcx = Context::create();
    let llmod = llcx.create_module(&options.prefix);
    llmod.set_triple(&machine.get_triple());
    llmod.set_data_layout(&machine.get_target_data().get_data_layout());
    let cx = ctx::ModuleCtx::new(&llcx, llmod, &info, &options.prefix)?;

    let num_imported = info.num_imported_funcs();
    for (i, body) in info.bodies.iter().enumerate() {
        translate::translate_function(&cx, num_imported + i as u32, body)?;
    }
    let mut trampolines = vec![None; info.bodies.len()];
    for export in &info.exports {
        if matches!(export.kind, wasmparser::ExternalKind::Func) && export.index >= num_imported {
            let slot = &mut trampolines[(export.index - num_imported) as usize];
            if slot.is_none() {
                *slot = Some(trampoline::emit_trampoline(&cx, export.index)?);
            }
        }
    }
    descriptor::emit(&cx, &trampolines)?;

    cx.module.verify().map_err(|e| {
        internal(format!(
            "LLVM module verification failed: {}",
            e.to_string()
        ))
    })?;
    cx.module
        .run_passes(
            options.opt_level.pipeline(),
            &machine,
            PassBuilderOptions::create(),
        )
        .map_err(|e| internal(format!("LLVM optimisation failed: {}", e.to_string())))?;
    let llvm_ir = options
        .emit_ir
        .then(|| cx.module.print_to_string().to_string());
    let buffer = machine
        .write_to_memory_buffer(&cx.module, FileType::Object)
        .map_err(|e| internal(format!("LLVM code generation failed: {}", e.to_string())))?;
    Ok(Compiled {
        object: buffer.as_slice().to_vec(),
        llvm_ir,
        descriptor_symbol: hako_abi::module::descriptor_symbol(&options.prefix).to_string(),
    })
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

fn target_machine(options: &Options) -> Result<TargetMachine> {
    static INIT: Once = Once::new();
    INIT.call_once(|| Target::initialize_x86(&InitializationConfig::default()));
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
