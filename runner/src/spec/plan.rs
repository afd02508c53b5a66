//! From a `.wast` script to a plan: the module table, the commands for the kernel with what
//! each must do, and the checks that need no boot.
//!
//! Planning is pure: it parses and encodes, but neither compiles nor boots. Every directive
//! becomes exactly one check (one line of the script): a [`Planned`] command for the kernel, a
//! [`Rejection`] the compiler must refuse (`assert_invalid`, `assert_malformed`), or a check
//! decided on the spot (something unsupported, or a module the text parser could not encode).
//!
//! Commands name instances by the id of the `Instantiate` command that created them (see
//! `hako_abi::script`); the planner resolves `$names` and "the last module" to those ids.

use std::collections::HashMap;

use hako_abi::script::{extern_ref_bits, Arg};
use hako_abi::valtype;
use wast::core::{AbstractHeapType, HeapType, NanPattern, V128Pattern, WastArgCore, WastRetCore};
use wast::lexer::Lexer;
use wast::parser::{self, ParseBuffer};
use wast::token::{Id, Span};
use wast::{QuoteWat, Wast, WastArg, WastDirective, WastExecute, WastInvoke, WastRet, Wat};

use super::compare::{Expect, FloatPattern, ValuePattern};
use super::tier::{self, Tier};
use super::{Check, Status};

/// What the kernel is asked to do (host form of `hako_abi::script::Command`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Instantiate module `module` of [`FilePlan::modules`].
    Instantiate {
        module: u32,
    },
    Register {
        instance: u32,
        name: String,
    },
    Invoke {
        instance: u32,
        name: String,
        args: Vec<Arg>,
    },
    Get {
        instance: u32,
        name: String,
    },
}

impl Op {
    /// The instance the command runs on, if any.
    pub fn instance(&self) -> Option<u32> {
        match self {
            Op::Instantiate { .. } => None,
            Op::Register { instance, .. }
            | Op::Invoke { instance, .. }
            | Op::Get { instance, .. } => Some(*instance),
        }
    }
}

/// A command for the kernel and what it must do.
#[derive(Debug, Clone)]
pub struct Planned {
    /// Strictly increasing along the script.
    pub id: u32,
    pub line: u32,
    /// The directive (`assert_return`, `module`, ...).
    pub kind: &'static str,
    pub op: Op,
    pub expect: Expect,
}

/// A module the compiler must refuse.
#[derive(Debug, Clone)]
pub struct Rejection {
    pub line: u32,
    pub kind: &'static str,
    /// Its binary; `None` when the text parser already refused it.
    pub module: Option<Vec<u8>>,
}

/// Why a directive, or the module or instance it needs, could not be planned; the check it
/// becomes depends on which.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unplanned {
    /// Something hako does not run (components, `ref.host` arguments, GC results): the check
    /// is "not run".
    Unsupported(String),
    /// The script asks for something that is not there (an unknown instance, a module the
    /// `wast` crate cannot encode, an instance whose module failed): the check fails.
    Failed(String),
}

const NO_COMPONENTS: &str = "components are not supported";

impl Unplanned {
    fn components() -> Unplanned {
        Unplanned::Unsupported(NO_COMPONENTS.into())
    }

    /// The check's status, expecting `expected`.
    fn status(self, expected: &dyn std::fmt::Display) -> Status {
        match self {
            Unplanned::Unsupported(reason) => Status::NotRun(reason),
            Unplanned::Failed(actual) => Status::Failed {
                expected: expected.to_string(),
                actual,
            },
        }
    }
}

/// Everything known about a script before anything is compiled.
#[derive(Debug, Clone)]
pub struct FilePlan {
    /// The file's name relative to the suite root (`/`-separated).
    pub name: String,
    pub tier: Tier,
    /// The module table: binaries of every module the script instantiates.
    pub modules: Vec<Vec<u8>>,
    pub commands: Vec<Planned>,
    pub rejections: Vec<Rejection>,
    /// Checks decided while planning (unsupported directives, modules that did not encode).
    pub decided: Vec<Check>,
    /// Whether the script asserts on custom-section contents (`assert_*_custom`): those test
    /// the annotations and branch-hinting features of Wasm 3.0, so such a file is at least
    /// [`Tier::Wasm3`] whatever its modules need.
    pub custom_assertions: bool,
}

/// Byte offset to 1-based line.
struct Lines(Vec<usize>);

impl Lines {
    fn new(text: &str) -> Lines {
        Lines(text.match_indices('\n').map(|(i, _)| i).collect())
    }
    fn line(&self, span: Span) -> u32 {
        (self.0.partition_point(|&nl| nl < span.offset()) + 1) as u32
    }
}

/// Plan a script from its text. Never fails: a script the `wast` crate cannot parse becomes
/// one failed check at the parser's line.
pub fn plan_source(name: &str, text: &str) -> FilePlan {
    let mut plan = FilePlan {
        name: name.to_string(),
        tier: Tier::Core2,
        modules: Vec::new(),
        commands: Vec::new(),
        rejections: Vec::new(),
        decided: Vec::new(),
        custom_assertions: false,
    };
    // The legacy exception scripts' folded `try`, which `wast` no longer parses.
    let unfolded = super::legacy::unfold(text);
    let text = unfolded.as_deref().unwrap_or(text);
    let lines = Lines::new(text);
    // names.wast exports names with bidirectional-override characters on purpose.
    let mut lexer = Lexer::new(text);
    lexer.allow_confusing_unicode(true);
    let parsed = ParseBuffer::new_with_lexer(lexer).and_then(|buf| {
        let wast = parser::parse::<Wast<'_>>(&buf)?;
        let mut planner = Planner {
            plan: &mut plan,
            lines: &lines,
            next_id: 0,
            current: None,
            named: HashMap::new(),
            definitions: HashMap::new(),
            last_definition: None,
        };
        for directive in wast.directives {
            planner.directive(directive);
        }
        Ok(())
    });
    if let Err(e) = &parsed {
        let line = lines.line(e.span());
        plan.decided.push(Check {
            line,
            kind: "script",
            status: Status::Failed {
                expected: "a script the `wast` crate parses".into(),
                actual: e.message(),
            },
        });
    }
    plan.tier = if parsed.is_err() {
        // Syntax the `wast` crate does not know (the legacy exception-handling scripts) is
        // syntax of some proposal; counting such a file as core2 would claim the opposite.
        Tier::Proposal
    } else {
        let tier = tier::file_tier(plan.modules.iter().map(Vec::as_slice));
        if plan.custom_assertions {
            tier.max(Tier::Wasm3)
        } else {
            tier
        }
    };
    plan
}

struct Planner<'p> {
    plan: &'p mut FilePlan,
    lines: &'p Lines,
    next_id: u32,
    /// The instance unnamed commands run on: `Err` when the last module could not be
    /// planned.
    current: Option<Result<u32, Unplanned>>,
    named: HashMap<String, Result<u32, Unplanned>>,
    definitions: HashMap<String, Result<u32, Unplanned>>,
    last_definition: Option<Result<u32, Unplanned>>,
}

impl Planner<'_> {
    fn decide(&mut self, span: Span, kind: &'static str, status: Status) {
        self.plan.decided.push(Check {
            line: self.lines.line(span),
            kind,
            status,
        });
    }

    fn not_run(&mut self, span: Span, kind: &'static str, why: impl Into<String>) {
        self.decide(span, kind, Status::NotRun(why.into()));
    }

    /// `assert_malformed_custom` and `assert_invalid_custom`: a custom annotation or section
    /// the script calls broken. Text that the `wast` crate refuses to parse is the parser's
    /// rejection, as the assertion asks. A module it encodes must still be accepted, because
    /// hako does not interpret these custom sections and the core specification says errors
    /// in a custom section never invalidate a module (binary format, custom sections): it is
    /// compiled and instantiated, and must succeed.
    fn custom(&mut self, span: Span, kind: &'static str, module: &mut QuoteWat<'_>) {
        self.plan.custom_assertions = true;
        if matches!(
            module,
            QuoteWat::QuoteComponent(..) | QuoteWat::Wat(Wat::Component(_))
        ) {
            return self.not_run(span, kind, NO_COMPONENTS);
        }
        match module.encode() {
            Err(_) => self.decide(span, kind, Status::Passed),
            Ok(wasm) => {
                self.plan.modules.push(wasm);
                let m = Ok(self.plan.modules.len() as u32 - 1);
                // Not the current instance: the reference interpreter does not make it one.
                let _ = self.instantiate(span, kind, m, Expect::Instantiated);
            }
        }
    }

    fn push(&mut self, span: Span, kind: &'static str, op: Op, expect: Expect) {
        let id = self.next_id;
        self.next_id += 1;
        self.plan.commands.push(Planned {
            id,
            line: self.lines.line(span),
            kind,
            op,
            expect,
        });
    }

    /// Encode a module that must be valid and add it to the module table.
    fn module(&mut self, module: &mut QuoteWat<'_>) -> Result<u32, Unplanned> {
        if matches!(
            module,
            QuoteWat::QuoteComponent(..) | QuoteWat::Wat(Wat::Component(_))
        ) {
            return Err(Unplanned::components());
        }
        let wasm = module.encode().map_err(cannot_encode)?;
        self.plan.modules.push(wasm);
        Ok(self.plan.modules.len() as u32 - 1)
    }

    fn instance(&self, id: Option<Id<'_>>) -> Result<u32, Unplanned> {
        match id {
            Some(id) => self.named.get(id.name()).cloned().unwrap_or_else(|| {
                Err(Unplanned::Failed(format!(
                    "no instance named ${}",
                    id.name()
                )))
            }),
            None => self.current.clone().unwrap_or_else(|| {
                Err(Unplanned::Failed(
                    "no module instantiated before this command".into(),
                ))
            }),
        }
    }

    /// Plan an instantiation; `Err` (already recorded as a failed check) when impossible.
    fn instantiate(
        &mut self,
        span: Span,
        kind: &'static str,
        module: Result<u32, Unplanned>,
        expect: Expect,
    ) -> Result<u32, Unplanned> {
        match module {
            Ok(module) => {
                let id = self.next_id;
                self.push(span, kind, Op::Instantiate { module }, expect);
                Ok(id)
            }
            Err(why) => {
                self.decide(span, kind, why.status(&expect));
                Err(Unplanned::Failed(format!(
                    "its module (line {}) could not be built",
                    self.lines.line(span)
                )))
            }
        }
    }

    /// An invoke or get: resolve the instance, convert the arguments.
    fn execute(
        &mut self,
        span: Span,
        kind: &'static str,
        exec: WastExecute<'_>,
        expect: Result<Expect, Unplanned>,
    ) {
        let expect = match expect {
            Ok(e) => e,
            // `ret` only finds results it cannot compare: "not run".
            Err(why) => return self.decide(span, kind, why.status(&"results it can compare")),
        };
        match exec {
            WastExecute::Invoke(invoke) => self.invoke(kind, invoke, expect),
            WastExecute::Get {
                span,
                module,
                global,
            } => match self.instance(module) {
                Ok(instance) => self.push(
                    span,
                    kind,
                    Op::Get {
                        instance,
                        name: global.to_string(),
                    },
                    expect,
                ),
                Err(why) => self.decide(span, kind, why.status(&expect)),
            },
            WastExecute::Wat(mut wat) => {
                let span = wat.span();
                let module = self.module_wat(&mut wat);
                let _ = self.instantiate(span, kind, module, expect);
            }
        }
    }

    fn module_wat(&mut self, wat: &mut Wat<'_>) -> Result<u32, Unplanned> {
        if matches!(wat, Wat::Component(_)) {
            return Err(Unplanned::components());
        }
        let wasm = wat.encode().map_err(cannot_encode)?;
        self.plan.modules.push(wasm);
        Ok(self.plan.modules.len() as u32 - 1)
    }

    fn invoke(&mut self, kind: &'static str, invoke: WastInvoke<'_>, expect: Expect) {
        let span = invoke.span;
        let args: Result<Vec<Arg>, Unplanned> = invoke.args.iter().map(arg).collect();
        let args = match args {
            Ok(a) => a,
            // `arg` only finds arguments it cannot pass: "not run".
            Err(why) => return self.decide(span, kind, why.status(&"arguments it can pass")),
        };
        match self.instance(invoke.module) {
            Ok(instance) => self.push(
                span,
                kind,
                Op::Invoke {
                    instance,
                    name: invoke.name.to_string(),
                    args,
                },
                expect,
            ),
            Err(why) => self.decide(span, kind, why.status(&expect)),
        }
    }

    fn directive(&mut self, directive: WastDirective<'_>) {
        let span = directive.span();
        match directive {
            WastDirective::Module(mut module) => {
                let name = module.name().map(|id| id.name().to_string());
                let m = self.module(&mut module);
                let instance = self.instantiate(span, "module", m, Expect::Instantiated);
                if let Some(name) = name {
                    self.named.insert(name, instance.clone());
                }
                self.current = Some(instance);
            }
            WastDirective::ModuleDefinition(mut module) => {
                let name = module.name().map(|id| id.name().to_string());
                let m = self.module(&mut module);
                if let Err(why) = &m {
                    let status = why.clone().status(&"a valid module definition");
                    self.decide(span, "module definition", status);
                }
                if let Some(name) = name {
                    self.definitions.insert(name, m.clone());
                }
                self.last_definition = Some(m);
            }
            WastDirective::ModuleInstance {
                span,
                instance,
                module,
            } => {
                let m = match module {
                    Some(id) => self.definitions.get(id.name()).cloned().unwrap_or_else(|| {
                        Err(Unplanned::Failed(format!(
                            "no module definition ${}",
                            id.name()
                        )))
                    }),
                    None => self.last_definition.clone().unwrap_or_else(|| {
                        Err(Unplanned::Failed("no module definition before this".into()))
                    }),
                };
                let created = self.instantiate(span, "module instance", m, Expect::Instantiated);
                if let Some(name) = instance {
                    self.named.insert(name.name().to_string(), created.clone());
                }
                self.current = Some(created);
            }
            WastDirective::AssertMalformed {
                span, mut module, ..
            } => self.reject(span, "assert_malformed", &mut module),
            WastDirective::AssertInvalid {
                span, mut module, ..
            } => self.reject(span, "assert_invalid", &mut module),
            WastDirective::AssertInvalidCustom {
                span, mut module, ..
            } => self.custom(span, "assert_invalid_custom", &mut module),
            WastDirective::AssertMalformedCustom {
                span, mut module, ..
            } => self.custom(span, "assert_malformed_custom", &mut module),
            WastDirective::Register { span, name, module } => match self.instance(module) {
                Ok(instance) => self.push(
                    span,
                    "register",
                    Op::Register {
                        instance,
                        name: name.to_string(),
                    },
                    Expect::Success,
                ),
                Err(why) => self.decide(span, "register", why.status(&Expect::Success)),
            },
            WastDirective::Invoke(invoke) => self.invoke("invoke", invoke, Expect::Success),
            WastDirective::AssertTrap {
                span: _,
                exec,
                message,
            } => self.execute(
                span,
                "assert_trap",
                exec,
                Ok(Expect::Trap(message.to_string())),
            ),
            WastDirective::AssertReturn {
                span: _,
                exec,
                results,
            } => {
                let expect = results
                    .iter()
                    .map(ret)
                    .collect::<Result<Vec<_>, _>>()
                    .map(Expect::Return);
                self.execute(span, "assert_return", exec, expect)
            }
            WastDirective::AssertExhaustion { call, .. } => {
                self.invoke("assert_exhaustion", call, Expect::Exhaustion)
            }
            WastDirective::AssertUnlinkable {
                span,
                mut module,
                message,
            } => {
                let m = self.module_wat(&mut module);
                let _ = self.instantiate(
                    span,
                    "assert_unlinkable",
                    m,
                    Expect::Unlinkable(message.to_string()),
                );
            }
            WastDirective::AssertException { span: _, exec } => {
                self.execute(span, "assert_exception", exec, Ok(Expect::Exception))
            }
            WastDirective::AssertSuspension { span, .. } => self.not_run(
                span,
                "assert_suspension",
                "stack switching is not supported",
            ),
            WastDirective::Thread(thread) => self.not_run(
                thread.span,
                "thread",
                "threads in scripts are not supported",
            ),
            WastDirective::Wait { span, .. } => {
                self.not_run(span, "wait", "threads in scripts are not supported")
            }
        }
    }

    fn reject(&mut self, span: Span, kind: &'static str, module: &mut QuoteWat<'_>) {
        if matches!(
            module,
            QuoteWat::QuoteComponent(..) | QuoteWat::Wat(Wat::Component(_))
        ) {
            return self.not_run(span, kind, NO_COMPONENTS);
        }
        let module = module.encode().ok();
        self.plan.rejections.push(Rejection {
            line: self.lines.line(span),
            kind,
            module,
        });
    }
}

/// The error of a module the `wast` crate cannot encode.
fn cannot_encode(e: wast::Error) -> Unplanned {
    Unplanned::Failed(format!(
        "the `wast` crate cannot encode this module: {}",
        e.message()
    ))
}

fn ref_type(heap: &HeapType<'_>) -> Result<u8, Unplanned> {
    match heap {
        HeapType::Abstract {
            shared: false,
            ty: AbstractHeapType::Func | AbstractHeapType::NoFunc,
        } => Ok(valtype::FUNCREF),
        HeapType::Abstract {
            shared: false,
            ty: AbstractHeapType::Extern | AbstractHeapType::NoExtern,
        } => Ok(valtype::EXTERNREF),
        HeapType::Abstract {
            shared: false,
            ty:
                AbstractHeapType::Any
                | AbstractHeapType::Eq
                | AbstractHeapType::I31
                | AbstractHeapType::Struct
                | AbstractHeapType::Array
                | AbstractHeapType::None,
        } => Ok(valtype::ANYREF),
        HeapType::Abstract {
            shared: false,
            ty: AbstractHeapType::Exn | AbstractHeapType::NoExn,
        } => Ok(valtype::EXNREF),
        HeapType::Concrete(_) | HeapType::Exact(_) => Err(Unplanned::Unsupported(
            "null arguments of a concrete type are not supported".into(),
        )),
        other => Err(Unplanned::Unsupported(format!(
            "reference arguments of type {other:?} are not supported"
        ))),
    }
}

fn arg(a: &WastArg<'_>) -> Result<Arg, Unplanned> {
    let WastArg::Core(a) = a else {
        return Err(Unplanned::components());
    };
    let (valtype, bits) = match a {
        WastArgCore::I32(v) => (valtype::I32, *v as u32 as u128),
        WastArgCore::I64(v) => (valtype::I64, *v as u64 as u128),
        WastArgCore::F32(v) => (valtype::F32, v.bits as u128),
        WastArgCore::F64(v) => (valtype::F64, v.bits as u128),
        WastArgCore::V128(v) => (valtype::V128, u128::from_le_bytes(v.to_le_bytes())),
        WastArgCore::RefNull(heap) => (ref_type(heap)?, 0),
        WastArgCore::RefExtern(n) => (valtype::EXTERNREF, extern_ref_bits(*n)),
        WastArgCore::RefHost(n) => (valtype::ANYREF, extern_ref_bits(*n)),
    };
    Ok(Arg { valtype, bits })
}

fn float<T: Copy, B>(p: &NanPattern<T>, bits: impl Fn(T) -> B) -> FloatPattern<B> {
    match p {
        NanPattern::CanonicalNan => FloatPattern::CanonicalNan,
        NanPattern::ArithmeticNan => FloatPattern::ArithmeticNan,
        NanPattern::Value(v) => FloatPattern::Bits(bits(*v)),
    }
}

fn lanes<const N: usize, T: Copy>(lanes: &[T; N], bytes: impl Fn(T) -> Vec<u8>) -> u128 {
    let mut out = Vec::with_capacity(16);
    for l in lanes {
        out.extend(bytes(*l));
    }
    u128::from_le_bytes(out.try_into().expect("16 bytes of lanes"))
}

fn ret(r: &WastRet<'_>) -> Result<ValuePattern, Unplanned> {
    let WastRet::Core(r) = r else {
        return Err(Unplanned::components());
    };
    ret_core(r)
}

fn ret_core(r: &WastRetCore<'_>) -> Result<ValuePattern, Unplanned> {
    Ok(match r {
        WastRetCore::I32(v) => ValuePattern::I32(*v as u32),
        WastRetCore::I64(v) => ValuePattern::I64(*v as u64),
        WastRetCore::F32(p) => ValuePattern::F32(float(p, |f: wast::token::F32| f.bits)),
        WastRetCore::F64(p) => ValuePattern::F64(float(p, |f: wast::token::F64| f.bits)),
        WastRetCore::V128(p) => match p {
            V128Pattern::I8x16(l) => ValuePattern::V128(lanes(l, |v| v.to_le_bytes().to_vec())),
            V128Pattern::I16x8(l) => ValuePattern::V128(lanes(l, |v| v.to_le_bytes().to_vec())),
            V128Pattern::I32x4(l) => ValuePattern::V128(lanes(l, |v| v.to_le_bytes().to_vec())),
            V128Pattern::I64x2(l) => ValuePattern::V128(lanes(l, |v| v.to_le_bytes().to_vec())),
            V128Pattern::F32x4(l) => {
                ValuePattern::F32x4(l.each_ref().map(|p| float(p, |f: wast::token::F32| f.bits)))
            }
            V128Pattern::F64x2(l) => {
                ValuePattern::F64x2(l.each_ref().map(|p| float(p, |f: wast::token::F64| f.bits)))
            }
        },
        WastRetCore::RefNull(_) => ValuePattern::RefNull,
        WastRetCore::RefExtern(n) => ValuePattern::RefExtern(*n),
        WastRetCore::RefFunc(_) => ValuePattern::RefFunc,
        WastRetCore::RefHost(n) => ValuePattern::RefHost(*n),
        WastRetCore::RefAny => ValuePattern::RefAny,
        WastRetCore::RefEq => ValuePattern::RefEq,
        WastRetCore::RefStruct => ValuePattern::RefStruct,
        WastRetCore::RefArray => ValuePattern::RefArray,
        WastRetCore::RefI31 => ValuePattern::RefI31,
        WastRetCore::Either(cases) => {
            ValuePattern::Either(cases.iter().map(ret_core).collect::<Result<_, _>>()?)
        }
        other => {
            return Err(Unplanned::Unsupported(format!(
                "results like {other:?} (GC references) are not supported"
            )))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_commands_and_instances() {
        let plan = plan_source(
            "t.wast",
            r#"(module $A (func (export "f") (param i32) (result i32) local.get 0))
(register "a" $A)
(module (func (export "g") (result f32) f32.const nan))
(assert_return (invoke $A "f" (i32.const -1)) (i32.const -1))
(assert_return (invoke "g") (f32.const nan:canonical))
(assert_trap (invoke "g") "unreachable")
(assert_invalid (module (func (result i32))) "type mismatch")
(assert_malformed (module quote "(func") "unexpected end")
(assert_exhaustion (invoke "g") "call stack exhausted")
(assert_unlinkable (module (import "a" "nope" (func))) "unknown import")
(invoke $Nope "f")
"#,
        );
        assert!(
            plan.decided.iter().all(|c| c.line == 11),
            "{:?}",
            plan.decided
        );
        assert_eq!(plan.modules.len(), 3);
        let ops: Vec<_> = plan
            .commands
            .iter()
            .map(|c| (c.id, c.line, c.op.clone()))
            .collect();
        assert_eq!(ops[0], (0, 1, Op::Instantiate { module: 0 }));
        assert_eq!(
            ops[1],
            (
                1,
                2,
                Op::Register {
                    instance: 0,
                    name: "a".into()
                }
            )
        );
        assert_eq!(ops[2], (2, 3, Op::Instantiate { module: 1 }));
        assert_eq!(
            ops[3],
            (
                3,
                4,
                Op::Invoke {
                    instance: 0,
                    name: "f".into(),
                    args: vec![Arg {
                        valtype: valtype::I32,
                        bits: 0xffff_ffff
                    }]
                }
            )
        );
        assert_eq!(ops[4].2.instance(), Some(2));
        assert_eq!(
            plan.commands[4].expect,
            Expect::Return(vec![ValuePattern::F32(FloatPattern::CanonicalNan)])
        );
        assert_eq!(plan.commands[6].expect, Expect::Exhaustion);
        assert_eq!(plan.commands[7].op, Op::Instantiate { module: 2 });
        assert_eq!(plan.rejections.len(), 2);
        assert!(plan.rejections[0].module.is_some());
        assert!(plan.rejections[1].module.is_none());
        assert!(matches!(plan.decided[0].status, Status::Failed { .. }));
    }

    #[test]
    fn custom_assertions_pass_when_parsing_fails_else_must_instantiate() {
        let plan = plan_source(
            "t.wast",
            r#"(assert_malformed_custom (module quote "(@custom)") "missing section name")
(assert_invalid_custom (module (@custom "x" (after func)) (func)) "some custom error")"#,
        );
        assert!(plan.custom_assertions);
        assert_eq!(plan.decided.len(), 1);
        assert_eq!(plan.decided[0].kind, "assert_malformed_custom");
        assert_eq!(plan.decided[0].status, Status::Passed);
        assert_eq!(plan.modules.len(), 1);
        assert_eq!(plan.commands.len(), 1);
        assert_eq!(plan.commands[0].kind, "assert_invalid_custom");
        assert_eq!(plan.commands[0].op, Op::Instantiate { module: 0 });
        assert_eq!(plan.commands[0].expect, Expect::Instantiated);
    }

    #[test]
    fn v128_patterns_are_little_endian_lanes() {
        let plan = plan_source(
            "t.wast",
            r#"(module (func (export "v") (result v128) v128.const i32x4 1 2 3 4))
(assert_return (invoke "v") (v128.const i32x4 1 2 3 4))
(assert_return (invoke "v") (v128.const i16x8 1 0 2 0 3 0 4 0))"#,
        );
        let want = 1u128 | 2 << 32 | 3 << 64 | 4 << 96;
        assert_eq!(
            plan.commands[1].expect,
            Expect::Return(vec![ValuePattern::V128(want)])
        );
        assert_eq!(plan.commands[2].expect, plan.commands[1].expect);
    }

    #[test]
    fn unsupported_directives_are_not_run_broken_ones_fail() {
        let plan = plan_source(
            "t.wast",
            r#"(module $M (func (export "f") (param externref)))
(assert_return (invoke $M "f" (ref.null 0)))
(assert_return (invoke $Gone "f" (ref.null extern)))
(module definition $D binary "\00asm\01\00\00\00")
(module instance $I $Nope)
(invoke $I "f" (ref.null extern))
"#,
        );
        let decided: Vec<_> = plan
            .decided
            .iter()
            .map(|c| (c.line, c.status.clone()))
            .collect();
        assert_eq!(
            decided,
            [
                (
                    2,
                    Status::NotRun("null arguments of a concrete type are not supported")
                ),
                (
                    3,
                    Status::Failed {
                        expected: "()".into(),
                        actual: "no instance named $Gone".into()
                    }
                ),
                (
                    5,
                    Status::Failed {
                        expected: "instantiation to succeed".into(),
                        actual: "no module definition $Nope".into()
                    }
                ),
                (
                    6,
                    Status::Failed {
                        expected: "success".into(),
                        actual: "its module (line 5) could not be built".into()
                    }
                ),
            ]
        );
    }

    #[test]
    fn unparsable_script_is_one_failure() {
        let plan = plan_source("t.wast", "(module)\n(assert_return (invoke \"f\"\n");
        assert_eq!(plan.decided.len(), 1);
        assert_eq!(plan.decided[0].kind, "script");
    }
}
