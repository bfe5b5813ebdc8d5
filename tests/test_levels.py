"""Hand-made level marks: a squad says "this is the new normal since T", and analysis stops
re-raising that change — end to end through the CLI, on a domain with a real latency step."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import trends_world as W


def _domain(folder: Path) -> Path:
    world = W.build()
    (folder / "perfops.yaml").write_text(W.CATALOG)
    world.telemetry.to_parquet(folder / "telemetry.parquet", index=False)
    pd.DataFrame(world.events).to_csv(folder / "events.csv", index=False)
    return folder


def _latency_shifts(cli, folder: Path) -> list[dict]:
    assert cli("ingest", str(folder / "telemetry.parquet"), str(folder / "events.csv"), workspace=folder).code == 0
    assert cli("analyze", "--at", W.NOW.isoformat(), workspace=folder).code == 0
    out = cli("findings", "--format", "json", "--service", "payments", workspace=folder).out
    return [f for f in json.loads(out) if f["metric"] == "latency" and f["kind"] in ("regression", "anomaly")]


def test_without_a_mark_the_step_is_a_regression(tmp_path, cli):
    found = _latency_shifts(cli, _domain(tmp_path))
    assert [f["kind"] for f in found] == ["regression"]


def test_a_hand_made_mark_makes_the_new_level_the_norm(tmp_path, cli):
    folder = _domain(tmp_path)
    since = (W.NOW - pd.Timedelta(days=3, hours=10)).isoformat()
    marked = cli("levels", "mark", "payments", "--metric", "latency", "--since", since,
                 "--note", "new provider since the campaign", "--by", "priya", workspace=folder)
    assert marked.code == 0, marked
    assert _latency_shifts(cli, folder) == []
    (mark,) = json.loads(cli("levels", "list", "--format", "json", workspace=folder).out)
    assert (mark["service"], mark["metric"], mark["by"], mark["finding_id"]) == ("payments", "latency", "priya", None)
    assert mark["note"] == "new provider since the campaign" and mark["at"].startswith(since[:16].replace("T", " "))


@pytest.mark.parametrize(("args", "message"), [
    (["nosuch", "--metric", "latency", "--since", "2026-03-01T00:00:00"], "'nosuch' is not a service"),
    (["payments", "--metric", "colour", "--since", "2026-03-01T00:00:00"], "--metric: 'colour' cannot be re-based"),
    (["payments", "--metric", "latency", "--since", "yesterday"], "--since: 'yesterday' is not a time"),
])
def test_a_bad_mark_is_refused_clearly_and_stores_nothing(tmp_path, cli, args, message):
    folder = _domain(tmp_path)
    result = cli("levels", "mark", *args, "--note", "x", workspace=folder)
    assert result.code == 1 and message in result.err
    assert json.loads(cli("levels", "list", "--format", "json", workspace=folder).out) == []
