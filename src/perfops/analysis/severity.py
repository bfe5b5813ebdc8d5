"""Severity from impact, shared by every analysis area.

"A head of domain reading only critical and high must see everything they need to act on, and
nothing else." Severity is therefore a budget of impact points, not a property of the
statistics (a p-value says a change is real, not that it matters):

| factor | 0 | 1 | 2 | 3 |
| --- | --- | --- | --- | --- |
| tier of the service | - | 3 (internal) | 2 | 1 (customer-facing) |
| requests affected | < 1,000 | < 10,000 | < 100,000 | more |
| failed requests (errors) | < 50 | < 500 | < 5,000 | more |
| duration | < 30 min | < 2 h | < 24 h | a day or more, or still ongoing |
| SLO | within | - | at risk (>= 80 % of the target) | breached: +3 |
| size of the change | small (< 20 %): -1 | | | |

Requests and failed requests count once: the larger of the two. The total maps to
critical >= 10, high >= 8, medium >= 6, low >= 4, else info. So an ongoing, SLO-breaching
regression of a tier-1 service is critical; a short blip on an internal service is info; a
consumer of a few requests an hour never reaches high. Use `cap` to hold a kind below a level
(an improvement is always info; a finding explained by another one drops a level).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from perfops.model.findings import SEVERITIES

THRESHOLDS = (("critical", 10), ("high", 8), ("medium", 6), ("low", 4))


@dataclass(frozen=True)
class Impact:
    tier: int = 2
    requests_affected: float = 0.0
    failed_requests: float = 0.0
    duration: timedelta | None = None  # None = still ongoing
    slo_ratio: float | None = None  # observed / SLO target (1.0 = exactly at the target)
    relative_change: float | None = None  # |observed / norm - 1|


def impact_points(impact: Impact) -> int:
    points = {1: 3, 2: 2, 3: 1}.get(impact.tier, 2)
    points += max(_steps(impact.requests_affected, (1_000, 10_000, 100_000)),
                  _steps(impact.failed_requests, (50, 500, 5_000)))
    points += 3 if impact.duration is None else _steps(impact.duration.total_seconds() / 60, (30, 120, 1440))
    if impact.slo_ratio is not None:
        points += 3 if impact.slo_ratio > 1.0 else 2 if impact.slo_ratio >= 0.8 else 0
    if impact.relative_change is not None and impact.relative_change < 0.2:
        points -= 1
    return points


def severity_from_impact(impact: Impact, cap: str | None = None) -> str:
    """The severity of a finding with this impact, never above `cap`."""
    points = impact_points(impact)
    level = next((name for name, need in THRESHOLDS if points >= need), "info")
    return lower_to(level, cap) if cap else level


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
