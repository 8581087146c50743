"""Reports sent as a reporter sends them, then moved to the hour a test needs."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api.cases.models import Case
from api.reports.models import Report
from tests.factories import post_report, report_payload


def received_case(client: TestClient, session: Session, at: datetime, **payload: Any) -> Case:
    """A report sent through the API, its case and itself dated ``at``."""
    response = post_report(client, report_payload(**payload))
    assert response.status_code == 201, response.text
    report = session.exec(
        select(Report).where(Report.reference == response.json()["reference"])
    ).one()
    case = session.get(Case, report.case_id)
    assert case is not None
    report.received_hour = case.received_hour = at
    case.acknowledge_due = case.due_at = at + timedelta(days=7)
    session.add_all([report, case])
    session.flush()
    return case
