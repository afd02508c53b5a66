//! `report.md`: a summary short enough for a pull request or a commit comment.

use std::fmt::Write;

use super::*;

/// At most this many failing spec files and WASI programs are listed.
const LIST: usize = 40;

/// A table cell: `|` escaped, one line, no raw HTML.
fn cell(text: &str) -> String {
    clip(text, 200)
        .replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn rate(part: usize, whole: usize) -> String {
    format!("{:.1} %", percent(part, whole))
}

/// The markdown summary.
pub fn render(report: &Report) -> String {
    let mut md = String::new();
    let _ = writeln!(
        md,
        "## hako conformance report, {} (`{}`)\n",
        report.date,
        report.short_commit()
    );
    let mut headline = Vec::new();
    if let Some(spec) = &report.spec {
        headline.push(format!(
            "**spec**: {} of {} checks pass ({}), {} of {} files",
            spec.totals.passed,
            spec.totals.checks(),
            rate(spec.totals.passed, spec.totals.checks()),
            spec.totals.passing,
            spec.totals.files
        ));
    }
    if let Some(wasi) = &report.wasi {
        headline.push(format!(
            "**WASI**: {} of {} programs pass ({})",
            wasi.totals.hako_passes,
            wasi.totals.programs,
            rate(wasi.totals.hako_passes, wasi.totals.programs)
        ));
        headline.push(format!(
            "**WASI functions**: {} implemented, {} partial, {} missing",
            wasi.count(FunctionStatus::Implemented),
            wasi.count(FunctionStatus::Partial),
            wasi.count(FunctionStatus::Missing)
        ));
    }
    let unexpected = report.unexpected_failures();
    headline.push(if unexpected.is_empty() {
        "no failures beyond the expectation lists".to_string()
    } else {
        format!(
            "**{} unexpected failure{}**: {}",
            unexpected.len(),
            if unexpected.len() == 1 { "" } else { "s" },
            unexpected
                .iter()
                .take(10)
                .map(|n| format!("`{}`", n.replace('`', "'")))
                .collect::<Vec<_>>()
                .join(", ")
                + if unexpected.len() > 10 { ", ..." } else { "" }
        )
    });
    for line in headline {
        let _ = writeln!(md, "- {line}");
    }

    let rows = target_rows(report);
    if !rows.is_empty() {
        let _ = writeln!(md, "\n### Targets\n");
        let _ = writeln!(md, "| | unikernel (QEMU) | Linux process |");
        let _ = writeln!(md, "|---|--:|--:|");
        for (what, unikernel, linux) in &rows {
            let _ = writeln!(md, "| {what} | {unikernel} | {linux} |");
        }
        let differ = report.target_differences();
        let _ = writeln!(
            md,
            "\n{}",
            if differ.is_empty() {
                "Every file and program has the same outcome on both targets.".to_string()
            } else {
                format!(
                    "Outcomes that differ between the targets: {}",
                    differ
                        .iter()
                        .map(|n| format!("`{}`", cell(n)))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        );
    }
    if let Some(spec) = &report.spec {
        let _ = writeln!(
            md,
            "\n### Spec testsuite (-O{}, {:.0} s)\n",
            spec.opt_level, spec.seconds
        );
        group_table(&mut md, "tier", &spec.tiers, Some(&spec.totals));
        let _ = writeln!(md);
        let _ = writeln!(
            md,
            "<details><summary>Per proposal ({} groups)</summary>\n",
            spec.proposals.len()
        );
        group_table(&mut md, "group", &spec.proposals, None);
        let _ = writeln!(md, "\n</details>\n");
        let failing: Vec<&SpecFile> = spec.failing().collect();
        let _ = writeln!(
            md,
            "<details><summary>Failing spec files ({})</summary>\n",
            failing.len()
        );
        if failing.is_empty() {
            let _ = writeln!(md, "None.");
        } else {
            let _ = writeln!(md, "| file | tier | failed | not run | known | reason |");
            let _ = writeln!(md, "|---|---|--:|--:|---|---|");
            for f in failing.iter().take(LIST) {
                let _ = writeln!(
                    md,
                    "| `{}` | {} | {} | {} | {} | {} |",
                    cell(&f.name),
                    f.tier,
                    f.failed,
                    f.not_run,
                    if f.known_failing { "yes" } else { "**no**" },
                    cell(f.reason.as_deref().unwrap_or(""))
                );
            }
            if failing.len() > LIST {
                let _ = writeln!(
                    md,
                    "\n... and {} more (see report.json).",
                    failing.len() - LIST
                );
            }
        }
        let _ = writeln!(md, "\n</details>");
    }

    if let Some(wasi) = &report.wasi {
        let t = &wasi.totals;
        let _ = writeln!(
            md,
            "\n### WASI testsuite (-O{}, {:.0} s)\n",
            wasi.opt_level, wasi.seconds
        );
        let _ = writeln!(
            md,
            "{} programs: hako passes {} ({} matching the oracle, {} against the test's JSON alone), fails {}; the oracle satisfies the JSON in {}.\n",
            t.programs,
            t.hako_passes,
            t.hako_matches_oracle,
            t.hako_passes - t.hako_matches_oracle.min(t.hako_passes),
            t.hako_fails,
            t.oracle_matches_json
        );
        let failing: Vec<&WasiProgram> = wasi.programs.iter().filter(|p| !p.passes).collect();
        if !failing.is_empty() {
            let _ = writeln!(md, "| program | known | reason |");
            let _ = writeln!(md, "|---|---|---|");
            for p in failing.iter().take(LIST) {
                let _ = writeln!(
                    md,
                    "| `{}` | {} | {} |",
                    cell(&p.name),
                    if p.known_failing { "yes" } else { "**no**" },
                    cell(p.reason.as_deref().unwrap_or(""))
                );
            }
            let _ = writeln!(md);
        }
        let missing: Vec<&WasiFunction> = wasi
            .functions
            .iter()
            .filter(|f| matches!(f.status, FunctionStatus::Missing | FunctionStatus::Partial))
            .collect();
        if !missing.is_empty() {
            let _ = writeln!(md, "| WASI function | status | needed by |");
            let _ = writeln!(md, "|---|---|---|");
            for f in missing {
                let needed = f.needed_by();
                let _ = writeln!(
                    md,
                    "| `{}` | {} | {} |",
                    cell(&f.name),
                    f.status.name(),
                    if needed.is_empty() {
                        "no test".to_string()
                    } else {
                        cell(&needed.join(", "))
                    }
                );
            }
            let _ = writeln!(md);
        }
        if let Some(e) = &wasi.probe_error {
            let _ = writeln!(md, "Coverage probe: {}\n", cell(e));
        }
    }

    if let Some(b) = &report.benchmarks {
        let _ = writeln!(md, "\n### Benchmarks\n\n{}", cell(&b.note));
    }
    if let Some(f) = &report.fuzz {
        let _ = writeln!(md, "\n### Fuzzing\n\n{}", cell(&f.note()));
        for m in &f.summary.mismatches {
            let _ = writeln!(
                md,
                "- `{}` at {}: {}",
                m.case,
                m.opt_level,
                cell(m.failures.first().map_or("", |s| s.as_str()))
            );
        }
    }
    for note in &report.notes {
        let _ = writeln!(md, "\n> {}", cell(note));
    }
    let m = &report.machine;
    let tl = &report.tools;
    let _ = writeln!(
        md,
        "\n---\nhako {} (`{}`) · {} · {} · {} · Wasmtime {} · {} on {} ({} cores, {} MiB) · {:.0} s",
        tl.hako,
        report.short_commit(),
        cell(&tl.rustc),
        cell(&tl.llvm),
        cell(&tl.qemu),
        tl.wasmtime,
        m.accel.to_uppercase(),
        cell(&m.cpu),
        m.cores,
        m.memory_mib,
        report.seconds
    );
    md
}

fn group_table(md: &mut String, what: &str, groups: &[Group], total: Option<&Group>) {
    let _ = writeln!(
        md,
        "| {what} | files | passing | checks passed | failed | not run | pass rate |"
    );
    let _ = writeln!(md, "|---|--:|--:|--:|--:|--:|--:|");
    for g in groups.iter().chain(total) {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} |",
            cell(&g.name),
            g.files,
            g.passing,
            g.passed,
            g.failed,
            g.not_run,
            rate(g.passed, g.checks())
        );
    }
}
