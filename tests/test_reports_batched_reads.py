"""The batched reads (issue #8) give the figures the per-service raw reads gave: the lean
experience loader and the SLO figures from sums that `analyze` stores, the store's per-service
aggregates against their pandas twin, and the reports' batch cache."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest

from experience_synthetic import NOW, context, telemetry
from perfops.analysis import experience
from perfops.analysis.experience.figures import (
    LeanRows,
    frame_slo_buckets,
    lean_context,
    service_items,
    slo_items,
)
from perfops.reports import aggregates
from perfops.reports.aggregates import RUN_SERVICES, FrameAggregates, for_services
from perfops.reports.section import ReportView
from reports_fixture import report_context


def _without_whole_rows(frame: pd.DataFrame, service: str) -> pd.DataFrame:
    """`service` reports its endpoints only: its figures are composed from them."""
    return frame[~((frame["service"] == service) & (frame["endpoint"] == ""))].reset_index(drop=True)


@pytest.mark.parametrize("detail", [True, False])
def test_lean_rows_give_the_experience_overview_of_every_row(detail):
    frame = _without_whole_rows(telemetry(), "payments")
    full = context(frame)
    names = [s.name for s in full.catalog.services]
    expected, _ = experience.overview(full, names, detail=detail)
    got, journeys = experience.overview(lean_context(full, detail), names, detail=detail)
    assert got == expected
    assert any(item.slo for item in got) and journeys == []  # the lean context carries no journeys
    if detail:
        assert any(item.apdex for item in got) and any(item.consumers for item in got)


def test_lean_rows_drop_old_endpoint_rows_and_keep_composed_services_whole():
    frame = _without_whole_rows(telemetry(), "payments")
    full = context(frame)
    start = NOW - timedelta(days=35)
    names = ["checkout-api", "payments"]
    every = full.telemetry(names, list(experience.EXPERIENCE_METRICS), start, NOW)
    lean = LeanRows(full, detail=True)(names, list(experience.EXPERIENCE_METRICS), start, NOW)
    mine = lean[lean["service"] == "checkout-api"]
    old_endpoint_rows = (mine["endpoint"] != "") & (mine["consumer"] == "") & (mine["timestamp"] < full.period_start)
    assert not old_endpoint_rows.any() and len(mine) < (every["service"] == "checkout-api").sum()
    assert len(lean[lean["service"] == "payments"]) == (every["service"] == "payments").sum()
    brief = LeanRows(full, detail=False)(names, ["requests"], start, NOW)
    assert set(brief.loc[brief["service"] == "checkout-api", "endpoint"]) == {""}
    assert set(brief.loc[brief["service"] == "checkout-api", "consumer"]) == {""}


def test_the_store_aggregates_equal_their_pandas_twin(tmp_path: Path):
    from perfops.store import open_store
    from perfops.store.report_queries import ReportQueries

    frame = telemetry()
    frame = frame[frame["timestamp"] >= pd.Timestamp(NOW - timedelta(days=15))].reset_index(drop=True)
    frame["timestamp"] = pd.to_datetime(frame["timestamp"]).astype("datetime64[us]")
    twin = FrameAggregates(context(frame).load_telemetry)
    names = ["checkout-api", "payments", "web", "nothing-here"]
    metrics = ["requests", "errors", "client_errors", "latency_p95_ms"]
    start, end = NOW - timedelta(days=14), NOW - timedelta(hours=5)
    with open_store(tmp_path / "store.duckdb") as store:
        store.telemetry.upsert(frame)
        sql = ReportQueries(store)
        for question in ("endpoint_hours", "endpoint_hours", "endpoint_totals"):
            got = getattr(sql, question)(names, metrics, start, end)
            want = getattr(twin, question)(names, metrics, start, end)
            keys = [c for c in got.columns if c not in ("total", "n", "value")]
            got, want = (f.sort_values(keys, ignore_index=True) for f in (got, want))
            assert len(got) > 0 and list(got.columns) == list(want.columns)
            pd.testing.assert_frame_equal(got, want, check_dtype=False, check_exact=False, rtol=1e-12)
        targets = {"checkout-api": 300.0, "payments": float("nan"), "web": 250.0}
        got = sql.slo_buckets(targets, start, end, 86400)
        want = frame_slo_buckets(context(frame), targets, start, end, 86400)
        assert len(got) > 0
        pd.testing.assert_frame_equal(got.reset_index(drop=True), want.reset_index(drop=True), check_dtype=False,
                                      check_exact=False, rtol=1e-12)


def test_for_services_reads_a_batch_once_and_serves_every_service_of_it(monkeypatch):
    base = FrameAggregates(context(telemetry()).load_telemetry)
    asked: list[tuple[str, ...]] = []

    class Counting:
        def endpoint_hours(self, services, metrics, start, end):
            asked.append(tuple(services))
            return base.endpoint_hours(services, metrics, start, end)

    monkeypatch.setattr(aggregates, "BATCH", 2)
    view = ReportView(ctx=report_context(context(telemetry())), findings=[], audience="developer", aggregates=Counting(),
                      cache={RUN_SERVICES: ["web", "checkout-api", "payments"]})
    window = (["requests"], NOW - timedelta(days=7), NOW)
    one = for_services(view, "endpoint_hours", ["checkout-api"], *window)
    for_services(view, "endpoint_hours", ["web"], *window)
    both = for_services(view, "endpoint_hours", ["web", "checkout-api"], *window)
    assert asked == [("web", "checkout-api")]
    assert set(one["service"]) == {"checkout-api"} and set(both["service"]) == {"web", "checkout-api"}
    for_services(view, "endpoint_hours", ["payments"], *window)
    assert asked[-1] == ("payments",)
    plain = base.endpoint_hours(["checkout-api"], *window)
    pd.testing.assert_frame_equal(one.reset_index(drop=True), plain.reset_index(drop=True))
    monkeypatch.setattr(aggregates, "KEEP_BATCHES", 1)  # the next batch pushes the older ones out
    for_services(view, "endpoint_hours", ["nothing-here"], *window)
    again = for_services(view, "endpoint_hours", ["web"], *window)
    assert asked[-2:] == [("nothing-here",), ("web", "checkout-api")] and set(again["service"]) == {"web"}


@pytest.mark.parametrize("source", ["store", "frames"])
def test_brief_slo_figures_from_sums_equal_the_overview(tmp_path: Path, source):
    frame = _without_whole_rows(telemetry(), "web")  # web's figures are composed from its endpoints
    frame["timestamp"] = pd.to_datetime(frame["timestamp"]).astype("datetime64[us]")
    ctx = context(frame)
    names = [s.name for s in ctx.catalog.services]
    expected, _ = experience.overview(ctx, names, detail=False)
    if source == "frames":
        found = slo_items(ctx, names)
    else:
        from perfops.store import open_store
        from perfops.store.report_queries import ReportQueries

        with open_store(tmp_path / "store.duckdb") as store:
            store.telemetry.upsert(frame)
            found = slo_items(dataclasses.replace(ctx, sums=ReportQueries(store)), names)
    got = [found[n] for n in names]
    assert [i.service for i in got] == names
    assert got == expected
    assert all(len(item.slo) >= 3 and item.monthly for item in got)


def test_detail_figures_equal_the_overview():
    frame = _without_whole_rows(telemetry(), "web")
    ctx = context(frame)
    names = [s.name for s in ctx.catalog.services]
    expected, _ = experience.overview(ctx, names, detail=True)
    got = service_items(ctx, names)
    assert got == expected and any(i.apdex for i in got) and any(i.consumers for i in got)


def test_the_store_aggregates_share_one_string_per_name(tmp_path: Path):
    """A batch of per-service sums holds one string object per service, endpoint and metric
    name, not one per row (a batch of 50 services at 1,000: ~3 M strings, ~180 MB a process)."""
    from perfops.store import open_store
    from perfops.store.report_queries import ReportQueries

    frame = telemetry()
    frame["timestamp"] = pd.to_datetime(frame["timestamp"]).astype("datetime64[us]")
    with open_store(tmp_path / "store.duckdb") as store:
        store.telemetry.upsert(frame)
        got = ReportQueries(store).endpoint_hours(["checkout-api", "payments", "web"], ["requests", "errors"],
                                                  NOW - timedelta(days=14), NOW)
    assert len(got) > 100
    for column in ("service", "endpoint", "metric"):
        assert all(type(v) is str for v in got[column])
        assert len({id(v) for v in got[column]}) == got[column].nunique()
