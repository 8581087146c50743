from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text
from sqlmodel import Session, select

from api import migrate
from api.cases.models import Case
from api.reports.models import Report
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
