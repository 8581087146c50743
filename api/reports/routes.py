from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from api.deps import KeyRingDep, LanguageDep, Now, ReporterDep, SessionDep, SettingsDep
from api.errors import FieldProblem, Invalid, validation_error
from api.i18n import N_
from api.multipart import read_multipart
from api.reports import service
from api.reports.schemas import (
    AttachmentPublic,
    MessagePublic,
    ReceiptOut,
    ReportCreate,
    ReporterLogin,
    ReporterMessageIn,
    ReporterReport,
    ReporterToken,
)

router = APIRouter(tags=["reporter"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "The request could not be read."},
    413: {"description": "Too many or too large files."},
    415: {"description": "A file of a type that cannot be attached."},
    422: {"description": "A field is missing or wrong; `error.fields` names it."},
}
_NO_TOKEN: dict[int | str, dict[str, Any]] = {
    401: {"description": "No reporter token, or it has expired: come back with the receipt."}
}


def _files_schema(with_report: bool) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "files": {
            "type": "array",
            "items": {"type": "string", "format": "binary"},
            "description": "Photos (JPEG, PNG or WebP). Every metadata block is removed.",
        }
    }
    required = []
    if with_report:
        properties["report"] = {
            "$ref": "#/components/schemas/ReportCreate",
            "description": "The report, as a JSON part.",
        }
        required.append("report")
    return {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {"type": "object", "properties": properties, "required": required},
                    "encoding": {"report": {"contentType": "application/json"}},
                }
            },
        }
    }


@router.post(
    "/reports",
    status_code=201,
    summary="Send a report",
    responses=_ERRORS,
    openapi_extra=_files_schema(with_report=True),
)
async def post_report(
    request: Request, session: SessionDep, keyring: KeyRingDep, settings: SettingsDep, now: Now
) -> ReceiptOut:
    """Multipart: a `report` part (JSON, see the `ReportCreate` schema) and zero or more
    `files`. Returns the receipt, once: it is never stored and cannot be recovered.
    The report is stored whole, with every file, or not at all."""
    body = await read_multipart(
        request, max_files=settings.max_files, max_file_bytes=settings.max_file_bytes
    )
    raw = body.texts.get("report")
    if raw is None:
        raise Invalid(
            N_("The request has a problem in {field}."),
            fields=[FieldProblem("report", N_("This field is required."))],
            field="report",
        )
    try:
        report_in = ReportCreate.model_validate_json(raw)
    except ValidationError as error:
        raise validation_error(error.errors(), prefix="report") from None
    return await run_in_threadpool(
        service.submit_report,
        session=session,
        keyring=keyring,
        settings=settings,
        report_in=report_in,
        files=body.files,
        now=now,
    )


@router.post(
    "/reporter/session",
    summary="Come back with a receipt",
    responses={
        401: {"description": "The receipt was not recognised."},
        410: {
            "description": "The receipt is that of a report closed and then deleted under "
            "the port's retention rules."
        },
        422: _ERRORS[422],
    },
)
def post_reporter_session(
    login: ReporterLogin, session: SessionDep, keyring: KeyRingDep, settings: SettingsDep, now: Now
) -> ReporterToken:
    """Exchange the 16-digit receipt (spaces and dashes allowed) and a solved challenge
    for a short-lived bearer token. An unknown and a wrong receipt get the same answer."""
    return service.log_in(session=session, keyring=keyring, settings=settings, login=login, now=now)


@router.get(
    "/reporter/report", summary="My report: status, timeline and messages", responses=_NO_TOKEN
)
def get_reporter_report(
    report: ReporterDep, session: SessionDep, keyring: KeyRingDep, language: LanguageDep
) -> ReporterReport:
    return service.reporter_view(session=session, keyring=keyring, report=report, language=language)


@router.post(
    "/reporter/messages",
    status_code=201,
    summary="Reply to the team",
    responses={**_NO_TOKEN, 422: _ERRORS[422]},
)
def post_reporter_message(
    message_in: ReporterMessageIn,
    report: ReporterDep,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
) -> MessagePublic:
    return service.add_reporter_message(
        session=session, keyring=keyring, report=report, message_in=message_in, now=now
    )


@router.post(
    "/reporter/attachments",
    status_code=201,
    summary="Add more photos",
    responses={**_ERRORS, **_NO_TOKEN},
    openapi_extra=_files_schema(with_report=False),
)
async def post_reporter_attachments(
    request: Request,
    report: ReporterDep,
    session: SessionDep,
    keyring: KeyRingDep,
    settings: SettingsDep,
    now: Now,
) -> list[AttachmentPublic]:
    body = await read_multipart(
        request, max_files=settings.max_files, max_file_bytes=settings.max_file_bytes
    )
    return await run_in_threadpool(
        service.add_reporter_attachments,
        session=session,
        keyring=keyring,
        settings=settings,
        report=report,
        files=body.files,
        now=now,
    )
