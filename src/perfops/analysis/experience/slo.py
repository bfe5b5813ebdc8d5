"""SLO compliance and error budgets over a window (Google SRE book ch. 4, SRE workbook ch. 2).

Availability SLI = non-error requests / requests over the window (errors = 5xx and timeouts).
Latency SLI = the share of requests served in intervals whose p95 met the target (request-weighted
good intervals): with only per-interval percentiles, "was the p95 under 300 ms in this minute"
is the finest statement the data supports. Its objective is `latency_objective_pct` (default 99):
the p95 target must hold for 99% of the traffic.

Error budget = (1 - objective) x requests; remaining = 1 - bad / budget (negative = overspent).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from perfops.analysis.severity import by_tier
from perfops.model.catalog import Service
from perfops.model.findings import Finding

DEFAULT_LATENCY_OBJECTIVE = 99.0
REPORT_WINDOWS = (timedelta(days=7), timedelta(days=28), timedelta(days=30))


@dataclass(frozen=True)
class Compliance:
    """One SLI over one window: how good it was and how much budget is left."""

    service: str
    sli: str  # "availability" or "latency"
    window: timedelta
    start: datetime
    end: datetime
    objective_pct: float
    requests: float
    bad: float
    covered: timedelta  # how much of the window had data
    target_ms: float | None = None

    @property
    def good_pct(self) -> float:
        return 100.0 * (1 - self.bad / self.requests) if self.requests > 0 else float("nan")

    @property
    def budget(self) -> float:
        return (1 - self.objective_pct / 100.0) * self.requests

    @property
    def budget_remaining(self) -> float:
        """1 = untouched, 0 = spent, negative = overspent (as a fraction of the budget)."""
        return 1 - self.bad / self.budget if self.budget > 0 else float("nan")

    @property
    def met(self) -> bool:
        return self.requests == 0 or self.good_pct >= self.objective_pct

    def as_dict(self) -> dict[str, object]:
        return {
            "service": self.service, "sli": self.sli, "window_days": self.window / timedelta(days=1),
            "objective_pct": self.objective_pct, "good_pct": _round(self.good_pct, 4),
            "requests": self.requests, "bad": self.bad, "budget_remaining_pct": _round(100 * self.budget_remaining, 1),
            "met": self.met, "target_ms": self.target_ms, "covered_days": round(self.covered / timedelta(days=1), 2),
        }


def _round(value: float, digits: int) -> float | None:
    return None if value is None or not np.isfinite(value) else round(float(value), digits)


def _bad_of(requests: np.ndarray, p95: np.ndarray | None, target_ms: float) -> np.ndarray:
    """Requests of each interval whose p95 exceeded the target (all of them: the interval failed)."""
    if p95 is None:
        return np.zeros_like(requests)
    return np.nan_to_num(np.where(p95 > target_ms, requests, 0.0), nan=0.0)


def _columns(series: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray]:
    """(timestamps, requests, errors, p95) of a whole-service series as arrays (the sums below
    are numpy's, as pandas' own sums are: the same figures, without a frame per window)."""
    stamps = series.index.to_numpy()
    requests = series["requests"].to_numpy(np.float64)
    errors = series["errors"].to_numpy(np.float64)
    p95 = series["latency_p95_ms"].to_numpy(np.float64) if "latency_p95_ms" in series else None
    return stamps, requests, p95, errors


def compliance(
    series: pd.DataFrame, service: Service, end: datetime, window: timedelta, latency_objective: float,
) -> list[Compliance]:
    """The service's SLIs over [end - window, end) from its whole-service series."""
    if service.slo is None:
        return []
    start = end - window
    stamps, requests, p95, errors = _columns(series)
    inside = (stamps >= np.datetime64(start)) & (stamps < np.datetime64(end))
    covered = _covered(stamps[inside])
    total = float(np.nansum(requests[inside]))
    out = []
    if service.slo.availability is not None:
        out.append(Compliance(service.name, "availability", window, start, end, service.slo.availability,
                              total, float(np.nansum(errors[inside])), covered))
    if service.slo.latency_p95_ms is not None:
        bad = _bad_of(requests[inside], None if p95 is None else p95[inside], service.slo.latency_p95_ms)
        out.append(Compliance(service.name, "latency", window, start, end, latency_objective,
                              total, float(bad.sum()), covered, service.slo.latency_p95_ms))
    return out


def _covered(stamps: np.ndarray) -> timedelta:
    if len(stamps) == 0:
        return timedelta(0)
    return pd.Timedelta(stamps.max() - stamps.min()).to_pytimedelta() + timedelta(minutes=1)


def monthly(series: pd.DataFrame, service: Service, latency_objective: float) -> list[dict[str, object]]:
    """Compliance per calendar month (UTC) of the data, for reports."""
    if service.slo is None or series.empty:
        return []
    _, requests, p95, errors = _columns(series)
    codes, months = pd.factorize(series.index.to_period("M"), sort=True)
    rows = []
    for code, month in enumerate(months):
        at = codes == code
        req = float(np.nansum(requests[at]))
        row: dict[str, object] = {"month": str(month), "requests": req}
        if service.slo.availability is not None and row["requests"]:
            good = 100 * (1 - np.nansum(errors[at]) / req)
            row["availability_pct"] = round(float(good), 4)
            row["availability_met"] = bool(good >= service.slo.availability)
        if service.slo.latency_p95_ms is not None and row["requests"]:
            bad = _bad_of(requests[at], None if p95 is None else p95[at], service.slo.latency_p95_ms)
            good = 100 * (1 - bad.sum() / req)
            row["latency_pct"] = round(float(good), 4)
            row["latency_met"] = bool(good >= latency_objective)
        rows.append(row)
    return rows


def breach_findings(
    statuses: list[Compliance], service: Service, min_requests: float,
) -> list[Finding]:
    """`slo_breach` for each SLI of the service's own window that missed its objective."""
    out = []
    for status in statuses:
        if status.met or status.requests < min_requests:
            continue
        out.append(_breach(status, service))
    return out


def _breach(status: Compliance, service: Service) -> Finding:
    overspent = -status.budget_remaining  # 0.5 = spent 150% of the budget
    severity = by_tier("critical", service.tier).level
    if overspent < 0.25:
        severity = by_tier("high", service.tier).level
    days = status.window / timedelta(days=1)
    if status.sli == "availability":
        metric, what = "errors", f"availability {status.good_pct:.3f}% against an objective of {status.objective_pct:g}%"
        todo = "Find what produced the server errors (see the error-budget-burn and regression findings), " \
               "and freeze risky releases until the budget recovers."
    else:
        metric = "latency"
        what = (f"the p95 stayed under {status.target_ms:g} ms for {status.good_pct:.2f}% of requests "
                f"against an objective of {status.objective_pct:g}%")
        todo = "Find the slow intervals (see latency regressions and anomalies) and fix the cause before " \
               "adding features; consider whether the target is still right."
    return Finding(
        kind="slo_breach", severity=severity, service=service.name, squad=service.squad, metric=metric,
        title=f"{service.name} missed its {status.sli} SLO over the last {days:g} days",
        detail=(f"Over {days:g} days {what}: {status.bad:,.0f} of {status.requests:,.0f} requests were bad, "
                f"{100 * overspent:.0f}% more than the error budget of {status.budget:,.0f}."),
        start=status.start, end=None,
        evidence={**status.as_dict(), "budget": round(status.budget, 1)},
        recommendation=todo,
        impact={"requests_affected": int(status.bad), "budget_overspent_pct": round(100 * overspent, 1)},
        key=f"{status.sli}:{days:g}d",
    )
