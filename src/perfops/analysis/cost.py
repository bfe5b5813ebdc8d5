"""Cost findings: cost_anomaly, unit_cost_increase, savings_opportunity.

* cost_anomaly: a day of the period whose spend is off the history's median day by more than
  max(5 robust sigmas (1.4826 x MAD), 50% of the median) — Hampel's identifier; consecutive days
  merge into one finding.
* unit_cost_increase: the period's median daily cost per 1,000 requests is at least 10% above the
  history's median and above the history's 95th percentile day; priced as the extra unit cost
  times the current monthly volume; the driver (spend, volume or CPU per request) is named.
* savings_opportunity: a service whose peak utilisation stayed under 60% of its target all
  period; the instances its peak x forecast growth x (1 + margin) needs (at least
  `min_instances`) replace the current count; impact.monthly_savings = the difference x the
  instance-hour price x 730. Never below what the peak and the forecast need.
Spend is read at the cost series' own step (hourly or daily billing next to 5-minute traffic):
days under 80% covered by cost rows are not judged (perfops.analysis.capacity.costs).
Methods: docs/methods/capacity_cost.md ("Cost at its own step").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from perfops.analysis.capacity.costs import HOURS_PER_MONTH, ServiceCost, fmt_money
from perfops.analysis.capacity.model import CapacityParams, ServiceCapacity
from perfops.analysis.capacity.shared_pass import assessed, chunks_of
from perfops.analysis.context import AnalysisContext, area_params
from perfops.analysis.severity import money, redundant_instances, unit_cost
from perfops.model.findings import Finding

ANOMALY_SIGMAS = 5.0
ANOMALY_MIN_RATIO = 0.5
UNIT_COST_MIN_RISE = 0.10
SAVINGS_RATIO = 0.6  # savings only where the period's peak stayed under this fraction of target


def run(ctx: AnalysisContext) -> list[Finding]:
    """Every cost finding of the catalog's services, service by service in catalog order."""
    return run_services(ctx, [s.name for s in ctx.catalog.services])


def run_services(ctx: AnalysisContext, services: list[str]) -> list[Finding]:
    """The cost findings of some services (chunks shared with the capacity analysis through
    perfops.analysis.capacity.shared_pass); `run` is the concatenation of this over any split."""
    params = area_params(ctx, "capacity", CapacityParams)
    currency = ctx.catalog.currency
    findings: list[Finding] = []
    for chunk in chunks_of(list(services), params.chunk_size):
        found = assessed(ctx, chunk, params)
        for cost, state in zip(found.costs, found.states, strict=True):
            findings.extend(service_findings(ctx, cost, state, params, currency))
    return findings


def service_findings(ctx: AnalysisContext, cost: ServiceCost, state: ServiceCapacity, params: CapacityParams,
                     currency: str) -> list[Finding]:
    """Spend anomalies, then the unit-cost rise, then the saving, of one service."""
    findings = anomaly_findings(ctx, cost, currency)
    unit = unit_cost_finding(ctx, cost, currency)
    if unit:
        findings.append(unit)
    saving = savings_finding(ctx, state, cost, params, currency)
    if saving:
        findings.append(saving)
    return findings


# ---- spend anomalies ------------------------------------------------------------------------------
def anomalous_days(cost: ServiceCost) -> tuple[np.ndarray, float, float]:
    """Indexes of period days off the norm, the norm (median day) and the tolerance."""
    judged = cost.judged_spend
    hist = judged[cost.history]
    hist = hist[np.isfinite(hist)]
    if hist.size < 3:
        return np.zeros(0, dtype=int), math.nan, math.nan
    med = float(np.median(hist))
    sigma = 1.4826 * float(np.median(np.abs(hist - med)))
    tol = max(ANOMALY_SIGMAS * sigma, ANOMALY_MIN_RATIO * med)
    period = judged[cost.period]
    off = np.flatnonzero(np.isfinite(period) & (np.abs(period - med) > tol))
    return off + cost.period.start, med, tol


def _runs(indexes: np.ndarray) -> list[tuple[int, int]]:
    """Consecutive runs [first, last] of sorted indexes."""
    runs: list[tuple[int, int]] = []
    for i in (int(k) for k in indexes):
        if runs and i == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], i)
        else:
            runs.append((i, i))
    return runs


@dataclass(frozen=True)
class SpendEpisode:
    """An off-norm stretch of spend: when it began and ended, its excess over the norm, and the
    highest (or lowest) 24 hours of it against the median day."""

    start: datetime
    end: datetime
    excess: float
    ratio: float


def spend_episode(cost: ServiceCost, first: int, last: int, med: float, tol: float) -> SpendEpisode:
    """Refine a run of off-norm days to the hour: hours from the day before to the day after
    whose spend is off its hour-of-day norm (median over the history) by more than tol / 24."""
    spend = cost.daily_spend[first : last + 1]
    coarse = SpendEpisode(cost.day_starts[first], cost.day_starts[last] + timedelta(days=1),
                          float(np.sum(spend - med)), float(np.max(spend) / med) if med > 0 else math.inf)
    hours = cost.hourly_spend
    hist_days = cost.history.stop
    if hours is None or hist_days < 3 or med <= 0:
        return coarse
    norm = np.nanmedian(hours[: hist_days * 24].reshape(hist_days, 24), axis=0)
    lo, hi = max(0, (first - 1) * 24), min(len(hours), (last + 2) * 24)
    dev = np.nan_to_num(hours[lo:hi] - norm[np.arange(lo, hi) % 24])
    sign = 1.0 if coarse.excess >= 0 else -1.0
    off = np.flatnonzero(sign * dev > tol / 24.0)
    if off.size == 0:
        return coarse
    a, b = int(off[0]), int(off[-1])
    window = min(24, b - a + 1)
    sums = np.convolve(np.nan_to_num(hours[lo + a : lo + b + 1]), np.ones(window), "valid") * 24.0 / window
    ratio = float((sums.max() if sign > 0 else sums.min()) / med)
    t0 = cost.day_starts[0]
    return SpendEpisode(t0 + timedelta(hours=lo + a), t0 + timedelta(hours=lo + b + 1), float(dev[a : b + 1].sum()), ratio)


def anomaly_findings(ctx: AnalysisContext, cost: ServiceCost, currency: str) -> list[Finding]:
    days, med, tol = anomalous_days(cost)
    out = []
    for first, last in _runs(days):
        spend = cost.daily_spend[first : last + 1]
        ep = spend_episode(cost, first, last, med, tol)
        excess, ratio = ep.excess, ep.ratio
        verdict = money(abs(excess), service_monthly=med * 30.44)  # the one severity policy
        word = "above" if excess > 0 else "below"
        hours = (ep.end - ep.start) / timedelta(hours=1)
        out.append(Finding(
            kind="cost_anomaly", severity=verdict.level, service=cost.service, squad=cost.squad, metric="cost",
            start=ep.start, end=ep.end, key=ep.start.strftime("%Y-%m-%d"),
            title=(f"{cost.service} spent {ratio:.1f}x its usual daily rate for {hours:.0f} hours from "
                   f"{ep.start:%d %b %H:%M} UTC" if hours <= 48 else
                   f"{cost.service} spend was off its norm for {hours / 24:.0f} days from {ep.start:%d %b}"),
            detail=(f"From {ep.start:%d %b %H:%M} to {ep.end:%d %b %H:%M} UTC spend ran at up to {ratio:.1f}x the usual "
                    f"{fmt_money(med, currency)} a day: {fmt_money(abs(excess), currency)} {word} the norm in total "
                    f"(daily totals {', '.join(fmt_money(v, currency) for v in spend)}; tolerance "
                    f"{fmt_money(tol, currency)} a day)."),
            evidence=verdict.evidence({"daily_spend": [round(float(v), 2) for v in spend],
                                       "norm_daily_spend": round(med, 2), "tolerance": round(tol, 2),
                                       "ratio": round(ratio, 2), "hours": round(hours, 1), "cost_source": cost.source,
                                       "cost_step_seconds": cost.cost_step_seconds}),
            recommendation=("Find what ran that day (a scale-out that did not scale back, a batch job, a retry storm) "
                            "and add a spend alert." if excess > 0 else "Check that the service was up and billed correctly."),
            impact={"excess_cost": round(excess, 2), "currency": currency},
        ))
    return out


# ---- unit cost ------------------------------------------------------------------------------------
def weekly_unit_costs(cost: ServiceCost) -> np.ndarray:
    """Median daily cost per 1,000 requests of each 7-day block before the period (oldest first):
    whole weeks, so weekday and weekend days weigh the same in every value."""
    with np.errstate(invalid="ignore", divide="ignore"):
        daily = cost.judged_spend[cost.history] / (cost.daily_requests[cost.history] / 1000.0)
    weeks = len(daily) // 7
    blocks = daily[len(daily) - 7 * weeks:].reshape(weeks, 7) if weeks else np.zeros((0, 7))
    values = [_med(np.asarray(b)) for b in blocks]
    return np.array([v for v in values if v is not None])


def unit_cost_finding(ctx: AnalysisContext, cost: ServiceCost, currency: str) -> Finding | None:
    """The period's unit cost against the weekly unit costs of the history: up at least 10% on
    their median and above the highest of them."""
    weekly = weekly_unit_costs(cost)
    now = cost.unit_cost(cost.period)
    if now is None or weekly.size < 2:
        return None
    before = float(np.median(weekly))
    rise = now / before - 1.0 if before > 0 else 0.0
    if rise < UNIT_COST_MIN_RISE or now <= float(weekly.max()):
        return None
    volume = cost.monthly_requests() or 0.0
    monthly = (now - before) * volume / 1000.0
    drivers = unit_cost_drivers(cost)
    verdict = unit_cost(rise, monthly)
    return Finding(
        kind="unit_cost_increase", severity=verdict.level, service=cost.service, squad=cost.squad, metric="cost",
        start=ctx.period_start, end=None, key="",
        title=f"{cost.service} costs {rise:.0%} more per 1,000 requests ({fmt_money(monthly, currency)} a month at current volume)",
        detail=(f"Cost per 1,000 requests rose from {_unit(before, currency)} to {_unit(now, currency)} ({rise:+.0%}); "
                f"{_driver_text(drivers)}"),
        evidence=verdict.evidence({"unit_cost_before": round(before, 5), "unit_cost_now": round(now, 5),
                                   "change_pct": round(100 * rise, 1), "cost_per_request_now": round(now / 1000.0, 7),
                                   **{k: _round(v) for k, v in drivers.items()}, "cost_source": cost.source}),
        recommendation=_driver_advice(drivers),
        impact={"monthly_cost": round(monthly, 2), "currency": currency, "monthly_requests": round(volume),
                **cpu_regression_price(cost, drivers)},
    )


def unit_cost_drivers(cost: ServiceCost) -> dict[str, float | None]:
    """Changes (%) of daily spend, daily requests and CPU per request, period vs history medians."""
    def change(values: np.ndarray) -> float | None:
        a, b = _med(values[cost.history]), _med(values[cost.period])
        return None if a is None or b is None or a == 0 else 100.0 * (b / a - 1.0)

    return {"spend_change_pct": change(cost.judged_spend), "volume_change_pct": change(cost.daily_requests),
            "cpu_per_request_change_pct": change(cost.daily_cpu_per_1k)}


def cpu_regression_price(cost: ServiceCost, drivers: dict[str, float | None]) -> dict[str, float]:
    """What more CPU per request costs a month at the current volume: instances scale with the
    work per request, so the spend run-rate times the relative CPU increase."""
    cpu = drivers.get("cpu_per_request_change_pct")
    spend = cost.monthly_spend()
    if cpu is None or cpu <= 5.0 or spend is None:
        return {}
    return {"cpu_regression_monthly_cost": round(spend * cpu / (100.0 + cpu), 2)}


def _driver_text(d: dict[str, float | None]) -> str:
    parts = [f"{label} {d[key]:+.0f}%" for key, label in (("spend_change_pct", "daily spend"),
             ("volume_change_pct", "daily requests"), ("cpu_per_request_change_pct", "CPU per request")) if d[key] is not None]
    return ", ".join(parts) + "." if parts else "no driver data."


def _driver_advice(d: dict[str, float | None]) -> str:
    cpu = d.get("cpu_per_request_change_pct") or 0.0
    spend = d.get("spend_change_pct") or 0.0
    volume = d.get("volume_change_pct") or 0.0
    if cpu >= 10:
        return "Each request needs more CPU than before: find the change behind it (a deploy, a query) and revert or fix it."
    if spend >= 10 and volume < 5:
        return "Spend rose at the same traffic: check a scaling or instance-type change and scale back if it is not needed."
    if volume <= -10:
        return "Traffic fell while the capacity stayed: let the service scale in (autoscaling or fewer instances)."
    return "Review what changed in capacity and work per request during the period."


def _unit(value: float, currency: str) -> str:
    return fmt_money(value, currency) if value >= 100 else f"{fmt_money(0, currency)[0]}{value:.4f}"


def _med(values: np.ndarray) -> float | None:
    values = values[np.isfinite(values)]
    return float(np.median(values)) if values.size else None


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


# ---- savings --------------------------------------------------------------------------------------
def recommended_instances(state: ServiceCapacity, params: CapacityParams) -> int | None:
    """What the peak x forecast growth x (1 + margin) needs, never under `min_instances`."""
    needed = state.needed_instances(state.growth, params.safety_margin)
    # tier-1 services keep N+1 at peak: one instance may fail without the peak going over target
    return None if needed is None else max(params.min_instances, needed + redundant_instances(state.tier))


def savings_finding(
    ctx: AnalysisContext, state: ServiceCapacity, cost: ServiceCost, params: CapacityParams, currency: str
) -> Finding | None:
    util = state.period_peak_util
    if util is None or state.instances is None or cost.instance_hourly is None:
        return None
    if util >= SAVINGS_RATIO * state.cpu_target:
        return None
    rec = recommended_instances(state, params)
    if rec is None or rec >= state.instances:
        return None
    cut = state.instances - rec
    monthly = cut * cost.instance_hourly * HOURS_PER_MONTH
    verdict = money(monthly, tier=state.tier)
    after = util * state.instances / rec
    return Finding(
        kind="savings_opportunity", severity=verdict.level, service=state.service, squad=state.squad, metric="cost",
        start=ctx.period_start, end=None, key="",
        title=f"{state.service} can save {fmt_money(monthly, currency)} a month by running {rec} instances instead of {state.instances:g}",
        detail=(f"The highest daily peak of the period used {util:.0f}% against a {state.cpu_target:.0f}% target. "
                f"With {rec} instances that peak runs at about {after:.0f}%, leaving room for the forecast growth "
                f"({state.growth - 1:+.0%} over {params.horizon_days} days) and a {params.safety_margin:.0%} margin."),
        evidence=verdict.evidence({
            "instances": state.instances, "recommended_instances": rec, "period_peak_utilisation_pct": round(util, 1),
            "utilisation_after_pct": round(after, 1), "cpu_target_pct": state.cpu_target,
            "growth_over_horizon": round(state.growth, 3), "safety_margin": params.safety_margin,
            "instance_hourly": round(cost.instance_hourly, 4), "min_instances": params.min_instances,
            "redundant_instances": redundant_instances(state.tier)}),
        recommendation=f"Reduce {state.service} from {state.instances:g} to {rec} instances (or cap its autoscaling at {rec}).",
        impact={"monthly_savings": round(monthly, 2), "currency": currency, "instances_removed": cut},
    )
