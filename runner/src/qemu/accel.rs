//! The accelerator choice: KVM when `/dev/kvm` is hardware KVM and opens read-write, TCG
//! otherwise, `HAKO_ACCEL=kvm|tcg` (or `hako run --accel`) to choose. `kvm-pvm` hosts count
//! as having no KVM (see [`Accel::kvm_usable`]).

use anyhow::{bail, Result};
use std::path::Path;

/// How the virtual CPU runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accel {
    /// Hardware virtualisation through `/dev/kvm` (`-cpu host`, less the `arch-capabilities`
    /// MSR, which some hosts refuse to set and QEMU then aborts).
    Kvm,
    /// QEMU's software emulation (`-cpu max`).
    Tcg,
}

impl Accel {
    /// KVM when it is usable (see [`Accel::kvm_usable`]), TCG otherwise. `HAKO_ACCEL=kvm|tcg`
    /// overrides.
    pub fn detect() -> Result<Accel> {
        match std::env::var("HAKO_ACCEL").ok().as_deref() {
            Some("kvm") => return Ok(Accel::Kvm),
            Some("tcg") => return Ok(Accel::Tcg),
            Some("") | None => {}
            Some(other) => bail!("HAKO_ACCEL must be `kvm` or `tcg`, not `{other}`"),
        }
        Ok(if Accel::kvm_usable() {
            Accel::Kvm
        } else {
            Accel::Tcg
        })
    }

    /// Whether `/dev/kvm` opens read-write and is hardware KVM.
    ///
    /// Some nested hosts provide `/dev/kvm` through `kvm-pvm` (pagetable-based virtual
    /// machines) instead of hardware virtualisation. It boots our kernel and runs small
    /// programs, but only in PVM's emulated "non-PVM mode", which our guest never leaves:
    /// KVM's instruction emulator runs every instruction, far slower than TCG (a loop that TCG
    /// runs in 0.4 s had not finished after 20 s; see `docs/perf/2026-12-06-kvm-pvm.md` for
    /// what was checked). So it does not count as usable; `--accel kvm` still selects it.
    pub fn kvm_usable() -> bool {
        let opens = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/kvm")
            .is_ok();
        opens && !Path::new("/sys/module/kvm_pvm").exists()
    }
}
