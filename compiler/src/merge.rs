//! Merging the objects of a module compiled in parallel parts into one relocatable object,
//! in process (what `ld -r` would do, without starting a linker).
//!
//! The parts are LLVM's x86_64 ELF objects of one module: they define disjoint sets of
//! global symbols and refer to each other's through undefined globals of the same names.
//! The merged object keeps every section of every part as a section of its own (a
//! relocatable object may hold several sections of one name; the final link concatenates
//! them), so section offsets, and with them every symbol value and relocation offset, stay
//! as they are. Only symbol indices change: each global name becomes one symbol, defined
//! when a part defines it, and every relocation is re-pointed at it.

use std::collections::HashMap;

use object::elf;
use object::read::elf::{ElfFile64, SectionHeader as _};
use object::write::{self, SectionId, SymbolId, SymbolSection};
use object::{
    Endianness, Object as _, ObjectSection as _, ObjectSymbol as _, RelocationTarget, SectionFlags,
    SectionIndex, SectionKind, SymbolFlags, SymbolIndex, SymbolKind,
};

use crate::error::{internal, CompileError, Result};

/// LLVM's symbol-address-significance table (`.llvm_addrsig`).
const SHT_LLVM_ADDRSIG: u32 = 0x6fff_4c03;

/// One relocatable object made of `parts` (see the module docs). A single part is
/// returned as it is.
pub fn merge_objects(mut parts: Vec<Vec<u8>>) -> Result<Vec<u8>, CompileError> {
    if parts.len() == 1 {
        return Ok(parts.pop().unwrap_or_default());
    }
    let mut merger = Merger::new();
    for (p, bytes) in parts.iter().enumerate() {
        let file = ElfFile64::<Endianness>::parse(bytes.as_slice())
            .map_err(|e| internal(format!("part {p} of the compiled module: {e}")))?;
        merger
            .add(&file)
            .map_err(|e| internal(format!("merging part {p} of the compiled module: {e}")))?;
    }
    merger.finish().map_err(CompileError::from)
}

struct Merger {
    out: write::Object<'static>,
    /// Global symbols by name.
    globals: HashMap<Vec<u8>, SymbolId>,
    /// Whether the note that the stack is not executable is already in.
    stack_note: bool,
}

impl Merger {
    fn new() -> Merger {
        let mut out = write::Object::new(
            object::BinaryFormat::Elf,
            object::Architecture::X86_64,
            Endianness::Little,
        );
        // x86_64 ELF objects carry no `e_flags`.
        out.flags = object::FileFlags::None;
        Merger {
            out,
            globals: HashMap::new(),
            stack_note: false,
        }
    }

    fn add(&mut self, file: &ElfFile64<'_, Endianness>) -> core::result::Result<(), String> {
        let mut sections: HashMap<SectionIndex, SectionId> = HashMap::new();
        for section in file.sections() {
            let SectionFlags::Elf { sh_flags } = section.flags() else {
                continue;
            };
            let sh_type = section.elf_section_header().sh_type(Endianness::Little);
            let name = section.name_bytes().map_err(|e| e.to_string())?;
            match sh_type {
                elf::SHT_PROGBITS | elf::SHT_NOBITS | elf::SHT_X86_64_UNWIND => {}
                elf::SHT_INIT_ARRAY | elf::SHT_FINI_ARRAY | elf::SHT_NOTE => {}
                // Tables this merge rebuilds (symbols, strings, relocations) or drops (the
                // address-significance table).
                elf::SHT_NULL
                | elf::SHT_SYMTAB
                | elf::SHT_STRTAB
                | elf::SHT_RELA
                | elf::SHT_REL
                | SHT_LLVM_ADDRSIG => continue,
                other => {
                    return Err(format!(
                        "section `{}` has a type ({other:#x}) the merge does not handle",
                        String::from_utf8_lossy(name)
                    ))
                }
            }
            if section.size() == 0 && name == b".note.GNU-stack" {
                if self.stack_note {
                    continue;
                }
                self.stack_note = true;
            }
            let kind = match section.kind() {
                // Keep the type of sections object does not know (`.eh_frame`'s).
                SectionKind::Unknown => SectionKind::Elf(sh_type),
                kind => kind,
            };
            // The writer gives string sections an entry size of 1 and every other section 0:
            // a section of mergeable constants (`.rodata.cst8`) becomes plain data, which
            // only costs the final link deduplicating them.
            let entsize = section.elf_section_header().sh_entsize(Endianness::Little);
            let mut sh_flags = sh_flags;
            if !(kind == SectionKind::ReadOnlyString && entsize == 1) {
                sh_flags &= !u64::from(elf::SHF_MERGE | elf::SHF_STRINGS);
            }
            let id = self.out.add_section(Vec::new(), name.to_vec(), kind);
            let align = section.align().max(1);
            if sh_type == elf::SHT_NOBITS {
                self.out.append_section_bss(id, section.size(), align);
            } else {
                let data = section.data().map_err(|e| e.to_string())?;
                self.out.set_section_data(id, data.to_vec(), align);
            }
            self.out.section_mut(id).flags = SectionFlags::Elf { sh_flags };
            sections.insert(section.index(), id);
        }

        let mut symbols: HashMap<SymbolIndex, SymbolId> = HashMap::new();
        for symbol in file.symbols() {
            let id = match symbol.kind() {
                SymbolKind::File => continue,
                SymbolKind::Section => {
                    let Some(&section) = symbol.section_index().and_then(|i| sections.get(&i))
                    else {
                        continue;
                    };
                    self.out.section_symbol(section)
                }
                kind => {
                    let name = symbol.name_bytes().map_err(|e| e.to_string())?;
                    let section = match symbol.section_index() {
                        Some(index) => match sections.get(&index) {
                            Some(&id) => SymbolSection::Section(id),
                            None => {
                                return Err(format!(
                                    "symbol `{}` is in a section the merge dropped",
                                    String::from_utf8_lossy(name)
                                ))
                            }
                        },
                        None if symbol.is_undefined() => SymbolSection::Undefined,
                        None => SymbolSection::Absolute,
                    };
                    let SymbolFlags::Elf { st_info, st_other } = symbol.flags() else {
                        continue;
                    };
                    let new = write::Symbol {
                        name: name.to_vec(),
                        value: symbol.address(),
                        size: symbol.size(),
                        kind,
                        scope: symbol.scope(),
                        weak: symbol.is_weak(),
                        section,
                        flags: SymbolFlags::Elf { st_info, st_other },
                    };
                    if symbol.is_local() {
                        self.out.add_symbol(new)
                    } else {
                        self.global(new)?
                    }
                }
            };
            symbols.insert(symbol.index(), id);
        }

        for section in file.sections() {
            let Some(&id) = sections.get(&section.index()) else {
                continue;
            };
            for (offset, relocation) in section.relocations() {
                let symbol = match relocation.target() {
                    RelocationTarget::Symbol(index) => *symbols
                        .get(&index)
                        .ok_or_else(|| format!("a relocation refers to symbol {}", index.0))?,
                    RelocationTarget::Section(index) => {
                        let section = sections.get(&index).ok_or_else(|| {
                            format!("a relocation refers to dropped section {}", index.0)
                        })?;
                        self.out.section_symbol(*section)
                    }
                    target => return Err(format!("unexpected relocation target {target:?}")),
                };
                self.out
                    .add_relocation(
                        id,
                        write::Relocation {
                            offset,
                            symbol,
                            addend: relocation.addend(),
                            flags: relocation.flags(),
                        },
                    )
                    .map_err(|e| e.to_string())?;
            }
        }
        Ok(())
    }

    /// The one symbol of a global name: an undefined reference until a part defines it.
    fn global(&mut self, symbol: write::Symbol) -> core::result::Result<SymbolId, String> {
        let Some(&id) = self.globals.get(&symbol.name) else {
            let name = symbol.name.clone();
            let id = self.out.add_symbol(symbol);
            self.globals.insert(name, id);
            return Ok(id);
        };
        if symbol.section != SymbolSection::Undefined {
            let existing = self.out.symbol_mut(id);
            if existing.section != SymbolSection::Undefined {
                return Err(format!(
                    "two parts define `{}`",
                    String::from_utf8_lossy(&symbol.name)
                ));
            }
            *existing = symbol;
        }
        Ok(id)
    }

    fn finish(self) -> Result<Vec<u8>> {
        self.out
            .write()
            .map_err(|e| internal(format!("writing the merged object: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A part that defines `defines` (hidden, in `.text`, 16 bytes of code and an 8-byte
    /// constant in `.rodata.cst8`) and calls `calls` (undefined) from offset 4.
    fn part(defines: &str, calls: &str) -> Vec<u8> {
        let mut obj = write::Object::new(
            object::BinaryFormat::Elf,
            object::Architecture::X86_64,
            Endianness::Little,
        );
        let text = obj.add_section(Vec::new(), b".text".to_vec(), SectionKind::Text);
        obj.append_section_data(text, &[0x90; 16], 16);
        let cst = obj.add_section(
            Vec::new(),
            b".rodata.cst8".to_vec(),
            SectionKind::ReadOnlyData,
        );
        obj.append_section_data(cst, &7u64.to_le_bytes(), 8);
        obj.section_mut(cst).flags = SectionFlags::Elf {
            sh_flags: u64::from(elf::SHF_ALLOC | elf::SHF_MERGE),
        };
        let hidden = SymbolFlags::Elf {
            st_info: (elf::STB_GLOBAL << 4) | elf::STT_FUNC,
            st_other: elf::STV_HIDDEN,
        };
        obj.add_symbol(write::Symbol {
            name: defines.as_bytes().to_vec(),
            value: 0,
            size: 16,
            kind: SymbolKind::Text,
            scope: object::SymbolScope::Linkage,
            weak: false,
            section: SymbolSection::Section(text),
            flags: hidden,
        });
        let callee = obj.add_symbol(write::Symbol {
            name: calls.as_bytes().to_vec(),
            value: 0,
            size: 0,
            kind: SymbolKind::Unknown,
            scope: object::SymbolScope::Unknown,
            weak: false,
            section: SymbolSection::Undefined,
            flags: SymbolFlags::None,
        });
        obj.add_relocation(
            text,
            write::Relocation {
                offset: 4,
                symbol: callee,
                addend: -4,
                flags: object::RelocationFlags::Elf {
                    r_type: elf::R_X86_64_PLT32,
                },
            },
        )
        .unwrap();
        let cst_symbol = obj.section_symbol(cst);
        obj.add_relocation(
            text,
            write::Relocation {
                offset: 8,
                symbol: cst_symbol,
                addend: 0,
                flags: object::RelocationFlags::Elf {
                    r_type: elf::R_X86_64_PC32,
                },
            },
        )
        .unwrap();
        obj.write().unwrap()
    }

    #[test]
    fn parts_that_call_each_other_merge_into_one_object_with_both_defined() {
        let merged = merge_objects(vec![part("f", "g"), part("g", "f")]).unwrap();
        let file = object::File::parse(&*merged).unwrap();
        for name in ["f", "g"] {
            let symbols: Vec<_> = file.symbols().filter(|s| s.name() == Ok(name)).collect();
            assert_eq!(symbols.len(), 1, "one symbol `{name}`");
            assert!(!symbols[0].is_undefined() && symbols[0].is_global());
            assert!(matches!(symbols[0].flags(),
                SymbolFlags::Elf { st_other, .. } if st_other == elf::STV_HIDDEN));
        }
        // Each part's sections are kept; every call now targets the other part's definition.
        let texts: Vec<_> = file
            .sections()
            .filter(|s| s.name() == Ok(".text"))
            .collect();
        assert_eq!(texts.len(), 2);
        for (text, callee) in texts.iter().zip(["g", "f"]) {
            let relocations: Vec<_> = text.relocations().collect();
            assert_eq!(relocations.len(), 2);
            let (offset, call) = &relocations[0];
            assert_eq!((*offset, call.addend()), (4, -4));
            let RelocationTarget::Symbol(index) = call.target() else {
                panic!("call target {:?}", call.target())
            };
            let target = file.symbol_by_index(index).unwrap();
            assert_eq!(target.name(), Ok(callee));
            assert_ne!(
                target.section_index(),
                Some(text.index()),
                "{callee} is in the other part"
            );
        }
        // A mergeable-constants section without an entry size in the output is plain data.
        let cst = file
            .sections()
            .find(|s| s.name() == Ok(".rodata.cst8"))
            .unwrap();
        let object::SectionFlags::Elf { sh_flags } = cst.flags() else {
            panic!()
        };
        assert_eq!(sh_flags & u64::from(elf::SHF_MERGE), 0);
        assert_eq!(cst.data().unwrap(), 7u64.to_le_bytes());
    }

    #[test]
    fn a_symbol_defined_by_two_parts_is_an_error_not_a_panic() {
        let err = merge_objects(vec![part("f", "g"), part("f", "h")]).unwrap_err();
        assert!(err.to_string().contains("two parts define `f`"), "{err}");
        let err = merge_objects(vec![part("f", "g"), b"not an object".to_vec()]).unwrap_err();
        assert!(err.to_string().contains("part 1"), "{err}");
    }

    #[test]
    fn one_part_is_returned_as_it_is() {
        let one = part("f", "g");
        assert_eq!(merge_objects(vec![one.clone()]).unwrap(), one);
    }
}
