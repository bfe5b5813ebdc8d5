"""A report section: what each analysis area contributes to the reports.

An area module `perfops.reports.sections.<area>` defines
`build(view: ReportView) -> list[Section]` and returns the sections it has for that audience
and scope (an executive gets a short one, a developer the full detail). The report composer
orders and renders them; areas never render whole pages.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

import pandas as pd

from perfops.model.catalog import Catalog
from perfops.model.figures import AnalysisRun, FigureSet
from perfops.model.findings import Finding
from perfops.reports.aggregates import Aggregates

Audience = Literal["executive", "lead", "developer"]
AUDIENCES: tuple[str, ...] = ("executive", "lead", "developer")

# rollup(services, metrics, start, end, bucket_seconds) -> frame with columns
# bucket (naive UTC), service, metric, value: whole-service values per time bucket, all consumers.
# Counts and cost are summed; latencies and utilisations are request-weighted means over the
# endpoints when the service has no whole-service rows (see perfops.usecases.reports).
RollupLoader = Callable[[Sequence[str] | None, Sequence[str], datetime, datetime, int], pd.DataFrame]


def _no_rollup(*_: Any) -> pd.DataFrame:
    return pd.DataFrame(columns=["bucket", "service", "metric", "value"])


def _no_rows(*_: Any) -> pd.DataFrame:
    return pd.DataFrame()


@dataclass(frozen=True)
class ReportContext:
    """What a report shows: the catalog, the stored analysis run and the figures it computed
    (perfops.model.figures), the deploy events and test runs of the store. Reports read these;
    they compute no analysis. `load_telemetry(services, metrics, start, end)` reads raw rows for
    the pandas twin of the store's aggregates (perfops.reports.aggregates.FrameAggregates)."""

    catalog: Catalog
    run: AnalysisRun
    figures: FigureSet = field(default_factory=FigureSet)
    previous: AnalysisRun | None = None  # the run of the period before: "since the last report"
    previous_figures: FigureSet | None = None  # its rollups and costs (the week-over-week movement)
    events: pd.DataFrame = field(default_factory=pd.DataFrame)
    test_runs: pd.DataFrame = field(default_factory=pd.DataFrame)
    load_telemetry: Callable[..., pd.DataFrame] = _no_rows

    @property
    def now(self) -> datetime:
        return self.run.period_end

    @property
    def period_start(self) -> datetime:
        return self.run.period_start

    @property
    def period(self) -> timedelta:
        return self.run.period


@dataclass(frozen=True)
class ReportView:
    """Everything a section may look at: the report context (catalog, analysis run, figures),
    the stored findings in scope, the audience and its scope (a squad or a service).

    `findings` holds the scope's open and acknowledged findings (resolved ones are in
    `resolved`); `finding_index` holds every stored finding of the domain, for causes that
    cross squads. `rollup` gives whole-service values per time bucket without loading raw rows.
    """

    ctx: ReportContext
    findings: list[Finding]
    audience: Audience
    squad: str | None = None
    service: str | None = None
    generated_at: datetime | None = None
    history: list[dict[str, Any]] = field(default_factory=list)  # finding history rows
    # additions for the composer's own sections (all optional, so sections can be tested alone):
    rollup: RollupLoader = _no_rollup
    resolved: list[Finding] = field(default_factory=list)  # resolved findings in scope (recent)
    finding_index: dict[str, Finding] = field(default_factory=dict)  # every stored finding by id
    first_seen: dict[str, datetime] = field(default_factory=dict)  # finding id -> first seen
    inventory: pd.DataFrame = field(default_factory=pd.DataFrame)  # service, endpoint, metric, rows, first, last
    cache: dict[Any, Any] = field(default_factory=dict)  # shared by the views of one run (domain-wide results)
    # per-service sums for a batch of services (perfops.reports.aggregates); None = from ctx.load_telemetry
    aggregates: Aggregates | None = None

    @property
    def active(self) -> list[Finding]:
        """Findings still to act on (open or acknowledged)."""
        return [f for f in self.findings if f.status != "resolved"]

    @property
    def now(self) -> datetime:
        return self.ctx.now

    @property
    def timezone(self) -> str:
        return self.ctx.catalog.timezone

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
