//! The charts of the reports, drawn by plotters' SVG backend. Text is measured with a
//! bundled font (DejaVu Sans, registered once) so a chart's bytes are the same on every
//! machine, and series take the Okabe–Ito palette, which stays distinguishable for
//! colour-blind readers (Okabe & Ito 2008, "Color Universal Design").

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};
use std::sync::Once;

/// The Okabe–Ito colours, by name, in the order series take them (black last; lines
/// that mark a limit are black too, drawn as lines).
pub const PALETTE: [(&str, RGBColor); 8] = [
    ("blue", RGBColor(0, 114, 178)),
    ("orange", RGBColor(230, 159, 0)),
    ("bluish green", RGBColor(0, 158, 115)),
    ("vermillion", RGBColor(213, 94, 0)),
    ("sky blue", RGBColor(86, 180, 233)),
    ("reddish purple", RGBColor(204, 121, 167)),
    ("yellow", RGBColor(240, 228, 66)),
    ("black", RGBColor(0, 0, 0)),
];

/// The family every chart's text is set in (registered from the bundled font).
const FONT: &str = "sans-serif";

pub(super) fn font_registered() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The bundled font always parses; if it did not, text would be left unmeasured
        // rather than the report refused.
        let _ = register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
    });
}

fn colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()].1
}

/// A chart that could not be drawn: its reason as the figure (never seen in practice;
/// a report is still written).
pub(super) fn failed(why: impl std::fmt::Display) -> String {
    format!("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"600\" height=\"40\"><text x=\"10\" y=\"25\">chart not drawn: {}</text></svg>", super::page::escape(&why.to_string()))
}

/// One part of a stacked bar.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub label: String,
    pub value: f64,
}

/// A horizontal bar of `segments` stacked left to right (`unit` on the axis), with an
/// optional limit drawn as a vertical black line (`(label, value)`: the HBM capacity),
/// and its legend beside it. Segments of zero are left out of the bar and the legend;
/// the others take the palette's colours in order.
pub fn stacked_bar(title: &str, unit: &str, segments: &[Segment], limit: Option<(&str, f64)>) -> String {
    stacked_bars(title, unit, &[(String::new(), segments.to_vec())], limit)
}

/// Stacked bars, one row per `(label, segments)` (the kinds of pipeline rank), sharing
/// one axis and one legend: a segment label takes the same colour in every row, and
/// labels that are zero in every row are left out.
pub fn stacked_bars(title: &str, unit: &str, rows: &[(String, Vec<Segment>)], limit: Option<(&str, f64)>) -> String {
    font_registered();
    // The legend: every label non-zero somewhere, in first-seen order, with its value
    // when there is one row.
    let mut labels: Vec<&str> = Vec::new();
    for (_, segs) in rows {
        for seg in segs.iter().filter(|g| g.value > 0.0 && g.value.is_finite()) {
            if !labels.contains(&seg.label.as_str()) {
                labels.push(&seg.label);
            }
        }
    }
    let colour_of = |label: &str| colour(labels.iter().position(|l| *l == label).unwrap_or(0));
    let widest = rows.iter().map(|(_, segs)| segs.iter().filter(|g| g.value > 0.0 && g.value.is_finite()).map(|g| g.value).sum::<f64>()).fold(0.0, f64::max);
    let right = widest.max(limit.map_or(0.0, |l| l.1)).max(f64::MIN_POSITIVE) * 1.05;
    let n = rows.len().max(1);
    let row_labels = rows.iter().any(|(l, _)| !l.is_empty());
    let entries = labels.len() + usize::from(limit.is_some());
    let height = (60 + 20 * entries as u32).max(140 + 36 * n as u32);
    svg_of((760, height), |root| -> Result<(), Box<dyn std::error::Error>> {
        root.fill(&WHITE)?;
        let (plot, legend) = root.split_horizontally(560);
        let mut chart = ChartBuilder::on(&plot)
            .caption(title, (FONT, 18))
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(if row_labels { 220 } else { 10 })
            .build_cartesian_2d(0f64..right, 0f64..n as f64)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(0)
            .x_desc(unit)
            .x_labels(8)
            .x_label_formatter(&|v: &f64| short_number(*v))
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 14))
            .draw()?;
        let anchor = TextStyle::from((FONT, 11).into_font()).pos(plotters::style::text_anchor::Pos::new(
            plotters::style::text_anchor::HPos::Right,
            plotters::style::text_anchor::VPos::Center,
        ));
        for (r, (row_label, segs)) in rows.iter().enumerate() {
            let y = (n - 1 - r) as f64;
            let mut left = 0.0;
            for seg in segs.iter().filter(|g| g.value > 0.0 && g.value.is_finite()) {
                let (x0, x1) = (left, left + seg.value);
                left = x1;
                chart.draw_series(std::iter::once(Rectangle::new([(x0, y + 0.25), (x1, y + 0.75)], colour_of(&seg.label).filled())))?;
            }
            if !row_label.is_empty() {
                let (px, py) = chart.backend_coord(&(0.0, y + 0.5));
                plot.draw(&Text::new(row_label.clone(), (px - 6, py), anchor.clone()))?;
            }
        }
        if let Some((_, value)) = limit {
            chart.draw_series(std::iter::once(PathElement::new(vec![(value, 0.05), (value, n as f64 - 0.05)], BLACK.stroke_width(3))))?;
        }
        // The legend: a swatch and the label (with its value for a single bar), one per line.
        let at = |i: usize| 40 + 20 * i as i32;
        for (i, label) in labels.iter().enumerate() {
            let value = if rows.len() == 1 { rows[0].1.iter().find(|g| g.label == *label).map_or(String::new(), |g| format!(" {}", short_number(g.value))) } else { String::new() };
            legend.draw(&Rectangle::new([(8, at(i) - 6), (22, at(i) + 6)], colour_of(label).filled()))?;
            legend.draw(&Text::new(format!("{label}{value}"), (30, at(i) - 7), (FONT, 13)))?;
        }
        if let Some((label, value)) = limit {
            let i = labels.len();
            legend.draw(&PathElement::new(vec![(8, at(i)), (22, at(i))], BLACK.stroke_width(3)))?;
            legend.draw(&Text::new(format!("{label} {}", short_number(value)), (30, at(i) - 7), (FONT, 13)))?;
        }
        root.present()?;
        Ok(())
    })
}

/// One line of a [`lines`] chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub label: String,
    pub points: Vec<(f64, f64)>,
}

/// How an axis is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Axis {
    Linear,
    Log,
    /// Log, labelled in binary sizes (1K, 8M, 1G) as nccl-tests prints them.
    LogBytes,
}

/// Lines with point marks against x (`x_axis`: linear or log), each series in its own
/// colour, with an optional vertical marker (`(x, label)`: the knee of a scale curve):
/// the chart of a report, or of `--plot` as SVG or PNG.
#[derive(Debug, Clone, PartialEq)]
pub struct Lines {
    pub title: String,
    pub x_desc: String,
    pub y_desc: String,
    pub x_axis: Axis,
    pub series: Vec<Series>,
    pub marker: Option<(f64, String)>,
}

/// [`Lines`] as SVG.
pub fn lines(title: &str, x_desc: &str, y_desc: &str, x_axis: Axis, series: &[Series], marker: Option<(f64, &str)>) -> String {
    Lines { title: title.into(), x_desc: x_desc.into(), y_desc: y_desc.into(), x_axis, series: series.to_vec(), marker: marker.map(|(x, l)| (x, l.to_string())) }.svg()
}

/// A chart that is data, drawn on any plotters backend: as SVG for a report, or as
/// SVG or PNG alone (`--plot`).
pub trait Plot {
    /// Width and height in pixels.
    const SIZE: (u32, u32);

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String>;

    fn svg(&self) -> String {
        svg_of(Self::SIZE, |root| self.draw(root))
    }

    fn png(&self) -> Result<Vec<u8>, String> {
        png_of(Self::SIZE, |root| self.draw(root))
    }
}

impl Plot for Lines {
    const SIZE: (u32, u32) = (760, 380);

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        font_registered();
        let (series, x_axis) = (&self.series, self.x_axis);
        let xs = series.iter().flat_map(|s| s.points.iter().map(|p| p.0)).filter(|x| x.is_finite());
        let ys = series.iter().flat_map(|s| s.points.iter().map(|p| p.1)).filter(|y| y.is_finite());
        let (x0, x1) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| (a.min(x), b.max(x)));
        let (y0, y1) = ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), y| (a.min(y), b.max(y)));
        if !(x0.is_finite() && x1.is_finite() && y0.is_finite() && y1.is_finite()) {
            return Err("no finite points".into());
        }
        let (x0, x1) = if x1 > x0 { (x0, x1) } else { (x0 * 0.5, x0 * 2.0 + 1.0) };
        let bottom = if y0 >= 0.0 { 0.0 } else { y0 * 1.1 };
        let top = if y1 > bottom { y1 * 1.1 } else { bottom + 1.0 };
        let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
        root.fill(&WHITE).map_err(e)?;
        let mut builder = ChartBuilder::on(root);
        builder.caption(&self.title, (FONT, 18)).margin(12).margin_right(36).x_label_area_size(46).y_label_area_size(78);
        let number = |v: &f64| short_number(*v);
        let x_number = |v: &f64| if x_axis == Axis::LogBytes { binary_size(*v) } else { short_number(*v) };
        macro_rules! draw {
            ($chart:expr) => {{
                let mut chart = $chart;
                chart
                    .configure_mesh()
                    .x_desc(&self.x_desc)
                    .y_desc(&self.y_desc)
                    .x_label_formatter(&x_number)
                    .y_label_formatter(&number)
                    .label_style((FONT, 13))
                    .axis_desc_style((FONT, 14))
                    .light_line_style(RGBColor(235, 235, 235))
                    .draw()
                    .map_err(e)?;
                for (i, s) in series.iter().enumerate() {
                    let c = colour(i);
                    let points: Vec<(f64, f64)> = s.points.iter().copied().filter(|(x, y)| x.is_finite() && y.is_finite()).collect();
                    chart
                        .draw_series(LineSeries::new(points.clone(), c.stroke_width(2)))
                        .map_err(e)?
                        .label(s.label.as_str())
                        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], c.stroke_width(2)));
                    chart.draw_series(points.iter().map(|&p| Circle::new(p, 3, c.filled()))).map_err(e)?;
                }
                if let Some((x, label)) = &self.marker {
                    chart
                        .draw_series(std::iter::once(PathElement::new(vec![(*x, bottom), (*x, top)], BLACK.stroke_width(1))))
                        .map_err(e)?
                        .label(label.as_str())
                        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], BLACK.stroke_width(1)));
                }
                draw_legend(&mut chart, SeriesLabelPosition::UpperRight).map_err(e)?;
            }};
        }
        match x_axis {
            Axis::Log | Axis::LogBytes => {
                // Ticks at the data's x values (the GPU counts), not at every power of ten's steps.
                let mut keys: Vec<f64> = series.iter().flat_map(|s| s.points.iter().map(|p| p.0)).filter(|x| x.is_finite() && *x > 0.0).collect();
                keys.sort_by(f64::total_cmp);
                keys.dedup();
                // At most about ten ticks: every k-th value, the last kept.
                let step = keys.len().div_ceil(10).max(1);
                let last = keys.last().copied();
                keys = keys.into_iter().step_by(step).collect();
                if let Some(l) = last.filter(|l| keys.last() != Some(l)) {
                    keys.push(l);
                }
                draw!(builder.build_cartesian_2d((x0..x1).log_scale().with_key_points(keys), bottom..top).map_err(e)?)
            }
            Axis::Linear => draw!(builder.build_cartesian_2d(x0..x1, bottom..top).map_err(e)?),
        }
        root.present().map_err(e)
    }
}

/// A drawing as an SVG document (its reason as the figure if it cannot be drawn).
fn svg_of<E: std::fmt::Display>(size: (u32, u32), draw: impl FnOnce(&DrawingArea<SVGBackend, Shift>) -> Result<(), E>) -> String {
    let mut svg = String::new();
    let drawn = {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        draw(&root)
    };
    match drawn {
        Ok(()) => svg,
        Err(e) => failed(e),
    }
}

/// A drawing as a PNG image (RGB, 8 bits).
fn png_of(size: (u32, u32), draw: impl FnOnce(&DrawingArea<BitMapBackend, Shift>) -> Result<(), String>) -> Result<Vec<u8>, String> {
    let (w, h) = size;
    let mut pixels = vec![0u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, size).into_drawing_area();
        draw(&root)?;
    }
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, w, h);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
    writer.write_image_data(&pixels).map_err(|e| e.to_string())?;
    writer.finish().map_err(|e| e.to_string())?;
    Ok(out)
}

/// What a scatter's legend calls its points, its front and its named points.
#[derive(Debug, Clone, Copy)]
pub struct ScatterLegend<'a> {
    /// The points, before "(N drawn of M)".
    pub points: &'a str,
    pub front: &'a str,
    pub named: &'a str,
}

/// Every chart's legend: the series labels framed on a translucent white box at `at`.
pub(crate) fn draw_legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(chart: &mut ChartContext<'a, DB, CT>, at: SeriesLabelPosition) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    chart.configure_series_labels().position(at).label_font((FONT, 12)).background_style(WHITE.mix(0.9)).border_style(BLACK).draw()
}

/// A scatter of many points (drawn one per cell of a 160 × 100 grid, so a search's
/// 100,000s of layouts stay at most 16,000 marks), a front drawn as a black line over them, and
/// named points (`(x, y, label)`: the top layouts) marked and labelled.
pub fn scatter(title: &str, x_desc: &str, y_desc: &str, points: &[(f64, f64)], front: &[(f64, f64)], named: &[(f64, f64, String)], legend: ScatterLegend) -> String {
    font_registered();
    let finite = |p: &&(f64, f64)| p.0.is_finite() && p.1.is_finite();
    let all: Vec<(f64, f64)> = points.iter().filter(finite).copied().chain(named.iter().map(|n| (n.0, n.1))).collect();
    if all.is_empty() {
        return failed("no finite points");
    }
    let (x0, x1) = all.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| (a.min(p.0), b.max(p.0)));
    let (_, y1) = all.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| (a.min(p.1), b.max(p.1)));
    let pad = ((x1 - x0) * 0.05).max(x1.abs() * 0.01).max(1e-9);
    let (left, right, top) = ((x0 - pad).max(0.0), x1 + pad, (y1 * 1.1).max(1e-9));
    // One mark per grid cell, the first point (in the order given) of each.
    let mut seen = std::collections::BTreeSet::new();
    let cells: Vec<(f64, f64)> = points
        .iter()
        .filter(finite)
        .copied()
        .filter(|p| seen.insert((((p.0 - left) / (right - left) * 160.0) as i64, (p.1 / top * 100.0) as i64)))
        .collect();
    svg_of((760, 440), |root| -> Result<(), Box<dyn std::error::Error>> {
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root).caption(title, (FONT, 18)).margin(12).x_label_area_size(46).y_label_area_size(70).build_cartesian_2d(left..right, 0f64..top)?;
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc(y_desc)
            .x_label_formatter(&|v: &f64| short_number(*v))
            .y_label_formatter(&|v: &f64| short_number(*v))
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 14))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()?;
        let dots = PALETTE[4].1;
        chart
            .draw_series(cells.iter().map(|&p| Circle::new(p, 2, dots.filled())))?
            .label(format!("{} ({} drawn of {})", legend.points, cells.len(), points.len()))
            .legend(move |(x, y)| Circle::new((x + 6, y), 3, dots.filled()));
        chart
            .draw_series(LineSeries::new(front.iter().copied(), BLACK.stroke_width(2)))?
            .label(legend.front)
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], BLACK.stroke_width(2)));
        let mark = PALETTE[3].1;
        chart
            .draw_series(named.iter().map(|(x, y, _)| Cross::new((*x, *y), 6, mark.stroke_width(2))))?
            .label(legend.named)
            .legend(move |(x, y)| Cross::new((x + 6, y), 5, mark.stroke_width(2)));
        chart.draw_series(named.iter().map(|(x, y, l)| Text::new(l.clone(), (*x, *y), (FONT, 12))))?;
        draw_legend(&mut chart, SeriesLabelPosition::LowerRight)?;
        root.present()?;
        Ok(())
    })
}

/// Predicted against measured on log–log axes, one colour per group, with the line of
/// perfect agreement and the ±10% and ±25% bands around it.
#[derive(Debug, Clone, PartialEq)]
pub struct Parity {
    pub title: String,
    pub unit: String,
    pub groups: Vec<(String, Vec<(f64, f64)>)>,
}

/// [`Parity`] as SVG.
pub fn parity(title: &str, unit: &str, groups: &[(String, Vec<(f64, f64)>)]) -> String {
    Parity { title: title.into(), unit: unit.into(), groups: groups.to_vec() }.svg()
}

impl Plot for Parity {
    const SIZE: (u32, u32) = (760, 600);

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        font_registered();
        let groups = &self.groups;
        let all: Vec<f64> = groups.iter().flat_map(|(_, ps)| ps.iter().flat_map(|p| [p.0, p.1])).filter(|v| v.is_finite() && *v > 0.0).collect();
        if all.is_empty() {
            return Err("no positive points".into());
        }
        let lo = all.iter().copied().fold(f64::INFINITY, f64::min) / 1.5;
        let hi = all.iter().copied().fold(0.0, f64::max) * 1.5;
        let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
        root.fill(&WHITE).map_err(e)?;
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, (FONT, 18))
            .margin(12)
            .x_label_area_size(46)
            .y_label_area_size(70)
            .build_cartesian_2d((lo..hi).log_scale(), (lo..hi).log_scale())
            .map_err(e)?;
        chart
            .configure_mesh()
            .x_desc(format!("published ({})", self.unit))
            .y_desc(format!("predicted ({})", self.unit))
            .x_label_formatter(&|v: &f64| short_number(*v))
            .y_label_formatter(&|v: &f64| short_number(*v))
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 14))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(e)?;
        for (factor, style, label) in [
            (1.0, BLACK.stroke_width(2), "agreement"),
            (1.10, RGBColor(120, 120, 120).stroke_width(1), "±10%"),
            (0.90, RGBColor(120, 120, 120).stroke_width(1), ""),
            (1.25, RGBColor(180, 180, 180).stroke_width(1), "±25%"),
            (0.75, RGBColor(180, 180, 180).stroke_width(1), ""),
        ] {
            let series = chart.draw_series(LineSeries::new([(lo, lo * factor), (hi, hi * factor)], style)).map_err(e)?;
            if !label.is_empty() {
                series.label(label).legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], style));
            }
        }
        for (i, (name, ps)) in groups.iter().enumerate() {
            let c = colour(i);
            let ps: Vec<(f64, f64)> = ps.iter().copied().filter(|p| p.0 > 0.0 && p.1 > 0.0).collect();
            chart
                .draw_series(ps.iter().map(|&p| Circle::new(p, 4, c.filled())))
                .map_err(e)?
                .label(name.as_str())
                .legend(move |(x, y)| Circle::new((x + 6, y), 4, c.filled()));
        }
        draw_legend(&mut chart, SeriesLabelPosition::UpperLeft).map_err(e)?;
        root.present().map_err(e)
    }
}

/// A histogram: `bins` as (low, high, count) bars, with labelled vertical markers
/// (`(x, label)`: percentiles).
pub fn histogram(title: &str, x_desc: &str, bins: &[(f64, f64, u64)], markers: &[(f64, String)]) -> String {
    font_registered();
    let (Some(lo), Some(hi)) = (bins.first().map(|b| b.0), bins.last().map(|b| b.1)) else {
        return failed("no values");
    };
    let (lo, hi) = if hi > lo { (lo, hi) } else { (lo - 0.5 * lo.abs().max(1.0), hi + 0.5 * hi.abs().max(1.0)) };
    let top = bins.iter().map(|b| b.2).max().unwrap_or(1).max(1) as f64 * 1.15;
    svg_of((760, 360), |root| -> Result<(), Box<dyn std::error::Error>> {
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root).caption(title, (FONT, 18)).margin(12).x_label_area_size(46).y_label_area_size(60).build_cartesian_2d(lo..hi, 0f64..top)?;
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc("runs")
            .x_label_formatter(&|v: &f64| short_number(*v))
            .y_label_formatter(&|v: &f64| short_number(*v))
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 14))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()?;
        let c = colour(0);
        chart.draw_series(bins.iter().map(|&(a, b, n)| Rectangle::new([(a, 0.0), (b, n as f64)], c.filled())))?;
        for (x, label) in markers {
            chart.draw_series(std::iter::once(PathElement::new(vec![(*x, 0.0), (*x, top)], BLACK.stroke_width(1))))?;
            chart.draw_series(std::iter::once(Text::new(label.clone(), (*x, top * 0.97), (FONT, 12))))?;
        }
        root.present()?;
        Ok(())
    })
}

/// Horizontal bars, one per `(label, value)`, largest first as given, the label at
/// the left and the value at the bar's end.
pub fn bars(title: &str, x_desc: &str, items: &[(String, f64)]) -> String {
    font_registered();
    if items.is_empty() {
        return failed("no values");
    }
    let right = items.iter().map(|i| i.1).fold(0.0, f64::max).max(f64::MIN_POSITIVE) * 1.2;
    let n = items.len();
    svg_of((760, 80 + 20 * n as u32), |root| -> Result<(), Box<dyn std::error::Error>> {
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root).caption(title, (FONT, 18)).margin(12).x_label_area_size(40).y_label_area_size(220).build_cartesian_2d(0f64..right, 0f64..n as f64)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(0)
            .x_desc(x_desc)
            .x_label_formatter(&|v: &f64| short_number(*v))
            .label_style((FONT, 12))
            .axis_desc_style((FONT, 13))
            .draw()?;
        let c = colour(3);
        let style = TextStyle::from((FONT, 12).into_font()).pos(plotters::style::text_anchor::Pos::new(
            plotters::style::text_anchor::HPos::Right,
            plotters::style::text_anchor::VPos::Center,
        ));
        for (i, (label, v)) in items.iter().enumerate() {
            let y = (n - 1 - i) as f64;
            chart.draw_series(std::iter::once(Rectangle::new([(0.0, y + 0.15), (*v, y + 0.85)], c.filled())))?;
            chart.draw_series(std::iter::once(Text::new(short_number(*v), (*v, y + 0.75), (FONT, 11))))?;
            let (px, py) = chart.backend_coord(&(0.0, y + 0.5));
            root.draw(&Text::new(label.clone(), (px - 6, py), style.clone()))?;
        }
        root.present()?;
        Ok(())
    })
}

/// A byte count in binary units (1K, 8M, 1G), or as it is when not a whole number of them.
pub fn binary_size(b: f64) -> String {
    for (unit, n) in [("G", 1u64 << 30), ("M", 1 << 20), ("K", 1 << 10)] {
        let x = b / n as f64;
        if x >= 1.0 && x.fract() == 0.0 {
            return format!("{x}{unit}");
        }
    }
    short_number(b)
}

/// A tick label: whole numbers below a million as they are (GPU counts), larger
/// values in k, M or G, fractions with up to three significant digits.
pub fn short_number(v: f64) -> String {
    let a = v.abs();
    if v == v.trunc() && a < 1e6 {
        return format!("{v:.0}");
    }
    let (scaled, suffix) = if a >= 1e9 {
        (v / 1e9, "G")
    } else if a >= 1e6 {
        (v / 1e6, "M")
    } else if a >= 1e3 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    let s = if scaled.abs() >= 100.0 || scaled == scaled.trunc() {
        format!("{scaled:.0}")
    } else if scaled.abs() >= 10.0 {
        format!("{scaled:.1}")
    } else {
        format!("{scaled:.2}")
    };
    format!("{s}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(svg: &str, tag: &str) -> usize {
        svg.matches(&format!("<{tag}")).count()
    }

    #[test]
    fn a_stacked_bar_has_its_axis_segments_legend_and_limit() {
        let segs = vec![Segment { label: "weights".into(), value: 10.0 }, Segment { label: "activations".into(), value: 30.0 }, Segment { label: "none".into(), value: 0.0 }];
        let svg = stacked_bar("memory", "GiB", &segs, Some(("HBM", 80.0)));
        assert!(svg.starts_with("<svg") && svg.contains("GiB"), "{svg}");
        // Two segments and their two legend swatches, plus the backgrounds.
        assert!(count(&svg, "rect") >= 5, "{svg}");
        assert!(svg.contains("weights") && svg.contains("activations") && svg.contains("HBM") && !svg.contains(">none<"));
        assert_eq!(svg, stacked_bar("memory", "GiB", &segs, Some(("HBM", 80.0))), "same input, same bytes");
    }

    #[test]
    fn a_line_chart_has_axes_lines_marks_and_marker() {
        let s = vec![Series { label: "days".into(), points: vec![(1024.0, 100.0), (2048.0, 55.0), (4096.0, 40.0)] }];
        let svg = lines("time to train", "GPUs", "days", Axis::Log, &s, Some((2048.0, "knee")));
        assert!(svg.contains("GPUs") && svg.contains("days") && svg.contains("knee"));
        assert!(count(&svg, "polyline") >= 1 && count(&svg, "circle") >= 3, "{svg}");
        assert!(lines("t", "x", "y", Axis::Linear, &[], None).contains("chart not drawn"));
    }

    #[test]
    fn tick_labels_are_short() {
        assert_eq!(short_number(131072.0), "131072");
        assert_eq!(short_number(2500.5), "2.50k");
        assert_eq!(short_number(1_048_576.0), "1.05M");
        assert_eq!(short_number(0.25), "0.25");
        assert_eq!(short_number(12.5), "12.5");
    }
}
