"""What an analysis sees: the catalog, the period, and loaders injected by the use case.

Analyses never open the store or read the clock: the use case builds an AnalysisContext whose
loaders read the store (or, in tests, return frames built in memory), and passes `now`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from perfops.model.catalog import Catalog

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
