"""Domain health for the reports: status per service and squad *with the reasons in words*, the
ranking of findings by impact, and week-over-week figures from rolled-up telemetry.

Pure functions over the catalog, findings and rollup frames (no I/O, `now` passed in), shared by
the overview section, the dashboard and the digests so that all three say the same thing.

Status rules (the first that holds wins):
  red    an open or acknowledged critical/high finding that is live (ongoing, or a standing
         condition: perfops.model.incidents.is_live), or the SLO missed this week
  amber  a critical/high finding that ended (to review), an open medium finding, or this week's
         p95 within 10% of the SLO latency
  grey   no traffic seen this week: perfops cannot tell
  green  otherwise
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from perfops.model import format as fmt
from perfops.model.catalog import Catalog
from perfops.model.findings import SEVERE, Finding, severity_rank
from perfops.model.incidents import is_live

if TYPE_CHECKING:
    from _typeshed import ConvertibleToFloat

LEVELS = ("red", "amber", "grey", "green")
STATUS_WORDS = {"red": "Act now", "amber": "Watch", "grey": "No data", "green": "Normal"}
WOW_METRICS = ("requests", "errors", "latency_p95_ms")
DAILY_METRICS = ("requests", "errors", "latency_p95_ms", "cost")
HOUR = 3600
DAY = 86400
TREND_WEEKS = 6


@dataclass(frozen=True)
class RollupWindow:
    """A domain-wide rollup the reports read (perfops.store.telemetry_repo.rollup): `analyze`
    stores it with the run's figures, so report processes read it rather than scan the store."""

    metrics: tuple[str, ...]
    start: datetime
    end: datetime
    bucket_seconds: int


def rollup_windows(now: datetime) -> tuple[RollupWindow, RollupWindow]:
    """(hourly over 14 days: the week-over-week figures, daily over TREND_WEEKS weeks: the
    trends and SLO window totals), both ending at the hour of `now`."""
    end = now.replace(minute=0, second=0, microsecond=0)
    return (RollupWindow(WOW_METRICS, end - timedelta(days=14), end, HOUR),
            RollupWindow(DAILY_METRICS, end - timedelta(days=7 * TREND_WEEKS), end, DAY))


@dataclass(frozen=True)
class Status:
    level: str  # red | amber | grey | green
    reasons: list[str] = field(default_factory=list)

    @property
    def word(self) -> str:
        return STATUS_WORDS[self.level]

    @property
    def why(self) -> str:
        return "; ".join(self.reasons)

    def to_dict(self) -> dict[str, object]:
        return {"level": self.level, "word": self.word, "why": self.why}


@dataclass(frozen=True)
class Kpis:
    """One service's week compared with the week before (whole service, all consumers)."""

    requests: float = math.nan
    requests_prev: float = math.nan
    error_rate: float = math.nan  # % of requests
    error_rate_prev: float = math.nan
    p95: float = math.nan  # request-weighted mean of hourly p95
    p95_prev: float = math.nan
    hourly: dict[str, tuple[list[float], list[float]]] = field(default_factory=dict)  # metric -> (week, prev)

    @property
    def has_traffic(self) -> bool:
        return not math.isnan(self.requests) and self.requests > 0

    def change(self, metric: str) -> float:
        now, before = {"requests": (self.requests, self.requests_prev),
                       "errors": (self.error_rate, self.error_rate_prev),
                       "latency_p95_ms": (self.p95, self.p95_prev)}[metric]
        if math.isnan(now) or math.isnan(before) or before == 0:
            return math.nan
        return 100.0 * (now - before) / before

    def to_dict(self) -> dict[str, float | None]:
        def clean(v: float) -> float | None:
            return None if math.isnan(v) else round(v, 4)

        return {
            "requests": clean(self.requests), "requests_prev": clean(self.requests_prev),
            "error_rate_pct": clean(self.error_rate), "error_rate_pct_prev": clean(self.error_rate_prev),
            "latency_p95_ms": clean(self.p95), "latency_p95_ms_prev": clean(self.p95_prev),
        }


# ---- ranking ------------------------------------------------------------------------------
def impact_score(f: Finding, catalog: Catalog) -> tuple[float | str, ...]:
    """Sort key, most important first: severity, then service tier, then money at stake, then
    requests and consumers affected, then the nearest saturation."""
    svc = catalog.service_by_name.get(f.service)
    tier = svc.tier if svc else 3
    imp = f.impact or {}
    money = _num(imp.get("monthly_cost")) + _num(imp.get("monthly_savings"))
    days = imp.get("days_to_saturation")
    return (
        severity_rank(f.severity), tier, -money, -_num(imp.get("requests_affected")),
        -_num(imp.get("consumers_affected")), _num(days) if days is not None else math.inf, f.id,
    )


def rank_findings(findings: Iterable[Finding], catalog: Catalog) -> list[Finding]:
    return sorted(findings, key=lambda f: impact_score(f, catalog))


def impact_words(f: Finding, currency: str = "USD") -> str:
    """The impact object in a few words: '1.2M req affected · 3 consumers · $1,200/month'."""
    imp = f.impact or {}
    parts = []
    if imp.get("requests_affected"):
        parts.append(f"{fmt.compact(_num(imp['requests_affected']))} requests affected")
    if imp.get("consumers_affected"):
        parts.append(f"{fmt.number(_num(imp['consumers_affected']))} consumers affected")
    if imp.get("monthly_cost"):
        parts.append(f"{fmt.money(_num(imp['monthly_cost']), currency, 'month')} at stake")
    if imp.get("monthly_savings"):
        parts.append(f"saves {fmt.money(_num(imp['monthly_savings']), currency, 'month')}")
    if imp.get("days_to_saturation") is not None:
        parts.append(f"saturates in {fmt.number(_num(imp['days_to_saturation']), 0)} days")
    return " · ".join(parts)


def cause_squad(f: Finding, index: dict[str, Finding], catalog: Catalog) -> tuple[str | None, str | None]:
    """(cause squad, cause service) when `caused_by` points to another squad's service."""
    cause = index.get(f.caused_by or "")
    if cause is None:
        return None, None
    squad = catalog.service_by_name[cause.service].squad if cause.service in catalog.service_by_name else cause.squad
    if squad == f.squad:
        return None, cause.service if cause.service != f.service else None
    return squad, cause.service


# ---- status -------------------------------------------------------------------------------
def service_status(service: str, active: Sequence[Finding], kpis: Kpis | None, catalog: Catalog,
                   now: datetime | None = None) -> Status:
    """The status of one service at `now`: a critical or high finding that ended (more than an
    hour before `now`) makes it amber, to review, never red: an ended blip is not "Act now"."""
    svc = catalog.service_by_name[service]
    high = [f for f in active if f.severity in SEVERE]
    severe = [f for f in high if now is None or is_live(f, now)]
    ended = [f for f in high if f not in severe]
    slo_missed = _slo_problems(svc, kpis, margin=1.0)
    if severe or slo_missed:
        reasons = [f"{f.severity}: {f.title}" for f in rank_findings(severe, catalog)[:2]]
        if len(severe) > 2:
            reasons.append(f"and {len(severe) - 2} more critical/high")
        return Status("red", slo_missed + reasons)
    medium = [f for f in active if f.severity == "medium"]
    near = _slo_problems(svc, kpis, margin=0.9)
    if ended or medium or near:
        reasons = [f"ended, to review: {f.title}" for f in rank_findings(ended, catalog)[:2]]
        reasons += [f"medium: {f.title}" for f in medium[:2]]
        if len(medium) > 2:
            reasons.append(f"and {len(medium) - 2} more medium")
        return Status("amber", near + reasons)
    if kpis is None or not kpis.has_traffic:
        return Status("grey", ["no traffic seen this week: perfops cannot judge this service"])
    return Status("green", [_calm_reason(svc, kpis, active)])


def _slo_problems(svc: object, kpis: Kpis | None, margin: float) -> list[str]:
    """The week's SLO misses (margin 1.0) or near misses (margin 0.9: within 10% of the limit)."""
    slo = getattr(svc, "slo", None)
    if slo is None or kpis is None or not kpis.has_traffic:
        return []
    near = margin < 1
    problems = []
    if slo.latency_p95_ms and not math.isnan(kpis.p95) and kpis.p95 > margin * slo.latency_p95_ms:
        problems.append(f"p95 {fmt.ms(kpis.p95)} {'close to' if near else 'over'} the "
                        f"{fmt.ms(slo.latency_p95_ms)} SLO this week")
    if slo.availability and not math.isnan(kpis.error_rate):
        budget = 100.0 - slo.availability
        if kpis.error_rate > budget * (0.9 if near else 1.0):
            shown, goal = fmt.pct_pair(100 - kpis.error_rate, slo.availability)
            problems.append(f"availability {shown} {'close to' if near else 'below'} the {goal} SLO this week")
    return problems


def _calm_reason(svc: object, kpis: Kpis, active: Sequence[Finding]) -> str:
    parts = ["no finding above low" if active else "nothing out of the ordinary"]
    slo = getattr(svc, "slo", None)
    if not math.isnan(kpis.p95):
        target = f" (SLO {fmt.ms(slo.latency_p95_ms)})" if slo and slo.latency_p95_ms else ""
        parts.append(f"p95 {fmt.ms(kpis.p95)}{target}")
    if not math.isnan(kpis.error_rate):
        parts.append(f"errors {fmt.pct(kpis.error_rate, 2)}")
    return "; ".join(parts)


def worst(statuses: Iterable[tuple[str, Status]]) -> Status:
    """A squad's status: the worst of its services', naming which services and why."""
    items = list(statuses)
    if not items:
        return Status("grey", ["no services"])
    level = min((s.level for _, s in items), key=LEVELS.index)
    bad = [(name, s) for name, s in items if s.level == level]
    if level == "green":
        return Status("green", ["its service is normal" if len(items) == 1 else f"all {len(items)} services normal"])
    if level == "grey":
        return Status("grey", [f"no traffic seen for {', '.join(n for n, _ in bad)}"])
    reasons = [f"{name}: {s.reasons[0]}" for name, s in bad[:2] if s.reasons]
    if len(bad) > 2:
        reasons.append(f"and {len(bad) - 2} more services {level}")
    return Status(level, reasons)


# ---- week over week -------------------------------------------------------------------------
def _cube(frame: pd.DataFrame, services: Sequence[str], metrics: Sequence[str], start: datetime, slots: int,
          step: timedelta) -> np.ndarray:
    """values[metric, service, slot] (NaN where missing) from a rollup frame, vectorised."""
    cube = np.full((len(metrics), len(services), slots), np.nan)
    if frame is None or frame.empty:
        return cube
    svc_index = {name: i for i, name in enumerate(services)}
    met_index = {name: i for i, name in enumerate(metrics)}
    rows = frame[frame["metric"].isin(met_index) & frame["service"].isin(svc_index)]
    slot = ((pd.to_datetime(rows["bucket"]) - pd.Timestamp(start)) // pd.Timedelta(step)).to_numpy()
    keep = (slot >= 0) & (slot < slots)
    m = rows["metric"].map(met_index).to_numpy()[keep]
    sv = rows["service"].map(svc_index).to_numpy()[keep]
    cube[m, sv, slot[keep].astype(int)] = rows["value"].to_numpy(dtype=float)[keep]
    return cube


def weekly_kpis(hourly: pd.DataFrame, services: Sequence[str], now: datetime) -> dict[str, Kpis]:
    """Per service: this week [now-7d, now) against the week before, from an hourly rollup
    (columns bucket, service, metric, value). Hourly series are aligned on hour-of-week."""
    if hourly is None or hourly.empty:
        return {}
    names = list(services)
    prev_start = _floor_hour(now) - timedelta(days=14)
    cube = _cube(hourly, names, WOW_METRICS, prev_start, 14 * 24, timedelta(hours=1))
    req, err, lat = cube[0], cube[1], cube[2]
    seen = np.isfinite(req).any(axis=1) | np.isfinite(lat).any(axis=1)
    result: dict[str, Kpis] = {}
    for i in np.flatnonzero(seen):
        result[names[i]] = _kpis_of(req[i], err[i], lat[i])
    return result


def _kpis_of(req: np.ndarray, err: np.ndarray, lat: np.ndarray) -> Kpis:
    req_p, req_c, err_p, err_c, lat_p, lat_c = req[:168], req[168:], err[:168], err[168:], lat[:168], lat[168:]
    hourly = {
        "requests": (_listed(req_c), _listed(req_p)),
        "latency_p95_ms": (_listed(lat_c), _listed(lat_p)),
        "errors": (_listed(_rate(err_c, req_c)), _listed(_rate(err_p, req_p))),
    }
    return Kpis(
        requests=_sum(req_c), requests_prev=_sum(req_p),
        error_rate=_ratio(_sum(err_c), _sum(req_c)), error_rate_prev=_ratio(_sum(err_p), _sum(req_p)),
        p95=_weighted(lat_c, req_c), p95_prev=_weighted(lat_p, req_p), hourly=hourly,
    )


@dataclass(frozen=True)
class WeekTotals:
    """One week of the domain: traffic, cost (NaN when no rows), and services meeting their SLO
    (`slo_met` None when no service with an SLO had traffic that week)."""

    week_start: datetime
    label: str
    requests: float
    cost: float
    slo_met: int | None
    slo_total: int
    slo_met_pct: float


def weekly_domain(daily: pd.DataFrame, catalog: Catalog, now: datetime, weeks: int = 6) -> list[WeekTotals]:
    """Domain totals per week, oldest first: traffic, cost, and the share of services with an SLO
    that met it that week (availability and request-weighted p95 against the targets)."""
    end = _floor_hour(now)
    start = end - timedelta(days=7 * weeks)
    names = [s.name for s in catalog.services]
    metrics = ("requests", "errors", "latency_p95_ms", "cost")
    cube = _cube(daily, names, metrics, start, 7 * weeks, timedelta(days=1))
    cube = cube.reshape(len(metrics), len(names), weeks, 7)  # metric, service, week, day
    req, err, lat, cost = cube
    req_w = np.where(np.isfinite(req).any(axis=2), np.nansum(req, axis=2), np.nan)  # service, week
    err_w = np.nansum(err, axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        lat_w = np.nansum(np.nan_to_num(lat) * np.nan_to_num(req), axis=2) / np.nansum(
            np.where(np.isfinite(lat), np.nan_to_num(req), 0.0), axis=2)
    out: list[WeekTotals] = []
    for w in range(weeks):
        week_start = start + timedelta(days=7 * w)
        costs = cost[:, w, :]
        met, total, pct = _slo_share(catalog, req_w[:, w], err_w[:, w], lat_w[:, w])
        out.append(WeekTotals(
            week_start=week_start, label=week_start.strftime("%d %b"),
            requests=float(np.nansum(req_w[:, w])) if np.isfinite(req_w[:, w]).any() else math.nan,
            cost=float(np.nansum(costs)) if np.isfinite(costs).any() else math.nan,
            slo_met=met, slo_total=total, slo_met_pct=pct,
        ))
    return out


def _slo_share(catalog: Catalog, req: np.ndarray, err: np.ndarray,
               lat: np.ndarray) -> tuple[int | None, int, float]:
    """(services that met their SLO, services with an SLO and traffic, share met in %)."""
    met = total = 0
    for i, svc in enumerate(catalog.services):
        if svc.slo is None or not (req[i] > 0):
            continue
        total += 1
        ok = True
        if svc.slo.availability is not None:
            ok &= 100.0 * (1 - err[i] / req[i]) >= svc.slo.availability
        if svc.slo.latency_p95_ms is not None and np.isfinite(lat[i]):
            ok &= lat[i] <= svc.slo.latency_p95_ms
        met += int(ok)
    with_slo = sum(1 for s in catalog.services if s.slo is not None)
    if not total:
        return None, with_slo, math.nan
    return met, total, 100.0 * met / total


# ---- small numeric helpers ------------------------------------------------------------------
def _floor_hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def _sum(values: np.ndarray) -> float:
    return float(np.nansum(values)) if np.isfinite(values).any() else math.nan


def _ratio(num: float, den: float) -> float:
    if math.isnan(num) and not math.isnan(den) and den > 0:
        return 0.0
    if math.isnan(num) or math.isnan(den) or den <= 0:
        return math.nan
    return 100.0 * num / den


def _rate(errors: np.ndarray, reqs: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(reqs > 0, 100.0 * np.nan_to_num(errors) / reqs, np.nan)


def _weighted(values: np.ndarray, weights: np.ndarray) -> float:
    ok = np.isfinite(values)
    if not ok.any():
        return math.nan
    w = np.where(np.isfinite(weights), weights, 0.0)[ok]
    v = values[ok]
    return float(np.average(v, weights=w)) if w.sum() > 0 else float(v.mean())


def _listed(values: np.ndarray) -> list[float]:
    return [float(v) for v in values]


def _num(value: ConvertibleToFloat | None) -> float:
    if value is None:
        return 0.0
    try:
        out = float(value)
    except (TypeError, ValueError):
        return 0.0
    return 0.0 if math.isnan(out) else out
