"""Never a silent wrong number, for every reader not covered elsewhere (issue 14, "Done means").

Access logs (test_access_log_never_silent.py), the load-test readers
(test_test_results_accounting.py) and FOCUS (test_focus.py) have their own property tests. Here:
telemetry CSV (long and wide) and Parquet, events CSV, otlp-json, prometheus-json, prometheus
text exposition, cloudwatch-json and opencost.

Property (hypothesis): each reader's valid seed (fuzz/seeds/<format>/) with one line, record or
field damaged as files are damaged in practice (text or NaN/Inf where a number belongs, a negative
count, a field dropped or renamed, a wrong JSON type, a line cut short, a header repeated, an extra
cell), ingested through the use case. Then exactly one of:
- InputError naming the file and the line (text formats) or the line/field (JSON, Parquet);
- loaded, and every stored number is the undamaged seed's number for the same row; when rows were
  left out, a DataWarning or a listed skipped row says so.
The undamaged seed's numbers are computed independently (csv module) for the CSV formats; for the
others they are the undamaged seed's load, whose numbers the readers' own conformance tests pin.
"""

from __future__ import annotations

import csv
import io
import json
import math
import tempfile
from datetime import datetime
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from conftest import SMALL_CATALOG
from perfops.errors import InputError
from perfops.store import open_store
from perfops.usecases.ingest import ingest_paths
from perfops.workspace import Workspace

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "fuzz" / "seeds"
NOW = datetime(2026, 1, 6, 12)
SETTINGS = settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


# --- running one file through the use case ------------------------------------------------------

def _stored(workspace: Path) -> tuple[dict, dict]:
    with open_store(Workspace(workspace).store_path) as store:
        tel = store.telemetry.load()
        events = store.telemetry.events()
    numbers = {(pd.Timestamp(r.timestamp), r.service, r.endpoint, r.consumer, r.metric): float(r.value)
               for r in tel.itertuples()}
    happened = {(pd.Timestamp(r.timestamp), r.service, r.type): (r.version or "", r.description or "")
                for r in events.itertuples()}
    return numbers, happened


def _ingest(fmt: str, name: str, data: bytes) -> tuple[Path, object, tuple[dict, dict]]:
    """(path, FileResult or InputError, stored rows) of one file in a fresh workspace."""
    workspace = Path(tempfile.mkdtemp(prefix="never-silent-"))
    (workspace / "perfops.yaml").write_text(SMALL_CATALOG)
    path = workspace / name
    path.write_bytes(data)
    service = "checkout-api" if fmt == "cloudwatch-json" else None
    try:
        [outcome] = ingest_paths(Workspace(workspace), [path], format_name=fmt, service=service, now=NOW)
    except InputError as err:
        outcome = err
    return path, outcome, _stored(workspace)


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def assert_never_silent(fmt: str, name: str, data: bytes, expected: tuple[dict, dict], line: int | None) -> None:
    """The property. `line`: the damaged line of a text format (None: a JSON/Parquet record)."""
    path, outcome, (numbers, happened) = _ingest(fmt, name, data)
    if isinstance(outcome, InputError):
        assert outcome.path == str(path), outcome
        if line is not None and outcome.line is None and fmt == "prometheus-text":
            assert outcome.field, f"refusal names neither a line nor a series: {outcome}"  # see the report: series checks
        elif line is not None:
            assert outcome.line == line, f"refusal names line {outcome.line}, damaged line {line}: {outcome}"
        else:
            assert outcome.line is not None or outcome.field is not None, f"refusal names no record: {outcome}"
        assert numbers == {} and happened == {}, "a refused file left rows in the store"
        return
    want_numbers, want_events = expected
    warned = bool(outcome.warnings or outcome.skipped)
    invented = [k for k in numbers if k not in want_numbers]
    assert not invented, f"stored rows the seed does not hold: {invented[:5]}"
    wrong = {k: (v, want_numbers[k]) for k, v in numbers.items() if not _same(v, want_numbers[k])}
    # one damaged record feeds at most its own row and, for a counter, the interval after it; a
    # row it feeds may then be lower or missing, and only with a warning saying data was left out
    assert not wrong or (warned and len(wrong) <= 2), f"stored numbers the seed does not hold: {list(wrong.items())[:5]}"
    wrong_events = {k: v for k, v in happened.items() if want_events.get(k) != v}
    assert not wrong_events, f"stored events the seed does not hold: {wrong_events}"
    lost = (set(want_numbers) - set(numbers)) | (set(want_events) - set(happened))
    if lost:
        assert warned, (
            f"{len(lost)} row(s) left out without a warning (notes: {outcome.notes}): {sorted(lost)[:3]}")


# --- CSV formats: the expected rows computed with the csv module ----------------------------------

def _when(text: str) -> pd.Timestamp:
    stamp = pd.Timestamp(int(text), unit="s") if text.isdigit() else pd.Timestamp(text)
    return stamp.tz_convert(None) if stamp.tzinfo else stamp


def _long_rows(text: str) -> dict:
    return {(_when(r["timestamp"]), r["service"], r["endpoint"], r["consumer"], r["metric"]): float(r["value"])
            for r in csv.DictReader(io.StringIO(text))}


def _wide_rows(text: str) -> dict:
    """An empty cell of the wide form is "not measured" (docs/formats/telemetry.md): no row."""
    out = {}
    for r in csv.DictReader(io.StringIO(text)):
        for metric in ("requests", "errors", "latency_p95_ms", "cpu_pct"):
            if r[metric] == "":
                continue
            out[(_when(r["timestamp"]), r["service"], r["endpoint"], "", metric)] = float(r[metric])
    return out


def _event_rows(text: str) -> dict:
    return {(_when(r["timestamp"]), r["service"], r["type"]): (r["version"], r["description"])
            for r in csv.DictReader(io.StringIO(text))}


CSV_DAMAGES = ["word", "nan", "inf", "negative", "empty", "drop_cell", "extra_cell", "cut", "header", "unit"]


def _damage_csv(text: str, row: int, cell: int, kind: str, cut: int, cells_hit: tuple[int, ...]) -> tuple[str, int]:
    """The seed with data row `row` (0-based) damaged in cell `cells_hit[cell]` (the cells that hold
    a number, a time or a type: a changed name is what the file says); returns (text, its line)."""
    lines = text.splitlines()
    header, data = lines[0], lines[1:]
    row %= len(data)
    cells = next(csv.reader([data[row]]))
    cell = cells_hit[cell % len(cells_hit)]
    if kind == "word":
        cells[cell] = "n/a"
    elif kind == "nan":
        cells[cell] = "NaN"
    elif kind == "inf":
        cells[cell] = "-inf" if cut % 2 else "Infinity"
    elif kind == "negative":
        cells[cell] = "-" + cells[cell] if cells[cell] else "-1"
    elif kind == "empty":
        cells[cell] = ""
    elif kind == "drop_cell":
        del cells[cell]
    elif kind == "extra_cell":
        cells.insert(cell, "7")
    elif kind == "unit":
        cells[cell] = (cells[cell] or "1") + " ms"
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(cells)
    damaged = buffer.getvalue()
    if kind == "cut":
        # cut before the last cell: a number cut short mid-file is another valid number
        damaged = data[row][: cut % (data[row].rfind(",") + 1 or 1)]
    elif kind == "header":
        damaged = header
    data[row] = damaged
    return "\n".join([header, *data]) + "\n", row + 2


CSV_SEEDS = {  # format, seed, its rows computed here, file name, the cells damaged
    "telemetry-long": ("telemetry", SEEDS / "telemetry" / "long.csv", _long_rows, "long.csv", (0, 4, 5)),
    "telemetry-wide": ("telemetry", SEEDS / "telemetry" / "wide.csv", _wide_rows, "wide.csv", (0, 3, 4, 5, 6)),
    "events": ("events", SEEDS / "events" / "events.csv", _event_rows, "events.csv", (0, 2)),
}


def _csv_expected(key: str) -> tuple[dict, dict]:
    fmt, seed, rows, _, _ = CSV_SEEDS[key]
    text = seed.read_text()
    return (rows(text), {}) if fmt != "events" else ({}, rows(text))


def test_the_csv_seeds_load_as_computed_independently():
    """The control: the undamaged seeds load with exactly the numbers the csv module reads."""
    for key, (fmt, seed, _, name, _) in CSV_SEEDS.items():
        _, outcome, stored = _ingest(fmt, name, seed.read_bytes())
        assert not isinstance(outcome, InputError), outcome
        assert stored == _csv_expected(key), key


@SETTINGS
@given(key=st.sampled_from(sorted(CSV_SEEDS)), row=st.integers(0, 50), cell=st.integers(0, 10),
       kind=st.sampled_from(CSV_DAMAGES), cut=st.integers(1, 200))
def test_a_damaged_csv_row_is_refused_by_line_or_counted(key, row, cell, kind, cut):
    fmt, seed, _, name, cells_hit = CSV_SEEDS[key]
    text, line = _damage_csv(seed.read_text(), row, cell, kind, cut, cells_hit)
    expected = _csv_expected(key)
    if key == "telemetry-wide" and kind == "empty" and cell % len(cells_hit):
        expected = (_wide_rows(text), {})  # a metric cell emptied: documented as not measured
    assert_never_silent(fmt, name, text.encode(), expected, line)


# --- Parquet telemetry -----------------------------------------------------------------------------

PARQUET_DAMAGES = ["nan", "inf", "negative", "null", "text"]


@SETTINGS
@given(form=st.sampled_from(["long", "wide"]), row=st.integers(0, 50), column=st.integers(0, 3),
       kind=st.sampled_from(PARQUET_DAMAGES))
def test_a_damaged_parquet_value_is_refused_by_row_or_counted(form, row, column, kind):
    text = (SEEDS / "telemetry" / f"{form}.csv").read_text()
    frame = pd.read_csv(io.StringIO(text), keep_default_na=False, dtype=str)
    frame["timestamp"] = [_when(t) for t in frame["timestamp"]]
    numeric = ["value"] if form == "long" else ["requests", "errors", "latency_p95_ms", "cpu_pct"]
    for name in numeric:
        frame[name] = frame[name].astype(float)
    row %= len(frame)
    name = numeric[column % len(numeric)]
    damaged = frame.copy()
    if kind == "text":
        damaged[name] = damaged[name].astype(object)
        damaged.loc[row, name] = "n/a"
        damaged[name] = damaged[name].astype(str)
    else:
        damaged.loc[row, name] = {"nan": math.nan, "inf": math.inf, "null": None,
                                  "negative": -abs(damaged.loc[row, name]) - 1}[kind]
    import pyarrow as pa
    import pyarrow.parquet as pq

    buffer = io.BytesIO()  # pyarrow from numpy keeps NaN a NaN (pandas' to_parquet would write a null)
    pq.write_table(pa.table({c: pa.array(damaged[c].to_numpy()) for c in damaged.columns}), buffer)
    expected = _long_rows(text) if form == "long" else _wide_rows(text)
    if form == "wide" and kind == "null":  # a null cell of the wide form is "not measured"
        expected = {k: v for k, v in expected.items()
                    if not (k[0] == frame.loc[row, "timestamp"] and k[4] == name)}
    assert_never_silent("telemetry", f"{form}.parquet", buffer.getvalue(), (expected, {}), None)


# --- JSON formats: one leaf or key of the seed document damaged ------------------------------------

JSON_SEEDS = {
    "otlp-json": SEEDS / "otlp-json" / "otlp.json",
    "prometheus-json": SEEDS / "prometheus-json" / "query_range.json",
    "cloudwatch-json": SEEDS / "cloudwatch-json" / "cloudwatch.json",
    "opencost": SEEDS / "opencost" / "allocation.json",
}
# keys a valid document may leave out (protobuf's optional and repeated fields, CloudWatch's
# informational ones): dropping one gives another valid document, not a damage
OPTIONAL_KEYS = {"attributes", "scopeMetrics", "metrics", "dataPoints", "resource", "scope", "unit", "isMonotonic",
                 "aggregationTemporality", "key", "value", "stringValue", "Messages", "StatusCode", "Id", "Label",
                 "properties", "namespace", "endpoint", "status"}
JSON_DAMAGES = ["text", "null", "nan", "inf", "negative", "drop", "rename", "wrong_type"]


def _places(node, trail=()):
    """Every (container path, key) of the document: dict keys and list items."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield trail, key
            yield from _places(value, (*trail, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield trail, index
            yield from _places(value, (*trail, index))


def _damage_json(document, place: int, kind: str):
    places = list(_places(document))
    trail, key = places[place % len(places)]
    parent = document
    for step in trail:
        parent = parent[step]
    value = parent[key]
    if kind == "drop" and isinstance(parent, list):
        return None  # a whole record taken out leaves a valid, shorter file: nothing to interpret
    if kind in ("drop", "rename") and key in OPTIONAL_KEYS:
        return None
    if kind == "drop":
        del parent[key]
    elif kind == "rename" and isinstance(parent, dict):
        parent[f"{key}X"] = parent.pop(key)
    elif kind in ("text", "nan", "inf") and isinstance(value, str) and _number(value) is None:
        return None  # another name in a name's place is what the file says, not a damage
    elif kind == "text":
        parent[key] = "n/a"
    elif kind == "null":
        parent[key] = None
    elif kind == "nan":
        parent[key] = math.nan if not isinstance(value, str) else "NaN"
    elif kind == "inf":
        parent[key] = math.inf if not isinstance(value, str) else "+Inf"
    elif kind == "negative" and isinstance(value, (int, float)) and not isinstance(value, bool):
        parent[key] = -abs(value) - 1
    elif kind == "negative" and isinstance(value, str) and _number(value) is not None:
        parent[key] = str(-abs(_number(value)) - 1)
    elif kind == "wrong_type":
        parent[key] = [value] if not isinstance(value, (list, dict)) else 5
    return document


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


_JSON_BASELINES: dict[str, tuple[dict, dict]] = {}


def _json_expected(fmt: str) -> tuple[dict, dict]:
    if fmt not in _JSON_BASELINES:
        seed = JSON_SEEDS[fmt]
        _, outcome, stored = _ingest(fmt, seed.name, seed.read_bytes())
        assert not isinstance(outcome, InputError), outcome
        assert stored[0] or stored[1], f"the {fmt} seed stores nothing"
        _JSON_BASELINES[fmt] = stored
    return _JSON_BASELINES[fmt]


@SETTINGS
@given(fmt=st.sampled_from(sorted(JSON_SEEDS)), place=st.integers(0, 10_000), kind=st.sampled_from(JSON_DAMAGES))
def test_a_damaged_json_field_is_refused_by_field_or_counted(fmt, place, kind):
    # the protobuf JSON mapping reads null as the field's default (a value's 0): not a damage there
    assume(not (fmt == "otlp-json" and kind == "null"))
    seed = JSON_SEEDS[fmt]
    document = _damage_json(json.loads(seed.read_text()), place, kind)
    assume(document is not None)
    data = json.dumps(document).encode()  # NaN/Infinity as Python writes them: JSON readers meet them in practice
    assert_never_silent(fmt, seed.name, data, _json_expected(fmt), None)


# --- Prometheus text exposition: one sample line damaged ---------------------------------------------

PROM_DAMAGES = ["word", "nan", "inf", "negative", "no_value", "cut", "bad_label", "unit", "bad_time"]


def _damage_prom(text: str, index: int, kind: str, cut: int) -> tuple[str, int]:
    lines = text.splitlines()
    samples = [i for i, line in enumerate(lines) if line and not line.startswith("#")]
    at = samples[index % len(samples)]
    line = lines[at]
    head, _, rest = line.rpartition("}") if "}" in line else ("", "", line)
    prefix = head + "}" if head else ""
    parts = rest.split()
    name_part = [] if prefix else parts[:1]
    value_parts = parts[1:] if not prefix else parts
    value, stamp = value_parts[0], value_parts[1:] if len(value_parts) > 1 else []
    new_value = {"word": "n/a", "nan": "NaN", "inf": "+Inf", "negative": f"-{value}", "unit": f"{value}ms"}.get(kind,
                                                                                                         value)
    if kind == "bad_time":
        stamp = ["soon"]
    rebuilt = " ".join([prefix + " ".join(name_part), new_value, *stamp]).replace("} ", "} ", 1)
    if kind == "no_value":
        rebuilt = prefix + " ".join(name_part)
    elif kind == "cut":
        rebuilt = line[: cut % (line.rfind("}") + 1 or len(name_part[0]))]  # before the value (see the CSV cut)
    elif kind == "bad_label":
        rebuilt = line.replace("=", "~", 1) if "=" in line else line.replace(" ", "{x} ", 1)
    lines[at] = rebuilt
    return "\n".join(lines) + "\n", at + 1


@SETTINGS
@given(index=st.integers(0, 50), kind=st.sampled_from(PROM_DAMAGES), cut=st.integers(1, 200))
def test_a_damaged_exposition_line_is_refused_by_line_or_counted(index, kind, cut):
    seed = SEEDS / "prometheus-text" / "metrics.prom"
    if "prometheus-text" not in _JSON_BASELINES:
        _, outcome, stored = _ingest("prometheus-text", seed.name, seed.read_bytes())
        assert not isinstance(outcome, InputError), outcome
        _JSON_BASELINES["prometheus-text"] = stored
    text, line = _damage_prom(seed.read_text(), index, kind, cut)
    assert_never_silent("prometheus-text", seed.name, text.encode(), _JSON_BASELINES["prometheus-text"], line)


def test_every_registered_reader_has_a_never_silent_property():
    """A new format module must join one of the property tests (here or in the three named above)."""
    from perfops.ingest.registry import readers

    elsewhere = {"access-log", "jmeter", "k6", "gatling", "locust", "focus"}
    here = {"telemetry", "events", "prometheus-text", *JSON_SEEDS}
    assert set(readers()) <= elsewhere | here, set(readers()) - elsewhere - here
