"""Web and output safety (issue 9): hostile names (HTML, JavaScript, SQL) are shown as text in
pages, API, reports and digests; writes need the token and a refused write changes nothing;
`perfops serve` binds to loopback by default; no secret (the dashboard token, webhook URLs,
Prometheus credentials from the environment) reaches pages, API, reports, digests or logs; and
request size and write rate are limited.

Complements tests/test_web.py (the dashboard's own escaping tests) with the attacker's view.
"""

from __future__ import annotations

import html
import json
import logging
from pathlib import Path

import httpx
import pytest

from reports_fixture import CATALOG, NOW, XSS, XSS_CONSUMER, build_workspace

SQL = "'; DROP TABLE findings; --"
ATTR = '"><img src=x onerror=alert(1)>'
HOSTILE = (XSS, XSS_CONSUMER, SQL, ATTR)
TOKEN = "tok-9f3c2a7e51d04b8c"
WEBHOOK = "https://hooks.example/services/T0SECRET/B0SECRET/whsecret0123456789"
DOMAIN_WEBHOOK = "https://hooks.example/services/T0SECRET/B0DOMAIN/domainsecret987"
PROM_PASSWORD = "prom-pass-4c1d9e"
PROM_TOKEN = "prom-bearer-7a2b6f"
SECRETS = (TOKEN, WEBHOOK, "whsecret0123456789", DOMAIN_WEBHOOK, "domainsecret987", PROM_PASSWORD, PROM_TOKEN)

SOURCES = """\
sources:
  prometheus:
    url: http://prometheus.internal:9090
    bearer_token_env: PERFOPS_TEST_PROM_TOKEN
    basic_auth_user: perfops-reader
    basic_auth_password_env: PERFOPS_TEST_PROM_PASSWORD
    queries:
      requests: 'sum by (service) (increase(http_requests_total[5m]))'
"""


def hostile_catalog() -> str:
    return CATALOG.replace("http://127.0.0.1:9/hook/checkout", WEBHOOK) + SOURCES


@pytest.fixture
def secrets_env(monkeypatch):
    monkeypatch.setenv("PERFOPS_TOKEN", TOKEN)
    monkeypatch.setenv("PERFOPS_TEST_PROM_PASSWORD", PROM_PASSWORD)
    monkeypatch.setenv("PERFOPS_TEST_PROM_TOKEN", PROM_TOKEN)
    monkeypatch.setenv("PERFOPS_DOMAIN_WEBHOOK", DOMAIN_WEBHOOK)


@pytest.fixture
def hostile_root(tmp_path, secrets_env) -> Path:
    """The reports fixture with hostile names, plus SQL and attribute-breaking names, secrets in
    the catalog and the environment."""
    from perfops.model.findings import Finding
    from perfops.store import open_store
    from perfops.workspace import Workspace

    root = build_workspace(tmp_path / "ws", hostile=True)
    (root / "perfops.yaml").write_text(hostile_catalog())
    extra = Finding(kind="consumer_misuse", severity="high", service="cart", squad="checkout", endpoint=SQL,
                    consumer=ATTR, title=f"Consumer {ATTR} calls {SQL}", detail=f"{SQL} {ATTR}", key="sql",
                    start=NOW.replace(day=21))
    with open_store(Workspace(root).store_path) as store:
        store.findings.save_analysis([extra], at=NOW)
        store.findings.comment(extra.id, SQL, f"note {ATTR} {SQL}")
    return root


@pytest.fixture
def client(hostile_root):
    from fastapi.testclient import TestClient

    from perfops.web.app import create_app

    return TestClient(create_app(hostile_root))  # the token comes from PERFOPS_TOKEN


def finding_ids(client) -> list[str]:
    return [f["id"] for f in client.get("/api/findings", params={"status": "all"}).json()]


def assert_no_raw_markup(text: str, where: str) -> None:
    for name in (XSS, XSS_CONSUMER, ATTR):
        assert name not in text, f"{where}: {name!r} is not escaped"


def assert_no_secret(text: str, where: str) -> None:
    leaked = [s for s in SECRETS if s in text]
    assert leaked == [], f"{where} leaks {leaked}"


# ---- hostile names are text ------------------------------------------------------------------
PAGES = ["/", "/services", "/squads/checkout", "/services/cart", "/findings?status=all",
         f"/services/cart/endpoint?name={httpx.QueryParams({'n': SQL})['n']}"]


@pytest.mark.parametrize("path", PAGES)
def test_pages_show_hostile_names_as_text(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert_no_raw_markup(response.text, path)
    assert_no_secret(response.text, path)


def test_every_finding_page_escapes_and_the_sql_name_is_plain_text(client):
    ids = finding_ids(client)
    assert len(ids) >= 8
    for fid in ids:
        page = client.get(f"/findings/{fid}").text
        assert_no_raw_markup(page, f"/findings/{fid}")
        assert_no_secret(page, f"/findings/{fid}")
    sql = next(f for f in client.get("/api/findings", params={"status": "all"}).json() if f["endpoint"] == SQL)
    page = client.get(f"/findings/{sql['id']}").text
    assert html.escape(SQL, quote=True) in page or SQL.replace("'", "&#39;") in page
    assert len(finding_ids(client)) == len(ids)  # the findings table is still there


def test_hostile_names_in_urls_are_escaped_in_error_pages(client):
    for name in HOSTILE:
        for path in (f"/services/{name}", f"/squads/{name}", f"/findings/{name}"):
            response = client.get(path)
            assert 400 <= response.status_code < 500, path
            assert_no_raw_markup(response.text, path)
        api = client.get(f"/api/services/{name}")
        assert api.status_code == 404 and api.headers["content-type"].startswith("application/json")


def test_the_api_returns_hostile_names_as_json_strings(client):
    for path in ("/api/findings?status=all", "/api/domain", "/api/services/cart", "/api/squads/checkout",
                 "/openapi.json"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith("application/json"), path
        assert_no_secret(response.text, path)
    records = client.get("/api/findings", params={"status": "all"}).json()
    assert {SQL, XSS} <= {r["endpoint"] for r in records}
    assert {ATTR, XSS_CONSUMER} <= {r["consumer"] for r in records}


def test_reports_escape_hostile_names_and_hold_no_secret(hostile_root):
    from perfops.usecases.reports import render_reports
    from perfops.workspace import Workspace

    written = render_reports(Workspace(hostile_root), fmt="html", at="2026-11-23T00:00:00Z")
    written += render_reports(Workspace(hostile_root), fmt="json", audience="lead", at="2026-11-23T00:00:00Z")
    written += render_reports(Workspace(hostile_root), fmt="md", audience="lead", at="2026-11-23T00:00:00Z")
    assert written
    seen_names = False
    for path in written:
        text = path.read_text(errors="replace")
        assert_no_secret(text, path.name)
        if path.suffix in (".html", ".md"):  # Markdown viewers render raw HTML too
            assert_no_raw_markup(text, path.name)
        if path.suffix == ".json":
            json.loads(text)  # hostile names did not break the document
        seen_names |= "&lt;script&gt;" in text or "\\u003cscript" in text or XSS in text
    assert seen_names, "the hostile finding should be in some report, or this test proves nothing"


def test_every_markdown_report_escapes_hostile_names(hostile_root):
    """Every audience's Markdown, every section (issue 17 item 11: "Series out of the ordinary"
    of the developer report let endpoint names through): Markdown viewers render raw HTML."""
    from perfops.model.findings import Finding
    from perfops.store import open_store
    from perfops.usecases.reports import render_reports
    from perfops.workspace import Workspace

    charted = Finding(kind="anomaly", severity="high", service="cart", squad="checkout", endpoint=XSS,
                      metric="latency", title=f"{XSS} got slow", detail=XSS, key="xss-latency",
                      start=NOW.replace(day=21))  # a trends finding: its series is charted
    with open_store(Workspace(hostile_root).store_path) as store:
        store.findings.save_analysis([charted], at=NOW)
    written = render_reports(Workspace(hostile_root), fmt="md", at="2026-11-23T00:00:00Z")
    developer = [p for p in written if "cart" in p.name and p.suffix == ".md"]
    assert developer and any("Series out of the ordinary" in p.read_text() for p in developer)
    assert any("&lt;script&gt;" in p.read_text() for p in developer), "the hostile endpoint should be shown"
    for path in written:
        assert_no_raw_markup(path.read_text(errors="replace"), path.name)


def test_digests_escape_for_chat_and_do_not_leak_webhooks(hostile_root):
    from perfops.usecases.notify import send_digests
    from perfops.workspace import Workspace

    sent: list[httpx.Request] = []

    def fail(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(500, text="upstream trouble")

    from perfops.errors import PerfopsError

    with pytest.raises(PerfopsError) as failure:
        send_digests(Workspace(hostile_root), now=NOW, transport=httpx.MockTransport(fail), sleep=lambda s: None)
    assert sent, "digests were posted to the (mock) webhooks"
    assert_no_secret(str(failure.value), "the notify error message")
    for request in sent:
        body = request.content.decode()
        assert XSS not in body and ATTR not in body, "chat markup must be escaped (Slack: &lt; &gt; &amp;)"
    assert any("&lt;script&gt;" in r.content.decode() for r in sent), "the hostile finding should be in a digest"
    dry = send_digests(Workspace(hostile_root), dry_run=True, now=NOW)
    assert_no_secret("\n".join(dry.lines()), "notify --dry-run output")


def test_logs_hold_no_secret(client, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    for path in [*PAGES, "/api/domain", "/api/findings?status=all"]:
        client.get(path)
    fid = finding_ids(client)[0]
    client.post(f"/api/findings/{fid}/comment", json={"by": "x", "note": "y"},
                headers={"Authorization": f"Bearer {TOKEN}"})
    client.post(f"/api/findings/{fid}/comment", json={"by": "x", "note": "y"},
                headers={"Authorization": f"Bearer {TOKEN}-wrong"})
    captured = capsys.readouterr()
    assert_no_secret(caplog.text + captured.out + captured.err, "logs")


# ---- writes need the token -------------------------------------------------------------------
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN + "x"},
                                     {"Authorization": "Bearer "}, {"Authorization": f"Basic {TOKEN}"}],
                         ids=["none", "wrong", "prefix", "empty", "basic-scheme"])
def test_api_writes_without_the_token_are_refused_and_change_nothing(client, headers):
    fid = next(f["id"] for f in client.get("/api/findings").json())
    before = client.get(f"/api/findings/{fid}").json()
    for action, body in (("acknowledge", {"by": "mallory"}), ("resolve", {}), ("assign", {"squad": "platform"}),
                         ("comment", {"by": SQL, "note": XSS})):
        response = client.post(f"/api/findings/{fid}/{action}", json=body, headers=headers)
        assert response.status_code in (401, 403), (action, response.status_code)
        assert "error" in response.json()
    assert client.get(f"/api/findings/{fid}").json() == before


def test_form_writes_without_the_token_are_refused(client):
    fid = next(f["id"] for f in client.get("/api/findings").json())
    before = client.get(f"/api/findings/{fid}").json()
    for form in ("by=mallory", "by=mallory&token=wrong", f"by=mallory&token={TOKEN}x"):
        response = client.post(f"/findings/{fid}/resolve", content=form,
                               headers={"content-type": "application/x-www-form-urlencoded"},
                               follow_redirects=False)
        assert response.status_code in (401, 403), form
    assert client.get(f"/api/findings/{fid}").json() == before


def test_with_the_token_the_write_goes_through(client):
    fid = next(f["id"] for f in client.get("/api/findings").json())
    response = client.post(f"/api/findings/{fid}/acknowledge", json={"by": "priya"},
                           headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert client.get(f"/api/findings/{fid}").json() != {}


def test_without_a_configured_token_every_write_is_refused(hostile_root, monkeypatch):
    from fastapi.testclient import TestClient

    from perfops.web.app import create_app

    monkeypatch.delenv("PERFOPS_TOKEN")
    client = TestClient(create_app(hostile_root))
    fid = next(f["id"] for f in client.get("/api/findings").json())
    for header in ({}, {"Authorization": "Bearer "}, {"Authorization": "Bearer None"}):
        assert client.post(f"/api/findings/{fid}/resolve", json={}, headers=header).status_code == 403


# ---- binding, size and rate --------------------------------------------------------------------
def test_serve_binds_to_loopback_by_default(cli, hostile_root, monkeypatch):
    import uvicorn

    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: calls.append(kwargs))
    result = cli("serve", workspace=hostile_root)
    assert result.code == 0, result
    assert calls and calls[0]["host"] == "127.0.0.1"
    assert_no_secret(result.out + result.err, "perfops serve output")


def test_oversized_requests_are_refused_with_413(client):
    fid = next(f["id"] for f in client.get("/api/findings").json())
    big = {"by": "x", "note": "n" * (2 << 20)}
    response = client.post(f"/api/findings/{fid}/comment", json=big, headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 413


def test_token_guessing_is_rate_limited(client):
    fid = next(f["id"] for f in client.get("/api/findings").json())
    codes = [client.post(f"/api/findings/{fid}/resolve", json={}, headers={"Authorization": f"Bearer guess{i}"})
             .status_code for i in range(120)]
    assert 429 in codes


# ---- the limits middleware itself (perfops.web.limits), on a minimal app -----------------------
def limited_app(clock=None):
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from perfops.web.limits import BodySizeLimit, WriteRateLimit

    async def echo(request):
        return JSONResponse({"size": len(await request.body())})

    async def read(request):
        return JSONResponse({"ok": True})

    app = Starlette(routes=[Route("/echo", echo, methods=["POST"]), Route("/read", read)])
    app.add_middleware(BodySizeLimit, max_bytes=1024)
    app.add_middleware(WriteRateLimit, per_minute=6, clock=clock or (lambda: 0.0))
    return app


def test_body_size_limit_refuses_declared_and_streamed_oversized_bodies():
    from fastapi.testclient import TestClient

    client = TestClient(limited_app())
    assert client.post("/echo", content=b"x" * 1024).json() == {"size": 1024}
    big = client.post("/echo", content=b"x" * 1025)
    assert big.status_code == 413 and big.json()["error"]["status"] == 413

    def chunks():
        for _ in range(8):
            yield b"y" * 200

    assert client.post("/echo", content=chunks()).status_code == 413
    assert client.post("/echo", content=b"x", headers={"content-length": "nonsense"}).status_code in (400, 413)


def test_write_rate_limit_refuses_bursts_per_client_and_refills():
    from fastapi.testclient import TestClient

    now = [0.0]
    client = TestClient(limited_app(clock=lambda: now[0]))
    codes = [client.post("/echo", content=b"").status_code for _ in range(8)]
    assert codes == [200] * 6 + [429] * 2
    refused = client.post("/echo", content=b"")
    assert refused.headers["retry-after"] == "10" and refused.json()["error"]["status"] == 429
    assert all(client.get("/read").status_code == 200 for _ in range(20))  # reads are not limited
    now[0] += 10.0
    assert client.post("/echo", content=b"").status_code == 200
