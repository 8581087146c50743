"""Issue 5 end to end, in Chromium: a report sent from a phone reaches the triage queue;
the triager acknowledges it and asks a question; the reporter, with the receipt, reads
both and answers; the triager reads the answer, links a second report about the same
container as a duplicate and closes the case; the reporter reads the outcome."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page, ViewportSize, expect
from sqlmodel import Session

from api.crypto import KeyRing, generate_key_text, parse_key_text
from api.policy import Role
from api.proofs.service import solve
from tests.admin.people import Person, make_person
from tests.databases import fresh_database
from tests.e2e.conftest import POW_DIFFICULTY, OpenPage, Portline
from tests.e2e.flow import (
    SEND_TIMEOUT_MS,
    come_back,
    fill_report,
    ignore,
    open_report_from_home,
    photo,
    read_receipt,
    reference,
    send,
)
from tests.factories import post_report, report_payload
from tests.server import running_server

pytestmark = pytest.mark.e2e

DESKTOP = ViewportSize(width=1280, height=800)
CONTAINER_NARRATIVE = "Two men cut the seal of container CSQU3054383 at night and fitted a new one."
DUPLICATE_NARRATIVE = "Same box again: CSQU 305438 3, its seal was swapped on Tuesday."
QUESTION = "Which night was it, and did they come by truck?"
ANSWER = "Monday night, around 02:00. A white van without plates."
OUTCOME = "The terminal replaced the seal and the matter is with the authorities."


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Portline, KeyRing]]:
    """A server of this module's own, whose key the test holds to make a triager."""
    directory = tmp_path_factory.mktemp("triage-flow")
    key = generate_key_text()
    with fresh_database(directory) as (url, engine):
        environment = {
            "PORTLINE_DATABASE_URL": url,
            "PORTLINE_DATA_DIR": str(directory),
            "PORTLINE_KEY": key,
            "PORTLINE_POW_DIFFICULTY": str(POW_DIFFICULTY),
            "PORTLINE_LOG_LEVEL": "WARNING",
            "PORTLINE_PUBLIC_URL": "http://127.0.0.1:{port}",  # the links it hands out
        }
        with running_server(environment, directory / "server.log") as base_url:
            yield Portline(base_url, engine), KeyRing(parse_key_text(key, source="test"))


@pytest.fixture(scope="module")
def portline(keyed_server: tuple[Portline, KeyRing]) -> Portline:
    """``open_page`` opens this module's server."""
    return keyed_server[0]


def _send_duplicate(portline: Portline) -> str:
    """A second report about the same container, sent as the mobile client does."""
    with httpx.Client(base_url=portline.base_url) as client:
        challenge = client.post("/api/v1/public/challenge").json()
        proof = {
            "challenge": challenge["challenge"],
            "nonce": solve(challenge["challenge"], challenge["difficulty"]),
        }
        sent = post_report(client, report_payload(narrative=DUPLICATE_NARRATIVE, proof=proof))
        assert sent.status_code == 201, sent.text
        return str(sent.json()["reference"])


def _sign_in(page: Page, portline: Portline, person: Person) -> None:
    page.goto(portline.url("/admin/login?lang=en"))
    page.get_by_label("E-mail address").fill(person.email)
    page.get_by_label("Password").fill(person.password)
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Code", exact=True).fill(person.code())
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/admin$"))


def _status_of(page: Page) -> str:
    return page.get_by_role("status").first.inner_text()


class TestTriageEndToEnd:
    def test_from_the_phone_to_the_queue_and_back_to_the_reporter(
        self, open_page: OpenPage, keyed_server: tuple[Portline, KeyRing]
    ) -> None:
        portline, keyring = keyed_server
        with Session(portline.engine, expire_on_commit=False) as session:
            triager = make_person(session, keyring, role=Role.triager)

        # A worker reports from the phone.
        phone = open_page()
        reporter = phone.page
        open_report_from_home(phone, ignore)
        fill_report(reporter, ignore, photos=[photo()], narrative=CONTAINER_NARRATIVE)
        send(reporter)
        receipt = read_receipt(reporter)
        first_reference = reference(reporter)
        duplicate_reference = _send_duplicate(portline)

        # The triager finds it in the queue, the most urgent first.
        desk = open_page(viewport=DESKTOP)
        console = desk.page
        desk.tolerate(r"status of (404|409|422)")
        _sign_in(console, portline, triager)
        console.get_by_role("navigation", name="Console").get_by_role("link", name="Triage").click()
        console.get_by_label("Search").fill(first_reference)
        console.get_by_role("button", name="Show cases").click()
        row = console.locator("tbody tr").filter(has_text=re.compile(r"Acknowledge by"))
        expect(row).to_have_count(1)
        row.get_by_role("link").first.click()
        expect(console.get_by_role("heading", level=1)).to_contain_text("Untitled case")
        expect(console.locator(".narrative")).to_have_text(CONTAINER_NARRATIVE)
        photo_shown = console.get_by_role("img", name=re.compile(r"^Photo 1 of report"))
        expect(photo_shown).to_be_visible()
        assert photo_shown.evaluate("image => image.naturalWidth") > 0

        # Acknowledge, then ask.
        console.get_by_role("button", name="Acknowledge receipt").click()
        expect(console.locator(".notice")).to_contain_text("The case is acknowledged")
        console.get_by_label("Write to this reporter").first.fill(QUESTION)
        console.get_by_role("button", name="Ask and wait for the answer").first.click()
        expect(console.locator(".notice")).to_contain_text("the case waits for an answer")
        expect(console.locator(".badge.status")).to_have_text("Waiting for the reporter")

        # The reporter comes back with the receipt, reads both, and answers.
        come_back(reporter, receipt, ignore)
        expect(reporter.get_by_text("Your report has been received")).not_to_have_count(0)
        thread = reporter.locator("main")
        expect(thread).to_contain_text("Your report has been received")
        expect(thread).to_contain_text(QUESTION)
        expect(reporter.get_by_role("status").first).to_contain_text("question")
        reporter.get_by_label(re.compile("^(Your answer|Your message|Write)")).fill(ANSWER)
        reporter.get_by_role("button", name="Send message").click()
        expect(thread).to_contain_text(ANSWER, timeout=SEND_TIMEOUT_MS)

        # The triager reads the answer and links the duplicate suggested by the container.
        console.reload()
        expect(console.locator(".thread")).to_contain_text(ANSWER)
        expect(console.locator(".badge.status")).to_have_text("In progress")
        related = console.get_by_role("region", name="Possibly related cases")
        expect(related).to_contain_text("the same container number")
        related.get_by_role(
            "button", name=f"Link report {duplicate_reference} here as a duplicate"
        ).click()
        expect(console.locator(".notice")).to_have_text("The report is now part of this case.")
        expect(console.get_by_role("heading", name="Reports in this case (2)")).to_be_visible()
        expect(console.locator(".narrative").nth(1)).to_have_text(DUPLICATE_NARRATIVE)

        # And closes it with an outcome.
        console.get_by_label("Resolution").select_option(label="Substantiated: action was taken")
        console.get_by_label("Outcome, for the reporter").fill(OUTCOME)
        console.get_by_role("button", name="Close the case").click()
        expect(console.locator(".notice")).to_contain_text("The case is closed")
        expect(console.locator(".badge.status")).to_have_text("Closed")

        # The reporter reads the outcome.
        reporter.reload()
        expect(thread).to_contain_text(OUTCOME)
        expect(reporter.get_by_role("status").first).to_contain_text("Closed")
