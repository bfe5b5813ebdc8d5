"""What perfops knows about its own work, for `/metrics`: rows ingested and collected, the newest
collected sample, the cycle's last outcomes, the store's size. Read-only."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from perfops.store import open_store
from perfops.usecases.cycle import STATE_FILE
from perfops.workspace import Workspace


@dataclass(frozen=True)
class StoreFacts:
    rows_ingested: int  # rows stored from files (perfops ingest), per the ledger
    files_ingested: int
    newest_collected: datetime | None  # naive UTC: the newest sample a collect stored
    hourly_rows: int  # telemetry kept as hourly rollups by retention


@dataclass(frozen=True)
class CycleFacts:
    """The cycle state file as perfops cycle leaves it (see usecases/cycle.py)."""

    last: dict[str, dict[str, Any]] = field(default_factory=dict)  # step -> outcome of its last run
    last_success: dict[str, str] = field(default_factory=dict)  # step -> ISO time
    outcomes: dict[str, dict[str, int]] = field(default_factory=dict)  # step -> status -> count
    rows_collected: int = 0


def store_facts(workspace: Workspace) -> StoreFacts:
    with open_store(workspace.store_path, read_only=True) as store:
        files = store.ledger.files()
        newest = [r.last_timestamp for r in store.collect_state.all() if r.last_timestamp is not None]
        hourly = store.retention.hourly_rows()
    return StoreFacts(
        rows_ingested=sum(f.rows or 0 for f in files),
        files_ingested=len(files),
        newest_collected=max(newest) if newest else None,
        hourly_rows=hourly,
    )


def cycle_facts(workspace: Workspace) -> CycleFacts:
    try:
        data = json.loads((workspace.store_path.parent / STATE_FILE).read_text())
    except (OSError, ValueError):
        return CycleFacts()
    if not isinstance(data, dict):
        return CycleFacts()
    return CycleFacts(data.get("last", {}), data.get("last_success", {}), data.get("outcomes", {}),
                      int(data.get("rows_collected", 0)))


def store_size(workspace: Workspace) -> int:
    """Bytes of the store file and its write-ahead log."""
    total = 0
    for path in (workspace.store_path, workspace.store_path.with_name(workspace.store_path.name + ".wal")):
        with contextlib.suppress(OSError):
            total += path.stat().st_size
    return total
