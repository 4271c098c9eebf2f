//! Design-space sweeps: a base scenario and axes of scenario keys, every combination
//! evaluated, one row per point.
//!
//! A sweep file (TOML):
//!
//! ```toml
//! base = "../llama3-405b-16k.toml"   # relative to the sweep file
//! fidelity = "analytic"              # or "event"
//! layout = "file"                    # or "best": search the best layout at each point
//! [axes]
//! "cluster.gpus" = [8192, 16384, 32768]
//! "cluster.oversubscription" = [1, 4]
//! ```
//!
//! Points enumerate the axes in key order, the last key varying fastest; point `i` is
//! the same point on every machine, so shards and resumed runs line up. Keys a point
//! changes by implication (the data-parallel size and global batch after the GPU count)
//! are adjusted as `--set` would suggest and listed in the row.

use crate::error::{Error, Result};
use crate::scenario::{self, Adjustment};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Points a sweep may have: beyond this a sweep is a resource bomb, not a question.
pub const MAX_POINTS: u64 = 1 << 32;

/// How a point is evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fidelity {
    Analytic,
    Event,
}

/// Which layout a point runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Layout {
    /// The base file's `[parallel]` keys (dp and the batch adjusted to the GPU count).
    File,
    /// The best layout `wanka search` finds at the point (analytic), as `wanka scale`
    /// does at each GPU count.
    Best,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SweepFile {
    base: Option<String>,
    fidelity: Option<Fidelity>,
    layout: Option<Layout>,
    axes: Option<toml::Table>,
}

/// A sweep: the base scenario's text and the axes.
#[derive(Debug, Clone)]
pub struct Sweep {
    pub base_path: PathBuf,
    /// The base scenario's TOML, parsed once.
    base: toml::Table,
    pub fidelity: Fidelity,
    pub layout: Layout,
    /// (scenario key, values), in key order.
    pub axes: Vec<(String, Vec<toml::Value>)>,
    /// Each axis value as a `--set` override (`key=value`) and as its row shows it
    /// (strings bare), written once.
    texts: Vec<Vec<(String, String)>>,
    /// The base resolved with each combination of the axes outside `[parallel]` (the
    /// combination's index: those axes in order, the last fastest), filled as points
    /// need them; `None` in a slot: that combination does not resolve on its own, and
    /// its points take the full path. Empty when there are more combinations than
    /// [`SHARED_RESOLUTIONS_MAX`].
    shared: Vec<std::sync::OnceLock<Option<scenario::ResolvedButLayout>>>,
    /// The layout each combination of the `parallel.*` axes gives the base's
    /// `[parallel]` (same indexing, same bound).
    layouts: Vec<std::sync::OnceLock<Result<crate::scenario::ParallelChoice>>>,
}

/// Combinations of non-layout axis values whose resolutions a sweep keeps.
pub const SHARED_RESOLUTIONS_MAX: u64 = 1 << 14;

/// Reads a sweep file and its base scenario. Every axis value is checked by resolving
/// the point that has it when the sweep runs; here only the shape is checked.
pub fn load(path: &Path) -> Result<Sweep> {
    parse(&scenario::read_text(path)?, path)
}

/// [`load`] from text; `path` places the base scenario and names the file in errors.
pub fn parse(text: &str, path: &Path) -> Result<Sweep> {
    let mut file: SweepFile = toml::from_str(text).map_err(|e| Error::Parse { path: path.display().to_string(), message: e.to_string() })?;
    let Some(base) = file.base.take() else {
        return Err(Error::missing("base", "the scenario file the sweep varies, relative to the sweep file"));
    };
    let base_path = path.parent().unwrap_or(Path::new(".")).join(&base);
    let base_text = scenario::read_text(&base_path).map_err(|e| Error::invalid("base", format!("{base:?}"), format!("cannot read it: {e}")))?;
    parse_with_base(file, &base_text, base_path)
}

/// [`parse`] with the base scenario's text given (`base_path` names it in errors; the
/// file's own `base` is not read): what `wanka bench` sweeps a built-in example with.
pub fn parse_with_base_text(text: &str, path: &Path, base_text: &str, base_path: PathBuf) -> Result<Sweep> {
    let file: SweepFile = toml::from_str(text).map_err(|e| Error::Parse { path: path.display().to_string(), message: e.to_string() })?;
    parse_with_base(file, base_text, base_path)
}

fn parse_with_base(file: SweepFile, base_text: &str, base_path: PathBuf) -> Result<Sweep> {
    let base_doc = scenario::parse_document(base_text, &base_path)?;
    let Some(axes_table) = file.axes else {
        return Err(Error::missing("axes", "a table of scenario keys and the values each takes, e.g. \"cluster.gpus\" = [8192, 16384]"));
    };
    if axes_table.is_empty() {
        return Err(Error::invalid("axes", "{}", "needs at least one key and its values"));
    }
    let axes = axis_lists(axes_table)?;
    let points = axes.iter().fold(1u64, |n, (_, v)| n.saturating_mul(v.len() as u64));
    if points > MAX_POINTS {
        return Err(Error::invalid("axes", format!("{points} points"), format!("at most {MAX_POINTS} points; split the sweep or drop values")));
    }
    let fidelity = file.fidelity.unwrap_or(Fidelity::Analytic);
    let layout = file.layout.unwrap_or(Layout::File);
    if layout == Layout::Best && fidelity == Fidelity::Event {
        return Err(Error::invalid("layout", "\"best\"", "searches layouts at analytic fidelity: set fidelity = \"analytic\""));
    }
    let (shared, layouts) = (slots(&axes, false), slots(&axes, true));
    let texts = axes
        .iter()
        .map(|(key, values)| {
            values
                .iter()
                .map(|v| {
                    let shown = match v {
                        toml::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (format!("{key}={v}"), shown)
                })
                .collect()
        })
        .collect();
    Ok(Sweep { base_path, base: base_doc, fidelity, layout, axes, texts, shared, layouts })
}

/// An `[axes]` table as (key, values) in key order, each a non-empty list (what sweep
/// and design files share).
pub(crate) fn axis_lists(table: toml::Table) -> Result<Vec<(String, Vec<toml::Value>)>> {
    table
        .into_iter()
        .map(|(key, values)| match values {
            toml::Value::Array(v) if v.is_empty() => Err(Error::invalid(format!("axes.{key}"), "[]", "must list at least one value")),
            toml::Value::Array(v) => Ok((key, v)),
            other => Err(Error::invalid(format!("axes.{key}"), other, "must be a list of the values the key takes")),
        })
        .collect()
}

/// Empty cache slots, one per combination of the layout axes (`layout`) or of the
/// others; none beyond [`SHARED_RESOLUTIONS_MAX`] combinations.
fn slots<T>(axes: &[(String, Vec<toml::Value>)], layout: bool) -> Vec<std::sync::OnceLock<T>> {
    let combinations: u64 = axes.iter().filter(|(k, _)| scenario::is_layout_override(k) == layout).map(|(_, v)| v.len() as u64).product();
    if combinations <= SHARED_RESOLUTIONS_MAX { (0..combinations).map(|_| std::sync::OnceLock::new()).collect() } else { Vec::new() }
}

/// One row of a sweep's output.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row<'a> {
    pub point: u64,
    /// The axes' values at this point (strings bare, other values as TOML writes them).
    pub inputs: Vec<(&'a str, &'a str)>,
    /// Keys changed because an axis did (`key=value`, `;`-separated).
    pub adjusted: String,
    /// The layout the point ran ([`crate::scenario::ParallelConfig::compact`]).
    pub layout: String,
    /// The error that stopped this point ("" when it ran).
    pub error: String,
    pub outputs: Option<Outputs>,
}

/// What a point answers (the headline of `wanka simulate --json`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Outputs {
    pub step_time_s: f64,
    pub tokens_per_s: f64,
    pub tokens_per_s_per_gpu: f64,
    pub mfu: f64,
    pub memory_total_bytes: f64,
    pub memory_fits: bool,
    pub comm_fraction: f64,
    pub compute_s: f64,
    pub bubble_s: f64,
    pub exposed_tp_s: f64,
    pub exposed_cp_s: f64,
    pub exposed_ep_s: f64,
    pub exposed_pp_s: f64,
    pub exposed_dp_s: f64,
}

/// The output columns after `point` and the axes, in order.
pub const OUTPUT_COLUMNS: [&str; 14] = [
    "step_time_s",
    "tokens_per_s",
    "tokens_per_s_per_gpu",
    "mfu",
    "memory_total_bytes",
    "memory_fits",
    "comm_fraction",
    "compute_s",
    "bubble_s",
    "exposed_tp_s",
    "exposed_cp_s",
    "exposed_ep_s",
    "exposed_pp_s",
    "exposed_dp_s",
];

/// One output's value in a row.
#[derive(Debug, Clone, Copy, PartialEq)]
enum OutputValue {
    Number(f64),
    Flag(bool),
}

impl Outputs {
    /// The values in [`OUTPUT_COLUMNS`] order (a test holds it to the serialised names).
    fn values(&self) -> [OutputValue; 14] {
        use OutputValue::{Flag, Number};
        [
            Number(self.step_time_s),
            Number(self.tokens_per_s),
            Number(self.tokens_per_s_per_gpu),
            Number(self.mfu),
            Number(self.memory_total_bytes),
            Flag(self.memory_fits),
            Number(self.comm_fraction),
            Number(self.compute_s),
            Number(self.bubble_s),
            Number(self.exposed_tp_s),
            Number(self.exposed_cp_s),
            Number(self.exposed_ep_s),
            Number(self.exposed_pp_s),
            Number(self.exposed_dp_s),
        ]
    }

    fn of(r: &crate::report::StepReport) -> Outputs {
        let b = &r.breakdown_s;
        Outputs {
            step_time_s: r.step_time_s,
            tokens_per_s: r.tokens_per_s,
            tokens_per_s_per_gpu: r.tokens_per_s_per_gpu,
            mfu: r.mfu,
            memory_total_bytes: r.memory.total_bytes,
            memory_fits: r.memory.fits,
            comm_fraction: r.comm_fraction,
            compute_s: b.compute,
            bubble_s: b.bubble,
            exposed_tp_s: b.exposed_comm.tp,
            exposed_cp_s: b.exposed_comm.cp,
            exposed_ep_s: b.exposed_comm.ep,
            exposed_pp_s: b.exposed_comm.pp,
            exposed_dp_s: b.exposed_comm.dp,
        }
    }
}

impl Sweep {
    /// Points in the sweep.
    pub fn points(&self) -> u64 {
        self.axes.iter().map(|(_, v)| v.len() as u64).product()
    }

    /// The axes' values at point `i` (the last axis varying fastest).
    pub fn inputs(&self, mut i: u64) -> Vec<(&str, &toml::Value)> {
        let mut out = Vec::with_capacity(self.axes.len());
        for (key, values) in self.axes.iter().rev() {
            let n = values.len() as u64;
            out.push((key.as_str(), &values[(i % n) as usize]));
            i /= n;
        }
        out.reverse();
        out
    }

    /// Point `i`'s index along each axis (the last axis varying fastest).
    fn indices(&self, mut i: u64) -> Vec<usize> {
        let mut indices = vec![0; self.axes.len()];
        for (slot, (_, values)) in indices.iter_mut().zip(&self.axes).rev() {
            let n = values.len() as u64;
            *slot = (i % n) as usize;
            i /= n;
        }
        indices
    }

    /// The combination of one kind of axes (layout or not) at a point (`indices`): its
    /// index, those axes in order, the last fastest.
    fn combination(&self, indices: &[usize], layout: bool) -> usize {
        self.axes.iter().zip(indices).filter(|((k, _), _)| scenario::is_layout_override(k) == layout).fold(0, |c, ((_, values), &i)| c * values.len() + i)
    }

    /// The `--set` overrides of one kind of axes at a point (built only when a cache
    /// slot is filled).
    fn sets_of(&self, indices: &[usize], layout: bool) -> Vec<&String> {
        self.axes.iter().zip(&self.texts).zip(indices).filter(|(((k, _), _), _)| scenario::is_layout_override(k) == layout).map(|((_, texts), &i)| &texts[i].0).collect()
    }

    /// The base resolved with a point's axes outside `[parallel]`, shared by every point
    /// that differs from it only in layout keys; and the layout its layout axes give.
    fn shared_resolution(&self, indices: &[usize]) -> (Option<&scenario::ResolvedButLayout>, Option<&Result<crate::scenario::ParallelChoice>>) {
        let Some(shared) = self.shared.get(self.combination(indices, false)).and_then(|slot| {
            slot.get_or_init(|| {
                let others: Vec<String> = self.sets_of(indices, false).into_iter().cloned().collect();
                scenario::resolve_but_layout(&self.base, &self.base_path, &others).ok()
            })
            .as_ref()
        }) else {
            return (None, None);
        };
        let choice = self.layouts.get(self.combination(indices, true)).map(|slot| slot.get_or_init(|| shared.layout_choice(self.sets_of(indices, true))));
        (Some(shared), choice)
    }

    /// Evaluates point `i`: never fails; a point that does not resolve is a row with its
    /// error.
    pub fn row(&self, i: u64) -> Row<'_> {
        let indices = self.indices(i);
        let texts = || self.texts.iter().zip(&indices).map(|(t, &j)| &t[j]);
        let sets = || texts().map(|(set, _)| set.clone()).collect::<Vec<String>>();
        let shown = self.axes.iter().zip(texts()).map(|((k, _), (_, shown))| (k.as_str(), shown.as_str())).collect();
        let mut row = Row { point: i, inputs: shown, adjusted: String::new(), layout: String::new(), error: String::new(), outputs: None };
        if self.layout == Layout::Best {
            let (space, fabric) = scenario::space_for_best_layout(&self.base, &self.base_path, &sets());
            row.adjusted = adjusted(&fabric);
            let best = space.and_then(|sp| crate::scale::best_layout(&sp));
            match best {
                Ok((s, ranked)) => {
                    row.layout = s.parallel.compact();
                    row.outputs = Some(Outputs::of(&ranked.report));
                }
                Err(e) => row.error = e.to_string(),
            }
            return row;
        }
        let (shared, first_layout) = self.shared_resolution(&indices);
        // The first attempt of `parse_adjusting_from`, without its overrides' text.
        let first = match (shared, first_layout) {
            (Some(shared), Some(Ok(choice))) => shared.with_layout(choice.clone()).ok(),
            _ => None,
        };
        let resolved = match first {
            Some(s) => Ok((s, Vec::new())),
            None => scenario::parse_adjusting_from(shared, first_layout, &self.base, &self.base_path, &sets()),
        };
        let (s, adjustments) = match resolved {
            Ok(v) => v,
            Err(e) => {
                row.error = e.to_string();
                return row;
            }
        };
        row.adjusted = adjusted(&adjustments);
        row.layout = s.parallel.compact();
        let report = match self.fidelity {
            Fidelity::Analytic => crate::step::simulate(&s),
            Fidelity::Event => match crate::step::event::simulate_event(&s) {
                Ok(step) => step.report,
                Err(e) => {
                    row.error = e.to_string();
                    return row;
                }
            },
        };
        row.outputs = Some(Outputs::of(&report));
        row
    }
}

/// Adjustments as the `adjusted` column writes them: `key=value;key=value`.
fn adjusted(a: &[Adjustment]) -> String {
    a.iter().map(Adjustment::as_set).collect::<Vec<_>>().join(";")
}

/// Which points a shard `index` of `count` runs: every `count`-th from `index`.
pub fn shard_points(points: u64, index: u64, count: u64) -> impl Iterator<Item = u64> {
    (index..points).step_by(count.max(1) as usize)
}

/// The formats a sweep writes, chosen by the output's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Comma-separated, one header line (`point`, the axes, `adjusted`, `layout`,
    /// `error`, the outputs), then a line per point.
    Csv,
    /// One JSON object per line, its keys in a fixed order.
    JsonLines,
    /// Apache Parquet (arrow-rs), one column per CSV column, typed. Parquet cannot be
    /// appended to: rows collect as JSON Lines in `OUT.rows.jsonl` (resumable as any
    /// JSON Lines output) and become `OUT` when the last point is in.
    Parquet,
}

impl Format {
    pub fn of(path: &Path) -> Result<Format> {
        match path.extension().and_then(|e| e.to_str()) {
            Some("csv") => Ok(Format::Csv),
            Some("jsonl") => Ok(Format::JsonLines),
            Some("parquet") => Ok(Format::Parquet),
            other => Err(Error::invalid("-o", path.display(), format!("unknown extension {other:?}: write .csv, .jsonl or .parquet"))),
        }
    }

    /// The format rows are appended in while a run is under way.
    pub fn lines(self) -> Format {
        match self {
            Format::Parquet => Format::JsonLines,
            f => f,
        }
    }
}

/// Where a run appends its rows: `out` itself, or beside a Parquet `out`.
pub fn rows_path(out: &Path) -> PathBuf {
    match Format::of(out) {
        Ok(Format::Parquet) => {
            let mut name = out.as_os_str().to_owned();
            name.push(".rows.jsonl");
            PathBuf::from(name)
        }
        _ => out.to_path_buf(),
    }
}

/// Points evaluated together and appended to the output in one write.
const CHUNK_POINTS: usize = 1024;

/// What a run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RunSummary {
    /// Points of this shard.
    pub points: u64,
    /// Already in the output from an earlier run, skipped.
    pub resumed: u64,
    /// Evaluated now.
    pub written: u64,
    /// Of all the shard's rows, those whose point did not resolve.
    pub errors: u64,
}

impl Sweep {
    /// The CSV header.
    pub fn csv_header(&self) -> Vec<String> {
        let mut h = vec!["point".to_string()];
        h.extend(self.axes.iter().map(|(k, _)| k.clone()));
        h.push("adjusted".into());
        h.push("layout".into());
        h.push("error".into());
        h.extend(OUTPUT_COLUMNS.iter().map(|c| c.to_string()));
        h
    }

    /// Runs shard `index` of `count` (0 of 1: everything) into `out`, appending to the
    /// rows an earlier run of the same sweep left there: every chunk is appended whole and
    /// synced, and a line cut short by a kill is dropped, so a killed and resumed run
    /// writes the same bytes as one that was not interrupted.
    pub fn run(&self, out: &Path, index: u64, count: u64, progress: &(dyn Fn(u64, u64) + Sync)) -> Result<RunSummary> {
        use std::io::Write;
        let format = Format::of(out)?.lines();
        if let Some(done) = self.finished_parquet(out, index, count)? {
            return Ok(done);
        }
        let (todo, mut summary) = self.prepare(out, index, count)?;
        let rows = rows_path(out);
        let io = |e: std::io::Error| Error::Io { path: rows.display().to_string(), reason: e.to_string() };
        let mut file = std::fs::OpenOptions::new().append(true).open(&rows).map_err(io)?;
        progress(summary.resumed, summary.points);
        for chunk in todo.chunks(CHUNK_POINTS) {
            let (bytes, errors) = self.encode(chunk, format);
            file.write_all(&bytes).map_err(io)?;
            file.sync_data().map_err(io)?;
            summary.written += chunk.len() as u64;
            summary.errors += errors;
            progress(summary.resumed + summary.written, summary.points);
        }
        self.finish(out)?;
        Ok(summary)
    }

    /// A Parquet `out` a run has already finished (no rows file beside it): the summary
    /// of a run with nothing left to do.
    fn finished_parquet(&self, out: &Path, index: u64, count: u64) -> Result<Option<RunSummary>> {
        if Format::of(out)? != Format::Parquet || !out.exists() || rows_path(out).exists() {
            return Ok(None);
        }
        let points = shard_points(self.points(), index, count).count() as u64;
        let io = |e: String| Error::Io { path: out.display().to_string(), reason: e };
        let file = std::fs::File::open(out).map_err(|e| io(e.to_string()))?;
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| io(e.to_string()))?;
        let rows = reader.metadata().file_metadata().num_rows() as u64;
        if rows != points {
            return Err(Error::invalid("-o", out.display(), format!("holds {rows} rows, not this sweep's {points}; remove it or write elsewhere")));
        }
        Ok(Some(RunSummary { points, resumed: points, written: 0, errors: 0 }))
    }

    /// Ends a run: a Parquet output is written from its rows file (to a temporary file,
    /// then renamed) and the rows file removed; other formats are already complete.
    pub fn finish(&self, out: &Path) -> Result<()> {
        if Format::of(out)? != Format::Parquet {
            return Ok(());
        }
        let rows = rows_path(out);
        let text = scenario::read_text_any(&rows)?;
        let bytes = parquet_bytes(&self.csv_header(), &text).map_err(|e| Error::Io { path: out.display().to_string(), reason: e })?;
        let tmp = out.with_extension("parquet.partial");
        let io = |e: std::io::Error| Error::Io { path: out.display().to_string(), reason: e.to_string() };
        std::fs::write(&tmp, bytes).map_err(io)?;
        std::fs::rename(&tmp, out).map_err(io)?;
        std::fs::remove_file(&rows).map_err(io)
    }

    /// Readies `out` for shard `index` of `count`: keeps an earlier run's rows (cutting a
    /// line a kill left unfinished), writes the CSV header into a new file, and returns
    /// the points still to run, in order, with the summary so far. Another executor (Ray
    /// tasks) can then [`Sweep::encode`] chunks of them anywhere and append the bytes in
    /// order: the same file as [`Sweep::run`].
    pub fn prepare(&self, out: &Path, index: u64, count: u64) -> Result<(Vec<u64>, RunSummary)> {
        use std::io::Write;
        let format = Format::of(out)?.lines();
        let out = &rows_path(out);
        if count == 0 || index >= count {
            return Err(Error::invalid("--shard", format!("{index}/{count}"), "must be i/N with 0 <= i < N"));
        }
        let io = |e: std::io::Error| Error::Io { path: out.display().to_string(), reason: e.to_string() };
        let (done, errors_before) = self.resume(out, format)?;
        let todo: Vec<u64> = shard_points(self.points(), index, count).filter(|p| !done.contains(p)).collect();
        let points = shard_points(self.points(), index, count).count() as u64;
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(out).map_err(io)?;
        if done.is_empty() && format == Format::Csv && file.metadata().map_err(io)?.len() == 0 {
            file.write_all(&csv_line(&self.csv_header())).map_err(io)?;
        }
        Ok((todo, RunSummary { points, resumed: done.len() as u64, written: 0, errors: errors_before }))
    }

    /// The output lines of `points` (evaluated in parallel, written in the order given)
    /// and how many of them are errors.
    pub fn encode(&self, points: &[u64], format: Format) -> (Vec<u8>, u64) {
        use rayon::prelude::*;
        // Each worker writes its run of points' lines into one buffer (through one CSV
        // writer); the runs are joined in point order.
        points
            .par_iter()
            .fold(
                || (csv_writer(), Vec::new(), String::new(), 0u64),
                |(mut csv, mut json, mut number, mut errors), &i| {
                    let r = self.row(i);
                    errors += u64::from(!r.error.is_empty());
                    match format {
                        Format::Csv => csv_row(&mut csv, &mut number, &r),
                        Format::JsonLines | Format::Parquet => json.extend(json_line(&r)),
                    }
                    (csv, json, number, errors)
                },
            )
            .map(|(csv, mut json, _, errors)| {
                // Writing to memory cannot fail.
                json.extend(csv.into_inner().unwrap_or_default());
                (json, errors)
            })
            .reduce(
                || (Vec::new(), 0),
                |(mut a, ea), (b, eb)| {
                    a.extend(b);
                    (a, ea + eb)
                },
            )
    }

    /// The points `out` already holds (and how many of them are errors), after cutting a
    /// line a kill left unfinished. An output of another sweep is an error, not appended to.
    fn resume(&self, out: &Path, format: Format) -> Result<(std::collections::BTreeSet<u64>, u64)> {
        let mut done = std::collections::BTreeSet::new();
        let Ok(bytes) = std::fs::read(out) else { return Ok((done, 0)) };
        let io = |e: std::io::Error| Error::Io { path: out.display().to_string(), reason: e.to_string() };
        let complete = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |p| p + 1);
        if complete < bytes.len() {
            let f = std::fs::OpenOptions::new().write(true).open(out).map_err(io)?;
            f.set_len(complete as u64).map_err(io)?;
        }
        let text = String::from_utf8_lossy(&bytes[..complete]);
        let other = |why: &str| Error::invalid("-o", out.display(), format!("holds rows of another sweep ({why}); remove it or write elsewhere"));
        let mut errors = 0;
        let mut lines = text.lines();
        if format == Format::Csv {
            match lines.next() {
                None => return Ok((done, 0)),
                Some(h) if h.as_bytes() == csv_line(&self.csv_header()).trim_ascii_end() => {}
                Some(_) => return Err(other("its header differs")),
            }
            for line in lines {
                let mut reader = csv::ReaderBuilder::new().has_headers(false).from_reader(line.as_bytes());
                let record = reader.records().next().and_then(|r| r.ok()).ok_or_else(|| other("a line is not CSV"))?;
                let point: u64 = record.get(0).and_then(|p| p.parse().ok()).ok_or_else(|| other("a line has no point number"))?;
                errors += u64::from(!record.get(self.axes.len() + 3).unwrap_or("").is_empty());
                done.insert(point);
            }
        } else {
            for line in lines {
                let v: serde_json::Value = serde_json::from_str(line).map_err(|_| other("a line is not JSON"))?;
                let point = v.get("point").and_then(|p| p.as_u64()).ok_or_else(|| other("a line has no point number"))?;
                if self.axes.iter().any(|(k, _)| v.get(k).is_none()) {
                    return Err(other("a line lacks this sweep's axes"));
                }
                errors += u64::from(v.get("error").and_then(|e| e.as_str()).is_some_and(|e| !e.is_empty()));
                done.insert(point);
            }
        }
        Ok((done, errors))
    }
}

/// A row read back from a sweep's output (what a report is drawn from).
#[derive(Debug, Clone, PartialEq)]
pub struct SweptPoint {
    pub point: u64,
    /// The axes' values, as the row shows them, in axis order.
    pub inputs: Vec<String>,
    pub layout: String,
    pub error: String,
    pub step_time_s: Option<f64>,
    pub tokens_per_s_per_gpu: Option<f64>,
    pub mfu: Option<f64>,
}

impl Sweep {
    /// The rows a finished run wrote to `out` (.csv, .jsonl or .parquet), in the file's
    /// order.
    pub fn read_rows(&self, out: &Path) -> Result<Vec<SweptPoint>> {
        let io = |e: String| Error::Io { path: out.display().to_string(), reason: e };
        let number = |t: &str| t.parse::<f64>().ok();
        let mut rows = Vec::new();
        match Format::of(out)? {
            Format::Csv => {
                let mut reader = csv::Reader::from_path(out).map_err(|e| io(e.to_string()))?;
                let header = reader.headers().map_err(|e| io(e.to_string()))?.clone();
                let at = |name: &str| header.iter().position(|h| h == name);
                let (point, layout, error, step, tps, mfu) = (at("point"), at("layout"), at("error"), at("step_time_s"), at("tokens_per_s_per_gpu"), at("mfu"));
                let axes: Vec<Option<usize>> = self.axes.iter().map(|(k, _)| at(k)).collect();
                for record in reader.records() {
                    let r = record.map_err(|e| io(e.to_string()))?;
                    let get = |i: Option<usize>| i.and_then(|i| r.get(i)).unwrap_or("").to_string();
                    rows.push(SweptPoint {
                        point: get(point).parse().unwrap_or(0),
                        inputs: axes.iter().map(|&i| get(i)).collect(),
                        layout: get(layout),
                        error: get(error),
                        step_time_s: number(&get(step)),
                        tokens_per_s_per_gpu: number(&get(tps)),
                        mfu: number(&get(mfu)),
                    });
                }
            }
            Format::JsonLines => {
                for line in scenario::read_text_any(out)?.lines().filter(|l| !l.trim().is_empty()) {
                    let v: serde_json::Value = serde_json::from_str(line).map_err(|e| io(e.to_string()))?;
                    let text = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("").to_string();
                    rows.push(SweptPoint {
                        point: v.get("point").and_then(|p| p.as_u64()).unwrap_or(0),
                        inputs: self.axes.iter().map(|(k, _)| text(k)).collect(),
                        layout: text("layout"),
                        error: text("error"),
                        step_time_s: v.get("step_time_s").and_then(|x| x.as_f64()),
                        tokens_per_s_per_gpu: v.get("tokens_per_s_per_gpu").and_then(|x| x.as_f64()),
                        mfu: v.get("mfu").and_then(|x| x.as_f64()),
                    });
                }
            }
            Format::Parquet => {
                use arrow_array::{Array, Float64Array, StringArray, UInt64Array};
                let file = std::fs::File::open(out).map_err(|e| io(e.to_string()))?;
                let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).and_then(|b| b.build()).map_err(|e| io(e.to_string()))?;
                for batch in reader {
                    let batch = batch.map_err(|e| io(e.to_string()))?;
                    let strings = |name: &str| batch.column_by_name(name).and_then(|c| c.as_any().downcast_ref::<StringArray>().cloned());
                    let floats = |name: &str| batch.column_by_name(name).and_then(|c| c.as_any().downcast_ref::<Float64Array>().cloned());
                    let points = batch.column_by_name("point").and_then(|c| c.as_any().downcast_ref::<UInt64Array>().cloned());
                    let axes: Vec<Option<StringArray>> = self.axes.iter().map(|(k, _)| strings(k)).collect();
                    let (layout, error) = (strings("layout"), strings("error"));
                    let (step, tps, mfu) = (floats("step_time_s"), floats("tokens_per_s_per_gpu"), floats("mfu"));
                    let text = |a: &Option<StringArray>, i: usize| a.as_ref().map_or(String::new(), |a| a.value(i).to_string());
                    let value = |a: &Option<Float64Array>, i: usize| a.as_ref().filter(|a| a.is_valid(i)).map(|a| a.value(i));
                    for i in 0..batch.num_rows() {
                        rows.push(SweptPoint {
                            point: points.as_ref().map_or(0, |p| p.value(i)),
                            inputs: axes.iter().map(|a| text(a, i)).collect(),
                            layout: text(&layout, i),
                            error: text(&error, i),
                            step_time_s: value(&step, i),
                            tokens_per_s_per_gpu: value(&tps, i),
                            mfu: value(&mfu, i),
                        });
                    }
                }
            }
        }
        Ok(rows)
    }
}

/// Joins shard outputs of one sweep into `out`, rows in point order: the bytes one
/// unsharded run writes. Written to a temporary file and renamed, so `out` is whole or
/// absent. Returns the rows written.
pub fn merge(out: &Path, shards: &[PathBuf]) -> Result<u64> {
    let format = Format::of(out)?;
    if format == Format::Parquet {
        return Err(Error::invalid("merge", out.display(), "joins .csv or .jsonl shards; write shards as .jsonl and merge into .jsonl"));
    }
    if shards.is_empty() {
        return Err(Error::invalid("merge", "no shards", "name the shard files to join"));
    }
    let mut header: Option<String> = None;
    let mut rows: std::collections::BTreeMap<u64, String> = std::collections::BTreeMap::new();
    for shard in shards {
        if Format::of(shard)? != format {
            return Err(Error::invalid("merge", shard.display(), format!("is not the same format as {}", out.display())));
        }
        let text = scenario::read_text_any(shard)?;
        let bad = |why: &str| Error::invalid("merge", shard.display(), why.to_string());
        let mut lines = text.lines();
        if format == Format::Csv {
            let h = lines.next().ok_or_else(|| bad("is empty"))?.to_string();
            match &header {
                None => header = Some(h),
                Some(first) if *first == h => {}
                Some(_) => return Err(bad("has another sweep's header")),
            }
        }
        for line in lines {
            let point = match format {
                Format::Csv => line.split(',').next().and_then(|p| p.parse::<u64>().ok()),
                Format::JsonLines | Format::Parquet => serde_json::from_str::<serde_json::Value>(line).ok().and_then(|v| v.get("point").and_then(|p| p.as_u64())),
            }
            .ok_or_else(|| bad("has a line without a point number"))?;
            match rows.get(&point) {
                Some(existing) if existing != line => return Err(bad(&format!("disagrees with another shard on point {point}"))),
                _ => {
                    rows.insert(point, line.to_string());
                }
            }
        }
    }
    let mut text = String::new();
    if let Some(h) = header {
        text.push_str(&h);
        text.push('\n');
    }
    for line in rows.values() {
        text.push_str(line);
        text.push('\n');
    }
    let tmp = out.with_extension(format!("{}.partial", out.extension().and_then(|e| e.to_str()).unwrap_or("")));
    let io = |e: std::io::Error| Error::Io { path: out.display().to_string(), reason: e.to_string() };
    std::fs::write(&tmp, text).map_err(io)?;
    std::fs::rename(&tmp, out).map_err(io)?;
    Ok(rows.len() as u64)
}

/// A Parquet file of JSON Lines rows, columns in `header` order: `point` as u64, the
/// outputs as f64 (`memory_fits` as bool), the rest as text; nulls where a point did
/// not run.
fn parquet_bytes(header: &[String], jsonl: &str) -> std::result::Result<Vec<u8>, String> {
    use arrow_array::{ArrayRef, BooleanArray, Float64Array, RecordBatch, StringArray, UInt64Array};
    use arrow_schema::{DataType, Field, Schema};
    use std::sync::Arc;
    let rows: Vec<serde_json::Value> = jsonl.lines().map(serde_json::from_str).collect::<std::result::Result<_, _>>().map_err(|e| e.to_string())?;
    let mut fields = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::new();
    for name in header {
        let values = rows.iter().map(|r| r.get(name.as_str()));
        let (kind, column): (DataType, ArrayRef) = if name == "point" {
            (DataType::UInt64, Arc::new(UInt64Array::from(values.map(|v| v.and_then(|v| v.as_u64()).unwrap_or(0)).collect::<Vec<_>>())))
        } else if name == "memory_fits" {
            (DataType::Boolean, Arc::new(BooleanArray::from(values.map(|v| v.and_then(|v| v.as_bool())).collect::<Vec<_>>())))
        } else if OUTPUT_COLUMNS.contains(&name.as_str()) {
            (DataType::Float64, Arc::new(Float64Array::from(values.map(|v| v.and_then(|v| v.as_f64())).collect::<Vec<_>>())))
        } else {
            (DataType::Utf8, Arc::new(StringArray::from(values.map(|v| v.and_then(|v| v.as_str()).unwrap_or("").to_string()).collect::<Vec<_>>())))
        };
        fields.push(Field::new(name, kind, name != "point"));
        columns.push(column);
    }
    let schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(schema.clone(), columns).map_err(|e| e.to_string())?;
    let mut bytes = Vec::new();
    let mut writer = parquet::arrow::ArrowWriter::try_new(&mut bytes, schema, None).map_err(|e| e.to_string())?;
    writer.write(&batch).map_err(|e| e.to_string())?;
    writer.close().map_err(|e| e.to_string())?;
    Ok(bytes)
}

/// A CSV writer into memory: fields quoted where needed, lines ending in a newline.
fn csv_writer() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new().terminator(csv::Terminator::Any(b'\n')).from_writer(Vec::new())
}

/// One CSV line (quoted where needed), ending in a newline.
fn csv_line(fields: &[String]) -> Vec<u8> {
    let mut w = csv_writer();
    // Writing to memory cannot fail.
    let _ = w.write_record(fields);
    w.into_inner().unwrap_or_default()
}

/// A row as one CSV line written through `w` (`number`: a scratch buffer): the point,
/// the axes' values, the adjustments, the layout, the error and the outputs, which a
/// point that did not run leaves empty. Numbers as Rust writes an f64 (the shortest
/// text that reads back to the same value); a non-finite one (JSON's null) empty.
fn csv_row(w: &mut csv::Writer<Vec<u8>>, number: &mut String, r: &Row) {
    use std::fmt::Write as _;
    // Writing to memory cannot fail.
    let field = |w: &mut csv::Writer<Vec<u8>>, text: &str| {
        let _ = w.write_field(text);
    };
    number.clear();
    let _ = write!(number, "{}", r.point);
    field(w, number);
    for (_, v) in &r.inputs {
        field(w, v);
    }
    field(w, &r.adjusted);
    field(w, &r.layout);
    field(w, &r.error.replace('\n', " "));
    match r.outputs {
        Some(o) => {
            for v in o.values() {
                number.clear();
                match v {
                    OutputValue::Number(x) if x.is_finite() => {
                        let _ = write!(number, "{x}");
                    }
                    OutputValue::Number(_) => {}
                    OutputValue::Flag(b) => {
                        let _ = write!(number, "{b}");
                    }
                }
                field(w, number);
            }
        }
        None => {
            for _ in OUTPUT_COLUMNS {
                field(w, "");
            }
        }
    }
    let _ = w.write_record(None::<&[u8]>);
}

/// A row as one JSON line: the point, each axis key with its TOML value as text, the
/// adjustments, the error and the outputs (null when the point did not run).
fn json_line(r: &Row) -> Vec<u8> {
    let mut m = serde_json::Map::new();
    m.insert("point".into(), r.point.into());
    for (k, v) in &r.inputs {
        m.insert(k.to_string(), (*v).into());
    }
    m.insert("adjusted".into(), r.adjusted.clone().into());
    m.insert("layout".into(), r.layout.clone().into());
    m.insert("error".into(), r.error.clone().into());
    let values = r.outputs.map(|o| o.values());
    for (j, c) in OUTPUT_COLUMNS.iter().enumerate() {
        let value = match values.map(|v| v[j]) {
            Some(OutputValue::Number(x)) => serde_json::Number::from_f64(x).map_or(serde_json::Value::Null, serde_json::Value::Number),
            Some(OutputValue::Flag(b)) => serde_json::Value::Bool(b),
            None => serde_json::Value::Null,
        };
        m.insert((*c).into(), value);
    }
    let mut line = serde_json::to_vec(&m).unwrap_or_default();
    line.push(b'\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sweep(axes: &str) -> Sweep {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/sweeps");
        parse(&format!("base = \"../llama3-405b-16k.toml\"\n[axes]\n{axes}"), &dir.join("t.toml")).unwrap()
    }

    #[test]
    fn outputs_values_follow_the_column_names() {
        let o = Outputs {
            step_time_s: 1.0,
            tokens_per_s: 2.0,
            tokens_per_s_per_gpu: 3.0,
            mfu: 4.0,
            memory_total_bytes: 5.0,
            memory_fits: true,
            comm_fraction: 6.0,
            compute_s: 7.0,
            bubble_s: 8.0,
            exposed_tp_s: 9.0,
            exposed_cp_s: 10.0,
            exposed_ep_s: 11.0,
            exposed_pp_s: 12.0,
            exposed_dp_s: 13.0,
        };
        let json = serde_json::to_value(o).unwrap();
        let fields: Vec<&String> = json.as_object().unwrap().keys().collect();
        assert_eq!(fields.len(), OUTPUT_COLUMNS.len());
        for (c, v) in OUTPUT_COLUMNS.iter().zip(o.values()) {
            let expected = match v {
                OutputValue::Number(x) => serde_json::json!(x),
                OutputValue::Flag(b) => serde_json::json!(b),
            };
            assert_eq!(json[*c], expected, "{c}");
        }
    }

    /// Points that share their non-layout axes share one resolution, and a layout one
    /// per layout combination: the rows are those of resolving every point on its own,
    /// adjustments and errors included.
    #[test]
    fn shared_resolutions_give_the_rows_of_full_ones() {
        let axes = "\"cluster.gpus\" = [8192, 16384]\n\"cluster.oversubscription\" = [1, 4]\n\"parallel.tp\" = [8, 16]\n\
                    \"parallel.pp\" = [16, 3]\n\"parallel.micro_batch\" = [1, 2]\n\"parallel.schedule\" = [\"interleaved\", \"bogus\"]\n\
                    \"training.precision\" = [\"bf16\", \"fp8\"]\n";
        let shared = sweep(axes);
        let mut alone = shared.clone();
        alone.shared.clear();
        alone.layouts.clear();
        let (mut errors, mut adjusted) = (0, 0);
        for i in 0..shared.points() {
            let (a, b) = (shared.row(i), alone.row(i));
            errors += usize::from(!a.error.is_empty());
            adjusted += usize::from(!a.adjusted.is_empty());
            assert_eq!(a, b, "point {i}");
        }
        // Both kinds of point are exercised.
        assert!(errors > 0 && adjusted > 0 && errors < shared.points() as usize, "{errors} {adjusted}");
    }

    /// An override's value reads as TOML reads it.
    #[test]
    fn override_values_read_as_toml_does() {
        for raw in ["8", "-3", "0", "-0", "08", "+5", "1_000", "99999999999999999999", "true", "false", "\"none\"", "\"a\\\"b\"", "1.5", "1e12", "[1, 2]", "h200", "\"\""] {
            let mut fast = toml::Table::new();
            crate::scenario::apply_override_for_test(&mut fast, &format!("parallel.x={raw}"));
            let toml = toml::from_str::<toml::Table>(&format!("v = {raw}")).ok().and_then(|mut t| t.remove("v")).unwrap_or_else(|| toml::Value::String(raw.to_string()));
            assert_eq!(fast["parallel"]["x"], toml, "{raw}");
        }
    }

    #[test]
    fn points_enumerate_axes_last_fastest() {
        let s = sweep("\"cluster.gpus\" = [8192, 16384]\n\"cluster.oversubscription\" = [1, 4, 7]\n");
        assert_eq!(s.points(), 6);
        // Keys in order: cluster.gpus, then cluster.oversubscription (fastest).
        let shown = |i: u64| s.inputs(i).iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>();
        assert_eq!(shown(0), vec!["cluster.gpus=8192", "cluster.oversubscription=1"]);
        assert_eq!(shown(4), vec!["cluster.gpus=16384", "cluster.oversubscription=4"]);
    }

    /// A point at another GPU count resolves by adjusting dp and the batch, and says so;
    /// a bad value is that point's error, not the sweep's.
    #[test]
    fn points_adjust_or_carry_their_error() {
        let s = sweep("\"cluster.gpus\" = [8192, 16384, 12]\n");
        let r = s.row(0);
        assert!(r.error.is_empty(), "{}", r.error);
        assert!(r.adjusted.contains("parallel.dp=64"), "{}", r.adjusted);
        assert!(r.outputs.unwrap().step_time_s > 0.0);
        let same = s.row(1);
        assert!(same.adjusted.is_empty());
        assert_eq!(same.outputs.unwrap().step_time_s, crate::step::simulate(&scenario::load(&s.base_path, &[]).unwrap()).step_time_s);
        let bad = s.row(2);
        assert!(bad.error.contains("cluster.gpus"), "{}", bad.error);
        assert!(bad.outputs.is_none());
    }

    #[test]
    fn malformed_sweeps_name_the_key() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/sweeps");
        let bad = |text: &str| parse(text, &dir.join("t.toml")).unwrap_err().to_string();
        assert!(bad("[axes]\n\"cluster.gpus\" = [8]\n").contains("base"));
        assert!(bad("base = \"../llama3-405b-16k.toml\"\n").contains("axes"));
        assert!(bad("base = \"../llama3-405b-16k.toml\"\n[axes]\n\"cluster.gpus\" = 8\n").contains("axes.cluster.gpus"));
        assert!(bad("base = \"../llama3-405b-16k.toml\"\n[axes]\n\"cluster.gpus\" = []\n").contains("axes.cluster.gpus"));
        assert!(bad("base = \"nope.toml\"\n[axes]\n\"cluster.gpus\" = [8]\n").contains("base"));
        assert!(bad("base = \"../llama3-405b-16k.toml\"\nfidelity = \"exact\"\n[axes]\n\"cluster.gpus\" = [8]\n").contains("fidelity"));
        let many: Vec<String> = (0..5).map(|k| format!("\"k{k}\" = [{}]", (0..1000).map(|v| v.to_string()).collect::<Vec<_>>().join(","))).collect();
        assert!(bad(&format!("base = \"../llama3-405b-16k.toml\"\n[axes]\n{}\n", many.join("\n"))).contains("points"));
    }

    /// With `layout = "best"` each point runs the layout search finds there: at 8,192
    /// GPUs a layout that fits, where the file's (written for 16,384) does not.
    #[test]
    fn best_layout_per_point() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/sweeps");
        let text = "base = \"../llama3-405b-16k.toml\"\nlayout = \"best\"\n[axes]\n\"cluster.gpus\" = [8192]\n";
        let (best_sweep, file_sweep) = (parse(text, &dir.join("t.toml")).unwrap(), sweep("\"cluster.gpus\" = [8192]\n"));
        let (best, file) = (best_sweep.row(0), file_sweep.row(0));
        assert!(best.error.is_empty(), "{}", best.error);
        assert!(best.outputs.unwrap().memory_fits && !file.outputs.unwrap().memory_fits);
        assert!(best.outputs.unwrap().tokens_per_s_per_gpu > 0.0 && best.layout.starts_with("tp"));
        let event = "base = \"../llama3-405b-16k.toml\"\nlayout = \"best\"\nfidelity = \"event\"\n[axes]\n\"seed\" = [1]\n";
        assert!(parse(event, &dir.join("t.toml")).unwrap_err().to_string().contains("layout"));
    }

    #[test]
    fn shards_partition_the_points() {
        let mut all: Vec<u64> = (0..3).flat_map(|i| shard_points(10, i, 3)).collect();
        all.sort();
        assert_eq!(all, (0..10).collect::<Vec<_>>());
    }
}
