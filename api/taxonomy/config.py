"""Categories as administrators change them: names and hints per language, new ones,
retired ones, their order and their kind. Every change is audited with the values before
and after. A category is never deleted: cases keep the one they were filed under."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import column, table
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from api.audit import service as audit_service
from api.crypto import KeyRing
from api.errors import Conflict, Forbidden, NotFound
from api.i18n import N_, in_language
from api.moves import move_among
from api.policy import Permission
from api.ports.config import apply
from api.staff import service as staff_service
from api.staff.models import Staff
from api.staff.service import authorize
from api.taxonomy.models import Category
from api.taxonomy.schemas import CategoryAdmin, CategoryChange, CategoryIn

# The case table by name only: cases are filed under categories, so their module stands
# above this one and is not imported here.
_CASES = table("case", column("category_id"))


def _views(session: Session, categories: list[Category]) -> list[CategoryAdmin]:
    counts: dict[int, int] = dict(
        session.execute(
            select(_CASES.c.category_id, func.count()).group_by(_CASES.c.category_id)
        ).all()
    )
    return [
        CategoryAdmin(
            code=category.code,
            kind=category.kind,
            name=category.name,
            names=category.names or {"en": category.name},
            hints=category.hints or ({"en": category.hint} if category.hint else {}),
            cargo_relevant=category.cargo_relevant,
            position=category.position,
            active=category.active,
            cases=counts.get(category.id or 0, 0),
        )
        for category in categories
    ]


def _ordered(session: Session, kind: str | None = None) -> list[Category]:
    """In the order reporters see them; one kind's are locked, to be numbered afresh."""
    query = select(Category).order_by(col(Category.kind), col(Category.position), col(Category.id))
    if kind is not None:
        query = query.where(Category.kind == kind).with_for_update()
    return list(session.exec(query).all())


def _may_change(session: Session, actor: Staff, *, to_change: bool) -> None:
    """Categories are the whole instance's: any administrator reads them, only one of
    every port changes them."""
    authorize(actor, Permission.manage_staff)
    if to_change and staff_service.visible_ports(session=session, actor=actor) is not None:
        raise Forbidden(
            N_(
                "Categories are shared by every port: only an administrator of every port changes them."
            )
        )


def list_categories(*, session: Session, actor: Staff) -> list[CategoryAdmin]:
    _may_change(session, actor, to_change=False)
    return _views(session, _ordered(session))


def _category(session: Session, code: str) -> Category:
    category = session.exec(select(Category).where(Category.code == code)).first()
    if category is None:
        raise NotFound(N_("There is no such category."))
    return category


def category_view(*, session: Session, actor: Staff, code: str) -> CategoryAdmin:
    _may_change(session, actor, to_change=False)
    return _views(session, [_category(session, code)])[0]


def _audit(
    session: Session,
    keyring: KeyRing,
    actor: Staff,
    action: str,
    category: Category,
    now: datetime,
    detail: dict[str, str],
) -> None:
    audit_service.record(
        session=session,
        keyring=keyring,
        action=action,
        now=now,
        actor_id=actor.id,
        actor=actor.email,
        object_type="category",
        object_id=category.code,
        detail=detail,
    )


def _last_position(session: Session, kind: str) -> int:
    return session.exec(select(func.max(Category.position)).where(Category.kind == kind)).one() or 0


def create_category(
    *, session: Session, keyring: KeyRing, actor: Staff, category_in: CategoryIn, now: datetime
) -> CategoryAdmin:
    """A new category, offered last in its kind."""
    _may_change(session, actor, to_change=True)
    taken = Conflict(N_("A category with this code exists already."))
    if session.exec(select(Category.id).where(Category.code == category_in.code)).first():
        raise taken
    category = Category(
        code=category_in.code,
        kind=category_in.kind,
        name=in_language(category_in.name, "en"),
        hint=in_language(category_in.hint, "en"),
        names=dict(category_in.name),
        hints=dict(category_in.hint),
        cargo_relevant=category_in.cargo_relevant,
        position=_last_position(session, category_in.kind) + 1,
    )
    # Two administrators adding the same code at once: the second meets the unique code.
    try:
        with session.begin_nested():
            session.add(category)
    except IntegrityError:
        raise taken from None
    _audit(
        session,
        keyring,
        actor,
        "category.created",
        category,
        now,
        {"kind": category.kind, "names": ", ".join(f"{k}: {v}" for k, v in category.names.items())},
    )
    return _views(session, [category])[0]


def change_category(
    *,
    session: Session,
    keyring: KeyRing,
    actor: Staff,
    code: str,
    change: CategoryChange,
    now: datetime,
) -> CategoryAdmin:
    _may_change(session, actor, to_change=True)
    category = _category(session, code)
    kind_before = category.kind
    changed = apply(
        category,
        {
            "names": dict(change.name) if change.name is not None else None,
            "name": in_language(change.name, "en") if change.name else None,
            "hints": dict(change.hint) if change.hint is not None else None,
            "hint": in_language(change.hint, "en") if change.hint is not None else None,
            "kind": change.kind,
            "cargo_relevant": change.cargo_relevant,
            "active": change.active,
        },
    )
    if "kind" in changed:
        # Last in its new kind; both kinds are numbered afresh, closing the gap it left.
        category.position = _last_position(session, category.kind) + 1
        session.add(category)
        session.flush()
        for kind in (kind_before, category.kind):
            for position, each in enumerate(_ordered(session, kind), start=1):
                each.position = position
                session.add(each)
    if changed:
        session.add(category)
        session.flush()
        action = "category.changed"
        if "active" in changed:
            action = "category.restored" if category.active else "category.retired"
        _audit(session, keyring, actor, action, category, now, changed)
    return _views(session, [category])[0]


def move_category(
    *, session: Session, keyring: KeyRing, actor: Staff, code: str, up: bool, now: datetime
) -> list[CategoryAdmin]:
    """One place up or down within its kind, the order reporters see."""
    _may_change(session, actor, to_change=True)
    category = _category(session, code)
    siblings = _ordered(session, category.kind)
    session.refresh(category)
    before = category.position
    if move_among(siblings, category, up):
        session.add_all(siblings)
        session.flush()
        _audit(
            session,
            keyring,
            actor,
            "category.moved",
            category,
            now,
            {"position": f"{before} -> {category.position}"},
        )
    return _views(session, _ordered(session))
