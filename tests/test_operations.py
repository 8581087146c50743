"""``/healthz``, ``/readyz`` and ``/metrics``: what each says, that no metric label carries
an id, a path, an address or a time, that the counts of several processes add up, who may
read the metrics, and the guide's commands against real servers."""

from __future__ import annotations

import base64
import os
import re
import secrets
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from alembic.script import ScriptDirectory
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from pydantic import SecretStr, ValidationError
from sqlalchemy import Engine, text
from sqlmodel import Session

from api import migrate
from api.app import create_app
from api.config import Settings
from api.crypto import KeyRing
from api.db import make_engine, utcnow
from api.jobs import service as jobs
from api.logs import NO_ROUTE
from api.operations.metrics import MULTIPROCESS_VARIABLE, HeldRequests
from api.referrals import outbox
from api.retention import jobs as retention
from tests.conftest import make_settings
from tests.databases import fresh_database
from tests.operations_doc import commands
from tests.referrals.factories import make_body, make_referral
from tests.server import fired_together, running_server, server_environment

REPOSITORY = Path(__file__).resolve().parent.parent
TOKEN = "metrics-" + "t" * 32
# An id no other number in the output could be mistaken for.
CASE_ID = "987654321"
SPOOFED = "203.0.113.77"
LABEL_NAMES = {"route", "method", "status_class", "kind", "le"}

_SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][\w:]*)(?:\{(?P<labels>.*)\})? (?P<value>\S+)$")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(exposition: str) -> Samples:
    """Every sample of a Prometheus text exposition, by name and labels."""
    found: Samples = {}
    for line in exposition.splitlines():
        match = _SAMPLE.match(line)
        if line.startswith("#") or match is None:
            continue
        labels = frozenset(_LABEL.findall(match["labels"] or ""))
        found[(match["name"], labels)] = float(match["value"])
    return found


def value(found: Samples, name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def loopback(app: FastAPI, host: str = "127.0.0.1") -> TestClient:
    """A client that connects from this machine's loopback, as Prometheus beside it does."""
    name = f"[{host}]" if ":" in host else host
    return TestClient(app, base_url=f"http://{name}", client=(host, 50000))


def scrape(app: FastAPI) -> tuple[str, Samples]:
    response = loopback(app).get("/metrics")
    assert response.status_code == 200, response.text
    return response.text, samples(response.text)


def unreachable_app(settings: Settings, keyring: KeyRing) -> FastAPI:
    """An app whose database server does not answer (nothing listens on port 1)."""
    engine = make_engine(
        "postgresql+psycopg://portline@127.0.0.1:1/portline", connect_args={"connect_timeout": 2}
    )
    return create_app(settings, engine=engine, keyring=keyring)


class TestHealth:
    def test_a_running_process_is_healthy_even_without_its_database(
        self, settings: Settings, keyring: KeyRing
    ) -> None:
        response = TestClient(unreachable_app(settings, keyring)).get("/healthz")
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}
        assert response.headers["cache-control"] == "no-store"
        assert "set-cookie" not in response.headers


@pytest.fixture(scope="module")
def own_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Engine]]:
    """A database of this module's tests alone, where /readyz's checks and real servers
    really commit."""
    with fresh_database(tmp_path_factory.mktemp("ready"), seed=False) as database:
        yield database


@pytest.fixture(scope="module")
def own_settings(
    own_database: tuple[str, Engine], tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    """Settings with a key of this database's own (the first app or server opened stores
    its check)."""
    return make_settings(tmp_path_factory.mktemp("ready-data"), own_database[0])


def own_app(settings: Settings, engine: Engine, keyring: KeyRing | None = None) -> TestClient:
    """The app as ``portline serve`` builds it: it opens the key ring itself, storing the
    database's key check on the first run, unless handed one."""
    return TestClient(create_app(settings, engine=engine, keyring=keyring))


class TestReadiness:
    def test_a_migrated_database_with_its_key_is_ready(
        self, own_database: tuple[str, Engine], own_settings: Settings
    ) -> None:
        response = own_app(own_settings, own_database[1]).get("/readyz")
        assert response.status_code == 200
        assert response.json() == {"status": "ready"}
        assert response.headers["cache-control"] == "no-store"

    def test_a_database_one_migration_behind_is_unready(
        self, own_database: tuple[str, Engine], own_settings: Settings
    ) -> None:
        engine = own_database[1]
        client = own_app(own_settings, engine)
        migrate.downgrade(engine, "-1")
        try:
            response = client.get("/readyz")
        finally:
            migrate.upgrade(engine)
        assert response.status_code == 503
        # The key check too, when the last migration changed its table.
        assert response.json()["status"] == "unready"
        assert response.json()["failed"][0] == "migrations"
        assert client.get("/readyz").status_code == 200

    def test_a_database_migrated_by_a_newer_portline_is_unready(
        self, own_database: tuple[str, Engine], own_settings: Settings
    ) -> None:
        engine = own_database[1]
        client = own_app(own_settings, engine)
        head = ScriptDirectory(str(migrate.MIGRATIONS_DIR)).get_current_head()
        change = text("UPDATE alembic_version SET version_num = :revision")
        with engine.begin() as connection:
            connection.execute(change, {"revision": "f00dfeedbeef"})
        try:
            response = client.get("/readyz")
        finally:
            with engine.begin() as connection:
                connection.execute(change, {"revision": head})
        assert response.status_code == 503
        assert response.json() == {"status": "unready", "failed": ["migrations"]}

    def test_a_key_that_does_not_open_the_databases_check_is_unready(
        self, own_database: tuple[str, Engine], own_settings: Settings, keyring: KeyRing
    ) -> None:
        engine = own_database[1]
        assert own_app(own_settings, engine).get("/readyz").status_code == 200
        # The test suite's key, not the one this database was first opened with.
        response = own_app(own_settings, engine, keyring).get("/readyz")
        assert response.status_code == 503
        assert response.json() == {"status": "unready", "failed": ["key"]}

    def test_a_database_that_does_not_answer_is_named_without_any_detail(
        self, settings: Settings, keyring: KeyRing
    ) -> None:
        response = TestClient(unreachable_app(settings, keyring)).get("/readyz")
        assert response.status_code == 503
        assert response.json() == {"status": "unready", "failed": ["database"]}


class TestMetrics:
    def test_requests_are_counted_under_their_route_template_and_nothing_else(
        self, client: TestClient
    ) -> None:
        app: FastAPI = client.app  # type: ignore[assignment]
        _text, before = scrape(app)
        assert client.get(f"/api/v1/cases/{CASE_ID}").status_code == 401
        assert client.get(f"/no/such/page/{CASE_ID}").status_code == 404
        assert (
            client.get("/api/v1/public/config", headers={"X-Forwarded-For": SPOOFED}).status_code
            == 200
        )
        assert client.request("BREW", "/healthz").status_code == 405

        exposition, after = scrape(app)

        def grew(name: str, **labels: str) -> float:
            return value(after, name, **labels) - value(before, name, **labels)

        case = {"route": "/api/v1/cases/{case_id}", "method": "GET"}
        assert grew("portline_requests_total", **case, status_class="4xx") == 1
        assert grew("portline_request_seconds_count", **case) == 1
        assert grew("portline_request_seconds_bucket", **case, le="+Inf") == 1
        # An unknown address may be a reporter's: counted once its hour is over, like theirs.
        assert not grew("portline_requests_total", route=NO_ROUTE, method="GET", status_class="4xx")
        # A reporter's request waits for the end of its hour (test below).
        config = {"route": "/api/v1/public/config", "method": "GET", "status_class": "2xx"}
        assert grew("portline_requests_total", **config) == 0
        other = {"route": "/healthz", "method": "other", "status_class": "4xx"}
        assert grew("portline_requests_total", **other) == 1
        # No id, no typed path, no address, no method a client made up, no creation time.
        for trace in (CASE_ID, "/no/such", SPOOFED, "testclient", "127.0.0.1", "BREW", "_created"):
            assert trace not in exposition, trace
        templates = {
            context.path_format
            for context in iter_route_contexts(app.routes)
            if context.path_format is not None
        }
        for name, labels in after:
            assert {label for label, _value in labels} <= LABEL_NAMES, name
            route = dict(labels).get("route")
            assert route is None or route == NO_ROUTE or route in templates, route

    def test_reporter_requests_are_counted_only_once_their_hour_is_over(
        self, client: TestClient
    ) -> None:
        """A counter that moved between two scrapes would date a report to the scrape
        interval; the hour's requests are added when the hour ends, as the log does."""
        app: FastAPI = client.app  # type: ignore[assignment]
        _text, before = scrape(app)
        held = HeldRequests()
        route = {"route": "/api/v1/reports", "method": "POST"}
        for _ in range(3):
            held.hold(hour=1000, status=201, seconds=0.2, **route)
        held.release_finished_hours(1000)
        _text, during = scrape(app)
        held.release_finished_hours(1001)
        _text, after = scrape(app)
        counted = {**route, "status_class": "2xx"}
        assert value(during, "portline_requests_total", **counted) == value(
            before, "portline_requests_total", **counted
        )
        assert (
            value(after, "portline_requests_total", **counted)
            - value(before, "portline_requests_total", **counted)
            == 3
        )
        assert (
            value(after, "portline_request_seconds_count", **route)
            - value(before, "portline_request_seconds_count", **route)
            == 3
        )

    def test_queued_jobs_are_counted_by_kind_with_the_wait_of_the_oldest(
        self, client: TestClient, session: Session
    ) -> None:
        app: FastAPI = client.app  # type: ignore[assignment]
        _text, before = scrape(app)
        now = utcnow()
        for key, run_at in (
            ("oldest", now - timedelta(minutes=20)),
            ("newer", now - timedelta(minutes=1)),
            ("not yet due", now + timedelta(hours=1)),
        ):
            assert jobs.enqueue(
                session=session,
                kind=retention.SWEEP,
                once_key=f"test:{key}:{secrets.token_hex(4)}",
                run_at=run_at,
                now=now,
            )

        _text, after = scrape(app)

        sweep = {"kind": retention.SWEEP}
        queued = value(after, "portline_jobs_queued", **sweep)
        assert queued - value(before, "portline_jobs_queued", **sweep) == 2
        assert 20 * 60 <= value(after, "portline_job_oldest_age_seconds", **sweep) < 30 * 60
        # Every kind the worker knows is there, at zero when none waits.
        assert ("portline_jobs_queued", frozenset({("kind", retention.PURGE)})) in after

    def test_deliveries_pending_and_failed_are_counted(
        self, client: TestClient, session: Session, keyring: KeyRing, settings: Settings
    ) -> None:
        app: FastAPI = client.app  # type: ignore[assignment]
        _text, before = scrape(app)
        now = utcnow()
        body = make_body(
            session, keyring, email="duty@police.test", webhook_url="http://127.0.0.1:9/unused"
        )
        make_referral(session, keyring, body=body, now=now)  # an e-mail and a webhook notice
        taken = outbox.take_job(session=session, worker_id="w", now=now, lease=timedelta(minutes=1))
        assert taken is not None and taken.id is not None
        outbox.record_failure(
            session=session,
            job_id=taken.id,
            worker_id="w",
            error="timed out",
            now=now,
            settings=settings.model_copy(update={"outbox_max_attempts": 1}),
        )

        _text, after = scrape(app)

        for name, grown in (("portline_deliveries_failed", 1), ("portline_deliveries_pending", 1)):
            assert value(after, name) - value(before, name) == grown, name

    def test_the_operations_endpoints_are_not_in_the_api_document(self, client: TestClient) -> None:
        paths = client.get("/api/openapi.json").json()["paths"]
        assert not {"/healthz", "/readyz", "/metrics"} & set(paths)


class TestWhoMayReadTheMetrics:
    def test_with_a_token_only_its_bearer_gets_them(
        self, client_with: Callable[..., AbstractContextManager[TestClient]]
    ) -> None:
        with client_with(metrics_token=SecretStr(TOKEN)) as client:
            app: FastAPI = client.app  # type: ignore[assignment]
            for headers in (
                {},
                {"Authorization": f"Bearer {TOKEN}x"},
                {"Authorization": f"Bearer {TOKEN[:-1]}"},
                {"Authorization": f"Basic {TOKEN}"},
                {"Authorization": "Bearer "},
            ):
                # From this machine too: the token, once set, is the only way in.
                for asking in (client, loopback(app)):
                    refused = asking.get("/metrics", headers=headers)
                    assert refused.status_code == 401, headers
                    assert refused.json()["error"]["code"] == "unauthorized"
                    assert refused.headers["www-authenticate"] == "Bearer"
            allowed = client.get(
                "/metrics",
                headers={"Authorization": f"Bearer {TOKEN}", "X-Forwarded-For": SPOOFED},
            )
            assert allowed.status_code == 200
            assert allowed.headers["content-type"].startswith("text/plain; version=0.0.4")
            assert "portline_requests_total" in allowed.text

    def test_the_refusal_is_translated(
        self, client_with: Callable[..., AbstractContextManager[TestClient]]
    ) -> None:
        with client_with(metrics_token=SecretStr(TOKEN)) as client:
            english = client.get("/metrics").json()["error"]["message"]
        assert english == "The metrics token is missing or wrong."

    def test_without_a_token_a_client_elsewhere_finds_nothing_there(
        self, client: TestClient
    ) -> None:
        response = client.get("/metrics")  # the test client's peer is "testclient"
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"

    @pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.57", "::1"])
    def test_without_a_token_this_machine_gets_them(self, client: TestClient, host: str) -> None:
        response = loopback(client.app, host).get("/metrics")  # type: ignore[arg-type]
        assert response.status_code == 200
        assert response.headers["cache-control"] == "no-store"

    @pytest.mark.parametrize(
        "headers",
        [
            {"X-Forwarded-For": SPOOFED},
            {"X-Real-IP": SPOOFED},
            {"Forwarded": f"for={SPOOFED};proto=https"},
            {"Via": "1.1 caddy"},
            {"X-Forwarded-Proto": "https"},
            {"CF-Connecting-IP": SPOOFED},
            {"Host": "portline.example.org"},
        ],
        ids=lambda headers: next(iter(headers)),
    )
    def test_without_a_token_a_request_a_proxy_passed_on_finds_nothing(
        self, client: TestClient, headers: dict[str, str]
    ) -> None:
        response = loopback(client.app).get("/metrics", headers=headers)  # type: ignore[arg-type]
        assert response.status_code == 404

    def test_health_and_readiness_need_no_token(
        self, own_database: tuple[str, Engine], own_settings: Settings
    ) -> None:
        with_token = own_settings.model_copy(update={"metrics_token": SecretStr(TOKEN)})
        client = own_app(with_token, own_database[1])
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").status_code == 200
        assert client.get("/metrics").status_code == 401

    @pytest.mark.parametrize("token", ["short", "with a space in it, long enough", "é" * 20])
    def test_a_guessable_or_unsendable_token_is_refused_at_start(
        self, tmp_path: Path, token: str
    ) -> None:
        with pytest.raises(ValidationError, match="metrics_token"):
            Settings(data_dir=tmp_path, metrics_token=SecretStr(token))


_WRITER = """
import sys
from pathlib import Path
from api.operations import metrics
if len(sys.argv) > 2:
    metrics.prepare_multiprocess_dir(Path(sys.argv[2]))
for _ in range(int(sys.argv[1])):
    metrics.observe_request(method="GET", route="/healthz", status=200, seconds=0.01)
"""
_READER = "import sys; from api.operations import metrics; sys.stdout.write(metrics.exposition().decode())"


class TestSeveralProcesses:
    def test_the_counts_of_processes_sharing_a_directory_add_up(self, tmp_path: Path) -> None:
        directory = tmp_path / "metrics"
        without = {key: item for key, item in os.environ.items() if key != MULTIPROCESS_VARIABLE}
        sharing = {**without, MULTIPROCESS_VARIABLE: str(directory)}

        def run(script: str, *args: str, environment: dict[str, str]) -> str:
            done = subprocess.run(
                [sys.executable, "-c", script, *args],
                env=environment,
                cwd=REPOSITORY,
                capture_output=True,
                text=True,
                timeout=60,
                check=True,
            )
            return done.stdout

        directory.mkdir()
        (directory / "notes.txt").write_text("not prometheus_client's")
        run(_WRITER, "5", environment=sharing)  # an earlier serve's counts
        # A serve in one process: it imported the metrics, then prepared the directory.
        run(_WRITER, "3", str(directory), environment=without)
        run(_WRITER, "4", environment=sharing)  # another process of the same serve
        found = samples(run(_READER, environment=sharing))

        healthz = {"route": "/healthz", "method": "GET"}
        assert value(found, "portline_requests_total", **healthz, status_class="2xx") == 7
        assert value(found, "portline_request_seconds_count", **healthz) == 7
        assert (directory / "notes.txt").exists()


def run_the_guide(server: str, token: str) -> dict[str, str]:
    """Run the Monitor section's commands as written; each one's output by endpoint."""
    lines = commands("Monitor")
    assert len(lines) == 3
    outputs = {}
    for line in lines:
        done = subprocess.run(
            ["sh", "-c", line],
            env={**os.environ, "SERVER": server, "PORTLINE_METRICS_TOKEN": token},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, (line, done.stderr)
        endpoint = re.search(r"/(healthz|readyz|metrics)\b", line)
        assert endpoint is not None, line
        outputs[endpoint[1]] = done.stdout
    return outputs


class TestARealServer:
    def test_on_this_machine_the_guide_works_and_two_processes_count_as_one(
        self, own_database: tuple[str, Engine], own_settings: Settings, tmp_path: Path
    ) -> None:
        url, key = own_database[0], own_settings.key
        assert key is not None
        environment = server_environment(url, tmp_path, key=key)
        # Set as `portline serve` sets it; a serve that prepares its own directory wins.
        (tmp_path / "metrics").mkdir()
        environment[MULTIPROCESS_VARIABLE] = str(tmp_path / "metrics")
        serve = [sys.executable, "-m", "api.cli", "serve", "--port", "{port}", "--workers", "2"]
        with running_server(environment, tmp_path / "server.log", command=serve) as base_url:
            outputs = run_the_guide(base_url, token="")
            assert outputs["healthz"] == '{"status":"ok"}'
            assert outputs["readyz"] == '{"status":"ready"}'
            assert "portline_jobs_queued" in outputs["metrics"]

            # Each on a connection of its own, so that both processes answer some.
            answers = fired_together([lambda: httpx.get(f"{base_url}/api/v1/cases/{CASE_ID}")] * 12)
            assert [answer.status_code for answer in answers] == [401] * 12
            case = {"route": "/api/v1/cases/{case_id}", "method": "GET", "status_class": "4xx"}
            for _ in range(6):
                exposition = httpx.get(f"{base_url}/metrics").text
                assert value(samples(exposition), "portline_requests_total", **case) == 12
                assert CASE_ID not in exposition
            for headers in ({"X-Forwarded-For": SPOOFED}, {"Host": "portline.example.org"}):
                assert httpx.get(f"{base_url}/metrics", headers=headers).status_code == 404
        assert SPOOFED not in (tmp_path / "server.log").read_text()

    def test_with_a_token_the_guide_works_and_nothing_else_does(
        self, own_database: tuple[str, Engine], own_settings: Settings, tmp_path: Path
    ) -> None:
        url, key = own_database[0], own_settings.key
        assert key is not None
        token = base64.b32encode(secrets.token_bytes(20)).decode()
        environment = {
            **server_environment(url, tmp_path, key=key),
            "PORTLINE_METRICS_TOKEN": token,
        }
        serve = [sys.executable, "-m", "api.cli", "serve", "--port", "{port}", "--workers", "1"]
        with running_server(environment, tmp_path / "server.log", command=serve) as base_url:
            outputs = run_the_guide(base_url, token=token)
            assert outputs["readyz"] == '{"status":"ready"}'
            assert "portline_requests_total" in outputs["metrics"]
            assert httpx.get(f"{base_url}/metrics").status_code == 401
            wrong = {"Authorization": f"Bearer {token}x"}
            assert httpx.get(f"{base_url}/metrics", headers=wrong).status_code == 401
