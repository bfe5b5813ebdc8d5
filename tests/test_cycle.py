"""perfops cycle, its schedule and retention: the pieces, each on small known inputs.

The whole loop against a real Prometheus, a webhook receiver and a SIGKILL is in
tests/test_cycle_e2e.py.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from croniter import croniter
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from perfops.errors import CatalogError, PerfopsError
from perfops.model.catalog import Schedule
from perfops.store import open_store
from perfops.usecases.cycle import LOCK_FILE, CycleBusyError, closed_period_end, cycle_lock, run_cycle
from perfops.usecases.schedule import crontab, jobs_of, next_run, on_calendar, systemd_units
from perfops.usecases.scheduler import Scheduler
from perfops.workspace import Workspace, parse_catalog


# ---- the period that closed ------------------------------------------------------------------
@pytest.mark.parametrize(("now", "period", "tz", "end"), [
    # Thursday 2026-12-03 10:00 UTC: the week that closed ended Monday 2026-11-30 00:00 UTC
    (datetime(2026, 12, 3, 10), timedelta(days=7), "UTC", datetime(2026, 11, 30)),
    # Monday 00:00 exactly closes the week that ends then
    (datetime(2026, 11, 30), timedelta(days=7), "UTC", datetime(2026, 11, 30)),
    # Sydney is UTC+11 in December: Monday 00:00 local is Sunday 13:00 UTC
    (datetime(2026, 12, 3, 10), timedelta(days=7), "Australia/Sydney", datetime(2026, 11, 29, 13)),
    (datetime(2026, 12, 3, 10, 30), timedelta(days=1), "UTC", datetime(2026, 12, 3)),
    (datetime(2026, 12, 3, 10, 30), timedelta(hours=6), "UTC", datetime(2026, 12, 3, 6)),
    # New York in July is UTC-4: local midnight is 04:00 UTC
    (datetime(2026, 7, 15, 3), timedelta(days=1), "America/New_York", datetime(2026, 7, 14, 4)),
])
def test_closed_period_end(now: datetime, period: timedelta, tz: str, end: datetime) -> None:
    assert closed_period_end(now, period, tz) == end


# ---- the schedule in perfops.yaml -------------------------------------------------------------
def test_schedule_and_retention_are_validated_with_their_line(small_catalog_text: str) -> None:
    text = small_catalog_text + "schedule:\n  collect: '*/15 * * *'\nretention:\n  raw_days: 30\n  hourly_days: 7\n"
    with pytest.raises(CatalogError) as caught:
        parse_catalog(text)
    problems = "\n".join(caught.value.problems)
    assert "not a cron expression" in problems and "schedule.collect" in problems
    assert "hourly_days (7) must be at least raw_days (30)" in problems
    good = parse_catalog(small_catalog_text + "schedule:\n  cycle: '0 7 * * 1'\n  analyze: null\nretention:\n  raw_days: 10\n")
    assert good.schedule is not None and good.schedule.analyze is None and good.retention is not None
    assert [j.name for j in jobs_of(good.schedule)] == ["collect", "cycle"]


def test_next_run_is_in_the_domain_timezone() -> None:
    # Monday 07:00 in Sydney (UTC+11 in December) is Sunday 20:00 UTC
    assert next_run("0 7 * * 1", datetime(2026, 12, 3), "Australia/Sydney") == datetime(2026, 12, 6, 20)
    assert next_run("*/15 * * * *", datetime(2026, 12, 3, 10, 7), "UTC") == datetime(2026, 12, 3, 10, 15)


@pytest.mark.parametrize(("cron", "calendar"), [
    ("*/15 * * * *", "*-*-* *:0/15:00 Europe/Paris"),
    ("0 * * * *", "*-*-* *:0:00 Europe/Paris"),
    ("0 7 * * 1", "Mon *-*-* 7:0:00 Europe/Paris"),
    ("30 6 * * 1-5", "Mon..Fri *-*-* 6:30:00 Europe/Paris"),
    ("0 6,18 1 * *", "*-*-1 6,18:0:00 Europe/Paris"),
])
def test_cron_to_systemd_calendar(cron: str, calendar: str) -> None:
    assert on_calendar(cron, "Europe/Paris") == calendar
    analyze = shutil.which("systemd-analyze")
    if analyze:  # systemd itself agrees it is a calendar expression
        done = subprocess.run([analyze, "calendar", calendar], capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr


def test_systemd_refuses_what_it_cannot_express() -> None:
    with pytest.raises(PerfopsError, match="systemd cannot express"):
        on_calendar("0 7 1 * 1", "UTC")  # cron ORs the two day fields
    with pytest.raises(PerfopsError, match="cannot express"):
        on_calendar("0 9-17/2 * * *", "UTC")


def test_crontab_and_units_name_every_job(tmp_path: Path) -> None:
    plan = Schedule()
    text = crontab(plan, "Europe/Paris", tmp_path, "/usr/local/bin/perfops")
    jobs = [line for line in text.splitlines() if line and not line.startswith(("#", "CRON_TZ"))]
    assert "CRON_TZ=Europe/Paris" in text and len(jobs) == 3
    for line in jobs:
        assert croniter.is_valid(" ".join(line.split()[:5]))
        assert f"--workspace {tmp_path}" in line
    units = systemd_units(plan, "Europe/Paris", tmp_path, "/usr/local/bin/perfops")
    assert sorted(units) == sorted(f"perfops-{j}.{k}" for j in ("collect", "analyze", "cycle") for k in ("service", "timer"))
    assert "OnCalendar=Mon *-*-* 7:0:00 Europe/Paris" in units["perfops-cycle.timer"]


# ---- the scheduler of serve --schedule --------------------------------------------------------
def test_scheduler_runs_due_jobs_and_counts_outcomes(tmp_path: Path) -> None:
    clock = [datetime(2026, 12, 7, 6, 59)]  # a Monday, one minute before the weekly cycle
    ran: list[tuple[str, ...]] = []
    codes = {"collect": 0, "analyze": 1, "cycle": 75}
    scheduler = Scheduler(tmp_path, Schedule(), "UTC", clock=lambda: clock[0],
                          run=lambda ws, job: ran.append(job.args) or codes[job.name])
    for stats, job in zip(scheduler.stats.values(), scheduler.jobs, strict=True):
        stats.next_run = next_run(job.cron, clock[0], "UTC")
    assert scheduler.tick() == []
    clock[0] = datetime(2026, 12, 7, 7, 0)
    assert scheduler.tick() == ["collect", "analyze", "cycle"]
    assert ran[0] == ("cycle", "--steps", "collect", "--quiet") and ran[2] == ("cycle", "--period", "7d")
    assert scheduler.stats["collect"].runs == {"ok": 1}
    assert scheduler.stats["analyze"].runs == {"failed": 1}
    assert scheduler.stats["cycle"].runs == {"busy": 1}
    assert scheduler.stats["cycle"].next_run == datetime(2026, 12, 14, 7)
    assert scheduler.stats["collect"].next_run == datetime(2026, 12, 7, 7, 15)


# ---- the lock ----------------------------------------------------------------------------------
def _workspace(tmp_path: Path, catalog: str) -> Workspace:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "perfops.yaml").write_text(catalog)
    return Workspace(root)


def test_a_second_cycle_exits_75_while_one_holds_the_lock(tmp_path: Path, small_catalog_text: str) -> None:
    ws = _workspace(tmp_path, small_catalog_text)
    with cycle_lock(ws):
        with pytest.raises(CycleBusyError, match="another perfops cycle is running"):
            run_cycle(ws, now=datetime(2026, 12, 7))
        done = subprocess.run([sys.executable, "-m", "perfops.cli", "cycle", "--workspace", str(ws.root)],
                              capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 75, done.stderr
    assert "another perfops cycle is running" in done.stderr and f"pid {os.getpid()}" in done.stderr
    # released: the lock file stays, the lock does not
    with (ws.store_path.parent / LOCK_FILE).open() as handle:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)


def test_a_failing_step_is_named_and_exits_4(tmp_path: Path, small_catalog_text: str) -> None:
    ws = _workspace(tmp_path, small_catalog_text)  # an empty store: analyze cannot run
    done = subprocess.run([sys.executable, "-m", "perfops.cli", "cycle", "--at", "2026-12-07T08:00Z",
                           "--workspace", str(ws.root)], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 4, done.stderr
    assert "error: analyze: the store holds no telemetry yet" in done.stderr
    assert "collect skipped (no source configured)" in done.stdout
    assert "report skipped (the analyze step has not completed for this period)" in done.stdout
    state = json.loads((ws.store_path.parent / "cycle-state.json").read_text())
    assert state["outcomes"]["analyze"] == {"failed": 1} and "done" not in state


def test_json_logs_one_object_per_step(tmp_path: Path, small_catalog_text: str) -> None:
    ws = _workspace(tmp_path, small_catalog_text)
    done = subprocess.run([sys.executable, "-m", "perfops.cli", "cycle", "--steps", "collect,retention",
                           "--log-format", "json", "--workspace", str(ws.root)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in done.stderr.splitlines()]
    assert [(r["step"], r["outcome"]) for r in records] == [("collect", "skipped"), ("retention", "skipped")]
    assert all(r["level"] == "info" and r["time"].endswith("Z") for r in records)


# ---- retention ---------------------------------------------------------------------------------
def test_retention_rolls_up_hours() -> None:
    import pandas as pd

    start = datetime(2026, 11, 1)
    rows = []
    for i in range(36):  # three hours of 5-minute rows, then a recent one
        t = start + timedelta(minutes=5 * i)
        rows += [(t, "svc", "", "", "requests", 10.0 + i), (t, "svc", "", "", "latency_p95_ms", 100.0 + i),
                 (t, "svc", "", "", "latency_max_ms", 200.0 + i)]
    rows.append((datetime(2026, 12, 1), "svc", "", "", "requests", 5.0))
    frame = pd.DataFrame(rows, columns=["timestamp", "service", "endpoint", "consumer", "metric", "value"])
    with open_store(None) as store:
        with store.transaction():
            store.telemetry.upsert(frame)
        with store.transaction():
            outcome = store.retention.apply(datetime(2026, 11, 20), datetime(2026, 1, 1))
        hourly = store.con.execute("SELECT hour, metric, value, samples FROM telemetry_hourly ORDER BY 1, 2").fetchall()
        left = store.con.execute("SELECT count(*) FROM telemetry").fetchone()
    assert outcome.deleted_raw == 108 and outcome.rolled_up == 9 and left == (1,)
    first = {m: (v, n) for h, m, v, n in hourly if h == start}
    assert first["requests"] == (sum(10.0 + i for i in range(12)), 12)  # counts are summed
    assert first["latency_max_ms"][0] == 200.0 + 11  # maxima keep the maximum
    assert first["latency_p95_ms"][0] == pytest.approx(sum(100.0 + i for i in range(12)) / 12)  # the rest: mean


# ---- /metrics ----------------------------------------------------------------------------------
def test_metrics_are_prometheus_exposition(tmp_path: Path, small_catalog_text: str) -> None:
    from perfops.web.app import create_app

    ws = _workspace(tmp_path, small_catalog_text)
    subprocess.run([sys.executable, "-m", "perfops.cli", "cycle", "--steps", "collect", "--workspace", str(ws.root)],
                   capture_output=True, timeout=120, check=True)
    client = TestClient(create_app(ws.root, token="t"))
    answer = client.get("/metrics")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(answer.text)}
    assert {"perfops_findings", "perfops_store_size_bytes", "perfops_cycle_steps",
            "perfops_cycle_last_success_timestamp_seconds"} <= set(families)
    steps = {(s.labels["step"], s.labels["outcome"]): s.value for s in families["perfops_cycle_steps"].samples
             if s.name.endswith("_total")}
    assert steps == {("collect", "skipped"): 1.0}
    assert families["perfops_store_size_bytes"].samples[0].value > 0
