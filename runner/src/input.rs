//! Reading a module from a file, with errors that say what and where.

use anyhow::{Context, Result};
use std::path::Path;

/// A module read from disk: its name for messages and its binary form.
#[derive(Debug, Clone)]
pub struct Module {
    pub path: String,
    pub wasm: Vec<u8>,
}

/// Read `path`: text format when it ends in `.wat`, binary otherwise. The module is not
/// validated here (the compiler does that, with the byte offset of the problem).
pub fn read(path: &Path) -> Result<Module> {
    let shown = path.display().to_string();
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {shown}"))?;
    let wasm = if path.extension().is_some_and(|e| e == "wat") {
        let text =
            std::str::from_utf8(&bytes).with_context(|| format!("{shown} is not UTF-8 text"))?;
        wat::parse_str(text).map_err(|mut e| {
            e.set_path(path);
            anyhow::anyhow!("invalid WebAssembly text: {e}")
        })?
    } else {
        bytes
    };
    Ok(Module { path: shown, wasm })
}

/// Validate a module, naming the file in the error: `app.wasm is not a valid module: ...`,
/// or, for valid Wasm 3.0 that hako does not compile yet, `app.wasm uses GC (...), which
/// hako does not compile yet`.
pub fn validate(module: &Module) -> Result<()> {
    match hako_compiler_api::validate(&module.wasm) {
        Ok(()) => Ok(()),
        Err(e @ hako_compiler_api::CompileError::Unsupported { .. }) => {
            anyhow::bail!("{} {e}", module.path)
        }
        Err(e) => Err(e).with_context(|| format!("{} is not a valid module", module.path)),
    }
}
