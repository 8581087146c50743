from __future__ import annotations

from fastapi import APIRouter

from api.deps import KeyRingDep, LanguageDep, Now, SessionDep, SettingsDep
from api.proofs import service as proofs_service
from api.proofs.schemas import ChallengePublic
from api.public import service
from api.public.schemas import PublicConfig

router = APIRouter(prefix="/public", tags=["reporter"])


@router.get("/config", summary="What a reporter's client needs to show the form")
def get_config(session: SessionDep, settings: SettingsDep, language: LanguageDep) -> PublicConfig:
    """Ports with their zones and emergency numbers, the taxonomy, the bodies a reporter
    may exclude and the languages offered, in the language asked for (`?lang=fr`, else
    `Accept-Language`)."""
    return service.public_config(session=session, settings=settings, language=language)


@router.post("/challenge", summary="A proof-of-work challenge")
def post_challenge(keyring: KeyRingDep, settings: SettingsDep, now: Now) -> ChallengePublic:
    """Find a `nonce` such that SHA-256 of `"{challenge}:{nonce}"` starts with
    `difficulty` zero bits, and send both with the report or the receipt login. Each
    challenge works once, until `expires_at`. Issuing one stores nothing."""
    return proofs_service.issue_challenge(keyring=keyring, settings=settings, now=now)
