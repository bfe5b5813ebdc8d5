"""Plans readers hand to the store: pure descriptions of work its engine can do natively."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BulkPlan:
    """A reader's description of how the store's engine can load a file in one native pass:
    `select_sql` selects the canonical columns (checks raise through SQL `error()`). Pure data:
    the reader writes it, the store runs it. On any failure the caller falls back to `read`,
    which names the exact line."""

    select_sql: str
    params: dict[str, object]
