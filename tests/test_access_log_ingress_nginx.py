"""ingress-nginx's default log format, upstream lists, two bare numbers, invalid methods.

The real file is filebeat's ingress-nginx test log (tests/fixtures/access_logs/PROVENANCE.md). The
expected numbers are computed here from the text with plain regexes and numpy, awk-style, not
taken from perfops' output.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from perfops.errors import InputError
from perfops.ingest import access_log as al
from perfops.ingest import access_templates as tpl
from perfops.ingest.base import IngestOptions
from perfops.ingest.registry import reader_for
from perfops.workspace import parse_catalog

CATALOG = parse_catalog("domain: D\nsquads: [{name: web}]\nservices: [{name: web, squad: web}]\n")
FIXTURES = Path(__file__).parent / "fixtures" / "access_logs"
INGRESS = FIXTURES / "beats-ingress-nginx-default-format.log"
# the log_format of ingress-nginx's documentation (user-guide/nginx-configuration/log-format.md)
INGRESS_LOG_FORMAT = (
    '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" '
    '"$http_user_agent" $request_length $request_time [$proxy_upstream_name] [$proxy_alternative_upstream_name] '
    "$upstream_addr $upstream_response_length $upstream_response_time $upstream_status $req_id"
)
# awk-style: the fields the test needs, found without perfops' templates
_EXPECTED = re.compile(r'\[(\d\d/\w{3}/\d{4}:\d\d:\d\d):\d\d ([+-]\d{4})\] "(\S*) (\S*)[^"]*" (\d{3}) \d+ "[^"]*" "[^"]*" '
                       r"(\d+) (\d+\.\d+) \[")


def read(path: Path, **kw) -> al.IngestBatch:
    return al.read_access_log(path, IngestOptions(catalog=CATALOG, service="web", **kw))


def expected_lines(path: Path) -> pd.DataFrame:
    rows = []
    for line in path.read_text().splitlines():
        m = _EXPECTED.search(line)
        assert m, line
        when = datetime.strptime(m.group(1) + " " + m.group(2), "%d/%b/%Y:%H:%M %z")
        rows.append({"minute": pd.Timestamp(when).tz_convert(None), "method": m.group(3), "status": int(m.group(5)),
                     "request_length": int(m.group(6)), "ms": float(m.group(7)) * 1000})
    return pd.DataFrame(rows)


def at(tel: pd.DataFrame, metric: str, endpoint: str = "") -> pd.Series:
    rows = tel[(tel.metric == metric) & (tel.endpoint == endpoint) & (tel.consumer == "")]
    return rows.set_index("timestamp")["value"]


def test_ingress_nginx_default_format_is_recognised_and_latency_is_request_time_in_seconds():
    assert reader_for(INGRESS).name == "access-log"
    batch = read(INGRESS)
    assert batch.skipped == [] and "ingress-nginx" in batch.notes[0]
    tel, want = batch.telemetry, expected_lines(INGRESS)
    # the defect: `2057 0.033` was read as %D (2.057 ms); it is $request_length then $request_time (33 ms)
    bulk = at(tel, "latency_max_ms", "POST /_bulk")
    assert bulk.tolist() == [pytest.approx(33.0)]
    for minute, group in want.groupby("minute"):
        assert at(tel, "requests")[minute] == len(group)
        assert at(tel, "errors")[minute] == (group.status >= 500).sum()
        assert at(tel, "client_errors")[minute] == group.status.between(400, 499).sum()
        assert at(tel, "latency_max_ms")[minute] == pytest.approx(group.ms.max())
        assert at(tel, "latency_p50_ms")[minute] == pytest.approx(np.percentile(group.ms, 50))
        assert at(tel, "latency_p95_ms")[minute] == pytest.approx(np.percentile(group.ms, 95))


def test_the_documented_log_format_reads_retried_requests_with_their_status():
    """`61, 100` / `0.100, 0.004` / `502, 502` lists: every line loads; a retried request counts
    once, with its $status (the two 502 lines are exactly the errors)."""
    want = expected_lines(INGRESS)
    strict = read(INGRESS, log_format=INGRESS_LOG_FORMAT)
    lenient = read(INGRESS, log_format=INGRESS_LOG_FORMAT, skip_bad_rows=True)
    for batch in (strict, lenient):
        assert batch.skipped == []
        assert at(batch.telemetry, "requests").sum() == len(want)
        assert at(batch.telemetry, "errors").sum() == (want.status >= 500).sum() == 2


@pytest.mark.parametrize("variable", ["upstream_bytes_received", "upstream_bytes_sent", "upstream_connect_time",
                                      "upstream_header_time", "upstream_response_length", "upstream_status",
                                      "upstream_addr", "upstream_cache_status"])
def test_every_upstream_variable_accepts_nginx_lists(tmp_path, variable):
    """nginx writes one value per upstream tried, `, ` separated, and ` : ` after an internal redirect."""
    values = {"upstream_addr": ("10.0.0.1:80, 10.0.0.2:80 : 10.0.0.3:80", "10.0.0.1:80"),
              "upstream_status": ("502, 504 : 200", "200"), "upstream_cache_status": ("MISS, MISS", "-")}
    many, one = values.get(variable, ("120, 0 : 512", "512"))
    fmt = f'$remote_addr [$time_local] "$request" $status $request_time ${variable} "$http_user_agent"'
    lines = [f'10.0.0.9 [01/Mar/2026:10:00:0{i} +0000] "GET /a HTTP/1.1" {code} 0.250 {v} "curl/8"'
             for i, (code, v) in enumerate([(200, many), (502, one), (200, "-")])]
    path = tmp_path / "x.log"
    path.write_text("\n".join(lines) + "\n")
    batch = read(path, log_format=fmt)
    assert at(batch.telemetry, "requests").sum() == 3 and at(batch.telemetry, "errors").sum() == 1


def test_upstream_response_time_lists_add_up_when_it_is_the_only_time(tmp_path):
    fmt = '$remote_addr [$time_local] "$request" $status $upstream_response_time $upstream_status'
    path = tmp_path / "x.log"
    path.write_text('1.1.1.1 [01/Mar/2026:10:00:00 +0000] "GET /a HTTP/1.1" 200 0.100, 0.004 : 0.010 502, 504 : 200\n')
    assert at(read(path, log_format=fmt).telemetry, "latency_max_ms").tolist() == [pytest.approx(114.0)]


def test_an_integer_then_a_number_after_the_agent_is_refused_not_guessed(tmp_path):
    """Not a layout perfops knows (no `[upstream]` after the numbers): bytes or microseconds?"""
    path = tmp_path / "x.log"
    path.write_text('10.0.0.1 - - [01/Mar/2026:10:00:00 +0000] "GET /a HTTP/1.1" 200 5 "-" "curl/8" 2057 0.033 web\n')
    with pytest.raises(InputError) as err:
        read(path)
    assert "two bare numbers" in err.value.message and "2057 0.033" in err.value.message
    assert err.value.field == "--log-format" and err.value.line == 1
    tel = read(path, log_format='$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
                                '"$http_referer" "$http_user_agent" $request_length $request_time $tail').telemetry
    assert at(tel, "latency_max_ms").tolist() == [pytest.approx(33.0)]


def test_a_decimal_then_a_number_is_read_as_request_time_with_a_counted_note(tmp_path):
    path = tmp_path / "x.log"
    path.write_text("".join(f'10.0.0.1 - - [01/Mar/2026:10:00:0{i} +0000] "GET /a HTTP/1.1" 200 5 "-" "curl/8" '
                            f"0.050 0.040\n" for i in range(3)))
    batch = read(path)
    assert at(batch.telemetry, "latency_max_ms").tolist() == [pytest.approx(50.0)]
    assert any("two numbers" in n and "(3 lines)" in n for n in batch.notes)


def test_invalid_methods_are_counted_under_invalid_not_as_endpoints():
    batch = read(INGRESS)
    endpoints = set(batch.telemetry.endpoint)
    assert not any(e.split(" ")[0] in ("PATCHP", "PATCHp", "GETI", "geti") for e in endpoints)
    want = expected_lines(INGRESS)
    assert at(batch.telemetry, "requests", tpl.INVALID).sum() == (~want.method.isin(
        ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"])).sum() == 2


@pytest.mark.parametrize("method, name", [("GET", "GET /a"), ("PROPFIND", "PROPFIND /a"), ("PATCHp", tpl.INVALID),
                                          ("geti", tpl.INVALID), ("get", tpl.INVALID), ("XYZZY", tpl.INVALID),
                                          ("", tpl.INVALID)])
def test_endpoint_names_need_a_registered_method(method, name):
    assert tpl.endpoint_name(method, "/a") == name


@pytest.mark.parametrize("line, latency_ms", [
    # ingress-nginx before 0.20 (`$the_real_ip - [$the_real_ip] - ...`), a line quoted in a public ELK guide
    ('35.185.145.221 - [35.185.145.221] - - [26/Dec/2018:10:44:22 +0000] "GET /modules/actions/api?timestamp='
     '1545821062&hash=e63ffc17319baa5524a7ad10dbb3c4be822c4e519d88efdae511116498d6c9e2 HTTP/1.1" 200 3 "-" '
     '"python-requests/2.18.4" 416 0.013 [default-app-server-80] 10.24.10.14:8080 3 0.014 200 '
     "67ce5290d19e39b2a6b614a617a1cd98", 13.0),
    # Alibaba Cloud's layout: `... $upstream_status $req_id $host [$proxy_alternative_upstream_name]`
    ('10.0.0.1 - [10.0.0.1] - - [26/Dec/2018:10:44:22 +0000] "GET /a HTTP/1.1" 502 3 "-" "curl/8" 416 0.250 '
     "[default-a-80] 10.24.10.14:8080, 10.24.10.15:8080 0, 0 0.100, 0.150 502, 502 67ce5290 a.example []", 250.0),
    # the default without `[$proxy_alternative_upstream_name]` and `$req_id`
    ('10.0.0.1 - - [26/Dec/2018:10:44:22 +0000] "GET /a HTTP/1.1" 200 3 "-" "curl/8" 2057 0.033 [default-a-80] '
     "10.24.10.14:8080 3 0.030 200", 33.0),
])
def test_older_and_vendor_ingress_nginx_layouts(tmp_path, line, latency_ms):
    path = tmp_path / "x.log"
    path.write_text(line + "\n")
    batch = read(path)
    assert "ingress-nginx" in batch.notes[0]
    assert at(batch.telemetry, "latency_max_ms").tolist() == [pytest.approx(latency_ms)]
