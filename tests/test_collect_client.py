"""The Prometheus client and collect use case against httpx.MockTransport: chunks, retries, auth."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta
from urllib.parse import parse_qs

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from perfops.errors import PerfopsError, SourceError
from perfops.model.catalog import PrometheusSource
from perfops.sources.prometheus import Chunk, PrometheusClient, align, plan_chunks, render_query
from perfops.store import open_store
from perfops.store.collect_repo import CollectStateRepo
from perfops.usecases.collect import collect_prometheus
from perfops.workspace import parse_catalog

T0 = datetime(2026, 11, 1)


def _catalog(text: str, **extra: str):
    options = "".join(f"    {k}: {v}\n" for k, v in extra.items())
    return parse_catalog(text + (
        "sources:\n  prometheus:\n    url: http://prom.test:9090\n    step: 60s\n" + options +
        "    queries:\n      requests: 'sum by (service, endpoint) (increase(http_requests_total[{step}]))'\n"
    ))


def _matrix(form: dict[str, list[str]], labels: list[dict[str, str]]) -> dict:
    start, end, step = float(form["start"][0]), float(form["end"][0]), float(form["step"][0])
    times = [start + i * step for i in range(int(round((end - start) / step)) + 1)]
    result = [{"metric": m, "values": [[t, str(t % 1000)] for t in times]} for m in labels]
    return {"status": "success", "data": {"resultType": "matrix", "result": result}}


def _form(request: httpx.Request) -> dict[str, list[str]]:
    return parse_qs(request.content.decode())


def test_plan_chunks_respects_the_point_limit_and_covers_the_range():
    step = timedelta(minutes=1)
    chunks = plan_chunks("requests", "x", T0, T0 + timedelta(days=7), step, 11000, concurrency=4)
    assert all(c.points <= 11000 for c in chunks)
    assert len(chunks) == 4  # split for the queries in flight
    assert chunks[0].start == T0 and chunks[-1].end == T0 + timedelta(days=7)
    for before, after in zip(chunks, chunks[1:], strict=False):
        assert after.start == before.end + step
    assert sum(c.points for c in chunks) == 7 * 1440 + 1


@given(total=st.integers(min_value=0, max_value=30000), limit=st.integers(min_value=2, max_value=11000),
       workers=st.integers(min_value=1, max_value=8))
def test_plan_chunks_property(total, limit, workers):
    step = timedelta(seconds=15)
    chunks = plan_chunks("m", "q", T0, T0 + total * step, step, limit, workers)
    assert sum(c.points for c in chunks) == total + 1
    assert all(0 < c.points <= limit for c in chunks)


def test_step_placeholder_and_alignment():
    assert render_query("increase(x[{step}])", timedelta(seconds=60)) == "increase(x[1m])"
    assert align(datetime(2026, 11, 1, 10, 7, 31), timedelta(minutes=5)) == datetime(2026, 11, 1, 10, 5)


def test_retries_5xx_then_succeeds_and_sends_bearer_token(small_catalog_text):
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) < 3:
            return httpx.Response(503, text="overloaded")
        return httpx.Response(200, json=_matrix(_form(request), [{"service": "payments", "endpoint": "POST /pay"}]))

    catalog = _catalog(small_catalog_text, bearer_token_env="PROM_TOKEN")
    with open_store(None) as store:
        report = collect_prometheus(store, catalog, now=T0, since=timedelta(minutes=10),
                                    transport=httpx.MockTransport(handler), env={"PROM_TOKEN": "s3cret"},
                                    sleep=lambda s: None)
        assert store.telemetry.count() == 11
    assert len(calls) == 3
    assert all(c.headers["authorization"] == "Bearer s3cret" for c in calls)
    assert _form(calls[0])["query"][0] == "sum by (service, endpoint) (increase(http_requests_total[1m]))"
    assert report.rows == 11


def test_gives_up_after_retries_with_the_server_message(small_catalog_text):
    transport = httpx.MockTransport(lambda r: httpx.Response(502, json={"status": "error", "error": "bad gateway"}))
    with open_store(None) as store, pytest.raises(SourceError) as caught:
        collect_prometheus(store, _catalog(small_catalog_text), now=T0, since=timedelta(minutes=10),
                           transport=transport, sleep=lambda s: None)
    assert "HTTP 502" in str(caught.value) and "bad gateway" in str(caught.value)


def test_timeouts_are_retried(small_catalog_text):
    attempts = []

    def handler(request: httpx.Request) -> httpx.Response:
        attempts.append(1)
        if len(attempts) == 1:
            raise httpx.ReadTimeout("slow", request=request)
        return httpx.Response(200, json=_matrix(_form(request), [{"service": "payments"}]))

    with open_store(None) as store:
        collect_prometheus(store, _catalog(small_catalog_text), now=T0, since=timedelta(minutes=5),
                           transport=httpx.MockTransport(handler), sleep=lambda s: None)
        assert store.telemetry.count() == 6
    assert len(attempts) == 2


def test_basic_auth_from_environment(small_catalog_text):
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("authorization"))
        return httpx.Response(200, json=_matrix(_form(request), []))

    catalog = _catalog(small_catalog_text, basic_auth_user="perfops", basic_auth_password_env="PROM_PW")
    with open_store(None) as store:
        collect_prometheus(store, catalog, now=T0, since=timedelta(minutes=5),
                           transport=httpx.MockTransport(handler), env={"PROM_PW": "pw"})
    assert seen[0] == "Basic " + base64.b64encode(b"perfops:pw").decode()


def test_missing_token_variable_is_a_user_error(small_catalog_text):
    catalog = _catalog(small_catalog_text, bearer_token_env="NOT_SET_ANYWHERE")
    with open_store(None) as store, pytest.raises(PerfopsError) as caught:
        collect_prometheus(store, catalog, now=T0, transport=httpx.MockTransport(lambda r: httpx.Response(200)),
                           env={})
    assert "NOT_SET_ANYWHERE" in str(caught.value)


def test_unauthorised_is_reported(small_catalog_text):
    transport = httpx.MockTransport(lambda r: httpx.Response(401, text="no"))
    with open_store(None) as store, pytest.raises(SourceError) as caught:
        collect_prometheus(store, _catalog(small_catalog_text), now=T0, since=timedelta(minutes=5),
                           transport=transport)
    assert "refused the credentials" in str(caught.value)


def test_several_queries_in_flight(small_catalog_text):
    import threading
    import time

    active, peak, lock = [0], [0], threading.Lock()

    def handler(request: httpx.Request) -> httpx.Response:
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.05)
        with lock:
            active[0] -= 1
        return httpx.Response(200, json=_matrix(_form(request), [{"service": "payments"}]))

    catalog = _catalog(small_catalog_text, concurrency="3", max_points_per_query="400")
    with open_store(None) as store:
        report = collect_prometheus(store, catalog, now=T0, since=timedelta(days=1),
                                    transport=httpx.MockTransport(handler))
        assert store.telemetry.count() == 1441
    assert report.queries[0].chunks == 4
    assert peak[0] >= 2


def test_collect_state_never_moves_backwards():
    with open_store(None) as store:
        repo = CollectStateRepo(store.con)
        repo.advance("prometheus:x", "q", T0)
        repo.advance("prometheus:x", "q", T0 - timedelta(hours=1))
        assert repo.last("prometheus:x", "q") == T0
        assert repo.last("prometheus:x", "other") is None


def test_client_parses_matrix_json_of_a_chunk():
    body = {"status": "success", "data": {"resultType": "matrix", "result": [
        {"metric": {"service": "a"}, "values": [[1.0, "2"]]}]}}
    client = PrometheusClient(PrometheusSource(url="http://p"), transport=httpx.MockTransport(
        lambda r: httpx.Response(200, content=json.dumps(body).encode())))
    with client:
        answer = client.query_range(Chunk("requests", "x", T0, T0, timedelta(minutes=1)))
    assert json.loads(answer) == body
