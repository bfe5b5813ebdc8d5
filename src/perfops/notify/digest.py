"""A digest per squad and one for the domain: findings new since the last digest, still open,
and resolved since then, most important first. Pure: findings, history and times in."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from perfops.model import health
from perfops.model.actions import next_actions
from perfops.model.catalog import Catalog
from perfops.model.changes import FindingTimes, changes_since
from perfops.model.findings import SEVERE, Finding
from perfops.model.incidents import group_incidents
from perfops.notify.payloads import slack_payload, teams_payload
from perfops.notify.record import Digest

__all__ = ["Digest", "build_digests"]


def build_digests(catalog: Catalog, findings: list[Finding], history: list[dict[str, Any]],
                  since: datetime | dict[str, datetime], now: datetime,
                  movement: Mapping[str, str] | None = None) -> list[Digest]:
    """The domain digest first, then one per squad (squads with nothing to say still get one
    saying so, so silence never means the digest broke). `since` may differ per target
    ("domain" or a squad name): each counts from its own last digest. `movement`: per target,
    its key numbers against the previous stored run in words (perfops.model.weekly)."""
    moves = movement or {}
    times = FindingTimes.of(history)

    def split(target: str, chosen: list[Finding]) -> tuple[datetime, list[Finding], list[Finding], list[Finding]]:
        when = since.get(target, now) if isinstance(since, dict) else since
        changes = changes_since(chosen, times, when, now)
        return when, changes.new, changes.still_open, changes.resolved

    when, new, still, done = split("domain", findings)
    incidents = group_incidents([f for f in findings if f.status != "resolved"], now)
    needing = [f"{i.word}: {i.lead.title.rstrip('.')} (squad {i.squad})" for i in incidents if i.needs_action]
    digests = [_digest(catalog, "domain", f"{catalog.domain}: performance digest", when,
                       _severe(new, catalog), _severe(still, catalog), _severe(done, catalog), None, needing,
                       moves.get("domain"))]
    by_id = {f.id: f for f in findings}
    for squad in catalog.squads:
        when, new, still, done = split(squad.name, [f for f in findings if f.squad == squad.name])
        actions = [f"{a.word}: {a.text}" for a in next_actions(incidents, by_id, squad.name, catalog.currency)]
        digests.append(_digest(catalog, squad.name, f"{catalog.domain} / squad {squad.name}: performance digest",
                               when, health.rank_findings(new, catalog), health.rank_findings(still, catalog),
                               health.rank_findings(done, catalog), squad.webhook, actions, moves.get(squad.name)))
    return digests


def _severe(findings: list[Finding], catalog: Catalog) -> list[Finding]:
    """The domain digest carries critical and high only (as the executive report)."""
    return health.rank_findings([f for f in findings if f.severity in SEVERE], catalog)


def _digest(catalog: Catalog, target: str, title: str, since: datetime, new: list[Finding],
            still: list[Finding], done: list[Finding], webhook: str | None, actions: list[str],
            movement: str | None = None) -> Digest:
    base = Digest(target=target, title=title, since=since, new=new, still_open=still, resolved=done,
                  webhook=webhook, timezone=catalog.timezone, actions=actions, movement=movement)
    return Digest(**{**base.__dict__, "slack": slack_payload(base), "teams": teams_payload(base)})
