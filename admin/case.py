"""One case, as a triager works it: the reports as text, their photos, the thread with
each reporter, internal notes, classification, duplicates, closing and reopening.

Every view goes through ``api.triage.service.case_detail``, which writes it to the audit
log; every change is a POST with the session's CSRF token, then a redirect back here."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError
from sqlmodel import Session

from admin.queue import CARGO_DIRECTION_NAMES, DEADLINE_NAMES, KIND_NAMES, STATUS_NAMES
from admin.shell import (
    NO_PROBLEMS,
    PREFIX,
    ConsoleRoute,
    Problems,
    Triager,
    attempt,
    render,
)
from api.agencies import service as agencies_service
from api.cases import service as cases_service
from api.crypto import KeyRing
from api.deps import KeyRingDep, Now, SessionDep
from api.errors import validation_error
from api.i18n import N_
from api.ids import Id
from api.referrals import liaison as liaison_service
from api.referrals import service as referrals_service
from api.referrals.schemas import QuestionDecision
from api.reports import service as reports_service
from api.staff import service as staff_service
from api.staff.models import Staff
from api.taxonomy import service as taxonomy_service
from api.taxonomy.models import Category
from api.triage import service as triage_service
from api.triage.schemas import (
    RESOLUTIONS,
    SEVERITIES,
    SEVERITY_NAMES,
    TLP_LABELS,
    CaseClose,
    CaseDetail,
    CaseUpdate,
    LinkIn,
    NoteIn,
    ReplyIn,
)

CASES_URL = f"{PREFIX}/cases"

router = APIRouter(route_class=ConsoleRoute)

FormText = Annotated[str, Form()]
Schema = TypeVar("Schema", bound=BaseModel)

# TLP 2.0 (FIRST): who may be told what the case holds.
TLP_MEANINGS: dict[str, str] = {
    "RED": N_("For the named recipients only, in this conversation."),
    "AMBER+STRICT": N_("Within the recipient's own organisation only."),
    "AMBER": N_("Within the recipient's organisation and its clients, on a need-to-know basis."),
    "GREEN": N_("Within the recipient's community, not in public."),
    "CLEAR": N_("No limit on disclosure."),
}
RESOLUTION_NAMES: dict[str, str] = {
    "referred_and_handled": N_("Referred and handled by a competent body"),
    "substantiated": N_("Substantiated: action was taken"),
    "not_substantiated": N_("Looked into; not substantiated"),
    "not_enough_information": N_("Not enough information to act"),
    "duplicate": N_("Duplicate of another case"),
    "out_of_scope": N_("Outside what Portline handles"),
}
RELATED_REASONS: dict[str, str] = {
    "same_place_and_category": N_("same zone and category within 30 days"),
    "container": N_("the same container number"),
    "imo": N_("the same IMO ship number"),
    "plate": N_("the same vehicle plate"),
}
REFERRAL_STATUS_NAMES: dict[str, str] = {
    "sent": N_("Sent, not yet acknowledged"),
    "acknowledged": N_("Acknowledged by the body"),
    "accepted": N_("Accepted by the body"),
    "declined": N_("Declined by the body"),
    "closed": N_("Closed by the body"),
    "withdrawn": N_("Withdrawn"),
}
CHANNEL_NAMES: dict[str, str] = {"email": N_("E-mail notice"), "webhook": N_("Webhook")}
DELIVERY_STATUS_NAMES: dict[str, str] = {
    "pending": N_("waiting to be sent"),
    "delivered": N_("delivered"),
    "failed": N_("failed"),
    "cancelled": N_("cancelled"),
}
TIMELINE_KINDS: dict[str, str] = {
    "sent": N_("Referred"),
    "acknowledged": N_("Acknowledged"),
    "accepted": N_("Accepted"),
    "declined": N_("Declined"),
    "question": N_("Question for the reporter"),
    "question_edited": N_("Question as passed on"),
    "answer": N_("Reporter's answer"),
    "update": N_("Update"),
    "closed": N_("Closed with an outcome"),
}
TIMELINE_SIDES: dict[str, str] = {
    "body": N_("Receiving body"),
    "triage": N_("Triage"),
    "reporter": N_("Reporter"),
}
QUESTION_STATES: dict[str, str] = {
    "pending": N_("waiting for your approval"),
    "sent": N_("passed on to the reporter"),
    "answered": N_("answered"),
    "refused": N_("not passed on"),
}
BLOCKED_REASONS = {
    referrals_service.EXCLUDED_BY_REPORTER: N_(
        "A reporter excluded this body: it can never receive this case."
    ),
    referrals_service.IMPLICATED: N_("Implicated in the case: it can never receive it."),
    referrals_service.ALREADY_REFERRED: N_(
        "Already referred: this body holds a live referral of the case."
    ),
}
# Why a notice was cancelled rather than sent, as triage reads it on the case.
CANCEL_REASONS = {
    referrals_service.EXCLUDED_BY_REPORTER: N_(
        "Not sent: a reporter of this case excluded this body."
    ),
    referrals_service.IMPLICATED: N_("Not sent: this body is marked implicated in the case."),
    "withdrawn": N_("Not sent: the referral was withdrawn."),
    "declined": N_("Not sent: the body declined the referral."),
    "closed": N_("Not sent: the referral was closed."),
}
AUTHORS: dict[str, str] = {
    "reporter": N_("Reporter"),
    "team": N_("Triage team"),
    "authority": N_("The authority handling the report (passed on by triage)"),
}
LANGUAGE_NAMES: dict[str, str] = {
    "en": "English",
    "fr": "Français",
    "nl": "Nederlands",
    "de": "Deutsch",
    "es": "Español",
    "pt": "Português",
    "pl": "Polski",
    "ar": "العربية",
}
NOTICES: dict[str, str] = {
    "acknowledged": N_("The case is acknowledged; each reporter has a message saying so."),
    "sent": N_("Your message is in the reporter's thread."),
    "asked": N_("Your question is in the reporter's thread; the case waits for an answer."),
    "noted": N_("The note is saved. Only the team can read it."),
    "classified": N_("The classification is saved."),
    "linked": N_("The report is now part of this case."),
    "unlinked": N_("The report has a case of its own again."),
    "closed": N_("The case is closed; each reporter can read the outcome."),
    "reopened": N_("The case is open again."),
    "referred": N_("The case is referred; the body's notices are on their way."),
    "implicated": N_("The body is marked implicated: it can never receive this case."),
    "not_implicated": N_("The body is no longer marked implicated."),
    "retrying": N_("The notice will be sent again."),
    "question_passed": N_("The question is in each reporter's thread, from the authority."),
    "question_refused": N_("The question was not passed on."),
}


def case_url(case_id: int, done: str | None = None) -> str:
    return f"{CASES_URL}/{case_id}" + (f"?done={done}" if done else "")


def _valid(schema: type[Schema], data: Mapping[str, Any]) -> Schema:
    """A form checked by the API's own schema, so both say the same about bad input."""
    try:
        return schema.model_validate(dict(data))
    except ValidationError as error:
        raise validation_error(list(error.errors())) from None


def _related(session: Session, actor: Staff, case_id: int) -> list[dict[str, Any]]:
    found = cases_service.related_cases(session=session, actor=actor, case_id=case_id)
    return [
        {
            "id": related.case_id,
            "reference": related.reference,
            "reasons": related.reasons,
            "reports": [
                report.reference
                for report in reports_service.reports_of_case(
                    session=session, case_id=related.case_id
                )
            ],
        }
        for related in found
    ]


def _case_page(
    request: Request,
    session: Session,
    keyring: KeyRing,
    actor: Staff,
    case_id: Id,
    now: Any,
    *,
    notice: str | None = None,
    form: str = "",
    problems: Problems = NO_PROBLEMS,
    values: Mapping[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    detail: CaseDetail = triage_service.case_detail(
        session=session, keyring=keyring, actor=actor, case_id=case_id, now=now
    )
    categories: dict[str, list[Category]] = {}
    for category in taxonomy_service.active_categories(session=session):
        categories.setdefault(category.kind, []).append(category)
    everyone = staff_service.triagers(session=session, actor=actor)
    people = {account.id: account.shown_name for account in everyone}
    # A case is given only to one who sees its port (api.triage.service.update).
    seeing = {
        account.id
        for account in staff_service.triagers(
            session=session,
            actor=actor,
            port_id=cases_service.get_case(session=session, actor=actor, case_id=case_id).port_id,
        )
    }
    # Disabled accounts can still hold a case, but nothing new is given to them.
    triagers = [
        account
        for account in everyone
        if (account.active and account.id in seeing) or account.id == detail.assignee_id
    ]
    return render(
        request,
        "case.html",
        {
            "case": detail,
            "categories": categories,
            "triagers": triagers,
            "people": people,
            "related": _related(session, actor, case_id),
            "severities": SEVERITIES,
            "severity_names": SEVERITY_NAMES,
            "tlp_labels": TLP_LABELS,
            "tlp_meanings": TLP_MEANINGS,
            "resolutions": RESOLUTIONS,
            "resolution_names": RESOLUTION_NAMES,
            "related_reasons": RELATED_REASONS,
            "status_names": STATUS_NAMES,
            "kind_names": KIND_NAMES,
            "cargo_names": CARGO_DIRECTION_NAMES,
            "deadline_names": DEADLINE_NAMES,
            "authors": AUTHORS,
            "timeline_kinds": TIMELINE_KINDS,
            "timeline_sides": TIMELINE_SIDES,
            "question_states": QUESTION_STATES,
            "blocked_reasons": BLOCKED_REASONS,
            "referral_status_names": REFERRAL_STATUS_NAMES,
            "channel_names": CHANNEL_NAMES,
            "delivery_status_names": DELIVERY_STATUS_NAMES,
            "cancel_reasons": CANCEL_REASONS,
            "language_names": LANGUAGE_NAMES,
            **referral_context(session, keyring, actor, case_id, now),
            "notice": notice,
            "form": form,
            "problems": problems,
            "values": values or {},
        },
        staff=actor,
        status_code=status_code,
    )


@dataclass(frozen=True)
class CaseWork:
    """A triager's request on one case: what the page and each of its forms need."""

    request: Request
    session: Session
    keyring: KeyRing
    actor: Staff
    case_id: int
    now: datetime

    @property
    def scope(self) -> dict[str, Any]:
        """The keyword arguments every triage service takes for this case."""
        return {
            "session": self.session,
            "keyring": self.keyring,
            "actor": self.actor,
            "case_id": self.case_id,
            "now": self.now,
        }

    def page(self, **options: Any) -> Response:
        return _case_page(
            self.request, self.session, self.keyring, self.actor, self.case_id, self.now, **options
        )

    def act(
        self,
        change: Callable[[], object],
        done: str,
        form: str,
        values: Mapping[str, Any] | None = None,
    ) -> Response:
        """Make the change and go back to the case; a refusal shows the case again with
        the problem next to the form, what was typed kept, and nothing of it stored."""
        return attempt(
            self.session,
            change,
            done_url=case_url(self.case_id, done),
            refused=lambda error: self.page(
                form=form,
                problems=Problems.of(error),
                values=values,
                status_code=error.status,
            ),
        )


def _case_work(
    request: Request,
    case_id: Id,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
    actor: Triager,
) -> CaseWork:
    return CaseWork(request, session, keyring, actor, case_id, now)


Work = Annotated[CaseWork, Depends(_case_work)]


@router.get(CASES_URL + "/{case_id}")
def case_page(work: Work, done: str = "") -> Response:
    return work.page(notice=NOTICES.get(done))


@router.post(CASES_URL + "/{case_id}/acknowledge")
def acknowledge(work: Work) -> Response:
    return work.act(lambda: triage_service.acknowledge(**work.scope), "acknowledged", "acknowledge")


@router.post(CASES_URL + "/{case_id}/messages")
def write_to_reporter(
    work: Work, report: FormText = "", body: FormText = "", question: FormText = ""
) -> Response:
    asking = question == "1"

    def change() -> None:
        reply_in = _valid(ReplyIn, {"report": report[:16], "body": body, "question": asking})
        triage_service.reply(**work.scope, reply_in=reply_in)

    values = {"reply_report": report[:16], "reply_body": body[:10_000]}
    return work.act(change, "asked" if asking else "sent", f"reply-{report[:16]}", values)


@router.post(CASES_URL + "/{case_id}/notes")
def write_note(work: Work, body: FormText = "") -> Response:
    def change() -> None:
        triage_service.add_note(**work.scope, note_in=_valid(NoteIn, {"body": body}))

    return work.act(change, "noted", "note", {"note_body": body[:10_000]})


@router.post(CASES_URL + "/{case_id}/classify")
def classify(
    work: Work,
    title: FormText = "",
    category: FormText = "",
    severity: FormText = "",
    tlp: FormText = "",
    tags: FormText = "",
    assignee_id: FormText = "",
) -> Response:
    values = {
        "title": title[:200],
        "category": category[:48],
        "severity": severity[:2],
        "tlp": tlp[:16],
        "tags": tags[:1_000],
        "assignee_id": assignee_id[:12],
    }

    def change() -> None:
        chosen = taxonomy_service.find_category(session=work.session, code=category)
        data: dict[str, Any] = {
            "title": title.strip(),
            "tlp": tlp,
            "tags": [tag for tag in tags.split(",") if tag.strip()],
            "assignee_id": assignee_id or None,
            "category": category,
            "kind": chosen.kind if chosen else None,
        }
        if severity:
            data["severity"] = severity
        triage_service.update(**work.scope, changes=_valid(CaseUpdate, data))

    return work.act(change, "classified", "classify", values)


@router.post(CASES_URL + "/{case_id}/close")
def close(work: Work, resolution: FormText = "", outcome: FormText = "") -> Response:
    def change() -> None:
        closing = _valid(CaseClose, {"resolution": resolution[:32], "outcome": outcome.strip()})
        triage_service.close(**work.scope, closing=closing)

    values = {"resolution": resolution[:32], "outcome": outcome[:5_000]}
    return work.act(change, "closed", "close", values)


@router.post(CASES_URL + "/{case_id}/reopen")
def reopen(work: Work) -> Response:
    return work.act(lambda: triage_service.reopen(**work.scope), "reopened", "reopen")


@router.post(CASES_URL + "/{case_id}/link")
def link(work: Work, report: FormText = "") -> Response:
    def change() -> None:
        link_in = _valid(LinkIn, {"report": report.strip().upper()})
        triage_service.link(**work.scope, report_reference=link_in.report)

    return work.act(change, "linked", "link", {"link_report": report[:16]})


@router.post(CASES_URL + "/{case_id}/unlink")
def unlink(work: Work, report: FormText = "") -> Response:
    return work.act(
        lambda: triage_service.unlink(**work.scope, report_reference=report[:16]),
        "unlinked",
        "unlink",
    )


@router.post(CASES_URL + "/{case_id}/referrals/{reference}/questions/{seq}")
def decide_question(
    work: Work,
    reference: Annotated[str, Path(max_length=16)],
    seq: Id,
    body: FormText = "",
    go: FormText = "",
) -> Response:
    """Pass a body's question on to the reporters (as edited), or keep it back."""
    passing = go == "pass"

    def change() -> None:
        decision = _valid(
            QuestionDecision,
            {"approve": passing, "body": (body.strip() or None) if passing else None},
        )
        liaison_service.answer_question(
            **work.scope,
            reference=reference,
            seq=seq,
            text=decision.body if decision.approve else None,
            as_asked=decision.approve and not decision.body,
        )

    return work.act(
        change,
        "question_passed" if passing else "question_refused",
        f"question-{reference}-{seq}",
        {"question_body": body[:10_000]},
    )


def referral_context(
    session: Session, keyring: KeyRing, actor: Staff, case_id: int, now: Any
) -> dict[str, Any]:
    """What the case page shows about referrals: each one as its body sees it, how its
    notices went, the implicated bodies and the bodies that could be marked."""
    case = cases_service.get_case(session=session, actor=actor, case_id=case_id)
    implicated = referrals_service.implicated_bodies(session=session, case_id=case_id)
    marked = {body.code for body in implicated}
    bodies = agencies_service.bodies_for(session=session, actor=actor)
    return {
        # Reporters' exclusions name bodies by code: the page shows their names.
        "body_names": {body.code: body.name for body in bodies},
        "referrals": referrals_service.referral_views(
            session=session, keyring=keyring, actor=actor, case_id=case_id, now=now
        ),
        "deliveries": referrals_service.deliveries_of_case(
            session=session, actor=actor, case_id=case_id
        ),
        "timelines": liaison_service.timelines_of_case(
            session=session, keyring=keyring, actor=actor, case_id=case_id
        ),
        "recommended": [
            choice
            for choice in referrals_service.body_choices(session=session, actor=actor, case=case)
            if choice.recommended_by
        ],
        "implicated": implicated,
        "markable": [body for body in bodies if body.active and body.code not in marked],
    }
