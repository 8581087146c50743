"""Overlapping requests of one staff member never stall the server: every database call
runs off the event loop, so on SQLite a request waiting for the writer lock cannot block
the request that holds it (a case page and its photos load together)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from sqlalchemy import Engine
from sqlmodel import Session, select

from api.policy import Role
from api.reports.models import Report
from tests.factories import jpeg_bytes, make_staff, post_report, report_payload
from tests.server import keyring_of, running_server, server_environment, signed_in, solved_proof

ROUNDS = 3
AT_ONCE = 8


class TestOverlappingRequests:
    def test_a_case_page_its_photo_and_the_queue_requested_together_all_answer(
        self, live_database: tuple[str, Engine], tmp_path: Path
    ) -> None:
        url, engine = live_database
        environment = server_environment(url, tmp_path)
        keyring = keyring_of(environment)
        with Session(engine, expire_on_commit=False) as session:
            triager, secret = make_staff(session, keyring, role=Role.triager)
            session.commit()
        with (
            running_server(environment, tmp_path / "server.log") as base_url,
            httpx.Client(base_url=base_url, timeout=20) as client,
        ):
            sent = post_report(
                client,
                report_payload(proof=solved_proof(client)),
                files=[("a.jpg", jpeg_bytes(), "image/jpeg")],
            )
            assert sent.status_code == 201, sent.text
            reference = sent.json()["reference"]
            with Session(engine) as session:
                case_id = session.exec(
                    select(Report.case_id).where(Report.reference == reference)
                ).one()
            signed_in(client, triager.email, secret)
            paths = [
                f"/api/v1/cases/{case_id}",
                f"/admin/cases/{case_id}",
                f"/api/v1/cases/{case_id}/reports/{reference}/attachments/1",
                "/admin/triage",
            ]
            with ThreadPoolExecutor(AT_ONCE) as pool:
                for _round in range(ROUNDS):
                    answers = list(
                        pool.map(
                            lambda path: client.get(path).status_code,
                            [paths[index % len(paths)] for index in range(AT_ONCE)],
                        )
                    )
                    assert answers == [200] * AT_ONCE
