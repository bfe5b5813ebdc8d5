"""Dashboard and JSON API through FastAPI's TestClient: drill-down pages, filters, the workflow
with its history, the token rule for writes, one JSON error shape, escaping of hostile names."""

from __future__ import annotations

import pytest

from reports_fixture import XSS, XSS_CONSUMER, build_workspace

TOKEN = "t0ken-for-tests"


@pytest.fixture
def client(tmp_path):
    from fastapi.testclient import TestClient

    from perfops.web.app import create_app

    root = build_workspace(tmp_path / "ws", hostile=True)
    return TestClient(create_app(root, token=TOKEN))


def _first_open(client) -> str:
    return client.get("/api/findings", params={"status": "open"}).json()[0]["id"]


@pytest.mark.parametrize("path", ["/", "/services", "/squads/checkout", "/services/cart", "/services/checkout-api",
                                  "/services/cart/endpoint?name=GET%20/cart", "/findings?status=all"])
def test_pages_render_and_escape(client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert XSS not in response.text and XSS_CONSUMER not in response.text


def test_hostile_endpoint_page_and_finding_page_escape(client) -> None:
    page = client.get("/services/cart/endpoint", params={"name": XSS})
    assert page.status_code == 200 and XSS not in page.text and "&lt;script&gt;" in page.text
    hostile = next(f for f in client.get("/api/findings").json() if f["endpoint"] == XSS)
    detail = client.get(f"/findings/{hostile['id']}").text
    assert XSS not in detail and XSS_CONSUMER not in detail


def test_api_keeps_hostile_names_as_json_data(client) -> None:
    response = client.get("/api/findings")
    assert response.headers["content-type"].startswith("application/json")
    assert any(f["consumer"] == XSS_CONSUMER for f in response.json())


def test_domain_api_matches_the_page(client) -> None:
    d = client.get("/api/domain").json()
    assert d["out_of_ordinary"][0]["severity"] == "critical"
    assert {s["name"] for s in d["services"]} == {"checkout-api", "cart", "payments-api", "ledger", "auth", "reporting"}
    page = client.get("/").text
    assert d["headline"] in page


def test_filters(client) -> None:
    only = client.get("/api/findings", params={"squad": "payments", "status": "all"}).json()
    assert only and {f["squad"] for f in only} == {"payments"}
    severe = client.get("/api/findings", params={"min_severity": "high"}).json()
    assert {f["severity"] for f in severe} <= {"critical", "high"}
    bad = client.get("/api/findings", params={"status": "nope"})
    assert bad.status_code == 400 and bad.json()["error"]["status"] == 400
    unknown = client.get("/api/findings", params={"squad": "nosuch"})  # as the CLI: an error, not []
    assert unknown.status_code == 400 and "squad 'nosuch' is unknown" in unknown.json()["error"]["message"]


def test_writes_need_the_token(client) -> None:
    fid = _first_open(client)
    assert client.post(f"/api/findings/{fid}/acknowledge", json={}).status_code == 401
    wrong = client.post(f"/api/findings/{fid}/acknowledge", json={}, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.json()["error"]["message"]
    assert client.post(f"/findings/{fid}/acknowledge", data={"token": "nope"}).status_code == 401
    assert client.get(f"/api/findings/{fid}").json()["status"] == "open"


def test_no_token_configured_means_read_only(tmp_path, monkeypatch) -> None:
    from fastapi.testclient import TestClient

    from perfops.web.app import create_app

    monkeypatch.delenv("PERFOPS_TOKEN", raising=False)
    client = TestClient(create_app(build_workspace(tmp_path / "ro")))
    fid = _first_open(client)
    response = client.post(f"/api/findings/{fid}/acknowledge", json={}, headers={"Authorization": "Bearer x"})
    assert response.status_code == 403 and ".perfops/token" in response.json()["error"]["hint"]
    assert "Read-only" in client.get(f"/findings/{fid}").text


def test_token_file_in_the_workspace(tmp_path, monkeypatch) -> None:
    from perfops.web.app import configured_token

    monkeypatch.delenv("PERFOPS_TOKEN", raising=False)
    (tmp_path / ".perfops").mkdir()
    (tmp_path / ".perfops" / "token").write_text("abc\n")
    assert configured_token(tmp_path) == "abc"
    monkeypatch.setenv("PERFOPS_TOKEN", "env-wins")
    assert configured_token(tmp_path) == "env-wins"


def test_workflow_keeps_history_and_updates_pages(client) -> None:
    fid = _first_open(client)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert client.post(f"/api/findings/{fid}/acknowledge", json={"by": "Priya", "note": "on it"}, headers=auth).json()["status"] == "acknowledged"
    assert client.post(f"/api/findings/{fid}/assign", json={"by": "Priya", "squad": "payments"}, headers=auth).json()["squad"] == "payments"
    client.post(f"/api/findings/{fid}/comment", json={"by": "Tom", "note": f"hi {XSS}"}, headers=auth)
    assert client.post(f"/api/findings/{fid}/resolve", json={"by": "Tom"}, headers=auth).json()["status"] == "resolved"
    done = client.post(f"/api/findings/{fid}/reopen", json={"by": "Tom"}, headers=auth).json()
    assert [h["action"] for h in done["history"]] == ["found", "acknowledged", "assigned", "commented", "resolved", "reopened"]
    page = client.get(f"/findings/{fid}").text
    assert "Priya" in page and XSS not in page
    assert any(f["id"] == fid for f in client.get("/api/squads/payments").json()["findings"])
    again = client.post(f"/api/findings/{fid}/reopen", json={}, headers=auth)
    assert again.status_code == 400 and "already open" in again.json()["error"]["message"]


def test_form_workflow_redirects_back_with_history(client) -> None:
    fid = _first_open(client)
    response = client.post(f"/findings/{fid}/acknowledge", data={"token": TOKEN, "by": "Ana", "note": "seen"})
    assert response.status_code == 200 and "Acknowledged." in response.text
    assert "Ana" in response.text and ">acknowledged<" in response.text


def test_unknown_things_are_404_in_one_shape(client) -> None:
    for path in ("/api/services/nope", "/api/squads/nope", "/api/findings/F-nope"):
        body = client.get(path).json()
        assert set(body) == {"error"} and body["error"]["status"] == 404
    assert client.get("/services/nope").status_code == 404


def test_series_for_charts_and_openapi(client) -> None:
    series = client.get("/api/services/cart/series").json()
    assert len(series["t"]) == 14 * 24 and len(series["requests"]) == len(series["t"])
    assert any(v for v in series["requests"])
    one = client.get("/api/services/cart/series", params={"endpoint": "GET /cart"}).json()
    assert any(v for v in one["latency_p95_ms"])
    paths = client.get("/openapi.json").json()["paths"]
    assert "/api/domain" in paths and "/api/findings/{finding_id}/{action}" in paths
    assert client.get("/static/uPlot.iife.min.js").status_code == 200
