"""Staff people for the console's tests and the steps they take to sign in."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import pyotp
from fastapi.testclient import TestClient
from sqlmodel import Session

from api.crypto import KeyRing
from api.policy import Role
from api.staff import service as staff_service
from api.staff.models import Staff

PASSWORD = "lantern quayside marmalade orbit"
CONSOLE_URL = "https://testserver"


@dataclass
class Person:
    staff: Staff
    password: str
    secret: str = ""
    recovery_codes: list[str] = field(default_factory=list)

    @property
    def email(self) -> str:
        return self.staff.email

    def code(self, *, steps_ahead: int = 0) -> str:
        """The code the authenticator app shows now (or that many 30 s steps later)."""
        moment = datetime.now(UTC) + timedelta(seconds=30 * steps_ahead)
        return pyotp.TOTP(self.secret).at(moment)


def make_person(
    session: Session,
    keyring: KeyRing,
    *,
    role: Role = Role.triager,
    email: str | None = None,
    enrolled: bool = True,
    body_id: int | None = None,
) -> Person:
    """An account with a password and, unless ``enrolled`` is false, a second factor set up
    through the service as the enrolment page does; committed, as a real request would."""
    now = datetime.now(UTC)
    account = staff_service.create_account(
        session=session,
        keyring=keyring,
        actor=None,
        email=email or f"{role.value}-{secrets.token_hex(4)}@example.test",
        role=role,
        body_id=body_id,
        now=now,
    )
    staff_service.accept_invitation(
        session=session, keyring=keyring, token=account.invitation, password=PASSWORD, now=now
    )
    person = Person(account.staff, PASSWORD)
    if enrolled:
        enrolment = staff_service.start_enrolment(
            session=session, keyring=keyring, staff=account.staff
        )
        person.secret = enrolment.secret
        # Set up two minutes ago, so the code of this moment has not been used yet.
        earlier = now - timedelta(minutes=2)
        signed_in = staff_service.sign_in(
            session=session, keyring=keyring, email=person.email, password=PASSWORD, now=earlier
        )
        pending = staff_service.session_for_token(
            session=session, token=signed_in.token, now=earlier, pending_ok=True
        )
        person.recovery_codes = staff_service.confirm_enrolment(
            session=session,
            keyring=keyring,
            staff_session=pending.staff_session,
            code=pyotp.TOTP(enrolment.secret).at(earlier),
            now=earlier,
        ).recovery_codes
        staff_service.end_all_sessions(session=session, staff=account.staff)
    session.commit()
    return person


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def password_step(client: TestClient, email: str, password: str = PASSWORD) -> httpx.Response:
    response: httpx.Response = client.post(
        "/admin/login", data={"email": email, "password": password}
    )
    return response


def code_step(client: TestClient, page: str, code: str) -> httpx.Response:
    response: httpx.Response = client.post(
        "/admin/login/second-factor", data={"code": code, "csrf_token": csrf_of(page)}
    )
    return response


def sign_in(client: TestClient, person: Person, code: str | None = None) -> httpx.Response:
    """Both steps, as a person does them in the browser; returns the last page."""
    first = password_step(client, person.email, person.password)
    assert first.url.path == "/admin/login/second-factor", first.text
    return code_step(client, first.text, code or person.code())


def browser(client: TestClient) -> TestClient:
    """Another browser on the same application, with cookies of its own."""
    return TestClient(client.app, base_url=CONSOLE_URL)
