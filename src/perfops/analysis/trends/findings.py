"""Turn trends episodes and growth into Finding records: numbers, titles, events, severity.

Every finding carries honest statistics in `evidence`: the norm and the observed level (or the
level before and after), the change in %, the sample size behind the norm, the number of steps
observed, and a p-value with its confidence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from perfops.analysis.context import AnalysisContext
from perfops.analysis.grid import Grid
from perfops.analysis.severity import (
    ESCALATES,
    Impact,
    blast_radius,
    gauge_magnitude,
    incident,
    is_outage,
    lower_to,
    magnitude_points,
    time_to_impact,
)
from perfops.analysis.trends.gauge_spec import spec_of
from perfops.analysis.trends.growth import Growth
from perfops.analysis.trends.levels import Episode
from perfops.analysis.trends.records import MIN_RUN, direction_of, record_mask
from perfops.analysis.trends.signals import Signal
from perfops.model.findings import Finding

YOUNG_NORM_DAYS = 13.0  # below this much history the norm is time-of-day only
TELEMETRY = {"latency": "latency_p95_ms", "errors": "errors/requests", "traffic": "requests", "cpu": "cpu_pct",
             "memory": "memory_pct"}
LABEL = {"latency": "p95 latency", "errors": "error rate", "traffic": "traffic", "cpu": "CPU", "memory": "memory"}
UNIT = {"latency": " ms", "errors": "", "traffic": " req/step", "cpu": " %", "memory": " %"}


def advice(kind: str, event: str | None) -> str:
    """Release advice only where a release (deploy or config change) preceded the shift."""
    if kind == "regression" and event is None:
        return ("No deploy or config change of the service preceded it: look at its dependencies, traffic "
                "mix, infrastructure and outside causes (a holiday, the weather, a campaign) before the code.")
    return ADVICE[kind]


def label(role: str) -> str:
    """How a metric is named in text: the built-in roles' labels, a gauge's own name."""
    return LABEL.get(role) or role.replace("_", " ")


ADVICE = {
    "regression": "Compare the release with the one before it (profiles, slow queries, config diff); roll back if users are hurt.",
    "improvement": "Nothing to do; note what changed so the gain is kept.",
    "anomaly": "Check what happened at that time (dependencies, traffic mix, infrastructure) and whether it can recur.",
}


@dataclass
class Reporter:
    ctx: AnalysisContext
    grid: Grid
    split: int
    sustain: timedelta
    deploy_window: timedelta
    # anomalies reported so far per (metric, row): (start column, direction, distance from the
    # norm at the extreme step), in time order
    reported: dict[tuple[str, int], list[tuple[int, int, float]]] = field(default_factory=dict)

    # ---- episodes -----------------------------------------------------------------------
    def episode(self, signal: Signal, ep: Episode) -> Finding:
        service, endpoint = self.grid.keys[ep.row]
        cols = slice(ep.start, ep.end)
        start = self._time(ep.start)
        end = None if ep.end is None else self._time(ep.end)
        stats = self._stats(signal, ep, cols)
        event = self._event(service, start, self.deploy_window if ep.kind != "anomaly" else timedelta(minutes=30))
        evidence = self._evidence(signal, ep, stats)
        impact = replace(self._impact(service, signal.role, ep, stats, end),
                         recurrences=self._recurrences(signal.role, ep, stats), record=self._record(signal.role, ep))
        # critical is for what is still going on; a transient that is over tops out at high
        cap = "info" if ep.kind == "improvement" else ("high" if end is not None else "critical")
        history_days = self.history_days_of(service)
        evidence.update(norm_history(history_days, signal.role))
        if signal.role != "errors" and history_days < YOUNG_NORM_DAYS:
            # a young norm (perfops.analysis.seasonal.young_norm) compares like days only and its
            # tolerance is already widened by how few they are: medium at most, never high
            cap = lower_to(cap, "medium")
        verdict = incident(impact, cap=cap)
        return Finding(
            kind=ep.kind, severity=verdict.level, service=service, squad=self._squad(service),
            title=self._title(signal.role, ep, service, endpoint, stats, event, start, end),
            detail=self._detail(signal.role, ep, stats, start, end),
            start=start, end=end, metric=signal.role, endpoint=endpoint or None,
            evidence=verdict.evidence(evidence), recommendation=self._advice(ep, stats, event),
            impact={"requests_affected": int(stats["requests"] if signal.role != "traffic" else stats["lost_requests"]),
                    "failed_requests": int(stats["excess_errors"]),
                    "duration_minutes": None if end is None else int((end - start).total_seconds() // 60)},
            event=event, key=_hour(start),
        )

    def _record(self, role: str, ep: Episode) -> bool:
        """Whether the episode holds a record run: beyond the whole history (trends.records)."""
        values = self.grid.values.get(TELEMETRY.get(role, role))
        gauge = None if role in LABEL else spec_of(self.ctx.catalog, self.grid.keys[ep.row][0], role).direction
        way = direction_of(role, gauge)
        if values is None or way is None:
            return False
        mask = record_mask(values[ep.row: ep.row + 1], self.grid.epoch, self.split, way, MIN_RUN.get(role, 0))[0]
        return bool(mask[ep.start: ep.end].any())

    def _recurrences(self, role: str, ep: Episode, stats: dict[str, float]) -> int:
        """Anomalies of the same series in the same direction that started in the day before
        this one (runs come in time order per series); none when this one went `ESCALATES` times
        as far from its norm at its extreme step as every one of them (no repeat of the day's
        pattern: it escalates). Records this one."""
        if ep.kind != "anomaly":
            return 0
        direction = 1 if stats["observed"] >= stats["norm"] else -1
        reach = abs(stats["peak"] - stats["peak_norm"]) if "peak" in stats else abs(stats["observed"] - stats["norm"])
        reach = reach if math.isfinite(reach) else 0.0
        day = 86_400 // self.grid.step
        earlier = self.reported.setdefault((role, ep.row), [])
        like = [went for start, sign, went in earlier if sign == direction and ep.start - start <= day]
        earlier.append((ep.start, direction, reach))
        return 0 if like and reach > 0 and reach >= ESCALATES * max(like) else len(like)

    @staticmethod
    def _advice(ep: Episode, stats: dict[str, float], event: str | None) -> str:
        if stats.get("outage"):
            return ("Check that the service is up and receiving work (health checks, scheduler, load balancer "
                    "targets, upstream routing); callers of a stopped service fail or queue.")
        return advice(ep.kind, event)  # release advice only where a release preceded it

    def _stats(self, signal: Signal, ep: Episode, cols: slice) -> dict[str, float]:
        """The episode's own numbers: the total against the norm over its stretch (sum of observed
        over sum of the norm, so "down 65%" is the share of traffic lost) and its extreme step."""
        row = ep.row
        obs = signal.observed[row, cols]
        norm = signal.norm[row, cols]
        req = self._requests(row)[cols]
        both = np.isfinite(obs) & np.isfinite(norm)
        stats = {"requests": float(np.nansum(req)), "excess_errors": 0.0, "steps": int(np.isfinite(obs).sum()),
                 "lost_requests": float(np.nansum(np.maximum(norm - obs, 0))) if signal.role == "traffic" else 0.0,
                 "samples": float(np.nanmedian(signal.samples[row, cols])) if obs.size else 0.0}
        if signal.role == "errors":
            errs = obs * req
            total_e, total_r = float(np.nansum(errs)), float(np.nansum(req))
            rate0 = float(np.nanmedian(norm)) if np.isfinite(norm).any() else 0.0
            stats.update(observed=total_e / total_r if total_r else 0.0, norm=rate0, errors=total_e,
                         excess_errors=max(0.0, total_e - rate0 * total_r))
            stats["p_value"] = _poisson_tail(total_e, rate0 * total_r)
        else:
            stats.update(observed=float(obs[both].mean()) if both.any() else math.nan,
                         norm=float(norm[both].mean()) if both.any() else math.nan)
            z = np.abs(signal.z[row, cols])
            stats["z"] = _median(z[np.isfinite(z)]) if np.isfinite(z).any() else 0.0
            stats["p_value"] = math.erfc(stats["z"] / math.sqrt(2)) if stats["z"] else 1.0
        if ep.p_value is not None:  # a shift: the change point's test is the one p-value everywhere
            stats["p_value"] = ep.p_value
        drift = signal.drift[row, cols]
        if np.isfinite(drift).any():
            direction = 1.0 if np.nansum(drift) >= 0 else -1.0
            i = int(np.nanargmax(direction * drift))
            stats.update(peak=float(obs[i]), peak_norm=float(norm[i]), peak_col=float(ep.start + i))
        stats["outage"] = float(signal.outage is not None and bool(signal.outage[row, cols].any())
                                and is_outage(signal.role, stats["observed"], stats["norm"]))
        change = _change(stats["observed"], stats["norm"])
        stats["change"] = math.nan if change is None else change
        return stats

    def _evidence(self, signal: Signal, ep: Episode, stats: dict[str, float]) -> dict:
        p = stats["p_value"]
        ev: dict[str, Any] = {
            "telemetry_metric": TELEMETRY.get(signal.role, signal.role),
            "norm": _round(stats["norm"]), "observed": _round(stats["observed"]),
            "change_pct": None if math.isnan(stats["change"]) else round(100 * stats["change"], 1),
            "sample_size": {"norm_samples": int(stats["samples"]), "steps_observed": stats["steps"],
                            "requests": int(stats["requests"])},
            "p_value": float(f"{p:.3g}"), "confidence": round(1 - p, 6),
            "aggregate": "total over the episode against the norm over the same steps",
        }
        if "peak" in stats:
            ev["extreme"] = {"at": self._time(int(stats["peak_col"])).isoformat(), "observed": _round(stats["peak"]),
                             "norm": _round(stats["peak_norm"])}
        if signal.role == "traffic":
            ev["lost_requests"] = int(stats["lost_requests"])
        if "z" in stats:
            ev["deviation_z"] = round(stats["z"], 2)
        if signal.role == "errors":
            ev["errors"] = int(stats["errors"])
            ev["excess_errors"] = int(stats["excess_errors"])
        if ep.kind != "anomaly":
            ev.update(before=_round(self._level(signal.role, stats["norm"], ep.before)),
                      after=_round(self._level(signal.role, stats["norm"], ep.after)),
                      effect_size=None if ep.effect_size is None else round(ep.effect_size, 2),
                      method="binary segmentation with t-tests (Otava-style) on the deseasonalised series")
        else:
            ev["method"] = "robust seasonal norm (median/MAD by time of week)" if signal.role != "errors" \
                else "Poisson tail of errors given the baseline rate (Beta prior)"
        return ev

    @staticmethod
    def _level(role: str, norm: float, drift: float) -> float:
        if role in ("latency", "traffic"):
            return norm * math.exp(drift)
        return norm + drift

    def _impact(self, service: str, role: str, ep: Episode, stats: dict[str, float], end: datetime | None) -> Impact:
        svc = self.ctx.catalog.service_by_name.get(service)
        dependents, tier = blast_radius(self.ctx.catalog, service)
        duration = None if end is None else end - self._time(ep.start)
        slo_ratio = self._slo_ratio(svc, role, stats["observed"])
        slo = svc.slo.latency_p95_ms if role == "latency" and svc is not None and svc.slo is not None else None
        # the magnitude of a shift is its level; of an anomaly, also its extreme (a burst)
        # ... its level over the whole episode, against the usual daily peak of levels as long
        size = self._magnitude(ep.row, role, stats["observed"], stats["norm"], slo, stats.get("z"),
                               steps=self._length(ep))
        within_peak = None
        if ep.kind == "anomaly" and "peak" in stats and role != "traffic":
            # one extreme step counts only beyond what the series reaches on an ordinary day
            usual = self._usual_peak(TELEMETRY.get(role, role), ep.row)
            if stats["peak"] > stats["peak_norm"] and usual is not None:
                within_peak = bool(stats["peak"] <= usual)
            if not within_peak:
                size = max(size, self._magnitude(ep.row, role, stats["peak"], stats["peak_norm"], slo, None) - 1)
        return Impact(tier=tier, requests_affected=stats["requests"] if role != "traffic" else stats["lost_requests"],
                      failed_requests=stats["excess_errors"], duration=duration, slo_ratio=slo_ratio,
                      relative_change=None if math.isnan(stats["change"]) else abs(stats["change"]),
                      magnitude=size, outage=bool(stats["outage"]), dependents=dependents,
                      robust_z=stats.get("z"), norm_samples=stats["samples"],
                      resource=role not in ("latency", "errors", "traffic"), within_daily_peak=within_peak)

    def _length(self, ep: Episode) -> int:
        """The episode's columns (an ongoing one: to the end of the period)."""
        end = ep.end if ep.end is not None else self.grid.epoch.size - self.split
        return max(int(end - ep.start), 1)

    def _magnitude(self, row: int, role: str, observed: float, norm: float, slo: float | None,
                   z: float | None, steps: int = 1) -> int:
        """Magnitude points in the metric's own scale: the built-in roles by `magnitude_points`,
        a gauge by its direction, capacity, unit and usual daily peak (`gauge_magnitude`)."""
        if role in LABEL:
            return magnitude_points(role, observed, norm, slo)
        spec = spec_of(self.ctx.catalog, self.grid.keys[row][0], role)
        signed = None if z is None else math.copysign(z, observed - norm)
        return gauge_magnitude(spec.direction, observed, norm, spec.capacity, signed, spec.unit,
                               usual_peak=self._usual_peak(role, row, steps))

    def _usual_peak(self, metric: str, row: int, steps: int = 1) -> float | None:
        """The median over the history's days of each day's maximum (UTC days with data) of the
        mean over `steps` consecutive steps (capped at a day): like with like, a burst's step
        against the usual peak step, a 13-hour level against the usual highest 13 hours."""
        values = self.grid.values.get(metric)
        if values is None:
            return None
        history = values[row, : self.split]
        seen = np.isfinite(history)
        if not seen.any():
            return None
        window = min(max(int(steps), 1), max(86_400 // self.grid.step, 1))
        if window > 1:
            history = pd.Series(history).rolling(window, min_periods=max(window // 2, 1)).mean().to_numpy()
            seen = np.isfinite(history)
            if not seen.any():
                return None
        days = pd.Series(history[seen]).groupby(self.grid.epoch[: self.split][seen] // 86_400).max()
        return float(days.median())

    @staticmethod
    def _slo_ratio(svc, role: str, observed: float) -> float | None:
        if svc is None or svc.slo is None:
            return None
        if role == "latency" and svc.slo.latency_p95_ms:
            return observed / svc.slo.latency_p95_ms
        if role == "errors" and svc.slo.availability:
            return observed / max(1e-9, 1 - svc.slo.availability / 100)
        return None

    def _title(self, role, ep: Episode, service, endpoint, stats, event, start, end) -> str:
        who = f"{service} {endpoint}".strip()
        what = label(role)
        lasting = "ongoing" if end is None else f"for {_duration(end - start)}"
        if stats.get("outage"):
            return (f"{who}: {what} fell to near zero ({_value(role, stats['observed'])} against a norm of "
                    f"{_value(role, stats['norm'])}) {lasting}")
        if role == "errors":
            size = f"at {_pct(stats['observed'])} (norm {_pct(stats['norm'])})"
        elif role in ("cpu", "memory"):  # already a percentage: points, never "up 90,000%" of a near-zero norm
            size = f"at {_points(stats['observed'])} (norm {_points(stats['norm'])})"
        elif math.isnan(stats["change"]):  # a norm of zero: no ratio, say the levels
            size = f"at {_value(role, stats['observed'])} (norm {_value(role, stats['norm'])})"
        else:
            ch = stats["change"]
            size = f"{'up' if ch >= 0 else 'down'} {_ratio_text(ch)} vs its norm"
        if ep.kind == "anomaly":
            extreme = self._extreme_text(role, stats)
            return f"{who}: {what} {size}{extreme} {lasting}"
        when = f"after {event}" if event else f"since {start:%a %d %b %H:%M} UTC"
        verb = "regressed" if ep.kind == "regression" else "improved"
        if size.startswith("at "):  # a level with its norm: "regressed to 0.26% (norm 0.10%)"
            return f"{who}: {what} {verb} to {size.removeprefix('at ')} {when}"
        return f"{who}: {what} {verb} ({size}) {when}"

    @staticmethod
    def _extreme_text(role: str, stats: dict[str, float]) -> str:
        """', peak 950 ms against 1.0 ms': the extreme step, when it says more than the total."""
        if "peak" not in stats or role == "errors":
            return ""
        word = "lowest" if stats["peak"] < stats["peak_norm"] else "peak"
        return f", {word} {_value(role, stats['peak'])} against {_value(role, stats['peak_norm'])},"

    def _detail(self, role, ep: Episode, stats, start, end) -> str:
        fmt = _pct if role == "errors" else (lambda v: _value(role, v))
        span = f"from {start:%Y-%m-%d %H:%M}" + (" (ongoing)" if end is None else f" to {end:%Y-%m-%d %H:%M} UTC")
        text = (f"{label(role).capitalize()} averaged {fmt(stats['observed'])} against a norm of "
                f"{fmt(stats['norm'])} over the same steps {span}")
        if "peak" in stats and role != "errors":
            text += f"; the extreme step was {fmt(stats['peak'])} against {fmt(stats['peak_norm'])}"
        if role == "traffic" and stats["lost_requests"]:
            text += f"; {int(stats['lost_requests']):,} requests fewer than the norm"
        return f"{text}; {int(stats['requests']):,} requests in that time; p = {stats['p_value']:.2g}."

    def history_days_of(self, service: str) -> float:
        """Days of the service's data before the period (from the first step any of its series
        has data): per service, so a finding does not depend on which services share its chunk."""
        return self._history_days.get(service, 0.0)

    @cached_property
    def _history_days(self) -> dict[str, float]:
        services = np.array([s for s, _ in self.grid.keys], dtype=object)
        out: dict[str, float] = {}
        for service in dict.fromkeys(services.tolist()):
            rows = services == service
            seen = np.zeros(self.split, dtype=bool)
            for values in self.grid.values.values():
                seen |= np.isfinite(values[rows, : self.split]).any(axis=0)
            first = int(np.argmax(seen)) if seen.any() else self.split
            out[str(service)] = (self.split - first) * self.grid.step / 86_400
        return out

    # ---- growth -------------------------------------------------------------------------
    def growth(self, g: Growth) -> Finding:
        service, endpoint = self.grid.keys[g.row]
        svc = self.ctx.catalog.service_by_name.get(service)
        start = self.ctx.now - timedelta(days=g.days)
        verdict = time_to_impact(svc.tier if svc else 2, days=g.days_to_full)
        traffic = "flat" if g.traffic_growth_per_day is None or abs(g.traffic_growth_per_day) < 0.005 \
            else f"{g.traffic_growth_per_day * 100:+.1f}%/day"
        return Finding(
            kind="resource_growth", severity=verdict.level,
            service=service, squad=self._squad(service), metric=g.role, endpoint=endpoint or None,
            title=f"{service}: {g.role} grows {g.slope_per_day:.1f} points a day while traffic does not; "
                  f"100% in about {g.days_to_full:.0f} days",
            detail=(f"Daily mean {g.role} rose from {g.level_start:.1f}% to {g.level_now:.1f}% over {g.days} days "
                    f"(R^2 {g.r2:.2f}); traffic {traffic}. Leak-like: it does not follow the load."),
            start=start, end=None,
            evidence=verdict.evidence({"slope_pct_per_day": round(g.slope_per_day, 3), "r2": round(g.r2, 3),
                      "before": round(g.level_start, 2), "after": round(g.level_now, 2),
                      "sample_size": {"days": g.days}, "p_value": float(f"{g.p_value:.3g}"),
                      "confidence": round(1 - g.p_value, 6), "traffic_growth_pct_per_day":
                          None if g.traffic_growth_per_day is None else round(100 * g.traffic_growth_per_day, 2),
                      "within_segment_slope_pct_per_day": round(g.within_slope_per_day, 3),
                      "method": "least squares on daily means; slope within the segments between change points"}),
            recommendation="Look for a leak (heap dumps, connection or cache growth) before it reaches 100%; "
                           "a restart only buys time.",
            impact={"days_to_saturation": round(g.days_to_full, 1)},
        )

    # ---- helpers ------------------------------------------------------------------------
    def _time(self, col: int) -> datetime:
        return pd.Timestamp(int(self.grid.epoch[self.split + col]), unit="s").to_pydatetime()

    def _requests(self, row: int) -> np.ndarray:
        req = self.grid.values.get("requests")
        if req is None:
            return np.zeros(self.grid.epoch.size - self.split)
        own = req[row, self.split:]
        if np.isfinite(own).any():
            return own
        service = self.grid.keys[row][0]
        rows = [i for i, (s, _) in enumerate(self.grid.keys) if s == service]
        return np.nansum(req[rows, self.split:], axis=0)

    def _squad(self, service: str) -> str:
        svc = self.ctx.catalog.service_by_name.get(service)
        return svc.squad if svc else "unknown"

    def _event(self, service: str, start: datetime, window: timedelta) -> str | None:
        ev = self.ctx.events
        if ev is None or ev.empty:
            return None
        ts = pd.to_datetime(ev["timestamp"])
        mask = ((ev["service"] == service) & ev["type"].isin(["deploy", "config"])
                & (ts >= start - window) & (ts <= start + timedelta(minutes=15)))
        if not mask.any():
            return None
        row = ev[mask].assign(_ts=ts[mask]).sort_values("_ts").iloc[-1]
        version = str(row.get("version") or "").strip()
        if version and version.lower() != "nan":
            return f"{service} {version}"
        desc = str(row.get("description") or "").strip()
        return f"{service} {row['type']}" + (f": {desc}" if desc and desc.lower() != "nan" else "")


def norm_history(days: float, role: str) -> dict:
    """How much history the norm had, and what it compared with (issue 13 item 6)."""
    if role == "errors":
        basis = "the median hourly error rate of the history"
    elif days < YOUNG_NORM_DAYS:
        basis = ("young norm: the same time of day on the weekdays (for a weekday) or weekend days "
                 "(for a weekend day) of the history, tolerance widened by sqrt(1 + (pi/2)/days)")
    else:
        basis = "the same time of week in the previous weeks"
    return {"norm_history_days": round(days, 1), "norm_basis": basis}


def _poisson_tail(k: float, mu: float) -> float:
    from scipy.special import pdtrc

    if k <= 0:
        return 1.0
    return float(pdtrc(max(k - 1, 0.0), max(mu, 1e-12)))


def _median(a: np.ndarray) -> float:
    a = a[np.isfinite(a)]
    return float(np.median(a)) if a.size else float("nan")


def _change(observed: float, norm: float) -> float | None:
    if not (math.isfinite(observed) and math.isfinite(norm)) or norm == 0:
        return None
    return observed / norm - 1.0


def _round(v: float) -> float | None:
    if v is None or not math.isfinite(v):
        return None
    return float(f"{v:.4g}")


def _value(role: str, v: float) -> str:
    """A value in the metric's own unit: '950 ms', '12 req/step', '0.4%'."""
    if not math.isfinite(v):
        return "no value"
    if role in ("cpu", "memory"):
        return _points(v)
    if role == "errors":
        return _pct(v)
    unit = UNIT.get(role, "")  # a gauge's values are shown as they are
    return f"{v:,.1f}{unit}" if abs(v) < 100 else f"{v:,.0f}{unit}"


def _ratio_text(change: float) -> str:
    """'65%' for a change under 2x, '3.2x' (times the norm) above: never 'up 94,900%'."""
    if change >= 1.0:
        return f"{change + 1:,.1f}×" if change < 99 else f"{change + 1:,.0f}×"
    return f"{abs(change) * 100:.0f}%"


def _pct(rate: float) -> str:
    return f"{rate * 100:.2f}%"


def _points(value: float) -> str:
    """A utilisation percentage: '54%', '0.3%'."""
    return f"{value:.1f}%" if abs(value) < 10 else f"{value:.0f}%"


def _duration(d: timedelta) -> str:
    minutes = int(d.total_seconds() // 60)
    return f"{minutes} min" if minutes < 120 else f"{minutes / 60:.1f} h"


def _hour(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H")
