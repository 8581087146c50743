"""Exclusion stays absolute when two requests meet: linking a report whose reporter excluded
body X into case C, and referring C to X, fired at the same moment from two connections to
a real server, never both succeed, and nothing for X is left to deliver."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import httpx
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from api.agencies.models import Body
from api.policy import Role
from api.referrals.models import LIVE_STATUSES, OutboxJob, Referral
from api.reports.models import Report
from tests.factories import make_staff, post_report, report_payload
from tests.server import (
    fired_together,
    keyring_of,
    running_server,
    server_environment,
    signed_in,
    solved_proof,
)

BODY = "police-port-unit"
ROUNDS = 30


def _report(client: httpx.Client, **overrides: object) -> str:
    sent = post_report(client, report_payload(proof=solved_proof(client), **overrides))
    assert sent.status_code == 201, sent.text
    reference: str = sent.json()["reference"]
    return reference


class TestLinkAndReferAtOnce:
    def test_a_report_excluding_the_body_and_a_referral_to_it_never_both_land(
        self, live_database: tuple[str, Engine], tmp_path: Path
    ) -> None:
        url, engine = live_database
        environment = server_environment(url, tmp_path, pow_difficulty=1)
        keyring = keyring_of(environment)
        with Session(engine, expire_on_commit=False) as session:
            # Two triagers (a code works once), on two connections.
            triagers = [make_staff(session, keyring, role=Role.triager) for _ in range(2)]
            body = session.exec(select(Body).where(Body.code == BODY)).one()
            body.notification_email = "duty@police.test"
            session.add(body)
            session.commit()
            body_id = body.id
        outcomes: set[tuple[int, int]] = set()
        with (
            running_server(environment, tmp_path / "server.log") as base_url,
            httpx.Client(base_url=base_url, timeout=30) as reporter,
        ):
            linker, referrer = (httpx.Client(base_url=base_url, timeout=30) for _ in triagers)
            link_headers, refer_headers = (
                signed_in(client, staff.email, secret)
                for client, (staff, secret) in zip((linker, referrer), triagers, strict=True)
            )
            for _round in range(ROUNDS):
                kept = _report(reporter)
                excluding = _report(reporter, exclude_bodies=[BODY])
                with Session(engine) as session:
                    case_id = session.exec(
                        select(Report.case_id).where(Report.reference == kept)
                    ).one()
                linked, referred = fired_together(
                    [
                        partial(
                            linker.post,
                            f"/api/v1/cases/{case_id}/reports",
                            json={"report": excluding},
                            headers=link_headers,
                        ),
                        partial(
                            referrer.post,
                            f"/api/v1/cases/{case_id}/referrals",
                            json={"body": BODY, "summary": "Seals cut at night.", "tlp": "AMBER"},
                            headers=refer_headers,
                        ),
                    ]
                )
                outcomes.add((linked.status_code, referred.status_code))
                # Exactly one wins; the other is refused: the link as a conflict, the
                # referral as forbidden (the body can never receive the case).
                assert (linked.status_code, referred.status_code) in ((204, 403), (409, 201)), (
                    linked.text,
                    referred.text,
                )
                with Session(engine) as session:
                    joined = (
                        session.exec(
                            select(Report.case_id).where(Report.reference == excluding)
                        ).one()
                        == case_id
                    )
                    live = session.exec(
                        select(Referral).where(
                            Referral.case_id == case_id,
                            Referral.body_id == body_id,
                            col(Referral.status).in_(LIVE_STATUSES),
                        )
                    ).all()
                    to_deliver = session.exec(
                        select(OutboxJob)
                        .join(Referral, col(Referral.id) == col(OutboxJob.referral_id))
                        .where(
                            Referral.case_id == case_id,
                            Referral.body_id == body_id,
                            col(OutboxJob.status) != "cancelled",
                        )
                    ).all()
                assert not (joined and live), f"round {_round}: both landed"
                if joined:
                    assert to_deliver == [], f"round {_round}: a notice waits for X"
                else:
                    assert live and to_deliver
            linker.close()
            referrer.close()
        assert outcomes  # the rounds ran; which side won each is up to the interleaving
