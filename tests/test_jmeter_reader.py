"""JMeter JTL reader: the shared corpus, known answers, and properties."""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perfops.errors import InputError
from perfops.ingest import jmeter
from perfops.ingest.base import IngestOptions
from perfops.ingest.registry import reader_for
from perfops.ingest.testrun_common import exact_percentiles
from perfops.model.tables import TEST_ENDPOINT_COLUMNS, TEST_RUN_COLUMNS, TEST_SERIES_COLUMNS

CSV_DIR, XML_DIR = "samples/jmeter-jtl-csv", "samples/jmeter-jtl-xml"


def _read(path: Path, catalog, **kw):
    return reader_for(path).read(path, IngestOptions(catalog=catalog, service="checkout-api", **kw))


def _by_endpoint(batch):
    return batch.test_endpoints.set_index("endpoint")


def _check_schema(batch) -> None:
    assert tuple(batch.test_runs.columns) == TEST_RUN_COLUMNS
    assert tuple(batch.test_endpoints.columns) == TEST_ENDPOINT_COLUMNS
    assert tuple(batch.test_series.columns) == TEST_SERIES_COLUMNS
    assert len(batch.test_runs) == 1
    assert (batch.test_endpoints["samples"] > 0).all()


@pytest.mark.conformance
@pytest.mark.parametrize("name", [
    "cbweixin-headerless-12col-java-sampler.jtl", "defra-rcr-datetime-timestamps-transactions.jtl",
    "perfaction-standard-17col.jtl", "tailspin-redirect-subresults.jtl", "taurus-tab-delimited-hostname.jtl",
    "youanchi-chinese-labels.jtl"])
def test_every_csv_sample_loads(shared_dir, small_catalog, name):
    path = shared_dir / CSV_DIR / name
    assert reader_for(path).name == "jmeter"
    _check_schema(_read(path, small_catalog))


@pytest.mark.conformance
def test_known_answers_on_the_corpus(shared_dir, small_catalog):
    head = _read(shared_dir / CSV_DIR / "cbweixin-headerless-12col-java-sampler.jtl", small_catalog)
    assert _by_endpoint(head).loc["dispatcher lib call", ["samples", "errors"]].tolist() == [2046, 61]
    subs = _read(shared_dir / CSV_DIR / "tailspin-redirect-subresults.jtl", small_catalog)
    assert _by_endpoint(subs)["samples"].to_dict() == {"HTTP Request": 100}  # not 300: sub-results dropped
    tabs = _read(shared_dir / CSV_DIR / "taurus-tab-delimited-hostname.jtl", small_catalog)
    assert _by_endpoint(tabs).loc["http://localhost:8080", "latency_max_ms"] == 1008
    defra = _read(shared_dir / CSV_DIR / "defra-rcr-datetime-timestamps-transactions.jtl", small_catalog)
    eps = _by_endpoint(defra)
    assert "Licence Authentication Transaction" not in eps.index  # transaction parents not counted
    assert eps.loc["POST /licence-auth", "errors"] == 192
    assert defra.test_runs.loc[0, "start"] == datetime(2019, 12, 5, 12, 37, 24)
    assert any("last row is incomplete" in n for n in defra.notes)
    chinese = _read(shared_dir / CSV_DIR / "youanchi-chinese-labels.jtl", small_catalog)
    assert _by_endpoint(chinese).loc["健康检查请求", "samples"] == 1000


@pytest.mark.conformance
def test_xml_samples_count_top_level_only(shared_dir, small_catalog):
    tailspin = _read(shared_dir / XML_DIR / "tailspin-httpsample-with-url-child.xml", small_catalog)
    assert _by_endpoint(tailspin)["samples"].to_dict() == {"HTTP Request": 300}
    cut = _read(shared_dir / XML_DIR / "hailstorm-nested-subresults-truncated.jtl", small_catalog)
    _check_schema(cut)
    assert not any(e.startswith("http://") for e in cut.test_endpoints["endpoint"])  # children not requests
    assert any("ends early" in n for n in cut.notes)


def _write(path: Path, rows: list[list[object]], header: list[str] | None, delimiter: str = ",") -> Path:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, delimiter=delimiter)
        if header:
            writer.writerow(header)
        writer.writerows(rows)
    return path


HEADER = jmeter.HEADERLESS_COLUMNS[17]


def _row(ts: int, elapsed: int, label: str, ok: bool = True, message: str = "OK") -> list[object]:
    return [ts, elapsed, label, 200 if ok else 500, message, "TG 1-1", "text", str(ok).lower(), "", 10, 5, 1, 1,
            "http://x/", elapsed, 0, 0]


def test_labels_with_commas_and_quotes_and_exact_percentiles(tmp_path, small_catalog):
    label = 'POST /checkout, "express"'
    elapsed = list(range(1, 101))
    rows = [_row(1_700_000_000_000 + i * 10, e, label, ok=i % 10 != 0) for i, e in enumerate(elapsed)]
    batch = jmeter.read(_write(tmp_path / "a.jtl", rows, HEADER), IngestOptions(catalog=small_catalog, service="checkout-api"))
    ep = _by_endpoint(batch).loc[label]
    assert (ep.samples, ep.errors) == (100, 10)
    assert (ep.latency_p50_ms, ep.latency_p90_ms, ep.latency_p95_ms, ep.latency_p99_ms, ep.latency_max_ms) == (50, 90, 95, 99, 100)
    assert ep.exact_percentiles


def test_headerless_17_columns_and_formatted_timestamps(tmp_path, small_catalog):
    rows = [_row(1_700_000_000_000 + i, 5, "GET /cart") for i in range(3)]
    batch = jmeter.read(_write(tmp_path / "b.jtl", rows, None), IngestOptions(catalog=small_catalog))
    assert batch.test_runs.loc[0, "service"] == "checkout-api"  # inferred from the NFR mix
    formatted = [[f"2026/11/20 10:00:0{i}", 7, "GET /cart", 200, "OK", "t", "text", "true"] for i in range(3)]
    header = jmeter._BASE
    other = jmeter.read(_write(tmp_path / "c.jtl", formatted, header, delimiter=";"),
                        IngestOptions(catalog=small_catalog, service="checkout-api"))
    assert other.test_runs.loc[0, "start"] == datetime(2026, 11, 20, 10, 0, 0)
    assert _by_endpoint(other).loc["GET /cart", "samples"] == 3


@pytest.mark.parametrize(("written", "ms"), [("10:00:01.123", 123), ("10:00:01.5", 500), ("10:00:01.123456", 123)])
def test_formatted_timestamps_with_milliseconds(tmp_path, small_catalog, written, ms):
    # JMeter's common timestamp_format yyyy/MM/dd HH:mm:ss.SSS (Arrow's strptime has no %f)
    rows = [[f"2026/11/20 {written}", 7, "GET /cart", 200, "OK", "t", "text", "true"],
            [f"2026/11/20 10:00:02.{'9' * (len(written) - 9)}", 9, "GET /cart", 200, "OK", "t", "text", "true"]]
    batch = jmeter.read(_write(tmp_path / "ms.jtl", rows, jmeter._BASE),
                        IngestOptions(catalog=small_catalog, service="checkout-api"))
    assert batch.test_runs.loc[0, "start"] == datetime(2026, 11, 20, 10, 0, 1, ms * 1000)
    assert _by_endpoint(batch).loc["GET /cart", "samples"] == 2


def test_run_id_is_stable_and_given_one_wins(tmp_path, small_catalog):
    path = _write(tmp_path / "results.jtl", [_row(1_763_632_800_000, 5, "GET /cart")], HEADER)
    first = jmeter.read(path, IngestOptions(catalog=small_catalog)).test_runs.loc[0, "run_id"]
    assert first == jmeter.read(path, IngestOptions(catalog=small_catalog)).test_runs.loc[0, "run_id"]
    assert first.startswith("results-2025")
    named = jmeter.read(path, IngestOptions(catalog=small_catalog, run_id="nightly-42"))
    assert named.test_runs.loc[0, "run_id"] == "nightly-42"


def test_bad_files_raise_input_errors(tmp_path, small_catalog):
    junk = tmp_path / "junk.jtl"
    junk.write_text("timeStamp,label\n1,2\n")
    with pytest.raises(InputError, match="elapsed"):
        jmeter.read(junk, IngestOptions(catalog=small_catalog))
    unknown = _write(tmp_path / "u.jtl", [_row(1_700_000_000_000, 5, "do stuff")], HEADER)
    from perfops.workspace import parse_catalog

    two = parse_catalog("domain: D\nsquads: [{name: s}]\nservices: [{name: a, squad: s}, {name: b, squad: s}]\n")
    with pytest.raises(InputError, match="--service"):
        jmeter.read(unknown, IngestOptions(catalog=two))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(samples=st.lists(st.tuples(st.sampled_from(["GET /a", "POST /b,c", 'GET "q"']),
                                  st.integers(0, 5000), st.booleans()), min_size=1, max_size=200))
def test_property_counts_and_percentiles_match_numpy(tmp_path_factory, small_catalog, samples):
    path = tmp_path_factory.mktemp("p") / "p.jtl"
    rows = [_row(1_700_000_000_000 + 7 * i, e, lbl, ok) for i, (lbl, e, ok) in enumerate(samples)]
    batch = jmeter.read(_write(path, rows, HEADER), IngestOptions(catalog=small_catalog, service="checkout-api"))
    eps = _by_endpoint(batch)
    for label in {s[0] for s in samples}:
        mine = np.array([e for lbl, e, _ in samples if lbl == label])
        expected = exact_percentiles(mine)
        assert eps.loc[label, "samples"] == mine.size
        assert eps.loc[label, "errors"] == sum(1 for lbl, _, ok in samples if lbl == label and not ok)
        assert eps.loc[label, "latency_p95_ms"] == expected["latency_p95_ms"]
        assert eps.loc[label, "latency_p95_ms"] == np.percentile(mine, 95, method="inverted_cdf")
    whole = batch.test_series[batch.test_series["endpoint"] == ""]
    assert whole["requests"].sum() == len(samples)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(samples=st.lists(st.tuples(st.sampled_from(["Home & <page>", "GET /cart"]), st.integers(0, 9000),
                                  st.booleans(), st.integers(0, 3)), min_size=1, max_size=60),
       cut=st.booleans())
def test_property_xml_top_level_only(tmp_path_factory, small_catalog, samples, cut):
    from xml.sax.saxutils import quoteattr

    parts = ['<?xml version="1.0" encoding="UTF-8"?>', '<testResults version="1.2">']
    for i, (label, elapsed, ok, children) in enumerate(samples):
        attrs = f't="{elapsed}" ts="{1_700_000_000_000 + i}" s="{str(ok).lower()}" lb={quoteattr(label)} na="3"'
        kids = "".join(f'<httpSample t="1" ts="1700000000000" s="true" lb="http://x/{k}"/>' for k in range(children))
        parts.append(f"<httpSample {attrs}>{kids}<java.net.URL>http://x/</java.net.URL></httpSample>")
    if not cut:
        parts.append("</testResults>")
    path = tmp_path_factory.mktemp("x") / "r.jtl"
    path.write_text("\n".join(parts) + ("\n" if not cut else ""))
    batch = jmeter.read(path, IngestOptions(catalog=small_catalog, service="checkout-api"))
    eps = _by_endpoint(batch)
    assert eps["samples"].sum() == len(samples)  # children never counted
    for label in {s[0] for s in samples}:
        mine = [s for s in samples if s[0] == label]
        assert eps.loc[label, "errors"] == sum(1 for s in mine if not s[2])
        assert eps.loc[label, "latency_max_ms"] == max(s[1] for s in mine)
    assert any("ends early" in n for n in batch.notes) == cut


def test_skip_bad_rows_and_gzip(tmp_path, small_catalog):
    import gzip

    rows = [_row(1_700_000_000_000 + i, 5, "GET /cart") for i in range(5)]
    path = _write(tmp_path / "bad.jtl", rows, HEADER)
    text = path.read_text().splitlines()
    text.insert(3, "1700000000999,5,GET /cart,200")  # a short row in the middle
    path.write_text("\n".join(text) + "\n")
    with pytest.raises(InputError, match="skip-bad-rows"):
        jmeter.read(path, IngestOptions(catalog=small_catalog, service="checkout-api"))
    batch = jmeter.read(path, IngestOptions(catalog=small_catalog, service="checkout-api", skip_bad_rows=True))
    assert _by_endpoint(batch).loc["GET /cart", "samples"] == 5
    assert any("malformed rows skipped" in n for n in batch.notes)
    zipped = tmp_path / "good.jtl.gz"
    zipped.write_bytes(gzip.compress(_write(tmp_path / "good.jtl", rows, HEADER).read_bytes()))
    assert reader_for(zipped).name == "jmeter"
    assert _by_endpoint(jmeter.read(zipped, IngestOptions(catalog=small_catalog))).loc["GET /cart", "samples"] == 5


def test_slicing_never_changes_the_result(tmp_path, small_catalog, monkeypatch):
    """Slices cut at line ends, lines longer than a slice, a carried-over tail: same tables."""
    long_label = "GET /" + "x" * 300
    rows = [_row(1_700_000_000_000 + 37 * i, (i * 7919) % 5000, long_label if i % 3 else "GET /a", ok=i % 11 != 0)
            for i in range(2000)]
    path = _write(tmp_path / "s.jtl", rows, HEADER)
    whole = jmeter.read(path, IngestOptions(catalog=small_catalog, service="checkout-api"))
    monkeypatch.setattr(jmeter, "CHUNK_BYTES", 97)
    sliced = jmeter.read(path, IngestOptions(catalog=small_catalog, service="checkout-api"))
    assert sliced.test_endpoints.equals(whole.test_endpoints)
    assert sliced.test_series.equals(whole.test_series)
    assert whole.test_endpoints["samples"].sum() == 2000
