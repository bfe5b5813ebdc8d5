"""The one severity policy of perfops: every analysis area asks this module how severe a finding is.

The contract: "A head of domain reading only critical and high must see everything they need to
act on, and nothing else." Severity therefore measures impact, never the statistics (a p-value
says a change is real, not that it matters), and impact must be computable without request
counts (databases, workers and queues report none). docs/methods/severity.md has the table per
finding kind; every function here returns a `Verdict` whose `inputs` go into the finding's
`evidence["severity_inputs"]`, so a reader sees why a finding is "high".

Incidents (anomaly, regression, short bursts) add impact points:

| factor | 0 | 1 | 2 | 3 |
| --- | --- | --- | --- | --- |
| tier (the service's, or one less than its most critical caller's) | - | 3 | 2 | 1 |
| volume: the largest of requests affected, failed requests and magnitude | | | | |
| - requests affected | < 1,000 | < 10,000 | < 100,000 | more |
| - failed requests | < 50 | < 500 | < 5,000 | more |
| - magnitude in the metric's own scale | small | ≥ 1.5× / −40 % / +25 pts or 2× | ≥ 3× / −75 % | outage |
|   (+1 when also extreme in robust units, abs(z) ≥ 10) | | | | |
| duration | < 30 min | < 2 h | < 24 h | a day or more, or still ongoing |
| SLO | within | - | at risk (≥ 80 % of the target) | breached: +3 |
| blast radius (transitive callers + journeys through it) | < 3 | ≥ 3: +1 | | |
| corroborated: another metric of the service moved with it (`trends.corroboration`) | - | +1 | | |
| size of the change | small (< 20 %): −1 | | | |
| thin norm (< `MIN_SPREAD_SAMPLES` samples), not an outage | −1 | | | |
| ordinary deviation (median abs(z) < 3), not an outage | −1 | | | |

A resource gauge (CPU, memory, network, disk, a named gauge: `Impact.resource`) gets no volume
point from the service's requests; a change under 20 % on a service with no request volume is
at most low (`small_and_unmeasured`); the third anomaly of a series in the same direction within a
day is a pattern, at most low (`recurrences`; one that goes `ESCALATES` times as far from its norm
as every earlier one of the day counts none); a record beyond the series' whole history
(`trends.records`) is at least medium.

Gauges (network, disk, the catalog's `metrics:`) get their magnitude from `gauge_magnitude`, in
their own scale and bad direction; a z adds a point only against a norm of at least
`MIN_SPREAD_SAMPLES` samples.

The total maps to critical ≥ 10, high ≥ 8, medium ≥ 6, low ≥ 4, else info. Floors on top:
an outage (the metric's own scale says the service stopped: traffic, throughput or CPU at near
zero from a real level) is at least high on tier 1-2, and critical while ongoing when callers
still call it. `cap` holds a kind below a level (an improvement is always info).

Capacity is judged by time to impact, cost by money as a share of the service's and the domain's
spend, the other areas by tier from a base level per kind (`by_tier`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import timedelta
from typing import Any

from perfops.model.findings import SEVERITIES

THRESHOLDS = (("critical", 10), ("high", 8), ("medium", 6), ("low", 4))


@dataclass(frozen=True)
class Verdict:
    """A severity and what it was decided from (evidence["severity_inputs"])."""

    level: str
    inputs: dict[str, Any] = field(default_factory=dict)

    def evidence(self, evidence: dict[str, Any] | None = None) -> dict[str, Any]:
        """`evidence` with the inputs of this verdict added as `severity_inputs`."""
        return {**(evidence or {}), "severity_inputs": self.inputs}


@dataclass(frozen=True)
class Impact:
    tier: int = 2
    requests_affected: float = 0.0
    failed_requests: float = 0.0
    duration: timedelta | None = None  # None = still ongoing
    slo_ratio: float | None = None  # observed / SLO target (1.0 = exactly at the target)
    relative_change: float | None = None  # |observed / norm - 1|
    magnitude: int = 0  # 0-3 in the metric's own scale (see `magnitude_points`)
    robust_z: float | None = None  # the deviation in robust units (median / MAD of the norm)
    outage: bool = False  # the metric says the service stopped (near zero from a real level)
    dependents: int = 0  # services calling it, directly or transitively, plus journeys through it
    callers_active: bool | None = None  # its callers still send traffic (None: unknown / none)
    norm_samples: float | None = None  # history samples behind the norm (median over the episode)
    # a resource gauge (CPU, memory, network, disk, a queue or a catalog-named gauge): its
    # deviation alone fails or slows no request, so the service's requests are no volume point
    resource: bool = False
    # an anomaly's extreme step did not rise beyond the series' usual daily peak (None: not asked)
    within_daily_peak: bool | None = None
    # anomalies of the same series, same direction, that started in the day before this one
    recurrences: int = 0
    # the episode went beyond the series' whole history by a margin of its range (trends.records)
    record: bool = False
    # another metric of the same service deviated in its own bad direction over the same stretch
    # (trends.corroboration): the service is affected, not one signal of it
    corroborated: bool = False


def impact_points(impact: Impact) -> int:
    points = {1: 3, 2: 2, 3: 1}.get(impact.tier, 2)
    requests = 0.0 if impact.resource else impact.requests_affected
    points += max(_steps(requests, (1_000, 10_000, 100_000)),
                  _steps(impact.failed_requests, (50, 500, 5_000)), magnitude(impact))
    points += 3 if impact.duration is None else _steps(impact.duration.total_seconds() / 60, (30, 120, 1440))
    if impact.slo_ratio is not None:
        points += 3 if impact.slo_ratio > 1.0 else 2 if impact.slo_ratio >= 0.8 else 0
    if impact.dependents >= 3:
        points += 1
    if impact.corroborated:
        points += 1
    if impact.relative_change is not None and impact.relative_change < 0.2:
        points -= 1
    if not impact.outage:
        if thin_norm(impact):  # a norm of a few samples cannot say how unusual a value is
            points -= 1
        if impact.robust_z is not None and abs(impact.robust_z) < ORDINARY_Z:
            points -= 1  # within the spread the norm has seen: real, perhaps, but ordinary
    return points


# a median |z| below this over the episode is within the norm's usual spread
ORDINARY_Z = 3.0
# the third anomaly of a series in the same direction within a day is its new pattern (a host
# that took on a cyclic job), not a third incident: the first two were reported at their level
RECURRING = 2
# ... but an anomaly that goes this many times as far from its norm (at its extreme step) as every
# earlier one of the day is no repeat of the pattern: it is counted as new (trends.findings)
ESCALATES = 2.0


def thin_norm(impact: Impact) -> bool:
    return impact.norm_samples is not None and impact.norm_samples < MIN_SPREAD_SAMPLES


def small_and_unmeasured(impact: Impact) -> bool:
    """A change under 20 % on a service that reports no request volume: nothing says a user felt
    it, and 20 % is within what a host's load moves by in a day, so it stays below medium."""
    return (impact.relative_change is not None and impact.relative_change < 0.2 and not impact.outage
            and impact.requests_affected <= 0 and impact.failed_requests <= 0)


def magnitude(impact: Impact) -> int:
    """Magnitude points: the metric's own scale, one more when the episode is also extreme in
    robust units (its median |z| >= 10: far outside anything the norm has seen, for the whole
    episode and not only one step) and that norm stands on at least `MIN_SPREAD_SAMPLES`
    samples, at most 3."""
    if impact.outage:
        return 3
    extreme = (impact.magnitude >= 1 and not thin_norm(impact) and impact.robust_z is not None
               and abs(impact.robust_z) >= EXTREME_Z)
    return min(3, impact.magnitude + (1 if extreme else 0))


EXTREME_Z = 10.0
# the MAD of fewer samples is no estimate of a spread (of 1-2 it is 0, of 3-4 the distance to one
# neighbour): a z against it says nothing about how extreme a value is, so it adds no point
MIN_SPREAD_SAMPLES = 5


def severity_from_impact(impact: Impact, cap: str | None = None) -> str:
    """The severity of a finding with this impact, never above `cap`."""
    return incident(impact, cap).level


def incident(impact: Impact, cap: str | None = None) -> Verdict:
    """The severity of an anomaly, regression or burst with this impact, and its inputs."""
    points = impact_points(impact)
    level = next((name for name, need in THRESHOLDS if points >= need), "info")
    rule = "points"
    if impact.outage and impact.tier <= 2:
        ongoing_and_called = impact.duration is None and (impact.callers_active or False)
        floor = "critical" if ongoing_and_called else "high"
        if severity_rank(floor) < severity_rank(level):
            level, rule = floor, "outage floor" + (": callers still call it" if ongoing_and_called else "")
    if small_and_unmeasured(impact) and severity_rank(level) < severity_rank("low"):
        level, rule = "low", rule + ", under 20 % with no request volume: at most low"
    if impact.recurrences >= RECURRING and not impact.outage and severity_rank(level) < severity_rank("low"):
        level, rule = "low", rule + f", {impact.recurrences} earlier such anomalies within a day: a pattern, at most low"
    if impact.record and severity_rank(level) > severity_rank("medium"):
        # the series has never been there in its whole history, by a margin of its range
        level, rule = "medium", rule + ", a record: at least medium"
    if cap:
        capped = lower_to(level, cap)
        rule += "" if capped == level else f", capped at {cap}"
        level = capped
    inputs = {k: v for k, v in asdict(impact).items()
              if v not in (None, 0, 0.0, False) or k == "tier" or (k == "within_daily_peak" and v is not None)}
    if impact.duration is not None:
        inputs["duration"] = None
        inputs["duration_minutes"] = round(impact.duration.total_seconds() / 60, 1)
    else:
        inputs["ongoing"] = True
    inputs = {k: _plain(v) for k, v in inputs.items() if k != "duration"}
    if cap:
        inputs["cap"] = cap  # so that a later pass can judge it again (`rejudge`)
    return Verdict(level, {**inputs, "points": points, "rule": rule})


def impact_of(inputs: dict[str, Any]) -> Impact:
    """The Impact an incident's `severity_inputs` were recorded from (`incident`): every field
    that was not at its default, the duration from `duration_minutes` (none: ongoing)."""
    names = {f.name for f in fields(Impact)} - {"duration"}
    minutes = inputs.get("duration_minutes")
    return Impact(**{k: v for k, v in inputs.items() if k in names},
                  duration=None if minutes is None else timedelta(minutes=float(minutes)))


def rejudge(inputs: dict[str, Any], **changes: Any) -> Verdict:
    """An incident judged again from its recorded inputs with some of them changed (a pass that
    sees more than one series, like `trends.corroboration`), under the cap it had."""
    return incident(replace(impact_of(inputs), **changes), cap=inputs.get("cap"))


def deviates(inputs: dict[str, Any]) -> bool:
    """The recorded incident moved at least one magnitude point in its metric's own scale, in
    the direction that is bad for it (an outage always): a real move, not a wobble of its norm."""
    return bool(inputs.get("outage")) or int(inputs.get("magnitude") or 0) >= 1


def magnitude_points(role: str, observed: float, norm: float, slo: float | None = None) -> int:
    """0-3: how big a deviation is in the metric's own scale, whatever the request counts.

    Latency and error rates (up is worse): ×1.5, ×3, and ×3 above the SLO; traffic and
    throughput (down is worse; up counts as load): −40 % / ×2, −75 % / ×4, and −95 % from a real
    level (an outage) or ×5 (past any provisioned headroom); CPU and memory in points: +25 / +50 points or ×2 / ×3 (at least 5 / 10
    points), or near zero from a level of at least 10 % (a dead service)."""
    if not (math.isfinite(observed) and math.isfinite(norm)):
        return 0
    if role in ("cpu", "memory"):
        if is_outage(role, observed, norm):
            return 3
        rise = observed - norm
        doubled = rise >= 5 and norm > 0 and observed >= 2 * norm
        tripled = rise >= 10 and norm > 0 and observed >= 3 * norm
        return 2 if rise >= 50 or tripled else 1 if rise >= 25 or doubled else 0
    if role == "traffic":
        if norm <= 0:
            return 0
        ratio = observed / norm
        # 5x the norm is past the headroom of a service provisioned for its peak (70 % target,
        # N+1): it saturates or sheds load, as harmful as an outage
        if is_outage(role, observed, norm) or ratio >= 5:
            return 3
        if ratio <= 0.25 or ratio >= 4:
            return 2
        return 1 if ratio <= 0.6 or ratio >= 2 else 0
    ratio = observed / norm if norm > 0 else math.inf
    above_slo = slo is not None and observed > slo
    if ratio >= 3 and above_slo:
        return 3
    if ratio >= 3 or (ratio >= 2 and above_slo):
        return 2
    return 1 if ratio >= 1.5 else 0


# units with an arbitrary zero (interval scales): a ratio of two temperatures means nothing
INTERVAL_UNITS = {"degf", "degc", "°f", "°c", "f", "c", "fahrenheit", "celsius"}


def gauge_magnitude(direction: str, observed: float, norm: float, capacity: float | None = None,
                    robust_z: float | None = None, unit: str = "", usual_peak: float | None = None) -> int:
    """0-3 for a gauge (network, disk, a catalog-named metric), in its own scale and only in the
    direction that is bad for it (`up`, `down` or `both`):

    - with a capacity (a percentage, or `capacity:` in the catalog): points of it, as CPU:
      +25 / +50 points; falling to near zero from at least 10 % of it is a stop (3) where down is bad;
    - on a ratio scale (bytes, counts, a queue): −40 % / −75 % of the norm down, near zero
      (≤ 5 %) from a real level is a stop (3) where down is bad; up, ×1.5 / ×3 of the larger of
      the norm and its `usual_peak` (the median daily maximum of the history, of means over as
      many steps as the level judged: one step, or an episode's whole stretch): without a
      capacity, what the service copes with every day is the scale of a rise, and a disk that is
      idle at the median and writes 500 MB bursts every day is not "100× its norm" in a burst;
    - on an interval scale (a temperature in °F or °C, whose zero is arbitrary) a ratio means
      nothing: the deviation in robust units of the norm's own spread decides, |z| ≥ 6 / ≥ 12."""
    if not (math.isfinite(observed) and math.isfinite(norm)):
        return 0
    ups, downs = direction in ("up", "both"), direction in ("down", "both")
    if capacity:
        move = (observed - norm) / capacity * 100
        if downs and norm >= 0.1 * capacity and observed <= 0.1 * norm:
            return 3
        bad = max(move if ups else 0.0, -move if downs else 0.0)
        return 2 if bad >= 50 else 1 if bad >= 25 else 0
    if unit.strip().lower() in INTERVAL_UNITS:
        if robust_z is None or not math.isfinite(robust_z):
            return 0
        bad = max(robust_z if ups else 0.0, -robust_z if downs else 0.0)
        return 2 if bad >= 12 else 1 if bad >= 6 else 0
    if norm <= 0:
        return 0
    ratio = observed / norm
    if downs and ratio <= 0.05:
        return 3
    rise = observed / max(norm, usual_peak or 0.0)
    up = 2 if ups and rise >= 3 else 1 if ups and rise >= 1.5 else 0
    down = 2 if downs and ratio <= 0.25 else 1 if downs and ratio <= 0.6 else 0
    return max(up, down)


def is_outage(role: str, observed: float, norm: float) -> bool:
    """The metric's own scale says the service stopped: traffic at ≤ 5 % of a norm of at least a
    few requests per step, or CPU / memory at ≤ 10 % of a norm of at least 10 % (a process that
    runs at 30 % and now at 0.5 % is not running)."""
    if not (math.isfinite(observed) and math.isfinite(norm)):
        return False
    if role == "traffic":
        return norm >= 5 and observed <= 0.05 * norm
    if role in ("cpu", "memory"):
        return norm >= 10 and observed <= 0.1 * norm
    return False


# ---- data gaps: no data is not zero, but a silent service its callers still call is down ------
def data_gap(tier: int, stale: bool, missing: timedelta, budget: timedelta,
             callers_active: bool | None = None) -> Verdict:
    """A gap alone harms no user: medium when a tier 1-2 service stopped reporting or the
    missing time reaches the tier's budget, low otherwise. But a service that went silent while
    its callers still send requests is most likely down: critical (tier 1-2) or high (tier 3)."""
    if stale and callers_active:
        level, rule = ("critical" if tier <= 2 else "high"), "silent while its callers still call it"
    elif (stale and tier <= 2) or missing >= budget:
        level, rule = "medium", "stopped reporting" if stale else "missing time over the tier's budget"
    else:
        level, rule = "low", "gap within the tier's budget"
    inputs: dict[str, Any] = {"tier": tier, "stale": stale, "missing_minutes": round(missing.total_seconds() / 60, 1),
                              "budget_minutes": round(budget.total_seconds() / 60, 1), "rule": rule}
    if callers_active is not None:
        inputs["callers_active"] = callers_active
    return Verdict(level, inputs)


# ---- capacity: time to impact -----------------------------------------------------------------
def time_to_impact(tier: int, days: float | None = None, peak_util: float | None = None,
                   target: float | None = None, peak_cpu: float | None = None) -> Verdict:
    """Capacity findings: how soon users feel it. Saturating within 14 days is critical on tier 1
    and high otherwise; within 30 days high on tier 1-2 (medium on tier 3); within 60 days
    medium; later low. A peak at or over capacity (utilisation >= 100 %, or CPU >= 90 %), or a
    tier-1 peak >= 90 % of capacity, is high; a peak over its target medium (low on tier 3)."""
    level = "low"
    if days is not None:
        level = ("critical" if tier == 1 else "high") if days <= 14 else \
            ("high" if tier <= 2 else "medium") if days <= 30 else "medium" if days <= 60 else "low"
    if peak_util is not None:
        if peak_util >= 100 or (peak_cpu or 0.0) >= 90 or (tier == 1 and peak_util >= 90):
            by_peak = "high"
        elif target is not None and peak_util > target:
            by_peak = "medium" if tier <= 2 else "low"
        else:
            by_peak = "low"
        level = more_severe(level, by_peak)
    inputs: dict[str, Any] = {"tier": tier, "rule": "time to impact"}
    if days is not None:
        inputs["days_to_saturation"] = round(days, 1)
    if peak_util is not None:
        inputs["peak_utilisation_pct"] = round(peak_util, 1)
    if peak_cpu is not None:
        inputs["peak_cpu_pct"] = round(peak_cpu, 1)
    if target is not None:
        inputs["target_pct"] = target
    return Verdict(level, inputs)


# ---- cost: money as a share -------------------------------------------------------------------
def money(amount: float, service_monthly: float | None = None, domain_monthly: float | None = None,
          tier: int = 2) -> Verdict:
    """Cost findings (`amount` per month, extra spend or savings), as a share of what is spent:
    high at a quarter of the service's monthly spend or 5 % of the domain's, medium at a day's
    spend of the service a month (1/30.44) or 1 % of the domain's, low otherwise. Only where
    neither spend is known does the absolute amount decide (high >= 10,000, medium >= 1,000 a
    month). Money never makes a finding critical: no user is hurt yet."""
    service_share = amount / service_monthly if service_monthly else None
    domain_share = amount / domain_monthly if domain_monthly else None
    if service_share is None and domain_share is None:
        level = "high" if amount >= 10_000 else "medium" if amount >= 1_000 else "low"
        rule = "absolute amount (no spend to compare with)"
    elif (service_share or 0) >= 0.25 or (domain_share or 0) >= 0.05:
        level, rule = "high", "share of spend"
    elif (service_share or 0) >= 1 / 30.44 or (domain_share or 0) >= 0.01:
        level, rule = "medium", "share of spend"
    else:
        level, rule = "low", "share of spend"
    inputs: dict[str, Any] = {"tier": tier, "amount_per_month": round(amount, 2), "rule": rule}
    if service_share is not None:
        inputs["share_of_service_spend"] = round(service_share, 4)
    if domain_share is not None:
        inputs["share_of_domain_spend"] = round(domain_share, 4)
    return Verdict(level, inputs)


def unit_cost(rise: float, monthly: float, tier: int = 2) -> Verdict:
    """Cost per 1,000 requests up by `rise` (0.3 = +30 %): high from doubling, medium from a
    quarter, low below; `monthly` is what it costs at current volume."""
    level = "high" if rise >= 1.0 else "medium" if rise >= 0.25 else "low"
    return Verdict(level, {"tier": tier, "rise": round(rise, 4), "amount_per_month": round(monthly, 2),
                           "rule": "rise of the unit cost"})


def redundant_instances(tier: int) -> int:
    """Instances a saving must leave above the peak's need: tier-1 services keep N+1."""
    return 1 if tier == 1 else 0


# ---- the other kinds: a base level per kind, adjusted by tier -------------------------------
def by_tier(tier1: str, tier: int, floor: str = "info", ceiling: str = "critical", **facts: Any) -> Verdict:
    """`tier1` for a tier-1 service, one level milder per tier below it, within [ceiling, floor]."""
    level = shift(tier1, tier - 1)
    level = lower_to(level, ceiling)
    if severity_rank(level) > severity_rank(floor):
        level = floor
    return Verdict(level, {"tier": tier, "base_for_tier_1": tier1, "rule": "base level by tier",
                           **{k: _plain(v) for k, v in facts.items()}})


def blast_radius(catalog: Any, service: str) -> tuple[int, int]:
    """(dependents, effective tier) of `service` from the catalog's dependency graph: the services
    that call it directly or transitively plus the journeys through it, and its tier raised to one
    less than its most critical dependent's (a tier-3 store behind a tier-1 gateway is tier 2)."""
    own = catalog.service_by_name.get(service)
    tier = own.tier if own else 2
    callers: set[str] = set()
    frontier = [service]
    while frontier:
        for caller in catalog.callers_of(frontier.pop()):
            if caller not in callers and caller != service:
                callers.add(caller)
                frontier.append(caller)
    journeys = [j for j in getattr(catalog, "journeys", []) if any(s == service for s, _ in j.parsed_steps())]
    for name in callers:
        dep = catalog.service_by_name.get(name)
        if dep is not None:
            tier = min(tier, dep.tier + 1)
    return len(callers) + len(journeys), tier


def fixed(level: str, rule: str, **facts: Any) -> Verdict:
    """A kind whose severity is one level by policy (over-provisioning is always low: it costs
    money, it hurts no user), with the facts it was judged on."""
    return Verdict(level, {"rule": rule, **{k: _plain(v) for k, v in facts.items()}})


def volume_change(tier: int, change: float) -> Verdict:
    """A week-over-week volume change outside its usual band: medium from +-50 %, else low."""
    return Verdict("medium" if abs(change) >= 0.5 else "low",
                   {"tier": tier, "change": round(change, 4), "rule": "size of the weekly change"})


def feedback_risk(base: str, tier: int) -> str:
    """Feedback findings (NFRs, tests) are risks found before production feels them: their
    check's base level, one step less on tier 3, never raised by a tier, never below low."""
    index = min(SEVERITIES.index(base) + (1 if tier == 3 else 0), len(SEVERITIES) - 2)
    return SEVERITIES[index]


def journey(tier: int, ongoing: bool, hours: float) -> str:
    """A journey over its target: high when its most critical service is tier 1 and it is still
    degraded or was for 6 hours or more, else medium; one level less for a tier-3 journey."""
    level = "high" if tier == 1 and (ongoing or hours >= 6) else "medium"
    return shift(level, 1) if tier == 3 else level


# Kinds decided by a base level (by_tier, feedback_risk, journey): the rule and the evidence keys it
# reads, recorded by `record_inputs` as the finding's severity_inputs.
KIND_RULES: dict[str, tuple[str, tuple[str, ...]]] = {
    "slo_breach": ("critical for tier 1 (high while under 25 % over the error budget), one level milder per tier",
                   ("sli", "good_pct", "objective_pct", "budget", "budget_remaining")),
    "error_budget_burn": ("the burn-rate window pair's level for tier 1, one level milder per tier",
                          ("pair", "peak_burn_rate", "threshold")),
    "journey_degradation": ("high for a tier-1 journey degraded 6 h or ongoing, else medium; tier 3 one less",
                            ("journey", "degraded_hours", "baseline", "observed")),
    "consumer_misuse": ("the pattern's level for tier 1, one level milder per tier",
                        ("client_error_rate_pct", "amplification", "factor", "share_of_calls", "calls_per_day")),
    "nfr_mismatch": ("the check's base level; tier 3 one less; feedback is never above its base",
                     ("nfr_peak_tps", "observed_peak_rps", "total_variation", "change_pct")),
    "test_coverage_gap": ("the check's base level; tier 3 one less; feedback is never above its base",
                          ("run_id",)),
    "test_prod_divergence": ("the check's base level; tier 3 one less; feedback is never above its base",
                             ("run_id", "verdict")),
    "test_regression": ("high from a doubling of the p95, else medium; tier 3 one less",
                        ("run_id", "baseline_p95_ms", "observed_p95_ms")),
}


def record_inputs(findings: list[Any], catalog: Any) -> list[Any]:
    """Every finding with evidence["severity_inputs"]: the kinds decided from a base level get
    their tier, rule and the evidence values the rule read (the others recorded theirs already)."""
    out = []
    for f in findings:
        if "severity_inputs" in f.evidence or f.kind not in KIND_RULES:
            out.append(f)
            continue
        rule, keys = KIND_RULES[f.kind]
        svc = catalog.service_by_name.get(f.service)
        inputs = {"tier": svc.tier if svc else None, "rule": rule,
                  **{k: _plain(f.evidence[k]) for k in keys if k in f.evidence}}
        out.append(f.with_(evidence={**f.evidence, "severity_inputs": inputs}))
    return out


# ---- levels -----------------------------------------------------------------------------------
def severity_rank(level: str) -> int:
    return SEVERITIES.index(level)


def shift(level: str, steps: int) -> str:
    """Move a severity towards critical (negative steps) or info (positive), clamped."""
    return SEVERITIES[min(max(SEVERITIES.index(level) + steps, 0), len(SEVERITIES) - 1)]


def more_severe(a: str, b: str) -> str:
    return SEVERITIES[min(SEVERITIES.index(a), SEVERITIES.index(b))]


def lower_to(level: str, cap: str) -> str:
    """The less severe of `level` and `cap`."""
    return SEVERITIES[max(SEVERITIES.index(level), SEVERITIES.index(cap))]


def demote(level: str, steps: int = 1, floor: str = "low") -> str:
    """`steps` levels less severe, but not below `floor` (unless it already is)."""
    i = SEVERITIES.index(level)
    if i >= SEVERITIES.index(floor):
        return level
    return SEVERITIES[min(i + steps, SEVERITIES.index(floor))]


def _steps(value: float, bounds: tuple[float, float, float]) -> int:
    return sum(1 for b in bounds if value >= b)


def _plain(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 4) if math.isfinite(value) else None
    return value
