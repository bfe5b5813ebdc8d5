"""The access-log reader: formats, exact aggregates, templates, consumers, errors, streaming."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from perfops.errors import InputError
from perfops.ingest import access_log as al
from perfops.ingest import access_templates as tpl
from perfops.ingest.base import IngestOptions
from perfops.workspace import parse_catalog

CATALOG = parse_catalog("domain: D\nsquads: [{name: web}]\nservices: [{name: web, squad: web}]\n")


def options(**kw) -> IngestOptions:
    return IngestOptions(catalog=CATALOG, service=kw.pop("service", "web"), **kw)


def combined(t: str, request: str, status: int, agent: str = "curl/8.0", rt: str | None = "0.100",
             client: str = "10.0.0.1") -> str:
    line = f'{client} - - [{t} +0000] "{request}" {status} 12 "-" "{agent}"'
    return line + (f" {rt}" if rt is not None else "")


def write(tmp_path: Path, lines: list[str], name: str = "access.log") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def value(tel: pd.DataFrame, metric: str, endpoint: str = "", consumer: str = "", minute: int | None = None):
    rows = tel[(tel.metric == metric) & (tel.endpoint == endpoint) & (tel.consumer == consumer)]
    if minute is not None:
        rows = rows[rows.timestamp.dt.minute == minute]
    return rows["value"].sum() if metric in ("requests", "errors", "client_errors") else rows["value"].tolist()


def test_percentiles_are_exact_from_raw_request_times(tmp_path):
    times = [0.005, 0.010, 0.020, 0.040, 0.080, 0.160, 0.320, 0.640, 1.280, 2.560, 0.001]
    lines = [combined(f"01/Mar/2026:10:00:{i:02d}", f"GET /orders/{100 + i} HTTP/1.1", 200, rt=f"{t:.3f}")
             for i, t in enumerate(times)]
    tel = al.read_access_log(write(tmp_path, lines), options()).telemetry
    ms = np.array(times) * 1000
    assert value(tel, "latency_p95_ms") == [pytest.approx(np.percentile(ms, 95))]
    assert value(tel, "latency_p50_ms", "GET /orders/{id}") == [pytest.approx(np.percentile(ms, 50))]
    assert value(tel, "latency_avg_ms") == [pytest.approx(ms.mean())]
    assert value(tel, "latency_max_ms") == [pytest.approx(2560.0)]
    assert str(tel["timestamp"].dtype) == "datetime64[us]"
    assert tel["timestamp"].iloc[0] == pd.Timestamp("2026-03-01 10:00:00")


def test_counts_split_server_and_client_errors_per_minute_endpoint_and_consumer(tmp_path):
    lines = [
        combined("01/Mar/2026:10:00:01", "GET /cart HTTP/1.1", 200, "partner-acme/1.2"),
        combined("01/Mar/2026:10:00:02", "GET /cart HTTP/1.1", 503, "partner-acme/1.2"),
        combined("01/Mar/2026:10:00:03", "POST /cart/items HTTP/1.1", 404, "Mozilla/5.0 (X11) Chrome/120 Safari/1"),
        combined("01/Mar/2026:10:01:00", "GET /cart?x=1 HTTP/1.1", 499, "partner-acme/1.3"),
    ]
    tel = al.read_access_log(write(tmp_path, lines), options()).telemetry
    assert value(tel, "requests") == 4 and value(tel, "errors") == 1 and value(tel, "client_errors") == 2
    assert value(tel, "requests", "GET /cart") == 3
    assert value(tel, "requests", "", "partner-acme") == 3
    assert value(tel, "client_errors", "POST /cart/items", "Chrome") == 1
    assert value(tel, "requests", minute=0) == 3 and value(tel, "requests", minute=1) == 1


def test_time_zones_are_converted_to_utc(tmp_path):
    line = '1.2.3.4 - - [01/Mar/2026:10:00:00 -0400] "GET / HTTP/1.1" 200 1'
    tel = al.read_access_log(write(tmp_path, [line]), options()).telemetry
    assert set(tel["timestamp"]) == {pd.Timestamp("2026-03-01 14:00:00")}


@pytest.mark.parametrize("path, template", [
    ("/orders/8812", "/orders/{id}"),
    ("/orders/8812/items/3", "/orders/{id}/items/{id}"),
    ("/u/550e8400-e29b-41d4-a716-446655440000", "/u/{id}"),
    ("/blobs/d41d8cd98f00b204e9800998ecf8427e", "/blobs/{id}"),
    ("/t/abcDEF1234567890xyzQQ", "/t/{id}"),
    ("/v1/cart", "/v1/cart"),
    ("/api/get-all-customer-accounts", "/api/get-all-customer-accounts"),
    ("http://shop.example:80/p/12", "/p/{id}"),
])
def test_endpoint_templates_fold_ids(path, template):
    import pyarrow as pa

    folded = tpl.fold_ids(tpl.strip_scheme_host(pa.array([path.encode()], pa.large_binary())))
    assert tpl.template_of(folded[0].as_py().decode()) == template


def test_endpoint_cardinality_is_capped(tmp_path, monkeypatch):
    monkeypatch.setattr(tpl, "MAX_ENDPOINTS", 3)
    lines = [combined("01/Mar/2026:10:00:00", f"GET /page-{chr(97 + i)} HTTP/1.1", 200) for i in range(6)]
    batch = al.read_access_log(write(tmp_path, lines), options())
    endpoints = set(batch.telemetry.endpoint) - {""}
    assert len(endpoints) == 4 and tpl.OTHER in endpoints
    assert value(batch.telemetry, "requests", tpl.OTHER) == 3
    assert any("endpoint templates" in n for n in batch.notes)


def test_consumer_from_an_api_key_header_in_a_user_log_format(tmp_path):
    fmt = '$remote_addr [$time_local] "$request" $status $request_time "$http_x_api_key"'
    lines = ['1.1.1.1 [01/Mar/2026:10:00:00 +0000] "GET /a HTTP/1.1" 200 0.050 "key-acme"',
             '1.1.1.1 [01/Mar/2026:10:00:01 +0000] "GET /a HTTP/1.1" 500 0.150 "key-globex"',
             '1.1.1.1 [01/Mar/2026:10:00:02 +0000] "GET /a HTTP/1.1" 200 0.250 "-"']
    tel = al.read_access_log(write(tmp_path, lines), options(log_format=fmt, consumer_field="header:X-Api-Key")).telemetry
    assert set(tel.consumer) == {"", "key-acme", "key-globex", tpl.NO_CONSUMER}
    assert value(tel, "errors", "", "key-globex") == 1
    assert value(tel, "latency_p50_ms", "GET /a") == [pytest.approx(150.0)]


def test_consumer_from_the_client_address(tmp_path):
    lines = [combined("01/Mar/2026:10:00:00", "GET / HTTP/1.1", 200, client="10.0.0.7"),
             combined("01/Mar/2026:10:00:01", "GET / HTTP/1.1", 200, client="10.0.0.8")]
    tel = al.read_access_log(write(tmp_path, lines), options(consumer_field="client")).telemetry
    assert set(tel.consumer) == {"", "10.0.0.7", "10.0.0.8"}


def test_a_consumer_field_the_format_lacks_says_how_to_get_it(tmp_path):
    path = write(tmp_path, [combined("01/Mar/2026:10:00:00", "GET / HTTP/1.1", 200)])
    with pytest.raises(InputError, match="http_x_api_key|x-api-key") as err:
        al.read_access_log(path, options(consumer_field="header:x-api-key"))
    assert "log_format" in str(err.value)


def test_the_service_is_required(tmp_path):
    path = write(tmp_path, [combined("01/Mar/2026:10:00:00", "GET / HTTP/1.1", 200)])
    with pytest.raises(InputError, match="--service"):
        al.read_access_log(path, IngestOptions(catalog=CATALOG))
    with pytest.raises(InputError, match="not in perfops.yaml"):
        al.read_access_log(path, options(service="nope"))


def test_a_bad_line_names_its_line_and_can_be_skipped(tmp_path):
    lines = [combined("01/Mar/2026:10:00:00", "GET / HTTP/1.1", 200), "garbage here",
             "", combined("01/Mar/2026:10:00:01", "GET / HTTP/1.1", 200)]
    path = write(tmp_path, lines)
    with pytest.raises(InputError) as err:
        al.read_access_log(path, options())
    assert err.value.line == 2 and "garbage" in str(err.value)
    batch = al.read_access_log(path, options(skip_bad_rows=True))
    assert batch.skipped == [f"{path}:2: not a line of this log's format; got 'garbage here'"]
    assert value(batch.telemetry, "requests") == 2


def test_gzip_and_small_blocks_give_the_same_answer(tmp_path, monkeypatch):
    rng = np.random.default_rng(3)
    lines = [combined(f"01/Mar/2026:10:{m:02d}:{s:02d}", f"GET /o/{rng.integers(1, 99)} HTTP/1.1",
                      int(rng.choice([200, 404, 500])), rt=f"{rng.random():.3f}")
             for m in range(20) for s in range(0, 60, 3)]
    plain = write(tmp_path, lines)
    zipped = tmp_path / "access.log.gz"
    zipped.write_bytes(gzip.compress(plain.read_bytes()))
    whole = al.read_access_log(plain, options()).telemetry
    monkeypatch.setattr(al, "BLOCK_BYTES", 997)
    pd.testing.assert_frame_equal(al.read_access_log(zipped, options()).telemetry, whole)


def test_lines_far_out_of_order_keep_exact_counts(tmp_path, monkeypatch):
    monkeypatch.setattr(al, "BLOCK_BYTES", 200)
    lines = [combined(f"01/Mar/2026:10:{m:02d}:00", "GET / HTTP/1.1", 200) for m in range(30)]
    lines.append(combined("01/Mar/2026:10:00:30", "GET / HTTP/1.1", 500))
    batch = al.read_access_log(write(tmp_path, lines), options())
    assert value(batch.telemetry, "requests", minute=0) == 2
    assert value(batch.telemetry, "errors", minute=0) == 1
    assert any("out of order" in n for n in batch.notes)


def test_user_log_format_with_upstream_lists_and_msec(tmp_path):
    fmt = '$msec "$request" $status $upstream_response_time $upstream_addr'
    lines = ['1772359200.123 "GET /x HTTP/1.1" 502 0.010, 0.250 10.0.0.1:80, 10.0.0.2:80',
             '1772359201.000 "GET /x HTTP/1.1" 200 - 10.0.0.1:80']
    tel = al.read_access_log(write(tmp_path, lines), options(log_format=fmt)).telemetry
    assert value(tel, "requests") == 2 and value(tel, "errors") == 1
    assert value(tel, "latency_max_ms") == [pytest.approx(260.0)]


def test_a_log_format_without_a_time_is_refused(tmp_path):
    path = write(tmp_path, ['"GET / HTTP/1.1" 200'])
    with pytest.raises(InputError, match="time"):
        al.read_access_log(path, options(log_format='"$request" $status'))


def test_apache_percent_d_microseconds(tmp_path):
    lines = [combined("01/Mar/2026:10:00:00", "GET / HTTP/1.1", 200, rt="250000")]
    batch = al.read_access_log(write(tmp_path, lines), options())
    assert value(batch.telemetry, "latency_max_ms") == [pytest.approx(250.0)]
    assert "%D" in batch.notes[0]


def test_sniff_accepts_access_logs_and_not_csv(tmp_path):
    from perfops.ingest.registry import reader_for

    log = write(tmp_path, [combined("01/Mar/2026:10:00:00", "GET / HTTP/1.1", 200)])
    assert reader_for(log).name == "access-log"
    assert not al.sniff(tmp_path / "x.csv", b"timestamp,service,metric,value\n2026-01-01,web,requests,1\n")


def test_user_agent_families():
    assert tpl.user_agent_family("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)") == "Googlebot"
    assert tpl.user_agent_family("Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 Chrome/120 Safari/537.36 Edg/120") == "Edge"
    assert tpl.user_agent_family("okhttp/4.9.0") == "okhttp"
    assert tpl.user_agent_family("-") == tpl.NO_CONSUMER


def test_a_key_value_tail_prefers_the_whole_request_time(tmp_path):
    line = ('1.2.3.4 - - [01/Mar/2026:10:00:00 +0000] "GET /a HTTP/1.1" 200 5 "-" "curl/8" '
            'upstream_response_time=0.010 request_time=0.250 pool=-')
    batch = al.read_access_log(write(tmp_path, [line]), options())
    assert value(batch.telemetry, "latency_max_ms") == [pytest.approx(250.0)]
    assert "request_time=" in batch.notes[0]


def test_a_current_alb_line_with_the_newer_trailing_fields(tmp_path):
    line = ('h2 2023-01-01T00:00:01.000000Z app/my-lb/abc 10.0.0.1:1234 10.0.0.2:80 0.000 0.012 0.000 200 200 '
            '100 200 "GET https://x.example.com:443/api/orders/123?x=1 HTTP/2.0" "okhttp/4.9.0" '
            'ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/t/1 '
            '"Root=1-abc" "x.example.com" "arn:aws:acm:eu-west-1:1:certificate/1" 0 2023-01-01T00:00:00.988000Z '
            '"forward" "-" "-" "10.0.0.2:80" "200" "-" "-" TID_123')
    batch = al.read_access_log(write(tmp_path, [line]), options())
    assert batch.notes[0].startswith("read as AWS ALB")
    tel = batch.telemetry
    assert value(tel, "requests", "GET /api/orders/{id}", "okhttp") == 1
    assert value(tel, "latency_p50_ms") == [pytest.approx(12.0)]
