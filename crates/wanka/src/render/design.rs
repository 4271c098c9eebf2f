//! The report of `wanka design`: the verdict, time-to-train against cost per token with
//! the Pareto front, capex per design, and every design's figures.

use super::chart;
use super::page::{Cell, Page};
use crate::design::StudyResult;

/// The report of a design study.
pub fn design_report(r: &StudyResult) -> String {
    let ran: Vec<(usize, &crate::design::study::DesignResult)> = r.designs.iter().enumerate().filter_map(|(i, d)| d.result.as_ref().map(|x| (i, x))).collect();
    let mut page = Page::new(
        &format!("wanka design: {}", r.name),
        &format!(
            "{} on {:.2} T tokens: {} designs, {} evaluated; capex over {} years, electricity ${}/kWh",
            r.model,
            r.tokens / 1e12,
            r.designs.len(),
            ran.len(),
            r.depreciation_years,
            r.electricity_usd_per_kwh
        ),
    );
    page.section("Verdict");
    for line in &r.verdict {
        page.paragraph(line);
    }
    let label = |i: usize| {
        let d = &r.designs[i];
        format!("{} · {}", d.name, d.result.as_ref().map_or(0, |x| x.gpus))
    };
    if !ran.is_empty() {
        let day = 86_400.0;
        page.section("Time against cost");
        let points: Vec<(f64, f64)> = ran.iter().map(|(_, x)| (x.time_to_train_s / day, x.usd_per_million_tokens)).collect();
        let front: Vec<(f64, f64)> =
            r.pareto.iter().filter_map(|&i| r.designs[i].result.as_ref()).map(|x| (x.time_to_train_s / day, x.usd_per_million_tokens)).collect();
        let mut named: Vec<(f64, f64, String)> = Vec::new();
        for (which, i) in [("fastest", r.fastest), ("cheapest", r.cheapest)] {
            if let Some(x) = i.and_then(|i| r.designs[i].result.as_ref()) {
                named.push((x.time_to_train_s / day, x.usd_per_million_tokens, which.to_string()));
            }
        }
        page.figure(
            &chart::scatter(
                "Time to train against cost per token",
                "days to train (failures included)",
                "USD per million tokens",
                &points,
                &front,
                &named,
                chart::ScatterLegend { points: "designs", front: "Pareto front: nothing faster and cheaper", named: "fastest, cheapest" },
            ),
            "Each design at its best layout; the line joins the Pareto front (no other design is both faster and cheaper). Cost per token: the capex the run uses up over the depreciation life, plus electricity.",
        );
        page.section("Capex");
        let capex: Vec<(String, f64)> = ran.iter().map(|(i, x)| (label(*i), x.capex_usd / 1e6)).collect();
        page.figure(&chart::bars("Capex", "million USD", &capex), "Servers, NICs, switches, optics and fibre at the catalog's estimated prices (wanka design bom).");
    }
    page.section("Designs");
    let rows: Vec<Vec<Cell>> = r
        .designs
        .iter()
        .map(|d| match &d.result {
            Some(x) => vec![
                Cell::text(d.name.clone()),
                Cell::number(x.gpus.to_string()),
                Cell::text(x.gpu.clone()),
                Cell::text(x.layout.clone()),
                Cell::number(format!("{:.2} s", x.step_time_s)),
                Cell::number(format!("{:.1}%", 100.0 * x.mfu)),
                Cell::number(format!("{:.1}%", 100.0 * x.ettr)),
                Cell::number(format!("{:.1}", x.time_to_train_s / 86_400.0)),
                Cell::number(format!("{:.1}", x.capex_usd / 1e6)),
                Cell::number(format!("{:.1}", x.facility_power_w / 1e6)),
                Cell::number(format!("{:.0}", x.energy_mwh)),
                Cell::number(format!("{:.2}", x.usd_per_million_tokens)),
                Cell::text(if x.pareto { "front" } else { "" }.to_string()),
            ],
            None => {
                let mut row = vec![Cell::text(d.name.clone()), Cell::text(d.sets.join(" ")), Cell::text(d.error.clone().unwrap_or_default())];
                row.extend((0..10).map(|_| Cell::text(String::new())));
                row
            }
        })
        .collect();
    page.table(&["design", "GPUs", "GPU", "layout", "step", "MFU", "ETTR", "days", "capex M USD", "site MW", "MWh", "USD / M tokens", "Pareto"], &rows);
    page.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn a_design_report_has_its_front_and_verdict() {
        let base = "[model]\npreset = \"llama3-8b\"\n[cluster]\ngpu = \"h100-sxm\"\ngpus = 64\n[parallel]\nglobal_batch = 256\n[training]\ntokens = 1e11\n";
        let text = "fidelity = \"analytic\"\n[axes]\n\"cluster.gpus\" = [64, 128]\n[[design]]\nname = \"H100\"\n[[design]]\nname = \"B200\"\n\"cluster.gpu\" = \"b200\"\n[[design]]\nname = \"broken\"\n\"cluster.switch_radix\" = 48\n";
        let study = crate::design::study::parse_with_base_text(text, Path::new("d.toml"), base, "base.toml".into()).unwrap();
        let r = study.run(&|_, _| {}).unwrap();
        let html = design_report(&r);
        crate::render::assert_valid_report(&html);
        assert_eq!(html.matches("<svg").count(), 2);
        assert!(html.contains("Verdict") && html.contains("Pareto") && html.contains("cluster.switch_radix = 48"));
        assert_eq!(html, design_report(&r));
    }
}
