"""E-mail addresses people type into a form (a body's notices, a port's triage box)."""

from __future__ import annotations

import re

from api.errors import DomainMessage
from api.i18n import N_

_EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@"
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)


def check_email(address: str) -> str:
    """An address to send notices to, or empty for none."""
    address = address.strip()
    if not address:
        return ""
    local, _, _domain = address.rpartition("@")
    if not _EMAIL.fullmatch(address) or len(local) > 64 or ".." in address:
        raise DomainMessage(N_("This is not an e-mail address."))
    return address
