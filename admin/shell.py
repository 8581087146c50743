"""What every console page shares: templates and assets, the language, the navigation,
the signed-in person, and turning refusals into pages instead of JSON."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from sqlmodel import Session

from api.deps import STAFF_COOKIE, SessionDep, clear_staff_cookie, require, secure_cookie
from api.errors import DomainError, FieldProblem, Unauthorized
from api.i18n import N_, in_language, negotiate
from api.policy import Permission, allows
from api.staff.models import Staff, StaffSession
from api.web import Assets, Pages

HERE = Path(__file__).parent
LOCALE_DIR = HERE / "locale"
PREFIX = "/admin"
LOGIN_URL = f"{PREFIX}/login"
CONSOLE_LANGUAGES = ("en", "fr", "nl")

assets = Assets(HERE / "static", f"{PREFIX}/static")
pages = Pages(HERE / "templates", LOCALE_DIR, assets)


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


pages.environment.filters["utc"] = _utc
# A name an administrator wrote per language, in the reader's: names | named(lang, *fallbacks).
pages.environment.filters["named"] = in_language


def console_language(request: Request) -> str:
    """The console speaks fewer languages than the reporter's pages: pick among those,
    so a German browser that also reads French gets French, not English."""
    requested = request.query_params.get("lang")
    wanted = [
        item
        for item in request.headers.get("accept-language", "").split(",")[:20]
        if item.split(";")[0].strip().lower().split("-")[0] in CONSOLE_LANGUAGES
    ]
    return negotiate(
        ",".join(wanted) or None,
        requested if requested and requested.lower() in CONSOLE_LANGUAGES else None,
    )


# Who may see what -----------------------------------------------------------------------------

SignedIn = Annotated[Staff, Depends(require(Permission.own_account))]
Administrator = Annotated[Staff, Depends(require(Permission.manage_staff))]
Triager = Annotated[Staff, Depends(require(Permission.triage))]
Liaison = Annotated[Staff, Depends(require(Permission.work_referrals))]
Auditor = Annotated[Staff, Depends(require(Permission.read_audit))]


@dataclass(frozen=True)
class NavItem:
    href: str
    label: str
    permission: Permission


NAVIGATION = (
    NavItem(f"{PREFIX}/triage", N_("Triage"), Permission.triage),
    NavItem(f"{PREFIX}/dashboard", N_("Dashboard"), Permission.triage),
    NavItem(f"{PREFIX}/referrals", N_("Referrals"), Permission.work_referrals),
    NavItem(f"{PREFIX}/staff", N_("Administration"), Permission.manage_staff),
    NavItem(f"{PREFIX}/bodies", N_("Receiving bodies"), Permission.manage_staff),
    NavItem(f"{PREFIX}/rules", N_("Routing rules"), Permission.read_routing),
    NavItem(f"{PREFIX}/ports", N_("Ports and deadlines"), Permission.manage_staff),
    NavItem(f"{PREFIX}/categories", N_("Categories"), Permission.manage_staff),
    NavItem(f"{PREFIX}/retention", N_("Retention"), Permission.manage_staff),
    NavItem(f"{PREFIX}/audit", N_("Audit"), Permission.read_audit),
    NavItem(f"{PREFIX}/account", N_("My account"), Permission.own_account),
)


def navigation_for(staff: Staff) -> list[NavItem]:
    return [item for item in NAVIGATION if allows(staff.role, item.permission)]


ROLE_NAMES = {
    "administrator": N_("Administrator"),
    "triager": N_("Triager"),
    "liaison": N_("Liaison officer"),
    "auditor": N_("Auditor"),
}


# Forms and their problems ---------------------------------------------------------------------


@dataclass(frozen=True)
class Problems:
    """What went wrong with a posted form: per field, and for the form as a whole."""

    fields: Mapping[str, FieldProblem]
    summary: FieldProblem | None = None

    @classmethod
    def of(cls, error: DomainError) -> Problems:
        fields = {problem.field: problem for problem in error.fields}
        # A field-less error (a conflict, a refusal) is said once, above the form.
        summary = None if fields else FieldProblem("", error.message, dict(error.params))
        return cls(fields, summary)

    @classmethod
    def field(cls, name: str, message: str) -> Problems:
        return cls({name: FieldProblem(name, message)})

    def __bool__(self) -> bool:
        return bool(self.fields) or self.summary is not None


NO_PROBLEMS = Problems({})


def clip(value: str, limit: int) -> str:
    """A form value cut to what the field can hold; longer input is never valid anyway."""
    return value[:limit]


# Rendering ------------------------------------------------------------------------------------


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    staff: Staff | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """A console page. With ``staff``, the page carries the navigation and the session's
    CSRF token for its forms."""
    staff_session: StaffSession | None = getattr(request.state, "staff_session", None)
    shell: dict[str, Any] = {
        "staff": staff,
        "navigation": navigation_for(staff) if staff else [],
        "csrf_token": staff_session.csrf_token if staff_session else "",
        "path": request.url.path,
        "role_names": ROLE_NAMES,
        "problems": NO_PROBLEMS,
    }
    return pages.render(
        template, console_language(request), {**shell, **(context or {})}, status_code=status_code
    )


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def attempt(
    session: Session,
    change: Callable[[], object],
    *,
    done_url: str,
    refused: Callable[[DomainError], Response],
) -> Response:
    """Make the change a form asked for and go on to ``done_url``. A refusal first rolls
    back what the change wrote, so nothing of it is stored, then answers ``refused``."""
    try:
        change()
    except DomainError as error:
        session.rollback()
        return refused(error)
    return redirect(done_url)


def with_session_cookie(request: Request, response: Response, token: str) -> Response:
    # Path "/" so the JSON API under /api/ accepts the same session.
    response.set_cookie(
        STAFF_COOKIE,
        token,
        httponly=True,
        secure=secure_cookie(request),
        samesite="strict",
        path="/",
    )
    return response


def without_session_cookie(request: Request, response: Response) -> Response:
    clear_staff_cookie(request, response)
    return response


def error_page(
    request: Request,
    status_code: int,
    message: str | None = None,
    params: Mapping[str, object] | None = None,
) -> HTMLResponse:
    """The console's own page for a refusal or an address that does not exist."""
    if status_code == 403:
        title = N_("You cannot open this page")
        message = message or N_("You are not allowed to do this.")
    elif status_code == 404:
        title = N_("Page not found")
        message = message or N_("There is nothing at this address.")
    elif status_code == 410:
        title = N_("Deleted under retention")
        message = message or N_("It was deleted under the port's retention rules.")
    else:
        title = N_("Something went wrong")
        message = message or N_("The request could not be handled. Go back and try again.")
    return render(
        request,
        "error.html",
        {"title": title, "message": message, "params": params or {}},
        # The signed-in person's navigation, when the route checked who it is.
        staff=getattr(request.state, "staff", None),
        status_code=status_code,
    )


# Refusals as pages ----------------------------------------------------------------------------


def _remember_session(request: Request, session: SessionDep) -> None:
    request.state.console_session = session


class ConsoleRoute(APIRoute):
    """Answers a person, not a program: no session sends them to the sign-in page, a
    refusal or an unknown object shows a page. What the request changed is rolled back
    first, as it would be had the error reached the application."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        dependencies = list(kwargs.pop("dependencies", None) or [])
        # Included routers build the route again with the dependencies it already has.
        if not any(each.dependency is _remember_session for each in dependencies):
            dependencies.append(Depends(_remember_session))
        super().__init__(path, endpoint, dependencies=dependencies, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def console_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except (DomainError, RequestValidationError) as error:
                session: Session | None = getattr(request.state, "console_session", None)
                if session is not None:
                    session.rollback()
                return _page_for(request, error)

        return console_handler


def _page_for(request: Request, error: DomainError | RequestValidationError) -> Response:
    if isinstance(error, Unauthorized):
        return redirect(LOGIN_URL)
    if isinstance(error, RequestValidationError):
        return error_page(request, 404)
    return error_page(request, error.status, error.message, error.params)
