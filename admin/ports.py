"""Ports as administrators configure them: the list and a new port; each port's names,
languages, country, time zone, legal deadlines and retention; its zones and emergency
numbers, named per language, ordered, retired and restored (retiring asks first).

The pages only gather what the forms say: api/ports/config.py checks it, makes the change
and audits it. The deadlines are days to acknowledge a report and to give the reporter
feedback (EU Directive 2019/1937), never longer than the Directive's; the retention is how
long closed cases are kept before they are purged (api/retention/policy.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any, get_args

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import Response
from sqlmodel import Session
from starlette.datastructures import FormData

from admin.case import FormText, _valid
from admin.languages import (
    ALL_LANGUAGES,
    BY_CODE,
    Posted,
    as_values,
    languages_of,
    problems_of,
    text_of,
    typed,
    written,
)
from admin.shell import (
    NO_PROBLEMS,
    PREFIX,
    Administrator,
    ConsoleRoute,
    Problems,
    attempt,
    console_language,
    redirect,
    render,
)
from api.crypto import KeyRing
from api.deps import KeyRingDep, Now, SessionDep
from api.errors import DomainError, NotFound
from api.i18n import LANGUAGES, N_, in_language
from api.ids import Id
from api.moves import Direction
from api.ports import config as ports_config
from api.ports import service as ports_service
from api.ports.schemas import (
    DeadlinesIn,
    EmergencyNumberAdmin,
    EmergencyNumberChange,
    EmergencyNumberIn,
    PortAdmin,
    PortChange,
    PortIn,
    ZoneAdmin,
    ZoneChange,
    ZoneIn,
    ZoneKind,
)
from api.retention import policy as retention_policy
from api.retention.schemas import RetentionIn
from api.staff import service as staff_service
from api.staff.models import Staff

PORTS_URL = f"{PREFIX}/ports"

router = APIRouter(route_class=ConsoleRoute)

PortCode = Annotated[str, Path(max_length=16)]
ZoneCode = Annotated[str, Path(max_length=32)]

ZONE_KIND_NAMES: dict[str, str] = {
    "container_terminal": N_("Container terminal"),
    "gate": N_("Gate"),
    "berth": N_("Berth"),
    "back_office": N_("Back office"),
    "anchorage": N_("Anchorage"),
    "port_city": N_("Port city"),
    "warehouse": N_("Warehouse"),
    "ferry_terminal": N_("Ferry terminal"),
    "other": N_("Other"),
}
assert set(ZONE_KIND_NAMES) == set(get_args(ZoneKind))  # one list, checked at import

NOTICES: dict[str, str] = {
    "created": N_("The port is added. Add its zones and emergency numbers below."),
    "saved": N_("The port is saved."),
    "deadlines": N_("The deadlines are saved. Cases opened from now on follow them."),
    "retention": N_(
        "The retention is saved. Closed cases of the port, those closed already too, are "
        "kept that many days, then purged."
    ),
    "retired": N_("The port is retired: reporters no longer see it. Its cases keep it."),
    "restored": N_("The port is restored: reporters see it again."),
    "zone_added": N_("The zone is added at the end of the list."),
    "zone_saved": N_("The zone is saved."),
    "zone_retired": N_("The zone is retired: reporters are no longer offered it."),
    "zone_restored": N_("The zone is restored: reporters are offered it again."),
    "number_added": N_("The emergency number is added at the end of the list."),
    "number_saved": N_("The emergency number is saved."),
    "number_retired": N_("The emergency number is retired: reporters no longer see it."),
    "number_restored": N_("The emergency number is restored: reporters see it again."),
    "moved": N_("The order is saved."),
}

# What each confirmation before retiring says: its title (with the thing's {name}), what
# happens, and its button.
RETIRING: dict[str, tuple[str, str, str]] = {
    "port": (
        N_("Retire {name}?"),
        N_(
            "Reporters no longer see the port, its zones or its emergency numbers. Its cases "
            "stay as they are and staff still work them. You can restore it at any time."
        ),
        N_("Retire the port"),
    ),
    "zone": (
        N_("Retire the zone {name}?"),
        N_(
            "Reporters are no longer offered it. Cases that name it keep it, and it stays "
            "listed here as retired. You can restore it at any time."
        ),
        N_("Retire the zone"),
    ),
    "number": (
        N_("Retire the emergency number {name}?"),
        N_(
            "Reporters no longer see it among the numbers to call. It stays listed here as "
            "retired. You can restore it at any time."
        ),
        N_("Retire the number"),
    ),
}

# The most each text takes (api/ports/schemas.py).
NAME_LIMIT = 120
WHEN_LIMIT = 200
PER_LANGUAGE = ("name", "label", "when")


# What the forms hold ------------------------------------------------------------------------


def _offered(first: str, others: Sequence[str]) -> list[str]:
    """The languages offered, the first one first and the others in the usual order."""
    return [first] + [code for code in LANGUAGES if code in others and code != first]


def _first_of(values: Mapping[str, Any]) -> str:
    first = str(values.get("first_language", ""))
    return first if first in BY_CODE else LANGUAGES[0]


def _port_values(port: PortAdmin) -> dict[str, Any]:
    return {
        "first_language": port.languages[0],
        "languages": port.languages[1:],
        **as_values("name", port.names),
        "country": port.country,
        "timezone": port.timezone,
        "triage_email": port.triage_email,
    }


NEW_PORT: dict[str, Any] = {
    "code": "",
    "first_language": LANGUAGES[0],
    "languages": [],
    "country": "",
    "timezone": "",
    "triage_email": "",
}


def _posted_port(form: FormData) -> dict[str, Any]:
    chosen = [value[:8] for value in form.getlist("languages")[:20] if isinstance(value, str)]
    return {
        "code": text_of(form, "code", 16).upper(),
        "first_language": text_of(form, "first_language", 8),
        "languages": [code for code in LANGUAGES if code in chosen],
        **as_values("name", typed(form, "name", NAME_LIMIT)),
        "country": text_of(form, "country", 2).upper(),
        "timezone": text_of(form, "timezone", 64),
        "triage_email": text_of(form, "triage_email", 254),
    }


def _port_data(
    form: FormData, values: Mapping[str, Any], names: Mapping[str, str]
) -> dict[str, Any]:
    """What a port form asks for, as the API's request body."""
    return {
        "name": written(names, typed(form, "name", NAME_LIMIT)),
        "country": values["country"],
        "timezone": values["timezone"],
        "triage_email": values["triage_email"],
        "languages": _offered(values["first_language"], values["languages"]),
    }


def _name_languages(values: Mapping[str, Any]) -> list[str]:
    """The languages a port form has a name input for: those offered, and any other a
    name was typed in (so that nothing typed is lost when the form comes back)."""
    offered = _offered(_first_of(values), values["languages"])
    typed_in = [code for code in LANGUAGES if values.get(f"name-{code}") and code not in offered]
    return offered + typed_in


def _zone_values(zone: ZoneAdmin) -> dict[str, Any]:
    return {"code": zone.code, "kind": zone.kind, **as_values("name", zone.names)}


def _posted_zone(form: FormData) -> dict[str, Any]:
    return {
        "code": text_of(form, "code", 32).lower(),
        "kind": text_of(form, "kind", 32),
        **as_values("name", typed(form, "name", NAME_LIMIT)),
    }


def _number_values(number: EmergencyNumberAdmin) -> dict[str, Any]:
    return {
        "number": number.number,
        **as_values("label", number.labels),
        **as_values("when", number.when),
    }


def _posted_number(form: FormData) -> dict[str, Any]:
    return {
        "number": text_of(form, "number", 32),
        **as_values("label", typed(form, "label", NAME_LIMIT)),
        **as_values("when", typed(form, "when", WHEN_LIMIT)),
    }


def _number_data(
    form: FormData, values: Mapping[str, Any], number: EmergencyNumberAdmin | None
) -> dict[str, Any]:
    return {
        "number": values["number"],
        "label": written(number.labels if number else {}, typed(form, "label", NAME_LIMIT)),
        "when": written(number.when if number else {}, typed(form, "when", WHEN_LIMIT)),
    }


def _problems(error: DomainError, port_languages: Sequence[str], *, new: bool = False) -> Problems:
    """Each problem at its input; ``new``: the form adds something, whose code may be taken."""
    return problems_of(
        error,
        per_language=PER_LANGUAGE,
        first_language=port_languages[0],
        missing=N_("Give the name in {language}, the port's first language."),
        conflict_at="code" if new else None,
    )


# Pages --------------------------------------------------------------------------------------


def _limited(session: Session, actor: Staff) -> bool:
    """An administrator of some ports only: they change those, and add none."""
    return staff_service.visible_ports(session=session, actor=actor) is not None


def _list_page(
    request: Request,
    session: Session,
    actor: Staff,
    *,
    values: Mapping[str, Any] = NEW_PORT,
    problems: Problems = NO_PROBLEMS,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "ports.html",
        {
            "ports": ports_config.port_views(session=session, actor=actor),
            "can_add": not _limited(session, actor),
            "languages": ALL_LANGUAGES,
            "by_code": BY_CODE,
            "form": "new-port" if problems else "",
            "values": values,
            "problems": problems,
        },
        staff=actor,
        status_code=status_code,
    )


def _port_page(
    request: Request,
    session: Session,
    actor: Staff,
    port: PortAdmin,
    *,
    form: str = "",
    posted: Mapping[str, Any] | None = None,
    problems: Problems = NO_PROBLEMS,
    notice: str | None = None,
    status_code: int = 200,
) -> Response:
    values: dict[str, Mapping[str, Any]] = {
        "port": _port_values(port),
        "deadlines": {
            "acknowledge_days": str(port.acknowledge_days),
            "feedback_days": str(port.feedback_days),
        },
        "retention": {"retention_days": str(port.retention_days)},
        "new-zone": {"code": "", "kind": ""},
        "new-number": {"number": ""},
    }
    if form and posted is not None:
        values[form] = posted
    return render(
        request,
        "port.html",
        {
            "port": port,
            "form": form,
            "values": values,
            "problems": problems,
            "notice": notice,
            "languages": ALL_LANGUAGES,
            "port_languages": languages_of(port.languages),
            "name_languages": languages_of(_name_languages(values["port"])),
            "zone_kinds": ZONE_KIND_NAMES,
            "maximum_acknowledge": ports_service.MAX_ACKNOWLEDGE_DAYS,
            "maximum_feedback": ports_service.MAX_FEEDBACK_DAYS,
            "minimum_retention": retention_policy.MIN_RETENTION_DAYS,
            "maximum_retention": retention_policy.MAX_RETENTION_DAYS,
        },
        staff=actor,
        status_code=status_code,
    )


def _port_url(code: str, done: str = "", anchor: str = "") -> str:
    return (
        f"{PORTS_URL}/{code}" + (f"?done={done}" if done else "") + (f"#{anchor}" if anchor else "")
    )


def _shown_name(request: Request, names: Mapping[str, str], fallbacks: Sequence[str]) -> str:
    """A name in the staff's language (else in the port's), for a page's title."""
    return in_language(names, console_language(request), *fallbacks)


def _confirm_page(
    request: Request, actor: Staff, what: str, *, name: str, action: str, back: str
) -> Response:
    title, explanation, button = RETIRING[what]
    return render(
        request,
        "retire_confirm.html",
        {
            "title": title,
            "name": name,
            "explanation": explanation,
            "button": button,
            "action": action,
            "back": back,
        },
        staff=actor,
    )


# The list and a new port --------------------------------------------------------------------


@router.get(PORTS_URL)
def ports_page(request: Request, session: SessionDep, actor: Administrator) -> Response:
    return _list_page(request, session, actor)


@router.post(PORTS_URL)
def add_port(
    request: Request,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
    actor: Administrator,
    form: Posted,
) -> Response:
    values = _posted_port(form)
    try:
        port_in = _valid(PortIn, {"code": values["code"], **_port_data(form, values, {})})
        ports_config.create_port(
            session=session, keyring=keyring, actor=actor, port_in=port_in, now=now
        )
    except DomainError as error:
        session.rollback()
        problems = _problems(error, [_first_of(values)], new=True)
        return _list_page(
            request, session, actor, values=values, problems=problems, status_code=error.status
        )
    return redirect(_port_url(values["code"], "created"))


# A port -------------------------------------------------------------------------------------


@router.get(PORTS_URL + "/{code}")
def port_page(
    request: Request, code: PortCode, session: SessionDep, actor: Administrator, done: str = ""
) -> Response:
    port = ports_config.port_view(session=session, actor=actor, code=code)
    return _port_page(request, session, actor, port, notice=NOTICES.get(done))


@router.post(PORTS_URL + "/{code}")
def save_port(
    request: Request,
    code: PortCode,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
    actor: Administrator,
    form: Posted,
) -> Response:
    port = ports_config.port_view(session=session, actor=actor, code=code)
    values = _posted_port(form)

    def change() -> None:
        data = _port_data(form, values, port.names)
        ports_config.change_port(
            session=session,
            keyring=keyring,
            actor=actor,
            code=code,
            change=_valid(PortChange, data),
            now=now,
        )

    def refused(error: DomainError) -> Response:
        problems = _problems(error, [_first_of(values)])
        return _port_page(
            request,
            session,
            actor,
            port,
            form="port",
            posted=values,
            problems=problems,
            status_code=error.status,
        )

    return attempt(session, change, done_url=_port_url(code, "saved"), refused=refused)


@router.post(PORTS_URL + "/{code}/deadlines")
def save_deadlines(
    request: Request,
    code: PortCode,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
    actor: Administrator,
    acknowledge_days: FormText = "",
    feedback_days: FormText = "",
) -> Response:
    port = ports_config.port_view(session=session, actor=actor, code=code)
    values = {"acknowledge_days": acknowledge_days[:4], "feedback_days": feedback_days[:4]}

    def change() -> None:
        deadlines = _valid(DeadlinesIn, values)
        ports_service.set_deadlines(
            session=session,
            keyring=keyring,
            actor=actor,
            code=code,
            acknowledge_days=deadlines.acknowledge_days,
            feedback_days=deadlines.feedback_days,
            now=now,
        )

    def refused(error: DomainError) -> Response:
        return _port_page(
            request,
            session,
            actor,
            port,
            form="deadlines",
            posted=values,
            problems=Problems.of(error),
            status_code=error.status,
        )

    return attempt(session, change, done_url=_port_url(code, "deadlines"), refused=refused)


@router.post(PORTS_URL + "/{code}/retention")
def save_retention(
    request: Request,
    code: PortCode,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
    actor: Administrator,
    retention_days: FormText = "",
) -> Response:
    port = ports_config.port_view(session=session, actor=actor, code=code)
    values = {"retention_days": retention_days[:5]}

    def change() -> None:
        retention = _valid(RetentionIn, values)
        retention_policy.set_retention(
            session=session,
            keyring=keyring,
            actor=actor,
            code=code,
            days=retention.retention_days,
            now=now,
        )

    def refused(error: DomainError) -> Response:
        return _port_page(
            request,
            session,
            actor,
            port,
            form="retention",
            posted=values,
            problems=Problems.of(error),
            status_code=error.status,
        )

    return attempt(session, change, done_url=_port_url(code, "retention"), refused=refused)


@router.get(PORTS_URL + "/{code}/retire")
def confirm_retire_port(
    request: Request, code: PortCode, session: SessionDep, actor: Administrator
) -> Response:
    port = ports_config.port_view(session=session, actor=actor, code=code)
    return _confirm_page(
        request,
        actor,
        "port",
        name=_shown_name(request, port.names, port.languages),
        action=f"{PORTS_URL}/{port.code}/retire",
        back=_port_url(port.code),
    )


def _set_port_active(
    session: Session, keyring: KeyRing, now: datetime, actor: Staff, code: str, active: bool
) -> Response:
    ports_config.change_port(
        session=session,
        keyring=keyring,
        actor=actor,
        code=code,
        change=PortChange(active=active),
        now=now,
    )
    return redirect(_port_url(code, "restored" if active else "retired"))


@router.post(PORTS_URL + "/{code}/retire")
def retire_port(
    code: PortCode, session: SessionDep, keyring: KeyRingDep, now: Now, actor: Administrator
) -> Response:
    return _set_port_active(session, keyring, now, actor, code, False)


@router.post(PORTS_URL + "/{code}/restore")
def restore_port(
    code: PortCode, session: SessionDep, keyring: KeyRingDep, now: Now, actor: Administrator
) -> Response:
    return _set_port_active(session, keyring, now, actor, code, True)


# Zones --------------------------------------------------------------------------------------


def _zone_of(port: PortAdmin, zone_code: str) -> ZoneAdmin:
    zone = next((zone for zone in port.zones if zone.code == zone_code), None)
    if zone is None:
        raise NotFound(N_("This port has no such zone."))
    return zone


def _zone_page(
    request: Request,
    actor: Staff,
    port: PortAdmin,
    zone: ZoneAdmin,
    *,
    values: Mapping[str, Any] | None = None,
    problems: Problems = NO_PROBLEMS,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "port_zone.html",
        {
            "port": port,
            "zone": zone,
            "form": "zone",
            "values": values or _zone_values(zone),
            "problems": problems,
            "port_languages": languages_of(port.languages),
            "zone_kinds": ZONE_KIND_NAMES,
        },
        staff=actor,
        status_code=status_code,
    )


@router.post(PORTS_URL + "/{code}/zones")
def add_zone(
    request: Request,
    code: PortCode,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
    actor: Administrator,
    form: Posted,
) -> Response:
    port = ports_config.port_view(session=session, actor=actor, code=code)
    values = _posted_zone(form)

    def change() -> None:
        data = {
            "code": values["code"],
            "kind": values["kind"],
            "name": written({}, typed(form, "name", NAME_LIMIT)),
        }
        ports_config.add_zone(
            session=session,
            keyring=keyring,
            actor=actor,
            code=code,
            zone_in=_valid(ZoneIn, data),
            now=now,
        )

    def refused(error: DomainError) -> Response:
        return _port_page(
            request,
            session,
            actor,
            port,
            form="new-zone",
            posted=values,
            problems=_problems(error, port.languages, new=True),
            status_code=error.status,
        )

    done = _port_url(code, "zone_added", f"zone-{values['code']}")
    return attempt(session, change, done_url=done, refused=refused)


@router.get(PORTS_URL + "/{code}/zones/{zone}")
def zone_page(
    request: Request, code: PortCode, zone: ZoneCode, session: SessionDep, actor: Administrator
) -> Response:
    port = ports_config.port_view(session=session, actor=actor, code=code)
    return _zone_page(request, actor, port, _zone_of(port, zone))


@router.post(PORTS_URL + "/{code}/zones/{zone}")
def save_zone(
    request: Request,
    code: PortCode,
    zone: ZoneCode,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
    actor: Administrator,
    form: Posted,
) -> Response:
    port = ports_config.port_view(session=session, actor=actor, code=code)
    before = _zone_of(port, zone)
    values = {**_posted_zone(form), "code": before.code}

    def change() -> None:
        data = {
            "kind": values["kind"],
            "name": written(before.names, typed(form, "name", NAME_LIMIT)),
        }
        ports_config.change_zone(
            session=session,
            keyring=keyring,
            actor=actor,
            code=code,
            zone_code=zone,
            change=_valid(ZoneChange, data),
            now=now,
        )

    def refused(error: DomainError) -> Response:
        problems = _problems(error, port.languages)
        return _zone_page(
            request,
            actor,
            port,
            before,
            values=values,
            problems=problems,
            status_code=error.status,
        )

    done = _port_url(code, "zone_saved", f"zone-{zone}")
    return attempt(session, change, done_url=done, refused=refused)


@router.post(PORTS_URL + "/{code}/zones/{zone}/move")
def move_zone(
    code: PortCode,
    zone: ZoneCode,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
    actor: Administrator,
    direction: Annotated[Direction, Form()],
) -> Response:
    ports_config.move_zone(
        session=session,
        keyring=keyring,
        actor=actor,
        code=code,
        zone_code=zone,
        up=direction == Direction.up,
        now=now,
    )
    return redirect(_port_url(code, "moved", f"zone-{zone}"))


@router.get(PORTS_URL + "/{code}/zones/{zone}/retire")
def confirm_retire_zone(
    request: Request, code: PortCode, zone: ZoneCode, session: SessionDep, actor: Administrator
) -> Response:
    port = ports_config.port_view(session=session, actor=actor, code=code)
    found = _zone_of(port, zone)
    return _confirm_page(
        request,
        actor,
        "zone",
        name=_shown_name(request, found.names, port.languages),
        action=f"{PORTS_URL}/{port.code}/zones/{found.code}/retire",
        back=_port_url(port.code, anchor=f"zone-{found.code}"),
    )


def _set_zone_active(
    session: Session,
    keyring: KeyRing,
    now: datetime,
    actor: Staff,
    code: str,
    zone: str,
    active: bool,
) -> Response:
    ports_config.change_zone(
        session=session,
        keyring=keyring,
        actor=actor,
        code=code,
        zone_code=zone,
        change=ZoneChange(active=active),
        now=now,
    )
    done = "zone_restored" if active else "zone_retired"
    return redirect(_port_url(code, done, f"zone-{zone}"))


@router.post(PORTS_URL + "/{code}/zones/{zone}/retire")
def retire_zone(
    code: PortCode,
    zone: ZoneCode,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
    actor: Administrator,
) -> Response:
    return _set_zone_active(session, keyring, now, actor, code, zone, False)


@router.post(PORTS_URL + "/{code}/zones/{zone}/restore")
def restore_zone(
    code: PortCode,
    zone: ZoneCode,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
    actor: Administrator,
) -> Response:
    return _set_zone_active(session, keyring, now, actor, code, zone, True)


# Emergency numbers --------------------------------------------------------------------------


def _number_of(port: PortAdmin, number_id: int) -> EmergencyNumberAdmin:
    number = next((each for each in port.emergency_numbers if each.id == number_id), None)
    if number is None:
        raise NotFound(N_("This port has no such emergency number."))
    return number


def _number_page(
    request: Request,
    actor: Staff,
    port: PortAdmin,
    number: EmergencyNumberAdmin,
    *,
    values: Mapping[str, Any] | None = None,
    problems: Problems = NO_PROBLEMS,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "port_number.html",
        {
            "port": port,
            "number": number,
            "form": "number",
            "values": values or _number_values(number),
            "problems": problems,
            "port_languages": languages_of(port.languages),
        },
        staff=actor,
        status_code=status_code,
    )


@router.post(PORTS_URL + "/{code}/numbers")
def add_number(
    request: Request,
    code: PortCode,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
    actor: Administrator,
    form: Posted,
) -> Response:
    port = ports_config.port_view(session=session, actor=actor, code=code)
    values = _posted_number(form)

    def change() -> None:
        ports_config.add_number(
            session=session,
            keyring=keyring,
            actor=actor,
            code=code,
            number_in=_valid(EmergencyNumberIn, _number_data(form, values, None)),
            now=now,
        )

    def refused(error: DomainError) -> Response:
        return _port_page(
            request,
            session,
            actor,
            port,
            form="new-number",
            posted=values,
            problems=_problems(error, port.languages),
            status_code=error.status,
        )

    return attempt(
        session, change, done_url=_port_url(code, "number_added", "numbers"), refused=refused
    )


@router.get(PORTS_URL + "/{code}/numbers/{number_id}")
def number_page(
    request: Request, code: PortCode, number_id: Id, session: SessionDep, actor: Administrator
) -> Response:
    port = ports_config.port_view(session=session, actor=actor, code=code)
    return _number_page(request, actor, port, _number_of(port, number_id))


@router.post(PORTS_URL + "/{code}/numbers/{number_id}")
def save_number(
    request: Request,
    code: PortCode,
    number_id: Id,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
    actor: Administrator,
    form: Posted,
) -> Response:
    port = ports_config.port_view(session=session, actor=actor, code=code)
    before = _number_of(port, number_id)
    values = _posted_number(form)

    def change() -> None:
        ports_config.change_number(
            session=session,
            keyring=keyring,
            actor=actor,
            code=code,
            number_id=number_id,
            change=_valid(EmergencyNumberChange, _number_data(form, values, before)),
            now=now,
        )

    def refused(error: DomainError) -> Response:
        problems = _problems(error, port.languages)
        return _number_page(
            request, actor, port, before, values=values, problems=problems, status_code=error.status
        )

    done = _port_url(code, "number_saved", f"number-{number_id}")
    return attempt(session, change, done_url=done, refused=refused)


@router.post(PORTS_URL + "/{code}/numbers/{number_id}/move")
def move_number(
    code: PortCode,
    number_id: Id,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
    actor: Administrator,
    direction: Annotated[Direction, Form()],
) -> Response:
    ports_config.move_number(
        session=session,
        keyring=keyring,
        actor=actor,
        code=code,
        number_id=number_id,
        up=direction == Direction.up,
        now=now,
    )
    return redirect(_port_url(code, "moved", f"number-{number_id}"))


@router.get(PORTS_URL + "/{code}/numbers/{number_id}/retire")
def confirm_retire_number(
    request: Request, code: PortCode, number_id: Id, session: SessionDep, actor: Administrator
) -> Response:
    port = ports_config.port_view(session=session, actor=actor, code=code)
    number = _number_of(port, number_id)
    return _confirm_page(
        request,
        actor,
        "number",
        name=number.number,
        action=f"{PORTS_URL}/{port.code}/numbers/{number.id}/retire",
        back=_port_url(port.code, anchor=f"number-{number.id}"),
    )


def _set_number_active(
    session: Session,
    keyring: KeyRing,
    now: datetime,
    actor: Staff,
    code: str,
    number_id: int,
    active: bool,
) -> Response:
    ports_config.change_number(
        session=session,
        keyring=keyring,
        actor=actor,
        code=code,
        number_id=number_id,
        change=EmergencyNumberChange(active=active),
        now=now,
    )
    done = "number_restored" if active else "number_retired"
    return redirect(_port_url(code, done, f"number-{number_id}"))


@router.post(PORTS_URL + "/{code}/numbers/{number_id}/retire")
def retire_number(
    code: PortCode,
    number_id: Id,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
    actor: Administrator,
) -> Response:
    return _set_number_active(session, keyring, now, actor, code, number_id, False)


@router.post(PORTS_URL + "/{code}/numbers/{number_id}/restore")
def restore_number(
    code: PortCode,
    number_id: Id,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
    actor: Administrator,
) -> Response:
    return _set_number_active(session, keyring, now, actor, code, number_id, True)
