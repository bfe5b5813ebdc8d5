"""Building an AnalysisContext over the store: the one place analyses and reports get their data."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

from perfops.analysis.context import AnalysisContext
from perfops.errors import PerfopsError
from perfops.model.catalog import Catalog
from perfops.model.limits import latest_accepted, limit
from perfops.model.units import parse_duration
from perfops.store import Store, open_store

DEFAULT_HISTORY = timedelta(days=35)


def parse_moment(text: str | None, field: str = "--at") -> datetime | None:
    """ISO 8601 (offset or Z; none = UTC) to naive UTC, or None."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise PerfopsError(f"{field}: '{text}' is not a time; expected ISO 8601, e.g. 2026-11-20T00:00:00Z") from exc
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def parse_period(text: str, field: str = "--period") -> timedelta:
    try:
        period = parse_duration(text)
    except ValueError as exc:
        raise PerfopsError(f"{field}: {exc}") from exc
    if period <= timedelta(0):
        raise PerfopsError(f"{field}: must be positive, e.g. 7d")
    return period


def newest_data(store: Store) -> datetime | None:
    """End of the newest telemetry interval (the last timestamp plus one step's worth). Rows
    after the accepted range (`implausible_rows`) are left out: a far-future row stored by an
    older perfops must not move every default period to its year."""
    _, last = store.telemetry.time_range(before=_latest_plausible())
    return None if last is None else last + timedelta(minutes=5)


def implausible_rows(store: Store) -> str | None:
    """A note when the store holds telemetry after the accepted range (loaded before perfops
    refused such times at ingest): those rows are ignored by default periods."""
    latest = _latest_plausible()
    count = store.telemetry.count_from(latest)
    if not count:
        return None
    return (f"{count} telemetry row(s) dated after {latest:%Y-%m-%d %H:%M} UTC (now + "
            f"{limit('future_hours')} hours) are ignored: a typo year or wrong epoch units, stored before "
            "perfops refused such times at ingest")


def _latest_plausible() -> datetime:
    return latest_accepted(datetime.now(UTC).replace(tzinfo=None))


@dataclass(frozen=True)
class StoreTelemetryLoader:
    """The context's telemetry loader over the store; filters endpoint and consumer level at the
    source (see AnalysisContext.telemetry_rows)."""

    store: Store
    filters_rows: bool = True
    categorical: bool = False  # text columns as categoricals (analysis); reports keep plain strings

    def __call__(self, services: Sequence[str] | None, metrics: Sequence[str] | None, lo: datetime,
                 hi: datetime, *, endpoint: str | None = None, consumers: bool | None = None) -> pd.DataFrame:
        return self.store.telemetry.load(services=services, metrics=metrics, start=lo, end=hi,
                                         endpoint=endpoint, consumers=consumers, categorical=self.categorical)


@dataclass(frozen=True)
class ReadOnlyStoreLoader:
    """The store's telemetry loader for worker processes (perfops.analysis.processes): it
    travels as a path and opens the store read-only, once, in the process that calls it."""

    path: Path
    filters_rows: bool = True
    categorical: bool = False
    threads: int | None = None  # DuckDB's threads in each worker (default: one per core)

    def __call__(self, services: Sequence[str] | None, metrics: Sequence[str] | None, lo: datetime,
                 hi: datetime, *, endpoint: str | None = None, consumers: bool | None = None) -> pd.DataFrame:
        store = _READERS.get(self.path)
        if store is None:
            store = _READERS[self.path] = open_store(self.path, read_only=True)
            if self.threads:
                store.con.execute(f"SET threads = {int(self.threads)}")
        load = StoreTelemetryLoader(store, categorical=self.categorical)
        return load(services, metrics, lo, hi, endpoint=endpoint, consumers=consumers)


_READERS: dict[Path, Store] = {}  # this process' read-only connections, by store path


def build_context(
    store: Store,
    catalog: Catalog,
    *,
    now: datetime | None = None,
    period: timedelta = timedelta(days=7),
    history: timedelta = DEFAULT_HISTORY,
    categorical: bool = False,
) -> AnalysisContext:
    end = now or newest_data(store)
    if end is None:
        end = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    start = end - period - history

    return AnalysisContext(
        catalog=catalog,
        now=end,
        period=period,
        history=history,
        load_telemetry=StoreTelemetryLoader(store, categorical=categorical),
        events=store.telemetry.events(start, end + timedelta(days=1)),
        level_marks=store.findings.level_marks(),
        test_runs=store.tests.runs(),
        load_test_endpoints=store.tests.endpoints,
        load_test_series=store.tests.series,
    )
