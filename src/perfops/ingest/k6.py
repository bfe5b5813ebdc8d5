"""Grafana k6 results: `--out json` (one JSON object a line) and the end-of-test summary
(`--summary-export` legacy shape, and `handleSummary()` `JSON.stringify(data)` shape).

NDJSON: every `http_req_duration` point is one request (its value in ms, its tags name it);
the endpoint is `METHOD /path` from the `endpoint`, `name` or `url` tag; a request fails when
its `expected_response` tag is `false` (else, when there is no such tag, when status >= 400).
Requests of `setup()`/`teardown()` (group `::setup`, `::teardown`) are not load and are left
out. Percentiles are exact (microsecond resolution). A file cut mid-line keeps every whole line.

Summary JSON keeps what it has: the whole run's http_reqs count and rate, http_req_duration
avg/med/p(90)/p(95)/max (p99 only if summaryTrendStats asked for it), the failed-request rate,
and per-endpoint values only when thresholds created sub-metrics such as
`http_req_duration{name:POST /checkout}`. No start time: the summary has none.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from perfops.errors import InputError
from perfops.ingest.base import DataWarning, IngestBatch, IngestOptions, Reader
from perfops.ingest.testrun_common import (
    SampleAccumulator,
    derive_run_id,
    empty_series,
    endpoint_name,
    endpoints_frame,
    fold_endpoints,
    merge_summary_rows,
    read_bytes,
    resolve_service,
    run_frame,
    text_lines,
)

_SKIP_GROUPS = ("::setup", "::teardown")
_SUBMETRIC = re.compile(r"^(?P<metric>[\w.]+)\{(?P<tags>.*)\}$")


def sniff(path: Path, head: bytes) -> bool:
    text = head[:8192].decode("utf-8", errors="replace").lstrip("\ufeff \r\n\t")
    if text.startswith("{") and '"type":"Metric"' in text.replace(" ", "") and '"metric"' in text:
        return True
    return text.startswith("{") and '"metrics"' in text and ('"root_group"' in text or '"http_reqs"' in text
                                                            or '"iterations"' in text or '"vus"' in text)


def read(path: Path, options: IngestOptions) -> IngestBatch:
    from perfops.ingest.registry import read_head

    head = read_head(path, 8192).decode("utf-8", errors="replace").lstrip("\ufeff \r\n\t")
    first = head.split("\n", 1)[0]
    if first.startswith("{") and '"type"' in first and ('"Metric"' in first or '"Point"' in first):
        return read_ndjson(path, options)
    return read_summary(path, options)


# ---- NDJSON -------------------------------------------------------------------------------
def _endpoint_of(tags: dict[str, str]) -> str:
    label = tags.get("endpoint") or tags.get("name") or tags.get("url") or ""
    return endpoint_name(label, tags.get("method"), tags.get("url"))


class _BadPoint(ValueError):
    """A JSON line of the right kind whose content is not a k6 point (the message says why)."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def _epoch_ms(text: object) -> int:
    """RFC 3339 with nanoseconds and an offset -> epoch ms (fraction cut to microseconds)."""
    if not isinstance(text, str):
        raise _BadPoint(f"{text!r} is not a time; expected RFC 3339 text", "data.time")
    head, _, rest = text.partition(".")
    if rest:
        digits = re.match(r"\d+", rest)
        frac = digits.group(0) if digits else ""
        text = f"{head}.{frac[:6].ljust(6, '0')}{rest[len(frac):]}"
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if moment.tzinfo is None:  # no offset: UTC, as everywhere in perfops
            moment = moment.replace(tzinfo=UTC)
        return int(moment.timestamp() * 1000)
    except (ValueError, OverflowError) as exc:
        raise _BadPoint(f"'{text[:60]}' is not an RFC 3339 time ({exc})", "data.time") from exc


@dataclass
class _Samples:
    """The requests of a k6 JSON output, column by column, with the line each came from."""

    lines: list[int] = field(default_factory=list)
    ts: list[int] = field(default_factory=list)
    ep: list[str] = field(default_factory=list)
    ms: list[float] = field(default_factory=list)
    failed: list[bool] = field(default_factory=list)
    vus: list[tuple[int, float]] = field(default_factory=list)
    hints: set[str] = field(default_factory=set)
    skipped_setup: int = 0
    unreadable: int = 0
    refused: int = 0

    def take(self, number: int, point: object) -> None:
        """One decoded JSON line (a Metric, a Point of another metric, ...); _BadPoint when a
        vus or http_req_duration Point lacks what it needs."""
        if not isinstance(point, dict) or point.get("type") not in ("Point", "Metric"):
            raise _BadPoint("not a k6 output line: expected an object of type Metric or Point", "type")
        if point["type"] == "Metric":
            return
        data = point.get("data")
        if not isinstance(data, dict):
            raise _BadPoint("a Point without a data object", "data")
        metric = point.get("metric")
        if not isinstance(metric, str):
            raise _BadPoint("a Point without a metric name", "metric")
        if metric == "vus":
            self.vus.append((_epoch_ms(data.get("time")), _number(data.get("value", 0))))
            return
        if metric != "http_req_duration":
            return
        tags = data.get("tags") or {}
        if not isinstance(tags, dict):
            raise _BadPoint("data.tags is not an object", "data.tags")
        tags = {str(k): v if isinstance(v, str) else str(v) for k, v in tags.items()}
        if tags.get("group") in _SKIP_GROUPS:
            self.skipped_setup += 1
            return
        ts, ms = _epoch_ms(data.get("time")), _number(data.get("value", 0.0))
        self.lines.append(number)
        self.ts.append(ts)
        self.ep.append(_endpoint_of(tags))
        self.ms.append(ms)
        self.failed.append(_failed(tags))
        if len(self.hints) < 50 and tags.get("url"):
            self.hints.add(tags["url"])


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _BadPoint(f"{str(value)[:40]!r} is not a number", "data.value")
    try:
        return float(value)
    except OverflowError as exc:  # an integer of hundreds of digits
        raise _BadPoint("a number too large for a float", "data.value") from exc


def read_ndjson(path: Path, options: IngestOptions) -> IngestBatch:
    samples = _Samples()
    for number, line in text_lines(path):
        if '"Point"' not in line or not ("http_req_duration" in line or '"vus"' in line):
            if _damaged(line):
                samples.unreadable += 1  # cut or damaged: it may have been a request
            continue
        try:
            point = json.loads(line)
        except ValueError:  # a line cut short, or an integer of more than 4,300 digits
            samples.unreadable += 1
            continue
        try:
            samples.take(number, point)
        except _BadPoint as exc:
            if not options.skip_bad_rows:
                raise InputError(str(exc), path=str(path), line=number, field=exc.field) from exc
            samples.refused += 1
    notes: list[str] = []
    if samples.unreadable:
        notes.append(DataWarning(f"{samples.unreadable} unreadable lines skipped (a file cut mid-line?)"))
    if samples.refused:
        notes.append(f"{samples.refused} malformed points skipped")
    if samples.skipped_setup:
        notes.append(f"{samples.skipped_setup} setup/teardown requests not counted")
    if not samples.ts:
        raise InputError("no http_req_duration points: expected k6 --out json output of an HTTP test",
                         path=str(path))
    return _assemble_ndjson(path, options, samples, notes)


_METRIC_KEY = re.compile(r'"metric"\s*:\s*"[A-Za-z0-9_.\-]+"\s*[,}]')
# the start of a line as k6 writes it (compact JSON, either key order): the fast path
_K6_LINE = re.compile(r'\{"(?:metric":"[A-Za-z0-9_.\-]+","type":"(?:Point|Metric)"|'
                      r'type":"(?:Point|Metric)",.*"metric":"[A-Za-z0-9_.\-]+"\}\s*$)')


def _damaged(line: str) -> bool:
    """A line that is no k6 output line, checked without parsing it (the lines of the metrics
    perfops does not read are many): not one JSON object, neither a Metric nor a Point, or no
    well-formed metric name (what would tell a damaged request from another metric)."""
    if _K6_LINE.match(line) and line.rstrip().endswith("}"):
        return False
    text = line.strip()
    if not text:
        return False
    return (not (text.startswith("{") and text.endswith("}")) or ('"Point"' not in text and '"Metric"' not in text)
            or _METRIC_KEY.search(text) is None)


def _failed(tags: dict[str, str]) -> bool:
    if "expected_response" in tags:
        return str(tags["expected_response"]).lower() == "false"
    status = str(tags.get("status", "0"))
    return not (status.isascii() and status.isdigit()) or int(status) >= 400 or int(status) == 0


def _assemble_ndjson(path: Path, options: IngestOptions, samples: _Samples, notes: list[str]) -> IngestBatch:
    acc = SampleAccumulator(scale=1000.0, source=str(path), skip_bad=options.skip_bad_rows,
                            fields=("data.time", "data.value"))
    ts = np.asarray(samples.ts, dtype=np.int64)
    ms = np.asarray(samples.ms, dtype=float)
    labels, inverse = np.unique(np.asarray(samples.ep, dtype=object), return_inverse=True)
    endpoints, merged = np.unique(np.asarray(fold_endpoints([str(x) for x in labels]), dtype=object),
                                  return_inverse=True)
    codes = acc.codes([str(x) for x in endpoints])[merged[inverse]]
    users = _users_at(ts, samples.vus)
    lines = samples.lines
    acc.add(ts, codes, ms, np.asarray(samples.failed, dtype=bool), users, line_of=lambda i: lines[i])
    if acc.first_ms is None:
        raise InputError("no http_req_duration point with a possible time and duration", path=str(path))
    if acc.skipped:
        notes.append(f"{acc.skipped} points with an impossible time or duration skipped")
    service = resolve_service(options, acc.names, sorted(samples.hints), path)
    run_id = derive_run_id(path, acc.start, options.run_id)
    runs = run_frame(run_id, "k6", service, options.environment, acc.start, acc.end, path,
                     ["k6 JSON output", *notes])
    return IngestBatch(test_runs=runs, test_endpoints=endpoints_frame(acc.endpoint_rows(run_id)),
                       test_series=acc.series(run_id), notes=notes)


def _users_at(ts: np.ndarray, vus: list[tuple[int, float]]) -> np.ndarray | None:
    if not vus:
        return None
    vus.sort()
    times = np.asarray([t for t, _ in vus], dtype=np.int64)
    values = np.asarray([v for _, v in vus], dtype=float)
    idx = np.clip(np.searchsorted(times, ts, side="right") - 1, 0, len(values) - 1)
    return values[idx]


# ---- summary JSON -----------------------------------------------------------------------
def _values(metric: dict) -> dict:
    """New shape keeps numbers under `values`; the legacy shape has them at the top."""
    return metric.get("values", metric) if isinstance(metric, dict) else {}


def read_summary(path: Path, options: IngestOptions) -> IngestBatch:
    try:
        doc = json.loads(read_bytes(path).decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", path=str(path)) from exc
    except ValueError as exc:  # JSONDecodeError, or an integer of more than 4,300 digits
        raise InputError(f"not valid JSON ({exc})", path=str(path)) from exc
    metrics = doc.get("metrics") if isinstance(doc, dict) else None
    if not isinstance(metrics, dict) or "http_reqs" not in metrics:
        raise InputError("no metrics.http_reqs: expected a k6 --summary-export or handleSummary JSON",
                         path=str(path), field="metrics")
    try:
        rows, notes, status = _summary_content(doc, metrics)
        frame = _merged_by_endpoint(endpoints_frame(rows))
    except (AttributeError, TypeError, ValueError, OverflowError) as exc:
        raise InputError(f"not a k6 summary of the expected shape ({exc})", path=str(path), field="metrics") from exc
    service = resolve_service(options, [e for e in frame["endpoint"] if e], [path.name], path)
    run_id = derive_run_id(path, None, options.run_id)
    frame["run_id"] = run_id
    runs = run_frame(run_id, "k6", service, options.environment, None, None, path, notes, status=status)
    return IngestBatch(test_runs=runs, test_endpoints=frame, test_series=empty_series(), notes=notes)


def _merged_by_endpoint(frame: pd.DataFrame) -> pd.DataFrame:
    """Sub-metrics whose names fold to one endpoint (`/jobs/1`, `/jobs/2`) as one row (see
    testrun_common.merge_summary_rows: med, p(90), p(95), p(99) and max are its knots)."""
    frame["endpoint"] = fold_endpoints(list(frame["endpoint"]))
    knots = pd.DataFrame({float(q): frame[f"latency_p{q}_ms"] for q in (50, 90, 95, 99)} | {100.0: frame["latency_max_ms"]})
    return endpoints_frame(merge_summary_rows(frame, knots).to_dict("records"))


def _summary_content(doc: dict, metrics: dict) -> tuple[list[dict], list[str], str]:
    """(endpoint rows, notes, run status) of a summary; TypeError/ValueError on odd shapes."""
    rows = _summary_rows(metrics)
    duration_ms = (doc.get("state") or {}).get("testRunDurationMs")
    notes = ["summary-level results: no raw samples, p50 = med, p99 only if summaryTrendStats had it",
             "no start time in a k6 summary: start and end unknown"]
    if not any(r["endpoint"] for r in rows):
        notes.append("no per-endpoint results (add thresholds on http_req_duration{name:…} to get them)")
    failed = _failed_thresholds(metrics)
    if failed:
        notes.append("thresholds failed: " + ", ".join(failed))
    if duration_ms:
        notes.append(f"test ran for {timedelta(milliseconds=float(duration_ms))}")
    return rows, notes, "failed" if failed else "ok"


def _summary_rows(metrics: dict) -> list[dict]:
    """One row for the whole run (endpoint '') and one per `{name:…}` sub-metric."""
    scopes: dict[str, dict[str, dict]] = {"": {}}
    for key, metric in metrics.items():
        match = _SUBMETRIC.match(key)
        base, tags = (match.group("metric"), _parse_tags(match.group("tags"))) if match else (key, {})
        if match and not ("name" in tags or "url" in tags or "endpoint" in tags):
            continue
        scope = endpoint_name(tags.get("endpoint") or tags.get("name") or tags.get("url") or "",
                              tags.get("method")) if match else ""
        scopes.setdefault(scope, {})[base] = _values(metric)
    rows = []
    for scope, found in scopes.items():
        reqs, dur, fail = found.get("http_reqs", {}), found.get("http_req_duration", {}), found.get("http_req_failed")
        if not reqs and not dur:
            continue
        count = reqs.get("count")
        rows.append({
            "run_id": "", "endpoint": scope, "samples": int(count or 0),
            "errors": _failed_count(fail, count), "throughput_rps": float(reqs.get("rate", np.nan)),
            "latency_p50_ms": dur.get("med", np.nan), "latency_p90_ms": dur.get("p(90)", np.nan),
            "latency_p95_ms": dur.get("p(95)", np.nan), "latency_p99_ms": dur.get("p(99)", np.nan),
            "latency_avg_ms": dur.get("avg", np.nan), "latency_max_ms": dur.get("max", np.nan),
            "exact_percentiles": False,
        })
    return rows


def _parse_tags(text: str) -> dict[str, str]:
    out = {}
    for part in text.split(","):
        key, sep, value = part.partition(":")
        if sep:
            out[key.strip()] = value.strip()
    return out


def _failed_count(fail: dict | None, count: float | None) -> int:
    """http_req_failed is a rate: `passes` counts FAILED requests (k6's rate semantics)."""
    if not fail:
        return 0
    if "passes" in fail:
        return int(fail["passes"])
    if "value" in fail and count:
        return int(round(float(fail["value"]) * float(count)))
    if "rate" in fail and count:
        return int(round(float(fail["rate"]) * float(count)))
    return 0


def _failed_thresholds(metrics: dict) -> list[str]:
    """Legacy `--summary-export`: `true` means FAILED (k6 #1498); new shape: `ok: false` fails."""
    failed = []
    for name, metric in metrics.items():
        thresholds = metric.get("thresholds") if isinstance(metric, dict) else None
        for expr, state in (thresholds or {}).items():
            broken = (not state.get("ok", True)) if isinstance(state, dict) else bool(state)
            if broken:
                failed.append(f"{name} {expr}")
    return failed


READER = Reader(
    name="k6",
    description="Grafana k6: --out json (NDJSON) and --summary-export / handleSummary JSON",
    sniff=sniff,
    read=read,
    priority=20,
)
