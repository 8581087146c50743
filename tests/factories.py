"""Plain factory functions for tests."""

from __future__ import annotations

import io
import json
import secrets
from datetime import date, timedelta
from typing import Any

import httpx
from fastapi.testclient import TestClient
from PIL import Image


def report_payload(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "kind": "incident",
        "category": "seal-tampering",
        "port": "NHV",
        "zone": "ct-north",
        "location_detail": "Stack 14, near the reefer plugs",
        "occurred_on": (date.today() - timedelta(days=1)).isoformat(),
        "occurred_approximate": False,
        "cargo_direction": "inbound",
        "narrative": "Two men cut the seal of a reefer container at night and fitted a new one.",
        "language": "en",
    }
    payload.update(overrides)
    return payload


def jpeg_bytes(
    width: int = 64, height: int = 48, color: tuple[int, int, int] = (200, 30, 30)
) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, "JPEG")
    return buffer.getvalue()


def submission_key() -> str:
    return secrets.token_urlsafe(24)


def post_report(
    client: TestClient | httpx.Client,
    payload: dict[str, Any] | None = None,
    files: list[tuple[str, bytes, str]] | None = None,
    **kwargs: Any,
) -> httpx.Response:
    """Send a report as the mobile client does: a JSON ``report`` part and ``files``."""
    parts: list[tuple[str, tuple[str | None, bytes, str]]] = [
        ("report", (None, json.dumps(payload or report_payload()).encode(), "application/json"))
    ]
    parts.extend(
        ("files", (name, content, media_type)) for name, content, media_type in files or []
    )
    return client.post("/api/v1/reports", files=parts, **kwargs)


def log_in(client: TestClient | httpx.Client, receipt: str) -> dict[str, str]:
    """Authorization headers for the reporter holding ``receipt``."""
    response = client.post("/api/v1/reporter/session", json={"receipt": receipt})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}
