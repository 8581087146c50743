"""Retention per port and legal holds (issue 12, point 2): administrators set how long each
port keeps closed cases (30 to 3650 days, audited), see what is to be purged within 14 days
and hold a case (with a reason, audited) until they release it; the purge asks which cases
are due in one query over every port."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api.cases.models import Case
from api.cases.schemas import CaseStatus
from api.crypto import KeyRing
from api.errors import Forbidden, Invalid, NotFound
from api.policy import Role
from api.ports.models import Port
from api.retention import policy
from api.staff.models import StaffPort
from api.taxonomy.models import Category
from tests.factories import make_staff, sign_in_staff
from tests.routing.helpers import audit_entries, sign_in_as

# Far from the cases other tests open now, so that only this file's are due at these times.
LONG_AGO = datetime(2001, 3, 1, 9, 30, tzinfo=UTC)


def port_of(session: Session, code: str) -> Port:
    port = session.exec(select(Port).where(Port.code == code)).one()
    session.refresh(port)
    return port


def closed_case(
    session: Session,
    code: str,
    closed_at: datetime | None,
    *,
    hold: str = "",
) -> Case:
    """A case of port ``code`` closed at ``closed_at`` (open when None), held for ``hold``."""
    category_id = session.exec(select(Category.id)).first()
    assert category_id is not None
    received = (closed_at or LONG_AGO) - timedelta(days=20)
    case = Case(
        reference="C-" + secrets.token_hex(4).upper(),
        status=CaseStatus.closed if closed_at else CaseStatus.new,
        kind="incident",
        category_id=category_id,
        port_id=port_of(session, code).id or 0,
        received_hour=received,
        acknowledge_due=received + timedelta(days=7),
        closed_at=closed_at,
        resolution="substantiated" if closed_at else "",
        legal_hold_reason=hold,
        legal_hold_at=closed_at if hold else None,
    )
    session.add(case)
    session.commit()  # as a request would: a refused request's rollback keeps it
    return case


def with_retention(session: Session, code: str, days: int) -> Port:
    port = port_of(session, code)
    port.retention_days = days
    session.add(port)
    session.commit()
    return port


@pytest.fixture
def admin(client: TestClient, session: Session, keyring: KeyRing) -> dict[str, str]:
    return sign_in_as(client, session, keyring, Role.administrator)


class TestRetentionOfAPort:
    @pytest.mark.parametrize("days", [29, 3651, 0, -5])
    def test_days_out_of_bounds_are_refused_naming_the_field(
        self, client: TestClient, session: Session, admin: dict[str, str], days: int
    ) -> None:
        refused = client.put(
            "/api/v1/ports/NHV/retention", json={"retention_days": days}, headers=admin
        )
        assert refused.status_code == 422, refused.text
        fields = refused.json()["error"]["fields"]
        assert [problem["field"] for problem in fields] == ["retention_days"]
        assert port_of(session, "NHV").retention_days == policy.DEFAULT_RETENTION_DAYS

    def test_the_bounds_themselves_are_kept_and_each_change_is_audited_before_and_after(
        self, client: TestClient, session: Session, admin: dict[str, str]
    ) -> None:
        for days in (30, 3650):
            saved = client.put(
                "/api/v1/ports/NHV/retention", json={"retention_days": days}, headers=admin
            )
            assert saved.status_code == 200, saved.text
            assert saved.json() == {
                "code": "NHV",
                "name": port_of(session, "NHV").name,
                "retention_days": days,
            }
        assert port_of(session, "NHV").retention_days == 3650
        entries = [
            entry
            for entry in audit_entries(session, "port", "NHV")
            if entry.action == "port.retention_changed"
        ]
        assert [json.loads(entry.detail) for entry in entries] == [
            {"retention_days": "365 -> 30"},
            {"retention_days": "30 -> 3650"},
        ]
        assert client.get("/api/v1/ports/NHV").json()["retention_days"] == 3650

    def test_a_triager_may_not_and_an_unknown_port_is_not_found(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        triager = sign_in_as(client, session, keyring, Role.triager)
        refused = client.put(
            "/api/v1/ports/NHV/retention", json={"retention_days": 60}, headers=triager
        )
        assert refused.status_code == 403
        admin = sign_in_as(client, session, keyring, Role.administrator)
        missing = client.put(
            "/api/v1/ports/XXX/retention", json={"retention_days": 60}, headers=admin
        )
        assert missing.status_code == 404

    def test_the_service_refuses_out_of_bounds_days_too(
        self, session: Session, keyring: KeyRing
    ) -> None:
        admin, _secret = make_staff(session, keyring, role=Role.administrator)
        with pytest.raises(Invalid) as refused:
            policy.set_retention(
                session=session, keyring=keyring, actor=admin, code="NHV", days=29, now=LONG_AGO
            )
        assert refused.value.fields[0].field == "retention_days"


class TestPurgeAt:
    def test_a_closed_case_is_purged_its_ports_retention_after_closing(
        self, session: Session
    ) -> None:
        port = with_retention(session, "NHV", 90)
        case = closed_case(session, "NHV", LONG_AGO)
        assert policy.purge_at(case, port) == LONG_AGO + timedelta(days=90)

    def test_an_open_case_and_a_held_case_have_no_purge_time(self, session: Session) -> None:
        port = port_of(session, "NHV")
        assert policy.purge_at(closed_case(session, "NHV", None), port) is None
        held = closed_case(session, "NHV", LONG_AGO, hold="Court case 12/2001")
        assert policy.purge_at(held, port) is None


class TestPurgeable:
    def test_only_closed_cases_past_their_ports_retention_and_not_held_are_due(
        self, session: Session
    ) -> None:
        with_retention(session, "NHV", 30)
        with_retention(session, "KVL", 400)
        now = LONG_AGO
        nhv_due = closed_case(session, "NHV", now - timedelta(days=31))
        nhv_just_due = closed_case(session, "NHV", now - timedelta(days=30))
        nhv_not_yet = closed_case(session, "NHV", now - timedelta(days=29, hours=23))
        nhv_held = closed_case(session, "NHV", now - timedelta(days=300), hold="Inquiry")
        nhv_open = closed_case(session, "NHV", None)
        kvl_due = closed_case(session, "KVL", now - timedelta(days=401))
        kvl_not_yet = closed_case(session, "KVL", now - timedelta(days=100))
        mine = [nhv_due, nhv_just_due, nhv_not_yet, nhv_held, nhv_open, kvl_due, kvl_not_yet]
        ours = {case.id for case in mine}
        due = [
            case_id
            for case_id in policy.purgeable(session=session, now=now, limit=100)
            if case_id in ours
        ]
        # The longest closed first.
        assert due == [kvl_due.id, nhv_due.id, nhv_just_due.id]

    def test_they_come_a_batch_at_a_time(self, session: Session) -> None:
        with_retention(session, "NHV", 30)
        now = LONG_AGO
        cases = [closed_case(session, "NHV", now - timedelta(days=40 + n)) for n in range(5)]
        first = policy.purgeable(session=session, now=now, limit=2)
        assert first == [cases[4].id, cases[3].id]

    def test_a_released_hold_makes_the_case_due_again(
        self, session: Session, keyring: KeyRing
    ) -> None:
        with_retention(session, "NHV", 30)
        held = closed_case(session, "NHV", LONG_AGO - timedelta(days=60), hold="Inquiry")
        admin, _secret = make_staff(session, keyring, role=Role.administrator)
        assert held.id not in policy.purgeable(session=session, now=LONG_AGO, limit=100)
        policy.release_hold(
            session=session, keyring=keyring, actor=admin, reference=held.reference, now=LONG_AGO
        )
        assert held.id in policy.purgeable(session=session, now=LONG_AGO, limit=100)


class TestToBePurged:
    def test_the_list_holds_what_is_purged_within_fourteen_days_held_or_not(
        self, client: TestClient, session: Session, admin: dict[str, str]
    ) -> None:
        with_retention(session, "NHV", 30)
        now = datetime.now(UTC)
        soon = closed_case(session, "NHV", now - timedelta(days=30 - 13))
        overdue = closed_case(session, "NHV", now - timedelta(days=31))
        held = closed_case(session, "NHV", now - timedelta(days=30 - 2), hold="Court case")
        later = closed_case(session, "NHV", now - timedelta(days=30 - 15))
        still_open = closed_case(session, "NHV", None)
        listed = client.get("/api/v1/retention/to-be-purged", headers=admin)
        assert listed.status_code == 200, listed.text
        rows = {row["reference"]: row for row in listed.json()}
        assert soon.reference in rows and overdue.reference in rows and held.reference in rows
        assert later.reference not in rows and still_open.reference not in rows
        references = [row["reference"] for row in listed.json()]
        assert references.index(overdue.reference) < references.index(held.reference)
        assert references.index(held.reference) < references.index(soon.reference)
        row = rows[soon.reference]
        assert row["port_code"] == "NHV" and not row["on_hold"]
        assert row["purge_at"] == row["retained_until"]
        assert soon.closed_at is not None
        assert datetime.fromisoformat(row["purge_at"]) == soon.closed_at + timedelta(days=30)
        assert rows[held.reference]["on_hold"] and rows[held.reference]["purge_at"] is None
        assert rows[held.reference]["legal_hold_reason"] == "Court case"

    def test_an_administrator_of_some_ports_sees_only_theirs_and_a_triager_nothing(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        now = datetime.now(UTC)
        nhv = closed_case(session, "NHV", now - timedelta(days=400))
        kvl = closed_case(session, "KVL", now - timedelta(days=400))
        admin, secret = make_staff(session, keyring, role=Role.administrator)
        session.add(StaffPort(staff_id=admin.id or 0, port_id=port_of(session, "KVL").id or 0))
        session.commit()
        sign_in_staff(client, admin, secret)
        listed = {row["reference"] for row in client.get("/api/v1/retention/to-be-purged").json()}
        assert kvl.reference in listed and nhv.reference not in listed
        sign_in_as(client, session, keyring, Role.triager)
        assert client.get("/api/v1/retention/to-be-purged").status_code == 403


class TestLegalHold:
    def test_a_hold_and_its_release_are_audited_with_the_reason_before_and_after(
        self, client: TestClient, session: Session, admin: dict[str, str]
    ) -> None:
        case = closed_case(session, "NHV", datetime.now(UTC) - timedelta(days=10))
        url = f"/api/v1/cases/{case.reference}/legal-hold"
        held = client.put(url, json={"reason": "  Court case 4411/26  "}, headers=admin)
        assert held.status_code == 200, held.text
        assert held.json()["on_hold"] and held.json()["purge_at"] is None
        assert held.json()["legal_hold_reason"] == "Court case 4411/26"
        changed = client.put(url, json={"reason": "Court case 4412/26"}, headers=admin)
        assert changed.status_code == 200
        released = client.delete(url, headers=admin)
        assert released.status_code == 200, released.text
        assert not released.json()["on_hold"] and released.json()["purge_at"] is not None
        session.refresh(case)
        assert (case.legal_hold_reason, case.legal_hold_at) == ("", None)
        entries = audit_entries(session, "case", case.reference)
        assert [(entry.action, json.loads(entry.detail)) for entry in entries] == [
            (
                "case.legal_hold_placed",
                {"reason_before": "", "reason_after": "Court case 4411/26"},
            ),
            (
                "case.legal_hold_placed",
                {"reason_before": "Court case 4411/26", "reason_after": "Court case 4412/26"},
            ),
            (
                "case.legal_hold_released",
                {"reason_before": "Court case 4412/26", "reason_after": ""},
            ),
        ]
        # Releasing a case not held changes nothing, and says nothing to the audit log.
        assert client.delete(url, headers=admin).status_code == 200
        assert len(audit_entries(session, "case", case.reference)) == 3

    @pytest.mark.parametrize("reason", ["", "   ", "x" * 301])
    def test_a_hold_without_a_reason_or_with_too_long_a_one_is_refused_naming_it(
        self, client: TestClient, session: Session, admin: dict[str, str], reason: str
    ) -> None:
        case = closed_case(session, "NHV", datetime.now(UTC))
        refused = client.put(
            f"/api/v1/cases/{case.reference}/legal-hold", json={"reason": reason}, headers=admin
        )
        assert refused.status_code == 422, refused.text
        assert [problem["field"] for problem in refused.json()["error"]["fields"]] == ["reason"]
        session.refresh(case)
        assert case.legal_hold_reason == ""

    def test_a_case_of_a_port_the_administrator_does_not_see_is_not_found(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        nhv = closed_case(session, "NHV", datetime.now(UTC))
        admin, secret = make_staff(session, keyring, role=Role.administrator)
        session.add(StaffPort(staff_id=admin.id or 0, port_id=port_of(session, "KVL").id or 0))
        session.commit()
        headers = sign_in_staff(client, admin, secret)
        for reference in (nhv.reference, "C-NOTHING0"):
            url = f"/api/v1/cases/{reference}/legal-hold"
            hidden = client.put(url, json={"reason": "Inquiry"}, headers=headers)
            assert hidden.status_code == 404
            assert hidden.json()["error"]["message"] == "There is no such case."
            assert client.delete(url, headers=headers).status_code == 404
        session.refresh(nhv)
        assert nhv.legal_hold_reason == ""
        with pytest.raises(NotFound):
            policy.place_hold(
                session=session,
                keyring=keyring,
                actor=admin,
                reference=nhv.reference,
                reason="Inquiry",
                now=LONG_AGO,
            )

    def test_a_triager_may_not_hold_or_release(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        case = closed_case(session, "NHV", datetime.now(UTC), hold="Inquiry")
        triager, secret = make_staff(session, keyring, role=Role.triager)
        headers = sign_in_staff(client, triager, secret)
        url = f"/api/v1/cases/{case.reference}/legal-hold"
        assert client.put(url, json={"reason": "Mine"}, headers=headers).status_code == 403
        assert client.delete(url, headers=headers).status_code == 403
        with pytest.raises(Forbidden):
            policy.release_hold(
                session=session,
                keyring=keyring,
                actor=triager,
                reference=case.reference,
                now=LONG_AGO,
            )
        session.refresh(case)
        assert case.legal_hold_reason == "Inquiry"

    def test_the_triager_reads_on_a_closed_case_when_it_is_purged_or_that_it_is_held(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        port = with_retention(session, "NHV", 60)
        case = closed_case(session, "NHV", datetime.now(UTC) - timedelta(days=1))
        sign_in_as(client, session, keyring, Role.triager)
        detail = client.get(f"/api/v1/cases/{case.id}").json()
        assert detail["legal_hold_reason"] == ""
        assert datetime.fromisoformat(detail["purge_at"]) == policy.purge_at(case, port)
        case.legal_hold_reason = "Court case"
        session.add(case)
        session.flush()
        detail = client.get(f"/api/v1/cases/{case.id}").json()
        assert detail["purge_at"] is None and detail["legal_hold_reason"] == "Court case"
