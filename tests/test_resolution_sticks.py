"""A resolution survives the next `analyze` on the same data; only new evidence after it reopens
the finding (issue 17 item 3), through the CLI as a user runs it."""

from __future__ import annotations

import csv
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

CATALOG = """\
domain: Shop
squads:
  - name: checkout
services:
  - name: checkout-api
    squad: checkout
    tier: 1
"""
START = datetime(2026, 2, 2)  # a Monday; four weeks of history, then the analysed week
STEP = timedelta(minutes=5)


def write_telemetry(path: Path, first: int, last: int, slow_from: int) -> Path:
    """5-minute rows for intervals first..last-1; latency doubles from interval `slow_from` on."""
    rng = np.random.default_rng(first)
    with path.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["timestamp", "service", "endpoint", "requests", "errors", "latency_p95_ms"])
        for i in range(first, last):
            t = START + i * STEP
            daily = 1 + 0.5 * np.sin((t.hour + t.minute / 60) / 24 * 2 * np.pi)
            latency = (400 if i >= slow_from else 200) * (1 + 0.03 * rng.normal())
            out.writerow([t.strftime("%Y-%m-%dT%H:%M:%SZ"), "checkout-api", "POST /checkout",
                          int(600 * daily), 0, round(latency, 1)])
    return path


def regressions(cli, workspace: Path) -> list[dict]:
    import json

    result = cli("findings", "--status", "all", "--format", "json", workspace=workspace)
    assert result.code == 0, result
    return [f for f in json.loads(result.out) if f["kind"] == "regression" and f["metric"] == "latency"]


def test_a_resolution_sticks_until_new_evidence_arrives(tmp_path, cli):
    (tmp_path / "perfops.yaml").write_text(CATALOG)
    week = int(timedelta(days=7) / STEP)
    slow_from = 4 * week + 5 * week // 7  # Saturday of the analysed week
    old = write_telemetry(tmp_path / "old.csv", 0, 5 * week, slow_from)
    assert cli("ingest", str(old), workspace=tmp_path).code == 0
    assert cli("analyze", workspace=tmp_path).code == 0
    (found,) = regressions(cli, tmp_path)
    assert cli("findings", "resolve", found["id"], "--by", "priya", "--note", "fixed", workspace=tmp_path).code == 0

    assert cli("analyze", workspace=tmp_path).code == 0  # the same data: nothing new happened
    (again,) = regressions(cli, tmp_path)
    assert again["id"] == found["id"] and again["status"] == "resolved"

    later = write_telemetry(tmp_path / "later.csv", 5 * week, 5 * week + 2 * week // 7, slow_from)
    assert cli("ingest", str(later), workspace=tmp_path).code == 0  # still slow after the resolution
    assert cli("analyze", workspace=tmp_path).code == 0
    reopened = [f for f in regressions(cli, tmp_path) if f["id"] == found["id"]]
    assert [f["status"] for f in reopened] == ["open"]
    shown = cli("findings", "show", found["id"], workspace=tmp_path)
    assert "resolved" in shown.out and "found again by analysis" in shown.out
