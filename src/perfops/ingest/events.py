"""Events CSV (contract: workspace.md): timestamp, service, type, version, description."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pyarrow as pa

from perfops.errors import InputError
from perfops.ingest.base import IngestBatch, IngestOptions, Reader
from perfops.ingest.common import (
    check_columns_limit,
    header_fields,
    parse_timestamps,
    range_text,
    require_columns,
    times_in_range,
    unknown_service,
)
from perfops.model.tables import EVENT_COLUMNS, EVENT_TYPES


def sniff(path: Path, head: bytes) -> bool:
    fields = header_fields(head)
    return {"timestamp", "service", "type"} <= set(fields) and "metric" not in fields


def read(path: Path, options: IngestOptions) -> IngestBatch:
    rows = _rows(path)
    if not rows:
        raise InputError("no events; expected a header and at least one row", path=str(path))
    batch = IngestBatch()
    stamps, bad_ts = parse_timestamps(pa.array([r.get("timestamp", "") for _, r in rows]), batch.notes)
    kept, timestamps = [], stamps.to_numpy(zero_copy_only=False)
    outside = ~times_in_range(timestamps, options.latest) & ~bad_ts
    for index, (line, row) in enumerate(rows):
        problem = _problem(row, bool(bad_ts[index]), options)
        if problem is None and outside[index]:
            problem = (f"timestamp: '{row.get('timestamp')}' is outside {range_text(options.latest)}; "
                       "expected the time of the event")
        if problem is None:
            kept.append({**{c: (row.get(c) or "").strip() for c in EVENT_COLUMNS}, "timestamp": timestamps[index]})
            kept[-1]["type"] = kept[-1]["type"].lower()
        elif options.skip_bad_rows:
            batch.skipped.append(f"{path}:{line}: {problem}")
        else:
            raise InputError(problem, path=str(path), line=line, hint="fix the row, or pass --skip-bad-rows")
    frame = pd.DataFrame(kept, columns=list(EVENT_COLUMNS))
    frame["timestamp"] = frame["timestamp"].astype("datetime64[us]")  # already parsed: microseconds, any year
    batch.events = frame
    return batch


def _rows(path: Path) -> list[tuple[int, dict[str, str]]]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f)
            fields = [(n or "").strip().lower() for n in reader.fieldnames or []]
            check_columns_limit(len(fields), path, "an events CSV of a few columns")
            require_columns(fields, ("timestamp", "service", "type"), path)
            reader.fieldnames = fields
            return [(reader.line_num, row) for row in reader]
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text ({exc.reason})", path=str(path)) from exc
    except csv.Error as exc:
        raise InputError(f"malformed CSV ({exc})", path=str(path)) from exc


def _problem(row: dict[str, str], bad_timestamp: bool, options: IngestOptions) -> str | None:
    if None in row:
        return "more fields than the header has; quote descriptions that contain commas"
    if bad_timestamp:
        return f"timestamp: '{row.get('timestamp')}' is not a time; expected ISO 8601 or epoch s/ms"
    service = (row.get("service") or "").strip()
    if service not in options.catalog.service_by_name:
        return unknown_service(service, list(options.catalog.service_by_name))
    kind = (row.get("type") or "").strip().lower()
    if kind not in EVENT_TYPES:
        return f"type: '{kind}' is unknown; expected one of {', '.join(EVENT_TYPES)}"
    return None


READER = Reader(
    name="events",
    description="events CSV: timestamp, service, type (deploy, config, scaling, incident, test), version, description",
    sniff=sniff,
    read=read,
    priority=70,
)

