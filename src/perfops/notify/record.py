"""The digest record and the line each finding gets in it (the text and the webhook payloads
share them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from perfops.model import format as fmt
from perfops.model.findings import Finding

MAX_ITEMS = 8
MAX_ACTIONS = 3
ACTIONS_LABEL = "Next actions"


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
    actions: list[str] = field(default_factory=list)  # the answer first: what needs doing, in order
    movement: str | None = None  # the key numbers against the previous stored run, in words (model/weekly.py)
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
        if self.movement:
            lines.append(self.movement)
        if self.actions:
            lines.append(f"{ACTIONS_LABEL}:")
            lines += [f"  {i}. {a}" for i, a in enumerate(self.actions[:MAX_ACTIONS], start=1)]
        for label, items in (("New", self.new), ("Still open", self.still_open), ("Resolved", self.resolved)):
            if items:
                lines.append(f"{label}:")
                lines += [f"  • {line_of(f)}" for f in items[:MAX_ITEMS]]
                if len(items) > MAX_ITEMS:
                    lines.append(f"  … and {len(items) - MAX_ITEMS} more")
        return "\n".join(lines)


def line_of(f: Finding) -> str:
    return f"[{f.severity}] {f.title} ({f.service}, squad {f.squad}; {f.status}) {f.id}"
