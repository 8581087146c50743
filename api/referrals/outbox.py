"""The outbox: notices of new referrals to receiving bodies, worked by ``portline worker``.

A referral queues its notices in its own transaction (:func:`enqueue`): an e-mail that
carries no case content (the reference and a link), and a webhook call that carries the
referral itself, signed with the body's secret. A worker then, each step in a transaction
of its own so that no database lock is held while the network is slow:

1. :func:`take_job` leases one due notice (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; the
   ``BEGIN IMMEDIATE`` write transaction on SQLite), so two workers never take the same;
2. :func:`prepare` reads what to send; :func:`deliver` sends it, touching no database;
3. :func:`record_delivered` or :func:`record_failure` (exponential backoff with full
   jitter, then "failed" with a short error kept for triage; :func:`retry` brings a
   failed notice back).

A worker killed mid-delivery records nothing: its lease runs out and the notice is taken
again, with the same idempotency key, so the body can tell it already has it. The lease
and the backoff are the jobs module's (api/jobs/service.py); notices keep a table of their
own, each tied to its referral and carrying the key the body sees."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import smtplib
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime

import httpx
from sqlmodel import Session, col, select

from api.agencies import service as agencies_service
from api.agencies.models import Body
from api.cases.models import Case
from api.config import Settings
from api.crypto import KeyRing
from api.errors import Conflict, NotFound
from api.i18n import DEFAULT_LANGUAGE, N_, translate
from api.jobs.service import ERROR_LENGTH, lease_free
from api.jobs.service import backoff_delay as backoff_delay  # also the outbox's own name
from api.referrals import export
from api.referrals import service as referrals_service
from api.referrals.models import OutboxJob, Referral

EMAIL = "email"
WEBHOOK = "webhook"

PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"
CANCELLED = "cancelled"


class DeliveryFailed(Exception):
    """A notice did not get through. The message is short and technical (an SMTP code, an
    HTTP status, a timeout) and never holds case content: triage reads it."""


@dataclass(frozen=True)
class EmailNotice:
    message: EmailMessage


@dataclass(frozen=True)
class WebhookNotice:
    url: str
    payload: bytes
    secret: bytes
    idempotency_key: str


Notice = EmailNotice | WebhookNotice


# Queueing ---------------------------------------------------------------------------------


def enqueue(*, session: Session, referral: Referral, now: datetime) -> list[OutboxJob]:
    """Queue a notice on each channel the body has: an e-mail, a webhook, both or none."""
    body = session.get(Body, referral.body_id)
    if body is None or referral.id is None:
        return []
    channels = [
        channel
        for channel, address in ((EMAIL, body.notification_email), (WEBHOOK, body.webhook_url))
        if address
    ]
    jobs = [
        OutboxJob(
            referral_id=referral.id,
            channel=channel,
            idempotency_key=secrets.token_urlsafe(24),
            next_attempt_at=now,
            created_at=now,
        )
        for channel in channels
    ]
    session.add_all(jobs)
    session.flush()
    return jobs


def cancel(*, session: Session, referral: Referral, reason: str) -> None:
    """Drop the notices of ``referral`` that have not gone out yet, keeping why (a code
    that triage reads on the case: "implicated", "excluded_by_reporter", "declined"...)."""
    for job in session.exec(
        select(OutboxJob).where(
            OutboxJob.referral_id == referral.id, col(OutboxJob.status).in_([PENDING, FAILED])
        )
    ):
        job.status = CANCELLED
        job.cancel_reason = reason
        job.locked_until = None
        session.add(job)
    session.flush()


def deliveries(*, session: Session, referral_id: int) -> Sequence[OutboxJob]:
    """The notices of one referral, for triage to see how each went."""
    return session.exec(
        select(OutboxJob).where(OutboxJob.referral_id == referral_id).order_by(col(OutboxJob.id))
    ).all()


def retry(*, session: Session, job_id: int, now: datetime) -> OutboxJob:
    """Put a failed notice back in the queue for a full round of attempts (triage's retry
    button; the caller checks that the actor may triage). The idempotency key stays."""
    job = session.get(OutboxJob, job_id)
    if job is None:
        raise NotFound(N_("There is no such delivery."))
    if job.status != FAILED:
        raise Conflict(N_("Only a failed delivery can be retried."))
    job.status = PENDING
    job.attempts = 0
    job.next_attempt_at = now
    job.locked_until = None
    session.add(job)
    session.flush()
    return job


# Taking a job -----------------------------------------------------------------------------


def take_job(
    *, session: Session, worker_id: str, now: datetime, lease: timedelta
) -> OutboxJob | None:
    """Lease the next due notice to ``worker_id`` until ``now + lease`` and commit, so the
    lease holds before anything is sent; ``None`` when nothing is due.

    The same transaction checks that the body may still receive the case, under the
    case's lock (``api.cases.service.lock``): a notice for a referral withdrawn, declined
    or closed, or for a body that a reporter excluded or triage found implicated since, is
    cancelled with its reason instead, and the next one is looked at.

    On PostgreSQL, ``SKIP LOCKED`` lets concurrent workers pass over a job another is
    taking, and over a case that a triager is changing: the worker never waits for a
    lock, so it can never be part of a deadlock. SQLite ignores the clause, and its
    ``BEGIN IMMEDIATE`` makes the read and the write one step no other writer can come
    between."""
    query = (
        select(OutboxJob, Referral)
        .join(Referral, col(Referral.id) == col(OutboxJob.referral_id))
        .join(Case, col(Case.id) == col(Referral.case_id))
        .where(
            OutboxJob.status == PENDING,
            col(OutboxJob.next_attempt_at) <= now,
            lease_free(OutboxJob.locked_until, now),
        )
        .order_by(col(OutboxJob.next_attempt_at), col(OutboxJob.id))
        .limit(1)
        .with_for_update(skip_locked=True, of=[col(OutboxJob.id), col(Case.id)])
    )
    while (found := session.exec(query).first()) is not None:
        job, referral = found
        reason = referrals_service.undeliverable_reason(session=session, referral=referral)
        if reason is None:
            job.locked_until = now + lease
            job.locked_by = worker_id
            session.add(job)
            break
        job.status = CANCELLED
        job.cancel_reason = reason
        session.add(job)
        session.flush()
    # A deliberate commit in a service: the lease must be visible to other workers before
    # this one goes to the network (and on SQLite the write lock must not be held there).
    session.commit()
    return found[0] if found is not None else None


# Preparing and sending --------------------------------------------------------------------


def _email(
    settings: Settings, recipient: str, reference: str, key: str, now: datetime
) -> EmailMessage:
    # Nothing about the case goes by e-mail: the reference and a link to sign in, only.
    language = DEFAULT_LANGUAGE
    link = export.console_url(settings.public_url, reference)
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = recipient
    message["Subject"] = translate(
        N_("Portline: new referral {reference}"), language, {"reference": reference}
    )
    message["Date"] = format_datetime(now)
    # The same notice sent twice (a worker killed mid-delivery) keeps its Message-ID.
    message["Message-ID"] = f"<{key}@{settings.mail_from.rpartition('@')[2]}>"
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(
        "\n\n".join(
            (
                translate(
                    N_(
                        "A case has been referred to your organisation under reference {reference}."
                    ),
                    language,
                    {"reference": reference},
                ),
                translate(N_("Sign in to Portline to read it: {link}"), language, {"link": link}),
                translate(
                    N_(
                        "This notice carries no case content: nothing about the case goes by e-mail."
                    ),
                    language,
                ),
            )
        )
        + "\n"
    )
    return message


def prepare(
    *, session: Session, keyring: KeyRing, settings: Settings, job: OutboxJob, now: datetime
) -> Notice:
    """What to send for ``job``, to the body's current address. Raises
    :class:`DeliveryFailed` when the body has no address or secret for the channel."""
    referral = session.get(Referral, job.referral_id)
    body = session.get(Body, referral.body_id) if referral else None
    if referral is None or body is None:
        raise DeliveryFailed("the referral or its body no longer exists")
    if job.channel == EMAIL:
        if not body.notification_email:
            raise DeliveryFailed("the body has no notification e-mail address")
        return EmailNotice(
            _email(settings, body.notification_email, referral.reference, job.idempotency_key, now)
        )
    if job.channel == WEBHOOK:
        if not body.webhook_url:
            raise DeliveryFailed("the body has no webhook URL")
        secret = agencies_service.webhook_secret(session=session, keyring=keyring, body=body)
        if not secret:
            raise DeliveryFailed("the body has no webhook secret; nothing is sent unsigned")
        document = export.referral_document(
            session=session, keyring=keyring, referral=referral, public_url=settings.public_url
        )
        return WebhookNotice(
            url=body.webhook_url,
            payload=json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode(),
            secret=secret.encode(),
            idempotency_key=job.idempotency_key,
        )
    raise DeliveryFailed(f"unknown channel {job.channel!r}")


def signature(secret: bytes, timestamp: str, payload: bytes) -> str:
    """The ``X-Portline-Signature`` value: HMAC-SHA256 over ``{timestamp}.{raw body}``."""
    digest = hmac.new(secret, timestamp.encode() + b"." + payload, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def webhook_client(settings: Settings) -> httpx.Client:
    """An HTTP client for webhook calls, made once per worker: building the TLS context
    costs more than a call. No connection is kept alive between calls, so a body that
    drops idle connections never turns a good notice into a failure."""
    return httpx.Client(
        timeout=settings.delivery_timeout_seconds,
        follow_redirects=False,
        limits=httpx.Limits(max_keepalive_connections=0),
    )


def deliver(notice: Notice, *, settings: Settings, client: httpx.Client | None = None) -> None:
    """Send one notice; raises :class:`DeliveryFailed` unless the server took it (SMTP
    accepted the message; the webhook answered 2xx within the timeout)."""
    if isinstance(notice, EmailNotice):
        send_email(notice.message, settings)
    elif client is not None:
        _post_webhook(notice, settings, client)
    else:
        with webhook_client(settings) as own_client:
            _post_webhook(notice, settings, own_client)


def send_email(message: EmailMessage, settings: Settings) -> None:
    if not settings.smtp_host:
        raise DeliveryFailed("no SMTP server is configured (PORTLINE_SMTP_HOST)")
    try:
        with smtplib.SMTP(
            settings.smtp_host, settings.smtp_port, timeout=settings.delivery_timeout_seconds
        ) as smtp:
            if settings.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.smtp_user:
                smtp.login(settings.smtp_user, settings.smtp_password.get_secret_value())
            smtp.send_message(message)
    except smtplib.SMTPRecipientsRefused:
        raise DeliveryFailed("SMTP: the recipient was refused") from None
    except smtplib.SMTPResponseException as error:
        raise DeliveryFailed(f"SMTP: the server answered {error.smtp_code}") from None
    except TimeoutError:
        raise DeliveryFailed(
            f"SMTP: no answer within {settings.delivery_timeout_seconds:g} s"
        ) from None
    except (smtplib.SMTPException, OSError) as error:
        raise DeliveryFailed(f"SMTP: {type(error).__name__}") from None


def _post_webhook(notice: WebhookNotice, settings: Settings, client: httpx.Client) -> None:
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Portline-Webhook/1",
        "X-Portline-Timestamp": timestamp,
        "X-Portline-Signature": signature(notice.secret, timestamp, notice.payload),
        "Idempotency-Key": notice.idempotency_key,
    }
    try:
        response = client.post(notice.url, content=notice.payload, headers=headers)
    except httpx.TimeoutException:
        raise DeliveryFailed(
            f"webhook: no answer within {settings.delivery_timeout_seconds:g} s"
        ) from None
    except httpx.HTTPError as error:
        raise DeliveryFailed(f"webhook: {type(error).__name__}") from None
    if not response.is_success:
        raise DeliveryFailed(f"webhook: the server answered {response.status_code}")


# Recording the outcome --------------------------------------------------------------------


def record_delivered(*, session: Session, job_id: int, now: datetime) -> None:
    job = session.get(OutboxJob, job_id, with_for_update=True, populate_existing=True)
    if job is None or job.status == DELIVERED:
        return
    job.status = DELIVERED
    job.attempts += 1
    job.delivered_at = now
    job.locked_until = None
    job.last_error = ""
    session.add(job)
    session.flush()


def record_failure(
    *,
    session: Session,
    job_id: int,
    worker_id: str,
    error: str,
    now: datetime,
    settings: Settings,
) -> None:
    """Count the failed attempt and schedule the next, or mark the notice failed after the
    last. Ignored when the lease has passed to another worker: that one records."""
    job = session.get(OutboxJob, job_id, with_for_update=True, populate_existing=True)
    if job is None or job.status != PENDING or job.locked_by != worker_id:
        return
    job.attempts += 1
    job.last_error = error[:ERROR_LENGTH]
    job.locked_until = None
    if job.attempts >= settings.outbox_max_attempts:
        job.status = FAILED
    else:
        job.next_attempt_at = now + backoff_delay(
            job.attempts,
            base=settings.outbox_backoff_base_seconds,
            cap=settings.outbox_backoff_cap_seconds,
        )
    session.add(job)
    session.flush()
