"""Gatling simulation.log reader: text layouts 2.0-3.11, the binary 3.12+ refusal, properties."""

from __future__ import annotations

import struct
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perfops.errors import InputError
from perfops.ingest import gatling
from perfops.ingest.base import IngestOptions
from perfops.ingest.registry import reader_for

DIR = "samples/gatling-simulation-log"
TEXT = ["francisco9403-gatling-3.9.5-assertions-simulation.log",
        "galaxio-parsec-gatling-3.11.5-ko-groups-errors-simulation.log",
        "nuxeo-gatling-2.0-legacy-layout-simulation.log", "nuxeo-gatling-2.3-simulation.log",
        "nuxeo-gatling-3.2.1-simulation-truncated.log", "taurus-gatling-3.3.1-simulation.log"]


def _read(path: Path, catalog):
    return reader_for(path).read(path, IngestOptions(catalog=catalog, service="checkout-api"))


@pytest.mark.conformance
@pytest.mark.parametrize("name", TEXT)
def test_every_text_log_loads(shared_dir, small_catalog, name):
    path = shared_dir / DIR / name
    assert reader_for(path).name == "gatling"
    batch = _read(path, small_catalog)
    assert len(batch.test_runs) == 1 and (batch.test_endpoints["samples"] > 0).all()
    assert batch.test_endpoints["exact_percentiles"].all()


@pytest.mark.conformance
def test_known_answers_and_binary_refusal(shared_dir, small_catalog):
    ko = _read(shared_dir / DIR / TEXT[1], small_catalog).test_endpoints.set_index("endpoint")
    assert ko.loc["GET /fail", ["samples", "errors"]].tolist() == [6, 6]
    assert ko.loc["GET /ok", "errors"] == 0
    old = _read(shared_dir / DIR / TEXT[3], small_catalog).test_endpoints.set_index("endpoint")
    assert old.loc["Create File", "samples"] == 1000


BINARY = "taurus-gatling-3.14.3-BINARY-simulation.log"


@pytest.mark.conformance
def test_binary_3_14_log_is_read(shared_dir, small_catalog):
    path = shared_dir / DIR / BINARY
    assert reader_for(path).name == "gatling"
    batch = _read(path, small_catalog)
    eps = batch.test_endpoints.set_index("endpoint")
    assert eps["samples"].sum() == 39 and len(eps) == 9 and eps["errors"].sum() == 0
    assert eps.loc["request_0", "samples"] == 3 and eps.loc["request_0 Redirect 1", "samples"] == 3
    assert batch.test_runs.loc[0, "start"] == datetime(2025, 8, 25, 6, 35, 49, 149000)
    assert "Gatling 3.14.3" in batch.test_runs.loc[0, "notes"] and not batch.notes


@pytest.mark.conformance
def test_binary_of_an_unknown_version_or_cut_short(shared_dir, small_catalog, tmp_path):
    data = (shared_dir / DIR / BINARY).read_bytes()
    future = tmp_path / "simulation.log"
    future.write_bytes(data.replace(b"3.14.3", b"3.99.0", 1))
    with pytest.raises(InputError) as caught:
        gatling.read(future, IngestOptions(catalog=small_catalog, service="checkout-api"))
    assert str(caught.value).startswith(f"{future}: this is a binary Gatling simulation.log (Gatling 3.12 or later, "
                                        "here 3.99.0); perfops reads the text simulation.log of Gatling 2.0-3.11 "
                                        "and the binary one of 3.14 only")
    assert caught.value.hint and "3.11" in caught.value.hint
    cut = tmp_path / "cut.log"
    cut.write_bytes(data[:700])
    batch = gatling.read(cut, IngestOptions(catalog=small_catalog, service="checkout-api"))
    assert 0 < batch.test_endpoints["samples"].sum() < 39 and any("ends inside a record" in n for n in batch.notes)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(reqs=st.lists(st.tuples(st.sampled_from(["GET /a", "get b"]), st.integers(0, 60_000), st.booleans()),
                     min_size=1, max_size=100),
       layout=st.sampled_from(["3.4", "3.0", "2.3", "2.0"]))
def test_property_every_layout_counts(tmp_path_factory, small_catalog, reqs, layout):
    path = tmp_path_factory.mktemp("g") / "simulation.log"
    lines = ["RUN\tSim\tsim\t1700000000000\t \t3.9.5"]
    for i, (name, elapsed, ok) in enumerate(reqs):
        start, end, status = 1_700_000_000_000 + i, 1_700_000_000_000 + i + elapsed, "OK" if ok else "KO"
        lines.append({
            "3.4": f"REQUEST\t\t{name}\t{start}\t{end}\t{status}\t ",
            "3.0": f"REQUEST\t{i}\t\t{name}\t{start}\t{end}\t{status}\t ",
            "2.3": f"REQUEST\tscn\t{i}\t\t{name}\t{start}\t{end}\t{status}",
            "2.0": f"scn\t{i}\tREQUEST\t\t{name}\t{start}\t{start}\t{end}\t{end}\t{status}\t ",
        }[layout])
    path.write_text("\n".join(lines) + "\n")
    eps = gatling.read(path, IngestOptions(catalog=small_catalog, service="checkout-api")).test_endpoints
    eps = eps.set_index("endpoint")
    for name in {r[0] for r in reqs}:
        mine = [r for r in reqs if r[0] == name]
        assert eps.loc[name, "samples"] == len(mine)
        assert eps.loc[name, "errors"] == sum(1 for r in mine if not r[2])
        assert eps.loc[name, "latency_max_ms"] == max(r[1] for r in mine)


def _java_string(text: str) -> bytes:
    raw = text.encode("latin-1", errors="strict") if all(ord(c) < 256 for c in text) else text.encode("utf-16-le")
    coder = b"\x00" if all(ord(c) < 256 for c in text) else b"\x01"
    return struct.pack(">i", len(raw)) + (raw + coder if raw else b"")


def _binary_log(reqs: list[tuple[str, int, int, bool]], start: int = 1_755_000_000_000) -> bytes:
    """A Gatling 3.14 binary simulation.log (the layout Gatling's LogFileReader reads)."""
    out = bytearray(b"\x00" + _java_string("3.14.0") + _java_string("Sim") + struct.pack(">q", start))
    out += _java_string("") + struct.pack(">i", 1) + _java_string("scn") + struct.pack(">i", 0)
    out += b"\x02" + struct.pack(">i", 0) + b"\x01" + struct.pack(">i", 0)  # a user starts
    cache: dict[str, int] = {}
    for name, begin, elapsed, ok in reqs:
        out += b"\x01" + struct.pack(">i", 0)  # no groups
        if name in cache:
            out += struct.pack(">i", -cache[name])
        else:
            cache[name] = len(cache) + 1
            out += struct.pack(">i", cache[name]) + _java_string(name)
        out += struct.pack(">ii", begin, begin + elapsed) + (b"\x01" if ok else b"\x00")
        out += struct.pack(">i", 0) + _java_string("" if ok else "boom")  # message, cached as index 0
    return bytes(out)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(reqs=st.lists(st.tuples(st.sampled_from(["GET /a", "POST /b", "café ☕"]), st.integers(0, 10**6),
                               st.integers(0, 60_000), st.booleans()), min_size=1, max_size=80))
def test_property_binary_round_trip(tmp_path_factory, small_catalog, reqs):
    path = tmp_path_factory.mktemp("b") / "simulation.log"
    path.write_bytes(_binary_log(reqs))
    eps = gatling.read(path, IngestOptions(catalog=small_catalog, service="checkout-api")).test_endpoints
    eps = eps.set_index("endpoint")
    for name in {r[0] for r in reqs}:
        mine = [r for r in reqs if r[0] == name]
        assert eps.loc[name, "samples"] == len(mine)
        assert eps.loc[name, "errors"] == sum(1 for r in mine if not r[3])
        assert eps.loc[name, "latency_max_ms"] == max(r[2] for r in mine)
