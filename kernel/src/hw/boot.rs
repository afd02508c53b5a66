//! The PVH entry point: 32-bit protected mode, paging off, `ebx` = physical address of the
//! `hvm_start_info`. Identity-map the first 4 GiB (1 GiB pages, or 2 MiB pages on CPUs
//! without them), enter long mode, enable SSE (and XSAVE/AVX when the CPU has them) and call
//! `hako_kernel_start` (in the `entry` layer, found by the linker: nothing here calls up
//! into Rust code above the hardware layer). `.bss` arrives zero-filled by the ELF loader.
//! Also the start info's command line and memory map, and the image's end.

use core::arch::global_asm;

global_asm!(
    r#"
    .section .note.Xen, "a", @note
    .balign 4
    .long 4
    .long 4
    .long 18                /* XEN_ELFNOTE_PHYS32_ENTRY */
    .asciz "Xen"
    .balign 4
    .long hako_pvh_start
    .balign 4

    .section .text.hako_boot, "ax"
    .code32
    .global hako_pvh_start
hako_pvh_start:
    cli
    cld
    movl %ebx, %ebp                     /* keep the start info pointer */

    /* `.bss` is not cleared here: it lies in a PT_LOAD segment whose memory size exceeds its
       file size, and an ELF loader zero-fills that part (QEMU's PVH loader does so on the
       host, at no cost to the guest). Under TCG each iteration of a `rep stos` is one
       translated-block execution: clearing the 40 KiB here was 10,240 of them per boot. */

    /* PML4[0] -> PDPT. The first 4 GiB are identity-mapped with four 1 GiB pages when the
       CPU has them (CPUID.80000001h:EDX[26]), else with 2048 2 MiB pages in PD0..PD3. */
    movl $hako_boot_pdpt, %eax
    orl $0x3, %eax
    movl %eax, hako_boot_pml4
    movl $0x80000000, %eax
    cpuid
    cmpl $0x80000001, %eax
    jb 8f
    movl $0x80000001, %eax
    cpuid
    btl $26, %edx
    jnc 8f
    movl $0x83, hako_boot_pdpt          /* present | writable | 1 GiB */
    movl $0x40000083, hako_boot_pdpt + 8
    movl $0x80000083, hako_boot_pdpt + 16
    movl $0xc0000083, hako_boot_pdpt + 24
    jmp 9f

    /* PDPT[0..4] -> PD0..PD3, PDx = 2 MiB pages covering 0..4 GiB. */
8:  movl $hako_boot_pd, %eax
    orl $0x3, %eax
    movl $hako_boot_pdpt, %edi
    movl $4, %ecx
7:  movl %eax, (%edi)
    addl $0x1000, %eax
    addl $8, %edi
    loop 7b
    movl $hako_boot_pd, %edi
    xorl %eax, %eax                     /* entry index */
2:  movl %eax, %edx
    shll $21, %edx
    orl $0x83, %edx                     /* present | writable | 2 MiB */
    movl %edx, (%edi,%eax,8)
    movl %eax, %edx
    shrl $11, %edx                      /* high dword: address bits 32+ (0 here) */
    movl %edx, 4(%edi,%eax,8)
    incl %eax
    cmpl $2048, %eax
    jb 2b

9:
    movl $hako_boot_pml4, %eax
    movl %eax, %cr3
    movl %cr4, %eax
    orl $0x620, %eax                    /* PAE | OSFXSR | OSXMMEXCPT */
    movl %eax, %cr4
    movl $0xC0000080, %ecx              /* EFER */
    rdmsr
    orl $0x900, %eax                    /* LME | NXE */
    wrmsr
    movl %cr0, %eax
    orl $0x80010023, %eax               /* PG | WP | NE | MP | PE */
    movl %eax, %cr0

    lgdt hako_boot_gdt_ptr
    ljmp $0x08, $3f

    .code64
3:  movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    xorw %ax, %ax
    movw %ax, %fs
    movw %ax, %gs
    movabsq $hako_boot_stack_top, %rsp
    xorl %ebx, %ebx

    /* SSE: CR0.EM = 0, CR0.MP = 1, CR4.OSFXSR | CR4.OSXMMEXCPT. */
    movq %cr0, %rax
    andq $~0x4, %rax
    orq $0x2, %rax
    movq %rax, %cr0
    movq %cr4, %rax
    orq $0x600, %rax
    movq %rax, %cr4

    /* XSAVE + AVX when CPUID.1:ECX says so. */
    movl $1, %eax
    cpuid
    btl $26, %ecx                       /* XSAVE */
    jnc 4f
    movl %ecx, %esi
    movq %cr4, %rax
    orq $0x40000, %rax                  /* OSXSAVE */
    movq %rax, %cr4
    movl $0x3, %edi                     /* XCR0: x87 | SSE */
    btl $28, %esi                       /* AVX */
    jnc 5f
    movl $0xd, %eax                     /* ... | AVX when XCR0 may hold it */
    xorl %ecx, %ecx
    cpuid
    andl $0x4, %eax
    orl %eax, %edi
5:  movl %edi, %eax
    xorl %ecx, %ecx
    xorl %edx, %edx
    xsetbv
4:
    movl %ebp, %edi
    call hako_kernel_start
6:  hlt
    jmp 6b

    /* The kernel's one GDT, loaded here and kept: `cpu::init` fills in the TSS descriptor
       and loads the task register. Writable, as the CPU sets accessed bits. */
    .section .data.hako_boot, "aw"
    .balign 16
    .global hako_gdt
hako_gdt:
    .quad 0
    .quad 0x00af9b000000ffff            /* 0x08: 64-bit code */
    .quad 0x00cf93000000ffff            /* 0x10: data */
    .quad 0, 0                          /* 0x18: the TSS (16 bytes) */
hako_boot_gdt_ptr:
    .word hako_boot_gdt_ptr - hako_gdt - 1
    .long hako_gdt

    .section .bss.hako_boot, "aw", @nobits
    .balign 4096
    .global hako_boot_pml4
hako_boot_pml4:
    .skip 4096
hako_boot_pdpt:
    .skip 4096

    /* The page directories are used only on CPUs without 1 GiB pages. */
    .balign 4096
hako_boot_pd:
    .skip 4096 * 4
    .balign 16
hako_boot_stack:
    .skip 65536
hako_boot_stack_top:
    .text
"#,
    options(att_syntax)
);

/// `struct hvm_start_info` (version 1).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct StartInfo {
    pub magic: u32,
    pub version: u32,
    pub flags: u32,
    pub nr_modules: u32,
    pub modlist_paddr: u64,
    pub cmdline_paddr: u64,
    pub rsdp_paddr: u64,
    pub memmap_paddr: u64,
    pub memmap_entries: u32,
    pub reserved: u32,
}

/// `struct hvm_memmap_table_entry`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct MemMapEntry {
    pub addr: u64,
    pub size: u64,
    pub ty: u32,
    pub reserved: u32,
}

pub const START_INFO_MAGIC: u32 = 0x336e_c578;
pub const E820_RAM: u32 = 1;

/// What the boot loader handed over, copied out of the start info.
#[derive(Debug)]
pub struct BootInfo {
    pub cmdline: &'static [u8],
    pub memmap: &'static [MemMapEntry],
}

pub fn read_boot_info(start_info: u32) -> Result<BootInfo, &'static str> {
    if start_info == 0 {
        return Err("no PVH start info");
    }
    // SAFETY: the PVH loader passes the physical address of a valid `hvm_start_info` in
    // `ebx`; physical memory below 4 GiB is identity-mapped and nothing writes to it.
    let si = unsafe { core::ptr::read_unaligned(start_info as usize as *const StartInfo) };
    if si.magic != START_INFO_MAGIC {
        return Err("bad PVH start info magic");
    }
    let cmdline: &'static [u8] = if si.cmdline_paddr == 0 {
        &[]
    } else {
        let p = si.cmdline_paddr as usize as *const u8;
        let mut n = 0usize;
        // SAFETY: the command line is a NUL-terminated string in identity-mapped memory
        // that stays untouched (it is below 1 MiB, which the frame allocator never hands out).
        unsafe {
            while *p.add(n) != 0 && n < 65536 {
                n += 1;
            }
            core::slice::from_raw_parts(p, n)
        }
    };
    let memmap: &'static [MemMapEntry] = if si.version >= 1 && si.memmap_paddr != 0 {
        // SAFETY: version >= 1 start infos carry `memmap_entries` entries at `memmap_paddr`,
        // in identity-mapped low memory that nothing overwrites.
        unsafe {
            core::slice::from_raw_parts(
                si.memmap_paddr as usize as *const MemMapEntry,
                si.memmap_entries as usize,
            )
        }
    } else {
        &[]
    };
    Ok(BootInfo { cmdline, memmap })
}

extern "C" {
    static __kernel_end: u8;
}

/// The end of the kernel image (`__kernel_end`, from the linker script).
pub fn kernel_end() -> u64 {
    // Only the symbol's address is taken.
    core::ptr::addr_of!(__kernel_end) as u64
}
