"""What a reader is, and what it returns. Readers are pure: a path in, canonical tables out.

A format is one module under `perfops.ingest` that defines `READER = Reader(...)`; the registry
discovers it, so adding a format touches only that module, its tests, fixtures and doc page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from perfops.model.catalog import Catalog
from perfops.model.plans import BulkPlan

__all__ = ["BulkPlan", "IngestBatch", "IngestOptions", "Reader"]


@dataclass(frozen=True)
class IngestOptions:
    """What the user said on the command line, plus the catalog to resolve names against."""

    catalog: Catalog
    service: str | None = None
    run_id: str | None = None
    environment: str | None = None
    skip_bad_rows: bool = False
    log_format: str | None = None  # access logs: an nginx log_format string
    consumer_field: str | None = None  # access logs: where the consumer comes from
    progress: Callable[[int, int], None] | None = None  # (bytes done, bytes total)


@dataclass
class IngestBatch:
    """Canonical tables a reader produced (see perfops.model.tables), and what it skipped."""

    telemetry: pd.DataFrame | None = None
    events: pd.DataFrame | None = None
    test_runs: pd.DataFrame | None = None
    test_endpoints: pd.DataFrame | None = None
    test_series: pd.DataFrame | None = None
    skipped: list[str] = field(default_factory=list)  # 'file:line: reason', one per skipped row
    notes: list[str] = field(default_factory=list)  # what a summary-level file lacks, etc.
    warnings: list[str] = field(default_factory=list)  # always shown: data read but not stored (unallocated spend)

    def rows(self) -> int:
        tables = (self.telemetry, self.events, self.test_runs, self.test_endpoints, self.test_series)
        return sum(len(t) for t in tables if t is not None)


@dataclass(frozen=True)
class Reader:
    """A format: `sniff(path, head)` says whether the first bytes look like it (cheap, no full
    read); `read(path, options)` returns the canonical tables or raises InputError."""

    name: str
    description: str
    sniff: Callable[[Path, bytes], bool]
    read: Callable[[Path, IngestOptions], IngestBatch]
    priority: int = 50  # lower sniffs first; specific formats before generic CSV
    bulk: Callable[[Path, IngestOptions], list[BulkPlan] | None] | None = None  # optional fast paths, in order
