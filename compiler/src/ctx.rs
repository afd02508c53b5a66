//! Module-wide LLVM state shared (read-only) by every function translation: the LLVM
//! module, the common types, the declaration of every callable function and the kernel
//! builtins.
//!
//! Everything here is created before the first body is translated, so a function's
//! translation depends only on this context and its own body. Large modules are split over
//! several LLVM modules compiled in parallel (see `lib.rs`): each part has its own
//! `ModuleCtx`, which defines the functions of its range and declares all others.

use hako_abi::builtins;
use inkwell::attributes::{Attribute, AttributeLoc};
use inkwell::builder::Builder;
use inkwell::context::Context;
use inkwell::intrinsics::Intrinsic;
use inkwell::module::{Linkage, Module};
use inkwell::types::{
    BasicMetadataTypeEnum, BasicType, BasicTypeEnum, FloatType, FunctionType, IntType, PointerType,
    VectorType,
};
use inkwell::values::{BasicValueEnum, FunctionValue, GlobalValue};
use inkwell::AddressSpace;
use inkwell::GlobalVisibility;
use std::cell::RefCell;
use wasmparser::{FuncType, ValType};

use crate::error::{internal, Result};
use crate::module::ModuleInfo;

/// The tail calling convention (`hako_abi::module::convention::TAIL`): LLVM's `tailcc`, with
/// which a `musttail` call is a jump whatever the two signatures (the callee pops its own
/// stack arguments), so that `return_call` runs in constant stack. A module with tail calls
/// (or compiled with [`crate::Options::tail_convention`]) has every function in it, and
/// every call to such a function (direct, through an import's `VmContext::funcs` slot,
/// `call_indirect`, `call_ref`, the array-call trampolines) uses it; on x86-64 it passes
/// arguments and results in the C convention's registers, but the callee pops its stack
/// arguments rounded to keep the stack aligned, at least 8 bytes (`ret $8`), which costs
/// ordinary calls about a cycle. So a `FuncRef`'s code is then never a C function: the WASI
/// functions a module links get an adapter ([`ModuleCtx::funcref_code`]), and the kernel's
/// stubs have tailcc entries (`kernel/src/shims.rs`). A module without tail calls keeps the
/// C convention. Builtins and direct calls to linked WASI functions are C calls always.
pub const TAIL_CC: u32 = 18;
/// LLVM's C calling convention.
pub const C_CC: u32 = 0;

/// Whether a module is compiled as one LLVM module, or split into parts compiled on their
/// own threads (see `hako_compiler::compile`) that each hold some of its functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Partition {
    Whole,
    Split,
}

pub struct ModuleCtx<'ctx, 'a> {
    pub llcx: &'ctx Context,
    pub module: Module<'ctx>,
    pub info: &'a ModuleInfo<'a>,
    pub prefix: &'a str,
    /// The defined functions (function indices, ascending) whose bodies this LLVM module
    /// holds.
    pub defined: Vec<u32>,
    /// Whether the module is one part of several: then the functions and trampolines it
    /// defines are hidden globals that the other parts (and the descriptor) refer to.
    pub partition: Partition,
    /// Per function index, once declared: what [`Self::direct`] returns.
    declared: RefCell<Vec<Option<Option<FunctionValue<'ctx>>>>>,
    /// Per imported function index, once emitted: its tailcc adapter (see
    /// [`Self::funcref_code`]).
    adapters: RefCell<Vec<Option<FunctionValue<'ctx>>>>,
    pub i8: IntType<'ctx>,
    pub i32: IntType<'ctx>,
    pub i64: IntType<'ctx>,
    pub f32: FloatType<'ctx>,
    pub f64: FloatType<'ctx>,
    pub ptr: PointerType<'ctx>,
    /// The one type of `v128` values on the operand stack, in locals, globals and signatures;
    /// SIMD operators bitcast it to their lane shape and back.
    pub v128: VectorType<'ctx>,
}

impl<'ctx, 'a> ModuleCtx<'ctx, 'a> {
    pub fn new(
        llcx: &'ctx Context,
        module: Module<'ctx>,
        info: &'a ModuleInfo<'a>,
        prefix: &'a str,
        defined: Vec<u32>,
        partition: Partition,
    ) -> Result<Self> {
        let cx = ModuleCtx {
            llcx,
            module,
            info,
            prefix,
            defined,
            partition,
            declared: RefCell::new(vec![None; info.func_types.len()]),
            adapters: RefCell::new(vec![None; info.func_imports.len()]),
            i8: llcx.i8_type(),
            i32: llcx.i32_type(),
            i64: llcx.i64_type(),
            f32: llcx.f32_type(),
            f64: llcx.f64_type(),
            ptr: llcx.ptr_type(AddressSpace::default()),
            v128: llcx.i64_type().vec_type(2),
        };
        // The functions this part defines are declared now, in order; every other function
        // when first referenced (see [`Self::direct`]): a part of a large module calls a
        // small share of them, and declarations cost code generation time too.
        for &index in &cx.defined {
            cx.direct(index)?;
        }
        Ok(cx)
    }

    /// The LLVM function a call to function `index` goes to directly (a defined function, or
    /// a WASI-linked import), declared in this module on first use; `None` for an import
    /// called through its `VmContext::funcs` slot.
    pub fn direct(&self, index: u32) -> Result<Option<FunctionValue<'ctx>>> {
        if let Some(&Some(known)) = self.declared.borrow().get(index as usize) {
            return Ok(known);
        }
        let f = self.declare(index)?;
        let mut declared = self.declared.borrow_mut();
        if let Some(slot) = declared.get_mut(index as usize) {
            *slot = Some(f);
        }
        Ok(f)
    }

    fn declare(&self, index: u32) -> Result<Option<FunctionValue<'ctx>>> {
        let ty = self
            .info
            .func_type(index)
            .ok_or_else(|| internal("function without a type"))?;
        let num_imports = self.info.num_imported_funcs();
        Ok(if index < num_imports {
            let import = self.info.func_imports[index as usize];
            match import.wasi_symbol {
                Some(name) => {
                    let symbol = hako_abi::wasi::symbol(name).to_string();
                    Some(match self.module.get_function(&symbol) {
                        Some(f) => f,
                        None => {
                            let f = self.module.add_function(
                                &symbol,
                                self.native_fn_type(ty)?,
                                Some(Linkage::External),
                            );
                            self.add_nounwind(f);
                            f
                        }
                    })
                }
                None => None,
            }
        } else if self.defined.binary_search(&index).is_ok() {
            let name = self.function_name(index);
            let f = self.module.add_function(
                &name,
                self.native_fn_type(ty)?,
                Some(self.definition_linkage()),
            );
            f.set_call_conventions(self.wasm_cc());
            self.set_part_visibility(f.as_global_value());
            self.add_body_attributes(f);
            Some(f)
        } else {
            // Defined in another part: a declaration of its hidden global symbol.
            let name = self.function_name(index);
            let f =
                self.module
                    .add_function(&name, self.native_fn_type(ty)?, Some(Linkage::External));
            f.set_call_conventions(self.wasm_cc());
            self.set_part_visibility(f.as_global_value());
            Some(f)
        })
    }

    /// The calling convention of the module's functions: [`TAIL_CC`] or [`C_CC`].
    pub fn wasm_cc(&self) -> u32 {
        match self.info.tail_convention {
            true => TAIL_CC,
            false => C_CC,
        }
    }

    /// Whether function `index` is an import the compiler links to a WASI function by symbol
    /// (called directly, in the C convention).
    pub fn is_wasi_linked(&self, index: u32) -> bool {
        self.info
            .func_imports
            .get(index as usize)
            .is_some_and(|f| f.wasi_symbol.is_some())
    }

    /// The code of function `index`'s `FuncRef`, in the module's convention
    /// ([`Self::wasm_cc`]): the function itself when defined, for a WASI-linked import the C
    /// function or, in the tail convention, an adapter (an internal tailcc function that
    /// calls it; emitted once, where the descriptor is), `None` for another import (the
    /// kernel resolves it).
    pub fn funcref_code(&self, index: u32) -> Result<Option<FunctionValue<'ctx>>> {
        if !self.is_wasi_linked(index) || !self.info.tail_convention {
            return match index < self.info.num_imported_funcs() {
                true => Ok(None),
                false => self.direct(index),
            };
        }
        if let Some(Some(f)) = self.adapters.borrow().get(index as usize) {
            return Ok(Some(*f));
        }
        let target = self
            .direct(index)?
            .ok_or_else(|| internal("WASI import without a symbol"))?;
        let ty = self
            .info
            .func_type(index)
            .ok_or_else(|| internal("function without a type"))?;
        let f = self.module.add_function(
            &format!("{}_wasi_adapter_f{index}", self.prefix),
            self.native_fn_type(ty)?,
            Some(Linkage::Internal),
        );
        f.set_call_conventions(TAIL_CC);
        self.add_body_attributes(f);
        let b = self.llcx.create_builder();
        b.position_at_end(self.llcx.append_basic_block(f, "entry"));
        let args: Vec<inkwell::values::BasicMetadataValueEnum> =
            f.get_param_iter().map(|p| p.into()).collect();
        let call = b.build_call(target, &args, "")?;
        match call.try_as_basic_value() {
            inkwell::values::ValueKind::Basic(v) => b.build_return(Some(&v))?,
            inkwell::values::ValueKind::Instruction(_) => b.build_return(None)?,
        };
        if let Some(slot) = self.adapters.borrow_mut().get_mut(index as usize) {
            *slot = Some(f);
        }
        Ok(Some(f))
    }

    /// Whether a function with these results could return them in registers: at most 3
    /// integer fields (floats travel as integers, see [`Self::multi_result_type`]) and 4
    /// `v128`. Otherwise LLVM returns them through memory the caller provides, and cannot
    /// make a `musttail` call (it aborts the process): see [`Self::results_in_memory`].
    pub fn returns_in_registers(&self, results: &[ValType]) -> bool {
        let vectors = results.iter().filter(|t| **t == ValType::V128).count();
        results.len() - vectors <= 3 && vectors <= 4
    }

    /// The linkage of what this part defines for the others: internal in a module of one
    /// part, else external (with hidden visibility, see [`Self::set_part_visibility`]).
    pub fn definition_linkage(&self) -> Linkage {
        match self.partition {
            Partition::Split => Linkage::External,
            Partition::Whole => Linkage::Internal,
        }
    }

    /// Symbols shared between parts are hidden: global only so that the parts link together,
    /// never part of the object's interface (which is the descriptor alone).
    pub fn set_part_visibility(&self, g: GlobalValue<'ctx>) {
        if self.partition == Partition::Split {
            g.set_visibility(GlobalVisibility::Hidden);
        }
    }

    /// `<prefix>_f<index>`, with the name-section name appended for readable disassembly.
    pub fn function_name(&self, index: u32) -> String {
        match self.info.func_names.get(&index) {
            Some(name) => {
                let clean: String = name
                    .chars()
                    .take(80)
                    .map(|c| {
                        if c.is_ascii_alphanumeric() || c == '_' {
                            c
                        } else {
                            '_'
                        }
                    })
                    .collect();
                format!("{}_f{index}_{clean}", self.prefix)
            }
            None => format!("{}_f{index}", self.prefix),
        }
    }

    pub fn add_nounwind(&self, f: FunctionValue<'ctx>) {
        f.add_attribute(AttributeLoc::Function, self.enum_attr("nounwind"));
    }

    /// Attributes of every function whose body we emit:
    /// - `uwtable`: Wasm exceptions unwind through every compiled frame (traps leave through
    ///   the kernel's longjmp, not the unwinder); the tables are data, never executed;
    /// - `no-builtins`: LLVM must never turn a loop into a call to `memcpy`/`memset`, which
    ///   the freestanding image need not define;
    /// - `disable-tail-calls`: every Wasm call that is not a `return_call` keeps its frame.
    ///   Without this, tail-recursion elimination (which also handles accumulator recursion
    ///   such as `f(x + 1) + 1`) and sibling-call optimisation turn unbounded recursion into
    ///   an endless loop, where Wasm requires the call stack to be exhausted (a trap).
    pub fn add_body_attributes(&self, f: FunctionValue<'ctx>) {
        f.add_attribute(
            AttributeLoc::Function,
            self.llcx
                .create_enum_attribute(Attribute::get_named_enum_kind_id("uwtable"), 2),
        );
        for (key, value) in [("no-builtins", ""), ("disable-tail-calls", "true")] {
            f.add_attribute(
                AttributeLoc::Function,
                self.llcx.create_string_attribute(key, value),
            );
        }
    }

    pub fn enum_attr(&self, name: &str) -> Attribute {
        self.llcx
            .create_enum_attribute(Attribute::get_named_enum_kind_id(name), 0)
    }

    /// The LLVM type of a Wasm value type.
    pub fn val_type(&self, t: ValType) -> Result<BasicTypeEnum<'ctx>> {
        Ok(match t {
            ValType::I32 => self.i32.into(),
            ValType::I64 => self.i64.into(),
            ValType::F32 => self.f32.into(),
            ValType::F64 => self.f64.into(),
            ValType::Ref(_) => self.ptr.into(),
            ValType::V128 => self.v128.into(),
        })
    }

    /// The native signature of a Wasm function type (see the calling convention in
    /// `hako_abi`): `vmctx` first, several results as a struct whose float fields are
    /// carried as integers ([`ModuleCtx::multi_result_type`]); in the tail convention,
    /// results that do not fit the registers are written to the struct at a pointer passed
    /// after `vmctx` ([`Self::results_in_memory`]), and the function returns nothing.
    pub fn native_fn_type(&self, ty: &FuncType) -> Result<FunctionType<'ctx>> {
        let mut params: Vec<BasicMetadataTypeEnum> = vec![self.ptr.into()];
        if self.results_in_memory(ty.results()) {
            params.push(self.ptr.into());
        }
        for p in ty.params() {
            params.push(self.val_type(*p)?.into());
        }
        Ok(match ty.results() {
            _ if self.results_in_memory(ty.results()) => {
                self.llcx.void_type().fn_type(&params, false)
            }
            [] => self.llcx.void_type().fn_type(&params, false),
            [one] => self.val_type(*one)?.fn_type(&params, false),
            many => self.results_struct(many)?.fn_type(&params, false),
        })
    }

    /// The struct of several results ([`Self::multi_result_type`] fields).
    pub fn results_struct(&self, results: &[ValType]) -> Result<inkwell::types::StructType<'ctx>> {
        let fields = results
            .iter()
            .map(|t| self.multi_result_type(*t))
            .collect::<Result<Vec<_>>>()?;
        Ok(self.llcx.struct_type(&fields, false))
    }

    /// The struct type of packed result values (as [`Self::results_struct`] makes).
    pub fn results_struct_of_values(
        &self,
        packed: &[BasicValueEnum<'ctx>],
    ) -> inkwell::types::StructType<'ctx> {
        let fields: Vec<BasicTypeEnum> = packed.iter().map(|v| v.get_type()).collect();
        self.llcx.struct_type(&fields, false)
    }

    /// Whether functions with these results return them through memory the caller provides,
    /// as an explicit pointer after `vmctx` ([`Self::native_fn_type`]): in the tail
    /// convention, when they do not fit the registers. LLVM would return them through
    /// memory itself, but then cannot make a `musttail` call (it aborts the process); with
    /// the pointer explicit, a tail call passes its own on, and stays a jump.
    pub fn results_in_memory(&self, results: &[ValType]) -> bool {
        self.info.tail_convention && !self.returns_in_registers(results)
    }

    /// A field of a several-results struct: `f32` and `f64` travel as `i32` and `i64`. The
    /// x86-64 C convention returns only two floats in SSE registers and the next ones on the
    /// x87 stack, whose loads quiet a signalling NaN, which Wasm must keep bit for bit
    /// (found by `hako fuzz`: `(result v128 v128 f32 f32)` at `-O0`). Integers go in
    /// general registers or, when there are too many, through memory.
    pub fn multi_result_type(&self, t: ValType) -> Result<BasicTypeEnum<'ctx>> {
        Ok(match t {
            ValType::F32 => self.i32.into(),
            ValType::F64 => self.i64.into(),
            other => self.val_type(other)?,
        })
    }

    /// `v` as a field of a several-results struct (floats as their bits).
    pub fn pack_multi_result(
        &self,
        b: &Builder<'ctx>,
        v: BasicValueEnum<'ctx>,
    ) -> Result<BasicValueEnum<'ctx>> {
        Ok(match v {
            BasicValueEnum::FloatValue(f) => {
                let int = if f.get_type() == self.f32 {
                    self.i32
                } else {
                    self.i64
                };
                b.build_bit_cast(f, int, "")?
            }
            other => other,
        })
    }

    /// A field of a several-results struct back as the Wasm value of type `t`.
    pub fn unpack_multi_result(
        &self,
        b: &Builder<'ctx>,
        v: BasicValueEnum<'ctx>,
        t: ValType,
    ) -> Result<BasicValueEnum<'ctx>> {
        Ok(match t {
            ValType::F32 => b.build_bit_cast(v, self.f32, "")?,
            ValType::F64 => b.build_bit_cast(v, self.f64, "")?,
            _ => v,
        })
    }

    /// The declaration of kernel builtin `name`, built from its entry in
    /// [`hako_abi::builtins::TABLE`]: `vmctx` first, then the table's parameters; a builtin
    /// that never returns is `noreturn` and `cold`.
    pub fn builtin(&self, name: &'static str) -> Result<FunctionValue<'ctx>> {
        if let Some(f) = self.module.get_function(name) {
            return Ok(f);
        }
        let entry =
            builtins::lookup(name).ok_or_else(|| internal(format!("unknown builtin {name}")))?;
        let llvm_type = |t: builtins::Type| -> BasicTypeEnum<'ctx> {
            match t {
                builtins::Type::I32 => self.i32.into(),
                builtins::Type::I64 => self.i64.into(),
                builtins::Type::Ptr => self.ptr.into(),
            }
        };
        let mut params: Vec<BasicMetadataTypeEnum> = vec![self.ptr.into()];
        params.extend(
            entry
                .params
                .iter()
                .map(|t| BasicMetadataTypeEnum::from(llvm_type(*t))),
        );
        let ty = match entry.returns {
            builtins::Returns::Value(t) => llvm_type(t).fn_type(&params, false),
            builtins::Returns::Nothing | builtins::Returns::Never => {
                self.llcx.void_type().fn_type(&params, false)
            }
        };
        let f = self.module.add_function(name, ty, Some(Linkage::External));
        self.add_nounwind(f);
        if entry.returns == builtins::Returns::Never {
            f.add_attribute(AttributeLoc::Function, self.enum_attr("noreturn"));
            f.add_attribute(AttributeLoc::Function, self.enum_attr("cold"));
        }
        Ok(f)
    }

    /// `_Unwind_RaiseException(exn) -> reason`: the unwinder's entry (libunwind on the
    /// Linux target, the `unwinding` crate in the kernel). It returns only when no handler
    /// was found.
    pub fn raise_exception(&self) -> FunctionValue<'ctx> {
        const NAME: &str = "_Unwind_RaiseException";
        self.module.get_function(NAME).unwrap_or_else(|| {
            let ty = self.i32.fn_type(&[self.ptr.into()], false);
            self.module.add_function(NAME, ty, Some(Linkage::External))
        })
    }

    /// `hako_personality`, the personality routine of every function with a landing pad
    /// (defined by the runtime, `hako_kernel::exn`).
    pub fn personality(&self) -> FunctionValue<'ctx> {
        let name = hako_abi::vm::PERSONALITY;
        self.module.get_function(name).unwrap_or_else(|| {
            let ty = self.i32.fn_type(&[], true);
            self.module.add_function(name, ty, Some(Linkage::External))
        })
    }

    /// The declaration of an overloaded LLVM intrinsic.
    pub fn intrinsic(
        &self,
        name: &str,
        types: &[BasicTypeEnum<'ctx>],
    ) -> Result<FunctionValue<'ctx>> {
        Intrinsic::find(name)
            .and_then(|i| i.get_declaration(&self.module, types))
            .ok_or_else(|| internal(format!("LLVM intrinsic {name} not found")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bit width of an LLVM integer type, or `None` for a pointer (anything else fails).
    fn shape(t: BasicMetadataTypeEnum<'_>) -> Option<u32> {
        match t {
            BasicMetadataTypeEnum::IntType(i) => Some(i.get_bit_width()),
            BasicMetadataTypeEnum::PointerType(_) => None,
            other => panic!("unexpected builtin type {other:?}"),
        }
    }

    fn expected(t: builtins::Type) -> Option<u32> {
        match t {
            builtins::Type::I32 => Some(32),
            builtins::Type::I64 => Some(64),
            builtins::Type::Ptr => None,
        }
    }

    #[test]
    fn every_builtin_is_declared_as_the_table_says() {
        let wasm = wat::parse_str("(module)").unwrap();
        let info = ModuleInfo::parse(&wasm).unwrap();
        let llcx = Context::create();
        let module = llcx.create_module("t");
        let cx = ModuleCtx::new(&llcx, module, &info, "m", Vec::new(), Partition::Whole).unwrap();
        let noreturn = Attribute::get_named_enum_kind_id("noreturn");
        let cold = Attribute::get_named_enum_kind_id("cold");
        for entry in builtins::TABLE {
            let f = cx.builtin(entry.name).unwrap();
            assert_eq!(f.get_name().to_str(), Ok(entry.name));
            let ty = f.get_type();
            let params = ty.get_param_types();
            assert_eq!(params.len(), entry.params.len() + 1, "{}", entry.name);
            assert_eq!(shape(params[0]), None, "{}: vmctx", entry.name);
            for (i, (p, t)) in params[1..].iter().zip(entry.params).enumerate() {
                assert_eq!(shape(*p), expected(*t), "{} param {i}", entry.name);
            }
            let result = ty.get_return_type();
            match entry.returns {
                builtins::Returns::Value(t) => {
                    assert_eq!(
                        result.map(|r| shape(r.into())),
                        Some(expected(t)),
                        "{}",
                        entry.name
                    )
                }
                _ => assert!(result.is_none(), "{}", entry.name),
            }
            let never = entry.returns == builtins::Returns::Never;
            for kind in [noreturn, cold] {
                let attr = f.get_enum_attribute(AttributeLoc::Function, kind);
                assert_eq!(attr.is_some(), never, "{}", entry.name);
            }
            // A second request returns the same declaration.
            assert_eq!(cx.builtin(entry.name).unwrap(), f);
        }
        assert!(cx.builtin("hako_nothing").is_err());
    }
}
