"""What the purge leaves so that people are told the truth (api/retention/purge.py): is
this receipt one of a purged report, which referrals of this body were purged."""

from __future__ import annotations

from sqlmodel import Session, col, select

from api.retention.models import PurgedReceipt, PurgedReferral


def receipt_purged(*, session: Session, lookup: str) -> bool:
    """Whether ``lookup`` (a receipt's keyed lookup hash) is that of a purged report."""
    return session.get(PurgedReceipt, lookup) is not None


def referral_purged(*, session: Session, reference: str, body_id: int) -> bool:
    """Whether the referral ``reference`` to the body ``body_id`` was purged."""
    tombstone = session.get(PurgedReferral, reference)
    return tombstone is not None and tombstone.body_id == body_id


def purged_referrals(*, session: Session, body_id: int) -> list[str]:
    """The references of the purged referrals to the body, in order."""
    return list(
        session.exec(
            select(PurgedReferral.reference)
            .where(PurgedReferral.body_id == body_id)
            .order_by(col(PurgedReferral.reference))
        )
    )
