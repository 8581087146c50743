"""A thief with the database learns nothing a reporter wrote."""

from __future__ import annotations

import io
from pathlib import Path

from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import Engine
from sqlmodel import Session, select

from api.app import create_app
from api.crypto import open_sealed
from api.policy import Role
from api.reports.models import Attachment, Report
from api.reports.service import Label
from tests.conftest import make_settings
from tests.databases import raw_dump
from tests.factories import log_in, make_staff, post_report, report_payload, sign_in_staff

NARRATIVE_MARKER = "ZEBRA-NARRATIVE-7731"
NAME_MARKER = "QUOKKA-NAME-5512"
CONTACT_MARKER = "OKAPI-CONTACT-0923"
LOCATION_MARKER = "AXOLOTL-LOCATION-4410"
MESSAGE_MARKER = "NARWHAL-MESSAGE-8850"
FILE_NAME_MARKER = "PANGOLIN-FILE-3317"
NOTE_MARKER = "TAPIR-NOTE-6604"


def _noisy_photo() -> bytes:
    # Random-looking pixels, so the stored JPEG has long distinctive byte runs.
    image = Image.effect_noise((160, 120), 90).convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=95)
    return buffer.getvalue()


class TestEncryptionAtRest:
    def test_no_marker_of_what_the_reporter_wrote_is_in_the_raw_database(
        self, live_database: tuple[str, Engine], tmp_path: Path
    ) -> None:
        url, engine = live_database
        settings = make_settings(tmp_path, url)
        payload = report_payload(
            narrative=f"The foreman {NARRATIVE_MARKER} takes cash at the gate.",
            location_detail=f"Behind {LOCATION_MARKER}",
            identity={"name": NAME_MARKER, "contact": CONTACT_MARKER},
        )
        with TestClient(create_app(settings, engine=engine)) as client:
            response = post_report(
                client, payload, files=[(f"{FILE_NAME_MARKER}.jpg", _noisy_photo(), "image/jpeg")]
            )
            assert response.status_code == 201, response.text
            headers = log_in(client, response.json()["receipt"])
            reply = client.post(
                "/api/v1/reporter/messages",
                json={"body": f"Also {MESSAGE_MARKER}"},
                headers=headers,
            )
            assert reply.status_code == 201
            keyring = client.app.state.keyring  # type: ignore[attr-defined]
            with Session(engine, expire_on_commit=False) as session:
                triager, secret = make_staff(session, keyring, role=Role.triager)
                session.commit()
                case_id = session.exec(select(Report.case_id)).one()
            csrf = sign_in_staff(client, triager, secret)
            note = client.post(
                f"/api/v1/cases/{case_id}/notes",
                json={"body": f"Internal: {NOTE_MARKER}"},
                headers=csrf,
            )
            assert note.status_code == 204, note.text

        with Session(engine) as session:
            report = session.exec(select(Report)).one()
            attachment = session.exec(select(Attachment)).one()
            stored_photo = open_sealed(
                keyring.unwrap(report.wrapped_key),
                attachment.content_sealed,
                label=Label.file_content,
            )
        engine.dispose()  # flush SQLite's WAL into the file that is read below

        dump = raw_dump(url, engine)
        assert len(dump) > 10_000
        for marker in (
            NARRATIVE_MARKER,
            NAME_MARKER,
            CONTACT_MARKER,
            LOCATION_MARKER,
            MESSAGE_MARKER,
            FILE_NAME_MARKER,
            NOTE_MARKER,
            response.json()["receipt"],
        ):
            assert marker.encode() not in dump, marker
        for offset in range(200, len(stored_photo) - 64, 997):
            assert stored_photo[offset : offset + 48] not in dump
        # The metadata needed to sort and route stays readable.
        assert b"received" in dump
