from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import text
from sqlmodel import Session, col, select

from api import migrate
from api.cases import service as cases_service
from api.cases.models import Case
from api.ports.models import Port
from api.reports.models import Report, ReportStep
from api.taxonomy.models import Category
from tests.databases import fresh_database


class TestReportsFromBeforeCases:
    def test_each_existing_report_becomes_a_case_when_cases_arrive(self, tmp_path: Path) -> None:
        with fresh_database(tmp_path) as (_url, engine):
            migrate.downgrade(engine, "0003")
            received = datetime(2026, 11, 20, 9, tzinfo=UTC)
            with engine.begin() as connection:
                category_id = connection.execute(
                    text("SELECT id FROM category LIMIT 1")
                ).scalar_one()
                port_id = connection.execute(
                    text("SELECT id FROM port WHERE code = 'NHV'")
                ).scalar_one()
                connection.execute(
                    text(
                        "INSERT INTO report (reference, kind, category_id, port_id, occurred_on,"
                        " occurred_approximate, cargo_direction, language, confidential, status,"
                        " received_hour, wrapped_key, narrative_sealed, receipt_lookup,"
                        " receipt_verifier, reporter_token_generation, next_message_seq,"
                        " next_attachment_seq) VALUES ('R-OLD00001', 'incident', :category, :port,"
                        " '2026-11-19', false, 'inbound', 'en', false, 'received', :received,"
                        " :blob, :blob, 'lookup-old', 'verifier', 0, 1, 1)"
                    ),
                    {"category": category_id, "port": port_id, "received": received, "blob": b"x"},
                )
            migrate.upgrade(engine)
            with Session(engine) as session:
                report = session.exec(select(Report).where(Report.reference == "R-OLD00001")).one()
                assert report.case_id is not None
                case = session.get(Case, report.case_id)
                assert case is not None
                assert (case.status, case.cargo_direction) == ("new", "inbound")
                assert case.acknowledge_due == received + timedelta(days=7)


class TestTimelinesFromBeforeSteps:
    def test_existing_reports_get_the_steps_their_rows_tell(self, tmp_path: Path) -> None:
        received = datetime(2026, 11, 20, 9, tzinfo=UTC)
        acknowledged = datetime(2026, 11, 23, 16, 5, tzinfo=UTC)
        closed = datetime(2026, 11, 30, 23, 59, tzinfo=UTC)
        with fresh_database(tmp_path) as (_url, engine):
            with Session(engine) as session:
                category_id = session.exec(select(Category.id)).first()
                port_id = session.exec(select(Port.id).where(Port.code == "NHV")).one()
                assert category_id is not None and port_id is not None
                references = {}
                for name, status in (("new", "received"), ("done", "closed")):
                    case = cases_service.open_case(
                        session=session,
                        kind="incident",
                        category_id=category_id,
                        port_id=port_id,
                        zone_id=None,
                        cargo_direction="inbound",
                        received_hour=received,
                    )
                    if name == "done":
                        case.acknowledged_at, case.closed_at = acknowledged, closed
                        case.status = "closed"
                    report = Report(
                        reference=f"R-{name.upper()}0001",
                        case_id=case.id,
                        kind="incident",
                        category_id=category_id,
                        port_id=port_id,
                        occurred_on=received.date(),
                        cargo_direction="inbound",
                        language="en",
                        status=status,
                        received_hour=received,
                        wrapped_key=b"x",
                        narrative_sealed=b"x",
                        receipt_lookup=f"lookup-{name}",
                        receipt_verifier="verifier",
                    )
                    session.add(case)
                    session.add(report)
                    session.flush()
                    references[name] = report.id
                session.commit()
            migrate.downgrade(engine, "0019")
            migrate.upgrade(engine)
            with Session(engine) as session:
                steps = {
                    name: [
                        (step.step, step.day)
                        for step in session.exec(
                            select(ReportStep)
                            .where(ReportStep.report_id == report_id)
                            .order_by(col(ReportStep.id))
                        )
                    ]
                    for name, report_id in references.items()
                }
        assert steps == {
            "new": [("received", date(2026, 11, 20))],
            "done": [
                ("received", date(2026, 11, 20)),
                ("acknowledged", date(2026, 11, 23)),
                ("closed", date(2026, 11, 30)),
            ],
        }
