"""The public API is exactly DESIGN.md's table, documented with examples at /api/docs."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

DESIGN_TABLE = {
    ("get", "/api/v1/public/config"),
    ("post", "/api/v1/public/challenge"),
    ("post", "/api/v1/reports"),
    ("post", "/api/v1/reporter/session"),
    ("get", "/api/v1/reporter/report"),
    ("post", "/api/v1/reporter/messages"),
    ("post", "/api/v1/reporter/attachments"),
}


class TestOpenAPI:
    def test_the_public_api_is_exactly_the_design_table(self, client: TestClient) -> None:
        spec = client.get("/api/openapi.json").json()
        reporter_side = ("/api/v1/public/", "/api/v1/reports", "/api/v1/reporter/")
        operations = {
            (method, path)
            for path, item in spec["paths"].items()
            for method in item
            if path.startswith(reporter_side)
        }
        assert operations == DESIGN_TABLE
        # Everything else is the staff side, which needs a session.
        assert all(
            path.startswith(
                (
                    "/api/v1/staff",
                    "/api/v1/audit",
                    "/api/v1/cases",
                    "/api/v1/dashboard",
                    "/api/v1/ports",
                    "/api/v1/categories",
                    "/api/v1/bodies",
                    "/api/v1/routing-rules",
                    "/api/v1/referrals",
                    "/api/v1/retention",
                )
            )
            for path in spec["paths"]
            if not path.startswith(reporter_side)
        )

    def test_every_operation_has_a_summary_and_the_report_body_has_an_example(
        self, client: TestClient
    ) -> None:
        spec = client.get("/api/openapi.json").json()
        for item in spec["paths"].values():
            for operation in item.values():
                assert operation.get("summary"), operation
        report_body = spec["paths"]["/api/v1/reports"]["post"]["requestBody"]["content"]
        schema = report_body["multipart/form-data"]["schema"]
        assert set(schema["properties"]) == {"report", "files"}
        assert schema["properties"]["report"]["$ref"] == "#/components/schemas/ReportCreate"
        report_schema = spec["components"]["schemas"]["ReportCreate"]
        assert report_schema["examples"][0]["kind"] == "incident"
        assert {"kind", "category", "port", "occurred_on", "narrative"} <= set(
            report_schema["required"]
        )
        assert "Identity" in spec["components"]["schemas"]

    def test_the_docs_page_loads_only_same_origin_assets(self, client: TestClient) -> None:
        page = client.get("/api/docs")
        assert page.status_code == 200
        for url in re.findall(r'(?:src|href)="([^"]+)"', page.text):
            assert url.startswith("/"), url
            assert client.get(url).status_code == 200, url
