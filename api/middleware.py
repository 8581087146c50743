"""ASGI middleware: request limits, the security headers of every answer, the request
log of api/logs.py (which never records who is asking, nor when to the second) and the
request metrics of api/operations/metrics.py (labelled by route template, never by path)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from api.errors import DomainError, FieldProblem, HeadersTooLarge, TooLarge, error_body
from api.i18n import N_, negotiate
from api.logs import RequestLog, current_hour, is_staff_request, seconds_to_next_hour
from api.operations.metrics import OPERATIONS_PATHS, HeldRequests, observe_request

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_HEADER_BYTES = 8 * 1024

SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"geolocation=(), microphone=(), interest-cohort=()"),
]
# The JSON API renders nothing, so it may load nothing.
API_CSP = b"default-src 'none'; frame-ancestors 'none'"
# Pages, the API docs, the service worker, assets and redirects: no inline script or style
# anywhere, everything from this origin's files. The service worker's own fetches fall
# under connect-src.
PAGE_CSP = (
    b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    b"connect-src 'self'; worker-src 'self'; manifest-src 'self'; font-src 'none'; "
    b"form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
CSP = b"content-security-policy"


class _BodyTooLarge(Exception):
    pass


class _Internal(DomainError):
    status = 500
    code = "internal"


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
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class PortlineMiddleware:
    """Bounds each request, gives every answer its security headers (this is the one
    place a Content-Security-Policy is set), logs it through a RequestLog and counts it in
    the request metrics."""

    def __init__(
        self, app: ASGIApp, *, max_body_bytes: int, docs_prefix: str = "/api/docs"
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.docs_prefix = docs_prefix
        self.request_log = RequestLog()
        self.held_requests = HeldRequests()
        self._hourly: asyncio.Task[None] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(scope, receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0
        path = scope.get("path", "")
        api_surface = path.startswith("/api/") and not path.startswith(self.docs_prefix)

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                # Whatever policy a response brought is replaced: none can be weaker.
                headers = [item for item in message.get("headers", []) if item[0].lower() != CSP]
                present = {key.lower() for key, _value in headers}
                headers.extend(item for item in SECURITY_HEADERS if item[0] not in present)
                headers.append((CSP, API_CSP if api_surface else PAGE_CSP))
                if api_surface:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        header_bytes = sum(len(key) + len(value) + 4 for key, value in scope.get("headers", ()))
        declared = _header(scope, b"content-length")
        try:
            if header_bytes > MAX_HEADER_BYTES:
                await _send_error(scope, send_with_headers, _headers_too_large())
            elif (
                declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes
            ):
                await _send_error(scope, send_with_headers, _body_too_large(self.max_body_bytes))
            else:
                await self.app(scope, self._bounded(receive), send_with_headers)
        except _BodyTooLarge:
            if status == 0:
                await _send_error(scope, send_with_headers, _body_too_large(self.max_body_bytes))
        except Exception as error:
            # Logged and answered here, so that neither Starlette's error middleware nor
            # the server sees it: both would print the path and a traceback with its
            # message, at the second.
            self.request_log.failed(scope, error)
            if status == 0:
                await _send_error(scope, send_with_headers, _internal())
            status = 500
        finally:
            elapsed = time.perf_counter() - started
            self.request_log.answered(scope, status or 500, elapsed * 1000)
            method, route = str(scope.get("method")), self.request_log.route_template(scope)
            path = scope.get("path", "")
            if is_staff_request(path) or path in OPERATIONS_PATHS:
                observe_request(method=method, route=route, status=status or 500, seconds=elapsed)
            else:
                self.held_requests.hold(
                    hour=current_hour(),
                    method=method,
                    route=route,
                    status=status or 500,
                    seconds=elapsed,
                )

    def _bounded(self, receive: Receive) -> Receive:
        received = 0

        async def bounded_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise _BodyTooLarge
            return message

        return bounded_receive

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Write each finished hour's counts at the turn of the hour, while the server runs,
        and what is left of finished hours when it stops."""

        async def watched_receive() -> Message:
            message = await receive()
            if message["type"] == "lifespan.startup" and self._hourly is None:
                # What a run counts begins with it, as the unfinished hour ends with it.
                self.request_log = RequestLog()
                self.held_requests = HeldRequests()
                self._hourly = asyncio.create_task(self._write_every_hour())
            elif message["type"] == "lifespan.shutdown":
                if self._hourly is not None:
                    self._hourly.cancel()
                    self._hourly = None
                self.request_log.write_finished_hours()
                self.held_requests.release_finished_hours(current_hour())
            return message

        await self.app(scope, watched_receive, send)

    async def _write_every_hour(self) -> None:
        while True:
            # A second past the hour, so the hour that just ended is over by the clock too.
            await asyncio.sleep(seconds_to_next_hour() + 1)
            self.request_log.write_finished_hours()
            self.held_requests.release_finished_hours(current_hour())


def _internal() -> _Internal:
    return _Internal(N_("Something went wrong on our side. Nothing was lost; please try again."))


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
