"""Pictures of every screen of the reporter's visit on a phone, for docs/screenshots."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.e2e.conftest import PHONE, OpenPage
from tests.e2e.flow import come_back, fill_report, open_report_from_home, photo, read_receipt, send

pytestmark = pytest.mark.e2e

# Every run takes them; they land in docs/screenshots (committed, shown in the README) only
# when asked, since the receipt on them changes each time:
#   PORTLINE_SCREENSHOTS=docs/screenshots .venv/bin/pytest -m e2e tests/e2e/test_screenshots.py
SCREENSHOTS = Path(__file__).resolve().parents[2] / os.environ.get(
    "PORTLINE_SCREENSHOTS", "var/screenshots"
)


class TestScreenshots:
    def test_every_screen_is_pictured_at_phone_size(self, open_page: OpenPage) -> None:
        tab = open_page(viewport=PHONE)
        page = tab.page
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for old in SCREENSHOTS.glob("[0-9][0-9]-*.png"):
            old.unlink()
        taken: list[Path] = []

        def picture(screen: str) -> None:
            path = SCREENSHOTS / f"{len(taken) + 1:02d}-{screen}.png"
            page.screenshot(path=path, full_page=True, animations="disabled", caret="hide")
            taken.append(path)

        open_report_from_home(tab, picture)
        fill_report(page, picture, photos=[photo()])
        send(page)
        receipt = read_receipt(page)
        picture("receipt")
        come_back(page, receipt, picture)

        assert [path.name for path in taken][-3:] == [
            f"{len(taken) - 2:02d}-receipt.png",
            f"{len(taken) - 1:02d}-login.png",
            f"{len(taken):02d}-status.png",
        ]
        assert all(path.stat().st_size > 1000 for path in taken)
