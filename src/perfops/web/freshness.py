"""How fresh a dashboard answer is, said the same way by the API and the pages.

Every answer built from the store carries

    X-Perfops-Data-As-Of: 2026-11-27T10:42:13Z   when the data served was last known to match the store
    X-Perfops-Stale: true                        it may be older than the store: see below

`stale` is true while another process (`perfops ingest`, `analyze`, `collect`) holds the store,
so the dashboard serves what it read last instead of waiting for the lock, and for the moment
another request is rebuilding the snapshot after a change. While the store is held, pages also
show a note at the top: "Data as of Fri 27 Nov 10:42 GMT — workspace busy (an ingest or analyze
is running) ...". The note is put into a page when it is served (`with_note`), never into the
cached HTML, so one cached page serves both states.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from markupsafe import escape

from perfops.model.format import local_iso

MARK = "<!--perfops:freshness-->"  # in base.html.j2, where the note goes
AS_OF_HEADER = "X-Perfops-Data-As-Of"
STALE_HEADER = "X-Perfops-Stale"


@dataclass(frozen=True)
class Freshness:
    as_of: datetime  # naive UTC: when the data served was last known to match the store
    stale: bool  # it may be older than the store
    busy: bool  # another process holds the store right now

    def headers(self) -> dict[str, str]:
        return {AS_OF_HEADER: self.as_of.strftime("%Y-%m-%dT%H:%M:%SZ"), STALE_HEADER: "true" if self.stale else "false"}

    def note(self, timezone: str) -> str | None:
        """The line a page shows while the store is held, in the catalog's time zone; None when not."""
        if not self.busy:
            return None
        return (f"Data as of {local_iso(self.as_of, timezone)} — workspace busy (an ingest or analyze is "
                "running): this page shows the data read before it started and updates once it finishes.")


def with_note(html: str, freshness: Freshness, timezone: str) -> str:
    """The page with the busy note in place of MARK (unchanged when the store is free)."""
    note = freshness.note(timezone)
    if note is None:
        return html
    return html.replace(MARK, f'<p class="busy-note" id="freshness" role="status">{escape(note)}</p>', 1)
