"""``portline worker`` against a database where work really commits: in this process, and
as separate processes that are killed, stopped and run side by side."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from api.config import Settings
from api.crypto import KeyRing
from api.db import utcnow
from api.referrals import outbox
from api.referrals.models import OutboxJob
from api.referrals.worker import work_one
from tests.referrals.factories import make_body, make_referral
from tests.referrals.receivers import Inbox, WebhookReceiver

ROOT = Path(__file__).resolve().parents[2]


def refer(engine: Engine, keyring: KeyRing, *, count: int = 1, **channels: str) -> list[OutboxJob]:
    """``count`` committed referrals to one new body, and their notices."""
    with Session(engine, expire_on_commit=False) as session:
        body = make_body(session, keyring, **channels)
        referrals = [make_referral(session, keyring, body=body, now=utcnow()) for _ in range(count)]
        session.commit()
        return [
            job
            for referral in referrals
            for job in outbox.deliveries(session=session, referral_id=referral.id or 0)
        ]


def at(moment: datetime) -> Callable[[], datetime]:
    """A clock stopped at ``moment``."""
    return lambda: moment


def jobs(engine: Engine) -> list[OutboxJob]:
    with Session(engine) as session:
        return list(session.exec(select(OutboxJob).order_by(col(OutboxJob.id))))


def worker_environment(
    url: str, settings: Settings, tmp_path: Path, **extra: str
) -> dict[str, str]:
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith("PORTLINE_")
    }
    environment.update(
        {
            "PORTLINE_DATABASE_URL": url,
            "PORTLINE_DATA_DIR": str(tmp_path),
            "PORTLINE_KEY": settings.key or "",
            "PORTLINE_WORKER_POLL_SECONDS": "0.05",
            "PORTLINE_LOG_LEVEL": "INFO",
            **extra,
        }
    )
    return environment


@contextmanager
def worker_process(
    environment: dict[str, str], log_path: Path, *arguments: str
) -> Iterator[subprocess.Popen[bytes]]:
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "worker", *arguments],
            env=environment,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=10)


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class TestWorkOne:
    def test_both_notices_of_a_referral_go_out_and_are_recorded(
        self,
        live: tuple[str, Engine],
        keyring: KeyRing,
        inbox: tuple[Settings, Inbox],
        receiver: WebhookReceiver,
    ) -> None:
        _url, engine = live
        settings, received = inbox
        refer(engine, keyring, email="duty@police.test", webhook_url=receiver.url)

        worked = [
            work_one(engine=engine, keyring=keyring, settings=settings, worker_id="w1")
            for _ in range(3)
        ]

        assert worked == [True, True, False]
        assert len(received.messages) == 1 and len(receiver.deliveries) == 1
        assert [(job.status, job.attempts, job.last_error) for job in jobs(engine)] == [
            ("delivered", 1, ""),
            ("delivered", 1, ""),
        ]

    def test_a_failing_body_is_retried_with_backoff_then_failed_then_retried_by_hand(
        self,
        live: tuple[str, Engine],
        keyring: KeyRing,
        settings: Settings,
        receiver: WebhookReceiver,
    ) -> None:
        _url, engine = live
        three = settings.model_copy(update={"outbox_max_attempts": 3})
        receiver.statuses = [503, 503, 503]
        (job,) = refer(engine, keyring, webhook_url=receiver.url)
        now = utcnow()

        for _attempt in range(3):
            assert work_one(
                engine=engine, keyring=keyring, settings=three, worker_id="w1", clock=at(now)
            )
            (job,) = jobs(engine)
            now = max(now, job.next_attempt_at)

        assert (job.status, job.attempts) == ("failed", 3)
        assert job.last_error == "webhook: the server answered 503"
        later = now + timedelta(days=1)
        assert not work_one(
            engine=engine, keyring=keyring, settings=three, worker_id="w1", clock=at(later)
        )

        with Session(engine) as session:
            outbox.retry(session=session, job_id=job.id or 0, now=later)
            session.commit()
        assert work_one(
            engine=engine, keyring=keyring, settings=three, worker_id="w1", clock=at(later)
        )

        (job,) = jobs(engine)
        assert job.status == "delivered"
        assert len(receiver.deliveries) == 4
        assert set(receiver.keys()) == {job.idempotency_key}


class TestWorkerProcesses:
    def test_a_worker_killed_mid_delivery_leaves_the_notice_to_go_again_with_the_same_key(
        self,
        live: tuple[str, Engine],
        keyring: KeyRing,
        settings: Settings,
        receiver: WebhookReceiver,
        tmp_path: Path,
    ) -> None:
        url, engine = live
        receiver.hang_first = True
        (job,) = refer(engine, keyring, webhook_url=receiver.url)
        environment = worker_environment(
            url,
            settings,
            tmp_path,
            PORTLINE_OUTBOX_LEASE_SECONDS="30",
            PORTLINE_DELIVERY_TIMEOUT_SECONDS="60",
        )

        with worker_process(environment, tmp_path / "worker.log") as process:
            receiver.wait_for(1)
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)

        (taken,) = jobs(engine)
        assert (taken.status, taken.attempts) == ("pending", 0)
        assert taken.locked_until is not None and taken.locked_until > utcnow()
        # While the dead worker's lease lasts, nobody else takes the notice...
        assert not work_one(engine=engine, keyring=keyring, settings=settings, worker_id="w2")
        # ...once it has run out, the next worker does, and sends it with the same key.
        after_lease = taken.locked_until + timedelta(seconds=1)
        assert work_one(
            engine=engine,
            keyring=keyring,
            settings=settings,
            worker_id="w2",
            clock=at(after_lease),
        )

        (delivered,) = jobs(engine)
        assert (delivered.status, delivered.locked_by) == ("delivered", "w2")
        assert [call.headers["idempotency-key"] for call in receiver.deliveries] == [
            job.idempotency_key,
            job.idempotency_key,
        ]

    def test_two_workers_deliver_forty_notices_exactly_once_and_stop_cleanly_on_sigterm(
        self,
        live: tuple[str, Engine],
        keyring: KeyRing,
        settings: Settings,
        receiver: WebhookReceiver,
        tmp_path: Path,
    ) -> None:
        url, engine = live
        receiver.delay = 0.02
        environment = worker_environment(url, settings, tmp_path)
        logs = [tmp_path / "worker-1.log", tmp_path / "worker-2.log"]

        with (
            worker_process(environment, logs[0]) as first,
            worker_process(environment, logs[1]) as second,
        ):
            wait_until(lambda: all(b"started" in log.read_bytes() for log in logs), "both workers")
            queued = refer(engine, keyring, count=40, webhook_url=receiver.url)
            wait_until(
                lambda: all(job.status == "delivered" for job in jobs(engine)),
                "every notice delivered",
            )
            for process in (first, second):
                process.send_signal(signal.SIGTERM)
            codes = [process.wait(timeout=10) for process in (first, second)]

        assert codes == [0, 0], [log.read_text() for log in logs]
        assert len(queued) == 40
        assert receiver.keys() == {job.idempotency_key: 1 for job in queued}
        assert all(call.signature_valid for call in receiver.deliveries)
        delivered = jobs(engine)
        assert all(job.attempts == 1 for job in delivered)
        # Both took their share: neither waited while the other worked.
        assert len({job.locked_by for job in delivered}) == 2
        assert all(b"stopped after" in log.read_bytes() for log in logs)

    def test_once_delivers_what_is_due_and_exits(
        self,
        live: tuple[str, Engine],
        keyring: KeyRing,
        settings: Settings,
        inbox: tuple[Settings, Inbox],
        tmp_path: Path,
    ) -> None:
        url, engine = live
        smtp_settings, received = inbox
        refer(engine, keyring, count=2, email="duty@police.test")
        environment = worker_environment(
            url,
            settings,
            tmp_path,
            PORTLINE_SMTP_HOST="127.0.0.1",
            PORTLINE_SMTP_PORT=str(smtp_settings.smtp_port),
            PORTLINE_SMTP_STARTTLS="false",
        )

        with worker_process(environment, tmp_path / "worker.log", "--once") as process:
            code = process.wait(timeout=30)

        assert code == 0, (tmp_path / "worker.log").read_text()
        # --once also runs the reminder sweep, which on the working day before a referral's
        # acknowledgement deadline (a Friday for a Monday) reminds the body as well.
        notices = [
            message
            for message in received.messages
            if "to be acknowledged by" not in str(message["Subject"])
        ]
        assert len(notices) == 2
        assert [job.status for job in jobs(engine)] == ["delivered", "delivered"]
