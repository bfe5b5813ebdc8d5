"""The fast paths of the reports give what the slow ones gave: the integer-code pivot of the
experience telemetry, the per-run experience cache, the direct SVG charts and the split of the
report jobs over workers."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from experience_synthetic import catalog, context, telemetry
from perfops.analysis import experience
from perfops.analysis.experience.series import EXPERIENCE_METRICS, _wide_by_codes, _wide_by_pivot, wide
from perfops.reports import charts
from perfops.usecases.reports import plan_jobs, split_jobs


def _long(rng: np.random.Generator) -> pd.DataFrame:
    stamps = pd.date_range("2026-11-01", periods=6, freq="5min")
    rows = []
    for service in ("b-svc", "a-svc"):
        for endpoint in ("", "GET /x"):
            for consumer in ("", "zeta", "acme"):
                for metric in ("requests", "latency_p95_ms", "errors", "cpu_pct"):
                    for t in stamps[: 3 if metric == "errors" else 6]:  # errors missing in later rows
                        rows.append((t, service, endpoint, consumer, metric, float(rng.integers(1, 500))))
    frame = pd.DataFrame(rows, columns=["timestamp", "service", "endpoint", "consumer", "metric", "value"])
    return frame.sample(frac=1.0, random_state=3).reset_index(drop=True)  # any row order


def test_wide_by_codes_equals_the_pivot_sorted_with_missing_metrics_as_nan_or_zero():
    frame = _long(np.random.default_rng(1))
    data = frame[frame["metric"].isin(EXPERIENCE_METRICS)]
    fast = _wide_by_codes(data)
    assert fast is not None
    pd.testing.assert_frame_equal(fast, _wide_by_pivot(data), check_exact=True)
    assert list(fast["service"].unique()) == ["a-svc", "b-svc"]
    assert (fast["errors"] == 0).sum() > 0 and fast["latency_p99_ms"].isna().all()


def test_wide_falls_back_to_the_pivot_on_duplicates_and_missing_values():
    frame = _long(np.random.default_rng(2))
    duplicated = pd.concat([frame, frame.iloc[:5].assign(value=-1.0)], ignore_index=True)
    data = duplicated[duplicated["metric"].isin(EXPERIENCE_METRICS)]
    assert _wide_by_codes(data) is None
    pd.testing.assert_frame_equal(wide(duplicated), _wide_by_pivot(data), check_exact=True)
    gaps = frame.assign(value=frame["value"].where(frame.index % 7 != 0))
    assert _wide_by_codes(gaps[gaps["metric"].isin(EXPERIENCE_METRICS)]) is None


def test_experience_overview_reads_a_service_once_per_run_and_gives_the_same_figures():
    base = context(telemetry())
    calls: list[tuple[str, ...]] = []

    def counting(services, metrics, start, end):
        calls.append(tuple(services or ()))
        return base.load_telemetry(services, metrics, start, end)

    ctx = dataclasses.replace(base, load_telemetry=counting)
    cache: dict = {}
    first, _ = experience.overview(ctx, ["checkout-api"], cache=cache)
    reads = len(calls)
    again, journeys = experience.overview(ctx, ["checkout-api"], cache=cache)
    assert again == first and journeys and len(calls) == reads  # nothing read the second time
    plain, _ = experience.overview(base, ["checkout-api"])
    assert plain == first


def test_brief_overview_reads_nothing_for_services_without_an_slo():
    base = context(telemetry())
    services = [s.model_copy(update={"slo": None}) if s.name == "web" else s for s in base.catalog.services]
    base = dataclasses.replace(base, catalog=base.catalog.model_copy(update={"services": services}))
    names = [s.name for s in base.catalog.services]
    without = [s.name for s in base.catalog.services if s.slo is None]
    assert without == ["web"] and base.catalog.service("web").slo is None
    asked: list[str] = []

    def counting(services, metrics, start, end):
        asked.extend(services or ())
        return base.load_telemetry(services, metrics, start, end)

    items, _ = experience.overview(dataclasses.replace(base, load_telemetry=counting), names, detail=False)
    assert [i.service for i in items] == names
    assert not set(without) & set(asked)
    assert all(not i.slo for i in items if i.service in without)


def test_line_chart_svg_has_title_legend_styles_and_breaks_at_gaps():
    t0 = datetime(2026, 11, 16)
    x = [t0 + timedelta(hours=i) for i in range(48)]
    y = [float(i % 24) for i in range(48)]
    y[10] = None
    chart = charts.Chart(title="p95 <latency>", y_label="ms", series=[
        charts.Series("this week", x, y, style=0, markers=True), charts.Series("last week", x, y, style=1)],
        markers=[charts.Marker(x[20], "deploy v2")])
    svg = str(charts.line_chart(chart))
    assert svg.startswith("<svg") and svg.count("<svg") == 1 and "<title>p95 &lt;latency&gt;</title>" in svg
    assert "this week" in svg and "last week" in svg and "deploy v2" in svg and "stroke-dasharray" in svg
    first_path = svg.split('<path d="', 3)[2].split('"')[0]  # [1] is the axes frame
    assert first_path.count("M") == 2  # the gap at hour 10 breaks the line


def test_small_charts_are_svg_with_their_title():
    for svg in (charts.sparkline([1.0, 2.0, None, 3.0], [1.0, 1.0, 1.0], title="req"),
                charts.weekly_bars(["a", "b"], [1.0, 2.0], title="Traffic", unit="requests"),
                charts.weekly_line(["a", "b"], [99.0, 100.0], title="SLO", target=100.0, target_label="all")):
        assert str(svg).startswith("<svg") and "<title>" in str(svg) and str(svg).endswith("</svg>")


def test_jobs_are_dealt_with_a_squads_reports_together_and_each_once():
    cat = catalog()
    jobs = plan_jobs(cat, None, None, None, ("html", "md"), None, Path("/r"))
    chunks = split_jobs(cat, jobs, 2)
    dealt = [job for chunk in chunks for job in chunk]
    assert sorted(map(str, dealt)) == sorted(map(str, jobs))
    for chunk in chunks:
        for job in chunk:
            owner = job.scope.squad or (cat.squad_of(job.scope.service) if job.scope.service else None)
            if owner:
                others = [c for c in chunks if c is not chunk]
                assert not any((s.squad or (cat.squad_of(s.service) if s.service else None)) == owner
                               for o in others for s in (j.scope for j in o) if s.audience != "executive")


def test_one_process_renders_squad_by_squad_and_returns_the_files_in_plan_order(tmp_path, monkeypatch):
    from perfops.usecases import reports as use

    cat = catalog()
    jobs = plan_jobs(cat, None, None, None, ("html", "md"), None, tmp_path / "reports")
    rendered: list = []

    def fake_render(workspace, catalog_, chunk, run, progress=None):
        rendered.extend(chunk)
        return [job.path for job in chunk]

    monkeypatch.setattr(use, "render_jobs", fake_render)
    monkeypatch.setattr(use, "stored_run", lambda *a, **k: None)
    monkeypatch.setattr(use, "write_index", lambda folder, *a, **k: folder / "index.html")
    monkeypatch.setenv("PERFOPS_REPORT_WORKERS", "1")
    monkeypatch.setattr(use.Workspace, "load_catalog", lambda self: cat)
    written = use.render_reports(use.Workspace(tmp_path))

    def owner(job):
        return "" if job.scope.audience == "executive" else (job.scope.squad or cat.squad_of(job.scope.service))

    owners = [owner(job) for job in rendered]
    blocks = [o for i, o in enumerate(owners) if i == 0 or owners[i - 1] != o]
    assert len(blocks) == len(set(blocks)), "a squad's reports are rendered together, one squad after another"
    assert written[:-1] == [job.path for job in jobs]


def test_a_report_run_caps_the_stores_cache_and_a_bad_size_is_named(tmp_path):
    import pytest

    from perfops.errors import PerfopsError
    from perfops.store import open_store

    path = tmp_path / "store.duckdb"
    with open_store(path):
        pass
    with open_store(path, read_only=True, memory="256MB") as store:
        limit = store.con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    assert limit.startswith("244.1") and "MiB" in limit  # 256 MB in DuckDB's MiB
    with pytest.raises(PerfopsError, match="PERFOPS_STORE_MEMORY"), open_store(path, read_only=True, memory="lots"):
        pass


def test_a_parallel_run_renders_a_share_itself_and_starts_one_worker_fewer(tmp_path, monkeypatch):
    """N report processes are this one and N - 1 workers: the parent renders a share instead of
    waiting (a waiting parent held its imports and catalog for nothing, ~190 MB at 1,000
    services); every job is rendered once and the files come back in plan order."""
    import concurrent.futures

    from perfops.usecases import reports as use

    cat = catalog()
    jobs = plan_jobs(cat, None, None, None, ("html", "md"), None, tmp_path / "reports")
    pools: list[int] = []
    where: list[tuple[str, list]] = []

    class InlinePool:  # a pool that runs its jobs at once and says so
        def __init__(self, max_workers, **_):
            pools.append(max_workers)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def submit(self, fn, *args):
            future = concurrent.futures.Future()
            where.append(("worker", args[2]))
            future.set_result([job.path for job in args[2]])
            return future

    def here(workspace, catalog_, chunk, run, progress=None):
        where.append(("parent", chunk))
        return [job.path for job in chunk]

    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", InlinePool)
    monkeypatch.setattr(use, "render_jobs", here)
    written = use._render_parallel(use.Workspace(tmp_path), cat, jobs, None, 2, None)
    assert pools == [1]
    assert [w for w, _ in where].count("parent") == 1 and [w for w, _ in where].count("worker") == 1
    rendered = [job for _, chunk in where for job in chunk]
    assert sorted(j.path for j in rendered) == sorted(j.path for j in jobs) and len(rendered) == len(jobs)
    assert written == [job.path for job in jobs]
