"""A real Portline server in a child process, for tests and benchmarks over real HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pyotp

from api.crypto import KeyRing, generate_key_text, parse_key_text
from api.proofs.service import solve
from tests.factories import STAFF_PASSWORD


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def running_server(
    environment: dict[str, str], log_path: Path, *, command: list[str] | None = None
) -> Iterator[str]:
    """Start ``portline serve`` (or ``command``) and yield its base URL once it answers."""
    with _started(environment, [log_path], command) as [base_url]:
        yield base_url


@contextmanager
def running_servers(
    environment: dict[str, str], log_dir: Path, *, count: int
) -> Iterator[list[str]]:
    """Start ``count`` ``portline serve`` processes at the same moment, then yield their base
    URLs once every one answers; raises if any of them exits first."""
    log_paths = [log_dir / f"serve-{index}.log" for index in range(count)]
    with _started(environment, log_paths, None) as base_urls:
        yield base_urls


@contextmanager
def _started(
    environment: dict[str, str], log_paths: list[Path], command: list[str] | None
) -> Iterator[list[str]]:
    """One process per log path, all started before any is waited for."""
    ports = [free_port() for _ in log_paths]
    logs = [log_path.open("wb") for log_path in log_paths]
    processes = []
    for port, log in zip(ports, logs, strict=True):
        argv = command or [sys.executable, "-m", "api.cli", "serve", "--port", "{port}"]
        processes.append(
            subprocess.Popen(
                [part.replace("{port}", str(port)) for part in argv],
                # "{port}" in a setting (PORTLINE_PUBLIC_URL) is the port this one listens on.
                env={
                    **os.environ,
                    **{
                        name: value.replace("{port}", str(port))
                        for name, value in environment.items()
                    },
                },
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
    base_urls = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        deadline = time.monotonic() + 60
        waiting = set(range(len(processes)))
        while waiting:
            for index in sorted(waiting):
                if processes[index].poll() is not None:
                    raise RuntimeError(f"server {index} exited: {log_paths[index].read_text()}")
                try:
                    httpx.get(f"{base_urls[index]}/api/v1/public/config", timeout=1)
                    waiting.discard(index)
                except httpx.TransportError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(
                            f"server {index} did not start: {log_paths[index].read_text()}"
                        ) from None
            if waiting:
                time.sleep(0.1)
        yield base_urls
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for log in logs:
            log.close()


def server_environment(
    database_url: str,
    data_dir: Path,
    *,
    key: str | None = None,
    log_level: str = "WARNING",
    pow_difficulty: int = 4,
) -> dict[str, str]:
    """What a test server runs with: its database, its own data directory and key."""
    return {
        "PORTLINE_DATABASE_URL": database_url,
        "PORTLINE_DATA_DIR": str(data_dir),
        "PORTLINE_KEY": key or generate_key_text(),
        "PORTLINE_POW_DIFFICULTY": str(pow_difficulty),
        "PORTLINE_LOG_LEVEL": log_level,
    }


def keyring_of(environment: dict[str, str]) -> KeyRing:
    """The key ring a server with ``environment`` seals with, to seed its database."""
    return KeyRing(parse_key_text(environment["PORTLINE_KEY"], source="test"))


def solved_proof(client: httpx.Client) -> dict[str, str]:
    """A proof of work for the next report or receipt login, solved as the phone does."""
    challenge = client.post("/api/v1/public/challenge").json()
    return {
        "challenge": challenge["challenge"],
        "nonce": solve(challenge["challenge"], challenge["difficulty"]),
    }


def signed_in(client: httpx.Client, email: str, secret: str) -> dict[str, str]:
    """Sign ``client`` in with both factors; returns the CSRF header for changes."""
    first = client.post("/api/v1/staff/session", json={"email": email, "password": STAFF_PASSWORD})
    assert first.status_code == 200, first.text
    second = client.post(
        "/api/v1/staff/session/second-factor", json={"code": pyotp.TOTP(secret).now()}
    )
    assert second.status_code == 200, second.text
    return {"X-CSRF-Token": second.json()["csrf_token"]}


def fired_together(requests: list[Callable[[], httpx.Response]]) -> list[httpx.Response]:
    """Send every request from its own thread, all released at the same instant."""
    barrier = threading.Barrier(len(requests))
    answers: list[httpx.Response | None] = [None] * len(requests)

    def run(index: int) -> None:
        barrier.wait()
        answers[index] = requests[index]()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [answer for answer in answers if answer is not None]
