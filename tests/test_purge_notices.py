"""After a purge the reporter and the bodies are told the truth, and nothing more: the
receipt of a purged report says it was deleted under the retention rules, the liaison
officer sees the referral as "deleted under retention", and the body's webhook receives
one signed ``referral.purged`` event."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, inspect
from sqlmodel import Session, select

from api import worker
from api.agencies.models import Body
from api.agencies.service import WEBHOOK_SECRET_LABEL
from api.cases.models import Case
from api.crypto import KeyRing, seal_text
from api.db import utcnow
from api.jobs import service as jobs
from api.jobs.models import Job
from api.policy import Role
from api.referrals.models import Referral
from api.reports.models import Report
from api.retention import jobs as retention
from api.retention import notify
from api.retention.models import PurgedReceipt, PurgedReferral
from tests import test_purge
from tests.factories import make_staff, sign_in_staff
from tests.mobile.test_pages import log_in_page
from tests.referrals.factories import WEBHOOK_SECRET
from tests.referrals.receivers import WebhookReceiver
from tests.test_purge import LATER, Triage, _live_triage

live_app = test_purge.live_app

GONE = (
    "This report was closed and then deleted under the port's retention rules. "
    "Nothing of it is kept."
)
BODY = "police-port-unit"


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver(WEBHOOK_SECRET.encode()).running() as running:
        yield running


@dataclass
class Purged:
    """A full case, purged by the worker: what its reporter and its body held."""

    client: TestClient
    engine: Engine
    keyring: KeyRing
    receipts: list[str]
    lookups: set[str]
    references: list[str]
    body_id: int
    later: datetime

    def work(self) -> int:
        """Run the worker's jobs until none is due; how many it worked."""
        settings = self.client.app.state.settings  # type: ignore[attr-defined]
        worked = 0
        while worker.work_one_job(
            engine=self.engine,
            keyring=self.keyring,
            settings=settings,
            worker_id="w",
            clock=lambda: self.later,
        ):
            worked += 1
        return worked


def _with_webhook(engine: Engine, keyring: KeyRing, url: str) -> int:
    with Session(engine) as session:
        body = session.exec(select(Body).where(Body.code == BODY)).one()
        data_key, body.webhook_wrapped_key = keyring.new_data_key()
        body.webhook_secret_sealed = seal_text(data_key, WEBHOOK_SECRET, label=WEBHOOK_SECRET_LABEL)
        body.webhook_url = url
        session.add(body)
        session.commit()
        assert body.id is not None
        return body.id


def _full_case_with_receipts(triage: Triage) -> tuple[int, list[str]]:
    sent: list[dict[str, str]] = []
    send = triage.send

    def send_and_keep(files: bool = True, **payload: Any) -> dict[str, str]:
        sent.append(send(files=files, **payload))
        return sent[-1]

    triage.send = send_and_keep  # type: ignore[method-assign]
    case_id = triage.full_case()
    return case_id, [each["receipt"] for each in sent]


@pytest.fixture
def purged(live_app: tuple[TestClient, Engine], receiver: WebhookReceiver) -> Purged:
    client, engine = live_app
    keyring: KeyRing = client.app.state.keyring  # type: ignore[attr-defined]
    body_id = _with_webhook(engine, keyring, receiver.url)
    triage = _live_triage(client, engine)
    case_id, receipts = _full_case_with_receipts(triage)
    with Session(engine) as session:
        lookups = set(session.exec(select(Report.receipt_lookup).where(Report.case_id == case_id)))
        references = list(
            session.exec(select(Referral.reference).where(Referral.case_id == case_id))
        )
        later = utcnow() + LATER
        jobs.enqueue(
            session=session,
            kind=retention.PURGE,
            once_key=f"{retention.PURGE}:{case_id}",
            run_at=later,
            now=later,
            payload={"case_id": case_id},
            subject=retention.case_subject(case_id),
        )
        session.commit()
    assert len(receipts) == 2 and len(lookups) == 2 and len(references) == 1
    case = Purged(client, engine, keyring, receipts, lookups, references, body_id, later)
    assert case.work() == 2  # the purge, then the event to the body
    with Session(engine) as session:
        assert session.get(Case, case_id) is None
    return case


def _at(moment: datetime) -> Callable[[], datetime]:
    return lambda: moment


def _liaison(case: Purged, body_id: int | None = None) -> TestClient:
    with Session(case.engine, expire_on_commit=False) as session:
        officer, secret = make_staff(
            session, case.keyring, role=Role.liaison, body_id=body_id or case.body_id
        )
        session.commit()
    client = TestClient(case.client.app)
    sign_in_staff(client, officer, secret)
    return client


class TestTheReporter:
    def test_the_receipt_of_a_purged_report_is_told_it_was_deleted(self, purged: Purged) -> None:
        reporter = TestClient(purged.client.app)
        for receipt in purged.receipts:
            response = reporter.post("/api/v1/reporter/session", json={"receipt": receipt})
            assert response.status_code == 410, response.text
            assert response.json() == {"error": {"code": "gone", "message": GONE}}

    def test_a_wrong_receipt_is_still_not_recognised(self, purged: Purged) -> None:
        reporter = TestClient(purged.client.app)
        response = reporter.post(
            "/api/v1/reporter/session", json={"receipt": "0000 0000 0000 0000"}
        )
        assert response.status_code == 401

    def test_the_receipt_page_says_so(self, purged: Purged) -> None:
        response = log_in_page(TestClient(purged.client.app), purged.receipts[0])
        assert response.status_code == 410
        assert "set-cookie" not in response.headers
        assert GONE.replace("'", "&#39;") in response.text
        assert "not recognised" not in response.text


class TestTheLiaisonOfficer:
    def test_sees_the_referral_as_deleted_under_retention(self, purged: Purged) -> None:
        officer = _liaison(purged)
        (reference,) = purged.references
        page = officer.get("/admin/referrals")
        assert page.status_code == 200
        assert f"{reference}: deleted under retention" in page.text
        response = officer.get(f"/api/v1/referrals/{reference}")
        assert response.status_code == 410
        assert response.json()["error"]["message"] == f"{reference}: deleted under retention"
        console = officer.get(f"/admin/referrals/{reference}")
        assert console.status_code == 410
        assert f"{reference}: deleted under retention" in console.text

    def test_another_bodys_officer_sees_nothing(self, purged: Purged) -> None:
        with Session(purged.engine) as session:
            other = session.exec(select(Body.id).where(Body.id != purged.body_id)).first()
        officer = _liaison(purged, other)
        (reference,) = purged.references
        assert reference not in officer.get("/admin/referrals").text
        assert officer.get(f"/api/v1/referrals/{reference}").status_code == 404


class TestTheBodysWebhook:
    def test_receives_one_signed_event_however_often_the_worker_runs(
        self, purged: Purged, receiver: WebhookReceiver
    ) -> None:
        assert purged.work() == 0  # a second run has nothing to send again
        (reference,) = purged.references
        (delivery,) = receiver.deliveries
        assert delivery.signature_valid
        assert delivery.document == {
            "event": "referral.purged",
            "reference": reference,
            "reason": "retention",
        }
        assert delivery.headers["idempotency-key"] == f"referral.purged:{reference}"
        with Session(purged.engine) as session:
            job = session.exec(select(Job).where(Job.kind == notify.REFERRAL_PURGED)).one()
            assert job.status == "done"


def test_a_failed_event_is_tried_again_with_the_same_key(
    live_app: tuple[TestClient, Engine],
) -> None:
    client, engine = live_app
    keyring: KeyRing = client.app.state.keyring  # type: ignore[attr-defined]
    with WebhookReceiver(WEBHOOK_SECRET.encode(), statuses=[503]).running() as receiver:
        body_id = _with_webhook(engine, keyring, receiver.url)
        with Session(engine) as session:
            body = session.get(Body, body_id)
            assert body is not None
            now = utcnow()
            assert notify.enqueue(session=session, body=body, reference="R-TEST", now=now)
            session.commit()
        settings = client.app.state.settings  # type: ignore[attr-defined]
        for moment in (now, now + LATER):
            assert worker.work_one_job(
                engine=engine,
                keyring=keyring,
                settings=settings,
                worker_id="w",
                clock=_at(moment),
            )
        assert [each.headers["idempotency-key"] for each in receiver.deliveries] == [
            "referral.purged:R-TEST"
        ] * 2
    with Session(engine) as session:
        job = session.exec(select(Job).where(Job.kind == notify.REFERRAL_PURGED)).one()
        assert (job.status, job.attempts) == ("done", 2)


class TestTheTombstones:
    def test_hold_nothing_else_of_the_case(self, purged: Purged) -> None:
        tables = inspect(purged.engine)
        assert {c["name"] for c in tables.get_columns("purged_receipt")} == {"receipt_lookup"}
        assert {c["name"] for c in tables.get_columns("purged_referral")} == {
            "reference",
            "body_id",
        }
        with Session(purged.engine) as session:
            receipts = set(session.exec(select(PurgedReceipt.receipt_lookup)))
            referrals = {
                (each.reference, each.body_id) for each in session.exec(select(PurgedReferral))
            }
            (event,) = session.exec(select(Job).where(Job.kind == notify.REFERRAL_PURGED))
        assert receipts == purged.lookups
        assert referrals == {(purged.references[0], purged.body_id)}
        assert event.payload == {"body_id": purged.body_id, "reference": purged.references[0]}
        assert event.subject == ""
        assert not any(receipt in receipts for receipt in purged.receipts)
