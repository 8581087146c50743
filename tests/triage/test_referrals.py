"""Triage refers a case: a draft to redact, a preview of exactly what the body sees, the
referral's own sealed copy, and the exclusions that no referral ever breaks."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy import func
from sqlmodel import Session, select

from api.agencies.models import Body
from api.audit.models import AuditEntry
from api.crypto import KeyRing
from api.policy import Role
from api.referrals.models import OutboxJob, Referral, ReferralAttachment
from api.referrals.service import add_working_days
from api.reports.models import Report
from tests.factories import (
    jpeg_bytes,
    log_in,
    make_staff,
    post_report,
    report_payload,
    sign_in_staff,
)

NARRATIVE = "The night clerk at lane 4 takes cash to skip the weight check."


def _case(session: Session, reference: str) -> int:
    case_id = session.exec(select(Report.case_id).where(Report.reference == reference)).one()
    assert case_id is not None
    return case_id


def _triager(client: TestClient, session: Session, keyring: KeyRing) -> dict[str, str]:
    triager, secret = make_staff(session, keyring, role=Role.triager)
    return sign_in_staff(client, triager, secret)


def _referral(**overrides: object) -> dict[str, object]:
    referral: dict[str, object] = {
        "body": "police-port-unit",
        "summary": "A clerk at lane 4 takes cash from drivers.",
        "tlp": "AMBER",
    }
    referral.update(overrides)
    return referral


def _count(session: Session, table: type) -> int:
    return session.exec(select(func.count()).select_from(table)).one()


class TestComposing:
    def test_the_draft_quotes_the_reports_and_lists_what_may_be_shared(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        sent = post_report(
            client,
            report_payload(
                narrative=NARRATIVE,
                identity={"name": "K. Janssens", "contact": "union office", "may_share": True},
                exclude_bodies=["customs"],
            ),
            files=[("lane4.jpg", jpeg_bytes(), "image/jpeg")],
        ).json()
        headers = _triager(client, session, keyring)
        case_id = _case(session, sent["reference"])
        draft = client.get(f"/api/v1/cases/{case_id}/referral-draft", headers=headers)
        assert draft.status_code == 200, draft.text
        body = draft.json()
        assert NARRATIVE in body["summary"] and sent["reference"] in body["summary"]
        assert body["photos"][0]["name"] == "lane4.jpg"
        assert body["identities"] == [
            {"report": sent["reference"], "name": "K. Janssens", "contact": "union office"}
        ]
        blocked = {choice["code"]: choice["blocked"] for choice in body["bodies"]}
        assert blocked["customs"] == "excluded_by_reporter"
        assert blocked["police-port-unit"] is None

    def test_an_identity_given_without_consent_is_never_offered(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        sent = post_report(
            client, report_payload(identity={"name": "K. Janssens", "contact": "union office"})
        ).json()
        headers = _triager(client, session, keyring)
        case_id = _case(session, sent["reference"])
        assert client.get(f"/api/v1/cases/{case_id}/referral-draft").json()["identities"] == []
        refused = client.post(
            f"/api/v1/cases/{case_id}/referrals",
            json=_referral(identities=[sent["reference"]]),
            headers=headers,
        )
        assert refused.status_code == 422
        assert refused.json()["error"]["fields"][0]["field"] == "identities[0]"
        assert _count(session, Referral) == 0

    def test_the_preview_is_what_the_body_sees_and_stores_nothing(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        sent = post_report(client, files=[("a.jpg", jpeg_bytes(), "image/jpeg")]).json()
        headers = _triager(client, session, keyring)
        case_id = _case(session, sent["reference"])
        wanted = _referral(photos=[f"{sent['reference']}/1"], tlp="RED")
        preview = client.post(
            f"/api/v1/cases/{case_id}/referrals/preview", json=wanted, headers=headers
        )
        assert preview.status_code == 200, preview.text
        assert _count(session, Referral) == 0
        created = client.post(f"/api/v1/cases/{case_id}/referrals", json=wanted, headers=headers)
        assert created.status_code == 201, created.text
        seen, previewed = created.json(), preview.json()
        for field in ("summary", "photos", "identities", "tlp", "body_name", "category"):
            assert seen[field] == previewed[field], field
        assert seen["reference"].startswith("F-")


class TestReferring:
    def test_a_referral_keeps_its_own_copy_whatever_the_case_becomes(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        sent = post_report(client, files=[("a.jpg", jpeg_bytes(), "image/jpeg")]).json()
        headers = _triager(client, session, keyring)
        case_id = _case(session, sent["reference"])
        created = client.post(
            f"/api/v1/cases/{case_id}/referrals",
            json=_referral(photos=[f"{sent['reference']}/1"]),
            headers=headers,
        )
        assert created.status_code == 201, created.text
        client.patch(
            f"/api/v1/cases/{case_id}",
            json={"severity": 4, "tlp": "CLEAR", "category": "theft", "kind": "incident"},
            headers=headers,
        )
        listed = client.get(f"/api/v1/cases/{case_id}/referrals").json()
        assert listed == [created.json()]
        assert client.get(f"/api/v1/cases/{case_id}").json()["status"] == "referred"
        assert _count(session, ReferralAttachment) == 1
        jobs = session.exec(select(OutboxJob.channel)).all()
        assert "email" in jobs or "webhook" in jobs or jobs == []
        actions = session.exec(
            select(AuditEntry.action).where(AuditEntry.object_id == str(case_id))
        ).all()
        assert "referral.created" in actions

    def test_the_acknowledgement_is_due_in_two_working_days_by_default(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        sent = post_report(client).json()
        headers = _triager(client, session, keyring)
        case_id = _case(session, sent["reference"])
        created = client.post(
            f"/api/v1/cases/{case_id}/referrals", json=_referral(), headers=headers
        )
        due = datetime.fromisoformat(created.json()["acknowledge_due"])
        expected = add_working_days(datetime.now(UTC), 2)
        assert abs((due - expected).total_seconds()) < 120
        assert due.weekday() < 5
        friday = datetime(2026, 11, 27, 10, tzinfo=UTC)
        assert add_working_days(friday, 2).date().isoformat() == "2026-12-01"

    def test_bad_referrals_name_the_field_and_store_nothing(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        sent = post_report(client).json()
        headers = _triager(client, session, keyring)
        case_id = _case(session, sent["reference"])
        for change, field in (
            ({"body": "nobody"}, "body"),
            ({"summary": "   "}, "summary"),
            ({"tlp": "PINK"}, "tlp"),
            ({"photos": ["R-NOTHERE0/1"]}, "photos[0]"),
            ({"acknowledge_due": "2020-01-01"}, "acknowledge_due"),
        ):
            refused = client.post(
                f"/api/v1/cases/{case_id}/referrals", json=_referral(**change), headers=headers
            )
            assert refused.status_code == 422, (change, refused.text)
            assert refused.json()["error"]["fields"][0]["field"] == field
        assert _count(session, Referral) == 0

    def test_the_same_body_is_not_referred_twice_nor_a_closed_case(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        sent = post_report(client).json()
        headers = _triager(client, session, keyring)
        case_id = _case(session, sent["reference"])
        url = f"/api/v1/cases/{case_id}/referrals"
        assert client.post(url, json=_referral(), headers=headers).status_code == 201
        assert client.post(url, json=_referral(), headers=headers).status_code == 409
        closing = {"resolution": "out_of_scope", "outcome": "Not for us."}
        client.post(f"/api/v1/cases/{case_id}/close", json=closing, headers=headers)
        other = client.post(url, json=_referral(body="coast-guard"), headers=headers)
        assert other.status_code == 409


class TestExclusionIsAbsolute:
    def test_a_body_the_reporter_excluded_never_receives_the_case(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        sent = post_report(client, report_payload(exclude_bodies=["police-port-unit"])).json()
        headers = _triager(client, session, keyring)
        case_id = _case(session, sent["reference"])
        for path in ("referrals", "referrals/preview"):
            refused = client.post(
                f"/api/v1/cases/{case_id}/{path}", json=_referral(), headers=headers
            )
            assert refused.status_code == 403, refused.text
            assert refused.json()["error"]["fields"][0]["field"] == "body"
        assert _count(session, Referral) == 0 and _count(session, OutboxJob) == 0

    def test_a_linked_duplicate_brings_its_reporters_exclusions(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        first = post_report(client).json()
        second = post_report(client, report_payload(exclude_bodies=["customs"])).json()
        headers = _triager(client, session, keyring)
        case_id = _case(session, first["reference"])
        client.post(
            f"/api/v1/cases/{case_id}/reports",
            json={"report": second["reference"]},
            headers=headers,
        )
        refused = client.post(
            f"/api/v1/cases/{case_id}/referrals", json=_referral(body="customs"), headers=headers
        )
        assert refused.status_code == 403
        assert _count(session, Referral) == 0

    def test_an_implicated_body_is_refused_and_loses_a_referral_it_had(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        sent = post_report(client).json()
        headers = _triager(client, session, keyring)
        case_id = _case(session, sent["reference"])
        url = f"/api/v1/cases/{case_id}/referrals"
        assert client.post(url, json=_referral(), headers=headers).status_code == 201
        marked = client.put(f"/api/v1/cases/{case_id}/implicated/police-port-unit", headers=headers)
        assert marked.status_code == 204
        referral = session.exec(select(Referral)).one()
        session.refresh(referral)
        assert referral.status == "withdrawn"
        assert client.post(url, json=_referral(), headers=headers).status_code == 403
        draft = client.get(f"/api/v1/cases/{case_id}/referral-draft").json()
        assert {c["code"]: c["blocked"] for c in draft["bodies"]}["police-port-unit"] == (
            "implicated"
        )

    def test_other_roles_cannot_refer(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        sent = post_report(client).json()
        case_id = _case(session, sent["reference"])
        body_id = session.exec(select(Body.id).where(Body.code == "police-port-unit")).one()
        liaison, secret = make_staff(session, keyring, role=Role.liaison, body_id=body_id)
        headers = sign_in_staff(client, liaison, secret)
        refused = client.post(
            f"/api/v1/cases/{case_id}/referrals", json=_referral(), headers=headers
        )
        assert refused.status_code == 403
        assert _count(session, Referral) == 0


class TestReporterSees:
    def test_the_reporter_reads_that_an_authority_has_it_named_only_if_configured(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        sent = post_report(client).json()
        headers = _triager(client, session, keyring)
        case_id = _case(session, sent["reference"])
        client.post(f"/api/v1/cases/{case_id}/referrals", json=_referral(), headers=headers)
        reporter = TestClient(client.app)
        token = log_in(reporter, sent["receipt"])
        label = reporter.get("/api/v1/reporter/report", headers=token).json()["status_label"]
        assert label == "Your report was passed to a competent authority, which is looking into it."
        body = session.exec(select(Body).where(Body.code == "police-port-unit")).one()
        body.named_to_reporter = True
        session.add(body)
        session.flush()
        label = reporter.get("/api/v1/reporter/report", headers=token).json()["status_label"]
        assert label == f"Your report was passed to {body.name}, which is looking into it."


class TestTheQueueKnowsReferrals:
    def test_the_queue_filters_by_the_body_referred_to_and_finds_a_report_reference(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        referred = post_report(client).json()
        other = post_report(client).json()
        headers = _triager(client, session, keyring)
        case_id = _case(session, referred["reference"])
        client.post(f"/api/v1/cases/{case_id}/referrals", json=_referral(), headers=headers)

        def ids(**params: object) -> set[int]:
            page = client.get("/api/v1/cases", params={"page_size": 200, **params}).json()
            return {row["id"] for row in page["rows"]}

        assert ids(body="police-port-unit") == {case_id}
        assert ids(body="customs") == set()
        assert ids(search=other["reference"].lower()) == {_case(session, other["reference"])}
        client.put(f"/api/v1/cases/{case_id}/implicated/police-port-unit", headers=headers)
        assert ids(body="police-port-unit") == set()  # withdrawn: no longer with that body
