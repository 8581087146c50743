"""Receiving bodies, as administrators configure them: kind, where each may act, how it is
notified, its webhook secret; deactivating one asks first.

A generated webhook secret is shown once, on the page that answers the change, and never
again: the page is not cached, and the address it is shown at does not show it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError
from sqlmodel import Session

from admin.shell import NO_PROBLEMS, PREFIX, Administrator, ConsoleRoute, Problems, redirect, render
from api.agencies import service as agencies_service
from api.agencies.models import BODY_KINDS
from api.agencies.schemas import BodyAdmin, BodyCreate, BodySaved, BodyUpdate
from api.deps import KeyRingDep, Now, SessionDep
from api.errors import DomainError, FieldProblem, validation_error
from api.i18n import N_
from api.ports import service as ports_service
from api.staff import service as staff_service
from api.staff.models import Staff

BODIES_URL = f"{PREFIX}/bodies"

router = APIRouter(route_class=ConsoleRoute)

FormText = Annotated[str, Form()]
FormChoices = Annotated[list[str] | None, Form()]
BodyCode = Annotated[str, Path(max_length=48)]
Schema = TypeVar("Schema", bound=BaseModel)


class StateChange(StrEnum):
    activate = "activate"
    deactivate = "deactivate"


NOTICES = {
    "created": N_("The receiving body is added."),
    "saved": N_("The changes are saved."),
    "deactivated": N_("The body is inactive: no rule recommends it any more."),
    "activated": N_("The body is active again."),
}

# What the confirmation page says for each change of state: title, what happens, the button.
CONFIRMATIONS: dict[bool, tuple[str, str, str]] = {
    False: (
        N_("Deactivate {name}?"),
        N_(
            "Routing rules stop recommending it and reporters no longer see it among the "
            "bodies they may exclude. Referrals it already has are not changed. You can "
            "activate it again at any time."
        ),
        N_("Deactivate the body"),
    ),
    True: (
        N_("Activate {name} again?"),
        N_("Routing rules that name it recommend it again."),
        N_("Activate the body"),
    ),
}

# What the form does to the webhook secret: the values of its radio buttons.
KEY_ACTIONS = ("keep", "generate", "set", "remove")


# The form ------------------------------------------------------------------------------------


def _reach_value(port: str, zone: str | None) -> str:
    """A checkbox value: "NHV" for a whole port, "NHV/ct-north" for one of its zones."""
    return f"{port}/{zone}" if zone else port


def _ports_and_zones(session: Session, actor: Staff) -> list[dict[str, Any]]:
    zones = ports_service.zones_by_port(session=session)
    return [
        {"port": port, "zones": zones.get(port.id or 0, [])}
        for port in ports_service.ports_for(session=session, actor=actor)
    ]


def _values_of(body: BodyAdmin) -> dict[str, Any]:
    return {
        "code": body.code,
        "name": body.name,
        "kind": body.kind,
        "notification_email": body.notification_email,
        "webhook_url": body.webhook_url,
        "key_action": "keep",
        "reporter_may_exclude": body.reporter_may_exclude,
        "named_to_reporter": body.named_to_reporter,
        "reach": {_reach_value(entry.port, entry.zone) for entry in body.jurisdiction},
    }


EMPTY_VALUES: dict[str, Any] = {
    "code": "",
    "name": "",
    "kind": "",
    "notification_email": "",
    "webhook_url": "",
    "key_action": "keep",
    "reporter_may_exclude": True,
    "named_to_reporter": False,
    "reach": set(),
}


def _form_page(
    request: Request,
    session: Session,
    actor: Staff,
    *,
    body: BodyAdmin | None,
    values: Mapping[str, Any],
    problems: Problems = NO_PROBLEMS,
    notice: str | None = None,
    generated_secret: str | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "bodies_form.html",
        {
            "body": body,
            "values": values,
            "problems": problems,
            "notice": notice,
            "generated_secret": generated_secret,
            "kinds": BODY_KINDS,
            "ports": _ports_and_zones(session, actor),
            # One limited to some ports sets up bodies that act in those ports only.
            "limited": staff_service.visible_ports(session=session, actor=actor) is not None,
        },
        staff=actor,
        status_code=status_code,
    )


def _posted(
    *,
    code: str,
    name: str,
    kind: str,
    jurisdiction: Sequence[str],
    notification_email: str,
    webhook_url: str,
    key_action: str,
    webhook_secret: str,
    reporter_may_exclude: str,
    named_to_reporter: str,
) -> dict[str, Any]:
    """What the form sent, as the page shows it again when there is a problem."""
    return {
        "code": code[:48],
        "name": name[:160],
        "kind": kind[:32],
        "notification_email": notification_email[:254],
        "webhook_url": webhook_url[:500],
        "key_action": key_action if key_action in KEY_ACTIONS else "keep",
        # Never put back into the page: a secret typed in does not travel twice.
        "typed_secret": webhook_secret,
        "reporter_may_exclude": bool(reporter_may_exclude),
        "named_to_reporter": bool(named_to_reporter),
        "reach": {value[:50] for value in jurisdiction[:200]},
    }


def _request_data(values: Mapping[str, Any]) -> dict[str, Any]:
    """The API's request body for what the form sent."""
    data: dict[str, Any] = {
        "name": values["name"],
        "kind": values["kind"],
        "jurisdiction": [
            {"port": port, "zone": zone or None}
            for port, _, zone in (value.partition("/") for value in sorted(values["reach"]))
        ],
        "notification_email": values["notification_email"],
        "webhook_url": values["webhook_url"],
        "reporter_may_exclude": values["reporter_may_exclude"],
        "named_to_reporter": values["named_to_reporter"],
    }
    if values["key_action"] == "generate":
        data["generate_webhook_secret"] = True
    elif values["key_action"] == "set":
        data["webhook_secret"] = values["typed_secret"]
    elif values["key_action"] == "remove":
        data["webhook_secret"] = ""
    return data


def _problems(error: DomainError) -> Problems:
    """The form has one control per field; a problem with one place of the jurisdiction
    (only a tampered form can have one) is said next to the whole list."""
    if not error.fields:
        return Problems.of(error)
    fields: dict[str, FieldProblem] = {}
    for problem in error.fields:
        name = "jurisdiction" if problem.field.startswith("jurisdiction") else problem.field
        fields.setdefault(name, FieldProblem(name, problem.message, problem.params))
    return Problems(fields)


def _valid(schema: type[Schema], data: Mapping[str, Any]) -> Schema:
    """A form checked by the API's own schema, so both say the same about bad input."""
    try:
        return schema.model_validate(dict(data))
    except ValidationError as error:
        raise validation_error(list(error.errors())) from None


# Pages ---------------------------------------------------------------------------------------


@router.get(BODIES_URL)
def bodies_list(
    request: Request, session: SessionDep, actor: Administrator, done: str = ""
) -> Response:
    return render(
        request,
        "bodies.html",
        {
            "bodies": agencies_service.list_bodies(session=session, actor=actor),
            "changeable": agencies_service.changeable_codes(session=session, actor=actor),
            "kinds": BODY_KINDS,
            "notice": NOTICES.get(done),
        },
        staff=actor,
    )


@router.get(BODIES_URL + "/new")
def new_body(request: Request, session: SessionDep, actor: Administrator) -> Response:
    return _form_page(request, session, actor, body=None, values=EMPTY_VALUES)


def _after_save(
    request: Request,
    session: Session,
    actor: Staff,
    saved: BodySaved,
    done: str,
) -> Response:
    if saved.generated_webhook_secret is None:
        return redirect(f"{BODIES_URL}?done={done}")
    # Shown on this answer only: reloading the body's page later never shows it.
    return _form_page(
        request,
        session,
        actor,
        body=saved,
        values=_values_of(saved),
        notice=NOTICES[done],
        generated_secret=saved.generated_webhook_secret,
    )


@router.post(BODIES_URL)
def create_body(
    request: Request,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
    actor: Administrator,
    code: FormText = "",
    name: FormText = "",
    kind: FormText = "",
    jurisdiction: FormChoices = None,
    notification_email: FormText = "",
    webhook_url: FormText = "",
    key_action: FormText = "keep",
    webhook_secret: FormText = "",
    reporter_may_exclude: FormText = "",
    named_to_reporter: FormText = "",
) -> Response:
    values = _posted(
        code=code,
        name=name,
        kind=kind,
        jurisdiction=jurisdiction or [],
        notification_email=notification_email,
        webhook_url=webhook_url,
        key_action=key_action,
        webhook_secret=webhook_secret,
        reporter_may_exclude=reporter_may_exclude,
        named_to_reporter=named_to_reporter,
    )
    try:
        body_in = _valid(BodyCreate, {"code": values["code"], **_request_data(values)})
        saved = agencies_service.create_body(
            session=session, keyring=keyring, actor=actor, body_in=body_in, now=now
        )
    except DomainError as error:
        session.rollback()
        return _form_page(
            request,
            session,
            actor,
            body=None,
            values=values,
            problems=_problems(error),
            status_code=error.status,
        )
    return _after_save(request, session, actor, saved, "created")


@router.get(BODIES_URL + "/{code}/edit")
def edit_body(
    request: Request, code: BodyCode, session: SessionDep, actor: Administrator
) -> Response:
    body = agencies_service.body_view(session=session, actor=actor, code=code, to_change=True)
    return _form_page(request, session, actor, body=body, values=_values_of(body))


@router.post(BODIES_URL + "/{code}/edit")
def update_body(
    request: Request,
    code: BodyCode,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
    actor: Administrator,
    name: FormText = "",
    kind: FormText = "",
    jurisdiction: FormChoices = None,
    notification_email: FormText = "",
    webhook_url: FormText = "",
    key_action: FormText = "keep",
    webhook_secret: FormText = "",
    reporter_may_exclude: FormText = "",
    named_to_reporter: FormText = "",
) -> Response:
    body = agencies_service.body_view(session=session, actor=actor, code=code, to_change=True)
    values = _posted(
        code=body.code,
        name=name,
        kind=kind,
        jurisdiction=jurisdiction or [],
        notification_email=notification_email,
        webhook_url=webhook_url,
        key_action=key_action,
        webhook_secret=webhook_secret,
        reporter_may_exclude=reporter_may_exclude,
        named_to_reporter=named_to_reporter,
    )
    try:
        body_in = _valid(BodyUpdate, _request_data(values))
        saved = agencies_service.update_body(
            session=session, keyring=keyring, actor=actor, code=code, body_in=body_in, now=now
        )
    except DomainError as error:
        session.rollback()
        return _form_page(
            request,
            session,
            actor,
            body=body,
            values=values,
            problems=_problems(error),
            status_code=error.status,
        )
    return _after_save(request, session, actor, saved, "saved")


@router.get(BODIES_URL + "/{code}/{action}")
def confirm_state(
    request: Request,
    code: BodyCode,
    action: StateChange,
    session: SessionDep,
    actor: Administrator,
) -> Response:
    active = action == StateChange.activate
    body = agencies_service.body_view(session=session, actor=actor, code=code, to_change=True)
    title, explanation, button = CONFIRMATIONS[active]
    return render(
        request,
        "bodies_confirm.html",
        {
            "body": body,
            "action": action.value,
            "active": active,
            "title": title,
            "explanation": explanation,
            "button": button,
        },
        staff=actor,
    )


@router.post(BODIES_URL + "/{code}/{action}")
def change_state(
    code: BodyCode,
    action: StateChange,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
    actor: Administrator,
) -> Response:
    active = action == StateChange.activate
    agencies_service.update_body(
        session=session,
        keyring=keyring,
        actor=actor,
        code=code,
        body_in=BodyUpdate(active=active),
        now=now,
    )
    return redirect(f"{BODIES_URL}?done={'activated' if active else 'deactivated'}")
