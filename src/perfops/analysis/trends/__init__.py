"""Trends & patterns: anomalies, regressions, improvements and leak-like resource growth.

For latency (p95), errors (as rates), traffic (requests), CPU and memory of every service and
endpoint, over the period [now - period, now):

1. a robust seasonal norm (time of day x day of week) is learned from the history before the
   period (`perfops.analysis.seasonal`), and each step gets a deviation signal
   (`perfops.analysis.trends.signals`);
2. runs of flagged steps (at least `min_points` in a row, gaps of `merge_gap` steps merged) are
   candidate findings, and so are latency bursts of at least `burst` (5 minutes) above the SLO
   or `burst_ratio` times the norm, or of at least `sharp_burst` (10 minutes) at `sharp_ratio`
   times the norm (two steps: one step's p95 is a noisy estimate); CPU and memory are judged downwards too when they fall to
   near zero (a dead process), missing data never counts as zero;
3. for each series with a candidate, change points of its deseasonalised drift
   (`perfops.analysis.changepoint`, binary segmentation with t-tests as in Apache Otava) split
   the period into levels: a shift still on at the end of the period after at least `sustain`
   (or over, but after 3 x `sustain`) is a `regression` (worse) or an `improvement` (better),
   tied to the deploy or config event of the service in the `deploy_window` before it; the
   other runs are `anomaly` findings;
4. memory or CPU whose daily means grow steadily while traffic does not is `resource_growth`,
   with the projected time to 100 % (`perfops.analysis.trends.growth`), only where a slope
   remains within the segments between its change points (a step is a regression) and traffic
   data exists;
5. one incident seen on a service and on its endpoints is reported once: on the endpoint when
   only one endpoint shows it, on the service (naming the endpoints) when several do;
6. severity comes from the shared policy (`perfops.analysis.severity`, docs/methods/severity.md),
   an episode that another metric of its service confirms gains a point
   (`perfops.analysis.trends.corroboration`), and an ongoing outage whose callers still call the
   service is critical.

Acknowledged level changes (`ctx.level_marks`) become the norm: after a mark the norm is
re-levelled to the data after it, and nothing before it is reported again. Services are
processed in chunks (`ctx.telemetry(services=...)`) so memory stays bounded on large domains;
within a chunk everything is vectorised over (series x time) arrays.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from perfops.analysis import calendar
from perfops.analysis.callers import callers_still_call
from perfops.analysis.context import AnalysisContext, area_params
from perfops.analysis.grid import Grid, build_grid, to_epoch
from perfops.analysis.notes import note
from perfops.analysis.severity import Impact, incident
from perfops.analysis.steps import by_step
from perfops.analysis.trends.corroboration import corroborate
from perfops.analysis.trends.findings import Reporter
from perfops.analysis.trends.gauges import gauge_findings, gauge_metrics
from perfops.analysis.trends.growth import GrowthParams, resource_growth
from perfops.analysis.trends.levels import Episode, episodes_of, material
from perfops.analysis.trends.records import lasting_rows, with_records
from perfops.analysis.trends.signals import Signal, SignalParams, error_signal, gauge_signal
from perfops.model.findings import Finding, severity_rank

TELEMETRY_METRICS = ["requests", "errors", "latency_p95_ms", "cpu_pct", "memory_pct"]
ROLE_METRIC = {"latency": "latency_p95_ms", "traffic": "requests", "cpu": "cpu_pct",
               "memory": "memory_pct", "errors": "errors"}


@dataclass(frozen=True)
class TrendParams:
    chunk_services: int = 10  # services read and analysed together (memory ~ chunk x workers)
    workers: int = 2  # threads over chunks (numpy releases the GIL)
    min_points: int = 3  # flagged steps in a row for a finding (15 min at 5-min steps)
    burst: timedelta = timedelta(minutes=5)  # a severe latency burst this long is a finding
    burst_ratio: float = 3.0  # severe: this many times the norm, or above the SLO
    sharp_burst: timedelta = timedelta(minutes=10)  # ... or this long at `sharp_ratio` times the norm
    sharp_ratio: float = 2.0
    merge_gap: int = 6  # runs closer than this many steps are one
    sustain: timedelta = timedelta(hours=2)  # a shift that holds this long is a regression
    deploy_window: timedelta = timedelta(hours=2)
    cp_alpha: float = 1e-4
    signal: SignalParams = field(default_factory=SignalParams)
    growth: GrowthParams = field(default_factory=GrowthParams)


def run(ctx: AnalysisContext) -> list[Finding]:
    """Every trends finding of the period (see the module docstring), in catalog order of services."""
    return run_services(ctx, [s.name for s in ctx.catalog.services])


def run_services(ctx: AnalysisContext, services: list[str]) -> list[Finding]:
    """The findings of some services, ordered by the catalog position of their service (each
    service's own findings in the order found), so that `run` is the concatenation of this over
    any split of the catalog into chunks (perfops.analysis.cluster)."""
    params = area_params(ctx, "trends", TrendParams)
    chunks = list(_chunks(list(services), params.chunk_services))
    loading = threading.Lock()  # the loader (a store connection) is used by one thread at a time

    def one(chunk: list[str]) -> list[Finding]:
        metrics = TELEMETRY_METRICS + gauge_metrics(ctx.catalog, chunk)
        with loading:
            frame = ctx.telemetry(services=chunk, metrics=metrics)
        found = []
        for step, rows in by_step(frame).items():  # each series at the step it arrives in
            grid = normal_days(build_grid(rows, ctx.history_start, ctx.now, metrics, step=step), ctx)
            note_unjudged(grid, ctx)
            found += analyse_grid(grid, ctx, params) if grid.keys else []
        return corroborate(found)  # a service's series at every step are in this chunk

    if params.workers <= 1 or len(chunks) <= 1:
        found = [f for chunk in chunks for f in one(chunk)]
    else:
        # numpy releases the GIL in its loops: two threads keep two cores busy, one loading while
        # the other analyses, with at most `workers` chunks in memory
        with ThreadPoolExecutor(max_workers=params.workers) as pool:
            found = [f for part in pool.map(one, chunks) for f in part]
    return in_catalog_order(ctx, calendar.annotate([silent_but_called(ctx, f) for f in found], ctx))


def silent_but_called(ctx: AnalysisContext, finding: Finding) -> Finding:
    """An ongoing outage (traffic or CPU at near zero) whose callers still call the service is
    critical (docs/methods/severity.md); decided after the chunks, in one thread, because the
    callers' traffic may live in another chunk."""
    inputs = finding.evidence.get("severity_inputs") or {}
    if not inputs.get("outage") or finding.end is not None or finding.start is None:
        return finding
    start = max(finding.start, ctx.now - timedelta(hours=1))
    active = callers_still_call(ctx, finding.service, start, ctx.now)
    if active is None:
        return finding
    impact = Impact(tier=int(inputs.get("tier", 2)), duration=None, outage=True,
                    dependents=int(inputs.get("dependents", 0)), callers_active=active)
    verdict = incident(impact)
    level = verdict.level if severity_rank(verdict.level) < severity_rank(finding.severity) else finding.severity
    new_inputs = {**inputs, "callers_active": active}
    if level != finding.severity:
        new_inputs["rule"] = verdict.inputs["rule"]
    return finding.with_(severity=level, evidence={**finding.evidence, "severity_inputs": new_inputs})




def note_unjudged(grid: Grid, ctx: AnalysisContext) -> None:
    """Series with data in the period but none before it have no norm yet: say so."""
    split = int(np.searchsorted(grid.epoch, to_epoch(ctx.period_start)))
    for metric, values in grid.values.items():
        fresh = np.isfinite(values[:, split:]).any(axis=1) & ~np.isfinite(values[:, :split]).any(axis=1)
        for row in map(int, np.flatnonzero(fresh)):
            service, endpoint = grid.keys[row]
            where = f"{service} {endpoint}".strip()
            note(ctx, f"{where} {metric}: no data before the period, so no norm to judge it against yet")


def normal_days(grid: Grid, ctx: AnalysisContext) -> Grid:
    """The grid with the calendar days of its history left out (perfops.analysis.calendar)."""
    days = calendar.calendar_days(ctx.catalog, ctx.history_start, ctx.period_start)
    if not days or not grid.keys:
        return grid
    split = int(np.searchsorted(grid.epoch, to_epoch(ctx.period_start)))
    return replace(grid, values=calendar.mask_history(grid.values, grid.keys, grid.epoch, split, days))


def in_catalog_order(ctx: AnalysisContext, findings: list[Finding]) -> list[Finding]:
    """Findings stably sorted by the catalog position of their service."""
    position = {s.name: i for i, s in enumerate(ctx.catalog.services)}
    return sorted(findings, key=lambda f: position.get(f.service, len(position)))


def with_timezone(grid: Grid, ctx: AnalysisContext) -> Grid:
    """`grid` with the catalog's timezone, in which young norms tell weekdays from weekends."""
    tz = getattr(ctx.catalog, "timezone", "UTC") or "UTC"
    return grid if grid.timezone == tz else replace(grid, timezone=tz)


def analyse_grid(grid: Grid, ctx: AnalysisContext, params: TrendParams) -> list[Finding]:
    """Findings of one chunk of series laid out on a grid."""
    grid = with_timezone(grid, ctx)
    split = int(np.searchsorted(grid.epoch, to_epoch(ctx.period_start)))
    if split >= grid.epoch.size:
        return []
    reporter = Reporter(ctx, grid, split, params.sustain, params.deploy_window)
    marks = level_marks(ctx, grid)
    growth = resource_growth(grid, split, params.growth, marks)
    findings = [reporter.growth(g) for g in growth]
    growing = {(g.row, g.role) for g in growth}
    for role in ("latency", "errors", "traffic", "cpu", "memory"):
        signal = error_signal(grid, split, params.signal) if role == "errors" else \
            gauge_signal(role, grid, split, params.signal)
        if signal is None:
            continue
        # records first: an acknowledged level (apply_marks) unflags them as it does any step
        signal, records = with_records(signal, grid, split, None)
        signal = apply_marks(signal, marks.get(role, {}), grid, split)
        severe = severe_steps(signal, slo_of(ctx, grid), params, grid.step) if role == "latency" else None
        severe = records if severe is None else severe if records is None else severe | records
        for episode in episodes_of(signal, grid, split, params, skip_rows={r for r, k in growing if k == role},
                                   severe=severe):
            findings.append(reporter.episode(signal, episode))
    findings += gauge_findings(grid, split, params, ctx.catalog, reporter)
    return merge_repeated_shifts(collapse_endpoints(findings), params.sustain)


def severe_steps(signal: Signal, slo: np.ndarray, params: TrendParams, step: int) -> np.ndarray:
    """Latency steps far enough out that a short burst of them matters (issue 13, item 7): above
    the service's SLO (p95 target) or `burst_ratio` times the norm, for `burst` (5 minutes), or
    `sharp_ratio` times the norm for `sharp_burst` (10 minutes)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        severe = signal.flagged & ((signal.observed >= params.burst_ratio * signal.norm)
                                   | (signal.observed > slo[:, None]))
        sharp = signal.flagged & (signal.observed >= params.sharp_ratio * signal.norm)
    steps = max(-(-int(params.sharp_burst.total_seconds()) // max(int(step), 1)), 1)
    return severe | lasting_rows(sharp, steps)


def slo_of(ctx: AnalysisContext, grid: Grid) -> np.ndarray:
    """The p95 latency SLO of each row's service (inf when it has none)."""
    out = np.full(len(grid.keys), np.inf)
    for row, (service, _) in enumerate(grid.keys):
        svc = ctx.catalog.service_by_name.get(service)
        if svc is not None and svc.slo is not None and svc.slo.latency_p95_ms:
            out[row] = float(svc.slo.latency_p95_ms)
    return out


def merge_repeated_shifts(findings: list[Finding], gap: timedelta = timedelta(hours=2)) -> list[Finding]:
    """One finding per condition: a series that steps up again within `gap` of its previous
    step ending (each a change point) is one condition for the squad, reported from its first
    step, with the later steps listed in evidence.further_shifts. Shifts separated by a longer
    return to the norm are separate episodes and stay separate findings (Christmas and New Year
    are two holidays, not one)."""
    shifts = [f for f in findings if f.kind in ("regression", "improvement") and f.start]
    groups: dict[tuple[str, ...], list[Finding]] = {}
    for f in sorted(shifts, key=lambda f: f.start or datetime.min):
        chains = groups.setdefault(f.identity, [])
        chains.append(f)
    drop: set[str] = set()
    merged: list[Finding] = []
    for same in [c for chains in groups.values() for c in _chains(chains, gap)]:
        if len(same) < 2:
            continue
        first, later = same[0], same[1:]
        worst = min(same, key=lambda f: severity_rank(f.severity))
        drop.update(f.id for f in same)
        merged.append(first.with_(
            severity=worst.severity, end=None if any(f.end is None for f in same) else max(f.end for f in same if f.end),
            evidence={**first.evidence, "further_shifts": [f.start.isoformat() for f in later if f.start]},
        ))
    return [f for f in findings if f.id not in drop] + merged


def _chains(shifts: list[Finding], gap: timedelta) -> list[list[Finding]]:
    """Time-ordered shifts cut where one ended more than `gap` before the next began."""
    out: list[list[Finding]] = []
    for f in shifts:
        last = out[-1][-1] if out else None
        if last is not None and (last.end is None or (f.start and f.start - last.end <= gap)):
            out[-1].append(f)
        else:
            out.append([f])
    return out


def collapse_endpoints(findings: list[Finding]) -> list[Finding]:
    """One finding per incident: a whole-service finding overlapping endpoint findings of the
    same kind and metric gives way to the endpoint when there is one, or absorbs them (listing
    them in evidence.endpoints) when there are several."""
    drop: set[str] = set()
    out: list[Finding] = []
    for f in findings:
        if f.endpoint is not None:
            continue
        same = [g for g in findings if g.endpoint is not None and g.service == f.service and g.kind == f.kind
                and g.metric == f.metric and _overlaps(f, g)]
        if len(same) == 1:
            drop.add(f.id)
        elif same:
            drop.update(g.id for g in same)
            out.append(f.with_(evidence={**f.evidence, "endpoints": sorted(g.endpoint or "" for g in same)}))
            drop.add(f.id)
    return [f for f in findings if f.id not in drop] + out


def _overlaps(a: Finding, b: Finding) -> bool:
    far = datetime.max
    return bool(a.start and b.start and a.start < (b.end or far) and b.start < (a.end or far))


def series_view(ctx: AnalysisContext, service: str, wanted: set[tuple[str, str]] | None = None,
                bucket: int = 1800) -> list[dict[str, Any]]:
    """Observed values and the norm over the period for the report charts, per (endpoint, role),
    averaged into `bucket`-second points: {endpoint, role, times, observed, norm, upper}, where
    `upper` is the alarm line (for traffic: the lower one)."""
    frame = ctx.telemetry(services=[service], metrics=TELEMETRY_METRICS)
    grid = with_timezone(build_grid(frame, ctx.history_start, ctx.now, TELEMETRY_METRICS), ctx)
    split = int(np.searchsorted(grid.epoch, to_epoch(ctx.period_start)))
    if not grid.keys or split >= grid.epoch.size:
        return []
    out = []
    for role in ("latency", "errors", "traffic", "cpu", "memory"):
        sig = error_signal(grid, split, SignalParams()) if role == "errors" else \
            gauge_signal(role, grid, split, SignalParams())
        if sig is None:
            continue
        for row, (_, endpoint) in enumerate(grid.keys):
            if wanted is not None and (endpoint, role) not in wanted:
                continue
            upper = _alarm_line(role, sig.norm[row])
            k = max(bucket // grid.step, 1)
            out.append({"endpoint": endpoint, "role": role, "times": grid.times(slice(split, None))[::k],
                        "observed": _bucketed(sig.observed[row], k), "norm": _bucketed(sig.norm[row], k),
                        "upper": _bucketed(upper, k)})
    return out


def _alarm_line(role: str, norm: np.ndarray) -> np.ndarray:
    """Where a deviation starts to matter (the materiality thresholds of SignalParams)."""
    p = SignalParams()
    if role == "latency":
        return norm * (1 + p.latency_min_change)
    if role == "traffic":
        return norm * (1 - p.traffic_min_change)
    if role == "errors":
        return norm + p.error_min_rate_excess
    return norm + p.util_min_change


def _bucketed(a: np.ndarray, k: int) -> np.ndarray:
    n = -(-a.size // k) * k
    padded = np.concatenate([a, np.full(n - a.size, np.nan)]).reshape(-1, k)
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.nanmean(padded, axis=1)


def level_marks(ctx: AnalysisContext, grid: Grid) -> dict[str, dict[int, int]]:
    """role -> {row: first period column after the latest acknowledged level mark}."""
    index = {key: i for i, key in enumerate(grid.keys)}
    period0 = to_epoch(ctx.period_start)
    out: dict[str, dict[int, int]] = {}
    for mark in ctx.level_marks:
        role = _role_of(str(mark.get("metric") or ""))
        row = index.get((str(mark.get("service") or ""), str(mark.get("endpoint") or "")))
        at = mark.get("at")
        if role is None or row is None or at is None:
            continue
        col = int(np.searchsorted(grid.epoch, to_epoch(pd.Timestamp(at).to_pydatetime())) - np.searchsorted(grid.epoch, period0))
        current = out.setdefault(role, {})
        current[row] = max(current.get(row, col), col)
    return out


def _role_of(metric: str) -> str | None:
    if metric in ROLE_METRIC:
        return metric
    for role, name in ROLE_METRIC.items():
        if metric == name or (role == "latency" and metric.startswith("latency")):
            return role
    return {"requests": "traffic", "cpu_pct": "cpu", "memory_pct": "memory"}.get(metric)


def apply_marks(signal: Signal, marks: dict[int, int], grid: Grid, split: int) -> Signal:
    """Acknowledged level changes become the norm: for a marked series, the norm after the mark
    is moved to the median level seen after it, steps before the mark are not judged, and a
    step after it alarms only if it still deviates materially from the new norm."""
    if not marks:
        return signal
    norm, drift, flagged = signal.norm.copy(), signal.drift.copy(), signal.flagged.copy()
    minimum = material(signal)
    for row, col in marks.items():
        col = max(col, 0)
        after = signal.drift[row, col:]
        shift = float(np.nanmedian(after)) if np.isfinite(after).any() else 0.0
        drift[row, col:] = after - shift
        drift[row, :col] = np.nan
        flagged[row, :col] = False
        flagged[row, col:] &= np.abs(np.nan_to_num(drift[row, col:])) >= minimum
        if signal.role in ("latency", "traffic"):
            norm[row, col:] = signal.norm[row, col:] * np.exp(shift)
        else:
            norm[row, col:] = signal.norm[row, col:] + shift
    return replace(signal, norm=norm, drift=drift, flagged=flagged)


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for i in range(0, len(items), max(size, 1)):
        yield items[i: i + size]


__all__ = ["run", "run_services", "in_catalog_order", "analyse_grid", "series_view", "collapse_endpoints", "TrendParams", "Episode"]
