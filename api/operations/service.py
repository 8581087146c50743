"""What the operations endpoints read from the database: whether this process can serve
(``/readyz``), and the queue gauges of ``/metrics``, computed at each scrape with one
aggregate query for the jobs and one for the deliveries."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from functools import cache

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from sqlalchemy import func, text
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, select

from api import migrate
from api.crypto import KeyFileError, KeyRing
from api.jobs import service as jobs_service
from api.jobs.models import Job
from api.keystore import service as keystore_service
from api.operations import metrics
from api.referrals import outbox
from api.referrals.models import OutboxJob
from api.worker import HANDLERS

# The checks of /readyz, as its answer names those that failed.
DATABASE = "database"
MIGRATIONS = "migrations"
KEY = "key"


@cache
def code_heads() -> frozenset[str]:
    """The head revisions of the migrations this process was started with."""
    return frozenset(ScriptDirectory(str(migrate.MIGRATIONS_DIR)).get_heads())


def failed_checks(*, session: Session, keyring: KeyRing) -> list[str]:
    """The checks this process fails, empty when it is ready: the database answers, its
    schema is at this code's head revision, and the key ring opens its key check. When the
    database does not answer, the other two are not tried."""
    try:
        session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        session.rollback()
        return [DATABASE]
    failed = []
    try:
        current = frozenset(MigrationContext.configure(session.connection()).get_current_heads())
    except SQLAlchemyError:
        session.rollback()
        current = frozenset()
    if current != code_heads():
        failed.append(MIGRATIONS)
    try:
        keystore_service.key_check(session, keyring)
    except (KeyFileError, SQLAlchemyError):
        session.rollback()
        failed.append(KEY)
    return failed


class QueueGauges:
    """The database's gauges, read when a scrape collects them: jobs due and waiting for
    a worker (how many, and how long the oldest has waited) per kind, and notices to
    receiving bodies still to deliver and given up on. Each kind the worker knows is
    reported, at zero when none is waiting."""

    def __init__(self, session: Session, now: datetime) -> None:
        self._session = session
        self._now = now

    def collect(self) -> Iterator[Metric]:
        waiting = {
            kind: (count, oldest)
            for kind, count, oldest in self._session.exec(
                select(Job.kind, func.count(), func.min(Job.run_at))
                .where(Job.status == jobs_service.PENDING, col(Job.run_at) <= self._now)
                .group_by(Job.kind)
            )
        }
        queued = GaugeMetricFamily(
            "portline_jobs_queued", "Jobs due and waiting for a worker, by kind.", labels=["kind"]
        )
        oldest_age = GaugeMetricFamily(
            "portline_job_oldest_age_seconds",
            "How long the oldest job due has waited for a worker, by kind; 0 when none.",
            labels=["kind"],
        )
        for kind in sorted(set(HANDLERS) | set(waiting)):
            count, oldest = waiting.get(kind, (0, None))
            queued.add_metric([kind], count)
            age = (self._now - oldest).total_seconds() if oldest is not None else 0.0
            oldest_age.add_metric([kind], max(age, 0.0))
        yield queued
        yield oldest_age

        deliveries = dict(
            self._session.exec(
                select(OutboxJob.status, func.count())
                .where(col(OutboxJob.status).in_([outbox.PENDING, outbox.FAILED]))
                .group_by(OutboxJob.status)
            ).all()
        )
        yield GaugeMetricFamily(
            "portline_deliveries_failed",
            "Notices to receiving bodies given up on after their last attempt.",
            value=deliveries.get(outbox.FAILED, 0),
        )
        yield GaugeMetricFamily(
            "portline_deliveries_pending",
            "Notices to receiving bodies not delivered yet (waiting, or between attempts).",
            value=deliveries.get(outbox.PENDING, 0),
        )


def scrape(*, session: Session, now: datetime) -> bytes:
    """What ``/metrics`` answers: the request metrics and the queue gauges."""
    return metrics.exposition(QueueGauges(session, now))
