"""Purging a closed case erases it: every row of it and of its reports goes, with the data
keys they carry; the dashboard's figures stay the same; the audit log says it happened."""

from __future__ import annotations

import io
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import Engine, event, func, make_url, or_
from sqlmodel import Session, col, select

from api.app import create_app
from api.audit import service as audit_service
from api.audit.models import AuditEntry
from api.cases.models import Case
from api.crypto import KeyRing
from api.dashboard import service as dashboard_service
from api.db import make_engine, metadata
from api.errors import Conflict
from api.policy import Role
from api.ports.models import Port
from api.profiles.service import import_profile, read_profile
from api.referrals.models import Referral
from api.reports.models import Attachment, Message, Report
from api.retention import policy
from api.retention.models import PurgedCount
from api.retention.purge import PURGED, purge_case, reclaim_space
from api.staff.models import Staff, StaffPort
from tests.conftest import make_settings
from tests.databases import ON_POSTGRES, raw_dump
from tests.factories import (
    log_in,
    make_staff,
    post_report,
    report_payload,
    sign_in_staff,
    submission_key,
)
from tests.test_port_profiles import PROFILE

# Past every port's default retention (365 days after closing): the purge is due.
LATER = timedelta(days=400)
NARRATIVE = "The night clerk of lane 4 waved through the MV Harbour Star, IMO 9074729."
# Every table a full case has rows in: the test data must reach each one.
TABLES_OF_A_FULL_CASE = {
    "attachment",
    "case",
    "case_entity",
    "case_implicated_body",
    "case_note",
    "case_tag",
    "message",
    "outbox_job",
    "referral",
    "referral_attachment",
    "referral_event",
    "report",
    "report_exclusion",
    "report_step",
    "submission",
}


def _noisy_photo() -> bytes:
    # Random-looking pixels: long, distinctive runs of sealed bytes to look for.
    buffer = io.BytesIO()
    Image.effect_noise((160, 120), 90).convert("RGB").save(buffer, "JPEG", quality=95)
    return buffer.getvalue()


@dataclass
class Triage:
    """A signed-in triager working cases through the API, and a reporter's client."""

    client: TestClient
    reporter: TestClient
    csrf: dict[str, str]
    # The test's own session (rolled back at its end), or None: a session per look-up on
    # a database where requests commit (an open one would hold SQLite's writer lock).
    session: Session | None = None
    engine: Engine | None = None

    def send(self, files: bool = True, **payload: Any) -> dict[str, str]:
        response = post_report(
            self.reporter,
            report_payload(**payload),
            files=[("gate.jpg", _noisy_photo(), "image/jpeg")] if files else None,
        )
        assert response.status_code == 201, response.text
        return dict(response.json())

    def case_of(self, reference: str) -> int:
        query = select(Report.case_id).where(Report.reference == reference)
        if self.session is not None:
            case_id = self.session.exec(query).one()
        else:
            with Session(self.engine) as session:
                case_id = session.exec(query).one()
        assert case_id is not None
        return case_id

    def do(self, method: str, path: str, **kwargs: Any) -> None:
        response = self.client.request(method, f"/api/v1/cases{path}", headers=self.csrf, **kwargs)
        assert response.status_code in (200, 201, 204), response.text

    def close(self, case_id: int) -> None:
        self.do(
            "POST",
            f"/{case_id}/close",
            json={"resolution": "substantiated", "outcome": "Thank you: it was dealt with."},
        )

    def full_case(self) -> int:
        """A closed case with two reports and every kind of row a case can have."""
        first = self.send(
            narrative=NARRATIVE,
            identity={"name": "K. Janssens", "contact": "union office", "may_share": True},
            exclude_bodies=["customs"],
            submission_key=submission_key(),
        )
        second = self.send(zone="gate-main", cargo_direction="outbound")
        case_id = self.case_of(first["reference"])
        headers = log_in(self.reporter, first["receipt"])
        answer = self.reporter.post(
            "/api/v1/reporter/messages", json={"body": "It was gate 3."}, headers=headers
        )
        assert answer.status_code == 201, answer.text
        self.do("POST", f"/{case_id}/reports", json={"report": second["reference"]})
        self.do("POST", f"/{case_id}/acknowledge")
        self.do(
            "PATCH",
            f"/{case_id}",
            json={"tags": ["lane-4"], "kind": "integrity", "category": "bribery-port-staff"},
        )
        self.do("POST", f"/{case_id}/notes", json={"body": "Ask customs about the shift."})
        self.do(
            "POST",
            f"/{case_id}/messages",
            json={"report": first["reference"], "body": "Which night was it?"},
        )
        self.do("PUT", f"/{case_id}/implicated/border-force")
        self.do(
            "POST",
            f"/{case_id}/referrals",
            json={
                "body": "police-port-unit",
                "summary": "A clerk at lane 4 takes cash.",
                "tlp": "AMBER",
                "photos": [f"{first['reference']}/1"],
                "identities": [first["reference"]],
            },
        )
        self.close(case_id)
        return case_id


@pytest.fixture
def triage(client: TestClient, session: Session, keyring: KeyRing) -> Triage:
    reporter = TestClient(client.app)
    triager, secret = make_staff(session, keyring, role=Role.triager)
    return Triage(client, reporter, sign_in_staff(client, triager, secret), session=session)


def _rows_of_case(session: Session, case_id: int) -> dict[str, int]:
    """Rows of every table that belong to the case, its reports or its referrals, found
    through the schema's foreign keys (so a table added later is counted too)."""
    ids: dict[str, list[int | None]] = {
        "case": [case_id],
        "report": list(session.exec(select(Report.id).where(Report.case_id == case_id))),
        "referral": list(session.exec(select(Referral.id).where(Referral.case_id == case_id))),
    }
    rows: dict[str, int] = {}
    for table in metadata.sorted_tables:
        conditions = [table.c.id.in_(ids[table.name])] if table.name in ids else []
        conditions += [
            key.parent.in_(ids[key.column.table.name])
            for key in table.foreign_keys
            if key.column.table.name in ids
        ]
        if conditions:
            rows[table.name] = session.exec(
                select(func.count()).select_from(table).where(or_(*conditions))
            ).one()
    return rows


def _tables_with_rows(session: Session, case_id: int) -> set[str]:
    return {table for table, count in _rows_of_case(session, case_id).items() if count}


def _scoped_triager(session: Session, keyring: KeyRing, port: str) -> Staff:
    staff, _secret = make_staff(session, keyring, role=Role.triager)
    port_id = session.exec(select(Port.id).where(Port.code == port)).one()
    session.add(StaffPort(staff_id=staff.id or 0, port_id=port_id or 0))
    session.flush()
    return staff


def _figures(session: Session, viewers: list[tuple[Staff, str | None]], now: datetime) -> list[Any]:
    """The dashboard as JSON and as CSV, for each viewer (and port asked for)."""
    figures: list[Any] = []
    for viewer, port in viewers:
        for weeks in (60, 104):
            shown = dashboard_service.dashboard(
                session=session, actor=viewer, now=now, weeks=weeks, port=port
            )
            figures.append(shown.model_dump(mode="json"))
            figures.append(
                dashboard_service.dashboard_csv(
                    session=session, actor=viewer, now=now, weeks=weeks, port=port
                )
            )
    return figures


def _purged_entries(session: Session) -> list[AuditEntry]:
    return list(session.exec(select(AuditEntry).where(AuditEntry.action == PURGED)).all())


class TestPurge:
    def test_every_row_of_the_case_and_its_reports_goes_and_the_audit_log_says_so(
        self, triage: Triage, session: Session, keyring: KeyRing
    ) -> None:
        case_id = triage.full_case()
        reference = session.exec(select(Case.reference).where(Case.id == case_id)).one()
        assert _tables_with_rows(session, case_id) == TABLES_OF_A_FULL_CASE
        before = _rows_of_case(session, case_id)

        purged = purge_case(
            session=session, keyring=keyring, case_id=case_id, now=datetime.now(UTC) + LATER
        )

        assert purged is not None and purged.reference == reference
        assert (purged.reports, purged.cases) == (2, 1)
        assert {table: count for table, count in purged.removed.items() if count} == {
            table: count for table, count in before.items() if count
        }
        session.expire_all()
        assert _tables_with_rows(session, case_id) == set()
        (entry,) = _purged_entries(session)
        assert (entry.object_type, entry.object_id, entry.actor) == ("case", reference, "system")
        detail = json.loads(entry.detail)
        assert detail == purged.removed
        assert all(isinstance(count, int) for count in detail.values())
        assert audit_service.verify(session=session, keyring=keyring).intact

    def test_the_dashboard_and_its_csv_are_the_same_before_and_after(
        self, triage: Triage, session: Session, keyring: KeyRing
    ) -> None:
        full = triage.full_case()
        # Same classification as the full one: its counts add to the same row.
        again = triage.case_of(
            triage.send(files=False, kind="integrity", category="bribery-port-staff")["reference"]
        )
        triage.do("POST", f"/{again}/acknowledge")
        triage.close(again)
        # No zone, never acknowledged, twice: the counts without a zone have their own key.
        no_zone = [
            triage.case_of(
                triage.send(
                    files=False, zone=None, kind="integrity", category="bribery-port-staff"
                )["reference"]
            )
            for _ in range(2)
        ]
        for case_id in no_zone:
            triage.close(case_id)
        # A case emptied by linking its report into another: no case of its own, purged too.
        kept = triage.case_of(triage.send(files=False)["reference"])
        emptied_report = triage.send(files=False)["reference"]
        emptied = triage.case_of(emptied_report)
        triage.do("POST", f"/{kept}/reports", json={"report": emptied_report})
        triage.send(files=False, port="KVL", zone=None)  # an open case stays as it is
        later = datetime.now(UTC) + LATER
        everyone, _secret = make_staff(session, keyring, role=Role.triager)
        viewers: list[tuple[Staff, str | None]] = [
            (everyone, None),
            (everyone, "NHV"),
            (everyone, "KVL"),
            (_scoped_triager(session, keyring, "NHV"), None),
            (_scoped_triager(session, keyring, "KVL"), None),
        ]
        before = _figures(session, viewers, later)
        overall = dashboard_service.dashboard(session=session, actor=everyone, now=later, weeks=104)
        assert overall.reports_received == 8
        assert overall.cases_by_status.totals == {"open": 2, "closed": 4}

        for case_id in [full, again, *no_zone, emptied]:
            assert purge_case(session=session, keyring=keyring, case_id=case_id, now=later)

        assert _figures(session, viewers, later) == before
        # A row per classification and week (two weeks if the test ran across midnight from
        # Sunday to Monday, UTC): the full case's second report counts as its case is filed.
        totals: dict[bool, list[int]] = {}
        for row in session.exec(select(PurgedCount)):
            counts = [row.reports, row.cases, row.cases_acknowledged_within_7_days]
            summed = totals.setdefault(row.zone_id is None, [0, 0, 0])
            summed[:] = [a + b for a, b in zip(summed, counts, strict=True)]
        assert totals == {False: [3, 2, 2], True: [2, 2, 0]}
        assert session.exec(select(func.count()).select_from(PurgedCount)).one() in (2, 3, 4)

    def test_an_open_case_a_held_one_and_one_not_yet_due_are_left_whole(
        self, triage: Triage, session: Session, keyring: KeyRing
    ) -> None:
        later = datetime.now(UTC) + LATER
        open_case = triage.case_of(triage.send(files=False)["reference"])
        held = triage.case_of(triage.send(files=False)["reference"])
        triage.close(held)
        administrator, _secret = make_staff(session, keyring, role=Role.administrator)
        reference = session.exec(select(Case.reference).where(Case.id == held)).one()
        policy.place_hold(
            session=session,
            keyring=keyring,
            actor=administrator,
            reference=reference,
            reason="Court order 2031/118",
            now=datetime.now(UTC),
        )
        not_yet = triage.case_of(triage.send(files=False)["reference"])
        triage.close(not_yet)
        rows = {case_id: _rows_of_case(session, case_id) for case_id in (open_case, held, not_yet)}

        assert purge_case(session=session, keyring=keyring, case_id=open_case, now=later) is None
        assert purge_case(session=session, keyring=keyring, case_id=held, now=later) is None
        soon = datetime.now(UTC) + timedelta(days=30)
        assert purge_case(session=session, keyring=keyring, case_id=not_yet, now=soon) is None
        assert purge_case(session=session, keyring=keyring, case_id=10**9, now=later) is None

        session.expire_all()
        assert {case_id: _rows_of_case(session, case_id) for case_id in rows} == rows
        assert _purged_entries(session) == []
        assert session.exec(select(func.count()).select_from(PurgedCount)).one() == 0

        policy.release_hold(
            session=session, keyring=keyring, actor=administrator, reference=reference, now=later
        )
        assert purge_case(session=session, keyring=keyring, case_id=held, now=later) is not None

    def test_a_zone_the_counts_of_a_purged_case_name_is_not_removed_by_an_import(
        self, triage: Triage, session: Session, keyring: KeyRing
    ) -> None:
        import_profile(
            session=session,
            keyring=keyring,
            profile=read_profile(Path("TST.toml"), PROFILE),
            now=datetime.now(UTC),
        )
        case_id = triage.case_of(triage.send(files=False, port="TST", zone="gate")["reference"])
        triage.close(case_id)
        later = datetime.now(UTC) + LATER
        assert purge_case(session=session, keyring=keyring, case_id=case_id, now=later)
        without_gate = PROFILE.replace(
            '[[zone]]\ncode = "gate"\nkind = "gate"\nname.en = "Gate"\n', ""
        )
        without_gate = without_gate.replace(', "gate"]', "]").replace('zone = "gate"\n', "")
        with pytest.raises(Conflict) as refused:
            import_profile(
                session=session,
                keyring=keyring,
                profile=read_profile(Path("TST.toml"), without_gate),
                now=later,
            )
        assert (refused.value.params["zones"], refused.value.params["cases"]) == ("gate", "-")


@pytest.fixture
def live_app(
    live_database: tuple[str, Engine], tmp_path: Path
) -> Iterator[tuple[TestClient, Engine]]:
    """The app on a database of its own, where every request and purge commits."""
    url, engine = live_database
    with TestClient(create_app(make_settings(tmp_path, url), engine=engine)) as client:
        yield client, engine


def _live_triage(client: TestClient, engine: Engine) -> Triage:
    keyring: KeyRing = client.app.state.keyring  # type: ignore[attr-defined]
    with Session(engine, expire_on_commit=False) as setup:
        triager, secret = make_staff(setup, keyring, role=Role.triager)
        setup.commit()
    csrf = sign_in_staff(client, triager, secret)
    return Triage(client, TestClient(client.app), csrf, engine=engine)


def _sealed_values(engine: Engine, case_id: int) -> list[bytes]:
    with Session(engine) as session:
        report_ids = list(session.exec(select(Report.id).where(Report.case_id == case_id)))
        sealed = [
            report.narrative_sealed
            for report in session.exec(select(Report).where(col(Report.id).in_(report_ids)))
        ]
        sealed += [
            message.body_sealed
            for message in session.exec(
                select(Message).where(col(Message.report_id).in_(report_ids))
            )
        ]
        sealed += [
            attachment.content_sealed
            for attachment in session.exec(
                select(Attachment).where(col(Attachment.report_id).in_(report_ids))
            )
        ]
    return sealed


def _pieces(sealed: bytes) -> list[bytes]:
    """The sealed value cut in 16-byte pieces: none may survive anywhere."""
    return [sealed[start : start + 16] for start in range(0, len(sealed) - 15, 16)]


class TestErasure:
    def test_no_sealed_byte_of_a_purged_report_is_left_in_the_database_files(
        self, live_app: tuple[TestClient, Engine], live_database: tuple[str, Engine]
    ) -> None:
        """On SQLite the database file and its write-ahead log, read as bytes; on
        PostgreSQL every row of every table (its files are the server's)."""
        client, engine = live_app
        url, _engine = live_database
        triage = _live_triage(client, engine)
        marker = "GHARIAL-PURGE-MARKER-2291 " * 20
        sent = triage.send(narrative=f"The foreman {marker} takes cash at the gate.")
        case_id = triage.case_of(sent["reference"])
        triage.close(case_id)
        sealed = _sealed_values(engine, case_id)
        assert len(sealed) == 3  # the narrative, the closing message, the photo
        dump = raw_dump(url, engine)
        assert all(piece in dump for value in sealed for piece in _pieces(value)[:2])

        keyring: KeyRing = client.app.state.keyring  # type: ignore[attr-defined]
        with Session(engine) as session:
            purged = purge_case(
                session=session, keyring=keyring, case_id=case_id, now=datetime.now(UTC) + LATER
            )
            assert purged is not None
            session.commit()
        assert reclaim_space(engine)

        dump = raw_dump(url, engine)
        assert [piece for value in sealed for piece in _pieces(value) if piece in dump] == []
        if not ON_POSTGRES:
            path = Path(make_url(url).database or "")
            assert not Path(f"{path}-wal").exists() or Path(f"{path}-wal").stat().st_size == 0
            with engine.connect() as connection:
                assert connection.exec_driver_sql("PRAGMA freelist_count").scalar() == 0
                assert connection.exec_driver_sql("PRAGMA secure_delete").scalar() == 1

    def test_a_purge_that_fails_midway_leaves_the_case_whole(
        self, live_app: tuple[TestClient, Engine]
    ) -> None:
        client, engine = live_app
        triage = _live_triage(client, engine)
        case_id = triage.full_case()
        with Session(engine) as session:
            before = _rows_of_case(session, case_id)
        assert {table for table, count in before.items() if count} == TABLES_OF_A_FULL_CASE

        def fail_at_the_reports(
            _connection: Any, _cursor: Any, statement: str, *_args: Any
        ) -> None:
            # Messages, attachments and the rest are deleted by now.
            if statement.startswith("DELETE FROM report "):
                raise RuntimeError("killed")

        keyring: KeyRing = client.app.state.keyring  # type: ignore[attr-defined]
        event.listen(engine, "before_cursor_execute", fail_at_the_reports)
        try:
            with Session(engine) as session, pytest.raises(RuntimeError, match="killed"):
                purge_case(
                    session=session, keyring=keyring, case_id=case_id, now=datetime.now(UTC) + LATER
                )
        finally:
            event.remove(engine, "before_cursor_execute", fail_at_the_reports)

        with Session(engine) as session:
            assert _rows_of_case(session, case_id) == before
            assert session.exec(select(func.count()).select_from(PurgedCount)).one() == 0
            assert _purged_entries(session) == []


@pytest.mark.skipif(ON_POSTGRES, reason="SQLite's own vacuuming")
def test_a_database_made_before_incremental_vacuuming_is_converted_once(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as old:
        old.execute("CREATE TABLE kept (value BLOB)")
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA auto_vacuum").scalar() == 0
        reclaim_space(engine)
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA auto_vacuum").scalar() == 2
    finally:
        engine.dispose()
