"""The dashboard works offline and logs nothing in a browser's console by itself: /docs is
Swagger UI from the assets bundled by fastapi-offline (no CDN), allowed by the page's CSP
without inline script, and /favicon.ico answers."""

from __future__ import annotations

import re

import pytest

from reports_fixture import build_workspace


@pytest.fixture
def client(tmp_path):
    from fastapi.testclient import TestClient

    from perfops.web.app import create_app

    return TestClient(create_app(build_workspace(tmp_path / "ws"), token="t"))


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_api_docs_load_only_the_dashboards_own_assets(client, path: str) -> None:
    page = client.get(path)
    assert page.status_code == 200
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert assets and all(a.startswith("/") and not a.startswith("//") for a in assets), assets
    for asset in assets:
        assert client.get(asset).status_code == 200, asset
    policy = page.headers["content-security-policy"]
    assert "http" not in policy  # no CDN, no font host
    assert "script-src 'self';" in policy  # no inline script allowed, so none may be needed:
    assert re.search(r"<script>[^<]", page.text) is None


def test_swagger_is_started_from_a_file_that_names_the_openapi_document(client) -> None:
    init = client.get("/static/swagger-init.js")
    assert init.status_code == 200 and "SwaggerUIBundle(" in init.text and '"/openapi.json"' in init.text
    bundle = client.get("/static-offline-docs/swagger-ui-bundle.js")
    assert bundle.status_code == 200 and "SwaggerUIBundle" in bundle.text
    assert client.get("/openapi.json").json()["info"]["title"] == "perfops dashboard"


def test_favicon_answers_and_every_page_names_it(client) -> None:
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")
    assert icon.text.startswith("<svg")
    assert '<link rel="icon" href="/favicon.ico"' in client.get("/").text
