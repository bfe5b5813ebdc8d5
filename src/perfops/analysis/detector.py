"""Streaming anomaly scores in [0, 1] for one series, with no look-ahead.

The engine behind `perfops detect`. Every score at row t is computed from rows 0..t only.
Two methods, one parameter set each for every series (see docs/methods/trends.md):

- ``method="fast"`` (the default): new extremes plus calibrated window statistics, a few
  vectorised numpy passes (O(n) each), so a long series scores at over a million points per
  second (steps 0-6 below). NAB v1.1: 75.4 / 68.5 / 79.8 (docs/bench/trends.md).
- ``method="context"``: a contextual sequence-memory detector in the manner of CAD OSE
  (`perfops.analysis.detector_context`) blended with 25 % of the "fast" score. Pure Python
  (thousands of points per second); kept for comparison.

The "fast" method:

0. A non-negative series that is strongly right-skewed during burn-in is log-scaled for the
   window statistics (counts such as tweets or bytes written).
1. *Surprise features*, each a causal, scale-free statistic of the newest rows against the
   rows before them (mean and standard deviation from running sums):
   - level: |mean of the last w rows - mean of the previous h rows| / their std, for the
     (h, w) pairs of ``levels`` (w = 1 is the classic windowed Gaussian z; a mean of w rows
     catches a level shift early, as a CUSUM would; a short h adapts, a long h remembers);
   - daily pattern: the mean absolute difference to the same time a day before, as a z-score
     against its own history of ``long`` rows (a missing daily peak is not an outlier in
     value); from the second day on, whatever the file's length; its record ratio (step 2)
     counts at ``daily_weight`` (0.7): day-to-day differences are noisier than levels;
   - optional, off by default: spread |log(std of w rows / std of h rows)| (``spreads``) and
     the relative entropy of the recent histogram (``entropy_window``; Wang et al. 2011).
2. *Calibration by records*: each feature is divided by its own maximum over the previous
   ``memory`` rows. A ratio above 1 means "more surprising than anything seen lately" — the
   relative-record idea that makes one threshold transfer between series of any scale and
   noise; it plays the role of HTM's "anomaly likelihood" (Ahmad et al. 2017), a tail
   probability of the recent raw score against its own history.
3. The largest ratio is mapped to [0, ``statistics_weight``] by a logistic curve centred on 1.
4. *New extremes* ("spatial anomalies" of NAB's HTM detectors, which set the final score to 1
   when a value leaves the range seen so far by more than SPATIAL_TOLERANCE = 5 % of it;
   numenta/NAB, nab/detectors/numenta): a value beyond every value of the last
   ``extreme_memory`` rows scores
   ``extreme_floor`` + (1 - ``extreme_floor``) tanh(``extreme_gain`` x excess / range seen).
   The final score is the larger of steps 3 and 4: an extreme ranks above all but the
   strongest statistical surprises. This is the most precise single signal on NAB (alone, with
   step 6: 57.0 / 55.1 / 59.3, 48 false detections in the corpus).
5. *Burn-in*: the first ``burn_in`` rows only learn (score 0); NAB's probation (15 % of a file)
   is longer, so the records and the range seen are learnt there.
6. *Suppression*: after a high score, later scores within ``suppress`` rows are kept only when
   they exceed it (one alarm per event: NAB, Lavin & Ahmad 2015, rewards the first detection
   in a window and charges every later false one).
   Last, the square root: a monotone stretch that changes no ranking (NAB's threshold sweep
   is unaffected) and puts a clear alarm above 0.8.

The feature set and weights are one parameter set for every series, chosen on the NAB corpus
by greedy forward selection; docs/bench/trends.md gives the 2-fold check (selection re-run on
half of the files, scored on the other half).

References: Lavin & Ahmad, "Evaluating Real-time Anomaly Detection Algorithms — the Numenta
Anomaly Benchmark", ICMLA 2015; Ahmad, Lavin, Purdy & Agha, "Unsupervised real-time anomaly
detection for streaming data", Neurocomputing 262 (2017).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DAY_SECONDS = 86_400.0


@dataclass(frozen=True)
class DetectorParams:
    # (h, w): the mean of the last w rows against the mean and std of the h rows before them
    levels: tuple[tuple[int, int], ...] = ((100, 3), (400, 27), (2000, 81), (6000, 1), (6000, 9))
    spreads: tuple[tuple[int, int], ...] = ()  # (h, w): std of the last w rows against h rows
    long: int = 1000  # rows of history of the daily-pattern and entropy features (~3.5 days at 5 min)
    daily_smooth: int = 3  # rows averaged in the daily-pattern feature (0 = off)
    daily_weight: float = 0.7  # the daily feature's record ratio counts at this share
    memory: int = 2000  # rows a record is remembered for calibration
    suppress: int = 100  # rows after an alarm in which only a higher score counts
    warmup: int = 20  # features of the first rows are not trusted (windows nearly empty)
    burn_in: int = 150  # rows learned before the first alarm (records need a history)
    entropy_window: int = 0  # rows of the relative-entropy feature (0 = off)
    entropy_bins: int = 10
    skew_for_log: float = 3.0  # burn-in skewness above which a non-negative series is log-scaled
    rearm: float = 1.0  # within `suppress` rows, a later score must be this many times higher
    gain: float = 4.0  # steepness of the logistic map of the record ratio
    statistics_weight: float = 0.8  # top of the window-statistics score, below extremes
    extreme_floor: float = 0.5  # score of a value just beyond every value seen (0 = off)
    extreme_gain: float = 0.5  # how fast that score rises with the excess (in ranges seen)
    extreme_memory: int = 12_000  # rows the range seen reaches back (0 = the whole past)
    method: str = "fast"  # "fast" (window statistics) or "context" (sequence memory + statistics)
    context_rest: int = 120  # rows silenced after a raw contextual score >= 0.75
    blend: float = 0.25  # share of the window-statistics score in the "context" method


METHODS = ("fast", "context")


def score_series(values: np.ndarray, step_seconds: float | None = None,
                 params: DetectorParams | None = None) -> np.ndarray:
    """Anomaly score in [0, 1] for each row; row t depends on rows 0..t only."""
    p = params or DetectorParams()
    if p.method not in METHODS:
        raise ValueError(f"unknown detector method {p.method!r}; known: {', '.join(METHODS)}")
    x = fill_forward(np.asarray(values, dtype=float))
    if x.size == 0:
        return np.zeros(0)
    with np.errstate(all="ignore"):  # overflow on values near 1e308 ends as 0 scores, not noise
        fast = statistics_scores(x, step_seconds, p)
    if p.method == "fast":
        return fast
    from perfops.analysis.detector_context import context_scores

    context = context_scores(x, rest=p.context_rest)
    return (1.0 - p.blend) * context + p.blend * fast


def statistics_scores(x: np.ndarray, step_seconds: float | None, p: DetectorParams) -> np.ndarray:
    """The score of steps 0-6 above, for a series without NaN."""
    ratio = record_ratio(tame_heavy_tail(x, p), step_seconds, p)
    return final_scores(ratio, extreme_scores(x, p) if p.extreme_floor > 0 else None, p)


def final_scores(ratio: np.ndarray, extremes: np.ndarray | None, p: DetectorParams) -> np.ndarray:
    """Steps 3, 4 and 6: the record ratio's logistic score, raised to the extremes' score,
    suppressed after alarms and stretched by a square root."""
    score = p.statistics_weight / (1.0 + np.exp(-p.gain * (ratio - 1.0))) * (ratio > 0)
    if extremes is not None:
        np.maximum(score, extremes, out=score)
    score = suppress_repeats(score, p.suppress, p.rearm)
    return np.sqrt(score, out=score)


def record_ratio(x: np.ndarray, step_seconds: float | None, p: DetectorParams) -> np.ndarray:
    """Steps 1-2: the largest ratio of a surprise feature to its recent record (0 in burn-in)."""
    ratio = np.zeros(x.size)
    for weight, feature in surprise_features(x, _period_rows(step_seconds), p):
        feature = np.where(np.isfinite(feature), np.maximum(feature, 0.0), 0.0)
        feature[: p.warmup] = 0.0
        record = recent_max_before(feature, p.memory)
        np.maximum(record, 1e-12, out=record)
        np.maximum(ratio, weight * feature / record, out=ratio)
    ratio[: p.burn_in] = 0.0
    return ratio


def extreme_scores(x: np.ndarray, p: DetectorParams) -> np.ndarray:
    """Step 4, the "spatial anomaly" of NAB's HTM detector: a value beyond every value before
    it scores `extreme_floor` + (1 - `extreme_floor`) tanh(gain * excess), the excess in units
    of the range (max - min) seen so far; other rows 0. No score in the burn-in rows.

    The range reaches back `extreme_memory` rows (six weeks at 5 minutes): on a long stream one
    old spike would otherwise hide every later extreme for good."""
    hi = np.empty(x.size)
    lo = np.empty(x.size)
    if p.extreme_memory and x.size > p.extreme_memory:
        hi[:] = recent_max_before(x, p.extreme_memory)
        lo[:] = -recent_max_before(-x, p.extreme_memory)
        hi[0] = lo[0] = x[0]
    else:
        hi[0] = lo[0] = x[0]
        np.maximum.accumulate(x[:-1], out=hi[1:])
        np.minimum.accumulate(x[:-1], out=lo[1:])
    span = np.maximum(hi - lo, 1e-9 * (np.abs(hi) + 1.0))
    excess = np.maximum(x - hi, lo - x) / span
    excess[: p.burn_in] = 0.0
    tail = np.tanh(p.extreme_gain * excess)
    return np.where(excess > 0, p.extreme_floor + (1.0 - p.extreme_floor) * tail, 0.0)


def tame_heavy_tail(x: np.ndarray, p: DetectorParams) -> np.ndarray:
    """log1p of a non-negative series whose burn-in rows are strongly right-skewed (counts such
    as tweets or bytes written: spikes of every size are routine there). Decided on the first
    `burn_in` rows only, which score 0 anyway, so later scores never depend on later rows."""
    head = x[: p.burn_in]
    sd = head.std()
    if head.size < 10 or sd == 0 or head.min() < 0:
        return x
    skew = float((((head - head.mean()) / sd) ** 3).mean())
    return np.log1p(np.maximum(x, 0.0)) if skew > p.skew_for_log else x


def surprise_features(x: np.ndarray, period: int, p: DetectorParams) -> list[tuple[float, np.ndarray]]:
    """The causal surprise statistics of step 1 (each >= 0 where defined), each with the weight
    of its record ratio."""
    out: list[tuple[float, np.ndarray]] = []
    history: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for h, w in p.levels:
        mean, std = history.get(h) or history.setdefault(h, _history(x, h))
        out.append((1.0, np.abs(window_mean(x, w) - mean) / std))
    for h, w in p.spreads:
        mean, std = history.get(h) or history.setdefault(h, _history(x, h))
        _, short = window_stats(x, w, lag=0)
        floor = 1e-3 * (np.abs(mean) + 1e-3)
        out.append((1.0, np.abs(np.log((short + floor) / (std + floor)))))
    if p.daily_smooth and period:
        out.append((p.daily_weight, _daily_feature(x, period, p)))
    if p.entropy_window:
        out.append((1.0, entropy_feature(x, p)))
    return out


def _history(x: np.ndarray, h: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std of the h rows before each row, the std floored at 0.1 % of the mean."""
    mean, std = window_stats(x, h, lag=1)
    return mean, np.maximum(std, 1e-3 * (np.abs(mean) + 1e-3))


def entropy_feature(x: np.ndarray, p: DetectorParams) -> np.ndarray:
    """Relative entropy (KL divergence) of the histogram of the last `entropy_window` rows
    against the `long` rows before them (Wang et al., "Statistical techniques for online anomaly
    detection in data centers", IM 2011). Bins span the 1st-99th percentile of the burn-in rows;
    values outside fall in the two edge bins. Counts come from running sums, one bin at a time."""
    bins, w = p.entropy_bins, p.entropy_window
    head = x[: max(p.burn_in, 10)]
    lo, hi = np.percentile(head, 1), np.percentile(head, 99)
    width = max(hi - lo, 1e-9 * (abs(hi) + 1.0))
    q = np.clip(np.floor((x - lo) / width * (bins - 2)) + 1, 0, bins - 1)
    kl = np.zeros(x.size)
    short_total = np.minimum(np.arange(1, x.size + 1), w) + 0.5 * bins
    lagged_total = np.empty(x.size)
    for b in range(bins):
        hits = (q == b).astype(float)
        short = window_sum(hits, w)
        lagged = np.concatenate([np.zeros(w), window_sum(hits, p.long)[:-w]]) if x.size > w else np.zeros(x.size)
        if b == 0:
            lagged_total = np.concatenate([np.zeros(w), window_sum(np.ones(x.size), p.long)[:-w]]) \
                if x.size > w else np.zeros(x.size)
            lagged_total += 0.5 * bins
        ps = (short + 0.5) / short_total
        pl = (lagged + 0.5) / lagged_total
        kl += ps * np.log(ps / pl)
    return kl


def _daily_feature(x: np.ndarray, period: int, p: DetectorParams) -> np.ndarray:
    """|x - x a day before| (smoothed) as a z-score against its own history. Rows of the first
    day have no day before: they score 0 and stay out of the history, so the feature of a row
    never depends on the file's length (it once ran only on files longer than three days, and
    its first row took the zeros of day one as its history: a huge z and a certain alarm)."""
    out = np.zeros(x.size)
    if x.size <= period:
        return out
    diff = np.abs(x[period:] - x[:-period])
    mean, std = _history(diff, p.long)
    z = (window_mean(diff, p.daily_smooth) - mean) / std
    z[: p.warmup] = 0.0  # its history is a few rows long
    out[period:] = z
    return out


def _period_rows(step_seconds: float | None) -> int:
    """Rows per day when the step divides a day (the daily feature needs whole days)."""
    if not step_seconds or step_seconds <= 0 or DAY_SECONDS % step_seconds:
        return 0
    return int(DAY_SECONDS // step_seconds)


# ---- causal window primitives (vectorised, O(n)) -------------------------------------------

def fill_forward(x: np.ndarray) -> np.ndarray:
    """Replace NaN/inf by the last finite value before it (0 before the first)."""
    ok = np.isfinite(x)
    if ok.all():
        return x
    idx = np.where(ok, np.arange(x.size), -1)
    idx = np.maximum.accumulate(idx)
    return np.where(idx >= 0, x[np.maximum(idx, 0)], 0.0)


def window_sum(a: np.ndarray, w: int) -> np.ndarray:
    """Sum of a[t-w+1 .. t] (fewer rows at the start), by slicing one running sum."""
    n = a.size
    c = np.empty(n + 1)
    c[0] = 0.0
    np.cumsum(a, out=c[1:])
    out = np.empty(n)
    k = min(w, n)
    out[:k] = c[1:k + 1]
    np.subtract(c[k + 1:], c[1:n - k + 1], out=out[k:])
    return out


def window_mean(a: np.ndarray, w: int) -> np.ndarray:
    if w <= 1:
        return a
    out = window_sum(a, w)
    k = min(w, a.size)
    out[:k] /= np.arange(1, k + 1)
    out[k:] /= w
    return out


def window_stats(a: np.ndarray, w: int, lag: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of a[t-lag-w+1 .. t-lag], from running sums.

    Values are centred on a[0] first so the running sums keep their precision."""
    d = a - a[0]
    if lag:
        d = np.concatenate([np.zeros(lag), d[:-lag]])
    m = window_mean(d, w)
    d *= d
    var = window_mean(d, w)
    var -= m * m
    np.maximum(var, 0.0, out=var)
    m += a[0]
    return m, np.sqrt(var, out=var)


def rolling_max_before(a: np.ndarray, w: int) -> np.ndarray:
    """max(a[t-w .. t-1]) for each t (-inf at t = 0): van Herk / Gil-Werman, O(n)."""
    n = a.size
    pad = (-(n + w)) % w
    b = np.concatenate([np.full(w, -np.inf), a, np.full(pad, -np.inf)])
    blocks = b.reshape(-1, w)
    ahead = np.maximum.accumulate(blocks, axis=1).ravel()
    behind = np.maximum.accumulate(blocks[:, ::-1], axis=1)[:, ::-1].ravel()
    t = np.arange(n)  # the window b[t : t + w] holds a[t - w .. t - 1]
    return np.maximum(behind[t], ahead[t + w - 1])


def recent_max_before(a: np.ndarray, w: int, blocks: int = 20) -> np.ndarray:
    """max(a[s .. t-1]) over the last w to w + w/blocks rows before t, in blocks of w/blocks rows.

    Cheaper than an exact rolling maximum (two passes over the data instead of seven): the
    maximum of the current block so far, and of the `blocks` whole blocks before it."""
    size = max(w // blocks, 1)
    n = a.size
    nb = -(-n // size)
    padded = np.full(nb * size, -np.inf)
    padded[:n] = a
    grid = padded.reshape(nb, size)
    prefix = np.maximum.accumulate(grid, axis=1)
    before = np.empty_like(prefix)
    before[:, 0] = -np.inf
    before[:, 1:] = prefix[:, :-1]
    block_max = prefix[:, -1]
    prev = np.full(nb, -np.inf)
    for k in range(1, min(blocks, nb - 1) + 1):
        np.maximum(prev[k:], block_max[:-k], out=prev[k:])
    np.maximum(before, prev[:, None], out=before)
    return before.ravel()[:n]


def suppress_repeats(score: np.ndarray, w: int, factor: float = 1.0, alarm: float = 1.0) -> np.ndarray:
    """Keep a score only when it beats every score of the previous w rows, and `factor` times
    the highest when that one was an alarm (>= `alarm`); else 0."""
    if w <= 0:
        return score
    before = rolling_max_before(score, w)
    bar = np.where(before >= alarm, before * factor, before)
    return np.where(score > bar, score, 0.0)
