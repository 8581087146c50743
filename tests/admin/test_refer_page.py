"""Referring from the console: the recommended bodies, a preview that stores nothing, the
referral sent, and the bodies that can never receive the case refused here too."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy import func
from sqlmodel import Session, select

from api.crypto import KeyRing
from api.policy import Role
from api.referrals import liaison as liaison_service
from api.referrals.models import OutboxJob, Referral
from api.reports.models import Report
from api.staff.models import Staff
from tests.admin.people import csrf_of, make_person, sign_in
from tests.factories import log_in, post_report, report_payload

NARRATIVE = "The clerk at lane 4 takes cash to skip the weight check."


def _case(console: TestClient, session: Session, **payload: object) -> int:
    sent = post_report(console, report_payload(narrative=NARRATIVE, **payload)).json()
    case_id = session.exec(
        select(Report.case_id).where(Report.reference == sent["reference"])
    ).one()
    assert case_id is not None
    return case_id


def _referrals(session: Session) -> int:
    return session.exec(select(func.count()).select_from(Referral)).one()


def _referred(console: TestClient, session: Session, keyring: KeyRing) -> tuple[int, str]:
    """A new case referred to the police by a triager signed in on ``console``; its id
    and the console's CSRF token."""
    case_id = _case(console, session)
    sign_in(console, make_person(session, keyring, role=Role.triager))
    token = csrf_of(console.get(f"/admin/cases/{case_id}/refer").text)
    console.post(f"/admin/cases/{case_id}/refer", data=_form(token, go="send"))
    return case_id, token


def _form(token: str, **changes: str) -> dict[str, str]:
    form = {
        "csrf_token": token,
        "body": "police-port-unit",
        "summary": "A clerk at lane 4 takes cash.",
        "tlp": "AMBER",
        "acknowledge_due": "",
        "go": "preview",
    }
    form.update(changes)
    return form


class TestReferring:
    def test_compose_preview_then_send(
        self, console: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        case_id = _case(console, session, category="seal-tampering")
        sign_in(console, make_person(session, keyring, role=Role.triager))
        page = console.get(f"/admin/cases/{case_id}/refer")
        assert page.status_code == 200
        assert NARRATIVE in page.text and "Recommended by the rule" in page.text
        token = csrf_of(page.text)

        preview = console.post(f"/admin/cases/{case_id}/refer", data=_form(token))
        assert preview.status_code == 200, preview.text
        assert (
            "This is exactly what" in preview.text
            and "A clerk at lane 4 takes cash." in preview.text
        )
        assert _referrals(session) == 0

        sent = console.post(f"/admin/cases/{case_id}/refer", data=_form(token, go="send"))
        assert sent.status_code == 200
        assert "The case is referred" in sent.text and "Sent, not yet acknowledged" in sent.text
        assert _referrals(session) == 1
        assert session.exec(select(func.count()).select_from(OutboxJob)).one() >= 1

    def test_the_case_page_lists_the_recommended_bodies_with_their_rules(
        self, console: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        case_id = _case(
            console,
            session,
            kind="integrity",
            category="corruption-officials",
            exclude_bodies=["police-port-unit"],
        )
        sign_in(console, make_person(session, keyring, role=Role.triager))
        page = console.get(f"/admin/cases/{case_id}")
        recommended = page.text[page.text.index("Recommended bodies") :]
        recommended = recommended[: recommended.index("</ul>")]
        assert "National anti-corruption office" in recommended
        assert "Recommended by the rule" in recommended and "Customs" not in recommended
        assert "A reporter excluded this body" in recommended  # the police, excluded
        assert f"/admin/cases/{case_id}/refer?body=anti-corruption" in recommended

    def test_an_excluded_body_is_offered_disabled_and_refused_if_posted(
        self, console: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        case_id = _case(console, session, exclude_bodies=["police-port-unit"])
        sign_in(console, make_person(session, keyring, role=Role.triager))
        page = console.get(f"/admin/cases/{case_id}/refer")
        assert (
            'id="body-police-port-unit" name="body" value="police-port-unit" disabled' in page.text
        )
        assert "A reporter excluded this body" in page.text
        for go in ("preview", "send"):
            refused = console.post(
                f"/admin/cases/{case_id}/refer", data=_form(csrf_of(page.text), go=go)
            )
            assert refused.status_code == 403
            assert "can never receive this case" in refused.text
        assert _referrals(session) == 0

    def test_marking_a_body_implicated_withdraws_its_referral(
        self, console: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        case_id, token = _referred(console, session, keyring)
        case_page = console.get(f"/admin/cases/{case_id}").text
        # No body is chosen for the triager: the list starts empty.
        assert '<option value="" selected>Choose a body</option>' in case_page
        reference = session.exec(select(Referral.reference)).one()
        asked = console.post(
            f"/admin/cases/{case_id}/implicated",
            data={"csrf_token": token, "body": "police-port-unit"},
        )
        # First the question, naming the referral it withdraws; nothing has changed yet.
        assert asked.status_code == 200
        assert "Mark Regional police – port unit implicated?" in asked.text
        assert f"Its live referral {reference} is withdrawn at once" in asked.text
        assert 'name="confirmed" value="1"' in asked.text
        assert session.exec(select(Referral.status)).all() == ["sent"]
        marked = console.post(
            f"/admin/cases/{case_id}/implicated",
            data={"csrf_token": token, "body": "police-port-unit", "confirmed": "1"},
        )
        assert "it can never receive this case" in marked.text and "Withdrawn" in marked.text
        refused = console.post(f"/admin/cases/{case_id}/refer", data=_form(token, go="send"))
        assert refused.status_code == 403
        assert session.exec(select(Referral.status)).all() == ["withdrawn"]

    def test_a_reporters_exclusion_shows_the_bodys_name(
        self, console: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        case_id = _case(console, session, exclude_bodies=["police-port-unit"])
        sign_in(console, make_person(session, keyring, role=Role.triager))
        page = console.get(f"/admin/cases/{case_id}").text
        told = page[page.index("Must never be told") :]
        told = told[: told.index("</dd>")]
        assert "Regional police – port unit" in told and "police-port-unit" not in told

    def test_a_body_without_a_referral_is_marked_after_a_question_that_says_so(
        self, console: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        case_id = _case(console, session)
        sign_in(console, make_person(session, keyring, role=Role.triager))
        token = csrf_of(console.get(f"/admin/cases/{case_id}").text)
        asked = console.post(
            f"/admin/cases/{case_id}/implicated", data={"csrf_token": token, "body": "customs"}
        )
        assert "It holds no referral of this case." in asked.text
        nothing = console.post(
            f"/admin/cases/{case_id}/implicated", data={"csrf_token": token, "body": ""}
        )
        assert nothing.status_code == 422
        assert "Choose the body to mark implicated." in nothing.text

    def test_a_body_already_working_the_case_is_not_offered_again_and_says_why(
        self, console: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        case_id, _token = _referred(console, session, keyring)
        page = console.get(f"/admin/cases/{case_id}/refer").text
        assert 'id="body-police-port-unit" name="body" value="police-port-unit" disabled' in page
        assert "Already referred: this body holds a live referral of the case." in page
        assert 'id="body-customs" name="body" value="customs" disabled' not in page

    def test_a_failed_notice_shows_its_error_and_can_be_sent_again(
        self, console: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        case_id, token = _referred(console, session, keyring)
        job = session.exec(select(OutboxJob)).first()
        assert job is not None
        job.status, job.attempts, job.last_error = "failed", 8, "connection refused"
        session.add(job)
        session.commit()
        page = console.get(f"/admin/cases/{case_id}")
        assert "After 8 attempts: connection refused" in page.text
        again = console.post(
            f"/admin/cases/{case_id}/deliveries/{job.id}/retry", data={"csrf_token": token}
        )
        assert "The notice will be sent again." in again.text
        session.refresh(job)
        assert job.status == "pending" and job.next_attempt_at <= datetime.now(UTC)


class TestTheBodysQuestions:
    def test_triage_edits_a_question_and_passes_it_on_as_from_the_authority(
        self, console: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        sent = post_report(console, report_payload(narrative=NARRATIVE)).json()
        case_id = session.exec(
            select(Report.case_id).where(Report.reference == sent["reference"])
        ).one()
        assert case_id is not None
        sign_in(console, make_person(session, keyring, role=Role.triager))
        token = csrf_of(console.get(f"/admin/cases/{case_id}/refer").text)
        console.post(f"/admin/cases/{case_id}/refer", data=_form(token, go="send"))
        referral = session.exec(select(Referral)).one()
        body_id = referral.body_id
        officer = session.exec(select(Staff).where(Staff.body_id == body_id)).first()
        if officer is None:
            officer = make_person(session, keyring, role=Role.liaison, body_id=body_id).staff
        liaison_service.write(
            session=session,
            keyring=keyring,
            actor=officer,
            reference=referral.reference,
            kind="question",
            text="What is the clerk's name and shift?",
            now=datetime.now(UTC),
        )
        session.commit()

        page = console.get(f"/admin/cases/{case_id}")
        assert "waiting for your approval" in page.text
        passed = console.post(
            f"/admin/cases/{case_id}/referrals/{referral.reference}/questions/2",
            data={"csrf_token": token, "go": "pass", "body": "Which shift was it?"},
        )
        assert "The question is in each reporter" in passed.text
        assert "passed on to the reporter" in passed.text
        reporter = TestClient(console.app)
        mine = reporter.get(
            "/api/v1/reporter/report", headers=log_in(reporter, sent["receipt"])
        ).json()
        assert (mine["messages"][-1]["author"], mine["messages"][-1]["body"]) == (
            "authority",
            "Which shift was it?",
        )
        again = console.post(
            f"/admin/cases/{case_id}/referrals/{referral.reference}/questions/2",
            data={"csrf_token": token, "go": "pass", "body": "x"},
        )
        assert again.status_code == 409
