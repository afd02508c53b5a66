//! Snapshots of `report.md` and `junit.xml` from the synthetic report
//! (`cargo insta review` after an intended change; `INSTA_UPDATE=always` to rewrite), and
//! checks of the page, the history and the escaping.

use super::history::Point;
use super::*;

#[test]
fn markdown_snapshot() {
    insta::assert_snapshot!("report_md", markdown::render(&example::synthetic()));
}

#[test]
fn junit_snapshot() {
    insta::assert_snapshot!("junit_xml", junit::render(&example::synthetic()));
}

#[test]
fn groups_tiers_and_proposals() {
    let r = example::synthetic();
    let spec = r.spec.as_ref().unwrap();
    let names = |g: &[Group]| g.iter().map(|g| g.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(&spec.tiers), ["core2", "simd", "wasm3", "proposal"]);
    assert_eq!(
        names(&spec.proposals),
        ["core2", "simd", "gc", "threads", "wide-arithmetic"]
    );
    assert_eq!(spec.totals.files, 6);
    assert_eq!(spec.totals.passing, 2);
    assert_eq!(
        group_of("proposals/threads/atomic.wast", "proposal"),
        "threads"
    );
    assert_eq!(group_of("legacy/throw.wast", "wasm3"), "legacy");
    assert_eq!(group_of("i32.wast", "core2"), "core2");
    assert_eq!(
        r.unexpected_failures(),
        [
            "proposals/wide-arithmetic/wide-arithmetic.wast",
            "rust/poll_oneoff_stdio"
        ]
    );
}

#[test]
fn the_json_round_trips() {
    let r = example::synthetic();
    let text = serde_json::to_string(&r).unwrap();
    let back: Report = serde_json::from_str(&text).unwrap();
    assert_eq!(serde_json::to_string(&back).unwrap(), text);
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(Point::from_json(&value).unwrap(), Point::of(&r));
    assert_eq!(
        value.pointer("/spec/files/1/failures/0/location").unwrap(),
        "float_exprs.wast:2351"
    );
}

#[test]
fn the_page_is_self_contained_and_escaped() {
    let r = example::synthetic();
    let page = html::render(&r, None);
    assert!(page.starts_with("<!DOCTYPE html>"));
    for forbidden in ["<script", "http://", "https://", "<link", "@import", "src="] {
        let hits: Vec<_> = page
            .match_indices(forbidden)
            .filter(|(i, _)| !page[..*i].ends_with("xmlns=\""))
            .collect();
        assert!(hits.is_empty(), "{forbidden} in the page");
    }
    assert!(page.contains("&lt;nan|payload&gt; &amp; &quot;quoted&quot;"));
    assert!(page.contains("kernel has no threads\\u{1}"));
    assert!(!page.contains("<nan|payload>"));
    // Tier numbers.
    assert!(page.contains("99.9 % · 1000 / 1001 checks · 1 / 2 files"));
    assert!(!page.contains("id=\"trend\""));
    let with_history = html::render(&r, Some(&[]));
    assert!(with_history.contains("id=\"trend\""));
}

#[test]
fn history_is_read_leniently_and_sorted() {
    let dir = tempfile::tempdir().unwrap();
    let mut old = example::synthetic();
    old.date = "2026-05-01T02:00:00Z".into();
    old.wasi = None;
    std::fs::write(
        dir.path().join("b.json"),
        serde_json::to_string(&old).unwrap(),
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("2026-04-01")).unwrap();
    std::fs::write(
        dir.path().join("2026-04-01/report.json"),
        r#"{"date":"2026-04-01T02:00:00Z","spec":{"tiers":[{"name":"core2","passed":1,"failed":1,"not_run":0}],"totals":{"passed":1,"failed":1,"not_run":0}}}"#,
    )
    .unwrap();
    std::fs::write(dir.path().join("junk.json"), "not json").unwrap();
    std::fs::write(dir.path().join("other.json"), "{}").unwrap();
    let (points, warnings) = history::load(dir.path());
    assert_eq!(points.len(), 2);
    assert_eq!(points[0].date, "2026-04-01T02:00:00Z");
    assert_eq!(points[0].tiers, [("core2".to_string(), 50.0)]);
    assert_eq!(points[1].wasi, None);
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    let page = html::render(&example::synthetic(), Some(&points));
    assert!(page.contains("over 3 runs"));
    assert!(page.contains("<polyline"));
}

#[test]
fn junit_is_well_formed() {
    let xml = junit::render(&example::synthetic());
    let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    let suites: Vec<_> = root
        .children()
        .filter(|n| n.has_tag_name("testsuite"))
        .collect();
    assert_eq!(suites.len(), 2);
    let cases = |s: &roxmltree::Node| s.children().filter(|n| n.has_tag_name("testcase")).count();
    assert_eq!((cases(&suites[0]), cases(&suites[1])), (6, 4));
    let failure = doc
        .descendants()
        .find(|n| n.has_tag_name("failure"))
        .unwrap();
    assert!(failure
        .attribute("message")
        .unwrap()
        .contains("<nan|payload> & \"quoted\""));
    assert!(failure
        .text()
        .unwrap()
        .starts_with("float_exprs.wast:2351: assert_return"));
}

#[test]
fn dates() {
    assert_eq!(collect::rfc3339(0), "1970-01-01T00:00:00Z");
    assert_eq!(collect::rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    assert_eq!(collect::rfc3339(1_780_279_199), "2026-06-01T01:59:59Z");
    assert!(collect::locked_version("wasmtime")
        .unwrap()
        .starts_with("46."));
}

#[test]
fn partial_is_told_apart() {
    use std::collections::BTreeSet;
    let row = |f: &'static str, enosys: &[&str]| crate::wasi::coverage::Row {
        function: f,
        implemented: None,
        imported_by: vec!["c/x".into()],
        enosys_in: enosys.iter().map(|s| s.to_string()).collect(),
    };
    let rows = [
        row("fd_read", &[]),
        row("path_open", &["c/x"]),
        row("fd_advise", &[]),
    ];
    let missing = BTreeSet::from(["fd_advise".to_string()]);
    let statuses: Vec<_> = collect::functions(&rows, Some(&missing))
        .iter()
        .map(|f| f.status)
        .collect();
    assert_eq!(
        statuses,
        [
            FunctionStatus::Implemented,
            FunctionStatus::Partial,
            FunctionStatus::Missing
        ]
    );
    let unknown = collect::functions(&rows, None);
    assert_eq!(unknown[0].status, FunctionStatus::Unknown);
    assert_eq!(unknown[1].status, FunctionStatus::Partial);
}

#[test]
fn benchmark_results_are_shown_per_program() {
    let mut r = example::synthetic();
    r.benchmarks = Some(Benchmarks {
        available: true,
        note: "run time: geomean ratio wasmtime/hako 1.250".into(),
        result: Some(serde_json::json!({
            "runs": [{
                "name": "quick<sort>",
                "hako": {"median_ms": 2.0},
                "wasmtime": {"median_ms": 2.5},
                "ratio": 1.25
            }]
        })),
    });
    let page = html::render(&r, None);
    assert!(page.contains("run time: geomean ratio wasmtime/hako 1.250"));
    assert!(page
        .contains("<tr><td>quick&lt;sort&gt;</td><td>2.000</td><td>2.500</td><td>1.250</td></tr>"));
    let json = serde_json::to_string(&r).unwrap();
    let back: Report = serde_json::from_str(&json).unwrap();
    assert_eq!(
        back.benchmarks.unwrap().result.unwrap()["runs"][0]["ratio"],
        1.25
    );
}

#[test]
fn targets_are_shown_side_by_side() {
    let mut r = example::synthetic();
    let mut spec = r.spec.clone().unwrap();
    let flipped = spec.files.iter_mut().find(|f| f.passes).unwrap();
    flipped.passes = false;
    flipped.known_failing = false;
    let flipped = flipped.name.clone();
    r.linux = Some(LinuxSection {
        spec: Some(spec),
        wasi: r.wasi.clone(),
    });
    assert_eq!(r.target_differences(), std::slice::from_ref(&flipped));
    assert!(r
        .unexpected_failures()
        .contains(&format!("{flipped} [linux]")));
    let md = markdown::render(&r);
    assert!(md.contains("### Targets"), "{md}");
    assert!(md.contains("| spec files passing |"), "{md}");
    assert!(
        md.contains(&format!("differ between the targets: `{flipped}`")),
        "{md}"
    );
    let page = html::render(&r, None);
    assert!(page.contains("<section id=\"targets\">"));
    // The JSON keeps the Linux section, and a report without one still reads.
    let json = serde_json::to_string(&r).unwrap();
    let back: Report = serde_json::from_str(&json).unwrap();
    assert!(back.linux.is_some());
    let without = serde_json::to_string(&example::synthetic()).unwrap();
    assert!(!without.contains("\"linux\""));
}
