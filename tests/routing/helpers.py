"""Signing in as each role, and reading the audit log, for the routing tests."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from api.agencies.models import Body
from api.audit.models import AuditEntry
from api.crypto import KeyRing
from api.policy import Role
from tests.factories import make_staff, sign_in_staff


def sign_in_as(
    client: TestClient, session: Session, keyring: KeyRing, role: Role
) -> dict[str, str]:
    """Signs ``client`` in with a new account of ``role``; returns the CSRF header."""
    body_id = session.exec(select(Body.id)).first() if role == Role.liaison else None
    staff, secret = make_staff(session, keyring, role=role, body_id=body_id)
    return sign_in_staff(client, staff, secret)


def audit_entries(session: Session, object_type: str, object_id: str | int) -> list[AuditEntry]:
    query = (
        select(AuditEntry)
        .where(AuditEntry.object_type == object_type, AuditEntry.object_id == str(object_id))
        .order_by(col(AuditEntry.seq))
    )
    return list(session.exec(query).all())


def text_of(page: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))
