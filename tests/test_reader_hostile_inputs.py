"""Hostile inputs the fuzzers found (tests/test_fuzz_parsers.py, docs/reliability.md), one test
per bug fixed: what the user sees. Each file is either loaded correctly or refused with an
InputError that names the file and, where the format has them, the line and the field.

The accepted time range is the one of perfops.ingest.common (1970-01-01 to 2200-01-01 UTC).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from perfops.errors import InputError
from perfops.ingest.base import IngestBatch, IngestOptions
from perfops.ingest.registry import readers

GATLING_HEAD = b"RUN\tSim\tsim-1\t1767607200000\t \t3.9.5\nUSER\tB\tSTART\t1767607200100\n"
JTL_XML = (b'<?xml version="1.0"?>\n<testResults version="1.2">\n<httpSample %s s="true" lb="GET /cart" rc="200"/>\n'
           b"</testResults>\n")
K6_POINT = (b'{"metric":"http_req_duration","type":"Point","data":{"time":"2026-01-05T10:00:00Z","value":5,'
            b'"tags":{"name":"GET /cart"}}}\n')
JTL_HEAD = b"timeStamp,elapsed,label,responseCode,success\n"
FILE_NAMES = {"jmeter": "results.jtl", "k6": "k6.json", "locust": "run_stats.csv", "gatling": "simulation.log",
              "otlp-json": "otlp.json", "prometheus-text": "metrics.prom", "prometheus-json": "query_range.json", "cloudwatch-json": "cloudwatch.json"}


def _path(tmp_path: Path, reader: str, data: bytes) -> Path:
    path = tmp_path / FILE_NAMES[reader]
    path.write_bytes(data)
    return path


def read(tmp_path: Path, catalog, reader: str, data: bytes, **options) -> IngestBatch:
    path = _path(tmp_path, reader, data)
    return readers()[reader].read(path, IngestOptions(catalog=catalog, service="checkout-api", **options))


def refusal(tmp_path: Path, catalog, reader: str, data: bytes, **options) -> InputError:
    """The InputError the reader raises; it always names the file."""
    path = _path(tmp_path, reader, data)
    with pytest.raises(InputError) as caught:
        readers()[reader].read(path, IngestOptions(catalog=catalog, service="checkout-api", **options))
    error = caught.value
    assert error.path == str(path) and str(path) in str(error), str(error)
    return error


# (id, reader, input, line, field, words in the message)
REFUSED = [
    ("jmeter-bom-only", "jmeter", b"\xef\xbb\xbf", 1, None, "not a JMeter CSV result"),
    ("jmeter-xml-t-not-a-number", "jmeter", JTL_XML % b't="1,5" ts="1767607200000"', None, None,
     'sample 1 (<httpSample lb="GET /cart">): t="1,5" is not a whole number'),
    ("jmeter-xml-ts-beyond-int64", "jmeter", JTL_XML % b't="100" ts="99999999999999999999999"', None, None,
     "is outside 1970-01-01 to 2200-01-01"),
    ("jmeter-xml-unknown-encoding", "jmeter", b'<?xml version="1.0" encoding="UTV-8"?>\n<testResults version="1.2">',
     1, "encoding", "unknown encoding: UTV-8"),
    ("jmeter-second-timestamp-format", "jmeter", JTL_HEAD + b"2019/12/05 12:37:24,10,GET /cart,200,true\n"
     b"2019-12-05T12:37:25,10,GET /cart,200,true\n", 3, "timeStamp", "does not match the format"),
    ("jmeter-empty-timestamp", "jmeter", JTL_HEAD + b"1767607200000,10,GET /cart,200,true\n\n,10,GET /cart,200,true\n",
     4, "timeStamp", "empty"),
    ("jmeter-negative-elapsed", "jmeter", JTL_HEAD + b"1767607200000,-5,GET /cart,200,true\n", 2, "elapsed",
     "-5 ms is not a response time"),
    ("jmeter-span-over-15-days", "jmeter", JTL_HEAD + b"1767607200000,10,GET /cart,200,true\n"
     b"767607200000,10,GET /cart,200,true\n", 2, "timeStamp", "span more than 15 days"),
    ("jmeter-neither-success-nor-code", "jmeter", b"timeStamp\telapsed\tlabel\r\n\r\n1488473413202\t1008\tGET /cart\r\n",
     1, "success", "neither a 'success' nor a 'responseCode' column"),
    ("jmeter-repeated-column", "jmeter", b"timeStamp,elapsed,label,success,elapsed\n1767607200000,1,GET /a,true,2\n",
     1, "elapsed", "appears more than once"),
    ("jmeter-header-of-1.1M-commas", "jmeter", JTL_HEAD.rstrip(b"\n") + b"," * 1_100_000 + b"\n"
     b"1767607200000,10,GET /cart,200,true\n", 1, "header", "columns or more; expected JMeter's few dozen"),
    ("k6-bad-offset", "k6", K6_POINT.replace(b"10:00:00Z", b"10:00:00.1+0x1A:00"), 1, "data.time",
     "is not an RFC 3339 time"),
    ("k6-offset-25h", "k6", K6_POINT.replace(b"10:00:00Z", b"10:00:00+25:00"), 1, "data.time",
     "is not an RFC 3339 time"),
    ("k6-point-without-time", "k6", K6_POINT + b'{"metric":"http_req_duration","type":"Point","data":{"value":1}}\n',
     2, "data.time", "is not a time"),
    ("k6-infinite-duration", "k6", K6_POINT + K6_POINT.replace(b'"value":5', b'"value":Infinity'), 2, "data.value",
     "inf ms is not a response time"),
    ("k6-span-over-15-days", "k6", K6_POINT + K6_POINT.replace(b"2026-01-05", b"2026-03-05"), 2, "data.time",
     "span more than 15 days"),
    ("k6-summary-huge-integer", "k6", b"9" * 5000, None, None, "not valid JSON"),
    ("k6-summary-odd-shape", "k6", b'{"metrics":{"http_reqs":{"count":"many"}}}', None, "metrics",
     "not a k6 summary of the expected shape"),
    ("locust-bare-cr-row", "locust", b"Name,Error,Occurrences\r\r,Method\n", 3, None, "expected 3 fields, found 2"),
    ("locust-repeated-name", "locust", b"Type,Name,Request Count,Failure Count,Name\nGET,/a,1,0,/b\n", 1, "Name",
     "the column 'Name' appears more than once"),
    ("locust-repeated-count", "locust", b"Type,Name,Request Count,Request Count\nGET,/a,1,2\n", 1, "Request Count",
     "the column 'Request Count' appears more than once"),
    ("locust-repeated-type", "locust", b"Type,Name,Request Count,Failure Count,Type\nGET,/a,1,0,POST\n", 1, "Type",
     "the column 'Type' appears more than once"),
    ("locust-count-not-a-number", "locust", b"Type,Name,Request Count,Failure Count\nGET,/a,1,0\nGET,/b,NaN,0\n", 3,
     "samples", "'NaN' is not a count"),
    ("gatling-timestamp-beyond-int64", "gatling",
     GATLING_HEAD + b"REQUEST\t\tPOST /checkout\t99999999999999999999\t1767607200300\tOK\t \n", 3, "timestamp",
     "the time 99999999999999999999 (epoch ms) is outside 1970-01-01 to 2200-01-01"),
    ("gatling-end-in-year-318857", "gatling",
     GATLING_HEAD + b"REQUEST\t\tPOST /checkout\t1767607200200\t9999999999999999\tOK\t \n", 3, "timestamp",
     "is outside"),
    ("gatling-end-in-year-7572", "gatling", b"REQUEST\t\t03_Create_Post\t1767826094567\t176782609458715\tOK\t ", 1,
     "timestamp", "is outside"),
    ("gatling-span-over-15-days", "gatling", GATLING_HEAD + b"REQUEST\t\tPOST /a\t1767607200200\t1767607200300\tOK\t \n"
     b"REQUEST\t\tPOST /a\t767607200200\t767607200300\tOK\t \n", 3, "timestamp", "span more than 15 days"),
    ("gatling-end-before-start", "gatling",
     b"REQUEST\touter,inner  with comma\tGET /slow\t1788379665736\t0788379667239\tOK\t ", 1, "response time",
     "is not a response time"),
    ("prometheus-json-time-1e13-s", "prometheus-json", b'{"status":"success","data":{"resultType":"matrix","result":'
     b'[{"metric":{"__name__":"up","service":"checkout-api"},"values":[[1e13,"1"]]}]}}', None, "values",
     "a point time (1e+13 s since 1970) is outside 1970-01-01 to 2200-01-01"),
    ("otlp-temporality-infinity", "otlp-json", b'{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"x","sum":'
     b'{"aggregationTemporality":Infinity,"dataPoints":[{}]}}]}]}]}', None, "resourceMetrics",
     "aggregationTemporality 'inf' is not 0, 1, 2"),
    ("otlp-bucket-counts-do-not-fit-bounds", "otlp-json", b'{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":'
     b'"http.server.request.duration","histogram":{"aggregationTemporality":1,"dataPoints":[{"timeUnixNano":'
     b'"1767607260000000000","explicitBounds":[0.1,0.5],"bucketCounts":["1","1"]}]}}]}]}]}', None, "resourceMetrics",
     "2 bucketCounts for 2 explicitBounds; expected 3"),
    ("otlp-json-lines-huge-integer", "otlp-json", b'{"resourceMetrics":[]}\n{"resourceMetrics":' + b"9" * 5000
     + b"}\n", 2, None, "invalid JSON line: Exceeds the limit (4300 digits)"),
    ("prometheus-text-year-2530", "prometheus-text", b'http_server_requests_total{service="checkout-api",'
     b'endpoint="GET /cart",code="200"} 1027 17676072000000\n' * 2 + b"# EOF", 1, "timestamp",
     "the sample time 17676072000000 (epoch ms) is outside"),
    ("prometheus-text-ms-year-2530", "prometheus-text", b'http_server_requests_total{service="checkout-api"} 1 '
     b'17676072000000\n', 1, "timestamp", "(epoch ms) is outside"),
    ("openmetrics-seconds-year-2530", "prometheus-text", b'http_server_requests_total{service="checkout-api"} 1 '
     b'17676072000\n# EOF\n', 1, "timestamp", "(epoch seconds) is outside"),
    ("cloudwatch-datapoint-without-timestamp", "cloudwatch-json",
     b'{"Label": "CPUUtilization", "Datapoints": [{"Average": 0.466, "Unit": "Percent"}]}', None,
     "Datapoints[0].Timestamp", "missing"),
    ("cloudwatch-year-2250", "cloudwatch-json", b'{"Label": "CPUUtilization", "Datapoints": [{"Timestamp": '
     b'"2026-01-05T10:00:00Z", "Average": 1}, {"Timestamp": "2250-01-05T10:00:00Z", "Average": 1}]}', None,
     "Datapoints[1].Timestamp", "is outside 1970-01-01 to 2200-01-01"),
]


@pytest.mark.parametrize(("reader", "data", "line", "field", "words"), [r[1:] for r in REFUSED],
                         ids=[r[0] for r in REFUSED])
def test_a_hostile_file_is_refused_naming_file_line_and_field(tmp_path, small_catalog, reader, data, line, field,
                                                              words):
    error = refusal(tmp_path, small_catalog, reader, data)
    assert words in str(error)
    assert (error.line, error.field) == (line, field)


def test_openmetrics_times_in_milliseconds_are_read_as_milliseconds(tmp_path, small_catalog):
    sample = b'http_server_requests_total{service="checkout-api",endpoint="GET /cart",code="200"}'
    batch = read(tmp_path, small_catalog, "prometheus-text",
                 sample + b" 1027 1767607200000\n" + sample + b" 1090 1767607260000\n# EOF\n")
    assert [str(t) for t in batch.telemetry["timestamp"]] == ["2026-01-05 10:00:00"]
    assert list(batch.telemetry["value"]) == [63.0]


def test_a_bom_only_file_is_not_taken_for_a_jtl(tmp_path):
    path = _path(tmp_path, "jmeter", b"\xef\xbb\xbf")
    assert readers()["jmeter"].sniff(path, path.read_bytes()) is False


def test_a_blank_crlf_line_after_the_jtl_header_is_not_a_row(tmp_path, small_catalog):
    batch = read(tmp_path, small_catalog, "jmeter", b"timeStamp\telapsed\tlabel\tsuccess\r\n\r\n"
                 b"1767607200000\t100\tGET /cart\ttrue\r\n1767607201000\t300\tGET /cart\tfalse\r\n")
    row = batch.test_endpoints.iloc[0]
    assert (row["endpoint"], row["samples"], row["errors"], row["latency_max_ms"]) == ("GET /cart", 2, 1, 300.0)


def test_a_jtl_without_success_column_counts_failures_by_response_code(tmp_path, small_catalog):
    batch = read(tmp_path, small_catalog, "jmeter", b"timeStamp,elapsed,label,responseCode\n"
                 b"1767607202750,197,GET /cart,200\n1767607202800,20,GET /cart,503\n"
                 b"1767607202900,20,GET /cart,Non HTTP response code: java.net.SocketException\n"
                 b"1767607203000,20,GET /cart,302\n")
    row = batch.test_endpoints.iloc[0]
    assert (row["samples"], row["errors"]) == (4, 2)
    assert any("no success column" in note for note in batch.notes)


def test_skip_bad_rows_drops_impossible_jtl_samples_and_says_how_many(tmp_path, small_catalog):
    batch = read(tmp_path, small_catalog, "jmeter", JTL_HEAD + b"1767607200000,10,GET /cart,200,true\n"
                 b",10,GET /cart,200,true\n1767607200000,-5,GET /cart,200,true\n"
                 b"1767607201000,30,GET /cart,200,true\n", skip_bad_rows=True)
    assert batch.test_endpoints.iloc[0]["samples"] == 2
    assert any("2 samples with an empty or impossible time or elapsed skipped" in n for n in batch.notes)


def test_skip_bad_rows_skips_an_unreadable_xml_sample(tmp_path, small_catalog):
    data = JTL_XML.replace(b"</testResults>", b'<httpSample t="1,5" ts="1767607200000" s="true" lb="GET /cart"/>\n'
                           b"</testResults>") % b't="15" ts="1767607200000"'
    batch = read(tmp_path, small_catalog, "jmeter", data, skip_bad_rows=True)
    assert batch.test_endpoints.iloc[0]["samples"] == 1
    assert any("1 samples with an unreadable" in n for n in batch.notes)


def test_skip_bad_rows_skips_a_k6_point_without_time(tmp_path, small_catalog):
    batch = read(tmp_path, small_catalog, "k6", K6_POINT + b'{"metric":"http_req_duration","type":"Point",'
                 b'"data":{"value":1}}\n', skip_bad_rows=True)
    assert batch.test_endpoints.iloc[0]["samples"] == 1
    assert any("1 malformed points skipped" in n for n in batch.notes)


def test_a_k6_time_without_offset_is_utc_whatever_the_machine_zone(tmp_path, small_catalog, monkeypatch):
    import time

    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    try:
        batch = read(tmp_path, small_catalog, "k6", K6_POINT.replace(b"10:00:00Z", b"10:00:00"))
    finally:
        monkeypatch.undo()
        time.tzset()
    assert str(batch.test_runs.iloc[0]["start"]) == "2026-01-05 10:00:00"


def test_locust_stats_with_bare_cr_line_ends_load(tmp_path, small_catalog):
    batch = read(tmp_path, small_catalog, "locust",
                 b"Type,Name,Request Count,Failure Count\rGET,/cart,10,1\rPOST,/checkout,4,0\r")
    rows = batch.test_endpoints.set_index("endpoint")
    assert rows.loc["GET /cart", "samples"] == 10 and rows.loc["POST /checkout", "errors"] == 0


def test_a_locust_history_time_out_of_range_names_the_history_file(tmp_path, small_catalog):
    (tmp_path / "run_stats_history.csv").write_bytes(
        b"Timestamp,User Count,Type,Name,Total Request Count,Total Failure Count\n"
        b"1767607200,5,,Aggregated,10,0\n99999999999,5,,Aggregated,20,0\n")
    path = _path(tmp_path, "locust", b"Type,Name,Request Count,Failure Count\nGET,/cart,10,1\n")
    with pytest.raises(InputError) as caught:
        readers()["locust"].read(path, IngestOptions(catalog=small_catalog, service="checkout-api"))
    assert (caught.value.path, caught.value.line, caught.value.field) == (
        str(tmp_path / "run_stats_history.csv"), 3, "Timestamp")


def test_skip_bad_rows_skips_a_gatling_record_beyond_int64(tmp_path, small_catalog):
    batch = read(tmp_path, small_catalog, "gatling", GATLING_HEAD
                 + b"REQUEST\t\tPOST /checkout\t99999999999999999999\t1767607200300\tOK\t \n"
                 + b"REQUEST\t\tPOST /checkout\t1767607200200\t1767607200450\tOK\t \n", skip_bad_rows=True)
    row = batch.test_endpoints.iloc[0]
    assert (row["samples"], row["latency_max_ms"]) == (1, 250.0)


def test_otlp_temporality_may_be_given_by_name(tmp_path, small_catalog):
    batch = read(tmp_path, small_catalog, "otlp-json", b'{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":'
                 b'"requests","sum":{"aggregationTemporality":"AGGREGATION_TEMPORALITY_DELTA","isMonotonic":true,'
                 b'"dataPoints":[{"startTimeUnixNano":"1767607200000000000","timeUnixNano":"1767607260000000000",'
                 b'"asInt":"42"}]}}]}]}]}')
    frame = batch.telemetry
    assert list(frame["value"]) == [42.0] and str(frame["timestamp"].iloc[0]) == "2026-01-05 10:00:00"


def test_an_otlp_point_without_time_is_refused_or_skipped(tmp_path, small_catalog):
    data = (b'{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"requests","gauge":{"dataPoints":'
            b'[{"asInt":"42"},{"timeUnixNano":"1767607260000000000","asInt":"7"}]}}]}]}]}')
    error = refusal(tmp_path, small_catalog, "otlp-json", data)
    assert error.field == "timeUnixNano" and "a data point without timeUnixNano" in str(error)
    batch = read(tmp_path, small_catalog, "otlp-json", data, skip_bad_rows=True)
    assert list(batch.telemetry["value"]) == [7.0]


def test_a_malformed_url_tag_keeps_its_text_as_the_endpoint(tmp_path, small_catalog):
    point = K6_POINT.replace(b'"tags":{"name":"GET /cart"}', b'"tags":{"method":"GET","url":"http://[::1/cart?id=1"}')
    batch = read(tmp_path, small_catalog, "k6", point)
    assert list(batch.test_endpoints["endpoint"]) == ["GET http://[::1/cart"]


@pytest.mark.parametrize("body", [
    JTL_HEAD + b"1767607200000,10,GET /cart,200,true\n" * 3000,
    JTL_XML.replace(b"<httpSample %s", b'<httpSample t="1" ts="1767607200000"').replace(
        b"</testResults>", b'<httpSample t="2" ts="1767607200001" s="true" lb="GET /cart"/>\n' * 1500
        + b"</testResults>"),
], ids=["csv", "xml"])
def test_a_gzip_jtl_cut_short_is_refused_naming_the_file(tmp_path, small_catalog, body):
    """Bigger than the 64 KB head that auto-detection reads, so the break is met while parsing."""
    import gzip

    whole = gzip.compress(body)
    error = refusal(tmp_path, small_catalog, "jmeter", whole[:-4])  # the CRC and size trailer lost
    assert "not a readable gzip file" in str(error)


@pytest.mark.parametrize(("reader", "body"), [
    ("k6", K6_POINT * 2000),
    ("gatling", GATLING_HEAD + b"REQUEST\t\tPOST /checkout\t1767607200200\t1767607200300\tOK\t \n" * 2000),
], ids=["k6", "gatling"])
def test_a_gzip_result_cut_short_is_refused_naming_the_file(tmp_path, small_catalog, reader, body):
    import gzip

    error = refusal(tmp_path, small_catalog, reader, gzip.compress(body)[:-4])
    assert "the gzip stream is broken after line" in str(error)
