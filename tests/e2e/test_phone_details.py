"""What the phone does for the reporter: photos shrunk and stripped before they leave it,
and a status page that logs out by itself when left alone."""

from __future__ import annotations

import io
import json

import httpx
import pytest
from PIL import Image
from playwright.sync_api import Dialog, FilePayload, Request, expect
from sqlmodel import Session, select

from api.proofs.service import solve
from api.reports.models import Attachment, Report
from tests.e2e.conftest import OpenPage, Portline
from tests.e2e.flow import (
    SEND_TIMEOUT_MS,
    fill_report,
    ignore,
    open_report_from_home,
    reference,
    send,
)

pytestmark = pytest.mark.e2e

GPS_MARKER = b"MARKER-GPS-AREA"


def big_phone_photo() -> FilePayload:
    """A 4000x3000 JPEG with camera and GPS EXIF, as a phone's camera makes it."""
    exif = Image.Exif()
    exif[0x010F] = "MARKER-CAMERA"  # Make
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (51.0, 13.0, 37.0)
    gps[0x1C] = GPS_MARKER  # GPSAreaInformation
    buffer = io.BytesIO()
    Image.linear_gradient("L").resize((4000, 3000)).convert("RGB").save(
        buffer, "JPEG", quality=80, exif=exif.tobytes()
    )
    return FilePayload(name="IMG_0042.jpg", mimeType="image/jpeg", buffer=buffer.getvalue())


class TestPhotosOnThePhone:
    def test_a_photo_leaves_the_phone_shrunk_and_without_metadata(
        self, open_page: OpenPage, portline: Portline
    ) -> None:
        tab = open_page()
        page = tab.page
        uploads: list[bytes] = []

        def keep_upload(request: Request) -> None:
            if request.url.endswith("/api/v1/reports") and request.method == "POST":
                uploads.append(request.post_data_buffer or b"")

        page.on("request", keep_upload)
        original = big_phone_photo()
        assert GPS_MARKER in original["buffer"]
        open_report_from_home(tab, ignore)
        fill_report(page, ignore, photos=[original])
        send(page)
        expect(page.get_by_role("heading", name="Your report has been sent")).to_be_visible(
            timeout=SEND_TIMEOUT_MS
        )

        assert len(uploads) == 1
        assert GPS_MARKER not in uploads[0]
        assert b"MARKER-CAMERA" not in uploads[0]
        assert b"Exif" not in uploads[0]
        with Session(portline.engine) as session:
            report = session.exec(select(Report).where(Report.reference == reference(page))).one()
            stored = session.exec(select(Attachment).where(Attachment.report_id == report.id)).one()
        assert max(stored.width, stored.height) == 2048
        assert (stored.width, stored.height) == (2048, 1536)


def report_through_the_api(portline: Portline) -> str:
    challenge = httpx.post(portline.url("/api/v1/public/challenge")).json()
    report = {
        "kind": "incident",
        "category": "theft",
        "port": "NHV",
        "occurred_on": "2026-11-20",
        "narrative": "Fuel is taken from the straddle carriers at night.",
        "proof": {
            "challenge": challenge["challenge"],
            "nonce": solve(challenge["challenge"], challenge["difficulty"]),
        },
    }
    response = httpx.post(
        portline.url("/api/v1/reports"),
        files=[("report", (None, json.dumps(report).encode(), "application/json"))],
    )
    assert response.status_code == 201, response.text
    return str(response.json()["receipt"])


class TestComingBack:
    def test_the_status_page_logs_out_by_itself_when_left_alone(
        self, open_page: OpenPage, portline: Portline
    ) -> None:
        receipt = report_through_the_api(portline)
        tab = open_page()
        page = tab.page
        page.clock.install()
        page.goto(portline.url("/receipt?lang=en"))
        page.get_by_label("Your 16-digit receipt code").fill(receipt)
        page.get_by_role("button", name="Open my report").click()
        expect(page.get_by_role("status")).to_contain_text("Status:")
        assert [cookie["name"] for cookie in tab.context.cookies()] == ["portline_reporter"]

        page.clock.fast_forward("11:00")  # eleven idle minutes
        expect(page.get_by_role("link", name="Make a report")).to_be_visible()
        assert tab.context.cookies() == []
        page.goto(portline.url("/my-report?lang=en"))
        expect(page.get_by_role("heading", name="Come back to your report")).to_be_visible()


class TestWaitingReport:
    def test_a_waiting_report_can_be_discarded_and_is_never_sent(
        self, open_page: OpenPage, portline: Portline
    ) -> None:
        tab = open_page()
        page = tab.page
        page.goto(tab.url("/report?lang=en"))
        page.evaluate("navigator.serviceWorker.ready.then(() => true)")
        with Session(portline.engine) as session:
            before = len(session.exec(select(Report.id)).all())

        tab.context.set_offline(True)
        fill_report(page, ignore, photos=[])
        send(page)
        expect(page.get_by_role("heading", name="Waiting to send")).to_be_visible()
        waiting = (
            "new Promise((done) => { const open = indexedDB.open('portline');"
            " open.onsuccess = () => { const count = open.result.transaction('outbox')"
            ".objectStore('outbox').count(); count.onsuccess = () => done(count.result); }; })"
        )
        assert page.evaluate(waiting) == 1

        dialogs: list[str] = []

        def accept(dialog: Dialog) -> None:
            dialogs.append(dialog.message)
            dialog.accept()

        page.on("dialog", accept)
        page.get_by_role("button", name="Discard this report").click()
        expect(page.get_by_role("link", name="Make a report")).to_be_visible()
        assert dialogs == ["Discard this report? It will not be sent."]
        assert page.evaluate(waiting) == 0

        tab.context.set_offline(False)
        page.reload()
        page.wait_for_timeout(1000)
        with Session(portline.engine) as session:
            assert len(session.exec(select(Report.id)).all()) == before
