"""Each port's legal deadlines, for administrators: days to acknowledge a report and to
give the reporter feedback (EU Directive 2019/1937), never longer than the Directive's."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlmodel import Session

from admin.case import FormText, _valid
from admin.shell import (
    NO_PROBLEMS,
    PREFIX,
    Administrator,
    ConsoleRoute,
    Problems,
    redirect,
    render,
)
from api.deps import KeyRingDep, Now, SessionDep
from api.errors import DomainError
from api.i18n import N_
from api.ports import service as ports_service
from api.ports.schemas import DeadlinesIn
from api.staff.models import Staff

PORTS_URL = f"{PREFIX}/ports"

router = APIRouter(route_class=ConsoleRoute)


def _page(
    request: Request,
    session: Session,
    actor: Staff,
    *,
    notice: str | None = None,
    editing: str = "",
    values: dict[str, str] | None = None,
    problems: Problems = NO_PROBLEMS,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "ports.html",
        {
            "ports": ports_service.all_ports(session=session, actor=actor),
            "maximum_acknowledge": ports_service.MAX_ACKNOWLEDGE_DAYS,
            "maximum_feedback": ports_service.MAX_FEEDBACK_DAYS,
            "notice": notice,
            "editing": editing,
            "values": values or {},
            "problems": problems,
        },
        staff=actor,
        status_code=status_code,
    )


@router.get(PORTS_URL)
def ports_page(
    request: Request, session: SessionDep, actor: Administrator, done: str = ""
) -> Response:
    notice = N_("The deadlines are saved. Cases opened from now on follow them.")
    return _page(request, session, actor, notice=notice if done == "saved" else None)


@router.post(PORTS_URL + "/{code}")
def save_deadlines(
    request: Request,
    code: str,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
    actor: Administrator,
    acknowledge_days: FormText = "",
    feedback_days: FormText = "",
) -> Response:
    values = {"acknowledge_days": acknowledge_days[:4], "feedback_days": feedback_days[:4]}
    try:
        deadlines = _valid(DeadlinesIn, values)
        ports_service.set_deadlines(
            session=session,
            keyring=keyring,
            actor=actor,
            code=code[:16],
            acknowledge_days=deadlines.acknowledge_days,
            feedback_days=deadlines.feedback_days,
            now=now,
        )
    except DomainError as error:
        session.rollback()
        return _page(
            request,
            session,
            actor,
            editing=code[:16],
            values=values,
            problems=Problems.of(error),
            status_code=error.status,
        )
    return redirect(f"{PORTS_URL}?done=saved")
