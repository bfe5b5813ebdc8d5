"""Shared helpers of the load-test readers (jmeter, locust, k6, gatling).

Not a format: the registry skips modules without a READER. Everything here is pure: arrays and
names in, canonical test tables (perfops.model.tables TEST_*_COLUMNS) out.

Percentiles: sample-level files give *exact* percentiles. Latencies of JMeter and Gatling are
whole milliseconds, so a per-endpoint count of each distinct value (an exact histogram) gives the
same nearest-rank percentile as sorting every sample, in memory bounded by the number of distinct
values rather than by the number of samples (see `ExactHistogram`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pandas as pd

from perfops.errors import InputError
from perfops.ingest.base import IngestOptions
from perfops.ingest.common import LATEST_MS, ms_in_range, open_maybe_gzip, out_of_range, read_bytes_maybe_gzip
from perfops.model.catalog import ENDPOINT_RE, Catalog
from perfops.model.tables import TEST_ENDPOINT_COLUMNS, TEST_RUN_COLUMNS, TEST_SERIES_COLUMNS

PERCENTILES = (50, 90, 95, 99)
SERIES_STEP_S = 10  # the load over time is kept in 10-second intervals
_LABEL_BITS = 14  # series group = interval << 14 | endpoint code
_ALL = (1 << _LABEL_BITS) - 1  # the code of 'every endpoint'
DEFAULT_ENVIRONMENT = "test"
LineOf = Callable[[int], int | None]  # the line of a block's i-th sample, when known
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


# ---- percentiles -----------------------------------------------------------------------
def nearest_rank(sorted_values: np.ndarray, counts: np.ndarray, q: float) -> float:
    """Nearest-rank q-th percentile (q in 0..100) of values given with their counts (sorted).

    The same definition JMeter's aggregate report and HdrHistogram use: the smallest value
    such that at least q% of the samples are at or below it.
    """
    total = int(counts.sum())
    if total == 0:
        return float("nan")
    rank = max(1, int(np.ceil(q / 100.0 * total)))
    idx = int(np.searchsorted(np.cumsum(counts), rank))
    return float(sorted_values[min(idx, len(sorted_values) - 1)])


def exact_percentiles(values: np.ndarray) -> dict[str, float]:
    """p50/p90/p95/p99/avg/max of raw samples (nearest rank)."""
    arr = np.sort(np.asarray(values, dtype=float))
    if arr.size == 0:
        return {f"latency_p{q}_ms": float("nan") for q in PERCENTILES} | {
            "latency_avg_ms": float("nan"), "latency_max_ms": float("nan")}
    out = {f"latency_p{q}_ms": nearest_rank(arr, np.ones(arr.size), q) for q in PERCENTILES}
    out["latency_avg_ms"] = float(arr.mean())
    out["latency_max_ms"] = float(arr[-1])
    return out


@dataclass
class ExactHistogram:
    """Counts of (group, integer value) pairs, merged block by block: exact percentiles of
    whole-unit latencies in memory bounded by the distinct pairs, not by the samples."""

    keys: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    counts: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    pending: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    pending_size: int = 0

    SHIFT = 32  # key = group << 32 | value; values clipped to [0, 2**32), groups < 2**31

    def add(self, groups: np.ndarray, values: np.ndarray) -> None:
        groups = np.asarray(groups, dtype=np.int64)
        vals = np.clip(np.asarray(values, dtype=np.int64), 0, 2**32 - 1)
        if groups.size == 0:
            return
        uniq, cnt = _count_pairs(groups, vals)
        self.add_counted(uniq, cnt)

    def add_counted(self, keys: np.ndarray, counts: np.ndarray) -> None:
        self.pending.append((keys, counts.astype(np.int64)))
        self.pending_size += keys.size
        if self.pending_size > 4 * max(self.keys.size, 1 << 16):
            self._merge()

    def _merge(self) -> None:
        if not self.pending:
            return
        keys = np.concatenate([self.keys] + [k for k, _ in self.pending])
        counts = np.concatenate([self.counts] + [c for _, c in self.pending])
        uniq, inverse = np.unique(keys, return_inverse=True)
        self.keys = uniq
        self.counts = np.bincount(inverse, weights=counts, minlength=uniq.size).astype(np.int64)
        self.pending, self.pending_size = [], 0

    def table(self, scale: float = 1.0, binned: bool = False) -> pd.DataFrame:
        """One row per group: samples and nearest-rank p50/p90/p95/p99, avg and max (values
        divided by `scale`; `binned` values are log bins, see `log_bin`), all groups at once
        (vectorised over a global cumsum)."""
        self._merge()
        columns = ["group", "samples", *(f"latency_p{q}_ms" for q in PERCENTILES), "latency_avg_ms", "latency_max_ms"]
        if self.keys.size == 0:
            return pd.DataFrame(columns=columns)
        groups = self.keys >> self.SHIFT
        raw = self.keys & ((1 << self.SHIFT) - 1)
        values = (bin_value(raw) if binned else raw.astype(float)) / scale
        first = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
        last = np.r_[first[1:], groups.size] - 1
        cum = np.cumsum(self.counts)
        before = np.r_[0, cum[:-1]][first]
        total = cum[last] - before
        out = {"group": groups[first], "samples": total}
        for q in PERCENTILES:
            rank = np.maximum(1, np.ceil(q / 100.0 * total)).astype(np.int64)
            out[f"latency_p{q}_ms"] = values[np.searchsorted(cum, before + rank)]
        out["latency_avg_ms"] = np.add.reduceat(values * self.counts, first) / total
        out["latency_max_ms"] = values[last]
        return pd.DataFrame(out, columns=columns)


def merge_summary_rows(rows: pd.DataFrame, knots: pd.DataFrame) -> pd.DataFrame:
    """Summary rows (canonical endpoint columns) of one endpoint merged into one row each:
    samples, errors and throughput summed, the average weighted by samples, the max of the maxima.

    Percentiles cannot be recomputed without the samples. They come from the mixture of the
    rows' distributions as their percentile columns describe them: `knots` (aligned with `rows`;
    columns = percent ranks such as 50.0, 95.0, 100.0; values in ms) says that at least q % of a
    row's samples are at or below its q-th value. The merged p-th percentile is the smallest knot
    value x at which these lower bounds, weighted by samples, reach p. That is an upper bound of
    the true percentile (never optimistic) and never above the largest of the rows' own p-th
    percentiles; a row of one sample (all its columns equal) is described exactly. Merged rows
    carry `exact_percentiles = False`."""
    if not rows["endpoint"].duplicated().any():
        return rows
    out = []
    for _, part in rows.groupby("endpoint", sort=False):
        out.append(part.iloc[0].to_dict() if len(part) == 1 else _merged_row(part, knots.loc[part.index]))
    return pd.DataFrame(out, columns=rows.columns)


def _merged_row(part: pd.DataFrame, knots: pd.DataFrame) -> dict[str, object]:
    weights = part["samples"].to_numpy(dtype=float)
    sampled = weights > 0
    row = part.iloc[0].to_dict()
    row["samples"] = int(weights.sum())
    row["errors"] = int(part["errors"].sum())
    rps = part["throughput_rps"].to_numpy(dtype=float)
    row["throughput_rps"] = float(np.nansum(rps)) if not np.isnan(rps).all() else float("nan")
    avg, top = (part[c].to_numpy(dtype=float)[sampled] for c in ("latency_avg_ms", "latency_max_ms"))
    total = weights[sampled].sum()
    row["latency_avg_ms"] = float((avg * weights[sampled]).sum() / total) if total else float("nan")
    row["latency_max_ms"] = float(top.max()) if top.size else float("nan")  # NaN if any is unknown
    ranks = knots.columns.to_numpy(dtype=float) / 100.0
    values = knots.to_numpy(dtype=float)[sampled]
    for q in PERCENTILES:
        row[f"latency_p{q}_ms"] = _mixture_quantile(values, ranks, weights[sampled], q / 100.0)
    row["exact_percentiles"] = False
    return row


def _mixture_quantile(values: np.ndarray, ranks: np.ndarray, weights: np.ndarray, p: float) -> float:
    """The smallest knot value x with sum_i w_i F_i(x) >= p * sum_i w_i, where F_i(x) is the
    largest rank of row i whose value is <= x (0 below its first knot); NaN if never reached."""
    candidates = np.unique(values[~np.isnan(values)])
    if candidates.size == 0 or weights.sum() == 0:
        return float("nan")
    at_or_below = np.where(np.isnan(values)[:, :, None], False, values[:, :, None] <= candidates[None, None, :])
    lower = np.max(np.where(at_or_below, ranks[None, :, None], 0.0), axis=1)  # rows x candidates
    share = (weights[:, None] * lower).sum(axis=0) / weights.sum()
    reached = np.flatnonzero(share >= p - 1e-12)
    return float(candidates[reached[0]]) if reached.size else float("nan")


_DENSE_LIMIT = 1 << 23  # count with bincount when the block's key range is below this


def _count_pairs(groups: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct (group << 32 | value) keys of a block with their counts: a dense bincount when
    the block's range is small (the usual case: O(n)), else a sort (np.unique)."""
    g0, v0 = int(groups.min()), int(values.min())
    g_span, v_span = int(groups.max()) - g0 + 1, int(values.max()) - v0 + 1
    if g_span * v_span <= _DENSE_LIMIT:
        counts = np.bincount((groups - g0) * v_span + (values - v0), minlength=g_span * v_span)
        nonzero = np.flatnonzero(counts)
        keys = ((nonzero // v_span + g0) << ExactHistogram.SHIFT) | (nonzero % v_span + v0)
        return keys, counts[nonzero]
    return np.unique((groups << ExactHistogram.SHIFT) | values, return_counts=True)


def _count_series(bucket: np.ndarray, codes: np.ndarray, bins: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct ((bucket << label bits | code) << 32 | bin) keys with counts; dense bincount
    over the block's small (bucket, code, bin) box when it fits, else a sort."""
    b0, c0, v0 = int(bucket.min()), int(codes.min()), int(bins.min())
    nb, nc, nv = int(bucket.max()) - b0 + 1, int(codes.max()) - c0 + 1, int(bins.max()) - v0 + 1
    if nb * nc * nv > _DENSE_LIMIT:
        return _count_pairs((bucket << _LABEL_BITS) | codes, bins)
    counts = np.bincount(((bucket - b0) * nc + (codes - c0)) * nv + (bins - v0), minlength=nb * nc * nv)
    nonzero = np.flatnonzero(counts)
    cell, value = np.divmod(nonzero, nv)
    b, c = np.divmod(cell, nc)
    keys = ((((b + b0) << _LABEL_BITS) | (c + c0)) << ExactHistogram.SHIFT) | (value + v0)
    return keys, counts[nonzero]


_EXACT_BELOW = 128  # log bins: values under 128 units are their own bin
_LOG_STEP = float(np.log(1.01))  # above, bins 1 % wide


def log_bin(values: np.ndarray) -> np.ndarray:
    """Bin index of whole-unit values: exact below 128, then 1 %-wide logarithmic bins, so a
    per-interval histogram stays small whatever the spread of latencies (p95 within 1 %)."""
    v = np.asarray(values, dtype=np.int64)
    high = v >= _EXACT_BELOW
    out = v.copy()
    out[high] = _EXACT_BELOW + np.floor(np.log(v[high] / _EXACT_BELOW) / _LOG_STEP).astype(np.int64)
    return out


def bin_value(bins: np.ndarray) -> np.ndarray:
    """The lower edge of a log bin, as a float (the inverse of `log_bin` up to 1 %)."""
    b = np.asarray(bins, dtype=np.int64)
    out = b.astype(float)
    high = b >= _EXACT_BELOW
    out[high] = np.ceil(_EXACT_BELOW * np.exp((b[high] - _EXACT_BELOW) * _LOG_STEP))
    return out


@dataclass
class SampleAccumulator:
    """Streams sample-level results (block by block) into per-endpoint exact statistics and the
    load over time (10-second intervals; its p95 from 1 %-wide log bins, see `log_bin`), with
    memory bounded by distinct values, not samples.

    `scale` turns latencies into integers for the exact histogram: 1 for whole-ms tools (JMeter,
    Gatling), 1000 for k6 (microsecond resolution)."""

    scale: float = 1.0
    names: list[str] = field(default_factory=list)
    index: dict[str, int] = field(default_factory=dict)
    by_endpoint: ExactHistogram = field(default_factory=ExactHistogram)
    by_bucket: ExactHistogram = field(default_factory=ExactHistogram)
    partials: list[pd.DataFrame] = field(default_factory=list)
    first_ms: int | None = None
    last_ms: int | None = None
    origin: int | None = None  # first 10-s bucket, in ms
    source: str | None = None  # the file, named in every error
    skip_bad: bool = False  # --skip-bad-rows: impossible samples are dropped (counted) instead of refused
    skipped: int = 0
    fields: tuple[str, str] = ("timestamp", "elapsed")  # the tool's names of the time and duration

    def codes(self, labels: list[str]) -> np.ndarray:
        """Integer codes of a block's distinct labels (stable across blocks)."""
        out = np.empty(len(labels), dtype=np.int64)
        for i, name in enumerate(labels):
            if name not in self.index:
                self.index[name] = len(self.names)
                self.names.append(name)
            out[i] = self.index[name]
        return out

    def add(self, ts_ms: np.ndarray, codes: np.ndarray, elapsed_ms: np.ndarray, failed: np.ndarray,
            users: np.ndarray | None = None, line_of: LineOf | None = None) -> None:
        """Add a block of samples. A sample whose time is outside the accepted range (see
        ingest.common) or whose duration is negative or not a number is refused naming its line
        (`line_of(i)`: the line of the block's i-th sample, when the reader knows it)."""
        if ts_ms.size == 0:
            return
        ts_ms = np.asarray(ts_ms, dtype=np.int64)
        elapsed = np.asarray(elapsed_ms)
        if not _all_possible(ts_ms, elapsed):
            keep = self._drop_impossible(ts_ms, elapsed, line_of)
            ts_ms, codes, elapsed, failed = ts_ms[keep], codes[keep], elapsed[keep], failed[keep]
            users = users[keep] if users is not None else None
            if ts_ms.size == 0:
                return
            line_of = None  # positions changed: no line for the checks below
        ends = ts_ms + elapsed.astype(np.int64)
        lo, hi = int(ts_ms.min()), int(ends.max())
        step = SERIES_STEP_S * 1000
        origin = (lo // step) * step - 3_600_000 if self.origin is None else self.origin  # room for disorder
        bucket = (ts_ms - origin) // step
        if codes.size and int(codes.max()) >= _ALL:
            raise InputError(f"more than {_ALL:,} distinct sample labels; expected request names, not raw URLs",
                             path=self.source)
        if int(bucket.min()) < 0 or int(bucket.max()) >= 1 << (31 - _LABEL_BITS):
            self._span_error(ts_ms, bucket, line_of)
        self.origin = origin
        self.first_ms = lo if self.first_ms is None else min(self.first_ms, lo)
        self.last_ms = hi if self.last_ms is None else max(self.last_ms, hi)
        scaled = np.clip(np.rint(elapsed.astype(float) * self.scale), 0, 2**32 - 1).astype(np.int64)
        self.by_endpoint.add(codes, scaled)
        series_group = (bucket << _LABEL_BITS) | codes
        self.by_bucket.add_counted(*_count_series(bucket, codes, log_bin(scaled)))
        block = pd.DataFrame({"g": series_group, "failed": failed.astype(np.int64),
                              "users": users if users is not None else np.nan})
        part = block.groupby("g").agg(errors=("failed", "sum"), users=("users", "max"))
        self.partials.append(part)
        if len(self.partials) > 64:
            self.partials = [self._errors_users()]

    def _drop_impossible(self, ts_ms: np.ndarray, elapsed: np.ndarray, line_of: LineOf | None) -> np.ndarray:
        """The mask of possible samples; raises for the first impossible one unless skip_bad."""
        with np.errstate(invalid="ignore"):
            good_elapsed = (elapsed >= 0) & (elapsed < LATEST_MS)
            ends = ts_ms + np.where(good_elapsed, elapsed, 0)
            keep = ms_in_range(ts_ms) & good_elapsed & ms_in_range(ends)
        if self.skip_bad:
            self.skipped += int((~keep).sum())
            return keep
        i = int(np.flatnonzero(~keep)[0])
        line = line_of(i) if line_of else None
        time_field, elapsed_field = self.fields
        if not ms_in_range(ts_ms[i : i + 1])[0]:
            raise out_of_range(f"the time {int(ts_ms[i])} (epoch ms)", path=self.source or "", line=line,
                               field=time_field)
        if not good_elapsed[i]:
            raise InputError(f"{elapsed[i]} ms is not a response time; expected a duration of 0 or more",
                             path=self.source, line=line, field=elapsed_field)
        raise out_of_range(f"the end of the sample ({int(ts_ms[i])} + {elapsed[i]} ms)", path=self.source or "",
                           line=line, field=elapsed_field)

    def _span_error(self, ts_ms: np.ndarray, bucket: np.ndarray, line_of: LineOf | None) -> None:
        """The series keeps 15 days of 10-s intervals from an hour before the first block."""
        i = int(np.flatnonzero((bucket < 0) | (bucket >= 1 << (31 - _LABEL_BITS)))[0])
        first = self.first_ms if self.first_ms is not None else int(ts_ms.min())
        at, start = (f"{epoch_ms_to_naive(v):%Y-%m-%d %H:%M:%S}" for v in (int(ts_ms[i]), first))
        what = (f"a sample at {at} comes more than an hour before the first samples ({start})" if bucket[i] < 0
                else f"the samples span more than 15 days ({start} to {at})")
        raise InputError(f"{what}; expected one load-test run per file", path=self.source,
                         line=line_of(i) if line_of else None, field=self.fields[0])



    def regrouped(self, names: list[str]) -> SampleAccumulator:
        """This accumulator with the labels merged by the endpoint each names (`names[code]`):
        labels that fold to one endpoint (`/jobs/1`, `/jobs/2`) become one row whose counts add
        and whose percentiles come from the merged histograms, so they stay exact."""
        unique = list(dict.fromkeys(names))
        if len(unique) == len(self.names):
            return replace(self, names=list(names), index={n: i for i, n in enumerate(names)})
        where = {name: i for i, name in enumerate(unique)}
        remap = np.asarray([where[n] for n in names], dtype=np.int64)
        by_endpoint, by_bucket = ExactHistogram(), ExactHistogram()
        for source, target, code_bits in ((self.by_endpoint, by_endpoint, 0), (self.by_bucket, by_bucket, _LABEL_BITS)):
            source._merge()
            target.add_counted(_remap_codes(source.keys, remap, code_bits), source.counts)
        eu = self._errors_users()
        g = np.asarray(eu.index, dtype=np.int64)
        eu.index = pd.Index((g & ~_ALL) | remap[g & _ALL], name="g")
        merged = eu.groupby(level=0).agg(errors=("errors", "sum"), users=("users", "max"))
        return replace(self, names=unique, index=where, by_endpoint=by_endpoint, by_bucket=by_bucket,
                       partials=[merged])

    def _errors_users(self) -> pd.DataFrame:
        if not self.partials:
            return pd.DataFrame({"errors": [], "users": []}, index=pd.Index([], name="g"))
        both = pd.concat(self.partials)
        return both.groupby(level=0).agg(errors=("errors", "sum"), users=("users", "max"))

    @property
    def start(self) -> datetime | None:
        return epoch_ms_to_naive(self.first_ms) if self.first_ms is not None else None

    @property
    def end(self) -> datetime | None:
        return epoch_ms_to_naive(self.last_ms) if self.last_ms is not None else None

    def endpoint_rows(self, run_id: str, endpoint_names: list[str] | None = None) -> list[dict[str, object]]:
        names = endpoint_names or self.names
        stats = self.by_endpoint.table(self.scale)
        eu = self._errors_users()
        eu_group = np.asarray(eu.index, dtype=np.int64)
        errors = eu["errors"].groupby(eu_group & _ALL).sum() if len(eu) else pd.Series(dtype=float)
        rows = []
        for rec in stats.to_dict("records"):
            code = int(rec.pop("group"))
            samples = int(rec["samples"])
            rows.append({
                "run_id": run_id, "endpoint": names[code], "samples": samples,
                "errors": int(errors.get(code, 0)),
                "throughput_rps": throughput(samples, self.start, self.end),
                **{k: v for k, v in rec.items() if k.startswith("latency_")}, "exact_percentiles": True,
            })
        return rows

    def _with_totals(self) -> ExactHistogram:
        """The per-interval-and-endpoint histogram plus, per interval, every endpoint together."""
        self.by_bucket._merge()
        keys, counts = self.by_bucket.keys, self.by_bucket.counts
        whole = ExactHistogram()
        whole.add_counted(((keys >> ExactHistogram.SHIFT) | _ALL) << ExactHistogram.SHIFT
                          | (keys & ((1 << ExactHistogram.SHIFT) - 1)), counts)
        whole.add_counted(keys, counts)
        return whole

    def series(self, run_id: str, endpoint_names: list[str] | None = None) -> pd.DataFrame:
        names = endpoint_names or self.names
        if self.origin is None:
            return empty_series()
        stats = self._with_totals().table(self.scale, binned=True)
        if stats.empty:
            return empty_series()
        eu = self._errors_users()
        group = stats["group"].to_numpy(dtype=np.int64)
        code, bucket = group & _ALL, group >> _LABEL_BITS
        eu_group = np.asarray(eu.index, dtype=np.int64)
        totals = eu.groupby(eu_group >> _LABEL_BITS).agg(errors=("errors", "sum"), users=("users", "max"))
        per_ep = eu.reindex(group)
        whole = totals.reindex(bucket)
        is_all = code == _ALL
        stats["errors"] = np.where(is_all, whole["errors"].to_numpy(), per_ep["errors"].to_numpy())
        stats["users"] = np.where(is_all, whole["users"].to_numpy(), per_ep["users"].to_numpy())
        stats["endpoint"] = ["" if c == _ALL else names[c] for c in code]
        stats["timestamp"] = pd.to_datetime(bucket * SERIES_STEP_S * 1000 + self.origin, unit="ms")
        stats["requests"] = stats["samples"]
        stats["run_id"] = run_id
        return series_frame(stats)


def _remap_codes(keys: np.ndarray, remap: np.ndarray, code_shift: int) -> np.ndarray:
    """Histogram keys (group << 32 | value) with the endpoint code in the group's low bits
    (`code_shift` = 0: the group is the code; _LABEL_BITS: interval << bits | code) remapped."""
    group, value = keys >> ExactHistogram.SHIFT, keys & ((1 << ExactHistogram.SHIFT) - 1)
    code = group & _ALL if code_shift else group
    group = (group & ~_ALL) | remap[code] if code_shift else remap[code]
    return (group << ExactHistogram.SHIFT) | value


def _all_possible(ts_ms: np.ndarray, elapsed: np.ndarray) -> bool:
    """The fast check of a whole block (min/max, no masks): every time in range, every
    duration a number from 0 up, every end in range. NaN fails every comparison."""
    lo, hi = elapsed.min(), elapsed.max()
    return bool(ts_ms.min() >= 0 and lo >= 0 and hi < LATEST_MS and int(ts_ms.max()) + hi < LATEST_MS)


# ---- naming --------------------------------------------------------------------------------
def endpoint_name(label: str, method: str | None = None, url: str | None = None) -> str:
    """'POST /checkout' from what a tool gives: a label already in that form is kept; a method
    with a URL or path becomes 'METHOD /path' (query dropped); anything else stays the label."""
    label = (label or "").strip()
    if ENDPOINT_RE.match(label):
        return label
    method = (method or "").strip().upper()
    target = label if label.startswith(("http://", "https://", "/")) else (url or "")
    if method and target:
        path = _url_path(target) if target.startswith("http") else target.split("?")[0]
        return f"{method} {path or '/'}"
    if method and label:
        return f"{method} {label}"
    return label


def fold_endpoints(names: Sequence[str]) -> list[str]:
    """Each name as access logs template it, so a test's endpoints line up with production's:
    `GET /api/jobs/5f0c…/update?x=1` -> `GET /api/jobs/{id}/update` (query dropped, scheme and
    host stripped, numbers, UUIDs, hex hashes and long tokens folded to `{id}`; the templating
    of perfops.ingest.access_templates itself, not a copy). A bare path is folded the same way;
    a name that is not a path (`Login page`) is kept."""
    import pyarrow as pa

    from perfops.ingest import access_templates as tpl

    methods: list[str | None] = []
    paths: list[str] = []
    for name in names:
        method, sep, rest = name.partition(" ")
        if sep and ENDPOINT_RE.match(name):
            methods.append(method)
            paths.append(rest)
        elif name.startswith("/"):
            methods.append(None)
            paths.append(name)
        else:
            methods.append(None)
            paths.append("")
    cut = [path.split("?", 1)[0] for path in paths]
    folded = tpl.fold_ids(tpl.strip_scheme_host(pa.array(cut, type=pa.string()))).to_pylist() if cut else []
    out = []
    for name, verb, path, templated in zip(names, methods, paths, folded, strict=True):
        if verb is not None:
            out.append(tpl.endpoint_name(verb, templated))
        elif path:
            out.append(tpl.template_of(templated))
        else:
            out.append(name)
    return out


def _url_path(url: str) -> str:
    """The path of a URL; a malformed one ('http://[::1' is an invalid IPv6 host) keeps its text."""
    try:
        return urlsplit(url).path
    except ValueError:
        return url.split("?")[0]


def catalog_endpoints(catalog: Catalog) -> dict[str, set[str]]:
    """Endpoints the catalog names per service (NFR mix, deprecated endpoints, journey steps)."""
    known: dict[str, set[str]] = {s.name: set() for s in catalog.services}
    for svc in catalog.services:
        if svc.nfr and svc.nfr.transaction_mix:
            known[svc.name].update(svc.nfr.transaction_mix)
        known[svc.name].update(svc.deprecated_endpoints)
    for journey in catalog.journeys:
        for service, endpoint in journey.parsed_steps():
            if service in known:
                known[service].add(endpoint)
    return known


def infer_service(
    catalog: Catalog, endpoints: Iterable[str], hints: Iterable[str] = (), path: Path | None = None,
) -> str:
    """The service a run tested: the one whose catalog endpoints the run's endpoints match most;
    else a service named in the hints (URLs, host names, file name); else the only service."""
    names = set(endpoints)
    scores = {svc: len(names & eps) for svc, eps in catalog_endpoints(catalog).items()}
    best = max(scores.values(), default=0)
    if best > 0:
        winners = sorted(s for s, v in scores.items() if v == best)
        if len(winners) == 1:
            return winners[0]
    text = " ".join([*hints, path.name if path else ""]).lower()
    named = [s.name for s in catalog.services if s.name in text]
    if named:
        return max(named, key=len)
    if len(catalog.services) == 1:
        return catalog.services[0].name
    raise InputError(
        "cannot tell which service this test run exercised: its endpoint names match none in perfops.yaml",
        path=str(path) if path else None,
        hint="pass --service NAME, or name the endpoints as in the NFR transaction_mix (e.g. 'POST /checkout')",
    )


def resolve_service(options: IngestOptions, endpoints: Iterable[str], hints: Iterable[str], path: Path) -> str:
    if options.service:
        if options.service not in options.catalog.service_by_name:
            raise InputError(f"service '{options.service}' is not in perfops.yaml", field="--service")
        return options.service
    return infer_service(options.catalog, endpoints, hints, path)


_RUN_ID_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def derive_run_id(path: Path, start: datetime | None, given: str | None = None) -> str:
    """--run-id, else '<file stem>-<start yyyymmdd-HHMMSS>': the same file always gets the same
    id (re-ingest replaces the run), two nights' `results.jtl` get two ids."""
    if given:
        return given
    stem = path.name
    for suffix in (".gz", ".jtl", ".csv", ".xml", ".json", ".ndjson", ".log"):
        stem = stem.removesuffix(suffix)
    for suffix in ("_stats_history", "_stats", "_failures", "_exceptions", "_requests", "_distribution"):
        stem = stem.removesuffix(suffix)
    stem = _RUN_ID_UNSAFE.sub("-", stem).strip("-") or "run"
    return f"{stem}-{start:%Y%m%d-%H%M%S}" if start is not None else stem


def epoch_ms_to_naive(ms: float | int) -> datetime:
    return datetime.fromtimestamp(float(ms) / 1000.0, tz=UTC).replace(tzinfo=None)


# ---- files --------------------------------------------------------------------------------
def is_gzip(path: Path) -> bool:
    with path.open("rb") as raw:
        return raw.read(2) == b"\x1f\x8b"


def read_bytes(path: Path) -> bytes:
    """The file's bytes, gunzipped when it is gzip (k6 writes `--out json=x.gz`); a broken gzip
    is an InputError naming the file."""
    return read_bytes_maybe_gzip(path)


def open_text(path: Path):
    """A text stream over the file (UTF-8, undecodable bytes replaced), gunzipping when needed."""
    import io


    if is_gzip(path):  # bounded: PERFOPS_MAX_DECOMPRESSED_BYTES
        return io.TextIOWrapper(open_maybe_gzip(path), encoding="utf-8", errors="replace")
    return path.open(encoding="utf-8", errors="replace")


def text_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, line) of the file as `open_text` reads it; a gzip that breaks part-way (a
    truncated `--out json=x.gz`) is an InputError naming the file."""
    import gzip
    import zlib

    number = 0
    try:
        with open_text(path) as lines:
            for number, line in enumerate(lines, start=1):
                yield number, line
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise InputError(f"the gzip stream is broken after line {number} ({exc})", path=str(path)) from exc


# ---- the canonical frames -----------------------------------------------------------------
def run_frame(
    run_id: str, tool: str, service: str, environment: str | None, start: datetime | None,
    end: datetime | None, source: Path, notes: Iterable[str] = (), status: str = "ok",
) -> pd.DataFrame:
    row = {
        "run_id": run_id, "tool": tool, "service": service,
        "environment": environment or DEFAULT_ENVIRONMENT,
        "start": start, "end": end, "status": status, "source": str(source),
        "notes": "; ".join(n for n in notes if n),
    }
    frame = pd.DataFrame([row], columns=list(TEST_RUN_COLUMNS))
    for col, moment in (("start", start), ("end", end)):  # microseconds: no nanosecond overflow
        frame[col] = np.array([moment if moment is not None else "NaT"], dtype="datetime64[us]")
    return frame


def endpoints_frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(TEST_ENDPOINT_COLUMNS))
    frame["samples"] = frame["samples"].astype("int64")
    frame["errors"] = frame["errors"].astype("int64")
    for col in TEST_ENDPOINT_COLUMNS[4:11]:
        frame[col] = frame[col].astype("float64")
    frame["exact_percentiles"] = frame["exact_percentiles"].astype(bool)
    frame["endpoint"] = frame["endpoint"].astype(object)
    frame["run_id"] = frame["run_id"].astype(object)
    return frame.sort_values("endpoint", kind="stable").reset_index(drop=True)


def series_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Reorder/cast a series frame to TEST_SERIES_COLUMNS."""
    out = frame.reindex(columns=list(TEST_SERIES_COLUMNS))
    out["timestamp"] = pd.to_datetime(out["timestamp"]).astype("datetime64[us]")
    for col in ("requests", "errors", "latency_p95_ms", "users"):
        out[col] = out[col].astype("float64")
    out["endpoint"] = out["endpoint"].astype(object)
    out["run_id"] = out["run_id"].astype(object)
    return out.sort_values(["timestamp", "endpoint"], kind="stable").reset_index(drop=True)


def empty_series() -> pd.DataFrame:
    return series_frame(pd.DataFrame(columns=list(TEST_SERIES_COLUMNS)))


def throughput(samples: int, start: datetime | None, end: datetime | None) -> float:
    """Samples per second over the run's wall time (at least one second)."""
    if start is None or end is None:
        return float("nan")
    seconds = max((end - start).total_seconds(), 1.0)
    return samples / seconds
