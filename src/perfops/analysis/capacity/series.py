"""Statistics over services x time matrices (on `perfops.analysis.grid.ServiceGrid`).

The capacity and cost analyses work on matrices (services x time steps) so that every
computation, the forecast included, runs for a whole chunk of services at once.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np


def resample_sum(matrix: np.ndarray, factor: int) -> np.ndarray:
    """Sum consecutive blocks of `factor` steps (NaN when a block is entirely missing)."""
    if factor <= 1:
        return matrix
    n, t = matrix.shape
    usable = t - t % factor
    blocks = matrix[:, t - usable:].reshape(n, usable // factor, factor)
    with np.errstate(invalid="ignore"):
        total = np.nansum(blocks, axis=2)
    total[np.isnan(blocks).all(axis=2)] = np.nan
    return total


def nan_quantile(matrix: np.ndarray, q: float) -> np.ndarray:
    """Row quantile ignoring NaN; NaN for an all-NaN row."""
    with np.errstate(invalid="ignore"), _quiet():
        return np.nanquantile(matrix, q, axis=1) if matrix.shape[1] else np.full(matrix.shape[0], np.nan)


def nan_mean(matrix: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"), _quiet():
        return np.nanmean(matrix, axis=1) if matrix.shape[1] else np.full(matrix.shape[0], np.nan)


@contextmanager
def _quiet() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield
