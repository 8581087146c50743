from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, col, select

from api.agencies.models import Body


def excludable_bodies(*, session: Session) -> Sequence[Body]:
    query = (
        select(Body)
        .where(col(Body.active), col(Body.reporter_may_exclude))
        .order_by(col(Body.name))
    )
    return session.exec(query).all()


def find_excludable(*, session: Session, codes: Sequence[str]) -> dict[str, Body]:
    """The bodies a reporter may exclude among ``codes``, by code."""
    if not codes:
        return {}
    query = select(Body).where(col(Body.code).in_(codes), col(Body.reporter_may_exclude))
    return {body.code: body for body in session.exec(query)}


def receiving_bodies(*, session: Session) -> Sequence[Body]:
    """Every body, retired ones too, so accounts of a retired body still show its name."""
    return session.exec(select(Body).order_by(col(Body.name))).all()
