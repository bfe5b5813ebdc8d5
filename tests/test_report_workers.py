"""Killing `perfops report` leaves no worker processes behind (issue 17 item 6): its pool's
workers die with their parent, whether the parent gets SIGTERM or SIGKILL.

Every process of one run carries a marker in its environment (inherited by the workers), so
the test finds the run's survivors in /proc whoever their parent is after the kill."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="reads /proc (Linux)")]

MARK = "PERFOPS_TEST_RUN"


def marked(token: str) -> list[int]:
    """The live processes whose environment holds MARK=token."""
    needle = f"{MARK}={token}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if needle in environ.split(b"\0") and state != "Z":
            found.append(int(entry.name))
    return found


def copy_workspace(demo, root: Path) -> Path:
    import shutil

    for path in (demo.catalog_path, demo.store_path):
        target = root / path.relative_to(demo.root)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    return root


def wait_for(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return bool(condition())


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_killing_report_leaves_no_workers(demo_run, tmp_path, sig):
    _, demo, _ = demo_run
    workspace = copy_workspace(demo, tmp_path / "ws")  # the killed run writes into its own reports/
    token = uuid.uuid4().hex
    env = {**os.environ, MARK: token, "PERFOPS_REPORT_WORKERS": "3"}  # the parent renders a share too
    proc = subprocess.Popen([sys.executable, "-m", "perfops.cli", "report", "--workspace", str(workspace),
                             "--quiet"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        # the parent and its two workers (a resource tracker may come too)
        started = wait_for(lambda: len(marked(token)) >= 3 or proc.poll() is not None, 300)
        assert started and proc.poll() is None, "the report finished before its workers could be seen"
        os.kill(proc.pid, sig)
        proc.wait(30)
        assert wait_for(lambda: not marked(token), 10), f"left running: {marked(token)}"
    finally:
        for pid in marked(token):
            os.kill(pid, signal.SIGKILL)
        if proc.poll() is None:
            proc.kill()


def test_a_worker_whose_parent_is_already_gone_ends_at_once():
    """The guard for a parent that died before the initializer ran (and for platforms without
    PR_SET_PDEATHSIG): a worker whose parent is not the one that started it exits."""
    code = "from perfops.usecases.worker_lifetime import die_with_parent\ndie_with_parent(1)\nprint('alive')"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "alive" not in done.stdout
