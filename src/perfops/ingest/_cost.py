"""What the cost readers (FOCUS billing exports, OpenCost allocations) share: charge periods
spread to the resolution the data has, spend summed per service and moment, and the spend that
no service took counted and reported, never dropped.

A charge period of up to one day keeps its start as its timestamp (an hourly row stays hourly,
a daily row daily). A longer period (a monthly fee, a one-year purchase) is spread over the UTC
days it overlaps in proportion to the time it spends in each, so that no day gets a month's
spend at once; each part is stamped at the later of the period's start and its day's midnight.
The parts add up to the row's amount exactly (the last part takes the rounding remainder).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from perfops.model.tables import TELEMETRY_COLUMNS

DAY = timedelta(days=1)
MAX_SPREAD_DAYS = 3700  # ten years: a longer charge period is a typo, not a contract


def spread(start: datetime, end: datetime, amount: float) -> list[tuple[datetime, float]]:
    """[(moment, part)] of one charge: itself when it lasts at most a day, else one part a UTC day."""
    if end - start <= DAY:
        return [(start, amount)]
    total = (end - start).total_seconds()
    parts: list[tuple[datetime, float]] = []
    cursor = start
    given = 0.0
    while cursor < end:
        midnight = datetime(cursor.year, cursor.month, cursor.day) + DAY
        stop = min(midnight, end)
        share = amount * (stop - cursor).total_seconds() / total
        parts.append((cursor, share))
        given += share
        cursor = stop
    last_moment, last_share = parts[-1]
    parts[-1] = (last_moment, last_share + (amount - given))
    return parts


@dataclass
class CostTally:
    """Spend per (service, moment), and what was left out, with counts and amounts."""

    currency: str
    spend: dict[tuple[str, datetime], float] = field(default_factory=lambda: defaultdict(float))
    rows_used: int = 0
    unallocated_rows: int = 0
    unallocated_amount: float = 0.0
    unallocated_by: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))  # unmatched, by amount
    left_out: dict[str, list[float]] = field(default_factory=dict)  # category -> [rows, amount]
    latest: datetime | None = None  # naive UTC, exclusive: the accepted time range's end (model.limits)
    future_amount: float = 0.0  # the days of a long charge period that have not come yet
    future_rows: int = 0

    def add(self, service: str, start: datetime, end: datetime, amount: float) -> None:
        self.rows_used += 1
        ahead = False
        for moment, part in spread(start, end, amount):
            if self.latest is not None and moment >= self.latest:
                self.future_amount += part  # a monthly fee billed today covers days still to come
                ahead = True
                continue
            self.spend[(service, moment)] += part
        self.future_rows += ahead

    def unallocated(self, label: str, amount: float) -> None:
        self.unallocated_rows += 1
        self.unallocated_amount += amount
        self.unallocated_by[label or "(unnamed)"] += abs(amount)

    def excluded(self, category: str, amount: float) -> None:
        count = self.left_out.setdefault(category, [0, 0.0])
        count[0] += 1
        count[1] += amount

    def frame(self) -> pd.DataFrame:
        """The spend as canonical telemetry rows (metric `cost`, whole service)."""
        if not self.spend:
            return pd.DataFrame({c: pd.Series(dtype="datetime64[us]" if c == "timestamp" else
                                              (float if c == "value" else object)) for c in TELEMETRY_COLUMNS})
        keys = sorted(self.spend)
        return pd.DataFrame({
            "timestamp": np.array([k[1] for k in keys], dtype="datetime64[us]"),
            "service": [k[0] for k in keys], "endpoint": "", "consumer": "", "metric": "cost",
            "value": np.array([self.spend[k] for k in keys], dtype=float),
        })[list(TELEMETRY_COLUMNS)]

    def warnings(self, how_to_map: str) -> list[str]:
        """Counted warnings (always shown) on what no service took and what the charge categories
        left out."""
        out = []
        if self.unallocated_rows:
            allocated = sum(self.spend.values())
            total = allocated + self.unallocated_amount
            share = f" ({100 * self.unallocated_amount / total:.1f}% of the spend read)" if total else ""
            top = ", ".join(f"{name} {_money(v, self.currency)}" for name, v in _largest(self.unallocated_by, 5))
            out.append(f"unallocated: {self.unallocated_rows} row(s), {_money(self.unallocated_amount, self.currency)}"
                       f"{share}, matched no service and are not in any service's spend (largest: {top}); "
                       f"{how_to_map}")
        if self.future_rows:
            out.append(f"{_money(self.future_amount, self.currency)} of {self.future_rows} charge period(s) falls on "
                       "days that have not come yet and is not stored; ingest a later export to count those days")
        for category, (rows, amount) in sorted(self.left_out.items()):
            out.append(f"{int(rows)} {category} row(s) totalling {_money(amount, self.currency)} are not counted as "
                       "service spend (cost.charge_categories)")
        return out


def _money(value: float, currency: str) -> str:
    return f"{value:,.2f} {currency}"


def _largest(amounts: dict[str, float], n: int) -> list[tuple[str, float]]:
    """The `n` largest amounts, largest first, ties in first-seen order (as Counter.most_common)."""
    return sorted(amounts.items(), key=lambda item: -item[1])[:n]
