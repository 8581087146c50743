"""Stored XSS is impossible: the usual corpus, sent through the public API wherever a
reporter or a triager types text, reads as text on every console page that holds it and on
the reporter's own page, with no dialog, no script, no element and no request of its own."""

from __future__ import annotations

import base64
import json
import re
import secrets
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import product
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from playwright.sync_api import Dialog, Request, ViewportSize, expect
from playwright.sync_api import Error as PlaywrightError
from sqlmodel import Session, col, select

from api.crypto import KeyRing, generate_key_text
from api.policy import Role
from api.proofs.service import solve
from api.reports.models import Report
from tests.admin.people import Person
from tests.databases import fresh_database
from tests.e2e.conftest import POW_DIFFICULTY, OpenPage, Portline, Tab
from tests.e2e.xss_payloads import MARKER, PAYLOADS, TRAP_HOST
from tests.factories import STAFF_PASSWORD, jpeg_bytes, make_staff
from tests.server import running_server

pytestmark = pytest.mark.e2e

DESKTOP = ViewportSize(width=1280, height=800)
PHOTO = jpeg_bytes()
SEARCH_TAG = "xss-probe"
SETTLE_SECONDS = 10
QUIET_CHECKS = 3  # 10 ms apart with nothing loading: the page has settled
REPORTER_LOGIN_MS = 20_000  # a proof of work, then the receipt's Argon2id verifier
NAMED_TRIAGERS = 8  # accounts whose display name is a probe, each holding some cases
CONSOLE_SCRIPT = re.compile(r"^/admin/static/console\.[0-9a-f]+\.js$")
REPORTER_SCRIPT = re.compile(r"^/static/app\.[0-9a-f]+\.js$")
THREAD_NARRATIVE = "The team writes every probe back to this reporter."
# Probes looked for on their case page as a person would, by their text.
READ_BY_EYE = ("<script>alert(1)</script>", '"><svg onload=alert(1) data-xss>', "{{7*7}}")
# Searches a triager types, echoed back into the search field; each matches a title.
SEARCHES = (
    '"><svg onload=alert(1) data-xss>',
    "' autofocus onfocus='alert(1)' data-xss='",
    "{{7*7}}",
)

# Photos are lazy: load them all now, so that nothing is still on its way afterwards.
LOAD_IMAGES = """() => Promise.all([...document.images].map((image) => {
  image.loading = "eager";
  return image.decode().catch(() => null);
}))"""
# What a page holds that it did not write itself. Every check is made in the page, after
# it has loaded: what ran, what was parsed as markup, and the text each field shows.
PAGE_STATE = """([marker, trap]) => {
  const elements = [...document.querySelectorAll("*")];
  const addresses = ["href", "src", "action", "formaction", "data", "srcset", "background",
    "poster", "xlink:href"];
  const heading = document.querySelector("h1");
  const field = (selector) => document.querySelector(selector)?.getAttribute("value") ?? null;
  return {
    scripts: [...document.scripts].map((script) => script.getAttribute("src") || "(inline)"),
    markers: document.querySelectorAll(`[${marker}]`).length,
    handlers: elements.flatMap((element) => [...element.attributes]
      .filter((attribute) => attribute.name.startsWith("on"))
      .map((attribute) => `${element.localName}[${attribute.name}]`)),
    addresses: elements.flatMap((element) => addresses
      .map((name) => element.getAttribute(name))
      .filter((value) => value !== null &&
        (/^(javascript|vbscript|data):/i.test(value.replace(/[\\s\\0]/g, ""))
          || value.includes(trap)))),
    foreign: [...document.querySelectorAll("iframe, frame, object, embed, base, body meta, "
      + "body link, body style, template, math, video, audio, marquee, xmp, noscript")]
      .map((element) => element.localName),
    xss: typeof window.__xss,
    texts: [...document.querySelectorAll(".reporter-text, .thread .body")]
      .map((element) => element.textContent),
    title: heading?.firstChild?.nodeType === Node.TEXT_NODE
      ? heading.firstChild.textContent.trimEnd() : null,
    title_field: field("#classify-title-input"),
    tags_field: field("#classify-tags"),
    search_field: field("#search"),
    assignee: [...document.querySelectorAll(".facts div")]
      .find((row) => row.querySelector("dt")?.textContent === "Assigned to")
      ?.querySelector("dd")?.textContent ?? null,
    assignees: [...document.querySelectorAll("#classify-assignee_id option, #assignee option, "
      + "td[data-label='Assigned to']")].map((element) => element.textContent),
    queue_titles: [...document.querySelectorAll(".case-title")].map((title) => title.textContent),
    queue_tags: [...document.querySelectorAll(".queue-tags li")].map((tag) => tag.textContent),
    next_page: document.querySelector("a[rel=next]")?.getAttribute("href") ?? null,
  };
}"""


@dataclass(frozen=True)
class Server:
    portline: Portline
    environment: dict[str, str]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server of this module's own: accounts are made with its key in its database."""
    directory = tmp_path_factory.mktemp("stored-xss")
    with fresh_database(directory) as (url, engine):
        environment = {
            "PORTLINE_DATABASE_URL": url,
            "PORTLINE_DATA_DIR": str(directory),
            "PORTLINE_KEY": generate_key_text(),
            "PORTLINE_POW_DIFFICULTY": str(POW_DIFFICULTY),
            "PORTLINE_LOG_LEVEL": "WARNING",
            "PORTLINE_PUBLIC_URL": "http://127.0.0.1:{port}",  # the links it hands out
        }
        with running_server(environment, directory / "server.log") as base_url:
            yield Server(Portline(base_url, engine), environment)


@pytest.fixture(scope="module")
def portline(server: Server) -> Portline:
    """``open_page`` opens this module's server."""
    return server.portline


# Planting the probes through the API ----------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    """One payload, put in every field of one case where someone types text."""

    payload: str
    case_id: int
    title: str
    tags: tuple[str, str]
    assignee: str
    # Everything the case page shows of what people typed, each the whole text of one element.
    texts: tuple[str, ...]


@dataclass(frozen=True)
class Planted:
    probes: list[Probe]
    reader: Person
    assignees: list[str]
    # A report whose thread holds every payload, written by the team to the reporter.
    thread_receipt: str
    thread_case_id: int


def proof(client: httpx.Client) -> dict[str, str]:
    task = client.post("/api/v1/public/challenge").json()
    return {"challenge": task["challenge"], "nonce": solve(task["challenge"], task["difficulty"])}


def file_name_of(payload: str) -> str:
    """The payload as a file name: a multipart header holds no line break."""
    return " ".join(payload.splitlines())


def report_request(report: dict[str, Any], file_name: str) -> tuple[bytes, str]:
    """A report with one photo, in a multipart body written by hand: a client such as
    httpx or a browser percent-encodes a quote in a file name, a hostile one need not."""
    boundary = secrets.token_hex(16)
    quoted = file_name.replace("\\", "\\\\").replace('"', '\\"')
    body = b"".join(
        [
            f"--{boundary}\r\n".encode(),
            b'Content-Disposition: form-data; name="report"\r\n',
            b"Content-Type: application/json\r\n\r\n",
            json.dumps(report).encode(),
            f"\r\n--{boundary}\r\n".encode(),
            f'Content-Disposition: form-data; name="files"; filename="{quoted}"\r\n'.encode(),
            b"Content-Type: image/jpeg\r\n\r\n",
            PHOTO,
            f"\r\n--{boundary}--\r\n".encode(),
        ]
    )
    return body, f"multipart/form-data; boundary={boundary}"


def send_report(client: httpx.Client, report: dict[str, Any], file_name: str) -> dict[str, Any]:
    body, content_type = report_request({**report, "proof": proof(client)}, file_name)
    response = client.post("/api/v1/reports", content=body, headers={"content-type": content_type})
    assert response.status_code == 201, response.text
    sent: dict[str, Any] = response.json()
    return sent


def reporter_writes(client: httpx.Client, receipt: str, body: str) -> None:
    login = client.post(
        "/api/v1/reporter/session", json={"receipt": receipt, "proof": proof(client)}
    )
    assert login.status_code == 200, login.text
    response = client.post(
        "/api/v1/reporter/messages",
        json={"body": body},
        headers={"authorization": f"Bearer {login.json()['token']}"},
    )
    assert response.status_code == 201, response.text


def signed_in(client: httpx.Client, person: Person) -> httpx.Client:
    """The client, given the person's session cookie and CSRF token, both factors done."""
    first = client.post(
        "/api/v1/staff/session", json={"email": person.email, "password": person.password}
    )
    assert first.status_code == 200, first.text
    second = client.post("/api/v1/staff/session/second-factor", json={"code": person.code()})
    assert second.status_code == 200, second.text
    client.headers["x-csrf-token"] = second.json()["csrf_token"]
    return client


def places(client: httpx.Client) -> list[dict[str, Any]]:
    """Every port, zone and category, each pair once: no two probes' cases are related."""
    config = client.get("/api/v1/public/config").json()
    zones = [(port["code"], zone["code"]) for port in config["ports"] for zone in port["zones"]]
    return [
        {"kind": category["kind"], "category": category["code"], "port": port, "zone": zone}
        for category, (port, zone) in product(config["categories"], zones)
    ]


def triager_does(client: httpx.Client, method: str, path: str, body: dict[str, Any]) -> None:
    response = client.request(method, path, json=body)
    assert response.status_code in (200, 201, 204), f"{method} {path}: {response.text}"


@pytest.fixture(scope="module")
def planted(server: Server) -> Planted:
    """Every payload as a reporter's narrative, place, name, photo name and message, and as
    a triager's title, tag, note and message; some as staff names, given by an administrator."""
    portline = server.portline
    keyring = KeyRing(base64.b64decode(server.environment["PORTLINE_KEY"]))
    with Session(portline.engine, expire_on_commit=False) as session:
        administrator, writer, reader = (
            Person(staff, STAFF_PASSWORD, secret)
            for staff, secret in (
                make_staff(session, keyring, role=role)
                for role in (Role.administrator, Role.triager, Role.triager)
            )
        )
        session.commit()

    with (
        httpx.Client(base_url=portline.base_url, timeout=30) as public,
        httpx.Client(base_url=portline.base_url, timeout=30) as admin,
        httpx.Client(base_url=portline.base_url, timeout=30) as triager,
    ):
        signed_in(admin, administrator)
        signed_in(triager, writer)
        # Names from all over the corpus, each short enough for a display name.
        names = [payload for payload in PAYLOADS if len(payload) <= 120]
        assignees = names[:: len(names) // NAMED_TRIAGERS][:NAMED_TRIAGERS]
        assignee_ids = []
        for number, name in enumerate(assignees):
            created = admin.post(
                "/api/v1/staff/accounts",
                json={
                    "email": f"named{number}@example.test",
                    "role": "triager",
                    "display_name": name,
                },
            )
            assert created.status_code == 201, created.text
            assignee_ids.append(created.json()["account"]["id"])

        yesterday = (date.today() - timedelta(days=1)).isoformat()
        where = places(public)
        assert len(where) > len(PAYLOADS)
        receipts: dict[str, str] = {}
        for payload, place in zip(PAYLOADS, where, strict=False):
            sent = send_report(
                public,
                {
                    **place,
                    "location_detail": payload[:500],
                    "occurred_on": yesterday,
                    "narrative": payload,
                    "identity": {"name": payload[:200]},
                    "language": "en",
                },
                file_name_of(payload),
            )
            reporter_writes(public, sent["receipt"], payload)
            receipts[sent["reference"]] = payload
        thread = send_report(
            public,
            {
                **where[len(PAYLOADS)],
                "occurred_on": yesterday,
                "narrative": THREAD_NARRATIVE,
            },
            "harbour.jpg",
        )

        with Session(portline.engine) as session:
            case_of = dict(
                session.exec(
                    select(Report.reference, Report.case_id).where(
                        col(Report.reference).in_([*receipts, thread["reference"]])
                    )
                ).all()
            )

        probes = []
        for number, (reference, payload) in enumerate(receipts.items()):
            case_id = case_of[reference]
            assert case_id is not None
            title = payload[:200].strip()
            tags = (payload.lower()[:40].strip(), SEARCH_TAG)
            cases = f"/api/v1/cases/{case_id}"
            assignee = number % NAMED_TRIAGERS
            triager_does(
                triager,
                "PATCH",
                cases,
                {"title": title, "tags": list(tags), "assignee_id": assignee_ids[assignee]},
            )
            triager_does(triager, "POST", f"{cases}/notes", {"body": payload})
            triager_does(
                triager, "POST", f"{cases}/messages", {"report": reference, "body": payload}
            )
            probes.append(
                Probe(
                    payload=payload,
                    case_id=case_id,
                    title=title,
                    tags=tags,
                    assignee=assignees[assignee],
                    texts=(
                        payload[:500],  # the place
                        payload[:200],  # the reporter's name
                        payload,  # the narrative
                        file_name_of(payload)[:255],  # the photo's name
                        payload,  # the reporter's message
                        payload,  # the team's message
                        payload,  # the note
                    ),
                )
            )
        thread_case_id = case_of[thread["reference"]]
        assert thread_case_id is not None
        for payload in PAYLOADS:
            triager_does(
                triager,
                "POST",
                f"/api/v1/cases/{thread_case_id}/messages",
                {"report": thread["reference"], "body": payload},
            )
    return Planted(probes, reader, assignees, thread["receipt"], thread_case_id)


# Looking at the pages -------------------------------------------------------------------------


class Watch:
    """A tab whose dialogs are counted (and dismissed) and whose pages are inspected."""

    def __init__(self, tab: Tab, own_script: re.Pattern[str]) -> None:
        self.tab = tab
        self.own_script = own_script
        self.dialogs: list[str] = []
        self.problems: list[str] = []
        self.loading: set[Request] = set()
        tab.page.on("dialog", self._dialog)
        tab.context.on("request", self._started)
        tab.context.on("requestfinished", self._ended)
        tab.context.on("requestfailed", self._ended)

    def _started(self, request: Request) -> None:
        self.loading.add(request)

    def _ended(self, request: Request) -> None:
        self.loading.discard(request)

    def _dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(f"{dialog.type}({dialog.message!r}) on {self.tab.page.url}")
        dialog.dismiss()

    def open(self, path: str) -> dict[str, Any]:
        """Load the page, wait for it, and note whatever of it is not the page's own."""
        try:
            response = self.tab.page.goto(self.tab.url(path))
        except PlaywrightError as error:
            raise AssertionError("\n".join([*self.problems, f"{path}: {error.message}"])) from None
        assert response is not None and response.status == 200, path
        try:
            self.tab.page.evaluate(LOAD_IMAGES)
            self.settle(path)
            state: dict[str, Any] = self.tab.page.evaluate(PAGE_STATE, [MARKER, TRAP_HOST])
        except PlaywrightError as error:
            # Markup that navigates (a refresh, a base address) takes the page away.
            self.problems.append(f"{path}: the page did not stay: {error.message}")
            self.tab.page.wait_for_load_state()
            state = self.tab.page.evaluate(PAGE_STATE, [MARKER, TRAP_HOST])
        own = [src for src in state["scripts"] if self.own_script.match(src)]
        if len(own) != 1 or len(state["scripts"]) != 1:
            self.problems.append(f"{path}: scripts {state['scripts']}")
        for key in ("handlers", "addresses", "foreign"):
            if state[key]:
                self.problems.append(f"{path}: {key} {state[key]}")
        if state["markers"]:
            self.problems.append(f"{path}: {state['markers']} elements with {MARKER}")
        if state["xss"] != "undefined":
            self.problems.append(f"{path}: window.__xss is {state['xss']}")
        if self.tab.page.url != self.tab.url(path):
            self.problems.append(f"{path}: the page went on to {self.tab.page.url}")
        return state

    def settle(self, path: str) -> None:
        """Wait for what the page still loads after its load event: what a probe would
        load is to be seen too, and leaving while a signed-in request is on its way can
        stall the server (``require`` in api/deps.py reads the database on the event loop,
        where on SQLite it can wait for a lock that an unfinished request holds)."""
        deadline = time.monotonic() + SETTLE_SECONDS
        quiet = 0
        while quiet < QUIET_CHECKS:
            quiet = 0 if self.loading else quiet + 1
            if time.monotonic() > deadline:
                pending = sorted(request.url for request in self.loading)
                raise AssertionError(f"{path} is still loading {pending}")
            self.tab.page.wait_for_timeout(10)

    def shows(self, path: str, shown: list[str] | str | None, expected: str | set[str]) -> None:
        """The page shows ``expected`` (or one of them): as one of a list of texts, or as
        the one text; otherwise it is noted."""
        wanted = expected if isinstance(expected, set) else {expected}
        found = bool(wanted & set(shown)) if isinstance(shown, list) else shown in wanted
        if not found:
            seen = f"{len(shown)} other texts" if isinstance(shown, list) else repr(shown)
            self.problems.append(f"{path}: {expected!r} is not shown as text ({seen})")

    def shows_all(self, path: str, shown: list[str], expected: Sequence[str]) -> None:
        """The page shows exactly these texts, each as often, and no other."""
        missing, extra = Counter(expected) - Counter(shown), Counter(shown) - Counter(expected)
        for text in missing.elements():
            self.problems.append(f"{path}: {text!r} is not shown as text")
        for text in extra.elements():
            self.problems.append(f"{path}: {text!r} is shown, unexpectedly")

    def verdict(self) -> None:
        left = [
            request.url
            for request in self.tab.requests
            if not self.tab.portline.same_origin(request.url)
        ]
        trapped = [request.url for request in self.tab.requests if TRAP_HOST in request.url]
        problems = [
            *self.problems,
            *(f"dialog {dialog}" for dialog in self.dialogs),
            *(f"request left the origin: {url}" for url in sorted({*left, *trapped})),
        ]
        assert not problems, "\n".join(problems)


def sign_in_in_the_browser(tab: Tab, person: Person) -> None:
    page = tab.page
    page.goto(tab.url("/admin/login"))
    page.get_by_label("E-mail address").fill(person.email)
    page.get_by_label("Password").fill(person.password)
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Code", exact=True).fill(person.code())
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/admin$"))


def queue_pages(watch: Watch, path: str) -> list[dict[str, Any]]:
    """Every page of the queue from ``path`` on, following the next-page links."""
    states = [watch.open(path)]
    while states[-1]["next_page"]:
        states.append(watch.open(states[-1]["next_page"]))
    return states


class TestStoredXss:
    def test_the_corpus_is_large_and_varied(self) -> None:
        assert len(set(PAYLOADS)) == len(PAYLOADS) >= 50
        assert sum(MARKER in payload for payload in PAYLOADS) >= 40

    def test_the_console_shows_every_probe_as_text_and_runs_none(
        self, open_page: OpenPage, planted: Planted
    ) -> None:
        tab = open_page(viewport=DESKTOP)
        sign_in_in_the_browser(tab, planted.reader)
        watch = Watch(tab, CONSOLE_SCRIPT)

        shown_titles: list[str] = []
        shown_tags: list[str] = []
        shown_assignees: list[str] = []
        for state in queue_pages(watch, "/admin/triage") + queue_pages(
            watch, f"/admin/triage?search={SEARCH_TAG}"
        ):
            shown_titles += state["queue_titles"]
            shown_tags += state["queue_tags"]
            shown_assignees += state["assignees"]
        for probe in planted.probes:
            watch.shows("the queue", shown_titles, probe.title)
            for tag in probe.tags:
                watch.shows("the queue", shown_tags, tag)
        for name in planted.assignees:
            watch.shows("the queue", shown_assignees, name)

        for search in SEARCHES:
            path = "/admin/triage?" + urlencode({"search": search})
            state = queue_pages(watch, path)[0]
            watch.shows(path, state["search_field"], search)
            watch.shows(path, state["queue_titles"], search)

        for probe in planted.probes:
            path = f"/admin/cases/{probe.case_id}"
            state = watch.open(path)
            watch.shows_all(path, state["texts"], probe.texts)
            watch.shows(path, state["title"], probe.title)
            watch.shows(path, state["title_field"], probe.title)
            # In the order the database sorts them, which is not the same everywhere.
            watch.shows(
                path, state["tags_field"], {", ".join(probe.tags), ", ".join(probe.tags[::-1])}
            )
            watch.shows(path, state["assignee"], probe.assignee)
            for name in planted.assignees:
                watch.shows(path, state["assignees"], name)
        path = f"/admin/cases/{planted.thread_case_id}"
        state = watch.open(path)
        watch.shows_all(path, state["texts"], [THREAD_NARRATIVE, "harbour.jpg", *PAYLOADS])
        watch.open("/admin/dashboard")
        watch.verdict()

        # As a person reads them: the probes are there, in full, as text.
        page = tab.page
        for probe in planted.probes:
            if probe.payload in READ_BY_EYE:
                watch.open(f"/admin/cases/{probe.case_id}")
                expect(page.locator(".narrative")).to_have_text(probe.payload)
                expect(page.get_by_text(probe.payload, exact=True).first).to_be_visible()
                expect(page.get_by_role("heading", level=1)).to_contain_text(probe.title)

    def test_the_reporter_reads_every_probe_from_the_team_as_text(
        self, open_page: OpenPage, planted: Planted
    ) -> None:
        tab = open_page()
        watch = Watch(tab, REPORTER_SCRIPT)
        page = tab.page
        page.goto(tab.url("/receipt?lang=en"))
        # The service worker stores the reporter's pages first: signing in meanwhile can
        # stall the server (``receipt_login`` in mobile/routes.py, like ``require``).
        page.evaluate("navigator.serviceWorker.ready.then(() => true)")
        watch.settle("/receipt")
        page.get_by_label("Your 16-digit receipt code").fill(planted.thread_receipt)
        page.get_by_role("button", name="Open my report").click()
        expect(page.get_by_role("status")).to_contain_text("Status:", timeout=REPORTER_LOGIN_MS)
        state = watch.open("/my-report?lang=en")
        assert state["texts"] == list(PAYLOADS)
        watch.verdict()
