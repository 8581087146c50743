"""The reporter's pages. Every page works without JavaScript; app.js only makes them
faster, offline-capable and able to solve the proof of work."""

from __future__ import annotations

import secrets
from datetime import datetime
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.config import Settings
from api.crypto import KeyRing
from api.deps import KeyRingDep, Now, SessionDep, SettingsDep
from api.errors import DomainError, FieldProblem
from api.i18n import LANGUAGES, N_, negotiate
from api.ids import is_id
from api.multipart import MultipartBody, read_multipart
from api.proofs import service as proofs_service
from api.proofs.schemas import ProofIn
from api.proofs.service import FormGuard, ProofRejected, TooManyRequests
from api.public import service as public_service
from api.public.schemas import PublicConfig
from api.reports import service as reports_service
from api.reports.models import Report
from api.reports.schemas import ReportCreate, ReporterLogin, ReporterMessageIn
from api.web import Assets, Pages, gettext_for
from mobile.form import (
    STEPS,
    ReportForm,
    form_name,
    step_errors,
    step_for_field,
    today_in,
    validate,
)

HERE = Path(__file__).parent
LOCALE_DIR = HERE / "locale"
assets = Assets(HERE / "static", "/static")
pages = Pages(HERE / "templates", LOCALE_DIR, assets)
router = APIRouter(include_in_schema=False)
router.include_router(assets.router())

REPORTER_COOKIE = "portline_reporter"


def page_language(request: Request) -> str:
    return negotiate(request.headers.get("accept-language"), request.query_params.get("lang"))


Language = Annotated[str, Depends(page_language)]


def _common(request: Request, settings: Settings) -> dict[str, object]:
    return {
        "languages": [(code, public_service.LANGUAGE_NAMES[code]) for code in LANGUAGES],
        "path": request.url.path,
        "quick_exit_url": settings.quick_exit_url,
    }


@router.get("/")
def home(request: Request, settings: SettingsDep, language: Language) -> Response:
    return pages.render(
        "home.html", language, {**_common(request, settings), "port": ""}, compress_for=request
    )


@router.get("/p/{code}")
def port_home(
    code: str, request: Request, session: SessionDep, settings: SettingsDep, language: Language
) -> Response:
    """A port's own link (on its posters): the same first screen, whose emergency numbers
    and report start in that port. An unknown or retired port is a 404 page."""
    config = public_service.public_config(session=session, settings=settings, language=language)
    port = _port_of(config, code)
    if port is None:
        raise StarletteHTTPException(404)
    return pages.render(
        "home.html", language, {**_common(request, settings), "port": port}, compress_for=request
    )


def _port_of(config: PublicConfig, code: str | None) -> str | None:
    """The code of the port the reporter came for, if it is one they can report in."""
    wanted = (code or "").strip().upper()
    return next((port.code for port in config.ports if port.code == wanted), None)


@router.get("/danger")
def danger(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    language: Language,
    port: str = "",
) -> Response:
    config = public_service.public_config(session=session, settings=settings, language=language)
    chosen = _port_of(config, port)
    if chosen is not None:  # from a port's own link: that port's numbers only
        config = config.model_copy(
            update={"ports": [found for found in config.ports if found.code == chosen]}
        )
    return pages.render(
        "danger.html",
        language,
        {**_common(request, settings), "config": config, "port": chosen or ""},
        compress_for=request,
    )


# Reporting ---------------------------------------------------------------------------------


async def _read_form(
    request: Request, settings: Settings, *, max_files: int | None = None
) -> tuple[MultipartBody, dict[str, str], str]:
    """A posted page form (always multipart: the report form carries files), its text
    fields, and the language the page was in."""
    body = await read_multipart(
        request,
        max_files=settings.max_files if max_files is None else max_files,
        max_file_bytes=settings.max_file_bytes,
    )
    return body, body.texts, negotiate(None, body.texts.get("lang"))


def _render_report(
    request: Request,
    *,
    config: PublicConfig,
    settings: Settings,
    language: str,
    form: ReportForm,
    step: str,
    errors: dict[str, FieldProblem],
    draft_files: list[reports_service.DraftFile],
    now_token: str,
    status_code: int = 200,
    notice: str | None = None,
    compress: bool = False,
) -> Response:
    _ = gettext_for(language, LOCALE_DIR)
    categories = {category.code: category for category in config.categories}
    chosen = categories.get(form.get("category"))
    return pages.render(
        "report.html",
        language,
        {
            **_common(request, settings),
            "config": config,
            "form": form,
            "step": step,
            "steps": STEPS,
            "errors": {name: _(p.message, **p.params) for name, p in errors.items()},
            "draft_files": draft_files,
            "form_token": now_token,
            "cargo_relevant": bool(chosen and chosen.cargo_relevant),
            "chosen_category": chosen,
            "notice": notice,
        },
        status_code=status_code,
        # The blank form echoes nothing typed, so its size cannot leak its form token;
        # a filled-in step (POST) is never compressed.
        compress_for=request if compress else None,
    )


@router.get("/report")
def report_form(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    keyring: KeyRingDep,
    language: Language,
    now: Now,
    port: str = "",
) -> Response:
    config = public_service.public_config(session=session, settings=settings, language=language)
    form = ReportForm()
    form.values["submission_key"] = secrets.token_urlsafe(24)
    chosen = config.ports[0].code if len(config.ports) == 1 else _port_of(config, port)
    if chosen is not None:
        form.values["port"] = chosen
    return _render_report(
        request,
        config=config,
        settings=settings,
        language=language,
        form=form,
        step=STEPS[0],
        errors={},
        draft_files=[],
        now_token=proofs_service.issue_form_token(keyring=keyring, now=now),
        compress=True,
    )


@router.post("/report")
async def report_step(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    keyring: KeyRingDep,
    now: Now,
) -> Response:
    """One step of the form sent without JavaScript: check it, then show the next."""
    body, texts, language = await _read_form(request, settings)

    return await run_in_threadpool(
        _report_step, request, session, settings, keyring, now, body, texts, language
    )


def _report_step(
    request: Request,
    session: Session,
    settings: Settings,
    keyring: KeyRing,
    now: datetime,
    body: MultipartBody,
    texts: dict[str, str],
    language: str,
) -> Response:
    # Off the event loop: a transaction may wait on SQLite's writer lock, and the request
    # holding it needs the loop to finish.
    config = public_service.public_config(session=session, settings=settings, language=language)
    form = ReportForm.from_fields(body.fields)
    step = texts.get("step", STEPS[0]) if texts.get("step") in STEPS else STEPS[0]
    go = texts.get("go", "next")
    form_token = texts.get("form_token", "")
    port = next((p for p in config.ports if p.code == form.get("port")), None)
    today = today_in(port.timezone if port else "UTC")
    errors: dict[str, FieldProblem] = {}
    notice: str | None = None
    status_code = 200

    def render(next_step: str) -> Response:
        return _render_report(
            request,
            config=config,
            settings=settings,
            language=language,
            form=form,
            step=next_step,
            errors=errors,
            draft_files=reports_service.draft_files(
                session=session, keyring=keyring, draft_token=form.get("draft_token")
            ),
            now_token=form_token,
            status_code=status_code,
            notice=notice,
        )

    try:
        if step == "photos" and (body.files or go.startswith("remove:")):
            if not form.get("draft_token"):
                form.values["draft_token"] = reports_service.new_draft_token()
            if body.files:
                reports_service.add_draft_files(
                    session=session,
                    keyring=keyring,
                    settings=settings,
                    draft_token=form.get("draft_token"),
                    files=body.files,
                    now=now,
                )
            removed = go.removeprefix("remove:")
            # ASCII digits only (int() refuses some that isdigit() accepts, such as ²), and
            # no number past an id's range reaches the database.
            if go != removed and removed.isascii() and removed.isdigit() and is_id(int(removed)):
                reports_service.remove_draft_file(
                    session=session,
                    keyring=keyring,
                    draft_token=form.get("draft_token"),
                    seq=int(removed),
                )
        if go == "upload" or go.startswith("remove:"):
            return render("photos")
    except DomainError as error:
        errors = {"files": _first_problem(error, "files")}
        status_code = error.status
        return render("photos")

    index = STEPS.index(step)
    if go == "back":
        return render(STEPS[max(index - 1, 0)])
    if go.startswith("edit:") and go.removeprefix("edit:") in STEPS:
        return render(go.removeprefix("edit:"))
    if go != "send":
        errors = step_errors(form, step, language=language, today=today)
        if errors:
            status_code = 422
            return render(step)
        return render(STEPS[min(index + 1, len(STEPS) - 1)])

    # Sending from the review.
    problems = validate(form, language=language, today=today)
    for earlier in STEPS[:-1]:
        problems.update(step_errors(form, earlier, language=language, today=today))
    if problems:
        errors = problems
        status_code = 422
        first = next(
            (s for s in STEPS if any(step_for_field(name) == s for name in problems)), "review"
        )
        return render(first)
    try:
        receipt = reports_service.submit_report(
            session=session,
            keyring=keyring,
            settings=settings,
            report_in=ReportCreate.model_validate(form.payload(language=language, today=today)),
            files=[],
            now=now,
            form=FormGuard(
                form_token,
                "report-form",
                settings.no_js_reports_per_minute,
                request.app.state.rate_guard,
            ),
            draft_token=form.get("draft_token") or None,
        )
    except (ProofRejected, TooManyRequests) as error:
        form_token = proofs_service.issue_form_token(keyring=keyring, now=now)
        notice = gettext_for(language, LOCALE_DIR)(error.message, **error.params)
        status_code = error.status
        return render("review")
    except DomainError as error:
        errors = {form_name(problem.field): problem for problem in error.fields}
        status_code = error.status
        first_field = error.fields[0].field if error.fields else "review"
        return render(step_for_field(first_field))
    return pages.render(
        "receipt.html",
        language,
        {
            **_common(request, settings),
            "receipt": receipt.receipt,
            "groups": [receipt.receipt[i : i + 4] for i in range(0, 16, 4)],
            "reference": receipt.reference,
        },
    )


def _first_problem(error: DomainError, field: str) -> FieldProblem:
    return error.fields[0] if error.fields else FieldProblem(field, error.message, error.params)


def _explain(error: DomainError, language: str) -> str:
    problem = _first_problem(error, "")
    return gettext_for(language, LOCALE_DIR)(problem.message, **problem.params)


# Coming back with a receipt ------------------------------------------------------------------


@router.get("/receipt")
def receipt_form(
    request: Request, settings: SettingsDep, keyring: KeyRingDep, language: Language, now: Now
) -> Response:
    return pages.render(
        "login.html",
        language,
        {
            **_common(request, settings),
            "form_token": proofs_service.issue_form_token(keyring=keyring, now=now),
            "error": None,
        },
        compress_for=request,  # the blank login echoes nothing typed
    )


@router.post("/receipt")
async def receipt_login(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    keyring: KeyRingDep,
    now: Now,
) -> Response:
    _body, texts, language = await _read_form(request, settings, max_files=0)

    return await run_in_threadpool(
        _receipt_login, request, session, settings, keyring, now, texts, language
    )


def _receipt_login(
    request: Request,
    session: Session,
    settings: Settings,
    keyring: KeyRing,
    now: datetime,
    texts: dict[str, str],
    language: str,
) -> Response:
    # Off the event loop: a transaction may wait on SQLite's writer lock, and the request
    # holding it needs the loop to finish.
    proof = (
        ProofIn(challenge=texts["proof_challenge"], nonce=texts["proof_nonce"])
        if texts.get("proof_challenge") and texts.get("proof_nonce")
        else None
    )
    form = (
        None
        if proof
        else FormGuard(
            texts.get("form_token", ""),
            "receipt-form",
            settings.no_js_logins_per_minute,
            request.app.state.rate_guard,
        )
    )
    try:
        token = reports_service.log_in(
            session=session,
            keyring=keyring,
            settings=settings,
            login=ReporterLogin(receipt=texts.get("receipt", "")[:40], proof=proof),
            now=now,
            form=form,
        )
    except DomainError as error:
        return pages.render(
            "login.html",
            language,
            {
                **_common(request, settings),
                "form_token": proofs_service.issue_form_token(keyring=keyring, now=now),
                "error": _explain(error, language),
            },
            status_code=error.status,
        )
    response = RedirectResponse(f"/my-report?lang={language}", status_code=303)
    response.set_cookie(
        REPORTER_COOKIE,
        token.token,
        max_age=settings.reporter_session_seconds,
        httponly=True,
        secure=_secure(request),
        samesite="strict",
        path="/",
    )
    return response


def _secure(request: Request) -> bool:
    # Secure cookies need HTTPS; plain HTTP is allowed on this machine only.
    return request.url.scheme == "https" or request.url.hostname not in ("127.0.0.1", "localhost")


def _reporter(
    request: Request, session: SessionDep, keyring: KeyRingDep, now: Now
) -> Report | None:
    token = request.cookies.get(REPORTER_COOKIE)
    if not token:
        return None
    try:
        return reports_service.report_for_token(
            session=session, keyring=keyring, token=token, now=now
        )
    except DomainError:
        return None


ReporterOrNone = Annotated[Report | None, Depends(_reporter)]


def _same_origin(request: Request) -> bool:
    site = request.headers.get("sec-fetch-site")
    return site in (None, "same-origin", "none")


def _my_report_page(
    request: Request,
    *,
    session: SessionDep,
    settings: Settings,
    keyring: KeyRing,
    report: Report,
    language: str,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    view = reports_service.reporter_view(
        session=session, keyring=keyring, report=report, language=language
    )
    return pages.render(
        "my_report.html",
        language,
        {
            **_common(request, settings),
            "view": view,
            "error": error,
            "idle_seconds": settings.reporter_session_seconds,
        },
        status_code=status_code,
    )


@router.get("/my-report")
def my_report(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    keyring: KeyRingDep,
    report: ReporterOrNone,
    language: Language,
) -> Response:
    if report is None:
        return RedirectResponse(f"/receipt?lang={language}", status_code=303)
    return _my_report_page(
        request,
        session=session,
        settings=settings,
        keyring=keyring,
        report=report,
        language=language,
    )


@router.post("/my-report")
async def my_report_post(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    keyring: KeyRingDep,
    report: ReporterOrNone,
    now: Now,
) -> Response:
    """A reply, more photos, or logging out: one form endpoint, by the button pressed."""
    body, texts, language = await _read_form(request, settings)

    return await run_in_threadpool(
        _my_report_post, request, session, settings, keyring, report, now, body, texts, language
    )


def _my_report_post(
    request: Request,
    session: Session,
    settings: Settings,
    keyring: KeyRing,
    report: Report | None,
    now: datetime,
    body: MultipartBody,
    texts: dict[str, str],
    language: str,
) -> Response:
    # Off the event loop: a transaction may wait on SQLite's writer lock, and the request
    # holding it needs the loop to finish.
    if report is None or not _same_origin(request):
        return RedirectResponse(f"/receipt?lang={language}", status_code=303)
    go = texts.get("go", "")
    try:
        if go == "reply":
            reports_service.add_reporter_message(
                session=session,
                keyring=keyring,
                report=report,
                message_in=ReporterMessageIn(body=texts.get("body", "") or " "),
                now=now,
            )
        elif go == "photos":
            reports_service.add_reporter_attachments(
                session=session,
                keyring=keyring,
                settings=settings,
                report=report,
                files=body.files,
                now=now,
            )
        elif go == "logout":
            return log_out(report, session, language)
    except DomainError as error:
        return _my_report_page(
            request,
            session=session,
            settings=settings,
            keyring=keyring,
            report=report,
            language=language,
            error=_explain(error, language),
            status_code=error.status,
        )
    except ValueError:
        return _my_report_page(
            request,
            session=session,
            settings=settings,
            keyring=keyring,
            report=report,
            language=language,
            error=gettext_for(language, LOCALE_DIR)(N_("Write a message first.")),
            status_code=422,
        )
    return RedirectResponse(f"/my-report?lang={language}", status_code=303)


def log_out(report: Report, session: SessionDep, language: str) -> Response:
    """End every session of this report and ask the browser to forget this site."""
    reports_service.log_out_everywhere(session=session, report=report)
    response = RedirectResponse(f"/?lang={language}", status_code=303)
    response.delete_cookie(REPORTER_COOKIE, path="/")
    # Not "storage": a report still waiting to be sent lives there until it is sent.
    response.headers["clear-site-data"] = '"cache", "cookies"'
    return response


@router.get("/sw.js")
def service_worker() -> Response:
    """The service worker lives at the root so it may serve every page offline."""
    precached = (asset.url for name, asset in assets.by_name.items() if name != "sw.js")
    script = assets.by_name["sw.js"].content.replace(
        b"__ASSETS__", ",".join(f'"{url}"' for url in precached).encode()
    )
    return Response(
        script,
        media_type="text/javascript; charset=utf-8",
        headers={"cache-control": "no-cache", "service-worker-allowed": "/"},
    )


def error_page(request: Request, status_code: int) -> Response:
    """The reporter's own page for an address that does not exist or a refused request."""
    language = page_language(request)
    _ = gettext_for(language, LOCALE_DIR)
    if status_code == 404:
        title, message = _("Page not found"), _("There is nothing at this address.")
    else:
        title, message = (
            _("Something went wrong"),
            _("The request could not be handled. Go back and try again."),
        )
    return pages.render(
        "error.html",
        language,
        {
            **_common(request, request.app.state.settings),
            "title": title,
            "message": message,
        },
        status_code=status_code,
    )
