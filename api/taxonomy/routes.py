"""Categories as administrators configure them. The console does the same."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from api.deps import KeyRingDep, Now, SessionDep, require
from api.errors import STAFF_ONLY, error_responses
from api.moves import Direction, MoveIn
from api.policy import Permission
from api.staff.models import Staff
from api.taxonomy import config
from api.taxonomy.schemas import CategoryAdmin, CategoryChange, CategoryIn

router = APIRouter(prefix="/categories", tags=["configuration"], responses=STAFF_ONLY)
Administrator = Annotated[Staff, Depends(require(Permission.manage_staff))]
CategoryCode = Annotated[str, Path(max_length=48)]


@router.get("", summary="Every category, retired ones too, by kind and order")
def get_categories(actor: Administrator, session: SessionDep) -> list[CategoryAdmin]:
    return config.list_categories(session=session, actor=actor)


@router.get("/{code}", summary="One category", responses=error_responses(404))
def get_category(code: CategoryCode, actor: Administrator, session: SessionDep) -> CategoryAdmin:
    return config.category_view(session=session, actor=actor, code=code)


@router.post(
    "",
    status_code=201,
    summary="Add a category (offered last in its kind)",
    responses=error_responses(403, 409),
)
def post_category(
    category_in: CategoryIn,
    actor: Administrator,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
) -> CategoryAdmin:
    return config.create_category(
        session=session, keyring=keyring, actor=actor, category_in=category_in, now=now
    )


@router.patch(
    "/{code}",
    summary="Change a category's names, hints, kind or cargo question; retire or restore it",
    responses=error_responses(403, 404),
)
def patch_category(
    code: CategoryCode,
    change: CategoryChange,
    actor: Administrator,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
) -> CategoryAdmin:
    return config.change_category(
        session=session, keyring=keyring, actor=actor, code=code, change=change, now=now
    )


@router.post(
    "/{code}/move",
    summary="Move a category one place up or down within its kind",
    responses=error_responses(403, 404),
)
def move_category(
    code: CategoryCode,
    move: MoveIn,
    actor: Administrator,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
) -> list[CategoryAdmin]:
    return config.move_category(
        session=session,
        keyring=keyring,
        actor=actor,
        code=code,
        up=move.direction == Direction.up,
        now=now,
    )
