"""Real local peers for the outbox tests: an SMTP server (aiosmtpd) and an HTTP server that
checks webhook signatures the way a receiving body would."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.server import free_port


class Inbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.recipients: list[str] = []

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, _server: SMTP, _session: Session, envelope: Envelope
    ) -> str:
        content = envelope.original_content or b""
        parsed = message_from_bytes(content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        self.recipients.extend(envelope.rcpt_tos)
        return "250 Message accepted for delivery"


@contextmanager
def smtp_server() -> Iterator[tuple[int, Inbox]]:
    """A plain SMTP server (no STARTTLS) on a free local port, and what it received."""
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, inbox
    finally:
        controller.stop()


@dataclass
class Delivery:
    headers: dict[str, str]
    payload: bytes
    signature_valid: bool

    @property
    def document(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.payload)
        return loaded


@dataclass
class WebhookReceiver:
    """Answers each POST with the next of ``statuses`` (then 200), after ``delay`` seconds;
    with ``hang_first`` the first request waits, unanswered, until the receiver stops."""

    secret: bytes
    statuses: list[int] = field(default_factory=list)
    delay: float = 0.0
    hang_first: bool = False
    deliveries: list[Delivery] = field(default_factory=list)
    url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _release: threading.Event = field(default_factory=threading.Event)

    def keys(self) -> Counter[str]:
        return Counter(delivery.headers.get("idempotency-key", "") for delivery in self.deliveries)

    def wait_for(self, count: int, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.deliveries) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.deliveries)} webhook calls, expected {count}")
            time.sleep(0.02)

    def _answer(self, headers: dict[str, str], payload: bytes) -> int | None:
        timestamp = headers.get("x-portline-timestamp", "")
        expected = hmac.new(
            self.secret, timestamp.encode() + b"." + payload, hashlib.sha256
        ).hexdigest()
        valid = hmac.compare_digest(headers.get("x-portline-signature", ""), f"sha256={expected}")
        with self._lock:
            self.deliveries.append(Delivery(headers, payload, valid))
            first = len(self.deliveries) == 1
            status = self.statuses.pop(0) if self.statuses else 200
        if self.hang_first and first:
            self._release.wait(30)
            return None
        if self.delay:
            time.sleep(self.delay)
        return status if valid else 401

    @contextmanager
    def running(self) -> Iterator[WebhookReceiver]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                payload = self.rfile.read(length)
                headers = {name.lower(): value for name, value in self.headers.items()}
                status = receiver._answer(headers, payload)
                if status is None:
                    return
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        self.url = f"http://127.0.0.1:{server.server_address[1]}/portline"
        try:
            yield self
        finally:
            self._release.set()
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)
