"""Crash safety of `perfops analyze`: SIGKILL at random points, many times. Afterwards the store
opens, the findings are exactly those of before the run or exactly those of a complete run (the
findings, their history and the run record are written in one transaction), and a re-run
finishes. (The ingest counterpart is tests/test_crash_safety.py.)"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from perfops.store import open_store
from perfops.usecases.ingest import ingest_paths
from perfops.workspace import Workspace

pytestmark = pytest.mark.slow

PERFOPS = [sys.executable, "-m", "perfops.cli"]
AT = "2026-02-01T00:00:00Z"
ATTEMPTS = 10
SERIES = [("checkout-api", "POST /checkout"), ("checkout-api", "GET /cart"), ("checkout-api", ""),
          ("payments", "POST /pay"), ("payments", "")]


def write_telemetry(path: Path, start: str, days: int, *, slow_from: str | None = None, seed: int = 1) -> None:
    """Five-minute series with a daily cycle; from `slow_from` on, checkout latency doubles and
    payments errors jump (so a later analysis finds something new)."""
    rng = np.random.default_rng(seed)
    stamps = pd.date_range(start, periods=days * 288, freq="5min")
    hour = stamps.hour.to_numpy() + stamps.minute.to_numpy() / 60
    shape = 1 + 0.6 * np.sin((hour - 6) / 24 * 2 * np.pi)
    bad = stamps >= pd.Timestamp(slow_from) if slow_from else np.zeros(len(stamps), dtype=bool)
    frames = []
    for service, endpoint in SERIES:
        requests = rng.poisson(300 * shape)
        latency = 120 * (1 + 0.05 * rng.standard_normal(len(stamps))) * np.where(bad & (service == "checkout-api"), 2, 1)
        errors = rng.binomial(requests, np.where(bad & (service == "payments"), 0.08, 0.001))
        for metric, values in (("requests", requests), ("errors", errors), ("latency_p95_ms", latency)):
            frames.append(pd.DataFrame({"timestamp": stamps.strftime("%Y-%m-%dT%H:%M:%SZ"), "service": service,
                                        "endpoint": endpoint, "metric": metric, "value": np.round(values, 2)}))
    pd.concat(frames).to_csv(path, index=False)


def run_analyze(root: Path, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([*PERFOPS, "analyze", "--at", AT, "--workspace", str(root), "--quiet"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kwargs)


def state(root: Path) -> tuple[tuple, int, int]:
    """(the findings, normalised; history rows; analysis runs) — opening the store is part of the check."""
    with open_store(Workspace(root).store_path) as store:
        con = store.con
        findings = tuple(con.execute(
            'SELECT id, kind, severity, service, coalesce(endpoint, \'\'), coalesce(metric, \'\'), status '
            "FROM findings ORDER BY id").fetchall())
        history = con.execute("SELECT count(*) FROM finding_history").fetchone()[0]
        runs = con.execute("SELECT count(*) FROM analysis_runs").fetchone()[0]
        orphans = con.execute("SELECT count(*) FROM findings f WHERE NOT EXISTS "
                              "(SELECT 1 FROM finding_history h WHERE h.finding_id = f.id)").fetchone()[0]
    assert orphans == 0, "a finding without its history: a half-written analysis"
    return findings, int(history), int(runs)


def finished(proc: subprocess.Popen) -> None:
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err.decode(errors="replace")[-2000:]


def test_sigkill_during_analyze_leaves_the_findings_before_or_complete(workspace, tmp_path_factory):
    ws = Workspace(workspace)
    first, second = workspace / "weeks.csv", workspace / "last-days.csv"
    write_telemetry(first, "2026-01-04", 24)
    write_telemetry(second, "2026-01-28", 4, slow_from="2026-01-30T06:00:00", seed=2)
    ingest_paths(ws, [first])
    started = time.monotonic()
    finished(run_analyze(workspace))
    duration = time.monotonic() - started
    before = state(workspace)
    assert before[2] == 1

    ingest_paths(ws, [second])
    reference = tmp_path_factory.mktemp("reference") / "ws"
    shutil.copytree(workspace, reference)
    finished(run_analyze(reference))
    complete = state(reference)
    assert complete[0] != before[0], "the second analysis must change the findings, or the test proves nothing"

    rng = random.Random(20261127)
    kills, completed, previous = 0, 0, before
    for attempt in range(ATTEMPTS):
        proc = run_analyze(workspace)
        time.sleep(rng.uniform(0.3 * duration, 1.3 * duration))  # from start-up to past the commit
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            kills += 1
        proc.communicate(timeout=600)
        findings, history, runs = state(workspace)
        assert runs - previous[2] in (0, 1), f"attempt {attempt}: {runs - previous[2]} runs recorded"
        if proc.returncode == 0:
            assert runs == previous[2] + 1
        if runs == previous[2]:
            assert (findings, history) == previous[:2], f"attempt {attempt}: a killed run changed the findings"
        else:
            assert findings == complete[0], f"attempt {attempt}: a recorded run left incomplete findings"
        completed += runs - previous[2]
        previous = (findings, history, runs)
    assert kills >= 4, f"only {kills} of {ATTEMPTS} runs were killed: the machine is too fast for the sleep range"
    print(f"analyze SIGKILL: {kills} of {ATTEMPTS} runs killed, {completed} committed (a full run takes "
          f"{duration:.1f} s); the store opened and held the findings of before or of a complete run each time")

    finished(run_analyze(workspace))
    findings, _, runs = state(workspace)
    assert findings == complete[0] and runs == previous[2] + 1
