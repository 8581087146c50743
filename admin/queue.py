"""The triage queue: open cases, what is due first, with the filters and the counts a
triager works with, fifty cases a page."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlmodel import Session

from admin.shell import PREFIX, ConsoleRoute, Problems, Triager, clip, render
from api.agencies import service as agencies_service
from api.cases import service as cases_service
from api.cases.schemas import CaseStatus, QueueFilter
from api.deps import Now, SessionDep
from api.errors import FieldProblem
from api.i18n import N_
from api.ports import service as ports_service
from api.reports.schemas import CargoDirection, Kind
from api.staff import service as staff_service
from api.staff.models import Staff
from api.taxonomy import service as taxonomy_service

QUEUE_URL = f"{PREFIX}/triage"
PAGE_SIZE = 50
LAST_PAGE = 100_000
SEARCH_LIMIT = 100  # as QueueFilter.search
FILTERS = (
    "status",
    "kind",
    "category",
    "port",
    "zone",
    "severity",
    "assignee",
    "overdue",
    "cargo_direction",
    "body",
    "search",
)

STATUS_NAMES: dict[str, str] = {
    CaseStatus.new: N_("New"),
    CaseStatus.acknowledged: N_("Acknowledged"),
    CaseStatus.in_progress: N_("In progress"),
    CaseStatus.waiting_for_reporter: N_("Waiting for the reporter"),
    CaseStatus.referred: N_("Referred"),
    CaseStatus.closed: N_("Closed"),
}
KIND_NAMES: dict[str, str] = {Kind.integrity: N_("Integrity"), Kind.incident: N_("Incident")}
CARGO_DIRECTION_NAMES: dict[str, str] = {
    CargoDirection.inbound: N_("Inbound"),
    CargoDirection.outbound: N_("Outbound"),
    CargoDirection.transhipment: N_("Transhipment"),
    CargoDirection.not_applicable: N_("No cargo involved"),
}
# Which deadline a row's due date is (CaseRow.due).
DEADLINE_NAMES = {"acknowledge": N_("Acknowledge by"), "feedback": N_("Feedback by")}
SEVERITIES = ("1", "2", "3", "4")

router = APIRouter(route_class=ConsoleRoute)


# The choices of the filter form -----------------------------------------------------------------


@dataclass(frozen=True)
class Option:
    value: str
    label: str
    msgid: bool = True  # a catalog message; a person's name is not


@dataclass(frozen=True)
class Group:
    label: str  # a msgid; empty for options that are not grouped
    options: tuple[Option, ...]


def _flat(names: Mapping[str, str]) -> list[Group]:
    return [Group("", tuple(Option(str(value), label) for value, label in names.items()))]


@dataclass(frozen=True)
class Choices:
    # The options of each select of the form, by the field's name.
    groups: dict[str, list[Group]]
    # A zone code is unique only within its port: a zone's value is "PORT/zone".
    zone_ports: dict[str, str]
    assignee_names: dict[int, str]

    def values(self, name: str) -> set[str]:
        return {option.value for group in self.groups[name] for option in group.options}


def _choices(session: Session, staff: Staff) -> Choices:
    categories: dict[str, list[Option]] = {}
    for category in taxonomy_service.active_categories(session=session):
        categories.setdefault(category.kind, []).append(Option(category.code, category.name))
    # Only the ports the triager sees, and their zones and bodies: no option leads to a
    # case they cannot open.
    ports = ports_service.ports_for(session=session, actor=staff)
    zones = ports_service.zones_by_port(session=session)
    zone_groups = [
        Group(
            port.name,
            tuple(Option(f"{port.code}/{zone.code}", zone.name) for zone in zones[port.id]),
        )
        for port in ports
        if port.id in zones
    ]
    people = staff_service.triagers(session=session, actor=staff)
    groups = {
        "status": _flat(STATUS_NAMES),
        "kind": _flat(KIND_NAMES),
        "category": [
            Group(KIND_NAMES.get(kind, kind), tuple(options))
            for kind, options in categories.items()
        ],
        "port": [Group("", tuple(Option(port.code, port.name) for port in ports))],
        "zone": zone_groups,
        "severity": [Group("", tuple(Option(level, level, msgid=False) for level in SEVERITIES))],
        "assignee": [
            Group(
                "",
                tuple(Option(str(person.id), person.shown_name, msgid=False) for person in people),
            )
        ],
        "cargo_direction": _flat(CARGO_DIRECTION_NAMES),
        "body": [
            Group(
                "",
                tuple(
                    Option(body.code, body.name)
                    for body in agencies_service.bodies_for(session=session, actor=staff)
                ),
            )
        ],
    }
    return Choices(
        groups=groups,
        zone_ports={
            option.value: option.value.partition("/")[0]
            for group in zone_groups
            for option in group.options
        },
        assignee_names={person.id: person.shown_name for person in people if person.id is not None},
    )


# Reading the filters ----------------------------------------------------------------------------

# What is wrong with a value that is not one of its select's options.
NOT_A_CHOICE = {
    "status": N_("Choose a status from the list."),
    "kind": N_("Choose a kind of report from the list."),
    "category": N_("There is no such category."),
    "port": N_("There is no such port."),
    "zone": N_("There is no such zone."),
    "severity": N_("Choose a severity from 1 to 4."),
    "assignee": N_("Choose a triager from the list."),
    "cargo_direction": N_("Choose a cargo direction from the list."),
    "body": N_("Choose a receiving body from the list."),
}
NO_SUCH_PAGE = N_("There is no such page of cases.")


def _problems(values: Mapping[str, str], search: str, choices: Choices) -> dict[str, FieldProblem]:
    problems: dict[str, FieldProblem] = {}
    for name, message in NOT_A_CHOICE.items():
        if values[name] and values[name] not in choices.values(name):
            problems[name] = FieldProblem(name, message)
    zone_port = choices.zone_ports.get(values["zone"])
    if zone_port and values["port"] and zone_port != values["port"]:
        problems["zone"] = FieldProblem("zone", N_("This zone is not in the chosen port."))
    if len(search) > SEARCH_LIMIT:
        problems["search"] = FieldProblem(
            "search", N_("Search for at most {limit} characters."), {"limit": SEARCH_LIMIT}
        )
    return problems


def _filter(values: Mapping[str, str]) -> QueueFilter:
    zone_port, _slash, zone = values["zone"].partition("/")
    return QueueFilter(
        status=[CaseStatus(values["status"])] if values["status"] else [],
        kind=values["kind"] or None,
        category=values["category"] or None,
        port=values["port"] or zone_port or None,
        zone=zone or None,
        severity=int(values["severity"]) if values["severity"] else None,
        assignee_id=int(values["assignee"]) if values["assignee"] else None,
        overdue=bool(values["overdue"]),
        cargo_direction=values["cargo_direction"] or None,
        body=values["body"] or None,
        search=values["search"] or None,
    )


def _url(values: Mapping[str, str], **changes: str) -> str:
    """The queue's address with these filters; a page or a status can be changed."""
    query = {name: value for name, value in {**values, **changes}.items() if value}
    if query.get("page") == "1":
        del query["page"]
    return f"{QUEUE_URL}?{urlencode(query)}" if query else QUEUE_URL


# The page -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatusTab:
    label: str
    count: int | None
    url: str
    current: bool


def _tabs(values: Mapping[str, str], counts: Mapping[str, int | None]) -> list[StatusTab]:
    open_count = sum(counts[status.value] or 0 for status in cases_service.OPEN)
    tabs = [StatusTab(N_("All open"), open_count, _url(values, status=""), not values["status"])]
    tabs.extend(
        StatusTab(
            label,
            counts[status],
            _url(values, status=status),
            values["status"] == status,
        )
        for status, label in STATUS_NAMES.items()
    )
    return tabs


def _page(
    request: Request,
    staff: Staff,
    values: Mapping[str, str],
    choices: Choices,
    problems: Problems | None = None,
    **found: object,
) -> Response:
    context: dict[str, object] = {
        "values": values,
        "choices": choices,
        "filtered": any(values[name] for name in FILTERS),
        "tabs": [],
        "rows": [],
        "total": 0,
        "first": 0,
        "last": 0,
        "page": 1,
        "last_page": 1,
        "previous_url": None,
        "next_url": None,
        "status_names": STATUS_NAMES,
        "kind_names": KIND_NAMES,
        "deadline_names": DEADLINE_NAMES,
        **found,
    }
    if problems:
        return render(
            request, "queue.html", {**context, "problems": problems}, staff=staff, status_code=422
        )
    return render(request, "queue.html", context, staff=staff)


@router.get(QUEUE_URL)
def triage_queue(
    request: Request,
    session: SessionDep,
    staff: Triager,
    now: Now,
    status: str = "",
    kind: str = "",
    category: str = "",
    port: str = "",
    zone: str = "",
    severity: str = "",
    assignee: str = "",
    overdue: str = "",
    cargo_direction: str = "",
    body: str = "",
    search: str = "",
    page: str = "1",
) -> Response:
    # Every parameter is read as text, so that a wrong value is explained on the page.
    search = search.strip()
    values = {
        "status": clip(status.strip(), 32),
        "kind": clip(kind.strip(), 16),
        "category": clip(category.strip(), 48),
        "port": clip(port.strip(), 16),
        "zone": clip(zone.strip(), 49),
        "severity": clip(severity.strip(), 2),
        "assignee": clip(assignee.strip(), 12),
        "overdue": "1" if overdue else "",
        "cargo_direction": clip(cargo_direction.strip(), 16),
        "body": clip(body.strip(), 48),
        "search": clip(search, SEARCH_LIMIT),
    }
    choices = _choices(session, staff)
    problems = _problems(values, search, choices)
    page = page.strip() or "1"
    # ASCII digits only: int() refuses some characters that isdigit() accepts, such as ².
    number = int(page) if page.isascii() and page.isdigit() and 0 < int(page) <= LAST_PAGE else 0
    no_such_page = FieldProblem("page", NO_SUCH_PAGE)
    if problems or not number:
        return _page(
            request, staff, values, choices, Problems(problems, None if number else no_such_page)
        )

    filters = _filter(values)
    found = cases_service.queue(
        session=session, actor=staff, filters=filters, now=now, page=number, page_size=PAGE_SIZE
    )
    last_page = max((found.total + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    if number > last_page:
        return _page(request, staff, values, choices, Problems({}, no_such_page))
    counts = cases_service.status_counts(session=session, actor=staff, filters=filters, now=now)
    return _page(
        request,
        staff,
        values,
        choices,
        tabs=_tabs(values, counts),
        rows=found.rows,
        total=found.total,
        first=(number - 1) * PAGE_SIZE + 1,
        last=(number - 1) * PAGE_SIZE + len(found.rows),
        page=number,
        last_page=last_page,
        previous_url=_url(values, page=str(number - 1)) if number > 1 else None,
        next_url=_url(values, page=str(number + 1)) if number < last_page else None,
    )
