//! `wanka._wanka`: the Rust side of the Python package. Each function takes a scenario
//! (a path, TOML text or a JSON object), `--set`-style overrides and the command's
//! options, runs the library with the GIL released, and returns the command's `--json`
//! document as Python objects; `pysrc/wanka/__init__.py` wraps it in result objects.

use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use std::path::{Path, PathBuf};
use wanka::collective::CollectiveOp;
use wanka::error::Error;

create_exception!(_wanka, ScenarioError, PyValueError, "A scenario (or option) wanka cannot run: the message names the key, the value and what would be valid.");

fn scenario_error(e: impl std::fmt::Display) -> PyErr {
    ScenarioError::new_err(e.to_string())
}

/// The scenario's document and the path errors name: `kind` is "path", "text" or "json".
fn document(kind: &str, source: &str) -> Result<(toml::Table, PathBuf), Error> {
    match kind {
        "path" => {
            let path = PathBuf::from(source);
            let text = wanka::scenario::read_text(&path)?;
            Ok((wanka::scenario::parse_document(&text, &path)?, path))
        }
        "text" => {
            let path = PathBuf::from("<string>.toml");
            Ok((wanka::scenario::parse_document(source, &path)?, path))
        }
        "json" => {
            let path = PathBuf::from("<dict>.toml");
            let value: serde_json::Value = serde_json::from_str(source).map_err(|e| Error::Parse { path: "<dict>".into(), message: e.to_string() })?;
            let table = toml::Table::try_from(value).map_err(|e| Error::Parse {
                path: "<dict>".into(),
                message: format!("{e} (TOML has no null: leave the key out instead)"),
            })?;
            Ok((table, path))
        }
        other => Err(Error::invalid("scenario", format!("{other:?}"), "a path, TOML text or a dict")),
    }
}

fn scenario(kind: &str, source: &str, overrides: &[String]) -> Result<wanka::scenario::Scenario, Error> {
    let (doc, path) = document(kind, source)?;
    wanka::scenario::parse_doc(&doc, &path, overrides)
}

fn space(kind: &str, source: &str, overrides: &[String]) -> Result<wanka::scenario::ScenarioSpace, Error> {
    let (doc, path) = document(kind, source)?;
    wanka::scenario::parse_space_doc(doc, &path, overrides)
}

/// A `--json` document as Python objects (dicts, lists, numbers, strings), built
/// directly rather than through JSON text.
fn to_py<'py>(py: Python<'py>, v: &impl serde::Serialize) -> PyResult<Bound<'py, PyAny>> {
    pythonize::pythonize(py, v).map_err(scenario_error)
}

/// `wanka simulate --json` (fidelity "analytic" or "event").
#[pyfunction]
fn simulate<'py>(py: Python<'py>, kind: &str, source: &str, overrides: Vec<String>, fidelity: &str) -> PyResult<Bound<'py, PyAny>> {
    let doc = py.detach(|| -> Result<serde_json::Value, Error> {
        let s = scenario(kind, source, &overrides)?;
        match fidelity {
            "analytic" => Ok(wanka::json::simulate(&s, &wanka::step::simulate(&s))),
            "event" => {
                let step = wanka::step::event::simulate_event(&s)?;
                let mut doc = wanka::json::simulate(&s, &step.report);
                doc["fidelity"] = serde_json::json!("event");
                doc["streams"] = serde_json::to_value(&step.streams).unwrap_or_default();
                Ok(doc)
            }
            other => Err(Error::invalid("fidelity", format!("{other:?}"), "\"analytic\" or \"event\"")),
        }
    });
    to_py(py, &doc.map_err(scenario_error)?)
}

/// `wanka search --json`.
#[pyfunction]
fn search<'py>(py: Python<'py>, kind: &str, source: &str, overrides: Vec<String>, top: usize, robust: bool) -> PyResult<Bound<'py, PyAny>> {
    let doc = py.detach(|| -> Result<serde_json::Value, Error> {
        let sp = space(kind, source, &overrides)?;
        let started = std::time::Instant::now();
        let ranking = if robust { wanka::search::Ranking::Robust } else { wanka::search::Ranking::Predicted };
        let r = wanka::search::search_ranked(&sp, top, &|_, _| {}, ranking)?;
        Ok(wanka::json::search(&r, started.elapsed().as_secs_f64()))
    });
    to_py(py, &doc.map_err(scenario_error)?)
}

/// `wanka scale --json` over the given GPU counts.
#[pyfunction]
fn scale<'py>(py: Python<'py>, kind: &str, source: &str, overrides: Vec<String>, gpus: Vec<u64>) -> PyResult<Bound<'py, PyAny>> {
    let r = py.detach(|| -> Result<wanka::scale::ScaleResult, Error> {
        let sp = space(kind, source, &overrides)?;
        if gpus.is_empty() {
            return Err(Error::invalid("gpus", "[]", "a list of GPU counts"));
        }
        wanka::scale::scale(&sp, &gpus)
    });
    to_py(py, &r.map_err(scenario_error)?)
}

/// `wanka goodput --json`.
#[pyfunction]
fn goodput<'py>(py: Python<'py>, kind: &str, source: &str, overrides: Vec<String>) -> PyResult<Bound<'py, PyAny>> {
    let r = py.detach(|| -> Result<wanka::reliability::GoodputReport, Error> {
        let s = scenario(kind, source, &overrides)?;
        let step = wanka::step::simulate(&s);
        Ok(wanka::reliability::goodput(&s, step.tokens_per_s))
    });
    to_py(py, &r.map_err(scenario_error)?)
}

/// `wanka collective --json`.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn collective<'py>(
    py: Python<'py>,
    kind: &str,
    source: &str,
    overrides: Vec<String>,
    op: &str,
    group: &str,
    sizes: Vec<f64>,
    routing: Option<String>,
    channels: Option<u64>,
) -> PyResult<Bound<'py, PyAny>> {
    let r = py.detach(|| -> Result<wanka::collective::flows::CollectiveReport, Error> {
        let s = scenario(kind, source, &overrides)?;
        let op = match op {
            "all_reduce" => CollectiveOp::AllReduce,
            "all_gather" => CollectiveOp::AllGather,
            "reduce_scatter" => CollectiveOp::ReduceScatter,
            "all_to_all" => CollectiveOp::AllToAll,
            "broadcast" => CollectiveOp::Broadcast,
            other => return Err(Error::invalid("op", format!("{other:?}"), "all_reduce, all_gather, reduce_scatter, all_to_all or broadcast")),
        };
        let routing = match routing.as_deref() {
            None => s.cluster.routing.into(),
            Some("ecmp") => wanka::collective::flows::Routing::Ecmp,
            Some("adaptive") => wanka::collective::flows::Routing::Adaptive,
            Some("spray") => wanka::collective::flows::Routing::Spray,
            Some(other) => return Err(Error::invalid("routing", format!("{other:?}"), "ecmp, adaptive or spray")),
        };
        if let Some(c) = channels.filter(|&c| c == 0 || c > 64) {
            return Err(Error::invalid("channels", c, "must be between 1 and 64 (or None: as many as NCCL builds)"));
        }
        if sizes.is_empty() || sizes.iter().any(|b| !(b.is_finite() && *b > 0.0)) {
            return Err(Error::invalid("sizes", format!("{sizes:?}"), "a list of positive message sizes in bytes"));
        }
        let bad = |m: String| Error::invalid("group", format!("{group:?}"), m);
        let layout = wanka::collective::flows::named_group(&s, group).map_err(bad)?;
        let channels = channels.unwrap_or_else(|| wanka::collective::flows::nccl_channels(&s, &wanka::parallel::fabric(&s.cluster), layout, op));
        wanka::collective::flows::check_phase_size(&s, layout, op, channels).map_err(|m| Error::invalid("op", format!("{op:?}"), m))?;
        Ok(wanka::collective::flows::run(&s, layout, op, routing, channels, &sizes))
    });
    to_py(py, &r.map_err(scenario_error)?)
}

/// `wanka validate --json` (`layouts`: `--layouts`).
#[pyfunction]
fn validate<'py>(py: Python<'py>, fidelity: &str, layouts: bool) -> PyResult<Bound<'py, PyAny>> {
    if layouts {
        let v = py.detach(wanka::validate::layouts::validate_layouts);
        return to_py(py, &v);
    }
    let event = match fidelity {
        "analytic" => false,
        "event" => true,
        other => return Err(scenario_error(Error::invalid("fidelity", format!("{other:?}"), "\"analytic\" or \"event\""))),
    };
    let v = py.detach(|| wanka::validate::validate_with(event));
    to_py(py, &v)
}

/// `wanka sweep FILE -o OUT --shard I/N`: the run's summary. `progress`, when given, is
/// called with (points done, points of the shard) after each chunk; an exception it
/// raises is raised once the run ends (the rows written so far are kept).
#[pyfunction]
#[pyo3(signature = (file, out, shard_index, shard_count, progress=None))]
fn sweep<'py>(py: Python<'py>, file: &str, out: &str, shard_index: u64, shard_count: u64, progress: Option<Py<PyAny>>) -> PyResult<Bound<'py, PyAny>> {
    let raised: std::sync::Mutex<Option<PyErr>> = std::sync::Mutex::new(None);
    let report = |done: u64, total: u64| {
        if let Some(callback) = &progress {
            Python::attach(|py| {
                if let Err(e) = callback.call1(py, (done, total)) {
                    let mut first = raised.lock().unwrap_or_else(|p| p.into_inner());
                    first.get_or_insert(e);
                }
            });
        }
    };
    let r = py.detach(|| -> Result<wanka::sweep::RunSummary, Error> {
        let sweep = wanka::sweep::load(Path::new(file))?;
        sweep.run(Path::new(out), shard_index, shard_count, &report)
    });
    if let Some(e) = raised.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    to_py(py, &r.map_err(scenario_error)?)
}

/// Readies `out` for a sweep run by another executor: (points still to run, the summary
/// so far as JSON). See `Sweep::prepare`.
#[pyfunction]
fn sweep_prepare<'py>(py: Python<'py>, file: &str, out: &str, shard_index: u64, shard_count: u64) -> PyResult<(Vec<u64>, Bound<'py, PyAny>)> {
    let r = py.detach(|| -> Result<(Vec<u64>, wanka::sweep::RunSummary), Error> {
        wanka::sweep::load(Path::new(file))?.prepare(Path::new(out), shard_index, shard_count)
    });
    let (todo, summary) = r.map_err(scenario_error)?;
    Ok((todo, to_py(py, &summary)?))
}

/// The output lines of some points of a sweep ("csv" or "jsonl"), and how many are
/// errors: what a Ray task computes.
#[pyfunction]
fn sweep_encode<'py>(py: Python<'py>, file: &str, format: &str, points: Vec<u64>) -> PyResult<(Bound<'py, PyBytes>, u64)> {
    let format = match format {
        "csv" => wanka::sweep::Format::Csv,
        "jsonl" => wanka::sweep::Format::JsonLines,
        other => return Err(scenario_error(Error::invalid("format", format!("{other:?}"), "\"csv\" or \"jsonl\""))),
    };
    let sweep = wanka::sweep::load(Path::new(file)).map_err(scenario_error)?;
    if let Some(p) = points.iter().find(|p| **p >= sweep.points()) {
        return Err(scenario_error(Error::invalid("points", p, format!("the sweep has {} points", sweep.points()))));
    }
    let (bytes, errors) = py.detach(|| sweep.encode(&points, format));
    Ok((PyBytes::new(py, &bytes), errors))
}

/// Where a run appends its rows (beside a .parquet output, else the output itself).
#[pyfunction]
fn sweep_rows_path(out: &str) -> String {
    wanka::sweep::rows_path(Path::new(out)).display().to_string()
}

/// Ends a run another executor made: writes a .parquet output from its rows.
#[pyfunction]
fn sweep_finish(py: Python<'_>, file: &str, out: &str) -> PyResult<()> {
    py.detach(|| wanka::sweep::load(Path::new(file))?.finish(Path::new(out))).map_err(scenario_error)
}

/// The points of a sweep file (how many rows a run writes).
#[pyfunction]
fn sweep_points(file: &str) -> PyResult<u64> {
    Ok(wanka::sweep::load(Path::new(file)).map_err(scenario_error)?.points())
}

/// `wanka sweep merge -o OUT SHARD...`: rows written.
#[pyfunction]
fn sweep_merge(py: Python<'_>, out: &str, shards: Vec<String>) -> PyResult<u64> {
    let shards: Vec<PathBuf> = shards.into_iter().map(PathBuf::from).collect();
    py.detach(|| wanka::sweep::merge(Path::new(out), &shards)).map_err(scenario_error)
}

/// `wanka design bom --json`: the bill of materials of the scenario's cluster.
#[pyfunction]
fn bom<'py>(py: Python<'py>, kind: &str, source: &str, overrides: Vec<String>) -> PyResult<Bound<'py, PyAny>> {
    let doc = py.detach(|| -> Result<serde_json::Value, Error> {
        let (doc, path) = document(kind, source)?;
        let (name, cluster) = wanka::scenario::parse_cluster_doc(doc, &path, &overrides)?;
        Ok(serde_json::json!({ "name": name, "bom": wanka::design::bom(&cluster)? }))
    });
    to_py(py, &doc.map_err(scenario_error)?)
}

/// `wanka design FILE --json`: a design study.
#[pyfunction]
fn design<'py>(py: Python<'py>, file: &str) -> PyResult<Bound<'py, PyAny>> {
    let r = py.detach(|| wanka::design::study::load(Path::new(file))?.run(&|_, _| {}));
    to_py(py, &r.map_err(scenario_error)?)
}

#[pymodule]
fn _wanka(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("ScenarioError", m.py().get_type::<ScenarioError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(simulate, m)?)?;
    m.add_function(wrap_pyfunction!(search, m)?)?;
    m.add_function(wrap_pyfunction!(scale, m)?)?;
    m.add_function(wrap_pyfunction!(goodput, m)?)?;
    m.add_function(wrap_pyfunction!(collective, m)?)?;
    m.add_function(wrap_pyfunction!(validate, m)?)?;
    m.add_function(wrap_pyfunction!(sweep, m)?)?;
    m.add_function(wrap_pyfunction!(sweep_points, m)?)?;
    m.add_function(wrap_pyfunction!(sweep_prepare, m)?)?;
    m.add_function(wrap_pyfunction!(sweep_encode, m)?)?;
    m.add_function(wrap_pyfunction!(sweep_rows_path, m)?)?;
    m.add_function(wrap_pyfunction!(sweep_finish, m)?)?;
    m.add_function(wrap_pyfunction!(sweep_merge, m)?)?;
    m.add_function(wrap_pyfunction!(bom, m)?)?;
    m.add_function(wrap_pyfunction!(design, m)?)?;
    Ok(())
}
