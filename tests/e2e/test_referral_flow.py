"""Issue 6 end to end, in Chromium: a report sent from a phone is referred by triage, with a
redacted summary and its photo, to the port unit of the police; a real ``portline worker``
delivers the e-mail notice to a real SMTP server and the signed webhook to a real HTTP
receiver; the body's liaison officer acknowledges and asks the reporter a question, which
triage edits and passes on; the reporter answers with the receipt; the officer reads the
answer, accepts and closes with an outcome, which the reporter reads."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Page, ViewportSize, expect
from sqlmodel import Session, select

from api.agencies import service as agencies_service
from api.agencies.models import Body
from api.agencies.schemas import BodyUpdate
from api.crypto import KeyRing, generate_key_text, parse_key_text
from api.db import utcnow
from api.policy import Role
from api.referrals.models import OutboxJob
from tests.admin.people import Person, make_person
from tests.databases import fresh_database
from tests.e2e.conftest import POW_DIFFICULTY, SMALL_PHONE, OpenPage, Portline
from tests.e2e.flow import (
    CATEGORY,
    PORT,
    ZONE,
    come_back,
    fill_report,
    ignore,
    open_report_from_home,
    photo,
    read_receipt,
    reference,
    send,
)
from tests.e2e.test_console import Checks
from tests.referrals.receivers import Inbox, WebhookReceiver, smtp_server
from tests.server import running_server

pytestmark = pytest.mark.e2e

DESKTOP = ViewportSize(width=1280, height=800)
BODY_CODE = "police-port-unit"
BODY_NAME = "Regional police – port unit"
BODY_EMAIL = "duty-desk@police-port.example"
CONTAINER = "CSQU3054383"
SHARED_SUMMARY = f"Two men cut the seal of container {CONTAINER} at night and fitted a new one."
# The last sentence could identify the reporter: triage takes it out of what is shared.
IDENTIFYING = "I saw it from crane 7 during my night shift."
NARRATIVE = f"{SHARED_SUMMARY} {IDENTIFYING}"
# Words of the case that must never travel by e-mail.
CASE_CONTENT = (CONTAINER, "seal", "crane", CATEGORY, PORT, ZONE)
QUESTION = "Which crane did you see it from, and when exactly?"
PASSED_ON = "At what time did it happen, and did the men come by vehicle?"
ANSWER = "Around 02:00 on Monday. They came in a white van without plates."
OUTCOME = "The container was inspected and the seal replaced; an investigation is open."
WORKER_POLL_SECONDS = "0.2"
DELIVERY_TIMEOUT_SECONDS = 20.0


def _accessibility_problems(page: Page, screens: list[tuple[str, str]]) -> list[str]:
    """axe-core (serious and critical) and overflow on each screen, wide and narrow."""
    check = Checks(page)
    for viewport in (DESKTOP, SMALL_PHONE):
        page.set_viewport_size(viewport)
        for name, url in screens:
            page.goto(url)
            check(f"{name} at {viewport['width']} px")
    page.set_viewport_size(DESKTOP)
    assert len(check.screens) == 2 * len(screens)
    return check.problems


@dataclass(frozen=True)
class Deployment:
    """The server under test, the key it runs with and the environment it was started
    with, which a worker shares."""

    portline: Portline
    keyring: KeyRing
    environment: dict[str, str]
    directory: Path


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    directory = tmp_path_factory.mktemp("referral-flow")
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
            yield Deployment(
                Portline(base_url, engine),
                KeyRing(parse_key_text(key, source="test")),
                environment,
                directory,
            )


@pytest.fixture(scope="module")
def portline(deployment: Deployment) -> Portline:
    """``open_page`` opens this module's server."""
    return deployment.portline


@contextmanager
def running_worker(deployment: Deployment, smtp_port: int) -> Iterator[subprocess.Popen[bytes]]:
    """``portline worker`` on the server's database and key, sending to the local SMTP
    server in clear and linking to the server under test; stopped with SIGTERM."""
    environment = {
        **os.environ,
        **deployment.environment,
        "PORTLINE_SMTP_HOST": "127.0.0.1",
        "PORTLINE_SMTP_PORT": str(smtp_port),
        "PORTLINE_SMTP_STARTTLS": "false",
        "PORTLINE_MAIL_FROM": "portline@port.example",
        "PORTLINE_PUBLIC_URL": deployment.portline.base_url,
        "PORTLINE_WORKER_POLL_SECONDS": WORKER_POLL_SECONDS,
        "PORTLINE_LOG_LEVEL": "INFO",
    }
    log_path = deployment.directory / "worker.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "worker"],
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DELIVERY_TIMEOUT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _configure_body(deployment: Deployment, *, webhook_url: str, secret: str) -> int:
    """The police port unit's notice channels, set by an administrator through the service
    the API and the console use; returns the body's id."""
    keyring, engine = deployment.keyring, deployment.portline.engine
    with Session(engine, expire_on_commit=False) as session:
        administrator = make_person(session, keyring, role=Role.administrator, enrolled=False)
        agencies_service.update_body(
            session=session,
            keyring=keyring,
            actor=administrator.staff,
            code=BODY_CODE,
            body_in=BodyUpdate(
                notification_email=BODY_EMAIL, webhook_url=webhook_url, webhook_secret=secret
            ),
            now=utcnow(),
        )
        session.commit()
        body_id = session.exec(select(Body.id).where(Body.code == BODY_CODE)).one()
        assert body_id is not None
        return body_id


def _notices_delivered(deployment: Deployment) -> bool:
    with Session(deployment.portline.engine) as session:
        statuses = session.exec(select(OutboxJob.status)).all()
    return len(statuses) == 2 and set(statuses) == {"delivered"}


def _sign_in(page: Page, portline: Portline, person: Person) -> None:
    page.goto(portline.url("/admin/login?lang=en"))
    page.get_by_label("E-mail address").fill(person.email)
    page.get_by_label("Password").fill(person.password)
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Code", exact=True).fill(person.code())
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/admin$"))


def _check_email(inbox: Inbox, base_url: str, referral: str, *case_content: str) -> None:
    """One notice to the body's address: the reference and a link, nothing of the case."""
    (message,) = inbox.messages
    assert inbox.recipients == [BODY_EMAIL]
    assert message["To"] == BODY_EMAIL
    assert referral in message["Subject"]
    assert f"{base_url}/admin/referrals/{referral}" in message.get_content()
    whole = message.as_string()
    for content in case_content:
        assert content not in whole, f"the e-mail notice carries {content!r}"


def _check_webhook(receiver: WebhookReceiver, base_url: str, referral: str, receipt: str) -> None:
    """One signed call carrying the referral as triage shared it, and only that."""
    (call,) = receiver.deliveries
    assert call.signature_valid, call.headers
    assert call.headers["idempotency-key"]
    document = call.document
    assert document["reference"] == referral
    assert document["url"] == f"{base_url}/admin/referrals/{referral}"
    assert document["body"]["code"] == BODY_CODE
    assert document["summary"] == SHARED_SUMMARY
    assert document["category"]["name"] == CATEGORY
    assert (document["port"]["name"], document["zone"]["name"]) == (PORT, ZONE)
    (shared_photo,) = document["attachments"]
    assert shared_photo["download_url"].startswith(base_url)
    payload = call.payload.decode()
    assert IDENTIFYING not in payload and receipt not in payload


class TestReferralEndToEnd:
    def test_from_the_phone_through_triage_to_the_body_and_back_to_the_reporter(
        self, open_page: OpenPage, deployment: Deployment
    ) -> None:
        portline, keyring = deployment.portline, deployment.keyring
        secret = secrets.token_urlsafe(32)
        with (
            smtp_server() as (smtp_port, inbox),
            WebhookReceiver(secret.encode()).running() as receiver,
            running_worker(deployment, smtp_port) as worker,
        ):
            body_id = _configure_body(deployment, webhook_url=receiver.url, secret=secret)
            with Session(portline.engine, expire_on_commit=False) as session:
                triager = make_person(session, keyring, role=Role.triager)
                officer = make_person(session, keyring, role=Role.liaison, body_id=body_id)

            # A worker reports from the phone, with a photo, excluding customs.
            phone = open_page()
            reporter = phone.page
            open_report_from_home(phone, ignore)
            fill_report(reporter, ignore, photos=[photo()], narrative=NARRATIVE)
            send(reporter)
            receipt = read_receipt(reporter)
            report_reference = reference(reporter)

            # The triager finds the case in the queue by the report's reference.
            desk = open_page(viewport=DESKTOP)
            console = desk.page
            _sign_in(console, portline, triager)
            navigation = console.get_by_role("navigation", name="Console")
            navigation.get_by_role("link", name="Triage").click()
            console.get_by_label("Search").fill(report_reference)
            console.get_by_role("button", name="Show cases").click()
            row = console.locator("tbody tr").filter(has_text=re.compile(r"Acknowledge by"))
            expect(row).to_have_count(1)
            row.get_by_role("link").first.click()
            expect(console.locator(".narrative")).to_have_text(NARRATIVE)
            case_url = console.url

            # Refers it: the body the reporter excluded cannot be chosen; the summary is
            # redacted and the photo shared; the preview shows exactly that.
            console.get_by_role("link", name="Refer to a body").click()
            expect(console.get_by_role("heading", name="Refer the case")).to_be_visible()
            expect(console.get_by_role("radio", name=re.compile("^Customs"))).to_be_disabled()
            console.get_by_role("radio", name=re.compile("^" + re.escape(BODY_NAME))).check()
            console.get_by_label("What the body will read").fill(SHARED_SUMMARY)
            console.get_by_role(
                "checkbox", name=re.compile(f"Photo 1 of report {report_reference}")
            ).check()
            console.get_by_role("button", name="Preview what the body will see").click()
            expect(console.get_by_role("heading", name="Preview of the referral")).to_be_visible()
            expect(console.locator(".warning")).to_contain_text(BODY_NAME)
            expect(console.locator(".narrative")).to_have_text(SHARED_SUMMARY)
            expect(console.locator(".shared-photos li")).to_have_text(re.compile("640×480"))
            console.get_by_role("button", name="Send the referral").click()
            expect(console.locator(".notice")).to_contain_text("The case is referred")
            expect(console.locator(".case-summary .badge.status")).to_have_text("Referred")
            referral_card = console.locator("article.referral")
            expect(referral_card).to_have_count(1)
            referral = referral_card.locator("h3 .case-reference").inner_text().strip()
            expect(referral_card.locator(".badge.status")).to_have_text(
                "Sent, not yet acknowledged"
            )

            # The worker delivers both notices; triage sees them delivered.
            _wait_until(lambda: _notices_delivered(deployment), "both notices delivered")
            _check_email(
                inbox, portline.base_url, referral, *CASE_CONTENT, report_reference, receipt
            )
            _check_webhook(receiver, portline.base_url, referral, receipt)
            console.reload()
            notices = referral_card.locator(".deliveries li")
            expect(notices).to_have_count(2)
            expect(notices.filter(has_text="E-mail notice")).to_contain_text("delivered")
            expect(notices.filter(has_text="Webhook")).to_contain_text("delivered")

            # The reporter reads that a competent authority has the report, not which.
            come_back(reporter, receipt, ignore)
            expect(reporter.get_by_role("status").first).to_contain_text("competent authority")
            expect(reporter.locator("main")).not_to_contain_text("police")

            # The liaison officer, in a browser of their own, finds the referral and reads
            # what triage shared, acknowledges, and asks the reporter a question.
            liaison_desk = open_page(viewport=DESKTOP)
            workspace = liaison_desk.page
            _sign_in(workspace, portline, officer)
            workspace.get_by_role("navigation", name="Console").get_by_role(
                "link", name="Referrals"
            ).click()
            expect(workspace.get_by_role("heading", name="Referrals to your body")).to_be_visible()
            workspace.get_by_role("link", name=referral, exact=True).click()
            expect(workspace.get_by_role("heading", level=1)).to_contain_text(referral)
            expect(workspace.locator(".narrative")).to_have_text(SHARED_SUMMARY)
            expect(workspace.locator("main")).not_to_contain_text("crane")
            shared = workspace.get_by_role("img", name=f"Shared photo 1 of referral {referral}")
            expect(shared).to_be_visible()
            assert shared.evaluate("image => image.naturalWidth") > 0
            workspace.get_by_role("button", name="Acknowledge", exact=True).click()
            expect(workspace.locator(".notice")).to_contain_text("The referral is acknowledged")
            workspace.get_by_label("Your question").fill(QUESTION)
            workspace.get_by_role("button", name="Send the question to triage").click()
            expect(workspace.locator(".notice")).to_contain_text("waits for triage's approval")
            timeline = workspace.locator(".timeline")
            expect(timeline).to_contain_text(QUESTION)
            expect(timeline).to_contain_text("Waiting for triage's approval")

            # Triage sees the acknowledgement and the pending question, and passes it on
            # edited so that it cannot point at the reporter.
            console.goto(case_url)
            expect(referral_card.locator(".badge.status")).to_have_text("Acknowledged by the body")
            triage_timeline = referral_card.locator(".timeline")
            expect(triage_timeline).to_contain_text("waiting for your approval")
            as_read = console.get_by_label("The question as the reporters will read it")
            expect(as_read).to_have_value(QUESTION)
            as_read.fill(PASSED_ON)
            console.get_by_role("button", name="Pass it on to the reporters").click()
            expect(console.locator(".notice")).to_contain_text("from the authority")
            expect(triage_timeline).to_contain_text("passed on to the reporter")
            expect(triage_timeline).to_contain_text(PASSED_ON)

            # The reporter reads the question from "the authority", and answers it.
            reporter.reload()
            from_authority = reporter.locator(".thread li.authority")
            expect(from_authority).to_have_count(1)
            expect(from_authority).to_contain_text("The authority handling your report")
            expect(from_authority).to_contain_text(PASSED_ON)
            expect(reporter.locator("main")).not_to_contain_text(QUESTION)
            reporter.get_by_label("Write to the team").fill(ANSWER)
            reporter.get_by_role("button", name="Send message").click()
            expect(reporter.locator(".thread")).to_contain_text(ANSWER)
            # The answer goes back to the body still working the case.
            expect(reporter.get_by_role("status").first).to_contain_text("competent authority")

            # The officer reads the answer, takes the case on and closes with an outcome.
            workspace.reload()
            expect(timeline).to_contain_text("Question as triage passed it on")
            expect(timeline).to_contain_text(PASSED_ON)
            expect(timeline).to_contain_text("The reporter's answer")
            expect(timeline).to_contain_text(ANSWER)
            expect(timeline).to_contain_text("Answered by the reporter")
            workspace.get_by_role("button", name="Accept", exact=True).click()
            expect(workspace.locator(".notice")).to_contain_text("The referral is accepted")
            workspace.get_by_label("Outcome, for the reporter").fill(OUTCOME)
            workspace.get_by_role("button", name="Close the referral").click()
            expect(workspace.locator(".notice")).to_contain_text("The referral is closed")
            expect(workspace.locator(".badges .badge.status")).to_have_text("Closed")
            expect(timeline).to_contain_text(OUTCOME)

            # The reporter reads the outcome, from the authority.
            reporter.reload()
            expect(from_authority).to_have_count(2)
            expect(from_authority.last).to_contain_text(OUTCOME)

            # Triage reads the whole story in the case, notices still delivered.
            console.reload()
            expect(referral_card.locator(".badge.status")).to_have_text("Closed by the body")
            expect(triage_timeline).to_contain_text(ANSWER)
            expect(triage_timeline).to_contain_text(OUTCOME)
            expect(notices.filter(has_text="delivered")).to_have_count(2)

            # Marking a body implicated asks first; the question passes axe-core too.
            asked = Checks(console)
            for viewport in (DESKTOP, SMALL_PHONE):
                console.set_viewport_size(viewport)
                console.goto(case_url)
                console.get_by_label("Mark a body implicated").select_option(label=BODY_NAME)
                console.get_by_role("button", name="Mark implicated", exact=True).click()
                expect(console.get_by_role("heading", level=1)).to_have_text(
                    f"Mark {BODY_NAME} implicated?"
                )
                asked(f"implicated question at {viewport['width']} px")
                console.get_by_role("link", name="Cancel").click()
                expect(console).to_have_url(case_url)
            console.set_viewport_size(DESKTOP)

            # Every console page of the story passes axe-core and fits 1280 and 360 px.
            referral_url = f"{portline.base_url}/admin/referrals/{referral}"
            problems = (
                asked.problems
                + _accessibility_problems(
                    console,
                    [
                        ("queue", f"{portline.base_url}/admin/triage"),
                        ("case", case_url),
                        ("refer form", f"{case_url}/refer"),
                        ("dashboard", f"{portline.base_url}/admin/dashboard"),
                        ("routing rules", f"{portline.base_url}/admin/rules"),
                    ],
                )
                + _accessibility_problems(
                    workspace,
                    [
                        ("referrals", f"{portline.base_url}/admin/referrals"),
                        ("referral", referral_url),
                    ],
                )
            )
            assert not problems, "\n".join(problems)

            # Nothing more was sent: one notice per channel, the worker stops cleanly.
            assert len(inbox.messages) == 1 and len(receiver.deliveries) == 1
            worker.terminate()
            assert worker.wait(timeout=10) == 0
            assert b"stopped after 2 notices" in (deployment.directory / "worker.log").read_bytes()
