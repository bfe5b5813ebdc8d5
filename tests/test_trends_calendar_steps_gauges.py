"""Issue 13 items 5, 6, 8, 9: calendars, young norms, every resolution, more metrics.

Each test builds a small realistic series (daily and weekly seasonality, noise) and runs
`perfops.analysis.trends.run` on it, as `perfops analyze` does."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

import trends_world as W
from perfops.analysis import trends
from perfops.analysis.calendar import calendar_days, mask_history
from perfops.analysis.seasonal import is_weekend, seasonal_norm
from perfops.analysis.steps import by_step, infer_step_seconds, series_steps
from perfops.errors import PerfopsError
from perfops.workspace import parse_catalog

NOW = datetime(2026, 11, 30)  # a Monday
PERIOD = timedelta(days=7)


def catalog_text(extra: str = "", service_extra: str = "") -> str:
    return ("domain: T\nsquads:\n  - name: a\nservices:\n  - name: web\n    squad: a\n    tier: 1\n"
            + service_extra + "  - name: batch\n    squad: a\n" + extra)


def shape(t: pd.DatetimeIndex, weekend_factor: float = 0.6) -> np.ndarray:
    hour = t.hour.to_numpy() + t.minute.to_numpy() / 60
    daily = 0.4 + 0.6 * np.clip(np.sin(np.pi * (hour - 6) / 16), 0, None)
    return daily * np.where(t.dayofweek.to_numpy() >= 5, weekend_factor, 1.0)


def frame(t: pd.DatetimeIndex, service: str, metric: str, values: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"timestamp": t, "service": service, "endpoint": "", "consumer": "", "metric": metric,
                         "value": values})


def context(catalog, telemetry: pd.DataFrame, history_days: int = 35, events: pd.DataFrame | None = None):
    world = W.World(telemetry, events if events is not None else pd.DataFrame())
    return W.context(world, catalog, now=NOW, period=PERIOD, history=timedelta(days=history_days))


def traffic(rng, t: pd.DatetimeIndex, rate: float = 600.0, weekend_factor: float = 0.6) -> np.ndarray:
    return rng.poisson(rate * shape(t, weekend_factor)).astype(float)


def cpu(rng, t: pd.DatetimeIndex) -> np.ndarray:
    return np.clip(20 + 30 * shape(t) + rng.normal(0, 1.5, t.size), 0, 100)


# ---------------------------------------------------------------- 5. calendars

def test_calendar_is_validated_with_the_line_of_each_problem():
    bad = catalog_text("calendar:\n  country: ZZ\n")
    with pytest.raises(PerfopsError) as caught:
        parse_catalog(bad)
    assert "country 'ZZ'" in str(caught.value) and ":11" in str(caught.value)
    wrong = catalog_text("calendar:\n  events:\n    - {name: Sale, start: 2026-11-20, end: 2026-11-10}\n")
    with pytest.raises(PerfopsError) as caught:
        parse_catalog(wrong)
    assert "before start" in str(caught.value) and ":12" in str(caught.value)


def test_public_holidays_come_from_the_country_and_region_and_domain_dates_are_added():
    cat = parse_catalog(catalog_text("calendar:\n  country: US\n  subdivision: NY\n  events:\n"
                                     "    - {name: Winter sale, start: 2026-11-27, end: 2026-11-29, kind: sale}\n"))
    days = calendar_days(cat, datetime(2026, 11, 20), datetime(2026, 12, 1))
    names = {d.name: d for d in days}
    assert names["Thanksgiving Day"].start == datetime(2026, 11, 26) and names["Thanksgiving Day"].public
    sale = names["Winter sale"]
    assert (sale.start, sale.end, sale.kind) == (datetime(2026, 11, 27), datetime(2026, 11, 30), "sale")


def test_calendar_days_are_left_out_of_the_history_norm():
    t = pd.date_range(NOW - timedelta(days=14), NOW, freq="1h", inclusive="left")
    epoch = (t.asi8 // 10**9).astype(np.int64)
    cat = parse_catalog(catalog_text("calendar:\n  events:\n    - {name: Sale, start: 2026-11-18, services: [web]}\n"))
    days = calendar_days(cat, t[0].to_pydatetime(), NOW)
    values = {"requests": np.ones((2, t.size))}
    masked = mask_history(values, [("web", ""), ("batch", "")], epoch, t.size - 24, days)["requests"]
    on = (t >= "2026-11-18") & (t < "2026-11-19")
    assert np.isnan(masked[0, on]).all() and np.isfinite(masked[0, ~on]).all()
    assert np.isfinite(masked[1]).all()  # the event names web only


def _holiday_world(rng, drop_last: float, drop_now: float):
    """Five weeks of traffic with a recurring one-day event (a sale day with less traffic)."""
    t = pd.date_range(NOW - timedelta(days=42), NOW, freq="5min", inclusive="left")
    x = traffic(rng, t)
    last, now = pd.Timestamp("2026-11-04"), pd.Timestamp("2026-11-25")
    x[(t >= last) & (t < last + timedelta(days=1))] *= 1 - drop_last
    x[(t >= now) & (t < now + timedelta(days=1))] *= 1 - drop_now
    events = ("calendar:\n  events:\n    - {name: Staff day, start: 2026-11-04, kind: holiday}\n"
              "    - {name: Staff day, start: 2026-11-25, kind: holiday}\n")
    return parse_catalog(catalog_text(events)), frame(t, "web", "requests", x)


def test_a_drop_on_a_known_day_is_reported_as_such_as_on_the_last_one_without_release_advice():
    cat, tel = _holiday_world(np.random.default_rng(1), 0.5, 0.5)
    found = [f for f in trends.run(context(cat, tel, history_days=35)) if f.metric == "traffic"]
    assert found, "the drop on the day is still reported"
    f = found[0]
    assert "on Staff day, as on the last one (down 5" in f.title and f.title.startswith("web: traffic down")
    assert f.kind == "anomaly" and f.event is None
    assert "roll back" not in f.recommendation and "release" in f.recommendation
    assert f.evidence["calendar"]["as_on_the_last_one"] is True
    assert f.severity == "low"  # expected: it happened the last time too


def test_a_drop_on_a_known_day_unlike_the_last_one_keeps_its_severity():
    cat, tel = _holiday_world(np.random.default_rng(2), 0.0, 0.6)
    found = [f for f in trends.run(context(cat, tel, history_days=35)) if f.metric == "traffic"]
    assert found and "unlike the last one" in found[0].title
    assert found[0].severity not in ("info", "low")


# ---------------------------------------------------------------- 6. young norms

def test_young_norm_compares_weekend_with_weekend_and_widens_its_tolerance():
    t = pd.date_range(NOW - timedelta(days=17), NOW - timedelta(days=7), freq="1h", inclusive="left")
    target = pd.date_range(NOW - timedelta(days=7), NOW, freq="1h", inclusive="left")
    x = np.where(t.dayofweek >= 5, 50.0, 100.0)[None, :] + np.random.default_rng(0).normal(0, 2, (1, t.size))
    norm = seasonal_norm(x, t.asi8 // 10**9, target.asi8 // 10**9, 3600, spread=0)
    weekend = is_weekend(target.asi8 // 10**9)
    assert np.allclose(norm.level[0, weekend], 50, atol=5) and np.allclose(norm.level[0, ~weekend], 100, atol=5)
    wide = seasonal_norm(np.tile(x, (1, 3)), np.concatenate([t.asi8 // 10**9 - k * 7 * 86400 for k in (2, 1, 0)]),
                         target.asi8 // 10**9, 3600, spread=0)  # three weeks of the same: a full norm
    assert np.nanmedian(norm.scale) > np.nanmedian(wide.scale)


def test_with_eight_days_of_history_a_normal_weekend_dip_is_not_a_regression():
    rng = np.random.default_rng(3)
    t = pd.date_range(NOW - timedelta(days=15), NOW, freq="5min", inclusive="left")
    tel = frame(t, "web", "requests", traffic(rng, t, weekend_factor=0.55))
    found = trends.run(context(parse_catalog(catalog_text()), tel))
    assert [f.title for f in found if f.metric == "traffic" and f.severity not in ("info", "low")] == []


def test_evidence_says_how_much_history_the_norm_had():
    rng = np.random.default_rng(4)
    t = pd.date_range(NOW - timedelta(days=15), NOW, freq="5min", inclusive="left")
    x = traffic(rng, t)
    x[t >= "2026-11-26"] *= 0.3  # a real fall
    found = [f for f in trends.run(context(parse_catalog(catalog_text()), frame(t, "web", "requests", x)))
             if f.metric == "traffic"]
    assert found and found[0].evidence["norm_history_days"] == pytest.approx(8.0, abs=0.1)
    assert "weekdays" in found[0].evidence["norm_basis"]


# ---------------------------------------------------------------- 8. every resolution

def test_one_step_inference_per_series():
    t5 = pd.date_range("2026-11-01", periods=100, freq="5min")
    t30 = pd.date_range("2026-11-01", periods=100, freq="30min")
    tel = pd.concat([frame(t5, "web", "cpu_pct", np.ones(100)), frame(t30, "web", "requests", np.ones(100)),
                     frame(t30[[0]], "batch", "requests", np.ones(1))])
    steps = series_steps(tel)
    assert steps[("web", "", "cpu_pct")] == 300 and steps[("web", "", "requests")] == 1800
    assert steps[("batch", "", "requests")] == 300  # one point: the default
    assert infer_step_seconds(t30.to_numpy()) == 1800
    assert sorted(by_step(tel)) == [300, 1800]


def test_an_hourly_series_next_to_minute_data_is_judged_at_its_own_step():
    rng = np.random.default_rng(5)
    t1 = pd.date_range(NOW - timedelta(days=35), NOW, freq="1min", inclusive="left")
    th = pd.date_range(NOW - timedelta(days=35), NOW, freq="1h", inclusive="left")
    hourly = traffic(rng, th, rate=20_000)
    hourly[(th >= "2026-11-26 08:00") & (th < "2026-11-26 16:00")] *= 0.2  # 8 hours at a fifth
    tel = pd.concat([frame(t1, "web", "cpu_pct", cpu(rng, t1)), frame(th, "batch", "requests", hourly)])
    found = trends.run(context(parse_catalog(catalog_text()), tel))
    drop = [f for f in found if f.service == "batch" and f.metric == "traffic"]
    assert drop and drop[0].start == datetime(2026, 11, 26, 8)


# ---------------------------------------------------------------- 9. more metrics

def test_network_bytes_are_read_and_a_fall_is_judged_in_the_direction_the_catalog_sets():
    rng = np.random.default_rng(6)
    t = pd.date_range(NOW - timedelta(days=35), NOW, freq="5min", inclusive="left")
    x = 1e6 * shape(t) * rng.lognormal(0, 0.05, t.size)
    x[t >= "2026-11-27 10:00"] *= 0.1  # the network went quiet and stayed so
    tel = frame(t, "web", "network_out_bytes", x)
    down = parse_catalog(catalog_text(service_extra="    metrics:\n      network_out_bytes: {direction: down}\n"))
    found = [f for f in trends.run(context(down, tel)) if f.metric == "network_out_bytes"]
    assert found and found[0].kind == "regression" and "network out bytes" in found[0].title and "down 9" in found[0].title
    assert found[0].evidence["telemetry_metric"] == "network_out_bytes"
    up = parse_catalog(catalog_text(service_extra="    metrics:\n      network_out_bytes: {direction: up}\n"))
    assert [f for f in trends.run(context(up, tel)) if f.metric == "network_out_bytes"
            and f.kind != "improvement"] == []


def test_a_user_named_gauge_with_a_capacity_is_judged_in_points_and_both_ways():
    rng = np.random.default_rng(7)
    t = pd.date_range(NOW - timedelta(days=35), NOW, freq="5min", inclusive="left")
    temp = 70 + 3 * shape(t) + rng.normal(0, 0.5, t.size)
    temp[t >= "2026-11-27 00:00"] -= 30  # the cooling failed the other way: far below its norm
    queue = 20 + 10 * shape(t) + rng.normal(0, 1, t.size)
    queue[(t >= "2026-11-25 12:00") & (t < "2026-11-25 14:00")] = 95  # near its capacity of 100
    tel = pd.concat([frame(t, "web", "machine_temp", temp), frame(t, "web", "queue_depth", queue)])
    cat = parse_catalog(catalog_text(service_extra="    metrics:\n      machine_temp: {direction: both, unit: degF}\n"
                                                   "      queue_depth: {direction: up, capacity: 100}\n"))
    found = trends.run(context(cat, tel))
    temp_f = [f for f in found if f.metric == "machine_temp"]
    assert temp_f and temp_f[0].kind == "regression"  # both ways bad: a fall is a regression too
    queue_f = [f for f in found if f.metric == "queue_depth"]
    assert queue_f and queue_f[0].start == datetime(2026, 11, 25, 12)


@pytest.mark.parametrize("unit, factor", [("USD", 1.0), ("cents", 100.0)])
def test_a_gauge_of_small_values_is_judged_by_its_ratio_whatever_its_unit(unit, factor):
    # an hourly unit price (NAB realAdExchange's cost per click: $0.05-0.20) that runs at 2-3x
    # its norm for a day and a half, below an earlier one-hour spike: a rise of $0.10 to $0.30 must
    # count as 3x, as 10 to 30 cents does, not as (0.30 + 1) / (0.10 + 1) = +18 %, under the
    # gauge threshold (one unit added to both sides of the ratio swamped values below 1)
    rng = np.random.default_rng(9)
    t = pd.date_range(NOW - timedelta(days=35), NOW, freq="1h", inclusive="left")
    price = 0.05 + 0.1 * shape(t) * rng.lognormal(0, 0.08, t.size)
    price[(t >= "2026-11-26 03:00") & (t < "2026-11-27 18:00")] *= 2.5
    price[t == "2026-11-09 10:00"] = 1.0  # an hour at $1 three weeks before: the rise is no record
    spec = f"    metrics:\n      cpc: {{direction: up, unit: {unit}}}\n"
    found = [f for f in trends.run(context(parse_catalog(catalog_text(service_extra=spec)),
                                           frame(t, "web", "cpc", factor * price))) if f.metric == "cpc"]
    assert found, "the rise is detected"
    assert abs(found[0].start - datetime(2026, 11, 26, 3)) <= timedelta(hours=2)
    assert found[0].evidence["severity_inputs"]["relative_change"] >= 1.0


@pytest.mark.parametrize("name", ["requests", "cpu_pct", "latency_p95_ms"])
def test_catalog_refuses_a_metric_that_has_its_own_analysis(name):
    with pytest.raises(PerfopsError) as caught:
        parse_catalog(catalog_text(service_extra=f"    metrics:\n      {name}: {{direction: down}}\n"))
    assert name in str(caught.value) and ":8: services.0.metrics" in str(caught.value)


def test_a_30_minute_series_beside_5_minute_ones_counts_fully_in_the_weekly_volume():
    from perfops.analysis.capacity.model import load_chunk, weekly_volumes

    rng = np.random.default_rng(8)
    t5 = pd.date_range(NOW - timedelta(days=14), NOW, freq="5min", inclusive="left")
    t30 = pd.date_range(NOW - timedelta(days=14), NOW, freq="30min", inclusive="left")
    fine, coarse = traffic(rng, t5, rate=100), traffic(rng, t30, rate=600)
    tel = pd.concat([frame(t5, "web", "requests", fine), frame(t30, "batch", "requests", coarse)])
    ctx = context(parse_catalog(catalog_text()), tel, history_days=7)
    chunk = load_chunk(ctx, ["web", "batch"])
    assert chunk.grid.step_seconds == 300
    volumes = weekly_volumes(ctx, chunk, weeks=2)
    last_week = t30 >= NOW - timedelta(days=7)
    assert volumes[1, -1] == pytest.approx(coarse[last_week].sum())  # every request of the coarse series
    assert volumes[0, -1] == pytest.approx(fine[t5 >= NOW - timedelta(days=7)].sum())
    # and its rate is spread over its half hour, not a spike every sixth step
    assert np.nanmax(chunk.tps[1]) == pytest.approx(coarse.max() / 1800)


@pytest.mark.parametrize("form", ["long-csv", "wide-csv", "long-parquet"])
def test_network_disk_and_declared_gauges_are_ingested_and_undeclared_names_refused(tmp_path, cli, form):
    from perfops.store import open_store
    from perfops.workspace import Workspace

    (tmp_path / "perfops.yaml").write_text(catalog_text(service_extra="    metrics:\n      queue_depth: {direction: up}\n"))
    rows = pd.DataFrame({"timestamp": pd.to_datetime(["2026-11-02T10:00:00Z"] * 3), "service": "web",
                         "metric": ["network_in_bytes", "disk_pct", "queue_depth"], "value": [5e6, 71.5, 12.0]})
    path = tmp_path / ("t.parquet" if form == "long-parquet" else "t.csv")
    if form == "long-parquet":
        rows.to_parquet(path, index=False)
    elif form == "wide-csv":
        path.write_text("timestamp,service,network_in_bytes,disk_pct,queue_depth\n2026-11-02T10:00:00Z,web,5e6,71.5,12\n")
    else:
        rows.assign(timestamp="2026-11-02T10:00:00Z").to_csv(path, index=False)
    assert cli("ingest", str(path), workspace=tmp_path).code == 0
    with open_store(Workspace(tmp_path).store_path) as store:
        stored = store.telemetry.load()
    assert sorted(stored["metric"]) == ["disk_pct", "network_in_bytes", "queue_depth"]
    (tmp_path / "u.csv").write_text("timestamp,service,metric,value\n2026-11-02T10:05:00Z,web,queue_dept,3\n")
    refused = cli("ingest", str(tmp_path / "u.csv"), workspace=tmp_path)
    assert refused.code == 1 and "queue_dept" in refused.err and "queue_depth" in refused.err
    (tmp_path / "p.csv").write_text("timestamp,service,metric,value\n2026-11-02T10:05:00Z,web,disk_pct,140\n")
    over = cli("ingest", str(tmp_path / "p.csv"), workspace=tmp_path)
    assert over.code == 1 and "above 100" in over.err


def test_a_series_that_cannot_be_judged_is_named_in_the_analyze_summary(tmp_path, cli):
    t = pd.date_range(NOW - timedelta(days=3), NOW, freq="5min", inclusive="left")
    (tmp_path / "perfops.yaml").write_text(catalog_text())
    frame(t, "batch", "requests", np.full(t.size, 50.0)).assign(timestamp=t.strftime("%Y-%m-%dT%H:%M:%SZ")) \
        .to_csv(tmp_path / "t.csv", index=False)
    assert cli("ingest", str(tmp_path / "t.csv"), workspace=tmp_path).code == 0
    result = cli("analyze", "--period", "7d", workspace=tmp_path)
    assert result.code == 0
    assert "not judged: batch requests: no data before the period" in result.out


def test_a_regression_without_a_preceding_deploy_gets_no_release_advice_and_with_one_it_does():
    rng = np.random.default_rng(9)
    t = pd.date_range(NOW - timedelta(days=35), NOW, freq="5min", inclusive="left")
    x = traffic(rng, t)
    x[t >= "2026-11-26 10:00"] *= 0.3  # a sustained fall (weather, a competitor): no deploy
    cat = parse_catalog(catalog_text())
    alone = [f for f in trends.run(context(cat, frame(t, "web", "requests", x))) if f.kind == "regression"]
    assert alone and alone[0].event is None and "roll back" not in alone[0].recommendation
    deploy = pd.DataFrame({"timestamp": [datetime(2026, 11, 26, 9, 30)], "service": ["web"], "type": ["deploy"],
                           "version": ["2.4.0"], "description": [""]})
    after = [f for f in trends.run(context(cat, frame(t, "web", "requests", x), events=deploy))
             if f.kind == "regression"]
    assert after and after[0].event == "web 2.4.0" and "roll back" in after[0].recommendation


# ---------------------------------------------------------------- one service, two signals

EXCHANGE = "    metrics:\n      cpc: {direction: up, unit: USD}\n      cpm: {direction: up, unit: USD}\n"


def exchange_prices(cpm_rises: bool) -> pd.DataFrame:
    # an ad exchange's hourly unit prices (NAB realAdExchange: cost per click $0.05-0.20, per
    # thousand impressions $0.2-0.6); 26 hours at 2.2x the norm against four weeks of history (a
    # norm of 4 weekly samples per hour: a point less), under an earlier one-hour spike so that it
    # is no record. Alone the rise is low; the exchange's other price rising with it says the
    # service, not one noisy series, moved (exchange-4, 2011-08-02: both prices 2.1-2.4x for 26 h)
    rng = np.random.default_rng(13)
    t = pd.date_range(NOW - timedelta(days=35), NOW, freq="1h", inclusive="left")
    rising = (t >= "2026-11-25 04:00") & (t < "2026-11-26 06:00")
    cpc = 0.05 + 0.1 * shape(t) * rng.lognormal(0, 0.08, t.size)
    cpm = 0.2 + 0.4 * shape(t) * rng.lognormal(0, 0.08, t.size)
    cpc[rising] *= 2.2
    cpm[rising] *= 2.2 if cpm_rises else 1.0
    cpc[t == "2026-11-09 10:00"], cpm[t == "2026-11-09 10:00"] = 1.0, 4.0
    return pd.concat([frame(t, "web", "cpc", cpc), frame(t, "web", "cpm", cpm)])


@pytest.mark.parametrize("cpm_rises", [True, False])
def test_an_episode_another_metric_of_the_service_confirms_gains_a_point(cpm_rises):
    cat = parse_catalog(catalog_text(service_extra=EXCHANGE).replace("tier: 1", "tier: 2"))
    found = [f for f in trends.run(context(cat, exchange_prices(cpm_rises))) if f.metric == "cpc"]
    assert len(found) == 1, [(f.kind, f.title) for f in found]
    inputs = found[0].evidence["severity_inputs"]
    assert inputs["magnitude"] >= 1 and inputs["duration_minutes"] == 26 * 60
    if cpm_rises:
        assert inputs["corroborated"] and inputs["corroborated_by"].startswith("cpm")
        assert found[0].severity == "medium", inputs
    else:
        assert "corroborated" not in inputs
        assert found[0].severity == "low", inputs
