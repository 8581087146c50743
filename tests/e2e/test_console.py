"""The staff console in Chromium: an administrator made on the command line invites a
triager, who sets a password, sets up the second factor and signs in; every console page
passes axe-core and fits a 360 px screen."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pyotp
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, ViewportSize, expect

from api.crypto import generate_key_text
from tests.databases import fresh_database
from tests.e2e.conftest import SMALL_PHONE, OpenPage, Portline
from tests.server import running_server

pytestmark = pytest.mark.e2e

DESKTOP = ViewportSize(width=1280, height=800)
BLOCKING_IMPACTS = ("serious", "critical")
OVERFLOW = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
# Chromium logs every page answered with an error status; these answers are expected.
REFUSALS = r"Failed to load resource: the server responded with a status of (401|403|404|409|422)"
STEP_SECONDS = 30


@dataclass(frozen=True)
class Server:
    portline: Portline
    environment: dict[str, str]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server of this module's own: the command line must share its key and database."""
    directory = tmp_path_factory.mktemp("console")
    with fresh_database(directory) as (url, engine):
        environment = {
            "PORTLINE_DATABASE_URL": url,
            "PORTLINE_DATA_DIR": str(directory),
            "PORTLINE_KEY": generate_key_text(),
            "PORTLINE_LOG_LEVEL": "WARNING",
            "PORTLINE_PUBLIC_URL": "http://127.0.0.1:{port}",  # the links it hands out
        }
        with running_server(environment, directory / "server.log") as base_url:
            yield Server(Portline(base_url, engine), environment)


@pytest.fixture(scope="module")
def portline(server: Server) -> Portline:
    """``open_page`` opens this module's server."""
    return server.portline


@dataclass
class Person:
    email: str
    password: str
    secret: str = ""
    recovery_codes: list[str] = field(default_factory=list)
    last_step: int = 0

    def code(self) -> str:
        """A code the server has not seen yet: this step's, or the next one's when this
        step's is spent (the server accepts one step ahead), waiting if both are."""
        while True:
            current = int(time.time()) // STEP_SECONDS
            step = max(current, self.last_step + 1)
            if step <= current + 1:
                self.last_step = step
                return pyotp.TOTP(self.secret).at(step * STEP_SECONDS)
            time.sleep(1)

    def spent_code(self) -> str:
        return pyotp.TOTP(self.secret).at(self.last_step * STEP_SECONDS)


def create_on_command_line(server: Server, role: str, email: str) -> str:
    """``portline staff create``; returns the invitation link it prints."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "api.cli",
            "staff",
            "create",
            "--role",
            role,
            "--email",
            email,
            "--base-url",
            server.portline.base_url,
        ],
        env={**os.environ, **server.environment},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    found = re.search(r"https?://\S+/admin/welcome/\S+", result.stdout)
    assert found, result.stdout + result.stderr
    return found.group(0)


class Checks:
    """axe-core and a 360 px width on each console screen."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.axe = Axe()
        self.screens: list[str] = []
        self.problems: list[str] = []

    def __call__(self, screen: str) -> None:
        self.screens.append(screen)
        results: dict[str, Any] = self.axe.run(self.page).response
        for violation in results["violations"]:
            if violation["impact"] in BLOCKING_IMPACTS:
                targets = "; ".join(" ".join(node["target"]) for node in violation["nodes"])
                self.problems.append(
                    f"{screen}: axe {violation['id']} ({violation['impact']}): "
                    f"{violation['help']}: {targets}"
                )
        overflow = self.page.evaluate(OVERFLOW)
        if overflow > 0:
            self.problems.append(f"{screen}: the page is {overflow} px wider than the screen")


def ignore(_screen: str) -> None:
    """A check that looks at nothing."""


def set_password(page: Page, link: str, password: str) -> None:
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("Welcome to Portline")
    page.get_by_label("New password", exact=True).fill(password)
    page.get_by_label("The same password again").fill(password)
    page.get_by_role("button", name="Save the password").click()
    expect(page.locator(".notice")).to_have_text(
        "Your password is set. Sign in with it to continue."
    )


def password_step(page: Page, person: Person) -> None:
    if "/admin/login" not in page.url:
        page.goto(page.url.split("/admin")[0] + "/admin/login")
    page.get_by_label("E-mail address").fill(person.email)
    page.get_by_label("Password").fill(person.password)
    page.get_by_role("button", name="Continue").click()


def code_step(page: Page, code: str) -> None:
    page.get_by_label("Code", exact=True).fill(code)
    page.get_by_role("button", name="Sign in").click()


def sign_in(page: Page, person: Person, check: Any = ignore) -> None:
    password_step(page, person)
    expect(page.get_by_role("heading", level=1)).to_have_text("Second step")
    check("second factor")
    code_step(page, person.code())
    expect(page).to_have_url(re.compile(r"/admin$"))


def enrol(page: Page, person: Person, check: Any = ignore) -> None:
    """From the sign-in page to the console home, setting up the second factor on the way."""
    password_step(page, person)
    expect(page.get_by_role("heading", level=1)).to_have_text("Set up the second factor")
    expect(page.get_by_role("img", name="QR code for your authenticator app")).to_be_visible()
    check("enrol")
    person.secret = "".join(page.locator("#secret span").all_inner_texts())
    page.get_by_label("The code the app shows now").fill(person.code())
    page.get_by_role("button", name="Turn on the second factor").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your recovery codes")
    person.recovery_codes = page.locator("#recovery-codes li").all_inner_texts()
    assert len(person.recovery_codes) == 10
    check("recovery codes")
    page.get_by_role("link", name="I have written them down: continue").click()
    expect(page).to_have_url(re.compile(r"/admin$"))


def sign_out(page: Page) -> None:
    page.get_by_role("navigation", name="Console").get_by_role("button", name="Sign out").click()
    expect(page.locator(".notice")).to_have_text("You are signed out.")


def invite(page: Page, email: str, role_label: str, check: Any = ignore) -> str:
    """As an administrator: create an account; returns the invitation link shown."""
    page.get_by_role("navigation", name="Console").get_by_role(
        "link", name="Administration"
    ).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Staff accounts")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Name", exact=True).fill(email.split("@")[0].title())
    page.get_by_label("Role").select_option(label=role_label)
    page.get_by_role("button", name="Create the account").click()
    expect(page.locator(".notice")).to_have_text(f"The account of {email} is created.")
    check("staff with invitation link")
    return page.locator("#invitation-link").inner_text().strip()


def new_person(email: str) -> Person:
    return Person(email=email, password=f"quayside {email.split('@')[0]} lantern orbit")


class TestConsole:
    def test_an_invited_triager_sets_up_two_factors_and_signs_in(
        self, open_page: OpenPage, server: Server
    ) -> None:
        admin_tab = open_page(viewport=DESKTOP)
        admin_tab.tolerate(REFUSALS)
        admin = new_person("chief@example.test")
        set_password(
            admin_tab.page,
            create_on_command_line(server, "administrator", admin.email),
            admin.password,
        )
        enrol(admin_tab.page, admin)
        sign_out(admin_tab.page)
        sign_in(admin_tab.page, admin)
        link = invite(admin_tab.page, "deck.triager@example.test", "Triager")
        assert link.startswith(server.portline.base_url + "/admin/welcome/")

        tab = open_page(viewport=DESKTOP)
        tab.tolerate(REFUSALS)
        page = tab.page
        triager = new_person("deck.triager@example.test")
        page.goto(link)
        page.get_by_label("New password", exact=True).fill("harbour")
        page.get_by_label("The same password again").fill("harbour")
        page.get_by_role("button", name="Save the password").click()
        expect(page.locator("#password-error")).to_have_text("Use at least 12 characters.")
        set_password(page, link, triager.password)
        enrol(page, triager)
        menu = page.get_by_role("navigation", name="Console")
        expect(menu.get_by_role("link", name="Triage")).to_be_visible()
        expect(menu.get_by_role("link", name="Administration")).to_have_count(0)

        # A wrong code, then the code already used, then a recovery code.
        sign_out(page)
        password_step(page, triager)
        wrong = next(c for c in ("000000", "999999") if c not in (triager.spent_code(),))
        code_step(page, wrong)
        expect(page.locator("#code-error")).to_have_text(
            "This code is not right or was already used."
        )
        code_step(page, triager.spent_code())
        expect(page.locator("#code-error")).to_have_text(
            "This code is not right or was already used."
        )
        code_step(page, triager.recovery_codes[0])
        expect(page).to_have_url(re.compile(r"/admin$"))

        # The recovery code worked once; the app's next code still works.
        sign_out(page)
        password_step(page, triager)
        code_step(page, triager.recovery_codes[0])
        expect(page.locator("#code-error")).to_be_visible()
        code_step(page, triager.code())
        expect(page).to_have_url(re.compile(r"/admin$"))
        expect(page.get_by_role("heading", level=1)).to_have_text("Welcome, Deck.Triager")

        # Disabling the account ends the triager's session at once.
        admin_tab.page.get_by_role("link", name="Disable deck.triager@example.test").click()
        admin_tab.page.get_by_role("button", name="Disable the account").click()
        expect(admin_tab.page.locator(".notice")).to_have_text(
            "The account is disabled and its sessions have ended."
        )
        page.reload()
        expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")

    @pytest.mark.parametrize("viewport", [DESKTOP, SMALL_PHONE], ids=["1280x800", "360x640"])
    def test_every_console_page_passes_axe_and_fits_the_screen(
        self, open_page: OpenPage, server: Server, viewport: ViewportSize
    ) -> None:
        suffix = f"{viewport['width']}"
        tab = open_page(viewport=viewport)
        tab.tolerate(REFUSALS)
        page = tab.page
        check = Checks(page)

        admin = new_person(f"admin{suffix}@example.test")
        page.goto(create_on_command_line(server, "administrator", admin.email))
        check("welcome")
        page.get_by_label("New password", exact=True).fill("harbour")
        page.get_by_label("The same password again").fill("harbour")
        page.get_by_role("button", name="Save the password").click()
        expect(page.locator("#password-error")).to_be_visible()
        check("welcome with problems")
        set_password(page, page.url, admin.password)
        check("sign in with notice")
        enrol(page, admin, check)
        check("home")
        auditor_link = invite(page, f"auditor{suffix}@example.test", "Auditor", check)
        page.get_by_label("E-mail address").fill(f"liaison{suffix}@example.test")
        page.get_by_label("Role").select_option(label="Liaison officer")
        page.get_by_role("button", name="Create the account").click()  # without a body
        expect(page.locator("#body_id-error")).to_be_visible()
        check("staff form with problems")
        page.get_by_role("link", name=f"Disable auditor{suffix}@example.test").click()
        check("confirm")
        page.get_by_role("link", name="My account").click()
        check("account")
        page.get_by_label("Current password").fill("wrong password here")
        page.get_by_label("New password", exact=True).fill("x")
        page.get_by_label("The same new password again").fill("x")
        page.get_by_role("button", name="Change the password").click()
        expect(page.locator("#current_password-error")).to_be_visible()
        check("account with problems")
        page.goto(server.portline.url("/admin/staff/999999/disable"))
        check("not found")
        page.goto(server.portline.url("/admin"))
        sign_out(page)
        check("sign in")
        password_step(page, Person(admin.email, "not the password"))
        check("sign in refused")
        sign_in(page, admin, check)

        other = open_page(viewport=viewport)
        other.tolerate(REFUSALS)
        auditor = new_person(f"auditor{suffix}@example.test")
        set_password(other.page, auditor_link, auditor.password)
        enrol(other.page, auditor)
        other_check = Checks(other.page)
        other.page.get_by_role("link", name="Audit").first.click()
        expect(other.page.get_by_role("table")).to_be_visible()
        other_check("audit")
        other.page.get_by_label("From").fill("2030-01-01")
        other.page.get_by_role("button", name="Show entries").click()
        other_check("audit, nothing matches")
        other.page.goto(server.portline.url("/admin/staff"))
        other_check("forbidden")

        problems = check.problems + other_check.problems
        assert not problems, "\n".join(problems)
        assert len(check.screens) >= 15

    def test_signing_in_and_moving_around_works_by_keyboard_alone(
        self, open_page: OpenPage, server: Server
    ) -> None:
        tab = open_page(viewport=DESKTOP)
        page = tab.page
        person = new_person("keyboard.triager@example.test")
        set_password(page, create_on_command_line(server, "triager", person.email), person.password)
        enrol(page, person)
        sign_out(page)

        focused = "() => document.activeElement?.id || document.activeElement?.textContent?.trim()"
        page.keyboard.press("Tab")
        assert page.evaluate(focused) == "Skip to content"
        page.keyboard.press("Enter")
        assert page.evaluate(focused) == "main"
        page.keyboard.press("Tab")
        assert page.evaluate(focused) == "email"
        page.keyboard.type(person.email)
        page.keyboard.press("Tab")
        page.keyboard.type(person.password)
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", level=1)).to_have_text("Second step")

        page.keyboard.press("Tab")
        page.keyboard.press("Enter")  # skip to the form
        page.keyboard.press("Tab")
        assert page.evaluate(focused) == "code"
        page.keyboard.type(person.code())
        page.keyboard.press("Enter")
        expect(page).to_have_url(re.compile(r"/admin$"))

        # Through the band at the top to the navigation, then into the area.
        page.keyboard.press("Tab")
        page.keyboard.press("Tab")
        assert page.evaluate(focused) == "Portline console"
        page.keyboard.press("Tab")
        assert page.evaluate(focused) == "Triage"
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", level=1)).to_have_text("Triage queue")
