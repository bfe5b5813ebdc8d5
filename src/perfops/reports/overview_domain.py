"""Domain health at a glance: status per squad and service with the reasons in words, the things
out of the ordinary ranked by impact (with owning and cause squad), week-over-week trends as
small charts, the capacity outlook and the top savings.

The executive gets the domain on one page; a squad lead gets the squad (its findings with age,
status and who acknowledged them, what dependencies did to it and what it did to its callers,
SLOs and error budgets, journeys, consumers); a developer gets the service (see overview_team).
Status rules and the ranking are in `perfops.model.health`.
"""

from __future__ import annotations

import math
from dataclasses import asdict

from markupsafe import Markup

from perfops.model import format as fmt
from perfops.model import health
from perfops.model.findings import Finding
from perfops.reports import charts
from perfops.reports.blocks import Cell, Doc, chart_cell, md_escape, severity_cell, status_cell
from perfops.reports.incidents_view import answer_lines, incidents_of, incidents_section
from perfops.reports.links import service_cell, squad_cell
from perfops.reports.paths import report_href
from perfops.reports.picture import Picture, build_picture, daily_rollup, weekly_domain_rows
from perfops.reports.section import ReportView, Section
from perfops.reports.weekly_view import REPORT_WEEKS, movement_section, squad_strips, strips_html, strips_md

STRIP_NOTE = ("Each small chart: one point per week over the last {weeks} weeks (requests, request-weighted p95, "
              "server error rate, cost); the figure beside it is the latest week.")
SPARK_SERVICES = 24  # executive: small charts for this many services; all of them in the appendix


# ---- executive ------------------------------------------------------------------------------
def executive(view: ReportView) -> list[Section]:
    pic = build_picture(view)
    return [
        domain_status(view, pic),
        movement_section(view, order=12),
        incidents_section(view, order=20, severe_only=True),
        weekly_trends(view, pic),
        capacity_outlook(view),
        top_savings(view),
        service_table(view, pic, "service-status", "Appendix: every service", 900),
    ]


def domain_status(view: ReportView, pic: Picture) -> Section:
    cat = view.ctx.catalog
    counts = pic.counts()
    doc = Doc()
    answer = answer_lines(view, incidents_of(view), headline(counts, len(pic.services)))
    doc.para(answer[0], "headline")
    for line in answer[1:]:
        doc.para(line, "answer")
    strips = squad_strips(view)
    href = {s.squad: report_href(view.audience, "lead", s.squad) for s in strips}
    doc.heading("Squads")
    doc.rich(strips_html(strips, cat.currency, href), strips_md(strips, cat.currency))
    doc.rich(Markup('<p class="note strip-note">{}</p>').format(STRIP_NOTE.format(weeks=REPORT_WEEKS)),
             f"_{md_escape(STRIP_NOTE.format(weeks=REPORT_WEEKS))}_")
    attention = [n for n in pic.services if pic.status[n].level in ("red", "amber", "grey")]
    attention.sort(key=lambda n: (health.LEVELS.index(pic.status[n].level), cat.service(n).tier, n))
    if attention:
        doc.rich(Markup('<h3 class="print-skip">Services that are not normal</h3>'), "#### Services that are not normal")
        doc.table(["Service", "Squad", "Tier", "Status", "Why"], [
            [service_cell(view, n), squad_cell(view, cat.squad_of(n)), fmt.number(cat.service(n).tier),
             status_cell(pic.status[n].level, pic.status[n].word),
             pic.status[n].why] for n in attention[:30]
        ], cls="status-table print-skip")
        if len(attention) > 30:
            doc.note(f"{len(attention) - 30} more services are not normal: see the appendix.")
    data = {"answer": answer, "counts": counts, "squads": {k: v.to_dict() for k, v in pic.squad_status.items()},
            "squad_strips": [s.to_dict() for s in strips],
            "services": {k: v.to_dict() for k, v in pic.status.items()}}
    return doc.section("domain-status", "Domain status", 10, data)


def headline(counts: dict[str, int], total: int) -> str:
    red, amber, grey = counts["red"], counts["amber"], counts["grey"]
    if red == amber == grey == 0:
        return f"All {total} services are normal this week."
    if grey == total:
        return (f"No traffic seen this week for any of the {total} services: load telemetry "
                "('perfops ingest' or 'perfops collect') and run 'perfops analyze'.")
    parts = []
    if red:
        parts.append(f"{red} of {total} services need action now")
    if amber:
        parts.append(f"{amber} to watch")
    if grey:
        parts.append(f"{grey} without data")
    green = counts["green"]
    return "; ".join(parts) + (f"; {green} normal." if green else "; none is normal.")


def _title_cell(f: Finding) -> Cell:
    text = f.title + (f" (after {f.event})" if f.event else "")
    html = Markup('<span class="f-title">{}</span>').format(f.title)
    if f.event:
        html += Markup('<br><span class="f-event">after {}</span>').format(f.event)
    html += Markup('<br><span class="f-id">{}</span>').format(f.id)
    return Cell(text=f"{text} [{f.id}]", html=html)


def weekly_trends(view: ReportView, pic: Picture) -> Section:
    cat = view.ctx.catalog
    weeks = weekly_domain_rows(view, daily_rollup(view, None))
    doc = Doc()
    labels = [w.label for w in weeks]
    figs = [charts.weekly_bars(labels, [w.requests for w in weeks], title="Traffic per week", unit="requests")]
    slo_vals = [w.slo_met_pct for w in weeks]
    if any(not math.isnan(v) for v in slo_vals):
        figs.append(charts.weekly_line(labels, slo_vals, title="Services meeting their SLO", unit="%",
                                       target=100.0, target_label="all"))
    costs = [w.cost for w in weeks]
    if any(not math.isnan(v) for v in costs):
        figs.append(charts.weekly_bars(labels, costs, title="Cost per week", unit=cat.currency))
    doc.rich(Markup('<div class="chart-row">{}</div>').format(Markup("").join(figs)), "")
    doc.table(["Week starting", "Requests", "Services meeting SLO", "Cost"], [
        [w.label, fmt.compact(w.requests),
         f"{w.slo_met} of {w.slo_total}" if w.slo_met is not None else "–",
         fmt.money(w.cost, cat.currency)] for w in weeks
    ], cls="compact")
    doc.heading("This week against last week, per service")
    doc.note("Solid line: this week, hour by hour; dotted grey line: the week before. "
             "p95 is the request-weighted mean of hourly p95 across endpoints.")
    ranked = spark_order(view, pic)
    doc.table(["Service", "Status", "Traffic", "p95 latency", "Server errors"],
              [spark_row(pic, name, view) for name in ranked[:SPARK_SERVICES]], cls="spark-table")
    if len(ranked) > SPARK_SERVICES:
        doc.note(f"Showing the {SPARK_SERVICES} services that matter most now (not normal first, then tier "
                 f"and traffic); all {len(ranked)} are in the appendix with their figures.")
    data = {"weeks": [{**asdict(w), "week_start": fmt.local_date(w.week_start)}
                      for w in weeks],
            "services": {n: pic.kpis[n].to_dict() for n in pic.services if n in pic.kpis}}
    return doc.section("weekly-trends", "Traffic, SLO and cost trends", 30, _clean_json(data))


def spark_order(view: ReportView, pic: Picture) -> list[str]:
    cat = view.ctx.catalog

    def key(name: str) -> tuple[int, int, float, str]:
        k = pic.kpis.get(name)
        return (health.LEVELS.index(pic.status[name].level), cat.service(name).tier,
                -(k.requests if k and k.has_traffic else 0.0), name)

    return sorted(pic.services, key=key)


def spark_row(pic: Picture, name: str, view: ReportView | None = None) -> list[object]:
    """A service's status and sparklines; its name links to its developer report when `view` is given."""
    k = pic.kpis.get(name)
    st = pic.status[name]
    first: object = name if view is None else service_cell(view, name)
    if k is None or not k.has_traffic:
        return [first, status_cell(st.level, st.word), "no data", "no data", "no data"]
    return [
        first, status_cell(st.level, st.word),
        _spark(k, "requests", f"{fmt.compact(k.requests)} req {fmt.change(k.change('requests'))}", name),
        _spark(k, "latency_p95_ms", f"{fmt.ms(k.p95)} {fmt.change(k.change('latency_p95_ms'))}", name),
        _spark(k, "errors", f"{fmt.pct(k.error_rate, 2)} {fmt.change(k.change('errors'))}", name),
    ]


def _spark(k: health.Kpis, metric: str, text: str, name: str) -> Cell:
    cur, prev = k.hourly.get(metric, ([], []))
    svg = charts.sparkline(cur, prev, title=f"{name} {fmt.metric_label(metric)}: this week against last week")
    return chart_cell(svg, text)


def capacity_outlook(view: ReportView) -> Section:
    cat = view.ctx.catalog
    kinds = ("saturation_risk", "under_provisioned", "over_provisioned")
    found = [f for f in view.active if f.kind in kinds]
    found.sort(key=lambda f: (kinds.index(f.kind), _days(f), health.impact_score(f, cat)))
    doc = Doc()
    planned = sum(1 for s in cat.services if s.capacity is not None)
    if not found:
        doc.para(f"No capacity risk found: none of the {planned} services with capacity data is forecast "
                 "to run out, and none runs above its target.", "calm")
    else:
        doc.table(["Service", "Squad", "Outlook", "Severity"], [
            [f.service, f.squad, _capacity_words(f), severity_cell(f.severity)] for f in found[:8]
        ])
        if len(found) > 8:
            doc.note(f"{len(found) - 8} more capacity findings in the squads' reports.")
    return doc.section("capacity-outlook", "Capacity outlook", 40, [f.to_record() for f in found])


def _days(f: Finding) -> float:
    d = (f.impact or {}).get("days_to_saturation")
    return float(d) if isinstance(d, int | float) else math.inf


def _capacity_words(f: Finding) -> str:
    if f.kind == "saturation_risk" and not math.isinf(_days(f)):
        return f"runs out of capacity in about {fmt.number(_days(f), 0)} days at the current growth"
    return f.title


def top_savings(view: ReportView) -> Section:
    cat = view.ctx.catalog
    found = [f for f in view.active if (f.impact or {}).get("monthly_savings")]
    found.sort(key=lambda f: -health._num(f.impact.get("monthly_savings")))
    doc = Doc()
    if not found:
        doc.para("No savings opportunity found this period.", "calm")
    else:
        total = sum(health._num(f.impact.get("monthly_savings")) for f in found)
        doc.para(f"{fmt.money(total, cat.currency, 'month')} could be saved across {len(found)} changes; the largest:")
        doc.table(["Service", "Squad", "Change", "Saves"], [
            [f.service, f.squad, f.recommendation or f.title,
             fmt.money(health._num(f.impact.get("monthly_savings")), cat.currency, "month")] for f in found[:5]
        ])
    return doc.section("top-savings", "Top savings", 50, [f.to_record() for f in found[:5]])


def service_table(view: ReportView, pic: Picture, sid: str, title: str, order: int) -> Section:
    cat = view.ctx.catalog
    rows = []
    for name in spark_order(view, pic):
        k, st = pic.kpis.get(name), pic.status[name]
        svc = cat.service(name)
        rows.append([
            service_cell(view, name), squad_cell(view, svc.squad), fmt.number(svc.tier), status_cell(st.level, st.word),
            st.why,
            fmt.compact(k.requests) if k else "–", fmt.change(k.change("requests")) if k else "–",
            fmt.ms(k.p95) if k else "–", fmt.pct(k.error_rate, 2) if k else "–",
        ])
    doc = Doc().table(["Service", "Squad", "Tier", "Status", "Why", "Requests (7 d)", "vs last week",
                       "p95", "Errors"], rows, cls="appendix-table")
    return doc.section(sid, title, order, {n: pic.status[n].to_dict() for n in pic.services})


def _clean_json(value: object) -> object:
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, dict):
        return {str(k): _clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean_json(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value
