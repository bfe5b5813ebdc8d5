"""What an analysis sees: the catalog, the period, and loaders injected by the use case.

Analyses never open the store or read the clock: the use case builds an AnalysisContext whose
loaders read the store (or, in tests, return frames built in memory), and passes `now`.

Two ways to read telemetry:

* `telemetry(services, metrics, start, end)`: every row of those series (all endpoints, all
  consumers), ordered by series then time;
* `telemetry_rows(..., endpoint=, consumers=)`: the same rows restricted to one endpoint
  (`''` = the whole-service rows) and/or to the rows for all consumers (`consumers=False`) or
  per consumer (`True`). A loader that can filter at the source says so with a true
  `filters_rows` attribute and takes `endpoint=` and `consumers=` keywords (the store's, the
  cluster's Parquet loader); any other loader is read whole and filtered here, with the same
  result. Analyses that need only whole-service rows read ten times fewer rows this way.

`params` holds per-area overrides (by area name); every area reads its own through
`area_params(ctx, area, Params)`, the one way: a frozen dataclass of defaults, overridden by
name, an unknown name an error that names it.

`memo` is a scratch dict for one analysis run: areas that share an expensive intermediate
(capacity and cost share the capacity model of each chunk of services) keep it there, keyed by
everything it depends on. It is not an init field, so `dataclasses.replace` starts a fresh one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import pandas as pd

from perfops.model.catalog import Catalog

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

# load_telemetry(services, metrics, start, end) -> long-form frame (perfops.model.tables)
TelemetryLoader = Callable[[Sequence[str] | None, Sequence[str] | None, datetime, datetime], pd.DataFrame]


def _empty_frame(*_: Any) -> pd.DataFrame:
    return pd.DataFrame()


@dataclass(frozen=True)
class AnalysisContext:
    catalog: Catalog
    now: datetime  # end of the period (naive UTC)
    period: timedelta  # findings are reported for [now - period, now)
    history: timedelta  # the norm is learned from [now - period - history, now - period)
    load_telemetry: TelemetryLoader
    events: pd.DataFrame = field(default_factory=pd.DataFrame)  # perfops.model.tables.EVENT_COLUMNS
    level_marks: list[dict[str, Any]] = field(default_factory=list)  # acknowledged level changes
    test_runs: pd.DataFrame = field(default_factory=pd.DataFrame)
    load_test_endpoints: Callable[[str], pd.DataFrame] = _empty_frame
    load_test_series: Callable[[str], pd.DataFrame] = _empty_frame
    params: dict[str, Any] = field(default_factory=dict)  # per-analysis overrides, by module name
    # sums computed where the telemetry lives (the store's `slo_buckets`, see
    # perfops.analysis.experience.figures); None = summed here with pandas from the rows
    sums: Any = None
    memo: dict[Any, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def period_start(self) -> datetime:
        return self.now - self.period

    @property
    def history_start(self) -> datetime:
        return self.now - self.period - self.history

    def telemetry(
        self, services: Sequence[str] | None = None, metrics: Sequence[str] | None = None,
        start: datetime | None = None, end: datetime | None = None,
    ) -> pd.DataFrame:
        return self.load_telemetry(services, metrics, start or self.history_start, end or self.now)

    def telemetry_rows(
        self, services: Sequence[str] | None = None, metrics: Sequence[str] | None = None,
        start: datetime | None = None, end: datetime | None = None, *,
        endpoint: str | None = None, consumers: bool | None = None,
    ) -> pd.DataFrame:
        """`telemetry()` restricted to one endpoint ('' = whole service) and to the rows for all
        consumers (consumers=False) or per consumer (True); None = no restriction."""
        lo, hi = start or self.history_start, end or self.now
        if getattr(self.load_telemetry, "filters_rows", False):
            loader: Any = self.load_telemetry
            return loader(services, metrics, lo, hi, endpoint=endpoint, consumers=consumers)
        return filter_rows(self.load_telemetry(services, metrics, lo, hi), endpoint, consumers)


def filter_rows(frame: pd.DataFrame, endpoint: str | None, consumers: bool | None) -> pd.DataFrame:
    """The rows of a long-form frame at one endpoint and/or consumer level (order kept)."""
    if frame is None or frame.empty or (endpoint is None and consumers is None):
        return frame
    keep = pd.Series(True, index=frame.index)
    if endpoint is not None:
        keep &= frame["endpoint"] == endpoint
    if consumers is not None:
        keep &= (frame["consumer"] != "") if consumers else (frame["consumer"] == "")
    return frame[keep.to_numpy()].reset_index(drop=True)


P = TypeVar("P", bound="DataclassInstance")


def area_params(ctx: AnalysisContext, area: str, cls: type[P]) -> P:
    """An area's parameters: the dataclass `cls` with its defaults, overridden by
    `ctx.params[area]`; a name `cls` does not have is an error that names it."""
    overrides = dict(ctx.params.get(area) or {})
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ValueError(f"unknown {area} parameter(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return cls(**overrides)
