"""Writers of the demo workspace's files. Each file is written to a temporary name in its folder
and renamed into place, so a reader never sees half a file."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from perfops.demo.routine import Event
from perfops.model.tables import EVENT_COLUMNS


@contextmanager
def atomic(path: Path) -> Iterator[Path]:
    """Yield a temporary path next to `path`; rename it to `path` when the block succeeds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        yield temporary
        temporary.replace(path)
    finally:
        if temporary.exists():
            temporary.unlink()


def write_text(path: Path, text: str) -> None:
    with atomic(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_parquet(path: Path, table: pa.Table) -> None:
    with atomic(path) as tmp:
        pq.write_table(table, tmp, compression="zstd", row_group_size=1 << 20)


def write_events(path: Path, events: list[Event]) -> None:
    """events.csv: timestamp (ISO 8601, Z), service, type, version, description."""
    with atomic(path) as tmp, tmp.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(EVENT_COLUMNS)
        for e in events:
            writer.writerow([e.timestamp.strftime("%Y-%m-%dT%H:%M:%SZ"), e.service, e.type, e.version,
                             e.description])


def write_json(path: Path, document: dict[str, Any]) -> None:
    with atomic(path) as tmp:
        tmp.write_text(json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
