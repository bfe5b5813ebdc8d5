"""A Report as one self-contained HTML page: inline CSS, inline SVG charts, no script, no CDN,
printable (the appendix starts on a new page). Jinja2 with autoescaping; section fragments are
trusted Markup built by the sections with autoescaping (perfops.reports.blocks)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from perfops.model import format as fmt
from perfops.reports.compose import Report
from perfops.reports.section import Section

# The executive printout is the answer: these sections; the rest (trends, volume, spend, maturity,
# SLO tables, every service) stays in the HTML, below them. Two A4 pages for a domain like the demo.
EXECUTIVE_PRINT = frozenset({"domain-status", "movement", "out-of-ordinary", "trends-propagated", "capacity-saturation",
                             "cost-savings"})


def render_html(report: Report) -> str:
    from perfops.reports.templating import environment

    env = environment()
    return env.get_template("report.html.j2").render(**page_values(linked(report)))


def linked(report: Report) -> Report:
    """The report with its finding ids linked to their evidence (perfops.reports.links)."""
    from perfops.reports.links import link_finding_ids

    def one(s: Section) -> Section:
        return replace(s, html=link_finding_ids(s.html, report.view))

    return replace(report, main=[one(s) for s in report.main], appendix=[one(s) for s in report.appendix])


def page_values(report: Report) -> dict[str, Any]:
    view = report.view
    tz = view.ctx.catalog.timezone
    return {
        "report": report,
        "catalog": view.ctx.catalog,
        "period_text": (f"{fmt.local_time(view.ctx.period_start, tz, False)} – {fmt.local_time(view.ctx.now, tz)} "
                        f"(analysis run {view.ctx.run.id})"),
        "generated_text": fmt.local_time(report.generated_at, tz),
        "print_keep": EXECUTIVE_PRINT if report.audience == "executive" else None,
        "status": report_status(report),
    }


def report_status(report: Report) -> Any:
    """The status of what the report covers: the worst of its services' (the domain, a squad or
    one service); written into the page's head, where the index reads it (reports/index_status.py)."""
    from perfops.model import health
    from perfops.reports.picture import build_picture

    return health.worst(build_picture(report.view).status.items())
