"""Trends in the reports: what deviated from its norm, and the series behind it.

* executive / lead: nothing beyond the findings list the composer already ranks, except a short
  note of propagated incidents (a caller's finding explained by a dependency) naming the squad
  that owns the cause;
* developer: per service in scope, a chart of each series with a trends finding: the observed
  values, the seasonal norm and the alarm line, with deploys and change points marked in text
  (line styles and labels, not colour alone).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from perfops.model.findings import Finding, severity_rank
from perfops.reports import charts
from perfops.reports.blocks import Doc, md_escape
from perfops.reports.section import ReportView, Section

TREND_KINDS = ("anomaly", "regression", "improvement", "resource_growth")
MAX_CHARTS = 8
UNITS = {"latency": "ms", "errors": "error rate", "traffic": "requests / 5 min", "cpu": "%", "memory": "%"}


def build(view: ReportView) -> list[Section]:
    findings = [f for f in view.active if f.kind in TREND_KINDS]
    sections = []
    propagated = propagated_incidents(view, findings)
    if propagated is not None:
        sections.append(propagated)
    if view.audience == "developer":
        sections.append(series_charts(view, findings))
    return sections


def propagated_incidents(view: ReportView, findings: list[Finding]) -> Section | None:
    """Findings explained by a dependency, with the squad that owns the cause."""
    rows = []
    for f in findings:
        if not f.caused_by:
            continue
        cause = view.finding_index.get(f.caused_by)
        if cause is not None and cause.service == f.service:
            continue  # explained by its own traffic (load-driven), not by a dependency
        squad = (f.evidence or {}).get("cause_squad") or (cause.squad if cause else "?")
        rows.append([f.service, f.title, (cause.service if cause else "?"), squad])
    if not rows:
        return None
    doc = Doc()
    doc.para("These findings are symptoms: a service they depend on changed first. The cause squad acts.")
    doc.table(["Affected service", "What is seen", "Cause service", "Cause squad"], rows)
    data = [dict(zip(("service", "title", "cause_service", "cause_squad"), r, strict=True)) for r in rows]
    return doc.section("trends-propagated", "Incidents caused by a dependency", 25, data)


def series_charts(view: ReportView, findings: list[Finding]) -> Section:
    doc = Doc()
    scope = set(view.services_in_scope)
    by_service: dict[str, list[Finding]] = {}
    for f in findings:
        if f.service in scope and f.metric:
            by_service.setdefault(f.service, []).append(f)
    drawn = 0
    for service in sorted(by_service, key=lambda s: min(_rank(f) for f in by_service[s])):
        wanted = {(f.endpoint or "", f.metric or "") for f in by_service[service]}
        for view_data in _bands(view, service, wanted):
            if drawn >= MAX_CHARTS:
                break
            mine = [f for f in by_service[service]
                    if (f.endpoint or "") == view_data["endpoint"] and f.metric == view_data["role"]]
            doc.rich(_chart(view, service, view_data, mine), _words(service, view_data, mine))
            drawn += 1
    if drawn == 0:
        doc.para("No series in scope deviated from its norm in this period.", "calm")
    else:
        doc.note("Solid line with circles: observed (30-minute means); dashed line: the seasonal norm (median "
                 "of the same time in previous weeks); dotted line: the alarm line. Vertical dashed lines mark "
                 "deploys and the start of each finding, labelled in text.")
    return doc.section("trends-series", "Series out of the ordinary", 55, {"charts": drawn})


def _bands(view: ReportView, service: str, wanted: set[tuple[str, str]]) -> list[dict[str, Any]]:
    """The stored norm bands of the service's series in `wanted` (perfops.model.figures.SeriesBand)."""
    out = []
    for band in view.ctx.figures.bands.get(service, []):
        if (band.endpoint, band.role) in wanted:
            out.append({"endpoint": band.endpoint, "role": band.role, "times": band.times,
                        "observed": _array(band.observed), "norm": _array(band.norm), "upper": _array(band.upper)})
    return out


def _array(values: list[float | None]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def _chart(view: ReportView, service: str, data: dict, mine: list[Finding]):
    x = list(data["times"])
    role = data["role"]
    scale = 100.0 if role == "errors" else 1.0
    series = [
        charts.Series("observed", x, list(data["observed"] * scale), style=0, markers=True),
        charts.Series("norm", x, list(data["norm"] * scale), style=1),
        charts.Series("alarm line", x, list(data["upper"] * scale), style=2),
    ]
    markers = [charts.Marker(f.start, f"{f.kind} {f.start:%d %b %H:%M}") for f in mine if f.start and f.start >= x[0]]
    markers += [charts.Marker(t, f"deploy {v}") for t, v in _deploys(view, service, x[0], x[-1])]
    who = f"{service} {data['endpoint']}".strip()
    unit = "%" if role == "errors" else UNITS[role]
    chart = charts.Chart(title=f"{who}: {role} ({unit})", series=series, markers=markers[:6], y_label=unit,
                         height_in=2.2)
    return charts.line_chart(chart)


def _deploys(view: ReportView, service: str, start: datetime, end: datetime) -> list[tuple[datetime, str]]:
    ev = view.ctx.events
    if ev is None or ev.empty:
        return []
    ts = pd.to_datetime(ev["timestamp"])
    sel = ev[(ev["service"] == service) & ev["type"].isin(["deploy", "config"]) & (ts >= start) & (ts <= end)]
    return [(pd.Timestamp(r["timestamp"]).to_pydatetime(), str(r.get("version") or r["type"]))
            for _, r in sel.iterrows()][:4]


def _words(service: str, data: dict, mine: list[Finding]) -> str:
    """The chart in words for Markdown; names and titles are data, so escaped."""
    who = md_escape(f"{service} {data['endpoint']}".strip())
    role = md_escape(data["role"])
    return "\n".join(f"- {who} {role}: {md_escape(f.title)}" for f in mine) or f"- {who} {role}"


def _rank(f: Finding) -> int:
    return severity_rank(f.severity)
