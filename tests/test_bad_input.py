"""Malformed requests get a 4xx JSON error naming the field, and nothing is stored."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from api.reports.models import Attachment, Report
from tests.factories import report_payload


def _report_part(raw: bytes) -> dict[str, Any]:
    return {"files": [("report", (None, raw, "application/json"))]}


def _report(**overrides: Any) -> dict[str, Any]:
    return _report_part(json.dumps(report_payload(**overrides)).encode())


def _without(field: str) -> dict[str, Any]:
    payload = report_payload()
    del payload[field]
    return _report_part(json.dumps(payload).encode())


# (name, method, path, request keyword arguments, expected status, field that must be named)
CORPUS: list[tuple[str, str, str, dict[str, Any], int, str]] = [
    ("empty body", "POST", "/api/v1/reports", {}, 400, "content-type"),
    (
        "json instead of multipart",
        "POST",
        "/api/v1/reports",
        {"json": report_payload()},
        400,
        "content-type",
    ),
    (
        "no report part",
        "POST",
        "/api/v1/reports",
        {"files": [("other", (None, b"x", "text/plain"))]},
        422,
        "report",
    ),
    (
        "broken json",
        "POST",
        "/api/v1/reports",
        _report_part(b'{"kind": "incident",'),
        422,
        "report",
    ),
    ("json array", "POST", "/api/v1/reports", _report_part(b"[]"), 422, "report"),
    (
        "invalid utf-8",
        "POST",
        "/api/v1/reports",
        _report_part(b'{"narrative": "caf\xe9 \xff\xfe"}'),
        422,
        "report",
    ),
    ("kind is a number", "POST", "/api/v1/reports", _report(kind=5), 422, "report.kind"),
    ("unknown kind", "POST", "/api/v1/reports", _report(kind="gossip"), 422, "report.kind"),
    (
        "missing narrative",
        "POST",
        "/api/v1/reports",
        _without("narrative"),
        422,
        "report.narrative",
    ),
    ("missing category", "POST", "/api/v1/reports", _without("category"), 422, "report.category"),
    (
        "date is words",
        "POST",
        "/api/v1/reports",
        _report(occurred_on="last week"),
        422,
        "report.occurred_on",
    ),
    (
        "date is impossible",
        "POST",
        "/api/v1/reports",
        _report(occurred_on="2026-02-31"),
        422,
        "report.occurred_on",
    ),
    (
        "cargo direction unknown",
        "POST",
        "/api/v1/reports",
        _report(cargo_direction="sideways"),
        422,
        "report.cargo_direction",
    ),
    (
        "narrative too long",
        "POST",
        "/api/v1/reports",
        _report(narrative="x" * 20_001),
        422,
        "report.narrative",
    ),
    (
        "narrative with NUL",
        "POST",
        "/api/v1/reports",
        _report(narrative="a\x00b"),
        422,
        "report.narrative",
    ),
    (
        "zone detail too long",
        "POST",
        "/api/v1/reports",
        _report(location_detail="y" * 501),
        422,
        "report.location_detail",
    ),
    ("identity is text", "POST", "/api/v1/reports", _report(identity="me"), 422, "report.identity"),
    (
        "identity name too long",
        "POST",
        "/api/v1/reports",
        _report(identity={"name": "n" * 201}),
        422,
        "report.identity.name",
    ),
    (
        "exclusions not a list",
        "POST",
        "/api/v1/reports",
        _report(exclude_bodies="customs"),
        422,
        "report.exclude_bodies",
    ),
    (
        "unknown field",
        "POST",
        "/api/v1/reports",
        _report(ip_address="1.2.3.4"),
        422,
        "report.ip_address",
    ),
    (
        "unknown category",
        "POST",
        "/api/v1/reports",
        _report(category="gossip"),
        422,
        "report.category",
    ),
    ("unknown zone", "POST", "/api/v1/reports", _report(zone="moon-base"), 422, "report.zone"),
    (
        "bad submission key",
        "POST",
        "/api/v1/reports",
        _report(submission_key="short"),
        422,
        "report.submission_key",
    ),
    (
        "boolean as text",
        "POST",
        "/api/v1/reports",
        _report(occurred_approximate="perhaps"),
        422,
        "report.occurred_approximate",
    ),
    (
        "broken multipart",
        "POST",
        "/api/v1/reports",
        {
            "content": b"--x\r\nnonsense",
            "headers": {"content-type": "multipart/form-data; boundary=x"},
        },
        422,
        "report",
    ),
    (
        "multipart without boundary",
        "POST",
        "/api/v1/reports",
        {"content": b"abc", "headers": {"content-type": "multipart/form-data"}},
        400,
        "body",
    ),
    (
        "report part too big",
        "POST",
        "/api/v1/reports",
        _report_part(b"{" + b" " * 300_000 + b"}"),
        413,
        "body",
    ),
    (
        "declared body too big",
        "POST",
        "/api/v1/reports",
        {
            "content": b"",
            "headers": {
                "content-length": str(10**10),
                "content-type": "multipart/form-data; boundary=x",
            },
        },
        413,
        "body",
    ),
    (
        "huge headers",
        "GET",
        "/api/v1/public/config",
        {"headers": {"x-padding": "p" * 20_000}},
        431,
        "headers",
    ),
    ("login empty body", "POST", "/api/v1/reporter/session", {}, 422, "body"),
    (
        "login broken json",
        "POST",
        "/api/v1/reporter/session",
        {"content": b'{"receipt": ', "headers": {"content-type": "application/json"}},
        422,
        "body",
    ),
    (
        "login invalid utf-8",
        "POST",
        "/api/v1/reporter/session",
        {"content": b'{"receipt": "\xff\xfe"}', "headers": {"content-type": "application/json"}},
        400,
        "body",
    ),
    (
        "login receipt is a number",
        "POST",
        "/api/v1/reporter/session",
        {"json": {"receipt": 1234567812345678}},
        422,
        "receipt",
    ),
    (
        "login receipt too long",
        "POST",
        "/api/v1/reporter/session",
        {"json": {"receipt": "1" * 41}},
        422,
        "receipt",
    ),
    (
        "login receipt letters",
        "POST",
        "/api/v1/reporter/session",
        {"json": {"receipt": "abcdabcdabcdabcd"}},
        422,
        "receipt",
    ),
    (
        "login extra field",
        "POST",
        "/api/v1/reporter/session",
        {"json": {"receipt": "1" * 16, "admin": True}},
        422,
        "admin",
    ),
    (
        "login proof wrong shape",
        "POST",
        "/api/v1/reporter/session",
        {"json": {"receipt": "1" * 16, "proof": "x"}},
        422,
        "proof",
    ),
]


@pytest.mark.parametrize(
    ("method", "path", "arguments", "status", "field"),
    [pytest.param(*case[1:], id=case[0]) for case in CORPUS],
)
def test_malformed_request_is_refused_with_a_named_field_and_nothing_is_stored(
    client: TestClient,
    session: Session,
    method: str,
    path: str,
    arguments: dict[str, Any],
    status: int,
    field: str,
) -> None:
    def stored() -> tuple[int, int]:
        return (
            session.exec(select(func.count()).select_from(Report)).one(),
            session.exec(select(func.count()).select_from(Attachment)).one(),
        )

    before = stored()
    response = client.request(method, path, **arguments)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] and error["message"]
    assert field in [problem["field"] for problem in error.get("fields", [])], error
    assert "Traceback" not in response.text
    assert stored() == before


def test_a_streamed_body_over_the_limit_is_cut_off_with_413(
    client_with: Callable[..., AbstractContextManager[TestClient]], session: Session
) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'--x\r\nContent-Disposition: form-data; name="files"; filename="a.jpg"\r\n\r\n'
        for _ in range(100):
            yield b"\xff" * 10_000

    before = session.exec(select(func.count()).select_from(Report)).one()
    with client_with(max_files=1, max_file_bytes=1024) as client:
        response = client.post(
            "/api/v1/reports",
            content=chunks(),
            headers={"content-type": "multipart/form-data; boundary=x"},
        )
    assert response.status_code == 413, response.text
    assert response.json()["error"]["fields"][0]["field"] == "body"
    assert session.exec(select(func.count()).select_from(Report)).one() == before
