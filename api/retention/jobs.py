"""Retention as background work: a recurring sweep queues one purge job per closed case
whose time has come, and each purge job erases its case in one transaction (the job is
marked done in the same one, so a worker killed mid-purge leaves the case whole and the
job to be taken again)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import String, cast, exists, literal
from sqlmodel import col

from api.cases.models import Case
from api.jobs import service as jobs
from api.jobs.models import Job
from api.jobs.service import JobRun as JobRun  # the handlers' context, for this module's users
from api.jobs.service import case_subject as case_subject
from api.retention import policy
from api.retention.purge import purge_case

SWEEP = "retention.sweep"
PURGE = "retention.purge"
# Cases queued for purging per sweep; the next sweep queues the next ones.
SWEEP_BATCH = 500
# When a sweep found a full batch, the next one comes this much later: at once, since it
# passes over the cases whose purge is already queued.
FOLLOW_UP = timedelta(0)


def sweep(run: JobRun, job: Job) -> None:
    """Queue a purge for each closed case past its retention and not on hold, once per
    sweep (a case held when its purge ran, then released, is queued by a later sweep)."""
    queued = exists().where(
        col(Job.kind) == PURGE,
        col(Job.status) == jobs.PENDING,
        col(Job.subject) == literal("case:") + cast(col(Case.id), String),
    )
    due = policy.purgeable(session=run.session, now=run.now, limit=SWEEP_BATCH, also=[~queued])
    if len(due) == SWEEP_BATCH:
        # More are due than one sweep queues: another sweep follows at once rather than in
        # an hour, so a backlog drains at the workers' pace.
        jobs.enqueue(
            session=run.session,
            kind=SWEEP,
            once_key=f"{job.once_key}+",
            run_at=run.now + FOLLOW_UP,
            now=run.now,
        )
    for case_id in due:
        jobs.enqueue(
            session=run.session,
            kind=PURGE,
            once_key=f"{PURGE}:{case_id}@{job.once_key}",
            run_at=run.now,
            now=run.now,
            payload={"case_id": case_id},
            subject=case_subject(case_id),
        )


def purge(run: JobRun, job: Job) -> None:
    """Erase one case (nothing, if it was put on hold or reopened since it was queued),
    and cancel the other work still waiting for it."""
    case_id = int(job.payload["case_id"])
    if purge_case(session=run.session, keyring=run.keyring, case_id=case_id, now=run.now):
        jobs.cancel(session=run.session, subject=case_subject(case_id), but=job.id)
