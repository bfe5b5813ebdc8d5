"""Credentials in a Prometheus URL are refused by `perfops check` with a pointer to the *_env
settings, and nothing perfops prints or stores about a source holds them (issue 17 item 8);
`check` also refuses a cluster that is not an address and a webhook that is not http(s)
(item 13). Redaction has one owner: perfops.model.redact."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
import pytest

from perfops.errors import SourceError
from perfops.model.catalog import PrometheusSource, Sources
from perfops.model.redact import redact_text, redact_url, url_credentials
from perfops.store import open_store
from perfops.usecases.collect import collect_prometheus
from perfops.workspace import parse_catalog

T0 = datetime(2026, 11, 1)
SECRET = "hunter2-s3cr3t"


def _yaml_with(small_catalog_text: str, url: str) -> str:
    return small_catalog_text + (f"sources:\n  prometheus:\n    url: '{url}'\n"
                                 "    queries:\n      requests: 'sum by (service) (rate(x[1m]))'\n")


@pytest.mark.parametrize("url", [f"https://perfops:{SECRET}@prom.example:9090",
                                 f"https://prom.example/api?token={SECRET}",
                                 f"https://prom.example/?x=1&access_token={SECRET}",
                                 f"https://prom.example/?API_KEY={SECRET}"])
def test_check_refuses_credentials_in_the_url_and_names_the_env_settings(cli, tmp_path, small_catalog_text, url):
    (tmp_path / "perfops.yaml").write_text(_yaml_with(small_catalog_text, url))
    result = cli("check", workspace=tmp_path)
    assert result.code == 1
    said = result.out + result.err
    assert "sources.prometheus.url" in said and "bearer_token_env" in said and "basic_auth_password_env" in said
    assert "perfops.yaml:" in said and SECRET not in said


def test_check_refuses_a_cluster_that_is_not_an_address_and_a_webhook_that_is_not_http(cli, tmp_path):
    (tmp_path / "perfops.yaml").write_text(
        "domain: D\ncluster: not-an-address\nsquads:\n  - name: a\n    webhook: 'javascript:alert(1)'\n"
        "services:\n  - name: s\n    squad: a\n    tier: 1\n")
    result = cli("check", workspace=tmp_path)
    said = result.out + result.err
    assert result.code == 1
    assert "perfops.yaml:2: cluster: expected a Dask scheduler address" in said
    assert "perfops.yaml:5: squads.0.webhook: expected an http:// or https:// URL" in said


@pytest.mark.parametrize("cluster", ["tcp://127.0.0.1:8786", "tls://scheduler.example:8786", "scheduler:8786"])
def test_check_accepts_scheduler_addresses(cli, tmp_path, cluster):
    (tmp_path / "perfops.yaml").write_text(
        f"domain: D\ncluster: '{cluster}'\nsquads:\n  - name: a\n    webhook: https://hooks.example/x\n"
        "services:\n  - name: s\n    squad: a\n    tier: 1\n")
    assert cli("check", workspace=tmp_path).code == 0


def test_redact_hides_user_info_secret_parameters_and_echoed_auth_headers():
    assert redact_url(f"https://bob:{SECRET}@prom:9090/x?token={SECRET}&step=60") == \
        "https://***@prom:9090/x?token=***&step=60"
    assert redact_url("http://prom:9090/api") == "http://prom:9090/api"
    assert url_credentials(f"https://bob:{SECRET}@p/?access_token=1") == ["user:password@", "?access_token="]
    assert url_credentials("https://p/?query=up") == []
    echoed = (f'proxy error for https://u:{SECRET}@p/q?api_key={SECRET}: request headers were '
              f'{{"Authorization": "Bearer {SECRET}"}}, Authorization: Basic {SECRET}; token={SECRET}')
    assert SECRET not in redact_text(echoed)
    assert "https://***@p/q?api_key=***" in redact_text(echoed)


def test_server_error_bodies_that_echo_the_auth_header_are_redacted(small_catalog_text):
    catalog = parse_catalog(small_catalog_text + (
        "sources:\n  prometheus:\n    url: http://prom.test:9090\n    bearer_token_env: PROM_TOKEN\n"
        "    queries:\n      requests: 'sum by (service) (rate(x[1m]))'\n"))

    def echo(request: httpx.Request) -> httpx.Response:  # a proxy that echoes what it got
        return httpx.Response(502, text=f"upstream failed; request headers: Authorization: "
                                        f"{request.headers['authorization']}")

    def rejected(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"status": "error", "error": f"bad query from {request.headers['authorization']}"})

    for handler in (echo, rejected):
        with open_store(None) as store, pytest.raises(SourceError) as caught:
            collect_prometheus(store, catalog, now=T0, since=timedelta(minutes=10), env={"PROM_TOKEN": SECRET},
                               transport=httpx.MockTransport(handler), sleep=lambda s: None)
        assert SECRET not in str(caught.value) and SECRET not in (caught.value.hint or "")


def test_a_url_with_credentials_never_reaches_messages_or_the_store(small_catalog_text):
    """Whatever lets such a URL through (an older perfops.yaml, a catalog built in code), the
    source name printed and stored, and every error, are redacted."""
    catalog = parse_catalog(small_catalog_text)
    source = PrometheusSource.model_construct(**{**PrometheusSource(url="http://x", queries={}).model_dump(),
                                                 "url": f"http://reader:{SECRET}@prom.test:9090/?token={SECRET}",
                                                 "queries": {"requests": "sum by (service) (rate(x[1m]))"}})
    catalog = catalog.model_copy(update={"sources": Sources.model_construct(prometheus=source)})

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"status": "success", "data": {"resultType": "matrix", "result": [
            {"metric": {"service": "payments"}, "values": [[T0.timestamp() - 60, "1"]]}]}})

    with open_store(None) as store:
        report = collect_prometheus(store, catalog, now=T0, since=timedelta(minutes=10),
                                    transport=httpx.MockTransport(answer), sleep=lambda s: None)
        stored = store.con.execute("SELECT source FROM collect_state").fetchall()
    assert SECRET not in report.source and stored and all(SECRET not in row[0] for row in stored)

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot connect to {request.url}")

    with open_store(None) as store, pytest.raises(SourceError) as caught:
        collect_prometheus(store, catalog, now=T0, since=timedelta(minutes=10),
                           transport=httpx.MockTransport(down), sleep=lambda s: None)
    assert SECRET not in str(caught.value) and "***" in str(caught.value)


def test_the_migration_redacts_sources_stored_before(tmp_path):
    import duckdb

    from perfops.store.database import _migrate
    from perfops.store.migrations import MIGRATIONS

    con = duckdb.connect(str(tmp_path / "old.duckdb"))
    con.execute("CREATE TABLE schema_version (version INTEGER)")
    con.execute(MIGRATIONS[0])
    con.execute("INSERT INTO schema_version VALUES (1)")
    con.execute("INSERT INTO collect_state VALUES (?, 'q', NULL)",
                [f"prometheus:https://bob:{SECRET}@prom:9090/?x=1&access_token={SECRET}"])
    _migrate(con)
    assert con.execute("SELECT source FROM collect_state").fetchone()[0] == \
        "prometheus:https://***@prom:9090/?x=1&access_token=***"
