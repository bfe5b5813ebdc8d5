"""Never a silent wrong number (load-test readers): a file with a line the reader cannot fully
interpret is refused naming that line, or loads with a warning that counts what was left out;
otherwise the line was read as a sample and every sample is counted.

Property (hypothesis): N good sample lines in each format, one of them damaged as files are
damaged in practice (cut short, a byte changed, a field emptied or replaced by text, a field
dropped). Then exactly one of:
- InputError whose line is the damaged line;
- loaded, with DataWarnings whose counts add up to the samples missing (N - loaded);
- loaded with all N samples (the damage left a readable sample).
"""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perfops.errors import InputError
from perfops.ingest.base import IngestOptions
from perfops.ingest.registry import readers

START_MS = 1_763_020_800_000


def _jtl(latencies: list[int]) -> tuple[str, list[str]]:
    head = "timeStamp,elapsed,label,responseCode,responseMessage,threadName,dataType,success,bytes"
    return head, [f"{START_MS + 100 * i},{ms},GET /cart,200,OK,t 1-1,text,true,120" for i, ms in enumerate(latencies)]


def _k6(latencies: list[int]) -> tuple[str, list[str]]:
    head = json.dumps({"type": "Metric", "data": {"name": "http_req_duration", "type": "trend"},
                       "metric": "http_req_duration"})
    lines = []
    for i, ms in enumerate(latencies):
        t = START_MS + 100 * i
        stamp = f"2025-11-13T08:00:{(t // 1000) % 60:02d}.{t % 1000:03d}Z"
        lines.append(json.dumps({"metric": "http_req_duration", "type": "Point", "data": {
            "time": stamp, "value": float(ms), "tags": {"method": "GET", "name": "/cart", "status": "200"}}}))
    return head, lines


def _gatling(latencies: list[int]) -> tuple[str, list[str]]:
    head = "RUN\tcom.example.Cart\tcart\t1763020800000\t \t3.9.5\nUSER\tCart\tSTART\t1763020800000"
    return head, [f"REQUEST\t\tGET /cart\t{START_MS + 100 * i}\t{START_MS + 100 * i + ms}\tOK\t " for i, ms in
                  enumerate(latencies)]


def _locust(latencies: list[int]) -> tuple[str, list[str]]:
    head = ("Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,"
            "Max Response Time,Average Content Size,Requests/s,Failures/s,50%,95%,99%,100%")
    return head, [f"GET,/page-{chr(97 + i)},{ms},0,{ms},{ms}.5,1,{2 * ms},100,1.5,0,{ms},{2 * ms},{2 * ms},{2 * ms}"
                  for i, ms in enumerate(latencies)]


FORMATS = {"jmeter": (_jtl, "r.jtl"), "k6": (_k6, "r.ndjson"), "gatling": (_gatling, "simulation.log"),
           "locust": (_locust, "r_stats.csv")}


@st.composite
def damaged(draw, line: str) -> str:
    kind = draw(st.sampled_from(["cut", "byte", "empty_field", "text_field", "drop_field"]))
    if kind == "cut":
        return line[: draw(st.integers(1, max(1, len(line) - 1)))]
    if kind == "byte":
        at = draw(st.integers(0, len(line) - 1))
        return line[:at] + draw(st.sampled_from(list("x#\"{,\t;é0"))) + line[at + 1:]
    sep = "\t" if "\t" in line else ","
    fields = line.split(sep)
    at = draw(st.integers(0, len(fields) - 1))
    if kind == "drop_field":
        return sep.join(fields[:at] + fields[at + 1:])
    fields[at] = "" if kind == "empty_field" else draw(st.sampled_from(["abc", "NaN", "-", "1e999", "null"]))
    return sep.join(fields)


def _samples_of(batch, name: str) -> int:
    eps = batch.test_endpoints
    return int(eps["samples"].sum()) if name != "locust" else len(eps)


def _warned(batch) -> int:
    total = 0
    for warning in batch.warnings:
        counts = re.findall(r"(\d[\d,]*) (?:[A-Za-z]+ )?(?:rows?|lines?|samples?|records?|points?)\b", warning)
        assert counts, f"a warning without a count: {warning}"
        total += sum(int(c.replace(",", "")) for c in counts)
    return total


def _another_metric(line: str) -> bool:
    try:
        point = json.loads(line)
    except ValueError:
        return False
    return (isinstance(point, dict) and point.get("type") == "Point" and isinstance(point.get("metric"), str)
            and point["metric"] != "http_req_duration" and isinstance(point.get("data"), dict))


@pytest.mark.parametrize("name", sorted(FORMATS))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), latencies=st.lists(st.integers(5, 900), min_size=3, max_size=12))
def test_a_damaged_line_is_refused_or_counted(name, data, latencies, tmp_path, small_catalog):
    make, file_name = FORMATS[name]
    head, lines = make(latencies)
    index = data.draw(st.integers(0, len(lines) - 1))
    lines[index] = data.draw(damaged(lines[index]))
    path = tmp_path / file_name
    last = index == len(lines) - 1
    path.write_text("\n".join([head, *lines]) + ("" if last else "\n"), encoding="utf-8")
    damaged_line = head.count("\n") + 2 + index  # 1-based
    options = IngestOptions(small_catalog, service="checkout-api")
    try:
        batch = readers()[name].read(path, options)
    except InputError as exc:
        if "expected one load-test run per file" in str(exc):
            # a time moved by years: which of the two ends is wrong cannot be told, so the refusal
            # names the line where the span broke and both times
            assert exc.line is not None and re.search(r"\d{4}-\d\d-\d\d .* \d{4}-\d\d-\d\d", str(exc))
            return
        assert exc.line == damaged_line, (exc, damaged_line, lines[index])
        return
    loaded = _samples_of(batch, name)
    n = len(latencies) if name != "locust" else len(lines)
    if name == "k6" and _another_metric(lines[index]):
        n -= 1  # the damage named another (custom) metric: a valid line that is no request
    assert loaded == n or loaded + _warned(batch) == n, (lines[index], loaded, batch.warnings, batch.notes)


def test_a_locust_percentile_that_is_not_a_number_is_refused_naming_it(tmp_path, small_catalog):
    """It used to become 'no value' (NaN) without a word."""
    head, lines = _locust([10, 20, 30])
    lines[1] = lines[1].replace(",40,40,40", ",4O,40,40")  # a letter O for a zero: 95% unreadable
    path = tmp_path / "r_stats.csv"
    path.write_text("\n".join([head, *lines]) + "\n")
    with pytest.raises(InputError) as refused:
        readers()["locust"].read(path, IngestOptions(small_catalog, service="checkout-api"))
    assert (refused.value.line, refused.value.field) == (3, "95%") and "'4O' is not a number" in str(refused.value)
