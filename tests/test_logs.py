"""The log cannot time or identify a reporter: a reporter's requests are counted per hour
and status class, never written one by one; staff requests are written with their route's
template, never a token or an id; nothing in the log is timed finer than the hour unless
it is a staff request."""

from __future__ import annotations

import logging
import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from api import logs
from api.logs import NO_ROUTE, PUBLIC_API_PREFIXES, is_staff_request
from api.policy import Role
from api.reports.models import Report
from tests.factories import jpeg_bytes, make_staff, post_report, report_payload
from tests.routes import walk
from tests.server import keyring_of, running_server, server_environment, signed_in, solved_proof

PHONE = "Mozilla/5.0 (Linux; Android 9; UNIQUE-PHONE-4242) Chrome/99"
STAFF_LINE = re.compile(
    r"INFO portline\.access: (GET|POST|PATCH|PUT|DELETE) (?P<route>/\S*|\(no route\)) "
    r"\d{3} \d+ms"
)
HOUR_LINE = re.compile(
    r"INFO portline\.access: public requests in the hour from \d{4}-\d\d-\d\dT\d\d:00Z: "
    r"[1-5]xx \d+(, [1-5]xx \d+)*"
)
# A time of day (14:05, 14:05:09): only whole hours may appear.
CLOCK = re.compile(r"(?<!\d)\d{1,2}:(\d\d)(?::(\d\d))?(?!\d)")
REPORTER_PATHS = ("/api/v1/public", "/api/v1/report", "/sw.js", "/static/", "/danger", "/receipt")


class TestARealServersLog:
    def test_a_reporters_whole_flow_and_a_staff_invitation_leave_no_trace_of_either(
        self, live_database: tuple[str, Engine], tmp_path: Path
    ) -> None:
        url, engine = live_database
        environment = server_environment(url, tmp_path, log_level="INFO")
        keyring = keyring_of(environment)
        with Session(engine, expire_on_commit=False) as session:
            administrator, administrator_secret = make_staff(
                session, keyring, role=Role.administrator
            )
            triager, triager_secret = make_staff(session, keyring, role=Role.triager)
            session.commit()
        secrets: list[str] = []
        log_path = tmp_path / "server.log"
        # Two processes, as production runs: every one of them logs the same way.
        serve = [sys.executable, "-m", "api.cli", "serve", "--port", "{port}", "--workers", "2"]
        with running_server(environment, log_path, command=serve) as base_url:
            with httpx.Client(base_url=base_url, headers={"User-Agent": PHONE}) as phone:
                # The reporter's pages, the service worker, an asset, a mistyped address.
                home = phone.get("/?lang=en")
                assert home.status_code == 200
                stylesheet = re.search(r'href="(/static/app\.[0-9a-f]+\.css)"', home.text)
                assert stylesheet is not None
                assert phone.get(stylesheet[1]).status_code == 200
                assert phone.get("/sw.js").status_code == 200
                assert phone.get("/report").status_code == 200
                assert phone.get("/no/such/page").status_code == 404
                # The public API: a report with a photo, then coming back with the receipt.
                assert phone.get("/api/v1/public/config").status_code == 200
                sent = post_report(
                    phone,
                    report_payload(proof=solved_proof(phone)),
                    files=[("harbour.jpg", jpeg_bytes(), "image/jpeg")],
                )
                assert sent.status_code == 201, sent.text
                receipt, reference = sent.json()["receipt"], sent.json()["reference"]
                login = phone.post(
                    "/api/v1/reporter/session",
                    json={"receipt": receipt, "proof": solved_proof(phone)},
                )
                assert login.status_code == 200, login.text
                token = login.json()["token"]
                bearer = {"Authorization": f"Bearer {token}"}
                assert phone.get("/api/v1/reporter/report", headers=bearer).status_code == 200
                answer = phone.post(
                    "/api/v1/reporter/messages", json={"body": "It was 02:40."}, headers=bearer
                )
                assert answer.status_code == 201, answer.text
                more = phone.post(
                    "/api/v1/reporter/attachments",
                    files=[("files", ("seal.jpg", jpeg_bytes(color=(9, 9, 9)), "image/jpeg"))],
                    headers=bearer,
                )
                assert more.status_code == 201, more.text
                secrets += [receipt, reference, token, PHONE, "UNIQUE-PHONE"]
                secrets += ["-".join(receipt[i : i + 4] for i in range(0, 16, 4))]
            with Session(engine) as session:
                report = session.exec(select(Report).where(Report.reference == reference)).one()
            case_path = f"/cases/{report.case_id}"
            with httpx.Client(base_url=base_url) as console:
                csrf = signed_in(console, administrator.email, administrator_secret)
                created = console.post(
                    "/api/v1/staff/accounts",
                    json={"email": "new.triager@example.test", "role": "triager"},
                    headers=csrf,
                )
                assert created.status_code == 201, created.text
                invitation = created.json()["invitation_url"].rsplit("/", 1)[1]
                secrets += [invitation, csrf["X-CSRF-Token"], *console.cookies.values()]
            with httpx.Client(base_url=base_url) as newcomer:
                assert newcomer.get(f"/admin/welcome/{invitation}").status_code == 200
            with httpx.Client(base_url=base_url) as triage:
                csrf = signed_in(triage, triager.email, triager_secret)
                assert triage.get(f"/api/v1{case_path}").status_code == 200
                assert triage.get(f"/admin{case_path}").status_code == 200
                secrets += [csrf["X-CSRF-Token"], *triage.cookies.values()]
        engine.dispose()
        log = log_path.read_text()
        lines = log.splitlines()

        assert len(set(re.findall(r"Started server process \[(\d+)\]", log))) == 2, log
        for secret in secrets:
            assert secret not in log, secret
        assert case_path not in log
        for line in lines:
            if "running" in line and "http://127.0.0.1:" in line:
                continue  # where the server listens, said once at start-up
            assert "127.0.0.1" not in line, line
            for minutes, seconds in CLOCK.findall(line):
                assert (minutes, seconds) in {("00", ""), ("00", "00")}, line
            assert not any(path in line for path in REPORTER_PATHS), line
            if "portline.access" in line:
                staff = STAFF_LINE.fullmatch(line)
                assert staff is not None or HOUR_LINE.fullmatch(line), line
                if staff is not None and staff["route"] != NO_ROUTE:
                    assert is_staff_request(staff["route"]), line
        routes = {found["route"] for found in map(STAFF_LINE.fullmatch, lines) if found}
        assert {
            "/admin/welcome/{token}",
            "/api/v1/staff/accounts",
            "/api/v1/staff/session/second-factor",
            "/api/v1/cases/{case_id}",
            "/admin/cases/{case_id}",
        } <= routes


@pytest.fixture
def written() -> Iterator[list[str]]:
    """What Portline's loggers write, as ``LEVEL name: message``, whatever a configuration
    made earlier in this process says about propagation."""
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(f"{record.levelname} {record.name}: {self.format(record)}")

    handler = Keep(logging.INFO)
    portline = logging.getLogger("portline")
    level = portline.level
    portline.addHandler(handler)
    portline.setLevel(logging.INFO)
    yield lines
    portline.removeHandler(handler)
    portline.setLevel(level)


@pytest.fixture
def hour(monkeypatch: pytest.MonkeyPatch) -> Callable[[int], None]:
    """Set the clock of the request log to an hour (counted from the epoch)."""

    def set_hour(value: int) -> None:
        monkeypatch.setattr(logs, "current_hour", lambda: value)

    return set_hour


ClientWith = Callable[..., AbstractContextManager[TestClient]]
HOUR = 480_000  # 2024-10-04T00:00Z


class TestCountsPerHour:
    def test_reporter_requests_are_written_as_counts_once_their_hour_is_over(
        self, client_with: ClientWith, written: list[str], hour: Callable[[int], None]
    ) -> None:
        hour(HOUR + 13)
        with client_with() as phone:
            assert phone.get("/").status_code == 200
            assert phone.post("/api/v1/public/challenge").status_code == 200
            assert phone.get("/no/such/page").status_code == 404
            assert phone.get("/my-report", follow_redirects=False).status_code == 303
            assert written == []  # nothing while the hour runs
            hour(HOUR + 14)
        assert written == [
            "INFO portline.access: public requests in the hour from 2024-10-04T13:00Z: "
            "2xx 2, 3xx 1, 4xx 1"
        ]

    def test_the_hour_still_running_is_not_written_at_shutdown(
        self, client_with: ClientWith, written: list[str], hour: Callable[[int], None]
    ) -> None:
        hour(HOUR)
        with client_with() as phone:
            assert phone.get("/").status_code == 200
        assert written == []

    def test_counts_are_written_at_the_turn_of_the_hour_while_the_server_runs(
        self,
        client_with: ClientWith,
        written: list[str],
        hour: Callable[[int], None],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setattr("api.middleware.seconds_to_next_hour", lambda: -0.98)
        hour(HOUR)
        with client_with() as phone:
            assert phone.get("/api/v1/public/config").status_code == 200
            hour(HOUR + 1)
            deadline = time.monotonic() + 5
            while not written and time.monotonic() < deadline:
                time.sleep(0.02)
            assert written == [
                "INFO portline.access: public requests in the hour from 2024-10-04T00:00Z: 2xx 1"
            ]

    def test_staff_requests_are_written_at_once_with_their_route_template(
        self, client_with: ClientWith, written: list[str], hour: Callable[[int], None]
    ) -> None:
        hour(HOUR)
        with client_with() as console:
            assert console.get("/admin/welcome/not-a-real-invitation").status_code == 404
            assert console.get("/api/v1/cases/123456").status_code == 401
            assert console.get("/admin/no/such/page").status_code == 404
        assert [line.rsplit(" ", 1)[0] for line in written] == [
            "INFO portline.access: GET /admin/welcome/{token} 404",
            "INFO portline.access: GET /api/v1/cases/{case_id} 401",
            "INFO portline.access: GET (no route) 404",
        ]


class TestErrors:
    @pytest.mark.parametrize(
        ("path", "template"), [("/api/v1/public/config", None), ("/danger?lang=fr", "/danger")]
    )
    def test_a_reporters_error_is_held_to_its_hours_end_without_its_message(
        self,
        client_with: ClientWith,
        written: list[str],
        hour: Callable[[int], None],
        monkeypatch: pytest.MonkeyPatch,
        path: str,
        template: str | None,
    ) -> None:
        from api.public import service

        def broken(**kwargs: object) -> None:
            # Built apart from the raise, whose line the traceback shows.
            message = "-".join(("SECRET", "IN", "THE", "MESSAGE", str(kwargs.get("language"))))
            raise RuntimeError(message)

        monkeypatch.setattr(service, "public_config", broken)
        hour(HOUR + 5)
        with client_with() as phone:
            assert phone.get(path).status_code == 500
            assert phone.get(path).status_code == 500
            assert written == []
            hour(HOUR + 6)
        template = template or path
        assert written[0] == (
            "INFO portline.access: public requests in the hour from 2024-10-04T05:00Z: 5xx 2"
        )
        error = written[1]
        assert error.startswith(
            "ERROR portline.errors: public requests in the hour from 2024-10-04T05:00Z: "
            f"RuntimeError on GET {template}, 2 times\n"
        )
        assert "in broken" in error  # where in the code, to find the fault
        assert (
            "SECRET-IN-THE-MESSAGE" not in error
            and "?lang" not in error
            and "Traceback" not in error
        )
        assert len(written) == 2

    def test_a_staff_requests_error_is_written_at_once_with_its_template(
        self,
        client_with: ClientWith,
        written: list[str],
        hour: Callable[[int], None],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        from api.staff import service

        def broken(**_kwargs: object) -> None:
            raise RuntimeError("boom")

        monkeypatch.setattr(service, "staff_for_invitation", broken)
        hour(HOUR)
        with client_with() as console:
            assert console.get("/admin/welcome/an-invitation-token").status_code == 500
        assert written[0].startswith(
            "ERROR portline.errors: unhandled error on GET /admin/welcome/{token}"
        )
        assert written[1].startswith("INFO portline.access: GET /admin/welcome/{token} 500")
        assert not any("an-invitation-token" in line for line in written)


class TestWhichRequestsAreStaffs:
    def test_every_reporter_route_is_counted_and_every_console_route_written(
        self, client: TestClient
    ) -> None:
        counted, written_out = set(), set()
        for found in walk(client.app.routes):  # type: ignore[attr-defined]
            module = found.route.endpoint.__module__
            staff = is_staff_request(found.path)
            if module.startswith(("mobile.", "api.public.", "api.reports.")):
                assert not staff, found.path
                counted.add(found.path)
            if module.startswith(("admin.", "api.staff.", "api.cases.", "api.triage.")):
                assert staff, found.path
                written_out.add(found.path)
            if found.path.startswith(PUBLIC_API_PREFIXES):
                # Nothing of the staff's hides among the reporter's counted requests.
                assert found.marks == {"public"}, found.path
        assert {"/", "/sw.js", "/api/v1/reports", "/api/v1/reporter/report"} <= counted
        assert {"/admin/welcome/{token}", "/api/v1/staff/accounts"} <= written_out

    @pytest.mark.parametrize(
        "path", ["/admin-like", "/api/docs", "/api/openapi.json", "/no/such/page", "/api/v2/x"]
    )
    def test_an_address_not_known_to_be_staffs_is_only_counted(self, path: str) -> None:
        assert not is_staff_request(path)
