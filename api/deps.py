"""Request dependencies: the unit of work, settings, the key ring, the reporter."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import Session

from api.config import Settings
from api.crypto import KeyRing
from api.db import session_scope, utcnow
from api.errors import Unauthorized
from api.i18n import N_, negotiate
from api.reports import service as reports_service
from api.reports.models import Report


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
