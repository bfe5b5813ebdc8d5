"""Links between the reports and to the dashboard: a finding id shown anywhere leads to the
finding's evidence (its details block, id="F-…", in the developer report of its service) and,
when perfops.yaml names a `dashboard_url`, to the finding's page in `perfops serve`.

Applied to the rendered sections (render_html.py): every `<span class="f-id">` the sections
write (perfops.reports.overview_domain, incidents_view) holds only finding ids, which are
`F-` and hex, so linking them cannot let data into the page.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from markupsafe import Markup, escape

from perfops.model.findings import Finding
from perfops.reports.blocks import Cell
from perfops.reports.paths import report_href
from perfops.reports.section import ReportView

_ID_SPAN = re.compile(r'<span class="f-id">([^<]*)</span>')
_ID = re.compile(r"F-[0-9a-f]{10}")


def has_details(f: Finding) -> bool:
    """The developer report shows the details of the service's open and acknowledged findings."""
    return f.status != "resolved"


def finding_href(view: ReportView, f: Finding) -> str:
    """From the report of `view` to the finding's details block."""
    if view.audience == "developer" and view.service == f.service:
        return f"#{f.id}"
    return f"{report_href(view.audience, 'developer', f.service)}#{f.id}"


def dashboard_href(base: str, finding_id: str) -> str:
    return f"{base.rstrip('/')}/findings/{quote(finding_id)}"


def _link(view: ReportView, fid: str) -> Markup:
    f = view.finding_index.get(fid) or next((x for x in view.findings if x.id == fid), None)
    base = view.ctx.catalog.dashboard_url
    if f is None or not has_details(f):
        # no details block to point at (resolved, or not stored): the dashboard, else plain text
        return Markup('<a href="{}">{}</a>').format(dashboard_href(base, fid), fid) if base else escape(fid)
    html = Markup('<a href="{}">{}</a>').format(finding_href(view, f), fid)
    if base:
        html += Markup(' <a class="f-dash" href="{}" title="open in the dashboard">↗</a>').format(dashboard_href(base, fid))
    return html


def link_finding_ids(html: str, view: ReportView) -> str:
    """`html` with every finding id in an f-id span turned into links."""

    def one_span(m: re.Match[str]) -> str:
        inner = _ID.sub(lambda i: str(_link(view, i.group(0))), m.group(1))
        return f'<span class="f-id">{inner}</span>'

    return _ID_SPAN.sub(one_span, html)


def squad_cell(view: ReportView, squad: str) -> Cell:
    """A squad's name linking to its lead report."""
    if squad not in view.ctx.catalog.squad_by_name:
        return Cell(text=squad)
    return Cell(text=squad, html=Markup('<a href="{}">{}</a>').format(report_href(view.audience, "lead", squad), squad))


def service_cell(view: ReportView, service: str) -> Cell:
    """A service's name linking to its developer report."""
    if service not in view.ctx.catalog.service_by_name:
        return Cell(text=service)
    return Cell(text=service, html=Markup('<a href="{}">{}</a>').format(
        report_href(view.audience, "developer", service), service))


def squads_cell(view: ReportView, squads: list[str]) -> Cell:
    """Several squads, each linking to its lead report, comma separated."""
    cells = [squad_cell(view, s) for s in squads]
    html = Markup(", ").join(c.html if c.html is not None else escape(c.text) for c in cells)
    return Cell(text=", ".join(squads), html=html)
