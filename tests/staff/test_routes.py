"""Staff sign-in with two factors, sessions, accounts and what the audit log keeps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api.audit.models import AuditEntry
from api.crypto import KeyRing
from api.errors import Unauthorized
from api.policy import Role
from api.staff import service
from api.staff.models import Staff
from tests.factories import STAFF_PASSWORD, make_staff, sign_in_staff


def password_step(client: TestClient, email: str, password: str = STAFF_PASSWORD) -> httpx.Response:
    client.base_url = "https://testserver"
    answer: httpx.Response = client.post(
        "/api/v1/staff/session", json={"email": email, "password": password}
    )
    return answer


def code_step(client: TestClient, code: str) -> httpx.Response:
    answer: httpx.Response = client.post("/api/v1/staff/session/second-factor", json={"code": code})
    return answer


def previous_code(secret: str) -> str:
    return pyotp.TOTP(secret).at(datetime.now(UTC) - timedelta(seconds=30))


class TestSignIn:
    def test_password_then_code_signs_in_with_a_new_session_id(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        staff, secret = make_staff(session, keyring)
        first = password_step(client, staff.email)
        assert first.status_code == 200
        pending_cookie = client.cookies.get("portline_staff")
        assert client.get("/api/v1/staff/me").status_code == 401  # one factor is not enough
        second = code_step(client, pyotp.TOTP(secret).now())
        assert second.status_code == 200
        assert client.cookies.get("portline_staff") not in (None, pending_cookie)
        assert client.get("/api/v1/staff/me").json()["email"] == staff.email
        stale = TestClient(
            client.app,
            base_url="https://testserver",
            cookies={"portline_staff": pending_cookie or ""},
        )
        assert stale.get("/api/v1/staff/me").status_code == 401

    def test_the_cookie_is_http_only_strict_and_secure(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        staff, _secret = make_staff(session, keyring)
        response = password_step(client, staff.email)
        cookie = response.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "secure" in cookie

    def test_an_unknown_address_and_a_wrong_password_get_the_same_answer(
        self,
        client: TestClient,
        session: Session,
        keyring: KeyRing,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setattr("api.staff.service.time.sleep", lambda _seconds: None)
        staff, _secret = make_staff(session, keyring)
        wrong = password_step(client, staff.email, "not the password at all")
        unknown = password_step(client, "nobody@example.test", "not the password at all")
        assert wrong.status_code == unknown.status_code == 401
        assert wrong.json() == unknown.json()

    def test_a_wrong_code_and_a_reused_code_are_refused(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        staff, secret = make_staff(session, keyring)
        password_step(client, staff.email)
        wrong = code_step(client, "000000" if pyotp.TOTP(secret).now() != "000000" else "111111")
        assert wrong.status_code == 422
        code = pyotp.TOTP(secret).now()
        assert code_step(client, code).status_code == 200
        password_step(client, staff.email)
        assert code_step(client, code).status_code == 422

    def test_repeated_failures_slow_down_then_lock_the_account(
        self,
        client: TestClient,
        session: Session,
        keyring: KeyRing,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        delays: list[float] = []
        monkeypatch.setattr("api.staff.service.time.sleep", delays.append)
        staff, _secret = make_staff(session, keyring)
        for _ in range(service.LOCK_AFTER_FAILURES):
            assert password_step(client, staff.email, "wrong wrong wrong").status_code == 401
        assert delays == sorted(delays) and delays[-1] > delays[0] > 0
        locked = password_step(client, staff.email)  # the right password, now refused
        assert locked.status_code == 401
        actions = session.exec(
            select(AuditEntry.action).where(AuditEntry.object_id == str(staff.id))
        ).all()
        assert "login.locked" in actions and actions.count("login.failed") >= 5


class TestEnrolment:
    def test_a_new_account_chooses_a_password_enrols_and_gets_ten_recovery_codes(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        admin, admin_secret = make_staff(session, keyring, role=Role.administrator)
        csrf = sign_in_staff(client, admin, admin_secret)
        created = client.post(
            "/api/v1/staff/accounts",
            json={"email": "new.triager@example.test", "role": "triager"},
            headers=csrf,
        )
        assert created.status_code == 201, created.text
        token = created.json()["invitation_url"].rsplit("/", 1)[-1]
        client.cookies.clear()

        weak = client.post(f"/api/v1/staff/invitations/{token}", json={"password": "port12345678"})
        assert weak.status_code == 422
        assert weak.json()["error"]["fields"][0]["field"] == "password"
        strong = "gantry moon pickle ferry ledger"
        assert (
            client.post(f"/api/v1/staff/invitations/{token}", json={"password": strong}).status_code
            == 200
        )
        assert password_step(client, "new.triager@example.test", strong).json()["enrolment_needed"]
        enrolment = client.post("/api/v1/staff/enrolment").json()
        assert enrolment["qr_svg"].startswith("<svg") and "otpauth://" in enrolment["uri"]
        confirmed = client.post(
            "/api/v1/staff/enrolment/confirm", json={"code": pyotp.TOTP(enrolment["secret"]).now()}
        )
        assert confirmed.status_code == 200, confirmed.text
        codes = confirmed.json()["recovery_codes"]
        assert len(codes) == len(set(codes)) == 10
        assert client.get("/api/v1/staff/me").json()["second_factor"] is True

        # A recovery code works once.
        client.cookies.clear()
        password_step(client, "new.triager@example.test", strong)
        assert code_step(client, codes[0]).status_code == 200
        password_step(client, "new.triager@example.test", strong)
        assert code_step(client, codes[0]).status_code == 422


class TestSessions:
    def test_sessions_end_after_30_idle_minutes_and_after_12_hours(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        staff, secret = make_staff(session, keyring)
        sign_in_staff(client, staff, secret)
        token = client.cookies.get("portline_staff") or ""
        now = datetime.now(UTC)
        assert service.session_for_token(session=session, token=token, now=now).staff.id == staff.id
        with pytest.raises(Unauthorized):
            service.session_for_token(session=session, token=token, now=now + timedelta(minutes=31))

    def test_sessions_end_at_the_absolute_limit_even_when_active(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        staff, secret = make_staff(session, keyring)
        sign_in_staff(client, staff, secret)
        token = client.cookies.get("portline_staff") or ""
        moment = datetime.now(UTC)
        for _ in range(25):  # active every 29 minutes for 12 hours
            moment += timedelta(minutes=29)
            try:
                service.session_for_token(session=session, token=token, now=moment)
            except Unauthorized:
                break
        assert moment - datetime.now(UTC) <= timedelta(hours=12, minutes=29)
        with pytest.raises(Unauthorized):
            service.session_for_token(session=session, token=token, now=moment)

    def test_sign_out_everywhere_ends_every_session(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        staff, secret = make_staff(session, keyring)
        # Two browsers: the first with the previous code, as each code works only once.
        second_client = TestClient(client.app, base_url="https://testserver")
        password_step(second_client, staff.email)
        assert code_step(second_client, previous_code(secret)).status_code == 200
        csrf = sign_in_staff(client, staff, secret)
        first_token = client.cookies.get("portline_staff")
        assert second_client.get("/api/v1/staff/me").status_code == 200
        assert len(client.get("/api/v1/staff/me/sessions").json()) == 2
        assert client.delete("/api/v1/staff/me/sessions", headers=csrf).status_code == 204
        assert second_client.get("/api/v1/staff/me").status_code == 401
        stale = TestClient(
            client.app, base_url="https://testserver", cookies={"portline_staff": first_token or ""}
        )
        assert stale.get("/api/v1/staff/me").status_code == 401

    def test_a_change_without_the_csrf_token_is_refused(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        staff, secret = make_staff(session, keyring)
        sign_in_staff(client, staff, secret)
        response = client.delete("/api/v1/staff/me/sessions")
        assert response.status_code == 403
        assert client.get("/api/v1/staff/me").status_code == 200


class TestAccounts:
    def test_disabling_an_account_ends_its_sessions_and_is_audited(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        admin, admin_secret = make_staff(session, keyring, role=Role.administrator)
        triager, triager_secret = make_staff(session, keyring)
        triager_client = TestClient(client.app, base_url="https://testserver")
        sign_in_staff(triager_client, triager, triager_secret)
        csrf = sign_in_staff(client, admin, admin_secret)
        assert (
            client.post(f"/api/v1/staff/accounts/{triager.id}/disable", headers=csrf).status_code
            == 200
        )
        assert triager_client.get("/api/v1/staff/me").status_code == 401
        assert client.post(f"/api/v1/staff/accounts/{triager.id}/enable", headers=csrf).json()[
            "active"
        ]
        reset = client.post(
            f"/api/v1/staff/accounts/{triager.id}/reset-second-factor", headers=csrf
        )
        assert reset.status_code == 200 and not reset.json()["account"]["second_factor"]
        actions = session.exec(
            select(AuditEntry.action).where(AuditEntry.object_id == str(triager.id))
        ).all()
        assert {"staff.disabled", "staff.enabled", "staff.second_factor_reset"} <= set(actions)

    def test_the_audit_log_never_holds_a_password_or_a_code(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        staff, secret = make_staff(session, keyring)
        sign_in_staff(client, staff, secret)
        entries = session.exec(select(AuditEntry)).all()
        text = " ".join(f"{entry.actor} {entry.action} {entry.detail}" for entry in entries)
        assert STAFF_PASSWORD not in text and secret not in text
        assert session.get(Staff, staff.id) is not None


class TestPasswords:
    def test_changing_the_password_ends_the_other_sessions_only(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        staff, secret = make_staff(session, keyring)
        other = TestClient(client.app, base_url="https://testserver")
        password_step(other, staff.email)
        assert code_step(other, previous_code(secret)).status_code == 200
        csrf = sign_in_staff(client, staff, secret)
        changed = client.post(
            "/api/v1/staff/me/password",
            json={
                "current_password": STAFF_PASSWORD,
                "new_password": "lantern quarry velvet tugboat",
            },
            headers=csrf,
        )
        assert changed.status_code == 204, changed.text
        assert client.get("/api/v1/staff/me").status_code == 200
        assert other.get("/api/v1/staff/me").status_code == 401

    @pytest.mark.real_password_hashing
    def test_a_hash_made_with_older_parameters_is_renewed_at_sign_in(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        from passlib.context import CryptContext

        staff, secret = make_staff(session, keyring)
        weaker = CryptContext(
            schemes=["argon2"], argon2__type="ID", argon2__memory_cost=8192, argon2__time_cost=1
        )
        staff.password_hash = weaker.hash(STAFF_PASSWORD)
        session.add(staff)
        session.flush()
        sign_in_staff(client, staff, secret)
        session.refresh(staff)
        assert staff.password_hash is not None and "m=65536" in staff.password_hash
