"""Crash safety and concurrent use: SIGKILL mid-ingest never leaves a half-loaded file, and a
second process on the same workspace waits or says the workspace is busy."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from perfops.store import open_store
from perfops.workspace import Workspace

PERFOPS = [sys.executable, "-m", "perfops.cli"]


def write_file(path: Path, day: int, rows: int) -> None:
    with path.open("w") as f:
        f.write("timestamp,service,endpoint,metric,value\n")
        for i in range(rows):
            f.write(f"2026-01-{day:02d}T00:00:00Z,checkout-api,GET /item/{i},requests,{i % 97}\n")


def stored_counts(ws: Workspace) -> tuple[int, dict[str, int]]:
    with open_store(ws.store_path) as store:
        total = store.telemetry.count()
        per_file = {Path(f.path).name: f.rows for f in store.ledger.files()}
    return total, per_file


@pytest.mark.slow
def test_sigkill_during_ingest_keeps_exactly_the_completed_files(workspace):
    ws = Workspace(workspace)
    files = []
    for day in range(1, 5):
        path = workspace / f"day{day}.csv"
        write_file(path, day, 150_000)
        files.append(path)
    rng = random.Random(7)
    kills = 0
    for attempt in range(6):
        proc = subprocess.Popen([*PERFOPS, "ingest", *map(str, files), "--workspace", str(workspace)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.3, 2.5))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            kills += 1
        proc.wait()
        total, per_file = stored_counts(ws)
        # every ledger entry is a whole file, and nothing else is in the store
        assert total == sum(per_file.values()), f"attempt {attempt}: {total} rows vs ledger {per_file}"
        assert all(rows == 150_000 for rows in per_file.values())
    done = subprocess.run([*PERFOPS, "ingest", *map(str, files), "--workspace", str(workspace)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    total, per_file = stored_counts(ws)
    assert total == 600_000 and len(per_file) == 4
    assert kills >= 1


def test_a_second_writer_is_told_the_workspace_is_busy(workspace):
    ws = Workspace(workspace)
    (workspace / "t.csv").write_text("timestamp,service,metric,value\n2026-01-05T10:00:00Z,payments,requests,5\n")
    holder = open_store(ws.store_path)  # this process holds the write lock
    try:
        env = {**os.environ, "PERFOPS_LOCK_TIMEOUT": "1"}
        started = time.monotonic()
        result = subprocess.run([*PERFOPS, "ingest", str(workspace / "t.csv"), "--workspace", str(workspace)],
                                capture_output=True, text=True, env=env)
        waited = time.monotonic() - started
    finally:
        holder.close()
    assert result.returncode == 1
    assert "is in use by another perfops process" in result.stderr and "Traceback" not in result.stderr
    assert waited >= 1.0  # it waited for the lock before giving up
    again = subprocess.run([*PERFOPS, "ingest", str(workspace / "t.csv"), "--workspace", str(workspace)],
                           capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
