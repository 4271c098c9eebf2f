//! The HTML document of a report: a title, sections of tables and figures, and one
//! inline stylesheet that also lays the page out for print.

use std::fmt::Write as _;

/// Text made safe inside HTML elements and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:'DejaVu Sans',sans-serif;margin:2em auto;max-width:60em;color:#111;line-height:1.4}\
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #999}\
p.sub{color:#444;margin-top:0}table{border-collapse:collapse;margin:.5em 0}\
th,td{padding:.15em .6em;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}\
td.num{text-align:right;font-variant-numeric:tabular-nums}figure{margin:1em 0}\
figcaption{color:#444;font-size:.9em}svg{max-width:100%;height:auto}\
.default{color:#666}.warn{color:#a33}\
@media print{body{margin:0;max-width:none}figure,table{break-inside:avoid}}";

/// A report being written.
pub struct Page {
    title: String,
    subtitle: String,
    body: String,
}

impl Page {
    pub fn new(title: &str, subtitle: &str) -> Page {
        Page { title: title.to_string(), subtitle: subtitle.to_string(), body: String::new() }
    }

    /// A section heading.
    pub fn section(&mut self, heading: &str) {
        let _ = write!(self.body, "<h2>{}</h2>\n", escape(heading));
    }

    /// A paragraph of plain text.
    pub fn paragraph(&mut self, text: &str) {
        let _ = write!(self.body, "<p>{}</p>\n", escape(text));
    }

    /// A table: a header row and rows of cells; cells that read as numbers align right.
    pub fn table(&mut self, header: &[&str], rows: &[Vec<Cell>]) {
        self.body.push_str("<table>\n<thead><tr>");
        for h in header {
            let _ = write!(self.body, "<th>{}</th>", escape(h));
        }
        self.body.push_str("</tr></thead>\n<tbody>\n");
        for row in rows {
            self.body.push_str("<tr>");
            for cell in row {
                let class = match cell.kind {
                    CellKind::Number => " class=\"num\"",
                    CellKind::Muted => " class=\"default\"",
                    CellKind::Warning => " class=\"warn\"",
                    CellKind::Text => "",
                };
                let _ = write!(self.body, "<td{class}>{}</td>", escape(&cell.text));
            }
            self.body.push_str("</tr>\n");
        }
        self.body.push_str("</tbody>\n</table>\n");
    }

    /// A chart (an SVG document from [`super::chart`]) with its caption.
    pub fn figure(&mut self, svg: &str, caption: &str) {
        let svg = svg.trim_start_matches(|c| c != '<').trim();
        let _ = write!(self.body, "<figure>\n{svg}\n<figcaption>{}</figcaption>\n</figure>\n", escape(caption));
    }

    /// The whole document.
    pub fn finish(self) -> String {
        format!(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<meta name=\"generator\" content=\"wanka {}\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{}</h1>\n<p class=\"sub\">{}</p>\n{}</body>\n</html>\n",
            env!("CARGO_PKG_VERSION"),
            escape(&self.title),
            escape(&self.title),
            escape(&self.subtitle),
            self.body
        )
    }
}

/// How a table cell reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellKind {
    Text,
    Number,
    /// A value the user did not set (a default or derived value).
    Muted,
    Warning,
}

/// One table cell.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    pub text: String,
    pub kind: CellKind,
}

impl Cell {
    pub fn text(t: impl Into<String>) -> Cell {
        Cell { text: t.into(), kind: CellKind::Text }
    }
    pub fn number(t: impl Into<String>) -> Cell {
        Cell { text: t.into(), kind: CellKind::Number }
    }
    pub fn muted(t: impl Into<String>) -> Cell {
        Cell { text: t.into(), kind: CellKind::Muted }
    }
    pub fn warning(t: impl Into<String>) -> Cell {
        Cell { text: t.into(), kind: CellKind::Warning }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_everywhere() {
        let mut p = Page::new("a <b> & \"c\"", "x'y");
        p.section("<h>");
        p.table(&["<th>"], &[vec![Cell::text("<td>")]]);
        let html = p.finish();
        assert!(!html.contains("<b>") && !html.contains("<h>") && !html.contains("<td><td>") && html.contains("<td>&lt;td&gt;</td>"));
        assert!(html.starts_with("<!DOCTYPE html>") && html.ends_with("</html>\n"));
    }
}
