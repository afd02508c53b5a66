//! Which of the 46 `wasi_snapshot_preview1` functions hako implements, and which test
//! programs ran into the ones it does not (`hako wasi --coverage`).
//!
//! Two sources:
//!
//! - a **probe**: a generated module that calls each of the 46 functions (but `proc_exit`
//!   and `proc_raise`) once with arguments no implementation can accept (file descriptor and
//!   pointers `0xfffffff0`, zero 64-bit values), booted once, and a second one for
//!   `proc_raise` alone (it may end the program). A function that records `enosys` is not
//!   implemented; any other answer (`EBADF`, `EFAULT`, `EINVAL`, a trap for `proc_raise`)
//!   means it is;
//! - the programs' own `enosys` records: a function can be implemented and still take an
//!   unimplemented path for some arguments, and those count too.
//!
//! The functions each program imports give the "imported by" column.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{bail, Context, Result};
use serde::Serialize;

use hako_abi::valtype::{I32, I64};
use hako_abi::wasi::{FUNCTIONS, MODULE};

use super::compare::Ending;
use super::unikernel::{self, HakoOptions};
use super::ProgramReport;

/// The functions that may end the program, each probed on its own (`proc_exit` is not probed:
/// every program that returns or exits uses it).
const ENDING: [&str; 2] = ["proc_exit", "proc_raise"];

/// A probe module, in text form, calling `names` in order.
pub fn probe_wat(names: &[&str]) -> String {
    let ty = |t: &u8| if *t == I64 { "i64" } else { "i32" };
    let mut imports = String::new();
    let mut body = String::new();
    for (i, f) in FUNCTIONS
        .iter()
        .filter(|f| names.contains(&f.name))
        .enumerate()
    {
        let params: Vec<&str> = f.params.iter().map(ty).collect();
        let results: Vec<&str> = f.results.iter().map(ty).collect();
        imports.push_str(&format!(
            "  (import \"{MODULE}\" \"{}\" (func $f{i} (param {}) (result {})))\n",
            f.name,
            params.join(" "),
            results.join(" ")
        ));
        let args: Vec<String> = f
            .params
            .iter()
            .map(|t| match *t {
                I32 => "(i32.const -16)".to_string(),
                _ => "(i64.const 0)".to_string(),
            })
            .collect();
        let call = format!("(call $f{i} {})", args.join(" "));
        if f.results.is_empty() {
            body.push_str(&format!("    {call}\n"));
        } else {
            body.push_str(&format!("    (drop {call})\n"));
        }
    }
    format!(
        "(module\n{imports}  (memory (export \"memory\") 1)\n  (func (export \"_start\")\n{body}  ))\n"
    )
}

/// The functions the main probe calls: all but [`ENDING`].
fn main_probe_functions() -> Vec<&'static str> {
    FUNCTIONS
        .iter()
        .map(|f| f.name)
        .filter(|n| !ENDING.contains(n))
        .collect()
}

/// The functions the probes found unimplemented, or why a probe did not finish. The main
/// probe must exit with 0; the `proc_raise` probe may end any way but with an `enosys`
/// record.
pub fn probe(options: &HakoOptions) -> Result<BTreeSet<String>> {
    let boot = |names: &[&str]| -> Result<unikernel::HakoRun> {
        let wasm = wat::parse_str(probe_wat(names)).context("the probe does not assemble")?;
        let module = crate::input::Module {
            path: "wasi-probe.wasm".into(),
            wasm,
        };
        Ok(unikernel::run(
            &module,
            &["wasi-probe.wasm".into()],
            &[],
            None,
            options,
        ))
    };
    let main = boot(&main_probe_functions())?;
    if main.ending != (Ending::Exit { code: 0 }) {
        bail!(
            "the probe did not finish: {} (ENOSYS so far: {})",
            main.ending.describe(),
            main.enosys.join(", ")
        );
    }
    let raise = boot(&["proc_raise"])?;
    Ok(main.enosys.into_iter().chain(raise.enosys).collect())
}

/// One row of the table.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub function: &'static str,
    /// `None` when neither the probe nor any program tells.
    pub implemented: Option<bool>,
    /// Programs that import it.
    pub imported_by: Vec<String>,
    /// Programs whose hako run recorded `enosys` for it.
    pub enosys_in: Vec<String>,
}

/// The table for all 46 functions, alphabetically, from the programs' reports and the
/// functions the [`probe`] found missing (`None` when it did not finish).
pub fn table(reports: &[ProgramReport], missing: Option<&BTreeSet<String>>) -> Vec<Row> {
    let mut called: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let mut enosys: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for r in reports {
        for f in &r.wasi_imports {
            called.entry(f.as_str()).or_default().push(r.name.clone());
        }
        for f in &r.enosys {
            enosys.entry(f.as_str()).or_default().push(r.name.clone());
        }
    }
    FUNCTIONS
        .iter()
        .map(|f| {
            let enosys_in = enosys.get(f.name).cloned().unwrap_or_default();
            let implemented = if !enosys_in.is_empty() {
                Some(false)
            } else {
                missing.map(|missing| !missing.contains(f.name))
            };
            Row {
                function: f.name,
                implemented,
                imported_by: called.get(f.name).cloned().unwrap_or_default(),
                enosys_in,
            }
        })
        .collect()
}

/// The table as text: function, implemented, how many programs call it, and the programs
/// that met `ENOSYS`; and why the probe did not finish, if it did not.
pub fn render(rows: &[Row], probe: &Result<BTreeSet<String>>) -> String {
    let mut out = format!(
        "{:<24} {:<12} {:>11}  {}\n",
        "function", "implemented", "imported by", "ENOSYS in hako from"
    );
    for row in rows {
        let status = match row.implemented {
            Some(true) => "yes",
            Some(false) => "NO",
            None => "?",
        };
        out.push_str(&format!(
            "{:<24} {:<12} {:>11}  {}\n",
            row.function,
            status,
            row.imported_by.len(),
            row.enosys_in.join(" ")
        ));
    }
    let implemented = rows.iter().filter(|r| r.implemented == Some(true)).count();
    out.push_str(&format!(
        "{implemented} of {} implemented (probe and programs' ENOSYS records); \"imported by\": how many programs import it\n",
        rows.len()
    ));
    if let Err(e) = probe {
        out.push_str(&format!("probe: {e:#}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_are_valid_modules() {
        let wasm = wat::parse_str(probe_wat(&main_probe_functions())).unwrap();
        hako_compiler_api::validate(&wasm).unwrap();
        assert_eq!(super::super::wasi_imports(&wasm).len(), 44);
        let wasm = wat::parse_str(probe_wat(&["proc_raise", "proc_exit"])).unwrap();
        assert_eq!(
            super::super::wasi_imports(&wasm),
            ["proc_exit", "proc_raise"]
        );
    }

    #[test]
    fn enosys_records_override_the_probe() {
        let mut report = ProgramReport::failed("c/x", String::new());
        report.wasi_imports = vec!["fd_read".into(), "fd_advise".into()];
        report.enosys = vec!["fd_advise".into()];
        let rows = table(&[report], Some(&BTreeSet::from(["path_open".to_string()])));
        let row = |n: &str| rows.iter().find(|r| r.function == n).unwrap();
        assert_eq!(row("fd_advise").implemented, Some(false));
        assert_eq!(row("fd_advise").enosys_in, ["c/x"]);
        assert_eq!(row("path_open").implemented, Some(false));
        assert_eq!(row("fd_read").implemented, Some(true));
        assert_eq!(row("fd_read").imported_by, ["c/x"]);
        let none = table(&[], None);
        assert_eq!(none[0].implemented, None);
        assert_eq!(none.len(), 46);
        assert!(render(&rows, &Ok(BTreeSet::new())).contains("fd_advise"));
    }
}
