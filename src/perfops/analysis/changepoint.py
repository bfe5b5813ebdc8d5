"""Change points in the mean of a series: binary segmentation with Welch t-test significance.

The approach of Apache Otava / MongoDB's CI analysis (Daly et al., "The Use of Change Point
Detection to Identify Software Performance Regressions in a Continuous Integration System",
ICPE 2020): split the series where the two sides differ most, keep the split when a t-test
says the difference is significant, recurse into both sides, then re-test every kept change
point against its neighbours only and drop those that are no longer significant.

Otava scores candidate splits with the E-divisive energy statistic (Matteson & James 2014);
here the candidate at each level is the maximum of the Welch t statistic over all splits,
computed for every split at once from running sums (O(n) per level, O(n log n) overall), and
its p-value is corrected for the scan by a factor 1 + ln(m) for m splits tried (neighbouring
splits are strongly correlated, so the effective number of tests grows like ln m rather than m;
full Bonferroni loses power on short series), so scanning many positions does not manufacture
significance: on pure noise of 2,000 points it finds nothing at alpha = 0.001. Known answer (see tests/test_trends_changepoint.py)::

    values:  10 10 10 10 10 10 10 10 | 20 20 20 20 20 20 20 20     -> [8]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ChangePoint:
    index: int  # first row of the new level
    before: float  # mean of the segment before
    after: float  # mean of the segment after
    t: float  # Welch t statistic (after - before)
    p_value: float  # two-sided, corrected for the number of splits tried
    n_before: int
    n_after: int

    @property
    def effect_size(self) -> float:
        """after - before in units of the pooled standard deviation (Cohen's d, approx.)."""
        n = self.n_before * self.n_after / (self.n_before + self.n_after)
        return self.t / np.sqrt(n) if n > 0 else 0.0


def t_pvalue(t: float, df: float) -> float:
    """Two-sided p-value of Student's t."""
    from scipy.special import stdtr

    return float(2.0 * stdtr(max(df, 1.0), -abs(t)))


def best_split(x: np.ndarray, min_size: int = 5) -> ChangePoint | None:
    """The single most significant change in mean of x, or None if x is too short.

    Student t with pooled variance over the splits k in [min_size, n - min_size]; its maximum is
    the least-squares split (the l2 cost of PELT and binary segmentation), the maximum-likelihood
    location of a mean shift. The between-segment sum of squares is maximised first (it orders
    splits as |t| does), then t is computed for that split only."""
    x = np.asarray(x, dtype=float)
    n = x.size
    if n - 2 * min_size + 1 <= 0:
        return None
    mean = x.mean()
    d = x - mean
    s1 = np.cumsum(d)[min_size - 1: n - min_size]
    n1 = np.arange(min_size, n - min_size + 1, dtype=float)
    i = int(np.argmax(s1 * s1 / (n1 * (n - n1))))
    k = min_size + i
    left = float(s1[i])
    between = left * left * n / (k * (n - k))
    total_ss = float(d @ d)
    within = max(total_ss - between, 1e-18 * (total_ss + 1e-300))
    t = (-1.0 if left > 0 else 1.0) * float(np.sqrt(between / (within / max(n - 2, 1))))
    p = min(1.0, t_pvalue(t, float(max(n - 2, 1))) * (1.0 + float(np.log(s1.size))))
    return ChangePoint(k, mean + left / k, mean - left / (n - k), t, p, k, n - k)


def find_change_points(x: np.ndarray, alpha: float = 0.001, min_size: int = 5,
                       max_points: int = 50) -> list[ChangePoint]:
    """All significant changes in mean, by binary segmentation then pruning (see module doc).

    As in Otava, the split pass uses a relaxed threshold (10 x alpha) to find "weak" candidates;
    the pruning pass keeps only those significant at alpha between their neighbours."""
    x = np.asarray(x, dtype=float)
    found: list[int] = []
    stack = [(0, x.size)]
    weak_alpha = min(10 * alpha, 0.5)
    while stack and len(found) < max_points:
        lo, hi = stack.pop()
        cp = best_split(x[lo:hi], min_size)
        if cp is None or cp.p_value >= weak_alpha:
            continue
        found.append(lo + cp.index)
        stack.extend([(lo, lo + cp.index), (lo + cp.index, hi)])
    return prune(x, sorted(found), alpha, min_size)


def prune(x: np.ndarray, points: list[int], alpha: float, min_size: int) -> list[ChangePoint]:
    """Re-locate and re-test each change point on the span between its neighbours; drop the
    weakest insignificant one and repeat until all hold (Otava's merge step)."""
    cache: dict[tuple[int, int], ChangePoint] = {}
    while True:
        tested = [_retest(x, points, i, min_size, cache) for i in range(len(points))]
        points = [cp.index for cp in tested]
        weak = [(cp.p_value, i) for i, cp in enumerate(tested) if cp.p_value >= alpha]
        if not weak:
            return tested
        points = [p for j, p in enumerate(points) if j != max(weak)[1]]


def _retest(x: np.ndarray, points: list[int], i: int, min_size: int,
            cache: dict[tuple[int, int], ChangePoint]) -> ChangePoint:
    """The best split between the neighbours of change point i (its refined location)."""
    lo = points[i - 1] if i > 0 else 0
    hi = points[i + 1] if i + 1 < len(points) else x.size
    if (lo, hi) in cache:
        return cache[(lo, hi)]
    cp = best_split(x[lo:hi], min_size)
    if cp is None:  # neighbours too close: keep the point, judged on its two sides
        k = points[i]
        return ChangePoint(k, float(x[lo:k].mean()), float(x[k:hi].mean()), 0.0, 1.0, k - lo, hi - k)
    cache[(lo, hi)] = ChangePoint(lo + cp.index, cp.before, cp.after, cp.t, cp.p_value, cp.n_before, cp.n_after)
    return cache[(lo, hi)]
