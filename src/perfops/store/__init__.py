"""The one storage gateway: only this package imports duckdb."""

from perfops.store.database import Store, open_store

__all__ = ["Store", "open_store"]
