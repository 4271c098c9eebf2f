//! The report of `wanka collective`: bus bandwidth against message size, nccl-tests
//! style, one curve per routing, with the algorithm NCCL's tuner picks at each size and
//! how the flows of a phase collide on the fabric.

use super::chart::{self, Axis, Plot as _, Series};
use super::page::{Cell, Page};
use crate::collective::flows::CollectiveReport;
use crate::scenario::Scenario;

/// Bus bandwidth against message size, a curve per run's routing (`wanka collective
/// --plot`).
pub fn collective_plot(runs: &[CollectiveReport]) -> chart::Lines {
    chart::Lines {
        title: "Bus bandwidth".into(),
        x_desc: "message size (bytes)".into(),
        y_desc: "busbw (GB/s)".into(),
        x_axis: Axis::LogBytes,
        series: runs.iter().map(|r| Series { label: format!("{:?}", r.routing).to_lowercase(), points: r.rows.iter().map(|row| (row.bytes, row.busbw_gb_s)).collect() }).collect(),
        marker: None,
    }
}

/// The report of one collective (`op` over `group`) on `s`'s fabric, a run per routing.
pub fn collective_report(s: &Scenario, group: &str, runs: &[CollectiveReport]) -> String {
    let op = runs.first().map_or(String::new(), |r| format!("{:?}", r.op));
    let mut page = Page::new(
        &format!("wanka collective: {op} over {group}"),
        &format!("{} on {} × {} ({:?} fabric, {} tiers)", s.name, s.cluster.gpus, s.cluster.gpu.name, s.cluster.fabric, s.cluster.tiers),
    );
    if let Some(r) = runs.first() {
        page.paragraph(&format!(
            "{} concurrent groups of {} GPUs (stride {}), {} NCCL channels: {} flows per phase, all running at once on the fabric.",
            r.groups, r.group_size, r.stride, r.channels, r.flows_per_phase
        ));
    }
    page.section("Bus bandwidth against size");
    page.figure(
        &collective_plot(runs).svg(),
        "nccl-tests' bus bandwidth per routing: algorithm bandwidth scaled by the collective's traffic factor, so the ideal is the link rate.",
    );
    for r in runs {
        page.section(&format!("Routing: {:?}", r.routing).to_lowercase().replace("routing: ", "Routing: "));
        let mut rows: Vec<Vec<Cell>> = r
            .rows
            .iter()
            .map(|row| {
                vec![
                    Cell::number(chart::binary_size(row.bytes)),
                    Cell::text(row.algorithm),
                    Cell::number(format!("{:.1} µs", row.time_s * 1e6)),
                    Cell::number(format!("{:.1}", row.algbw_gb_s)),
                    Cell::number(format!("{:.1}", row.busbw_gb_s)),
                ]
            })
            .collect();
        rows.push(vec![
            Cell::muted("flows colliding"),
            Cell::muted(format!("{} of {} crossing a leaf", r.colliding_flows, r.crossing_flows)),
            Cell::muted(format!("leaf–spine {}", r.colliding_leaf_spine)),
            Cell::muted(format!("spine–core {}", r.colliding_spine_core)),
            Cell::muted(r.straggler_ratio.map_or("slowest flow: not computed".to_string(), |x| format!("median/slowest flow {x:.2}"))),
        ]);
        page.table(&["size", "algorithm", "time", "algbw (GB/s)", "busbw (GB/s)"], &rows);
    }
    page.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collective::CollectiveOp;
    use std::path::Path;

    #[test]
    fn a_collective_report_has_a_curve_per_routing() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/llama3-405b-16k.toml");
        let s = crate::scenario::load(&path, &[]).unwrap();
        let layout = crate::collective::flows::named_group(&s, "dp").unwrap();
        let sizes: Vec<f64> = (20..31).map(|p| (1u64 << p) as f64).collect();
        let runs: Vec<CollectiveReport> = [crate::collective::flows::Routing::Ecmp, crate::collective::flows::Routing::Spray]
            .iter()
            .map(|&r| crate::collective::flows::run(&s, layout, CollectiveOp::AllReduce, r, 2, &sizes))
            .collect();
        let html = collective_report(&s, "dp", &runs);
        crate::render::assert_valid_report(&html);
        assert_eq!(html.matches("<svg").count(), 1);
        assert!(html.matches("<polyline").count() >= 2 && html.contains("1G") && html.contains("ecmp") && html.contains("spray"));
        assert_eq!(html, collective_report(&s, "dp", &runs));
    }
}
