"""Real Chromium against a real Portline server: one server and one browser per run, a
fresh browser context (no cache, no cookies, no service worker) per tab."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Error,
    Page,
    Playwright,
    Request,
    Response,
    ViewportSize,
    sync_playwright,
)
from sqlalchemy import Engine

from api.crypto import generate_key_text
from tests.databases import fresh_database
from tests.server import running_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SMALL_PHONE = ViewportSize(width=360, height=640)
PHONE = ViewportSize(width=390, height=844)
POW_DIFFICULTY = 8
QUICK_EXIT_URL = "https://www.wikipedia.org/"


@dataclass(frozen=True)
class Portline:
    """The server under test and a way into its database."""

    base_url: str
    engine: Engine

    def url(self, path: str) -> str:
        return self.base_url + path

    def same_origin(self, url: str) -> bool:
        if url.startswith("data:"):
            return True  # never leaves the browser
        # A blob: URL names the origin that made it.
        found, server = urlsplit(url.removeprefix("blob:")), urlsplit(self.base_url)
        return (found.scheme, found.hostname, found.port) == (
            server.scheme,
            server.hostname,
            server.port,
        )


@dataclass
class Tab:
    """A page in its own context, with everything it asked for and every script error."""

    page: Page
    context: BrowserContext
    portline: Portline
    requests: list[Request] = field(default_factory=list)
    responses: list[Response] = field(default_factory=list)
    script_errors: list[str] = field(default_factory=list)
    tolerated: list[re.Pattern[str]] = field(default_factory=list)

    def url(self, path: str) -> str:
        return self.portline.url(path)

    def tolerate(self, pattern: str) -> None:
        """Accept console errors matching ``pattern`` (a network failure while offline)."""
        self.tolerated.append(re.compile(pattern))

    def _request(self, request: Request) -> None:
        self.requests.append(request)

    def _response(self, response: Response) -> None:
        self.responses.append(response)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.script_errors.append(f"console: {message.text} ({message.location})")

    def _page_error(self, error: Error) -> None:
        self.script_errors.append(f"uncaught: {error.message}\n{error.stack}")

    def unexpected_errors(self) -> list[str]:
        return [
            error
            for error in self.script_errors
            if not any(pattern.search(error) for pattern in self.tolerated)
        ]


OpenPage = Callable[..., Tab]


@pytest.fixture(scope="session")
def portline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portline]:
    """``portline serve`` on a fresh database seeded like ``portline demo``."""
    directory = tmp_path_factory.mktemp("e2e")
    with fresh_database(directory) as (url, engine):
        environment = {
            "PORTLINE_DATABASE_URL": url,
            "PORTLINE_DATA_DIR": str(directory),
            "PORTLINE_KEY": generate_key_text(),
            "PORTLINE_POW_DIFFICULTY": str(POW_DIFFICULTY),
            "PORTLINE_QUICK_EXIT_URL": QUICK_EXIT_URL,
            "PORTLINE_LOG_LEVEL": "WARNING",
            "PORTLINE_PUBLIC_URL": "http://127.0.0.1:{port}",  # the links it hands out
        }
        with running_server(environment, directory / "server.log") as base_url:
            yield Portline(base_url, engine)


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    chromium = playwright.chromium.launch(
        executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
    )
    yield chromium
    chromium.close()


@pytest.fixture
def open_page(browser: Browser, portline: Portline) -> Iterator[OpenPage]:
    """``open_page(viewport=PHONE, java_script_enabled=True)``: a page in a new context.

    The test fails at its end if any page logged a console error (a Content-Security-Policy
    violation is one) or threw an uncaught exception."""
    tabs: list[Tab] = []

    def open_one(*, viewport: ViewportSize = PHONE, java_script_enabled: bool = True) -> Tab:
        context = browser.new_context(
            viewport=viewport,
            java_script_enabled=java_script_enabled,
            is_mobile=True,
            has_touch=True,
            locale="en-US",
            timezone_id="Europe/Amsterdam",
        )
        context.set_default_timeout(10_000)
        page = context.new_page()
        tab = Tab(page, context, portline)
        # On the context, so that what the service worker does is seen too.
        context.on("request", tab._request)
        context.on("response", tab._response)
        context.on("console", tab._console)
        page.on("pageerror", tab._page_error)
        tabs.append(tab)
        return tab

    yield open_one
    problems = [error for tab in tabs for error in tab.unexpected_errors()]
    for tab in tabs:
        tab.context.close()
    assert not problems, "script errors or policy violations:\n" + "\n".join(problems)
