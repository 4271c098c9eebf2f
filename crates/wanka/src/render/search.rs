//! The report of `wanka search`: the top layouts with their bands and flags, every
//! layout that fits as a scatter of throughput against memory with the front a planner
//! picks from, and what each constraint removed.

use super::chart;
use super::page::{Cell, Page};
use crate::scenario::ScenarioSpace;
use crate::search::SearchResult;

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// The report of a search of `space`.
pub fn search_report(space: &ScenarioSpace, r: &SearchResult) -> String {
    let mut page = Page::new(
        &format!("wanka search: {}", space.name),
        &format!(
            "{} on {} × {}: {} candidate layouts, {} valid and evaluated, {} fit in memory",
            space.model_source, space.cluster.gpus, space.cluster.gpu.name, r.candidates, r.evaluated, r.feasible
        ),
    );
    page.section("The top layouts");
    let rows: Vec<Vec<Cell>> = r
        .top
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let p = &t.parallel;
            let band = t.band.as_ref().map_or(String::new(), |b| format!("{:.0}–{:.0}", b.low_tokens_per_s_per_gpu, b.high_tokens_per_s_per_gpu));
            let flags = if t.flags.is_empty() { Cell::text("") } else { Cell::warning(t.flags.join("; ")) };
            let routing = match t.moe_capacity_factor {
                Some(Some(c)) => format!(" · capacity factor {c}"),
                Some(None) => " · dropless".to_string(),
                None => String::new(),
            };
            vec![
                Cell::number(format!("{}", i + 1)),
                Cell::text(p.compact() + &routing),
                Cell::number(format!("{:.3} s", t.step_time_s)),
                Cell::number(format!("{:.1}", t.tokens_per_s_per_gpu)),
                Cell::number(band),
                Cell::number(format!("{:.1}%", 100.0 * t.mfu)),
                Cell::number(format!("{:.1} GiB", t.memory_total_bytes / GIB)),
                flags,
            ]
        })
        .collect();
    page.table(&["#", "layout", "step", "tokens/s per GPU", "band", "MFU", "memory", "outside validation"], &rows);
    if let Some(b) = r.top.iter().find_map(|t| t.band.as_ref()) {
        page.paragraph(&format!("Band: the 10th–90th percentile of published over predicted throughput across {} ({} rows).", b.basis, b.rows));
    }

    page.section("Every layout that fits");
    let points: Vec<(f64, f64)> = r.landscape.iter().map(|(m, t)| (m / GIB, *t)).collect();
    let front = crate::search::pareto_front(&points);
    let named: Vec<(f64, f64, String)> = r.top.iter().take(5).enumerate().map(|(i, t)| (t.memory_total_bytes / GIB, t.tokens_per_s_per_gpu, format!("#{}", i + 1))).collect();
    page.figure(
        &chart::scatter(
            "Throughput against memory",
            "memory per GPU (GiB)",
            "tokens/s per GPU",
            &points,
            &front,
            &named,
            chart::ScatterLegend { points: "layouts that fit", front: "front: nothing faster in less memory", named: "the top layouts" },
        ),
        "Each dot is a layout that fits; the black line is the front (no layout is faster in less memory), the crosses the top five.",
    );

    page.section("What the constraints removed");
    let rows: Vec<Vec<Cell>> = r.removed.iter().map(|(k, n)| vec![Cell::text(k.clone()), Cell::number(n.to_string())]).collect();
    page.table(&["constraint", "layouts removed"], &rows);
    page.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn a_search_report_has_the_top_layouts_and_the_front() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/search-llama3-405b-16k.toml");
        let space = crate::scenario::load_space(&path, &[]).unwrap();
        let r = crate::search::search(&space, 5, &|_, _| {}).unwrap();
        let html = search_report(&space, &r);
        crate::render::assert_valid_report(&html);
        assert_eq!(html.matches("<svg").count(), 1);
        assert!(html.contains("#1") && html.contains("front") && html.matches("<circle").count() > 20);
        assert_eq!(html, search_report(&space, &r));
    }
}
