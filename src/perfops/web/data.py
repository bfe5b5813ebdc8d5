"""What the dashboard shows, read through the same use cases as the reports, cached per version,
and served from what was read last while another process holds the store.

One process-wide lock serialises store access in this process (DuckDB allows one configuration
per file per process); the connection is opened per read and closed again. A snapshot (findings,
statuses, week-over-week figures) is rebuilt when the store files change or after a write made
through the dashboard; page HTML and the store reads a page needs beyond the snapshot (chart
series, a finding with its history) are cached per snapshot, which keeps pages fast at 1,000
services and keeps the store free for `perfops ingest` most of the time.

While another process holds the store (`perfops ingest` or `analyze`: DuckDB lets no other
process open the file then, not even to read), the dashboard does not wait for the lock, the way
Grafana keeps showing its last panels while a data source is down:

- a read tries the store once (`perfops.store.snapshot.busy_wait_cap(0)`); when it is held, the
  request is answered from the snapshot and the reads made last, marked stale (`Freshness`), and
  the store is tried again at most every BUSY_RETRY seconds, so the first request after the lock
  frees starts rebuilding the snapshot (in a thread: that request waits REFRESH_WAIT seconds at
  most, the others are served from the old snapshot meanwhile);
- only what was never read (a cold start, a chart never drawn) waits, READ_PATIENCE seconds at
  most, then answers 503 with Retry-After;
- a write retries for WRITE_PATIENCE seconds, then answers 503 with Retry-After and says it was
  not saved: nothing is queued, so nothing is lost silently. A saved write rebuilds the snapshot
  before answering, so the next page shows it.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
import time
import weakref
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

from perfops.errors import PerfopsError, WorkspaceBusyError
from perfops.model.catalog import Catalog
from perfops.model.findings import Finding
from perfops.store.snapshot import Interruptible, busy_wait_cap, interruptible
from perfops.web.freshness import Freshness
from perfops.web.picker import current
from perfops.workspace import Workspace

T = TypeVar("T")

READ_PATIENCE = float(os.environ.get("PERFOPS_WEB_READ_WAIT", "2"))  # s, for data never read before
WRITE_PATIENCE = float(os.environ.get("PERFOPS_WEB_WRITE_WAIT", "3"))  # s, before a write answers 503
BUSY_RETRY = 1.0  # s between attempts on a store found held
REFRESH_WAIT = 0.5  # s a request waits for a snapshot rebuild before answering from the old one
RETRY_STEP = 0.1  # s between the attempts of one patient read or write
RETRY_AFTER = 5  # s, the Retry-After of a 503
BUSY_MESSAGE = "the workspace is busy: another perfops process (an ingest or analyze) is writing to the store"


EXIT_WAIT = 2.0  # s the process waits at exit for an interrupted warm-up to leave DuckDB (see _end_warm_up)
RUN_SNAPSHOTS = 4  # snapshots of other stored runs than the newest kept at once (?run=, web/picker.py)
PAGE_CACHE = 4000  # rendered pages and store reads kept per snapshot
LAST_READS = 4000  # store reads kept across snapshots, to serve while the store is held
_MISSING: Any = object()


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class KeyedLocks:
    """One lock per key, held while the value of that key is built: concurrent first requests
    for a page wait for the one build instead of each building it (the lock goes when unused)."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[threading.Lock, int]] = {}
        self._guard = threading.Lock()

    @contextlib.contextmanager
    def held(self, key: str) -> Iterator[None]:
        with self._guard:
            lock, users = self._locks.get(key, (threading.Lock(), 0))
            self._locks[key] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._guard:
                lock, users = self._locks[key]
                if users == 1:
                    del self._locks[key]
                else:
                    self._locks[key] = (lock, users - 1)


class Lru:
    """A bounded mapping, safe to share between request threads, that forgets the entry used least
    recently."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str, default: Any = None) -> Any:
        with self._lock:
            if key not in self._items:
                return default
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key: str, value: Any) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            if len(self._items) > self.size:
                self._items.popitem(last=False)

    def pop(self, key: str) -> None:
        with self._lock:
            self._items.pop(key, None)


@dataclass
class Snapshot:
    version: tuple[float, ...]
    catalog: Catalog
    view: Any  # ReportView (executive scope)
    picture: Any  # perfops.reports.picture.Picture
    findings: list[Finding]
    runs: list[Any] = field(default_factory=list)  # the runs the picker offers (AnalysisRun), newest first
    checked_at: datetime = field(default_factory=utc_now)  # naive UTC: last known to match the store
    pages: Lru = field(default_factory=lambda: Lru(PAGE_CACHE))  # rendered pages and store reads
    building: KeyedLocks = field(default_factory=KeyedLocks)  # the pages being built, one build each

    @cached_property
    def index(self) -> SnapshotIndex:
        """The look-ups the service, squad and endpoint pages make, built once per snapshot (the
        first page that needs them): each page then reads its own slice instead of scanning every
        finding and the whole telemetry inventory (25,000 rows at 1,000 services)."""
        return SnapshotIndex.of(self.view)


@dataclass(frozen=True)
class SnapshotIndex:
    """The snapshot's active findings (open or acknowledged) by service and by squad, in the
    view's order, and the endpoints each service has telemetry for (the inventory's non-empty
    endpoint names)."""

    active_by_service: dict[str, list[Finding]]
    active_by_squad: dict[str, list[Finding]]
    endpoints: dict[str, frozenset[str]]

    @staticmethod
    def of(view: Any) -> SnapshotIndex:
        by_service: dict[str, list[Finding]] = defaultdict(list)
        by_squad: dict[str, list[Finding]] = defaultdict(list)
        for f in view.active:
            by_service[f.service].append(f)
            by_squad[f.squad].append(f)
        endpoints: dict[str, set[str]] = defaultdict(set)
        inv = view.inventory
        if inv is not None and not inv.empty:
            for service, endpoint in zip(inv["service"], inv["endpoint"], strict=True):
                if endpoint:
                    endpoints[service].add(endpoint)
        return SnapshotIndex(dict(by_service), dict(by_squad), {s: frozenset(e) for s, e in endpoints.items()})


class DashboardData:
    def __init__(self, workspace: Workspace, period: str | None = None, *, clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], datetime] = utc_now, sleep: Callable[[float], None] = time.sleep) -> None:
        self.workspace = workspace
        self.period = period
        self.lock = threading.RLock()  # store access in this process
        self._refreshing = threading.Lock()  # one snapshot rebuild at a time
        self._warming = threading.Lock()  # one chart warm-up at a time
        self._clock, self._wall, self._sleep = clock, wall, sleep
        self._snapshot: Snapshot | None = None
        self._dirty = False
        self.busy_since: datetime | None = None  # naive UTC; None = the store was free at the last try
        self._retry_at = 0.0  # clock(): no store attempt before this while busy
        self._last = Lru(LAST_READS)  # key -> (as of, value) read last, whatever the snapshot
        self._runs = Lru(RUN_SNAPSHOTS)  # "run id:store version" -> the snapshot of another stored run
        self.warmers: list[Callable[[Snapshot], None]] = []  # pages built ahead with a snapshot (figure views)
        self.closing = threading.Event()  # set when the app shuts down: the warm-up ends quietly
        self._warm_reads = Interruptible()  # the warm-up's store connections, stopped by close()
        atexit.register(_end_warm_up, weakref.ref(self))

    # ---- the store, tried without waiting for another process -------------------------------
    def attempt(self, read: Callable[[], T], patience: float) -> T:
        """`read()` under the in-process lock, its store opens tried once each; retried (sleeping
        outside the lock) until `patience` seconds passed, then WorkspaceBusyError."""
        deadline = self._clock() + patience
        while True:
            try:
                with self.lock, busy_wait_cap(0):
                    value = read()
            except WorkspaceBusyError:
                self._mark_busy()
                if self._clock() >= deadline:
                    raise
                self._sleep(RETRY_STEP)
                continue
            self._mark_free()
            return value

    def _mark_busy(self) -> None:
        if self.busy_since is None:
            self.busy_since = self._wall()
        self._retry_at = self._clock() + BUSY_RETRY

    def _mark_free(self) -> None:
        self.busy_since = None
        self._retry_at = 0.0

    def _patience(self) -> float:
        """How long a read with nothing older to show waits: READ_PATIENCE, or one attempt when
        the store was just found held (the requests behind the first do not queue up)."""
        return 0.0 if self.backing_off() else READ_PATIENCE

    def backing_off(self) -> bool:
        """The store was found held less than BUSY_RETRY seconds ago: do not try it yet."""
        return self.busy_since is not None and self._clock() < self._retry_at

    # ---- versions and snapshots --------------------------------------------------------------
    def _files_version(self) -> tuple[float, ...]:
        paths = [self.workspace.store_path, self.workspace.store_path.with_name(self.workspace.store_path.name + ".wal"),
                 self.workspace.catalog_path]
        return tuple(_mtime(p) for p in paths)

    def _current(self, snap: Snapshot | None) -> bool:
        return snap is not None and snap.version == self._files_version() and not self._dirty

    def snapshot(self) -> Snapshot:
        """The snapshot of the run the request asked for (`?run=`, web/picker.py): the
        dashboard's own (below) or, for another stored run, one read for it (kept per store
        version, RUN_SNAPSHOTS of them); NotFoundError (404) for a run the store does not hold."""
        snap = self.newest()
        run = current().run
        if run is None or snap.view is None or snap.view.ctx.run.id == run:
            return snap
        key = f"{run}:{snap.version}"
        found = self._runs.get(key)
        if found is None:
            found = self.attempt(lambda: self._load(snap.version, run), self._patience())
            self._runs.put(key, found)
        return found

    def newest(self) -> Snapshot:
        """The dashboard's snapshot: rebuilt when the store changed and can be read; else the
        one read last (see `freshness`). Only the first one is waited for."""
        snap = self._snapshot
        if snap is not None and self.busy_since is None and self._current(snap):
            snap.checked_at = self._wall()
            return snap
        if snap is None:
            with self._refreshing:
                return self._refresh(self._patience())
        if self.backing_off() or not self._refreshing.acquire(blocking=False):
            return snap  # the store is held, or another request is rebuilding: serve what was read
        return self._refresh_behind(snap)

    def _refresh_behind(self, snap: Snapshot) -> Snapshot:
        """Holding `_refreshing`: rebuild in a thread of its own, which releases it; wait for it
        REFRESH_WAIT seconds at most, so no request pays for a long rebuild (the others keep
        getting `snap`). An error of the rebuild (say perfops.yaml broke) is this request's."""
        failed: list[BaseException] = []

        def rebuild() -> None:
            try:
                self._refresh(0)
            except BaseException as exc:  # handed to the waiting request
                failed.append(exc)
            finally:
                self._refreshing.release()

        worker = threading.Thread(target=rebuild, name="perfops-dashboard-refresh", daemon=True)
        worker.start()
        worker.join(REFRESH_WAIT)
        if failed:
            raise failed[0]
        return self._snapshot or snap

    def _refresh(self, patience: float) -> Snapshot:
        """Under `_refreshing`: rebuild the snapshot if the store changed (or only check that the
        store is free again when it did not); the old snapshot when the store is held."""
        snap = self._snapshot
        current = self._current(snap)
        if snap is not None and current and self.busy_since is None:
            return snap
        try:
            if snap is not None and current:
                self.attempt(self._probe, patience)
                snap.checked_at = self._wall()
                return snap
            version = self._files_version()
            fresh = self.attempt(lambda: self._load(version), patience)
        except WorkspaceBusyError as exc:
            if snap is None:
                raise WorkspaceBusyError(f"{BUSY_MESSAGE}, and the dashboard has not read it yet",
                                         hint="retry in a few seconds") from exc
            return snap
        self._snapshot = fresh
        self._warm_later(fresh)
        return fresh

    def _warm_later(self, snap: Snapshot) -> None:
        """Build the `warmers`' pages (the figure views) and read every service's chart series
        for `snap` (one query) in a thread of its own: the first requests are served from them,
        and a chart first opened while another process holds the store is drawn, not a 503."""
        if not self._warming.acquire(blocking=False):
            return  # a warm-up is running; the next snapshot warms again

        def warm() -> None:
            try:
                with interruptible(self._warm_reads):
                    for build in self.warmers:
                        build(snap)
                    if not self.closing.is_set():
                        self.warm_series(snap)
            except PerfopsError:
                pass  # the store is held again: the charts are read when asked for, as before
            except Exception:
                if not self.closing.is_set():
                    raise
                # the app is shutting down: DuckDB interrupts the query (InterruptException); nothing to keep
            finally:
                self._warming.release()

        threading.Thread(target=warm, name="perfops-dashboard-warm", daemon=True).start()

    def close(self) -> None:
        """The app shuts down: stop the warm-up's store query (it ends quietly, see `_warm_later`)."""
        self.closing.set()
        self._warm_reads.interrupt()

    def wait_warm(self, timeout: float) -> bool:
        """Wait until no chart warm-up runs (tests, benches); False when one still runs."""
        if not self._warming.acquire(timeout=timeout):
            return False
        self._warming.release()
        return True

    def warm_series(self, snap: Snapshot, days: int = 14) -> None:
        """Every service's chart, and the endpoints' charts (busiest first) up to half the reads
        kept across snapshots (LAST_READS: the memory bound), each one query."""
        from perfops.usecases.chart_series import every_endpoint_series, every_service_series

        names = [s.name for s in snap.catalog.services]
        services = self.attempt(lambda: every_service_series(self.workspace, names, snap.view.now, days), 0)
        room = max(LAST_READS // 2 - len(services), 0)
        endpoints = self.attempt(lambda: every_endpoint_series(self.workspace, snap.view.now, days, room), 0)
        ready = [(series_key(s, None, days), v) for s, v in services.items()]
        ready += [(series_key(s, e, days), v) for (s, e), v in endpoints.items()]
        for key, value in ready:
            if snap.pages.get(key, _MISSING) is _MISSING:
                snap.pages.put(key, value)
            self._remember(key, value)

    def _probe(self) -> None:
        from perfops.store import open_store

        open_store(self.workspace.store_path, read_only=True).close()

    def _load(self, version: tuple[float, ...], run: int | None = None) -> Snapshot:
        """Runs under `lock`, so a write made through the dashboard is entirely before or after it.
        `run`: another stored run than the dashboard's (its snapshot leaves the dirty mark alone)."""
        from perfops.usecases.reports import dashboard_view

        if run is not None:
            made = dashboard_view(self.workspace, self.period, run)
            return Snapshot(version=version, catalog=made.catalog, view=made.view, picture=made.picture,
                            findings=made.findings, runs=made.runs, checked_at=self._wall())
        dirty, self._dirty = self._dirty, False
        try:
            made = dashboard_view(self.workspace, self.period)
        except BaseException:
            self._dirty = self._dirty or dirty
            raise
        return Snapshot(version=version, catalog=made.catalog, view=made.view, picture=made.picture,
                        findings=made.findings, runs=made.runs, checked_at=self._wall())

    def freshness(self, snap: Snapshot, fell_back: datetime | None = None) -> Freshness:
        """How fresh an answer from `snap` is; `fell_back` = the as-of of an older read it used."""
        as_of = min(snap.checked_at, fell_back) if fell_back else snap.checked_at
        busy = self.busy_since is not None
        return Freshness(as_of=as_of, stale=busy or fell_back is not None or not self._current(snap), busy=busy)

    def cached_page(self, snap: Snapshot, key: str, build: Callable[[], T]) -> T:
        """A page of `snap` built once per time range (?range=, web/picker.py), also when several
        requests ask for it at once."""
        key = f"{key}|{current().cache_key()}"
        value = snap.pages.get(key, _MISSING)
        if value is not _MISSING:
            return value
        with snap.building.held(key):  # one build; the requests that came meanwhile wait for it
            value = snap.pages.get(key, _MISSING)
            if value is _MISSING:
                value = build()
                snap.pages.put(key, value)
        return value

    # ---- reads beyond the snapshot, and writes -----------------------------------------------
    def stored(self, snap: Snapshot, key: str, read: Callable[[], T]) -> tuple[T, datetime | None]:
        """A store read cached with the snapshot: (value, None); while the store is held, the
        value read last for `key` (value, its as-of); WorkspaceBusyError when never read."""
        cached = snap.pages.get(key, _MISSING)
        if cached is not _MISSING:
            return cached, None
        last = self._last.get(key)
        if last is None or not self.backing_off():
            try:  # under the lock, another request may have read it meanwhile: read once
                value = self.attempt(lambda: self.cached_page(snap, key, read), 0 if last is not None else self._patience())
            except WorkspaceBusyError as exc:
                if last is None:
                    raise WorkspaceBusyError(f"{BUSY_MESSAGE}, and this was not read before it started",
                                             hint="retry in a few seconds; what was read before stays available") from exc
            else:
                self._remember(key, value)
                return value, None
        assert last is not None
        return last[1], last[0]

    def _remember(self, key: str, value: Any) -> None:
        self._last.put(key, (self._wall(), value))

    def write(self, change: Callable[[], T], changes: Sequence[str] = ()) -> T:
        """A change through the use cases, retried while another process holds the store for
        WRITE_PATIENCE seconds, then WorkspaceBusyError (503: not saved). Then the snapshot is
        rebuilt (when the store is still free) and the reads `changes` names are dropped from it,
        so the answer and the next page read the change."""
        try:
            result = self.attempt(lambda: self._written(change), WRITE_PATIENCE)
        except WorkspaceBusyError as exc:
            raise WorkspaceBusyError(f"{BUSY_MESSAGE}, so this change was NOT saved",
                                     hint=f"send it again in {RETRY_AFTER} s or after the ingest finishes") from exc
        with self._refreshing:
            with contextlib.suppress(PerfopsError):  # saved (e.g. the store is held again since): the next
                self._refresh(0)  # request rebuilds and says so
            for key in changes:
                if self._snapshot is not None:
                    self._snapshot.pages.pop(key)
        return result

    def _written(self, change: Callable[[], T]) -> T:
        try:
            result = change()
        except WorkspaceBusyError:
            raise  # the store could not be opened: nothing was written
        except BaseException:
            self._dirty = True
            raise
        self._dirty = True  # still under `lock`: no rebuild can start before this
        return result

    # ---- reads that need the store ----------------------------------------------------------
    def series(self, snap: Snapshot, service: str, endpoint: str | None,
               days: int = 14) -> tuple[dict[str, Any], datetime | None]:
        """Hourly traffic, p95 and server errors for a service (or one endpoint), for the charts."""
        from perfops.usecases.reports import service_series

        return self.stored(snap, series_key(service, endpoint, days),
                           lambda: service_series(self.workspace, service, endpoint, snap.view.now, days))

    def finding(self, snap: Snapshot, finding_id: str) -> tuple[Any, datetime | None]:
        """A finding with its history (perfops.usecases.workflow.FindingWithHistory)."""
        from perfops.usecases.workflow import get_finding

        return self.stored(snap, finding_key(finding_id), lambda: get_finding(self.workspace, finding_id))


def _end_warm_up(ref: weakref.ref[DashboardData]) -> None:
    """At exit (atexit: before Python stops its daemon threads), stop a running warm-up's store
    query and give the thread EXIT_WAIT seconds to leave DuckDB: a daemon thread frozen inside
    DuckDB aborts the process ("FATAL: exception not rethrown") or prints an InterruptException
    traceback. A warm-up still in Python after that (grouping the series it read) opens no
    store again (Interruptible refuses), so it may be stopped with the process."""
    data = ref()
    if data is not None:
        data.close()
        data.wait_warm(EXIT_WAIT)


def series_key(service: str, endpoint: str | None, days: int) -> str:
    """The cache key of a chart's series (`DashboardData.series`, `warm_series`)."""
    return f"read:series:{service}:{endpoint or ''}:{days}"


def finding_key(finding_id: str) -> str:
    """The cache key of a finding read with its history (`DashboardData.write(changes=...)`)."""
    return f"read:finding:{finding_id}"


def _mtime(path: Path) -> float:
    """0 for a missing file; no exists-then-stat race (DuckDB deletes the .wal at a checkpoint)."""
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return 0.0


def workspace_of(root: Path) -> Workspace:
    return Workspace(Path(root).resolve())
