"""What the dashboard shows, read through the same use cases as the reports, cached per version.

One process-wide lock serialises store access (DuckDB allows one configuration per file per
process); the connection is opened per load and closed again, so `perfops analyze` or `ingest`
in another process only waits while a page's data is being read. A snapshot (findings, history,
statuses, week-over-week figures) is rebuilt when the store files change or after a write made
through the dashboard; page HTML is cached per snapshot, which keeps pages fast at 1,000 services.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perfops.model.catalog import Catalog
from perfops.model.findings import Finding
from perfops.workspace import Workspace


@dataclass
class Snapshot:
    version: tuple[float, ...]
    catalog: Catalog
    view: Any  # ReportView (executive scope)
    picture: Any  # perfops.reports.picture.Picture
    findings: list[Finding]
    pages: OrderedDict[str, Any] = field(default_factory=OrderedDict)  # rendered page cache


class DashboardData:
    PAGE_CACHE = 4000

    def __init__(self, workspace: Workspace, period: str = "7d") -> None:
        self.workspace = workspace
        self.period = period
        self.lock = threading.RLock()
        self._snapshot: Snapshot | None = None
        self._dirty = False

    # ---- versions and snapshots --------------------------------------------------------------
    def _files_version(self) -> tuple[float, ...]:
        paths = [self.workspace.store_path, self.workspace.store_path.with_name(self.workspace.store_path.name + ".wal"),
                 self.workspace.catalog_path]
        return tuple(p.stat().st_mtime if p.exists() else 0.0 for p in paths)

    def snapshot(self) -> Snapshot:
        version = self._files_version()
        snap = self._snapshot
        if snap is not None and snap.version == version and not self._dirty:
            return snap
        with self.lock:
            snap = self._snapshot
            if snap is None or snap.version != version or self._dirty:
                self._snapshot = self._load(version)
                self._dirty = False
            return self._snapshot  # type: ignore[return-value]

    def invalidate(self) -> None:
        self._dirty = True

    def _load(self, version: tuple[float, ...]) -> Snapshot:
        from perfops.usecases.reports import dashboard_view

        catalog, view, picture, findings = dashboard_view(self.workspace, self.period)
        return Snapshot(version=version, catalog=catalog, view=view, picture=picture, findings=findings)

    def cached_page(self, snap: Snapshot, key: str, build: Any) -> Any:
        pages = snap.pages
        if key in pages:
            pages.move_to_end(key)
            return pages[key]
        value = build()
        pages[key] = value
        if len(pages) > self.PAGE_CACHE:
            pages.popitem(last=False)
        return value

    # ---- reads that need the store (series for charts) ----------------------------------------
    def series(self, service: str, endpoint: str | None, days: int = 14) -> dict[str, Any]:
        """Hourly traffic, p95 and server errors for a service (or one endpoint), for the charts."""
        from perfops.usecases.reports import service_series

        snap = self.snapshot()
        with self.lock:
            return service_series(self.workspace, service, endpoint, snap.view.now, days)


def workspace_of(root: Path) -> Workspace:
    return Workspace(Path(root).resolve())
