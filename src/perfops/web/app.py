"""The dashboard: `create_app(workspace)` returns a FastAPI app with pages (domain → squad →
service → endpoint, the findings list, a finding with its history and workflow) and a JSON API
for everything the pages show (OpenAPI docs at /docs).

Writes (acknowledge, assign, comment, resolve, reopen) need the workspace token: the file
`.perfops/token` or the env PERFOPS_TOKEN; without one, writes are refused. The API takes it as
`Authorization: Bearer <token>`, the pages' forms as a `token` field. Every value from data is
escaped (Jinja2 autoescape; JSON for scripts via `tojson`). Binds to 127.0.0.1 (see cmd_report).
The pages and the API call the same use cases as the CLI (perfops.usecases.workflow).
"""

from __future__ import annotations

import hmac
import os
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Header, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel

from perfops.errors import NotFoundError, PerfopsError
from perfops.web import pages
from perfops.web.data import DashboardData, workspace_of

TOKEN_ENV = "PERFOPS_TOKEN"
TOKEN_FILE = "token"
ACTIONS = ("acknowledge", "resolve", "reopen", "assign", "comment")


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


def create_app(workspace: Path | str, *, token: str | None = None, period: str = "7d") -> FastAPI:
    ws = workspace_of(Path(workspace))
    data = DashboardData(ws, period=period)
    app = FastAPI(title="perfops dashboard", version="1", description="Findings, statuses and trends of a service domain.")
    app.state.data = data
    app.state.token = token if token is not None else configured_token(ws.root)
    app.mount("/static", StaticFiles(directory=str(Path(__file__).parent / "static")), name="static")
    # bounded request bodies and write attempts per client: token guessing and floods get 413/429
    app.add_middleware(BodySizeLimit, max_bytes=64 * 1024)
    app.add_middleware(WriteRateLimit, per_minute=30)
    _errors(app)
    _api_routes(app, data)
    _page_routes(app, data)
    return app


def _errors(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        return _error_response(request, exc.status, exc.message, exc.hint)

    @app.exception_handler(PerfopsError)
    async def perfops_error(request: Request, exc: PerfopsError) -> Response:
        status = 404 if isinstance(exc, NotFoundError) else 400
        return _error_response(request, status, exc.message, exc.hint)

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
    from perfops.usecases import workflow

    if action not in ACTIONS:
        raise ApiError(404, f"unknown action '{action}'", f"expected one of {', '.join(ACTIONS)}")
    with data.lock:
        try:
            if action == "assign":
                if not body.squad:
                    raise ApiError(400, "assign needs a squad")
                result = workflow.assign(data.workspace, finding_id, body.squad, body.by, body.note)
            elif action == "comment":
                workflow.comment(data.workspace, finding_id, body.by, body.note or "")
                result = None
            else:
                result = workflow.change_status(data.workspace, finding_id, action, body.by, body.note)
        finally:
            data.invalidate()
    return result


def _api_routes(app: FastAPI, data: DashboardData) -> None:
    @app.get("/api/domain", tags=["api"], summary="Domain status: squads, services, the top findings")
    def api_domain() -> dict[str, Any]:
        return pages.domain_json(data.snapshot())

    @app.get("/api/squads/{squad}", tags=["api"], summary="A squad: its services and findings")
    def api_squad(squad: str) -> dict[str, Any]:
        return pages.squad_json(data.snapshot(), squad)

    @app.get("/api/services/{service}", tags=["api"], summary="A service: status, figures, endpoints, findings")
    def api_service(service: str) -> dict[str, Any]:
        return pages.service_json(data.snapshot(), service)

    @app.get("/api/services/{service}/series", tags=["api"], summary="Hourly traffic, p95 and errors (14 days)")
    def api_series(service: str, endpoint: str | None = None) -> dict[str, Any]:
        pages.require_service(data.snapshot(), service)
        return data.series(service, endpoint)

    @app.get("/api/findings", tags=["api"], summary="Findings, filtered like `perfops findings`")
    def api_findings(squad: str | None = None, service: str | None = None, category: str | None = None,
                     status: str = "open", min_severity: str | None = None) -> list[dict[str, Any]]:
        chosen = pages.filter_findings(data.snapshot(), squad, service, category, status, min_severity)
        return [f.to_record() for f in chosen]

    @app.get("/api/findings/{finding_id}", tags=["api"], summary="A finding with its history")
    def api_finding(finding_id: str) -> dict[str, Any]:
        return pages.finding_json(data, finding_id)

    @app.post("/api/findings/{finding_id}/{action}", tags=["api"],
              summary="Workflow: acknowledge, resolve, reopen, assign (body.squad) or comment (needs the token)")
    def api_action(finding_id: str, action: str, body: WorkflowBody,
                   authorization: str | None = Header(default=None)) -> dict[str, Any]:
        given = authorization.removeprefix("Bearer ").strip() if authorization else None
        check_token(app.state.token, given)
        apply_action(data, finding_id, action, body)
        return pages.finding_json(data, finding_id)


def _page_routes(app: FastAPI, data: DashboardData) -> None:
    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def domain_page() -> str:
        snap = data.snapshot()
        return data.cached_page(snap, "domain", lambda: pages.domain_page(snap))

    @app.get("/services", response_class=HTMLResponse, include_in_schema=False)
    def services_list() -> str:
        snap = data.snapshot()
        return data.cached_page(snap, "services", lambda: pages.services_page(snap))

    @app.get("/squads/{squad}", response_class=HTMLResponse, include_in_schema=False)
    def squad_page(squad: str) -> str:
        snap = data.snapshot()
        pages.require_squad(snap, squad)
        return data.cached_page(snap, f"squad:{squad}", lambda: pages.squad_page(snap, squad))

    @app.get("/services/{service}", response_class=HTMLResponse, include_in_schema=False)
    def service_page(service: str) -> str:
        snap = data.snapshot()
        pages.require_service(snap, service)
        return data.cached_page(snap, f"service:{service}", lambda: pages.service_page(snap, service))

    @app.get("/services/{service}/endpoint", response_class=HTMLResponse, include_in_schema=False)
    def endpoint_page(service: str, name: str) -> str:
        snap = data.snapshot()
        pages.require_service(snap, service)
        return pages.endpoint_page(snap, service, name)

    @app.get("/findings", response_class=HTMLResponse, include_in_schema=False)
    def findings_page(squad: str | None = None, service: str | None = None, category: str | None = None,
                      status: str = "open", min_severity: str | None = None) -> str:
        snap = data.snapshot()
        chosen = pages.filter_findings(snap, squad, service, category, status, min_severity)
        return pages.findings_page(snap, chosen, {"squad": squad, "service": service, "category": category,
                                                  "status": status, "min_severity": min_severity})

    @app.get("/findings/{finding_id}", response_class=HTMLResponse, include_in_schema=False)
    def finding_page(finding_id: str, message: str | None = None) -> str:
        return pages.finding_page(data, finding_id, message, writable=bool(app.state.token))

    @app.post("/findings/{finding_id}/{action}", include_in_schema=False)
    async def finding_form(finding_id: str, action: str, request: Request) -> Response:
        from urllib.parse import parse_qs, quote

        # urlencoded form parsed here: no python-multipart dependency for four text fields
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8", "replace")).items()}
        check_token(app.state.token, form.get("token"))
        body = WorkflowBody(by=form.get("by") or None, note=form.get("note") or None, squad=form.get("squad") or None)
        from starlette.concurrency import run_in_threadpool

        await run_in_threadpool(apply_action, data, finding_id, action, body)

        return RedirectResponse(f"/findings/{quote(finding_id)}?message={quote(action + ' done')}", status_code=303)
