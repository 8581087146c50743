"""The first run of a real installation: the default taxonomy and the first administrator,
who then sets up the port in the console. It runs once, from ``portline init`` or from the
console's set-up page (with the token ``portline serve`` prints while no administrator
exists): an installation that already has an administrator is refused, so a second run (or
a stranger with shell access who did not read the output) cannot add another by this door."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlmodel import Session, select

from api.crypto import KeyRing
from api.errors import Conflict
from api.i18n import N_
from api.policy import Role
from api.staff import service as staff_service
from api.staff.models import Staff
from api.taxonomy.defaults import install_taxonomy

# The pg_advisory_xact_lock key of the first administrator: the ASCII bytes of "pl-first"
# read as a big-endian signed 64-bit integer. Not the start-up lock's key: ``portline init``
# holds that one on a connection of its own while it installs on another.
INSTALL_LOCK_KEY = int.from_bytes(b"pl-first", "big", signed=True)


class AlreadyInstalled(Conflict):
    """The installation has an administrator: the first one cannot be made again."""


def is_installed(session: Session) -> bool:
    """Whether the installation has an administrator (active or not)."""
    administrator = session.exec(
        select(Staff.id).where(Staff.role == Role.administrator.value)
    ).first()
    return administrator is not None


def _one_at_a_time(session: Session) -> None:
    """Make the check for an administrator and the creation of one a single step.

    On PostgreSQL a transaction lock: a second installer waits here until the first
    commits or rolls back, then (read committed) sees its administrator. On SQLite every
    transaction already starts with ``BEGIN IMMEDIATE`` (api.db), the database's one
    writer lock, so nothing can come between the check and the creation."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": INSTALL_LOCK_KEY})


def install(
    *, session: Session, keyring: KeyRing, email: str, display_name: str, now: datetime
) -> staff_service.NewAccount:
    """Install the default taxonomy where it is missing and create the first administrator,
    whose invitation link is returned once. Atomic: of two first runs at once (on the
    command line, in the console, or one of each), the second waits and is refused, and
    the lock lasts until the caller's transaction ends. Nothing is committed; the account's
    creation is audited (``staff.created``, by ``system``)."""
    _one_at_a_time(session)
    if is_installed(session):
        raise AlreadyInstalled(
            N_(
                "Portline is already set up here: it has an administrator. "
                "Add accounts in the console or with portline staff create."
            )
        )
    install_taxonomy(session)
    return staff_service.create_account(
        session=session,
        keyring=keyring,
        actor=None,
        email=email,
        role=Role.administrator,
        display_name=display_name,
        now=now,
    )


# The console's set-up token -------------------------------------------------------------------


@dataclass(frozen=True)
class SetupToken:
    """The one-time token that opens the console's set-up page, drawn by ``portline
    serve`` when it starts without an administrator. The token itself is printed once on
    the server's console and never kept; the process keeps only its hash, in memory.

    Each ``portline serve`` draws its own and prints its own line: a token is good on the
    processes of the ``serve`` that printed it (``--workers N`` hands its digest down to
    each), until an administrator exists, and dies with them (a restart without an
    administrator prints a new one). Nothing shared is used
    on purpose: a token stored in the database would outlive the process that printed it,
    and one derived from the key would be the same on every start, so any old console
    scroll-back would open the page. Behind a proxy spreading requests over several
    ``serve`` commands, stop all but one while setting up, or use ``portline init``."""

    digest: str

    @classmethod
    def draw(cls) -> tuple[str, SetupToken]:
        """A new token (to print, once) and what the process keeps of it."""
        token = secrets.token_urlsafe(32)
        return token, cls(_token_digest(token))

    def matches(self, token: str) -> bool:
        # Digests of equal length, compared in constant time: the answer's timing says
        # nothing about how much of a guess was right.
        return hmac.compare_digest(_token_digest(token), self.digest)


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()
