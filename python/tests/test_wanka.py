"""The Python package against the command line it wraps: same numbers, same errors."""

import json
import os
import pathlib
import subprocess
import threading

import pytest

import wanka

REPO = pathlib.Path(__file__).resolve().parents[2]
LLAMA = REPO / "examples" / "llama3-405b-16k.toml"
DEEPSEEK = REPO / "examples" / "deepseek-v3-2048.toml"
SEARCH = REPO / "examples" / "search-llama3-405b-16k.toml"
SWEEP = REPO / "examples" / "sweeps" / "llama3-405b-fabrics.toml"
WANKA = REPO / "target" / "release" / "wanka"


def cli_json(*args):
    """The CLI's --json document, when the binary is built (else the test is skipped)."""
    if not WANKA.exists():
        pytest.skip("target/release/wanka not built")
    out = subprocess.run([str(WANKA), *args, "--json"], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


# --- simulate ---------------------------------------------------------------------


def test_simulate_from_a_path_matches_the_cli():
    r = wanka.simulate(str(LLAMA))
    assert r.step_time_s == cli_json("simulate", str(LLAMA))["step_time_s"]


def test_simulate_accepts_pathlike_text_and_dict_alike():
    by_path = wanka.simulate(LLAMA).step_time_s
    by_text = wanka.simulate(LLAMA.read_text()).step_time_s
    doc = {
        "model": {"preset": "llama3-405b"},
        "cluster": {"gpu": "h100-sxm", "gpus": 16384, "nic_gbps": 400, "fabric": "rail-optimized", "tiers": 3,
                    "switch_radix": 64, "oversubscription": 7.0, "routing": "ecmp", "planes": 1, "pue": 1.2},
    }
    assert by_path == by_text
    assert wanka.simulate(doc).step_time_s > 0


def test_simulate_result_has_every_promised_key():
    r = wanka.simulate(LLAMA)
    for key in ["step_time_s", "tokens_per_step", "tokens_per_s", "tokens_per_s_per_gpu", "model_flops_per_token",
                "model_tflops_per_gpu", "mfu", "hardware_tflops_per_gpu", "hfu", "memory", "breakdown_s", "comm_fraction"]:
        assert key in r, key
    assert r.memory.fits in (True, False)
    assert r.breakdown_s.exposed_comm.dp >= 0


def test_overrides_as_dict_and_keywords_agree():
    a = wanka.simulate(LLAMA, overrides={"parallel.micro_batch": 2, "parallel.global_batch": 4096}).step_time_s
    b = wanka.simulate(LLAMA, parallel__micro_batch=2, parallel__global_batch=4096).step_time_s
    assert a == b
    assert a != wanka.simulate(LLAMA).step_time_s


def test_overrides_take_strings_bools_and_lists():
    r = wanka.simulate(LLAMA, cluster__routing="spray", training__cuda_graphs=True)
    assert r.step_time_s > 0


def test_event_fidelity_matches_the_cli():
    r = wanka.simulate(LLAMA, fidelity="event")
    assert r.fidelity == "event"
    assert r.step_time_s == cli_json("simulate", str(LLAMA), "--fidelity", "event")["step_time_s"]
    assert "streams" in r


def test_to_dict_round_trips_through_json():
    d = wanka.simulate(LLAMA).to_dict()
    assert json.loads(json.dumps(d)) == d
    assert d["step_time_s"] == wanka.simulate(LLAMA).step_time_s


def test_same_input_same_output():
    assert wanka.simulate(LLAMA).to_dict() == wanka.simulate(LLAMA).to_dict()


def test_repr_and_html():
    r = wanka.simulate(LLAMA)
    assert "step_time_s" in repr(r)
    html = r._repr_html_()
    assert html.startswith("<table>") and "step_time_s" in html


def test_unknown_attribute_names_the_keys():
    with pytest.raises(AttributeError, match="step_time_s"):
        wanka.simulate(LLAMA).no_such_key


# --- errors -------------------------------------------------------------------------


def test_bad_value_raises_scenario_error_naming_the_key():
    with pytest.raises(wanka.ScenarioError, match="parallel.zero = 4"):
        wanka.simulate(LLAMA, parallel__zero=4)


def test_scenario_error_is_a_value_error():
    assert issubclass(wanka.ScenarioError, ValueError)
    with pytest.raises(ValueError):
        wanka.simulate(LLAMA, cluster__gpu="h1000")


def test_missing_file_raises():
    with pytest.raises(wanka.ScenarioError, match="no-such-file"):
        wanka.simulate("no-such-file.toml")


def test_bad_toml_text_raises():
    with pytest.raises(wanka.ScenarioError):
        wanka.simulate("[model\npreset = ")


def test_dict_with_none_raises():
    with pytest.raises(wanka.ScenarioError, match="null"):
        wanka.simulate({"model": {"preset": None}})


def test_bad_fidelity_raises():
    with pytest.raises(wanka.ScenarioError, match="fidelity"):
        wanka.simulate(LLAMA, fidelity="exact")


def test_bad_scenario_type_raises_type_error():
    with pytest.raises(TypeError):
        wanka.simulate(42)


def test_bad_override_value_raises_type_error():
    with pytest.raises(TypeError):
        wanka.simulate(LLAMA, parallel__tp=object())


def test_scaling_by_one_key_names_every_change():
    with pytest.raises(wanka.ScenarioError, match="parallel.dp=64"):
        wanka.simulate(LLAMA, cluster__gpus=8192)


# --- search, scale, goodput, collective, validate --------------------------------------


def test_search_ranks_layouts_and_converts_to_pandas():
    r = wanka.search(SEARCH, top=5)
    assert len(r.top) == 5
    assert r.evaluated >= r.feasible > 0
    pandas = pytest.importorskip("pandas")
    df = r.to_pandas()
    assert isinstance(df, pandas.DataFrame) and len(df) == 5


def test_search_top_must_be_positive():
    with pytest.raises(wanka.ScenarioError):
        wanka.search(SEARCH, top=0)


def test_scale_over_gpu_counts():
    r = wanka.scale(LLAMA, gpus=[8192, 16384])
    assert [p["gpus"] for p in r.points] == [8192, 16384]
    pytest.importorskip("pandas")
    assert len(r.to_pandas()) == 2


def test_scale_needs_gpu_counts():
    with pytest.raises(wanka.ScenarioError, match="gpus"):
        wanka.scale(LLAMA, gpus=[])


def test_goodput_matches_the_cli():
    r = wanka.goodput(LLAMA)
    assert r.ettr == cli_json("goodput", str(LLAMA))["ettr"]
    assert 0 < r.ettr <= 1


def test_collective_rows_and_pandas():
    r = wanka.collective(LLAMA, "all_reduce", group="tp", sizes=[1 << 20, 1 << 30])
    assert r.group_size == 8 and len(r.rows) == 2
    assert r.rows[1]["busbw_gb_s"] > r.rows[0]["busbw_gb_s"]
    pytest.importorskip("pandas")
    assert list(r.to_pandas()["bytes"]) == [float(1 << 20), float(1 << 30)]


def test_collective_routing_changes_ecmp_collisions():
    ecmp = wanka.collective(LLAMA, "reduce_scatter", group="dp", sizes=[1 << 30], routing="ecmp").rows[0]["busbw_gb_s"]
    spray = wanka.collective(LLAMA, "reduce_scatter", group="dp", sizes=[1 << 30], routing="spray").rows[0]["busbw_gb_s"]
    assert ecmp < spray


def test_collective_errors():
    for kwargs in [dict(op="gather"), dict(op="all_reduce", group="xp"), dict(op="all_reduce", routing="random"),
                   dict(op="all_reduce", channels=0), dict(op="all_reduce", sizes=[-1.0]),
                   dict(op="all_to_all", group="16384")]:
        with pytest.raises(wanka.ScenarioError):
            wanka.collective(LLAMA, **kwargs)


def test_bom_matches_the_cli():
    got = wanka.bom(LLAMA, overrides={"cluster.gpus": 8192}).to_dict()
    cli = json.loads(subprocess.run([str(WANKA), "design", "bom", str(LLAMA), "--json", "--set", "cluster.gpus=8192"], check=True, capture_output=True).stdout)
    assert got == cli
    assert got["bom"]["gpus"] == 8192 and got["bom"]["capex"]["total_usd"] > 0
    with pytest.raises(wanka.ScenarioError, match="cluster.fabric"):
        wanka.bom(LLAMA, overrides={"cluster.fabric": "single-switch"})


def test_design_study(tmp_path):
    (tmp_path / "base.toml").write_text('[model]\npreset = "llama3-8b"\n[cluster]\ngpu = "h100-sxm"\ngpus = 64\n[parallel]\nglobal_batch = 256\n[training]\ntokens = 1e11\n')
    study = tmp_path / "design.toml"
    study.write_text('base = "base.toml"\nfidelity = "analytic"\n[axes]\n"cluster.gpus" = [64, 128]\n')
    r = wanka.design(study)
    assert len(r.designs) == 2 and r.pareto and r.verdict
    df = r.to_pandas()
    assert "result.usd_per_million_tokens" in df.columns
    study.write_text('base = "nope.toml"\n')
    with pytest.raises(wanka.ScenarioError, match="base"):
        wanka.design(study)


def test_validate_rows_and_mape():
    r = wanka.validate()
    assert r.mape_pct > 0 and len(r.rows) > 30
    pytest.importorskip("pandas")
    assert "error_pct" in r.to_pandas().columns


def test_validate_layouts():
    r = wanka.validate(layouts=True)
    assert len(r.groups) >= 10 and 0 < r.memory_mape_pct < 100


# --- sweeps ------------------------------------------------------------------------------


def test_sweep_writes_resumes_and_merges(tmp_path):
    base = LLAMA.as_posix()
    sweep = tmp_path / "s.toml"
    sweep.write_text(f'base = "{base}"\n[axes]\n"cluster.gpus" = [16384, 32768, 12]\n"cluster.oversubscription" = [1, 7]\n')
    full = tmp_path / "full.csv"
    s = wanka.sweep(sweep, full)
    assert (s.points, s.written, s.errors) == (6, 6, 2)
    data = full.read_bytes()
    cut = tmp_path / "cut.csv"
    cut.write_bytes(data[: len(data) // 2])
    again = wanka.sweep(sweep, cut)
    assert again.resumed + again.written == 6 and cut.read_bytes() == data
    shards = [tmp_path / f"s{i}.csv" for i in range(2)]
    for i, shard in enumerate(shards):
        wanka.sweep(sweep, shard, shard=(i, 2))
    merged = tmp_path / "merged.csv"
    assert wanka.sweep_merge(merged, shards) == 6
    assert merged.read_bytes() == data


def test_sweep_errors(tmp_path):
    with pytest.raises(wanka.ScenarioError, match="base"):
        bad = tmp_path / "bad.toml"
        bad.write_text("[axes]\n\"cluster.gpus\" = [8]\n")
        wanka.sweep(bad, tmp_path / "o.csv")
    with pytest.raises(wanka.ScenarioError):
        wanka.sweep(SWEEP, tmp_path / "o.txt")


def test_ray_sweep_equals_local_byte_for_byte(tmp_path):
    ray = pytest.importorskip("ray")
    sweep = tmp_path / "big.toml"
    seeds = ", ".join(str(s) for s in range(1, 101))
    sweep.write_text(
        f'base = "{LLAMA.as_posix()}"\n[axes]\n"cluster.oversubscription" = [1, 2, 4, 7]\n'
        f'"parallel.micro_batch" = [1, 2, 3, 4, 5]\n"seed" = [{seeds}]\n'
    )
    assert wanka._wanka.sweep_points(str(sweep)) == 2000
    local, remote = tmp_path / "local.csv", tmp_path / "ray.csv"
    wanka.sweep(sweep, local)
    ray.init(num_cpus=2, include_dashboard=False, ignore_reinit_error=True)
    try:
        s = wanka.sweep(sweep, remote, executor="ray", chunk_points=256)
        assert (s.points, s.written) == (2000, 2000)
        assert remote.read_bytes() == local.read_bytes()
        # Killed mid-way, resumed through Ray: still the same bytes.
        data = local.read_bytes()
        cut = tmp_path / "cut.csv"
        cut.write_bytes(data[: len(data) // 3])
        again = wanka.sweep(sweep, cut, executor="ray", chunk_points=300)
        assert again.resumed > 0 and cut.read_bytes() == data
        # Parquet through Ray: the local executor's file.
        pl, pr = tmp_path / "local.parquet", tmp_path / "ray.parquet"
        wanka.sweep(sweep, pl)
        wanka.sweep(sweep, pr, executor="ray", chunk_points=500)
        assert pr.read_bytes() == pl.read_bytes() and pl.read_bytes()[:4] == b"PAR1"
    finally:
        ray.shutdown()


def test_sweep_reports_progress(tmp_path):
    sweep = tmp_path / "s.toml"
    sweep.write_text(f'base = "{LLAMA.as_posix()}"\n[axes]\n"cluster.oversubscription" = [1, 2, 4, 7]\n')
    seen = []
    s = wanka.sweep(sweep, tmp_path / "o.csv", progress=lambda done, total: seen.append((done, total)))
    assert s.points == 4 and seen[0] == (0, 4) and seen[-1] == (4, 4)
    # A callback that raises: the run ends, its rows are kept, then the exception.
    def stop(done, total):
        if done:
            raise KeyboardInterrupt
    out = tmp_path / "stopped.csv"
    with pytest.raises(KeyboardInterrupt):
        wanka.sweep(sweep, out, progress=stop)
    assert out.read_bytes() == (tmp_path / "o.csv").read_bytes()
    # No display when asked for none, or off a terminal by default.
    wanka.sweep(sweep, tmp_path / "quiet.csv", progress=False)


def test_python_m_wanka_sweep(tmp_path):
    import sys

    sweep = tmp_path / "s.toml"
    sweep.write_text(f'base = "{LLAMA.as_posix()}"\n[axes]\n"cluster.oversubscription" = [1, 7]\n')
    out = tmp_path / "o.jsonl"
    done = subprocess.run([sys.executable, "-m", "wanka", "sweep", str(sweep), "-o", str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "2 points" in done.stdout and len(out.read_text().splitlines()) == 2
    bad = subprocess.run([sys.executable, "-m", "wanka", "sweep", str(sweep), "-o", str(tmp_path / "o.txt")], capture_output=True, text=True)
    assert bad.returncode == 2 and "error:" in bad.stderr


def test_cli_sweep_on_ray_equals_local(tmp_path):
    import sys

    pytest.importorskip("ray")
    if not WANKA.exists():
        pytest.skip("target/release/wanka not built")
    sweep = tmp_path / "s.toml"
    sweep.write_text(
        f'base = "{LLAMA.as_posix()}"\n[axes]\n"cluster.oversubscription" = [1, 2, 4, 7]\n"parallel.micro_batch" = [1, 2, 3]\n'
    )
    local, remote = tmp_path / "local.csv", tmp_path / "ray.csv"
    subprocess.run([str(WANKA), "sweep", str(sweep), "-o", str(local)], check=True, capture_output=True)
    env = dict(os.environ, WANKA_PYTHON=sys.executable)
    done = subprocess.run(
        [str(WANKA), "sweep", str(sweep), "-o", str(remote), "--ray", "local", "--chunk-points", "5", "--json"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["summary"]["written"] == 12
    assert remote.read_bytes() == local.read_bytes()
    # Without the package and Ray: exit status 2, saying what to install.
    missing = subprocess.run(
        [str(WANKA), "sweep", str(sweep), "-o", str(tmp_path / "x.csv"), "--ray", "local"],
        capture_output=True,
        text=True,
        env=dict(os.environ, WANKA_PYTHON=str(tmp_path / "no-python")),
    )
    assert missing.returncode == 2 and "pip install" in missing.stderr


def test_unknown_executor_raises(tmp_path):
    with pytest.raises(wanka.ScenarioError, match="executor"):
        wanka.sweep(SWEEP, tmp_path / "o.csv", executor="dask")


# --- the GIL --------------------------------------------------------------------------------


def test_calls_run_in_threads():
    results = []
    threads = [threading.Thread(target=lambda: results.append(wanka.simulate(LLAMA, fidelity="event").step_time_s)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4 and len(set(results)) == 1


def test_version():
    assert isinstance(wanka.__version__, str) and wanka.__version__.count(".") == 2
