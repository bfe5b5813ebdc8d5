"""The week in a few numbers (perfops.model.weekly, reports/weekly_view.py): the key numbers of a
scope with known answers, their movement against the previous stored run (or "no previous run"
said honestly), and the squad strips' bucketed series."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from perfops.model.figures import CostFigure
from perfops.model.health import Kpis
from perfops.model.weekly import KeyNumbers, Movement, key_numbers, strip_series
from reports_fixture import build_two_runs


def _cost(service: str, week: float | None) -> CostFigure:
    return CostFigure(service=service, squad="s", source="catalog", monthly_spend=None, monthly_requests=None,
                      last_7_days=week, previous_7_days=None, cost_per_1000_requests=None,
                      cost_per_1000_requests_before=None)


def test_key_numbers_sum_weigh_and_skip_what_is_missing() -> None:
    kpis = {"a": Kpis(requests=1000.0, error_rate=1.0, p95=100.0),
            "b": Kpis(requests=3000.0, error_rate=0.0, p95=200.0),
            "idle": Kpis(requests=0.0, error_rate=math.nan, p95=math.nan)}
    costs = {"a": _cost("a", 70.0), "b": _cost("b", None)}
    k = key_numbers(kpis, costs, ["a", "b", "idle", "unknown"], open_incidents=2)
    assert k.requests == 4000.0
    assert k.error_rate_pct == pytest.approx(100.0 * 10 / 4000)  # 10 errors of 4,000 requests
    assert k.latency_p95_ms == pytest.approx((100 * 1000 + 200 * 3000) / 4000)  # weighted by requests
    assert k.spend == 70.0 and k.open_incidents == 2.0
    none = key_numbers({}, {}, ["a"], None)
    assert all(v is None for v in none.to_dict().values())


def test_movement_compares_with_the_previous_run_or_says_there_is_none() -> None:
    now = KeyNumbers(requests=1100.0, latency_p95_ms=90.0, error_rate_pct=0.5, spend=10.0, open_incidents=3.0)
    before = KeyNumbers(requests=1000.0, latency_p95_ms=100.0, error_rate_pct=0.25, spend=0.0, open_incidents=1.0)
    moves = {m.key: m for m in Movement(now, before, datetime(2026, 11, 16)).moves()}
    assert moves["requests"].change_pct == pytest.approx(10.0)
    assert moves["latency_p95_ms"].change_pct == pytest.approx(-10.0)
    assert math.isnan(moves["spend"].change_pct)  # no relative change from 0
    assert moves["open_incidents"].delta == 2.0
    first = Movement(now, None).to_dict()
    assert first["before"] is None and first["moves"] == [] and first["previous_run_end"] is None


def test_strip_series_buckets_sums_and_weighs_p95() -> None:
    end = datetime(2026, 11, 23)
    rows = []
    for day in range(14):
        bucket = end - timedelta(days=14 - day)
        for service, req, p95 in (("a", 100.0, 50.0), ("b", 300.0, 150.0)):
            rows += [(bucket, service, "requests", req), (bucket, service, "errors", 1.0),
                     (bucket, service, "latency_p95_ms", p95), (bucket, service, "cost", 2.0)]
    rows.append((end - timedelta(days=1), "other", "requests", 1e9))  # another squad's service
    daily = pd.DataFrame(rows, columns=["bucket", "service", "metric", "value"])
    weekly = strip_series(daily, ["a", "b"], end, 14, 7)
    assert weekly.values["requests"] == [2800.0, 2800.0]
    assert weekly.values["cost"] == [28.0, 28.0]
    assert weekly.values["latency_p95_ms"] == pytest.approx([125.0, 125.0])  # (50*100 + 150*300) / 400
    assert weekly.values["error_rate_pct"] == pytest.approx([100 * 14 / 2800] * 2)
    days = strip_series(daily, ["a"], end, 28, 1)
    assert len(days.values["requests"]) == 28
    assert all(math.isnan(v) for v in days.values["requests"][:14]) and days.values["requests"][-1] == 100.0


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory) -> Path:
    return build_two_runs(tmp_path_factory.mktemp("weekly") / "ws")


def _sections(root: Path, audience: str, at: str, **scope: str) -> dict[str, dict]:
    from perfops.usecases.reports import render_reports
    from perfops.workspace import Workspace

    out = root / f"{audience}-{at[:10]}.json"
    render_reports(Workspace(root), audience=audience, fmt="json", output=out, at=at, **scope)
    return {s["id"]: s for s in json.loads(out.read_text())["sections"]}


@pytest.mark.parametrize(("audience", "scope"), [("executive", {}), ("lead", {"squad": "checkout"}),
                                                 ("developer", {"service": "checkout-api"})])
def test_every_report_opens_with_the_movement_since_the_previous_run(two_runs: Path, audience: str,
                                                                      scope: dict[str, str]) -> None:
    later = _sections(two_runs, audience, "2026-11-23T00:00:00Z", **scope)["movement"]["data"]
    assert later["previous_run_end"] == "2026-11-16T00:00:00Z"
    assert [m["key"] for m in later["moves"]] == ["requests", "latency_p95_ms", "error_rate_pct", "spend",
                                                  "open_incidents"]
    assert later["now"]["requests"] > 0 and later["before"]["requests"] > 0
    first = _sections(two_runs, audience, "2026-11-16T00:00:00Z", **scope)["movement"]
    assert first["data"]["before"] is None


def test_the_first_run_says_there_is_no_previous_run(two_runs: Path) -> None:
    from perfops.usecases.reports import render_reports
    from perfops.workspace import Workspace

    out = two_runs / "exec.md"
    render_reports(Workspace(two_runs), audience="executive", fmt="md", output=out, at="2026-11-16T00:00:00Z")
    assert "No previous run" in out.read_text()


def test_the_executive_has_one_strip_per_squad(two_runs: Path) -> None:
    status = _sections(two_runs, "executive", "2026-11-23T00:00:00Z")["domain-status"]["data"]
    strips = status["squad_strips"]
    assert {s["squad"] for s in strips} == {"checkout", "payments", "platform"}
    for s in strips:
        assert set(s["series"]["values"]) == {"requests", "latency_p95_ms", "error_rate_pct", "cost"}
        assert len(s["series"]["values"]["requests"]) == 6 and s["series"]["bucket_days"] == 7
    levels = ["red", "amber", "grey", "green"]
    assert [levels.index(s["status"]["level"]) for s in strips] == sorted(levels.index(s["status"]["level"])
                                                                          for s in strips)


def test_every_digest_carries_the_movement_of_its_scope(two_runs: Path) -> None:
    from perfops.usecases.notify import send_digests
    from perfops.workspace import Workspace

    digests = send_digests(Workspace(two_runs), dry_run=True).digests
    assert [d.target for d in digests] == ["domain", "checkout", "payments", "platform"]
    for d in digests:
        # the newest run (by when it was made) covers the week ending 16 Nov: none before it
        assert d.movement is not None and d.movement.startswith("No previous run")
        assert d.movement in d.text
        assert any(d.movement in str(block) for block in d.slack["blocks"])
        assert d.movement in d.teams["text"]


def test_the_movement_in_words_names_each_change() -> None:
    from perfops.model.weekly import movement_words

    now = KeyNumbers(requests=1.1e6, latency_p95_ms=90.0, error_rate_pct=0.5, spend=110.0, open_incidents=3.0)
    before = KeyNumbers(requests=1.0e6, latency_p95_ms=100.0, error_rate_pct=0.25, spend=100.0, open_incidents=3.0)
    words = movement_words(Movement(now, before, datetime(2026, 11, 16)), "USD")
    assert words.startswith("Week over week (against the run ending 16 Nov 2026): ")
    assert "requests (7 days) 1.1M (▲ +10%)" in words and "p95 latency 90 ms (▼ −10%)" in words
    assert "error rate 0.5% (+0.25 pts)" in words and "open incidents 3 (no change)" in words
