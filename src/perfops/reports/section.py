"""A report section: what each analysis area contributes to the reports.

An area module `perfops.reports.sections.<area>` defines
`build(view: ReportView) -> list[Section]` and returns the sections it has for that audience
and scope (an executive gets a short one, a developer the full detail). The report composer
orders and renders them; areas never render whole pages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import pandas as pd

from perfops.analysis.context import AnalysisContext
from perfops.model.findings import Finding

Audience = Literal["executive", "lead", "developer"]


@dataclass(frozen=True)
class ReportView:
    """Everything a section may look at: the analysis context (catalog, period, loaders),
    the stored findings in scope, the audience and its scope (a squad or a service)."""

    ctx: AnalysisContext
    findings: list[Finding]
    audience: Audience
    squad: str | None = None
    service: str | None = None
    generated_at: datetime | None = None
    history: list[dict[str, Any]] = field(default_factory=list)  # finding history rows

    @property
    def services_in_scope(self) -> list[str]:
        cat = self.ctx.catalog
        if self.service:
            return [self.service]
        if self.squad:
            return [s.name for s in cat.services_of(self.squad)]
        return [s.name for s in cat.services]


@dataclass(frozen=True)
class Section:
    """One block of a report. `html` is a trusted fragment built with autoescaping (Jinja2 or
    markupsafe) — never raw data pasted in; `markdown` the same content as Markdown; `data` the
    JSON form for `--format json` and the API."""

    id: str  # stable anchor, e.g. "capacity-outlook"
    title: str
    order: int  # position in the report: lower first (executive summary ~0, appendix ~900)
    html: str
    markdown: str
    data: dict[str, Any] | list[Any] = field(default_factory=dict)


def table_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(rows)
