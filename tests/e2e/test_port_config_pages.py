"""The console pages where administrators configure ports, zones, emergency numbers and
categories (issue 11, point 3), in Chromium: driven by their labels, each passes axe-core
and fits a 1280 px and a 360 px screen, problems included."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, ViewportSize, expect
from sqlmodel import Session

from tests.databases import fresh_database
from tests.e2e.conftest import SMALL_PHONE, OpenPage, Portline
from tests.e2e.test_console import (
    DESKTOP,
    REFUSALS,
    Checks,
    Server,
    create_on_command_line,
    enrol,
    new_person,
    set_password,
)
from tests.server import running_server, server_environment
from tests.test_retention_policy import closed_case

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server of this module's own, seeded like ``portline demo``: the command line that
    creates the administrator shares its key and database."""
    directory = tmp_path_factory.mktemp("port-config")
    with fresh_database(directory) as (url, engine):
        environment = server_environment(url, directory)
        with running_server(environment, directory / "server.log") as base_url:
            yield Server(Portline(base_url, engine), environment)


@pytest.fixture(scope="module")
def portline(server: Server) -> Portline:
    """``open_page`` opens this module's server."""
    return server.portline


def about(action: str, what: str) -> re.Pattern[str]:
    """The name of a button or link that says what it acts on to a screen reader ("Edit:
    Main gate"); a flex layout may put a space before the colon."""
    return re.compile(rf"^{re.escape(action)}\s*:\s*{re.escape(what)}$")


def notice(page: Page) -> None:
    expect(page.locator(".notice")).to_be_visible()


@pytest.mark.parametrize("viewport", [DESKTOP, SMALL_PHONE], ids=["1280x800", "360x640"])
def test_the_configuration_pages_pass_axe_and_fit_the_screen(
    open_page: OpenPage, server: Server, viewport: ViewportSize
) -> None:
    width = viewport["width"]
    tab = open_page(viewport=viewport)
    tab.tolerate(REFUSALS)
    page = tab.page
    check = Checks(page)
    admin = new_person(f"ports{width}@example.test")
    set_password(page, create_on_command_line(server, "administrator", admin.email), admin.password)
    enrol(page, admin)
    menu = page.get_by_role("navigation", name="Console")

    # The list of ports, then a new port.
    menu.get_by_role("link", name="Ports and deadlines").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Ports and deadlines")
    check("ports")
    code = f"ZQ{width}"
    page.get_by_label("Code", exact=True).fill(code)
    page.get_by_label("First language").select_option(label="English")
    page.get_by_role("checkbox", name="Dutch", exact=True).check()
    page.get_by_label("Country").fill("NL")
    page.get_by_label("Time zone").fill("Europe/Amsterdam")
    page.get_by_role("button", name="Add the port").click()
    expect(page.locator("#new-port-name-en-error")).to_be_visible()  # no name given
    check("ports with problems")
    page.get_by_label("Name in English", exact=True).fill(f"Port of Zeequay {width}")
    page.get_by_label("Name in Dutch", exact=True).fill(f"Haven van Zeequay {width}")
    page.get_by_role("button", name="Add the port").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Port of Zeequay {width}")
    notice(page)
    check("port")

    # A zone: refused, then added, then renamed on its own page.
    page.get_by_label("Zone code").fill("Not a code!")
    page.get_by_label("Kind of zone").select_option(label="Gate")
    page.get_by_label("Zone name in English").fill("Main gate")
    page.get_by_role("button", name="Add the zone").click()
    expect(page.locator("#new-zone-code-error")).to_be_visible()
    check("port with problems")
    page.get_by_label("Zone code").fill("gate-main")
    page.get_by_role("button", name="Add the zone").click()
    notice(page)
    page.get_by_label("Zone code").fill("quay-one")
    page.get_by_label("Kind of zone").select_option(label="Berth")
    page.get_by_label("Zone name in English").fill("Quay one")
    page.get_by_role("button", name="Add the zone").click()
    notice(page)
    page.get_by_role("button", name=about("Move up", "Quay one")).click()
    notice(page)
    page.get_by_role("link", name=about("Edit", "Main gate")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Zone Main gate")
    check("zone")
    page.get_by_label("Zone name in Dutch").fill("Hoofdpoort")
    page.get_by_label("Zone name in English").fill("")
    # What the server says of a name the browser would have asked for itself.
    page.locator("form.config-form").evaluate("form => form.setAttribute('novalidate', '')")
    page.get_by_role("button", name="Save the zone").click()
    expect(page.locator("#zone-name-en-error")).to_be_visible()
    check("zone with problems")
    page.get_by_label("Zone name in English").fill("Main truck gate")
    page.get_by_role("button", name="Save the zone").click()
    notice(page)

    # An emergency number, added and edited.
    page.get_by_label("Number", exact=True).fill("112")
    page.get_by_label("Label in English").fill("Emergency services")
    page.get_by_label("When to call, in English").fill("Someone is hurt or in danger now")
    page.get_by_role("button", name="Add the number").click()
    notice(page)
    page.get_by_role("link", name=about("Edit", "Emergency services 112")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Emergency number 112")
    check("emergency number")
    page.get_by_label("Label in Dutch").fill("Hulpdiensten")
    page.get_by_role("button", name="Save the number").click()
    notice(page)

    # How long closed cases are kept: refused beyond its bounds, then saved.
    page.get_by_label("Days a closed case is kept").fill("29")
    page.get_by_role("button", name="Save the retention").click()
    expect(page.locator("#retention-retention_days-error")).to_be_visible()
    check("port with a retention problem")
    page.get_by_label("Days a closed case is kept").fill("90")
    page.get_by_role("button", name="Save the retention").click()
    notice(page)

    # Retiring asks first.
    page.get_by_role("link", name=about("Retire", "Quay one")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Retire the zone Quay one?")
    check("retire a zone")
    page.get_by_role("button", name="Retire the zone").click()
    expect(page.locator("#zone-quay-one")).to_contain_text("Retired")
    page.get_by_role("link", name="Retire the port").click()
    check("retire the port")
    page.get_by_role("link", name="Cancel").click()
    expect(page).to_have_url(re.compile(rf"/admin/ports/{code}$"))

    # The categories, one of them, and retiring one.
    menu.get_by_role("link", name="Categories").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Categories")
    check("categories")
    page.get_by_role("link", name=re.compile(r"^Edit\s*:")).first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Category ")
    check("category")
    names = page.locator("input[name^='name-']")
    for index in range(names.count()):
        names.nth(index).fill("")
    page.get_by_role("button", name="Save the category").click()
    expect(page.locator("#category-name-en-error")).to_be_visible()
    check("category with problems")
    page.get_by_role("link", name="Back to the categories").click()
    page.get_by_role("link", name=re.compile(r"^Retire\s*:")).first.click()
    check("retire a category")
    page.get_by_role("link", name="Cancel").click()

    # The cases to be purged: one held, then released after confirming.
    with Session(server.portline.engine) as session:
        due = closed_case(session, "NHV", datetime.now(UTC) - timedelta(days=400)).reference
    menu.get_by_role("link", name="Retention").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Cases to be purged")
    page.get_by_label(f"Reason to hold {due}").fill("Court case 4411/26")
    check("cases to be purged")
    page.get_by_role("button", name=about("Place a legal hold", due)).click()
    notice(page)
    expect(page.locator(f"#case-{due}")).to_contain_text("On legal hold: Court case 4411/26")
    check("a case on legal hold")
    page.get_by_role("link", name=about("Release", due)).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Release the legal hold on {due}?")
    check("release a hold")
    page.get_by_role("button", name="Release the hold").click()
    notice(page)

    assert not check.problems, "\n".join(check.problems)
    assert len(check.screens) >= 16
