"""A second-factor code works once, even sent many times at the same instant to one or
several server processes; the code step has its own limit; failure counters count every
failure, however many arrive together."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from functools import partial
from pathlib import Path

import httpx
import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from api.audit.models import AuditEntry
from api.crypto import KeyRing, generate_key_text
from api.staff import passwords, service, totp
from api.staff.models import RecoveryCode, Staff, StaffSession
from tests.factories import STAFF_PASSWORD, make_staff
from tests.server import fired_together, keyring_of, running_server, server_environment
from tests.staff.test_routes import code_step, password_step

AT_ONCE = 10  # each first passes the password step: Argon2id at full cost, 0.3 s of CPU
RECOVERY_CODE = "k7m2-9xq4-wd3p"


def _statuses(requests: list[Callable[[], httpx.Response]]) -> list[int]:
    return [answer.status_code for answer in fired_together(requests)]


@contextmanager
def _servers(
    count: int, live_database: tuple[str, Engine], tmp_path: Path
) -> Iterator[tuple[list[str], Staff, str]]:
    """``count`` server processes on one database, and an account that can sign in."""
    url, engine = live_database
    key = generate_key_text()
    environments = [
        server_environment(url, tmp_path / f"server-{number}", key=key) for number in range(count)
    ]
    with Session(engine, expire_on_commit=False) as session:
        staff, secret = make_staff(session, keyring_of(environments[0]))
        session.add(
            RecoveryCode(
                staff_id=staff.id or 0,
                code_hash=passwords.hash_password(totp.normalise_recovery_code(RECOVERY_CODE)),
            )
        )
        session.commit()
    with ExitStack() as stack:
        base_urls = [
            stack.enter_context(running_server(environment, tmp_path / f"server-{number}.log"))
            for number, environment in enumerate(environments)
        ]
        yield base_urls, staff, secret


def _half_signed_in(
    base_urls: list[str], email: str, stack: ExitStack, count: int = AT_ONCE
) -> list[httpx.Client]:
    """``count`` clients past the password step, spread over the servers."""
    clients = []
    for base_url in itertools.islice(itertools.cycle(base_urls), count):
        client = stack.enter_context(httpx.Client(base_url=base_url, timeout=60))
        signed = client.post(
            "/api/v1/staff/session", json={"email": email, "password": STAFF_PASSWORD}
        )
        assert signed.status_code == 200, signed.text
        clients.append(client)
    return clients


def _wrong_code(secret: str) -> str:
    """A code that is none of those accepted now (the current step and one either side)."""
    accepted = {pyotp.TOTP(secret).at(int(time.time()) + 30 * step) for step in (-1, 0, 1)}
    return next(code for code in ("000000", "111111", "222222", "333333") if code not in accepted)


def _send_code(client: httpx.Client, code: str) -> Callable[[], httpx.Response]:
    return partial(client.post, "/api/v1/staff/session/second-factor", json={"code": code})


class TestTheSameCodeAtOnce:
    @pytest.mark.parametrize("processes", [1, 2])
    @pytest.mark.parametrize("kind", ["totp", "recovery"])
    def test_one_code_sent_ten_times_at_once_signs_in_once(
        self, kind: str, processes: int, live_database: tuple[str, Engine], tmp_path: Path
    ) -> None:
        with (
            _servers(processes, live_database, tmp_path) as (base_urls, staff, secret),
            ExitStack() as stack,
        ):
            clients = _half_signed_in(base_urls, staff.email, stack)
            code = pyotp.TOTP(secret).now() if kind == "totp" else RECOVERY_CODE
            statuses = _statuses([_send_code(client, code) for client in clients])
        assert sorted(statuses) == [200] + [422] * (AT_ONCE - 1)
        _url, engine = live_database
        with Session(engine) as session:
            used = session.exec(
                select(RecoveryCode.used_at).where(RecoveryCode.staff_id == staff.id)
            ).all()
        # The recovery code is spent, once, only when it was the code sent.
        if kind == "recovery":
            assert len(used) == 1 and used[0] is not None
        else:
            assert used == [None]

    def test_one_half_signed_in_session_completes_once(
        self, live_database: tuple[str, Engine], tmp_path: Path
    ) -> None:
        """Two codes that are both right (the current one and a recovery code) on the same
        session at once: one sign-in, not two sessions from one password step."""
        with (
            _servers(1, live_database, tmp_path) as ([base_url], staff, secret),
            ExitStack() as stack,
        ):
            [client] = _half_signed_in([base_url], staff.email, stack, 1)
            cookies = dict(client.cookies)
            twin = stack.enter_context(httpx.Client(base_url=base_url, cookies=cookies, timeout=60))
            statuses = _statuses(
                [
                    _send_code(client, pyotp.TOTP(secret).now()),
                    _send_code(twin, RECOVERY_CODE),
                ]
            )
        assert sorted(statuses) == [200, 401]
        _url, engine = live_database
        with Session(engine) as session:
            signed_in = session.exec(
                select(StaffSession).where(
                    StaffSession.staff_id == staff.id, StaffSession.second_factor_done
                )
            ).all()
        assert len(signed_in) == 1


class TestTheCodeStepHasItsOwnLimit:
    def test_five_wrong_codes_end_the_half_signed_in_session_and_count_a_failure(
        self,
        client: TestClient,
        session: Session,
        keyring: KeyRing,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        delays: list[float] = []
        monkeypatch.setattr("api.staff.service.time.sleep", delays.append)
        staff, secret = make_staff(session, keyring)
        password_step(client, staff.email)
        right = pyotp.TOTP(secret).now()
        wrong = _wrong_code(secret)
        for _ in range(service.SECOND_FACTOR_TRIES - 1):
            refused = code_step(client, wrong)
            assert refused.status_code == 422
        last = code_step(client, wrong)
        assert last.status_code == 401
        assert last.json()["error"]["message"] == "Too many wrong codes. Sign in again."
        # The session is gone: not even the right code works on it now.
        again = code_step(client, right)
        assert again.status_code == 401
        session.refresh(staff)
        assert staff.failed_logins == 1
        assert delays and delays[-1] > 0  # the same slow-down as a wrong password
        actions = session.exec(
            select(AuditEntry.action).where(AuditEntry.object_id == str(staff.id))
        ).all()
        assert "login.second_factor_exhausted" in actions
        assert actions.count("login.second_factor_failed") == service.SECOND_FACTOR_TRIES

    def test_ended_code_steps_lock_the_account_like_wrong_passwords(
        self,
        client: TestClient,
        session: Session,
        keyring: KeyRing,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setattr("api.staff.service.time.sleep", lambda _seconds: None)
        staff, secret = make_staff(session, keyring)
        wrong = _wrong_code(secret)
        for _ in range(service.LOCK_AFTER_FAILURES):
            assert password_step(client, staff.email).status_code == 200
            for _ in range(service.SECOND_FACTOR_TRIES):
                code_step(client, wrong)
        assert password_step(client, staff.email).status_code == 401  # now locked
        actions = session.exec(
            select(AuditEntry.action).where(AuditEntry.object_id == str(staff.id))
        ).all()
        assert "login.locked" in actions

    def test_the_console_sends_a_person_back_to_the_password_after_five_wrong_codes(
        self,
        client: TestClient,
        session: Session,
        keyring: KeyRing,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setattr("api.staff.service.time.sleep", lambda _seconds: None)
        staff, secret = make_staff(session, keyring)
        password_step(client, staff.email)
        form = client.get("/admin/login/second-factor")
        assert form.status_code == 200, form.text
        csrf = form.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        wrong = _wrong_code(secret)
        pages = [
            client.post("/admin/login/second-factor", data={"code": wrong, "csrf_token": csrf})
            for _ in range(service.SECOND_FACTOR_TRIES)
        ]
        assert [page.status_code for page in pages[:-1]] == [422] * (
            service.SECOND_FACTOR_TRIES - 1
        )
        assert pages[-1].status_code == 401
        assert "Too many wrong codes. Sign in again." in pages[-1].text
        assert 'name="password"' in pages[-1].text


class TestFailuresSentTogetherAllCount:
    def test_wrong_passwords_sent_at_once_are_each_counted(
        self, live_database: tuple[str, Engine], tmp_path: Path
    ) -> None:
        at_once = service.LOCK_AFTER_FAILURES - 1
        with (
            _servers(2, live_database, tmp_path) as (base_urls, staff, _secret),
            ExitStack() as stack,
        ):
            clients = [
                stack.enter_context(httpx.Client(base_url=base_url, timeout=60))
                for base_url in itertools.islice(itertools.cycle(base_urls), at_once)
            ]
            statuses = _statuses(
                [
                    partial(
                        client.post,
                        "/api/v1/staff/session",
                        json={"email": staff.email, "password": "not the password at all"},
                    )
                    for client in clients
                ]
            )
        assert statuses == [401] * at_once
        _url, engine = live_database
        with Session(engine) as session:
            assert session.get(Staff, staff.id).failed_logins == at_once  # type: ignore[union-attr]

    def test_wrong_codes_sent_at_once_on_one_session_are_each_counted(
        self, live_database: tuple[str, Engine], tmp_path: Path
    ) -> None:
        at_once = service.SECOND_FACTOR_TRIES - 1
        with (
            _servers(1, live_database, tmp_path) as ([base_url], staff, secret),
            ExitStack() as stack,
        ):
            [client] = _half_signed_in([base_url], staff.email, stack, 1)
            twins = [
                stack.enter_context(
                    httpx.Client(base_url=base_url, cookies=dict(client.cookies), timeout=60)
                )
                for _ in range(at_once)
            ]
            wrong = _wrong_code(secret)
            statuses = _statuses([_send_code(twin, wrong) for twin in twins])
        assert statuses == [422] * at_once
        _url, engine = live_database
        with Session(engine) as session:
            pending = session.exec(
                select(StaffSession).where(StaffSession.staff_id == staff.id)
            ).all()
        assert [row.second_factor_failures for row in pending if not row.second_factor_done] == [
            at_once
        ]
