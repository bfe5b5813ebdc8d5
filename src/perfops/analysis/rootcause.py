"""Root cause across dependencies: a caller's finding explained by a finding downstream.

When a finding on service A overlaps in time with a finding on a service A depends on
(directly or transitively, `Catalog.dependencies_closure`), and the metrics are compatible (a
slow or failing dependency makes its callers slow or failing), the downstream finding is the
plausible cause. Among all plausible causes the deepest one in the call graph wins, following
chains (checkout -> payments -> ledger: both checkout and payments point at ledger). The
caller's finding then gets `caused_by` = the cause's id, one severity level less (its squad is
not the one to act), and a title that says so: "checkout-api slow because payments regressed
after payments 4.2.0".

Onsets must coincide: the cause starts no later than `lead` after the caller's start and no
earlier than `lag` before it (a cause cannot begin after its effect, but timestamps of two
series are only step-accurate).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from perfops.analysis.severity import demote, record_inputs
from perfops.model.catalog import Catalog
from perfops.model.findings import Finding

PROPAGATING = {  # effect metric on the caller -> cause metrics on the dependency
    "latency": ("latency", "errors", "cpu", "memory"),
    "errors": ("errors", "latency", "memory", "cpu"),
}
CAUSE_KINDS = ("anomaly", "regression", "resource_growth", "saturation_risk", "under_provisioned")
EFFECT_KINDS = ("anomaly", "regression", "slo_breach", "error_budget_burn", "journey_degradation")
PHRASE = {"latency": "slow", "errors": "failing"}
CAUSE_VERB = {"regression": "regressed", "anomaly": "misbehaved", "resource_growth": "is leaking",
              "saturation_risk": "is near saturation", "under_provisioned": "is under-provisioned"}


def link_causes(findings: list[Finding], catalog: Catalog, lead: timedelta = timedelta(minutes=15),
                lag: timedelta = timedelta(hours=2)) -> list[Finding]:
    """The findings with `caused_by`, severity and title set where a dependency explains them."""
    by_service: dict[str, list[Finding]] = {}
    for f in findings:
        by_service.setdefault(f.service, []).append(f)
    direct = {f.id: _direct_cause(f, catalog, by_service, lead, lag) for f in findings}
    by_id = {f.id: f for f in findings}
    out = []
    for f in findings:
        cause = _deepest(f.id, direct)
        if cause is None or f.caused_by:
            out.append(f)
            continue
        out.append(explain(f, by_id[cause], catalog))
    return record_inputs(link_load_driven(out), catalog)


LOAD_KINDS = ("volume_growth", "saturation_risk")


def link_load_driven(findings: list[Finding]) -> list[Finding]:
    """CPU or memory that rose with traffic is load, not a regression: a `regression` on cpu or
    memory that overlaps a traffic increase of the same service (volume growth, a traffic
    regression or anomaly upwards) is attributed to it and lowered to `info`."""
    growth = [g for g in findings if g.metric == "traffic" and (
        g.kind in LOAD_KINDS or (g.kind in ("regression", "anomaly") and _upwards(g)))]
    out = []
    for f in findings:
        driver = next((g for g in growth if f.kind == "regression" and f.metric in ("cpu", "memory")
                       and not f.caused_by and g.service == f.service and _overlap(f, g)), None)
        if driver is None:
            out.append(f)
            continue
        out.append(f.with_(
            caused_by=driver.id, severity="info",
            title=f"{f.title.rstrip('.')}, following its traffic ({driver.title})",
            evidence=dict(f.evidence, load_driven=True, cause_finding=driver.id,
                          severity_inputs={**f.evidence.get("severity_inputs", {}), "demoted_from": f.severity,
                                           "rule": "load-driven: follows its traffic", "explained_by": driver.id}),
            recommendation="Expected with more traffic; check capacity headroom rather than the code.",
        ))
    return out


def _upwards(f: Finding) -> bool:
    change = f.evidence.get("change_pct", f.evidence.get("change", 0))
    try:
        return float(change) > 0
    except (TypeError, ValueError):
        return False


def _overlap(a: Finding, b: Finding) -> bool:
    far = datetime.max
    a_start, b_start = a.start or datetime.min, b.start or datetime.min
    return a_start < (b.end or far) and b_start < (a.end or far)


def _direct_cause(f: Finding, catalog: Catalog, by_service: dict[str, list[Finding]],
                  lead: timedelta, lag: timedelta) -> str | None:
    """The deepest dependency finding that plausibly explains f, or None."""
    if f.kind not in EFFECT_KINDS or f.metric not in PROPAGATING or f.service not in catalog.service_by_name:
        return None
    best: tuple[int, str] | None = None
    for depth, dep in enumerate(catalog.dependencies_closure(f.service)):
        for g in by_service.get(dep, []):
            if (g.kind in CAUSE_KINDS and g.metric in PROPAGATING[f.metric] and _coincide(f, g, lead, lag)
                    and (best is None or depth >= best[0])):
                best = (depth, g.id)
    return best[1] if best else None


def _deepest(fid: str, direct: dict[str, str | None]) -> str | None:
    """Follow cause -> cause of the cause ... to the end of the chain (cycle-safe)."""
    seen = {fid}
    cause = direct.get(fid)
    while cause is not None and direct.get(cause) is not None and direct[cause] not in seen:
        seen.add(cause)
        cause = direct[cause]
    return cause


def _coincide(effect: Finding, cause: Finding, lead: timedelta, lag: timedelta) -> bool:
    if effect.start is None or cause.start is None:
        return False
    if not (effect.start - lag <= cause.start <= effect.start + lead):
        return False
    return _before_or_open(cause.start, effect.end) and _before_or_open(effect.start, cause.end)


def _before_or_open(moment: datetime, end: datetime | None) -> bool:
    return end is None or moment <= end


def _title(effect: Finding, who: str, what: str, because: str) -> str:
    """Trend findings read "checkout-api POST /checkout slow because payments regressed…"; other
    kinds (a journey, an SLO) keep their own subject and gain the cause."""
    if effect.kind in ("anomaly", "regression"):
        return f"{who} {what} because {because}"
    return f"{effect.title.rstrip('.')}, because {because}"


def explain(effect: Finding, cause: Finding, catalog: Catalog) -> Finding:
    """The effect finding, attributed to `cause`."""
    what = PHRASE.get(effect.metric or "", "degraded")
    after = f" after {cause.event.split(' ', 1)[-1]}" if cause.event else ""
    because = f"{cause.service} {CAUSE_VERB.get(cause.kind, 'degraded')}{after}"
    who = f"{effect.service} {effect.endpoint or ''}".strip()
    squad = catalog.squad_of(cause.service) if cause.service in catalog.service_by_name else cause.squad
    evidence = dict(effect.evidence, cause_service=cause.service, cause_squad=squad, cause_finding=cause.id)
    severity = demote(effect.severity)
    if "severity_inputs" in evidence and severity != effect.severity:
        evidence["severity_inputs"] = {**evidence["severity_inputs"], "demoted_from": effect.severity,
                                       "explained_by": cause.id}
    return effect.with_(
        caused_by=cause.id,
        severity=severity,
        title=_title(effect, who, what, because),
        detail=f"{effect.detail} Its dependency {cause.service} (squad {squad}) changed at the same time: "
               f"{cause.title}.",
        recommendation=f"Follow the fix on {cause.service} (squad {squad}); act here only if {effect.service} "
                       f"should degrade more gracefully (timeouts, caching, fallbacks).",
        evidence=evidence,
    )
