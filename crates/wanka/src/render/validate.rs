//! The report of `wanka validate`: every published row predicted against published on
//! log–log axes with the ±10% and ±25% bands, the error by source, framework and scale,
//! and the rows one by one with what was assumed.

use super::chart::{self, Plot as _};
use super::page::{Cell, Page};
use crate::validate::{GroupMape, Validation};

fn mape_rows(groups: &[GroupMape]) -> Vec<Vec<Cell>> {
    groups
        .iter()
        .map(|g| vec![Cell::text(g.group.clone()), Cell::number(g.rows.to_string()), Cell::number(format!("{:.1}%", g.mape_pct)), Cell::number(format!("{:+.1}%", g.bias_pct))])
        .collect()
}

/// Every row predicted against published, by source (`wanka validate --plot`).
pub fn validate_plot(v: &Validation) -> chart::Parity {
    let mut groups: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
    for r in &v.rows {
        let point = (r.published_tokens_per_s_per_gpu, r.predicted_tokens_per_s_per_gpu);
        match groups.iter_mut().find(|(g, _)| *g == r.group) {
            Some((_, ps)) => ps.push(point),
            None => groups.push((r.group.clone(), vec![point])),
        }
    }
    chart::Parity { title: "Tokens per second per GPU".into(), unit: "tokens/s per GPU".into(), groups }
}

/// The report of a validation run (`fidelity`: "analytic" or "event").
pub fn validate_report(v: &Validation, fidelity: &str) -> String {
    let mut page = Page::new(
        "wanka validate: predicted against published",
        &format!(
            "{} published training runs, {} fidelity: MAPE {:.1}% over all represented rows, {:.1}% without the documented exclusions",
            v.rows.len(),
            fidelity,
            v.mape_pct,
            v.mape_included_pct
        ),
    );
    page.section("Predicted against published");
    page.figure(
        &validate_plot(v).svg(),
        "Each published run against wanka's prediction; on the black line they agree, the grey lines are ±10% and ±25%.",
    );
    page.section("Error by source");
    page.table(&["source", "rows", "MAPE", "bias"], &mape_rows(&v.groups));
    page.section("Error by framework and by scale");
    page.table(&["framework", "rows", "MAPE", "bias"], &mape_rows(&v.by_framework));
    page.table(&["job size", "rows", "MAPE", "bias"], &mape_rows(&v.by_scale));
    page.section("Every row");
    let rows: Vec<Vec<Cell>> = v
        .rows
        .iter()
        .map(|r| {
            let error = format!("{:+.1}%", r.error_pct);
            vec![
                Cell::text(r.id.clone()),
                Cell::text(r.group.clone()),
                Cell::number(r.gpus.to_string()),
                Cell::number(format!("{:.0}", r.published_tokens_per_s_per_gpu)),
                Cell::number(format!("{:.0}", r.predicted_tokens_per_s_per_gpu)),
                if r.error_pct.abs() > 25.0 { Cell::warning(error) } else { Cell::number(error) },
                r.excluded.as_ref().map_or(Cell::text(""), |why| Cell::muted(format!("excluded: {why}"))),
            ]
        })
        .collect();
    page.table(&["row", "source", "GPUs", "published", "predicted", "error", ""], &rows);
    if !v.skipped.is_empty() {
        page.section("Not represented");
        let rows: Vec<Vec<Cell>> = v.skipped.iter().map(|s| vec![Cell::text(s.id.clone()), Cell::muted(s.reason.clone())]).collect();
        page.table(&["row", "why"], &rows);
    }
    page.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_validation_report_has_the_parity_chart_and_every_row() {
        let v = crate::validate::validate();
        let html = validate_report(&v, "analytic");
        crate::render::assert_valid_report(&html);
        assert_eq!(html.matches("<svg").count(), 1);
        assert!(html.matches("<circle").count() >= v.rows.len());
        for r in &v.rows {
            assert!(html.contains(&format!("<td>{}</td>", r.id)), "{}", r.id);
        }
        assert_eq!(html, validate_report(&v, "analytic"));
    }
}
