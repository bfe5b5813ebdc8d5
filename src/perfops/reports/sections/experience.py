"""Customer experience in the reports.

* executive: SLO status per service and the error budget left (own window), with the experience
  findings that need action;
* lead: the squad's SLOs with budgets left over 7/28/30 days and month by month, the journeys
  its services sit on, and the consumers who misuse its APIs and how;
* developer: the same SLOs, Apdex per endpoint, and the full consumers table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from perfops.model.figures import ExperienceFigure, JourneyFigure
from perfops.model.findings import SEVERE
from perfops.model.format import compact, ms, pct
from perfops.reports.blocks import Doc, severity_cell, status_cell
from perfops.reports.section import ReportView, Section

ORDER = 130


@dataclass(frozen=True)
class ServiceExperience:
    """A stored ExperienceFigure as the rows the tables read."""

    service: str
    squad: str
    tier: int
    slo: list[dict[str, Any]] = field(default_factory=list)
    monthly: list[dict[str, Any]] = field(default_factory=list)
    apdex: list[dict[str, Any]] = field(default_factory=list)
    consumers: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def of(cls, figure: ExperienceFigure) -> ServiceExperience:
        return cls(figure.service, figure.squad, figure.tier, [r.model_dump() for r in figure.slo],
                   [r.model_dump(exclude_none=True) for r in figure.monthly], [r.model_dump() for r in figure.apdex],
                   [r.model_dump() for r in figure.consumers])


def build(view: ReportView) -> list[Section]:
    services = stored_services(view)
    if view.audience == "executive":
        return [slo_section(view, services, brief=True)]
    journeys = stored_journeys(view)
    sections = [slo_section(view, services, brief=False), journey_section(view, journeys),
                consumer_section(view, services)]
    if view.audience == "developer":
        sections.append(apdex_section(services))
    return sections


def stored_services(view: ReportView) -> list[ServiceExperience]:
    """The stored experience figures of the services in scope (blank for a service without)."""
    stored = view.ctx.figures.experience
    catalog = view.ctx.catalog
    out = []
    for name in view.services_in_scope:
        if name in stored:
            out.append(ServiceExperience.of(stored[name]))
        elif name in catalog.service_by_name:
            svc = catalog.service_by_name[name]
            out.append(ServiceExperience(name, svc.squad, svc.tier))
    return out


def stored_journeys(view: ReportView) -> list[JourneyFigure]:
    """The stored journeys that go through a service in scope."""
    scope = set(view.services_in_scope)
    return [j for j in view.ctx.figures.journeys if scope & set(j.services)]


# ---- SLOs --------------------------------------------------------------------------------------
def _level(row: dict[str, Any]) -> tuple[str, str]:
    if row["requests"] == 0:
        return "grey", "no data"
    left = row["budget_remaining_pct"]
    if not row["met"]:
        return "red", "missed"
    if left is not None and left < 25:
        return "amber", "at risk"
    return "green", "met"


def _own(item: ServiceExperience) -> list[dict[str, Any]]:
    return [r for r in item.slo if r.get("own_window")]


def _objective(row: dict[str, Any]) -> str:
    if row["sli"] == "latency":
        return f"p95 ≤ {row['target_ms']:g} ms for {row['objective_pct']:g}% of traffic"
    return f"{row['objective_pct']:g}% without server errors"


def slo_section(view: ReportView, services: list[ServiceExperience], brief: bool) -> Section:
    doc = Doc()
    with_slo = [s for s in services if s.slo]
    rows = _service_rows(with_slo) if brief else _sli_rows(with_slo)
    missed = sum(1 for item in with_slo for r in _own(item) if not r["met"])
    if not with_slo:
        doc.para("No service in scope has an SLO: add `slo:` to perfops.yaml to measure customer experience.",
                 "empty")
    else:
        doc.para(f"{len(with_slo)} service(s) with SLOs; {missed} objective(s) missed over their window.", "headline")
        headers = (["Service", "Tier", "Availability", "Latency SLI", "Budget left", "Status"] if brief else
                   ["Service", "Tier", "SLI", "Objective", "Actual", "Budget left", "Status"])
        doc.table(headers, rows)
    _burns(doc, view)
    if not brief and with_slo:
        _windows(doc, with_slo)
        _months(doc, with_slo)
    data = [{"service": s.service, "slo": s.slo, "monthly": s.monthly} for s in with_slo]
    return doc.section("experience-slos", "SLOs and error budgets", ORDER, data)


def _sli_rows(services: list[ServiceExperience]) -> list[list[Any]]:
    rows = []
    for item in services:
        for row in _own(item):
            level, word = _level(row)
            rows.append([item.service, f"tier {item.tier}", row["sli"], _objective(row),
                         pct(row["good_pct"], 3), _budget(row["budget_remaining_pct"]), status_cell(level, word)])
    return rows


def _service_rows(services: list[ServiceExperience]) -> list[list[Any]]:
    """One row a service, worst first: what a domain head scans."""
    ranked = []
    for item in services:
        own = {r["sli"]: r for r in _own(item)}
        levels = [_level(r) for r in own.values()]
        worst = min(levels, key=lambda lv: ("red", "amber", "grey", "green").index(lv[0]))
        lefts = [r["budget_remaining_pct"] for r in own.values() if r["budget_remaining_pct"] is not None]
        left = min(lefts) if lefts else None
        cells = [item.service, f"tier {item.tier}",
                 _sli_cell(own.get("availability")), _sli_cell(own.get("latency")), _budget(left),
                 status_cell(*worst)]
        rank = ("red", "amber", "grey", "green").index(worst[0])
        ranked.append(((rank, item.tier, left if left is not None else 1e9), cells))
    return [cells for _, cells in sorted(ranked, key=lambda x: x[0])]


def _sli_cell(row: dict[str, Any] | None) -> str:
    if row is None:
        return "–"
    return f"{pct(row['good_pct'], 3)} / {row['objective_pct']:g}%"


def _budget(value: float | None) -> str:
    if value is None:
        return "–"
    return "overspent" if value < 0 else f"{value:.0f}%"


def _burns(doc: Doc, view: ReportView) -> None:
    scope = set(view.services_in_scope)
    loud = [f for f in view.active if f.kind in ("slo_breach", "error_budget_burn") and f.service in scope
            and f.severity in SEVERE]
    if loud:
        doc.heading("Needs action")
        doc.table(["Severity", "Service", "What", "What to do"],
                  [[severity_cell(f.severity), f.service, f.detail or f.title, f.recommendation] for f in loud])


def _windows(doc: Doc, services: list[ServiceExperience]) -> None:
    doc.heading("Over 7, 28 and 30 days")
    rows = []
    for item in services:
        by_sli: dict[str, dict[float, dict[str, Any]]] = {}
        for row in item.slo:
            by_sli.setdefault(row["sli"], {})[row["window_days"]] = row
        for sli, windows in by_sli.items():
            cells = [f"{pct(w['good_pct'], 3)} (budget: {_budget(w['budget_remaining_pct'])} left)"
                     if (w["budget_remaining_pct"] or 0) >= 0 else f"{pct(w['good_pct'], 3)} (budget overspent)"
                     if w["requests"] else "no data" for _, w in sorted(windows.items())]
            rows.append([item.service, sli, *cells])
    days = sorted({r["window_days"] for s in services for r in s.slo})
    doc.table(["Service", "SLI", *[f"{d:g} days" for d in days]], rows)


def _months(doc: Doc, services: list[ServiceExperience]) -> None:
    doc.heading("Month by month")
    rows = []
    for item in services:
        for month in item.monthly:
            rows.append([item.service, month["month"], compact(month["requests"]),
                         _month_cell(month, "availability"), _month_cell(month, "latency")])
    doc.table(["Service", "Month", "Requests", "Availability", "Latency SLI"], rows, empty="No monthly data yet.")


def _month_cell(month: dict[str, Any], sli: str) -> Any:
    value = month.get(f"{sli}_pct")
    if value is None:
        return "–"
    met = month.get(f"{sli}_met")
    return status_cell("green" if met else "red", f"{value:.3f}%")


# ---- journeys ------------------------------------------------------------------------------------
def journey_section(view: ReportView, journeys: list[JourneyFigure]) -> Section:
    doc = Doc()
    scope = set(view.services_in_scope)
    if not journeys:
        doc.para("No catalog journey goes through these services.", "empty")
    else:
        rows = []
        for j in journeys:
            mine = ", ".join(s for s in j.steps if s.split(":", 1)[0] in scope)
            rows.append([j.name, " → ".join(j.steps), mine, ms(j.recent_latency_ms), ms(j.baseline_latency_ms),
                         ms(j.latency_p95_ms), pct(j.recent_availability_pct, 3)])
        doc.table(["Journey", "Steps", "Your steps", "End-to-end p95 (now)", "Before", "Target", "Availability"],
                  rows)
        doc.note("End-to-end latency is the sum of the steps' p95 (an upper bound); availability the product "
                 "of the steps' success ratios.")
    found = [f for f in view.active if f.kind == "journey_degradation"
             and (f.service in scope or set(f.evidence.get("steps", [])) & {s for j in journeys for s in j.steps})]
    if found:
        doc.table(["Severity", "Journey", "Responsible step", "What"],
                  [[severity_cell(f.severity), f.evidence.get("journey", ""), f.evidence.get("step", f.service),
                    f.detail] for f in found])
    data = [{"journey": j.name, "steps": j.steps, "recent_latency_ms": j.recent_latency_ms,
             "baseline_latency_ms": j.baseline_latency_ms, "target_ms": j.latency_p95_ms,
             "availability_pct": j.recent_availability_pct} for j in journeys]
    return doc.section("experience-journeys", "Customer journeys", ORDER + 1, data)


# ---- consumers -----------------------------------------------------------------------------------
def consumer_section(view: ReportView, services: list[ServiceExperience]) -> Section:
    doc = Doc()
    scope = set(view.services_in_scope)
    misuse = [f for f in view.active if f.kind == "consumer_misuse" and f.service in scope]
    if misuse:
        doc.para(f"{len(misuse)} way(s) consumers misuse these APIs; take them to the consumer's owner.", "headline")
        doc.table(["Severity", "Consumer", "Service", "What it does wrong", "What to ask"],
                  [[severity_cell(f.severity), f.consumer or "unknown", f.service, f.detail, f.recommendation]
                   for f in misuse])
    else:
        doc.para("No consumer misuses these APIs in the period.", "empty")
    rows = []
    limit = None if view.audience == "developer" else 10
    for item in services:
        for c in item.consumers[:limit]:
            rows.append([item.service, c["consumer"], compact(c["requests"]), pct(c["share_pct"]),
                         pct(c["error_rate_pct"], 2), pct(c["client_error_rate_pct"], 2),
                         ms(c["latency_p95_ms"]), _trend(c["trend_pct"])])
    doc.heading("Who calls us")
    doc.table(["Service", "Consumer", "Requests", "Share", "5xx", "4xx", "p95", "Trend vs before"], rows,
              empty="No per-consumer telemetry (ingest access logs or label metrics with a consumer).")
    data = {"misuse": [f.to_record() for f in misuse],
            "consumers": [c for item in services for c in item.consumers]}
    return doc.section("experience-consumers", "Consumers", ORDER + 2, data)


def _trend(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{'+' if value >= 0 else ''}{value:.0f}%"


# ---- Apdex ---------------------------------------------------------------------------------------
def apdex_section(services: list[ServiceExperience]) -> Section:
    doc = Doc()
    rows = [[r["service"], r["endpoint"] or "(whole service)", f"{r['threshold_ms']:g} ms",
             "–" if r["apdex"] is None else f"{r['apdex']:.2f}", r["rating"], compact(r["requests"])]
            for item in services for r in item.apdex]
    doc.table(["Service", "Endpoint", "T", "Apdex", "Rating", "Requests"], rows,
              empty="No latency telemetry in the period.")
    doc.note("Apdex is approximated from each interval's percentiles (see docs/methods/experience.md).")
    data = [r for item in services for r in item.apdex]
    return doc.section("experience-apdex", "Apdex per endpoint", ORDER + 3, data)
