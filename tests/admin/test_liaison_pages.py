"""The liaison officer's pages in the console: the referrals to their own body and nothing
else, one referral as triage shared it, and working it through forms into the timeline."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from api.agencies.models import Body
from api.audit.models import AuditEntry
from api.cases.models import Case
from api.crypto import KeyRing
from api.policy import Role
from api.referrals.models import Referral, ReferralEvent
from api.reports.models import Report
from tests.admin.people import browser, csrf_of, make_person, sign_in
from tests.factories import jpeg_bytes, log_in, make_staff, post_report, sign_in_staff

SUMMARY = "A clerk takes cash at the <b>gate</b>."
QUESTION = "Which lane, and at what time of night?"
EDITED = "Which lane was it, and at about what time?"
ANSWER = "Lane 4, after midnight."
OUTCOME = "The clerk was suspended."


@dataclass
class Referred:
    receipt: str
    case_id: int
    reference: str
    triage: TestClient
    triage_headers: dict[str, str]


def _body_id(session: Session, code: str) -> int:
    body_id = session.exec(select(Body.id).where(Body.code == code)).one()
    assert body_id is not None
    return body_id


def _refer(
    console: TestClient, session: Session, keyring: KeyRing, body: str = "police-port-unit"
) -> Referred:
    """A report with a photo, referred to ``body`` through the API by a triager signed in
    on a browser of their own."""
    triage = browser(console)
    sent = post_report(triage, files=[("lane4.jpg", jpeg_bytes(), "image/jpeg")]).json()
    case_id = session.exec(
        select(Report.case_id).where(Report.reference == sent["reference"])
    ).one()
    assert case_id is not None
    triager, secret = make_staff(session, keyring, role=Role.triager)
    headers = sign_in_staff(triage, triager, secret)
    created = triage.post(
        f"/api/v1/cases/{case_id}/referrals",
        json={
            "body": body,
            "summary": SUMMARY,
            "tlp": "AMBER",
            "photos": [f"{sent['reference']}/1"],
        },
        headers=headers,
    )
    assert created.status_code == 201, created.text
    return Referred(sent["receipt"], case_id, created.json()["reference"], triage, headers)


def _officer(
    console: TestClient, session: Session, keyring: KeyRing, body: str = "police-port-unit"
) -> None:
    person = make_person(session, keyring, role=Role.liaison, body_id=_body_id(session, body))
    assert sign_in(console, person).status_code == 200


def _text(page: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


def _referral(session: Session, reference: str) -> Referral:
    referral = session.exec(select(Referral).where(Referral.reference == reference)).one()
    session.refresh(referral)
    return referral


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


class TestList:
    def test_the_officer_sees_the_referral_with_its_deadline(
        self, console: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        referred = _refer(console, session, keyring)
        _officer(console, session, keyring)
        listed = console.get("/admin/referrals")
        assert listed.status_code == 200
        assert f'href="/admin/referrals/{referred.reference}"' in listed.text
        text = _text(listed.text)
        referral = _referral(session, referred.reference)
        assert "Acknowledge by (UTC)" in text and _utc(referral.acknowledge_due) in text
        assert "New: not yet acknowledged" in text and "TLP:AMBER" in text
        assert "Overdue" not in text

        referral.acknowledge_due = datetime.now(UTC) - timedelta(hours=1)
        session.add(referral)
        session.flush()
        assert "Overdue" in _text(console.get("/admin/referrals").text)

    def test_pending_questions_are_counted(
        self, console: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        referred = _refer(console, session, keyring)
        _officer(console, session, keyring)
        token = csrf_of(console.get(f"/admin/referrals/{referred.reference}").text)
        console.post(
            f"/admin/referrals/{referred.reference}/messages/question",
            data={"csrf_token": token, "body": QUESTION},
        )
        listed = console.get("/admin/referrals").text
        cell = re.search(r'data-label="Questions waiting for triage">(\d+)<', listed)
        assert cell is not None and cell.group(1) == "1"

    def test_an_officer_whose_body_has_none_sees_the_empty_state(
        self, console: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        _refer(console, session, keyring)
        _officer(console, session, keyring, body="customs")
        listed = console.get("/admin/referrals")
        assert listed.status_code == 200
        assert "No referrals to your body yet." in listed.text
        assert "/admin/referrals/F-" not in listed.text

    def test_a_signed_out_visitor_is_sent_to_sign_in_and_a_triager_is_refused(
        self, console: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        referred = _refer(console, session, keyring)
        for path in ("/admin/referrals", f"/admin/referrals/{referred.reference}"):
            answer = console.get(path, follow_redirects=False)
            assert answer.status_code == 303 and answer.headers["location"] == "/admin/login"
        sign_in(console, make_person(session, keyring, role=Role.triager))
        refused = console.get("/admin/referrals")
        assert refused.status_code == 403 and "You cannot open this page" in refused.text
        assert console.get(f"/admin/referrals/{referred.reference}").status_code == 403


class TestOwnBodyOnly:
    def test_another_bodys_officer_gets_not_found_on_the_page_and_every_form(
        self, console: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        referred = _refer(console, session, keyring)
        _officer(console, session, keyring, body="customs")
        token = csrf_of(console.get("/admin/referrals").text)
        page = console.get(f"/admin/referrals/{referred.reference}")
        assert page.status_code == 404 and "There is no such referral." in page.text
        assert SUMMARY not in _text(page.text)
        for action, data in (
            ("acknowledge", {}),
            ("accept", {}),
            ("decline", {"text": "Not ours."}),
            ("close", {"text": "Done."}),
            ("messages/update", {"body": "We looked."}),
            ("messages/question", {"body": "Who?"}),
        ):
            answer = console.post(
                f"/admin/referrals/{referred.reference}/{action}",
                data={"csrf_token": token, **data},
            )
            assert answer.status_code == 404, (action, answer.text)
            assert "There is no such referral." in answer.text
        referral = _referral(session, referred.reference)
        assert referral.status == "sent"
        events = session.exec(
            select(ReferralEvent.kind).where(ReferralEvent.referral_id == referral.id)
        ).all()
        assert events == ["sent"]
        views = session.exec(
            select(AuditEntry.action).where(AuditEntry.object_id == referred.reference)
        ).all()
        assert "referral.viewed" not in views

    def test_an_unknown_referral_or_step_is_not_found(
        self, console: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        referred = _refer(console, session, keyring)
        _officer(console, session, keyring)
        token = csrf_of(console.get("/admin/referrals").text)
        assert console.get("/admin/referrals/F-NOTHING0").status_code == 404
        unknown = console.post(
            f"/admin/referrals/{referred.reference}/withdraw", data={"csrf_token": token}
        )
        assert unknown.status_code == 404
        assert _referral(session, referred.reference).status == "sent"


class TestReading:
    def test_the_shared_copy_its_photo_inline_and_the_exports(
        self, console: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        referred = _refer(console, session, keyring)
        _officer(console, session, keyring)
        page = console.get(f"/admin/referrals/{referred.reference}")
        assert page.status_code == 200
        assert "<b>gate</b>" not in page.text
        text = _text(page.text)
        assert SUMMARY in text and "Regional police – port unit" in text
        assert "Not shared: the reporter stays anonymous to the body." in text
        photo_url = f"/api/v1/referrals/{referred.reference}/attachments/1"
        assert f'src="{photo_url}"' in page.text
        assert f'alt="Shared photo 1 of referral {referred.reference}"' in page.text
        photo = console.get(photo_url)
        assert photo.status_code == 200 and photo.headers["content-type"] == "image/jpeg"
        for export in ("export.json", "export.stix.json"):
            url = f"/api/v1/referrals/{referred.reference}/{export}"
            assert f'href="{url}"' in page.text
            assert console.get(url).status_code == 200
        assert "Referred to your body" in text and "Triage" in text
        views = session.exec(
            select(AuditEntry.action).where(AuditEntry.object_id == referred.reference)
        ).all()
        assert {"referral.viewed", "referral.photo_viewed", "referral.exported"} <= set(views)


class TestWorking:
    def test_acknowledge_accept_ask_update_and_close_through_the_forms(
        self, console: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        referred = _refer(console, session, keyring)
        _officer(console, session, keyring)
        url = f"/admin/referrals/{referred.reference}"
        page = console.get(url)
        token = csrf_of(page.text)
        assert f'action="{url}/acknowledge"' in page.text
        assert f'action="{url}/close"' not in page.text

        acknowledged = console.post(f"{url}/acknowledge", data={"csrf_token": token})
        assert acknowledged.status_code == 200
        assert acknowledged.url.path == url
        assert "The referral is acknowledged" in acknowledged.text
        assert f'action="{url}/acknowledge"' not in acknowledged.text

        accepted = console.post(f"{url}/accept", data={"csrf_token": token})
        assert "The referral is accepted" in accepted.text
        assert f'action="{url}/decline"' not in accepted.text
        assert f'action="{url}/close"' in accepted.text

        asked = console.post(
            f"{url}/messages/question", data={"csrf_token": token, "body": QUESTION}
        )
        asked_text = _text(asked.text)
        assert "Your question waits for triage's approval" in asked_text
        assert QUESTION in asked_text and "Waiting for triage's approval" in asked_text

        reporter = TestClient(console.app)
        reporter_headers = log_in(reporter, referred.receipt)
        mine = reporter.get("/api/v1/reporter/report", headers=reporter_headers).json()
        assert all(QUESTION not in message["body"] for message in mine["messages"])
        approved = referred.triage.post(
            f"/api/v1/cases/{referred.case_id}/referrals/{referred.reference}/questions/4",
            json={"approve": True, "body": EDITED},
            headers=referred.triage_headers,
        )
        assert approved.status_code == 204, approved.text
        answered = reporter.post(
            "/api/v1/reporter/messages", json={"body": ANSWER}, headers=reporter_headers
        )
        assert answered.status_code == 201

        updated = console.post(
            f"{url}/messages/update",
            data={"csrf_token": token, "body": "We spoke to the terminal."},
        )
        assert "Your update is in the timeline" in updated.text
        closed = console.post(f"{url}/close", data={"csrf_token": token, "text": OUTCOME})
        assert "The referral is closed" in closed.text
        assert "This referral is no longer being worked." in closed.text
        assert 'method="post" action="/admin/referrals/' not in closed.text

        text = _text(closed.text)
        for expected in (
            "Acknowledged",
            "Accepted",
            "Question for the reporter",
            "Answered by the reporter",
            "Question as triage passed it on",
            EDITED,
            "The reporter's answer",
            ANSWER,
            "Update",
            "We spoke to the terminal.",
            "Closed with an outcome",
            OUTCOME,
        ):
            assert expected in text, expected
        assert "Your body" in text and "Reporter ·" in text
        kinds = session.exec(
            select(ReferralEvent.kind)
            .where(ReferralEvent.referral_id == _referral(session, referred.reference).id)
            .order_by(col(ReferralEvent.seq))
        ).all()
        assert kinds == [
            "sent",
            "acknowledged",
            "accepted",
            "question",
            "question_edited",
            "answer",
            "update",
            "closed",
        ]
        mine = reporter.get("/api/v1/reporter/report", headers=reporter_headers).json()
        assert (mine["messages"][-1]["author"], mine["messages"][-1]["body"]) == (
            "authority",
            OUTCOME,
        )

    def test_declining_needs_a_reason_then_sends_the_case_back_to_triage(
        self, console: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        referred = _refer(console, session, keyring)
        _officer(console, session, keyring)
        url = f"/admin/referrals/{referred.reference}"
        page = console.get(url)
        assert "sends the case back to triage" in page.text
        token = csrf_of(page.text)

        refused = console.post(f"{url}/decline", data={"csrf_token": token, "text": "   "})
        assert refused.status_code == 422
        assert "Say why the body declines: triage reads it." in refused.text
        assert 'id="decline-text-error"' in refused.text and 'href="#decline-text"' in refused.text
        assert 'aria-invalid="true"' in refused.text
        assert _referral(session, referred.reference).status == "sent"

        reason = "Not our jurisdiction: private terminal."
        declined = console.post(f"{url}/decline", data={"csrf_token": token, "text": reason})
        assert declined.status_code == 200
        assert "The case is back with triage" in declined.text
        assert reason in _text(declined.text)
        assert _referral(session, referred.reference).status == "declined"
        case = session.get(Case, referred.case_id)
        assert case is not None
        session.refresh(case)
        assert case.status == "in_progress"

    def test_an_empty_outcome_or_message_is_refused_and_nothing_stored(
        self, console: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        referred = _refer(console, session, keyring)
        _officer(console, session, keyring)
        url = f"/admin/referrals/{referred.reference}"
        token = csrf_of(console.get(url).text)
        too_early = console.post(f"{url}/close", data={"csrf_token": token, "text": OUTCOME})
        assert too_early.status_code == 409
        assert "This referral cannot take that step now." in too_early.text
        console.post(f"{url}/accept", data={"csrf_token": token})

        no_outcome = console.post(f"{url}/close", data={"csrf_token": token, "text": ""})
        assert no_outcome.status_code == 422
        assert "Write the outcome: the reporter reads it." in no_outcome.text
        assert 'id="close-text-error"' in no_outcome.text

        for kind in ("question", "update"):
            empty = console.post(f"{url}/messages/{kind}", data={"csrf_token": token, "body": " "})
            assert empty.status_code == 422, kind
            assert f'id="{kind}-body-error"' in empty.text
            assert "Write a message first." in empty.text

        kept = console.post(
            f"{url}/messages/update", data={"csrf_token": token, "body": "x" * 10_001}
        )
        assert kept.status_code == 422 and 'href="#update-body"' in kept.text

        without_token = console.post(f"{url}/accept", data={})
        assert without_token.status_code == 403
        referral = _referral(session, referred.reference)
        assert referral.status == "accepted"
        events = session.exec(
            select(ReferralEvent.kind).where(ReferralEvent.referral_id == referral.id)
        ).all()
        assert sorted(events) == ["accepted", "sent"]
