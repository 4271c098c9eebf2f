//! `--set` overrides, and the keys a scenario must change because one did: the
//! data-parallel size after the GPU count, the global batch after dp, the switch tiers
//! after the fabric's size. One resolution per attempt, the adjustments found one at a
//! time and said together; a sweep resolves what its points share once
//! ([`ResolvedButLayout`]).

use super::{parse_space_doc, ParallelChoice, ParallelSpace, Scenario, ScenarioSpace};
use crate::error::{Error, Result};
use serde::Serialize;
use std::path::Path;

/// Keys a scenario may need to change together when one changes (the layout written for
/// another cluster size, say): at most this many are gathered into one error.
const MAX_FIXES: usize = 8;

/// A key a scenario had to change because another one did (the data-parallel size after
/// the GPU count, say), the value that works, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Adjustment {
    pub key: String,
    pub value: String,
    pub why: String,
}

impl Adjustment {
    /// As a `--set` override: `key=value`.
    pub fn as_set(&self) -> String {
        format!("{}={}", self.key, self.value)
    }
}

/// After a failed resolution: every key whose valid value follows from the rest (dp from
/// the GPU count, the global batch from dp and the schedule, the switch tiers or radix
/// from the GPU count), found one at a time, and the resolution with all of them. Keys
/// the user set on the command line stay theirs.
fn gather_adjustments(first: &Error, overrides: &[String], attempt: &impl Fn(&[String]) -> Result<Scenario>) -> (Vec<Adjustment>, Result<Scenario>) {
    let mut fixes: Vec<Adjustment> = Vec::new();
    let mut last = Err(first.clone());
    let mut attempts = 0;
    while let Err(Error::Invalid { key, value, expected, fix: Some((fix_key, fix)) }) = &last {
        let theirs = overrides.iter().any(|o| o.split('=').next().map(str::trim) == Some(fix_key.as_str()));
        attempts += 1;
        if theirs || attempts > MAX_FIXES {
            break;
        }
        let why = format!("{key} = {value}: {expected}");
        // A key fixed once may need a later value as other keys change (the global batch
        // after dp): the later one replaces it.
        let adjustment = Adjustment { key: fix_key.clone(), value: fix.clone(), why };
        match fixes.iter_mut().find(|f| &f.key == fix_key) {
            Some(f) => *f = adjustment,
            None => fixes.push(adjustment),
        }
        let mut all = overrides.to_vec();
        all.extend(fixes.iter().map(Adjustment::as_set));
        last = attempt(&all);
    }
    (fixes, last)
}

/// Resolves a scenario; when it fails on a key whose valid value follows from the rest,
/// works out every such change the scenario needs and says them all in one error, with
/// the `--set` flags that make them.
pub(super) fn resolve_with_fixes(overrides: &[String], attempt: impl Fn(&[String]) -> Result<Scenario>) -> Result<Scenario> {
    let first = match attempt(overrides) {
        Ok(s) => return Ok(s),
        Err(e) => e,
    };
    let (fixes, last) = gather_adjustments(&first, overrides, &attempt);
    Err(explain_adjustments(first, &fixes, last.err()))
}

/// The one error that names every adjustment a scenario needs.
fn explain_adjustments(first: Error, fixes: &[Adjustment], rest: Option<Error>) -> Error {
    if fixes.is_empty() {
        return first;
    }
    let Error::Invalid { key, value, expected, .. } = &first else { return first };
    // The first error says why its own fix is needed; the others say theirs.
    let mut message = expected.clone();
    if fixes.len() > 1 {
        let others: Vec<String> = fixes[1..].iter().map(|f| format!("{} = {} (as {})", f.key, f.value, f.why)).collect();
        message += &format!("; then also {}", others.join("; "));
    }
    let flags: Vec<String> = fixes.iter().map(|f| format!("--set {}", f.as_set())).collect();
    message += &format!("; rerun with {}", flags.join(" "));
    if let Some(rest) = rest {
        message += &format!("; after that, still: {rest}");
    }
    Error::invalid(key.clone(), value.clone(), message)
}

/// [`super::parse`] of a parsed document, making the adjustments a changed key calls for instead of refusing: what a
/// sweep over GPU counts needs (the layout's dp and the global batch follow the count).
/// The adjustments made come back with the scenario.
pub fn parse_adjusting(doc: &toml::Table, path: &Path, overrides: &[String]) -> Result<(Scenario, Vec<Adjustment>)> {
    parse_adjusting_from(None, None, doc, path, overrides)
}

/// The space a best-layout search runs in for `doc` with `overrides`: the fabric keys
/// the overrides call for (tiers, radix after the GPU count) adjusted as `--set` would
/// suggest, every other adjustment left to the search (it picks dp and the batch). The
/// fabric adjustments come back too. What a best-layout sweep point and a design do.
pub fn space_for_best_layout(doc: &toml::Table, path: &Path, overrides: &[String]) -> (Result<ScenarioSpace>, Vec<Adjustment>) {
    let mut sets = overrides.to_vec();
    let mut fabric = Vec::new();
    if let Ok((_, adjustments)) = parse_adjusting(doc, path, overrides) {
        fabric = adjustments.into_iter().filter(|a| a.key.starts_with("cluster.")).collect();
        sets.extend(fabric.iter().map(Adjustment::as_set));
    }
    (parse_space_doc(doc.clone(), path, &sets), fabric)
}

/// A scenario document resolved but for its `[parallel]` table: the sweep points that
/// differ from it only in `parallel.*` keys share it and resolve just their layout,
/// which is most of what resolving a whole document per point costs.
#[derive(Debug, Clone)]
pub struct ResolvedButLayout {
    space: ScenarioSpace,
    /// The document's `[parallel]` table (empty when it has none).
    parallel: toml::Table,
    /// The overrides (none of them `parallel.*`) the document was resolved with.
    others: Vec<String>,
}

/// Resolves `doc` with `others` (overrides outside `[parallel]`) all but its layout.
pub fn resolve_but_layout(doc: &toml::Table, path: &Path, others: &[String]) -> Result<ResolvedButLayout> {
    let parallel = match doc.get("parallel") {
        Some(toml::Value::Table(t)) => t.clone(),
        _ => toml::Table::new(),
    };
    let space = parse_space_doc(doc.clone(), path, others)?;
    Ok(ResolvedButLayout { space, parallel, others: others.to_vec() })
}

/// Whether an override sets a `[parallel]` key.
pub fn is_layout_override(item: &str) -> bool {
    item.trim_start().starts_with("parallel.")
}

impl ResolvedButLayout {
    /// The scenario with this layout.
    pub fn with_layout(&self, choice: ParallelChoice) -> Result<Scenario> {
        self.space.with_parallel(choice)
    }

    /// The layout `[parallel]` takes with `layout` (`parallel.*` overrides) applied:
    /// what [`super::parse_space_doc`] then [`ScenarioSpace::into_single`] would resolve it to.
    pub fn layout_choice<'a>(&self, layout: impl IntoIterator<Item = &'a String>) -> Result<ParallelChoice> {
        let mut wrapper = toml::Table::new();
        wrapper.insert("parallel".into(), toml::Value::Table(self.parallel.clone()));
        for item in layout {
            apply_override(&mut wrapper, item)?;
        }
        let Some(toml::Value::Table(parallel)) = wrapper.remove("parallel") else {
            return Err(Error::invalid("parallel", "not a table", "a [parallel] section"));
        };
        ParallelSpace::single_from_table(parallel)
    }
}

/// [`parse_adjusting`], taking every attempt whose overrides outside `[parallel]` are
/// those `shared` was resolved with from `shared` (the same result, faster): only the
/// layout is resolved again, or not even that for the first attempt when `first_layout`
/// holds [`ResolvedButLayout::layout_choice`] of `overrides`' layout keys.
pub fn parse_adjusting_from(
    shared: Option<&ResolvedButLayout>,
    first_layout: Option<&Result<ParallelChoice>>,
    doc: &toml::Table,
    path: &Path,
    overrides: &[String],
) -> Result<(Scenario, Vec<Adjustment>)> {
    let attempt = |o: &[String]| -> Result<Scenario> {
        if let Some(shared) = shared {
            let others: Vec<&String> = o.iter().filter(|i| !is_layout_override(i)).collect();
            if others.len() == shared.others.len() && others.iter().zip(&shared.others).all(|(a, b)| *a == b) {
                let choice = match first_layout {
                    // Adjustments are appended to the overrides: the same length is the first attempt.
                    Some(first) if o.len() == overrides.len() => first.clone()?,
                    _ => shared.layout_choice(o.iter().filter(|i| is_layout_override(i)))?,
                };
                return shared.space.with_parallel(choice);
            }
        }
        parse_space_doc(doc.clone(), path, o)?.into_single()
    };
    let first = match attempt(overrides) {
        Ok(s) => return Ok((s, Vec::new())),
        Err(e) => e,
    };
    match gather_adjustments(&first, overrides, &attempt) {
        (fixes, Ok(s)) => Ok((s, fixes)),
        (fixes, Err(rest)) => Err(explain_adjustments(first, &fixes, Some(rest))),
    }
}

/// Applies one `section.key=value` override to the document.
pub(super) fn apply_override(doc: &mut toml::Table, item: &str) -> Result<()> {
    let Some((key, raw)) = item.split_once('=') else {
        return Err(Error::invalid("--set", format!("{item:?}"), "expected section.key=value, e.g. parallel.tp=4"));
    };
    let key = key.trim();
    let raw = raw.trim();
    // A value is parsed as TOML (numbers, booleans, lists, quoted strings); anything
    // else is taken as a bare string, so `--set cluster.gpu=h200` works unquoted.
    let value = override_value(raw);
    let parts: Vec<&str> = key.split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(Error::invalid("--set", format!("{item:?}"), "expected section.key=value, e.g. parallel.tp=4"));
    }
    let mut table = doc;
    for part in &parts[..parts.len() - 1] {
        let entry = table.entry(part.to_string()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        table = match entry {
            toml::Value::Table(t) => t,
            _ => return Err(Error::invalid("--set", format!("{item:?}"), format!("{part} is not a section"))),
        };
    }
    table.insert(parts[parts.len() - 1].to_string(), value);
    Ok(())
}

/// [`apply_override`], for tests elsewhere in the crate.
#[cfg(test)]
pub(crate) fn apply_override_for_test(doc: &mut toml::Table, item: &str) {
    apply_override(doc, item).unwrap();
}

/// An override's value as TOML reads it (numbers, booleans, lists, quoted strings), or
/// else the text as a bare string. Plain integers, booleans and quoted strings without
/// escapes, what sweeps set at every point, are read directly: the same values TOML
/// gives, without parsing a document each time.
fn override_value(raw: &str) -> toml::Value {
    let digits = raw.strip_prefix('-').unwrap_or(raw);
    let canonical_integer = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) && (digits == "0" || !digits.starts_with('0'));
    if canonical_integer {
        if let Ok(i) = raw.parse::<i64>() {
            return toml::Value::Integer(i);
        }
    }
    match raw {
        "true" => return toml::Value::Boolean(true),
        "false" => return toml::Value::Boolean(false),
        _ => {}
    }
    if let Some(inner) = raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        if !inner.contains(['"', '\\']) && !inner.chars().any(char::is_control) {
            return toml::Value::String(inner.to_string());
        }
    }
    toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()))
}

