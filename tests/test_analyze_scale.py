"""Scale paths of `perfops analyze` (issue #8): rows filtered at the source, chunked areas, the
capacity pass shared by capacity and cost, `run_services` — each must give exactly the findings
of the plain path."""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from perfops.analysis import capacity, cost, data_quality, experience, trends
from perfops.analysis.capacity.model import load_service_rows
from perfops.analysis.cluster import ParquetLoader, export_partitions, service_chunks
from perfops.analysis.context import AnalysisContext
from perfops.analysis.grid import service_rows
from perfops.store import open_store
from perfops.store.findings_repo import FindingFilter
from perfops.usecases.context import build_context
from perfops.workspace import parse_catalog

CATALOG = """\
domain: Scale
squads: [{name: core}]
services:
  - name: alpha
    squad: core
    tier: 1
    slo: {availability: 99.9, latency_p95_ms: 300}
    capacity: {instances: 4, max_tps_per_instance: 40}
    cost: {instance_hourly: 0.2}
  - name: beta
    squad: core
    tier: 2
    slo: {availability: 99.5}
    capacity: {instances: 2, max_tps_per_instance: 10}
    cost: {instance_hourly: 0.5}
  - name: gamma
    squad: core
    tier: 3
    capacity: {instances: 6}
  - name: delta
    squad: core
    tier: 2
    slo: {availability: 99.0}
  - name: epsilon
    squad: core
    tier: 1
    capacity: {instances: 10, max_tps_per_instance: 100}
    cost: {instance_hourly: 1.0}
"""
NOW = datetime(2026, 10, 22)
DAYS = 21


def _telemetry() -> pd.DataFrame:
    """Every level of row: alpha reports itself and its endpoints, beta only its endpoints, gamma
    only per consumer, delta itself for requests but CPU only per endpoint, epsilon itself with
    its spend (idle, with a day of spend spike); latency steps up at the end, CPU grows, errors
    burst, and gamma stops reporting a day before the end."""
    rng = np.random.default_rng(8)
    times = pd.date_range(NOW - timedelta(days=DAYS), NOW, freq="5min", inclusive="left").to_numpy()
    times = times.astype("datetime64[us]")
    n = len(times)
    day = np.sin(np.arange(n) / 288 * 2 * np.pi)
    parts = []

    def add(service: str, endpoint: str, consumer: str, metric: str, values: np.ndarray, upto: int = n) -> None:
        parts.append(pd.DataFrame({"timestamp": times[:upto], "service": service, "endpoint": endpoint,
                                   "consumer": consumer, "metric": metric, "value": values[:upto]}))

    def signals(scale: float) -> dict[str, np.ndarray]:
        latency = 120 + 10 * day + rng.normal(0, 3, n)
        latency[-300:] += 80
        errors = np.abs(rng.normal(1, 1, n)) * scale
        errors[-500:-460] += 40 * scale
        return {"requests": np.round(scale * (200 + 80 * day + rng.normal(0, 5, n))), "errors": errors,
                "latency_p95_ms": latency, "cpu_pct": 30 + np.arange(n) / n * 35 + rng.normal(0, 2, n)}

    for endpoint in ("", "GET /a", "POST /b"):
        for metric, values in signals(1.0 if endpoint == "" else 0.5).items():
            add("alpha", endpoint, "", metric, values)
    for endpoint in ("GET /x", "GET /y"):
        for metric, values in signals(0.3).items():
            add("beta", endpoint, "", metric, values)
    for consumer in ("acme", "hooli"):
        for metric, values in signals(0.2).items():
            add("gamma", "", consumer, metric, values, upto=n - 288)
    delta = signals(0.8)
    add("delta", "", "", "requests", delta["requests"])
    add("delta", "GET /d", "", "cpu_pct", delta["cpu_pct"])
    add("delta", "GET /d", "", "requests", delta["requests"])
    spend = np.full(n, 10 * 1.0 / 12)
    spend[-3 * 288 : -2 * 288] *= 4
    add("epsilon", "", "", "requests", np.round(50 + 20 * day))
    add("epsilon", "", "", "cpu_pct", 8 + 2 * day + rng.normal(0, 0.5, n))
    add("epsilon", "", "", "instances", np.full(n, 10.0))
    add("epsilon", "", "", "cost", spend)
    return pd.concat(parts, ignore_index=True)


@pytest.fixture(scope="module")
def store():
    store = open_store(None)
    with store.transaction():
        store.telemetry.upsert(_telemetry())
    yield store
    store.close()


def _context(store, **params) -> AnalysisContext:
    ctx = build_context(store, parse_catalog(CATALOG), now=NOW)
    return replace(ctx, params=params) if params else ctx


def _plain(ctx: AnalysisContext, convert=None) -> AnalysisContext:
    """The same context with a loader that cannot filter rows (read whole, filtered in memory)."""
    source = ctx.load_telemetry

    def load(services, metrics, start, end):
        frame = source(services, metrics, start, end)
        return convert(frame) if convert else frame

    return replace(ctx, load_telemetry=load)


def _records(findings) -> list[dict]:
    return [f.to_record() for f in findings]


LEVELS = [{"endpoint": "", "consumers": False}, {"consumers": True}, {"consumers": False},
          {"endpoint": "GET /a"}, {}]


@pytest.mark.parametrize("level", LEVELS)
def test_rows_filtered_at_the_source_equal_rows_filtered_in_memory(store, level, tmp_path):
    ctx = _context(store)
    start, end = NOW - timedelta(days=3), NOW - timedelta(days=1)
    expected = _plain(ctx).telemetry_rows(None, ["requests", "cpu_pct"], start, end, **level)
    assert len(expected), "the level must have rows, or the comparison proves nothing"
    got = ctx.telemetry_rows(None, ["requests", "cpu_pct"], start, end, **level)
    pd.testing.assert_frame_equal(got, expected)
    parquet = export_partitions(ctx, str(tmp_path), service_chunks(ctx, 2))
    assert isinstance(parquet, ParquetLoader) and parquet.filters_rows
    pd.testing.assert_frame_equal(parquet(None, ["requests", "cpu_pct"], start, end, **level), expected)


def test_capacity_reads_whole_service_rows_and_falls_back_per_service_and_metric(store):
    ctx = _context(store)
    names = ["alpha", "beta", "gamma", "delta", "epsilon", "nobody"]
    metrics = ["requests", "cpu_pct", "instances", "cost"]
    expected = service_rows(ctx.telemetry(names, metrics)).reset_index(drop=True)
    got = load_service_rows(ctx, names, metrics)
    pd.testing.assert_frame_equal(got, expected)
    assert set(got["service"]) == {"alpha", "beta", "gamma", "delta", "epsilon"}
    delta_cpu = got[(got["service"] == "delta") & (got["metric"] == "cpu_pct")]
    assert set(delta_cpu["endpoint"]) == {"GET /d"}


def test_capacity_and_cost_read_each_chunk_once(store):
    calls: list[tuple] = []
    ctx = _context(store)
    source = ctx.load_telemetry

    def counting(services, metrics, start, end, **kw):
        calls.append((tuple(services or ()), tuple(metrics or ())))
        return source(services, metrics, start, end, **kw)

    counting.filters_rows = True  # type: ignore[attr-defined]
    ctx = replace(ctx, load_telemetry=counting)
    found = capacity.run(ctx)
    assert found and calls
    before = len(calls)
    cost.run(ctx)
    assert len(calls) == before, "cost must reuse the chunks capacity read"
    fresh = _context(store)
    assert _records(cost.run(fresh)) == _records(cost.run(_plain(_context(store))))


@pytest.mark.parametrize("area", [trends, capacity, cost, experience])
def test_run_is_run_services_over_any_split_then_run_shared(store, area):
    everything = area.run(_context(store))
    assert everything, "the data must give findings, or the comparison proves nothing"
    names = [s.name for s in parse_catalog(CATALOG).services]
    shared = getattr(area, "run_shared", lambda c: [])
    for size in (1, 3):
        ctx = _context(store)
        split = [f for i in range(0, len(names), size) for f in area.run_services(ctx, names[i : i + size])]
        assert _records(split + shared(ctx)) == _records(everything)


@pytest.mark.parametrize("area", [trends, capacity, cost, experience, data_quality])
def test_findings_do_not_depend_on_the_chunk_size_or_on_filtering_at_the_source(store, area, monkeypatch):
    expected = _records(area.run(_plain(_context(store))))
    assert expected, "the data must give findings, or the comparison proves nothing"
    monkeypatch.setattr(data_quality, "CHUNK_SERVICES", 1)
    monkeypatch.setattr(experience, "RUN_CHUNK", 1)
    params = {"trends": {"chunk_services": 1, "workers": 1}, "capacity": {"chunk_size": 1}}
    assert _records(area.run(_context(store, **params))) == expected


def test_data_quality_judges_staleness_against_the_newest_row_of_every_chunk(store, monkeypatch):
    monkeypatch.setattr(data_quality, "CHUNK_SERVICES", 1)
    found = data_quality.run(_context(store))
    stale = [f for f in found if f.key == "stale"]
    assert [f.service for f in stale] == ["gamma"]


@pytest.mark.parametrize("area", [trends, capacity, cost, experience, data_quality])
def test_categorical_frames_give_the_same_findings(store, area):
    """Ready for a store that returns dictionary-encoded (categorical) string columns."""
    def categorical(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.astype(dict.fromkeys(("service", "endpoint", "consumer", "metric"), "category"))

    expected = _records(area.run(_plain(_context(store))))
    assert _records(area.run(_plain(_context(store), categorical))) == expected


def test_partitions_written_a_few_services_at_a_time_read_back_what_the_store_holds(store, tmp_path):
    ctx = _context(store)
    loader = export_partitions(ctx, str(tmp_path), service_chunks(ctx, 3), read_services=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["part-00000.parquet", "part-00001.parquet"]
    start, end = NOW - timedelta(days=DAYS + 1), NOW
    for services in (None, ["alpha", "gamma"], ["beta", "delta", "epsilon"]):
        expected = store.telemetry.load(services=services, start=start, end=end)
        pd.testing.assert_frame_equal(loader(services, None, start, end), expected)


@pytest.mark.parametrize("seed", range(20))
def test_codes_from_runs_equal_pandas_factorize(seed):
    """The run-based coding of sorted string columns (codes.codes_of) is pd.factorize's."""
    from perfops.analysis.codes import codes_of

    rng = np.random.default_rng(seed)
    pool = np.array(["", "a", "b", "GET /x", None, np.nan], dtype=object)
    runs = int(rng.integers(1, 30))
    values = np.repeat(rng.choice(pool, runs), rng.integers(1, 500, runs))
    if seed % 4 == 3:
        values = rng.choice(pool, 5_000)  # no runs: the hashing path
    got_codes, got_names = codes_of(pd.Series(values, dtype=object))
    codes, names = pd.factorize(pd.Series(values, dtype=object))
    np.testing.assert_array_equal(got_codes, codes)
    assert [str(n) for n in got_names] == [str(n) for n in names]


# ---- the areas in worker processes (perfops.analysis.processes) --------------------------------
def _file_workspace(root):
    from perfops.workspace import Workspace

    root.mkdir()
    (root / "perfops.yaml").write_text(CATALOG)
    workspace = Workspace(root)
    with open_store(workspace.store_path) as stored, stored.transaction():
        stored.telemetry.upsert(_telemetry())
    return workspace


def _stored(workspace) -> tuple[list[dict], list[tuple]]:
    with open_store(workspace.store_path, read_only=True) as stored:
        run = stored.analysis_runs.runs()[-1]
        figures = stored.con.execute("SELECT kind, service, payload FROM figures WHERE run_id = ? "
                                     "ORDER BY kind, service, rowid", [run.id]).fetchall()
        return [f.to_record() for f in stored.findings.list(FindingFilter(status="all"))], figures


def test_analyze_in_worker_processes_stores_what_one_process_stores(tmp_path, monkeypatch):
    from perfops.usecases.analyze import analyze

    results = {}
    for workers in ("1", "2"):
        workspace = _file_workspace(tmp_path / f"w{workers}")
        monkeypatch.setenv("PERFOPS_ANALYZE_WORKERS", workers)
        result = analyze(workspace, period="7d", at="2026-10-22T00:00:00Z")
        results[workers] = (_records(result.findings), result.by_area, result.notes, _stored(workspace))
    one, two = results["1"], results["2"]
    assert one[0] and one[3][1], "the data must give findings and figures, or the comparison proves nothing"
    assert two == one


def test_worker_processes_return_the_findings_notes_and_capacity_models_of_one_process(tmp_path):
    from perfops.analysis.figures import compute_figures, prepare_figures
    from perfops.analysis.notes import note, notes_of
    from perfops.analysis.processes import run_in_processes
    from perfops.analysis.registry import analyses
    from perfops.analysis.rootcause import link_causes
    from perfops.analysis.tasks import remote_context
    from perfops.usecases.analyze import _dedupe, run_all
    from perfops.usecases.context import ReadOnlyStoreLoader

    workspace = _file_workspace(tmp_path / "w")
    params = {"capacity": {"chunk_size": 2}, "trends": {"chunk_services": 1}}  # three chunks, two workers
    with open_store(workspace.store_path) as stored:
        local = replace(build_context(stored, parse_catalog(CATALOG), now=NOW), params=params)
        note(local, "a note from before the areas")  # kept first, as in one process
        expected, _ = run_all(local)
        remote = remote_context(local, ReadOnlyStoreLoader(workspace.store_path))
    by_area, memo = run_in_processes(remote, analyses(), workers=2, prepare=prepare_figures)
    assert list(by_area) == list(analyses())
    got = link_causes(_dedupe([f for found in by_area.values() for f in found]), local.catalog)
    assert _records(got) == _records(expected) and expected
    passes = {k for k in local.memo if isinstance(k, tuple) and k[0] == "capacity-pass"}
    details = {k for k in memo if isinstance(k, tuple) and k[0] == "experience-detail"}
    assert len(passes) == 3 and {k for k in memo if k != "notes"} == passes | details
    assert sorted(n for k in details for n in k[1]) == sorted(s.name for s in local.catalog.services)
    # the figures drawn from the workers' tables equal those computed here
    with open_store(workspace.store_path) as stored:
        here = replace(build_context(stored, parse_catalog(CATALOG), now=NOW), params=params)
        prepared = replace(here)
        prepared.memo.update(memo)
        assert compute_figures(prepared, expected) == compute_figures(here, expected)
    assert list(memo.get("notes", {})) == [n for n in notes_of(local) if n != "a note from before the areas"]


@pytest.mark.parametrize(("text", "services", "expected"), [("", 10, 1), ("", 5_000, 2), ("3", 10, 3), ("1", 5_000, 1)])
def test_worker_count_from_the_domain_size_or_the_environment(monkeypatch, text, services, expected):
    from perfops.analysis.processes import worker_count

    monkeypatch.setenv("PERFOPS_ANALYZE_WORKERS", text)
    assert worker_count(services, cpus=2) == expected


@pytest.mark.parametrize("text", ["0", "two", "-1", "1.5"])
def test_a_worker_count_that_is_not_a_whole_number_is_refused_by_name(monkeypatch, text):
    from perfops.analysis.processes import worker_count
    from perfops.errors import PerfopsError

    monkeypatch.setenv("PERFOPS_ANALYZE_WORKERS", text)
    with pytest.raises(PerfopsError, match="PERFOPS_ANALYZE_WORKERS"):
        worker_count(100, cpus=2)


def test_a_script_without_a_main_guard_analyses_in_processes_and_runs_once(tmp_path):
    """Spawned workers must not run the caller's script again (it would ingest or analyse twice)."""
    import subprocess
    import sys

    workspace = _file_workspace(tmp_path / "w")
    script = tmp_path / "weekly.py"
    script.write_text(
        "from pathlib import Path\n"
        "from perfops.usecases.analyze import analyze\n"
        "from perfops.workspace import Workspace\n"
        f"Path({str(tmp_path / 'ran')!r}).open('a').write('x')\n"
        f"result = analyze(Workspace(Path({str(workspace.root)!r})), at='2026-10-22T00:00:00Z')\n"
        "print(len(result.findings), result.notes)\n")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PERFOPS_ANALYZE_WORKERS": "2"})
    assert done.returncode == 0, done.stderr
    count, notes = done.stdout.split(" ", 1)
    assert int(count) > 0 and "processes stopped" not in notes
    assert (tmp_path / "ran").read_text() == "x"


def test_worker_processes_that_die_leave_the_analysis_to_this_process_with_a_note(tmp_path, monkeypatch):
    from concurrent.futures.process import BrokenProcessPool

    import perfops.usecases.analyze as use

    def killed(*_args, **_kw):
        raise BrokenProcessPool("a worker was killed")

    workspace = _file_workspace(tmp_path / "w")
    monkeypatch.setenv("PERFOPS_ANALYZE_WORKERS", "2")
    monkeypatch.setattr(use, "run_in_processes", killed)
    result = use.analyze(workspace, period="7d", at="2026-10-22T00:00:00Z")
    assert result.findings and result.run_id is not None
    assert any("analysed in one process instead" in note for note in result.notes)
