"""E-divisive change-point detection over a short series (one value per test run).

Method: Matteson & James (2014), "A nonparametric approach for multiple change point analysis
of multivariate data", JASA 109(505) — the method Apache Otava (formerly Hunter, MongoDB's
"Change point detection in software performance testing", Daly et al., ICPE 2020) applies to
performance-test results. For a split τ of a segment into X = s[lo:τ] and Y = s[τ:hi]:

    E(τ) = 2/(m·n) Σ|x−y| − 1/m² Σ|x−x'| − 1/n² Σ|y−y'|,   Q(τ) = m·n/(m+n) · E(τ)

with Y = s[τ:κ] searched over κ as well (so a shift that later reverts is found). The best split
maximises Q; it is kept when a permutation test (shuffle the segment, recompute
max Q) gives p ≤ alpha; then both halves are searched again (divisive, top-down). The
permutations use a seeded generator, so the same series always gives the same answer.

Pure numpy: a series in, `ChangePoint`s out. Known-answer tests pin exact indexes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ChangePoint:
    index: int  # first index of the new regime
    before: float  # mean of the segment before
    after: float  # mean of the segment after
    p_value: float

    @property
    def change(self) -> float:
        """Relative change of the mean, e.g. +0.5 = 50 % higher after."""
        return (self.after - self.before) / abs(self.before) if self.before else float("inf")


def _best_split(x: np.ndarray, min_size: int) -> tuple[int, float]:
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
        _, q_perm = _best_split(rng.permutation(x), min_size)
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
        tau, q = _best_split(seg, min_size)
        p = _p_value(seg, q, min_size, permutations, rng, alpha)
        if p > alpha:
            continue
        found.append((lo + tau, p))
        stack.extend([(lo, lo + tau), (lo + tau, hi)])
    found.sort()
    bounds = [0, *[i for i, _ in found], x.size]
    return [
        ChangePoint(index=i, before=float(x[bounds[k]:i].mean()), after=float(x[i:bounds[k + 2]].mean()), p_value=p)
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
