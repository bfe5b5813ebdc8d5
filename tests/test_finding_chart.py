"""The chart of a finding's page: the stored norm band of its series with markers for the
finding and the deploys of its service and of the service named as its cause."""

from __future__ import annotations

import pytest

from reports_fixture import build_workspace, findings

NOW_EPOCH = 1795392000.0  # 2026-11-23 00:00 UTC, the fixture's NOW


@pytest.fixture
def client(tmp_path):
    from fastapi.testclient import TestClient

    from perfops.web.app import create_app

    return TestClient(create_app(build_workspace(tmp_path / "ws"), token="t"))


def test_a_trends_finding_gets_its_norm_band_and_the_deploy_that_caused_it(client) -> None:
    regression = findings()[1]  # checkout-api POST /checkout latency, after deploy 2.3.1
    page = client.get(f"/findings/{regression.id}").text
    assert f'data-band="/api/findings/{regression.id}/series"' in page and 'data-tz="Australia/Sydney"' in page
    series = client.get(f"/api/findings/{regression.id}/series").json()
    n = len(series["t"])
    assert n > 10 and len(series["observed"]) == len(series["norm"]) == len(series["upper"]) == n
    assert series["t"] == sorted(series["t"]) and series["t"][-1] <= NOW_EPOCH
    assert series["unit"] == "ms"
    labels = [m["label"] for m in series["markers"]]
    assert "finding starts" in labels and "deploy checkout-api 2.3.1" in labels
    assert all("_" not in label for label in labels)


def test_an_upstream_cause_is_marked_on_the_callers_chart(client, tmp_path) -> None:
    import pandas as pd

    from perfops.store import open_store
    from perfops.web.app import create_app
    from perfops.workspace import Workspace
    from reports_fixture import NOW

    root = build_workspace(tmp_path / "up")
    with open_store(Workspace(root).store_path) as store, store.transaction():
        store.telemetry.insert_events(pd.DataFrame({
            "timestamp": pd.Series([NOW - pd.Timedelta(days=3, minutes=20)]).astype("datetime64[us]"),
            "service": ["payments-api"], "type": ["deploy"], "version": ["4.2.0"], "description": ["release"]}))
    from fastapi.testclient import TestClient

    upstream = findings()[2]  # checkout-api GET /checkout/{id}, caused by payments-api being slow
    series = TestClient(create_app(root, token="t")).get(f"/api/findings/{upstream.id}/series").json()
    assert "deploy payments-api 4.2.0" in [m["label"] for m in series["markers"]]


def test_a_finding_without_a_band_still_gets_its_services_chart(client) -> None:
    saving = findings()[3]  # ledger cost: no trends band
    page = client.get(f"/findings/{saving.id}").text
    assert 'data-series="/api/services/ledger/series"' in page
    assert client.get(f"/api/findings/{saving.id}/series").status_code == 404
