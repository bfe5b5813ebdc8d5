"""The dashboard's token is typed once per browser session: a right token sets an HttpOnly,
SameSite=Strict session cookie and the forms then carry a CSRF token instead; a wrong token is
answered on the finding's own page with what was typed kept."""

from __future__ import annotations

import re

import pytest

from reports_fixture import build_workspace, findings

TOKEN = "s3ssion-token"


@pytest.fixture
def client(tmp_path):
    from fastapi.testclient import TestClient

    from perfops.web.app import create_app

    return TestClient(create_app(build_workspace(tmp_path / "ws"), token=TOKEN))


def _fid() -> str:
    return findings()[1].id  # open, never acknowledged in the fixture


def _history(client, fid: str) -> list[dict]:
    return client.get(f"/api/findings/{fid}").json()["history"]


def _csrf(page: str) -> str | None:
    m = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    return m.group(1) if m else None


def test_wrong_token_answers_on_the_same_page_and_keeps_the_note(client) -> None:
    fid = _fid()
    before = len(_history(client, fid))
    answer = client.post(f"/findings/{fid}/comment", data={"token": "not-it", "by": "Priya Shah",
                                                           "note": "rolling back 2.3.1", "squad": "payments"},
                         follow_redirects=False)
    assert answer.status_code == 401
    assert 'id="form-error"' in answer.text and "not saved" in answer.text
    assert 'value="rolling back 2.3.1"' in answer.text and 'value="Priya Shah"' in answer.text
    assert "<option selected>payments</option>" in answer.text
    assert "not-it" not in answer.text  # the typed token is never sent back
    assert "set-cookie" not in answer.headers
    assert len(_history(client, fid)) == before


def test_right_token_once_then_the_session_cookie_and_csrf_token(client) -> None:
    fid = _fid()
    first = client.post(f"/findings/{fid}/comment", data={"token": TOKEN, "by": "Tom", "note": "one"},
                        follow_redirects=False)
    assert first.status_code == 303
    cookie = first.headers["set-cookie"]
    assert cookie.startswith("perfops_session=") and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert "expires" not in cookie.lower() and "max-age" not in cookie.lower()  # ends with the browser session
    assert TOKEN not in cookie
    page = client.get(f"/findings/{fid}").text
    csrf = _csrf(page)
    assert csrf and 'name="token"' not in page  # no token field while the session lasts
    second = client.post(f"/findings/{fid}/comment", data={"csrf": csrf, "by": "Tom", "note": "two"},
                         follow_redirects=False)
    assert second.status_code == 303
    assert [h["note"] for h in _history(client, fid)][-2:] == ["one", "two"]


def test_the_cookie_alone_changes_nothing(client) -> None:
    fid = _fid()
    client.post(f"/findings/{fid}/comment", data={"token": TOKEN, "note": "one"}, follow_redirects=False)
    before = len(_history(client, fid))
    for csrf in (None, "0" * 64):
        data = {"note": "forged"} | ({"csrf": csrf} if csrf else {})
        assert client.post(f"/findings/{fid}/comment", data=data, follow_redirects=False).status_code == 401
    assert len(_history(client, fid)) == before


def test_a_session_of_another_token_is_no_session(tmp_path) -> None:
    from perfops.web import session

    cookie = session.new_session("old-token")
    assert session.session_nonce("old-token", cookie) is not None
    assert session.session_nonce("new-token", cookie) is None
    assert session.session_nonce("new-token", "forged.value") is None
    nonce = session.session_nonce("old-token", cookie)
    assert not session.csrf_ok("new-token", nonce, session.csrf_token("old-token", nonce or ""))


def test_dates_are_iso_in_the_domains_timezone(client) -> None:
    # the fixture's data ends 2026-11-23 00:00 UTC; the domain is in Australia/Sydney (UTC+11 then)
    assert "data up to 2026-11-23 11:00 AEDT" in client.get("/").text
    fid = _fid()
    client.post(f"/findings/{fid}/comment", data={"token": TOKEN, "note": "dated"}, follow_redirects=False)
    history = client.get(f"/findings/{fid}").text.split('id="history"', 1)[1]
    assert re.search(r"<td>\d{4}-\d{2}-\d{2} \d{2}:\d{2} AE[DS]T</td>", history)
