"""Every report opens a case; the triage queue puts first what is due first."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api.cases import service
from api.cases.models import Case
from api.cases.schemas import QueueFilter, QueuePage
from api.crypto import KeyRing
from api.policy import Role
from api.reports.models import Report
from api.staff.models import Staff
from tests.factories import make_staff, post_report, report_payload, sign_in_staff


def case_of(session: Session, reference: str) -> Case:
    report = session.exec(select(Report).where(Report.reference == reference)).one()
    assert report.case_id is not None
    case = session.get(Case, report.case_id)
    assert case is not None
    return case


class TestEveryReportOpensACase:
    def test_a_new_report_is_a_new_case_due_for_acknowledgement_in_seven_days(
        self, client: TestClient, session: Session
    ) -> None:
        reference = post_report(client).json()["reference"]
        case = case_of(session, reference)
        assert case.status == "new" and case.kind == "incident"
        assert case.acknowledge_due == case.received_hour + timedelta(days=7)
        assert case.due_at == case.acknowledge_due

    def test_acknowledging_starts_the_three_month_feedback_clock(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        triager, _secret = make_staff(session, keyring, role=Role.triager)
        case = case_of(session, post_report(client).json()["reference"])
        now = datetime.now(UTC)
        acknowledged = service.acknowledge(
            session=session, actor=triager, case_id=case.id or 0, now=now
        )
        assert acknowledged.status == "acknowledged"
        assert acknowledged.feedback_due == now + timedelta(days=91)
        assert acknowledged.due_at == acknowledged.feedback_due


class TestQueue:
    def test_the_queue_is_ordered_by_due_date_filtered_and_counted(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        references = [
            post_report(client, report_payload(cargo_direction="outbound")).json()["reference"],
            post_report(client, report_payload(zone="gate-main", cargo_direction="inbound")).json()[
                "reference"
            ],
            post_report(
                client, report_payload(kind="integrity", category="bribery-port-staff", zone=None)
            ).json()["reference"],
        ]
        cases = [case_of(session, reference) for reference in references]
        # The second is overdue: received long ago.
        cases[1].due_at = datetime.now(UTC) - timedelta(days=2)
        session.add(cases[1])
        session.flush()
        triager, secret = make_staff(session, keyring, role=Role.triager)
        sign_in_staff(client, triager, secret)

        page = client.get("/api/v1/cases", params={"page_size": 200}).json()
        mine = [
            row for row in page["rows"] if row["reference"] in {case.reference for case in cases}
        ]
        assert mine[0]["reference"] == cases[1].reference and mine[0]["overdue"]
        due_dates = [row["due_at"] for row in page["rows"]]
        assert due_dates == sorted(due_dates)
        assert page["total"] >= 3

        def references_for(**params: object) -> set[str]:
            rows = client.get("/api/v1/cases", params={"page_size": 200, **params}).json()["rows"]
            return {row["reference"] for row in rows} & {case.reference for case in cases}

        assert references_for(overdue=True) == {cases[1].reference}
        assert references_for(kind="integrity") == {cases[2].reference}
        assert references_for(category="bribery-port-staff") == {cases[2].reference}
        assert references_for(zone="gate-main") == {cases[1].reference}
        assert references_for(cargo_direction="outbound") == {cases[0].reference}
        assert references_for(search=cases[0].reference) == {cases[0].reference}
        assert references_for(status="closed") == set()

        first = client.get("/api/v1/cases", params={"page_size": 1, "page": 1}).json()
        second = client.get("/api/v1/cases", params={"page_size": 1, "page": 2}).json()
        assert first["total"] == second["total"] == page["total"]
        assert first["rows"][0]["id"] != second["rows"][0]["id"]

    def test_a_filter_that_matches_nothing_gives_an_empty_page(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        triager, secret = make_staff(session, keyring, role=Role.triager)
        sign_in_staff(client, triager, secret)
        page = client.get("/api/v1/cases", params={"search": "no-such-reference-anywhere"}).json()
        assert page["total"] == 0 and page["rows"] == []

    def test_only_triagers_see_the_queue(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        auditor, secret = make_staff(session, keyring, role=Role.auditor)
        sign_in_staff(client, auditor, secret)
        assert client.get("/api/v1/cases").status_code == 403


class TestRelatedCases:
    def test_reports_naming_the_same_container_are_suggested_as_related(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        from api.cases.models import CaseEntity

        first = post_report(
            client, report_payload(zone="quay", narrative="Seal of CSQU 305438 3 was cut at night.")
        ).json()["reference"]
        second = post_report(
            client,
            report_payload(
                kind="integrity",
                category="bribery-port-staff",
                zone="gate-main",
                narrative="A planner was paid to release container CSQU3054383 early.",
            ),
        ).json()["reference"]
        unrelated = post_report(
            client,
            report_payload(zone="anchorage", category="suspicious-object", narrative="A drone."),
        ).json()["reference"]
        first_case, second_case = case_of(session, first), case_of(session, second)
        hashes = session.exec(select(CaseEntity).where(CaseEntity.case_id == first_case.id)).all()
        assert [entity.kind for entity in hashes] == ["container"]
        assert "CSQU" not in hashes[0].value_hash  # a keyed hash, never the number

        triager, secret = make_staff(session, keyring, role=Role.triager)
        sign_in_staff(client, triager, secret)
        related = client.get(f"/api/v1/cases/{first_case.id}/related").json()
        by_reference = {row["reference"]: row["reasons"] for row in related}
        assert by_reference[second_case.reference] == ["container"]
        assert case_of(session, unrelated).reference not in by_reference

    def test_the_same_zone_and_category_within_30_days_is_suggested(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        first = case_of(
            session, post_report(client, report_payload(zone="warehouses")).json()["reference"]
        )
        second = case_of(
            session, post_report(client, report_payload(zone="warehouses")).json()["reference"]
        )
        triager, _secret = make_staff(session, keyring, role=Role.triager)
        found = service.related_cases(session=session, actor=triager, case_id=first.id or 0)
        assert any(
            item.case_id == second.id and "same_place_and_category" in item.reasons
            for item in found
        )
        second.received_hour = first.received_hour + timedelta(days=45)
        session.add(second)
        session.flush()
        found = service.related_cases(session=session, actor=triager, case_id=first.id or 0)
        assert all(item.case_id != second.id for item in found)


class TestSearch:
    """The queue's search box: part of a reference, of a title or of a tag, in any case,
    matched literally, and combined with the other filters."""

    def new_case(self, client: TestClient, session: Session, **payload: object) -> Case:
        return case_of(session, post_report(client, report_payload(**payload)).json()["reference"])

    def search(self, session: Session, triager: Staff, term: str, **filters: object) -> QueuePage:
        return service.queue(
            session=session,
            actor=triager,
            filters=QueueFilter.model_validate({"search": term, **filters}),
            now=datetime.now(UTC),
            page_size=200,
        )

    def found(self, session: Session, triager: Staff, term: str, **filters: object) -> set[str]:
        page = self.search(session, triager, term, **filters)
        references = {row.reference for row in page.rows}
        assert page.total == len(page.rows) == len(references)  # the count agrees, once each
        return references

    def test_part_of_a_reference_finds_its_case_in_any_case(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        case = self.new_case(client, session)
        triager, _secret = make_staff(session, keyring, role=Role.triager)
        fragment = case.reference[3:8]  # "C-7K3QX0MZ" -> "3QX0M"
        assert self.found(session, triager, fragment) == {case.reference}
        assert self.found(session, triager, fragment.lower()) == {case.reference}
        assert self.found(session, triager, f"  {case.reference.lower()} ") == {case.reference}

    def test_part_of_a_title_finds_its_case_in_any_case(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        marker = secrets.token_hex(4)
        case = self.new_case(client, session)
        case.title = f"Seal cut at berth {marker}"
        session.add(case)
        session.flush()
        triager, _secret = make_staff(session, keyring, role=Role.triager)
        assert self.found(session, triager, f"cut at berth {marker}") == {case.reference}
        assert self.found(session, triager, f"SEAL CUT AT BERTH {marker.upper()}") == {
            case.reference
        }
        assert self.found(session, triager, f"seal cut at quay {marker}") == set()

    def test_a_tag_or_part_of_one_finds_the_cases_tagged_with_it(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        marker = secrets.token_hex(4)
        tagged, also_tagged, untagged = (self.new_case(client, session) for _ in range(3))
        service.set_tags(session=session, case=tagged, tags=[f"cocaine-{marker}", "reefer"])
        service.set_tags(session=session, case=also_tagged, tags=[f"cocaine-{marker}"])
        session.flush()
        triager, _secret = make_staff(session, keyring, role=Role.triager)
        both = {tagged.reference, also_tagged.reference}
        assert self.found(session, triager, f"cocaine-{marker}") == both
        assert self.found(session, triager, f"Cocaine-{marker.upper()}") == both
        assert self.found(session, triager, f"ne-{marker}") == both
        assert both <= self.found(session, triager, f"-{marker[0]}")  # too short for a trigram
        assert untagged.reference not in self.found(session, triager, "reefer")

    def test_a_case_matching_in_its_title_and_its_tags_is_listed_and_counted_once(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        marker = secrets.token_hex(4)
        case = self.new_case(client, session)
        case.title = f"Drone over the stacks {marker}"
        session.add(case)
        service.set_tags(session=session, case=case, tags=[f"drone-{marker}", f"{marker}-night"])
        session.flush()
        triager, _secret = make_staff(session, keyring, role=Role.triager)
        page = self.search(session, triager, marker)
        assert page.total == 1 and [row.reference for row in page.rows] == [case.reference]
        assert page.rows[0].tags == sorted([f"drone-{marker}", f"{marker}-night"])

    def test_search_narrows_the_other_filters_and_the_count_follows(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        marker = secrets.token_hex(4)
        incident = self.new_case(client, session, zone="gate-main")
        integrity = self.new_case(
            client, session, kind="integrity", category="bribery-port-staff", zone=None
        )
        closed = self.new_case(client, session)
        unrelated = self.new_case(client, session, zone="gate-main")
        incident.title = f"Gate left open {marker}"
        incident.due_at = datetime.now(UTC) - timedelta(days=2)
        integrity.title = f"Planner paid {marker}"
        closed.title = f"Old report {marker}"
        closed.status, closed.due_at = "closed", None
        session.add_all([incident, integrity, closed, unrelated])
        session.flush()
        triager, _secret = make_staff(session, keyring, role=Role.triager)

        assert self.found(session, triager, marker) == {incident.reference, integrity.reference}
        assert self.found(session, triager, marker, kind="integrity") == {integrity.reference}
        assert self.found(session, triager, marker, overdue=True) == {incident.reference}
        assert self.found(session, triager, marker, zone="gate-main") == {incident.reference}
        assert self.found(session, triager, marker, status=["closed"]) == {closed.reference}
        assert self.found(session, triager, marker, kind="integrity", overdue=True) == set()

    def test_search_terms_are_matched_literally(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        case = self.new_case(client, session)
        case.title = "Seal cut: 100% sure, gate_3"
        other = self.new_case(client, session)
        other.title = "Plain title, gate 3"
        backslash = self.new_case(client, session)
        backslash.title = r"Share \\yard\cctv left open"
        session.add_all([case, other, backslash])
        session.flush()
        triager, _secret = make_staff(session, keyring, role=Role.triager)

        assert case.reference in self.found(session, triager, "100% sure")
        # _ is not "any character", % is not "anything", \ escapes nothing.
        assert self.found(session, triager, "gate_3") == {case.reference}
        assert self.found(session, triager, "%") == {case.reference}
        assert self.found(session, triager, "gate%3") == set()
        assert self.found(session, triager, "\\") == {backslash.reference}
        assert self.found(session, triager, r"\c") == {backslash.reference}
