"""A browser-like client on HTTPS: the staff cookie is Secure, so a client on plain HTTP
would never send it back."""

from __future__ import annotations

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.admin.people import CONSOLE_URL


@pytest.fixture
def console(client: TestClient) -> TestClient:
    client.base_url = httpx.URL(CONSOLE_URL)
    return client


@pytest.fixture
def no_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    """A refused password slows the next answer down; the tests need not wait."""
    monkeypatch.setattr("api.staff.service.time.sleep", lambda _seconds: None)
