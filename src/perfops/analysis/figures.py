"""The figures `perfops analyze` stores beside the findings (perfops.model.figures).

Computed with the same code, grids and parameters as the findings: the capacity model, weekly
volumes and spend of each chunk of services come from perfops.analysis.capacity.shared_pass (the very
objects the capacity and cost findings were made from in the same run, kept in `ctx.memo`); the
SLO figures from perfops.analysis.experience.figures; the load-test comparison from
perfops.analysis.feedback.evaluate_run with the thresholds the feedback findings used; the norm
bands from perfops.analysis.trends.series_view. Reports, the dashboard and digests read them
from the store and compute nothing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from perfops.analysis.capacity.costs import ServiceCost
from perfops.analysis.capacity.model import CapacityParams, ServiceCapacity
from perfops.analysis.capacity.shared_pass import assessed, chunks_of
from perfops.analysis.context import AnalysisContext, area_params
from perfops.analysis.experience.figures import experience_figures, journey_figures, prepare_detail_tables
from perfops.analysis.feedback import evaluate_run
from perfops.analysis.feedback.compare import Thresholds
from perfops.analysis.trends import series_view
from perfops.model.figures import (
    CapacityFigure,
    CostFigure,
    FigureSet,
    ForecastSeries,
    InventoryFigure,
    InventoryRow,
    RollupFigure,
    SaturationFigure,
    SeriesBand,
    TestCheckFigure,
    TestComparisonFigure,
)
from perfops.model.findings import Finding
from perfops.model.health import RollupWindow

if TYPE_CHECKING:
    from _typeshed import ConvertibleToFloat

TREND_KINDS = ("anomaly", "regression", "improvement", "resource_growth")


def compute_figures(ctx: AnalysisContext, active: Iterable[Finding], services: list[str] | None = None,
                    *, shared: bool = True) -> FigureSet:
    """Every figure of `services` (default: the catalog's) for the run's period; `active`: the
    findings still open after the run (the norm bands are drawn for their series); `shared`:
    include what spans services (journeys)."""
    names = services if services is not None else [s.name for s in ctx.catalog.services]
    findings = list(active)
    capacity, cost = capacity_figures(ctx, names)
    return FigureSet(
        capacity=capacity, cost=cost, experience=experience_figures(ctx, names),
        journeys=journey_figures(ctx) if shared else [], tests=test_figures(ctx, names),
        bands=band_figures(ctx, [f for f in findings if f.service in set(names)]),
    )


def prepare_figures(ctx: AnalysisContext, services: list[str]) -> list[Finding]:
    """Compute into `ctx.memo` what `compute_figures` will want of `services` and does not
    depend on the run's findings (the Apdex and consumer tables): the worker processes do it
    beside the findings (perfops.analysis.processes). No findings of its own."""
    prepare_detail_tables(ctx, services)
    return []


# ---- capacity and cost ----------------------------------------------------------------------
def capacity_figures(ctx: AnalysisContext, names: list[str]) -> tuple[dict[str, CapacityFigure], dict[str, CostFigure]]:
    params = area_params(ctx, "capacity", CapacityParams)
    capacity: dict[str, CapacityFigure] = {}
    cost: dict[str, CostFigure] = {}
    for chunk in chunks_of(list(names), params.chunk_size):
        found = assessed(ctx, chunk, params)
        for i, state in enumerate(found.states):
            capacity[state.service] = capacity_figure(state, found.volumes[i], params)
        for c in found.costs:
            cost[c.service] = cost_figure(c)
    return capacity, cost


def capacity_figure(s: ServiceCapacity, volumes: np.ndarray, params: CapacityParams) -> CapacityFigure:
    sat = s.saturation
    return CapacityFigure(
        service=s.service, squad=s.squad, tier=s.tier, instances=_num(s.instances),
        instances_source=s.instances_source, max_tps_per_instance=_num(s.max_tps_per_instance),
        peak_tps=_num(s.peak_tps), mean_tps=_num(s.mean_tps), peak_cpu_pct=_num(s.peak_cpu),
        peak_memory_pct=_num(s.peak_memory), cpu_target_pct=float(s.cpu_target), capacity_tps=_num(s.capacity_tps),
        throughput_utilisation_pct=_num(s.tps_util), headroom_pct=_num(s.headroom_pct),
        instances_needed=s.needed_instances(s.growth, params.safety_margin), safety_margin=params.safety_margin,
        growth_over_horizon=float(s.growth), forecast_peak_tps=_num(s.forecast_peak_tps),
        saturation=None if sat is None else SaturationFigure(metric=sat.metric, limit=float(sat.limit), days=float(sat.days),
                                                             days_early=float(sat.days_early), days_late=_num(sat.days_late)),
        weekly_requests=[_num(v) for v in volumes], forecast=_forecast(s),
    )


def _forecast(s: ServiceCapacity) -> ForecastSeries | None:
    ser = s.series
    if not ser:
        return None
    return ForecastSeries(
        history_times=[pd.Timestamp(t).to_pydatetime() for t in ser["history_times"]],
        history=_list(ser["history"]), forecast_times=[pd.Timestamp(t).to_pydatetime() for t in ser["forecast_times"]],
        mean=_list(ser["mean"]), lower=_list(ser["lower"]), upper=_list(ser["upper"]), capacity=_num(ser.get("capacity")))


def cost_figure(c: ServiceCost) -> CostFigure:
    return CostFigure(
        service=c.service, squad=c.squad, source=c.source, monthly_spend=_num(c.monthly_spend()),
        monthly_requests=_num(c.monthly_requests()), last_7_days=_week_spend(c, 0), previous_7_days=_week_spend(c, 1),
        cost_per_1000_requests=_num(c.unit_cost(c.period)), cost_per_1000_requests_before=_num(c.unit_cost(c.history)),
        notes=list(c.notes))


def _week_spend(c: ServiceCost, weeks_back: int) -> float | None:
    n = len(c.daily_spend)
    part = c.daily_spend[max(0, n - 7 * (weeks_back + 1)) : n - 7 * weeks_back]
    return float(np.nansum(part)) if part.size == 7 and np.isfinite(part).any() else None


# ---- load tests against production ------------------------------------------------------------
def test_figures(ctx: AnalysisContext, names: list[str]) -> dict[str, TestComparisonFigure]:
    """The newest load-test run of each service held against production."""
    runs = ctx.test_runs
    if runs is None or runs.empty:
        return {}
    out: dict[str, TestComparisonFigure] = {}
    for name in names:
        service = ctx.catalog.service_by_name.get(name)
        mine = runs[runs["service"] == name]
        if service is None or mine.empty:
            continue
        latest = mine.sort_values("start").iloc[-1].to_dict()
        comparison, _ = evaluate_run(ctx, latest, runs, service, Thresholds())
        record = comparison.to_dict()
        out[name] = TestComparisonFigure(
            run_id=str(record["run_id"]), service=name, environment=record.get("environment"),
            verdict=str(record["verdict"]), test_rps=record.get("test_rps"), production=record.get("production"),
            baseline_run_id=record.get("baseline_run_id"),
            checks=[TestCheckFigure(name=c["name"], verdict=c["verdict"], summary=c["summary"],
                                    evidence=c.get("evidence") or {}) for c in record["checks"]],
            endpoints=record["endpoints"])
    return out


test_figures.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


# ---- norm bands ------------------------------------------------------------------------------
def band_figures(ctx: AnalysisContext, findings: list[Finding]) -> dict[str, list[SeriesBand]]:
    """Observed, norm and alarm line of every series with an open trends finding."""
    wanted: dict[str, set[tuple[str, str]]] = {}
    for f in findings:
        if f.kind in TREND_KINDS and f.metric and f.status != "resolved":
            wanted.setdefault(f.service, set()).add((f.endpoint or "", f.metric))
    out: dict[str, list[SeriesBand]] = {}
    for service in sorted(wanted):
        if service not in ctx.catalog.service_by_name:
            continue
        bands = [SeriesBand(service=service, endpoint=v["endpoint"], role=v["role"],
                            times=[t.to_pydatetime() for t in pd.DatetimeIndex(v["times"])],
                            observed=_list(v["observed"]), norm=_list(v["norm"]), upper=_list(v["upper"]))
                 for v in series_view(ctx, service, wanted[service])]
        if bands:
            out[service] = bands
    return out


# ---- rollups ---------------------------------------------------------------------------------
def rollup_figures(frame: pd.DataFrame, window: RollupWindow, names: list[str]) -> list[RollupFigure]:
    """The store's rollup of `window` (columns bucket, service, metric, value) as one record per
    service of `names` that has rows, values aligned on the window's buckets."""
    if frame is None or frame.empty:
        return []
    step = pd.Timedelta(seconds=window.bucket_seconds)
    count = int((pd.Timestamp(window.end) - pd.Timestamp(window.start)) / step)
    slot = ((pd.to_datetime(frame["bucket"]) - pd.Timestamp(window.start)) / step).round().astype(int).to_numpy()
    frame = frame.assign(slot=slot)[(slot >= 0) & (slot < count)]
    out = []
    wanted = set(names)
    for service, part in frame.groupby("service", sort=True, observed=True):
        if str(service) not in wanted:
            continue
        values: dict[str, list[float | None]] = {}
        for metric, rows in part.groupby("metric", sort=True, observed=True):
            series: list[float | None] = [None] * count
            for i, v in zip(rows["slot"].to_numpy(), rows["value"].to_numpy(), strict=True):
                series[int(i)] = _num(v)
            values[str(metric)] = series
        out.append(RollupFigure(service=str(service), metrics=list(window.metrics), start=window.start,
                                end=window.end, bucket_seconds=window.bucket_seconds, values=values))
    return out


def inventory_figures(inventory: pd.DataFrame) -> dict[str, InventoryFigure]:
    """The store's telemetry inventory (service, endpoint, metric, rows, first, last) by service."""
    if inventory is None or inventory.empty:
        return {}
    out = {}
    ordered = inventory.sort_values(["service", "endpoint", "metric"], kind="stable")
    for service, part in ordered.groupby("service", sort=True, observed=True):
        out[str(service)] = InventoryFigure(service=str(service), series=[
            InventoryRow(endpoint=str(r.endpoint), metric=str(r.metric), rows=int(r.rows),
                         first=pd.Timestamp(r.first).to_pydatetime(), last=pd.Timestamp(r.last).to_pydatetime())
            for r in part.itertuples(index=False)])
    return out


def _num(value: ConvertibleToFloat | None) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _list(values: Iterable[ConvertibleToFloat | None]) -> list[float | None]:
    return [_num(v) for v in values]
