"""A Report as Markdown: the same sections, charts given as their figures in words. All data text
is escaped (perfops.reports.blocks.md_escape), so names cannot inject HTML or links."""

from __future__ import annotations

from perfops.model import format as fmt
from perfops.reports.blocks import md_escape
from perfops.reports.compose import Report


def render_markdown(report: Report) -> str:
    view = report.view
    tz = view.ctx.catalog.timezone
    lines = [
        f"# {md_escape(report.title)}",
        "",
        f"_Period: {fmt.local_time(view.ctx.period_start, tz, False)} – {fmt.local_time(view.ctx.now, tz)} "
        f"(analysis run {view.ctx.run.id}); "
        f"generated {fmt.local_time(report.generated_at, tz)}; times in {md_escape(tz)}._",
        "",
    ]
    for s in report.main:
        lines += [f"## {md_escape(s.title)}", "", s.markdown, ""]
    if report.appendix:
        lines += ["---", "", "# Appendix", ""]
        for s in report.appendix:
            lines += [f"## {md_escape(s.title)}", "", s.markdown, ""]
    return "\n".join(lines).rstrip() + "\n"
