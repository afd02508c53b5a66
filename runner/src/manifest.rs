//! The image manifest object: what tells the kernel what an image holds.
//!
//! Every image links one small generated object defining `hako_image_manifest`
//! (`hako_abi::script::ImageManifest`): the image kind, the module table (pointers to the
//! modules' descriptors, by symbol) and, for spec-test images, the encoded script. See
//! `hako_abi::script` for the contract. The object is written with the `object` crate:
//! one read-only section holding the manifest, the module table and the script bytes, with
//! absolute 64-bit relocations for every pointer.

use anyhow::{anyhow, Result};
use hako_abi::script::{self, ImageManifest};
use object::write::{Object, Relocation, StandardSection, Symbol, SymbolSection};
use object::{
    Architecture, BinaryFormat, Endianness, RelocationEncoding, RelocationFlags, RelocationKind,
    SymbolFlags, SymbolKind, SymbolScope,
};

/// An ELF relocatable object defining the manifest of an image of `kind`
/// (`hako_abi::script::image_kind`) whose module table holds the descriptors named
/// `descriptors`, in order, with `script` as the encoded script (empty for programs).
pub fn object(kind: u32, descriptors: &[String], script: &[u8]) -> Result<Vec<u8>> {
    let mut obj = Object::new(BinaryFormat::Elf, Architecture::X86_64, Endianness::Little);
    let section = obj.section_id(StandardSection::ReadOnlyData);
    let section_symbol = obj.section_symbol(section);

    let table_offset = script::MANIFEST_SIZE as u64;
    let script_offset = table_offset + 8 * descriptors.len() as u64;
    let mut data = vec![0u8; script_offset as usize];
    data.extend_from_slice(script);
    let put_u32 =
        |data: &mut Vec<u8>, at: usize, v: u32| data[at..at + 4].copy_from_slice(&v.to_le_bytes());
    let put_u64 =
        |data: &mut Vec<u8>, at: usize, v: u64| data[at..at + 8].copy_from_slice(&v.to_le_bytes());
    put_u32(
        &mut data,
        core::mem::offset_of!(ImageManifest, magic),
        script::MANIFEST_MAGIC,
    );
    put_u32(
        &mut data,
        core::mem::offset_of!(ImageManifest, abi_version),
        hako_abi::ABI_VERSION,
    );
    put_u32(&mut data, core::mem::offset_of!(ImageManifest, kind), kind);
    // Slice lengths; the pointers are relocations below.
    put_u64(
        &mut data,
        script::MANIFEST_MODULES_OFFSET + 8,
        descriptors.len() as u64,
    );
    put_u64(
        &mut data,
        script::MANIFEST_SCRIPT_OFFSET + 8,
        script.len() as u64,
    );
    let base = obj.append_section_data(section, &data, 16);

    let absolute = RelocationFlags::Generic {
        kind: RelocationKind::Absolute,
        encoding: RelocationEncoding::Generic,
        size: 64,
    };
    let relocate = |obj: &mut Object, at: u64, symbol, addend: u64| {
        obj.add_relocation(
            section,
            Relocation {
                offset: base + at,
                symbol,
                addend: addend as i64,
                flags: absolute,
            },
        )
        .map_err(|e| anyhow!("writing the image manifest: {e}"))
    };
    if !descriptors.is_empty() {
        relocate(
            &mut obj,
            script::MANIFEST_MODULES_OFFSET as u64,
            section_symbol,
            base + table_offset,
        )?;
    }
    if !script.is_empty() {
        relocate(
            &mut obj,
            script::MANIFEST_SCRIPT_OFFSET as u64,
            section_symbol,
            base + script_offset,
        )?;
    }
    for (i, name) in descriptors.iter().enumerate() {
        let symbol = obj.add_symbol(Symbol {
            name: name.as_bytes().to_vec(),
            value: 0,
            size: 0,
            kind: SymbolKind::Data,
            scope: SymbolScope::Linkage,
            weak: false,
            section: SymbolSection::Undefined,
            flags: SymbolFlags::None,
        });
        relocate(&mut obj, table_offset + 8 * i as u64, symbol, 0)?;
    }
    obj.add_symbol(Symbol {
        name: script::MANIFEST_SYMBOL.as_bytes().to_vec(),
        value: base,
        size: script::MANIFEST_SIZE as u64,
        kind: SymbolKind::Data,
        scope: SymbolScope::Linkage,
        weak: false,
        section: SymbolSection::Section(section),
        flags: SymbolFlags::None,
    });
    obj.write()
        .map_err(|e| anyhow!("writing the image manifest: {e}"))
}

/// The two marker objects a Linux executable links right before and right after the
/// program's objects: each defines one symbol, `hako_wasm_code_start` and
/// `hako_wasm_code_end`, at a one-byte `.text` section (`int3`), so that the runtime knows
/// which instructions are compiled Wasm code (`hako-linux`'s `traps` module). The linker
/// lays out `.text` input sections in command-line order; the runtime's and the C
/// library's come from archives, after both markers.
pub fn code_markers() -> Result<(Vec<u8>, Vec<u8>)> {
    let marker = |name: &str| {
        let mut obj = Object::new(BinaryFormat::Elf, Architecture::X86_64, Endianness::Little);
        let section = obj.section_id(StandardSection::Text);
        let at = obj.append_section_data(section, &[0xcc], 1);
        obj.add_symbol(Symbol {
            name: name.as_bytes().to_vec(),
            value: at,
            size: 0,
            kind: SymbolKind::Label,
            scope: SymbolScope::Linkage,
            weak: false,
            section: SymbolSection::Section(section),
            flags: SymbolFlags::None,
        });
        obj.write()
            .map_err(|e| anyhow!("writing the code marker {name}: {e}"))
    };
    Ok((
        marker("hako_wasm_code_start")?,
        marker("hako_wasm_code_end")?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use object::{Object as _, ObjectSection, ObjectSymbol};

    #[test]
    fn manifest_has_symbol_data_and_relocations() {
        let bytes = object(
            script::image_kind::SCRIPT,
            &["a_module".into(), "b_module".into()],
            b"HKSC",
        )
        .unwrap();
        let file = object::File::parse(&*bytes).unwrap();
        let sym = file
            .symbols()
            .find(|s| s.name() == Ok(script::MANIFEST_SYMBOL))
            .unwrap();
        assert!(sym.is_definition());
        let section = file.section_by_index(sym.section_index().unwrap()).unwrap();
        let data = section.data().unwrap();
        assert_eq!(&data[..4], b"HAKO");
        assert_eq!(&data[data.len() - 4..], b"HKSC");
        // modules ptr + script ptr + 2 table entries
        assert_eq!(section.relocations().count(), 4);
        let undefined: Vec<_> = file
            .symbols()
            .filter(|s| s.is_undefined())
            .filter_map(|s| s.name().ok())
            .collect();
        assert!(undefined.contains(&"a_module") && undefined.contains(&"b_module"));
    }
}
