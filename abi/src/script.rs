//! Script mode: the contract for spec-test images (`hako spec`).
//!
//! A spec-test image holds every module of one `.wast` script, compiled, plus the script's
//! commands as data. The kernel executes the commands in order and reports the outcome of
//! each one on the harness channel (COM3, [`crate::boot::HARNESS_PORT`]). **The kernel never
//! compares**: it does not know what a command is expected to do. The runner keeps the map
//! from command id to `file:line` and expected outcome, and compares what was reported.
//!
//! This module defines four things, each used by both sides:
//!
//! 1. the [image manifest](#1-the-image-manifest) that tells the kernel what an image holds;
//! 2. the [script encoding](#2-the-script-encoding) ([`ScriptWriter`] on the host,
//!    the zero-copy [`Script`] decoder in the kernel);
//! 3. the [result lines](#3-result-lines) (the `write_*` functions in the kernel,
//!    [`parse_result_line`] on the host);
//! 4. [restart after a crash](#4-restart-after-a-crash) (kernel command-line keys
//!    [`RESUME_KEY`] and [`SKIP_KEY`]),
//!
//! and documents the [`spectest` module](#5-the-spectest-module) the kernel provides.
//!
//! ## 1. The image manifest
//!
//! Every image (program or script) defines one [`ImageManifest`] under the symbol
//! [`MANIFEST_SYMBOL`] (`hako_image_manifest`), in read-only data. The kernel reads it at
//! boot, checks [`ImageManifest::magic`] and [`ImageManifest::abi_version`] (a mismatch is a
//! `panic` record: the image was linked with another kernel), and dispatches on
//! [`ImageManifest::kind`]:
//!
//! - [`image_kind::PROGRAM`]: `modules` has exactly one entry, the program; the kernel
//!   instantiates it (WASI imports resolved) and calls `_start`, as `hako run` does today.
//!   `script` is empty.
//! - [`image_kind::SCRIPT`]: `modules` is the module table of the script (each module
//!   compiled with its own symbol prefix, [`module_prefix`]`(n)` for the script's `n`-th
//!   module, so its descriptor is `hako_spec_m<n>_module`; the table leaves out modules that
//!   did not compile, so `n` need not be the table index); `script` is the encoded command
//!   list. Nothing is instantiated until an [`Command::Instantiate`] says so.
//!
//! The runner generates the manifest as a small object file (relocations against the
//! descriptor symbols) and links it with the module objects and the kernel.
//!
//! ## 2. The script encoding
//!
//! Little-endian throughout, no alignment (read with `from_le_bytes`):
//!
//! ```text
//! script   := magic:"HKSC" version:u32(=1) count:u32 command*count
//! command  := op:u8 id:u32 payload
//!   op 1 INSTANTIATE  module:u32                      index into ImageManifest::modules
//!   op 2 REGISTER     instance:u32 name               make an instance's exports importable as `name`
//!   op 3 INVOKE       instance:u32 name argc:u32 (valtype:u8 bits:[u8;16])*argc
//!   op 4 GET          instance:u32 name               read an exported global
//! name     := len:u32 bytes*len                       UTF-8 as written in the script; compare bytes
//! ```
//!
//! - `id`s strictly increase along the script but need not be dense (the runner leaves out
//!   commands it can answer itself, e.g. a module the compiler rejected).
//! - An **instance** is named by the `id` of the `Instantiate` command that created it. An
//!   instantiation that fails creates no instance; a later command naming it reports
//!   `error` (the runner does not emit such commands when it knows in advance).
//! - Values: `valtype` is a [`crate::valtype`] code (`I32`, `I64`, `F32`, `F64`, `V128`,
//!   `FUNCREF`, `EXTERNREF`); `bits` is a [`crate::vm::ValRaw`] exactly as the array-call
//!   trampoline takes it, so the kernel copies it into the argument slot verbatim.
//!   References: `0` is null; a non-null `externref` argument is the spec's `ref.extern N`
//!   (and an `anyref` one its `ref.host N`) encoded as `(N << 3) | 2` (see
//!   [`extern_ref_bits`]); the kernel passes these bits through as the opaque pointer and
//!   never dereferences them.
//! - `Invoke` calls the export through its array-call trampoline with the arguments and
//!   reports the results. Arguments whose count or types do not match the export's type
//!   are an `error` (the runner only emits well-typed invokes).
//! - `Register` makes every export of the instance importable under module name `name`
//!   (a later registration of the same name replaces the earlier one).
//! - `Instantiate` resolves the imports (against registered names and [`SPECTEST_MODULE`]),
//!   checks them as the spec's linking rules say (kind, function type, limits, global type
//!   and mutability), allocates, initialises (globals, element and data segments in order,
//!   the start function). Writes done by segments or the start function before a trap
//!   **stay** (they are visible through imported memories and tables, the spec requires
//!   that); the instance itself is not created.
//!
//! ## 3. Result lines
//!
//! Every command that is executed reports **exactly one** line, in command order:
//!
//! ```text
//! r <id> ok [<value> ...]            Invoke/Get: the results; Register: no values
//! r <id> instantiated                Instantiate succeeded; the instance is named <id>
//! r <id> trap <code> <message>       a trap (TrapCode number, then its message), at run time
//!                                    or during instantiation (segments, start function)
//! r <id> unlinkable <message>        Instantiate: an import could not be resolved or matched
//! r <id> exception                   Invoke: an uncaught Wasm exception escaped
//! r <id> error <message>             anything else the kernel could not do (no such export,
//!                                    unsupported feature, out of memory...)
//! done                               after the last command
//! ```
//!
//! `<id>` is decimal. A `<value>` is `<type>:<hex>` with type `i32`, `i64`, `f32`, `f64`,
//! `v128`, `funcref`, `externref`, `exnref`, or for a value of the `any` hierarchy the kind
//! the kernel found (`i31ref`, `structref`, `arrayref`, else `anyref`), and the raw bits in
//! lowercase hex, zero-padded to the type's width (8, 16, 8, 16, 32 digits, 16 for
//! references); a `v128` is printed as one 128-bit number (lane 0 in the lowest bits).
//! References are printed as their raw pointer bits (`0` is null; a host reference created
//! by the script prints the same bits again). Messages run to the
//! end of the line and must not contain a newline (the writers replace them by spaces).
//! Other records of [`crate::boot::record`] may be interleaved (e.g. `enosys`); the runner
//! ignores every line that does not start with `r ` or is not `done`, except `panic`.
//!
//! ## 4. Restart after a crash
//!
//! A command that crashes the kernel (a `panic` record, a triple fault, a hang the runner
//! kills on timeout) must not hide the rest of the script. The runner notices that the
//! reports stopped at command `c` (the first id without a line) and boots the same image
//! again with these tokens on the kernel command line:
//!
//! - `hako.script.skip=<id>` (repeatable): never execute this command (it crashed before);
//! - `hako.script.resume=<id>`: execute the commands before `<id>` **silently** (no result
//!   lines; `Get` may be left out since it changes nothing; skipped ones are not executed),
//!   so that instances, registrations, memories, tables and globals are in the state they
//!   had; then execute and report from the first command with id `>= <id>` on.
//!
//! The runner reports the crashed command as failed ("guest crashed: ...") and every other
//! command from the reboots, and goes on until a boot reaches `done` or makes no progress.
//!
//! ## 5. The `spectest` module
//!
//! Imports from module [`SPECTEST_MODULE`] that no `Register` shadows resolve to the kernel's
//! built-in instance, which exports (as the reference interpreter's `spectest.ml`):
//!
//! | name | kind | type | value |
//! |---|---|---|---|
//! | `print` | func | `[] -> []` | no-op |
//! | `print_i32` | func | `[i32] -> []` | no-op |
//! | `print_i64` | func | `[i64] -> []` | no-op |
//! | `print_f32` | func | `[f32] -> []` | no-op |
//! | `print_f64` | func | `[f64] -> []` | no-op |
//! | `print_i32_f32` | func | `[i32 f32] -> []` | no-op |
//! | `print_f64_f64` | func | `[f64 f64] -> []` | no-op |
//! | `global_i32` | global | `i32` (immutable) | 666 |
//! | `global_i64` | global | `i64` (immutable) | 666 |
//! | `global_f32` | global | `f32` (immutable) | 666.6 (bits [`SPECTEST_GLOBAL_F32_BITS`]) |
//! | `global_f64` | global | `f64` (immutable) | 666.6 (bits [`SPECTEST_GLOBAL_F64_BITS`]) |
//! | `table` | table | `funcref`, min 10, max 20 | all null |
//! | `table64` | table | `i64` index, `funcref`, min 10, max 20 | all null |
//! | `memory` | memory | min 1, max 2 pages | zero |
//! | `shared_memory` | memory | min 1, max 2 pages, shared | zero (when threads are supported) |
//!
//! The `print*` functions may write their arguments to COM1 (stdout); the runner ignores
//! stdout in script mode. Any other `spectest` name is `unlinkable`.

use crate::module::{Bytes, ModuleDescriptor, Slice};
use crate::trap::TrapCode;
use crate::valtype;
use core::fmt;

/// The symbol of the [`ImageManifest`] in every image.
pub const MANIFEST_SYMBOL: &str = "hako_image_manifest";
/// [`ImageManifest::magic`]: `"HAKO"` read as a little-endian `u32`.
pub const MANIFEST_MAGIC: u32 = u32::from_le_bytes(*b"HAKO");

/// What an image holds.
pub mod image_kind {
    /// One WASI program, run from `_start`.
    pub const PROGRAM: u32 = 0;
    /// A spec-test script: a module table and a command list.
    pub const SCRIPT: u32 = 1;
}

/// The root of an image, at [`MANIFEST_SYMBOL`]. See the [module docs](self).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ImageManifest {
    /// [`MANIFEST_MAGIC`].
    pub magic: u32,
    /// [`crate::ABI_VERSION`] of the runner that linked the image.
    pub abi_version: u32,
    /// An [`image_kind`].
    pub kind: u32,
    pub _pad: u32,
    /// The module table: module `i` is `*modules[i]`.
    pub modules: Slice<*const ModuleDescriptor>,
    /// The encoded script ([`image_kind::SCRIPT`]), or empty.
    pub script: Bytes,
}

/// Byte offsets inside [`ImageManifest`], for whoever emits it as raw data.
pub const MANIFEST_MODULES_OFFSET: usize = core::mem::offset_of!(ImageManifest, modules);
pub const MANIFEST_SCRIPT_OFFSET: usize = core::mem::offset_of!(ImageManifest, script);
pub const MANIFEST_SIZE: usize = core::mem::size_of::<ImageManifest>();

/// The symbol prefix of module `index` of a script image; its descriptor is
/// `hako_spec_m<index>_module`.
pub fn module_prefix(index: u32) -> ModulePrefix {
    ModulePrefix(index)
}

/// Formats as `hako_spec_m<index>`.
#[derive(Debug, Clone, Copy)]
pub struct ModulePrefix(pub u32);

impl fmt::Display for ModulePrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "hako_spec_m{}", self.0)
    }
}

/// Command-line key: report from this command id on, replaying earlier ones silently.
pub const RESUME_KEY: &str = "hako.script.resume=";
/// Command-line key (repeatable): never execute this command id.
pub const SKIP_KEY: &str = "hako.script.skip=";

/// The module name of the kernel's built-in test module.
pub const SPECTEST_MODULE: &str = "spectest";
/// `spectest.global_f32` = 666.6 as `f32` bits.
pub const SPECTEST_GLOBAL_F32_BITS: u32 = 0x4426_a666;
/// `spectest.global_f64` = 666.6 as `f64` bits.
pub const SPECTEST_GLOBAL_F64_BITS: u64 = 0x4084_d4cc_cccc_cccd;

/// The script's first four bytes.
pub const SCRIPT_MAGIC: [u8; 4] = *b"HKSC";
/// The encoding's version.
pub const SCRIPT_VERSION: u32 = 1;

/// Command opcodes.
pub mod op {
    pub const INSTANTIATE: u8 = 1;
    pub const REGISTER: u8 = 2;
    pub const INVOKE: u8 = 3;
    pub const GET: u8 = 4;
}

/// The raw bits of the spec's `ref.extern N` as script arguments and results carry them.
/// They are GC's host references ([`crate::gc::host_ref_bits`]), so that
/// `any.convert_extern` keeps them apart from `i31` and GC objects.
pub const fn extern_ref_bits(n: u32) -> u128 {
    crate::gc::host_ref_bits(n) as u128
}

/// One argument of an [`Command::Invoke`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arg {
    /// A [`crate::valtype`] code.
    pub valtype: u8,
    /// The value's raw bits, as in [`crate::vm::ValRaw`].
    pub bits: u128,
}

/// One decoded command, borrowing names from the script bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command<'a> {
    Instantiate {
        id: u32,
        module: u32,
    },
    Register {
        id: u32,
        instance: u32,
        name: &'a [u8],
    },
    Invoke {
        id: u32,
        instance: u32,
        name: &'a [u8],
        args: Args<'a>,
    },
    Get {
        id: u32,
        instance: u32,
        name: &'a [u8],
    },
}

impl Command<'_> {
    pub fn id(&self) -> u32 {
        match *self {
            Command::Instantiate { id, .. }
            | Command::Register { id, .. }
            | Command::Invoke { id, .. }
            | Command::Get { id, .. } => id,
        }
    }
}

const ARG_SIZE: usize = 17;

/// The arguments of an [`Command::Invoke`]: an iterator over the raw encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Args<'a> {
    raw: &'a [u8],
}

impl<'a> Args<'a> {
    pub fn len(&self) -> usize {
        self.raw.len() / ARG_SIZE
    }
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }
    /// The `i`th argument.
    pub fn get(&self, i: usize) -> Option<Arg> {
        let a = self.raw.get(i * ARG_SIZE..(i + 1) * ARG_SIZE)?;
        let mut bits = [0u8; 16];
        bits.copy_from_slice(&a[1..]);
        Some(Arg {
            valtype: a[0],
            bits: u128::from_le_bytes(bits),
        })
    }
    pub fn iter(&self) -> impl Iterator<Item = Arg> + 'a {
        let this = *self;
        (0..this.len()).filter_map(move |i| this.get(i))
    }
}

/// Why a script could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    BadMagic,
    BadVersion(u32),
    /// The bytes end inside a command (at this offset).
    Truncated(usize),
    UnknownOp {
        offset: usize,
        op: u8,
    },
    /// Ids must strictly increase.
    IdOrder {
        offset: usize,
        id: u32,
    },
    /// Bytes left after the last command.
    TrailingBytes(usize),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            DecodeError::BadMagic => write!(f, "not a hako script (bad magic)"),
            DecodeError::BadVersion(v) => {
                write!(f, "script version {v}, expected {SCRIPT_VERSION}")
            }
            DecodeError::Truncated(o) => write!(f, "script truncated at offset {o}"),
            DecodeError::UnknownOp { offset, op } => {
                write!(f, "unknown script op {op} at offset {offset}")
            }
            DecodeError::IdOrder { offset, id } => {
                write!(f, "command id {id} at offset {offset} does not increase")
            }
            DecodeError::TrailingBytes(o) => write!(f, "trailing bytes at offset {o}"),
        }
    }
}

/// A decoded script: validated once by [`Script::parse`], then iterated without allocation.
#[derive(Debug, Clone, Copy)]
pub struct Script<'a> {
    count: u32,
    body: &'a [u8],
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or(DecodeError::Truncated(self.pos))?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, DecodeError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn name(&mut self) -> Result<&'a [u8], DecodeError> {
        let len = self.u32()? as usize;
        self.take(len)
    }
    fn command(&mut self) -> Result<Command<'a>, DecodeError> {
        let at = self.pos;
        let op = self.u8()?;
        let id = self.u32()?;
        Ok(match op {
            op::INSTANTIATE => Command::Instantiate {
                id,
                module: self.u32()?,
            },
            op::REGISTER => Command::Register {
                id,
                instance: self.u32()?,
                name: self.name()?,
            },
            op::INVOKE => {
                let instance = self.u32()?;
                let name = self.name()?;
                let argc = self.u32()? as usize;
                let len = argc
                    .checked_mul(ARG_SIZE)
                    .ok_or(DecodeError::Truncated(self.pos))?;
                Command::Invoke {
                    id,
                    instance,
                    name,
                    args: Args {
                        raw: self.take(len)?,
                    },
                }
            }
            op::GET => Command::Get {
                id,
                instance: self.u32()?,
                name: self.name()?,
            },
            op => return Err(DecodeError::UnknownOp { offset: at, op }),
        })
    }
}

impl<'a> Script<'a> {
    /// Check the header and every command.
    pub fn parse(bytes: &'a [u8]) -> Result<Script<'a>, DecodeError> {
        let mut r = Reader { bytes, pos: 0 };
        if r.take(4).map_err(|_| DecodeError::BadMagic)? != SCRIPT_MAGIC {
            return Err(DecodeError::BadMagic);
        }
        let version = r.u32()?;
        if version != SCRIPT_VERSION {
            return Err(DecodeError::BadVersion(version));
        }
        let count = r.u32()?;
        let body_start = r.pos;
        let mut last: Option<u32> = None;
        for _ in 0..count {
            let at = r.pos;
            let id = r.command()?.id();
            if last.is_some_and(|l| id <= l) {
                return Err(DecodeError::IdOrder { offset: at, id });
            }
            last = Some(id);
        }
        if r.pos != bytes.len() {
            return Err(DecodeError::TrailingBytes(r.pos));
        }
        Ok(Script {
            count,
            body: &bytes[body_start..],
        })
    }

    /// The number of commands.
    pub fn len(&self) -> u32 {
        self.count
    }
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The commands in order.
    pub fn commands(&self) -> Commands<'a> {
        Commands {
            reader: Reader {
                bytes: self.body,
                pos: 0,
            },
            left: self.count,
        }
    }
}

/// Iterator over a [`Script`]'s commands.
pub struct Commands<'a> {
    reader: Reader<'a>,
    left: u32,
}

impl fmt::Debug for Commands<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Commands")
            .field("left", &self.left)
            .finish()
    }
}

impl<'a> Iterator for Commands<'a> {
    type Item = Command<'a>;
    fn next(&mut self) -> Option<Command<'a>> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        // Validated by `Script::parse`, so this cannot fail.
        self.reader.command().ok()
    }
}

/// Encodes a script, writing bytes through a callback (the runner collects them in a
/// `Vec<u8>`). Ids are handed out by the caller and must strictly increase.
pub struct ScriptWriter<F: FnMut(&[u8])> {
    out: F,
    count: u32,
}

impl<F: FnMut(&[u8])> fmt::Debug for ScriptWriter<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScriptWriter")
            .field("count", &self.count)
            .finish()
    }
}

impl<F: FnMut(&[u8])> ScriptWriter<F> {
    /// Start a script of exactly `count` commands (the header is written first).
    pub fn new(count: u32, mut out: F) -> Self {
        out(&SCRIPT_MAGIC);
        out(&SCRIPT_VERSION.to_le_bytes());
        out(&count.to_le_bytes());
        ScriptWriter { out, count }
    }

    fn head(&mut self, op: u8, id: u32) {
        (self.out)(&[op]);
        (self.out)(&id.to_le_bytes());
    }

    fn name(&mut self, name: &[u8]) {
        (self.out)(&(name.len() as u32).to_le_bytes());
        (self.out)(name);
    }

    pub fn write(&mut self, command: &Command<'_>) {
        match *command {
            Command::Instantiate { id, module } => {
                self.head(op::INSTANTIATE, id);
                (self.out)(&module.to_le_bytes());
            }
            Command::Register { id, instance, name } => {
                self.head(op::REGISTER, id);
                (self.out)(&instance.to_le_bytes());
                self.name(name);
            }
            Command::Invoke {
                id,
                instance,
                name,
                args,
            } => {
                self.head(op::INVOKE, id);
                (self.out)(&instance.to_le_bytes());
                self.name(name);
                (self.out)(&(args.len() as u32).to_le_bytes());
                (self.out)(args.raw);
            }
            Command::Get { id, instance, name } => {
                self.head(op::GET, id);
                (self.out)(&instance.to_le_bytes());
                self.name(name);
            }
        }
    }

    /// Write an invoke whose arguments are given as values rather than encoded bytes.
    pub fn write_invoke(&mut self, id: u32, instance: u32, name: &[u8], args: &[Arg]) {
        self.head(op::INVOKE, id);
        (self.out)(&instance.to_le_bytes());
        self.name(name);
        (self.out)(&(args.len() as u32).to_le_bytes());
        for a in args {
            (self.out)(&[a.valtype]);
            (self.out)(&a.bits.to_le_bytes());
        }
    }
}

// ---------------------------------------------------------------------------------------
// Result lines

/// The name of a value type in result lines, and its width in hex digits.
pub const fn type_name(valtype: u8) -> Option<(&'static str, usize)> {
    Some(match valtype {
        valtype::I32 => ("i32", 8),
        valtype::I64 => ("i64", 16),
        valtype::F32 => ("f32", 8),
        valtype::F64 => ("f64", 16),
        valtype::V128 => ("v128", 32),
        valtype::FUNCREF => ("funcref", 16),
        valtype::EXTERNREF => ("externref", 16),
        valtype::ANYREF => ("anyref", 16),
        valtype::EQREF => ("eqref", 16),
        valtype::I31REF => ("i31ref", 16),
        valtype::STRUCTREF => ("structref", 16),
        valtype::ARRAYREF => ("arrayref", 16),
        valtype::EXNREF => ("exnref", 16),
        _ => return None,
    })
}

/// The value type with this result-line name.
pub fn type_from_name(name: &str) -> Option<u8> {
    [
        valtype::I32,
        valtype::I64,
        valtype::F32,
        valtype::F64,
        valtype::V128,
        valtype::FUNCREF,
        valtype::EXTERNREF,
        valtype::ANYREF,
        valtype::EQREF,
        valtype::I31REF,
        valtype::STRUCTREF,
        valtype::ARRAYREF,
        valtype::EXNREF,
    ]
    .into_iter()
    .find(|&t| type_name(t).is_some_and(|(n, _)| n == name))
}

/// Write `<type>:<hex>` for one value.
pub fn write_value(out: &mut impl fmt::Write, valtype: u8, bits: u128) -> fmt::Result {
    match type_name(valtype) {
        Some((name, width)) => {
            let mask = if width == 32 {
                u128::MAX
            } else {
                (1u128 << (width * 4)) - 1
            };
            write!(out, "{name}:{:0width$x}", bits & mask, width = width)
        }
        None => write!(out, "0x{valtype:02x}:{bits:032x}"),
    }
}

fn write_message(out: &mut impl fmt::Write, message: &str) -> fmt::Result {
    for c in message.chars() {
        out.write_char(if c == '\n' || c == '\r' { ' ' } else { c })?;
    }
    out.write_char('\n')
}

/// `r <id> ok <values...>\n`.
pub fn write_ok(
    out: &mut impl fmt::Write,
    id: u32,
    values: impl IntoIterator<Item = (u8, u128)>,
) -> fmt::Result {
    write!(out, "r {id} ok")?;
    for (t, bits) in values {
        out.write_char(' ')?;
        write_value(out, t, bits)?;
    }
    out.write_char('\n')
}

/// `r <id> instantiated\n`.
pub fn write_instantiated(out: &mut impl fmt::Write, id: u32) -> fmt::Result {
    writeln!(out, "r {id} instantiated")
}

/// `r <id> trap <code> <message>\n`.
pub fn write_trap(out: &mut impl fmt::Write, id: u32, code: TrapCode) -> fmt::Result {
    write!(out, "r {id} trap {} ", code as u32)?;
    write_message(out, code.message())
}

/// `r <id> unlinkable <message>\n`.
pub fn write_unlinkable(out: &mut impl fmt::Write, id: u32, message: &str) -> fmt::Result {
    write!(out, "r {id} unlinkable ")?;
    write_message(out, message)
}

/// `r <id> exception\n`.
pub fn write_exception(out: &mut impl fmt::Write, id: u32) -> fmt::Result {
    writeln!(out, "r {id} exception")
}

/// `r <id> error <message>\n`.
pub fn write_error(out: &mut impl fmt::Write, id: u32, message: &str) -> fmt::Result {
    write!(out, "r {id} error ")?;
    write_message(out, message)
}

/// The line after the last command.
pub const DONE: &str = "done";

/// What one result line says about its command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome<'a> {
    /// The results, as `<type>:<hex>` words (see [`Values`]).
    Ok(Values<'a>),
    Instantiated,
    /// The trap code number (it may be one this side does not know) and the message.
    Trap {
        code: u32,
        message: &'a str,
    },
    Unlinkable(&'a str),
    Exception,
    Error(&'a str),
}

/// A parsed result line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResultLine<'a> {
    pub id: u32,
    pub outcome: Outcome<'a>,
}

/// The values of an `ok` line, parsed lazily.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Values<'a>(&'a str);

impl<'a> Values<'a> {
    /// Each value as `(valtype, bits)`, or `Err(word)` for a word that is not a value.
    pub fn iter(&self) -> impl Iterator<Item = Result<(u8, u128), &'a str>> + 'a {
        self.0
            .split_ascii_whitespace()
            .map(|word| parse_value(word).ok_or(word))
    }
}

fn parse_value(word: &str) -> Option<(u8, u128)> {
    let (name, hex) = word.split_once(':')?;
    let t = type_from_name(name)?;
    let (_, width) = type_name(t)?;
    if hex.is_empty() || hex.len() > width {
        return None;
    }
    Some((t, u128::from_str_radix(hex, 16).ok()?))
}

/// Why a line is not a result line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineError {
    /// The line does not start with `r ` (it is another record, or [`DONE`]).
    NotAResult,
    /// It starts with `r ` but does not follow the format.
    Malformed,
}

/// Parse one harness line (without its newline).
pub fn parse_result_line(line: &str) -> Result<ResultLine<'_>, LineError> {
    let line = line.trim_end_matches(['\r', '\n']);
    let rest = line.strip_prefix("r ").ok_or(LineError::NotAResult)?;
    let (id, rest) = rest.split_once(' ').ok_or(LineError::Malformed)?;
    let id: u32 = id.parse().map_err(|_| LineError::Malformed)?;
    let (kind, rest) = rest.split_once(' ').unwrap_or((rest, ""));
    let outcome = match kind {
        "ok" => {
            let values = Values(rest);
            if values.iter().any(|v| v.is_err()) {
                return Err(LineError::Malformed);
            }
            Outcome::Ok(values)
        }
        "instantiated" if rest.is_empty() => Outcome::Instantiated,
        "exception" if rest.is_empty() => Outcome::Exception,
        "trap" => {
            let (code, message) = rest.split_once(' ').unwrap_or((rest, ""));
            Outcome::Trap {
                code: code.parse().map_err(|_| LineError::Malformed)?,
                message,
            }
        }
        "unlinkable" => Outcome::Unlinkable(rest),
        "error" => Outcome::Error(rest),
        _ => return Err(LineError::Malformed),
    };
    Ok(ResultLine { id, outcome })
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::String;
    use std::vec::Vec;

    fn encode(commands: &[Command<'_>]) -> Vec<u8> {
        let mut bytes = Vec::new();
        let mut w = ScriptWriter::new(commands.len() as u32, |b| bytes.extend_from_slice(b));
        for c in commands {
            w.write(c);
        }
        drop(w);
        bytes
    }

    #[test]
    fn script_round_trip() {
        let mut argbytes = Vec::new();
        let args = [
            Arg {
                valtype: valtype::I32,
                bits: 0xffff_ffff,
            },
            Arg {
                valtype: valtype::V128,
                bits: u128::MAX - 5,
            },
            Arg {
                valtype: valtype::EXTERNREF,
                bits: extern_ref_bits(0),
            },
        ];
        {
            let mut w = ScriptWriter::new(5, |b| argbytes.extend_from_slice(b));
            w.write(&Command::Instantiate { id: 0, module: 0 });
            w.write(&Command::Register {
                id: 1,
                instance: 0,
                name: b"M",
            });
            w.write_invoke(3, 0, "f\u{0}ü".as_bytes(), &args);
            w.write(&Command::Get {
                id: 4,
                instance: 0,
                name: b"",
            });
            w.write(&Command::Instantiate { id: 9, module: 7 });
        }
        let script = Script::parse(&argbytes).unwrap();
        assert_eq!(script.len(), 5);
        let cmds: Vec<_> = script.commands().collect();
        assert_eq!(cmds[0], Command::Instantiate { id: 0, module: 0 });
        assert_eq!(
            cmds[1],
            Command::Register {
                id: 1,
                instance: 0,
                name: b"M"
            }
        );
        match cmds[2] {
            Command::Invoke {
                id: 3,
                instance: 0,
                name,
                args: a,
            } => {
                assert_eq!(name, "f\u{0}ü".as_bytes());
                assert_eq!(a.iter().collect::<Vec<_>>(), args);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            cmds[3],
            Command::Get {
                id: 4,
                instance: 0,
                name: b""
            }
        );
        assert_eq!(cmds[4].id(), 9);
        // Re-encoding the decoded commands gives the same bytes.
        assert_eq!(encode(&cmds), argbytes);
    }

    #[test]
    fn decoder_rejects_bad_input() {
        let good = encode(&[
            Command::Instantiate { id: 0, module: 1 },
            Command::Get {
                id: 1,
                instance: 0,
                name: b"g",
            },
        ]);
        assert!(Script::parse(&good).is_ok());
        for cut in 0..good.len() {
            assert!(
                Script::parse(&good[..cut]).is_err(),
                "prefix of {cut} bytes accepted"
            );
        }
        let mut trailing = good.clone();
        trailing.push(0);
        assert_eq!(
            Script::parse(&trailing).unwrap_err(),
            DecodeError::TrailingBytes(good.len())
        );
        let mut bad_op = good.clone();
        bad_op[12] = 99;
        assert_eq!(
            Script::parse(&bad_op).unwrap_err(),
            DecodeError::UnknownOp { offset: 12, op: 99 }
        );
        let order = encode(&[
            Command::Instantiate { id: 5, module: 0 },
            Command::Instantiate { id: 5, module: 0 },
        ]);
        assert!(matches!(
            Script::parse(&order),
            Err(DecodeError::IdOrder { id: 5, .. })
        ));
        let mut huge = encode(&[Command::Invoke {
            id: 0,
            instance: 0,
            name: b"",
            args: Args { raw: &[] },
        }]);
        let n = huge.len();
        huge[n - 4..].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(Script::parse(&huge).is_err());
    }

    #[test]
    fn result_lines_round_trip() {
        let mut s = String::new();
        write_ok(
            &mut s,
            7,
            [
                (valtype::I32, 42),
                (valtype::F64, 0x7ff8_0000_0000_0000),
                (valtype::V128, 1),
                (valtype::EXTERNREF, 0),
            ],
        )
        .unwrap();
        write_instantiated(&mut s, 8).unwrap();
        write_trap(&mut s, 9, TrapCode::IntegerDivideByZero).unwrap();
        write_unlinkable(&mut s, 10, "unknown import\nspectest.foo").unwrap();
        write_error(&mut s, 11, "no export `f`").unwrap();
        write_exception(&mut s, 12).unwrap();
        write_ok(&mut s, 13, []).unwrap();
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines[0], "r 7 ok i32:0000002a f64:7ff8000000000000 v128:00000000000000000000000000000001 externref:0000000000000000");
        assert_eq!(lines[2], "r 9 trap 1 integer divide by zero");
        let parsed: Vec<_> = lines
            .iter()
            .map(|l| parse_result_line(l).unwrap())
            .collect();
        match parsed[0].outcome {
            Outcome::Ok(v) => assert_eq!(
                v.iter().collect::<Vec<_>>(),
                [
                    Ok((valtype::I32, 42)),
                    Ok((valtype::F64, 0x7ff8_0000_0000_0000)),
                    Ok((valtype::V128, 1)),
                    Ok((valtype::EXTERNREF, 0))
                ]
            ),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            parsed[1],
            ResultLine {
                id: 8,
                outcome: Outcome::Instantiated
            }
        );
        assert_eq!(
            parsed[2].outcome,
            Outcome::Trap {
                code: 1,
                message: "integer divide by zero"
            }
        );
        assert_eq!(
            parsed[3].outcome,
            Outcome::Unlinkable("unknown import spectest.foo")
        );
        assert_eq!(parsed[4].outcome, Outcome::Error("no export `f`"));
        assert_eq!(parsed[5].outcome, Outcome::Exception);
        assert!(matches!(parsed[6].outcome, Outcome::Ok(v) if v.iter().count() == 0));
        assert_eq!(parse_result_line("done"), Err(LineError::NotAResult));
        assert_eq!(parse_result_line("exit 0"), Err(LineError::NotAResult));
        assert_eq!(parse_result_line("r x ok"), Err(LineError::Malformed));
        assert_eq!(
            parse_result_line("r 1 ok i32:123456789"),
            Err(LineError::Malformed)
        );
        assert_eq!(parse_result_line("r 1 bogus"), Err(LineError::Malformed));
    }

    #[test]
    fn spectest_float_bits() {
        assert_eq!(f32::from_bits(SPECTEST_GLOBAL_F32_BITS), 666.6f32);
        assert_eq!(f64::from_bits(SPECTEST_GLOBAL_F64_BITS), 666.6f64);
    }

    #[test]
    fn manifest_layout() {
        assert_eq!(MANIFEST_MODULES_OFFSET, 16);
        assert_eq!(MANIFEST_SCRIPT_OFFSET, 32);
        assert_eq!(MANIFEST_SIZE, 48);
        assert_eq!(MANIFEST_MAGIC.to_le_bytes(), *b"HAKO");
        extern crate std as s;
        use s::string::ToString;
        assert_eq!(module_prefix(3).to_string(), "hako_spec_m3");
    }
}
