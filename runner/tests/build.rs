//! `hako build` and `hako compile`: the artifacts a user can take elsewhere.

mod common;
use common::*;
use object::{Object, ObjectSymbol};

#[test]
fn compile_leaves_wasi_imports_undefined() {
    let out = tmp().join("hello.o");
    let r = ran(hako()
        .arg("compile")
        .arg(fixture("hello.c"))
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap());
    assert_eq!(r.status, 0, "{}", r.stderr);
    let bytes = std::fs::read(&out).unwrap();
    let obj = object::File::parse(&*bytes).unwrap();
    assert_eq!(obj.kind(), object::ObjectKind::Relocatable);
    assert_eq!(obj.architecture(), object::Architecture::X86_64);
    let undefined: Vec<_> = obj
        .symbols()
        .filter(|s| s.is_undefined())
        .filter_map(|s| s.name().ok().map(String::from))
        .collect();
    assert!(
        undefined
            .iter()
            .any(|s| s == "wasi_snapshot_preview1__fd_write"),
        "{undefined:?}"
    );
    for name in &undefined {
        assert!(
            name.starts_with("wasi_snapshot_preview1__")
                || name.starts_with("hako_")
                || name.is_empty(),
            "unexpected undefined symbol {name}"
        );
    }
    assert!(obj
        .symbols()
        .any(|s| s.name() == Ok(hako_abi::module::MAIN_DESCRIPTOR_SYMBOL) && s.is_definition()));
}

/// `hako build` writes an image that plain QEMU boots, with nothing of hako's runner around it.
#[test]
fn build_makes_an_image_qemu_boots() {
    let image = tmp().join("hello.elf");
    let r = ran(hako()
        .arg("build")
        .arg(fixture("hello.c"))
        .arg("-o")
        .arg(&image)
        .output()
        .unwrap());
    assert_eq!(r.status, 0, "{}", r.stderr);
    let bytes = std::fs::read(&image).unwrap();
    assert_eq!(&bytes[..4], b"\x7fELF");

    let out = tmp().join("hello.stdout");
    let _ = std::fs::remove_file(&out);
    let status = std::process::Command::new("qemu-system-x86_64")
        .args([
            "-M", "microvm", "-accel", "tcg", "-cpu", "max", "-m", "256M",
        ])
        .args([
            "-nodefaults",
            "-no-user-config",
            "-display",
            "none",
            "-no-reboot",
        ])
        .args(["-chardev", &format!("file,id=out,path={}", out.display())])
        .args(["-device", "isa-serial,chardev=out,iobase=0x3f8,irq=4"])
        .args(["-device", "isa-debug-exit,iobase=0xf4,iosize=4"])
        .arg("-kernel")
        .arg(&image)
        .status()
        .unwrap();
    assert_eq!(
        status.code(),
        Some(hako_abi::boot::qemu_status(hako_abi::boot::EXIT_DONE))
    );
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "Hello from hako!\n");
}

#[test]
fn compile_reports_invalid_module() {
    let r = ran(hako()
        .arg("compile")
        .arg(root().join("Cargo.toml"))
        .arg("-o")
        .arg(tmp().join("x.o"))
        .output()
        .unwrap());
    assert_eq!(r.status, 1);
    assert!(
        r.stderr.contains("invalid WebAssembly at offset 0x0"),
        "{}",
        r.stderr
    );
}

/// A large module is compiled by several threads into parts; `hako compile` still writes one
/// object that exports only the descriptor, and the image runs the same with any thread count.
#[test]
fn large_modules_compile_in_parallel_parts_to_one_object() {
    let wat = large_program(600);
    let out = tmp().join("large.o");
    let r = ran(hako()
        .args(["compile", "-O0", "-j", "3"])
        .arg(&wat)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap());
    assert_eq!(r.status, 0, "{}", r.stderr);
    let bytes = std::fs::read(&out).unwrap();
    let obj = object::File::parse(&*bytes).unwrap();
    assert_eq!(obj.kind(), object::ObjectKind::Relocatable);
    let exported: Vec<_> = obj
        .symbols()
        .filter(|s| s.is_definition() && s.is_global())
        .filter(|s| {
            !matches!(s.flags(), object::SymbolFlags::Elf { st_other, .. }
                if st_other & 3 == object::elf::STV_HIDDEN)
        })
        .filter_map(|s| s.name().ok().map(String::from))
        .collect();
    assert_eq!(exported, [hako_abi::module::MAIN_DESCRIPTOR_SYMBOL]);
    // The object cache does not key on the thread count, so each run uses its own level:
    // -O0 boots the three-part object compiled above, -O1 compiles one part.
    for (level, jobs) in [("-O0", "3"), ("-O1", "1")] {
        let r = run(&[level, "-j", jobs, wat.to_str().unwrap()]);
        assert_eq!(r.status, 0, "{level} -j {jobs}: {}", r.stderr);
    }
}
