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
