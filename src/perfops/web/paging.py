"""Paging of the long per-service tables of the figure views (`?limit=` and `?offset=`): at 1,000
services the SLO view is 1 MB of HTML and 3 MB of JSON, so a page and an endpoint show the first
DEFAULT_LIMIT services (the views order them worst first) and say how many there are and where
the next ones are."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urlencode

from fastapi import Query
from pydantic import BaseModel

from perfops.errors import PerfopsError

T = TypeVar("T")

DEFAULT_LIMIT = 50  # services a page shows unless ?limit= says otherwise (the SLO JSON: ~3 kB each)
MAX_LIMIT = 1000


class Paging(BaseModel):
    """The paging keys a paged JSON view adds beside its lists."""

    total: int  # services in the view
    offset: int  # the first one shown (0-based)
    limit: int  # at most this many shown
    next: str | None  # the URL of the next page; None on the last one


@dataclass(frozen=True)
class Window:
    offset: int = 0
    limit: int = DEFAULT_LIMIT

    def cut(self, items: list[T]) -> list[T]:
        return items[self.offset:self.offset + self.limit]

    def paging(self, path: str, total: int, params: dict[str, str | None] | None = None) -> Paging:
        return Paging(total=total, offset=self.offset, limit=self.limit, next=self.next_link(path, total, params))

    def next_link(self, path: str, total: int, params: dict[str, str | None] | None = None) -> str | None:
        """`path` with the query of the next page (and `params` that are set), None when this is the last."""
        start = self.offset + self.limit
        if start >= total:
            return None
        pairs = [(k, v) for k, v in (params or {}).items() if v is not None]
        pairs += [("offset", str(start))] + ([("limit", str(self.limit))] if self.limit != DEFAULT_LIMIT else [])
        return f"{path}?{urlencode(pairs)}"

    def key(self) -> str:
        return f"offset={self.offset}:limit={self.limit}"

    def shown(self, total: int) -> str:
        """What the HTML says above a paged table."""
        if total == 0:
            return ""
        first, last = min(self.offset + 1, total), min(self.offset + self.limit, total)
        if first == 1 and last == total:
            return f"All {total} services shown."
        if self.offset >= total:
            return f"No services shown: offset {self.offset} is past the last of {total}."
        return f"Services {first}–{last} of {total} shown, worst first."


def window(limit: int | None, offset: int | None) -> Window:
    """The page asked for; PerfopsError (400) naming the parameter for a value out of range."""
    if limit is not None and not 1 <= limit <= MAX_LIMIT:
        raise PerfopsError(f"limit {limit} is out of range; expected 1 to {MAX_LIMIT}", hint="e.g. ?limit=100")
    if offset is not None and offset < 0:
        raise PerfopsError(f"offset {offset} is negative; expected 0 or more", hint="e.g. ?offset=100")
    return Window(offset=offset or 0, limit=limit or DEFAULT_LIMIT)


LIMIT = Query(None, description=f"services per page, 1 to {MAX_LIMIT}; default {DEFAULT_LIMIT}")
OFFSET = Query(None, description="the first service shown (0-based; the next page's link says it); default 0")
