"""Referrals made directly with the models, as the referral service stores them."""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlmodel import Session, select

from api.agencies.models import Body
from api.agencies.service import WEBHOOK_SECRET_LABEL
from api.cases import service as cases_service
from api.crypto import KeyRing, seal, seal_text
from api.db import to_hour
from api.ports.models import Port, Zone
from api.referrals import outbox
from api.referrals.models import Referral, ReferralAttachment
from api.referrals.service import IDENTITY_LABEL, PHOTO_LABEL, PHOTO_NAME_LABEL, SUMMARY_LABEL
from api.taxonomy.models import Category

SUMMARY = "Seal of reefer MSKU 123456-7 cut at night on stack 14; two men, a white van."
WEBHOOK_SECRET = "whsec-" + "k" * 32


def make_body(
    session: Session,
    keyring: KeyRing,
    *,
    email: str = "",
    webhook_url: str = "",
    secret: str | None = WEBHOOK_SECRET,
) -> Body:
    body = Body(
        code=f"body-{secrets.token_hex(4)}",
        name="Harbour Police Liaison",
        kind="police",
        notification_email=email,
        webhook_url=webhook_url,
    )
    if secret is not None:
        data_key, body.webhook_wrapped_key = keyring.new_data_key()
        body.webhook_secret_sealed = seal_text(data_key, secret, label=WEBHOOK_SECRET_LABEL)
    session.add(body)
    session.flush()
    return body


def make_referral(
    session: Session,
    keyring: KeyRing,
    *,
    body: Body,
    now: datetime,
    summary: str = SUMMARY,
    tlp: str = "AMBER",
    identities: list[dict[str, str | None]] | None = None,
    photos: Sequence[tuple[str, bytes]] = (),
    enqueue: bool = True,
) -> Referral:
    """A referral of a new case in North Haven's container terminal, with its notices."""
    category = session.exec(select(Category).where(Category.code == "seal-tampering")).one()
    port = session.exec(select(Port).where(Port.code == "NHV")).one()
    zone = session.exec(select(Zone).where(Zone.port_id == port.id, Zone.code == "ct-north")).one()
    assert category.id is not None and port.id is not None and body.id is not None
    case = cases_service.open_case(
        session=session,
        kind="incident",
        category_id=category.id,
        port_id=port.id,
        zone_id=zone.id,
        cargo_direction="inbound",
        received_hour=to_hour(now),
    )
    data_key, wrapped = keyring.new_data_key()
    referral = Referral(
        reference="F-" + secrets.token_hex(4).upper(),
        case_id=case.id or 0,
        body_id=body.id,
        tlp=tlp,
        wrapped_key=wrapped,
        summary_sealed=seal_text(data_key, summary, label=SUMMARY_LABEL),
        identity_sealed=seal_text(data_key, json.dumps(identities), label=IDENTITY_LABEL)
        if identities
        else None,
        kind="incident",
        category_id=category.id,
        port_id=port.id,
        zone_id=zone.id,
        severity=3,
        created_at=now,
        acknowledge_due=now + timedelta(days=2),
    )
    session.add(referral)
    session.flush()
    for seq, (name, content) in enumerate(photos, start=1):
        session.add(
            ReferralAttachment(
                referral_id=referral.id or 0,
                seq=seq,
                media_type="image/jpeg",
                byte_size=len(content),
                width=64,
                height=48,
                name_sealed=seal_text(
                    data_key,
                    json.dumps({"report": "R-TEST0001", "name": name}),
                    label=PHOTO_NAME_LABEL,
                ),
                content_sealed=seal(data_key, content, label=PHOTO_LABEL),
            )
        )
    session.flush()
    if enqueue:
        outbox.enqueue(session=session, referral=referral, now=now)
    return referral
