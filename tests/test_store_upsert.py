"""TelemetryRepo.upsert: the newest row wins per key (timestamp, service, endpoint, consumer,
metric), whatever the spacing of the times, and rows of other series are never touched.

The repeated-key check works on slots (one bit per time unit per series) or, for series spread
too thinly, on hashes: both paths are run against a plain Python model of last-write-wins."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perfops.store import open_store, telemetry_repo

T0 = datetime(2026, 1, 5, 10, 0)


def rows(*items: tuple[datetime, str, str, str, float]) -> pd.DataFrame:
    """(timestamp, service, endpoint, metric, value) → canonical rows (all consumers)."""
    frame = pd.DataFrame(items, columns=["timestamp", "service", "endpoint", "metric", "value"])
    frame.insert(3, "consumer", "")
    return frame[["timestamp", "service", "endpoint", "consumer", "metric", "value"]]


def stored(store) -> list[tuple]:
    frame = store.telemetry.load()
    return sorted(zip(frame["timestamp"], frame["service"], frame["endpoint"], frame["metric"], frame["value"],
                      strict=True))


def write(store, frame: pd.DataFrame) -> int:
    with store.transaction():
        return store.telemetry.upsert(frame)


@pytest.mark.parametrize("step", [timedelta(minutes=5), timedelta(seconds=7), timedelta(milliseconds=3),
                                  timedelta(microseconds=1)])
def test_a_key_repeated_within_one_write_keeps_its_last_row(step):
    frame = rows(*[(T0 + i * step, "payments", "", "requests", float(i)) for i in range(5)],
                 (T0 + 2 * step, "payments", "", "requests", 99.0))
    with open_store(None) as store:
        assert write(store, frame) == 6
        assert [r[4] for r in stored(store)] == [0.0, 1.0, 99.0, 3.0, 4.0]


def test_series_with_gaps_and_odd_times_are_not_mistaken_for_repeats():
    times = [T0, T0 + timedelta(minutes=5), T0 + timedelta(hours=3, seconds=1), T0 + timedelta(days=9)]
    frame = rows(*[(t, "payments", "", "requests", float(i)) for i, t in enumerate(times)],
                 *[(t, "payments", "GET /pay", "requests", 10.0 + i) for i, t in enumerate(times)])
    with open_store(None) as store:
        write(store, frame)
        assert len(stored(store)) == 8


def test_a_later_write_replaces_only_the_keys_it_repeats():
    first = rows(*[(T0 + timedelta(minutes=5 * i), "payments", e, m, 1.0)
                   for i in range(4) for e in ("", "GET /pay") for m in ("requests", "errors")])
    # the same service and hours, an overlapping series (whole service, requests) and a new one
    second = rows((T0 + timedelta(minutes=5), "payments", "", "requests", 2.0),
                  (T0 + timedelta(minutes=5), "payments", "", "cpu_pct", 3.0))
    with open_store(None) as store:
        write(store, first)
        write(store, second)
        kept = stored(store)
    assert len(kept) == 16 + 1
    assert (T0 + timedelta(minutes=5), "payments", "", "requests", 2.0) in kept
    assert (T0 + timedelta(minutes=5), "payments", "", "requests", 1.0) not in kept


def test_the_hash_path_for_thinly_spread_series_gives_the_same_answer(monkeypatch):
    monkeypatch.setattr(telemetry_repo, "_MAX_SLOTS", 0)
    frame = rows((T0, "payments", "", "requests", 1.0), (T0 + timedelta(days=400), "payments", "", "requests", 2.0),
                 (T0, "payments", "", "requests", 3.0))
    with open_store(None) as store:
        write(store, frame)
        assert [r[4] for r in stored(store)] == [3.0, 2.0]


_key = st.tuples(st.integers(0, 40), st.sampled_from(["payments", "checkout-api"]), st.sampled_from(["", "GET /a"]),
                 st.sampled_from(["requests", "latency_p95_ms"]))
_unit = st.sampled_from([timedelta(minutes=1), timedelta(seconds=1), timedelta(microseconds=1000),
                         timedelta(microseconds=1)])


@settings(max_examples=40, deadline=None)
@given(writes=st.lists(st.lists(_key, min_size=1, max_size=30), min_size=1, max_size=3), unit=_unit)
def test_newest_row_wins_like_a_dictionary(writes, unit):
    """Any writes of any keys: the store holds exactly what a dict updated in order holds."""
    model: dict[tuple, float] = {}
    with open_store(None) as store:
        for w, keys in enumerate(writes):
            items = [(T0 + k[0] * unit, k[1], k[2], k[3], float(100 * w + i)) for i, k in enumerate(keys)]
            for t, s, e, m, v in items:
                model[(t, s, e, m)] = v
            write(store, rows(*items))
        assert stored(store) == sorted((*key, value) for key, value in model.items())
