"""Calendar days: public holidays and the domain's own dates, in norms and in findings (issue 13 item 5).

The catalog's `calendar:` names a country (and subdivision) whose public holidays come from the
maintained `holidays` library, and the domain's own dates (sales, campaigns, freezes). Then:

- **holiday-aware norms**: calendar days are left out of the history a normal-day norm is
  learned from (`mask_history`), so last month's bank holiday does not lower this Monday's norm;
- **findings on a calendar day** (`annotate`) are reported as such: "traffic down 40% on
  Thanksgiving Day, as on the last one (down 38% on 2025-11-27)" or "unlike the last one", from
  the same metric on the previous occurrence of the same day (the same holiday a year before, or
  the previous event of the same name), against the same time of week around it. A sustained
  shift on such a day is not a regression: it becomes an `anomaly`, without release advice and
  without an event link unless a deploy or config change really preceded it. When the last one
  looked the same, the finding is expected and its severity is lowered to `low`.

Day boundaries are those of the catalog's `timezone`. Pure: everything it reads comes from the
analysis context.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from perfops.analysis.context import AnalysisContext
from perfops.analysis.severity import lower_to
from perfops.model.catalog import Catalog
from perfops.model.findings import Finding

ALIKE = 0.5  # the last one "looked the same": same direction, at least half the size and at most twice
REPORTED_KINDS = ("anomaly", "regression", "improvement")
ADVICE = ("A calendar day, not a release: plan capacity and alerting for its next occurrence; "
          "act only if the service did not serve what its users asked for.")


@dataclass(frozen=True)
class CalendarDay:
    name: str
    kind: str  # holiday (public or the domain's) | sale | campaign | freeze | release | other
    start: datetime  # naive UTC
    end: datetime  # exclusive
    services: tuple[str, ...] = ()  # empty: every service
    public: bool = False  # from the holidays library

    def concerns(self, service: str) -> bool:
        return not self.services or service in self.services


def calendar_days(catalog: Catalog, start: datetime, end: datetime) -> list[CalendarDay]:
    """Every calendar day overlapping [start, end) (naive UTC), public holidays first."""
    cal = catalog.calendar
    if cal is None:
        return []
    zone = ZoneInfo(catalog.timezone)
    out: list[CalendarDay] = []
    if cal.country:
        out += [d for d in public_holidays(cal.country, cal.subdivision, zone, start.year - 1, end.year)
                if d.start < end and d.end > start]
    for event in cal.events:
        a, b = event.span
        if not isinstance(event.start, datetime):  # a date is a local day
            a, b = _utc(a, zone), _utc(b, zone)
        if a < end and b > start:
            out.append(CalendarDay(event.name, event.kind, a, b, tuple(event.services)))
    return out


def public_holidays(country: str, subdivision: str | None, zone: ZoneInfo, first_year: int,
                    last_year: int) -> list[CalendarDay]:
    import holidays

    days = holidays.country_holidays(country, subdiv=subdivision, years=range(first_year, last_year + 1))
    return [CalendarDay(str(name), "holiday", _utc(_midnight(day), zone), _utc(_midnight(day + timedelta(days=1)), zone),
                        public=True) for day, name in sorted(days.items())]


def mask_history(values: dict[str, np.ndarray], keys: list[tuple[str, str]], epoch: np.ndarray, split: int,
                 days: list[CalendarDay]) -> dict[str, np.ndarray]:
    """`values` (metric -> (S, T)) with the history columns (< split) of calendar days set to
    NaN for the rows of the services they concern: the normal-day norm learns from normal days."""
    if not days:
        return values
    stamps = epoch[:split]
    services = [s for s, _ in keys]
    masks = np.zeros((len(keys), split), dtype=bool)
    for day in days:
        cols = (stamps >= _epoch(day.start)) & (stamps < _epoch(day.end))
        if not cols.any():
            continue
        rows = np.array([day.concerns(s) for s in services])
        masks[np.ix_(rows, cols)] = True
    if not masks.any():
        return values
    out = {}
    for metric, grid in values.items():
        grid = grid.copy()
        grid[:, :split][masks] = np.nan
        out[metric] = grid
    return out


def annotate(findings: list[Finding], ctx: AnalysisContext) -> list[Finding]:
    """Trends findings that begin on a calendar day, reported as calendar effects (module docstring)."""
    days = calendar_days(ctx.catalog, ctx.period_start, ctx.now)
    if not days:
        return findings
    return [_on_day(f, day, ctx) if (day := day_of(f, days)) else f for f in findings]


def day_of(finding: Finding, days: list[CalendarDay]) -> CalendarDay | None:
    if finding.kind not in REPORTED_KINDS or finding.start is None:
        return None
    for day in days:
        if day.concerns(finding.service) and day.start <= finding.start < day.end:
            return day
    return None


def _on_day(f: Finding, day: CalendarDay, ctx: AnalysisContext) -> Finding:
    now = _change(f)
    previous = previous_occurrence(day, ctx.catalog)
    before = None if previous is None or now is None else change_on(ctx, f, previous)
    if previous is None:
        comparison, alike = "no earlier one in the calendar", False
    elif before is None:
        comparison, alike = f"no data for the last one ({previous.start:%Y-%m-%d})", False
    else:
        alike = now is not None and _alike(now, before)
        comparison = (f"{'as on' if alike else 'unlike'} the last one ({_signed(before)} on {previous.start:%Y-%m-%d})")
    size = "" if now is None else f" {_signed(now)}"
    what = f.metric or "it"
    who = f"{f.service} {f.endpoint or ''}".strip()
    after = f" after {f.event}" if f.event else ""  # trends links only a deploy or config change before it
    title = f"{who}: {what}{size} on {day.name}{after}, {comparison}"
    evidence = {**f.evidence, "calendar": {
        "day": day.name, "kind": day.kind, "public_holiday": day.public,
        "start": day.start.isoformat(), "end": day.end.isoformat(),
        "change_pct": None if now is None else round(100 * now, 1),
        "last_one": None if previous is None else previous.start.date().isoformat(),
        "last_one_change_pct": None if before is None else round(100 * before, 1),
        "as_on_the_last_one": bool(alike)}}
    if f.kind in ("regression", "improvement"):
        evidence["calendar"]["was"] = f.kind
    severity = lower_to(f.severity, "low") if alike else f.severity
    kind = "anomaly" if f.kind == "regression" else f.kind
    detail = (f"{f.detail} This was {day.name} ({day.kind}); {comparison}." if f.detail else title)
    changed = f.with_(kind=kind, title=title, detail=detail, evidence=evidence, severity=severity,
                      recommendation=ADVICE)
    return changed.with_(id="") if kind != f.kind else changed


def previous_occurrence(day: CalendarDay, catalog: Catalog) -> CalendarDay | None:
    """The same holiday the year before (public holidays), or the latest earlier event of the same name."""
    cal = catalog.calendar
    if cal is None:
        return None
    if day.public and cal.country:
        zone = ZoneInfo(catalog.timezone)
        earlier = [d for d in public_holidays(cal.country, cal.subdivision, zone, day.start.year - 1, day.start.year - 1)
                   if d.name == day.name]
        return earlier[-1] if earlier else None
    same = [d for d in calendar_days(catalog, day.start - timedelta(days=3 * 366), day.start)
            if d.name == day.name and d.end <= day.start]
    return max(same, key=lambda d: d.start) if same else None


def change_on(ctx: AnalysisContext, f: Finding, day: CalendarDay, weeks: int = 2) -> float | None:
    """The relative change of the finding's metric on `day` against the same times of week in the
    `weeks` weeks around it (which are not that day), or None without data."""
    metric = (f.evidence or {}).get("telemetry_metric")
    if not isinstance(metric, str) or "/" in metric:
        return None
    lo, hi = day.start - timedelta(weeks=weeks), day.end + timedelta(weeks=weeks)
    frame = ctx.telemetry(services=[f.service], metrics=[metric], start=lo, end=hi)
    if frame.empty:
        return None
    frame = frame[(frame["endpoint"] == (f.endpoint or "")) & (frame["consumer"] == "")]
    if frame.empty:
        return None
    ts = pd.to_datetime(frame["timestamp"]).to_numpy()
    values = frame["value"].to_numpy(dtype=float)
    on = (ts >= np.datetime64(day.start)) & (ts < np.datetime64(day.end))
    if not on.any():
        return None
    around = np.zeros(ts.size, dtype=bool)
    for k in [w for w in range(-weeks, weeks + 1) if w]:
        shift = np.timedelta64(7 * k, "D")
        around |= (ts >= np.datetime64(day.start) + shift) & (ts < np.datetime64(day.end) + shift)
    if not around.any():
        return None
    observed, norm = float(np.median(values[on])), float(np.median(values[around]))
    return None if norm == 0 or not math.isfinite(norm) else observed / norm - 1.0


def _change(f: Finding) -> float | None:
    pct = (f.evidence or {}).get("change_pct")
    return float(pct) / 100 if isinstance(pct, int | float) and math.isfinite(pct) else None


def _alike(now: float, before: float) -> bool:
    if now == 0 or before == 0 or (now > 0) != (before > 0):
        return False
    ratio = abs(before) / abs(now)
    return ALIKE <= ratio <= 1 / ALIKE


def _signed(change: float) -> str:
    return f"{'up' if change >= 0 else 'down'} {abs(change) * 100:.0f}%"


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day)


def _utc(local: datetime, zone: ZoneInfo) -> datetime:
    """A naive local wall time of `zone` as naive UTC."""
    return local.replace(tzinfo=zone).astimezone(ZoneInfo("UTC")).replace(tzinfo=None)


def _epoch(moment: datetime) -> int:
    return int((moment - datetime(1970, 1, 1)).total_seconds())
