"""Read-side helper for a store that another process may be writing: a cap, local to the calling
thread's context, on how long `open_store` waits for the file lock.

DuckDB lets one process hold a database file for writing, and no other process open it
meanwhile, not even read-only (https://duckdb.org/docs/connect/concurrency). `open_store`
therefore waits up to PERFOPS_LOCK_TIMEOUT (30 s) for the lock: right for a command that has
nothing to show until it can read. A reader that has something older to show — the dashboard's
last snapshot — caps that wait and serves its snapshot instead:

    from perfops.store.snapshot import busy_wait_cap

    with busy_wait_cap(0):                 # one attempt: WorkspaceBusyError at once when held
        view = dashboard_view(workspace)   # any open_store inside uses min(wait, 0)

The cap lives in a `ContextVar`, so it applies to the code run inside the `with` block, in that
thread only (a web server's other requests keep their own), and it only ever shortens a wait.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from perfops.errors import PerfopsError

_WAIT_CAP: ContextVar[float | None] = ContextVar("perfops_store_wait_cap", default=None)


def wait_cap() -> float:
    """The longest wait for the store's lock allowed in this context (infinity = no cap)."""
    cap = _WAIT_CAP.get()
    return math.inf if cap is None else cap


@contextmanager
def busy_wait_cap(seconds: float) -> Iterator[None]:
    """Within the block, `open_store` gives up after `seconds` (0 = a single attempt) and raises
    WorkspaceBusyError when another process holds the store."""
    if seconds < 0:
        raise ValueError("a wait cap is 0 or more seconds")
    token = _WAIT_CAP.set(seconds)
    try:
        yield
    finally:
        _WAIT_CAP.reset(token)


class Interruptible:
    """The store connections opened inside `interruptible(reads)` and not closed yet, so that
    another thread can stop their queries (a server shutting down while a read-ahead runs)."""

    def __init__(self) -> None:
        self._open: set[Any] = set()
        self._lock = threading.Lock()
        self.stopped = False

    def opened(self, con: Any) -> None:
        with self._lock:
            if self.stopped:
                con.close()
                raise PerfopsError("the store reads were stopped (the dashboard is shutting down)")
            self._open.add(con)

    def closed(self, con: Any) -> None:
        with self._lock:
            self._open.discard(con)

    def interrupt(self) -> None:
        """Stop the running queries (they raise duckdb.InterruptException) and every later open."""
        with self._lock:
            self.stopped = True
            for con in self._open:
                con.interrupt()


_READS: ContextVar[Interruptible | None] = ContextVar("perfops_store_reads", default=None)


def current_reads() -> Interruptible | None:
    return _READS.get()


@contextmanager
def interruptible(reads: Interruptible) -> Iterator[None]:
    """Within the block (this thread), every `open_store` connection is registered in `reads`."""
    token = _READS.set(reads)
    try:
        yield
    finally:
        _READS.reset(token)
