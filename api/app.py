"""The composition root: one FastAPI application with its three faces."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from sqlalchemy import Engine

from api.config import Settings, get_settings
from api.crypto import KeyRing
from api.db import make_engine
from api.errors import install_error_handlers
from api.keystore.service import open_keyring
from api.middleware import PortlineMiddleware
from api.public.routes import router as public_router
from api.reports.routes import router as reports_router

API_PREFIX = "/api/v1"

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
) -> FastAPI:
    """Build the application. The database must already be at the latest migration."""
    settings = settings or get_settings()
    engine = engine or make_engine(settings.effective_database_url)
    keyring = keyring or open_keyring(settings=settings, engine=engine)

    app = FastAPI(
        title="Portline",
        version="1",
        description=DESCRIPTION,
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/openapi.json",
        swagger_ui_parameters={"tryItOutEnabled": False},
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.keyring = keyring

    api = APIRouter(prefix=API_PREFIX)
    api.include_router(public_router)
    api.include_router(reports_router)
    app.include_router(api)

    install_error_handlers(app)
    app.add_middleware(PortlineMiddleware, max_body_bytes=settings.max_request_bytes)
    return app
