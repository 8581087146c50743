"""One jobs module for everything ``portline worker`` does in the background: queue a job
once (:func:`enqueue`), lease the next due one (:func:`take`), record how it went
(:func:`finish`, :func:`fail` with backoff), and fire recurring schedules once per period
(:func:`fire_schedules`), however many workers run.

Why our own and not a library: what we need is a table in the database the app already
has, on SQLite and PostgreSQL alike, without a broker to install, secure and back up;
job queues that run without a broker (procrastinate, pgqueuer...) are PostgreSQL-only,
and those that run on both need a broker (Celery, Dramatiq, RQ need Redis or RabbitMQ).
The rules here are few and the referral outbox already proved them: a lease
(``locked_until``) taken with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL and inside SQLite's
``BEGIN IMMEDIATE`` write transaction, committed before the work starts; a worker killed
mid-job leaves the lease to run out; exponential backoff with full jitter.

The referral outbox (api/referrals/outbox.py) keeps its own table, since each notice
belongs to a referral and carries the idempotency key the body sees, but takes, backs off
and records with the same rules, from here."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, or_
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from api.config import Settings
from api.crypto import KeyRing
from api.jobs.models import Job, Schedule


@dataclass(frozen=True)
class JobRun:
    """What a job's handler works with: its transaction, the keys, the settings, the time."""

    session: Session
    keyring: KeyRing
    settings: Settings
    now: datetime


def case_subject(case_id: int) -> str:
    """The subject of the jobs about a case, so that they go with it."""
    return f"case:{case_id}"


PENDING = "pending"
DONE = "done"
FAILED = "failed"
CANCELLED = "cancelled"

ERROR_LENGTH = 200
_random = secrets.SystemRandom()


def backoff_delay(attempts: int, *, base: float, cap: float) -> timedelta:
    """Exponential backoff with full jitter: anywhere from 0 to ``base * 2^(attempts-1)``,
    at most ``cap``, so workers that failed together do not come back together."""
    ceiling = min(cap, base * 2.0 ** min(attempts - 1, 64))
    return timedelta(seconds=_random.uniform(0, ceiling))


def lease_free(locked_until: Any, now: datetime) -> ColumnElement[bool]:
    """Not leased, or leased to a worker whose lease has run out."""
    return or_(col(locked_until).is_(None), col(locked_until) <= now)


# Queueing -----------------------------------------------------------------------------------


def enqueue(
    *,
    session: Session,
    kind: str,
    once_key: str,
    run_at: datetime,
    now: datetime,
    payload: dict[str, Any] | None = None,
    subject: str = "",
) -> bool:
    """Queue a job unless one with ``once_key`` was ever queued; whether this call did.
    One statement (insert, or nothing on conflict), so two callers at once queue it once."""
    values = {
        "kind": kind,
        "once_key": once_key,
        "payload": payload or {},
        "subject": subject,
        "status": PENDING,
        "run_at": run_at,
        "attempts": 0,
        "locked_by": "",
        "last_error": "",
        "created_at": now,
    }
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(Job)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["once_key"])
        .returning(col(Job.id))
    )
    return session.execute(statement).first() is not None


def cancel(*, session: Session, subject: str, but: int | None = None) -> int:
    """Cancel the jobs about ``subject`` that have not run (all ``but`` the job doing the
    cancelling); how many."""
    query = select(Job).where(Job.subject == subject, col(Job.status).in_([PENDING, FAILED]))
    if but is not None:
        query = query.where(Job.id != but)
    jobs = session.exec(query.with_for_update()).all()
    for job in jobs:
        job.status = CANCELLED
        job.locked_until = None
        session.add(job)
    session.flush()
    return len(jobs)


# Taking and recording -----------------------------------------------------------------------


def take(
    *,
    session: Session,
    worker_id: str,
    now: datetime,
    lease: timedelta,
    kinds: Sequence[str] | None = None,
) -> Job | None:
    """Lease the next due job to ``worker_id`` until ``now + lease`` and commit, so the
    lease holds before the work starts; ``None`` when nothing is due. Concurrent workers
    skip a job another is taking (``SKIP LOCKED``; SQLite writes one at a time)."""
    query = (
        select(Job)
        .where(Job.status == PENDING, col(Job.run_at) <= now, lease_free(Job.locked_until, now))
        .order_by(col(Job.run_at), col(Job.id))
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    if kinds is not None:
        query = query.where(col(Job.kind).in_(kinds))
    job = session.exec(query).first()
    if job is not None:
        job.locked_until = now + lease
        job.locked_by = worker_id
        session.add(job)
    # A deliberate commit in a service: the lease must be seen by other workers before
    # this one starts (and on SQLite the write lock must not be held during the work).
    session.commit()
    return job


def _leased(session: Session, job_id: int, worker_id: str) -> Job | None:
    """The job, locked, if ``worker_id`` still holds its lease (else another took it)."""
    job = session.get(Job, job_id, with_for_update=True, populate_existing=True)
    if job is None or job.status != PENDING or job.locked_by != worker_id:
        return None
    return job


def finish(*, session: Session, job_id: int, worker_id: str, now: datetime) -> bool:
    """Mark the job done, in the transaction of its work: both land, or neither. False
    when the lease passed to another worker (this one's work must then roll back)."""
    job = _leased(session, job_id, worker_id)
    if job is None:
        return False
    job.status = DONE
    job.attempts += 1
    job.finished_at = now
    job.locked_until = None
    job.last_error = ""
    session.add(job)
    session.flush()
    return True


def fail(
    *,
    session: Session,
    job_id: int,
    worker_id: str,
    error: str,
    now: datetime,
    max_attempts: int,
    base: float,
    cap: float,
) -> None:
    """Count the failed attempt and schedule the next with backoff, or mark the job failed
    after the last. Ignored when the lease has passed to another worker."""
    job = _leased(session, job_id, worker_id)
    if job is None:
        return
    job.attempts += 1
    job.last_error = error[:ERROR_LENGTH]
    job.locked_until = None
    if job.attempts >= max_attempts:
        job.status = FAILED
        job.finished_at = now
    else:
        job.run_at = now + backoff_delay(job.attempts, base=base, cap=cap)
    session.add(job)
    session.flush()


# Schedules ----------------------------------------------------------------------------------


def ensure_schedule(*, session: Session, kind: str, every: timedelta, now: datetime) -> None:
    """A schedule of ``kind`` every ``every``, first due now; one that exists keeps its
    next time and takes the new period."""
    seconds = max(1, int(every.total_seconds()))
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(Schedule).values(kind=kind, every_seconds=seconds, next_run_at=now)
    session.execute(
        statement.on_conflict_do_update(index_elements=["kind"], set_={"every_seconds": seconds})
    )
    session.flush()


def fire_schedules(*, session: Session, now: datetime) -> list[str]:
    """Queue the job of every schedule that is due, once for its period, and move the
    schedule on past ``now`` (periods missed while no worker ran are not made up: one job
    does their work). Commits. Returns the once-keys queued by this call."""
    due = session.exec(
        select(Schedule)
        .where(col(Schedule.next_run_at) <= now)
        .order_by(col(Schedule.kind))
        .with_for_update(skip_locked=True)
    ).all()
    queued: list[str] = []
    for schedule in due:
        period = timedelta(seconds=schedule.every_seconds)
        once_key = f"{schedule.kind}@{schedule.next_run_at.isoformat()}"
        if enqueue(
            session=session,
            kind=schedule.kind,
            once_key=once_key,
            run_at=schedule.next_run_at,
            now=now,
        ):
            queued.append(once_key)
        missed = (now - schedule.next_run_at) // period
        schedule.next_run_at = schedule.next_run_at + (missed + 1) * period
        session.add(schedule)
    session.commit()
    return queued
