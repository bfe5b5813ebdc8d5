"""Next actions per squad: what each squad should do, in order, from the incidents it owns.

Each action names its owner, the finding ids behind it and a concrete step that uses what perfops
already knows: the dependency named as the cause (ask its squad), the release that preceded a
regression (roll it back or fix it), the saving (with its monthly figure), the ended event to
review. Ordered as the incidents are (what needs action first). Pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from perfops.model.findings import Finding
from perfops.model.incidents import Incident

RELEASE_KINDS = frozenset({"regression", "test_regression", "anomaly", "error_budget_burn", "slo_breach"})


@dataclass(frozen=True)
class Action:
    squad: str
    incident: str  # the incident's id (its lead finding)
    findings: tuple[str, ...]
    word: str  # the incident's state word: Act now, Plan, Watch, Review, In hand
    severity: str
    text: str

    def to_dict(self) -> dict[str, object]:
        return {"squad": self.squad, "incident": self.incident, "findings": list(self.findings),
                "word": self.word, "severity": self.severity, "text": self.text}


def next_actions(incidents: Sequence[Incident], by_id: Mapping[str, Finding], squad: str | None = None,
                 currency: str = "USD") -> list[Action]:
    """The actions of `squad` (None: every squad), skipping resolved incidents."""
    out = []
    for incident in incidents:
        if incident.state == "resolved" or (squad is not None and squad not in incident.squads):
            continue
        owner = squad or incident.squad
        text = _step(incident, by_id, currency) if owner == incident.squad else _follow(incident, owner)
        out.append(Action(owner, incident.id, tuple(f.id for f in incident.symptoms), incident.word,
                          incident.severity, text))
    return out


def _follow(incident: Incident, squad: str) -> str:
    """A squad whose service suffers from another squad's incident: who owns it, what to expect."""
    lead = incident.lead
    mine = next(f for f in incident.symptoms if f.squad == squad)
    release = f" after {lead.event}" if lead.event else ""
    return (f"Squad {incident.squad} owns the cause ({lead.service}{release}: {_lower(lead.title)}); "
            f"{_lower(mine.title)} follows from it: coordinate with them rather than change {mine.service}.")


def _step(incident: Incident, by_id: Mapping[str, Finding], currency: str) -> str:
    lead = incident.lead
    if incident.state == "acknowledged":
        return f"Follow through on {lead.title.rstrip('.')} (acknowledged)."
    if incident.state == "ended":
        return f"Review {_lower(lead.title)}: it ended; find the cause so it does not recur."
    cause = by_id.get(lead.caused_by or "")
    if cause is not None and cause.squad != incident.squad:
        return (f"Ask squad {cause.squad} about {cause.service} ({_lower(cause.title)}): it is named as the cause "
                f"of {_lower(lead.title)}.")
    saving = lead.impact.get("monthly_savings") if lead.kind == "savings_opportunity" else None
    if saving:
        return f"Save {currency} {float(saving):,.0f} a month: {_first_sentence(lead.recommendation) or lead.title}"
    if lead.event and lead.kind in RELEASE_KINDS:
        return f"Roll back or fix {lead.event}: {_lower(lead.title)}."
    return _first_sentence(lead.recommendation) or f"Look into {_lower(lead.title)}."


def _first_sentence(text: str) -> str:
    head = text.strip().split(". ")[0].strip()
    return (head.rstrip(".") + ".") if head else ""


def _lower(title: str) -> str:
    title = title.strip().rstrip(".")
    return title[:1].lower() + title[1:] if title[:2] != title[:2].upper() else title
