"""Capacity in the reports: which services run out and when, headroom per service, the forecast.

* executive: the saturation calendar (service, when, its interval, today's peak against capacity)
  and the domain's transaction growth;
* lead: the capacity table of the squad's services (peak, capacity, utilisation, headroom,
  instances needed);
* developer: the same table and, per service, the forecast chart — history, forecast, its 90%
  interval and the capacity line, told apart by line style and labels, not colour.
Figures are the stored CapacityFigure records `analyze` computed (perfops.model.figures;
definitions in docs/methods/capacity_cost.md).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from markupsafe import Markup

from perfops.model import format as fmt
from perfops.model.figures import CapacityFigure
from perfops.model.findings import Finding
from perfops.reports import charts
from perfops.reports.blocks import Doc, md_escape, severity_cell
from perfops.reports.section import ReportView, Section

MAX_CHARTS = 6
MAX_ROWS = 25


def build(view: ReportView) -> list[Section]:
    if view.audience == "executive":
        return [saturation_calendar(view), domain_growth(view)]
    states = figures_of(view, _chart_services(view))
    sections = [capacity_table(view, states)]
    if view.audience == "developer":
        sections.append(forecast_charts(view, states))
    return sections


def figures_of(view: ReportView, names: list[str]) -> list[CapacityFigure]:
    """The stored capacity figures of `names` (in that order)."""
    stored = view.ctx.figures.capacity
    return [stored[n] for n in names if n in stored]


def _chart_services(view: ReportView) -> list[str]:
    return [n for n in view.services_in_scope if n in view.ctx.catalog.service_by_name]


# ---- executive ------------------------------------------------------------------------------------
def saturation_calendar(view: ReportView) -> Section:
    """Saturation risks, soonest first, with the interval and today's figures."""
    risks = sorted((f for f in view.active if f.kind == "saturation_risk"), key=_days)
    under = [f for f in view.active if f.kind == "under_provisioned"]
    doc = Doc()
    if not risks:
        doc.para("No service is forecast to run out of capacity within the forecast horizon.", "calm")
    else:
        first = risks[0]
        doc.para(f"{first.service} runs out first: in about {fmt.number(_days(first), 0)} days "
                 f"({fmt.local_date(_date(view, first), view.timezone)}).", "headline")
        doc.table(["Service", "Squad", "Runs out in", "Likely range", "Around", "Peak now", "Severity"],
                  [_risk_row(view, f) for f in risks[:MAX_ROWS]], cls="capacity-table")
    if under:
        doc.note(f"{len(under)} service(s) already run above their utilisation target: "
                 + ", ".join(sorted(f.service for f in under)[:10]) + ".")
    data = {"saturation": [_risk_data(view, f) for f in risks], "above_target": sorted(f.service for f in under)}
    return doc.section("capacity-saturation", "Capacity: which services run out, and when", 42, data)


def _days(f: Finding) -> float:
    value = (f.impact or {}).get("days_to_saturation")
    return float(value) if isinstance(value, int | float) else math.inf


def _date(view: ReportView, f: Finding) -> datetime:
    return view.now + timedelta(days=_days(f))


def _interval(f: Finding) -> str:
    lo, hi = ((f.impact or {}).get("days_to_saturation_interval") or [None, None])[:2]
    low = fmt.number(lo, 0) if lo is not None else "?"
    high = fmt.number(hi, 0) if hi is not None else "beyond the horizon"
    return f"{low} to {high} days" if hi is not None else f"{low} days to beyond the horizon"


def _risk_row(view: ReportView, f: Finding) -> list[Any]:
    ev = f.evidence or {}
    peak = ev.get("throughput_utilisation_pct") if f.metric == "traffic" else ev.get("peak_cpu_pct")
    return [f.service, f.squad, f"{fmt.number(_days(f), 0)} days", _interval(f),
            fmt.local_date(_date(view, f), view.timezone),
            fmt.pct(peak, 0) + (" of capacity" if f.metric == "traffic" else " CPU"), severity_cell(f.severity)]


def _risk_data(view: ReportView, f: Finding) -> dict[str, Any]:
    return {"id": f.id, "service": f.service, "squad": f.squad, "days_to_saturation": _days(f),
            "interval_days": (f.impact or {}).get("days_to_saturation_interval"),
            "date": _date(view, f).date().isoformat(), "metric": f.metric, "severity": f.severity}


def domain_growth(view: ReportView) -> Section:
    """Transactions per week for the domain and the change over the history and last week."""
    weeks = domain_weekly_volumes(view)
    doc = Doc()
    if len(weeks) < 2:
        doc.para("Not enough history for week-over-week volume yet.", "calm")
        return doc.section("capacity-volume", "Transaction volume", 44, {"weekly_requests": weeks})
    last, prev, first = weeks[-1], weeks[-2], weeks[0]
    wow, total = _change(last, prev), _change(last, first)
    doc.para(f"The domain served {fmt.compact(last)} requests in the last 7 days, {fmt.change(wow)} on the week "
             f"before and {fmt.change(total)} over the last {len(weeks) - 1} weeks.", "headline")
    doc.table(["Week ending", "Requests", "Change"], [
        [fmt.local_date(view.now - timedelta(days=7 * (len(weeks) - 1 - k)), view.timezone), fmt.compact(v),
         fmt.change(_change(v, weeks[k - 1])) if k else "–"] for k, v in enumerate(weeks)
    ], cls="compact")
    data = {"weekly_requests": weeks, "week_over_week_pct": wow, "over_history_pct": total,
            "weeks": len(weeks)}
    return doc.section("capacity-volume", "Transaction volume", 44, data)


def domain_weekly_volumes(view: ReportView) -> list[float]:
    """Requests per whole week (ending at `now`) summed over the services in scope."""
    rows = [f.weekly_requests for f in figures_of(view, _chart_services(view))]
    if not rows:
        return []
    weeks = max(len(r) for r in rows)
    matrix = np.full((len(rows), weeks), np.nan)
    for i, r in enumerate(rows):  # aligned at the newest week
        if r:
            matrix[i, weeks - len(r):] = [np.nan if v is None else v for v in r]
    with np.errstate(invalid="ignore"):
        total = np.nansum(matrix, axis=0)
    return [float(v) for v in total if v > 0]


def _change(new: float, old: float) -> float | None:
    return None if not old else 100.0 * (new / old - 1.0)


# ---- lead and developer ------------------------------------------------------------------------------
def capacity_table(view: ReportView, states: list[CapacityFigure]) -> Section:
    margin = states[0].safety_margin if states else 0.10
    doc = Doc()
    rows, data = [], []
    for s in states:
        needed = s.instances_needed
        sat = s.saturation
        rows.append([s.service, fmt.number(s.instances), fmt.number(s.peak_tps, 1), fmt.number(s.capacity_tps, 0),
                     fmt.pct(s.throughput_utilisation_pct, 0), fmt.pct(s.peak_cpu_pct, 0), fmt.pct(s.cpu_target_pct, 0),
                     fmt.number(needed) if needed else "–",
                     f"{fmt.number(sat.days, 0)} days" if sat else "not within horizon"])
        data.append(_state_data(s, needed))
    doc.note("Peak = 99th percentile of 5-minute values over the last 7 days; capacity = instances × "
             "max requests/s per instance; 'needed' keeps the forecast peak under the target with a "
             f"{margin:.0%} margin.")
    doc.table(["Service", "Instances", "Peak req/s", "Capacity req/s", "Throughput used", "Peak CPU", "Target",
               "Instances needed", "Runs out in"], rows, cls="capacity-table", empty="No service in scope.")
    return doc.section("capacity-table", "Capacity and headroom", 45, data)


def _state_data(s: CapacityFigure, needed: int | None) -> dict[str, Any]:
    sat = s.saturation
    return {"service": s.service, "instances": s.instances, "instances_source": s.instances_source,
            "peak_tps": _num(s.peak_tps), "capacity_tps": _num(s.capacity_tps),
            "throughput_utilisation_pct": _num(s.throughput_utilisation_pct),
            "peak_cpu_pct": _num(s.peak_cpu_pct), "cpu_target_pct": s.cpu_target_pct, "headroom_pct": _num(s.headroom_pct),
            "instances_needed": needed, "growth_over_horizon": _num(s.growth_over_horizon),
            "days_to_saturation": sat.days if sat else None}


def _num(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), 3)


def forecast_charts(view: ReportView, states: list[CapacityFigure]) -> Section:
    doc = Doc()
    drawn = 0
    for s in sorted(states, key=lambda s: (s.saturation.days if s.saturation else math.inf, s.service)):
        if drawn >= MAX_CHARTS or s.forecast is None or not s.forecast.history_times:
            continue
        doc.rich(forecast_chart(s), forecast_words(s))
        drawn += 1
    if drawn == 0:
        doc.para("No service in scope has enough traffic history for a forecast.", "empty")
    else:
        doc.note("Solid line with circles: the daily peak so far (p99 of 5-minute requests/s); dashed line: "
                 "its forecast; dotted lines: the 90% prediction interval; dash-dot line: capacity "
                 "(instances × max requests/s per instance).")
    return doc.section("capacity-forecast", "Traffic forecast against capacity", 46, {})


def forecast_chart(s: CapacityFigure) -> Markup:
    """History, forecast, its interval and the capacity line as one inline SVG."""
    ser = s.forecast
    assert ser is not None
    hist_x, fc_x = list(ser.history_times), list(ser.forecast_times)
    series = [charts.Series("daily peak so far", hist_x, _nan(ser.history), style=0, markers=True),
              charts.Series("forecast daily peak", fc_x, _nan(ser.mean), style=1)]
    if ser.capacity:
        series.append(charts.Series("capacity", [hist_x[0], fc_x[-1]], [ser.capacity] * 2, style=3))
    # the interval as two dotted lines, not a hatched band: a hatch pattern costs ~250 kB of SVG
    series += [charts.Series("90% interval, upper", fc_x, _nan(ser.upper), style=2),
               charts.Series("90% interval, lower", fc_x, _nan(ser.lower), style=2)]
    chart = charts.Chart(title=f"{s.service}: daily peak requests/s (p99 of 5-minute), history and forecast",
                         series=series, y_label="requests/s", height_in=2.4)
    return charts.line_chart(chart)


def _nan(values: list[float | None]) -> list[float]:
    return [math.nan if v is None else v for v in values]


def forecast_words(s: CapacityFigure) -> str:
    """The chart in words for Markdown."""
    sat = s.saturation
    peak = fmt.number(s.peak_tps, 1)
    cap = fmt.number(s.capacity_tps, 0) if s.capacity_tps else "unknown"
    end = f"runs out in about {fmt.number(sat.days, 0)} days" if sat else "stays under capacity over the horizon"
    return (f"- {md_escape(s.service)}: peak {peak} req/s now, capacity {cap} req/s, forecast peak "
            f"{fmt.number(s.forecast_peak_tps, 1)} req/s; {end}.")
