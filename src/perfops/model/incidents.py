"""Incidents, not findings: the findings that describe one event, grouped, with a state.

A head of domain asks "what happened, is it still happening, who has it?", not "which 14
detectors fired". An incident groups:

- findings linked by `caused_by` (a slow dependency and the callers it slowed);
- findings of the same service whose times overlap (within `JOIN_GAP`) — an error-rate spike and
  the error-budget burn it caused, a latency anomaly and the SLO breach it made;
- the SLO findings of one service, endpoint and metric whatever their window (a breach this week
  and over 28 days are one miss, seen twice).

Findings that describe a standing condition (capacity, cost, NFRs, test coverage) are never
merged with events; each is its own standing incident.

Each incident has a state, and the words and advice follow it:

| state | when | word |
| --- | --- | --- |
| ongoing | a symptom is open and still held at the end of the period (or ended within `ONGOING_GRACE`) | Act now (critical/high), Watch |
| ended | every symptom ended earlier | Review — never "Act now", never roll-back advice as if it were live |
| standing | capacity, cost, NFR and test findings: true until changed | Plan (critical/high), Watch |
| acknowledged | every symptom not resolved is acknowledged | In hand |
| resolved | every symptom is resolved | Resolved |

Pure: findings and `now` in, incidents out (no I/O, no clock of its own).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from perfops.model.findings import Finding, severity_rank

JOIN_GAP = timedelta(minutes=30)  # symptoms of one event start and end within this of each other
ONGOING_GRACE = timedelta(hours=1)  # an episode that ended this close to `now` may still be live
STANDING_KINDS = frozenset({
    "saturation_risk", "under_provisioned", "over_provisioned", "volume_growth",
    "unit_cost_increase", "savings_opportunity",
    "nfr_mismatch", "test_coverage_gap", "test_prod_divergence", "test_regression",
    "resource_growth",
})
SLO_KINDS = frozenset({"slo_breach", "error_budget_burn"})
STATES = ("ongoing", "ended", "standing", "acknowledged", "resolved")


@dataclass(frozen=True)
class Incident:
    id: str  # the lead finding's id
    lead: Finding  # the most severe symptom (the root cause when one is named)
    symptoms: tuple[Finding, ...]  # every finding of the incident, the lead first
    state: str
    start: datetime | None
    end: datetime | None  # None: still held at the end of the period

    @property
    def severity(self) -> str:
        return self.lead.severity

    @property
    def squad(self) -> str:
        return self.lead.squad

    @property
    def services(self) -> list[str]:
        return sorted({f.service for f in self.symptoms})

    @property
    def squads(self) -> list[str]:
        return sorted({f.squad for f in self.symptoms})

    @property
    def duration(self) -> timedelta | None:
        return self.end - self.start if self.start and self.end else None

    @property
    def needs_action(self) -> bool:
        """What the head of domain must act on: severe, and live or standing (not ended, not in hand)."""
        return self.state in ("ongoing", "standing") and severity_rank(self.severity) <= 1

    @property
    def word(self) -> str:
        severe = severity_rank(self.severity) <= 1
        return {
            "ongoing": "Act now" if severe else "Watch",
            "standing": "Plan" if severe else "Watch",
            "ended": "Review",
            "acknowledged": "In hand",
            "resolved": "Resolved",
        }[self.state]

    def advice(self, now: datetime) -> str:
        """What to do, in the incident's state: an ended event is reviewed, not rolled back."""
        text = self.lead.recommendation.strip()
        if self.state == "ended" and self.end is not None:
            # over: to review, and never the live advice (no "roll back" for a blip that has passed)
            ago = _span(now - self.end)
            lasted = f" after {_span(self.duration)}" if self.duration else ""
            return f"Ended {ago} ago{lasted}: review the cause and whether it can recur."
        if self.state == "acknowledged":
            return "Acknowledged: the owning squad is on it."
        if self.state == "resolved":
            return "Resolved."
        return text

    def to_dict(self, now: datetime) -> dict[str, object]:
        return {
            "id": self.id, "state": self.state, "word": self.word, "severity": self.severity,
            "title": self.lead.title, "squad": self.squad, "squads": self.squads, "services": self.services,
            "start": _iso(self.start), "end": _iso(self.end),
            "duration_minutes": round(self.duration.total_seconds() / 60) if self.duration else None,
            "advice": self.advice(now), "symptoms": [f.id for f in self.symptoms],
        }


def group_incidents(findings: Sequence[Finding], now: datetime) -> list[Incident]:
    """The incidents among `findings` at `now` (naive UTC), most important first."""
    by_id = {f.id: f for f in findings}
    parent = {f.id: f.id for f in findings}

    def root(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def join(a: str, b: str) -> None:
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    for f in findings:  # a cause named by the analysis joins whatever the kinds
        if f.caused_by in by_id:
            join(f.id, f.caused_by)
    for a, b in _pairs_to_join(findings, now):
        join(a.id, b.id)
    groups: dict[str, list[Finding]] = {}
    for f in findings:
        groups.setdefault(root(f.id), []).append(f)
    incidents = [_incident(members, now) for members in groups.values()]
    return sorted(incidents, key=_importance)


def is_live(f: Finding, now: datetime) -> bool:
    """Still to act on at `now`: a standing condition, or an episode that has not ended (or ended
    within ONGOING_GRACE). An episode that is over is to review, not to act on."""
    return f.kind in STANDING_KINDS or f.end is None or f.end >= now - ONGOING_GRACE


def _pairs_to_join(findings: Sequence[Finding], now: datetime) -> Iterable[tuple[Finding, Finding]]:
    """Symptoms of one service that overlap in time and share their cause. A finding with no cause
    of its own joins the first explained one it overlaps (the worst), never two different causes."""
    events = [f for f in findings if not _standing(f)]
    by_service: dict[str, list[Finding]] = {}
    for f in events:
        by_service.setdefault(f.service, []).append(f)
    for members in by_service.values():
        members.sort(key=lambda f: (severity_rank(f.severity), f.start or now, f.id))
        attached: dict[str, str] = {}  # unexplained finding id -> the cause it joined
        for i, a in enumerate(members):
            for b in members[i + 1:]:
                if _same_slo(a, b) or (_overlap(a, b, now) and _joinable(a, b, attached)):
                    yield a, b


def _cause(f: Finding) -> str | None:
    return f.caused_by or f.event


def _joinable(a: Finding, b: Finding, attached: dict[str, str]) -> bool:
    """A deploy and a slow dependency at the same hour are two incidents; an unexplained symptom
    beside them belongs to one of them only."""
    cause_a, cause_b = _cause(a), _cause(b)
    if cause_a and cause_b:
        return cause_a == cause_b
    if not cause_a and not cause_b:
        return attached.get(a.id) == attached.get(b.id)
    loose, cause = (a, cause_b) if cause_b else (b, cause_a)
    return attached.setdefault(loose.id, cause or "") == cause


def _same_slo(a: Finding, b: Finding) -> bool:
    return a.kind == b.kind == "slo_breach" and (a.endpoint, a.metric) == (b.endpoint, b.metric)


def _overlap(a: Finding, b: Finding, now: datetime) -> bool:
    if a.start is None or b.start is None:
        return False
    a_end, b_end = a.end or now, b.end or now
    return a.start <= b_end + JOIN_GAP and b.start <= a_end + JOIN_GAP


def _standing(f: Finding) -> bool:
    return f.kind in STANDING_KINDS


def _incident(members: list[Finding], now: datetime) -> Incident:
    causes = {f.caused_by for f in members if f.caused_by}
    roots = [f for f in members if f.id in causes and not f.caused_by]
    lead = min(roots or members, key=lambda f: (severity_rank(f.severity), f.start or now, f.id))
    severity = min((f.severity for f in members), key=severity_rank)
    if severity != lead.severity:  # the incident is as severe as its worst symptom
        lead = lead.with_(severity=severity)
    ordered = (lead, *sorted((f for f in members if f.id != lead.id),
                             key=lambda f: (severity_rank(f.severity), f.start or now, f.id)))
    starts = [f.start for f in members if f.start is not None]
    live = [f for f in members if f.status != "resolved"]
    ends = [f.end for f in live or members]
    end = None if any(e is None for e in ends) else max(e for e in ends if e is not None)
    return Incident(lead.id, lead, ordered, _state(members, live, end, now), min(starts) if starts else None, end)


def _state(members: list[Finding], live: list[Finding], end: datetime | None, now: datetime) -> str:
    if not live:
        return "resolved"
    if all(f.status == "acknowledged" for f in live):
        return "acknowledged"
    if all(_standing(f) for f in live):
        return "standing"
    if end is None or end >= now - ONGOING_GRACE:
        return "ongoing"
    return "ended"


def _importance(incident: Incident) -> tuple[int, int, int, str]:
    state_order = {"ongoing": 0, "standing": 1, "ended": 2, "acknowledged": 3, "resolved": 4}
    # what needs the reader first; then live before past, the worst first within each
    return (0 if incident.needs_action else 1, state_order[incident.state], severity_rank(incident.severity),
            incident.id)


def needing_action(incidents: Iterable[Incident]) -> list[Incident]:
    return [i for i in incidents if i.needs_action]


def _span(delta: timedelta | None) -> str:
    if delta is None:
        return ""
    minutes = max(0, round(delta.total_seconds() / 60))
    if minutes < 90:
        return f"{minutes} min"
    hours = minutes / 60
    if hours < 36:
        return f"{hours:.0f} h"
    return f"{hours / 24:.1f} days"


def _iso(moment: datetime | None) -> str | None:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


@dataclass(frozen=True)
class IncidentSummary:
    """Counts by state, for a report's headline."""

    by_state: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, incidents: Iterable[Incident]) -> IncidentSummary:
        counts: dict[str, int] = {}
        for i in incidents:
            counts[i.state] = counts.get(i.state, 0) + 1
        return cls(counts)
