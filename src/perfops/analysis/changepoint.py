"""Change points in the mean of a series: the one change-point engine and its one type.

Two searches share the `ChangePoint` record:

- `find_change_points` for long telemetry series (trends: level shifts, growth): binary
  segmentation with Welch t-test significance, below;
- `e_divisive` for short series of one value per load-test run (feedback): E-divisive with a
  permutation test (see `e_divisive`), and `latest_outlier` for the last run alone.

Binary segmentation:

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
    p_value: float  # two-sided, corrected for the number of splits tried (a permutation p for e_divisive)
    n_before: int
    n_after: int
    t: float = 0.0  # Welch t statistic (after - before); 0 from e_divisive, which has none

    @property
    def effect_size(self) -> float:
        """after - before in units of the pooled standard deviation (Cohen's d, approx.)."""
        n = self.n_before * self.n_after / (self.n_before + self.n_after)
        return self.t / np.sqrt(n) if n > 0 else 0.0

    @property
    def change(self) -> float:
        """Relative change of the mean, e.g. +0.5 = 50 % higher after."""
        return (self.after - self.before) / abs(self.before) if self.before else float("inf")


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
    return ChangePoint(k, mean + left / k, mean - left / (n - k), p, k, n - k, t)


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
        return ChangePoint(k, float(x[lo:k].mean()), float(x[k:hi].mean()), 1.0, k - lo, hi - k)
    cache[(lo, hi)] = ChangePoint(lo + cp.index, cp.before, cp.after, cp.p_value, cp.n_before, cp.n_after, cp.t)
    return cache[(lo, hi)]


# E-divisive change-point detection over a short series (one value per test run).
#
# Method: Matteson & James (2014), "A nonparametric approach for multiple change point analysis
# of multivariate data", JASA 109(505) — the method Apache Otava (formerly Hunter, MongoDB's
# "Change point detection in software performance testing", Daly et al., ICPE 2020) applies to
# performance-test results. For a split τ of a segment into X = s[lo:τ] and Y = s[τ:hi]:
#
#     E(τ) = 2/(m·n) Σ|x−y| − 1/m² Σ|x−x'| − 1/n² Σ|y−y'|,   Q(τ) = m·n/(m+n) · E(τ)
#
# with Y = s[τ:κ] searched over κ as well (so a shift that later reverts is found). The best split
# maximises Q; it is kept when a permutation test (shuffle the segment, recompute
# max Q) gives p ≤ alpha; then both halves are searched again (divisive, top-down). The
# permutations use a seeded generator, so the same series always gives the same answer.
#
# Pure numpy: a series in, `ChangePoint`s out. Known-answer tests pin exact indexes
# (tests/test_feedback_loop.py).


def _energy_split(x: np.ndarray, min_size: int) -> tuple[int, float]:
    """(τ, Q) maximising the energy statistic over τ, with Y = x[τ:κ] for the best κ too
    (Matteson & James' extension that finds a shift that later reverts, e.g. a bump)."""
    n = x.size
    dist = np.abs(x[:, None] - x[None, :])
    best_tau, best_q = -1, -np.inf
    for tau in range(min_size, n - min_size + 1):
        m = tau
        within_x = dist[:tau, :tau].sum()
        kappas = np.arange(tau + min_size, n + 1)
        k = kappas - tau
        between = np.cumsum(dist[:tau, tau:].sum(axis=0))[k - 1]
        block = dist[tau:, tau:]
        within_y = np.cumsum(2 * np.tril(block, -1).sum(axis=1))[k - 1]
        e = 2.0 * between / (m * k) - within_x / (m * m) - within_y / (k * k)
        q = m * k / (m + k) * e
        i = int(np.argmax(q))
        if q[i] > best_q:
            best_tau, best_q = tau, float(q[i])
    return best_tau, float(best_q)


def _p_value(x: np.ndarray, q: float, min_size: int, permutations: int, rng: np.random.Generator,
             alpha: float) -> float:
    """Permutation p-value of Q; stops as soon as it can no longer come out ≤ alpha (the
    answer, significant or not, is the same as with every permutation run)."""
    exceed = 0
    for done in range(1, permutations + 1):
        _, q_perm = _energy_split(rng.permutation(x), min_size)
        if q_perm >= q - 1e-12:
            exceed += 1
            if (exceed + 1) / (permutations + 1) > alpha:
                return (exceed + 1) / (done + 1)
    return (exceed + 1) / (permutations + 1)


def e_divisive(
    series: np.ndarray | list[float], alpha: float = 0.05, min_size: int = 2,
    permutations: int = 199, seed: int = 42,
) -> list[ChangePoint]:
    """Significant change points of `series`, in index order."""
    x = np.asarray(series, dtype=float)
    rng = np.random.default_rng(seed)
    found: list[tuple[int, float]] = []
    stack = [(0, x.size)]
    while stack:
        lo, hi = stack.pop()
        seg = x[lo:hi]
        if seg.size < 2 * min_size or np.ptp(seg) == 0:
            continue
        tau, q = _energy_split(seg, min_size)
        p = _p_value(seg, q, min_size, permutations, rng, alpha)
        if p > alpha:
            continue
        found.append((lo + tau, p))
        stack.extend([(lo, lo + tau), (lo + tau, hi)])
    found.sort()
    bounds = [0, *[i for i, _ in found], x.size]
    return [
        ChangePoint(index=i, before=float(x[bounds[k]:i].mean()), after=float(x[i:bounds[k + 2]].mean()), p_value=p,
                    n_before=i - bounds[k], n_after=bounds[k + 2] - i)
        for k, (i, p) in enumerate(found)
    ]


def latest_outlier(series: np.ndarray | list[float], min_history: int = 3, k: float = 4.0) -> float | None:
    """A last value far above its history (median + k·MAD, and ≥ 20 % above the median) — the
    case E-divisive cannot call yet (one point after the change). Returns its relative change
    vs the history median, or None."""
    x = np.asarray(series, dtype=float)
    if x.size < min_history + 1:
        return None
    history, last = x[:-1], x[-1]
    median = float(np.median(history))
    mad = float(np.median(np.abs(history - median))) * 1.4826
    if median <= 0:
        return None
    if last > median + k * max(mad, 0.02 * median) and last >= 1.2 * median:
        return (last - median) / median
    return None
