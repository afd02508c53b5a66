//! Tiers: which feature set a script needs, computed from its modules, never hand-listed.
//!
//! Every module the script expects to be valid (`module`, `module definition`, modules of
//! `assert_trap`, `assert_unlinkable`, `assert_return`) is validated with ever larger feature
//! sets; the file's tier is the largest one any module needs. Modules of `assert_invalid` and
//! `assert_malformed` do not count (they are meant to fail), so a file of nothing but those is
//! `core2`.

use serde::Serialize;
use wasmparser::{Validator, WasmFeatures};

/// A tier, from the smallest feature set to the largest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    /// Wasm 2.0 without SIMD: mutable globals, sign extension, non-trapping float-to-int,
    /// multi-value, reference types, bulk memory.
    Core2,
    /// Wasm 2.0 with fixed-width SIMD.
    Simd,
    /// Wasm 3.0: GC, tail calls, exceptions, memory64, multi-memory, relaxed SIMD, ...
    Wasm3,
    /// Anything beyond Wasm 3.0 (or a module no feature set accepts).
    Proposal,
}

impl Tier {
    pub const ALL: [Tier; 4] = [Tier::Core2, Tier::Simd, Tier::Wasm3, Tier::Proposal];

    pub fn name(self) -> &'static str {
        match self {
            Tier::Core2 => "core2",
            Tier::Simd => "simd",
            Tier::Wasm3 => "wasm3",
            Tier::Proposal => "proposal",
        }
    }

    fn features(self) -> WasmFeatures {
        match self {
            Tier::Core2 => WasmFeatures::WASM2.difference(WasmFeatures::SIMD),
            Tier::Simd => WasmFeatures::WASM2,
            Tier::Wasm3 => WasmFeatures::WASM3,
            Tier::Proposal => WasmFeatures::all(),
        }
    }
}

impl std::fmt::Display for Tier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The smallest tier whose feature set validates `wasm` (at least `floor`, to save work on
/// files already known to need more).
pub fn module_tier(wasm: &[u8], floor: Tier) -> Tier {
    Tier::ALL
        .into_iter()
        .filter(|t| *t >= floor)
        .find(|t| {
            Validator::new_with_features(t.features())
                .validate_all(wasm)
                .is_ok()
        })
        .unwrap_or(Tier::Proposal)
}

/// The tier of a file whose valid modules are `modules`.
pub fn file_tier<'a>(modules: impl IntoIterator<Item = &'a [u8]>) -> Tier {
    modules
        .into_iter()
        .fold(Tier::Core2, |tier, wasm| tier.max(module_tier(wasm, tier)))
}

/// The feature set a proposal's scripts were written against, where it is not today's
/// standard: their `assert_invalid` modules are also checked against it.
///
/// The threads proposal was written against Wasm 1.0, before reference types allowed several
/// tables, and its `imports.wast` still expects "multiple tables" to be invalid. Checked
/// against the proposal's own base (1.0 plus threads), the compiler rejects those modules as
/// the proposal's reference interpreter does.
pub fn proposal_base(file: &str) -> Option<WasmFeatures> {
    if file.starts_with("proposals/threads/") {
        Some(WasmFeatures::WASM1 | WasmFeatures::THREADS | WasmFeatures::SIGN_EXTENSION)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tier_of(wast: &str) -> Tier {
        crate::spec::plan::plan_source("inline.wast", wast).tier
    }

    #[test]
    fn tiers_of_small_scripts() {
        assert_eq!(
            tier_of("(module (func (result i32) i32.const 1 i32.extend8_s))"),
            Tier::Core2
        );
        assert_eq!(
            tier_of("(module (func (param externref) (result i32) local.get 0 ref.is_null)) (module (memory 1) (func (memory.fill (i32.const 0) (i32.const 0) (i32.const 0))))"),
            Tier::Core2
        );
        assert_eq!(
            tier_of("(module (func (result v128) v128.const i32x4 0 0 0 0))"),
            Tier::Simd
        );
        assert_eq!(
            tier_of("(module (func (result i32) i32.const 0)) (module (func return_call 0))"),
            Tier::Wasm3
        );
        assert_eq!(tier_of("(module (memory i64 1))"), Tier::Wasm3);
        assert_eq!(tier_of("(module (type (struct (field i32))))"), Tier::Wasm3);
        assert_eq!(tier_of("(module (func (param i64 i64 i64 i64) (result i64 i64) local.get 0 local.get 1 local.get 2 local.get 3 i64.add128))"), Tier::Proposal);
        // Invalid and malformed modules do not raise the tier.
        assert_eq!(
            tier_of(
                r#"(assert_invalid (module (func (result v128) i32.const 0)) "type mismatch") (assert_malformed (module quote "(memory i64 1 oops)") "x")"#
            ),
            Tier::Core2
        );
    }
}
