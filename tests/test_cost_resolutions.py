"""Cost that arrives hourly or daily (billing exports) next to 5-minute traffic: every cost
analysis works at the cost series' own step, and nothing is dropped for being coarse."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from capacity_fixtures import NOW, SvcSpec, build_catalog, build_frame, memory_loader
from perfops.analysis import cost
from perfops.analysis.capacity.costs import load_costs
from perfops.analysis.capacity.model import load_chunk
from perfops.analysis.context import AnalysisContext

DAYS = 35
SPECS = [SvcSpec("billed", peak_tps=80, instances=6, cpu_at_peak=50, instance_hourly=None),
         SvcSpec("quiet", peak_tps=40, instances=3, cpu_at_peak=30, instance_hourly=None)]


def _cost_rows(service: str, step: timedelta, per_day: float, factor_days: dict[int, float]) -> pd.DataFrame:
    """Spend of `per_day` a day at `step`, multiplied on the days (days before NOW) given."""
    stamps = pd.date_range(NOW - timedelta(days=DAYS), NOW, freq=step, inclusive="left")
    days_before = ((NOW - stamps) / timedelta(days=1)).to_numpy()
    per_row = per_day * step / timedelta(days=1)
    factor = np.ones(len(stamps))
    for day, f in factor_days.items():
        factor[(days_before > day - 1) & (days_before <= day)] = f
    return pd.DataFrame({"timestamp": stamps, "service": service, "endpoint": "", "consumer": "", "metric": "cost",
                         "value": per_row * factor})


def _context(cost_frames: list[pd.DataFrame]) -> AnalysisContext:
    frame = pd.concat([build_frame(SPECS, days=DAYS), *cost_frames], ignore_index=True)
    return AnalysisContext(catalog=build_catalog(SPECS), now=NOW, period=timedelta(days=7),
                           history=timedelta(days=DAYS - 7), load_telemetry=memory_loader(frame))


@pytest.mark.parametrize("step", [timedelta(days=1), timedelta(hours=1)], ids=["daily", "hourly"])
def test_spend_doubled_for_three_days_is_a_cost_anomaly(step):
    ctx = _context([_cost_rows("billed", step, 240.0, {5: 2.0, 4: 2.0, 3: 2.0}),
                    _cost_rows("quiet", step, 100.0, {})])
    found = [f for f in cost.run(ctx) if f.kind == "cost_anomaly"]
    assert [f.service for f in found] == ["billed"]
    (anomaly,) = found
    assert anomaly.evidence["daily_spend"] == pytest.approx([480.0, 480.0, 480.0])
    assert anomaly.impact["excess_cost"] == pytest.approx(720.0)
    assert anomaly.start == NOW - timedelta(days=5) and anomaly.end == NOW - timedelta(days=2)
    assert anomaly.evidence["cost_step_seconds"] == step.total_seconds()


def test_daily_spend_is_the_sum_of_the_rows_at_any_step():
    rows = _cost_rows("billed", timedelta(days=1), 240.0, {2: 1.5})
    ctx = _context([rows, _cost_rows("quiet", timedelta(hours=1), 100.0, {})])
    costs = {c.service: c for c in load_costs(ctx, load_chunk(ctx, ["billed", "quiet"]))}
    week = rows[rows["timestamp"] >= NOW - timedelta(days=7)]["value"].sum()
    assert float(np.nansum(costs["billed"].daily_spend[-7:])) == pytest.approx(week)
    assert costs["billed"].hourly_spend is None and costs["quiet"].hourly_spend is not None
    assert costs["quiet"].monthly_spend() == pytest.approx(100.0 * 30.44)
    assert not costs["billed"].notes


def test_unit_cost_rise_from_daily_billing_is_found():
    ctx = _context([_cost_rows("billed", timedelta(days=1), 240.0, dict.fromkeys(range(1, 8), 1.4)),
                    _cost_rows("quiet", timedelta(days=1), 100.0, {})])
    (unit,) = [f for f in cost.run(ctx) if f.kind == "unit_cost_increase"]
    assert unit.service == "billed" and unit.evidence["change_pct"] == pytest.approx(40, abs=4)


def test_partly_covered_days_are_counted_but_not_judged_and_said():
    hourly = _cost_rows("billed", timedelta(hours=1), 240.0, {})
    stamps = hourly["timestamp"]
    cut = (stamps >= NOW - timedelta(days=3)) & (stamps < NOW - timedelta(days=3) + timedelta(hours=12))
    ctx = _context([hourly[~cut], _cost_rows("quiet", timedelta(hours=1), 100.0, {})])
    found = [f for f in cost.run(ctx) if f.kind == "cost_anomaly"]
    assert not found  # half a day of rows is not a drop in spend
    (billed,) = list(load_costs(ctx, load_chunk(ctx, ["billed"])))
    assert "1 day(s) of cost rows cover under 80%" in billed.notes[0]
    assert float(np.nansum(billed.daily_spend[-7:])) == pytest.approx(hourly[~cut & (stamps >= NOW - timedelta(days=7))]
                                                                       ["value"].sum())


def test_price_per_instance_hour_from_hourly_billing_is_not_inflated_by_the_traffic_step():
    ctx = _context([_cost_rows("billed", timedelta(hours=1), 6 * 0.5 * 24, {})])
    ctx = replace(ctx)
    (billed,) = load_costs(ctx, load_chunk(ctx, ["billed"]))
    assert billed.instance_hourly == pytest.approx(0.5, rel=0.01)  # 6 instances, 72 a day


def test_days_billing_has_not_reached_yet_are_said_not_zero():
    rows = _cost_rows("billed", timedelta(days=1), 240.0, {})
    ctx = _context([rows[rows["timestamp"] < NOW - timedelta(days=2)], _cost_rows("quiet", timedelta(days=1), 100.0, {})])
    assert not [f for f in cost.run(ctx) if f.kind == "cost_anomaly"]  # two unbilled days are no drop
    (billed,) = load_costs(ctx, load_chunk(ctx, ["billed"]))
    assert billed.notes == ("the last 2 day(s) have no cost rows (billing exports lag a day or two): "
                            "their spend is unknown, not zero",)
    assert billed.monthly_spend() == pytest.approx(240.0 * 30.44)


def test_weekly_cost_rows_are_summed_but_never_judged_as_days():
    rows = _cost_rows("billed", timedelta(days=7), 240.0, {})
    ctx = _context([rows, _cost_rows("quiet", timedelta(days=1), 100.0, {})])
    (billed,) = load_costs(ctx, load_chunk(ctx, ["billed"]))
    assert billed.monthly_spend() is None and "arrive every 7 days" in billed.notes[0]
    assert float(np.nansum(billed.daily_spend)) == pytest.approx(rows["value"].sum())
    assert not [f for f in cost.run(ctx) if f.service == "billed" and f.kind != "savings_opportunity"]


def test_the_report_says_what_cost_data_was_not_judged():
    from perfops.reports.section import ReportView
    from perfops.reports.sections import cost as section

    rows = _cost_rows("billed", timedelta(days=1), 240.0, {})
    ctx = _context([rows[rows["timestamp"] < NOW - timedelta(days=2)], _cost_rows("quiet", timedelta(days=1), 100.0, {})])
    from reports_fixture import report_context

    # the report reads the figures analyze stores for this context (as a real report does)
    spend = section.build(ReportView(ctx=report_context(ctx), findings=[], audience="executive"))[0]
    assert "billed: the last 2 day(s) have no cost rows" in spend.markdown
    (billed,) = [s for s in spend.data["services"] if s["service"] == "billed"]
    assert billed["notes"] and spend.data["domain"]["last_7_days"] == pytest.approx(
        rows[(rows["timestamp"] >= NOW - timedelta(days=7)) & (rows["timestamp"] < NOW - timedelta(days=2))]["value"].sum()
        + 700.0)
