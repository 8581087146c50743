"""The composition root: one FastAPI application with its three faces."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import fastapi_offline
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from starlette.exceptions import HTTPException as StarletteHTTPException

from admin.routes import error_page as admin_error_page
from admin.routes import router as admin_router
from api import hashing
from api.agencies.routes import router as bodies_router
from api.audit.routes import router as audit_router
from api.cases.routes import router as cases_router
from api.config import Settings, get_settings, load_settings
from api.crypto import KeyRing
from api.dashboard.routes import router as dashboard_router
from api.db import make_engine
from api.deps import Public
from api.errors import http_error_response, install_error_handlers
from api.installation import SetupToken
from api.keystore.service import open_keyring
from api.middleware import PortlineMiddleware
from api.operations.routes import router as operations_router
from api.ports.routes import router as ports_router
from api.proofs.service import RateGuard
from api.public.routes import router as public_router
from api.referrals.routes import liaison_router
from api.referrals.routes import router as referrals_router
from api.reports.routes import router as reports_router
from api.reports.schemas import ReportCreate
from api.retention.routes import router as retention_router
from api.routing.routes import router as routing_router
from api.staff.routes import router as staff_router
from api.taxonomy.routes import router as categories_router
from api.triage.routes import router as triage_router
from api.web import Assets, Pages
from mobile.routes import error_page as mobile_error_page
from mobile.routes import router as mobile_router

API_PREFIX = "/api/v1"
# Where ``portline serve`` passes the set-up token's digest (never the token) to its processes.
SETUP_DIGEST_VARIABLE = "PORTLINE_SETUP_TOKEN_DIGEST"
HERE = Path(__file__).parent
DOCS_URL = "/api/docs"
OPENAPI_URL = "/api/openapi.json"
docs_assets = Assets(HERE / "static", f"{DOCS_URL}/static")
docs_pages = Pages(HERE / "templates", HERE / "locale", docs_assets)

DESCRIPTION = """
Portline's JSON API. The **reporter** endpoints are public and anonymous: they set no
cookie, record no address, and every error is JSON
`{"error": {"code", "message", "fields"?}}` with a 4xx status.

A report is sent as `multipart/form-data` with a `report` part (JSON) and optional
`files`; submission and receipt login need a solved proof-of-work challenge from
`POST /api/v1/public/challenge`.
"""


def create_app(
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    keyring: KeyRing | None = None,
    setup_token: SetupToken | None = None,
) -> FastAPI:
    """Build the application. The database must already be at the latest migration.
    ``setup_token`` opens the console's set-up page (``portline serve`` draws one while
    the installation has no administrator); without it the page is never there."""
    settings = settings or get_settings()
    engine = engine or make_engine(settings.effective_database_url)
    keyring = keyring or open_keyring(settings=settings, engine=engine)

    app = FastAPI(
        title="Portline",
        version="1",
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        openapi_url=OPENAPI_URL,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.keyring = keyring
    app.state.rate_guard = RateGuard()  # the no-JavaScript forms' guard, in memory only
    app.state.setup_token = setup_token  # forgotten once the first administrator is made

    api = APIRouter(prefix=API_PREFIX)
    api.include_router(public_router, dependencies=[Public])
    api.include_router(reports_router, dependencies=[Public])
    api.include_router(staff_router)
    api.include_router(audit_router)
    api.include_router(cases_router)
    api.include_router(triage_router)
    api.include_router(dashboard_router)
    api.include_router(ports_router)
    api.include_router(categories_router)
    api.include_router(bodies_router)
    api.include_router(routing_router)
    api.include_router(referrals_router)
    api.include_router(liaison_router)
    api.include_router(retention_router)
    app.include_router(api)
    app.include_router(admin_router)
    app.include_router(mobile_router, dependencies=[Public])
    app.include_router(operations_router)

    _document_multipart_schemas(app)
    _serve_docs_locally(app)
    install_error_handlers(app)
    _pages_answer_errors_in_html(app)
    app.add_middleware(
        PortlineMiddleware, max_body_bytes=settings.max_request_bytes, docs_prefix=DOCS_URL
    )
    return app


def create_app_in_process() -> FastAPI:
    """The application of one ``portline serve`` process (uvicorn's factory): settings
    from the environment, the database already migrated by the parent, and the set-up
    token's digest that the parent drew and passed down (so every process of one
    ``serve`` opens the set-up page with the one link it printed)."""
    hashing.limit_malloc_arenas()  # before the request threads make their arenas
    digest = os.environ.get(SETUP_DIGEST_VARIABLE)
    return create_app(load_settings(), setup_token=SetupToken(digest) if digest else None)


def _serve_docs_locally(app: FastAPI) -> None:
    """Swagger UI at /api/docs from files installed with Portline: no CDN request, and
    our own page (FastAPI's starts Swagger UI with an inline script), so the docs keep the
    pages' policy."""
    swagger = Path(fastapi_offline.__file__).parent / "static"
    app.mount(f"{DOCS_URL}/assets", StaticFiles(directory=swagger), name="docs-assets")
    app.include_router(docs_assets.router(), dependencies=[Public])

    @app.get(DOCS_URL, include_in_schema=False, dependencies=[Public])
    def docs() -> HTMLResponse:
        # Swagger UI speaks English only, so its page does too; the title is the API's name.
        return docs_pages.render(
            "docs.html",
            "en",
            {
                "title": f"{app.title} API",
                "openapi_url": OPENAPI_URL,
                "swagger_js_url": f"{DOCS_URL}/assets/swagger-ui-bundle.js",
                "swagger_css_url": f"{DOCS_URL}/assets/swagger-ui.css",
                "favicon_url": f"{DOCS_URL}/assets/favicon.png",
            },
        )


def _document_multipart_schemas(app: FastAPI) -> None:
    """Add the JSON part of the multipart report to the OpenAPI components."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            report = ReportCreate.model_json_schema(ref_template="#/components/schemas/{model}")
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components.update(report.pop("$defs", {}))
            components["ReportCreate"] = report
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _pages_answer_errors_in_html(app: FastAPI) -> None:
    """Outside /api/, a person reads the error: answer with a page, not JSON."""

    async def on_http_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, StarletteHTTPException)
        if request.url.path.startswith("/api/"):
            return await http_error_response(request, error)
        status = error.status_code if error.status_code < 500 else 400
        if request.url.path.startswith("/admin"):
            return admin_error_page(request, status)
        return mobile_error_page(request, status)

    app.add_exception_handler(StarletteHTTPException, on_http_error)
