//! The report of `wanka sweep`: what each axis does to throughput (the spread over the
//! other axes at each of its values), the best points, and the errors by kind.

use super::chart::{self, Axis, Series};
use super::page::{Cell, Page};
use crate::sweep::{Sweep, SweptPoint};

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 { v[n / 2] } else { 0.5 * (v[n / 2 - 1] + v[n / 2]) })
}

/// The report of a sweep from the rows its run wrote.
pub fn sweep_report(sweep: &Sweep, rows: &[SweptPoint]) -> String {
    let errors = rows.iter().filter(|r| !r.error.is_empty()).count();
    let mut page = Page::new(
        &format!("wanka sweep: {}", sweep.base_path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()),
        &format!("{} points over {} axes ({} fidelity, layout: {}): {} ran, {} with an error", rows.len(), sweep.axes.len(), format!("{:?}", sweep.fidelity).to_lowercase(), format!("{:?}", sweep.layout).to_lowercase(), rows.len() - errors, errors),
    );
    page.section("Axes");
    let axis_rows: Vec<Vec<Cell>> = sweep
        .axes
        .iter()
        .map(|(k, vs)| vec![Cell::text(k.clone()), Cell::text(vs.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(", "))])
        .collect();
    page.table(&["key", "values"], &axis_rows);

    page.section("What each axis does");
    page.paragraph("For each value of an axis, tokens/s per GPU over every combination of the other axes: the lowest, the median and the highest.");
    for (a, (key, values)) in sweep.axes.iter().enumerate() {
        let shown: Vec<String> = values.iter().map(|v| match v {
            toml::Value::String(s) => s.clone(),
            other => other.to_string(),
        }).collect();
        let per_value: Vec<Vec<f64>> = shown
            .iter()
            .map(|value| rows.iter().filter(|r| r.inputs.get(a) == Some(value)).filter_map(|r| r.tokens_per_s_per_gpu).filter(|t| t.is_finite()).collect())
            .collect();
        let numeric: Option<Vec<f64>> = shown.iter().map(|s| s.parse::<f64>().ok()).collect();
        match numeric {
            Some(xs) if xs.len() > 1 => {
                let log = xs.iter().all(|x| *x > 0.0) && xs.iter().copied().fold(0.0, f64::max) >= 8.0 * xs.iter().copied().fold(f64::INFINITY, f64::min);
                let stat = |f: &dyn Fn(&[f64]) -> Option<f64>| xs.iter().zip(&per_value).filter_map(|(x, v)| f(v).map(|y| (*x, y))).collect::<Vec<_>>();
                let series = vec![
                    Series { label: "highest".into(), points: stat(&|v| v.iter().copied().reduce(f64::max)) },
                    Series { label: "median".into(), points: stat(&|v| median(v.to_vec())) },
                    Series { label: "lowest".into(), points: stat(&|v| v.iter().copied().reduce(f64::min)) },
                ];
                page.figure(&chart::lines(&format!("Throughput by {key}"), key, "tokens/s per GPU", if log { Axis::Log } else { Axis::Linear }, &series, None), &format!("{key}: the spread over the other axes at each value."));
            }
            _ => {
                let items: Vec<(String, f64)> = shown.iter().zip(&per_value).filter_map(|(s, v)| median(v.clone()).map(|m| (s.clone(), m))).collect();
                page.figure(&chart::bars(&format!("Median throughput by {key}"), "tokens/s per GPU (median over the other axes)", &items), &format!("{key}: the median over the other axes at each value."));
            }
        }
    }

    page.section("The best points");
    let mut best: Vec<&SweptPoint> = rows.iter().filter(|r| r.tokens_per_s_per_gpu.is_some()).collect();
    best.sort_by(|a, b| b.tokens_per_s_per_gpu.unwrap_or(0.0).total_cmp(&a.tokens_per_s_per_gpu.unwrap_or(0.0)).then(a.point.cmp(&b.point)));
    let mut header: Vec<&str> = vec!["point"];
    header.extend(sweep.axes.iter().map(|(k, _)| k.as_str()));
    header.extend(["layout", "tokens/s per GPU", "step", "MFU"]);
    let top: Vec<Vec<Cell>> = best
        .iter()
        .take(20)
        .map(|r| {
            let mut row = vec![Cell::number(r.point.to_string())];
            row.extend(r.inputs.iter().map(|v| Cell::text(v.clone())));
            row.push(Cell::text(r.layout.clone()));
            row.push(Cell::number(format!("{:.1}", r.tokens_per_s_per_gpu.unwrap_or(0.0))));
            row.push(Cell::number(r.step_time_s.map_or(String::new(), |s| format!("{s:.3} s"))));
            row.push(Cell::number(r.mfu.map_or(String::new(), |m| format!("{:.1}%", 100.0 * m))));
            row
        })
        .collect();
    page.table(&header, &top);

    if errors > 0 {
        page.section("Errors");
        let mut kinds: Vec<(String, usize)> = Vec::new();
        for r in rows.iter().filter(|r| !r.error.is_empty()) {
            let kind: String = r.error.chars().take(120).collect();
            match kinds.iter_mut().find(|(k, _)| *k == kind) {
                Some((_, n)) => *n += 1,
                None => kinds.push((kind, 1)),
            }
        }
        kinds.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let rows: Vec<Vec<Cell>> = kinds.into_iter().take(12).map(|(k, n)| vec![Cell::number(n.to_string()), Cell::muted(k)]).collect();
        page.table(&["points", "error (its first 120 characters)"], &rows);
    }
    page.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn a_sweep_report_reads_every_output_format() {
        let dir = std::env::temp_dir().join(format!("wanka-sweep-report-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/llama3-405b-16k.toml");
        let text = format!("base = {:?}\n[axes]\n\"cluster.oversubscription\" = [1, 2, 4]\n\"cluster.routing\" = [\"ecmp\", \"spray\"]\n\"cluster.gpus\" = [8192, 16384, 12]\n", base.display().to_string());
        let sweep = crate::sweep::parse(&text, &dir.join("s.toml")).unwrap();
        let mut reports = Vec::new();
        for ext in ["csv", "jsonl", "parquet"] {
            let out = dir.join(format!("rows.{ext}"));
            let _ = std::fs::remove_file(&out);
            sweep.run(&out, 0, 1, &|_, _| {}).unwrap();
            let rows = sweep.read_rows(&out).unwrap();
            assert_eq!(rows.len(), 18);
            reports.push(sweep_report(&sweep, &rows));
        }
        assert!(reports.iter().all(|r| r == &reports[0]), "the same report from every format");
        let html = &reports[0];
        crate::render::assert_valid_report(html);
        assert_eq!(html.matches("<svg").count(), 3, "a chart per axis");
        assert!(html.contains("Errors") && html.contains("The best points"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
