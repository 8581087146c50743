"""Reminders before deadlines, through the jobs worker and a real SMTP server: the working
day before and once overdue, once per deadline, content-free, to the assignee or the
port's triage address (a case) and to the body (a referral); nothing for a closed case."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from api import reminders, worker
from api.cases.models import Case
from api.config import Settings
from api.crypto import KeyRing
from api.jobs import service as jobs
from api.ports.models import Port
from api.referrals.models import Referral
from tests import test_purge
from tests.referrals.receivers import Inbox, smtp_server
from tests.test_purge import NARRATIVE, Triage, _live_triage

live_app = test_purge.live_app

TRIAGE_BOX = "triage@norderhaven.example"


def test_the_working_day_before_skips_the_weekend_in_the_ports_time_zone() -> None:
    monday = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)  # 10:00 in Amsterdam
    assert reminders.working_day_before(monday, "Europe/Amsterdam") == datetime(
        2026,
        12,
        3,
        23,
        0,
        tzinfo=UTC,  # Friday 4 December, midnight in Amsterdam
    )
    wednesday = datetime(2026, 12, 9, 9, 0, tzinfo=UTC)
    assert reminders.working_day_before(wednesday, "UTC") == datetime(2026, 12, 8, tzinfo=UTC)
    assert reminders.stage_at(wednesday, "UTC", wednesday - timedelta(days=2)) is None
    assert reminders.stage_at(wednesday, "UTC", wednesday - timedelta(hours=3)) == "before"
    assert reminders.stage_at(wednesday, "UTC", wednesday) == "overdue"


class Clockwork:
    """Runs the worker's rounds at a chosen moment, against a real SMTP server."""

    def __init__(self, engine: Engine, keyring: KeyRing, settings: Settings) -> None:
        self.engine, self.keyring, self.settings = engine, keyring, settings

    def round_at(self, moment: datetime) -> None:
        with Session(self.engine) as session:
            jobs.ensure_schedule(
                session=session, kind=reminders.SWEEP, every=timedelta(minutes=15), now=moment
            )
            session.commit()
            jobs.fire_schedules(session=session, now=moment)
        while worker.work_one_job(
            engine=self.engine,
            keyring=self.keyring,
            settings=self.settings,
            worker_id="w",
            clock=lambda: moment,
        ):
            pass


@pytest.fixture
def mail(live_app: tuple[TestClient, Engine]) -> Iterator[tuple[Triage, Clockwork, Inbox]]:
    client, engine = live_app
    keyring: KeyRing = client.app.state.keyring  # type: ignore[attr-defined]
    settings: Settings = client.app.state.settings  # type: ignore[attr-defined]
    with Session(engine) as session:
        port = session.exec(select(Port).where(Port.code == "NHV")).one()
        port.triage_email = TRIAGE_BOX
        session.add(port)
        session.commit()
    with smtp_server() as (smtp_port, inbox):
        changed = settings.model_copy(
            update={"smtp_host": "127.0.0.1", "smtp_port": smtp_port, "smtp_starttls": False}
        )
        yield _live_triage(client, engine), Clockwork(engine, keyring, changed), inbox


def _case(triage: Triage, engine: Engine) -> Case:
    case_id = triage.case_of(triage.send(files=False, narrative=NARRATIVE)["reference"])
    with Session(engine) as session:
        case = session.get(Case, case_id)
        assert case is not None and case.due_at is not None
        return case


def test_a_cases_deadline_is_reminded_the_day_before_and_when_overdue_once_each(
    live_app: tuple[TestClient, Engine], mail: tuple[Triage, Clockwork, Inbox]
) -> None:
    _client, engine = live_app
    triage, clock, inbox = mail
    case = _case(triage, engine)
    assert case.due_at is not None
    clock.round_at(case.due_at - timedelta(days=5))
    assert inbox.messages == []
    before = reminders.working_day_before(case.due_at, "Europe/Amsterdam") + timedelta(hours=1)
    clock.round_at(before)
    clock.round_at(before + timedelta(minutes=30))  # the next sweep sends nothing again
    assert len(inbox.messages) == 1
    [message] = inbox.messages
    assert inbox.recipients == [TRIAGE_BOX]
    assert case.reference in str(message["Subject"]) and "acknowledged by" in str(
        message["Subject"]
    )
    body = message.get_body()
    assert body is not None
    text = body.get_content()
    assert NARRATIVE not in text and "no case content" in text and f"/admin/cases/{case.id}" in text
    clock.round_at(case.due_at + timedelta(minutes=1))
    clock.round_at(case.due_at + timedelta(hours=2))
    assert len(inbox.messages) == 2
    assert "was to be acknowledged" in str(inbox.messages[1]["Subject"])


def test_nothing_is_sent_for_a_closed_case_even_when_its_reminder_was_queued(
    live_app: tuple[TestClient, Engine], mail: tuple[Triage, Clockwork, Inbox]
) -> None:
    _client, engine = live_app
    triage, clock, inbox = mail
    case = _case(triage, engine)
    assert case.due_at is not None and case.id is not None
    overdue = case.due_at + timedelta(minutes=1)
    with Session(engine) as session:
        # The sweep queued the reminder; the case is closed before a worker sends it.
        jobs.enqueue(
            session=session,
            kind=reminders.SEND,
            once_key="queued-before-closing",
            run_at=overdue,
            now=overdue,
            payload={
                "what": "acknowledge",
                "id": case.id,
                "due": case.due_at.isoformat(),
                "stage": "overdue",
            },
        )
        session.commit()
    triage.close(case.id)
    clock.round_at(overdue)
    assert inbox.messages == []


def test_a_referrals_acknowledgement_deadline_is_reminded_to_the_body(
    live_app: tuple[TestClient, Engine], mail: tuple[Triage, Clockwork, Inbox]
) -> None:
    _client, engine = live_app
    triage, clock, inbox = mail
    case = _case(triage, engine)
    triage.do("POST", f"/{case.id}/acknowledge")
    triage.do(
        "POST",
        f"/{case.id}/referrals",
        json={"body": "police-port-unit", "summary": "A seal was cut.", "tlp": "AMBER"},
    )
    with Session(engine) as session:
        referral = session.exec(select(Referral).where(Referral.case_id == case.id)).one()
    clock.round_at(referral.acknowledge_due + timedelta(minutes=1))
    to_body = [
        message
        for message, recipient in zip(inbox.messages, inbox.recipients, strict=False)
        if recipient == "police-port-unit@demo.portline.test"
        and referral.reference in str(message["Subject"])
    ]
    assert len(to_body) == 1, [str(message["Subject"]) for message in inbox.messages]
