"""Every shared access-log sample loads, with the quirks its PROVENANCE.md describes."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from perfops.ingest import access_log as al
from perfops.ingest import access_templates as tpl
from perfops.ingest.base import IngestOptions
from perfops.ingest.registry import reader_for
from perfops.workspace import parse_catalog

CATALOG = parse_catalog("domain: D\nsquads: [{name: web}]\nservices: [{name: web, squad: web}]\n")
FOLDERS = ("access-log-apache", "access-log-aws-alb", "access-log-envoy", "access-log-nginx")

pytestmark = pytest.mark.conformance


def read(path: Path) -> tuple[pd.DataFrame, list[str]]:
    batch = al.read_access_log(path, IngestOptions(catalog=CATALOG, service="web"))
    assert batch.skipped == []
    return batch.telemetry, batch.notes


def total(tel: pd.DataFrame, metric: str, endpoint: str = "") -> float:
    return tel[(tel.metric == metric) & (tel.endpoint == endpoint) & (tel.consumer == "")]["value"].sum()


@pytest.mark.parametrize("folder", FOLDERS)
def test_every_sample_loads_and_counts_every_request_line(shared_dir, folder):
    files = sorted((shared_dir / "samples" / folder).glob("*.log"))
    assert files
    for path in files:
        assert reader_for(path).name == "access-log", path
        tel, _ = read(path)
        lines = [x for x in path.read_bytes().splitlines() if x.strip()]
        non_http = sum(1 for x in lines if b'"- - -" 0 ' in x)
        assert total(tel, "requests") == len(lines) - non_http, path
        assert tel["timestamp"].notna().all() and (tel["value"] >= 0).all()


def test_nginx_junk_request_lines_count_as_invalid_endpoint(shared_dir):
    tel, _ = read(shared_dir / "samples/access-log-nginx/bce-log-analizer-combined-prod-lines72600-75600.log")
    assert total(tel, "requests", tpl.INVALID) == 2  # TLS bytes sent to the HTTP port, status 400
    assert total(tel, "errors") == 12  # the 502s
    assert total(tel, "requests", "POST /metrics/sticker/{id}") > 1000


def test_nginx_key_value_request_time_in_seconds(shared_dir):
    tel, notes = read(shared_dir / "samples/access-log-nginx/hng13-keyvalue-request_time-upstream.log")
    assert "request_time" in notes[0]
    assert total(tel, "client_errors") == 332
    first = tel[(tel.metric == "latency_max_ms") & (tel.endpoint == "GET /version") & (tel.consumer == "")]
    assert first["value"].iloc[0] == pytest.approx(25.0)  # request_time=0.025 at 21:21


def test_alb_minus_one_timings_count_requests_without_latency(shared_dir):
    tel, _ = read(shared_dir / "samples/access-log-aws-alb/beats-alb-real-test-lb-460-504.log")
    assert total(tel, "requests") == 10
    assert total(tel, "errors") == 6 and total(tel, "client_errors") == 1  # 504s and the 460
    latency = tel[(tel.metric == "latency_max_ms") & (tel.endpoint == "") & (tel.consumer == "")]
    assert latency["value"].max() <= 2.0  # only the three lines that reached a target
    assert set(tel.endpoint) == {"", "GET /"}


def test_envoy_tcp_line_is_ignored_and_http_duration_read(shared_dir):
    tel, notes = read(shared_dir / "samples/access-log-envoy/beats-envoy-default-format-tcp-and-http.log")
    assert total(tel, "requests") == 1
    assert tel[(tel.metric == "latency_p95_ms") & (tel.endpoint == "") & (tel.consumer == "")]["value"].tolist() == [217.0]
    assert any("non-HTTP" in n for n in notes)
    assert set(tel.consumer) == {"", "curl"}


def test_common_log_format_has_no_consumer_and_no_latency(shared_dir):
    tel, notes = read(shared_dir / "samples/access-log-apache/extraa-tomcat-accesslogvalve-common-dash-bytes-truncated.log")
    assert set(tel.consumer) == {""}
    assert not tel.metric.str.startswith("latency").any()
    assert tel["timestamp"].min() == pd.Timestamp("2019-06-20 13:12:00")  # -0400 -> UTC


# ---- expected numbers computed independently, awk-style --------------------------------------------
# Each sample's lines are split here with plain regexes (not perfops' templates); per UTC minute the
# test counts requests, 5xx, 4xx and takes the largest request time, then compares with the reader.
_CLF = re.compile(r'\[(\d\d/\w{3}/\d{4}:\d\d:\d\d):\d\d ([+-]\d{4})\] "(?:[^"\\]|\\.)*" (\d{3}) ')
_KV_TIME = re.compile(r"(?:^|\s)request_time=(\d+\.\d+)")
_FIELDS = re.compile(r'"(?:[^"\\]|\\.)*"|\S+')
_ENVOY = re.compile(r'^(?:ACCESS )?\[(\S+)\] "(?:[^"\\]|\\.)*" (\d+) \S+ \d+ \d+ (\d+) ')


def _clf_minute(day_time: str, zone: str) -> pd.Timestamp:
    when = datetime.strptime(f"{day_time} {zone}", "%d/%b/%Y:%H:%M %z")
    return pd.Timestamp(when).tz_convert(None)


def _iso_minute(text: str) -> pd.Timestamp:
    return pd.Timestamp(text).tz_convert(None).floor("min")


def expected_per_minute(folder: str, line: str) -> tuple[pd.Timestamp, int, float | None] | None:
    """(UTC minute, status, request time ms or None) of one line; None for a non-HTTP line."""
    if folder == "access-log-aws-alb":
        f = _FIELDS.findall(line)
        times = [float(x) for x in f[5:8]]
        return _iso_minute(f[1]), int(f[8]), None if min(times) < 0 else sum(times) * 1000
    if folder == "access-log-envoy":
        m = _ENVOY.match(line)
        assert m, line
        return None if m.group(2) == "0" else (_iso_minute(m.group(1)), int(m.group(2)), float(m.group(3)))
    m = _CLF.search(line)
    assert m, line
    kv = _KV_TIME.search(line)
    return _clf_minute(m.group(1), m.group(2)), int(m.group(3)), float(kv.group(1)) * 1000 if kv else None


@pytest.mark.parametrize("folder", FOLDERS)
def test_every_sample_matches_independently_computed_minutes(shared_dir, folder):
    for path in sorted((shared_dir / "samples" / folder).glob("*.log")):
        rows = [expected_per_minute(folder, x) for x in path.read_text(errors="replace").splitlines() if x.strip()]
        want = pd.DataFrame([r for r in rows if r is not None], columns=["minute", "status", "ms"])
        tel, _ = read(path)
        by = {m: tel[(tel.metric == m) & (tel.endpoint == "") & (tel.consumer == "")].set_index("timestamp")["value"]
              for m in ("requests", "errors", "client_errors", "latency_max_ms")}
        for minute, group in want.groupby("minute"):
            assert by["requests"][minute] == len(group), (path, minute)
            assert by["errors"][minute] == (group.status >= 500).sum(), (path, minute)
            assert by["client_errors"][minute] == group.status.between(400, 499).sum(), (path, minute)
            if group.ms.notna().any():
                assert by["latency_max_ms"][minute] == pytest.approx(group.ms.max()), (path, minute)
        assert by["requests"].sum() == len(want)
