"""A thief with the database learns no body's webhook secret."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from api.agencies import service as agencies_service
from api.agencies.models import Body
from api.app import create_app
from api.audit.models import AuditEntry
from api.policy import Role
from tests.conftest import make_settings
from tests.databases import raw_dump
from tests.factories import make_staff, sign_in_staff

CHOSEN_SECRET = "GECKO-SECRET-2291-chosen-by-the-body"


class TestSecretAtRest:
    def test_no_webhook_secret_is_in_the_raw_database_nor_in_the_audit_log(
        self, live_database: tuple[str, Engine], tmp_path: Path
    ) -> None:
        url, engine = live_database
        with TestClient(create_app(make_settings(tmp_path, url), engine=engine)) as client:
            keyring = client.app.state.keyring  # type: ignore[attr-defined]
            with Session(engine, expire_on_commit=False) as session:
                admin, secret = make_staff(session, keyring, role=Role.administrator)
                session.commit()
            csrf = sign_in_staff(client, admin, secret)
            created = client.post(
                "/api/v1/bodies",
                json={
                    "code": "harbour-police",
                    "name": "Harbour police",
                    "kind": "police",
                    "webhook_url": "https://intake.example.test/portline",
                    "generate_webhook_secret": True,
                },
                headers=csrf,
            )
            assert created.status_code == 201, created.text
            generated = created.json()["generated_webhook_secret"]
            chosen = client.patch(
                "/api/v1/bodies/customs",
                json={
                    "webhook_url": "http://127.0.0.1:9/hook",
                    "webhook_secret": CHOSEN_SECRET,
                },
                headers=csrf,
            )
            assert chosen.status_code == 200, chosen.text
            assert CHOSEN_SECRET not in chosen.text

        with Session(engine) as session:
            bodies = {
                body.code: body
                for body in session.exec(
                    select(Body).where(col(Body.code).in_(["harbour-police", "customs"]))
                )
            }
            opened = {
                code: agencies_service.webhook_secret(session=session, keyring=keyring, body=body)
                for code, body in bodies.items()
            }
            details = [entry.detail for entry in session.exec(select(AuditEntry))]
        # The secrets are there for the worker, only sealed.
        assert opened == {"harbour-police": generated, "customs": CHOSEN_SECRET}
        dump = raw_dump(url, engine)
        for secret in (generated, CHOSEN_SECRET):
            assert secret.encode() not in dump
            assert all(secret not in detail for detail in details)
        assert any('"webhook_secret":"generated"' in detail for detail in details)
