"""How a gauge is judged: its bad direction, its capacity and its unit, from the catalog's
`metrics:` entry of the service or perfops' own defaults (`perfops.model.tables.GAUGE_METRICS`).

Read by the gauge signals (`trends/gauges.py`) and by the magnitude of a finding
(`trends/findings.py`); it imports neither.
"""

from __future__ import annotations

from dataclasses import dataclass

from perfops.model.catalog import Catalog
from perfops.model.tables import GAUGE_METRICS, METRICS


@dataclass(frozen=True)
class GaugeSpec:
    metric: str
    direction: str  # up | down | both
    capacity: float | None  # judged in points of this when set
    unit: str



def spec_of(catalog: Catalog, service: str, metric: str) -> GaugeSpec:
    svc = catalog.service_by_name.get(service)
    own = svc.metrics.get(metric) if svc else None
    unit = (own.unit if own and own.unit else None) or METRICS.get(metric, "")
    capacity = own.capacity if own and own.capacity else None
    if capacity is None and (metric.endswith("_pct") or unit == "%"):
        capacity = 100.0
    direction = own.direction if own else GAUGE_METRICS.get(metric, "both")
    return GaugeSpec(metric, direction, capacity, unit)
