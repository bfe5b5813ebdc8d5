"""Data quality: gaps in the telemetry and sources that stopped reporting (kind `data_gap`).

A scrape outage or a dead exporter leaves *no rows*; without this analysis a missing hour looks
like nothing at all, and the hour after it like a jump. So the gaps are named as gaps, one
finding per service (not per series). Trends lays series on a time grid whose missing intervals
stay empty (NaN), so a gap is never scored as an anomaly; `missing_mask` answers "was this
interval reported at all?" for any analysis that works on raw rows.

Method (docs/methods/data_quality.md):

1. The step of a series is the median spacing of its distinct timestamps (robust to a few
   missing or duplicated points); a service's step is the median spacing of the distinct
   timestamps at which *any* of its series reported.
2. **Gap**: two consecutive report times of the service more than `min_missing_steps` steps
   apart (default 2, i.e. at least two whole intervals with no row at all). The missing interval
   is `[previous + step, next)`. A source that reports irregularly (road sensors, travel-time
   probes, batch jobs: more than `irregular_share` of its intervals already exceed that) has its
   own usual longest silence, the 99th percentile of its intervals: only a longer one is a gap,
   and going stale takes at least as long.
3. **Stale service**: its last report is more than `stale_after` (max of 6 steps and 30 min)
   before the newest data of the domain — the source stopped reporting and is still silent at
   the end of the period (`end` null). A service silent for the whole period, but with rows in the
   history before it, is stale since its last row.
4. **Stale series**: within a service that still reports, a whole-service or endpoint series
   (consumer '' only: consumers come and go) that had reported regularly (at least
   `min_points`) and is silent for more than `stale_after` at the end.

Services are read `CHUNK_SERVICES` at a time (every row of the period plus `lookback_hours`);
staleness is judged once all are read, against the newest row of the whole domain.

Severity comes from the shared policy (`perfops.analysis.severity.data_gap`): a gap alone hurts
no user, so `medium` when the service stopped reporting (tier 1 or 2), or when the missing time
reaches the tier's budget (tier 1: 1 h, tier 2: 4 h, tier 3: 24 h); `low` otherwise. The one
exception: a service that stopped reporting while its callers (catalog `depends_on`) still send
requests is most likely down, not only its telemetry: critical (tier 1-2) or high (tier 3). Per-analysis overrides: `ctx.params.data_quality`
with the fields of DataQualityParams (`area_params`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from perfops.analysis.callers import callers_still_call
from perfops.analysis.codes import codes_of
from perfops.analysis.context import AnalysisContext, area_params
from perfops.analysis.severity import data_gap
from perfops.analysis.steps import infer_step_seconds, steps_of_runs
from perfops.model.findings import Finding, iso_utc


@dataclass(frozen=True)
class DataQualityParams:
    min_missing_steps: int = 2  # a gap is at least this many whole missing intervals
    stale_min_steps: int = 6  # silent at the end for this many steps (and stale_min_minutes) = stale
    stale_min_minutes: int = 30
    min_points: int = 12  # a series must have reported this often before it can go stale
    lookback_hours: float = 24  # also load this much before the period, to see gaps at its start
    # a source whose intervals exceed min_missing_steps this often reports irregularly: its gaps
    # are judged against its own usual longest silence (their 99th percentile), not the median step
    irregular_share: float = 0.05
    medium_minutes_by_tier: dict[int, int] = field(default_factory=lambda: {1: 60, 2: 240, 3: 1440})
    max_intervals_listed: int = 20
US = np.timedelta64(1, "us")


# ---- the reusable helpers --------------------------------------------------------------------
def infer_step(timestamps: np.ndarray | pd.Series) -> np.timedelta64 | None:
    """The usual spacing of a series (perfops.analysis.steps); None with fewer than two points."""
    step = infer_step_seconds(np.asarray(timestamps, dtype="datetime64[us]"), default=None)
    return None if step is None else np.timedelta64(step, "s").astype("timedelta64[us]")


def expected_grid(start: datetime, end: datetime, step: timedelta | np.timedelta64) -> np.ndarray:
    """The interval starts a series with this step should have in [start, end)."""
    step64 = np.timedelta64(step) if isinstance(step, timedelta) else step
    return np.arange(_np(start), _np(end), step64.astype("timedelta64[us]"))


def missing_mask(
    timestamps: np.ndarray | pd.Series, grid: np.ndarray, step: timedelta | np.timedelta64 | None = None
) -> np.ndarray:
    """True for each grid interval `[grid[i], grid[i] + step)` that holds no timestamp at all.

    Other analyses use it to tell "no data" from "a value of zero": mask these intervals (or show
    them as gaps) instead of scoring them. Timestamps need not be sorted or aligned to the grid.
    `step` defaults to the grid's own spacing.
    """
    grid = np.asarray(grid, dtype="datetime64[us]")
    if len(grid) == 0:
        return np.zeros(0, dtype=bool)
    if step is None:
        step = (grid[1] - grid[0]) if len(grid) > 1 else np.timedelta64(300, "s")
    step64 = (np.timedelta64(step) if isinstance(step, timedelta) else step).astype("timedelta64[us]")
    stamps = np.sort(np.asarray(timestamps, dtype="datetime64[us]"))
    first_at_or_after = np.searchsorted(stamps, grid, side="left")
    first_after_end = np.searchsorted(stamps, grid + step64, side="left")
    return first_after_end <= first_at_or_after


def missing_intervals(mask: np.ndarray, grid: np.ndarray, step: timedelta | np.timedelta64) -> list[tuple[datetime, datetime]]:
    """Runs of True in `mask` as [start, end) intervals."""
    step64 = (np.timedelta64(step) if isinstance(step, timedelta) else step).astype("timedelta64[us]")
    padded = np.concatenate(([False], np.asarray(mask, dtype=bool), [False]))
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return [(_py(grid[a]), _py(grid[b - 1] + step64)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


# ---- the analysis ------------------------------------------------------------------------------
@dataclass
class ServiceGaps:
    """What was missing for one service in the period."""

    service: str
    step: np.timedelta64
    gaps: list[tuple[datetime, datetime]] = field(default_factory=list)
    last_seen: datetime | None = None
    stale: bool = False  # stopped reporting and still silent at the end of the data
    stale_series: list[dict[str, str]] = field(default_factory=list)
    usual_silence: np.timedelta64 | None = None  # set when the source reports irregularly

    def missing(self, data_end: datetime) -> timedelta:
        total = sum((b - a for a, b in self.gaps), timedelta(0))
        if self.stale and self.last_seen is not None:
            total += data_end - (self.last_seen + _td(self.step))
        return total

    @property
    def empty(self) -> bool:
        return not self.gaps and not self.stale and not self.stale_series


CHUNK_SERVICES = 20  # services read at a time: memory stays bounded on large domains


def run(ctx: AnalysisContext) -> list[Finding]:
    """`data_gap` findings of the catalog's services, by service name. Services are read a chunk
    at a time; staleness is judged after the last chunk, against the newest row of the domain."""
    params = area_params(ctx, "data_quality", DataQualityParams)
    lookback = timedelta(hours=params.lookback_hours)
    names = list(ctx.catalog.service_by_name)
    summaries: dict[str, ServiceGaps | None] = {}
    newest: np.datetime64 | None = None
    for i in range(0, len(names), CHUNK_SERVICES):
        frame = ctx.telemetry(services=names[i : i + CHUNK_SERVICES], start=ctx.period_start - lookback, end=ctx.now)
        if frame is None or frame.empty:
            continue
        last = np.asarray(frame["timestamp"], dtype="datetime64[us]").max()
        newest = last if newest is None else max(newest, last)
        for service, rows in frame.groupby("service", sort=True, observed=True):
            summaries[str(service)] = _summary(str(service), rows, ctx.period_start, params)
    if newest is None:
        return []
    data_end = _py(newest)
    findings = []
    for service in sorted(summaries):
        found = _judged(summaries[service], data_end, params)
        if found is not None and not found.empty:
            findings.append(_finding(ctx, found, data_end, params))
    findings.extend(_silent_services(ctx, set(summaries), data_end, params))
    return findings


def _summary(service: str, rows: pd.DataFrame, period_start: datetime, params: DataQualityParams) -> ServiceGaps | None:
    """What one service's rows tell without the domain's newest time: step, gaps, last report,
    and the series silent at the end while the service reports (kept only if it is not stale)."""
    stamps = np.unique(np.asarray(rows["timestamp"], dtype="datetime64[us]"))
    step = infer_step(stamps)
    if step is None or step <= np.timedelta64(0, "us"):
        return None
    result = ServiceGaps(service, step, last_seen=_py(stamps[-1]))
    result.usual_silence = _usual_silence(np.diff(stamps), step, params)
    result.gaps = _gaps_between(stamps, step, period_start, params.min_missing_steps, result.usual_silence)
    result.stale_series = _stale_series(rows, stamps[-1], params)
    return result


def _judged(found: ServiceGaps | None, data_end: datetime, params: DataQualityParams) -> ServiceGaps | None:
    """Stale when the last report is more than `stale_after` before the domain's newest row;
    a stale service's silent series are not listed (the whole service is)."""
    if found is None or found.last_seen is None:
        return found
    after = _stale_after(found.step, params)
    if found.usual_silence is not None:
        after = max(after, found.usual_silence)
    stale = bool(_np(data_end) - _np(found.last_seen) > after)
    return replace(found, stale=stale, stale_series=[] if stale else found.stale_series)


def _usual_silence(spacing: np.ndarray, step: np.timedelta64, params: DataQualityParams) -> np.timedelta64 | None:
    """The 99th percentile of the intervals of a source that reports irregularly; None for a
    regular one (a scrape or CloudWatch series: its intervals are its step)."""
    if spacing.size == 0 or float(np.mean(spacing > step * params.min_missing_steps)) <= params.irregular_share:
        return None
    return np.quantile(spacing.astype(np.int64), 0.99).astype(np.int64).astype(spacing.dtype)


def _gaps_between(stamps: np.ndarray, step: np.timedelta64, period_start: datetime,
                  min_steps: int, usual_silence: np.timedelta64 | None = None) -> list[tuple[datetime, datetime]]:
    """Missing intervals between consecutive report times, clipped to the period; for an
    irregular source only intervals beyond its usual longest silence."""
    spacing = np.diff(stamps)
    longest = step * min_steps if usual_silence is None else max(step * min_steps, usual_silence)
    wide = np.flatnonzero(spacing > longest)
    start = _np(period_start)
    gaps = []
    for i in wide:
        lo, hi = max(stamps[i] + step, start), stamps[i + 1]
        if hi - lo >= step * (min_steps - 1) and hi > start:
            gaps.append((_py(lo), _py(hi)))
    return gaps


def _stale_after(step: np.timedelta64, params: DataQualityParams) -> np.timedelta64:
    floor = np.timedelta64(int(params.stale_min_minutes) * 60_000_000, "us")
    return max(step * int(params.stale_min_steps), floor)


def _stale_series(rows: pd.DataFrame, service_last: np.datetime64, params: DataQualityParams) -> list[dict[str, str]]:
    """Whole-service and endpoint series (not per consumer) silent at the end while the service
    reports, in (endpoint, metric) order. Every series at once: its distinct times, how many, the
    last, and its step as `steps.steps_of_runs` tells it."""
    own = (rows["consumer"] == "").to_numpy()
    endpoint, endpoints = codes_of(rows["endpoint"])
    metric, metrics = codes_of(rows["metric"])
    own &= (endpoint >= 0) & (metric >= 0)  # a missing key is no series
    if not own.any():
        return []
    ids = endpoint[own].astype(np.int64) * len(metrics) + metric[own]
    stamps = np.asarray(rows["timestamp"], dtype="datetime64[us]")[own]
    step_id, step_time = np.diff(ids), np.diff(stamps)
    if not ((step_id > 0) | ((step_id == 0) & (step_time >= np.timedelta64(0, "us")))).all():
        order = np.lexsort((stamps, ids))  # rows from the store come in this order already
        ids, stamps = ids[order], stamps[order]
    distinct = np.concatenate(([True], (ids[1:] != ids[:-1]) | (stamps[1:] != stamps[:-1])))
    ids, stamps = ids[distinct], stamps[distinct]
    starts = np.flatnonzero(np.concatenate(([True], ids[1:] != ids[:-1])))
    ends = np.append(starts[1:], ids.size)
    seconds = stamps.astype("datetime64[s]").astype(np.int64)
    steps = steps_of_runs(np.diff(seconds), np.diff(ids), starts, ends)
    stale = []
    for start, end, step in zip(starts, ends, steps, strict=True):
        if end - start < params.min_points:
            continue
        last = stamps[end - 1]
        if service_last - last > _stale_after(np.timedelta64(int(step), "s").astype("timedelta64[us]"), params):
            key = int(ids[start])
            stale.append({"endpoint": str(endpoints[key // len(metrics)]), "metric": str(metrics[key % len(metrics)]),
                          "last_seen": iso_utc(_py(last)) or ""})
    return sorted(stale, key=lambda series: (series["endpoint"], series["metric"]))


def _silent_services(ctx: AnalysisContext, seen: set[str], data_end: datetime,
                     params: DataQualityParams) -> list[Finding]:
    """Services with no row in the period but rows in the history: stopped before it began."""
    silent = sorted(set(ctx.catalog.service_by_name) - seen)
    if not silent:
        return []
    history = ctx.telemetry(services=silent, start=ctx.history_start, end=ctx.period_start)
    findings: list[Finding] = []
    if history is None or history.empty:
        return findings
    for service, rows in history.groupby("service", sort=True, observed=True):
        stamps = np.unique(np.asarray(rows["timestamp"], dtype="datetime64[us]"))
        step = infer_step(stamps) or np.timedelta64(300, "s").astype("timedelta64[us]")
        found = ServiceGaps(str(service), step, last_seen=_py(stamps[-1]), stale=True)
        findings.append(_finding(ctx, found, data_end, params))
    return findings


def _finding(ctx: AnalysisContext, found: ServiceGaps, data_end: datetime, params: DataQualityParams) -> Finding:
    service = ctx.catalog.service(found.service)
    missing = found.missing(data_end)
    listed = found.gaps[: params.max_intervals_listed]
    evidence = {
        "step_minutes": round(float(found.step / np.timedelta64(60, "s")), 2),
        "missing_intervals": [[iso_utc(a), iso_utc(b)] for a, b in listed],
        "gaps": len(found.gaps),
        "missing_minutes": round(missing.total_seconds() / 60, 1),
        "last_seen": iso_utc(found.last_seen),
        "stale": found.stale,
        "stale_series": found.stale_series[: params.max_intervals_listed],
    }
    if found.usual_silence is not None:
        evidence["irregular_usual_silence_minutes"] = round(float(found.usual_silence / np.timedelta64(60, "s")), 1)
    start, end = _span(found)
    title, detail = _words(found, missing, data_end)
    active = None
    if found.stale and found.last_seen is not None:
        active = callers_still_call(ctx, found.service, found.last_seen + _td(found.step), data_end)
    # the policy's data_gap: a gap alone harms no user; a silent service still called is critical
    budget = timedelta(minutes=params.medium_minutes_by_tier.get(service.tier, 240))
    verdict = data_gap(service.tier, found.stale, missing, budget, active)
    if active:
        detail += " Its callers still send requests: the service is most likely down, not only its telemetry."
    return Finding(
        kind="data_gap", severity=verdict.level,
        service=found.service, squad=ctx.catalog.squad_of(found.service), title=title, detail=detail,
        start=start, end=end, evidence=verdict.evidence(evidence), impact={"missing_minutes": evidence["missing_minutes"]},
        recommendation=(
            f"Check what feeds {found.service}'s telemetry (exporter, collector, scrape target, log shipping) "
            "for the missing intervals; findings treat them as missing data, not as drops in traffic."
        ),
        key="stale" if found.stale else "gaps",
    )


def _span(found: ServiceGaps) -> tuple[datetime | None, datetime | None]:
    """From the first missing interval; open-ended (None) while the source is still silent."""
    silent_from = found.last_seen + _td(found.step) if found.last_seen else None
    if found.stale:
        return (found.gaps[0][0] if found.gaps else silent_from), None
    if found.gaps:
        return found.gaps[0][0], found.gaps[-1][1]
    first = min((s["last_seen"] for s in found.stale_series), default=None)
    return (datetime.fromisoformat(first.replace("Z", "")) if first else None), None


def _words(found: ServiceGaps, missing: timedelta, data_end: datetime) -> tuple[str, str]:
    minutes = round(missing.total_seconds() / 60)
    last = iso_utc(found.last_seen)
    if found.stale:
        title = f"{found.service} stopped reporting telemetry at {last}: no data since"
        detail = (f"No rows for {found.service} after {last} while the domain's data runs to {iso_utc(data_end)} "
                  f"({minutes} minutes silent{_plus_gaps(found)}).")
        return title, detail
    if found.gaps:
        title = (f"{found.service} has {len(found.gaps)} gap(s) in its telemetry, {minutes} minutes in all "
                 "(missing data, not an outage)")
        first = found.gaps[0]
        longest = (f"longer than its usual longest silence ({_minutes(found.usual_silence)} minutes: it reports "
                   f"irregularly, usually every {_minutes(found.step)} minutes)" if found.usual_silence is not None
                   else f"of at least two steps ({_minutes(found.step)}-minute data)")
        detail = (f"No rows at all for {found.service} in {len(found.gaps)} interval(s) {longest}, "
                  f"the first {iso_utc(first[0])} to {iso_utc(first[1])}{_stale_part(found)}.")
        return title, detail
    names = "; ".join(f"{s['metric']}{' of ' + s['endpoint'] if s['endpoint'] else ''} (last seen {s['last_seen']})"
                      for s in found.stale_series[:5])
    title = f"{len(found.stale_series)} series of {found.service} stopped reporting while the service still reports"
    detail = f"Stale series: {names}{' …' if len(found.stale_series) > 5 else ''}."
    return title, detail


def _plus_gaps(found: ServiceGaps) -> str:
    return f", plus {len(found.gaps)} earlier gap(s)" if found.gaps else ""


def _stale_part(found: ServiceGaps) -> str:
    if not found.stale_series:
        return ""
    return f"; {len(found.stale_series)} series also stopped reporting before the end"


def _minutes(step: np.timedelta64) -> str:
    value = float(step / np.timedelta64(60, "s"))
    return f"{value:g}"


def _td(step: np.timedelta64) -> timedelta:
    return timedelta(microseconds=int(step.astype("timedelta64[us]").astype(np.int64)))


def _np(moment: datetime) -> np.datetime64:
    return np.datetime64(moment).astype("datetime64[us]")


def _py(moment: np.datetime64) -> datetime:
    return pd.Timestamp(moment).to_pydatetime()
