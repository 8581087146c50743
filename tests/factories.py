"""Plain factory functions for tests."""

from __future__ import annotations

import io
import json
import secrets
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pyotp
from fastapi.testclient import TestClient
from PIL import Image
from sqlmodel import Session

from api.crypto import KeyRing
from api.policy import Role
from api.staff import passwords as staff_passwords
from api.staff import service as staff_service
from api.staff.models import Staff


def report_payload(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "kind": "incident",
        "category": "seal-tampering",
        "port": "NHV",
        "zone": "ct-north",
        "location_detail": "Stack 14, near the reefer plugs",
        "occurred_on": (date.today() - timedelta(days=1)).isoformat(),
        "occurred_approximate": False,
        "cargo_direction": "inbound",
        "narrative": "Two men cut the seal of a reefer container at night and fitted a new one.",
        "language": "en",
    }
    payload.update(overrides)
    return payload


def jpeg_bytes(
    width: int = 64, height: int = 48, color: tuple[int, int, int] = (200, 30, 30)
) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, "JPEG")
    return buffer.getvalue()


def submission_key() -> str:
    return secrets.token_urlsafe(24)


def post_report(
    client: TestClient | httpx.Client,
    payload: dict[str, Any] | None = None,
    files: list[tuple[str, bytes, str]] | None = None,
    **kwargs: Any,
) -> httpx.Response:
    """Send a report as the mobile client does: a JSON ``report`` part and ``files``."""
    parts: list[tuple[str, tuple[str | None, bytes, str]]] = [
        ("report", (None, json.dumps(payload or report_payload()).encode(), "application/json"))
    ]
    parts.extend(
        ("files", (name, content, media_type)) for name, content, media_type in files or []
    )
    return client.post("/api/v1/reports", files=parts, **kwargs)


def log_in(client: TestClient | httpx.Client, receipt: str) -> dict[str, str]:
    """Authorization headers for the reporter holding ``receipt``."""
    response = client.post("/api/v1/reporter/session", json={"receipt": receipt})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


STAFF_PASSWORD = "correct horse battery staple harbour"


def make_staff(
    session: Session,
    keyring: KeyRing,
    *,
    role: Role = Role.triager,
    email: str | None = None,
    body_id: int | None = None,
) -> tuple[Staff, str]:
    """An active account with a password and a second factor; returns it and its TOTP secret."""
    account = staff_service.create_account(
        session=session,
        keyring=keyring,
        actor=None,
        email=email or f"{role.value}-{secrets.token_hex(4)}@example.test",
        role=role,
        body_id=body_id,
        now=datetime.now(UTC),
    )
    staff = account.staff
    staff.password_hash = staff_passwords.hash_password(STAFF_PASSWORD)
    enrolment = staff_service.start_enrolment(session=session, keyring=keyring, staff=staff)
    staff.totp_enabled = True
    session.add(staff)
    session.flush()
    return staff, enrolment.secret


def sign_in_staff(client: TestClient, staff: Staff, secret: str) -> dict[str, str]:
    """Sign in through the API with both factors; returns the CSRF header for changes."""
    client.base_url = "https://testserver"  # the staff cookie is Secure
    first = client.post(
        "/api/v1/staff/session", json={"email": staff.email, "password": STAFF_PASSWORD}
    )
    assert first.status_code == 200, first.text
    second = client.post(
        "/api/v1/staff/session/second-factor", json={"code": pyotp.TOTP(secret).now()}
    )
    assert second.status_code == 200, second.text
    return {"X-CSRF-Token": second.json()["csrf_token"]}
