"""Amazon CloudWatch metrics as the AWS CLI / SDKs write them in JSON.

Two answers are read:
- `GetMetricData` (`aws cloudwatch get-metric-data`): `MetricDataResults` of `Id`, `Label`,
  `Timestamps`, `Values`, `StatusCode`; one page, or an array of pages (NextToken pagination), where
  the same Id and Label continue across pages (`PartialData` then `Complete`);
- `GetMetricStatistics` (`aws cloudwatch get-metric-statistics`): `Label` (the metric name) and
  `Datapoints` of `Timestamp`, `Unit` and one or more statistics (`Average`, `Sum`, `Maximum`,
  `Minimum`, `SampleCount`, `ExtendedStatistics: {p95: ...}`), in no particular order.

Naming rules (docs/sources.md, "CloudWatch JSON"). The Label and the Id are split into tokens
(on spaces, `/`, `|`, `:` and `,`; `key=value` tokens are read first):
- metric: `metric=<perfops metric>` or a token that is a perfops metric name (the values are
  taken as they are); else a CloudWatch metric name of CW_METRICS (RequestCount,
  HTTPCode_Target_5XX_Count, TargetResponseTime, Latency, CPUUtilization, ...), with the
  statistic (from the answer, or a token such as `p95`, `Average`, `Maximum`) choosing among
  latency_p50/p95/p99/avg/max; seconds are turned into milliseconds by the `Unit`, else by the
  metric's usual unit;
- service: `service=<name>` or a token that is a catalog service (dimension values such as an ALB
  name `app/checkout-api/50dc6c495c0c9188` give one), else `--service`, else a service named in
  the file name;
- else a perfops metric named in the file name (`checkout-api.cpu_pct.json`), values as they are;
- endpoint: `endpoint=<METHOD /path>` (quote it when it holds a space), else the whole service.
A result that cannot be named is an error saying how to label it, or skipped with --skip-bad-rows.
Timestamps are the start of each period (CloudWatch's own convention), naive UTC.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from perfops.errors import InputError
from perfops.ingest import _series as S
from perfops.ingest.base import DataWarning, IngestBatch, IngestOptions, Reader
from perfops.ingest.common import out_of_range, parse_timestamps, times_in_range
from perfops.ingest.prometheus_json import load_json

# CloudWatch metric name -> (perfops family, milliseconds per unit when the answer has no Unit)
CW_METRICS: dict[str, tuple[str, float]] = {
    "RequestCount": ("requests", 1.0), "Count": ("requests", 1.0), "Invocations": ("requests", 1.0),
    "Requests": ("requests", 1.0),
    "HTTPCode_Target_5XX_Count": ("errors", 1.0), "HTTPCode_ELB_5XX_Count": ("errors", 1.0),
    "HTTPCode_Backend_5XX": ("errors", 1.0), "5XXError": ("errors", 1.0), "5xxErrors": ("errors", 1.0),
    "Errors": ("errors", 1.0),
    "HTTPCode_Target_4XX_Count": ("client_errors", 1.0), "HTTPCode_ELB_4XX_Count": ("client_errors", 1.0),
    "HTTPCode_Backend_4XX": ("client_errors", 1.0), "4XXError": ("client_errors", 1.0),
    "4xxErrors": ("client_errors", 1.0),
    "TargetResponseTime": ("latency", 1000.0), "Latency": ("latency", 1.0), "Duration": ("latency", 1.0),
    "IntegrationLatency": ("latency", 1.0), "OriginLatency": ("latency", 1.0),
    "CPUUtilization": ("cpu_pct", 1.0), "MemoryUtilization": ("memory_pct", 1.0),
    "HealthyHostCount": ("instances", 1.0), "RunningTaskCount": ("instances", 1.0),
    "GroupInServiceInstances": ("instances", 1.0),
}
STATISTICS = ("Average", "Sum", "Maximum", "Minimum", "SampleCount")
_PERCENTILE = re.compile(r"^p(\d{1,2}(?:\.\d+)?)$")
_KEY_VALUE = re.compile(r"""\b(metric|service|endpoint|consumer)=("[^"]*"|'[^']*'|[^\s|,]+)""")
_UNIT_MS = {"Seconds": 1000.0, "Milliseconds": 1.0, "Microseconds": 0.001}


@dataclass(frozen=True)
class CwSeries:
    """One result (GetMetricData) or one statistic of the datapoints (GetMetricStatistics)."""

    id: str
    label: str
    statistic: str | None  # None: not stated by the answer
    unit: str | None
    times: np.ndarray  # datetime64[us], naive UTC
    values: np.ndarray
    status: str = "Complete"


# ---- parsing ----------------------------------------------------------------------------
def parse_document(document: Any, path: str = "") -> tuple[list[CwSeries], list[str]]:
    """Series and notes (service messages, incomplete pages) from either answer."""
    pages = document if isinstance(document, list) else [document]
    if not pages or not all(isinstance(p, Mapping) for p in pages):
        raise InputError("expected a CloudWatch answer object or an array of pages", path=path,
                         field="MetricDataResults")
    if all("Datapoints" in p for p in pages):
        if not all(isinstance(p["Datapoints"], list) for p in pages):
            raise InputError("expected a list of datapoints", path=path, field="Datapoints")
        return [s for p in pages for s in _statistics_series(p, path)], []
    if not all("MetricDataResults" in p for p in pages):
        raise InputError("not a CloudWatch answer; expected MetricDataResults or Datapoints", path=path,
                         field="MetricDataResults")
    if not all(isinstance(p["MetricDataResults"], list) for p in pages):  # null: not "no data", a broken answer
        raise InputError("expected a list of results", path=path, field="MetricDataResults")
    return _metric_data_series(pages, path)


def _times(values: list[Any], path: str, where: tuple[str, str]) -> np.ndarray:
    """ISO 8601 times as naive UTC; a missing one, or one outside the accepted range, is
    refused naming its place: `where` = (before, after) the index, e.g. 'Datapoints[3].Timestamp'."""
    parsed, unparsed = parse_timestamps(pa.array(["" if v is None else str(v) for v in values], pa.string()))
    times = parsed.to_numpy(zero_copy_only=False).astype("datetime64[us]")
    good = times_in_range(times) & ~unparsed
    if not good.all():
        i = int(np.flatnonzero(~good)[0])
        if values[i] is None:
            raise InputError("missing; expected the ISO 8601 time of the datapoint", path=path,
                             field=f"{where[0]}[{i}]{where[1]}")
        if unparsed[i]:
            raise InputError(f"'{str(values[i])[:60]}' is not an ISO 8601 time", path=path,
                             field=f"{where[0]}[{i}]{where[1]}")
        raise out_of_range(f"'{values[i]}'", path=path, field=f"{where[0]}[{i}]{where[1]}")
    return times


def _statistics_series(page: Mapping[str, Any], path: str) -> list[CwSeries]:
    points = page.get("Datapoints") or []
    label = str(page.get("Label") or "")
    if not points:
        return []
    times = _times([p.get("Timestamp") for p in points], path, ("Datapoints", ".Timestamp"))
    unit = next((p.get("Unit") for p in points if p.get("Unit")), None)
    names = [s for s in STATISTICS if any(s in p for p in points)]
    extended = sorted({k for p in points for k in (p.get("ExtendedStatistics") or {})})
    out = []
    for name in names + extended:
        raw = [p.get(name, (p.get("ExtendedStatistics") or {}).get(name)) for p in points]
        values = np.array([np.nan if v is None else float(v) for v in raw])
        order = np.argsort(times, kind="stable")
        out.append(CwSeries(label, label, name, unit, times[order], values[order]))
    return out


def _value(value: Any, path: str, field: str) -> float:
    """A value of MetricDataResults: a finite JSON number (CloudWatch writes no NaN, null or text;
    such a value would otherwise vanish from the series unsaid)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InputError(f"{str(value)[:40]!r} is not a number; expected the datapoint's value", path=path,
                         field=field)
    return float(value)


def _metric_data_series(pages: list[Mapping[str, Any]], path: str) -> tuple[list[CwSeries], list[str]]:
    """Results merged across pages by (Id, Label); a later page's point wins a timestamp."""
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    notes = [f"CloudWatch message: {m.get('Code')}" + (f": {m.get('Value')}" if m.get("Value") else "")
             for p in pages for m in p.get("Messages") or [] if isinstance(m, Mapping) and m.get("Code")]
    for page in pages:
        for result in page.get("MetricDataResults") or []:
            key = (str(result.get("Id") or ""), str(result.get("Label") or ""))
            entry = merged.setdefault(key, {"points": {}, "status": "Complete"})
            stamps = result.get("Timestamps") or []
            values = result.get("Values") or []
            if len(stamps) != len(values):
                raise InputError(f"result '{key[0]}' has {len(stamps)} timestamps and {len(values)} values",
                                 path=path, field="MetricDataResults")
            entry["points"].update(zip(stamps, values, strict=True))
            entry["status"] = str(result.get("StatusCode") or "Complete")
    series = []
    for (rid, label), entry in merged.items():
        stamps = list(entry["points"])
        times = (_times(stamps, path, (f"MetricDataResults[Id={rid}].Timestamps", "")) if stamps
                 else np.array([], dtype="datetime64[us]"))
        values = np.array([_value(entry["points"][s], path, f"MetricDataResults[Id={rid}].Values[{i}]")
                           for i, s in enumerate(stamps)])
        order = np.argsort(times, kind="stable")
        series.append(CwSeries(rid, label, None, None, times[order], values[order], entry["status"]))
        if entry["status"] == "PartialData":
            notes.append(DataWarning(f"result '{rid}' ({label}) is PartialData: fetch the remaining pages with NextToken"))
    return series, notes


# ---- naming ---------------------------------------------------------------------------
def tokens_of(text: str) -> tuple[dict[str, str], list[str]]:
    """key=value pairs, and the remaining tokens."""
    pairs = {k: v.strip("\"'") for k, v in _KEY_VALUE.findall(text)}
    rest = _KEY_VALUE.sub(" ", text)
    return pairs, [t for t in re.split(r"[\s/|:,]+", rest) if t]


IGNORED = ("", 0.0)  # a statistic that does not fit the metric (the Minimum of a latency)


def metric_of(series: CwSeries, pairs: Mapping[str, str], tokens: list[str]) -> tuple[str, float] | None:
    """(perfops metric, factor); IGNORED for an unfit statistic; None when nothing names it."""
    if S.is_metric(pairs.get("metric", "")):
        return pairs["metric"], 1.0
    direct = [t for t in tokens if S.is_metric(t)]
    if direct:
        return direct[-1], 1.0
    known = [t for t in tokens if t in CW_METRICS]
    if not known:
        return None
    family, default_factor = CW_METRICS[known[-1]]
    statistic = series.statistic or next((t for t in tokens if t in STATISTICS or _PERCENTILE.match(t)), None)
    if family == "latency":
        if statistic in ("Minimum", "Sum", "SampleCount"):
            return IGNORED
        return _latency_metric(statistic), _UNIT_MS.get(series.unit or "", default_factor)
    wanted = "Sum" if family in S.COUNT_METRICS else "Average"
    if series.statistic and series.statistic != wanted:
        return IGNORED
    return family, 1.0


def _latency_metric(statistic: str | None) -> str:
    match = _PERCENTILE.match(statistic or "")
    if match:
        return {"50": "latency_p50_ms", "99": "latency_p99_ms"}.get(match.group(1).split(".")[0], "latency_p95_ms")
    return {"Maximum": "latency_max_ms", "p50": "latency_p50_ms"}.get(statistic or "", "latency_avg_ms")


def pieces_of(series: list[CwSeries], options: IngestOptions, path: Path, problems: S.Problems) -> list[S.Piece]:
    resolver = S.ServiceResolver(options.catalog, options.service)
    file_metric, file_service = S.hint_from_filename(path.name, options.catalog)
    pieces = []
    for item in series:
        pairs, tokens = tokens_of(f"{item.label} {item.id}")
        named = metric_of(item, pairs, tokens) or ((file_metric, 1.0) if file_metric else None)
        if named is None:
            problems.report(f"result '{item.id}' labelled '{item.label}' does not name a perfops or CloudWatch "
                            "metric", field="Label", hint=_LABEL_HINT)
            continue
        if named == IGNORED:
            continue
        service = _service(pairs, tokens, resolver, file_service)
        if service is None:
            problems.report(f"result '{item.id}' labelled '{item.label}' does not name a catalog service",
                            field="Label", hint="pass --service, or put service=NAME in the query's Label")
            continue
        metric, factor = named
        negative = np.flatnonzero(item.values < 0)
        if len(negative):  # perfops' metrics (counts, durations, shares) are never below zero
            i = int(negative[0])
            problems.report(f"result '{item.id}' ({item.label}): {item.values[i]:g} at {item.times[i]} is negative; "
                            f"expected a {metric} of 0 or more", field=f"MetricDataResults[Id={item.id}].Values")
            continue
        pieces.append(S.Piece(service, pairs.get("endpoint", ""), pairs.get("consumer", ""), metric,
                              item.times, factor * item.values))
    return pieces


_LABEL_HINT = (
    "set the query's Label, e.g. 'service=checkout-api metric=latency_p95_ms' or "
    "'checkout-api TargetResponseTime p95' (see docs/sources.md)"
)


def _service(pairs: Mapping[str, str], tokens: list[str], resolver: S.ServiceResolver,
             file_service: str | None) -> str | None:
    if resolver.override:
        return resolver.override
    if pairs.get("service"):
        return resolver.resolve(pairs["service"])
    found = next((s for s in (resolver.resolve(t) for t in tokens) if s), None)
    return found or file_service


# ---- the reader -------------------------------------------------------------------------
def sniff(path: Path, head: bytes) -> bool:
    text = head[:8192].decode("utf-8", errors="replace")
    return text.lstrip().startswith(("{", "[")) and ('"MetricDataResults"' in text or '"Datapoints"' in text)


def _top_field(document: object) -> str:
    """The part of the answer that did not have its shape: the key a refusal names."""
    documents = document if isinstance(document, list) else [document]
    for key in ("MetricDataResults", "Datapoints"):
        if any(isinstance(d, dict) and key in d for d in documents):
            return key
    return "MetricDataResults"


def read(path: Path, options: IngestOptions) -> IngestBatch:
    document = load_json(path)
    try:
        series, notes = parse_document(document, str(path))
    except (AttributeError, TypeError, KeyError, ValueError) as exc:
        raise InputError(f"not a CloudWatch answer of the expected shape ({exc}); expected MetricDataResults (a "
                         "list of objects with Timestamps and Values) or Datapoints", path=str(path),
                         field=_top_field(document)) from exc
    problems = S.Problems(str(path), options.skip_bad_rows)
    frame = S.frame_of(pieces_of(series, options, path, problems))
    return IngestBatch(telemetry=frame, skipped=problems.skipped, notes=notes)


READER = Reader(
    name="cloudwatch-json",
    description="Amazon CloudWatch GetMetricData (paged) or get-metric-statistics answer as JSON",
    sniff=sniff,
    read=read,
    priority=20,
)
