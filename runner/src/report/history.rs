//! Earlier runs for the trend chart (`--history DIR`): every `*.json` file in `DIR` and every
//! `DIR/*/report.json`, read leniently (only the date, the commit and the totals are used, so
//! older layouts still count), sorted by date.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::Value;

use super::{percent, Report};

/// One run's numbers for the trend chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// RFC 3339, UTC.
    pub date: String,
    pub commit: String,
    /// Tier name → checks passed in percent.
    pub tiers: Vec<(String, f64)>,
    /// All spec checks passed, in percent.
    pub spec: Option<f64>,
    /// WASI programs passing, in percent.
    pub wasi: Option<f64>,
}

impl Point {
    /// The point of a report.
    pub fn of(report: &Report) -> Point {
        Point {
            date: report.date.clone(),
            commit: report.tools.commit.clone(),
            tiers: report
                .spec
                .as_ref()
                .map(|s| s.tiers.iter().map(|t| (t.name.clone(), t.rate())).collect())
                .unwrap_or_default(),
            spec: report.spec.as_ref().map(|s| s.totals.rate()),
            wasi: report.wasi.as_ref().map(|w| w.rate()),
        }
    }

    /// The point of an earlier `report.json`, parsed as a JSON value; `None` when it has no
    /// date.
    pub fn from_json(value: &Value) -> Option<Point> {
        let date = value.get("date")?.as_str()?.to_string();
        let commit = value
            .pointer("/tools/commit")
            .and_then(Value::as_str)
            .unwrap_or("unknown")
            .to_string();
        let rate = |g: &Value| -> Option<f64> {
            let n = |k: &str| g.get(k).and_then(Value::as_u64).unwrap_or(0) as usize;
            let total = n("passed") + n("failed") + n("not_run");
            Some(percent(n("passed"), total))
        };
        let tiers = value
            .pointer("/spec/tiers")
            .and_then(Value::as_array)
            .map(|tiers| {
                tiers
                    .iter()
                    .filter_map(|t| Some((t.get("name")?.as_str()?.to_string(), rate(t)?)))
                    .collect()
            })
            .unwrap_or_default();
        let spec = value.pointer("/spec/totals").and_then(rate);
        let wasi = value.pointer("/wasi/totals").and_then(|t| {
            let programs = t.get("programs")?.as_u64()? as usize;
            let passes = t.get("hako_passes")?.as_u64()? as usize;
            Some(percent(passes, programs))
        });
        Some(Point {
            date,
            commit,
            tiers,
            spec,
            wasi,
        })
    }
}

/// The points of the earlier reports in `dir`, by date, and a warning for every file that
/// could not be used.
pub fn load(dir: &Path) -> (Vec<Point>, Vec<String>) {
    let mut paths: Vec<PathBuf> = Vec::new();
    let mut warnings = Vec::new();
    match std::fs::read_dir(dir) {
        Ok(entries) => {
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    let inner = path.join("report.json");
                    if inner.is_file() {
                        paths.push(inner);
                    }
                } else if path.extension().is_some_and(|e| e == "json") {
                    paths.push(path);
                }
            }
        }
        Err(e) => warnings.push(format!("history: cannot list {}: {e}", dir.display())),
    }
    paths.sort();
    let mut points = Vec::new();
    for path in paths {
        let parsed = std::fs::read_to_string(&path)
            .context("cannot read it")
            .and_then(|t| serde_json::from_str::<Value>(&t).context("not JSON"));
        match parsed.map(|v| Point::from_json(&v)) {
            Ok(Some(p)) => points.push(p),
            Ok(None) => warnings.push(format!(
                "history: {} is not a report.json (no date), skipped",
                path.display()
            )),
            Err(e) => warnings.push(format!("history: {}: {e:#}, skipped", path.display())),
        }
    }
    points.sort_by(|a, b| a.date.cmp(&b.date));
    (points, warnings)
}
