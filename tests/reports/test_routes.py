from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlmodel import Session, col, func, select

from api.crypto import KeyRing, open_sealed, open_text
from api.reports.models import Attachment, Message, Report, ReportExclusion, Submission
from api.reports.service import Label
from tests.factories import jpeg_bytes, log_in, post_report, report_payload, submission_key
from tests.reports.test_files import MARKERS, gps_exif, phone_jpeg, png_header_only, quadrants


def count(session: Session, model: type[Report] | type[Attachment] | type[Message]) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


class TestSubmitReport:
    def test_a_text_only_report_gets_a_receipt_and_a_reference(self, client: TestClient) -> None:
        response = post_report(client)
        assert response.status_code == 201, response.text
        body = response.json()
        assert set(body) == {"receipt", "reference"}
        assert len(body["receipt"]) == 16 and body["receipt"].isdigit()
        assert body["reference"].startswith("R-")

    def test_the_report_is_stored_with_its_routing_metadata_in_clear(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        reference = post_report(client).json()["reference"]
        report = session.exec(select(Report).where(Report.reference == reference)).one()
        assert (report.kind, report.cargo_direction, report.status) == (
            "incident",
            "inbound",
            "received",
        )
        assert report.occurred_on == date.today() - timedelta(days=1)
        assert report.zone_id is not None and not report.confidential
        data_key = keyring.unwrap(report.wrapped_key)
        assert open_text(data_key, report.narrative_sealed, label=Label.narrative).startswith(
            "Two men"
        )

    def test_a_confidential_report_keeps_the_identity_sealed(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        payload = report_payload(identity={"name": "Jan Peeters", "contact": "+32 470 12 34 56"})
        reference = post_report(client, payload).json()["reference"]
        report = session.exec(select(Report).where(Report.reference == reference)).one()
        assert report.confidential and report.identity_sealed is not None
        identity = open_text(
            keyring.unwrap(report.wrapped_key), report.identity_sealed, label=Label.identity
        )
        assert "Jan Peeters" in identity

    def test_excluded_bodies_are_recorded(self, client: TestClient, session: Session) -> None:
        payload = report_payload(exclude_bodies=["customs", "terminal-security"])
        response = post_report(client, payload)
        assert response.status_code == 201, response.text
        report = session.exec(
            select(Report).where(Report.reference == response.json()["reference"])
        ).one()
        exclusions = session.exec(
            select(ReportExclusion).where(ReportExclusion.report_id == report.id)
        ).all()
        assert len(exclusions) == 2

    def test_photos_are_stored_cleaned_with_the_report(
        self, client: TestClient, session: Session
    ) -> None:
        files = [
            ("seal.jpg", jpeg_bytes(), "image/jpeg"),
            ("van.jpg", jpeg_bytes(32, 32), "image/jpeg"),
        ]
        response = post_report(client, files=files)
        assert response.status_code == 201, response.text
        report = session.exec(
            select(Report).where(Report.reference == response.json()["reference"])
        ).one()
        attachments = session.exec(
            select(Attachment).where(Attachment.report_id == report.id)
        ).all()
        assert [(a.seq, a.media_type, a.width) for a in attachments] == [
            (1, "image/jpeg", 64),
            (2, "image/jpeg", 32),
        ]

    @pytest.mark.parametrize(
        ("overrides", "field"),
        [
            ({"category": "no-such-category"}, "report.category"),
            ({"category": "bribery-port-staff"}, "report.category"),
            ({"port": "XXX"}, "report.port"),
            ({"zone": "no-such-zone"}, "report.zone"),
            ({"exclude_bodies": ["no-such-body"]}, "report.exclude_bodies[0]"),
            ({"occurred_on": (date.today() + timedelta(days=5)).isoformat()}, "report.occurred_on"),
            ({"narrative": "   "}, "report.narrative"),
            ({"language": "xx"}, "report.language"),
            ({"identity": {}}, "report.identity"),
        ],
    )
    def test_a_wrong_reference_is_named_and_nothing_is_stored(
        self, client: TestClient, session: Session, overrides: dict[str, object], field: str
    ) -> None:
        before = count(session, Report)
        response = post_report(client, report_payload(**overrides))
        assert response.status_code == 422, response.text
        assert field in [problem["field"] for problem in response.json()["error"]["fields"]]
        assert count(session, Report) == before

    def test_a_report_with_one_bad_file_is_refused_whole(
        self, client: TestClient, session: Session
    ) -> None:
        before = (count(session, Report), count(session, Attachment))
        files = [
            ("good.jpg", jpeg_bytes(), "image/jpeg"),
            ("notes.pdf", b"%PDF-1.4 secret", "application/pdf"),
        ]
        response = post_report(client, files=files)
        assert response.status_code == 415
        error = response.json()["error"]
        assert error["fields"][0]["field"] == "files[1]"
        assert "JPEG" in error["fields"][0]["message"] and "WebP" in error["fields"][0]["message"]
        assert (count(session, Report), count(session, Attachment)) == before

    def test_too_many_files_are_refused_with_413(
        self, client: TestClient, session: Session
    ) -> None:
        before = count(session, Report)
        files = [(f"{index}.jpg", jpeg_bytes(), "image/jpeg") for index in range(7)]
        response = post_report(client, files=files)
        assert response.status_code == 413
        assert response.json()["error"]["fields"][0]["field"] == "files"
        assert count(session, Report) == before

    def test_a_file_over_the_size_limit_is_refused_with_413(self, client: TestClient) -> None:
        big = b"\xff\xd8\xff" + bytes(11 * 1024 * 1024)
        response = post_report(client, files=[("big.jpg", big, "image/jpeg")])
        assert response.status_code == 413
        assert response.json()["error"]["fields"][0]["field"] == "files[0]"


class TestRetriedSubmission:
    def test_a_retry_with_the_same_key_returns_the_same_receipt_and_stores_nothing_twice(
        self, client: TestClient, session: Session
    ) -> None:
        key = submission_key()
        before = (count(session, Report), count(session, Attachment))
        files = [("seal.jpg", jpeg_bytes(), "image/jpeg")]
        first = post_report(client, report_payload(submission_key=key), files=files)
        second = post_report(client, report_payload(submission_key=key), files=files)
        assert first.status_code == second.status_code == 201
        assert first.json() == second.json()
        assert (count(session, Report), count(session, Attachment)) == (
            before[0] + 1,
            before[1] + 1,
        )

    def test_the_retry_record_does_not_hold_the_receipt_in_clear(
        self, client: TestClient, session: Session
    ) -> None:
        key = submission_key()
        receipt = post_report(client, report_payload(submission_key=key)).json()["receipt"]
        submission = session.exec(select(Submission)).all()[-1]
        assert receipt.encode() not in submission.receipt_sealed
        assert key not in submission.key_lookup

    def test_a_different_key_makes_a_new_report(self, client: TestClient) -> None:
        first = post_report(client, report_payload(submission_key=submission_key())).json()
        second = post_report(client, report_payload(submission_key=submission_key())).json()
        assert first["receipt"] != second["receipt"]


class TestComingBack:
    def test_the_receipt_opens_the_report_with_its_status_and_timeline(
        self, client: TestClient
    ) -> None:
        receipt = post_report(client).json()["receipt"]
        headers = log_in(client, receipt)
        view = client.get("/api/v1/reporter/report", headers=headers)
        assert view.status_code == 200
        body = view.json()
        assert body["status"] == "received"
        assert [event["event"] for event in body["timeline"]] == ["received"]
        assert body["messages"] == []

    def test_the_receipt_may_be_typed_in_groups(self, client: TestClient) -> None:
        receipt = post_report(client).json()["receipt"]
        grouped = " ".join(receipt[index : index + 4] for index in range(0, 16, 4))
        assert client.post("/api/v1/reporter/session", json={"receipt": grouped}).status_code == 200

    def test_a_wrong_and_an_unknown_receipt_get_the_same_answer(self, client: TestClient) -> None:
        receipt = post_report(client).json()["receipt"]
        wrong = receipt[:-1] + str((int(receipt[-1]) + 1) % 10)
        first = client.post("/api/v1/reporter/session", json={"receipt": wrong})
        second = client.post("/api/v1/reporter/session", json={"receipt": "0000000000000000"})
        assert first.status_code == second.status_code == 401
        assert first.json() == second.json()

    def test_a_receipt_of_the_wrong_length_is_named(self, client: TestClient) -> None:
        response = client.post("/api/v1/reporter/session", json={"receipt": "1234"})
        assert response.status_code == 422
        assert response.json()["error"]["fields"][0]["field"] == "receipt"

    def test_the_reporter_replies_and_adds_photos(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        receipt = post_report(client).json()["receipt"]
        headers = log_in(client, receipt)
        reply = client.post(
            "/api/v1/reporter/messages", json={"body": "It was a white Ford van."}, headers=headers
        )
        assert reply.status_code == 201, reply.text
        added = client.post(
            "/api/v1/reporter/attachments",
            files=[("files", ("plate.jpg", jpeg_bytes(), "image/jpeg"))],
            headers=headers,
        )
        assert added.status_code == 201, added.text
        body = client.get("/api/v1/reporter/report", headers=headers).json()
        assert [(m["author"], m["body"]) for m in body["messages"]] == [
            ("reporter", "It was a white Ford van.")
        ]
        assert [a["seq"] for a in body["attachments"]] == [1]
        message = session.exec(select(Message).order_by(col(Message.id).desc())).first()
        assert message is not None and b"Ford" not in message.body_sealed

    def test_without_a_token_the_report_is_not_shown(self, client: TestClient) -> None:
        assert client.get("/api/v1/reporter/report").status_code == 401
        bogus = {"Authorization": "Bearer not-a-token"}
        assert client.get("/api/v1/reporter/report", headers=bogus).status_code == 401

    def test_another_reports_attachment_content_stays_sealed(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        response = post_report(client, files=[("a.jpg", jpeg_bytes(), "image/jpeg")])
        report = session.exec(
            select(Report).where(Report.reference == response.json()["reference"])
        ).one()
        attachment = session.exec(select(Attachment).where(Attachment.report_id == report.id)).one()
        content = open_sealed(
            keyring.unwrap(report.wrapped_key), attachment.content_sealed, label=Label.file_content
        )
        assert content.startswith(b"\xff\xd8")
        assert (
            open_text(
                keyring.unwrap(report.wrapped_key), attachment.name_sealed, label=Label.file_name
            )
            == "a.jpg"
        )


class TestStoredPhotos:
    def test_the_stored_photo_has_no_gps_exif_xmp_or_comment(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        dirty = phone_jpeg(quadrants((80, 60)), gps_exif())
        assert b"MARKER-XMP" in dirty and b"MARKER-COMMENT" in dirty
        response = post_report(client, files=[("IMG_2231.jpg", dirty, "image/jpeg")])
        assert response.status_code == 201, response.text
        report = session.exec(
            select(Report).where(Report.reference == response.json()["reference"])
        ).one()
        attachment = session.exec(select(Attachment).where(Attachment.report_id == report.id)).one()
        stored = open_sealed(
            keyring.unwrap(report.wrapped_key), attachment.content_sealed, label=Label.file_content
        )
        for marker in MARKERS:
            assert marker not in stored, marker
        picture = Image.open(io.BytesIO(stored))
        assert not picture.getexif()
        assert not {"exif", "xmp", "comment", "icc_profile"} & set(picture.info)
        assert picture.size == (80, 60)

    def test_a_decompression_bomb_is_refused_and_nothing_is_stored(
        self, client: TestClient, session: Session
    ) -> None:
        before = count(session, Report)
        response = post_report(
            client, files=[("bomb.png", png_header_only(30_000, 30_000), "image/png")]
        )
        assert response.status_code == 422
        assert response.json()["error"]["fields"][0]["field"] == "files[0]"
        assert "pixels" in response.json()["error"]["fields"][0]["message"]
        assert count(session, Report) == before
