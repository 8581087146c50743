"""Administrators set each port's deadlines on its page, never beyond the Directive's."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api.audit.models import AuditEntry
from api.crypto import KeyRing
from api.policy import Role
from api.ports.models import Port
from tests.admin.people import browser, csrf_of, make_person, sign_in


def _port(session: Session, code: str) -> Port:
    port = session.exec(select(Port).where(Port.code == code)).one()
    session.refresh(port)
    return port


class TestPortDeadlines:
    def test_an_administrator_shortens_a_ports_deadlines(
        self, console: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        sign_in(console, make_person(session, keyring, role=Role.administrator))
        page = console.get("/admin/ports/NHV")
        assert page.status_code == 200
        assert "Port of Norderhaven" in page.text and 'name="acknowledge_days"' in page.text
        saved = console.post(
            "/admin/ports/NHV/deadlines",
            data={"csrf_token": csrf_of(page.text), "acknowledge_days": "3", "feedback_days": "30"},
        )
        assert saved.status_code == 200
        assert "The deadlines are saved." in saved.text
        port = _port(session, "NHV")
        assert (port.acknowledge_days, port.feedback_days) == (3, 30)
        assert session.exec(
            select(AuditEntry).where(AuditEntry.action == "port.deadlines_changed")
        ).first()
        port.acknowledge_days, port.feedback_days = 7, 91
        session.add(port)
        session.commit()

    def test_a_deadline_beyond_the_directive_is_refused_next_to_its_field(
        self, console: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        sign_in(console, make_person(session, keyring, role=Role.administrator))
        token = csrf_of(console.get("/admin/ports/NHV").text)
        refused = console.post(
            "/admin/ports/NHV/deadlines",
            data={"csrf_token": token, "acknowledge_days": "14", "feedback_days": "abc"},
        )
        assert refused.status_code == 422
        assert 'id="deadlines-acknowledge_days-error"' in refused.text
        assert 'id="deadlines-feedback_days-error"' in refused.text
        assert 'value="14"' in refused.text  # what was typed is kept
        port = _port(session, "NHV")
        assert (port.acknowledge_days, port.feedback_days) == (7, 91)
        unknown = console.post(
            "/admin/ports/XXX/deadlines",
            data={"csrf_token": token, "acknowledge_days": "3", "feedback_days": "30"},
        )
        assert unknown.status_code == 404

    def test_a_triager_cannot_open_it(
        self, console: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        other = browser(console)
        sign_in(other, make_person(session, keyring, role=Role.triager))
        assert other.get("/admin/ports").status_code == 403
