"""The dashboard's run and range picker: every page takes ?run=<id> (a stored analysis run) and
?range=7d|14d|28d, the URL carries the view (links keep it), GET /api/runs lists the runs with
their periods in the domain's timezone, and a wrong run or range is a clear 404/400 page."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from reports_fixture import build_two_runs


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return build_two_runs(tmp_path_factory.mktemp("picker") / "ws")


@pytest.fixture
def client(root: Path):
    from fastapi.testclient import TestClient

    from perfops.web.app import create_app

    return TestClient(create_app(root))


def _runs(client) -> list[dict]:
    answer = client.get("/api/runs")
    assert answer.status_code == 200
    return answer.json()["runs"]


def test_api_runs_lists_the_stored_runs_with_local_iso_periods(client) -> None:
    runs = _runs(client)
    assert len(runs) == 2
    assert [r["id"] for r in runs] == sorted((r["id"] for r in runs), reverse=True)
    ends = {r["period_end"] for r in runs}
    # the fixture's domain is in Australia/Sydney: 23 Nov 00:00 UTC is 11:00 there (daylight time)
    assert ends == {"2026-11-23T11:00:00+11:00", "2026-11-16T11:00:00+11:00"}
    assert sum(r["newest"] for r in runs) == 1
    assert client.get("/api/runs").headers["content-type"].startswith("application/json")
    schema = client.get("/openapi.json").json()
    assert "/api/runs" in schema["paths"]
    params = {p["name"] for p in schema["paths"]["/api/domain"]["get"]["parameters"]}
    assert {"run", "range"} <= params


def test_each_run_is_shown_by_its_id_and_links_keep_the_view(client) -> None:
    for run in _runs(client):
        page = client.get(f"/?run={run['id']}&range=28d")
        assert page.status_code == 200
        assert f"analysis run {run['id']}:" in page.text
        assert re.search(rf'<option value="{run["id"]}" selected>', page.text)
        assert '<option value="28d" selected>' in page.text
        # links inside the dashboard carry the view, so the page can be shared as it is
        assert f'href="/services?run={run["id"]}&amp;range=28d"' in page.text


def test_the_api_answers_for_the_run_asked(client) -> None:
    by_end = {r["period_end"][:10]: r["id"] for r in _runs(client)}
    older = client.get(f"/api/domain?run={by_end['2026-11-16']}").json()
    newer = client.get(f"/api/domain?run={by_end['2026-11-23']}").json()
    assert older["now"] == "2026-11-16T00:00:00Z"
    assert newer["now"] == "2026-11-23T00:00:00Z"
    # the week ending 23 Nov has the run before it to compare with; the first run has none
    assert newer["movement"]["before"] is not None and newer["movement"]["moves"]
    assert older["movement"]["before"] is None and older["movement"]["moves"] == []


def test_an_unknown_run_is_a_404_page_not_a_traceback(client) -> None:
    page = client.get("/?run=999")
    assert page.status_code == 404
    assert "no stored analysis run 999" in page.text and "Traceback" not in page.text
    assert "/api/runs" in page.text  # the hint says where the runs are listed
    api = client.get("/api/squads/checkout?run=999")
    assert api.status_code == 404
    assert api.json()["error"]["message"] == "no stored analysis run 999"


@pytest.mark.parametrize(("query", "words"), [("range=3d", "range '3d' is unknown; expected one of 7d, 14d, 28d"),
                                               ("run=latest", "run 'latest' is not an analysis run id")])
def test_a_bad_run_or_range_is_a_400_naming_it(client, query: str, words: str) -> None:
    page = client.get(f"/?{query}")
    assert page.status_code == 400 and words in html.unescape(page.text)
    api = client.get(f"/api/domain?{query}")
    assert api.status_code == 400 and words in api.json()["error"]["message"]


def test_the_range_sets_the_charts_and_the_strips(client) -> None:
    week = client.get("/api/services/checkout-api/series?range=7d").json()
    month = client.get("/api/services/checkout-api/series?range=28d").json()
    assert len(week["t"]) == 7 * 24 and len(month["t"]) == 28 * 24
    page = client.get("/services/checkout-api?range=7d").text
    assert "range=7d" in page and "last 7 days, hourly" in page
    strips = client.get("/api/domain?range=7d").json()["squad_strips"]
    assert {s["squad"] for s in strips} == {"checkout", "payments", "platform"}
    assert all(len(s["series"]["values"]["requests"]) == 7 and s["series"]["bucket_days"] == 1 for s in strips)


def test_the_domain_page_shows_the_movement_and_one_strip_per_squad(client) -> None:
    page = client.get("/").text
    assert "Since the previous report" in page
    assert page.count('class="squad-strip ') == 3
    assert page.count("<svg") >= 3 * 4  # four sparklines per squad
