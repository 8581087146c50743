"""Routing rules: administrators write, order and delete them (deleting asks first);
triagers read them, to know why a case page recommends what it does."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlmodel import Session

from admin.queue import KIND_NAMES
from admin.shell import NO_PROBLEMS, PREFIX, Administrator, ConsoleRoute, Problems, redirect, render
from api.agencies import service as agencies_service
from api.agencies.models import BODY_KINDS
from api.deps import KeyRingDep, Now, SessionDep, require
from api.errors import DomainError, invalid_field, validation_error
from api.i18n import N_
from api.ids import Id
from api.moves import Direction
from api.policy import Permission, allows
from api.ports import service as ports_service
from api.routing import service as routing_service
from api.routing.schemas import RuleIn, RulePublic
from api.staff import service as staff_service
from api.staff.models import Staff
from api.taxonomy import service as taxonomy_service
from api.triage.schemas import SEVERITY_NAMES

RULES_URL = f"{PREFIX}/rules"

router = APIRouter(route_class=ConsoleRoute)

Reader = Annotated[Staff, Depends(require(Permission.read_routing))]
FormText = Annotated[str, Form()]

NOTICES = {
    "created": N_("The rule is added at the end of the list."),
    "saved": N_("The rule is saved."),
    "moved": N_("The order is saved."),
    "deleted": N_("The rule is deleted."),
}


@dataclass(frozen=True)
class Option:
    value: str
    label: str  # a catalog message, or a name an administrator typed (which falls back)


@dataclass(frozen=True)
class Group:
    label: str  # empty for options that are not grouped
    options: tuple[Option, ...]


def _choices(session: Session, actor: Staff) -> dict[str, list[Group]]:
    """The options of each select of the form, by the field's name."""
    bodies = agencies_service.list_bodies(session=session, actor=actor)
    categories: dict[str, list[Option]] = {}
    for category in taxonomy_service.active_categories(session=session):
        categories.setdefault(category.kind, []).append(Option(category.code, category.name))
    ports = ports_service.ports_for(session=session, actor=actor)
    zones = ports_service.zones_by_port(session=session)
    return {
        "body": [
            Group(
                label,
                tuple(Option(body.code, body.name) for body in bodies if body.active == active),
            )
            for active, label in ((True, ""), (False, N_("Inactive bodies")))
            if any(body.active == active for body in bodies)
        ],
        "kind": [Group("", tuple(Option(kind, label) for kind, label in KIND_NAMES.items()))],
        "category": [
            Group(KIND_NAMES.get(kind, kind), tuple(options))
            for kind, options in categories.items()
        ],
        "port": [Group("", tuple(Option(port.code, port.name) for port in ports))],
        # A zone code is unique only within its port: a zone's value is "PORT/zone".
        "zone": [
            Group(
                port.name,
                tuple(Option(f"{port.code}/{zone.code}", zone.name) for zone in zones[port.id]),
            )
            for port in ports
            if port.id in zones
        ],
        "min_severity": [
            Group(
                "",
                tuple(Option(str(level), label) for level, label in SEVERITY_NAMES.items()),
            )
        ],
    }


def _values_of(rule: RulePublic) -> dict[str, Any]:
    return {
        "name": rule.name,
        "body": rule.body,
        "kind": rule.kind.value if rule.kind else "",
        "category": rule.category or "",
        "port": rule.port or "",
        "zone": f"{rule.port}/{rule.zone}" if rule.zone else "",
        "min_severity": str(rule.min_severity or ""),
        "active": rule.active,
    }


EMPTY_VALUES: dict[str, Any] = {
    "name": "",
    "body": "",
    "kind": "",
    "category": "",
    "port": "",
    "zone": "",
    "min_severity": "",
    "active": True,
}


def _form_page(
    request: Request,
    session: Session,
    actor: Staff,
    *,
    rule: RulePublic | None,
    values: Mapping[str, Any],
    problems: Problems = NO_PROBLEMS,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "rules_form.html",
        {
            "rule": rule,
            "values": values,
            "choices": _choices(session, actor),
            "problems": problems,
            # One limited to some ports writes rules for one of those: no "Any port".
            "limited": staff_service.visible_ports(session=session, actor=actor) is not None,
        },
        staff=actor,
        status_code=status_code,
    )


def _rule_in(values: Mapping[str, Any]) -> RuleIn:
    """The API's rule for what the form sent: a zone names its port, so choosing a zone
    alone is enough, and a zone of another port than the one chosen is refused."""
    zone_port, _, zone = str(values["zone"]).partition("/")
    port = values["port"] or (zone_port if zone else "")
    if zone and values["port"] and zone_port != values["port"]:
        raise invalid_field("zone", N_("This zone is not in the port chosen."))
    data = {
        "name": values["name"],
        "body": values["body"],
        "kind": values["kind"] or None,
        "category": values["category"] or None,
        "port": port or None,
        "zone": zone or None,
        "min_severity": values["min_severity"] or None,
        "active": values["active"],
    }
    try:
        return RuleIn.model_validate(data)
    except ValidationError as error:
        raise validation_error(list(error.errors())) from None


def _posted(
    name: str,
    body: str,
    kind: str,
    category: str,
    port: str,
    zone: str,
    min_severity: str,
    active: str,
) -> dict[str, Any]:
    return {
        "name": name[:160],
        "body": body[:48],
        "kind": kind[:16],
        "category": category[:48],
        "port": port[:16],
        "zone": zone[:50],
        "min_severity": min_severity[:2],
        "active": bool(active),
    }


# Pages ---------------------------------------------------------------------------------------


@router.get(RULES_URL)
def rules_list(request: Request, session: SessionDep, actor: Reader, done: str = "") -> Response:
    return render(
        request,
        "rules.html",
        {
            "rules": routing_service.list_rules(session=session, actor=actor),
            "can_edit": allows(actor.role, Permission.manage_staff),
            "limited": staff_service.visible_ports(session=session, actor=actor) is not None,
            "kind_names": KIND_NAMES,
            "body_kinds": BODY_KINDS,
            "severity_names": SEVERITY_NAMES,
            "notice": NOTICES.get(done),
        },
        staff=actor,
    )


@router.get(RULES_URL + "/new")
def new_rule(request: Request, session: SessionDep, actor: Administrator) -> Response:
    return _form_page(request, session, actor, rule=None, values=EMPTY_VALUES)


@router.post(RULES_URL)
def create_rule(
    request: Request,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
    actor: Administrator,
    name: FormText = "",
    body: FormText = "",
    kind: FormText = "",
    category: FormText = "",
    port: FormText = "",
    zone: FormText = "",
    min_severity: FormText = "",
    active: FormText = "",
) -> Response:
    values = _posted(name, body, kind, category, port, zone, min_severity, active)
    try:
        created = routing_service.create_rule(
            session=session, keyring=keyring, actor=actor, rule_in=_rule_in(values), now=now
        )
    except DomainError as error:
        session.rollback()
        return _form_page(
            request,
            session,
            actor,
            rule=None,
            values=values,
            problems=Problems.of(error),
            status_code=error.status,
        )
    return redirect(f"{RULES_URL}?done=created#rule-{created.id}")


@router.get(RULES_URL + "/{rule_id}/edit")
def edit_rule(request: Request, rule_id: Id, session: SessionDep, actor: Administrator) -> Response:
    rule = routing_service.get_rule(session=session, actor=actor, rule_id=rule_id, to_change=True)
    return _form_page(request, session, actor, rule=rule, values=_values_of(rule))


@router.post(RULES_URL + "/{rule_id}/edit")
def update_rule(
    request: Request,
    rule_id: Id,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
    actor: Administrator,
    name: FormText = "",
    body: FormText = "",
    kind: FormText = "",
    category: FormText = "",
    port: FormText = "",
    zone: FormText = "",
    min_severity: FormText = "",
    active: FormText = "",
) -> Response:
    rule = routing_service.get_rule(session=session, actor=actor, rule_id=rule_id, to_change=True)
    values = _posted(name, body, kind, category, port, zone, min_severity, active)
    try:
        routing_service.update_rule(
            session=session,
            keyring=keyring,
            actor=actor,
            rule_id=rule_id,
            rule_in=_rule_in(values),
            now=now,
        )
    except DomainError as error:
        session.rollback()
        return _form_page(
            request,
            session,
            actor,
            rule=rule,
            values=values,
            problems=Problems.of(error),
            status_code=error.status,
        )
    return redirect(f"{RULES_URL}?done=saved#rule-{rule_id}")


@router.post(RULES_URL + "/{rule_id}/move")
def move_rule(
    rule_id: Id,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
    actor: Administrator,
    direction: Annotated[Direction, Form()],
) -> Response:
    routing_service.move_rule(
        session=session,
        keyring=keyring,
        actor=actor,
        rule_id=rule_id,
        direction=direction,
        now=now,
    )
    return redirect(f"{RULES_URL}?done=moved#rule-{rule_id}")


@router.get(RULES_URL + "/{rule_id}/delete")
def confirm_delete(
    request: Request, rule_id: Id, session: SessionDep, actor: Administrator
) -> Response:
    rule = routing_service.get_rule(session=session, actor=actor, rule_id=rule_id, to_change=True)
    return render(request, "rules_confirm.html", {"rule": rule}, staff=actor)


@router.post(RULES_URL + "/{rule_id}/delete")
def delete_rule(
    rule_id: Id, session: SessionDep, keyring: KeyRingDep, now: Now, actor: Administrator
) -> Response:
    routing_service.delete_rule(
        session=session, keyring=keyring, actor=actor, rule_id=rule_id, now=now
    )
    return redirect(f"{RULES_URL}?done=deleted")
