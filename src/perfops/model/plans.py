"""Plans readers hand to the store: pure descriptions of work its engine can do natively."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class KeyBounds:
    """What a reader proved of a plan's rows before the store writes them: no key (timestamp,
    service, endpoint, consumer, metric) repeats among them, and each key column lies within its
    (lowest, highest) here. The store then skips its own search for repeats among the new rows."""

    services: tuple[str, str]
    endpoints: tuple[str, str]
    consumers: tuple[str, str]
    metrics: tuple[str, str]
    times: tuple[datetime, datetime]


@dataclass(frozen=True)
class BulkPlan:
    """A reader's description of how the store's engine can load a file in one native pass:
    `select_sql` selects the canonical columns (checks raise through SQL `error()`). Pure data:
    the reader writes it, the store runs it. On any failure the caller falls back to `read`,
    which names the exact line. `distinct_keys`: see KeyBounds (None: the store checks)."""

    select_sql: str
    params: dict[str, object]
    distinct_keys: KeyBounds | None = None
