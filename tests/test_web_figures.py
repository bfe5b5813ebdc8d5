"""The dashboard shows every figure a report shows (SLO and error budget, capacity and runway,
cost and savings, maturity, load tests against production): a page and a JSON endpoint each,
documented in the OpenAPI schema, with the numbers of the report of the same stored run."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from reports_fixture import XSS, build_workspace

ENDPOINTS = ("run", "slo", "capacity", "cost", "maturity", "tests")
PAGES = ("/slo", "/capacity", "/cost", "/maturity", "/tests")


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    return build_workspace(tmp_path_factory.mktemp("figures") / "ws", hostile=True)


@pytest.fixture(scope="module")
def client(ws):
    from perfops.web.app import create_app

    return TestClient(create_app(ws, token="t"))


def _report(ws, audience: str, **scope: str) -> dict:
    from perfops.usecases.reports import render_reports
    from perfops.workspace import Workspace

    workspace = Workspace(ws)
    target = ws / f"{audience}-{'-'.join(scope.values())}.json"
    render_reports(workspace, audience=audience, fmt="json", output=target, **scope)
    doc = json.loads(target.read_text())
    return {s["id"]: s["data"] for s in doc["sections"]}


@pytest.mark.parametrize("name", ENDPOINTS)
def test_every_figure_endpoint_answers_and_is_documented_with_its_model(client, name):
    answer = client.get(f"/api/figures/{name}")
    assert answer.status_code == 200 and answer.json()["run"]["period_end"] == "2026-11-23T00:00:00"
    schema = client.get("/openapi.json").json()
    ok = schema["paths"][f"/api/figures/{name}"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok["$ref"].startswith("#/components/schemas/")


@pytest.mark.parametrize("path", PAGES)
def test_every_figure_page_renders_escaped_and_is_linked(client, path):
    page = client.get(path)
    assert page.status_code == 200 and "<script>alert" not in page.text
    assert f'href="{path}"' in client.get("/").text


def test_an_unknown_squad_is_a_400_in_the_one_error_shape(client):
    answer = client.get("/api/figures/capacity", params={"squad": "nope"})
    assert answer.status_code == 400 and "squad 'nope' is unknown" in answer.json()["error"]["message"]


def test_cost_figures_are_the_executive_reports(ws, client):
    report = _report(ws, "executive")["cost-spend"]
    api = client.get("/api/figures/cost").json()
    assert api["monthly_spend"] == pytest.approx(report["domain"]["monthly_spend"])
    assert api["last_7_days"] == pytest.approx(report["domain"]["last_7_days"])
    assert [s["service"] for s in api["services"]] == [s["service"] for s in report["services"]]
    assert api["savings"][0]["monthly_savings"] == 1250.0 and api["total_monthly_savings"] == 1250.0


def test_capacity_and_slo_figures_are_the_lead_reports(ws, client):
    sections = _report(ws, "lead", squad="checkout")
    capacity = {row["service"]: row for row in sections["capacity-table"]}
    api = {row["service"]: row for row in client.get("/api/figures/capacity", params={"squad": "checkout"}).json()["services"]}
    assert set(api) == set(capacity) == {"checkout-api", "cart"}
    for name, row in capacity.items():
        assert api[name]["peak_tps"] == pytest.approx(row["peak_tps"], rel=1e-3)
        assert api[name]["instances_needed"] == row["instances_needed"]
    slo = {s["service"]: s["slo"] for s in sections["experience-slos"]}
    api_slo = {s["service"]: s["slo"] for s in client.get("/api/figures/slo", params={"squad": "checkout"}).json()["services"]}
    assert set(api_slo) == set(slo) and api_slo["checkout-api"] == slo["checkout-api"]


def test_a_hostile_name_is_escaped_on_the_slo_page(client):
    assert XSS not in client.get("/slo").text


def test_every_page_says_which_stored_run_and_period_it_shows(client):
    for path in ("/", "/services", "/squads/checkout", *PAGES):
        assert "analysis run" in client.get(path).text and "2026-11-16 00:00 to 2026-11-23 00:00 UTC" in client.get(path).text


def test_capacity_forecast_series_only_when_asked(client):
    plain = client.get("/api/figures/capacity").json()["services"]
    full = client.get("/api/figures/capacity", params={"forecast": "true"}).json()["services"]
    assert all(s["forecast"] is None for s in plain)
    assert any(s["forecast"] and s["forecast"]["forecast_times"] for s in full)
    assert [s["peak_tps"] for s in plain] == [s["peak_tps"] for s in full]
