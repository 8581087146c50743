"""No reporter time finer than the hour anywhere: every datetime a reporter's action
writes, in any column of any table, is a whole hour. Order comes from sequence numbers.

The scan compares every datetime column of every table before and after each of the
reporter's actions (a report with a photo, sent from the phone and from the no-JavaScript
form, a log-in with the receipt, a reply, an added photo, an answer to a body's question):
whatever the action wrote or changed must have no minutes, seconds or microseconds."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import DateTime
from sqlmodel import Session, SQLModel, select

from api.agencies.models import Body
from api.crypto import KeyRing
from api.db import UTCDateTime
from api.policy import Role
from api.reports.models import Report
from tests.factories import jpeg_bytes, log_in, make_staff, post_report, sign_in_staff
from tests.mobile.test_pages import REPORT, post_step, walk_to_review

Moments = dict[tuple[str, tuple[Any, ...], str], datetime]


def _moments(session: Session) -> Moments:
    """Every datetime value in the database, by table, primary key and column."""
    session.flush()
    found: Moments = {}
    for table in SQLModel.metadata.sorted_tables:
        columns = [
            column for column in table.columns if isinstance(column.type, (DateTime, UTCDateTime))
        ]
        if not columns:
            continue
        keys = list(table.primary_key.columns)
        for row in session.connection().execute(table.select()).mappings():
            key = tuple(row[column.name] for column in keys)
            for column in columns:
                if row[column.name] is not None:
                    found[(table.name, key, column.name)] = row[column.name]
    return found


def _written(session: Session, action: Callable[[], object]) -> Moments:
    """Run a reporter's ``action``; every datetime value it wrote or changed."""
    before = _moments(session)
    action()
    return {
        place: value for place, value in _moments(session).items() if before.get(place) != value
    }


def _finer_than_the_hour(written: Moments) -> list[str]:
    return [
        f"{table}.{column} {key}: {value.isoformat()}"
        for (table, key, column), value in written.items()
        if (value.minute, value.second, value.microsecond) != (0, 0, 0)
    ]


def _columns(written: Moments) -> set[str]:
    return {f"{table}.{column}" for table, _key, column in written}


class TestAReportersWholeFlow:
    def test_nothing_a_reporter_does_writes_a_time_finer_than_the_hour(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        written: list[str] = []
        sent: dict[str, Any] = {}

        def report() -> None:
            answer = post_report(client, files=[("seal.jpg", jpeg_bytes(), "image/jpeg")])
            assert answer.status_code == 201, answer.text
            sent.update(answer.json())

        reported = _written(session, report)
        assert {"report.received_hour", "case.received_hour"} <= _columns(reported)
        written += _finer_than_the_hour(reported)

        # Staff work the case: a triager refers it, the body asks, triage approves.
        case_id = session.exec(
            select(Report.case_id).where(Report.reference == sent["reference"])
        ).one()
        triage = TestClient(client.app)
        triager, secret = make_staff(session, keyring, role=Role.triager)
        triage_headers = sign_in_staff(triage, triager, secret)
        referred = triage.post(
            f"/api/v1/cases/{case_id}/referrals",
            json={"body": "police-port-unit", "summary": "Seals cut.", "tlp": "AMBER"},
            headers=triage_headers,
        )
        assert referred.status_code == 201, referred.text
        reference = referred.json()["reference"]
        body = TestClient(client.app)
        body_id = session.exec(select(Body.id).where(Body.code == "police-port-unit")).one()
        officer, officer_secret = make_staff(session, keyring, role=Role.liaison, body_id=body_id)
        body_headers = sign_in_staff(body, officer, officer_secret)
        asked = body.post(
            f"/api/v1/referrals/{reference}/messages/question",
            json={"body": "Which lane?"},
            headers=body_headers,
        )
        assert asked.status_code == 204, asked.text
        question = next(
            event
            for event in triage.get(f"/api/v1/cases/{case_id}/referral-timelines").json()[reference]
            if event["kind"] == "question"
        )
        approved = triage.post(
            f"/api/v1/cases/{case_id}/referrals/{reference}/questions/{question['seq']}",
            json={"approve": True, "body": "Which lane was it?"},
            headers=triage_headers,
        )
        assert approved.status_code == 204, approved.text

        reporter = TestClient(client.app)
        token: dict[str, str] = {}
        written += _finer_than_the_hour(
            _written(session, lambda: token.update(log_in(reporter, sent["receipt"])))
        )

        def answer() -> None:
            replied = reporter.post(
                "/api/v1/reporter/messages", json={"body": "Lane 4."}, headers=token
            )
            assert replied.status_code == 201, replied.text

        answered = _written(session, answer)
        assert {"message.created_hour", "referral_event.created_at"} <= _columns(answered)
        written += _finer_than_the_hour(answered)
        timeline = body.get(f"/api/v1/referrals/{reference}").json()["timeline"]
        assert ("answer", "reporter") in {(event["kind"], event["side"]) for event in timeline}

        def add_photo() -> None:
            added = reporter.post(
                "/api/v1/reporter/attachments",
                files=[("files", ("more.jpg", jpeg_bytes(), "image/jpeg"))],
                headers=token,
            )
            assert added.status_code == 201, added.text

        added = _written(session, add_photo)
        assert "attachment.created_hour" in _columns(added)
        written += _finer_than_the_hour(added)
        assert written == []

    def test_a_report_from_the_form_without_javascript_writes_only_hours(
        self, client: TestClient, session: Session
    ) -> None:
        def send() -> None:
            page = post_step(client, walk_to_review(client), "review", go="send", **REPORT)
            assert "data-receipt" in page.text

        sent = _written(session, send)
        assert "report.received_hour" in _columns(sent)
        assert _finer_than_the_hour(sent) == []
