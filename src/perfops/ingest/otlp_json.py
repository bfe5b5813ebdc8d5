"""OTLP metrics in the JSON encoding: an ExportMetricsServiceRequest, or the collector's file
exporter output (one request a line).

The protobuf JSON mapping is followed: 64-bit integers (`count`, `bucketCounts`, `timeUnixNano`,
`asInt`) may be strings, zero values may be omitted (a summary quantile `{}` is quantile 0 with
value 0), camelCase and snake_case keys are both accepted. Data point kinds: sum, gauge,
histogram, exponentialHistogram and summary.

Mapping to perfops (docs/sources.md, "OTLP JSON"), following the OpenTelemetry semantic
conventions:
- service: the `service.name` resource attribute, matched to the catalog (exact, case-folded,
  slugged), or `--service`;
- endpoint: `http.route` (else `url.path`, `rpc.method`) prefixed with `http.request.method`;
  consumer: a `consumer` / `client.id` attribute;
- duration histograms and summaries (`http.server.request.duration`, `http.server.duration`,
  `rpc.server.duration`, any name with `duration` or `latency`) give requests (the count), errors
  and client_errors (the count of points whose `http.response.status_code` is 5xx / 4xx, or with
  `error.type`), latency p50/p95/p99 from the buckets (Prometheus' interpolation; exponential
  buckets are converted to bounds first, and every estimate stays within the points' min and
  max), latency_avg_ms (sum / count) and latency_max_ms;
  the unit (`s`, `ms`) sets the scale;
- request counters (`http.server.requests`, `http.server.request.count`) give requests/errors;
- `*.cpu.utilization` and `*.memory.utilization` gauges (ratio 0-1) give cpu_pct / memory_pct;
- a metric named with a perfops name (`requests`, `perfops.latency_p95_ms`) is taken as it is.
Other instruments are listed in the batch notes and skipped: an export carries many.
Temporality: delta points cover [start, time); cumulative points are differenced stream by
stream (a changed start time is a restart); the row's timestamp is the interval's start.
"""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from perfops.errors import InputError
from perfops.ingest import _series as S
from perfops.ingest.base import DataWarning, IngestBatch, IngestOptions, Reader
from perfops.ingest.common import LATEST_MS, TIME_RANGE, decode_utf8, read_bytes_maybe_gzip, too_big_number

DELTA, CUMULATIVE = 1, 2
KINDS = ("sum", "gauge", "histogram", "exponentialHistogram", "summary")
ROUTE_ATTRS = ("http.route", "url.path", "http.target", "rpc.method", "route", "endpoint")
METHOD_ATTRS = ("http.request.method", "http.method", "method")
CONSUMER_ATTRS = ("consumer", "client.id", "client_id", "client")
DURATION_NAME = re.compile(r"(duration|latency|response_time|response\.time)", re.IGNORECASE)
REQUEST_COUNTERS = frozenset(("http.server.requests", "http.server.request.count", "http.server.request_count",
                              "rpc.server.requests"))
COUNTS = frozenset(("requests", "errors", "client_errors"))
UTILIZATION = {"cpu.utilization": "cpu_pct", "memory.utilization": "memory_pct"}


@dataclass(frozen=True)
class OtlpPoint:
    """One data point with what it belongs to, decoded from the JSON mapping."""

    resource: Mapping[str, Any]
    metric: str
    unit: str
    kind: str  # one of KINDS
    temporality: int  # 0 unspecified (gauge, summary), 1 delta, 2 cumulative
    monotonic: bool
    attributes: Mapping[str, Any]
    start_ns: int | None
    time_ns: int
    value: float | None = None  # sum, gauge
    count: float | None = None  # histogram, summary
    sum: float | None = None
    min: float | None = None
    max: float | None = None
    bounds: tuple[float, ...] = ()  # explicit upper bounds (histogram; converted exponential)
    bucket_counts: tuple[float, ...] = ()  # len(bounds) + 1 for histogram
    quantiles: tuple[tuple[float, float], ...] = ()  # summary (quantile, value)


# ---- decoding ------------------------------------------------------------------------------
def _get(obj: Mapping[str, Any], camel: str, default: Any = None) -> Any:
    if camel in obj:
        return obj[camel]
    snake = re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), camel)
    return obj.get(snake, default)


def _num(value: Any, default: float | None = None) -> float | None:
    """A protobuf JSON number: int, float, or a string ('12', 'NaN', 'Infinity')."""
    if value is None:
        return default
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def _field_number(raw: Mapping[str, Any], camel: str, metric: str, whole: bool = False) -> float | int | None:
    """A data point's number field: absent is None (proto3 leaves zero out); text that is no
    number, or a wrong JSON type, is refused rather than read as zero or as no time."""
    value = _get(raw, camel)
    if value is None:
        return None
    number = None if isinstance(value, bool) else _int(value) if whole else _num(value)
    if number is None:
        raise ValueError(f"metric '{metric[:80]}': {camel} {str(value)[:40]!r} is not "
                         f"{'an integer' if whole else 'a number'}")
    return number


def _int(value: Any) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: int(Infinity)
        return None


TEMPORALITIES = {"AGGREGATION_TEMPORALITY_UNSPECIFIED": 0, "AGGREGATION_TEMPORALITY_DELTA": DELTA,
                 "AGGREGATION_TEMPORALITY_CUMULATIVE": CUMULATIVE}


def _temporality(metric: Mapping[str, Any], body: Mapping[str, Any]) -> int:
    """The enum as a number or, as the protobuf JSON mapping also allows, as its name."""
    value = _get(body, "aggregationTemporality", 0) or 0
    number = TEMPORALITIES.get(value, _int(value)) if isinstance(value, str) else _int(value)
    if number not in (0, DELTA, CUMULATIVE):
        raise ValueError(f"metric '{metric.get('name', '')}': aggregationTemporality {str(value)[:40]!r} is not "
                         "0, 1, 2 or an AGGREGATION_TEMPORALITY_* name")
    return number


def attribute_value(value: Mapping[str, Any] | None) -> Any:
    """An AnyValue: stringValue, intValue (maybe a string), doubleValue, boolValue, arrays, kvlists."""
    if value is None:
        return None
    if not isinstance(value, Mapping):  # e.g. a bare string: the route or service would be lost unsaid
        raise ValueError(f"attribute value {str(value)[:40]!r} is not an AnyValue object ({{\"stringValue\": ...}})")
    for key in ("stringValue", "string_value", "boolValue", "bool_value", "bytesValue", "bytes_value"):
        if key in value:
            return value[key]
    for key in ("intValue", "int_value"):
        if key in value:
            return _int(value[key])
    for key in ("doubleValue", "double_value"):
        if key in value:
            return _num(value[key])
    if "arrayValue" in value or "array_value" in value:
        items = _get(value, "arrayValue").get("values") or []
        return [attribute_value(v) for v in items]
    if "kvlistValue" in value or "kvlist_value" in value:
        return attributes_of(_get(value, "kvlistValue").get("values") or [])
    return None


def attributes_of(items: Any) -> dict[str, Any]:
    """A KeyValue list; anything else (text, an object) is refused: read as no attributes, a
    point's route or service would silently become the whole service's."""
    if items is None:
        return {}
    if not isinstance(items, list) or not all(isinstance(kv, Mapping) for kv in items):
        raise ValueError(f"attributes {str(items)[:60]!r} is not a list of {{key, value}} objects")
    return {str(kv.get("key")): attribute_value(kv.get("value")) for kv in items or [] if isinstance(kv, Mapping)}


def iter_points(document: Any) -> Iterator[OtlpPoint]:
    """Every data point of an ExportMetricsServiceRequest (or a list of them)."""
    requests = document if isinstance(document, list) else [document]
    for request in requests:
        if not isinstance(request, Mapping) or _get(request, "resourceMetrics") is None:
            raise ValueError("expected an object with resourceMetrics")  # a request without it holds nothing
        for rm in _get(request, "resourceMetrics") or []:
            resource = attributes_of((_get(rm, "resource") or {}).get("attributes"))
            for sm in _get(rm, "scopeMetrics") or _get(rm, "instrumentationLibraryMetrics") or []:
                for metric in _get(sm, "metrics") or []:
                    yield from _metric_points(resource, metric)


def _metric_points(resource: Mapping[str, Any], metric: Mapping[str, Any]) -> Iterator[OtlpPoint]:
    if not isinstance(metric.get("name"), str) or not metric["name"]:  # required by the data model
        raise ValueError(f"a metric without a name ({str(metric)[:60]}); expected its name")
    for kind in KINDS:
        body = _get(metric, kind)
        if body is None:
            continue
        base = OtlpPoint(
            resource=resource, metric=str(metric.get("name", "")), unit=str(metric.get("unit", "")), kind=kind,
            temporality=_temporality(metric, body),
            monotonic=bool(_get(body, "isMonotonic", False)), attributes={}, start_ns=None, time_ns=0,
        )
        for raw in _get(body, "dataPoints") or []:
            yield _point(base, raw)


def _point(base: OtlpPoint, raw: Mapping[str, Any]) -> OtlpPoint:
    point = replace(
        base, attributes=attributes_of(raw.get("attributes")),
        start_ns=int(_field_number(raw, "startTimeUnixNano", base.metric, whole=True) or 0) or None,
        time_ns=int(_field_number(raw, "timeUnixNano", base.metric, whole=True) or 0),
        count=_num(raw.get("count"), 0.0) if base.kind in ("histogram", "exponentialHistogram", "summary") else None,
        sum=_num(raw.get("sum")), min=_num(raw.get("min")), max=_num(raw.get("max")),
    )
    if base.kind in ("sum", "gauge"):
        double = _field_number(raw, "asDouble", base.metric)
        whole = _field_number(raw, "asInt", base.metric, whole=True)  # int64: NaN or 4.5 is no asInt
        value = float(double if double is not None else whole if whole is not None else 0.0)
        if base.kind == "sum" and base.monotonic and value < 0:  # a monotonic sum counts up from 0
            raise ValueError(f"metric '{base.metric[:80]}': a monotonic sum's value {value:g} is negative; "
                             "expected 0 or more")
        return replace(point, value=value)
    if base.kind == "histogram":
        bounds = tuple(float(b) for b in _get(raw, "explicitBounds") or [])
        counts = tuple(_num(c, 0.0) or 0.0 for c in _get(raw, "bucketCounts") or [])
        if counts and len(counts) != len(bounds) + 1:  # the proto: none, or one more than the bounds
            raise ValueError(f"metric '{base.metric[:80]}': {len(counts)} bucketCounts for {len(bounds)} "
                             f"explicitBounds; expected {len(bounds) + 1}")
        return replace(point, bounds=bounds, bucket_counts=counts)
    if base.kind == "exponentialHistogram":
        return replace(point, **_exponential_buckets(raw))
    quantiles = tuple((_num(q.get("quantile"), 0.0) or 0.0, _num(q.get("value"), 0.0) or 0.0)
                      for q in _get(raw, "quantileValues") or [])
    return replace(point, quantiles=quantiles)


def _exponential_buckets(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Exponential buckets as explicit ones, by the OpenTelemetry data model
    (metrics/data-model.md, "ExponentialHistogram"): base = 2^(2^-scale); the positive bucket of
    index i covers (base^i, base^(i+1)], the first one's index being `offset`; `zeroCount`
    observations lie in [-zeroThreshold, zeroThreshold]; negative bucket i covers
    (-base^(i+1), -base^i]. A duration cannot be negative: negative observations rank below
    every positive one, so they join the zero bucket (an estimate there is clamped at 0 and at
    the point's min). Bounds come from exp2 (no overflow error at extreme scales or offsets)."""
    scale = _int(raw.get("scale")) or 0
    positive = raw.get("positive") or {}
    offset = _int(positive.get("offset")) or 0
    counts = [_num(c, 0.0) or 0.0 for c in _get(positive, "bucketCounts") or []]
    negative = sum(_num(c, 0.0) or 0.0 for c in _get(raw.get("negative") or {}, "bucketCounts") or [])
    zero = (_num(_get(raw, "zeroCount"), 0.0) or 0.0) + negative
    threshold = _num(_get(raw, "zeroThreshold"), 0.0) or 0.0
    edges = np.exp2(np.arange(offset, offset + len(counts) + 1, dtype=float) * 2.0 ** -scale)
    bounds = [threshold, max(float(edges[0]), threshold), *(float(e) for e in edges[1:])]
    return {"bounds": tuple(bounds), "bucket_counts": (zero, 0.0, *counts, 0.0)}


# ---- naming ---------------------------------------------------------------------------------
def role_of(point: OtlpPoint) -> str | None:
    """What a point is for perfops: 'duration', 'requests', 'direct:<metric>', 'util:<metric>'."""
    name = point.metric.lower()
    direct = [p for p in re.split(r"[.:/]", point.metric) if S.is_metric(p)]
    if direct:
        return f"direct:{direct[-1]}"
    if point.kind in ("histogram", "exponentialHistogram", "summary") and DURATION_NAME.search(name):
        return "duration"
    if point.kind == "sum" and (name in REQUEST_COUNTERS or name.endswith(".requests")):
        return "requests"
    if point.kind == "gauge":
        for suffix, metric in UTILIZATION.items():
            if name.endswith(suffix):
                return f"util:{metric}"
    return None


def duration_factor(point: OtlpPoint) -> float:
    """Milliseconds per unit of a duration instrument: by its unit, else its name."""
    unit = point.unit.strip().lower()
    factor = S.seconds_factor(unit) or S.seconds_factor(point.metric.replace(".", "_"))
    if factor:
        return factor
    return 1000.0 if point.metric in ("http.server.request.duration", "rpc.server.duration") else 1.0


@dataclass
class Interval:
    """A point turned into what happened during [start, end): counts, sum, buckets."""

    point: OtlpPoint
    start_ns: int
    value: float | None = None
    count: float | None = None
    sum: float | None = None
    bucket_counts: tuple[float, ...] = ()
    extremes: bool = True  # min/max describe this interval (delta), not a lifetime
    quantiles: tuple[tuple[float, float], ...] = field(default=())


def intervals(points: list[OtlpPoint], bases: list[OtlpPoint] | None = None) -> list[Interval]:
    """Delta points as they are; cumulative points differenced within their stream. A cumulative
    point that starts a stream without a usable startTimeUnixNano only serves as the base of the
    next one: it is appended to `bases`, so the caller can say what was not read."""
    streams: dict[tuple[Any, ...], list[OtlpPoint]] = defaultdict(list)
    out: list[Interval] = []
    for p in points:
        if _as_is(p):
            start = p.time_ns if p.kind == "gauge" else (p.start_ns or p.time_ns)
            out.append(Interval(p, start, p.value, p.count, p.sum, p.bucket_counts, quantiles=p.quantiles))
        else:
            key = (p.metric, p.kind, tuple(sorted(p.resource.items(), key=str)),
                   tuple(sorted(p.attributes.items(), key=str)))
            streams[key].append(p)
    for stream in streams.values():
        out.extend(_differenced(sorted(stream, key=lambda p: p.time_ns), bases))
    return out


def _as_is(p: OtlpPoint) -> bool:
    """Gauges, delta points, and summaries without a start time (a CloudWatch metric stream's
    summary describes its own period) are taken as they are."""
    if p.kind == "summary":
        return p.start_ns is None
    return p.kind == "gauge" or p.temporality != CUMULATIVE


def _differenced(stream: list[OtlpPoint], bases: list[OtlpPoint] | None = None) -> Iterator[Interval]:
    previous: OtlpPoint | None = None
    for p in stream:
        restarted = previous is None or p.start_ns != previous.start_ns or (p.count or p.value or 0) < (
            previous.count or previous.value or 0)
        if restarted:
            if p.start_ns and p.start_ns < p.time_ns:
                yield Interval(p, p.start_ns, p.value, p.count, p.sum, p.bucket_counts, quantiles=p.quantiles)
            elif bases is not None:
                bases.append(p)
        else:
            assert previous is not None
            yield Interval(
                p, previous.time_ns, _minus(p.value, previous.value), _minus(p.count, previous.count),
                _minus(p.sum, previous.sum), _bucket_minus(p.bucket_counts, previous.bucket_counts),
                extremes=False, quantiles=p.quantiles,
            )
        previous = p


def _minus(a: float | None, b: float | None) -> float | None:
    return None if a is None else a - (b or 0.0)


def _bucket_minus(a: tuple[float, ...], b: tuple[float, ...]) -> tuple[float, ...]:
    return tuple(x - y for x, y in zip(a, b, strict=False)) if len(a) == len(b) else a


# ---- to telemetry --------------------------------------------------------------------------
@dataclass(frozen=True)
class Where:
    service: str
    endpoint: str
    consumer: str


def where_of(point: OtlpPoint, resolver: S.ServiceResolver) -> Where | None:
    service = resolver.resolve(str(point.resource.get("service.name") or ""))
    if service is None:
        return None
    attrs = {k: str(v) for k, v in point.attributes.items() if v is not None}
    route = S.pick(attrs, None, ROUTE_ATTRS)
    method = S.pick(attrs, None, METHOD_ATTRS).upper()
    endpoint = f"{method} {route}" if route and method and " " not in route else route
    return Where(service, endpoint, S.pick(attrs, None, CONSUMER_ATTRS))


def _failure_class(point: OtlpPoint) -> str | None:
    attrs = {k: str(v) for k, v in point.attributes.items() if v is not None}
    status = S.status_class(attrs)
    if status is None and attrs.get("error.type"):
        return "5xx"
    return status


def rows_of(item: Interval, role: str, where: Where) -> Iterator[tuple[str, float]]:
    """(metric, value) rows of one interval (percentiles come from merged buckets, later)."""
    if role.startswith("direct:"):
        yield role.split(":", 1)[1], _first(item.value, item.count)
        return
    if role.startswith("util:"):
        yield role.split(":", 1)[1], 100.0 * (item.value or 0.0)
        return
    count = item.value if role == "requests" else item.count
    if count is None:
        return
    yield "requests", count
    failure = _failure_class(item.point)
    if failure == "5xx":
        yield "errors", count
    elif failure == "4xx":
        yield "client_errors", count
    if role == "duration":
        factor = duration_factor(item.point)
        if item.extremes and item.point.max is not None and count > 0:
            yield "latency_max_ms", factor * item.point.max
        for q, value in item.quantiles:
            if math.isclose(q, 1.0):
                yield "latency_max_ms", factor * value
            for metric, wanted in S.PERCENTILES.items():
                if math.isclose(q, wanted):
                    yield metric, factor * value


def _first(*values: float | None) -> float:
    return next((v for v in values if v is not None), 0.0)


def average_rows(items: list[tuple[Interval, Where]]) -> Iterator[tuple[Where, int, str, float]]:
    """latency_avg_ms = all sums / all counts of the intervals on one key (weighted, not a mean
    of means: a few slow failures must weigh by their number)."""
    totals: dict[tuple[Where, int, float], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for item, where in items:
        if item.sum is not None and item.count:
            total = totals[(where, item.start_ns, duration_factor(item.point))]
            total[0] += item.sum
            total[1] += item.count
    for (where, start, factor), (value_sum, count) in totals.items():
        if count > 0:
            yield where, start, "latency_avg_ms", factor * value_sum / count


def percentile_rows(items: list[tuple[Interval, Where]]) -> Iterator[tuple[Where, int, str, float]]:
    """p50/p95/p99 from the buckets of all intervals on one key, merged (same bounds)."""
    merged: dict[tuple[Where, int, tuple[float, ...], float], list[Interval]] = defaultdict(list)
    for item, where in items:
        if item.bucket_counts:
            merged[(where, item.start_ns, item.point.bounds, duration_factor(item.point))].append(item)
    for (where, start, bounds, factor), group in merged.items():
        counts = np.sum([np.asarray(i.bucket_counts, dtype=float) for i in group], axis=0)
        upper = np.asarray((*bounds, math.inf))[: len(counts)]
        lowest, highest = _observed_range(group)
        for metric, q in S.PERCENTILES.items():
            value = S.bucket_quantile(upper, counts[None, :], q, lowest=lowest, highest=highest)[0]
            if np.isfinite(value):
                yield where, start, metric, factor * float(value)


def _observed_range(group: list[Interval]) -> tuple[float, float | None]:
    """[min, max] of the merged intervals' observations: known only when every interval gives
    them for itself (a cumulative point's min/max cover its lifetime, not the interval); a
    duration is never below 0."""
    own = [i for i in group if i.extremes and i.count]
    complete = len(own) == len([i for i in group if i.count])
    lows = [i.point.min for i in own if i.point.min is not None]
    highs = [i.point.max for i in own if i.point.max is not None]
    lowest = max(min(lows), 0.0) if complete and lows and len(lows) == len(own) else 0.0
    highest = max(highs) if complete and highs and len(highs) == len(own) else None
    return lowest, highest


# ---- the reader -----------------------------------------------------------------------------
def load_document(path: Path) -> Any:
    """One JSON document, or JSON lines (the collector's file exporter) as a list."""
    text = decode_utf8(read_bytes_maybe_gzip(path), path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.msg != "Extra data":
            raise InputError(f"invalid JSON: {exc.msg} (column {exc.colno})", path=str(path), line=exc.lineno) from exc
    except ValueError as exc:
        raise too_big_number(exc, path) from exc
    documents = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                documents.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise InputError(f"invalid JSON line: {exc.msg}", path=str(path), line=number) from exc
            except ValueError as exc:  # an integer of more than 4,300 digits
                raise InputError(f"invalid JSON line: {exc}", path=str(path), line=number) from exc
    return documents


LATEST_NS = LATEST_MS * 1_000_000


def timed(points: list[OtlpPoint], problems: S.Problems) -> list[OtlpPoint]:
    """The points whose times are within the accepted range (ingest.common); a point without
    timeUnixNano, or with a time outside it, is refused (skipped with --skip-bad-rows)."""
    kept = []
    for p in points:
        for name, value in (("timeUnixNano", p.time_ns), ("startTimeUnixNano", p.start_ns)):
            if value is not None and not 0 < value < LATEST_NS:
                what = f"metric '{p.metric[:80]}': a data point " + (
                    f"without {name}" if value == 0 else f"with {name} {value}")
                problems.report(f"{what}; expected a time within {TIME_RANGE}", field=name)
                break
        else:
            kept.append(p)
    return kept


def telemetry_of(points: list[OtlpPoint], options: IngestOptions, problems: S.Problems,
                 notes: list[str]) -> list[S.Piece]:
    resolver = S.ServiceResolver(options.catalog, options.service)
    placed: list[tuple[Interval, Where]] = []
    unnamed: dict[str, int] = defaultdict(int)
    bases: list[OtlpPoint] = []
    for item in intervals(points, bases):
        role = role_of(item.point)
        if role is None:
            unnamed[item.point.metric] += 1
            continue
        where = where_of(item.point, resolver)
        if where is None:
            problems.report(
                f"metric '{item.point.metric}': service.name '{item.point.resource.get('service.name', '')}' "
                "is not in the catalog", field="service.name",
                hint="add the service to perfops.yaml or pass --service",
            )
            continue
        placed.append((item, where))
    for name, count in sorted(unnamed.items()):
        notes.append(f"metric '{name}' ({count} points) is not one perfops reads; skipped")
    read_bases = [p for p in bases if role_of(p) is not None]
    if read_bases:
        notes.append(DataWarning(
            f"{len(read_bases):,} cumulative points had no startTimeUnixNano before their time: each served only "
            "as the base of its stream's next point, and what it counted before is not in the totals"))
    return _pieces(placed)


def _pieces(placed: list[tuple[Interval, Where]]) -> list[S.Piece]:
    """Rows of every interval; when a service has a request counter, its duration instruments
    give only latencies (their counts would count the same requests twice)."""
    counted = {w for i, w in placed if role_of(i.point) in ("requests", "direct:requests")}
    rows: list[tuple[Where, int, str, float]] = []
    for item, where in placed:
        role = role_of(item.point) or ""
        for metric, value in rows_of(item, role, where):
            if role == "duration" and where in counted and metric in COUNTS:
                continue
            rows.append((where, item.start_ns, metric, value))
    durations = [(i, w) for i, w in placed if role_of(i.point) == "duration"]
    rows.extend(average_rows(durations))
    rows.extend(percentile_rows(durations))
    return [
        S.Piece(w.service, w.endpoint, w.consumer, metric,
                np.array([start // 1000], dtype="int64").astype("datetime64[us]"), np.array([value]))
        for w, start, metric, value in rows
    ]


def sniff(path: Path, head: bytes) -> bool:
    text = head[:8192].decode("utf-8", errors="replace")
    return text.lstrip().startswith(("{", "[")) and ('"resourceMetrics"' in text or '"resource_metrics"' in text)


def read(path: Path, options: IngestOptions) -> IngestBatch:
    document = load_document(path)
    try:
        points = list(iter_points(document))
    except (AttributeError, TypeError, KeyError, ValueError, OverflowError) as exc:
        raise InputError(f"not an OTLP metrics export ({exc})", path=str(path), field="resourceMetrics") from exc
    notes: list[str] = []
    problems = S.Problems(str(path), options.skip_bad_rows)
    frame = S.frame_of(telemetry_of(timed(points, problems), options, problems, notes))
    return IngestBatch(telemetry=frame, skipped=problems.skipped, notes=notes)


READER = Reader(
    name="otlp-json",
    description="OpenTelemetry OTLP metrics, JSON encoding (ExportMetricsServiceRequest or file-exporter lines)",
    sniff=sniff,
    read=read,
    priority=20,
)
