//! `index.html`: one self-contained page. Inline CSS, inline SVG drawn here, no script, no
//! fonts or images from anywhere: it renders the same from a CI artifact, a mail attachment or
//! a file on disk. Every piece of text from the run goes through `esc`.

use std::fmt::Write;

use super::history::Point;
use super::*;

/// At most this many failed checks are listed per file.
const MAX_FAILURES: usize = 30;

fn esc(text: &str) -> String {
    escape_markup(text)
}

const PASSED: &str = "#2da44e";
const FAILED: &str = "#cf222e";
const NOT_RUN: &str = "#afb8c1";

const STYLE: &str = r#"
:root { color-scheme: light; --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --bg2: #f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif; color: var(--fg); background: #fff; }
main { max-width: 1120px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 20px; margin: 36px 0 10px; padding-bottom: 6px; border-bottom: 1px solid var(--line); }
h3 { font-size: 16px; margin: 20px 0 8px; }
.meta { color: var(--muted); margin: 0; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 13px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(200px, 1fr)); gap: 12px; margin-top: 20px; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 12px 16px; background: var(--bg2); }
.card .big { font-size: 28px; font-weight: 600; }
.card .small { color: var(--muted); font-size: 13px; }
.badge { display: inline-block; padding: 0 8px; border-radius: 10px; font-size: 12px; font-weight: 600; color: #fff; background: #57606a; vertical-align: 2px; }
.badge.kvm { background: #0969da; } .badge.tcg { background: #8250df; }
table { border-collapse: collapse; width: 100%; font-size: 14px; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: var(--bg2); font-weight: 600; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
tr.total td { font-weight: 600; }
.pill { display: inline-block; padding: 0 8px; border-radius: 10px; font-size: 12px; font-weight: 600; }
.pill.implemented { background: #dafbe1; color: #116329; }
.pill.partial { background: #fff8c5; color: #7d4e00; }
.pill.missing { background: #ffebe9; color: #a40e26; }
.pill.unknown { background: #eaeef2; color: #424a53; }
.tag { font-size: 11px; font-weight: 600; padding: 0 6px; border-radius: 8px; margin-left: 6px; }
.tag.known { background: #eaeef2; color: #424a53; } .tag.new { background: #ffebe9; color: #a40e26; }
details summary { cursor: pointer; }
details ul { margin: 6px 0; padding-left: 18px; }
details li { margin: 2px 0; word-break: break-word; }
.legend { display: flex; gap: 16px; font-size: 13px; color: var(--muted); margin: 4px 0 8px; flex-wrap: wrap; }
.legend i { display: inline-block; width: 12px; height: 12px; border-radius: 2px; margin-right: 5px; vertical-align: -1px; }
svg { display: block; width: 100%; height: auto; }
svg text { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
.note { color: var(--muted); }
dl.env { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 0; }
dl.env dt { color: var(--muted); } dl.env dd { margin: 0; }
footer { margin-top: 40px; color: var(--muted); font-size: 13px; }
"#;

/// One bar: label, counts, and the text on its right.
struct Bar {
    label: String,
    passed: usize,
    failed: usize,
    not_run: usize,
    right: String,
}

fn group_bar(g: &Group) -> Bar {
    Bar {
        label: g.name.clone(),
        passed: g.passed,
        failed: g.failed,
        not_run: g.not_run,
        right: format!(
            "{:.1} % · {} / {} checks · {} / {} files",
            g.rate(),
            g.passed,
            g.checks(),
            g.passing,
            g.files
        ),
    }
}

fn legend(items: &[(&str, &str)]) -> String {
    let mut out = String::from("<div class=\"legend\">");
    for (color, name) in items {
        let _ = write!(
            out,
            "<span><i style=\"background:{color}\"></i>{}</span>",
            esc(name)
        );
    }
    out.push_str("</div>");
    out
}

/// Horizontal stacked bars: passed, failed, not run.
fn bars(bars: &[Bar], title: &str) -> String {
    const ROW: f64 = 30.0;
    const LABEL: f64 = 170.0;
    const WIDTH: f64 = 500.0;
    let height = ROW * bars.len() as f64 + 4.0;
    let mut svg = format!(
        "<svg viewBox=\"0 0 1000 {height}\" role=\"img\" aria-label=\"{}\" xmlns=\"http://www.w3.org/2000/svg\">",
        esc(title)
    );
    for (i, b) in bars.iter().enumerate() {
        let y = ROW * i as f64 + 4.0;
        let total = (b.passed + b.failed + b.not_run).max(1) as f64;
        let _ = write!(
            svg,
            "<text x=\"0\" y=\"{:.1}\" font-size=\"14\" fill=\"#1f2328\">{}</text>",
            y + 16.0,
            esc(&clip(&b.label, 24))
        );
        let _ = write!(
            svg,
            "<rect x=\"{LABEL}\" y=\"{y:.1}\" width=\"{WIDTH}\" height=\"20\" rx=\"3\" fill=\"#eaeef2\"/>"
        );
        let mut x = LABEL;
        for (n, color, what) in [
            (b.passed, PASSED, "passed"),
            (b.failed, FAILED, "failed"),
            (b.not_run, NOT_RUN, "not run"),
        ] {
            if n == 0 {
                continue;
            }
            let w = WIDTH * n as f64 / total;
            let _ = write!(
                svg,
                "<rect x=\"{x:.2}\" y=\"{y:.1}\" width=\"{w:.2}\" height=\"20\" fill=\"{color}\"><title>{}: {n} {what}</title></rect>",
                esc(&b.label)
            );
            x += w;
        }
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"13\" fill=\"#1f2328\">{}</text>",
            LABEL + WIDTH + 12.0,
            y + 15.0,
            esc(&b.right)
        );
    }
    svg.push_str("</svg>");
    svg
}

fn group_table(groups: &[Group], total: Option<&Group>, what: &str) -> String {
    let mut t = format!(
        "<table><thead><tr><th>{what}</th><th class=\"n\">files</th><th class=\"n\">passing files</th><th class=\"n\">checks passed</th><th class=\"n\">failed</th><th class=\"n\">not run</th><th class=\"n\">pass rate</th></tr></thead><tbody>"
    );
    for (g, class) in groups
        .iter()
        .map(|g| (g, ""))
        .chain(total.map(|g| (g, " class=\"total\"")))
    {
        let _ = write!(
            t,
            "<tr{class}><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{:.1} %</td></tr>",
            esc(&g.name),
            g.files,
            g.passing,
            g.passed,
            g.failed,
            g.not_run,
            g.rate()
        );
    }
    t.push_str("</tbody></table>");
    t
}

const SERIES_COLORS: [&str; 8] = [
    "#0969da", "#8250df", "#bf3989", "#bc4c00", "#1a7f37", "#1f2328", "#4d2d00", "#6e7781",
];

/// The trend chart: one line per tier, the spec total and WASI, in percent, over the runs.
pub fn trend(points: &[Point]) -> String {
    let mut names: Vec<String> = Vec::new();
    for p in points {
        for (t, _) in &p.tiers {
            if !names.contains(t) {
                names.push(t.clone());
            }
        }
    }
    let order = ["core2", "simd", "wasm3", "proposal"];
    names.sort_by_key(|n| order.iter().position(|o| o == n).unwrap_or(order.len()));
    let mut series: Vec<(String, Vec<Option<f64>>)> = names
        .iter()
        .map(|n| {
            (
                format!("spec {n}"),
                points
                    .iter()
                    .map(|p| p.tiers.iter().find(|(t, _)| t == n).map(|(_, r)| *r))
                    .collect(),
            )
        })
        .collect();
    series.push(("spec total".into(), points.iter().map(|p| p.spec).collect()));
    series.push((
        "WASI programs".into(),
        points.iter().map(|p| p.wasi).collect(),
    ));
    series.retain(|(_, v)| v.iter().any(Option::is_some));

    let (x0, x1, y0, y1) = (56.0, 980.0, 16.0, 256.0);
    let n = points.len();
    let x = |i: usize| {
        if n <= 1 {
            (x0 + x1) / 2.0
        } else {
            x0 + (x1 - x0) * i as f64 / (n - 1) as f64
        }
    };
    let y = |v: f64| y1 - (y1 - y0) * v.clamp(0.0, 100.0) / 100.0;
    let mut svg = String::from(
        "<svg viewBox=\"0 0 1000 290\" role=\"img\" aria-label=\"pass rate over time\" xmlns=\"http://www.w3.org/2000/svg\">",
    );
    for v in [0.0, 25.0, 50.0, 75.0, 100.0] {
        let _ = write!(
            svg,
            "<line x1=\"{x0}\" x2=\"{x1}\" y1=\"{0:.1}\" y2=\"{0:.1}\" stroke=\"#d1d9e0\" stroke-width=\"1\"/><text x=\"{1}\" y=\"{2:.1}\" font-size=\"12\" fill=\"#59636e\" text-anchor=\"end\">{v:.0} %</text>",
            y(v),
            x0 - 8.0,
            y(v) + 4.0
        );
    }
    let step = n.div_ceil(8).max(1);
    for (i, p) in points.iter().enumerate() {
        if i % step == 0 || i + 1 == n {
            let _ = write!(
                svg,
                "<text x=\"{:.1}\" y=\"{}\" font-size=\"12\" fill=\"#59636e\" text-anchor=\"{}\">{}</text>",
                x(i),
                y1 + 20.0,
                // The end labels stay inside the picture.
                match (n > 1, i) {
                    (true, 0) => "start",
                    (true, i) if i + 1 == n => "end",
                    _ => "middle",
                },
                esc(p.date.get(..10).unwrap_or(&p.date))
            );
        }
    }
    for (k, (name, values)) in series.iter().enumerate() {
        let color = SERIES_COLORS[k % SERIES_COLORS.len()];
        let coords: Vec<String> = values
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.map(|v| format!("{:.1},{:.1}", x(i), y(v))))
            .collect();
        if coords.len() > 1 {
            let _ = write!(
                svg,
                "<polyline points=\"{}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2\"/>",
                coords.join(" ")
            );
        }
        for (i, v) in values.iter().enumerate() {
            if let Some(v) = v {
                let p = &points[i];
                let _ = write!(
                    svg,
                    "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3.5\" fill=\"{color}\"><title>{}: {v:.1} % ({}, {})</title></circle>",
                    x(i),
                    y(*v),
                    esc(name),
                    esc(&p.date),
                    esc(p.commit.get(..10).unwrap_or(&p.commit))
                );
            }
        }
    }
    svg.push_str("</svg>");
    let items: Vec<(&str, &str)> = series
        .iter()
        .enumerate()
        .map(|(k, (name, _))| (SERIES_COLORS[k % SERIES_COLORS.len()], name.as_str()))
        .collect();
    format!("{}{svg}", legend(&items))
}

fn known_tag(known: bool) -> &'static str {
    if known {
        "<span class=\"tag known\" title=\"listed in the expectations\">known</span>"
    } else {
        "<span class=\"tag new\" title=\"not listed in the expectations\">unexpected</span>"
    }
}

fn card(big: &str, label: &str, small: &str) -> String {
    format!(
        "<div class=\"card\"><div class=\"small\">{}</div><div class=\"big\">{}</div><div class=\"small\">{}</div></div>",
        esc(label),
        esc(big),
        esc(small)
    )
}

/// The page. `history` are the earlier runs (by date), without this one; the trend chart is
/// drawn when `history` is `Some` (it then also shows this run).
pub fn render(report: &Report, history: Option<&[Point]>) -> String {
    let mut h = String::new();
    let title = format!("hako conformance report, {}", report.date);
    let _ = writeln!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{}</title><style>{STYLE}</style></head><body><main>",
        esc(&title)
    );
    let accel = report.machine.accel.to_lowercase();
    let _ = writeln!(
        h,
        "<header><h1>hako conformance report</h1><p class=\"meta\">{} · commit <code>{}</code> · hako {} · <span class=\"badge {}\" title=\"{}\">{}</span> · {:.0} s</p></header>",
        esc(&report.date),
        esc(report.short_commit()),
        esc(&report.tools.hako),
        esc(&accel),
        esc(&report.machine.accel_note),
        esc(&report.machine.accel.to_uppercase()),
        report.seconds
    );

    // Cards.
    h.push_str("<section class=\"cards\">");
    if let Some(spec) = &report.spec {
        let t = &spec.totals;
        h.push_str(&card(
            &format!("{:.1} %", t.rate()),
            "spec checks passed",
            &format!("{} / {}", t.passed, t.checks()),
        ));
        h.push_str(&card(
            &format!("{} / {}", t.passing, t.files),
            "spec files passing",
            &format!("{:.1} %", percent(t.passing, t.files)),
        ));
    }
    if let Some(wasi) = &report.wasi {
        h.push_str(&card(
            &format!("{} / {}", wasi.totals.hako_passes, wasi.totals.programs),
            "WASI programs passing",
            &format!("{:.1} %", wasi.rate()),
        ));
        h.push_str(&card(
            &format!(
                "{} / {}",
                wasi.count(FunctionStatus::Implemented),
                wasi.functions.len()
            ),
            "WASI functions implemented",
            &format!(
                "{} partial, {} missing",
                wasi.count(FunctionStatus::Partial),
                wasi.count(FunctionStatus::Missing)
            ),
        ));
    }
    let unexpected = report.unexpected_failures();
    h.push_str(&card(
        &unexpected.len().to_string(),
        "unexpected failures",
        "not in the expectation lists",
    ));
    h.push_str("</section>\n");

    let rows = target_rows(report);
    if !rows.is_empty() {
        h.push_str("<section id=\"targets\"><h2>Targets</h2><p class=\"note\">The same compiled objects, linked into unikernel images booted in QEMU and into static Linux executables run as processes, against the same expectation lists.</p><table><tr><th></th><th class=\"n\">unikernel (QEMU)</th><th class=\"n\">Linux process</th></tr>");
        for (what, unikernel, linux) in &rows {
            let _ = write!(
                h,
                "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                esc(what),
                esc(unikernel),
                esc(linux)
            );
        }
        h.push_str("</table>");
        let differ = report.target_differences();
        if differ.is_empty() {
            h.push_str("<p>Every file and program has the same outcome on both targets.</p>");
        } else {
            let _ = write!(h, "<p>Outcomes that differ between the targets:</p><ul>");
            for name in &differ {
                let _ = write!(h, "<li><code>{}</code></li>", esc(name));
            }
            h.push_str("</ul>");
        }
        h.push_str("</section>\n");
    }

    let checks_legend = legend(&[(PASSED, "passed"), (FAILED, "failed"), (NOT_RUN, "not run")]);
    if let Some(spec) = &report.spec {
        let _ = write!(
            h,
            "<section id=\"tiers\"><h2>Spec testsuite per tier</h2><p class=\"note\">{} files of <code>{}</code>, modules at -O{}, {:.0} s. A file passes when every check passed and none was left out.</p>{checks_legend}",
            spec.totals.files,
            esc(&spec.suite),
            esc(&spec.opt_level),
            spec.seconds
        );
        let mut tier_bars: Vec<Bar> = spec.tiers.iter().map(group_bar).collect();
        tier_bars.push(group_bar(&spec.totals));
        h.push_str(&bars(&tier_bars, "checks passed per tier"));
        h.push_str(&group_table(&spec.tiers, Some(&spec.totals), "tier"));
        let r = &spec.rejections;
        let _ = writeln!(
            h,
            "<p class=\"note\">assert_invalid / assert_malformed: {} rejected, {} not rejected.</p></section>",
            r.passed, r.failed
        );
        let _ = write!(
            h,
            "<section id=\"proposals\"><h2>Per proposal</h2><p class=\"note\">Top-level files by tier (<code>core2</code>, <code>simd</code>, <code>wasm3</code>, <code>proposal</code>); <code>proposals/&lt;name&gt;/</code> by proposal name; other folders (<code>legacy/</code>, ...) by folder.</p>{checks_legend}"
        );
        let group_bars: Vec<Bar> = spec.proposals.iter().map(group_bar).collect();
        h.push_str(&bars(&group_bars, "checks passed per proposal"));
        h.push_str(&group_table(&spec.proposals, None, "group"));
        h.push_str("</section>\n");
    }

    if let Some(history) = history {
        let mut points = history.to_vec();
        points.push(Point::of(report));
        points.sort_by(|a, b| a.date.cmp(&b.date));
        let _ = writeln!(
            h,
            "<section id=\"trend\"><h2>Trend</h2><p class=\"note\">Checks passed per tier and WASI programs passing, over {} run{}.</p>{}</section>",
            points.len(),
            if points.len() == 1 { "" } else { "s" },
            trend(&points)
        );
    }

    if let Some(spec) = &report.spec {
        let failing: Vec<&SpecFile> = spec.failing().collect();
        let _ = write!(
            h,
            "<section id=\"failing-spec\"><h2>Failing spec files ({})</h2>",
            failing.len()
        );
        if failing.is_empty() {
            h.push_str("<p>Every file passes.</p>");
        } else {
            h.push_str("<table><thead><tr><th>file</th><th>tier</th><th class=\"n\">passed</th><th class=\"n\">failed</th><th class=\"n\">not run</th><th>reason</th></tr></thead><tbody>");
            for f in failing {
                let mut items = String::new();
                for a in f.failures.iter().take(MAX_FAILURES) {
                    let _ = write!(
                        items,
                        "<li><code>{}</code> {}: expected <code>{}</code>, got <code>{}</code></li>",
                        esc(&a.location),
                        esc(&a.kind),
                        esc(&clip(&a.expected, 300)),
                        esc(&clip(&a.actual, 300))
                    );
                }
                if f.failures.len() > MAX_FAILURES {
                    let _ = write!(
                        items,
                        "<li>... and {} more in report.json</li>",
                        f.failures.len() - MAX_FAILURES
                    );
                }
                for (reason, n) in &f.not_run_reasons {
                    let _ = write!(items, "<li>{n} not run: {}</li>", esc(reason));
                }
                let _ = write!(
                    h,
                    "<tr><td><code>{}</code>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td><details><summary>{}</summary><ul>{items}</ul></details></td></tr>",
                    esc(&f.name),
                    known_tag(f.known_failing),
                    esc(&f.tier),
                    f.passed,
                    f.failed,
                    f.not_run,
                    esc(&clip(f.reason.as_deref().unwrap_or(""), 240))
                );
            }
            h.push_str("</tbody></table>");
        }
        h.push_str("</section>\n");
    }

    if let Some(wasi) = &report.wasi {
        let t = &wasi.totals;
        let _ = write!(
            h,
            "<section id=\"wasi\"><h2>WASI testsuite</h2><p class=\"note\">{} programs of <code>{}</code> in the unikernel and in Wasmtime {} (the oracle), at -O{}, {:.0} s. hako passes {} ({} matching the oracle, {} against the test's JSON alone); the oracle satisfies the JSON in {}.</p>",
            t.programs,
            esc(&wasi.suite),
            esc(&report.tools.wasmtime),
            esc(&wasi.opt_level),
            wasi.seconds,
            t.hako_passes,
            t.hako_matches_oracle,
            t.hako_passes - t.hako_matches_oracle.min(t.hako_passes),
            t.oracle_matches_json
        );
        h.push_str(&legend(&[(PASSED, "passes"), (FAILED, "fails")]));
        let mut per_lang: Vec<(String, usize, usize)> = Vec::new();
        for p in &wasi.programs {
            let lang = p.name.split_once('/').map_or("", |(l, _)| l).to_string();
            let i = match per_lang.iter().position(|(l, _, _)| *l == lang) {
                Some(i) => i,
                None => {
                    per_lang.push((lang, 0, 0));
                    per_lang.len() - 1
                }
            };
            if p.passes {
                per_lang[i].1 += 1;
            } else {
                per_lang[i].2 += 1;
            }
        }
        let mut wasi_bars: Vec<Bar> = per_lang
            .into_iter()
            .map(|(lang, pass, fail)| Bar {
                right: format!(
                    "{:.1} % · {pass} / {} programs",
                    percent(pass, pass + fail),
                    pass + fail
                ),
                label: lang,
                passed: pass,
                failed: fail,
                not_run: 0,
            })
            .collect();
        wasi_bars.push(Bar {
            label: "total".into(),
            passed: t.hako_passes,
            failed: t.hako_fails,
            not_run: 0,
            right: format!(
                "{:.1} % · {} / {} programs",
                wasi.rate(),
                t.hako_passes,
                t.programs
            ),
        });
        h.push_str(&bars(&wasi_bars, "WASI programs passing"));
        let failing: Vec<&WasiProgram> = wasi.programs.iter().filter(|p| !p.passes).collect();
        let _ = write!(h, "<h3>Failing programs ({})</h3>", failing.len());
        if failing.is_empty() {
            h.push_str("<p>Every program passes.</p>");
        } else {
            h.push_str("<table><thead><tr><th>program</th><th>hako</th><th>oracle</th><th>judged against</th><th>reason</th></tr></thead><tbody>");
            for p in failing {
                let mut items = String::new();
                for problem in &p.problems {
                    let _ = write!(items, "<li>{}</li>", esc(&clip(problem, 600)));
                }
                if let Some(note) = &p.oracle_note {
                    let _ = write!(items, "<li>note: {}</li>", esc(note));
                }
                let _ = write!(
                    h,
                    "<tr><td><code>{}</code>{}</td><td>{}</td><td>{}</td><td>{}</td><td><details><summary>{}</summary><ul>{items}</ul></details></td></tr>",
                    esc(&p.name),
                    known_tag(p.known_failing),
                    esc(p.hako.as_ref().map_or("not run", |r| r.ending.as_str())),
                    esc(p.oracle.as_ref().map_or("not run", |r| r.ending.as_str())),
                    esc(if p.reference == "oracle" { "the oracle" } else { "the test's JSON" }),
                    esc(&clip(p.reason.as_deref().unwrap_or(""), 240))
                );
            }
            h.push_str("</tbody></table>");
        }
        h.push_str("</section>\n");

        let _ = write!(
            h,
            "<section id=\"wasi-functions\"><h2>WASI functions</h2><p class=\"note\">The {} <code>wasi_snapshot_preview1</code> functions: <b>{}</b> implemented, <b>{}</b> partial (a test still met <code>ENOSYS</code>), <b>{}</b> missing{}. A probe module calls each with invalid arguments; every program's own <code>ENOSYS</code> records count too.</p>",
            wasi.functions.len(),
            wasi.count(FunctionStatus::Implemented),
            wasi.count(FunctionStatus::Partial),
            wasi.count(FunctionStatus::Missing),
            match wasi.count(FunctionStatus::Unknown) {
                0 => String::new(),
                n => format!(", {n} unknown"),
            }
        );
        if let Some(e) = &wasi.probe_error {
            let _ = write!(h, "<p class=\"note\">Coverage probe: {}</p>", esc(e));
        }
        let rank = |s: FunctionStatus| match s {
            FunctionStatus::Missing => 0,
            FunctionStatus::Partial => 1,
            FunctionStatus::Unknown => 2,
            FunctionStatus::Implemented => 3,
        };
        let mut functions: Vec<&WasiFunction> = wasi.functions.iter().collect();
        functions.sort_by(|a, b| (rank(a.status), &a.name).cmp(&(rank(b.status), &b.name)));
        h.push_str("<table><thead><tr><th>function</th><th>status</th><th class=\"n\">imported by</th><th>tests that need it</th></tr></thead><tbody>");
        for f in functions {
            let needed = f.needed_by();
            let _ = write!(
                h,
                "<tr><td><code>{}</code></td><td><span class=\"pill {}\">{}</span></td><td class=\"n\">{}</td><td>{}</td></tr>",
                esc(&f.name),
                f.status.name(),
                f.status.name(),
                f.imported_by.len(),
                needed
                    .iter()
                    .map(|n| format!("<code>{}</code>", esc(n)))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        h.push_str("</tbody></table></section>\n");
    }

    if let Some(f) = &report.fuzz {
        let _ = write!(
            h,
            "<section id=\"fuzzing\"><h2>Fuzzing</h2><p>{}</p><ul>",
            esc(&f.note())
        );
        for m in &f.summary.mismatches {
            let _ = write!(
                h,
                "<li><code>{}</code> at {}: {}</li>",
                esc(&m.case),
                esc(&m.opt_level),
                esc(m.failures.first().map_or("", |s| s.as_str()))
            );
        }
        h.push_str("</ul></section>\n");
    }
    if let Some(b) = &report.benchmarks {
        let _ = write!(
            h,
            "<section id=\"benchmarks\"><h2>Benchmarks</h2><p>{}</p>",
            esc(&b.note)
        );
        let runs = b
            .result
            .as_ref()
            .and_then(|r| r.get("runs"))
            .and_then(|r| r.as_array());
        if let Some(runs) = runs.filter(|r| !r.is_empty()) {
            h.push_str(
                "<table><thead><tr><th>program</th><th>hako median (ms)</th>\
                 <th>Wasmtime median (ms)</th><th>ratio (&gt;1: hako faster)</th></tr></thead><tbody>",
            );
            let num = |v: Option<&serde_json::Value>| {
                v.and_then(|v| v.as_f64())
                    .map_or("-".to_string(), |v| format!("{v:.3}"))
            };
            for r in runs {
                let _ = write!(
                    h,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    esc(r.get("name").and_then(|n| n.as_str()).unwrap_or("?")),
                    num(r.pointer("/hako/median_ms")),
                    num(r.pointer("/wasmtime/median_ms")),
                    num(r.get("ratio")),
                );
            }
            h.push_str("</tbody></table>");
        }
        h.push_str("</section>\n");
    }
    if !report.notes.is_empty() {
        h.push_str("<section id=\"notes\"><h2>Notes</h2><ul>");
        for n in &report.notes {
            let _ = write!(h, "<li>{}</li>", esc(n));
        }
        h.push_str("</ul></section>\n");
    }

    let t = &report.tools;
    let m = &report.machine;
    let _ = writeln!(
        h,
        "<section id=\"environment\"><h2>Environment</h2><dl class=\"env\"><dt>hako</dt><dd>{} (commit <code>{}</code>)</dd><dt>rustc</dt><dd>{}</dd><dt>LLVM</dt><dd>{}</dd><dt>QEMU</dt><dd>{}</dd><dt>Wasmtime (oracle)</dt><dd>{}</dd><dt>CPU</dt><dd>{} ({} cores)</dd><dt>memory</dt><dd>{} MiB</dd><dt>OS</dt><dd>{}</dd><dt>accelerator</dt><dd>{} ({})</dd><dt>date</dt><dd>{}</dd></dl></section>",
        esc(&t.hako),
        esc(&t.commit),
        esc(&t.rustc),
        esc(&t.llvm),
        esc(&t.qemu),
        esc(&t.wasmtime),
        esc(&m.cpu),
        m.cores,
        m.memory_mib,
        esc(&m.os),
        esc(&m.accel.to_uppercase()),
        esc(&m.accel_note),
        esc(&report.date)
    );
    h.push_str("<footer>Generated by <code>hako report</code>. The full result is in report.json beside this page; junit.xml for CI systems.</footer>\n</main></body></html>\n");
    h
}
