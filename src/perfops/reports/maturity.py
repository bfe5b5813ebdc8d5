"""Squad maturity 0–4 from what perfops can see, with the numbers behind each level.

Each level adds requirements to the one below (shares are of the squad's services):
  1 Observed     telemetry for ≥ 80% of services in the last 30 days
  2 Measured     per-endpoint telemetry for ≥ 80% and an SLO for ≥ 80%
  3 Managed      NFRs for ≥ 80%, cost data for ≥ 80%, a performance test in the last 30 days for ≥ 50%
  4 Accountable  findings acknowledged within 24 h and resolved within 7 days (medians), and no
                 critical/high finding left unacknowledged for more than 2 days
Visibility follows the level: what perfops cannot see, it cannot report (VISIBILITY).
Pure: catalog, inventory frame, test runs, findings and history in; dataclasses out.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from perfops.model.catalog import Catalog
from perfops.model.findings import SEVERE, Finding

NAMES = {0: "Blind", 1: "Observed", 2: "Measured", 3: "Managed", 4: "Accountable"}
VISIBILITY = {
    0: "perfops sees too little of this squad to judge its services; most findings cannot be raised.",
    1: "perfops spots traffic, latency and error anomalies per service, but cannot judge SLOs or endpoints.",
    2: "perfops adds endpoint-level findings and SLO breaches and error-budget burn.",
    3: "perfops adds capacity, cost and test-versus-production feedback.",
    4: "perfops gives the full picture, and the squad acts on it in time.",
}
COVERAGE = 0.8
TEST_COVERAGE = 0.5
ACK_HOURS = 24.0
RESOLVE_DAYS = 7.0


@dataclass(frozen=True)
class Measure:
    key: str
    label: str
    have: float  # count or hours/days
    of: float | None = None  # denominator for shares
    missing: list[str] = field(default_factory=list)  # services lacking it

    @property
    def share(self) -> float:
        if self.of is None or self.of == 0:
            return math.nan
        return self.have / self.of

    def words(self) -> str:
        if self.of is not None:
            return f"{int(self.have)} of {int(self.of)} services"
        return "no data" if math.isnan(self.have) else f"{self.have:.1f}"


@dataclass(frozen=True)
class Maturity:
    squad: str
    level: int
    measures: dict[str, Measure]
    raise_by: list[str]  # what would raise it to level + 1

    @property
    def name(self) -> str:
        return NAMES[self.level]

    @property
    def visibility(self) -> str:
        return VISIBILITY[self.level]

    def to_dict(self) -> dict[str, Any]:
        return {
            "squad": self.squad, "level": self.level, "name": self.name, "visibility": self.visibility,
            "raise_by": self.raise_by,
            "measures": {k: {"label": m.label, "have": _clean(m.have), "of": m.of, "missing": m.missing}
                         for k, m in self.measures.items()},
        }


def _clean(v: float) -> float | None:
    return None if isinstance(v, float) and math.isnan(v) else v


def assess(catalog: Catalog, squad: str, inventory: pd.DataFrame, test_runs: pd.DataFrame,
           findings: list[Finding], history: list[dict[str, Any]], now: datetime) -> Maturity:
    services = [s.name for s in catalog.services_of(squad)]
    inv = _recent(inventory, now)
    m = {
        "telemetry": _share("telemetry", "services with telemetry (30 d)", services, _with_telemetry(inv)),
        "endpoints": _share("endpoints", "services with per-endpoint telemetry", services, _with_endpoints(inv)),
        "slo": _share("slo", "services with an SLO", services, {s.name for s in catalog.services if s.slo}),
        "nfr": _share("nfr", "services with NFRs", services, {s.name for s in catalog.services if s.nfr}),
        "cost": _share("cost", "services with cost data", services, _with_cost(catalog, inv)),
        "tests": _share("tests", "services load-tested in the last 30 days", services, _tested(test_runs, now)),
    }
    ack, res, stale = _response_times(squad, findings, history, now)
    m["ack_hours"] = Measure("ack_hours", "median hours to acknowledge", ack)
    m["resolve_days"] = Measure("resolve_days", "median days to resolve", res)
    m["stale"] = Measure("stale", "critical/high findings unacknowledged > 2 days", float(len(stale)), None, stale)
    level, raise_by = _level(m)
    return Maturity(squad=squad, level=level, measures=m, raise_by=raise_by)


def _recent(inventory: pd.DataFrame, now: datetime) -> pd.DataFrame:
    if inventory is None or inventory.empty:
        return pd.DataFrame(columns=["service", "endpoint", "metric", "rows", "first", "last"])
    return inventory[inventory["last"] >= now - timedelta(days=30)]


def _share(key: str, label: str, services: list[str], having: set[str]) -> Measure:
    missing = [s for s in services if s not in having]
    return Measure(key, label, float(len(services) - len(missing)), float(len(services)), missing)


def _with_telemetry(inv: pd.DataFrame) -> set[str]:
    return set(inv["service"])


def _with_endpoints(inv: pd.DataFrame) -> set[str]:
    return set(inv.loc[inv["endpoint"] != "", "service"])


def _with_cost(catalog: Catalog, inv: pd.DataFrame) -> set[str]:
    from_catalog = {s.name for s in catalog.services if s.cost and s.cost.instance_hourly is not None}
    return from_catalog | set(inv.loc[inv["metric"] == "cost", "service"])


def _tested(runs: pd.DataFrame, now: datetime) -> set[str]:
    if runs is None or runs.empty or "service" not in runs.columns:
        return set()
    start = pd.to_datetime(runs["start"], errors="coerce")
    return set(runs.loc[start >= now - timedelta(days=30), "service"].dropna())


def _response_times(squad: str, findings: list[Finding], history: list[dict[str, Any]],
                    now: datetime) -> tuple[float, float, list[str]]:
    """Median hours found→acknowledged, median days found→resolved, and severe findings left
    unacknowledged for over two days (by id)."""
    mine = {f.id: f for f in findings if f.squad == squad}
    found: dict[str, datetime] = {}
    acks, resolves = [], []
    for row in history:
        fid, at, action = row.get("finding_id"), row.get("at"), row.get("action")
        if fid not in mine or at is None:
            continue
        if action == "found":
            found.setdefault(fid, at)
        elif action in ("acknowledged", "ack") and fid in found:
            acks.append((at - found[fid]).total_seconds() / 3600)
        elif action == "resolved" and fid in found:
            resolves.append((at - found[fid]).total_seconds() / 86400)
    stale = [fid for fid, f in mine.items() if f.status == "open" and f.severity in SEVERE
             and fid in found and now - found[fid] > timedelta(days=2)]
    return (statistics.median(acks) if acks else math.nan, statistics.median(resolves) if resolves else math.nan, stale)


def _level(m: dict[str, Measure]) -> tuple[int, list[str]]:
    """The highest level whose requirements (and all below) hold, and what the next one lacks."""
    checks = [
        [_need(m["telemetry"], COVERAGE, "send telemetry")],
        [_need(m["endpoints"], COVERAGE, "send per-endpoint telemetry"), _need(m["slo"], COVERAGE, "define an SLO")],
        [_need(m["nfr"], COVERAGE, "define NFRs"), _need(m["cost"], COVERAGE, "provide cost data"),
         _need(m["tests"], TEST_COVERAGE, "run a performance test")],
        [_timely(m)],
    ]
    level = 0
    for reqs in checks:
        gaps = [g for g in reqs if g]
        if gaps:
            return level, gaps
        level += 1
    return level, []


def _need(measure: Measure, threshold: float, verb: str) -> str:
    if not math.isnan(measure.share) and measure.share >= threshold:
        return ""
    wanted = math.ceil(threshold * (measure.of or 0))
    names = ", ".join(measure.missing[:5]) + (" …" if len(measure.missing) > 5 else "")
    return (f"{verb} for at least {wanted} of {int(measure.of or 0)} services "
            f"(now {int(measure.have)}; missing: {names})")


def _timely(m: dict[str, Measure]) -> str:
    gaps = []
    ack, res, stale = m["ack_hours"].have, m["resolve_days"].have, m["stale"]
    if not math.isnan(ack) and ack > ACK_HOURS:
        gaps.append(f"acknowledge findings within {ACK_HOURS:.0f} h (median now {ack:.0f} h)")
    if not math.isnan(res) and res > RESOLVE_DAYS:
        gaps.append(f"resolve findings within {RESOLVE_DAYS:.0f} days (median now {res:.1f} days)")
    if stale.have:
        gaps.append(f"acknowledge the {int(stale.have)} critical/high findings open for over 2 days")
    return "; ".join(gaps)
