"""The telemetry the experience sections read, and no more.

perfops.analysis.experience.overview reads every row of a service (every endpoint, every
consumer) from the start of the longest SLO window: on a domain whose services report ten
endpoints at 5 minutes that is ten times the rows its figures use, and the executive report read
the whole store that way (issue #8). What the figures read:

* SLO compliance and month-by-month figures: the whole-service series (endpoint '' and consumer
  ''), composed from the endpoint rows only for a service that has no whole-service rows;
* Apdex per endpoint (detail): the rows for all consumers, within the period only;
* the consumer table (detail): the per-consumer rows.

`lean_context` gives the overview a context whose loader returns exactly those rows (a service
without whole-service rows is read whole, as before), so the figures are the same. Journeys read
every endpoint of their steps over the history: the lean context carries no journeys, and the
section asks `journey_overview` with the full context.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

import pandas as pd

from perfops.analysis.context import AnalysisContext
from perfops.analysis.experience import ServiceExperience, data_start
from perfops.analysis.experience_apdex import apdex_table
from perfops.analysis.experience_consumers import consumer_table
from perfops.analysis.experience_series import EXPERIENCE_METRICS, wide
from perfops.reports.section import ReportView

_CACHE = "experience-lean-context"
_DETAIL = "experience-detail"


@dataclass(frozen=True)
class LeanRows:
    """A telemetry loader over `ctx` that drops the rows the experience overview does not read:
    endpoint rows for all consumers before the period (detail) or every endpoint and
    per-consumer row (not detail)."""

    ctx: AnalysisContext
    detail: bool

    def __call__(self, services: Sequence[str] | None, metrics: Sequence[str] | None, lo: datetime,
                 hi: datetime) -> pd.DataFrame:
        ctx = self.ctx
        if services is None:
            return ctx.telemetry(None, metrics, lo, hi)
        names = list(services)
        top = ctx.telemetry_rows(names, metrics, lo, hi, endpoint="", consumers=None if self.detail else False)
        have = set(top.loc[top["consumer"] == "", "service"].unique()) if len(top) else set()
        lean = [n for n in names if n in have]
        frames = [top[top["service"].isin(have)]] if lean else []
        if self.detail and lean:
            recent = ctx.telemetry_rows(lean, metrics, max(lo, ctx.period_start), hi, consumers=False)
            by_consumer = ctx.telemetry_rows(lean, metrics, lo, hi, consumers=True)
            frames += [_endpoints_only(recent), _endpoints_only(by_consumer)]
        full = [n for n in names if n not in have]
        if full:
            frames.append(ctx.telemetry(full, metrics, lo, hi))
        frames = [f for f in frames if f is not None and len(f)]
        if not frames:
            return top.iloc[0:0]
        return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0].reset_index(drop=True)


def _endpoints_only(frame: pd.DataFrame) -> pd.DataFrame:
    if frame is None or frame.empty:
        return frame
    return frame[frame["endpoint"].to_numpy() != ""]


def lean_context(view: ReportView, detail: bool) -> AnalysisContext:
    """The view's context with the LeanRows loader and no journeys (kept for the run)."""
    key = (_CACHE, detail)
    found = view.cache.get(key)
    if found is not None and found[0] is view.ctx:
        return found[1]  # type: ignore[no-any-return]
    ctx = view.ctx
    catalog = ctx.catalog.model_copy(update={"journeys": []}) if ctx.catalog.journeys else ctx.catalog
    lean = replace(ctx, catalog=catalog, load_telemetry=LeanRows(ctx, detail))
    view.cache[key] = (view.ctx, lean)
    return lean


def detail_overview(view: ReportView) -> list[ServiceExperience]:
    """experience.overview(ctx, services, detail=True)'s items for the view's services: the SLO
    figures from sums (perfops.reports.slo_figures), Apdex and the consumer table from the rows
    they read — the period's rows and the per-consumer rows. Kept for the run per service."""
    ctx = view.ctx
    tag = (_DETAIL, ctx.now, ctx.period, ctx.history)
    names = view.services_in_scope
    missing = [n for n in dict.fromkeys(names) if (*tag, n) not in view.cache]
    if missing:
        for item in _detail_items(view, missing):
            view.cache[(*tag, item.service)] = item
    return [view.cache[(*tag, n)] for n in names]


def _detail_items(view: ReportView, names: list[str]) -> list[ServiceExperience]:
    from perfops.reports.slo_figures import slo_items

    ctx = view.ctx
    brief = slo_items(view, names)
    metrics = list(EXPERIENCE_METRICS)
    recent = ctx.telemetry_rows(names, metrics, ctx.period_start, ctx.now)
    before = ctx.telemetry_rows(names, metrics, data_start(ctx), ctx.period_start, consumers=True)
    frames = [f for f in (recent, before) if f is not None and len(f)]
    data = wide(pd.concat(frames, ignore_index=True)) if frames else wide(pd.DataFrame())
    parts = {str(k): g.reset_index(drop=True) for k, g in data.groupby("service", sort=False)} if len(data) else {}
    out = []
    for name in names:
        item = brief[name]
        part = parts.get(name)
        if item.slo or part is not None:  # the overview leaves a service without any row blank
            service = ctx.catalog.service(name)
            mine = part if part is not None else data.iloc[0:0]
            item = replace(item, apdex=apdex_table(mine[mine["timestamp"] >= ctx.period_start], name,
                                                   service.apdex_threshold_ms),
                           consumers=consumer_table(mine, name, ctx.period_start, ctx.now))
        out.append(item)
    return out
