"""Figures: what `perfops analyze` computed besides the findings, as typed records.

`analyze` computes the figures with the same code, grids and parameters that produce the
findings (perfops.analysis.figures) and stores them keyed by the analysis run
(perfops.store.figures_repo); reports, the dashboard and digests read them and never compute
them again. Each record is one service's figures of one kind (or the domain's, service '');
a `FigureSet` holds every figure of one run.

Kinds (the `kind` column of the `figures` table):

* ``capacity`` — CapacityFigure: peak, capacity, utilisation, headroom, instances needed, the
  forecast of the daily peak with its 90% interval and the saturation date, weekly requests;
* ``cost`` — CostFigure: spend run-rate, the last two weeks' spend, cost per 1,000 requests now
  and before;
* ``experience`` — ExperienceFigure: SLO compliance per SLI and window with the error budget
  left, month by month, Apdex per endpoint, the consumers table;
* ``journey`` — JourneyFigure (service ''): end-to-end latency and availability of a journey;
* ``test`` — TestComparisonFigure: the newest load test of a service held against production;
* ``band`` — SeriesBand: observed values, the seasonal norm and the alarm line of a series
  with a trends finding (the developer report's charts);
* ``rollup`` — RollupFigure: a service's hourly (14 days) and daily (6 weeks) whole-service
  values, behind the week-over-week figures, statuses and trend charts;
* ``inventory`` — InventoryFigure: what telemetry a service had (the maturity measures).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict


class Figure(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# ---- the run ---------------------------------------------------------------------------------
class AnalysisRun(Figure):
    """One `perfops analyze`: the period it analysed and when it ran."""

    id: int
    at: datetime  # when it ran (UTC)
    period_start: datetime
    period_end: datetime  # its --at (naive UTC)
    findings: int

    @property
    def period(self) -> timedelta:
        return self.period_end - self.period_start

    def describe(self) -> str:
        days = self.period / timedelta(days=1)
        span = f"{days:g} days" if days >= 1 else f"{self.period.total_seconds() / 3600:g} hours"
        return (f"analysis run {self.id}: {span} from {self.period_start:%Y-%m-%d %H:%M} "
                f"to {self.period_end:%Y-%m-%d %H:%M} UTC")


# ---- capacity --------------------------------------------------------------------------------
class SaturationFigure(Figure):
    metric: str  # 'traffic' or 'cpu'
    limit: float
    days: float
    days_early: float
    days_late: float | None


class ForecastSeries(Figure):
    """The daily peak so far and its forecast with the 90% interval (the developer chart)."""

    history_times: list[datetime]
    history: list[float | None]
    forecast_times: list[datetime]
    mean: list[float | None]
    lower: list[float | None]
    upper: list[float | None]
    capacity: float | None = None


class CapacityFigure(Figure):
    service: str
    squad: str
    tier: int
    instances: float | None
    instances_source: str | None
    max_tps_per_instance: float | None
    peak_tps: float | None
    mean_tps: float | None
    peak_cpu_pct: float | None
    peak_memory_pct: float | None
    cpu_target_pct: float
    capacity_tps: float | None
    throughput_utilisation_pct: float | None
    headroom_pct: float | None
    instances_needed: int | None  # keeps the forecast peak under the target with the margin
    safety_margin: float
    growth_over_horizon: float
    forecast_peak_tps: float | None
    saturation: SaturationFigure | None
    weekly_requests: list[float | None]  # whole weeks ending at the period's end, oldest first
    forecast: ForecastSeries | None = None


# ---- cost ------------------------------------------------------------------------------------
class CostFigure(Figure):
    service: str
    squad: str
    source: str | None  # 'telemetry' | 'instances' | 'catalog' | None
    monthly_spend: float | None
    monthly_requests: float | None
    last_7_days: float | None
    previous_7_days: float | None
    cost_per_1000_requests: float | None  # median day of the period
    cost_per_1000_requests_before: float | None  # median day of the history
    notes: list[str] = []  # what the spend figures could not cover (billing lag, partly billed days)


# ---- customer experience ----------------------------------------------------------------------
class SloWindowFigure(Figure):
    service: str
    sli: str  # availability | latency
    window_days: float
    objective_pct: float
    good_pct: float | None
    requests: float
    bad: float
    budget_remaining_pct: float | None
    met: bool
    target_ms: float | None
    covered_days: float
    own_window: bool = False


class SloMonthFigure(Figure):
    month: str
    requests: float
    availability_pct: float | None = None
    availability_met: bool | None = None
    latency_pct: float | None = None
    latency_met: bool | None = None


class ApdexFigure(Figure):
    service: str
    endpoint: str
    threshold_ms: float
    apdex: float | None
    rating: str
    requests: float


class ConsumerFigure(Figure):
    service: str
    consumer: str
    requests: float
    share_pct: float | None
    error_rate_pct: float | None
    client_error_rate_pct: float | None
    latency_p95_ms: float | None
    trend_pct: float | None


class ExperienceFigure(Figure):
    service: str
    squad: str
    tier: int
    slo: list[SloWindowFigure] = []
    monthly: list[SloMonthFigure] = []
    apdex: list[ApdexFigure] = []
    consumers: list[ConsumerFigure] = []


class JourneyFigure(Figure):
    name: str
    steps: list[str]
    services: list[str]
    latency_p95_ms: float | None
    recent_latency_ms: float | None
    baseline_latency_ms: float | None
    recent_availability_pct: float | None


# ---- feedback --------------------------------------------------------------------------------
class TestCheckFigure(Figure):
    name: str
    verdict: str
    summary: str
    evidence: dict[str, Any] = {}


class TestComparisonFigure(Figure):
    __test__ = False  # not a pytest class

    run_id: str
    service: str
    environment: str | None
    verdict: str
    test_rps: float | None
    production: dict[str, Any] | None
    baseline_run_id: str | None
    checks: list[TestCheckFigure]
    endpoints: list[dict[str, Any]]  # per endpoint: shares, p95 and error rates, test vs production


# ---- trends ----------------------------------------------------------------------------------
class SeriesBand(Figure):
    """A series with a trends finding over the period: observed, the seasonal norm and the
    alarm line (30-minute means)."""

    service: str
    endpoint: str
    role: str  # latency | errors | traffic | cpu | memory
    times: list[datetime]
    observed: list[float | None]
    norm: list[float | None]
    upper: list[float | None]


# ---- rollups ---------------------------------------------------------------------------------
class RollupFigure(Figure):
    """A service's whole-service values per bucket over one of the windows the reports read
    (perfops.model.health.rollup_windows; perfops.store.telemetry_repo.rollup): the source of the
    week-over-week figures, statuses, trend charts and SLO window totals."""

    service: str
    metrics: list[str]
    start: datetime
    end: datetime
    bucket_seconds: int
    values: dict[str, list[float | None]]  # metric -> value per bucket from `start` (None: no rows)


class InventoryRow(Figure):
    endpoint: str
    metric: str
    rows: int
    first: datetime
    last: datetime


class InventoryFigure(Figure):
    """What telemetry a service had when the run was analysed (the maturity measures, the
    dashboard's endpoint list): per endpoint and metric, its rows and first and last times."""

    service: str
    series: list[InventoryRow]


KINDS: dict[str, type[Figure]] = {
    "capacity": CapacityFigure, "cost": CostFigure, "experience": ExperienceFigure,
    "journey": JourneyFigure, "test": TestComparisonFigure, "band": SeriesBand, "rollup": RollupFigure,
    "inventory": InventoryFigure,
}


@dataclass(frozen=True)
class FigureSet:
    """Every figure of one analysis run, by kind and service."""

    capacity: dict[str, CapacityFigure] = field(default_factory=dict)
    cost: dict[str, CostFigure] = field(default_factory=dict)
    experience: dict[str, ExperienceFigure] = field(default_factory=dict)
    journeys: list[JourneyFigure] = field(default_factory=list)
    tests: dict[str, TestComparisonFigure] = field(default_factory=dict)
    bands: dict[str, list[SeriesBand]] = field(default_factory=dict)
    rollups: list[RollupFigure] = field(default_factory=list)
    inventory: dict[str, InventoryFigure] = field(default_factory=dict)

    def records(self) -> list[tuple[str, str, Figure]]:
        """(kind, service, figure) of every figure, in a stable order (for the store)."""
        out: list[tuple[str, str, Figure]] = []
        out += [("capacity", k, v) for k, v in self.capacity.items()]
        out += [("cost", k, v) for k, v in self.cost.items()]
        out += [("experience", k, v) for k, v in self.experience.items()]
        out += [("journey", "", j) for j in self.journeys]
        out += [("test", k, v) for k, v in self.tests.items()]
        out += [("band", k, b) for k, bands in self.bands.items() for b in bands]
        out += [("rollup", r.service, r) for r in self.rollups]
        out += [("inventory", k, v) for k, v in self.inventory.items()]
        return out

    @classmethod
    def from_records(cls, records: list[tuple[str, str, Figure]]) -> FigureSet:
        out = cls()
        for kind, service, figure in records:
            # the isinstance checks only narrow: KINDS[kind] is the class each kind is read as
            if kind == "journey" and isinstance(figure, JourneyFigure):
                out.journeys.append(figure)
            elif kind == "band" and isinstance(figure, SeriesBand):
                out.bands.setdefault(service, []).append(figure)
            elif kind == "rollup" and isinstance(figure, RollupFigure):
                out.rollups.append(figure)
            else:
                getattr(out, "tests" if kind == "test" else kind)[service] = figure
        return out

    def merged(self, other: FigureSet) -> FigureSet:
        """This set with `other`'s figures added (the parts of a split computation)."""
        return FigureSet.from_records(self.records() + other.records())

