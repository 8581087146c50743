"""A triager reads a case, acknowledges it and talks with the anonymous reporter."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api.audit.models import AuditEntry
from api.crypto import KeyRing
from api.policy import Role
from api.reports.models import Report
from tests.factories import log_in, make_staff, post_report, report_payload, sign_in_staff

NARRATIVE = "The night foreman takes cash from drivers at gate 3."


class TestTriagerAndReporter:
    def test_the_triager_reads_acknowledges_and_asks_and_the_reporter_answers(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        sent = post_report(
            client,
            report_payload(
                identity={"name": "K. Janssens", "contact": "via the union office"},
                narrative=NARRATIVE,
            ),
        ).json()
        report = session.exec(select(Report).where(Report.reference == sent["reference"])).one()
        reporter_client = TestClient(client.app)
        reporter = log_in(reporter_client, sent["receipt"])

        triager, secret = make_staff(session, keyring, role=Role.triager)
        csrf = sign_in_staff(client, triager, secret)
        case = client.get(f"/api/v1/cases/{report.case_id}")
        assert case.status_code == 200, case.text
        shown = case.json()["reports"][0]
        assert shown["narrative"] == NARRATIVE
        assert shown["identity"] == {
            "name": "K. Janssens",
            "contact": "via the union office",
            "may_share": False,
        }

        viewed = session.exec(
            select(AuditEntry).where(
                AuditEntry.action == "case.viewed", AuditEntry.object_id == str(report.case_id)
            )
        ).all()
        assert len(viewed) == 1 and viewed[0].actor == triager.email
        assert "foreman" not in viewed[0].detail and "Janssens" not in viewed[0].detail

        assert (
            client.post(f"/api/v1/cases/{report.case_id}/acknowledge", headers=csrf).status_code
            == 204
        )
        question = {
            "report": sent["reference"],
            "body": "Which gate, and at what time?",
            "question": True,
        }
        assert (
            client.post(
                f"/api/v1/cases/{report.case_id}/messages", json=question, headers=csrf
            ).status_code
            == 204
        )

        mine = reporter_client.get("/api/v1/reporter/report", headers=reporter).json()
        assert mine["status"] == "waiting_for_reporter"
        assert [message["author"] for message in mine["messages"]] == ["team", "team"]
        assert "received" in mine["messages"][0]["body"]
        assert mine["messages"][1]["body"] == "Which gate, and at what time?"

        answer = reporter_client.post(
            "/api/v1/reporter/messages", json={"body": "Gate 3, around 02:00."}, headers=reporter
        )
        assert answer.status_code == 201
        thread = client.get(f"/api/v1/cases/{report.case_id}").json()["reports"][0]["thread"]
        assert [(message["author"], message["body"]) for message in thread][-1] == (
            "reporter",
            "Gate 3, around 02:00.",
        )
        # The answer puts the case back on the team's side.
        assert client.get(f"/api/v1/cases/{report.case_id}").json()["status"] == "in_progress"
        mine = reporter_client.get("/api/v1/reporter/report", headers=reporter).json()
        assert mine["status"] == "in_progress"
        assert mine["status_label"] == "The team is working on your report."

    def test_the_acknowledgement_is_written_in_the_reporters_language(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        sent = post_report(client, report_payload(language="fr")).json()
        report = session.exec(select(Report).where(Report.reference == sent["reference"])).one()
        triager, secret = make_staff(session, keyring, role=Role.triager)
        csrf = sign_in_staff(client, triager, secret)
        client.post(f"/api/v1/cases/{report.case_id}/acknowledge", headers=csrf)
        reporter_client = TestClient(client.app)
        mine = reporter_client.get(
            "/api/v1/reporter/report", headers=log_in(reporter_client, sent["receipt"])
        ).json()
        assert mine["messages"][0]["body"].startswith("Merci")

    def test_other_roles_cannot_read_a_case(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        sent = post_report(client).json()
        report = session.exec(select(Report).where(Report.reference == sent["reference"])).one()
        for role in (Role.administrator, Role.auditor):
            other, secret = make_staff(session, keyring, role=role)
            sign_in_staff(client, other, secret)
            assert client.get(f"/api/v1/cases/{report.case_id}").status_code == 403


def case_id_of(session: Session, reference: str) -> int:
    report = session.exec(select(Report).where(Report.reference == reference)).one()
    assert report.case_id is not None
    return report.case_id


class TestCaseWork:
    def test_classify_link_a_duplicate_close_and_reopen(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        first = post_report(client, report_payload(narrative="Seal of CSQU3054383 cut.")).json()
        second = post_report(
            client, report_payload(narrative="CSQU 305438 3 again, same van.")
        ).json()
        case_id, duplicate_case_id = (
            case_id_of(session, first["reference"]),
            case_id_of(session, second["reference"]),
        )
        triager, secret = make_staff(session, keyring, role=Role.triager)
        csrf = sign_in_staff(client, triager, secret)

        changes = {
            "title": "Seal cut, north terminal",
            "severity": 2,
            "tlp": "AMBER+STRICT",
            "tags": ["Seals", "van"],
        }
        assert (
            client.patch(f"/api/v1/cases/{case_id}", json=changes, headers=csrf).status_code == 204
        )
        queue = client.get("/api/v1/cases", params={"search": "seals", "page_size": 200}).json()
        assert [row["tags"] for row in queue["rows"] if row["id"] == case_id] == [["seals", "van"]]
        bad = client.patch(f"/api/v1/cases/{case_id}", json={"severity": 9}, headers=csrf)
        assert bad.status_code == 422 and bad.json()["error"]["fields"][0]["field"] == "severity"

        linked = client.post(
            f"/api/v1/cases/{case_id}/reports", json={"report": second["reference"]}, headers=csrf
        )
        assert linked.status_code == 204
        detail = client.get(f"/api/v1/cases/{case_id}").json()
        assert [report["reference"] for report in detail["reports"]] == [
            first["reference"],
            second["reference"],
        ]
        assert client.get(f"/api/v1/cases/{duplicate_case_id}").json()["status"] == "closed"

        unlinked = client.delete(
            f"/api/v1/cases/{case_id}/reports/{second['reference']}", headers=csrf
        )
        assert unlinked.status_code == 200
        assert len(client.get(f"/api/v1/cases/{case_id}").json()["reports"]) == 1
        relinked = client.post(
            f"/api/v1/cases/{case_id}/reports", json={"report": second["reference"]}, headers=csrf
        )
        assert relinked.status_code == 204

        closing = {
            "resolution": "substantiated",
            "outcome": "The seal was replaced and the matter passed on.",
        }
        assert (
            client.post(f"/api/v1/cases/{case_id}/close", json=closing, headers=csrf).status_code
            == 204
        )
        assert (
            client.get("/api/v1/cases", params={"search": detail["reference"]}).json()["total"] == 0
        )
        reporter_client = TestClient(client.app)
        mine = reporter_client.get(
            "/api/v1/reporter/report", headers=log_in(reporter_client, second["receipt"])
        ).json()
        assert mine["messages"][-1]["body"] == closing["outcome"]

        assert client.post(f"/api/v1/cases/{case_id}/reopen", headers=csrf).status_code == 204
        assert client.get(f"/api/v1/cases/{case_id}").json()["status"] == "new"
        actions = session.exec(
            select(AuditEntry.action).where(AuditEntry.object_id == str(case_id))
        ).all()
        assert {
            "case.updated",
            "case.report_linked",
            "case.report_unlinked",
            "case.closed",
            "case.reopened",
        } <= set(actions)
