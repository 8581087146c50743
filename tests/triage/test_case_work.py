"""Internal notes, photos for triage, assignees, and each port's deadlines."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api.agencies.models import Body
from api.audit.models import AuditEntry
from api.cases.models import Case
from api.crypto import KeyRing
from api.policy import Role
from api.ports.models import Port
from api.reports.models import Report
from tests.factories import (
    jpeg_bytes,
    log_in,
    make_staff,
    post_report,
    sign_in_staff,
)


def _case_of(session: Session, reference: str) -> int:
    case_id = session.exec(select(Report.case_id).where(Report.reference == reference)).one()
    assert case_id is not None
    return case_id


def _a_body(session: Session) -> int:
    body_id = session.exec(select(Body.id)).first()
    assert body_id is not None
    return body_id


def _actions(session: Session, case_id: int) -> list[str]:
    query = select(AuditEntry.action).where(
        AuditEntry.object_type == "case", AuditEntry.object_id == str(case_id)
    )
    return list(session.exec(query).all())


class TestNotes:
    def test_a_note_is_for_the_team_only(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        sent = post_report(client).json()
        case_id = _case_of(session, sent["reference"])
        triager, secret = make_staff(session, keyring, role=Role.triager)
        csrf = sign_in_staff(client, triager, secret)

        written = client.post(
            f"/api/v1/cases/{case_id}/notes",
            json={"body": "  Ask customs whether gate 3 had a second shift.  "},
            headers=csrf,
        )
        assert written.status_code == 204, written.text
        notes = client.get(f"/api/v1/cases/{case_id}").json()["notes"]
        assert [(note["author"], note["body"]) for note in notes] == [
            (triager.email, "Ask customs whether gate 3 had a second shift.")
        ]
        assert "case.note_added" in _actions(session, case_id)

        reporter_client = TestClient(client.app)
        mine = reporter_client.get(
            "/api/v1/reporter/report", headers=log_in(reporter_client, sent["receipt"])
        ).json()
        assert all("second shift" not in message["body"] for message in mine["messages"])

    def test_an_empty_note_is_refused_naming_the_field(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        case_id = _case_of(session, post_report(client).json()["reference"])
        triager, secret = make_staff(session, keyring, role=Role.triager)
        csrf = sign_in_staff(client, triager, secret)
        refused = client.post(f"/api/v1/cases/{case_id}/notes", json={"body": "   "}, headers=csrf)
        assert refused.status_code == 422
        assert refused.json()["error"]["fields"][0]["field"] == "body"
        assert client.get(f"/api/v1/cases/{case_id}").json()["notes"] == []

    def test_other_roles_cannot_write_notes(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        case_id = _case_of(session, post_report(client).json()["reference"])
        liaison, secret = make_staff(session, keyring, role=Role.liaison, body_id=_a_body(session))
        csrf = sign_in_staff(client, liaison, secret)
        refused = client.post(f"/api/v1/cases/{case_id}/notes", json={"body": "x"}, headers=csrf)
        assert refused.status_code == 403


class TestPhotos:
    def test_a_photo_is_served_to_triage_uncached_and_each_view_is_audited(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        sent = post_report(
            client, files=[("<b>gate</b>.jpg", jpeg_bytes(80, 60), "image/jpeg")]
        ).json()
        case_id = _case_of(session, sent["reference"])
        triager, secret = make_staff(session, keyring, role=Role.triager)
        sign_in_staff(client, triager, secret)

        detail = client.get(f"/api/v1/cases/{case_id}").json()
        attachment = detail["reports"][0]["attachments"][0]
        assert attachment["name"] == "<b>gate</b>.jpg"
        url = f"/api/v1/cases/{case_id}/reports/{sent['reference']}/attachments/1"
        photo = client.get(url)
        assert photo.status_code == 200
        assert photo.headers["content-type"] == "image/jpeg"
        assert photo.headers["cache-control"] == "no-store"
        assert photo.headers["x-content-type-options"] == "nosniff"
        assert (
            photo.content[:3] == b"\xff\xd8\xff" and len(photo.content) == attachment["byte_size"]
        )
        client.get(url)
        assert _actions(session, case_id).count("case.attachment_viewed") == 2

    def test_a_photo_of_another_case_or_a_missing_one_is_not_found(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        with_photo = post_report(client, files=[("a.jpg", jpeg_bytes(), "image/jpeg")]).json()
        other_case = _case_of(session, post_report(client).json()["reference"])
        own_case = _case_of(session, with_photo["reference"])
        triager, secret = make_staff(session, keyring, role=Role.triager)
        sign_in_staff(client, triager, secret)
        base = f"/api/v1/cases/{other_case}/reports/{with_photo['reference']}/attachments/1"
        assert client.get(base).status_code == 404
        missing = f"/api/v1/cases/{own_case}/reports/{with_photo['reference']}/attachments/2"
        assert client.get(missing).status_code == 404
        assert "case.attachment_viewed" not in _actions(session, own_case)

    def test_signed_out_or_other_roles_get_no_photo(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        sent = post_report(client, files=[("a.jpg", jpeg_bytes(), "image/jpeg")]).json()
        url = (
            f"/api/v1/cases/{_case_of(session, sent['reference'])}"
            f"/reports/{sent['reference']}/attachments/1"
        )
        assert client.get(url).status_code == 401
        auditor, secret = make_staff(session, keyring, role=Role.auditor)
        sign_in_staff(client, auditor, secret)
        assert client.get(url).status_code == 403


class TestAssignee:
    def test_only_an_active_triager_can_be_assigned_and_null_unassigns(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        case_id = _case_of(session, post_report(client).json()["reference"])
        triager, secret = make_staff(session, keyring, role=Role.triager)
        colleague, _ = make_staff(session, keyring, role=Role.triager)
        liaison, _ = make_staff(session, keyring, role=Role.liaison, body_id=_a_body(session))
        csrf = sign_in_staff(client, triager, secret)
        url = f"/api/v1/cases/{case_id}"

        refused = client.patch(url, json={"assignee_id": liaison.id}, headers=csrf)
        assert refused.status_code == 422
        assert refused.json()["error"]["fields"][0]["field"] == "assignee_id"
        assert client.patch(url, json={"assignee_id": 999_999}, headers=csrf).status_code == 422

        assert (
            client.patch(url, json={"assignee_id": colleague.id}, headers=csrf).status_code == 204
        )
        assert client.get(url).json()["assignee_id"] == colleague.id
        assert client.patch(url, json={"title": "Gate 3"}, headers=csrf).status_code == 204
        assert client.get(url).json()["assignee_id"] == colleague.id
        assert client.patch(url, json={"assignee_id": None}, headers=csrf).status_code == 204
        assert client.get(url).json()["assignee_id"] is None


class TestPortDeadlines:
    def test_an_administrator_shortens_a_ports_deadlines_for_new_cases(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        earlier = session.get(Case, _case_of(session, post_report(client).json()["reference"]))
        assert earlier is not None
        earlier_due = earlier.acknowledge_due
        administrator, secret = make_staff(session, keyring, role=Role.administrator)
        csrf = sign_in_staff(client, administrator, secret)

        changed = client.put(
            "/api/v1/ports/NHV/deadlines",
            json={"acknowledge_days": 3, "feedback_days": 30},
            headers=csrf,
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["acknowledge_days"] == 3
        listed = {port["code"]: port for port in client.get("/api/v1/ports").json()}
        assert (listed["NHV"]["acknowledge_days"], listed["NHV"]["feedback_days"]) == (3, 30)

        later = session.get(Case, _case_of(session, post_report(client).json()["reference"]))
        assert later is not None
        assert later.acknowledge_due - later.received_hour == timedelta(days=3)
        session.refresh(earlier)
        assert earlier.acknowledge_due == earlier_due
        entry = session.exec(
            select(AuditEntry).where(AuditEntry.action == "port.deadlines_changed")
        ).one()
        assert entry.actor == administrator.email and "7 -> 3" in entry.detail

        port = session.exec(select(Port).where(Port.code == "NHV")).one()
        port.acknowledge_days, port.feedback_days = 7, 91
        session.add(port)
        session.flush()

    def test_deadlines_beyond_the_directive_are_refused_naming_the_field(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        administrator, secret = make_staff(session, keyring, role=Role.administrator)
        csrf = sign_in_staff(client, administrator, secret)
        for body, field in (
            ({"acknowledge_days": 8, "feedback_days": 30}, "acknowledge_days"),
            ({"acknowledge_days": 0, "feedback_days": 30}, "acknowledge_days"),
            ({"acknowledge_days": 7, "feedback_days": 120}, "feedback_days"),
        ):
            refused = client.put("/api/v1/ports/NHV/deadlines", json=body, headers=csrf)
            assert refused.status_code == 422
            assert refused.json()["error"]["fields"][0]["field"] == field
        unknown = client.put(
            "/api/v1/ports/XXX/deadlines",
            json={"acknowledge_days": 7, "feedback_days": 30},
            headers=csrf,
        )
        assert unknown.status_code == 404
        port = session.exec(select(Port).where(Port.code == "NHV")).one()
        assert (port.acknowledge_days, port.feedback_days) == (7, 91)

    def test_a_triager_cannot_change_deadlines(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        triager, secret = make_staff(session, keyring, role=Role.triager)
        csrf = sign_in_staff(client, triager, secret)
        refused = client.put(
            "/api/v1/ports/NHV/deadlines",
            json={"acknowledge_days": 3, "feedback_days": 30},
            headers=csrf,
        )
        assert refused.status_code == 403
