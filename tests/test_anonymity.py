"""Nothing that could identify a reporter is stored or logged, and no cookie is set."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from api.reports.models import Message, Report
from tests.databases import raw_dump
from tests.factories import jpeg_bytes, log_in, post_report
from tests.server import running_server, server_environment

IDENTIFYING_HEADERS = {
    "X-Forwarded-For": "203.0.113.77",
    "X-Real-IP": "198.51.100.23",
    "User-Agent": "Mozilla/5.0 (Linux; Android 9; UNIQUE-PHONE-4242) Chrome/99",
    "Forwarded": "for=192.0.2.60;proto=https",
}
# The client connects from its own loopback address, so its real address can be sought too.
CLIENT_ADDRESS = "127.0.0.57"
TRACES = ("203.0.113.77", "198.51.100.23", "UNIQUE-PHONE-4242", "192.0.2.60", CLIENT_ADDRESS)


class TestNothingIdentifiesAReporter:
    def test_addresses_and_user_agent_appear_neither_in_the_database_nor_in_the_log(
        self, live_database: tuple[str, Engine], tmp_path: Path
    ) -> None:
        url, engine = live_database
        environment = server_environment(url, tmp_path, log_level="DEBUG", pow_difficulty=0)
        log_path = tmp_path / "server.log"
        transport = httpx.HTTPTransport(local_address=CLIENT_ADDRESS)
        with (
            running_server(environment, log_path) as base_url,
            httpx.Client(
                base_url=base_url, headers=IDENTIFYING_HEADERS, transport=transport
            ) as client,
        ):
            response = post_report(client, files=[("p.jpg", jpeg_bytes(), "image/jpeg")])
            assert response.status_code == 201, response.text
            headers = log_in(client, response.json()["receipt"])
            assert (
                client.post(
                    "/api/v1/reporter/messages", json={"body": "more"}, headers=headers
                ).status_code
                == 201
            )
            assert client.get("/api/v1/reporter/report", headers=headers).status_code == 200
            assert client.post("/api/v1/reports", content=b"{").status_code == 400
            assert client.get("/no/such/page").status_code == 404
        engine.dispose()
        log = log_path.read_bytes()
        # A reporter's requests are only counted per hour (tests/test_logs.py).
        assert b"/api/v1/report" not in log
        dump = raw_dump(url, engine)
        for trace in TRACES:
            assert trace.encode() not in log, trace
            assert trace.encode() not in dump, trace

    def test_reporter_times_are_stored_rounded_to_the_hour(
        self, client: TestClient, session: Session
    ) -> None:
        response = post_report(client)
        headers = log_in(client, response.json()["receipt"])
        client.post("/api/v1/reporter/messages", json={"body": "more"}, headers=headers)
        report = session.exec(
            select(Report).where(Report.reference == response.json()["reference"])
        ).one()
        message = session.exec(select(Message).where(Message.report_id == report.id)).one()
        for moment in (report.received_hour, message.created_hour):
            assert (moment.minute, moment.second, moment.microsecond) == (0, 0, 0)
            assert moment <= datetime.now(UTC)

    def test_an_unexpected_error_is_logged_without_request_details(
        self, client: TestClient, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from api.public import service

        def broken(**_kwargs: object) -> None:
            raise RuntimeError("boom")

        monkeypatch.setattr(service, "public_config", broken)
        client_without_raise = TestClient(client.app, raise_server_exceptions=False)
        with caplog.at_level(logging.ERROR):
            response = client_without_raise.get(
                "/api/v1/public/config", headers=IDENTIFYING_HEADERS
            )
        assert response.status_code == 500
        assert set(response.json()["error"]) == {"code", "message"}
        assert "boom" not in response.text and "Traceback" not in response.text
        for trace in TRACES:
            assert trace not in caplog.text


class TestNoCookies:
    def test_no_public_endpoint_sets_a_cookie(self, client: TestClient) -> None:
        responses = [
            client.get("/api/v1/public/config"),
            client.post("/api/v1/public/challenge"),
            post_report(client),
        ]
        receipt = responses[-1].json()["receipt"]
        login = client.post("/api/v1/reporter/session", json={"receipt": receipt})
        headers = {"Authorization": f"Bearer {login.json()['token']}"}
        responses += [
            login,
            client.get("/api/v1/reporter/report", headers=headers),
            client.post("/api/v1/reporter/messages", json={"body": "x"}, headers=headers),
            client.post(
                "/api/v1/reporter/attachments",
                files=[("files", ("a.jpg", jpeg_bytes(), "image/jpeg"))],
                headers=headers,
            ),
            client.get("/api/v1/reporter/report"),
        ]
        for response in responses:
            assert "set-cookie" not in response.headers, response.url
            assert response.headers["referrer-policy"] == "no-referrer"
