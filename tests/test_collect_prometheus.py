"""`perfops collect` against a REAL Prometheus server filled with known data (tests/prometheus_server.py).

Skips when Debian's `prometheus` package is not installed.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest

from perfops.errors import SourceError
from perfops.store import open_store
from perfops.usecases.collect import collect_prometheus
from perfops.workspace import parse_catalog
from prometheus_server import INSTALL_HINT, PrometheusServer, Series, binaries, free_port, write_openmetrics

pytestmark = pytest.mark.skipif(binaries() is None, reason=INSTALL_HINT)

BASE = 1_793_491_200  # 2026-11-01T00:00:00Z
MINUTES = 180
KNOWN = {
    ("checkout-api", "GET /cart"): lambda i: 100.0 + 1.5 * i,
    ("checkout-api", "POST /checkout"): lambda i: 7.0 + (i % 13),
    ("payments", "POST /pay"): lambda i: 0.25 * i + 0.125,
}


def _series() -> list[Series]:
    out = [
        Series("perfops_requests", {"service": s, "endpoint": e}, [(BASE + 60 * i, f(i)) for i in range(MINUTES)])
        for (s, e), f in KNOWN.items()
    ]
    out.append(Series("perfops_requests", {"service": "ghost", "endpoint": "GET /x"},
                      [(BASE + 60 * i, 1.0) for i in range(MINUTES)]))
    out.append(Series("perfops_latency_ms", {"service": "payments", "endpoint": "POST /pay"},
                      [(BASE + 60 * i, 200.0 + i) for i in range(MINUTES)]))
    return out


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("prom")
    write_openmetrics(_series(), folder / "data.om")
    with PrometheusServer(folder / "data.om", workdir=folder / "server") as server:
        yield server


def _catalog(small_catalog_text: str, url: str, queries: dict[str, str], max_points: int = 50):
    lines = [f"      {metric}: '{promql}'" for metric, promql in queries.items()]
    text = small_catalog_text + (
        f"sources:\n  prometheus:\n    url: {url}\n    step: 60s\n    max_points_per_query: {max_points}\n"
        "    concurrency: 3\n    timeout: 10s\n    queries:\n" + "\n".join(lines) + "\n"
    )
    return parse_catalog(text)


END = datetime(2026, 11, 1) + timedelta(minutes=MINUTES - 1)


def test_collect_stores_every_written_value(prometheus, small_catalog_text):
    catalog = _catalog(small_catalog_text, prometheus.url,
                       {"requests": "perfops_requests", "latency_p95_ms": "perfops_latency_ms"})
    with open_store(None) as store:
        report = collect_prometheus(store, catalog, now=END, since=timedelta(minutes=MINUTES - 1))
        frame = store.telemetry.load()
        state = store.con.execute("SELECT query, last_timestamp FROM collect_state ORDER BY 1").fetchall()
    assert [q.chunks for q in report.queries] == [4, 4]  # 180 points in chunks of at most 50
    requests = frame[frame.metric == "requests"]
    for (service, endpoint), f in KNOWN.items():
        got = requests[(requests.service == service) & (requests.endpoint == endpoint)]
        expected_times = np.array([datetime(2026, 11, 1) + timedelta(minutes=i) for i in range(MINUTES)],
                                  dtype="datetime64[us]")
        assert got["timestamp"].to_numpy().astype("datetime64[us]").tolist() == expected_times.tolist()
        assert got["value"].tolist() == [f(i) for i in range(MINUTES)]
    latency = frame[frame.metric == "latency_p95_ms"]
    assert latency["value"].tolist() == [200.0 + i for i in range(MINUTES)]
    assert set(frame.service) == {"checkout-api", "payments"}  # 'ghost' is not in the catalog
    assert any('service="ghost"' in u for u in report.queries[0].unmatched)
    assert [row[1] for row in state] == [END, END]


def test_second_collect_resumes_and_duplicates_nothing(prometheus, small_catalog_text):
    catalog = _catalog(small_catalog_text, prometheus.url, {"requests": "perfops_requests"})
    with open_store(None) as store:
        collect_prometheus(store, catalog, now=END - timedelta(minutes=60), since=timedelta(minutes=MINUTES - 61))
        first = store.telemetry.count()
        again = collect_prometheus(store, catalog, now=END)  # no --since: resume from collect_state
        total = store.telemetry.count()
    assert first == 3 * (MINUTES - 60)
    assert total == 3 * MINUTES
    assert again.queries[0].start == END - timedelta(minutes=61)  # one step of overlap


def test_bad_query_shows_prometheus_message(prometheus, small_catalog_text):
    catalog = _catalog(small_catalog_text, prometheus.url, {"requests": "sum by (service) (perfops_requests"})
    with open_store(None) as store, pytest.raises(SourceError) as caught:
        collect_prometheus(store, catalog, now=END, since=timedelta(minutes=30))
    assert "rejected the query for 'requests'" in str(caught.value)
    assert "parse error" in str(caught.value)


def test_query_without_service_label_is_an_error(prometheus, small_catalog_text):
    catalog = _catalog(small_catalog_text, prometheus.url, {"requests": "sum(perfops_requests)"})
    with open_store(None) as store, pytest.raises(SourceError) as caught:
        collect_prometheus(store, catalog, now=END, since=timedelta(minutes=30))
    assert "names a catalog service" in str(caught.value)


def test_unreachable_server_is_a_clear_error(small_catalog_text):
    catalog = _catalog(small_catalog_text, f"http://127.0.0.1:{free_port()}", {"requests": "up"})
    with open_store(None) as store, pytest.raises(SourceError) as caught:
        collect_prometheus(store, catalog, now=END, since=timedelta(minutes=30), sleep=lambda s: None)
    assert "unreachable" in str(caught.value)


def _perfops(*args: str, cwd=None):
    import subprocess
    import sys
    from pathlib import Path

    exe = Path(sys.executable).with_name("perfops")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=120, cwd=cwd)


@pytest.mark.slow
def test_cli_collect_end_to_end(prometheus, small_catalog_text, tmp_path):
    catalog = _catalog(small_catalog_text, prometheus.url, {"requests": "perfops_requests"})
    assert catalog.sources is not None
    text = small_catalog_text + (
        f"sources:\n  prometheus:\n    url: {prometheus.url}\n    step: 60s\n"
        "    queries:\n      requests: 'perfops_requests'\n")
    (tmp_path / "perfops.yaml").write_text(text)
    done = _perfops("collect", "--since", f"{MINUTES - 1}m", "--until", "2026-11-01T02:59:00Z", "-w", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert f"collected {3 * MINUTES:,} points" in done.stdout
    assert "ghost" in done.stderr  # the series of a service not in the catalog is a warning
    again = _perfops("collect", "--until", "2026-11-01T02:59:00Z", "-w", str(tmp_path), "-q")
    assert again.returncode == 0 and again.stdout == ""


@pytest.mark.slow
def test_cli_collect_user_error_is_exit_1(small_catalog_text, tmp_path):
    (tmp_path / "perfops.yaml").write_text(small_catalog_text + (
        f"sources:\n  prometheus:\n    url: http://127.0.0.1:{free_port()}\n    bearer_token_env: PERFOPS_NO_SUCH_VAR\n"
        "    queries:\n      requests: 'up'\n"))
    done = _perfops("collect", "--since", "10m", "-w", str(tmp_path))
    assert done.returncode == 1
    assert done.stderr.startswith("error: sources.prometheus.bearer_token_env names the environment variable")
    nothing = _perfops("collect", "-w", str(tmp_path), "--since", "soon")
    assert nothing.returncode == 1 and "--since" in nothing.stderr
