"""Proof of work guards report submission and receipt login."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from api.config import Settings
from api.crypto import KeyRing
from api.proofs.service import issue_challenge, leading_zero_bits, solve
from api.reports.models import Report
from tests.factories import post_report, report_payload

DIFFICULTY = 10


@pytest.fixture
def pow_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"pow_difficulty": DIFFICULTY})


@pytest.fixture
def pow_client(
    client_with: Callable[..., AbstractContextManager[TestClient]],
) -> Iterator[TestClient]:
    with client_with(pow_difficulty=DIFFICULTY) as client:
        yield client


def solved(client: TestClient) -> dict[str, str]:
    challenge = client.post("/api/v1/public/challenge").json()
    assert challenge["difficulty"] == DIFFICULTY
    return {"challenge": challenge["challenge"], "nonce": solve(challenge["challenge"], DIFFICULTY)}


def reports(session: Session) -> int:
    return session.exec(select(func.count()).select_from(Report)).one()


def rejection(response: Any) -> str:
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "proof_rejected"
    assert error["fields"][0]["field"] == "proof"
    return str(error["fields"][0]["message"])


class TestProofOfWorkOnSubmission:
    def test_a_solved_challenge_lets_a_report_through(self, pow_client: TestClient) -> None:
        response = post_report(pow_client, report_payload(proof=solved(pow_client)))
        assert response.status_code == 201, response.text

    def test_a_missing_proof_is_refused(self, pow_client: TestClient, session: Session) -> None:
        before = reports(session)
        assert "required" in rejection(post_report(pow_client, report_payload()))
        assert reports(session) == before

    def test_a_wrong_answer_is_refused(self, pow_client: TestClient, session: Session) -> None:
        proof = solved(pow_client)
        proof["nonce"] = next(
            nonce
            for nonce in (format(candidate, "x") for candidate in range(10_000))
            if leading_zero_bits(hashlib.sha256(f"{proof['challenge']}:{nonce}".encode()).digest())
            < DIFFICULTY
        )
        before = reports(session)
        assert "does not solve" in rejection(post_report(pow_client, report_payload(proof=proof)))
        assert reports(session) == before

    def test_a_proof_spent_on_a_refused_report_cannot_be_used_again(
        self, pow_client: TestClient
    ) -> None:
        proof = solved(pow_client)
        refused = post_report(pow_client, report_payload(proof=proof, category="gossip"))
        assert refused.status_code == 422
        assert "already been used" in rejection(
            post_report(pow_client, report_payload(proof=proof))
        )

    def test_a_forged_challenge_is_refused(self, pow_client: TestClient) -> None:
        proof = {"challenge": "forged.challenge", "nonce": "0"}
        assert "not issued" in rejection(post_report(pow_client, report_payload(proof=proof)))

    def test_a_proof_works_only_once(self, pow_client: TestClient, session: Session) -> None:
        proof = solved(pow_client)
        assert post_report(pow_client, report_payload(proof=proof)).status_code == 201
        before = reports(session)
        assert "already been used" in rejection(
            post_report(pow_client, report_payload(proof=proof))
        )
        assert reports(session) == before

    def test_an_expired_challenge_is_refused(
        self, pow_client: TestClient, pow_settings: Settings, keyring: KeyRing
    ) -> None:
        long_ago = datetime.now(UTC) - timedelta(hours=2)
        challenge = issue_challenge(keyring=keyring, settings=pow_settings, now=long_ago).challenge
        proof = {"challenge": challenge, "nonce": solve(challenge, DIFFICULTY)}
        assert "expired" in rejection(post_report(pow_client, report_payload(proof=proof)))

    def test_a_challenge_easier_than_the_setting_is_refused(
        self, pow_client: TestClient, pow_settings: Settings, keyring: KeyRing
    ) -> None:
        easy = pow_settings.model_copy(update={"pow_difficulty": 1})
        challenge = issue_challenge(keyring=keyring, settings=easy, now=datetime.now(UTC)).challenge
        proof = {"challenge": challenge, "nonce": solve(challenge, 1)}
        assert "too easy" in rejection(post_report(pow_client, report_payload(proof=proof)))

    def test_a_retry_with_the_same_submission_key_does_not_need_a_fresh_proof(
        self, pow_client: TestClient
    ) -> None:
        payload = report_payload(proof=solved(pow_client), submission_key="k" * 24)
        first = post_report(pow_client, payload)
        second = post_report(pow_client, payload)
        assert first.status_code == second.status_code == 201
        assert first.json() == second.json()


class TestProofOfWorkOnReceiptLogin:
    def test_login_needs_a_proof_and_spends_it(self, pow_client: TestClient) -> None:
        receipt = post_report(pow_client, report_payload(proof=solved(pow_client))).json()[
            "receipt"
        ]
        assert "required" in rejection(
            pow_client.post("/api/v1/reporter/session", json={"receipt": receipt})
        )
        proof = solved(pow_client)
        login = pow_client.post(
            "/api/v1/reporter/session", json={"receipt": receipt, "proof": proof}
        )
        assert login.status_code == 200, login.text
        again = pow_client.post(
            "/api/v1/reporter/session", json={"receipt": receipt, "proof": proof}
        )
        assert "already been used" in rejection(again)

    def test_a_wrong_receipt_with_a_good_proof_is_still_refused(
        self, pow_client: TestClient
    ) -> None:
        response = pow_client.post(
            "/api/v1/reporter/session",
            json={"receipt": "1234 5678 1234 5678", "proof": solved(pow_client)},
        )
        assert response.status_code == 401

    def test_a_proof_spent_on_a_wrong_receipt_cannot_be_used_again(
        self, pow_client: TestClient
    ) -> None:
        receipt = post_report(pow_client, report_payload(proof=solved(pow_client))).json()[
            "receipt"
        ]
        proof = solved(pow_client)
        wrong = pow_client.post(
            "/api/v1/reporter/session", json={"receipt": "1234 5678 1234 5678", "proof": proof}
        )
        assert wrong.status_code == 401
        retry = pow_client.post(
            "/api/v1/reporter/session", json={"receipt": receipt, "proof": proof}
        )
        assert "already been used" in rejection(retry)


class TestChallenge:
    def test_issuing_a_challenge_stores_nothing_and_sets_no_cookie(
        self, pow_client: TestClient
    ) -> None:
        response = pow_client.post("/api/v1/public/challenge")
        assert response.status_code == 200
        assert "set-cookie" not in response.headers
        body = response.json()
        assert set(body) == {"challenge", "difficulty", "algorithm", "expires_at"}
        assert body["algorithm"] == "sha256"
