"""Taking in reports and letting their reporters come back with a receipt.

Costly work (cleaning photos, hashing the receipt, sealing) happens before the first
SQL statement, so a transaction is held only for the writes themselves.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import struct
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from api.agencies import service as agencies_service
from api.agencies.models import Body
from api.cases import service as cases_service
from api.cases.models import Case
from api.config import Settings
from api.crypto import (
    DecryptionError,
    KeyRing,
    derive_key,
    open_sealed,
    open_text,
    seal,
    seal_text,
)
from api.db import next_hour, to_hour
from api.errors import FieldProblem, Gone, Invalid, NotFound, Unauthorized
from api.i18n import N_, in_language, translate
from api.keystore import service as keystore
from api.multipart import UploadedFile
from api.ports import service as ports_service
from api.proofs import service as proofs_service
from api.proofs.service import FormGuard
from api.referrals import timeline
from api.referrals.models import LIVE_STATUSES, Referral
from api.reports import receipts, steps
from api.reports.files import CleanFile, clean_file
from api.reports.models import (
    Attachment,
    DraftAttachment,
    Message,
    Report,
    ReportExclusion,
    Submission,
)
from api.reports.schemas import (
    AttachmentPublic,
    CargoDirection,
    Identity,
    Kind,
    MessagePublic,
    ReceiptOut,
    ReportCreate,
    ReporterLogin,
    ReporterMessageIn,
    ReporterReport,
    ReporterToken,
    StaffAttachment,
    StaffReportView,
    ThreadMessage,
)
from api.retention import tombstones
from api.taxonomy import service as taxonomy_service

_REFERENCE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford: no I, L, O, U
_TOKEN_PURPOSE = "reporter-session"  # noqa: S105 - a signing label, not a secret
# A reporter's token: the report's id, its token generation, the expiry, and a digest of
# its receipt lookup, so that a token can never open another report that was given the id
# of a purged one (SQLite may reuse the highest id once its row is deleted).
_TOKEN = struct.Struct(">QIQ16s")


def _bound_to(report: Report) -> bytes:
    return hashlib.sha256(report.receipt_lookup.encode()).digest()[:16]


STATUS_LABELS: dict[str, str] = {
    "received": N_("Received. The team will read it soon."),
    "acknowledged": N_("Acknowledged. The team is looking into it."),
    "waiting_for_reporter": N_("The team has a question for you. Please answer below."),
    "in_progress": N_("The team is working on your report."),
    "referred": N_("Your report was passed to a competent authority, which is looking into it."),
    "outcome": N_(
        "The authority that handled your report has said what came of it: read its message below."
    ),
    "closed": N_("Closed. The team's last message tells you what came of it."),
}


class Label:
    narrative = b"report.narrative"
    location_detail = b"report.location_detail"
    identity = b"report.identity"
    message = b"message.body"
    file_name = b"attachment.name"
    file_content = b"attachment.content"
    receipt = b"submission.receipt"


@dataclass(frozen=True)
class _SealedFile:
    media_type: str
    byte_size: int
    width: int
    height: int
    name_sealed: bytes
    content_sealed: bytes


def _new_reference() -> str:
    return "R-" + "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(8))


def _clean_files(files: Sequence[UploadedFile], settings: Settings) -> list[tuple[str, CleanFile]]:
    return [
        (
            upload.filename[:255],
            clean_file(
                upload.content,
                field=f"files[{index}]",
                max_bytes=settings.max_file_bytes,
                max_pixels=settings.max_pixels,
            ),
        )
        for index, upload in enumerate(files)
    ]


def _seal_files(data_key: bytes, cleaned: list[tuple[str, CleanFile]]) -> list[_SealedFile]:
    return [
        _SealedFile(
            media_type=clean.media_type,
            byte_size=len(clean.content),
            width=clean.width,
            height=clean.height,
            name_sealed=seal_text(data_key, name, label=Label.file_name),
            content_sealed=seal(data_key, clean.content, label=Label.file_content),
        )
        for name, clean in cleaned
    ]


def _add_attachments(
    *, session: Session, report: Report, sealed_files: list[_SealedFile], now: datetime
) -> list[Attachment]:
    assert report.id is not None
    attachments = []
    for sealed in sealed_files:
        attachment = Attachment(
            report_id=report.id,
            seq=report.next_attachment_seq,
            created_hour=to_hour(now),
            **asdict(sealed),
        )
        report.next_attachment_seq += 1
        session.add(attachment)
        attachments.append(attachment)
    return attachments


# Photos of a form sent without JavaScript ----------------------------------------------------

DRAFT_TTL = timedelta(hours=24)


@dataclass(frozen=True)
class DraftFile:
    seq: int
    name: str
    media_type: str
    byte_size: int


def _draft_key(draft_token: str) -> bytes:
    return derive_key(draft_token.encode(), "portline/draft-attachments/v1")


def _draft_rows(session: Session, keyring: KeyRing, draft_token: str) -> Sequence[DraftAttachment]:
    lookup = keyring.lookup_hash("draft", draft_token)
    query = (
        select(DraftAttachment)
        .where(DraftAttachment.draft_lookup == lookup)
        .order_by(col(DraftAttachment.seq))
    )
    return session.exec(query).all()


def new_draft_token() -> str:
    return secrets.token_urlsafe(32)


def add_draft_files(
    *,
    session: Session,
    keyring: KeyRing,
    settings: Settings,
    draft_token: str,
    files: Sequence[UploadedFile],
    now: datetime,
) -> list[DraftFile]:
    """Clean and keep photos for a report not sent yet; they are sealed for the form only."""
    cleaned = _clean_files(files, settings)
    key = _draft_key(draft_token)
    sealed = _seal_files(key, cleaned)
    session.exec(delete(DraftAttachment).where(col(DraftAttachment.expires_hour) < now))
    existing = _draft_rows(session, keyring, draft_token)
    if len(existing) + len(sealed) > settings.max_files:
        raise Invalid(
            N_("At most {limit} files can be sent."),
            fields=[
                FieldProblem(
                    "files", N_("At most {limit} files can be sent."), {"limit": settings.max_files}
                )
            ],
            limit=settings.max_files,
        )
    next_seq = max((row.seq for row in existing), default=0) + 1
    for offset, file in enumerate(sealed):
        session.add(
            DraftAttachment(
                draft_lookup=keyring.lookup_hash("draft", draft_token),
                seq=next_seq + offset,
                expires_hour=next_hour(now + DRAFT_TTL),
                **asdict(file),
            )
        )
    session.flush()
    return draft_files(session=session, keyring=keyring, draft_token=draft_token)


def draft_files(*, session: Session, keyring: KeyRing, draft_token: str | None) -> list[DraftFile]:
    if not draft_token:
        return []
    key = _draft_key(draft_token)
    return [
        DraftFile(
            seq=row.seq,
            name=open_text(key, row.name_sealed, label=Label.file_name),
            media_type=row.media_type,
            byte_size=row.byte_size,
        )
        for row in _draft_rows(session, keyring, draft_token)
    ]


def remove_draft_file(*, session: Session, keyring: KeyRing, draft_token: str, seq: int) -> None:
    lookup = keyring.lookup_hash("draft", draft_token)
    session.exec(
        delete(DraftAttachment).where(
            col(DraftAttachment.draft_lookup) == lookup, col(DraftAttachment.seq) == seq
        )
    )


def _load_draft(
    *, session: Session, keyring: KeyRing, draft_token: str | None
) -> tuple[bytes, list[DraftAttachment]]:
    if not draft_token:
        return b"", []
    return _draft_key(draft_token), list(_draft_rows(session, keyring, draft_token))


def _reseal_draft(
    data_key: bytes, drafted: tuple[bytes, list[DraftAttachment]]
) -> list[_SealedFile]:
    """Move drafted photos under the report's own data key."""
    draft_key, rows = drafted
    return [
        _SealedFile(
            media_type=row.media_type,
            byte_size=row.byte_size,
            width=row.width,
            height=row.height,
            name_sealed=seal(
                data_key,
                open_sealed(draft_key, row.name_sealed, label=Label.file_name),
                label=Label.file_name,
            ),
            content_sealed=seal(
                data_key,
                open_sealed(draft_key, row.content_sealed, label=Label.file_content),
                label=Label.file_content,
            ),
        )
        for row in rows
    ]


# Submission --------------------------------------------------------------------------------


def _submission_key_lookup(keyring: KeyRing, submission_key: str) -> str:
    return keyring.lookup_hash("submission", submission_key)


def _previous_receipt(
    *, session: Session, keyring: KeyRing, submission_key: str, now: datetime
) -> ReceiptOut | None:
    """The receipt of an earlier submission with the same key, if it is still kept."""
    submission = session.get(Submission, _submission_key_lookup(keyring, submission_key))
    if submission is None or submission.expires_hour <= now:
        return None
    key = derive_key(submission_key.encode(), "portline/submission-receipt/v1")
    try:
        return ReceiptOut.model_validate_json(
            open_text(key, submission.receipt_sealed, label=Label.receipt)
        )
    except DecryptionError:
        return None


def _resolve_references(
    *, session: Session, report_in: ReportCreate
) -> tuple[int, int, int | None, list[int]]:
    """Category, port, zone and excluded bodies by id; every unknown one is named."""
    problems: list[FieldProblem] = []
    category = taxonomy_service.find_category(session=session, code=report_in.category)
    if category is None:
        problems.append(FieldProblem("report.category", N_("This category does not exist.")))
    elif category.kind != report_in.kind:
        problems.append(
            FieldProblem(
                "report.category", N_("This category does not belong to this kind of report.")
            )
        )
    port = ports_service.find_port(session=session, code=report_in.port)
    zone_id: int | None = None
    if port is None:
        problems.append(FieldProblem("report.port", N_("This port does not exist.")))
    elif report_in.zone is not None:
        assert port.id is not None
        zone = ports_service.find_zone(session=session, port_id=port.id, code=report_in.zone)
        if zone is None:
            problems.append(FieldProblem("report.zone", N_("This zone is not part of this port.")))
        else:
            zone_id = zone.id
    bodies = agencies_service.find_excludable(session=session, codes=report_in.exclude_bodies)
    for index, code in enumerate(report_in.exclude_bodies):
        if code not in bodies:
            problems.append(
                FieldProblem(
                    f"report.exclude_bodies[{index}]", N_("This organisation does not exist.")
                )
            )
    if problems or category is None or port is None:
        raise Invalid(
            N_("The request has a problem in {field}."), fields=problems, field=problems[0].field
        )
    assert category.id is not None and port.id is not None
    return (
        category.id,
        port.id,
        zone_id,
        [body.id for body in bodies.values() if body.id is not None],
    )


def submit_report(
    *,
    session: Session,
    keyring: KeyRing,
    settings: Settings,
    report_in: ReportCreate,
    files: Sequence[UploadedFile],
    now: datetime,
    form: FormGuard | None = None,
    draft_token: str | None = None,
) -> ReceiptOut:
    """Store a report whole (with its files) or not at all, and return its receipt once.

    ``form`` replaces the proof of work for the no-JavaScript path, whose photos wait in
    the draft that ``draft_token`` opens."""
    proofs_service.check_guard(
        keyring=keyring, settings=settings, proof=report_in.proof, form=form, now=now
    )
    if report_in.submission_key:
        previous = _previous_receipt(
            session=session, keyring=keyring, submission_key=report_in.submission_key, now=now
        )
        if previous is not None:
            return previous
    proofs_service.spend_guard(
        session=session, settings=settings, proof=report_in.proof, form=form, now=now
    )
    drafted = _load_draft(session=session, keyring=keyring, draft_token=draft_token)
    # The one commit outside the request's unit of work, on purpose: the proof stays spent
    # even if the report is refused below, and no database lock is held while photos are
    # cleaned and the receipt is hashed.
    session.commit()

    cleaned = _clean_files(files, settings)
    receipt = receipts.new_receipt()
    verifier = receipts.make_verifier(receipt)
    data_key, wrapped_key = keystore.new_data_key(session, keyring)
    out = ReceiptOut(receipt=receipt, reference=_new_reference())
    identity = (
        seal_text(data_key, report_in.identity.model_dump_json(), label=Label.identity)
        if report_in.identity
        else None
    )
    location = (
        seal_text(data_key, report_in.location_detail, label=Label.location_detail)
        if report_in.location_detail
        else None
    )
    narrative = seal_text(data_key, report_in.narrative, label=Label.narrative)
    entities = cases_service.entity_hashes(
        keyring, [report_in.narrative, report_in.location_detail]
    )
    sealed_files = _reseal_draft(data_key, drafted) + _seal_files(data_key, cleaned)

    category_id, port_id, zone_id, excluded = _resolve_references(
        session=session, report_in=report_in
    )
    try:
        with session.begin_nested():
            case = cases_service.open_case(
                session=session,
                kind=report_in.kind,
                category_id=category_id,
                port_id=port_id,
                zone_id=zone_id,
                cargo_direction=report_in.cargo_direction,
                received_hour=to_hour(now),
            )
            report = Report(
                reference=out.reference,
                case_id=case.id,
                kind=report_in.kind,
                category_id=category_id,
                port_id=port_id,
                zone_id=zone_id,
                occurred_on=report_in.occurred_on,
                occurred_approximate=report_in.occurred_approximate,
                cargo_direction=report_in.cargo_direction,
                language=report_in.language,
                confidential=identity is not None,
                received_hour=to_hour(now),
                wrapped_key=wrapped_key,
                narrative_sealed=narrative,
                location_detail_sealed=location,
                identity_sealed=identity,
                receipt_lookup=receipts.lookup_hash(keyring, receipt),
                receipt_verifier=verifier,
            )
            session.add(report)
            session.flush()
            assert report.id is not None
            steps.record(session, report, steps.RECEIVED, now)
            session.add_all(
                ReportExclusion(report_id=report.id, body_id=body_id) for body_id in excluded
            )
            _add_attachments(session=session, report=report, sealed_files=sealed_files, now=now)
            assert case.id is not None
            cases_service.record_entities(
                session=session, case_id=case.id, report_id=report.id, hashes=entities
            )
            if draft_token:
                lookup = keyring.lookup_hash("draft", draft_token)
                session.exec(
                    delete(DraftAttachment).where(col(DraftAttachment.draft_lookup) == lookup)
                )
            if report_in.submission_key:
                _remember_submission(
                    session=session,
                    keyring=keyring,
                    settings=settings,
                    submission_key=report_in.submission_key,
                    report_id=report.id,
                    receipt=out,
                    now=now,
                )
            session.flush()
    except IntegrityError:
        # Another request with the same submission key won the race: answer as it did.
        previous = (
            _previous_receipt(
                session=session, keyring=keyring, submission_key=report_in.submission_key, now=now
            )
            if report_in.submission_key
            else None
        )
        if previous is None:
            raise
        return previous
    return out


def _remember_submission(
    *,
    session: Session,
    keyring: KeyRing,
    settings: Settings,
    submission_key: str,
    report_id: int,
    receipt: ReceiptOut,
    now: datetime,
) -> None:
    session.exec(delete(Submission).where(col(Submission.expires_hour) <= now))
    key = derive_key(submission_key.encode(), "portline/submission-receipt/v1")
    session.add(
        Submission(
            key_lookup=_submission_key_lookup(keyring, submission_key),
            report_id=report_id,
            receipt_sealed=seal_text(key, receipt.model_dump_json(), label=Label.receipt),
            expires_hour=next_hour(now + timedelta(hours=settings.submission_retry_hours)),
        )
    )


# Coming back with a receipt ------------------------------------------------------------------


def _not_recognised() -> Unauthorized:
    return Unauthorized(
        N_("This receipt code was not recognised. Check the 16 digits and try again."),
        fields=[FieldProblem("receipt", N_("This receipt code was not recognised."))],
    )


def purged() -> Gone:
    """What the reporter of a purged report is told, and nothing more."""
    return Gone(
        N_(
            "This report was closed and then deleted under the port's retention rules. Nothing of it is kept."
        )
    )


def log_in(
    *,
    session: Session,
    keyring: KeyRing,
    settings: Settings,
    login: ReporterLogin,
    now: datetime,
    form: FormGuard | None = None,
) -> ReporterToken:
    """Exchange a receipt for a short-lived token; unknown and wrong look the same. The
    receipt of a purged report is told so (:func:`purged`), and nothing more."""
    proofs_service.check_guard(
        keyring=keyring, settings=settings, proof=login.proof, form=form, now=now
    )
    receipt = receipts.normalise(login.receipt)
    if receipt is None:
        raise Invalid(
            N_("A receipt code has 16 digits."),
            fields=[FieldProblem("receipt", N_("A receipt code has 16 digits."))],
        )
    proofs_service.spend_guard(
        session=session, settings=settings, proof=login.proof, form=form, now=now
    )
    lookup = receipts.lookup_hash(keyring, receipt)
    report = session.exec(select(Report).where(Report.receipt_lookup == lookup)).first()
    # Committed before the verdict, on purpose: a wrong guess uses its proof up too, and
    # no lock is held while Argon2id runs.
    session.commit()
    if not receipts.verify(receipt, report.receipt_verifier if report else None):
        if report is None and tombstones.receipt_purged(session=session, lookup=lookup):
            raise purged()
        raise _not_recognised()
    assert report is not None and report.id is not None
    expires = int(now.timestamp()) + settings.reporter_session_seconds
    payload = _TOKEN.pack(report.id, report.reporter_token_generation, expires, _bound_to(report))
    return ReporterToken(
        token=keyring.sign(_TOKEN_PURPOSE, payload), expires_in=settings.reporter_session_seconds
    )


def report_for_token(*, session: Session, keyring: KeyRing, token: str, now: datetime) -> Report:
    expired = Unauthorized(N_("Your session has ended. Enter your receipt code again."))
    payload = keyring.unsign(_TOKEN_PURPOSE, token)
    if payload is None or len(payload) != _TOKEN.size:
        raise expired
    report_id, generation, expires, bound = _TOKEN.unpack(payload)
    if expires <= now.timestamp():
        raise expired
    report = session.get(Report, report_id)
    if (
        report is None
        or report.reporter_token_generation != generation
        or not hmac.compare_digest(bound, _bound_to(report))
    ):
        raise expired
    return report


def log_out_everywhere(*, session: Session, report: Report) -> None:
    """Every token issued for this report stops working."""
    session.exec(
        update(Report)
        .where(col(Report.id) == report.id)
        .values(reporter_token_generation=Report.reporter_token_generation + 1)
    )


def _messages(session: Session, report: Report, visibility: str) -> Sequence[Message]:
    query = (
        select(Message)
        .where(Message.report_id == report.id, Message.visibility == visibility)
        .order_by(col(Message.seq))
    )
    return session.exec(query).all()


def _attachment_public(attachment: Attachment) -> AttachmentPublic:
    return AttachmentPublic(
        seq=attachment.seq,
        media_type=attachment.media_type,
        byte_size=attachment.byte_size,
        width=attachment.width,
        height=attachment.height,
    )


def _attachments_of(session: Session, report: Report) -> Sequence[Attachment]:
    query = (
        select(Attachment).where(Attachment.report_id == report.id).order_by(col(Attachment.seq))
    )
    return session.exec(query).all()


def _attachments_public(session: Session, report: Report) -> list[AttachmentPublic]:
    return [_attachment_public(attachment) for attachment in _attachments_of(session, report)]


def reporter_view(
    *, session: Session, keyring: KeyRing, report: Report, language: str
) -> ReporterReport:
    """What the reporter may see: status, public timeline, the reporter-visible thread."""
    data_key = keyring.unwrap(report.wrapped_key)
    category = taxonomy_service.get_category(session=session, category_id=report.category_id)
    messages = [
        MessagePublic(
            seq=message.seq,
            author=message.author if message.author in ("reporter", "authority") else "team",
            body=open_text(data_key, message.body_sealed, label=Label.message),
            hour=message.created_hour,
        )
        for message in _messages(session, report, "reporter")
    ]
    return ReporterReport(
        reference=report.reference,
        status=report.status,
        status_label=_status_label(session, report, language),
        kind=Kind(report.kind),
        category=(in_language(category.names, language) or category.name) if category else "",
        received_hour=report.received_hour,
        timeline=steps.timeline(session, report, language),
        messages=messages,
        attachments=_attachments_public(session, report),
    )


def _status_label(session: Session, report: Report, language: str) -> str:
    """What the status means, in the reporter's words. A referred report names the
    authority only where that body agreed to be named to reporters."""
    if report.status == "referred" and report.case_id is not None:
        named = session.exec(
            select(Body.name)
            .join(Referral, col(Referral.body_id) == col(Body.id))
            .where(
                Referral.case_id == report.case_id,
                col(Referral.status).in_(LIVE_STATUSES),
                col(Body.named_to_reporter),
            )
            .order_by(col(Referral.id))
        ).first()
        if named is not None:
            return translate(
                N_("Your report was passed to {authority}, which is looking into it."),
                language,
                {"authority": translate(named, language)},
            )
    return translate(STATUS_LABELS.get(report.status, report.status), language)


def add_reporter_message(
    *,
    session: Session,
    keyring: KeyRing,
    report: Report,
    message_in: ReporterMessageIn,
    now: datetime,
) -> MessagePublic:
    assert report.id is not None
    data_key = keyring.unwrap(report.wrapped_key)
    message = Message(
        report_id=report.id,
        seq=report.next_message_seq,
        author="reporter",
        visibility="reporter",
        body_sealed=seal_text(data_key, message_in.body, label=Label.message),
        created_hour=to_hour(now),
    )
    report.next_message_seq += 1
    if report.status == "waiting_for_reporter":
        _answered(session, report)
        steps.record(session, report, steps.ANSWERED, now)
    if report.case_id is not None:
        timeline.pass_answer_on(
            session=session, keyring=keyring, case_id=report.case_id, text=message_in.body, now=now
        )
    session.add(message)
    session.add(report)
    session.flush()
    return MessagePublic(
        seq=message.seq, author="reporter", body=message_in.body, hour=message.created_hour
    )


def _answered(session: Session, report: Report) -> None:
    """The reporter answered: the case goes back to whoever works it, a body still
    holding a referral of it, or else the team."""
    still_referred = (
        report.case_id is not None
        and session.exec(
            select(Referral.id).where(
                Referral.case_id == report.case_id,
                col(Referral.status).in_(LIVE_STATUSES),
            )
        ).first()
        is not None
    )
    report.status = "referred" if still_referred else "in_progress"
    case = session.get(Case, report.case_id) if report.case_id else None
    if case is not None and case.status == "waiting_for_reporter":
        case.status = report.status
        session.add(case)


def add_reporter_attachments(
    *,
    session: Session,
    keyring: KeyRing,
    settings: Settings,
    report: Report,
    files: Sequence[UploadedFile],
    now: datetime,
) -> list[AttachmentPublic]:
    if not files:
        raise Invalid(
            N_("Choose at least one picture."),
            fields=[FieldProblem("files", N_("Choose at least one picture."))],
        )
    cleaned = _clean_files(files, settings)
    sealed_files = _seal_files(keyring.unwrap(report.wrapped_key), cleaned)
    count = session.exec(select(Attachment.id).where(Attachment.report_id == report.id)).all()
    if len(count) + len(sealed_files) > settings.max_files * 3:
        raise Invalid(
            N_("This report already has as many pictures as it can hold."),
            fields=[
                FieldProblem(
                    "files", N_("This report already has as many pictures as it can hold.")
                )
            ],
        )
    attachments = _add_attachments(
        session=session, report=report, sealed_files=sealed_files, now=now
    )
    session.add(report)
    session.flush()
    return [_attachment_public(attachment) for attachment in attachments]


# For triage ----------------------------------------------------------------------------------


def reports_of_case(*, session: Session, case_id: int) -> Sequence[Report]:
    return session.exec(
        select(Report).where(Report.case_id == case_id).order_by(col(Report.id))
    ).all()


def staff_view(*, session: Session, keyring: KeyRing, report: Report) -> StaffReportView:
    """Decrypt a report for triage. The caller has checked the policy and audits the view."""
    assert report.id is not None
    data_key = keyring.unwrap(report.wrapped_key)
    excluded = session.exec(
        select(Body.code)
        .join(ReportExclusion, col(ReportExclusion.body_id) == col(Body.id))
        .where(ReportExclusion.report_id == report.id)
    ).all()
    thread = session.exec(
        select(Message).where(Message.report_id == report.id).order_by(col(Message.seq))
    ).all()
    return StaffReportView(
        id=report.id,
        reference=report.reference,
        received_hour=report.received_hour,
        language=report.language,
        occurred_on=report.occurred_on,
        occurred_approximate=report.occurred_approximate,
        cargo_direction=CargoDirection(report.cargo_direction),
        narrative=open_text(data_key, report.narrative_sealed, label=Label.narrative),
        location_detail=open_text(
            data_key, report.location_detail_sealed, label=Label.location_detail
        )
        if report.location_detail_sealed
        else None,
        identity=Identity.model_validate_json(
            open_text(data_key, report.identity_sealed, label=Label.identity)
        )
        if report.identity_sealed
        else None,
        excluded_bodies=list(excluded),
        attachments=[
            StaffAttachment(
                **_attachment_public(attachment).model_dump(),
                name=open_text(data_key, attachment.name_sealed, label=Label.file_name),
            )
            for attachment in _attachments_of(session, report)
        ],
        thread=[
            ThreadMessage(
                seq=message.seq,
                author=message.author,
                body=open_text(data_key, message.body_sealed, label=Label.message),
                hour=message.created_hour,
            )
            for message in thread
        ],
    )


def add_team_message(
    *,
    session: Session,
    keyring: KeyRing,
    report: Report,
    body: str,
    now: datetime,
    author: str = "team",
) -> Message:
    """A message that the reporter reads with their receipt code: from the team, or from
    the authority handling the report (``author="authority"``, passed on by triage)."""
    assert report.id is not None
    message = Message(
        report_id=report.id,
        seq=report.next_message_seq,
        author=author,
        visibility="reporter",
        body_sealed=seal_text(keyring.unwrap(report.wrapped_key), body, label=Label.message),
        created_hour=to_hour(now),
    )
    report.next_message_seq += 1
    session.add(message)
    session.add(report)
    session.flush()
    return message


def staff_attachment(
    *, session: Session, keyring: KeyRing, report: Report, seq: int
) -> tuple[str, bytes]:
    """A cleaned photo of the report, decrypted: its media type and bytes. The caller has
    checked the policy and audits the view."""
    attachment = session.exec(
        select(Attachment).where(Attachment.report_id == report.id, Attachment.seq == seq)
    ).first()
    if attachment is None:
        raise NotFound(N_("There is no such picture."))
    data_key = keyring.unwrap(report.wrapped_key)
    content = open_sealed(data_key, attachment.content_sealed, label=Label.file_content)
    return attachment.media_type, content


def find_by_reference(*, session: Session, reference: str) -> Report | None:
    return session.exec(select(Report).where(Report.reference == reference)).first()
