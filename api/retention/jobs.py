"""Retention as background work: a recurring sweep queues one purge job per closed case
whose time has come, and each purge job erases its case in one transaction (the job is
marked done in the same one, so a worker killed mid-purge leaves the case whole and the
job to be taken again)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from api.config import Settings
from api.crypto import KeyRing
from api.jobs import service as jobs
from api.jobs.models import Job
from api.retention import policy
from api.retention.purge import purge_case

SWEEP = "retention.sweep"
PURGE = "retention.purge"
# Cases queued for purging per sweep; the next sweep queues the next ones.
SWEEP_BATCH = 500


@dataclass(frozen=True)
class JobRun:
    """What a job's handler works with: its transaction, the keys, the settings, the time."""

    session: Session
    keyring: KeyRing
    settings: Settings
    now: datetime


def case_subject(case_id: int) -> str:
    return f"case:{case_id}"


def sweep(run: JobRun, job: Job) -> None:
    """Queue a purge for each closed case past its retention and not on hold, once per
    sweep (a case held when its purge ran, then released, is queued by a later sweep)."""
    for case_id in policy.purgeable(session=run.session, now=run.now, limit=SWEEP_BATCH):
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
