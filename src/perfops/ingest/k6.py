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
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from perfops.errors import InputError
from perfops.ingest.base import IngestBatch, IngestOptions, Reader
from perfops.ingest.testrun_common import (
    SampleAccumulator,
    derive_run_id,
    empty_series,
    endpoint_name,
    endpoints_frame,
    open_text,
    read_bytes,
    resolve_service,
    run_frame,
)

_SKIP_GROUPS = ("::setup", "::teardown")
_SUBMETRIC = re.compile(r"^(?P<metric>[\w.]+)\{(?P<tags>.*)\}$")


def sniff(path: Path, head: bytes) -> bool:
    text = head[:8192].decode("utf-8", errors="replace").lstrip("\ufeff \r\n\t")
    if text.startswith("{") and '"type":"Metric"' in text.replace(" ", "") and '"metric"' in text:
        return True
    if text.startswith("{") and '"metrics"' in text and ('"root_group"' in text or '"http_reqs"' in text
                                                          or '"iterations"' in text or '"vus"' in text):
        return True
    return False


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


def _epoch_ms(text: str) -> int:
    """RFC 3339 with nanoseconds and an offset -> epoch ms (fraction cut to microseconds)."""
    head, _, rest = text.partition(".")
    if rest:
        digits = re.match(r"\d+", rest)
        frac = digits.group(0) if digits else ""
        text = f"{head}.{frac[:6].ljust(6, '0')}{rest[len(frac):]}"
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return int(moment.timestamp() * 1000)


def read_ndjson(path: Path, options: IngestOptions) -> IngestBatch:
    samples: dict[str, list] = {"ts": [], "ep": [], "ms": [], "failed": []}
    vus: list[tuple[int, float]] = []
    notes: list[str] = []
    skipped_setup = bad = 0
    hints: set[str] = set()
    with open_text(path) as lines:
        for line in lines:
            if '"Point"' not in line or not ('"http_req_duration"' in line or '"vus"' in line):
                continue
            try:
                point = json.loads(line)
            except json.JSONDecodeError:
                bad += 1
                continue
            data = point.get("data") or {}
            if point.get("metric") == "vus":
                vus.append((_epoch_ms(data["time"]), float(data.get("value", 0))))
                continue
            if point.get("metric") != "http_req_duration":
                continue
            tags = data.get("tags") or {}
            if tags.get("group") in _SKIP_GROUPS:
                skipped_setup += 1
                continue
            samples["ts"].append(_epoch_ms(data["time"]))
            samples["ep"].append(_endpoint_of(tags))
            samples["ms"].append(float(data.get("value", 0.0)))
            samples["failed"].append(_failed(tags))
            if len(hints) < 50 and tags.get("url"):
                hints.add(tags["url"])
    if bad:
        notes.append(f"{bad} unreadable lines skipped (a file cut mid-line?)")
    if skipped_setup:
        notes.append(f"{skipped_setup} setup/teardown requests not counted")
    if not samples["ts"]:
        raise InputError("no http_req_duration points: expected k6 --out json output of an HTTP test",
                         path=str(path))
    return _assemble_ndjson(path, options, samples, vus, notes, hints)


def _failed(tags: dict[str, str]) -> bool:
    if "expected_response" in tags:
        return str(tags["expected_response"]).lower() == "false"
    status = str(tags.get("status", "0"))
    return not status.isdigit() or int(status) >= 400 or int(status) == 0


def _assemble_ndjson(path: Path, options: IngestOptions, samples: dict[str, list],
                     vus: list[tuple[int, float]], notes: list[str], hints: set[str]) -> IngestBatch:
    acc = SampleAccumulator(scale=1000.0)
    ts = np.asarray(samples["ts"], dtype=np.int64)
    ms = np.asarray(samples["ms"], dtype=float)
    labels, inverse = np.unique(np.asarray(samples["ep"], dtype=object), return_inverse=True)
    codes = acc.codes([str(x) for x in labels])[inverse]
    users = _users_at(ts, vus)
    acc.add(ts, codes, ms, np.asarray(samples["failed"], dtype=bool), users)
    service = resolve_service(options, acc.names, sorted(hints), path)
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
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"not valid JSON ({exc})", path=str(path)) from exc
    metrics = doc.get("metrics") if isinstance(doc, dict) else None
    if not isinstance(metrics, dict) or "http_reqs" not in metrics:
        raise InputError("no metrics.http_reqs: expected a k6 --summary-export or handleSummary JSON",
                         path=str(path), field="metrics")
    rows = _summary_rows(metrics)
    duration_ms = (doc.get("state") or {}).get("testRunDurationMs")
    notes = ["summary-level results: no raw samples, p50 = med, p99 only if summaryTrendStats had it",
             "no start time in a k6 summary: start and end unknown"]
    if not any(r["endpoint"] for r in rows):
        notes.append("no per-endpoint results (add thresholds on http_req_duration{name:…} to get them)")
    failed = _failed_thresholds(metrics)
    if failed:
        notes.append("thresholds failed: " + ", ".join(failed))
    endpoints = [r["endpoint"] for r in rows if r["endpoint"]]
    service = resolve_service(options, endpoints, [path.name], path)
    run_id = derive_run_id(path, None, options.run_id)
    for row in rows:
        row["run_id"] = run_id
    if duration_ms:
        notes.append(f"test ran for {timedelta(milliseconds=float(duration_ms))}")
    runs = run_frame(run_id, "k6", service, options.environment, None, None, path, notes,
                     status="failed" if failed else "ok")
    return IngestBatch(test_runs=runs, test_endpoints=endpoints_frame(rows), test_series=empty_series(),
                       notes=notes)


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
