"""The triage queue in the console: what is due first, filtered, counted, fifty a page."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api.agencies.models import Body
from api.cases import service as cases_service
from api.cases.models import Case
from api.cases.schemas import CaseStatus, QueueFilter
from api.crypto import KeyRing
from api.errors import Forbidden
from api.policy import Role
from api.ports.models import Port
from api.reports.models import Report
from api.taxonomy.models import Category
from tests.admin.people import CONSOLE_URL, browser, make_person, sign_in
from tests.factories import post_report, report_payload


def text_of(page: str) -> str:
    """The words of a page, without its tags, as a person reads them."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))


def report_case(console: TestClient, session: Session, **payload: Any) -> Case:
    """The case that a report sent from a phone opened."""
    response = post_report(console, report_payload(**payload))
    assert response.status_code == 201, response.text
    reference = response.json()["reference"]
    report = session.exec(select(Report).where(Report.reference == reference)).one()
    case = session.get(Case, report.case_id)
    assert case is not None
    return case


def change(session: Session, case: Case, **fields: Any) -> Case:
    for name, value in fields.items():
        setattr(case, name, value)
    session.add(case)
    session.flush()
    return case


def rows(page: str) -> list[str]:
    """The references of the queue's rows, top to bottom."""
    return re.findall(r'<a href="/admin/cases/\d+" class="reference">([^<]+)</a>', page)


def row_of(page: str, reference: str) -> str:
    """The words of the row of the case ``reference``."""
    for row in re.findall(r"<tr[ >].*?</tr>", page, flags=re.DOTALL):
        if f">{reference}<" in row:
            return text_of(row)
    raise AssertionError(f"{reference} is not in the queue")


def page_link(page: str, rel: str) -> str:
    found = re.search(rf'<a class="button" href="([^"]+)" rel="{rel}">', page)
    assert found, f"the page has no {rel} link"
    return found.group(1).replace("&amp;", "&")


@pytest.fixture
def triager(console: TestClient, session: Session, keyring: KeyRing) -> TestClient:
    """The console, signed in as a triager."""
    sign_in(console, make_person(session, keyring, role=Role.triager))
    return console


class TestQueue:
    def test_a_triager_sees_what_is_due_first_with_its_deadline_and_overdue_cases_marked(
        self, triager: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        later = report_case(triager, session)
        overdue = change(
            session,
            report_case(triager, session),
            due_at=datetime.now(UTC) - timedelta(days=2),
            title="Seal cut at stack 14",
        )
        acknowledged = report_case(triager, session)
        person = make_person(session, keyring)
        cases_service.acknowledge(
            session=session, actor=person.staff, case_id=acknowledged.id or 0, now=datetime.now(UTC)
        )
        change(session, later, assignee_id=person.staff.id, severity=3)
        cases_service.set_tags(session=session, case=later, tags=["reefer", "night"])
        session.flush()

        page = triager.get("/admin/triage")

        assert page.status_code == 200
        assert rows(page.text) == [overdue.reference, later.reference, acknowledged.reference]
        assert "Cases 1 to 3 of 3" in text_of(page.text)
        assert f'href="/admin/cases/{overdue.id}"' in page.text
        first = row_of(page.text, overdue.reference)
        assert "Seal cut at stack 14" in first
        assert "Acknowledge by" in first and "Overdue" in first
        assert overdue.due_at is not None and overdue.due_at.strftime("%Y-%m-%d %H:%M") in first
        second = row_of(page.text, later.reference)
        assert "Overdue" not in second and "Untitled" in second
        assert "New" in second and "Incident" in second
        assert "A seal or cargo was tampered with" in second
        assert "Port of Norderhaven" in second and "Container terminal North" in second
        assert person.staff.email in second and "reefer" in second and "night" in second
        third = row_of(page.text, acknowledged.reference)
        assert "Feedback by" in third and "Acknowledged" in third and "Nobody" in third

    def test_each_filter_narrows_the_rows(
        self, triager: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        person = make_person(session, keyring)
        inbound = report_case(triager, session)
        outbound = report_case(
            triager, session, zone="gate-main", cargo_direction="outbound", category="theft"
        )
        integrity = report_case(
            triager,
            session,
            kind="integrity",
            category="bribery-port-staff",
            port="KVL",
            zone="ferry",
        )
        ferry = report_case(triager, session, zone="ferry")
        change(session, inbound, severity=2, assignee_id=person.staff.id)
        change(session, outbound, due_at=datetime.now(UTC) - timedelta(hours=1))
        closed = change(session, report_case(triager, session), status="closed", due_at=None)
        everyone = [inbound, outbound, integrity, ferry]

        def found(**params: str) -> set[str]:
            page = triager.get("/admin/triage", params=params)
            assert page.status_code == 200, page.text
            return set(rows(page.text))

        assert found() == {case.reference for case in everyone}
        assert found(kind="integrity") == {integrity.reference}
        assert found(category="theft") == {outbound.reference}
        assert found(port="KVL") == {integrity.reference}
        assert found(zone="NHV/gate-main") == {outbound.reference}
        # "ferry" is a zone of both ports: the one chosen is the one shown.
        assert found(zone="KVL/ferry") == {integrity.reference}
        assert found(zone="NHV/ferry") == {ferry.reference}
        assert found(severity="2") == {inbound.reference}
        assert found(assignee=str(person.staff.id)) == {inbound.reference}
        assert found(overdue="1") == {outbound.reference}
        assert found(cargo_direction="outbound") == {outbound.reference}
        assert found(status="closed") == {closed.reference}
        assert found(status="new", kind="incident", port="NHV") == {
            inbound.reference,
            outbound.reference,
            ferry.reference,
        }

    def test_the_filters_stay_chosen_on_the_page_they_lead_to(self, triager: TestClient) -> None:
        page = triager.get(
            "/admin/triage",
            params={"category": "theft", "zone": "NHV/quay", "overdue": "1", "search": "x<y"},
        )
        assert '<option value="theft" selected>' in page.text
        assert '<option value="NHV/quay" selected>' in page.text
        assert 'value="1" checked>' in page.text
        assert 'value="x&lt;y"' in page.text
        assert 'href="/admin/triage">Clear the filters</a>' in page.text

    def test_search_finds_references_titles_and_tags(
        self, triager: TestClient, session: Session
    ) -> None:
        by_reference = report_case(triager, session)
        by_title = change(session, report_case(triager, session), title="Drone over berth 7")
        by_tag = report_case(triager, session)
        cases_service.set_tags(session=session, case=by_tag, tags=["drone-sighting"])
        session.flush()

        def found(term: str) -> set[str]:
            return set(rows(triager.get("/admin/triage", params={"search": term}).text))

        assert found(by_reference.reference.lower()) == {by_reference.reference}
        assert found("drone") == {by_title.reference, by_tag.reference}
        assert found("berth 7") == {by_title.reference}

    def test_fifty_cases_a_page_and_the_pages_keep_the_filters(
        self, triager: TestClient, session: Session
    ) -> None:
        # The queue lists cases: opening them directly spares sealing 55 reports.
        port = session.exec(select(Port).where(Port.code == "NHV")).one()
        category = session.exec(select(Category).where(Category.code == "theft")).one()
        start = datetime(2031, 3, 1, 8, tzinfo=UTC)
        for hour in range(55):
            cases_service.open_case(
                session=session,
                kind="incident",
                category_id=category.id or 0,
                port_id=port.id or 0,
                zone_id=None,
                cargo_direction="outbound",
                received_hour=start + timedelta(hours=hour),
            )
        report_case(triager, session, cargo_direction="inbound")

        first = triager.get("/admin/triage", params={"cargo_direction": "outbound"})
        assert "Cases 1 to 50 of 55" in text_of(first.text)
        assert len(rows(first.text)) == 50
        assert "Page 1 of 2" in text_of(first.text)
        next_url = page_link(first.text, "next")
        assert "cargo_direction=outbound" in next_url and "page=2" in next_url

        second = triager.get(next_url)
        assert "Cases 51 to 55 of 55" in text_of(second.text)
        assert len(rows(second.text)) == 5
        assert set(rows(first.text)).isdisjoint(rows(second.text))
        previous_url = page_link(second.text, "prev")
        assert "cargo_direction=outbound" in previous_url and "page=" not in previous_url
        assert rows(triager.get(previous_url).text) == rows(first.text)

    def test_the_counts_per_status_follow_the_other_filters(
        self, triager: TestClient, session: Session
    ) -> None:
        report_case(triager, session)
        report_case(triager, session)
        change(session, report_case(triager, session), status="in_progress")
        change(session, report_case(triager, session), status="closed", due_at=None)
        report_case(triager, session, kind="integrity", category="bribery-port-staff")

        counts = text_of(triager.get("/admin/triage", params={"kind": "incident"}).text)
        assert "All open 3 New 2 Acknowledged 0 In progress 1" in counts
        # Closed cases are counted only when asked for: the tab has no number until then.
        assert "Referred 0 Closed Case" in counts
        everything = text_of(triager.get("/admin/triage").text)
        assert "All open 4 New 3" in everything

        closed = triager.get("/admin/triage", params={"kind": "incident", "status": "closed"})
        assert "Cases 1 to 1 of 1" in text_of(closed.text)
        assert "Closed 1" in text_of(closed.text)
        assert re.search(
            r'href="/admin/triage\?status=closed&amp;kind=incident" aria-current="page">Closed',
            closed.text,
        )
        assert 'href="/admin/triage?kind=incident">All open' in closed.text


class TestEmptyStates:
    def test_an_empty_queue_says_new_reports_will_appear(self, triager: TestClient) -> None:
        page = triager.get("/admin/triage")
        assert page.status_code == 200
        assert "No open cases. New reports will appear here." in page.text
        assert "No case matches these filters." not in page.text
        assert "Clear the filters" not in page.text

    def test_a_filter_without_a_match_offers_to_clear_it(
        self, triager: TestClient, session: Session
    ) -> None:
        report_case(triager, session)
        page = triager.get("/admin/triage", params={"kind": "integrity"})
        assert page.status_code == 200
        assert "No case matches these filters." in page.text
        assert "No open cases" not in page.text
        assert 'href="/admin/triage">Clear the filters</a>' in page.text


WRONG_VALUES = [
    ({"category": "no-such-thing"}, "category", "There is no such category."),
    ({"severity": "7"}, "severity", "Choose a severity from 1 to 4."),
    ({"status": "lost"}, "status", "Choose a status from the list."),
    ({"kind": "gossip"}, "kind", "Choose a kind of report from the list."),
    ({"port": "XXX"}, "port", "There is no such port."),
    ({"zone": "ct-north"}, "zone", "There is no such zone."),
    ({"port": "KVL", "zone": "NHV/quay"}, "zone", "This zone is not in the chosen port."),
    ({"assignee": "abc"}, "assignee", "Choose a triager from the list."),
    ({"cargo_direction": "up"}, "cargo_direction", "Choose a cargo direction from the list."),
    ({"search": "x" * 101}, "search", "Search for at most 100 characters."),
]


class TestWrongValues:
    # One sign-in for all the values: signing in is what takes the time.
    def test_a_wrong_filter_is_explained_next_to_its_field(self, triager: TestClient) -> None:
        for params, field, message in WRONG_VALUES:
            page = triager.get("/admin/triage", params=params)
            assert page.status_code == 422, params
            assert f'<p class="error" id="{field}-error">{message}</p>' in page.text, params
            assert f'<a href="#{field}">{message}</a>' in page.text, params
            assert 'aria-invalid="true"' in page.text, params
            assert "Correct the filters to see the cases." in page.text, params

    def test_a_page_that_does_not_exist_is_explained(
        self, triager: TestClient, session: Session
    ) -> None:
        report_case(triager, session)
        assert triager.get("/admin/triage", params={"page": "1"}).status_code == 200
        for page in ["abc", "0", "-1", "2", "99999999999", "1.5", "²"]:
            response = triager.get("/admin/triage", params={"page": page})
            assert response.status_code == 422, page
            assert "There is no such page of cases." in response.text, page


class TestWhoMayOpenIt:
    @pytest.mark.parametrize("role", [Role.liaison, Role.auditor, Role.administrator])
    def test_other_roles_are_refused(
        self, console: TestClient, session: Session, keyring: KeyRing, role: Role
    ) -> None:
        body = session.exec(select(Body)).first()
        assert body is not None
        sign_in(console, make_person(session, keyring, role=role, body_id=body.id))
        page = console.get("/admin/triage")
        assert page.status_code == 403
        assert "You cannot open this page" in page.text

    def test_someone_signed_out_is_sent_to_sign_in(self, console: TestClient) -> None:
        response = browser(console).get("/admin/triage?kind=integrity", follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] in {"/admin/login", f"{CONSOLE_URL}/admin/login"}


class TestStatusCounts:
    def test_every_status_is_counted_under_the_other_filters(
        self, triager: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        person = make_person(session, keyring)
        report_case(triager, session)
        change(session, report_case(triager, session), status="referred")
        change(session, report_case(triager, session), status="closed", due_at=None)
        report_case(triager, session, zone="quay")

        counts = cases_service.status_counts(
            session=session,
            actor=person.staff,
            filters=QueueFilter(status=[CaseStatus.closed], zone="ct-north"),
            now=datetime.now(UTC),
        )

        assert counts == {
            "new": 1,
            "acknowledged": 0,
            "in_progress": 0,
            "waiting_for_reporter": 0,
            "referred": 1,
            "closed": 1,
        }

    def test_closed_cases_are_counted_only_when_asked_for(
        self, triager: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        person = make_person(session, keyring)
        report_case(triager, session)
        change(session, report_case(triager, session), status="closed", due_at=None)
        counts = cases_service.status_counts(
            session=session, actor=person.staff, filters=QueueFilter(), now=datetime.now(UTC)
        )
        assert counts["closed"] is None and (counts["new"] or 0) >= 1
        assert "Referred 0 Closed Case" in text_of(triager.get("/admin/triage").text)

    def test_only_triagers_may_count(self, session: Session, keyring: KeyRing) -> None:
        auditor = make_person(session, keyring, role=Role.auditor, enrolled=False)
        with pytest.raises(Forbidden):
            cases_service.status_counts(
                session=session, actor=auditor.staff, filters=QueueFilter(), now=datetime.now(UTC)
            )
