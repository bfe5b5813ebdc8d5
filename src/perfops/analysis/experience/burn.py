"""Multi-window, multi-burn-rate alerting on the availability error budget (SRE workbook ch. 5).

Burn rate = error rate / (1 - objective): 1 spends exactly the budget over the SLO window. A
pair fires when both its long and its short window burn at or above the threshold (the short
window makes the alert stop soon after the problem stops):

    14.4x over 1 h confirmed by 5 min    (2% of a 30-day budget in an hour)   page
     6x   over 6 h confirmed by 30 min   (5% in six hours)                    page
     1x   over 3 d confirmed by 6 h      (10% in three days)                  ticket

The pairs are evaluated at every interval of the period (not only at its end), so a two-hour
burn last Tuesday is found too; consecutive firing intervals form one episode, reported once at
its worst pair. A long window with fewer than `min_requests` requests or `min_errors` errors
never fires: on a handful of requests one error is a 100x "burn" and nobody should be paged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from perfops.analysis.experience.series import days_text, regular, step_of
from perfops.analysis.severity import by_tier
from perfops.model.catalog import Service
from perfops.model.findings import Finding


@dataclass(frozen=True)
class BurnPair:
    name: str
    threshold: float
    long: timedelta
    short: timedelta
    tier1_severity: str


PAIRS = (
    BurnPair("fast", 14.4, timedelta(hours=1), timedelta(minutes=5), "critical"),
    BurnPair("medium", 6.0, timedelta(hours=6), timedelta(minutes=30), "high"),
    BurnPair("slow", 1.0, timedelta(days=3), timedelta(hours=6), "medium"),
)
DEFAULT_MIN_REQUESTS = 500
DEFAULT_MIN_ERRORS = 10


@dataclass(frozen=True)
class Episode:
    pair: BurnPair
    start: datetime
    end: datetime  # last firing interval (inclusive)
    ongoing: bool
    peak_burn: float
    errors: float
    requests: float


def burn_rates(counts: pd.DataFrame, window: timedelta, objective_pct: float) -> pd.DataFrame:
    """Rolling requests, errors and burn rate over `window`, at each interval end."""
    rolled = counts[["requests", "errors"]].rolling(window, min_periods=1).sum()
    budget_rate = 1 - objective_pct / 100.0
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = rolled["errors"] / rolled["requests"].where(rolled["requests"] > 0)
    return rolled.assign(burn=(rate / budget_rate).fillna(0.0))


@dataclass(frozen=True)
class _Counts:
    """Requests and errors per interval of a regular grid, stamped at each interval's end.
    `exact`: every count is a whole number and their sums stay below 2**53, so any order of
    adding them (cumulative sums here, pandas' compensated rolling sums) gives the same floats."""

    ends: np.ndarray  # datetime64[ns]
    requests: np.ndarray
    errors: np.ndarray
    exact: bool


EXACT_LIMIT = 2.0**53


def _whole(values: np.ndarray) -> bool:
    return bool(np.isfinite(values).all() and (values == np.floor(values)).all()
                and np.abs(values).sum() < EXACT_LIMIT)


def grid_counts(series: pd.DataFrame, start: datetime, end: datetime, step: timedelta) -> _Counts:
    """`regular(series, start, end, step)` as arrays: for whole counts one bincount over the
    grid (the same sums), else the pandas reference."""
    index = series.index
    requests = series["requests"].to_numpy(np.float64)
    errors = series["errors"].to_numpy(np.float64)
    if isinstance(index, pd.DatetimeIndex) and index.tz is None and _whole(requests) and _whole(errors):
        step_ns = int(pd.Timedelta(step).value)
        first = int(pd.Timestamp(start).value) // step_ns * step_ns
        grid = np.arange(first, int(pd.Timestamp(end).value), step_ns, dtype=np.int64)
        at = (index.to_numpy("datetime64[ns]").view(np.int64) // step_ns * step_ns - first) // step_ns
        keep = (at >= 0) & (at < grid.size)
        sums = [np.bincount(at[keep], weights=v[keep], minlength=grid.size) for v in (requests, errors)]
        return _Counts((grid + step_ns).view("datetime64[ns]"), sums[0], sums[1], exact=True)
    counts = regular(series, start, end, step)
    return _Counts((counts.index + step).to_numpy("datetime64[ns]"), counts["requests"].to_numpy(np.float64),
                   counts["errors"].to_numpy(np.float64), exact=False)


def window_burn(counts: _Counts, window: timedelta, objective_pct: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(requests, errors, burn rate) over `window` ending at each interval end: `burn_rates`,
    with cumulative sums when the counts are exact."""
    if not counts.exact:
        frame = pd.DataFrame({"requests": counts.requests, "errors": counts.errors},
                             index=pd.DatetimeIndex(counts.ends))
        rolled = burn_rates(frame, window, objective_pct)
        return (rolled["requests"].to_numpy(), rolled["errors"].to_numpy(), rolled["burn"].to_numpy())
    n = counts.ends.size
    if n > 1:
        step_ns = int(counts.ends[1].astype(np.int64) - counts.ends[0].astype(np.int64))
        width = -(-int(pd.Timedelta(window).value) // step_ns)  # intervals ending within (t - window, t]
    else:
        width = 1
    lower = np.maximum(np.arange(n) - width + 1, 0)
    sums = []
    for values in (counts.requests, counts.errors):
        total = np.concatenate(([0.0], np.cumsum(values)))
        sums.append(total[1:] - total[lower])
    requests, errors = sums
    budget_rate = 1 - objective_pct / 100.0
    with np.errstate(divide="ignore", invalid="ignore"):
        burn = errors / np.where(requests > 0, requests, np.nan) / budget_rate
    return requests, errors, np.where(np.isnan(burn), 0.0, burn)


def episodes(
    series: pd.DataFrame, objective_pct: float, start: datetime, end: datetime,
    min_requests: float = DEFAULT_MIN_REQUESTS, min_errors: float = DEFAULT_MIN_ERRORS,
) -> list[Episode]:
    """Firing episodes within [start, end), each at the most severe pair that fired in it."""
    if series.empty:
        return []
    step = step_of(series.index)
    lookback = max(p.long for p in PAIRS)
    counts = grid_counts(series, max(start - lookback, series.index.min().to_pydatetime()), end, step)
    within = (counts.ends > np.datetime64(pd.Timestamp(start))) & (counts.ends <= np.datetime64(pd.Timestamp(end)))
    found: list[Episode] = []
    for pair in PAIRS:
        requests, errors, long = window_burn(counts, pair.long, objective_pct)
        short = window_burn(counts, pair.short, objective_pct)[2]
        fires = ((long >= pair.threshold) & (short >= pair.threshold)
                 & (requests >= min_requests) & (errors >= min_errors)) & within
        found += _runs(fires, long, short, counts, pair, step, end)
    return _worst_per_overlap(found)


def _runs(fires: np.ndarray, long: np.ndarray, short: np.ndarray, counts: _Counts, pair: BurnPair,
          step: timedelta, end: datetime) -> list[Episode]:
    """Firing runs -> episodes. Runs less than a long window apart are one episode (a noisy short
    window dipping under the threshold does not end an incident); an episode starts where its
    short window started burning faster than sustainable (within one long window before it
    fired), not when the long window caught up."""
    if not fires.any():
        return []
    edges = np.flatnonzero(np.diff(np.r_[0, fires.astype(int), 0]))
    spans: list[list[int]] = []
    gap = int(pair.long / step)
    for a, b in zip(edges[::2], edges[1::2], strict=True):
        if spans and a - spans[-1][1] <= gap:
            spans[-1][1] = b
        else:
            spans.append([a, b])
    hot = short >= 1.0  # burning faster than sustainable
    out = []
    for a, b in spans:
        first = a
        while first > 0 and hot[first - 1] and a - first < gap:
            first -= 1
        start = (pd.Timestamp(counts.ends[first]) - step).to_pydatetime()
        last = (pd.Timestamp(counts.ends[b - 1]) - step).to_pydatetime()
        out.append(Episode(pair, start, last, ongoing=last + 2 * step >= end,
                           peak_burn=float(long[a:b].max()),
                           errors=float(pd.Series(counts.errors[first:b]).sum()),
                           requests=float(pd.Series(counts.requests[first:b]).sum())))
    return out


def _worst_per_overlap(found: list[Episode]) -> list[Episode]:
    """A burn fires the slow pairs too: keep the most severe pair of overlapping episodes."""
    order = {p.name: i for i, p in enumerate(PAIRS)}
    kept: list[Episode] = []
    for ep in sorted(found, key=lambda e: (order[e.pair.name], e.start)):
        if not any(ep.start <= k.end and k.start <= ep.end + ep.pair.long for k in kept):
            kept.append(ep)
    return sorted(kept, key=lambda e: e.start)


def burn_findings(
    series: pd.DataFrame, service: Service, start: datetime, end: datetime,
    budget_remaining: float | None, min_requests: float, min_errors: float,
) -> list[Finding]:
    """`error_budget_burn` for each episode of the period, in plain words."""
    if service.slo is None or service.slo.availability is None:
        return []
    objective = service.slo.availability
    window = service.slo.window_delta
    return [_finding(ep, service, objective, window, budget_remaining)
            for ep in episodes(series, objective, start, end, min_requests, min_errors)]


def _finding(ep: Episode, service: Service, objective: float, window: timedelta,
             budget_remaining: float | None) -> Finding:
    window_days = window / timedelta(days=1)
    full_budget_days = window_days / ep.peak_burn
    severity = by_tier(ep.pair.tier1_severity, service.tier).level
    budget_errors = (1 - objective / 100) * ep.requests * (window / ep.pair.long) if ep.requests else 0
    plain = f"at this rate the {window_days:g}-day error budget is gone in {days_text(full_budget_days)}"
    if budget_remaining is not None and np.isfinite(budget_remaining) and 0 < budget_remaining < 1:
        plain += f" ({100 * budget_remaining:.0f}% of it is left, enough for {days_text(full_budget_days * budget_remaining)})"
    when = "and is still burning" if ep.ongoing else f"until {ep.end:%Y-%m-%d %H:%M} UTC"
    duration = ep.end - ep.start + timedelta(minutes=1)
    return Finding(
        kind="error_budget_burn", severity=severity, service=service.name, squad=service.squad, metric="errors",
        title=f"{service.name} burned its error budget at {ep.peak_burn:.0f}× the sustainable rate",
        detail=(f"From {ep.start:%Y-%m-%d %H:%M} UTC {when}, server errors ran at up to {ep.peak_burn:.1f}× "
                f"the rate the {objective:g}% SLO allows ({ep.pair.threshold:g}× over "
                f"{_span(ep.pair.long)} confirmed over {_span(ep.pair.short)}): {plain}."),
        start=ep.start, end=None if ep.ongoing else ep.end + timedelta(minutes=1),
        evidence={"pair": ep.pair.name, "threshold": ep.pair.threshold, "long_window": _span(ep.pair.long),
                  "short_window": _span(ep.pair.short), "peak_burn_rate": round(ep.peak_burn, 2),
                  "objective_pct": objective, "errors": ep.errors, "requests": ep.requests,
                  "days_to_exhaust_full_budget": round(full_budget_days, 2)},
        recommendation=("Stop the bleeding first: roll back the last change or shed the failing dependency; "
                        "then find the cause of the server errors."),
        impact={"requests_affected": int(ep.errors), "duration_minutes": int(duration / timedelta(minutes=1)),
                "budget_share_consumed_pct": round(100 * ep.errors / budget_errors, 1) if budget_errors else None},
        key=f"{ep.pair.name}:{ep.start:%Y-%m-%dT%H}",
    )


def _span(delta: timedelta) -> str:
    minutes = int(delta / timedelta(minutes=1))
    if minutes % 1440 == 0:
        return f"{minutes // 1440} d"
    if minutes % 60 == 0:
        return f"{minutes // 60} h"
    return f"{minutes} min"
