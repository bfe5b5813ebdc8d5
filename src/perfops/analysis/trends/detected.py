"""The streaming detector as evidence for a trends finding (issue 13, tried on branch detrec).

`perfops detect` (`perfops.analysis.detector`) scores a series causally, calibrated on NAB. A
trends episode that the severity policy rates `low` asks it for a second opinion: the detector is
run over the episode's series from the first loaded step to the episode's end (history and
period, no look-ahead beyond the episode), and the highest score within the episode is
`Impact.detector_score`. The policy (`perfops.analysis.severity.incident`) decides what the
score does; this module only computes it, and only for the episodes that ask (bounded cost).
"""

from __future__ import annotations

import numpy as np

from perfops.analysis.detector import score_series
from perfops.analysis.grid import Grid


class DetectorEvidence:
    """Detector scores of the grid's series, computed once per (metric, row) when first asked."""

    def __init__(self, grid: Grid, split: int) -> None:
        self.grid = grid
        self.split = split
        self._scores: dict[tuple[str, int], np.ndarray] = {}

    def episode_score(self, metric: str, row: int, start: int, end: int | None) -> float | None:
        """The highest detector score over period columns [start, end) of one series; None when
        the metric is not on the grid or the series has no data."""
        scores = self.scores(metric, row)
        if scores is None:
            return None
        part = scores[self.split + start: self.split + (end if end is not None else scores.size - self.split)]
        return float(part.max()) if part.size else None

    def scores(self, metric: str, row: int) -> np.ndarray | None:
        key = (metric, row)
        if key not in self._scores:
            values = self.grid.values.get(metric)
            if values is None:
                return None
            x = values[row]
            seen = np.flatnonzero(np.isfinite(x))
            if seen.size == 0:
                return None
            out = np.zeros(x.size)
            out[seen[0]:] = score_series(x[seen[0]:], float(self.grid.step))
            self._scores[key] = out
        return self._scores[key]
