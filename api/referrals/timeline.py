"""A referral's timeline, sealed under the referral's key. Kept apart from the referral
service so that the reporter's side can add the reporter's answers without importing it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session, col, select

from api.crypto import KeyRing, open_text, seal_text
from api.db import to_hour
from api.referrals.models import LIVE_STATUSES, Referral, ReferralEvent

EVENT_LABEL = b"referral.event"


def add_event(
    *,
    session: Session,
    keyring: KeyRing,
    referral: Referral,
    kind: str,
    side: str,
    author_id: int | None,
    text: str | None,
    now: datetime,
    state: str = "",
) -> ReferralEvent:
    data_key = keyring.unwrap(referral.wrapped_key)
    event = ReferralEvent(
        referral_id=referral.id or 0,
        seq=referral.next_event_seq,
        kind=kind,
        side=side,
        author_id=author_id,
        body_sealed=seal_text(data_key, text, label=EVENT_LABEL) if text is not None else None,
        state=state,
        created_at=now,
    )
    referral.next_event_seq += 1
    session.add(event)
    session.add(referral)
    session.flush()
    return event


def text_of(data_key: bytes, event: ReferralEvent) -> str | None:
    """An event's text; ``data_key`` is its referral's, unwrapped once by the caller."""
    if event.body_sealed is None:
        return None
    return open_text(data_key, event.body_sealed, label=EVENT_LABEL)


def events_of(*, session: Session, referral_id: int) -> Sequence[ReferralEvent]:
    return session.exec(
        select(ReferralEvent)
        .where(ReferralEvent.referral_id == referral_id)
        .order_by(col(ReferralEvent.seq))
    ).all()


def pass_answer_on(
    *, session: Session, keyring: KeyRing, case_id: int, text: str, now: datetime
) -> None:
    """A reporter answered: each body whose question reached them reads the answer."""
    asked = session.exec(
        select(ReferralEvent, Referral)
        .join(Referral, col(Referral.id) == col(ReferralEvent.referral_id))
        .where(
            Referral.case_id == case_id,
            col(Referral.status).in_(LIVE_STATUSES),
            ReferralEvent.kind == "question",
            ReferralEvent.state == "sent",
        )
    ).all()
    for question, referral in asked:
        question.state = "answered"
        session.add(question)
        add_event(
            session=session,
            keyring=keyring,
            referral=referral,
            kind="answer",
            side="reporter",
            author_id=None,
            text=text,
            now=to_hour(now),  # a reporter's action: the hour only; seq keeps the order
        )
