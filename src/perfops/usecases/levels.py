"""Hand-made level marks: "this is the new normal since <time>" for a service's metric.

Acknowledging a regression records a mark by itself; a squad can also mark a level change that no
finding announced (a campaign, a new consumer), so that later analyses measure against the new
level instead of raising it every week (trends.apply_marks).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from perfops.errors import PerfopsError
from perfops.store import open_store
from perfops.usecases.context import parse_moment
from perfops.workspace import Workspace

# what trends can re-base: its roles, and the metric names behind them
MARKABLE = {"latency": "latency", "latency_p95_ms": "latency", "errors": "errors", "traffic": "traffic",
            "requests": "traffic", "cpu": "cpu", "cpu_pct": "cpu", "memory": "memory", "memory_pct": "memory"}


@dataclass(frozen=True)
class LevelMark:
    service: str
    endpoint: str
    metric: str
    at: datetime
    note: str
    by: str
    finding_id: str | None


def mark_level(workspace: Workspace, service: str, metric: str, since: str, *, endpoint: str = "",
               note: str | None = None, by: str | None = None) -> LevelMark:
    """Record that `metric` of `service` (or one endpoint) has a new normal level since `since`."""
    catalog = workspace.load_catalog()
    if service not in catalog.service_by_name:
        raise PerfopsError(f"'{service}' is not a service in perfops.yaml",
                           hint=f"expected one of {', '.join(sorted(catalog.service_by_name)[:10])}")
    if metric not in MARKABLE:
        raise PerfopsError(f"--metric: '{metric}' cannot be re-based; expected one of {', '.join(MARKABLE)}")
    at = parse_moment(since, "--since")
    assert at is not None  # typer makes --since required
    if not note or not note.strip():
        raise PerfopsError("--note: say why the level changed (kept with the mark), e.g. 'campaign traffic'")
    with open_store(workspace.store_path) as store, store.transaction():
        store.findings.add_level_mark(service, endpoint, metric, at, note.strip(), by or "unknown")
    return LevelMark(service, endpoint, metric, at, note.strip(), by or "unknown", None)


def list_marks(workspace: Workspace, service: str | None = None) -> list[LevelMark]:
    if not workspace.store_path.exists():
        return []
    with open_store(workspace.store_path, read_only=True) as store:
        rows: list[dict[str, Any]] = store.findings.level_marks()
    return [LevelMark(r["service"], r["endpoint"] or "", r["metric"], r["at"], r["note"] or "", r["by"] or "",
                      r["finding_id"]) for r in rows if service is None or r["service"] == service]
