"""The case page in the console: reports as text, photos, the thread, notes, classification,
duplicates, closing and reopening; every view audited."""

from __future__ import annotations

import html
import re

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api.audit.models import AuditEntry
from api.cases.models import Case
from api.crypto import KeyRing
from api.policy import Role
from api.reports.models import Report
from tests.admin.people import browser, csrf_of, make_person, sign_in
from tests.factories import jpeg_bytes, log_in, post_report, report_payload

NARRATIVE = "<script>alert('x')</script> The gate 3 foreman\ntakes cash from drivers."


def _sent(console: TestClient, session: Session, **payload: object) -> tuple[dict[str, str], int]:
    response = post_report(console, report_payload(**payload))
    assert response.status_code == 201, response.text
    sent = response.json()
    case_id = session.exec(
        select(Report.case_id).where(Report.reference == sent["reference"])
    ).one()
    assert case_id is not None
    return sent, case_id


def _triager(console: TestClient, session: Session, keyring: KeyRing) -> str:
    person = make_person(session, keyring, role=Role.triager)
    home = sign_in(console, person)
    assert home.status_code == 200
    return person.email


def _views(session: Session, case_id: int) -> int:
    query = select(AuditEntry).where(
        AuditEntry.action == "case.viewed", AuditEntry.object_id == str(case_id)
    )
    return len(session.exec(query).all())


def _text(page: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


class TestReading:
    def test_the_report_is_text_its_photo_inline_and_the_view_audited(
        self, console: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        response = post_report(
            console,
            report_payload(narrative=NARRATIVE, location_detail="<b>Stack</b> 14"),
            files=[('"><img src=x onerror=alert(1)>.jpg', jpeg_bytes(), "image/jpeg")],
        )
        sent = response.json()
        case_id = session.exec(
            select(Report.case_id).where(Report.reference == sent["reference"])
        ).one()
        assert case_id is not None
        _triager(console, session, keyring)

        page = console.get(f"/admin/cases/{case_id}")
        assert page.status_code == 200
        assert "<script>alert" not in page.text and "<b>Stack</b>" not in page.text
        assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; The gate 3 foreman" in page.text
        assert "<img src=x onerror" not in page.text
        photo_url = f"/api/v1/cases/{case_id}/reports/{sent['reference']}/attachments/1"
        assert f'src="{photo_url}"' in page.text
        assert "Acknowledge by" in _text(page.text)
        assert "TLP:AMBER" in page.text
        assert _views(session, case_id) == 1
        photo = console.get(photo_url)
        assert photo.status_code == 200 and photo.headers["cache-control"] == "no-store"

    def test_an_unknown_case_is_a_page_not_found(
        self, console: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        _triager(console, session, keyring)
        missing = console.get("/admin/cases/987654")
        assert missing.status_code == 404 and "There is no such case." in missing.text
        assert console.get("/admin/cases/abc").status_code == 404

    def test_other_roles_and_strangers_cannot_open_a_case(
        self, console: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        _, case_id = _sent(console, session)
        stranger = browser(console)
        assert stranger.get(f"/admin/cases/{case_id}", follow_redirects=False).status_code == 303
        auditor = make_person(session, keyring, role=Role.auditor)
        sign_in(stranger, auditor)
        assert stranger.get(f"/admin/cases/{case_id}").status_code == 403
        assert _views(session, case_id) == 0


class TestWorking:
    def test_acknowledge_ask_and_read_the_answer(
        self, console: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        sent, case_id = _sent(console, session)
        _triager(console, session, keyring)
        page = console.get(f"/admin/cases/{case_id}")
        acknowledged = console.post(
            f"/admin/cases/{case_id}/acknowledge", data={"csrf_token": csrf_of(page.text)}
        )
        assert acknowledged.status_code == 200
        assert "The case is acknowledged" in acknowledged.text
        assert "Feedback by" in _text(acknowledged.text)
        asked = console.post(
            f"/admin/cases/{case_id}/messages",
            data={
                "csrf_token": csrf_of(page.text),
                "report": sent["reference"],
                "body": "Which night?",
                "question": "1",
            },
        )
        assert "Waiting for the reporter" in asked.text and "Which night?" in asked.text

        reporter = TestClient(console.app)
        answer = reporter.post(
            "/api/v1/reporter/messages",
            json={"body": "Tuesday, around 02:00."},
            headers=log_in(reporter, sent["receipt"]),
        )
        assert answer.status_code == 201
        page = console.get(f"/admin/cases/{case_id}")
        assert "Tuesday, around 02:00." in page.text and "In progress" in page.text

    def test_an_empty_message_keeps_the_page_and_names_the_problem(
        self, console: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        sent, case_id = _sent(console, session)
        _triager(console, session, keyring)
        page = console.get(f"/admin/cases/{case_id}")
        refused = console.post(
            f"/admin/cases/{case_id}/messages",
            data={"csrf_token": csrf_of(page.text), "report": sent["reference"], "body": "  "},
        )
        assert refused.status_code == 422
        assert "Write a message first." in refused.text
        assert f'href="#reply-{sent["reference"]}-body"' in refused.text
        assert 'aria-invalid="true"' in refused.text

    def test_a_note_classification_and_a_change_without_the_token(
        self, console: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        _, case_id = _sent(console, session)
        email = _triager(console, session, keyring)
        token = csrf_of(console.get(f"/admin/cases/{case_id}").text)
        noted = console.post(
            f"/admin/cases/{case_id}/notes",
            data={"csrf_token": token, "body": "Check the gate roster."},
        )
        assert "Check the gate roster." in noted.text and email in noted.text
        person_id = session.exec(select(Case.assignee_id).where(Case.id == case_id)).one()
        assert person_id is None
        classified = console.post(
            f"/admin/cases/{case_id}/classify",
            data={
                "csrf_token": token,
                "title": "Cash at gate 3",
                "category": "bribery-port-staff",
                "severity": "3",
                "tlp": "AMBER+STRICT",
                "tags": "Cash, gate 3",
                "assignee_id": "",
            },
        )
        assert classified.status_code == 200, classified.text
        case = session.get(Case, case_id)
        assert case is not None
        session.refresh(case)
        assert (case.title, case.severity, case.tlp, case.kind) == (
            "Cash at gate 3",
            3,
            "AMBER+STRICT",
            "integrity",
        )
        assert "Severity 3: High" in classified.text and "cash, gate 3" in classified.text

        refused = console.post(
            f"/admin/cases/{case_id}/classify",
            data={"csrf_token": token, "title": "x", "category": "seal-tampering", "tlp": "PINK"},
        )
        assert refused.status_code == 422 and 'href="#classify-tlp"' in refused.text
        session.refresh(case)
        assert case.title == "Cash at gate 3"

        without_token = console.post(f"/admin/cases/{case_id}/notes", data={"body": "x"})
        assert without_token.status_code == 403

    def test_link_a_duplicate_from_the_suggestions_unlink_close_and_reopen(
        self, console: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        first, case_id = _sent(console, session, narrative="Seal of CSQU3054383 was cut.")
        second, other_id = _sent(console, session, narrative="CSQU 305438 3 again, new seal.")
        _triager(console, session, keyring)
        page = console.get(f"/admin/cases/{case_id}")
        assert "the same container number" in page.text
        token = csrf_of(page.text)
        linked = console.post(
            f"/admin/cases/{case_id}/link",
            data={"csrf_token": token, "report": second["reference"]},
        )
        assert "The report is now part of this case." in linked.text
        assert "Reports in this case (2)" in linked.text
        assert session.get(Case, other_id) is not None

        unknown = console.post(
            f"/admin/cases/{case_id}/link", data={"csrf_token": token, "report": "R-NOTHING0"}
        )
        assert unknown.status_code == 404 and "There is no such report." in unknown.text

        unlinked = console.post(
            f"/admin/cases/{case_id}/unlink",
            data={"csrf_token": token, "report": second["reference"]},
        )
        assert "Reports in this case (1)" in unlinked.text
        last = console.post(
            f"/admin/cases/{case_id}/unlink",
            data={"csrf_token": token, "report": first["reference"]},
        )
        assert last.status_code == 409 and "A case keeps at least one report." in last.text

        no_resolution = console.post(
            f"/admin/cases/{case_id}/close",
            data={"csrf_token": token, "resolution": "", "outcome": "Done."},
        )
        assert no_resolution.status_code == 422 and 'href="#close-resolution"' in no_resolution.text
        closed = console.post(
            f"/admin/cases/{case_id}/close",
            data={
                "csrf_token": token,
                "resolution": "substantiated",
                "outcome": "The seal was replaced.",
            },
        )
        assert "The case is closed" in closed.text and "Reopen the case" in closed.text
        reporter = TestClient(console.app)
        mine = reporter.get(
            "/api/v1/reporter/report", headers=log_in(reporter, first["receipt"])
        ).json()
        assert mine["messages"][-1]["body"] == "The seal was replaced."
        assert mine["status_label"].startswith("Closed.")
        reopened = console.post(f"/admin/cases/{case_id}/reopen", data={"csrf_token": token})
        assert "The case is open again." in reopened.text
        actions = set(
            session.exec(
                select(AuditEntry.action).where(AuditEntry.object_id == str(case_id))
            ).all()
        )
        assert {
            "case.report_linked",
            "case.report_unlinked",
            "case.closed",
            "case.reopened",
        } <= actions
