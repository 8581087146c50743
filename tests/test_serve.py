"""``portline serve --workers N`` and ``portline worker --concurrency N``: several
processes on one database, each logging without a client address (tests/test_logs.py
drives a whole reporter's flow through two), sharing the set-up link, taking turns on
SQLite, stopping gracefully, and putting PORTLINE_PUBLIC_URL in every link they hand out."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from api.cli import build_parser, default_workers
from api.config import Settings
from api.crypto import generate_key_text
from api.policy import Role
from api.reports.models import Report
from tests.databases import fresh_database
from tests.factories import jpeg_bytes, make_staff, post_report, report_payload
from tests.server import (
    fired_together,
    free_port,
    keyring_of,
    running_server,
    server_environment,
    signed_in,
    solved_proof,
)
from tests.test_setup_console import printed_token


def serve(workers: int) -> list[str]:
    return [sys.executable, "-m", "api.cli", "serve", "--port", "{port}", "--workers", str(workers)]


def server_pids(log: str) -> set[str]:
    return set(re.findall(r"Started server process \[(\d+)\]", log))


class TestHowManyProcesses:
    def test_one_per_core_on_postgresql_and_one_on_sqlite(self) -> None:
        assert default_workers(Settings(database_url="sqlite:///x.db")) == 1
        assert default_workers(Settings(database_url="")) == 1
        cores = default_workers(Settings(database_url="postgresql://localhost/portline"))
        assert cores >= 1
        assert cores == len(os.sched_getaffinity(0))

    @pytest.mark.parametrize("value", ["0", "-2", "two"])
    def test_a_count_below_one_or_not_a_number_is_refused_by_name(
        self, value: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        with pytest.raises(SystemExit) as exit_:
            build_parser().parse_args(["serve", "--workers", value])
        assert exit_.value.code == 2
        assert "--workers" in capsys.readouterr().err
        with pytest.raises(SystemExit):
            build_parser().parse_args(["worker", "--concurrency", value])
        assert "--concurrency" in capsys.readouterr().err


class TestTwoProcesses:
    def test_concurrent_reports_on_two_processes_are_all_stored(
        self, live_database: tuple[str, Engine], tmp_path: Path
    ) -> None:
        """On SQLite the two processes take turns at the one writer (a lock file next to
        the database) instead of failing each other's transactions."""
        url, engine = live_database
        environment = server_environment(url, tmp_path, log_level="INFO", pow_difficulty=0)
        log_path = tmp_path / "serve.log"
        with running_server(environment, log_path, command=serve(2)) as base_url:

            def send() -> httpx.Response:
                # A connection of its own each: spread over both processes.
                with httpx.Client(base_url=base_url, timeout=120) as phone:
                    return post_report(phone, report_payload(proof=solved_proof(phone)))

            answers = fired_together([send] * 16)
        assert [answer.status_code for answer in answers] == [201] * 16, [
            answer.text for answer in answers if answer.status_code != 201
        ]
        with Session(engine) as session:
            stored = session.exec(select(func.count()).select_from(Report)).one()
        assert stored == 16
        assert len(server_pids(log_path.read_text())) == 2

    def test_one_set_up_link_opens_the_page_on_every_process(self, tmp_path: Path) -> None:
        with fresh_database(tmp_path, seed=False) as (url, _engine):
            environment = server_environment(url, tmp_path, key=generate_key_text())
            log_path = tmp_path / "serve.log"
            with running_server(environment, log_path, command=serve(2)) as base_url:
                token = printed_token(log_path)
                # New connections land on either process; every one knows the token.
                for _ in range(8):
                    with httpx.Client(base_url=base_url, timeout=60) as client:
                        assert client.get("/admin/setup", params={"token": token}).is_success
                        assert client.get("/admin/setup", params={"token": "x"}).status_code == 404
            assert log_path.read_text().count(token) == 1

    def test_links_handed_out_start_with_the_public_url_whatever_the_host(
        self, live_database: tuple[str, Engine], tmp_path: Path
    ) -> None:
        url, engine = live_database
        environment = {
            **server_environment(url, tmp_path),
            "PORTLINE_PUBLIC_URL": "http://portline.port.example",  # http: cookies stay usable here
        }
        with Session(engine, expire_on_commit=False) as session:
            administrator, secret = make_staff(
                session, keyring_of(environment), role=Role.administrator
            )
            session.commit()
        with (
            running_server(environment, tmp_path / "serve.log", command=serve(2)) as base_url,
            httpx.Client(base_url=base_url) as console,
        ):
            csrf = signed_in(console, administrator.email, secret)
            created = console.post(
                "/api/v1/staff/accounts",
                json={"email": "new.triager@example.test", "role": "triager"},
                # The cookie by hand: httpx would match its jar against the Host header.
                headers={
                    **csrf,
                    "Host": "evil.example",
                    "Cookie": "; ".join(
                        f"{name}={value}" for name, value in console.cookies.items()
                    ),
                },
            )
            assert created.status_code == 201, created.text
            link = created.json()["invitation_url"]
        assert link.startswith("http://portline.port.example/admin/welcome/"), link


class TestGracefulShutdown:
    def test_sigterm_lets_a_request_in_hand_finish_then_every_process_exits(
        self, live_database: tuple[str, Engine], tmp_path: Path
    ) -> None:
        url, _engine = live_database
        environment = server_environment(url, tmp_path, log_level="INFO")
        port = free_port()
        log_path = tmp_path / "serve.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [part.replace("{port}", str(port)) for part in serve(2)],
                env={**os.environ, **environment},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            base_url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while len(server_pids(log_path.read_text())) < 2 or not _answers(base_url):
                assert process.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.2)
            # A report whose body is still arriving when the stop is asked for.
            with httpx.Client(base_url=base_url, timeout=60) as phone:
                proof = solved_proof(phone)
            built = httpx.Client(base_url=base_url).build_request(
                "POST",
                "/api/v1/reports",
                files=[
                    (
                        "report",
                        (
                            None,
                            json.dumps(report_payload(proof=proof)).encode(),
                            "application/json",
                        ),
                    ),
                    ("files", ("seal.jpg", jpeg_bytes(), "image/jpeg")),
                ],
            )
            body = built.read()
            stop_asked = threading.Event()

            def slowly() -> Iterator[bytes]:
                half = len(body) // 2
                yield body[:half]
                process.send_signal(signal.SIGTERM)
                stop_asked.set()
                time.sleep(1.5)
                yield body[half:]

            headers = {
                name: value for name, value in built.headers.items() if name != "content-length"
            }
            headers["Content-Length"] = str(len(body))
            with httpx.Client(base_url=base_url, timeout=60) as phone:
                answer = phone.post("/api/v1/reports", content=slowly(), headers=headers)
            assert stop_asked.is_set()
            assert answer.status_code == 201, answer.text
            assert process.wait(timeout=40) == 0, log_path.read_text()
        written = log_path.read_text()
        assert written.count("Finished server process") == 2, written
        assert not _answers(base_url)


def _answers(base_url: str) -> bool:
    try:
        return httpx.get(f"{base_url}/api/v1/public/config", timeout=2).is_success
    except httpx.TransportError:
        return False
