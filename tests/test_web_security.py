"""The dashboard on a laptop, next to the user's browser (issue 17 items 5, 9, 10, 13): foreign
Host names (DNS rebinding) and cross-site writes (CSRF) are refused, every answer carries the
security headers, ?message= shows only known messages, X-Forwarded-For is believed only from a
configured proxy, and a write's answer matches what is stored (no 503 for a saved write; a retry
with the same idempotency key is not applied twice)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from reports_fixture import build_workspace
from test_web_busy import Holder

TOKEN = "sec-token-5b1e"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return build_workspace(tmp_path / "ws")


def client_for(root: Path, **kwargs):
    from fastapi.testclient import TestClient

    from perfops.web.app import create_app

    return TestClient(create_app(root, token=TOKEN, **kwargs), base_url="http://127.0.0.1")


def first_open(client) -> str:
    return client.get("/api/findings", params={"status": "open"}).json()[0]["id"]


def notes(client, fid: str) -> list[str]:
    return [h.get("note") for h in client.get(f"/api/findings/{fid}").json()["history"]]


# ---- Host: DNS rebinding -----------------------------------------------------------------------
@pytest.mark.parametrize("host", ["evil.example", "evil.example:8080", "127.0.0.1.evil.example", "10.0.0.7"])
def test_a_foreign_host_name_gets_no_answer(root, host: str) -> None:
    client = client_for(root)
    for path in ("/", "/api/domain", "/api/findings", "/static/charts.js"):
        response = client.get(path, headers={"Host": host})
        assert response.status_code == 421, (path, host)
        assert "domain" not in response.text.lower() or "error" in response.json()


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.1:8080", "localhost", "LOCALHOST:8080", "[::1]:8080",
                                  "perfops.lan:9000"])
def test_loopback_names_and_the_bound_host_are_answered(root, host: str) -> None:
    client = client_for(root, host="perfops.lan")  # as `perfops serve --host perfops.lan`
    assert client.get("/api/domain", headers={"Host": host}).status_code == 200


def test_the_allowed_names_are_loopback_the_bound_host_and_the_configured_ones() -> None:
    from perfops.web.security import allowed_hosts

    assert allowed_hosts("127.0.0.1", extra=[]) == {"127.0.0.1", "localhost", "::1"}
    assert allowed_hosts("0.0.0.0", extra=["dash.example:443"]) == {"127.0.0.1", "localhost", "::1", "dash.example"}


# ---- Origin: cross-site writes -----------------------------------------------------------------
def test_a_cross_site_form_post_is_refused_and_changes_nothing(root) -> None:
    client = client_for(root)
    fid = first_open(client)
    for headers in ({"Origin": "http://evil.example"}, {"Origin": "null"},
                    {"Referer": "http://evil.example/page.html"}, {"Origin": "http://127.0.0.1:9999"}):
        form = client.post(f"/findings/{fid}/acknowledge", data={"token": TOKEN, "by": "x"}, headers=headers)
        api = client.post(f"/api/findings/{fid}/comment", json={"note": "csrf"},
                          headers={**headers, "Authorization": f"Bearer {TOKEN}"})
        assert form.status_code == 403 and api.status_code == 403, headers
    assert client.get(f"/api/findings/{fid}").json()["status"] == "open" and "csrf" not in notes(client, fid)


def test_a_same_origin_form_post_and_a_script_without_origin_go_through(root) -> None:
    client = client_for(root)
    fid = first_open(client)
    same = client.post(f"/findings/{fid}/acknowledge", data={"token": TOKEN, "by": "Ana"},
                       headers={"Origin": "http://127.0.0.1", "Referer": f"http://127.0.0.1/findings/{fid}"})
    assert same.status_code == 200 and "Acknowledged." in same.text
    script = client.post(f"/api/findings/{fid}/comment", json={"note": "from a script"},
                         headers={"Authorization": f"Bearer {TOKEN}"})
    assert script.status_code == 200 and "from a script" in notes(client, fid)


# ---- security headers --------------------------------------------------------------------------
def test_every_answer_carries_the_security_headers(root) -> None:
    client = client_for(root)
    fid = first_open(client)
    answers = [client.get(p) for p in ("/", "/services", f"/findings/{fid}", "/api/domain", "/api/findings/F-nope",
                                       "/nope", "/static/dashboard.css")]
    answers += [client.get("/", headers={"Host": "evil.example"}),
                client.post(f"/api/findings/{fid}/comment", json={"note": "x"})]
    for response in answers:
        assert response.headers["X-Content-Type-Options"] == "nosniff", response.url
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Referrer-Policy"] == "same-origin"
        csp = response.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self';" in csp and "unsafe-inline" not in csp


def test_pages_need_no_inline_script_or_style_under_the_policy(root) -> None:
    """The policy forbids inline scripts, styles and event handlers: the pages must hold none."""
    client = client_for(root)
    fid = first_open(client)
    for path in ("/", "/services", "/squads/checkout", "/services/cart", "/findings?status=all", f"/findings/{fid}",
                 "/services/cart/endpoint?name=GET%20/cart"):
        page = client.get(path).text
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page), path
        assert not re.search(r"<style\b|\sstyle=|\son[a-z]+=", page), path


# ---- ?message= ---------------------------------------------------------------------------------
def test_message_shows_only_known_messages(root) -> None:
    client = client_for(root)
    fid = first_open(client)
    spoof = "Your session expired: call +1 555 0100 with your token"
    page = client.get(f"/findings/{fid}", params={"message": spoof}).text
    assert "call +1 555" not in page and 'class="flash"' not in page
    assert "Resolved." in client.get(f"/findings/{fid}", params={"message": "resolve"}).text


# ---- X-Forwarded-For ---------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(root: Path, env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "perfops.cli", "serve", "--port", str(port), "--quiet",
                             "--workspace", str(root)], env={**os.environ, **env},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            httpx.get(base + "/static/dashboard.css", timeout=2)
            return proc, base
        except httpx.TransportError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError(f"perfops serve did not start: {proc.stderr.read().decode() if proc.stderr else ''}")


def _stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(15)


@pytest.mark.slow  # a real `perfops serve`: uvicorn's own X-Forwarded-For handling is what is tested
def test_rotating_x_forwarded_for_does_not_bypass_the_write_rate_limit(root) -> None:
    proc, base = _serve(root, {"PERFOPS_TOKEN": TOKEN})
    try:
        with httpx.Client(base_url=base, timeout=20) as client:
            fid = first_open(client)
            codes = [client.post(f"/api/findings/{fid}/resolve", json={},
                                 headers={"Authorization": f"Bearer guess{i}", "X-Forwarded-For": f"203.0.113.{i}"})
                     .status_code for i in range(40)]
    finally:
        _stop(proc)
    assert 429 in codes and set(codes) <= {401, 429}


def test_x_forwarded_for_is_believed_from_a_configured_proxy_only() -> None:
    from perfops.web.limits import WriteRateLimit

    limit = WriteRateLimit(lambda *a: None, trusted_proxies=["10.0.0.1"])  # type: ignore[arg-type, return-value]

    def scope(peer: str, forwarded: str) -> dict:
        return {"client": (peer, 1234), "headers": [(b"x-forwarded-for", forwarded.encode())]}

    assert limit.client_of(scope("10.0.0.1", "198.51.100.7, 10.0.0.1")) == "198.51.100.7"
    assert limit.client_of(scope("10.0.0.1", "6.6.6.6, 198.51.100.7")) == "198.51.100.7"  # the proxy appended
    assert limit.client_of(scope("198.51.100.9", "203.0.113.5")) == "198.51.100.9"  # not via the proxy
    assert WriteRateLimit(lambda *a: None, trusted_proxies=[]).client_of(  # type: ignore[arg-type, return-value]
        scope("127.0.0.1", "203.0.113.5")) == "127.0.0.1"


# ---- a write's answer matches the store (item 5) -----------------------------------------------
@pytest.mark.slow  # a second process holds the store
def test_a_saved_write_is_not_answered_503_and_its_retry_is_not_applied_twice(root) -> None:
    client = client_for(root)
    fid = first_open(client)  # the finding itself (with history) is never read before the write
    data = client.app.state.data
    holders: list[Holder] = []
    write = data.write

    def write_then_held(*args, **kwargs):
        result = write(*args, **kwargs)
        if not holders:  # an ingest takes the store right after the write was saved
            holders.append(Holder(root))
        return result

    data.write = write_then_held
    auth = {"Authorization": f"Bearer {TOKEN}", "Idempotency-Key": "4f1c9a7e-retry-test"}
    try:
        first = client.post(f"/api/findings/{fid}/acknowledge", json={"by": "Ana", "note": "seen"}, headers=auth)
        assert first.status_code == 200, first.text  # it was saved: the answer says what is stored
        assert first.json()["status"] == "acknowledged" and first.headers["X-Perfops-Stale"] == "true"
        holders[0].release()
        again = client.post(f"/api/findings/{fid}/acknowledge", json={"by": "Ana", "note": "seen"}, headers=auth)
        assert again.status_code == 200 and again.json()["status"] == "acknowledged"
        comment = {**auth, "Idempotency-Key": "c0mment-once"}
        for _ in range(3):  # a client retrying after a lost answer
            assert client.post(f"/api/findings/{fid}/comment", json={"note": "only once"}, headers=comment).status_code == 200
        other = client.post(f"/api/findings/{fid}/comment", json={"note": "another"}, headers=comment)
        assert other.status_code == 400 and "another change" in other.json()["error"]["message"]
    finally:
        for holder in holders:
            holder.kill()
    history = client.get(f"/api/findings/{fid}").json()["history"]
    assert [h["action"] for h in history].count("acknowledged") == 1
    assert [h.get("note") for h in history].count("only once") == 1


def test_a_form_sent_twice_is_applied_once(root) -> None:
    client = client_for(root)
    fid = first_open(client)
    page = client.get(f"/findings/{fid}").text
    key = re.search(r'name="idempotency_key" value="([0-9a-f]+)"', page)
    assert key, "the form carries an idempotency key"
    form = {"token": TOKEN, "note": "once", "idempotency_key": key.group(1)}
    for _ in range(2):  # reload / double click
        assert client.post(f"/findings/{fid}/comment", data=form).status_code == 200
    assert notes(client, fid).count("once") == 1
    assert key.group(1) not in client.get(f"/findings/{fid}").text  # a fresh key with every page
