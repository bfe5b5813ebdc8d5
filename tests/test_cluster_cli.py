"""`perfops analyze --cluster` through the CLI against a real Dask cluster started the way
docs/scale-out.md tells users to: `dask scheduler` and `dask worker` as separate processes
(on loopback, random ports), not an in-process LocalCluster (issue 17 item 12: partitions with
categorical columns failed there with ArrowTypeError). Its findings must equal a local run's."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("distributed")
pytestmark = pytest.mark.slow

DASK = Path(sys.executable).with_name("dask")
START_WAIT = 90  # s for the scheduler and the worker to come up


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(15)


@pytest.fixture
def scheduler(tmp_path: Path):
    """The address of a `dask scheduler` with one `dask worker` (two processes of their own,
    each in its own process group, killed in teardown whatever happens)."""
    if not DASK.exists():
        pytest.skip(f"no dask command beside {sys.executable}")
    info = tmp_path / "scheduler.json"
    logs = tmp_path / "dask-logs"
    logs.mkdir()
    procs = []
    try:
        procs.append(subprocess.Popen(
            [str(DASK), "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
             "--scheduler-file", str(info)], stdout=subprocess.DEVNULL, stderr=(logs / "scheduler.log").open("w"),
            start_new_session=True))
        deadline = time.monotonic() + START_WAIT
        while not info.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert info.exists(), (logs / "scheduler.log").read_text()[-2000:]
        address = json.loads(info.read_text())["address"]
        procs.append(subprocess.Popen(
            [str(DASK), "worker", "--scheduler-file", str(info), "--nworkers", "1", "--nthreads", "2",
             "--no-dashboard", "--host", "127.0.0.1", "--local-directory", str(tmp_path / "worker")],
            stdout=subprocess.DEVNULL, stderr=(logs / "worker.log").open("w"), start_new_session=True))
        _wait_for_worker(address)
        yield address
    finally:
        for proc in reversed(procs):
            _stop(proc)


def _wait_for_worker(address: str) -> None:
    from distributed import Client

    with Client(address, timeout="30s") as client:
        client.wait_for_workers(1, timeout=START_WAIT)


def _copy_without_findings(demo, root: Path) -> Path:
    """The demo workspace's catalog and store, with the local run's findings taken out."""
    from perfops.store import open_store

    for path in (demo.catalog_path, demo.store_path):
        target = root / path.relative_to(demo.root)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    with open_store(root / demo.store_path.relative_to(demo.root)) as store, store.transaction():
        for table in ("finding_history", "findings", "level_marks", "analysis_runs"):
            store.con.execute(f"DELETE FROM {table}")
    return root


def _key(record: dict) -> tuple:
    return (record["id"], record["kind"], record["severity"], record["service"], record["endpoint"],
            record["consumer"], record["metric"], record["title"], record["start"], record["end"])


def test_analyze_on_a_separately_started_cluster_finds_what_a_local_run_finds(demo_run, scheduler, tmp_path):
    manifest, demo, local = demo_run
    root = _copy_without_findings(demo, tmp_path / "ws")
    at = manifest.end.strftime("%Y-%m-%dT%H:%M:%SZ")
    run = subprocess.run([sys.executable, "-m", "perfops.cli", "analyze", "--cluster", scheduler, "--at", at,
                          "--quiet", "--workspace", str(root)], capture_output=True, text=True, timeout=1200)
    assert run.returncode == 0, run.stderr[-3000:]
    listed = subprocess.run([sys.executable, "-m", "perfops.cli", "findings", "--status", "all", "--format", "json",
                             "--workspace", str(root)], capture_output=True, text=True, timeout=300)
    assert listed.returncode == 0, listed.stderr[-2000:]
    on_cluster = sorted(_key(r) for r in json.loads(listed.stdout))
    assert on_cluster and on_cluster == sorted(_key(f.to_record()) for f in local)
