"""The console's set-up page in Chromium, on a new installation: the link the server
printed opens it, it creates the first administrator, who follows their invitation into the
console; every screen passes axe-core and fits a 360 px screen."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import ViewportSize, expect

from tests.databases import fresh_database
from tests.e2e.conftest import SMALL_PHONE, OpenPage, Portline
from tests.e2e.test_console import DESKTOP, REFUSALS, Checks, enrol, new_person, set_password
from tests.server import running_server, server_environment
from tests.test_setup_console import printed_token

pytestmark = pytest.mark.e2e


@dataclass(frozen=True)
class NewInstallation:
    portline: Portline
    setup_link: str  # as the server printed it


@pytest.fixture
def new_installation(tmp_path: Path) -> Iterator[NewInstallation]:
    """A server of this test's own, on a database with no administrator: the set-up
    token works once, so every test needs a new one."""
    with fresh_database(tmp_path, seed=False) as (url, engine):
        log_path = tmp_path / "server.log"
        environment = {
            **server_environment(url, tmp_path),
            "PORTLINE_PUBLIC_URL": "http://127.0.0.1:{port}",
        }
        with running_server(environment, log_path) as base_url:
            token = printed_token(log_path, base_url)
            yield NewInstallation(
                Portline(base_url, engine), f"{base_url}/admin/setup?token={token}"
            )


@pytest.fixture
def portline(new_installation: NewInstallation) -> Portline:
    """``open_page`` opens this test's server."""
    return new_installation.portline


@pytest.mark.parametrize("viewport", [DESKTOP, SMALL_PHONE], ids=["1280x800", "360x640"])
def test_the_set_up_page_passes_axe_and_leads_the_first_administrator_in(
    open_page: OpenPage, new_installation: NewInstallation, viewport: ViewportSize
) -> None:
    tab = open_page(viewport=viewport)
    tab.tolerate(REFUSALS)
    page = tab.page
    check = Checks(page)

    page.goto(new_installation.setup_link)
    expect(page.get_by_role("heading", level=1)).to_have_text("Set up Portline")
    check("set-up")
    # What the server says of an address the browser would have let through.
    page.locator("form.card").evaluate("form => form.setAttribute('novalidate', '')")
    page.get_by_label("E-mail address").fill("not an address")
    page.get_by_role("button", name="Create the first administrator").click()
    expect(page.locator("#email-error")).to_have_text("This is not an e-mail address.")
    check("set-up with problems")

    administrator = new_person("chief@port.example")
    page.get_by_label("E-mail address").fill(administrator.email)
    page.get_by_label("Name", exact=True).fill("Chief")
    page.get_by_role("button", name="Create the first administrator").click()
    expect(page.locator(".notice")).to_have_text(
        f"The account of {administrator.email} is created."
    )
    check("set-up done")
    link = page.locator("#invitation-link").inner_text().strip()
    assert link.startswith(new_installation.portline.url("/admin/welcome/"))

    set_password(page, link, administrator.password)
    enrol(page, administrator)
    menu = page.get_by_role("navigation", name="Console")
    expect(menu.get_by_role("link", name="Administration")).to_be_visible()

    page.goto(new_installation.setup_link)
    expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
    assert check.screens == ["set-up", "set-up with problems", "set-up done"]
    assert not check.problems, "\n".join(check.problems)
