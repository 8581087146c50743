"""The jobs module: a job is queued once per key, leased to one worker at a time, retried
with backoff, taken again when its worker dies; a recurring schedule fires once per
period however many workers run (two real worker processes, on SQLite and PostgreSQL)."""

from __future__ import annotations

import signal
import threading
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import ColumnElement, Engine, func
from sqlmodel import Session, col, select

from api.config import Settings
from api.db import utcnow
from api.jobs import service as jobs
from api.jobs.models import Job, Schedule
from api.retention import jobs as retention
from tests.databases import ON_POSTGRES
from tests.referrals.test_worker import wait_until, worker_environment, worker_process

LEASE = timedelta(minutes=5)


def _queue(session: Session, key: str, subject: str = "") -> bool:
    return jobs.enqueue(
        session=session,
        kind="test.kind",
        once_key=key,
        run_at=utcnow(),
        now=utcnow(),
        subject=subject,
    )


def _count(session: Session, *where: ColumnElement[bool] | bool) -> int:
    return session.exec(select(func.count()).select_from(Job).where(*where)).one()


class TestQueueing:
    def test_the_same_key_is_queued_once(self, session: Session) -> None:
        assert _queue(session, "once") is True
        assert _queue(session, "once") is False
        assert _count(session, Job.once_key == "once") == 1

    def test_cancelling_a_subjects_jobs_leaves_others(self, session: Session) -> None:
        _queue(session, "a", subject="case:1")
        _queue(session, "b", subject="case:2")
        assert jobs.cancel(session=session, subject="case:1") == 1
        statuses = dict(session.exec(select(Job.once_key, Job.status)).all())
        assert (statuses["a"], statuses["b"]) == ("cancelled", "pending")


class TestLeases:
    def test_a_leased_job_is_not_taken_again_until_its_lease_runs_out(
        self, live_database: tuple[str, Engine]
    ) -> None:
        _url, engine = live_database
        with Session(engine) as session:
            _queue(session, "leased")
            session.commit()
        now = utcnow()
        with Session(engine, expire_on_commit=False) as session:
            first = jobs.take(session=session, worker_id="one", now=now, lease=LEASE)
        with Session(engine, expire_on_commit=False) as session:
            assert jobs.take(session=session, worker_id="two", now=now, lease=LEASE) is None
        # "one" died: after its lease, "two" takes the job, and "one" can no longer finish it.
        later = now + LEASE + timedelta(seconds=1)
        with Session(engine, expire_on_commit=False) as session:
            second = jobs.take(session=session, worker_id="two", now=later, lease=LEASE)
        assert first is not None and second is not None and first.id == second.id
        with Session(engine) as session:
            assert (
                jobs.finish(session=session, job_id=first.id or 0, worker_id="one", now=later)
                is False
            )
            assert jobs.finish(session=session, job_id=first.id or 0, worker_id="two", now=later)
            session.commit()
            assert session.get(Job, first.id).status == "done"  # type: ignore[union-attr]

    def test_a_failure_backs_off_then_fails_after_the_last_attempt(
        self, live_database: tuple[str, Engine]
    ) -> None:
        _url, engine = live_database
        with Session(engine) as session:
            _queue(session, "flaky")
            session.commit()
        now = utcnow()
        for attempt in (1, 2, 3):
            with Session(engine, expire_on_commit=False) as session:
                job = jobs.take(
                    session=session, worker_id="w", now=now + timedelta(days=attempt), lease=LEASE
                )
            assert job is not None and job.id is not None
            with Session(engine, expire_on_commit=False) as session:
                jobs.fail(
                    session=session,
                    job_id=job.id,
                    worker_id="w",
                    error="boom " * 100,
                    now=now + timedelta(days=attempt),
                    max_attempts=3,
                    base=30,
                    cap=3600,
                )
                session.commit()
                stored = session.get(Job, job.id)
                assert stored is not None
                assert stored.attempts == attempt and len(stored.last_error) == jobs.ERROR_LENGTH
                if attempt < 3:
                    assert stored.status == "pending"
                    assert stored.run_at <= now + timedelta(
                        days=attempt, seconds=30 * 2 ** (attempt - 1)
                    )
                else:
                    assert stored.status == "failed"

    def test_two_workers_at_once_never_take_the_same_job(
        self, live_database: tuple[str, Engine]
    ) -> None:
        _url, engine = live_database
        with Session(engine) as session:
            for number in range(20):
                _queue(session, f"job-{number}")
            session.commit()
        taken: dict[str, list[int]] = {"a": [], "b": []}
        barrier = threading.Barrier(2)

        def work(name: str) -> None:
            barrier.wait()
            while True:
                with Session(engine, expire_on_commit=False) as session:
                    job = jobs.take(session=session, worker_id=name, now=utcnow(), lease=LEASE)
                if job is None:
                    return
                taken[name].append(job.id or 0)
                with Session(engine) as session:
                    assert jobs.finish(
                        session=session, job_id=job.id or 0, worker_id=name, now=utcnow()
                    )
                    session.commit()

        threads = [threading.Thread(target=work, args=(name,)) for name in taken]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        every = taken["a"] + taken["b"]
        assert len(every) == 20 and len(set(every)) == 20


class TestSchedules:
    def test_a_schedule_fires_once_per_period_and_does_not_make_up_missed_ones(
        self, live_database: tuple[str, Engine]
    ) -> None:
        _url, engine = live_database
        start = utcnow()
        with Session(engine) as session:
            jobs.ensure_schedule(
                session=session, kind="test.tick", every=timedelta(hours=1), now=start
            )
            session.commit()
        with Session(engine) as session:
            assert len(jobs.fire_schedules(session=session, now=start)) == 1
        with Session(engine) as session:
            assert jobs.fire_schedules(session=session, now=start + timedelta(minutes=59)) == []
        with Session(engine) as session:
            # A worker that was away for five periods queues one job, not five.
            assert (
                len(jobs.fire_schedules(session=session, now=start + timedelta(hours=5, minutes=1)))
                == 1
            )
        with Session(engine) as session:
            schedule = session.get(Schedule, "test.tick")
            assert schedule is not None and schedule.next_run_at == start + timedelta(hours=6)
            assert _count(session, Job.kind == "test.tick") == 2

    def test_two_workers_firing_together_queue_one_job(
        self, live_database: tuple[str, Engine]
    ) -> None:
        _url, engine = live_database
        start = utcnow()
        with Session(engine) as session:
            jobs.ensure_schedule(
                session=session, kind="test.tick", every=timedelta(hours=1), now=start
            )
            session.commit()
        queued: list[list[str]] = []
        barrier = threading.Barrier(4)

        def fire() -> None:
            barrier.wait()
            with Session(engine) as session:
                queued.append(jobs.fire_schedules(session=session, now=start))

        threads = [threading.Thread(target=fire) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(len(each) for each in queued) == [0, 0, 0, 1]


class TestTwoWorkerProcesses:
    def test_the_retention_sweep_fires_once_per_period_with_two_workers(
        self, live_database: tuple[str, Engine], settings: Settings, tmp_path: Path
    ) -> None:
        url, engine = live_database
        environment = worker_environment(
            url, settings, tmp_path, PORTLINE_RETENTION_SWEEP_SECONDS="1"
        )
        started = time.monotonic()
        with (
            worker_process(environment, tmp_path / "one.log") as one,
            worker_process(environment, tmp_path / "two.log") as two,
        ):

            def sweeps() -> int:
                with Session(engine) as session:
                    return _count(session, Job.kind == retention.SWEEP, Job.status == "done")

            wait_until(lambda: sweeps() >= 4, "four sweeps", timeout=60)
            for process in (one, two):
                process.send_signal(signal.SIGTERM)
            for process in (one, two):
                assert process.wait(timeout=30) == 0
        elapsed = time.monotonic() - started
        logs = (tmp_path / "one.log").read_text() + (tmp_path / "two.log").read_text()
        with Session(engine) as session:
            done = session.exec(
                select(Job).where(Job.kind == retention.SWEEP).order_by(col(Job.run_at))
            ).all()
        # One job per period: never two for the same second, never more than the seconds
        # that passed, each done once; both workers were up and working.
        periods = [job.run_at for job in done]
        assert len(periods) == len(set(periods)), periods
        assert len(done) <= elapsed + 1, (len(done), elapsed)
        assert all(job.attempts <= 1 for job in done), [job.attempts for job in done]
        assert logs.count("started") >= 2, logs
        if ON_POSTGRES:
            assert "cannot reach the database" not in logs
