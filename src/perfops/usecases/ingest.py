"""`perfops ingest`: files in, store updated — idempotent by content and options (see ingest_key), atomic
per file."""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from perfops.errors import InputError, PerfopsError
from perfops.ingest.base import IngestBatch, IngestOptions
from perfops.ingest.registry import reader_for
from perfops.model.limits import latest_accepted
from perfops.store import Store, StoreRejected, open_store
from perfops.usecases.input_times import check_batch_times
from perfops.workspace import Workspace

Progress = Callable[[str, int, int], None]  # (file name, bytes done, bytes total)


@dataclass
class FileResult:
    path: Path
    format: str
    status: str  # loaded | unchanged
    rows: int = 0
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    run_ids: list[str] = field(default_factory=list)  # performance-test runs the file held
    warnings: list[str] = field(default_factory=list)  # data the file seemed to hold but did not load
    run_sizes: list[tuple[str, int, int]] = field(default_factory=list)  # (run id, samples, endpoints)


def ingest_paths(
    workspace: Workspace,
    paths: Sequence[Path],
    *,
    format_name: str = "auto",
    service: str | None = None,
    run_id: str | None = None,
    environment: str | None = None,
    skip_bad_rows: bool = False,
    log_format: str | None = None,
    consumer_field: str | None = None,
    progress: Progress | None = None,
    now: datetime | None = None,
) -> list[FileResult]:
    """`now` (naive UTC; default the clock) bounds the accepted times: see perfops.model.limits."""
    catalog = workspace.load_catalog()
    latest = latest_accepted(now or datetime.now(UTC).replace(tzinfo=None))
    if service and service not in catalog.service_by_name:
        raise InputError(f"'{service}' is not a service in perfops.yaml", field="--service")
    files = _expand(paths)
    results = []
    with open_store(workspace.store_path) as store:
        for path in files:
            opts = IngestOptions(
                catalog=catalog, service=service, run_id=run_id, environment=environment,
                skip_bad_rows=skip_bad_rows, log_format=log_format, consumer_field=consumer_field,
                progress=partial(progress, path.name) if progress else None,
                latest=latest,
            )
            results.append(ingest_file(store, path, format_name, opts))
    return results


def ingest_file(store: Store, path: Path, format_name: str, options: IngestOptions) -> FileResult:
    """Read one file and store it in one transaction: all of it, or (on any error) nothing."""
    reader = reader_for(path, format_name)
    digest = ingest_key(file_sha256(path), reader.name if format_name != "auto" else None, options)
    if store.ledger.has(digest):
        return FileResult(path, reader.name, "unchanged")
    plans = reader.bulk(path, options) if reader.bulk and not options.skip_bad_rows else None
    size = path.stat().st_size
    for plan in plans or []:
        if options.progress:
            options.progress(0, size)  # the engine's pass reports nothing until it is done
        try:
            with store.transaction():
                rows = store.telemetry.insert_plan(plan)
                store.ledger.record(digest, str(path), reader.name, rows, 0)
        except StoreRejected:
            continue  # rolled back: the next plan, or the reader's own pass, which names the line
        if options.progress:
            options.progress(size, size)
        return FileResult(path, reader.name, "loaded", rows)
    batch = _read(reader.read, path, options)
    check_batch_times(batch, path, options.latest)
    try:
        with store.transaction():
            rows = store_batch(store, batch)
            store.ledger.record(digest, str(path), reader.name, rows, len(batch.skipped))
    except StoreRejected as exc:
        raise InputError(f"the store refused the rows read as {reader.name}: {exc}", path=str(path)) from exc
    runs = list(batch.test_runs["run_id"]) if batch.test_runs is not None and len(batch.test_runs) else []
    return FileResult(path, reader.name, "loaded", rows, batch.skipped, batch.notes, runs, batch.warnings,
                      [run_size(batch, run) for run in runs])


def run_size(batch: IngestBatch, run_id: str) -> tuple[str, int, int]:
    """(run id, samples, endpoints) of a run just read: the endpoints' samples, or the whole
    run's row ('' endpoint, summary files) when it has no per-endpoint rows."""
    eps = batch.test_endpoints
    if eps is None or eps.empty:
        return run_id, 0, 0
    rows = eps[eps["run_id"] == run_id]
    named = rows[rows["endpoint"] != ""]
    return run_id, int((named if len(named) else rows)["samples"].sum()), len(named)


def store_batch(store: Store, batch: IngestBatch) -> int:
    """Write a reader's tables; call inside a transaction."""
    rows = 0
    if batch.telemetry is not None and len(batch.telemetry):
        rows += store.telemetry.upsert(batch.telemetry)
    if batch.events is not None and len(batch.events):
        rows += store.telemetry.insert_events(batch.events)
    if batch.test_runs is not None and len(batch.test_runs):
        store.tests.replace_run(batch.test_runs, batch.test_endpoints, batch.test_series)
        rows += len(batch.test_runs)
    return rows


def _read(read: Callable[[Path, IngestOptions], IngestBatch], path: Path, options: IngestOptions) -> IngestBatch:
    try:
        return read(path, options)
    except PerfopsError:
        raise
    except UnicodeDecodeError as exc:
        raise InputError(f"not readable as text in the expected encoding ({exc.reason})", path=str(path)) from exc
    except MemoryError as exc:
        raise InputError("the file is too large to read in memory", path=str(path)) from exc
    except RecursionError as exc:  # json's C parser stops at the interpreter's recursion limit
        raise InputError(f"nested deeper than {sys.getrecursionlimit():,} levels (the JSON parser's limit); "
                         "expected a document of the format's own shape", path=str(path)) from exc
    except Exception as exc:
        raise InputError(
            f"could not be read as {reader_name(read)}: {type(exc).__name__}: {str(exc)[:200]}", path=str(path),
            hint="check the file is complete and in the expected format (see docs/formats)",
        ) from exc


def reader_name(read: Callable[[Path, IngestOptions], IngestBatch]) -> str:
    return read.__module__.rsplit(".", 1)[-1].replace("_", "-")


def _expand(paths: Sequence[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")))
        elif path.is_file():
            files.append(path)
        else:
            raise InputError("no such file or folder", path=str(path))
    return files


def ingest_key(content_sha256: str, forced_format: str | None, options: IngestOptions) -> str:
    """What the ledger remembers: the content's SHA-256, joined by the options that change the
    rows written (service, run id, environment, a forced format, the access-log format and
    consumer field), so the same file for two services loads twice while the same file with the
    same options changes nothing. Without such options the key is the content's SHA-256 alone,
    as stores written before this rule hold it. --skip-bad-rows is left out: it never changes a
    row that loads."""
    chosen = {"service": options.service, "run_id": options.run_id, "environment": options.environment,
              "format": forced_format, "log_format": options.log_format, "consumer_field": options.consumer_field}
    given = {name: value for name, value in chosen.items() if value is not None}
    if not given:
        return content_sha256
    import json

    return hashlib.sha256(json.dumps([content_sha256, given], sort_keys=True).encode()).hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(4 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
