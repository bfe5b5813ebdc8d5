"""Prometheus text exposition / OpenMetrics: the shared scrapes, escapes, timestamps, properties,
and the fast query_range decoding path agreeing with the json one."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import SMALL_CATALOG
from perfops.errors import InputError
from perfops.ingest import _series as S
from perfops.ingest import prometheus_json as P
from perfops.ingest import prometheus_text as T
from perfops.ingest.base import IngestOptions
from perfops.ingest.registry import reader_for
from perfops.workspace import parse_catalog

SAMPLES = "samples/prometheus-exposition"


def _samples(path: Path) -> list[T.Sample]:
    text = path.read_text()
    return list(T.iter_samples(iter(text.split("\n")), "# EOF" in text[-64:], str(path)))


@pytest.mark.conformance
def test_every_scrape_parses_every_sample_line(shared_dir):
    for path in sorted((shared_dir / SAMPLES).glob("*.txt")):
        assert reader_for(path).name == "prometheus-text", path.name
        lines = [ln for ln in path.read_text().split("\n") if ln.strip() and not ln.startswith("#")]
        assert len(_samples(path)) == len(lines), path.name


@pytest.mark.conformance
def test_scrapes_load_and_say_what_they_skip(shared_dir, small_catalog):
    for path in sorted((shared_dir / SAMPLES).glob("*.txt")):
        batch = T.read(path, IngestOptions(small_catalog, service="payments"))
        assert batch.notes, path.name
        assert set(batch.telemetry.service) <= {"payments"}


@pytest.mark.conformance
def test_self_scrape_histograms_give_lifetime_percentiles_at_the_scrape_time(shared_dir, small_catalog, tmp_path):
    path = tmp_path / "scrape.prom"
    path.write_bytes((shared_dir / SAMPLES / "prometheus-v3-self-scrape-alltypes.prom.txt").read_bytes())
    os.utime(path, (1_793_491_200, 1_793_491_200))
    frame = T.read(path, IngestOptions(small_catalog, service="payments")).telemetry
    assert set(frame.timestamp) == {np.datetime64("2026-11-01T00:00:00")}
    query_range = frame[frame.endpoint == "/api/v1/query_range"]
    assert set(query_range.metric) == {"latency_p50_ms", "latency_p95_ms", "latency_p99_ms"}
    assert (query_range["value"].diff().dropna() >= 0).all()


@pytest.mark.conformance
def test_openmetrics_exemplars_negative_buckets_and_escapes(shared_dir):
    samples = _samples(shared_dir / SAMPLES / "client_golang-example-openmetrics-exemplars.om.txt")
    bucket = next(s for s in samples if s.labels.get("le") == "-0.0002899999999999998")
    assert bucket.value == 3 and bucket.timestamp is None  # the exemplar's timestamp is not the sample's
    node = _samples(shared_dir / SAMPLES / "node_exporter-e2e-output-untyped.prom.txt")
    dmi = next(s for s in node if s.name == "node_dmi_info")
    assert dmi.labels["product_sku"] == "SKU=NotProvided;ModelName=PowerEdge R6515"
    assert "\x1c" in dmi.labels["product_version"]  # a control character inside a value is kept


def test_backfill_file_counters_become_increases(tmp_path, small_catalog):
    path = tmp_path / "backfill.om"
    path.write_text(
        "# TYPE http_requests counter\n"
        'http_requests_total{service="payments",code="500",route="/pay",method="POST"} 10 1700000000\n'
        'http_requests_total{service="payments",code="500",route="/pay",method="POST"} 16 1700000060\n'
        "# EOF\n")
    frame = T.read(path, IngestOptions(small_catalog)).telemetry
    assert dict(zip(frame.metric, frame.value, strict=True)) == {"requests": 6.0, "errors": 6.0}
    assert set(frame.endpoint) == {"POST /pay"}
    assert frame["timestamp"].iloc[0] == np.datetime64("2023-11-14T22:13:20")


def test_text_format_timestamps_are_milliseconds(tmp_path, small_catalog):
    path = tmp_path / "scrape.prom"
    path.write_text('latency_p95_ms{service="payments",label="a\\"b\\\\c"} 250 1700000000000\n')
    frame = T.read(path, IngestOptions(small_catalog)).telemetry
    assert frame["timestamp"].iloc[0] == np.datetime64("2023-11-14T22:13:20")
    sample = _samples(path)[0]
    assert sample.labels["label"] == 'a"b\\c'


@pytest.mark.parametrize("line", ['x{a="1" 2', "x{a=1} 2", "x", "x 1 2 3", "x{a=\"1\"} abc", "{a=\"1\"} 1"])
def test_malformed_lines_name_the_line(tmp_path, small_catalog, line):
    path = tmp_path / "bad.prom"
    path.write_text(f"# TYPE x gauge\n{line}\n")
    with pytest.raises(InputError) as caught:
        T.read(path, IngestOptions(small_catalog))
    assert caught.value.line == 2


# ---- properties ------------------------------------------------------------------------------
label_values = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r"), max_size=8)


@settings(max_examples=60, deadline=None)
@given(labels=st.dictionaries(st.from_regex(r"[a-z_][a-z0-9_]{0,5}", fullmatch=True), label_values, max_size=4),
       value=st.floats(allow_nan=False, allow_infinity=False, width=64),
       stamp=st.one_of(st.none(), st.integers(0, 4_000_000_000_000)))
def test_written_samples_parse_back(labels, value, stamp):
    body = ",".join(f'{k}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
                    for k, v in labels.items())
    line = f"metric_x{{{body}}} {value!r}" + (f" {stamp}" if stamp is not None else "")
    sample = T.parse_line(line, 1, openmetrics=False)
    assert sample.labels == labels and sample.value == value
    assert sample.timestamp == (None if stamp is None else stamp / 1000.0)


@settings(max_examples=60, deadline=None)
@given(series=st.lists(st.tuples(
    st.dictionaries(st.sampled_from(["service", "endpoint", "le", "__name__"]), st.text(max_size=6), max_size=3),
    st.lists(st.tuples(st.integers(0, 2_000_000_000), st.one_of(
        st.floats(allow_nan=False, allow_infinity=False).map(repr), st.sampled_from(["NaN", "+Inf", "-Inf"]))),
        max_size=6)), max_size=4))
def test_fast_matrix_decoding_equals_json_decoding(series):
    document = {"status": "success", "data": {"resultType": "matrix", "result": [
        {"metric": labels, "values": [[t, v] for t, v in points]} for labels, points in series]}}
    fast = P.parse_matrix_text(json.dumps(document, separators=(",", ":")))
    slow = P.parse_document(document)
    assert fast is not None or any("histogram" in json.dumps(labels) for labels, _ in series)
    if fast is not None:
        assert [(s.labels, s.times.tolist(), s.values.tolist()) for s in fast] == [
            (s.labels, s.times.tolist(), s.values.tolist()) for s in slow]


def test_arrow_table_equals_the_frame():
    t = np.array(["2026-11-01T00:00", "2026-11-01T00:01"], dtype="datetime64[us]")
    pieces = [S.Piece("a", "", "", "requests", t, np.array([1.0, np.nan])),
              S.Piece("b", "GET /x", "c", "errors", t, np.array([2.0, 3.0]))]
    table = S.table_of(pieces).to_pandas()
    frame = S.frame_of(pieces)
    for column in ("service", "endpoint", "consumer", "metric"):
        table[column] = table[column].astype(str)
    key = ["service", "timestamp"]
    assert table.sort_values(key).reset_index(drop=True).astype(str).equals(
        frame.sort_values(key).reset_index(drop=True).astype(str))


@settings(max_examples=40, deadline=None)
@given(st.text(max_size=200))
def test_any_text_is_read_or_an_input_error(text):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "x.prom"
        path.write_text(text)
        with contextlib.suppress(InputError):
            T.read(path, IngestOptions(parse_catalog(SMALL_CATALOG), skip_bad_rows=True))
