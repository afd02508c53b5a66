//! Script mode, the target-independent part: checking the image manifest, which commands a
//! (re)boot executes and reports (`hako.script.resume=` / `hako.script.skip=`), the
//! instance and registration tables, and the typing of `Invoke` arguments and results.
//! The executor itself (instantiation, calls into Wasm) is `runtime::script`.
//!
//! The contract is [`hako_abi::script`]; nothing here compares outcomes with expectations.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use hako_abi::script::{image_kind, Args, ImageManifest, MANIFEST_MAGIC};
use hako_abi::valtype;
use hako_abi::vm::ValRaw;

/// The image kinds the kernel runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Program,
    Script,
}

/// Check the manifest's magic, ABI version and kind (and the program's module count).
pub fn check_manifest(m: &ImageManifest) -> Result<Kind, String> {
    if m.magic != MANIFEST_MAGIC {
        return Err(format!("bad image manifest magic {:#010x}", m.magic));
    }
    if m.abi_version != hako_abi::ABI_VERSION {
        return Err(format!(
            "image manifest ABI version {} is not the kernel's {}",
            m.abi_version,
            hako_abi::ABI_VERSION
        ));
    }
    match m.kind {
        image_kind::PROGRAM if m.modules.len == 1 => Ok(Kind::Program),
        image_kind::PROGRAM => Err(format!(
            "a program image needs exactly one module, this one has {}",
            m.modules.len
        )),
        image_kind::SCRIPT => Ok(Kind::Script),
        k => Err(format!("unknown image kind {k}")),
    }
}

/// What to do with one command on this boot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Listed in `hako.script.skip=`: do not execute.
    Skip,
    /// Before `hako.script.resume=`: execute without a result line.
    Silent,
    /// Execute and report.
    Report,
}

/// Restart settings from the command line.
#[derive(Debug, Clone, Default)]
pub struct Restart {
    pub resume: u32,
    pub skip: Vec<u32>,
}

impl Restart {
    pub fn disposition(&self, id: u32) -> Disposition {
        if self.skip.contains(&id) {
            Disposition::Skip
        } else if id < self.resume {
            Disposition::Silent
        } else {
            Disposition::Report
        }
    }
}

/// Script instance names (`Instantiate` command ids) and registrations, mapped to the
/// store's instance indices.
#[derive(Debug, Default)]
pub struct Names {
    /// `(command id, store index)`, ids increasing.
    instances: Vec<(u32, usize)>,
    /// `(module name, store index)`.
    registered: Vec<(Vec<u8>, usize)>,
}

impl Names {
    pub fn add_instance(&mut self, id: u32, index: usize) {
        self.instances.push((id, index));
    }
    /// The store index of the instance the `Instantiate` command `id` created.
    pub fn instance(&self, id: u32) -> Option<usize> {
        self.instances
            .binary_search_by_key(&id, |&(i, _)| i)
            .ok()
            .map(|k| self.instances[k].1)
    }
    /// Make `index` importable as `name`, replacing an earlier registration.
    pub fn register(&mut self, name: &[u8], index: usize) {
        match self.registered.iter_mut().find(|(n, _)| n == name) {
            Some(r) => r.1 = index,
            None => self.registered.push((name.to_vec(), index)),
        }
    }
    pub fn registered(&self, name: &[u8]) -> Option<usize> {
        self.registered
            .iter()
            .find(|(n, _)| n == name)
            .map(|&(_, i)| i)
    }
}

/// Check an `Invoke`'s arguments against the export's parameter types.
pub fn check_args(params: &[u8], args: &Args<'_>) -> Result<(), String> {
    if params.len() != args.len() {
        return Err(format!(
            "{} arguments given, the function takes {}",
            args.len(),
            params.len()
        ));
    }
    for (i, (p, a)) in params.iter().zip(args.iter()).enumerate() {
        if *p != a.valtype {
            return Err(format!(
                "argument {i} has type {:#04x}, the function takes {p:#04x}",
                a.valtype
            ));
        }
    }
    Ok(())
}

/// The raw bits of a value of type `t` in a slot (only the type's own bytes).
pub fn value_bits(t: u8, v: &ValRaw) -> u128 {
    match t {
        valtype::I32 | valtype::F32 => v.u32() as u128,
        valtype::V128 => v.u128(),
        _ => v.u64() as u128,
    }
}

/// The results of a call as `(valtype, bits)`, from the trampoline's value buffer.
pub fn results<'a>(types: &'a [u8], slots: &'a [ValRaw]) -> impl Iterator<Item = (u8, u128)> + 'a {
    types.iter().zip(slots).map(|(&t, v)| (t, value_bits(t, v)))
}

/// Names from the script for messages.
pub fn show(name: &[u8]) -> &str {
    core::str::from_utf8(name).unwrap_or("<non-utf8 name>")
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use hako_abi::module::Slice;
    use hako_abi::script::{op, Arg, Command, Script, ScriptWriter};

    fn manifest(magic: u32, abi: u32, kind: u32, nmods: u64) -> ImageManifest {
        ImageManifest {
            magic,
            abi_version: abi,
            kind,
            _pad: 0,
            modules: Slice {
                ptr: core::ptr::null(),
                len: nmods,
            },
            script: Slice::EMPTY,
        }
    }

    #[test]
    fn manifest_checks() {
        let v = hako_abi::ABI_VERSION;
        assert_eq!(
            check_manifest(&manifest(MANIFEST_MAGIC, v, image_kind::PROGRAM, 1)),
            Ok(Kind::Program)
        );
        assert_eq!(
            check_manifest(&manifest(MANIFEST_MAGIC, v, image_kind::SCRIPT, 0)),
            Ok(Kind::Script)
        );
        assert!(check_manifest(&manifest(MANIFEST_MAGIC, v, image_kind::PROGRAM, 2)).is_err());
        assert!(check_manifest(&manifest(0x1234, v, image_kind::PROGRAM, 1))
            .unwrap_err()
            .contains("magic"));
        assert!(
            check_manifest(&manifest(MANIFEST_MAGIC, v + 1, image_kind::SCRIPT, 1))
                .unwrap_err()
                .contains("ABI version")
        );
        assert!(check_manifest(&manifest(MANIFEST_MAGIC, v, 9, 1)).is_err());
    }

    #[test]
    fn restart_dispositions() {
        let r = Restart::default();
        assert_eq!(r.disposition(0), Disposition::Report);
        let r = Restart {
            resume: 10,
            skip: vec![4, 10],
        };
        assert_eq!(r.disposition(3), Disposition::Silent);
        assert_eq!(r.disposition(4), Disposition::Skip);
        assert_eq!(r.disposition(10), Disposition::Skip);
        assert_eq!(r.disposition(11), Disposition::Report);
    }

    #[test]
    fn names_and_registrations() {
        let mut n = Names::default();
        n.add_instance(0, 0);
        n.add_instance(5, 2);
        n.add_instance(9, 3);
        assert_eq!(n.instance(5), Some(2));
        assert_eq!(n.instance(9), Some(3));
        assert_eq!(n.instance(1), None);
        n.register(b"M", 0);
        n.register(b"N", 2);
        n.register(b"M", 3);
        assert_eq!(n.registered(b"M"), Some(3));
        assert_eq!(n.registered(b"N"), Some(2));
        assert_eq!(n.registered(b"spectest"), None);
    }

    fn invoke_args(args: &[Arg]) -> Vec<u8> {
        let mut bytes = Vec::new();
        {
            let mut w = ScriptWriter::new(1, |b| bytes.extend_from_slice(b));
            w.write_invoke(0, 0, b"f", args);
        }
        bytes
    }

    #[test]
    fn invoke_arguments_are_typed() {
        let a = [
            Arg {
                valtype: valtype::I32,
                bits: 1,
            },
            Arg {
                valtype: valtype::F64,
                bits: 2,
            },
        ];
        let bytes = invoke_args(&a);
        let script = Script::parse(&bytes).unwrap();
        let Some(Command::Invoke { args, .. }) = script.commands().next() else {
            panic!()
        };
        assert_eq!(check_args(&[valtype::I32, valtype::F64], &args), Ok(()));
        assert!(check_args(&[valtype::I32], &args).is_err());
        assert!(check_args(&[valtype::I32, valtype::F32], &args)
            .unwrap_err()
            .contains("argument 1"));
        // The encoding the kernel decodes: op, id, instance, name, argc, args.
        assert_eq!(bytes[12], op::INVOKE);
    }

    #[test]
    fn result_bits_use_the_type_width() {
        let mut slot = ValRaw::from_u128(u128::MAX);
        assert_eq!(value_bits(valtype::I32, &slot), 0xffff_ffff);
        assert_eq!(value_bits(valtype::F64, &slot), u64::MAX as u128);
        assert_eq!(value_bits(valtype::V128, &slot), u128::MAX);
        assert_eq!(value_bits(valtype::EXTERNREF, &slot), u64::MAX as u128);
        slot = ValRaw::from_u32(7);
        let slots = [slot, ValRaw::from_u64(9)];
        let r: Vec<_> = results(&[valtype::I32, valtype::I64], &slots).collect();
        assert_eq!(r, vec![(valtype::I32, 7), (valtype::I64, 9)]);
    }
}
