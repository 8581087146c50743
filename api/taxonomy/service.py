from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, col, select

from api.taxonomy.models import Category


def active_categories(*, session: Session) -> Sequence[Category]:
    query = (
        select(Category)
        .where(col(Category.active))
        .order_by(col(Category.kind), col(Category.position))
    )
    return session.exec(query).all()


def find_category(*, session: Session, code: str) -> Category | None:
    return session.exec(select(Category).where(Category.code == code, col(Category.active))).first()


def get_category(*, session: Session, category_id: int) -> Category | None:
    return session.get(Category, category_id)
