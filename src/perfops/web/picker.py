"""The dashboard's view picker: which stored analysis run (`?run=<id>`) and which time range
(`?range=7d|14d|28d`) a page shows. The URL carries both, so a view can be shared; a plain HTML
form picks them (no script).

`view_state` is an app-wide dependency: it reads the two parameters of every request (a bad
value is a 400 naming it), and keeps them in a context variable that the snapshot choice
(web/data.py), the chart series and the page templates read. An unknown run id is a 404 from
the snapshot choice (perfops.usecases.reports.run_by_id).
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import Query

from perfops.errors import PerfopsError
from perfops.model import format as fmt

RANGES = {"7d": 7, "14d": 14, "28d": 28}
DEFAULT_RANGE = "14d"  # the charts' window when none is asked for


@dataclass(frozen=True)
class ViewState:
    """What the request asked to see: a run id (None: the dashboard's run, the newest) and a range."""

    run: int | None = None
    range: str = DEFAULT_RANGE

    @property
    def days(self) -> int:
        return RANGES[self.range]

    def query(self) -> str:
        """The query string that carries this view ('' for the default one)."""
        pairs = ([("run", str(self.run))] if self.run is not None else []) + (
            [("range", self.range)] if self.range != DEFAULT_RANGE else [])
        return urlencode(pairs)

    def link(self, url: str) -> str:
        """`url` with this view's parameters added (links inside the dashboard keep the view)."""
        query = self.query()
        if not query:
            return url
        return url + ("&" if "?" in url else "?") + query

    def cache_key(self) -> str:
        return f"range={self.range}"


_DEFAULT = ViewState()
_current: ContextVar[ViewState | None] = ContextVar("perfops_view_state", default=None)


def current() -> ViewState:
    """The view of the request being answered (the default view outside a request)."""
    return _current.get() or _DEFAULT


def parse(run: str | None, range_: str | None) -> ViewState:
    """The view asked for; PerfopsError (400) naming the parameter for a bad value."""
    if range_ is not None and range_ not in RANGES:
        raise PerfopsError(f"range '{range_}' is unknown; expected one of {', '.join(RANGES)}",
                           hint="e.g. ?range=28d")
    run_id = None
    if run:
        if not run.isdigit():
            raise PerfopsError(f"run '{run}' is not an analysis run id (a whole number)",
                               hint="GET /api/runs lists the stored runs and their ids")
        run_id = int(run)
    return ViewState(run=run_id, range=range_ or DEFAULT_RANGE)


async def view_state(run: str | None = Query(None, description="a stored analysis run id (GET /api/runs); "
                                                                "default: the newest"),
                     range: str | None = Query(None, description="the time range of charts and strips: 7d, 14d "
                                                                 "or 28d; default 14d")) -> ViewState:
    """The app-wide dependency (async: it runs in the request's context, which the endpoint's
    thread inherits, so the context variable is seen there)."""
    state = parse(run, range)
    _current.set(state)
    return state


def picker_values(runs: list[Any], shown_run: int, timezone: str) -> dict[str, Any]:
    """What the picker form needs: the runs to choose from (newest first, with their period in
    the domain's timezone), the run shown, the ranges and the range chosen."""
    state = current()
    return {
        "runs": [{"id": r.id, "label": f"run {r.id}: {fmt.local_iso(r.period_start, timezone)} – "
                                       f"{fmt.local_iso(r.period_end, timezone)}"} for r in runs],
        "shown": shown_run, "ranges": list(RANGES), "range": state.range, "query": state.query(),
    }
