"""The reporter's timeline: every step the reporter may know, in their language, dated to
the day; a body named only where it agreed to be; the outcome of a body changes the
reporter's status at once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from babel.dates import format_date
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api.agencies.models import Body
from api.crypto import KeyRing
from api.policy import Role
from api.reports.models import Report
from tests.factories import log_in, make_staff, post_report, report_payload, sign_in_staff
from tests.mobile.test_pages import log_in_page

BODY = "police-port-unit"
QUESTION = "Which lane was it?"
OUTCOME = "Two arrests; the seals are being replaced."


@dataclass
class Journey:
    """A report, its reporter, a triager and a liaison officer of BODY, all signed in."""

    receipt: str
    reporter: TestClient
    reporter_headers: dict[str, str]
    triage: TestClient
    triage_headers: dict[str, str]
    body: TestClient
    body_headers: dict[str, str]
    case_id: int
    session: Session

    def view(self, language: str = "en") -> dict[str, Any]:
        answer = self.reporter.get(
            "/api/v1/reporter/report", params={"lang": language}, headers=self.reporter_headers
        )
        assert answer.status_code == 200, answer.text
        return answer.json()  # type: ignore[no-any-return]

    def events(self, language: str = "en") -> list[tuple[str, str]]:
        return [(event["event"], event["label"]) for event in self.view(language)["timeline"]]

    def triage_post(self, path: str, payload: dict[str, Any] | None = None) -> None:
        answer = self.triage.post(
            f"/api/v1/cases/{self.case_id}{path}", json=payload, headers=self.triage_headers
        )
        assert answer.status_code in (201, 204), answer.text

    def refer(self) -> str:
        answer = self.triage.post(
            f"/api/v1/cases/{self.case_id}/referrals",
            json={"body": BODY, "summary": "Seals cut at night.", "tlp": "AMBER"},
            headers=self.triage_headers,
        )
        assert answer.status_code == 201, answer.text
        return str(answer.json()["reference"])

    def body_closes(self, reference: str) -> None:
        for step, text in (("accept", None), ("close", OUTCOME)):
            answer = self.body.post(
                f"/api/v1/referrals/{reference}/{step}",
                json={"text": text},
                headers=self.body_headers,
            )
            assert answer.status_code == 204, answer.text


def _journey(client: TestClient, session: Session, keyring: KeyRing, language: str) -> Journey:
    sent = post_report(client, payload=report_payload(language=language))
    assert sent.status_code == 201, sent.text
    reference, receipt = sent.json()["reference"], sent.json()["receipt"]
    case_id = session.exec(select(Report.case_id).where(Report.reference == reference)).one()
    assert case_id is not None
    triage = TestClient(client.app)
    triager, secret = make_staff(session, keyring, role=Role.triager)
    triage_headers = sign_in_staff(triage, triager, secret)
    body = TestClient(client.app)
    body_id = session.exec(select(Body.id).where(Body.code == BODY)).one()
    officer, officer_secret = make_staff(session, keyring, role=Role.liaison, body_id=body_id)
    body_headers = sign_in_staff(body, officer, officer_secret)
    reporter = TestClient(client.app)
    return Journey(
        receipt=receipt,
        reporter=reporter,
        reporter_headers=log_in(reporter, receipt),
        triage=triage,
        triage_headers=triage_headers,
        body=body,
        body_headers=body_headers,
        case_id=case_id,
        session=session,
    )


def _name_the_body(session: Session, named: bool) -> None:
    body = session.exec(select(Body).where(Body.code == BODY)).one()
    body.named_to_reporter = named
    session.add(body)
    session.flush()


def _walk(journey: Journey) -> None:
    """Acknowledge, ask, answer, refer, the body's outcome."""
    journey.triage_post("/acknowledge")
    reporter = journey.view()["reference"]
    journey.triage_post("/messages", {"report": reporter, "body": QUESTION, "question": True})
    answered = journey.reporter.post(
        "/api/v1/reporter/messages", json={"body": "Lane 4."}, headers=journey.reporter_headers
    )
    assert answered.status_code == 201, answered.text
    journey.body_closes(journey.refer())


STEPS = ["received", "acknowledged", "question", "answered", "referred", "outcome"]
LABELS = {
    "en": [
        "Report received",
        "The team acknowledged your report",
        "You were asked a question",
        "You answered",
        "Passed to a competent authority",
        "The authority gave its outcome",
    ],
    "fr": [
        "Signalement reçu",
        "L’équipe a accusé réception de votre signalement",
        "Une question vous a été posée",
        "Vous avez répondu",
        "Transmis à une autorité compétente",
        "L’autorité a fait connaître le résultat",
    ],
    "ar": [
        "تم استلام البلاغ",
        "أكّد الفريق استلام بلاغك",
        "طُرح عليك سؤال",
        "أجبت",
        "أُحيل إلى جهة مختصة",
        "أعلنت الجهة النتيجة",
    ],
}


class TestEveryStep:
    @pytest.mark.parametrize("language", ["en", "fr", "ar"])
    def test_each_step_is_listed_in_the_reporters_language_dated_to_the_day(
        self, language: str, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        journey = _journey(client, session, keyring, language)
        _name_the_body(session, named=False)
        _walk(journey)
        view = journey.view(language)
        assert [event["event"] for event in view["timeline"]] == STEPS
        assert [event["label"] for event in view["timeline"]] == LABELS[language]
        today = datetime.now(UTC).date().isoformat()
        assert {event["day"] for event in view["timeline"]} == {today}
        # Nothing of the body, nor any internal text, is in what the reporter reads.
        shown = str(view["timeline"]) + view["status_label"]
        assert "Police" not in shown and BODY not in shown and "Seals cut" not in shown

    def test_closing_and_reopening_are_steps_too(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        journey = _journey(client, session, keyring, "en")
        journey.triage_post(
            "/close", {"resolution": "not_substantiated", "outcome": "Nothing was found."}
        )
        journey.triage_post("/reopen")
        assert [event for event, _label in journey.events()] == ["received", "closed", "reopened"]
        assert journey.view()["status"] == "received"


class TestANamedBody:
    def test_a_body_that_agreed_to_be_named_is_named_in_its_steps(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        journey = _journey(client, session, keyring, "en")
        _name_the_body(session, named=True)
        _walk(journey)
        name = session.exec(select(Body.name).where(Body.code == BODY)).one()
        labels = dict(journey.events())
        assert labels["referred"] == f"Passed to {name}"
        assert labels["outcome"] == f"{name} gave its outcome"


class TestTheOutcomeReachesTheReporterAtOnce:
    def test_a_body_closing_with_an_outcome_changes_the_status_before_triage_closes(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        journey = _journey(client, session, keyring, "en")
        reference = journey.refer()
        assert journey.view()["status"] == "referred"
        journey.body_closes(reference)
        view = journey.view()
        assert view["status"] == "outcome"
        assert "said what came of it" in view["status_label"]
        assert OUTCOME in [message["body"] for message in view["messages"]]
        journey.triage_post(
            "/close", {"resolution": "referred_and_handled", "outcome": "Thank you."}
        )
        assert journey.view()["status"] == "closed"
        assert [event for event, _label in journey.events()][-1] == "closed"


class TestThePage:
    def test_what_happened_so_far_lists_each_step_with_its_day_written_out(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        journey = _journey(client, session, keyring, "fr")
        journey.triage_post("/acknowledge")
        assert log_in_page(client, journey.receipt).status_code == 303
        page = client.get("/my-report?lang=fr").text
        timeline = page[page.index('class="timeline"') : page.index("</ol>")]
        today = datetime.now(UTC).date()
        written = format_date(today, format="long", locale="fr")
        assert f'<time datetime="{today.isoformat()}">{written}</time>' in timeline
        assert timeline.count("<li>") == 2
        assert "Signalement reçu" in timeline
        assert "L’équipe a accusé réception de votre signalement" in timeline
