"""Every table, imported once so Alembic and the app see the whole schema."""

from api.agencies.models import Body
from api.audit.models import AuditEntry, AuditHead
from api.cases.models import Case, CaseEntity, CaseTag
from api.keystore.models import KeyCheck
from api.ports.models import EmergencyNumber, Port, Zone
from api.proofs.models import RateWindow, SpentProof
from api.reports.models import (
    Attachment,
    DraftAttachment,
    Message,
    Report,
    ReportExclusion,
    Submission,
)
from api.staff.models import Invitation, RecoveryCode, Staff, StaffSession
from api.taxonomy.models import Category

__all__ = [
    "Attachment",
    "AuditEntry",
    "AuditHead",
    "Body",
    "Case",
    "CaseEntity",
    "CaseTag",
    "Category",
    "DraftAttachment",
    "EmergencyNumber",
    "Invitation",
    "KeyCheck",
    "Message",
    "Port",
    "RateWindow",
    "RecoveryCode",
    "Report",
    "ReportExclusion",
    "SpentProof",
    "Staff",
    "StaffSession",
    "Submission",
    "Zone",
]
