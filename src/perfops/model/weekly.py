"""The week in a few numbers: the key numbers of a scope (domain, squad or service) for one
analysis run, their movement against the previous stored run, and the bucketed series a squad
strip draws. Pure: the stored figures of the runs (rollups, costs) and the counts come in.

One rule for the reports, the digests and the dashboard (perfops.reports.weekly_view reads the
store's figures into these):

- requests: the sum over the run's last 7 days (the hourly rollup `analyze` stored);
- p95 latency: the request-weighted mean of the services' hourly p95, as everywhere else;
- error rate: server errors / requests over the 7 days, in %;
- spend: the cost figures' last 7 days (NaN when no service of the scope has one);
- open incidents: the incidents not resolved when the run was made.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from perfops.model import format as fmt
from perfops.model.figures import CostFigure
from perfops.model.health import Kpis

# (key, label, unit); unit "%" = percentage points are shown, "ms", "money", "" = a count
KEY_NUMBERS: tuple[tuple[str, str, str], ...] = (
    ("requests", "Requests (7 days)", ""),
    ("latency_p95_ms", "p95 latency", "ms"),
    ("error_rate_pct", "Error rate", "%"),
    ("spend", "Spend (7 days)", "money"),
    ("open_incidents", "Open incidents", ""),
)


@dataclass(frozen=True)
class KeyNumbers:
    requests: float = math.nan
    latency_p95_ms: float = math.nan
    error_rate_pct: float = math.nan
    spend: float = math.nan
    open_incidents: float = math.nan

    def value(self, key: str) -> float:
        return float(getattr(self, key))

    def to_dict(self) -> dict[str, float | None]:
        return {key: _clean(self.value(key)) for key, _, _ in KEY_NUMBERS}


def key_numbers(kpis: Mapping[str, Kpis], costs: Mapping[str, CostFigure], services: Iterable[str],
                open_incidents: int | None) -> KeyNumbers:
    """The key numbers of `services` from one run's week-over-week figures and cost figures."""
    names = list(services)
    chosen = [kpis[n] for n in names if n in kpis and kpis[n].has_traffic]
    requests = sum(k.requests for k in chosen) if chosen else math.nan
    errors = sum(k.error_rate / 100.0 * k.requests for k in chosen if not math.isnan(k.error_rate))
    timed = [(k.p95, k.requests) for k in chosen if not math.isnan(k.p95)]
    weight = sum(r for _, r in timed)
    p95 = sum(p * r for p, r in timed) / weight if weight > 0 else math.nan
    spent = [float(c) for n in names if n in costs and (c := costs[n].last_7_days) is not None]
    return KeyNumbers(
        requests=requests, latency_p95_ms=p95,
        error_rate_pct=100.0 * errors / requests if requests and not math.isnan(requests) else math.nan,
        spend=float(sum(spent)) if spent else math.nan,
        open_incidents=math.nan if open_incidents is None else float(open_incidents),
    )


@dataclass(frozen=True)
class Move:
    key: str
    label: str
    unit: str
    now: float
    before: float

    @property
    def change_pct(self) -> float:
        """Relative change in %; NaN when either side is missing or the earlier one is 0."""
        if math.isnan(self.now) or math.isnan(self.before) or self.before == 0:
            return math.nan
        return 100.0 * (self.now - self.before) / self.before

    @property
    def delta(self) -> float:
        return self.now - self.before

    def to_dict(self) -> dict[str, object]:
        return {"key": self.key, "label": self.label, "now": _clean(self.now), "before": _clean(self.before),
                "change_pct": _clean(self.change_pct, 1)}


@dataclass(frozen=True)
class Movement:
    """This run's key numbers against the previous stored run's (`before` None: there is none)."""

    now: KeyNumbers
    before: KeyNumbers | None
    previous_end: datetime | None = None  # the previous run's period end

    def moves(self) -> list[Move]:
        before = self.before or KeyNumbers()
        return [Move(key, label, unit, self.now.value(key), before.value(key)) for key, label, unit in KEY_NUMBERS]

    def to_dict(self) -> dict[str, object]:
        return {"previous_run_end": self.previous_end.isoformat() + "Z" if self.previous_end else None,
                "now": self.now.to_dict(), "before": self.before.to_dict() if self.before else None,
                "moves": [m.to_dict() for m in self.moves()] if self.before else []}


# ---- in words (reports, digests, the dashboard) ----------------------------------------------------
def value_text(v: float, unit: str, currency: str) -> str:
    if math.isnan(v):
        return "–"
    if unit == "ms":
        return fmt.ms(v)
    if unit == "%":
        return fmt.pct(v, 2)
    if unit == "money":
        return fmt.money(v, currency)
    return fmt.compact(v) if v >= 10_000 else fmt.number(v)


def change_text(m: Move) -> str:
    """Relative for volumes, in percentage points for a rate, as a difference for a count."""
    if math.isnan(m.now) or math.isnan(m.before):
        return "–"
    if m.unit == "%":
        return f"{'+' if m.delta > 0 else ''}{m.delta:.2f} pts"
    if m.key == "open_incidents":
        return "no change" if m.delta == 0 else f"{'+' if m.delta > 0 else ''}{int(m.delta)}"
    return fmt.change(m.change_pct) if not math.isnan(m.change_pct) else "–"


def movement_words(movement: Movement, currency: str, timezone: str = "UTC") -> str:
    """One line: each key number now and its change, or 'No previous run' and the numbers now."""
    moves = movement.moves()
    if movement.before is None:
        now = "; ".join(f"{m.label.lower()} {value_text(m.now, m.unit, currency)}" for m in moves)
        return f"No previous run: this is the first stored analysis, nothing to compare with yet. Now: {now}."
    since = f" (against the run ending {fmt.local_date(movement.previous_end, timezone)})" if movement.previous_end else ""
    parts = "; ".join(f"{m.label.lower()} {value_text(m.now, m.unit, currency)} ({change_text(m)})" for m in moves)
    return f"Week over week{since}: {parts}."


# ---- the strip of a squad ------------------------------------------------------------------------
@dataclass(frozen=True)
class StripSeries:
    """A scope's values per bucket (oldest first) over `days` before `end`: requests, p95,
    error rate and cost, NaN where the bucket had no data."""

    end: datetime
    bucket_days: int
    values: dict[str, list[float]]

    def to_dict(self) -> dict[str, object]:
        return {"end": self.end.isoformat() + "Z", "bucket_days": self.bucket_days,
                "values": {k: [_clean(v) for v in vs] for k, vs in self.values.items()}}


def strip_series(daily: pd.DataFrame, services: Sequence[str], end: datetime, days: int,
                 bucket_days: int) -> StripSeries:
    """Bucketed totals of `services` (see strips_by_group)."""
    return strips_by_group(daily, {"": services}, end, days, bucket_days)[""]


def strips_by_group(daily: pd.DataFrame, groups: Mapping[str, Sequence[str]], end: datetime, days: int,
                    bucket_days: int) -> dict[str, StripSeries]:
    """Per group of services (a squad), its totals per bucket of `bucket_days` over `days`
    before `end`, from a daily rollup (columns bucket, service, metric, value): requests, errors
    and cost summed, p95 weighted by the same service and day's requests (1 when unknown). One
    pass over the rollup for every group (a domain of 1,000 services has ~170k rows)."""
    buckets = max(days // bucket_days, 1)
    span = buckets * bucket_days
    start = end - timedelta(days=span)
    names = sorted({s for members in groups.values() for s in members})
    index = {name: i for i, name in enumerate(names)}
    metrics = ("requests", "errors", "latency_p95_ms", "cost")
    cube = np.full((len(metrics), len(names), span), np.nan)
    if daily is not None and not daily.empty and names:
        rows = daily[daily["metric"].isin(metrics) & daily["service"].isin(index)]
        day = ((pd.to_datetime(rows["bucket"]) - pd.Timestamp(start)) // pd.Timedelta(days=1)).to_numpy()
        keep = (day >= 0) & (day < span)
        m = rows["metric"].map({k: i for i, k in enumerate(metrics)}).to_numpy()[keep]
        sv = rows["service"].map(index).to_numpy()[keep]
        cube[m, sv, day[keep].astype(int)] = rows["value"].to_numpy(dtype=float)[keep]
    req, err, lat, cost = cube
    weight = np.where(np.isfinite(lat), np.where(np.isfinite(req) & (req > 0), req, 1.0), 0.0)
    out = {}
    for group, members in groups.items():
        idx = [index[s] for s in members]

        def per_bucket(values: np.ndarray, idx: list[int] = idx) -> np.ndarray:
            part = values[idx].reshape(len(idx), buckets, bucket_days)
            return np.where(np.isfinite(part).any(axis=(0, 2)), np.nansum(part, axis=(0, 2)), np.nan)

        r = per_bucket(req)
        w = weight[idx].reshape(len(idx), buckets, bucket_days)
        num = (np.nan_to_num(lat[idx]).reshape(len(idx), buckets, bucket_days) * w).sum(axis=(0, 2))
        den = w.sum(axis=(0, 2))
        with np.errstate(divide="ignore", invalid="ignore"):
            p95 = np.where(den > 0, num / den, np.nan)
            rate = np.where(r > 0, 100.0 * np.nan_to_num(per_bucket(err)) / r, np.nan)
        out[group] = StripSeries(end=end, bucket_days=bucket_days, values={
            "requests": _floats(r), "latency_p95_ms": _floats(p95), "error_rate_pct": _floats(rate),
            "cost": _floats(per_bucket(cost))})
    return out


def _floats(values: np.ndarray) -> list[float]:
    return [float(v) for v in values]


def _clean(value: float, digits: int = 4) -> float | None:
    return None if value is None or math.isnan(value) or math.isinf(value) else round(float(value), digits)
