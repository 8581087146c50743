from __future__ import annotations

import re

from fastapi.testclient import TestClient


class TestStaticAssets:
    def test_assets_have_versioned_names_and_are_cached_for_a_year(
        self, client: TestClient
    ) -> None:
        page = client.get("/").text
        urls = re.findall(r'(?:src|href)="(/static/[^"]+)"', page)
        assert {url.rsplit(".", 1)[-1] for url in urls} >= {"css", "js"}
        for url in urls:
            assert re.search(r"\.[0-9a-f]{10}\.\w+$", url), url
            response = client.get(url, headers={"accept-encoding": "gzip"})
            assert response.status_code == 200
            assert response.headers["cache-control"] == "public, max-age=31536000, immutable"

    def test_text_assets_are_sent_compressed(self, client: TestClient) -> None:
        css = re.search(r'href="(/static/app\.[0-9a-f]+\.css)"', client.get("/").text)
        assert css
        response = client.get(css.group(1), headers={"accept-encoding": "gzip"})
        assert response.headers["content-encoding"] == "gzip"
        assert b":root" in response.content  # decoded by the client

    def test_an_unknown_or_unversioned_asset_is_not_found(self, client: TestClient) -> None:
        assert client.get("/static/app.css").status_code == 404
        assert client.get("/static/app.0000000000.css").status_code == 404

    def test_only_pages_that_echo_nothing_typed_are_compressed(self, client: TestClient) -> None:
        gzip = {"accept-encoding": "gzip"}
        for path in ("/", "/danger", "/report", "/receipt"):
            assert client.get(path, headers=gzip).headers.get("content-encoding") == "gzip", path
        step = client.post(
            "/report",
            files=[("step", (None, "kind")), ("kind", (None, "incident"))],
            headers=gzip,
        )
        assert step.status_code == 200
        assert "content-encoding" not in step.headers

    def test_the_service_worker_is_served_from_the_root_with_the_asset_list(
        self, client: TestClient
    ) -> None:
        response = client.get("/sw.js")
        assert response.status_code == 200
        assert response.headers["cache-control"] == "no-cache"
        assert "__ASSETS__" not in response.text
        assert re.search(r'"/static/app\.[0-9a-f]{10}\.js"', response.text)
        assert "/static/sw." not in response.text
