"""Request dependencies: the unit of work, settings, the key ring, the reporter."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlmodel import Session

from api.config import Settings
from api.crypto import KeyRing
from api.db import session_scope, utcnow
from api.errors import Forbidden, Unauthorized
from api.i18n import N_, negotiate
from api.policy import Permission
from api.reports import service as reports_service
from api.reports.models import Report
from api.staff import service as staff_service
from api.staff.models import Staff


def get_session(request: Request) -> Iterator[Session]:
    yield from session_scope(request.app.state.engine)


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_keyring(request: Request) -> KeyRing:
    keyring: KeyRing = request.app.state.keyring
    return keyring


def get_language(request: Request) -> str:
    return negotiate(request.headers.get("accept-language"), request.query_params.get("lang"))


# "function" scope: the commit happens before the response is sent, so a client never
# hears "stored" about something that was rolled back.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_settings)]
KeyRingDep = Annotated[KeyRing, Depends(get_keyring)]
LanguageDep = Annotated[str, Depends(get_language)]
Now = Annotated[datetime, Depends(utcnow)]


def current_reporter(
    request: Request, session: SessionDep, keyring: KeyRingDep, now: Now
) -> Report:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized(
            N_("Enter your receipt code to see your report."),
            headers={"WWW-Authenticate": "Bearer"},
        )
    return reports_service.report_for_token(session=session, keyring=keyring, token=token, now=now)


ReporterDep = Annotated[Report, Depends(current_reporter, scope="function")]


# Staff --------------------------------------------------------------------------------------

STAFF_COOKIE = "portline_staff"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class SignInRequired(Unauthorized):
    """No valid staff session: the console answers with the sign-in page."""


def secure_cookie(request: Request) -> bool:
    """Cookies are Secure, except over plain HTTP on this machine (development).

    Behind a TLS proxy every request arrives over plain HTTP, with whatever Host the proxy
    passes on (``localhost``, or ``127.0.0.1`` if it rewrites it): an https public URL is
    what says the browser is on HTTPS."""
    if request.app.state.settings.public_url.startswith("https://"):
        return True
    return request.url.scheme == "https" or request.url.hostname not in ("127.0.0.1", "localhost")


def clear_staff_cookie(request: Request, response: Response) -> None:
    """End the staff session cookie with the attributes it was set with (a browser keeps
    a cookie whose deletion differs in Secure or SameSite)."""
    response.delete_cookie(
        STAFF_COOKIE, path="/", httponly=True, secure=secure_cookie(request), samesite="strict"
    )


def _staff_token(request: Request) -> str:
    return request.cookies.get(STAFF_COOKIE, "")


async def _csrf_token_sent(request: Request) -> str:
    header = request.headers.get("x-csrf-token")
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()  # Starlette keeps it for the route to read again
        value = form.get("csrf_token")
        return value if isinstance(value, str) else ""
    return ""


def require(permission: Permission) -> Callable[..., Awaitable[Staff]]:
    """A dependency that lets through only a signed-in staff member (both factors done)
    whose role grants ``permission``; changes also need the session's CSRF token."""

    async def dependency(request: Request, session: SessionDep, now: Now) -> Staff:
        try:
            # Off the event loop: on SQLite a transaction may wait for the writer lock, and
            # the request holding it needs the loop to finish.
            current = await run_in_threadpool(
                staff_service.session_for_token,
                session=session,
                token=_staff_token(request),
                now=now,
            )
        except Unauthorized:
            raise SignInRequired(N_("Please sign in.")) from None
        # Known before any refusal: a refusal page still carries the navigation.
        request.state.staff_session = current.staff_session
        request.state.staff = current.staff
        if request.method not in SAFE_METHODS:
            sent = await _csrf_token_sent(request)
            if not sent or not secrets.compare_digest(sent, current.staff_session.csrf_token):
                raise Forbidden(N_("This form has expired. Reload the page and try again."))
        staff_service.authorize(current.staff, permission)
        return current.staff

    dependency.portline_permission = permission  # type: ignore[attr-defined]
    return dependency


def public_route() -> None:
    """Marks a route anyone may call: the reporter's API and pages, signing in."""


public_route.portline_public = True  # type: ignore[attr-defined]
Public = Depends(public_route)
