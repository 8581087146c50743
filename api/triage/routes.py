from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from fastapi.responses import Response

from api.deps import KeyRingDep, Now, SessionDep, require
from api.errors import STAFF_ONLY, error_responses
from api.ids import Id
from api.policy import Permission
from api.staff.models import Staff
from api.triage import service
from api.triage.schemas import CaseClose, CaseDetail, CaseUpdate, LinkIn, NoteIn, ReplyIn

# Every route names a case, which may not be there.
router = APIRouter(
    prefix="/cases", tags=["triage"], responses={**STAFF_ONLY, **error_responses(404)}
)
Triager = Annotated[Staff, Depends(require(Permission.triage))]


@router.get("/{case_id}", summary="A case with its reports (the view is audited)")
def get_case(
    case_id: Id, actor: Triager, session: SessionDep, keyring: KeyRingDep, now: Now
) -> CaseDetail:
    return service.case_detail(
        session=session, keyring=keyring, actor=actor, case_id=case_id, now=now
    )


@router.post(
    "/{case_id}/acknowledge", status_code=204, summary="Acknowledge receipt to the reporter"
)
def acknowledge(
    case_id: Id, actor: Triager, session: SessionDep, keyring: KeyRingDep, now: Now
) -> None:
    service.acknowledge(session=session, keyring=keyring, actor=actor, case_id=case_id, now=now)


@router.post("/{case_id}/messages", status_code=204, summary="Write to a reporter")
def post_message(
    case_id: Id,
    reply_in: ReplyIn,
    actor: Triager,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
) -> None:
    service.reply(
        session=session, keyring=keyring, actor=actor, case_id=case_id, reply_in=reply_in, now=now
    )


@router.patch(
    "/{case_id}", status_code=204, summary="Classify: title, severity, TLP, tags, assignee"
)
def patch_case(
    case_id: Id,
    changes: CaseUpdate,
    actor: Triager,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
) -> None:
    service.update(
        session=session, keyring=keyring, actor=actor, case_id=case_id, changes=changes, now=now
    )


@router.post("/{case_id}/close", status_code=204, summary="Close with a resolution and an outcome")
def close_case(
    case_id: Id,
    closing: CaseClose,
    actor: Triager,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
) -> None:
    service.close(
        session=session, keyring=keyring, actor=actor, case_id=case_id, closing=closing, now=now
    )


@router.post("/{case_id}/reopen", status_code=204, summary="Reopen a closed case")
def reopen_case(
    case_id: Id, actor: Triager, session: SessionDep, keyring: KeyRingDep, now: Now
) -> None:
    service.reopen(session=session, keyring=keyring, actor=actor, case_id=case_id, now=now)


@router.post(
    "/{case_id}/reports",
    status_code=204,
    summary="Link a report (a duplicate) into this case",
    responses=error_responses(409),
)
def link_report(
    case_id: Id,
    link_in: LinkIn,
    actor: Triager,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
) -> None:
    service.link(
        session=session,
        keyring=keyring,
        actor=actor,
        case_id=case_id,
        report_reference=link_in.report,
        now=now,
    )


@router.delete(
    "/{case_id}/reports/{reference}",
    summary="Unlink a report into a case of its own",
    responses=error_responses(409),
)
def unlink_report(
    case_id: Id, reference: str, actor: Triager, session: SessionDep, keyring: KeyRingDep, now: Now
) -> dict[str, int]:
    new_case = service.unlink(
        session=session,
        keyring=keyring,
        actor=actor,
        case_id=case_id,
        report_reference=reference,
        now=now,
    )
    return {"case_id": new_case}


@router.post(
    "/{case_id}/notes", status_code=204, summary="Add an internal note (the reporter never sees it)"
)
def post_note(
    case_id: Id,
    note_in: NoteIn,
    actor: Triager,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
) -> None:
    service.add_note(
        session=session, keyring=keyring, actor=actor, case_id=case_id, note_in=note_in, now=now
    )


@router.get(
    "/{case_id}/reports/{reference}/attachments/{seq}",
    summary="A report's cleaned photo (the view is audited; never cached)",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}, "image/png": {}, "image/webp": {}}}},
)
def get_attachment(
    case_id: Id,
    reference: Annotated[str, Path(max_length=16)],
    seq: Id,
    actor: Triager,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
) -> Response:
    media_type, content = service.attachment(
        session=session,
        keyring=keyring,
        actor=actor,
        case_id=case_id,
        report_reference=reference,
        seq=seq,
        now=now,
    )
    return Response(
        content,
        media_type=media_type,
        # Every /api/ answer carries Cache-Control: no-store (api/middleware.py).
        headers={"content-disposition": f'inline; filename="{reference}-{seq}"'},
    )
