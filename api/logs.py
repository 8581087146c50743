"""Logging that cannot time or identify a reporter: no client address, no headers, no
path a person typed, ever.

Requests split in two. Staff requests (the console and the staff API) are logged one line
each, with the route's template (``/admin/welcome/{token}``), never the address asked for,
which may carry an invitation token or an id. Every other request (the reporter's pages
and assets, the service worker, the public API, the API docs, unknown addresses) is only
counted, per hour and status class, and the counts are written when the hour is over; an
error in such a request is held the same way and written with them, naming only its
exception type and route template.

Log lines carry no timestamp of their own: the journal (or the container runtime) stamps
each line when it arrives. That is why nothing about a reporter's request is written while
it happens: the time of writing would be the time of the request.
"""

from __future__ import annotations

import logging
import re
import time
import traceback
from collections import Counter
from collections.abc import MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi.routing import iter_route_contexts

LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"

access_log = logging.getLogger("portline.access")
error_log = logging.getLogger("portline.errors")

Scope = MutableMapping[str, Any]

# The public API a reporter's client talks to; the rest of /api/v1/ is the staff API.
PUBLIC_API_PREFIXES = ("/api/v1/public", "/api/v1/reports", "/api/v1/reporter")
NO_ROUTE = "(no route)"


def logging_config(level: str) -> dict[str, Any]:
    """A dictConfig for Portline and uvicorn; uvicorn's own access log stays off (it would
    write the client's address and the raw path of every request)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": {"format": LOG_FORMAT}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "plain",
                "stream": "ext://sys.stderr",
            }
        },
        "loggers": {
            "portline": {"handlers": ["stderr"], "level": level, "propagate": False},
            "uvicorn": {"handlers": ["stderr"], "level": level, "propagate": False},
            "uvicorn.error": {"level": level},
            "uvicorn.access": {"handlers": [], "level": "CRITICAL", "propagate": False},
        },
    }


def is_staff_request(path: str) -> bool:
    """Whether a request is logged one by one. Anything not known to be staff's is counted
    only: an unknown address may be a reporter's mistyped one."""
    if path == "/admin" or path.startswith("/admin/"):
        return True
    return path.startswith("/api/v1/") and not path.startswith(PUBLIC_API_PREFIXES)


def current_hour() -> int:
    """Hours since the epoch: the finest time anything about a reporter's request keeps."""
    return int(time.time()) // 3600


def seconds_to_next_hour() -> float:
    return 3600 - time.time() % 3600


def _hour_text(hour: int) -> str:
    return datetime.fromtimestamp(hour * 3600, UTC).strftime("%Y-%m-%dT%H:%MZ")


@dataclass(frozen=True)
class _HeldError:
    hour: int
    kind: str
    method: str
    template: str


class RequestLog:
    """Writes a staff request at once and holds everything else to the end of its hour.

    Used from the event loop only (the middleware), so it needs no lock."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[int, str]] = Counter()
        self.errors: Counter[_HeldError] = Counter()
        self.error_frames: dict[_HeldError, str] = {}
        self._templates: dict[int, list[tuple[re.Pattern[str], str]]] | None = None

    def route_template(self, scope: Scope) -> str:
        """The template of the route that answered (``/api/v1/staff/invitations/{token}``),
        with every including router's prefix; never the path that was asked for."""
        route, app = scope.get("route"), scope.get("app")
        if route is None or app is None:
            return NO_ROUTE
        if self._templates is None:
            # FastAPI combines included routers lazily: a route knows only its own part of
            # the path, the route table knows the whole template.
            self._templates = {}
            for context in iter_route_contexts(app.routes):
                if context.path_format is not None:
                    self._templates.setdefault(id(context.original_route), []).append(
                        (context.path_regex, context.path_format)
                    )
        candidates = self._templates.get(id(route), [])
        for path_regex, template in candidates:
            # A router included under two prefixes: the one the path was found under.
            if len(candidates) == 1 or path_regex.match(scope.get("path", "")):
                return template
        return NO_ROUTE

    def answered(self, scope: Scope, status: int, elapsed_ms: float) -> None:
        if is_staff_request(scope.get("path", "")):
            access_log.info(
                "%s %s %d %.0fms",
                scope.get("method"),
                self.route_template(scope),
                status,
                elapsed_ms,
            )
        else:
            self.counts[(current_hour(), f"{status // 100}xx")] += 1

    def failed(self, scope: Scope, error: BaseException) -> None:
        template = self.route_template(scope)
        if is_staff_request(scope.get("path", "")):
            error_log.error(
                "unhandled error on %s %s", scope.get("method"), template, exc_info=error
            )
            return
        # The type and where in the code, not the message: a message may quote what the
        # reporter sent.
        held = _HeldError(current_hour(), type(error).__name__, str(scope.get("method")), template)
        self.errors[held] += 1
        self.error_frames.setdefault(held, "".join(traceback.format_tb(error.__traceback__)))

    def write_finished_hours(self) -> None:
        """Write the counts and errors of every hour that is over.

        The hour still running is never written, not even at shutdown: the time of writing
        would bound its requests more tightly than the hour."""
        now = current_hour()
        for hour in sorted({hour for hour, _status_class in self.counts if hour < now}):
            classes = sorted(
                (status_class, count)
                for (counted, status_class), count in self.counts.items()
                if counted == hour
            )
            access_log.info(
                "public requests in the hour from %s: %s",
                _hour_text(hour),
                ", ".join(f"{status_class} {count}" for status_class, count in classes),
            )
            for status_class, _count in classes:
                del self.counts[(hour, status_class)]
        for held in sorted(
            (held for held in self.errors if held.hour < now),
            key=lambda held: (held.hour, held.template, held.kind),
        ):
            error_log.error(
                "public requests in the hour from %s: %s on %s %s, %d times\n%s",
                _hour_text(held.hour),
                held.kind,
                held.method,
                held.template,
                self.errors.pop(held),
                self.error_frames.pop(held),
            )
