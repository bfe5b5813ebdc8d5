"""The dashboard's browser session: the token is typed once, then an HttpOnly, SameSite=Strict
cookie stands for it until the browser closes (no Expires: a session cookie), and every form
carries a CSRF token bound to that cookie.

Nothing is kept on the server: the cookie is `nonce.signature` and the CSRF token another
signature of the same nonce, both HMAC-SHA256 keyed by the workspace token — a new token (or
none) ends every session at once, and a restart keeps them. The cookie never holds the token.
Cross-site requests are also refused by web/security.py (Origin check) and by SameSite=Strict;
the CSRF token covers what those two do not (an old browser, a same-site page).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

COOKIE = "perfops_session"


def _sign(token: str, purpose: str, nonce: str) -> str:
    return hmac.new(token.encode(), f"{purpose}:{nonce}".encode(), hashlib.sha256).hexdigest()


def new_session(token: str) -> str:
    """A cookie value for a browser that just gave the right token."""
    nonce = secrets.token_urlsafe(18)
    return f"{nonce}.{_sign(token, 'session', nonce)}"


def session_nonce(token: str | None, cookie: str | None) -> str | None:
    """The session's nonce when `cookie` was made by `new_session(token)`, else None."""
    if not token or not cookie or "." not in cookie:
        return None
    nonce, signature = cookie.rsplit(".", 1)
    return nonce if hmac.compare_digest(signature, _sign(token, "session", nonce)) else None


def csrf_token(token: str, nonce: str) -> str:
    """The value the session's forms carry in their `csrf` field."""
    return _sign(token, "csrf", nonce)


def csrf_ok(token: str | None, nonce: str | None, given: str | None) -> bool:
    return bool(token and nonce and given) and hmac.compare_digest(str(given), csrf_token(str(token), str(nonce)))
