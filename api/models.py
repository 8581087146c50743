"""Every table, imported once so Alembic and the app see the whole schema."""

from api.agencies.models import Body, BodyJurisdiction, RoutingRule
from api.audit.models import AuditEntry, AuditHead
from api.cases.models import Case, CaseEntity, CaseTag
from api.jobs.models import Job, Schedule
from api.keystore.models import KeyCheck
from api.ports.models import EmergencyNumber, Port, Zone
from api.proofs.models import SpentProof
from api.referrals.models import (
    CaseImplicatedBody,
    OutboxJob,
    Referral,
    ReferralAttachment,
    ReferralEvent,
)
from api.reports.models import (
    Attachment,
    DraftAttachment,
    Message,
    Report,
    ReportExclusion,
    ReportStep,
    Submission,
)
from api.retention.models import PurgedCount, PurgedReceipt, PurgedReferral
from api.staff.models import Invitation, RecoveryCode, Staff, StaffPort, StaffSession
from api.taxonomy.models import Category
from api.triage.models import CaseNote

__all__ = [
    "Attachment",
    "AuditEntry",
    "AuditHead",
    "Body",
    "BodyJurisdiction",
    "Case",
    "CaseEntity",
    "CaseImplicatedBody",
    "CaseNote",
    "CaseTag",
    "Category",
    "DraftAttachment",
    "EmergencyNumber",
    "Invitation",
    "Job",
    "KeyCheck",
    "Message",
    "OutboxJob",
    "Port",
    "PurgedCount",
    "PurgedReceipt",
    "PurgedReferral",
    "RecoveryCode",
    "Referral",
    "ReferralAttachment",
    "ReferralEvent",
    "Report",
    "ReportExclusion",
    "ReportStep",
    "RoutingRule",
    "Schedule",
    "SpentProof",
    "Staff",
    "StaffPort",
    "StaffSession",
    "Submission",
    "Zone",
]
