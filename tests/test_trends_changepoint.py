"""Change points: known answers, no false alarms on noise, the statistics reported."""

from __future__ import annotations

import numpy as np

from perfops.analysis.changepoint import best_split, find_change_points


def test_known_answer_single_step():
    x = np.array([10.0] * 8 + [20.0] * 8)
    cps = find_change_points(x)
    assert [c.index for c in cps] == [8]
    assert cps[0].before == 10 and cps[0].after == 20


def test_three_shifts_exact_indexes():
    rng = np.random.default_rng(11)
    x = rng.normal(0, 1, 400)
    x[100:] += 3
    x[220:] -= 5
    x[330:] += 4
    assert [c.index for c in find_change_points(x)] == [100, 220, 330]


def test_noise_has_no_change_points():
    rng = np.random.default_rng(5)
    found = sum(len(find_change_points(rng.normal(size=1000))) for _ in range(20))
    assert found == 0


def test_best_split_statistics():
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.normal(100, 5, 60), rng.normal(130, 5, 60)])
    cp = best_split(x)
    assert cp is not None and abs(cp.index - 60) <= 2
    assert cp.t > 0 and cp.p_value < 1e-10 and cp.effect_size > 3
    assert cp.n_before + cp.n_after == 120


def test_too_short_series():
    assert best_split(np.array([1.0, 2.0, 3.0])) is None
    assert find_change_points(np.array([1.0, 2.0])) == []
