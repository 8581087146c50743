"""Every screen of the reporter's visit, checked by axe-core and for touch targets, at the
two phone sizes, with app.js and without it."""

from __future__ import annotations

from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, Route, ViewportSize

from tests.e2e.conftest import PHONE, SMALL_PHONE, OpenPage
from tests.e2e.flow import (
    come_back,
    fill_report,
    open_report_from_home,
    photo,
    read_receipt,
    send,
)

pytestmark = pytest.mark.e2e

BLOCKING_IMPACTS = ("serious", "critical")
MIN_TARGET_PX = 44
SCREENS = [
    "home",
    "languages",
    "danger",
    "kind",
    "category",
    "where",
    "what",
    "photos",
    "photos-added",
    "identity",
    "exclusions",
    "review",
    "receipt",
    "login",
    "status",
]

# Each visible control a finger has to hit, measured where it is hit: a radio button or a
# checkbox by its label. Controls off the screen (the skip link until it has focus) and
# controls hidden from everyone (aria-hidden, no tab stop) are left out.
SMALL_TARGETS = """(minimum) => {
  const describe = (element) => {
    const tag = element.tagName.toLowerCase();
    const id = element.id ? `#${element.id}` : "";
    const name = element.getAttribute("name") ? `[name="${element.getAttribute("name")}"]` : "";
    const value = element.getAttribute("value") ? `[value="${element.getAttribute("value")}"]` : "";
    const classes = [...element.classList].map((each) => `.${each}`).join("");
    const text = (element.innerText || element.value || "").trim().slice(0, 40);
    return `${tag}${id}${classes}${name}${value}${text ? ` "${text}"` : ""}`;
  };
  const width = document.documentElement.clientWidth;
  const found = [];
  const controls = "a[href], button, input:not([type=hidden]), select, textarea, summary";
  for (const control of document.querySelectorAll(controls)) {
    if (control.closest("[aria-hidden=true]") && control.tabIndex < 0) continue;
    const target = control.matches("input[type=radio], input[type=checkbox]")
      ? control.closest("label") || control.labels?.[0] || control
      : control;
    if (!target.checkVisibility({ visibilityProperty: true })) continue;
    const box = target.getBoundingClientRect();
    if (!box.width || !box.height || box.right <= 0 || box.left >= width) continue;
    if (box.width < minimum || box.height < minimum) {
      found.push({
        what: describe(control) + (target === control ? "" : ` (measured on its ${describe(target)})`),
        width: Math.round(box.width * 10) / 10,
        height: Math.round(box.height * 10) / 10,
      });
    }
  }
  return found;
}"""

OVERFLOW = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"


class ScreenChecks:
    """Called on each screen: records what axe-core and the measurements find wrong."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.axe = Axe()
        self.screens: list[str] = []
        self.problems: list[str] = []

    def __call__(self, screen: str) -> None:
        self.check(screen)
        if screen == "home":
            menu = self.page.locator("details.languages summary")
            menu.click()
            self.check("languages")
            menu.click()

    def check(self, screen: str) -> None:
        self.screens.append(screen)
        results: dict[str, Any] = self.axe.run(self.page).response
        for violation in results["violations"]:
            if violation["impact"] not in BLOCKING_IMPACTS:
                continue
            targets = "; ".join(" ".join(node["target"]) for node in violation["nodes"])
            self.problems.append(
                f"{screen}: axe {violation['id']} ({violation['impact']}): "
                f"{violation['help']}: {targets}"
            )
        for small in self.page.evaluate(SMALL_TARGETS, MIN_TARGET_PX):
            self.problems.append(
                f"{screen}: {small['what']} is {small['width']}x{small['height']} CSS px"
            )
        overflow = self.page.evaluate(OVERFLOW)
        if overflow > 0:
            self.problems.append(f"{screen}: the page is {overflow} px wider than the screen")


def without_app_js(route: Route) -> None:
    """An empty app.js: the pages as the server renders them, for a browser without
    JavaScript (axe-core itself needs JavaScript to run)."""
    route.fulfill(content_type="text/javascript; charset=utf-8", body="")


@pytest.mark.parametrize("viewport", [SMALL_PHONE, PHONE], ids=["360x640", "390x844"])
@pytest.mark.parametrize("app_js", [True, False], ids=["with-app-js", "without-app-js"])
class TestAccessibility:
    def test_every_screen_passes_axe_and_every_target_is_big_enough(
        self, open_page: OpenPage, viewport: ViewportSize, app_js: bool
    ) -> None:
        tab = open_page(viewport=viewport)
        page = tab.page
        if not app_js:
            page.route("**/static/app.*.js", without_app_js)
        checks = ScreenChecks(page)

        open_report_from_home(tab, checks)
        fill_report(page, checks, photos=[photo()])
        send(page)
        receipt = read_receipt(page)
        checks("receipt")
        come_back(page, receipt, checks)

        assert checks.screens == SCREENS
        assert not checks.problems, "\n".join(checks.problems)
