"""Categories as administrators configure them: by kind and in the order reporters see
them, each named and explained in every language, moved to the other kind, asking or not
which way the cargo was going, retired and restored (retiring asks first).

Categories are shared by every port: any administrator reads them, only an administrator
of every port changes them. api/taxonomy/config.py checks, makes and audits each change."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import Response
from sqlmodel import Session
from starlette.datastructures import FormData

from admin.case import _valid
from admin.languages import ALL_LANGUAGES, Posted, as_values, problems_of, text_of, typed, written
from admin.queue import KIND_NAMES
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
from api.errors import DomainError
from api.i18n import N_, in_language
from api.moves import Direction
from api.staff import service as staff_service
from api.staff.models import Staff
from api.taxonomy import config as taxonomy_config
from api.taxonomy.schemas import CategoryAdmin, CategoryChange, CategoryIn

CATEGORIES_URL = f"{PREFIX}/categories"

router = APIRouter(route_class=ConsoleRoute)

CategoryCode = Annotated[str, Path(max_length=48)]

# The most each text takes (api/taxonomy/schemas.py).
NAME_LIMIT = 160
HINT_LIMIT = 400
# Reporters who read a language no one wrote a category's name in read it in English.
FIRST_LANGUAGE = "en"

NOTICES: dict[str, str] = {
    "created": N_(
        "The category is added at the end of its kind. Give its names and hints in the other languages."
    ),
    "saved": N_("The category is saved."),
    "moved": N_("The order is saved."),
    "retired": N_("The category is retired: reporters can no longer choose it."),
    "restored": N_("The category is restored: reporters can choose it again."),
}

NEW_CATEGORY: dict[str, Any] = {"code": "", "kind": "", "name-en": "", "cargo_relevant": False}


def _may_change(session: Session, actor: Staff) -> bool:
    return staff_service.visible_ports(session=session, actor=actor) is None


def _values_of(category: CategoryAdmin) -> dict[str, Any]:
    return {
        "kind": category.kind,
        "cargo_relevant": category.cargo_relevant,
        **as_values("name", category.names),
        **as_values("hint", category.hints),
    }


def _posted(form: FormData) -> dict[str, Any]:
    return {
        "code": text_of(form, "code", 48).lower(),
        "kind": text_of(form, "kind", 16),
        "cargo_relevant": bool(text_of(form, "cargo_relevant", 1)),
        **as_values("name", typed(form, "name", NAME_LIMIT)),
        **as_values("hint", typed(form, "hint", HINT_LIMIT)),
    }


def _problems(error: DomainError, *, new: bool = False) -> Problems:
    return problems_of(
        error,
        per_language=("name", "hint"),
        first_language=FIRST_LANGUAGE,
        missing=N_("Give the name in one language at least."),
        conflict_at="code" if new else None,
    )


def _list_page(
    request: Request,
    session: Session,
    actor: Staff,
    *,
    notice: str | None = None,
    values: Mapping[str, Any] = NEW_CATEGORY,
    problems: Problems = NO_PROBLEMS,
    status_code: int = 200,
) -> Response:
    categories = taxonomy_config.list_categories(session=session, actor=actor)
    return render(
        request,
        "categories.html",
        {
            "by_kind": [
                (kind, label, [each for each in categories if each.kind == kind])
                for kind, label in KIND_NAMES.items()
            ],
            "kinds": KIND_NAMES,
            "can_change": _may_change(session, actor),
            "notice": notice,
            "form": "new-category" if problems else "",
            "values": values,
            "problems": problems,
        },
        staff=actor,
        status_code=status_code,
    )


def _category_page(
    request: Request,
    session: Session,
    actor: Staff,
    category: CategoryAdmin,
    *,
    notice: str | None = None,
    values: Mapping[str, Any] | None = None,
    problems: Problems = NO_PROBLEMS,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "category.html",
        {
            "category": category,
            "kinds": KIND_NAMES,
            "languages": ALL_LANGUAGES,
            "can_change": _may_change(session, actor),
            "notice": notice,
            "form": "category",
            "values": values or _values_of(category),
            "problems": problems,
        },
        staff=actor,
        status_code=status_code,
    )


def _category_url(code: str, done: str = "") -> str:
    return f"{CATEGORIES_URL}/{code}" + (f"?done={done}" if done else "")


def _list_url(done: str, code: str) -> str:
    return f"{CATEGORIES_URL}?done={done}#category-{code}"


# Pages --------------------------------------------------------------------------------------


@router.get(CATEGORIES_URL)
def categories_page(
    request: Request, session: SessionDep, actor: Administrator, done: str = ""
) -> Response:
    return _list_page(request, session, actor, notice=NOTICES.get(done))


@router.post(CATEGORIES_URL)
def add_category(
    request: Request,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
    actor: Administrator,
    form: Posted,
) -> Response:
    values = _posted(form)

    def change() -> None:
        data = {
            "code": values["code"],
            "kind": values["kind"],
            "name": written({}, typed(form, "name", NAME_LIMIT)),
            "cargo_relevant": values["cargo_relevant"],
        }
        taxonomy_config.create_category(
            session=session,
            keyring=keyring,
            actor=actor,
            category_in=_valid(CategoryIn, data),
            now=now,
        )

    def refused(error: DomainError) -> Response:
        return _list_page(
            request,
            session,
            actor,
            values=values,
            problems=_problems(error, new=True),
            status_code=error.status,
        )

    return attempt(
        session, change, done_url=_category_url(values["code"], "created"), refused=refused
    )


@router.get(CATEGORIES_URL + "/{code}")
def category_page(
    request: Request, code: CategoryCode, session: SessionDep, actor: Administrator, done: str = ""
) -> Response:
    category = taxonomy_config.category_view(session=session, actor=actor, code=code)
    return _category_page(request, session, actor, category, notice=NOTICES.get(done))


@router.post(CATEGORIES_URL + "/{code}")
def save_category(
    request: Request,
    code: CategoryCode,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
    actor: Administrator,
    form: Posted,
) -> Response:
    before = taxonomy_config.category_view(session=session, actor=actor, code=code)
    values = _posted(form)

    def change() -> None:
        data = {
            "kind": values["kind"],
            "name": written(before.names, typed(form, "name", NAME_LIMIT)),
            "hint": written(before.hints, typed(form, "hint", HINT_LIMIT)),
            "cargo_relevant": values["cargo_relevant"],
        }
        taxonomy_config.change_category(
            session=session,
            keyring=keyring,
            actor=actor,
            code=code,
            change=_valid(CategoryChange, data),
            now=now,
        )

    def refused(error: DomainError) -> Response:
        return _category_page(
            request,
            session,
            actor,
            before,
            values=values,
            problems=_problems(error),
            status_code=error.status,
        )

    return attempt(session, change, done_url=_list_url("saved", code), refused=refused)


@router.post(CATEGORIES_URL + "/{code}/move")
def move_category(
    code: CategoryCode,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
    actor: Administrator,
    direction: Annotated[Direction, Form()],
) -> Response:
    taxonomy_config.move_category(
        session=session,
        keyring=keyring,
        actor=actor,
        code=code,
        up=direction == Direction.up,
        now=now,
    )
    return redirect(_list_url("moved", code))


@router.get(CATEGORIES_URL + "/{code}/retire")
def confirm_retire(
    request: Request, code: CategoryCode, session: SessionDep, actor: Administrator
) -> Response:
    category = taxonomy_config.category_view(session=session, actor=actor, code=code)
    return render(
        request,
        "retire_confirm.html",
        {
            "title": N_("Retire the category {name}?"),
            "name": in_language(category.names, console_language(request), FIRST_LANGUAGE),
            "explanation": N_(
                "Reporters can no longer choose it. Cases filed under it keep it, and it stays "
                "listed here as retired. You can restore it at any time."
            ),
            "button": N_("Retire the category"),
            "action": f"{CATEGORIES_URL}/{category.code}/retire",
            "back": f"{CATEGORIES_URL}#category-{category.code}",
        },
        staff=actor,
    )


def _set_active(
    session: Session, keyring: KeyRing, now: datetime, actor: Staff, code: str, active: bool
) -> Response:
    taxonomy_config.change_category(
        session=session,
        keyring=keyring,
        actor=actor,
        code=code,
        change=CategoryChange(active=active),
        now=now,
    )
    return redirect(_list_url("restored" if active else "retired", code))


@router.post(CATEGORIES_URL + "/{code}/retire")
def retire_category(
    code: CategoryCode, session: SessionDep, keyring: KeyRingDep, now: Now, actor: Administrator
) -> Response:
    return _set_active(session, keyring, now, actor, code, False)


@router.post(CATEGORIES_URL + "/{code}/restore")
def restore_category(
    code: CategoryCode, session: SessionDep, keyring: KeyRingDep, now: Now, actor: Administrator
) -> Response:
    return _set_active(session, keyring, now, actor, code, True)
