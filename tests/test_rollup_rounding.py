"""Stored rollups do not depend on the order DuckDB adds in: sums are kept to 12 significant
digits at the store boundary, so two analyses (and two renders) of the same data store and show
the same bytes."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from perfops.store import open_store
from perfops.store.telemetry_repo import round_significant

T0 = datetime(2026, 1, 5)


def test_a_rollup_sum_is_the_same_whatever_the_order_of_its_terms():
    costs = [0.1, 0.2, 0.3, 7.078060000000001, 1e-3]  # 0.1 + 0.2 + 0.3 != 0.3 + 0.2 + 0.1 in floats
    rows = pd.DataFrame({
        "timestamp": [T0 + timedelta(minutes=5 * i) for i in range(len(costs))],
        "service": "ledger", "endpoint": [f"GET /e{i}" for i in range(len(costs))], "consumer": "",
        "metric": "cost", "value": costs})
    with open_store(None) as store:
        with store.transaction():
            store.telemetry.upsert(rows)
        frame = store.telemetry.rollup(None, ["cost"], T0, T0 + timedelta(days=1), 86400)
    assert frame["value"].tolist() == [7.67906]


def test_rounding_keeps_twelve_significant_digits_and_leaves_the_rest():
    values = np.array([0.1 + 0.2 + 0.3, 0.3 + 0.2 + 0.1, 123456789.1234567, -2.5e-7, 0.0, np.nan, np.inf])
    rounded = round_significant(values)
    assert values[0] != values[1] and rounded[0] == rounded[1] == 0.6
    assert rounded[2] == 123456789.123 and rounded[3] == -2.5e-7 and rounded[4] == 0.0
    assert np.isnan(rounded[5]) and rounded[6] == np.inf
    assert np.allclose(rounded[:5], values[:5], rtol=5e-12, atol=0)  # half a unit of the 12th digit
