"""End-to-end journeys composed from their steps, and `journey_degradation`.

A journey (catalog `journeys`) is a chain of steps `service:ENDPOINT`. Per hour:
- end-to-end latency = the sum of the steps' p95. For a chain of sequential calls this is an
  upper bound of the journey's p95 under positive dependence between steps (slow hours are slow
  everywhere), and the usual engineering approximation (e.g. Google SRE workbook ch. 2 on
  composing SLIs); the real end-to-end p95 is at most this;
- availability = the product of the steps' success ratios (independent failures).

Degradation is judged hour by hour against the journey's own history for that hour of day: an
hour is degraded when its latency is above both 1.25x the baseline median and the median + 4
robust SDs (MAD x 1.4826) (the journey's target stands in while there is no history); or when
its unavailability is above 3x the baseline and +0.5 percentage points. At least `min_hours` degraded hours (gaps of up to 8 hours bridged) make
an episode. The step responsible is the one whose own p95 (or error rate) moved most from its
baseline during the episode; the finding belongs to that step's service and squad.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from perfops.analysis.experience.series import endpoint_level
from perfops.analysis.severity import journey as journey_severity
from perfops.model.catalog import Catalog, Journey
from perfops.model.findings import Finding

HOUR = timedelta(hours=1)
DEFAULT_MIN_HOURS = 3
BRIDGE = timedelta(hours=8)
MIN_HOURLY_REQUESTS = 20


@dataclass(frozen=True)
class StepSeries:
    service: str
    endpoint: str
    hourly: pd.DataFrame  # requests, errors, p95 (request-weighted mean of the hour)
    exact_endpoint: bool  # False: the endpoint had no rows, the whole service stood in


def hourly(series: pd.DataFrame) -> pd.DataFrame:
    """Intervals -> hours: counts add; p95 = request-weighted mean of the intervals' p95."""
    if series.empty:
        return pd.DataFrame(columns=["requests", "errors", "p95"])
    hour = series.index.floor("h")
    weight = series["requests"].where(series["latency_p95_ms"].notna(), 0)
    num = (series["latency_p95_ms"].fillna(0) * weight).groupby(hour, observed=True).sum()
    den = weight.groupby(hour, observed=True).sum()
    out = pd.DataFrame({"requests": series["requests"].groupby(hour, observed=True).sum(),
                        "errors": series["errors"].groupby(hour, observed=True).sum()})
    out["p95"] = num / den.replace(0, np.nan)
    return out


def step_series(data: pd.DataFrame, journey: Journey) -> list[StepSeries]:
    steps = []
    for service, endpoint in journey.parsed_steps():
        exact = not data[(data["service"] == service) & (data["endpoint"] == endpoint)].empty
        steps.append(StepSeries(service, endpoint, hourly(endpoint_level(data, service, endpoint)), exact))
    return steps


def compose(steps: list[StepSeries]) -> pd.DataFrame:
    """The journey per hour: latency_ms (sum of step p95), availability (product), requests (min)."""
    index = sorted(set().union(*[set(s.hourly.index) for s in steps])) if steps else []
    frame = pd.DataFrame(index=pd.DatetimeIndex(index, name="hour"))
    latency = pd.Series(0.0, index=frame.index)
    availability = pd.Series(1.0, index=frame.index)
    requests = pd.Series(np.inf, index=frame.index)
    for step in steps:
        h = step.hourly.reindex(frame.index)
        latency = latency + h["p95"]  # NaN when a step has no latency that hour
        ok = 1 - h["errors"] / h["requests"].where(h["requests"] > 0)
        availability = availability * ok
        requests = np.minimum(requests, h["requests"].fillna(0))
    frame["latency_ms"] = latency
    frame["availability"] = availability
    frame["requests"] = requests.replace(np.inf, 0)
    return frame


@dataclass(frozen=True)
class Degradation:
    metric: str  # "latency" or "errors"
    start: datetime
    end: datetime  # end of the last degraded hour
    ongoing: bool
    baseline: float
    observed: float
    hours: int


def degradations(frame: pd.DataFrame, journey: Journey, period_start: datetime, now: datetime,
                 min_hours: int = DEFAULT_MIN_HOURS) -> list[Degradation]:
    base = frame[(frame.index < period_start) & (frame["requests"] >= MIN_HOURLY_REQUESTS)]
    recent = frame[(frame.index >= period_start) & (frame.index < now) & (frame["requests"] >= MIN_HOURLY_REQUESTS)]
    if recent.empty:
        return []
    out = []
    limit = _latency_limit(base["latency_ms"].dropna(), recent.index, journey.latency_p95_ms)
    if limit is not None:
        bad = recent["latency_ms"] > limit
        out += _episodes(bad, recent["latency_ms"], "latency", _median(base["latency_ms"]), min_hours, now)
    unavailability = 1 - recent["availability"]
    if len(base) >= 24:
        base_unavail = float((1 - base["availability"]).median())
        bad = unavailability > max(3 * base_unavail, base_unavail + 0.005)
        out += _episodes(bad, unavailability, "errors", base_unavail, min_hours, now)
    return out


def _median(values: pd.Series) -> float:
    return float(values.median()) if len(values.dropna()) else float("nan")


def _latency_limit(base: pd.Series, hours: pd.DatetimeIndex, target: float | None) -> pd.Series | None:
    """Per recent hour: degraded above max(1.25 x median, median + 4 robust SDs) of the baseline for
    that hour of day (all hours when the baseline is under 3 days). The target is the limit only
    when there is no baseline yet: a journey always over its target has not *degraded* (its SLO
    says so)."""
    if len(base) >= 72:
        grouped = base.groupby(base.index.hour, observed=True)
        median = grouped.median()
        mad = grouped.apply(lambda v: (v - v.median()).abs().median()) * 1.4826
        limit = np.maximum(1.25 * median, median + 4 * mad)
        return pd.Series(limit.reindex(hours.hour).to_numpy(), index=hours).fillna(float(limit.max()))
    if len(base) >= 24:
        median = float(base.median())
        mad = float((base - median).abs().median()) * 1.4826
        return pd.Series(max(1.25 * median, median + 4 * mad), index=hours)
    return None if target is None else pd.Series(target, index=hours)


def _episodes(bad: pd.Series, values: pd.Series, metric: str, baseline: float, min_hours: int,
              now: datetime) -> list[Degradation]:
    hours = list(bad.index[bad.to_numpy()])
    if not hours:
        return []
    groups: list[list[pd.Timestamp]] = [[hours[0]]]
    for hour in hours[1:]:
        if hour - groups[-1][-1] <= BRIDGE:  # a few good hours (a quiet night) do not end it
            groups[-1].append(hour)
        else:
            groups.append([hour])
    out = []
    for group in groups:
        if len(group) < min_hours:
            continue
        end = group[-1].to_pydatetime() + HOUR
        out.append(Degradation(metric, group[0].to_pydatetime(), end, end + HOUR >= now, baseline,
                               float(values.loc[group].median()), len(group)))
    return out


def responsible_step(steps: list[StepSeries], d: Degradation, period_start: datetime) -> tuple[StepSeries, float]:
    """The step whose own p95 (or error rate) moved most during the episode vs its baseline."""
    best, best_change = steps[0], -np.inf
    for step in steps:
        h = step.hourly
        during = h[(h.index >= d.start) & (h.index < d.end)]
        before = h[h.index < period_start]
        if d.metric == "latency":
            change = float(during["p95"].median() - before["p95"].median()) if len(before) else float(during["p95"].median())
        else:
            rate = (during["errors"].sum() / max(during["requests"].sum(), 1))
            base = (before["errors"].sum() / max(before["requests"].sum(), 1)) if len(before) else 0.0
            change = float(rate - base)
        if np.isfinite(change) and change > best_change:
            best, best_change = step, change
    return best, best_change


def journey_findings(data: pd.DataFrame, catalog: Catalog, period_start: datetime, now: datetime,
                     min_hours: int = DEFAULT_MIN_HOURS) -> list[Finding]:
    out = []
    for journey in catalog.journeys:
        steps = step_series(data, journey)
        if not steps or all(s.hourly.empty for s in steps):
            continue
        frame = compose(steps)
        for d in degradations(frame, journey, period_start, now, min_hours):
            step, change = responsible_step(steps, d, period_start)
            out.append(_finding(journey, catalog, steps, step, change, d))
    return out


def _finding(journey: Journey, catalog: Catalog, steps: list[StepSeries], step: StepSeries,
             change: float, d: Degradation) -> Finding:
    service = catalog.service(step.service)
    tier = min(catalog.service(s.service).tier for s in steps)
    severity = journey_severity(tier, d.ongoing, d.hours)
    if d.metric == "latency":
        what = (f"end-to-end latency (sum of step p95) rose from {d.baseline:,.0f} ms to {d.observed:,.0f} ms; "
                f"the step '{step.service}:{step.endpoint}' got {change:,.0f} ms slower")
        if journey.latency_p95_ms and d.observed > journey.latency_p95_ms:
            what += f", above the journey's {journey.latency_p95_ms:g} ms target"
    else:
        what = (f"the share of journeys failing at some step rose from {100 * d.baseline:.2f}% to "
                f"{100 * d.observed:.2f}%; the step '{step.service}:{step.endpoint}' added "
                f"{100 * change:.2f} points of server errors")
    when = "still ongoing" if d.ongoing else f"until {d.end:%Y-%m-%d %H:%M} UTC"
    return Finding(
        kind="journey_degradation", severity=severity, service=step.service, squad=service.squad,
        metric=d.metric, endpoint=step.endpoint,
        title=f"The '{journey.name}' journey got {'slower' if d.metric == 'latency' else 'less available'}; "
              f"the cause is {step.service} ({service.squad})",
        detail=f"From {d.start:%Y-%m-%d %H:%M} UTC, {when} ({d.hours} hours): {what}.",
        start=d.start, end=None if d.ongoing else d.end,
        evidence={"journey": journey.name, "steps": journey.steps, "baseline": round(d.baseline, 4),
                  "observed": round(d.observed, 4), "step": f"{step.service}:{step.endpoint}",
                  "step_change": round(change, 4), "step_endpoint_measured": step.exact_endpoint,
                  "degraded_hours": d.hours},
        recommendation=(f"Squad {service.squad}: look at {step.service} {step.endpoint} first; the other "
                        "steps of the journey did not move as much."),
        impact={"duration_hours": d.hours, "journey": journey.name},
        key=f"{journey.name}:{d.start:%Y-%m-%dT%H}",
    )
