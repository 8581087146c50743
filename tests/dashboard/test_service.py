"""The dashboard's figures, on reports and cases dated to the hour a test needs."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api.agencies.models import Body
from api.cases.models import Case
from api.cases.schemas import CaseStatus
from api.crypto import KeyRing
from api.dashboard import service
from api.errors import Forbidden, Invalid
from api.policy import Role
from api.reports.models import Report
from api.staff.models import Staff
from api.taxonomy.models import Category
from tests.dashboard.helpers import received_case
from tests.factories import make_staff

# A Wednesday in ISO week 2031-W11, far from any report another test may leave behind.
NOW = datetime(2031, 3, 12, 12, tzinfo=UTC)
MONDAY_W10 = datetime(2031, 3, 3, tzinfo=UTC)
MONDAY_W11 = datetime(2031, 3, 10, tzinfo=UTC)


@pytest.fixture
def triager(session: Session, keyring: KeyRing) -> Staff:
    staff, _secret = make_staff(session, keyring, role=Role.triager)
    return staff


class TestWeeks:
    def test_the_window_is_whole_iso_weeks_ending_with_this_one(
        self, session: Session, triager: Staff
    ) -> None:
        figures = service.dashboard(session=session, actor=triager, now=NOW, weeks=3)
        assert [week.week for week in figures.weeks] == ["2031-W09", "2031-W10", "2031-W11"]
        assert figures.weeks[0].starts_on == date(2031, 2, 24)
        assert figures.starts_at == datetime(2031, 2, 24, tzinfo=UTC)
        assert figures.ends_at == datetime(2031, 3, 17, tzinfo=UTC)

    def test_twelve_weeks_by_default(self, session: Session, triager: Staff) -> None:
        figures = service.dashboard(session=session, actor=triager, now=NOW)
        assert len(figures.weeks) == 12
        assert len(figures.reports_by_kind.weeks) == 12

    def test_a_week_belongs_to_its_iso_year(self) -> None:
        assert service.week_code(date(2030, 12, 30)) == "2031-W01"
        assert service.week_code(date(2027, 1, 1) - timedelta(days=4)) == "2026-W53"

    def test_sunday_night_and_monday_morning_fall_in_different_weeks(
        self, client: TestClient, session: Session, triager: Staff
    ) -> None:
        received_case(client, session, MONDAY_W10 - timedelta(hours=1))  # W09, outside
        received_case(client, session, MONDAY_W11 - timedelta(hours=1))  # last hour of W10
        received_case(client, session, MONDAY_W11)  # first hour of W11
        received_case(client, session, MONDAY_W11 + timedelta(hours=5))
        figures = service.dashboard(session=session, actor=triager, now=NOW, weeks=2)
        assert [(week.week, week.total) for week in figures.reports_by_kind.weeks] == [
            ("2031-W10", 1),
            ("2031-W11", 2),
        ]
        assert figures.reports_received == 3

    @pytest.mark.parametrize("weeks", [0, 105, -1])
    def test_a_window_out_of_range_is_refused_naming_the_field(
        self, session: Session, triager: Staff, weeks: int
    ) -> None:
        with pytest.raises(Invalid) as refused:
            service.dashboard(session=session, actor=triager, now=NOW, weeks=weeks)
        assert [problem.field for problem in refused.value.fields] == ["weeks"]

    def test_the_widest_window_is_two_years(self, session: Session, triager: Staff) -> None:
        figures = service.dashboard(session=session, actor=triager, now=NOW, weeks=104)
        assert len(figures.weeks) == 104


class TestReports:
    def test_reports_are_counted_by_kind_category_zone_and_cargo(
        self, client: TestClient, session: Session, triager: Staff
    ) -> None:
        received_case(client, session, MONDAY_W10, cargo_direction="inbound")
        received_case(client, session, MONDAY_W10, cargo_direction="outbound", zone="gate-main")
        received_case(client, session, MONDAY_W11, cargo_direction="outbound", zone=None)
        received_case(
            client,
            session,
            MONDAY_W11 + timedelta(days=1),
            kind="integrity",
            category="bribery-port-staff",
            cargo_direction="transhipment",
        )
        received_case(client, session, MONDAY_W11, cargo_direction="not_applicable")
        figures = service.dashboard(session=session, actor=triager, now=NOW, weeks=2)

        kinds = figures.reports_by_kind
        assert [series.key for series in kinds.series] == ["integrity", "incident"]
        assert [week.counts for week in kinds.weeks] == [
            {"integrity": 0, "incident": 2},
            {"integrity": 1, "incident": 2},
        ]
        assert figures.reports_by_category.totals == {"bribery-port-staff": 1, "seal-tampering": 4}
        assert [series.group for series in figures.reports_by_category.series] == [
            "Integrity",
            "Incident",
        ]
        assert figures.reports_by_zone.totals == {
            "NHV/ct-north": 3,
            "NHV/gate-main": 1,
            "none": 1,
        }
        assert figures.reports_by_zone.series[-1].key == "none"
        cargo = figures.reports_by_cargo_direction
        assert [series.key for series in cargo.series] == [
            "inbound",
            "outbound",
            "transhipment",
            "not_applicable",
        ]
        assert [week.counts for week in cargo.weeks] == [
            {"inbound": 1, "outbound": 1, "transhipment": 0, "not_applicable": 0},
            {"inbound": 0, "outbound": 1, "transhipment": 1, "not_applicable": 1},
        ]

    def test_reports_follow_triages_classification_of_their_case(
        self, client: TestClient, session: Session, triager: Staff
    ) -> None:
        case = received_case(client, session, MONDAY_W11)
        bribery = session.exec(select(Category).where(Category.code == "bribery-port-staff")).one()
        case.kind, case.category_id = "integrity", bribery.id or 0
        session.add(case)
        session.flush()
        figures = service.dashboard(session=session, actor=triager, now=NOW, weeks=1)
        assert figures.reports_by_kind.totals == {"integrity": 1, "incident": 0}
        assert figures.reports_by_category.totals == {"bribery-port-staff": 1}

    def test_a_port_filter_keeps_that_ports_reports_only(
        self, client: TestClient, session: Session, triager: Staff
    ) -> None:
        received_case(client, session, MONDAY_W11)
        received_case(client, session, MONDAY_W11, port="KVL", zone="ferry")
        everywhere = service.dashboard(session=session, actor=triager, now=NOW, weeks=1)
        assert everywhere.reports_received == 2
        assert everywhere.reports_by_zone.totals == {"KVL/ferry": 1, "NHV/ct-north": 1}
        kaldervliet = service.dashboard(
            session=session, actor=triager, now=NOW, weeks=1, port="KVL"
        )
        assert kaldervliet.port == "KVL"
        assert kaldervliet.reports_received == 1
        assert kaldervliet.reports_by_zone.totals == {"KVL/ferry": 1}
        assert sum(kaldervliet.cases_by_status.totals.values()) == 1

    def test_an_unknown_port_is_refused_naming_the_field(
        self, session: Session, triager: Staff
    ) -> None:
        with pytest.raises(Invalid) as refused:
            service.dashboard(session=session, actor=triager, now=NOW, port="NOPE")
        assert [problem.field for problem in refused.value.fields] == ["port"]

    def test_nothing_in_the_window_gives_zeros_for_every_week(
        self, session: Session, triager: Staff
    ) -> None:
        figures = service.dashboard(session=session, actor=triager, now=NOW, weeks=4)
        assert figures.reports_received == 0
        assert [week.total for week in figures.reports_by_kind.weeks] == [0, 0, 0, 0]
        assert figures.reports_by_category.series == []
        assert figures.cases_acknowledged_within_7_days.share is None


class TestCases:
    def test_open_and_closed_by_week_of_receipt(
        self, client: TestClient, session: Session, triager: Staff
    ) -> None:
        received_case(client, session, MONDAY_W10)
        closed = received_case(client, session, MONDAY_W10 + timedelta(days=2))
        received_case(client, session, MONDAY_W11)
        closed.status, closed.closed_at = CaseStatus.closed, NOW
        session.add(closed)
        session.flush()
        figures = service.dashboard(session=session, actor=triager, now=NOW, weeks=2)
        assert [week.counts for week in figures.cases_by_status.weeks] == [
            {"open": 1, "closed": 1},
            {"open": 1, "closed": 0},
        ]

    def test_a_case_emptied_by_linking_its_report_elsewhere_is_not_counted(
        self, client: TestClient, session: Session, triager: Staff
    ) -> None:
        kept = received_case(client, session, MONDAY_W11)
        emptied = received_case(client, session, MONDAY_W11)
        moved = session.exec(select(Report).where(Report.case_id == emptied.id)).one()
        moved.case_id = kept.id
        emptied.status, emptied.resolution, emptied.closed_at = CaseStatus.closed, "duplicate", NOW
        session.add_all([moved, emptied])
        session.flush()
        figures = service.dashboard(session=session, actor=triager, now=NOW, weeks=1)
        assert figures.reports_received == 2
        assert figures.cases_by_status.totals == {"open": 1, "closed": 0}

    def test_acknowledged_within_seven_days_late_and_still_pending(
        self, client: TestClient, session: Session, triager: Staff
    ) -> None:
        def acknowledge(case: Case, after: timedelta) -> None:
            case.acknowledged_at = case.received_hour + after
            case.status = CaseStatus.acknowledged
            session.add(case)

        acknowledge(received_case(client, session, MONDAY_W10), timedelta(days=7))  # just in time
        acknowledge(received_case(client, session, MONDAY_W10), timedelta(days=7, hours=1))  # late
        acknowledge(received_case(client, session, MONDAY_W10), timedelta(hours=3))
        received_case(client, session, MONDAY_W10)  # never acknowledged, 7 days over: late
        received_case(client, session, MONDAY_W11)  # not yet, and still within its 7 days
        acknowledge(received_case(client, session, MONDAY_W11), timedelta(days=1))
        session.flush()

        figures = service.dashboard(session=session, actor=triager, now=NOW, weeks=2)
        acknowledged = figures.cases_acknowledged_within_7_days
        assert [
            (week.week, week.numerator, week.denominator, week.pending, week.share)
            for week in acknowledged.weeks
        ] == [("2031-W10", 2, 4, 0, 0.5), ("2031-W11", 1, 1, 1, 1.0)]
        assert (acknowledged.numerator, acknowledged.denominator, acknowledged.pending) == (3, 5, 1)
        assert acknowledged.share == 0.6


class TestPolicy:
    @pytest.mark.parametrize("role", [Role.administrator, Role.liaison, Role.auditor])
    def test_only_triagers_may_read_the_dashboard(
        self, session: Session, keyring: KeyRing, role: Role
    ) -> None:
        body_id = session.exec(select(Body.id)).first() if role == Role.liaison else None
        other, _secret = make_staff(session, keyring, role=role, body_id=body_id)
        with pytest.raises(Forbidden):
            service.dashboard(session=session, actor=other, now=NOW)
        with pytest.raises(Forbidden):
            service.dashboard_csv(session=session, actor=other, now=NOW)


class TestCsv:
    def test_every_figure_is_a_row_of_section_week_key_and_value(
        self, client: TestClient, session: Session, triager: Staff
    ) -> None:
        received_case(client, session, MONDAY_W11, cargo_direction="outbound")
        content, filename = service.dashboard_csv(
            session=session, actor=triager, now=NOW, weeks=2, port="NHV"
        )
        assert filename == "portline-dashboard-2031-W10-2031-W11-NHV.csv"
        rows = list(csv.reader(io.StringIO(content)))
        assert rows[0] == ["section", "week", "key", "value"]
        assert ["reports_by_kind", "2031-W11", "incident", "1"] in rows
        assert ["reports_by_kind", "2031-W10", "incident", "0"] in rows
        assert ["reports_by_cargo_direction", "2031-W11", "outbound", "1"] in rows
        assert ["reports_by_zone", "2031-W11", "NHV/ct-north", "1"] in rows
        assert ["cases_by_status", "2031-W11", "open", "1"] in rows
        assert ["cases_acknowledged_within_7_days", "2031-W11", "pending", "1"] in rows
        assert {row[0] for row in rows[1:]} == {
            "reports_by_kind",
            "reports_by_category",
            "reports_by_zone",
            "reports_by_cargo_direction",
            "cases_by_status",
            "cases_acknowledged_within_7_days",
        }
        assert all(len(row) == 4 for row in rows)
