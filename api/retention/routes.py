"""Retention as administrators set it: each port's retention, the cases soon to be purged,
and the legal holds that keep a case until released."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from api.deps import KeyRingDep, Now, SessionDep, require
from api.errors import STAFF_ONLY, error_responses
from api.policy import Permission
from api.retention import policy
from api.retention.schemas import CaseRetentionOut, LegalHoldIn, PortRetention, RetentionIn
from api.staff.models import Staff

router = APIRouter(tags=["retention"], responses=STAFF_ONLY)
Administrator = Annotated[Staff, Depends(require(Permission.manage_staff))]
PortCode = Annotated[str, Path(max_length=16)]
CaseReference = Annotated[str, Path(max_length=16, description="For example C-7K3QX0MZ.")]


@router.put(
    "/ports/{code}/retention",
    summary="Set how long a port keeps closed cases before they are purged",
    responses=error_responses(404),
)
def put_retention(
    code: PortCode,
    retention: RetentionIn,
    actor: Administrator,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
) -> PortRetention:
    port = policy.set_retention(
        session=session,
        keyring=keyring,
        actor=actor,
        code=code,
        days=retention.retention_days,
        now=now,
    )
    return PortRetention(code=port.code, name=port.name, retention_days=port.retention_days)


@router.get(
    "/retention/to-be-purged",
    summary="Closed cases to be purged within 14 days, held ones too",
)
def get_to_be_purged(actor: Administrator, session: SessionDep, now: Now) -> list[CaseRetentionOut]:
    return [
        CaseRetentionOut.model_validate(due)
        for due in policy.to_be_purged(session=session, actor=actor, now=now)
    ]


@router.put(
    "/cases/{reference}/legal-hold",
    summary="Place a case under legal hold (it is not purged until released)",
    responses=error_responses(404),
)
def put_legal_hold(
    reference: CaseReference,
    hold: LegalHoldIn,
    actor: Administrator,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
) -> CaseRetentionOut:
    held = policy.place_hold(
        session=session,
        keyring=keyring,
        actor=actor,
        reference=reference,
        reason=hold.reason,
        now=now,
    )
    return CaseRetentionOut.model_validate(held)


@router.delete(
    "/cases/{reference}/legal-hold",
    summary="Release a case's legal hold (it follows its port's retention again)",
    responses=error_responses(404),
)
def delete_legal_hold(
    reference: CaseReference,
    actor: Administrator,
    session: SessionDep,
    keyring: KeyRingDep,
    now: Now,
) -> CaseRetentionOut:
    released = policy.release_hold(
        session=session, keyring=keyring, actor=actor, reference=reference, now=now
    )
    return CaseRetentionOut.model_validate(released)
