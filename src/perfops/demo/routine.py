"""Routine change in the demo: the harmless deploys and config changes every domain has.

They are what makes event linking honest: most deploys change nothing, so an analysis that
blames every deploy would be wrong most of the time. They avoid the day around each incident on
the same service (and on the callers of a slow dependency), so the incident's own event is the
nearest one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from perfops.demo.effects import Effect

# current major.minor per service; routine deploys bump the patch number
VERSIONS = {
    "web": "12.3", "catalog": "5.9", "search": "3.2", "recommendations": "1.14", "cart": "3.7",
    "inventory": "2.5", "pricing": "2.13", "checkout-api": "2.3", "orders": "5.1", "payments": "4.1",
    "fraud": "7.0", "ledger": "1.8", "notifications": "0.9", "identity": "6.4",
}
CHANGES = ("dependency updates", "logging tweaks", "copy changes", "feature flag cleanup", "minor bug fixes",
           "new metrics", "refactoring", "security patch", "retry tuning", "config refactor")
DEPLOYS_PER_WEEK = 5
Window = tuple[datetime, datetime]


@dataclass(frozen=True)
class Event:
    """A row of events.csv (perfops.model.tables.EVENT_COLUMNS)."""

    timestamp: datetime
    service: str
    type: str
    version: str
    description: str


def routine_events(start: datetime, end: datetime, blocked: dict[str, list[Window]],
                   rng: np.random.Generator) -> list[Event]:
    """Harmless deploys (about five a week, weekdays 09:00-17:00) and two config changes,
    none inside a service's `blocked` windows (see `blocked_windows`)."""
    services = sorted(VERSIONS)
    patch = dict.fromkeys(services, 0)
    weeks = max(1, round((end - start).days / 7))
    out: list[Event] = []
    for _ in range(DEPLOYS_PER_WEEK * weeks * 4):  # bounded retries
        if len(out) >= DEPLOYS_PER_WEEK * weeks:
            break
        moment = _working_moment(start, end, rng)
        service = services[int(rng.integers(len(services)))]
        if moment is None or _is_blocked(service, moment, blocked):
            continue
        out.append(Event(moment, service, "deploy", "", ""))
    out.sort(key=lambda e: e.timestamp)
    numbered = []
    for event in out:
        patch[event.service] += 1
        version = f"{VERSIONS[event.service]}.{patch[event.service]}"
        change = CHANGES[int(rng.integers(len(CHANGES)))]
        numbered.append(Event(event.timestamp, event.service, "deploy", version,
                              f"{event.service} {version}: {change}"))
    return numbered + _config_changes(end)


def _working_moment(start: datetime, end: datetime, rng: np.random.Generator) -> datetime | None:
    day = start + timedelta(days=int(rng.integers(0, max(1, (end - start).days))))
    day = day.replace(hour=0, minute=0, second=0, microsecond=0)
    if day.weekday() >= 5:
        return None
    moment = day + timedelta(hours=9, minutes=5 * int(rng.integers(0, 8 * 12)))
    return moment if start <= moment < end else None


def blocked_windows(effects: list[Effect], end: datetime, callers: dict[str, list[str]]) -> dict[str, list[Window]]:
    """Where routine deploys must not go: a day either side of every incident window on its
    service (and of a latency change on the service's callers, which feel it too); and from a
    day before a sustained latency or memory change to the end, so that its deploy stays the
    service's latest."""
    pad = timedelta(days=1)
    out: dict[str, list[Window]] = {}
    for effect in effects:
        sustained = effect.end is None and effect.target in ("latency", "memory")
        until = end if sustained else (effect.end or effect.start) + pad
        out.setdefault(effect.service, []).append((effect.start - pad, until))
        if effect.target == "latency":
            for caller in callers.get(effect.service, []):
                out.setdefault(caller, []).append((effect.start - pad, effect.start + pad))
    return out


def _is_blocked(service: str, moment: datetime, blocked: dict[str, list[Window]]) -> bool:
    return any(lo <= moment < hi for lo, hi in blocked.get(service, []))


def _config_changes(end: datetime) -> list[Event]:
    day0 = end.replace(hour=0, minute=0, second=0, microsecond=0)
    return [
        Event(day0 - timedelta(days=10) + timedelta(hours=11), "fraud", "config", "",
              "fraud: model timeout raised 200 ms -> 250 ms"),
        Event(day0 - timedelta(days=2) + timedelta(hours=10), "checkout-api", "config", "",
              "checkout-api: express-checkout feature flag 10% -> 50% of users"),
    ]
