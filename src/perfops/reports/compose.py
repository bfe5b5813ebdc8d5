"""Audiences -> sections in order: discovers the section modules and assembles a Report.

Each module `perfops.reports.sections.<name>` defines `build(view) -> list[Section]` (see
`perfops.reports.section`). Modules are discovered with pkgutil, like the ingest registry, so a
new area adds one module and nothing else. A module that raises does not kill the report: its
place shows an error box naming the section, and the error is logged.

Order convention (Section.order): 0-99 the at-a-glance page (overview, maturity), 100-499 the
area sections, 500+ the appendix (printed from a new page). A section whose id repeats one
already given by another module replaces a *fallback* section of the overview (ids in
FALLBACKS), so an area can supply its own capacity outlook or savings summary.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from markupsafe import Markup, escape

from perfops.reports.blocks import md_escape
from perfops.reports.section import ReportView, Section

log = logging.getLogger("perfops.reports")

APPENDIX_FROM = 500
# the overview's fallback summaries, dropped when the area module gives its own sections
FALLBACKS = {"capacity-outlook": "capacity", "top-savings": "cost", "slo-budgets": "experience",
             "journeys": "experience", "consumers": "experience"}
FALLBACK_IDS = frozenset(FALLBACKS)
Builder = Callable[[ReportView], list[Section]]


@dataclass(frozen=True)
class Report:
    title: str
    audience: str
    scope: str  # "domain", a squad or a service
    generated_at: datetime
    view: ReportView
    main: list[Section]
    appendix: list[Section]
    errors: list[str] = field(default_factory=list)

    @property
    def sections(self) -> list[Section]:
        return [*self.main, *self.appendix]


def section_builders() -> dict[str, Builder]:
    """Every section module's build function, by module name (sorted: stable output)."""
    import perfops.reports.sections as package

    found: dict[str, Builder] = {}
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        try:
            module = importlib.import_module(f"{package.__name__}.{info.name}")
        except Exception as exc:  # a broken module must not kill every report
            log.exception("report section module %s failed to import", info.name)
            found[info.name] = _failing(exc)
            continue
        build = getattr(module, "build", None)
        if callable(build):
            found[info.name] = build
    return found


def _failing(exc: Exception) -> Builder:
    def build(_view: ReportView) -> list[Section]:
        raise exc

    return build


def compose(view: ReportView, builders: dict[str, Builder] | None = None) -> Report:
    """Run every section builder for the view and order the result."""
    builders = section_builders() if builders is None else builders
    sections: list[tuple[int, str, Section]] = []
    errors: list[str] = []
    for name, build in builders.items():
        try:
            built = list(build(view))
        except Exception as exc:
            log.exception("report section %s failed for %s report", name, view.audience)
            errors.append(f"{name}: {type(exc).__name__}: {exc}")
            built = [error_section(name, exc)]
        sections.extend((s.order, name, s) for s in built)
    chosen = _drop_replaced_fallbacks(sections)
    chosen.sort(key=lambda item: (item[0], item[1]))
    ordered = [s for _, _, s in chosen]
    return Report(
        title=report_title(view), audience=view.audience, scope=_scope(view),
        generated_at=view.generated_at or view.ctx.now, view=view,
        main=[s for s in ordered if s.order < APPENDIX_FROM],
        appendix=[s for s in ordered if s.order >= APPENDIX_FROM], errors=errors,
    )


def _drop_replaced_fallbacks(sections: list[tuple[int, str, Section]]) -> list[tuple[int, str, Section]]:
    """Drop an overview fallback when its area module (or any module with the same id) spoke."""
    ids: dict[str, set[str]] = {}
    modules = set()
    for _, name, s in sections:
        ids.setdefault(s.id, set()).add(name)
        if not s.id.startswith("error-"):
            modules.add(name)
    return [
        item for item in sections
        if not (item[1] == "overview" and item[2].id in FALLBACKS
                and (FALLBACKS[item[2].id] in modules or len(ids[item[2].id]) > 1))
    ]


def error_section(name: str, exc: BaseException) -> Section:
    """The box shown where a section failed: names it, says the rest of the report is sound."""
    message = f"{type(exc).__name__}: {exc}"
    html = Markup(
        '<div class="error-box" role="alert"><strong>The “{}” section could not be built.</strong> '
        "The rest of this report is complete. Error: <code>{}</code></div>"
    ).format(name, message)
    md = (f"> **The “{md_escape(name)}” section could not be built.** The rest of this report is complete. "
          f"Error: {md_escape(message)}")  # the message may quote data (a name, a file line)
    return Section(id=f"error-{name}", title=f"{name} (error)", order=450, html=str(html), markdown=md,
                   data={"error": message, "section": name})


def report_title(view: ReportView) -> str:
    domain = view.ctx.catalog.domain
    if view.audience == "executive":
        return f"{domain}: domain performance report"
    if view.audience == "lead":
        return f"{domain} / squad {view.squad}: squad lead report"
    return f"{domain} / {view.service}: developer report"


def _scope(view: ReportView) -> str:
    return view.service or view.squad or "domain"


def escape_text(text: str) -> Markup:
    return escape(text)
