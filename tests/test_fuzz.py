"""Schema-driven fuzzing: Schemathesis sends every operation of the OpenAPI document inputs
its schema allows, and inputs it does not, signed out, as a triager and as an
administrator (and the reporter's operations with a reporter's token). No answer is a
server error, and each answer to an input the schema allows is as the document says:
status code, media type, body and headers.

The fuzzing runs in its own pytest process (``pytest -m fuzz``, a step of
``scripts/test``), about two minutes in all. ``PORTLINE_FUZZ_EXAMPLES`` sets the examples
per operation and identity for a deeper run. The examples are derandomized, so a run
repeats the one before it. What it found is kept below as plain tests, which run with
the others on both databases.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import APIOperation, GenerationMode
from schemathesis.core import NotSet
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.core.result import Ok
from schemathesis.generation.case import Case as AnyCase
from schemathesis.openapi.checks import UndefinedStatusCode
from sqlalchemy import Engine
from sqlmodel import Session

from api.app import create_app
from api.config import Settings
from api.crypto import KeyRing
from api.demo import seed_demo_reports
from api.deps import STAFF_COOKIE, current_reporter
from api.policy import Role
from api.staff import service as staff_service
from api.staff.models import Staff
from tests.conftest import make_settings
from tests.factories import log_in, make_staff, sign_in_staff
from tests.routes import walk

Operation = APIOperation[Any, Any, Any, Any]
Case = AnyCase[Operation]

# Examples per operation and identity: inputs the schema allows, and inputs it does not.
EXAMPLES = int(os.environ.get("PORTLINE_FUZZ_EXAMPLES", "25"))
NEGATIVE_EXAMPLES = max(EXAMPLES // 3, 1)
BASE_URL = "https://testserver"  # the staff cookie is Secure
CHECKS: list[Callable[..., bool | None]] = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_schema_conformance,
    schemathesis.checks.response_headers_conformance,
]
# An input outside the schema gets a 4xx error in the one error shape, whichever: FastAPI
# answers 400 to a body it cannot decode, which no route lists, and pydantic's lax mode
# takes 0 for false (schemathesis' negative_data_rejection would count that as a failure).
NEGATIVE_CHECKS: list[Callable[..., bool | None]] = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_schema_conformance,
    schemathesis.checks.response_headers_conformance,
]
# Operations that end the session they are sent with, or every session of the person:
# after each of their cases the session is checked and, if it ended, replaced, so the
# operations after them still run signed in. Any other operation that ends the session is
# a failure of its own ("ended the session").
ENDS_SESSIONS = {
    "DELETE /api/v1/staff/session",  # signing out
    "DELETE /api/v1/staff/me/sessions",  # signing out everywhere
    "POST /api/v1/staff/accounts/{staff_id}/reset-second-factor",  # of oneself, too
}
IDENTITIES = ["signed-out", "reporter", Role.triager.value, Role.administrator.value]


@dataclass
class _Identity:
    """Who the cases are sent as: nobody, a reporter's token, or a staff member's session
    cookie with its CSRF token."""

    engine: Engine
    staff: Staff | None = None
    cookie: str = ""
    csrf: str = ""
    bearer: str = ""
    revived: int = 0

    def cookies(self) -> dict[str, str]:
        return {STAFF_COOKIE: self.cookie} if self.staff else {}

    def headers(self) -> dict[str, str]:
        if self.bearer:
            return {"Authorization": self.bearer}
        return {"X-CSRF-Token": self.csrf} if self.staff else {}

    def alive(self, client: TestClient) -> bool:
        if self.staff is None:
            return True
        client.cookies.clear()
        cookie = {"Cookie": f"{STAFF_COOKIE}={self.cookie}"}
        status: int = client.get("/api/v1/staff/me", headers=cookie).status_code
        return status == 200

    def revive(self) -> None:
        """A new signed-in session for the same person. Both factors were shown once through
        the API; a TOTP code works only once, so this session is made here."""
        assert self.staff is not None
        with Session(self.engine) as session:
            staff = session.get(Staff, self.staff.id)
            assert staff is not None
            self.cookie, self.csrf = staff_service._new_session(
                session, staff, datetime.now(UTC), second_factor_done=True
            )
            session.commit()
        self.revived += 1


@dataclass(eq=False)  # a log handler is kept in sets
class _Run(logging.Handler):
    """What the fuzzing found: each distinct failure once, with its first example. As a
    log handler it keeps the traceback of each error the app answered with a 500."""

    cases: Counter[str] = field(default_factory=Counter)
    nothing_invalid: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    failures: dict[tuple[str, str], str] = field(default_factory=dict)
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    tracebacks: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__()

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info:
            self.tracebacks.append("".join(traceback.format_exception(*record.exc_info)))

    def fail(self, operation: str, kind: str, detail: str) -> None:
        self.counts[operation, kind] += 1
        self.failures.setdefault((operation, kind), detail)

    def check(
        self,
        case: Case,
        response: schemathesis.Response,
        headers: dict[str, str],
        checks: list[Callable[..., bool | None]],
    ) -> None:
        label = case.operation.label
        try:
            case.validate_response(response, checks=checks, headers=headers)
        except FailureGroup as group:
            failures: list[Failure] = list(group.exceptions)
        except Failure as failure:
            failures = [failure]
        else:
            return
        trace = ""
        if response.status_code >= 500:
            # Errors of reporter-side requests are only counted (api/logs.py): no traceback.
            trace = "\n".join(self.tracebacks)[-3000:] or "(no traceback logged)"
        for found in failures:
            if isinstance(found, UndefinedStatusCode) and found.status_code >= 500:
                continue  # a server error: not_a_server_error reports it
            detail = (
                f"{found.message}\n{_sent(case)}\n→ {response.status_code} {response.text[:300]}"
            )
            self.fail(label, f"{found.title} {response.status_code}", f"{detail}\n{trace}")

    def report(self) -> str:
        return "\n\n".join(
            f"{operation}: {kind} ({self.counts[operation, kind]}×)\n{detail}"
            for (operation, kind), detail in sorted(self.failures.items())
        )


def _sent(case: Case) -> str:
    sent: dict[str, Any] = {"method": case.method, "path": case.formatted_path}
    if case.query:
        sent["query"] = case.query
    if not isinstance(case.body, NotSet) and case.body is not None:
        sent["body"] = case.body
    return json.dumps(sent, default=repr, ensure_ascii=False)[:800]


def _reads_reporter_token(dependant: Dependant) -> bool:
    return any(
        dependency.call is current_reporter or _reads_reporter_token(dependency)
        for dependency in dependant.dependencies
    )


def _set_up(
    identity: str, settings: Settings, engine: Engine
) -> tuple[FastAPI, _Identity, TestClient]:
    """The app on the test's own database with the demo port, a triager and an
    administrator, and the demo's reports (cases, messages, a closed one), so that ids
    1, 2, 3… are there to be found; and who the cases are sent as."""
    assert settings.key is not None
    keyring = KeyRing(base64.b64decode(settings.key))
    app = create_app(settings, engine=engine, keyring=keyring)
    with Session(engine, expire_on_commit=False) as session:
        staff = {
            role: make_staff(session, keyring, role=role)
            for role in (Role.triager, Role.administrator)
        }
        receipts = seed_demo_reports(session, keyring, settings, datetime.now(UTC))
        session.commit()
    client = TestClient(app, base_url=BASE_URL, raise_server_exceptions=False)
    if identity == "reporter":
        return (
            app,
            _Identity(engine, bearer=log_in(client, receipts[0][1])["Authorization"]),
            client,
        )
    if identity == "signed-out":
        return app, _Identity(engine), client
    member, secret = staff[Role(identity)]
    csrf = sign_in_staff(client, member, secret)["X-CSRF-Token"]
    return app, _Identity(engine, member, client.cookies[STAFF_COOKIE], csrf), client


@pytest.fixture
def fuzz_settings(live_database: tuple[str, Engine], tmp_path: Path) -> Settings:
    return make_settings(tmp_path, live_database[0])


@pytest.mark.fuzz
@pytest.mark.parametrize("identity", IDENTITIES)
def test_no_operation_answers_a_server_error_or_off_its_schema(
    identity: str,
    fuzz_settings: Settings,
    live_database: tuple[str, Engine],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A refused sign-in waits before it answers (tests/staff checks the wait); here it
    # would only make every fuzzed sign-in slow.
    monkeypatch.setattr(staff_service, "_delay_for", lambda failures: 0.0)
    app, sender, client = _set_up(identity, fuzz_settings, live_database[1])
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app)
    operations: list[Operation] = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result  # the document itself is broken
        operations.append(result.ok())
    document = client.get("/api/openapi.json").json()["paths"]
    # Every operation of the document is fuzzed: none is left out.
    assert sorted(operation.label for operation in operations) == sorted(
        f"{method.upper()} {path}" for path, item in document.items() for method in item
    )
    if identity == "reporter":
        # A reporter's token matters only to the operations that read it; the others are
        # the signed-out run's.
        reading = {
            f"{method} {found.path}"
            for found in walk(app.routes)
            if _reads_reporter_token(found.route.dependant)
            for method in found.route.methods or ()
        }
        operations = [operation for operation in operations if operation.label in reading]
        assert len(operations) == 3
    run = _Run()
    errors = logging.getLogger("portline.errors")  # where the app logs what it answered 500 to
    errors.addHandler(run)
    try:
        for operation in operations:
            for mode, examples in (
                (GenerationMode.POSITIVE, EXAMPLES),
                (GenerationMode.NEGATIVE, NEGATIVE_EXAMPLES),
            ):
                _fuzz(operation, mode, examples, run, sender, client)
            if not sender.alive(client):
                run.fail(operation.label, "ended the session", "")
                sender.revive()
    finally:
        errors.removeHandler(run)

    # The figures docs/benchmarks.md records (shown with pytest -s).
    print(
        f"\n{identity}: {len(operations)} operations, cases {dict(run.cases)}, "
        f"{run.nothing_invalid} without invalid input, {sender.revived} sessions replaced, "
        f"statuses {dict(sorted(run.statuses.items()))}"
    )
    assert run.failures == {}, run.report()


def _fuzz(
    operation: Operation,
    mode: GenerationMode,
    examples: int,
    run: _Run,
    sender: _Identity,
    client: TestClient,
) -> None:
    """Send ``examples`` cases of ``operation`` made in ``mode``, checking each answer."""

    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],  # every failure is kept, none shrunk
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.filter_too_much,
            HealthCheck.data_too_large,
        ],
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def send(case: Case) -> None:
        run.cases[mode.value] += 1
        run.tracebacks.clear()
        label = case.operation.label
        try:
            response = case.call(
                base_url=BASE_URL, headers=sender.headers(), cookies=sender.cookies()
            )
        except Exception as error:  # it escaped the app: a client would get no answer
            run.statuses[500] += 1
            trace = "".join(traceback.format_exception(error))[-3000:]
            run.fail(label, f"server error: {type(error).__name__}", f"{_sent(case)}\n{trace}")
            return
        finally:
            if label in ENDS_SESSIONS and not sender.alive(client):
                sender.revive()
        run.statuses[response.status_code] += 1
        run.check(
            case,
            response,
            sender.headers(),
            CHECKS if mode == GenerationMode.POSITIVE else NEGATIVE_CHECKS,
        )

    try:
        send()
    except Unsatisfiable:
        # An operation without parameters or a body has no input outside its schema.
        assert mode == GenerationMode.NEGATIVE
        assert not operation.path_parameters and not operation.query and not operation.body, (
            operation.label
        )
        run.nothing_invalid += 1


# What the fuzzing found -----------------------------------------------------------------

NUL = "\x00"


@pytest.mark.parametrize(
    ("role", "method", "path", "request_args"),
    [
        (
            None,
            "POST",
            "/api/v1/staff/session",
            {"json": {"email": f"a{NUL}@x.test", "password": "x"}},
        ),
        (Role.triager, "GET", "/api/v1/cases", {"params": {"search": f"seal{NUL}"}}),
        (Role.triager, "GET", "/api/v1/dashboard", {"params": {"port": NUL}}),
        (Role.triager, "GET", "/api/v1/dashboard.csv", {"params": {"port": NUL}}),
        (Role.administrator, "GET", "/api/v1/bodies/police%00", {}),
        (
            Role.administrator,
            "PUT",
            "/api/v1/ports/NHV%00/deadlines",
            {"json": {"acknowledge_days": 2, "feedback_days": 30}},
        ),
        (
            Role.administrator,
            "POST",
            "/api/v1/routing-rules",
            {"json": {"name": f"Seals{NUL}", "body": "police-port-unit"}},
        ),
        (
            Role.administrator,
            "POST",
            "/api/v1/bodies",
            {"json": {"code": "harbour-unit", "name": f"Unit{NUL}", "kind": "police"}},
        ),
    ],
)
def test_a_nul_character_in_any_text_is_refused_as_invalid(
    client: TestClient,
    session: Session,
    keyring: KeyRing,
    role: Role | None,
    method: str,
    path: str,
    request_args: dict[str, Any],
) -> None:
    """PostgreSQL cannot store NUL in text: its driver raised, a 500 (found by fuzzing on
    PostgreSQL, in a path, a query and a JSON body). Both databases now refuse it."""
    headers: dict[str, str] = {}
    if role is not None:
        headers = sign_in_staff(client, *make_staff(session, keyring, role=role))
    response = client.request(method, path, headers=headers, **request_args)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["message"] == (
        "This text contains a character that is not allowed."
    )
