"""What changed since the last report: findings new, still open and resolved since a moment.

One rule for the reports, the digests and the dashboard, from the findings and their history
(`found` and `resolved` entries): new = first found at or after `since` and not resolved; still
open = found before and not resolved; resolved = resolved at or after `since`. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from perfops.model.findings import Finding


@dataclass(frozen=True)
class Changes:
    since: datetime
    new: list[Finding] = field(default_factory=list)
    still_open: list[Finding] = field(default_factory=list)
    resolved: list[Finding] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.new or self.still_open or self.resolved)

    def counts(self) -> dict[str, int]:
        return {"new": len(self.new), "still_open": len(self.still_open), "resolved": len(self.resolved)}


@dataclass(frozen=True)
class FindingTimes:
    """When each finding was first found and last resolved, from the workflow history."""

    found: Mapping[str, datetime]
    resolved: Mapping[str, datetime]

    @classmethod
    def of(cls, history: Iterable[Mapping[str, Any]]) -> FindingTimes:
        found: dict[str, datetime] = {}
        resolved: dict[str, datetime] = {}
        for row in history:
            if row.get("action") == "found":
                found.setdefault(row["finding_id"], row["at"])
            elif row.get("action") == "resolved":
                resolved[row["finding_id"]] = row["at"]
        return cls(found, resolved)


def changes_since(findings: Sequence[Finding], times: FindingTimes, since: datetime, now: datetime) -> Changes:
    new = [f for f in findings if f.status != "resolved" and times.found.get(f.id, now) >= since]
    still = [f for f in findings if f.status != "resolved" and times.found.get(f.id, now) < since]
    done = [f for f in findings if f.status == "resolved" and times.resolved.get(f.id, since) >= since]
    return Changes(since, new, still, done)
