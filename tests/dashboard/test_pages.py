"""The dashboard page in the console: charts drawn on the server, their numbers beside."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api.agencies.models import Body
from api.crypto import KeyRing
from api.policy import Role
from tests.factories import make_staff, post_report, report_payload, sign_in_staff

EMPTY = "No reports in these weeks."


def sign_in_as(client: TestClient, session: Session, keyring: KeyRing, role: Role) -> None:
    body_id = session.exec(select(Body.id)).first() if role == Role.liaison else None
    staff, secret = make_staff(session, keyring, role=role, body_id=body_id)
    sign_in_staff(client, staff, secret)


def text_of(page: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))


@pytest.fixture
def triager(client: TestClient, session: Session, keyring: KeyRing) -> TestClient:
    sign_in_as(client, session, keyring, Role.triager)
    return client


class TestDashboardPage:
    def test_the_charts_are_svg_with_a_title_a_description_and_their_numbers(
        self, client: TestClient, triager: TestClient
    ) -> None:
        post_report(client, report_payload(cargo_direction="inbound"))
        post_report(client, report_payload(cargo_direction="outbound", zone="gate-main"))
        page = triager.get("/admin/dashboard")
        assert page.status_code == 200, page.text
        html = page.text
        charts = re.findall(r'<svg class="chart"[^>]*role="img"[^>]*>', html)
        assert len(charts) == 6
        for chart_id in ("kind", "category", "zone", "cargo", "status", "acknowledged"):
            assert f'aria-labelledby="{chart_id}-chart-title {chart_id}-chart-desc"' in html
            assert f'<title id="{chart_id}-chart-title">' in html
            assert f'<desc id="{chart_id}-chart-desc">' in html
        assert html.count('<rect class="bar') >= 6
        assert html.count('<details class="numbers">') == 6
        words = text_of(html)
        assert "Reports received 2" in words
        assert "Main truck gate · Port of Norderhaven" in words
        assert EMPTY not in words
        assert 'href="/admin/dashboard.csv"' in html

    def test_weeks_with_nothing_to_measure_are_marked_and_not_drawn_as_zero(
        self, client: TestClient, triager: TestClient
    ) -> None:
        post_report(client, report_payload())  # within its 7 days: not measured yet
        html = triager.get("/admin/dashboard").text
        chart = html[html.index('aria-labelledby="acknowledged-chart-title') :]
        chart = chart[: chart.index("</svg>")]
        assert '<rect class="bar' not in chart
        assert chart.count("nothing to measure</title>") == 12  # the default 12 weeks

    def test_the_page_keeps_to_the_content_security_policy(
        self, client: TestClient, triager: TestClient
    ) -> None:
        post_report(client, report_payload())
        page = triager.get("/admin/dashboard")
        assert "'unsafe-inline'" not in page.headers["content-security-policy"]
        assert " style=" not in page.text
        assert "<style" not in page.text
        assert re.search(r"<script(?![^>]*\bsrc=)", page.text) is None

    def test_nothing_in_the_window_shows_the_empty_state(self, triager: TestClient) -> None:
        page = triager.get("/admin/dashboard", params={"weeks": "1"})
        assert page.status_code == 200
        assert EMPTY in page.text
        assert '<svg class="chart"' not in page.text

    def test_a_port_with_no_reports_shows_the_empty_state(
        self, client: TestClient, triager: TestClient
    ) -> None:
        post_report(client, report_payload())
        page = triager.get("/admin/dashboard", params={"port": "KVL"})
        assert EMPTY in page.text
        assert '<option value="KVL" selected>' in page.text
        assert 'href="/admin/dashboard.csv?port=KVL"' in page.text

    @pytest.mark.parametrize("weeks", ["0", "105", "twelve", "1.5", "²"])
    def test_a_wrong_number_of_weeks_is_shown_on_the_form(
        self, triager: TestClient, weeks: str
    ) -> None:
        page = triager.get("/admin/dashboard", params={"weeks": weeks})
        assert page.status_code == 422
        assert "There is a problem" in page.text
        assert '<a href="#weeks">Choose a number of weeks from 1 to 104.</a>' in page.text
        assert re.search(r'<input id="weeks"[^>]*aria-invalid="true"', page.text)
        assert '<svg class="chart"' not in page.text

    def test_an_unknown_port_is_shown_on_the_form(self, triager: TestClient) -> None:
        page = triager.get("/admin/dashboard", params={"port": "ATLANTIS"})
        assert page.status_code == 422
        assert '<a href="#port">There is no port with this code.</a>' in page.text

    def test_the_dashboard_is_in_a_triagers_navigation(self, triager: TestClient) -> None:
        home = triager.get("/admin")
        assert '<a href="/admin/dashboard">Dashboard</a>' in home.text
        page = triager.get("/admin/dashboard")
        assert '<a href="/admin/dashboard" aria-current="page">Dashboard</a>' in page.text


class TestConsoleCsv:
    def test_the_figures_download_as_csv(self, client: TestClient, triager: TestClient) -> None:
        post_report(client, report_payload(narrative="Nobody should read Stoker's name here."))
        response = triager.get("/admin/dashboard.csv", params={"weeks": "2"})
        assert response.status_code == 200
        assert response.headers["content-disposition"].startswith("attachment; ")
        assert response.text.splitlines()[0] == "section,week,key,value"
        assert "Stoker" not in response.text

    def test_a_wrong_number_of_weeks_names_the_field(self, triager: TestClient) -> None:
        response = triager.get("/admin/dashboard.csv", params={"weeks": "0"})
        assert response.status_code == 422
        assert "weeks" in text_of(response.text)


class TestWhoMaySeeIt:
    @pytest.mark.parametrize("role", [Role.administrator, Role.liaison, Role.auditor])
    def test_other_roles_get_the_refusal_page(
        self, client: TestClient, session: Session, keyring: KeyRing, role: Role
    ) -> None:
        sign_in_as(client, session, keyring, role)
        for path in ("/admin/dashboard", "/admin/dashboard.csv"):
            page = client.get(path)
            assert page.status_code == 403, path
            assert "You cannot open this page" in page.text
        assert 'href="/admin/dashboard"' not in client.get("/admin").text

    def test_nobody_signed_in_is_sent_to_the_sign_in_page(self, client: TestClient) -> None:
        client.base_url = "https://testserver"
        for path in ("/admin/dashboard", "/admin/dashboard.csv"):
            response = client.get(path, follow_redirects=False)
            assert response.status_code == 303
            assert response.headers["location"] == "/admin/login"
