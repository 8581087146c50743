"""A real port from nothing, in Chromium: an empty data directory, `portline init`, the first
administrator's invitation, a port with three zones, two emergency numbers and a body made
in the console; then a phone files a report through the port's own link (seeing its numbers
first) that the port's triager finds in the queue, and a second port's triager does not."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, expect

from api.crypto import generate_key_text
from tests.e2e.conftest import PHONE
from tests.e2e.flow import expect_step, press_next, radio, read_receipt, reference, send
from tests.e2e.test_console import DESKTOP, Person, enrol, new_person, set_password
from tests.server import running_server
from tests.test_cli import portline

pytestmark = pytest.mark.e2e

WELCOME = re.compile(r"https?://\S+(/admin/welcome/\S+)")
SECOND_PORT = """\
code = "SND"
name.en = "Port of Sandmouth"
country = "NL"
timezone = "Europe/Amsterdam"
languages = ["en"]

[[zone]]
code = "quay"
kind = "berth"
name.en = "Sandmouth quay"

[[emergency_number]]
number = "112"
label.en = "Emergency"
"""


def _link(printed: str, base_url: str) -> str:
    found = WELCOME.search(printed)
    assert found, printed
    return base_url + found.group(1)


@pytest.fixture
def empty_installation(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """An empty data directory with Portline's embedded SQLite default: no demo, nothing."""
    data_dir = tmp_path / "data"
    environment = {
        "PORTLINE_DATA_DIR": str(data_dir),
        "PORTLINE_KEY": generate_key_text(),
        "PORTLINE_POW_DIFFICULTY": "8",
        "PORTLINE_LOG_LEVEL": "WARNING",
        "PORTLINE_PUBLIC_URL": "http://127.0.0.1:{port}",  # the links it hands out
    }
    return environment, data_dir


def _cli(environment: dict[str, str], data_dir: Path, *args: str) -> str:
    done = portline(*args, data_dir=data_dir, **environment)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _desktop(browser: Browser) -> Page:
    context = browser.new_context(viewport=DESKTOP, locale="en-US")
    context.set_default_timeout(15_000)
    return context.new_page()


def _set_up(page: Page, link: str, person: Person) -> None:
    set_password(page, link, person.password)
    base = "{0.scheme}://{0.netloc}".format(urlsplit(link))
    page.goto(base + "/admin/login")
    enrol(page, person)


def _create_the_port(page: Page, base_url: str) -> None:
    page.goto(base_url + "/admin/ports")
    page.get_by_label("Code", exact=True).fill("TWK")
    page.get_by_label("Name in English").fill("Port of Testwick")
    page.get_by_label("Country").fill("NL")
    page.get_by_label("Time zone").fill("Europe/Amsterdam")
    page.get_by_label("First language").select_option(label="English")
    page.get_by_role("button", name="Add the port").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Port of Testwick")
    for code, kind, name in (
        ("north", "Container terminal", "North terminal"),
        ("gate", "Gate", "Truck gate"),
        ("quay", "Berth", "Testwick quay"),
    ):
        page.get_by_label("Zone code").fill(code)
        page.get_by_label("Kind of zone").select_option(label=kind)
        page.get_by_label("Zone name in English").fill(name)
        page.get_by_role("button", name="Add the zone").click()
        expect(page.get_by_text(name).first).to_be_visible()
    for number, label, when in (
        ("112", "Emergency", "Someone is hurt or in danger now"),
        ("+31 10 000 4242", "Testwick security desk", "A break-in happening now"),
    ):
        page.get_by_label("Number", exact=True).fill(number)
        page.get_by_label("Label in English").fill(label)
        page.get_by_label("When to call, in English").fill(when)
        page.get_by_role("button", name="Add the number").click()
        expect(page.get_by_text(label).first).to_be_visible()


def _create_a_body(page: Page, base_url: str) -> None:
    page.goto(base_url + "/admin/bodies/new")
    page.get_by_label("Code", exact=True).fill("testwick-police")
    page.get_by_label("Name", exact=True).fill("Testwick police")
    page.get_by_label("Kind", exact=True).select_option(label="Police")
    page.get_by_label("All of Port of Testwick").check()
    page.get_by_role("button", name=re.compile("Add the (receiving )?body")).click()
    expect(page.locator(".notice")).to_be_visible()


def _report_by_the_ports_link(browser: Browser, base_url: str) -> str:
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, locale="en-US")
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto(base_url + "/p/TWK?lang=en")
    page.get_by_role("link", name="Yes: show emergency numbers").click()
    expect(page.get_by_role("heading", name="Port of Testwick")).to_be_visible()
    expect(page.get_by_role("link", name=re.compile("112"))).to_be_visible()
    expect(page.get_by_role("link", name=re.compile("Testwick security desk"))).to_be_visible()
    expect(page.get_by_text("A break-in happening now")).to_be_visible()
    expect(page.get_by_role("heading", name="Port of Sandmouth")).to_have_count(0)
    page.get_by_role("link", name="Make a report").click()
    expect_step(page, 1)
    radio(page, "Security incident").check()
    press_next(page, 2)
    radio(page, "A seal or cargo was tampered with").check()
    press_next(page, 3)
    expect(page.get_by_label("Port", exact=True)).to_have_value("TWK")
    page.get_by_label("Part of the port (if you know)").select_option(label="Testwick quay")
    radio(page, "Yesterday").check()
    radio(page, "Inbound cargo (arriving)").check()
    press_next(page, 4)
    page.get_by_label("What happened?").fill("A seal on the quay was cut and replaced at night.")
    for step in (5, 6, 7, 8):
        press_next(page, step)
    send(page)
    read_receipt(page)
    found = reference(page)
    context.close()
    return found


class TestAPortFromNothing:
    def test_init_console_port_phone_report_and_the_ports_triager(
        self, browser: Browser, empty_installation: tuple[dict[str, str], Path], tmp_path: Path
    ) -> None:
        environment, data_dir = empty_installation
        assert not data_dir.exists()
        admin = new_person("security@testwick.example")
        printed = _cli(environment, data_dir, "init", "--email", admin.email)
        (tmp_path / "SND.toml").write_text(SECOND_PORT, encoding="utf-8")
        _cli(environment, data_dir, "port", "import", str(tmp_path / "SND.toml"))
        triagers = {
            port: new_person(f"triage-{port.lower()}@testwick.example") for port in ("TWK", "SND")
        }
        with running_server(environment, tmp_path / "server.log") as base_url:
            page = _desktop(browser)
            _set_up(page, _link(printed, base_url), admin)
            _create_the_port(page, base_url)
            _create_a_body(page, base_url)
            invitations = {
                port: _cli(
                    environment,
                    data_dir,
                    "staff",
                    "create",
                    "--role",
                    "triager",
                    "--email",
                    person.email,
                    "--port",
                    port,
                )
                for port, person in triagers.items()
            }
            page.context.close()

            assert _report_by_the_ports_link(browser, base_url).startswith("R-")

            for port, person in triagers.items():
                page = _desktop(browser)
                _set_up(page, _link(invitations[port], base_url), person)
                page.goto(base_url + "/admin/triage")
                expect(page.get_by_role("heading", level=1)).to_be_visible()
                queue = page.locator("main")
                # The queue lists cases by where they happened (the receipt named the report).
                if port == "TWK":
                    expect(queue).to_contain_text("Testwick quay")
                else:
                    expect(queue).not_to_contain_text("Testwick")
                page.context.close()
