//! `junit.xml`: one `<testsuite>` per suite (`spec`, `wasi`), one `<testcase>` per spec file
//! or WASI program. A spec file with a failed check is a `<failure>` listing every failed
//! check as `file:line: kind: expected X, got Y`; a file whose checks passed but some were
//! not run is `<skipped>` with the reason; a failing WASI program is a `<failure>` with every
//! problem (the differences from the oracle first).

use std::fmt::Write;

use super::*;

/// At most this many failed checks are listed in one `<failure>` body.
const MAX_LINES: usize = 200;

fn attr(text: &str) -> String {
    escape_markup(text)
        .replace('\n', "&#10;")
        .replace('\r', "&#13;")
        .replace('\t', "&#9;")
}

fn seconds(millis: u64) -> String {
    format!("{:.3}", millis as f64 / 1000.0)
}

/// The JUnit XML document.
pub fn render(report: &Report) -> String {
    let mut suites = String::new();
    let (mut tests, mut failures, mut skipped) = (0, 0, 0);
    if let Some(spec) = &report.spec {
        let fails = spec.files.iter().filter(|f| f.failed > 0).count();
        let skips = spec
            .files
            .iter()
            .filter(|f| f.failed == 0 && f.not_run > 0)
            .count();
        tests += spec.files.len();
        failures += fails;
        skipped += skips;
        let _ = writeln!(
            suites,
            "  <testsuite name=\"spec\" tests=\"{}\" failures=\"{fails}\" errors=\"0\" skipped=\"{skips}\" time=\"{:.3}\">",
            spec.files.len(),
            spec.seconds
        );
        let _ = writeln!(
            suites,
            "    <properties>\n      <property name=\"suite\" value=\"{}\"/>\n      <property name=\"opt_level\" value=\"{}\"/>\n    </properties>",
            attr(&spec.suite),
            attr(&spec.opt_level)
        );
        for f in &spec.files {
            let _ = write!(
                suites,
                "    <testcase classname=\"spec.{}\" name=\"{}\" time=\"{}\"",
                attr(&f.group),
                attr(&f.name),
                seconds(f.millis)
            );
            if f.failed > 0 {
                let mut body = String::new();
                for a in f.failures.iter().take(MAX_LINES) {
                    let _ = writeln!(
                        body,
                        "{}: {}: expected {}, got {}",
                        a.location, a.kind, a.expected, a.actual
                    );
                }
                if f.failures.len() > MAX_LINES {
                    let _ = writeln!(body, "... and {} more", f.failures.len() - MAX_LINES);
                }
                if f.not_run > 0 {
                    let _ = writeln!(body, "{} checks not run", f.not_run);
                }
                let _ =
                    writeln!(
                    suites,
                    ">\n      <failure message=\"{}\" type=\"{}\">{}</failure>\n    </testcase>",
                    attr(f.reason.as_deref().unwrap_or("failed")),
                    if f.known_failing { "known" } else { "unexpected" },
                    escape_markup(&body)
                );
            } else if f.not_run > 0 {
                let _ = writeln!(
                    suites,
                    ">\n      <skipped message=\"{}\"/>\n    </testcase>",
                    attr(f.reason.as_deref().unwrap_or("not run"))
                );
            } else {
                let _ = writeln!(suites, "/>");
            }
        }
        let _ = writeln!(suites, "  </testsuite>");
    }
    if let Some(wasi) = &report.wasi {
        let fails = wasi.totals.hako_fails;
        tests += wasi.programs.len();
        failures += fails;
        let _ = writeln!(
            suites,
            "  <testsuite name=\"wasi\" tests=\"{}\" failures=\"{fails}\" errors=\"0\" skipped=\"0\" time=\"{:.3}\">",
            wasi.programs.len(),
            wasi.seconds
        );
        let _ = writeln!(
            suites,
            "    <properties>\n      <property name=\"suite\" value=\"{}\"/>\n      <property name=\"opt_level\" value=\"{}\"/>\n    </properties>",
            attr(&wasi.suite),
            attr(&wasi.opt_level)
        );
        for p in &wasi.programs {
            let (class, name) = p.name.split_once('/').unwrap_or(("", &p.name));
            let millis = p.hako.as_ref().map_or(0, |h| h.millis);
            let _ = write!(
                suites,
                "    <testcase classname=\"wasi.{}\" name=\"{}\" time=\"{}\"",
                attr(class),
                attr(name),
                seconds(millis)
            );
            if p.passes {
                let _ = writeln!(suites, "/>");
            } else {
                let mut body = p.problems.join("\n");
                if let Some(note) = &p.oracle_note {
                    body.push_str("\nnote: ");
                    body.push_str(note);
                }
                let _ =
                    writeln!(
                    suites,
                    ">\n      <failure message=\"{}\" type=\"{}\">{}</failure>\n    </testcase>",
                    attr(p.reason.as_deref().unwrap_or("failed")),
                    if p.known_failing { "known" } else { "unexpected" },
                    escape_markup(&body)
                );
            }
        }
        let _ = writeln!(suites, "  </testsuite>");
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"hako conformance\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{:.3}\" timestamp=\"{}\">\n{suites}</testsuites>\n",
        report.seconds,
        attr(&report.date)
    )
}
