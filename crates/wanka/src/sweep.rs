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
}

/// Reads a sweep file and its base scenario. Every axis value is checked by resolving
/// the point that has it when the sweep runs; here only the shape is checked.
pub fn load(path: &Path) -> Result<Sweep> {
    parse(&scenario::read_text(path)?, path)
}

/// [`load`] from text; `path` places the base scenario and names the file in errors.
pub fn parse(text: &str, path: &Path) -> Result<Sweep> {
    let file: SweepFile = toml::from_str(text).map_err(|e| Error::Parse { path: path.display().to_string(), message: e.to_string() })?;
    let Some(base) = file.base else {
        return Err(Error::missing("base", "the scenario file the sweep varies, relative to the sweep file"));
    };
    let base_path = path.parent().unwrap_or(Path::new(".")).join(&base);
    let base_text = scenario::read_text(&base_path).map_err(|e| Error::invalid("base", format!("{base:?}"), format!("cannot read it: {e}")))?;
    let base_doc = scenario::parse_document(&base_text, &base_path)?;
    let Some(axes_table) = file.axes else {
        return Err(Error::missing("axes", "a table of scenario keys and the values each takes, e.g. \"cluster.gpus\" = [8192, 16384]"));
    };
    if axes_table.is_empty() {
        return Err(Error::invalid("axes", "{}", "needs at least one key and its values"));
    }
    let mut axes = Vec::new();
    let mut points: u64 = 1;
    for (key, values) in axes_table {
        let toml::Value::Array(values) = values else {
            return Err(Error::invalid(format!("axes.{key}"), values, "must be a list of the values the key takes"));
        };
        if values.is_empty() {
            return Err(Error::invalid(format!("axes.{key}"), "[]", "must list at least one value"));
        }
        points = points.saturating_mul(values.len() as u64);
        axes.push((key, values));
    }
    if points > MAX_POINTS {
        return Err(Error::invalid("axes", format!("{points} points"), format!("at most {MAX_POINTS} points; split the sweep or drop values")));
    }
    let fidelity = file.fidelity.unwrap_or(Fidelity::Analytic);
    let layout = file.layout.unwrap_or(Layout::File);
    if layout == Layout::Best && fidelity == Fidelity::Event {
        return Err(Error::invalid("layout", "\"best\"", "searches layouts at analytic fidelity: set fidelity = \"analytic\""));
    }
    Ok(Sweep { base_path, base: base_doc, fidelity, layout, axes })
}

/// One row of a sweep's output.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub point: u64,
    /// The axes' values at this point (strings bare, other values as TOML writes them).
    pub inputs: Vec<(String, String)>,
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

impl Outputs {
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

    /// Evaluates point `i`: never fails; a point that does not resolve is a row with its
    /// error.
    pub fn row(&self, i: u64) -> Row {
        let inputs = self.inputs(i);
        let sets: Vec<String> = inputs.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let shown = inputs
            .iter()
            .map(|(k, v)| {
                let text = match v {
                    toml::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (k.to_string(), text)
            })
            .collect();
        let mut row = Row { point: i, inputs: shown, adjusted: String::new(), layout: String::new(), error: String::new(), outputs: None };
        if self.layout == Layout::Best {
            // The fabric keys a point needs (tiers, radix) adjusted as for the file's
            // layout; the search then picks dp and the batch itself.
            let mut sets = sets;
            if let Ok((_, mut adjustments)) = scenario::parse_adjusting(&self.base, &self.base_path, &sets) {
                adjustments.retain(|a| a.key.starts_with("cluster."));
                row.adjusted = adjusted(&adjustments);
                sets.extend(adjustments.iter().map(Adjustment::as_set));
            }
            let best = scenario::parse_space_doc(self.base.clone(), &self.base_path, &sets).and_then(|sp| crate::scale::best_layout(&sp));
            match best {
                Ok((s, ranked)) => {
                    row.layout = s.parallel.compact();
                    row.outputs = Some(Outputs::of(&ranked.report));
                }
                Err(e) => row.error = e.to_string(),
            }
            return row;
        }
        let (s, adjustments) = match scenario::parse_adjusting(&self.base, &self.base_path, &sets) {
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
        let rows: Vec<Row> = points.par_iter().map(|&i| self.row(i)).collect();
        let mut bytes = Vec::new();
        let mut errors = 0;
        for r in &rows {
            errors += u64::from(!r.error.is_empty());
            bytes.extend(match format {
                Format::Csv => csv_line(&csv_record(r)),
                Format::JsonLines | Format::Parquet => json_line(r),
            });
        }
        (bytes, errors)
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

/// One CSV line (quoted where needed), ending in a newline.
fn csv_line(fields: &[String]) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new().terminator(csv::Terminator::Any(b'\n')).from_writer(Vec::new());
    // Writing to memory cannot fail.
    let _ = w.write_record(fields);
    w.into_inner().unwrap_or_default()
}

/// A row's CSV fields; a point that did not run leaves its outputs empty.
fn csv_record(r: &Row) -> Vec<String> {
    let mut f = vec![r.point.to_string()];
    f.extend(r.inputs.iter().map(|(_, v)| v.clone()));
    f.push(r.adjusted.clone());
    f.push(r.layout.clone());
    f.push(r.error.replace('\n', " "));
    // The outputs as their JSON fields, numbers written as Rust writes an f64 (the
    // shortest text that reads back to the same value).
    let outputs = r.outputs.map(|o| serde_json::to_value(o).unwrap_or_default());
    f.extend(OUTPUT_COLUMNS.iter().map(|c| match outputs.as_ref().and_then(|o| o.get(*c)) {
        Some(serde_json::Value::Number(n)) => n.as_f64().map(|x| format!("{x}")).unwrap_or_default(),
        Some(serde_json::Value::Bool(b)) => b.to_string(),
        _ => String::new(),
    }));
    f
}

/// A row as one JSON line: the point, each axis key with its TOML value as text, the
/// adjustments, the error and the outputs (null when the point did not run).
fn json_line(r: &Row) -> Vec<u8> {
    let mut m = serde_json::Map::new();
    m.insert("point".into(), r.point.into());
    for (k, v) in &r.inputs {
        m.insert(k.clone(), v.clone().into());
    }
    m.insert("adjusted".into(), r.adjusted.clone().into());
    m.insert("layout".into(), r.layout.clone().into());
    m.insert("error".into(), r.error.clone().into());
    let outputs = r.outputs.map(|o| serde_json::to_value(o).unwrap_or_default());
    for c in OUTPUT_COLUMNS {
        m.insert(c.into(), outputs.as_ref().and_then(|o| o.get(c)).cloned().unwrap_or(serde_json::Value::Null));
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
        let best = parse(text, &dir.join("t.toml")).unwrap().row(0);
        let file = sweep("\"cluster.gpus\" = [8192]\n").row(0);
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
