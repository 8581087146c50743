from __future__ import annotations

import threading
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, func, select

from api.config import Settings
from api.crypto import KeyRing, generate_key_text, parse_key_text
from api.db import session_scope
from api.errors import Unauthorized
from api.reports import service
from api.reports.models import Report
from api.reports.schemas import ReceiptOut, ReportCreate, ReporterLogin
from tests.conftest import make_settings
from tests.factories import report_payload, submission_key


def _submit(
    engine: Engine, keyring: KeyRing, tmp_path: Path, url: str, key: str, now: datetime
) -> ReceiptOut:
    settings = make_settings(tmp_path, url)
    with contextmanager(session_scope)(engine) as session:
        return service.submit_report(
            session=session,
            keyring=keyring,
            settings=settings,
            report_in=ReportCreate.model_validate(report_payload(submission_key=key)),
            files=[],
            now=now,
        )


class TestRetriedSubmission:
    def test_concurrent_retries_with_one_key_store_one_report(
        self, live_database: tuple[str, Engine], tmp_path: Path
    ) -> None:
        url, engine = live_database
        keyring = KeyRing(parse_key_text(generate_key_text(), source="test"))
        key = submission_key()
        start = threading.Barrier(4)
        receipts: list[ReceiptOut] = []

        def send() -> None:
            start.wait()
            receipts.append(_submit(engine, keyring, tmp_path, url, key, datetime.now(UTC)))

        threads = [threading.Thread(target=send) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(receipts) == 4
        assert len({receipt.receipt for receipt in receipts}) == 1
        with Session(engine) as session:
            assert session.exec(select(func.count()).select_from(Report)).one() == 1

    def test_after_72_hours_the_same_key_makes_a_new_report(
        self, live_database: tuple[str, Engine], tmp_path: Path
    ) -> None:
        url, engine = live_database
        keyring = KeyRing(parse_key_text(generate_key_text(), source="test"))
        key = submission_key()
        now = datetime.now(UTC)
        first = _submit(engine, keyring, tmp_path, url, key, now)
        within = _submit(engine, keyring, tmp_path, url, key, now + timedelta(hours=70))
        after = _submit(engine, keyring, tmp_path, url, key, now + timedelta(hours=74))
        assert first == within
        assert after.receipt != first.receipt


class TestReporterToken:
    def test_a_token_expires_and_log_out_everywhere_ends_it(
        self, session: Session, keyring: KeyRing, settings: Settings
    ) -> None:
        now = datetime.now(UTC)
        out = service.submit_report(
            session=session,
            keyring=keyring,
            settings=settings,
            report_in=ReportCreate.model_validate(report_payload()),
            files=[],
            now=now,
        )
        login = ReporterLogin(receipt=out.receipt)
        token = service.log_in(
            session=session, keyring=keyring, settings=settings, login=login, now=now
        ).token
        report = service.report_for_token(session=session, keyring=keyring, token=token, now=now)
        assert report.reference == out.reference

        later = now + timedelta(seconds=settings.reporter_session_seconds + 1)
        with pytest.raises(Unauthorized):
            service.report_for_token(session=session, keyring=keyring, token=token, now=later)

        service.log_out_everywhere(session=session, report=report)
        session.refresh(report)
        with pytest.raises(Unauthorized):
            service.report_for_token(session=session, keyring=keyring, token=token, now=now)
