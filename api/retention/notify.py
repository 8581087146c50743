"""Telling a receiving body that a referral to it was purged: one signed ``referral.purged``
event to its webhook, queued by the purge in its own transaction (api/retention/purge.py)
and sent by ``portline worker`` as a job of the jobs module.

The event carries the referral's reference and why, nothing else: the case is gone. It is
signed and sent as a referral's webhook notice is (api/referrals/outbox.py), with the job's
once-key as its ``Idempotency-Key``, so a body that gets it twice (a worker killed after the
call, before its commit) can tell. A failed call raises, and the worker backs off and
tries again."""

from __future__ import annotations

import json
from datetime import datetime

from sqlmodel import Session

from api.agencies import service as agencies_service
from api.agencies.models import Body
from api.jobs import service as jobs
from api.jobs.models import Job
from api.referrals import outbox

REFERRAL_PURGED = "referral.purged"
REASON = "retention"


def once_key(reference: str) -> str:
    return f"{REFERRAL_PURGED}:{reference}"


def enqueue(*, session: Session, body: Body, reference: str, now: datetime) -> bool:
    """Queue the event for a body that has a webhook; whether one was queued."""
    if not body.webhook_url or body.id is None:
        return False
    return jobs.enqueue(
        session=session,
        kind=REFERRAL_PURGED,
        once_key=once_key(reference),
        run_at=now,
        now=now,
        payload={"body_id": body.id, "reference": reference},
        subject="",
    )


def event_payload(reference: str) -> bytes:
    document = {"event": REFERRAL_PURGED, "reference": reference, "reason": REASON}
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def send_referral_purged(run: jobs.JobRun, job: Job) -> None:
    """POST the event to the body's current webhook; raises unless it answered 2xx. A body
    that has no webhook or secret any more gets nothing (nothing is sent unsigned)."""
    body = run.session.get(Body, int(job.payload["body_id"]))
    if body is None or not body.webhook_url:
        return
    secret = agencies_service.webhook_secret(session=run.session, keyring=run.keyring, body=body)
    if not secret:
        raise outbox.DeliveryFailed("the body has no webhook secret; nothing is sent unsigned")
    notice = outbox.WebhookNotice(
        url=body.webhook_url,
        payload=event_payload(str(job.payload["reference"])),
        secret=secret.encode(),
        idempotency_key=job.once_key,
    )
    # The reading transaction ends before the body is called: on SQLite it holds the
    # writer's lock, which no one should wait on while a body's server takes its time.
    run.session.commit()
    outbox.deliver(notice, settings=run.settings)
