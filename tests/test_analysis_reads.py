"""The shortcuts `perfops analyze` takes at scale give what the plain computation gives.

- The analysis read of telemetry (`TelemetryRepo.load(categorical=True)`) is ordered in numpy on
  integer codes: the same rows, in the same order (series by their text's byte order, then
  time), with the same categories in the same order, as the store's ORDER BY then Arrow's
  strings_to_categorical, whatever order the rows were written in.
- A seasonal norm is computed over the series with a history only, and a young norm only for the
  series that need one: each series gets the norm it gets on its own.
- The step of a regular series is found without a median of its own: every series' step is the
  median of its positive gaps.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from perfops.analysis.seasonal import seasonal_norm
from perfops.analysis.steps import series_steps
from perfops.model.tables import TELEMETRY_COLUMNS
from perfops.store import open_store

T0 = datetime(2026, 3, 2)


def scrambled_rows(seed: int) -> pd.DataFrame:
    """Series written time-major in random order, names whose byte order differs from their
    first appearance (and from a case-folding order), per-consumer rows among them."""
    rng = np.random.default_rng(seed)
    names = [("zeta", ""), ("Zeta", "GET /b"), ("alpha", "GET /a"), ("alpha", ""), ("é-svc", "POST /x"),
             ("e-svc", "")]
    rows = []
    for minute in rng.permutation(60):
        for service, endpoint in [names[i] for i in rng.permutation(len(names))]:
            for metric in ("requests", "latency_p95_ms"):
                consumer = "mobile" if (minute + len(service)) % 7 == 0 else ""
                rows.append((T0 + timedelta(minutes=5 * int(minute)), service, endpoint, consumer, metric,
                             float(rng.integers(0, 1000))))
    return pd.DataFrame(rows, columns=TELEMETRY_COLUMNS)


@pytest.mark.parametrize("seed", [1, 2])
def test_the_analysis_read_is_the_ordered_read_with_categories(seed: int) -> None:
    with open_store(None) as store:
        with store.transaction():
            store.telemetry.upsert(scrambled_rows(seed))
        for kwargs in ({}, {"services": ["zeta", "é-svc", "alpha"]}, {"endpoint": ""}, {"consumers": True},
                       {"metrics": ["latency_p95_ms"], "start": T0 + timedelta(hours=1)}, {"services": ["none"]}):
            sql = (f"SELECT {', '.join(TELEMETRY_COLUMNS)} FROM telemetry ORDER BY service, endpoint, consumer, "
                   "metric, timestamp")
            expected = store.con.sql(sql).to_arrow_table().to_pandas(strings_to_categorical=True)
            expected = _filtered(expected, **kwargs)
            got = store.telemetry.load(categorical=True, **kwargs)
            pd.testing.assert_frame_equal(got, expected)
            for column in ("service", "endpoint", "consumer", "metric"):
                assert list(got[column].cat.categories) == list(expected[column].cat.categories)
                assert np.array_equal(got[column].cat.codes, expected[column].cat.codes)


def _filtered(frame: pd.DataFrame, services: list[str] | None = None, endpoint: str | None = None,
              consumers: bool | None = None, metrics: list[str] | None = None,
              start: datetime | None = None) -> pd.DataFrame:
    """The ordered read restricted as load() restricts it, categories rebuilt in order of first
    appearance (as Arrow makes them for the rows it converts)."""
    keep = pd.Series(True, index=frame.index)
    if services is not None:
        keep &= frame["service"].astype(str).isin(services)
    if endpoint is not None:
        keep &= frame["endpoint"].astype(str) == endpoint
    if consumers is not None:
        keep &= (frame["consumer"].astype(str) != "") == consumers
    if metrics is not None:
        keep &= frame["metric"].astype(str).isin(metrics)
    if start is not None:
        keep &= frame["timestamp"] >= start
    out = frame[keep.to_numpy()].reset_index(drop=True)
    for column in ("service", "endpoint", "consumer", "metric"):
        values = out[column].astype(str)
        out[column] = pd.Categorical(values, categories=pd.Index(pd.unique(values.to_numpy()), dtype=object))
    return out


def test_each_series_gets_the_seasonal_norm_it_gets_alone() -> None:
    rng = np.random.default_rng(5)
    step, days = 3600, 21
    history = rng.normal(100, 10, (5, days * 24))
    history[1] = np.nan  # no history: no norm
    history[2, : 12 * 24] = np.nan  # nine days: a young norm
    history[3, rng.random(days * 24) < 0.4] = np.nan  # gaps
    epoch = 1_772_409_600 + step * np.arange(days * 24 + 7 * 24)
    together = seasonal_norm(history, epoch[: days * 24], epoch[days * 24:], step, spread=0)
    for row in range(history.shape[0]):
        alone = seasonal_norm(history[row: row + 1], epoch[: days * 24], epoch[days * 24:], step, spread=0)
        for name in ("level", "scale", "samples"):
            assert np.array_equal(getattr(together, name)[row], getattr(alone, name)[0], equal_nan=True), (row, name)
    assert np.isnan(together.level[1]).all() and (together.samples[1] == 0).all()
    assert np.isfinite(together.level[2]).all()


def test_the_step_of_every_series_is_the_median_of_its_positive_gaps() -> None:
    gaps = {"regular": [300] * 20, "jittered": [300, 240, 360, 300, 900, 300, 0, 300], "single": [],
            "repeats": [0, 0, 60, 0, 60, 60, 120], "hourly": [3600] * 5}
    rows = []
    for name, spacing in gaps.items():
        moment = T0
        rows.append((moment, name, "", "requests", 1.0))
        for gap in spacing:
            moment += timedelta(seconds=gap)
            rows.append((moment, name, "", "requests", 1.0))
    frame = pd.DataFrame(rows, columns=["timestamp", "service", "endpoint", "metric", "value"])
    steps = series_steps(frame)
    for name, spacing in gaps.items():
        positive = [g for g in spacing if g > 0]
        expected = int(np.median(positive)) if positive else 300
        assert steps[(name, "", "requests")] == expected, name
