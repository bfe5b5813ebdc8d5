"""The dashboard: `create_app(workspace)` returns a FastAPI app with pages (domain → squad →
service → endpoint, the findings list, a finding with its history and workflow) and a JSON API
for everything the pages show (OpenAPI docs at /docs).

Writes (acknowledge, assign, comment, resolve, reopen) need the workspace token: the file
`.perfops/token` or the env PERFOPS_TOKEN; without one, writes are refused. The API takes it as
`Authorization: Bearer <token>`, the pages' forms as a `token` field. Every value from data is
escaped (Jinja2 autoescape; JSON for scripts via `tojson`). Binds to 127.0.0.1 (see cmd_report).
The pages and the API call the same use cases as the CLI (perfops.usecases.workflow).

While another process (`perfops ingest`, `analyze`) holds the store, reads are answered from what
was read last, with `X-Perfops-Data-As-Of` / `X-Perfops-Stale` headers and a "workspace busy" note
in pages; writes answer 503 with Retry-After when the store stays held (see web/data.py).
"""

from __future__ import annotations

import contextlib
import hmac
import os
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Header, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel

from perfops.errors import NotFoundError, PerfopsError, WorkspaceBusyError
from perfops.web import pages, picker, session
from perfops.web.data import PAGE_CACHE, RETRY_AFTER, DashboardData, Snapshot, finding_key, workspace_of
from perfops.web.figures_routes import figure_routes
from perfops.web.freshness import Freshness, with_note
from perfops.web.idempotency import WriteLedger
from perfops.web.pages import RunsView

TOKEN_ENV = "PERFOPS_TOKEN"
TOKEN_FILE = "token"
HISTORY_HEADER = "X-Perfops-History"  # "unavailable": the record without its history (store busy)
ACTIONS = ("acknowledge", "resolve", "reopen", "assign", "comment")
# ?message= takes one of these codes; anything else shows nothing (no text from the URL on a page)
DONE_MESSAGES = {"acknowledge": "Acknowledged.", "resolve": "Resolved.", "reopen": "Reopened.",
                 "assign": "Assigned.", "comment": "Comment added."}


class WorkflowBody(BaseModel):
    by: str | None = None
    note: str | None = None
    squad: str | None = None  # for assign


def configured_token(root: Path) -> str | None:
    env = os.environ.get(TOKEN_ENV)
    if env:
        return env.strip()
    path = root / ".perfops" / TOKEN_FILE
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return text or None


class ApiError(Exception):
    def __init__(self, status: int, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.hint = status, message, hint


def error_body(status: int, message: str, hint: str | None = None) -> dict[str, Any]:
    """The one JSON error shape of the API."""
    return {"error": {"status": status, "message": message, "hint": hint}}


from perfops.web.limits import BodySizeLimit, WriteRateLimit  # noqa: E402
from perfops.web.security import HostCheck, OriginCheck, SecurityHeaders, allowed_hosts  # noqa: E402


def create_app(workspace: Path | str, *, token: str | None = None, period: str | None = None, host: str | None = None,
               trusted_proxies: Sequence[str] | None = None, scheduler: Any = None) -> FastAPI:
    """`host`: the address `serve --host` binds (answered besides the loopback names, see
    web/security.py); `trusted_proxies`: the addresses of reverse proxies whose
    X-Forwarded-For is believed (default PERFOPS_WEB_TRUSTED_PROXIES; none); `scheduler`: the
    jobs of `serve --schedule`, counted in /metrics."""
    ws = workspace_of(Path(workspace))
    data = DashboardData(ws, period=period)
    # FastAPIOffline: Swagger UI and ReDoc from the assets bundled in the fastapi-offline wheel
    # (mounted at /static-offline-docs), so /docs works without the internet; /docs itself is ours,
    # with its init script as a file (no inline script under the CSP of web/security.py)
    # every page and endpoint takes ?run=<id> and ?range=7d|14d|28d (web/picker.py)
    app = FastAPIOffline(docs_url=None, redoc_url="/redoc", favicon_url="/favicon.ico", title="perfops dashboard",
                         version="1", description="Findings, statuses and trends of a service domain. Every page and "
                         "endpoint shows the newest stored analysis run, or the one `?run=<id>` names "
                         "(`GET /api/runs`), over the time range `?range=7d|14d|28d`.",
                         dependencies=[Depends(picker.view_state)], lifespan=_lifespan(data))
    app.state.data = data
    app.state.ledger = WriteLedger()
    app.state.token = token if token is not None else configured_token(ws.root)
    app.mount("/static", StaticFiles(directory=str(Path(__file__).parent / "static")), name="static")
    # bounded request bodies and write attempts per client: token guessing and floods get 413/429
    app.add_middleware(BodySizeLimit, max_bytes=64 * 1024)
    app.add_middleware(WriteRateLimit, per_minute=30, trusted_proxies=trusted_proxies)
    # added last = runs first: foreign Host and cross-site writes refused, headers on every answer
    app.add_middleware(OriginCheck)
    app.add_middleware(HostCheck, hosts=allowed_hosts(host))
    app.add_middleware(SecurityHeaders)
    _errors(app)
    _asset_routes(app)
    _api_routes(app, data)
    _page_routes(app, data)
    from perfops.web.metrics import metrics_routes

    metrics_routes(app, data, scheduler)
    figure_routes(app, data)  # the stored figures: SLO, capacity, cost, maturity, tests (web/figures_routes.py)
    data.warmers.append(lambda snap: warm_service_pages(data, snap))  # after the figure views' warm-up
    return app


def _lifespan(data: DashboardData) -> Any:
    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        data.close()  # a warm-up still reading the store is stopped and ends quietly (web/data.py)

    return lifespan


def _errors(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        return _error_response(request, exc.status, exc.message, exc.hint)

    @app.exception_handler(PerfopsError)
    async def perfops_error(request: Request, exc: PerfopsError) -> Response:
        status = 404 if isinstance(exc, NotFoundError) else 400
        return _error_response(request, status, exc.message, exc.hint)

    @app.exception_handler(WorkspaceBusyError)
    async def busy_error(request: Request, exc: WorkspaceBusyError) -> Response:
        response = _error_response(request, 503, exc.message, exc.hint)
        response.headers["Retry-After"] = str(RETRY_AFTER)
        return response

    from starlette.exceptions import HTTPException as StarletteHTTPException

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return _error_response(request, exc.status_code, str(exc.detail), None)


def _error_response(request: Request, status: int, message: str, hint: str | None) -> Response:
    if request.url.path.startswith("/api/"):
        return JSONResponse(error_body(status, message, hint), status_code=status)
    return HTMLResponse(pages.error_page(status, message, hint), status_code=status)


def check_token(app_token: str | None, given: str | None) -> None:
    if not app_token:
        raise ApiError(403, "writes are disabled: no token is configured for this workspace",
                       f"write a token into .perfops/{TOKEN_FILE} or set {TOKEN_ENV}, then restart perfops serve")
    if not given or not hmac.compare_digest(given.strip(), app_token):
        raise ApiError(401, "a valid token is needed to change findings", "send Authorization: Bearer <token>")


def apply_action(data: DashboardData, finding_id: str, action: str, body: WorkflowBody) -> Any:
    """The change through the workflow use cases: the updated Finding (None for a comment), or
    WorkspaceBusyError (503, not saved) when another process keeps the store (data.write)."""
    from perfops.usecases import workflow

    if action not in ACTIONS:
        raise ApiError(404, f"unknown action '{action}'", f"expected one of {', '.join(ACTIONS)}")
    if action == "assign" and not body.squad:
        raise ApiError(400, "assign needs a squad")

    def change() -> Any:
        if action == "assign":
            return workflow.assign(data.workspace, finding_id, body.squad or "", body.by, body.note)
        if action == "comment":
            workflow.comment(data.workspace, finding_id, body.by, body.note or "")
            return None
        return workflow.change_status(data.workspace, finding_id, action, body.by, body.note)

    return data.write(change, changes=[finding_key(finding_id)])


def _stamp(response: Response, freshness: Freshness) -> None:
    response.headers.update(freshness.headers())


def _page(data: DashboardData, snap: Snapshot, html: str, fell_back: Any = None) -> HTMLResponse:
    """A page with its freshness headers, and the busy note while another process holds the store."""
    freshness = data.freshness(snap, fell_back)
    return HTMLResponse(with_note(html, freshness, snap.catalog.timezone), headers=freshness.headers())


def _finding_page(data: DashboardData, finding_id: str, message: str | None, writable: bool,
                  form: pages.WorkflowForm | None = None, status_code: int = 200) -> HTMLResponse:
    """The finding with its history; while the store is held and it was never read, the finding as
    the snapshot holds it, saying its history is not available. `form`: the workflow form's state
    (the browser session's CSRF token, a refused write's fields and error)."""
    snap = data.snapshot()
    try:
        found, fell_back = data.finding(snap, finding_id)
        missing = False
    except WorkspaceBusyError:
        found, fell_back, missing = pages.finding_from_snapshot(snap, finding_id), snap.checked_at, True
        if found is None:
            raise
    response = _page(data, snap, pages.finding_page(snap, found, message, writable, missing, form), fell_back)
    response.status_code = status_code
    return response


def _saved_answer(data: DashboardData, finding_id: str, updated: Any, response: Response) -> dict[str, Any]:
    """The answer to a saved write: the finding with its history; when the store is held again
    since (so the history cannot be read), the finding as written, with the history read last
    (or none), marked stale — never a 503 for a write that was saved."""
    snap = data.snapshot()
    try:
        found, fell_back = data.finding(snap, finding_id)
    except WorkspaceBusyError:
        found, fell_back = pages.finding_from_snapshot(snap, finding_id), snap.checked_at
    _stamp(response, data.freshness(snap, fell_back))
    record = pages.finding_json(found) if found is not None else {"history": []}
    if fell_back is not None and updated is not None:
        record.update(updated.to_record())
    return record


STATIC = Path(__file__).parent / "static"
DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>perfops dashboard API</title><link rel="icon" href="/favicon.ico" type="image/svg+xml">
<link rel="stylesheet" href="/static-offline-docs/swagger-ui.css"><link rel="stylesheet" href="/static/swagger-fit.css">
</head><body><div id="swagger-ui"></div>
<script src="/static-offline-docs/swagger-ui-bundle.js"></script><script src="/static/swagger-init.js"></script>
</body></html>"""


def _asset_routes(app: FastAPI) -> None:
    @app.get("/docs", response_class=HTMLResponse, include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(DOCS_PAGE)

    @app.get("/assets/strips.css", include_in_schema=False)
    def strips_css() -> Response:
        # the squad strips' styles, shared with the reports (which inline them)
        from importlib.resources import files

        css = files("perfops.reports").joinpath("templates/strips.css").read_bytes()
        return Response(css, media_type="text/css", headers={"Cache-Control": "public, max-age=3600"})

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        # an SVG under the name browsers ask for by themselves (no 404 in any page's console)
        return Response((STATIC / "favicon.svg").read_bytes(), media_type="image/svg+xml",
                        headers={"Cache-Control": "public, max-age=86400"})


def _api_routes(app: FastAPI, data: DashboardData) -> None:
    @app.get("/api/domain", tags=["api"], summary="Domain status: squads, services, the top findings")
    def api_domain(response: Response) -> dict[str, Any]:
        snap = data.snapshot()
        _stamp(response, data.freshness(snap))
        return data.cached_page(snap, "api:domain", lambda: pages.domain_json(snap))

    @app.get("/api/runs", tags=["api"], response_model=RunsView,
             summary="The stored analysis runs the dashboard can show (?run=<id>), newest first")
    def api_runs(response: Response) -> RunsView:
        snap = data.newest()
        _stamp(response, data.freshness(snap))
        return pages.runs_view(snap)

    @app.get("/api/squads/{squad}", tags=["api"], summary="A squad: its services and findings")
    def api_squad(squad: str, response: Response) -> dict[str, Any]:
        snap = data.snapshot()
        _stamp(response, data.freshness(snap))
        return pages.squad_json(snap, squad)

    @app.get("/api/services/{service}", tags=["api"], summary="A service: status, figures, endpoints, findings")
    def api_service(service: str, response: Response) -> dict[str, Any]:
        snap = data.snapshot()
        _stamp(response, data.freshness(snap))
        return pages.service_json(snap, service)

    @app.get("/api/services/{service}/series", tags=["api"], summary="Hourly traffic, p95 and errors over the range (default 14 days)")
    def api_series(service: str, response: Response, endpoint: str | None = None) -> dict[str, Any]:
        snap = data.snapshot()
        pages.require_service(snap, service)
        series, fell_back = data.series(snap, service, endpoint, picker.current().days)
        _stamp(response, data.freshness(snap, fell_back))
        return series

    @app.get("/api/findings", tags=["api"], summary="Findings, filtered like `perfops findings`")
    def api_findings(response: Response, squad: str | None = None, service: str | None = None,
                     category: str | None = None, status: str = "open",
                     min_severity: str | None = None) -> list[dict[str, Any]]:
        snap = data.snapshot()
        chosen = pages.filter_findings(snap, squad, service, category, status, min_severity)
        _stamp(response, data.freshness(snap))
        return [f.to_record() for f in chosen]

    @app.get("/api/findings/{finding_id}", tags=["api"], summary="A finding with its history")
    def api_finding(finding_id: str, response: Response) -> dict[str, Any]:
        snap = data.snapshot()
        try:
            found, fell_back = data.finding(snap, finding_id)
        except WorkspaceBusyError:  # never read and the store is held: the snapshot's record, no history
            found, fell_back = pages.finding_from_snapshot(snap, finding_id), snap.checked_at
            if found is None:
                raise
            response.headers[HISTORY_HEADER] = "unavailable"
        _stamp(response, data.freshness(snap, fell_back))
        return pages.finding_json(found)

    @app.get("/api/findings/{finding_id}/series", tags=["api"],
             summary="The finding's series with its stored norm band, and markers (start, end, deploys of "
                     "its service and of its cause's service); 404 when no band is stored for it")
    def api_finding_series(finding_id: str, response: Response) -> dict[str, Any]:
        from perfops.web.finding_chart import finding_series

        snap = data.snapshot()
        found = next((f for f in snap.findings if f.id == finding_id), None)
        series = None if found is None else finding_series(snap, found)
        if series is None:
            raise ApiError(404, f"no stored norm band for finding '{finding_id}'",
                           "bands are stored by analyze for open trends findings (anomaly, regression, growth)")
        _stamp(response, data.freshness(snap))
        return series

    @app.post("/api/findings/{finding_id}/{action}", tags=["api"],
              summary="Workflow: acknowledge, resolve, reopen, assign (body.squad) or comment (needs the token); "
                      "503 with Retry-After, not saved, when another process keeps the workspace busy; "
                      "an Idempotency-Key header makes a retry answer the first write instead of writing again")
    def api_action(finding_id: str, action: str, body: WorkflowBody, response: Response,
                   authorization: str | None = Header(default=None),
                   idempotency_key: str | None = Header(default=None)) -> dict[str, Any]:
        given = authorization.removeprefix("Bearer ").strip() if authorization else None
        check_token(app.state.token, given)
        updated = app.state.ledger.run(idempotency_key, (finding_id, action, body.model_dump_json()),
                                       lambda: apply_action(data, finding_id, action, body))
        return _saved_answer(data, finding_id, updated, response)


def service_page_html(data: DashboardData, snap: Snapshot, service: str) -> str:
    """A service's page, rendered once per snapshot (and range)."""
    return data.cached_page(snap, f"service:{service}", lambda: pages.service_page(snap, service))


def warm_service_pages(data: DashboardData, snap: Snapshot) -> None:
    """The snapshot's warm-up renders the service pages (as asked without parameters) after the
    figure views, in catalog order, at most a quarter of what a snapshot keeps (PAGE_CACHE; the
    chart series take most of the rest): at 1,000 services 5 s of CPU and ~30 MB, and a page is
    then served from memory like a static file instead of rendered while 20 others wait."""
    for svc in snap.catalog.services[:PAGE_CACHE // 4]:
        if data.closing.is_set():
            return
        service_page_html(data, snap, svc.name)


def _page_routes(app: FastAPI, data: DashboardData) -> None:
    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def domain_page() -> HTMLResponse:
        snap = data.snapshot()
        return _page(data, snap, data.cached_page(snap, "domain", lambda: pages.domain_page(snap)))

    @app.get("/services", response_class=HTMLResponse, include_in_schema=False)
    def services_list() -> HTMLResponse:
        snap = data.snapshot()
        return _page(data, snap, data.cached_page(snap, "services", lambda: pages.services_page(snap)))

    @app.get("/squads/{squad}", response_class=HTMLResponse, include_in_schema=False)
    def squad_page(squad: str) -> HTMLResponse:
        snap = data.snapshot()
        pages.require_squad(snap, squad)
        return _page(data, snap, data.cached_page(snap, f"squad:{squad}", lambda: pages.squad_page(snap, squad)))

    @app.get("/services/{service}", response_class=HTMLResponse, include_in_schema=False)
    def service_page(service: str) -> HTMLResponse:
        snap = data.snapshot()
        pages.require_service(snap, service)
        return _page(data, snap, service_page_html(data, snap, service))

    @app.get("/services/{service}/endpoint", response_class=HTMLResponse, include_in_schema=False)
    def endpoint_page(service: str, name: str) -> HTMLResponse:
        snap = data.snapshot()
        pages.require_service(snap, service)
        return _page(data, snap, pages.endpoint_page(snap, service, name))

    @app.get("/findings", response_class=HTMLResponse, include_in_schema=False)
    def findings_page(squad: str | None = None, service: str | None = None, category: str | None = None,
                      status: str = "open", min_severity: str | None = None) -> HTMLResponse:
        snap = data.snapshot()
        chosen = pages.filter_findings(snap, squad, service, category, status, min_severity)
        return _page(data, snap, pages.findings_page(snap, chosen, {
            "squad": squad, "service": service, "category": category, "status": status,
            "min_severity": min_severity}))

    def form_state(request: Request) -> pages.WorkflowForm:
        """The browser's session (cookie) as the form needs it: its CSRF token, or none."""
        token = app.state.token
        nonce = session.session_nonce(token, request.cookies.get(session.COOKIE))
        return pages.WorkflowForm(csrf=session.csrf_token(token, nonce) if token and nonce else None)

    @app.get("/findings/{finding_id}", response_class=HTMLResponse, include_in_schema=False)
    def finding_page(finding_id: str, request: Request, message: str | None = None) -> HTMLResponse:
        return _finding_page(data, finding_id, DONE_MESSAGES.get(message or ""), writable=bool(app.state.token),
                             form=form_state(request))

    @app.post("/findings/{finding_id}/{action}", include_in_schema=False)
    async def finding_form(finding_id: str, action: str, request: Request) -> Response:
        from urllib.parse import parse_qs, quote

        # urlencoded form parsed here: no python-multipart dependency for four text fields
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8", "replace")).items()}
        token = app.state.token
        nonce = session.session_nonce(token, request.cookies.get(session.COOKIE))
        started = None
        if not session.csrf_ok(token, nonce, form.get("csrf")):
            try:
                check_token(token, form.get("token"))
            except ApiError as exc:
                if exc.status != 401:
                    raise
                # answered on the same page, with what was typed kept (never the token)
                kept = pages.WorkflowForm(csrf=None, by=form.get("by", ""), note=form.get("note", ""),
                                          squad=form.get("squad", ""), error=exc.message)
                return _finding_page(data, finding_id, None, writable=True, form=kept, status_code=401)
            started = session.new_session(token or "")
        body = WorkflowBody(by=form.get("by") or None, note=form.get("note") or None, squad=form.get("squad") or None)
        from starlette.concurrency import run_in_threadpool

        await run_in_threadpool(app.state.ledger.run, form.get("idempotency_key"),
                                (finding_id, action, body.model_dump_json()),
                                lambda: apply_action(data, finding_id, action, body))
        # a message code, not text: the page shows only the messages it knows (no spoofing)
        response = RedirectResponse(f"/findings/{quote(finding_id)}?message={quote(action)}", status_code=303)
        if started:  # the token was right: a session cookie for the rest of this browser session
            response.set_cookie(session.COOKIE, started, httponly=True, samesite="strict",
                                secure=request.url.scheme == "https", path="/")
        return response
