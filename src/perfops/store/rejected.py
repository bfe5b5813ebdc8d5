"""The store's refusal of a bulk plan, raised by the repositories and the transaction."""

from __future__ import annotations


class StoreRejected(Exception):
    """The engine refused a bulk plan (a check failed, the file did not parse): nothing was kept."""
