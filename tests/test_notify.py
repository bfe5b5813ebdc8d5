"""Digests: new / still open / resolved per squad and for the domain, Slack and Teams shapes,
escaping, retries with backoff over httpx.MockTransport, and one real local HTTP receiver."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import httpx
import pytest

from perfops.errors import SourceError
from perfops.workspace import Workspace
from reports_fixture import NOW, XSS, build_workspace


@pytest.fixture
def ws(tmp_path) -> Workspace:
    return Workspace(build_workspace(tmp_path / "ws", hostile=True))


def test_digests_sort_new_open_resolved(ws: Workspace) -> None:
    from perfops.notify.digest import build_digests
    from perfops.store import open_store
    from perfops.store.findings_repo import FindingFilter

    with open_store(ws.store_path) as store:
        fid = store.findings.list(FindingFilter(squad="checkout", min_severity="low"))[-1].id
        store.findings.set_status(fid, "resolved", "resolved", "me", None)
        all_f = store.findings.list(FindingFilter(status="all"))
        history = store.findings.history()
    # found 2 days before NOW: "new" since 3 days ago, "still open" since yesterday
    new = build_digests(ws.load_catalog(), all_f, history, NOW - timedelta(days=3), NOW)
    checkout = next(d for d in new if d.target == "checkout")
    assert checkout.new and not checkout.still_open
    later = build_digests(ws.load_catalog(), all_f, history, NOW - timedelta(days=1), NOW)
    checkout = next(d for d in later if d.target == "checkout")
    assert checkout.still_open and not checkout.new
    domain = later[0]
    assert domain.target == "domain" and all(f.severity in ("critical", "high") for f in domain.still_open)


def test_payloads_escape_for_slack_and_teams(ws: Workspace) -> None:
    from perfops.usecases.notify import send_digests

    digests = send_digests(ws, dry_run=True, now=NOW).digests
    checkout = next(d for d in digests if d.target == "checkout")
    dumped = json.dumps(checkout.slack) + json.dumps(checkout.teams)
    assert XSS not in dumped and "&lt;script&gt;" in dumped
    assert checkout.slack["text"] and checkout.slack["blocks"][0]["type"] == "header"
    assert checkout.teams["@type"] == "MessageCard"
    assert XSS in checkout.text  # the plain dry-run text prints names as they are


def test_retries_with_backoff_then_succeeds() -> None:
    from perfops.notify.sender import post_json

    calls, sleeps = [], []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(json.loads(request.content))
        if len(calls) == 1:
            raise httpx.ConnectError("refused")
        return httpx.Response(503) if len(calls) == 2 else httpx.Response(200, text="ok")

    delivery = post_json("https://hooks.example/x", {"text": "hi"}, transport=httpx.MockTransport(handler),
                         base_delay=0.5, sleep=sleeps.append)
    assert delivery.attempts == 3 and sleeps == [0.5, 1.0]


def test_client_errors_fail_fast_and_give_up_after_attempts() -> None:
    from perfops.notify.sender import post_json

    sleeps: list[float] = []
    with pytest.raises(SourceError, match="refused"):
        post_json("https://hooks.example/secret-path", {}, transport=httpx.MockTransport(lambda r: httpx.Response(404)),
                  sleep=sleeps.append)
    assert sleeps == []
    with pytest.raises(SourceError, match="after 3 attempts") as exc:
        post_json("https://hooks.example/secret-path", {}, attempts=3,
                  transport=httpx.MockTransport(lambda r: httpx.Response(500)), sleep=sleeps.append)
    assert "secret-path" not in str(exc.value) and sleeps == [0.5, 1.0]


def test_send_to_a_real_local_receiver(ws: Workspace) -> None:
    received: list[dict] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/hook/checkout"
        text = ws.catalog_path.read_text().replace("http://127.0.0.1:9/hook/checkout", url)
        ws.catalog_path.write_text(text)
        from perfops.usecases.notify import send_digests

        result = send_digests(ws, now=NOW)
    finally:
        server.shutdown()
    assert result.sent == [("checkout", 1)] and "payments" in result.skipped
    assert len(received) == 1 and received[0]["blocks"] and "checkout" in received[0]["text"]
    assert (ws.store_path.parent / "notify-state.json").exists()


def test_dry_run_sends_nothing(ws: Workspace) -> None:
    from perfops.usecases.notify import send_digests

    def boom(request: httpx.Request) -> httpx.Response:
        raise AssertionError("sent during a dry run")

    result = send_digests(ws, dry_run=True, now=NOW, transport=httpx.MockTransport(boom))
    assert len(result.digests) == 4 and not result.sent


def test_cli_notify_dry_run(ws: Workspace) -> None:
    from typer.testing import CliRunner

    from perfops.cli.app import app

    result = CliRunner().invoke(app, ["notify", "--dry-run", "--workspace", str(ws.root)])
    assert result.exit_code == 0, result.output
    assert "Payments / squad checkout: performance digest" in result.output


def test_each_target_counts_from_its_own_last_digest(ws: Workspace) -> None:
    from perfops.usecases.notify import send_digests

    state = ws.store_path.parent / "notify-state.json"
    state.write_text(json.dumps({"checkout": (NOW - timedelta(hours=1)).isoformat()}))
    digests = {d.target: d for d in send_digests(ws, dry_run=True, now=NOW).digests}
    assert digests["checkout"].still_open and not digests["checkout"].new  # sent an hour ago
    assert digests["payments"].new and not digests["payments"].still_open  # never sent: last 7 days
