"""Sending notices to a real SMTP server and a real HTTP receiver."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime

import pytest
from sqlmodel import Session

from api.config import Settings
from api.crypto import KeyRing
from api.referrals import export, outbox
from api.referrals.models import OutboxJob, Referral
from tests.referrals.factories import SUMMARY, make_body, make_referral
from tests.referrals.receivers import Inbox, WebhookReceiver
from tests.server import free_port

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def job_of(session: Session, referral: Referral, channel: str) -> OutboxJob:
    (job,) = [
        job
        for job in outbox.deliveries(session=session, referral_id=referral.id or 0)
        if job.channel == channel
    ]
    return job


def send(session: Session, keyring: KeyRing, settings: Settings, job: OutboxJob) -> None:
    notice = outbox.prepare(session=session, keyring=keyring, settings=settings, job=job, now=T0)
    outbox.deliver(notice, settings=settings)


class TestEmail:
    def test_the_notice_carries_the_reference_and_a_link_and_no_case_content(
        self, session: Session, keyring: KeyRing, inbox: tuple[Settings, Inbox]
    ) -> None:
        settings, received = inbox
        settings = settings.model_copy(update={"public_url": "https://portline.port.test"})
        body = make_body(session, keyring, email="duty@police.test")
        referral = make_referral(session, keyring, body=body, now=T0)
        job = job_of(session, referral, "email")

        send(session, keyring, settings, job)

        (message,) = received.messages
        assert received.recipients == ["duty@police.test"]
        assert message["To"] == "duty@police.test"
        assert message["From"] == settings.mail_from
        assert referral.reference in message["Subject"]
        assert job.idempotency_key in message["Message-ID"]
        text = message.get_content()
        assert f"https://portline.port.test/admin/referrals/{referral.reference}" in text
        whole = message.as_string()
        for content in (SUMMARY, "MSKU", "reefer", "tampered", "Norderhaven", "Container terminal"):
            assert content not in whole

    def test_starttls_required_but_not_offered_fails_rather_than_send_in_clear(
        self, session: Session, keyring: KeyRing, inbox: tuple[Settings, Inbox]
    ) -> None:
        settings, received = inbox
        body = make_body(session, keyring, email="duty@police.test")
        job = job_of(session, make_referral(session, keyring, body=body, now=T0), "email")

        with pytest.raises(outbox.DeliveryFailed, match="SMTP"):
            send(session, keyring, settings.model_copy(update={"smtp_starttls": True}), job)
        assert received.messages == []

    def test_no_smtp_server_is_a_failure_that_says_which_setting(
        self, session: Session, keyring: KeyRing, settings: Settings
    ) -> None:
        body = make_body(session, keyring, email="duty@police.test")
        job = job_of(session, make_referral(session, keyring, body=body, now=T0), "email")

        with pytest.raises(outbox.DeliveryFailed, match="PORTLINE_SMTP_HOST"):
            send(session, keyring, settings.model_copy(update={"smtp_host": ""}), job)

    def test_a_server_that_is_not_there_is_a_failure(
        self, session: Session, keyring: KeyRing, settings: Settings
    ) -> None:
        body = make_body(session, keyring, email="duty@police.test")
        job = job_of(session, make_referral(session, keyring, body=body, now=T0), "email")
        nowhere = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": free_port()})

        with pytest.raises(outbox.DeliveryFailed, match="SMTP: ConnectionRefusedError"):
            send(session, keyring, nowhere, job)


class TestWebhook:
    def test_the_referral_arrives_signed_with_its_idempotency_key(
        self, session: Session, keyring: KeyRing, settings: Settings, receiver: WebhookReceiver
    ) -> None:
        body = make_body(session, keyring, webhook_url=receiver.url)
        referral = make_referral(session, keyring, body=body, now=T0)
        job = job_of(session, referral, "webhook")

        send(session, keyring, settings, job)

        (delivery,) = receiver.deliveries
        assert delivery.signature_valid
        assert delivery.headers["idempotency-key"] == job.idempotency_key
        assert delivery.headers["content-type"] == "application/json"
        assert abs(int(delivery.headers["x-portline-timestamp"]) - time.time()) < 60
        assert delivery.document == export.referral_document(
            session=session, keyring=keyring, referral=referral, public_url=settings.public_url
        )
        assert delivery.document["summary"] == SUMMARY

    def test_the_signature_covers_timestamp_and_body(self) -> None:
        # The documented scheme, worked by hand: HMAC-SHA256("{timestamp}.{body}").
        expected = hmac.new(b"key", b'1700000000.{"a":1}', hashlib.sha256).hexdigest()

        assert outbox.signature(b"key", "1700000000", b'{"a":1}') == f"sha256={expected}"

    @pytest.mark.parametrize("status", [500, 404, 302, 429])
    def test_an_answer_other_than_2xx_is_a_failure(
        self,
        session: Session,
        keyring: KeyRing,
        settings: Settings,
        receiver: WebhookReceiver,
        status: int,
    ) -> None:
        receiver.statuses = [status]
        body = make_body(session, keyring, webhook_url=receiver.url)
        job = job_of(session, make_referral(session, keyring, body=body, now=T0), "webhook")

        with pytest.raises(outbox.DeliveryFailed, match=f"webhook: the server answered {status}"):
            send(session, keyring, settings, job)

    def test_a_slow_receiver_is_a_timeout(
        self, session: Session, keyring: KeyRing, settings: Settings, receiver: WebhookReceiver
    ) -> None:
        receiver.delay = 1.0
        body = make_body(session, keyring, webhook_url=receiver.url)
        job = job_of(session, make_referral(session, keyring, body=body, now=T0), "webhook")
        impatient = settings.model_copy(update={"delivery_timeout_seconds": 0.2})

        with pytest.raises(outbox.DeliveryFailed, match=r"no answer within 0\.2 s"):
            send(session, keyring, impatient, job)

    def test_a_body_without_a_secret_gets_nothing_unsigned(
        self, session: Session, keyring: KeyRing, settings: Settings, receiver: WebhookReceiver
    ) -> None:
        body = make_body(session, keyring, webhook_url=receiver.url, secret=None)
        job = job_of(session, make_referral(session, keyring, body=body, now=T0), "webhook")

        with pytest.raises(outbox.DeliveryFailed, match="no webhook secret"):
            send(session, keyring, settings, job)
        assert receiver.deliveries == []

    def test_the_payload_is_compact_utf8_json(
        self, session: Session, keyring: KeyRing, settings: Settings, receiver: WebhookReceiver
    ) -> None:
        body = make_body(session, keyring, webhook_url=receiver.url)
        referral = make_referral(
            session, keyring, body=body, now=T0, summary="Scellé coupé – quai 4"
        )
        send(session, keyring, settings, job_of(session, referral, "webhook"))

        (delivery,) = receiver.deliveries
        assert "Scellé coupé – quai 4".encode() in delivery.payload
        assert json.loads(delivery.payload)["summary"] == "Scellé coupé – quai 4"
