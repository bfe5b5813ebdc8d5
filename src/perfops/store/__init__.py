"""The one storage gateway: only this package imports duckdb."""

from perfops.store.database import Store, StoreRejected, open_store

__all__ = ["Store", "StoreRejected", "open_store"]
