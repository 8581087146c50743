"""Every table, imported once so Alembic and the app see the whole schema."""

from api.agencies.models import Body
from api.keystore.models import KeyCheck
from api.ports.models import EmergencyNumber, Port, Zone
from api.proofs.models import SpentProof
from api.reports.models import Attachment, Message, Report, ReportExclusion, Submission
from api.taxonomy.models import Category

__all__ = [
    "Attachment",
    "Body",
    "Category",
    "EmergencyNumber",
    "KeyCheck",
    "Message",
    "Port",
    "Report",
    "ReportExclusion",
    "SpentProof",
    "Submission",
    "Zone",
]
