"""Prometheus text exposition (format 0.0.4) and OpenMetrics 1.0: a saved `/metrics` scrape, or
a backfill file with timestamps (what `promtool tsdb create-blocks-from openmetrics` reads).

Parsing follows the formats: `# TYPE` / `# HELP` / `# UNIT` lines, label values with `\\\\`,
`\\"` and `\\n` escapes, values such as `NaN`, `+Inf`, `1e3`, optional timestamps (milliseconds
in the text format, seconds in OpenMetrics — where a value of 1e11 or more, a year after 5138 in
seconds, is read as milliseconds, as everywhere in perfops), exemplars after ` # ` (ignored),
`# EOF`. A sample time outside 1970..2200 is refused with its line (ingest.common).

A sample without a timestamp was taken at the scrape time: the file's modification time. The
series are then named exactly as a saved query_range answer is (perfops.ingest.prometheus_json,
docs/sources.md): HTTP request counters, `*_bucket` latency histograms, request-duration
summaries (`{quantile="0.99"}`: the latency percentiles as the client computed them over its
window), `up`, perfops' own names.
A single scrape is a snapshot: counters need two scrapes to give a per-interval count, so they
give nothing; a histogram gives the latency percentiles of everything observed since the process
started, at the scrape time. Families perfops does not read are listed in the notes (a scrape
carries hundreds).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from perfops.errors import InputError
from perfops.ingest import _series as S
from perfops.ingest import prometheus_json as P
from perfops.ingest.base import DataWarning, IngestBatch, IngestOptions, Reader
from perfops.ingest.common import (
    EPOCH_MS_THRESHOLD,
    decode_utf8,
    out_of_range,
    read_bytes_maybe_gzip,
    seconds_in_range,
)

_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_.]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(,?)')
_ESCAPES = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}


@dataclass(frozen=True)
class Sample:
    name: str
    labels: dict[str, str]
    value: float
    timestamp: float | None  # epoch seconds
    line: int


def _unescape(text: str) -> str:
    return re.sub(r'\\[\\"n]', lambda m: _ESCAPES[m.group(0)], text)


def parse_line(text: str, number: int, openmetrics: bool, path: str = "") -> Sample:
    """One sample line: name, labels, value, optional timestamp, optional exemplar."""
    match = _NAME.match(text)
    if not match:
        raise InputError("expected a metric name", path=path, line=number)
    name, pos, labels = match.group(0), match.end(), {}
    if text.startswith("{", pos):
        pos += 1
        while not text.startswith("}", pos):
            label = _LABEL.match(text, pos)
            if not label:
                raise InputError(f"malformed labels in '{text[:80]}'", path=path, line=number)
            labels[label.group(1)] = _unescape(label.group(2))
            pos = label.end()
            if not label.group(3) and not text.startswith("}", pos):
                raise InputError(f"expected ',' or '}}' in the labels of '{name}'", path=path, line=number)
        pos += 1
    rest = text[pos:].split(" # ", 1)[0].split()
    if not rest or len(rest) > 2:
        raise InputError(f"expected a value (and a timestamp) after '{name}'", path=path, line=number)
    try:
        value = float(rest[0])
        stamp = float(rest[1]) if len(rest) == 2 else None
    except ValueError as exc:
        raise InputError(f"not a number in '{text[:80]}'", path=path, line=number) from exc
    milliseconds = stamp is not None and (not openmetrics or abs(stamp) >= EPOCH_MS_THRESHOLD)
    if stamp is not None and milliseconds:
        stamp /= 1000.0  # the text format's timestamps are milliseconds (and so are OpenMetrics' beyond 5138)
    if stamp is not None and not seconds_in_range(stamp):
        unit = "epoch ms" if milliseconds else "epoch seconds"
        raise out_of_range(f"the sample time {rest[1]} ({unit})", path=path, line=number, field="timestamp")
    return Sample(name, labels, value, stamp, number)


_COUNTING = ("counter", "histogram", "summary")
# the samples of such a family that count, by its type: never below zero
_COUNT_SUFFIXES = {"counter": ("", "_total"), "histogram": ("_count", "_bucket"), "summary": ("_count",)}


def iter_samples(lines: Iterator[str], openmetrics: bool, path: str = "") -> Iterator[Sample]:
    counting: dict[str, str] = {}  # family -> counter, histogram or summary
    for number, raw in enumerate(lines, start=1):
        text = raw.strip()
        if not text:
            continue
        if text.startswith("#"):
            if text == "# EOF":
                return
            typed = text.split()
            if len(typed) >= 4 and typed[1] == "TYPE" and typed[3] in _COUNTING:
                counting[typed[2]] = typed[3]
            continue
        sample = parse_line(text, number, openmetrics, path)
        if sample.value < 0 and _counts(sample.name, counting):
            # a counter never goes below zero: read on, the drop would be taken as a reset
            raise InputError(f"{sample.value:g} in '{text[:80]}' is negative; expected a counter's value, 0 or more",
                             path=path, line=number, field="value")
        yield sample


def _counts(name: str, counting: dict[str, str]) -> bool:
    """A counter's sample, a histogram's buckets and count, or a summary's count."""
    return any(name == family + suffix for family, kind in counting.items() for suffix in _COUNT_SUFFIXES[kind])


def to_series(samples: Iterator[Sample], scrape_time: float, unread: list[int] | None = None) -> list[P.RawSeries]:
    """Samples grouped by name and labels, in time order. NaN and ±Inf samples (valid exposition
    values: an empty summary's quantiles, a stale marker) are no number to store: left out, and
    their count appended to `unread` so the caller can say so."""
    grouped: dict[tuple[str, tuple[tuple[str, str], ...]], list[tuple[float, float]]] = defaultdict(list)
    for s in samples:
        key = (s.name, tuple(sorted(s.labels.items())))
        grouped[key].append((scrape_time if s.timestamp is None else s.timestamp, s.value))
    series = []
    for (name, labels), points in grouped.items():
        points.sort()
        times = np.array([t for t, _ in points])
        values = np.array([v for _, v in points])
        keep = np.isfinite(values)
        if unread is not None and not keep.all():
            unread.append(int((~keep).sum()))
        series.append(P.RawSeries({"__name__": name, **dict(labels)}, times[keep], values[keep]))
    return series


def sniff(path: Path, head: bytes) -> bool:
    text = head[:4096].decode("utf-8", errors="replace")
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    if first.startswith(("# HELP ", "# TYPE ")):
        return True
    return bool(re.match(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})?\s+[-+0-9.eEaINnf]+(\s+\d+)?$', first))


def read(path: Path, options: IngestOptions) -> IngestBatch:
    text = decode_utf8(read_bytes_maybe_gzip(path), path)
    openmetrics = "# EOF" in text[-64:] or path.name.endswith((".om", ".om.txt"))
    not_numbers: list[int] = []
    series = to_series(iter_samples(iter(text.split("\n")), openmetrics, str(path)), path.stat().st_mtime,
                       not_numbers)
    metric_hint, service_hint = S.hint_from_filename(path.name, options.catalog)
    naming = P.Naming(options.catalog, P.label_config(options.catalog), options.service, None, service_hint)
    readable = [s for s in series if P.series_kind(s, naming) is not None]
    unread = sorted({s.labels["__name__"] for s in series} - {s.labels["__name__"] for s in readable})
    problems = S.Problems(str(path), options.skip_bad_rows)
    frame = S.frame_of(P.pieces_of(readable, naming, problems, context=series))
    notes = [f"{len(unread)} metric families are not ones perfops reads (e.g. {', '.join(unread[:5])})"] if unread else []
    if not_numbers:  # a counter's interval next to such a sample is then missing or wider
        notes.append(DataWarning(f"{sum(not_numbers):,} samples were NaN or ±Inf and were not read; counter "
                                 "intervals next to them are missing or span the gap"))
    if readable and not len(frame):
        notes.append("a single scrape gives no per-interval counts: counters need two scrapes or more")
    return IngestBatch(telemetry=frame, skipped=problems.skipped, notes=notes)


READER = Reader(
    name="prometheus-text",
    description="Prometheus text exposition or OpenMetrics: a saved /metrics scrape or a backfill file",
    sniff=sniff,
    read=read,
    priority=25,
)
