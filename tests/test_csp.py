"""Every answer carries a strict Content-Security-Policy: pages, the API docs, the service
worker, assets, redirects, and every error, also those answered before any route is found
or by the middleware itself. No policy allows inline script, and no page has one."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from html.parser import HTMLParser

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api.agencies.models import Body
from api.crypto import KeyRing
from api.middleware import PAGE_CSP, PortlineMiddleware, Receive, Scope, Send
from api.policy import GRANTS, Permission, Role
from tests.factories import make_staff, sign_in_staff
from tests.routes import Walked, walk

PLACEHOLDER = re.compile(r"\{[^}]*\}")


def policy_problems(response: httpx.Response) -> list[str]:
    """What is wrong with a response's policy; empty when it is strict."""
    policies = response.headers.get_list("content-security-policy")
    if len(policies) != 1:
        return [f"{len(policies)} policies"]
    directives = {
        name: values
        for name, *values in (part.split() for part in policies[0].split(";") if part.strip())
    }
    scripts = directives.get("script-src", directives.get("default-src"))
    problems = []
    if scripts is None or not set(scripts) <= {"'self'", "'none'"}:
        problems.append(f"script-src {scripts}")
    if "'unsafe-inline'" in policies[0] or "'unsafe-eval'" in policies[0]:
        problems.append("unsafe")
    if directives.get("frame-ancestors") != ["'none'"]:
        problems.append("frame-ancestors")
    return problems


class _Scripts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.inline: list[str] = []
        self.handlers: list[str] = []
        self._in_script = False
        self._has_src = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name for name, _value in attrs}
        self.handlers += [name for name in names if name.startswith("on")]
        if tag == "script":
            self._in_script, self._has_src = True, "src" in names

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and (data.strip() or not self._has_src):
            self.inline.append(data.strip()[:80])


def inline_script(response: httpx.Response) -> list[str]:
    """Inline script bodies and event-handler attributes of an HTML answer."""
    if not response.headers.get("content-type", "").startswith("text/html"):
        return []
    parser = _Scripts()
    parser.feed(response.text)
    return parser.inline + parser.handlers


def _role_for(marks: set[str]) -> Role | None:
    """Someone the route lets through, so that its own answer is the one checked."""
    for mark in sorted(marks - {"public"}):
        for role, granted in GRANTS.items():
            if Permission(mark) in granted:
                return role
    return None


def _example(walked: Walked) -> tuple[str, str]:
    return sorted(walked.route.methods or {"GET"})[0], PLACEHOLDER.sub("1", walked.path)


@pytest.fixture
def anyone(client: TestClient) -> TestClient:
    return TestClient(client.app, follow_redirects=False)


class TestEveryRoute:
    def test_every_route_answers_with_a_strict_policy_and_pages_have_no_inline_script(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        routes = walk(client.app.routes)  # type: ignore[attr-defined]
        assert len(routes) > 100
        body_id = session.exec(select(Body.id)).first()
        wrong: dict[str, list[str]] = {}
        statuses: set[int] = set()
        for found in routes:
            method, path = _example(found)
            role = _role_for(found.marks)
            visitor = TestClient(client.app, follow_redirects=False)
            headers: dict[str, str] = {}
            if role is not None:
                # An account of its own: a route may sign out or disable the one before.
                liaison_body = body_id if role == Role.liaison else None
                headers = sign_in_staff(
                    visitor, *make_staff(session, keyring, role=role, body_id=liaison_body)
                )
            response = visitor.request(method, path, headers=headers)
            statuses.add(response.status_code)
            problems = policy_problems(response) + inline_script(response)
            if problems:
                wrong[f"{method} {path} {response.status_code}"] = problems
        assert wrong == {}
        # The walk met pages, redirects and refusals, not one kind of answer.
        assert {200, 303, 404, 422} <= statuses


class TestAnswersWithoutARoute:
    @pytest.mark.parametrize(
        ("method", "path", "status"),
        [
            ("GET", "/no/such/page", 404),
            ("GET", "/admin/no/such/page", 404),
            ("GET", "/api/v1/no/such/thing", 404),
            ("GET", "/api/docs/assets/no-such-file.js", 404),
            ("GET", "/static/no-such-file.js", 404),
            ("DELETE", "/api/v1/public/config", 405),
            ("DELETE", "/", 405),
            ("POST", "/api/v1/reporter/session", 422),
            ("POST", "/api/v1/reports", 400),
            ("GET", "/admin", 303),
            ("GET", "/my-report", 303),
            ("GET", "/report/", 307),  # the router's own redirect to the address without /
        ],
    )
    def test_each_has_a_strict_policy(
        self, anyone: TestClient, method: str, path: str, status: int
    ) -> None:
        response = anyone.request(method, path)
        assert response.status_code == status
        assert policy_problems(response) == []

    def test_a_request_declaring_a_body_too_large_is_refused_with_a_policy(
        self, anyone: TestClient
    ) -> None:
        response = anyone.post(
            "/api/v1/reports", content=b"x", headers={"content-length": str(10**12)}
        )
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "too_large"
        assert policy_problems(response) == []

    def test_a_body_found_too_large_while_it_streams_is_refused_with_a_policy(
        self, client_with: Callable[..., AbstractContextManager[TestClient]]
    ) -> None:
        def chunks() -> Iterator[bytes]:
            for _ in range(8):
                yield b"x" * 128 * 1024

        with client_with(max_files=1, max_file_bytes=1024) as small:
            response = small.post(
                "/api/v1/reports",
                content=chunks(),
                headers={"content-type": "multipart/form-data; boundary=x"},
            )
        assert response.status_code == 413
        assert policy_problems(response) == []

    def test_headers_too_large_are_refused_with_a_policy(self, anyone: TestClient) -> None:
        response = anyone.get("/", headers={"x-padding": "x" * 9000})
        assert response.status_code == 431
        assert policy_problems(response) == []

    def test_a_change_without_its_csrf_token_is_refused_with_a_policy(
        self, client: TestClient, session: Session, keyring: KeyRing
    ) -> None:
        sign_in_staff(client, *make_staff(session, keyring, role=Role.administrator))
        response = client.post("/api/v1/staff/me/password", json={})
        assert response.status_code == 403
        assert policy_problems(response) == []

    @pytest.mark.parametrize("path", ["/api/v1/public/config", "/danger"])
    def test_an_unexpected_error_is_answered_with_a_policy_and_no_detail(
        self, anyone: TestClient, monkeypatch: pytest.MonkeyPatch, path: str
    ) -> None:
        from api.public import service

        def broken(**_kwargs: object) -> None:
            raise RuntimeError("boom")

        monkeypatch.setattr(service, "public_config", broken)
        response = anyone.get(path)
        assert response.status_code == 500
        assert response.json()["error"]["code"] == "internal"
        assert "boom" not in response.text
        assert policy_problems(response) == []


class TestTheServiceWorkerAndTheDocs:
    def test_the_service_worker_has_the_pages_policy(self, anyone: TestClient) -> None:
        response = anyone.get("/sw.js")
        assert response.status_code == 200
        assert response.headers["content-security-policy"] == PAGE_CSP.decode()

    def test_the_docs_page_starts_swagger_ui_from_a_file_under_the_pages_policy(
        self, anyone: TestClient
    ) -> None:
        page = anyone.get("/api/docs")
        assert page.status_code == 200
        assert page.headers["content-security-policy"] == PAGE_CSP.decode()
        assert inline_script(page) == []
        sources = re.findall(r'<script src="([^"]+)"></script>', page.text)
        assert len(sources) == 2 and page.text.count("<script") == 2
        for source in sources:
            script = anyone.get(source)
            assert script.status_code == 200, source
            assert script.headers["content-type"].startswith("text/javascript")
            assert policy_problems(script) == []
        assert "SwaggerUIBundle(" in anyone.get(sources[1]).text


class TestOnePlaceSetsThePolicy:
    def test_a_policy_a_response_brings_is_replaced_by_the_strict_one(self) -> None:
        async def weak(_scope: Scope, _receive: Receive, send: Send) -> None:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-security-policy", b"script-src 'unsafe-inline'")],
                }
            )
            await send({"type": "http.response.body", "body": b""})

        response = TestClient(PortlineMiddleware(weak, max_body_bytes=1024)).get("/")
        assert response.headers.get_list("content-security-policy") == [PAGE_CSP.decode()]
