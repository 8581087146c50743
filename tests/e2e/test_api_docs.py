"""The API docs in Chromium, under the pages' policy: Swagger UI starts from its own file,
shows every operation, and breaks no rule of the policy (the tab would report it)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import OpenPage

pytestmark = pytest.mark.e2e


class TestApiDocs:
    def test_swagger_ui_shows_the_public_api_without_an_inline_script(
        self, open_page: OpenPage
    ) -> None:
        tab = open_page()
        response = tab.page.goto(tab.url("/api/docs"))
        assert response is not None and response.status == 200
        policy = response.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy
        expect(tab.page.locator(".swagger-ui .info .title")).to_contain_text("Portline")
        expect(
            tab.page.locator(".opblock-summary-path", has_text="/api/v1/reports").first
        ).to_be_visible()
        assert all(tab.portline.same_origin(request.url) for request in tab.requests)
