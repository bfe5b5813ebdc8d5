"""The dashboard while another process holds the store (issue 9): `perfops ingest` or `analyze`
in another process keeps the DuckDB file locked, and the dashboard must neither hang until the
lock frees nor lose a write.

A subprocess opens the store for writing (as `perfops ingest` does) and holds it until the test
releases it. The server runs for real (uvicorn on loopback) and the client has a generous
timeout: the point is that answers come while the store is held — from what was read before,
marked stale — not when it frees. No timing assertions.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from reports_fixture import build_workspace

TOKEN = "busy-token"
TIMEOUT = 20.0  # far below the store's own 30 s lock wait and the holder's lifetime

HOLDER = """\
import sys
from pathlib import Path
from perfops.store import open_store

store = open_store(Path(sys.argv[1]))          # for writing, as perfops ingest does
if sys.argv[2]:
    store.findings.comment(sys.argv[2], "holder", "written while the dashboard served")
print("held", flush=True)
sys.stdin.readline()                           # until the test releases it
store.close()
print("released", flush=True)
"""


class Holder:
    """Another process holding the workspace store for writing until `release()`."""

    def __init__(self, root: Path, comment_on: str = "") -> None:
        from perfops.workspace import Workspace

        self.proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(Workspace(root).store_path), comment_on],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None and self.proc.stdout.readline().strip() == "held"

    def release(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None and self.proc.stdout is not None
            self.proc.stdin.write("\n")
            self.proc.stdin.flush()
            assert self.proc.stdout.readline().strip() == "released"
            self.proc.wait(timeout=30)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[httpx.Client, Path, list[Holder]]]:
    """(client of a real server on loopback, workspace root, holders to clean up)."""
    uvicorn = pytest.importorskip("uvicorn")
    from perfops.web.app import create_app

    root = build_workspace(tmp_path / "ws")
    app = create_app(root, token=TOKEN)
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=_free_port(), log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    holders: list[Holder] = []
    with httpx.Client(base_url=f"http://127.0.0.1:{srv.config.port}", timeout=TIMEOUT) as client:
        client.dashboard = app.state.data  # type: ignore[attr-defined]  # the server's, in this process
        yield client, root, holders
    for holder in holders:
        holder.kill()
    srv.should_exit = True
    thread.join(timeout=10)


def _hold(root: Path, holders: list[Holder], comment_on: str = "") -> Holder:
    holder = Holder(root, comment_on)
    holders.append(holder)
    return holder


def _first_open(client: httpx.Client) -> str:
    return client.get("/api/findings", params={"status": "open"}).json()[0]["id"]


def _comment(client: httpx.Client, fid: str, note: str) -> httpx.Response:
    return client.post(f"/api/findings/{fid}/comment", json={"by": "Ana", "note": note},
                       headers={"Authorization": f"Bearer {TOKEN}"})


def _notes(client: httpx.Client, fid: str) -> list[str]:
    return [h.get("note") for h in client.get(f"/api/findings/{fid}").json()["history"]]


def _until_fresh(client: httpx.Client, path: str) -> httpx.Response:
    """The first answer that is not stale (the dashboard retries the store about every second)."""
    deadline = time.monotonic() + 60
    while True:
        response = client.get(path)
        if response.headers["X-Perfops-Stale"] == "false" or time.monotonic() > deadline:
            return response
        time.sleep(0.3)


@pytest.mark.slow  # a second process and a real server
def test_pages_and_api_answer_from_the_last_read_while_the_store_is_held(served) -> None:
    client, root, holders = served
    fid = _first_open(client)
    unread = next(f["id"] for f in client.get("/api/findings", params={"status": "all"}).json() if f["id"] != fid)
    for path in ("/", "/api/domain", f"/findings/{fid}", f"/api/findings/{fid}", "/api/services/cart/series"):
        assert client.get(path).status_code == 200  # read once while the store is free
    fresh = client.get("/")
    assert fresh.headers["X-Perfops-Stale"] == "false" and "workspace busy" not in fresh.text
    assert client.dashboard.wait_warm(60)  # the charts read ahead with the snapshot are in

    holder = _hold(root, holders, comment_on=fid)  # holds the store, and changed it
    page = client.get("/")
    assert page.status_code == 200 and page.headers["X-Perfops-Stale"] == "true"
    assert 'id="freshness"' in page.text and "workspace busy (an ingest or analyze is running)" in page.text
    datetime.strptime(page.headers["X-Perfops-Data-As-Of"], "%Y-%m-%dT%H:%M:%SZ")
    for path in ("/api/domain", f"/api/findings/{fid}", "/api/services/cart/series", f"/findings/{fid}"):
        answer = client.get(path)
        assert answer.status_code == 200 and answer.headers["X-Perfops-Stale"] == "true", path
    assert "written while the dashboard served" not in _notes(client, fid)  # the last read, not the held store
    assert "workspace busy" in client.get(f"/findings/{fid}").text
    never = client.get(f"/findings/{unread}")  # never read: the snapshot's record, without history
    assert never.status_code == 200 and 'id="history-missing"' in never.text and unread in never.text
    api = client.get(f"/api/findings/{unread}")  # the same for the API: the record, saying the history is missing
    assert api.status_code == 200 and api.headers["X-Perfops-History"] == "unavailable"
    assert api.json()["id"] == unread and api.json()["history"] == [] and api.headers["X-Perfops-Stale"] == "true"
    never_charted = client.get("/api/services/payments-api/series")  # never opened: read ahead with the snapshot
    assert never_charted.status_code == 200 and never_charted.headers["X-Perfops-Stale"] == "true"
    assert len(never_charted.json()["t"]) == 14 * 24

    holder.release()
    after = _until_fresh(client, f"/api/findings/{fid}")
    assert after.headers["X-Perfops-Stale"] == "false"
    assert "written while the dashboard served" in [h.get("note") for h in after.json()["history"]]
    page = _until_fresh(client, "/")
    assert page.headers["X-Perfops-Stale"] == "false" and 'id="freshness"' not in page.text


@pytest.mark.slow  # a second process and a real server
def test_a_write_while_the_store_is_held_is_refused_with_503_and_not_saved(served) -> None:
    client, root, holders = served
    fid = _first_open(client)
    _notes(client, fid)
    holder = _hold(root, holders)
    refused = _comment(client, fid, "sent while busy")
    assert refused.status_code == 503 and int(refused.headers["Retry-After"]) > 0
    error = refused.json()["error"]
    assert error["status"] == 503 and "NOT saved" in error["message"] and error["hint"]
    form = client.post(f"/findings/{fid}/acknowledge", data={"token": TOKEN, "by": "Ana"})
    assert form.status_code == 503 and "NOT saved" in form.text and "Retry-After" in form.headers

    holder.release()
    saved = _comment(client, fid, "sent after")
    assert saved.status_code == 200
    notes = [h.get("note") for h in saved.json()["history"]]
    assert notes.count("sent after") == 1 and "sent while busy" not in notes
    assert client.get(f"/api/findings/{fid}").json()["status"] == "open"  # the refused acknowledge


@pytest.mark.slow  # a second process and a real server
def test_a_write_sent_while_the_lock_is_about_to_free_is_saved_or_refused_never_lost(served) -> None:
    client, root, holders = served
    fid = _first_open(client)
    holder = _hold(root, holders)
    answers: list[httpx.Response] = []
    writer = threading.Thread(target=lambda: answers.append(_comment(client, fid, "racing the release")))
    writer.start()
    time.sleep(0.3)  # the write is retrying against the held store
    holder.release()
    writer.join(timeout=TIMEOUT + 5)
    assert len(answers) == 1, "the write hung"
    answer = answers[0]
    notes = _notes(client, fid)
    if answer.status_code == 200:  # saved once the lock freed (the usual case)
        assert notes.count("racing the release") == 1
    else:  # or refused, saying so
        assert answer.status_code == 503 and "Retry-After" in answer.headers
        assert "racing the release" not in notes


@pytest.mark.slow  # a second process and a real server
def test_a_dashboard_that_never_read_the_store_answers_503_until_it_frees(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from perfops.web.app import create_app

    root = build_workspace(tmp_path / "ws")
    holder = Holder(root)
    try:
        client = TestClient(create_app(root, token=TOKEN))
        api = client.get("/api/domain")
        assert api.status_code == 503 and int(api.headers["Retry-After"]) > 0
        assert set(api.json()) == {"error"} and "busy" in api.json()["error"]["message"]
        page = client.get("/")
        assert page.status_code == 503 and "workspace is busy" in page.text
        holder.release()
        ok = client.get("/api/domain")
        assert ok.status_code == 200 and ok.headers["X-Perfops-Stale"] == "false"
    finally:
        holder.kill()


def test_busy_wait_cap_shortens_the_store_wait_only_inside_its_block() -> None:
    from perfops.store.snapshot import busy_wait_cap, wait_cap

    assert wait_cap() == float("inf")
    with busy_wait_cap(0.5):
        assert wait_cap() == 0.5
        with busy_wait_cap(0):
            assert wait_cap() == 0
        assert wait_cap() == 0.5
    assert wait_cap() == float("inf")
    with pytest.raises(ValueError), busy_wait_cap(-1):
        pass


def test_the_busy_note_is_escaped_and_only_shown_while_busy() -> None:
    from perfops.web.freshness import MARK, Freshness, with_note

    html = f"<body>{MARK}<main></main></body>"
    at = datetime(2026, 11, 27, 10, 42)
    assert with_note(html, Freshness(at, stale=True, busy=False), "UTC") == html
    busy = with_note(html, Freshness(at, stale=True, busy=True), "Europe/London")
    assert "Data as of 2026-11-27 10:42 GMT" in busy and "workspace busy" in busy
    assert Freshness(at, stale=True, busy=True).headers() == {"X-Perfops-Data-As-Of": "2026-11-27T10:42:00Z",
                                                              "X-Perfops-Stale": "true"}


def _fake_data(tmp_path: Path) -> tuple:  # (DashboardData with a fake clock, the clock)
    from perfops.web.data import DashboardData
    from perfops.workspace import Workspace

    clock = [0.0]

    def sleep(seconds: float) -> None:
        clock[0] += seconds

    return DashboardData(Workspace(tmp_path), clock=lambda: clock[0], sleep=sleep), clock


def _snap():
    from perfops.web.data import Snapshot

    return Snapshot(version=(0.0,), catalog=None, view=None, picture=None, findings=[])


def test_reads_fall_back_to_what_was_read_last_and_retry_the_store_about_every_second(tmp_path: Path) -> None:
    from perfops.errors import WorkspaceBusyError
    from perfops.web.data import BUSY_RETRY

    data, clock = _fake_data(tmp_path)
    tries: list[str] = []

    def held() -> str:
        tries.append("held")
        raise WorkspaceBusyError("held by another process")

    assert data.stored(_snap(), "k", lambda: "v1") == ("v1", None)
    later = _snap()  # a newer snapshot, which has not read "k"
    value, as_of = data.stored(later, "k", held)
    assert value == "v1" and as_of is not None and data.busy_since is not None and tries == ["held"]
    assert data.stored(later, "k", held)[0] == "v1" and tries == ["held"]  # backing off: not tried
    with pytest.raises(WorkspaceBusyError, match="not read before"):
        data.stored(later, "never", held)  # nothing to fall back on
    assert data.freshness(later, as_of).stale and data.freshness(later).busy
    clock[0] += BUSY_RETRY
    assert data.stored(later, "k", lambda: "v2") == ("v2", None) and data.busy_since is None
    assert data.stored(later, "k", held) == ("v2", None)  # cached with the snapshot now


def test_a_write_is_retried_then_refused_as_not_saved(tmp_path: Path) -> None:
    from perfops.errors import WorkspaceBusyError
    from perfops.web.data import WRITE_PATIENCE

    data, clock = _fake_data(tmp_path)
    tries: list[float] = []

    def held() -> None:
        tries.append(clock[0])
        raise WorkspaceBusyError("held by another process")

    with pytest.raises(WorkspaceBusyError, match="NOT saved"):
        data.write(held)
    assert len(tries) > 1 and tries[-1] >= WRITE_PATIENCE  # retried for the patience, then refused


def test_the_charts_read_ahead_equal_the_charts_read_on_demand(tmp_path: Path) -> None:
    """The dashboard reads every chart ahead in one query (to draw it while the store is held);
    each must be exactly what the chart's own read gives."""
    from perfops.usecases.chart_series import every_endpoint_series, every_service_series
    from perfops.usecases.reports import service_series
    from perfops.workspace import Workspace
    from reports_fixture import NOW

    ws = Workspace(build_workspace(tmp_path / "ws"))
    names = [s.name for s in ws.load_catalog().services]
    services = every_service_series(ws, names, NOW)
    assert set(services) == set(names)
    for name in names:
        assert services[name] == service_series(ws, name, None, NOW), name
    endpoints = every_endpoint_series(ws, NOW)
    assert ("cart", "GET /cart") in endpoints and len(endpoints) > 3
    for (service, endpoint), series in endpoints.items():
        assert series == service_series(ws, service, endpoint, NOW), (service, endpoint)
    assert len(every_endpoint_series(ws, NOW, limit=2)) == 2
