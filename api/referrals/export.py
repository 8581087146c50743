"""A referral as the receiving body gets it: a JSON document (what the webhook carries
and the JSON export) and a STIX 2.1 bundle for the body's threat-intelligence tools.

Both are built from the referral's own copy (``referrals_service.view_of``), never from
the case, so they hold exactly what triage chose to share. Photos travel as metadata, a
SHA-256 and an authenticated download address, not as content: a webhook body stays
small, and the photo itself is fetched only by someone who can sign in as the body.

The STIX bundle carries no reporter identity, even when the referral shares one: bundles
are made to be imported into other platforms and passed on, an identity is not."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, col, select

from api.crypto import KeyRing, open_sealed
from api.ports.models import Port, Zone
from api.referrals import service as referrals_service
from api.referrals.models import Referral, ReferralAttachment
from api.taxonomy.models import Category

DOCUMENT_TYPE = "portline.referral"
DOCUMENT_VERSION = 1

# The TLP 2.0 marking definitions of the STIX 2.1 extension published by the OASIS CTI TC
# (cti-stix-common-objects, extension-definition-specifications/tlp-2.0): the same ids
# everywhere, so a receiver recognises the marking without knowing Portline.
TLP_EXTENSION_ID = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"
TLP_MARKING_IDS = {
    "CLEAR": "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    "GREEN": "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    "AMBER": "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    "AMBER+STRICT": "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    "RED": "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}
_TLP_MARKINGS_CREATED = "2022-10-01T00:00:00.000Z"

# Ids of the objects made from one referral are uuid5 names in this namespace: exporting
# the same referral twice gives the same objects, which a receiver then merges.
STIX_NAMESPACE = uuid.UUID("6950d737-cf7a-409e-9eed-49a3218de52e")


def console_url(public_url: str, reference: str) -> str:
    """Where a liaison officer opens the referral (after signing in)."""
    return f"{public_url}/admin/referrals/{reference}"


def attachment_path(reference: str, seq: int) -> str:
    """The API address of one shared photo; it answers only the body's signed-in staff."""
    return f"/api/v1/referrals/{reference}/attachments/{seq}"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _stix_time(moment: datetime) -> str:
    # STIX wants created and modified to the millisecond, in UTC with a Z.
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _photo_digests(session: Session, keyring: KeyRing, referral: Referral) -> dict[int, str]:
    """SHA-256 of each shared photo by its number, so a receiver can check what it fetched."""
    data_key = keyring.unwrap(referral.wrapped_key)
    rows = session.exec(
        select(ReferralAttachment)
        .where(ReferralAttachment.referral_id == referral.id)
        .order_by(col(ReferralAttachment.seq))
    )
    return {
        row.seq: hashlib.sha256(
            open_sealed(data_key, row.content_sealed, label=referrals_service.PHOTO_LABEL)
        ).hexdigest()
        for row in rows
    }


def referral_document(
    *, session: Session, keyring: KeyRing, referral: Referral, public_url: str
) -> dict[str, Any]:
    """The referral as the body receives it: the case facts as shared, the TLP label, the
    summary, the identities the reporters agreed to pass on (only when there are some),
    the photos' metadata with where to fetch them, and the deadline."""
    view = referrals_service.view_of(
        session=session, keyring=keyring, referral=referral, now=referral.created_at
    )
    category = session.get(Category, referral.category_id)
    port = session.get(Port, referral.port_id)
    zone = session.get(Zone, referral.zone_id) if referral.zone_id else None
    digests = _photo_digests(session, keyring, referral)
    document: dict[str, Any] = {
        "type": DOCUMENT_TYPE,
        "version": DOCUMENT_VERSION,
        "reference": view.reference,
        "url": console_url(public_url, view.reference),
        "body": {"code": view.body, "name": view.body_name},
        "kind": view.kind,
        "category": {"code": category.code if category else "", "name": view.category},
        "port": {"code": port.code if port else "", "name": view.port},
        "zone": {"code": zone.code, "name": zone.name} if zone else None,
        "severity": view.severity,
        "tlp": f"TLP:{view.tlp}",
        "summary": view.summary,
        "attachments": [
            {
                "seq": photo.seq,
                "name": photo.name,
                "media_type": photo.media_type,
                "width": photo.width,
                "height": photo.height,
                "sha256": digests.get(photo.seq, ""),
                "download_url": public_url + attachment_path(view.reference, photo.seq),
            }
            for photo in view.photos
        ],
        "acknowledge_due": _iso(view.acknowledge_due),
        "created_at": _iso(referral.created_at),
    }
    if view.identities:
        document["identities"] = [identity.model_dump() for identity in view.identities]
    return document


def tlp_marking(label: str) -> dict[str, Any]:
    """The official TLP 2.0 marking-definition object for ``label`` (``AMBER+STRICT``...)."""
    return {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": TLP_MARKING_IDS[label],
        "created": _TLP_MARKINGS_CREATED,
        "name": f"TLP:{label}",
        "extensions": {
            TLP_EXTENSION_ID: {"extension_type": "property-extension", "tlp_2_0": label.lower()}
        },
    }


def _stix_id(kind: str, reference: str) -> str:
    return f"{kind}--{uuid.uuid5(STIX_NAMESPACE, f'{kind}/{reference}')}"


def stix_bundle(
    *, session: Session, keyring: KeyRing, referral: Referral, public_url: str
) -> dict[str, Any]:
    """A STIX 2.1 bundle: the TLP 2.0 marking, an ``incident`` (the shared summary, the
    case facts as labels, the photos as references) and the ``report`` that publishes it,
    both marked. Every id is derived from the referral's reference."""
    document = referral_document(
        session=session, keyring=keyring, referral=referral, public_url=public_url
    )
    reference = document["reference"]
    marking = tlp_marking(referral.tlp)
    created = _stix_time(referral.created_at)
    labels = [
        f"kind:{document['kind']}",
        f"category:{document['category']['code']}",
        f"port:{document['port']['code']}",
    ]
    if document["zone"]:
        labels.append(f"zone:{document['zone']['code']}")
    if document["severity"] is not None:
        labels.append(f"severity:{document['severity']}")
    where = document["port"]["name"]
    if document["zone"]:
        where = f"{document['zone']['name']}, {where}"
    # No URL here: STIX asks for a hash beside every URL, and a console page has none.
    portline_reference = {"source_name": "portline", "external_id": reference}
    incident = {
        "type": "incident",
        "spec_version": "2.1",
        "id": _stix_id("incident", reference),
        "created": created,
        "modified": created,
        "name": f"{document['category']['name']} ({where})",
        "description": document["summary"],
        "labels": labels,
        "external_references": [
            portline_reference,
            *(
                {
                    "source_name": "portline-attachment",
                    "description": f"{attachment['name']} ({attachment['media_type']})",
                    "url": attachment["download_url"],
                    "hashes": {"SHA-256": attachment["sha256"]},
                }
                for attachment in document["attachments"]
            ),
        ],
        "object_marking_refs": [marking["id"]],
    }
    report = {
        "type": "report",
        "spec_version": "2.1",
        "id": _stix_id("report", reference),
        "created": created,
        "modified": created,
        "name": f"Portline referral {reference}",
        "report_types": ["threat-report"],
        "published": created,
        "object_refs": [incident["id"]],
        "external_references": [portline_reference],
        "object_marking_refs": [marking["id"]],
    }
    return {
        "type": "bundle",
        "id": _stix_id("bundle", reference),
        "objects": [marking, incident, report],
    }
