"""A digest per squad and one for the domain: findings new since the last digest, still open,
and resolved since then, most important first. Pure: findings, history and times in."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from perfops.model import format as fmt
from perfops.model import health
from perfops.model.catalog import Catalog
from perfops.model.findings import Finding

MAX_ITEMS = 8


@dataclass(frozen=True)
class Digest:
    target: str  # "domain" or a squad name
    title: str
    since: datetime
    new: list[Finding]
    still_open: list[Finding]
    resolved: list[Finding]
    webhook: str | None = None
    link: str | None = None
    timezone: str = "UTC"
    slack: dict[str, Any] = field(default_factory=dict)
    teams: dict[str, Any] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.new or self.still_open or self.resolved)

    @property
    def text(self) -> str:
        """The plain-text form (Slack's `text` fallback, the dry-run print)."""
        lines = [self.title, f"since {fmt.local_time(self.since, self.timezone)}: "
                 f"{len(self.new)} new, {len(self.still_open)} still open, {len(self.resolved)} resolved"]
        for label, items in (("New", self.new), ("Still open", self.still_open), ("Resolved", self.resolved)):
            if items:
                lines.append(f"{label}:")
                lines += [f"  • {line_of(f)}" for f in items[:MAX_ITEMS]]
                if len(items) > MAX_ITEMS:
                    lines.append(f"  … and {len(items) - MAX_ITEMS} more")
        return "\n".join(lines)


def line_of(f: Finding) -> str:
    return f"[{f.severity}] {f.title} ({f.service}, squad {f.squad}; {f.status}) {f.id}"


def build_digests(catalog: Catalog, findings: list[Finding], history: list[dict[str, Any]],
                  since: datetime | dict[str, datetime], now: datetime) -> list[Digest]:
    """The domain digest first, then one per squad (squads with nothing to say still get one
    saying so, so silence never means the digest broke). `since` may differ per target
    ("domain" or a squad name): each counts from its own last digest."""
    resolved_at = {r["finding_id"]: r["at"] for r in history if r.get("action") == "resolved"}
    first: dict[str, datetime] = {}
    for r in history:
        if r.get("action") == "found":
            first.setdefault(r["finding_id"], r["at"])

    def split(target: str, chosen: list[Finding]) -> tuple[datetime, list[Finding], list[Finding], list[Finding]]:
        when = since.get(target, now) if isinstance(since, dict) else since
        new = [f for f in chosen if f.status != "resolved" and first.get(f.id, now) >= when]
        still = [f for f in chosen if f.status != "resolved" and first.get(f.id, now) < when]
        done = [f for f in chosen if f.status == "resolved" and resolved_at.get(f.id, when) >= when]
        return when, new, still, done

    when, new, still, done = split("domain", findings)
    digests = [_digest(catalog, "domain", f"{catalog.domain}: performance digest", when,
                       _severe(new, catalog), _severe(still, catalog), _severe(done, catalog), None)]
    for squad in catalog.squads:
        when, new, still, done = split(squad.name, [f for f in findings if f.squad == squad.name])
        digests.append(_digest(catalog, squad.name, f"{catalog.domain} / squad {squad.name}: performance digest",
                               when, *(health.rank_findings(m, catalog) for m in (new, still, done)), squad.webhook))
    return digests


def _severe(findings: list[Finding], catalog: Catalog) -> list[Finding]:
    """The domain digest carries critical and high only (as the executive report)."""
    return health.rank_findings([f for f in findings if f.severity in ("critical", "high")], catalog)


def _digest(catalog: Catalog, target: str, title: str, since: datetime, new: list[Finding],
            still: list[Finding], done: list[Finding], webhook: str | None) -> Digest:
    from perfops.notify.payloads import slack_payload, teams_payload

    base = Digest(target=target, title=title, since=since, new=new, still_open=still, resolved=done,
                  webhook=webhook, timezone=catalog.timezone)
    return Digest(**{**base.__dict__, "slack": slack_payload(base), "teams": teams_payload(base)})
