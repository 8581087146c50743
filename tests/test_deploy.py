"""Portline as an operator deploys it: behind Caddy with TLS (deploy/Caddyfile) and under
systemd (deploy/systemd/), following docs/operations.md.

The live tests run deploy/Caddyfile itself, behind a few global options that keep it on
this machine and use Caddy's own certificate authority (``local_certs``: ``tls internal``
for every site), in front of ``portline serve --workers 2`` and ``portline worker`` on
PostgreSQL, and talk to it over https:// from a client address of their own, so that
the address can be looked for wherever it must not be.
"""

from __future__ import annotations

import http.server
import os
import re
import shutil
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from api.cli import build_parser
from api.config import Settings
from api.crypto import KeyFileError, KeyRing, create_key_file, read_key_file
from api.jobs.models import Schedule
from api.policy import Role
from tests.admin.people import csrf_of, make_person
from tests.databases import ON_POSTGRES, fresh_database, raw_dump
from tests.factories import jpeg_bytes, log_in, make_staff, post_report
from tests.operations_doc import commands
from tests.server import free_port, running_server, signed_in
from tests.test_anonymity import CLIENT_ADDRESS, IDENTIFYING_HEADERS, TRACES

pytestmark = pytest.mark.deploy

REPO = Path(__file__).resolve().parent.parent
DEPLOY = REPO / "deploy"
UNITS = ("portline.service", "portline-worker.service")
INSTALLED_PORTLINE = "/opt/portline/.venv/bin/portline"
PORTLINE = Path(sys.executable).parent / "portline"
CADDY = shutil.which("caddy")
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
HSTS = "max-age=63072000; includeSubDomains"
SERVE_OPTIONS = ("--workers", "2", "--host", "127.0.0.1", "--port", "{port}")
# Sent as written (httpx would tidy "//metrics" into "/").
METRICS_SPELLINGS = (
    b"/metrics",
    b"/metrics/",
    b"/metrics?format=text",
    b"/Metrics",
    b"/METRICS",
    b"/%6detrics",
    b"//metrics",
    b"/metrics%2f",
)
VALIDATE_OPTIONS = ("--config", str(DEPLOY / "Caddyfile"), "--adapter", "caddyfile")
SPOOFED = "203.0.113.7"
# What a reporter's phone sends, with what proxies on its way may have added.
PHONE_HEADERS = {
    **IDENTIFYING_HEADERS,
    "X-Forwarded-For": f"{SPOOFED}, 203.0.113.77",
    "Via": "1.1 phone-proxy.example",
    "True-Client-IP": SPOOFED,
    "X-Client-IP": SPOOFED,
    "CF-Connecting-IP": SPOOFED,
}
ADDRESS_HEADERS = {
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "x-real-ip",
    "via",
    "true-client-ip",
    "x-client-ip",
    "cf-connecting-ip",
}

needs_caddy = pytest.mark.skipif(CADDY is None, reason="Caddy is not installed (scripts/test does)")
needs_systemd_analyze = pytest.mark.skipif(
    SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed"
)

# Only what keeps the test's Caddy on this machine and off Let's Encrypt; the rest is the
# production file, imported as it is.
TEST_OPTIONS = """{{
	admin off
	default_bind 127.0.0.1
	http_port {http_port}
	https_port {https_port}
	local_certs
	skip_install_trust
}}
import {caddyfile}
"""


def caddy_environment(directory: Path, **variables: str) -> dict[str, str]:
    """Caddy keeps its certificate authority and its state under HOME and the XDG
    directories: the test's own, never the machine's."""
    return {
        **os.environ,
        "HOME": str(directory),
        "XDG_DATA_HOME": str(directory / "data"),
        "XDG_CONFIG_HOME": str(directory / "config"),
        **variables,
    }


@dataclass
class Caddy:
    url: str
    http_url: str
    root_certificate: Path
    log: Path

    def client(self, **options: Any) -> httpx.Client:
        """A client that trusts this Caddy's root certificate, connecting from
        CLIENT_ADDRESS."""
        context = ssl.create_default_context(cafile=str(self.root_certificate))
        transport = httpx.HTTPTransport(verify=context, local_address=CLIENT_ADDRESS)
        return httpx.Client(base_url=self.url, transport=transport, timeout=60, **options)


@contextmanager
def running_caddy(directory: Path, upstream: str, *, https_port: int) -> Iterator[Caddy]:
    """``caddy run`` with deploy/Caddyfile for ``localhost`` in front of ``upstream``;
    yields once an https:// request gets an answer."""
    assert CADDY is not None
    directory.mkdir(parents=True)
    http_port = free_port()
    caddyfile = directory / "Caddyfile"
    caddyfile.write_text(
        TEST_OPTIONS.format(
            http_port=http_port, https_port=https_port, caddyfile=DEPLOY / "Caddyfile"
        ),
        encoding="utf-8",
    )
    environment = caddy_environment(
        directory, PORTLINE_SITE="localhost", PORTLINE_UPSTREAM=upstream
    )
    caddy = Caddy(
        url=f"https://localhost:{https_port}",
        http_url=f"http://localhost:{http_port}",
        root_certificate=directory / "data/caddy/pki/authorities/local/root.crt",
        log=directory / "caddy.log",
    )
    with caddy.log.open("wb") as log:
        process = subprocess.Popen(
            [CADDY, "run", "--config", str(caddyfile), "--adapter", "caddyfile"],
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"Caddy exited: {caddy.log.read_text()}")
            if caddy.root_certificate.exists():
                try:
                    with caddy.client() as client:
                        client.get("/", timeout=2)
                    break
                except httpx.TransportError:
                    pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"Caddy did not start: {caddy.log.read_text()}")
            time.sleep(0.1)
        yield caddy
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def running_worker(
    environment: dict[str, str], log_path: Path, engine: Engine
) -> Iterator[subprocess.Popen[bytes]]:
    """``portline worker``, yielded once it works: it has put its schedules in the
    database, so it has also taken over SIGTERM."""
    with log_path.open("wb") as log:
        worker = subprocess.Popen(
            [str(PORTLINE), "worker"],
            env={**os.environ, **environment},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 120
        while True:
            if worker.poll() is not None:
                raise RuntimeError(f"the worker exited: {log_path.read_text()}")
            with Session(engine) as session:
                if session.exec(select(Schedule)).first() is not None:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the worker did not start: {log_path.read_text()}")
            time.sleep(0.2)
        yield worker
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def systemd_credential(directory: Path) -> Path:
    """A new key file as LoadCredential= leaves it on the memory-only mount systemd makes
    for a service's credentials: readable by the service's user alone (0400)."""
    path = directory / "credentials" / "portline.key"
    create_key_file(path)
    path.chmod(0o400)
    return path


@dataclass
class Deployment:
    caddy: Caddy
    database_url: str
    engine: Engine
    keyring: KeyRing
    serve_port: int
    serve_log: Path
    worker_log: Path
    worker: subprocess.Popen[bytes]
    stop: Callable[[], None]
    responses: list[httpx.Response] = field(default_factory=list)
    client_addresses: set[tuple[str, int]] = field(default_factory=set)

    def client(self, **options: Any) -> httpx.Client:
        """A client of the site whose every answer (redirects too) is kept for the checks."""
        return self.caddy.client(event_hooks={"response": [self._seen]}, **options)

    def _seen(self, response: httpx.Response) -> None:
        self.responses.append(response)
        stream = response.extensions.get("network_stream")
        if stream is not None:
            host, port = stream.get_extra_info("client_addr")
            self.client_addresses.add((host, port))


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """Caddy, ``portline serve --workers 2`` and ``portline worker`` on a new PostgreSQL
    database, with the key as a systemd credential and the public URL Caddy's."""
    if CADDY is None:
        pytest.skip("Caddy is not installed (scripts/test installs it)")
    if not ON_POSTGRES:
        pytest.skip("runs on PostgreSQL: set PORTLINE_TEST_DATABASE_URL (scripts/test does)")
    directory = tmp_path_factory.mktemp("deploy")
    with ExitStack() as stack:
        database_url, engine = stack.enter_context(fresh_database(directory))
        key_file = systemd_credential(directory)
        https_port = free_port()
        environment = {
            "PORTLINE_DATABASE_URL": database_url,
            "PORTLINE_DATA_DIR": str(directory / "state"),
            "PORTLINE_KEY": "",
            "PORTLINE_KEY_FILE": str(key_file),
            "CREDENTIALS_DIRECTORY": str(key_file.parent),
            "PORTLINE_PUBLIC_URL": f"https://localhost:{https_port}",
            "PORTLINE_POW_DIFFICULTY": "0",
            "PORTLINE_LOG_LEVEL": "DEBUG",
            "PORTLINE_WORKER_POLL_SECONDS": "1",
        }
        processes = stack.enter_context(ExitStack())
        serve_log, worker_log = directory / "serve.log", directory / "worker.log"
        base_url = processes.enter_context(
            running_server(
                environment,
                serve_log,
                command=[str(PORTLINE), "serve", *SERVE_OPTIONS],
            )
        )
        serve_port = int(base_url.rsplit(":", 1)[1])
        worker = processes.enter_context(running_worker(environment, worker_log, engine))
        caddy = processes.enter_context(
            running_caddy(directory / "caddy", f"127.0.0.1:{serve_port}", https_port=https_port)
        )
        yield Deployment(
            caddy=caddy,
            database_url=database_url,
            engine=engine,
            keyring=KeyRing(read_key_file(key_file)),
            serve_port=serve_port,
            serve_log=serve_log,
            worker_log=worker_log,
            worker=worker,
            stop=processes.close,
        )


def set_cookies(responses: list[httpx.Response]) -> list[str]:
    return [cookie for response in responses for cookie in response.headers.get_list("set-cookie")]


def cookie_attributes(cookie: str) -> dict[str, str]:
    """``Set-Cookie`` attributes by lower-case name (``secure`` → ``""``)."""
    attributes = {}
    for part in cookie.split(";")[1:]:
        name, _, value = part.strip().partition("=")
        attributes[name.lower()] = value
    return attributes


# In file order: the last class stops the processes to read what they logged.


class TestOverHttps:
    def test_a_reporter_sends_a_report_and_reads_it_back_with_the_receipt(
        self, deployment: Deployment
    ) -> None:
        start = len(deployment.responses)
        with deployment.client(headers=PHONE_HEADERS) as phone:
            assert phone.get("/?lang=en").status_code == 200
            sent = post_report(phone, files=[("harbour.jpg", jpeg_bytes(), "image/jpeg")])
            assert sent.status_code == 201, sent.text
            headers = log_in(phone, sent.json()["receipt"])
            mine = phone.get("/api/v1/reporter/report", headers=headers)
            assert mine.status_code == 200, mine.text
            assert mine.json()["reference"] == sent.json()["reference"]
            assert len(mine.json()["attachments"]) == 1
            answer = phone.post(
                "/api/v1/reporter/messages", json={"body": "Stack 14 again."}, headers=headers
            )
            assert answer.status_code == 201, answer.text
        assert set_cookies(deployment.responses[start:]) == []

    def test_staff_sign_in_with_password_and_code_and_get_only_secure_cookies(
        self, deployment: Deployment
    ) -> None:
        with Session(deployment.engine, expire_on_commit=False) as session:
            triager, secret = make_staff(session, deployment.keyring, role=Role.triager)
            session.commit()
            administrator = make_person(session, deployment.keyring, role=Role.administrator)
        start = len(deployment.responses)
        with deployment.client() as api:
            signed_in(api, triager.email, secret)
            me = api.get("/api/v1/staff/me")
            assert me.status_code == 200 and me.json()["email"] == triager.email
        with deployment.client(follow_redirects=True) as browser:
            first = browser.post(
                "/admin/login",
                data={"email": administrator.email, "password": administrator.password},
            )
            assert first.url.path == "/admin/login/second-factor", first.text
            home = browser.post(
                "/admin/login/second-factor",
                data={"code": administrator.code(), "csrf_token": csrf_of(first.text)},
            )
            assert home.status_code == 200 and home.url.path == "/admin", home.text
            signed_out = browser.post("/admin/sign-out", data={"csrf_token": csrf_of(home.text)})
            assert signed_out.url.path == "/admin/login", signed_out.text
        cookies = set_cookies(deployment.responses[start:])
        # The password and the code step of each, and the console's sign-out.
        assert len(cookies) >= 5, cookies
        for cookie in cookies:
            attributes = cookie_attributes(cookie)
            assert "secure" in attributes and "httponly" in attributes, cookie
            assert attributes.get("samesite", "").lower() == "strict", cookie

    def test_every_answer_carries_hsts_and_portlines_own_headers_but_no_server_name(
        self, deployment: Deployment
    ) -> None:
        with deployment.client() as client:
            assert client.get("/no/such/page").status_code == 404
            assert client.get("/admin").status_code in (200, 303)
        assert len(deployment.responses) > 10
        for response in deployment.responses:
            assert response.headers.get("strict-transport-security") == HSTS, response.url
            assert response.headers.get("referrer-policy") == "no-referrer", response.url
            assert "server" not in response.headers, response.url

    def test_caddy_serves_nothing_but_portline(self, deployment: Deployment) -> None:
        with deployment.client() as client:
            # Here the site is "localhost" and Caddy forwards no header: to Portline the
            # request would look like a scrape from this machine, so Caddy must refuse it
            # in every spelling that reaches the same route.
            for path in METRICS_SPELLINGS:
                request = client.build_request("GET", "/")
                request.url = request.url.copy_with(raw_path=path)
                refused = client.send(request)
                assert refused.status_code == 404, path
                assert b"# HELP" not in refused.content and b"# TYPE" not in refused.content
                assert "content-security-policy" not in refused.headers, path  # not Portline's
            # Another name on the same address reaches nothing.
            other = client.get("/", headers={"Host": "other.example"})
            assert other.content == b"" and "content-security-policy" not in other.headers
            page = client.get("/?lang=en", headers={"Accept-Encoding": "gzip"})
            assert page.headers.get("content-encoding") == "gzip"
        plain = httpx.get(f"{deployment.caddy.http_url}/report", follow_redirects=False)
        assert plain.status_code == 308
        assert plain.headers["location"].startswith("https://localhost")


class TestNoAddressReachesPortline:
    def test_neither_the_client_address_nor_a_forged_one_is_logged_or_stored(
        self, deployment: Deployment
    ) -> None:
        with deployment.client(headers=PHONE_HEADERS) as phone:
            assert phone.get("/no/such/page").status_code == 404
            assert post_report(phone).status_code == 201
            refused = phone.post("/api/v1/reporter/session", json={"receipt": "1" * 16})
            assert refused.status_code in (401, 404)
        deployment.stop()
        assert deployment.worker.returncode == 0, deployment.worker_log.read_text()
        assert {host for host, _port in deployment.client_addresses} == {CLIENT_ADDRESS}
        client_ports = {port for _host, port in deployment.client_addresses}
        serve_log = deployment.serve_log.read_text()
        # The staff requests are logged one by one: the log is not empty by chance.
        assert "portline.access: POST /api/v1/staff/session " in serve_log
        for log in (serve_log, deployment.worker_log.read_text(), deployment.caddy.log.read_text()):
            for trace in (*TRACES, SPOOFED):
                assert trace not in log, trace
            assert "::1" not in log
            for port in client_ports:
                # Process ids are printed in brackets; a client's port would not be.
                assert not re.search(rf"(?<![\d\[]){port}(?![\d\]])", log), port
        for log in (serve_log, deployment.worker_log.read_text()):
            # 127.0.0.1 only as the address Portline listens on, in its start-up lines.
            assert set(re.findall(r"127\.0\.0\.1(?::(\d+))?", log)) <= {str(deployment.serve_port)}
        dump = raw_dump(deployment.database_url, deployment.engine)
        for trace in (*TRACES, SPOOFED):
            assert trace.encode() not in dump, trace


@contextmanager
def header_recorder() -> Iterator[tuple[int, list[dict[str, str]], Callable[[], None]]]:
    """An upstream that answers 204 and keeps the headers of every request it gets;
    yields its port, those headers, and how to stop it."""
    received: list[dict[str, str]] = []

    class Recorder(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            received.append({name.lower(): value for name, value in self.headers.items()})
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass  # its line would start with the client's address

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()

    try:
        yield server.server_address[1], received, stop
    finally:
        stop()


@needs_caddy
class TestWhatCaddyPassesOn:
    def test_no_header_that_names_the_client_and_no_log_when_portline_is_down(
        self, tmp_path: Path
    ) -> None:
        with (
            header_recorder() as (port, received, stop_upstream),
            running_caddy(tmp_path / "caddy", f"127.0.0.1:{port}", https_port=free_port()) as caddy,
            caddy.client(headers=PHONE_HEADERS) as phone,
        ):
            assert phone.get("/report?lang=en").status_code == 204
            stop_upstream()
            down = phone.get("/my-report?code=4242")
            assert down.status_code == 502 and down.content == b""
        headers = received[-1]
        assert not ADDRESS_HEADERS & set(headers), headers
        assert headers["host"].startswith("localhost:")
        for name, value in headers.items():
            assert CLIENT_ADDRESS not in value, name
            if name != "user-agent":  # passed on; Portline neither logs nor stores it
                assert not any(trace in value for trace in (*TRACES, SPOOFED)), name
        # Caddy answered the error without writing it down with the request.
        log = caddy.log.read_text()
        for trace in (CLIENT_ADDRESS, SPOOFED, "/my-report", "4242"):
            assert trace not in log, trace


@needs_caddy
class TestTheCaddyfile:
    def test_caddy_validate_accepts_it_with_a_site_name(self, tmp_path: Path) -> None:
        checked = subprocess.run(
            [CADDY or "caddy", "validate", *VALIDATE_OPTIONS],
            env=caddy_environment(tmp_path, PORTLINE_SITE="reports.port.example"),
            capture_output=True,
            text=True,
            check=False,
        )
        assert checked.returncode == 0, checked.stderr
        assert "Valid configuration" in checked.stdout + checked.stderr

    def test_without_a_site_name_it_is_refused(self, tmp_path: Path) -> None:
        environment = caddy_environment(tmp_path)
        environment.pop("PORTLINE_SITE", None)
        checked = subprocess.run(
            [CADDY or "caddy", "validate", *VALIDATE_OPTIONS],
            env=environment,
            capture_output=True,
            text=True,
            check=False,
        )
        assert checked.returncode != 0


def unit_settings(path: Path) -> dict[str, list[str]]:
    """A unit file's settings as name → values, every section together (systemd allows
    a name more than once, which configparser does not)."""
    settings: dict[str, list[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith(("#", "[")):
            name, _, value = line.partition("=")
            settings.setdefault(name, []).append(value)
    return settings


def pointed_at_this_checkout(unit: Path, directory: Path) -> Path:
    """A copy of ``unit`` that starts this checkout's portline: systemd-analyze verify
    refuses a unit whose program is missing, and /opt/portline is not here."""
    text = unit.read_text(encoding="utf-8")
    assert INSTALLED_PORTLINE in text
    copy = directory / unit.name
    copy.write_text(text.replace(INSTALLED_PORTLINE, str(PORTLINE)), encoding="utf-8")
    return copy


class TestTheSystemdUnits:
    @needs_systemd_analyze
    def test_systemd_analyze_verifies_them_and_rates_them_ok(self, tmp_path: Path) -> None:
        assert SYSTEMD_ANALYZE is not None
        copies = [pointed_at_this_checkout(DEPLOY / "systemd" / unit, tmp_path) for unit in UNITS]
        verified = subprocess.run(
            [SYSTEMD_ANALYZE, "verify", *map(str, copies)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert verified.returncode == 0, verified.stderr
        assert verified.stdout + verified.stderr == ""
        for copy in copies:
            # --threshold=20: an exposure above 2.0 of 10 fails.
            rated = subprocess.run(
                [SYSTEMD_ANALYZE, "security", "--offline=yes", "--threshold=20", str(copy)],
                capture_output=True,
                text=True,
                check=False,
            )
            assert rated.returncode == 0, rated.stdout + rated.stderr

    @pytest.mark.parametrize("unit", UNITS)
    def test_each_runs_confined_with_the_key_as_a_credential(self, unit: str) -> None:
        settings = unit_settings(DEPLOY / "systemd" / unit)
        required = {
            "DynamicUser": "yes",
            "User": "portline",
            "StateDirectory": "portline",
            "ProtectSystem": "strict",
            "ProtectHome": "yes",
            "NoNewPrivileges": "yes",
            "PrivateTmp": "yes",
            "PrivateDevices": "yes",
            "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
            "CapabilityBoundingSet": "",
            "LoadCredential": "portline.key:/etc/portline/portline.key",
            "EnvironmentFile": "/etc/portline/portline.env",
            "KillSignal": "SIGTERM",
            "Restart": "on-failure",
        }
        for name, value in required.items():
            assert value in settings.get(name, []), name
        assert "@system-service" in settings["SystemCallFilter"]
        assert "PORTLINE_KEY_FILE=%d/portline.key" in settings["Environment"]
        assert "PORTLINE_DATA_DIR=%S/portline" in settings["Environment"]
        assert settings["TimeoutStopSec"]

    def test_they_start_portline_with_options_it_has(self) -> None:
        parser = build_parser()
        commands_of = {
            unit: unit_settings(DEPLOY / "systemd" / unit)["ExecStart"][0].split() for unit in UNITS
        }
        assert all(argv[0] == INSTALLED_PORTLINE for argv in commands_of.values())
        serve = parser.parse_args(commands_of["portline.service"][1:])
        assert (serve.command, serve.workers, serve.host, serve.port) == (
            "serve",
            2,
            "127.0.0.1",
            8000,
        )
        # systemd waits longer than serve lets requests finish.
        stop_seconds = int(
            unit_settings(DEPLOY / "systemd" / "portline.service")["TimeoutStopSec"][0]
        )
        assert stop_seconds > serve.graceful_timeout
        assert parser.parse_args(commands_of["portline-worker.service"][1:]).command == "worker"

    def test_a_key_credential_as_systemd_writes_it_on_its_own_mount_opens(
        self, tmp_path: Path
    ) -> None:
        assert read_key_file(systemd_credential(tmp_path)).keks

    def test_a_key_credential_readable_through_an_acl_opens(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """systemd may give a credential mode 0440, granting the service's user an ACL (a
        tmpfs with ACLs): inside $CREDENTIALS_DIRECTORY that is accepted; elsewhere a
        group-readable key file is still refused."""
        path = systemd_credential(tmp_path)
        path.chmod(0o440)
        with pytest.raises(KeyFileError, match="can be read by other users"):
            read_key_file(path)
        monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(path.parent))
        assert read_key_file(path).keks
        path.chmod(0o444)
        with pytest.raises(KeyFileError, match="can be read by other users"):
            read_key_file(path)

    def test_the_example_settings_name_every_setting_but_those_the_units_set(self) -> None:
        example = (DEPLOY / "portline.env.example").read_text(encoding="utf-8")
        set_by_the_units = {"data_dir", "key_file", "key"}
        for name in set(Settings.model_fields) - set_by_the_units:
            assert re.search(rf"^#?PORTLINE_{name.upper()}=", example, re.MULTILINE), name
        for name in set_by_the_units:
            assert not re.search(rf"^#?PORTLINE_{name.upper()}=", example, re.MULTILINE), name


def run_guide_line(line: str, root: Path) -> subprocess.CompletedProcess[str]:
    """One command of the guide, run as written from the checkout, with ROOT set."""
    return subprocess.run(
        ["bash", "-c", line],
        cwd=REPO,
        env=caddy_environment(root.parent / "home", ROOT=str(root)),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


class TestTheOperationsGuide:
    @needs_caddy
    def test_behind_a_reverse_proxy_puts_the_caddyfile_in_place_and_checks_it(
        self, tmp_path: Path
    ) -> None:
        root = tmp_path / "root"
        for line in commands("Behind a reverse proxy with TLS"):
            done = run_guide_line(line, root)
            assert done.returncode == 0, f"{line}\n{done.stdout}{done.stderr}"
        installed = root / "etc/caddy/Caddyfile"
        assert installed.read_bytes() == (DEPLOY / "Caddyfile").read_bytes()
        drop_in = root / "etc/systemd/system/caddy.service.d/portline.conf"
        assert "Environment=PORTLINE_SITE=" in drop_in.read_text(encoding="utf-8")

    @needs_systemd_analyze
    def test_under_systemd_installs_the_settings_makes_the_key_and_checks_the_units(
        self, tmp_path: Path
    ) -> None:
        root = tmp_path / "root"
        units = root / "etc/systemd/system"
        settings_file = root / "etc/portline/portline.env"
        key_file = root / "etc/portline/portline.key"
        with fresh_database(tmp_path, seed=False) as (database_url, _engine):
            for line in commands("Under systemd"):
                if line.startswith("systemd-analyze verify"):
                    for unit in UNITS:
                        pointed_at_this_checkout(units / unit, units)
                if ".venv/bin/portline" in line:
                    # What the operator fills in before: the database.
                    settings_file.write_text(
                        re.sub(
                            r"^PORTLINE_DATABASE_URL=.*$",
                            f"PORTLINE_DATABASE_URL={database_url}",
                            settings_file.read_text(encoding="utf-8"),
                            flags=re.MULTILINE,
                        ),
                        encoding="utf-8",
                    )
                done = run_guide_line(line, root)
                assert done.returncode == 0, f"{line}\n{done.stdout}{done.stderr}"
        assert (root / "etc/portline").stat().st_mode & 0o777 == 0o700
        assert settings_file.stat().st_mode & 0o777 == 0o600
        # The first command by hand made the key, root's alone.
        assert key_file.stat().st_mode & 0o777 == 0o600
        assert read_key_file(key_file).keks
        for unit in UNITS:
            assert (units / unit).exists()
