//! The event fidelity's step as a Gantt chart: one row per stream (each pipeline
//! stage's compute, communication and host streams), tasks coloured by kind, the
//! critical path outlined. Tasks are merged at the chart's resolution (consecutive
//! tasks of one kind less than a pixel apart become one bar), so the chart stays small
//! at 131,072 GPUs (a few thousand bars, whatever the task count).

use super::chart::PALETTE;
use crate::engine::Graph;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Plot width in pixels; the time resolution of the merge.
const WIDTH_PX: u32 = 1100;
const ROW_PX: u32 = 13;

/// A task's kind, from its name's first word (the event step names them "fwd …",
/// "bwd …", "tp …", "pp …", "dp …", "issue …", "optimizer").
fn kind(name: &str) -> &str {
    name.split_whitespace().next().unwrap_or("")
}

/// The kinds in legend order with their palette colour.
const KINDS: [(&str, &str, usize); 7] =
    [("fwd", "forward", 0), ("bwd", "backward", 1), ("tp", "TP comm", 2), ("pp", "pipeline send/recv", 3), ("dp", "DP / ZeRO comm", 4), ("issue", "host issue", 6), ("optimizer", "optimizer", 5)];

fn kind_colour(k: &str) -> RGBColor {
    KINDS.iter().find(|(n, _, _)| *n == k).map_or(RGBColor(150, 150, 150), |(_, _, i)| PALETTE[*i].1)
}

/// Bars of one stream after merging: (start, end, kind, on the critical path).
fn merged(g: &Graph, order: &[usize], critical: &[bool], pixel_s: f64) -> Vec<(f64, f64, String, bool)> {
    let mut bars: Vec<(f64, f64, String, bool)> = Vec::new();
    for &t in order {
        let task = &g.tasks[t];
        if task.duration_s <= 0.0 {
            continue;
        }
        let k = kind(&task.name);
        match bars.last_mut() {
            Some(last) if last.2 == k && last.3 == critical[t] && task.start_s - last.1 < pixel_s => last.1 = last.1.max(task.end_s),
            _ => bars.push((task.start_s, task.end_s, k.to_string(), critical[t])),
        }
    }
    bars
}

/// The Gantt chart of a run graph (after `Graph::run`), as an SVG document.
pub fn gantt(g: &Graph, title: &str) -> String {
    super::chart::font_registered();
    let end = g.tasks.iter().map(|t| t.end_s).fold(0.0, f64::max).max(f64::MIN_POSITIVE);
    let rows = g.streams.len().max(1);
    let mut critical = vec![false; g.tasks.len()];
    for t in g.critical_path() {
        critical[t] = true;
    }
    let pixel_s = end / WIDTH_PX as f64;
    let height = 120 + ROW_PX * rows as u32;
    let mut svg = String::new();
    let drawn = (|| -> Result<(), Box<dyn std::error::Error + '_>> {
        let root = SVGBackend::with_string(&mut svg, (WIDTH_PX + 260, height)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(250)
            .build_cartesian_2d(0f64..end, 0f64..rows as f64)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(0)
            .x_desc("seconds into the step")
            .label_style(("sans-serif", 11))
            .axis_desc_style(("sans-serif", 13))
            .draw()?;
        // Each row's stream name, right-aligned beside it.
        let style = TextStyle::from(("sans-serif", 11).into_font()).pos(Pos::new(HPos::Right, VPos::Center));
        for (row, name) in g.stream_names.iter().enumerate() {
            let (x, y) = chart.backend_coord(&(0.0, (rows - 1 - row) as f64 + 0.5));
            root.draw(&Text::new(name.clone(), (x - 6, y), style.clone()))?;
        }
        for (row, order) in g.streams.iter().enumerate() {
            let y = (rows - 1 - row) as f64;
            let bars = merged(g, order, &critical, pixel_s);
            chart.draw_series(bars.iter().map(|(a, b, k, _)| Rectangle::new([(*a, y + 0.1), (*b, y + 0.9)], kind_colour(k).filled())))?;
            chart.draw_series(bars.iter().filter(|b| b.3).map(|(a, b, _, _)| Rectangle::new([(*a, y + 0.05), (*b, y + 0.95)], BLACK.stroke_width(1))))?;
        }
        for (n, (_, label, i)) in KINDS.iter().enumerate() {
            let c = PALETTE[*i].1;
            chart
                .draw_series(std::iter::empty::<Rectangle<(f64, f64)>>())?
                .label(*label)
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], c.filled()));
            let _ = n;
        }
        chart
            .draw_series(std::iter::empty::<Rectangle<(f64, f64)>>())?
            .label("critical path (outlined)")
            .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], BLACK.stroke_width(1)));
        super::chart::draw_legend(&mut chart, SeriesLabelPosition::LowerRight)?;
        root.present()?;
        Ok(())
    })();
    match drawn {
        Ok(()) => svg,
        Err(e) => super::chart::failed(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasks_merge_at_the_resolution_and_the_critical_path_is_outlined() {
        let mut g = Graph::new();
        let a = g.stream("stage 0 compute");
        let b = g.stream("stage 0 tp");
        let mut last = None;
        for i in 0..1000 {
            let t = g.add(a, format!("fwd {i}"), 1e-3, &[]);
            last = Some(g.add(b, format!("tp {i}"), 5e-4, &[t]));
        }
        g.add(a, "bwd 0", 0.5, &[last.unwrap()]);
        g.run().unwrap();
        let svg = gantt(&g, "step");
        // 1,000 forward tasks back to back are one bar, not a thousand.
        assert!(svg.matches("<rect").count() < 60, "{}", svg.matches("<rect").count());
        assert!(svg.contains("stage 0 compute") && svg.contains("critical path"));
        assert_eq!(svg, gantt(&g, "step"));
    }
}
