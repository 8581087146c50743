"""The dashboard through the JSON API: for triagers only, as JSON and as CSV."""

from __future__ import annotations

import csv
import io

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api.agencies.models import Body
from api.crypto import KeyRing
from api.policy import Role
from tests.factories import make_staff, post_report, report_payload, sign_in_staff

NARRATIVE = "The crane driver Hendriksen takes envelopes behind stack 14."
PATHS = ("/api/v1/dashboard", "/api/v1/dashboard.csv")


def sign_in_as(client: TestClient, session: Session, keyring: KeyRing, role: Role) -> None:
    body_id = session.exec(select(Body.id)).first() if role == Role.liaison else None
    staff, secret = make_staff(session, keyring, role=role, body_id=body_id)
    sign_in_staff(client, staff, secret)


class TestDashboardApi:
    def test_a_triager_reads_this_weeks_reports(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        post_report(client, report_payload(cargo_direction="outbound"))
        post_report(client, report_payload(kind="integrity", category="bribery-port-staff"))
        sign_in_as(client, session, keyring, Role.triager)
        response = client.get("/api/v1/dashboard", params={"weeks": 4})
        assert response.status_code == 200, response.text
        figures = response.json()
        assert len(figures["weeks"]) == 4
        assert figures["reports_received"] == 2
        this_week = figures["reports_by_kind"]["weeks"][-1]
        assert this_week["counts"] == {"integrity": 1, "incident": 1}
        assert figures["reports_by_cargo_direction"]["totals"]["outbound"] == 1
        assert figures["cases_by_status"]["totals"] == {"open": 2, "closed": 0}
        assert figures["cases_acknowledged_within_7_days"]["pending"] == 2

    def test_one_ports_figures(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        post_report(client, report_payload())
        post_report(client, report_payload(port="KVL", zone="ferry"))
        sign_in_as(client, session, keyring, Role.triager)
        figures = client.get("/api/v1/dashboard", params={"port": "KVL"}).json()
        assert figures["port"] == "KVL"
        assert figures["reports_received"] == 1
        assert figures["reports_by_zone"]["series"] == [
            {
                "key": "KVL/ferry",
                "label": "Ferry terminal",
                "group": "Kaldervliet Ferry and Bulk Port",
            }
        ]

    @pytest.mark.parametrize(
        ("params", "field"),
        [({"weeks": 0}, "weeks"), ({"weeks": 105}, "weeks"), ({"weeks": "many"}, "weeks")],
    )
    def test_a_window_out_of_range_is_refused_naming_the_field(
        self,
        client: TestClient,
        session: Session,
        keyring: KeyRing,
        params: dict[str, object],
        field: str,
    ) -> None:
        sign_in_as(client, session, keyring, Role.triager)
        for path in PATHS:
            response = client.get(path, params=params)
            assert response.status_code == 422, response.text
            problems = response.json()["error"]["fields"]
            assert problems[0]["field"].split(".")[-1] == field

    def test_an_unknown_port_is_refused_naming_the_field(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        sign_in_as(client, session, keyring, Role.triager)
        response = client.get("/api/v1/dashboard", params={"port": "XYZ"})
        assert response.status_code == 422
        assert response.json()["error"]["fields"][0]["field"] == "port"

    @pytest.mark.parametrize("role", [Role.administrator, Role.liaison, Role.auditor])
    def test_other_roles_are_refused(
        self, client: TestClient, session: Session, keyring: KeyRing, role: Role
    ) -> None:
        sign_in_as(client, session, keyring, role)
        for path in PATHS:
            response = client.get(path)
            assert response.status_code == 403, path
            assert response.json()["error"]["code"] == "forbidden"

    def test_nobody_signed_in_is_asked_to_sign_in(self, client: TestClient) -> None:
        for path in PATHS:
            response = client.get(path)
            assert response.status_code == 401, path
            assert response.json()["error"]["code"] == "unauthorized"


class TestDashboardCsv:
    def test_the_csv_is_an_attachment_of_figures_without_a_word_of_any_report(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        post_report(
            client,
            report_payload(
                narrative=NARRATIVE,
                location_detail="Behind the reefer stack near gate 3",
                identity={"name": "M. Verbeke", "contact": "canteen, Tuesdays"},
            ),
        )
        sign_in_as(client, session, keyring, Role.triager)
        response = client.get("/api/v1/dashboard.csv", params={"weeks": 2, "port": "NHV"})
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "text/csv; charset=utf-8"
        disposition = response.headers["content-disposition"]
        assert disposition.startswith('attachment; filename="portline-dashboard-')
        assert disposition.endswith('-NHV.csv"')
        rows = list(csv.reader(io.StringIO(response.text)))
        assert rows[0] == ["section", "week", "key", "value"]
        this_week = rows[-1][1]
        assert ["reports_by_kind", this_week, "incident", "1"] in rows
        assert ["reports_by_category", this_week, "seal-tampering", "1"] in rows
        for row in rows[1:]:
            assert row[3].replace(".", "", 1).isdigit(), row
        for words in ("Hendriksen", "envelopes", "reefer stack", "Verbeke", "canteen"):
            assert words not in response.text
