"""Time-based one-time passwords (RFC 6238) and single-use recovery codes."""

from __future__ import annotations

import secrets
from datetime import datetime

import pyotp
import segno

ISSUER = "Portline"
STEP_SECONDS = 30
RECOVERY_CODES = 10


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The enrolment QR code as an SVG element, drawn here: no image service is asked."""
    return str(segno.make(uri, error="m").svg_inline(scale=4, border=2, dark="#000", light="#fff"))


def matching_step(secret: str, code: str, now: datetime, *, after_step: int) -> int | None:
    """The time step ``code`` belongs to (now, or one step either side), if it is newer
    than ``after_step``: a code is accepted only once."""
    digits = "".join(character for character in code if not character.isspace())
    if len(digits) != 6 or not digits.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    current = int(now.timestamp()) // STEP_SECONDS
    for step in (current - 1, current, current + 1):
        if step > after_step and secrets.compare_digest(totp.at(step * STEP_SECONDS), digits):
            return step
    return None


def new_recovery_codes() -> list[str]:
    """Ten codes like ``k7m2-9xq4-wd3p``: easy to copy by hand, hard to guess."""
    alphabet = "23456789abcdefghjkmnpqrstuvwxyz"
    return [
        "-".join("".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(3))
        for _ in range(RECOVERY_CODES)
    ]


def normalise_recovery_code(code: str) -> str:
    return "".join(character for character in code.lower() if character.isalnum())
