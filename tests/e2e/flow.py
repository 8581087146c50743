"""Going through the reporter's pages as a reporter does: by what the screen shows.

The same steps work with and without JavaScript: without it every "Next" is a round trip
to the server, with it app.js switches steps on the page.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable

from PIL import Image
from playwright.sync_api import FilePayload, Locator, Page, expect

from tests.e2e.conftest import Tab

STEPS = 8
NEUTRAL_TITLE = "Port information"
KIND = "Security incident"
CATEGORY = "A seal or cargo was tampered with"
PORT = "Port of Norderhaven"
ZONE = "Container terminal North"
PLACE = "Stack 14, near the reefer plugs"
WHEN = "Yesterday"
CARGO = "Outbound cargo (leaving)"
NARRATIVE = "Two men cut the seal of a reefer container at night and fitted a new one."
EXCLUDED = "Customs"
SEND_TIMEOUT_MS = 30_000

# Called with a screen's name ("home", "kind", "receipt"…) once that screen shows.
OnScreen = Callable[[str], None]


def ignore(_screen: str) -> None:
    """An ``OnScreen`` that looks at nothing."""


def photo() -> FilePayload:
    """A small JPEG as a phone's file picker hands it over."""
    buffer = io.BytesIO()
    Image.new("RGB", (640, 480), (200, 30, 30)).save(buffer, "JPEG")
    return FilePayload(name="seal.jpg", mimeType="image/jpeg", buffer=buffer.getvalue())


def expect_step(page: Page, number: int) -> None:
    expect(page.locator("[data-progress]")).to_have_text(f"Step {number} of {STEPS}")


def radio(page: Page, name: str) -> Locator:
    """A radio button by the start of its label (labels may carry a hint after the name)."""
    return page.get_by_role("radio", name=re.compile("^" + re.escape(name)))


def press_next(page: Page, then: int) -> None:
    page.get_by_role("button", name="Next", exact=True).click()
    expect_step(page, then)


def open_report_from_home(tab: Tab, on_screen: OnScreen) -> None:
    """Home, then the emergency numbers, then the first step of the report."""
    page = tab.page
    page.goto(tab.url("/?lang=en"))
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    on_screen("home")
    page.get_by_role("link", name="Yes: show emergency numbers").click()
    expect(page.get_by_role("link", name=re.compile(r"112"))).not_to_have_count(0)
    on_screen("danger")
    page.get_by_role("link", name="Make a report").click()
    expect_step(page, 1)


def fill_report(
    page: Page, on_screen: OnScreen, *, photos: list[FilePayload], narrative: str = NARRATIVE
) -> None:
    """From the first step to the review, answering every step."""
    expect_step(page, 1)
    on_screen("kind")
    radio(page, KIND).check()
    press_next(page, 2)

    on_screen("category")
    radio(page, CATEGORY).check()
    press_next(page, 3)

    on_screen("where")
    page.get_by_label("Port", exact=True).select_option(label=PORT)
    # Without the page's script the port's parts are listed once the page knows the port.
    listing = page.get_by_role("button", name="List the parts of this port")
    if listing.is_visible():
        listing.click()
        expect_step(page, 3)
    page.get_by_label("Part of the port (if you know)").select_option(label=ZONE)
    page.get_by_label("Exact place (optional)").fill(PLACE)
    radio(page, WHEN).check()
    # A seal concerns cargo: the question shows once that category is chosen.
    radio(page, CARGO).check()
    press_next(page, 4)

    on_screen("what")
    page.get_by_label("What happened?").fill(narrative)
    press_next(page, 5)

    on_screen("photos")
    if photos:
        page.get_by_label("Photos (optional)").set_input_files(photos)
        add = page.get_by_role("button", name="Add these photos")
        if add.is_visible():  # without JavaScript the photos go up with this button
            add.click()
        expect(page.get_by_role("button", name="Remove")).to_have_count(len(photos))
        on_screen("photos-added")
    press_next(page, 6)

    on_screen("identity")
    expect(radio(page, "Anonymous")).to_be_checked()
    press_next(page, 7)

    on_screen("exclusions")
    page.get_by_role("checkbox", name=EXCLUDED, exact=True).check()
    press_next(page, 8)

    on_screen("review")
    expect(review_answer(page, "What happened?")).to_have_text(narrative)
    expect(review_answer(page, "Where and when?")).to_contain_text(PLACE)
    expect(review_answer(page, "Photos")).to_have_text(str(len(photos)))
    expect(review_answer(page, "Never send to")).to_have_text(EXCLUDED)


def review_answer(page: Page, question: str) -> Locator:
    """The first answer the review shows under ``question``."""
    row = page.locator("dl.review > div").filter(
        has=page.locator("dt", has_text=re.compile("^" + re.escape(question) + "$"))
    )
    return row.locator("dd").first


def send(page: Page) -> None:
    page.get_by_role("button", name="Send the report").click()


def receipt_code(page: Page) -> Locator:
    """The receipt as shown: server-rendered without JavaScript, filled in by app.js."""
    return page.locator(".code:visible")


def read_receipt(page: Page) -> str:
    code = receipt_code(page)
    expect(code).to_have_text(re.compile(r"^\s*(\d{4}\s*){4}$"), timeout=SEND_TIMEOUT_MS)
    return re.sub(r"\D", "", code.inner_text())


def reference(page: Page) -> str:
    return page.locator(".reference:visible span").inner_text().strip()


def come_back(page: Page, receipt: str, on_screen: OnScreen) -> None:
    """From the receipt screen: Done, then "I have a receipt code", then the status page."""
    page.get_by_role("link", name="Done").click()
    page.get_by_role("link", name="I have a receipt code").click()
    expect(page.get_by_role("heading", name="Come back to your report")).to_be_visible()
    on_screen("login")
    page.get_by_label("Your 16-digit receipt code").fill(receipt)
    page.get_by_role("button", name="Open my report").click()
    expect(page.get_by_role("status")).to_contain_text("Status:")
    on_screen("status")
