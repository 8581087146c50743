"""The one authorisation policy: what each staff role may do.

Every route and console page declares the permission it needs (or that it is public);
services check the same permissions again, so a route that forgets cannot leak.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    administrator = "administrator"
    triager = "triager"
    liaison = "liaison"
    auditor = "auditor"


class Permission(StrEnum):
    # Every signed-in staff member: the console's shell and their own account.
    own_account = "own_account"
    # Administrators: people and configuration.
    manage_staff = "manage_staff"
    # Triagers: reports, cases and referrals.
    triage = "triage"
    # Administrators, who write them, and triagers, who route by them: the routing rules.
    read_routing = "read_routing"
    # Liaison officers: referrals to their own body.
    work_referrals = "work_referrals"
    # Auditors: the audit log.
    read_audit = "read_audit"


GRANTS: dict[Role, frozenset[Permission]] = {
    Role.administrator: frozenset(
        {Permission.own_account, Permission.manage_staff, Permission.read_routing}
    ),
    Role.triager: frozenset({Permission.own_account, Permission.triage, Permission.read_routing}),
    Role.liaison: frozenset({Permission.own_account, Permission.work_referrals}),
    Role.auditor: frozenset({Permission.own_account, Permission.read_audit}),
}


def allows(role: Role | str, permission: Permission) -> bool:
    return permission in GRANTS.get(Role(role), frozenset())
