"""Retention on the jobs worker: the sweep queues a purge for each closed case past its
port's retention, the purge erases it and cancels the case's other waiting work, and a
purge that dies before its commit leaves the case whole and the job to be done again."""

from __future__ import annotations

import signal
import sqlite3
import threading
from contextlib import closing
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, text
from sqlmodel import Session, select

from api import worker
from api.audit.models import AuditEntry
from api.cases.models import Case
from api.crypto import KeyRing
from api.db import utcnow
from api.jobs import service as jobs
from api.jobs.models import Job
from api.reports.models import Report
from api.retention import jobs as retention
from api.retention.purge import PURGED, purge_case
from tests import test_purge
from tests.databases import ON_POSTGRES
from tests.referrals.test_worker import wait_until, worker_environment, worker_process
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


@pytest.mark.skipif(not ON_POSTGRES, reason="holds PostgreSQL's audit lock to stop the purge")
def test_a_worker_killed_mid_purge_leaves_the_case_whole(
    live_app: tuple[TestClient, Engine], tmp_path: Path
) -> None:
    client, engine = live_app
    keyring: KeyRing = client.app.state.keyring  # type: ignore[attr-defined]
    settings = client.app.state.settings  # type: ignore[attr-defined]
    triage = _live_triage(client, engine)
    case_id = _closed_long_ago(triage, engine)
    now = utcnow()
    with Session(engine) as session:
        jobs.ensure_schedule(
            session=session, kind=retention.SWEEP, every=timedelta(hours=1), now=now
        )
        session.commit()
        jobs.fire_schedules(session=session, now=now)
    assert worker.work_one_job(
        engine=engine, keyring=keyring, settings=settings, worker_id="w", clock=lambda: now
    )  # the sweep: one purge job is waiting
    reports_before = _reports_of(engine, case_id)
    environment = worker_environment(
        engine.url.render_as_string(hide_password=False), settings, tmp_path
    )
    with engine.connect() as holder:
        # The purge records itself in the audit log last, after every delete, under this
        # lock: held here, the worker stops there, its deletes made and not committed.
        holder.execute(text("SELECT pg_advisory_xact_lock(7422419)"))
        with worker_process(environment, tmp_path / "worker.log") as process:
            wait_until(lambda: _waiting_on_the_audit_lock(engine), "the purge to wait")
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
        holder.rollback()
    assert _reports_of(engine, case_id) == reports_before  # whole, never half
    with Session(engine) as session:
        assert session.get(Case, case_id) is not None
        purge = session.exec(select(Job).where(Job.kind == retention.PURGE)).one()
        assert purge.status == "pending" and purge.locked_until is not None
    # Once the dead worker's lease has run out, another worker purges the case.
    later = now + timedelta(seconds=settings.job_lease_seconds + 60)
    assert worker.work_one_job(
        engine=engine, keyring=keyring, settings=settings, worker_id="w2", clock=lambda: later
    )
    assert _reports_of(engine, case_id) == 0


def _reports_of(engine: Engine, case_id: int) -> int:
    with Session(engine) as session:
        return session.exec(
            select(func.count()).select_from(Report).where(Report.case_id == case_id)
        ).one()


def _waiting_on_the_audit_lock(engine: Engine) -> bool:
    with engine.connect() as connection:
        waiting = connection.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND query LIKE '%pg_advisory_xact_lock%' AND pid <> pg_backend_pid() "
                "AND datname = current_database()"
            )
        ).scalar_one()
    return bool(waiting)


def test_a_full_sweep_queues_the_next_one_soon(
    live_app: tuple[TestClient, Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, engine = live_app
    keyring: KeyRing = client.app.state.keyring  # type: ignore[attr-defined]
    settings = client.app.state.settings  # type: ignore[attr-defined]
    triage = _live_triage(client, engine)
    for _ in range(3):
        _closed_long_ago(triage, engine)
    monkeypatch.setattr(retention, "SWEEP_BATCH", 2)
    now = utcnow()
    with Session(engine) as session:
        jobs.ensure_schedule(
            session=session, kind=retention.SWEEP, every=timedelta(hours=1), now=now
        )
        session.commit()
        jobs.fire_schedules(session=session, now=now)
    while worker.work_one_job(
        engine=engine, keyring=keyring, settings=settings, worker_id="w", clock=lambda: now
    ):
        pass
    later = now + retention.FOLLOW_UP
    while worker.work_one_job(
        engine=engine, keyring=keyring, settings=settings, worker_id="w", clock=lambda: later
    ):
        pass
    with Session(engine) as session:
        sweeps = session.exec(select(Job).where(Job.kind == retention.SWEEP)).all()
        purges = session.exec(select(Job).where(Job.kind == retention.PURGE)).all()
        left = session.exec(select(func.count()).select_from(Case)).one()
    # Two cases at the first sweep, the third at the follow-up an instant later, not in an hour.
    assert len(sweeps) == 2 and len(purges) == 3 and all(job.status == "done" for job in purges)
    assert left == 0


def test_a_worker_killed_while_it_purges_leaves_each_case_whole_or_gone(
    live_app: tuple[TestClient, Engine], tmp_path: Path
) -> None:
    """On either database: kill -9 the worker at whatever point of whatever purge it is
    in; every case is then either all there or all gone."""
    client, engine = live_app
    settings = client.app.state.settings  # type: ignore[attr-defined]
    triage = _live_triage(client, engine)
    cases = {
        case_id: _reports_of(engine, case_id)
        for case_id in (_closed_long_ago(triage, engine) for _ in range(120))
    }
    environment = worker_environment(
        engine.url.render_as_string(hide_password=False), settings, tmp_path
    )

    def purged() -> int:
        ids = ",".join(str(case_id) for case_id in cases)
        count = f'SELECT count(*) FROM "case" WHERE id IN ({ids})'
        if ON_POSTGRES:
            with engine.connect() as connection:
                left = connection.execute(text(count)).scalar_one()
        else:
            # A plain reader: the app's connections take SQLite's writer lock for every
            # transaction, and the worker holds it while it purges.
            database = engine.url.database or ""
            with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as reader:
                left = reader.execute(count).fetchone()[0]
        return len(cases) - int(left)

    with worker_process(environment, tmp_path / "worker.log") as process:
        wait_until(lambda: purged() >= 1, "the first purge", timeout=60)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    gone = purged()
    assert 1 <= gone < len(cases), gone  # killed while purging, not before, not after
    for case_id, reports in cases.items():
        with Session(engine) as session:
            there = session.get(Case, case_id) is not None
        assert _reports_of(engine, case_id) == (reports if there else 0), case_id
