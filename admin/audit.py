"""The audit log, for auditors: filtered, newest first, fifty entries a page."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from admin.shell import PREFIX, Auditor, ConsoleRoute, Problems, clip, render
from api.audit import service as audit_service
from api.audit.models import AuditEntry
from api.deps import SessionDep
from api.errors import FieldProblem
from api.i18n import N_

AUDIT_URL = f"{PREFIX}/audit"
PAGE_SIZE = 50
FILTERS = ("actor", "action", "object_type", "object_id", "since", "until")

router = APIRouter(route_class=ConsoleRoute)


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _details(entry: AuditEntry) -> list[tuple[str, str]]:
    try:
        detail = json.loads(entry.detail)
    except ValueError:
        return [("", entry.detail)]
    if not isinstance(detail, dict):
        return [("", entry.detail)]
    return [(str(key), "" if value is None else str(value)) for key, value in detail.items()]


def _page_url(values: dict[str, str], page: int) -> str:
    query = {name: value for name, value in values.items() if value}
    if page > 1:
        query["page"] = str(page)
    return f"{AUDIT_URL}?{urlencode(query)}" if query else AUDIT_URL


def _no_entries(values: dict[str, str]) -> dict[str, object]:
    return {
        "values": values,
        "filtered": True,
        "entries": [],
        "total": 0,
        "first": 0,
        "last": 0,
        "page": 1,
        "last_page": 1,
        "newer_url": None,
        "older_url": None,
    }


@router.get(AUDIT_URL)
def audit_log(
    request: Request,
    session: SessionDep,
    staff: Auditor,
    actor: str = "",
    action: str = "",
    object_type: str = "",
    object_id: str = "",
    since: str = "",
    until: str = "",
    page: str = "1",
) -> Response:
    values = {
        "actor": clip(actor.strip(), 254),
        "action": clip(action.strip(), 64),
        "object_type": clip(object_type.strip(), 32),
        "object_id": clip(object_id.strip(), 64),
        "since": clip(since.strip(), 10),
        "until": clip(until.strip(), 10),
    }
    problems: dict[str, FieldProblem] = {}
    days: dict[str, date | None] = {}
    for name in ("since", "until"):
        days[name] = _day(values[name]) if values[name] else None
        if values[name] and days[name] is None:
            problems[name] = FieldProblem(name, N_("This must be a date (YYYY-MM-DD)."))
    since_day, until_day = days["since"], days["until"]
    if since_day and until_day and until_day < since_day:
        problems["until"] = FieldProblem("until", N_("This date is before the first one."))
    if problems:
        return render(
            request,
            "audit.html",
            {**_no_entries(values), "problems": Problems(problems)},
            staff=staff,
            status_code=422,
        )

    number = int(page) if page.isdigit() and 0 < int(page) < 1_000_000 else 1
    filters = audit_service.AuditFilter(
        actor=values["actor"] or None,
        action=values["action"] or None,
        object_type=values["object_type"] or None,
        object_id=values["object_id"] or None,
        since=datetime.combine(since_day, time(), UTC) if since_day else None,
        # Up to the end of that day.
        until=datetime.combine(until_day + timedelta(days=1), time(), UTC) if until_day else None,
    )
    entries, total = audit_service.search(
        session=session, filters=filters, limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE
    )
    last_page = max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    return render(
        request,
        "audit.html",
        {
            "values": values,
            "filtered": any(values.values()),
            "entries": [(entry, _details(entry)) for entry in entries],
            "total": total,
            "first": (number - 1) * PAGE_SIZE + 1,
            "last": (number - 1) * PAGE_SIZE + len(entries),
            "page": number,
            "last_page": last_page,
            "newer_url": _page_url(values, number - 1) if number > 1 else None,
            "older_url": _page_url(values, number + 1) if number < last_page else None,
        },
        staff=staff,
    )
