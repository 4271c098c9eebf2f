"""wanka (万卡): simulate and plan LLM training on clusters of 1,000 to 1,000,000 GPUs.

Every function takes a scenario as a path to a TOML file, TOML text, or a dict of the
same keys; overrides as ``overrides={"parallel.tp": 4}`` or keyword arguments with
``__`` for the dot (``parallel__tp=4``). Results carry the keys of the command line's
``--json`` documents (docs/SCENARIO.md) as attributes, ``.to_dict()`` for the document
and, where the answer is a table, ``.to_pandas()``. A scenario wanka cannot run raises
:class:`ScenarioError` (a ``ValueError``) naming the key, the value and what would be
valid. The work runs in Rust with the GIL released, so threads can run calls at once.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Union

from . import _wanka
from ._wanka import ScenarioError, __version__

__all__ = [
    "ScenarioError",
    "Result",
    "simulate",
    "search",
    "scale",
    "goodput",
    "collective",
    "bom",
    "design",
    "validate",
    "sweep",
    "sweep_merge",
    "__version__",
]

Scenario = Union[str, "os.PathLike[str]", Mapping[str, Any]]


class Result:
    """A command's answer: its ``--json`` document, keys as attributes."""

    _table_key: Optional[str] = None

    def __init__(self, doc: Dict[str, Any], table_key: Optional[str] = None):
        self._doc = doc
        self._table_key = table_key

    def __getattr__(self, name: str) -> Any:
        doc = self.__dict__.get("_doc", {})
        if name in doc:
            value = doc[name]
            return Result(value) if isinstance(value, dict) else value
        raise AttributeError(f"no key {name!r}; keys: {', '.join(sorted(doc))}")

    def __getitem__(self, key: str) -> Any:
        return self._doc[key]

    def __contains__(self, key: str) -> bool:
        return key in self._doc

    def __dir__(self) -> List[str]:
        return sorted(set(object.__dir__(self)) | set(self._doc))

    def keys(self) -> Iterable[str]:
        return self._doc.keys()

    def to_dict(self) -> Dict[str, Any]:
        """The document, as ``--json`` prints it."""
        return json.loads(json.dumps(self._doc))

    def to_pandas(self):
        """The answer's table as a pandas DataFrame (nested keys flattened with dots):
        search's layouts, scale's GPU counts, collective's sizes, validate's rows."""
        try:
            import pandas
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError("to_pandas needs pandas: pip install pandas") from e
        rows = self._doc.get(self._table_key) if self._table_key else [self._doc]
        return pandas.json_normalize(rows, sep=".")

    def __repr__(self) -> str:
        shown = {k: v for k, v in self._doc.items() if not isinstance(v, (dict, list))}
        return f"wanka.Result({shown})"

    def _repr_html_(self) -> str:
        import html

        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(str(k))}</th><td>{html.escape(_short(v))}</td></tr>"
            for k, v in self._doc.items()
        )
        return f"<table>{rows}</table>"


def _short(v: Any) -> str:
    text = json.dumps(v) if isinstance(v, (dict, list)) else str(v)
    return text if len(text) <= 200 else text[:197] + "..."


def _source(scenario: Scenario) -> "tuple[str, str]":
    if isinstance(scenario, Mapping):
        return "json", json.dumps(scenario)
    if isinstance(scenario, os.PathLike):
        return "path", os.fspath(scenario)
    if isinstance(scenario, str):
        # TOML text has a newline or an `=`; a path has neither.
        if "\n" in scenario or "=" in scenario:
            return "text", scenario
        return "path", scenario
    raise TypeError(f"scenario must be a path, TOML text or a dict, not {type(scenario).__name__}")


def _toml_literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_literal(v) for v in value) + "]"
    raise TypeError(f"override value {value!r}: a number, string, bool or list")


def _overrides(overrides: Optional[Mapping[str, Any]], kwargs: Mapping[str, Any]) -> List[str]:
    items = dict(overrides or {})
    items.update({k.replace("__", "."): v for k, v in kwargs.items()})
    return [f"{k}={_toml_literal(v)}" for k, v in items.items()]


def simulate(scenario: Scenario, fidelity: str = "analytic", overrides: Optional[Mapping[str, Any]] = None, **kwargs: Any) -> Result:
    """One training step: ``step_time_s``, ``tokens_per_s``, ``mfu``, ``memory``,
    ``breakdown_s``... (``wanka simulate --json``). ``fidelity``: "analytic" or "event"."""
    kind, text = _source(scenario)
    return Result(_wanka.simulate(kind, text, _overrides(overrides, kwargs), fidelity))


def search(scenario: Scenario, top: int = 10, robust: bool = False, overrides: Optional[Mapping[str, Any]] = None, **kwargs: Any) -> Result:
    """The best layouts (``wanka search --json``): ``top`` is a list of ranked layouts."""
    kind, text = _source(scenario)
    if top < 1:
        raise ScenarioError(f"top = {top}: must be at least 1")
    return Result(_wanka.search(kind, text, _overrides(overrides, kwargs), top, robust), table_key="top")


def scale(scenario: Scenario, gpus: Sequence[int], overrides: Optional[Mapping[str, Any]] = None, **kwargs: Any) -> Result:
    """Time-to-train, goodput and cost against GPU count (``wanka scale --json``):
    ``points`` per GPU count, ``knee_gpus``."""
    kind, text = _source(scenario)
    counts = [int(g) for g in gpus]
    return Result(_wanka.scale(kind, text, _overrides(overrides, kwargs), counts), table_key="points")


def goodput(scenario: Scenario, overrides: Optional[Mapping[str, Any]] = None, **kwargs: Any) -> Result:
    """Failures, checkpoints and restarts (``wanka goodput --json``)."""
    kind, text = _source(scenario)
    return Result(_wanka.goodput(kind, text, _overrides(overrides, kwargs)))


def collective(
    scenario: Scenario,
    op: str,
    group: Union[str, int] = "dp",
    sizes: Sequence[float] = (1 << 20, 1 << 30),
    routing: Optional[str] = None,
    channels: Optional[int] = None,
    overrides: Optional[Mapping[str, Any]] = None,
    **kwargs: Any,
) -> Result:
    """A collective on every concurrent group as flows (``wanka collective --json``):
    ``rows`` per message size with ``busbw_gb_s``. ``channels``: NCCL rings per group,
    each its own flow; None builds as many as NCCL does."""
    kind, text = _source(scenario)
    doc = _wanka.collective(kind, text, _overrides(overrides, kwargs), op, str(group), [float(s) for s in sizes], routing, None if channels is None else int(channels))
    return Result(doc, table_key="rows")


def bom(scenario: Scenario, overrides: Optional[Mapping[str, Any]] = None, **kwargs: Any) -> Result:
    """The bill of materials of the scenario's cluster (``wanka design bom --json``):
    ``bom.switch_tiers``, ``bom.link_tiers``, ``bom.power``, ``bom.capex``..."""
    kind, text = _source(scenario)
    return Result(_wanka.bom(kind, text, _overrides(overrides, kwargs)))


def design(file: Union[str, "os.PathLike[str]"]) -> Result:
    """A design study (``wanka design FILE --json``): ``designs`` with each one's best
    layout, time-to-train, capex, power and cost per token; ``pareto``, ``verdict``."""
    return Result(_wanka.design(os.fspath(file)), table_key="designs")


def validate(fidelity: str = "analytic", layouts: bool = False) -> Result:
    """Every published measurement wanka carries, predicted beside published
    (``wanka validate --json``; ``layouts=True``: ``--layouts``)."""
    return Result(_wanka.validate(fidelity, layouts), table_key="groups" if layouts else "rows")


def sweep(
    file: Union[str, "os.PathLike[str]"],
    out: Union[str, "os.PathLike[str]"],
    shard: "tuple[int, int]" = (0, 1),
    executor: str = "local",
    chunk_points: int = 1024,
    ray_address: Optional[str] = None,
    progress: Union[None, bool, Callable[[int, int], Any]] = None,
) -> Result:
    """Runs a sweep file into ``out`` (.csv, .jsonl or .parquet), resuming a killed run
    (``wanka sweep``). Returns the run's summary: ``points``, ``written``, ``resumed``,
    ``errors``.

    ``executor="local"`` uses every core of this machine; ``executor="ray"`` sends chunks
    of ``chunk_points`` points to Ray tasks (``ray.init(address=ray_address)`` unless Ray
    is already initialised; the sweep file and its base must be readable at the same
    path on the workers) and appends their rows in point order as they come back: the
    same bytes as the local executor.

    ``progress``: ``True`` shows a bar (tqdm's, in a notebook too, when tqdm is
    installed; else a line on stderr), ``False`` none, ``None`` (the default) a bar when
    stderr is a terminal; or a callable given (points done, points of the shard) after
    each chunk."""
    index, count = shard
    report, close = _progress(progress)
    try:
        if executor == "local":
            return Result(_wanka.sweep(os.fspath(file), os.fspath(out), int(index), int(count), report))
        if executor == "ray":
            return _sweep_ray(os.path.abspath(os.fspath(file)), os.path.abspath(os.fspath(out)), int(index), int(count), int(chunk_points), ray_address, report)
        raise ScenarioError(f'executor = {executor!r}: "local" or "ray"')
    finally:
        close()


def _progress(progress: Union[None, bool, Callable[[int, int], Any]]) -> "tuple[Optional[Callable[[int, int], Any]], Callable[[], None]]":
    """The callback a run reports its progress to, and what ends the display."""
    if callable(progress):
        return progress, lambda: None
    if progress is None:
        progress = sys.stderr.isatty()
    if not progress:
        return None, lambda: None
    try:
        from tqdm.auto import tqdm  # type: ignore[import-not-found]
    except ImportError:
        tqdm = None
    if tqdm is not None:
        bar = tqdm(total=0, unit="points", desc="wanka sweep")

        def report(done: int, total: int) -> None:
            bar.total = total
            bar.n = done
            bar.refresh()

        return report, bar.close
    shown = {"any": False}

    def line(done: int, total: int) -> None:
        shown["any"] = True
        sys.stderr.write(f"\rwanka sweep: {done}/{total} points")
        sys.stderr.flush()

    def end() -> None:
        if shown["any"]:
            sys.stderr.write("\n")

    return line, end


def _encode_chunk(file: str, fmt: str, points: List[int]) -> "tuple[bytes, int]":
    """A Ray task: the output lines of some points."""
    from wanka import _wanka as native

    return native.sweep_encode(file, fmt, points)


def _sweep_ray(
    file: str, out: str, index: int, count: int, chunk_points: int, address: Optional[str], report: Optional[Callable[[int, int], Any]] = None
) -> Result:
    import ray

    if chunk_points < 1:
        raise ScenarioError(f"chunk_points = {chunk_points}: must be at least 1")
    if not ray.is_initialized():
        ray.init(address=address)
    todo, summary = _wanka.sweep_prepare(file, out, index, count)
    fmt = "csv" if out.endswith(".csv") else "jsonl"
    rows = _wanka.sweep_rows_path(out)
    encode = ray.remote(_encode_chunk)
    refs = [encode.remote(file, fmt, todo[k : k + chunk_points]) for k in range(0, len(todo), chunk_points)]
    if report is not None:
        report(summary["resumed"], summary["points"])
    with open(rows, "ab") as f:
        for k, ref in enumerate(refs):
            data, errors = ray.get(ref)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
            summary["written"] += len(todo[k * chunk_points : (k + 1) * chunk_points])
            summary["errors"] += errors
            if report is not None:
                report(summary["resumed"] + summary["written"], summary["points"])
    _wanka.sweep_finish(file, out)
    return Result(summary)


def sweep_merge(out: Union[str, "os.PathLike[str]"], shards: Sequence[Union[str, "os.PathLike[str]"]]) -> int:
    """Joins shard outputs into ``out`` in point order (``wanka sweep merge``)."""
    return _wanka.sweep_merge(os.fspath(out), [os.fspath(s) for s in shards])
