"""Prometheus HTTP API JSON: what `/api/v1/query_range` (or `/api/v1/query`) answers, saved to a file.

Accepted shapes: the full envelope `{"status": "success", "data": {"resultType": "matrix",
"result": [...]}}`, `data` alone, or the bare `result` array (as prometheus-api-client saves it);
result types matrix, vector and scalar; timestamps as float seconds; values as strings
(`"NaN"`, `"+Inf"` are dropped); `metric: {}` for aggregated series. An `"status": "error"`
answer is reported with Prometheus' own message.

Which perfops metric a series is (see docs/sources.md, "Prometheus JSON files"):
1. its `__name__` through NAME_RULES below: perfops' own names (also as the last part of a
   recording-rule name like `service:latency_p95_ms:5m`), HTTP request counters (split by the
   status label into requests, errors, client_errors), `*_bucket` latency histograms (p50, p95,
   p99), request-duration summaries (`{quantile="0.5|0.95|0.99|1"}` -> p50, p95, p99, max;
   SUMMARY_NAME), `process_cpu_seconds_total` (cpu_pct) and `up` (instances); latencies are
   turned into ms by the name's unit suffix (`_seconds`);
2. else a perfops metric named in the file name (`checkout-api.latency_p95_ms.json`): the values
   are taken as they are (the query already computed them);
3. else the series cannot be placed: an error saying how to name it (or skipped with
   --skip-bad-rows).
The service comes from `--service`, else the configured label (catalog
`sources.prometheus.labels.service`, default `service`), then `service_name`, `job`, `app`,
else a catalog service named in the file name. Endpoint: configured label, then `http_route`,
`route`, `handler`, `uri`, `path`, prefixed with the `method` label when there is one.
Raw counters (`*_total`, `*_count`, `*_bucket` with `__name__`) are cumulative: perfops stores
per-interval increases (reset-aware, like PromQL `increase`) at the start of each interval.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from perfops.errors import InputError
from perfops.ingest import _series as S
from perfops.ingest.base import DataWarning, IngestBatch, IngestOptions, Reader
from perfops.ingest.common import LATEST_S, decode_utf8, out_of_range, read_bytes_maybe_gzip, too_big_number
from perfops.model.catalog import Catalog


@dataclass(frozen=True)
class RawSeries:
    """One series as Prometheus returned it: labels, epoch seconds, float values."""

    labels: dict[str, str]
    times: np.ndarray  # float64 epoch seconds
    values: np.ndarray  # float64
    not_numbers: int = 0  # NaN/±Inf points of the answer left out (the user is told how many)


@dataclass(frozen=True)
class NameRule:
    pattern: re.Pattern[str]
    kind: str  # requests | histogram | cpu_seconds | instances


NAME_RULES = (
    NameRule(re.compile(r"^(.*_)?http_(server_)?requests?(_seconds)?(_total|_count)$"), "requests"),
    NameRule(re.compile(r"^(.*_)?(http_server_request_duration|http_server_requests|request_duration|"
                        r"http_request_duration|response_time|latency)(_seconds|_milliseconds|_ms)?_count$"),
             "requests"),
    NameRule(re.compile(r"^.*(duration|latency|response_time|http_server_requests).*_bucket$"), "histogram"),
    NameRule(re.compile(r"^process_cpu_seconds_total$"), "cpu_seconds"),
    NameRule(re.compile(r"^up$"), "instances"),
)


# a summary (`…{quantile="0.99"}` beside `_sum` and `_count`) is read when its `_count` is read
# as HTTP requests (NAME_RULES): the same request-duration families, never runtime summaries
# such as go_gc_duration_seconds
SUMMARY_NAME = re.compile(r"^(.*_)?(http_server_request_duration|http_server_requests|request_duration|"
                          r"http_request_duration|response_time|latency)(_seconds|_milliseconds|_ms|_microseconds)?$")


@dataclass(frozen=True)
class Naming:
    """What a file or a collect run knows about naming series."""

    catalog: Catalog
    labels: Mapping[str, str]
    service_override: str | None = None
    metric_hint: str | None = None  # from the file name or the collect query
    service_hint: str | None = None
    raw_counters: bool = True  # False: values were computed by PromQL (collect), never diffed


def label_config(catalog: Catalog) -> dict[str, str]:
    source = catalog.sources.prometheus if catalog.sources else None
    return {**S.DEFAULT_LABELS, **(dict(source.labels) if source else {})}


# ---- parsing ---------------------------------------------------------------------------
def parse_document(document: Any, path: str = "") -> list[RawSeries]:
    """Series from any accepted shape of a query or query_range answer."""
    if isinstance(document, dict) and document.get("status") == "error":
        raise InputError(
            f"Prometheus answered an error: {document.get('errorType', '')}: {document.get('error', '')}".strip(),
            path=path,
        )
    data = document.get("data", document) if isinstance(document, dict) else document
    if isinstance(data, list):
        return [_series(item, path) for item in data]
    if not isinstance(data, dict) or "result" not in data:
        raise InputError("not a Prometheus API answer; expected data.result", path=path, field="data")
    kind, result = data.get("resultType", "matrix"), data["result"]
    if kind in ("scalar", "string"):
        return [_series({"metric": {}, "value": result}, path)] if kind == "scalar" else []
    if not isinstance(result, list):
        raise InputError(f"data.result must be a list for {kind}", path=path, field="data.result")
    return [_series(item, path) for item in result]


def _series(item: Any, path: str) -> RawSeries:
    if not isinstance(item, dict) or not isinstance(item.get("metric", {}), dict):
        raise InputError("each result must be an object with metric and values", path=path, field="result")
    labels = {str(k): v for k, v in (item.get("metric") or {}).items()}
    odd = next((k for k, v in labels.items() if not isinstance(v, str)), None)
    if odd is not None:  # str(None) would become the endpoint or service "None"
        raise InputError(f"label {odd} is {str(labels[odd])[:40]}; expected a label value, a string", path=path,
                         field=f"metric.{odd}")
    pairs = item.get("values") if "values" in item else ([item["value"]] if "value" in item else [])
    if not isinstance(pairs, list):  # null or an object: not "no points"
        raise InputError(f"{str(pairs)[:40]} is not a list of [timestamp, \"value\"] points", path=path,
                         field="values")
    times, values, not_numbers = points_of(pairs or [], path)
    return RawSeries(labels, times, values, not_numbers)


def points_of(pairs: list[Any], path: str = "") -> tuple[np.ndarray, np.ndarray, int]:
    """[[ts, "v"], ...] -> (float seconds, float values, how many NaN/±Inf values were left out).
    A value that is no number's text (null, a list) or a time that is no finite number is refused:
    numpy would read null as NaN and the point would vanish unsaid."""
    if not pairs:
        return np.empty(0), np.empty(0), 0
    for i, pair in enumerate(pairs):
        if (not isinstance(pair, list | tuple) or len(pair) != 2 or not isinstance(pair[1], str | int | float)
                or isinstance(pair[1], bool) or not isinstance(pair[0], str | int | float) or isinstance(pair[0], bool)):
            raise InputError(f"point {i} is {str(pair)[:60]}; expected [timestamp, \"value\"]", path=path,
                             field="values")
    try:
        table = np.asarray(pairs, dtype=object)
        times = table[:, 0].astype(float)
        values = table[:, 1].astype(float)
    except (ValueError, TypeError, IndexError) as exc:
        raise InputError(f"a point is not [timestamp, \"value\"] ({exc})", path=path, field="values") from exc
    wrong = ~np.isfinite(times) | (times < 0) | (times >= LATEST_S)
    if wrong.any():
        raise out_of_range(f"a point time ({times[wrong][0]:g} s since 1970)", path=path, field="values")
    keep = np.isfinite(values)
    return times[keep], values[keep], int((~keep).sum())


_DECODER = json.JSONDecoder()


def parse_matrix_text(text: str) -> list[RawSeries] | None:
    """Fast path for a large `query_range` answer as Prometheus writes it: labels are decoded
    with json, each `values` array is converted in one C pass (np.fromstring) instead of building
    a Python list per point. Returns None (use parse_document) for anything unexpected: another
    key order, native histograms, an error answer."""
    start = text.find('"result":[')
    if start < 0 or '"status":"success"' not in text[:200] or '"histogram' in text:
        return None
    series, pos = [], start + len('"result":[')
    while True:
        pos = text.find('{"metric":', pos)
        if pos < 0:
            break
        try:
            labels, pos = _DECODER.raw_decode(text, pos + len('{"metric":'))
        except ValueError:
            return None
        if not text.startswith(',"values":[', pos) or not isinstance(labels, dict):
            return None
        pos += len(',"values":[')
        end = text.find("]]", pos) + 1 if text[pos] != "]" else pos
        if end <= 0:
            return None
        points = _numbers(text[pos:end])
        if points is None:
            return None
        keep = np.isfinite(points[1])
        series.append(RawSeries({str(k): str(v) for k, v in labels.items()}, points[0][keep], points[1][keep],
                                int((~keep).sum())))
        pos = end
    return series


def _numbers(segment: str) -> tuple[np.ndarray, np.ndarray] | None:
    """'[t,"v"],[t,"v"]' -> (times, values), the values as they are (NaN, ±Inf included)."""
    if not segment:
        return np.empty(0), np.empty(0)
    flat = segment.replace('"', "").replace("[", "").replace("]", "")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        numbers = np.fromstring(flat, sep=",")
    if len(numbers) % 2 or len(numbers) != flat.count(",") + 1:
        return None
    times, values = numbers[0::2], numbers[1::2]
    if ((times < 0) | (times >= LATEST_S) | np.isnan(times)).any():
        return None  # the careful path names the bad point
    return times, values


def to_datetime(seconds: np.ndarray) -> np.ndarray:
    """Epoch seconds (float, ms fraction) -> naive UTC datetime64[us], rounded to the microsecond."""
    return np.round(seconds * 1e6).astype("int64").astype("datetime64[us]")


# ---- naming ----------------------------------------------------------------------------
def pieces_of(series: list[RawSeries], naming: Naming, problems: S.Problems,
              context: list[RawSeries] | None = None) -> list[S.Piece]:
    """Name every series in perfops' terms (see the module docstring for the rules); `context`:
    every series of the file, when `series` is a selection (summaries look up their `_count`)."""
    resolver = S.ServiceResolver(naming.catalog, naming.service_override)
    pieces: list[S.Piece] = []
    histograms: dict[tuple[tuple[str, str], ...], list[RawSeries]] = {}
    everything = series if context is None else context
    empty = _empty_summary_times(everything)
    bucketed = {i.labels.get("__name__", "").removesuffix("_bucket") for i in everything
                if "le" in i.labels and series_kind(i, naming) == "histogram"}
    for item in series:
        name = item.labels.get("__name__", "")
        kind = series_kind(item, naming)
        if kind == "summary" and name in bucketed:
            continue  # Micrometer writes both for one timer: the histogram's buckets are read instead
        if kind is None:
            problems.report(_unnamed_message(item.labels), field="__name__", hint=_UNNAMED_HINT)
            continue
        service = _service_of(item.labels, naming, resolver, problems)
        if service is None:
            continue
        if kind == "histogram":
            key = tuple(sorted((k, v) for k, v in item.labels.items() if k not in ("le", "__name__")))
            histograms.setdefault((("__service__", service), ("__name__", name), *key), []).append(item)
            continue
        if kind == "summary":
            item = _observed(item, empty.get(_summary_key(item.labels), set()))
        pieces.extend(_without_negatives(_convert(kind, item, service, naming), item, problems))
    for key, group in histograms.items():
        pieces.extend(_histogram_pieces(dict(key)["__service__"], dict(key)["__name__"], group, naming))
    return pieces


_UNNAMED_HINT = (
    "name the metric: save a query whose __name__ perfops knows (see docs/sources.md), put a perfops "
    "metric in the file name (e.g. checkout-api.latency_p95_ms.json), or use 'perfops collect' with a "
    "query per metric in perfops.yaml"
)


def _unnamed_message(labels: Mapping[str, str]) -> str:
    name = labels.get("__name__")
    if name:
        return f"series '{name}' is not a metric perfops knows"
    return "a series without __name__ (an aggregated query) does not say which perfops metric it is"


def series_kind(item: RawSeries, naming: Naming) -> str | None:
    """kind_of, and 'summary' for the quantile series of a request-duration summary (a file's
    series, not a collect query's: a query names its metric outright)."""
    name = item.labels.get("__name__", "")
    if "quantile" in item.labels and naming.raw_counters and is_request_summary(name):
        return "summary"
    return kind_of(name, naming)


def kind_of(name: str, naming: Naming) -> str | None:
    """'direct:<metric>', a NAME_RULES kind, or None when the series cannot be named. A collect
    query names its metric outright; in a file the series' own name comes first."""
    if naming.metric_hint and not naming.raw_counters:
        return f"direct:{naming.metric_hint}"
    named = [part for part in name.split(":") if S.is_metric(part)] if name else []
    if named:
        return f"direct:{named[-1]}"
    for rule in NAME_RULES if name else ():
        if rule.pattern.match(name):
            return rule.kind
    if naming.metric_hint:
        return f"direct:{naming.metric_hint}"
    return None


def _service_of(labels: Mapping[str, str], naming: Naming, resolver: S.ServiceResolver,
                problems: S.Problems) -> str | None:
    configured = naming.labels.get("service", "service")
    raw = S.pick(labels, configured, S.SERVICE_LABELS) or naming.service_hint or ""
    service = resolver.resolve(raw)
    if service is None:
        shown = ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) or "no labels"
        what = f"service '{raw}' is not in the catalog" if raw else "no label names the service"
        problems.report(
            f"series {{{shown}}}: {what}", field=configured,
            hint="add the service to perfops.yaml, pass --service, or set sources.prometheus.labels.service",
        )
    return service


def _names(labels: Mapping[str, str], naming: Naming) -> tuple[str, str]:
    endpoint = S.endpoint_of(labels, naming.labels.get("endpoint"))
    consumer = S.pick(labels, naming.labels.get("consumer"), S.CONSUMER_LABELS)
    return endpoint, consumer


def _without_negatives(pieces: list[S.Piece], item: RawSeries, problems: S.Problems) -> list[S.Piece]:
    """Counts, durations and shares are never negative. Raw counters are diffed reset-aware (a
    decrease is a restart, as in PromQL `rate`/`increase`), so a negative value can only come from
    a series computed elsewhere (`delta()`/`deriv()` of a counter, which do not treat resets):
    refused naming the series and time, or its points dropped with --skip-bad-rows."""
    kept = []
    for piece in pieces:
        negative = np.asarray(piece.values, dtype=float) < 0
        if negative.any():
            i = int(np.flatnonzero(negative)[0])
            shown = ", ".join(f'{k}="{v}"' for k, v in sorted(item.labels.items()))
            problems.report(
                f"series {{{shown}}}: {piece.values[i]:g} {piece.metric} at "
                f"{np.datetime_as_string(np.asarray(piece.timestamps)[i].astype('datetime64[s]'))}Z "
                f"({int(negative.sum())} negative point(s)); expected a value of 0 or more", field="values",
                hint="query rate() or increase(), which treat a counter's decrease as a reset, not delta() or deriv()")
            piece = S.Piece(piece.service, piece.endpoint, piece.consumer, piece.metric,
                            np.asarray(piece.timestamps)[~negative], np.asarray(piece.values)[~negative])
        kept.append(piece)
    return kept


def _convert(kind: str, item: RawSeries, service: str, naming: Naming) -> list[S.Piece]:
    endpoint, consumer = _names(item.labels, naming)

    def piece(metric: str, t: np.ndarray, v: np.ndarray) -> S.Piece:
        return S.Piece(service, endpoint, consumer, metric, to_datetime(t), v)

    if kind.startswith("direct:"):
        return [piece(kind.split(":", 1)[1], item.times, item.values)]
    if kind == "instances":
        return [piece("instances", item.times, item.values)]
    if kind == "summary":
        metric = _summary_metric(item.labels["quantile"])
        factor = S.seconds_factor(item.labels.get("__name__", "")) or 1.0
        return [piece(metric, item.times, factor * item.values)] if metric else []
    order = np.argsort(item.times, kind="stable")
    times, values = item.times[order], item.values[order]
    grown = S.increases(values)
    if kind == "cpu_seconds":
        spans = np.diff(times)
        return [piece("cpu_pct", times[:-1][spans > 0], 100.0 * grown[spans > 0] / spans[spans > 0])]
    status = S.status_class(item.labels)
    out = [piece("requests", times[:-1], grown)]
    if status == "5xx":
        out.append(piece("errors", times[:-1], grown))
    elif status == "4xx":
        out.append(piece("client_errors", times[:-1], grown))
    return out


def is_request_summary(name: str) -> bool:
    """A request-duration summary family: SUMMARY_NAME, and a name that says it times requests
    (not `prometheus_local_storage_persist_latency_microseconds`)."""
    return bool(SUMMARY_NAME.match(name) and _REQUEST_WORD.search(name))


_REQUEST_WORD = re.compile(r"(http|request|response|rpc|grpc|server)")


def _summary_key(labels: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """A summary's family and labels, without `quantile` (its `_count` series has the same)."""
    name = labels.get("__name__", "").removesuffix("_count")
    return (("__name__", name), *sorted((k, v) for k, v in labels.items() if k not in ("quantile", "__name__")))


def _empty_summary_times(series: list[RawSeries]) -> dict[tuple[tuple[str, str], ...], set[float]]:
    """When each summary had observed nothing (its `_count` is 0): a summary then reports its
    quantiles as 0 or NaN, which are no latencies."""
    out: dict[tuple[tuple[str, str], ...], set[float]] = {}
    for item in series:
        if item.labels.get("__name__", "").endswith("_count") and is_request_summary(
                item.labels["__name__"].removesuffix("_count")):
            out[_summary_key(item.labels)] = {float(t) for t, v in zip(item.times, item.values, strict=True) if v == 0}
    return out


def _observed(item: RawSeries, empty: set[float]) -> RawSeries:
    if not empty:
        return item
    keep = np.array([float(t) not in empty for t in item.times], dtype=bool)
    return RawSeries(item.labels, item.times[keep], item.values[keep])


def _summary_metric(quantile: str) -> str | None:
    """latency_p50/p95/p99_ms for quantiles 0.5/0.95/0.99, latency_max_ms for 1 (the window's
    largest observation); None for the others (perfops stores no p90 or p25)."""
    try:
        q = float(quantile)
    except ValueError:
        return None
    if math.isclose(q, 1.0):
        return "latency_max_ms"
    return next((metric for metric, wanted in S.PERCENTILES.items() if math.isclose(q, wanted)), None)


def _histogram_pieces(service: str, name: str, group: list[RawSeries], naming: Naming) -> list[S.Piece]:
    """Cumulative `le` buckets over time -> per-interval bucket counts -> p50/p95/p99 (ms)."""
    by_le: dict[float, RawSeries] = {}
    for item in group:
        try:
            by_le[float(item.labels.get("le", "nan"))] = item
        except ValueError:
            continue
    bounds = np.array(sorted(b for b in by_le if not np.isnan(b)))
    if len(bounds) == 0:
        return []
    common: set[float] = set.intersection(*(set(map(float, by_le[b].times)) for b in bounds))
    times = sorted(common)
    if not times:
        return []
    matrix = np.column_stack([_values_at(by_le[b], times) for b in bounds])  # cumulative in le and time
    if len(times) == 1:  # one scrape: the distribution since the process started
        grown, stamps = matrix, to_datetime(np.array(times))
    else:
        grown = np.column_stack([S.increases(matrix[:, j]) for j in range(len(bounds))])
        stamps = to_datetime(np.array(times[:-1]))
    per_bucket = np.diff(np.concatenate([np.zeros((len(grown), 1)), grown], axis=1), axis=1).clip(min=0)
    factor = S.seconds_factor(name) or 1.0
    endpoint, consumer = _names(group[0].labels, naming)
    return [
        S.Piece(service, endpoint, consumer, metric, stamps, factor * S.bucket_quantile(bounds, per_bucket, q))
        for metric, q in S.PERCENTILES.items()
    ]


def _values_at(item: RawSeries, times: list[float]) -> np.ndarray:
    lookup: dict[float, float] = dict(zip(map(float, item.times), map(float, item.values), strict=True))
    return np.array([lookup[t] for t in times])


# ---- the reader ------------------------------------------------------------------------
def sniff(path: Path, head: bytes) -> bool:
    text = head.lstrip()[:4096].decode("utf-8", errors="replace")
    if text.startswith("{"):
        return '"resultType"' in text or ('"status"' in text and '"data"' in text and '"result"' in text)
    return text.startswith("[") and '"metric"' in text and ('"values"' in text or '"value"' in text)


def read(path: Path, options: IngestOptions) -> IngestBatch:
    document = load_json(path)
    try:
        series = parse_document(document, str(path))
    except (AttributeError, TypeError, KeyError, ValueError) as exc:
        raise InputError(f"not a Prometheus API answer of the expected shape ({exc})", path=str(path)) from exc
    metric_hint, service_hint = S.hint_from_filename(path.name, options.catalog)
    naming = Naming(options.catalog, label_config(options.catalog), options.service, metric_hint, service_hint)
    problems = S.Problems(str(path), options.skip_bad_rows)
    pieces = pieces_of(series, naming, problems)
    batch = IngestBatch(telemetry=S.frame_of(pieces), skipped=problems.skipped)
    if not series:
        batch.notes.append(f"{path}: the answer holds no series")
    not_numbers = sum(s.not_numbers for s in series)
    if not_numbers:  # a counter's interval next to such a point is then missing or spans the gap
        batch.notes.append(DataWarning(f"{not_numbers:,} points were NaN or ±Inf and were not read; counter "
                                       "intervals next to them are missing or span the gap"))
    return batch


def load_json(path: Path) -> Any:
    """The parsed file (gzip allowed), or an InputError naming the line and column."""
    text = decode_utf8(read_bytes_maybe_gzip(path), path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON: {exc.msg} (column {exc.colno})", path=str(path), line=exc.lineno) from exc
    except ValueError as exc:
        raise too_big_number(exc, path) from exc


READER = Reader(
    name="prometheus-json",
    description="Prometheus HTTP API query / query_range answer saved as JSON (also the bare result array)",
    sniff=sniff,
    read=read,
    priority=20,
)
