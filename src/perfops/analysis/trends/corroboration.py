"""One service, two signals: an incident that another metric of its service confirms.

A trends finding is judged on its own series (perfops.analysis.severity). When another metric
of the same service deviated in its own bad direction over an overlapping stretch, the episode
is not one noisy series: the service as a whole was affected (an ad exchange whose cost per
click and cost per thousand impressions both doubled for a day; a host whose CPU and network
rose together). The policy then adds a point (`Impact.corroborated`); both findings must have
moved at least one magnitude point in their metric's own scale (`severity.deviates`), so two
wobbles within the norm's spread do not lift each other.

Decided after all of a chunk's series are analysed (every step of a service is in its chunk),
from the findings' recorded severity inputs, so it costs a comparison of a service's few
findings and no pass over the data.
"""

from __future__ import annotations

from datetime import datetime

from perfops.analysis.severity import deviates, rejudge
from perfops.model.findings import Finding, severity_rank

EPISODES = ("anomaly", "regression")


def corroborate(findings: list[Finding]) -> list[Finding]:
    """The findings, each episode raised by a point where another metric of its service confirms it."""
    moved: dict[str, list[Finding]] = {}
    for f in findings:
        if _moved(f):
            moved.setdefault(f.service, []).append(f)
    out = []
    for f in findings:
        other = None
        if _moved(f):
            other = next((g for g in moved[f.service] if g.metric != f.metric and _overlap(f, g)), None)
        if other is None:
            out.append(f)
            continue
        verdict = rejudge(f.evidence["severity_inputs"], corroborated=True)
        # the metric and its start: the other finding's id may be merged away in the store
        inputs = {**verdict.inputs, "corroborated_by": f"{other.metric} from {other.start:%Y-%m-%d %H:%M}"}
        level = verdict.level if severity_rank(verdict.level) < severity_rank(f.severity) else f.severity
        out.append(f.with_(severity=level, evidence={**f.evidence, "severity_inputs": inputs}))
    return out


def _moved(f: Finding) -> bool:
    inputs = f.evidence.get("severity_inputs") or {}
    return f.kind in EPISODES and "points" in inputs and deviates(inputs)


def _overlap(a: Finding, b: Finding) -> bool:
    far = datetime.max
    return bool(a.start and b.start and a.start < (b.end or far) and b.start < (a.end or far))
