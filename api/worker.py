"""``portline worker``: every kind of background work, in one loop. Each round it fires
the recurring schedules that are due (once per period, however many workers run), then
delivers one due referral notice (api/referrals/worker.py) and works one due job
(api/jobs/): a retention sweep, a purge, a body's purge event, a reminders sweep, a
reminder. It sleeps when there was nothing to do. Any number of workers may run side by
side, on as many machines as share the database."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from api import reminders
from api.config import Settings
from api.crypto import KeyRing
from api.db import utcnow
from api.jobs import service as jobs
from api.jobs.models import Job
from api.referrals import outbox
from api.referrals import worker as notices
from api.retention import jobs as retention
from api.retention import notify
from api.retention.purge import reclaim_space

logger = logging.getLogger("portline.worker")

Handler = Callable[[jobs.JobRun, Job], None]

# What each kind of job does.
HANDLERS: Mapping[str, Handler] = {
    retention.SWEEP: retention.sweep,
    retention.PURGE: retention.purge,
    notify.REFERRAL_PURGED: notify.send_referral_purged,
    reminders.SWEEP: reminders.sweep,
    reminders.SEND: reminders.send,
}


def schedules(settings: Settings) -> dict[str, timedelta]:
    """The recurring jobs and their periods."""
    return {
        retention.SWEEP: timedelta(seconds=settings.retention_sweep_seconds),
        reminders.SWEEP: timedelta(seconds=settings.reminder_sweep_seconds),
    }


def work_one_job(
    *,
    engine: Engine,
    keyring: KeyRing,
    settings: Settings,
    worker_id: str,
    clock: Callable[[], datetime] = utcnow,
) -> bool:
    """Take one due job, do it and mark it done in the same transaction; on an error,
    roll the work back and count a failed attempt. ``False`` when no job is due."""
    with Session(engine, expire_on_commit=False) as session:
        job = jobs.take(
            session=session,
            worker_id=worker_id,
            now=clock(),
            lease=timedelta(seconds=settings.job_lease_seconds),
            kinds=list(HANDLERS),
        )
    if job is None or job.id is None:
        return False
    try:
        with Session(engine, expire_on_commit=False) as session:
            HANDLERS[job.kind](jobs.JobRun(session, keyring, settings, clock()), job)
            if jobs.finish(session=session, job_id=job.id, worker_id=worker_id, now=clock()):
                session.commit()
                logger.info("job %s (%s) done", job.id, job.kind)
            else:
                session.rollback()
                logger.warning(
                    "job %s (%s) was cancelled or passed to another worker", job.id, job.kind
                )
    except Exception as error:
        # A mail server that refused, a bug, a database error: nothing of the job's work is
        # kept, and it is tried again with backoff.
        if isinstance(error, outbox.DeliveryFailed):
            logger.warning("job %s (%s) not delivered: %s", job.id, job.kind, error)
        else:
            logger.exception("job %s (%s) failed", job.id, job.kind)
        with Session(engine, expire_on_commit=False) as session:
            jobs.fail(
                session=session,
                job_id=job.id,
                worker_id=worker_id,
                error=str(error)
                if isinstance(error, outbox.DeliveryFailed)
                else type(error).__name__,
                now=clock(),
                max_attempts=settings.job_max_attempts,
                base=settings.outbox_backoff_base_seconds,
                cap=settings.outbox_backoff_cap_seconds,
            )
            session.commit()
        return True
    if job.kind == retention.PURGE:
        reclaim_space(engine)
    return True


def _fire(engine: Engine, now: datetime) -> None:
    with Session(engine, expire_on_commit=False) as session:
        for once_key in jobs.fire_schedules(session=session, now=now):
            logger.info("queued %s", once_key)


def run(
    *,
    engine: Engine,
    keyring: KeyRing,
    settings: Settings,
    stop: threading.Event,
    once: bool = False,
    worker_id: str | None = None,
) -> int:
    """Work until ``stop`` is set (the notice or job in hand is finished first) or, with
    ``once``, until nothing is due. Returns how many notices and jobs were attempted."""
    name = worker_id or notices.new_worker_id()
    logger.info("worker %s started", name)
    with Session(engine, expire_on_commit=False) as session:
        for kind, every in schedules(settings).items():
            jobs.ensure_schedule(session=session, kind=kind, every=every, now=utcnow())
        session.commit()
    notices_sent = jobs_done = 0
    with outbox.webhook_client(settings) as client:
        while not stop.is_set():
            try:
                _fire(engine, utcnow())
                notice = notices.work_one(
                    engine=engine, keyring=keyring, settings=settings, worker_id=name, client=client
                )
                job = work_one_job(
                    engine=engine, keyring=keyring, settings=settings, worker_id=name
                )
            except OperationalError as error:
                if once:
                    raise
                # The database is away (a restart, a failover): wait and look again.
                logger.warning("worker %s cannot reach the database: %s", name, error.orig)
                notice = job = False
            notices_sent += notice
            jobs_done += job
            if notice or job:
                continue
            if once:
                break
            stop.wait(settings.worker_poll_seconds)
    logger.info("worker %s stopped after %d notices and %d jobs", name, notices_sent, jobs_done)
    return notices_sent + jobs_done
