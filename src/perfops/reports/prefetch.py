"""The domain-wide reads every report worker would repeat, done once before the workers start.

Every report starts from the picture of the domain (week-over-week figures of every service, an
hourly rollup over 14 days), a squad lead report from the SLO window totals of every service (a
daily rollup over each SLO window), the executive report from six weeks of daily totals. Each
is one scan of the whole telemetry table, and each worker process of a run used to make its own
(issue #8: at 1,000 services, tens of seconds a worker). `warm` asks for them through the view's
rollup loader, so the loader's memo holds them; the use case hands the memo to the workers.
"""

from __future__ import annotations

from perfops.reports.overview_team import _window_totals
from perfops.reports.picture import build_picture, daily_rollup
from perfops.reports.section import ReportView


def warm(view: ReportView, audiences: set[str]) -> None:
    """Read what the reports of `audiences` share across the domain (through view.rollup)."""
    build_picture(view)
    if "executive" in audiences:
        daily_rollup(view, None)
    if "lead" in audiences:
        windows = {s.slo.window_delta for s in view.ctx.catalog.services if s.slo is not None}
        for window in sorted(windows):
            _window_totals(view, window)
