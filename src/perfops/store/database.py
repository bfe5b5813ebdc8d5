"""Opening the DuckDB file, applying migrations, transactions, and the busy-workspace rule."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from perfops.errors import PerfopsError, WorkspaceBusyError
from perfops.store.collect_repo import CollectStateRepo
from perfops.store.findings_repo import FindingsRepo
from perfops.store.ledger import Ledger
from perfops.store.migrations import MIGRATIONS
from perfops.store.rejected import StoreRejected
from perfops.store.retention_repo import RetentionRepo
from perfops.store.runs_repo import AnalysisRunsRepo
from perfops.store.snapshot import current_reads, wait_cap
from perfops.store.telemetry_repo import TelemetryRepo
from perfops.store.tests_repo import TestsRepo

__all__ = ["Store", "StoreRejected", "open_store"]

BUSY_WAIT_SECONDS = float(os.environ.get("PERFOPS_LOCK_TIMEOUT", "30"))
# DuckDB's default memory limit is 80 % of RAM, and it keeps written blocks cached up to it, so a
# process's memory grew with the store (1,000-service ingest: 2.2 GB peak without a limit, 1.2 GB
# with 1 GB; reports: 5.9 GB over 3 processes with 2 GB, 4.0 GB with 1 GB; bench/scale.py).
STORE_MEMORY = os.environ.get("PERFOPS_STORE_MEMORY", "1GB")
# A report run reads per-batch sums and the stored figures, each block once: a larger cache only
# holds blocks it will not read again (every report of 1,000 services, two report processes:
# 2,396 MB peak with 256 MB against 3,816 MB with 1 GB, same files; 128 MB took ~100 MB less
# a process again at the same CPU; `bench/reports_scale.py --before`). Its largest query reads
# the run's figures, in two parts (~16 MB of JSON each at 1,000 services).
READER_MEMORY = os.environ.get("PERFOPS_STORE_MEMORY", "128MB")


class Store:
    """A connection to the workspace's store, with one repository object per table family."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path | None) -> None:
        con.execute("SET enable_progress_bar = false")  # perfops draws its own, only on a terminal
        con.execute("SET TimeZone = 'UTC'")  # the store keeps naive UTC; offsets convert to it
        self._reads = current_reads()  # another thread may stop its queries (store/snapshot.py)
        if self._reads is not None:
            self._reads.opened(con)
        self.con = con
        self.path = path
        self.ledger = Ledger(con)
        self.telemetry = TelemetryRepo(con)
        self.findings = FindingsRepo(con)
        self.tests = TestsRepo(con)
        self.analysis_runs = AnalysisRunsRepo(con)
        self.collect_state = CollectStateRepo(con)
        self.retention = RetentionRepo(con)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All or nothing: on any exception the store is as it was."""
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield
        except duckdb.ConstraintException as exc:  # e.g. a reader let a row without a time through
            self.con.execute("ROLLBACK")
            raise StoreRejected(str(exc).splitlines()[0]) from exc
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    def close(self) -> None:
        if self._reads is not None:
            self._reads.closed(self.con)
        self.con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_store(path: Path | None, *, read_only: bool = False, wait: float = BUSY_WAIT_SECONDS,
               memory: str | None = None) -> Store:
    """Open (creating and migrating when needed) the store at `path`; None = in memory.

    DuckDB allows one writing process per file; a second process waits up to `wait` seconds,
    then gets WorkspaceBusyError rather than a corrupt store (sooner inside `snapshot.busy_wait_cap`).
    `memory` is DuckDB's memory limit for this connection (default STORE_MEMORY).
    """
    if path is None:
        con = duckdb.connect(":memory:")
    else:
        if read_only and not path.exists():
            read_only = False  # nothing to read yet: create it
        path.parent.mkdir(parents=True, exist_ok=True)
        con = _connect_waiting(path, read_only, min(wait, wait_cap()), memory or STORE_MEMORY)  # a caller's busy_wait_cap
        if read_only and _behind(con):  # a store an older perfops wrote: brought up to date once, then read
            con.close()
            open_store(path, wait=wait, memory=memory).close()
            con = _connect_waiting(path, True, min(wait, wait_cap()), memory or STORE_MEMORY)
    if not read_only:
        _migrate(con)
    return Store(con, path)


def _behind(con: duckdb.DuckDBPyConnection) -> bool:
    try:
        return schema_version(con) < len(MIGRATIONS)
    except duckdb.CatalogException:  # no schema_version table yet
        return True


def _connect_waiting(path: Path, read_only: bool, wait: float, memory: str) -> duckdb.DuckDBPyConnection:
    deadline = time.monotonic() + wait
    delay = 0.05
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only, config={"memory_limit": memory})
        except (duckdb.ParserException, duckdb.InvalidInputException) as exc:
            raise PerfopsError(f"PERFOPS_STORE_MEMORY: '{memory}' is not a memory size ({exc})",
                               hint="write it like 2GB or 512MB") from exc
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                raise PerfopsError(f"{path}: cannot open the store ({exc})") from exc
            if time.monotonic() >= deadline:
                raise WorkspaceBusyError(
                    f"the workspace store {path} is in use by another perfops process",
                    hint="wait for it to finish, or run this command again later",
                ) from exc
            time.sleep(delay)
            delay = min(delay * 2, 1.0)


def _migrate(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("SET enable_progress_bar = false")  # a long migration (a large store's layout) draws none
    con.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER)")
    row = con.execute("SELECT max(version) FROM schema_version").fetchone()
    current = row[0] if row and row[0] is not None else 0
    for number, script in enumerate(MIGRATIONS, start=1):
        if number <= current:
            continue
        con.execute("BEGIN TRANSACTION")
        con.execute(script)
        con.execute("INSERT INTO schema_version VALUES (?)", [number])
        con.execute("COMMIT")


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    row = con.execute("SELECT max(version) FROM schema_version").fetchone()
    return int(row[0]) if row and row[0] is not None else 0
