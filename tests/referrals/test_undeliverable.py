"""A notice never leaves for a body that may no longer receive the case: every change that
makes it so cancels what is still to go, saying why on the case, and the worker checks
again, in the transaction that takes a notice, before anything is sent."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api.agencies.models import Body
from api.crypto import KeyRing
from api.db import utcnow
from api.policy import Role
from api.referrals import outbox
from api.referrals.models import OutboxJob, Referral
from api.reports.models import Report, ReportExclusion
from tests.factories import make_staff, post_report, report_payload, sign_in_staff

BODY = "police-port-unit"
LEASE = timedelta(minutes=5)


def _case_of(session: Session, reference: str) -> int:
    case_id = session.exec(select(Report.case_id).where(Report.reference == reference)).one()
    assert case_id is not None
    return case_id


def _body(session: Session) -> Body:
    body = session.exec(select(Body).where(Body.code == BODY)).one()
    body.notification_email = "duty@police.test"
    session.add(body)
    session.flush()
    return body


def _referred(
    client: TestClient, session: Session, keyring: KeyRing
) -> tuple[int, Referral, dict[str, str]]:
    """A report's case referred to the police, whose e-mail notice waits to be sent."""
    _body(session)
    sent = post_report(client).json()
    case_id = _case_of(session, sent["reference"])
    triager, secret = make_staff(session, keyring, role=Role.triager)
    headers = sign_in_staff(client, triager, secret)
    created = client.post(
        f"/api/v1/cases/{case_id}/referrals",
        json={"body": BODY, "summary": "A clerk takes cash at the gate.", "tlp": "AMBER"},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    referral = session.exec(
        select(Referral).where(Referral.reference == created.json()["reference"])
    ).one()
    assert [job.status for job in _jobs(session, referral)] == ["pending"]
    return case_id, referral, headers


def _jobs(session: Session, referral: Referral) -> list[OutboxJob]:
    jobs = list(outbox.deliveries(session=session, referral_id=referral.id or 0))
    for job in jobs:
        session.refresh(job)
    return jobs


def _cancelled_because(session: Session, referral: Referral) -> list[str]:
    return [job.cancel_reason for job in _jobs(session, referral) if job.status == "cancelled"]


def _nothing_to_take(session: Session) -> bool:
    return outbox.take_job(session=session, worker_id="w", now=utcnow(), lease=LEASE) is None


class TestEveryChangeLeavesNothingToDeliver:
    def test_marking_the_body_implicated_cancels_its_notice(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        case_id, referral, headers = _referred(client, session, keyring)
        marked = client.put(f"/api/v1/cases/{case_id}/implicated/{BODY}", headers=headers)
        assert marked.status_code == 204
        assert _cancelled_because(session, referral) == ["implicated"]
        assert _nothing_to_take(session)

    def test_the_body_declining_cancels_its_notice(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        _case_id, referral, _headers = _referred(client, session, keyring)
        officer, secret = make_staff(session, keyring, role=Role.liaison, body_id=referral.body_id)
        liaison = TestClient(client.app)
        declined = liaison.post(
            f"/api/v1/referrals/{referral.reference}/decline",
            json={"text": "Not our jurisdiction."},
            headers=sign_in_staff(liaison, officer, secret),
        )
        assert declined.status_code == 204, declined.text
        assert _cancelled_because(session, referral) == ["declined"]
        assert _nothing_to_take(session)

    def test_linking_a_report_that_excludes_the_body_cancels_a_declined_referrals_notice(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        case_id, referral, headers = _referred(client, session, keyring)
        # Declined (the case is back with triage) while its notice still waits: a mail
        # server that was down, say.
        referral.status = "declined"
        session.add(referral)
        session.flush()
        excluding = post_report(client, report_payload(exclude_bodies=[BODY])).json()
        linked = client.post(
            f"/api/v1/cases/{case_id}/reports",
            json={"report": excluding["reference"]},
            headers=headers,
        )
        assert linked.status_code == 204, linked.text
        assert _cancelled_because(session, referral) == ["excluded_by_reporter"]
        assert _nothing_to_take(session)

    def test_a_failed_notice_of_a_referral_no_longer_live_cannot_be_retried(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        case_id, referral, headers = _referred(client, session, keyring)
        [job] = _jobs(session, referral)
        job.status = "failed"
        referral.status = "closed"
        session.add_all([job, referral])
        session.commit()  # the refused request rolls back only its own work
        retried = client.post(f"/api/v1/cases/{case_id}/deliveries/{job.id}/retry", headers=headers)
        assert retried.status_code == 409, retried.text
        assert [found.status for found in _jobs(session, referral)] == ["failed"]


class TestTheWorkerChecksAgain:
    def test_a_notice_for_a_body_excluded_since_is_cancelled_when_taken(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        case_id, referral, headers = _referred(client, session, keyring)
        # The exclusion arrives by a way no service guards (a repair by hand, a bug): the
        # worker still never sends.
        report_id = session.exec(select(Report.id).where(Report.case_id == case_id)).one()
        session.add(ReportExclusion(report_id=report_id or 0, body_id=referral.body_id))
        session.flush()
        assert _nothing_to_take(session)
        assert _cancelled_because(session, referral) == ["excluded_by_reporter"]
        deliveries = client.get(f"/api/v1/cases/{case_id}/deliveries", headers=headers).json()
        assert deliveries[referral.reference][0]["status"] == "cancelled"
        assert deliveries[referral.reference][0]["cancel_reason"] == "excluded_by_reporter"

    def test_a_notice_of_a_withdrawn_referral_is_cancelled_when_taken(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        _case_id, referral, _headers = _referred(client, session, keyring)
        referral.status = "withdrawn"
        session.add(referral)
        session.flush()
        assert _nothing_to_take(session)
        assert _cancelled_because(session, referral) == ["withdrawn"]

    def test_a_deliverable_notice_behind_a_cancelled_one_is_still_taken(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        _case_id, stale, _headers = _referred(client, session, keyring)
        stale.status = "withdrawn"
        session.add(stale)
        session.flush()
        _other_case, fresh, _headers = _referred(client, session, keyring)
        taken = outbox.take_job(session=session, worker_id="w", now=utcnow(), lease=LEASE)
        assert taken is not None and taken.referral_id == fresh.id
        assert _cancelled_because(session, stale) == ["withdrawn"]


class TestTheCaseSaysWhy:
    def test_the_case_page_shows_why_a_notice_was_not_sent(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        case_id, _referral, headers = _referred(client, session, keyring)
        client.put(f"/api/v1/cases/{case_id}/implicated/{BODY}", headers=headers)
        page = client.get(f"/admin/cases/{case_id}")
        assert page.status_code == 200
        assert "Not sent: this body is marked implicated in the case." in page.text
