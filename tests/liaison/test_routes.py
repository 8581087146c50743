"""The liaison officer's workspace over the API: only referrals to their own body, worked
with triage, questions to the reporter approved by triage, answers flowing back."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api.agencies.models import Body
from api.audit.models import AuditEntry
from api.crypto import KeyRing
from api.policy import Role
from api.referrals.models import Referral
from api.reports.models import Report
from tests.factories import (
    jpeg_bytes,
    log_in,
    make_staff,
    post_report,
    sign_in_staff,
)

QUESTION = "Which lane, and at what time of night?"
EDITED = "Which lane was it, and at about what time?"
ANSWER = "Lane 4, after midnight."


def _body_id(session: Session, code: str) -> int:
    body_id = session.exec(select(Body.id).where(Body.code == code)).one()
    assert body_id is not None
    return body_id


def _refer(
    client: TestClient, session: Session, keyring: KeyRing, body: str = "police-port-unit"
) -> tuple[dict[str, Any], int, str]:
    """A report, referred by a triager (whose session the client then holds) to ``body``."""
    sent = post_report(client, files=[("lane4.jpg", jpeg_bytes(), "image/jpeg")]).json()
    case_id = session.exec(
        select(Report.case_id).where(Report.reference == sent["reference"])
    ).one()
    assert case_id is not None
    triager, secret = make_staff(session, keyring, role=Role.triager)
    headers = sign_in_staff(client, triager, secret)
    created = client.post(
        f"/api/v1/cases/{case_id}/referrals",
        json={
            "body": body,
            "summary": "A clerk takes cash at the gate.",
            "tlp": "AMBER",
            "photos": [f"{sent['reference']}/1"],
        },
        headers=headers,
    )
    assert created.status_code == 201, created.text
    return sent, case_id, created.json()["reference"]


def _liaison(
    client: TestClient, session: Session, keyring: KeyRing, body: str = "police-port-unit"
) -> dict[str, str]:
    officer, secret = make_staff(
        session, keyring, role=Role.liaison, body_id=_body_id(session, body)
    )
    return sign_in_staff(client, officer, secret)


class TestOwnBodyOnly:
    def test_another_bodys_officer_finds_nothing_of_it(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        _sent, _case_id, reference = _refer(client, session, keyring)
        headers = _liaison(client, session, keyring, body="customs")
        assert client.get("/api/v1/referrals").json() == []
        for method, path, payload in (
            ("get", f"/api/v1/referrals/{reference}", None),
            ("get", f"/api/v1/referrals/{reference}/attachments/1", None),
            ("get", f"/api/v1/referrals/{reference}/export.json", None),
            ("get", f"/api/v1/referrals/{reference}/export.stix.json", None),
            ("post", f"/api/v1/referrals/{reference}/acknowledge", {}),
            ("post", f"/api/v1/referrals/{reference}/decline", {"text": "no"}),
            ("post", f"/api/v1/referrals/{reference}/messages/update", {"body": "x"}),
        ):
            answer = client.request(method, path, json=payload, headers=headers)
            assert answer.status_code == 404, (path, answer.text)
        referral = session.exec(select(Referral)).one()
        assert referral.status == "sent"

    def test_the_officer_reads_the_shared_copy_and_its_photo(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        _sent, _case_id, reference = _refer(client, session, keyring)
        _liaison(client, session, keyring)
        inbox = client.get("/api/v1/referrals").json()
        assert [row["reference"] for row in inbox] == [reference]
        page = client.get(f"/api/v1/referrals/{reference}").json()
        assert page["referral"]["summary"] == "A clerk takes cash at the gate."
        assert [event["kind"] for event in page["timeline"]] == ["sent"]
        photo = client.get(f"/api/v1/referrals/{reference}/attachments/1")
        assert photo.status_code == 200 and photo.headers["cache-control"] == "no-store"
        actions = session.exec(
            select(AuditEntry.action).where(AuditEntry.object_id == reference)
        ).all()
        assert {"referral.viewed", "referral.photo_viewed"} <= set(actions)


class TestWorkingAReferral:
    def test_acknowledge_ask_approve_answer_update_and_close(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        sent, case_id, reference = _refer(client, session, keyring)
        triage_client = TestClient(client.app)
        triager, secret = make_staff(session, keyring, role=Role.triager)
        triage_headers = sign_in_staff(triage_client, triager, secret)
        headers = _liaison(client, session, keyring)

        assert (
            client.post(
                f"/api/v1/referrals/{reference}/acknowledge", json={}, headers=headers
            ).status_code
            == 204
        )
        assert (
            client.post(
                f"/api/v1/referrals/{reference}/accept", json={}, headers=headers
            ).status_code
            == 204
        )
        asked = client.post(
            f"/api/v1/referrals/{reference}/messages/question",
            json={"body": QUESTION},
            headers=headers,
        )
        assert asked.status_code == 204

        reporter = TestClient(client.app)
        token = log_in(reporter, sent["receipt"])
        mine = reporter.get("/api/v1/reporter/report", headers=token).json()
        assert all(QUESTION not in message["body"] for message in mine["messages"])

        timelines = triage_client.get(f"/api/v1/cases/{case_id}/referral-timelines").json()
        question = next(event for event in timelines[reference] if event["kind"] == "question")
        assert question["state"] == "pending" and question["text"] == QUESTION
        approved = triage_client.post(
            f"/api/v1/cases/{case_id}/referrals/{reference}/questions/{question['seq']}",
            json={"approve": True, "body": EDITED},
            headers=triage_headers,
        )
        assert approved.status_code == 204, approved.text

        mine = reporter.get("/api/v1/reporter/report", headers=token).json()
        assert (mine["messages"][-1]["author"], mine["messages"][-1]["body"]) == (
            "authority",
            EDITED,
        )
        assert mine["status"] == "waiting_for_reporter"
        reporter.post("/api/v1/reporter/messages", json={"body": ANSWER}, headers=token)

        # The answer goes back to the body still working the case.
        assert triage_client.get(f"/api/v1/cases/{case_id}").json()["status"] == "referred"
        mine = reporter.get("/api/v1/reporter/report", headers=token).json()
        assert "competent authority" in mine["status_label"]
        page = client.get(f"/api/v1/referrals/{reference}").json()
        kinds = [(event["kind"], event["side"], event["text"]) for event in page["timeline"]]
        assert ("question_edited", "triage", EDITED) in kinds
        assert ("answer", "reporter", ANSWER) in kinds
        assert (
            client.post(
                f"/api/v1/referrals/{reference}/messages/update",
                json={"body": "We spoke to the terminal."},
                headers=headers,
            ).status_code
            == 204
        )
        closed = client.post(
            f"/api/v1/referrals/{reference}/close",
            json={"text": "The clerk was suspended."},
            headers=headers,
        )
        assert closed.status_code == 204
        page = client.get(f"/api/v1/referrals/{reference}").json()
        assert page["referral"]["status"] == "closed"
        mine = reporter.get("/api/v1/reporter/report", headers=token).json()
        assert (mine["messages"][-1]["author"], mine["messages"][-1]["body"]) == (
            "authority",
            "The clerk was suspended.",
        )
        assert page["timeline"][-1]["text"] == "The clerk was suspended."
        again = client.post(f"/api/v1/referrals/{reference}/accept", json={}, headers=headers)
        assert again.status_code == 409

    def test_declining_sends_the_case_back_to_triage_with_the_reason(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        _sent, case_id, reference = _refer(client, session, keyring)
        triage_client = TestClient(client.app)
        triager, secret = make_staff(session, keyring, role=Role.triager)
        sign_in_staff(triage_client, triager, secret)
        headers = _liaison(client, session, keyring)
        declined = client.post(
            f"/api/v1/referrals/{reference}/decline",
            json={"text": "Not our jurisdiction: private terminal."},
            headers=headers,
        )
        assert declined.status_code == 204
        assert triage_client.get(f"/api/v1/cases/{case_id}").json()["status"] == "in_progress"
        timeline = triage_client.get(f"/api/v1/cases/{case_id}/referral-timelines").json()
        assert timeline[reference][-1]["text"] == "Not our jurisdiction: private terminal."

    def test_declining_or_closing_without_a_reason_is_refused_naming_the_field(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        _sent, _case_id, reference = _refer(client, session, keyring)
        headers = _liaison(client, session, keyring)
        for step in ("decline", "close"):
            refused = client.post(
                f"/api/v1/referrals/{reference}/{step}", json={"text": "  "}, headers=headers
            )
            assert refused.status_code == 422
            assert refused.json()["error"]["fields"][0]["field"] == "text"
        assert session.exec(select(Referral.status)).one() == "sent"

    def test_a_refused_question_never_reaches_the_reporter(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        sent, case_id, reference = _refer(client, session, keyring)
        triage_client = TestClient(client.app)
        triager, secret = make_staff(session, keyring, role=Role.triager)
        triage_headers = sign_in_staff(triage_client, triager, secret)
        headers = _liaison(client, session, keyring)
        client.post(
            f"/api/v1/referrals/{reference}/messages/question",
            json={"body": "What is your name?"},
            headers=headers,
        )
        refused = triage_client.post(
            f"/api/v1/cases/{case_id}/referrals/{reference}/questions/2",
            json={"approve": False},
            headers=triage_headers,
        )
        assert refused.status_code == 204
        reporter = TestClient(client.app)
        mine = reporter.get(
            "/api/v1/reporter/report", headers=log_in(reporter, sent["receipt"])
        ).json()
        assert all("your name" not in message["body"] for message in mine["messages"])


class TestExport:
    def test_the_body_exports_json_and_a_stix_bundle_that_validates(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        from stix2validator import ValidationOptions, validate_instance

        _sent, _case_id, reference = _refer(client, session, keyring)
        _liaison(client, session, keyring)
        document = client.get(f"/api/v1/referrals/{reference}/export.json").json()
        assert document["reference"] == reference
        bundle = client.get(f"/api/v1/referrals/{reference}/export.stix.json").json()
        result = validate_instance(bundle, ValidationOptions(strict=False))
        assert result.is_valid, [str(error) for error in result.errors]
        assert {"report", "incident"} <= {item["type"] for item in bundle["objects"]}
