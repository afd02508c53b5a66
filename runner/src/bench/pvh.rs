//! A do-nothing PVH kernel: the baseline of the cold-start measurement.
//!
//! A minimal ELF64 executable (one `PT_LOAD`, one `PT_NOTE`) whose Xen
//! `XEN_ELFNOTE_PHYS32_ENTRY` note points at four instructions, run in 32-bit protected mode
//! as PVH starts them: `mov dx, 0xf4; mov eax, 0x10; out dx, eax; hlt` — it writes
//! [`EXIT_DONE`] to `isa-debug-exit` at once. Booted with the same QEMU command line as a
//! hako image ([`crate::qemu::qemu_args`] through [`crate::qemu::boot`]), the difference in
//! wall time is what the hako kernel and program add to QEMU's own start and exit.

use hako_abi::boot::{DEBUG_EXIT_PORT, EXIT_DONE};
use object::elf;

/// Where the image is loaded (1 MiB, like the hako kernel).
const BASE: u64 = 0x10_0000;
const NOTE_OFFSET: u64 = 64 + 2 * 56;
const CODE_OFFSET: u64 = 0x100;
/// Xen's "physical 32-bit entry point" note type (PVH).
const XEN_ELFNOTE_PHYS32_ENTRY: u32 = 18;

/// The bytes of the do-nothing kernel.
pub fn do_nothing_kernel() -> Vec<u8> {
    let entry = BASE + CODE_OFFSET;
    let mut code = Vec::new();
    code.extend([0x66, 0xba]); // mov dx, imm16
    code.extend(DEBUG_EXIT_PORT.to_le_bytes());
    code.push(0xb8); // mov eax, imm32
    code.extend(EXIT_DONE.to_le_bytes());
    code.push(0xef); // out dx, eax
    code.extend([0xf4, 0xeb, 0xfd]); // hlt; jmp back to hlt
    let size = CODE_OFFSET + code.len() as u64;

    let mut out = Vec::new();
    let u16 = |out: &mut Vec<u8>, v: u16| out.extend(v.to_le_bytes());
    let u32 = |out: &mut Vec<u8>, v: u32| out.extend(v.to_le_bytes());
    let u64 = |out: &mut Vec<u8>, v: u64| out.extend(v.to_le_bytes());
    // ELF header.
    out.extend(elf::ELFMAG);
    out.extend([
        elf::ELFCLASS64,
        elf::ELFDATA2LSB,
        elf::EV_CURRENT,
        elf::ELFOSABI_SYSV,
    ]);
    out.extend([0; 8]);
    u16(&mut out, elf::ET_EXEC);
    u16(&mut out, elf::EM_X86_64);
    u32(&mut out, u32::from(elf::EV_CURRENT));
    u64(&mut out, entry);
    u64(&mut out, 64); // e_phoff
    u64(&mut out, 0); // e_shoff
    u32(&mut out, 0); // e_flags
    u16(&mut out, 64); // e_ehsize
    u16(&mut out, 56); // e_phentsize
    u16(&mut out, 2); // e_phnum
    u16(&mut out, 64); // e_shentsize
    u16(&mut out, 0); // e_shnum
    u16(&mut out, 0); // e_shstrndx
                      // PT_LOAD: the whole file at BASE.
    let phdr = |out: &mut Vec<u8>, kind: u32, flags: u32, offset: u64, len: u64, align: u64| {
        u32(out, kind);
        u32(out, flags);
        u64(out, offset);
        u64(out, BASE + offset);
        u64(out, BASE + offset);
        u64(out, len);
        u64(out, len);
        u64(out, align);
    };
    phdr(
        &mut out,
        elf::PT_LOAD,
        elf::PF_R | elf::PF_X,
        0,
        size,
        0x1000,
    );
    phdr(&mut out, elf::PT_NOTE, elf::PF_R, NOTE_OFFSET, 20, 4);
    assert_eq!(out.len() as u64, NOTE_OFFSET);
    // The note: name "Xen\0", 4-byte descriptor (the entry), as the hako kernel's.
    u32(&mut out, 4);
    u32(&mut out, 4);
    u32(&mut out, XEN_ELFNOTE_PHYS32_ENTRY);
    out.extend(b"Xen\0");
    u32(&mut out, entry as u32);
    out.resize(CODE_OFFSET as usize, 0);
    out.extend(code);
    out
}

#[cfg(test)]
mod tests {
    use object::read::elf::ElfFile64;
    use object::Object;

    #[test]
    fn is_a_well_formed_elf() {
        let bytes = super::do_nothing_kernel();
        let file = ElfFile64::<object::Endianness>::parse(&*bytes).unwrap();
        assert_eq!(file.entry(), super::BASE + super::CODE_OFFSET);
    }
}
