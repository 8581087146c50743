"""A reporter's whole visit in Chromium: reporting, coming back, offline, keyboard only."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, Response, expect
from sqlmodel import Session, func, select

from api.proofs.service import solve
from api.reports.models import Report
from tests.e2e.conftest import QUICK_EXIT_URL, OpenPage, Portline
from tests.e2e.flow import (
    CARGO,
    CATEGORY,
    EXCLUDED,
    KIND,
    NARRATIVE,
    NEUTRAL_TITLE,
    PLACE,
    SEND_TIMEOUT_MS,
    WHEN,
    come_back,
    expect_step,
    fill_report,
    ignore,
    open_report_from_home,
    photo,
    radio,
    read_receipt,
    receipt_code,
    reference,
    send,
)

pytestmark = pytest.mark.e2e

# Words that would tell a glance at the tab or the history what this site is for.
TELLING_WORDS = ("report", "corruption", "whistle", "complaint", "incident", "anonymous")


def report_count(portline: Portline) -> int:
    with Session(portline.engine) as session:
        return session.exec(select(func.count()).select_from(Report)).one()


class TestReportingWithoutJavaScript:
    def test_a_report_clicked_through_every_step_gives_a_receipt_and_no_cookie(
        self, open_page: OpenPage
    ) -> None:
        tab = open_page(java_script_enabled=False)
        page = tab.page
        open_report_from_home(tab, ignore)
        fill_report(page, ignore, photos=[photo()])
        send(page)

        expect(page.get_by_role("heading", name="Your report has been sent")).to_be_visible()
        receipt = read_receipt(page)
        assert len(receipt) == 16
        shown_reference = reference(page)
        assert cookies_set(tab.responses) == []
        assert tab.context.cookies() == []

        come_back(page, receipt, ignore)
        expect(page.get_by_role("heading", level=1)).to_contain_text(shown_reference)
        # The first cookie is the one that keeps the reporter logged in, and scripts cannot read it.
        [(login, cookie)] = cookies_set(tab.responses)
        assert login.endswith("/receipt")
        assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower()

    def test_a_wrong_receipt_is_refused_with_a_message(self, open_page: OpenPage) -> None:
        tab = open_page(java_script_enabled=False)
        tab.tolerate(r"Failed to load resource: .* status of 401 .*/receipt'")  # the answer
        page = tab.page
        page.goto(tab.url("/receipt?lang=en"))
        page.get_by_label("Your 16-digit receipt code").fill("0000 0000 0000 0000")
        page.get_by_role("button", name="Open my report").click()
        expect(page.get_by_role("alert")).to_be_visible()
        expect(page.get_by_label("Your 16-digit receipt code")).to_have_attribute(
            "aria-invalid", "true"
        )


def cookies_set(responses: list[Response]) -> list[tuple[str, str]]:
    """(URL, Set-Cookie) of every response that set a cookie."""
    return [
        (response.url, cookie)
        for response in responses
        for cookie in [response.all_headers().get("set-cookie")]
        if cookie is not None
    ]


class TestReportingWithJavaScript:
    def test_a_report_gives_a_grouped_receipt_without_leaving_the_site(
        self, open_page: OpenPage, portline: Portline
    ) -> None:
        tab = open_page()
        page = tab.page
        titles: list[str] = []

        def look(_screen: str) -> None:
            titles.append(page.title())

        open_report_from_home(tab, look)
        fill_report(page, look, photos=[photo()])
        send(page)

        expect(page.get_by_role("heading", name="Your report has been sent")).to_be_visible(
            timeout=SEND_TIMEOUT_MS
        )
        receipt = read_receipt(page)
        groups = receipt_code(page).locator("span").all_inner_texts()
        assert groups == [receipt[i : i + 4] for i in range(0, 16, 4)]
        shown_reference = reference(page)
        assert shown_reference
        look("receipt")

        assert cookies_set(tab.responses) == []
        assert tab.context.cookies() == []

        come_back(page, receipt, look)
        expect(page.get_by_role("heading", level=1)).to_contain_text(shown_reference)

        elsewhere = [
            request.url for request in tab.requests if not portline.same_origin(request.url)
        ]
        assert not elsewhere
        assert set(titles) == {NEUTRAL_TITLE}
        assert not [word for word in TELLING_WORDS for title in titles if word in title.lower()]


class TestOffline:
    def test_a_report_written_offline_is_sent_once_the_connection_returns(
        self, open_page: OpenPage, portline: Portline
    ) -> None:
        tab = open_page()
        page = tab.page
        page.goto(tab.url("/report?lang=en"))
        page.evaluate("navigator.serviceWorker.ready.then(() => true)")
        before = report_count(portline)

        tab.context.set_offline(True)
        reopened = page.reload()
        assert reopened is not None and reopened.from_service_worker
        assert page.evaluate("navigator.onLine") is False
        fill_report(page, ignore, photos=[photo()])
        send(page)
        expect(page.get_by_role("heading", name="Waiting to send")).to_be_visible()
        assert report_count(portline) == before

        tab.context.set_offline(False)
        expect(page.get_by_role("heading", name="Your report has been sent")).to_be_visible(
            timeout=SEND_TIMEOUT_MS
        )
        receipt = read_receipt(page)
        opened = opened_report(portline, receipt)
        assert opened["reference"] == reference(page)
        assert len(opened["attachments"]) == 1  # the photo waited on the phone too
        assert report_count(portline) == before + 1


def opened_report(portline: Portline, receipt: str) -> dict[str, Any]:
    """The one report ``receipt`` opens, as the reporter API shows it."""
    with httpx.Client(base_url=portline.base_url, timeout=10) as client:
        task = client.post("/api/v1/public/challenge").json()
        nonce = solve(task["challenge"], task["difficulty"])
        login = client.post(
            "/api/v1/reporter/session",
            json={"receipt": receipt, "proof": {"challenge": task["challenge"], "nonce": nonce}},
        )
        assert login.status_code == 200, login.text
        mine = client.get(
            "/api/v1/reporter/report",
            headers={"authorization": f"Bearer {login.json()['token']}"},
        )
        assert mine.status_code == 200, mine.text
        found: dict[str, Any] = mine.json()
        return found


def tab_to(page: Page, selector: str, *, limit: int = 60) -> None:
    """Press Tab until the focused element matches ``selector``; it must show its focus."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(selector) => document.activeElement.matches(selector)", selector):
            outline = page.evaluate(
                "() => { const style = getComputedStyle(document.activeElement);"
                " return style.outlineStyle === 'none' ? 0 : parseFloat(style.outlineWidth); }"
            )
            assert outline >= 2, f"{selector} has no visible focus indicator"
            return
    raise AssertionError(f"Tab never reached {selector}")


def arrow_until_checked(page: Page, name: str, *, limit: int = 30) -> None:
    """In the focused radio group, press the down arrow until ``name`` is chosen."""
    target = radio(page, name)
    for _ in range(limit):
        if target.is_checked():
            return
        page.keyboard.press("ArrowDown")
    expect(target).to_be_checked()


CURRENT_NEXT = "section.step:not([hidden]) [data-next]"


def next_by_keyboard(page: Page, then: int) -> None:
    tab_to(page, CURRENT_NEXT)
    page.keyboard.press("Enter")
    expect_step(page, then)
    # The focus moves to the new step's heading, so a screen reader says where one is.
    expect(page.locator("section.step:not([hidden]) h1")).to_be_focused()


class TestKeyboardOnly:
    def test_a_report_can_be_sent_with_the_keyboard_alone(self, open_page: OpenPage) -> None:
        tab = open_page()
        page = tab.page
        page.goto(tab.url("/report?lang=en"))
        expect_step(page, 1)

        tab_to(page, "input[name=kind]")
        page.keyboard.press("Space")
        arrow_until_checked(page, KIND)
        next_by_keyboard(page, 2)

        tab_to(page, "input[name=category]")
        page.keyboard.press("Space")
        arrow_until_checked(page, CATEGORY)
        next_by_keyboard(page, 3)

        tab_to(page, "select[name=port]")
        page.keyboard.press("ArrowDown")
        expect(page.get_by_label("Port", exact=True)).not_to_have_value("")
        tab_to(page, "input[name=location_detail]")
        page.keyboard.type(PLACE)
        tab_to(page, "input[name=occurred]")
        page.keyboard.press("Space")
        arrow_until_checked(page, WHEN)
        tab_to(page, "input[name=cargo_direction]")
        arrow_until_checked(page, CARGO)
        next_by_keyboard(page, 4)

        tab_to(page, "textarea[name=narrative]")
        page.keyboard.type(NARRATIVE)
        next_by_keyboard(page, 5)
        next_by_keyboard(page, 6)  # no photo
        expect(radio(page, "Anonymous")).to_be_checked()
        next_by_keyboard(page, 7)

        tab_to(page, "input[name=exclude_bodies][value=customs]")
        page.keyboard.press("Space")
        expect(page.get_by_role("checkbox", name=EXCLUDED, exact=True)).to_be_checked()
        next_by_keyboard(page, 8)

        expect(page.locator("dl.review")).to_contain_text(NARRATIVE)
        tab_to(page, "section.step:not([hidden]) [data-send]")
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", name="Your report has been sent")).to_be_visible(
            timeout=SEND_TIMEOUT_MS
        )
        assert len(read_receipt(page)) == 16


class TestQuickExit:
    def test_quick_exit_leaves_no_way_back_to_portline(self, open_page: OpenPage) -> None:
        tab = open_page()
        page = tab.page
        page.route(
            QUICK_EXIT_URL,
            lambda route: route.fulfill(
                content_type="text/html", body="<!doctype html><title>Elsewhere</title>"
            ),
        )
        page.goto(tab.url("/report?lang=en"))
        radio(page, KIND).check()  # something typed that must not be found again
        pages_before = page.evaluate("history.length")

        page.get_by_role("link", name="Quick exit").click()
        page.wait_for_url(QUICK_EXIT_URL)
        expect(page).to_have_title("Elsewhere")
        assert page.evaluate("history.length") == pages_before
        page.go_back()
        assert not page.url.startswith(tab.portline.base_url)


class TestLanguages:
    def test_arabic_pages_read_right_to_left(self, open_page: OpenPage) -> None:
        tab = open_page()
        page = tab.page
        for path in ("/?lang=ar", "/report?lang=ar"):
            page.goto(tab.url(path))
            root = page.locator("html")
            expect(root).to_have_attribute("lang", "ar")
            expect(root).to_have_attribute("dir", "rtl")
            expect(page).not_to_have_title(NEUTRAL_TITLE)  # translated, not left in English
