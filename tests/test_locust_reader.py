"""Locust CSV reader: the shared corpus (0.x, 1.x GBK, 2.x) and properties."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perfops.errors import InputError
from perfops.ingest import locust
from perfops.ingest.base import IngestOptions
from perfops.ingest.registry import reader_for

DIR = "samples/locust-csv"


def _read(path: Path, catalog):
    return reader_for(path).read(path, IngestOptions(catalog=catalog, service="checkout-api"))


@pytest.mark.conformance
@pytest.mark.parametrize("name", [
    "locustor-v0.x-2018_distribution.csv", "locustor-v0.x-2018_requests.csv", "veroliut-v2.x_exceptions.csv",
    "veroliut-v2.x_failures.csv", "veroliut-v2.x_stats.csv", "veroliut-v2.x_stats_history.csv",
    "zhajiangmian-v1.x-gbk-label_failures.csv", "zhajiangmian-v1.x-gbk-label_stats.csv",
    "zhajiangmian-v1.x-gbk-label_stats_history.csv"])
def test_every_sample_loads_as_its_run(shared_dir, small_catalog, name):
    path = shared_dir / DIR / name
    assert reader_for(path).name == "locust"
    batch = _read(path, small_catalog)
    assert len(batch.test_runs) == 1 and len(batch.test_endpoints) > 0
    assert not batch.test_endpoints["exact_percentiles"].any()


@pytest.mark.conformance
def test_known_answers(shared_dir, small_catalog):
    v2 = _read(shared_dir / DIR / "veroliut-v2.x_stats.csv", small_catalog)
    eps = v2.test_endpoints.set_index("endpoint")
    assert eps.loc["POST /carts", "samples"] == 15375
    assert eps.loc["GET /products/*", ["errors", "latency_p95_ms"]].tolist() == [1, 47000]
    assert "Aggregated" not in " ".join(eps.index)
    assert v2.test_runs.loc[0, "start"] is not None and len(v2.test_series) > 0
    # every file of the prefix is the same run
    assert _read(shared_dir / DIR / "veroliut-v2.x_failures.csv", small_catalog).test_runs.loc[0, "run_id"] == \
        v2.test_runs.loc[0, "run_id"]
    gbk = _read(shared_dir / DIR / "zhajiangmian-v1.x-gbk-label_stats.csv", small_catalog)
    assert list(gbk.test_endpoints["endpoint"]) == ["GET get接口"]
    assert any("gb18030" in n for n in gbk.notes)
    old = _read(shared_dir / DIR / "locustor-v0.x-2018_requests.csv", small_catalog)
    row = old.test_endpoints.set_index("endpoint").loc["GET /bundle/bundle/"]
    assert (row.samples, row.latency_p95_ms, row.latency_max_ms) == (21, 9400, 12221)


def test_failures_file_alone_is_refused(tmp_path, small_catalog):
    lone = tmp_path / "x_failures.csv"
    lone.write_text("Method,Name,Error,Occurrences\nGET,/a,boom,1\n")
    with pytest.raises(InputError, match="_stats.csv"):
        locust.read(lone, IngestOptions(catalog=small_catalog))


NEW_HEADER = ("Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,"
              "Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,"
              "99.99%,100%")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(st.sampled_from(["GET", "POST"]), st.from_regex(r"/[a-z]{1,8}", fullmatch=True),
                               st.integers(0, 10**6), st.integers(0, 1000), st.integers(1, 10**5)),
                     min_size=1, max_size=10, unique_by=lambda r: (r[0], r[1])),
       encoding=st.sampled_from(["utf-8", "gbk"]), crlf=st.booleans())
def test_property_stats_round_trip(tmp_path_factory, small_catalog, rows, encoding, crlf):
    path = tmp_path_factory.mktemp("l") / "run_stats.csv"
    lines = [NEW_HEADER] + [f"{m},{n},{c},{f},{p},{p},1,{p},0,1.5,0,{p},{p},{p},{p},{p},{p},{p},{p},{p},{p},{p}"
                            for m, n, c, f, p in rows] + [",Aggregated,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0"]
    path.write_bytes(("\r\n" if crlf else "\n").join(lines).encode(encoding))
    batch = locust.read(path, IngestOptions(catalog=small_catalog, service="checkout-api"))
    eps = batch.test_endpoints.set_index("endpoint")
    assert len(eps) == len(rows)
    for m, n, c, f, p in rows:
        assert eps.loc[f"{m} {n}", ["samples", "errors", "latency_p95_ms"]].tolist() == [c, f, p]
