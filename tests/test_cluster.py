"""Scale-out on a Dask LocalCluster: partitions in Parquet, results identical to the local run."""

from __future__ import annotations

import sys
import types
from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from perfops.analysis import cluster as C
from perfops.analysis.registry import analyses
from perfops.store import open_store
from perfops.usecases.context import build_context

pytest.importorskip("distributed")


def _telemetry() -> pd.DataFrame:
    """Three weeks at 5 minutes for the small catalog: a daily cycle, a latency step, CPU growth."""
    rng = np.random.default_rng(42)
    times = pd.date_range("2026-10-01", periods=21 * 288, freq="5min").to_numpy().astype("datetime64[us]")
    n = len(times)
    day = np.sin(np.arange(n) / 288 * 2 * np.pi)
    parts = []
    for service, endpoints in (("checkout-api", ["GET /cart", "POST /checkout"]), ("payments", ["POST /pay"])):
        for endpoint in [*endpoints, ""]:
            latency = 120 + 10 * day + rng.normal(0, 3, n)
            latency[-400:] += 60
            for metric, values in (("requests", 200 + 80 * day + rng.normal(0, 5, n)),
                                   ("errors", np.abs(rng.normal(1, 1, n))), ("latency_p95_ms", latency),
                                   ("cpu_pct", 40 + np.arange(n) / n * 30 + rng.normal(0, 2, n))):
                parts.append(pd.DataFrame({"timestamp": times, "service": service, "endpoint": endpoint,
                                           "consumer": "", "metric": metric, "value": values}))
    return pd.concat(parts, ignore_index=True)


@pytest.fixture(scope="module")
def store_and_context():
    from conftest import SMALL_CATALOG
    from perfops.workspace import parse_catalog

    store = open_store(None)
    with store.transaction():
        store.telemetry.upsert(_telemetry())
    yield store, build_context(store, parse_catalog(SMALL_CATALOG))
    store.close()


@pytest.fixture(scope="module")
def local_cluster():
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                      silence_logs=40) as cluster:
        yield cluster


def test_parquet_loader_returns_what_the_store_returns(store_and_context, tmp_path):
    store, ctx = store_and_context
    loader = C.export_partitions(ctx, str(tmp_path), C.service_chunks(ctx, size=1))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["part-00000.parquet", "part-00001.parquet"]
    start, end = datetime(2026, 10, 5), datetime(2026, 10, 9, 12)
    for services, metrics in ((["payments"], ["requests"]), (None, None), (["checkout-api"], None),
                              (["nope"], None)):
        expected = store.telemetry.load(services=services, metrics=metrics, start=start, end=end)
        got = loader(services, metrics, start, end)
        pd.testing.assert_frame_equal(got, expected)


@pytest.mark.slow
def test_cluster_findings_equal_local_findings(store_and_context, local_cluster):
    _, ctx = store_and_context
    areas = analyses()
    local = [f for run in areas.values() for f in run(ctx)]
    assert local, "the data must give findings, or the comparison proves nothing"
    remote = C.run_analyses_on_cluster(local_cluster, ctx, areas, chunk_size=1)
    assert [f.to_record() for f in remote] == [f.to_record() for f in local]


def test_area_with_run_services_is_split_into_service_chunks(store_and_context, tmp_path):
    """An area exposing run_services runs once per chunk of services; the rest whole."""
    from distributed import LocalCluster

    _, ctx = store_and_context
    module = types.ModuleType("perfops_test_area")

    def run(c):
        return [x for chunk in C.service_chunks(c, 1) for x in run_services(c, chunk)]

    def run_services(c, services):
        frame = c.telemetry(services=services, metrics=["requests"])
        return [(tuple(services), len(frame), sorted(set(frame.service)))]

    run.__module__ = run_services.__module__ = module.__name__
    module.run, module.run_services = run, run_services
    sys.modules[module.__name__] = module
    try:
        tasks = C.plan_tasks({"t": run}, C.service_chunks(ctx, 1))
        assert [t[2] for t in tasks] == [["checkout-api"], ["payments"]]
        with LocalCluster(n_workers=2, processes=False, dashboard_address=":0", silence_logs=40) as cluster:
            got = C.run_analyses_on_cluster(cluster, ctx, {"t": run}, chunk_size=1, staging=str(tmp_path))
    finally:
        del sys.modules[module.__name__]
    assert got == run(ctx)
    assert [g[2] for g in got] == [["checkout-api"], ["payments"]]


def test_unreachable_scheduler_is_a_user_error(store_and_context):
    from perfops.errors import PerfopsError

    _, ctx = store_and_context
    with pytest.raises(PerfopsError, match="cannot reach the Dask scheduler"):
        C.run_analyses_on_cluster("tcp://127.0.0.1:1", ctx, {}, chunk_size=1, connect_timeout="2s")
