"""A reporter's token opens its own report and no other: once a report is purged, SQLite
may give its id to the next report, and a token still open must not open that one."""

from __future__ import annotations

import secrets

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api.reports.models import Report
from tests.factories import log_in, post_report


def test_a_token_does_not_open_another_report_that_took_its_id(
    client: TestClient, session: Session
) -> None:
    sent = post_report(client)
    assert sent.status_code == 201, sent.text
    headers = log_in(client, sent.json()["receipt"])
    assert client.get("/api/v1/reporter/report", headers=headers).status_code == 200
    # The report is gone and another holds its id: same row, another receipt.
    report = session.exec(select(Report).where(Report.reference == sent.json()["reference"])).one()
    report.receipt_lookup = secrets.token_hex(32)
    session.add(report)
    session.commit()
    refused = client.get("/api/v1/reporter/report", headers=headers)
    assert refused.status_code == 401
