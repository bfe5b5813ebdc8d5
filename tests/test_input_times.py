"""One accepted time range in every reader (issue 17, item 1; perfops.model.limits).

A far-future row (year 3000, or epoch microseconds read as milliseconds) used to load with exit 0
through telemetry, events and access logs, after which every `analyze` exited 70; a typo year
(2062 for 2026) loaded everywhere and moved the default period decades ahead. Each reader's seed
(fuzz/seeds, valid files) is shifted in time and ingested through the use case — auto-detection
and the bulk path included — and must be refused naming the file, with the store unchanged.
"""

from __future__ import annotations

import gzip
import re
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from perfops.errors import InputError
from perfops.usecases.ingest import ingest_paths
from perfops.workspace import Workspace

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "fuzz" / "seeds"
SEED_DAY = datetime(2026, 1, 5)
NOW = datetime(2026, 1, 6, 12)  # the seeds are of 2026-01-05: "now" is the next day
NEEDS_SERVICE = {"access-log", "jmeter", "k6", "gatling", "cloudwatch-json", "focus"}  # focus: no cost.match rules here
TIMED_SEEDS = [p for p in sorted(SEEDS.glob("*/*")) if p.name not in ("summary.json", "run_stats.csv",
                                                                         "run_stats_history.csv")]


def shifted(data: bytes, year: int) -> bytes:
    """The seed moved to `year`: ISO dates, access-log dates and epoch s/ms/ns (their first 10 digits)."""
    delta = int((datetime(year, 1, 5) - SEED_DAY).total_seconds())
    data = data.replace(b"2026-01-05", b"%d-01-05" % year).replace(b"05/Jan/2026", b"05/Jan/%d" % year)
    return re.sub(rb"(?<!\d)17676\d{5}", lambda m: str(int(m.group()) + delta).encode(), data)


def _ingest(workspace: Path, seed: Path, data: bytes, now: datetime = NOW) -> Path:
    path = workspace / "in" / seed.parent.name / seed.name.removesuffix(".gz")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    service = "checkout-api" if seed.parent.name in NEEDS_SERVICE else None
    ingest_paths(Workspace(workspace), [path], format_name=seed.parent.name, service=service, now=now)
    return path


def _seed_bytes(seed: Path) -> bytes:
    raw = seed.read_bytes()
    return gzip.decompress(raw) if seed.suffix == ".gz" else raw


def _stored_rows(workspace: Path) -> int:
    from perfops.store import open_store

    with open_store(Workspace(workspace).store_path) as store:
        return store.telemetry.count() + len(store.telemetry.events()) + len(store.tests.runs())


@pytest.mark.parametrize("seed", TIMED_SEEDS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_reader_loads_its_seed_at_its_own_time(workspace, seed):
    """The control: the unshifted seed loads, so a refusal below is about the time alone."""
    _ingest(workspace, seed, shifted(_seed_bytes(seed), 2026))
    assert _stored_rows(workspace) > 0


@pytest.mark.parametrize("year", [3000, 2250])
@pytest.mark.parametrize("seed", TIMED_SEEDS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_a_far_future_time_is_refused_by_every_reader(workspace, seed, year):
    with pytest.raises(InputError) as caught:
        _ingest(workspace, seed, shifted(_seed_bytes(seed), year))
    message = str(caught.value)
    assert seed.name.removesuffix(".gz") in message and "1970-01-01" in message, message
    assert _stored_rows(workspace) == 0


@pytest.mark.parametrize("seed", TIMED_SEEDS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_a_typo_year_after_now_is_refused_by_every_reader(workspace, seed):
    with pytest.raises(InputError) as caught:
        _ingest(workspace, seed, shifted(_seed_bytes(seed), 2062))
    message = str(caught.value)
    assert "PERFOPS_MAX_FUTURE_HOURS" in message and seed.name.removesuffix(".gz") in message, message
    assert _stored_rows(workspace) == 0


def test_the_future_margin_is_configurable(workspace, monkeypatch):
    seed = SEEDS / "telemetry" / "long.csv"
    monkeypatch.setenv("PERFOPS_MAX_FUTURE_HOURS", str(24 * 365 * 40))
    _ingest(workspace, seed, shifted(_seed_bytes(seed), 2062))
    assert _stored_rows(workspace) > 0


TELEMETRY = "timestamp,service,metric,value\n{rows}"


@pytest.mark.parametrize("bulk_shape", [True, False], ids=["bulk-path", "reader-path"])
def test_a_far_future_telemetry_row_names_its_line(workspace, bulk_shape):
    rows = "2026-01-05T10:00:00Z,checkout-api,requests,5\n" * 2 + "3000-01-01T00:00:00Z,checkout-api,requests,7\n"
    text = TELEMETRY.format(rows=rows) if bulk_shape else TELEMETRY.replace("value", "value,endpoint").format(
        rows=rows.replace("\n", ",GET /a\n"))
    path = workspace / "far.csv"
    path.write_text(text)
    with pytest.raises(InputError) as caught:
        ingest_paths(Workspace(workspace), [path], now=NOW)
    assert caught.value.line == 4 and "timestamp: '3000-01-01" in str(caught.value)


def test_skip_bad_rows_drops_the_far_future_row_only(workspace):
    path = workspace / "far.csv"
    path.write_text(TELEMETRY.format(rows="2026-01-05T10:00:00Z,checkout-api,requests,5\n"
                                          "3000-01-01T00:00:00Z,checkout-api,requests,7\n"))
    [result] = ingest_paths(Workspace(workspace), [path], now=NOW, skip_bad_rows=True)
    assert result.rows == 1 and "far.csv:3" in result.skipped[0]


@pytest.mark.parametrize(("scale", "unit"), [(1_000_000, "microseconds"), (1_000_000_000, "nanoseconds")])
def test_epoch_micro_and_nanoseconds_are_told_by_magnitude(workspace, scale, unit):
    seconds = 1767607200
    path = workspace / "wide.csv"
    path.write_text(f"timestamp,service,requests\n{seconds * scale},checkout-api,5\n{(seconds + 60) * scale},"
                    "checkout-api,6\n")
    [result] = ingest_paths(Workspace(workspace), [path], now=NOW)
    from perfops.store import open_store

    with open_store(Workspace(workspace).store_path) as store:
        stored = store.telemetry.load()
    assert list(stored["timestamp"]) == [pd.Timestamp("2026-01-05T10:00:00"), pd.Timestamp("2026-01-05T10:01:00")]
    assert any(f"epoch {unit}" in note for note in result.notes), result.notes


def test_an_event_in_the_far_future_names_its_line(workspace):
    path = workspace / "events.csv"
    path.write_text("timestamp,service,type\n2026-01-05T10:00:00Z,checkout-api,deploy\n"
                    "3000-01-01T00:00:00Z,checkout-api,deploy\n")
    with pytest.raises(InputError) as caught:
        ingest_paths(Workspace(workspace), [path], now=NOW)
    assert caught.value.line == 3 and caught.value.field is None and "timestamp: '3000" in str(caught.value)


def test_analyze_ignores_far_future_rows_stored_by_an_older_perfops(workspace):
    """A store that already holds a row in the year 3000 (loaded before the check existed):
    `analyze` used to exit 70 (OutOfBoundsDatetime); now the row is left out, and said so."""
    from perfops.store import open_store
    from perfops.usecases.analyze import analyze

    times = list(pd.date_range("2026-11-01", periods=48, freq="5min")) + [pd.Timestamp("3000-01-01")]
    frame = pd.DataFrame({"timestamp": pd.array(times, dtype="datetime64[us]"), "service": "checkout-api",
                          "endpoint": "", "consumer": "", "metric": "requests", "value": 5.0})
    with open_store(Workspace(workspace).store_path) as store, store.transaction():
        store.telemetry.upsert(frame)
    result = analyze(Workspace(workspace))
    assert result.period_end.year == 2026
    assert any("1 telemetry row(s) dated after" in note for note in result.notes)


def test_an_access_log_line_in_the_future_names_its_line_or_is_skipped(workspace):
    good = '10.0.0.1 - - [05/Jan/2026:10:00:10 +0000] "GET /cart HTTP/1.1" 200 512 "-" "curl/8" 0.012\n'
    path = workspace / "access.log"
    path.write_text(good * 3 + good.replace("2026", "2062") + good)
    with pytest.raises(InputError) as caught:
        ingest_paths(Workspace(workspace), [path], service="checkout-api", now=NOW)
    assert caught.value.line == 4
    [result] = ingest_paths(Workspace(workspace), [path], service="checkout-api", now=NOW, skip_bad_rows=True)
    assert result.rows > 0 and any(":4: time: outside" in s for s in result.skipped)


@pytest.mark.parametrize("arrow", [True, False], ids=["arrow-table", "pandas-frame"])
def test_the_ingest_boundary_checks_every_table_form_a_reader_returns(arrow):
    """The last line of defence sees Arrow tables (the telemetry reader's) as well as frames."""
    import pyarrow as pa

    from perfops.ingest.base import IngestBatch
    from perfops.usecases.input_times import check_batch_times

    frame = pd.DataFrame({"timestamp": pd.array([pd.Timestamp("2026-01-05"), pd.Timestamp("2062-01-05")],
                                                dtype="datetime64[us]"),
                          "service": ["checkout-api", "payments"], "endpoint": ["", ""], "metric": ["requests"] * 2})
    table = pa.Table.from_pandas(frame, preserve_index=False) if arrow else frame
    with pytest.raises(InputError) as caught:
        check_batch_times(IngestBatch(telemetry=table), Path("x.csv"), NOW)
    assert caught.value.field == "timestamp" and "2062-01-05T00:00:00Z (service 'payments'" in str(caught.value)
