"""The referral as JSON and as a STIX 2.1 bundle checked by the OASIS validator."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlmodel import Session
from stix2validator import ValidationOptions, validate_instance

from api.crypto import KeyRing
from api.referrals import export
from api.referrals.service import SUMMARY_LABEL
from tests.factories import jpeg_bytes
from tests.referrals.factories import SUMMARY, make_body, make_referral

T0 = datetime(2026, 11, 27, 9, 30, 15, 123456, tzinfo=UTC)
PUBLIC_URL = "https://portline.port.test"
IDENTITY: dict[str, str | None] = {
    "report": "R-TEST0001",
    "name": "Jan Peeters",
    "contact": "+32 470 00 00 00",
}


def document_of(
    session: Session,
    keyring: KeyRing,
    *,
    tlp: str = "AMBER",
    identities: list[dict[str, str | None]] | None = None,
    photos: Sequence[tuple[str, bytes]] = (),
) -> dict[str, Any]:
    referral = make_referral(
        session,
        keyring,
        body=make_body(session, keyring),
        now=T0,
        tlp=tlp,
        identities=identities,
        photos=photos,
    )
    return export.referral_document(
        session=session, keyring=keyring, referral=referral, public_url=PUBLIC_URL
    )


class TestJsonDocument:
    def test_the_summary_label_is_the_one_the_referral_is_sealed_with(self) -> None:
        assert SUMMARY_LABEL == b"referral.summary"

    def test_it_has_the_case_facts_the_label_the_summary_and_the_deadline(
        self, session: Session, keyring: KeyRing
    ) -> None:
        document = document_of(session, keyring, tlp="AMBER+STRICT")
        reference = document["reference"]

        assert document["type"] == "portline.referral" and document["version"] == 1
        assert document["url"] == f"{PUBLIC_URL}/admin/referrals/{reference}"
        assert document["kind"] == "incident"
        assert document["category"] == {
            "code": "seal-tampering",
            "name": "A seal or cargo was tampered with",
        }
        assert document["port"] == {"code": "NHV", "name": "Port of Norderhaven"}
        assert document["zone"] == {"code": "ct-north", "name": "Container terminal North"}
        assert document["severity"] == 3
        assert document["tlp"] == "TLP:AMBER+STRICT"
        assert document["summary"] == SUMMARY
        assert document["created_at"] == "2026-11-27T09:30:15.123456Z"
        assert document["acknowledge_due"] == "2026-11-29T09:30:15.123456Z"
        assert document["attachments"] == []
        assert "identities" not in document
        json.dumps(document)  # plain JSON all through

    def test_identities_appear_only_when_the_referral_shares_them(
        self, session: Session, keyring: KeyRing
    ) -> None:
        document = document_of(session, keyring, identities=[IDENTITY])

        assert document["identities"] == [IDENTITY]

    def test_photos_travel_as_metadata_a_digest_and_a_download_address(
        self, session: Session, keyring: KeyRing
    ) -> None:
        photo = jpeg_bytes()
        document = document_of(session, keyring, photos=[("stack-14.jpg", photo)])
        reference = document["reference"]

        assert document["attachments"] == [
            {
                "seq": 1,
                "name": "stack-14.jpg",
                "media_type": "image/jpeg",
                "width": 64,
                "height": 48,
                "sha256": hashlib.sha256(photo).hexdigest(),
                "download_url": f"{PUBLIC_URL}/api/v1/referrals/{reference}/attachments/1",
            }
        ]
        assert photo.hex()[:64] not in json.dumps(document)


class TestStixBundle:
    @pytest.mark.parametrize("tlp", ["RED", "AMBER+STRICT", "AMBER", "GREEN", "CLEAR"])
    def test_the_bundle_passes_the_oasis_validator(
        self, session: Session, keyring: KeyRing, tlp: str
    ) -> None:
        referral = make_referral(
            session,
            keyring,
            body=make_body(session, keyring),
            now=T0,
            tlp=tlp,
            identities=[IDENTITY],
            photos=[("stack-14.jpg", jpeg_bytes())],
        )

        bundle = export.stix_bundle(
            session=session, keyring=keyring, referral=referral, public_url=PUBLIC_URL
        )
        results = validate_instance(bundle, ValidationOptions(version="2.1"))

        assert results.is_valid, [error.message for error in results.errors]
        assert results.errors == []
        # The one best practice set aside on purpose: ids are uuid5 names of the reference
        # (the same referral exported twice gives the same objects), not random UUIDv4s.
        assert all("{103}" in warning for warning in results.warnings), results.warnings

    def test_report_and_incident_carry_the_official_tlp_2_marking(
        self, session: Session, keyring: KeyRing
    ) -> None:
        referral = make_referral(
            session, keyring, body=make_body(session, keyring), now=T0, tlp="AMBER+STRICT"
        )

        bundle = export.stix_bundle(
            session=session, keyring=keyring, referral=referral, public_url=PUBLIC_URL
        )

        by_type = {item["type"]: item for item in bundle["objects"]}
        marking = by_type["marking-definition"]
        assert marking["id"] == "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003"
        assert marking["name"] == "TLP:AMBER+STRICT"
        assert marking["extensions"][export.TLP_EXTENSION_ID]["tlp_2_0"] == "amber+strict"
        for kind in ("report", "incident"):
            assert by_type[kind]["object_marking_refs"] == [marking["id"]]
        assert by_type["report"]["object_refs"] == [by_type["incident"]["id"]]
        assert by_type["incident"]["description"] == SUMMARY
        assert by_type["incident"]["created"] == "2026-11-27T09:30:15.123Z"

    def test_ids_follow_from_the_reference_and_no_identity_is_exported(
        self, session: Session, keyring: KeyRing
    ) -> None:
        referral = make_referral(
            session, keyring, body=make_body(session, keyring), now=T0, identities=[IDENTITY]
        )

        first, second = (
            export.stix_bundle(
                session=session, keyring=keyring, referral=referral, public_url=PUBLIC_URL
            )
            for _ in range(2)
        )

        assert first == second
        assert "Jan Peeters" not in json.dumps(first) and "+32 470" not in json.dumps(first)
