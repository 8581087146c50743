"""The first run of a real installation (``portline init``): the default taxonomy and the
first administrator, who then sets up the port in the console. It runs once: an
installation that already has an administrator is refused, so a second run (or a stranger
with shell access who did not read the output) cannot add another by this door."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from api.crypto import KeyRing
from api.errors import Conflict
from api.i18n import N_
from api.policy import Role
from api.staff import service as staff_service
from api.staff.models import Staff
from api.taxonomy.defaults import install_taxonomy


def is_installed(session: Session) -> bool:
    """Whether the installation has an administrator (active or not)."""
    administrator = session.exec(
        select(Staff.id).where(Staff.role == Role.administrator.value)
    ).first()
    return administrator is not None


def install(
    *, session: Session, keyring: KeyRing, email: str, display_name: str, now: datetime
) -> staff_service.NewAccount:
    """Install the default taxonomy where it is missing and create the first administrator,
    whose invitation link is returned once. The caller holds the start-up lock, so two
    first runs at once take turns and the second is refused. Nothing is committed."""
    if is_installed(session):
        raise Conflict(
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
