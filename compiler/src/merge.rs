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
    Endianness, Object as _, ObjectSection as _, ObjectSymbol as _, RelocationTarget,
    SectionFlags, SectionIndex, SectionKind, SymbolFlags, SymbolIndex, SymbolKind,
};

use crate::error::{internal, Result};

/// LLVM's symbol-address-significance table (`.llvm_addrsig`).
const SHT_LLVM_ADDRSIG: u32 = 0x6fff_4c03;

/// One relocatable object made of `parts` (see the module docs). A single part is
/// returned as it is.
pub fn merge_objects(mut parts: Vec<Vec<u8>>) -> Result<Vec<u8>> {
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
    merger.finish()
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
        // Nothing in the parts needs the symbol-address-significance table LLVM emits; the
        // final link can do without it.
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
