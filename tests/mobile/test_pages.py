"""The reporter's pages without JavaScript, through real HTTP handling."""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, date, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from api.crypto import KeyRing
from api.db import utcnow
from api.reports import service as reports_service
from api.reports.models import Attachment, Report
from tests.factories import jpeg_bytes


def hidden(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert found, name
    return found.group(1)


def post_step(
    client: TestClient,
    page: str,
    step: str,
    go: str = "next",
    files: list[Any] | None = None,
    **values: Any,
) -> Any:
    fields: list[tuple[str, tuple[None, str]]] = []
    carried = {
        name: hidden(page, name) for name in ("lang", "form_token", "submission_key", "draft_token")
    }
    for name, value in {**carried, "step": step, "go": go, **values}.items():
        for item in value if isinstance(value, list) else [value]:
            fields.append((name, (None, str(item))))
    parts: list[Any] = fields + [("files", file) for file in files or []]
    if not files:
        parts.append(("files", ("", b"", "application/octet-stream")))
    return client.post("/report", files=parts)


REPORT: dict[str, Any] = {
    "kind": "incident",
    "category": "seal-tampering",
    "port": "NHV",
    "zone": "ct-north",
    "location_detail": "Stack 14",
    "occurred": "yesterday",
    "cargo_direction": "outbound",
    "narrative": "Two men cut a seal and fitted a new one.",
    "identity_mode": "anonymous",
    "exclude_bodies": ["customs", "terminal-security"],
}


def walk_to_review(client: TestClient, files: list[Any] | None = None) -> str:
    page = client.get("/report?lang=en").text
    values: dict[str, Any] = {}
    for step, keys in (
        ("kind", ["kind"]),
        ("category", ["category"]),
        ("where", ["port", "zone", "location_detail", "occurred", "cargo_direction"]),
        ("what", ["narrative"]),
        ("photos", []),
        ("identity", ["identity_mode"]),
        ("exclusions", ["exclude_bodies"]),
    ):
        values.update({key: REPORT[key] for key in keys})
        response = post_step(
            client, page, step, files=files if step == "photos" else None, **values
        )
        assert response.status_code == 200, response.text
        assert "set-cookie" not in response.headers
        page = response.text
    assert 'name="step" value="review"' in page
    return str(page)


class TestReportingWithoutJavaScript:
    def test_every_page_of_the_flow_has_a_strict_policy_and_no_cookie(
        self, client: TestClient
    ) -> None:
        for path in ("/", "/danger", "/report", "/receipt"):
            response = client.get(path)
            assert response.status_code == 200, path
            assert "set-cookie" not in response.headers
            policy = response.headers["content-security-policy"]
            assert "script-src 'self'" in policy and "unsafe-inline" not in policy
            assert response.headers["referrer-policy"] == "no-referrer"

    def test_a_report_sent_step_by_step_gives_a_receipt(
        self, client: TestClient, session: Session
    ) -> None:
        before = session.exec(select(func.count()).select_from(Report)).one()
        review = walk_to_review(client, files=[("seal.jpg", jpeg_bytes(), "image/jpeg")])
        assert "Two men cut a seal" in review
        sent = post_step(client, review, "review", go="send", **REPORT)
        assert sent.status_code == 200, sent.text
        assert "set-cookie" not in sent.headers
        digits = re.search(r'data-receipt="(\d{16})"', sent.text)
        assert digits
        assert session.exec(select(func.count()).select_from(Report)).one() == before + 1
        report = session.exec(select(Report).order_by(Report.id.desc())).first()  # type: ignore[union-attr]
        assert report is not None and report.cargo_direction == "outbound"
        assert report.occurred_on == date.today() - timedelta(days=1)
        assert (
            session.exec(
                select(func.count())
                .select_from(Attachment)
                .where(Attachment.report_id == report.id)
            ).one()
            == 1
        )

    def test_a_confidential_reporter_may_agree_to_be_named_to_the_authority(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        review = walk_to_review(client)
        confidential = {
            **REPORT,
            "identity_mode": "confidential",
            "identity_name": "K. Janssens",
            "identity_contact": "via the union office",
            "identity_may_share": "1",
        }
        sent = post_step(client, review, "review", go="send", **confidential)
        assert sent.status_code == 200, sent.text
        report = session.exec(select(Report).order_by(Report.id.desc())).first()  # type: ignore[union-attr]
        assert report is not None
        identity = reports_service.staff_view(
            session=session, keyring=keyring, report=report
        ).identity
        assert identity is not None
        assert (identity.name, identity.may_share) == ("K. Janssens", True)

    def test_a_missing_answer_keeps_the_step_and_names_the_problem(
        self, client: TestClient
    ) -> None:
        page = client.get("/report").text
        response = post_step(client, page, "kind")
        assert response.status_code == 422
        assert 'name="step" value="kind"' in response.text
        assert "Choose what you saw." in response.text

    def test_back_keeps_what_was_typed(self, client: TestClient) -> None:
        page = client.get("/report").text
        back = post_step(
            client, page, "what", go="back", narrative="typed text stays", kind="incident"
        )
        assert 'name="step" value="where"' in back.text
        assert "typed text stays" in back.text

    def test_sending_the_same_form_twice_gives_the_same_receipt(self, client: TestClient) -> None:
        review = walk_to_review(client)
        first = post_step(client, review, "review", go="send", **REPORT)
        second = post_step(client, review, "review", go="send", **REPORT)
        receipt = re.search(r'data-receipt="(\d{16})"', first.text)
        assert receipt and receipt.group(1) in second.text


def send_report(client: TestClient) -> str:
    sent = post_step(client, walk_to_review(client), "review", go="send", **REPORT)
    receipt = re.search(r'data-receipt="(\d{16})"', sent.text)
    assert receipt
    return receipt.group(1)


def log_in_page(client: TestClient, receipt: str) -> Any:
    client.base_url = "https://testserver"  # the reporter cookie is Secure
    page = client.get("/receipt?lang=en").text
    return client.post(
        "/receipt",
        files=[
            ("lang", (None, "en")),
            ("form_token", (None, hidden(page, "form_token"))),
            ("receipt", (None, receipt)),
        ],
        follow_redirects=False,
    )


class TestComingBackWithoutJavaScript:
    def test_the_receipt_opens_the_report_and_sets_a_strict_cookie(
        self, client: TestClient
    ) -> None:
        response = log_in_page(client, send_report(client))
        assert response.status_code == 303
        cookie = response.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "secure" in cookie
        status = client.get("/my-report?lang=en")
        assert status.status_code == 200
        assert "Received. The team will read it soon." in status.text

    def test_a_wrong_receipt_is_refused_without_a_cookie(self, client: TestClient) -> None:
        response = log_in_page(client, "0000 0000 0000 0000")
        assert response.status_code == 401
        assert "set-cookie" not in response.headers
        assert "This receipt code was not recognised." in response.text

    def test_a_login_form_works_only_once(self, client: TestClient) -> None:
        receipt = send_report(client)
        client.base_url = "https://testserver"
        page = client.get("/receipt").text
        fields = [
            ("form_token", (None, hidden(page, "form_token"))),
            ("receipt", (None, receipt)),
        ]
        assert client.post("/receipt", files=fields, follow_redirects=False).status_code == 303
        assert client.post("/receipt", files=fields, follow_redirects=False).status_code == 422

    def test_the_reporter_replies_and_logs_out_leaving_nothing(self, client: TestClient) -> None:
        log_in_page(client, send_report(client))
        reply = client.post(
            "/my-report",
            files=[("go", (None, "reply")), ("body", (None, "The van was white."))],
            follow_redirects=False,
        )
        assert reply.status_code == 303
        assert "The van was white." in client.get("/my-report").text
        out = client.post("/my-report", files=[("go", (None, "logout"))], follow_redirects=False)
        assert out.status_code == 303
        assert '"cookies"' in out.headers["clear-site-data"]
        assert (
            'portline_reporter=""' in out.headers["set-cookie"]
            or "Max-Age=0" in out.headers["set-cookie"]
        )
        assert client.get("/my-report", follow_redirects=False).status_code == 303


class TestErrorPages:
    def test_an_unknown_page_is_answered_with_a_page_in_the_readers_language(
        self, client: TestClient
    ) -> None:
        response = client.get("/no/such/page?lang=en")
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("text/html")
        assert "Page not found" in response.text
        assert "unsafe-inline" not in response.headers["content-security-policy"]

    def test_an_unknown_api_address_is_still_answered_in_json(self, client: TestClient) -> None:
        response = client.get("/api/v1/nothing")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
        assert client.delete("/api/v1/public/config").status_code == 405


class TestAbuseGuardsWithoutJavaScript:
    def test_a_form_token_sends_one_report_only(self, client: TestClient) -> None:
        review = walk_to_review(client)
        first = post_step(client, review, "review", go="send", **REPORT)
        assert "data-receipt" in first.text
        other_report = review.replace(hidden(review, "submission_key"), "another-key-" + "x" * 20)
        second = post_step(client, other_report, "review", go="send", **REPORT)
        assert second.status_code == 422
        assert "data-receipt" not in second.text
        assert 'name="step" value="review"' in second.text  # nothing typed is lost

    def test_the_global_rate_guard_holds_reports_back_and_keeps_the_form(
        self, client_with: Callable[..., AbstractContextManager[TestClient]]
    ) -> None:
        # One fixed moment, so both reports fall in the same minute whatever the clock says.
        moment = datetime.now(UTC).replace(second=30)
        with client_with(no_js_reports_per_minute=1) as limited:
            limited.app.dependency_overrides[utcnow] = lambda: moment  # type: ignore[attr-defined]
            first = post_step(limited, walk_to_review(limited), "review", go="send", **REPORT)
            assert "data-receipt" in first.text
            second = post_step(limited, walk_to_review(limited), "review", go="send", **REPORT)
        assert second.status_code == 429
        assert "Please wait a minute and send again." in second.text
        assert "Two men cut a seal" in second.text


class TestLanguageChoice:
    def test_the_page_follows_the_browsers_languages_and_the_switcher_overrides_them(
        self, client: TestClient
    ) -> None:
        dutch = client.get("/", headers={"Accept-Language": "nl-BE,nl;q=0.9,en;q=0.5"})
        assert '<html lang="nl" dir="ltr">' in dutch.text
        assert 'href="/?lang=ar"' in dutch.text  # every language is offered on the page
        chosen = client.get("/?lang=ar", headers={"Accept-Language": "nl"})
        assert '<html lang="ar" dir="rtl">' in chosen.text


class TestAPortsOwnLink:
    def test_the_link_opens_the_first_screen_whose_report_and_numbers_are_that_ports(
        self, client: TestClient
    ) -> None:
        home = client.get("/p/kvl?lang=en")
        assert home.status_code == 200
        assert "Is someone in danger right now?" in home.text
        assert 'href="/danger?lang=en&amp;port=KVL"' in home.text
        assert 'href="/report?lang=en&amp;port=KVL"' in home.text
        form = client.get("/report?lang=en&port=KVL").text
        assert '<option value="KVL" selected>' in form
        assert '<option value="NHV" selected>' not in form
        danger = client.get("/danger?lang=en&port=KVL").text
        assert 'id="port-KVL"' in danger and 'id="port-NHV"' not in danger
        assert 'href="/report?lang=en&amp;port=KVL"' in danger

    def test_without_a_port_every_port_is_offered(self, client: TestClient) -> None:
        danger = client.get("/danger?lang=en").text
        assert 'id="port-KVL"' in danger and 'id="port-NHV"' in danger
        form = client.get("/report?lang=en&port=nowhere").text
        assert " selected>" not in form.split('name="port"', 1)[1].split("</select>", 1)[0]

    def test_an_unknown_port_is_a_page_not_found(self, client: TestClient) -> None:
        missing = client.get("/p/NOWHERE?lang=en")
        assert missing.status_code == 404
        assert "<html" in missing.text
