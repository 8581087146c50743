"""Retention on the jobs worker: the sweep queues a purge for each closed case past its
port's retention, the purge erases it and cancels the case's other waiting work, and a
purge that dies before its commit leaves the case whole and the job to be done again."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from api import worker
from api.audit.models import AuditEntry
from api.cases.models import Case
from api.crypto import KeyRing
from api.db import utcnow
from api.jobs import service as jobs
from api.jobs.models import Job
from api.retention import jobs as retention
from api.retention.purge import PURGED, purge_case
from tests import test_purge
from tests.test_purge import Triage, _live_triage

# The app on a database of its own, where requests and purges commit.
live_app = test_purge.live_app


def _closed_long_ago(triage: Triage, engine: Engine) -> int:
    """A case acknowledged and closed 400 days ago: past the default 365 days."""
    case_id = triage.case_of(triage.send(files=False)["reference"])
    triage.do("POST", f"/{case_id}/acknowledge")
    triage.close(case_id)
    with Session(engine) as session:
        case = session.get(Case, case_id)
        assert case is not None and case.closed_at is not None
        case.closed_at -= timedelta(days=400)
        session.add(case)
        session.commit()
    return case_id


def _run_once(client: TestClient, engine: Engine, tmp_path: Path) -> None:
    keyring: KeyRing = client.app.state.keyring  # type: ignore[attr-defined]
    settings = client.app.state.settings  # type: ignore[attr-defined]
    worker.run(engine=engine, keyring=keyring, settings=settings, stop=threading.Event(), once=True)


def test_the_sweep_purges_what_is_due_and_cancels_the_cases_other_work(
    live_app: tuple[TestClient, Engine],
    tmp_path: Path,
) -> None:
    client, engine = live_app
    triage = _live_triage(client, engine)
    due = _closed_long_ago(triage, engine)
    kept = triage.case_of(triage.send(files=False)["reference"])  # open: never purged
    with Session(engine) as session:
        # Work still waiting for the case (a reminder, say) is cancelled with it.
        jobs.enqueue(
            session=session,
            kind="test.reminder",
            once_key="reminder-of-the-due-case",
            run_at=utcnow() + timedelta(days=1),
            now=utcnow(),
            subject=retention.case_subject(due),
        )
        session.commit()
    _run_once(client, engine, tmp_path)
    with Session(engine) as session:
        assert session.get(Case, due) is None
        assert session.get(Case, kept) is not None
        kinds = {job.kind: job.status for job in session.exec(select(Job))}
        assert kinds[retention.SWEEP] == "done" and kinds[retention.PURGE] == "done"
        assert kinds["test.reminder"] == "cancelled"
        assert session.exec(select(AuditEntry).where(AuditEntry.action == PURGED)).one()
    # Nothing is due any more: a second round purges nothing and queues nothing new.
    _run_once(client, engine, tmp_path)
    with Session(engine) as session:
        purges = session.exec(select(Job).where(Job.kind == retention.PURGE)).all()
        assert len(purges) == 1


def test_a_purge_that_dies_before_its_commit_leaves_the_case_whole(
    live_app: tuple[TestClient, Engine],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client, engine = live_app
    keyring: KeyRing = client.app.state.keyring  # type: ignore[attr-defined]
    settings = client.app.state.settings  # type: ignore[attr-defined]
    triage = _live_triage(client, engine)
    case_id = _closed_long_ago(triage, engine)
    real_purge = purge_case

    def purge_then_die(**arguments: object) -> object:
        real_purge(**arguments)  # type: ignore[arg-type]
        raise RuntimeError("killed before the commit")

    monkeypatch.setattr(retention, "purge_case", purge_then_die)
    now = utcnow()
    with Session(engine) as session:
        jobs.ensure_schedule(
            session=session, kind=retention.SWEEP, every=timedelta(hours=1), now=now
        )
        session.commit()
        jobs.fire_schedules(session=session, now=now)
    for _ in range(2):  # the sweep, then the purge that dies
        assert worker.work_one_job(
            engine=engine, keyring=keyring, settings=settings, worker_id="w", clock=lambda: now
        )
    with Session(engine) as session:
        assert session.get(Case, case_id) is not None  # whole: the purge rolled back
        purge = session.exec(select(Job).where(Job.kind == retention.PURGE)).one()
        assert (purge.status, purge.attempts, purge.last_error) == ("pending", 1, "RuntimeError")
    monkeypatch.setattr(retention, "purge_case", real_purge)
    later = now + timedelta(days=1)
    assert worker.work_one_job(
        engine=engine, keyring=keyring, settings=settings, worker_id="w", clock=lambda: later
    )
    with Session(engine) as session:
        assert session.get(Case, case_id) is None
