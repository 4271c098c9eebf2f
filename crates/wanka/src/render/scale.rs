//! The report of `wanka scale`: time-to-train, throughput per GPU, goodput (ETTR), cost
//! and energy against GPU count, the knee marked, and the verdict in words.

use super::chart::{self, Axis, Plot as _, Series};
use super::page::{Cell, Page};
use crate::scale::ScaleResult;
use crate::scenario::ScenarioSpace;

/// Time-to-train against GPU count, the knee marked (`wanka scale --plot`).
pub fn scale_plot(r: &ScaleResult) -> chart::Lines {
    chart::Lines {
        title: "Time to train".into(),
        x_desc: "GPUs".into(),
        y_desc: "days".into(),
        x_axis: Axis::Log,
        series: vec![Series { label: "time to train (with failures)".into(), points: r.points.iter().map(|p| (p.gpus as f64, p.time_to_train_s / 86400.0)).collect() }],
        marker: r.knee_gpus.map(|k| (k as f64, "knee".to_string())),
    }
}

/// The report of a scale run of `space`.
pub fn scale_report(space: &ScenarioSpace, r: &ScaleResult) -> String {
    let mut page = Page::new(
        &format!("wanka scale: {}", space.name),
        &format!("{} on {}, {:.2} T tokens", space.model_source, space.cluster.gpu.name, space.training.tokens / 1e12),
    );
    page.section("Verdict");
    page.paragraph(&format!("Verdict: {}", r.verdict()));
    let knee = r.knee_gpus.map(|k| (k as f64, "knee"));
    let curve = |label: &str, f: &dyn Fn(&crate::scale::ScalePoint) -> f64| Series { label: label.to_string(), points: r.points.iter().map(|p| (p.gpus as f64, f(p))).collect() };
    let day = 86400.0;
    page.section("Time to train");
    page.figure(
        &scale_plot(r).svg(),
        "Wall-clock days to train the token budget, with the best layout at each GPU count and the goodput lost to failures and restarts.",
    );
    page.section("Throughput per GPU and goodput");
    page.figure(
        &chart::lines(
            "Tokens per second per GPU",
            "GPUs",
            "tokens/s per GPU",
            Axis::Log,
            &[curve("tokens/s per GPU", &|p| p.tokens_per_s / p.gpus as f64)],
            knee,
        ),
        "What each GPU delivers: flat is perfect scaling.",
    );
    page.figure(
        &chart::lines("Effective training time ratio", "GPUs", "ETTR (%)", Axis::Log, &[curve("ETTR", &|p| 100.0 * p.ettr)], knee),
        "The share of wall-clock time spent on training steps that count (failures, restarts and checkpoints take the rest).",
    );
    page.section("Cost and energy");
    page.figure(
        &chart::lines("Cost", "GPUs", "million USD", Axis::Log, &[curve("cost", &|p| p.cost_usd / 1e6)], knee),
        "GPU-hours times the price per GPU-hour.",
    );
    page.figure(
        &chart::lines("Energy", "GPUs", "MWh", Axis::Log, &[curve("energy", &|p| p.energy_mwh)], knee),
        "Energy of the run at the facility (PUE included).",
    );
    page.section("Points");
    let rows: Vec<Vec<Cell>> = r
        .points
        .iter()
        .map(|p| {
            let l = &p.parallel;
            vec![
                Cell::number(p.gpus.to_string()),
                Cell::text(format!("tp{} pp{} vpp{} cp{} ep{} dp{}", l.tp, l.pp, l.vpp, l.cp, l.ep, l.dp)),
                Cell::number(p.global_batch.to_string()),
                Cell::number(format!("{:.2} s", p.step_time_s)),
                Cell::number(format!("{:.1}%", 100.0 * p.mfu)),
                Cell::number(format!("{:.1}%", 100.0 * p.ettr)),
                Cell::number(format!("{:.1}", p.time_to_train_s / day)),
                Cell::number(format!("{:.0}", p.energy_mwh)),
                Cell::number(format!("{:.2}", p.cost_usd / 1e6)),
                Cell::number(format!("{:.2}×", p.speedup)),
            ]
        })
        .collect();
    page.table(&["GPUs", "layout", "batch", "step", "MFU", "ETTR", "days", "MWh", "M USD", "speedup"], &rows);
    page.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn a_scale_report_has_its_curves_and_verdict() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/llama3-405b-16k.toml");
        let space = crate::scenario::load_space(&path, &[]).unwrap();
        let r = crate::scale::scale(&space, &[8192, 16384, 32768]).unwrap();
        let html = scale_report(&space, &r);
        crate::render::assert_valid_report(&html);
        assert_eq!(html.matches("<svg").count(), 5);
        assert!(html.contains("Verdict:") && html.contains("Time to train") && html.matches("<polyline").count() >= 5);
        assert_eq!(html, scale_report(&space, &r));
    }
}
