//! HTML reports and SVG charts from the report structs: this module reads results, it
//! never computes them (ARCHITECTURE.md). A report is one self-contained HTML file
//! (inline CSS and SVG, no script, no network) that opens offline and prints; the same
//! input gives the same bytes.
//!
//! - [`page`]: the document (sections, tables, figures, the stylesheet);
//! - [`chart`]: the charts, drawn by plotters' SVG backend with a bundled font and a
//!   colour-blind-safe palette;
//! - one module per report kind; the charts `--plot` writes alone (SVG or PNG) are
//!   `scale_plot`, `collective_plot` and `validate_plot`.

pub mod chart;
mod collective;
mod design;
mod goodput;
pub mod page;
mod scale;
mod search;
mod simulate;
mod sweep;
pub mod timeline;
mod validate;

pub use collective::{collective_plot, collective_report};
pub use design::design_report;
pub use goodput::goodput_report;
pub use scale::{scale_plot, scale_report};
pub use search::search_report;
pub use simulate::{keys_set, simulate_report};
pub use sweep::sweep_report;
pub use validate::{validate_plot, validate_report};

/// Every report's check: an HTML5 parser reads it without an error, and it is
/// self-contained (no script, nothing fetched: only the SVG namespace names a URL).
#[cfg(test)]
pub(crate) fn assert_valid_report(html: &str) {
    let errors: Vec<String> = scraper::Html::parse_document(html).errors.iter().map(|e| e.to_string()).collect();
    assert_eq!(errors, Vec::<String>::new());
    let rest = html.replace("http://www.w3.org/2000/svg", "");
    assert!(!rest.contains("http") && !html.contains("<script") && !html.contains(" src=") && !html.contains(" href="));
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// HTML5 parse errors of a document (none: it validates as the parser reads it).
    fn parse_errors(html: &str) -> Vec<String> {
        scraper::Html::parse_document(html).errors.iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn reports_are_valid_html_without_script() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/llama3-405b-16k.toml");
        let s = crate::scenario::load(&path, &[]).unwrap();
        let step = super::simulate_report(&s, &crate::step::simulate(&s), None, &crate::step::pipeline_ranks(&s), &Default::default());
        let space = crate::scenario::load_space(&path, &[]).unwrap();
        let scale = super::scale_report(&space, &crate::scale::scale(&space, &[8192, 16384]).unwrap());
        for html in [step, scale] {
            assert_eq!(parse_errors(&html), Vec::<String>::new());
            // Self-contained: no script, nothing fetched (only the SVG namespace names a URL).
            let rest = html.replace("http://www.w3.org/2000/svg", "");
            assert!(!rest.contains("http") && !html.contains("<script") && !html.contains(" src=") && !html.contains(" href="));
        }
        // The check can fail: a stray end tag is an error.
        assert!(!parse_errors("<!DOCTYPE html><html><head><title>t</title></head><body></div></body></html>").is_empty());
    }
}
