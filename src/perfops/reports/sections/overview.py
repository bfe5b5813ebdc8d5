"""The at-a-glance page of every report: the domain for an executive
(perfops.reports.overview_domain), the squad for a lead and the service for a developer
(perfops.reports.overview_team)."""

from __future__ import annotations

from perfops.reports import overview_team
from perfops.reports.overview_domain import executive
from perfops.reports.section import ReportView, Section


def build(view: ReportView) -> list[Section]:
    if view.audience == "executive":
        return executive(view)
    if view.audience == "lead":
        return overview_team.lead(view)
    return overview_team.developer(view)
