"""bench/real_domain.py: the real-data domain shifts NAB's series and windows together and scores
findings against the windows as documented (the figures themselves are in docs/benchmarks.md)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _bench():
    spec = importlib.util.spec_from_file_location("real_domain", ROOT / "bench" / "real_domain.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["real_domain"] = module
    spec.loader.exec_module(module)
    return module


rd = _bench()
needs_nab = pytest.mark.skipif(not rd.NAB.is_dir(), reason="../shared/data/nab is not present")
RDS = rd.Series("realAWSCloudwatch/rds_cpu_utilization_cc0c53.csv", "billing-db", "cpu_pct")
TAXI = rd.Series("realKnownCause/nyc_taxi.csv", "taxi-dispatch", "requests", step="30min")


@needs_nab
@pytest.mark.parametrize("series", [RDS, TAXI], ids=["5-minute", "30-minute"])
def test_series_and_windows_move_by_the_same_whole_weeks_to_end_in_the_last_week(series):
    labels = json.loads((rd.NAB / "labels" / "combined_windows.json").read_text())
    raw = pd.read_csv(rd.NAB / "data" / series.file, parse_dates=["timestamp"])
    frame, windows, shift = rd.load(series, labels)
    assert shift % pd.Timedelta(days=7) == pd.Timedelta(0)
    assert rd.END - rd.WEEK <= frame["timestamp"].max() < rd.END
    assert frame["timestamp"].min().dayofweek == (raw["timestamp"].min() + shift).dayofweek
    assert len(windows) == len(labels[series.file]) > 0
    for (a, b), (ra, rb) in zip(windows, labels[series.file], strict=True):
        assert (a - shift, b - shift) == (pd.Timestamp(ra), pd.Timestamp(rb))
        # the labelled moment carries the same value after the shift
        original = raw.loc[raw["timestamp"] == pd.Timestamp(ra), "value"].iloc[0]
        moved = frame.loc[frame["timestamp"] == a.round(series.step), "value"].iloc[0]
        assert moved == pytest.approx(original)


def _truth(first: str, last: str, windows: list[list[str]], service: str = "db") -> dict:
    return {"series": [{"file": "f.csv", "service": service, "metric": "cpu_pct", "first": first, "last": last,
                        "read": True, "step": "5min", "windows": windows}]}


def _finding(severity: str, start: str, end: str | None, service: str = "db", kind: str = "anomaly") -> dict:
    return {"severity": severity, "kind": kind, "service": service, "metric": "cpu", "start": start, "end": end,
            "title": "t"}


def test_a_window_is_found_by_an_overlapping_medium_finding_within_the_tolerance():
    truth = _truth("2026-11-02", "2026-11-29", [["2026-11-20 10:00", "2026-11-20 12:00"]])
    just_after = _finding("medium", "2026-11-20T12:50:00Z", "2026-11-20T13:30:00Z")
    assert rd.score(truth, [just_after])["recall"] == 1.0
    too_late = _finding("high", "2026-11-20T13:30:00Z", "2026-11-20T14:00:00Z")
    result = rd.score(truth, [too_late])
    assert result["recall"] == 0.0 and result["false_positives"] == 1
    low = _finding("low", "2026-11-20T11:00:00Z", "2026-11-20T11:30:00Z")
    assert rd.score(truth, [low])["recall"] == 0.0
    elsewhere = _finding("critical", "2026-11-20T11:00:00Z", "2026-11-20T11:30:00Z", service="web")
    assert rd.score(truth, [elsewhere])["recall"] == 0.0


def test_an_ongoing_finding_lasts_to_the_end_of_its_week_and_non_incidents_do_not_count():
    truth = _truth("2026-11-02", "2026-11-29", [["2026-11-27 10:00", "2026-11-27 12:00"]])
    ongoing = _finding("medium", "2026-11-26T00:00:00Z", None)
    assert rd.score(truth, [ongoing])["recall"] == 1.0
    gap = _finding("high", "2026-11-27T10:00:00Z", "2026-11-27T11:00:00Z", kind="data_gap")
    assert rd.score(truth, [gap])["recall"] == 0.0


def test_windows_without_a_week_of_history_are_listed_but_not_scored_and_series_weeks_need_history():
    truth = _truth("2026-11-16", "2026-11-29", [["2026-11-18 10:00", "2026-11-18 12:00"],
                                                 ["2026-11-25 10:00", "2026-11-25 12:00"]])
    result = rd.score(truth, [])
    assert [r["scored"] for r in result["windows"]] == [False, True]
    assert result["scored_windows"] == 1
    # the only week with 7 days of history before it is the week to END
    assert rd.week_ends(truth) == [rd.END]
    assert result["series_weeks"] == 1


@needs_nab
def test_two_real_series_go_through_ingest_and_weekly_analyze(tmp_path):
    truth = rd.build(tmp_path, [RDS, rd.Series("realAWSCloudwatch/rds_cpu_utilization_e47b3b.csv", "orders-db",
                                               "cpu_pct")])
    assert (tmp_path / "perfops.yaml").is_file() and (tmp_path / "telemetry.csv").is_file()
    rd.analyse(tmp_path, truth)
    result = rd.score(truth, rd.findings_of(tmp_path))
    assert result["series_weeks"] == 2
    assert result["scored_windows"] == sum(r["history_days"] >= 7 for r in result["windows"]) > 0
    assert 0.0 <= result["recall"] <= 1.0


def test_the_heldout_mapping_shares_no_series_or_service_with_the_main_one():
    main, held = rd.MAPPINGS["main"], rd.MAPPINGS["heldout"]
    assert len(held) >= 12
    assert not {s.file for s in main} & {s.file for s in held}
    assert not {s.service for s in main} & {s.service for s in held}
    for series in held:  # well-formed: each a metric perfops reads, as a built-in or a declared gauge
        assert series.metric in rd.known_metrics() or (series.service, series.metric) in rd.HELDOUT_GAUGES
        assert len({(s.service, s.metric) for s in held if s.service == series.service and s.metric == series.metric}) == 1
    services = {s.service for s in held}
    assert set(rd.HELDOUT_TIERS) <= services
    assert all(set(deps) <= services for deps in rd.HELDOUT_DEPENDS.values())


@needs_nab
def test_every_heldout_series_is_a_labelled_nab_file_with_two_weeks_of_data():
    labels = json.loads((rd.NAB / "labels" / "combined_windows.json").read_text())
    for series in rd.MAPPINGS["heldout"]:
        assert series.file in labels
        frame, _, _ = rd.load(series, labels)
        assert frame["timestamp"].max() - frame["timestamp"].min() >= pd.Timedelta(days=13)
    assert sum(len(labels[s.file]) for s in rd.MAPPINGS["heldout"]) >= 20


def test_the_three_mappings_share_no_series_or_service():
    mappings = {name: rd.MAPPINGS[name] for name in ("main", "heldout", "fresh")}
    for a in mappings:
        for b in mappings:
            if a < b:
                assert not {s.file for s in mappings[a]} & {s.file for s in mappings[b]}, (a, b)
                assert not {s.service for s in mappings[a]} & {s.service for s in mappings[b]}, (a, b)
    fresh = mappings["fresh"]
    for series in fresh:  # each a metric perfops reads, as a built-in or a declared gauge, once
        assert series.metric in rd.known_metrics() or (series.service, series.metric) in rd.FRESH_GAUGES
        assert sum((s.service, s.metric) == (series.service, series.metric) for s in fresh) == 1
    assert set(rd.FRESH_TIERS) <= {s.service for s in fresh}


@needs_nab
def test_the_fresh_mapping_is_every_labelled_real_nab_series_the_other_two_leave_out():
    labels = json.loads((rd.NAB / "labels" / "combined_windows.json").read_text())
    real = {f for f in labels if f.startswith("real")}
    used = {s.file for s in rd.MAPPINGS["main"]} | {s.file for s in rd.MAPPINGS["heldout"]}
    assert {s.file for s in rd.MAPPINGS["fresh"]} == real - used
    scored = 0
    for series in rd.MAPPINGS["fresh"]:
        frame, windows, shift = rd.load(series, labels)
        assert shift % pd.Timedelta(days=7) == pd.Timedelta(0)
        assert rd.END - rd.WEEK <= frame["timestamp"].max() < rd.END
        # hourly prices stay hourly: one row an hour, on the hour, none dropped but duplicates
        if series.step == "1h":
            assert (frame["timestamp"].dt.minute == 0).all() and frame["timestamp"].diff().min() == pd.Timedelta(hours=1)
        scored += sum(a - frame["timestamp"].min() >= rd.WEEK for a, _ in windows)
    assert scored >= 15
