"""A real Portline server in a child process, for tests and benchmarks over real HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


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
    port = free_port()
    argv = command or [sys.executable, "-m", "api.cli", "serve", "--port", str(port)]
    argv = [part.replace("{port}", str(port)) for part in argv]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            argv, env={**os.environ, **environment}, stdout=log, stderr=subprocess.STDOUT
        )
        base_url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"server exited: {log_path.read_text()}")
                try:
                    httpx.get(f"{base_url}/api/v1/public/config", timeout=1)
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(
                            f"server did not start: {log_path.read_text()}"
                        ) from None
                    time.sleep(0.1)
            yield base_url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextmanager
def running_servers(
    environment: dict[str, str], log_dir: Path, *, count: int
) -> Iterator[list[str]]:
    """Start ``count`` ``portline serve`` processes at the same moment, then yield their base
    URLs once every one answers; raises if any of them exits first."""
    ports = [free_port() for _ in range(count)]
    log_paths = [log_dir / f"serve-{index}.log" for index in range(count)]
    logs = [log_path.open("wb") for log_path in log_paths]
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "api.cli", "serve", "--port", str(port)],
            env={**os.environ, **environment},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        for port, log in zip(ports, logs, strict=True)
    ]
    base_urls = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        deadline = time.monotonic() + 60
        waiting = set(range(count))
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
