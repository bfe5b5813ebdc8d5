"""The figure views at 1,000 services: their per-service lists are paged (?limit=, ?offset=, worst
first, the JSON keeps its keys and adds the paging ones, the page says what it shows and links the
next), and each view is built once per snapshot however many requests ask for it at once."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient

from perfops.web.paging import DEFAULT_LIMIT, Window, window
from reports_fixture import build_workspace

PAGED = ("slo", "capacity", "cost", "tests")


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    return build_workspace(tmp_path_factory.mktemp("paging") / "ws")


@pytest.fixture(scope="module")
def client(ws):
    from perfops.web.app import create_app

    return TestClient(create_app(ws, token="t"))


def test_a_window_cuts_and_links_the_next_page():
    page = Window(offset=2, limit=2)
    assert page.cut(list("abcdef")) == ["c", "d"]
    assert page.next_link("/api/figures/slo", 6, {"squad": "checkout", "x": None}) == \
        "/api/figures/slo?squad=checkout&offset=4&limit=2"
    assert page.next_link("/slo", 4) is None
    assert Window().next_link("/slo", DEFAULT_LIMIT + 1) == f"/slo?offset={DEFAULT_LIMIT}"
    assert page.shown(6) == "Services 3–4 of 6 shown, worst first."
    assert Window().shown(5) == "All 5 services shown."


@pytest.mark.parametrize(("limit", "offset", "message"), [(0, None, "limit 0 is out of range"),
                                                          (1001, None, "limit 1001 is out of range"),
                                                          (None, -1, "offset -1 is negative")])
def test_a_bad_page_is_a_clear_error(limit, offset, message):
    from perfops.errors import PerfopsError

    with pytest.raises(PerfopsError, match=message):
        window(limit, offset)


@pytest.mark.parametrize("name", PAGED)
def test_the_json_keeps_its_keys_adds_the_paging_ones_and_pages_through_every_service(client, name):
    whole = client.get(f"/api/figures/{name}").json()
    assert {"run", "services", "total", "offset", "limit", "next"} <= set(whole)
    assert whole["total"] == len(whole["services"]) and whole["next"] is None and whole["limit"] == DEFAULT_LIMIT
    seen, url = [], f"/api/figures/{name}?limit=1"
    while url:
        page = client.get(url).json()
        assert len(page["services"]) <= 1 and page["total"] == whole["total"]
        seen += page["services"]
        url = page["next"]
    assert seen == whole["services"]  # the same order, every service once
    schema = client.get("/openapi.json").json()
    params = {p["name"] for p in schema["paths"][f"/api/figures/{name}"]["get"]["parameters"]}
    assert {"limit", "offset"} <= params


def test_the_slo_view_shows_the_worst_services_first(client):
    services = client.get("/api/figures/slo").json()["services"]
    missed = [any(not r["met"] for r in s["slo"]) for s in services]
    assert missed == sorted(missed, reverse=True)  # services missing an objective first
    assert len(services) >= 2


def test_the_page_says_how_many_services_it_shows_and_links_the_next(client):
    total = client.get("/api/figures/slo").json()["total"]
    first = client.get("/slo", params={"limit": 1}).text
    assert f"Services 1–1 of {total} shown, worst first." in first
    assert 'href="/slo?offset=1&amp;limit=1" rel="next"' in first
    last = client.get("/slo", params={"limit": 1, "offset": total - 1}).text
    assert f"Services {total}–{total} of {total} shown" in last and 'rel="next"' not in last
    assert f"All {total} services shown." in client.get("/slo").text


def test_the_next_link_keeps_the_range(client):
    page = client.get("/api/figures/slo", params={"limit": 1, "range": "28d"}).json()
    assert page["next"] == "/api/figures/slo?offset=1&limit=1&range=28d"


def test_a_bad_limit_is_a_400_naming_it(client):
    answer = client.get("/api/figures/slo", params={"limit": 0})
    assert answer.status_code == 400 and "limit 0 is out of range" in answer.json()["error"]["message"]


def test_concurrent_first_requests_build_each_view_once(ws, monkeypatch):
    from perfops.web import figures_routes
    from perfops.web.app import create_app

    built: list[str] = []
    slow_slo = figures_routes.VIEWS["slo"]

    def counted(*args, **kwargs):
        built.append("slo")
        time.sleep(0.2)  # long enough for the other requests to arrive during the build
        return slow_slo(*args, **kwargs)

    monkeypatch.setitem(figures_routes.VIEWS, "slo", counted)
    app = create_app(ws, token="t")
    client = TestClient(app)
    paths = ["/slo", "/api/figures/slo"] * 6
    with ThreadPoolExecutor(len(paths)) as pool:
        answers = list(pool.map(client.get, paths))
    assert all(a.status_code == 200 for a in answers)
    assert app.state.data.wait_warm(60)  # the warm-up builds it too, from the same cache
    assert built == ["slo"]
    assert len({a.text for a in answers if a.headers["content-type"].startswith("application/json")}) == 1


def test_one_build_per_key_while_others_wait():
    from perfops.web.data import KeyedLocks

    locks, built, values = KeyedLocks(), [], {}

    def get(key: str) -> str:
        if key in values:
            return values[key]
        with locks.held(key):
            if key not in values:
                built.append(key)
                time.sleep(0.05)
                values[key] = key.upper()
        return values[key]

    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(get, ["a"] * 8 + ["b"] * 8)) == ["A"] * 8 + ["B"] * 8
    assert sorted(built) == ["a", "b"]


def test_a_warm_up_interrupted_at_shutdown_ends_quietly(ws, monkeypatch):
    from perfops.web.data import DashboardData, _end_warm_up, workspace_of

    hooked: list[object] = []
    monkeypatch.setattr(threading, "excepthook", hooked.append)
    data = DashboardData(workspace_of(ws))
    started, release = threading.Event(), threading.Event()

    def interrupted(_snap):
        started.set()
        release.wait(10)
        raise RuntimeError("INTERRUPT Error: Interrupted!")  # what DuckDB raises when the process stops

    data.warmers.append(interrupted)
    data.newest()
    assert started.wait(10)
    import weakref

    ender = threading.Thread(target=_end_warm_up, args=(weakref.ref(data),))
    ender.start()  # the exit hook: marks the app closing, then waits for the warm-up
    time.sleep(0.1)
    assert ender.is_alive()
    release.set()
    ender.join(10)
    assert not ender.is_alive() and data.wait_warm(1)
    assert hooked == []  # no traceback printed


def test_shutdown_stops_the_warm_up_store_query_quietly(ws, monkeypatch):
    from perfops.store import open_store
    from perfops.web.data import DashboardData, workspace_of

    hooked: list[object] = []
    monkeypatch.setattr(threading, "excepthook", hooked.append)
    data = DashboardData(workspace_of(ws))
    started = threading.Event()

    def long_read(_snap):
        with open_store(data.workspace.store_path, read_only=True) as store:
            started.set()
            store.con.execute("SELECT sum(i * i) FROM range(1000000000000) t(i)").fetchall()  # hours

    data.warmers.append(long_read)
    data.newest()
    assert started.wait(10)
    time.sleep(0.2)  # inside the query
    data.close()  # what the app's shutdown does
    assert data.wait_warm(10)  # the query was stopped
    assert hooked == []  # and no traceback printed


def test_the_warm_up_renders_every_service_page_before_it_is_asked_for(ws, monkeypatch):
    """After a snapshot's warm-up a service page is answered from memory: opening it renders
    nothing, and the page is the one a request would have rendered."""
    from perfops.web import app as web_app
    from perfops.web import pages

    rendered: list[str] = []
    render = pages.service_page

    def counted(snap, service):
        rendered.append(service)
        return render(snap, service)

    monkeypatch.setattr(pages, "service_page", counted)
    app = web_app.create_app(ws, token="t")
    client = TestClient(app)
    names = [s["name"] for s in client.get("/api/domain").json()["services"]]
    assert app.state.data.wait_warm(60)
    assert sorted(rendered) == sorted(names)
    rendered.clear()
    answers = [client.get(f"/services/{name}") for name in names]
    assert [a.status_code for a in answers] == [200] * len(names) and rendered == []
    assert answers[0].text == render(app.state.data.snapshot(), names[0])
