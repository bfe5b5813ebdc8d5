"""Capacity findings: saturation_risk, under_provisioned, over_provisioned, volume_growth.

Built on the capacity model (perfops.analysis.capacity.model: peak = p99 of 5-minute values over
the last week, capacity = instances x max_tps_per_instance, forecast of the daily peak with a
prediction interval) and on weekly request volumes. Methods: docs/methods/capacity_cost.md.
"""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np

from perfops.analysis.capacity.model import PEAK_WINDOW, CapacityParams, ServiceCapacity, volume_norm
from perfops.analysis.capacity.shared_pass import assessed, chunks_of
from perfops.analysis.context import AnalysisContext, area_params
from perfops.analysis.severity import fixed, redundant_instances, time_to_impact, volume_change
from perfops.model.findings import Finding


def run(ctx: AnalysisContext) -> list[Finding]:
    """Every capacity finding of the catalog's services, service by service in catalog order."""
    return run_services(ctx, [s.name for s in ctx.catalog.services])


def run_services(ctx: AnalysisContext, services: list[str]) -> list[Finding]:
    """The capacity findings of some services, processed in chunks of `chunk_size`; each
    service's findings (capacity, then volume) together, so that `run` is the concatenation of
    this over any split of the catalog (perfops.analysis.cluster)."""
    params = area_params(ctx, "capacity", CapacityParams)
    findings: list[Finding] = []
    for chunk in chunks_of(list(services), params.chunk_size):
        found = assessed(ctx, chunk, params)
        volumes = volume_findings(ctx, found.services, found.volumes)
        for state in found.states:
            findings.extend(capacity_findings(ctx, state, params))
            findings.extend(f for f in volumes if f.service == state.service)
    return findings


def capacity_findings(ctx: AnalysisContext, state: ServiceCapacity, params: CapacityParams) -> list[Finding]:
    out = [f for f in (saturation_finding(ctx, state, params), under_finding(ctx, state)) if f]
    over = over_finding(ctx, state, params)
    if over and not any(f.kind == "under_provisioned" for f in out):
        out.append(over)
    return out


# ---- saturation ---------------------------------------------------------------------------------
def saturation_finding(ctx: AnalysisContext, s: ServiceCapacity, params: CapacityParams) -> Finding | None:
    sat = s.saturation
    if sat is None or (s.peak_util is not None and s.peak_util >= 100.0):
        return None  # already past capacity: that is under_provisioned, not a risk
    current = s.peak_tps if sat.metric == "traffic" else s.peak_cpu
    if current is not None and current >= sat.limit:
        return None  # already at the limit today: under_provisioned says so; no growth to forecast
    late = f"{sat.days_late:.0f}" if sat.days_late is not None else f"more than {params.horizon_days}"
    when = (ctx.now + timedelta(days=sat.days)).date().isoformat()
    if sat.metric == "traffic":
        what = f"peak traffic reaches its capacity of {sat.limit:,.0f} requests/s"
        now_txt = f"today's peak is {s.peak_tps:,.1f} requests/s ({s.tps_util:.0f}% of capacity)"
    else:
        what = f"peak CPU reaches its {sat.limit:.0f}% target"
        now_txt = f"today's peak CPU is {s.peak_cpu:.0f}%"
    needed = s.needed_instances(s.growth, params.safety_margin)
    verdict = time_to_impact(s.tier, days=sat.days, peak_util=s.peak_util)  # sooner, more severe
    return Finding(
        kind="saturation_risk", severity=verdict.level, service=s.service,
        squad=s.squad, metric=sat.metric, start=ctx.now, end=None, key="",
        title=f"{s.service} runs out of capacity in about {_days(sat.days)} (around {when}) at its current growth",
        detail=(f"At the forecast growth, {what} in {_days(sat.days)} (90% interval: {sat.days_early:.0f} "
                f"to {late} days); {now_txt}."),
        evidence=verdict.evidence(_evidence(s) | {"limit": round(sat.limit, 2), "saturation_metric": sat.metric,
                                                  "forecast_peak_tps": _r(s.forecast_peak_tps),
                                                  "growth_over_horizon": round(s.growth, 3)}),
        recommendation=(f"Add capacity before {when}: about {needed} instances keep the forecast peak under the "
                        f"{s.cpu_target:.0f}% target with a {params.safety_margin:.0%} margin"
                        if needed and s.instances else
                        "Plan capacity: raise instances or per-instance throughput before that date."),
        impact={"days_to_saturation": round(sat.days, 1),
                "days_to_saturation_interval": [round(sat.days_early, 1), _r(sat.days_late, 1)],
                "saturation_date": when},
    )


def _days(days: float) -> str:
    return "1 day" if round(days) == 1 else f"{days:.0f} days"


# ---- under / over provisioned ---------------------------------------------------------------------
def under_finding(ctx: AnalysisContext, s: ServiceCapacity) -> Finding | None:
    util = s.peak_util
    if util is None or util <= s.cpu_target:
        return None
    needed = s.needed_instances()
    verdict = time_to_impact(s.tier, peak_util=util, target=s.cpu_target, peak_cpu=s.peak_cpu)
    metric = "cpu" if (s.peak_cpu or -1) >= (s.tps_util or -1) else "traffic"
    more = needed - s.instances if needed and s.instances else None
    return Finding(
        kind="under_provisioned", severity=verdict.level, service=s.service, squad=s.squad, metric=metric,
        start=ctx.now - PEAK_WINDOW, end=None, key="",
        title=f"{s.service} runs above its {s.cpu_target:.0f}% utilisation target at peak ({util:.0f}%)",
        detail=(f"Over the last 7 days the peak (p99 of 5-minute values) reached {util:.0f}% "
                f"({'CPU' if metric == 'cpu' else 'of throughput capacity'}) against a target of {s.cpu_target:.0f}%"
                + (f" on {s.instances:g} instances." if s.instances else ".")),
        evidence=verdict.evidence(_evidence(s)),
        recommendation=(f"Scale from {s.instances:g} to {needed} instances (+{more:g}) or reduce the work per request."
                        if more else "Add capacity or reduce the work per request."),
        impact={"instances_needed": needed, "additional_instances": more, "peak_utilisation_pct": round(util, 1)},
    )


def over_finding(ctx: AnalysisContext, s: ServiceCapacity, params: CapacityParams) -> Finding | None:
    util = s.period_peak_util
    if util is None or s.instances is None or util >= params.over_ratio * s.cpu_target:
        return None
    # tier-1 services keep N+1 at peak (the policy's redundancy), so that spare is truly spare
    needed = max(params.min_instances, (s.needed_instances(s.growth, params.safety_margin) or 0) + redundant_instances(s.tier))
    if needed >= s.instances:
        return None
    spare = s.instances - needed
    verdict = fixed("low", "spare capacity costs money and hurts no user", tier=s.tier, spare_instances=spare)
    return Finding(
        kind="over_provisioned", severity=verdict.level, service=s.service, squad=s.squad, metric="cpu",
        start=ctx.period_start, end=None, key="",
        title=f"{s.service} uses at most {util:.0f}% of what it pays for: {spare:g} of {s.instances:g} instances are spare",
        detail=(f"Throughout the period the daily peak utilisation stayed at or under {util:.0f}%, under half the "
                f"{s.cpu_target:.0f}% target; {needed} instances carry the peak with the forecast growth "
                f"({s.growth - 1:+.0%}) and a {params.safety_margin:.0%} margin."),
        evidence=verdict.evidence(_evidence(s) | {"period_peak_utilisation_pct": round(util, 1),
                                                  "growth_over_horizon": round(s.growth, 3)}),
        recommendation=f"Reduce from {s.instances:g} to {needed} instances (see the savings finding for the dollars).",
        impact={"spare_instances": spare, "instances_needed": needed},
    )


def _evidence(s: ServiceCapacity) -> dict[str, object]:
    return {
        "instances": _r(s.instances), "instances_source": s.instances_source,
        "max_tps_per_instance": s.max_tps_per_instance, "capacity_tps": _r(s.capacity_tps),
        "peak_tps": _r(s.peak_tps), "mean_tps": _r(s.mean_tps), "throughput_utilisation_pct": _r(s.tps_util, 1),
        "peak_cpu_pct": _r(s.peak_cpu, 1), "mean_cpu_pct": _r(s.mean_cpu, 1), "peak_memory_pct": _r(s.peak_memory, 1),
        "cpu_target_pct": s.cpu_target, "headroom_pct": _r(s.headroom_pct, 1), "peak_definition": "p99 of 5-minute values, last 7 days",
    }


def _r(value: float | None, digits: int = 2) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), digits)


# ---- volume growth -----------------------------------------------------------------------------
def volume_findings(ctx: AnalysisContext, services: list[str], volumes: np.ndarray) -> list[Finding]:
    """The last week's change against the norm of earlier week-over-week changes (median and a
    MAD-based spread, Hampel's rule), never below +/-15%."""
    last, norm, band = volume_norm(volumes)
    return [_volume_finding(ctx, name, volumes[i], float(last[i]), float(norm[i]), float(band[i]))
            for i, name in enumerate(services) if math.isfinite(last[i]) and abs(last[i] - norm[i]) > band[i]]


def _volume_finding(ctx: AnalysisContext, name: str, vols: np.ndarray, change: float, norm: float, band: float) -> Finding:
    svc = ctx.catalog.service(name)
    week_start = ctx.now - timedelta(days=7)
    iso = week_start.isocalendar()
    word = "grew" if change > 0 else "fell"
    verdict = volume_change(svc.tier, change)
    return Finding(
        kind="volume_growth", severity=verdict.level, service=name, squad=svc.squad, metric="traffic",
        start=week_start, end=ctx.now, key=f"{iso.year}-W{iso.week:02d}",
        title=f"{name} transactions {word} {abs(change):.0%} week over week (usually {norm:+.0%})",
        detail=(f"{vols[-1]:,.0f} requests in the last 7 days against {vols[-2]:,.0f} the week before "
                f"({change:+.1%}); earlier weeks changed by {norm:+.1%} with a tolerance of +/-{band:.0%}."),
        evidence=verdict.evidence({
            "last_week_requests": round(float(vols[-1])), "previous_week_requests": round(float(vols[-2])),
            "change_pct": round(100 * change, 1), "norm_change_pct": round(100 * norm, 1),
            "tolerance_pct": round(100 * band, 1),
            "weekly_requests": [None if not math.isfinite(v) else round(float(v)) for v in vols]}),
        recommendation=("Check the capacity outlook and the cause (a launch, a new consumer, a campaign)."
                        if change > 0 else "Check for lost traffic upstream (a failing consumer, routing) or a planned move."),
        impact={"requests_affected": round(abs(float(vols[-1] - vols[-2])))},
    )
