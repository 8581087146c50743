"""Mobile benchmark (issue 3): what a reporter's phone downloads and waits for on a slow line.

Run ``.venv/bin/python -m bench.mobile [--runs 3] [--difficulty 16]``. It starts
``portline serve`` on a fresh, migrated and seeded SQLite database (as tests/e2e does) and
drives headless Chromium with the network emulated through the DevTools protocol: 400 ms
latency, 400 kbit/s down and up. Every measurement starts from a new browser context, so
from an empty cache and with no service worker. It measures:

(a) the bytes transferred for the first screen (the home page, then the report form
    opened directly), split into HTML, CSS, JS and icons: ``encodedDataLength`` of
    ``Network.loadingFinished``, headers included; then what the service worker fetches in
    the background to work offline (its own requests are not throttled by the emulation);
(b) the time to an interactive first screen, from navigation start: DOMContentLoaded (by
    which app.js, a module script, has run), load, and app.js's own ready mark if it sets a
    ``performance.mark`` (none is required);
(c) the time and the bytes from pressing "Send the report" to the receipt on the screen,
    for a text-only report, proof of work included (at ``--difficulty``, the production
    default unless told).

Timings are the median of ``--runs`` runs. The targets are those of issue 3: at most 30 KB
transferred for the first screen, interactive within 2.5 s.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import Browser, BrowserContext, CDPSession, Page, sync_playwright

from api.crypto import generate_key_text
from tests.databases import fresh_database
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, PHONE
from tests.e2e.flow import fill_report, ignore, read_receipt, send
from tests.server import running_server

LATENCY_MS = 400
THROUGHPUT_BYTES_PER_S = 400 * 1024 / 8
TARGET_FIRST_SCREEN_BYTES = 30 * 1024
TARGET_INTERACTIVE_S = 2.5
KB = 1024
KINDS = ("HTML", "CSS", "JS", "icons", "other")


def kind_of(resource_type: str, mime_type: str) -> str:
    if resource_type == "Document":
        return "HTML"
    if resource_type == "Stylesheet" or mime_type == "text/css":
        return "CSS"
    if resource_type == "Script" or "javascript" in mime_type:
        return "JS"
    if resource_type == "Image" or mime_type.startswith("image/"):
        return "icons"
    return "other"


@dataclass
class Transfer:
    url: str
    resource_type: str
    mime_type: str = ""
    encoded_bytes: int = 0
    upload_bytes: int = 0
    finished: bool = False

    @property
    def kind(self) -> str:
        return kind_of(self.resource_type, self.mime_type)


@dataclass
class NetworkLog:
    """What the page's own network stack did, from the DevTools protocol."""

    transfers: dict[str, Transfer] = field(default_factory=dict)

    def attach(self, cdp: CDPSession) -> None:
        cdp.on("Network.requestWillBeSent", self._sent)
        cdp.on("Network.responseReceived", self._received)
        cdp.on("Network.loadingFinished", self._finished)

    def _sent(self, event: dict[str, Any]) -> None:
        request = event["request"]
        upload = sum(
            len(entry.get("bytes", "")) * 3 // 4 for entry in request.get("postDataEntries", [])
        )
        self.transfers[event["requestId"]] = Transfer(
            url=request["url"], resource_type=event.get("type", "Other"), upload_bytes=upload
        )

    def _received(self, event: dict[str, Any]) -> None:
        transfer = self.transfers.get(event["requestId"])
        if transfer is not None:
            transfer.resource_type = event.get("type", transfer.resource_type)
            transfer.mime_type = event["response"].get("mimeType", "")

    def _finished(self, event: dict[str, Any]) -> None:
        transfer = self.transfers.get(event["requestId"])
        if transfer is not None:
            transfer.encoded_bytes = int(event["encodedDataLength"])
            transfer.finished = True

    def mark(self) -> set[str]:
        return set(self.transfers)

    def since(self, mark: set[str]) -> list[Transfer]:
        return [
            transfer for request_id, transfer in self.transfers.items() if request_id not in mark
        ]


@contextmanager
def slow_phone(browser: Browser) -> Iterator[tuple[BrowserContext, Page, NetworkLog]]:
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, locale="en-US")
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    log = NetworkLog()
    log.attach(cdp)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {
            "offline": False,
            "latency": LATENCY_MS,
            "downloadThroughput": THROUGHPUT_BYTES_PER_S,
            "uploadThroughput": THROUGHPUT_BYTES_PER_S,
        },
    )
    try:
        yield context, page, log
    finally:
        context.close()


NAVIGATION_TIMING = """() => {
  const [navigation] = performance.getEntriesByType("navigation");
  const marks = performance.getEntriesByType("mark").map((mark) => [mark.name, mark.startTime]);
  return {
    domContentLoaded: navigation.domContentLoadedEventEnd,
    load: navigation.loadEventEnd,
    marks,
  };
}"""


FETCH_ICONS = """() => Promise.all(
  [...document.querySelectorAll("link[rel~=icon]")].map((link) => fetch(link.href).then((r) => r.blob()))
)"""


@dataclass
class FirstScreen:
    by_kind: dict[str, int]
    requests: list[str]
    dom_content_loaded_s: float
    load_s: float
    marks: list[tuple[str, float]]
    background_bytes: int
    background_requests: int

    @property
    def total_bytes(self) -> int:
        return sum(self.by_kind.values())


def first_screen(browser: Browser, url: str) -> FirstScreen:
    with slow_phone(browser) as (context, page, log):
        background: list[int] = []

        def count_background(request: Any) -> None:
            if request.service_worker is not None:
                sizes = request.sizes()
                background.append(sizes["responseBodySize"] + sizes["responseHeadersSize"])

        context.on("requestfinished", count_background)
        page.goto(url, wait_until="load")
        page.wait_for_function(
            "() => performance.getEntriesByType('navigation')[0].loadEventEnd > 0"
        )
        timing = page.evaluate(NAVIGATION_TIMING)
        # Headless Chromium asks for no favicon; a phone's browser does, so ask for it.
        page.evaluate(FETCH_ICONS)
        # A request answered from a cache (the service worker's, once it runs) costs nothing.
        finished = [
            transfer
            for transfer in log.transfers.values()
            if transfer.finished and transfer.encoded_bytes
        ]
        by_kind = dict.fromkeys(KINDS, 0)
        for transfer in finished:
            by_kind[transfer.kind] += transfer.encoded_bytes
        # Then the service worker fills its cache for offline use, in the background.
        page.evaluate("navigator.serviceWorker ? navigator.serviceWorker.ready.then(() => 1) : 0")
        page.wait_for_timeout(1500)
        return FirstScreen(
            by_kind=by_kind,
            requests=[
                f"{urlsplit(transfer.url).path} {kilobytes(transfer.encoded_bytes)}"
                for transfer in finished
            ],
            dom_content_loaded_s=timing["domContentLoaded"] / 1000,
            load_s=timing["load"] / 1000,
            marks=[(name, start / 1000) for name, start in timing["marks"]],
            background_bytes=sum(background),
            background_requests=len(background),
        )


@dataclass
class Sending:
    seconds: float
    upload_bytes: int
    download_bytes: int
    paths: list[str]


def sending(browser: Browser, base_url: str) -> Sending:
    with slow_phone(browser) as (_context, page, log):
        page.goto(f"{base_url}/report?lang=en", wait_until="load")
        fill_report(page, ignore, photos=[])
        before = log.mark()
        started = time.perf_counter()
        send(page)
        read_receipt(page)
        seconds = time.perf_counter() - started
        sent = log.since(before)
        return Sending(
            seconds=seconds,
            upload_bytes=sum(transfer.upload_bytes for transfer in sent),
            download_bytes=sum(transfer.encoded_bytes for transfer in sent),
            paths=[urlsplit(transfer.url).path for transfer in sent],
        )


def verdict(passed: bool) -> str:
    return "PASS" if passed else "MISS"


def kilobytes(count: int) -> str:
    return f"{count / KB:.1f} KB"


def report_first_screen(name: str, runs: list[FirstScreen]) -> None:
    last = runs[-1]
    print(f"(a) first screen, {name}: {len(last.requests)} requests: {', '.join(last.requests)}")
    for kind in KINDS:
        if last.by_kind[kind]:
            print(f"      {kind:<6} {kilobytes(last.by_kind[kind]):>9}")
    total = last.total_bytes
    print(
        f"      total  {kilobytes(total):>9}   target <= {kilobytes(TARGET_FIRST_SCREEN_BYTES)}"
        f"   {verdict(total <= TARGET_FIRST_SCREEN_BYTES)}"
    )
    print(
        f"      then the service worker caches {last.background_requests} files for offline "
        f"use: {kilobytes(last.background_bytes)} (in the background, not throttled)"
    )
    interactive = statistics.median(run.dom_content_loaded_s for run in runs)
    load = statistics.median(run.load_s for run in runs)
    print(f"(b) time to an interactive first screen, {name} (median of {len(runs)})")
    print(
        f"      DOMContentLoaded, app.js has run   {interactive:5.2f} s"
        f"   target <= {TARGET_INTERACTIVE_S} s   {verdict(interactive <= TARGET_INTERACTIVE_S)}"
    )
    print(f"      load                               {load:5.2f} s")
    for mark, start in last.marks:
        print(f"      mark {mark!r:<29} {start:5.2f} s")
    if not last.marks:
        print("      (app.js sets no performance mark of its own)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.mobile", description=__doc__)
    parser.add_argument("--runs", type=int, default=3, help="runs per measurement (median)")
    parser.add_argument(
        "--difficulty", type=int, default=16, help="proof-of-work bits (production default)"
    )
    return parser


def chromium_version() -> str:
    found = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True, check=False)
    match = re.search(r"[\d.]+", found.stdout)
    return match.group(0) if match else "?"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    print(
        f"Mobile benchmark: Chromium {chromium_version()}, {PHONE['width']}x{PHONE['height']}, "
        f"{LATENCY_MS} ms latency, {THROUGHPUT_BYTES_PER_S * 8 / 1024:.0f} kbit/s down and up, "
        f"empty cache, proof of work {args.difficulty} bits (1 KB = 1024 bytes)"
    )
    with tempfile.TemporaryDirectory(prefix="portline-bench-") as temporary:
        directory = Path(temporary)
        with fresh_database(directory) as (url, _engine):
            environment = {
                "PORTLINE_DATABASE_URL": url,
                "PORTLINE_DATA_DIR": str(directory),
                "PORTLINE_KEY": generate_key_text(),
                "PORTLINE_POW_DIFFICULTY": str(args.difficulty),
                "PORTLINE_LOG_LEVEL": "WARNING",
            }
            with (
                running_server(environment, directory / "server.log") as base_url,
                sync_playwright() as playwright,
            ):
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
                )
                for name, path in (("home page", "/?lang=en"), ("report form", "/report?lang=en")):
                    runs = [first_screen(browser, base_url + path) for _ in range(args.runs)]
                    report_first_screen(name, runs)
                sends = [sending(browser, base_url) for _ in range(args.runs)]
                browser.close()
    seconds = statistics.median(run.seconds for run in sends)
    last = sends[-1]
    print(
        f"(c) Send -> receipt, text-only report (median of {len(sends)}): {seconds:.2f} s, "
        f"{kilobytes(last.upload_bytes)} up (bodies), {kilobytes(last.download_bytes)} down, "
        f"{len(last.paths)} requests: {', '.join(last.paths)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
