"""docs/operations.md, run as the operator reads it: installing, upgrading, scaling out
and rotating the keys, on the test's database (SQLite or PostgreSQL); and every section
with commands is run by some test, so none can drift from what works."""

from __future__ import annotations

import re
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from api.crypto import read_key_file
from tests.databases import fresh_database
from tests.factories import post_report, report_payload
from tests.operations_doc import commands, sections
from tests.server import free_port
from tests.test_cli import portline_environment

ROOT = Path(__file__).resolve().parent.parent
LONG_RUNNING = re.compile(r"portline (serve|worker)\b(?!.*--once)")


def run(lines: list[str], environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-euc", "\n".join(lines)],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@contextmanager
def started(line: str, environment: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A long-running command of the guide, stopped with SIGTERM as systemd does."""
    with log.open("wb") as output:
        process = subprocess.Popen(
            ["bash", "-c", f"exec {line}"],
            cwd=ROOT,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def test_every_section_with_commands_is_run_by_a_test() -> None:
    tests = "\n".join(path.read_text(encoding="utf-8") for path in (ROOT / "tests").rglob("*.py"))
    with_commands = [title for title in sections() if commands(title)]
    assert with_commands, "the guide has no commands at all"
    for title in with_commands:
        assert f'commands("{title}")' in tests, f"nothing runs the commands of “{title}”"


def test_install_upgrade_scale_out_and_rotate_as_the_guide_says(tmp_path: Path) -> None:
    with fresh_database(tmp_path, seed=False) as (url, _engine):
        _walk_through(url, tmp_path)


def _walk_through(url: str, tmp_path: Path) -> None:
    data = tmp_path / "data"
    environment = portline_environment(
        data, PORTLINE_DATABASE_URL=url, PORTLINE_POW_DIFFICULTY="0", PORTLINE_LOG_LEVEL="INFO"
    )

    installed = run(commands("Install"), environment)
    assert installed.returncode == 0, installed.stderr
    assert "Portline is set up" in installed.stdout
    assert "http://127.0.0.1:8000/admin/welcome/" in installed.stdout
    assert (data / "portline.key").stat().st_mode & 0o777 == 0o600

    upgraded = run(commands("Upgrade"), environment)
    assert upgraded.returncode == 0, upgraded.stderr
    assert "Database is at the latest migration." in upgraded.stdout

    # The guide's port is the production one; here each test takes a free one.
    port = free_port()
    serve, worker = commands("Scale out")
    assert LONG_RUNNING.search(serve) and LONG_RUNNING.search(worker)
    with (
        started(
            serve.replace("--port 8000", f"--port {port}"), environment, tmp_path / "serve.log"
        ) as server,
        started(worker, environment, tmp_path / "worker.log") as working,
    ):
        base_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:
            assert server.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                if httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            time.sleep(0.3)
        with httpx.Client(base_url=base_url, timeout=60) as phone:
            sent = post_report(phone, report_payload())
            assert sent.status_code == 201, sent.text
        assert working.poll() is None, (tmp_path / "worker.log").read_text()
    assert server.returncode == 0, (tmp_path / "serve.log").read_text()
    assert working.returncode == 0, (tmp_path / "worker.log").read_text()
    served = (tmp_path / "serve.log").read_text()
    assert len(set(re.findall(r"Started server process \[(\d+)\]", served))) == 4, served

    status, rotate, status_after, prepare, finish = commands("Rotate the keys")
    rotated = run([status, rotate, status_after], environment)
    assert rotated.returncode == 0, rotated.stderr
    assert "Key file: key 1. New data keys are wrapped with key 1." in rotated.stdout
    assert "Done: every value is under key 2; retired: 1." in rotated.stdout
    assert "report data keys: key 2: 1" in rotated.stdout
    prepared = run([prepare], environment)
    assert prepared.returncode == 0, prepared.stderr
    assert set(read_key_file(data / "portline.key").keks) == {2, 3}
    assert "Prepared: nothing is wrapped with key 3 yet." in prepared.stdout
    finished = run([finish], environment)
    assert finished.returncode == 0, finished.stderr
    assert "Resuming the rotation to key 3." in finished.stdout
    assert set(read_key_file(data / "portline.key").keks) == {3}
    verified = run([".venv/bin/portline audit verify"], environment)
    assert verified.returncode == 0, verified.stderr
