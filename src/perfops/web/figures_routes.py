"""The dashboard's views of the stored figures: SLOs and error budgets, capacity and runway, cost
and savings, squad maturity, load tests against production. Each has a page and a JSON endpoint
whose response model (below) documents it in the OpenAPI schema.

The figures are the records `perfops analyze` stored for the run the dashboard shows
(perfops.model.figures, read with the snapshot); the domain totals are the reports' own
(perfops.reports.sections.cost.domain_totals, perfops.reports.maturity.assess), so a page and a
report of the same run give the same numbers. Nothing here computes an analysis.

Each view is built once per snapshot (DashboardData.cached_page: concurrent first requests wait
for the one build) and read ahead by the snapshot's warm-up; a JSON answer is cached as its
bytes. The per-service lists are paged (web/paging.py: ?limit=, ?offset=, worst first).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import FastAPI, Response
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel

from perfops.errors import PerfopsError
from perfops.model import format as fmt
from perfops.model.figures import (
    AnalysisRun,
    CapacityFigure,
    CostFigure,
    ExperienceFigure,
    JourneyFigure,
    TestComparisonFigure,
)
from perfops.web import pages
from perfops.web.data import DashboardData, Snapshot
from perfops.web.paging import LIMIT, OFFSET, Paging, Window, window


# ---- response models ---------------------------------------------------------------------------
class RunView(BaseModel):
    run: AnalysisRun
    description: str


class SloView(Paging):
    run: AnalysisRun
    services: list[ExperienceFigure]  # SLO compliance per SLI and window, budget left, monthly, Apdex, consumers;
    # services missing an objective first, then the least error budget left
    journeys: list[JourneyFigure]


class CapacityView(Paging):
    run: AnalysisRun
    services: list[CapacityFigure]  # soonest to run out first


class Saving(BaseModel):
    finding_id: str
    service: str
    squad: str
    title: str
    monthly_savings: float | None
    recommendation: str


class CostView(Paging):
    run: AnalysisRun
    currency: str
    monthly_spend: float | None
    last_7_days: float | None
    previous_7_days: float | None
    cost_per_1000_requests: float | None
    services: list[CostFigure]  # largest spend first
    total_monthly_savings: float
    savings: list[Saving]


class MaturityMeasure(BaseModel):
    label: str
    have: float | None
    of: float | None
    missing: list[str]


class MaturityCard(BaseModel):
    squad: str
    level: int
    name: str
    visibility: str
    raise_by: list[str]
    measures: dict[str, MaturityMeasure]


class MaturityView(BaseModel):
    run: AnalysisRun
    squads: list[MaturityCard]


class TestsView(Paging):
    __test__ = False  # not a pytest class

    run: AnalysisRun
    services: list[TestComparisonFigure]


# ---- the views -------------------------------------------------------------------------------
def _services(snap: Snapshot, squad: str | None) -> list[str]:
    if squad is not None and squad not in snap.catalog.squad_by_name:
        raise PerfopsError(f"squad '{squad}' is unknown; expected one of {', '.join(snap.catalog.squad_by_name)}")
    return [s.name for s in snap.catalog.services if squad is None or s.squad == squad]


def run_view(snap: Snapshot) -> RunView:
    run = snap.view.ctx.run
    return RunView(run=run, description=run.describe())


def _whole(count: int) -> dict[str, Any]:
    """The paging keys of a whole view (`paged` cuts it)."""
    return {"total": count, "offset": 0, "limit": count, "next": None}


def _worst_slo(figure: ExperienceFigure) -> tuple[int, float, str]:
    """Services missing an objective first, then the least error budget left (none known last)."""
    budgets = [r.budget_remaining_pct for r in figure.slo if r.budget_remaining_pct is not None]
    return (0 if any(not r.met for r in figure.slo) else 1, min(budgets, default=float("inf")), figure.service)


def slo_view(snap: Snapshot, squad: str | None = None) -> SloView:
    stored = snap.view.ctx.figures
    names = _services(snap, squad)
    found = sorted((stored.experience[n] for n in names if n in stored.experience and stored.experience[n].slo),
                   key=_worst_slo)
    return SloView(run=snap.view.ctx.run, services=found, **_whole(len(found)),
                   journeys=[j for j in stored.journeys if set(j.services) & set(names)])


def capacity_view(snap: Snapshot, squad: str | None = None, forecast: bool = False) -> CapacityView:
    """`forecast`: with the forecast series of each service (the chart data; large)."""
    stored = snap.view.ctx.figures.capacity
    found = [stored[n] if forecast else stored[n].model_copy(update={"forecast": None})
             for n in _services(snap, squad) if n in stored]
    found.sort(key=lambda f: (f.saturation.days if f.saturation else float("inf"), f.service))
    return CapacityView(run=snap.view.ctx.run, services=found, **_whole(len(found)))


def cost_view(snap: Snapshot, squad: str | None = None) -> CostView:
    from perfops.reports.sections.cost import domain_totals, ranked_by_spend

    stored = snap.view.ctx.figures.cost
    names = _services(snap, squad)
    costs = [stored[n] for n in names if n in stored]
    totals: dict[str, Any] = domain_totals(costs)
    scope = set(names)
    found = [f for f in snap.view.active if f.kind == "savings_opportunity" and f.service in scope]
    savings = sorted((Saving(finding_id=f.id, service=f.service, squad=f.squad, title=f.title,
                             monthly_savings=_float((f.impact or {}).get("monthly_savings")),
                             recommendation=f.recommendation) for f in found),
                     key=lambda s: (-(s.monthly_savings or 0.0), s.service))
    ranked = ranked_by_spend(costs)
    return CostView(run=snap.view.ctx.run, currency=snap.catalog.currency, **totals,
                    services=ranked, **_whole(len(ranked)),
                    total_monthly_savings=sum(s.monthly_savings or 0.0 for s in savings), savings=savings)


def maturity_view(snap: Snapshot, squad: str | None = None) -> MaturityView:
    from perfops.reports.maturity import assess

    _services(snap, squad)
    view = snap.view
    every = list(view.finding_index.values()) or view.findings
    squads = [squad] if squad else [s.name for s in snap.catalog.squads]
    cards = [assess(snap.catalog, sq, view.inventory, view.ctx.test_runs, every, view.history, view.now).to_dict()
             for sq in squads]
    return MaturityView(run=view.ctx.run, squads=[MaturityCard.model_validate(c) for c in cards])


def tests_view(snap: Snapshot, squad: str | None = None) -> TestsView:
    stored = snap.view.ctx.figures.tests
    found = [stored[n] for n in _services(snap, squad) if n in stored]
    return TestsView(run=snap.view.ctx.run, services=found, **_whole(len(found)))


PagedView = TypeVar("PagedView", SloView, CapacityView, CostView, TestsView)


def paged(view: PagedView, page: Window, path: str, params: dict[str, str | None] | None = None) -> PagedView:
    """`view` with only the services of `page`, and the paging keys that say so."""
    keys = page.paging(path, len(view.services), params).model_dump()
    return view.model_copy(update={"services": page.cut(view.services), **keys})


def _float(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


# ---- pages -------------------------------------------------------------------------------------
def _table(headers: list[str], rows: list[list[Any]], empty: str, title: str = "", note: str = "",
           link: str = "", paging: Paging | None = None) -> dict[str, Any]:
    """`paging`: the table is one page of services; the page says which and links the next."""
    shown = Window(paging.offset, paging.limit).shown(paging.total) if paging else ""
    return {"title": title, "headers": headers, "rows": [[_text(c) for c in r] for r in rows], "empty": empty,
            "note": note, "link": link, "shown": shown, "next": paging.next if paging else None,
            "limit": paging.limit if paging else None}


def _text(value: Any) -> str:
    return "–" if value is None else str(value)


def _page(snap: Snapshot, title: str, api: str, tables: list[dict[str, Any]], lines: list[str] | None = None) -> str:
    return pages.render("figures.html.j2", **pages.base_values(snap), title=title, api=pages.keep_view(api),
                        lines=lines or [], tables=tables)


def _budget(value: float | None) -> str:
    return "–" if value is None else ("overspent" if value < 0 else f"{value:.0f}%")


def slo_page(snap: Snapshot, v: SloView) -> str:
    rows = [[s.service, s.squad, r.sli, f"{r.window_days:g} d" + (" (own)" if r.own_window else ""),
             f"{r.objective_pct:g}%", fmt.pct(r.good_pct, 3), _budget(r.budget_remaining_pct),
             "met" if r.met else "missed"] for s in v.services for r in s.slo]
    journeys = [[j.name, " → ".join(j.steps), fmt.ms(j.recent_latency_ms), fmt.ms(j.baseline_latency_ms),
                 fmt.ms(j.latency_p95_ms), fmt.pct(j.recent_availability_pct, 3)] for j in v.journeys]
    return _page(snap, "SLOs and error budgets", "/api/figures/slo", [
        _table(["Service", "Squad", "SLI", "Window", "Objective", "Actual", "Budget left", "Status"], rows,
               "No service has an SLO: add slo: to perfops.yaml.", link="/services/", paging=v),
        _table(["Journey", "Steps", "End-to-end p95 (now)", "Before", "Target", "Availability"], journeys,
               "No catalog journey.", title="Customer journeys")])


def capacity_page(snap: Snapshot, v: CapacityView) -> str:
    rows = [[c.service, c.squad, fmt.number(c.instances), fmt.number(c.peak_tps, 1), fmt.number(c.capacity_tps, 0),
             fmt.pct(c.throughput_utilisation_pct, 0), fmt.pct(c.peak_cpu_pct, 0), fmt.pct(c.headroom_pct, 0),
             fmt.number(c.instances_needed) if c.instances_needed else "–",
             f"{fmt.number(c.saturation.days, 0)} days ({fmt.number(c.saturation.days_early, 0)}–"
             f"{fmt.number(c.saturation.days_late, 0) if c.saturation.days_late is not None else 'beyond'})"
             if c.saturation else "not within horizon"] for c in v.services]
    return _page(snap, "Capacity and runway", "/api/figures/capacity", [
        _table(["Service", "Squad", "Instances", "Peak req/s", "Capacity req/s", "Throughput used", "Peak CPU",
                "Headroom", "Instances needed", "Runs out in (90% interval)"], rows, "No capacity figures.",
               note="Peak = 99th percentile of 5-minute values over the last 7 days; the runway is the "
                    "forecast daily peak crossing capacity or the CPU target.", link="/services/", paging=v)])


def cost_page(snap: Snapshot, v: CostView) -> str:
    cur = v.currency
    lines = ([f"The domain spends {fmt.money(v.monthly_spend, cur, 'month')} at the current rate "
              f"({fmt.money(v.last_7_days, cur)} in the last 7 days); {fmt.money(v.total_monthly_savings, cur, 'month')} "
              f"can be saved across {len(v.savings)} change(s)."] if v.monthly_spend is not None else
             ["No cost data: add cost telemetry, or cost: instance_hourly to the services in perfops.yaml."])
    rows = [[c.service, c.squad, fmt.money(c.monthly_spend, cur, "month"), fmt.money(c.cost_per_1000_requests, cur),
             fmt.money(c.cost_per_1000_requests_before, cur), c.source] for c in v.services]
    savings = [[s.service, s.squad, s.title, fmt.money(s.monthly_savings, cur, "month"), s.recommendation]
               for s in v.savings]
    return _page(snap, "Cost and savings", "/api/figures/cost", [
        _table(["Service", "Squad", "Spend a month", "Per 1,000 requests", "Before", "Source"], rows,
               "No service with cost data.", link="/services/", paging=v),
        _table(["Service", "Squad", "What", "Saves", "How"], savings, "No savings opportunity.", title="Savings",
               link="/services/")], lines)


def maturity_page(snap: Snapshot, v: MaturityView) -> str:
    rows = [[c.squad, f"{c.level} {c.name}",
             *[_fraction(c.measures[k]) for k in ("telemetry", "endpoints", "slo", "nfr", "cost", "tests")
               if k in c.measures], "; ".join(c.raise_by) or "top level reached"] for c in v.squads]
    return _page(snap, "Squad maturity", "/api/figures/maturity", [
        _table(["Squad", "Level", "Telemetry", "Per endpoint", "SLOs", "NFRs", "Cost data", "Tested (30 d)",
                "To reach the next level"], rows, "No squads.", link="/squads/")])


def _fraction(m: MaturityMeasure) -> str:
    return "–" if m.have is None else f"{int(m.have)}/{int(m.of or 0)}"


def tests_page(snap: Snapshot, v: TestsView) -> str:
    tables = []
    for t in v.services:
        checks = [[c.name, c.verdict, c.summary] for c in t.checks]
        tables.append(_table(["Check", "Verdict", "What was seen"], checks, "No checks.",
                             title=f"{t.service}: run {t.run_id} ({t.verdict})"))
    if not tables:
        tables.append(_table([], [], "No load-test runs in the store."))
    elif v.next or v.offset:
        tables[-1].update({"shown": Window(v.offset, v.limit).shown(v.total), "next": v.next, "limit": v.limit})
    return _page(snap, "Load tests against production", "/api/figures/tests", tables)


# ---- routes ------------------------------------------------------------------------------------
VIEWS: dict[str, Callable[..., Any]] = {"run": run_view, "slo": slo_view, "capacity": capacity_view, "cost": cost_view,
                                        "maturity": maturity_view, "tests": tests_view}
PAGES: dict[str, Callable[[Snapshot, Any], str]] = {"slo": slo_page, "capacity": capacity_page, "cost": cost_page,
                                                    "maturity": maturity_page, "tests": tests_page}
PAGED = ("slo", "capacity", "cost", "tests")


def whole_view(data: DashboardData, snap: Snapshot, name: str, squad: str | None = None, **options: Any) -> Any:
    """The view `name` of `snap` (every service), built once per snapshot."""
    key = f"figures-view:{name}:{squad}:{sorted(options.items())}"
    return data.cached_page(snap, key, lambda: VIEWS[name](snap, squad, **options) if name != "run"
                            else run_view(snap))


def view_json(data: DashboardData, snap: Snapshot, name: str, page: Window, squad: str | None = None,
              **options: Any) -> bytes:
    """The JSON of a view's page, serialised once per snapshot (as FastAPI would: JSONResponse)."""
    def build() -> bytes:
        view = whole_view(data, snap, name, squad, **options)
        if name in PAGED:
            params = {"squad": squad, **{k: str(v).lower() for k, v in options.items() if v}}
            view = paged(view, page, f"/api/figures/{name}", params)
            if view.next:  # the next page of the same run and range
                view = view.model_copy(update={"next": pages.keep_view(view.next)})
        return bytes(JSONResponse(view.model_dump(mode="json", by_alias=True)).body)

    return data.cached_page(snap, f"figures-json:{name}:{squad}:{sorted(options.items())}:{page.key()}", build)


def view_html(data: DashboardData, snap: Snapshot, name: str, page: Window) -> str:
    """The page of a view, rendered once per snapshot and page."""
    def build() -> str:
        view = whole_view(data, snap, name)
        return PAGES[name](snap, paged(view, page, f"/{name}") if name in PAGED else view)

    return data.cached_page(snap, f"figures:/{name}:{page.key()}", build)


def warm_views(data: DashboardData, snap: Snapshot) -> None:
    """Every view's first page and JSON as asked without parameters (the snapshot's warm-up)."""
    for name in VIEWS:
        view_json(data, snap, name, Window())
        if name in PAGES:
            view_html(data, snap, name, Window())


def figure_routes(app: FastAPI, data: DashboardData) -> None:
    """Register the JSON endpoints and pages of the stored figures."""
    data.warmers.append(lambda snap: warm_views(data, snap))

    def answer(name: str, page: Window, squad: str | None = None, **options: Any) -> Response:
        """The view's JSON, built once per snapshot, with the freshness headers."""
        snap = data.snapshot()
        body = view_json(data, snap, name, page, squad, **options)
        return Response(body, media_type="application/json", headers=data.freshness(snap).headers())

    @app.get("/api/figures/run", tags=["figures"], response_model=RunView,
             summary="The stored analysis run the dashboard shows: its id and period")
    def api_run() -> Response:
        return answer("run", Window())

    @app.get("/api/figures/slo", tags=["figures"], response_model=SloView,
             summary="SLO compliance and error budget left per SLI and window, month by month; journeys. "
                     "Paged: services missing an objective first, then the least budget left")
    def api_slo(squad: str | None = None, limit: int | None = LIMIT, offset: int | None = OFFSET) -> Response:
        return answer("slo", window(limit, offset), squad)

    @app.get("/api/figures/capacity", tags=["figures"], response_model=CapacityView,
             summary="Capacity, headroom, instances needed and the runway (days to saturation with its "
                     "interval); forecast=true adds each service's forecast series. Paged: soonest to run out first")
    def api_capacity(squad: str | None = None, forecast: bool = False, limit: int | None = LIMIT,
                     offset: int | None = OFFSET) -> Response:
        return answer("capacity", window(limit, offset), squad, forecast=forecast)

    @app.get("/api/figures/cost", tags=["figures"], response_model=CostView,
             summary="Spend, cost per 1,000 requests and the savings found. Paged: largest spend first")
    def api_cost(squad: str | None = None, limit: int | None = LIMIT, offset: int | None = OFFSET) -> Response:
        return answer("cost", window(limit, offset), squad)

    @app.get("/api/figures/maturity", tags=["figures"], response_model=MaturityView,
             summary="Squad maturity 0-4 with the measures behind it and what would raise it")
    def api_maturity(squad: str | None = None) -> Response:
        return answer("maturity", Window(), squad)

    @app.get("/api/figures/tests", tags=["figures"], response_model=TestsView,
             summary="The newest load test of each service held against production. Paged: catalog order")
    def api_tests(squad: str | None = None, limit: int | None = LIMIT, offset: int | None = OFFSET) -> Response:
        return answer("tests", window(limit, offset), squad)

    for name in PAGES:
        app.add_api_route(f"/{name}", _page_route(data, name), methods=["GET"], response_class=HTMLResponse,
                          include_in_schema=False)


def _page_route(data: DashboardData, name: str) -> Callable[..., HTMLResponse]:
    from perfops.web.freshness import with_note

    def page(limit: int | None = LIMIT, offset: int | None = OFFSET) -> HTMLResponse:
        snap = data.snapshot()
        html = view_html(data, snap, name, window(limit, offset) if name in PAGED else Window())
        freshness = data.freshness(snap)
        return HTMLResponse(with_note(html, freshness, snap.catalog.timezone), headers=freshness.headers())

    return page
