//! The report of `wanka goodput`: the Monte Carlo's time-to-train distribution, what
//! interrupts the run (by cause), and the expected ETTR against the checkpoint interval
//! with Daly's optimum.

use super::chart::{self, Axis, Series};
use super::page::{Cell, Page};
use crate::reliability::GoodputReport;
use crate::scenario::Scenario;

const DAY: f64 = 86_400.0;

/// The report of `g`, the goodput of `s`.
pub fn goodput_report(s: &Scenario, g: &GoodputReport) -> String {
    let mut page = Page::new(
        &format!("wanka goodput: {}", s.name),
        &format!("{} on {} × {}: {:.2} T tokens", s.model_source, g.gpus, s.cluster.gpu.name, s.training.tokens / 1e12),
    );
    page.section("Headline");
    let hours = |x: f64| if x < 7200.0 { format!("{:.1} min", x / 60.0) } else { format!("{:.2} h", x / 3600.0) };
    let rows = vec![
        vec![Cell::text("interruptions per day"), Cell::number(format!("{:.2}", g.interruptions_per_day))],
        vec![Cell::text("mean time between interruptions"), Cell::number(hours(g.mean_time_between_interruptions_s))],
        vec![Cell::text("checkpoint: stop per checkpoint / write"), Cell::number(format!("{:.1} s / {:.1} s", g.checkpoint_blocking_s, g.checkpoint_write_s))],
        vec![Cell::text("checkpoint interval (Daly's optimum)"), Cell::number(format!("{} ({})", hours(g.checkpoint_interval_s), hours(g.daly_interval_s)))],
        vec![Cell::text("restart (mean over causes)"), Cell::number(format!("{:.0} s", g.restart_s))],
        vec![Cell::text("ETTR (closed form / Monte Carlo)"), Cell::number(format!("{:.1}% / {:.1}%", 100.0 * g.ettr, 100.0 * g.ettr_monte_carlo))],
        vec![Cell::text("failure-free time to train"), Cell::number(format!("{:.1} days", g.useful_time_s / DAY))],
        vec![
            Cell::text("time to train p10 / p50 / p90"),
            Cell::number(format!("{:.1} / {:.1} / {:.1} days", g.time_to_train_s.p10 / DAY, g.time_to_train_s.p50 / DAY, g.time_to_train_s.p90 / DAY)),
        ],
    ];
    page.table(&["", "value"], &rows);

    page.section("Time to train");
    let bins: Vec<(f64, f64, u64)> = g.time_to_train_histogram.iter().map(|b| (b.low / DAY, b.high / DAY, b.count)).collect();
    let marks = vec![(g.time_to_train_s.p10 / DAY, "p10".to_string()), (g.time_to_train_s.p50 / DAY, "p50".to_string()), (g.time_to_train_s.p90 / DAY, "p90".to_string())];
    page.figure(
        &chart::histogram("Time to train over the Monte Carlo runs", "days", &bins, &marks),
        &format!("{} simulated runs of the whole training, failures drawn per cause; the lines are the 10th, 50th and 90th percentiles.", g.monte_carlo_runs),
    );

    page.section("What interrupts the run");
    let mut causes: Vec<(String, f64)> = g.by_cause.iter().filter(|c| c.per_day > 0.0).map(|c| (c.cause.replace('_', " "), c.per_day)).collect();
    causes.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    page.figure(&chart::bars("Interruptions per day, by cause", "per day", &causes), "Failure rates per cause scaled to this job's GPUs, nodes and switches.");

    page.section("Checkpoint interval");
    let curve = Series { label: "expected ETTR".into(), points: g.ettr_by_checkpoint_interval.iter().map(|(t, e)| (t / 60.0, 100.0 * e)).collect() };
    page.figure(
        &chart::lines("ETTR against the checkpoint interval", "minutes of training between checkpoints", "ETTR (%)", Axis::Log, &[curve], Some((g.daly_interval_s / 60.0, "Daly's optimum"))),
        "Checkpointing too often spends the time writing; too rarely loses more work per failure. Daly's interval balances the two.",
    );
    page.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn a_goodput_report_has_the_distribution_causes_and_curve() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/llama3-405b-16k.toml");
        let s = crate::scenario::load(&path, &[]).unwrap();
        let g = crate::reliability::goodput(&s, crate::step::simulate(&s).tokens_per_s);
        let html = goodput_report(&s, &g);
        crate::render::assert_valid_report(&html);
        assert_eq!(html.matches("<svg").count(), 3);
        assert!(html.contains("Daly") && html.contains("p50") && html.contains("faulty gpu"));
        assert!(g.time_to_train_histogram.iter().map(|b| b.count).sum::<u64>() == g.monte_carlo_runs);
        assert_eq!(html, goodput_report(&s, &g));
    }
}
