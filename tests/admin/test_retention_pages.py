"""Retention in the console (issue 12, point 2): an administrator sets how long each port
keeps closed cases, sees the cases to be purged within 14 days, holds one with a reason and
releases it after confirming; the triager reads on a closed case when it goes, or that it
is held."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from api.audit.models import AuditEntry
from api.cases.models import Case
from api.crypto import KeyRing
from api.policy import Role
from tests.admin.people import browser, csrf_of, make_person, sign_in
from tests.routing.helpers import text_of
from tests.test_retention_policy import closed_case, port_of, with_retention


def _case(session: Session, case: Case) -> Case:
    session.refresh(case)
    return case


class TestRetentionOfAPort:
    def test_an_administrator_sets_the_days_in_the_deadlines_section(
        self, console: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        sign_in(console, make_person(session, keyring, role=Role.administrator))
        page = console.get("/admin/ports/NHV")
        assert '<label for="retention-retention_days">' in page.text
        assert 'name="retention_days"' in page.text and 'value="365"' in page.text
        saved = console.post(
            "/admin/ports/NHV/retention",
            data={"csrf_token": csrf_of(page.text), "retention_days": "90"},
        )
        assert saved.status_code == 200
        assert "The retention is saved." in saved.text and 'value="90"' in saved.text
        assert port_of(session, "NHV").retention_days == 90
        changed = session.exec(
            select(AuditEntry).where(AuditEntry.action == "port.retention_changed")
        ).all()
        assert [json.loads(entry.detail) for entry in changed][-1] == {
            "retention_days": "365 -> 90"
        }

    def test_days_out_of_bounds_are_refused_next_to_the_field(
        self, console: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        sign_in(console, make_person(session, keyring, role=Role.administrator))
        token = csrf_of(console.get("/admin/ports/NHV").text)
        for typed in ("29", "3651", "abc", ""):
            refused = console.post(
                "/admin/ports/NHV/retention", data={"csrf_token": token, "retention_days": typed}
            )
            assert refused.status_code == 422, typed
            assert 'id="retention-retention_days-error"' in refused.text
            assert 'aria-invalid="true"' in refused.text
            assert f'value="{typed}"' in refused.text  # what was typed is kept
        assert port_of(session, "NHV").retention_days == 365
        unknown = console.post(
            "/admin/ports/XXX/retention", data={"csrf_token": token, "retention_days": "90"}
        )
        assert unknown.status_code == 404


class TestToBePurged:
    def test_nothing_due_says_so(
        self, console: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        sign_in(console, make_person(session, keyring, role=Role.administrator))
        page = console.get("/admin/retention")
        assert page.status_code == 200
        assert 'href="/admin/retention"' in page.text  # in the navigation
        assert "No closed case is to be purged within the next 14 days." in page.text

    def test_the_list_shows_what_goes_within_fourteen_days_and_a_hold_keeps_it(
        self, console: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        with_retention(session, "NHV", 30)
        now = datetime.now(UTC)
        soon = closed_case(session, "NHV", now - timedelta(days=20))
        later = closed_case(session, "NHV", now - timedelta(days=10))
        sign_in(console, make_person(session, keyring, role=Role.administrator))
        page = console.get("/admin/retention")
        assert soon.reference in page.text and later.reference not in page.text
        label = f'<label for="hold-{soon.reference}-reason">Reason to hold {soon.reference}</label>'
        assert label in page.text
        token = csrf_of(page.text)

        refused = console.post(
            f"/admin/retention/{soon.reference}/hold", data={"csrf_token": token, "reason": " "}
        )
        assert refused.status_code == 422
        assert f'id="hold-{soon.reference}-reason-error"' in refused.text
        assert _case(session, soon).legal_hold_reason == ""

        held = console.post(
            f"/admin/retention/{soon.reference}/hold",
            data={"csrf_token": token, "reason": "Court case 4411/26"},
        )
        assert held.status_code == 200 and held.url.path == "/admin/retention"
        assert "The case is on legal hold" in held.text
        assert "On legal hold: Court case 4411/26" in text_of(held.text)
        assert f'href="/admin/retention/{soon.reference}/release"' in held.text
        assert _case(session, soon).legal_hold_reason == "Court case 4411/26"

        confirm = console.get(f"/admin/retention/{soon.reference}/release")
        assert confirm.status_code == 200
        assert f"Release the legal hold on {soon.reference}?" in confirm.text
        assert _case(session, soon).legal_hold_reason == "Court case 4411/26"  # not yet
        released = console.post(
            f"/admin/retention/{soon.reference}/release", data={"csrf_token": csrf_of(confirm.text)}
        )
        assert released.status_code == 200 and "The hold is released" in released.text
        assert _case(session, soon).legal_hold_reason == ""
        actions = session.exec(
            select(AuditEntry.action)
            .where(AuditEntry.object_type == "case", AuditEntry.object_id == soon.reference)
            .order_by(col(AuditEntry.seq))
        ).all()
        assert actions == ["case.legal_hold_placed", "case.legal_hold_released"]

    def test_a_case_of_another_port_or_none_is_not_found_and_a_triager_is_refused(
        self, console: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        case = closed_case(session, "NHV", datetime.now(UTC) - timedelta(days=400))
        sign_in(console, make_person(session, keyring, role=Role.administrator))
        token = csrf_of(console.get("/admin/retention").text)
        missing = console.post(
            "/admin/retention/C-NOTHING0/hold", data={"csrf_token": token, "reason": "Inquiry"}
        )
        assert missing.status_code == 404
        assert console.get("/admin/retention/C-NOTHING0/release").status_code == 404
        other = browser(console)
        sign_in(other, make_person(session, keyring, role=Role.triager))
        assert other.get("/admin/retention").status_code == 403
        assert 'href="/admin/retention"' not in other.get("/admin/triage").text
        assert _case(session, case).legal_hold_reason == ""


class TestTheClosedCase:
    def test_the_triager_reads_when_it_is_purged_then_that_it_is_held(
        self, console: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        with_retention(session, "NHV", 60)
        closed_at = datetime(2026, 1, 10, 8, 15, tzinfo=UTC)
        case = closed_case(session, "NHV", closed_at)
        sign_in(console, make_person(session, keyring, role=Role.triager))
        page = console.get(f"/admin/cases/{case.id}")
        assert page.status_code == 200, page.text
        assert "Purged on 2026-03-11 08:15" in page.text
        case.legal_hold_reason = "Court case 4411/26"
        session.add(case)
        session.commit()
        page = console.get(f"/admin/cases/{case.id}")
        assert "On legal hold: Court case 4411/26" in page.text
        assert "Purged on" not in page.text
