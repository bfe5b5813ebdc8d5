"""The overview for a squad lead (a squad) and a developer (a service); see sections/overview.py."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import pandas as pd
from markupsafe import Markup

from perfops.model import format as fmt
from perfops.model import health
from perfops.model.catalog import Slo
from perfops.model.findings import SEVERE, Finding
from perfops.reports import charts
from perfops.reports.aggregates import for_services
from perfops.reports.blocks import Doc, md_escape, severity_cell, status_cell
from perfops.reports.incidents_view import actions_section, incidents_section
from perfops.reports.overview_domain import (
    _title_cell,
    service_table,
    spark_order,
    spark_row,
)
from perfops.reports.picture import TREND_WEEKS, Picture, build_picture, daily_rollup, hour_floor
from perfops.reports.section import ReportView, Section
from perfops.reports.weekly_view import movement_section

MAX_ENDPOINT_CHARTS = 4


# ---- lead -----------------------------------------------------------------------------------
def lead(view: ReportView) -> list[Section]:
    pic = build_picture(view)
    return [
        squad_status(view, pic),
        movement_section(view, order=11),
        actions_section(view, order=12),
        incidents_section(view, order=15, severe_only=False),
        open_findings(view, view.active, "squad-findings", "Open findings of the squad", 20),
        dependencies(view),
        slo_budgets(view, pic),
        journeys(view),
        consumers(view, 45),
        recently_resolved(view),
    ]


def squad_status(view: ReportView, pic: Picture) -> Section:
    cat = view.ctx.catalog
    st = pic.squad_status.get(view.squad or "", health.Status("grey", ["no services"]))
    squad = cat.squad_by_name[view.squad or ""]
    doc = Doc()
    doc.rich(Markup('<p class="headline">Squad {} is {} — {}</p>').format(squad.name, status_cell(st.level, st.word).html, st.why),
             f"**Squad {md_escape(squad.name)}: {st.word}** — {md_escape(st.why)}")
    doc.table(["Service", "Status", "Traffic", "p95 latency", "Server errors"],
              [spark_row(pic, n, view) for n in spark_order(view, pic)], cls="spark-table")
    doc.table(["Service", "Tier", "Why"], [[n, fmt.number(cat.service(n).tier), pic.status[n].why] for n in pic.services])
    return doc.section("squad-status", f"Squad {squad.name} at a glance", 10,
                       {n: {**pic.status[n].to_dict(), **(pic.kpis[n].to_dict() if n in pic.kpis else {})}
                        for n in pic.services})


def acknowledgement(view: ReportView, finding_id: str) -> tuple[str, str]:
    """(who acknowledged, when) from the finding's history, or ('–', '–')."""
    for row in reversed(view.history):
        if row.get("finding_id") == finding_id and row.get("action") in ("acknowledged", "ack"):
            return str(row.get("by") or "–"), fmt.local_time(row.get("at"), view.timezone)
    return "–", "–"


def open_findings(view: ReportView, findings: list[Finding], sid: str, title: str, order: int) -> Section:
    cat = view.ctx.catalog
    ranked = health.rank_findings(findings, cat)
    rows, data = [], []
    for f in ranked:
        seen = view.first_seen.get(f.id) or f.start
        who, when = acknowledgement(view, f.id)
        rows.append([severity_cell(f.severity), _title_cell(f), f.service, f.endpoint or "–",
                     finding_age(f, seen, view.now), f.status,
                     f"{who}, {when}" if who != "–" else "–"])
        data.append({**f.to_record(), "first_seen": seen.isoformat() if seen else None, "acknowledged_by": who})
    doc = Doc().table(["Severity", "What", "Service", "Endpoint", "Age", "Status", "Acknowledged by"], rows,
                      cls="findings-table", empty="No open findings.")
    return doc.section(sid, title, order, data)


def finding_age(f: Finding, first_seen: datetime | None, now: datetime) -> str:
    """How long the condition has held: since it began (`start`), else since perfops found it."""
    since = f.start or first_seen
    if since is None:
        return "–"
    delta = now - since
    return "just now" if delta.total_seconds() < 60 else fmt.duration(delta)


def dependencies(view: ReportView) -> Section:
    """What the squad's dependencies did to it and what it did to its callers."""
    cat = view.ctx.catalog
    mine = set(view.services_in_scope)
    index = view.finding_index
    to_us, by_us = [], []
    for f in index.values():
        if f.status == "resolved":
            continue
        cause = index.get(f.caused_by or "")
        if cause is None:
            continue
        if f.service in mine and cause.service not in mine:
            to_us.append([cause.service, cat.squad_of(cause.service) if cause.service in cat.service_by_name else "–",
                          cause.title, f.service, f.title])
        elif cause.service in mine and f.service not in mine:
            to_us_or_by = [cause.service, f.service, f.squad, f.title]
            by_us.append(to_us_or_by)
    deps = sorted({d for s in mine for d in cat.service(s).depends_on if d not in mine})
    callers = sorted({c for s in mine for c in cat.callers_of(s) if c not in mine})
    dep_trouble = [f for f in view.finding_index.values() if f.service in deps and f.status != "resolved"
                   and f.severity in SEVERE]
    doc = Doc()
    doc.heading("What dependencies did to us")
    doc.table(["Their service", "Their squad", "Their finding", "Our service", "Effect on us"], to_us,
              empty="No finding of this squad is explained by another squad's service.")
    if dep_trouble:
        doc.para("Critical/high findings open on services this squad calls:")
        doc.table(["Service", "Squad", "Severity", "What"],
                  [[f.service, f.squad, severity_cell(f.severity), f.title] for f in health.rank_findings(dep_trouble, cat)])
    doc.heading("What we did to our callers")
    doc.table(["Our service", "Their service", "Their squad", "Effect on them"], by_us,
              empty="No other squad's finding is explained by this squad's services.")
    doc.note(f"Depends on (other squads): {', '.join(deps) or 'none'}. Called by (other squads): {', '.join(callers) or 'none'}.")
    return doc.section("dependencies", "Dependencies and callers", 30,
                       {"done_to_us": to_us, "done_by_us": by_us, "depends_on": deps, "callers": callers})


def slo_budgets(view: ReportView, pic: Picture) -> Section:
    """SLO attainment this week and the error budget left over each service's SLO window."""
    cat = view.ctx.catalog
    rows, data = [], []
    for name in pic.services:
        svc = cat.service(name)
        if svc.slo is None:
            rows.append([name, "no SLO defined", "–", "–", "–"])
            continue
        req, err = _window_totals(view, svc.slo.window_delta).get(name, (0.0, 0.0))
        target = svc.slo.availability
        budget_left = math.nan
        if target is not None and req > 0:
            allowed = req * (100 - target) / 100
            budget_left = 100.0 * (1 - err / allowed) if allowed > 0 else math.nan
        k = pic.kpis.get(name)
        rows.append([
            name, _slo_words(svc.slo),
            fmt.pct(100 - k.error_rate, 3) if k and not math.isnan(k.error_rate) else "–",
            fmt.ms(k.p95) if k else "–",
            f"{fmt.pct(budget_left, 0)} left over {svc.slo.window}" if not math.isnan(budget_left) else "–",
        ])
        data.append({"service": name, "error_budget_left_pct": None if math.isnan(budget_left) else budget_left})
    doc = Doc().table(["Service", "SLO", "Availability (7 d)", "p95 (7 d)", "Error budget"], rows)
    doc.note("Error budget left = 1 − server errors ÷ errors the availability SLO allows over its window.")
    return doc.section("slo-budgets", "SLOs and error budgets", 35, data)


def _window_totals(view: ReportView, window: timedelta) -> dict[str, tuple[float, float]]:
    """(requests, errors) per service over the SLO window, shared by every report of the run:
    summed from the domain's daily rollup of the executive summary (days aligned on the same end)
    when the window is whole days within it, else one domain-wide query per window length."""
    key = f"window-totals:{window.total_seconds()}"
    if key not in view.cache:
        end = hour_floor(view.now)
        if window % timedelta(days=1) == timedelta(0) and window <= timedelta(weeks=TREND_WEEKS):
            daily = daily_rollup(view, None)
            roll = daily[(daily["bucket"] >= end - window) & daily["metric"].isin(["requests", "errors"])]
        else:
            roll = view.rollup(None, ["requests", "errors"], end - window, end, health.DAY)
        sums = roll.groupby(["service", "metric"])["value"].sum().unstack(fill_value=0.0) if not roll.empty else None
        view.cache[key] = {} if sums is None else {
            str(n): (float(r.get("requests", 0.0)), float(r.get("errors", 0.0))) for n, r in sums.iterrows()}
    return view.cache[key]


def _slo_words(slo: Slo) -> str:
    parts = []
    if slo.availability is not None:
        parts.append(f"{fmt.pct(slo.availability, 2)} available")
    if slo.latency_p95_ms is not None:
        parts.append(f"p95 ≤ {fmt.ms(slo.latency_p95_ms)}")
    return ", ".join(parts) + f" over {slo.window}"


def journeys(view: ReportView) -> Section:
    cat = view.ctx.catalog
    mine = set(view.services_in_scope)
    rows = []
    for j in cat.journeys:
        steps = j.parsed_steps()
        if not any(s in mine for s, _ in steps):
            continue
        path = " → ".join(f"{s}:{e}" + ("" if s in mine else f" ({cat.squad_of(s)})") for s, e in steps)
        rows.append([j.name, path, fmt.ms(j.latency_p95_ms) if j.latency_p95_ms else "–"])
    found = [f for f in view.active if f.kind == "journey_degradation"]
    doc = Doc().table(["Journey", "Steps (other squads in brackets)", "End-to-end p95 target"], rows,
                      empty="No journey in the catalog goes through this squad's services.")
    if found:
        doc.bullets([f.title for f in found])
    return doc.section("journeys", "Journeys", 38, rows)


def consumers(view: ReportView, order: int) -> Section:
    """Who calls the scope's services this week: requests and client-error rate per consumer."""
    cat = view.ctx.catalog
    end = hour_floor(view.now)
    sums = for_services(view, "consumer_totals", view.services_in_scope, ["requests", "client_errors", "errors"],
                        end - timedelta(days=7), end)
    doc = Doc()
    if sums.empty:
        doc.para("No per-consumer telemetry: perfops cannot tell who calls these services.", "empty")
        return doc.section("consumers", "Consumers", order, [])
    per = sums.groupby(["consumer", "metric"])["value"].sum().unstack(fill_value=0.0)
    per = per.sort_values("requests", ascending=False) if "requests" in per.columns else per
    owners = {c.name: c.owner or "–" for c in cat.consumers}
    rows, data = [], []
    for consumer, row in per.head(25).iterrows():
        req = float(row.get("requests", 0.0))
        cerr = float(row.get("client_errors", 0.0))
        rate = 100.0 * cerr / req if req else math.nan
        rows.append([str(consumer), owners.get(str(consumer), "unknown"), fmt.compact(req), fmt.pct(rate, 2)])
        data.append({"consumer": str(consumer), "requests": req, "client_error_pct": None if math.isnan(rate) else rate})
    doc.table(["Consumer", "Owner", "Requests (7 d)", "Client errors"], rows)
    misuse = [f for f in view.active if f.kind == "consumer_misuse"]
    if misuse:
        doc.bullets([f"{f.consumer}: {f.title}" for f in misuse])
    return doc.section("consumers", "Consumers", order, data)


def recently_resolved(view: ReportView) -> Section:
    rows = [[f.service, f.title, fmt.relative(f.end, view.now) if f.end else "–"] for f in view.resolved[:20]]
    doc = Doc().table(["Service", "What", "Ended"], rows, empty="Nothing resolved recently.")
    return doc.section("resolved", "Recently resolved", 600, [f.to_record() for f in view.resolved[:20]])


# ---- developer ------------------------------------------------------------------------------
def developer(view: ReportView) -> list[Section]:
    pic = build_picture(view)
    name = view.service or ""
    st = pic.status[name]
    status = Doc()
    status.rich(Markup('<p class="headline">{} is {} — {}</p>').format(name, status_cell(st.level, st.word).html, st.why),
                f"**{md_escape(name)}: {st.word}** — {md_escape(st.why)}")
    status.table(["Service", "Status", "Traffic", "p95 latency", "Server errors"], [spark_row(pic, name, view)], cls="spark-table")
    return [
        status.section("service-status", f"{name} at a glance", 10, pic.status[name].to_dict()),
        movement_section(view, order=11),
        open_findings(view, view.active, "service-findings", "Open findings", 20),
        finding_details(view),
        endpoints(view),
        consumers(view, 45),
        neighbours(view),
        service_table(view, pic, "service-figures", "Appendix: figures", 900),
    ]


def finding_details(view: ReportView) -> Section:
    doc = Doc()
    currency = view.ctx.catalog.currency
    for f in health.rank_findings(view.active, view.ctx.catalog):
        # each finding's block carries its id, the anchor every other report links to (reports/links.py)
        doc.add(Markup('<div class="finding-detail" id="{}">').format(f.id), "")
        doc.heading(f"{f.severity.upper()}: {f.title}", 4)
        doc.rich(Markup('<p class="meta"><span class="f-id">{}</span></p>').format(f.id), md_escape(f.id))
        doc.para(f.detail)
        if f.recommendation:
            doc.para(f"What to do: {f.recommendation}", "reco")
        if f.evidence:
            doc.table(["Evidence", "Value"], [list(row) for row in fmt.evidence_rows(f.evidence, currency)],
                      cls="compact evidence")
        doc.add(Markup("</div>"), "")
    if not doc.html:
        doc.para("No open findings.", "calm")
    return doc.section("finding-details", "Findings in detail", 25)


def endpoints(view: ReportView) -> Section:
    """Every endpoint: this week's traffic, percentiles and errors, and a chart of p95 this week
    against last week with deploys and finding starts marked. Read as hourly sums and counts per
    endpoint (perfops.reports.aggregates), which give the same sums and means as the raw rows."""
    name = view.service or ""
    end = hour_floor(view.now)
    metrics = ["requests", "errors", "latency_p50_ms", "latency_p95_ms", "latency_p99_ms"]
    hours = for_services(view, "endpoint_hours", [name], metrics, end - timedelta(days=14), end)
    doc = Doc()
    if hours.empty:
        doc.para("No telemetry for this service in the last two weeks.", "empty")
        return doc.section("endpoints", "Endpoints", 30, [])
    week = hours[hours["hour"] >= end - timedelta(days=7)]
    rows, data = _endpoint_rows(week, hours, end)
    doc.table(["Endpoint", "Requests (7 d)", "vs last week", "p50", "p95", "p99", "Server errors"], rows)
    for endpoint in [str(d["endpoint"]) for d in data][:MAX_ENDPOINT_CHARTS]:
        doc.rich(_endpoint_chart(view, hours, endpoint, end), "")
    if len(data) > MAX_ENDPOINT_CHARTS:
        doc.note(f"Charts for the {MAX_ENDPOINT_CHARTS} busiest endpoints; the dashboard has every endpoint.")
    return doc.section("endpoints", "Endpoints", 30, data)


def _endpoint_rows(week: pd.DataFrame, hours: pd.DataFrame, end: datetime) -> tuple[list[list[object]], list[dict[str, object]]]:
    """Table rows from hourly (total, n): week sums, means of the raw values (Σ total / Σ n), and
    last week's requests."""
    prev = hours[hours["hour"] < end - timedelta(days=7)]
    agg = week.groupby(["endpoint", "metric"])[["total", "n"]].sum()
    sums, means = agg["total"].unstack(), (agg["total"] / agg["n"]).unstack()
    prev_req = prev[prev["metric"] == "requests"].groupby("endpoint")["total"].sum()
    order = sums["requests"].sort_values(ascending=False).index if "requests" in sums.columns else sums.index
    rows, data = [], []
    for ep in order:
        req = float(sums.at[ep, "requests"]) if "requests" in sums.columns else math.nan
        err = float(sums.at[ep, "errors"]) if "errors" in sums.columns else math.nan
        before = float(prev_req.get(ep, math.nan))
        chg = 100 * (req - before) / before if before and not math.isnan(before) else math.nan
        pcts = [float(means.at[ep, m]) if m in means.columns else math.nan
                for m in ("latency_p50_ms", "latency_p95_ms", "latency_p99_ms")]
        rate = 100 * err / req if req else math.nan
        label = ep or "(whole service)"
        rows.append([label, fmt.compact(req), fmt.change(chg), *[fmt.ms(p) for p in pcts], fmt.pct(rate, 2)])
        data.append({"endpoint": ep, "requests": req, "p50_ms": pcts[0], "p95_ms": pcts[1], "p99_ms": pcts[2],
                     "error_pct": rate})
    return rows, data


def _endpoint_chart(view: ReportView, hours: pd.DataFrame, endpoint: str, end: datetime) -> Markup:
    part = hours[(hours["endpoint"] == endpoint) & (hours["metric"] == "latency_p95_ms")]
    hourly = (part["total"] / part["n"]).set_axis(pd.DatetimeIndex(part["hour"])).sort_index().resample("h").mean()
    week_start = end - timedelta(days=7)
    cur = hourly[hourly.index >= week_start]
    prev = hourly[hourly.index < week_start]
    prev.index = prev.index + pd.Timedelta(days=7)
    marks = list(_events(view, week_start, end))
    marks += [(f.start, f.kind) for f in view.active if f.endpoint == endpoint and f.start and f.start >= week_start]
    markers = _merged_markers(marks)
    label = endpoint or "whole service"
    chart = charts.Chart(
        title=f"{label}: p95 latency, this week against last week", y_label="ms",
        series=[charts.Series("this week", list(cur.index), list(cur.values), style=0),
                charts.Series("last week", list(prev.index), list(prev.values), style=1)],
        markers=markers[:6],
    )
    return Markup('<figure class="chart-wide">{}</figure>').format(charts.line_chart(chart))


def _merged_markers(marks: list[tuple[datetime, str]], within: timedelta = timedelta(hours=3)) -> list[charts.Marker]:
    """One labelled line per moment: a deploy and the regression it caused share a line."""
    merged: list[tuple[datetime, list[str]]] = []
    for moment, label in sorted(marks, key=lambda m: m[0]):
        if merged and moment - merged[-1][0] <= within:
            merged[-1][1].append(label)
        else:
            merged.append((moment, [label]))
    return [charts.Marker(x=m, label=" + ".join(labels)[:40]) for m, labels in merged]


def _events(view: ReportView, start: datetime, end: datetime) -> list[tuple[datetime, str]]:
    ev = view.ctx.events
    if ev is None or ev.empty:
        return []
    mine = ev[(ev["service"] == view.service) & (ev["timestamp"] >= start) & (ev["timestamp"] < end)]
    return [(row.timestamp, f"{row.type} {row.version}") for row in mine.itertuples()]


def neighbours(view: ReportView) -> Section:
    cat = view.ctx.catalog
    name = view.service or ""
    active: dict[str, list[Finding]] = {}
    for f in view.finding_index.values():
        if f.status != "resolved":
            active.setdefault(f.service, []).append(f)
    rows = []
    for other, role in [(d, "we call it") for d in cat.service(name).depends_on] + [(c, "calls us") for c in cat.callers_of(name)]:
        fs = health.rank_findings(active.get(other, []), cat)
        rows.append([other, role, cat.squad_of(other), fs[0].title if fs else "nothing open"])
    doc = Doc().table(["Service", "Relation", "Squad", "Most important open finding"], rows,
                      empty="No dependencies or callers in the catalog.")
    return doc.section("neighbours", "Dependencies and callers", 50, rows)
