"""ASGI middleware: request limits, security headers and an access log that never
records who is asking (no client address, no User-Agent, no query string)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from api.errors import DomainError, FieldProblem, HeadersTooLarge, TooLarge, error_body
from api.i18n import N_, negotiate

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

access_log = logging.getLogger("portline.access")

MAX_HEADER_BYTES = 8 * 1024

SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"geolocation=(), microphone=(), interest-cohort=()"),
]
API_CSP = b"default-src 'none'; frame-ancestors 'none'"


class _BodyTooLarge(Exception):
    pass


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


async def _send_error(scope: Scope, send: Send, error: DomainError) -> None:
    language = negotiate(_header(scope, b"accept-language"))
    body = json.dumps(error_body(error, language)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": error.status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *SECURITY_HEADERS,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class PortlineMiddleware:
    """Bounds each request, adds security headers and logs one anonymous line."""

    def __init__(
        self, app: ASGIApp, *, max_body_bytes: int, docs_prefix: str = "/api/docs"
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.docs_prefix = docs_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status_holder = {"status": 0}
        path = scope.get("path", "")

        header_bytes = sum(len(key) + len(value) + 4 for key, value in scope.get("headers", ()))
        if header_bytes > MAX_HEADER_BYTES:
            await _send_error(scope, send, _headers_too_large())
            self._log(scope, 431, started)
            return
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await _send_error(scope, send, _body_too_large(self.max_body_bytes))
            self._log(scope, 413, started)
            return

        received = 0

        async def bounded_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise _BodyTooLarge
            return message

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                headers = list(message.get("headers", []))
                present = {key.lower() for key, _value in headers}
                headers.extend(item for item in SECURITY_HEADERS if item[0] not in present)
                if path.startswith("/api/") and not path.startswith(self.docs_prefix):
                    headers.append((b"content-security-policy", API_CSP))
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, bounded_receive, send_with_headers)
        except _BodyTooLarge:
            if status_holder["status"] == 0:
                await _send_error(scope, send, _body_too_large(self.max_body_bytes))
                status_holder["status"] = 413
        finally:
            self._log(scope, status_holder["status"] or 500, started)

    @staticmethod
    def _log(scope: Scope, status: int, started: float) -> None:
        elapsed_ms = (time.perf_counter() - started) * 1000
        access_log.info(
            "%s %s %d %.0fms", scope.get("method"), scope.get("path"), status, elapsed_ms
        )


def _headers_too_large() -> HeadersTooLarge:
    return HeadersTooLarge(
        N_("The request headers are too large."),
        fields=[
            FieldProblem("headers", N_("Headers may be at most {limit} KB in all."), {"limit": 8})
        ],
    )


def _body_too_large(limit: int) -> TooLarge:
    return TooLarge(
        N_("The request is too large."),
        fields=[
            FieldProblem(
                "body",
                N_("A request may be at most {limit} MB."),
                {"limit": limit // (1024 * 1024)},
            )
        ],
    )
