"""Queueing, leasing, backing off and giving up, on the database under test."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session

from api.config import Settings
from api.crypto import KeyRing
from api.errors import Conflict, NotFound
from api.referrals import outbox
from api.referrals.models import OutboxJob
from tests.referrals.factories import make_body, make_referral

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
LEASE = timedelta(seconds=60)


def webhook_job(session: Session, keyring: KeyRing) -> OutboxJob:
    body = make_body(session, keyring, webhook_url="http://127.0.0.1:9/unused")
    make_referral(session, keyring, body=body, now=T0)
    job = outbox.take_job(session=session, worker_id="worker-a", now=T0, lease=LEASE)
    assert job is not None
    return job


class TestEnqueue:
    def test_a_body_with_e_mail_and_webhook_gets_one_notice_on_each(
        self, session: Session, keyring: KeyRing
    ) -> None:
        body = make_body(session, keyring, email="duty@police.test", webhook_url="http://x.test/")
        referral = make_referral(session, keyring, body=body, now=T0)

        jobs = outbox.deliveries(session=session, referral_id=referral.id or 0)

        assert sorted(job.channel for job in jobs) == ["email", "webhook"]
        assert all(job.status == "pending" and job.next_attempt_at == T0 for job in jobs)
        assert len({job.idempotency_key for job in jobs}) == 2
        assert all(len(job.idempotency_key) >= 32 for job in jobs)

    def test_a_body_without_channels_gets_no_notice(
        self, session: Session, keyring: KeyRing
    ) -> None:
        referral = make_referral(session, keyring, body=make_body(session, keyring), now=T0)

        assert outbox.deliveries(session=session, referral_id=referral.id or 0) == []

    def test_a_withdrawn_referral_s_notices_are_never_taken(
        self, session: Session, keyring: KeyRing
    ) -> None:
        body = make_body(session, keyring, email="duty@police.test")
        referral = make_referral(session, keyring, body=body, now=T0)

        outbox.cancel(session=session, referral=referral, reason="withdrawn")

        assert outbox.take_job(session=session, worker_id="w", now=T0, lease=LEASE) is None
        assert [
            job.status for job in outbox.deliveries(session=session, referral_id=referral.id or 0)
        ] == ["cancelled"]


class TestTakeJob:
    def test_a_due_notice_is_leased_to_one_worker(self, session: Session, keyring: KeyRing) -> None:
        job = webhook_job(session, keyring)

        assert job.locked_by == "worker-a"
        assert job.locked_until == T0 + LEASE
        assert outbox.take_job(session=session, worker_id="worker-b", now=T0, lease=LEASE) is None

    def test_a_notice_due_later_is_left_alone(self, session: Session, keyring: KeyRing) -> None:
        body = make_body(session, keyring, email="duty@police.test")
        make_referral(session, keyring, body=body, now=T0 + timedelta(minutes=5))

        assert outbox.take_job(session=session, worker_id="w", now=T0, lease=LEASE) is None

    def test_a_killed_worker_s_notice_is_taken_again_after_its_lease_with_the_same_key(
        self, session: Session, keyring: KeyRing
    ) -> None:
        job = webhook_job(session, keyring)  # worker-a never finishes

        during = outbox.take_job(
            session=session, worker_id="worker-b", now=T0 + LEASE / 2, lease=LEASE
        )
        after = outbox.take_job(
            session=session,
            worker_id="worker-b",
            now=T0 + LEASE + timedelta(seconds=1),
            lease=LEASE,
        )

        assert during is None
        assert after is not None and after.id == job.id
        assert after.idempotency_key == job.idempotency_key
        assert after.locked_by == "worker-b"


class TestFailures:
    def test_failures_back_off_exponentially_with_full_jitter_then_fail_with_the_error_kept(
        self, session: Session, keyring: KeyRing, settings: Settings
    ) -> None:
        job = webhook_job(session, keyring)
        now = T0
        for attempt in range(1, settings.outbox_max_attempts + 1):
            outbox.record_failure(
                session=session,
                job_id=job.id or 0,
                worker_id=job.locked_by,
                error="webhook: the server answered 503",
                now=now,
                settings=settings,
            )
            assert job.attempts == attempt
            if attempt == settings.outbox_max_attempts:
                break
            ceiling = min(3600.0, 30.0 * 2 ** (attempt - 1))
            assert now <= job.next_attempt_at <= now + timedelta(seconds=ceiling)
            assert job.status == "pending" and job.locked_until is None
            if job.next_attempt_at > now:
                # Not before its time...
                assert outbox.take_job(session=session, worker_id="w", now=now, lease=LEASE) is None
            now = job.next_attempt_at
            # ...and again at its time.
            taken = outbox.take_job(session=session, worker_id="w", now=now, lease=LEASE)
            assert taken is not None and taken.id == job.id

        assert settings.outbox_max_attempts == 8
        assert job.status == "failed"
        assert job.last_error == "webhook: the server answered 503"
        far = now + timedelta(days=30)
        assert outbox.take_job(session=session, worker_id="w", now=far, lease=LEASE) is None

    def test_retry_puts_a_failed_notice_back_with_its_idempotency_key(
        self, session: Session, keyring: KeyRing, settings: Settings
    ) -> None:
        job = webhook_job(session, keyring)
        key = job.idempotency_key
        once = settings.model_copy(update={"outbox_max_attempts": 1})
        outbox.record_failure(
            session=session,
            job_id=job.id or 0,
            worker_id="worker-a",
            error="x",
            now=T0,
            settings=once,
        )
        assert job.status == "failed"

        later = T0 + timedelta(hours=5)
        outbox.retry(session=session, job_id=job.id or 0, now=later)

        assert (job.status, job.attempts) == ("pending", 0)
        again = outbox.take_job(session=session, worker_id="w", now=later, lease=LEASE)
        assert again is not None and again.idempotency_key == key

    def test_only_a_failed_notice_can_be_retried(self, session: Session, keyring: KeyRing) -> None:
        job = webhook_job(session, keyring)

        with pytest.raises(Conflict):
            outbox.retry(session=session, job_id=job.id or 0, now=T0)
        with pytest.raises(NotFound):
            outbox.retry(session=session, job_id=10**9, now=T0)

    def test_a_worker_that_lost_its_lease_records_nothing(
        self, session: Session, keyring: KeyRing, settings: Settings
    ) -> None:
        job = webhook_job(session, keyring)
        outbox.take_job(session=session, worker_id="worker-b", now=T0 + 2 * LEASE, lease=LEASE)

        outbox.record_failure(
            session=session,
            job_id=job.id or 0,
            worker_id="worker-a",
            error="late",
            now=T0,
            settings=settings,
        )

        assert (job.attempts, job.last_error, job.locked_by) == (0, "", "worker-b")

    def test_a_delivered_notice_keeps_no_error_and_is_not_taken_again(
        self, session: Session, keyring: KeyRing
    ) -> None:
        job = webhook_job(session, keyring)

        outbox.record_delivered(session=session, job_id=job.id or 0, now=T0)

        assert (job.status, job.attempts, job.delivered_at, job.locked_until) == (
            "delivered",
            1,
            T0,
            None,
        )
        far = T0 + timedelta(days=1)
        assert outbox.take_job(session=session, worker_id="w", now=far, lease=LEASE) is None


class TestBackoff:
    @pytest.mark.parametrize(
        ("attempts", "ceiling"), [(1, 30), (2, 60), (4, 240), (8, 3600), (60, 3600)]
    )
    def test_the_delay_is_drawn_between_zero_and_the_capped_exponential(
        self, attempts: int, ceiling: float
    ) -> None:
        delays = [
            outbox.backoff_delay(attempts, base=30, cap=3600).total_seconds() for _ in range(400)
        ]

        assert all(0 <= delay <= ceiling for delay in delays)
        assert max(delays) > ceiling * 0.8 and min(delays) < ceiling * 0.2
